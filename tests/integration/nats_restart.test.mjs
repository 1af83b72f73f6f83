// jetgate across NATS outages: it answers at once while NATS is gone
// (503 nats_unavailable, never a hang), refused writes are never applied
// later, acknowledged writes survive, and it reconnects by itself when the
// server comes back -- also when NATS was not there at start-up.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  startNats, startJetgate, freePort, createKvBucket, uniqueName, http,
  assertProblem, sleep,
} from '../lib/harness.mjs';

const REQUEST_TIMEOUT_MS = 2000;
// No request may take longer than the request timeout plus 1 s.
const ANSWER_WITHIN_MS = REQUEST_TIMEOUT_MS + 1000;

// every test starts its own processes and stops them when it ends, pass or fail
const cleanups = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) {
    try { await fn(); } catch { /* keep cleaning */ }
  }
});

/** A request that must be answered within ANSWER_WITHIN_MS; a hang fails the test. */
async function quick(base, method, path, opts = {}) {
  const t0 = Date.now();
  let r;
  try {
    r = await http(base, method, path, { timeoutMs: ANSWER_WITHIN_MS, ...opts });
  } catch (e) {
    const ms = Date.now() - t0;
    throw new Error(`${method} ${path} got no answer within ${ANSWER_WITHIN_MS} ms (${ms} ms: ${e.name} ${e.message})`);
  }
  return r;
}

function assertRetryAfter(r, what) {
  const ra = r.headers.get('retry-after');
  assert.ok(ra, `${what}: 503 without Retry-After`);
  assert.ok(/^\d+$/.test(ra) || !Number.isNaN(Date.parse(ra)),
    `${what}: Retry-After '${ra}' is neither delta-seconds nor an HTTP-date`);
}

function assertUnavailable(r, what) {
  assertProblem(r, 503, 'nats_unavailable', what);
  assertRetryAfter(r, what);
}

/** GET while NATS is down: 503 nats_unavailable, or 504 nats_timeout if it was already in flight. */
function assertReadRefused(r, what) {
  if (r.status === 504) {
    assertProblem(r, 504, 'nats_timeout', what);
  } else {
    assertUnavailable(r, what);
  }
}

async function waitStatus(base, path, status, withinMs, what) {
  const deadline = Date.now() + withinMs;
  let last;
  for (;;) {
    const r = await quick(base, 'GET', path);
    last = r.status;
    if (r.status === status) return r;
    if (Date.now() >= deadline) {
      assert.fail(`${what}: ${path} still ${last} after ${withinMs} ms (wanted ${status})`);
    }
    await sleep(100);
  }
}

const kvp = (bucket, key) => `/v1/kv/${bucket}/${key}`;

/** Waits until every thread of pid is in the stopped state (Linux /proc). */
async function waitStopped(pid) {
  const deadline = Date.now() + 2000;
  for (;;) {
    let all = true;
    try {
      for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
        const stat = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        if (state !== 'T' && state !== 't') all = false;
      }
    } catch {
      all = true; // no /proc: fall back to a short pause
      await sleep(200);
    }
    if (all) return;
    assert.ok(Date.now() < deadline, `process ${pid} did not stop`);
    await sleep(10);
  }
}

