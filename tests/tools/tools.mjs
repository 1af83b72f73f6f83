// tools.mjs - the validators of jetgate's operations tests (OpenAPI lint,
// JSON Schema, YAML, Prometheus text format), kept in their own npm folder
// (tests/tools) so that the main suites install fast.
//
// toolsRequire() returns a require() that resolves from tests/tools/
// node_modules, installing it with `npm ci` first when it is missing (as
// tests/run-node-tests.sh does for tests/node_modules).  Test files running
// at the same time wait for one another's install (a lock directory).  A
// read-only tests/tools (a distcheck source tree) is copied to a temporary
// directory first.  Also: the source tree, build tree and install helpers
// that the operations tests share.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const INSTALL_TIMEOUT_MS = 10 * 60 * 1000;

function writable(dir) {
  try { fs.accessSync(dir, fs.constants.W_OK); return true; } catch { return false; }
}

function installed(dir) {
  return fs.existsSync(path.join(dir, 'node_modules', '.package-lock.json'));
}

function pidAlive(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function install(dir) {
  const lock = path.join(dir, '.install-lock');
  const deadline = Date.now() + INSTALL_TIMEOUT_MS;
  for (;;) {
    if (installed(dir)) return;
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    // someone else installs; take over a lock whose owner died
    let owner = 0;
    try { owner = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8')); } catch { /* not written yet */ }
    if (owner && !pidAlive(owner)) fs.rmSync(lock, { recursive: true, force: true });
    if (Date.now() > deadline) throw new Error(`tests/tools: timed out waiting for ${lock}`);
    sleepSync(200);
  }
  try {
    fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
    if (installed(dir)) return;
    process.stderr.write(`tests/tools: installing the validators (npm ci --prefix ${dir})\n`);
    execFileSync('npm', ['ci', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error'],
      { stdio: ['ignore', 'inherit', 'inherit'], timeout: INSTALL_TIMEOUT_MS });
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

let toolsDirCache;

/** The directory whose node_modules holds the validators (installed on first use). */
export function toolsDir() {
  if (toolsDirCache) return toolsDirCache;
  let dir = HERE;
  if (!installed(dir) && !writable(dir)) {
    dir = path.join(os.tmpdir(), `jetgate-test-tools-${process.getuid ? process.getuid() : 0}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['package.json', 'package-lock.json']) {
      const src = fs.readFileSync(path.join(HERE, f));
      const dst = path.join(dir, f);
      if (!fs.existsSync(dst) || !fs.readFileSync(dst).equals(src)) {
        fs.rmSync(path.join(dir, 'node_modules'), { recursive: true, force: true });
        fs.writeFileSync(dst, src);
      }
    }
  }
  install(dir);
  toolsDirCache = dir;
  return dir;
}

/** require() resolving from the validators' node_modules. */
export function toolsRequire() {
  return createRequire(path.join(toolsDir(), 'package.json'));
}

/**
 * The source tree: $srcdir when run by `make check` (automake sets it,
 * relative to the build directory the tests run in), else tests/tools/../..
 * (a copy of tests/ in a build directory has no docs/: skip it).
 */
export function sourceDir() {
  const cands = [];
  if (process.env.srcdir) cands.push(path.resolve(process.env.srcdir));
  cands.push(path.resolve(HERE, '..', '..'));
  for (const c of cands) {
    if (fs.existsSync(path.join(c, 'src', 'http', 'routes.c'))) return c;
  }
  throw new Error(`the source tree was not found (tried ${cands.join(', ')})`);
}

/**
 * The build directory of the jetgate under test: $abs_top_builddir (make
 * check), else the directory above the binary's src/ that holds a Makefile.
 */
export function buildDir(jetgateBin) {
  const cands = [];
  if (process.env.abs_top_builddir) cands.push(process.env.abs_top_builddir);
  if (jetgateBin) cands.push(path.resolve(fs.realpathSync(jetgateBin), '..', '..'));
  for (const c of cands) {
    if (fs.existsSync(path.join(c, 'Makefile'))) return c;
  }
  throw new Error(`no build directory with a Makefile (tried ${cands.join(', ')})`);
}

/** The environment for a make run inside `make check` (no job server, no level). */
export function makeEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES', 'DESTDIR']) delete env[k];
  return env;
}

/** Finds an executable on PATH (or in /usr/sbin, /sbin); null when absent. */
export function which(name) {
  const dirs = (process.env.PATH || '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, name);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}
