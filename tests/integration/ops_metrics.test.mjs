// GET /metrics after known traffic (http-api.md section 6): the counters
// move by exactly what the traffic did, and the whole output is valid
// Prometheus text format, read by a real parser (npm
// parse-prometheus-text-format) and, where installed, linted by
// `promtool check metrics` (Debian package prometheus).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { http, kvPath, startStack, uniqueName, waitFor } from '../lib/harness.mjs';
import { toolsRequire, which } from '../tools/tools.mjs';

let stack;
let base;
let parsePrometheus;

before(async () => {
  parsePrometheus = toolsRequire()('parse-prometheus-text-format');
  stack = await startStack();
  base = stack.base;
});

after(async () => {
  if (stack) await stack.stop();
});

const scrapes = [];

async function scrape() {
  const r = await http(base, 'GET', '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') || '', /^text\/plain; version=0\.0\.4\b/);
  scrapes.push(r.bytes.length);
  return r.text;
}

/**
 * Reads the whole output: families from the npm parser (name -> {name, help,
 * type, metrics}), samples from a strict reading of every sample line
 * (name, labels, value), which also rejects any line that is not a comment,
 * a blank line or a well-formed sample.
 */
function read(text) {
  const fams = new Map();
  for (const f of parsePrometheus(text)) fams.set(f.name, f);
  const samples = [];
  const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*",?)*)\})? (\S+)(?: -?\d+)?$/;
  const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"/g;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    assert.ok(m, `not a sample line: '${line}'`);
    const labels = {};
    for (const l of (m[2] || '').matchAll(LABEL)) labels[l[1]] = l[2];
    const v = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    assert.ok(m[3] === 'NaN' || !Number.isNaN(v), `bad value in '${line}'`);
    samples.push({ name: m[1], labels, value: v });
  }
  return { fams, samples };
}

function labelsMatch(have, want) {
  return Object.entries(want).every(([k, v]) => have[k] === v);
}

/** Sum of the samples called `name` whose labels include `labels`. */
function value(r, name, labels = {}) {
  let sum = 0;
  for (const s of r.samples) if (s.name === name && labelsMatch(s.labels, labels)) sum += s.value;
  return sum;
}

/** One histogram series: {buckets: [[le, count]...] in output order, count, sum}, or undefined. */
function histogram(r, name, labels) {
  const buckets = [];
  let count;
  let sum;
  for (const s of r.samples) {
    if (!labelsMatch(s.labels, labels)) continue;
    if (s.name === `${name}_bucket`) buckets.push([s.labels.le, s.value]);
    else if (s.name === `${name}_count`) count = s.value;
    else if (s.name === `${name}_sum`) sum = s.value;
  }
  return count === undefined ? undefined : { buckets, count, sum };
}

