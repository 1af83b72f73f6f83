// jetgate web console: talks to jetgate's public API with the user's token
// (sessionStorage, Authorization: Bearer; never in a URL). No framework.
'use strict';

const TOKEN_KEY = 'jetgate.token';
const $ = (id) => document.getElementById(id);
const state = { kind: null, bucket: null, key: null, entry: null, baseRev: 0, bytes: null, view: null };
const live = { ctrl: null, lastId: null, rows: 0, seen: new Set(), retry: null };

// --- API ---------------------------------------------------------------------
function authHeaders(extra) {
  const h = new Headers(extra || {});
  const t = sessionStorage.getItem(TOKEN_KEY);
  if (t) h.set('Authorization', `Bearer ${t}`);
  return h;
}

const seg = (s) => s.split('/').map(encodeURIComponent).join('/');
const bpath = (kind, b) => `/v1/${kind}m/buckets/${encodeURIComponent(b)}`;
const kpath = (b, k) => `/v1/kv/${encodeURIComponent(b)}/${seg(k)}`;
const opath = (b, n) => `/v1/obj/${encodeURIComponent(b)}/${seg(n)}`;

async function toProblem(status, statusText, text) {
  let p = null;
  try { p = JSON.parse(text); } catch { /* not JSON */ }
  if (!p || typeof p !== 'object') p = { title: statusText || `HTTP ${status}`, detail: text || '' };
  const e = new Error(`${status} ${p.title || ''}`);
  e.problem = { status, title: p.title || statusText || `HTTP ${status}`, detail: p.detail || '', code: p.code || '' };
  return e;
}

async function api(method, path, { body, headers, ok = [], signal } = {}) {
  let r;
  try {
    r = await fetch(path, { method, headers: authHeaders(headers), body, cache: 'no-store', signal });
  } catch (err) {
    const e = new Error('network');
    e.problem = { status: 0, title: 'Network error', detail: String(err.message || err), code: '' };
    throw e;
  }
  if (!r.ok && !ok.includes(r.status)) throw await toProblem(r.status, r.statusText, await r.text());
  return r;
}
const apiJson = async (method, path, opts = {}) => {
  const r = await api(method, path, { ...opts, headers: { Accept: 'application/json', ...(opts.headers || {}) } });
  return r.status === 204 ? null : r.json();
};

// --- errors and notes --------------------------------------------------------
function showError(e) {
  const p = e.problem || { status: 0, title: 'Error', detail: String(e.message || e) };
  $('error-title').textContent = `${p.status ? `${p.status} ` : ''}${p.title}`;
  $('error-detail').textContent = `${p.detail}${p.code ? ` (${p.code})` : ''}`;
  $('error').hidden = false;
  if (p.status === 401) $('token').focus();
}
const guard = (fn) => async (...args) => {
  try { await fn(...args); } catch (e) { showError(e); }
};
$('error-close').addEventListener('click', () => { $('error').hidden = true; });

function el(tag, attrs = {}, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') n.textContent = v;
    else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) n.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids) if (c !== null && c !== undefined) n.append(c);
  return n;
}

function fmtBytes(n) {
  if (n === undefined || n === null || n < 0) return '∞';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}
const fmtTime = (t) => (t ? t.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');
function fmtNs(ns) {
  if (!ns) return 'none';
  let s = ns / 1e9;
  for (const [u, d] of [['d', 86400], ['h', 3600], ['m', 60]]) if (s >= d && s % d === 0) return `${s / d}${u}`;
  return `${s}s`;
}

// --- token -------------------------------------------------------------------
function showTokenState() {
  $('token-state').textContent = sessionStorage.getItem(TOKEN_KEY) ? 'token set' : 'no token';
}
$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const t = $('token').value.trim();
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  $('token').value = '';
  $('error').hidden = true;
  showTokenState();
  loadBuckets();
});
$('token-forget').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showTokenState();
  stopLive();
});

// --- buckets -----------------------------------------------------------------
function bucketItem(kind, name, status, err) {
  let info = '';
  if (err) info = err.problem ? `${err.problem.status} ${err.problem.title}` : 'error';
  else if (kind === 'kv') info = `${status.values} values · ${fmtBytes(status.bytes)} · history ${status.history}`;
  else info = `${fmtBytes(status.size)}${status.sealed ? ' · sealed' : ''}`;
  const current = state.kind === kind && state.bucket === name;
  return el('li', {},
    el('button', { type: 'button', class: 'bucket', 'data-kind': kind, 'data-bucket': name,
      'aria-current': current ? 'true' : null, onclick: () => openBucket(kind, name) },
    el('span', { class: 'bname', text: name }), el('span', { class: 'binfo muted', text: info })));
}

