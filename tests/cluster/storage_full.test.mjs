// A JetStream store that runs out of space (not a full disk): writes are
// refused with 507 insufficient_storage, reads keep working, and writes
// recover once space is freed.  Three ways to run out:
//   - the bucket's max_bytes ("maximum bytes exceeded"), 3-node cluster, replicas 3;
//   - the account's JetStream limit (max_file), 3-node cluster, replicas 3;
//   - the server's jetstream { max_file_store } ("insufficient resources"), on a
//     single server: a clustered nats-server 2.9.10 that reaches its
//     max_file_store logs "JetStream resource limits exceeded for server" and
//     disables JetStream altogether, so its streams lose their leaders and
//     quorum and reads cannot keep working (jetgate then answers 503
//     nats_unavailable, which is right); that is the server's design, not
//     something a gateway can paper over.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import {
  startCluster, startJetgate, createKvBucket, putBucket, deleteBucket, uniqueName, http, waitFor, assertProblem,
} from './cluster.mjs';
import { JETGATE_ARGS, cleanupList, report } from './common.mjs';

const cleanups = cleanupList();
afterEach(() => cleanups.run());

const kvp = (b, k) => `/v1/kv/${b}/${k}`;

/**
 * Writes valueBytes-sized values to new keys of bucket until a write is
 * refused; returns {written: [{key, value}], refused (the answer)}.
 * Fails when more than maxWrites succeed.
 */
async function fill(base, bucket, valueBytes, maxWrites) {
  const written = [];
  for (let i = 0; i < maxWrites; i++) {
    const key = `fill.${i}`;
    const value = `${key}:`.padEnd(valueBytes, 'z');
    const r = await http(base, 'PUT', kvp(bucket, key), { body: value, timeoutMs: 10000 });
    if (r.status !== 201) return { written, refused: r };
    written.push({ key, value });
  }
  assert.fail(`${bucket}: ${maxWrites} writes of ${valueBytes} bytes and still no refusal`);
}

/**
 * Every refused write: 507 insufficient_storage; reads of the written keys
 * work.  exact: the limit is checked on every write (a stream's max_bytes, a
 * server's max_file_store), so further writes stay refused; an account's
 * limit in a cluster is checked against usage the servers report to each
 * other periodically, so a further write may still fit.
 */
async function assertFullBehaviour(base, bucket, { written, refused }, what, notes, { exact = true } = {}) {
  notes.push(`${what}: ${written.length} writes accepted, then ${refused.status} ${refused.json?.code}: ${refused.json?.detail ?? refused.text.slice(0, 200)}`);
  assertProblem(refused, 507, 'insufficient_storage', `${what}: first refused write`);
  for (let i = 0; i < 3; i++) {
    const again = await http(base, 'PUT', kvp(bucket, `again.${i}`), { body: 'x'.repeat(20000) });
    if (!exact && again.status === 201) {
      notes.push(`${what}: write ${i + 2} while full was accepted (account usage is reported with a delay)`);
      continue;
    }
    assertProblem(again, 507, 'insufficient_storage', `${what}: write ${i + 2} while full`);
  }
  for (const { key, value } of [written[0], written[written.length - 1]]) {
    const g = await http(base, 'GET', kvp(bucket, key));
    assert.equal(g.status, 200, `${what}: GET ${key} while full: ${g.status} ${g.text.slice(0, 200)}`);
    assert.equal(g.text, value);
  }
  const ls = await http(base, 'GET', `/v1/kvm/buckets/${bucket}`);
  assert.equal(ls.status, 200, `${what}: bucket status while full: ${ls.text}`);
}

async function assertRecovers(base, bucket, what, notes) {
  const t0 = Date.now();
  await waitFor(async () => (await http(base, 'PUT', kvp(bucket, 'after.free'), { body: 'y'.repeat(1000) })).status === 201,
    15000, 200, `${what}: a write after space was freed`);
  notes.push(`${what}: writes accepted again ${Date.now() - t0} ms after space was freed`);
}

