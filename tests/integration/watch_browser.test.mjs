// KV watch in a real browser: headless Chromium loads a page from a small
// HTTP server of this test (its own origin), the page opens an EventSource
// on jetgate's watch route (another origin: CORS) and reports every event
// it gets back to that server, where the test checks them: the current
// values, `synced`, a change written after `synced`, the browser's own
// reconnect with Last-Event-ID, an origin outside the allow-list, and a
// bearer token given as `?authorization=`.
//
// Chromium is $JETGATE_CHROMIUM when set, else /usr/bin/chromium (Debian
// `chromium`) or `chromium` in PATH.
// Without it the tests are skipped, unless JETGATE_REQUIRE_BROWSER is set
// (CI sets it), when they fail.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import path from 'node:path';

import {
  JETGATE_BIN, createKvBucket, http, makeTempDir, removeTempDir, startJetgate, startNats, uniqueName,
  waitFor,
} from '../lib/harness.mjs';

const TIMEOUT_MS = 30000; // a browser start on a loaded 2-core machine can take seconds

function findChromium() {
  const cands = process.env.JETGATE_CHROMIUM ? [process.env.JETGATE_CHROMIUM] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
  if (!process.env.JETGATE_CHROMIUM) for (const dir of (process.env.PATH || '').split(':')) if (dir) cands.push(path.join(dir, 'chromium'));
  return cands.find((c) => {
    try { return c && fs.statSync(c).isFile(); } catch { return false; }
  });
}

const CHROMIUM = findChromium();
const REQUIRED = !!process.env.JETGATE_REQUIRE_BROWSER && process.env.JETGATE_REQUIRE_BROWSER !== '0';
// node:test skips a test whose `skip` option is a string; a required but
// missing browser runs the tests, which then fail in before().
const skip = !CHROMIUM && !REQUIRED ? 'chromium not found (apt-get install chromium; JETGATE_CHROMIUM=path)' : false;

// The page: one EventSource on the URL given as ?src=, every event posted
// back to /report with a sequence number (the posts may overtake each other).
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>jetgate watch</title>
<script>
let seq = 0;
const report = (r) => fetch('/report', { method: 'POST', body: JSON.stringify({ seq: seq++, ...r }) });
window.onerror = (msg) => report({ type: 'page-error', msg: String(msg) });
const src = new URLSearchParams(location.search).get('src');
const es = new EventSource(src);
es.onopen = () => report({ type: 'open' });
es.onmessage = (e) => {
  const entry = JSON.parse(e.data);
  const value = entry.value === undefined ? null
    : new TextDecoder().decode(Uint8Array.from(atob(entry.value), (c) => c.charCodeAt(0)));
  report({ type: 'message', lastEventId: e.lastEventId, entry, value });
};
es.addEventListener('synced', (e) => report({ type: 'synced', data: JSON.parse(e.data) }));
es.onerror = () => report({ type: 'error', readyState: es.readyState });
report({ type: 'loaded', origin: location.origin });
</script>
`;

/** An HTTP server for the page; its origin is http://127.0.0.1:PORT. */
function pageServer() {
  return new Promise((resolve, reject) => {
    const reports = [];
    const srv = nodeHttp.createServer((req, res) => {
      if (req.method === 'GET' && req.url.startsWith('/?')) {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(PAGE);
        return;
      }
      if (req.method === 'POST' && req.url === '/report') {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (d) => { body += d; });
        req.on('end', () => {
          try { reports.push(JSON.parse(body)); } catch { /* not from the page */ }
          res.writeHead(204);
          res.end();
        });
        return;
      }
      res.writeHead(404);
      res.end();
    });
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const origin = `http://127.0.0.1:${srv.address().port}`;
      resolve({
        origin,
        reports,
        /**
         * The reports so far in the page's order, up to the first one not
         * yet arrived: a post overtaken by a later one (a synced overtaken
         * by the next message) is waited for, not read as missing.
         */
        events: () => {
          const sorted = [...reports].sort((a, b) => a.seq - b.seq);
          let n = 0;
          while (n < sorted.length && sorted[n].seq === n) n++;
          return sorted.slice(0, n);
        },
        close: () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(() => r()); }),
      });
    });
  });
}

const browsers = new Set();
process.on('exit', () => {
  for (const b of browsers) try { process.kill(-b.pid, 'SIGKILL'); } catch { /* gone */ }
});

/**
 * Starts headless Chromium on `url` (in a process group of its own, so that
 * close() ends its helper processes too). Returns {close(), log()}.
 */
function openBrowser(url) {
  const dir = makeTempDir('jetgate-chromium-');
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage', '--disable-extensions', '--disable-default-apps',
    `--user-data-dir=${dir}`, url,
  ];
  const proc = spawn(CHROMIUM, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HOME: dir } });
  browsers.add(proc);
  let log = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { if (log.length < 20000) log += d; });
  const exited = new Promise((r) => proc.once('exit', r));
  return {
    log: () => log,
    async close() {
      try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
      await exited;
      browsers.delete(proc);
      removeTempDir(dir);
    },
  };
}

