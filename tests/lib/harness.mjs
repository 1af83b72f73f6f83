// Test harness for jetgate's integration and interop tests.
//
// Starts a real nats-server (JetStream on, temporary store, free ports) and a
// real jetgate binary, and offers a small fetch wrapper plus functions to read
// the NATS monitoring endpoints. Every child process started here is killed,
// and every temporary directory created here is removed, when the test process
// exits, also when a test fails or throws.
//
// Only Node built-ins are used (runs on Node 18 and later).

import { spawn } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Node 18 has no global Web Crypto object, which the official object-store
// client (@nats-io/obj) uses for its SHA-256 digests; Node 20 has it.
if (!globalThis.crypto) globalThis.crypto = webcrypto;

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The source tree's top directory (tests/lib/../..). */
export const REPO_DIR = path.resolve(HERE, '..', '..');
/** The jetgate binary the tests run. */
export const JETGATE_BIN = process.env.JETGATE_BIN || path.join(REPO_DIR, 'src', 'jetgate');
/** The nats-server binary the tests run. */
export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN || 'nats-server';

const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 15000;

// ---------------------------------------------------------------------------
// Clean-up of everything started by this process.

const liveProcs = new Set();
const tempDirs = new Set();

function cleanupSync() {
  for (const p of liveProcs) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
  liveProcs.clear();
  for (const d of tempDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
  }
  tempDirs.clear();
}

process.on('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    cleanupSync();
    process.kill(process.pid, sig);
  });
}

/** A new temporary directory, removed at exit (or earlier by removeTempDir). */
export function makeTempDir(prefix = 'jetgate-test-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

/** Removes a directory made by makeTempDir now. */
export function removeTempDir(d) {
  try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
  tempDirs.delete(d);
}

// ---------------------------------------------------------------------------
// Small utilities.

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls fn until it returns a truthy value (which is returned) or timeoutMs
 * passes (then throws, with the last error or value in the message).
 * An error thrown by fn with a truthy `fatal` property ends the wait at once.
 */
export async function waitFor(fn, timeoutMs = 5000, intervalMs = 50, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      if (e && e.fatal) throw e;
      last = e;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}

function fatalError(msg) {
  const e = new Error(msg);
  e.fatal = true;
  return e;
}

/** A free TCP port on 127.0.0.1 (bound to port 0, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves true when a TCP connection to 127.0.0.1:port succeeds. */
export function tcpAccepts(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function httpStatus(url) {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------
// Child processes.

// A report of AddressSanitizer, LeakSanitizer or UndefinedBehaviorSanitizer
// in a child's output (builds with --enable-asan) fails the test file: the
// stopping helpers throw it, and whatever no test saw fails the process.
const SANITIZER_RE = /==\d+==ERROR: (?:AddressSanitizer|LeakSanitizer)|: runtime error: /;
const sanitizerReports = [];
let sanitizerHook = false;

function sanitizerReport(out) {
  const m = SANITIZER_RE.exec(out);
  return m ? out.slice(Math.max(0, m.index - 200), m.index + 6000) : null;
}

function watchSanitizer(bin, closed, output) {
  if (!sanitizerHook) {
    sanitizerHook = true;
    process.on('exit', () => {
      const left = sanitizerReports.filter((r) => !r.seen);
      if (left.length === 0) return;
      for (const r of left) process.stderr.write(`sanitizer report from ${r.bin}:\n${r.text}\n`);
      process.exitCode = 1;
    });
  }
  closed.then(() => {
    const text = sanitizerReport(output());
    if (text) sanitizerReports.push({ bin, text, seen: false });
  });
}

/** Throws if the child's output holds a sanitizer report (after it closed). */
async function assertNoSanitizerReport(child, what) {
  await child.closed;
  const text = sanitizerReport(child.output());
  if (!text) return;
  for (const r of sanitizerReports) if (r.text === text) r.seen = true;
  throw new Error(`${what}: sanitizer report in its output:\n${text}`);
}

/**
 * Spawns a child, records its output and keeps track of it for clean-up.
 * Returns {proc, output(), exited} where exited is a promise of {code, signal}.
 */
function spawnTracked(bin, args, env) {
  const proc = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks = [];
  const verbose = !!process.env.JETGATE_TEST_VERBOSE;
  const collect = (d) => {
    chunks.push(d);
    if (verbose) process.stderr.write(d);
  };
  proc.stdout.on('data', collect);
  proc.stderr.on('data', collect);
  liveProcs.add(proc);
  const exited = new Promise((resolve) => {
    let spawnError = null;
    proc.once('error', (e) => {
      spawnError = e;
      chunks.push(Buffer.from(`spawn error: ${e.message}\n`));
      liveProcs.delete(proc);
      resolve({ code: null, signal: null, error: e });
    });
    proc.once('exit', (code, signal) => {
      liveProcs.delete(proc);
      if (!spawnError) resolve({ code, signal });
    });
  });
  // 'close': the process ended and its output was read to the end
  const closed = new Promise((resolve) => proc.once('close', resolve));
  const output = () => Buffer.concat(chunks).toString('utf8');
  watchSanitizer(bin, closed, output);
  return { proc, exited, closed, output };
}

function isRunning(proc) {
  return proc && proc.exitCode === null && proc.signalCode === null && liveProcs.has(proc);
}

/**
 * Sends sig and waits for the exit; SIGKILL after STOP_TIMEOUT_MS.
 * Resolves the exit code, or the signal name when the process died by a signal.
 */
async function terminate(child, sig = 'SIGTERM') {
  if (isRunning(child.proc)) {
    try { child.proc.kill(sig); } catch { /* gone */ }
  }
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => {
      try { child.proc.kill('SIGKILL'); } catch { /* gone */ }
      resolve(null);
    }, STOP_TIMEOUT_MS);
  });
  let res = await Promise.race([child.exited, timeout]);
  clearTimeout(timer);
  if (res === null) res = await child.exited;
  return res.code !== null ? res.code : res.signal;
}

