/**
 * `metaprune prune-onnx` and `metaprune inspect-onnx`: structured pruning of ONNX models and a
 * layer/group/MACs/params summary of them. With onnxruntime-node installed, prune-onnx also reports
 * measured latency before/after next to the MACs speed-up.
 */
import { DataError } from '../../data/errors.js';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { describeError } from '../errors.js';
import { speedupWarning } from '../common.js';
import type { Command, CliContext } from '../command.js';
import { CONFIG_RULES } from '../config-rules.js';
import { UsageError, flagBoolean, flagList, flagNumber, flagString } from '../args.js';
import { countOps, formatCount, layerWidths } from '../../ir/count.js';
import { buildPruneReport } from '../../report/prune-report.js';
import { getBackend } from '../../tensor/registry.js';
import type { ModelGraph, Params } from '../../ir/graph.js';
import { cloneParams } from '../../ir/init.js';
import { buildDependencyGraph, prunableGroups, pruneToSpeedup, importanceByName, IMPORTANCE_NAMES, pruningPlan, defaultIgnoredLayers } from '../../prune/index.js';
import { loadOnnx, exportOnnx, exportOptionsFrom, ONNX_OPSET_RANGE, type ImportedOnnx } from '../../io/onnx/index.js';
import { writeFileAtomic, writeJsonAtomic } from '../../io/atomic.js';
import { loadOnnxRuntime, compareOnnxLatencies, onnxRuntimeUnavailableReason, onnxRuntimeVersion } from '../../io/onnx/runtime.js';
import { loadDataset } from '../../data/index.js';
import { parseDataSpec, finetune } from '../../train/run.js';
import { evaluate } from '../../train/evaluate.js';


const shapeStr = (s: readonly (number | string)[]) => `[${s.join(', ')}]`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function modelArg(args: { named: Readonly<Record<string, string | string[] | undefined>> }): string {
  const m = args.named['model'];
  if (typeof m !== 'string' || m === '') throw new UsageError('missing model.onnx');
  return m;
}

function describe(path: string, m: ImportedOnnx): string {
  const i = m.info;
  return `${path}: graph '${i.graphName}'${i.producer !== '' ? ` from ${i.producer}` : ''}, IR version ${i.irVersion}, opset ${i.opset}; ` +
    `input '${i.inputName}' ${shapeStr(i.inputShape)}`;
}

export interface OnnxLatencyComparison {
  runtime: string;
  runs: number;
  rows: { batch: number; beforeMs: number; afterMs: number; speedup: number }[];
}

/**
 * Median onnxruntime latency of two models at each batch size (runs interleaved); null when
 * onnxruntime-node is unavailable. `threads` sets intra-op threads (default: onnxruntime's).
 */
export async function compareOnnxLatency(
  before: Uint8Array, after: Uint8Array, inputShape: readonly number[], batches: readonly number[], runs: number, threads?: number,
): Promise<OnnxLatencyComparison | null> {
  const ort = await loadOnnxRuntime();
  if (ort === null) return null;
  const rows: OnnxLatencyComparison['rows'] = [];
  const session = threads !== undefined ? { intraOpNumThreads: threads } : {};
  for (const batch of batches) {
    const [b, a] = await compareOnnxLatencies(ort, [before, after], inputShape, { batch, runs, session });
    rows.push({ batch, beforeMs: b.medianMs, afterMs: a.medianMs, speedup: b.medianMs / a.medianMs });
  }
  return { runtime: onnxRuntimeVersion(ort), runs, rows };
}

/** Whether two paths name the same file (following symlinks; false when `b` does not exist yet). */
function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    const sa = statSync(a), sb = statSync(b);
    return sa.ino === sb.ino && sa.dev === sb.dev;
  } catch {
    return false;
  }
}

