// Connection-level limits: the whole-request deadline (slow clients) and
// the connection cap leave the daemon serving everyone else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { http, sleep, startStack } from '../lib/harness.mjs';

let stack;
let port;

before(async () => {
  stack = await startStack({ jetgate: { args: ['--request-deadline', '2s', '--idle-timeout', '3s', '--max-connections', '20'] } });
  port = stack.jg.port;
});

after(async () => {
  if (stack) await stack.stop();
});

// Opens a connection and sends `data` one byte every `everyMs`; resolves
// with the seconds until the server closed it (or null if it never did).
function trickle(data, everyMs, maxMs) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect({ host: '127.0.0.1', port });
    let i = 0;
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setInterval(() => {
      if (Date.now() - t0 > maxMs) return finish(null);
      if (i < data.length) s.write(data.subarray(i, i + 1), () => {});
      i++;
    }, everyMs);
    s.on('close', () => finish((Date.now() - t0) / 1000));
    s.on('error', () => finish((Date.now() - t0) / 1000));
  });
}

test('a client sending its headers one byte at a time is cut off at the request deadline', async () => {
  const req = Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`);
  const slow = trickle(req, 100, 10000);
  // others are served while the slow client dribbles
  for (let i = 0; i < 5; i++) {
    const r = await http(stack.base, 'GET', '/healthz', { timeoutMs: 2000 });
    assert.equal(r.status, 200);
    await sleep(200);
  }
  const closedAfter = await slow;
  assert.ok(closedAfter !== null, 'the slow connection was never closed');
  assert.ok(closedAfter >= 1.5 && closedAfter < 5, `closed after ${closedAfter}s, deadline is 2s`);
  const m = await http(stack.base, 'GET', '/metrics');
  assert.match(m.text, /^jetgate_http_deadline_closed_total [1-9]/m);
});

test('a slow request body is cut off too, and garbage that never forms a request line (idle timeout)', async () => {
  const body = Buffer.from(`PUT /v1/kv/b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n${'x'.repeat(100)}`);
  const closedAfter = await trickle(body, 50, 10000);
  assert.ok(closedAfter !== null && closedAfter < 5, `slow body: closed after ${closedAfter}s`);
  const garbage = await trickle(Buffer.from('\x00\x01\x02\x03\r\n\r\n', 'latin1'), 1, 10000);
  assert.ok(garbage !== null && garbage < 5, `garbage: closed after ${garbage}s`);
  assert.equal((await http(stack.base, 'GET', '/healthz')).status, 200);
});

test('over max_connections new connections are refused while the others keep working', async () => {
  const held = [];
  for (let i = 0; i < 25; i++) {
    held.push(await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.on('error', () => resolve(s));
    }));
  }
  await sleep(300);
  const closed = held.filter((s) => s.destroyed || s.readyState !== 'open').length;
  // the 21st and later connections are closed by the server at once
  await sleep(300);
  const open = held.filter((s) => !s.destroyed && s.readyState === 'open');
  for (const s of held) s.destroy();
  await sleep(300);
  assert.ok(open.length <= 20, `${open.length} connections stayed open with max_connections 20 (closed early: ${closed})`);
  assert.equal((await http(stack.base, 'GET', '/healthz')).status, 200, 'served again once they left');
});
