// harness.mjs: helpers for the integration tests in tests/integ/.
//
// Every test file starts its own gateway (the binary named by $SIOGATE) on a
// private port and a private ipc:// bridge, plus the echo worker
// ($ECHO_WORKER), and tears them down in after().  With SIOGATE_REF=1 the
// Node reference server (lib/ref-server.mjs, the `engine.io` package) is
// started instead and the worker is a no-op, to check that a test asserts
// real Engine.IO behaviour; tests of siogate-only features skip themselves
// there (see `sgOnly`).
//
// Every wait has a deadline; nothing here sleeps to synchronise.  `sleep` is
// exported only for tests that are about time passing (heartbeats).
import { spawn } from 'node:child_process';
import net from 'node:net';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));

export const REF = process.env.SIOGATE_REF === '1';
/** Test option: skip a siogate-specific test when running against the reference server. */
export const sgOnly = REF ? { skip: 'siogate-specific (not run against the reference server)' } : {};
export const EIO_PATH = '/engine.io/';

const children = new Set();
let seq = 0;

process.on('exit', () => {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/** Resolve after ms milliseconds (only for tests about time passing). */
/* A free TCP port on 127.0.0.1 right now (the caller binds it next). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Race a promise against a deadline; rejects with `what` in the message. */
export function deadline(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/** Poll `fn` (async, returns truthy when done) until it succeeds or ms pass. */
export async function waitUntil(fn, ms, what, every = 25) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

/*
 * The one "spawn and wait for a log line" of the Node tests: a child process
 * whose stderr (and stdout) lines are collected in `logs`.
 * waitLog(re, ms, since) resolves with the match of the first line at index
 * >= since matching re; waitLogs(re, n, ms, since) with the first n matches.
 * Both reject after ms, or as soon as the process exits without the line,
 * with an error that names the process and holds its whole output.
 * stop(ms) is SIGTERM, then SIGKILL after ms; kill() is SIGKILL; both
 * resolve with {code, signal} (exitP), and stop() copies the output to
 * stderr (the test's .log file).
 */
export function spawnLogged(cmd, args, name) {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  const logs = [];
  const waiters = new Set();
  let exited = null;
  let stopped = false;
  let exitResolve;
  const exitP = new Promise((resolve) => {
    exitResolve = resolve;
    proc.on('exit', (code, signal) => {
      exited = { code, signal };
      children.delete(proc);
      for (const w of waiters) w.check(true);
      resolve(exited);
    });
  });
  proc.on('error', (e) => {
    logs.push(`${name}: spawn error: ${e.message}`);
    exited = exited || { code: null, signal: null, error: e.message };
    children.delete(proc);
    for (const w of waiters) w.check(true);
    exitResolve(exited);
  });
  for (const stream of [proc.stderr, proc.stdout]) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        logs.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        for (const w of waiters) w.check(false);
      }
    });
    stream.on('end', () => { if (buf) { logs.push(buf); buf = ''; } });
  }

  function waitLogs(re, n, ms = 5000, since = 0) {
    const what = n === 1 ? `${re}` : `${n} lines ${re}`;
    return new Promise((resolve, reject) => {
      const hits = [];
      const w = {
        check(dead) {
          for (let i = Math.max(since, w.pos); i < logs.length; i++) {
            const m = re.exec(logs[i]);
            if (m) hits.push(m);
            if (hits.length >= n) { done(); resolve(hits); return; }
          }
          w.pos = Math.max(since, logs.length);
          if (dead) {
            done();
            reject(new Error(`${name} exited (${JSON.stringify(exited)}) before logging ${what}; log:\n${logs.join('\n')}`));
          }
        },
        pos: 0,
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${name} to log ${what}; log:\n${logs.join('\n')}`));
      }, ms);
      function done() { clearTimeout(timer); waiters.delete(w); }
      waiters.add(w);
      w.check(exited !== null);
    });
  }

  function waitLog(re, ms = 5000, since = 0) {
    return waitLogs(re, 1, ms, since).then((hits) => hits[0]);
  }

  /* SIGTERM, wait (bounded), then SIGKILL; resolves with {code, signal}. */
  async function stop(ms = 3000) {
    if (stopped) return exitP;
    stopped = true;
    const r = await stopProc(ms);
    // The log goes to stderr, i.e. into the automake .log file, never into
    // the TAP stream.
    process.stderr.write(`--- ${name} (pid ${proc.pid}) log, exit ${JSON.stringify(r)} ---\n` +
      `${logs.map((l) => `  ${l}\n`).join('')}`);
    return r;
  }

  async function stopProc(ms) {
    if (exited) return exited;
    proc.kill('SIGTERM');
    try {
      return await deadline(exitP, ms, `${name} to exit after SIGTERM`);
    } catch {
      proc.kill('SIGKILL');
      return deadline(exitP, 2000, `${name} to exit after SIGKILL`);
    }
  }

  return {
    proc, logs, waitLog, waitLogs, stop, name, exitP,
    kill() { if (!exited) proc.kill('SIGKILL'); return exitP; },
    /** index of the next log line, for waitLog(re, ms, h.mark()) */
    mark: () => logs.length,
    alive: () => exited === null,
    exited: () => exited,
  };
}

/**
 * Start the gateway on 127.0.0.1 with a fresh port and ipc bridge, plus
 * `args`.  Resolves to {port, url, wsUrl, bridge, proc, logs, waitLog, mark,
 * alive, stop}.
 */
export async function startGateway(args = [], opts = {}) {
  const n = ++seq;
  const bridge = `ipc:///tmp/siogate-test-${process.pid}-${n}.sock`;
  const listen = opts.listen || '127.0.0.1:0';
  let cmd;
  let argv;
  if (REF) {
    cmd = process.execPath;
    argv = [path.join(here, 'ref-server.mjs'), '--listen', listen, ...args];
  } else {
    cmd = process.env.SIOGATE;
    if (!cmd) throw new Error('SIOGATE is not set (path of the gateway binary)');
    argv = ['--listen', listen, '--bridge', bridge, '--engineio-path', EIO_PATH, ...args];
    // $SIOGATE_WRAPPER (e.g. "valgrind --error-exitcode=99 ...") runs the gateway under a tool.
    const wrap = (process.env.SIOGATE_WRAPPER || '').split(/\s+/).filter(Boolean);
    if (wrap.length > 0) {
      argv = [...wrap.slice(1), cmd, ...argv];
      cmd = wrap[0];
    }
  }
  const h = spawnLogged(cmd, argv, REF ? 'ref-server' : 'siogate');
  const re = opts.listenRe || /listening on (?:http:\/\/)?127\.0\.0\.1:(\d+)/;
  const m = await h.waitLog(re, opts.startMs || 10000);
  const port = Number(m[1]);
  const stop = async () => {
    const r = await h.stop();
    try { fs.unlinkSync(bridge.slice('ipc://'.length)); } catch { /* not there */ }
    return r;
  };
  return {
    ...h, stop, port, bridge,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
  };
}

/**
 * Start the echo worker on `bridge` serving `eioPath`; resolves once it says
 * it registered.  A no-op against the reference server (which echoes itself).
 */
export async function startEchoWorker(bridge, eioPath = EIO_PATH) {
  if (REF) {
    return { logs: [], stop: async () => ({ code: 0 }), alive: () => true, waitLog: async () => null, mark: () => 0 };
  }
  const cmd = process.env.ECHO_WORKER;
  if (!cmd) throw new Error('ECHO_WORKER is not set (path of examples/echo/echo_worker)');
  const h = spawnLogged(cmd, ['-e', bridge, '-p', eioPath], 'echo_worker');
  await h.waitLog(/registered with gateway/, 10000);
  return h;
}

/** Start a gateway with `args` and an echo worker on it; stop() stops both. */
export async function startStack(args = [], opts = {}) {
  const gw = await startGateway(args, opts);
  let worker;
  try {
    worker = await startEchoWorker(gw.bridge);
  } catch (e) {
    await gw.stop();
    throw e;
  }
  return {
    gw, worker, port: gw.port, url: gw.url, wsUrl: gw.wsUrl,
    async stop() {
      await worker.stop();
      return gw.stop();
    },
  };
}

/** Engine.IO URL path+query on the test endpoint. */
export function eio(query = '') {
  return `${EIO_PATH}?EIO=4&transport=polling${query ? `&${query}` : ''}`;
}

/*
 * One HTTP request with node:http on a fresh connection (no pooling, so full
 * control of Host/Origin).  Resolves {status, headers, body (string), raw
 * (Buffer)}; rejects on a connection error or after ms.
 */
export function request(port, { method = 'GET', path: p = '/', headers = {}, body, ms = 5000 } = {}) {
  return deadline(new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: raw.toString('utf8'), raw });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  }), ms, `${method} ${p}`);
}

