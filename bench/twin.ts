/**
 * Metanetwork vs its PyTorch twin (tools/metanet_twin.py, run by /usr/bin/python3 with torch): for
 * smallcnn, ResNet-20 and ResNet-56 graphs, the metanetwork (L = 4, H = 32) forward on the tape,
 * forward + one VJP into φ, and the whole meta-step of metatrain.ts (θ' = M_φ(θ), Σ CE over
 * 4 × 256 images with BN in eval mode, ∇R, one VJP), ours vs PyTorch at the same thread count, each
 * configuration in a process of its own (peak RSS per configuration). Rounds interleave ours and
 * PyTorch; ratios are reported as median [min–max] over rounds. METAPRUNE_BENCH_REPEAT=N sets the
 * rounds (default 2), METAPRUNE_TWIN_MODELS a comma list of models, METAPRUNE_TWIN_THREADS of thread
 * counts (default 1,2).
 *
 * Run directly: `node dist/bench/twin.js` (prints the table); `benchTwin()` returns text and rows.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './util.js';

const PYTHON = '/usr/bin/python3';
const TWIN = fileURLToPath(new URL('../../tools/metanet_twin.py', import.meta.url));
const CHILD_FLAG = '--twin-child';
const CASE_DIR = join(process.cwd(), '.tmp', 'twin');

export interface TwinTiming {
  /** Metanetwork forward on the tape, ms (median of the timed reps). */
  forwardMs: number;
  /** Forward + one VJP into φ, ms. */
  forwardBackwardMs: number;
  /** The whole meta-step, ms. */
  metaStepMs: number;
  peakRssMB: number;
}

export interface TwinRow {
  model: string;
  nodes: number;
  edges: number;
  backend: string;
  threads: number;
  /** One entry per round. */
  ours: TwinTiming[];
  /** null where PyTorch failed in that round. */
  torch: (TwinTiming | null)[];
}

const IMAGES = 256;
const BATCHES = 4;

function models(): string[] {
  const env = process.env.METAPRUNE_TWIN_MODELS;
  return env ? env.split(',').map((s) => s.trim()).filter(Boolean) : ['smallcnn', 'resnet20', 'resnet56'];
}

function threadCounts(): number[] {
  const env = process.env.METAPRUNE_TWIN_THREADS;
  const t = env ? env.split(',').map(Number).filter((n) => Number.isInteger(n) && n >= 1) : [];
  return t.length > 0 ? t : [1, 2];
}

function rounds(): number {
  const n = Number(process.env.METAPRUNE_BENCH_REPEAT ?? 2);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, 20) : 2;
}

/** Repetitions timed per process: fewer on the big graphs (each meta-step takes seconds there). */
const repsFor = (model: string): number => (model === 'resnet56' ? 2 : 3);

// ------------------------------------------------------------------------- child side

