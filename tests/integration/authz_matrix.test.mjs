// Authorization matrix generated from the route table (`jetgate
// --dump-routes`): every route and method is asked by every kind of token
// (none, wrong operation, other bucket, other key prefix of the same bucket,
// two prefix rules), and every second name a route carries (a link's target,
// a new name) is tried outside the token's rules.  The answer must be 401,
// 403, or, for listings and watches, only the keys the token may see.  A
// route of the table without a row here fails, as does a row whose route
// changed its permission or its names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { JETGATE_BIN, http, makeTempDir, removeTempDir, startStack } from '../lib/harness.mjs';
import { entries, openSse } from './watch_sse.mjs';

// One row per operationId: the permission and names the table must give it,
// and what its request carries besides the path.
const ROWS = {
  healthz: { perm: 'token', names: 'public' },
  readyz: { perm: 'token', names: 'public' },
  metrics: { perm: 'token', names: 'metrics' },
  info: { perm: 'token', names: '-' },
  uiRedirect: { perm: 'token', names: 'public' },
  uiFile: { perm: 'token', names: 'public' },
  kvGet: { perm: 'read', names: 'bucket,key' },
  kvHead: { perm: 'read', names: 'bucket,key' },
  kvPut: { perm: 'write', names: 'bucket,key', body: 'v' },
  kvCreate: { perm: 'write', names: 'bucket,key', body: 'v' },
  kvDelete: { perm: 'delete', names: 'bucket,key' },
  kvBucketList: { perm: 'list', names: '-' },
  kvBucketStatus: { perm: 'read', names: 'bucket' },
  kvBucketCreate: { perm: 'admin', names: 'bucket', body: '{}' },
  kvBucketPut: { perm: 'admin', names: 'bucket', body: '{}' },
  kvBucketDelete: { perm: 'admin', names: 'bucket' },
  kvKeyList: { perm: 'read', names: 'bucket,selector' },
  kvEntries: { perm: 'read', names: 'bucket,selector' },
  kvEntriesDelete: { perm: 'delete', names: 'bucket,selector' },
  kvmGet: { perm: 'read', names: 'bucket,key' },
  kvmHead: { perm: 'read', names: 'bucket,key' },
  kvmPut: { perm: 'write', names: 'bucket,key', body: 'v' },
  kvmCreate: { perm: 'write', names: 'bucket,key', body: 'v' },
  kvmDelete: { perm: 'delete', names: 'bucket,key' },
  kvBucketPurgeDeletes: { perm: 'admin', names: 'bucket' },
  kvWatch: { perm: 'watch', names: 'bucket,selector' },
  objGet: { perm: 'read', names: 'bucket,key' },
  objHead: { perm: 'read', names: 'bucket,key' },
  objPut: { perm: 'write', names: 'bucket,key', body: 'data' },
  objDelete: { perm: 'delete', names: 'bucket,key' },
  objPatch: { perm: 'write', names: 'bucket,key,new_name' },
  objBucketList: { perm: 'list', names: '-' },
  objBucketStatus: { perm: 'read', names: 'bucket' },
  objBucketCreate: { perm: 'admin', names: 'bucket', body: '{}' },
  objBucketPut: { perm: 'admin', names: 'bucket', body: '{}' },
  objBucketDelete: { perm: 'admin', names: 'bucket' },
  objList: { perm: 'read', names: 'bucket,selector' },
  objmGet: { perm: 'read', names: 'bucket,key' },
  objmHead: { perm: 'read', names: 'bucket,key' },
  objmPut: { perm: 'write', names: 'bucket,key', body: 'data' },
  objmDelete: { perm: 'delete', names: 'bucket,key' },
  objmPatch: { perm: 'write', names: 'bucket,key,new_name' },
  objLinkPut: { perm: 'write', names: 'bucket,key,link_target' },
  objBucketSeal: { perm: 'admin', names: 'bucket' },
  objWatch: { perm: 'watch', names: 'bucket,selector' },
};

const OPS = ['read', 'write', 'delete', 'watch', 'admin'];
const KV = 'mkv';
const OBJ = 'mobj';
// Keys of the fixture in both buckets; "two" may see p1/ and p2/, "otherpfx" other/.
const FIXTURE = ['p1/a', 'p2/b', 'p3/c', 'other/d'];

const SECRETS = {
  two: 'tw0-3c9a1e7f52',
  otherpfx: 'opx-8d2b6f0a19',
  otherbucket: 'obk-5e1c7a3d84',
  admin: 'adm-0f6b2d9e47',
};
for (const op of OPS) SECRETS[`no-${op}`] = `no${op.slice(0, 2)}-7c41e9b2${op.length}`;

const hash = (token) => execFileSync(JETGATE_BIN, ['--hash-token'], { input: `${token}\n` }).toString().trim();

function routes() {
  return execFileSync(JETGATE_BIN, ['--dump-routes']).toString().trim().split('\n').map((line) => {
    const [method, pattern, op, perm, names] = line.split('\t');
    return { method, pattern, op, perm, names };
  });
}

