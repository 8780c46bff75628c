import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  loadConfig,
  configKeys,
  describeConfig,
  findJsonError,
  mergeConfig,
  parseOverride,
} from '../../src/cli/config.js';

const DEFAULTS = {
  name: 'run',
  seed: 0,
  verbose: false,
  checkpoint: null as string | null,
  train: { epochs: 10, lr: 0.1, batchSize: 128, milestones: [5, 8], augment: true },
  meta: { eps: 0.01, steps: 100, layers: ['conv1', 'conv2'] },
  list: [] as number[],
  extra: {} as Record<string, unknown>,
};
type Cfg = typeof DEFAULTS;

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mp-config-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'ConfigError');
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig: defaults and overrides', () => {
  test('no file and no overrides returns a deep copy of the defaults', () => {
    const c = loadConfig(DEFAULTS);
    assert.deepEqual(c, DEFAULTS);
    assert.notEqual(c, DEFAULTS);
    c.train.epochs = 99;
    assert.equal(DEFAULTS.train.epochs, 10, 'defaults untouched');
  });

  test('overrides parse types by the schema, with nested keys', () => {
    const c: Cfg = loadConfig(DEFAULTS, undefined, [
      'train.epochs=20',
      'meta.eps=0.03',
      'train.lr=1e-3',
      'seed=-1',
      'name=foo',
      'verbose=true',
      'train.augment=false',
      'list=[1,2]',
      'train.milestones=3,6,9',
      'meta.layers=[a, b, 3]',
      'checkpoint=runs/x/model.bin',
    ]);
    assert.equal(c.train.epochs, 20);
    assert.equal(c.meta.eps, 0.03);
    assert.equal(c.train.lr, 0.001);
    assert.equal(c.seed, -1);
    assert.equal(c.name, 'foo');
    assert.equal(c.verbose, true);
    assert.equal(c.train.augment, false);
    assert.deepEqual(c.list, [1, 2]);
    assert.deepEqual(c.train.milestones, [3, 6, 9]);
    assert.deepEqual(c.meta.layers, ['a', 'b', '3']);
    assert.equal(c.checkpoint, 'runs/x/model.bin');
    // Untouched keys keep their defaults.
    assert.equal(c.train.batchSize, 128);
    assert.equal(c.meta.steps, 100);
  });

  test('string keys keep number-like text as strings; quotes are stripped; "=" in values', () => {
    const c = loadConfig(DEFAULTS, undefined, ['name=123', 'meta.layers=', 'checkpoint="a b"', 'extra.expr=a=b']);
    assert.equal(c.name, '123');
    assert.deepEqual(c.meta.layers, []);
    assert.equal(c.checkpoint, 'a b');
    assert.equal(c.extra['expr'], 'a=b');
  });

  test('later overrides win; empty list and boolean spellings', () => {
    const c = loadConfig(DEFAULTS, undefined, ['seed=1', 'seed=2', 'list=[]', 'verbose=yes']);
    assert.equal(c.seed, 2);
    assert.deepEqual(c.list, []);
    assert.equal(c.verbose, true);
  });

  test('free-form maps accept any nested key; null defaults accept any type', () => {
    const c = loadConfig(DEFAULTS, undefined, ['extra.a.b=3', 'extra.flag=true', 'checkpoint=null']);
    assert.deepEqual(c.extra, { a: { b: 3 }, flag: true });
    assert.equal(c.checkpoint, null);
  });

  test('sections can be given as a flow mapping, validated', () => {
    const c = loadConfig(DEFAULTS, undefined, ['train={epochs: 3, lr: 0.5}']);
    assert.equal(c.train.epochs, 3);
    assert.equal(c.train.lr, 0.5);
    assert.equal(c.train.batchSize, 128);
    const e = configError(() => loadConfig(DEFAULTS, undefined, ['train={epoch: 3}']));
    assert.match(e.message, /unknown config key 'train\.epoch'/);
  });
});

