// Progress events, as a property: a watcher whose filter matches nothing
// while other keys change at full speed gets `event: progress` with
// `id: R` and `data: {"revision":R}`, R growing, and a resume with
// Last-Event-ID = R delivers exactly the later matching changes: no replay,
// no reset.  Each round: a writer (the official NATS JavaScript client) on
// keys the watch does not want, matching writes at random moments, readers
// that cut their connection at random points and resume from the last id
// they saw (a change or a progress event).  Checked for every reader over
// all its connections: the matching revisions arrive once each, in order,
// none missing; no `reset`; no `progress` before `synced` in any
// connection; progress ids increase and are never below a change the
// connection delivered; some resumes start from a progress id.  Server-side
// filters (one key pattern), filters matched by jetgate (a prefix, two
// patterns) and object watches (one name written again and again, so a
// revision may be replaced before a reader comes back, and a resume may
// get `reset` when the revision after its point really is gone).  WATCH_PROGRESS_ROUNDS sets the rounds per case
// (default 2, about a minute; `make check-watch-long` runs 20).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, uniqueName, sleep, http, createKvBucket, connectNats } from '../lib/harness.mjs';
import { openSse } from './watch_sse.mjs';

const ROUNDS = Number(process.env.WATCH_PROGRESS_ROUNDS || 2);
const PROGRESS_MS = 300;

const stops = [];
after(async () => {
  for (const fn of stops.reverse()) {
    try { await fn(); } catch { /* keep going */ }
  }
});

const rnd = (n) => Math.floor(Math.random() * n);

/**
 * A reader that cuts its connection at random points and resumes from the
 * last id it saw.  st.sessions: the events of every connection;
 * st.got: matching revisions over all connections.
 */
function reader(base, path) {
  const st = { path, sessions: [], got: [], last: null, progress: [], resumedFromProgress: 0, stop: false, errors: [] };
  st.done = (async () => {
    while (!st.stop) {
      const headers = st.last !== null ? { 'Last-Event-ID': String(st.last.id) } : {};
      const s = await openSse(base, path, { headers });
      if (s.status !== 200) {
        st.errors.push(`${s.status} ${s.body}`);
        return;
      }
      if (st.last?.progress) st.resumedFromProgress++;
      // cut after a random time: before synced, in the middle of quiet
      // periods, after a few progress events
      await sleep(rnd(4) === 0 ? rnd(50) : 100 + rnd(1500));
      s.close();
      st.sessions.push({ resume: headers['Last-Event-ID'] ?? null, events: s.events });
      for (const e of s.events) {
        if (e.event === 'message') {
          st.got.push(e.json.revision);
          st.last = { id: Number(e.id), progress: false };
        } else if (e.event === 'progress') {
          st.progress.push(Number(e.id));
          st.last = { id: Number(e.id), progress: true };
        }
      }
    }
  })();
  return st;
}

/**
 * The properties of one reader, given the matching revisions written.
 * replaced (objects, written again and again): a matching revision may be
 * missing when the same name was written again before the reader came back
 * (object metas are rollups), and a resume may get `reset` when the
 * bucket's first sequence has passed the resume point (removed(seq) says
 * whether a sequence is gone): the stream then starts over with the
 * current values.
 */
