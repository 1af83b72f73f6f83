// Harness for jetgate's reliability and scale-out tests: a NATS JetStream
// cluster of real nats-server processes on loopback, with faults.
//
// Extends tests/lib/harness.mjs (which starts single servers and jetgate,
// and kills every process and removes every temporary directory at exit):
//
//   const cluster = await startCluster({ nodes: 3 });
//   cluster.url                  'nats://127.0.0.1:A,nats://127.0.0.1:B,...'
//   cluster.nodes[i]             {name, port, url, clusterPort, monitorPort,
//                                 storeDir, stop(), kill(), pause(), resume(),
//                                 restart(), start(), running(), paused, pid(), log()}
//   await cluster.leaderOf('KV_b')      index of the stream's leader (or -1)
//   await cluster.waitLeader('KV_b', {not: i})
//   await cluster.waitCurrent('KV_b')   every replica current (after a restart)
//   await cluster.destroy()
//
// Each node has its own client, cluster and monitor port and its own store
// directory (-sd), and a config file with server_name, jetstream
// {max_file_store, max_memory_store} and cluster {name, listen, routes}.  Ports and the store
// stay the same across restart(), as in a real deployment.
//
// Only Node built-ins and the official NATS JS clients are used.

import fs from 'node:fs';
import path from 'node:path';

import {
  startNats, freePort, makeTempDir, removeTempDir, waitFor, sleep, monitorJson, http,
} from '../lib/harness.mjs';

export * from '../lib/harness.mjs';

const READY_TIMEOUT_MS = 30000;

function monitorStatus(port, p) {
  return fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(2000) })
    .then(async (r) => { await r.arrayBuffer(); return r.status; })
    .catch(() => 0);
}

/** Waits until every thread of pid is stopped (Linux /proc), or ~2 s. */
async function waitStopped(pid) {
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    let all = true;
    try {
      for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
        const stat = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        if (state !== 'T' && state !== 't') all = false;
      }
    } catch {
      await sleep(200);
      return;
    }
    if (all) return;
    await sleep(10);
  }
}

function nodeConfig({ name, clusterName, clusterPort, routes, storeDir, maxFileStore,
  maxMemoryStore, extra }) {
  const lines = [
    `server_name: ${name}`,
    // store_dir comes from the -sd flag startNats gives (both is an error)
    `# store: ${storeDir}`,
    'jetstream {',
    `  max_file_store: ${maxFileStore}`,
    `  max_memory_store: ${maxMemoryStore}`,
    '}',
  ];
  if (clusterPort) {
    lines.push(
      'cluster {',
      `  name: ${clusterName}`,
      `  listen: 127.0.0.1:${clusterPort}`,
      '  routes: [',
      ...routes.map((r) => `    nats-route://127.0.0.1:${r}`),
      '  ]',
      '}',
    );
  }
  if (extra) lines.push(extra);
  return `${lines.join('\n')}\n`;
}

/**
 * Starts a JetStream cluster of opts.nodes (default 3) nats-servers on
 * loopback and waits until every node is healthy and a meta leader exists.
 *
 * opts: {nodes: 3, maxFileStore: '256MB', maxMemoryStore: '64MB',
 *        extraConfig: '' (appended to every node's config file, e.g. accounts),
 *        clusterName}
 * With nodes: 1 the server runs JetStream without a cluster block (the
 * single-server topology, with the same node interface).
 */
export async function startCluster(opts = {}) {
  // The ports come from freePort(), which another test file running at the
  // same time may take first: a bind race is retried with fresh ports.
  let lastErr;
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      return await startClusterOnce(opts);
    } catch (e) {
      lastErr = e;
      if (!/address already in use|bind/i.test(e.message)) throw e;
    }
  }
  throw lastErr;
}