test('NATS stopped and restarted under a running jetgate', async () => {
  const nats = await startNats();
  cleanups.push(() => nats.destroy());
  const jg = await startJetgate({ natsUrl: nats.url, args: ['--request-timeout', '2s'] });
  cleanups.push(() => jg.stop());
  const base = jg.base;

  const bucket = uniqueName('rs');
  await createKvBucket(base, bucket, { history: 5 });

  // writes acknowledged before the outage
  const acked = new Map();
  for (let i = 0; i < 8; i++) {
    const key = `before.${i}`;
    const value = `acked-${i}-${Date.now()}`;
    const r = await quick(base, 'PUT', kvp(bucket, key), { body: value });
    assert.equal(r.status, 201, r.text);
    acked.set(key, value);
  }
  const delBefore = await quick(base, 'DELETE', kvp(bucket, 'before.7'));
  assert.equal(delBefore.status, 200);
  acked.delete('before.7');

  // reads in flight while NATS goes away: any answer but a hang
  const inFlight = [];
  for (let i = 0; i < 4; i++) {
    inFlight.push(quick(base, 'GET', kvp(bucket, `before.${i}`)));
  }
  await nats.stop();
  const stoppedAt = Date.now();
  for (const [i, r] of (await Promise.all(inFlight)).entries()) {
    if (r.status === 200) {
      assert.equal(r.text, acked.get(`before.${i}`));
    } else {
      assertReadRefused(r, `GET in flight while NATS stopped (before.${i})`);
    }
  }

  // within the request timeout plus 1 s: not ready, and writes refused with 503
  await waitStatus(base, '/readyz', 503, ANSWER_WITHIN_MS, 'readiness after NATS stopped');
  const refused = []; // {key, value, prior}
  let n = 0;
  const tryPut = async (key, prior) => {
    const value = `refused-${n++}-${key}-${Date.now()}`;
    const r = await quick(base, 'PUT', kvp(bucket, key), { body: value });
    if (r.status === 503) refused.push({ key, value, prior });
    return r;
  };
  const first = await tryPut('down.first', undefined);
  assertUnavailable(first, 'PUT while NATS is down');
  assert.ok(Date.now() - stoppedAt <= ANSWER_WITHIN_MS,
    `writes refused only ${Date.now() - stoppedAt} ms after NATS stopped`);

  // everything else while NATS is down answers at once, and nothing hangs
  for (let i = 0; i < 5; i++) {
    const r = await tryPut(`down.${i}`, undefined);
    assertUnavailable(r, `PUT down.${i} while NATS is down`);
  }
  for (const key of ['before.0', 'before.1']) {
    const r = await tryPut(key, acked.get(key));
    assertUnavailable(r, `PUT over ${key} while NATS is down`);
  }
  const post = await quick(base, 'POST', kvp(bucket, 'down.post'), { body: 'refused-post' });
  assertUnavailable(post, 'POST while NATS is down');
  refused.push({ key: 'down.post', value: 'refused-post', prior: undefined });
  const del = await quick(base, 'DELETE', kvp(bucket, 'before.2'));
  assertUnavailable(del, 'DELETE while NATS is down');
  const purge = await quick(base, 'DELETE', `${kvp(bucket, 'before.3')}?purge=true`);
  assertUnavailable(purge, 'DELETE ?purge=true while NATS is down');

  // issued after jetgate knows NATS is gone: 503 at once (504 is only for requests in flight)
  const get = await quick(base, 'GET', kvp(bucket, 'before.0'));
  assertUnavailable(get, 'GET while NATS is down');
  const keys = await quick(base, 'GET', `/v1/kvm/buckets/${bucket}/keys`);
  assertUnavailable(keys, 'GET keys while NATS is down');
  const hist = await quick(base, 'GET', `${kvp(bucket, 'before.0')}?history=true`);
  assertUnavailable(hist, 'GET history while NATS is down');
  const mk = await quick(base, 'PUT', `/v1/kvm/buckets/${uniqueName('rsnew')}`, { body: { history: 1 } });
  assertUnavailable(mk, 'bucket create while NATS is down');

  const hz = await quick(base, 'GET', '/healthz');
  assert.equal(hz.status, 200, '/healthz stays 200 while NATS is down');
  const rz = await quick(base, 'GET', '/readyz');
  assert.equal(rz.status, 503);

  // still down a little later: still refused at once
  await sleep(1000);
  const late = await tryPut('down.late', undefined);
  assertUnavailable(late, 'PUT 1 s into the outage');
  assert.ok(refused.length >= 9, `refused writes recorded: ${refused.length}`);

  // NATS comes back on the same port with the same store
  await nats.restart();
  await waitStatus(base, '/readyz', 200, 15000, 'readiness after NATS restarted');

  // a refused write must never be applied later
  await sleep(2000);

  for (const [key, value] of acked) {
    const r = await quick(base, 'GET', kvp(bucket, key));
    assert.equal(r.status, 200, `acknowledged ${key} lost after the restart: ${r.status} ${r.text}`);
    assert.equal(r.text, value, `acknowledged ${key}`);
  }
  const gone = await quick(base, 'GET', kvp(bucket, 'before.7'));
  assertProblem(gone, 404, 'key_not_found', 'a key deleted before the outage stays deleted');

  const refusedValues = new Set(refused.map((x) => x.value));
  const touched = new Set([...refused.map((x) => x.key), 'before.2', 'before.3']);
  for (const key of touched) {
    const r = await quick(base, 'GET', kvp(bucket, key));
    const prior = key === 'before.2' || key === 'before.3' ? acked.get(key)
      : refused.find((x) => x.key === key).prior;
    if (prior === undefined) {
      assertProblem(r, 404, 'key_not_found', `${key} was only ever written while NATS was down`);
      assert.equal(r.headers.get('x-nats-kv-operation'), null,
        `${key} holds a ${r.headers.get('x-nats-kv-operation')} entry though every write to it was refused`);
    } else {
      assert.equal(r.status, 200, `${key}: ${r.status} ${r.text}`);
      assert.equal(r.text, prior, `${key} must still hold the value acknowledged before the outage`);
    }
    const h = await quick(base, 'GET', `${kvp(bucket, key)}?history=true`);
    if (h.status === 200) {
      for (const e of h.json) {
        const v = e.value === undefined ? '' : Buffer.from(e.value, 'base64').toString();
        assert.ok(!refusedValues.has(v), `refused value '${v}' was applied to ${key} at revision ${e.revision}`);
        assert.equal(e.operation, 'PUT', `${key} has a ${e.operation} entry at ${e.revision} after refused deletes`);
      }
    }
  }
  const list = await quick(base, 'GET', `/v1/kvm/buckets/${bucket}/keys`);
  assert.equal(list.status, 200);
  assert.deepEqual([...list.json].sort(), [...acked.keys()].sort(),
    'the key list holds exactly the acknowledged keys');

  // new writes work
  const w = await quick(base, 'PUT', kvp(bucket, 'after.1'), { body: 'after' });
  assert.equal(w.status, 201, w.text);
  const rb = await quick(base, 'GET', kvp(bucket, 'after.1'));
  assert.equal(rb.status, 200);
  assert.equal(rb.text, 'after');
  const c = await quick(base, 'POST', kvp(bucket, 'down.first'), { body: 'created-after' });
  assert.equal(c.status, 201, `create of a key whose only write was refused: ${c.text}`);
  const b2 = uniqueName('rsafter');
  await createKvBucket(base, b2, { history: 1 });
  assert.equal(jg.running(), true, 'jetgate is still running');
});

