// KV watch fan-out: watchers of one bucket and filter that have caught up
// share one consumer; watchers joining while a writer is busy still get
// every revision once; consumers go away with their watchers; the Node
// `eventsource` client (as a browser) reconnects with Last-Event-ID across a
// jetgate restart and misses nothing.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack, startJetgate, createKvBucket, uniqueName, http, sleep, jszConsumers, waitFor,
  connectNats,
} from '../lib/harness.mjs';
import { openSse, revs } from './watch_sse.mjs';

let stack;
let restarted;
after(async () => {
  if (restarted) await restarted.stop();
  if (stack) await stack.stop();
});

async function put(base, bucket, key, value) {
  const r = await http(base, 'PUT', `/v1/kv/${bucket}/${key}`, { body: value });
  assert.ok(r.status === 200 || r.status === 201, r.text);
  return Number(r.headers.get('x-nats-kv-revision'));
}

async function consumersOf(bucket) {
  return (await jszConsumers(stack.nats.monitorPort)).filter((c) => c.stream === `KV_${bucket}`);
}

const synced = (e) => e.event === 'synced';

test('200 watchers of one bucket and filter: at most 2 consumers once caught up, none after they leave', async () => {
  stack = await startStack({ args: ['--watch-keepalive', '300ms'] });
  const { base } = stack;
  const b = uniqueName('f');
  await createKvBucket(base, b, { history: 5 });
  await put(base, b, 'a.1', 'x');
  await put(base, b, 'b.1', 'y');
  const ws = await Promise.all(Array.from({ length: 200 }, () => openSse(base, `/v1/kvm/buckets/${b}/watch?filter=a.*`)));
  assert.ok(ws.every((s) => s.status === 200));
  await Promise.all(ws.map((s) => s.next(synced, 20000)));
  // each started on its own consumer; once caught up they move to one shared one
  await waitFor(async () => (await consumersOf(b)).length <= 2, 10000, 100, 'at most 2 consumers');
  const r = await put(base, b, 'a.2', 'z');
  await put(base, b, 'b.2', 'z');
  await Promise.all(ws.map((s) => s.waitEvents(() => revs(s).includes(r), 10000)));
  for (const s of ws) assert.deepEqual(revs(s), [1, r]);
  assert.ok((await consumersOf(b)).length <= 2);
  for (const s of ws) s.close();
  await waitFor(async () => (await consumersOf(b)).length === 0, 10000, 100, 'no consumer left');
});

test('watchers joining while a writer is busy: every revision once, in order; then one consumer', async () => {
  const { base } = stack;
  const b = uniqueName('j');
  await createKvBucket(base, b, { history: 64 });
  const revsWritten = [];
  let writing = true;
  const writer = (async () => {
    for (let i = 0; i < 600; i++) {
      revsWritten.push(await put(base, b, `k.${i % 20}`, `v${i}`));
      if (i % 25 === 0) await sleep(5);
    }
    writing = false;
  })();
  const ws = [];
  while (writing) {
    ws.push(await openSse(base, `/v1/kvm/buckets/${b}/watch?include=allHistory`));
    await sleep(20 + Math.random() * 40);
  }
  await writer;
  const last = revsWritten.at(-1);
  await Promise.all(ws.map((s) => s.waitEvents(() => revs(s).includes(last), 20000)));
  assert.ok(ws.length >= 5, `${ws.length} watchers joined during the writes`);
  for (const [i, s] of ws.entries()) {
    assert.equal(s.events.filter(synced).length, 1, `watcher ${i}: synced once`);
    assert.deepEqual(revs(s), revsWritten, `watcher ${i}: all revisions, once, in order`);
  }
  await waitFor(async () => (await consumersOf(b)).length === 1, 10000, 100, 'one shared consumer');
  for (const s of ws) s.close();
});

test('EventSource client: events, synced, and a gap-free reconnect across a jetgate restart', async () => {
  const { EventSource } = await import('eventsource');
  const { port } = stack.jg;
  const base = stack.base;
  const b = uniqueName('e');
  await createKvBucket(base, b, { history: 10 });
  const r1 = await put(base, b, 'k', '1');
  const es = new EventSource(`${base}/v1/kvm/buckets/${b}/watch?filter=k`);
  const got = [];
  let syncs = 0;
  let opens = 0;
  es.onmessage = (e) => { got.push({ id: Number(e.lastEventId), rev: JSON.parse(e.data).revision }); };
  es.addEventListener('synced', () => { syncs++; });
  es.onopen = () => { opens++; };
  try {
    await waitFor(() => syncs === 1, 5000, 20, 'synced');
    assert.deepEqual(got, [{ id: r1, rev: r1 }]);
    const r2 = await put(base, b, 'k', '2');
    await waitFor(() => got.length === 2, 5000, 20, 'live event');

    // jetgate goes away; writes go on straight to NATS; jetgate comes back on
    // the same port and the browser-style client resumes by itself
    await stack.jg.stop();
    const n = await connectNats(stack.nats.url);
    const kv = await n.kvm.open(b);
    const more = [];
    for (let i = 3; i <= 6; i++) more.push(await kv.put('k', String(i)));
    await kv.put('other', 'x');
    await n.close();
    restarted = await startJetgate({ natsUrl: stack.nats.url, port, args: ['--watch-keepalive', '300ms'] });
    await waitFor(() => got.length === 6, 15000, 50, 'resumed events');
    assert.ok(opens >= 2, 'reconnected');
    assert.deepEqual(got.map((g) => g.rev), [r1, r2, ...more]);
    assert.deepEqual(got.map((g) => g.id), got.map((g) => g.rev));
    await sleep(300);
    assert.equal(got.length, 6, 'no duplicates after the reconnect');
  } finally {
    es.close();
  }
});
