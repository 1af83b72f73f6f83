// KV watch (Server-Sent Events): the stream format, every query option and
// event type, errors and limits.  One nats-server + jetgate for the file;
// each test uses its own bucket.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack, startJetgate, createKvBucket, uniqueName, http, assertProblem, sleep,
  jszConsumers, waitFor, connectNats, parseRfc3339Ms,
} from '../lib/harness.mjs';
import { openSse, entries, revs } from './watch_sse.mjs';

let stack;
let base;
const open = [];

before(async () => {
  stack = await startStack({ args: ['--watch-keepalive', '300ms'] });
  base = stack.base;
});

after(async () => {
  for (const s of open) s.close();
  await stack.stop();
});

async function watch(bucket, query = '', headers = {}) {
  const s = await openSse(base, `/v1/kvm/buckets/${bucket}/watch${query}`, { headers });
  open.push(s);
  return s;
}

async function put(bucket, key, value) {
  const r = await http(base, 'PUT', `/v1/kv/${bucket}/${key}`, { body: value });
  assert.ok(r.status === 200 || r.status === 201, r.text);
  return Number(r.headers.get('x-nats-kv-revision'));
}

async function del(bucket, key, purge = false) {
  const r = await http(base, 'DELETE', `/v1/kv/${bucket}/${key}${purge ? '?purge=true' : ''}`);
  assert.ok(r.status === 200 || r.status === 204, r.text);
}

async function getJson(bucket, key) {
  const r = await http(base, 'GET', `/v1/kv/${bucket}/${key}`, { headers: { Accept: 'application/json' } });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const synced = (e) => e.event === 'synced';

async function consumersOf(bucket) {
  return (await jszConsumers(stack.nats.monitorPort)).filter((c) => c.stream === `KV_${bucket}`);
}

test('stream format: headers, retry, current values, synced, live PUT/DEL/PURGE', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b, { history: 5 });
  const r1 = await put(b, 'a', 'one');
  const r2 = await put(b, 'b', 'two');
  const r3 = await put(b, 'a', 'three');
  const s = await watch(b);
  assert.equal(s.status, 200);
  assert.match(s.headers['content-type'], /^text\/event-stream/);
  assert.equal(s.headers['cache-control'], 'no-cache');
  assert.equal(s.headers['x-accel-buffering'], 'no');
  const sy = await s.next(synced);
  assert.deepEqual(JSON.parse(sy.data), { revision: r3 });
  assert.ok(s.raw().startsWith('retry: 2000\n\n'), `stream must open with retry: ${JSON.stringify(s.raw().slice(0, 40))}`);
  // current value per key, in revision order, ids = revisions
  assert.deepEqual(revs(s), [r2, r3]);
  assert.deepEqual(s.events.filter((e) => e.event === 'message').map((e) => Number(e.id)), [r2, r3]);
  const ea = entries(s)[1];
  const ga = await getJson(b, 'a');
  for (const k of ['bucket', 'key', 'revision', 'created', 'operation', 'value']) {
    assert.deepEqual(ea[k], ga[k], `field ${k} as in GET`);
  }
  assert.equal(Buffer.from(ea.value, 'base64').toString(), 'three');
  assert.equal(typeof ea.delta, 'number');
  assert.ok(r1 < r2);

  // live changes
  const n0 = s.events.length;
  const r4 = await put(b, 'c', 'four');
  await del(b, 'b');
  await del(b, 'a', true);
  await s.waitEvents((evs) => evs.length >= n0 + 3, 5000, 'three live events');
  const live = s.events.slice(n0).map((e) => e.json);
  assert.deepEqual(live.map((e) => e.operation), ['PUT', 'DEL', 'PURGE']);
  assert.equal(live[0].revision, r4);
  assert.equal(live[0].key, 'c');
  assert.equal(Buffer.from(live[0].value, 'base64').toString(), 'four');
  assert.equal(live[1].key, 'b');
  assert.ok(!('value' in live[1]), 'DEL has no value');
  assert.ok(!('value' in live[2]), 'PURGE has no value');
  assert.equal(s.events.filter(synced).length, 1, 'synced exactly once');
  s.close();
});

