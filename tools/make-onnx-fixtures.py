#!/usr/bin/python3
"""
Writes the PyTorch-exported ONNX fixtures test/fixtures/onnx/*.onnx and their reference outputs
test/fixtures/onnx/reference.json, used by test/io/onnx-fixtures.test.ts (the tests never need
Python). Run from anywhere with Debian's Python (torch 1.13, torchvision, onnx 1.12):

    /usr/bin/python3 tools/make-onnx-fixtures.py

Three small torchvision-style CNNs (reduced widths, 3x32x32 inputs), each exported twice:
  - opset 13, torch's default eval export: BatchNorm folded into the convs, dynamic batch 'N'
    (static batch 2 for mixnet, whose x.view(x.size(0), -1) needs it to fold into a constant shape);
  - opset 17, training=PRESERVE on an eval-mode model: BatchNormalization nodes kept, static batch 2.
  * resnet_tiny: torchvision BasicBlock + Bottleneck blocks, stem conv/BN/ReLU/max-pool, projection
    shortcuts, adaptive average pool, flatten, fc (Conv, BN, Relu, MaxPool, Add, GlobalAveragePool,
    Flatten, Gemm);
  * mobilenetv2_tiny: torchvision mobilenet_v2(width_mult=0.25) with 3 stages (ReLU6 -> Clip(0, 6),
    depthwise convs, inverted residuals);
  * mixnet: Inception-style concat of a 1x1, a dilated 3x3 and a max-pool branch, average pooling,
    a grouped strided conv, a per-channel affine (x * gamma + beta -> Mul/Add folded into BN or
    conv), x.view(N, -1) (Reshape), a bias-free Linear (MatMul) and a Linear (Gemm).
BN statistics and affine parameters are randomized so BN is not an identity. Deterministic: fixed
seeds, one thread; the input is rounded to 4 decimals so both sides read the same numbers.
"""
import json
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'onnx')


def fmt32(v):
    f = np.float32(v)
    for p in range(6, 10):
        s = '%.*g' % (p, float(f))
        if np.float32(float(s)) == f:
            return s
    return repr(float(f))


def enc(t):
    t = t.detach().float().contiguous()
    return '{"shape":%s,"data":[%s]}' % (json.dumps(list(t.shape)), ','.join(fmt32(v) for v in t.reshape(-1).tolist()))


class ResNetTiny(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = BasicBlock(16, 16)
        self.layer2 = BasicBlock(16, 32, stride=2, downsample=nn.Sequential(conv1x1(16, 32, 2), nn.BatchNorm2d(32)))
        self.layer3 = Bottleneck(32, 16, stride=2, downsample=nn.Sequential(conv1x1(32, 64, 2), nn.BatchNorm2d(64)))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class MixNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.stem_bn = nn.BatchNorm2d(8)
        self.b1 = nn.Conv2d(8, 8, 1)
        self.b2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, bias=False)
        self.b3 = nn.MaxPool2d(3, 1, 1)
        self.pool = nn.AvgPool2d(2, 2)
        self.mix = nn.Conv2d(24, 16, 3, stride=2, padding=1, groups=4, bias=False)
        self.mix_bn = nn.BatchNorm2d(16)
        self.register_buffer('gamma', torch.rand(1, 16, 1, 1) + 0.5)
        self.register_buffer('beta', torch.randn(1, 16, 1, 1) * 0.1)
        self.fc1 = nn.Linear(16 * 8 * 8, 32, bias=False)
        self.fc2 = nn.Linear(32, num_classes)

    def forward(self, x):
        x = torch.relu(self.stem_bn(self.stem(x)))
        x = torch.cat([torch.relu(self.b1(x)), torch.relu(self.b2(x)), self.b3(x)], 1)
        x = self.pool(x)
        x = self.mix_bn(self.mix(x)) * self.gamma + self.beta
        x = nn.functional.relu6(x)
        x = x.view(x.size(0), -1)
        return self.fc2(torch.relu(self.fc1(x)))


def mobilenetv2_tiny():
    return torchvision.models.mobilenet_v2(
        num_classes=10, width_mult=0.25, inverted_residual_setting=[[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2]])


def randomize_bn(model, gen):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)


MODELS = [('resnet_tiny', ResNetTiny), ('mobilenetv2_tiny', mobilenetv2_tiny), ('mixnet', MixNet)]


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    x = torch.round(torch.randn(2, 3, 32, 32, generator=gen) * 1e4) / 1e4
    entries = []
    for i, (name, ctor) in enumerate(MODELS):
        torch.manual_seed(100 + i)
        model = ctor()
        randomize_bn(model, torch.Generator().manual_seed(200 + i))
        model.eval()
        with torch.no_grad():
            y = model(x)
        for opset, mode in ((13, torch.onnx.TrainingMode.EVAL), (17, torch.onnx.TrainingMode.PRESERVE)):
            dynamic = opset == 13 and name != 'mixnet'
            fname = '%s_op%d.onnx' % (name, opset)
            path = os.path.join(OUT, fname)
            torch.onnx.export(
                model, x, path, opset_version=opset, training=mode, do_constant_folding=True,
                input_names=['input'], output_names=['logits'],
                dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}} if dynamic else None)
            m = onnx.load(path)
            onnx.checker.check_model(m, full_check=True)
            ops = sorted({n.op_type for n in m.graph.node})
            entries.append('{"name":%s,"file":%s,"opset":%d,"batchNorm":%s,"batch":%s,"ops":%s,"output":%s}' % (
                json.dumps(name), json.dumps(fname), opset, json.dumps('kept' if opset == 17 else 'folded'),
                json.dumps('N' if dynamic else 2), json.dumps(ops), enc(y)))
            print('%-26s %7d bytes  ops: %s' % (fname, os.path.getsize(path), ' '.join(ops)))
    with open(os.path.join(OUT, 'reference.json'), 'w') as f:
        f.write('{"generator":"tools/make-onnx-fixtures.py","torch":%s,"onnx":%s,\n"input":%s,\n"fixtures":[\n%s\n]}\n' % (
            json.dumps(torch.__version__), json.dumps(onnx.__version__), enc(x), ',\n'.join(entries)))


if __name__ == '__main__':
    main()
