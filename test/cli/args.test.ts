import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, formatUsage, UsageError, flagString, flagNumber, flagBoolean, flagList, type ArgSpec } from '../../src/cli/args.js';

const SPEC: ArgSpec = {
  program: 'metaprune',
  description: 'Structured pruning for CNNs',
  flags: {
    verbose: { type: 'boolean', short: 'v', description: 'More output' },
    quiet: { type: 'boolean', short: 'q' },
  },
  commands: {
    prune: {
      description: 'Prune a model',
      flags: {
        config: { type: 'string', short: 'c', valueName: 'FILE', description: 'Config file (JSON/YAML)' },
        out: { type: 'string', short: 'o', default: 'runs' },
        speedup: { type: 'number', description: 'Target MACs speed-up' },
        tag: { type: 'string', multiple: true },
        'dry-run': { type: 'boolean' },
      },
      positionals: [{ name: 'model' }, { name: 'extra', required: false }],
    },
    report: {
      description: 'Render a report',
      positionals: [{ name: 'runDirs', variadic: true }],
      overrides: false,
    },
    demo: { description: 'Run the demo' },
  },
};

function usageError(fn: () => unknown, re: RegExp): UsageError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected UsageError, got ${String(e)}`);
    assert.equal(e.exitCode, 2);
    assert.match(e.message, re);
    assert.ok(e.usage.startsWith('Usage: metaprune'));
    return e;
  }
  assert.fail('expected a UsageError');
}

describe('parseArgs', () => {
  test('subcommand, flags in all forms, positionals and overrides', () => {
    const a = parseArgs(
      ['-v', 'prune', '--config', 'c.yaml', '--speedup=2.5', 'resnet56', 'train.epochs=20', '--dry-run', 'meta.eps=0.03', '-o', 'out/dir', 'name=foo'],
      SPEC,
    );
    assert.equal(a.command, 'prune');
    assert.equal(a.flags['verbose'], true);
    assert.equal(a.flags['quiet'], false);
    assert.equal(a.flags['config'], 'c.yaml');
    assert.equal(a.flags['speedup'], 2.5);
    assert.equal(a.flags['dry-run'], true);
    assert.equal(a.flags['out'], 'out/dir');
    assert.deepEqual(a.positionals, ['resnet56']);
    assert.deepEqual(a.named, { model: 'resnet56', extra: undefined });
    assert.deepEqual(a.overrides, ['train.epochs=20', 'meta.eps=0.03', 'name=foo']);
    assert.equal(a.help, false);
    assert.equal(flagString(a, 'config'), 'c.yaml');
    assert.equal(flagNumber(a, 'speedup'), 2.5);
    assert.equal(flagBoolean(a, 'dry-run'), true);
    assert.equal(flagString(a, 'speedup'), undefined);
  });

  test('defaults, repeatable flags, --no-flag, -c=value, clustered booleans, negative numbers', () => {
    const a = parseArgs(['prune', 'm', '--tag', 'a', '--tag=b', '--no-dry-run', '-c=x.json', '-vq', '--speedup', '-1.5'], SPEC);
    assert.equal(a.flags['out'], 'runs');
    assert.deepEqual(flagList(a, 'tag'), ['a', 'b']);
    assert.equal(a.flags['dry-run'], false);
    assert.equal(a.flags['config'], 'x.json');
    assert.equal(a.flags['verbose'], true);
    assert.equal(a.flags['quiet'], true);
    assert.equal(a.flags['speedup'], -1.5);
    const b = parseArgs(['prune', 'm'], SPEC);
    assert.deepEqual(b.flags['tag'], []);
    assert.equal(b.flags['speedup'], undefined);
    assert.equal(b.flags['dry-run'], false);
  });

  test('"--" ends option parsing; variadic positionals', () => {
    const a = parseArgs(['prune', '--', '--weird-name', 'k=v'], SPEC);
    assert.deepEqual(a.positionals, ['--weird-name', 'k=v']);
    assert.deepEqual(a.overrides, []);
    const r = parseArgs(['report', 'runs/a', 'runs/b', 'runs/c'], SPEC);
    assert.deepEqual(r.named['runDirs'], ['runs/a', 'runs/b', 'runs/c']);
  });

  test('--help never fails, even with missing arguments', () => {
    const a = parseArgs(['prune', '--help'], SPEC);
    assert.equal(a.help, true);
    assert.equal(a.command, 'prune');
    const b = parseArgs(['-h'], SPEC);
    assert.equal(b.help, true);
    assert.equal(b.command, undefined);
  });

  test('usage errors', () => {
    const e = usageError(() => parseArgs(['prune', 'm', '--speedpu', '2'], SPEC), /unknown option --speedpu for 'prune' \(did you mean --speedup\?\)/);
    assert.match(e.usage, /--speedup <n>/);
    usageError(() => parseArgs(['prune', 'm', '-x'], SPEC), /unknown option -x/);
    usageError(() => parseArgs(['prnue'], SPEC), /unknown command 'prnue' \(did you mean 'prune'\?\)/);
    usageError(() => parseArgs([], SPEC), /missing command/);
    usageError(() => parseArgs(['prune'], SPEC), /missing argument <model>/);
    usageError(() => parseArgs(['prune', 'a', 'b', 'c'], SPEC), /unexpected argument 'c'/);
    usageError(() => parseArgs(['prune', 'm', '--config'], SPEC), /--config requires a value/);
    usageError(() => parseArgs(['prune', 'm', '--config', '--dry-run'], SPEC), /--config requires a value/);
    usageError(() => parseArgs(['prune', 'm', '--speedup', 'fast'], SPEC), /--speedup expects a number, got 'fast'/);
    usageError(() => parseArgs(['prune', 'm', '--dry-run=maybe'], SPEC), /expects true or false/);
    usageError(() => parseArgs(['prune', 'm', '-vc', 'x'], SPEC), /cannot be combined/);
    usageError(() => parseArgs(['report'], SPEC), /missing argument <runDirs>/);
    usageError(() => parseArgs(['report', 'r1', 'a=b'], SPEC), /takes no key=value overrides/);
    // Command flags are not valid before the command.
    usageError(() => parseArgs(['--config', 'x', 'prune', 'm'], SPEC), /unknown option --config/);
  });

  test('command-less program', () => {
    const spec: ArgSpec = { program: 'tool', flags: { n: { type: 'number', default: 3 } }, positionals: [{ name: 'file' }] };
    const a = parseArgs(['f.txt', 'x.y=1'], spec);
    assert.equal(a.command, undefined);
    assert.equal(a.flags['n'], 3);
    assert.equal(a.named['file'], 'f.txt');
    assert.deepEqual(a.overrides, ['x.y=1']);
  });
});

describe('formatUsage', () => {
  test('program help lists commands and global options', () => {
    const u = formatUsage(SPEC);
    assert.match(u, /^Usage: metaprune <command>/);
    assert.match(u, /prune\s+Prune a model/);
    assert.match(u, /report\s+Render a report/);
    assert.match(u, /-v, --verbose\s+More output/);
  });

  test('command help lists options, defaults, arguments and overrides', () => {
    const u = formatUsage(SPEC, 'prune');
    assert.match(u, /^Usage: metaprune prune \[options\] <model> \[extra\] \[key=value \.\.\.\]/);
    assert.match(u, /-c, --config <FILE>\s+Config file/);
    assert.match(u, /--out <value>\s+\(default: runs\)/);
    assert.match(u, /--tag <value>.*\(repeatable\)/);
    assert.match(u, /-h, --help/);
    assert.match(u, /train\.epochs=20/);
    assert.match(formatUsage(SPEC, 'report'), /<runDirs\.\.\.>$/m);
  });
});