describe('loadConfig: override errors', () => {
  test('unknown keys are rejected with suggestions and the valid-key list', () => {
    const e = configError(() => loadConfig(DEFAULTS, undefined, ['train.epoch=5']));
    assert.match(e.message, /unknown config key 'train\.epoch'/);
    assert.match(e.message, /Did you mean 'train\.epochs'/);
    assert.match(e.message, /Valid keys in 'train': train\.epochs, train\.lr, train\.batchSize, train\.milestones, train\.augment/);
    assert.equal(e.key, 'train.epoch');

    const top = configError(() => loadConfig(DEFAULTS, undefined, ['epochs=5']));
    assert.match(top.message, /Did you mean 'train\.epochs'/);
    assert.match(top.message, /Valid keys at top level: name, seed, verbose, checkpoint, train\.\*, meta\.\*, list, extra/);

    const far = configError(() => loadConfig(DEFAULTS, undefined, ['zzzzzz=1']));
    assert.ok(!/Did you mean/.test(far.message));
    assert.match(far.message, /Valid keys at top level/);
  });

  test('a value of the wrong type names the key and the expected type', () => {
    let e = configError(() => loadConfig(DEFAULTS, undefined, ['train.epochs=abc']));
    assert.match(e.message, /'train\.epochs' expects a number, got "abc"/);
    assert.equal(e.key, 'train.epochs');
    e = configError(() => loadConfig(DEFAULTS, undefined, ['verbose=maybe']));
    assert.match(e.message, /'verbose' expects a boolean/);
    e = configError(() => loadConfig(DEFAULTS, undefined, ['train.milestones=[1, x]']));
    assert.match(e.message, /'train\.milestones\.1' expects a number/);
    e = configError(() => loadConfig(DEFAULTS, undefined, ['train.milestones=1,x']));
    assert.match(e.message, /expects a number, got "x"/);
    e = configError(() => loadConfig(DEFAULTS, undefined, ['train=5']));
    assert.match(e.message, /'train' is a section/);
    assert.match(e.message, /train\.epochs/);
    e = configError(() => loadConfig(DEFAULTS, undefined, ['train.epochs.x=1']));
    assert.match(e.message, /'train\.epochs' is a number, not a section/);
  });

  test('malformed overrides', () => {
    assert.match(configError(() => loadConfig(DEFAULTS, undefined, ['train.epochs'])).message, /key=value/);
    assert.match(configError(() => loadConfig(DEFAULTS, undefined, ['=3'])).message, /key=value/);
    assert.match(configError(() => loadConfig(DEFAULTS, undefined, ['a..b=3'])).message, /not a valid dotted key/);
    assert.match(configError(() => loadConfig(DEFAULTS, undefined, ['extra.__proto__.x=1'])).message, /not allowed/);
    assert.equal(({} as Record<string, unknown>)['x'], undefined, 'no prototype pollution');
  });

  test('parseOverride', () => {
    assert.deepEqual(parseOverride('a.b.c=1=2'), { path: ['a', 'b', 'c'], raw: '1=2' });
  });
});

