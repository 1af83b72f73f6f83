// Bearer tokens, per-bucket rules, CORS and the open-access guard.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  JETGATE_BIN, assertProblem, freePort, http, makeTempDir, removeTempDir, sleep, startJetgate, startStack,
} from '../lib/harness.mjs';

const T = {
  admin: 'adm-7f3c1e0a9b',
  reader: 'rdr-51d2aa0c44',
  writer: 'wrt-9c0b7e11f2',
  prefixed: 'pfx-3a8e6d55b0',
  watcher: 'wch-0d4f9a2c71',
  later: 'new-6b1f0e8d93',
};

function hash(token) {
  return execFileSync(JETGATE_BIN, ['--hash-token'], { input: `${token}\n` }).toString().trim();
}

let dir;
let tokensFile;
let stack;
let base;

function writeTokens(extra = '') {
  fs.writeFileSync(tokensFile, [
    '# name  secret  rules',
    `admin    ${hash(T.admin)}    all@*`,
    `reader   ${hash(T.reader)}   read@app-*`,
    `writer   ${hash(T.writer)}   read,write,delete@app-*`,
    `prefixed ${hash(T.prefixed)} read,write@shared/config/`,
    `watcher  ${hash(T.watcher)}  watch,read@app-*`,
    extra,
  ].join('\n'));
}

const as = (token, method, p, opts = {}) =>
  http(base, method, p, { ...opts, headers: { ...(opts.headers ?? {}), ...(token ? { Authorization: `Bearer ${token}` } : {}) } });

before(async () => {
  dir = makeTempDir('jetgate-auth-');
  tokensFile = path.join(dir, 'tokens');
  writeTokens();
  stack = await startStack({ jetgate: { args: ['--tokens-file', tokensFile, '--cors-origins', 'http://app.example', '--log-level', 'debug'] } });
  base = stack.base;
  for (const b of ['app-one', 'other', 'shared']) {
    assert.equal((await as(T.admin, 'PUT', `/v1/kvm/buckets/${b}`, { body: '{"history":2}' })).status, 201);
  }
  assert.equal((await as(T.admin, 'PUT', '/v1/kv/app-one/k', { body: 'v' })).status, 201);
  assert.equal((await as(T.admin, 'PUT', '/v1/kv/other/k', { body: 'v' })).status, 201);
  assert.equal((await as(T.admin, 'PUT', '/v1/kv/shared/config/a', { body: 'a' })).status, 201);
  assert.equal((await as(T.admin, 'PUT', '/v1/kv/shared/secret/b', { body: 'b' })).status, 201);
});

after(async () => {
  if (stack) await stack.stop();
  if (dir) removeTempDir(dir);
});

test('no token and a wrong token are 401 with WWW-Authenticate; health stays public', async () => {
  for (const token of [null, 'not-a-token', `${T.reader}x`]) {
    const r = await as(token, 'GET', '/v1/kv/app-one/k');
    assertProblem(r, 401, 'unauthorized', `token ${token}`);
    assert.match(r.headers.get('www-authenticate') || '', /^Bearer/);
  }
  assert.equal((await http(base, 'GET', '/healthz')).status, 200);
  assert.equal((await http(base, 'GET', '/readyz')).status, 200);
  const q = await http(base, 'GET', `/v1/kv/app-one/k?authorization=${T.reader}`);
  assertProblem(q, 401, 'unauthorized', '?authorization= is for watches only');
});

test('a read-only token reads its buckets and cannot write, delete or manage', async () => {
  assert.equal((await as(T.reader, 'GET', '/v1/kv/app-one/k')).text, 'v');
  assertProblem(await as(T.reader, 'PUT', '/v1/kv/app-one/k', { body: 'x' }), 403, 'forbidden');
  assertProblem(await as(T.reader, 'POST', '/v1/kv/app-one/new', { body: 'x' }), 403, 'forbidden');
  assertProblem(await as(T.reader, 'DELETE', '/v1/kv/app-one/k'), 403, 'forbidden');
  assertProblem(await as(T.reader, 'PUT', '/v1/kvm/buckets/app-two', { body: '{}' }), 403, 'forbidden');
  assertProblem(await as(T.reader, 'DELETE', '/v1/kvm/buckets/app-one'), 403, 'forbidden');
  assertProblem(await as(T.reader, 'GET', '/v1/kv/other/k'), 403, 'forbidden');
  assert.equal((await as(T.admin, 'GET', '/v1/kv/app-one/k')).text, 'v', 'nothing was changed');
});

