#!/usr/bin/env node
// Soak: jetgate under a steady mixed load (KV puts, conditional puts and
// gets on many keys, object uploads and downloads, SSE watchers) for a long
// time, in front of a 3-node JetStream cluster (or one server).  Every
// sample interval it prints jetgate's resident memory (RSS), open file
// descriptors and threads; at the end it checks that they stayed flat and
// that the load's guarantees held (nothing acknowledged lost, no stale read,
// no false 409/412, no answer later than the request timeout).
//
// Usage (see tests/soak/README.md):
//   node tests/soak/soak.mjs                       # one hour
//   SOAK_SECONDS=300 node tests/soak/soak.mjs      # the CI version
// Environment:
//   SOAK_SECONDS          run time (default 3600)
//   SOAK_SAMPLE_SECONDS   sample interval (default 60)
//   SOAK_WARMUP_SECONDS   the baseline sample is taken after this (default 60)
//   SOAK_TOPOLOGY         cluster (3 nodes, replicas 3; default) or single
//   SOAK_KV_RATE          KV operations per second per worker, 6 workers (default 25)
//   SOAK_WATCHERS         SSE watchers (default 50)
//   SOAK_RSS_GROWTH       allowed RSS growth over the baseline, fraction (default 0.2)
//   SOAK_RSS_SLACK_MB     plus this many MiB (default 8)
//   SOAK_FD_SLACK         allowed growth of open descriptors (default 8)
//   SOAK_REPORT           write the samples and the summary as JSON to this file
//   JETGATE_BIN           the jetgate binary (default <repo>/src/jetgate)
// Exit status: 0 when every check passed, 1 otherwise.

import fs from 'node:fs';

import {
  startCluster, startJetgate, createKvBucket, uniqueName, sleep, procUsage, JETGATE_BIN,
} from '../cluster/cluster.mjs';
import { MixedLoad } from '../cluster/load.mjs';
import { natsKv } from '../cluster/common.mjs';

const num = (name, def) => (process.env[name] !== undefined && process.env[name] !== '' ? Number(process.env[name]) : def);
const SECONDS = num('SOAK_SECONDS', 3600);
const SAMPLE = num('SOAK_SAMPLE_SECONDS', 60);
const WARMUP = Math.min(num('SOAK_WARMUP_SECONDS', 60), SECONDS / 2);
const TOPOLOGY = process.env.SOAK_TOPOLOGY || 'cluster';
const RSS_GROWTH = num('SOAK_RSS_GROWTH', 0.2);
const RSS_SLACK = num('SOAK_RSS_SLACK_MB', 8) * 1024 * 1024;
const FD_SLACK = num('SOAK_FD_SLACK', 8);
const REQUEST_TIMEOUT_MS = 2000;

const mib = (b) => (b / 1048576).toFixed(1);
const log = (s) => process.stdout.write(`${s}\n`);