export const get = (port, p, opts = {}) => request(port, { ...opts, method: 'GET', path: p });
export const post = (port, p, body, opts = {}) => request(port, { ...opts, method: 'POST', path: p, body });

/** Open a polling session; resolves {sid, handshake (parsed), body}. */
export async function pollingHandshake(port, extraQuery = '') {
  const r = await get(port, eio(extraQuery));
  if (r.status !== 200 || r.body[0] !== '0') {
    throw new Error(`polling handshake failed: ${r.status} ${r.body}`);
  }
  const hs = JSON.parse(r.body.slice(1));
  return { sid: hs.sid, handshake: hs, body: r.body };
}

/*
 * Raw bytes over one TCP connection.  `httpRequest(port, bytes)` sends them,
 * and resolves with everything the server sent until it closed the
 * connection (or ms passed): {text, buf, closed, reset}.
 */
export function httpRequest(port, bytes, ms = 5000) {
  return new Promise((resolve) => {
    const chunks = [];
    let reset = false;
    let done = false;
    const sock = net.connect(port, '127.0.0.1');
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const buf = Buffer.concat(chunks);
      resolve({ text: buf.toString('latin1'), buf, closed, reset });
    };
    const timer = setTimeout(() => finish(false), ms);
    sock.on('connect', () => sock.write(bytes, () => { /* written */ }));
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (e) => { if (e.code === 'ECONNRESET' || e.code === 'EPIPE') reset = true; });
    sock.on('close', () => finish(true));
    sock.on('end', () => sock.end());
  });
}

