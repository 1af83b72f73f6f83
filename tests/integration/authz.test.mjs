// Authorization of every name a request carries: object links (their target
// when created and when read through), renames, listings and watches (the
// union of a token's prefix rules), object listing filters, object header
// names and values, and which routes need a token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  JETGATE_BIN, assertProblem, http, makeTempDir, removeTempDir, startJetgate, startStack,
} from '../lib/harness.mjs';
import { entries, openSse } from './watch_sse.mjs';

const T = {
  admin: 'adm-4b7e0c2d91',
  objw: 'obw-7a1c9e3f05',
  objpre: 'obp-2d8f6a4b13',
  mover: 'mov-9e0b3c7d28',
  linker: 'lnk-5c2a8f1e60',
  two: 'two-8b4d1f9a37',
  shifter: 'sft-1e6a0d8c45',
};

const hash = (token) => execFileSync(JETGATE_BIN, ['--hash-token'], { input: `${token}\n` }).toString().trim();

let dir;
let tokensFile;
let stack;
let base;

const as = (token, method, p, opts = {}) =>
  http(base, method, p, { ...opts, headers: { ...(opts.headers ?? {}), ...(token ? { Authorization: `Bearer ${token}` } : {}) } });

const ok = async (r, status, what) => {
  const res = await r;
  assert.equal(res.status, status, `${what}: ${res.status} ${res.text}`);
  return res;
};

before(async () => {
  dir = makeTempDir('jetgate-authz-');
  tokensFile = path.join(dir, 'tokens');
  fs.writeFileSync(tokensFile, [
    `admin  ${hash(T.admin)}  all@*`,
    `objw   ${hash(T.objw)}   read,write,delete,watch@app-files`,
    `objpre ${hash(T.objpre)} read,write@sfiles/pub/`,
    `mover  ${hash(T.mover)}  read,write,delete@sfiles/pub/ write@sfiles/new/`,
    `linker ${hash(T.linker)} read,write@app-files read@secret-files/pub/`,
    `shifter ${hash(T.shifter)} delete@sfiles/old/ write@sfiles/new/`,
    `two    ${hash(T.two)}    read,watch@kv2/public/ read,watch@kv2/shared/ read,watch@o2/public/ read,watch@o2/shared/`,
    '',
  ].join('\n'));
  stack = await startStack({ jetgate: { args: ['--tokens-file', tokensFile] } });
  base = stack.base;
  for (const b of ['app-files', 'secret-files', 'sfiles', 'o2', 'lst']) {
    await ok(as(T.admin, 'PUT', `/v1/objm/buckets/${b}`, { body: '{}' }), 201, `bucket ${b}`);
  }
  await ok(as(T.admin, 'PUT', '/v1/kvm/buckets/kv2', { body: '{}' }), 201, 'bucket kv2');
  const objects = {
    'secret-files': ['s.txt', 'pub/p.txt'],
    sfiles: ['pub/y.txt', 'pub/z.txt', 'priv/x.txt', 'old/m.txt', 'old/m2.txt'],
    o2: ['public/a', 'shared/b', 'secret/c'],
    lst: ['dir/a.txt', 'dir/sub/b', 'top', 'other/c'],
  };
  for (const [b, names] of Object.entries(objects)) {
    for (const n of names) await ok(as(T.admin, 'PUT', `/v1/obj/${b}/${n}`, { body: `content of ${b}/${n}` }), 201, `${b}/${n}`);
  }
  for (const k of ['public/a', 'shared/b', 'secret/c']) await ok(as(T.admin, 'PUT', `/v1/kv/kv2/${k}`, { body: k }), 201, k);
  // links written by someone who may: reading through them is still checked
  await ok(as(T.admin, 'PUT', '/v1/objm/buckets/app-files/links/to-secret', { body: { bucket: 'secret-files', name: 's.txt' } }), 201, 'admin link');
  await ok(as(T.admin, 'PUT', '/v1/objm/buckets/sfiles/links/pub/to-priv', { body: { bucket: 'sfiles', name: 'priv/x.txt' } }), 201, 'admin link');
});

