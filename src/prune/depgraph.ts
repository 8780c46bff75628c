/**
 * Dependency graph (DepGraph) of an IR model: which parameter slices must be removed together when
 * one output channel of a layer goes. Channels are atoms coupled by the op rules of rules.ts; the
 * connected classes of atoms are the prunable units, and all units whose earliest producer is the
 * same layer form one **group** rooted at that layer, with its units ordered by the root's channel
 * index (as Torch-Pruning's groups are rooted at a layer's `prune_out_channels`).
 *
 * A group is plain data — `{ id, root, size, slices }`, each slice naming a parameter, an axis and
 * the indices along that axis of every group channel — consumed by importance, regularizer and
 * surgery alike.
 */
import { indexGraph, type ModelGraph, type NodeDef, type Params } from '../ir/graph.js';
import { inferShapes } from '../ir/shapes.js';
import { PruneError } from './errors.js';
import { PRUNE_RULES, identityIndex, isLayer, type OpRule, type ParamRole, type SliceKind } from './rules.js';

export interface GroupSlice {
  /** Parameter name, e.g. `layer1.0.conv1.weight`. */
  param: string;
  /** Node that owns the parameter. */
  node: string;
  role: ParamRole;
  axis: number;
  kind: SliceKind;
  /** Per group channel, the parameter indices along `axis` (empty when the channel does not touch it). */
  indices: number[][];
}

export interface Group {
  id: number;
  /** Name of the root layer (the earliest conv/linear whose output channels the group prunes). */
  root: string;
  /** Number of group channels (prunable units). */
  size: number;
  /** The root-first list of coupled parameter slices. */
  slices: GroupSlice[];
  /** Per group channel, the root's output-channel indices it removes (one, except under grouped convs). */
  rootChannels: number[][];
  /** Nodes whose output channels the group prunes (producers and pass-through ops). */
  nodes: string[];
}

export interface DependencyGraph {
  graph: ModelGraph;
  /** Per-sample output shape of every node. */
  shapes: Map<string, number[]>;
  /** Per node, the class (prunable unit) of every output channel. */
  channelClass: Map<string, Int32Array>;
  /** Class → group id, or -1 for classes coupled to the model input (never prunable). */
  classGroup: Int32Array;
  /** Class → index of the channel within its group. */
  classIndex: Int32Array;
  /** Every group, by root in topological order; `groups[i].id === i`. */
  groups: Group[];
  groupByRoot: Map<string, Group>;
}

/** The rule of a node's op, or a PruneError naming the node when there is none. */
export function ruleOf(node: NodeDef): OpRule {
  const r = (PRUNE_RULES as Partial<Record<string, OpRule>>)[node.op];
  if (r === undefined) {
    throw new PruneError(`node '${node.name}' (${node.op}): no pruning rule for op '${node.op}'; supported ops: ${Object.keys(PRUNE_RULES).join(', ')}`);
  }
  return r;
}

class UnionFind {
  parent: number[] = [];
  make(): number {
    this.parent.push(this.parent.length);
    return this.parent.length - 1;
  }
  find(a: number): number {
    const p = this.parent;
    let r = a;
    while (p[r] !== r) r = p[r];
    while (p[a] !== r) {
      const n = p[a];
      p[a] = r;
      a = n;
    }
    return r;
  }
  union(a: number, b: number): void {
    const ra = this.find(a), rb = this.find(b);
    // Keep the smaller id as representative: the earliest atom names the class.
    if (ra < rb) this.parent[rb] = ra;
    else if (rb < ra) this.parent[ra] = rb;
  }
}

