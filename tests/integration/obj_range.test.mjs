// Object downloads and ranges against a real nats-server and jetgate: ranges
// start at the chunk holding their first byte whatever the chunk sizes (as
// nats.go writes them: any chunk may be shorter), measured by the bytes
// nats-server sends to jetgate's connection (/connz out_bytes); the
// consumers behind a download are gone when it ends or the client leaves;
// a consumer that goes away mid-download is replaced by single gets, chunks
// that vanish end the body short; a full read that fails its digest is cut
// short of Content-Length; buckets without direct gets still read.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import nodeHttp from 'node:http';
import { headers as natsHeaders, nuid } from '@nats-io/transport-node';
import { Objm } from '@nats-io/obj';
import {
  connectNats, connz, http, jszConsumers, sleep, startStack, uniqueName, waitFor,
} from '../lib/harness.mjs';

let stack;
let base;
let nats;

before(async () => {
  stack = await startStack();
  base = stack.base;
  nats = await connectNats(stack.nats.url);
});

after(async () => {
  if (nats) await nats.close().catch(() => {});
  if (stack) await stack.stop();
});

const objPath = (b, n) => `/v1/obj/${b}/${encodeURIComponent(n)}`;
const natsDigest = (buf) => `SHA-256=${crypto.createHash('sha256').update(buf).digest('base64url')}=`;

function bytes(n, seed) {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

async function mkBucket(prefix) {
  const b = uniqueName(prefix);
  const r = await http(base, 'POST', `/v1/objm/buckets/${b}`, { body: {} });
  assert.equal(r.status, 201, r.text);
  return b;
}

/** Bytes nats-server has sent to jetgate's connection so far. */
async function jetgateInBytes() {
  const c = (await connz(stack.nats.monitorPort)).find((x) => x.name === 'jetgate');
  assert.ok(c, 'jetgate connection in /connz');
  return c.out_bytes;
}

/** The bytes NATS sent jetgate while fn ran. */
async function natsBytesDuring(fn) {
  const before0 = await jetgateInBytes();
  const r = await fn();
  await sleep(50);
  return { r, bytes: (await jetgateInBytes()) - before0 };
}

async function consumersOf(b) {
  return (await jszConsumers(stack.nats.monitorPort)).filter((c) => c.stream === `OBJ_${b}`);
}

/**
 * Writes an object the way nats.go may: chunks of the given sizes (any of
 * them shorter than the others), then the meta message.  digest overrides
 * the real one.
 */
async function putChunks(b, name, sizes, seed, digest) {
  const data = bytes(sizes.reduce((a, s) => a + s, 0), seed);
  const id = nuid.next();
  let off = 0;
  for (const s of sizes) {
    await nats.js.publish(`$O.${b}.C.${id}`, data.subarray(off, off + s));
    off += s;
  }
  const meta = {
    name, bucket: b, nuid: id, size: data.length, chunks: sizes.length,
    mtime: new Date().toISOString(), digest: digest ?? natsDigest(data),
    options: { max_chunk_size: Math.max(...sizes) },
  };
  const h = natsHeaders();
  h.set('Nats-Rollup', 'sub');
  const enc = Buffer.from(name).toString('base64url');
  await nats.js.publish(`$O.${b}.M.${enc}${'='.repeat((4 - (enc.length % 4)) % 4)}`,
    JSON.stringify(meta), { headers: h });
  return data;
}

function unequalSizes(n, seed) {
  let x = seed >>> 0;
  const out = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out.push(500 + (x >>> 8) % 30000);
  }
  return out;
}

async function checkRange(b, name, data, s, e) {
  const r = await http(base, 'GET', objPath(b, name), { headers: { Range: `bytes=${s}-${e}` } });
  assert.equal(r.status, 206, `bytes=${s}-${e}: ${r.text}`);
  const end = Math.min(e, data.length - 1);
  assert.equal(r.headers.get('content-range'), `bytes ${s}-${end}/${data.length}`);
  assert.ok(r.bytes.equals(data.subarray(s, end + 1)), `bytes of bytes=${s}-${e}`);
  return r;
}

