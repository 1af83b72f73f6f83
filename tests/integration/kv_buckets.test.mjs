// KV bucket management: /v1/kvm/buckets (http-api.md sections 3 and 8) against
// a real nats-server and jetgate.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertProblem, connectNats, createKvBucket, http, jszStream, kvPath, raceReadsWithDeletion, startStack, uniqueName,
} from '../lib/harness.mjs';

let stack;
let base;

before(async () => {
  stack = await startStack();
  base = stack.base;
});

after(async () => {
  if (stack) await stack.stop();
});

const bucketPath = (b) => `/v1/kvm/buckets/${b}`;
const NS = 1e9;

async function put(b, k, v) {
  const r = await http(base, 'PUT', kvPath(b, k), { body: Buffer.from(v) });
  assert.equal(r.status, 201, `PUT ${b}/${k}: ${r.text}`);
  return JSON.parse(r.text);
}

async function del(b, k, query = '') {
  const r = await http(base, 'DELETE', kvPath(b, k) + query);
  assert.equal(r.status, 200, `DELETE ${b}/${k}${query}: ${r.text}`);
  return r.json.revision;
}

async function keys(b, query = '') {
  const r = await http(base, 'GET', `${bucketPath(b)}/keys${query}`);
  assert.equal(r.status, 200, `GET keys${query}: ${r.text}`);
  assert.match(r.headers.get('content-type') || '', /^application\/json\b/);
  assert.ok(Array.isArray(r.json), 'keys is a JSON array');
  for (const k of r.json) assert.equal(typeof k, 'string');
  assert.equal(new Set(r.json).size, r.json.length, 'no duplicate keys');
  return [...r.json].sort();
}

async function status(b) {
  const r = await http(base, 'GET', bucketPath(b));
  assert.equal(r.status, 200, r.text);
  return r.json;
}

function checkStatusShape(s) {
  const fields = ['bucket', 'values', 'history', 'ttl', 'max_value_size', 'max_bytes', 'bytes',
    'storage', 'replicas', 'description'];
  for (const f of fields) assert.ok(f in s, `status has ${f}: ${JSON.stringify(s)}`);
  assert.equal(typeof s.bucket, 'string');
  for (const f of ['values', 'history', 'ttl', 'max_value_size', 'max_bytes', 'bytes', 'replicas']) {
    assert.ok(Number.isInteger(s[f]), `${f} is a JSON integer (${JSON.stringify(s[f])})`);
  }
  assert.ok(['file', 'memory'].includes(s.storage), `storage '${s.storage}'`);
  assert.equal(typeof s.description, 'string');
}