/** Status code of a raw HTTP response text, or null. */
export function statusOf(text) {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return m ? Number(m[1]) : null;
}

/*
 * A raw TCP connection that reads HTTP/1.1 responses one at a time
 * (Content-Length or chunked bodies) and can then switch to WebSocket
 * framing.  Nothing that arrives is lost: bytes are buffered until read.
 */
export async function rawConn(port, ms = 5000) {
  const sock = net.connect(port, '127.0.0.1');
  await deadline(new Promise((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  }), ms, 'TCP connect');
  let buf = Buffer.alloc(0);
  let closed = false;
  const wakers = new Set();
  const notify = () => { for (const w of [...wakers]) w(); };
  sock.on('data', (c) => { buf = Buffer.concat([buf, c]); notify(); });
  sock.on('close', () => { closed = true; notify(); });
  sock.on('error', () => { /* seen as close */ });

  /* Wait until parse(buf) returns non-null, or the connection closes. */
  async function until(parse, ms2, what) {
    const end = Date.now() + ms2;
    for (;;) {
      const r = parse();
      if (r !== null) return r;
      if (closed) throw new Error(`connection closed while waiting for ${what}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms2} ms waiting for ${what}`);
      await new Promise((resolve) => {
        const w = () => { clearTimeout(t); wakers.delete(w); resolve(); };
        const t = setTimeout(w, left);
        wakers.add(w);
      });
    }
  }

  function parseResponse() {
    const he = buf.indexOf('\r\n\r\n');
    if (he < 0) return null;
    const head = buf.subarray(0, he).toString('latin1');
    const lines = head.split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1]);
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    let off = he + 4;
    let body;
    if (status === 101 || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
      const parts = [];
      for (;;) {
        const le = buf.indexOf('\r\n', off);
        if (le < 0) return null;
        const n = parseInt(buf.subarray(off, le).toString('latin1'), 16);
        if (buf.length < le + 2 + n + 2) return null;
        parts.push(buf.subarray(le + 2, le + 2 + n));
        off = le + 2 + n + 2;
        if (n === 0) break;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (buf.length < off + n) return null;
      body = buf.subarray(off, off + n);
      off += n;
    } else {
      /* body until close */
      if (!closed) return null;
      body = buf.subarray(off);
      off = buf.length;
    }
    buf = buf.subarray(off);
    return { status, headers, head, body: body.toString('utf8'), raw: body };
  }

  /* One server WebSocket frame (server frames are unmasked). */
  function parseFrame() {
    if (buf.length < 2) return null;
    const fin = (buf[0] & 0x80) !== 0;
    const opcode = buf[0] & 0x0f;
    const masked = (buf[1] & 0x80) !== 0;
    let len = buf[1] & 0x7f;
    let off = 2;
    if (len === 126) {
      if (buf.length < 4) return null;
      len = buf.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (buf.length < 10) return null;
      len = Number(buf.readBigUInt64BE(2));
      off = 10;
    }
    if (masked) off += 4;
    if (buf.length < off + len) return null;
    const payload = Buffer.from(buf.subarray(off, off + len));
    buf = buf.subarray(off + len);
    const f = { fin, opcode, masked, payload };
    if (opcode === 8) {
      f.code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
      f.reason = payload.subarray(2).toString('utf8');
    }
    return f;
  }

  return {
    sock,
    write: (b) => sock.write(b),
    readResponse: (ms2 = 5000) => until(parseResponse, ms2, 'an HTTP response'),
    readFrame: (ms2 = 5000) => until(parseFrame, ms2, 'a WebSocket frame'),
    /* resolves true once the server closed the connection */
    closed: (ms2 = 5000) => until(() => (closed ? true : null), ms2, 'the connection to close')
      .catch((e) => { if (closed) return true; throw e; }),
    isClosed: () => closed,
    destroy: () => sock.destroy(),
  };
}