/** Builds the dependency graph and every group of a model. */
export function buildDependencyGraph(graph: ModelGraph): DependencyGraph {
  for (const n of graph.nodes) ruleOf(n);
  const shapes = inferShapes(graph);
  indexGraph(graph);
  const uf = new UnionFind();
  const atomOwner: number[] = [];
  const atomChannel: number[] = [];
  const atomsOf = new Map<string, Int32Array>();
  graph.nodes.forEach((node, ni) => {
    const inShapes = node.inputs.map((i) => shapes.get(i)!);
    const outShape = shapes.get(node.name)!;
    const atoms = ruleOf(node).flow({
      node, inShapes, outShape,
      ins: node.inputs.map((i) => atomsOf.get(i)!),
      fresh(n) {
        const a = new Int32Array(n);
        for (let c = 0; c < n; c++) {
          a[c] = uf.make();
          atomOwner.push(ni);
          atomChannel.push(c);
        }
        return a;
      },
      union: (a, b) => uf.union(a, b),
    });
    if (atoms.length !== outShape[0]) {
      throw new PruneError(`node '${node.name}' (${node.op}): pruning rule maps ${atoms.length} channels, the output has ${outShape[0]}`);
    }
    atomsOf.set(node.name, atoms);
  });

  // Classes in order of their earliest atom; the owner of that atom is the group root.
  const nAtoms = uf.parent.length;
  const classOfAtom = new Int32Array(nAtoms);
  const classRootAtom: number[] = [];
  const repClass = new Int32Array(nAtoms).fill(-1);
  for (let a = 0; a < nAtoms; a++) {
    const r = uf.find(a);
    if (repClass[r] < 0) {
      repClass[r] = classRootAtom.length;
      classRootAtom.push(a);
    }
    classOfAtom[a] = repClass[r];
  }
  const nClasses = classRootAtom.length;
  const classGroup = new Int32Array(nClasses).fill(-1);
  const classIndex = new Int32Array(nClasses).fill(-1);
  const groups: Group[] = [];
  const groupOfNode = new Map<number, Group>();
  for (let k = 0; k < nClasses; k++) {
    const owner = atomOwner[classRootAtom[k]];
    const node = graph.nodes[owner];
    if (node.op === 'input') continue;
    if (!isLayer(node)) throw new PruneError(`node '${node.name}' (${node.op}): creates channels but is not a layer`);
    let g = groupOfNode.get(owner);
    if (g === undefined) {
      g = { id: -1, root: node.name, size: 0, slices: [], rootChannels: [], nodes: [] };
      groupOfNode.set(owner, g);
    }
    classGroup[k] = owner; // temporarily the owner index; replaced by the group id below
    classIndex[k] = g.size++;
  }
  // Group ids in topological order of their roots.
  const ordered = [...groupOfNode.entries()].sort((a, b) => a[0] - b[0]);
  const idOfOwner = new Map<number, number>();
  for (const [owner, g] of ordered) {
    g.id = groups.length;
    idOfOwner.set(owner, g.id);
    g.rootChannels = Array.from({ length: g.size }, () => []);
    groups.push(g);
  }
  for (let k = 0; k < nClasses; k++) if (classGroup[k] >= 0) classGroup[k] = idOfOwner.get(classGroup[k])!;
  for (let a = 0; a < nAtoms; a++) {
    const k = classOfAtom[a];
    const gid = classGroup[k];
    if (gid >= 0 && graph.nodes[atomOwner[a]].name === groups[gid].root) groups[gid].rootChannels[classIndex[k]].push(atomChannel[a]);
  }

  // Class of every channel of every node output; pass-through nodes share their input's array.
  const channelClass = new Map<string, Int32Array>();
  const classArrays = new Map<Int32Array, Int32Array>();
  for (const node of graph.nodes) {
    const atoms = atomsOf.get(node.name)!;
    let cls = classArrays.get(atoms);
    if (cls === undefined) {
      cls = new Int32Array(atoms.length);
      for (let i = 0; i < atoms.length; i++) cls[i] = classOfAtom[atoms[i]];
      classArrays.set(atoms, cls);
    }
    channelClass.set(node.name, cls);
  }

  // Per channel-class array: per group, the channel indices of every group channel. Slices indexed
  // by a tensor's channels directly share these lists (treat them as read-only).
  const listCache = new Map<Int32Array, Map<number, number[][]>>();
  const listsFor = (cls: Int32Array, index: (i: number) => number): Map<number, number[][]> => {
    const identity = index === identityIndex;
    if (identity) {
      const c = listCache.get(cls);
      if (c !== undefined) return c;
    }
    const m = new Map<number, number[][]>();
    let lastGid = -1;
    let lists: number[][] = [];
    for (let i = 0; i < cls.length; i++) {
      const gid = classGroup[cls[i]];
      if (gid < 0) continue;
      if (gid !== lastGid) {
        lastGid = gid;
        const got = m.get(gid);
        if (got === undefined) m.set(gid, (lists = emptyLists(groups[gid].size)));
        else lists = got;
      }
      const list = lists[classIndex[cls[i]]];
      const idx = index(i);
      if (list.length === 0 || list[list.length - 1] !== idx) list.push(idx);
    }
    if (identity) listCache.set(cls, m);
    return m;
  };

  // Slices, node by node.
  const sliceMaps = groups.map(() => new Map<string, GroupSlice>());
  const nodeSets = groups.map(() => new Set<string>());
  for (const node of graph.nodes) {
    const out = channelClass.get(node.name)!;
    for (const gid of listsFor(out, identityIndex).keys()) nodeSets[gid].add(node.name);
    const rules = ruleOf(node).slices(node, node.inputs.map((i) => shapes.get(i)!));
    for (const r of rules) {
      const cls = r.tensor < 0 ? out : channelClass.get(node.inputs[r.tensor])!;
      const param = `${node.name}.${r.role}`;
      const key = `${param}#${r.axis}`;
      for (const [gid, lists] of listsFor(cls, r.index)) {
        if (sliceMaps[gid].has(key)) throw new PruneError(`node '${node.name}' (${node.op}): two pruning rules slice '${param}' along axis ${r.axis}`);
        sliceMaps[gid].set(key, { param, node: node.name, role: r.role, axis: r.axis, kind: r.kind, indices: lists });
      }
    }
  }
  for (const g of groups) {
    const all = [...sliceMaps[g.id].values()];
    // Root output slices first (Torch-Pruning's group[0] is the root's prune_out_channels).
    const first = all.filter((s) => s.node === g.root && s.kind === 'out');
    g.slices = [...first, ...all.filter((s) => !(s.node === g.root && s.kind === 'out'))];
    for (const s of g.slices) for (const l of s.indices) if (l.length > 1) dedupeSorted(l);
    g.nodes = [...nodeSets[g.id]];
  }
  return { graph, shapes, channelClass, classGroup, classIndex, groups, groupByRoot: new Map(groups.map((g) => [g.root, g])) };
}