test('empty bucket: synced at once with revision 0; updatesOnly: synced first, then only new changes', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b, { history: 5 });
  const s = await watch(b);
  const sy = await s.next(synced, 3000);
  assert.deepEqual(JSON.parse(sy.data), { revision: 0 });
  assert.equal(entries(s).length, 0);

  await put(b, 'x', '1');
  const r2 = await put(b, 'y', '2');
  const u = await watch(b, '?include=updatesOnly');
  const usy = await u.next(synced, 3000);
  assert.deepEqual(JSON.parse(usy.data), { revision: r2 });
  assert.equal(u.events[0].event, 'synced', 'nothing before synced');
  const r3 = await put(b, 'x', '3');
  await u.next((e) => e.event === 'message');
  assert.deepEqual(revs(u), [r3]);
  await s.waitEvents(() => revs(s).includes(r3));
  assert.equal(s.events.filter(synced).length, 1);
});

test('allHistory, filter (repeatable), prefix, ignoreDeletes, metaOnly', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b, { history: 10 });
  const rv = {};
  rv.a1 = await put(b, 'a.1', 'x');
  rv.a1b = await put(b, 'a.1', 'xx');
  rv.b1 = await put(b, 'b.1', 'y');
  rv.c = await put(b, 'c/d/e', 'z');
  rv.c2 = await put(b, 'c/f', 'w');
  await del(b, 'b.1');
  const bdel = rv.c2 + 1;

  const all = await watch(b, '?include=allHistory');
  await all.next(synced);
  assert.deepEqual(revs(all), [rv.a1, rv.a1b, rv.b1, rv.c, rv.c2, bdel]);

  const f = await watch(b, '?include=allHistory&filter=a.*&filter=b.>');
  await f.next(synced);
  assert.deepEqual(revs(f), [rv.a1, rv.a1b, rv.b1, bdel]);

  const one = await watch(b, '?filter=a.1');
  await one.next(synced);
  assert.deepEqual(revs(one), [rv.a1b]);

  const p = await watch(b, '?include=allHistory&prefix=c/d');
  await p.next(synced);
  assert.deepEqual(revs(p), [rv.c]);

  const pf = await watch(b, '?prefix=c/&prefix=a.');
  await pf.next(synced);
  assert.deepEqual(revs(pf), [rv.a1b, rv.c, rv.c2]);

  const nd = await watch(b, '?ignoreDeletes=true');
  await nd.next(synced);
  assert.deepEqual(revs(nd), [rv.a1b, rv.c, rv.c2], 'deleted b.1 not shown');

  const m = await watch(b, '?metaOnly=true&include=allHistory');
  await m.next(synced);
  assert.equal(entries(m).length, 6);
  for (const e of entries(m)) assert.ok(!('value' in e), `metaOnly entry has no value: ${JSON.stringify(e)}`);
  assert.equal(entries(m)[1].length, 2, 'metaOnly tells the value length');

  // live, through the same filters
  const n = revs(f).length;
  const rx = await put(b, 'a.2', 'q');
  await put(b, 'zz', 'q');
  const ry = await put(b, 'b.1.2', 'q');
  await f.waitEvents(() => revs(f).length >= n + 2);
  await sleep(200);
  assert.deepEqual(revs(f).slice(n), [rx, ry]);
  await del(b, 'c/f');
  const rz = await put(b, 'c/g', 'q');
  await nd.waitEvents(() => revs(nd).includes(rz));
  assert.ok(!entries(nd).some((e) => e.operation !== 'PUT'), 'ignoreDeletes drops live deletes');
  await m.waitEvents(() => revs(m).includes(rz));
  assert.ok(!entries(m).some((e) => 'value' in e));
});

