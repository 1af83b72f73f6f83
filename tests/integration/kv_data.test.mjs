// KV data API: /v1/kv/{bucket}/{key} and /v1/kvm/buckets/{bucket}/keys/{key}
// (http-api.md sections 2 and 8) against a real nats-server and jetgate.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertProblem, connectNats, createKvBucket, http, jszStream, kvmKeyPath, kvPath,
  parseRfc3339Ms, startJetgate, startStack, uniqueName,
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

async function newBucket(cfg = { history: 10 }) {
  const b = uniqueName('kvd');
  await createKvBucket(base, b, cfg);
  return b;
}

/** PUT that must succeed; returns the revision after checking the 201 answer. */
async function put(b, k, value, headers = {}, query = '') {
  const r = await http(base, 'PUT', kvPath(b, k) + query, { body: value, headers });
  assert.equal(r.status, 201, `PUT ${b}/${k}: ${r.text}`);
  return checkPutAnswer(r);
}

function checkPutAnswer(r) {
  const rev = JSON.parse(r.text);
  assert.ok(Number.isInteger(rev) && rev > 0, `PUT body must be a positive JSON integer, got '${r.text}'`);
  assert.match(r.headers.get('content-type') || '', /^application\/json\b/);
  assert.equal(r.headers.get('x-nats-kv-revision'), String(rev));
  assert.equal(r.headers.get('x-nats-kv-sequence'), String(rev), 'revision = stream sequence');
  assert.equal(r.headers.get('etag'), `"${rev}"`);
  return rev;
}

async function streamMessages(b) {
  const s = await jszStream(stack.nats.monitorPort, `KV_${b}`);
  assert.ok(s, `stream KV_${b} exists`);
  return s.state.messages;
}

/** Asserts the GET/HEAD entry headers for a current PUT value. */
function checkEntryHeaders(r, b, k, rev) {
  assert.equal(r.headers.get('x-nats-kv-bucket'), b);
  assert.equal(r.headers.get('x-nats-kv-key'), k);
  assert.equal(r.headers.get('x-nats-kv-revision'), String(rev));
  assert.equal(r.headers.get('x-nats-kv-operation'), 'PUT');
  assert.match(r.headers.get('x-nats-kv-delta') || '', /^\d+$/, 'X-Nats-Kv-Delta is a non-negative integer');
  assert.equal(r.headers.get('etag'), `"${rev}"`);
  const created = parseRfc3339Ms(r.headers.get('x-nats-kv-created'));
  assert.ok(Math.abs(Date.now() - created) < 60000, 'X-Nats-Kv-Created is about now');
  const lm = r.headers.get('last-modified');
  assert.ok(lm, 'Last-Modified present');
  assert.match(lm, /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/, 'Last-Modified is an HTTP-date');
  assert.equal(Date.parse(lm), Math.floor(created / 1000) * 1000, 'Last-Modified is X-Nats-Kv-Created in whole seconds');
}