// ---------------------------------------------------------------------------
// nats-server.

/**
 * Starts `nats-server -js -a 127.0.0.1 -p PORT -sd STORE -m MONPORT [args]`
 * and waits until the client port accepts TCP and the monitor's
 * /healthz?js-enabled-only=true answers 200.
 *
 * opts: {port, monitorPort, storeDir, args: []}
 * Returns {port, url, monitorPort, monitorBase, storeDir, proc, log(),
 *          stop()    SIGTERM, wait; keeps the store (restart() brings it back),
 *          kill()    SIGKILL, wait; keeps the store,
 *          restart() stop if running, start again on the same ports and store,
 *          destroy() stop and remove the store if this harness created it}
 */
export async function startNats(opts = {}) {
  const fixedPorts = opts.port !== undefined;
  let lastErr;
  for (let attempt = 0; attempt < (fixedPorts ? 1 : 3); attempt++) {
    try {
      return await startNatsOnce(opts);
    } catch (e) {
      lastErr = e;
      if (!/address already in use|bind/i.test(e.message)) break;
    }
  }
  throw lastErr;
}

async function startNatsOnce(opts) {
  const port = opts.port ?? await freePort();
  const monitorPort = opts.monitorPort ?? await freePort();
  const ownStore = !opts.storeDir;
  const storeDir = opts.storeDir ?? makeTempDir('jetgate-nats-');
  const extra = opts.args ?? [];
  const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir,
    '-m', String(monitorPort), ...extra];

  const nats = {
    port,
    url: `nats://127.0.0.1:${port}`,
    monitorPort,
    monitorBase: `http://127.0.0.1:${monitorPort}`,
    storeDir,
    proc: null,
    child: null,
    logs: [],
    log() { return this.logs.concat(this.child ? [this.child.output()] : []).join(''); },
    async start() {
      if (this.child) this.logs.push(this.child.output());
      this.child = spawnTracked(NATS_SERVER_BIN, args, process.env);
      this.proc = this.child.proc;
      const child = this.child;
      let dead = false;
      child.exited.then(() => { dead = true; });
      try {
        await waitFor(async () => {
          if (dead) throw fatalError('nats-server exited');
          return (await tcpAccepts(port))
            && (await httpStatus(`${this.monitorBase}/healthz?js-enabled-only=true`)) === 200;
        }, START_TIMEOUT_MS, 50, 'nats-server to accept connections');
      } catch (e) {
        await terminate(child, 'SIGKILL');
        throw new Error(`nats-server did not start (${e.message}); ${NATS_SERVER_BIN} ${args.join(' ')}\n--- log ---\n${child.output()}`);
      }
      return this;
    },
    async stop() {
      if (!this.child) return null;
      return terminate(this.child, 'SIGTERM');
    },
    async kill() {
      if (!this.child) return null;
      return terminate(this.child, 'SIGKILL');
    },
    async restart() {
      if (this.child && isRunning(this.child.proc)) await this.stop();
      return this.start();
    },
    async destroy() {
      await this.stop();
      if (ownStore) removeTempDir(storeDir);
    },
    running() { return !!this.child && isRunning(this.child.proc); },
  };
  await nats.start();
  return nats;
}

