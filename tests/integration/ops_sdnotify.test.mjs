// systemd integration without systemd: jetgate runs with NOTIFY_SOCKET
// pointing at a Unix datagram socket this test owns (tests/tools/
// notify-listen) and must report READY=1 once it serves HTTP and STOPPING=1
// on SIGTERM; with WATCHDOG_USEC it must ping WATCHDOG=1 exactly when the
// unit asks for a watchdog; and SIGHUP reloads the config file without
// dropping open connections.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  JETGATE_BIN, createKvBucket, freePort, http, kvPath, makeTempDir, startJetgate, startNats,
  uniqueName, waitFor,
} from '../lib/harness.mjs';
import { buildDir, sourceDir } from '../tools/tools.mjs';

let nats;
const listeners = new Set();

before(async () => {
  nats = await startNats();
});

after(async () => {
  for (const l of listeners) l.kill();
  if (nats) await nats.destroy();
});

/** Starts notify-listen on a new socket: {path, messages[], kill(), waitFor(re)}. */
async function notifyListener() {
  const bin = path.join(buildDir(JETGATE_BIN), 'tests', 'tools', 'notify-listen');
  assert.ok(fs.existsSync(bin), `${bin} is missing (built by make)`);
  const dir = makeTempDir('jetgate-notify-');
  const sock = path.join(dir, 'notify');
  const proc = spawn(bin, [sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  const l = {
    path: sock,
    messages: [],
    times: [],
    kill() { try { proc.kill('SIGKILL'); } catch { /* gone */ } listeners.delete(l); },
    async waitFor(re, what, timeoutMs = 10000) {
      return waitFor(() => l.messages.find((m) => re.test(m)), timeoutMs, 20, what);
    },
  };
  listeners.add(l);
  let buf = '';
  let ready = false;
  proc.stdout.on('data', (d) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!ready && line === 'listening') { ready = true; continue; }
      l.messages.push(line);
      l.times.push(Date.now());
    }
  });
  await waitFor(() => ready, 5000, 20, 'notify-listen to bind');
  return l;
}

function unitText() {
  return fs.readFileSync(path.join(sourceDir(), 'systemd', 'jetgate.service.in'), 'utf8');
}

describe('sd_notify', () => {
  test('READY=1 once HTTP is served, STOPPING=1 on SIGTERM, then exit 0', async () => {
    const l = await notifyListener();
    const jg = await startJetgate({ natsUrl: nats.url, env: { NOTIFY_SOCKET: l.path }, waitReady: false });
    await l.waitFor(/(^| )READY=1( |$)/, 'READY=1');
    // READY means serving: HTTP answers now.
    const h = await http(jg.base, 'GET', '/healthz');
    assert.equal(h.status, 200);
    assert.equal(l.messages.filter((m) => /READY=1/.test(m)).length, 1, 'READY=1 sent once');
    assert.ok(!l.messages.some((m) => /STOPPING=1/.test(m)), 'no STOPPING=1 before SIGTERM');

    let exitedAt = 0;
    jg.exited.then(() => { exitedAt = Date.now(); });
    const code = await jg.stop();
    assert.equal(code, 0, `exit code ${code}\n${jg.log()}`);
    const i = l.messages.findIndex((m) => /(^| )STOPPING=1( |$)/.test(m));
    assert.ok(i >= 0, `STOPPING=1 after SIGTERM (got: ${JSON.stringify(l.messages)})`);
    assert.ok(l.times[i] <= exitedAt, 'STOPPING=1 before the exit');
    assert.ok(i > l.messages.findIndex((m) => /READY=1/.test(m)), 'STOPPING=1 after READY=1');
    l.kill();
  });

  test('without NOTIFY_SOCKET nothing is sent and jetgate runs normally', async () => {
    const l = await notifyListener();
    const jg = await startJetgate({ natsUrl: nats.url });
    assert.equal((await http(jg.base, 'GET', '/healthz')).status, 200);
    assert.equal(await jg.stop(), 0);
    assert.deepEqual(l.messages, []);
    l.kill();
  });

  // The unit may set WatchdogSec= only if jetgate pings: a unit with a
  // watchdog and a daemon without pings would be killed every WatchdogSec.
  test('watchdog pings and the unit\'s WatchdogSec= agree', async (t) => {
    const l = await notifyListener();
    const jg = await startJetgate({
      natsUrl: nats.url, env: { NOTIFY_SOCKET: l.path, WATCHDOG_USEC: '400000' }, waitReady: false,
    });
    await l.waitFor(/READY=1/, 'READY=1');
    await new Promise((r) => setTimeout(r, 1500));
    const pings = l.messages.filter((m) => /(^| )WATCHDOG=1( |$)/.test(m)).length;
    assert.equal(await jg.stop(), 0);
    l.kill();
    const unitWatchdog = /^WatchdogSec=/m.test(unitText());
    if (pings === 0) {
      t.diagnostic('jetgate sends no WATCHDOG=1 (src/main.c): the unit must not set WatchdogSec=');
      assert.ok(!unitWatchdog, 'systemd/jetgate.service.in sets WatchdogSec= but jetgate never pings');
    } else {
      // every WATCHDOG_USEC/2 = 200 ms: about 7 in 1.5 s; at least 3 even on a loaded machine
      assert.ok(pings >= 3, `${pings} WATCHDOG=1 in 1.5 s with WATCHDOG_USEC=400000`);
      assert.ok(unitWatchdog, 'jetgate pings the watchdog: the unit should set WatchdogSec=');
    }
  });
});

