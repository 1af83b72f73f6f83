// List, then watch, with no gap: an entries read answers the bucket revision
// R, and a watch with resumeRevision=R delivers every matching change after
// it, while a writer changes keys at random times.  Many random rounds.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createKvBucket, http, kvPath, sleep, startStack, uniqueName } from '../lib/harness.mjs';
import { entries as sseEntries, openSse } from './watch_sse.mjs';

const ROUNDS = Number(process.env.ENTRIES_WATCH_ROUNDS || 12);

let stack;
let base;

before(async () => {
  stack = await startStack();
  base = stack.base;
});

after(async () => {
  if (stack) await stack.stop();
});

const rnd = (n) => Math.floor(Math.random() * n);

/** Writes ops (puts and deletes, under p/ and q/) at random times. */
async function writer(b, ops) {
  for (let i = 0; i < ops; i++) {
    const under = rnd(5) > 0;
    const key = `${under ? 'p' : 'q'}/k${rnd(12)}`;
    let r;
    if (rnd(6) === 0) {
      r = await http(base, 'DELETE', kvPath(b, key));
      assert.ok(r.status === 200 || r.status === 204, r.text);
    } else {
      r = await http(base, 'PUT', kvPath(b, key), { body: `${key}@${i}` });
      assert.equal(r.status, 201, r.text);
    }
    if (rnd(3) === 0) await sleep(rnd(4));
  }
}

async function read(b, q) {
  const r = await http(base, 'GET', `/v1/kvm/buckets/${b}/entries?${q}`);
  assert.equal(r.status, 200, r.text);
  return { rev: Number(r.headers.get('x-nats-kv-bucket-revision')), list: r.json };
}

test('entries then watch from its revision: the merged state is the final state', async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const b = uniqueName('kvlw');
    await createKvBucket(base, b, { history: 1 + rnd(3) });
    for (let i = 0; i < 6; i++) await http(base, 'PUT', kvPath(b, `p/k${i}`), { body: 'seed' });
    const w = writer(b, 40 + rnd(40));
    await sleep(rnd(15));
    const first = await read(b, 'prefix=p/');
    const s = await openSse(base, `/v1/kvm/buckets/${b}/watch?prefix=p/&resumeRevision=${first.rev}`);
    try {
      assert.equal(s.status, 200, s.body);
      await w;
      const final = await read(b, 'prefix=p/');
      const want = Object.fromEntries(final.list.map((e) => [e.key, [e.revision, e.value]]).sort());
      const merged = () => {
        const state = new Map(first.list.map((e) => [e.key, e]));
        const events = sseEntries(s);
        for (const e of events) {
          assert.ok(e.revision > first.rev, `round ${round}: event ${e.revision} not after R=${first.rev}`);
          assert.ok(e.key.startsWith('p/'), e.key);
        }
        for (const e of [...events].sort((x, y) => x.revision - y.revision)) {
          const cur = state.get(e.key);
          if (cur && cur.revision >= e.revision) continue; // already in the read
          if (e.operation === 'PUT') state.set(e.key, e);
          else state.delete(e.key);
        }
        return Object.fromEntries([...state].map(([k, e]) => [k, [e.revision, e.value]]).sort());
      };
      const t0 = Date.now();
      while (Date.now() - t0 < 10000 && JSON.stringify(merged()) !== JSON.stringify(want)) await sleep(25);
      for (const e of first.list) assert.ok(e.revision <= final.rev);
      assert.deepEqual(merged(), want, `round ${round}: R=${first.rev}, final ${final.rev}`);
    } finally {
      s.close();
    }
  }
});
