// Bad input: every malformed request gets a 4xx application/problem+json with
// the exact problem code of the API contract (section 8), is refused before
// anything is written, and the daemon stays up.
//
// Requests that fetch would normalise or refuse (dot segments, bad
// percent-encoding, encoded slashes, huge headers) go over raw TCP sockets.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import nodeHttp from 'node:http';
import {
  startStack, createKvBucket, uniqueName, http, assertProblem,
} from '../lib/harness.mjs';

const MAX_KV_BODY = 1024;
const MAX_JSON_BODY = 4096;
const TIMEOUT_MS = 5000;

let stack;
let base;
let port;
let B; // a bucket that exists

before(async () => {
  stack = await startStack({
    args: ['--max-kv-body', String(MAX_KV_BODY), '--max-json-body', String(MAX_JSON_BODY)],
  });
  base = stack.base;
  port = stack.jg.port;
  B = uniqueName('bad');
  await createKvBucket(base, B, { history: 5 });
});

after(async () => {
  if (stack) await stack.stop();
});

function req(method, path, opts = {}) {
  return http(base, method, path, { timeoutMs: TIMEOUT_MS, ...opts });
}

/** The daemon still serves, and its process is still running. */
async function assertAlive(after) {
  const r = await req('GET', '/healthz');
  assert.equal(r.status, 200, `/healthz after ${after}`);
  assert.equal(stack.jg.running(), true, `jetgate exited after ${after}:\n${stack.jg.log().slice(-3000)}`);
}

// ---------------------------------------------------------------------------
// Raw HTTP/1.1 over a socket.

function dechunk(buf) {
  const out = [];
  let i = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) return null;
    const size = parseInt(buf.subarray(i, eol).toString('latin1'), 16);
    if (Number.isNaN(size)) return null;
    if (size === 0) return Buffer.concat(out);
    if (buf.length < eol + 2 + size + 2) return null;
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
}

/** Parses one response from buf; returns null while it is incomplete (unless closed). */
function parseResponse(buf, { head = false, closed = false } = {}) {
  const sep = buf.indexOf('\r\n\r\n');
  if (sep < 0) return null;
  const headText = buf.subarray(0, sep).toString('latin1');
  const lines = headText.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) return null;
  const status = Number(m[1]);
  const h = new Headers();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) h.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const rest = buf.subarray(sep + 4);
  let body;
  if (head || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    body = Buffer.alloc(0);
  } else if (/chunked/i.test(h.get('transfer-encoding') || '')) {
    body = dechunk(rest);
    if (body === null) return null;
  } else if (h.get('content-length') !== null) {
    const n = Number(h.get('content-length'));
    if (rest.length < n) return closed ? { status, headers: h, bytes: rest, truncated: true } : null;
    body = rest.subarray(0, n);
  } else {
    if (!closed) return null;
    body = rest;
  }
  const text = body.toString('utf8');
  let json;
  if (/[/+]json\b/i.test(h.get('content-type') || '') && text.length > 0) {
    try { json = JSON.parse(text); } catch { json = undefined; }
  }
  return { status, headers: h, bytes: body, text, json };
}

/**
 * Sends a raw request and resolves the parsed response as soon as it is
 * complete. A response that does not come within TIMEOUT_MS rejects (a hang).
 * When the server closes or resets the connection without any status line,
 * resolves {status: 0}.
 */
function rawSend(data, { head = false, timeoutMs = TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let done = false;
    const s = net.connect({ host: '127.0.0.1', port });
    const finish = (closed, err) => {
      if (done) return;
      const r = parseResponse(buf, { head, closed });
      if (!r && !closed) return;
      done = true;
      s.destroy();
      resolve(r ?? { status: 0, headers: new Headers(), bytes: buf, text: buf.toString('latin1'), error: err });
    };
    s.setTimeout(timeoutMs, () => {
      if (done) return;
      done = true;
      s.destroy();
      reject(new Error(`no complete response within ${timeoutMs} ms; got ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`));
    });
    s.on('data', (d) => { buf = Buffer.concat([buf, d]); finish(false); });
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', (e) => finish(true, e));
    s.on('connect', () => s.write(data));
  });
}

