// Object uploads abandoned mid-body (the client goes away) leave nothing
// counted as active: jetgate_http_requests_active returns to its idle value
// and a shutdown after them does not wait for shutdown_timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { http, sleep, startStack, uniqueName, waitFor } from '../lib/harness.mjs';

async function active(base) {
  const r = await http(base, 'GET', '/metrics');
  const m = /^jetgate_http_requests_active (\d+)$/m.exec(r.text);
  assert.ok(m, r.text.slice(0, 200));
  return Number(m[1]); // this request included
}

// Sends the headers and part of a declared body, then drops the connection.
function abandon(base, path, { declared, sent, reset, wait = 20 + Math.floor(Math.random() * 60) }) {
  const u = new URL(base);
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port) });
    s.on('error', () => {});
    s.on('connect', () => {
      s.write(`PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`);
      s.write(Buffer.alloc(sent, 7), () => setTimeout(() => {
        if (reset) s.resetAndDestroy(); else s.destroy();
        resolve();
      }, wait));
    });
  });
}

// Abandons `rounds` uploads, `batch` at a time (sizeOf(i) bytes sent, cut
// after waitOf(i) ms), then checks that nothing stays active and that a
// shutdown is prompt.
async function abandonAndCheck({ rounds: n, batch, sizeOf, waitOf }) {
  const stack = await startStack({ args: ['--shutdown-timeout', '20s'] });
  let stopped = false;
  try {
    const bucket = uniqueName('ab');
    assert.equal((await http(stack.base, 'POST', `/v1/objm/buckets/${bucket}`, { body: {} })).status, 201);
    const idle = await active(stack.base);
    assert.equal(idle, 1, 'only /metrics itself');
    const rounds = [];
    for (let i = 0; i < n; i++) {
      rounds.push(abandon(stack.base, `/v1/obj/${bucket}/o${i % 7}`,
        { declared: 8 << 20, sent: sizeOf(i), reset: i % 2 === 0, wait: waitOf(i) }));
      if (i % batch === batch - 1) await Promise.all(rounds.splice(0));
    }
    await Promise.all(rounds);
    let last;
    try {
      await waitFor(async () => (last = await active(stack.base)) === idle, 10000, 100, 'active requests back to idle');
    } catch (e) {
      assert.fail(`jetgate_http_requests_active stays at ${last} after the aborted uploads (idle ${idle})`);
    }
    // the daemon still serves uploads
    assert.equal((await http(stack.base, 'PUT', `/v1/obj/${bucket}/after`, { body: Buffer.alloc(300000, 1) })).status, 201);
    const t0 = Date.now();
    const code = await stack.jg.stop();
    stopped = true;
    const ms = Date.now() - t0;
    assert.equal(code, 0);
    assert.ok(ms < 3000, `SIGTERM took ${ms} ms (shutdown_timeout 20s)`);
  } finally {
    if (!stopped) await stack.jg.stop();
    await stack.nats.destroy();
  }
}

test('aborted object uploads: active requests back to idle, prompt shutdown', async () => {
  // a few bytes, past one chunk, or many chunks: paused or not when cut
  await abandonAndCheck({
    rounds: 40, batch: 8,
    sizeOf: (i) => [10, 200 * 1024, 1024 * 1024 + 5][i % 3] + Math.floor(Math.random() * 4096),
    waitOf: () => 20 + Math.floor(Math.random() * 60),
  });
});

// The client's FIN or reset often comes in the same socket event as the
// last bytes it sent (a cut right after the write): that connection must be
// closed too, not left waiting for an event that never comes.
test('aborted object uploads, cut at once or later, many at a time: none stays active', async () => {
  await abandonAndCheck({
    rounds: 160, batch: 16,
    sizeOf: (i) => [10, 128 * 1024, 200 * 1024, 1024 * 1024 + 5, 2 << 20][i % 5] + Math.floor(Math.random() * 4096),
    waitOf: () => Math.floor(Math.random() * 80),
  });
});
