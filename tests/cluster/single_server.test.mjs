// The single-server topology under the same load and guarantees: one
// nats-server (JetStream, file store) stopped, killed with SIGKILL and
// restarted three times under mixed load.  Every acknowledged write is
// readable afterwards, no answer later than the request timeout, at least
// 95% of the requests succeed, jetgate never crashes.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import {
  startCluster, startJetgate, createKvBucket, uniqueName, sleep, waitFor, http,
} from './cluster.mjs';
import { MixedLoad } from './load.mjs';
import {
  LONG, REQUEST_TIMEOUT_MS, JETGATE_ARGS, cleanupList, natsKv, assertGuarantees, report,
} from './common.mjs';

const cleanups = cleanupList();
afterEach(() => cleanups.run());

test(`the single nats-server restarted ${LONG ? 10 : 3} times under mixed load: same guarantees`, async (t) => {
  const single = await startCluster({ nodes: 1 });
  cleanups.add(() => single.destroy());
  const node = single.nodes[0];
  const jg = await startJetgate({ natsUrl: single.url, args: JETGATE_ARGS });
  cleanups.add(() => jg.stop());
  const bucket = uniqueName('ss');
  await createKvBucket(jg.base, bucket, { history: 5 });
  const objBucket = uniqueName('sso');
  const load = new MixedLoad({
    bases: [jg.base], bucket, objBucket, obj: true, watchers: 50, requestTimeoutMs: REQUEST_TIMEOUT_MS,
    kv: { keys: 120, workers: 6, rate: 20 },
    objOpts: { objects: 8, workers: 2, rate: 2, sizeBytes: [1024, 100000], chunkSize: 16384 },
  });
  cleanups.add(() => load.abort());
  await load.prepare();
  await load.start();
  const rounds = LONG ? 10 : 3;
  for (let round = 1; round <= rounds; round++) {
    await sleep(LONG ? 10000 : 4000);
    // alternate a clean stop and kill -9
    const how = round % 2 ? 'SIGTERM' : 'SIGKILL';
    load.stats.mark(`round ${round}: ${how} nats-server`);
    if (how === 'SIGTERM') await node.stop(); else await node.kill();
    await sleep(1000);
    await node.start();
    load.stats.mark(`round ${round}: nats-server restarted`);
    await waitFor(async () => (await http(jg.base, 'GET', '/readyz')).status === 200, 20000, 100, 'jetgate ready');
    load.stats.mark(`round ${round}: jetgate ready`);
  }
  await sleep(LONG ? 10000 : 4000);
  const nkv = await natsKv(single.urls, bucket);
  try {
    await load.stopAndVerify({ kv: nkv.kv });
  } finally {
    nkv.close();
  }
  report(t, load.summary());
  assert.ok(load.kv.writesAcked > 0);
  assertGuarantees(load, [jg]);
});
