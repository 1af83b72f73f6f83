// Blocking reads: GET /v1/kv/{bucket}/{key}?wait=... with If-None-Match
// answers when the key's revision differs from the one the client has, or
// 304 when the wait ends; held reads cost no consumer of their own, count
// against max_held_reads and are freed when their client leaves.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import {
  startStack, http, createKvBucket, uniqueName, kvPath, kvmKeyPath, assertProblem, sleep,
  waitFor, connectNats, jszConsumers, startJetgate, makeTempDir, freePort,
} from '../lib/harness.mjs';

let stack;
let base;

before(async () => {
  stack = await startStack({ args: ['--max-wait', '20s', '--max-held-reads', '5'] });
  base = stack.base;
});

after(async () => {
  await stack?.stop();
});

async function put(bucket, key, value) {
  const r = await http(base, 'PUT', kvPath(bucket, key), { body: value });
  assert.ok(r.status === 200 || r.status === 201, r.text);
  return Number(r.headers.get('x-nats-kv-revision'));
}

function held(bucket, key, rev, wait = '10s', { path = kvPath(bucket, key), method = 'GET' } = {}) {
  return http(base, method, `${path}?wait=${wait}`, {
    headers: { 'If-None-Match': `"${rev}"` }, timeoutMs: 30000,
  });
}

async function heldGauge() {
  const r = await http(base, 'GET', '/metrics');
  const m = /^jetgate_held_reads (\d+)$/m.exec(r.text);
  assert.ok(m, 'jetgate_held_reads in /metrics');
  return Number(m[1]);
}

/** Resolves once n reads are held (the gauge says so). */
async function heldBy(n) {
  await waitFor(async () => (await heldGauge()) === n, 5000, 20, `${n} held reads`);
}

test('a held read answers with the new value once a jetgate PUT changes the key', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b);
  const r1 = await put(b, 'k', 'one');
  const p = held(b, 'k', r1);
  await heldBy(1);
  await sleep(200);
  const r2 = await put(b, 'k', 'two');
  const r = await p;
  assert.equal(r.status, 200);
  assert.equal(r.text, 'two');
  assert.equal(Number(r.headers.get('x-nats-kv-revision')), r2);
  assert.equal(r.headers.get('etag'), `"${r2}"`);
  assert.ok(r.ms >= 150, `answered after the write (${r.ms} ms)`);
  await heldBy(0);
});

test('a write by another NATS client (nats.js) wakes a held read, on the kvm alias too', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b);
  const r1 = await put(b, 'a.b', 'one');
  const p = held(b, 'a.b', r1, '10s', { path: kvmKeyPath(b, 'a.b') });
  const h = http(base, 'HEAD', `${kvPath(b, 'a.b')}?wait=10s`, {
    headers: { 'If-None-Match': `"${r1}"` }, timeoutMs: 30000,
  });
  await heldBy(2);
  const c = await connectNats(stack.nats.url);
  try {
    const kv = await c.kvm.open(b);
    const r2 = await kv.put('a.b', 'from nats.js');
    const [r, rh] = await Promise.all([p, h]);
    assert.equal(r.status, 200);
    assert.equal(r.text, 'from nats.js');
    assert.equal(Number(r.headers.get('x-nats-kv-revision')), r2);
    assert.equal(rh.status, 200);
    assert.equal(Number(rh.headers.get('x-nats-kv-revision')), r2);
  } finally {
    await c.close();
  }
});

test('304 when nothing changes before the wait ends; other keys do not wake it', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b);
  const r1 = await put(b, 'k', 'one');
  const p = held(b, 'k', r1, '1500ms');
  await heldBy(1);
  await put(b, 'k2', 'x');
  await put(b, 'kk', 'y');
  const r = await p;
  assert.equal(r.status, 304);
  assert.equal(r.headers.get('etag'), `"${r1}"`);
  assert.ok(r.ms >= 1400 && r.ms < 5000, `304 at the end of the wait (${r.ms} ms)`);
  await heldBy(0);
});

