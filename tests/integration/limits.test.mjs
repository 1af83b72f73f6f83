// Connection-level limits: the whole-request deadline (slow clients), the
// connection cap and the per-address cap leave the daemon serving everyone
// else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { http, sleep, startJetgate, startStack, waitFor } from '../lib/harness.mjs';

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
  // the deadline runs from the request line (23 bytes, 2.3 s here; before
  // it the idle timeout applies) and is checked once a second
  const line = 'GET /healthz HTTP/1.1\r\n'.length * 0.1;
  assert.ok(closedAfter >= line + 1.5 && closedAfter < line + 2 + 1 + 1.5,
    `closed after ${closedAfter}s: the request line took ${line}s, the deadline is 2s`);
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

// A connection from localAddress (loopback: any 127.x.y.z is this host).
function connectFrom(localAddress, toPort) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: toPort, localAddress }, () => resolve(s));
    s.on('error', () => resolve(s));
  });
}

// One keep-alive GET /healthz on s: the response's status, or 'closed'
// when the server closed the connection without answering.
function ask(s, timeoutMs = 3000) {
  return new Promise((resolve) => {
    let got = '';
    const done = (v) => {
      clearTimeout(timer);
      s.removeListener('data', onData);
      s.removeListener('close', onClose);
      s.removeListener('end', onClose);
      s.removeListener('error', onClose);
      s.on('data', () => {});
      s.on('error', () => {});
      resolve(v);
    };
    const onData = (d) => {
      got += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m) done(Number(m[1]));
    };
    const onClose = () => done('closed');
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    s.on('data', onData);
    s.on('close', onClose);
    s.on('end', onClose);
    s.on('error', onClose);
    if (s.destroyed) return done('closed');
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', () => {});
  });
}

// A metric's value, asked over a connection of its own from localAddress
// that the server closes after the answer.
async function metric(jgPort, name, localAddress) {
  const s = await connectFrom(localAddress, jgPort);
  const r = await new Promise((resolve) => {
    let got = '';
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    s.write('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  });
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(r);
  return m ? Number(m[1]) : NaN;
}

test('max_connections_per_ip: the N+1th connection from one address is closed unanswered; other addresses and the total cap are separate', async () => {
  const perIp = 4;
  const total = 7;
  const jg = await startJetgate({
    natsUrl: stack.nats.url,
    args: ['--max-connections-per-ip', String(perIp), '--max-connections', String(total)],
  });
  const held = [];
  try {
    // the start-up probes (fetch keeps its connection alive for a while)
    // are gone once only the asking connection is open
    await waitFor(async () => (await metric(jg.port, 'jetgate_http_connections_open', '127.0.0.2')) === 1,
      15000, 200, 'the start-up probes to close');

    for (let i = 0; i < perIp; i++) {
      const s = await connectFrom('127.0.0.1', jg.port);
      held.push(s);
      assert.equal(await ask(s), 200, `connection ${i + 1} of ${perIp} from 127.0.0.1`);
    }
    // the N+1th from the same address: closed without an answer
    const over = await connectFrom('127.0.0.1', jg.port);
    assert.equal(await ask(over), 'closed', `connection ${perIp + 1} from 127.0.0.1 was served`);
    over.destroy();
    // the first N are still open and served
    for (const s of held) assert.equal(await ask(s), 200, 'a connection within the limit');

    // another address is not limited by 127.0.0.1's count
    for (let i = 0; i < total - perIp; i++) {
      const s = await connectFrom('127.0.0.2', jg.port);
      held.push(s);
      assert.equal(await ask(s), 200, `connection ${i + 1} from 127.0.0.2`);
    }
    // the total cap applies on its own: the 8th connection overall, from a
    // third address well under its own per-address limit, is closed
    const third = await connectFrom('127.0.0.3', jg.port);
    assert.equal(await ask(third), 'closed', `connection ${total + 1} overall was served`);
    third.destroy();

    // a place given back by 127.0.0.1 is free again
    held[0].destroy();
    held.shift();
    await sleep(300);
    assert.ok(await metric(jg.port, 'jetgate_http_connections_refused_total', '127.0.0.4') >= 1,
      'the total cap counts what it closed');
    const again = await connectFrom('127.0.0.1', jg.port);
    held.push(again);
    assert.equal(await ask(again), 200, 'a new connection once one of the N closed');
  } finally {
    for (const s of held) s.destroy();
    await jg.stop();
  }
});