// ---------------------------------------------------------------------------
// jetgate.

function flagGiven(args, name) {
  return args.some((a) => a === name || a.startsWith(`${name}=`));
}

function flagValue(args, name) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) return args[i + 1];
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
  }
  return undefined;
}

function portOf(listen) {
  const m = /:(\d+)$/.exec(String(listen || ''));
  return m ? Number(m[1]) : undefined;
}

/**
 * Starts the jetgate binary (process.env.JETGATE_BIN or <repo>/src/jetgate) with
 * `--listen 127.0.0.1:PORT --nats URL --request-timeout 2s --log-level debug`,
 * leaving out each of these defaults that opts.args already gives (or, for
 * listen and nats, that opts.env gives as JETGATE_LISTEN / JETGATE_NATS).
 * Waits for /healthz 200 and, with waitReady (default true), /readyz 200;
 * throws with the log after 10 s.
 *
 * With defaultArgs: false no default flag is added (give opts.port so the
 * harness knows where it listens, e.g. for a config file test).
 *
 * opts: {natsUrl, port, args: [], env: {}, waitReady: true, bin, defaultArgs}
 * Returns {port, base, proc, args, log(), stop() SIGTERM -> exit code (or
 *          signal name), kill() SIGKILL, exited (promise of {code, signal})}
 */
export async function startJetgate(opts = {}) {
  const fixedPort = opts.port !== undefined || opts.defaultArgs === false
    || flagGiven(opts.args ?? [], '--listen') || (opts.env && opts.env.JETGATE_LISTEN);
  let lastErr;
  for (let attempt = 0; attempt < (fixedPort ? 1 : 3); attempt++) {
    try {
      return await startJetgateOnce(opts);
    } catch (e) {
      lastErr = e;
      if (!/address already in use|EADDRINUSE/i.test(e.message)) break;
    }
  }
  throw lastErr;
}