async function loadBucketList(kind) {
  const list = $(`${kind}-buckets`);
  let names;
  try {
    names = await apiJson('GET', `/v1/${kind}m/buckets`);
  } catch (e) {
    list.replaceChildren(el('li', { class: 'muted', text: `${e.problem.status} ${e.problem.title}` }));
    throw e;
  }
  const items = await Promise.all(names.sort().map(async (n) => {
    try { return bucketItem(kind, n, await apiJson('GET', bpath(kind, n))); }
    catch (e) { return bucketItem(kind, n, null, e); }
  }));
  list.replaceChildren(...(items.length ? items : [el('li', { class: 'muted', text: 'none' })]));
}
const loadBuckets = guard(async () => {
  const r = await Promise.allSettled([loadBucketList('kv'), loadBucketList('obj')]);
  const bad = r.find((x) => x.status === 'rejected');
  if (bad) throw bad.reason;
});
$('refresh-buckets').addEventListener('click', loadBuckets);

$('bucket-create-form').addEventListener('submit', guard(async (ev) => {
  ev.preventDefault();
  const kind = $('nb-kind').value, name = $('nb-name').value.trim();
  const cfg = {};
  if ($('nb-history').value && kind === 'kv') cfg.history = Number($('nb-history').value);
  if ($('nb-ttl').value.trim()) cfg.ttl = $('nb-ttl').value.trim();
  if ($('nb-description').value) cfg.description = $('nb-description').value;
  await api('POST', bpath(kind, name), { body: JSON.stringify(cfg), headers: { 'Content-Type': 'application/json' } });
  $('bucket-create-form').reset();
  $('new-bucket').open = false;
  await loadBuckets();
  await openBucket(kind, name);
}));

async function openBucket(kind, name) {
  stopLive();
  Object.assign(state, { kind, bucket: name, key: null, entry: null });
  for (const b of document.querySelectorAll('.bucket')) {
    b.setAttribute('aria-current', b.dataset.kind === kind && b.dataset.bucket === name ? 'true' : 'false');
  }
  $('welcome').hidden = true;
  $('bucket-view').hidden = false;
  $('bucket-title').textContent = `${kind === 'kv' ? 'KV' : 'Objects'}: ${name}`;
  $('tab-browse').hidden = kind !== 'kv';
  $('tab-objects').hidden = kind !== 'obj';
  $('value-pane').hidden = true;
  $('object-info').hidden = true;
  $('live-list').replaceChildren();
  $('uploads').replaceChildren();
  $('prefix').value = '';
  $('live-filter').placeholder = kind === 'kv' ? 'NATS subject filter, e.g. feature.*' : 'object name filter';
  await showView(kind === 'kv' ? 'browse' : 'objects');
}

