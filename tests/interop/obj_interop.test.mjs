// Interoperability of jetgate's object store with the official NATS
// JavaScript client (@nats-io/obj): objects, buckets and links written by one
// side are read back by the other with the same bytes, size, chunks, digest,
// description and headers.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { Objm } from '@nats-io/obj';
import { http, rawRequest, startStack, uniqueName } from '../lib/harness.mjs';

let stack;
let nc;
let objm;

before(async () => {
  stack = await startStack();
  nc = await connect({ servers: stack.nats.url, timeout: 5000 });
  objm = new Objm(nc);
});

after(async () => {
  if (nc) await nc.close().catch(() => {});
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

test('objects written through jetgate read back in the JS client', async () => {
  const b = uniqueName('oij');
  const r = await http(stack.base, 'POST', `/v1/objm/buckets/${b}`, { body: {} });
  assert.equal(r.status, 201);
  const os = await objm.open(b);
  for (const n of [0, 1, 131072, 131073, 1024 * 1024 + 5]) {
    const data = bytes(n, n + 3);
    const w = await http(stack.base, 'PUT', objPath(b, `f${n}`), {
      body: data,
      headers: { 'X-Nats-Obj-Description': 'from%20jetgate', 'X-Nats-Obj-Meta-Color': 'red', 'Content-Type': 'text/x' },
      timeoutMs: 30000,
    });
    assert.equal(w.status, 201, w.text);
    const info = await os.info(`f${n}`);
    assert.equal(info.size, n);
    assert.equal(info.chunks, Math.ceil(n / 131072));
    assert.equal(info.digest, natsDigest(data));
    assert.equal(info.description, 'from jetgate');
    assert.equal(info.headers.get('Color'), 'red');
    assert.equal(info.headers.get('Content-Type'), 'text/x');
    const got = await os.getBlob(`f${n}`);
    assert.ok(Buffer.from(got ?? []).equals(data), `bytes of f${n}`);
  }
});

test('objects and buckets written by the JS client read back through jetgate', async () => {
  const b = uniqueName('oji');
  const os = await objm.create(b);
  const st = await http(stack.base, 'GET', `/v1/objm/buckets/${b}`);
  assert.equal(st.status, 200, 'a bucket made by the JS client is a jetgate bucket');
  for (const n of [0, 1, 131073, 600000]) {
    const data = bytes(n, n + 11);
    await os.putBlob({ name: `j${n}`, description: 'from js', options: { max_chunk_size: 65536 } }, data);
    const g = await http(stack.base, 'GET', objPath(b, `j${n}`), { timeoutMs: 30000 });
    assert.equal(g.status, 200, g.text);
    assert.ok(g.bytes.equals(data), `bytes of j${n}`);
    assert.equal(g.headers.get('x-nats-obj-digest'), natsDigest(data));
    assert.equal(g.headers.get('x-nats-obj-chunks'), String(Math.ceil(n / 65536)));
    assert.equal(g.headers.get('x-nats-obj-description'), 'from js');
    if (n > 200000) {
      const rg = await http(stack.base, 'GET', objPath(b, `j${n}`), { headers: { Range: 'bytes=200000-200099' } });
      assert.equal(rg.status, 206);
      assert.ok(rg.bytes.equals(data.subarray(200000, 200100)));
    }
  }
  const l = await http(stack.base, 'GET', `/v1/objm/buckets/${b}/keys`);
  assert.deepEqual(l.json.map((o) => o.name).sort(), ['j0', 'j1', 'j131073', 'j600000']);
  // jetgate replaces and deletes what the JS client wrote
  const v2 = bytes(70000, 5);
  assert.equal((await http(stack.base, 'PUT', objPath(b, 'j600000'), { body: v2 })).status, 201);
  assert.ok(Buffer.from(await os.getBlob('j600000')).equals(v2));
  assert.equal((await http(stack.base, 'DELETE', objPath(b, 'j1'))).status, 200);
  assert.equal(await os.getBlob('j1'), null);
});

test('a link written by jetgate is followed by the JS client', async () => {
  const b = uniqueName('ojl');
  assert.equal((await http(stack.base, 'POST', `/v1/objm/buckets/${b}`, { body: {} })).status, 201);
  const data = bytes(300000, 77);
  assert.equal((await http(stack.base, 'PUT', objPath(b, 'target'), { body: data })).status, 201);
  const r = await http(stack.base, 'PUT', `/v1/objm/buckets/${b}/links/alias`, { body: { bucket: b, name: 'target' } });
  assert.equal(r.status, 201, r.text);
  const os = await objm.open(b);
  const got = await os.getBlob('alias');
  assert.ok(Buffer.from(got ?? []).equals(data), 'the JS client follows the link');
  const info = await os.info('alias');
  assert.deepEqual(info.options.link, { bucket: b, name: 'target' });
});

test('every value of a multi-valued header written by the JS client comes back on GET and HEAD', async () => {
  const b = uniqueName('ojh');
  const os = await objm.create(b);
  const h = natsHeaders();
  h.append('X-Multi', 'a');
  h.append('X-Multi', 'b, c');
  h.append('X-Multi', 'd');
  h.append('X-One', 'only');
  // more header lines than a response keeps inline: none may be dropped
  const many = Array.from({ length: 60 }, (_, i) => `v${i}`);
  for (const v of many) h.append('X-Many', v);
  await os.putBlob({ name: 'm', headers: h }, bytes(10, 1));
  const info = await http(stack.base, 'GET', `/v1/objm/buckets/${b}/keys`);
  assert.deepEqual(info.json[0].headers['X-Multi'], ['a', 'b, c', 'd'], 'the stored meta keeps every value');
  for (const method of ['GET', 'HEAD']) {
    const r = await rawRequest(stack.base, `${method} ${objPath(b, 'm')} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 200, r.raw);
    const head = r.raw.slice(0, r.raw.indexOf('\r\n\r\n')).split('\r\n');
    const values = (n) => head.filter((l) => l.toLowerCase().startsWith(`${n.toLowerCase()}:`))
      .map((l) => l.slice(l.indexOf(':') + 1).trim());
    assert.deepEqual(values('X-Nats-Obj-Meta-X-Multi'), ['a', 'b, c', 'd'], `${method}: one line per value, in order`);
    assert.deepEqual(values('X-Nats-Obj-Meta-X-One'), ['only'], method);
    assert.deepEqual(values('X-Nats-Obj-Meta-X-Many'), many, `${method}: every one of 60 values`);
  }
});
