/**
 * `npm run bench`: every benchmark in one run, so ratios compare figures measured on the same
 * machine at the same time. Each section is its own module (runnable alone); a section whose
 * module or optional dependency is missing prints why and the others still run. Only tables are
 * printed; the raw figures of every section go to bench-results.json.
 */
import '../src/tensor/backends/index.js';
import { writeJsonAtomic } from '../src/io/atomic.js';

/** Raw figures of the last run (gitignored); the console gets tables only. */
const RESULTS = 'bench-results.json';

/** Imports an optional section module by name (computed specifier: it may not exist yet). */
async function load<T>(name: string): Promise<T> {
  return (await import(new URL(`./${name}.js`, import.meta.url).href)) as T;
}

/** A section's printed table and its raw figures (collected into bench-results.json). */
interface SectionResult {
  text: string;
  raw: unknown;
}

interface Section {
  title: string;
  run(): Promise<SectionResult>;
}

const sections: Section[] = [
  {
    title: 'Kernels (1 thread): GEMM and ResNet-20 convolutions',
    run: async () => {
      const m = await import('./kernels.js');
      const rows = await m.benchKernels();
      return { text: m.formatRows(rows), raw: rows };
    },
  },
  {
    title: 'Training steps: backends × threads, ResNet-20 step, smallcnn epoch, PyTorch ratio, peak RSS',
    run: async () => {
      // benchPerf prints its own tables (they appear as its child processes finish)
      const m = await load<{ benchPerf(): Promise<unknown> }>('perf');
      return { text: '', raw: await m.benchPerf() };
    },
  },
  {
    title: 'Pruning: dependency graph build, 200-step progressive prune',
    run: async () => {
      const m = await import('./prune.js');
      const b = await m.benchPrune();
      return { text: m.formatPruneBench(b), raw: b };
    },
  },
  {
    title: 'Metanetwork: forward + backward to the generated network\'s CE gradient',
    run: async () => {
      const m = await import('./gnn.js');
      const rows = await m.benchGnn();
      return { text: m.formatGnn(rows), raw: rows };
    },
  },
  {
    title: 'Metanetwork vs PyTorch twin: forward, forward + VJP, meta-step, peak RSS (smallcnn, ResNet-20, ResNet-56)',
    run: async () => {
      const m = await load<{ benchTwin(): Promise<{ text: string; rows: unknown }> }>('twin');
      const r = await m.benchTwin();
      return { text: r.text, raw: r.rows };
    },
  },
  {
    title: 'ONNX: import/export time, onnxruntime latency vs MACs speed-up',
    run: async () => {
      const m = await import('./onnx.js');
      const b = await m.benchOnnxFigures();
      return { text: m.formatOnnxBench(b), raw: b };
    },
  },
];

const only = process.argv.slice(2);
const results: Record<string, unknown> = {};
for (const s of sections) {
  if (only.length > 0 && !only.some((o) => s.title.toLowerCase().includes(o.toLowerCase()))) continue;
  console.log(`\n## ${s.title}\n`);
  const t0 = performance.now();
  try {
    const out = await s.run();
    if (out.text) console.log(out.text);
    results[s.title] = out.raw;
  } catch (e) {
    console.log(`(skipped: ${(e as Error).message.split('\n')[0]})`);
    results[s.title] = { skipped: (e as Error).message };
  }
  console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
writeJsonAtomic(RESULTS, { date: new Date().toISOString(), node: process.version, sections: results });
console.log(`\nraw figures: ${RESULTS}`);
