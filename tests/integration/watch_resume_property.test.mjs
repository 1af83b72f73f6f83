// Watch resume, as a property: writers at full speed (several NATS
// connections of the official JavaScript client, several keys) and readers
// that cut their connection at random points -- in the middle of a backlog,
// right after `synced`, while live -- and come back with Last-Event-ID, with
// filters, with and without other watchers sharing the live feed.  For every
// reader, over all its connections:
//   - the revisions delivered are strictly increasing (so none twice), each
//     a revision written to a key its filter matches;
//   - a matching revision is missing only when a later revision of the same
//     key was delivered (the earlier one was removed before it was reached)
//     or `event: reset` came first; a reset is allowed only when the
//     revision after the resume point really was removed (a direct get by
//     the official client says so);
//   - with nothing removed (KV history 64, objects never replaced) there is
//     no reset and every matching revision is delivered.
// The same across a nats-server restart in the middle of the readers'
// backlogs.  /metrics counts every resume by what served it.
// WATCH_RESUME_ROUNDS sets the rounds per case (default 3, about a minute;
// `make check-watch-long` runs 30).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, uniqueName, sleep, http, createKvBucket } from '../lib/harness.mjs';
import { openSse } from './watch_sse.mjs';

const ROUNDS = Number(process.env.WATCH_RESUME_ROUNDS || 3);

const stops = [];
after(async () => {
  for (const fn of stops.reverse()) {
    try { await fn(); } catch { /* keep going */ }
  }
});

const rnd = (n) => Math.floor(Math.random() * n);
const trace = process.env.WATCH_RESUME_TRACE ? (...a) => console.error(new Date().toISOString(), ...a) : () => {};