function emptyLists(n: number): number[][] {
  const out: number[][] = new Array<number[]>(n);
  for (let k = 0; k < n; k++) out[k] = [];
  return out;
}

function dedupeSorted(l: number[]): void {
  l.sort((a, b) => a - b);
  let w = 1;
  for (let r = 1; r < l.length; r++) if (l[r] !== l[w - 1]) l[w++] = l[r];
  l.length = w;
}

/** The conv/linear layers of a model (the names a user would ignore). */
export function layerNames(graph: ModelGraph): string[] {
  return graph.nodes.filter(isLayer).map((n) => n.name);
}

/**
 * The classifier: the last conv/linear on the path to the model output (walking back through
 * single-input ops). Falls back to the output node itself.
 */
export function classifierOf(graph: ModelGraph): string {
  const { byName } = indexGraph(graph);
  let n = byName.get(graph.output)!;
  while (!isLayer(n) && n.inputs.length === 1 && n.op !== 'input') n = byName.get(n.inputs[0])!;
  return isLayer(n) ? n.name : graph.output;
}

/** Default ignored layers (output channels never pruned): the classifier. */
export function defaultIgnoredLayers(graph: ModelGraph): string[] {
  return [classifierOf(graph)];
}

export interface GroupOptions {
  /**
   * Nodes whose output channels are never pruned (default: the classifier). The model output's
   * channels are always kept. Unknown names are an error.
   */
  ignoredLayers?: readonly string[];
}

/** Checks ignoredLayers names against the graph; the error lists the valid layer names. */
export function checkIgnoredLayers(graph: ModelGraph, names: readonly string[]): void {
  const known = new Set(graph.nodes.map((n) => n.name));
  const bad = names.filter((n) => !known.has(n));
  if (bad.length > 0) {
    throw new PruneError(
      `ignoredLayers: unknown layer name${bad.length > 1 ? 's' : ''} ${bad.map((b) => `'${b}'`).join(', ')} in model '${graph.name}'; valid layer names: ${layerNames(graph).join(', ')}`,
    );
  }
}

/**
 * The prunable groups: all groups except those containing output channels of an ignored node or
 * of the model output (Torch-Pruning drops a whole group when any of its out-channel layers is
 * ignored).
 */
export function prunableGroups(dg: DependencyGraph, opts: GroupOptions = {}): Group[] {
  const ignored = [...(opts.ignoredLayers ?? defaultIgnoredLayers(dg.graph))];
  checkIgnoredLayers(dg.graph, ignored);
  const frozen = new Set<number>();
  for (const name of [...ignored, dg.graph.output]) {
    const cls = dg.channelClass.get(name)!;
    for (let i = 0; i < cls.length; i++) {
      const gid = dg.classGroup[cls[i]];
      if (gid >= 0) frozen.add(gid);
    }
  }
  return dg.groups.filter((g) => !frozen.has(g.id));
}

/** Prunable groups of a model (builds the dependency graph). */
export function getGroups(graph: ModelGraph, opts: GroupOptions = {}): Group[] {
  return prunableGroups(buildDependencyGraph(graph), opts);
}

/** Throws when a parameter a group slices is missing or has the wrong shape along the slice axis. */
export function checkGroupParams(groups: readonly Group[], params: Params): void {
  for (const g of groups) {
    for (const s of g.slices) {
      const t = params[s.param];
      if (t === undefined) throw new PruneError(`group '${g.root}': missing parameter '${s.param}'`);
      if (s.axis >= t.rank) throw new PruneError(`group '${g.root}': parameter '${s.param}' of shape [${t.shape.join(', ')}] has no axis ${s.axis}`);
    }
  }
}
