// KV watch resume: readers that disconnect and come back with Last-Event-ID
// while a writer is busy get every revision of their filter exactly once
// and in order -- also across a nats-server restart; a reader too slow for
// its queue gets `overflow` and loses nothing by resuming.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack, startJetgate, createKvBucket, uniqueName, http, sleep,
} from '../lib/harness.mjs';
import { openSse } from './watch_sse.mjs';

const stops = [];
after(async () => {
  for (const fn of stops.reverse()) {
    try { await fn(); } catch { /* keep going */ }
  }
});

/** PUT that retries while NATS is away; the Idempotency-Key makes a retry after 504 safe. */
async function putRetry(base, bucket, key, value, id) {
  for (let attempt = 0; ; attempt++) {
    let r;
    try {
      r = await http(base, 'PUT', `/v1/kv/${bucket}/${key}`, {
        body: value, headers: { 'Idempotency-Key': id }, timeoutMs: 5000,
      });
    } catch (e) {
      r = { status: 0, text: e.message };
    }
    if (r.status === 200 || r.status === 201) return Number(r.headers.get('x-nats-kv-revision'));
    if (![0, 503, 504].includes(r.status) || attempt > 200) {
      throw new Error(`PUT ${key}: ${r.status} ${r.text}`);
    }
    await sleep(100);
  }
}

/**
 * A reader that keeps cutting its connection after a few events and
 * reconnecting with Last-Event-ID, as a browser's EventSource does.
 * Returns {revs (all entry revisions received, in order), reconnects, stop(), done}.
 */
function flakyReader(base, path, { minEvents = 5, maxEvents = 25 } = {}) {
  const st = { revs: [], reconnects: 0, resets: 0, synced: 0, stopAt: null, last: null, errors: [] };
  st.done = (async () => {
    for (;;) {
      const headers = st.last !== null ? { 'Last-Event-ID': String(st.last) } : {};
      let s;
      try {
        s = await openSse(base, path, { headers, timeoutMs: 5000 });
      } catch (e) {
        await sleep(100);
        continue;
      }
      if (s.status !== 200) {
        if (s.status !== 503 && s.status !== 504) st.errors.push(`${s.status} ${s.body}`);
        await sleep(150);
        continue;
      }
      // the first connection has no Last-Event-ID yet: keep it until an entry came
      const cut = st.last === null ? 1 : minEvents + Math.floor(Math.random() * (maxEvents - minEvents));
      const lastRev = (evs) => {
        const m = evs.filter((e) => e.event === 'message');
        return m.length ? m.at(-1).json.revision : st.last;
      };
      try {
        await s.waitEvents((evs) => evs.filter((e) => e.event === 'message').length >= cut
          || (st.stopAt !== null && lastRev(evs) !== null && lastRev(evs) >= st.stopAt),
        st.last === null ? 60000 : 8000, 'events');
      } catch { /* timed out or ended: reconnect */ }
      s.close();
      for (const e of s.events) {
        if (e.event === 'message') {
          st.revs.push(e.json.revision);
          assert.equal(Number(e.id), e.json.revision);
          st.last = Number(e.id);
        } else if (e.event === 'reset') {
          st.resets++;
        } else if (e.event === 'synced') {
          st.synced++;
        } else if (e.event === 'overflow') {
          st.last = JSON.parse(e.data).resumeRevision;
        }
      }
      st.reconnects++;
      if (st.stopAt !== null && st.last !== null && st.last >= st.stopAt) return;
    }
  })();
  return st;
}

function checkExact(name, got, want) {
  const dup = got.filter((r, i) => got.indexOf(r) !== i);
  assert.deepEqual(dup, [], `${name}: duplicates`);
  const missing = want.filter((r) => !got.includes(r));
  assert.deepEqual(missing.slice(0, 20), [], `${name}: ${missing.length} revisions missing`);
  const extra = got.filter((r) => !want.includes(r));
  assert.deepEqual(extra.slice(0, 20), [], `${name}: revisions outside the filter`);
  assert.deepEqual(got, want, `${name}: order`);
}

