/**
 * BN recalibration: recompute every BN's running statistics as the exact average over a few
 * training batches (PyTorch's momentum=None cumulative average), weights untouched. Used after
 * the metanetwork changed weights, whose stored running statistics are then stale.
 */
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { forward } from '../ir/forward.js';
import { cloneGraph, type ModelGraph, type Params } from '../ir/graph.js';
import { batches, type Dataset } from '../data/index.js';

export function recalibrateBn(graph: ModelGraph, params: Params, data: Dataset, nBatches = 10, batchSize = 256, seed = 0): void {
  const bns = graph.nodes.filter((n) => n.op === 'batchnorm');
  for (const n of bns) {
    params[`${n.name}.running_mean`].data.fill(0);
    params[`${n.name}.running_var`].data.fill(1);
  }
  const g = cloneGraph(graph);
  noGrad(() => {
    let k = 0;
    for (const b of batches(data, batchSize, { shuffle: true, seed })) {
      if (k >= nBatches) break;
      // momentum 1/(k+1): running = mean of the k+1 batch statistics seen so far.
      for (const n of g.nodes) if (n.op === 'batchnorm') n.momentum = 1 / (k + 1);
      forward(g, params, new Tensor(b.x, b.shape), { training: true });
      k++;
    }
  });
}