async function check(st, due, ctx, replaced, removed) {
  const name = `${ctx} ${st.path}`;
  assert.deepEqual(st.errors, [], `${name}: answers`);
  for (const [i, { resume, events }] of st.sessions.entries()) {
    const where = `${name} connection ${i} (resume ${resume})`;
    const synced = events.findIndex((e) => e.event === 'synced');
    const firstProgress = events.findIndex((e) => e.event === 'progress');
    if (firstProgress >= 0) assert.ok(synced >= 0 && synced < firstProgress, `${where}: no progress before synced`);
    const reset = events.some((e) => e.event === 'reset');
    if (!replaced) assert.ok(!reset, `${where}: no reset`);
    else if (reset) assert.ok(await removed(Number(resume) + 1), `${where}: reset, yet ${Number(resume) + 1} is still stored`);
    assert.ok(!events.some((e) => e.event === 'overflow' || e.event === 'error'), `${where}: no overflow or error`);
    let top = resume === null || reset ? 0 : Number(resume);
    for (const e of events) {
      if (e.event === 'message') {
        assert.equal(Number(e.id), e.json.revision, `${where}: id is the revision`);
        assert.ok(e.json.revision > top, `${where}: change ${e.json.revision} after id ${top} (replayed or out of order)`);
        top = e.json.revision;
      } else if (e.event === 'progress') {
        assert.equal(Number(e.id), e.json.revision, `${where}: a progress event's id is its revision`);
        assert.ok(e.json.revision > top, `${where}: progress ${e.json.revision} after id ${top}`);
        top = e.json.revision;
      }
    }
  }
  if (replaced) {
    assert.ok(st.got.every((r) => due.includes(r)) && st.got.at(-1) === due.at(-1), `${name}: matching changes only, up to the last: ${st.got} of ${due}`);
    for (let i = 1; i < st.got.length; i++) {
      // in order across connections, except the current value again after a reset
      if (st.got[i] <= st.got[i - 1]) assert.ok(st.sessions.some((x) => x.events.some((e) => e.event === 'reset')), `${name}: ${st.got[i]} after ${st.got[i - 1]} with no reset`);
    }
  } else {
    assert.deepEqual(st.got, due, `${name}: exactly the matching changes, once each, in order`);
  }
}

/** One round of case c: a writer of other keys, matching writes, readers. */
async function round(stack, nats, c, ctx) {
  const { base } = stack;
  const b = uniqueName(c.kind === 'kv' ? 'pg' : 'pgo');
  let put;
  if (c.kind === 'kv') {
    await createKvBucket(base, b, { history: 1 });
    const kv = await nats.kvm.open(b);
    put = async (key, v) => kv.put(key, v);
  } else {
    const { Objm } = await import('@nats-io/obj');
    const os = await new Objm(nats.js).create(b);
    put = async (key, v) => (await os.putBlob({ name: key }, new TextEncoder().encode(v))).revision;
  }
  const path = `/v1/${c.kind === 'kv' ? 'kvm' : 'objm'}/buckets/${b}/watch${c.query}`;
  const stream = `${c.kind === 'kv' ? 'KV' : 'OBJ'}_${b}`;
  const removed = async (seq) => {
    try {
      return (await nats.jsm.streams.getMessage(stream, { seq })) === null;
    } catch {
      return true; // no message found
    }
  };
  // an initial matching value, so that the first connection delivers a
  // change, then only non-matching writes for a while
  const due = [await put(c.match(0), 'first')];
  const readers = [reader(base, path), reader(base, path)];
  let writing = true;
  const other = (async () => {
    for (let i = 0; writing; i++) await put(c.other(i), `x${i}`);
  })();
  const deadline = Date.now() + 4000 + rnd(2000);
  for (let i = 1; Date.now() < deadline; i++) {
    await sleep(rnd(4) === 0 ? 1500 + rnd(1000) : rnd(400)); // quiet periods longer than watch_progress
    due.push(await put(c.match(i), `m${i}`));
  }
  await sleep(1000 + rnd(500)); // the readers' last resumes happen in a quiet period
  // ... which lasts, on a loaded machine, until every reader has had a
  // progress event past the last matching change (asserted below)
  const quiet = Date.now();
  const progressed = (r) => r.progress.some((p) => p > due.at(-1));
  while (readers.some((r) => !progressed(r)) && Date.now() - quiet < 15000) await sleep(50);
  writing = false;
  await other;
  due.push(await put(c.match(9999), 'last'));
  const t0 = Date.now();
  while (readers.some((r) => !r.got.includes(due.at(-1))) && Date.now() - t0 < 20000) await sleep(50);
  for (const r of readers) r.stop = true;
  await Promise.all(readers.map((r) => r.done));
  for (const r of readers) {
    await check(r, due, ctx, c.kind === 'obj', removed);
    assert.ok(r.progress.length > 0, `${ctx} ${path}: progress events while other keys changed`);
    assert.ok(Math.max(...r.progress) > due.at(-2), `${ctx} ${path}: a progress revision past the matching changes`);
  }
  return readers;
}

