/**
 * What every arm gets right before pruning, with the same budget (method §8.3, issue #10): a short
 * SGD finetune or a BN recalibration. The metanetwork changes weights, so its stored BN running
 * statistics are stale; the baselines get the identical treatment so the comparison is fair.
 */
import type { ModelGraph, Params } from '../ir/graph.js';
import { subset, type Dataset } from '../data/index.js';
import { finetune } from '../train/run.js';
import { recalibrateBn } from '../train/bn-recalibrate.js';

export interface AdaptConfig {
  kind: 'finetune' | 'bn';
  epochs: number;
  lr: number;
  /** Train on a random subset of this many images (0: all). */
  images: number;
}

export function adapt(graph: ModelGraph, params: Params, train: Dataset, a: AdaptConfig, seed: number, extraGrad?: Parameters<typeof finetune>[3]['extraGrad']): void {
  const data = a.images > 0 && a.images < train.n ? subset(train, a.images, seed) : train;
  if (a.kind === 'bn') recalibrateBn(graph, params, data, 10, 256, seed);
  else finetune(graph, params, data, { epochs: a.epochs, lr: a.lr, seed, extraGrad });
}