after(async () => {
  if (stack) await stack.stop();
  if (dir) removeTempDir(dir);
});

test('a link is created only when the token may read its target, with one answer whether it exists or not', async () => {
  for (const body of [
    { bucket: 'secret-files', name: 's.txt' },
    { bucket: 'secret-files', name: 'no-such.txt' },
    { bucket: 'no-such-bucket', name: 's.txt' },
    { bucket: 'secret-files' },
  ]) {
    const r = await as(T.objw, 'PUT', '/v1/objm/buckets/app-files/links/steal', { body });
    assertProblem(r, 403, 'forbidden', JSON.stringify(body));
  }
  assertProblem(await as(T.objpre, 'PUT', '/v1/objm/buckets/sfiles/links/pub/l', { body: { bucket: 'sfiles', name: 'priv/x.txt' } }),
    403, 'forbidden', 'past the key prefix');
  assertProblem(await as(T.objpre, 'PUT', '/v1/objm/buckets/sfiles/links/pub/l', { body: { bucket: 'sfiles', name: 'priv/none' } }),
    403, 'forbidden', 'past the key prefix, missing target');
  assertProblem(await as(T.linker, 'PUT', '/v1/objm/buckets/app-files/links/whole', { body: { bucket: 'secret-files' } }),
    403, 'forbidden', 'a bucket link needs read on the whole bucket');
  assert.equal((await as(T.admin, 'GET', '/v1/obj/app-files/steal')).status, 404, 'no link was written');
  // a token that may read the target links it and reads through it
  await ok(as(T.linker, 'PUT', '/v1/objm/buckets/app-files/links/ok', { body: { bucket: 'secret-files', name: 'pub/p.txt' } }), 201, 'allowed link');
  assert.equal((await as(T.linker, 'GET', '/v1/obj/app-files/ok')).text, 'content of secret-files/pub/p.txt');
  assert.equal((await ok(as(T.objpre, 'PUT', '/v1/objm/buckets/sfiles/links/pub/l', { body: { bucket: 'sfiles', name: 'pub/y.txt' } }), 201, 'inside the prefix')).status, 201);
});

test('reading through a link is authorized against its target too', async () => {
  for (const p of ['/v1/obj/app-files/to-secret', '/v1/objm/buckets/app-files/keys/to-secret']) {
    for (const method of ['GET', 'HEAD']) {
      const r = await as(T.objw, method, p);
      assert.equal(r.status, 403, `${method} ${p}`);
      assert.ok(!r.text.includes('content of'), 'no content');
    }
    assertProblem(await as(T.objw, 'GET', `${p}?metaOnly=true`), 403, 'forbidden', 'metaOnly');
  }
  assertProblem(await as(T.objpre, 'GET', '/v1/obj/sfiles/pub/to-priv'), 403, 'forbidden', 'past the prefix');
  assertProblem(await as(T.linker, 'GET', '/v1/obj/app-files/to-secret'), 403, 'forbidden', 'outside read@secret-files/pub/');
  assert.equal((await as(T.admin, 'GET', '/v1/obj/app-files/to-secret')).text, 'content of secret-files/s.txt', 'admin may');
});

