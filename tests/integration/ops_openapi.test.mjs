// docs/openapi.yaml against the code: the route table (src/http/routes.c)
// and the document's paths list the same operations (method, path,
// operationId); the document passes a real OpenAPI validator (@redocly/cli
// lint, with docs/redocly.yaml); and real responses of a running jetgate
// (status, Content-Type, body) match what the document says of their
// operation, body schemas checked with Ajv (JSON Schema 2020-12, which is
// what OpenAPI 3.1 schemas are).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { http, kvPath, kvmKeyPath, startStack, uniqueName } from '../lib/harness.mjs';
import { sourceDir, toolsDir, toolsRequire } from '../tools/tools.mjs';

const METHODS = ['get', 'head', 'put', 'post', 'delete', 'patch', 'options', 'trace'];
const SRC = sourceDir();
const OPENAPI = path.join(SRC, 'docs', 'openapi.yaml');

let doc;

before(() => {
  const yaml = toolsRequire()('js-yaml');
  doc = yaml.load(fs.readFileSync(OPENAPI, 'utf8'));
});

/** The rows of src/http/routes.c: [{method, path, operationId}] ({key*} written {key}). */
function routeTable() {
  const text = fs.readFileSync(path.join(SRC, 'src', 'http', 'routes.c'), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '');
  const rows = [];
  const ROW = /\{\s*((?:JG_[A-Z]+\s*\|\s*)*JG_[A-Z]+)\s*,\s*"([^"]+)"\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*,\s*"([^"]+)"/g;
  for (const m of text.matchAll(ROW)) {
    for (const method of m[1].split('|').map((s) => s.trim().replace(/^JG_/, ''))) {
      rows.push({ method, path: m[2].replace(/\{([A-Za-z_]+)\*\}/g, '{$1}'), operationId: m[3] });
    }
  }
  return rows;
}

/** The operations of the document: [{method, path, operationId}]. */
function documentOperations() {
  const ops = [];
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) {
      if (item[m]) ops.push({ method: m.toUpperCase(), path: p, operationId: item[m].operationId });
    }
  }
  return ops;
}

const key = (o) => `${o.method} ${o.path} ${o.operationId}`;

describe('docs/openapi.yaml and the route table', () => {
  test('the route table parses into rows', () => {
    const rows = routeTable();
    assert.ok(rows.length >= 40, `${rows.length} rows`);
    assert.ok(rows.some((r) => r.method === 'GET' && r.path === '/v1/kv/{bucket}/{key}' && r.operationId === 'kvGet'));
  });

  test('list the same operations (method, path, operationId)', () => {
    const code = new Set(routeTable().map(key));
    const docs = new Set(documentOperations().map(key));
    const onlyCode = [...code].filter((k) => !docs.has(k));
    const onlyDocs = [...docs].filter((k) => !code.has(k));
    assert.deepEqual({ onlyInRoutesC: onlyCode, onlyInOpenapi: onlyDocs }, { onlyInRoutesC: [], onlyInOpenapi: [] });
  });

  test('operationIds are unique on both sides', () => {
    for (const [name, list] of [['routes.c', routeTable()], ['openapi.yaml', documentOperations()]]) {
      const ids = list.map((o) => o.operationId);
      const dup = ids.filter((id, i) => ids.indexOf(id) !== i);
      assert.deepEqual(dup, [], `${name}: duplicate operationIds`);
      assert.ok(ids.every((id) => typeof id === 'string' && id.length > 0), `${name}: every operation has an operationId`);
    }
  });

  test('every path parameter of a path is declared', () => {
    for (const [p, item] of Object.entries(doc.paths)) {
      const names = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const m of METHODS) {
        if (!item[m]) continue;
        const declared = new Set([...(item.parameters || []), ...(item[m].parameters || [])]
          .map((x) => resolve(x)).filter((x) => x.in === 'path').map((x) => x.name));
        for (const n of names) assert.ok(declared.has(n), `${m.toUpperCase()} ${p}: path parameter ${n} declared`);
      }
    }
  });
});