async function resumeRun({ restartNats }) {
  const stack = await startStack({ args: ['--watch-keepalive', '500ms'] });
  stops.push(() => stack.stop());
  const { base } = stack;
  const b = uniqueName('r');
  await createKvBucket(base, b, { history: 64 });
  const keys = [];
  for (let i = 0; i < 10; i++) keys.push(`a.${i}`, `p/${i}`, `z.${i}`);

  const ra = flakyReader(base, `/v1/kvm/buckets/${b}/watch?filter=a.*`);
  const rp = flakyReader(base, `/v1/kvm/buckets/${b}/watch?prefix=p/&include=allHistory`);
  const rall = flakyReader(base, `/v1/kvm/buckets/${b}/watch?include=updatesOnly`, { minEvents: 10, maxEvents: 60 });
  await sleep(300);

  const written = [];
  const N = 1200;
  const WRITERS = 3;
  let next = 0;
  const writer = async () => {
    while (next < N) {
      const i = next++;
      const key = keys[(i * 7) % keys.length];
      const rev = await putRetry(base, b, key, `v${i}`, `${b}-${i}`);
      written.push({ key, rev });
      if (i % 40 === 0) await sleep(20);
      if (restartNats && i === Math.floor(N / 2)) {
        // only one writer restarts the server; the others retry meanwhile
        await stack.nats.restart();
      }
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
  written.sort((x, y) => x.rev - y.rev);
  const revsOf = (pred) => [...new Set(written.filter((w) => pred(w.key)).map((w) => w.rev))];
  const wantA = revsOf((k) => k.startsWith('a.'));
  const wantP = revsOf((k) => k.startsWith('p/'));
  const wantAll = revsOf(() => true);
  assert.equal(wantAll.length, N, 'every write stored once');
  ra.stopAt = wantA.at(-1);
  rp.stopAt = wantP.at(-1);
  rall.stopAt = wantAll.at(-1);
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('readers did not finish in 60 s')), 60000);
  });
  try {
    await Promise.race([Promise.all([ra.done, rp.done, rall.done]), deadline]);
  } finally {
    clearTimeout(timer);
  }

  checkExact('filter a.*', ra.revs, wantA);
  checkExact('prefix p/', rp.revs, wantP);
  // the updatesOnly reader started before the first write: it sees them all
  checkExact('all', rall.revs, wantAll);
  for (const [name, r] of [['filter a.*', ra], ['prefix p/', rp], ['all', rall]]) {
    assert.deepEqual(r.errors, [], `${name}: unexpected answers`);
    assert.equal(r.resets, 0, `${name}: no reset`);
    assert.ok(r.reconnects >= 20, `${name}: reconnected ${r.reconnects} times (want >= 20)`);
  }
  await stack.stop();
  stops.pop();
}

test('gap-free resume: 1200 writes, readers reconnecting with Last-Event-ID >= 20 times', async () => {
  await resumeRun({ restartNats: false });
});

test('gap-free resume across a nats-server restart in the middle', async () => {
  await resumeRun({ restartNats: true });
});

