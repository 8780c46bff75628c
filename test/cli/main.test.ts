// CLI conventions: --help for every command (with examples), --version, --json, exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main, cliSpec, version } from '../../src/cli/main.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('every command has --help with a description and an example, exit 0', async () => {
  const commands = Object.keys(cliSpec().commands ?? {});
  assert.ok(commands.length >= 10, commands.join(', '));
  for (const c of ['demo', 'train', 'prune', 'zoo', 'meta-train', 'select', 'compare', 'apply-metanet', 'inspect', 'report']) assert.ok(commands.includes(c), `missing command ${c}`);
  for (const c of commands) {
    const r = await run(c, '--help');
    assert.equal(r.code, 0, c);
    assert.match(r.out, new RegExp(`Usage: metaprune ${c}`), c);
    if (c !== 'models') assert.match(r.out, /Example/, `${c} --help has no example`);
  }
});

test('--version prints the package version; no command is a usage error (2)', async () => {
  const v = await run('--version');
  assert.equal(v.code, 0);
  assert.equal(v.out, version());
  assert.match(v.out, /^\d+\.\d+\.\d+/);
  assert.equal((await run()).code, 2);
  const bad = await run('frobnicate');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /frobnicate/);
});

test('bad values and unknown config keys exit 2 naming the problem; failures exit 1', async () => {
  const r = await run('train', 'train.epochz=3');
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown config key 'train\.epochz'.*Did you mean 'train\.epochs'/s);
  const n = await run('train', '--epochs', 'x');
  assert.equal(n.code, 2);
  assert.match(n.err, /--epochs expects a number, got 'x'/);
  const missing = await run('inspect', '/nonexistent/checkpoint');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /\/nonexistent\/checkpoint\.json: not found/);
});

test('--json gives machine-readable output', async () => {
  const r = await run('--json', 'inspect', 'resnet56');
  assert.equal(r.code, 0);
  const j = JSON.parse(r.out) as { macs: number; params: number; layers: unknown[] };
  assert.equal((j.macs / 1e6).toFixed(2), '127.37');
  assert.ok(j.layers.length > 50);
});
