// NATS authentication: user/password and token reach a protected server,
// wrong credentials leave jetgate up but not ready, and no secret reaches
// the log.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { http, sleep, startJetgate, startNats } from '../lib/harness.mjs';

async function withNats(args, fn) {
  const nats = await startNats({ args });
  try {
    await fn(nats);
  } finally {
    await nats.destroy();
  }
}

async function readyWithin(jg, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if ((await http(jg.base, 'GET', '/readyz', { timeoutMs: 2000 })).status === 200) return true;
    await sleep(100);
  }
  return false;
}

test('user and password: right ones connect, wrong ones keep /readyz at 503', async () => {
  await withNats(['--user', 'app', '--pass', 's3cret-pw-1'], async (nats) => {
    const good = await startJetgate({ natsUrl: nats.url, args: ['--nats-user', 'app', '--log-level', 'debug'],
      env: { JETGATE_NATS_PASSWORD: 's3cret-pw-1' } });
    try {
      assert.ok(await readyWithin(good, 5000), 'ready with the right password');
      const b = `auth${Date.now()}`;
      assert.equal((await http(good.base, 'PUT', `/v1/kvm/buckets/${b}`, { body: '{}' })).status, 201);
      assert.equal((await http(good.base, 'PUT', `/v1/kv/${b}/k`, { body: 'v' })).status, 201);
    } finally {
      await good.stop();
    }
    assert.ok(!good.log().includes('s3cret-pw-1'), 'the password is not in the log');

    const bad = await startJetgate({ natsUrl: nats.url, waitReady: false,
      args: ['--nats-user', 'app', '--nats-password', 'wrong-pw-2', '--log-level', 'debug'] });
    try {
      assert.equal((await http(bad.base, 'GET', '/healthz')).status, 200, 'serves HTTP anyway');
      assert.equal(await readyWithin(bad, 1500), false, 'never ready with a wrong password');
      const r = await http(bad.base, 'GET', '/v1/kv/x/k');
      assert.equal(r.status, 503);
      assert.equal(r.json?.code, 'nats_unavailable');
    } finally {
      await bad.stop();
    }
    assert.ok(!bad.log().includes('wrong-pw-2'), 'the password is not in the log');
  });
});

test('token authentication', async () => {
  await withNats(['--auth', 'tok-abc-123'], async (nats) => {
    const jg = await startJetgate({ natsUrl: nats.url, args: ['--nats-token', 'tok-abc-123', '--log-level', 'debug'] });
    try {
      assert.ok(await readyWithin(jg, 5000));
    } finally {
      await jg.stop();
    }
    assert.ok(!jg.log().includes('tok-abc-123'), 'the token is not in the log');
  });
});