async function natsClients(url, n) {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
  const out = [];
  for (let i = 0; i < n; i++) {
    const nc = await connect({ servers: url, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    out.push({ nc, js: jetstream(nc), jsm: await jetstreamManager(nc) });
  }
  return out;
}

/**
 * A reader: connects, reads to a random cut point, disconnects, sleeps a
 * little (a backlog builds up) and resumes with Last-Event-ID, until it has
 * delivered st.stopAt.  st.got: [{rev, key}] over all connections;
 * st.resets: [resumeRevision].
 */
function reader(base, path, keyOf) {
  const st = { path, sessions: [], got: [], resets: [], cuts: { backlog: 0, synced: 0, live: 0 }, conns: 0, resumed: 0, last: null, stopAt: null, errors: [], stop: false };
  st.done = (async () => {
    while (!st.stop) {
      if (st.stopAt !== null && (st.stopAt === 0 || (st.last !== null && st.last >= st.stopAt))) return;
      const headers = st.last !== null ? { 'Last-Event-ID': String(st.last) } : {};
      let s;
      try {
        s = await openSse(base, path, { headers, timeoutMs: 10000 });
      } catch {
        await sleep(100);
        continue;
      }
      if (s.status !== 200) {
        if (![503, 504].includes(s.status)) st.errors.push(`${s.status} ${s.body}`);
        await sleep(100);
        continue;
      }
      st.conns++;
      if (headers['Last-Event-ID']) st.resumed++;
      const mode = st.conns === 1 ? 'live' : ['backlog', 'synced', 'live'][rnd(3)];
      const k = 1 + rnd(30);
      const msgs = (evs) => evs.filter((e) => e.event === 'message').length;
      const isSynced = (evs) => evs.some((e) => e.event === 'synced');
      const reached = (evs) => {
        const m = evs.filter((e) => e.event === 'message');
        return st.stopAt !== null && m.length > 0 && m.at(-1).json.revision >= st.stopAt;
      };
      try {
        await s.waitEvents((evs) => {
          if (reached(evs)) return true;
          if (mode === 'backlog') return msgs(evs) >= k || isSynced(evs);
          if (mode === 'synced') return isSynced(evs);
          const i = evs.findIndex((e) => e.event === 'synced');
          return i >= 0 && evs.length - i > k;
        }, mode === 'live' && st.conns > 1 ? 1500 : 20000, `cut (${mode})`);
        st.cuts[mode]++;
      } catch { /* timed out (live and quiet), or ended (overflow): resume */ }
      s.close();
      const ms = s.events.filter((e) => e.event === 'message');
      st.sessions.push(`${headers['Last-Event-ID'] ?? '-'}:${mode}:${ms.length ? `${ms[0].json.revision}..${ms.at(-1).json.revision}` : ''}(${ms.length})${s.events.filter((e) => e.event !== 'message').map((e) => e.event).join(',')}`);
      for (const e of s.events) {
        if (e.event === 'message') {
          assert.equal(Number(e.id), e.json.revision, `${path}: id is the revision`);
          st.got.push({ rev: e.json.revision, key: keyOf(e.json) });
          st.last = e.json.revision;
        } else if (e.event === 'reset') {
          st.resets.push(e.json.resumeRevision);
        } else if (e.event === 'overflow') {
          st.last = e.json.resumeRevision;
        } else if (e.event === 'error') {
          st.errors.push(`error event ${e.data}`);
        }
      }
      await sleep(rnd(4) === 0 ? 0 : rnd(250));
    }
  })();
  return st;
}

/** A watcher that stays connected for the whole round (it makes the live feed shared). */
function stayer(base, path, keyOf) {
  const st = { path, got: [], resets: [], errors: [], s: null };
  st.open = openSse(base, path).then((s) => { st.s = s; return s; });
  st.collect = () => {
    st.s.close();
    st.sessions = [st.s.events.slice(-4).map((e) => `${e.event}:${e.data}`).join(' | ')];
    let top = 0;
    for (const e of st.s.events) {
      if (e.event === 'message') {
        if (!(e.json.revision > top)) st.errors.push(`revision ${e.json.revision} after id ${top}`);
        st.got.push({ rev: e.json.revision, key: keyOf(e.json) });
        top = e.json.revision;
      } else if (e.event === 'progress') {
        // quiet for watch_progress (= watch_keepalive here): complete up to R
        if (!(e.json.revision > top)) st.errors.push(`progress ${e.data} after revision ${top}`);
        top = e.json.revision;
      } else if (e.event !== 'synced') {
        st.errors.push(`${e.event} ${e.data}`);
      }
    }
  };
  return st;
}

/**
 * Checks one reader against what was written ([{rev, key}] in revision
 * order); strict: nothing was removed, every matching revision is due.
 * removed(rev) resolves whether that stream sequence is gone.
 */
async function check(st, written, wants, strict, removed, ctx) {
  const name = `${ctx} ${st.path}`;
  assert.deepEqual(st.errors, [], `${name}: unexpected answers`);
  const byRev = new Map(written.map((w) => [w.rev, w.key]));
  for (let i = 0; i < st.got.length; i++) {
    const g = st.got[i];
    if (i > 0) assert.ok(g.rev > st.got[i - 1].rev, `${name}: revision ${g.rev} after ${st.got[i - 1].rev} (duplicate or out of order)`);
    assert.equal(byRev.get(g.rev), g.key, `${name}: revision ${g.rev} is a write of '${g.key}'`);
    assert.ok(wants(g.key), `${name}: '${g.key}' is outside the filter`);
  }
  const due = written.filter((w) => wants(w.key));
  const got = new Set(st.got.map((g) => g.rev));
  const lastOfKey = new Map();
  for (const g of st.got) lastOfKey.set(g.key, g.rev);
  if (strict) {
    assert.deepEqual(st.resets, [], `${name}: no reset while nothing is removed`);
    const missing = due.filter((w) => !got.has(w.rev)).map((w) => w.rev);
    if (missing.length && process.env.WATCH_RESUME_TRACE) {
      for (const m of missing.slice(0, 3)) {
        const i = st.got.findIndex((g) => g.rev > m);
        trace(name, 'missing', m, 'around', JSON.stringify(st.got.slice(Math.max(0, i - 3), i + 3)), 'stored', JSON.stringify(await removed(m)));
      }
    }
    assert.deepEqual(missing.slice(0, 20), [], `${name}: ${missing.length} of ${due.length} revisions missing; connections ${JSON.stringify(st.sessions)}`);
  } else {
    const missing = due.filter((w) => !got.has(w.rev) && !(lastOfKey.get(w.key) > w.rev)).map((w) => w.rev);
    assert.deepEqual(missing.slice(0, 20), [], `${name}: ${missing.length} revisions missing with no later revision of their key; connections ${JSON.stringify(st.sessions)}`);
    for (const r of st.resets) {
      assert.ok(await removed(r + 1), `${name}: reset after ${r}, yet revision ${r + 1} is still stored`);
    }
  }
  if (due.length) assert.equal(st.got.at(-1).rev, due.at(-1).rev, `${name}: reached the last revision`);
}

/**
 * One round.  kind 'kv' (history 64 or 1) or 'obj' (replace: objects are
 * overwritten, else every name is new); shared: watchers that stay keep the
 * live feeds shared; restart: nats-server restarts while readers are behind.
 */
async function round(stack, { kind, history = 1, replace = false, shared, restart = false }, ctx) {
  const { base } = stack;
  const b = uniqueName(kind === 'kv' ? 'rp' : 'rpo');
  const strict = kind === 'kv' ? history > 1 : !replace;
  const clients = await natsClients(stack.nats.url, 3);
  let rs = [];
  let stayers = [];
  try {
    let handles;
    let stream;
    let readers;
    let keyOf;
    let nextKey;
    let N;
    if (kind === 'kv') {
      const { Kvm } = await import('@nats-io/kv');
      await createKvBucket(base, b, { history });
      handles = await Promise.all(clients.map((c) => new Kvm(c.js).open(b)));
      stream = `KV_${b}`;
      keyOf = (e) => e.key;
      const keys = [];
      for (let i = 0; i < 12; i++) keys.push(`a.${i}`, `b.${i}`);
      // history 64: fewer writes per key than the history keeps
      N = history > 1 ? keys.length * 60 : 2400;
      // history 64: 60 writes to each key, so that nothing is removed
      nextKey = history > 1 ? (i) => keys[(i * 7) % keys.length] : (i) => keys[(i * 7 + rnd(3)) % keys.length];
      readers = [
        ['', () => true],
        ['?filter=a.*', (k) => k.startsWith('a.')],
        ['?prefix=b.1', (k) => k.startsWith('b.1')],
        ['?filter=a.3&filter=b.>', (k) => k === 'a.3' || k.startsWith('b.')],
        ['?filter=b.5&metaOnly=true', (k) => k === 'b.5'],
      ];
    } else {
      const { Objm } = await import('@nats-io/obj');
      handles = await Promise.all(clients.map((c, i) => (i === 0 ? new Objm(c.js).create(b) : null)));
      for (let i = 1; i < handles.length; i++) handles[i] = await new Objm(clients[i].js).open(b);
      stream = `OBJ_${b}`;
      keyOf = (e) => e.name;
      N = 240;
      nextKey = replace ? (i) => `o${(i * 5 + rnd(2)) % 8}` : (i) => `u${i % 8}-${i}`;
      readers = [
        ['', () => true],
        [replace ? '?filter=o3&filter=o6' : '?filter=u3-3&filter=u5-13&filter=u1-201',
          replace ? (n) => n === 'o3' || n === 'o6' : (n) => ['u3-3', 'u5-13', 'u1-201'].includes(n)],
      ];
    }
    const path = (q) => `/v1/${kind === 'kv' ? 'kvm' : 'objm'}/buckets/${b}/watch${q}`;
    stayers = shared ? readers.flatMap(([q, w]) => [stayer(base, path(q), keyOf), stayer(base, path(q), keyOf)].map((s) => [s, w])) : [];
    trace(ctx, 'start');
    await Promise.all(stayers.map(([s]) => s.open));
    await Promise.all(stayers.map(([s]) => s.s.next((e) => e.event === 'synced')));
    rs = readers.map(([q, w]) => [reader(base, path(q), keyOf), w]);
    await sleep(200); // the first connections see the empty bucket, then everything live

    const written = [];
    let next = 0;
    let restarted = false;
    const writer = async (h) => {
      while (next < N) {
        const i = next++;
        const key = nextKey(i);
        for (let attempt = 0; ; attempt++) {
          try {
            const rev = kind === 'kv'
              ? await h.put(key, `v${i}`)
              : (await h.putBlob({ name: key }, new TextEncoder().encode(`v${i}`))).revision;
            written.push({ rev, key });
            break;
          } catch (e) {
            if (!restart || attempt > 100) throw e;
            await sleep(100);
          }
        }
        if (i % 200 === 199) await sleep(rnd(30)); // bursts: reconnects land live and in backlogs
        if (restart && !restarted && i === Math.floor(N / 2)) {
          restarted = true;
          await sleep(300); // the readers fall behind ...
          await stack.nats.restart(); // ... and the server goes away in the middle of their backlogs
        }
      }
    };
    trace(ctx, 'writing');
    await Promise.all(handles.map(writer));
    trace(ctx, 'written', written.length);
    written.sort((x, y) => x.rev - y.rev);
    if (restart) {
      // a write whose answer the restart lost may have been stored, and was
      // written again: what was written is what the stream holds
      let info;
      for (let attempt = 0; !info; attempt++) {
        try {
          info = await clients[0].jsm.streams.info(stream);
        } catch (e) {
          if (attempt > 50) throw e; // JetStream is still starting after the restart
          await sleep(200);
        }
      }
      const all = new Map();
      for (let seq = 1; seq <= info.state.last_seq; seq++) {
        const m = await clients[0].jsm.streams.getMessage(stream, { seq }).catch(() => null);
        if (m) all.set(seq, m.subject.slice(`$KV.${b}.`.length));
      }
      const lost = written.filter((w) => all.get(w.rev) !== w.key);
      assert.deepEqual(lost, [], 'the acknowledged writes are stored');
      written.splice(0, written.length, ...[...all].map(([rev, key]) => ({ rev, key })));
    } else {
      assert.equal(new Set(written.map((w) => w.rev)).size, N, 'every write stored once');
    }
    for (const [r, w] of rs) r.stopAt = written.filter((x) => w(x.key)).at(-1)?.rev ?? 0;
    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${ctx}: readers did not reach the end in 60 s: ${JSON.stringify(rs.map(([r]) => [r.path, r.last, r.stopAt]))}`)), 60000);
    });
    try {
      await Promise.race([Promise.all(rs.map(([r]) => r.done)), deadline]);
      const lastRev = written.at(-1).rev;
      await Promise.all(stayers.map(([s, w]) => s.s.waitEvents(() => {
        const due = written.filter((x) => w(x.key)).at(-1)?.rev;
        return due === undefined || s.s.events.some((e) => e.event === 'message' && e.json.revision === due);
      }, 30000, `stayer ${s.path} to reach ${lastRev}`)));
    } finally {
      clearTimeout(timer);
    }
    const removed = async (seq) => {
      try {
        return (await clients[0].jsm.streams.getMessage(stream, { seq })) === null;
      } catch (e) {
        return /no message found|not found/i.test(e.message);
      }
    };
    trace(ctx, 'checking', JSON.stringify(rs.map(([r]) => [r.path, r.conns, r.resets.length])));
    const failures = [];
    for (const [r, w] of rs) await check(r, written, w, strict, removed, ctx).catch((e) => failures.push(e));
    for (const [s, w] of stayers) {
      s.collect();
      await check(s, written, w, strict, removed, `${ctx} (stays connected)`).catch((e) => failures.push(e));
    }
    if (failures.length) throw failures[0];
    const cuts = rs.reduce((a, [r]) => ({ backlog: a.backlog + r.cuts.backlog, synced: a.synced + r.cuts.synced, live: a.live + r.cuts.live }), { backlog: 0, synced: 0, live: 0 });
    const resets = rs.reduce((a, [r]) => a + r.resets.length, 0);
    return { cuts, resets, conns: rs.reduce((a, [r]) => a + r.conns, 0), resumed: rs.reduce((a, [r]) => a + r.resumed, 0) };
  } finally {
    for (const [r] of rs) r.stop = true;
    for (const [s] of stayers) if (s.s && !s.s.ended) s.s.close();
    await Promise.all(clients.map((c) => c.nc.close().catch(() => {})));
  }
}

async function metric(base, name) {
  const r = await http(base, 'GET', '/metrics');
  const out = {};
  for (const line of r.text.split('\n')) {
    if (line.startsWith(name)) {
      const [k, v] = line.split(' ');
      out[k] = Number(v);
    }
  }
  return out;
}

const CASES = process.env.WATCH_RESUME_CASE ? [JSON.parse(process.env.WATCH_RESUME_CASE)] : [
  { kind: 'kv', history: 64, shared: false },
  { kind: 'kv', history: 64, shared: true },
  { kind: 'kv', history: 1, shared: false },
  { kind: 'kv', history: 1, shared: true },
  { kind: 'obj', replace: false, shared: true },
  { kind: 'obj', replace: true, shared: false },
];

test(`resume property: KV (history 64 and 1) and object watches, ${ROUNDS} round(s) per case`, async (t) => {
  const stack = await startStack({ args: ['--watch-keepalive', '500ms', '--max-watchers', '1000', '--max-watchers-per-ip', '1000'] });
  stops.push(() => stack.stop());
  const totals = { backlog: 0, synced: 0, live: 0, resets: 0, conns: 0, resumed: 0 };
  for (let i = 0; i < ROUNDS; i++) {
    for (const c of CASES) {
      const r = await round(stack, c, `round ${i} ${JSON.stringify(c)}`);
      for (const k of ['backlog', 'synced', 'live']) totals[k] += r.cuts[k];
      totals.resets += r.resets;
      totals.conns += r.conns;
      totals.resumed += r.resumed;
    }
  }
  const m = await metric(stack.base, 'jetgate_watch_res');
  t.diagnostic(`connections ${totals.conns} (${totals.resumed} resumes); cuts: backlog ${totals.backlog}, after synced ${totals.synced}, live ${totals.live}; resets ${totals.resets}`);
  t.diagnostic(JSON.stringify(m));
  const all = !process.env.WATCH_RESUME_CASE; // WATCH_RESUME_CASE='{...}': one case only
  if (all) assert.ok(totals.backlog > 0 && totals.synced > 0 && totals.live > 0, 'every kind of cut happened');
  // every resume is counted once: by the path that served it, or as a reset
  const path = (p) => m[`jetgate_watch_resumes_total{path="${p}"}`];
  assert.equal(m.jetgate_watch_resets_total, totals.resets, 'resets counted');
  assert.equal(path('consumer') + path('shared') + path('ring') + totals.resets, totals.resumed, 'resumes counted by path');
  if (all) assert.ok(path('consumer') > 0 && path('ring') + path('shared') > 0, `every path served resumes: ${JSON.stringify(m)}`);
  await stack.stop();
  stops.pop();
});

const RESTART_ROUNDS = Math.ceil(ROUNDS / 2);
test(`resume property across a nats-server restart in the middle of the backlogs, ${RESTART_ROUNDS} round(s)`, async () => {
  const stack = await startStack({ args: ['--watch-keepalive', '500ms', '--max-watchers', '1000', '--max-watchers-per-ip', '1000'] });
  stops.push(() => stack.stop());
  for (let i = 0; i < RESTART_ROUNDS; i++) {
    await round(stack, { kind: 'kv', history: 64, shared: i % 2 === 0, restart: true }, `restart round ${i}`);
  }
  await stack.stop();
  stops.pop();
});