async function runChild(model: string, casePath: string, reps: number): Promise<TwinTiming & { nodes: number; edges: number }> {
  await import('../src/tensor/backends/index.js');
  const { buildModel, modelEntry } = await import('../src/models/index.js');
  const { initParams } = await import('../src/ir/init.js');
  const { toGraph } = await import('../src/graph/convert.js');
  const { backward } = await import('../src/tensor/autograd.js');
  const { Metanet } = await import('../src/meta/metanet.js');
  const { metaGradient } = await import('../src/meta/metatrain.js');
  const { getGroups } = await import('../src/prune/index.js');
  const { Rng } = await import('../src/tensor/random.js');
  const { exportTwinCase } = await import('./twin-export.js');
  const g = buildModel(model);
  const theta = initParams(g, 1, modelEntry(model).init);
  const metanet = new Metanet({ layers: 4, hidden: 32, eps: 0.03, seed: 0 });
  const neural = toGraph(g, theta);
  const writeCase = process.env.METAPRUNE_TWIN_WRITE === '1';
  const c = writeCase ? exportTwinCase(casePath, metanet, g, theta, metanet.apply(g, theta)) : null;
  const leaves = () => Object.fromEntries(Object.entries(metanet.params).map(([k, t]) => {
    const l = t.detach();
    l.requiresGrad = true;
    return [k, l];
  }));
  const rng = new Rng(7);
  const cotN = c?.cotNode.data ?? Float32Array.from({ length: neural.numNodes * 9 }, () => rng.normal());
  const cotE = c?.cotEdge.data ?? Float32Array.from({ length: neural.numEdges * 9 }, () => rng.normal());
  const inShape = g.nodes[0].op === 'input' ? g.nodes[0].shape : [];
  const per = inShape.reduce((p, d) => p * d, 1);
  const n = IMAGES * BATCHES;
  const images = new Float32Array(n * per);
  for (let i = 0; i < images.length; i++) images[i] = rng.normal();
  const data = {
    name: 'random', images, labels: Int32Array.from({ length: n }, () => rng.int(10)), n,
    channels: inShape[0], height: inShape[1], width: inShape[2], numClasses: 10,
  };
  const dm = { entry: { index: 0, seed: 0, split: 'train' as const, path: '', acc: 0, trainedAcc: 0, speedup: 1, macs: 0, seconds: 0 }, graph: g, params: theta };
  const groups = getGroups(g);
  const fwd = () => metanet.transform(neural, leaves());
  const fwdBwd = () => {
    const phi = leaves();
    const out = metanet.transform(neural, phi);
    backward([out.nodeFeatures, out.edgeFeatures], [cotN, cotE], Object.values(phi));
  };
  const step = () => metaGradient(metanet, dm, data, { batches: BATCHES, batchSize: IMAGES, seed: 0, epoch: 0, alpha: 16, reg: 1, groups });
  const time = (fn: () => unknown): number => {
    const ts: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      fn();
      ts.push(performance.now() - t0);
    }
    return median(ts);
  };
  fwdBwd(); // warm-up (plans, kernels)
  step();
  const forwardMs = time(fwd);
  const forwardBackwardMs = time(fwdBwd);
  const metaStepMs = time(step);
  return { forwardMs, forwardBackwardMs, metaStepMs, peakRssMB: process.resourceUsage().maxRSS / 1024, nodes: neural.numNodes, edges: neural.numEdges };
}

// ------------------------------------------------------------------------- parent side

export function torchAvailable(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 600000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

function ours(model: string, backend: string, threads: number, writeCase: boolean): (TwinTiming & { nodes: number; edges: number }) | null {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [self, CHILD_FLAG, model, join(CASE_DIR, model), String(repsFor(model))], {
    encoding: 'utf8', timeout: 900000, maxBuffer: 1 << 24,
    env: { ...process.env, METAPRUNE_BACKEND: backend, METAPRUNE_THREADS: String(threads), METAPRUNE_TWIN_WRITE: writeCase ? '1' : '0' },
  });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('TWIN '));
  if (r.status !== 0 || line === undefined) {
    process.stderr.write(`twin: ours ${model} ${backend} x${threads} failed (status ${r.status}): ${(r.stderr ?? '').trim().slice(-1500)}\n`);
    return null;
  }
  return JSON.parse(line.slice(5));
}

function torch(model: string, threads: number): TwinTiming | null {
  const r = spawnSync(PYTHON, [TWIN, 'bench', join(CASE_DIR, model), String(threads), String(repsFor(model)), String(IMAGES), String(BATCHES)], {
    encoding: 'utf8', timeout: 900000,
  });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('TWIN '));
  if (r.status !== 0 || line === undefined) {
    process.stderr.write(`twin: PyTorch ${model} x${threads} failed (status ${r.status}): ${(r.stderr ?? '').trim().slice(-1500)}\n`);
    return null;
  }
  return JSON.parse(line.slice(5));
}

const span = (v: number[], d: number): string => {
  if (v.length === 0) return 'n/a';
  const s = [...v].sort((a, b) => a - b);
  return s.length === 1 ? s[0].toFixed(d) : `${median(s).toFixed(d)} [${s[0].toFixed(d)}–${s[s.length - 1].toFixed(d)}]`;
};

