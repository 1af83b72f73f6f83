// Watch fan-out benchmark, one side per run: N watchers of one key, then
// ROUNDS rounds of WRITES writes to that key by one writer, and how long
// each write took to reach the watchers.
//
//   jetgate: N Server-Sent Events streams GET /v1/kvm/buckets/{b}/watch?filter=k
//            (current value, `synced`, then live), writes PUT /v1/kv/{b}/k
//   etcd:    N streams POST /v3/watch {"create_request":{"key":"k"}} on etcd's
//            JSON gateway (newline-delimited JSON), writes POST /v3/kv/put
//
// Latency of a delivery = the time the watcher got the change minus the time
// the writer got the write's acknowledgement (negative when a watcher saw it
// first); "last" = the same for the last of the N watchers, once per write.
// Per round: p50 and p99 of every delivery, median and max of "last", and the
// servers' CPU per write; the caller reports the median of the rounds.
//
// Usage: node bench/watch_fanout.mjs jetgate BASE_URL PIDS [NATS_MONITOR_URL]
//        node bench/watch_fanout.mjs etcd BASE_URL PIDS
//        node bench/watch_fanout.mjs report RESULT.json...   (markdown tables)
// PIDS: comma-separated server processes whose RSS and CPU are measured
// (jetgate,nats-server or etcd). Prints one JSON object.
// A write goes out WRITE_GAP_MS after every watcher has the previous one
// (or FANOUT_WAIT_MS passed), so each figure is one fan-out's, not a queue's.
// Environment: WATCHERS (10000), ROUNDS (3), WRITES (20 per round),
// WRITE_GAP_MS (200), FANOUT_WAIT_MS (10000), VALUE_BYTES (100), SETTLE_MS (1000)

import http from 'node:http';
import fs from 'node:fs';

const [mode, ...rest] = process.argv.slice(2);

