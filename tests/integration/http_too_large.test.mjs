// A request line or header block over max_header_size is answered by
// jetgate itself: 414 uri_too_long or 431 headers_too_large as
// application/problem+json, with Connection: close.  Only requests larger
// than libmicrohttpd's memory per connection (1.5 times max_header_size and
// 8 KiB) still get libmicrohttpd's own answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { http, rawRequest, startStack } from '../lib/harness.mjs';

const MAX = 16 * 1024; // the default max_header_size
let stack;

before(async () => {
  stack = await startStack();
});

after(async () => {
  if (stack) await stack.stop();
});

function request({ path = '/healthz', headers = [], method = 'GET', body = '' }) {
  const head = `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers.map((h) => `${h}\r\n`).join('')}`
    + (body ? `Content-Length: ${body.length}\r\n` : '') + '\r\n';
  return { text: head + body, lineLen: `${method} ${path} HTTP/1.1\r\n`.length, headLen: head.length };
}

function assertProblemAnswer(r, status, code, what) {
  assert.equal(r.status, status, `${what}: ${r.raw.slice(0, 300)}`);
  assert.match(r.headers['content-type'] || '', /^application\/problem\+json/, what);
  assert.equal(JSON.parse(r.body).code, code, what);
  assert.equal((r.headers.connection || '').toLowerCase(), 'close', what);
}

test('20 KiB header: 431 headers_too_large; 20 KiB URL or query: 414 uri_too_long (problem bodies)', async () => {
  const big = request({ headers: [`X-Big: ${'y'.repeat(20 * 1024)}`] });
  assertProblemAnswer(await rawRequest(stack.base, big.text), 431, 'headers_too_large', '20 KiB header');
  const many = request({ headers: Array.from({ length: 150 }, (_, i) => `X-Filler-${i}: ${'y'.repeat(110)}`) });
  assertProblemAnswer(await rawRequest(stack.base, many.text), 431, 'headers_too_large', '150 headers');
  const url = request({ path: `/v1/kv/b/${'k'.repeat(20 * 1024)}` });
  assertProblemAnswer(await rawRequest(stack.base, url.text), 414, 'uri_too_long', '20 KiB URL');
  const query = request({ path: `/healthz?${'q'.repeat(20 * 1024)}` });
  assertProblemAnswer(await rawRequest(stack.base, query.text), 414, 'uri_too_long', '20 KiB query');
  // with a body: answered before it, connection closed
  const put = request({ method: 'PUT', path: '/v1/kv/b/k', headers: [`X-Big: ${'y'.repeat(20 * 1024)}`], body: 'v'.repeat(5000) });
  assertProblemAnswer(await rawRequest(stack.base, put.text), 431, 'headers_too_large', '20 KiB header with a body');
  assert.equal((await http(stack.base, 'GET', '/healthz')).status, 200);
});

test('random request lines and headers around max_header_size: 414, 431 or served, as their sizes say', async () => {
  const rnd = (n) => Math.floor(Math.random() * n);
  for (let round = 0; round < 60; round++) {
    const pathLen = rnd(3) === 0 ? MAX - 200 + rnd(2000) : 10 + rnd(2000);
    const path = `/healthz?${'p'.repeat(pathLen)}`;
    const headers = [];
    const target = MAX - 3000 + rnd(7000);
    let size = 0;
    while (size < target - pathLen) {
      const v = 'v'.repeat(1 + rnd(3000));
      headers.push(`X-H${headers.length}: ${v}`);
      size += v.length + 10;
    }
    const r0 = request({ path, headers });
    const r = await rawRequest(stack.base, r0.text);
    const what = `round ${round}: line ${r0.lineLen}, head ${r0.headLen}`;
    if (r0.lineLen > MAX) {
      assertProblemAnswer(r, 414, 'uri_too_long', what);
    } else if (r0.headLen > MAX) {
      assertProblemAnswer(r, 431, 'headers_too_large', what);
    } else {
      assert.equal(r.status, 200, `${what}: ${r.raw.slice(0, 200)}`);
    }
  }
});

test('beyond libmicrohttpd\'s memory per connection it still answers itself (431), and jetgate serves on', async () => {
  const huge = request({ headers: [`X-Big: ${'y'.repeat(200 * 1024)}`] });
  const r = await rawRequest(stack.base, huge.text);
  assert.ok(r.status === 431 || r.status === 0, `200 KiB header: ${r.status}`);
  assert.equal((await http(stack.base, 'GET', '/healthz')).status, 200);
});