describe('list and status', () => {
  test('GET /v1/kvm/buckets lists bucket names as strings', async () => {
    const a = uniqueName('lst');
    const b = uniqueName('lst');
    await createKvBucket(base, a);
    await createKvBucket(base, b);
    const r = await http(base, 'GET', '/v1/kvm/buckets');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') || '', /^application\/json\b/);
    assert.ok(Array.isArray(r.json));
    for (const n of r.json) assert.equal(typeof n, 'string');
    assert.ok(r.json.includes(a) && r.json.includes(b), JSON.stringify(r.json));
    assert.ok(!r.json.some((n) => n.startsWith('KV_')), 'names without the KV_ stream prefix');
    const d = await http(base, 'DELETE', bucketPath(a));
    assert.equal(d.status, 200);
    const r2 = await http(base, 'GET', '/v1/kvm/buckets');
    assert.ok(!r2.json.includes(a));
    assert.ok(r2.json.includes(b));
  });

  test('the list is complete beyond one page of the JetStream API (1100 buckets)', async () => {
    const names = Array.from({ length: 1100 }, (_, i) => `many_${String(i).padStart(4, '0')}_${uniqueName('m')}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((n) => createKvBucket(base, n, { history: 1, storage: 'memory' })));
    }
    const r = await http(base, 'GET', '/v1/kvm/buckets');
    assert.equal(r.status, 200);
    const got = new Set(r.json);
    assert.equal(got.size, r.json.length, 'no duplicates');
    const missing = names.filter((n) => !got.has(n));
    assert.deepEqual(missing, [], `${missing.length} buckets missing from the list`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map(async (n) => {
        const d = await http(base, 'DELETE', bucketPath(n));
        assert.equal(d.status, 200, d.text);
      }));
    }
  });

  test('the list holds only KV buckets, also those made by a NATS client', async () => {
    const c = await connectNats(stack.nats.url);
    const ext = uniqueName('ext');
    const plain = uniqueName('plainstream');
    try {
      await c.kvm.create(ext, { history: 2 });
      await c.jsm.streams.add({ name: plain, subjects: [`${plain}.>`] });
      const r = await http(base, 'GET', '/v1/kvm/buckets');
      assert.equal(r.status, 200);
      assert.ok(r.json.includes(ext), 'a bucket made by a NATS client is listed');
      assert.ok(!r.json.includes(plain), 'a plain stream is not a bucket');
      const s = await status(ext);
      assert.equal(s.bucket, ext);
      assert.equal(s.history, 2);
    } finally {
      await c.close();
    }
  });

  test('status reports the configured values with the right types', async () => {
    const b = uniqueName('st');
    const cfg = {
      description: 'status test', history: 7, ttl: 3600 * NS, max_value_size: 2048,
      max_bytes: 1024 * 1024, storage: 'memory', replicas: 1,
    };
    const r = await http(base, 'POST', bucketPath(b), { body: cfg });
    assert.equal(r.status, 201, r.text);
    checkStatusShape(r.json);
    const s = await status(b);
    checkStatusShape(s);
    assert.deepEqual(s, r.json, 'the create answer is the status object');
    assert.equal(s.bucket, b);
    assert.equal(s.description, 'status test');
    assert.equal(s.history, 7);
    assert.equal(s.ttl, 3600 * NS);
    assert.equal(s.max_value_size, 2048);
    assert.equal(s.max_bytes, 1024 * 1024);
    assert.equal(s.storage, 'memory');
    assert.equal(s.replicas, 1);
    assert.equal(s.values, 0);
    assert.equal(s.bytes, 0);

    await put(b, 'a', 'x');
    await put(b, 'a', 'y');
    await put(b, 'b', 'z');
    const s2 = await status(b);
    assert.equal(s2.values, 3);
    const st = await jszStream(stack.nats.monitorPort, `KV_${b}`);
    assert.equal(s2.bytes, st.state.bytes, 'bytes is the stream state bytes');
    assert.ok(s2.bytes > 0);
    assert.equal(st.config.max_msgs_per_subject, 7);
    assert.equal(st.config.max_age, 3600 * NS);
    assert.equal(st.config.max_msg_size, 2048);
    assert.equal(st.config.storage, 'memory');
  });

  test('defaults: history 1, no ttl, unlimited sizes (-1), file storage, one replica', async () => {
    const b = uniqueName('def');
    const r = await http(base, 'POST', bucketPath(b), { body: {} });
    assert.equal(r.status, 201, r.text);
    checkStatusShape(r.json);
    assert.equal(r.json.history, 1);
    assert.equal(r.json.ttl, 0);
    assert.equal(r.json.max_value_size, -1);
    assert.equal(r.json.max_bytes, -1);
    assert.equal(r.json.storage, 'file');
    assert.equal(r.json.replicas, 1);
    assert.equal(r.json.description, '');
    // The stream is laid out as the NATS clients lay out a bucket.
    const st = await jszStream(stack.nats.monitorPort, `KV_${b}`);
    assert.ok(st, 'stream KV_<bucket>');
    assert.deepEqual(st.config.subjects, [`$KV.${b}.>`]);
    assert.equal(st.config.discard, 'new');
    assert.equal(st.config.allow_rollup_hdrs, true);
    assert.equal(st.config.deny_delete, true);
    assert.equal(st.config.allow_direct, true);
  });

  test('a non-ASCII description round-trips', async () => {
    const b = uniqueName('utf');
    const description = 'Größe – 測試 ✓';
    const r = await http(base, 'POST', bucketPath(b), { body: { description } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.description, description);
    assert.equal((await status(b)).description, description);
  });

  test('ttl given as a duration string is stored in nanoseconds', async () => {
    const b = uniqueName('ttl');
    const r = await http(base, 'PUT', bucketPath(b), { body: { ttl: '1h30m', history: 2 } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.ttl, 5400 * NS);
  });

  test('status of a missing bucket is 404 bucket_not_found', async () => {
    assertProblem(await http(base, 'GET', bucketPath(uniqueName('missing'))), 404, 'bucket_not_found');
  });
});

describe('create and update', () => {
  test('POST creates (201), repeats with the identical config (200), refuses another config (409 bucket_exists)', async () => {
    const b = uniqueName('cr');
    const cfg = { history: 3, description: 'one' };
    const r1 = await http(base, 'POST', bucketPath(b), { body: cfg });
    assert.equal(r1.status, 201, r1.text);
    assert.equal(r1.json.bucket, b);
    assert.equal(r1.json.history, 3);
    const r2 = await http(base, 'POST', bucketPath(b), { body: cfg });
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.json.bucket, b);
    assert.equal(r2.json.history, 3);
    assert.equal(r2.json.description, 'one');
    const r3 = await http(base, 'POST', bucketPath(b), { body: { history: 4, description: 'one' } });
    assertProblem(r3, 409, 'bucket_exists');
    const r4 = await http(base, 'POST', bucketPath(b), { body: { history: 3, description: 'two' } });
    assertProblem(r4, 409, 'bucket_exists');
    const s = await status(b);
    assert.equal(s.history, 3, 'the refused create changed nothing');
    assert.equal(s.description, 'one');
  });

  test('an identical config written another way (ttl as a duration string) is still identical: 200', async () => {
    const b = uniqueName('same');
    const r1 = await http(base, 'POST', bucketPath(b), { body: { history: 2, ttl: 3600 * NS } });
    assert.equal(r1.status, 201, r1.text);
    const r2 = await http(base, 'POST', bucketPath(b), { body: { history: 2, ttl: '1h' } });
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.json.ttl, 3600 * NS);
    const r3 = await http(base, 'POST', bucketPath(b), { body: { history: 2, ttl: '2h' } });
    assertProblem(r3, 409, 'bucket_exists');
  });

  test('PUT creates (201) then updates (200) description, history, ttl, max_value_size, max_bytes', async () => {
    const b = uniqueName('up');
    const r1 = await http(base, 'PUT', bucketPath(b), { body: { history: 2, description: 'before' } });
    assert.equal(r1.status, 201, r1.text);
    await put(b, 'k', 'v');
    const upd = { history: 5, description: 'after', ttl: 120 * NS, max_value_size: 4096, max_bytes: 1 << 20 };
    const r2 = await http(base, 'PUT', bucketPath(b), { body: upd });
    assert.equal(r2.status, 200, r2.text);
    checkStatusShape(r2.json);
    for (const [f, v] of Object.entries(upd)) assert.equal(r2.json[f], v, f);
    const s = await status(b);
    for (const [f, v] of Object.entries(upd)) assert.equal(s[f], v, f);
    assert.equal(s.values, 1, 'an update keeps the data');
    assert.equal((await http(base, 'GET', kvPath(b, 'k'))).text, 'v');
    const st = await jszStream(stack.nats.monitorPort, `KV_${b}`);
    assert.equal(st.config.max_msgs_per_subject, 5);
    assert.equal(st.config.max_msg_size, 4096);
  });

  test('PUT changing storage is 400 invalid_config and changes nothing', async () => {
    const b = uniqueName('stor');
    await createKvBucket(base, b, { history: 2, storage: 'file' });
    const r = await http(base, 'PUT', bucketPath(b), { body: { history: 2, storage: 'memory' } });
    assertProblem(r, 400, 'invalid_config');
    const s = await status(b);
    assert.equal(s.storage, 'file');
  });

  for (const history of [0, 65, -1]) {
    test(`history ${history} is 400 invalid_config (POST and PUT)`, async () => {
      const b = uniqueName('hist');
      assertProblem(await http(base, 'POST', bucketPath(b), { body: { history } }), 400, 'invalid_config');
      assertProblem(await http(base, 'PUT', bucketPath(b), { body: { history } }), 400, 'invalid_config');
      assertProblem(await http(base, 'GET', bucketPath(b)), 404, 'bucket_not_found');
    });
  }

  test('history 64 is accepted', async () => {
    const b = uniqueName('h64');
    const r = await http(base, 'POST', bucketPath(b), { body: { history: 64 } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.history, 64);
  });

  test('configs the server cannot honour are 400 invalid_config', async () => {
    const bad = [
      { storage: 'disk' },
      { replicas: 3 },   // a single server cannot keep three replicas
      { replicas: 6 },
      { history: 'three' },
      { ttl: 'soon' },
      { max_value_size: 'big' },
    ];
    for (const cfg of bad) {
      const b = uniqueName('bad');
      assertProblem(await http(base, 'POST', bucketPath(b), { body: cfg }), 400, 'invalid_config', JSON.stringify(cfg));
      assertProblem(await http(base, 'GET', bucketPath(b)), 404, 'bucket_not_found', JSON.stringify(cfg));
    }
  });

  test('a body that is not JSON is 400 invalid_config', async () => {
    const b = uniqueName('json');
    for (const body of ['{"history": 3', 'history=3', '[1,2]', '"text"']) {
      const r = await http(base, 'POST', bucketPath(b), { body, headers: { 'Content-Type': 'application/json' } });
      assertProblem(r, 400, 'invalid_config', body);
      const r2 = await http(base, 'PUT', bucketPath(b), { body, headers: { 'Content-Type': 'application/json' } });
      assertProblem(r2, 400, 'invalid_config', body);
    }
    assertProblem(await http(base, 'GET', bucketPath(b)), 404, 'bucket_not_found');
  });

  test('an invalid bucket name is 400 invalid_bucket', async () => {
    for (const name of ['bad.name', 'sp%20ace', 'star*', 'gt%3E']) {
      assertProblem(await http(base, 'POST', bucketPath(name), { body: { history: 1 } }), 400, 'invalid_bucket', name);
      assertProblem(await http(base, 'GET', kvPath(name, 'k')), 400, 'invalid_bucket', name);
    }
  });
});

describe('delete and purge', () => {
  test('DELETE removes the bucket with its data (200), then 404 bucket_not_found', async () => {
    const b = uniqueName('del');
    await createKvBucket(base, b);
    await put(b, 'k', 'v');
    const r = await http(base, 'DELETE', bucketPath(b));
    assert.equal(r.status, 200, r.text);
    assert.equal(await jszStream(stack.nats.monitorPort, `KV_${b}`), undefined, 'stream gone');
    assertProblem(await http(base, 'GET', bucketPath(b)), 404, 'bucket_not_found');
    assertProblem(await http(base, 'GET', kvPath(b, 'k')), 404, 'bucket_not_found');
    assertProblem(await http(base, 'DELETE', bucketPath(b)), 404, 'bucket_not_found');
    // Recreated, it is empty.
    await createKvBucket(base, b);
    assertProblem(await http(base, 'GET', kvPath(b, 'k')), 404, 'key_not_found');
    assert.deepEqual(await keys(b), []);
  });

  test('purge with olderThan=0 removes every delete and purge marker', async () => {
    const b = uniqueName('pur');
    await createKvBucket(base, b, { history: 5 });
    await put(b, 'keep', 'v');
    await put(b, 'gone', 'v1');
    await put(b, 'gone', 'v2');
    await del(b, 'gone');
    await put(b, 'purged', 'v');
    await del(b, 'purged', '?purge=true');
    assert.equal((await status(b)).values, 5);
    const r = await http(base, 'DELETE', `${bucketPath(b)}/purge?olderThan=0`);
    assert.equal(r.status, 200, r.text);
    const s = await status(b);
    assert.equal(s.values, 1, 'only the live value remains');
    const h = await http(base, 'GET', kvPath(b, 'gone') + '?history=true');
    assertProblem(h, 404, 'key_not_found');
    const g = await http(base, 'GET', kvPath(b, 'purged'));
    assertProblem(g, 404, 'key_not_found');
    assert.equal(g.headers.get('x-nats-kv-operation'), null, 'no marker left to report');
    assert.equal((await http(base, 'GET', kvPath(b, 'keep'))).text, 'v');
    assert.deepEqual(await keys(b), ['keep']);
  });

  test('purge without olderThan keeps markers younger than 30 minutes, dropping the older revisions', async () => {
    const b = uniqueName('pdef');
    await createKvBucket(base, b, { history: 5 });
    await put(b, 'keep', 'v');
    await put(b, 'gone', 'v1');
    await put(b, 'gone', 'v2');
    const delRev = await del(b, 'gone');
    const r = await http(base, 'DELETE', `${bucketPath(b)}/purge`);
    assert.equal(r.status, 200, r.text);
    const h = await http(base, 'GET', kvPath(b, 'gone') + '?history=true');
    assert.equal(h.status, 200);
    assert.deepEqual(h.json.map((e) => [e.revision, e.operation]), [[delRev, 'DEL']]);
    assert.equal((await status(b)).values, 2);
    const r2 = await http(base, 'DELETE', `${bucketPath(b)}/purge?olderThan=1h`);
    assert.equal(r2.status, 200, r2.text);
    assert.equal((await status(b)).values, 2, 'a marker younger than 1h is kept');
    const r3 = await http(base, 'DELETE', `${bucketPath(b)}/purge?olderThan=1ms`);
    assert.equal(r3.status, 200, r3.text);
    assert.equal((await status(b)).values, 1, 'a marker older than 1ms is removed');
  });

  test('purge of a missing bucket is 404 bucket_not_found', async () => {
    assertProblem(await http(base, 'DELETE', `${bucketPath(uniqueName('nob'))}/purge`), 404, 'bucket_not_found');
  });
});

describe('keys', () => {
  let b;
  const all = ['a.x', 'a.y', 'a.y.z', 'b.x', 'c', 'dir/one', 'dir/two', 'dir2/three', 'e=1'];

  before(async () => {
    b = uniqueName('keys');
    await createKvBucket(base, b, { history: 3 });
    for (const k of all) await put(b, k, `v-${k}`);
    await put(b, 'a.x', 'updated');
    await put(b, 'deleted.one', 'x');
    await del(b, 'deleted.one');
    await put(b, 'purged', 'x');
    await del(b, 'purged', '?purge=true');
  });

  test('an empty bucket lists no keys', async () => {
    const e = uniqueName('empty');
    await createKvBucket(base, e);
    assert.deepEqual(await keys(e), []);
  });

  test('without filters: every current key once, no deleted or purged ones', async () => {
    assert.deepEqual(await keys(b), [...all].sort());
  });

  test('one filter', async () => {
    assert.deepEqual(await keys(b, '?filter=a.*'), ['a.x', 'a.y']);
    assert.deepEqual(await keys(b, '?filter=a.>'), ['a.x', 'a.y', 'a.y.z']);
    assert.deepEqual(await keys(b, '?filter=*.x'), ['a.x', 'b.x']);
    assert.deepEqual(await keys(b, '?filter=c'), ['c']);
    assert.deepEqual(await keys(b, '?filter=deleted.one'), []);
    assert.deepEqual(await keys(b, '?filter=nothing.*'), []);
    assert.deepEqual(await keys(b, '?filter=>'), [...all].sort());
  });

  test('several filters', async () => {
    assert.deepEqual(await keys(b, '?filter=a.*&filter=c'), ['a.x', 'a.y', 'c']);
    assert.deepEqual(await keys(b, '?filter=*.x&filter=dir/one&filter=e=1'), ['a.x', 'b.x', 'dir/one', 'e=1']);
    assert.deepEqual(await keys(b, '?filter=a.x&filter=a.*'), ['a.x', 'a.y'], 'overlapping filters give each key once');
  });

  test('prefix selects keys by their leading characters', async () => {
    assert.deepEqual(await keys(b, '?prefix=dir/'), ['dir/one', 'dir/two']);
    assert.deepEqual(await keys(b, '?prefix=dir'), ['dir/one', 'dir/two', 'dir2/three']);
    assert.deepEqual(await keys(b, `?prefix=${encodeURIComponent('dir/')}`), ['dir/one', 'dir/two']);
    assert.deepEqual(await keys(b, '?prefix=dir/&prefix=e'), ['dir/one', 'dir/two', 'e=1']);
    assert.deepEqual(await keys(b, '?prefix=zzz'), []);
    assert.deepEqual(await keys(b, '?prefix=del'), [], 'deleted keys are not listed');
  });

  test('both URL forms of the listing agree', async () => {
    const r = await http(base, 'GET', `/v1/kvm/buckets/${b}/keys?filter=a.*`);
    assert.deepEqual([...r.json].sort(), ['a.x', 'a.y']);
  });

  test('a bad filter is 400 invalid_key', async () => {
    assertProblem(await http(base, 'GET', `${bucketPath(b)}/keys?filter=a..b`), 400, 'invalid_key');
    assertProblem(await http(base, 'GET', `${bucketPath(b)}/keys?filter=>.a`), 400, 'invalid_key');
  });

  test('a large bucket lists all its keys', async () => {
    const big = uniqueName('bigkeys');
    await createKvBucket(base, big, { history: 1 });
    const n = 1500;
    const names = Array.from({ length: n }, (_, i) => `key.${String(i).padStart(5, '0')}.${'x'.repeat(40)}`);
    for (let i = 0; i < n; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((k) => put(big, k, 'v')));
    }
    const got = await keys(big);
    assert.equal(got.length, n);
    assert.deepEqual(got, [...names].sort());
  });

  test('keys of a missing bucket is 404 bucket_not_found', async () => {
    assertProblem(await http(base, 'GET', `${bucketPath(uniqueName('nokeys'))}/keys`), 404, 'bucket_not_found');
  });
});

describe('limits', () => {
  test('a value over max_value_size is 413 payload_too_large and nothing is published', async () => {
    const b = uniqueName('mvs');
    await createKvBucket(base, b, { history: 2, max_value_size: 100 });
    const ok = await http(base, 'PUT', kvPath(b, 'k'), { body: Buffer.alloc(100, 1) });
    assert.equal(ok.status, 201, ok.text);
    const r = await http(base, 'PUT', kvPath(b, 'k'), { body: Buffer.alloc(101, 2) });
    assertProblem(r, 413, 'payload_too_large');
    const p = await http(base, 'POST', kvPath(b, 'other'), { body: Buffer.alloc(5000, 2) });
    assertProblem(p, 413, 'payload_too_large');
    const g = await http(base, 'GET', kvPath(b, 'k'));
    assert.equal(g.status, 200);
    assert.ok(g.bytes.equals(Buffer.alloc(100, 1)));
    assert.equal((await status(b)).values, 1);
  });

  test('a lowered max_value_size applies at once', async () => {
    const b = uniqueName('mvs2');
    await createKvBucket(base, b, { history: 1, max_value_size: 100 });
    assert.equal((await http(base, 'PUT', kvPath(b, 'k'), { body: Buffer.alloc(80, 1) })).status, 201);
    const u = await http(base, 'PUT', bucketPath(b), { body: { history: 1, max_value_size: 50 } });
    assert.equal(u.status, 200, u.text);
    assertProblem(await http(base, 'PUT', kvPath(b, 'k'), { body: Buffer.alloc(60, 2) }), 413, 'payload_too_large');
    assert.equal((await http(base, 'PUT', kvPath(b, 'k'), { body: Buffer.alloc(50, 3) })).status, 201);
  });

  test('a value larger than the bucket max_bytes is 413 payload_too_large', async () => {
    const b = uniqueName('mb');
    await createKvBucket(base, b, { history: 1, max_bytes: 1024 });
    const r = await http(base, 'PUT', kvPath(b, 'k'), { body: Buffer.alloc(2048, 1) });
    assertProblem(r, 413, 'payload_too_large');
    assert.equal((await status(b)).values, 0);
  });

  test('a full bucket refuses further writes with 507 insufficient_storage', async () => {
    const b = uniqueName('full');
    await createKvBucket(base, b, { history: 1, max_bytes: 4096 });
    let refused;
    let stored = 0;
    for (let i = 0; i < 12 && !refused; i++) {
      const r = await http(base, 'PUT', kvPath(b, `k${i}`), { body: Buffer.alloc(1000, 0x41) });
      if (r.status === 201) stored += 1;
      else refused = r;
    }
    assert.ok(refused, 'a write was refused');
    assertProblem(refused, 507, 'insufficient_storage');
    assert.ok(stored >= 2 && stored <= 4, `stored ${stored} values before the bucket was full`);
    assert.equal((await status(b)).values, stored);
  });

  test('key operations on a missing bucket are 404 bucket_not_found in well under the request timeout', async () => {
    const b = uniqueName('absent');
    const calls = [
      ['GET', kvPath(b, 'k')],
      ['HEAD', kvPath(b, 'k')],
      ['GET', `${kvPath(b, 'k')}?history=true`],
      ['GET', `${kvPath(b, 'k')}?revision=1`],
      ['PUT', kvPath(b, 'k')],
      ['POST', kvPath(b, 'k')],
      ['DELETE', kvPath(b, 'k')],
      ['DELETE', `${kvPath(b, 'k')}?purge=true`],
      ['GET', `/v1/kvm/buckets/${b}/keys/k`],
    ];
    for (const [method, p] of calls) {
      const body = method === 'PUT' || method === 'POST' ? Buffer.from('v') : undefined;
      const r = await http(base, method, p, { body });
      assert.ok(r.ms < 1000, `${method} ${p} took ${r.ms} ms: ${r.status} ${r.text}`);
      if (method === 'HEAD') assert.equal(r.status, 404, `${method} ${p}`);
      else assertProblem(r, 404, 'bucket_not_found', `${method} ${p}`);
    }
    assert.equal(await jszStream(stack.nats.monitorPort, `KV_${b}`), undefined, 'no stream was created');
  });

  test('jetgate sees buckets made and deleted by other NATS clients at once', async () => {
    const c = await connectNats(stack.nats.url);
    const b = uniqueName('outside');
    try {
      assertProblem(await http(base, 'GET', kvPath(b, 'k')), 404, 'bucket_not_found');
      const kv = await c.kvm.create(b, { history: 3 });
      const r = await http(base, 'PUT', kvPath(b, 'k'), { body: Buffer.from('v') });
      assert.equal(r.status, 201, r.text);
      assert.equal(Buffer.from((await kv.get('k')).value).toString(), 'v');
      await kv.destroy();
      const g = await http(base, 'GET', kvPath(b, 'k'));
      assert.ok(g.ms < 1000, `GET after the external delete took ${g.ms} ms: ${g.status} ${g.text}`);
      assertProblem(g, 404, 'bucket_not_found');
      const p = await http(base, 'PUT', kvPath(b, 'k'), { body: Buffer.from('v') });
      assert.ok(p.ms < 1000, `PUT after the external delete took ${p.ms} ms: ${p.status} ${p.text}`);
      assertProblem(p, 404, 'bucket_not_found');
    } finally {
      await c.close();
    }
  });

  test('a GET racing a bucket deleted by another NATS client answers 200 or 404, not 503 at the deadline', async () => {
    // nats-server lets a direct get sent while its stream is deleted go
    // unanswered (no "no responders" either), and the deletion advisory
    // may reach jetgate after the GET: jetgate asks for the stream info
    // after the first unanswered read of a one-replica bucket.
    const c = await connectNats(stack.nats.url);
    try {
      await raceReadsWithDeletion(async () => {
        const b = uniqueName('racing');
        const kv = await c.kvm.create(b, { history: 1 });
        await kv.put('k', 'v');
        assert.equal((await http(base, 'GET', kvPath(b, 'k'))).status, 200);
        return { del: () => kv.destroy(), read: () => http(base, 'GET', kvPath(b, 'k')) };
      });
    } finally {
      await c.close();
    }
  });
});