test('bucket max_bytes reached: 507, reads work, writes recover when max_bytes is raised', async (t) => {
  const cluster = await startCluster({ nodes: 3 });
  cleanups.add(() => cluster.destroy());
  const jg = await startJetgate({ natsUrl: cluster.url, args: JETGATE_ARGS });
  cleanups.add(() => jg.stop());
  const notes = [];
  const bucket = uniqueName('cap');
  const cfg = { history: 1, replicas: 3, max_bytes: 200000 };
  await createKvBucket(jg.base, bucket, cfg);
  await cluster.waitCurrent(`KV_${bucket}`);
  const res = await fill(jg.base, bucket, 20000, 50);
  await assertFullBehaviour(jg.base, bucket, res, 'bucket max_bytes', notes);
  await putBucket(jg.base, 'kvm', bucket, { ...cfg, max_bytes: 2000000 });
  await assertRecovers(jg.base, bucket, 'bucket max_bytes', notes);
  report(t, notes.join('\n'));
  assert.ok(jg.running());
});

test('a single server\'s max_file_store reached: 507, reads work, writes recover when a bucket is deleted', async (t) => {
  const cluster = await startCluster({ nodes: 1, maxFileStore: '4MB' });
  cleanups.add(() => cluster.destroy());
  const jg = await startJetgate({ natsUrl: cluster.url, args: JETGATE_ARGS });
  cleanups.add(() => jg.stop());
  const notes = [];
  const keep = uniqueName('keep');
  const filler = uniqueName('filler');
  await createKvBucket(jg.base, keep, { history: 1 });
  await createKvBucket(jg.base, filler, { history: 1 });
  for (let i = 0; i < 3; i++) {
    assert.equal((await http(jg.base, 'PUT', kvp(keep, `k${i}`), { body: `keep-${i}` })).status, 201);
  }
  const res = await fill(jg.base, filler, 60000, 200);
  await assertFullBehaviour(jg.base, filler, res, 'max_file_store (filler bucket)', notes);
  // the other bucket is full too, and still readable
  const other = await http(jg.base, 'PUT', kvp(keep, 'more'), { body: 'x'.repeat(60000) });
  assertProblem(other, 507, 'insufficient_storage', 'max_file_store: a write to another bucket');
  for (let i = 0; i < 3; i++) {
    const g = await http(jg.base, 'GET', kvp(keep, `k${i}`));
    assert.equal(g.status, 200, g.text);
    assert.equal(g.text, `keep-${i}`);
  }
  await deleteBucket(jg.base, 'kvm', filler);
  await assertRecovers(jg.base, keep, 'max_file_store', notes);
  report(t, notes.join('\n'));
  assert.ok(jg.running());
});

test('the account\'s JetStream storage limit reached: 507, reads work, writes recover when a bucket is deleted', async (t) => {
  const cluster = await startCluster({
    nodes: 3,
    extraConfig: [
      'accounts {',
      '  APP { jetstream { max_file: 4MB, max_mem: 1MB }, users: [ { user: app, password: app-secret } ] }',
      '}',
    ].join('\n'),
  });
  cleanups.add(() => cluster.destroy());
  const jg = await startJetgate({
    natsUrl: cluster.url, args: [...JETGATE_ARGS, '--nats-user', 'app', '--nats-password', 'app-secret'],
  });
  cleanups.add(() => jg.stop());
  const notes = [];
  const keep = uniqueName('keep');
  const filler = uniqueName('filler');
  await createKvBucket(jg.base, keep, { history: 1, replicas: 3 });
  await createKvBucket(jg.base, filler, { history: 1, replicas: 3 });
  assert.equal((await http(jg.base, 'PUT', kvp(keep, 'k0'), { body: 'keep-0' })).status, 201);
  const res = await fill(jg.base, filler, 60000, 200);
  await assertFullBehaviour(jg.base, filler, res, 'account max_file', notes, { exact: false });
  const g = await http(jg.base, 'GET', kvp(keep, 'k0'));
  assert.equal(g.status, 200, g.text);
  await deleteBucket(jg.base, 'kvm', filler);
  await assertRecovers(jg.base, keep, 'account max_file', notes);
  report(t, notes.join('\n'));
  assert.ok(jg.running());
});