const cases = [
  // one key pattern: nats-server filters, jetgate never sees the other keys
  { name: 'kv, server filter', kind: 'kv', query: '?filter=m.*', match: (i) => `m.${i}`, other: (i) => `o.${i % 20}` },
  // a prefix and two patterns: one consumer on every key, jetgate filters
  { name: 'kv, prefix', kind: 'kv', query: '?prefix=m.', match: (i) => `m.${i}`, other: (i) => `o.${i % 20}` },
  { name: 'kv, two filters', kind: 'kv', query: '?filter=m.*&filter=n.x', match: (i) => `m.${i}`, other: (i) => `o.${i % 20}` },
  // objects: a watch of one name while other objects are written
  { name: 'object', kind: 'obj', query: '?filter=watched', match: () => 'watched', other: (i) => `other${i % 5}` },
];

test('progress events: resumes from R after quiet periods neither replay nor reset', { timeout: 60000 + ROUNDS * cases.length * 20000 }, async () => {
  const stack = await startStack({ args: ['--watch-progress', `${PROGRESS_MS}ms`] });
  stops.push(() => stack.stop());
  const nats = await connectNats(stack.nats.url);
  stops.push(() => nats.close());
  for (const c of cases) {
    let fromProgress = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const readers = await round(stack, nats, c, `${c.name} round ${r}`);
      fromProgress += readers.reduce((n, x) => n + x.resumedFromProgress, 0);
    }
    assert.ok(fromProgress > 0, `${c.name}: some resumes started from a progress event`);
  }
  const m = await http(stack.base, 'GET', '/metrics');
  const sent = Number(/^jetgate_watch_progress_total (\d+)$/m.exec(m.text)?.[1]);
  assert.ok(sent > 0, `jetgate_watch_progress_total counts them: ${sent}`);
});

test('progress events: none before synced, none with watch_progress 0, the default follows watch_keepalive', async () => {
  const off = await startStack({ args: ['--watch-progress', '0', '--watch-keepalive', '200ms'] });
  stops.push(() => off.stop());
  const dflt = await startStack({ args: ['--watch-keepalive', '300ms'] });
  stops.push(() => dflt.stop());
  for (const [stack, want] of [[off, false], [dflt, true]]) {
    const b = uniqueName('pgs');
    await createKvBucket(stack.base, b, { history: 64 });
    // a backlog before synced: every revision with allHistory
    for (let i = 0; i < 300; i++) {
      const r = await http(stack.base, 'PUT', `/v1/kv/${b}/k.${i % 7}`, { body: `v${i}` });
      assert.ok([200, 201].includes(r.status), `put: ${r.status}`);
    }
    // 300 revisions before synced, then only changes the filter does not want
    const s = await openSse(stack.base, `/v1/kvm/buckets/${b}/watch?include=allHistory&filter=k.*`);
    assert.equal(s.status, 200);
    const writer = (async () => {
      for (let i = 0; i < 40; i++) {
        await http(stack.base, 'PUT', `/v1/kv/${b}/o.${i % 7}`, { body: `w${i}` });
        await sleep(25);
      }
    })();
    await writer;
    await sleep(1500);
    s.close();
    const synced = s.events.findIndex((e) => e.event === 'synced');
    const progress = s.events.filter((e) => e.event === 'progress');
    assert.ok(synced >= 300, `synced after the 300 revisions: ${synced}`);
    assert.ok(s.events.findIndex((e) => e.event === 'progress') === -1 || s.events.findIndex((e) => e.event === 'progress') > synced, 'no progress before synced');
    if (want) {
      assert.ok(progress.length > 0, `progress every watch_keepalive by default: ${JSON.stringify(s.events.slice(-3))}`);
      assert.equal(progress.at(-1).json.revision, 340, 'the last progress names the bucket revision');
    } else {
      assert.deepEqual(progress, [], 'no progress with watch_progress 0');
    }
  }
});
