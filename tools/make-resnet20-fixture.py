#!/usr/bin/python3
"""ResNet-20 (CIFAR, option-B shortcuts) forward + one SGD step in PyTorch, as a compact fixture.

Weights and inputs come from a tiny integer generator that the TypeScript test reproduces exactly
(`fill(i) = ((i*40503 + seed*977) % 65536) / 65536 - 0.5`), so only results are committed:
logits, loss, and per-parameter statistics (sum, sum of squares, 8 sampled values) of the
weights and BN running statistics after one SGD step (lr 0.1, momentum 0.9, weight decay 5e-4,
train mode). Run with Debian's python3: /usr/bin/python3 tools/make-resnet20-fixture.py
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'torch', 'resnet20_step.json')


def fill(n, seed, scale):
    return torch.tensor([(((i * 40503 + seed * 977) % 65536) / 65536 - 0.5) * scale for i in range(n)], dtype=torch.float64).float()


class Block(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNet20(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        cin = 16
        for s, planes in enumerate([16, 32, 64]):
            blocks = []
            for i in range(3):
                blocks.append(Block(cin, planes, 2 if (i == 0 and s > 0) else 1))
                cin = planes
            setattr(self, f'layer{s + 1}', nn.Sequential(*blocks))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def stats(t):
    t = t.detach().double().flatten()
    n = t.numel()
    idx = [min(n - 1, (k * 7919) % n) for k in range(8)]
    return {'sum': t.sum().item(), 'sumsq': (t * t).sum().item(), 'samples': [[i, t[i].item()] for i in idx]}


def main():
    m = ResNet20()
    sd = m.state_dict()
    seed = 1
    for name, t in sd.items():
        if name.endswith('num_batches_tracked'):
            continue
        n = t.numel()
        if name.endswith('running_var'):
            v = 1 + fill(n, seed, 0.4).abs()
        elif name.endswith('running_mean') or (name.endswith('bias')):
            v = fill(n, seed, 0.2)
        elif t.dim() == 1:  # BN weight
            v = 1 + fill(n, seed, 0.2)
        else:
            fan_in = t[0].numel()
            v = fill(n, seed, 2 * (3.0 / fan_in) ** 0.5)
        sd[name] = v.reshape(t.shape)
        seed += 1
    m.load_state_dict(sd)
    x = fill(4 * 3 * 8 * 8, 999, 2.0).reshape(4, 3, 8, 8)
    y = torch.tensor([i % 10 for i in range(4)])
    order = [k for k in sd.keys() if not k.endswith('num_batches_tracked')]
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    logits = m(x)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    after = m.state_dict()
    fixture = {
        'description': 'ResNet-20 option B, input 4x3x8x8, one SGD step (lr 0.1, momentum 0.9, wd 5e-4), train mode',
        'order': order,
        'logits': logits.detach().flatten().tolist(),
        'loss': loss.item(),
        'after': {k: stats(after[k]) for k in order},
    }
    with open(OUT, 'w') as f:
        json.dump(fixture, f)
    print('wrote', OUT, os.path.getsize(OUT), 'bytes')


main()
