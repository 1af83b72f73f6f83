// HTTPS: a test CA made at test time, TLS works, plain HTTP to the TLS port
// fails cleanly, mutual TLS refuses clients without a valid certificate,
// SIGHUP swaps the certificate without a restart, and only TLS 1.2 and 1.3
// are spoken unless tls_priorities says otherwise.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';

import { makeTempDir, removeTempDir, sleep, startJetgate, startNats, tcpAccepts } from '../lib/harness.mjs';

let dir;
let nats;
const files = {};

function openssl(...args) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

// A key and a certificate signed by the test CA.
function issue(name, { server }) {
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, server ? 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'
    : 'extendedKeyUsage=clientAuth\n');
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '2', '-out', `${name}.crt`, '-extfile', ext);
  files[name] = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

function get(port, { cert, key, ca = files.ca, tls = {} } = {}) {
  return new Promise((resolve) => {
    const req = https.request({
      host: '127.0.0.1', port, path: '/healthz', method: 'GET', ca: fs.readFileSync(ca), timeout: 5000, agent: false,
      cert: cert && fs.readFileSync(cert), key: key && fs.readFileSync(key), ...tls,
    }, (res) => {
      const peer = res.socket.getPeerCertificate();
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body, subject: peer?.subject?.CN, protocol: res.socket.getProtocol?.() }));
    });
    req.on('error', (e) => resolve({ status: 0, error: e.code || e.message }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

before(async () => {
  dir = makeTempDir('jetgate-tls-');
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=jetgate test CA');
  files.ca = path.join(dir, 'ca.crt');
  issue('server-one', { server: true });
  issue('server-two', { server: true });
  issue('client', { server: false });
  nats = await startNats();
});

after(async () => {
  if (nats) await nats.destroy();
  if (dir) removeTempDir(dir);
});

async function startTls(extra = []) {
  // the served files are copies, so a reload can swap them under the same names
  fs.copyFileSync(files['server-one'].cert, path.join(dir, 'live.crt'));
  fs.copyFileSync(files['server-one'].key, path.join(dir, 'live.key'));
  return startJetgate({ natsUrl: nats.url, waitReady: false, probe: 'tcp',
    args: ['--tls-cert', path.join(dir, 'live.crt'), '--tls-key', path.join(dir, 'live.key'), ...extra] });
}

test('HTTPS works and plain HTTP to the TLS port fails cleanly', async () => {
  const jg = await startTls();
  try {
    const r = await get(jg.port);
    assert.equal(r.status, 200, r.error);
    assert.equal(r.subject, 'server-one');
    // plain HTTP: no hang, no HTTP answer, and the daemon keeps serving
    const plain = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: jg.port }, () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
      let data = '';
      s.setTimeout(5000, () => { s.destroy(); resolve({ data, timedOut: true }); });
      s.on('data', (d) => { data += d.toString('latin1'); });
      s.on('close', () => resolve({ data, timedOut: false }));
      s.on('error', () => {});
    });
    assert.equal(plain.timedOut, false, 'a plain HTTP client is not left hanging');
    assert.ok(!plain.data.startsWith('HTTP/1.1 200'), 'no plain-text answer');
    assert.equal((await get(jg.port)).status, 200);
  } finally {
    await jg.stop();
  }
});

test('mutual TLS: a client without a valid certificate is refused', async () => {
  const jg = await startTls(['--tls-client-ca', files.ca]);
  try {
    const ok = await get(jg.port, files.client);
    assert.equal(ok.status, 200, `with the client certificate: ${ok.error}`);
    const none = await get(jg.port);
    assert.ok(none.status === 0 || none.status === 401, `without a certificate: ${none.status}`);
    // a certificate from another CA
    const other = makeTempDir('jetgate-tls-other-');
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', 'o.key', '-out', 'o.crt', '-days', '1', '-subj', '/CN=stranger'], { cwd: other, stdio: 'pipe' });
      const bad = await get(jg.port, { cert: path.join(other, 'o.crt'), key: path.join(other, 'o.key') });
      assert.ok(bad.status === 0 || bad.status === 401, `with a stranger's certificate: ${bad.status}`);
    } finally {
      removeTempDir(other);
    }
    assert.equal((await get(jg.port, files.client)).status, 200, 'still serving');
  } finally {
    await jg.stop();
  }
});

test('SIGHUP loads a new certificate without dropping the listener', async () => {
  const jg = await startTls();
  try {
    assert.equal((await get(jg.port)).subject, 'server-one');
    fs.copyFileSync(files['server-two'].cert, path.join(dir, 'live.crt'));
    fs.copyFileSync(files['server-two'].key, path.join(dir, 'live.key'));
    jg.proc.kill('SIGHUP');
    let subject;
    for (let i = 0; i < 50; i++) {
      subject = (await get(jg.port)).subject;
      if (subject === 'server-two') break;
      await sleep(100);
    }
    assert.equal(subject, 'server-two');
    assert.ok(await tcpAccepts(jg.port));
  } finally {
    await jg.stop();
  }
});

// The client's own floor is lowered (security level 0) so that only the
// server can be what refuses TLS 1.0 and 1.1.
const oldTls = (v) => ({ minVersion: v, maxVersion: v, ciphers: 'DEFAULT@SECLEVEL=0' });

test('TLS 1.0 and 1.1 are refused by default; 1.2 and 1.3 work', async () => {
  const jg = await startTls();
  try {
    for (const v of ['TLSv1', 'TLSv1.1']) {
      const r = await get(jg.port, { tls: oldTls(v) });
      assert.equal(r.status, 0, `${v} is refused (got ${r.status} over ${r.protocol})`);
    }
    for (const v of ['TLSv1.2', 'TLSv1.3']) {
      const r = await get(jg.port, { tls: { minVersion: v, maxVersion: v } });
      assert.equal(r.status, 200, `${v}: ${r.error}`);
      assert.equal(r.protocol, v);
    }
  } finally {
    await jg.stop();
  }
});

test('tls_priorities: a GnuTLS priority string chooses the versions; a bad one stops start-up', async () => {
  const jg = await startTls(['--tls-priorities', 'NORMAL:-VERS-ALL:+VERS-TLS1.3']);
  try {
    assert.equal((await get(jg.port, { tls: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } })).status, 0, 'TLS 1.2 refused');
    assert.equal((await get(jg.port, { tls: { minVersion: 'TLSv1.3' } })).status, 200);
  } finally {
    await jg.stop();
  }
  await assert.rejects(startTls(['--tls-priorities', 'NORMAL:+NO-SUCH-THING']), /tls_priorities/);
});