test('resume: resumeRevision, Last-Event-ID (wins over the query), startTime', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b, { history: 10 });
  const r = [];
  for (let i = 0; i < 6; i++) r.push(await put(b, `k${i % 2}`, `v${i}`));
  const s1 = await watch(b, `?resumeRevision=${r[2]}`);
  await s1.next(synced);
  assert.deepEqual(revs(s1), r.slice(3), 'changes after N, all of them (not only last values)');

  const s2 = await watch(b, `?resumeRevision=${r[0]}&include=updatesOnly&filter=k1`, { 'Last-Event-ID': String(r[3]) });
  await s2.next(synced);
  assert.deepEqual(revs(s2), [r[5]], 'Last-Event-ID wins, the filter still applies');

  const s3 = await watch(b, `?resumeRevision=${r[5]}`);
  await s3.next(synced);
  assert.deepEqual(revs(s3), [], 'resume at the end: nothing, synced');
  const r6 = await put(b, 'k0', 'v6');
  await s3.next((e) => e.event === 'message');
  assert.deepEqual(revs(s3), [r6]);

  // startTime: every change stored at or after it
  await sleep(50);
  const t = new Date().toISOString();
  await sleep(50);
  const r7 = await put(b, 'k1', 'v7');
  const r8 = await put(b, 'k1', 'v8');
  const s4 = await watch(b, `?startTime=${encodeURIComponent(t)}`);
  await s4.next(synced);
  assert.deepEqual(revs(s4), [r7, r8]);
});

test('reset: revision older than the stream holds, or above its last revision', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b, { history: 1 });
  const r1 = await put(b, 'k', '1');
  await put(b, 'k', '2');
  const r3 = await put(b, 'k', '3');
  const r4 = await put(b, 'j', '4');
  // revision r1 + 1 is gone (history 1): the changes right after r1 cannot be delivered
  const s = await watch(b, '', { 'Last-Event-ID': String(r1) });
  const sy = await s.next(synced);
  const kinds = s.events.map((e) => e.event);
  assert.equal(kinds[0], 'reset', `reset first: ${kinds}`);
  assert.ok(s.events[0].data.length > 0, 'reset has a data line');
  assert.deepEqual(revs(s), [r3, r4], 'then the current values');
  assert.deepEqual(JSON.parse(sy.data), { revision: r4 });

  const s2 = await watch(b, `?resumeRevision=${r4 + 100}`);
  await s2.next(synced);
  assert.equal(s2.events[0].event, 'reset');
  assert.deepEqual(revs(s2), [r3, r4]);

  // r3 - 1 is gone too, but nothing after r3 is missing: no reset
  const s3 = await watch(b, `?resumeRevision=${r3}`);
  await s3.next(synced);
  assert.ok(!s3.events.some((e) => e.event === 'reset'));
  assert.deepEqual(revs(s3), [r4]);
});

test('keepalive comments while idle', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b, { history: 1 });
  const s = await watch(b);
  await s.next(synced);
  await s.waitEvents((e, st) => st.comments.filter((c) => c === 'keepalive').length >= 2, 3000, 'two keepalives');
  assert.match(s.raw(), /\n: keepalive\n\n/);
});

test('bad parameters: 400; missing bucket: 404; bucket deleted while watched: error event, end', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b, { history: 1 });
  const cases = [
    ['?include=everything', 'invalid_parameter'],
    ['?filter=a..b', 'invalid_key'],
    ['?filter=a.>.b', 'invalid_key'],
    ['?resumeRevision=x', 'invalid_parameter'],
    ['?startTime=yesterday', 'invalid_parameter'],
    ['?ignoreDeletes=maybe', 'invalid_parameter'],
    ['?metaOnly=2', 'invalid_parameter'],
    ['?resumeRevision=1&startTime=2024-01-01T00:00:00Z', 'invalid_parameter'],
  ];
  for (const [q, code] of cases) {
    const r = await http(base, 'GET', `/v1/kvm/buckets/${b}/watch${q}`);
    assertProblem(r, 400, code, q);
  }
  const r = await http(base, 'GET', `/v1/kvm/buckets/${b}/watch`, { headers: { 'Last-Event-ID': 'abc' } });
  assertProblem(r, 400, 'invalid_parameter', 'Last-Event-ID');
  assertProblem(await http(base, 'GET', `/v1/kvm/buckets/${uniqueName('nope')}/watch`), 404, 'bucket_not_found');
  assertProblem(await http(base, 'GET', '/v1/kvm/buckets/a.b/watch'), 400, 'invalid_bucket');

  await put(b, 'k', 'v');
  const s = await watch(b);
  await s.next(synced);
  const d = await http(base, 'DELETE', `/v1/kvm/buckets/${b}`);
  assert.ok(d.status === 200 || d.status === 204, d.text);
  const err = await s.next((e) => e.event === 'error', 20000);
  assert.deepEqual(JSON.parse(err.data), { code: 'bucket_not_found' });
  await s.endedPromise;
  assert.ok(s.ended);
});