/** An HTTP/1.1 keep-alive connection: request(method, path, body) -> {status, headers, body}. */
function keepAlive(port) {
  const s = net.connect({ host: '127.0.0.1', port });
  let buf = Buffer.alloc(0);
  let closed = false;
  let waiter = null;
  s.on('data', (d) => { buf = Buffer.concat([buf, d]); if (waiter) waiter(); });
  s.on('close', () => { closed = true; if (waiter) waiter(); });
  s.on('error', () => { closed = true; if (waiter) waiter(); });
  const connected = new Promise((resolve) => s.once('connect', resolve));
  return {
    isClosed: () => closed,
    close: () => s.destroy(),
    async request(method, p, body = '') {
      await connected;
      if (closed) throw new Error('connection closed');
      s.write(`${method} ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      const deadline = Date.now() + 5000;
      for (;;) {
        const sep = buf.indexOf('\r\n\r\n');
        if (sep >= 0) {
          const head = buf.subarray(0, sep).toString('latin1');
          const m = /content-length: *(\d+)/i.exec(head);
          const len = m ? Number(m[1]) : 0;
          if (buf.length >= sep + 4 + len) {
            const out = { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)[1]), head, body: buf.subarray(sep + 4, sep + 4 + len).toString() };
            buf = buf.subarray(sep + 4 + len);
            return out;
          }
        }
        if (closed) throw new Error('connection closed before the response');
        if (Date.now() > deadline) throw new Error('no response in 5 s');
        await new Promise((resolve) => { waiter = resolve; setTimeout(resolve, 100); });
        waiter = null;
      }
    },
  };
}

/** An open SSE stream: {status, text(), isClosed(), close()}. */
function sseStream(port, p) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let raw = '';
    let closed = false;
    let done = false;
    const st = {
      status: 0,
      text: () => raw,
      isClosed: () => closed,
      close: () => s.destroy(),
    };
    s.on('data', (d) => {
      raw += d.toString('utf8');
      const m = /^HTTP\/1\.1 (\d+)/.exec(raw);
      if (m && !done && raw.includes('\r\n\r\n')) { done = true; st.status = Number(m[1]); resolve(st); }
    });
    s.on('close', () => { closed = true; if (!done) { done = true; resolve(st); } });
    s.on('error', () => { closed = true; });
    s.on('connect', () => s.write(`GET ${p} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`));
  });
}

describe('SIGHUP', () => {
  test('reloads the config file without dropping open connections', async (t) => {
    const dir = makeTempDir('jetgate-reload-');
    const conf = path.join(dir, 'jetgate.conf');
    const port = await freePort();
    const write = (level, maxBody) => fs.writeFileSync(conf,
      `listen = 127.0.0.1:${port}\nnats = ${nats.url}\nlog_level = ${level}\nmax_kv_body = ${maxBody}\n`);
    write('info', '1MiB');
    const jg = await startJetgate({ defaultArgs: false, port, args: ['-c', conf] });
    const bucket = uniqueName('reload');
    await createKvBucket(jg.base, bucket);
    const big = 'x'.repeat(2048);

    // Open before the reload: a keep-alive connection and, where watches
    // exist, an SSE stream.
    const ka = keepAlive(port);
    assert.equal((await ka.request('GET', '/healthz')).status, 200);
    const sse = await sseStream(port, `/v1/kvm/buckets/${bucket}/watch?updatesOnly=true`);
    const haveWatch = sse.status === 200;
    if (!haveWatch) t.diagnostic(`watch answered ${sse.status}: only the keep-alive connection is checked`);
    assert.equal((await http(jg.base, 'PUT', kvPath(bucket, 'big'), { body: big })).status, 201,
      'a 2 KiB value fits the 1MiB limit');
    assert.ok(!/debug: http: healthz/.test(jg.log()), 'no debug lines at log_level info');

    write('debug', '1KiB');
    const hupAt = jg.log().length;
    jg.proc.kill('SIGHUP');

    // RELOAD ASSERTION: the changed options apply.  Skipped (and only this
    // assertion) while src/main.c still ignores SIGHUP.
    let applied = false;
    try {
      await waitFor(async () => {
        const r = await http(jg.base, 'PUT', kvPath(bucket, 'big'), { body: big });
        return r.status === 413;
      }, 5000, 100, 'max_kv_body = 1KiB to apply');
      applied = true;
    } catch (e) {
      if (/reload is not supported/.test(jg.log().slice(hupAt))) {
        t.skip('SIGHUP reload is not implemented yet (src/main.c logs "not supported"): '
          + 'the changed-option assertion is skipped; the connection checks still ran');
      } else {
        throw new Error(`SIGHUP did not apply max_kv_body = 1KiB: ${e.message}\n${jg.log().slice(hupAt)}`);
      }
    }
    if (applied) {
      await http(jg.base, 'GET', '/healthz');
      await waitFor(() => /debug: http: healthz/.test(jg.log().slice(hupAt)), 3000, 50,
        'a debug line after log_level = debug was reloaded');
    }

    // CONNECTIONS: still open, still served.
    assert.ok(jg.running(), 'jetgate still runs after SIGHUP');
    assert.ok(!ka.isClosed(), 'the keep-alive connection survived SIGHUP');
    assert.equal((await ka.request('GET', '/healthz')).status, 200);
    if (haveWatch) {
      assert.ok(!sse.isClosed(), 'the watch stream survived SIGHUP');
      assert.equal((await http(jg.base, 'PUT', kvPath(bucket, 'after-hup'), { body: 'v' })).status, 201);
      await waitFor(() => sse.text().includes('after-hup'), 5000, 50, 'the watch to deliver a change made after SIGHUP');
      sse.close();
    }
    ka.close();
    assert.equal(await jg.stop(), 0);
  });
});
