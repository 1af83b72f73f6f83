// jetgate in front of a 3-node JetStream cluster while the leader of the
// buckets' streams is killed (kill -9) and brought back, and while a leader
// is frozen (SIGSTOP) through an election:
//   - every write answered 2xx is readable afterwards with the right value,
//     through jetgate and with the official NATS client;
//   - a GET after an acknowledged PUT returns that value or a newer one;
//   - no answer later than the request timeout, no false 409/412;
//   - at least 95% of the requests succeed and jetgate never crashes;
//   - during an election reads are retried within the request deadline or
//     refused with 503 and Retry-After; a write retried with its
//     Idempotency-Key is stored once and never reports a false 412.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import {
  startCluster, startJetgate, createKvBucket, putBucket, uniqueName, sleep, connectedNode, http, connectNats,
} from './cluster.mjs';
import { MixedLoad } from './load.mjs';
import {
  LONG, REQUEST_TIMEOUT_MS, HANG_SLACK_MS, JETGATE_ARGS, cleanupList, natsKv, assertGuarantees, tail, report,
  replicaProbe, probeText, lostByServer, explainedByServerLoss,
} from './common.mjs';

const cleanups = cleanupList();
afterEach(() => cleanups.run());

const ROUNDS = LONG ? 10 : 3;

/** A value of jetgate's /metrics (NaN when missing). */
const metric = async (base, name) => {
  const m = await http(base, 'GET', '/metrics').catch(() => ({ text: '' }));
  const line = m.text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
};


async function setup({ obj = false } = {}) {
  const cluster = await startCluster({ nodes: 3 });
  cleanups.add(() => cluster.destroy());
  const jg = await startJetgate({ natsUrl: cluster.url, args: JETGATE_ARGS });
  cleanups.add(() => jg.stop());
  const bucket = uniqueName('ha');
  const st = await createKvBucket(jg.base, bucket, { history: 5, replicas: 3 });
  assert.equal(st.replicas, 3, JSON.stringify(st));
  await cluster.waitCurrent(`KV_${bucket}`);
  return { cluster, jg, bucket, objBucket: obj ? uniqueName('hao') : undefined };
}

// nats-server 2.9.10 loses acknowledged messages in two ways that this test
// meets.  A filtered purge of a replicated stream is replayed, on a replica
// that restarts, as the removal of everything before it (nats-server issue
// 4196): jetgate never purges replicated buckets for that reason (see
// purge_replay.test.mjs).  And a replica still catching up after its
// restart can be elected leader without messages a quorum stored (fixed in
// later servers; nats-server pull requests 6056 and 7040): jetgate then asks
// the replica on each other server by direct get, which covers the case
// where another replica holds them, but the followers may have conformed to
// the new leader.  So when a read misses an acknowledged write, the test asks
// each node's replica and the stream leader with the official client
// (replicaProbe); when every violation of a run is a write that none of them
// held, although each replica had passed its sequence, the run is reported
// as skipped with that evidence; any other violation fails the test.
test(`the buckets' leader killed and restarted ${ROUNDS} times under mixed load: nothing acknowledged is lost`, async (t) => {
  const { cluster, jg, bucket, objBucket } = await setup({ obj: true });
  const stream = `KV_${bucket}`;
  const probe = replicaProbe(cluster, { kvBucket: bucket, objBucket });
  const load = new MixedLoad({
    bases: [jg.base], bucket, objBucket, obj: true, watchers: 50, replicas: 3,
    requestTimeoutMs: REQUEST_TIMEOUT_MS, probe,
    kv: { keys: 120, workers: 6, rate: 20 },
    objOpts: { objects: 8, workers: 2, rate: 2, sizeBytes: [1024, 100000], chunkSize: 16384 },
  });
  cleanups.add(() => load.abort());
  await load.prepare();
  if (!load.obj.skipped) await cluster.waitCurrent(`OBJ_${objBucket}`);
  await load.start();
  const mark = (m) => load.stats.mark(m);
  await sleep(LONG ? 10000 : 4000);
  for (let round = 1; round <= ROUNDS; round++) {
    const leader = await cluster.waitLeader(stream);
    const name = cluster.nodes[leader].name;
    const conn = await connectedNode(cluster, jg.base);
    const objLeader = load.obj.skipped ? -1 : await cluster.leaderOf(`OBJ_${objBucket}`);
    mark(`round ${round}: kill -9 ${name}, leader of ${stream}`
      + `${objLeader === leader ? ' and of the object bucket' : ''} (jetgate connected to ${conn >= 0 ? cluster.nodes[conn].name : '?'})`);
    await cluster.nodes[leader].kill();
    const next = await cluster.waitLeader(stream, { not: leader });
    mark(`round ${round}: ${cluster.nodes[next].name} leads ${stream}`);
    await sleep(LONG ? 10000 : 3000);
    await cluster.nodes[leader].start();
    mark(`round ${round}: ${name} restarted`);
    await cluster.waitCurrent(stream);
    if (!load.obj.skipped) await cluster.waitCurrent(`OBJ_${objBucket}`);
    mark(`round ${round}: every replica current`);
    await sleep(LONG ? 10000 : 3000);
  }
  const nkv = await natsKv(cluster.urls, bucket);
  try {
    await load.stopAndVerify({ kv: nkv.kv });
  } finally {
    nkv.close();
  }
  report(t, `${load.summary()}\nreads asked of the replica on another server: ${await metric(jg.base, 'jetgate_nats_side_requests_total')}`);
  const lost = load.stats.violations.length ? await lostByServer(probe, load) : [];
  const { explained, other } = explainedByServerLoss(load.stats.violations, lost);
  if (explained.length && !other.length) {
    for (const v of explained) report(t, `at ${v.t} ms: ${v.what}`);
    for (const p of [...explained.map((v) => v.lost).filter(Boolean), ...lost]) report(t, `lost by the servers: ${probeText(p)}`);
    load.stats.violations = other; // the other guarantees still hold
    assertGuarantees(load, [jg]);
    await cleanups.run(); // node:test runs no afterEach hook for a test that skips itself
    t.skip(`nats-server 2.9.10 lost acknowledged writes from every replica (${explained.length} violations, each shown to be one of them)`);
    return;
  }
  assertGuarantees(load, [jg]);
});

