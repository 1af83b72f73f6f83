// Property test of blocking reads: many reads held on random keys while a
// writer writes random keys at random moments.  Every held read answers
// with a revision of its key newer than the one it had, no older than the
// first write after it, soon after that write; or 304 only when no write
// of its key was acknowledged well before the wait ended, and never before
// the wait ended.  HOLD_PROPERTY_ROUNDS sets the rounds (default 3, about
// ten seconds; `make check-wait-long` runs 50).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startStack, http, createKvBucket, uniqueName, kvPath, sleep } from '../lib/harness.mjs';

const ROUNDS = Number(process.env.HOLD_PROPERTY_ROUNDS || 3);
const KEYS = 12;
const HOLDS = 60;
const WAKE_MS = 2000;   // a held read answers this soon after the write that releases it
const SLACK_MS = 300;   // a write acknowledged this close to the end of a wait may come too late

let stack;
before(async () => { stack = await startStack({ args: ['--max-wait', '1m'] }); });
after(async () => { await stack?.stop(); });

const rnd = (n) => Math.floor(Math.random() * n);

async function round(i) {
  const base = stack.base;
  const b = uniqueName('p');
  await createKvBucket(base, b, { history: 1 });
  const writes = new Map(); // key -> [{rev, ack}]
  const latest = new Map();
  for (let k = 0; k < KEYS; k++) writes.set(`k${k}`, []);
  // some keys exist before, some appear later
  for (let k = 0; k < KEYS; k += 2) {
    const r = await http(base, 'PUT', kvPath(b, `k${k}`), { body: 'v0' });
    const rev = Number(r.headers.get('x-nats-kv-revision'));
    latest.set(`k${k}`, rev);
    writes.get(`k${k}`).push({ rev, ack: Date.now() });
  }
  let writing = true;
  const writer = (async () => {
    while (writing) {
      await sleep(rnd(60));
      const key = `k${rnd(KEYS)}`;
      const r = await http(base, 'PUT', kvPath(b, key), { body: `v${Date.now()}` });
      const rev = Number(r.headers.get('x-nats-kv-revision'));
      const ack = Date.now();
      writes.get(key).push({ rev, ack });
      if (rev > (latest.get(key) ?? 0)) latest.set(key, rev);
    }
  })();
  const holds = [];
  for (let h = 0; h < HOLDS; h++) {
    await sleep(rnd(30));
    const key = `k${rnd(KEYS)}`;
    const R = latest.get(key) ?? 0;
    const wait = 300 + rnd(1500);
    const t0 = Date.now();
    holds.push(http(base, 'GET', `${kvPath(b, key)}?wait=${wait}ms`, {
      headers: { 'If-None-Match': `"${R}"` }, timeoutMs: 20000,
    }).then((r) => ({ key, R, wait, t0, t1: Date.now(), r })));
  }
  const results = await Promise.all(holds);
  writing = false;
  await writer;
  for (const { key, R, wait, t0, t1, r } of results) {
    const after = writes.get(key).filter((w) => w.rev > R).sort((x, y) => x.rev - y.rev);
    const first = after[0];
    const where = `round ${i}, ${key}, R=${R}, wait ${wait} ms, answered ${r.status} after ${t1 - t0} ms`;
    if (r.status === 304) {
      assert.ok(t1 - t0 >= wait - 20, `304 before the wait ended: ${where}`);
      assert.ok(!first || first.ack > t0 + wait - SLACK_MS,
        `304 although revision ${first?.rev} was acknowledged ${first ? t0 + wait - first.ack : 0} ms before the end: ${where}`);
    } else {
      assert.equal(r.status, 200, `${where}: ${r.text}`);
      const rev = Number(r.headers.get('x-nats-kv-revision'));
      assert.ok(first, `answered ${rev} with no write after R: ${where}`);
      assert.ok(after.some((w) => w.rev === rev), `revision ${rev} is not one of the key's: ${where}`);
      assert.ok(rev >= first.rev, `revision ${rev} older than the first write after R (${first.rev}): ${where}`);
      assert.ok(t1 - Math.max(first.ack, t0) <= WAKE_MS, `answered ${t1 - first.ack} ms after the write: ${where}`);
    }
  }
  const m = await http(base, 'GET', '/metrics');
  assert.match(m.text, /^jetgate_held_reads 0$/m);
  await http(base, 'DELETE', `/v1/kvm/buckets/${b}`);
}

test(`held reads against a random writer (${ROUNDS} rounds)`, async () => {
  for (let i = 0; i < ROUNDS; i++) await round(i);
});
