#!/usr/bin/python3
"""
Exports torchvision classification CNNs to ONNX as a PyTorch user would (torch.onnx.export, opset 13,
constant folding, eval mode, random weights, 10 classes), each with its reference input/output, for
the importer's coverage (tools/onnx-coverage.mjs) and the committed fixtures (test/io/onnx-torchvision).

    /usr/bin/python3 tools/export-torchvision-onnx.py OUT_DIR all        # the 20 CNNs of issue 18
    /usr/bin/python3 tools/export-torchvision-onnx.py OUT_DIR fixtures   # small width-reduced ones

For every model it writes NAME.onnx (static batch 2), NAME-dyn.onnx (dynamic batch 'N') and
NAME.json {input: {shape, data}, output: {shape, data}} with PyTorch's output on a seeded input.
Input sizes as in issue 18: 64x64, AlexNet 224, Inception-v3 96. Needs Debian's python3-torch,
python3-torchvision and python3-onnx (torch 1.13 / torchvision 0.14).
"""
import json
import os
import sys

import torch
import torchvision.models as tvm

torch.set_num_threads(1)

ALL = [
    'alexnet', 'convnext_tiny', 'densenet121', 'efficientnet_b0', 'efficientnet_v2_s', 'googlenet', 'inception_v3',
    'mnasnet1_0', 'mobilenet_v2', 'mobilenet_v3_large', 'mobilenet_v3_small', 'regnet_x_400mf', 'regnet_y_400mf',
    'resnet18', 'resnet50', 'resnext50_32x4d', 'shufflenet_v2_x1_0', 'squeezenet1_0', 'squeezenet1_1', 'wide_resnet50_2',
]
SIZE = {'alexnet': 224, 'inception_v3': 96}


def full(name):
    kw = {'num_classes': 10}
    if name in ('googlenet', 'inception_v3'):
        kw.update(aux_logits=False, init_weights=True)
    return getattr(tvm, name)(weights=None, **kw)


def small(name):
    """Width-reduced variants small enough to commit (same block structure as the full models)."""
    if name == 'mobilenet_v3_small_w050':
        from torchvision.models.mobilenetv3 import MobileNetV3, _mobilenet_v3_conf
        setting, last = _mobilenet_v3_conf('mobilenet_v3_small', width_mult=0.5)
        return MobileNetV3(setting, last, num_classes=10)
    if name == 'efficientnet_b0_w025':
        from torchvision.models.efficientnet import EfficientNet, _efficientnet_conf
        setting, last = _efficientnet_conf('efficientnet_b0', width_mult=0.25, depth_mult=0.25)
        return EfficientNet(setting, 0.2, num_classes=10, last_channel=last)
    if name == 'regnet_y_tiny':
        from torchvision.models.regnet import BlockParams, RegNet
        return RegNet(BlockParams.from_init_params(depth=4, w_0=16, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25), num_classes=10)
    if name == 'regnet_x_tiny':
        from torchvision.models.regnet import BlockParams, RegNet
        return RegNet(BlockParams.from_init_params(depth=4, w_0=16, w_a=8.0, w_m=2.0, group_width=8), num_classes=10)
    raise KeyError(name)


FIXTURES = ['mobilenet_v3_small_w050', 'efficientnet_b0_w025', 'regnet_y_tiny', 'regnet_x_tiny']


def randomize_bn(model, gen):
    # fresh BN statistics are an identity; random ones make the import check meaningful
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def export(name, model, size, out):
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        randomize_bn(model, gen)
    model.eval()
    x = torch.randn(2, 3, size, size, generator=gen).mul(1e4).round().div(1e4)
    with torch.no_grad():
        y = model(x)
    for suffix, dyn in (('', None), ('-dyn', {'input': {0: 'N'}, 'logits': {0: 'N'}})):
        torch.onnx.export(model, x, os.path.join(out, f'{name}{suffix}.onnx'), opset_version=13, do_constant_folding=True,
                          input_names=['input'], output_names=['logits'], dynamic_axes=dyn)
    with open(os.path.join(out, f'{name}.json'), 'w') as f:
        json.dump({'input': {'shape': list(x.shape), 'data': [float(v) for v in x.flatten()]},
                   'output': {'shape': list(y.shape), 'data': [float(v) for v in y.flatten()]}}, f)
    print(f'{name}: {sum(p.numel() for p in model.parameters())} parameters, input {size}x{size}', flush=True)


def main():
    out, which = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else 'all'
    os.makedirs(out, exist_ok=True)
    names = ALL if which == 'all' else FIXTURES if which == 'fixtures' else which.split(',')
    for name in names:
        torch.manual_seed(0)
        model = small(name) if name in FIXTURES else full(name)
        export(name, model, SIZE.get(name, 32 if name in FIXTURES else 64), out)


if __name__ == '__main__':
    main()
