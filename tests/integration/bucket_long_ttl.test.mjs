// Bucket settings of 1e15 and more (a ttl of 30 days is 2.592e15 ns):
// the stream configuration jetgate sends must hold them as integer
// literals, as nats-server reads its integer fields only in that form.
// Covers create, a repeated identical create, create-or-update and seal,
// for KV and object buckets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { http, jszStream, startStack, uniqueName } from '../lib/harness.mjs';

const TTL = '720h';
const TTL_NS = 720 * 3600 * 1e9;

let stack;

before(async () => {
  stack = await startStack();
});

after(async () => {
  if (stack) await stack.stop();
});

test('a KV bucket with a 30-day ttl is created, recreated identically and updated', async () => {
  const b = uniqueName('kvttl');
  const r = await http(stack.base, 'POST', `/v1/kvm/buckets/${b}`, { body: { ttl: TTL, history: 2 } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.ttl, TTL_NS);
  const again = await http(stack.base, 'POST', `/v1/kvm/buckets/${b}`, { body: { ttl: TTL, history: 2 } });
  assert.equal(again.status, 200, again.text);
  // PUT sends the server's own config back with one field changed
  const put = await http(stack.base, 'PUT', `/v1/kvm/buckets/${b}`, { body: { history: 3 } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.history, 3);
  assert.equal(put.json.ttl, TTL_NS);
  const si = await jszStream(stack.nats.monitorPort, `KV_${b}`);
  assert.equal(si.config.max_age, TTL_NS);
});

test('an object bucket with a 30-day ttl is created, recreated identically, updated and sealed', async () => {
  const b = uniqueName('objttl');
  const r = await http(stack.base, 'POST', `/v1/objm/buckets/${b}`, { body: { ttl: TTL } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.ttl, TTL_NS);
  const again = await http(stack.base, 'POST', `/v1/objm/buckets/${b}`, { body: { ttl: TTL } });
  assert.equal(again.status, 200, again.text);
  const put = await http(stack.base, 'PUT', `/v1/objm/buckets/${b}`, { body: { description: 'long' } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.ttl, TTL_NS);
  const seal = await http(stack.base, 'POST', `/v1/objm/buckets/${b}/seal`);
  assert.equal(seal.status, 200, seal.text);
  assert.equal(seal.json.sealed, true); // (nats-server drops max_age when it seals)
});

// A ttl in nanoseconds beyond 2^53 that no double holds (about 104 days and
// more, not a whole number of microseconds): the stream keeps the nearest
// double, and an identical create must still be recognised as identical.
test('a ttl no double holds: a repeated identical create answers 200, not 409', async () => {
  for (const kind of ['kvm', 'objm']) {
    for (const ttl of ['9223072036847807', '9100000000000000001', '31536000000000001']) {
      const b = uniqueName(`${kind}odd`);
      const r = await http(stack.base, 'POST', `/v1/${kind}/buckets/${b}`, { body: `{"ttl":${ttl}}`, headers: { 'Content-Type': 'application/json' } });
      assert.equal(r.status, 201, `${kind} ${ttl}: ${r.text}`);
      const again = await http(stack.base, 'POST', `/v1/${kind}/buckets/${b}`, { body: `{"ttl":${ttl}}`, headers: { 'Content-Type': 'application/json' } });
      assert.equal(again.status, 200, `${kind} ${ttl} again: ${again.text}`);
    }
  }
});

// Answers hold integers as integer literals, also from 1e15 up: Go's
// encoding/json refuses "3.1536e+16" for an int64 field.
test('a 1-year ttl is answered as an integer literal, not in exponent form', async () => {
  for (const kind of ['kvm', 'objm']) {
    const b = uniqueName(`${kind}year`);
    const r = await http(stack.base, 'POST', `/v1/${kind}/buckets/${b}`, { body: { ttl: '8760h' } });
    assert.equal(r.status, 201, r.text);
    assert.match(r.text, /"ttl":31536000000000000[,}]/, `${kind}: ${r.text}`);
    const s = await http(stack.base, 'GET', `/v1/${kind}/buckets/${b}`);
    assert.match(s.text, /"ttl":31536000000000000[,}]/, `${kind} status: ${s.text}`);
  }
});