test('consumers: one per watcher while reading history, gone within seconds of the last close', async () => {
  const b = uniqueName('w');
  await createKvBucket(base, b, { history: 1 });
  await put(b, 'k', 'v');
  const s1 = await watch(b);
  const s2 = await watch(b, '?filter=k');
  await s1.next(synced);
  await s2.next(synced);
  const cs = await consumersOf(b);
  assert.ok(cs.length >= 1 && cs.length <= 2, `consumers: ${cs.length}`);
  for (const c of cs) {
    assert.equal(c.config.ack_policy, 'none');
    assert.equal(c.config.flow_control, true);
    assert.ok(c.config.idle_heartbeat > 0);
  }
  s1.close();
  s2.close();
  await waitFor(async () => (await consumersOf(b)).length === 0, 8000, 100, 'consumers to go');
});

test('limits: max_watchers_per_ip and max_watchers give 429 with Retry-After', async () => {
  // a client that left is noticed at the next write to it: keepalives often
  const jg = await startJetgate({
    natsUrl: stack.nats.url,
    args: ['--max-watchers-per-ip', '2', '--max-watchers', '3', '--watch-keepalive', '200ms'],
  });
  try {
    const b = uniqueName('w');
    await createKvBucket(jg.base, b, { history: 1 });
    const a1 = await openSse(jg.base, `/v1/kvm/buckets/${b}/watch`);
    const a2 = await openSse(jg.base, `/v1/kvm/buckets/${b}/watch`);
    assert.equal(a1.status, 200);
    assert.equal(a2.status, 200);
    const r = await http(jg.base, 'GET', `/v1/kvm/buckets/${b}/watch`);
    assertProblem(r, 429, 'too_many_requests');
    assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After');
    a1.close();
    // the place is given back once the stream is gone
    const a3 = await waitFor(async () => {
      const s = await openSse(jg.base, `/v1/kvm/buckets/${b}/watch`);
      if (s.status === 200) return s;
      return null;
    }, 5000, 100, 'a place after a close');
    await a3.next(synced);
    // max_watchers (3) counts every address: a second and a third client address
    const c1 = await openSse(jg.base, `/v1/kvm/buckets/${b}/watch`, { localAddress: '127.0.0.2' });
    assert.equal(c1.status, 200, c1.body);
    const c2 = await openSse(jg.base, `/v1/kvm/buckets/${b}/watch`, { localAddress: '127.0.0.3' });
    assert.equal(c2.status, 429, c2.body);
    assert.equal(c2.json.code, 'too_many_requests');
    assert.ok(Number(c2.headers['retry-after']) >= 1, 'Retry-After');
    a2.close();
    a3.close();
    c1.close();
  } finally {
    await jg.stop();
  }
});