async function startJetgateOnce(opts) {
  const extra = opts.args ?? [];
  const envExtra = opts.env ?? {};
  const bin = opts.bin ?? JETGATE_BIN;
  const args = [];
  let port;
  if (opts.defaultArgs === false) {
    port = opts.port;
  } else if (flagGiven(extra, '--listen')) {
    port = portOf(flagValue(extra, '--listen'));
  } else if (envExtra.JETGATE_LISTEN) {
    port = portOf(envExtra.JETGATE_LISTEN);
  } else {
    port = opts.port ?? await freePort();
    args.push('--listen', `127.0.0.1:${port}`);
  }
  const defaults = opts.defaultArgs !== false;
  if (defaults && !flagGiven(extra, '--nats') && !envExtra.JETGATE_NATS) {
    if (!opts.natsUrl) throw new Error('startJetgate: natsUrl is required');
    args.push('--nats', opts.natsUrl);
  }
  if (defaults && !flagGiven(extra, '--request-timeout') && !envExtra.JETGATE_REQUEST_TIMEOUT) {
    args.push('--request-timeout', '2s');
  }
  if (defaults && !flagGiven(extra, '--log-level') && !envExtra.JETGATE_LOG_LEVEL) {
    args.push('--log-level', 'debug');
  }
  args.push(...extra);
  if (port === undefined) throw new Error('startJetgate: cannot tell the listen port');

  // Only the JETGATE_* variables the test gives reach jetgate (the test
  // environment's own, like JETGATE_BIN, are not options).
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('JETGATE_')) env[k] = v;
  Object.assign(env, envExtra);
  const child = spawnTracked(bin, args, env);
  const base = `http://127.0.0.1:${port}`;
  const jg = {
    port,
    base,
    bin,
    args,
    proc: child.proc,
    exited: child.exited,
    log: child.output,
    stop: async () => {
      reportEarlyExit();
      const r = await terminate(child, 'SIGTERM');
      await assertNoSanitizerReport(child, `jetgate (port ${port})`);
      return r;
    },
    kill: async () => {
      reportEarlyExit();
      const r = await terminate(child, 'SIGKILL');
      await assertNoSanitizerReport(child, `jetgate (port ${port})`);
      return r;
    },
    running: () => isRunning(child.proc),
  };
  let dead = false;
  let stopped = false;
  child.exited.then(() => { dead = true; });
  // A jetgate that ended before the test stopped it is worth a look: show
  // the end of its log on stderr.
  const reportEarlyExit = () => {
    const early = dead && !stopped;
    stopped = true;
    if (!early) return;
    const tail = child.output().split('\n').slice(-40).join('\n');
    process.stderr.write(`jetgate (port ${port}) exited before it was stopped `
      + `(code ${child.proc.exitCode}, signal ${child.proc.signalCode}); last log lines:\n${tail}\n`);
  };
  const waitReady = opts.waitReady !== false;
  try {
    await waitFor(async () => {
      if (dead) throw fatalError('jetgate exited');
      // opts.probe 'tcp': only wait for the port (an HTTPS listener)
      if (opts.probe === 'tcp') return tcpAccepts(port);
      if ((await httpStatus(`${base}/healthz`)) !== 200) return false;
      return !waitReady || (await httpStatus(`${base}/readyz`)) === 200;
    }, START_TIMEOUT_MS, 50, waitReady ? 'jetgate /healthz and /readyz' : 'jetgate /healthz');
  } catch (e) {
    await terminate(child, 'SIGKILL');
    throw new Error(`jetgate did not start (${e.message}); ${bin} ${args.join(' ')}\n--- log ---\n${child.output()}`);
  }
  return jg;
}

/**
 * startNats + startJetgate. opts: {nats: {...startNats opts}, jetgate: {...startJetgate opts}}
 * (opts.args / opts.env are passed to jetgate as well).
 * Returns {nats, jg, base, stop()} — stop() stops jetgate, then nats, and removes the store.
 */
export async function startStack(opts = {}) {
  const nats = await startNats(opts.nats ?? {});
  let jg;
  try {
    const jgOpts = { ...(opts.jetgate ?? {}) };
    if (opts.args) jgOpts.args = [...(jgOpts.args ?? []), ...opts.args];
    if (opts.env) jgOpts.env = { ...(jgOpts.env ?? {}), ...opts.env };
    if (opts.waitReady !== undefined) jgOpts.waitReady = opts.waitReady;
    jg = await startJetgate({ natsUrl: nats.url, ...jgOpts });
  } catch (e) {
    await nats.destroy();
    throw e;
  }
  return {
    nats,
    jg,
    base: jg.base,
    async stop() {
      try { await jg.stop(); } finally { await nats.destroy(); }
    },
  };
}

// ---------------------------------------------------------------------------
// HTTP.

function isPlainJson(body) {
  return body !== null && typeof body === 'object'
    && !(body instanceof Uint8Array) && !(body instanceof ArrayBuffer)
    && !ArrayBuffer.isView(body)
    && (Array.isArray(body) || Object.getPrototypeOf(body) === Object.prototype);
}

/**
 * fetch wrapper. body: string, Buffer/Uint8Array, or a plain object/array
 * (sent as JSON with Content-Type application/json unless headers give one).
 * Extra option timeoutMs (default 15000). Redirects are not followed.
 * Returns {status, headers (a Headers object), text, json (parsed when the
 * response Content-Type is JSON, else undefined), bytes (Buffer), ms (elapsed)}.
 */
