// Operations routes, routing errors and the command line (http-api.md
// sections 1, 6, 7 and 8) against a real nats-server and jetgate.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  JETGATE_BIN, assertProblem, createKvBucket, freePort, http, kvPath, makeTempDir, monitorJson,
  startJetgate, startStack, tcpAccepts, uniqueName,
} from '../lib/harness.mjs';

let stack;
let base;

before(async () => {
  stack = await startStack();
  base = stack.base;
});

after(async () => {
  if (stack) await stack.stop();
});

function allowSet(r) {
  const allow = r.headers.get('allow');
  assert.ok(allow, 'Allow header present');
  return new Set(allow.split(',').map((m) => m.trim().toUpperCase()).filter(Boolean));
}

function runJetgate(args) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('JETGATE_')) env[k] = v;
  return spawnSync(JETGATE_BIN, args, { env, encoding: 'utf8', timeout: 10000 });
}

describe('health', () => {
  test('GET /healthz and /readyz are 200 when connected', async () => {
    const h = await http(base, 'GET', '/healthz');
    assert.equal(h.status, 200);
    const r = await http(base, 'GET', '/readyz');
    assert.equal(r.status, 200);
  });

  test('/readyz is 503 with a reason while NATS cannot be reached, /healthz stays 200', async () => {
    const deadPort = await freePort();
    const jg = await startJetgate({ natsUrl: `nats://127.0.0.1:${deadPort}`, waitReady: false });
    try {
      const h = await http(jg.base, 'GET', '/healthz');
      assert.equal(h.status, 200);
      const r = await http(jg.base, 'GET', '/readyz');
      assert.equal(r.status, 503);
      assert.ok(r.text.trim().length > 0, 'the 503 says why');
      const k = await http(jg.base, 'GET', '/v1/kv/b/k');
      assertProblem(k, 503, 'nats_unavailable');
      assert.ok(k.headers.get('retry-after'), 'Retry-After present');
      assert.ok(k.ms < 2500, `answered in ${k.ms} ms`);
    } finally {
      await jg.kill();
    }
  });
});

