#!/usr/bin/python3
"""
Writes the PyTorch reference fixtures test/fixtures/torch/*.json used by
test/tensor/torch-fixtures.test.ts (the tests never need Python).

Run from the repository root with a Python that has torch (Debian's):

    /usr/bin/python3 tools/make-fixtures.py

Deterministic: fixed seeds, one thread. Every case exists in float64 and float32; inputs are
rounded to 4 decimals so that both sides parse exactly the same numbers. Tensors are stored as
{"shape": [...], "data": [...]} (row-major); float32 values are written with the shortest decimal
that round-trips through float32, float64 values with Python's shortest round-trip repr.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'torch')
DTYPES = {'float64': torch.float64, 'float32': torch.float32}


# ----------------------------------------------------------------------------- serialization

def fmt32(v):
    f = np.float32(v)
    for p in range(6, 10):
        s = '%.*g' % (p, float(f))
        if np.float32(float(s)) == f:
            return s
    return repr(float(f))


def fmt64(v):
    return repr(float(v))


class T:
    """A tensor to serialize (keeps its dtype for number formatting)."""

    def __init__(self, t):
        self.t = t.detach().cpu().clone().contiguous()  # a snapshot: parameters are updated in place later


def encode(obj, indent=0):
    pad = ' ' * indent
    if isinstance(obj, T):
        t = obj.t
        f = fmt32 if t.dtype == torch.float32 else fmt64
        vals = t.reshape(-1).tolist()
        if t.dtype in (torch.int64, torch.int32):
            data = ','.join(str(int(v)) for v in vals)
        else:
            data = ','.join(f(v) for v in vals)
        return '{"shape":%s,"data":[%s]}' % (json.dumps(list(t.shape)), data)
    if isinstance(obj, dict):
        items = [' ' * (indent + 1) + json.dumps(k) + ': ' + encode(v, indent + 1) for k, v in obj.items()]
        return '{\n' + ',\n'.join(items) + '\n' + pad + '}'
    if isinstance(obj, list) and any(isinstance(v, (dict, T)) for v in obj):
        items = [' ' * (indent + 1) + encode(v, indent + 1) for v in obj]
        return '[\n' + ',\n'.join(items) + '\n' + pad + ']'
    if isinstance(obj, float):
        return fmt64(obj)
    return json.dumps(obj)


def write(name, cases):
    path = os.path.join(OUT, name + '.json')
    with open(path, 'w') as fh:
        fh.write(encode({'generator': 'tools/make-fixtures.py', 'torch': torch.__version__.split('+')[0], 'cases': cases}))
        fh.write('\n')
    print('%-28s %7d bytes' % (os.path.relpath(path), os.path.getsize(path)))


def rnd(shape, gen, scale=1.0, offset=0.0):
    """Float64 normal numbers rounded to 4 decimals."""
    x = torch.randn(*shape, generator=gen, dtype=torch.float64) * scale + offset
    return torch.round(x * 1e4) / 1e4


def leaf(x, dtype):
    return x.to(dtype).clone().requires_grad_(True)


# ----------------------------------------------------------------------------- conv2d

def conv_cases():
    specs = [
        # name, x shape, w shape, bias, options
        ('stride2_pad1', [2, 3, 7, 7], [4, 3, 3, 3], True, dict(stride=2, padding=1, dilation=1, groups=1)),
        ('padding_rect', [2, 3, 6, 5], [5, 3, 3, 2], True, dict(stride=1, padding=[1, 2], dilation=1, groups=1)),
        ('dilation2', [1, 2, 9, 8], [3, 2, 3, 3], False, dict(stride=1, padding=2, dilation=2, groups=1)),
        ('groups2', [2, 4, 6, 6], [6, 2, 3, 3], True, dict(stride=1, padding=1, dilation=1, groups=2)),
        ('depthwise', [2, 4, 6, 7], [8, 1, 3, 3], True, dict(stride=[1, 2], padding=1, dilation=1, groups=4)),
        ('pointwise_1x1', [2, 4, 5, 5], [6, 4, 1, 1], True, dict(stride=1, padding=0, dilation=1, groups=1)),
        ('mixed_nobias', [2, 4, 8, 7], [4, 2, 2, 3], False, dict(stride=[2, 1], padding=[0, 1], dilation=[1, 2], groups=2)),
    ]
    cases = []
    for dname, dt in DTYPES.items():
        gen = torch.Generator().manual_seed(1)
        for name, xs, ws, has_bias, o in specs:
            x0, w0 = rnd(xs, gen), rnd(ws, gen, 0.5)
            b0 = rnd([ws[0]], gen, 0.5) if has_bias else None
            x, w = leaf(x0, dt), leaf(w0, dt)
            b = leaf(b0, dt) if has_bias else None
            y = F.conv2d(x, w, b, stride=o['stride'], padding=o['padding'], dilation=o['dilation'], groups=o['groups'])
            gy = rnd(list(y.shape), gen).to(dt)
            y.backward(gy)
            case = {'name': name, 'dtype': dname, 'options': o,
                    'x': T(x), 'w': T(w)}
            if has_bias:
                case['b'] = T(b)
            case.update({'y': T(y), 'gy': T(gy), 'gx': T(x.grad), 'gw': T(w.grad)})
            if has_bias:
                case['gb'] = T(b.grad)
            cases.append(case)
    return cases


# ----------------------------------------------------------------------------- batch norm

def bn_cases():
    specs = [
        # name, x shape, training, affine, momentum, eps
        ('train_4d', [4, 3, 5, 5], True, True, 0.1, 1e-5),
        ('train_2d', [6, 4], True, True, 0.1, 1e-5),
        ('train_4d_noaffine_m03', [3, 2, 4, 3], True, False, 0.3, 1e-3),
        ('eval_4d', [4, 3, 5, 5], False, True, 0.1, 1e-5),
        ('eval_2d', [5, 4], False, True, 0.1, 1e-5),
    ]
    cases = []
    for dname, dt in DTYPES.items():
        gen = torch.Generator().manual_seed(2)
        for name, xs, training, affine, momentum, eps in specs:
            C = xs[1]
            x0 = rnd(xs, gen, 2.0, 0.5)
            g0 = 1 + rnd([C], gen, 0.3)
            b0 = rnd([C], gen, 0.3)
            rm0 = rnd([C], gen, 0.5)
            rv0 = 0.5 + torch.round(torch.rand(C, generator=gen, dtype=torch.float64) * 1e4) / 1e4
            x = leaf(x0, dt)
            g = leaf(g0, dt) if affine else None
            b = leaf(b0, dt) if affine else None
            rm, rv = rm0.to(dt).clone(), rv0.to(dt).clone()
            y = F.batch_norm(x, rm, rv, g, b, training=training, momentum=momentum, eps=eps)
            gy = rnd(list(y.shape), gen).to(dt)
            y.backward(gy)
            case = {'name': name, 'dtype': dname, 'training': training, 'momentum': momentum, 'eps': eps,
                    'x': T(x), 'runningMean': T(rm0.to(dt)), 'runningVar': T(rv0.to(dt))}
            if affine:
                case.update({'gamma': T(g), 'beta': T(b)})
            case.update({'y': T(y), 'gy': T(gy), 'gx': T(x.grad),
                         'runningMeanAfter': T(rm), 'runningVarAfter': T(rv)})
            if affine:
                case.update({'ggamma': T(g.grad), 'gbeta': T(b.grad)})
            cases.append(case)
    return cases


# ----------------------------------------------------------------------------- pooling

def pool_cases():
    specs = [
        # name, kind, x shape, kernel, stride, padding
        ('max_k3_s2_p1', 'max', [2, 3, 7, 7], 3, 2, 1),
        ('max_k2_default_stride', 'max', [1, 2, 6, 6], 2, None, 0),
        ('max_rect', 'max', [2, 2, 7, 6], [3, 2], [2, 1], [1, 0]),
        ('avg_k3_s2_p1', 'avg', [2, 3, 7, 7], 3, 2, 1),
        ('avg_k2_default_stride', 'avg', [1, 2, 6, 6], 2, None, 0),
        ('avg_rect', 'avg', [2, 2, 5, 6], [3, 2], [1, 2], [1, 1]),
        ('global_avg', 'gap', [3, 4, 5, 6], None, None, None),
    ]
    cases = []
    for dname, dt in DTYPES.items():
        gen = torch.Generator().manual_seed(3)
        for name, kind, xs, k, s, p in specs:
            x = leaf(rnd(xs, gen), dt)
            if kind == 'max':
                y = F.max_pool2d(x, k, s, p)
            elif kind == 'avg':
                y = F.avg_pool2d(x, k, s, p, count_include_pad=True)
            else:
                y = x.mean(dim=(2, 3))
            gy = rnd(list(y.shape), gen).to(dt)
            y.backward(gy)
            case = {'name': name, 'dtype': dname, 'kind': kind}
            if kind != 'gap':
                case['options'] = {'kernel': k, 'stride': s, 'padding': p}
            case.update({'x': T(x), 'y': T(y), 'gy': T(gy), 'gx': T(x.grad)})
            cases.append(case)
    return cases


# ----------------------------------------------------------------------------- cross-entropy

def ce_cases():
    cases = []
    for dname, dt in DTYPES.items():
        gen = torch.Generator().manual_seed(4)
        for name, (n, k), scale in [('small', (6, 5), 1.0), ('large_logits', (4, 3), 20.0)]:
            logits = leaf(rnd([n, k], gen, scale), dt)
            labels = torch.randint(0, k, (n,), generator=gen)
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            cases.append({'name': name, 'dtype': dname, 'logits': T(logits), 'labels': labels.tolist(),
                          'loss': float(loss), 'grad': T(logits.grad)})
    return cases


# ----------------------------------------------------------------------------- tiny CNN training step

class TinyCNN(torch.nn.Module):
    """conv(1→4, 3x3, pad 1) − BN − ReLU − conv(4→8, 3x3, stride 2, pad 1) − BN − ReLU − GAP − linear(8→3)."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(4)
        self.conv2 = torch.nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.fc(x.mean(dim=(2, 3)))


