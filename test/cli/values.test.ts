// Value rules (ranges, whole numbers, choices) for config keys and flags: refused before any work
// starts, with exit 2 and the valid range or choices in the message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.js';
import { loadConfig, describeConfig, ruleFor, ConfigError } from '../../src/cli/config.js';
import { CONFIG_RULES } from '../../src/cli/config-rules.js';
import { DEFAULT_TRAIN_RUN } from '../../src/train/run.js';
import { DEFAULT_PIPELINE } from '../../src/meta/pipeline.js';
import { DEFAULT_PRUNE_RUN } from '../../src/cli/commands/prune.js';
import { DEFAULT_STUDY } from '../../src/cli/commands/study.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('every default value satisfies its own rule (the table and the defaults agree)', () => {
  for (const d of [DEFAULT_TRAIN_RUN, DEFAULT_PIPELINE, DEFAULT_PRUNE_RUN, DEFAULT_STUDY] as object[]) assert.doesNotThrow(() => loadConfig(d, undefined, [], CONFIG_RULES));
});

test('the longest dotted suffix picks the rule', () => {
  assert.equal(ruleFor(CONFIG_RULES, 'train.epochs')?.min, 1);
  assert.equal(ruleFor(CONFIG_RULES, 'select.adapt.epochs')?.min, 0);
  assert.equal(ruleFor(CONFIG_RULES, 'select.epochs')?.min, -1); // -1: the untrained metanetwork
  assert.equal(ruleFor(CONFIG_RULES, 'study.points'), undefined, 'curve.points does not reach study.points');
  assert.equal(ruleFor(CONFIG_RULES, 'zoo.prePrune.speedup')?.min, 0);
  assert.equal(ruleFor(CONFIG_RULES, 'speedup')?.minExclusive, true);
  assert.equal(ruleFor(CONFIG_RULES, 'xepochs'), undefined, 'a suffix matches whole segments only');
});

test('bad values of config keys are refused with the range or choices', () => {
  const cases: [string, RegExp][] = [
    ['train.optimizer=SGD', /'train\.optimizer': expected one of sgd, adamw, got "SGD" \(did you mean 'sgd'\?\)/],
    ['train.schedule=Cosine', /expected one of cosine, step, multistep, constant/],
    ['train.epochs=0', /'train\.epochs': expected an integer ≥ 1/],
    ['train.epochs=-1', /'train\.epochs'/],
    ['train.epochs=0.5', /an integer/],
    ['train.epochs=Infinity', /got Infinity/],
    ['width=0', /'width': expected a finite number > 0/],
    ['width=-1', /'width'/],
    ['train.lr=-0.05', /'train\.lr'/],
    ['train.weightDecay=-1', /'train\.weightDecay'/],
    ['train.gamma=-1', /'train\.gamma'/],
    ['train.milestones=[a,b]', /'train\.milestones\[0\]': expected an integer ≥ 0.*got "a"/],
    ['train.batchSize=0', /'train\.batchSize'/],
    ['model=foo', /'model': expected one of smallcnn/],
  ];
  for (const [o, re] of cases) {
    const e = assert.throws(() => loadConfig(DEFAULT_TRAIN_RUN, undefined, [o], CONFIG_RULES), (err: unknown) => {
      assert.ok(err instanceof ConfigError, o);
      assert.match(err.message, re, o);
      return true;
    });
    void e;
  }
  assert.throws(() => loadConfig(DEFAULT_PIPELINE, undefined, ['select.adapt.kind=sgd'], CONFIG_RULES), /one of finetune, bn/);
  assert.throws(() => loadConfig(DEFAULT_PIPELINE, undefined, ['compare.targets=[2,0.5]'], CONFIG_RULES), /'compare\.targets\[1\]'/);
  assert.throws(() => loadConfig(DEFAULT_PRUNE_RUN, undefined, ['importance=L2'], CONFIG_RULES), /did you mean 'l2'/);
  // Boundary values that are fine.
  assert.equal(loadConfig(DEFAULT_TRAIN_RUN, undefined, ['train.epochs=1', 'train.weightDecay=0', 'width=0.5'], CONFIG_RULES).train.epochs, 1);
});

test('CLI: bad values exit 2 before any work, naming the flag or key', async () => {
  const e = await run('train', '--epochs', '0');
  assert.equal(e.code, 2);
  assert.match(e.err, /option --epochs: config key 'train\.epochs': expected an integer ≥ 1/);
  const o = await run('train', 'train.optimizer=SGD');
  assert.equal(o.code, 2);
  assert.match(o.err, /one of sgd, adamw/);
  // prune-onnx flags are checked while parsing: the (missing) model file is never opened.
  for (const [flag, value, re] of [
    ['--latency-batch', '100000', /--latency-batch expected an integer ≥ 1 and ≤ 1024, got 100000/],
    ['--threads', '1000', /--threads expected an integer ≥ 1 and ≤ 256/],
    ['--runs', '1000000', /--runs expected an integer ≥ 1 and ≤ 10000/],
    ['--speedup', '1', /--speedup expected a finite number > 1/],
    ['--importance', 'L1', /did you mean 'l1'/],
    ['--opset', '5', /--opset expected an integer ≥ 11/],
  ] as const) {
    const r = await run('prune-onnx', '/nonexistent/model.onnx', flag, value);
    assert.equal(r.code, 2, `${flag} ${value}: ${r.err}`);
    assert.match(r.err, re);
    assert.doesNotMatch(r.err, /nonexistent/);
  }
});

test('help lists each key with its range', () => {
  const d = describeConfig(DEFAULT_TRAIN_RUN, CONFIG_RULES);
  assert.match(d, /train\.optimizer .*one of sgd, adamw/);
  assert.match(d, /train\.epochs .*an integer ≥ 1/);
});