describe('loadConfig: files', () => {
  test('YAML file merged between defaults and overrides', () => {
    const f = file(
      'c.yaml',
      ['# experiment', 'name: yaml-run', 'train:', '  epochs: 30', '  lr: 1e-2', '  milestones: [10, 20]', 'meta:', '  layers:', '    - stem', 'extra:', '  anything: {x: 1}', ''].join('\n'),
    );
    const c = loadConfig(DEFAULTS, f, ['train.epochs=31']);
    assert.equal(c.name, 'yaml-run');
    assert.equal(c.train.epochs, 31, 'override beats file');
    assert.equal(c.train.lr, 0.01);
    assert.deepEqual(c.train.milestones, [10, 20]);
    assert.equal(c.train.batchSize, 128, 'default kept');
    assert.deepEqual(c.meta.layers, ['stem']);
    assert.deepEqual(c.extra, { anything: { x: 1 } });
  });

  test('JSON file', () => {
    const f = file('c.json', JSON.stringify({ seed: 7, meta: { eps: 0.5 } }, null, 2));
    const c = loadConfig(DEFAULTS, f);
    assert.equal(c.seed, 7);
    assert.equal(c.meta.eps, 0.5);
    assert.equal(c.meta.steps, 100);
  });

  test('empty YAML file is an empty config', () => {
    assert.deepEqual(loadConfig(DEFAULTS, file('empty.yml', '# nothing\n')), DEFAULTS);
  });

  test('bad YAML names the file, line and column', () => {
    const f = file('bad.yaml', 'name: x\ntrain:\n  epochs: [1, 2\n  lr: 0.1\n');
    const e = configError(() => loadConfig(DEFAULTS, f));
    assert.equal(e.file, f);
    assert.ok(e.message.includes(f), e.message);
    assert.match(e.message, /line \d+, column \d+/);
    assert.ok(e.line !== undefined && e.line >= 3, `line ${String(e.line)}`);
    assert.ok(e.column !== undefined);

    const f2 = file('bad2.yaml', 'name: x\ntrain:\n\tepochs: 3\n');
    const e2 = configError(() => loadConfig(DEFAULTS, f2));
    assert.equal(e2.line, 3);
    assert.equal(e2.column, 1);
    assert.match(e2.message, /bad2\.yaml at line 3, column 1: Tabs are not allowed/);

    const f3 = file('dup.yml', 'name: a\nseed: 1\nname: b\n');
    const e3 = configError(() => loadConfig(DEFAULTS, f3));
    assert.equal(e3.line, 3);
    assert.match(e3.message, /unique/);
  });

  test('bad JSON names the file, line and column', () => {
    const f = file('bad.json', '{\n  "seed": 1,\n  "train": { "epochs": 2, }\n}\n');
    const e = configError(() => loadConfig(DEFAULTS, f));
    assert.ok(e.message.includes(f));
    assert.equal(e.line, 3);
    assert.equal(e.column, 25);
    assert.match(e.message, /line 3, column 25: trailing comma/);

    const f2 = file('bad2.json', '{\n  "seed": 1\n  "name": "x"\n}');
    const e2 = configError(() => loadConfig(DEFAULTS, f2));
    assert.equal(e2.line, 3);
    assert.match(e2.message, /expected ',' or '}'/);

    const f3 = file('bad3.json', '{"name": "x"');
    const e3 = configError(() => loadConfig(DEFAULTS, f3));
    assert.equal(e3.line, 1);
    assert.match(e3.message, /end of input/);
  });

  test('unknown keys and wrong types in files name the file and line', () => {
    const f = file('unk.yaml', 'name: a\ntrain:\n  epochs: 3\n  lrate: 0.1\n');
    const e = configError(() => loadConfig(DEFAULTS, f));
    assert.match(e.message, /unk\.yaml:4:3: unknown config key 'train\.lrate'/);
    assert.match(e.message, /Did you mean 'train\.lr'/);
    assert.equal(e.line, 4);

    const g = file('type.json', '{\n  "train": {\n    "epochs": "ten"\n  }\n}\n');
    const e2 = configError(() => loadConfig(DEFAULTS, g));
    assert.match(e2.message, /type\.json:3:5: config key 'train\.epochs' expects a number, got string "ten"/);

    const h = file('list.yaml', 'train:\n  milestones: 5\n');
    assert.match(configError(() => loadConfig(DEFAULTS, h)).message, /'train\.milestones' expects a list of numbers, got number 5/);

    const top = file('top.yaml', '- 1\n- 2\n');
    assert.match(configError(() => loadConfig(DEFAULTS, top)).message, /top level must be a mapping/);
  });

  test('missing file and unsupported extension', () => {
    assert.match(configError(() => loadConfig(DEFAULTS, join(dir, 'nope.yaml'))).message, /not found/);
    assert.match(configError(() => loadConfig(DEFAULTS, file('c.toml', 'a = 1'))).message, /use \.json, \.yaml or \.yml/);
  });
});

describe('helpers', () => {
  test('configKeys and describeConfig list dotted keys', () => {
    const keys = configKeys(DEFAULTS);
    assert.ok(keys.includes('train.epochs'));
    assert.ok(keys.includes('extra'));
    assert.ok(!keys.includes('train'));
    const d = describeConfig(DEFAULTS);
    assert.match(d, /train\.epochs\s+number\s+default: 10/);
    assert.match(d, /meta\.layers\s+list of strings/);
  });

  test('findJsonError returns undefined for valid JSON', () => {
    assert.equal(findJsonError('{"a": [1, 2.5e3, true, null, "x\\n"]}'), undefined);
    assert.ok(findJsonError('{"a": 01}'));
    assert.ok(findJsonError("{'a': 1}"));
  });

  test('mergeConfig validates already-parsed data', () => {
    const c = mergeConfig(DEFAULTS, { train: { epochs: 2 } }, 'inline');
    assert.equal(c.train.epochs, 2);
    assert.match(configError(() => mergeConfig(DEFAULTS, { bogus: 1 }, 'inline')).message, /^inline: unknown config key 'bogus'/);
  });
});