/** GET with a raw client: {status, length (Content-Length), got (bytes), complete}. */
function rawGet(p) {
  return new Promise((resolve, reject) => {
    const u = new URL(base + p);
    const rq = nodeHttp.get({ host: u.hostname, port: u.port, path: u.pathname }, (res) => {
      const parts = [];
      let complete = false;
      res.on('data', (d) => parts.push(d));
      res.on('end', () => { complete = true; });
      res.on('close', () => resolve({
        status: res.statusCode, length: Number(res.headers['content-length']),
        got: Buffer.concat(parts), complete: complete && res.complete,
      }));
    });
    rq.on('error', reject);
  });
}

describe('ranges start at the chunk holding their first byte', () => {
  test('unequal chunk sizes: ranges anywhere return the right bytes', async () => {
    const b = await mkBucket('orng');
    const sizes = unequalSizes(60, 7);
    const data = await putChunks(b, 'u', sizes, 3);
    const full = await http(base, 'GET', objPath(b, 'u'));
    assert.equal(full.status, 200);
    assert.ok(full.bytes.equals(data));
    const bounds = [];
    sizes.reduce((a, s) => { bounds.push(a); return a + s; }, 0);
    const L = data.length;
    const cases = [
      [L - 100, L - 1], [L - 1, L - 1], [0, 0], [1, 1], [bounds[30], bounds[30]],
      [bounds[30] - 1, bounds[30]], [bounds[41] + 7, bounds[47] + 3], [bounds[59], L + 100],
      [bounds[2] - 5, bounds[55]], [12345, 12345 + 200000], [bounds[10] + 1, L - 1],
    ];
    for (const [s, e] of cases) await checkRange(b, 'u', data, s, e);
    const suffix = await http(base, 'GET', objPath(b, 'u'), { headers: { Range: 'bytes=-300' } });
    assert.equal(suffix.status, 206);
    assert.ok(suffix.bytes.equals(data.subarray(L - 300)));
  });

  test('a range at the end reads only the chunks it needs', async () => {
    const b = await mkBucket('orng');
    const sizes = unequalSizes(80, 11);
    const data = await putChunks(b, 'e', sizes, 5);
    const L = data.length;
    const last = sizes[sizes.length - 1];
    // the last 100 bytes: the chunk list (headers only) and the last chunk
    const tail = await natsBytesDuring(() => checkRange(b, 'e', data, L - 100, L - 1));
    assert.ok(tail.bytes < last + 40000,
      `NATS sent jetgate ${tail.bytes} bytes for the last 100 bytes of ${L} (last chunk ${last} bytes)`);
    // a few bytes in the middle
    const mid = Math.floor(L / 2);
    const m = await natsBytesDuring(() => checkRange(b, 'e', data, mid, mid + 9));
    assert.ok(m.bytes < 2 * 31000 + 40000, `NATS sent jetgate ${m.bytes} bytes for 10 bytes`);
    // a few bytes at the start of a large object
    const big = await mkBucket('orng');
    const put = await http(base, 'PUT', objPath(big, 'b'), { body: bytes(8 << 20, 9), timeoutMs: 60000 });
    assert.equal(put.status, 201, put.text);
    const head = await natsBytesDuring(() => http(base, 'GET', objPath(big, 'b'), { headers: { Range: 'bytes=0-9' } }));
    assert.equal(head.r.status, 206);
    assert.ok(head.r.bytes.equals(bytes(8 << 20, 9).subarray(0, 10)));
    assert.ok(head.bytes < 2 * 131072 + 20000, `NATS sent jetgate ${head.bytes} bytes for bytes=0-9`);
    // the whole object, for comparison: every byte once
    const all = await natsBytesDuring(() => http(base, 'GET', objPath(b, 'e')));
    assert.ok(all.r.bytes.equals(data));
    assert.ok(all.bytes >= L && all.bytes < L * 1.1, `NATS sent jetgate ${all.bytes} bytes for ${L}`);
  });

  test('objects written by the JS client with another chunk size', async () => {
    const b = uniqueName('orjs');
    const os = await new Objm(nats.nc).create(b);
    const data = bytes(500000, 21);
    await os.putBlob({ name: 'j', options: { max_chunk_size: 7000 } }, data);
    for (const [s, e] of [[490000, 490099], [0, 6999], [7000, 7000], [123456, 223456], [499999, 499999]]) {
      await checkRange(b, 'j', data, s, e);
    }
    const t = await natsBytesDuring(() => checkRange(b, 'j', data, 499900, 499999));
    assert.ok(t.bytes < 7000 + 30000, `NATS sent jetgate ${t.bytes} bytes for the last 100 bytes`);
    const g = await http(base, 'GET', objPath(b, 'j'));
    assert.ok(g.bytes.equals(data));
  });
});