export function formatTwin(rows: TwinRow[]): string {
  const head = ['model', 'nodes', 'edges', 'backend', 'thr', 'M fwd ms', 'torch', 'M fwd+bwd ms', 'torch', 'ratio', 'meta-step ms', 'torch', 'ratio', 'RSS MB', 'torch'];
  const body = rows.map((r) => {
    const pair = (k: keyof TwinTiming): number[] => r.ours.flatMap((o, i) => {
      const p = r.torch[i];
      return p ? [o[k] / p[k]] : [];
    });
    const col = (xs: (TwinTiming | null)[], k: keyof TwinTiming): string => span(xs.flatMap((x) => (x ? [x[k]] : [])), 0);
    return [
      r.model, String(r.nodes), String(r.edges), r.backend, String(r.threads),
      col(r.ours, 'forwardMs'), col(r.torch, 'forwardMs'),
      col(r.ours, 'forwardBackwardMs'), col(r.torch, 'forwardBackwardMs'), span(pair('forwardBackwardMs'), 2),
      col(r.ours, 'metaStepMs'), col(r.torch, 'metaStepMs'), span(pair('metaStepMs'), 2),
      span(r.ours.map((x) => x.peakRssMB), 0), span(r.torch.flatMap((x) => (x ? [x.peakRssMB] : [])), 0),
    ];
  });
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const fmt = (c: string[]): string => c.map((s, i) => (i === 0 || i === 3 ? s.padEnd(w[i]) : s.padStart(w[i]))).join('  ');
  return [fmt(head), w.map((n) => '-'.repeat(n)).join('  '), ...body.map(fmt)].join('\n');
}

/** Runs every (model, backend, threads) for the configured rounds, interleaving ours and PyTorch. */
export async function benchTwin(): Promise<{ text: string; rows: TwinRow[] }> {
  const tv = torchAvailable();
  if (tv === null) throw new Error(`${PYTHON} cannot import torch: no PyTorch twin`);
  const { nativeAvailable } = await import('../src/tensor/backends/native/index.js');
  const backends = ['wasm', ...(nativeAvailable() ? ['native'] : [])];
  mkdirSync(CASE_DIR, { recursive: true });
  const t0 = performance.now();
  const load0 = loadavg()[0];
  const rows: TwinRow[] = [];
  const byKey = new Map<string, TwinRow>();
  const R = rounds();
  for (const model of models()) {
    for (let round = 0; round < R; round++) {
      for (const threads of threadCounts()) {
        const t = torch.bind(null, model, threads);
        for (const backend of backends) {
          const o = ours(model, backend, threads, round === 0 && threads === 1 && backend === backends[0]);
          const p = t();
          if (o === null) continue;
          const key = `${model}/${backend}/${threads}`;
          let row = byKey.get(key);
          if (row === undefined) {
            row = { model, nodes: o.nodes, edges: o.edges, backend, threads, ours: [], torch: [] };
            byKey.set(key, row);
            rows.push(row);
          }
          row.ours.push(o);
          row.torch.push(p);
          // progress on stderr: a long run interrupted still leaves its figures
          process.stderr.write(`twin: ${key} round ${round + 1}: ours ${JSON.stringify(o)} torch ${JSON.stringify(p)}\n`);
        }
      }
    }
  }
  const head = `metanetwork L=4 H=32 vs PyTorch ${tv} twin; node ${process.version}, ${cpus().length} CPUs; ` +
    `${R} round(s), each: ours then PyTorch per configuration; load average ${load0.toFixed(2)} -> ${loadavg()[0].toFixed(2)}; ` +
    `${((performance.now() - t0) / 1000).toFixed(0)} s`;
  const notes = [
    'Times: median of the reps in one process (3; 2 on resnet56); cells: median [min–max] over rounds. ratio = ours / PyTorch',
    `(lower is better). meta-step: θ' = M_φ(θ), Σ CE over ${BATCHES}×${IMAGES} images (BN eval), ∇R, one VJP. RSS: peak of the process.`,
  ];
  return { text: [head, '', formatTwin(rows), '', ...notes].join('\n'), rows };
}

const childIdx = process.argv.indexOf(CHILD_FLAG);
if (childIdx >= 0) {
  const [model, casePath, reps] = process.argv.slice(childIdx + 1);
  const r = await runChild(model, casePath, Number(reps));
  process.stdout.write(`TWIN ${JSON.stringify(r)}\n`);
  process.exit(0);
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log((await benchTwin()).text);
}
