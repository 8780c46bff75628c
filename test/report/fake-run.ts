// A run directory with the files a Meta Pruning run writes, filled with fixed numbers shaped like
// a default run: 40 meta-epochs, a curve family of 21 members, 3 seeds × 3 arms × 3 targets.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const FAKE_EPOCHS = 40;
export const FAKE_CHOSEN = 27;
export const FAKE_TARGETS = [2, 3, 4];
export const FAKE_SEEDS = 3;

export function fakeRun(dir: string): void {
  const curve = (drop: number) => [1, 1.5, 2, 3, 4.1].map((s, i) => ({ speedup: s, acc: 0.85 - drop * i }));
  const member = (epoch: number | null, drop: number, startAcc = 0.85) => ({
    epoch, startAcc, farAcc: 0.85 - 3 * drop, eligible: startAcc >= 0.82, curves: [{ model: 10, curve: curve(drop) }, { model: 11, curve: curve(drop * 1.1) }],
  });
  const family = [];
  for (let e = 1; e < FAKE_EPOCHS - 1; e += 2) family.push(member(e, 0.1 - e * 0.002, e > 33 ? 0.8 : 0.85));
  family.push(member(FAKE_EPOCHS - 1, 0.03, 0.78));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ out: dir, meta: { epochs: FAKE_EPOCHS, lr: 0.01 }, select: { tolerance: 0.03, farFrom: 1.5 } }));
  writeFileSync(join(dir, 'summary.json'), JSON.stringify({
    stage: 'compare', chosenEpoch: FAKE_CHOSEN, reg: 0.000123456789, minutes: 1.5,
    zoo: [0, 1, 2].map((i) => ({ seed: i, split: i < 2 ? 'train' : 'heldout', acc: 0.8 + i / 100, trainedAcc: 0.84 + i / 100, speedup: 1.3, seconds: 10 + i })),
    stageSeconds: { zoo: 30.5, 'meta-train': 120.25, select: 40, compare: 60 },
  }));
  writeFileSync(join(dir, 'selection.json'), JSON.stringify({ key: {}, value: { chosen: FAKE_CHOSEN, rule: 'test rule', original: member(null, 0.1), family } }));
  const arms = ['metanet', 'prune-only', 'sparse-train'];
  const rows = [];
  for (let seed = 0; seed < FAKE_SEEDS; seed++) {
    for (const [a, arm] of arms.entries()) {
      for (const t of FAKE_TARGETS) rows.push({ arm, seed: 1000 + seed, target: t, accFinal: 0.8 - 0.01 * a - 0.02 * t + 0.003 * seed + 0.004 * (((seed * 7 + a * 3 + t) % 5) - 2), accPruned: 0.4 - 0.05 * a + 0.01 * seed + 0.02 * (((seed + 2 * a + t) % 3) - 1),
        layers: [['conv1', 16], ['conv2', 32], ['fc', 10]].map(([name, w]) => ({ name: name as string, before: w as number, after: name === 'fc' ? 10 : Math.round((w as number) / Math.sqrt(t)) + a })) });
    }
  }
  const summary = arms.flatMap((arm, a) => FAKE_TARGETS.map((t) => ({ arm, target: t, mean: 0.8 - 0.01 * a - 0.02 * t + 0.003, std: 0.003, n: FAKE_SEEDS, meanPruned: 0.41 - 0.05 * a })));
  writeFileSync(join(dir, 'compare.json'), JSON.stringify({ key: {}, value: { rows, summary } }));
  const steps = [];
  for (let e = 0; e < FAKE_EPOCHS; e++) {
    for (let k = 0; k < 3; k++) {
      steps.push({ kind: 'meta-step', epoch: e, step: 3 * e + k + 1, ce: 7 - e * 0.1, r: 27 - e * 0.4, ratio: 0.5 + e / 40, lr: e < 30 ? 0.01 : 0.001, bnGammaRatio: 1 - e / 100, bnGammaShrunk: e / 80 });
    }
  }
  writeFileSync(join(dir, 'metrics.jsonl'), steps.map((s) => JSON.stringify(s)).join('\n') + '\n');
}