test('jetgate started while NATS is down serves health, refuses data, and becomes ready when NATS starts', async () => {
  const natsPort = await freePort();
  const jg = await startJetgate({
    natsUrl: `nats://127.0.0.1:${natsPort}`,
    args: ['--request-timeout', '2s'],
    waitReady: false,
  });
  cleanups.push(() => jg.stop());
  const base = jg.base;

  const hz = await quick(base, 'GET', '/healthz');
  assert.equal(hz.status, 200);
  const rz = await quick(base, 'GET', '/readyz');
  assert.equal(rz.status, 503);

  assertUnavailable(await quick(base, 'GET', '/v1/kv/b/k'), 'GET key with no NATS');
  assertUnavailable(await quick(base, 'PUT', '/v1/kv/b/k', { body: 'v' }), 'PUT key with no NATS');
  assertUnavailable(await quick(base, 'DELETE', '/v1/kv/b/k'), 'DELETE key with no NATS');
  assertUnavailable(await quick(base, 'GET', '/v1/kvm/buckets'), 'bucket list with no NATS');
  assertUnavailable(await quick(base, 'PUT', '/v1/kvm/buckets/b', { body: { history: 1 } }),
    'bucket create with no NATS');
  // input validation does not need NATS
  assertProblem(await quick(base, 'GET', '/v1/kv/bad.name/k'), 400, 'invalid_bucket', 'with no NATS');

  // still not ready a while later, and still answering at once
  await sleep(1500);
  assert.equal((await quick(base, 'GET', '/readyz')).status, 503);
  assertUnavailable(await quick(base, 'PUT', '/v1/kv/b/k', { body: 'v2' }), 'PUT key with no NATS, later');

  const nats = await startNats({ port: natsPort });
  cleanups.push(() => nats.destroy());
  await waitStatus(base, '/readyz', 200, 15000, 'readiness once NATS started');

  const bucket = uniqueName('late');
  await createKvBucket(base, bucket, { history: 2 });
  const w = await quick(base, 'PUT', kvp(bucket, 'k'), { body: 'hello' });
  assert.equal(w.status, 201, w.text);
  const r = await quick(base, 'GET', kvp(bucket, 'k'));
  assert.equal(r.status, 200);
  assert.equal(r.text, 'hello');
  // the writes refused before NATS existed were never applied (bucket b was never made)
  const b = await quick(base, 'GET', '/v1/kv/b/k');
  assertProblem(b, 404, 'bucket_not_found', 'bucket b was only ever created while NATS was down');
});

