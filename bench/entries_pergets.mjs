// One GET per key through jetgate, the way a client without a bulk read
// does it: the key listing, then GET /v1/kv/{bucket}/{key} for each key, one
// after the other on one keep-alive connection.  Prints
// {"keys":N,"bytes":B,"seconds":S}.  Usage: node entries_pergets.mjs BASE BUCKET
import http from 'node:http';

const [base, bucket] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(path) {
  return new Promise((resolve, reject) => {
    http.get(base + path, { agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${path}: ${res.statusCode}`));
        else resolve(Buffer.concat(chunks));
      });
    }).on('error', reject);
  });
}

const t0 = process.hrtime.bigint();
const keys = JSON.parse((await get(`/v1/kvm/buckets/${bucket}/keys`)).toString());
let bytes = 0;
for (const k of keys) bytes += (await get(`/v1/kv/${bucket}/${encodeURIComponent(k).replace(/%2F/g, '/')}`)).length;
const s = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ keys: keys.length, bytes, seconds: Number(s.toFixed(3)) }));
agent.destroy();