/** A raw request with the target sent exactly as given. */
function raw(method, target, { body, headers = {} } = {}) {
  let head = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  const b = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  if (body !== undefined || ['PUT', 'POST', 'PATCH'].includes(method)) head += `Content-Length: ${b.length}\r\n`;
  return rawSend(Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), b]), { head: method === 'HEAD' });
}

/** Sends body with Transfer-Encoding: chunked from a stream, through node:http. */
function chunkedPut(path, chunks, { method = 'PUT', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const r = nodeHttp.request({
      host: '127.0.0.1',
      port,
      method,
      path,
      headers: { 'Transfer-Encoding': 'chunked', Connection: 'close', ...headers },
      timeout: TIMEOUT_MS,
    }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => {
        const bytes = Buffer.concat(parts);
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        const text = bytes.toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: h, bytes, text, json });
      });
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error(`chunked ${method} ${path}: no answer within ${TIMEOUT_MS} ms`)));
    // the server may answer and close before the whole body is sent; a close
    // with no answer at all is reported as status 0
    r.on('error', (e) => {
      if (r.res) return;
      const text = `connection closed without a response (${e.code || ''} ${e.message})`;
      if (/no answer within/.test(e.message)) reject(e);
      else resolve({ status: 0, headers: new Headers(), bytes: Buffer.alloc(0), text, json: undefined });
    });
    (async () => {
      for (const c of chunks) {
        if (r.destroyed || r.res) break;
        r.write(c);
        await new Promise((res) => setTimeout(res, 20));
      }
      if (!r.destroyed) r.end();
    })();
  });
}

async function keyAbsent(bucket, key, what) {
  const r = await req('GET', `/v1/kv/${bucket}/${key}`);
  assertProblem(r, 404, 'key_not_found', what);
}

/**
 * Runs many independent checks and fails once at the end with every
 * mismatch, so that one wrong answer does not hide the others.
 */
function checker() {
  const failures = [];
  const check = async (what, fn) => {
    try {
      await fn();
    } catch (e) {
      failures.push(`${what}: ${String(e.message).replace(/\s*\n\s*/g, ' ').slice(0, 600)}`);
    }
  };
  check.done = () => assert.deepEqual(failures, [], `${failures.length} mismatches:\n${failures.join('\n')}`);
  return check;
}

// ---------------------------------------------------------------------------

test('control: valid names and keys work, so the 400s below are about the input', async () => {
  const w = await raw('PUT', `/v1/kv/${B}/a/b=c-d_e.f`, { body: 'ok' });
  assert.equal(w.status, 201, w.text);
  const r = await raw('GET', `/v1/kv/${B}/a/b%3Dc-d_e.f`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.text, 'ok');
  const nb = await raw('GET', `/v1/kv/${uniqueName('nobucket')}/k`);
  assertProblem(nb, 404, 'bucket_not_found', 'valid name of a bucket that does not exist');
  await assertAlive('control requests');
});

