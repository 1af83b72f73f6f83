// A download whose NATS side fails after the body has started ends at once:
// the client sees the connection close short of Content-Length, even while
// older keep-alive connections sit idle on the server (they must not hold
// the failed one open until they time out), and the server closes that
// connection on its side too.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import nodeHttp from 'node:http';
import { http, startStack, uniqueName, waitFor } from '../lib/harness.mjs';

let stack;

before(async () => {
  // idle connections would only be closed after two minutes
  stack = await startStack({ args: ['--idle-timeout', '120s'] });
});

after(async () => {
  if (stack) await stack.stop();
});

/** Opens a keep-alive connection, makes one request on it, leaves it idle. */
async function idleConnection(port) {
  const s = net.connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  let got = '';
  s.setEncoding('latin1');
  s.on('data', (d) => { got += d; });
  s.on('error', () => {});
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor(() => /\r\n\r\n/.test(got), 5000, 10, 'an answer on the idle connection');
  assert.match(got, /^HTTP\/1\.1 200/);
  return s;
}

/** jetgate_http_connections_open, asked on a connection of its own (counted). */
function openConnections(port) {
  return new Promise((resolve, reject) => {
    const rq = nodeHttp.get({ host: '127.0.0.1', port, path: '/metrics', agent: false, headers: { Connection: 'close' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        const m = /^jetgate_http_connections_open (\d+)$/m.exec(text);
        if (m) resolve(Number(m[1])); else reject(new Error(`no connection gauge in /metrics: ${text.slice(0, 200)}`));
      });
    });
    rq.on('error', reject);
  });
}

test('a download whose NATS reads fail mid-body ends at once, with idle connections open', async () => {
  const b = uniqueName('odf');
  const cr = await http(stack.base, 'PUT', `/v1/objm/buckets/${b}`, { body: {} });
  assert.ok(cr.status === 201 || cr.status === 200, cr.text);
  const data = crypto.randomBytes(48 << 20);
  const put = await http(stack.base, 'PUT', `/v1/obj/${b}/big`, { body: data, timeoutMs: 120000 });
  assert.equal(put.status, 201, put.text);

  // older connections, idle, ahead of the download in the server's timeout order
  const idle = [await idleConnection(stack.jg.port), await idleConnection(stack.jg.port)];
  // only the idle ones and the one asking (the client library's keep-alive
  // connections of the upload close after a few seconds)
  const before = idle.length + 1;
  await waitFor(async () => (await openConnections(stack.jg.port)) === before, 15000, 200,
    `${before} connections open`);
  const pid = stack.nats.proc.pid;
  let frozen = false;
  try {
    const t0 = Date.now();
    let frozenAt = 0;
    const r = await new Promise((resolve, reject) => {
      const rq = nodeHttp.get({ host: '127.0.0.1', port: stack.jg.port, path: `/v1/obj/${b}/big`, agent: false }, (res) => {
        let n = 0;
        let complete = false;
        res.on('data', (d) => {
          n += d.length;
          if (!frozen && n >= (1 << 20)) {
            // the client keeps reading: jetgate soon waits for chunks that
            // never come, and its reads time out
            process.kill(pid, 'SIGSTOP');
            frozen = true;
            frozenAt = Date.now();
          }
        });
        res.on('end', () => { complete = res.complete; });
        res.on('close', () => resolve({ status: res.statusCode, n, complete, ms: Date.now() - frozenAt }));
        res.on('error', () => {});
      });
      rq.on('error', reject);
      rq.setTimeout(60000, () => rq.destroy(new Error(`no end of the body ${Date.now() - t0} ms after the start`)));
    });
    assert.equal(r.status, 200);
    assert.ok(!r.complete && r.n < data.length, `the body ends short (${r.n} of ${data.length} bytes)`);
    // the reads fail after the request timeout (2 s) or when the client
    // library gives the frozen server up (about 6-9 s)
    assert.ok(r.ms < 15000, `the body ended ${r.ms} ms after nats-server froze`);
    // and jetgate does not keep the connection behind the older idle ones
    await waitFor(async () => (await openConnections(stack.jg.port)) === before, 3000, 100,
      `jetgate closed the failed download's connection (${before} open before it)`);
  } finally {
    if (frozen) process.kill(pid, 'SIGCONT');
    for (const s of idle) s.destroy();
  }
  await waitFor(async () => (await http(stack.base, 'GET', '/readyz')).status === 200, 20000, 100, 'ready again');
  const again = await http(stack.base, 'GET', `/v1/obj/${b}/big`, { timeoutMs: 60000 });
  assert.equal(again.status, 200);
  assert.ok(again.bytes.equals(data), 'every byte once nats-server runs again');
});