test('a revision other than the current one answers at once; no wait or no If-None-Match too', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b);
  const r1 = await put(b, 'k', 'one');
  const r2 = await put(b, 'k', 'two');
  let r = await held(b, 'k', r1, '10s');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'two');
  assert.ok(r.ms < 1000);
  r = await http(base, 'GET', `${kvPath(b, 'k')}?wait=10s`);
  assert.equal(r.status, 200);
  assert.ok(r.ms < 1000, 'without If-None-Match, wait changes nothing');
  r = await held(b, 'k', r2, '0s');
  assert.equal(r.status, 304, 'wait=0s answers at once');
  assert.ok(r.ms < 1000);
  r = await held(b, 'missing', 5, '10s');
  assert.equal(r.status, 404);
  assert.ok(r.ms < 1000);
});

test('a key that appears, a delete and a purge wake held reads', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b);
  // "0": the client has no value yet
  let p = held(b, 'new', 0);
  await heldBy(1);
  const r1 = await put(b, 'new', 'here');
  let r = await p;
  assert.equal(r.status, 200);
  assert.equal(r.text, 'here');
  p = held(b, 'new', r1);
  await heldBy(1);
  let d = await http(base, 'DELETE', kvPath(b, 'new'));
  assert.ok(d.status === 200 || d.status === 204, d.text);
  r = await p;
  assertProblem(r, 404, 'key_not_found');
  assert.equal(r.headers.get('x-nats-kv-operation'), 'DEL');
  const delRev = Number(r.headers.get('x-nats-kv-revision'));
  assert.ok(delRev > r1);
  // held on the delete marker: a purge is a change
  p = held(b, 'new', delRev);
  await heldBy(1);
  d = await http(base, 'DELETE', `${kvPath(b, 'new')}?purge=true`);
  assert.ok(d.status === 200 || d.status === 204, d.text);
  r = await p;
  assertProblem(r, 404, 'key_not_found');
  assert.equal(r.headers.get('x-nats-kv-operation'), 'PURGE');
});

test('bad input: a bare number, no unit, negative, over max_wait, malformed If-None-Match', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b);
  const r1 = await put(b, 'k', 'one');
  for (const w of ['30', '30x', '-5s', '21s', '', 's', '1e3s']) {
    const r = await held(b, 'k', r1, encodeURIComponent(w));
    assertProblem(r, 400, 'invalid_parameter', `wait=${w}`);
  }
  for (const inm of ['7', '"x"', '"1", "2"', 'W/"1"', '""', '"-1"', '*']) {
    const r = await http(base, 'GET', `${kvPath(b, 'k')}?wait=5s`, {
      headers: { 'If-None-Match': inm },
    });
    assertProblem(r, 400, 'invalid_parameter', `If-None-Match: ${inm}`);
  }
  const r = await http(base, 'GET', `${kvPath(b, 'k')}?wait=5s&history=true`, {
    headers: { 'If-None-Match': `"${r1}"` },
  });
  assertProblem(r, 400, 'invalid_parameter', 'wait with history');
  assert.equal(await heldGauge(), 0);
});

test('held reads over max_held_reads get 429 with Retry-After; they share one consumer', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b);
  const revs = [];
  for (let i = 0; i < 6; i++) revs.push(await put(b, `k${i}`, 'v'));
  const before = (await jszConsumers(stack.nats.monitorPort)).length;
  const ps = [];
  for (let i = 0; i < 5; i++) ps.push(held(b, `k${i}`, revs[i], '10s'));
  await heldBy(5);
  const consumers = (await jszConsumers(stack.nats.monitorPort)).length;
  assert.ok(consumers - before <= 1, `one consumer for 5 held reads (${consumers - before})`);
  const r = await held(b, 'k5', revs[5], '10s');
  assertProblem(r, 429, 'too_many_requests');
  assert.ok(r.headers.get('retry-after'), 'Retry-After');
  for (let i = 0; i < 5; i++) await put(b, `k${i}`, 'w');
  for (const x of await Promise.all(ps)) assert.equal(x.status, 200);
  await heldBy(0);
});