test('slow reader: overflow with resumeRevision, then resume loses nothing; slow history reader is paused, not cut', async () => {
  const stack = await startStack({ args: ['--watch-keepalive', '500ms', '--watch-queue-bytes', '64KiB'] });
  stops.push(() => stack.stop());
  const { base } = stack;
  const b = uniqueName('s');
  await createKvBucket(base, b, { history: 1 });
  const s = await openSse(base, `/v1/kvm/buckets/${b}/watch?include=updatesOnly`);
  await s.next((e) => e.event === 'synced');
  s.pause(); // stop reading: the socket buffers fill, then the queue
  // ~11 MB of events: more than the socket buffers hold, far more than the queue
  const big = 'x'.repeat(8 * 1024);
  const revs = [];
  for (let i = 0; i < 1000; i++) revs.push(await putRetry(base, b, `k${i}`, big + i, `${b}-${i}`));
  s.resume();
  await s.endedPromise;
  const ov = s.events.find((e) => e.event === 'overflow');
  assert.ok(ov, `overflow event (error: ${s.error}; last events: ${JSON.stringify(s.events.slice(-2).map((e) => [e.event, e.id]))}; ${s.events.length} events)`);
  await s.endedPromise;
  const got = s.events.filter((e) => e.event === 'message').map((e) => e.json.revision);
  const n = JSON.parse(ov.data).resumeRevision;
  assert.ok(got.length < revs.length, 'the slow reader was cut before the end');
  assert.deepEqual(got, revs.slice(0, got.length), 'what arrived has no gap');
  assert.ok(n >= (got.at(-1) ?? 0), `resumeRevision ${n} covers what was sent`);
  assert.equal(s.events.at(-1).event, 'overflow', 'overflow is the last event');

  const s2 = await openSse(base, `/v1/kvm/buckets/${b}/watch`, { headers: { 'Last-Event-ID': String(n) } });
  await s2.next((e) => e.event === 'synced', 30000);
  s2.close();
  const rest = s2.events.filter((e) => e.event === 'message').map((e) => e.json.revision);
  assert.deepEqual([...got, ...rest.filter((r) => r > (got.at(-1) ?? 0))], revs, 'resumed: all revisions, once each');
  assert.deepEqual(rest.filter((r) => r <= n), [], 'nothing at or before resumeRevision again');

  // a reader of a large history that reads slowly is paused, never cut
  const h = await openSse(base, `/v1/kvm/buckets/${b}/watch`);
  h.pause();
  await sleep(1500);
  h.resume();
  await h.next((e) => e.event === 'synced', 30000);
  h.close();
  assert.ok(!h.events.some((e) => e.event === 'overflow'), 'no overflow while reading history');
  assert.deepEqual(h.events.filter((e) => e.event === 'message').map((e) => e.json.revision), revs);
  await stack.stop();
  stops.pop();
});

test('NATS down: a new watch gets 503 at once; an open one stays open and goes on when NATS is back', async () => {
  const stack = await startStack({ args: ['--watch-keepalive', '300ms'] });
  stops.push(() => stack.stop());
  const { base } = stack;
  const b = uniqueName('d');
  await createKvBucket(base, b, { history: 5 });
  const r1 = await putRetry(base, b, 'k', '1', `${b}-1`);
  const s = await openSse(base, `/v1/kvm/buckets/${b}/watch`);
  await s.next((e) => e.event === 'synced');
  await stack.nats.stop();
  const t0 = Date.now();
  const r = await http(base, 'GET', `/v1/kvm/buckets/${b}/watch`);
  assert.equal(r.status, 503, r.text);
  assert.equal(r.json.code, 'nats_unavailable');
  assert.ok(r.headers.get('retry-after'), 'Retry-After');
  assert.ok(Date.now() - t0 < 3000, 'answered at once');
  await sleep(1000);
  assert.ok(!s.ended, 'the open stream stays open while NATS is away');
  const kaBefore = s.comments.length;
  await s.waitEvents((evs, st) => st.comments.length > kaBefore, 3000, 'keepalives while NATS is away');
  await stack.nats.start();
  const r2 = await putRetry(base, b, 'k', '2', `${b}-2`);
  const r3 = await putRetry(base, b, 'j', '3', `${b}-3`);
  await s.waitEvents(() => s.events.some((e) => e.json && e.json.revision === r3), 20000, 'changes after NATS came back');
  assert.deepEqual(s.events.filter((e) => e.event === 'message').map((e) => e.json.revision), [r1, r2, r3]);
  s.close();
  await stack.stop();
  stops.pop();
});