describe('GET / HEAD', () => {
  test('GET returns the raw value with every entry header, consistent with the PUT', async () => {
    const b = await newBucket();
    const rev = await put(b, 'greeting', Buffer.from('hello world'));
    assert.equal(rev, 1, 'first write in a fresh bucket is revision 1');
    const r = await http(base, 'GET', kvPath(b, 'greeting'));
    assert.equal(r.status, 200);
    assert.equal(r.text, 'hello world');
    checkEntryHeaders(r, b, 'greeting', rev);
    assert.equal(r.headers.get('x-nats-kv-delta'), '0', 'delta is 0 for a get');
  });

  test('both URL forms address the same entry', async () => {
    const b = await newBucket();
    const r1 = await http(base, 'PUT', kvmKeyPath(b, 'k1'), { body: Buffer.from('via kvm') });
    assert.equal(r1.status, 201, r1.text);
    const rev1 = checkPutAnswer(r1);
    const g1 = await http(base, 'GET', kvPath(b, 'k1'));
    assert.equal(g1.status, 200);
    assert.equal(g1.text, 'via kvm');
    assert.equal(g1.headers.get('x-nats-kv-revision'), String(rev1));

    const rev2 = await put(b, 'k1', Buffer.from('via kv'));
    assert.equal(rev2, rev1 + 1);
    const g2 = await http(base, 'GET', kvmKeyPath(b, 'k1'));
    assert.equal(g2.status, 200);
    assert.equal(g2.text, 'via kv');
    checkEntryHeaders(g2, b, 'k1', rev2);

    const d = await http(base, 'DELETE', kvmKeyPath(b, 'k1'));
    assert.equal(d.status, 200, d.text);
    assert.deepEqual(d.json, { revision: rev2 + 1 });
    assertProblem(await http(base, 'GET', kvPath(b, 'k1')), 404, 'key_not_found');
  });

  test('GET with Accept: application/json gives the JSON entry with standard padded base64', async () => {
    const b = await newBucket();
    const value = Buffer.from([0xfb, 0xff, 0xbf, 0x00, 0x3e]); // base64 uses '+', '/' and '='
    const rev = await put(b, 'bin', value);
    const r = await http(base, 'GET', kvPath(b, 'bin'), { headers: { Accept: 'application/json' } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') || '', /^application\/json\b/);
    const j = r.json;
    assert.equal(j.bucket, b);
    assert.equal(j.key, 'bin');
    assert.equal(j.revision, rev);
    assert.equal(j.delta, 0);
    assert.equal(j.operation, 'PUT');
    assert.equal(j.value, '+/+/AD4=');
    assert.deepEqual(Buffer.from(j.value, 'base64'), value);
    const created = parseRfc3339Ms(j.created);
    assert.ok(Math.abs(Date.now() - created) < 60000);
    // The header form and the JSON form tell the same time.
    const raw = await http(base, 'GET', kvPath(b, 'bin'));
    assert.equal(parseRfc3339Ms(raw.headers.get('x-nats-kv-created')), created);
  });

  test('GET with Accept: application/json on a missing key is a problem, not JSON', async () => {
    const b = await newBucket();
    const r = await http(base, 'GET', kvPath(b, 'nope'), { headers: { Accept: 'application/json' } });
    assertProblem(r, 404, 'key_not_found');
  });

  test('GET of a key never written is 404 key_not_found', async () => {
    const b = await newBucket();
    assertProblem(await http(base, 'GET', kvPath(b, 'missing')), 404, 'key_not_found');
    assertProblem(await http(base, 'GET', kvmKeyPath(b, 'missing')), 404, 'key_not_found');
  });

  test('HEAD gives the GET headers and no body', async () => {
    const b = await newBucket();
    const rev = await put(b, 'h', Buffer.from('some value'), { 'Content-Type': 'text/plain' });
    const g = await http(base, 'GET', kvPath(b, 'h'));
    const h = await http(base, 'HEAD', kvPath(b, 'h'));
    assert.equal(h.status, 200);
    assert.equal(h.bytes.length, 0);
    checkEntryHeaders(h, b, 'h', rev);
    for (const name of ['x-nats-kv-bucket', 'x-nats-kv-key', 'x-nats-kv-created', 'x-nats-kv-revision',
      'x-nats-kv-operation', 'etag', 'last-modified', 'content-type']) {
      assert.equal(h.headers.get(name), g.headers.get(name), `HEAD and GET agree on ${name}`);
    }
    const hm = await http(base, 'HEAD', kvPath(b, 'missing'));
    assert.equal(hm.status, 404);
    assert.equal(hm.bytes.length, 0);
  });

  test('a deleted key is 404 key_not_found naming the DEL marker (GET and HEAD)', async () => {
    const b = await newBucket();
    await put(b, 'd', Buffer.from('x'));
    const d = await http(base, 'DELETE', kvPath(b, 'd'));
    assert.equal(d.status, 200, d.text);
    const delRev = d.json.revision;
    const g = await http(base, 'GET', kvPath(b, 'd'));
    assertProblem(g, 404, 'key_not_found');
    assert.equal(g.headers.get('x-nats-kv-operation'), 'DEL');
    assert.equal(g.headers.get('x-nats-kv-revision'), String(delRev));
    const h = await http(base, 'HEAD', kvPath(b, 'd'));
    assert.equal(h.status, 404);
    assert.equal(h.headers.get('x-nats-kv-operation'), 'DEL');
    assert.equal(h.headers.get('x-nats-kv-revision'), String(delRev));
  });

  test('a purged key is 404 key_not_found naming the PURGE marker', async () => {
    const b = await newBucket();
    await put(b, 'p', Buffer.from('x'));
    await put(b, 'p', Buffer.from('y'));
    const d = await http(base, 'DELETE', kvPath(b, 'p') + '?purge=true');
    assert.equal(d.status, 200, d.text);
    const g = await http(base, 'GET', kvPath(b, 'p'));
    assertProblem(g, 404, 'key_not_found');
    assert.equal(g.headers.get('x-nats-kv-operation'), 'PURGE');
    assert.equal(g.headers.get('x-nats-kv-revision'), String(d.json.revision));
  });

  test('read-after-write: every acknowledged write is seen by the next read', async () => {
    const b = await newBucket({ history: 1 });
    let last = 0;
    for (let i = 0; i < 30; i++) {
      const rev = await put(b, 'counter', Buffer.from(String(i)));
      assert.ok(rev > last, 'revisions increase');
      last = rev;
      const g = await http(base, 'GET', kvPath(b, 'counter'));
      assert.equal(g.status, 200);
      assert.equal(g.text, String(i));
      assert.equal(g.headers.get('x-nats-kv-revision'), String(rev));
    }
  });
});

describe('revision and history', () => {
  test('GET ?revision=N returns that revision of the key', async () => {
    const b = await newBucket();
    const r1 = await put(b, 'k', Buffer.from('one'));
    const other = await put(b, 'other', Buffer.from('other'));
    const r2 = await put(b, 'k', Buffer.from('two'));
    assert.deepEqual([r1, other, r2], [1, 2, 3]);

    const g1 = await http(base, 'GET', kvPath(b, 'k') + `?revision=${r1}`);
    assert.equal(g1.status, 200);
    assert.equal(g1.text, 'one');
    checkEntryHeaders(g1, b, 'k', r1);
    const g2 = await http(base, 'GET', kvPath(b, 'k') + `?revision=${r2}`);
    assert.equal(g2.status, 200);
    assert.equal(g2.text, 'two');
    const gj = await http(base, 'GET', kvPath(b, 'k') + `?revision=${r1}`, { headers: { Accept: 'application/json' } });
    assert.equal(gj.status, 200);
    assert.equal(gj.json.revision, r1);
    assert.equal(gj.json.value, Buffer.from('one').toString('base64'));
    const h = await http(base, 'HEAD', kvPath(b, 'k') + `?revision=${r1}`);
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('x-nats-kv-revision'), String(r1));

    // Revision 2 belongs to another key; 99 does not exist.
    assertProblem(await http(base, 'GET', kvPath(b, 'k') + `?revision=${other}`), 404, 'key_not_found');
    assertProblem(await http(base, 'GET', kvPath(b, 'k') + '?revision=99'), 404, 'key_not_found');
  });

  test('GET ?revision=N on a delete or purge marker is 404 naming the marker', async () => {
    const b = await newBucket();
    await put(b, 'k', Buffer.from('v'));
    const del = await http(base, 'DELETE', kvPath(b, 'k'));
    assert.equal(del.status, 200);
    await put(b, 'k', Buffer.from('w'));
    const g = await http(base, 'GET', kvPath(b, 'k') + `?revision=${del.json.revision}`);
    assertProblem(g, 404, 'key_not_found');
    assert.equal(g.headers.get('x-nats-kv-operation'), 'DEL');
    assert.equal(g.headers.get('x-nats-kv-revision'), String(del.json.revision));

    const pur = await http(base, 'DELETE', kvPath(b, 'k') + '?purge=true');
    assert.equal(pur.status, 200);
    const gp = await http(base, 'GET', kvPath(b, 'k') + `?revision=${pur.json.revision}`);
    assertProblem(gp, 404, 'key_not_found');
    assert.equal(gp.headers.get('x-nats-kv-operation'), 'PURGE');
    assert.equal(gp.headers.get('x-nats-kv-revision'), String(pur.json.revision));
  });

  test('GET ?history=true lists every stored revision oldest first, markers included', async () => {
    const b = await newBucket({ history: 10 });
    const r1 = await put(b, 'h', Buffer.from('a'));
    await put(b, 'unrelated', Buffer.from('z'));
    const r2 = await put(b, 'h', Buffer.from('b'));
    const d = await http(base, 'DELETE', kvPath(b, 'h'));
    assert.equal(d.status, 200);
    const r4 = await put(b, 'h', Buffer.from('c'));
    const r = await http(base, 'GET', kvPath(b, 'h') + '?history=true');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') || '', /^application\/json\b/);
    assert.ok(Array.isArray(r.json));
    assert.deepEqual(r.json.map((e) => [e.revision, e.operation]),
      [[r1, 'PUT'], [r2, 'PUT'], [d.json.revision, 'DEL'], [r4, 'PUT']]);
    for (const e of r.json) {
      assert.equal(e.bucket, b);
      assert.equal(e.key, 'h');
      parseRfc3339Ms(e.created);
      assert.ok(Number.isInteger(e.delta) && e.delta >= 0);
    }
    for (const e of r.json.filter((x) => x.operation === 'PUT')) {
      const one = await http(base, 'GET', kvPath(b, 'h') + `?revision=${e.revision}`);
      assert.equal(parseRfc3339Ms(one.headers.get('x-nats-kv-created')), parseRfc3339Ms(e.created),
        `history and ?revision= agree on the time of revision ${e.revision}`);
    }
    assert.equal(Buffer.from(r.json[0].value, 'base64').toString(), 'a');
    assert.equal(Buffer.from(r.json[1].value, 'base64').toString(), 'b');
    assert.equal(Buffer.from(r.json[3].value, 'base64').toString(), 'c');
  });

  test('history keeps only the bucket history limit', async () => {
    const b = await newBucket({ history: 3 });
    const revs = [];
    for (let i = 0; i < 6; i++) revs.push(await put(b, 'k', Buffer.from(`v${i}`)));
    const r = await http(base, 'GET', kvPath(b, 'k') + '?history=true');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.map((e) => e.revision), revs.slice(3));
    assert.deepEqual(r.json.map((e) => Buffer.from(e.value, 'base64').toString()), ['v3', 'v4', 'v5']);
    // A revision replaced under the history limit is gone.
    assertProblem(await http(base, 'GET', kvPath(b, 'k') + `?revision=${revs[0]}`), 404, 'key_not_found');
  });

  test('GET ?history=true of a key never written is 404 key_not_found', async () => {
    const b = await newBucket();
    await put(b, 'present', Buffer.from('x'));
    assertProblem(await http(base, 'GET', kvPath(b, 'absent') + '?history=true'), 404, 'key_not_found');
  });

  test('GET ?history=true after a purge is the one PURGE marker', async () => {
    const b = await newBucket({ history: 10 });
    await put(b, 'k', Buffer.from('1'));
    await put(b, 'k', Buffer.from('2'));
    const p = await http(base, 'DELETE', kvPath(b, 'k') + '?purge=true');
    assert.equal(p.status, 200);
    assert.ok(Number.isInteger(p.json.revision));
    assert.equal(p.json.revision, 3);
    const r = await http(base, 'GET', kvPath(b, 'k') + '?history=true');
    assert.equal(r.status, 200);
    assert.equal(r.json.length, 1);
    assert.equal(r.json[0].operation, 'PURGE');
    assert.equal(r.json[0].revision, p.json.revision);
    assert.equal(r.json[0].key, 'k');
    assert.equal(await streamMessages(b), 1, 'the purge removed the earlier messages from the stream');
  });
});

