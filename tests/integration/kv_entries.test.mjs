// Bulk reads of KV entries: GET /v1/kvm/buckets/{bucket}/entries (shapes,
// JSON array and NDJSON, key= with missing keys, deleted=true, the bucket
// revision header, bad input), against a real nats-server and jetgate.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import path from 'node:path';
import {
  assertProblem, connectNats, createKvBucket, http, JETGATE_BIN, kvPath, makeTempDir,
  removeTempDir, startStack, uniqueName,
} from '../lib/harness.mjs';

// Under AddressSanitizer freed memory sits in a quarantine (256 MiB by
// default), which would count as resident: keep it small for the memory test.
process.env.ASAN_OPTIONS = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=4'].filter(Boolean).join(':');

let stack;
let base;

before(async () => {
  stack = await startStack({ args: ['--max-entries-keys=300', '--max-header-size=64KiB'] });
  base = stack.base;
});

after(async () => {
  if (stack) await stack.stop();
});

async function newBucket(cfg = { history: 5 }) {
  const b = uniqueName('kve');
  await createKvBucket(base, b, cfg);
  return b;
}

async function put(b, k, v) {
  const r = await http(base, 'PUT', kvPath(b, k), { body: v });
  assert.equal(r.status, 201, `PUT ${k}: ${r.text}`);
  return JSON.parse(r.text);
}

async function del(b, k, purge = false) {
  const r = await http(base, 'DELETE', kvPath(b, k) + (purge ? '?purge=true' : ''));
  assert.ok(r.status === 200 || r.status === 204, `DELETE ${k}: ${r.status} ${r.text}`);
}