test('a client that leaves frees its held read at once', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b);
  const r1 = await put(b, 'k', 'one');
  const u = new URL(base);
  const sock = net.connect(Number(u.port), u.hostname);
  await new Promise((res) => sock.on('connect', res));
  sock.write(`GET ${kvPath(b, 'k')}?wait=15s HTTP/1.1\r\nHost: x\r\nIf-None-Match: "${r1}"\r\n\r\n`);
  await heldBy(1);
  const t0 = Date.now();
  sock.destroy();
  await heldBy(0);
  assert.ok(Date.now() - t0 < 3000, `freed in ${Date.now() - t0} ms`);
});

test('the bucket deleted while a read is held: 404 at once', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b);
  const r1 = await put(b, 'k', 'one');
  const p = held(b, 'k', r1, '15s');
  await heldBy(1);
  const d = await http(base, 'DELETE', `/v1/kvm/buckets/${b}`);
  assert.ok(d.status === 204 || d.status === 200, d.text);
  const r = await p;
  assertProblem(r, 404, 'bucket_not_found');
  assert.ok(r.ms < 5000, `answered in ${r.ms} ms`);
});

function heldEntries(bucket, query, rev, wait = '10s') {
  return http(base, 'GET', `/v1/kvm/buckets/${bucket}/entries?${query}&wait=${wait}`, {
    headers: { 'If-None-Match': `"${rev}"` }, timeoutMs: 30000,
  });
}

test('entries with If-None-Match: woken only by a change of a selected key', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b);
  await put(b, 'app.a', '1');
  await put(b, 'other', '1');
  const first = await http(base, 'GET', `/v1/kvm/buckets/${b}/entries?prefix=app.`);
  assert.equal(first.status, 200);
  const R = Number(first.headers.get('x-nats-kv-bucket-revision'));
  const p = heldEntries(b, 'prefix=app.', R);
  const k = heldEntries(b, 'key=app.k', R);
  await heldBy(2);
  await put(b, 'other', '2');
  await put(b, 'apple', '2');
  await sleep(300);
  assert.equal(await heldGauge(), 2, 'changes of other keys do not wake them');
  const rb = await put(b, 'app.b', '2');
  const r = await p;
  assert.equal(r.status, 200, r.text);
  assert.ok(Number(r.headers.get('x-nats-kv-bucket-revision')) >= rb);
  const got = r.json.map((e) => [e.key, e.revision]);
  assert.deepEqual(got.map(([key]) => key).sort(), ['app.a', 'app.b']);
  assert.equal(await heldGauge(), 1, 'the key= read is still held');
  const rk = await put(b, 'app.k', '3');
  const r2 = await k;
  assert.equal(r2.status, 200, r2.text);
  assert.deepEqual(r2.json.map((e) => [e.key, e.revision]), [['app.k', rk]]);
});

test('entries: a change already after R answers at once; none before the wait ends is 304', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b);
  await put(b, 'x.a', '1');
  const first = await http(base, 'GET', `/v1/kvm/buckets/${b}/entries?filter=x.*`);
  const R = Number(first.headers.get('x-nats-kv-bucket-revision'));
  await put(b, 'x.a', '2');
  let r = await heldEntries(b, 'filter=x.*', R);
  assert.equal(r.status, 200);
  assert.ok(r.ms < 2000, `at once (${r.ms} ms)`);
  const R2 = Number(r.headers.get('x-nats-kv-bucket-revision'));
  await put(b, 'y', '1');
  r = await heldEntries(b, 'filter=x.*', R2, '1200ms');
  assert.equal(r.status, 304);
  assert.equal(r.headers.get('etag'), `"${R2}"`);
  assert.ok(r.ms >= 1100, `at the end of the wait (${r.ms} ms)`);
  // a revision the bucket does not hold (past its end): a change, answered at once
  r = await heldEntries(b, 'filter=x.*', R2 + 1000);
  assert.equal(r.status, 200);
  assert.ok(r.ms < 2000, `at once (${r.ms} ms)`);
  assert.deepEqual(r.json.map((e) => e.key), ['x.a']);
  r = await http(base, 'GET', `/v1/kvm/buckets/${b}/entries?filter=x.*&wait=5s`, {
    headers: { 'If-None-Match': 'R' },
  });
  assertProblem(r, 400, 'invalid_parameter');
  r = await http(base, 'GET', `/v1/kvm/buckets/${b}/entries?filter=x.*&wait=5`, {
    headers: { 'If-None-Match': `"${R2}"` },
  });
  assertProblem(r, 400, 'invalid_parameter');
  await heldBy(0);
});

