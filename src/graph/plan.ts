/**
 * The index plan of a neural graph, computed once per architecture by walking the IR.
 *
 * Channel spaces: the input channels and the output channels of every conv/linear layer are the
 * candidate node blocks. Every IR value carries a channel map (a list of segments of spaces):
 * pass-through ops (BN, ReLU, pooling, GAP, identity, flatten of a 1×1 map) keep their input's map,
 * `concat` joins its inputs' maps (so a consumer's in-channels land on the concatenated blocks with
 * offsets), and `add` identifies its output with the space of its *main branch*.
 *
 * Residual adds. An add input is *exclusive* when it is the output of a conv/linear layer reached
 * only through single-consumer pass-through ops (conv → BN → add): those channels exist only to be
 * summed. The first exclusive input is the main branch: the add output is identified with its node
 * block. Every other exclusive input is a projection shortcut: its conv is merged into the main block
 * (its dense edges run from its own in-nodes into the main block, its BN goes to the shortcut BN
 * columns 5–8). A non-exclusive input (a value also used elsewhere) is an identity shortcut: sparse
 * diagonal edges (main node c ← input node c) with the identity feature.
 *
 * Every per-channel parameter claims (node, column) slots; a slot claimed twice is an error, and so is
 * any structure that has no exact encoding (kernels other than 1×1/3×3, flatten → linear over a
 * spatial map, an add without an exclusive input). Grouped and depthwise convs are supported: edge
 * (o, i) exists only when i lies in o's group.
 */
import { indexGraph, type Conv2dNode, type LinearNode, type ModelGraph, type NodeDef } from '../ir/graph.js';
import { inferShapes } from '../ir/shapes.js';
import { NeuralGraphError } from './errors.js';
import { BIAS_COL, BN_SLOT_MAIN, BN_SLOT_SHORTCUT, EDGE_CENTRE, EDGE_DIM, NODE_DIM } from './layout.js';

export type EdgeKind = 'conv3x3' | 'conv1x1' | 'linear' | 'identity';

/** A contiguous block of nodes: the input channels or the output channels of one layer. */
export interface NodeBlock {
  /** 'input' or the conv/linear layer that creates these channels. */
  name: string;
  kind: 'input' | 'conv' | 'linear';
  /** First node id and number of nodes. */
  offset: number;
  count: number;
  /** Projection-shortcut convs merged into this block (their outputs are summed into these channels). */
  shortcuts: string[];
}

/** A contiguous range of edges: one conv/linear layer (dense or grouped), or one identity shortcut. */
export interface EdgeBlock {
  /** Conv/linear layer name, or the add node for identity edges. */
  name: string;
  kind: EdgeKind;
  /** 'main': the layer owns its out-node block; 'shortcut': a projection merged into another block. */
  role: 'main' | 'shortcut' | 'identity';
  /** Weight parameter (`<layer>.weight`), null for identity edges. */
  param: string | null;
  /** Weight shape ([O, I/groups, k, k] or [O, I]); [C] for identity edges. */
  shape: number[];
  groups: number;
  /** Edge range [edgeOffset, edgeOffset + numEdges). */
  edgeOffset: number;
  numEdges: number;
  /** Out-channel nodes: [outOffset, outOffset + outCount). */
  outOffset: number;
  outCount: number;
  /** In-channel node of each input channel, in channel order. */
  inNodes: Int32Array;
  /** inNodes[0] when the in-nodes are one contiguous ascending run, else -1 (concat inputs). */
  inOffset: number;
  inCount: number;
  /**
   * For 1×1 and linear blocks: flat indices (edge·9 + 4) of the weight elements in edgeFeatures, in
   * weight order; null for 3×3 blocks (a contiguous range) and identity edges.
   */
  centreIndex: Int32Array | null;
}

/** Where a per-channel parameter lives: element c is nodeFeatures.flat[index[c]] (= node·9 + column). */
export interface NodeParamEntry {
  param: string;
  index: Int32Array;
  /** False for BN running statistics (copied from the template, never generated). */
  trainable: boolean;
}