test('two outages in a row (SIGTERM, then SIGKILL): jetgate reconnects each time', async () => {
  const nats = await startNats();
  cleanups.push(() => nats.destroy());
  const jg = await startJetgate({ natsUrl: nats.url, args: ['--request-timeout', '2s'] });
  cleanups.push(() => jg.stop());
  const base = jg.base;
  const bucket = uniqueName('twice');
  await createKvBucket(base, bucket, { history: 5 });

  for (let round = 1; round <= 2; round++) {
    const w = await quick(base, 'PUT', kvp(bucket, `r${round}`), { body: `round-${round}` });
    assert.equal(w.status, 201, `round ${round}: PUT answered ${w.status} after ${w.ms} ms: ${w.text}\n${jg.log().slice(-3000)}`);
    // round 1: graceful stop; round 2: the server dies without a goodbye
    if (round === 1) await nats.stop();
    else await nats.kill();
    await waitStatus(base, '/readyz', 503, ANSWER_WITHIN_MS, `readiness after outage ${round}`);
    const refusedPut = await quick(base, 'PUT', kvp(bucket, `r${round}`), { body: `refused-${round}` });
    assertUnavailable(refusedPut, `PUT during outage ${round}`);
    await nats.restart();
    await waitStatus(base, '/readyz', 200, 15000, `readiness after restart ${round}`);
  }
  await sleep(2000);
  const r1 = await quick(base, 'GET', kvp(bucket, 'r1'));
  assert.equal(r1.status, 200);
  assert.equal(r1.text, 'round-1', 'r1 holds its acknowledged value, not the refused one');
  // after a SIGKILL nats-server itself may lose its last unsynced write, but a
  // refused write must never show up
  const r2 = await quick(base, 'GET', kvp(bucket, 'r2'));
  assert.ok(r2.status === 404 || (r2.status === 200 && r2.text === 'round-2'),
    `r2 after the SIGKILL outage: ${r2.status} '${r2.text}'`);
  const w = await quick(base, 'PUT', kvp(bucket, 'after'), { body: 'x' });
  assert.equal(w.status, 201, w.text);
});

test('a NATS server that stops answering: 504 nats_timeout (or 503) within the request timeout, then recovery', async () => {
  const nats = await startNats();
  cleanups.push(() => nats.destroy());
  const jg = await startJetgate({ natsUrl: nats.url, args: ['--request-timeout', '2s'] });
  cleanups.push(() => jg.stop());
  const base = jg.base;
  const bucket = uniqueName('frozen');
  await createKvBucket(base, bucket, { history: 5 });
  const w0 = await quick(base, 'PUT', kvp(bucket, 'k'), { body: 'before' });
  assert.equal(w0.status, 201);

  // freeze nats-server: the TCP connection stays up but nothing is answered
  nats.proc.kill('SIGSTOP');
  let frozen = true;
  cleanups.push(() => { if (frozen) nats.proc.kill('SIGCONT'); });
  await waitStopped(nats.proc.pid);

  const noAnswer = (r, what) => {
    if (r.status === 503) assertUnavailable(r, what);
    else assertProblem(r, 504, 'nats_timeout', what);
  };
  try {
    const [g, p, idem, rz, hz] = await Promise.all([
      quick(base, 'GET', kvp(bucket, 'k')),
      quick(base, 'PUT', kvp(bucket, 'k'), { body: 'during-freeze' }),
      quick(base, 'PUT', kvp(bucket, 'idem'), { body: 'once', headers: { 'Idempotency-Key': 'idem-1' } }),
      quick(base, 'GET', '/readyz'),
      quick(base, 'GET', '/healthz'),
    ]);
    noAnswer(g, 'GET while NATS is frozen');
    noAnswer(p, 'PUT while NATS is frozen');
    noAnswer(idem, 'PUT with Idempotency-Key while NATS is frozen');
    assert.ok(rz.status === 200 || rz.status === 503, `/readyz while NATS is frozen: ${rz.status}`);
    assert.equal(hz.status, 200, '/healthz while NATS is frozen');
  } finally {
    nats.proc.kill('SIGCONT');
    frozen = false;
  }

  await waitStatus(base, '/readyz', 200, 15000, 'readiness after NATS resumed');
  // retrying the timed-out write with the same Idempotency-Key stores it at most once
  const retry = await quick(base, 'PUT', kvp(bucket, 'idem'), { body: 'once', headers: { 'Idempotency-Key': 'idem-1' } });
  assert.equal(retry.status, 201, retry.text);
  const again = await quick(base, 'PUT', kvp(bucket, 'idem'), { body: 'once', headers: { 'Idempotency-Key': 'idem-1' } });
  assert.equal(again.status, 201, again.text);
  assert.equal(again.json, retry.json, 'a repeated Idempotency-Key answers with the revision already stored');
  const h = await quick(base, 'GET', `${kvp(bucket, 'idem')}?history=true`);
  assert.equal(h.status, 200, h.text);
  assert.equal(h.json.length, 1, `the write with Idempotency-Key idem-1 is stored once: ${h.text}`);
  assert.equal(Buffer.from(h.json[0].value, 'base64').toString(), 'once');

  const w = await quick(base, 'PUT', kvp(bucket, 'k'), { body: 'after' });
  assert.equal(w.status, 201, w.text);
  const r = await quick(base, 'GET', kvp(bucket, 'k'));
  assert.equal(r.text, 'after');
});