/**
 * Opens the page of `page` with an EventSource on `watchUrl` and waits until
 * `until(events)` is true; an EventSource that gave up (CLOSED) ends the wait
 * early unless `closed` is expected. Returns the browser, still open.
 */
async function browse(page, watchUrl, until, what, { closed = false } = {}) {
  const b = openBrowser(`${page.origin}/?src=${encodeURIComponent(watchUrl)}`);
  try {
    await waitFor(() => {
      const evs = page.events();
      if (until(evs)) return true;
      if (!closed && evs.some((e) => e.type === 'error' && e.readyState === 2)) {
        throw Object.assign(new Error(`the page's EventSource gave up while waiting for ${what}`), { fatal: true });
      }
      return false;
    }, TIMEOUT_MS, 50, what);
  } catch (e) {
    e.message += `\npage events: ${JSON.stringify(page.events())}\nchromium log (tail): ${b.log().slice(-2000)}`;
    await b.close();
    throw e;
  }
  return b;
}

function hash(token) {
  return execFileSync(JETGATE_BIN, ['--hash-token'], { input: `${token}\n` }).toString().trim();
}

const TOKEN = 'brw-5e0c7a91d3'; // the page's: watch only
const ADMIN = 'adm-c4a19e27b8'; // the test's writes
const asAdmin = { Authorization: `Bearer ${ADMIN}` };
let nats;
let jg; // open access, CORS for `allowed` only
let jgAuth; // bearer tokens, CORS for `allowed`
let allowed;
let other;
let dir;

before(async () => {
  if (skip) return;
  if (!CHROMIUM) throw new Error('JETGATE_REQUIRE_BROWSER is set but chromium was not found (apt-get install chromium)');
  allowed = await pageServer();
  other = await pageServer();
  dir = makeTempDir('jetgate-browser-');
  const tokens = path.join(dir, 'tokens');
  fs.writeFileSync(tokens, `page ${hash(TOKEN)} watch@brw_*\nadmin ${hash(ADMIN)} all@*\n`);
  nats = await startNats();
  jg = await startJetgate({ natsUrl: nats.url, args: ['--cors-origins', allowed.origin, '--watch-keepalive', '1s'] });
  jgAuth = await startJetgate({ natsUrl: nats.url, args: ['--cors-origins', allowed.origin, '--tokens-file', tokens] });
});

after(async () => {
  for (const s of [jg, jgAuth]) if (s) await s.stop();
  if (nats) await nats.destroy();
  for (const p of [allowed, other]) if (p) await p.close();
  if (dir) removeTempDir(dir);
});

async function put(base, bucket, key, value, headers = {}) {
  const r = await http(base, 'PUT', `/v1/kv/${bucket}/${key}`, { body: value, headers });
  assert.equal(r.status, 201, r.text);
  return Number(r.headers.get('x-nats-kv-revision'));
}

const messages = (evs) => evs.filter((e) => e.type === 'message');
const syncedAt = (evs) => evs.findIndex((e) => e.type === 'synced');

/** Current values, synced, then a change written after synced, as the page saw them. */
async function checkWatch(base, bucket, query, authHeaders) {
  const r1 = await put(base, bucket, 'greeting', 'hello, wörld', authHeaders);
  const r2 = await put(base, bucket, 'color', 'blue', authHeaders);
  allowed.reports.length = 0;
  const b = await browse(allowed, `${base}/v1/kvm/buckets/${bucket}/watch${query}`,
    (evs) => syncedAt(evs) >= 0 && messages(evs).length >= 2, 'the current values and synced in the page');
  try {
    let evs = allowed.events();
    const s = syncedAt(evs);
    assert.deepEqual(evs.slice(0, s).filter((e) => e.type !== 'loaded' && e.type !== 'open').map((e) => [e.type, e.entry.key, e.value, e.lastEventId]),
      [['message', 'greeting', 'hello, wörld', String(r1)], ['message', 'color', 'blue', String(r2)]],
      'the current values, in revision order, before synced');
    assert.deepEqual(evs[s].data, { revision: r2 });
    assert.ok(evs.some((e) => e.type === 'open'), 'onopen fired');
    assert.ok(!evs.some((e) => e.type === 'error' || e.type === 'page-error'), 'no error');

    const r3 = await put(base, bucket, 'color', 'green', authHeaders);
    await waitFor(() => messages(allowed.events()).length >= 3, TIMEOUT_MS, 50, 'the live change in the page');
    evs = allowed.events();
    const live = messages(evs).slice(2);
    assert.equal(live.length, 1, `one live event: ${JSON.stringify(live)}`);
    assert.ok(evs.indexOf(live[0]) > syncedAt(evs), 'the live change comes after synced');
    assert.equal(live[0].entry.key, 'color');
    assert.equal(live[0].entry.operation, 'PUT');
    assert.equal(live[0].entry.revision, r3);
    assert.equal(live[0].value, 'green');
    assert.equal(live[0].lastEventId, String(r3), 'lastEventId is the revision');
  } finally {
    await b.close();
  }
}