describe('conditional requests', () => {
  test('GET with If-None-Match on the current revision is 304, otherwise 200', async () => {
    const b = await newBucket();
    const r1 = await put(b, 'c', Buffer.from('first'));
    const n = await http(base, 'GET', kvPath(b, 'c'), { headers: { 'If-None-Match': `"${r1}"` } });
    assert.equal(n.status, 304);
    assert.equal(n.bytes.length, 0);
    assert.equal(n.headers.get('etag'), `"${r1}"`);
    const r2 = await put(b, 'c', Buffer.from('second'));
    const m = await http(base, 'GET', kvPath(b, 'c'), { headers: { 'If-None-Match': `"${r1}"` } });
    assert.equal(m.status, 200);
    assert.equal(m.text, 'second');
    assert.equal(m.headers.get('etag'), `"${r2}"`);
    const n2 = await http(base, 'GET', kvPath(b, 'c'), { headers: { 'If-None-Match': `"${r2}"` } });
    assert.equal(n2.status, 304);
    const head = await http(base, 'HEAD', kvPath(b, 'c'), { headers: { 'If-None-Match': `"${r2}"` } });
    assert.equal(head.status, 304);
    const jsonForm = await http(base, 'GET', kvPath(b, 'c'), { headers: { 'If-None-Match': `"${r2}"`, Accept: 'application/json' } });
    assert.equal(jsonForm.status, 304);
  });

  test('If-None-Match with a list of entity tags (RFC 9110) is 304 when one is current', async () => {
    const b = await newBucket();
    await put(b, 'c', Buffer.from('first'));
    const r2 = await put(b, 'c', Buffer.from('second'));
    const list = await http(base, 'GET', kvPath(b, 'c'), { headers: { 'If-None-Match': `"999", "${r2}"` } });
    assert.equal(list.status, 304, 'a list of entity tags matches any of them');
    const miss = await http(base, 'GET', kvPath(b, 'c'), { headers: { 'If-None-Match': '"998", "999"' } });
    assert.equal(miss.status, 200);
    assert.equal(miss.text, 'second');
  });

  test('PUT ?previousRevision=N writes only at revision N (409 revision_mismatch otherwise)', async () => {
    const b = await newBucket();
    const r1 = await put(b, 'k', Buffer.from('v1'));
    const r2 = await put(b, 'k', Buffer.from('v2'), {}, `?previousRevision=${r1}`);
    assert.equal(r2, r1 + 1);
    const bad = await http(base, 'PUT', kvPath(b, 'k') + `?previousRevision=${r1}`, { body: Buffer.from('v3') });
    assertProblem(bad, 409, 'revision_mismatch');
    const g = await http(base, 'GET', kvPath(b, 'k'));
    assert.equal(g.text, 'v2', 'the refused write changed nothing');
    assert.equal(g.headers.get('x-nats-kv-revision'), String(r2));
    assert.equal(await streamMessages(b), 2);
  });

  test('PUT ?previousRevision=0 writes only an absent key', async () => {
    const b = await newBucket();
    const r1 = await put(b, 'new', Buffer.from('created'), {}, '?previousRevision=0');
    assert.equal(r1, 1);
    const again = await http(base, 'PUT', kvPath(b, 'new') + '?previousRevision=0', { body: Buffer.from('again') });
    assertProblem(again, 409, 'revision_mismatch');
    assert.equal((await http(base, 'GET', kvPath(b, 'new'))).text, 'created');
  });

  test('PUT with If-Match writes only at that revision (412 revision_mismatch otherwise)', async () => {
    const b = await newBucket();
    const r1 = await put(b, 'k', Buffer.from('v1'));
    const r2 = await put(b, 'k', Buffer.from('v2'), { 'If-Match': `"${r1}"` });
    assert.equal(r2, r1 + 1);
    const bad = await http(base, 'PUT', kvPath(b, 'k'), { body: Buffer.from('v3'), headers: { 'If-Match': `"${r1}"` } });
    assertProblem(bad, 412, 'revision_mismatch');
    const g = await http(base, 'GET', kvPath(b, 'k'));
    assert.equal(g.text, 'v2');
    assert.equal(g.headers.get('x-nats-kv-revision'), String(r2));
    const absent = await http(base, 'PUT', kvPath(b, 'absent'), { body: Buffer.from('x'), headers: { 'If-Match': '"7"' } });
    assertProblem(absent, 412, 'revision_mismatch');
    assertProblem(await http(base, 'GET', kvPath(b, 'absent')), 404, 'key_not_found');
  });

  test('If-Match together with previousRevision: same revision writes, different is 400 invalid_parameter', async () => {
    const b = await newBucket();
    const r1 = await put(b, 'k', Buffer.from('v1'));
    const diff = await http(base, 'PUT', kvPath(b, 'k') + `?previousRevision=${r1 + 5}`,
      { body: Buffer.from('v2'), headers: { 'If-Match': `"${r1}"` } });
    assertProblem(diff, 400, 'invalid_parameter');
    const diff2 = await http(base, 'PUT', kvPath(b, 'k') + `?previousRevision=${r1}`,
      { body: Buffer.from('v2'), headers: { 'If-Match': `"${r1 + 5}"` } });
    assertProblem(diff2, 400, 'invalid_parameter');
    assert.equal(await streamMessages(b), 1, 'nothing was written');
    const r2 = await put(b, 'k', Buffer.from('v2'), { 'If-Match': `"${r1}"` }, `?previousRevision=${r1}`);
    assert.equal(r2, r1 + 1);
  });

  test('PUT with If-None-Match: * creates only (412 key_exists); a deleted key counts as absent', async () => {
    const b = await newBucket();
    const r1 = await put(b, 'k', Buffer.from('v1'), { 'If-None-Match': '*' });
    assert.equal(r1, 1);
    const dup = await http(base, 'PUT', kvPath(b, 'k'), { body: Buffer.from('v2'), headers: { 'If-None-Match': '*' } });
    assertProblem(dup, 412, 'key_exists');
    assert.equal((await http(base, 'GET', kvPath(b, 'k'))).text, 'v1');
    const d = await http(base, 'DELETE', kvPath(b, 'k'));
    assert.equal(d.status, 200);
    const r3 = await put(b, 'k', Buffer.from('v3'), { 'If-None-Match': '*' });
    assert.equal(r3, d.json.revision + 1);
    assert.equal((await http(base, 'GET', kvPath(b, 'k'))).text, 'v3');
  });

  test('If-Match on the revision of a delete marker updates the deleted key', async () => {
    const b = await newBucket();
    await put(b, 'k', Buffer.from('v1'));
    const d = await http(base, 'DELETE', kvPath(b, 'k'));
    assert.equal(d.status, 200);
    const rev = await put(b, 'k', Buffer.from('v2'), { 'If-Match': `"${d.json.revision}"` });
    assert.equal(rev, d.json.revision + 1);
    assert.equal((await http(base, 'GET', kvPath(b, 'k'))).text, 'v2');
  });

  test('malformed revision parameters are 400 invalid_parameter and write nothing', async () => {
    const b = await newBucket();
    await put(b, 'k', Buffer.from('v1'));
    for (const q of ['?revision=abc', '?revision=-1', '?revision=1x']) {
      assertProblem(await http(base, 'GET', kvPath(b, 'k') + q), 400, 'invalid_parameter', q);
    }
    for (const q of ['?previousRevision=abc', '?previousRevision=-3', '?previousRevision=']) {
      assertProblem(await http(base, 'PUT', kvPath(b, 'k') + q, { body: Buffer.from('v2') }), 400, 'invalid_parameter', q);
    }
    assert.equal(await streamMessages(b), 1);
  });

  test('DELETE with If-Match deletes only at that revision (412 revision_mismatch otherwise)', async () => {
    const b = await newBucket();
    const r1 = await put(b, 'k', Buffer.from('v1'));
    const r2 = await put(b, 'k', Buffer.from('v2'));
    const bad = await http(base, 'DELETE', kvPath(b, 'k'), { headers: { 'If-Match': `"${r1}"` } });
    assertProblem(bad, 412, 'revision_mismatch');
    const g = await http(base, 'GET', kvPath(b, 'k'));
    assert.equal(g.status, 200);
    assert.equal(g.text, 'v2');
    const ok = await http(base, 'DELETE', kvPath(b, 'k'), { headers: { 'If-Match': `"${r2}"` } });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json, { revision: r2 + 1 });
    const g2 = await http(base, 'GET', kvPath(b, 'k'));
    assertProblem(g2, 404, 'key_not_found');
    assert.equal(g2.headers.get('x-nats-kv-operation'), 'DEL');
  });

  test('DELETE ?purge=true with If-Match purges only at that revision', async () => {
    const b = await newBucket();
    const r1 = await put(b, 'k', Buffer.from('v1'));
    const r2 = await put(b, 'k', Buffer.from('v2'));
    const bad = await http(base, 'DELETE', kvPath(b, 'k') + '?purge=true', { headers: { 'If-Match': `"${r1}"` } });
    assertProblem(bad, 412, 'revision_mismatch');
    assert.equal((await http(base, 'GET', kvPath(b, 'k'))).text, 'v2');
    assert.equal(await streamMessages(b), 2);
    const ok = await http(base, 'DELETE', kvPath(b, 'k') + '?purge=true', { headers: { 'If-Match': `"${r2}"` } });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json, { revision: r2 + 1 });
    assert.equal(await streamMessages(b), 1);
  });
});

