// Object store over HTTP: /v1/obj and /v1/objm (http-api.md sections 4 and
// 8) against a real nats-server and jetgate: bucket management, streaming
// upload and download, Range, conditional requests, atomicity of failed
// uploads, delete, patch, links and listing.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import nodeHttp from 'node:http';
import {
  assertProblem, connectNats, http, jszStream, raceReadsWithDeletion, sleep, startStack, uniqueName, waitFor,
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

const bucketPath = (b) => `/v1/objm/buckets/${b}`;
const objPath = (b, n) => `/v1/obj/${b}/${n.split('/').map(encodeURIComponent).join('/')}`;
const sha = (buf) => crypto.createHash('sha256').update(buf).digest();
const natsDigest = (buf) => `SHA-256=${sha(buf).toString('base64url')}${'='}`;

function bytes(n, seed = 1) {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

async function mkBucket(prefix = 'ob', cfg = {}) {
  const name = uniqueName(prefix);
  const r = await http(base, 'POST', bucketPath(name), { body: cfg });
  assert.equal(r.status, 201, r.text);
  return name;
}

async function put(b, n, body, headers = {}, query = '') {
  return http(base, 'PUT', objPath(b, n) + query, { body, headers, timeoutMs: 60000 });
}

async function streamMessages(b) {
  const s = await jszStream(stack.nats.monitorPort, `OBJ_${b}`);
  return s.state.messages;
}

/** PUT with a chunked (Transfer-Encoding) body written piece by piece. */
function putChunked(b, n, pieces, headers = {}) {
  const u = new URL(base + objPath(b, n));
  return new Promise((resolve, reject) => {
    const rq = nodeHttp.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'PUT', headers,
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    rq.on('error', reject);
    (async () => {
      for (const p of pieces) {
        if (!rq.write(p)) await new Promise((r) => rq.once('drain', r));
      }
      rq.end();
    })();
  });
}

/** Sends headers and part of a body, then closes the connection. */
async function putAndLeave(b, n, declared, sendBytes) {
  const u = new URL(base);
  const s = net.connect({ host: u.hostname, port: Number(u.port) });
  await new Promise((r) => s.once('connect', r));
  s.write(`PUT ${objPath(b, n)} HTTP/1.1\r\nHost: x\r\nContent-Length: ${declared}\r\n\r\n`);
  const body = bytes(sendBytes, 7);
  for (let off = 0; off < body.length; off += 65536) {
    s.write(body.subarray(off, off + 65536));
  }
  await sleep(300);
  s.destroy();
}

async function checkGet(b, n, data, extra = {}) {
  const r = await http(base, 'GET', objPath(b, n), { timeoutMs: 60000 });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.equal(r.bytes.length, data.length, 'body length');
  assert.ok(r.bytes.equals(data), 'body bytes');
  const digest = natsDigest(data);
  assert.equal(r.headers.get('etag'), `"${digest}"`);
  assert.equal(r.headers.get('x-nats-obj-digest'), digest);
  assert.equal(r.headers.get('repr-digest'), `sha-256=:${sha(data).toString('base64')}:`);
  assert.equal(r.headers.get('x-nats-obj-size'), String(data.length));
  assert.equal(r.headers.get('content-length'), String(data.length));
  assert.equal(r.headers.get('accept-ranges'), 'bytes');
  assert.equal(r.headers.get('x-nats-obj-bucket'), extra.bucket ?? b);
  assert.match(r.headers.get('x-nats-obj-nuid'), /^[0-9A-Za-z]{22}$/);
  assert.ok(r.headers.get('last-modified'));
  if (extra.chunks !== undefined) assert.equal(r.headers.get('x-nats-obj-chunks'), String(extra.chunks));
  return r;
}

describe('object buckets', () => {
  test('create, identical create, conflicting create, update, status, list, seal, delete', async () => {
    const b = uniqueName('obm');
    let r = await http(base, 'POST', bucketPath(b), { body: { description: 'files', max_bytes: 1 << 20 } });
    assert.equal(r.status, 201, r.text);
    for (const f of ['bucket', 'description', 'ttl', 'storage', 'replicas', 'sealed', 'size', 'max_bytes']) {
      assert.ok(f in r.json, `status has ${f}`);
    }
    assert.equal(r.json.bucket, b);
    assert.equal(r.json.description, 'files');
    assert.equal(r.json.max_bytes, 1 << 20);
    assert.equal(r.json.sealed, false);
    assert.equal(r.json.storage, 'file');
    r = await http(base, 'POST', bucketPath(b), { body: { description: 'files', max_bytes: 1 << 20 } });
    assert.equal(r.status, 200, 'identical create is 200');
    r = await http(base, 'POST', bucketPath(b), { body: { description: 'other' } });
    assertProblem(r, 409, 'bucket_exists');

    const s = await jszStream(stack.nats.monitorPort, `OBJ_${b}`);
    assert.deepEqual(s.config.subjects, [`$O.${b}.C.>`, `$O.${b}.M.>`]);
    assert.equal(s.config.discard, 'new');
    assert.equal(s.config.allow_rollup_hdrs, true);
    assert.equal(s.config.allow_direct, true);
    assert.equal(s.config.deny_purge, false);
    assert.equal(s.config.deny_delete, false);

    r = await http(base, 'PUT', bucketPath(b), { body: { description: 'changed', ttl: '1h' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.description, 'changed');
    assert.equal(r.json.ttl, 3600e9);
    r = await http(base, 'PUT', bucketPath(b), { body: { storage: 'memory' } });
    assertProblem(r, 400, 'invalid_config');
    r = await http(base, 'PUT', bucketPath(uniqueName('obn')), { body: {} });
    assert.equal(r.status, 201);

    r = await http(base, 'GET', '/v1/objm/buckets');
    assert.equal(r.status, 200);
    assert.ok(r.json.includes(b));

    assert.equal((await put(b, 'x', Buffer.from('abc'))).status, 201);
    r = await http(base, 'GET', bucketPath(b));
    assert.equal(r.status, 200);
    assert.ok(r.json.size > 0, 'size counts the stored bytes');

    r = await http(base, 'POST', `${bucketPath(b)}/seal`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.sealed, true);
    assertProblem(await put(b, 'y', Buffer.from('abc')), 409, 'bucket_sealed');
    assertProblem(await http(base, 'DELETE', objPath(b, 'x')), 409, 'bucket_sealed');
    assert.equal((await http(base, 'GET', objPath(b, 'x'))).text, 'abc', 'a sealed bucket still reads');

    r = await http(base, 'DELETE', bucketPath(b));
    assert.equal(r.status, 200);
    assertProblem(await http(base, 'GET', bucketPath(b)), 404, 'bucket_not_found');
    assertProblem(await http(base, 'DELETE', bucketPath(b)), 404, 'bucket_not_found');
    assertProblem(await http(base, 'POST', bucketPath('a.b'), { body: {} }), 400, 'invalid_bucket');
    assertProblem(await http(base, 'POST', bucketPath('c1'), { body: { nope: 1 } }), 400, 'invalid_config');
  });
  test('a read racing a bucket deleted by another NATS client answers 200 or 404, not 504 at the deadline', async () => {
    // as for KV (kv_buckets.test.mjs): a direct get sent while the stream is
    // deleted goes unanswered, and the deletion advisory may come later
    const c = await connectNats(stack.nats.url);
    try {
      await raceReadsWithDeletion(async () => {
        const b = uniqueName('obrace');
        const meta = `${objPath(b, 'o')}?metaOnly=true`;
        assert.equal((await http(base, 'PUT', bucketPath(b), { body: {} })).status, 201);
        assert.equal((await http(base, 'PUT', objPath(b, 'o'), { body: bytes(10) })).status, 201);
        assert.equal((await http(base, 'GET', meta)).status, 200);
        return { del: () => c.jsm.streams.delete(`OBJ_${b}`), read: () => http(base, 'GET', meta) };
      });
    } finally {
      await c.close();
    }
  });
});

describe('upload and download', () => {
  test('sizes 0, 1, one chunk, one chunk + 1 and many chunks round-trip', async () => {
    const b = await mkBucket();
    const cases = [[0, 0], [1, 1], [131072, 1], [131073, 2], [1024 * 1024 + 17, 9]];
    for (const [n, chunks] of cases) {
      const data = bytes(n, n + 1);
      const r = await put(b, `f${n}`, data, { 'Content-Type': 'application/x-test' });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.headers.get('etag'), `"${natsDigest(data)}"`);
      assert.equal(r.json.size, n);
      assert.equal(r.json.chunks, chunks);
      assert.equal(r.json.digest, natsDigest(data));
      assert.equal(r.json.options.max_chunk_size, 131072);
      const g = await checkGet(b, `f${n}`, data, { chunks });
      assert.equal(g.headers.get('content-type'), 'application/x-test');
    }
    // chunks + meta only: every upload left exactly its own messages
    assert.equal(await streamMessages(b), 0 + 1 + 1 + 2 + 9 + cases.length);
  });

  test('chunked transfer encoding, ?chunkSize, headers, description and names with slashes', async () => {
    const b = await mkBucket();
    const data = bytes(300000, 3);
    const pieces = [];
    for (let off = 0; off < data.length; off += 7001) pieces.push(data.subarray(off, off + 7001));
    const r = await putChunked(b, 'dir/sub/ü x.bin', pieces, {
      'Content-Type': 'image/png',
      'X-Nats-Obj-Meta-color': 'blue',
      'x-nats-obj-meta-CUSTOM-thing': 'h%C3%A9llo',
      'X-Nats-Obj-Description': 'a%20caf%C3%A9',
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.name, 'dir/sub/ü x.bin');
    assert.equal(r.json.description, 'a café');
    assert.deepEqual(r.json.headers, { 'Content-Type': ['image/png'], Color: ['blue'], 'Custom-Thing': ['héllo'] });
    const g = await checkGet(b, 'dir/sub/ü x.bin', data, { chunks: 3 });
    assert.equal(g.headers.get('content-type'), 'image/png');
    assert.equal(g.headers.get('x-nats-obj-meta-color'), 'blue');
    assert.equal(g.headers.get('x-nats-obj-meta-custom-thing'), 'h%C3%A9llo');
    assert.equal(g.headers.get('x-nats-obj-description'), 'a caf%C3%A9');
    assert.equal(decodeURIComponent(g.headers.get('x-nats-obj-name')), 'dir/sub/ü x.bin');

    const r2 = await put(b, 'small-chunks', data, {}, '?chunkSize=65536');
    assert.equal(r2.status, 201);
    assert.equal(r2.json.chunks, 5);
    assert.equal(r2.json.options.max_chunk_size, 65536);
    const g2 = await checkGet(b, 'small-chunks', data, { chunks: 5 });
    assert.equal(g2.headers.get('x-nats-obj-max-chunk-size'), '65536');
    assertProblem(await put(b, 'z', data, {}, '?chunkSize=0'), 400, 'invalid_parameter');

    // the alias path works the same
    const g3 = await http(base, 'GET', `/v1/objm/buckets/${b}/keys/small-chunks`);
    assert.ok(g3.bytes.equals(data));
    const none = await http(base, 'GET', objPath(b, 'missing'));
    assertProblem(none, 404, 'object_not_found');
    assertProblem(await http(base, 'GET', objPath(uniqueName('nob'), 'x')), 404, 'bucket_not_found');
    assertProblem(await put(uniqueName('nob'), 'x', Buffer.from('a')), 404, 'bucket_not_found');
  });

  test('replacing an object purges the old chunks; HEAD, metaOnly and If-None-Match', async () => {
    const b = await mkBucket();
    const v1 = bytes(400000, 1);
    const v2 = bytes(150000, 2);
    assert.equal((await put(b, 'o', v1)).status, 201);
    assert.equal(await streamMessages(b), 4 + 1);
    const r = await put(b, 'o', v2);
    assert.equal(r.status, 201);
    await checkGet(b, 'o', v2);
    assert.equal(await streamMessages(b), 2 + 1, 'old chunks and old meta are gone');

    const h = await http(base, 'HEAD', objPath(b, 'o'));
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('content-length'), String(v2.length));
    assert.equal(h.bytes.length, 0);
    const m = await http(base, 'GET', `${objPath(b, 'o')}?metaOnly=true`);
    assert.equal(m.status, 200);
    assert.equal(m.headers.get('content-length'), '0');
    assert.equal(m.headers.get('x-nats-obj-size'), String(v2.length));
    const etag = m.headers.get('etag');
    const c = await http(base, 'GET', objPath(b, 'o'), { headers: { 'If-None-Match': etag } });
    assert.equal(c.status, 304);
    const c2 = await http(base, 'GET', objPath(b, 'o'), { headers: { 'If-None-Match': '"SHA-256=nope"' } });
    assert.equal(c2.status, 200);
  });

  test('PUT preconditions: If-None-Match: * and If-Match', async () => {
    const b = await mkBucket();
    const v1 = Buffer.from('first');
    assert.equal((await put(b, 'p', v1, { 'If-None-Match': '*' })).status, 201);
    assertProblem(await put(b, 'p', Buffer.from('x'), { 'If-None-Match': '*' }), 412, 'precondition_failed');
    assertProblem(await put(b, 'p', Buffer.from('x'), { 'If-Match': '"SHA-256=wrong"' }), 412, 'precondition_failed');
    assertProblem(await put(b, 'q', Buffer.from('x'), { 'If-Match': '"SHA-256=wrong"' }), 412, 'precondition_failed');
    const r = await put(b, 'p', Buffer.from('second'), { 'If-Match': `"${natsDigest(v1)}"` });
    assert.equal(r.status, 201, r.text);
    await checkGet(b, 'p', Buffer.from('second'));
  });

  test('Idempotency-Key stores a repeated upload once', async () => {
    const b = await mkBucket();
    const data = bytes(200000, 9);
    const r1 = await put(b, 'i', data, { 'Idempotency-Key': 'k-1' });
    assert.equal(r1.status, 201);
    const n = await streamMessages(b);
    const r2 = await put(b, 'i', data, { 'Idempotency-Key': 'k-1' });
    assert.equal(r2.status, 201, r2.text);
    assert.equal(r2.json.nuid, r1.json.nuid, 'the stored version is answered');
    assert.equal(await streamMessages(b), n, 'nothing new is stored');
    await checkGet(b, 'i', data);
  });
});

describe('failed uploads leave the previous version intact', () => {
  test('wrong Content-Digest is 400 digest_mismatch', async () => {
    const b = await mkBucket();
    const v1 = bytes(300000, 1);
    assert.equal((await put(b, 'o', v1)).status, 201);
    const before = await streamMessages(b);
    const v2 = bytes(500000, 2);
    const bad = await put(b, 'o', v2, { 'Content-Digest': `sha-256=:${sha(v1).toString('base64')}:` });
    assertProblem(bad, 400, 'digest_mismatch');
    await checkGet(b, 'o', v1);
    assert.equal(await streamMessages(b), before, 'no chunk of the failed upload is left');
    const good = await put(b, 'o', v2, { 'Content-Digest': `sha-256=:${sha(v2).toString('base64')}:` });
    assert.equal(good.status, 201);
    assertProblem(await put(b, 'o', v2, { 'Content-Digest': 'sha-256=:AAAA:' }), 400, 'invalid_parameter');
  });

  test('a client that leaves halfway, or sends a short body, changes nothing', async () => {
    const b = await mkBucket();
    const v1 = bytes(300000, 1);
    assert.equal((await put(b, 'o', v1)).status, 201);
    const before = await streamMessages(b);
    await putAndLeave(b, 'o', 4 * 1024 * 1024, 1024 * 1024);
    await waitFor(async () => (await streamMessages(b)) === before, 10000, 100, 'chunks of the abandoned upload to be removed');
    await checkGet(b, 'o', v1);
    await putAndLeave(b, 'new', 1000000, 999999);
    await waitFor(async () => (await streamMessages(b)) === before, 10000, 100, 'chunks of the short upload to be removed');
    assertProblem(await http(base, 'GET', objPath(b, 'new')), 404, 'object_not_found');
    // the server keeps serving afterwards
    await checkGet(b, 'o', v1);
  });

  test('max_bytes: a declared size over it is 413, running out mid-upload is 507', async () => {
    const b = await mkBucket('obx', { max_bytes: 1000000 });
    const small = bytes(100000, 1);
    assert.equal((await put(b, 's', small)).status, 201);
    const before = await streamMessages(b);
    assertProblem(await put(b, 'big', bytes(2000000, 2)), 413, 'payload_too_large');
    const pieces = [];
    const big = bytes(1500000, 3);
    for (let off = 0; off < big.length; off += 100000) pieces.push(big.subarray(off, off + 100000));
    const r = await putChunked(b, 'big', pieces);
    assert.equal(r.status, 507, r.text);
    assert.equal(r.json.code, 'insufficient_storage');
    await waitFor(async () => (await streamMessages(b)) === before, 5000, 100, 'partial chunks removed');
    assertProblem(await http(base, 'GET', objPath(b, 'big')), 404, 'object_not_found');
    await checkGet(b, 's', small);
  });
});

describe('Range', () => {
  test('single ranges, suffix, open, 416, ignored ranges and If-Range', async () => {
    const b = await mkBucket();
    const data = bytes(700000, 5);
    assert.equal((await put(b, 'r', data, {}, '?chunkSize=100000')).status, 201);
    const rng = async (h, extra = {}) => http(base, 'GET', objPath(b, 'r'), { headers: { Range: h, ...extra } });
    const cases = [
      ['bytes=0-9', 0, 9], ['bytes=99990-100009', 99990, 100009], ['bytes=650000-', 650000, 699999],
      ['bytes=-1000', 699000, 699999], ['bytes=123456-123456', 123456, 123456], ['bytes=600000-999999', 600000, 699999],
      ['bytes=-999999', 0, 699999],
    ];
    for (const [h, s, e] of cases) {
      const r = await rng(h);
      assert.equal(r.status, 206, h);
      assert.equal(r.headers.get('content-range'), `bytes ${s}-${e}/700000`, h);
      assert.equal(r.headers.get('content-length'), String(e - s + 1), h);
      assert.ok(r.bytes.equals(data.subarray(s, e + 1)), `bytes of ${h}`);
    }
    for (const h of ['bytes=700000-', 'bytes=800000-900000', 'bytes=-0']) {
      const r = await rng(h);
      assertProblem(r, 416, 'range_not_satisfiable', h);
      assert.equal(r.headers.get('content-range'), 'bytes */700000');
    }
    for (const h of ['bytes=10-5', 'bytes=a-b', 'bytes=0-1,5-9', 'lines=0-5']) {
      const r = await rng(h);
      assert.equal(r.status, 200, h);
      assert.ok(r.bytes.equals(data), h);
    }
    const etag = `"${natsDigest(data)}"`;
    const ok = await rng('bytes=5-9', { 'If-Range': etag });
    assert.equal(ok.status, 206);
    const stale = await rng('bytes=5-9', { 'If-Range': '"SHA-256=old"' });
    assert.equal(stale.status, 200);
    assert.equal(stale.bytes.length, data.length);
    // empty object: any range is unsatisfiable
    assert.equal((await put(b, 'e', Buffer.alloc(0))).status, 201);
    const e = await http(base, 'GET', objPath(b, 'e'), { headers: { Range: 'bytes=0-0' } });
    assertProblem(e, 416, 'range_not_satisfiable');
  });
});

describe('delete, patch, list and links', () => {
  test('DELETE marks the meta deleted and purges chunks; 404 when missing', async () => {
    const b = await mkBucket();
    const data = bytes(300000, 1);
    assert.equal((await put(b, 'd', data)).status, 201);
    assert.equal((await put(b, 'keep', Buffer.from('k'))).status, 201);
    const r = await http(base, 'DELETE', objPath(b, 'd'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.deleted, true);
    assertProblem(await http(base, 'GET', objPath(b, 'd')), 404, 'object_not_found');
    assertProblem(await http(base, 'DELETE', objPath(b, 'd')), 404, 'object_not_found');
    assertProblem(await http(base, 'DELETE', objPath(b, 'never')), 404, 'object_not_found');
    assert.equal(await streamMessages(b), 2 + 1, 'the tombstone and the kept object remain');
    let l = await http(base, 'GET', `${bucketPath(b)}/keys`);
    assert.equal(l.status, 200);
    assert.deepEqual(l.json.map((o) => o.name), ['keep']);
    l = await http(base, 'GET', `${bucketPath(b)}/keys?deleted=true`);
    assert.deepEqual(l.json.map((o) => o.name).sort(), ['d', 'keep']);
    assert.equal(l.json.find((o) => o.name === 'd').deleted, true);
    // a deleted name can be written again
    assert.equal((await put(b, 'd', Buffer.from('again'), { 'If-None-Match': '*' })).status, 201);
  });

  test('PATCH merges description and headers and renames without touching chunks', async () => {
    const b = await mkBucket();
    const data = bytes(200000, 4);
    const w = await put(b, 'a', data, { 'X-Nats-Obj-Meta-One': '1', 'X-Nats-Obj-Description': 'old' });
    assert.equal(w.status, 201);
    assert.equal((await put(b, 'taken', Buffer.from('t'))).status, 201);
    let r = await http(base, 'PATCH', objPath(b, 'a'), { body: { headers: { 'x-two': '2', One: null } } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.headers, { 'X-Two': ['2'] });
    assert.equal(r.json.description, 'old', 'fields not given are kept');
    assert.equal(r.json.nuid, w.json.nuid);
    r = await http(base, 'PATCH', objPath(b, 'a'), { body: { name: 'taken' } });
    assertProblem(r, 409, 'object_exists');
    const before = await streamMessages(b);
    r = await http(base, 'PATCH', objPath(b, 'a'), { body: { name: 'b/renamed', description: 'new' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.name, 'b/renamed');
    assert.equal(r.json.description, 'new');
    assertProblem(await http(base, 'GET', objPath(b, 'a')), 404, 'object_not_found');
    const g = await checkGet(b, 'b/renamed', data);
    assert.equal(g.headers.get('x-nats-obj-meta-x-two'), '2');
    assert.equal(await streamMessages(b), before, 'one meta replaced another; no chunk rewritten');
    assertProblem(await http(base, 'PATCH', objPath(b, 'nope'), { body: { description: 'x' } }), 404, 'object_not_found');
    assertProblem(await http(base, 'PATCH', objPath(b, 'taken'), { body: { size: 1 } }), 400, 'invalid_parameter');
  });

  test('links to objects are followed; a link to a bucket is 409 bucket_link', async () => {
    const b = await mkBucket();
    const other = await mkBucket();
    const data = bytes(150000, 8);
    assert.equal((await put(other, 'target', data)).status, 201);
    let r = await http(base, 'PUT', `${bucketPath(b)}/links/ln`, { body: { bucket: other, name: 'target' } });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.json.options.link, { bucket: other, name: 'target' });
    // the data and its headers are the target's
    await checkGet(b, 'ln', data, { bucket: other });
    r = await http(base, 'PUT', `${bucketPath(b)}/links/whole`, { body: { bucket: other } });
    assert.equal(r.status, 201, r.text);
    const g = await http(base, 'GET', objPath(b, 'whole'));
    assertProblem(g, 409, 'bucket_link');
    r = await http(base, 'PUT', `${bucketPath(b)}/links/bad`, { body: { bucket: other, name: 'missing' } });
    assertProblem(r, 404, 'object_not_found');
    assert.equal((await put(b, 'plain', Buffer.from('p'))).status, 201);
    r = await http(base, 'PUT', `${bucketPath(b)}/links/plain`, { body: { bucket: other, name: 'target' } });
    assertProblem(r, 409, 'object_exists');
    const l = await http(base, 'GET', `${bucketPath(b)}/keys`);
    const ln = l.json.find((o) => o.name === 'ln');
    assert.deepEqual(ln.options.link, { bucket: other, name: 'target' });
  });
});