let dir;
let stack;
let base;

before(async () => {
  dir = makeTempDir('jetgate-authz-matrix-');
  const tokens = path.join(dir, 'tokens');
  const lines = [
    `admin ${hash(SECRETS.admin)} all@*`,
    `two ${hash(SECRETS.two)} all@${KV}/p1/ all@${KV}/p2/ all@${OBJ}/p1/ all@${OBJ}/p2/`,
    `otherpfx ${hash(SECRETS.otherpfx)} all@${KV}/other/ all@${OBJ}/other/`,
    `otherbucket ${hash(SECRETS.otherbucket)} all@oth-*`,
  ];
  for (const op of OPS) lines.push(`no-${op} ${hash(SECRETS[`no-${op}`])} ${OPS.filter((o) => o !== op).join(',')}@m*`);
  fs.writeFileSync(tokens, `${lines.join('\n')}\n`);
  stack = await startStack({ jetgate: { args: ['--tokens-file', tokens] } });
  base = stack.base;
  const admin = { Authorization: `Bearer ${SECRETS.admin}` };
  for (const [p, status] of [[`/v1/kvm/buckets/${KV}`, 201], ['/v1/kvm/buckets/oth-kv', 201],
    [`/v1/objm/buckets/${OBJ}`, 201], ['/v1/objm/buckets/oth-obj', 201]]) {
    assert.equal((await http(base, 'PUT', p, { body: '{}', headers: admin })).status, status, p);
  }
  for (const k of FIXTURE) {
    assert.equal((await http(base, 'PUT', `/v1/kv/${KV}/${k}`, { body: k, headers: admin })).status, 201);
    assert.equal((await http(base, 'PUT', `/v1/obj/${OBJ}/${k}`, { body: k, headers: admin })).status, 201);
  }
  assert.equal((await http(base, 'PUT', '/v1/obj/oth-obj/z', { body: 'z', headers: admin })).status, 201);
});

after(async () => {
  if (stack) await stack.stop();
  if (dir) removeTempDir(dir);
});

const bucketOf = (pattern) => (pattern.startsWith('/v1/kv') ? KV : OBJ);

function pathOf(route, key) {
  return route.pattern.replace('{bucket}', bucketOf(route.pattern)).replace(/\{(key|name)\*\}/, key);
}

// The requests one token kind makes on a route: [{what, path, body, expect}]
// with expect 'ok' (neither 401 nor 403), 401, 403, 'scope' (a listing or
// watch: exactly the keys under the token's prefixes) or 'buckets'.
function requests(route, kind) {
  const names = route.names.split(',');
  const has = (n) => names.includes(n);
  const row = ROWS[route.op];
  const out = [];
  const add = (what, key, body, expect) => out.push({ what, path: pathOf(route, key), body, expect });
  let body = row.body;
  if (has('new_name')) body = { name: 'p2/renamed' };
  if (has('link_target')) body = { bucket: OBJ, name: 'p2/b' };
  if (has('public')) return [{ what: 'public', path: route.pattern, expect: 'ok' }];
  if (kind === 'none') return [{ what: 'no token', path: pathOf(route, 'p1/x'), body, expect: 401 }];
  if (route.perm === 'token') return [{ what: 'any valid token', path: route.pattern, expect: 'ok' }];
  if (route.perm === 'list') return [{ what: 'bucket list', path: route.pattern, expect: 'buckets' }];
  if (kind.startsWith('no-')) {
    const lacks = kind.slice(3) === route.perm;
    add(lacks ? 'lacks the operation' : 'has the operation', 'p1/x', body, lacks ? 403 : 'skip');
    return out;
  }
  if (kind === 'otherbucket') {
    add('other bucket', 'p1/x', body, 403);
    return out;
  }
  if (has('selector') && route.method === 'DELETE') {
    // deletion by selector: a prefix wholly outside the rules is refused
    // before anything is deleted; one inside (matching no fixture key) is not
    const mine = kind === 'otherpfx' ? 'other/' : 'p1/';
    out.push({ what: 'prefix under no rule', path: `${pathOf(route, '')}?prefix=p3/`, expect: 403 });
    out.push({ what: 'another prefix under no rule', path: `${pathOf(route, '')}?prefix=q`, expect: 403 });
    out.push({ what: 'prefix under the rules', path: `${pathOf(route, '')}?prefix=${mine}zz`, expect: 'ok' });
    return out;
  }
  if (has('selector')) {
    add(`${route.op} selector`, '', undefined, 'scope');
    return out;
  }
  if (!has('key')) {
    add('whole bucket with a prefix rule', '', body, 403);
    return out;
  }
  if (kind === 'otherpfx') {
    add('key under another prefix', 'p1/x', body, 403);
    return out;
  }
  // two prefix rules: both prefixes allowed, a third refused, every second name outside refused
  add('key under the first prefix', 'p1/x', body, 'ok');
  add('key under the second prefix', 'p2/y', has('new_name') ? { name: 'p1/moved' } : body, 'ok');
  add('key under no prefix', 'p3/x', body, 403);
  if (has('new_name')) add('new name under no prefix', 'p1/a', { name: 'p3/stolen' }, 403);
  if (has('link_target')) {
    add('target under no prefix', 'p1/l', { bucket: OBJ, name: 'p3/c' }, 403);
    add('target missing under no prefix', 'p1/l', { bucket: OBJ, name: 'p3/none' }, 403);
    add('target in another bucket', 'p1/l', { bucket: 'oth-obj', name: 'z' }, 403);
    add('whole bucket target', 'p1/l', { bucket: OBJ }, 403);
  }
  return out;
}