describe('concurrent conditional writes', () => {
  test('of many simultaneous creates of one key exactly one succeeds', async () => {
    const b = await newBucket();
    const n = 12;
    const rs = await Promise.all(Array.from({ length: n }, (_, i) => (i % 2
      ? http(base, 'POST', kvPath(b, 'race'), { body: Buffer.from(`w${i}`) })
      : http(base, 'PUT', kvPath(b, 'race'), { body: Buffer.from(`w${i}`), headers: { 'If-None-Match': '*' } }))));
    const won = rs.filter((r) => r.status === 201);
    assert.equal(won.length, 1, `statuses ${rs.map((r) => r.status)}`);
    rs.forEach((r, i) => {
      if (r.status === 201) return;
      assertProblem(r, i % 2 ? 409 : 412, 'key_exists');
    });
    const winner = rs.indexOf(won[0]);
    const g = await http(base, 'GET', kvPath(b, 'race'));
    assert.equal(g.text, `w${winner}`);
    assert.equal(await streamMessages(b), 1);
  });

  test('of many simultaneous updates at one revision exactly one succeeds', async () => {
    const b = await newBucket();
    const r1 = await put(b, 'race', Buffer.from('start'));
    const n = 12;
    const rs = await Promise.all(Array.from({ length: n }, (_, i) => (i % 2
      ? http(base, 'PUT', kvPath(b, 'race') + `?previousRevision=${r1}`, { body: Buffer.from(`w${i}`) })
      : http(base, 'PUT', kvPath(b, 'race'), { body: Buffer.from(`w${i}`), headers: { 'If-Match': `"${r1}"` } }))));
    const won = rs.filter((r) => r.status === 201);
    assert.equal(won.length, 1, `statuses ${rs.map((r) => r.status)}`);
    rs.forEach((r, i) => {
      if (r.status === 201) return;
      assertProblem(r, i % 2 ? 409 : 412, 'revision_mismatch');
    });
    assert.equal(checkPutAnswer(won[0]), r1 + 1);
    assert.equal(await streamMessages(b), 2);
  });
});

