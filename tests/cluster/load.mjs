// Bounded mixed load against jetgate, with a ledger that proves nothing
// acknowledged was lost.
//
// The load is a fixed number of workers, each paced to a fixed rate and
// owning its own keys (and objects), so the expected state of every key is
// exactly known to one worker:
//   - acked:     the last write answered 2xx, with its revision and value;
//   - uncertain: values written after it whose outcome is unknown (5xx,
//                timeout, connection lost): each may or may not be stored.
// Every read is checked against that (read-after-write: after an
// acknowledged PUT a GET returns that value or a newer uncertain one, never
// an older revision), and so is the final state, through jetgate and through
// the official NATS client directly.
//
// Conditional writes (If-Match) are sent only on keys whose state is exactly
// known, so any 412 on them is a false conflict and reported as such.
//
// Workloads:
//   KvLoad      KV PUT / conditional PUT / GET / DELETE-free, many keys
//   ObjLoad     object uploads and downloads with SHA-256 checks
//   WatchLoad   SSE watchers with Last-Event-ID resume, checked for
//               duplicates and for seeing every acknowledged revision
// A workload is added to a run with MixedLoad({..., obj: true, watchers: 50});
// ObjLoad and WatchLoad probe their routes first and switch themselves off
// (reported as 'skipped') while a route answers 501.  A new workload
// implements {name, prepare(), start(), stop(), verify(), stats()} and is
// listed in MixedLoad.workloads.

import crypto from 'node:crypto';
import http from 'node:http';

import { sleep } from '../lib/harness.mjs';

/** Small deterministic PRNG (mulberry32). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// One keep-alive agent per load, bounded sockets.
function makeAgent(max) {
  return new http.Agent({ keepAlive: true, maxSockets: max, maxFreeSockets: max });
}

/**
 * One HTTP request with node:http (keep-alive, own agent).  Resolves
 * {status, headers (lower-case object), body (Buffer), ms} or
 * {status: 0, error, ms} on a connection error or after timeoutMs.
 */
