/** Evaluation: mean loss and top-1 accuracy with BN in evaluation mode, no tape. */
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { residentScope } from '../tensor/backends/fast.js';
import { crossEntropy, accuracy } from '../tensor/ops/softmax.js';
import { forward } from '../ir/forward.js';
import type { ModelGraph, Params } from '../ir/graph.js';
import { batches, type Dataset } from '../data/index.js';

export interface EvalResult {
  loss: number;
  acc: number;
  n: number;
}

export function evaluate(g: ModelGraph, params: Params, ds: Dataset, batchSize = 500): EvalResult {
  return noGrad(() => {
    let loss = 0, correct = 0, n = 0;
    for (const b of batches(ds, batchSize)) {
      // activations stay in the backend's memory between ops (see residentScope); only numbers leave
      const [l, c] = residentScope(() => {
        const logits = forward(g, params, new Tensor(b.x, b.shape), { training: false });
        return [crossEntropy(logits, b.y, { reduction: 'sum' }).item(), accuracy(logits, b.y) * b.n];
      });
      loss += l;
      correct += c;
      n += b.n;
    }
    return { loss: loss / Math.max(1, n), acc: correct / Math.max(1, n), n };
  });
}