test('a page of an allowed origin gets the current values, synced and a live change', { skip, timeout: 120000 }, async () => {
  const bucket = uniqueName('brw');
  await createKvBucket(jg.base, bucket, { history: 5 });
  await checkWatch(jg.base, bucket, '', {});
});

test('the browser reconnects with Last-Event-ID after jetgate restarts and misses nothing', { skip, timeout: 120000 }, async () => {
  const bucket = uniqueName('brw');
  await createKvBucket(jg.base, bucket, { history: 10 });
  const r1 = await put(jg.base, bucket, 'k', 'one');
  allowed.reports.length = 0;
  const b = await browse(allowed, `${jg.base}/v1/kvm/buckets/${bucket}/watch`,
    (evs) => syncedAt(evs) >= 0, 'synced in the page');
  try {
    // Stop jetgate: the stream ends, the browser retries (retry: 2000) while
    // changes are written behind jetgate's back, then jetgate comes back on
    // the same port and the browser's reconnect carries Last-Event-ID.
    const port = jg.port;
    await jg.stop();
    await waitFor(() => allowed.events().some((e) => e.type === 'error'), TIMEOUT_MS, 50, 'the page to see the stream end');
    // k twice: a fresh start (current values) would skip r2; Last-Event-ID must not.
    const r2 = await put(jgAuth.base, bucket, 'k', 'two', asAdmin);
    const r3 = await put(jgAuth.base, bucket, 'k', 'three', asAdmin);
    const r4 = await put(jgAuth.base, bucket, 'j', 'four', asAdmin);
    jg = await startJetgate({ natsUrl: nats.url, port, args: ['--cors-origins', allowed.origin, '--watch-keepalive', '1s'] });
    await waitFor(() => messages(allowed.events()).length >= 4, TIMEOUT_MS, 100, 'the changes made while jetgate was down');
    const r5 = await put(jg.base, bucket, 'k', 'five');
    await waitFor(() => messages(allowed.events()).length >= 5, TIMEOUT_MS, 50, 'a live change after the reconnect');
    const evs = allowed.events();
    assert.deepEqual(messages(evs).map((e) => [e.entry.revision, e.value]),
      [[r1, 'one'], [r2, 'two'], [r3, 'three'], [r4, 'four'], [r5, 'five']], 'every revision once, in order');
    assert.ok(evs.filter((e) => e.type === 'open').length >= 2, 'the browser opened the stream again');
    // Each stream ends its catch-up with synced: the first after r1, the
    // resumed one after the changes it missed.
    assert.deepEqual(evs.filter((e) => e.type === 'synced').map((e) => e.data.revision), [r1, r4]);
  } finally {
    await b.close();
  }
});

test('a page of an origin outside the allow-list gets no event', { skip, timeout: 120000 }, async () => {
  const bucket = uniqueName('brw');
  await createKvBucket(jg.base, bucket, { history: 5 });
  await put(jg.base, bucket, 'k', 'v');
  other.reports.length = 0;
  const b = await browse(other, `${jg.base}/v1/kvm/buckets/${bucket}/watch`,
    (evs) => evs.some((e) => e.type === 'error'), 'an EventSource error in the page', { closed: true });
  try {
    const evs = other.events();
    assert.deepEqual(evs.filter((e) => e.type === 'message' || e.type === 'synced' || e.type === 'open'), [],
      'the browser hands the page nothing from a response without Access-Control-Allow-Origin');
    assert.equal(evs.find((e) => e.type === 'error').readyState, 2, 'EventSource.CLOSED: the browser gives up');
  } finally {
    await b.close();
  }
});

test('with bearer tokens the page watches through ?authorization=, and without one gets nothing', { skip, timeout: 120000 }, async () => {
  const bucket = uniqueName('brw');
  const c = await http(jgAuth.base, 'PUT', `/v1/kvm/buckets/${bucket}`, { body: { history: 5 }, headers: asAdmin });
  assert.equal(c.status, 201, c.text);

  allowed.reports.length = 0;
  const b = await browse(allowed, `${jgAuth.base}/v1/kvm/buckets/${bucket}/watch`,
    (evs) => evs.some((e) => e.type === 'error'), 'an EventSource error in the page (no token)', { closed: true });
  try {
    const evs = allowed.events();
    assert.deepEqual(evs.filter((e) => e.type === 'message' || e.type === 'synced' || e.type === 'open'), []);
    assert.equal(evs.find((e) => e.type === 'error').readyState, 2, 'EventSource.CLOSED after the 401');
  } finally {
    await b.close();
  }

  await checkWatch(jgAuth.base, bucket, `?authorization=${encodeURIComponent(TOKEN)}`, asAdmin);
});
