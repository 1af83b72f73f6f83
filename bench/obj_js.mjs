// obj_js.mjs: the official JavaScript object store client (@nats-io/obj) in
// the jetgate object store benchmark.  Puts a file as one object with
// ObjectStore.put() (streamed from disk: the client publishes 128 KiB chunks
// and awaits each acknowledgement, then the meta), then reads it back with
// ObjectStore.get(), consuming the stream and waiting for the client's own
// size and SHA-256 check.  Timing covers put() and get() to the last byte;
// connecting and opening the bucket are not timed.
//
// Usage: node bench/obj_js.mjs --url nats://127.0.0.1:4222 --bucket B
//          --name N --file PATH [--modules DIR] [--delete]
// --modules: a node_modules directory holding @nats-io/transport-node and
// @nats-io/obj (default: $NODE_MODULES_DIR, else tests/node_modules next to
// this script's directory).  --delete removes the object afterwards.
//
// Output: one line of JSON on stdout:
//   {"size":S,"up_seconds":..,"up_mbps":..,"down_seconds":..,"down_mbps":..,
//    "digest":"SHA-256=...","errors":0}
// (MB/s = 10^6 bytes per second).  Exit status 0 ok, 1 on any failure.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';

function parseArgs(argv) {
  const o = { url: 'nats://127.0.0.1:4222', bucket: 'bench', name: 'big', file: null, modules: null, del: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--url') o.url = val();
    else if (a === '--bucket') o.bucket = val();
    else if (a === '--name') o.name = val();
    else if (a === '--file') o.file = val();
    else if (a === '--modules') o.modules = val();
    else if (a === '--delete') o.del = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.file) throw new Error('--file is required');
  return o;
}

async function load(modulesDir, name) {
  const req = createRequire(path.join(modulesDir, 'noop.js'));
  return import(pathToFileURL(req.resolve(name)).href);
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`obj_js: ${e.message}\n`);
    process.exit(2);
  }
  const here = path.dirname(fileURLToPath(import.meta.url));
  const modulesDir = o.modules || process.env.NODE_MODULES_DIR || path.join(here, '..', 'tests', 'node_modules');
  const { connect } = await load(modulesDir, '@nats-io/transport-node');
  const { Objm } = await load(modulesDir, '@nats-io/obj');

  const size = fs.statSync(o.file).size;
  const url = new URL(o.url);
  const nc = await connect({ servers: `${url.hostname}:${url.port || 4222}`, name: 'jetgate-bench-obj_js' });
  let errors = 0;
  const out = { size, up_seconds: null, up_mbps: null, down_seconds: null, down_mbps: null, digest: null };
  try {
    const os = await new Objm(nc).create(o.bucket);

    const t0 = process.hrtime.bigint();
    const rs = Readable.toWeb(fs.createReadStream(o.file, { highWaterMark: 128 * 1024 }));
    const info = await os.put({ name: o.name }, rs);
    const t1 = process.hrtime.bigint();
    if (info.size !== size) throw new Error(`put stored ${info.size} bytes, want ${size}`);
    out.up_seconds = Number(t1 - t0) / 1e9;
    out.up_mbps = size / out.up_seconds / 1e6;
    out.digest = info.digest;

    const t2 = process.hrtime.bigint();
    const r = await os.get(o.name);
    if (!r) throw new Error(`get(${o.name}): not found`);
    const reader = r.data.getReader();
    let n = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.length;
    }
    const err = await r.error;
    const t3 = process.hrtime.bigint();
    if (err) throw new Error(`get(${o.name}): ${err.message || err}`);
    if (n !== size) throw new Error(`get read ${n} bytes, want ${size}`);
    out.down_seconds = Number(t3 - t2) / 1e9;
    out.down_mbps = size / out.down_seconds / 1e6;

    if (o.del) await os.delete(o.name);
  } catch (e) {
    errors++;
    process.stderr.write(`obj_js: ${e.stack || e}\n`);
  } finally {
    await nc.close();
  }
  const r3 = (v) => (v === null ? null : Math.round(v * 1000) / 1000);
  process.stdout.write(JSON.stringify({
    size, up_seconds: r3(out.up_seconds), up_mbps: r3(out.up_mbps), down_seconds: r3(out.down_seconds),
    down_mbps: r3(out.down_mbps), digest: out.digest, errors,
  }) + '\n');
  process.exit(errors ? 1 : 0);
}

main();