function median(v) {
  if (!v.length) return null;
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function pct(v, p) {
  if (!v.length) return null;
  const s = Float64Array.from(v).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const r1 = (x) => (x === null || x === undefined ? null : Math.round(x * 10) / 10);

if (mode === 'report') {
  report(rest);
  process.exit(0);
}

const [base, pidList, monitor] = rest;
const pids = pidList.split(',').map(Number);
const WATCHERS = Number(process.env.WATCHERS || 10000);
const ROUNDS = Number(process.env.ROUNDS || 3);
const WRITES = Number(process.env.WRITES || 20);
const GAP = Number(process.env.WRITE_GAP_MS || 200);
const SETTLE = Number(process.env.SETTLE_MS || 1000);
const FANOUT_WAIT = Number(process.env.FANOUT_WAIT_MS || 10000);
const VALUE = 'v'.repeat(Number(process.env.VALUE_BYTES || 100));
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const b64 = (s) => Buffer.from(s).toString('base64');

function procStatus(pid, field) {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}
const rss = () => pids.map((p) => procStatus(p, 'VmRSS'));
const hwm = () => pids.map((p) => procStatus(p, 'VmHWM'));
function cpuTicks() {
  return pids.map((p) => {
    const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const progress = (what) => process.stderr.write(`watch_fanout: ${mode}: ${what}\n`);

// --- the two sides ----------------------------------------------------------

const bucket = `fan${Date.now()}`;
const etcdKey = b64(`fan/${Date.now()}/k`);

const side = {
  jetgate: {
    async setup() {
      await call('PUT', `/v1/kvm/buckets/${bucket}`, '{"history":1}', { 'Content-Type': 'application/json' });
      await call('PUT', `/v1/kv/${bucket}/k`, VALUE);
    },
    watch: { method: 'GET', path: () => `/v1/kvm/buckets/${bucket}/watch?filter=k`, body: null, headers: { Accept: 'text/event-stream' } },
    sep: '\n\n',
    ready: (block) => block.startsWith('event: synced'),
    revision: (block) => { const m = /^id: (\d+)/m.exec(block); return m ? Number(m[1]) : 0; },
    async write() {
      const text = await call('PUT', `/v1/kv/${bucket}/k`, VALUE);
      return Number(text);
    },
  },
  etcd: {
    async setup() {
      await call('POST', '/v3/kv/put', JSON.stringify({ key: etcdKey, value: b64(VALUE) }));
    },
    watch: { method: 'POST', path: () => '/v3/watch', body: JSON.stringify({ create_request: { key: etcdKey } }), headers: { 'Content-Type': 'application/json' } },
    sep: '\n',
    ready: (line) => line.includes('"created":true'),
    revision: (line) => { const m = /"mod_revision":"(\d+)"/.exec(line); return m ? Number(m[1]) : 0; },
    async write() {
      const text = await call('POST', '/v3/kv/put', JSON.stringify({ key: etcdKey, value: b64(VALUE) }));
      return Number(JSON.parse(text).header.revision);
    },
  },
}[mode];
if (!side) {
  console.error(`watch_fanout: unknown side ${mode}`);
  process.exit(2);
}

async function call(method, path, body, headers = {}) {
  const r = await fetch(base + path, { method, body, headers });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text;
}

let ready = 0;
let closed = 0;
let live = false;
const arrivals = []; // [revision, ms]: recorded once every watcher is ready
const counts = new Map(); // revision -> watchers that have it
let waiting = null; // {rev, resolve}: the write whose fan-out the writer waits for

function watcher() {
  return new Promise((resolve, reject) => {
    const w = side.watch;
    const rq = http.request(base + w.path(), { method: w.method, agent, headers: w.headers });
    rq.on('error', reject);
    rq.on('response', (res) => {
      if (res.statusCode !== 200) { reject(new Error(`watch: ${res.statusCode}`)); res.resume(); return; }
      let buf = '';
      let isReady = false;
      res.setEncoding('utf8');
      res.on('data', (d) => {
        const t = performance.now();
        buf += d;
        let i;
        while ((i = buf.indexOf(side.sep)) >= 0) {
          const unit = buf.slice(0, i);
          buf = buf.slice(i + side.sep.length);
          if (!isReady) {
            if (side.ready(unit)) { isReady = true; ready++; }
          } else if (live) {
            const rev = side.revision(unit);
            if (rev) {
              arrivals.push([rev, t]);
              const c = (counts.get(rev) || 0) + 1;
              counts.set(rev, c);
              if (c === WATCHERS && waiting && waiting.rev === rev) waiting.resolve();
            }
          }
        }
      });
      res.on('close', () => { closed++; });
      resolve({ close: () => { rq.destroy(); res.destroy(); } });
    });
    rq.end(w.body ?? undefined);
  });
}

// --- the run ----------------------------------------------------------------

await side.setup();
const rss0 = rss();
const t0 = performance.now();
const ws = [];
const BATCH = 500;
for (let i = 0; i < WATCHERS; i += BATCH) {
  const n = Math.min(BATCH, WATCHERS - i);
  ws.push(...await Promise.all(Array.from({ length: n }, () => watcher())));
}
while (ready < WATCHERS) {
  if (performance.now() - t0 > 300000) throw new Error(`only ${ready} of ${WATCHERS} watchers ready after 300 s`);
  await sleep(20);
}
const openMs = performance.now() - t0;
progress(`${WATCHERS} watchers ready after ${Math.round(openMs)} ms`);
await sleep(SETTLE);
const rssOpen = rss();
const c0 = cpuTicks();
await sleep(5000);
const idleHeld = cpuTicks().map((c, i) => (c - c0[i]) / 100 / 5);
let consumers = null;
if (monitor) consumers = await jszConsumers(`KV_${bucket}`);

live = true;
const rounds = [];
for (let round = 0; round < ROUNDS; round++) {
  arrivals.length = 0;
  counts.clear();
  const acked = new Map(); // revision -> ms the writer had the acknowledgement
  const ackMs = [];
  progress(`round ${round + 1} of ${ROUNDS}`);
  const cpu0 = cpuTicks();
  const client0 = process.cpuUsage();
  for (let i = 0; i < WRITES; i++) {
    const ts = performance.now();
    const rev = await side.write();
    const ta = performance.now();
    acked.set(rev, ta);
    ackMs.push(ta - ts);
    // The next write waits until every watcher has this one (at most
    // FANOUT_WAIT_MS): one fan-out at a time, not a queue of them.
    if ((counts.get(rev) || 0) < WATCHERS) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, FANOUT_WAIT);
        waiting = { rev, resolve: () => { clearTimeout(timer); resolve(); } };
      });
      waiting = null;
    }
    await sleep(GAP);
  }
  const want = WRITES * WATCHERS;
  const tw = performance.now();
  const mine = () => arrivals.reduce((n, [rev]) => n + (acked.has(rev) ? 1 : 0), 0);
  while (mine() < want && performance.now() - tw < 30000) await sleep(50);
  const cpu = cpuTicks().map((c, i) => (c - cpu0[i]) / 100);
  const client = process.cpuUsage(client0);
  const lat = [];
  const last = new Map();
  for (const [rev, t] of arrivals) {
    const a = acked.get(rev);
    if (a === undefined) continue;
    lat.push(t - a);
    if (!last.has(rev) || t > last.get(rev)) last.set(rev, t);
  }
  const lastLat = [...last].map(([rev, t]) => t - acked.get(rev));
  rounds.push({
    deliveries: lat.length,
    expected: want,
    p50_ms: r1(pct(lat, 50)),
    p99_ms: r1(pct(lat, 99)),
    max_ms: r1(pct(lat, 100)),
    last_median_ms: r1(median(lastLat)),
    last_max_ms: r1(lastLat.length ? Math.max(...lastLat) : null),
    ack_median_ms: r1(median(ackMs)),
    ack_max_ms: r1(Math.max(...ackMs)),
    cpu_ms_per_write: cpu.map((c) => r1((c * 1000) / WRITES)),
    client_cpu_ms_per_write: r1((client.user + client.system) / 1000 / WRITES),
  });
}
live = false;
progress('rounds done');
const held = WATCHERS - closed;
const rssEnd = rss();
const hwmEnd = hwm();
for (const w of ws) w.close();
await sleep(3000);
const c1 = cpuTicks();
await sleep(5000);
const idleAfter = cpuTicks().map((c, i) => (c - c1[i]) / 100 / 5);
const consumersAfter = monitor ? await jszConsumers(`KV_${bucket}`) : null;

const med = (k) => r1(median(rounds.map((r) => r[k])));
const out = {
  side: mode,
  watchers: WATCHERS,
  held_during_writes: held,
  open_and_sync_ms: Math.round(openMs),
  rounds: ROUNDS,
  writes_per_round: WRITES,
  write_gap_ms: GAP,
  median: {
    p50_ms: med('p50_ms'),
    p99_ms: med('p99_ms'),
    last_median_ms: med('last_median_ms'),
    last_max_ms: med('last_max_ms'),
    ack_median_ms: med('ack_median_ms'),
    cpu_ms_per_write: pids.map((_, i) => r1(median(rounds.map((r) => r.cpu_ms_per_write[i])))),
    client_cpu_ms_per_write: med('client_cpu_ms_per_write'),
  },
  every_round: rounds,
  complete: rounds.every((r) => r.deliveries === r.expected),
  pids_measured: pids.length,
  rss_kib: { before: rss0, open: rssOpen, end: rssEnd, hwm: hwmEnd },
  idle_cpu_cores: { held: idleHeld.map((x) => +x.toFixed(3)), after_close: idleAfter.map((x) => +x.toFixed(3)) },
  consumers_while_held: consumers,
  consumers_after_close: consumersAfter,
};
console.log(JSON.stringify(out));
process.exit(out.complete && held === WATCHERS && (consumers === null || consumers <= 2) ? 0 : 1);

async function jszConsumers(stream) {
  const r = await fetch(`${monitor}/jsz?streams=true&consumers=true`);
  const j = await r.json();
  let n = 0;
  for (const a of j.account_details ?? []) for (const s of a.stream_detail ?? []) if (s.name === stream) n += (s.consumer_detail ?? []).length;
  return n;
}

// --- report -----------------------------------------------------------------

function report(files) {
  const res = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
  const mib = (k) => (k / 1024).toFixed(1);
  const lines = [];
  lines.push('| N | side | held | open+sync (s) | p50 (ms) | p99 (ms) | last watcher, median (ms) | last watcher, max (ms) | write ack (ms) | RSS held (MiB) | peak RSS (MiB) | CPU per write (ms) | client CPU per write (ms) | idle CPU held (% core) | complete |');
  lines.push('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of res) {
    const name = r.side === 'jetgate' ? 'jetgate (+ nats-server)' : 'etcd';
    const two = (v, f) => (v.length > 1 ? `${f(v[0])} (+ ${f(v[1])})` : f(v[0]));
    lines.push(`| ${r.watchers} | ${name} | ${r.held_during_writes} | ${(r.open_and_sync_ms / 1000).toFixed(1)} | ${r.median.p50_ms} | ${r.median.p99_ms} | `
      + `${r.median.last_median_ms} | ${r.median.last_max_ms} | ${r.median.ack_median_ms} | ${two(r.rss_kib.end, mib)} | ${two(r.rss_kib.hwm, mib)} | `
      + `${two(r.median.cpu_ms_per_write, (x) => x)} | ${r.median.client_cpu_ms_per_write} | ${two(r.idle_cpu_cores.held, (x) => (x * 100).toFixed(1))} | ${r.complete ? 'yes' : 'NO'} |`);
  }
  lines.push('');
  lines.push('<details><summary>Every round</summary>');
  lines.push('');
  lines.push('| N | side | round | deliveries | p50 (ms) | p99 (ms) | max (ms) | last, median (ms) | last, max (ms) | write ack, median (ms) | write ack, max (ms) | CPU per write (ms) | client CPU per write (ms) |');
  lines.push('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of res) {
    r.every_round.forEach((x, i) => {
      lines.push(`| ${r.watchers} | ${r.side} | ${i + 1} | ${x.deliveries}/${x.expected} | ${x.p50_ms} | ${x.p99_ms} | ${x.max_ms} | ${x.last_median_ms} | ${x.last_max_ms} | ${x.ack_median_ms} | ${x.ack_max_ms} | ${x.cpu_ms_per_write.join(' + ')} | ${x.client_cpu_ms_per_write} |`);
    });
  }
  lines.push('');
  lines.push('</details>');
  console.log(lines.join('\n'));
}