describe('@redocly/cli lint', () => {
  test('docs/openapi.yaml is a valid OpenAPI 3.1 document with no lint errors', () => {
    const cli = path.join(toolsDir(), 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');
    const r = spawnSync(process.execPath, [cli, 'lint', '--config', path.join(SRC, 'docs', 'redocly.yaml'), OPENAPI,
      '--format=stylish'], { encoding: 'utf8', timeout: 120000, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
    assert.equal(r.status, 0, `redocly lint failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(`${r.stdout}${r.stderr}`, /valid/i);
    assert.equal(doc.openapi.startsWith('3.1'), true, `openapi: ${doc.openapi}`);
  });
});

// ---------------------------------------------------------------------------
// Responses against the document.

/** Follows a local $ref ('#/components/...') in the document. */
function resolve(obj) {
  let o = obj;
  for (let i = 0; o && o.$ref && i < 10; i++) {
    assert.match(o.$ref, /^#\//, `only local refs: ${o.$ref}`);
    o = o.$ref.slice(2).split('/').map((s) => decodeURIComponent(s.replace(/~1/g, '/').replace(/~0/g, '~')))
      .reduce((acc, k) => acc?.[k], doc);
    assert.ok(o, `unresolved ${obj.$ref}`);
  }
  return o;
}

let ajv;
const SCHEMA_ID = 'https://jetgate.invalid/openapi.json';

function validator() {
  if (ajv) return ajv;
  const req = toolsRequire();
  const Ajv2020 = req('ajv/dist/2020').default;
  const addFormats = req('ajv-formats').default;
  ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: SCHEMA_ID });
  return ajv;
}

function pointer(parts) {
  return parts.map((p) => encodeURIComponent(String(p).replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');
}

/** Finds the operation of an operationId: {path, method, op}. */
function operation(operationId) {
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) if (item[m]?.operationId === operationId) return { path: p, method: m, op: item[m] };
  }
  throw new Error(`no operation ${operationId} in the document`);
}

/**
 * Checks one response against the document: the status is documented for
 * the operation (or by a matching 'NXX' / 'default' entry), the Content-Type
 * is one the document gives for it, and a JSON body validates against the
 * schema given there.
 */
// Known gaps of docs/openapi.yaml: these responses carry a JSON body that
// the document does not describe (no `content`).  Each entry must still be
// a gap (the last test fails once the document describes it: then remove
// the entry, and the body is validated like every other).
const UNDOCUMENTED_BODIES = new Set(['healthz 200', 'readyz 200', 'kvBucketDelete 200', 'kvBucketPurgeDeletes 200']);
const undocumentedSeen = new Set();

function checkResponse(operationId, r, context = '') {
  const where = `${operationId} ${r.status}${context ? ` (${context})` : ''}`;
  const { path: p, method, op } = operation(operationId);
  const codes = Object.keys(op.responses);
  const code = [String(r.status), `${String(r.status)[0]}XX`, 'default'].find((c) => codes.includes(c));
  assert.ok(code, `${where}: status not documented (documented: ${codes.join(', ')})`);
  const resp = resolve(op.responses[code]);
  const ct = (r.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
  if (!resp.content || method === 'head' || r.status === 204 || r.status === 304) {
    if (!resp.content && method !== 'head' && r.bytes.length > 0) {
      const k = `${operationId} ${r.status}`;
      assert.ok(UNDOCUMENTED_BODIES.has(k), `${where}: a body where the document gives none: ${r.text.slice(0, 200)}`);
      undocumentedSeen.add(k);
    }
    return;
  }
  const types = Object.keys(resp.content);
  const match = types.find((t) => t.toLowerCase() === ct)
    || types.find((t) => t.endsWith('/*') && ct.startsWith(t.slice(0, -1)))
    || types.find((t) => t === '*/*');
  assert.ok(match, `${where}: Content-Type '${ct}' not among ${types.join(', ')}`);
  const media = resp.content[match];
  if (!media.schema || !/[/+]json$/.test(ct)) return;
  // validate against the schema where it stands in the document, so that
  // its $refs resolve
  let parts;
  if (op.responses[code].$ref) {
    parts = [...op.responses[code].$ref.slice(2).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')), 'content', match, 'schema'];
  } else {
    parts = ['paths', p, method, 'responses', code, 'content', match, 'schema'];
  }
  const v = validator().getSchema(`${SCHEMA_ID}#/${pointer(parts)}`);
  assert.ok(v, `${where}: schema not found at ${parts.join(' / ')}`);
  const body = JSON.parse(r.text);
  assert.ok(v(body), `${where}: body does not match the document:\n${JSON.stringify(v.errors, null, 1)}\n${r.text.slice(0, 500)}`);
}

describe('responses of a running jetgate match the document', () => {
  let stack;
  let base;

  before(async () => {
    stack = await startStack();
    base = stack.base;
  });

  after(async () => {
    if (stack) await stack.stop();
  });

  test('operations routes', async () => {
    checkResponse('healthz', await http(base, 'GET', '/healthz'));
    checkResponse('readyz', await http(base, 'GET', '/readyz'));
    checkResponse('metrics', await http(base, 'GET', '/metrics'));
    checkResponse('info', await http(base, 'GET', '/v1/info'));
  });

  test('KV buckets', async () => {
    const b = uniqueName('oas');
    checkResponse('kvBucketCreate', await http(base, 'POST', `/v1/kvm/buckets/${b}`, { body: { history: 3, description: 'x' } }), 'created');
    checkResponse('kvBucketCreate', await http(base, 'POST', `/v1/kvm/buckets/${b}`, { body: { history: 4 } }), 'exists');
    checkResponse('kvBucketCreate', await http(base, 'POST', '/v1/kvm/buckets/bad.name', { body: {} }), 'bad name');
    checkResponse('kvBucketPut', await http(base, 'PUT', `/v1/kvm/buckets/${b}`, { body: { history: 5 } }), 'update');
    checkResponse('kvBucketPut', await http(base, 'PUT', `/v1/kvm/buckets/${b}`, { body: '{nope' , headers: { 'Content-Type': 'application/json' } }), 'bad JSON');
    checkResponse('kvBucketStatus', await http(base, 'GET', `/v1/kvm/buckets/${b}`));
    checkResponse('kvBucketStatus', await http(base, 'GET', `/v1/kvm/buckets/${b}x`), 'missing');
    checkResponse('kvBucketList', await http(base, 'GET', '/v1/kvm/buckets'));
    checkResponse('kvKeyList', await http(base, 'GET', `/v1/kvm/buckets/${b}/keys`), 'empty');
    checkResponse('kvBucketPurgeDeletes', await http(base, 'DELETE', `/v1/kvm/buckets/${b}/purge`));
    checkResponse('kvBucketDelete', await http(base, 'DELETE', `/v1/kvm/buckets/${b}`));
    checkResponse('kvBucketDelete', await http(base, 'DELETE', `/v1/kvm/buckets/${b}`), 'again');
  });

  test('KV keys', async () => {
    const b = uniqueName('oas');
    checkResponse('kvBucketPut', await http(base, 'PUT', `/v1/kvm/buckets/${b}`, { body: { history: 5 } }), 'create');
    checkResponse('kvPut', await http(base, 'PUT', kvPath(b, 'a/b.c'), { body: 'v1' }));
    checkResponse('kvPut', await http(base, 'PUT', kvPath(b, 'a/b.c'), { body: 'v2', headers: { 'If-Match': '"99"' } }), 'stale If-Match');
    checkResponse('kvPut', await http(base, 'PUT', kvPath(b, '..bad'), { body: 'v' }), 'bad key');
    checkResponse('kvPut', await http(base, 'PUT', kvPath(`${b}nope`, 'k'), { body: 'v' }), 'no bucket');
    checkResponse('kvCreate', await http(base, 'POST', kvPath(b, 'new'), { body: 'n' }));
    checkResponse('kvCreate', await http(base, 'POST', kvPath(b, 'new'), { body: 'n' }), 'exists');
    checkResponse('kvGet', await http(base, 'GET', kvPath(b, 'a/b.c')));
    checkResponse('kvGet', await http(base, 'GET', `${kvPath(b, 'a/b.c')}?history=true`), 'history');
    checkResponse('kvGet', await http(base, 'GET', `${kvPath(b, 'a/b.c')}?format=json`), 'json');
    checkResponse('kvGet', await http(base, 'GET', kvPath(b, 'missing')), 'missing');
    checkResponse('kvHead', await http(base, 'HEAD', kvPath(b, 'a/b.c')));
    checkResponse('kvmPut', await http(base, 'PUT', kvmKeyPath(b, 'm'), { body: 'mv' }));
    checkResponse('kvmCreate', await http(base, 'POST', kvmKeyPath(b, 'm2'), { body: 'mv' }));
    checkResponse('kvmGet', await http(base, 'GET', kvmKeyPath(b, 'm')));
    checkResponse('kvmHead', await http(base, 'HEAD', kvmKeyPath(b, 'm')));
    checkResponse('kvKeyList', await http(base, 'GET', `/v1/kvm/buckets/${b}/keys`));
    checkResponse('kvEntries', await http(base, 'GET', `/v1/kvm/buckets/${b}/entries`));
    checkResponse('kvEntries', await http(base, 'GET', `/v1/kvm/buckets/${b}/entries?key=a/b.c&key=nope&deleted=true`), 'named');
    checkResponse('kvEntries', await http(base, 'GET', `/v1/kvm/buckets/${b}/entries`, { headers: { Accept: 'application/x-ndjson' } }), 'ndjson');
    checkResponse('kvEntries', await http(base, 'GET', `/v1/kvm/buckets/${b}/entries?key=a&prefix=b`), 'bad');
    checkResponse('kvEntries', await http(base, 'GET', `/v1/kvm/buckets/${b}nope/entries`), 'no bucket');
    checkResponse('kvEntriesDelete', await http(base, 'DELETE', `/v1/kvm/buckets/${b}/entries`), 'no selector');
    checkResponse('kvEntriesDelete', await http(base, 'DELETE', `/v1/kvm/buckets/${b}/entries?prefix=zz`), 'nothing');
    checkResponse('kvDelete', await http(base, 'DELETE', kvPath(b, 'new')));
    checkResponse('kvmDelete', await http(base, 'DELETE', `${kvmKeyPath(b, 'm')}?purge=true`));
    checkResponse('kvBucketPurgeDeletes', await http(base, 'DELETE', `/v1/kvm/buckets/${b}/purge?olderThan=0`));
  });

  test('the known gaps of the document are still gaps', () => {
    assert.deepEqual([...UNDOCUMENTED_BODIES].filter((k) => !undocumentedSeen.has(k)), [],
      'docs/openapi.yaml now describes these bodies: remove them from UNDOCUMENTED_BODIES');
  });

  test('the shared 404 and 405 answers match components/responses', async () => {
    for (const [name, r] of [['NotFound', await http(base, 'GET', '/v1/nope')],
      ['MethodNotAllowed', await http(base, 'PATCH', '/v1/kvm/buckets')]]) {
      const resp = doc.components?.responses?.[name];
      if (!resp) {
        // the name may differ: find the component that documents this code
        const found = Object.entries(doc.components.responses)
          .find(([, v]) => JSON.stringify(v).includes(r.status === 404 ? 'not_found' : 'method_not_allowed'));
        assert.ok(found, `a components/responses entry for ${r.status}`);
      }
      const ct = (r.headers.get('content-type') || '').split(';')[0];
      assert.equal(ct, 'application/problem+json');
      const v = validator().getSchema(`${SCHEMA_ID}#/components/schemas/Problem`);
      assert.ok(v, 'components/schemas/Problem');
      assert.ok(v(r.json), `${r.status}: ${JSON.stringify(v.errors)}`);
    }
  });
});
