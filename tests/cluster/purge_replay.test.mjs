// Replicated object buckets and nats-server's replay of purges.  nats-server
// before 2.9.18 (Debian 12 has 2.9.10) replays a filtered purge of a
// replicated stream, on a replica that restarts, as the removal of every
// message up to it (nats-server issue 4196): that replica loses every older
// object, and the other replicas drop them too once it leads.  jetgate
// removes an object's old chunks (overwrite, delete) and a renamed object's
// old meta one message at a time on replicated buckets, and so does the
// janitor with orphan chunks.  This test makes all four happen, restarts a
// follower (kill -9, so that it replays its log), checks that every replica
// holds what the leader holds, then has the restarted one lead and reads
// every object back.  Against the filtered purge the restarted replica is
// left with the last few messages only.
//
// An object's chunks beyond the first few are listed by a headers-only
// consumer and deleted many at a time; the second test deletes that
// consumer under the removal, which must then finish by asking the stream
// leader message by message and still leave no chunk behind.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { startCluster, startJetgate, putBucket, uniqueName, http, sleep, connectNats } from './cluster.mjs';
import { JETGATE_ARGS, cleanupList } from './common.mjs';

const cleanups = cleanupList();
afterEach(() => cleanups.run());

const CHUNK = 1024;

/** The stream's state as node i reports it. */
async function stateOf(cluster, i, stream) {
  const j = await cluster.jsz(i);
  for (const a of j.account_details ?? []) for (const s of a.stream_detail ?? []) if (s.name === stream) return s.state;
  return undefined;
}

/**
 * Kills (-9) and restarts a follower of stream, so that it replays its log,
 * checks that every replica then holds what the leader held, and makes the
 * restarted replica the leader.
 */
async function restartFollower(t, cluster, stream) {
  await cluster.waitCurrent(stream);
  const leader = await cluster.waitLeader(stream);
  const before = await stateOf(cluster, leader, stream);
  const f = (leader + 1) % 3;
  await cluster.nodes[f].kill();
  await cluster.nodes[f].start();
  await cluster.waitCurrent(stream);
  const same = (x) => x && x.first_seq === before.first_seq && x.last_seq === before.last_seq && x.messages === before.messages;
  for (let i = 0; i < 3; i++) {
    let st;
    for (const t0 = Date.now(); !same(st = await stateOf(cluster, i, stream)) && Date.now() - t0 < 10000;) await sleep(200);
    t.diagnostic(`${cluster.nodes[i].name}${i === f ? ' (restarted)' : ''}: ${JSON.stringify(st)}`);
    assert.ok(same(st), `${cluster.nodes[i].name}${i === f ? ' (restarted)' : ''} holds ${JSON.stringify(st)}; the leader held ${JSON.stringify(before)}`);
  }
  for (let i = 0; i < 20 && (await cluster.waitLeader(stream)) !== f; i++) {
    try {
      const nc = await connectNats(cluster.urls);
      try {
        await nc.nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, '', { timeout: 5000 });
      } finally {
        await nc.close();
      }
    } catch {
      await sleep(500); // the JetStream API can be slow to answer right after a restart
    }
    await cluster.waitCurrent(stream);
  }
  const leads = await cluster.waitLeader(stream);
  t.diagnostic(`${cluster.nodes[leads].name} leads${leads === f ? ' (the restarted replica)' : ''}`);
  return before;
}

/**
 * A 3-node cluster, jetgate in front of it with extra args, and an R3 object
 * bucket whose replicas are current: {cluster, jg, b, stream, path(name)}.
 */
async function replicatedBucket(prefix, args) {
  const cluster = await startCluster({ nodes: 3 });
  cleanups.add(() => cluster.destroy());
  const jg = await startJetgate({ natsUrl: cluster.url, args: [...JETGATE_ARGS, ...args] });
  cleanups.add(() => jg.stop());
  const b = uniqueName(prefix);
  const stream = `OBJ_${b}`;
  await putBucket(jg.base, 'objm', b, { replicas: 3 });
  await cluster.waitCurrent(stream);
  return { cluster, jg, b, stream, path: (n) => `/v1/obj/${b}/${n}` };
}

