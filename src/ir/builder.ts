/**
 * Fluent builder for IR graphs: tracks per-sample shapes so layers only state their output size.
 * Model definitions in models/ read like their PyTorch counterparts.
 */
import { GraphError, type ModelGraph, type NodeDef, type Pair } from './graph.js';
import { inferNodeShape } from './ops.js';

/** A value in the graph under construction: a node name and its per-sample shape. */
export interface Sym {
  name: string;
  shape: number[];
}

const pair = (v: number | Pair): Pair => (typeof v === 'number' ? [v, v] : v);

export interface ConvOptions {
  kernel: number | Pair;
  stride?: number | Pair;
  padding?: number | Pair;
  dilation?: number | Pair;
  groups?: number;
  bias?: boolean;
}

export class GraphBuilder {
  private readonly nodes: NodeDef[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(private readonly modelName: string) {}

  private uniq(base: string): string {
    let n = base;
    while (this.used.has(n)) n = `${base}_${++this.counter}`;
    this.used.add(n);
    return n;
  }

  private push(node: NodeDef, ins: Sym[]): Sym {
    const shape = inferNodeShape(node, ins.map((s) => s.shape));
    this.nodes.push(node);
    return { name: node.name, shape };
  }

  input(shape: number[], name = 'input'): Sym {
    if (this.nodes.length > 0) throw new GraphError('GraphBuilder: input must be the first node');
    return this.push({ op: 'input', name: this.uniq(name), inputs: [], shape }, []);
  }

  conv(x: Sym, name: string, out: number, o: ConvOptions): Sym {
    const k = pair(o.kernel);
    return this.push({
      op: 'conv2d', name: this.uniq(name), inputs: [x.name],
      inChannels: x.shape[0], outChannels: out, kernel: k, stride: pair(o.stride ?? 1),
      padding: pair(o.padding ?? 0), dilation: pair(o.dilation ?? 1), groups: o.groups ?? 1, bias: o.bias ?? false,
    }, [x]);
  }

  bn(x: Sym, name: string, eps = 1e-5, momentum = 0.1): Sym {
    return this.push({ op: 'batchnorm', name: this.uniq(name), inputs: [x.name], channels: x.shape[0], eps, momentum, affine: true }, [x]);
  }

  linear(x: Sym, name: string, out: number, bias = true): Sym {
    return this.push({ op: 'linear', name: this.uniq(name), inputs: [x.name], inFeatures: x.shape[0], outFeatures: out, bias }, [x]);
  }

  pool(kind: 'maxpool' | 'avgpool', x: Sym, kernel: number | Pair, stride?: number | Pair, padding: number | Pair = 0, name?: string): Sym {
    return this.push({
      op: kind, name: this.uniq(name ?? kind), inputs: [x.name], kernel: pair(kernel), stride: pair(stride ?? kernel), padding: pair(padding),
    }, [x]);
  }

  private simple(op: 'relu' | 'relu6' | 'gap' | 'flatten' | 'identity', x: Sym, name?: string): Sym {
    return this.push({ op, name: this.uniq(name ?? op), inputs: [x.name] }, [x]);
  }

  relu(x: Sym, name?: string): Sym { return this.simple('relu', x, name); }
  relu6(x: Sym, name?: string): Sym { return this.simple('relu6', x, name); }
  gap(x: Sym, name?: string): Sym { return this.simple('gap', x, name); }
  flatten(x: Sym, name?: string): Sym { return this.simple('flatten', x, name); }
  identity(x: Sym, name?: string): Sym { return this.simple('identity', x, name); }

  add(xs: Sym[], name?: string): Sym {
    return this.push({ op: 'add', name: this.uniq(name ?? 'add'), inputs: xs.map((s) => s.name) }, xs);
  }

  concat(xs: Sym[], name?: string): Sym {
    return this.push({ op: 'concat', name: this.uniq(name ?? 'concat'), inputs: xs.map((s) => s.name) }, xs);
  }

  /** conv → BN (→ ReLU): the most common block. */
  convBn(x: Sym, name: string, out: number, o: ConvOptions, act: 'relu' | 'relu6' | 'none' = 'relu', bnName?: string): Sym {
    const y = this.bn(this.conv(x, name, out, o), bnName ?? `${name}.bn`);
    return act === 'relu' ? this.relu(y) : act === 'relu6' ? this.relu6(y) : y;
  }

  build(output: Sym): ModelGraph {
    return { name: this.modelName, nodes: this.nodes.map((n) => ({ ...n })), output: output.name };
  }
}