export interface GraphPlan {
  model: string;
  numNodes: number;
  numEdges: number;
  nodeBlocks: NodeBlock[];
  edgeBlocks: EdgeBlock[];
  /** [2·E] row-major [2, E]: row 0 = out-channel node, row 1 = in-channel node. */
  edgeIndex: Int32Array;
  /** Views of the two rows of edgeIndex. */
  edgeOut: Int32Array;
  edgeIn: Int32Array;
  nodeParams: NodeParamEntry[];
  /** [N·9]: 1 where the slot is backed by a trainable parameter (the metanetwork may change it). */
  nodeMask: Uint8Array;
  /** [E·9]: 1 where the edge feature is backed by a weight (identity edges and 1×1 padding are 0). */
  edgeMask: Uint8Array;
  /** Expected shape of every parameter/buffer the plan reads or writes. */
  paramShapes: Map<string, number[]>;
}

// ------------------------------------------------------------------------------------------ walk

interface Space {
  name: string;
  kind: 'input' | 'conv' | 'linear';
  size: number;
  mergedInto: Space | null;
  shortcuts: string[];
  offset: number;
}

interface Seg {
  space: Space;
  start: number;
  len: number;
}

interface Value {
  map: Seg[];
  size: number;
  /** The layer space when this value is that layer's output reached through single-consumer pass-through ops. */
  exclusive: Space | null;
}

type PendingEdges =
  | { kind: 'weight'; node: Conv2dNode | LinearNode; inMap: Seg[]; out: Space }
  | { kind: 'identity'; name: string; inMap: Seg[]; out: Space };

interface PendingClaim {
  param: string;
  map: Seg[];
  /** Column when the segment's space is not merged, and when it is (a projection shortcut). */
  col: number;
  mergedCol: number;
  trainable: boolean;
  /** For error messages: the IR node that owns the parameter. */
  owner: string;
}

const resolve = (s: Space): Space => {
  let r = s;
  while (r.mergedInto !== null) r = r.mergedInto;
  return r;
};

function mapNodes(map: readonly Seg[]): Int32Array {
  const n = map.reduce((p, s) => p + s.len, 0);
  const out = new Int32Array(n);
  let k = 0;
  for (const s of map) {
    const base = resolve(s.space).offset + s.start;
    for (let c = 0; c < s.len; c++) out[k++] = base + c;
  }
  return out;
}

function whole(space: Space): Seg[] {
  return [{ space, start: 0, len: space.size }];
}

function contiguousStart(ids: Int32Array): number {
  if (ids.length === 0) return -1;
  for (let i = 1; i < ids.length; i++) if (ids[i] !== ids[0] + i) return -1;
  return ids[0];
}

function fail(model: string, node: NodeDef, problem: string): never {
  throw new NeuralGraphError(`neural graph of '${model}': node '${node.name}' (${node.op}) ${problem}`);
}

