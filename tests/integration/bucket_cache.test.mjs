// jetgate keeps each bucket's stream settings in a cache that JetStream's
// stream advisories invalidate.  A configuration change (created, updated,
// deleted) must drop the entry; a leader election must not: during an
// election no leader answers the stream-info request that a dropped entry
// costs the next request, so reads would wait for it and fail instead of
// being served (seen in the cluster fault suite as 504 on a GET).
//
// The test watches jetgate's own $JS.API.STREAM.INFO requests on the bus and
// publishes advisories itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { connectNats, http, sleep, startStack, uniqueName } from '../lib/harness.mjs';

let stack;
let nats;

before(async () => {
  stack = await startStack();
  nats = await connectNats(stack.nats.url);
});

after(async () => {
  if (nats) await nats.close();
  if (stack) await stack.stop();
});

test('a leader election advisory keeps the bucket cache; a configuration advisory clears it', async () => {
  const b = uniqueName('cache');
  const stream = `KV_${b}`;
  assert.equal((await http(stack.base, 'PUT', `/v1/kvm/buckets/${b}`, { body: {} })).status, 201);
  assert.equal((await http(stack.base, 'PUT', `/v1/kv/${b}/k`, { body: 'v' })).status, 201);

  let infos = 0;
  const sub = nats.nc.subscribe(`$JS.API.STREAM.INFO.${stream}`, { callback: () => { infos += 1; } });
  await nats.nc.flush();
  // The bucket's own CREATED advisory may reach jetgate late (a loaded
  // machine) and drop the entry a first GET cached: GET until one costs no
  // stream-info request, then count from there.
  for (let i = 0, before = -1; before !== infos; i++) {
    assert.ok(i < 20, 'every GET asks for the stream info: the cache never settles');
    before = infos;
    assert.equal((await http(stack.base, 'GET', `/v1/kv/${b}/k`)).status, 200);
    await nats.nc.flush();
    await sleep(200);
  }
  infos = 0;
  const advisory = async (event) => {
    nats.nc.publish(`$JS.EVENT.ADVISORY.STREAM.${event}.${stream}`, JSON.stringify({
      type: `io.nats.jetstream.advisory.v1.stream_${event.toLowerCase()}`, stream,
    }));
    await nats.nc.flush();
    await sleep(300); // the advisory reaches jetgate
  };
  try {
    await advisory('LEADER_ELECTED');
    await advisory('QUORUM_LOST');
    assert.equal((await http(stack.base, 'GET', `/v1/kv/${b}/k`)).status, 200);
    await nats.nc.flush();
    assert.equal(infos, 0, 'a GET after leader-election advisories asked for the stream info again');

    await advisory('UPDATED');
    assert.equal((await http(stack.base, 'GET', `/v1/kv/${b}/k`)).status, 200);
    await sleep(100);
    assert.equal(infos, 1, 'a GET after an update advisory did not fetch the stream info again');
  } finally {
    sub.unsubscribe();
  }
});