/** A stream leader that is not the server jetgate is connected to (moved by step-down). */
async function leaderAwayFromJetgate(cluster, jg, stream) {
  const nc = await connectNats(cluster.urls);
  try {
    for (let i = 0; i < 10; i++) {
      const leader = await cluster.waitLeader(stream);
      const conn = await connectedNode(cluster, jg.base);
      if (conn >= 0 && leader !== conn) return { leader, conn };
      await nc.nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, '', { timeout: 5000 }).catch(() => {});
      await cluster.waitLeader(stream, { not: leader });
    }
  } finally {
    await nc.close();
  }
  throw new Error(`cannot move the leader of ${stream} away from the server jetgate is connected to`);
}

test('a leader frozen (SIGSTOP) through an election: reads retried or 503 + Retry-After, retried writes stored once', async (t) => {
  const { cluster, jg, bucket } = await setup();
  const stream = `KV_${bucket}`;
  const kvp = (k) => `/v1/kv/${bucket}/${k}`;
  const limit = REQUEST_TIMEOUT_MS + HANG_SLACK_MS;
  const notes = [];
  const problems = [];

  // known state before the fault
  const acked = new Map();
  for (let i = 0; i < 10; i++) {
    const r = await http(jg.base, 'PUT', kvp(`r.${i}`), { body: `before-${i}` });
    assert.equal(r.status, 201, r.text);
    acked.set(`r.${i}`, { rev: Number(r.headers.get('x-nats-kv-revision')), value: `before-${i}` });
  }
  let cas = await http(jg.base, 'PUT', kvp('cas'), { body: 'cas-0' });
  assert.equal(cas.status, 201, cas.text);
  let casRev = Number(cas.headers.get('x-nats-kv-revision'));

  const { leader, conn } = await leaderAwayFromJetgate(cluster, jg, stream);
  const t0 = Date.now();
  const at = () => Date.now() - t0;
  notes.push(`${at()} ms: SIGSTOP ${cluster.nodes[leader].name} (leader of ${stream}); jetgate connected to ${cluster.nodes[conn].name}`);
  await cluster.nodes[leader].pause();
  cleanups.add(() => cluster.nodes[leader].resume());

  const timed = async (what, method, p, opts) => {
    const t1 = at();
    let r;
    try {
      r = await http(jg.base, method, p, { timeoutMs: limit + 5000, ...opts });
    } catch (e) {
      problems.push(`${t1} ms ${what}: no answer (${e.message})`);
      return null;
    }
    // the quick successes are not worth a line
    if (r.status >= 300 || r.ms > 100) {
      notes.push(`${t1} ms ${what}: ${r.status} ${r.json?.code ?? ''} in ${r.ms} ms${r.headers.get('retry-after') ? ` (Retry-After ${r.headers.get('retry-after')})` : ''}`);
    }
    if (r.ms > limit) problems.push(`${t1} ms ${what}: answered after ${r.ms} ms (limit ${limit})`);
    if (r.status === 503 && !r.headers.get('retry-after')) problems.push(`${t1} ms ${what}: 503 without Retry-After`);
    return r;
  };

  const idemWrites = []; // {key, value, idem, status}
  let n = 0;
  let elected = -1;
  while (at() < 12000) {
    n += 1;
    // a read of an acknowledged key: served (retried inside jetgate) or 503 + Retry-After
    const key = `r.${n % 10}`;
    const g = await timed(`GET ${key}`, 'GET', kvp(key));
    if (g && g.status === 200) {
      const a = acked.get(key);
      if (Number(g.headers.get('x-nats-kv-revision')) < a.rev || (Number(g.headers.get('x-nats-kv-revision')) === a.rev && g.text !== a.value)) {
        problems.push(`GET ${key}: stale ${g.headers.get('x-nats-kv-revision')} '${g.text}' after acknowledged ${a.rev}`);
      }
    } else if (g && g.status !== 503) {
      problems.push(`GET ${key} during the election: ${g.status} ${g.json?.code ?? g.text.slice(0, 100)} (want 200, or 503 with Retry-After)`);
    }
    // a write with an Idempotency-Key, retried with the same key until it gets an answer that is not 5xx
    const idem = `idem-${n}`;
    const value = `during-${n}`;
    let w;
    for (let attempt = 0; attempt < 8; attempt++) {
      w = await timed(`PUT w.${n} (attempt ${attempt + 1})`, 'PUT', kvp(`w.${n}`), { body: value, headers: { 'Idempotency-Key': idem } });
      if (w && w.status < 500) break;
      if (w && w.status !== 503 && w.status !== 504) break;
      await sleep(w && w.status === 503 ? 500 : 100);
    }
    idemWrites.push({ key: `w.${n}`, value, idem, status: w ? w.status : 0 });
    if (w && w.status >= 400 && w.status < 500) problems.push(`PUT w.${n}: ${w.status} ${w.text.slice(0, 200)}`);
    // a conditional write, retried with the same Idempotency-Key: never a false 412
    const casIdem = `cas-${n}`;
    let c;
    for (let attempt = 0; attempt < 8; attempt++) {
      c = await timed(`PUT cas If-Match "${casRev}" (attempt ${attempt + 1})`, 'PUT', kvp('cas'), {
        body: `cas-${n}`, headers: { 'If-Match': `"${casRev}"`, 'Idempotency-Key': casIdem },
      });
      if (!c || (c.status !== 503 && c.status !== 504)) break;
      await sleep(c.status === 503 ? 500 : 100);
    }
    if (c && c.status === 201) {
      casRev = Number(c.headers.get('x-nats-kv-revision'));
    } else if (c && (c.status === 412 || c.status === 409)) {
      problems.push(`PUT cas If-Match "${casRev}" retried with Idempotency-Key ${casIdem}: false ${c.status} ${c.json?.code} (only this test writes the key)`);
      break;
    }
    await sleep(50);
    if (elected < 0) {
      const l = await cluster.leaderOf(stream);
      if (l >= 0 && l !== leader) { elected = at(); notes.push(`${elected} ms: ${cluster.nodes[l].name} elected`); }
    }
  }
  cluster.nodes[leader].resume();
  notes.push(`${at()} ms: SIGCONT ${cluster.nodes[leader].name}`);
  await cluster.waitCurrent(stream);

  // afterwards (reads retried while the cluster settles): every write
  // stored at most once; the acknowledged ones readable
  const settled = async (p, opts = {}) => {
    let r;
    for (let i = 0; i < 75; i++) {
      r = await http(jg.base, 'GET', p, opts);
      if (r.status < 500) return r;
      await sleep(200);
    }
    return r;
  };
  for (const w of idemWrites) {
    const h = await settled(`${kvp(w.key)}?history=true`, { headers: { Accept: 'application/json' } });
    const stored = h.status === 200 ? h.json.filter((e) => Buffer.from(e.value ?? '', 'base64').toString() === w.value).length : 0;
    if (stored > 1) problems.push(`${w.key} (Idempotency-Key ${w.idem}) stored ${stored} times`);
    if (w.status === 201 && stored !== 1) problems.push(`${w.key}: acknowledged but stored ${stored} times (history ${h.status})`);
  }
  const last = await settled(kvp('cas'));
  if (last.status !== 200) problems.push(`GET cas after the election: ${last.status} ${last.text.slice(0, 200)}`);
  else if (Number(last.headers.get('x-nats-kv-revision')) < casRev) problems.push(`cas key went back: ${last.headers.get('x-nats-kv-revision')} < ${casRev}`);
  report(t, notes.join('\n'));
  assert.ok(jg.running(), `jetgate died:\n${tail(jg.log())}`);
  assert.deepEqual(problems, [], `during the election:\n${notes.join('\n')}`);
});