async function startClusterOnce(opts) {
  const count = opts.nodes ?? 3;
  const clusterName = opts.clusterName ?? `jgc${process.pid}`;
  const maxFileStore = opts.maxFileStore ?? '256MB';
  const maxMemoryStore = opts.maxMemoryStore ?? '64MB';
  const dir = makeTempDir('jetgate-cluster-');
  const specs = [];
  for (let i = 0; i < count; i++) {
    specs.push({
      index: i,
      name: `n${i + 1}`,
      port: await freePort(),
      monitorPort: await freePort(),
      clusterPort: count > 1 ? await freePort() : 0,
      storeDir: path.join(dir, `n${i + 1}`, 'store'),
    });
  }
  for (const s of specs) {
    fs.mkdirSync(s.storeDir, { recursive: true });
    s.configFile = path.join(dir, `n${s.index + 1}`, 'nats.conf');
    fs.writeFileSync(s.configFile, nodeConfig({
      name: s.name,
      clusterName,
      clusterPort: s.clusterPort,
      routes: specs.filter((o) => o !== s).map((o) => o.clusterPort),
      storeDir: s.storeDir,
      maxFileStore,
      maxMemoryStore,
      extra: opts.extraConfig,
    }));
  }

  const nodes = [];
  const cluster = {
    dir,
    nodes,
    urls: specs.map((s) => `nats://127.0.0.1:${s.port}`),
    get url() { return this.urls.join(','); },
    /** Index of the node with this client port (e.g. from jetgate's /v1/info url), or -1. */
    nodeByPort(port) { return nodes.findIndex((n) => n.port === Number(port)); },
    /** Nodes that run and are not paused. */
    live() { return nodes.filter((n) => n.running() && !n.paused); },

    /** /jsz of node i (throws when it does not answer). */
    jsz(i, q = 'streams=true&config=true') {
      return monitorJson(nodes[i].monitorPort, `/jsz?${q}`);
    },

    /** Name of the meta leader as the live nodes see it ('' while none). */
    async metaLeader() {
      for (const n of this.live()) {
        try {
          const j = await monitorJson(n.monitorPort, '/jsz');
          if (j.meta_cluster && j.meta_cluster.leader) return j.meta_cluster.leader;
        } catch { /* try the next node */ }
      }
      return '';
    },

    /**
     * The stream's detail as the live nodes report it: {leader (index or -1),
     * replicas [{name, current, lag, offline}], state}.  A leader is only
     * believed when the node reporting it is that leader itself.
     */
    async streamInfo(stream) {
      let seen;
      for (const n of this.live()) {
        let j;
        try {
          j = await monitorJson(n.monitorPort, '/jsz?streams=true&config=true');
        } catch { continue; }
        for (const acc of j.account_details ?? []) {
          for (const s of acc.stream_detail ?? []) {
            if (s.name !== stream) continue;
            const cl = s.cluster ?? {};
            const info = {
              leader: nodes.findIndex((x) => x.name === cl.leader),
              leaderName: cl.leader ?? '',
              replicas: cl.replicas ?? [],
              state: s.state,
              reportedBy: n.index,
            };
            if (count === 1) return { ...info, leader: 0, leaderName: nodes[0].name };
            if (cl.leader === n.name) return info;
            seen = seen ?? { ...info, leader: -1 };
          }
        }
      }
      return seen ?? { leader: -1, leaderName: '', replicas: [], state: undefined };
    },

    /** Index of the stream's current leader, -1 while there is none. */
    async leaderOf(stream) {
      return (await this.streamInfo(stream)).leader;
    },

    /**
     * Waits for a leader of the stream (other than node opts.not, when given)
     * on a live node; returns its index.
     */
    async waitLeader(stream, { not = -1, timeoutMs = READY_TIMEOUT_MS } = {}) {
      const l1 = await waitFor(async () => {
        const l = await this.leaderOf(stream);
        return l >= 0 && l !== not && nodes[l].running() && !nodes[l].paused ? l + 1 : 0;
      }, timeoutMs, 100, `a leader of ${stream}`);
      return l1 - 1;
    },

    /** Waits until the stream has a leader and every replica is current. */
    async waitCurrent(stream, { timeoutMs = READY_TIMEOUT_MS } = {}) {
      return waitFor(async () => {
        const info = await this.streamInfo(stream);
        if (info.leader < 0) return false;
        if (count === 1) return info;
        const reps = info.replicas;
        return reps.length === count - 1 && reps.every((r) => r.current && !r.offline) ? info : false;
      }, timeoutMs, 200, `every replica of ${stream} current`);
    },

    /** Waits until every node that runs is healthy and a meta leader exists. */
    async waitReady(timeoutMs = READY_TIMEOUT_MS) {
      await waitFor(async () => {
        for (const n of this.live()) {
          if ((await monitorStatus(n.monitorPort, '/healthz?js-enabled-only=true')) !== 200) return false;
          if ((await monitorStatus(n.monitorPort, '/healthz')) !== 200) return false;
        }
        return count === 1 || (await this.metaLeader()) !== '';
      }, timeoutMs, 100, 'the cluster to be healthy with a meta leader');
    },

    /** Stops every node (resuming paused ones first) and removes the stores. */
    async destroy() {
      for (const n of nodes) {
        if (n.paused) n.resume();
      }
      await Promise.all(nodes.map((n) => n.nats.stop().catch(() => {})));
      removeTempDir(dir);
    },
  };

  const startOne = async (s) => {
    const nats = await startNats({
      port: s.port,
      monitorPort: s.monitorPort,
      storeDir: s.storeDir,
      args: ['-c', s.configFile],
    });
    const node = {
      ...s,
      url: `nats://127.0.0.1:${s.port}`,
      nats,
      paused: false,
      pid() { return nats.proc ? nats.proc.pid : undefined; },
      running() { return nats.running(); },
      log() { return nats.log(); },
      /** SIGTERM, wait for the exit; the store is kept. */
      async stop() { if (this.paused) this.resume(); return nats.stop(); },
      /** SIGKILL (kill -9), wait for the exit; the store is kept. */
      async kill() { this.paused = false; return nats.kill(); },
      /** SIGSTOP: the process stays, frozen (no answers, TCP stays open). */
      async pause() {
        if (!nats.running()) throw new Error(`${s.name} is not running`);
        nats.proc.kill('SIGSTOP');
        this.paused = true;
        await waitStopped(nats.proc.pid);
      },
      /** SIGCONT after pause(). */
      resume() {
        if (this.paused && nats.running()) nats.proc.kill('SIGCONT');
        this.paused = false;
      },
      /** Starts a stopped or killed node again (same ports and store); waits for its healthz. */
      async start() { this.paused = false; return nats.start(); },
      /** stop() if running, then start(). */
      async restart() { if (this.paused) this.resume(); return nats.restart(); },
    };
    return node;
  };

  try {
    // All at once: a clustered node waits for its peers before JetStream is up.
    // The nodes that started are stopped too when another one could not start
    // (a port taken meanwhile): a node left running keeps the test process alive.
    const started = await Promise.allSettled(specs.map((s) => startOne(s)));
    for (const r of started) if (r.status === 'fulfilled') nodes.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    await cluster.waitReady();
  } catch (e) {
    for (const n of nodes) await n.nats.kill().catch(() => {});
    removeTempDir(dir);
    throw e;
  }
  return cluster;
}