test('invalid bucket names -> 400 invalid_bucket', async () => {
  const check = checker();
  const buckets = ['bad.name', 'a%20b', 'a%2Fb', '%2F', 'a%2fb', 'a*b', 'a%3Eb', '%C3%A9', 'a%2Eb', 'a%00b'];
  for (const b of buckets) {
    for (const method of ['GET', 'PUT', 'DELETE', 'POST', 'HEAD']) {
      await check(`${method} /v1/kv/${b}/k`, async () => {
        const r = await raw(method, `/v1/kv/${b}/k`, method === 'PUT' || method === 'POST' ? { body: 'x' } : {});
        if (method === 'HEAD') assert.equal(r.status, 400);
        else assertProblem(r, 400, 'invalid_bucket');
      });
    }
    for (const [method, path, body] of [
      ['GET', `/v1/kvm/buckets/${b}`],
      ['PUT', `/v1/kvm/buckets/${b}`, '{"history":1}'],
      ['POST', `/v1/kvm/buckets/${b}`, '{"history":1}'],
      ['DELETE', `/v1/kvm/buckets/${b}`],
      ['GET', `/v1/kvm/buckets/${b}/keys`],
      ['GET', `/v1/kvm/buckets/${b}/keys/k`],
      ['PUT', `/v1/kvm/buckets/${b}/keys/k`, 'x'],
    ]) {
      await check(`${method} ${path}`, async () => {
        const r = await raw(method, path, body === undefined ? {} : { body, headers: { 'Content-Type': 'application/json' } });
        assertProblem(r, 400, 'invalid_bucket');
      });
    }
  }
  // an empty bucket segment
  for (const method of ['GET', 'PUT', 'DELETE']) {
    await check(`${method} /v1/kv//k`, async () => {
      assertProblem(await raw(method, '/v1/kv//k', method === 'PUT' ? { body: 'x' } : {}), 400, 'invalid_bucket');
    });
  }
  await check('GET /v1/kvm/buckets//keys', async () => {
    assertProblem(await raw('GET', '/v1/kvm/buckets//keys'), 400, 'invalid_bucket');
  });
  // through fetch as well (what most clients send)
  await check('fetch PUT /v1/kv/bad.name/k', async () => {
    assertProblem(await req('PUT', '/v1/kv/bad.name/k', { body: 'x' }), 400, 'invalid_bucket');
  });
  await check('fetch GET /v1/kv/a%20b/k', async () => {
    assertProblem(await req('GET', `/v1/kv/${encodeURIComponent('a b')}/k`), 400, 'invalid_bucket');
  });
  await check('an existing bucket name plus an encoded slash', async () => {
    assertProblem(await req('GET', `/v1/kv/${encodeURIComponent(`${B}/x`)}/k`), 400, 'invalid_bucket');
  });
  // nothing was created
  await check('bucket list afterwards', async () => {
    const list = await req('GET', '/v1/kvm/buckets');
    assert.equal(list.status, 200);
    assert.deepEqual(list.json, [B], 'no bucket came into being from an invalid name');
  });
  await assertAlive('invalid bucket names');
  check.done();
});

test('invalid keys -> 400 invalid_key', async () => {
  const check = checker();
  const keys = [
    '.k', 'k.', 'a..b', '_kv/x', '_kv.x', '_kvx', 'a*b', 'a%2Ab', 'a%3Eb', 'a%5Cb', 'a%20b', '%20',
    '.', '..', '%2E%2E', 'a/../c', 'a%00b', '%C3%A9', 'a:b', 'a%2Cb', 'a%23b', 'a%25b', 'a%0Ab',
  ];
  for (const k of keys) {
    for (const method of ['GET', 'PUT', 'POST', 'DELETE', 'HEAD']) {
      await check(`${method} /v1/kv/${B}/${k}`, async () => {
        const r = await raw(method, `/v1/kv/${B}/${k}`, method === 'PUT' || method === 'POST' ? { body: 'x' } : {});
        if (method === 'HEAD') assert.equal(r.status, 400);
        else assertProblem(r, 400, 'invalid_key');
      });
    }
    await check(`PUT /v1/kvm/buckets/${B}/keys/${k}`, async () => {
      assertProblem(await raw('PUT', `/v1/kvm/buckets/${B}/keys/${k}`, { body: 'x' }), 400, 'invalid_key');
    });
  }
  // through fetch as well; a backslash must be percent-encoded or fetch turns it into '/'
  for (const k of ['.k', 'k.', 'a..b', '_kv/x', 'a*b', 'a>b', 'a\\b', 'a b']) {
    const path = `/v1/kv/${B}/${k.split('/').map(encodeURIComponent).join('/')}`;
    await check(`fetch PUT ${path}`, async () => {
      assertProblem(await req('PUT', path, { body: 'x' }), 400, 'invalid_key');
    });
  }
  // nothing was written
  await check('key list afterwards', async () => {
    const list = await req('GET', `/v1/kvm/buckets/${B}/keys`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json, ['a/b=c-d_e.f'], 'only the control key exists');
  });
  await assertAlive('invalid keys');
  check.done();
});

/**
 * A segment that is not valid percent-encoding is a 400 problem. The contract
 * names no code of its own for it: the code of the segment it sits in
 * (invalid_key / invalid_bucket) or invalid_parameter.
 */