test('a writer writes and deletes in its buckets but cannot manage them', async () => {
  assert.equal((await as(T.writer, 'PUT', '/v1/kv/app-one/w', { body: '1' })).status, 201);
  assert.equal((await as(T.writer, 'DELETE', '/v1/kv/app-one/w')).status, 200);
  assertProblem(await as(T.writer, 'PUT', '/v1/kv/other/w', { body: '1' }), 403, 'forbidden');
  assertProblem(await as(T.writer, 'DELETE', '/v1/kvm/buckets/app-one/purge'), 403, 'forbidden');
  assertProblem(await as(T.writer, 'POST', '/v1/kvm/buckets/app-new', { body: '{}' }), 403, 'forbidden');
  assert.equal((await as(T.admin, 'POST', '/v1/kvm/buckets/app-new', { body: '{}' })).status, 201, 'admin may');
});

test('a prefix-limited token sees only keys under its prefix', async () => {
  assert.equal((await as(T.prefixed, 'GET', '/v1/kv/shared/config/a')).text, 'a');
  assert.equal((await as(T.prefixed, 'PUT', '/v1/kv/shared/config/c', { body: 'c' })).status, 201);
  assertProblem(await as(T.prefixed, 'GET', '/v1/kv/shared/secret/b'), 403, 'forbidden');
  assertProblem(await as(T.prefixed, 'PUT', '/v1/kvm/buckets/shared/keys/secret/z', { body: 'z' }), 403, 'forbidden');
  const keys = (await as(T.prefixed, 'GET', '/v1/kvm/buckets/shared/keys')).json;
  assert.deepEqual(keys.sort(), ['config/a', 'config/c']);
  const all = (await as(T.admin, 'GET', '/v1/kvm/buckets/shared/keys')).json;
  assert.ok(all.includes('secret/b'), 'the admin sees every key');
});

test('listings hide buckets a token has no rule for, as if they did not exist', async () => {
  const r = (await as(T.reader, 'GET', '/v1/kvm/buckets')).json;
  assert.ok(r.includes('app-one'));
  assert.ok(!r.includes('other') && !r.includes('shared'), `reader sees ${r}`);
  const a = (await as(T.admin, 'GET', '/v1/kvm/buckets')).json;
  assert.ok(a.includes('other') && a.includes('shared'));
  for (const b of ['app-files', 'other-files']) {
    assert.equal((await as(T.admin, 'PUT', `/v1/objm/buckets/${b}`, { body: '{}' })).status, 201);
  }
  const o = (await as(T.reader, 'GET', '/v1/objm/buckets')).json;
  assert.ok(o.includes('app-files') && !o.includes('other-files'), `reader sees object buckets ${o}`);
});

test('watch needs the watch permission; ?authorization= is accepted there', async () => {
  assertProblem(await as(T.reader, 'GET', '/v1/kvm/buckets/app-one/watch'), 403, 'forbidden');
  const w = await http(base, 'GET', `/v1/kvm/buckets/app-one/watch?authorization=${T.watcher}`, { timeoutMs: 3000 })
    .catch((e) => ({ status: 'stream', e }));
  assert.notEqual(w.status, 401);
  assert.notEqual(w.status, 403);
});

test('tokens never appear in the log', async () => {
  await sleep(100);
  const log = stack.jg.log();
  for (const t of Object.values(T)) assert.ok(!log.includes(t), `token ${t.slice(0, 4)}... found in the log`);
});