/**
 * Creates (PUT) a bucket of kind 'kvm' or 'objm' and returns its status.
 * In a cluster a bucket is created by the meta leader and, when replicated,
 * answered once the new stream's raft group has elected a leader: on a busy
 * machine that can take longer than the short request timeout these tests
 * give jetgate, which then answers 504 nats_timeout (outcome unknown) or 503
 * during a leader change.  An identical PUT is idempotent (200 once the
 * bucket exists), so these are retried as a client would, within withinMs.
 */
export async function putBucket(base, kind, name, cfg, { withinMs = 30000 } = {}) {
  const t0 = Date.now();
  for (;;) {
    const r = await http(base, 'PUT', `/v1/${kind}/buckets/${encodeURIComponent(name)}`, { body: cfg });
    if (r.status === 200 || r.status === 201) return r.json;
    if ((r.status !== 503 && r.status !== 504) || Date.now() - t0 > withinMs) {
      throw new Error(`PUT /v1/${kind}/buckets/${name}: expected 200/201, got ${r.status}: ${r.text}`);
    }
    await sleep(250);
  }
}

/**
 * Deletes a bucket of kind 'kvm' or 'objm', retrying 503/504 as putBucket()
 * does; a 404 after such a retry means the first attempt did it.  Returns
 * the last answer.
 */
export async function deleteBucket(base, kind, name, { withinMs = 30000 } = {}) {
  const t0 = Date.now();
  let retried = false;
  for (;;) {
    const r = await http(base, 'DELETE', `/v1/${kind}/buckets/${encodeURIComponent(name)}`);
    if (r.status === 200 || (retried && r.status === 404)) return r;
    if ((r.status !== 503 && r.status !== 504) || Date.now() - t0 > withinMs) {
      throw new Error(`DELETE /v1/${kind}/buckets/${name}: expected 200, got ${r.status}: ${r.text}`);
    }
    retried = true;
    await sleep(250);
  }
}

/** putBucket() of a KV bucket (this replaces the harness's single-try createKvBucket). */
export function createKvBucket(base, name, cfg = { history: 5 }) {
  return putBucket(base, 'kvm', name, cfg);
}

/** Index of the node jetgate (base URL) is connected to, from /v1/info; -1 if unknown. */
export async function connectedNode(cluster, base) {
  try {
    const r = await fetch(`${base}/v1/info`, { signal: AbortSignal.timeout(3000) });
    const j = await r.json();
    const m = /:(\d+)\/?$/.exec((j.nats && j.nats.url) || '');
    return m ? cluster.nodeByPort(m[1]) : -1;
  } catch {
    return -1;
  }
}

/** Resident set size (bytes) and open descriptors of a process (Linux /proc). */
export function procUsage(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  const threads = /^Threads:\s+(\d+)/m.exec(status);
  return {
    rss: m ? Number(m[1]) * 1024 : 0,
    fds: fs.readdirSync(`/proc/${pid}/fd`).length,
    threads: threads ? Number(threads[1]) : 0,
  };
}