const KINDS = ['none', ...OPS.map((o) => `no-${o}`), 'otherbucket', 'otherpfx', 'two'];
const SCOPE = { two: ['p1/', 'p2/'], otherpfx: ['other/'] };

async function selected(route, p, token) {
  if (route.op.endsWith('Watch')) {
    const s = await openSse(base, p, { headers: { Authorization: `Bearer ${token}` } });
    try {
      assert.equal(s.status, 200, `${p}: ${s.status} ${s.body}`);
      await s.next((e) => e.event === 'synced');
      return entries(s).map((e) => e.key ?? e.name);
    } finally {
      s.close();
    }
  }
  const r = await http(base, 'GET', p, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, `${p}: ${r.status} ${r.text}`);
  return r.json.map((e) => (typeof e === 'string' ? e : e.key ?? e.name));
}

test('every route of the table has a row, with the permission and names the row expects', () => {
  const table = routes();
  assert.ok(table.length >= 40, `only ${table.length} routes dumped`);
  const seen = new Set();
  for (const r of table) {
    const row = ROWS[r.op];
    assert.ok(row, `route ${r.method} ${r.pattern} (${r.op}) has no row in the authorization matrix`);
    assert.equal(r.perm, row.perm, `${r.op}: permission`);
    assert.equal(r.names, row.names, `${r.op}: names`);
    seen.add(r.op);
  }
  for (const op of Object.keys(ROWS)) assert.ok(seen.has(op), `row ${op} has no route`);
});

test('matrix: every route, method and token kind gets 401, 403 or only what the rules grant', async () => {
  const failures = [];
  let asked = 0;
  for (const route of routes()) {
    for (const kind of KINDS) {
      for (const q of requests(route, kind)) {
        if (q.expect === 'skip') continue;
        const token = kind === 'none' ? undefined : SECRETS[kind];
        const label = `${route.method} ${q.path} as ${kind} (${q.what})`;
        asked++;
        try {
          if (q.expect === 'scope') {
            const keys = await selected(route, q.path, token);
            const scope = SCOPE[kind];
            const want = FIXTURE.filter((k) => scope.some((s) => k.startsWith(s)));
            for (const k of keys) assert.ok(scope.some((s) => k.startsWith(s)), `${k} is outside ${scope}`);
            for (const k of want) assert.ok(keys.includes(k), `${k} is missing from ${keys}`);
            continue;
          }
          const headers = token ? { Authorization: `Bearer ${token}` } : {};
          const r = await http(base, route.method, q.path, { body: q.body, headers });
          if (q.expect === 'ok') {
            assert.ok(r.status !== 401 && r.status !== 403, `${r.status} ${r.text}`);
          } else if (q.expect === 'buckets') {
            assert.equal(r.status, 200, r.text);
            const mine = kind === 'otherbucket' ? /^oth-/ : /^m/;
            for (const b of r.json) assert.match(b, mine, `bucket ${b} is listed`);
            assert.ok(r.json.length > 0, 'the token\'s own bucket is listed');
          } else {
            assert.equal(r.status, q.expect, `${r.status} ${r.text}`);
            if (route.method !== 'HEAD') assert.equal(r.json?.code, q.expect === 401 ? 'unauthorized' : 'forbidden');
          }
        } catch (e) {
          failures.push(`${label}: ${e.message.split('\n')[0]}`);
        }
      }
    }
  }
  assert.ok(asked > 250, `only ${asked} requests`);
  assert.deepEqual(failures, [], `${failures.length} of ${asked} answers were wrong`);
  // nothing outside the rules was changed by the refused requests
  const admin = { Authorization: `Bearer ${SECRETS.admin}` };
  for (const k of FIXTURE) {
    assert.equal((await http(base, 'GET', `/v1/kv/${KV}/${k}`, { headers: admin })).text, k, `kv ${k}`);
    assert.equal((await http(base, 'GET', `/v1/obj/${OBJ}/${k}`, { headers: admin })).text, k, `obj ${k}`);
  }
  for (const p of [`/v1/obj/${OBJ}/p3/stolen`, `/v1/obj/${OBJ}/p1/l`]) {
    assert.equal((await http(base, 'GET', p, { headers: admin })).status, 404, p);
  }
});
