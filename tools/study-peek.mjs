// Prints the statistics of every finished comparison of a study directory (while the study runs).
// Usage: node tools/study-peek.mjs runs/study-embedded
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cellStatistics, DEFAULT_STUDY_SETTINGS } from '../dist/src/meta/study.js';

const dir = process.argv[2] ?? 'runs/study-embedded';
const pct = (x) => (100 * x).toFixed(2);
for (const f of readdirSync(join(dir, 'compare')).sort()) {
  const c = JSON.parse(readFileSync(join(dir, 'compare', f), 'utf8'));
  const { compare, chosen } = c.key;
  const label = `adapt=${compare.adapt.kind}/${compare.adapt.epochs} ft=${compare.finetuneEpochs} mpr=${compare.maxPruningRatio ?? 1} epoch=${chosen}`;
  console.log(`${f} ${label} (${(c.value.seconds / 60).toFixed(1)} min)`);
  for (const t of cellStatistics(c.value.rows, DEFAULT_STUDY_SETTINGS)) {
    const arm = (a) => t.arms.find((x) => x.arm === a);
    console.log(`  ${t.target}×  a−b ${pct(t.vsPruneOnly.mean)} [${pct(t.vsPruneOnly.ci.lo)}, ${pct(t.vsPruneOnly.ci.hi)}] models [${pct(t.vsPruneOnly.ciModels.lo)}, ${pct(t.vsPruneOnly.ciModels.hi)}]  a−c ${pct(t.vsSparse.mean)} [${pct(t.vsSparse.ci.lo)}, ${pct(t.vsSparse.ci.hi)}]  val a−b ${pct(t.vsPruneOnlyVal.mean)}  | a ${pct(arm('metanet').final.mean)}±${pct(arm('metanet').final.std)} b ${pct(arm('prune-only').final.mean)}±${pct(arm('prune-only').final.std)} c ${pct(arm('sparse-train').final.mean)}±${pct(arm('sparse-train').final.std)} | noft a ${pct(arm('metanet').pruned.mean)} b ${pct(arm('prune-only').pruned.mean)}`);
  }
}
