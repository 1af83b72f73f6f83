// The meta message is an upload's commit point.  When NATS does not confirm
// it in time (a frozen server, a leader election), the message may still be
// stored later: the upload must then answer 504 (outcome unknown) and keep
// its chunks, so that whichever version ends up stored reads back whole.
// Purging the new chunks at that point would leave a meta message that
// points at nothing once the delayed message lands.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import nodeHttp from 'node:http';

import fs from 'node:fs';

import { assertProblem, http, sleep, startStack, uniqueName, waitFor } from '../lib/harness.mjs';

let stack;

before(async () => {
  // short request timeout: the meta attempts and the check after them end
  // well before the server wakes up, and long before the client pings
  // (3 s x 2) would make jetgate drop the connection
  stack = await startStack({ args: ['--request-timeout', '400ms'] });
});

after(async () => {
  if (stack) await stack.stop();
});

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

/** PUT with a chunked body: write `data`, call between(), then end. */
function chunkedPut(base, p, data, between) {
  return new Promise((resolve, reject) => {
    const u = new URL(p, base);
    const req = nodeHttp.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked' },
    }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString();
        let json;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve({ status: res.statusCode, headers, text, json });
      });
    });
    req.on('error', reject);
    req.write(data);
    Promise.resolve(between()).then(() => req.end(), reject);
  });
}

test('a meta message confirmed too late: 504, and the object reads back whole afterwards', async () => {
  const b = uniqueName('commit');
  assert.equal((await http(stack.base, 'PUT', `/v1/objm/buckets/${b}`, { body: {} })).status, 201);
  const path = `/v1/obj/${b}/o.bin?chunkSize=1024`;
  const v1 = crypto.randomBytes(2500);
  assert.equal((await http(stack.base, 'PUT', path, { body: v1 })).status, 201);

  // three whole chunks are published (and acknowledged) before the body
  // ends; the meta message follows the end of the body
  const v2 = crypto.randomBytes(3072);
  const pid = stack.nats.proc.pid;
  let frozen = false;
  let answer;
  try {
    answer = await chunkedPut(stack.base, path, v2, async () => {
      await sleep(500);
      process.kill(pid, 'SIGSTOP');
      frozen = true;
      // the body ends (and the meta message goes out) only once the
      // server is really stopped
      await waitFor(() => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('T'),
        2000, 10, 'nats-server stopped');
    });
    assertProblem(answer, 504, 'nats_timeout', 'upload whose meta message was not confirmed');
  } finally {
    if (frozen) process.kill(pid, 'SIGCONT');
  }

  // the server now stores whatever jetgate sent it while it was frozen:
  // whichever version is visible must read back whole
  await sleep(1000);
  let got;
  for (let i = 0; i < 20; i++) {
    got = await http(stack.base, 'GET', `/v1/obj/${b}/o.bin`);
    if (got.status === 200) break;
    await sleep(250);
  }
  assert.equal(got.status, 200, `GET after the late meta message: ${got.status} ${got.text.slice(0, 300)}`);
  const d = sha(got.bytes);
  assert.ok(d === sha(v1) || d === sha(v2),
    `the object reads back as neither version (${got.bytes.length} bytes)`);
  // the late message carried the new version: it is the one stored
  assert.equal(d, sha(v2), 'the meta message sent while frozen was stored, so v2 is visible');
  assert.equal(got.bytes.length, v2.length);
});