def state(model, buffers=False):
    out = {k: T(v) for k, v in model.named_parameters()}
    if buffers:
        out.update({k: T(v) for k, v in model.named_buffers() if 'running' in k})
    return out


def tiny_cnn_cases():
    cases = []
    lr, momentum, wd = 0.1, 0.9, 5e-4
    for dname, dt in DTYPES.items():
        torch.manual_seed(5)
        model = TinyCNN().to(dt)
        # Non-trivial affine BN parameters (the defaults are 1 and 0).
        with torch.no_grad():
            for bn in (model.bn1, model.bn2):
                bn.weight.copy_(1 + 0.2 * torch.randn(bn.weight.shape, dtype=dt))
                bn.bias.copy_(0.2 * torch.randn(bn.bias.shape, dtype=dt))
            for p in model.parameters():
                p.copy_(torch.round(p * 1e4) / 1e4)
        gen = torch.Generator().manual_seed(6)
        x = rnd([8, 1, 8, 8], gen).to(dt)
        labels = torch.randint(0, 3, (8,), generator=gen)
        case = {'name': 'tiny_cnn', 'dtype': dname, 'lr': lr, 'momentum': momentum, 'weightDecay': wd,
                'x': T(x), 'labels': labels.tolist(), 'params': state(model, buffers=True)}
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=wd)
        model.train()
        steps = []
        for _ in range(2):
            opt.zero_grad()
            logits = model(x)
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            grads = {k: T(p.grad) for k, p in model.named_parameters()}
            opt.step()
            steps.append({'logits': T(logits), 'loss': float(loss), 'grads': grads, 'after': state(model, buffers=True)})
        case['steps'] = steps
        model.eval()
        with torch.no_grad():
            case['evalLogits'] = T(model(x))
        cases.append(case)
    return cases


def main():
    os.makedirs(OUT, exist_ok=True)
    write('conv2d', conv_cases())
    write('batchnorm', bn_cases())
    write('pool', pool_cases())
    write('cross_entropy', ce_cases())
    write('tiny_cnn', tiny_cnn_cases())
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print('total %d bytes' % total)
    if total > 2 * 1024 * 1024:
        sys.exit('fixtures exceed 2 MB')


if __name__ == '__main__':
    main()