describe('POST (create only)', () => {
  test('POST creates an absent key (201) and refuses an existing one (409 key_exists)', async () => {
    const b = await newBucket();
    const r = await http(base, 'POST', kvPath(b, 'c'), { body: Buffer.from('first') });
    assert.equal(r.status, 201, r.text);
    const rev = checkPutAnswer(r);
    assert.equal(rev, 1);
    const dup = await http(base, 'POST', kvPath(b, 'c'), { body: Buffer.from('second') });
    assertProblem(dup, 409, 'key_exists');
    const g = await http(base, 'GET', kvPath(b, 'c'));
    assert.equal(g.text, 'first');
    assert.equal(g.headers.get('x-nats-kv-revision'), String(rev));
    const dupKvm = await http(base, 'POST', kvmKeyPath(b, 'c'), { body: Buffer.from('third') });
    assertProblem(dupKvm, 409, 'key_exists');
    assert.equal(await streamMessages(b), 1);
  });

  test('POST on a deleted key is 201', async () => {
    const b = await newBucket();
    await put(b, 'k', Buffer.from('v1'));
    const d = await http(base, 'DELETE', kvPath(b, 'k'));
    assert.equal(d.status, 200);
    const r = await http(base, 'POST', kvPath(b, 'k'), { body: Buffer.from('again') });
    assert.equal(r.status, 201, r.text);
    assert.equal(checkPutAnswer(r), d.json.revision + 1);
    assert.equal((await http(base, 'GET', kvPath(b, 'k'))).text, 'again');
  });

  test('POST on a purged key is 201', async () => {
    const b = await newBucket();
    await put(b, 'k', Buffer.from('v1'));
    const p = await http(base, 'DELETE', kvPath(b, 'k') + '?purge=true');
    assert.equal(p.status, 200);
    const r = await http(base, 'POST', kvPath(b, 'k'), { body: Buffer.from('again') });
    assert.equal(r.status, 201, r.text);
    assert.equal(checkPutAnswer(r), p.json.revision + 1);
    assert.equal((await http(base, 'GET', kvPath(b, 'k'))).text, 'again');
  });
});