describe('routing errors', () => {
  test('an unknown route is 404 not_found as problem+json', async () => {
    for (const p of ['/', '/nope', '/v1', '/v1/nope', '/v2/kv/b/k', '/v1/kvm', '/v1/kvm/nope',
      '/healthz/extra']) {
      assertProblem(await http(base, 'GET', p), 404, 'not_found', p);
    }
    assertProblem(await http(base, 'POST', '/v1/nope', { body: 'x' }), 404, 'not_found', 'POST /v1/nope');
  });

  test('a wrong method is 405 method_not_allowed with an Allow header', async () => {
    const b = uniqueName('ops');
    await createKvBucket(base, b);
    const cases = [
      ['PATCH', kvPath(b, 'k'), ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']],
      ['PATCH', `/v1/kvm/buckets/${b}/keys/k`, ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']],
      ['POST', '/v1/kvm/buckets', ['GET']],
      ['DELETE', '/v1/kvm/buckets', ['GET']],
      ['PATCH', `/v1/kvm/buckets/${b}`, ['GET', 'POST', 'PUT', 'DELETE']],
      ['POST', `/v1/kvm/buckets/${b}/keys`, ['GET']],
      ['GET', `/v1/kvm/buckets/${b}/purge`, ['DELETE']],
      ['POST', '/healthz', ['GET']],
      ['DELETE', '/readyz', ['GET']],
      ['PUT', '/v1/info', ['GET']],
      ['POST', '/metrics', ['GET']],
    ];
    for (const [method, p, expected] of cases) {
      const r = await http(base, method, p, { body: method === 'GET' || method === 'DELETE' ? undefined : 'x' });
      assertProblem(r, 405, 'method_not_allowed', `${method} ${p}`);
      const allow = allowSet(r);
      for (const m of expected) assert.ok(allow.has(m), `${method} ${p}: Allow '${r.headers.get('allow')}' lacks ${m}`);
      assert.ok(!allow.has(method), `${method} ${p}: Allow lists the refused method`);
    }
    assert.equal(await http(base, 'GET', kvPath(b, 'k')).then((r) => r.status), 404, 'the refused PATCH wrote nothing');
  });
});

describe('/v1/info and /metrics', () => {
  test('/v1/info describes the version, the NATS connection and the JetStream account', async () => {
    await createKvBucket(base, uniqueName('info'));
    const r = await http(base, 'GET', '/v1/info');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') || '', /^application\/json\b/);
    const j = r.json;
    assert.equal(typeof j.version, 'string');
    assert.match(j.version, /\d+\.\d+/);
    const v = runJetgate(['--version']);
    assert.ok((v.stdout + v.stderr).includes(j.version), '--version prints the same version');

    const varz = await monitorJson(stack.nats.monitorPort, '/varz');
    assert.equal(j.nats.connected, true);
    assert.equal(typeof j.nats.url, 'string');
    assert.ok(j.nats.url.includes(`:${stack.nats.port}`), `url ${j.nats.url}`);
    assert.equal(j.nats.server_id, varz.server_id);
    assert.equal(j.nats.server_version, varz.version);

    const jsz = await monitorJson(stack.nats.monitorPort, '/jsz');
    for (const f of ['memory', 'storage', 'streams', 'consumers']) {
      assert.ok(Number.isInteger(j.jetstream[f]), `jetstream.${f} is an integer`);
    }
    assert.equal(j.jetstream.streams, jsz.streams);
    assert.ok(j.jetstream.streams >= 1);
    assert.equal(j.jetstream.storage, jsz.storage);
    assert.equal(typeof j.jetstream.limits, 'object');
    assert.ok(j.jetstream.limits !== null);
  });

  describe('/metrics', () => {
    let types;
    let samples;
    let text;

    before(async () => {
      const b = uniqueName('met');
      await createKvBucket(base, b);
      await http(base, 'GET', kvPath(b, 'missing'));
      await http(base, 'PUT', kvPath(b, 'k'), { body: Buffer.from('v') });
      await http(base, 'GET', kvPath(b, 'k'));
      const r = await http(base, 'GET', '/metrics');
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') || '', /^text\/plain\b/);
      text = r.text;
      types = new Map();
      samples = [];
      for (const line of text.split('\n')) {
        if (line === '') continue;
        let m;
        if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
          types.set(m[1], m[2]);
          continue;
        }
        if (line.startsWith('#')) continue;
        m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)( \d+)?$/.exec(line);
        samples.push(m ? { name: m[1], labels: m[2] || '', value: Number(m[3]) } : { bad: line });
      }
    });

    test('every line is a Prometheus comment or sample', () => {
      assert.deepEqual(samples.filter((s) => s.bad).map((s) => s.bad), []);
      assert.ok(samples.length > 0);
    });

    test('requests are counted by route and by exact status', () => {
      assert.ok(samples.some((s) => /"404"/.test(s.labels) && s.value >= 1), 'a sample labelled with status 404');
      assert.ok(samples.some((s) => /"201"/.test(s.labels) && s.value >= 1), 'a sample labelled with status 201');
      assert.ok(samples.some((s) => /route="[^"]+"/.test(s.labels) || /operation="[^"]+"/.test(s.labels)),
        'a sample labelled with the route');
    });

    test('request latency is a histogram', () => {
      const hist = [...types].filter(([, t]) => t === 'histogram').map(([n]) => n);
      assert.ok(hist.length > 0, 'a histogram');
      assert.ok(samples.some((s) => s.name === `${hist[0]}_bucket` && s.labels.includes('le="+Inf"')));
      assert.ok(samples.some((s) => s.name === `${hist[0]}_count`));
    });

    test('bytes in and out are counted', () => {
      const bytes = samples.filter((s) => /bytes/.test(s.name) && !/^process_/.test(s.name));
      assert.ok(bytes.some((s) => /received|_in(_|$)/.test(s.name)), 'bytes in');
      assert.ok(bytes.some((s) => /sent|_out(_|$)/.test(s.name)), 'bytes out');
    });

    test('open watchers are a gauge', () => {
      assert.ok(samples.some((s) => /watch/.test(s.name) && types.get(s.name) === 'gauge'), 'open watchers gauge');
    });

    test('NATS connection state and reconnects are exported', () => {
      assert.ok(samples.some((s) => /nats/.test(s.name) && /reconnect/.test(s.name)), 'NATS reconnects');
      const state = samples.find((s) => /nats/.test(s.name) && /connected|state|up/.test(s.name) && !/reconnect/.test(s.name));
      assert.ok(state, 'NATS connection state');
      assert.equal(state.value, 1, 'connected');
    });
  });
});