test('CORS: an allowed origin gets the headers and a preflight, others do not', async () => {
  const r = await as(T.admin, 'GET', '/v1/kv/app-one/k', { headers: { Origin: 'http://app.example' } });
  assert.equal(r.headers.get('access-control-allow-origin'), 'http://app.example');
  assert.match(r.headers.get('access-control-expose-headers') || '', /ETag/);
  assert.match(r.headers.get('access-control-expose-headers') || '', /X-Nats-Kv-Revision/);
  const p = await http(base, 'OPTIONS', '/v1/kv/app-one/k', {
    headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'authorization, if-match' },
  });
  assert.equal(p.status, 204, 'preflight needs no token');
  assert.match(p.headers.get('access-control-allow-methods') || '', /PUT/);
  assert.match(p.headers.get('access-control-allow-headers') || '', /if-match/i);
  const o = await as(T.admin, 'GET', '/v1/kv/app-one/k', { headers: { Origin: 'http://evil.example' } });
  assert.equal(o.headers.get('access-control-allow-origin'), null);
});

test('SIGHUP loads a changed tokens file without a restart', async () => {
  assertProblem(await as(T.later, 'GET', '/v1/kv/app-one/k'), 401, 'unauthorized');
  writeTokens(`later ${hash(T.later)} read@app-*`);
  stack.jg.proc.kill('SIGHUP');
  let ok = false;
  for (let i = 0; i < 50 && !ok; i++) {
    ok = (await as(T.later, 'GET', '/v1/kv/app-one/k')).status === 200;
    if (!ok) await sleep(100);
  }
  assert.ok(ok, 'the new token works after SIGHUP');
  assert.equal((await as(T.reader, 'GET', '/v1/kv/app-one/k')).status, 200, 'old tokens still work');
});

test('watch streams per token are limited (429 beyond), other tokens unaffected', async () => {
  const jg = await startJetgate({ natsUrl: stack.nats.url, args: ['--tokens-file', tokensFile, '--max-watchers-per-token', '2'] });
  const open = [];
  const watch = async (token) => {
    const ac = new AbortController();
    const r = await fetch(`${jg.base}/v1/kvm/buckets/app-one/watch`, { headers: { Authorization: `Bearer ${token}` }, signal: ac.signal });
    open.push(ac);
    return r;
  };
  try {
    assert.equal((await watch(T.watcher)).status, 200);
    assert.equal((await watch(T.watcher)).status, 200);
    const third = await watch(T.watcher);
    assert.equal(third.status, 429);
    assert.equal((await third.json()).code, 'too_many_requests');
    assert.ok(third.headers.get('retry-after'));
    assert.equal((await watch(T.admin)).status, 200, 'another token still may');
    open.shift().abort(); // one of the watcher's streams ends
    let ok = false;
    for (let i = 0; i < 40 && !ok; i++) {
      await sleep(100);
      const r = await watch(T.watcher);
      ok = r.status === 200;
    }
    assert.ok(ok, 'a place frees when a stream ends');
  } finally {
    for (const ac of open) ac.abort();
    await jg.stop();
  }
});

test('no tokens and a listener that is not loopback: refuses to start unless allow_open_access', async () => {
  const port = await freePort();
  let out = '';
  let code = 0;
  try {
    execFileSync(JETGATE_BIN, ['--listen', `0.0.0.0:${port}`, '--nats', 'nats://127.0.0.1:1'], { stdio: 'pipe', timeout: 10000 });
  } catch (e) {
    code = e.status;
    out = `${e.stdout}${e.stderr}`;
  }
  assert.notEqual(code, 0, 'it exits with an error');
  assert.match(out, /allow_open_access/);
  const jg = await startJetgate({ natsUrl: stack.nats.url, args: ['--listen', `0.0.0.0:${port}`, '--allow-open-access'] });
  try {
    assert.equal((await http(jg.base, 'GET', '/v1/kv/app-one/k')).status, 200);
    assert.match(jg.log(), /open access/);
  } finally {
    await jg.stop();
  }
});