export function request(agent, base, method, p, { body, headers = {}, timeoutMs = 10000 } = {}) {
  const u = new URL(base + p);
  const t0 = Date.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...v, ms: Date.now() - t0 });
    };
    const h = { ...headers };
    if (body !== undefined) h['Content-Length'] = Buffer.byteLength(body);
    let got = 'no response head';
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: h, agent,
    }, (res) => {
      const chunks = [];
      let n = 0;
      got = `status ${res.statusCode} received, 0 of ${res.headers['content-length'] ?? '?'} body bytes`;
      res.on('data', (d) => {
        chunks.push(d);
        n += d.length;
        got = `status ${res.statusCode} received, ${n} of ${res.headers['content-length'] ?? '?'} body bytes`;
      });
      res.on('end', () => finish({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (e) => finish({ status: 0, error: `response: ${e.code || e.message}` }));
      res.on('aborted', () => finish({ status: 0, error: 'response aborted' }));
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${timeoutMs} ms (${got})`));
    }, timeoutMs);
    req.on('error', (e) => finish({ status: 0, error: e.code || e.message }));
    if (body !== undefined) req.end(body); else req.end();
  });
}

function problemCode(r) {
  try { return JSON.parse(r.body.toString('utf8')).code; } catch { return undefined; }
}

/** Shared result accounting of one run. */
export class RunStats {
  constructor({ requestTimeoutMs, hangSlackMs = 1500 }) {
    this.requestTimeoutMs = requestTimeoutMs;
    this.hangLimitMs = requestTimeoutMs + hangSlackMs;
    this.total = 0;
    this.ok = 0;
    this.byStatus = {};      // 'kv.get 200' -> n
    this.violations = [];    // {t, what, lost}
    // async (kind 'kv'|'obj', key or object name, acknowledged revision) =>
    // {lost, ...evidence}: asks the servers whether they still hold a write
    // that a read did not find (set by the test; see replicaProbe in common.mjs)
    this.probe = null;
    this.hangs = [];         // requests answered after hangLimitMs (or never)
    this.maxMs = {};
    this.t0 = Date.now();
    this.timeline = [];      // [{t, what}] faults and phases
  }

  mark(what) { this.timeline.push({ t: Date.now() - this.t0, what }); }

  violation(what, lost) {
    if (this.violations.length < 200) this.violations.push({ t: Date.now() - this.t0, what, lost });
  }

  /**
   * A read that did not find an acknowledged write: with a probe, the
   * violation carries the servers' evidence when none of them holds the
   * write any more (a write the server lost, not a wrong read).
   */
  async readViolation(what, kind, name, rev) {
    let lost;
    if (this.probe && rev) {
      const ev = await this.probe(kind, name, rev).catch(() => null);
      if (ev && ev.lost) lost = ev;
    }
    this.violation(what, lost);
  }

  /** Counts one answered request; ok = the answer was a correct success. */
  count(kind, r, ok, { hangLimitMs = this.hangLimitMs } = {}) {
    this.total += 1;
    if (ok) this.ok += 1;
    const code = r.status ? `${r.status}${r.status >= 400 ? ` ${problemCode(r) ?? ''}` : ''}` : `ERR ${r.error}`;
    const k = `${kind} ${code.trim()}`;
    this.byStatus[k] = (this.byStatus[k] ?? 0) + 1;
    this.maxMs[kind] = Math.max(this.maxMs[kind] ?? 0, r.ms);
    if (r.ms > hangLimitMs && this.hangs.length < 200) {
      this.hangs.push({ t: Date.now() - this.t0 - r.ms, kind, ms: r.ms, status: r.status || r.error });
    }
    // every refusal must say when to come back
    if (r.status === 503 && !r.headers['retry-after']) {
      this.violation(`${kind}: 503 ${problemCode(r)} without Retry-After`);
    }
    if (r.status >= 400 && !/^application\/problem\+json/.test(r.headers['content-type'] ?? '')) {
      this.violation(`${kind}: ${r.status} is not application/problem+json`);
    }
  }

  successRate() { return this.total ? this.ok / this.total : 1; }

  summary() {
    const lines = [];
    lines.push(`requests ${this.total}, correct successes ${this.ok} (${(100 * this.successRate()).toFixed(2)}%)`);
    for (const k of Object.keys(this.byStatus).sort()) lines.push(`  ${k}: ${this.byStatus[k]}`);
    lines.push(`slowest answer per kind (ms): ${JSON.stringify(this.maxMs)}`);
    if (this.timeline.length) {
      lines.push('timeline (ms since start):');
      for (const e of this.timeline) lines.push(`  ${String(e.t).padStart(7)} ${e.what}`);
    }
    if (this.hangs.length) {
      lines.push(`answers later than ${this.hangLimitMs} ms: ${this.hangs.length}`);
      for (const h of this.hangs.slice(0, 20)) lines.push(`  at ${h.t} ms ${h.kind} took ${h.ms} ms -> ${h.status}`);
    }
    if (this.violations.length) {
      lines.push(`violations: ${this.violations.length}`);
      for (const v of this.violations.slice(0, 40)) lines.push(`  at ${v.t} ms: ${v.what}`);
    }
    return lines.join('\n');
  }
}

/** How long a worker waits after a failed request (a well-behaved client). */
function backoffMs(r) {
  if (r.status === 503) {
    const ra = Number(r.headers['retry-after']);
    return Number.isFinite(ra) && ra > 0 ? Math.min(ra * 1000, 1000) : 500;
  }
  return 200;
}

const isUncertain = (r) => r.status === 0 || r.status >= 500;

// ---------------------------------------------------------------------------
// KV

/**
 * KV workload.  opts: {bases, bucket, keys: 120, workers: 6, rate: 25 (ops/s
 * per worker), valueBytes: [32, 512], seed, stats, agent, requestTimeoutMs,
 * mix: {get: .5, put: .3, cas: .2}}
 * Keys are 'g<group>.k<index>' (group = index % 10), owned by worker index % workers.
 */
export class KvLoad {
  constructor(opts) {
    this.name = 'kv';
    this.o = {
      keys: 120, workers: 6, rate: 25, valueBytes: [32, 512], seed: 1,
      mix: { get: 0.5, put: 0.3, cas: 0.2 }, ...opts,
    };
    this.stats = opts.stats;
    this.agent = opts.agent;
    this.rand = rng(this.o.seed);
    this.keys = [];
    for (let i = 0; i < this.o.keys; i++) {
      this.keys.push({
        key: `g${i % 10}.k${i}`, group: i % 10, owner: i % this.o.workers,
        acked: null, uncertain: [], floor: null, n: 0,
      });
    }
    this.running = false;
    this.writesAcked = 0;
    this.seq = 0;
  }

  path(k) { return `/v1/kv/${this.o.bucket}/${k.key}`; }

  base() { return this.o.bases[Math.floor(this.rand() * this.o.bases.length)]; }

  value(k, w) {
    this.seq += 1;
    const [lo, hi] = this.o.valueBytes;
    const len = lo + Math.floor(this.rand() * (hi - lo));
    const head = `${k.key}|w${w}|n${k.n++}|s${this.seq}|`;
    return head + 'x'.repeat(Math.max(0, len - head.length));
  }

  /** One write; returns the answer.  cas: If-Match on the known revision. */
  async write(k, w, { cas = false, kind = 'kv.put' } = {}) {
    const value = this.value(k, w);
    const headers = { 'Content-Type': 'text/plain' };
    // half the writes carry an Idempotency-Key (Nats-Msg-Id), half do not
    if (this.seq % 2 === 0) headers['Idempotency-Key'] = `ik-${this.o.seed}-${this.seq}`;
    if (cas) headers['If-Match'] = `"${k.acked.rev}"`;
    const expected = cas ? k.acked.rev : null;
    const r = await request(this.agent, this.base(), 'PUT', this.path(k), {
      body: value, headers, timeoutMs: this.o.requestTimeoutMs * 4,
    });
    let ok = false;
    if (r.status === 201) {
      const rev = Number(r.headers['x-nats-kv-revision'] ?? r.body.toString());
      if (!Number.isSafeInteger(rev) || rev <= 0) {
        this.stats.violation(`${kind} ${k.key}: 201 without a revision: ${r.body}`);
      } else if (k.acked && rev <= k.acked.rev) {
        this.stats.violation(`${kind} ${k.key}: acknowledged revision ${rev} is not above the previous acknowledged ${k.acked.rev}`);
      } else {
        ok = true;
      }
      k.acked = { rev, value };
      k.uncertain = [];
      k.floor = null;
      this.writesAcked += 1;
    } else if (isUncertain(r)) {
      k.uncertain.push(value);
    } else if (cas && (r.status === 412 || r.status === 409)) {
      // the key had exactly known state: only its owner writes it
      const now = await this.settledRead(k);
      this.stats.violation(`false ${r.status} ${problemCode(r)} on ${kind} ${k.key} If-Match "${expected}" `
        + `(key state was known: revision ${expected}; after the answer the key is at ${now})`);
      k.uncertain.push(value); // it might have been stored anyway
    } else {
      this.stats.violation(`${kind} ${k.key}: unexpected ${r.status} ${r.body.toString().slice(0, 200)}`);
      k.uncertain.push(value);
    }
    this.stats.count(kind, r, ok);
    return r;
  }

  /** Reads k until jetgate answers 200/404 (for reports), at most ~10 s. */
  async settledRead(k) {
    for (let i = 0; i < 50; i++) {
      const r = await request(this.agent, this.o.bases[0], 'GET', this.path(k), { timeoutMs: 5000 });
      if (r.status === 200) return `revision ${r.headers['x-nats-kv-revision']} value '${r.body.toString().slice(0, 40)}'`;
      if (r.status === 404) return '404';
      await sleep(200);
    }
    return 'unknown (no answer)';
  }

  /**
   * Checks one read answer against the ledger; returns '' when it is
   * consistent, else what is wrong.  learn: take an uncertain value seen
   * as the new floor (reads must not go back behind it).
   */
  check(k, r, learn = true) {
    if (r.status === 404) {
      if (k.acked) return `404 after acknowledged revision ${k.acked.rev}`;
      return '';
    }
    if (r.status !== 200) return `status ${r.status}`;
    const rev = Number(r.headers['x-nats-kv-revision']);
    const value = r.body.toString('utf8');
    if (!k.acked) {
      if (k.uncertain.includes(value)) return '';
      return `value '${value.slice(0, 40)}' never written`;
    }
    if (rev < k.acked.rev) {
      return `stale read: revision ${rev} ('${value.slice(0, 40)}') but revision ${k.acked.rev} was acknowledged`;
    }
    if (rev === k.acked.rev) {
      return value === k.acked.value ? '' : `revision ${rev} holds '${value.slice(0, 40)}', acknowledged '${k.acked.value.slice(0, 40)}'`;
    }
    if (!k.uncertain.includes(value)) {
      return `revision ${rev} holds '${value.slice(0, 40)}', neither the acknowledged revision ${k.acked.rev} nor a write with unknown outcome`;
    }
    if (k.floor && (rev < k.floor.rev || (rev === k.floor.rev && value !== k.floor.value))) {
      return `read went back: revision ${rev} after revision ${k.floor.rev} was read`;
    }
    if (learn) k.floor = { rev, value };
    return '';
  }

  async read(k, kind = 'kv.get') {
    const r = await request(this.agent, this.base(), 'GET', this.path(k), { timeoutMs: this.o.requestTimeoutMs * 4 });
    let ok = false;
    if (r.status === 200 || r.status === 404) {
      const bad = this.check(k, r);
      if (bad) await this.stats.readViolation(`${kind} ${k.key}: ${bad}`, 'kv', k.key, k.acked?.rev);
      ok = !bad;
    } else if (!isUncertain(r)) {
      this.stats.violation(`${kind} ${k.key}: unexpected ${r.status} ${r.body.toString().slice(0, 200)}`);
    }
    this.stats.count(kind, r, ok);
    return r;
  }

  /** Writes every key once (before faults), retrying until acknowledged. */
  async prepare() {
    const byWorker = [];
    for (let w = 0; w < this.o.workers; w++) byWorker.push(this.keys.filter((k) => k.owner === w));
    await Promise.all(byWorker.map(async (keys, w) => {
      for (const k of keys) {
        for (let i = 0; !k.acked; i++) {
          if (i > 20) throw new Error(`prepare: cannot write ${k.key}`);
          const value = this.value(k, w);
          const r = await request(this.agent, this.o.bases[0], 'PUT', this.path(k), { body: value, timeoutMs: 10000 });
          if (r.status === 201) k.acked = { rev: Number(r.headers['x-nats-kv-revision']), value };
          else { k.uncertain.push(value); await sleep(200); }
        }
        k.uncertain = [];
      }
    }));
  }

  start() {
    this.running = true;
    this.done = [];
    for (let w = 0; w < this.o.workers; w++) this.done.push(this.worker(w));
  }

  async worker(w) {
    const mine = this.keys.filter((k) => k.owner === w);
    const interval = 1000 / this.o.rate;
    let next = Date.now();
    const { get, put } = this.o.mix;
    while (this.running) {
      const k = mine[Math.floor(this.rand() * mine.length)];
      const p = this.rand();
      let r;
      if (p < get) r = await this.read(k);
      else if (p < get + put || !k.acked || k.uncertain.length) r = await this.write(k, w);
      else r = await this.write(k, w, { cas: true, kind: 'kv.cas' });
      if (r.status === 0 || r.status >= 500) await sleep(backoffMs(r));
      next += interval;
      const now = Date.now();
      if (next > now) await sleep(next - now); else next = now;
    }
  }

  async stop() {
    this.running = false;
    await Promise.all(this.done ?? []);
  }

  /**
   * Final check after the load and the faults: every key read through each
   * base (retried until it answers, at most timeoutMs) holds its
   * acknowledged value or a newer uncertain one; the same through the
   * official NATS client (kv), when given.
   */
  async verify({ kv, timeoutMs = 30000 } = {}) {
    let checked = 0;
    for (const base of this.o.bases) {
      for (const k of this.keys) {
        const deadline = Date.now() + timeoutMs;
        let r;
        for (;;) {
          r = await request(this.agent, base, 'GET', this.path(k), { timeoutMs: 10000 });
          if (r.status === 200 || r.status === 404 || Date.now() > deadline) break;
          await sleep(200);
        }
        const bad = r.status === 200 || r.status === 404 ? this.check(k, r, false) : `no answer: ${r.status || r.error}`;
        if (bad) await this.stats.readViolation(`final read of ${k.key} via ${base}: ${bad}`, 'kv', k.key, k.acked?.rev);
        checked += 1;
      }
    }
    if (kv) {
      for (const k of this.keys) {
        let e;
        try { e = await kv.get(k.key); } catch (err) { e = { error: err.message }; }
        const r = e && e.error === undefined && e.value !== undefined
          ? { status: e.operation === 'PUT' ? 200 : 404, headers: { 'x-nats-kv-revision': String(e.revision) }, body: Buffer.from(e.value) }
          : { status: e && e.error ? 0 : 404, error: e && e.error, headers: {}, body: Buffer.alloc(0) };
        const bad = r.status ? this.check(k, r, false) : `NATS client: ${r.error}`;
        if (bad) await this.stats.readViolation(`final read of ${k.key} with the NATS client: ${bad}`, 'kv', k.key, k.acked?.rev);
        checked += 1;
      }
    }
    return checked;
  }

  /** Writes acknowledged per key, for reports. */
  summary() {
    return `kv: ${this.keys.length} keys, ${this.writesAcked} writes acknowledged during the load`;
  }
}

// ---------------------------------------------------------------------------
// Objects

/**
 * Object workload: each worker uploads and downloads its own objects
 * (sizes in sizeBytes, chunkSize small so an object is several chunks) and
 * checks every download's SHA-256 against the ledger.
 * opts: {bases, bucket, objects: 12, workers: 2, rate: 2, sizeBytes: [1024, 200000], chunkSize: 32768,
 *        replicas, seed, stats, agent, requestTimeoutMs}
 */
export class ObjLoad {
  constructor(opts) {
    this.name = 'obj';
    this.o = { objects: 12, workers: 2, rate: 2, sizeBytes: [1024, 200000], chunkSize: 32768, seed: 7, replicas: 1, ...opts };
    this.stats = opts.stats;
    this.agent = opts.agent;
    this.rand = rng(this.o.seed);
    this.objs = [];
    for (let i = 0; i < this.o.objects; i++) {
      this.objs.push({ name: `dir/o${i}.bin`, owner: i % this.o.workers, acked: null, uncertain: [] });
    }
    this.skipped = '';
    this.uploads = 0;
    this.downloads = 0;
  }

  path(o) { return `/v1/obj/${this.o.bucket}/${encodeURIComponent(o.name)}`; }

  base() { return this.o.bases[Math.floor(this.rand() * this.o.bases.length)]; }

  /** Creates the bucket; off (skipped) while the object routes answer 501. */
  async prepare() {
    // 503/504 while the cluster creates it (see putBucket in cluster.mjs): retried
    let r;
    for (const t0 = Date.now(); ;) {
      r = await request(this.agent, this.o.bases[0], 'PUT', `/v1/objm/buckets/${this.o.bucket}`, {
        body: JSON.stringify({ replicas: this.o.replicas }), headers: { 'Content-Type': 'application/json' },
      });
      if ((r.status !== 503 && r.status !== 504) || Date.now() - t0 > 30000) break;
      await sleep(250);
    }
    if (r.status === 501) { this.skipped = 'object routes answer 501'; return; }
    if (r.status !== 200 && r.status !== 201) throw new Error(`object bucket: ${r.status} ${r.body}`);
    for (const o of this.objs) {
      for (let i = 0; !o.acked; i++) {
        if (i > 20) throw new Error(`prepare: cannot upload ${o.name}`);
        await this.upload(o, false);
      }
    }
  }

  async upload(o, count = true) {
    const [lo, hi] = this.o.sizeBytes;
    const data = crypto.randomBytes(lo + Math.floor(this.rand() * (hi - lo)));
    const digest = crypto.createHash('sha256').update(data).digest('hex');
    const r = await request(this.agent, this.base(), 'PUT', `${this.path(o)}?chunkSize=${this.o.chunkSize}`, {
      body: data, headers: { 'Content-Type': 'application/octet-stream' }, timeoutMs: this.o.requestTimeoutMs * 10,
    });
    let ok = false;
    if (r.status === 201 || r.status === 200) {
      let rev = 0;
      try { rev = JSON.parse(r.body.toString()).revision ?? 0; } catch { /* reported as 0 */ }
      o.acked = { digest, size: data.length, rev, at: Date.now() - this.stats.t0 };
      o.uncertain = [];
      ok = true;
      if (count) this.uploads += 1;
    } else if (isUncertain(r)) {
      o.uncertain.push(digest);
    } else if (count) {
      this.stats.violation(`obj.put ${o.name}: unexpected ${r.status} ${r.body.toString().slice(0, 200)}`);
      o.uncertain.push(digest);
    }
    if (count) this.stats.count('obj.put', r, ok, { hangLimitMs: this.o.requestTimeoutMs * 10 });
    return r;
  }

  check(o, r) {
    if (r.status === 404) {
      return o.acked ? `object_not_found after an acknowledged upload (revision ${o.acked.rev}, at ${o.acked.at} ms)` : '';
    }
    if (r.status !== 200) return `status ${r.status}`;
    const digest = crypto.createHash('sha256').update(r.body).digest('hex');
    if (o.acked && digest === o.acked.digest) return '';
    if (o.uncertain.includes(digest)) return '';
    return `downloaded ${r.body.length} bytes with a SHA-256 neither acknowledged nor of an upload with unknown outcome`;
  }

  async download(o) {
    const r = await request(this.agent, this.base(), 'GET', this.path(o), { timeoutMs: this.o.requestTimeoutMs * 10 });
    let ok = false;
    if (r.status === 200 || r.status === 404) {
      const bad = this.check(o, r);
      if (bad) await this.stats.readViolation(`obj.get ${o.name}: ${bad}`, 'obj', o.name, o.acked?.rev);
      ok = !bad;
      this.downloads += 1;
    } else if (!isUncertain(r)) {
      this.stats.violation(`obj.get ${o.name}: unexpected ${r.status} ${r.body.toString().slice(0, 200)}`);
    }
    this.stats.count('obj.get', r, ok, { hangLimitMs: this.o.requestTimeoutMs * 10 });
    return r;
  }

  start() {
    if (this.skipped) return;
    this.running = true;
    this.done = [];
    for (let w = 0; w < this.o.workers; w++) this.done.push(this.worker(w));
  }

  async worker(w) {
    const mine = this.objs.filter((o) => o.owner === w);
    const interval = 1000 / this.o.rate;
    let next = Date.now();
    while (this.running) {
      const o = mine[Math.floor(this.rand() * mine.length)];
      const r = this.rand() < 0.5 ? await this.download(o) : await this.upload(o);
      if (r.status === 0 || r.status >= 500) await sleep(backoffMs(r));
      next += interval;
      const now = Date.now();
      if (next > now) await sleep(next - now); else next = now;
    }
  }

  async stop() {
    this.running = false;
    await Promise.all(this.done ?? []);
  }

  async verify({ timeoutMs = 30000 } = {}) {
    if (this.skipped) return 0;
    let checked = 0;
    for (const base of this.o.bases) {
      for (const o of this.objs) {
        const deadline = Date.now() + timeoutMs;
        let r;
        for (;;) {
          r = await request(this.agent, base, 'GET', this.path(o), { timeoutMs: 20000 });
          if (r.status === 200 || r.status === 404 || Date.now() > deadline) break;
          await sleep(200);
        }
        const bad = r.status === 200 || r.status === 404 ? this.check(o, r) : `no answer: ${r.status || r.error}`;
        if (bad) await this.stats.readViolation(`final download of ${o.name} via ${base}: ${bad}`, 'obj', o.name, o.acked?.rev);
        checked += 1;
      }
    }
    return checked;
  }

  summary() {
    return this.skipped ? `obj: skipped (${this.skipped})`
      : `obj: ${this.objs.length} objects, ${this.uploads} uploads acknowledged, ${this.downloads} downloads checked`;
  }
}

// ---------------------------------------------------------------------------
// Watchers

/**
 * SSE watchers on the KV bucket of a KvLoad, each on one key group
 * (filter g<N>.>), resuming with Last-Event-ID whenever a stream ends.
 * Checked: ids strictly increase within a watcher (no duplicate, also
 * across resumes, unless the server said 'reset'), every entry is one the
 * ledger allows, and at the end every watcher has seen the last
 * acknowledged revision of each of its keys.
 * opts: {bases, kv (a KvLoad), watchers: 50, stats}
 */
export class WatchLoad {
  constructor(opts) {
    this.name = 'watch';
    this.o = { watchers: 50, ...opts };
    this.stats = opts.stats;
    this.kv = opts.kv;
    this.skipped = '';
    this.ws = [];
    this.events = 0;
    this.reconnects = 0;
  }

  path(group) {
    return `/v1/kvm/buckets/${this.kv.o.bucket}/watch?filter=g${group}.%3E&include=updatesOnly`;
  }

  async prepare() {
    const r = await new Promise((resolve) => {
      const u = new URL(this.o.bases[0] + this.path(0));
      const req = http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search }, (res) => {
        resolve(res.statusCode);
        req.destroy();
      });
      req.on('error', () => resolve(0));
      req.setTimeout(5000, () => req.destroy());
    });
    if (r === 501) this.skipped = 'watch route answers 501';
    else if (r !== 200) throw new Error(`watch probe: ${r}`);
  }

  start() {
    if (this.skipped) return;
    this.running = true;
    for (let i = 0; i < this.o.watchers; i++) {
      const w = {
        i, group: i % 10, base: this.o.bases[i % this.o.bases.length],
        lastId: 0, seen: new Map(), req: null, connected: false,
      };
      this.ws.push(w);
      this.connect(w);
    }
  }

  connect(w) {
    if (!this.running) return;
    const u = new URL(w.base + this.path(w.group));
    const headers = { Accept: 'text/event-stream' };
    if (w.lastId) headers['Last-Event-ID'] = String(w.lastId);
    const t0 = Date.now();
    const req = http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers });
    w.req = req;
    let again = false;
    const reconnect = (delay) => {
      if (again) return;
      again = true;
      w.connected = false;
      if (!this.running) return;
      this.reconnects += 1;
      setTimeout(() => this.connect(w), delay);
    };
    req.on('response', (res) => {
      const r = { status: res.statusCode, headers: res.headers, ms: Date.now() - t0, body: Buffer.alloc(0) };
      if (res.statusCode !== 200) {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => {
          r.body = Buffer.concat(chunks);
          this.stats.count('watch.open', r, false);
          if (!isUncertain(r)) this.stats.violation(`watch ${w.i}: ${res.statusCode} ${r.body.toString().slice(0, 200)}`);
          reconnect(backoffMs(r));
        });
        return;
      }
      this.stats.count('watch.open', r, true);
      w.connected = true;
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (d) => {
        buf += d;
        let idx;
        while ((idx = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, idx);
          buf = buf.slice(idx + 2);
          this.onEvent(w, block);
        }
      });
      res.on('end', () => reconnect(250));
      res.on('error', () => reconnect(250));
      res.on('aborted', () => reconnect(250));
    });
    req.on('error', (e) => {
      if (!this.running) return;
      if (!w.connected) this.stats.count('watch.open', { status: 0, error: e.code || e.message, ms: Date.now() - t0, headers: {} }, false);
      reconnect(500);
    });
  }

  onEvent(w, block) {
    let event = 'message';
    let id = null;
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':') || line === '') continue;
      const i = line.indexOf(':');
      const f = i < 0 ? line : line.slice(0, i);
      const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (f === 'event') event = v;
      else if (f === 'id') id = v;
      else if (f === 'data') data.push(v);
    }
    if (event === 'synced') { w.synced = true; return; }
    if (event === 'reset') { w.lastId = 0; return; }
    if (event === 'error') { this.stats.violation(`watch ${w.i}: event error ${data.join('')}`); return; }
    if (event !== 'message' || id === null) return;
    const rev = Number(id);
    if (rev <= w.lastId) this.stats.violation(`watch ${w.i}: id ${rev} after ${w.lastId} (duplicate or out of order)`);
    w.lastId = Math.max(w.lastId, rev);
    this.events += 1;
    let e;
    try { e = JSON.parse(data.join('\n')); } catch { this.stats.violation(`watch ${w.i}: unreadable data`); return; }
    if (!e.key || !e.key.startsWith(`g${w.group}.`)) this.stats.violation(`watch ${w.i}: key ${e.key} outside its filter`);
    w.seen.set(e.key, Math.max(w.seen.get(e.key) ?? 0, rev));
  }

  async stop() {
    this.running = false;
    for (const w of this.ws) if (w.req) w.req.destroy();
  }

  /** Waits until every watcher got its first 'synced' (throws after timeoutMs). */
  async waitSynced(timeoutMs = 20000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.ws.every((w) => w.synced)) {
      if (Date.now() > deadline) {
        throw new Error(`${this.ws.filter((w) => !w.synced).length} of ${this.ws.length} watchers not synced after ${timeoutMs} ms`);
      }
      await sleep(50);
    }
  }

  /**
   * Waits (at most timeoutMs) until every watcher saw, for each key of its
   * group written during the watch, a revision at or above the last
   * acknowledged one; call while the watchers still run (before stop()).
   */
  async verify({ timeoutMs = 30000 } = {}) {
    if (this.skipped) return 0;
    const missing = () => {
      const out = [];
      for (const w of this.ws) {
        for (const k of this.kv.keys) {
          if (k.group !== w.group || !k.acked || k.acked.rev <= this.startRev(k)) continue;
          if ((w.seen.get(k.key) ?? 0) < k.acked.rev) out.push(`watcher ${w.i} (${w.connected ? 'connected' : 'not connected'}, last id ${w.lastId}): ${k.key} revision ${k.acked.rev}, saw ${w.seen.get(k.key) ?? 'nothing'}`);
        }
      }
      return out;
    };
    const deadline = Date.now() + timeoutMs;
    let m = missing();
    while (m.length && Date.now() < deadline) {
      await sleep(250);
      m = missing();
    }
    for (const x of m.slice(0, 20)) this.stats.violation(`watch missed ${x}`);
    if (m.length > 20) this.stats.violation(`watch missed ${m.length - 20} more`);
    return this.ws.length;
  }

  /** Revisions up to this were written before the watchers started (updatesOnly). */
  startRev(k) { return this.kv.startRevs ? (this.kv.startRevs.get(k.key) ?? 0) : 0; }

  summary() {
    return this.skipped ? `watch: skipped (${this.skipped})`
      : `watch: ${this.ws.length} watchers, ${this.events} events, ${this.reconnects} resumes`;
  }
}

// ---------------------------------------------------------------------------

/**
 * The mixed load of the reliability tests and the soak.
 * opts: {bases, bucket (KV, must exist), objBucket (created here when obj), obj: bool,
 *        watchers: 0..n, kv: {...KvLoad opts}, objOpts: {...ObjLoad opts},
 *        requestTimeoutMs, replicas, seed, probe (see RunStats)}
 */
export class MixedLoad {
  constructor(opts) {
    this.o = opts;
    this.stats = new RunStats({ requestTimeoutMs: opts.requestTimeoutMs });
    this.stats.probe = opts.probe ?? null;
    this.agent = makeAgent(64);
    const common = { bases: opts.bases, stats: this.stats, agent: this.agent, requestTimeoutMs: opts.requestTimeoutMs };
    this.kv = new KvLoad({ ...common, bucket: opts.bucket, seed: opts.seed ?? 1, ...(opts.kv ?? {}) });
    this.workloads = [this.kv];
    if (opts.obj) {
      this.obj = new ObjLoad({ ...common, bucket: opts.objBucket, replicas: opts.replicas ?? 1, ...(opts.objOpts ?? {}) });
      this.workloads.push(this.obj);
    }
    if (opts.watchers) {
      this.watch = new WatchLoad({ ...common, kv: this.kv, watchers: opts.watchers });
      this.workloads.push(this.watch);
    }
  }

  async prepare() {
    for (const w of this.workloads) await w.prepare();
    this.kv.startRevs = new Map(this.kv.keys.map((k) => [k.key, k.acked.rev]));
  }

  async start() {
    if (this.watch && !this.watch.skipped) {
      // the watchers are open (synced) before the writes they must see
      this.watch.start();
      await this.watch.waitSynced();
    }
    this.stats.mark('load starts');
    for (const w of this.workloads) if (w !== this.watch) w.start();
  }

  /** Stops the writers, checks the watchers caught up, stops them, verifies the final state. */
  async stopAndVerify({ kv } = {}) {
    if (this.kv) await this.kv.stop();
    if (this.obj) await this.obj.stop();
    this.stats.mark('load stopped');
    if (this.watch) { await this.watch.verify(); await this.watch.stop(); }
    await this.kv.verify({ kv });
    if (this.obj) await this.obj.verify();
    this.stats.mark('final state verified');
    this.agent.destroy();
  }

  /** Stops everything without checks (clean-up after a failed test). */
  async abort() {
    for (const w of this.workloads) await w.stop();
    this.agent.destroy();
  }

  summary() {
    return [...this.workloads.map((w) => w.summary()), this.stats.summary()].join('\n');
  }
}
