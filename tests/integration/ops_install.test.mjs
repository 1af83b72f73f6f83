// `make install DESTDIR=...` lays out what an operator expects: the binary,
// the systemd unit (with this build's paths), the config file (never
// overwritten), the example environment file and both man pages.  The
// installed unit passes `systemd-analyze verify` and scores at most
// MAX_EXPOSURE in `systemd-analyze security --offline=true`; `man -l`
// renders both pages without a warning.  Then `make uninstall` removes what
// it installed but keeps a config file the operator changed.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { JETGATE_BIN, makeTempDir } from '../lib/harness.mjs';
import { buildDir, makeEnv, sourceDir, which } from '../tools/tools.mjs';

// systemd-analyze security's overall exposure (0 = best, 10 = worst).
const MAX_EXPOSURE = 1.2;

let builddir;
let destdir;
let dirs;

function make(...args) {
  return spawnSync('make', ['-C', builddir, ...args], { env: makeEnv(), encoding: 'utf8', timeout: 300000 });
}

const inDest = (p) => path.join(destdir, p);

before(() => {
  builddir = buildDir(JETGATE_BIN);
  destdir = makeTempDir('jetgate-install-');
  const r = make('-s', 'print-install-dirs');
  assert.equal(r.status, 0, r.stderr);
  dirs = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
  for (const k of ['bindir', 'sysconfdir', 'mandir', 'docdir', 'systemdsystemunitdir']) {
    assert.ok(dirs[k] && dirs[k].startsWith('/'), `${k} = ${dirs[k]}`);
  }
  const inst = make('install', `DESTDIR=${destdir}`);
  assert.equal(inst.status, 0, `make install failed:\n${inst.stdout}\n${inst.stderr}`);
});

