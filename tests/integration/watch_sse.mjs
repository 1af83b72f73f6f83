// Server-Sent Events client for the watch tests: a raw HTTP GET whose body
// is parsed as it arrives, so a test can look at every field, comment and
// byte, pause reading (a slow client) and cut the connection.

import http from 'node:http';

/**
 * Opens base + path with the given request headers (and, optionally, from
 * localAddress, e.g. 127.0.0.2).
 * Resolves once the response headers are in: {status, headers, events,
 * comments, raw(), next(pred, ms), waitEvents(pred, ms), ended, pause(),
 * resume(), close(), body (for non-200: the whole body text)}.
 * events: [{event, id, data, json}] in order (event 'message' when unnamed).
 */
export function openSse(base, path, { headers = {}, timeoutMs = 10000, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const opts = { headers: { Accept: 'text/event-stream', ...headers } };
    if (localAddress) {
      opts.localAddress = localAddress; // another client address on the loopback net
      opts.agent = false;
    }
    const req = http.get(base + path, opts);
    const timer = setTimeout(() => { req.destroy(new Error(`no response headers for ${path}`)); }, timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    req.on('response', (res) => {
      clearTimeout(timer);
      const s = {
        status: res.statusCode,
        headers: res.headers,
        events: [],
        comments: [],
        retry: [],
        chunks: [],
        ended: false,
        error: null,
        waiters: [],
        body: '',
        raw() { return this.chunks.join(''); },
        pause() { res.pause(); },
        resume() { res.resume(); },
        close() { req.destroy(); res.destroy(); },
        /** Resolves the first event (at index >= from) matching pred. */
        next(pred = () => true, ms = 10000, from = 0) {
          return this.waitEvents((evs) => {
            for (let i = from; i < evs.length; i++) if (pred(evs[i])) return evs[i];
            return null;
          }, ms, 'matching event');
        },
        /** Resolves fn(events) once it is truthy; rejects after ms. */
        waitEvents(fn, ms = 10000, what = 'events') {
          return new Promise((res2, rej2) => {
            const check = () => {
              let v;
              try { v = fn(this.events, this); } catch (e) { rej2(e); return true; }
              if (v) { res2(v); return true; }
              if (this.ended) {
                rej2(new Error(`stream ended while waiting for ${what}; got ${this.events.length} events: ${JSON.stringify(this.events.slice(-5))}`));
                return true;
              }
              return false;
            };
            if (check()) return;
            const w = { check, timer: null };
            w.timer = setTimeout(() => {
              this.waiters = this.waiters.filter((x) => x !== w);
              rej2(new Error(`timed out after ${ms} ms waiting for ${what}; got ${this.events.length} events, last: ${JSON.stringify(this.events.slice(-3))}`));
            }, ms);
            this.waiters.push(w);
          });
        },
        endedPromise: null,
      };
      let buf = '';
      let cur = { data: [], event: null, id: null };
      const poke = () => {
        s.waiters = s.waiters.filter((w) => {
          if (w.check()) { clearTimeout(w.timer); return false; }
          return true;
        });
      };
      s.endedPromise = new Promise((resEnd) => {
        res.on('end', () => { s.ended = true; poke(); resEnd(); });
        res.on('error', (e) => { s.error = e; s.ended = true; poke(); resEnd(); });
        res.on('close', () => { s.ended = true; poke(); resEnd(); });
      });
      res.setEncoding('utf8');
      if (res.statusCode !== 200 || !/text\/event-stream/.test(res.headers['content-type'] || '')) {
        res.on('data', (d) => { s.body += d; });
        res.on('end', () => {
          try { s.json = JSON.parse(s.body); } catch { /* not JSON */ }
          resolve(s);
        });
        return;
      }
      res.on('data', (d) => {
        s.chunks.push(d);
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).replace(/\r$/, '');
          buf = buf.slice(i + 1);
          if (line === '') {
            if (cur.data.length || cur.event || cur.id !== null) {
              const data = cur.data.join('\n');
              let json;
              try { json = JSON.parse(data); } catch { json = undefined; }
              s.events.push({ event: cur.event || 'message', id: cur.id, data, json });
            }
            cur = { data: [], event: null, id: null };
            continue;
          }
          if (line.startsWith(':')) { s.comments.push(line.slice(1).trim()); continue; }
          const c = line.indexOf(':');
          const field = c < 0 ? line : line.slice(0, c);
          let value = c < 0 ? '' : line.slice(c + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'data') cur.data.push(value);
          else if (field === 'event') cur.event = value;
          else if (field === 'id') cur.id = value;
          else if (field === 'retry') s.retry.push(value);
        }
        poke();
      });
      resolve(s);
    });
  });
}

/** Entries (unnamed events) of a stream, as parsed JSON. */
export function entries(s) {
  return s.events.filter((e) => e.event === 'message').map((e) => e.json);
}

/** The revisions of a stream's entries. */
export function revs(s) {
  return entries(s).map((e) => e.revision);
}