/** The output must be a file path in an existing directory (checked before any work). */
function checkOutputPath(out: string): void {
  if (out === '') throw new UsageError('--out: expected a file path, got an empty string');
  if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`--out ${out}: is a directory; expected a .onnx file path`);
  const dir = dirname(out);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--out ${out}: directory ${dir} does not exist; expected a path in an existing directory`);
}

function parseBatch(v: string | undefined): number | string {
  if (v === undefined || v === '') return 'N';
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 1) throw new UsageError(`--batch ${v}: a positive size or a symbolic name (e.g. N)`);
    return n;
  }
  if (!/^[A-Za-z_][\w]*$/.test(v)) throw new UsageError(`--batch '${v}': a positive size or a symbolic name (e.g. N)`);
  return v;
}

export const onnxPruneCommand: Command = {
  name: 'prune-onnx',
  spec: {
    description: 'Prune an ONNX model to a MACs speed-up and write the pruned .onnx (latency via onnxruntime-node when installed).',
    positionals: [{ name: 'model', description: 'the .onnx model' }],
    overrides: false,
    flags: {
      speedup: { type: 'number', default: 2, description: 'target MACs speed-up', check: CONFIG_RULES.speedup },
      out: { type: 'string', short: 'o', valueName: 'FILE', description: 'pruned model path (default: <model>-pruned.onnx)' },
      importance: { type: 'string', default: 'l2', description: `channel importance: ${IMPORTANCE_NAMES.join(' | ')}`, check: CONFIG_RULES.importance },
      'iterative-steps': { type: 'number', default: 200, description: 'steps of the progressive schedule', check: CONFIG_RULES.iterativeSteps },
      'round-to': { type: 'number', default: 1, description: 'keep channel counts multiples of this', check: CONFIG_RULES.roundTo },
      data: { type: 'string', valueName: 'SPEC', description: 'dataset to measure accuracy before/after (fashion-mnist-14, idx:DIR, cifar10:DIR, cifar100:DIR)' },
      'finetune-epochs': { type: 'number', default: 0, description: 'finetune epochs after pruning (needs --data)', check: CONFIG_RULES.finetuneEpochs },
      lr: { type: 'number', default: 0.01, description: 'finetune learning rate', check: CONFIG_RULES.lr },
      opset: { type: 'number', description: `opset of the written model (default: the input's, within ${ONNX_OPSET_RANGE[0]}–${ONNX_OPSET_RANGE[1]})`, check: { integer: true, min: ONNX_OPSET_RANGE[0], max: ONNX_OPSET_RANGE[1] } },
      batch: { type: 'string', description: "batch dimension of the written model: a symbolic name or a size (default N)" },
      runs: { type: 'number', default: 20, description: 'timed onnxruntime runs per latency figure (median reported)', check: { integer: true, min: 1, max: 10_000 } },
      'latency-batch': { type: 'number', multiple: true, description: 'batch sizes for latency (default 1 and 32)', check: { integer: true, min: 1, max: 1024 } },
      'no-latency': { type: 'boolean', description: 'skip the onnxruntime latency measurement' },
      threads: { type: 'number', description: "onnxruntime intra-op threads for latency (default: onnxruntime's choice)", check: { integer: true, min: 1, max: 256 } },
      seed: { type: 'number', default: 0, description: 'seed (random importance, finetuning)', check: CONFIG_RULES.seed },
      force: { type: 'boolean', description: 'allow --out to overwrite the input model' },
      'allow-nonfinite': { type: 'boolean', description: 'accept NaN/Infinity weights in the model' },
      'ignored-layers': { type: 'string', valueName: 'A,B', description: 'layers whose output channels are never pruned (besides the classifier)' },
      'layer-ratio': { type: 'string', multiple: true, valueName: 'NAME=R', description: "prune this layer's group by fraction R, outside the global ranking (repeatable)" },
      plan: { type: 'string', valueName: 'FILE', description: 'write the kept channel indices of every pruned parameter (docs/pytorch-plan.md applies them in PyTorch)' },
    },
    epilog: 'Examples:\n  metaprune prune-onnx model.onnx --speedup 2 --out model-pruned.onnx\n' +
      '  metaprune prune-onnx mobilenet_v3.onnx --speedup 1.5 --round-to 8 --ignored-layers features.1.block.0.0 --layer-ratio features.12.block.0.0=0.3 --plan plan.json\n' +
      '  metaprune prune-onnx resnet.onnx --speedup 3 --data cifar10:data/cifar10 --finetune-epochs 2\n' +
      '\nWithout --data, channels are ranked by weight magnitude only and accuracy is neither measured nor recovered.',
  },
  async run(args, ctx: CliContext) {
    const path = modelArg(args);
    const speedup = flagNumber(args, 'speedup') ?? 2;
    const out = flagString(args, 'out') ?? join(dirname(path), `${basename(path, extname(path))}-pruned.onnx`);
    if (out === '') throw new UsageError("--out '': expected a file path");
    if (!flagBoolean(args, 'force') && sameFile(path, out)) throw new UsageError(`--out ${out} is the input model; choose another path or add --force to overwrite it`);
    const seed = flagNumber(args, 'seed') ?? 0;
    const importanceName = flagString(args, 'importance') ?? 'l2';
    const importance = importanceByName(importanceName, seed);
    const batchFlag = flagString(args, 'batch');
    const runs = flagNumber(args, 'runs') ?? 20;
    const latencyBatches = flagList(args, 'latency-batch').map(Number);
    const batches = latencyBatches.length > 0 ? latencyBatches : [1, 32];
    const dataSpec = flagString(args, 'data');
    const epochs = flagNumber(args, 'finetune-epochs') ?? 0;
    if (epochs > 0 && dataSpec === undefined) throw new UsageError('--finetune-epochs needs --data');
    const say = (s: string) => { if (!ctx.json) ctx.out(s); };
    // Every flag is checked before any work, so nothing is written for a run that cannot finish.
    const spec = dataSpec !== undefined ? parseDataSpec(dataSpec) : undefined;
    checkOutputPath(out);

    const m = loadOnnx(path, { allowNonFinite: flagBoolean(args, 'allow-nonfinite') });
    const keep = exportOptionsFrom(m.info); // names, batch, producer, doc strings and metadata as in the input
    const opset = flagNumber(args, 'opset') ?? keep.opset!;
    const batch = batchFlag === undefined ? keep.batch! : parseBatch(batchFlag);
    const ignoredLayers = [...defaultIgnoredLayers(m.graph), ...(flagString(args, 'ignored-layers') ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '')];
    const layerRatios: Record<string, number> = {};
    for (const spec of flagList(args, 'layer-ratio')) {
      const eq = spec.lastIndexOf('=');
      const r = Number(spec.slice(eq + 1));
      if (eq <= 0 || spec.slice(eq + 1).trim() === '' || !(r >= 0 && r < 1)) throw new UsageError(`--layer-ratio '${spec}': expected NAME=R with R in [0, 1)`);
      layerRatios[spec.slice(0, eq)] = r;
    }
    say(describe(path, m));
    const data = spec !== undefined ? loadDataset(spec) : undefined;
    if (data === undefined) {
      const how = importanceName === 'random' ? 'random channel ranking' : importanceName === 'bn-scale' ? 'BN scale magnitude' : `weight magnitude (${importanceName} norm)`;
      say(`no --data given: pruning by ${how} only; accuracy is not measured, finetune the pruned model to recover it`);
    }
    const inShape = (m.graph.nodes[0].op === 'input' ? m.graph.nodes[0].shape : []);
    if (data !== undefined) {
      const ds = [data.test.channels, data.test.height, data.test.width];
      if (ds.join(',') !== inShape.join(',')) throw new DataError(`--data ${dataSpec}: images are ${shapeStr(ds)}, the model takes ${shapeStr(inShape)}`);
    }
    const accBefore = data !== undefined ? evaluate(m.graph, m.params, data.test).acc : undefined;
    const base = countOps(m.graph);
    const r = pruneToSpeedup(m.graph, cloneParams(m.params), {
      speedup, importance, iterativeSteps: flagNumber(args, 'iterative-steps') ?? 200, roundTo: flagNumber(args, 'round-to') ?? 1, ignoredLayers, layerRatios,
    });
    const planPath = flagString(args, 'plan');
    if (planPath !== undefined) writeJsonAtomic(planPath, pruningPlan(m.graph, m.params, r.history));
    const after = countOps(r.graph);
    let params: Params = r.params;
    let accAfter: number | undefined, accFinetuned: number | undefined;
    if (data !== undefined) {
      accAfter = evaluate(r.graph, params, data.test).acc;
      if (epochs > 0) {
        params = finetune(r.graph, params, data.train, { epochs, lr: flagNumber(args, 'lr') ?? 0.01, seed });
        accFinetuned = evaluate(r.graph, params, data.test).acc;
      }
    }
    const bytes = exportOnnx(r.graph, params, { ...keep, opset, batch });
    writeFileAtomic(out, bytes);

    say(`MACs: ${formatCount(base.macs)} => ${formatCount(after.macs)} (${ratio(base.macs, after.macs)}, target ${speedup}x)`);
    const off = speedupWarning(speedup, base.macs / after.macs);
    if (off !== undefined) ctx.err(`metaprune: warning: ${off}`);
    say(`Params: ${formatCount(base.params)} => ${formatCount(after.params)} (${((100 * after.params) / base.params).toFixed(2)}%)`);
    const pct = (a: number) => `${(100 * a).toFixed(2)}%`;
    if (accBefore !== undefined && accAfter !== undefined) {
      say(`accuracy: ${pct(accBefore)} before, ${pct(accAfter)} after pruning${accFinetuned !== undefined ? `, ${pct(accFinetuned)} after ${epochs} finetune epoch(s)` : ''}`);
    }
    let latency: OnnxLatencyComparison | null = null;
    let latencyNote: string | undefined;
    if (flagBoolean(args, 'no-latency')) {
      latencyNote = 'skipped (--no-latency)';
    } else {
      // Both models written by the same exporter (same ops, dynamic batch) so only the pruning differs.
      const baseBytes = exportOnnx(m.graph, m.params, { opset, batch: 'N' });
      const prunedBytes = typeof batch === 'number' ? exportOnnx(r.graph, params, { opset, batch: 'N' }) : bytes;
      // Latency is an optional extra: its failure must not turn the written model into a failed run.
      try {
        latency = await compareOnnxLatency(baseBytes, prunedBytes, inShape, batches, runs, flagNumber(args, 'threads'));
      } catch (e) {
        latencyNote = `not measured: onnxruntime failed (${describeError(e).message})`;
        ctx.err(`metaprune: warning: latency ${latencyNote}`);
      }
      if (latency === null && latencyNote === undefined) latencyNote = `not measured: ${onnxRuntimeUnavailableReason() ?? 'onnxruntime-node is not installed'}`;
    }
    if (latency !== null) {
      const rows = latency.rows.map((x) => `batch ${x.batch}: ${ms(x.beforeMs)} ms => ${ms(x.afterMs)} ms (${x.speedup.toFixed(2)}x)`);
      say(`latency (onnxruntime ${latency.runtime}, median of ${runs} runs): ${rows.join('; ')}; MACs speed-up ${ratio(base.macs, after.macs)}`);
      const roundTo = flagNumber(args, 'round-to') ?? 1;
      if (roundTo % 8 !== 0 && latency.rows.some((x) => x.speedup < (0.8 * base.macs) / after.macs)) {
        say('hint: channel counts that are not multiples of 8 keep onnxruntime off its fastest conv kernels; try --round-to 8 (or 16)');
      }
    } else {
      say(`latency: ${latencyNote}`);
    }
    const report = buildPruneReport({
      model: path, out, macsBefore: base.macs, macsAfter: after.macs, paramsBefore: base.params, paramsAfter: after.params,
      layers: layerWidths(m.graph, r.graph), latency, latencyNote, accBefore, accAfter, accFinetuned,
      config: { importance: importance.name, speedup, seed, opset, data: dataSpec ?? null, finetuneEpochs: epochs, runs, latencyBatches: batches },
    }, getBackend());
    say(`report ${report}`);
    say(`wrote ${out}${planPath !== undefined ? ` and the pruning plan ${planPath}` : ''}`);
    if (ctx.json) {
      ctx.out(JSON.stringify({
        model: path, out, target: speedup, macsBefore: base.macs, macsAfter: after.macs, speedup: base.macs / after.macs, paramsBefore: base.params, paramsAfter: after.params,
        importance: importance.name, data: dataSpec ?? null, accBefore, accAfter, accFinetuned, steps: r.steps, latency, latencyNote,
      }));
    }
  },
};

