/**
 * End-to-end performance benchmark, side by side in one run: for each backend (ts, wasm, and native
 * when its optional addon is built) and thread
 * count (1, 2) it measures GEMM 512³/1024³, the three ResNet-20 3×3 convolutions at batch 64
 * (forward, input gradient, filter gradient), one ResNet-20 training step (batch 64, SGD with
 * momentum), one smallcnn training epoch on the embedded data (`train()`, batch 128) and the peak
 * RSS; and, when `/usr/bin/python3 -c "import torch"` works, the same ResNet-20 step in PyTorch with
 * the same thread count (`torch.set_num_threads`), giving the ratio ours / PyTorch.
 *
 * Every configuration runs in a child process of its own (METAPRUNE_BACKEND / METAPRUNE_THREADS
 * set), so peak RSS is per configuration. Run directly (`node --import tsx bench/perf.ts` or
 * `node dist/bench/perf.js`); `benchPerf()` prints the table and returns the rows. Takes about
 * 1–3 minutes on 2 cores. Timings on a shared machine are noisy: the load average is printed.
 *
 * The `ts` reference backend is single-threaded, so it is measured once (its ResNet-20 step once,
 * and its smallcnn epoch extrapolated from the first batches). METAPRUNE_BENCH_REPEAT=N adds N - 1
 * rounds of the step comparison and prints each ratio's median and range.
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ConvGeom, KernelMap } from '../src/tensor/kernels.js';
import { bestTime as best, median, randF32, rng } from './util.js';

type PerfBackend = 'ts' | 'wasm' | 'native';

export interface PerfRow {
  backend: PerfBackend;
  threads: number;
  /** GEMM GFLOP/s (best call). */
  gemm512: number;
  gemm1024: number;
  /** Per ResNet-20 conv shape: [forward, input gradient, filter gradient] GFLOP/s (best call). */
  conv: Record<string, [number, number, number]>;
  /** ResNet-20 training step (batch 64): median and best of the timed steps, ms. */
  resnetStepMs: number;
  resnetStepBestMs: number;
  /** smallcnn training epoch on the embedded data, seconds (extrapolated when `smallcnnBatches` < all). */
  smallcnnEpochS: number;
  smallcnnBatches: number;
  smallcnnBatchesTotal: number;
  peakRssMb: number;
  /** PyTorch ResNet-20 step at the same thread count (median ms), when available. */
  torchStepMs?: number;
}

const CONV_SHAPES: [string, number, number][] = [
  ['16@32²', 16, 32],
  ['32@16²', 32, 16],
  ['64@8²', 64, 8],
];
const CHILD_FLAG = '--perf-child';
const STEP_ONLY_ENV = 'METAPRUNE_PERF_STEP_ONLY';

// ------------------------------------------------------------------------- child side