describe('DELETE', () => {
  test('DELETE writes a marker and keeps the history', async () => {
    const b = await newBucket({ history: 5 });
    const r1 = await put(b, 'k', Buffer.from('v1'));
    const d = await http(base, 'DELETE', kvPath(b, 'k'));
    assert.equal(d.status, 200);
    assert.match(d.headers.get('content-type') || '', /^application\/json\b/);
    assert.deepEqual(d.json, { revision: r1 + 1 });
    const h = await http(base, 'GET', kvPath(b, 'k') + '?history=true');
    assert.equal(h.status, 200);
    assert.deepEqual(h.json.map((e) => e.operation), ['PUT', 'DEL']);
    const old = await http(base, 'GET', kvPath(b, 'k') + `?revision=${r1}`);
    assert.equal(old.status, 200);
    assert.equal(old.text, 'v1');
    assert.equal(await streamMessages(b), 2);
  });

  test('DELETE ?purge=true leaves one purge marker', async () => {
    const b = await newBucket({ history: 5 });
    await put(b, 'k', Buffer.from('v1'));
    await put(b, 'k', Buffer.from('v2'));
    await put(b, 'keep', Buffer.from('kept'));
    const p = await http(base, 'DELETE', kvmKeyPath(b, 'k') + '?purge=true');
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(p.json, { revision: 4 });
    assert.equal(await streamMessages(b), 2, 'purge marker of k plus the value of keep');
    assert.equal((await http(base, 'GET', kvPath(b, 'keep'))).text, 'kept');
    assertProblem(await http(base, 'GET', kvPath(b, 'k') + '?revision=1'), 404, 'key_not_found');
  });
});