test('a rename needs write on the new name and delete on the old', async () => {
  assertProblem(await as(T.objpre, 'PATCH', '/v1/obj/sfiles/pub/y.txt', { body: { name: 'priv/y.txt' } }), 403, 'forbidden', 'new name outside');
  assertProblem(await as(T.objpre, 'PATCH', '/v1/obj/sfiles/pub/y.txt', { body: { name: 'pub/y2.txt' } }), 403, 'forbidden', 'no delete');
  assertProblem(await as(T.mover, 'PATCH', '/v1/objm/buckets/sfiles/keys/pub/y.txt', { body: { name: 'priv/y.txt' } }), 403, 'forbidden', 'mover outside');
  assert.equal((await as(T.admin, 'GET', '/v1/obj/sfiles/priv/y.txt')).status, 404, 'nothing was renamed');
  assert.equal((await as(T.admin, 'GET', '/v1/obj/sfiles/pub/y.txt')).status, 200);
  // metadata changes without a new name stay a write of the name itself
  await ok(as(T.objpre, 'PATCH', '/v1/obj/sfiles/pub/y.txt', { body: { description: 'd', name: 'pub/y.txt' } }), 200, 'same name');
  await ok(as(T.mover, 'PATCH', '/v1/obj/sfiles/pub/y.txt', { body: { name: 'new/y.txt' } }), 200, 'allowed rename');
  assert.equal((await as(T.admin, 'GET', '/v1/obj/sfiles/new/y.txt')).text, 'content of sfiles/pub/y.txt');
  // delete on the old name and write on the new are enough: the old name is not written
  await ok(as(T.shifter, 'PATCH', '/v1/obj/sfiles/old/m.txt', { body: { name: 'new/m.txt' } }), 200, 'delete old + write new');
  assert.equal((await as(T.admin, 'GET', '/v1/obj/sfiles/new/m.txt')).text, 'content of sfiles/old/m.txt');
  assertProblem(await as(T.shifter, 'PATCH', '/v1/obj/sfiles/old/m2.txt', { body: { description: 'x' } }), 403, 'forbidden', 'no write on the old name');
  assertProblem(await as(T.shifter, 'PATCH', '/v1/obj/sfiles/old/m2.txt', { body: { name: 'old/m2.txt' } }), 403, 'forbidden', 'same name');
  assertProblem(await as(T.shifter, 'PATCH', '/v1/obj/sfiles/old/m2.txt', { body: { name: 'pub/m2.txt' } }), 403, 'forbidden', 'no write there');
  assertProblem(await as(T.shifter, 'PATCH', '/v1/obj/sfiles/old/m2.txt'), 403, 'forbidden', 'no body');
  assertProblem(await as(T.shifter, 'PATCH', '/v1/obj/sfiles/pub/y.txt', { body: { name: 'new/y3.txt' } }), 403, 'forbidden', 'no delete there');
});

const names = (r) => r.json.map((o) => o.name).sort();

test('the object listing keeps to the token\'s key prefix, deleted objects included', async () => {
  await ok(as(T.admin, 'DELETE', '/v1/obj/sfiles/pub/z.txt'), 200, 'delete');
  await ok(as(T.admin, 'PUT', '/v1/obj/sfiles/priv/gone.txt', { body: 'x' }), 201, 'put');
  await ok(as(T.admin, 'DELETE', '/v1/obj/sfiles/priv/gone.txt'), 200, 'delete');
  for (const q of ['', '?deleted=true', '?prefix=priv/', '?filter=priv/x.txt', '?prefix=p']) {
    const r = await ok(as(T.objpre, 'GET', `/v1/objm/buckets/sfiles/keys${q}`), 200, q);
    for (const n of names(r)) assert.ok(n.startsWith('pub/'), `${q}: ${n} is outside pub/`);
  }
  const all = names(await as(T.objpre, 'GET', '/v1/objm/buckets/sfiles/keys?deleted=true'));
  assert.ok(all.includes('pub/z.txt') && all.includes('pub/l'), `sees its own: ${all}`);
});

test('two prefix rules on one bucket: listings and watches show both, and nothing else', async () => {
  assert.deepEqual((await ok(as(T.two, 'GET', '/v1/kvm/buckets/kv2/keys'), 200, 'kv keys')).json.sort(), ['public/a', 'shared/b']);
  assert.deepEqual(names(await ok(as(T.two, 'GET', '/v1/objm/buckets/o2/keys'), 200, 'obj list')), ['public/a', 'shared/b']);
  assert.deepEqual((await as(T.two, 'GET', '/v1/kvm/buckets/kv2/keys?prefix=s')).json, ['shared/b']);
  for (const [p, field] of [['/v1/kvm/buckets/kv2/watch', 'key'], ['/v1/objm/buckets/o2/watch', 'name']]) {
    const s = await openSse(base, p, { headers: { Authorization: `Bearer ${T.two}` } });
    try {
      assert.equal(s.status, 200, `${p}: ${s.body}`);
      await s.next((e) => e.event === 'synced');
      assert.deepEqual(entries(s).map((e) => e[field]).sort(), ['public/a', 'shared/b'], p);
    } finally {
      s.close();
    }
  }
  assertProblem(await as(T.two, 'GET', '/v1/kv/kv2/secret/c'), 403, 'forbidden');
  assert.equal((await as(T.two, 'GET', '/v1/kv/kv2/shared/b')).text, 'shared/b');
});