/** Encode one client WebSocket frame; masked unless mask === false. */
export function wsFrame(opcode, payload, { fin = true, mask = true } = {}) {
  const data = Buffer.from(payload);
  const len = data.length;
  let head;
  if (len < 126) {
    head = Buffer.from([(fin ? 0x80 : 0) | opcode, (mask ? 0x80 : 0) | len]);
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = (mask ? 0x80 : 0) | 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = (mask ? 0x80 : 0) | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!mask) return Buffer.concat([head, data]);
  const key = crypto.randomBytes(4);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
}

/** The raw HTTP/1.1 upgrade request for `p` and its Sec-WebSocket-Key. */
export function wsUpgradeRequest(port, p, extraHeaders = '') {
  const key = crypto.randomBytes(16).toString('base64');
  const text = `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`;
  const accept = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  return { text, key, accept };
}

/*
 * A `ws` client with an awaitable message queue.  Every 'message' event is
 * pushed to `messages` as {data: string|Buffer, binary}, so frames arriving
 * in one TCP read are never lost.  closed(ms) resolves {code, reason} (or
 * {code: null, status} when the upgrade was refused with an HTTP status).
 */
export function openWs(url, wsOpts = {}) {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...wsOpts });
  const messages = [];
  const all = [];
  let pos = 0;
  let closeInfo = null;
  const wakers = new Set();
  const notify = () => { for (const w of [...wakers]) w(); };
  const openP = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('close', () => reject(new Error('websocket closed before open')));
    ws.once('error', reject);
  });
  openP.catch(() => { /* observed through opened() */ });
  ws.on('message', (data, isBinary) => {
    const m = { data: isBinary ? Buffer.from(data) : data.toString('utf8'), binary: isBinary };
    messages.push(m);
    all.push(m);
    notify();
  });
  ws.on('unexpected-response', (req, res) => {
    closeInfo = { code: null, status: res.statusCode, reason: '' };
    req.destroy();
    notify();
  });
  ws.on('error', (e) => { ws.lastError = e; });
  ws.on('close', (code, reason) => {
    if (!closeInfo) closeInfo = { code, reason: reason.toString() };
    notify();
  });
  ws.on('pong', (d) => { ws.lastPong = Buffer.from(d); notify(); });

  async function until(fn, ms, what) {
    const end = Date.now() + ms;
    for (;;) {
      const r = fn();
      if (r !== null && r !== undefined) return r;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise((resolve) => {
        const w = () => { clearTimeout(t); wakers.delete(w); resolve(); };
        const t = setTimeout(w, left);
        wakers.add(w);
      });
    }
  }

  return {
    ws,
    messages,
    /** every message ever received (messages is the unread queue) */
    all,
    opened: (ms = 5000) => deadline(openP, ms, 'websocket open'),
    /** next unread message; rejects if the socket closes first or after ms */
    nextMessage(ms = 5000) {
      return until(() => {
        if (pos < messages.length) return messages[pos++];
        if (closeInfo) throw new Error(`websocket closed (${JSON.stringify(closeInfo)}) while waiting for a message`);
        return null;
      }, ms, 'a websocket message');
    },
    /** next unread text message, as a string */
    async nextText(ms = 5000) {
      const m = await this.nextMessage(ms);
      if (m.binary) throw new Error(`expected a text message, got binary ${m.data.toString('hex')}`);
      return m.data;
    },
    pending: () => messages.length - pos,
    closed: (ms = 5000) => until(() => closeInfo, ms, 'the websocket to close'),
    isClosed: () => closeInfo !== null,
    pong: (ms = 5000) => until(() => ws.lastPong || null, ms, 'a pong'),
    send: (d, o) => ws.send(d, o),
    close: (code, reason) => ws.close(code, reason),
    terminate: () => ws.terminate(),
  };
}

