// The janitor purges chunks that no object references once they are older
// than obj_janitor_age, and leaves objects and young uploads alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { connectNats, http, sleep, startStack } from '../lib/harness.mjs';

let stack;
let nats;

before(async () => {
  stack = await startStack({ jetgate: { args: ['--obj-janitor-interval', '1s', '--obj-janitor-age', '3s'] } });
  nats = await connectNats(stack.nats.url);
});

after(async () => {
  if (nats) await nats.close();
  if (stack) await stack.stop();
});

// how many messages the stream holds on a subject
async function count(stream, subject) {
  const info = await nats.jsm.streams.info(stream, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

test('orphan chunks are purged after the age; objects and young orphans stay', async () => {
  const b = `jan${Date.now()}`;
  assert.equal((await http(stack.base, 'PUT', `/v1/objm/buckets/${b}`, { body: '{}' })).status, 201);
  const body = Buffer.alloc(300 * 1024, 7);
  const put = await http(stack.base, 'PUT', `/v1/obj/${b}/kept.bin?chunkSize=131072`, { body });
  assert.equal(put.status, 201);
  const nuid = put.json.nuid;
  // a writer that died after two chunks, before its meta message
  const orphan = `ORPHANNUID${Date.now()}`;
  for (let i = 0; i < 2; i++) await nats.js.publish(`$O.${b}.C.${orphan}`, new Uint8Array(1000));
  const stream = `OBJ_${b}`;
  assert.equal(await count(stream, `$O.${b}.C.${orphan}`), 2);
  await sleep(1500);
  // younger than the age: still there
  assert.equal(await count(stream, `$O.${b}.C.${orphan}`), 2, 'young orphans are left alone');
  let left = 2;
  for (let i = 0; i < 60 && left > 0; i++) {
    await sleep(100);
    left = await count(stream, `$O.${b}.C.${orphan}`);
  }
  assert.equal(left, 0, 'the orphan chunks were purged');
  assert.equal(await count(stream, `$O.${b}.C.${nuid}`), 3, 'the object keeps its chunks');
  const get = await http(stack.base, 'GET', `/v1/obj/${b}/kept.bin`);
  assert.equal(get.status, 200);
  assert.equal(Buffer.compare(Buffer.from(get.bytes), body), 0);
  assert.match(stack.jg.log(), /janitor: purged orphan chunks/);
});
