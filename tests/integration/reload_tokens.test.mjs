// SIGHUP with a tokens file that would open a public listener, or that
// cannot be read or parsed, is refused as a whole: the running tokens and
// configuration stay, the refusal is logged and counted in /metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  JETGATE_BIN, assertProblem, freePort, http, makeTempDir, removeTempDir, startJetgate, startNats, waitFor,
} from '../lib/harness.mjs';

const TOKEN = 'rld-4e1b9c07d2';
let dir;
let nats;

function hash(token) {
  return execFileSync(JETGATE_BIN, ['--hash-token'], { input: `${token}\n` }).toString().trim();
}

before(async () => {
  dir = makeTempDir('jetgate-reload-');
  nats = await startNats();
});

after(async () => {
  if (nats) await nats.destroy();
  if (dir) removeTempDir(dir);
});

async function metric(base, name) {
  const r = await http(base, 'GET', '/metrics', { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(r.status, 200);
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(r.text);
  assert.ok(m, `${name} in /metrics`);
  return Number(m[1]);
}

// A reload is done (refused or applied) when its last log line is there.
async function hup(jg, what) {
  const before = jg.log().length;
  jg.proc.kill('SIGHUP');
  await waitFor(() => /reload: (done|.*keeping the running)/.test(jg.log().slice(before)), 5000, 20, what);
  return jg.log().slice(before);
}

const broken = [
  ['emptied (a comment only)', (f) => fs.writeFileSync(f, '# no tokens any more\n'), /no tokens/],
  ['unparsable', (f) => fs.writeFileSync(f, 'only-a-name\n'), /cannot be read or has errors/],
  ['unreadable (removed)', (f) => fs.rmSync(f), /cannot be read or has errors/],
];

test('a reload that would open a public listener, or cannot read its tokens, keeps the tokens in force', async () => {
  const tokens = path.join(dir, 'tokens');
  const good = `ops ${hash(TOKEN)} all@*\n`;
  fs.writeFileSync(tokens, good);
  const port = await freePort();
  // not loopback: the start-up guard applies; probed over 127.0.0.1
  const jg = await startJetgate({ natsUrl: nats.url, port, args: ['--listen', `0.0.0.0:${port}`, '--tokens-file', tokens] });
  try {
    assertProblem(await http(jg.base, 'GET', '/v1/kvm/buckets'), 401, 'unauthorized');
    let failures = await metric(jg.base, 'jetgate_config_reload_failures_total');
    assert.equal(failures, 0);
    for (const [what, breakIt, logged] of broken) {
      breakIt(tokens);
      const log = await hup(jg, `the reload with a tokens file ${what}`);
      assert.match(log, / error: reload:/, `${what}: logged as an error`);
      assert.match(log, logged, `${what}: the reason is logged`);
      assert.doesNotMatch(log, /reload: done/, `${what}: nothing applied`);
      assertProblem(await http(jg.base, 'GET', '/v1/kvm/buckets'), 401, 'unauthorized', `${what}: `);
      assert.equal((await http(jg.base, 'GET', '/v1/kvm/buckets', { headers: { Authorization: `Bearer ${TOKEN}` } })).status,
        200, `${what}: the old token still works`);
      assert.equal(await metric(jg.base, 'jetgate_config_reload_failures_total'), ++failures, `${what}: counted`);
    }
    // a good file again: the reload is applied and not counted
    fs.writeFileSync(tokens, good);
    assert.match(await hup(jg, 'the reload with a good tokens file'), /reload: done/);
    assert.equal(await metric(jg.base, 'jetgate_config_reload_failures_total'), failures);
    assert.ok(jg.running());
  } finally {
    await jg.stop();
  }
});

test('on loopback an emptied tokens file still means open access after a reload', async () => {
  const tokens = path.join(dir, 'tokens-lo');
  fs.writeFileSync(tokens, `ops ${hash(TOKEN)} all@*\n`);
  const jg = await startJetgate({ natsUrl: nats.url, args: ['--tokens-file', tokens] });
  try {
    assertProblem(await http(jg.base, 'GET', '/v1/kvm/buckets'), 401, 'unauthorized');
    fs.writeFileSync(tokens, '# open\n');
    assert.match(await hup(jg, 'the reload'), /reload: done/);
    assert.equal((await http(jg.base, 'GET', '/v1/kvm/buckets')).status, 200);
  } finally {
    await jg.stop();
  }
});