function assertBadEncoding(r, segmentCode) {
  assert.equal(r.status, 400, `got ${r.status} ${r.text}`);
  const code = r.json?.code;
  assert.ok(code === segmentCode || code === 'invalid_parameter',
    `code '${code}', expected '${segmentCode}' or 'invalid_parameter'`);
  assertProblem(r, 400, code);
}

test('bad percent-encoding -> 400', async () => {
  const check = checker();
  for (const k of ['%zz', '%4', 'k%4', 'k%', '%', 'a%g1b', '%%41']) {
    for (const method of ['GET', 'PUT']) {
      await check(`${method} /v1/kv/${B}/${k}`, async () => {
        assertBadEncoding(await raw(method, `/v1/kv/${B}/${k}`, method === 'PUT' ? { body: 'x' } : {}), 'invalid_key');
      });
    }
  }
  for (const b of ['%zz', 'b%4', 'b%']) {
    await check(`GET /v1/kv/${b}/k`, async () => {
      assertBadEncoding(await raw('GET', `/v1/kv/${b}/k`), 'invalid_bucket');
    });
    await check(`PUT /v1/kvm/buckets/${b}`, async () => {
      assertBadEncoding(await raw('PUT', `/v1/kvm/buckets/${b}`, { body: '{"history":1}' }), 'invalid_bucket');
    });
  }
  await check('key list afterwards', async () => {
    const list = await req('GET', `/v1/kvm/buckets/${B}/keys`);
    assert.deepEqual(list.json, ['a/b=c-d_e.f'], 'only the control key exists');
  });
  await assertAlive('bad percent-encoding');
  check.done();
});

test('bad bucket configurations -> 400 invalid_config, and no bucket is created', async () => {
  const check = checker();
  const bodies = [
    '{"history":',
    '{',
    'not json',
    '[]',
    '[{"history":1}]',
    '"history"',
    '42',
    'null',
    'true',
    '{"history":1} trailing',
    '{"history":1}{}',
    '{"history":1,"bogus":true}',
    '{"histroy":5}',
    '{"history":"5"}',
    '{"history":1.5}',
    '{"history":0}',
    '{"history":65}',
    '{"history":-1}',
    '{"storage":"disk"}',
    '{"storage":1}',
    '{"replicas":6}',
    '{"replicas":3}',
    '{"ttl":"soon"}',
    '{"ttl":true}',
    '{"max_value_size":"big"}',
    '{"description":5}',
  ];
  for (const method of ['PUT', 'POST']) {
    for (const body of bodies) {
      const name = uniqueName('cfg');
      await check(`${method} /v1/kvm/buckets/NEW with ${body}`, async () => {
        const r = await req(method, `/v1/kvm/buckets/${name}`, {
          body, headers: { 'Content-Type': 'application/json' },
        });
        assertProblem(r, 400, 'invalid_config');
      });
      await check(`GET /v1/kvm/buckets/NEW after ${method} with ${body}`, async () => {
        assertProblem(await req('GET', `/v1/kvm/buckets/${name}`), 404, 'bucket_not_found');
      });
    }
    await assertAlive(`bad bucket configs (${method})`);
  }
  // updates of an existing bucket
  for (const body of ['{"storage":"memory"}', '{"history":5,"bogus":1}', '[1]', '{"history":']) {
    await check(`PUT /v1/kvm/buckets/EXISTING with ${body}`, async () => {
      const r = await req('PUT', `/v1/kvm/buckets/${B}`, { body, headers: { 'Content-Type': 'application/json' } });
      assertProblem(r, 400, 'invalid_config');
    });
  }
  await check('existing bucket unchanged', async () => {
    const st = await req('GET', `/v1/kvm/buckets/${B}`);
    assert.equal(st.status, 200);
    assert.equal(st.json.history, 5);
    assert.equal(st.json.storage, 'file');
  });
  await assertAlive('bad bucket updates');
  check.done();
});