describe('/metrics after known traffic', () => {
  let before0;
  let after0;
  let text;
  let bodyIn = 0;
  let bodyOut = 0;

  before(async () => {
    const b = uniqueName('metrics');
    const first = await scrape();
    before0 = read(first);
    const expectStatus = async (method, p, status, body) => {
      const r = await http(base, method, p, { body });
      assert.equal(r.status, status, `${method} ${p}: ${r.text}`);
      if (body !== undefined) bodyIn += Buffer.byteLength(typeof body === 'string' ? body : JSON.stringify(body));
      bodyOut += r.bytes.length;
      return r;
    };
    await expectStatus('PUT', `/v1/kvm/buckets/${b}`, 201, JSON.stringify({ history: 5 }));
    for (let i = 0; i < 3; i++) await expectStatus('GET', kvPath(b, 'missing'), 404);
    await expectStatus('PUT', kvPath(b, 'k'), 201, 'hello');
    await expectStatus('PUT', kvPath(b, 'k'), 201, 'world, again');
    await expectStatus('GET', kvPath(b, 'k'), 200);
    for (let i = 0; i < 2; i++) await expectStatus('GET', '/no/such/route', 404);
    await expectStatus('POST', '/healthz', 405, 'x');

    // Latencies are recorded when a response has gone out, which may be
    // just after the client has it: scrape until all 4 kvGet are counted.
    text = await waitFor(async () => {
      const t = await scrape();
      const h = histogram(read(t), 'jetgate_http_request_duration_seconds', { route: 'kvGet' });
      const was = histogram(before0, 'jetgate_http_request_duration_seconds', { route: 'kvGet' });
      return h && h.count - (was ? was.count : 0) >= 4 ? t : false;
    }, 5000, 50, 'the kvGet latencies to be counted');
    after0 = read(text);
  });

  test('requests are counted by route, method and status', () => {
    const delta = (labels) => value(after0, 'jetgate_http_requests_total', labels)
      - value(before0, 'jetgate_http_requests_total', labels);
    assert.equal(delta({ route: 'kvBucketPut', method: 'PUT', code: '201' }), 1);
    assert.equal(delta({ route: 'kvGet', method: 'GET', code: '404' }), 3);
    assert.equal(delta({ route: 'kvGet', method: 'GET', code: '200' }), 1);
    assert.equal(delta({ route: 'kvPut', method: 'PUT', code: '201' }), 2);
    assert.equal(delta({ code: '404' }), 5, '3 missing keys and 2 unknown routes');
    assert.equal(delta({ code: '405' }), 1);
    assert.equal(delta({ route: 'kvPut' }), 2, 'no other kvPut status');
    // the scrapes themselves: every one before the last was answered 200
    assert.equal(delta({ route: 'metrics', code: '200' }), scrapes.length - 1);
    assert.equal(value(after0, 'jetgate_http_requests_total', { route: 'kvDelete' }), 0);
  });

  test('the latency histogram counts every request of a route', () => {
    assert.equal(after0.fams.get('jetgate_http_request_duration_seconds')?.type, 'HISTOGRAM');
    const h = histogram(after0, 'jetgate_http_request_duration_seconds', { route: 'kvGet' });
    const was = histogram(before0, 'jetgate_http_request_duration_seconds', { route: 'kvGet' });
    assert.ok(h, 'a kvGet histogram');
    assert.equal(h.count - (was ? was.count : 0), 4);
    assert.ok(h.buckets.length >= 5, `${h.buckets.length} buckets`);
    let prev = 0;
    let prevLe = -Infinity;
    for (const [le, n] of h.buckets) {
      const bound = le === '+Inf' ? Infinity : Number(le);
      assert.ok(bound > prevLe, `bucket bounds increase (${le})`);
      assert.ok(n >= prev, `cumulative buckets (${le})`);
      prev = n;
      prevLe = bound;
    }
    assert.equal(h.buckets.at(-1)[0], '+Inf');
    assert.equal(h.buckets.at(-1)[1], h.count);
    assert.ok(h.sum >= 0 && h.sum < 60, `sum ${h.sum}`);
  });

  test('body bytes in and out are counted exactly', () => {
    const inDelta = value(after0, 'jetgate_http_received_bytes_total') - value(before0, 'jetgate_http_received_bytes_total');
    assert.equal(inDelta, bodyIn, 'request body bytes');
    // A response is counted when it is queued: each scrape's own body is in
    // the next scrape, not in itself.
    const scrapeBytes = scrapes.slice(0, -1).reduce((a, n) => a + n, 0);
    const outDelta = value(after0, 'jetgate_http_sent_bytes_total') - value(before0, 'jetgate_http_sent_bytes_total');
    assert.equal(outDelta, bodyOut + scrapeBytes, 'response body bytes');
  });

  test('NATS state, open watchers and process gauges', () => {
    assert.equal(value(after0, 'jetgate_nats_connected'), 1);
    assert.equal(value(after0, 'jetgate_nats_reconnects_total'), 0);
    assert.equal(value(after0, 'jetgate_nats_request_timeouts_total'), 0);
    assert.equal(value(after0, 'jetgate_nats_requests_inflight'), 0);
    // the scrape itself may count as active
    assert.ok(value(after0, 'jetgate_http_requests_active') <= 1);
    assert.equal(value(after0, 'jetgate_watchers_open'), 0);
    assert.ok(value(after0, 'process_resident_memory_bytes') > 1 << 20);
    assert.ok(value(after0, 'process_open_fds') >= 3);
  });

  test('every family has HELP and a TYPE, counters end in _total, names are unique', () => {
    const seen = new Set();
    for (const line of text.split('\n')) {
      const m = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (!m) continue;
      const key = `${m[1]} ${m[2]}`;
      assert.ok(!seen.has(key), `duplicate ${key}`);
      seen.add(key);
    }
    for (const [name, f] of after0.fams) {
      assert.ok(f.help && f.help.length > 0, `${name} has HELP`);
      assert.ok(['COUNTER', 'GAUGE', 'HISTOGRAM', 'SUMMARY', 'UNTYPED'].includes(f.type), `${name}: ${f.type}`);
      assert.ok(seen.has(`TYPE ${name}`), `${name} has an explicit TYPE`);
      if (f.type === 'COUNTER') assert.match(name, /_total$/);
    }
    assert.ok(after0.fams.size >= 10, `${after0.fams.size} families`);
    for (const s of after0.samples) {
      const fam = [s.name, s.name.replace(/_(bucket|sum|count)$/, '')].find((n) => after0.fams.has(n));
      assert.ok(fam, `sample ${s.name} belongs to a family with HELP and TYPE`);
    }
  });

  test('promtool check metrics accepts the whole output', () => {
    const promtool = which('promtool');
    assert.ok(promtool, 'promtool is not installed: apt-get install prometheus (tests/setup.sh lists it)');
    const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no lint findings');
  });
});