test('SIGTERM answers held reads at once (304) and jetgate exits cleanly', async () => {
  const s = await startStack({});
  try {
    const b = uniqueName('w');
    await createKvBucket(s.base, b);
    const r = await http(s.base, 'PUT', kvPath(b, 'k'), { body: 'x' });
    const rev = r.headers.get('x-nats-kv-revision');
    const p = http(s.base, 'GET', `${kvPath(b, 'k')}?wait=60s`, {
      headers: { 'If-None-Match': `"${rev}"` }, timeoutMs: 90000,
    });
    await waitFor(async () => /^jetgate_held_reads 1$/m.test((await http(s.base, 'GET', '/metrics')).text),
      5000, 20, 'the read held');
    const t0 = Date.now();
    const code = await s.jg.stop();
    const a = await p;
    assert.equal(a.status, 304);
    assert.equal(code, 0, 'jetgate exits 0');
    assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
  } finally {
    await s.nats.destroy();
  }
});

test('a reload of max_wait and max_held_reads applies to new requests; held ones go on', async () => {
  const dir = makeTempDir('jetgate-wait-reload-');
  const conf = path.join(dir, 'jetgate.conf');
  const port = await freePort();
  const write = (maxWait, maxHeld) => fs.writeFileSync(conf,
    `listen = 127.0.0.1:${port}\nnats = ${stack.nats.url}\nmax_wait = ${maxWait}\n`
    + `max_held_reads = ${maxHeld}\nrequest_timeout = 2s\n`);
  write('10s', 1);
  const jg = await startJetgate({ defaultArgs: false, port, args: ['-c', conf] });
  try {
    const b = uniqueName('w');
    await createKvBucket(jg.base, b);
    const r = await http(jg.base, 'PUT', kvPath(b, 'k'), { body: 'x' });
    const rev = r.headers.get('x-nats-kv-revision');
    const get = (wait) => http(jg.base, 'GET', `${kvPath(b, 'k')}?wait=${wait}`, {
      headers: { 'If-None-Match': `"${rev}"` }, timeoutMs: 30000,
    });
    const gauge = async () => Number(/^jetgate_held_reads (\d+)$/m.exec((await http(jg.base, 'GET', '/metrics')).text)[1]);
    assertProblem(await get('20s'), 400, 'invalid_parameter', 'over max_wait 10s');
    const first = get('8s');
    await waitFor(async () => (await gauge()) === 1, 5000, 20, 'one held');
    assertProblem(await get('3s'), 429, 'too_many_requests', 'over max_held_reads 1');
    write('30s', 2);
    jg.proc.kill('SIGHUP');
    // a stale revision answers at once once 20s is within max_wait
    await waitFor(async () => (await http(jg.base, 'GET', `${kvPath(b, 'k')}?wait=20s`, {
      headers: { 'If-None-Match': '"999999"' } })).status === 200, 5000, 100, 'max_wait = 30s applied');
    const second = http(jg.base, 'GET', `${kvPath(b, 'k2')}?wait=20s`, {
      headers: { 'If-None-Match': '"0"' }, timeoutMs: 30000,
    });
    await waitFor(async () => (await gauge()) === 2, 5000, 20, 'two held (max_held_reads = 2)');
    await http(jg.base, 'PUT', kvPath(b, 'k2'), { body: 'y' });
    assert.equal((await second).status, 200);
    const f = await first;
    assert.equal(f.status, 304, 'the read held before the reload ends at its own wait');
  } finally {
    await jg.stop();
  }
});
