// Removal benchmark: what deleting and overwriting an object costs on a
// replicated (R3) bucket, where jetgate removes the old chunks one message at
// a time (never a filtered purge: see src/nats/remove.c).
//
// Starts a 3-node nats-server cluster on loopback and, in each round, each
// jetgate binary in turn (the order alternates from round to round) against
// it; each binary gets its own R3 bucket.  Per round and binary:
//   delete     PUT an object of SIZE_MB, then time DELETE
//   overwrite  PUT it, then time a second PUT of the same size to the same name
//   small      PUT a 1 KiB object, then time DELETE (the cost for one chunk)
// Prints the median of the rounds per binary and, with a baseline, the ratio
// baseline / candidate (above 1: the candidate is faster).
//
// Usage: node bench/obj_remove.mjs CANDIDATE [BASELINE]
// Environment: ROUNDS (3), SIZE_MB (32), SMALL (20 small deletes per round)
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { startCluster, putBucket } = await import(path.join(HERE, '..', 'tests', 'cluster', 'cluster.mjs'));
const { startJetgate, http } = await import(path.join(HERE, '..', 'tests', 'lib', 'harness.mjs'));

const [candidate, baseline] = process.argv.slice(2);
if (!candidate) {
  console.error('usage: node bench/obj_remove.mjs CANDIDATE_JETGATE [BASELINE_JETGATE]');
  process.exit(2);
}
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SIZE = Number(process.env.SIZE_MB ?? 32) * 1024 * 1024;
const SMALL = Number(process.env.SMALL ?? 20);

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function must(r, what, ...ok) {
  if (!ok.includes(r.status)) throw new Error(`${what}: ${r.status} ${r.text ?? ''}`);
  return r;
}

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function round(cluster, bin, bucket, body) {
  const jg = await startJetgate({
    bin, natsUrl: cluster.url, args: ['--request-timeout', '30s', '--log-level', 'warn'],
  });
  try {
    const b = jg.base;
    await putBucket(b, 'objm', bucket, { replicas: 3 });
    const o = `/v1/obj/${bucket}`;
    const put = (name, data) => http(b, 'PUT', `${o}/${name}`, { body: data, timeoutMs: 120000 });
    const res = {};
    await must(await put('big', body), 'PUT', 201);
    res.delete = await timed(async () => must(await http(b, 'DELETE', `${o}/big`, { timeoutMs: 120000 }), 'DELETE', 200));
    await must(await put('big', body), 'PUT', 201);
    res.overwrite = await timed(async () => must(await put('big', body), 'overwrite', 201));
    const small = [];
    for (let i = 0; i < SMALL; i++) {
      await must(await put(`s${i}`, Buffer.alloc(1024, i)), 'PUT small', 201);
      small.push(await timed(async () => must(await http(b, 'DELETE', `${o}/s${i}`), 'DELETE small', 200)));
    }
    res.small = median(small);
    return res;
  } finally {
    await jg.stop();
  }
}

const sides = [{ name: 'candidate', bin: candidate, runs: [] }];
if (baseline) sides.push({ name: 'baseline', bin: baseline, runs: [] });
const cluster = await startCluster({ nodes: 3, maxFileStore: '2GB' });
try {
  const body = crypto.randomBytes(SIZE);
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 ? [...sides].reverse() : sides;
    for (const s of order) {
      const res = await round(cluster, s.bin, `rm${r}${s.name[0]}`, body);
      s.runs.push(res);
      console.log(`round ${r + 1} ${s.name}: delete ${res.delete.toFixed(0)} ms, overwrite ${res.overwrite.toFixed(0)} ms, small delete ${res.small.toFixed(1)} ms`);
    }
  }
} finally {
  await cluster.destroy();
}

const ops = ['delete', 'overwrite', 'small'];
const med = (s, op) => median(s.runs.map((x) => x[op]));
console.log(`\n${SIZE / 1048576} MiB object in 128 KiB chunks, R3, median of ${ROUNDS} rounds (ms)`);
console.log(`| | ${sides.map((s) => s.name).join(' | ')}${baseline ? ' | baseline / candidate' : ''} |`);
console.log(`| --- |${sides.map(() => ' ---: |').join('')}${baseline ? ' ---: |' : ''}`);
for (const op of ops) {
  const v = sides.map((s) => med(s, op));
  console.log(`| ${op} | ${v.map((x) => x.toFixed(op === 'small' ? 1 : 0)).join(' | ')}${baseline ? ` | ${(v[1] / v[0]).toFixed(2)}x` : ''} |`);
}
