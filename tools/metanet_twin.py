#!/usr/bin/env python3
"""PyTorch twin of metaprune's metanetwork (src/meta/gnn.ts) and of one meta-step (src/meta/metatrain.ts).

Reads a case written by bench/twin-export.ts (`<case>.json` + `<case>.bin`, the json+bin tensor file of
src/io/tensor-file.ts): the GNN config and parameters φ, the neural graph (features, edge list, masks)
of a network, the network's IR and the index map θ' = gather(node'/edge' features), the regularizer's
per-element coefficients M and a cotangent for the metanetwork outputs.

  metanet_twin.py check CASE OUT      writes OUT.bin: node' | edge' | ∂<cot, (node', edge')>/∂φ (φ in file order)
  metanet_twin.py bench CASE THREADS REPS [IMAGES BATCHES]
                                      prints one JSON line: median/min ms of the metanet forward (on the
                                      tape), forward + one VJP, the whole meta-step, and peak RSS (MB)

The same layers, widths, aggregations and ε as gnn.ts; PNA std as PyG (clamp 1e-5, zeroed at ≤ √1e-5).
Max/min gradients go to every tied extreme in PyTorch and to the first in ours: equal unless ties.
"""
import json
import resource
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

STD_MIN_VAR = 1e-5
warnings.filterwarnings('ignore', message='scatter_reduce')


def load_case(path):
    with open(path + '.json') as f:
        j = json.load(f)
    raw = np.fromfile(path + '.bin', dtype='<f4')
    if raw.size != j['binElements']:
        raise SystemExit(f'{path}.bin: {raw.size} floats, the .json says {j["binElements"]}')
    t = {}
    for e in j['tensors']:
        n = int(np.prod(e['shape'])) if e['shape'] else 1
        t[e['name']] = torch.from_numpy(raw[e['offset']:e['offset'] + n].copy()).reshape(e['shape'])
    return j['meta'], t


def idx(t):
    return t.round().long()


def pna(m, dst, n):
    """[mean | std | max | min] of the messages into each node (empty → 0), as pnaAggregate."""
    H = m.shape[1]
    d = dst.unsqueeze(1).expand(-1, H)
    cnt = torch.zeros(n, dtype=m.dtype).index_add_(0, dst, torch.ones_like(dst, dtype=m.dtype)).clamp_min(1).unsqueeze(1)
    mean = torch.zeros(n, H, dtype=m.dtype).index_add_(0, dst, m) / cnt
    sq = torch.zeros(n, H, dtype=m.dtype).index_add_(0, dst, m * m) / cnt
    std = torch.sqrt(torch.clamp(sq - mean * mean, min=STD_MIN_VAR))
    std = std.masked_fill(std <= STD_MIN_VAR ** 0.5, 0.0)
    mx = torch.zeros(n, H, dtype=m.dtype).scatter_reduce(0, d, m, 'amax', include_self=False)
    mn = torch.zeros(n, H, dtype=m.dtype).scatter_reduce(0, d, m, 'amin', include_self=False)
    return torch.cat([mean, std, mx, mn], 1)


