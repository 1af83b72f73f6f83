// Message framing two readers could take apart differently (RFC 9112
// section 6.3) is refused before any body is read, with Connection: close,
// so that nothing after the headers is ever taken for a second request; and
// a NUL byte in a header is never cut short into a shorter value.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { JETGATE_BIN, http, makeTempDir, removeTempDir, startStack, uniqueName } from '../lib/harness.mjs';

const TOKEN = 'frm-2d7c41a9e0';
let dir;
let stack;
let bucket;
const auth = { Authorization: `Bearer ${TOKEN}` };

before(async () => {
  dir = makeTempDir('jetgate-framing-');
  const tokens = path.join(dir, 'tokens');
  const hash = execFileSync(JETGATE_BIN, ['--hash-token'], { input: `${TOKEN}\n` }).toString().trim();
  fs.writeFileSync(tokens, `ops ${hash} all@*\n`);
  stack = await startStack({ args: ['--tokens-file', tokens] });
  bucket = uniqueName('frm');
  assert.equal((await http(stack.base, 'PUT', `/v1/kvm/buckets/${bucket}`, { body: { history: 2 }, headers: auth })).status, 201);
});

after(async () => {
  if (stack) await stack.stop();
  if (dir) removeTempDir(dir);
});

// One kept-alive connection: a plain request first (so the connection is
// known to be reused), then `data`; everything answered until the server
// closes (or timeoutMs).
function onKeptAlive(data, { timeoutMs = 4000 } = {}) {
  const u = new URL(stack.base);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port) });
    let raw = '';
    let sent = false;
    const t0 = Date.now();
    const timer = setTimeout(() => { s.destroy(); resolve({ raw, closed: false, ms: Date.now() - t0 }); }, timeoutMs);
    s.on('connect', () => s.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`));
    s.on('data', (d) => {
      raw += d.toString('latin1');
      if (!sent && /\r\n\r\nok|"status"/.test(raw) && raw.includes('\r\n\r\n')) {
        sent = true;
        s.write(data);
      }
    });
    s.on('close', () => { clearTimeout(timer); resolve({ raw, closed: true, ms: Date.now() - t0 }); });
    s.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
  });
}

function answers(raw) {
  return [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
}

function lastAnswer(raw) {
  const i = raw.lastIndexOf('HTTP/1.1 ');
  const text = raw.slice(i);
  const sep = text.indexOf('\r\n\r\n');
  const head = text.slice(0, sep);
  return { head, body: text.slice(sep + 4) };
}

const smuggled = (key) => `PUT /v1/kv/${bucket}/${key} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 8\r\n\r\nsmuggled`;

async function assertNotStored(key) {
  const r = await http(stack.base, 'GET', `/v1/kv/${bucket}/${key}`, { headers: auth });
  assert.equal(r.status, 404, `the smuggled request was not executed (${key}: ${r.status} ${r.text})`);
}

async function assertRefused(name, request, key) {
  const r = await onKeptAlive(request);
  assert.deepEqual(answers(r.raw), [200, 400], `${name}: the first request and one 400, nothing for the rest:\n${r.raw}`);
  const { head, body } = lastAnswer(r.raw);
  assert.match(head, /^connection: close$/im, `${name}: Connection: close`);
  assert.match(head, /^content-type: application\/problem\+json/im);
  assert.equal(JSON.parse(body).code, 'bad_request');
  assert.ok(r.closed, `${name}: the connection is closed`);
  if (key) await assertNotStored(key);
}

test('two different Content-Length headers: 400 bad_request, connection closed, the rest never parsed', async () => {
  const key = uniqueName('cl');
  // the first length (3) would leave the tail parsed as a second request
  await assertRefused('CL 3 + CL 40', `PUT /v1/kv/${bucket}/first HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n`
    + `Content-Length: 3\r\nContent-Length: 40\r\n\r\nabc${smuggled(key)}`, key);
  // also without a token, and on a route without a body
  await assertRefused('no token', `GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n${smuggled(key)}`, key);
});

test('Content-Length with Transfer-Encoding: 400 bad_request, connection closed, the rest never parsed', async () => {
  const key = uniqueName('te');
  await assertRefused('CL + TE chunked', `PUT /v1/kv/${bucket}/first HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n`
    + `Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled(key)}`, key);
  await assertRefused('TE chunked + CL', `PUT /v1/kv/${bucket}/first HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n`
    + `Transfer-Encoding: chunked\r\nContent-Length: ${smuggled(key).length + 5}\r\n\r\n0\r\n\r\n${smuggled(key)}`, key);
});

test('the refusal comes before the body: a client that waits for it is answered at once', async () => {
  const r = await onKeptAlive(`PUT /v1/kv/${bucket}/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n`
    + 'Content-Length: 1000000\r\nContent-Length: 2000000\r\n\r\n', { timeoutMs: 3000 });
  assert.deepEqual(answers(r.raw), [200, 400], r.raw);
  assert.ok(r.closed, 'closed without waiting for a body');
});

test('the same Content-Length twice is one length (kept-alive, both requests answered)', async () => {
  const key = uniqueName('same');
  const r = await onKeptAlive(`PUT /v1/kv/${bucket}/${key} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n`
    + 'Content-Length: 3\r\nContent-Length: 3\r\n\r\nabcGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 1500 });
  assert.deepEqual(answers(r.raw), [200, 201, 200], r.raw);
});

test('a NUL byte in Authorization is 401; in another header 400', async () => {
  const u = new URL(stack.base);
  const send = (headers) => new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port) });
    let raw = '';
    s.on('connect', () => s.write(Buffer.from(`GET /v1/kv/${bucket}/k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}\r\n`, 'latin1')));
    s.on('data', (d) => { raw += d.toString('latin1'); });
    s.on('close', () => resolve(raw));
    s.on('error', () => {});
    s.setTimeout(4000, () => s.destroy());
  });
  // the token itself, then a NUL and more: never taken for the token
  const withNul = await send(`Authorization: Bearer ${TOKEN}\0junk\r\n`);
  assert.deepEqual(answers(withNul), [401], withNul);
  assert.match(withNul, /www-authenticate: Bearer/i);
  assert.equal(JSON.parse(lastAnswer(withNul).body).code, 'unauthorized');
  const other = await send(`Authorization: Bearer ${TOKEN}\r\nIf-None-Match: "x\0y"\r\n`);
  assert.deepEqual(answers(other), [400], other);
  assert.equal(JSON.parse(lastAnswer(other).body).code, 'bad_request');
  // last header line, NULs then more
  for (const tail of ['\0\0junk', '\0\0\0x', '\0 y']) {
    const got = await send(`Accept: */*\r\nAuthorization: Bearer ${TOKEN}${tail}\r\n`);
    assert.deepEqual(answers(got), [401], `${JSON.stringify(tail)} at the end of the last line\n${got}`);
  }
  // random rounds: the Authorization line anywhere among other headers,
  // one or two NULs and junk after the token, CRLF or bare LF line ends
  const rnd = (n) => Math.floor(Math.random() * n);
  for (let round = 0; round < 60; round++) {
    const others = ['Accept: */*', 'X-A: 1', 'User-Agent: t/1', 'X-Request-Id: r' + round].slice(0, 1 + rnd(4));
    const at = rnd(others.length + 1);
    const nuls = '\0'.repeat(1 + rnd(3));
    // (white space alone after a NUL is let through: it changes nothing)
    const junk = ['junk', 'x', ' z', '\t1', 'Bearer z'][rnd(5)];
    const lines = [...others];
    lines.splice(at, 0, `Authorization: Bearer ${TOKEN}${nuls}${junk}`);
    const eol = rnd(2) ? '\r\n' : '\n';
    const got = await send(lines.map((l) => l + eol).join(''));
    assert.deepEqual(answers(got), [401], `round ${round}: ${JSON.stringify(lines)} ${JSON.stringify(eol)}\n${got}`);
  }
  // the clean token still works
  const ok = await send(`Authorization: Bearer ${TOKEN}\r\n`);
  assert.deepEqual(answers(ok), [404], ok);
});
