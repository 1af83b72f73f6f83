// An object upload answered before its body was read (a failed
// precondition) still gets its answer and a clean connection, however the
// client sends the body: with the headers, a moment after them, or in many
// pieces after waiting for an early answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { http, sleep, startStack, uniqueName } from '../lib/harness.mjs';

let stack;
let bucket;

before(async () => {
  stack = await startStack();
  bucket = uniqueName('ea');
  assert.equal((await http(stack.base, 'POST', `/v1/objm/buckets/${bucket}`, { body: {} })).status, 201);
  assert.equal((await http(stack.base, 'PUT', `/v1/obj/${bucket}/p`, { body: 'first' })).status, 201);
});

after(async () => {
  if (stack) await stack.stop();
});

// Headers, a pause of waitMs, then the body in `pieces` writes; then, on
// the same connection, GET /healthz.  Resolves with what was answered and
// how the connection ended.
function upload({ size, waitMs, pieces, gapMs }) {
  const u = new URL(stack.base);
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port) });
    let raw = '';
    let error = null;
    let healthSent = false;
    const t0 = Date.now();
    const done = (how) => { clearTimeout(timer); s.destroy(); resolve({ raw, how, error, ms: Date.now() - t0 }); };
    const timer = setTimeout(() => done('timeout'), 8000);
    s.on('data', (d) => {
      raw += d.toString('latin1');
      // the answer to the upload is in: ask for more on the same connection
      // unless it is closing
      if (!healthSent && /\r\n\r\n\{[^}]*\}/.test(raw)) {
        healthSent = true;
        if (!/^connection: close/im.test(raw)) s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      }
      if ((raw.match(/HTTP\/1\.1 /g) || []).length === 2 && /\r\n\r\n[^]*\r\n\r\n.+/s.test(raw)) done('answered');
    });
    s.on('end', () => done('fin'));
    s.on('error', (e) => { error = e.code; done('error'); });
    s.on('connect', async () => {
      s.write(`PUT /v1/obj/${bucket}/p HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\nContent-Length: ${size}\r\n\r\n`);
      await sleep(waitMs);
      const body = Buffer.alloc(size, 0x61);
      const step = Math.ceil(size / pieces);
      for (let off = 0; off < size && !s.destroyed; off += step) {
        s.write(body.subarray(off, off + step));
        if (gapMs) await sleep(gapMs);
      }
    });
  });
}

test('412 before the body: the answer comes, the connection stays clean', async () => {
  const cases = [
    { size: 1, waitMs: 0, pieces: 1, gapMs: 0 },
    { size: 1, waitMs: 100, pieces: 1, gapMs: 0 },
    { size: 5000, waitMs: 150, pieces: 5, gapMs: 10 },
    { size: 300000, waitMs: 150, pieces: 20, gapMs: 5 },
  ];
  for (let round = 0; round < 24; round++) {
    const c = { ...cases[round % cases.length] };
    c.waitMs += Math.floor(Math.random() * 30);
    const r = await upload(c);
    const codes = [...r.raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    assert.equal(codes[0], 412, `round ${round} ${JSON.stringify(c)}: the upload is answered (${r.how} ${r.error ?? ''} after ${r.ms} ms)\n${r.raw}`);
    assert.match(r.raw, /"code":"precondition_failed"/);
    if (/^connection: close/im.test(r.raw)) {
      assert.equal(r.how, 'fin', `round ${round}: closed cleanly after Connection: close (${r.error})`);
    } else {
      assert.deepEqual(codes, [412, 200], `round ${round} ${JSON.stringify(c)}: the kept-alive connection serves the next request (${r.how})\n${r.raw}`);
    }
  }
});

// Headers of a large upload, then the body at full speed: the answer comes
// (past the part jetgate reads away it is written with Connection: close)
// and the connection ends with a FIN, never a reset that could take the
// answer with it.
function bigUpload(size, path = `/v1/obj/${bucket}/p`, headers = 'If-None-Match: *\r\n') {
  const u = new URL(stack.base);
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port) });
    let raw = '';
    let sent = 0;
    let answered = false;
    const t0 = Date.now();
    let ended = false;
    const done = (how, error) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ raw, how, error, sent, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => done('timeout'), 20000);
    s.on('data', (d) => {
      raw += d.toString('latin1');
      if (!answered && /\r\n\r\n\{[^}]*\}/.test(raw)) {
        answered = true;
        s.end(); // stop sending; wait for the server's end
      }
    });
    s.on('end', () => done(answered ? 'answered' : 'fin'));
    s.on('error', (e) => done('error', e.code));
    s.on('connect', async () => {
      s.write(`PUT ${path} HTTP/1.1\r\nHost: x\r\n${headers}Content-Length: ${size}\r\n\r\n`);
      await sleep(100);
      const piece = Buffer.alloc(64 * 1024, 0x62);
      while (sent < size && !answered && !ended) {
        sent += piece.length;
        if (!s.write(piece)) await new Promise((r) => { s.once('drain', r); s.once('close', r); });
      }
    });
  });
}

test('412 before a large body streamed at full speed: the answer comes and the connection ends cleanly', async () => {
  for (let round = 0; round < 4; round++) {
    const r = await bigUpload(256 << 20);
    assert.match(r.raw, /^HTTP\/1\.1 412 /, `round ${round}: answered (${r.how} ${r.error ?? ''} after ${r.ms} ms, ${r.sent} bytes sent)`);
    assert.match(r.raw, /"code":"precondition_failed"/);
    assert.equal(r.how, 'answered', `round ${round}: ended with a FIN, not ${r.error}`);
    assert.ok(r.sent < 128 << 20, `round ${round}: not the whole body read away (${r.sent} bytes sent)`);
  }
  // refused from its headers (a KV value over max_kv_body): answered at once
  assert.equal((await http(stack.base, 'PUT', '/v1/kvm/buckets/eakv', { body: { history: 1 } })).status, 201);
  for (const size of [20 << 20, 256 << 20]) {
    const r = await bigUpload(size, '/v1/kv/eakv/k', '');
    assert.match(r.raw, /^HTTP\/1\.1 413 /, `KV value of ${size} bytes: answered (${r.how} ${r.error ?? ''}, ${r.sent} bytes sent)`);
    assert.match(r.raw, /"code":"payload_too_large"/);
    assert.equal(r.how, 'answered', `KV value of ${size} bytes: ended with a FIN, not ${r.error}`);
  }
  assert.equal((await http(stack.base, 'GET', '/healthz')).status, 200);
});
