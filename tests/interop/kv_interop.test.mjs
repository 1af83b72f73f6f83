// Interoperability of jetgate's key-value API with the official NATS
// JavaScript client (@nats-io/kv), both talking to the same nats-server.
//
// Whatever one side writes, the other must read back unchanged: value bytes,
// revisions, operations (PUT/DEL/PURGE), history, key lists, creation times
// and bucket configuration.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  startStack, createKvBucket, uniqueName, http, assertProblem,
} from '../lib/harness.mjs';

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

let stack;
let nc;
let kvm;
let jsm;

before(async () => {
  stack = await startStack();
  nc = await connect({ servers: stack.nats.url, timeout: 5000 });
  kvm = new Kvm(nc);
  jsm = await jetstreamManager(nc);
});

after(async () => {
  if (nc) await nc.close().catch(() => {});
  if (stack) await stack.stop();
});

function req(method, path, opts = {}) {
  return http(stack.base, method, path, { timeoutMs: 10000, ...opts });
}

function kvPath(bucket, key) {
  return `/v1/kv/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** A bucket made through jetgate, opened in the JS client as well. */
async function jgBucket(prefix, cfg = { history: 5 }) {
  const name = uniqueName(prefix);
  await createKvBucket(stack.base, name, cfg);
  const kv = await kvm.open(name);
  return { name, kv };
}

async function jgPut(bucket, key, value, headers = {}) {
  const r = await req('PUT', kvPath(bucket, key), { body: value, headers });
  assert.equal(r.status, 201, `PUT ${bucket}/${key}: ${r.text}`);
  assert.equal(typeof r.json, 'number', `PUT body must be the revision as a JSON number, got '${r.text}'`);
  assert.equal(r.headers.get('x-nats-kv-revision'), String(r.json), 'X-Nats-Kv-Revision equals the body');
  return r.json;
}

async function collect(iterPromise) {
  const out = [];
  for await (const x of await iterPromise) out.push(x);
  return out;
}

function bytesOf(v) {
  return Buffer.from(v ?? new Uint8Array(0));
}

function allBytes() {
  const b = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) b[i] = i;
  return b;
}

test('a value written through jetgate reads back in the JS client with the same bytes and revision', async () => {
  const { name, kv } = await jgBucket('ij');
  const cases = [
    ['k', Buffer.from('hello from jetgate')],
    ['dir/sub/file.txt', Buffer.from('slashes in the key')],
    ['a-b_c=d.e', Buffer.from('every key punctuation NATS allows')],
    ['utf8', Buffer.from('grüße, 日本, 🚀', 'utf8')],
  ];
  for (const [key, value] of cases) {
    const rev = await jgPut(name, key, value, { 'Content-Type': 'text/plain; charset=utf-8' });
    const e = await kv.get(key);
    assert.ok(e, `JS get ${key} found nothing`);
    assert.deepEqual(bytesOf(e.value), value, `bytes of ${key}`);
    assert.equal(e.revision, rev, `revision of ${key}`);
    assert.equal(e.operation, 'PUT', `operation of ${key}`);
    assert.equal(e.key, key);
    assert.equal(e.bucket, name);
  }
  // an overwrite through jetgate is the newest revision for the JS client too
  const rev2 = await jgPut(name, 'k', Buffer.from('second'));
  const e2 = await kv.get('k');
  assert.equal(e2.revision, rev2);
  assert.equal(bytesOf(e2.value).toString(), 'second');
});

test('a value written by the JS client reads back through jetgate with the same bytes and revision', async () => {
  const { name, kv } = await jgBucket('ij');
  const cases = [
    ['k', Buffer.from('hello from nats.js')],
    ['dir/sub/file.txt', Buffer.from('slashes')],
    ['x=1', Buffer.from('{"json":true}')],
  ];
  for (const [key, value] of cases) {
    const rev = await kv.put(key, value);
    const r = await req('GET', kvPath(name, key));
    assert.equal(r.status, 200, `GET ${key}: ${r.text}`);
    assert.deepEqual(r.bytes, value, `bytes of ${key}`);
    assert.equal(r.headers.get('x-nats-kv-revision'), String(rev), `X-Nats-Kv-Revision of ${key}`);
    assert.equal(r.headers.get('etag'), `"${rev}"`, `ETag of ${key}`);
    assert.equal(r.headers.get('x-nats-kv-operation'), 'PUT');
    assert.equal(r.headers.get('x-nats-kv-bucket'), name);
    assert.equal(decodeURIComponent(r.headers.get('x-nats-kv-key') ?? ''), key);
    assert.match(r.headers.get('content-type') ?? '', /^application\/octet-stream/,
      'an entry written by another client comes back as application/octet-stream');

    const j = await req('GET', kvPath(name, key), { headers: { Accept: 'application/json' } });
    assert.equal(j.status, 200, j.text);
    assert.equal(j.json.bucket, name);
    assert.equal(j.json.key, key);
    assert.equal(j.json.revision, rev);
    assert.equal(j.json.operation, 'PUT');
    assert.equal(j.json.value, value.toString('base64'));
  }
});

test('binary values with all 256 byte values survive both directions', async () => {
  const { name, kv } = await jgBucket('ib');
  const fwd = Buffer.concat([allBytes(), allBytes()]);
  const rev = Buffer.from(fwd).reverse();

  // jetgate -> JS
  const r1 = await jgPut(name, 'bin/jg', fwd, { 'Content-Type': 'application/octet-stream' });
  const e1 = await kv.get('bin/jg');
  assert.deepEqual(bytesOf(e1.value), fwd);
  assert.equal(e1.revision, r1);

  // JS -> jetgate, raw and as JSON base64
  const r2 = await kv.put('bin/js', new Uint8Array(rev));
  const g = await req('GET', kvPath(name, 'bin/js'));
  assert.equal(g.status, 200);
  assert.deepEqual(g.bytes, rev);
  assert.equal(g.headers.get('x-nats-kv-revision'), String(r2));
  const gj = await req('GET', kvPath(name, 'bin/js'), { headers: { Accept: 'application/json' } });
  assert.equal(gj.status, 200);
  assert.deepEqual(Buffer.from(gj.json.value, 'base64'), rev);
  assert.equal(gj.json.value, rev.toString('base64'), 'standard base64 with padding');

  // a value of a single byte of each kind, NUL and 0xFF in particular
  for (const b of [0x00, 0x0a, 0x0d, 0x7f, 0x80, 0xff]) {
    const v = Buffer.from([b]);
    const rv = await jgPut(name, `one/${b}`, v);
    const e = await kv.get(`one/${b}`);
    assert.deepEqual(bytesOf(e.value), v, `byte ${b}`);
    assert.equal(e.revision, rv);
  }
});

test('empty values are PUT entries, not deletes, on both sides', async () => {
  const { name, kv } = await jgBucket('ie');
  const rev = await jgPut(name, 'empty-jg', Buffer.alloc(0));
  const e = await kv.get('empty-jg');
  assert.equal(e.operation, 'PUT');
  assert.equal(e.revision, rev);
  assert.equal(bytesOf(e.value).length, 0);

  const rev2 = await kv.put('empty-js', new Uint8Array(0));
  const g = await req('GET', kvPath(name, 'empty-js'));
  assert.equal(g.status, 200, g.text);
  assert.equal(g.bytes.length, 0);
  assert.equal(g.headers.get('x-nats-kv-revision'), String(rev2));
  assert.equal(g.headers.get('x-nats-kv-operation'), 'PUT');
});

test('delete and purge markers written through jetgate are seen by the JS client', async () => {
  const { name, kv } = await jgBucket('id');
  await jgPut(name, 'del', Buffer.from('v1'));
  const d = await req('DELETE', kvPath(name, 'del'));
  assert.equal(d.status, 200, d.text);
  assert.equal(typeof d.json?.revision, 'number', `DELETE body: ${d.text}`);
  const e = await kv.get('del');
  assert.ok(e, 'JS get of a deleted key returns the marker');
  assert.equal(e.operation, 'DEL');
  assert.equal(e.revision, d.json.revision);
  assert.equal(bytesOf(e.value).length, 0);
  // the JS client's key list leaves the deleted key out
  assert.deepEqual(await collect(kv.keys()), []);

  await jgPut(name, 'pur', Buffer.from('a'));
  await jgPut(name, 'pur', Buffer.from('b'));
  const p = await req('DELETE', `${kvPath(name, 'pur')}?purge=true`);
  assert.equal(p.status, 200, p.text);
  assert.equal(typeof p.json?.revision, 'number');
  const ep = await kv.get('pur');
  assert.equal(ep.operation, 'PURGE');
  assert.equal(ep.revision, p.json.revision);
  const hist = await collect(kv.history({ key: 'pur' }));
  assert.deepEqual(hist.map((x) => [x.revision, x.operation]), [[p.json.revision, 'PURGE']],
    'a purge through jetgate leaves exactly one PURGE marker');
});

test('delete and purge markers written by the JS client are seen through jetgate', async () => {
  const { name, kv } = await jgBucket('id');
  await kv.put('del', 'v1');
  await kv.delete('del');
  const marker = await kv.get('del');
  assert.equal(marker.operation, 'DEL');
  const g = await req('GET', kvPath(name, 'del'));
  assertProblem(g, 404, 'key_not_found', 'GET of a key deleted by the JS client');
  assert.equal(g.headers.get('x-nats-kv-operation'), 'DEL');
  assert.equal(g.headers.get('x-nats-kv-revision'), String(marker.revision));

  const h = await req('HEAD', kvPath(name, 'del'));
  assert.equal(h.status, 404);
  assert.equal(h.headers.get('x-nats-kv-operation'), 'DEL');

  await kv.put('pur', 'a');
  await kv.put('pur', 'b');
  await kv.purge('pur');
  const pm = await kv.get('pur');
  assert.equal(pm.operation, 'PURGE');
  const gp = await req('GET', kvPath(name, 'pur'));
  assertProblem(gp, 404, 'key_not_found', 'GET of a key purged by the JS client');
  assert.equal(gp.headers.get('x-nats-kv-operation'), 'PURGE');
  assert.equal(gp.headers.get('x-nats-kv-revision'), String(pm.revision));

  // the marker revision itself is not a readable value either
  const gr = await req('GET', `${kvPath(name, 'del')}?revision=${marker.revision}`);
  assertProblem(gr, 404, 'key_not_found', 'GET ?revision= of a DEL marker');
  assert.equal(gr.headers.get('x-nats-kv-operation'), 'DEL');
  assert.equal(gr.headers.get('x-nats-kv-revision'), String(marker.revision));

  const hp = await req('GET', `${kvPath(name, 'pur')}?history=true`);
  assert.equal(hp.status, 200, hp.text);
  assert.deepEqual(hp.json.map((x) => [x.revision, x.operation]), [[pm.revision, 'PURGE']]);

  const keys = await req('GET', `/v1/kvm/buckets/${name}/keys`);
  assert.equal(keys.status, 200);
  assert.deepEqual(keys.json, []);
});

test('history agrees both ways: revisions, operations, values and times', async () => {
  const { name, kv } = await jgBucket('ih', { history: 10 });
  const steps = [];
  steps.push(['PUT', 'v1', await jgPut(name, 'h', Buffer.from('v1'))]);
  steps.push(['PUT', 'v2', await kv.put('h', 'v2')]);
  const d = await req('DELETE', kvPath(name, 'h'));
  assert.equal(d.status, 200);
  steps.push(['DEL', '', d.json.revision]);
  steps.push(['PUT', 'v3', await kv.put('h', 'v3')]);
  await kv.delete('h');
  steps.push(['DEL', '', (await kv.get('h')).revision]);
  steps.push(['PUT', 'v4', await jgPut(name, 'h', Buffer.from('v4'))]);
  // unrelated key in between must not show up
  await kv.put('other', 'x');
  steps.push(['PUT', 'v5', await jgPut(name, 'h', Buffer.from('v5'))]);

  const expected = steps.map(([op, , rev]) => [rev, op]);

  const r = await req('GET', `${kvPath(name, 'h')}?history=true`);
  assert.equal(r.status, 200, r.text);
  assert.ok(Array.isArray(r.json), 'history is a JSON array');
  assert.deepEqual(r.json.map((x) => [x.revision, x.operation]), expected, 'jetgate history');

  const js = await collect(kv.history({ key: 'h' }));
  assert.deepEqual(js.map((x) => [x.revision, x.operation]), expected, 'JS history');

  for (let i = 0; i < steps.length; i++) {
    const [op, val] = steps[i];
    const je = r.json[i];
    assert.equal(je.bucket, name);
    assert.equal(je.key, 'h');
    if (op === 'PUT') {
      assert.equal(je.value, Buffer.from(val).toString('base64'), `value at ${je.revision}`);
      assert.deepEqual(bytesOf(js[i].value), Buffer.from(val));
    }
    assert.match(je.created, RFC3339_UTC);
    assert.equal(Date.parse(je.created), js[i].created.getTime(), `created at ${je.revision}`);
  }

  // single revisions read back through jetgate as the JS client wrote them
  const v2rev = steps[1][2];
  const g = await req('GET', `${kvPath(name, 'h')}?revision=${v2rev}`);
  assert.equal(g.status, 200);
  assert.equal(g.text, 'v2');
  assert.equal(g.headers.get('x-nats-kv-revision'), String(v2rev));
  const je = await kv.get('h', { revision: steps[0][2] });
  assert.equal(bytesOf(je.value).toString(), 'v1');
  // a revision of another key is not this key's
  const otherRev = (await kv.get('other')).revision;
  const go = await req('GET', `${kvPath(name, 'h')}?revision=${otherRev}`);
  assert.equal(go.status, 404);
});

test('POST create counts a key deleted or purged by the JS client as absent', async () => {
  const { name, kv } = await jgBucket('ic');
  await kv.put('k', 'old');
  await kv.delete('k');
  const c = await req('POST', kvPath(name, 'k'), { body: 'new' });
  assert.equal(c.status, 201, `POST on a key deleted by JS: ${c.text}`);
  const e = await kv.get('k');
  assert.equal(e.operation, 'PUT');
  assert.equal(bytesOf(e.value).toString(), 'new');
  assert.equal(e.revision, c.json);

  await kv.put('p', 'old');
  await kv.purge('p');
  const cp = await req('POST', kvPath(name, 'p'), { body: 'new' });
  assert.equal(cp.status, 201, `POST on a key purged by JS: ${cp.text}`);
  assert.equal(bytesOf((await kv.get('p')).value).toString(), 'new');

  // a live key written by JS is not absent
  await kv.put('live', 'x');
  const cl = await req('POST', kvPath(name, 'live'), { body: 'y' });
  assertProblem(cl, 409, 'key_exists', 'POST on a live key written by JS');
  assert.equal(bytesOf((await kv.get('live')).value).toString(), 'x');

  // and the JS client's create treats a jetgate delete the same way
  await jgPut(name, 'jd', Buffer.from('a'));
  assert.equal((await req('DELETE', kvPath(name, 'jd'))).status, 200);
  const rv = await kv.create('jd', 'b');
  const g = await req('GET', kvPath(name, 'jd'));
  assert.equal(g.status, 200);
  assert.equal(g.text, 'b');
  assert.equal(g.headers.get('x-nats-kv-revision'), String(rv));
});

test('optimistic concurrency: revisions from one side are valid preconditions on the other', async () => {
  const { name, kv } = await jgBucket('io');
  const r1 = await kv.put('c', 'js1');
  const u = await req('PUT', kvPath(name, 'c'), { body: 'jg2', headers: { 'If-Match': `"${r1}"` } });
  assert.equal(u.status, 201, u.text);
  const stale = await req('PUT', `${kvPath(name, 'c')}?previousRevision=${r1}`, { body: 'jg3' });
  assertProblem(stale, 409, 'revision_mismatch', 'stale previousRevision');
  const r3 = await kv.update('c', 'js3', u.json);
  await assert.rejects(kv.update('c', 'js4', u.json), 'JS update with a stale jetgate revision fails');
  const g = await req('GET', kvPath(name, 'c'));
  assert.equal(g.text, 'js3');
  assert.equal(g.headers.get('x-nats-kv-revision'), String(r3));
});

test('a bucket created through jetgate opens in the JS client with its config', async () => {
  const name = uniqueName('x');
  const r = await req('PUT', `/v1/kvm/buckets/${name}`, { body: { history: 5, description: 'd' } });
  assert.ok(r.status === 201 || r.status === 200, `create: ${r.status} ${r.text}`);
  assert.equal(r.json.bucket, name);
  assert.equal(r.json.history, 5);

  const kv = await kvm.open(name);
  const st = await kv.status();
  assert.equal(st.bucket, name);
  assert.equal(st.history, 5);
  assert.equal(st.description, 'd');

  // the backing stream has the layout every NATS client expects
  const si = await jsm.streams.info(`KV_${name}`);
  assert.deepEqual(si.config.subjects, [`$KV.${name}.>`]);
  assert.equal(si.config.max_msgs_per_subject, 5);
  assert.equal(si.config.allow_rollup_hdrs, true, 'purge needs rollup headers');
  assert.equal(si.config.description, 'd');

  // the JS client can use it fully, purge included
  const rev = await kv.put('a', 'b');
  await kv.purge('a');
  const g = await req('GET', kvPath(name, 'a'));
  assert.equal(g.status, 404);
  assert.equal(g.headers.get('x-nats-kv-operation'), 'PURGE');
  assert.ok(Number(g.headers.get('x-nats-kv-revision')) > rev);

  // the JS client's bucket list includes it
  const listed = [];
  for await (const s of kvm.list()) listed.push(s.bucket);
  assert.ok(listed.includes(name), `JS list ${JSON.stringify(listed)} lacks ${name}`);
});

test('a bucket created by the JS client is listed and usable through jetgate', async () => {
  const name = uniqueName('y');
  const kv = await kvm.create(name, { history: 3, description: 'from js' });
  await kv.put('pre', 'existing');

  const list = await req('GET', '/v1/kvm/buckets');
  assert.equal(list.status, 200);
  assert.ok(Array.isArray(list.json) && list.json.includes(name),
    `GET /v1/kvm/buckets ${list.text} lacks ${name}`);

  const st = await req('GET', `/v1/kvm/buckets/${name}`);
  assert.equal(st.status, 200, st.text);
  assert.equal(st.json.bucket, name);
  assert.equal(st.json.history, 3);
  assert.equal(st.json.description, 'from js');
  assert.equal(st.json.values, 1);

  const g = await req('GET', kvPath(name, 'pre'));
  assert.equal(g.status, 200, g.text);
  assert.equal(g.text, 'existing');

  const revs = [];
  for (let i = 1; i <= 4; i++) revs.push(await jgPut(name, 'k', Buffer.from(`v${i}`)));
  const e = await kv.get('k');
  assert.equal(bytesOf(e.value).toString(), 'v4');
  assert.equal(e.revision, revs[3]);
  // history 3 is honoured for writes through jetgate
  const h = await req('GET', `${kvPath(name, 'k')}?history=true`);
  assert.equal(h.status, 200);
  assert.deepEqual(h.json.map((x) => x.revision), revs.slice(1));
  const d = await req('DELETE', kvPath(name, 'k'));
  assert.equal(d.status, 200, d.text);
  assert.equal((await kv.get('k')).operation, 'DEL');
});

test('keys listed through jetgate equal the JS client keys()', async () => {
  const { name, kv } = await jgBucket('ik');
  const viaJg = ['a.1', 'a.2', 'b/x/y', 'c=d', 'z-last', 'gone.jg', 'purged.jg'];
  const viaJs = ['a.3', 'b/x/z', 'js_only', 'gone.js', 'purged.js'];
  for (const k of viaJg) await jgPut(name, k, Buffer.from(k));
  for (const k of viaJs) await kv.put(k, k);
  // overwrite one key several times: it is listed once
  await kv.put('a.1', 'again');
  await jgPut(name, 'a.1', Buffer.from('and again'));
  assert.equal((await req('DELETE', kvPath(name, 'gone.jg'))).status, 200);
  assert.equal((await req('DELETE', `${kvPath(name, 'purged.jg')}?purge=true`)).status, 200);
  await kv.delete('gone.js');
  await kv.purge('purged.js');

  const jsKeys = (await collect(kv.keys())).sort();
  const r = await req('GET', `/v1/kvm/buckets/${name}/keys`);
  assert.equal(r.status, 200, r.text);
  assert.ok(Array.isArray(r.json));
  assert.deepEqual([...r.json].sort(), jsKeys);
  assert.deepEqual(jsKeys, ['a.1', 'a.2', 'a.3', 'b/x/y', 'b/x/z', 'c=d', 'js_only', 'z-last']);
  assert.equal(new Set(r.json).size, r.json.length, 'no duplicates');

  // with a subject filter
  const jsA = (await collect(kv.keys('a.*'))).sort();
  const ra = await req('GET', `/v1/kvm/buckets/${name}/keys?filter=${encodeURIComponent('a.*')}`);
  assert.equal(ra.status, 200, ra.text);
  assert.deepEqual([...ra.json].sort(), jsA);
  assert.deepEqual(jsA, ['a.1', 'a.2', 'a.3']);
});

test('created time through jetgate equals the JS entry created time to the millisecond', async () => {
  const { name, kv } = await jgBucket('it');
  await jgPut(name, 'jg', Buffer.from('x'));
  await kv.put('js', 'y');
  for (const key of ['jg', 'js']) {
    const e = await kv.get(key);
    const r = await req('GET', kvPath(name, key));
    assert.equal(r.status, 200);
    const created = r.headers.get('x-nats-kv-created');
    assert.ok(created, 'X-Nats-Kv-Created present');
    assert.match(created, RFC3339_UTC, `X-Nats-Kv-Created '${created}' is RFC 3339 UTC`);
    assert.equal(Date.parse(created), e.created.getTime(), `created of ${key}: ${created} vs ${e.created.toISOString()}`);

    const j = await req('GET', kvPath(name, key), { headers: { Accept: 'application/json' } });
    assert.match(j.json.created, RFC3339_UTC);
    assert.equal(Date.parse(j.json.created), e.created.getTime());

    const lm = r.headers.get('last-modified');
    assert.ok(lm, 'Last-Modified present');
    assert.equal(Date.parse(lm), Math.floor(e.created.getTime() / 1000) * 1000, 'Last-Modified is the created second');
  }
});

test('every bucket config field maps to the same stream config on both sides', async () => {
  // jetgate -> JS
  const a = uniqueName('cfg');
  const r = await req('PUT', `/v1/kvm/buckets/${a}`, {
    body: {
      history: 4, ttl: '1h', max_value_size: 2048, max_bytes: 1048576, storage: 'memory', replicas: 1, description: 'all fields',
    },
  });
  assert.ok(r.status === 201 || r.status === 200, `create: ${r.status} ${r.text}`);
  const st = await (await kvm.open(a)).status();
  assert.equal(st.history, 4);
  assert.equal(st.ttl, 3600 * 1000, 'JS ttl is in ms');
  assert.equal(st.maxValueSize, 2048);
  assert.equal(st.max_bytes, 1048576);
  assert.equal(st.storage, 'memory');
  assert.equal(st.replicas, 1);
  assert.equal(st.description, 'all fields');

  // JS -> jetgate
  const b = uniqueName('cfg');
  const kv = await kvm.create(b, {
    history: 7, ttl: 60 * 1000, maxValueSize: 100, max_bytes: 65536, storage: 'memory', description: 'js fields',
  });
  const g = await req('GET', `/v1/kvm/buckets/${b}`);
  assert.equal(g.status, 200, g.text);
  assert.equal(g.json.bucket, b);
  assert.equal(g.json.history, 7);
  assert.equal(g.json.ttl, 60 * 1e9, 'jetgate ttl is in ns');
  assert.equal(g.json.max_value_size, 100);
  assert.equal(g.json.max_bytes, 65536);
  assert.equal(g.json.storage, 'memory');
  assert.equal(g.json.replicas, 1);
  assert.equal(g.json.description, 'js fields');

  // the JS bucket's max value size is enforced by jetgate before publishing
  const ok = await req('PUT', kvPath(b, 'fits'), { body: Buffer.alloc(100, 1) });
  assert.equal(ok.status, 201, ok.text);
  const big = await req('PUT', kvPath(b, 'big'), { body: Buffer.alloc(101, 1) });
  assertProblem(big, 413, 'payload_too_large', 'PUT over a JS bucket max_value_size');
  assert.equal(await kv.get('big'), null, 'nothing was stored for the refused value');

  // a JS-made bucket with no limits reports them as -1
  const c = uniqueName('cfg');
  await kvm.create(c, { history: 1 });
  const gc = await req('GET', `/v1/kvm/buckets/${c}`);
  assert.equal(gc.status, 200);
  assert.equal(gc.json.max_value_size, -1);
  assert.equal(gc.json.max_bytes, -1);
  assert.equal(gc.json.ttl, 0);
  assert.equal(gc.json.storage, 'file');
});

test('large values (900 KiB) pass unchanged both ways', async () => {
  const { name, kv } = await jgBucket('il', { history: 1 });
  const big = Buffer.alloc(900 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 0xff;
  const rev = await jgPut(name, 'big/jg', big);
  const e = await kv.get('big/jg');
  assert.equal(e.revision, rev);
  assert.ok(bytesOf(e.value).equals(big), 'JS reads the 900 KiB value written through jetgate');

  const big2 = Buffer.from(big).reverse();
  const rev2 = await kv.put('big/js', big2);
  const g = await req('GET', kvPath(name, 'big/js'));
  assert.equal(g.status, 200);
  assert.equal(g.headers.get('x-nats-kv-revision'), String(rev2));
  assert.equal(Number(g.headers.get('content-length')), big2.length);
  assert.ok(g.bytes.equals(big2), 'jetgate reads the 900 KiB value written by JS');
});