describe('downloads', () => {
  test('no consumer is left when a download ends or its client leaves', async () => {
    const b = await mkBucket('ocon');
    const data = bytes(16 << 20, 4);
    const put = await http(base, 'PUT', objPath(b, 'o'), { body: data, timeoutMs: 60000 });
    assert.equal(put.status, 201, put.text);
    const g = await http(base, 'GET', objPath(b, 'o'), { timeoutMs: 60000 });
    assert.equal(g.status, 200);
    assert.equal(g.headers.get('x-nats-obj-digest'), natsDigest(data));
    assert.ok(g.bytes.equals(data));
    await checkRange(b, 'o', data, 5000000, 9000000);
    await waitFor(async () => (await consumersOf(b)).length === 0, 2000, 50, 'no consumer after downloads');

    // a client that stops reading, then leaves
    const u = new URL(base + objPath(b, 'o'));
    const rq = nodeHttp.get({ host: u.hostname, port: u.port, path: u.pathname });
    const res = await new Promise((resolve, reject) => { rq.on('response', resolve); rq.on('error', reject); });
    assert.equal(res.statusCode, 200);
    res.pause();
    await waitFor(async () => (await consumersOf(b)).length === 1, 5000, 50, 'the paused download\'s consumer');
    rq.destroy();
    await waitFor(async () => (await consumersOf(b)).length === 0, 2000, 50, 'no consumer after the client left');

    // a client that pauses longer than the consumer may idle still gets every byte
    const slow = await new Promise((resolve, reject) => {
      const r2 = nodeHttp.get({ host: u.hostname, port: u.port, path: u.pathname }, (res2) => {
        const parts = [];
        let n = 0;
        res2.on('data', (d) => {
          parts.push(d);
          n += d.length;
          if (n > (1 << 20) && n - d.length <= (1 << 20)) {
            res2.pause();
            setTimeout(() => res2.resume(), 3000);
          }
        });
        res2.on('end', () => resolve(Buffer.concat(parts)));
        res2.on('error', reject);
      });
      r2.on('error', reject);
    });
    assert.ok(slow.equals(data), 'every byte after a pause');
    await waitFor(async () => (await consumersOf(b)).length === 0, 2000, 50, 'no consumer after the slow download');
  });

  test('a consumer deleted mid-download, and chunks purged mid-download', async () => {
    const b = await mkBucket('ogone');
    // large enough that socket buffers and the read-ahead cannot already
    // hold the rest when the chunks are purged (loopback buffers grow to MiBs)
    const data = bytes(40 << 20, 6);
    const put = await http(base, 'PUT', objPath(b, 'o'), { body: data, timeoutMs: 60000 });
    assert.equal(put.status, 201, put.text);
    const u = new URL(base + objPath(b, 'o'));
    /** GET that pauses after 1 MiB, runs during(), resumes; {got, complete, ms}. */
    const pausedGet = (during) => new Promise((resolve, reject) => {
      const t0 = Date.now();
      const rq = nodeHttp.get({ host: u.hostname, port: u.port, path: u.pathname }, (res) => {
        const parts = [];
        let n = 0;
        let complete = false;
        res.on('data', (d) => {
          parts.push(d);
          n += d.length;
          if (n > (1 << 20) && n - d.length <= (1 << 20)) {
            res.pause();
            during().then(() => res.resume(), reject);
          }
        });
        res.on('end', () => { complete = res.complete; });
        res.on('close', () => resolve({ got: Buffer.concat(parts), complete, ms: Date.now() - t0 }));
      });
      rq.on('error', reject);
    });
    // the consumer disappears: the rest comes with single gets, every byte checked
    const del = await pausedGet(async () => {
      const [c] = await waitFor(async () => {
        const cs = await consumersOf(b);
        return cs.length === 1 && cs;
      }, 5000, 20, 'the download\'s consumer');
      await nats.jsm.consumers.delete(`OBJ_${b}`, c.name);
    });
    assert.ok(del.complete && del.got.equals(data), 'every byte after the consumer was deleted');
    // the chunks are purged: the download ends short instead of hanging
    const gone = await pausedGet(async () => {
      await waitFor(async () => (await consumersOf(b)).length === 1, 5000, 20, 'the download\'s consumer');
      const meta = await http(base, 'GET', `${objPath(b, 'o')}?metaOnly=true`);
      await nats.jsm.streams.purge(`OBJ_${b}`, { filter: `$O.${b}.C.${meta.headers.get('x-nats-obj-nuid')}` });
    });
    assert.ok(!gone.complete, 'the body ends early');
    assert.ok(gone.got.length < data.length && gone.got.equals(data.subarray(0, gone.got.length)));
    assert.ok(gone.ms < 10000, `ended after ${gone.ms} ms`);
    await waitFor(async () => (await consumersOf(b)).length === 0, 2000, 50, 'no consumer left');
  });

  test('a full read that fails its digest is cut short of Content-Length', async () => {
    const b = await mkBucket('obad');
    const sizes = Array.from({ length: 20 }, () => 50000);
    const data = await putChunks(b, 'x', sizes, 8, natsDigest(Buffer.from('something else')));
    const r = await rawGet(objPath(b, 'x'));
    assert.equal(r.status, 200);
    assert.equal(r.length, data.length);
    assert.ok(!r.complete, 'the body ends early');
    assert.ok(r.got.length <= data.length - 50000, `the last chunk is held back (${r.got.length} bytes sent)`);
    assert.ok(r.got.equals(data.subarray(0, r.got.length)));
    // a range is not checked against the digest
    await checkRange(b, 'x', data, 990000, 999999);
    await waitFor(async () => (await consumersOf(b)).length === 0, 2000, 50, 'no consumer left');
  });

  test('a bucket without direct gets', async () => {
    const b = await mkBucket('ondg');
    const info = await nats.jsm.streams.info(`OBJ_${b}`);
    await nats.jsm.streams.update(`OBJ_${b}`, { ...info.config, allow_direct: false });
    await waitFor(async () => {
      const s = await http(base, 'GET', `/v1/objm/buckets/${b}`);
      return s.status === 200;
    }, 5000, 100, 'bucket status');
    for (const n of [1000, 131072 * 2 + 1, 3 << 20]) {
      const data = bytes(n, n);
      const p = await http(base, 'PUT', objPath(b, `f${n}`), { body: data, timeoutMs: 60000 });
      assert.equal(p.status, 201, p.text);
      const g = await http(base, 'GET', objPath(b, `f${n}`), { timeoutMs: 60000 });
      assert.equal(g.status, 200);
      assert.ok(g.bytes.equals(data), `bytes of f${n}`);
      await checkRange(b, `f${n}`, data, n - 10, n - 1);
    }
  });
});