async function main() {
  log(`soak: ${SECONDS} s, sample every ${SAMPLE} s, baseline after ${WARMUP} s, ${TOPOLOGY}, jetgate ${JETGATE_BIN}`);
  const nodes = TOPOLOGY === 'single' ? 1 : 3;
  const replicas = nodes === 1 ? 1 : 3;
  // nats-server 2.9.10 does not take purged or deleted messages off the
  // account's storage usage (only a restart recounts it), and every object
  // upload purges the previous version's chunks: the usage grows by every
  // byte ever uploaded, although the store holds a few MiB.  With the
  // harness's 256 MB max_file_store the soak's uploads reach it after about
  // 15 minutes and the server refuses writes (a clustered one disables
  // JetStream).  The limit here is far above what an hour uploads.
  const cluster = await startCluster({ nodes, maxFileStore: '64GB' });
  let jg;
  let load;
  const failures = [];
  const samples = [];
  try {
    jg = await startJetgate({
      natsUrl: cluster.url, args: ['--request-timeout', `${REQUEST_TIMEOUT_MS / 1000}s`, '--log-level', 'warn'],
    });
    const bucket = uniqueName('soak');
    const objBucket = uniqueName('soako');
    await createKvBucket(jg.base, bucket, { history: 5, replicas });
    load = new MixedLoad({
      bases: [jg.base], bucket, objBucket, obj: true, watchers: num('SOAK_WATCHERS', 50), replicas,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      kv: { keys: 500, workers: 6, rate: num('SOAK_KV_RATE', 25) },
      objOpts: { objects: 16, workers: 2, rate: 2, sizeBytes: [1024, 300000], chunkSize: 32768 },
    });
    await load.prepare();
    await load.start();
    log(load.workloads.map((w) => w.summary().split(':')[0] + (w.skipped ? ` (skipped: ${w.skipped})` : '')).join(', '));

    const t0 = Date.now();
    const take = (label) => {
      const u = procUsage(jg.proc.pid);
      const s = load.stats;
      const sample = {
        t: Math.round((Date.now() - t0) / 1000), label, rss: u.rss, fds: u.fds, threads: u.threads,
        requests: s.total, success: s.successRate(), violations: s.violations.length,
        watchEvents: load.watch ? load.watch.events : 0,
      };
      samples.push(sample);
      log(`${String(sample.t).padStart(6)} s  rss ${mib(sample.rss).padStart(7)} MiB  fds ${String(sample.fds).padStart(4)}  `
        + `threads ${String(sample.threads).padStart(3)}  requests ${String(sample.requests).padStart(8)}  `
        + `ok ${(100 * sample.success).toFixed(2)}%  violations ${sample.violations}  watch events ${sample.watchEvents}  ${label}`);
      return sample;
    };
    log('  time  resident memory   fds  threads  requests');
    take('start');
    let baseline = null;
    let nextSample = SAMPLE;
    let warmDone = false;
    while ((Date.now() - t0) / 1000 < SECONDS) {
      await sleep(500);
      if (!jg.running()) { failures.push('jetgate exited during the soak'); break; }
      const el = (Date.now() - t0) / 1000;
      if (!warmDone && el >= WARMUP) {
        baseline = take('baseline');
        warmDone = true;
        if (WARMUP >= nextSample) nextSample += SAMPLE;
      } else if (el >= nextSample) {
        take('');
        nextSample += SAMPLE;
      }
    }
    const prev = samples[samples.length - 1];
    const last = !jg.running() ? null
      : (prev && (Date.now() - t0) / 1000 - prev.t < 2 ? prev : take('end'));
    const nkv = await natsKv(cluster.urls, bucket);
    try {
      await load.stopAndVerify({ kv: nkv.kv });
    } finally {
      nkv.close();
    }
    log(load.summary());

    if (baseline && last) {
      const rssLimit = baseline.rss * (1 + RSS_GROWTH) + RSS_SLACK;
      const after = samples.filter((s) => s.t >= baseline.t);
      const maxRss = Math.max(...after.map((s) => s.rss));
      const maxFds = Math.max(...after.map((s) => s.fds));
      if (maxRss > rssLimit) {
        failures.push(`RSS grew from ${mib(baseline.rss)} MiB (baseline) to ${mib(maxRss)} MiB, over the limit ${mib(rssLimit)} MiB`);
      }
      if (maxFds > baseline.fds + FD_SLACK) {
        failures.push(`open descriptors grew from ${baseline.fds} (baseline) to ${maxFds}, over ${baseline.fds + FD_SLACK}`);
      }
      log(`flatness: RSS baseline ${mib(baseline.rss)} MiB, max after it ${mib(maxRss)} MiB (limit ${mib(rssLimit)}); `
        + `fds baseline ${baseline.fds}, max ${maxFds} (limit ${baseline.fds + FD_SLACK})`);
    }
    const s = load.stats;
    if (s.violations.length) failures.push(`${s.violations.length} violations (see above)`);
    if (s.hangs.length) failures.push(`${s.hangs.length} answers later than ${s.hangLimitMs} ms`);
    if (s.successRate() < 0.999) failures.push(`only ${(100 * s.successRate()).toFixed(3)}% of the requests succeeded (no faults: need 99.9%)`);
    if (!jg.running()) failures.push(`jetgate is not running; last log lines:\n${jg.log().split('\n').slice(-30).join('\n')}`);
  } catch (e) {
    failures.push(`soak aborted: ${e.stack || e.message}`);
  } finally {
    if (load) await load.abort().catch(() => {});
    if (jg) await jg.stop().catch(() => {});
    await cluster.destroy().catch(() => {});
  }
  if (process.env.SOAK_REPORT) {
    fs.writeFileSync(process.env.SOAK_REPORT, JSON.stringify({ seconds: SECONDS, topology: TOPOLOGY, samples, failures }, null, 2));
  }
  if (failures.length) {
    log(`SOAK FAILED:\n- ${failures.join('\n- ')}`);
    process.exit(1);
  }
  log('soak: ok');
  process.exit(0);
}

main();