test('the server jetgate is connected to frozen (SIGSTOP): jetgate moves to another server and serves again', async (t) => {
  const { cluster, jg, bucket } = await setup();
  const stream = `KV_${bucket}`;
  const kvp = (k) => `/v1/kv/${bucket}/${k}`;
  const limit = REQUEST_TIMEOUT_MS + HANG_SLACK_MS;
  for (let i = 0; i < 5; i++) assert.equal((await http(jg.base, 'PUT', kvp(`k${i}`), { body: `v${i}` })).status, 201);
  const conn = await connectedNode(cluster, jg.base);
  assert.ok(conn >= 0);
  const t0 = Date.now();
  await cluster.nodes[conn].pause();
  cleanups.add(() => cluster.nodes[conn].resume());
  const notes = [`0 ms: SIGSTOP ${cluster.nodes[conn].name}, the server jetgate is connected to (leader of ${stream}: ${cluster.nodes[await cluster.leaderOf(stream)]?.name ?? '?'})`];
  const slow = [];
  // libnats notices a silent server after its pings go unanswered; give it 45 s
  let servedAt = -1;
  let i = 0;
  while (Date.now() - t0 < 45000) {
    i += 1;
    const r = await http(jg.base, 'PUT', kvp(`k${i % 5}`), { body: `p${i}`, timeoutMs: limit + 5000 }).catch((e) => ({ status: 0, text: e.message, ms: limit + 5000, headers: new Headers() }));
    if (r.ms > limit) slow.push(`${Date.now() - t0 - r.ms} ms: PUT answered after ${r.ms} ms (${r.status})`);
    if (r.status === 201) {
      const g = await http(jg.base, 'GET', kvp(`k${i % 5}`), { timeoutMs: limit + 5000 });
      if (g.status === 200 && g.text === `p${i}`) { servedAt = Date.now() - t0; break; }
    }
    await sleep(r.status === 503 ? 500 : 100);
  }
  notes.push(`${servedAt} ms: write and read served again (connected to ${cluster.nodes[await connectedNode(cluster, jg.base)]?.name ?? '?'})`);
  cluster.nodes[conn].resume();
  report(t, notes.join('\n'));
  assert.ok(jg.running(), `jetgate died:\n${tail(jg.log())}`);
  assert.ok(servedAt >= 0, `jetgate did not serve a write and read within 45 s of its server freezing:\n${notes.join('\n')}\n${tail(jg.log(), 20)}`);
  assert.deepEqual(slow, [], 'answers later than the request timeout');
});