describe('values and keys', () => {
  test('a value holding all 256 byte values round-trips byte for byte', async () => {
    const b = await newBucket();
    const all = Buffer.alloc(1024);
    for (let i = 0; i < all.length; i++) all[i] = (i * 7 + (i >> 8)) & 0xff;
    const plain = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await put(b, 'plain', plain, { 'Content-Type': 'application/octet-stream' });
    await put(b, 'mixed', all);
    const g1 = await http(base, 'GET', kvPath(b, 'plain'));
    assert.equal(g1.status, 200);
    assert.ok(g1.bytes.equals(plain), 'bytes 0..255 unchanged');
    assert.equal(g1.headers.get('content-length'), '256');
    const g2 = await http(base, 'GET', kvPath(b, 'mixed'));
    assert.ok(g2.bytes.equals(all), 'mixed bytes unchanged');
    const j = await http(base, 'GET', kvPath(b, 'plain'), { headers: { Accept: 'application/json' } });
    assert.equal(j.json.value, plain.toString('base64'));
  });

  test('a large value (1,000,000 random bytes) round-trips byte for byte', async () => {
    const b = await newBucket();
    const { randomBytes } = await import('node:crypto');
    const big = randomBytes(1000000);
    const rev = await put(b, 'big', big);
    const g = await http(base, 'GET', kvPath(b, 'big'));
    assert.equal(g.status, 200);
    assert.equal(g.headers.get('x-nats-kv-revision'), String(rev));
    assert.ok(g.bytes.equals(big), 'the same bytes');
    const j = await http(base, 'GET', kvPath(b, 'big'), { headers: { Accept: 'application/json' } });
    assert.ok(Buffer.from(j.json.value, 'base64').equals(big));
  });

  test('an empty value is stored and read back as empty', async () => {
    const b = await newBucket();
    const rev = await put(b, 'empty', Buffer.alloc(0));
    const g = await http(base, 'GET', kvPath(b, 'empty'));
    assert.equal(g.status, 200);
    assert.equal(g.bytes.length, 0);
    assert.equal(g.headers.get('x-nats-kv-operation'), 'PUT');
    assert.equal(g.headers.get('x-nats-kv-revision'), String(rev));
    const j = await http(base, 'GET', kvPath(b, 'empty'), { headers: { Accept: 'application/json' } });
    assert.equal(j.json.value, '');
    assert.equal(j.json.operation, 'PUT');
  });

  test('Content-Type is kept per entry; without one it is application/octet-stream', async () => {
    const b = await newBucket();
    await put(b, 'typed', Buffer.from('{"a":1}'), { 'Content-Type': 'application/json; charset=utf-8' });
    const g = await http(base, 'GET', kvPath(b, 'typed'));
    assert.equal(g.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(g.text, '{"a":1}');
    const t = await http(base, 'PUT', kvPath(b, 'text'), { body: 'plain text', headers: { 'Content-Type': 'text/plain' } });
    assert.equal(t.status, 201);
    assert.equal((await http(base, 'GET', kvPath(b, 'text'))).headers.get('content-type'), 'text/plain');

    await put(b, 'untyped', Buffer.from('raw'));
    assert.equal((await http(base, 'GET', kvPath(b, 'untyped'))).headers.get('content-type'), 'application/octet-stream');
    // A later write without Content-Type does not inherit the earlier one.
    await put(b, 'typed', Buffer.from('raw again'));
    assert.equal((await http(base, 'GET', kvPath(b, 'typed'))).headers.get('content-type'), 'application/octet-stream');
  });

  test('an entry written by a NATS client reads back as application/octet-stream, and the other way round', async () => {
    const b = await newBucket();
    const c = await connectNats(stack.nats.url);
    try {
      const kv = await c.kvm.open(b);
      const seq = await kv.put('from.nats', new Uint8Array([1, 2, 3, 250]));
      const g = await http(base, 'GET', kvPath(b, 'from.nats'));
      assert.equal(g.status, 200);
      assert.equal(g.headers.get('content-type'), 'application/octet-stream');
      assert.deepEqual([...g.bytes], [1, 2, 3, 250]);
      assert.equal(g.headers.get('x-nats-kv-revision'), String(seq));
      const ne = await kv.get('from.nats');
      assert.equal(Math.floor(parseRfc3339Ms(g.headers.get('x-nats-kv-created'))), ne.created.getTime(),
        'X-Nats-Kv-Created is the stored time');

      const rev = await put(b, 'dir/sub=x.y', Buffer.from('from http'), { 'Content-Type': 'text/plain' });
      const e = await kv.get('dir/sub=x.y');
      assert.ok(e, 'the NATS client sees the key');
      assert.equal(e.revision, rev);
      assert.equal(Buffer.from(e.value).toString(), 'from http');
      assert.equal(e.operation, 'PUT');
    } finally {
      await c.close();
    }
  });

  test("keys containing '/', '=', '.', '-' and '_' work in both URL forms and percent-encoded", async () => {
    const b = await newBucket();
    const keys = ['a/b/c', 'x=1', 'a.b.c', 'dir/sub=val.ext', '-_-', 'A/b.C=d/E'];
    const revs = {};
    for (const k of keys) revs[k] = await put(b, k, Buffer.from(`value of ${k}`));
    for (const k of keys) {
      for (const p of [kvPath(b, k), kvmKeyPath(b, k), kvPath(b, k.split('/').map(encodeURIComponent).join('%2F'))]) {
        const g = await http(base, 'GET', p);
        assert.equal(g.status, 200, `GET ${p}`);
        assert.equal(g.text, `value of ${k}`, `GET ${p}`);
        assert.equal(g.headers.get('x-nats-kv-key'), k, `GET ${p}`);
        assert.equal(g.headers.get('x-nats-kv-revision'), String(revs[k]), `GET ${p}`);
      }
    }
    // Percent-encoded characters in the key are decoded.
    const enc = await http(base, 'GET', `/v1/kv/${b}/x%3D1`);
    assert.equal(enc.status, 200);
    assert.equal(enc.text, 'value of x=1');
    const list = await http(base, 'GET', `/v1/kvm/buckets/${b}/keys`);
    assert.equal(list.status, 200);
    assert.deepEqual([...list.json].sort(), [...keys].sort());
  });

  test('an empty or slash-containing bucket segment is 400 invalid_bucket', async () => {
    const b = await newBucket();
    await put(b, 'k', Buffer.from('v'));
    assertProblem(await http(base, 'GET', '/v1/kv//k'), 400, 'invalid_bucket');
    assertProblem(await http(base, 'GET', `/v1/kv/${b}%2Fx/k`), 400, 'invalid_bucket');
    assertProblem(await http(base, 'GET', `/v1/kvm/buckets/${b}%2Fx/keys/k`), 400, 'invalid_bucket');
    assertProblem(await http(base, 'GET', '/v1/kvm/buckets//keys/k'), 400, 'invalid_bucket');
    assertProblem(await http(base, 'PUT', `/v1/kv/x%2F${b}/k`, { body: Buffer.from('v') }), 400, 'invalid_bucket');
  });

  test('invalid keys are 400 invalid_key', async () => {
    const b = await newBucket();
    for (const k of ['.lead', 'trail.', 'a..b', '_kvreserved', 'sp%20ace', 'star*', 'gt%3E', 'a/b..c']) {
      assertProblem(await http(base, 'PUT', kvPath(b, k), { body: Buffer.from('v') }), 400, 'invalid_key', k);
      assertProblem(await http(base, 'GET', kvPath(b, k)), 400, 'invalid_key', k);
    }
    assert.equal(await streamMessages(b), 0);
  });
});

describe('limits and idempotency', () => {
  test('a value over the server maximum payload is 413 payload_too_large and nothing is published', async () => {
    const b = await newBucket();
    const big = Buffer.alloc(1024 * 1024 + 1, 0x61);
    const r = await http(base, 'PUT', kvPath(b, 'big'), { body: big });
    assertProblem(r, 413, 'payload_too_large');
    const p = await http(base, 'POST', kvPath(b, 'big'), { body: big });
    assertProblem(p, 413, 'payload_too_large');
    assertProblem(await http(base, 'GET', kvPath(b, 'big')), 404, 'key_not_found');
    assert.equal(await streamMessages(b), 0);
  });

  test('a client sending an oversize body always receives the 413 (no reset before it is read)', async () => {
    const b = await newBucket();
    const big = Buffer.alloc(4 * 1024 * 1024, 0x62);
    const outcomes = [];
    for (let i = 0; i < 10; i++) {
      try {
        outcomes.push((await http(base, 'PUT', kvPath(b, 'big'), { body: big })).status);
      } catch (e) {
        outcomes.push(e.cause && e.cause.code ? e.cause.code : e.message);
      }
    }
    assert.deepEqual(outcomes, Array(10).fill(413));
    assert.equal(await streamMessages(b), 0);
  });

  test('a body over --max-kv-body is 413 payload_too_large', async () => {
    const b = await newBucket();
    const jg = await startJetgate({ natsUrl: stack.nats.url, args: ['--max-kv-body', '1024'] });
    try {
      const ok = await http(jg.base, 'PUT', kvPath(b, 'k'), { body: Buffer.alloc(1024, 1) });
      assert.equal(ok.status, 201, ok.text);
      const r = await http(jg.base, 'PUT', kvPath(b, 'k'), { body: Buffer.alloc(1025, 2) });
      assertProblem(r, 413, 'payload_too_large');
      const p = await http(jg.base, 'POST', kvPath(b, 'other'), { body: Buffer.alloc(4096, 2) });
      assertProblem(p, 413, 'payload_too_large');
      const g = await http(jg.base, 'GET', kvPath(b, 'k'));
      assert.ok(g.bytes.equals(Buffer.alloc(1024, 1)), 'the refused write changed nothing');
      assert.equal(await streamMessages(b), 1);
    } finally {
      await jg.stop();
    }
  });

  test('Idempotency-Key: the same PUT sent twice is stored once, with one revision', async () => {
    const b = await newBucket({ history: 10 });
    const headers = { 'Idempotency-Key': `idem-${b}` };
    const r1 = await http(base, 'PUT', kvPath(b, 'k'), { body: Buffer.from('once'), headers });
    assert.equal(r1.status, 201, r1.text);
    const rev1 = checkPutAnswer(r1);
    const r2 = await http(base, 'PUT', kvPath(b, 'k'), { body: Buffer.from('once'), headers });
    assert.equal(r2.status, 201, r2.text);
    const rev2 = checkPutAnswer(r2);
    assert.equal(rev2, rev1, 'the retry reports the stored revision');
    assert.equal(await streamMessages(b), 1);
    const h = await http(base, 'GET', kvPath(b, 'k') + '?history=true');
    assert.equal(h.json.length, 1);
    // Another key makes another write.
    const r3 = await http(base, 'PUT', kvPath(b, 'k'), { body: Buffer.from('twice'), headers: { 'Idempotency-Key': `other-${b}` } });
    assert.equal(r3.status, 201);
    assert.equal(checkPutAnswer(r3), rev1 + 1);
    assert.equal(await streamMessages(b), 2);
  });
});