/** Open a websocket Engine.IO session; resolves {c (openWs), sid, handshake}. */
export async function wsHandshake(wsUrl, query = '') {
  const c = openWs(`${wsUrl}${EIO_PATH}?EIO=4&transport=websocket${query ? `&${query}` : ''}`);
  const first = await c.nextText();
  if (first[0] !== '0') throw new Error(`expected an open packet, got ${first}`);
  const hs = JSON.parse(first.slice(1));
  return { c, sid: hs.sid, handshake: hs };
}

/*
 * Fixtures (gateways, stacks) started on first use and stopped together:
 *   const fx = fixtures(); const main = fx.lazy(() => startStack([...]));
 *   after(() => fx.stopAll());
 * fx.started() resolves every fixture started so far (for liveness checks).
 */
export function fixtures() {
  const started = [];
  return {
    lazy(fn) {
      let p = null;
      return () => {
        if (!p) {
          p = fn();
          p.catch(() => { /* reported by the test that awaited it */ });
          started.push(p);
        }
        return p;
      };
    },
    async stopAll() {
      for (const p of started) {
        try { await (await p).stop(); } catch { /* failed to start */ }
      }
    },
    async started() {
      const out = [];
      for (const p of started) {
        try { out.push(await p); } catch { /* failed to start */ }
      }
      return out;
    },
  };
}

/* Assert (with node:assert semantics, by throwing) that every gateway of fx is still running. */
export async function assertGatewaysAlive(fx) {
  for (const s of await fx.started()) {
    const g = s.gw || s;
    if (!g.alive()) {
      throw new Error(`gateway exited: ${JSON.stringify(g.exited())}\n${g.logs.join('\n')}`);
    }
  }
}