describe('make install DESTDIR=...', () => {
  test('installs the binary, unit, config, environment example and man pages', () => {
    const bin = inDest(path.join(dirs.bindir, 'jetgate'));
    fs.accessSync(bin, fs.constants.X_OK);
    const v = execFileSync(bin, ['--version'], { encoding: 'utf8' });
    assert.match(v, /^jetgate \d+\.\d+/);

    const unit = fs.readFileSync(inDest(path.join(dirs.systemdsystemunitdir, 'jetgate.service')), 'utf8');
    assert.ok(!/@[a-z]+@/.test(unit), 'no @placeholder@ left in the unit');
    assert.match(unit, new RegExp(`^ExecStart=${dirs.bindir}/jetgate --config ${dirs.sysconfdir}/jetgate/jetgate.conf$`, 'm'));
    assert.match(unit, new RegExp(`^EnvironmentFile=-${dirs.sysconfdir}/jetgate/jetgate.env$`, 'm'));
    assert.match(unit, /^Type=notify$/m);
    // the shell's built-in kill: no package beyond the essential ones (a
    // minimal Debian has no /bin/kill)
    assert.match(unit, /^ExecReload=\/bin\/sh -c 'kill -HUP \$\$MAINPID'$/m);
    assert.ok(!/\/bin\/kill/.test(unit.replace(/^#.*$/gm, '')), 'the unit runs no /bin/kill');
    for (const k of ['User=jetgate', 'Group=jetgate', 'DynamicUser=yes', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'CapabilityBoundingSet=',
      'SystemCallFilter=@system-service']) {
      assert.ok(unit.split('\n').includes(k), `unit has ${k}`);
    }
    assert.match(unit, /^RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX$/m);

    const conf = fs.readFileSync(inDest(path.join(dirs.sysconfdir, 'jetgate', 'jetgate.conf')), 'utf8');
    assert.equal(conf, fs.readFileSync(path.join(sourceDir(), 'config', 'jetgate.conf'), 'utf8'));

    const env = fs.readFileSync(inDest(path.join(dirs.docdir, 'examples', 'jetgate.env.example')), 'utf8');
    assert.match(env, /JETGATE_NATS_PASSWORD=/);

    for (const page of ['man8/jetgate.8', 'man5/jetgate.conf.5']) {
      const text = fs.readFileSync(inDest(path.join(dirs.mandir, page)), 'utf8');
      assert.match(text, /^\.TH /m, page);
    }
  });

  test('systemd-analyze verify passes on the installed unit', () => {
    const sa = which('systemd-analyze');
    assert.ok(sa, 'systemd-analyze is not installed: apt-get install systemd (tests/setup.sh lists it)');
    // The root stands for the target system: besides the installed files it
    // needs the standard targets the unit depends on and sh(1), which
    // ExecReload= runs.  The man pages are looked up in the installed tree.
    const root = makeTempDir('jetgate-verify-');
    fs.cpSync(destdir, root, { recursive: true });
    const targets = path.join(root, 'lib', 'systemd', 'system');
    fs.mkdirSync(targets, { recursive: true });
    for (const d of ['/lib/systemd/system', '/usr/lib/systemd/system']) {
      if (!fs.existsSync(d)) continue;
      for (const f of fs.readdirSync(d)) {
        if (f.endsWith('.target') && fs.statSync(path.join(d, f)).isFile()) fs.copyFileSync(path.join(d, f), path.join(targets, f));
      }
      break;
    }
    fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
    fs.copyFileSync(fs.realpathSync('/bin/sh'), path.join(root, 'bin', 'sh'));
    fs.chmodSync(path.join(root, 'bin', 'sh'), 0o755);
    const unit = path.join(root, dirs.systemdsystemunitdir, 'jetgate.service');
    const r = spawnSync(sa, ['verify', `--root=${root}`, unit], {
      encoding: 'utf8', timeout: 60000, env: { ...process.env, MANPATH: path.join(root, dirs.mandir), SYSTEMD_LOG_COLOR: '0' },
    });
    assert.equal(r.status, 0, `systemd-analyze verify:\n${r.stdout}${r.stderr}`);
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no warnings');

    const s = spawnSync(sa, ['security', '--offline=true', `--root=${root}`, '--no-pager', unit],
      { encoding: 'utf8', timeout: 60000 });
    const m = /Overall exposure level for jetgate\.service: ([\d.]+)/.exec(`${s.stdout}${s.stderr}`);
    assert.ok(m, `systemd-analyze security printed no score:\n${s.stdout}${s.stderr}`);
    assert.ok(Number(m[1]) <= MAX_EXPOSURE, `exposure ${m[1]} > ${MAX_EXPOSURE}:\n${s.stdout}`);
  });

  test('man -l renders both pages without warnings', () => {
    const man = which('man');
    assert.ok(man, 'man is not installed: apt-get install man-db groff-base (tests/setup.sh lists them)');
    for (const page of ['man8/jetgate.8', 'man5/jetgate.conf.5']) {
      const r = spawnSync(man, ['--warnings', '-E', 'UTF-8', '-l', inDest(path.join(dirs.mandir, page))], {
        encoding: 'utf8', timeout: 30000, env: { ...process.env, MANWIDTH: '80', MAN_KEEP_FORMATTING: '', LC_ALL: 'C.UTF-8', MANPAGER: 'cat', PAGER: 'cat' },
      });
      assert.equal(r.status, 0, `man -l ${page}: ${r.stderr}`);
      assert.equal(r.stderr.trim(), '', `man -l ${page} warns`);
      assert.match(r.stdout, /OPTIONS/);
      assert.match(r.stdout, page.startsWith('man8') ? /--listen ADDR:PORT/ : /listen = ADDR:PORT/);
    }
  });

  test('a second install keeps a changed config file, uninstall keeps it too', () => {
    const conf = inDest(path.join(dirs.sysconfdir, 'jetgate', 'jetgate.conf'));
    fs.writeFileSync(conf, 'listen = 127.0.0.1:9999\n');
    const inst = make('install', `DESTDIR=${destdir}`);
    assert.equal(inst.status, 0, inst.stderr);
    assert.equal(fs.readFileSync(conf, 'utf8'), 'listen = 127.0.0.1:9999\n', 'not overwritten');
    const un = make('uninstall', `DESTDIR=${destdir}`);
    assert.equal(un.status, 0, un.stderr);
    assert.ok(!fs.existsSync(inDest(path.join(dirs.bindir, 'jetgate'))), 'binary removed');
    assert.ok(!fs.existsSync(inDest(path.join(dirs.systemdsystemunitdir, 'jetgate.service'))), 'unit removed');
    assert.ok(!fs.existsSync(inDest(path.join(dirs.mandir, 'man8', 'jetgate.8'))), 'man page removed');
    assert.ok(fs.existsSync(conf), 'the changed config file is kept');
  });

  test('uninstall removes an unchanged config file', () => {
    const d2 = makeTempDir('jetgate-install2-');
    assert.equal(make('install', `DESTDIR=${d2}`).status, 0);
    const conf = path.join(d2, dirs.sysconfdir, 'jetgate', 'jetgate.conf');
    assert.ok(fs.existsSync(conf));
    assert.equal(make('uninstall', `DESTDIR=${d2}`).status, 0);
    assert.ok(!fs.existsSync(conf), 'unchanged config removed');
    const left = [];
    const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else left.push(p); } };
    walk(d2);
    assert.deepEqual(left, [], 'nothing but directories left');
  });
});
