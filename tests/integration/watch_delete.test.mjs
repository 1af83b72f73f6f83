// A bucket deleted by another client ends every watch of it: rounds in
// which the official JavaScript client deletes a KV or object bucket at a
// random moment (while watches are opening, before `synced`, while a
// backlog is read by fast and paused readers, while live) and every watch
// must end with `event: error` {"code":"bucket_not_found"} -- or, when it
// was opened after the deletion, be answered 404 -- within a bound.
//
// WATCH_DELETE_ROUNDS sets the number of rounds (default 24).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack, uniqueName, sleep, connectNats, http,
} from '../lib/harness.mjs';
import { openSse } from './watch_sse.mjs';

const ROUNDS = Number(process.env.WATCH_DELETE_ROUNDS || 24);
const END_MS = 3000; // from the deletion (or a paused reader's resume) to the end of its stream

let stack;
let nats;
let Objm;
let slowest = 0; // ms from the deletion to a stream's end, over all rounds
before(async () => {
  stack = await startStack({ args: ['--watch-keepalive', '500ms', '--watch-queue-bytes', '64KiB'] });
  nats = await connectNats(stack.nats.url);
  ({ Objm } = await import('@nats-io/obj'));

});
after(async () => {
  if (nats) await nats.close().catch(() => {});
  if (stack) await stack.stop();
});

const rnd = (n) => Math.floor(Math.random() * n);

/** Fills a bucket through the official client: n changes over a few keys, several in flight. */
async function fill(kind, handle, n, tag) {
  let next = 0;
  const one = async () => {
    while (next < n) {
      const i = next++;
      if (kind === 'kv') await handle.put(`k.${i % 17}`, `${tag}-${i}-${'x'.repeat(rnd(300))}`);
      else await handle.putBlob({ name: `o${i % 7}` }, new TextEncoder().encode(`${tag}-${i}`));
    }
  };
  await Promise.all(Array.from({ length: 4 }, one));
}

/** Opens one watch of the round: its path, and whether it reads slowly for a while. */
async function openWatch(kind, b) {
  const base = kind === 'kv' ? `/v1/kvm/buckets/${b}/watch` : `/v1/objm/buckets/${b}/watch`;
  const qs = kind === 'kv'
    ? ['', '?include=allHistory', '?include=updatesOnly', '?filter=k.3', '?prefix=k.1&metaOnly=true',
      '?resumeRevision=1']
    : ['', '?include=allHistory', '?include=updatesOnly', '?filter=o3', '?resumeRevision=1'];
  const path = base + qs[rnd(qs.length)];
  const s = await openSse(stack.base, path, { timeoutMs: 10000 });
  s.path = path;
  if (s.status === 200 && rnd(4) === 0) {
    s.pause(); // a reader that stops reading during the backlog
    s.pausedFor = 200 + rnd(1200);
  }
  return s;
}

async function deleteRound(kind, round) {
  const b = uniqueName(`del${kind}`);
  let handle;
  if (kind === 'kv') handle = await nats.kvm.create(b, { history: 1 + rnd(10) });
  else handle = await new Objm(nats.js).create(b);
  const backlog = rnd(4) === 0 ? 0 : rnd(kind === 'kv' ? 3000 : 200);
  await fill(kind, handle, backlog, `r${round}`);

  // when the deletion comes: 0 while the watches open, 1 before synced,
  // 2 during their backlog, 3 while live (with writes going on)
  const phase = rnd(4);
  const watches = [];
  const opening = [];
  const nw = 3 + rnd(6);
  for (let i = 0; i < nw; i++) opening.push(openWatch(kind, b).then((s) => { watches.push(s); return s; }));
  let writing = true;
  const writer = (async () => {
    let i = 0;
    while (writing) {
      try {
        if (kind === 'kv') await handle.put(`k.${i % 17}`, `live-${i}`);
        else await handle.putBlob({ name: `o${i % 7}` }, new TextEncoder().encode(`live-${i}`));
      } catch { return; } // the bucket is gone
      i++;
      await sleep(rnd(3));
    }
  })();
  if (phase === 0) {
    await sleep(rnd(5));
  } else {
    await Promise.all(opening);
    if (phase === 1) await sleep(rnd(3));
    else if (phase === 2) await sleep(rnd(40));
    else {
      await Promise.all(watches.filter((s) => s.status === 200 && !s.pausedFor)
        .map((s) => s.next((e) => e.event === 'synced', 20000)));
      await sleep(rnd(200));
    }
  }
  const stream = kind === 'kv' ? `KV_${b}` : `OBJ_${b}`;
  await nats.jsm.streams.delete(stream);
  const tDel = Date.now();
  writing = false;
  await writer;
  await Promise.all(opening);

  const problems = [];
  await Promise.all(watches.map(async (s) => {
    if (s.status !== 200) {
      if (s.status !== 404 || s.json?.code !== 'bucket_not_found') problems.push(`${s.path}: ${s.status} ${s.body}`);
      return;
    }
    let from = tDel;
    if (s.pausedFor) {
      await sleep(s.pausedFor);
      s.resume();
      from = Math.max(tDel, Date.now());
    }
    const left = END_MS - (Date.now() - from);
    const ended = await Promise.race([s.endedPromise.then(() => true), sleep(Math.max(left, 0)).then(() => false)]);
    const last = s.events.at(-1);
    if (ended) slowest = Math.max(slowest, Date.now() - from);
    if (!ended) {
      problems.push(`${s.path}: still open ${Date.now() - from} ms after the deletion; last events ${JSON.stringify(s.events.slice(-2).map((e) => e.event))}`);
      s.close();
    } else if (!last || last.event !== 'error' || last.json?.code !== 'bucket_not_found') {
      problems.push(`${s.path}: ended without the error event (last ${JSON.stringify(last)})`);
    }
  }));
  assert.deepEqual(problems, [], `round ${round} (${kind}, phase ${phase}, backlog ${backlog})`);
  // the jetgate consumers of the bucket are gone with it: a new watch is 404 at once
  const r = await http(stack.base, 'GET', kind === 'kv' ? `/v1/kvm/buckets/${b}/watch` : `/v1/objm/buckets/${b}/watch`);
  assert.equal(r.status, 404, r.text);
}

test(`bucket deleted by the official client at random moments: every watch ends with bucket_not_found (${ROUNDS} rounds)`, async (t) => {
  for (let round = 0; round < ROUNDS; round++) {
    await deleteRound(round % 3 === 2 ? 'obj' : 'kv', round);
  }
  t.diagnostic(`slowest end after the deletion: ${slowest} ms`);
});