test('overwrites, deletes and renames on a replicated bucket survive a follower replaying its log', async (t) => {
  const { cluster, jg, b, stream, path } = await replicatedBucket('rp', [
    '--obj-janitor-interval', '1s', '--obj-janitor-age', '2s',
  ]);
  const live = new Map(); // name -> data
  const put = async (n, size) => {
    const data = crypto.randomBytes(size);
    const r = await http(jg.base, 'PUT', `${path(n)}?chunkSize=${CHUNK}`, { body: data });
    assert.equal(r.status, 201, r.text);
    live.set(n, data);
  };
  // consumers made on the stream: the listing of chunks to remove
  const watcher = await connectNats(cluster.urls);
  cleanups.add(() => watcher.close());
  let listed = 0;
  const advisories = watcher.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.CREATED.${stream}.>`, {
    callback: () => { listed++; },
  });
  await watcher.nc.flush();
  await put('a', 5000);
  await put('b', 300 * CHUNK); // more chunks than one listing batch
  await put('b', 2500); // the first version's chunks are removed
  await put('c', 2000);
  await put('d', 40 * CHUNK);
  let r = await http(jg.base, 'DELETE', path('d')); // its chunks are removed
  assert.equal(r.status, 200, r.text);
  live.delete('d');
  await put('e', 1200);
  r = await http(jg.base, 'PATCH', path('e'), { body: { name: 'e2' } }); // the old meta is removed
  assert.equal(r.status, 200, r.text);
  live.set('e2', live.get('e'));
  live.delete('e');
  advisories.unsubscribe();
  assert.ok(listed >= 2, `the chunks of b and d were listed by a consumer (${listed} made)`);
  // orphan chunks, which the janitor removes once they are 2 s old
  const nc = await connectNats(cluster.urls);
  try {
    for (let i = 0; i < 3; i++) await nc.js.publish(`$O.${b}.C.orphan${uniqueName('n')}`, new Uint8Array(100));
    const many = `$O.${b}.C.orphan${uniqueName('m')}`; // enough chunks to be listed
    for (let i = 0; i < 40; i++) await nc.js.publish(many, new Uint8Array(100));
  } finally {
    await nc.close();
  }
  await sleep(4000);

  // what the stream must hold: the live objects' chunks and metas, d's deleted meta
  let expected = 1;
  for (const data of live.values()) expected += 1 + Math.ceil(data.length / CHUNK);
  await cluster.waitCurrent(stream);
  const before = await restartFollower(t, cluster, stream);
  assert.equal(before.messages, expected, `the leader held ${JSON.stringify(before)}`);
  for (const [n, data] of live) {
    const g = await http(jg.base, 'GET', path(n));
    assert.equal(g.status, 200, `${n}: ${g.status} ${g.text.slice(0, 200)}`);
    assert.ok(g.bytes.equals(data), `${n}: the content read back differs`);
  }
  assert.equal((await http(jg.base, 'GET', path('d'))).status, 404);
  assert.equal((await http(jg.base, 'GET', path('e'))).status, 404);
});

test('removing a large object finishes through the stream leader when its listing consumer vanishes', async (t) => {
  const { cluster, jg, stream, path } = await replicatedBucket('rv', ['--log-level', 'debug']);
  const put = async (n, data) => {
    const r = await http(jg.base, 'PUT', `${path(n)}?chunkSize=${CHUNK}`, { body: data, timeoutMs: 60000 });
    assert.equal(r.status, 201, r.text);
  };

  // every consumer made on the stream is deleted as soon as it exists
  const saboteur = await connectNats(cluster.urls);
  cleanups.add(() => saboteur.close());
  let deleted = 0;
  saboteur.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.CREATED.${stream}.>`, {
    callback: (err, m) => {
      if (err) return;
      const name = m.json().consumer;
      saboteur.jsm.consumers.delete(stream, name).then(() => { deleted++; }, () => {});
    },
  });
  await saboteur.nc.flush();

  const kept = crypto.randomBytes(3 * CHUNK);
  await put('kept', kept);
  await put('big', crypto.randomBytes(1000 * CHUNK));
  let r = await http(jg.base, 'DELETE', path('big'), { timeoutMs: 60000 });
  assert.equal(r.status, 200, r.text);
  await put('over', crypto.randomBytes(1000 * CHUNK));
  await put('over', crypto.randomBytes(2 * CHUNK)); // the 1000 chunks before are removed
  assert.ok(deleted >= 1, 'a listing consumer was deleted under the removal');
  assert.match(jg.log(), /one message at a time/, 'the removal went on through the stream leader');

  // left: kept (meta + 3 chunks), big's deleted meta, over (meta + 2 chunks)
  const s = await cluster.waitCurrent(stream);
  const info = await saboteur.jsm.streams.info(stream);
  t.diagnostic(`stream: ${JSON.stringify(info.state)}`);
  assert.equal(info.state.messages, 4 + 1 + 3, `the stream holds ${JSON.stringify(info.state)}`);
  assert.equal(info.state.consumer_count, 0, 'no consumer is left behind');
  r = await http(jg.base, 'GET', path('kept'));
  assert.equal(r.status, 200);
  assert.ok(r.bytes.equals(kept));
  assert.ok(s);
});