// A leader's "not found" on a replicated bucket is asked again of each
// replica by direct get, through a side connection to each other server (a
// leader elected before it applied every write may answer it wrongly, see
// W1 in src/nats/msgget.c): a key or object that was never written
// still answers 404, at once, after asking the two other servers.
test('replicated buckets after writes: what was never written answers 404 at once', async () => {
  const { jg, bucket } = await setup();
  const ob = uniqueName('hao');
  await putBucket(jg.base, 'objm', ob, { replicas: 3 });
  for (let i = 0; i < 5; i++) {
    assert.equal((await http(jg.base, 'PUT', `/v1/kv/${bucket}/k${i}`, { body: `v${i}` })).status, 201);
    assert.equal((await http(jg.base, 'PUT', `/v1/obj/${ob}/o${i}`, { body: `object ${i}` })).status, 201);
  }
  assert.equal(await metric(jg.base, 'jetgate_nats_side_servers'), 2, 'side connections to the two other servers');
  for (const [p, code] of [[`/v1/kv/${bucket}/never`, 'key_not_found'], [`/v1/obj/${ob}/never`, 'object_not_found']]) {
    const before = await metric(jg.base, 'jetgate_nats_side_requests_total');
    const r = await http(jg.base, 'GET', p);
    assert.equal(r.status, 404, `${p}: ${r.status} ${r.text}`);
    assert.equal(r.json.code, code);
    assert.ok(r.ms < 1000, `${p}: 404 after ${r.ms} ms`);
    assert.equal(await metric(jg.base, 'jetgate_nats_side_requests_total') - before, 2, `${p}: the replicas on the two other servers asked`);
  }
  // and what was written reads back
  assert.equal((await http(jg.base, 'GET', `/v1/kv/${bucket}/k4`)).text, 'v4');
  assert.equal((await http(jg.base, 'GET', `/v1/obj/${ob}/o4`)).text, 'object 4');
});
