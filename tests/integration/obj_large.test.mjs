// A large object through jetgate with bounded memory: upload and download
// stream (no whole-object buffering on either side), and jetgate's peak
// resident memory (VmHWM) grows by less than 32 MiB.  The size is
// JETGATE_OBJ_LARGE_MB (default 64; `make check-obj-large` runs 1024).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import { http, startStack, uniqueName } from '../lib/harness.mjs';

const MB = Number(process.env.JETGATE_OBJ_LARGE_MB || 64);
const SIZE = MB * 1024 * 1024;
let stack;

// Under AddressSanitizer freed memory sits in a quarantine (256 MiB by
// default), which would count as resident: keep it small for this test.
process.env.ASAN_OPTIONS = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=4'].filter(Boolean).join(':');

before(async () => { stack = await startStack(); });
after(async () => { if (stack) await stack.stop(); });

function vmHWM(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

const block = crypto.randomBytes(1024 * 1024);

test(`a ${MB} MiB object streams up and down with bounded memory`, { timeout: 1800000 }, async () => {
  const b = uniqueName('olg');
  assert.equal((await http(stack.base, 'POST', `/v1/objm/buckets/${b}`, { body: {} })).status, 201);
  const pid = stack.jg.proc.pid;
  const hwm0 = vmHWM(pid);
  const u = new URL(`${stack.base}/v1/obj/${b}/big`);
  const want = crypto.createHash('sha256');
  const t0 = Date.now();
  const up = await new Promise((resolve, reject) => {
    const rq = nodeHttp.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'PUT',
      headers: { 'Content-Length': SIZE } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    rq.on('error', reject);
    (async () => {
      for (let i = 0; i < MB; i++) {
        const piece = Buffer.from(block);
        piece.writeUInt32LE(i, 0);
        want.update(piece);
        if (!rq.write(piece)) await new Promise((r) => rq.once('drain', r));
      }
      rq.end();
    })();
  });
  const upMs = Date.now() - t0;
  assert.equal(up.status, 201, up.text);
  const info = JSON.parse(up.text);
  const digest = want.digest();
  assert.equal(info.size, SIZE);
  assert.equal(info.digest, `SHA-256=${digest.toString('base64url')}=`);

  const t1 = Date.now();
  const down = await new Promise((resolve, reject) => {
    nodeHttp.get(u, (res) => {
      const h = crypto.createHash('sha256');
      let n = 0;
      res.on('data', (d) => { h.update(d); n += d.length; });
      res.on('end', () => resolve({ status: res.statusCode, n, sha: h.digest() }));
      res.on('error', reject);
    }).on('error', reject);
  });
  const downMs = Date.now() - t1;
  assert.equal(down.status, 200);
  assert.equal(down.n, SIZE);
  assert.ok(down.sha.equals(digest), 'downloaded bytes hash to the digest');
  const grown = vmHWM(pid) - hwm0;
  process.stderr.write(`obj_large: ${MB} MiB up ${(MB / (upMs / 1000)).toFixed(1)} MiB/s, `
    + `down ${(MB / (downMs / 1000)).toFixed(1)} MiB/s, VmHWM +${(grown / 1048576).toFixed(1)} MiB\n`);
  assert.ok(grown < 32 * 1024 * 1024, `jetgate's peak RSS grew by ${grown} bytes`);
});
