/**
 * Optimizers with PyTorch's update rules. They update parameter storage in place (like
 * torch.optim); call them outside any recorded computation. State is a plain record of buffers
 * so it can be checkpointed and restored for bit-identical resume.
 */
import type { Tensor } from '../tensor/tensor.js';
import type { Buf } from '../tensor/kernels.js';

export type Named<T> = Record<string, T>;

export interface OptimizerState {
  step: number;
  buffers: Named<Float32Array | Float64Array>;
}

export interface Optimizer {
  readonly kind: string;
  /** Applies one update to `params` given `grads` (same names) at learning rate `lr`. */
  step(params: Named<Tensor>, grads: Named<Tensor>, lr: number): void;
  state(): OptimizerState;
  load(state: OptimizerState): void;
}

export interface SgdOptions {
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  dampening?: number;
}

export class Sgd implements Optimizer {
  readonly kind = 'sgd';
  private bufs: Named<Buf> = {};
  private t = 0;
  constructor(private readonly o: SgdOptions = {}) {}

  step(params: Named<Tensor>, grads: Named<Tensor>, lr: number): void {
    const mom = this.o.momentum ?? 0, wd = this.o.weightDecay ?? 0, damp = this.o.dampening ?? 0;
    for (const name of Object.keys(grads)) {
      const p = params[name].data, g = grads[name].data;
      let buf = this.bufs[name];
      const first = buf === undefined;
      if (mom !== 0 && first) buf = this.bufs[name] = new (p.constructor as { new(n: number): Buf })(p.length);
      for (let i = 0; i < p.length; i++) {
        let d = g[i] + wd * p[i];
        if (mom !== 0) {
          buf![i] = first ? d : mom * buf![i] + (1 - damp) * d;
          d = this.o.nesterov ? d + mom * buf![i] : buf![i];
        }
        p[i] -= lr * d;
      }
    }
    this.t++;
  }

  state(): OptimizerState {
    return { step: this.t, buffers: { ...this.bufs } };
  }

  load(s: OptimizerState): void {
    this.t = s.step;
    this.bufs = { ...s.buffers };
  }
}

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export class AdamW implements Optimizer {
  readonly kind = 'adamw';
  private bufs: Named<Buf> = {};
  private t = 0;
  constructor(private readonly o: AdamWOptions = {}) {}

  step(params: Named<Tensor>, grads: Named<Tensor>, lr: number): void {
    const b1 = this.o.beta1 ?? 0.9, b2 = this.o.beta2 ?? 0.999, eps = this.o.eps ?? 1e-8, wd = this.o.weightDecay ?? 1e-2;
    this.t++;
    const c1 = 1 - Math.pow(b1, this.t), c2 = 1 - Math.pow(b2, this.t);
    for (const name of Object.keys(grads)) {
      const p = params[name].data, g = grads[name].data;
      const Ctor = p.constructor as { new(n: number): Buf };
      const m = (this.bufs[`${name}.m`] ??= new Ctor(p.length));
      const v = (this.bufs[`${name}.v`] ??= new Ctor(p.length));
      for (let i = 0; i < p.length; i++) {
        p[i] *= 1 - lr * wd;
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        p[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
      }
    }
  }

  state(): OptimizerState {
    return { step: this.t, buffers: { ...this.bufs } };
  }

  load(s: OptimizerState): void {
    this.t = s.step;
    this.bufs = { ...s.buffers };
  }
}

export type OptimizerConfig =
  | ({ kind: 'sgd' } & SgdOptions)
  | ({ kind: 'adamw' } & AdamWOptions);

export function makeOptimizer(c: OptimizerConfig): Optimizer {
  return c.kind === 'sgd' ? new Sgd(c) : new AdamW(c);
}