async function runChild(backend: PerfBackend, threads: number): Promise<PerfRow> {
  await import('../src/tensor/index.js');
  const { setBackend } = await import('../src/tensor/registry.js');
  const { tsKernels } = await import('../src/tensor/backends/ts/kernels.js');
  const wasmMod = await import('../src/tensor/backends/wasm/index.js');
  const nativeMod = await import('../src/tensor/backends/native/index.js');
  const backends = await import('../src/tensor/backends/index.js');
  const { buildModel, modelEntry } = await import('../src/models/index.js');
  const { initParams } = await import('../src/ir/init.js');
  const { forward } = await import('../src/ir/forward.js');
  const { valueAndGrad } = await import('../src/tensor/autograd.js');
  const { residentScope } = await import('../src/tensor/backends/fast.js');
  const { crossEntropy } = await import('../src/tensor/ops/softmax.js');
  const { Tensor } = await import('../src/tensor/tensor.js');
  const { trainableNames } = await import('../src/ir/graph.js');
  const { makeOptimizer } = await import('../src/train/optim.js');
  const { loadDataset } = await import('../src/data/index.js');
  const { train, DEFAULT_TRAIN } = await import('../src/train/loop.js');

  if (backend === 'native' && !nativeMod.nativeAvailable()) throw new Error('native backend unavailable');
  setBackend(backend);
  if (backend === 'wasm' || backend === 'native') {
    if (!wasmMod.wasmAvailable()) throw new Error('wasm backend unavailable');
    // the engine's own setThreads: wasm workers, and for native the addon's threads with the wasm
    // kernels it borrows (pooling) kept single-threaded, as in any native run
    backends.setThreads(threads);
    if (!(await backends.wasmThreadsReady(30000))) process.stderr.write('perf: worker threads not ready; measuring anyway\n');
  }
  const K: Partial<KernelMap> = backend === 'ts' ? tsKernels
    : backend === 'wasm' ? wasmMod.wasmKernels : { ...wasmMod.wasmKernels, ...nativeMod.nativeKernels };
  const slow = backend === 'ts';
  const r = rng(1234);
  /** Repeat rounds measure only the ResNet-20 step (the other columns come from the first round). */
  const stepOnly = process.env[STEP_ONLY_ENV] === '1';

  // GEMM
  const gemm: number[] = [];
  for (const n of stepOnly ? [] : [512, 1024]) {
    const a = randF32(n * n, r), b = randF32(n * n, r), c = new Float32Array(n * n);
    const ms = best(() => K.matmul!(a, b, c, n, n, n, false, false, false), slow ? 300 : 400, 2);
    gemm.push((2 * n * n * n) / ms / 1e6);
  }

  // ResNet-20 3x3 convolutions, stride 1, pad 1, C = O, batch 64
  const conv: Record<string, [number, number, number]> = {};
  for (const [label, C, S] of stepOnly ? [] : CONV_SHAPES) {
    const N = 64;
    const g: ConvGeom = {
      N, C, H: S, W: S, O: C, KH: 3, KW: 3, OH: S, OW: S,
      strideH: 1, strideW: 1, padH: 1, padW: 1, dilationH: 1, dilationW: 1, groups: 1,
    };
    const x = randF32(N * C * S * S, r), w = randF32(C * C * 9, r), dy = randF32(N * C * S * S, r);
    const out = new Float32Array(dy.length), dx = new Float32Array(x.length), dw = new Float32Array(w.length);
    const flops = 2 * N * C * S * S * C * 9;
    const budget = slow ? 200 : 300, reps = slow ? 1 : 3;
    conv[label] = [
      flops / best(() => K.conv2d!(x, w, out, g), budget, reps) / 1e6,
      flops / best(() => K.conv2dBackwardInput!(dy, w, dx, g), budget, reps) / 1e6,
      flops / best(() => K.conv2dBackwardFilter!(x, dy, dw, g), budget, reps) / 1e6,
    ];
  }

  // ResNet-20 training step, batch 64
  const graph = buildModel('resnet20');
  const params = initParams(graph, 0, modelEntry('resnet20').init);
  const names = trainableNames(graph);
  const opt = makeOptimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 });
  const N = 64;
  const x = new Tensor(randF32(N * 3 * 32 * 32, r), [N, 3, 32, 32]);
  const y = Int32Array.from({ length: N }, (_, i) => i % 10);
  // as train() runs a step: in a resident scope (wasm: activations stay in wasm memory)
  const step = (): void => residentScope(() => {
    const trainable: Record<string, InstanceType<typeof Tensor>> = {};
    for (const n of names) trainable[n] = params[n];
    const { grads } = valueAndGrad((p: Record<string, InstanceType<typeof Tensor>>) =>
      crossEntropy(forward(graph, { ...params, ...p }, x, { training: true }), y))(trainable);
    opt.step(params, grads, 0.01);
  });
  const steps: number[] = [];
  const nSteps = slow ? 1 : 5;
  if (!slow) step();
  for (let i = 0; i < nSteps; i++) {
    const t = performance.now();
    step();
    steps.push(performance.now() - t);
  }

  // smallcnn epoch (DEFAULT_TRAIN: batch 128, SGD momentum, cosine schedule) on the embedded data
  const data = loadDataset();
  const full = data.train;
  const batchSize = DEFAULT_TRAIN.batchSize;
  const total = Math.ceil(full.n / batchSize);
  const nb = stepOnly ? 0 : slow ? Math.min(total, 12) : total;
  const ds = nb === total ? full : {
    ...full,
    n: nb * batchSize,
    images: full.images.subarray(0, nb * batchSize * full.channels * full.height * full.width),
    labels: full.labels.subarray(0, nb * batchSize),
  };
  const sg = buildModel('smallcnn');
  const sp = initParams(sg, 0, modelEntry('smallcnn').init);
  const t0 = performance.now();
  if (nb > 0) train({ graph: sg, params: sp, train: ds, config: { ...DEFAULT_TRAIN, epochs: 1 } });
  const epochS = ((performance.now() - t0) / 1000) * (total / nb);

  return {
    backend, threads,
    gemm512: gemm[0], gemm1024: gemm[1], conv,
    resnetStepMs: median(steps), resnetStepBestMs: Math.min(...steps),
    smallcnnEpochS: epochS, smallcnnBatches: nb, smallcnnBatchesTotal: total,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

// ------------------------------------------------------------------------- PyTorch

const PYTHON = '/usr/bin/python3';

/** The same ResNet-20 (option-B shortcuts) training step in PyTorch; prints "median best" in ms. */
const TORCH_SCRIPT = `
import sys, time, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(int(sys.argv[1]))
class Block(nn.Module):
    def __init__(s, cin, planes, stride):
        super().__init__()
        s.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False); s.bn1 = nn.BatchNorm2d(planes)
        s.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False); s.bn2 = nn.BatchNorm2d(planes)
        s.down = None
        if stride != 1 or cin != planes:
            s.down = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
    def forward(s, x):
        y = F.relu(s.bn1(s.conv1(x))); y = s.bn2(s.conv2(y))
        return F.relu(y + (s.down(x) if s.down is not None else x))
class ResNet20(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False); s.bn1 = nn.BatchNorm2d(16)
        layers = []; cin = 16
        for i, p in enumerate([16, 32, 64]):
            for j in range(3):
                layers.append(Block(cin, p, 2 if (j == 0 and i > 0) else 1)); cin = p
        s.layers = nn.Sequential(*layers); s.fc = nn.Linear(64, 10)
    def forward(s, x):
        x = F.relu(s.bn1(s.conv1(x))); x = s.layers(x)
        return s.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
torch.manual_seed(0)
m = ResNet20(); m.train()
opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
x = torch.randn(64, 3, 32, 32); y = torch.arange(64) % 10
def step():
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(m(x), y).backward(); opt.step()
for _ in range(2): step()
ts = []
for _ in range(7):
    t = time.perf_counter(); step(); ts.append((time.perf_counter() - t) * 1000)
ts.sort()
print(ts[len(ts) // 2], ts[0])
`;

function torchVersion(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 600000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

function torchStep(threads: number): number | undefined {
  const r = spawnSync(PYTHON, ['-c', TORCH_SCRIPT, String(threads)], { encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0) {
    process.stderr.write(`perf: PyTorch step with ${threads} thread(s) failed: ${r.stderr.trim().split('\n').pop() ?? ''}\n`);
    return undefined;
  }
  const [med] = r.stdout.trim().split(/\s+/).map(Number);
  return Number.isFinite(med) ? med : undefined;
}

// ------------------------------------------------------------------------- parent side

function spawnConfig(backend: PerfBackend, threads: number, stepOnly = false): PerfRow | null {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [...process.execArgv, self, CHILD_FLAG, backend, String(threads)], {
    encoding: 'utf8',
    timeout: 600000,
    maxBuffer: 1 << 24,
    env: { ...process.env, METAPRUNE_BACKEND: backend, METAPRUNE_THREADS: String(threads), [STEP_ONLY_ENV]: stepOnly ? '1' : '0' },
  });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('PERF '));
  if (r.status !== 0 || line === undefined) {
    process.stderr.write(`perf: ${backend} x${threads} failed (status ${r.status}): ${(r.stderr ?? '').trim().slice(-2000)}\n`);
    return null;
  }
  return JSON.parse(line.slice(5)) as PerfRow;
}

const f1 = (v: number): string => v.toFixed(1);

export function formatPerf(rows: PerfRow[], header: string[]): string {
  const cols = [
    'backend', 'thr', 'gemm512', 'gemm1024',
    ...CONV_SHAPES.map(([l]) => `conv ${l} fwd/dX/dW`),
    'r20 step ms', 'torch ms', 'r20/torch', 'smallcnn epoch s', 'peak RSS MB',
  ];
  const table = rows.map((r) => [
    r.backend, r.backend === 'ts' ? '1*' : String(r.threads), f1(r.gemm512), f1(r.gemm1024),
    ...CONV_SHAPES.map(([l]) => r.conv[l].map(f1).join('/')),
    r.resnetStepMs.toFixed(0),
    r.torchStepMs === undefined ? 'n/a' : r.torchStepMs.toFixed(0),
    r.torchStepMs === undefined ? 'n/a' : (r.resnetStepMs / r.torchStepMs).toFixed(2),
    r.smallcnnEpochS.toFixed(2) + (r.smallcnnBatches < r.smallcnnBatchesTotal ? ' (est.)' : ''),
    r.peakRssMb.toFixed(0),
  ]);
  const widths = cols.map((c, i) => Math.max(c.length, ...table.map((t) => t[i].length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [
    ...header,
    fmt(cols),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...table.map(fmt),
    '',
    'GEMM / conv: GFLOP/s, best call; conv: 3x3, stride 1, pad 1, C = O, batch 64. r20 step: ResNet-20 training step,',
    'batch 64, SGD momentum, median of 5 after a warm-up (ts: one step). r20/torch: ours / PyTorch at the same thread count',
    '(lower is better, 1.00 = parity). smallcnn epoch: train() on the embedded 12k 14x14 images, batch 128.',
    '* the ts reference backend is single-threaded: its figures hold for any thread count; its epoch is extrapolated',
    `  from the first ${rows.find((r) => r.backend === 'ts')?.smallcnnBatches ?? 0} batches.`,
  ].join('\n');
}

/** Runs every configuration (child processes) and PyTorch, prints one table and returns the rows. */
export async function benchPerf(): Promise<PerfRow[]> {
  const t0 = performance.now();
  const load0 = loadavg()[0];
  const configs: [PerfBackend, number][] = [['ts', 1], ['wasm', 1], ['wasm', 2]];
  const { nativeAvailable, nativeInfo } = await import('../src/tensor/backends/native/index.js');
  if (nativeAvailable()) configs.push(['native', 1], ['native', 2]);
  else process.stderr.write('perf: native backend not built (npm run build:native); no native rows\n');
  const rows: PerfRow[] = [];
  for (const [backend, threads] of configs) {
    const row = spawnConfig(backend, threads);
    if (row) rows.push(row);
  }
  const tv = torchVersion();
  const torchNow = (): Map<number, number | undefined> => new Map([1, 2].map((t) => [t, torchStep(t)]));
  if (tv !== null) {
    const byThreads = torchNow();
    for (const r of rows) r.torchStepMs = byThreads.get(r.threads);
  }
  const rounds = repeatRounds(rows, tv !== null ? torchNow : null);
  const load1 = loadavg()[0];
  const header = [
    `metaprune perf: node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ` +
      `PyTorch ${tv ?? 'n/a'}; load average ${load0.toFixed(2)} -> ${load1.toFixed(2)}; ` +
      `${((performance.now() - t0) / 1000).toFixed(0)} s`,
    ...(nativeAvailable() ? [`native backend: convolutions on ${nativeInfo()?.dnnl ? 'oneDNN' : 'im2col + OpenBLAS'}, GEMM on OpenBLAS`] : []),
    '',
  ];
  console.log(formatPerf(rows, header));
  if (rounds.length > 1) console.log('\n' + formatRounds(rows, rounds));
  return rows;
}

/** METAPRUNE_BENCH_REPEAT (default 1): rounds of the ResNet-20 step comparison. */
function repeatCount(): number {
  const n = Number(process.env.METAPRUNE_BENCH_REPEAT ?? 1);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, 20) : 1;
}

/** One round: each non-ts configuration's step (median ms) and PyTorch's by thread count. */
interface Round {
  ours: Map<string, number>;
  torch: Map<number, number | undefined>;
}

const key = (r: { backend: string; threads: number }): string => `${r.backend} x${r.threads}`;

/**
 * Single runs vary by ±15 % on a shared machine, PyTorch's as much as ours: with
 * METAPRUNE_BENCH_REPEAT=N the step comparison runs N - 1 more rounds (every configuration but the
 * single-threaded reference, then PyTorch), alternating, so that each ratio gets a range.
 */
function repeatRounds(rows: PerfRow[], torchNow: (() => Map<number, number | undefined>) | null): Round[] {
  const first: Round = { ours: new Map(rows.map((r) => [key(r), r.resnetStepMs])), torch: new Map(rows.map((r) => [r.threads, r.torchStepMs])) };
  const rounds = [first];
  for (let i = 1; i < repeatCount(); i++) {
    const ours = new Map<string, number>();
    for (const r of rows.filter((x) => x.backend !== 'ts')) {
      const again = spawnConfig(r.backend, r.threads, true);
      if (again) ours.set(key(r), again.resnetStepMs);
    }
    rounds.push({ ours, torch: torchNow?.() ?? new Map() });
  }
  return rounds;
}

export function formatRounds(rows: PerfRow[], rounds: Round[]): string {
  const lines = [`ResNet-20 step over ${rounds.length} rounds (each: our configurations, then PyTorch): median [min-max]`];
  const span = (v: number[], d: number): string => {
    const s = [...v].sort((a, b) => a - b);
    return `${median(s).toFixed(d)} [${s[0]!.toFixed(d)}-${s[s.length - 1]!.toFixed(d)}]`;
  };
  for (const r of rows.filter((x) => x.backend !== 'ts')) {
    const ms = rounds.map((x) => x.ours.get(key(r))).filter((v): v is number => v !== undefined);
    const ratios = rounds.map((x) => {
      const o = x.ours.get(key(r)), t = x.torch.get(r.threads);
      return o !== undefined && t !== undefined ? o / t : undefined;
    }).filter((v): v is number => v !== undefined);
    lines.push(`  ${key(r).padEnd(10)} ${span(ms, 0).padEnd(16)} ms` + (ratios.length > 0 ? `   vs PyTorch ${span(ratios, 2)}` : ''));
  }
  for (const t of [1, 2]) {
    const ms = rounds.map((x) => x.torch.get(t)).filter((v): v is number => v !== undefined);
    if (ms.length > 0) lines.push(`  ${`torch x${t}`.padEnd(10)} ${span(ms, 0).padEnd(16)} ms`);
  }
  return lines.join('\n');
}

const childIdx = process.argv.indexOf(CHILD_FLAG);
if (childIdx >= 0) {
  const backend = process.argv[childIdx + 1] as PerfBackend;
  const threads = Number(process.argv[childIdx + 2]);
  const row = await runChild(backend, threads);
  process.stdout.write(`PERF ${JSON.stringify(row)}\n`);
  process.exit(0);
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchPerf();
}
