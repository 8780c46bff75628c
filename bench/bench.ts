/**
 * `npm run bench`: every benchmark in one run, so ratios compare figures measured on the same
 * machine at the same time. Each section is its own module (runnable alone); a section whose
 * module or optional dependency is missing prints why and the others still run.
 */
import '../src/tensor/backends/index.js';

/** Imports an optional section module by name (computed specifier: it may not exist yet). */
async function load<T>(name: string): Promise<T> {
  return (await import(new URL(`./${name}.js`, import.meta.url).href)) as T;
}

interface Section {
  title: string;
  run(): Promise<string>;
}

const sections: Section[] = [
  {
    title: 'Kernels (single thread): GEMM and ResNet-20 convolutions',
    run: async () => {
      const m = await import('./kernels.js');
      return m.formatRows(await m.benchKernels());
    },
  },
  {
    title: 'Training steps: backends × threads, ResNet-20 step, smallcnn epoch, PyTorch ratio, peak RSS',
    run: async () => {
      const m = await load<{ benchPerf(): Promise<string | void> }>('perf');
      return (await m.benchPerf()) ?? '';
    },
  },
  {
    title: 'Pruning: dependency graph build, 200-step progressive prune',
    run: async () => {
      const m = await import('./prune.js');
      return m.formatPruneBench(await m.benchPrune());
    },
  },
  {
    title: 'Metanetwork: forward + backward to the generated network\'s CE gradient',
    run: async () => {
      const m = await load<{ benchGnn(): Promise<string | void> }>('gnn');
      return (await m.benchGnn()) ?? '';
    },
  },
  {
    title: 'Metanetwork vs PyTorch twin: forward, forward + VJP, meta-step, peak RSS (smallcnn, ResNet-20, ResNet-56)',
    run: async () => {
      const m = await load<{ benchTwin(): Promise<{ text: string }> }>('twin');
      return (await m.benchTwin()).text;
    },
  },
  {
    title: 'ONNX: import/export time, onnxruntime latency vs MACs speed-up',
    run: async () => {
      const m = await load<{ benchOnnx(): Promise<string | void> }>('onnx');
      return (await m.benchOnnx()) ?? '';
    },
  },
];

const only = process.argv.slice(2);
for (const s of sections) {
  if (only.length > 0 && !only.some((o) => s.title.toLowerCase().includes(o.toLowerCase()))) continue;
  console.log(`\n## ${s.title}\n`);
  const t0 = performance.now();
  try {
    const out = await s.run();
    if (out) console.log(out);
  } catch (e) {
    console.log(`(skipped: ${(e as Error).message.split('\n')[0]})`);
  }
  console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