describe('command line', () => {
  test('--version prints a version and exits 0', () => {
    const r = runJetgate(['--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /\d+\.\d+/);
  });

  test('--help prints the options and exits 0', () => {
    const r = runJetgate(['--help']);
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout + r.stderr;
    for (const opt of ['--listen', '--nats', '--request-timeout', '--config', '--version', '--help']) {
      assert.ok(out.includes(opt), `--help mentions ${opt}`);
    }
  });

  test('an unknown option exits non-zero', () => {
    const r = runJetgate(['--no-such-option']);
    assert.notEqual(r.status, 0);
    assert.ok(r.stderr.length > 0, 'says why on stderr');
  });

  test('SIGTERM stops jetgate with exit code 0', async () => {
    const jg = await startJetgate({ natsUrl: stack.nats.url });
    assert.equal((await http(jg.base, 'GET', '/healthz')).status, 200);
    const t0 = Date.now();
    const code = await jg.stop();
    assert.equal(code, 0, jg.log());
    assert.ok(Date.now() - t0 < 10000, 'stopped within the shutdown timeout');
    assert.equal(await tcpAccepts(jg.port), false, 'the port is closed');
  });

  test('listen and nats from environment variables', async () => {
    const port = await freePort();
    const jg = await startJetgate({
      env: { JETGATE_LISTEN: `127.0.0.1:${port}`, JETGATE_NATS: stack.nats.url },
    });
    try {
      assert.equal(jg.port, port);
      assert.ok(!jg.args.includes('--listen') && !jg.args.includes('--nats'));
      assert.equal((await http(jg.base, 'GET', '/readyz')).status, 200);
    } finally {
      await jg.stop();
    }
  });

  test('options from a config file (-c), overridden by environment, overridden by flags', async () => {
    const dir = makeTempDir('jetgate-conf-');
    const filePort = await freePort();
    const envPort = await freePort();
    const flagPort = await freePort();
    const conf = path.join(dir, 'jetgate.conf');
    fs.writeFileSync(conf, `# test configuration\nlisten = 127.0.0.1:${filePort}\nnats = ${stack.nats.url}\nrequest_timeout = 2s\n`);

    const a = await startJetgate({ defaultArgs: false, port: filePort, args: ['-c', conf] });
    try {
      assert.equal((await http(a.base, 'GET', '/readyz')).status, 200, 'listens where the file says');
    } finally {
      await a.stop();
    }
    const b = await startJetgate({
      defaultArgs: false, port: envPort, args: ['--config', conf],
      env: { JETGATE_LISTEN: `127.0.0.1:${envPort}` },
    });
    try {
      assert.equal((await http(b.base, 'GET', '/readyz')).status, 200, 'the environment wins over the file');
      assert.equal(await tcpAccepts(filePort), false);
    } finally {
      await b.stop();
    }
    const c = await startJetgate({
      defaultArgs: false, port: flagPort, args: ['-c', conf, '--listen', `127.0.0.1:${flagPort}`],
      env: { JETGATE_LISTEN: `127.0.0.1:${envPort}` },
    });
    try {
      assert.equal((await http(c.base, 'GET', '/readyz')).status, 200, 'the flag wins over the environment');
      assert.equal(await tcpAccepts(envPort), false);
    } finally {
      await c.stop();
    }
  });

  test('a bad config file stops start-up with a non-zero exit', () => {
    const dir = makeTempDir('jetgate-conf-');
    const conf = path.join(dir, 'bad.conf');
    fs.writeFileSync(conf, 'listen = 127.0.0.1:1\nno_such_option = 3\n');
    const r = runJetgate(['-c', conf]);
    assert.notEqual(r.status, 0);
    assert.ok(r.stderr.includes('no_such_option'), `names the bad option: ${r.stderr}`);
  });
});

test('X-Request-Id is echoed or generated, in problems and in the access log', async () => {
  const { startStack: start, http: req } = await import('../lib/harness.mjs');
  const s = await start({ jetgate: { args: ['--access-log'] } });
  try {
    const a = await req(s.base, 'GET', '/healthz', { headers: { 'X-Request-Id': 'abc-123.x' } });
    assert.equal(a.headers.get('x-request-id'), 'abc-123.x');
    const b = await req(s.base, 'GET', '/healthz');
    const c = await req(s.base, 'GET', '/healthz');
    assert.match(b.headers.get('x-request-id') || '', /^[0-9a-f]{16,}$/);
    assert.notEqual(b.headers.get('x-request-id'), c.headers.get('x-request-id'));
    const bad = await req(s.base, 'GET', '/healthz', { headers: { 'X-Request-Id': 'no spaces allowed' } });
    assert.notEqual(bad.headers.get('x-request-id'), 'no spaces allowed');
    const p = await req(s.base, 'GET', '/v1/kv/nobucket/k?authorization=sekrit-query', { headers: { 'X-Request-Id': 'trace-42' } });
    assert.equal(p.status, 404);
    assert.equal(p.json.request_id, 'trace-42');
    await new Promise((r) => setTimeout(r, 200));
    const log = s.jg.log();
    assert.match(log, /access: 127\.0\.0\.1 "GET \/v1\/kv\/nobucket\/k" 404 \d+ \d+ms id=trace-42 token=-/);
    assert.ok(!log.includes('sekrit-query'), 'query strings never reach the access log');
  } finally {
    await s.stop();
  }
});