/** Builds the index plan of `g` (uncached; use `graphPlan` for the cached version). */
export function buildGraphPlan(g: ModelGraph): GraphPlan {
  const { consumers } = indexGraph(g);
  const shapes = inferShapes(g);
  const nConsumers = (name: string) => consumers.get(name)!.length;
  const spaces: Space[] = [];
  const values = new Map<string, Value>();
  const pending: PendingEdges[] = [];
  const claims: PendingClaim[] = [];
  const paramShapes = new Map<string, number[]>();

  const newSpace = (name: string, kind: Space['kind'], size: number): Space => {
    const s: Space = { name, kind, size, mergedInto: null, shortcuts: [], offset: -1 };
    spaces.push(s);
    return s;
  };

  for (const node of g.nodes) {
    const ins = node.inputs.map((i) => values.get(i)!);
    const outShape = shapes.get(node.name)!;
    const pass = (): Value => ({
      map: ins[0].map,
      size: ins[0].size,
      exclusive: ins[0].exclusive !== null && nConsumers(node.name) === 1 ? ins[0].exclusive : null,
    });
    switch (node.op) {
      case 'input': {
        const s = newSpace('input', 'input', outShape[0]);
        values.set(node.name, { map: whole(s), size: s.size, exclusive: null });
        break;
      }
      case 'conv2d':
      case 'linear': {
        let outCh: number;
        let weightShape: number[];
        if (node.op === 'conv2d') {
          const [kh, kw] = node.kernel;
          if (!((kh === 3 && kw === 3) || (kh === 1 && kw === 1))) {
            fail(g.name, node, `has a ${kh}×${kw} kernel; only 1×1 and 3×3 kernels map to 9-d edge features`);
          }
          outCh = node.outChannels;
          weightShape = [node.outChannels, node.inChannels / node.groups, kh, kw];
        } else {
          outCh = node.outFeatures;
          weightShape = [node.outFeatures, node.inFeatures];
        }
        const inSize = node.op === 'conv2d' ? node.inChannels : node.inFeatures;
        if (ins[0].size !== inSize) fail(g.name, node, `reads ${ins[0].size} channels but expects ${inSize}`);
        const s = newSpace(node.name, node.op === 'conv2d' ? 'conv' : 'linear', outCh);
        paramShapes.set(`${node.name}.weight`, weightShape);
        pending.push({ kind: 'weight', node, inMap: ins[0].map, out: s });
        if (node.bias) {
          paramShapes.set(`${node.name}.bias`, [outCh]);
          claims.push({ param: `${node.name}.bias`, map: whole(s), col: BIAS_COL, mergedCol: BIAS_COL, trainable: true, owner: node.name });
        }
        values.set(node.name, { map: whole(s), size: outCh, exclusive: nConsumers(node.name) === 1 ? s : null });
        break;
      }
      case 'batchnorm': {
        const v = ins[0];
        if (v.size !== node.channels) fail(g.name, node, `has ${node.channels} channels but its input has ${v.size}`);
        const roles: [string, number, boolean][] = [];
        if (node.affine) roles.push(['weight', 0, true], ['bias', 1, true]);
        roles.push(['running_mean', 2, false], ['running_var', 3, false]);
        for (const [role, r, trainable] of roles) {
          const param = `${node.name}.${role}`;
          paramShapes.set(param, [node.channels]);
          claims.push({ param, map: v.map, col: BN_SLOT_MAIN + r, mergedCol: BN_SLOT_SHORTCUT + r, trainable, owner: node.name });
        }
        values.set(node.name, pass());
        break;
      }
      case 'flatten': {
        const inShape = shapes.get(node.inputs[0])!;
        const spatial = inShape.slice(1).reduce((p, d) => p * d, 1);
        if (spatial !== 1) {
          fail(g.name, node, `flattens a ${inShape.join('×')} map (flatten → linear): each channel would own ${spatial} linear inputs, which has no channel-level graph encoding`);
        }
        values.set(node.name, pass());
        break;
      }
      case 'relu':
      case 'relu6':
      case 'identity':
      case 'maxpool':
      case 'avgpool':
      case 'gap':
        values.set(node.name, pass());
        break;
      case 'concat':
        values.set(node.name, { map: ins.flatMap((v) => v.map), size: ins.reduce((p, v) => p + v.size, 0), exclusive: null });
        break;
      case 'add': {
        const mainIdx = ins.findIndex((v) => v.exclusive !== null);
        if (mainIdx < 0) {
          fail(g.name, node, 'has no input that comes straight from a conv/linear layer (conv → BN → add), so its channels cannot be identified with a layer\'s node block');
        }
        const main = ins[mainIdx].exclusive!;
        ins.forEach((v, k) => {
          if (k === mainIdx) return;
          if (v.size !== main.size) fail(g.name, node, `adds ${v.size} channels to ${main.size}`);
          if (v.exclusive !== null && v.exclusive !== main) {
            v.exclusive.mergedInto = main;
            main.shortcuts.push(v.exclusive.name);
          } else {
            pending.push({ kind: 'identity', name: node.name, inMap: v.map, out: main });
          }
        });
        values.set(node.name, { map: whole(main), size: main.size, exclusive: null });
        break;
      }
      default: {
        const n: NodeDef = node;
        fail(g.name, n, 'is an op the neural-graph mapping does not know');
      }
    }
  }

  // ---- node ids: unmerged spaces in creation order (input first, classifier last)
  let numNodes = 0;
  const nodeBlocks: NodeBlock[] = [];
  for (const s of spaces) {
    if (s.mergedInto !== null) continue;
    s.offset = numNodes;
    nodeBlocks.push({ name: s.name, kind: s.kind, offset: numNodes, count: s.size, shortcuts: [...s.shortcuts] });
    numNodes += s.size;
  }

  // ---- node parameter slots
  const owner = new Array<string | undefined>(numNodes * NODE_DIM);
  const nodeMask = new Uint8Array(numNodes * NODE_DIM);
  const nodeParams: NodeParamEntry[] = [];
  for (const cl of claims) {
    const index = new Int32Array(cl.map.reduce((p, s) => p + s.len, 0));
    let k = 0;
    for (const seg of cl.map) {
      const r = resolve(seg.space);
      const col = r === seg.space ? cl.col : cl.mergedCol;
      for (let c = 0; c < seg.len; c++) {
        const slot = (r.offset + seg.start + c) * NODE_DIM + col;
        const prev = owner[slot];
        if (prev !== undefined) {
          throw new NeuralGraphError(
            `neural graph of '${g.name}': '${cl.param}' and '${prev}' both need column ${col} of node ${r.offset + seg.start + c} ` +
            `(channel ${seg.start + c} of '${r.name}'); the 9-d node layout has one slot per channel for each (e.g. two BNs on the same channels)`,
          );
        }
        owner[slot] = cl.param;
        if (cl.trainable) nodeMask[slot] = 1;
        index[k++] = slot;
      }
    }
    nodeParams.push({ param: cl.param, index, trainable: cl.trainable });
  }

  // ---- edges in IR order
  const edgeBlocks: EdgeBlock[] = [];
  let numEdges = 0;
  for (const p of pending) {
    const out = resolve(p.out);
    const inNodes = mapNodes(p.inMap);
    const inOffset = contiguousStart(inNodes);
    if (p.kind === 'identity') {
      edgeBlocks.push({
        name: p.name, kind: 'identity', role: 'identity', param: null, shape: [out.size], groups: 1,
        edgeOffset: numEdges, numEdges: out.size, outOffset: out.offset, outCount: out.size, inNodes, inOffset, inCount: inNodes.length,
        centreIndex: null,
      });
      numEdges += out.size;
      continue;
    }
    const node = p.node;
    const groups = node.op === 'conv2d' ? node.groups : 1;
    const kind: EdgeKind = node.op === 'linear' ? 'linear' : node.kernel[0] === 3 ? 'conv3x3' : 'conv1x1';
    const O = out.size;
    const n = O * (inNodes.length / groups);
    let centreIndex: Int32Array | null = null;
    if (kind !== 'conv3x3') {
      centreIndex = new Int32Array(n);
      for (let e = 0; e < n; e++) centreIndex[e] = (numEdges + e) * EDGE_DIM + EDGE_CENTRE;
    }
    edgeBlocks.push({
      name: node.name, kind, role: out === p.out ? 'main' : 'shortcut', param: `${node.name}.weight`,
      shape: paramShapes.get(`${node.name}.weight`)!, groups,
      edgeOffset: numEdges, numEdges: n, outOffset: out.offset, outCount: O, inNodes, inOffset, inCount: inNodes.length, centreIndex,
    });
    numEdges += n;
  }

  const edgeIndex = new Int32Array(2 * numEdges);
  const edgeOut = edgeIndex.subarray(0, numEdges);
  const edgeIn = edgeIndex.subarray(numEdges);
  const edgeMask = new Uint8Array(numEdges * EDGE_DIM);
  for (const b of edgeBlocks) {
    let e = b.edgeOffset;
    if (b.kind === 'identity') {
      for (let c = 0; c < b.outCount; c++, e++) {
        edgeOut[e] = b.outOffset + c;
        edgeIn[e] = b.inNodes[c];
      }
      continue;
    }
    const perGroupIn = b.inCount / b.groups;
    const perGroupOut = b.outCount / b.groups;
    for (let o = 0; o < b.outCount; o++) {
      const g0 = Math.floor(o / perGroupOut) * perGroupIn;
      for (let i = 0; i < perGroupIn; i++, e++) {
        edgeOut[e] = b.outOffset + o;
        edgeIn[e] = b.inNodes[g0 + i];
      }
    }
    if (b.kind === 'conv3x3') edgeMask.fill(1, b.edgeOffset * EDGE_DIM, (b.edgeOffset + b.numEdges) * EDGE_DIM);
    else for (let k = b.edgeOffset; k < b.edgeOffset + b.numEdges; k++) edgeMask[k * EDGE_DIM + EDGE_CENTRE] = 1;
  }

  return { model: g.name, numNodes, numEdges, nodeBlocks, edgeBlocks, edgeIndex, edgeOut, edgeIn, nodeParams, nodeMask, edgeMask, paramShapes };
}

const cache = new WeakMap<ModelGraph, { signature: string; plan: GraphPlan }>();

/**
 * The plan of `g`, cached per graph object. Graphs are immutable by convention (a pruned model is a
 * new graph object with its own plan); a graph edited in place is detected by its structural
 * signature and re-planned.
 */
export function graphPlan(g: ModelGraph): GraphPlan {
  const signature = JSON.stringify(g.nodes);
  const hit = cache.get(g);
  if (hit !== undefined && hit.signature === signature) return hit.plan;
  const plan = buildGraphPlan(g);
  cache.set(g, { signature, plan });
  return plan;
}