/** The single-key JSON read of k (Accept: application/json). */
async function single(b, k) {
  const r = await http(base, 'GET', kvPath(b, k), { headers: { Accept: 'application/json' } });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

function entriesPath(b, q = '') {
  return `/v1/kvm/buckets/${b}/entries${q ? `?${q}` : ''}`;
}

async function entries(b, q = '', headers = {}) {
  const r = await http(base, 'GET', entriesPath(b, q), { headers });
  assert.equal(r.status, 200, `entries ${q}: ${r.status} ${r.text}`);
  return r;
}

function byKey(list) {
  return Object.fromEntries(list.map((e) => [e.key, e]));
}

describe('GET entries', () => {
  test('each entry is the single key read; array by default, revision header', async () => {
    const b = await newBucket();
    const want = {};
    for (let i = 0; i < 40; i++) want[`app.k${i}`] = `value ${i} ${'x'.repeat(i)}`;
    want['other.z'] = 'not under the prefix';
    for (const [k, v] of Object.entries(want)) await put(b, k, v);
    await put(b, 'app.k3', 'rewritten');
    want['app.k3'] = 'rewritten';
    const last = await put(b, 'app.gone', 'soon deleted');
    await del(b, 'app.gone');

    const r = await entries(b, 'prefix=app.');
    assert.match(r.headers.get('content-type'), /^application\/json\b/);
    const rev = Number(r.headers.get('x-nats-kv-bucket-revision'));
    assert.ok(rev >= last + 1, `bucket revision ${rev} after the last write ${last + 1}`);
    assert.equal(r.headers.get('etag'), `"${rev}"`);
    assert.ok(Array.isArray(r.json));
    const got = byKey(r.json);
    const keys = Object.keys(want).filter((k) => k.startsWith('app.'));
    assert.deepEqual(Object.keys(got).sort(), keys.sort());
    for (const k of keys) {
      const one = await single(b, k);
      assert.deepEqual({ ...got[k], delta: 0 }, { ...one, delta: 0 }, k);
      assert.equal(Buffer.from(got[k].value, 'base64').toString(), want[k]);
      assert.ok(got[k].revision <= rev);
    }
  });

  test('NDJSON: one entry a line; filters and several prefixes', async () => {
    const b = await newBucket();
    for (const k of ['a.1', 'a.2', 'ab', 'b.1', 'b.2.x', 'c.1']) await put(b, k, k);
    const r = await entries(b, 'prefix=a&prefix=b.2', { Accept: 'application/x-ndjson' });
    assert.match(r.headers.get('content-type'), /^application\/x-ndjson\b/);
    const lines = r.text.split('\n').filter((l) => l);
    assert.ok(r.text.endsWith('\n'));
    assert.deepEqual(lines.map((l) => JSON.parse(l).key).sort(), ['a.1', 'a.2', 'ab', 'b.2.x']);
    const f = await entries(b, 'filter=*.1');
    assert.deepEqual(f.json.map((e) => e.key).sort(), ['a.1', 'b.1', 'c.1']);
    const all = await entries(b);
    assert.equal(all.json.length, 6);
    const none = await entries(b, 'prefix=zzz');
    assert.deepEqual(none.json, []);
  });

  test('deleted=true shows markers; key= answers every key asked, in order', async () => {
    const b = await newBucket();
    await put(b, 'x.live', 'here');
    await put(b, 'x.del', 'was');
    await del(b, 'x.del');
    await put(b, 'x.purged', 'was');
    await del(b, 'x.purged', true);
    const plain = await entries(b, 'prefix=x.');
    assert.deepEqual(plain.json.map((e) => e.key), ['x.live']);
    const withDel = byKey((await entries(b, 'prefix=x.&deleted=true')).json);
    assert.equal(withDel['x.del'].operation, 'DEL');
    assert.equal(withDel['x.purged'].operation, 'PURGE');
    assert.equal(withDel['x.del'].value, undefined);

    const named = await entries(b, 'key=x.del&key=x.live&key=never.was&key=x.live');
    assert.deepEqual(named.json.map((e) => e.key), ['x.del', 'x.live', 'never.was', 'x.live']);
    assert.deepEqual(named.json[0], { bucket: b, key: 'x.del', missing: true });
    assert.deepEqual(named.json[2], { bucket: b, key: 'never.was', missing: true });
    assert.deepEqual({ ...named.json[1], delta: 0 }, { ...(await single(b, 'x.live')), delta: 0 });
    const namedDel = await entries(b, 'key=x.del&deleted=true', { Accept: 'application/x-ndjson' });
    assert.equal(JSON.parse(namedDel.text).operation, 'DEL');
  });

  test('many keys stream whole (more than one pull and one buffer)', async () => {
    const b = await newBucket({ history: 1 });
    const n = 3000;
    const v = 'v'.repeat(200);
    const c = await connectNats(stack.nats.url);
    try {
      const kv = await c.kvm.open(b);
      for (let i = 0; i < n; i += 500) {
        const ps = [];
        for (let j = i; j < i + 500 && j < n; j++) ps.push(kv.put(`many.${j}`, `${v}${j}`));
        await Promise.all(ps);
      }
    } finally {
      await c.close();
    }
    const r = await entries(b, 'prefix=many.');
    assert.equal(r.json.length, n);
    const seen = new Set(r.json.map((e) => e.key));
    assert.equal(seen.size, n);
    for (const e of r.json) {
      assert.equal(Buffer.from(e.value, 'base64').toString(), `${v}${e.key.slice(5)}`);
    }
    const nd = await entries(b, 'filter=many.*', { Accept: 'application/x-ndjson' });
    assert.equal(nd.text.split('\n').filter((l) => l).length, n);
  });

  test('a client that stops reading holds jetgate\'s memory to a few MiB', async () => {
    const b = await newBucket({ history: 1 });
    const n = 12000;
    const v = 'm'.repeat(2000); // about 32 MB of entries in all
    const c = await connectNats(stack.nats.url);
    try {
      const kv = await c.kvm.open(b);
      for (let i = 0; i < n; i += 500) {
        const ps = [];
        for (let j = i; j < i + 500 && j < n; j++) ps.push(kv.put(`big.${j}`, `${j}:${v}`));
        await Promise.all(ps);
      }
    } finally {
      await c.close();
    }
    const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${stack.jg.proc.pid}/status`, 'utf8'))[1]);
    const before = rssKiB();
    let peak = before;
    const { count, bytes } = await new Promise((resolve, reject) => {
      const req = nodeHttp.get(`${base}${entriesPath(b, 'prefix=big.')}`, { headers: { Accept: 'application/x-ndjson' } }, (res) => {
        let got = 0;
        let lines = 0;
        let rest = '';
        res.setEncoding('utf8');
        res.once('data', (d) => {
          // stop reading for a while: jetgate must stop asking NATS for more
          res.pause();
          got += d.length;
          rest += d;
          const t = setInterval(() => { peak = Math.max(peak, rssKiB()); }, 50);
          setTimeout(() => {
            clearInterval(t);
            res.on('data', (more) => {
              got += more.length;
              rest += more;
              const parts = rest.split('\n');
              rest = parts.pop();
              lines += parts.length;
            });
            res.resume();
          }, 1500);
        });
        res.on('end', () => resolve({ count: lines + (rest ? 1 : 0), bytes: got }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    assert.equal(count, n, `${count} lines, ${bytes} bytes`);
    assert.ok(bytes > 30e6, `${bytes} bytes`);
    assert.ok(peak - before < 16 * 1024, `RSS grew by ${peak - before} KiB while the client did not read`);
  });

  test('bad input', async () => {
    const b = await newBucket();
    await put(b, 'k7', 'v');
    assertProblem(await http(base, 'GET', entriesPath(b, 'key=k7&prefix=a')), 400, 'invalid_parameter');
    assertProblem(await http(base, 'GET', entriesPath(b, 'filter=a..b')), 400, 'invalid_key');
    assertProblem(await http(base, 'GET', entriesPath(b, 'key=a..b')), 400, 'invalid_key');
    assertProblem(await http(base, 'GET', entriesPath(b, 'key=')), 400, 'invalid_key');
    assertProblem(await http(base, 'GET', entriesPath(b, 'deleted=maybe')), 400, 'invalid_parameter');
    const many = Array.from({ length: 1000 }, (_, i) => `key=k${i}`).join('&');
    assertProblem(await http(base, 'GET', entriesPath(b, many)), 400, 'invalid_parameter');
    const ok = Array.from({ length: 300 }, (_, i) => `key=k${i}`).join('&');
    const r = await entries(b, ok);
    assert.equal(r.json.length, 300);
    assert.equal(r.json.filter((e) => !e.missing).length, 1);
    assertProblem(await http(base, 'GET', entriesPath('nosuchbucket' + Date.now())), 404, 'bucket_not_found');
    assertProblem(await http(base, 'GET', entriesPath('bad.bucket')), 400, 'invalid_bucket');
  });
});

describe('entries and nats.js', () => {
  test('entries hold what nats.js reads with keys() and get()', async () => {
    const b = await newBucket();
    const c = await connectNats(stack.nats.url);
    try {
      const kv = await c.kvm.open(b);
      for (let i = 0; i < 50; i++) await kv.put(`js.${i % 17}.${i}`, new Uint8Array([i, 0, 255, i * 3 % 256]));
      await kv.delete('js.3.3');
      await kv.purge('js.4.4');
      await put(b, 'js.x', 'through jetgate');
      const keys = [];
      for await (const k of await kv.keys('js.>')) keys.push(k);
      const r = await entries(b, 'prefix=js.');
      assert.deepEqual(r.json.map((e) => e.key).sort(), keys.sort());
      for (const e of r.json) {
        const g = await kv.get(e.key);
        assert.equal(e.revision, g.revision, e.key);
        assert.equal(e.operation, g.operation);
        assert.deepEqual(Buffer.from(e.value, 'base64'), Buffer.from(g.value), e.key);
      }
    } finally {
      await c.close();
    }
  });

  test('DELETE entries: a marker for every selected key, as nats.js sees it', async () => {
    const b = await newBucket();
    const c = await connectNats(stack.nats.url);
    try {
      const kv = await c.kvm.open(b);
      for (let i = 0; i < 30; i++) await put(b, `d/${i}`, `v${i}`);
      for (let i = 0; i < 5; i++) await put(b, `keep/${i}`, `k${i}`);
      await del(b, 'd/0');
      const r = await http(base, 'DELETE', entriesPath(b, 'prefix=d/'));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.deleted, 29);
      const status = await http(base, 'GET', `/v1/kvm/buckets/${b}`);
      assert.ok(r.json.revision > 35 && r.json.revision <= 36 + 29, JSON.stringify(r.json) + status.text);
      const keys = [];
      for await (const k of await kv.keys()) keys.push(k);
      assert.deepEqual(keys.sort(), ['keep/0', 'keep/1', 'keep/2', 'keep/3', 'keep/4']);
      assert.equal((await kv.get('d/7')).operation, 'DEL');
      const again = await http(base, 'DELETE', entriesPath(b, 'prefix=d/'));
      assert.deepEqual(again.json, { deleted: 0, revision: 0 });

      const p = await http(base, 'DELETE', entriesPath(b, 'filter=keep.*&filter=keep/3&purge=true'));
      assert.equal(p.status, 200, p.text);
      assert.equal(p.json.deleted, 1);
      assert.equal((await kv.get('keep/3')).operation, 'PURGE');
      const all = await http(base, 'DELETE', entriesPath(b, 'all=true'));
      assert.equal(all.json.deleted, 4);
      assert.deepEqual((await entries(b)).json, []);
    } finally {
      await c.close();
    }
  });

  test('DELETE entries: bad input', async () => {
    const b = await newBucket();
    await put(b, 'k', 'v');
    assertProblem(await http(base, 'DELETE', entriesPath(b)), 400, 'invalid_parameter');
    assertProblem(await http(base, 'DELETE', entriesPath(b, 'all=false')), 400, 'invalid_parameter');
    assertProblem(await http(base, 'DELETE', entriesPath(b, 'key=k')), 400, 'invalid_parameter');
    assertProblem(await http(base, 'DELETE', entriesPath(b, 'filter=a..b')), 400, 'invalid_key');
    assertProblem(await http(base, 'DELETE', entriesPath(b, 'prefix=k&purge=perhaps')), 400, 'invalid_parameter');
    assertProblem(await http(base, 'DELETE', entriesPath(`${b}nope`, 'all=true')), 404, 'bucket_not_found');
    assert.equal((await single(b, 'k')).operation, 'PUT');
  });
});

describe('entries and the token\'s rules', () => {
  let st;
  let dir;
  const admin = { Authorization: 'Bearer adm-51c0e8a2' };
  const two = { Authorization: 'Bearer two-9f3b7d14' };
  const hash = (t) => execFileSync(JETGATE_BIN, ['--hash-token'], { input: `${t}\n` }).toString().trim();

  before(async () => {
    dir = makeTempDir('jetgate-entries-authz-');
    const tokens = path.join(dir, 'tokens');
    fs.writeFileSync(tokens, `admin ${hash('adm-51c0e8a2')} all@*\ntwo ${hash('two-9f3b7d14')} read,delete@eb/p1/ read,delete@eb/p2/x\n`);
    st = await startStack({ jetgate: { args: ['--tokens-file', tokens] } });
    assert.equal((await http(st.base, 'PUT', '/v1/kvm/buckets/eb', { body: '{}', headers: admin })).status, 201);
    for (const k of ['p1/a', 'p1/b', 'p2/x1', 'p2/y', 'p3/c']) {
      assert.equal((await http(st.base, 'PUT', `/v1/kv/eb/${k}`, { body: k, headers: admin })).status, 201);
    }
  });

  after(async () => {
    if (st) await st.stop();
    if (dir) removeTempDir(dir);
  });

  const get = (q) => http(st.base, 'GET', `/v1/kvm/buckets/eb/entries${q}`, { headers: two });

  test('a selector shows only the keys the token may read', async () => {
    const all = await get('');
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(all.json.map((e) => e.key).sort(), ['p1/a', 'p1/b', 'p2/x1']);
    const p2 = await get('?prefix=p2/');
    assert.deepEqual(p2.json.map((e) => e.key), ['p2/x1']);
    const f = await get('?filter=>');
    assert.deepEqual(f.json.map((e) => e.key).sort(), ['p1/a', 'p1/b', 'p2/x1']);
  });

  test('a key or prefix wholly outside the rules is 403 before anything is read', async () => {
    assertProblem(await get('?key=p1/a&key=p3/c'), 403, 'forbidden');
    assertProblem(await get('?key=p2/y'), 403, 'forbidden');
    assertProblem(await get('?key=p3/none'), 403, 'forbidden');
    assertProblem(await get('?prefix=p3/'), 403, 'forbidden');
    assertProblem(await get('?prefix=p1/&prefix=q'), 403, 'forbidden');
    const ok = await get('?key=p1/a&key=p1/none');
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json.map((e) => e.key), ['p1/a', 'p1/none']);
    assert.equal(ok.json[1].missing, true);
  });

  test('DELETE entries touches no key outside the rules', async () => {
    const del2 = (q) => http(st.base, 'DELETE', `/v1/kvm/buckets/eb/entries${q}`, { headers: two });
    assertProblem(await del2('?prefix=p3/'), 403, 'forbidden');
    const r = await del2('?all=true');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.deleted, 3);
    const left = await http(st.base, 'GET', '/v1/kvm/buckets/eb/keys', { headers: admin });
    assert.deepEqual(left.json.sort(), ['p2/y', 'p3/c']);
  });
});
