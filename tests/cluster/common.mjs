// Settings and checks shared by the reliability test files (tests/cluster/*.test.mjs).

import assert from 'node:assert/strict';

import { connectNats } from './cluster.mjs';


/** JETGATE_CLUSTER_LONG=1: the long tier (more fault rounds, longer load). */
export const LONG = !!process.env.JETGATE_CLUSTER_LONG && process.env.JETGATE_CLUSTER_LONG !== '0';

/** jetgate's --request-timeout in these tests. */
export const REQUEST_TIMEOUT_MS = 2000;
/** No request may be answered later than the request timeout plus this. */
export const HANG_SLACK_MS = 1500;
/** Share of requests that must be correct successes over a run with faults. */
export const MIN_SUCCESS = 0.95;

export const JETGATE_ARGS = ['--request-timeout', `${REQUEST_TIMEOUT_MS / 1000}s`, '--log-level', 'info'];

/** Every cleanup registered is run (last first) by runCleanups(), errors ignored. */
export function cleanupList() {
  const fns = [];
  return {
    add(fn) { fns.push(fn); },
    async run() {
      for (const fn of fns.splice(0).reverse()) {
        try { await fn(); } catch { /* keep cleaning */ }
      }
    },
  };
}

/** The official client's view of a KV bucket (for checks independent of jetgate). */
export async function natsKv(urls, bucket) {
  const c = await connectNats(urls);
  const kv = await c.kvm.open(bucket);
  return { kv, close: () => c.close() };
}

/** Prints a multi-line report as test diagnostics (one '#' line each). */
export function report(t, text) {
  for (const line of String(text).split('\n')) t.diagnostic(line);
}

/** Last lines of a log, for messages. */
export function tail(text, n = 40) {
  return text.split('\n').slice(-n).join('\n');
}

/**
 * The guarantees of a run: jetgate still runs (never crashed), no violation
 * (lost or stale acknowledged write, false 409/412, bad answer), no answer
 * later than the request timeout plus slack, and at least MIN_SUCCESS of the
 * requests answered correctly.
 */
export function assertGuarantees(load, jgs, { minSuccess = MIN_SUCCESS } = {}) {
  const s = load.stats;
  for (const jg of jgs) {
    assert.ok(jg.running(), `jetgate (port ${jg.port}) is not running any more `
      + `(exit ${jg.proc.exitCode}, signal ${jg.proc.signalCode}):\n${tail(jg.log())}`);
  }
  assert.deepEqual(s.violations, [], `violations:\n${load.summary()}`);
  assert.deepEqual(s.hangs, [], `answers later than ${s.hangLimitMs} ms:\n${load.summary()}`);
  assert.ok(s.successRate() >= minSuccess,
    `only ${(100 * s.successRate()).toFixed(2)}% of ${s.total} requests succeeded (need ${100 * minSuccess}%):\n${load.summary()}`);
}

/**
 * A probe for RunStats (load.mjs): asks each running node's own replica (a
 * direct get is answered by the replica on the server it is published on)
 * for the last message of a KV key's subject or of an object's meta
 * subject, with the official client, and the stream leader (STREAM.MSG.GET).
 * Returns {what, subject, rev, seen, lost}: seen per node and for the
 * leader, the subject's last sequence and the stream's, the error of the
 * ask, or down.  lost: at least two nodes and the leader answered, every
 * node that runs answered, each stream has passed rev, and none holds rev
 * or a newer message: the servers lost the acknowledged write, and no
 * reader, jetgate or the official client, can find it.
 */
export function replicaProbe(cluster, { kvBucket, objBucket }) {
  const subjectOf = (kind, name) => {
    if (kind === 'kv') return { stream: `KV_${kvBucket}`, subject: `$KV.${kvBucket}.${name}` };
    const enc = Buffer.from(name).toString('base64url');
    return { stream: `OBJ_${objBucket}`, subject: `$O.${objBucket}.M.${enc}${'='.repeat((4 - (enc.length % 4)) % 4)}` };
  };
  return async (kind, name, rev) => {
    const { stream, subject } = subjectOf(kind, name);
    const seen = [];
    for (const node of cluster.nodes) {
      if (!node.running() || node.paused) {
        seen.push({ node: node.name, down: true });
        continue;
      }
      let c;
      try {
        c = await connectNats(node.url);
        const streamLast = (await c.jsm.streams.info(stream)).state.last_seq;
        const m = await c.nc.request(`$JS.API.DIRECT.GET.${stream}.${subject}`, '', { timeout: 5000 });
        const seq = m.headers?.code ? 0 : Number(m.headers?.get('Nats-Sequence') ?? 0);
        seen.push({ node: node.name, seq, streamLast });
      } catch (e) {
        seen.push({ node: node.name, error: e.message });
      } finally {
        if (c) await c.close().catch(() => {});
      }
    }
    // the stream leader's own answer too (a leader need not answer direct gets)
    const live = cluster.nodes.find((n) => n.running() && !n.paused);
    let leader = { node: 'leader', error: 'no node runs' };
    if (live) {
      let c;
      try {
        c = await connectNats(live.url);
        const m = await c.jsm.streams.getMessage(stream, { last_by_subj: subject }).catch((e) => e);
        if (m instanceof Error) leader = /no message found|not found/i.test(m.message) ? { node: 'leader', seq: 0, streamLast: rev } : { node: 'leader', error: m.message };
        else leader = { node: 'leader', seq: m ? m.seq : 0, streamLast: rev }; // null: no message
      } catch (e) {
        leader = { node: 'leader', error: e.message };
      } finally {
        if (c) await c.close().catch(() => {});
      }
    }
    seen.push(leader);
    const up = seen.filter((x) => !x.down);
    const lost = up.length >= 3 && up.every((x) => !x.error && x.seq < rev && x.streamLast >= rev);
    return { what: name, subject, rev, seen, lost };
  };
}

/** One line of a probe's evidence, for reports. */
export function probeText(p) {
  return `${p.what} (${p.subject} revision ${p.rev}): `
    + p.seen.map((x) => `${x.node} ${x.down ? 'down' : x.error ? `error ${x.error}` : `has ${x.seq || 'nothing'} (stream at ${x.streamLast})`}`).join(', ');
}

/**
 * After a run: the acknowledged writes of the load that the servers lost
 * (replicaProbe on each; with all, every one with its evidence).
 */
export async function lostByServer(probe, load, { all = false } = {}) {
  const res = [];
  for (const k of load.kv.keys) if (k.acked) res.push(await probe('kv', k.key, k.acked.rev));
  if (load.obj && !load.obj.skipped) {
    for (const o of load.obj.objs) if (o.acked) res.push(await probe('obj', o.name, o.acked.rev));
  }
  return all ? res : res.filter((w) => w.lost);
}

/**
 * Splits a run's violations into those explained by writes the servers lost
 * (found so by the probe when the violation was seen, or naming a write lost
 * at the end of the run) and the others.
 */
export function explainedByServerLoss(violations, lost) {
  const esc = (x) => x.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const res = lost.map((l) => new RegExp(`(^|[\\s:])${esc(l.what)}([\\s:,]|$)`));
  const explained = [];
  const other = [];
  for (const v of violations) (v.lost || res.some((re) => re.test(v.what)) ? explained : other).push(v);
  return { explained, other };
}