test('bad query parameters and preconditions -> 400 invalid_parameter', async () => {
  const check = checker();
  const key = 'param';
  const w = await req('PUT', `/v1/kv/${B}/${key}`, { body: 'orig' });
  assert.equal(w.status, 201);
  const rev = w.json;

  for (const v of ['abc', '-1', '1x', '1.5', '0x10', '+1', '%20', '1%00', '', '99999999999999999999999']) {
    await check(`GET ?revision=${v}`, async () => {
      assertProblem(await raw('GET', `/v1/kv/${B}/${key}?revision=${v}`), 400, 'invalid_parameter');
    });
    await check(`PUT ?previousRevision=${v}`, async () => {
      assertProblem(await raw('PUT', `/v1/kv/${B}/${key}?previousRevision=${v}`, { body: 'changed' }), 400, 'invalid_parameter');
    });
  }
  for (const tag of ['"abc"', '"-1"', '"1.5"', '"1x"']) {
    await check(`PUT If-Match: ${tag}`, async () => {
      const p = await req('PUT', `/v1/kv/${B}/${key}`, { body: 'changed', headers: { 'If-Match': tag } });
      assertProblem(p, 400, 'invalid_parameter');
    });
    await check(`DELETE If-Match: ${tag}`, async () => {
      const d = await req('DELETE', `/v1/kv/${B}/${key}`, { headers: { 'If-Match': tag } });
      assertProblem(d, 400, 'invalid_parameter');
    });
  }
  for (const [method, q] of [['GET', 'history=maybe'], ['GET', 'history=2'], ['DELETE', 'purge=maybe']]) {
    await check(`${method} ?${q}`, async () => {
      assertProblem(await raw(method, `/v1/kv/${B}/${key}?${q}`), 400, 'invalid_parameter');
    });
  }
  await check('If-Match and previousRevision naming different revisions', async () => {
    const both = await req('PUT', `/v1/kv/${B}/${key}?previousRevision=${rev + 1}`, {
      body: 'changed', headers: { 'If-Match': `"${rev}"` },
    });
    assertProblem(both, 400, 'invalid_parameter');
  });
  await check('value unchanged', async () => {
    const g = await req('GET', `/v1/kv/${B}/${key}`);
    assert.equal(g.status, 200);
    assert.equal(g.text, 'orig', 'no refused write was applied');
    assert.equal(g.headers.get('x-nats-kv-revision'), String(rev));
  });
  await assertAlive('bad parameters');
  check.done();
});

test('KV body above --max-kv-body -> 413 payload_too_large, with Content-Length and chunked', async () => {
  const check = checker();
  const at = Buffer.alloc(MAX_KV_BODY, 0x61);
  const over = Buffer.alloc(MAX_KV_BODY + 1, 0x62);

  await check('PUT of exactly --max-kv-body', async () => {
    const ok = await req('PUT', `/v1/kv/${B}/size.at`, { body: at });
    assert.equal(ok.status, 201, ok.text);
  });
  await check('PUT limit+1', async () => {
    assertProblem(await req('PUT', `/v1/kv/${B}/size.over`, { body: over }), 413, 'payload_too_large');
  });
  await check('POST limit+1', async () => {
    assertProblem(await req('POST', `/v1/kv/${B}/size.over`, { body: over }), 413, 'payload_too_large');
  });
  await check('PUT 256 KiB', async () => {
    assertProblem(await req('PUT', `/v1/kv/${B}/size.big`, { body: Buffer.alloc(256 * 1024, 0x63) }), 413, 'payload_too_large');
  });
  await check('PUT limit+1 on /v1/kvm/buckets/B/keys/K', async () => {
    assertProblem(await req('PUT', `/v1/kvm/buckets/${B}/keys/size.over`, { body: over }), 413, 'payload_too_large');
  });
  await check('chunked PUT of 2 KiB in 512-byte chunks', async () => {
    const r = await chunkedPut(`/v1/kv/${B}/size.chunked`, Array.from({ length: 4 }, () => Buffer.alloc(512, 0x64)));
    assertProblem(r, 413, 'payload_too_large');
  });
  await check('chunked PUT of limit+1 in one chunk', async () => {
    assertProblem(await chunkedPut(`/v1/kv/${B}/size.chunked`, [Buffer.alloc(MAX_KV_BODY + 1, 0x65)]), 413, 'payload_too_large');
  });
  await check('chunked PUT of 4 MiB', async () => {
    const r = await chunkedPut(`/v1/kv/${B}/size.chunked`, Array.from({ length: 64 }, () => Buffer.alloc(64 * 1024, 0x66)));
    assertProblem(r, 413, 'payload_too_large');
  });
  await check('chunked POST of 1400 bytes', async () => {
    const r = await chunkedPut(`/v1/kv/${B}/size.chunked.post`, [Buffer.alloc(700), Buffer.alloc(700)], { method: 'POST' });
    assertProblem(r, 413, 'payload_too_large');
  });
  await check('chunked PUT of exactly --max-kv-body', async () => {
    const okc = await chunkedPut(`/v1/kv/${B}/size.chunked.at`, [at.subarray(0, 500), at.subarray(500)]);
    assert.equal(okc.status, 201, okc.text);
    const back = await req('GET', `/v1/kv/${B}/size.chunked.at`);
    assert.deepEqual(back.bytes, at);
  });
  for (const k of ['size.over', 'size.big', 'size.chunked', 'size.chunked.post']) {
    await check(`${k} absent after a 413`, () => keyAbsent(B, k));
  }
  await assertAlive('oversize KV bodies');
  check.done();
});

