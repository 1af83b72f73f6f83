// DELETE .../entries is not atomic: when NATS goes away midway, the answer
// is a problem saying how many keys were done and where it stopped, and the
// same request repeated once NATS is back finishes the job.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectNats, createKvBucket, http, sleep, startStack, waitFor } from '../lib/harness.mjs';

let stack;

before(async () => {
  stack = await startStack();
});

after(async () => {
  if (stack) await stack.stop();
});

async function keysLeft(b) {
  const r = await http(stack.base, 'GET', `/v1/kvm/buckets/${b}/keys?prefix=d.`);
  assert.equal(r.status, 200, r.text);
  return r.json.length;
}

test('a failure midway says how far it got; repeating finishes', async () => {
  const N = 4000;
  let cut = null;
  for (let attempt = 0; attempt < 4 && !cut; attempt++) {
    const b = `fault${attempt}`;
    await createKvBucket(stack.base, b, { history: 1 });
    const c = await connectNats(stack.nats.url);
    try {
      const kv = await c.kvm.open(b);
      for (let i = 0; i < N; i += 500) {
        const ps = [];
        for (let j = i; j < i + 500; j++) ps.push(kv.put(`d.${j}`, 'x'));
        await Promise.all(ps);
      }
    } finally {
      await c.close();
    }
    const pending = http(stack.base, 'DELETE', `/v1/kvm/buckets/${b}/entries?prefix=d.`, { timeoutMs: 30000 });
    const t0 = Date.now();
    await sleep(40 + attempt * 40);
    await stack.nats.kill();
    const r = await pending;
    await stack.nats.restart();
    await waitFor(async () => (await http(stack.base, 'GET', '/readyz')).status === 200, 20000, 500, 'ready');
    if (r.status === 200) continue; // finished before the cut: try again, cutting later
    cut = { b, r };
  }
  assert.ok(cut, 'NATS never went away during the deletion');
  const { b, r } = cut;
  assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
  assert.ok([503, 504].includes(r.status), `${r.status} ${r.text}`);
  const m = /^(\d+) of (\d+) keys done; stopped at 'd\.\d+'/.exec(r.json.detail)
    || /^nothing deleted/.exec(r.json.detail);
  assert.ok(m, r.json.detail);
  const done = m[1] ? Number(m[1]) : 0;
  if (m[2]) assert.equal(Number(m[2]), N);
  const left = await keysLeft(b);
  assert.ok(left <= N - done, `${left} keys left after ${done} done`);
  const again = await http(stack.base, 'DELETE', `/v1/kvm/buckets/${b}/entries?prefix=d.`);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.deleted, left);
  assert.equal(await keysLeft(b), 0);
});