test('object watch: ObjectInfo entries with mtime and revision, filter by name, ignoreDeletes', async () => {
  // objects written with the official JavaScript client, straight to NATS
  const { Objm } = await import('@nats-io/obj');
  const n = await connectNats(stack.nats.url);
  try {
    const b = uniqueName('o');
    const os = await new Objm(n.js).create(b);
    const t0 = Date.now();
    await os.putBlob({ name: 'one.txt' }, new TextEncoder().encode('hello'));
    await os.putBlob({ name: 'two.txt' }, new TextEncoder().encode('world'));
    const s = await openSse(base, `/v1/objm/buckets/${b}/watch`);
    open.push(s);
    assert.equal(s.status, 200);
    await s.next(synced);
    const es = entries(s);
    assert.deepEqual(es.map((e) => e.name), ['one.txt', 'two.txt']);
    for (const e of es) {
      assert.equal(e.bucket, b);
      assert.equal(e.size, 5);
      assert.equal(typeof e.revision, 'number');
      const ms = parseRfc3339Ms(e.mtime);
      assert.ok(Math.abs(ms - t0) < 10000, `mtime is the stored time: ${e.mtime}`);
    }
    assert.ok(es[0].revision < es[1].revision);
    assert.deepEqual(s.events.filter((e) => e.event === 'message').map((e) => Number(e.id)), es.map((e) => e.revision));
    const f = await openSse(base, `/v1/objm/buckets/${b}/watch?filter=two.txt&ignoreDeletes=true`);
    open.push(f);
    await f.next(synced);
    assert.deepEqual(entries(f).map((e) => e.name), ['two.txt']);
    await os.delete('two.txt');
    await os.putBlob({ name: 'two.txt' }, new TextEncoder().encode('again'));
    await os.putBlob({ name: 'three.txt' }, new TextEncoder().encode('3'));
    await f.waitEvents(() => entries(f).length >= 2);
    await s.waitEvents(() => entries(s).some((e) => e.name === 'three.txt'));
    assert.ok(!entries(f).some((e) => e.deleted), 'ignoreDeletes');
    assert.deepEqual(entries(f).map((e) => e.name), ['two.txt', 'two.txt'], 'filter');
    assert.deepEqual(entries(s).slice(2).map((e) => [e.name, !!e.deleted]),
      [['two.txt', true], ['two.txt', false], ['three.txt', false]]);
    assertProblem(await http(base, 'GET', `/v1/objm/buckets/${uniqueName('nope')}/watch`), 404, 'bucket_not_found');
  } finally {
    await n.close();
  }
});

test('a token limited to a key prefix watches only those keys', async () => {
  const { execFileSync } = await import('node:child_process');
  const fs = await import('node:fs');
  const path = await import('node:path');
  const { JETGATE_BIN, makeTempDir } = await import('../lib/harness.mjs');
  const b = uniqueName('t');
  await createKvBucket(base, b, { history: 5 });
  const r1 = await put(b, 'config/a', '1');
  await put(b, 'secret/b', '2');
  const token = 'wpx-5e1c0d9a77';
  const hash = execFileSync(JETGATE_BIN, ['--hash-token'], { input: `${token}\n` }).toString().trim();
  const dir = makeTempDir('jetgate-watch-auth-');
  const file = path.join(dir, 'tokens');
  fs.writeFileSync(file, `limited ${hash} watch,read@${b}/config/\n`);
  const jg = await startJetgate({ natsUrl: stack.nats.url, args: ['--tokens-file', file, '--watch-keepalive', '300ms'] });
  try {
    const s = await openSse(jg.base, `/v1/kvm/buckets/${b}/watch?authorization=${token}`);
    assert.equal(s.status, 200, s.body);
    await s.next(synced);
    assert.deepEqual(revs(s), [r1], 'initial values: only config/');
    await put(b, 'secret/c', '3');
    const r4 = await put(b, 'config/d', '4');
    await s.waitEvents(() => revs(s).includes(r4));
    assert.deepEqual(revs(s), [r1, r4], 'live: only config/');
    s.close();
    const h = await openSse(jg.base, `/v1/kvm/buckets/${b}/watch`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(h.status, 200);
    h.close();
    const none = await http(jg.base, 'GET', `/v1/kvm/buckets/${b}/watch`);
    assert.equal(none.status, 401);
  } finally {
    await jg.stop();
  }
});