test('JSON bucket body above --max-json-body -> 413', async () => {
  const check = checker();
  const name = uniqueName('json');
  await check('a JSON body under the limit', async () => {
    const small = await req('PUT', `/v1/kvm/buckets/${name}`, {
      body: JSON.stringify({ history: 2, description: 'd'.repeat(1000) }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.ok(small.status === 201 || small.status === 200, `${small.status} ${small.text}`);
  });

  const big = JSON.stringify({ history: 2, description: 'd'.repeat(MAX_JSON_BODY + 100) });
  const name2 = uniqueName('json');
  for (const method of ['PUT', 'POST']) {
    await check(`${method} bucket with a ${big.length}-byte body`, async () => {
      const r = await req(method, `/v1/kvm/buckets/${name2}`, { body: big, headers: { 'Content-Type': 'application/json' } });
      assertProblem(r, 413, 'payload_too_large');
    });
  }
  await check('chunked bucket body over the limit', async () => {
    const rc = await chunkedPut(`/v1/kvm/buckets/${name2}`, [big.slice(0, 3000), big.slice(3000)],
      { headers: { 'Content-Type': 'application/json' } });
    assertProblem(rc, 413, 'payload_too_large');
  });
  await check('bucket absent after the 413s', async () => {
    assertProblem(await req('GET', `/v1/kvm/buckets/${name2}`), 404, 'bucket_not_found');
  });
  await assertAlive('oversize JSON bodies');
  check.done();
});

test('oversize request header -> 431, oversize URL -> 414 or 431', async () => {
  const cookie = `c=${'x'.repeat(64 * 1024)}`;
  const r = await raw('GET', `/v1/kv/${B}/a/b=c-d_e.f`, { headers: { Cookie: cookie } });
  assert.equal(r.status, 431, `64 KiB Cookie header: got ${r.status} ${r.text.slice(0, 200)}`);
  if (/problem\+json/.test(r.headers.get('content-type') || '')) {
    assert.equal(r.json?.code, 'headers_too_large');
  }
  await assertAlive('64 KiB header');

  const many = {};
  for (let i = 0; i < 2000; i++) many[`X-Filler-${i}`] = 'y'.repeat(40);
  const r2 = await raw('GET', '/healthz', { headers: many });
  assert.equal(r2.status, 431, `2000 headers of ~50 bytes: got ${r2.status}`);
  await assertAlive('many headers');

  const longKey = 'k'.repeat(20 * 1024);
  const u = await raw('GET', `/v1/kv/${B}/${longKey}`);
  assert.ok(u.status === 414 || u.status === 431, `20 KiB URL: got ${u.status} ${u.text.slice(0, 200)}`);
  if (u.status === 414 && /problem\+json/.test(u.headers.get('content-type') || '')) {
    assert.equal(u.json?.code, 'uri_too_long');
  }
  const uq = await raw('GET', `/healthz?${'q'.repeat(20 * 1024)}`);
  assert.ok(uq.status === 414 || uq.status === 431, `20 KiB query string: got ${uq.status}`);
  await assertAlive('20 KiB URL');
});

test('unknown routes -> 404 not_found; wrong methods -> 405 method_not_allowed with Allow', async () => {
  for (const path of ['/', '/nope', '/v1', '/v1/nope', '/v2/kv/b/k', '/v1/kvm/nope', `/v1/kvm/buckets/${B}/nonsense`,
    '/healthz/extra', '/V1/kv/b/k']) {
    const r = await req('GET', path);
    assertProblem(r, 404, 'not_found', `GET ${path}`);
  }
  const expectAllow = [
    ['PATCH', `/v1/kv/${B}/k`, ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']],
    ['OPTIONS', `/v1/kv/${B}/k`, ['GET', 'PUT', 'POST', 'DELETE']],
    ['PATCH', `/v1/kvm/buckets/${B}/keys/k`, ['GET', 'PUT', 'POST', 'DELETE']],
    ['POST', '/healthz', ['GET']],
    ['DELETE', '/readyz', ['GET']],
    ['PUT', '/metrics', ['GET']],
    ['DELETE', '/v1/kvm/buckets', ['GET']],
    ['POST', '/v1/kvm/buckets', ['GET']],
    ['PATCH', `/v1/kvm/buckets/${B}`, ['GET', 'PUT', 'POST', 'DELETE']],
    ['PUT', `/v1/kvm/buckets/${B}/keys`, ['GET']],
    ['GET', `/v1/kvm/buckets/${B}/purge`, ['DELETE']],
  ];
  for (const [method, path, allowed] of expectAllow) {
    const r = method === 'OPTIONS' ? await raw(method, path) : await req(method, path, method === 'GET' || method === 'DELETE' ? {} : { body: '{}' });
    if (method === 'OPTIONS' && r.status !== 405) {
      // OPTIONS may be answered (204/200) with an Allow header instead
      assert.ok(r.status === 200 || r.status === 204, `OPTIONS ${path}: ${r.status}`);
    } else {
      assertProblem(r, 405, 'method_not_allowed', `${method} ${path}`);
    }
    const allow = (r.headers.get('allow') || '').split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
    assert.ok(allow.length > 0, `${method} ${path}: no Allow header`);
    for (const m of allowed) assert.ok(allow.includes(m), `${method} ${path}: Allow '${allow}' lacks ${m}`);
    assert.ok(!allow.includes(method) || method === 'OPTIONS', `${method} ${path}: Allow '${allow}' lists the refused method`);
  }
  await assertAlive('unknown routes and methods');
});

test('malformed HTTP does not take the daemon down', async () => {
  const cases = [
    'GARBAGE\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
    `PUT /v1/kv/${B}/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n`,
  ];
  for (const c of cases) {
    const r = await rawSend(Buffer.from(c, 'latin1'));
    assert.ok(r.status === 0 || (r.status >= 400 && r.status < 500),
      `${JSON.stringify(c)}: got ${r.status}`);
    await assertAlive(`malformed request ${JSON.stringify(c)}`);
  }
  // binary junk: the HTTP library may wait for more (until the idle timeout);
  // what matters is that everyone else is still served meanwhile
  const junk = net.connect({ host: '127.0.0.1', port }, () => junk.write(Buffer.from([0, 1, 2, 3, 13, 10, 13, 10])));
  junk.on('error', () => {});
  await new Promise((resolve) => setTimeout(resolve, 300));
  await assertAlive('binary junk on an open connection');
  junk.destroy();
  // a connection that sends half a request and goes away
  await new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.write(`PUT /v1/kv/${B}/half HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc`);
      setTimeout(() => { s.destroy(); resolve(); }, 100);
    });
    s.on('error', resolve);
  });
  await keyAbsent(B, 'half', 'a PUT whose body never arrived');
  await assertAlive('half a request');
});
