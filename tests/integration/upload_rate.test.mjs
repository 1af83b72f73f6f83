// Object uploads are held to min_upload_rate averaged over
// upload_rate_window: a body that trickles in is cut off (and counted in
// /metrics), a slow but steady one is not.  The time jetgate itself holds
// an upload back (waiting for NATS) does not count against it.
//
// JETGATE_UPLOAD_RATE_LONG=1 (make check-upload-rate-long) also sends
// 256 MiB at 1 MiB/s with the default limits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';

import { http, sleep, startJetgate, startNats, uniqueName } from '../lib/harness.mjs';

const LONG = process.env.JETGATE_UPLOAD_RATE_LONG === '1';
let nats;

before(async () => {
  nats = await startNats();
});

after(async () => {
  if (nats) await nats.destroy();
});

async function metric(base, name) {
  const r = await http(base, 'GET', '/metrics');
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(r.text);
  assert.ok(m, `${name} in /metrics`);
  return Number(m[1]);
}

async function withJetgate(args, fn) {
  const jg = await startJetgate({ natsUrl: nats.url, args });
  try {
    const bucket = uniqueName('ur');
    assert.equal((await http(jg.base, 'POST', `/v1/objm/buckets/${bucket}`, { body: {} })).status, 201);
    await fn(jg, bucket);
  } finally {
    await jg.stop();
  }
}

// PUT of `size` bytes sent as `piece`-byte writes at `rate` bytes a second
// (respecting back-pressure).  Resolves with the answer's status (0 when
// the connection was cut), when it ended, and the sha-256 of what was sent.
function pacedUpload(base, path, { size, rate, piece, maxMs }) {
  const u = new URL(base);
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port) });
    const sha = crypto.createHash('sha256');
    let raw = '';
    let sent = 0;
    const t0 = Date.now();
    let finished = false;
    const finish = (how) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      s.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(raw);
      resolve({ status: m ? Number(m[1]) : 0, how, sent, ms: Date.now() - t0, raw, sha: sha.digest('base64url') });
    };
    const timer = setTimeout(() => finish('timeout'), maxMs);
    s.on('data', (d) => {
      raw += d.toString('latin1');
      if (/\r\n\r\n\{.*\}/s.test(raw)) finish('answered');
    });
    s.on('end', () => finish('fin'));
    s.on('close', () => finish('closed'));
    s.on('error', () => finish('error'));
    s.on('connect', async () => {
      s.write(`PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n`);
      const block = crypto.randomBytes(piece);
      while (sent < size && !finished) {
        const n = Math.min(piece, size - sent);
        const chunk = block.subarray(0, n);
        sha.update(chunk);
        sent += n;
        if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
        // on schedule: sent / rate seconds after the start
        const ahead = (sent / rate) * 1000 - (Date.now() - t0);
        if (ahead > 0) await sleep(ahead);
      }
    });
  });
}

test('a body trickling in at 1 byte/s is cut within upload_rate_window, and counted', async () => {
  await withJetgate(['--min-upload-rate', '4KiB', '--upload-rate-window', '2s'], async (jg, bucket) => {
    const before = await metric(jg.base, 'jetgate_http_upload_rate_closed_total');
    const r = await pacedUpload(jg.base, `/v1/obj/${bucket}/slow`, { size: 100000, rate: 1, piece: 1, maxMs: 8000 });
    assert.equal(r.status, 0, `cut without an answer (${r.how} after ${r.ms} ms): ${r.raw}`);
    assert.notEqual(r.how, 'timeout', `cut within the window (2s) and the reaper's second, not left open (${r.ms} ms)`);
    assert.ok(r.ms >= 1900 && r.ms < 4500, `cut after the window, at ${r.ms} ms`);
    assert.equal(await metric(jg.base, 'jetgate_http_upload_rate_closed_total'), before + 1);
    // other requests and uploads are not touched
    assert.equal((await http(jg.base, 'PUT', `/v1/obj/${bucket}/fast`, { body: Buffer.alloc(200000, 3) })).status, 201);
    assert.equal((await http(jg.base, 'GET', `/v1/obj/${bucket}/slow`)).status, 404, 'nothing of the cut upload is stored');
  });
});

test('many trickling uploads are all cut; /healthz stays served', async () => {
  await withJetgate(['--min-upload-rate', '4KiB', '--upload-rate-window', '1s', '--max-connections', '40'], async (jg, bucket) => {
    const ups = [];
    for (let i = 0; i < 30; i++) {
      ups.push(pacedUpload(jg.base, `/v1/obj/${bucket}/t${i}`, { size: 1 << 20, rate: 100 + i * 50, piece: 10, maxMs: 8000 }));
    }
    const rs = await Promise.all(ups);
    for (const r of rs) assert.equal(r.status, 0, `cut (${r.how} after ${r.ms} ms)`);
    assert.equal(await metric(jg.base, 'jetgate_http_upload_rate_closed_total'), 30);
    assert.equal((await http(jg.base, 'GET', '/healthz')).status, 200);
  });
});

async function steady(args, { size, rate, piece }) {
  await withJetgate(args, async (jg, bucket) => {
    const r = await pacedUpload(jg.base, `/v1/obj/${bucket}/steady`, { size, rate, piece, maxMs: (size / rate) * 1000 * 2 + 30000 });
    assert.equal(r.status, 201, `${r.how} after ${r.ms} ms, ${r.sent} bytes sent: ${r.raw}`);
    const info = JSON.parse(r.raw.slice(r.raw.indexOf('\r\n\r\n') + 4));
    assert.equal(info.size, size);
    assert.equal(info.digest, `SHA-256=${r.sha}=`);
    assert.equal(await metric(jg.base, 'jetgate_http_upload_rate_closed_total'), 0);
  });
}

test('a steady upload above min_upload_rate is not cut (scaled down: 3 MiB at 1 MiB/s, limit 256 KiB/s over 1s)', async () => {
  await steady(['--min-upload-rate', '256KiB', '--upload-rate-window', '1s'], { size: 3 << 20, rate: 1 << 20, piece: 64 << 10 });
});

test('time jetgate holds an upload back for NATS does not count (NATS stopped for 3 s, window 1 s)', async () => {
  await withJetgate(['--min-upload-rate', '256KiB', '--upload-rate-window', '1s', '--request-timeout', '20s'], async (jg, bucket) => {
    const size = 6 << 20;
    const up = pacedUpload(jg.base, `/v1/obj/${bucket}/held`, { size, rate: 1 << 20, piece: 64 << 10, maxMs: 30000 });
    await sleep(1500);
    nats.proc.kill('SIGSTOP');
    try {
      await sleep(3000);
    } finally {
      nats.proc.kill('SIGCONT');
    }
    const r = await up;
    assert.equal(r.status, 201, `${r.how} after ${r.ms} ms, ${r.sent} bytes sent: ${r.raw}`);
    assert.equal(JSON.parse(r.raw.slice(r.raw.indexOf('\r\n\r\n') + 4)).size, size);
    assert.equal(await metric(jg.base, 'jetgate_http_upload_rate_closed_total'), 0);
  });
});

test('256 MiB at 1 MiB/s with the default limits', { skip: !LONG && 'long form: make check-upload-rate-long' }, async () => {
  await steady([], { size: 256 << 20, rate: 1 << 20, piece: 64 << 10 });
});
