// jetgate itself killed (SIGKILL) and restarted under load, and two jetgate
// instances in front of the same 3-node cluster (horizontal scale): a write
// through one instance is readable through the other at once.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import {
  startCluster, startJetgate, createKvBucket, uniqueName, sleep, http, waitFor,
} from './cluster.mjs';
import { MixedLoad } from './load.mjs';
import {
  LONG, REQUEST_TIMEOUT_MS, JETGATE_ARGS, cleanupList, natsKv, assertGuarantees, report, tail,
} from './common.mjs';

let cluster;
const cleanups = cleanupList();
afterEach(() => cleanups.run());

before(async () => {
  cluster = await startCluster({ nodes: 3 });
});
after(async () => {
  if (cluster) await cluster.destroy();
});

async function bucketR3(base) {
  const bucket = uniqueName('sc');
  const st = await createKvBucket(base, bucket, { history: 5, replicas: 3 });
  assert.equal(st.replicas, 3);
  await cluster.waitCurrent(`KV_${bucket}`);
  return bucket;
}

test('jetgate killed with SIGKILL and restarted under load: acknowledged writes survive, it serves again at once', async (t) => {
  let jg = await startJetgate({ natsUrl: cluster.url, args: JETGATE_ARGS });
  const port = jg.port;
  cleanups.add(() => jg.stop());
  const bucket = await bucketR3(jg.base);
  const objBucket = uniqueName('sco');
  const load = new MixedLoad({
    bases: [jg.base], bucket, objBucket, obj: true, replicas: 3, requestTimeoutMs: REQUEST_TIMEOUT_MS,
    kv: { keys: 80, workers: 4, rate: 20 },
    objOpts: { objects: 4, workers: 1, rate: 2, sizeBytes: [1024, 60000], chunkSize: 16384 },
  });
  cleanups.add(() => load.abort());
  await load.prepare();
  await load.start();
  const rounds = LONG ? 5 : 2;
  const downMs = [];
  for (let round = 1; round <= rounds; round++) {
    await sleep(3000);
    load.stats.mark(`round ${round}: SIGKILL jetgate`);
    const sig = await jg.kill();
    assert.equal(sig, 'SIGKILL');
    const t0 = Date.now();
    jg = await startJetgate({ natsUrl: cluster.url, port, args: JETGATE_ARGS });
    downMs.push(Date.now() - t0);
    load.stats.mark(`round ${round}: jetgate ready again after ${Date.now() - t0} ms`);
  }
  await sleep(3000);
  const nkv = await natsKv(cluster.urls, bucket);
  try {
    await load.stopAndVerify({ kv: nkv.kv });
  } finally {
    nkv.close();
  }
  report(t, load.summary());
  // requests that hit the dead process fail at the TCP level: they are the
  // client's to retry, not jetgate's failures; everything else holds
  const s = load.stats;
  assert.ok(jg.running(), `jetgate is not running:\n${tail(jg.log())}`);
  assert.deepEqual(s.violations, [], load.summary());
  assert.deepEqual(s.hangs, [], load.summary());
  for (const ms of downMs) assert.ok(ms < 5000, `jetgate took ${ms} ms to be ready after a restart`);
  const served = s.ok / (s.total - Object.entries(s.byStatus).filter(([k]) => / ERR /.test(k)).reduce((a, [, n]) => a + n, 0));
  assert.ok(served >= 0.95, `jetgate answered only ${(100 * served).toFixed(2)}% of the requests it received correctly:\n${load.summary()}`);
});

test('two jetgate instances: a write through one is readable through the other at once, also under load', async (t) => {
  const a = await startJetgate({ natsUrl: cluster.url, args: JETGATE_ARGS });
  cleanups.add(() => a.stop());
  // the second instance lists the servers the other way round, so the two
  // are (usually) connected to different servers
  const b = await startJetgate({ natsUrl: [...cluster.urls].reverse().join(','), args: JETGATE_ARGS });
  cleanups.add(() => b.stop());
  const bucket = await bucketR3(a.base);
  await waitFor(async () => (await http(b.base, 'GET', `/v1/kvm/buckets/${bucket}`)).status === 200, 5000);

  // strictly alternating, no pause between the write and the read
  const misses = [];
  const n = LONG ? 2000 : 300;
  for (let i = 0; i < n; i++) {
    const [w, r] = i % 2 ? [a, b] : [b, a];
    const key = `x.${i % 37}`;
    const value = `v${i}-${Date.now()}`;
    const put = await http(w.base, 'PUT', `/v1/kv/${bucket}/${key}`, { body: value });
    assert.equal(put.status, 201, put.text);
    const rev = put.headers.get('x-nats-kv-revision');
    const get = await http(r.base, 'GET', `/v1/kv/${bucket}/${key}`);
    if (get.status !== 200 || get.text !== value || get.headers.get('x-nats-kv-revision') !== rev) {
      misses.push(`${i}: PUT ${key} via :${w.port} -> revision ${rev}; GET via :${r.port} -> ${get.status} revision ${get.headers.get('x-nats-kv-revision')} '${get.text.slice(0, 40)}'`);
    }
  }
  assert.deepEqual(misses, [], 'reads through the other instance that missed the write');

  // the mixed load, each request through either instance
  const objBucket = uniqueName('sco');
  const load = new MixedLoad({
    bases: [a.base, b.base], bucket, objBucket, obj: true, watchers: 10, replicas: 3,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    kv: { keys: 80, workers: 4, rate: 25 },
    objOpts: { objects: 4, workers: 1, rate: 2, sizeBytes: [1024, 60000], chunkSize: 16384 },
  });
  cleanups.add(() => load.abort());
  await load.prepare();
  await load.start();
  await sleep(LONG ? 60000 : 8000);
  const nkv = await natsKv(cluster.urls, bucket);
  try {
    await load.stopAndVerify({ kv: nkv.kv });
  } finally {
    nkv.close();
  }
  report(t, load.summary());
  assertGuarantees(load, [a, b], { minSuccess: 0.999 });
});