export async function http(base, method, p, { body, headers = {}, timeoutMs = 15000 } = {}) {
  const h = { ...headers };
  let b = body;
  if (isPlainJson(b)) {
    b = JSON.stringify(b);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
      h['Content-Type'] = 'application/json';
    }
  }
  const t0 = Date.now();
  let res;
  try {
    res = await fetch(base + p, {
      method,
      headers: h,
      body: b,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    // fetch says only "fetch failed"; the cause (ECONNRESET, ...) is what matters.
    const cause = e.cause ? ` (${e.cause.code || e.cause.message || e.cause})` : '';
    const err = new Error(`${method} ${p}: ${e.message}${cause}`);
    err.cause = e.cause ?? e;
    throw err;
  }
  const bytes = Buffer.from(await res.arrayBuffer());
  const ms = Date.now() - t0;
  const text = bytes.toString('utf8');
  let json;
  const ct = res.headers.get('content-type') || '';
  if (/[/+]json\b/i.test(ct) && text.length > 0) {
    try { json = JSON.parse(text); } catch { json = undefined; }
  }
  return { status: res.status, headers: res.headers, text, json, bytes, ms };
}

/**
 * Sends raw bytes over one TCP connection to base's host and port and collects
 * everything until the server closes the connection (or timeoutMs passes).
 * For requests fetch would normalise or refuse (odd paths, bad headers).
 * Returns {status (0 when no status line), raw (string), headers (lower-cased
 * name -> value), body (string)}.
 */
export function rawRequest(base, data, { timeoutMs = 5000 } = {}) {
  const u = new URL(base);
  return new Promise((resolve) => {
    const chunks = [];
    const s = net.connect({ host: u.hostname, port: Number(u.port) });
    const finish = () => {
      s.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/\d\.\d (\d{3})/.exec(raw);
      const sep = raw.indexOf('\r\n\r\n');
      const head = sep >= 0 ? raw.slice(0, sep) : raw;
      const headers = {};
      for (const line of head.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: m ? Number(m[1]) : 0, raw, headers, body: sep >= 0 ? raw.slice(sep + 4) : '' });
    };
    s.setTimeout(timeoutMs, finish);
    s.on('data', (d) => chunks.push(d));
    s.on('end', finish);
    s.on('error', finish);
    s.on('connect', () => s.write(data));
  });
}

/** Creates (or updates) a KV bucket through jetgate; throws unless 200/201. Returns the status object. */
export async function createKvBucket(base, name, cfg = { history: 5 }) {
  const r = await http(base, 'PUT', `/v1/kvm/buckets/${encodeURIComponent(name)}`, { body: cfg });
  if (r.status !== 200 && r.status !== 201) {
    throw new Error(`createKvBucket ${name}: expected 200/201, got ${r.status}: ${r.text}`);
  }
  return r.json;
}

let nameCounter = 0;
const runTag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

/** A bucket name ([A-Za-z0-9_-]) unique within the run. */
export function uniqueName(prefix = 't') {
  nameCounter += 1;
  return `${prefix}_${runTag}_${nameCounter}`;
}

// ---------------------------------------------------------------------------
// NATS monitoring.

/** GET a monitoring endpoint of nats-server as JSON, e.g. monitorJson(port, '/jsz?streams=true'). */
export async function monitorJson(monitorPort, p) {
  const r = await fetch(`http://127.0.0.1:${monitorPort}${p}`, { signal: AbortSignal.timeout(5000) });
  if (r.status !== 200) throw new Error(`monitor ${p}: ${r.status}`);
  return r.json();
}

/** Stream details of the JetStream account (array of {name, config, state, consumer_detail?}). */
export async function jszStreams(monitorPort, { consumers = false } = {}) {
  const j = await monitorJson(monitorPort, `/jsz?streams=true&config=true${consumers ? '&consumers=true' : ''}`);
  const out = [];
  for (const acc of j.account_details ?? []) {
    for (const s of acc.stream_detail ?? []) out.push(s);
  }
  return out;
}

/** One stream's details by name (e.g. 'KV_bucket'), or undefined. */
export async function jszStream(monitorPort, name) {
  return (await jszStreams(monitorPort, { consumers: true })).find((s) => s.name === name);
}

/** Every consumer in the server as [{stream, name, ...consumer info}] (from /jsz?consumers=true). */
export async function jszConsumers(monitorPort) {
  const out = [];
  for (const s of await jszStreams(monitorPort, { consumers: true })) {
    for (const c of s.consumer_detail ?? []) out.push({ stream: s.name, ...c });
  }
  return out;
}