async function showView(view) {
  state.view = view;
  for (const t of document.querySelectorAll('[role=tab]')) {
    const on = t.dataset.view === view;
    t.setAttribute('aria-selected', on ? 'true' : 'false');
    t.tabIndex = on ? 0 : -1;
    $(`view-${t.dataset.view}`).hidden = !on;
  }
  if (view !== 'live') stopLive();
  if (view === 'browse') await guard(loadKeys)();
  if (view === 'objects') await guard(loadObjects)();
  if (view === 'settings') await guard(loadSettings)();
}
for (const t of document.querySelectorAll('[role=tab]')) t.addEventListener('click', () => showView(t.dataset.view));
$('tabs').addEventListener('keydown', (ev) => {
  if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
  const tabs = [...document.querySelectorAll('[role=tab]')].filter((t) => !t.hidden);
  const i = tabs.indexOf(document.activeElement);
  const next = tabs[(i + (ev.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
  next.focus();
  showView(next.dataset.view);
});

// --- settings ----------------------------------------------------------------
async function loadSettings() {
  const s = await apiJson('GET', bpath(state.kind, state.bucket));
  const dl = $('bucket-status');
  dl.replaceChildren();
  for (const [k, v] of Object.entries(s)) {
    let text = typeof v === 'object' ? JSON.stringify(v) : String(v);
    if (k === 'ttl') text = fmtNs(v);
    if (k === 'bytes' || k === 'size') text = fmtBytes(v);
    dl.append(el('dt', { text: k }), el('dd', { text }));
  }
  $('ub-history').disabled = state.kind !== 'kv';
  $('ub-history').value = s.history ?? '';
  $('ub-ttl').value = s.ttl ? fmtNs(s.ttl) : '';
  $('ub-max-bytes').value = s.max_bytes ?? '';
  $('ub-description').value = s.description ?? '';
}
$('bucket-update-form').addEventListener('submit', guard(async (ev) => {
  ev.preventDefault();
  const cfg = { description: $('ub-description').value };
  if (state.kind === 'kv' && $('ub-history').value) cfg.history = Number($('ub-history').value);
  cfg.ttl = $('ub-ttl').value.trim() || 0;
  if ($('ub-max-bytes').value !== '') cfg.max_bytes = Number($('ub-max-bytes').value);
  await api('PUT', bpath(state.kind, state.bucket), { body: JSON.stringify(cfg), headers: { 'Content-Type': 'application/json' } });
  await loadSettings();
  await loadBuckets();
}));
$('bucket-delete').addEventListener('click', guard(async () => {
  if (!window.confirm(`Delete the bucket ${state.bucket} and everything in it?`)) return;
  await api('DELETE', bpath(state.kind, state.bucket));
  stopLive();
  Object.assign(state, { kind: null, bucket: null });
  $('bucket-view').hidden = true;
  $('welcome').hidden = false;
  await loadBuckets();
}));

// --- keys --------------------------------------------------------------------
// A tree of the keys, split after every '/' and '.'.
function buildTree(keys) {
  const root = new Map();
  for (const k of keys) {
    const parts = k.match(/[^/.]+[/.]?|[/.]/g) || [k];
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      if (!node.has(parts[i]) || !(node.get(parts[i]) instanceof Map)) {
        const prev = node.get(parts[i]);
        const m = new Map();
        if (typeof prev === 'string') m.set('', prev);
        node.set(parts[i], m);
      }
      node = node.get(parts[i]);
    }
    const last = parts[parts.length - 1];
    if (node.get(last) instanceof Map) node.get(last).set('', k);
    else node.set(last, k);
  }
  return root;
}
function renderTree(node, prefix) {
  const items = [];
  for (const [part, v] of [...node.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (v instanceof Map) {
      const d = el('details', { open: node.size < 30 || null },
        el('summary', { text: part, 'data-prefix': prefix + part }),
        el('ul', { role: 'group' }, ...renderTree(v, prefix + part)));
      items.push(el('li', { role: 'treeitem' }, d));
    } else {
      items.push(el('li', { role: 'treeitem' },
        el('button', { type: 'button', class: 'key', 'data-key': v, text: part || v,
          'aria-current': v === state.key ? 'true' : null, onclick: guard(() => openKey(v)) })));
    }
  }
  return items;
}
async function loadKeys() {
  const prefix = $('prefix').value;
  const q = prefix ? `?prefix=${encodeURIComponent(prefix)}` : '';
  const keys = await apiJson('GET', `${bpath('kv', state.bucket)}/keys${q}`);
  $('key-count').textContent = `${keys.length} key${keys.length === 1 ? '' : 's'}${prefix ? ` under ${prefix}` : ''}`;
  $('key-tree').replaceChildren(...renderTree(buildTree(keys.sort()), ''));
}
$('prefix-form').addEventListener('submit', guard(async (ev) => { ev.preventDefault(); await loadKeys(); }));

$('key-create-form').addEventListener('submit', guard(async (ev) => {
  ev.preventDefault();
  const k = $('nk-key').value.trim();
  await api('POST', kpath(state.bucket, k), { body: $('nk-value').value });
  $('key-create-form').reset();
  $('new-key').open = false;
  await loadKeys();
  await openKey(k);
}));

function b64bytes(s) {
  if (!s) return new Uint8Array();
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function hexDump(bytes) {
  const lines = [];
  for (let o = 0; o < bytes.length; o += 16) {
    const row = bytes.subarray(o, o + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const asc = [...row].map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${o.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${asc}`);
  }
  return lines.join('\n');
}
const decodeText = (bytes) => new TextDecoder().decode(bytes);
function renderValue() {
  const fmt = document.querySelector('input[name=fmt]:checked').value;
  const bytes = state.bytes || new Uint8Array();
  let text = decodeText(bytes);
  if (fmt === 'hex') text = hexDump(bytes);
  if (fmt === 'json') {
    try { text = JSON.stringify(JSON.parse(text), null, 2); }
    catch (e) { text = `(not JSON: ${e.message})\n${text}`; }
  }
  $('value-view').textContent = text;
}
for (const r of document.querySelectorAll('input[name=fmt]')) r.addEventListener('change', renderValue);

function renderMeta(e) {
  const dl = $('value-meta');
  dl.replaceChildren();
  for (const [k, v] of [['revision', e.revision], ['operation', e.operation], ['time', fmtTime(e.created)],
    ['size', fmtBytes(state.bytes.length)]]) dl.append(el('dt', { text: k }), el('dd', { text: String(v), 'data-meta': k }));
}

async function openKey(k) {
  state.key = k;
  $('conflict').hidden = true;
  for (const b of document.querySelectorAll('.key')) b.setAttribute('aria-current', b.dataset.key === k ? 'true' : 'false');
  const e = await apiJson('GET', kpath(state.bucket, k));
  state.entry = e;
  state.baseRev = e.revision;
  state.bytes = b64bytes(e.value);
  $('value-pane').hidden = false;
  $('value-key').textContent = k;
  renderMeta(e);
  renderValue();
  $('editor').value = decodeText(state.bytes);
  await loadHistory();
}
async function loadHistory() {
  const list = await apiJson('GET', `${kpath(state.bucket, state.key)}?history=true`);
  $('history').replaceChildren(...list.reverse().map((h) => el('tr', {},
    el('td', { text: String(h.revision) }), el('td', { text: h.operation }),
    el('td', { text: fmtTime(h.created) }),
    el('td', { class: 'mono clip', text: h.operation === 'PUT' ? decodeText(b64bytes(h.value)) : '' }))));
}

$('edit-form').addEventListener('submit', guard(async (ev) => {
  ev.preventDefault();
  const r = await api('PUT', kpath(state.bucket, state.key), {
    body: $('editor').value, headers: { 'If-Match': `"${state.baseRev}"` }, ok: [412, 409],
  });
  if (r.status === 412 || r.status === 409) {
    const p = (await toProblem(r.status, r.statusText, await r.text())).problem;
    let cur = null;
    try { cur = await apiJson('GET', kpath(state.bucket, state.key)); } catch { /* deleted */ }
    const box = $('conflict');
    box.replaceChildren(
      el('strong', { text: `Not saved: ${p.title}` }),
      el('p', { text: `${p.detail}${/[.!?]$/.test(p.detail) ? '' : '.'} Your edit was based on revision ${state.baseRev}; ` +
        `${cur ? `the key is now at revision ${cur.revision} (${cur.operation}).` : 'the key is gone.'} ` +
        'Your text is still in the editor; nothing was overwritten.' }),
      cur ? el('pre', { class: 'view', text: decodeText(b64bytes(cur.value)) }) : null,
      cur ? el('button', { type: 'button', id: 'conflict-rebase', text: `Base my edit on revision ${cur.revision}`,
        onclick: () => { state.baseRev = cur.revision; box.hidden = true; $('editor').focus(); } }) : null,
      el('button', { type: 'button', id: 'conflict-reload', text: 'Discard my edit and load the current value',
        onclick: guard(() => openKey(state.key)) }));
    box.hidden = false;
    return;
  }
  await openKey(state.key);
}));
$('delete-key').addEventListener('click', guard(async () => {
  if (!window.confirm(`Delete ${state.key}? (a delete marker; history is kept)`)) return;
  await api('DELETE', kpath(state.bucket, state.key));
  await loadKeys();
  await openKey(state.key).catch(() => { $('value-pane').hidden = true; });
}));
$('purge-key').addEventListener('click', guard(async () => {
  if (!window.confirm(`Purge ${state.key} and its whole history?`)) return;
  await api('DELETE', `${kpath(state.bucket, state.key)}?purge=true`);
  await loadKeys();
  await openKey(state.key).catch(() => { $('value-pane').hidden = true; });
}));

// --- objects -----------------------------------------------------------------
async function loadObjects() {
  const list = await apiJson('GET', `${bpath('obj', state.bucket)}/keys`);
  $('object-list').replaceChildren(...list.map((o) => {
    const link = o.options && o.options.link;
    return el('tr', { 'data-name': o.name },
      el('td', { class: 'mono' }, o.name, link ? el('span', { class: 'muted', text: ` → ${link.bucket}${link.name ? `/${link.name}` : ''}` }) : null),
      el('td', { text: link ? 'link' : fmtBytes(o.size) }),
      el('td', { text: fmtTime(o.mtime) }),
      el('td', { class: 'actions' },
        el('button', { type: 'button', class: 'download', text: 'Download', onclick: guard(() => download(o.name)) }),
        el('button', { type: 'button', class: 'info', text: 'Info', onclick: () => showObject(o) }),
        el('button', { type: 'button', class: 'delete danger', text: 'Delete', onclick: guard(() => deleteObject(o.name)) })));
  }));
  if (!list.length) $('object-list').append(el('tr', {}, el('td', { colspan: 4, class: 'muted', text: 'no objects' })));
}
function showObject(o) {
  state.key = o.name;
  $('object-info').hidden = false;
  $('object-name').textContent = o.name;
  $('object-meta').textContent = JSON.stringify(o, null, 2);
  $('link-name').value = '';
  $('object-meta').focus();
}
async function download(name) {
  const r = await api('GET', opath(state.bucket, name));
  const url = URL.createObjectURL(await r.blob());
  const a = el('a', { href: url, download: name.split('/').pop() });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
async function deleteObject(name) {
  if (!window.confirm(`Delete the object ${name}?`)) return;
  await api('DELETE', opath(state.bucket, name));
  if (state.key === name) $('object-info').hidden = true;
  await loadObjects();
  await loadBuckets();
}
$('link-form').addEventListener('submit', guard(async (ev) => {
  ev.preventDefault();
  const body = JSON.stringify({ bucket: state.bucket, name: state.key });
  await api('PUT', `${bpath('obj', state.bucket)}/links/${seg($('link-name').value.trim())}`,
    { body, headers: { 'Content-Type': 'application/json' } });
  $('link-name').value = '';
  await loadObjects();
}));

// Uploads with XMLHttpRequest: fetch() has no upload progress.
function upload(file, name) {
  const bar = el('progress', { max: 100, value: 0 });
  const pct = el('span', { class: 'pct', text: '0%' });
  const item = el('li', { 'data-upload': name }, el('span', { class: 'mono clip', text: name }), bar, pct);
  $('uploads').append(item);
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', opath(state.bucket, name));
    authHeaders({ 'Content-Type': file.type || 'application/octet-stream' }).forEach((v, k) => xhr.setRequestHeader(k, v));
    xhr.upload.onprogress = (ev) => {
      if (!ev.lengthComputable) return;
      const p = Math.floor((ev.loaded / ev.total) * 100);
      bar.value = p;
      pct.textContent = `${p}%`;
    };
    xhr.onload = async () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        bar.value = 100;
        pct.textContent = 'done';
        item.classList.add('done');
      } else {
        pct.textContent = `failed (${xhr.status})`;
        item.classList.add('failed');
        showError(await toProblem(xhr.status, xhr.statusText, xhr.responseText));
      }
      resolve();
    };
    xhr.onerror = () => {
      pct.textContent = 'failed';
      item.classList.add('failed');
      showError({ problem: { status: 0, title: 'Network error', detail: `upload of ${name} failed` } });
      resolve();
    };
    xhr.send(file);
  });
}
async function uploadFiles(files) {
  const list = [...files];
  const one = $('upload-name').value.trim();
  await Promise.all(list.map((f) => upload(f, list.length === 1 && one ? one : f.name)));
  $('upload-name').value = '';
  await guard(loadObjects)();
  await loadBuckets();
}
$('file-input').addEventListener('change', () => { uploadFiles($('file-input').files); $('file-input').value = ''; });
const dz = $('dropzone');
dz.addEventListener('dragover', (ev) => { ev.preventDefault(); dz.classList.add('over'); });
dz.addEventListener('dragleave', () => dz.classList.remove('over'));
dz.addEventListener('drop', (ev) => {
  ev.preventDefault();
  dz.classList.remove('over');
  if (ev.dataTransfer && ev.dataTransfer.files.length) uploadFiles(ev.dataTransfer.files);
});
dz.addEventListener('keydown', (ev) => {
  if (ev.target === dz && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); $('file-input').click(); }
});

// --- live view: SSE read with fetch() so the token stays in a header ------------
function setLiveState(s) { $('live-state').textContent = s; }
function stopLive() {
  clearTimeout(live.retry);
  live.retry = null;
  if (live.ctrl) live.ctrl.abort();
  live.ctrl = null;
  setLiveState('stopped');
}
function liveRow(d) {
  const e = JSON.parse(d.data);
  const id = d.id || String(e.revision);
  if (live.seen.has(id)) return; // never twice, even across a resume
  live.seen.add(id);
  const name = e.key ?? e.name ?? '';
  let value = '';
  if (state.kind === 'kv' && e.value !== undefined) value = decodeText(b64bytes(e.value));
  else if (state.kind === 'obj') value = e.deleted ? '' : fmtBytes(e.size);
  const op = e.operation || (e.deleted ? 'DEL' : 'PUT');
  const tr = el('tr', { 'data-rev': id, class: `op-${op}` },
    el('td', { text: id }), el('td', { text: op }), el('td', { class: 'mono clip', text: name }),
    el('td', { class: 'mono clip', text: value }), el('td', { class: 'clip', text: fmtTime(e.created || e.mtime) }));
  const list = $('live-list');
  list.prepend(tr);
  while (list.childElementCount > 500) list.lastElementChild.remove();
}
async function readSse(r, signal) {
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = '', ev = { data: [], event: '', id: '' };
  while (!signal.aborted) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let nl;
    while ((nl = buf.search(/\r?\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf[nl] === '\r' ? 2 : 1));
      if (line === '') {
        if (ev.data.length) handleEvent({ event: ev.event || 'message', id: ev.id, data: ev.data.join('\n') });
        ev = { data: [], event: '', id: '' };
        continue;
      }
      if (line[0] === ':') continue;
      const c = line.indexOf(':');
      const f = c < 0 ? line : line.slice(0, c);
      const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
      if (f === 'data') ev.data.push(v);
      else if (f === 'event') ev.event = v;
      else if (f === 'id') { ev.id = v; }
    }
  }
}
function handleEvent(d) {
  if (d.event === 'message') {
    if (d.id) live.lastId = d.id;
    liveRow(d);
  } else if (d.event === 'synced') {
    setLiveState('live');
  } else if (d.event === 'reset' || d.event === 'overflow') {
    setLiveState(`${d.event}: resuming`);
  }
}
async function runLive(ctrl) {
  const q = new URLSearchParams();
  const f = $('live-filter').value.trim();
  if (f) q.append('filter', f);
  const headers = { Accept: 'text/event-stream' };
  if (live.lastId) headers['Last-Event-ID'] = live.lastId;
  try {
    setLiveState(live.lastId ? `resuming after ${live.lastId}` : 'connecting');
    const qs = q.toString();
    const r = await api('GET', `${bpath(state.kind, state.bucket)}/watch${qs ? `?${qs}` : ''}`,
      { headers, signal: ctrl.signal });
    if (!live.lastId) setLiveState('loading');
    else setLiveState('live');
    await readSse(r, ctrl.signal);
  } catch (e) {
    if (ctrl.signal.aborted) return;
    if (e.problem && e.problem.status >= 400 && e.problem.status < 500) {
      showError(e);
      setLiveState('stopped');
      live.ctrl = null;
      return;
    }
  }
  if (ctrl.signal.aborted) return;
  setLiveState(`disconnected; resuming after ${live.lastId || 'start'}`);
  live.retry = setTimeout(() => { if (live.ctrl === ctrl) runLive(ctrl); }, 1000);
}
function startLive() {
  stopLive();
  live.lastId = null;
  live.seen = new Set();
  $('live-list').replaceChildren();
  live.ctrl = new AbortController();
  runLive(live.ctrl);
}
$('live-form').addEventListener('submit', (ev) => { ev.preventDefault(); startLive(); });
$('live-stop').addEventListener('click', stopLive);

// --- start -------------------------------------------------------------------
showTokenState();
loadBuckets();
