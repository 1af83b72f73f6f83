// The Unix-domain listener: same API over a socket file whose permissions
// decide who may connect; the file goes away with jetgate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import path from 'node:path';

import { makeTempDir, removeTempDir, startStack } from '../lib/harness.mjs';

function viaSocket(socketPath, method, p, body) {
  return new Promise((resolve, reject) => {
    const req = nodeHttp.request({ socketPath, method, path: p, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the API over a Unix socket with the configured mode; the file is removed at exit', async () => {
  const dir = makeTempDir('jetgate-unix-');
  const sock = path.join(dir, 'jetgate.sock');
  const s = await startStack({ jetgate: { args: ['--listen-unix', sock, '--listen-unix-mode', '0600'] } });
  try {
    assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
    assert.ok(fs.statSync(sock).isSocket());
    const b = `ux${Date.now()}`;
    assert.equal((await viaSocket(sock, 'PUT', `/v1/kvm/buckets/${b}`, '{}')).status, 201);
    assert.equal((await viaSocket(sock, 'PUT', `/v1/kv/${b}/k`, 'over-unix')).status, 201);
    const r = await viaSocket(sock, 'GET', `/v1/kv/${b}/k`);
    assert.equal(r.status, 200);
    assert.equal(r.text, 'over-unix');
    const tcp = await fetch(`${s.base}/v1/kv/${b}/k`);
    assert.equal(await tcp.text(), 'over-unix', 'the TCP listener serves the same data');
  } finally {
    await s.stop();
    assert.ok(!fs.existsSync(sock), 'the socket file is removed at exit');
    removeTempDir(dir);
  }
});
