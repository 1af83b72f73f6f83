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
