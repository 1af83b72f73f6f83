// Blocking-read benchmark: HELD reads (default 10,000) held at once on as
// many keys, one connection each, then every key written once.  Reports
// jetgate's RSS with all of them held and the time from each write's
// acknowledgement (the PUT's answer) to the held read's answer.
// Run by bench/held.sh (`make bench-held`), which raises the file limit.
import net from 'node:net';
import fs from 'node:fs';
import { startStack, http, createKvBucket, sleep, waitFor } from '../tests/lib/harness.mjs';

const HELD = Number(process.env.HELD || 10000);
const WRITERS = Number(process.env.WRITERS || 16);

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function pct(v, p) {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const stack = await startStack({
  args: ['--max-connections', String(HELD + 1000), '--max-held-reads', String(HELD + 1000),
    '--max-wait', '5m', '--log-level', 'warn', '--access-log', 'false'],
});
try {
  const base = stack.base;
  const { port } = new URL(base);
  const bucket = 'held';
  await createKvBucket(base, bucket, { history: 1 });
  const rssStart = rssMiB(stack.jg.proc.pid);

  // the keys, then one held read per key at its current revision
  const revs = new Array(HELD).fill(0);
  let next = 0;
  await Promise.all(Array.from({ length: WRITERS }, async () => {
    while (next < HELD) {
      const i = next++;
      const r = await http(base, 'PUT', `/v1/kv/${bucket}/k${i}`, { body: 'x'.repeat(100) });
      revs[i] = Number(r.headers.get('x-nats-kv-revision'));
    }
  }));
  const answered = new Array(HELD).fill(0);
  const statuses = new Map();
  const socks = [];
  const t0 = Date.now();
  for (let i = 0; i < HELD; i++) {
    const s = net.connect(Number(port), '127.0.0.1');
    s.setNoDelay(true);
    let buf = '';
    s.on('data', (d) => {
      if (answered[i]) return;
      buf += d;
      const m = /^HTTP\/1\.1 (\d+)/.exec(buf);
      if (m && buf.includes('\r\n\r\n')) {
        answered[i] = performance.now();
        statuses.set(m[1], (statuses.get(m[1]) || 0) + 1);
      }
    });
    s.on('error', () => {});
    s.write(`GET /v1/kv/${bucket}/k${i}?wait=5m HTTP/1.1\r\nHost: x\r\nIf-None-Match: "${revs[i]}"\r\n\r\n`);
    socks.push(s);
    if (i % 500 === 499) await sleep(20);
  }
  const gauge = async () => Number(/^jetgate_held_reads (\d+)$/m.exec((await http(base, 'GET', '/metrics')).text)?.[1]);
  await waitFor(async () => (await gauge()) === HELD, 120000, 200, `${HELD} held reads`);
  const holdSecs = (Date.now() - t0) / 1000;
  await sleep(1000);
  const rssHeld = rssMiB(stack.jg.proc.pid);
  const natsRss = rssMiB(stack.nats.proc.pid);

  // every key written once; latency from the PUT's answer to the held answer
  const acked = new Array(HELD).fill(0);
  next = 0;
  const w0 = Date.now();
  await Promise.all(Array.from({ length: WRITERS }, async () => {
    while (next < HELD) {
      const i = next++;
      await http(base, 'PUT', `/v1/kv/${bucket}/k${i}`, { body: 'y'.repeat(100) });
      acked[i] = performance.now();
    }
  }));
  const writeSecs = (Date.now() - w0) / 1000;
  try {
    await waitFor(() => answered.every(Boolean), 60000, 50, 'every held read answered');
  } catch (e) {
    const missing = answered.map((a, i) => (a ? -1 : i)).filter((i) => i >= 0);
    console.error(`not answered: ${missing.length} (${missing.slice(0, 10).join(', ')}); held now ${await gauge()}`);
    throw e;
  }
  const lat = answered.map((a, i) => a - acked[i]);
  const rssEnd = rssMiB(stack.jg.proc.pid);
  for (const s of socks) s.destroy();
  const out = {
    held: HELD,
    holdSecs,
    rssStartMiB: +rssStart.toFixed(1),
    rssHeldMiB: +rssHeld.toFixed(1),
    natsRssMiB: +natsRss.toFixed(1),
    rssAfterMiB: +rssEnd.toFixed(1),
    writeSecs,
    writesPerSec: Math.round(HELD / writeSecs),
    statuses: Object.fromEntries(statuses),
    p50: +pct(lat, 50).toFixed(1),
    p99: +pct(lat, 99).toFixed(1),
    max: +Math.max(...lat).toFixed(1),
    min: +Math.min(...lat).toFixed(1),
  };
  console.log(JSON.stringify(out));
} finally {
  await stack.stop();
}
