// Watch fan-out benchmark: N Server-Sent Events watchers of one bucket and
// filter, then a series of writes; reports how long the watchers took to
// open and sync, how many consumers serve them, how long each write took to
// reach every watcher (p50/p99/max over all deliveries), jetgate's memory,
// and its CPU while idle afterwards.
//
// Usage: node bench/watch_fanout.mjs BASE_URL JETGATE_PID NATS_MONITOR_URL
// Environment: WATCHERS (10000), WRITES (50), WRITE_GAP_MS (100), VALUE_BYTES (100)

import http from 'node:http';
import fs from 'node:fs';

const [base, pid, monitor] = process.argv.slice(2);
const WATCHERS = Number(process.env.WATCHERS || 10000);
const WRITES = Number(process.env.WRITES || 50);
const GAP = Number(process.env.WRITE_GAP_MS || 100);
const VALUE = 'v'.repeat(Number(process.env.VALUE_BYTES || 100));
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

function rssKiB() {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function cpuTicks() {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

async function req(method, path, body) {
  const r = await fetch(base + path, { method, body, headers: body && body.startsWith('{') ? { 'Content-Type': 'application/json' } : {} });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return { r, text };
}

function watcher(path, onEvent) {
  return new Promise((resolve, reject) => {
    const rq = http.get(base + path, { agent, headers: { Accept: 'text/event-stream' } });
    rq.on('error', reject);
    rq.on('response', (res) => {
      if (res.statusCode !== 200) { reject(new Error(`watch: ${res.statusCode}`)); res.resume(); return; }
      let buf = '';
      let ev = null;
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          ev = /^event: (\w+)/m.exec(block);
          const id = /^id: (\d+)/m.exec(block);
          onEvent(ev ? ev[1] : 'message', id ? Number(id[1]) : 0);
        }
      });
      resolve({ close: () => { rq.destroy(); res.destroy(); } });
    });
  });
}

async function consumers(stream) {
  const r = await fetch(`${monitor}/jsz?streams=true&consumers=true`);
  const j = await r.json();
  let n = 0;
  for (const a of j.account_details ?? []) for (const s of a.stream_detail ?? []) if (s.name === stream) n += (s.consumer_detail ?? []).length;
  return n;
}

function pct(v, p) {
  if (!v.length) return 0;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const bucket = `fan${Date.now()}`;
await req('PUT', `/v1/kvm/buckets/${bucket}`, '{"history":1}');
await req('PUT', `/v1/kv/${bucket}/k.0`, VALUE);
const rss0 = rssKiB();
const sent = new Map(); // revision -> ms (the time its PUT was sent)
const arrivals = []; // [revision, ms]: an event can come before its PUT's answer
let synced = 0;
const t0 = Date.now();
const ws = [];
const BATCH = 500;
for (let i = 0; i < WATCHERS; i += BATCH) {
  const n = Math.min(BATCH, WATCHERS - i);
  const part = await Promise.all(Array.from({ length: n }, () => watcher(`/v1/kvm/buckets/${bucket}/watch?filter=k.*`, (ev, id) => {
    if (ev === 'synced') synced++;
    else if (ev === 'message' && synced >= WATCHERS) arrivals.push([id, performance.now()]);
  })));
  ws.push(...part);
}
while (synced < WATCHERS) await new Promise((r) => setTimeout(r, 50));
const openMs = Date.now() - t0;
await new Promise((r) => setTimeout(r, 1000));
const cons = await consumers(`KV_${bucket}`);
const rssOpen = rssKiB();
for (let i = 0; i < WRITES; i++) {
  const t = performance.now();
  const { text } = await req('PUT', `/v1/kv/${bucket}/k.${i % 10}`, VALUE);
  sent.set(Number(text), t);
  await new Promise((r) => setTimeout(r, GAP));
}
const want = WRITES * WATCHERS;
const tw = Date.now();
const firstRev = Math.min(...sent.keys());
const countNew = () => arrivals.filter(([id]) => id >= firstRev).length;
while (countNew() < want && Date.now() - tw < 30000) await new Promise((r) => setTimeout(r, 50));
const lat = arrivals.filter(([id]) => sent.has(id)).map(([id, t]) => t - sent.get(id));
const rssPeak = rssKiB();
for (const w of ws) w.close();
await new Promise((r) => setTimeout(r, 3000));
const c0 = cpuTicks();
await new Promise((r) => setTimeout(r, 5000));
const idleCpu = (cpuTicks() - c0) / 100 / 5;
const consAfter = await consumers(`KV_${bucket}`);
console.log(JSON.stringify({
  watchers: WATCHERS,
  open_and_sync_ms: openMs,
  consumers_caught_up: cons,
  consumers_after_close: consAfter,
  writes: WRITES,
  deliveries: lat.length,
  deliveries_expected: want,
  latency_ms: { p50: +pct(lat, 50).toFixed(1), p99: +pct(lat, 99).toFixed(1), max: +pct(lat, 100).toFixed(1) },
  rss_kib: { before: rss0, open: rssOpen, peak: rssPeak, per_watcher: Math.round((rssOpen - rss0) / WATCHERS * 10) / 10 },
  idle_cpu_cores_after: +idleCpu.toFixed(3),
}, null, 1));
process.exit(lat.length === want && cons <= 2 ? 0 : 1);