class Twin:
    def __init__(self, meta, t):
        c = meta['config']
        self.L, self.H, self.eps = c['layers'], c['hidden'], c['eps']
        self.names = meta['paramNames']
        self.phi = {k: t['param/' + k].clone().requires_grad_(True) for k in self.names}
        self.x, self.e0 = t['nodeFeatures'], t['edgeFeatures']
        self.nmask, self.emask = t['nodeMask'], t['edgeMask']
        self.out, self.inn = idx(t['edgeOut']), idx(t['edgeIn'])
        H = self.H
        self.s = torch.tensor([1.0] * (H // 2) + [-1.0] * (H - H // 2))

    def lin(self, name, x):
        return F.linear(x, self.phi[name + '.weight'], self.phi[name + '.bias'])

    def forward(self):
        p, out, inn, N = self.phi, self.out, self.inn, self.x.shape[0]
        h = self.lin('nodeEnc', self.x)
        e = self.lin('edgeEnc', self.e0)
        for l in range(self.L):
            c = f'convs.{l}'
            hn = F.layer_norm(h, (self.H,), eps=1e-5)
            a = F.silu(self.lin(c + '.lin1', hn))
            z = F.silu(self.lin(c + '.lin2', hn))
            q3 = F.silu(self.lin(c + '.lin3', hn))
            q4 = F.silu(self.lin(c + '.lin4', hn))
            n1 = self.lin(c + '.downlin', pna(z[inn] * a[out] * e, inn, N))
            e1 = q3[out] * q4[inn] * e
            n2 = self.lin(c + '.downlin', pna(z[out] * a[inn] * (e * self.s), out, N))
            se2 = q3[inn] * q4[out] * e
            h = h + n1 + n2
            e = e + e1 + se2
        dn = self.lin('nodeDec.lin2', F.silu(self.lin('nodeDec.lin1', F.layer_norm(h, (self.H,), eps=1e-5))))
        de = self.lin('edgeDec.lin2', F.silu(self.lin('edgeDec.lin1', F.layer_norm(e, (self.H,), eps=1e-5))))
        return self.x + self.eps * (dn * self.nmask), self.e0 + self.eps * (de * self.emask)


def run_ir(nodes, output, params, x):
    """Eval-mode forward of a metaprune IR graph (src/ir/graph.ts) on PyTorch ops."""
    v = {}
    for n in nodes:
        op, name = n['op'], n['name']
        xs = [x] if op == 'input' else [v[i] for i in n['inputs']]
        pr = lambda k: params[f'{name}.{k}']  # noqa: E731
        if op == 'input' or op == 'identity':
            y = xs[0]
        elif op == 'conv2d':
            y = F.conv2d(xs[0], pr('weight'), pr('bias') if n['bias'] else None, tuple(n['stride']), tuple(n['padding']),
                         tuple(n['dilation']), n['groups'])
        elif op == 'batchnorm':
            y = F.batch_norm(xs[0], pr('running_mean'), pr('running_var'), pr('weight') if n['affine'] else None,
                             pr('bias') if n['affine'] else None, False, 0.0, n['eps'])
        elif op == 'linear':
            y = F.linear(xs[0], pr('weight'), pr('bias') if n['bias'] else None)
        elif op == 'maxpool':
            y = F.max_pool2d(xs[0], tuple(n['kernel']), tuple(n['stride']), tuple(n['padding']))
        elif op == 'avgpool':
            y = F.avg_pool2d(xs[0], tuple(n['kernel']), tuple(n['stride']), tuple(n['padding']))
        elif op == 'gap':
            y = xs[0].mean((2, 3))
        elif op == 'flatten':
            y = torch.flatten(xs[0], 1)
        elif op == 'concat':
            y = torch.cat(xs, 1)
        elif op == 'relu':
            y = F.relu(xs[0])
        elif op == 'relu6':
            y = F.relu6(xs[0])
        elif op == 'add':
            y = xs[0]
            for t in xs[1:]:
                y = y + t
        else:
            raise SystemExit(f'twin: op {op} of node {name} not supported')
        v[name] = y
    return v[output]


class MetaStep:
    """θ' = M_φ(θ); g = ∇θ'(Σ_b CE_b) (BN eval) + λ·M⊙θ'; one VJP into φ (metatrain.ts::metaGradient)."""

    def __init__(self, twin, meta, t, images, batches):
        self.twin, self.meta, self.t = twin, meta, t
        self.graph = meta['graph']
        self.gather = [(g['param'], g['shape'], idx(t['gather/' + g['param']])) for g in meta['gather']]
        self.fixed = {k[len('theta/'):]: v for k, v in t.items() if k.startswith('theta/')}
        self.coef = {k[len('regcoef/'):]: v for k, v in t.items() if k.startswith('regcoef/')}
        self.reg = meta['reg']
        gen = torch.Generator().manual_seed(0)
        shape = meta['inputShape']
        self.x = torch.randn(batches, images, *shape, generator=gen)
        self.y = torch.randint(0, meta['numClasses'], (batches, images), generator=gen)

    def generated(self):
        nf, ef = self.twin.forward()
        flat = torch.cat([nf.reshape(-1), ef.reshape(-1)])
        return {name: flat[i].reshape(shape) for name, shape, i in self.gather}

    def run(self):
        gen = self.generated()
        det = {k: v.detach().requires_grad_(True) for k, v in gen.items()}
        params = {**self.fixed, **det}
        total = {k: torch.zeros_like(v) for k, v in det.items()}
        for b in range(self.x.shape[0]):
            ce = F.cross_entropy(run_ir(self.graph['nodes'], self.graph['output'], params, self.x[b]), self.y[b])
            gs = torch.autograd.grad(ce, list(det.values()))
            for k, g in zip(det.keys(), gs):
                total[k] += g
        for k, c in self.coef.items():
            total[k] += self.reg * c.reshape(det[k].shape) * det[k].detach()
        names = list(gen.keys())
        return torch.autograd.grad([gen[k] for k in names], list(self.twin.phi.values()), [total[k] for k in names])


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return ts[len(ts) // 2], ts[0]


def main():
    mode = sys.argv[1]
    meta, t = load_case(sys.argv[2])
    if mode == 'check':
        torch.set_num_threads(1)
        twin = Twin(meta, t)
        nf, ef = twin.forward()
        cot = (nf * t['cotNode']).sum() + (ef * t['cotEdge']).sum()
        gs = torch.autograd.grad(cot, [twin.phi[k] for k in twin.names])
        parts = [nf.detach().reshape(-1), ef.detach().reshape(-1)] + [g.reshape(-1) for g in gs]
        torch.cat(parts).numpy().astype('<f4').tofile(sys.argv[3] + '.bin')
        return
    if mode != 'bench':
        raise SystemExit(f'usage: {sys.argv[0]} check CASE OUT | bench CASE THREADS REPS [IMAGES BATCHES]')
    threads, reps = int(sys.argv[3]), int(sys.argv[4])
    images = int(sys.argv[5]) if len(sys.argv) > 5 else 256
    batches = int(sys.argv[6]) if len(sys.argv) > 6 else 4
    torch.set_num_threads(threads)
    twin = Twin(meta, t)
    cot_n, cot_e = t['cotNode'], t['cotEdge']
    phis = [twin.phi[k] for k in twin.names]

    def fwd():
        twin.forward()  # on the tape, as the meta-step runs it

    def fwd_bwd():
        nf, ef = twin.forward()
        torch.autograd.grad([nf, ef], phis, [cot_n, cot_e])

    step = MetaStep(twin, meta, t, images, batches)
    fwd_bwd()
    step.run()
    res = {}
    res['forwardMs'], res['forwardBestMs'] = timed(fwd, reps)
    res['forwardBackwardMs'], res['forwardBackwardBestMs'] = timed(fwd_bwd, reps)
    res['metaStepMs'], res['metaStepBestMs'] = timed(step.run, reps)
    res['peakRssMB'] = peak_rss_mb()
    res['torch'] = torch.__version__
    print('TWIN ' + json.dumps(res))


if __name__ == '__main__':
    main()