interface LayerRow { name: string; op: string; shape: number[]; groups?: number; macs: number; params: number }

function layerRows(g: ModelGraph): LayerRow[] {
  const c = countOps(g);
  const byName = new Map(g.nodes.map((n) => [n.name, n]));
  return c.layers.map((l) => {
    const n = byName.get(l.name)!;
    return { name: l.name, op: l.op, shape: l.outShape, ...(n.op === 'conv2d' ? { groups: n.groups } : {}), macs: l.macs, params: l.params };
  });
}

export const onnxInspectCommand: Command = {
  name: 'inspect-onnx',
  spec: {
    description: 'Show the layers (with conv groups), pruning groups, MACs and parameters of an ONNX model.',
    positionals: [{ name: 'model', description: 'the .onnx model' }],
    overrides: false,
    flags: {
      'no-groups': { type: 'boolean', description: 'do not list the pruning groups' },
    },
    epilog: 'Examples:\n  metaprune inspect-onnx model.onnx\n  metaprune --json inspect-onnx model.onnx',
  },
  run(args, ctx) {
    const path = modelArg(args);
    const m = loadOnnx(path);
    const g = m.graph;
    const c = countOps(g);
    const rows = layerRows(g);
    const dg = buildDependencyGraph(g);
    const groups = prunableGroups(dg).map((gr) => ({ root: gr.root, channels: gr.size, layers: [...new Set(gr.slices.map((s) => s.node))] }));
    const outShape = dg.shapes.get(g.output)!;
    if (ctx.json) {
      ctx.out(JSON.stringify({ file: path, info: m.info, macs: c.macs, params: c.params, nodes: g.nodes.length, outputShape: outShape, layers: rows, groups }));
      return;
    }
    const i = m.info;
    ctx.out(describe(path, m) + ` → output '${i.outputName}' ${shapeStr([i.inputShape[0], ...outShape])}`);
    ctx.out(`ONNX ops: ${Object.entries(i.opCounts).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}×${v}`).join(', ')}`);
    if (i.folded.length > 0) ctx.out(`folded into parameters: ${i.folded.join(', ')}`);
    if (i.unused.length > 0) ctx.out(`unused (not reaching the output): ${i.unused.join(', ')}`);
    ctx.out(`${g.name}: ${formatCount(c.macs)} MACs, ${formatCount(c.params)} params, ${g.nodes.length} IR nodes, ${groups.length} pruning groups`);
    ctx.out(`  ${'layer'.padEnd(32)} ${'op'.padEnd(10)} ${'output'.padEnd(14)} ${'groups'.padStart(6)} ${'MACs'.padStart(12)} ${'params'.padStart(10)}`);
    for (const l of rows) {
      ctx.out(`  ${l.name.padEnd(32)} ${l.op.padEnd(10)} ${l.shape.join('×').padEnd(14)} ${(l.groups !== undefined ? String(l.groups) : '').padStart(6)} ${formatCount(l.macs).padStart(12)} ${String(l.params).padStart(10)}`);
    }
    if (!flagBoolean(args, 'no-groups')) {
      ctx.out(`pruning groups (coupled channels; the classifier is kept):`);
      for (const gr of groups) ctx.out(`  ${gr.root.padEnd(32)} ${String(gr.channels).padStart(5)} channels  ${gr.layers.length} layers: ${gr.layers.join(', ')}`);
    }
  },
};