/** Client connections of nats-server (from /connz). */
export async function connz(monitorPort) {
  const j = await monitorJson(monitorPort, '/connz?subs=true');
  return j.connections ?? [];
}

// ---------------------------------------------------------------------------
// Assertions shared by the tests.

/**
 * Asserts that r is an RFC 9457 problem with the given status and code:
 * Content-Type application/problem+json, JSON body whose status equals the
 * HTTP status, code equal to `code`, and string type, title and detail.
 */
export function assertProblem(r, status, code, context = '') {
  const where = context ? ` (${context})` : '';
  const ct = r.headers.get('content-type') || '';
  if (r.status !== status) {
    throw new Error(`expected status ${status}${where}, got ${r.status}: ${r.text.slice(0, 500)}`);
  }
  if (!/^application\/problem\+json\b/i.test(ct)) {
    throw new Error(`expected Content-Type application/problem+json${where}, got '${ct}'`);
  }
  const j = r.json;
  if (!j || typeof j !== 'object') throw new Error(`problem body is not JSON${where}: ${r.text.slice(0, 500)}`);
  if (j.code !== code) throw new Error(`expected problem code '${code}'${where}, got '${j.code}': ${r.text.slice(0, 500)}`);
  if (j.status !== status) throw new Error(`problem status field ${j.status} != ${status}${where}`);
  if (typeof j.title !== 'string' || j.title.length === 0) throw new Error(`problem title missing${where}`);
  if (typeof j.type !== 'string') throw new Error(`problem type missing${where}`);
  if (typeof j.detail !== 'string') throw new Error(`problem detail missing${where}`);
  return j;
}

/**
 * Ten rounds of a read racing the deletion of its bucket by another NATS
 * client.  round(i) prepares one (a bucket with something in it, read once
 * so that jetgate caches it) and returns {del, read}, started together.
 * Each read must answer 200 (it came first) or 404 bucket_not_found, within
 * 1.5 s: never 503/504 at the request timeout (2 s in these tests).
 */
export async function raceReadsWithDeletion(round) {
  const answers = [];
  for (let i = 0; i < 10; i++) {
    const { del, read } = await round(i);
    const [, g] = await Promise.all([del(), read()]);
    answers.push(`${g.status} ${g.json?.code ?? ''} in ${g.ms} ms`);
    if (g.status !== 200) assertProblem(g, 404, 'bucket_not_found', answers.join('; '));
    if (g.ms >= 1500) throw new Error(`read answered in ${g.ms} ms: ${answers.join('; ')}`);
  }
}

// ---------------------------------------------------------------------------
// KV functions shared by the tests.

/** Path of a key in the /v1/kv form; the key is not encoded (it may hold '/'). */
export function kvPath(bucket, key) {
  return `/v1/kv/${bucket}/${key}`;
}

/** Path of a key in the /v1/kvm/buckets/{b}/keys/{key} form. */
export function kvmKeyPath(bucket, key) {
  return `/v1/kvm/buckets/${bucket}/keys/${key}`;
}

const RFC3339_UTC = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/;

/**
 * Milliseconds since the epoch of an RFC 3339 UTC time with up to 9 fractional
 * digits; throws when s is not of that form.
 */
export function parseRfc3339Ms(s) {
  const m = RFC3339_UTC.exec(String(s));
  if (!m) throw new Error(`not an RFC 3339 UTC time with at most 9 fractional digits: '${s}'`);
  const ms = Date.parse(`${m[1]}Z`);
  if (Number.isNaN(ms)) throw new Error(`invalid date: '${s}'`);
  return ms + (m[2] ? Number(`0.${m[2]}`) * 1000 : 0);
}

/**
 * Connects an official NATS JavaScript client (@nats-io/transport-node) and
 * returns {nc, js, kvm, close()}; the packages are loaded only when called.
 */
export async function connectNats(url) {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
  const { Kvm } = await import('@nats-io/kv');
  const nc = await connect({ servers: url, reconnect: false });
  try {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    return { nc, js, jsm, kvm: new Kvm(js), close: () => nc.close() };
  } catch (e) {
    // (JetStream not ready yet) an open connection would keep the test process alive
    await nc.close().catch(() => {});
    throw e;
  }
}