test('the object listing honours filter and prefix as the object watch and the KV listing do', async () => {
  const list = async (q) => names(await ok(as(T.admin, 'GET', `/v1/objm/buckets/lst/keys${q}`), 200, q));
  assert.deepEqual(await list(''), ['dir/a.txt', 'dir/sub/b', 'other/c', 'top']);
  assert.deepEqual(await list('?prefix=dir/'), ['dir/a.txt', 'dir/sub/b']);
  assert.deepEqual(await list('?filter=top'), ['top']);
  assert.deepEqual(await list('?prefix=zzz'), []);
  assert.deepEqual(await list('?filter=dir'), [], 'a filter is an exact name');
  assert.deepEqual(await list('?filter=top&filter=other/c'), ['other/c', 'top']);
  assert.deepEqual(await list('?prefix=dir/&prefix=o'), ['dir/a.txt', 'dir/sub/b', 'other/c']);
  assert.deepEqual(await list('?prefix=dir/&filter=top'), [], 'filter and prefix both apply');
  assert.deepEqual(await list('?prefix=dir%2Fsub'), ['dir/sub/b']);
  assertProblem(await as(T.admin, 'GET', `/v1/objm/buckets/lst/keys?filter=${'x'.repeat(1025)}`), 400, 'invalid_name');
  assertProblem(await as(T.admin, 'GET', `/v1/objm/buckets/lst/keys?${Array.from({ length: 65 }, (_, i) => `prefix=${i}`).join('&')}`),
    400, 'invalid_parameter');
});

test('PATCH refuses header names that are not HTTP tokens and values with control bytes', async () => {
  const p = '/v1/obj/lst/top';
  for (const headers of [
    { 'Col:on': 'v' }, { 'Sp ace': 'v' }, { '': 'v' }, { 'X-\u00e9': 'v' }, { ['X'.repeat(256)]: 'v' },
    { 'Content-Type': 'text/plain\r\nX-Injected: 1' }, { 'X-A': 'a\nb' }, { 'X-A': ['ok', 'b\u0001'] }, { 'X-A': 'del\u007f' },
  ]) {
    assertProblem(await as(T.admin, 'PATCH', p, { body: { headers } }), 400, 'invalid_parameter', JSON.stringify(headers));
  }
  const r = await as(T.admin, 'GET', p);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-injected'), null);
  await ok(as(T.admin, 'PATCH', p, { body: { headers: { 'X-Fine_1': 'tab\there', 'Content-Type': 'text/plain; charset=utf-8' } } }), 200, 'valid');
  const g = await as(T.admin, 'GET', p);
  assert.equal(g.headers.get('content-type'), 'text/plain; charset=utf-8');
});

test('with tokens, /v1/info and /metrics need a token; /healthz and /readyz do not; metrics_public opens /metrics', async () => {
  for (const p of ['/v1/info', '/metrics']) {
    const r = await http(base, 'GET', p);
    assertProblem(r, 401, 'unauthorized', p);
    assert.ok(!r.text.includes('jetgate_'), 'no metrics');
    assertProblem(await as('wrong-token', 'GET', p), 401, 'unauthorized', p);
    assert.equal((await as(T.objpre, 'GET', p)).status, 200, `${p} with any valid token`);
  }
  for (const p of ['/healthz', '/readyz']) assert.equal((await http(base, 'GET', p)).status, 200, p);
  const jg = await startJetgate({ natsUrl: stack.nats.url, args: ['--tokens-file', tokensFile, '--metrics-public'] });
  try {
    const m = await http(jg.base, 'GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.text, /jetgate_/);
    assertProblem(await http(jg.base, 'GET', '/v1/info'), 401, 'unauthorized', 'info stays closed');
  } finally {
    await jg.stop();
  }
});
