// eio_client.test.mjs: the official Engine.IO client (`engine.io-client`,
// Node build) against the gateway and the echo worker: default transports
// with upgrade, websocket only, polling only, many concurrent clients, and
// close.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'engine.io-client';
import {
  REF, startStack, get, eio, deadline, waitUntil, EIO_PATH, fixtures, assertGatewaysAlive,
} from '../lib/harness.mjs';

const T = { timeout: 30000 };

const fx = fixtures();
const stack = fx.lazy(() => startStack(['--ping-interval', '25000', '--ping-timeout', '20000']));
const sockets = new Set();
after(async () => {
  for (const s of sockets) s.close();
  await fx.stopAll();
});

/*
 * A client socket with an awaitable queue of received messages.  Binary
 * messages arrive as Buffer (Node) or ArrayBuffer; next() normalises them
 * to Buffer.
 */
function client(url, opts = {}) {
  const s = new Socket(url, { path: EIO_PATH, ...opts });
  sockets.add(s);
  const queue = [];
  const wakers = new Set();
  const notify = () => { for (const w of [...wakers]) w(); };
  let closeReason = null;
  s.on('message', (d) => { queue.push(d); notify(); });
  s.on('close', (reason, desc) => { closeReason = { reason, desc }; sockets.delete(s); notify(); });
  s.on('error', () => { /* reported through close */ });
  const wait = (fn, ms, what) => deadline(new Promise((resolve, reject) => {
    const check = () => {
      let r;
      try { r = fn(); } catch (e) { wakers.delete(check); reject(e); return; }
      if (r !== undefined) { wakers.delete(check); resolve(r); }
    };
    wakers.add(check);
    check();
  }), ms, what).finally(() => { /* waker removed on resolve */ });
  return {
    s,
    opened: (ms = 5000) => deadline(new Promise((resolve, reject) => {
      if (s.readyState === 'open') { resolve(); return; }
      s.once('open', resolve);
      s.once('close', (r) => reject(new Error(`closed before open: ${r}`)));
    }), ms, 'open'),
    upgraded: (ms = 5000) => deadline(new Promise((resolve, reject) => {
      if (s.transport && s.transport.name === 'websocket') { resolve(); return; }
      s.once('upgrade', resolve);
      s.once('upgradeError', (e) => reject(new Error(`upgrade failed: ${e.message}`)));
    }), ms, 'upgrade'),
    async next(ms = 5000) {
      const d = await wait(() => {
        if (queue.length) return queue.shift();
        if (closeReason) throw new Error(`socket closed (${closeReason.reason}) while waiting for a message`);
        return undefined;
      }, ms, 'a message');
      if (typeof d === 'string') return d;
      return Buffer.from(d instanceof ArrayBuffer ? new Uint8Array(d) : d);
    },
    closed: (ms = 5000) => wait(() => closeReason ?? undefined, ms, 'close'),
  };
}

/* Wait until the gateway no longer knows sid (GET -> 400 code 1). */
async function sessionGone(port, sid) {
  await waitUntil(async () => {
    const r = await get(port, eio(`sid=${sid}`));
    return r.status === 400 && JSON.parse(r.body).code === 1;
  }, 5000, `session ${sid} to be gone`);
}

test('default transports: polling, then upgrade to websocket; text and binary echo', T, async () => {
  const { url } = await stack();
  const c = client(url);
  try {
    await c.opened();
    assert.equal(c.s.transport.name, 'polling');
    c.s.send('before upgrade');
    assert.equal(await c.next(), 'before upgrade');
    await c.upgraded();
    assert.equal(c.s.transport.name, 'websocket');
    c.s.send('hello');
    assert.equal(await c.next(), 'hello');
    c.s.send(Buffer.from([1, 2, 3, 4]));
    assert.deepEqual(await c.next(), Buffer.from([1, 2, 3, 4]));
    c.s.send(Uint8Array.from([255, 0, 128]));
    assert.deepEqual(await c.next(), Buffer.from([255, 0, 128]));
    c.s.send('héllo ✓ 😀');
    assert.equal(await c.next(), 'héllo ✓ 😀');
  } finally {
    c.s.close();
  }
});

test('websocket only', T, async () => {
  const { url } = await stack();
  const c = client(url, { transports: ['websocket'] });
  try {
    await c.opened();
    assert.equal(c.s.transport.name, 'websocket');
    c.s.send('ws text');
    assert.equal(await c.next(), 'ws text');
    c.s.send(Buffer.from('binary bytes'));
    assert.deepEqual(await c.next(), Buffer.from('binary bytes'));
  } finally {
    c.s.close();
  }
});

test('polling only: a burst of 200 messages comes back in order', T, async () => {
  const { url } = await stack();
  const c = client(url, { transports: ['polling'] });
  try {
    await c.opened();
    assert.equal(c.s.transport.name, 'polling');
    for (let i = 0; i < 200; i++) c.s.send(i % 10 === 9 ? Buffer.from([i]) : `burst ${i}`);
    for (let i = 0; i < 200; i++) {
      const m = await c.next();
      if (i % 10 === 9) assert.deepEqual(m, Buffer.from([i]));
      else assert.equal(m, `burst ${i}`);
    }
    assert.equal(c.s.transport.name, 'polling');
  } finally {
    c.s.close();
  }
});

test('50 concurrent clients each echo 20 messages in order', T, async () => {
  const { url } = await stack();
  const N = 50;
  const M = 20;
  const clients = [];
  for (let i = 0; i < N; i++) clients.push(client(url));
  try {
    await Promise.all(clients.map((c) => c.opened(15000)));
    await Promise.all(clients.map(async (c, i) => {
      for (let j = 0; j < M; j++) c.s.send(`c${i}-m${j}`);
      for (let j = 0; j < M; j++) assert.equal(await c.next(15000), `c${i}-m${j}`);
    }));
    const sids = new Set(clients.map((c) => c.s.id));
    assert.equal(sids.size, N, 'every client has its own sid');
  } finally {
    for (const c of clients) c.s.close();
  }
});

test('client close (websocket): the session is gone on the gateway', T, async () => {
  const { url, port } = await stack();
  const c = client(url, { transports: ['websocket'] });
  await c.opened();
  const sid = c.s.id;
  c.s.send('x');
  assert.equal(await c.next(), 'x');
  c.s.close();
  await c.closed();
  await sessionGone(port, sid);
});

test('client close (polling): the session is gone on the gateway', T, async () => {
  const { url, port } = await stack();
  const c = client(url, { transports: ['polling'] });
  await c.opened();
  const sid = c.s.id;
  c.s.close();
  await c.closed();
  await sessionGone(port, sid);
});

test('client close after upgrade: the session is gone on the gateway', T, async () => {
  const { url, port } = await stack();
  const c = client(url);
  await c.opened();
  await c.upgraded();
  const sid = c.s.id;
  c.s.close();
  await c.closed();
  await sessionGone(port, sid);
});

test('the gateway survived every case above', { ...T, skip: REF && 'reference server' }, async () => {
  await assertGatewaysAlive(fx);
});
