// sio_recovery.test.mjs: connection state recovery (Socket.IO 4.6+ pid and
// offsets) with socket.io-client 4.8 and --recovery-window: kill the
// transport, emit meanwhile, and check that the client gets back its id,
// rooms and session data and every missed event once, in order, with
// socket.recovered; that the worker sees no disconnect/connect pair but a
// connect marked recovered; and that beyond the packet bound or the window
// the reconnect is a new socket, the worker being told (disconnect, lost).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { deadline, waitUntil, fixtures, assertGatewaysAlive, get } from '../lib/harness.mjs';
import { skipReason, startSioStack, Inbox, PY } from '../lib/sio_stack.mjs';
import { startProcess } from '../lib/browser.mjs';
import { startGateway } from '../lib/harness.mjs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcdir = process.env.TOP_SRCDIR || path.resolve(here, '..', '..');

const SKIP = skipReason();
const T = { timeout: 30000, skip: SKIP };

const fx = fixtures();
const stack = (window, max, extra = []) => fx.lazy(async () => {
  const st = await startSioStack(['--recovery-window', String(window), '--recovery-max-packets',
    String(max), '--metrics-listen', '127.0.0.1:0', ...extra], { wA: ['--nsp', '/,/chat'] }, 'SioR');
  const mm = await st.gw.waitLog(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/);
  st.metricsPort = Number(mm[1]);
  return st;
});
const main = stack(5000, 50);
const tight = stack(5000, 3);
const short = stack(300, 50);
const pinging = stack(5000, 50, ['--ping-interval', '200', '--ping-timeout', '1000']);

const clients = new Set();
after(async () => {
  for (const c of clients) c.close();
  await fx.stopAll();
});

/* A socket.io-client 4.8 socket that reconnects, with a queue of what it got. */
class Cli extends Inbox {
  constructor(url, opts = {}) {
    super();
    this.s = io(url, { forceNew: true, reconnectionDelay: 300, reconnectionDelayMax: 300,
      timeout: 5000, ...opts });
    clients.add(this);
    this.s.onAny((ev, ...args) => this.push({ ev, args }));
    this.s.on('connect', () => this.push({ ev: '$connect', id: this.s.id, recovered: this.s.recovered }));
    this.s.on('disconnect', (reason) => this.push({ ev: '$disconnect', reason }));
  }

  call(ev, ...args) {
    return deadline(new Promise((resolve) => this.s.emit(ev, ...args, (...r) => resolve(r))),
      5000, `the ack of '${ev}'`);
  }

  close() {
    clients.delete(this);
    this.s.close();
  }
}

/* The worker's records (via an observer client): connects and disconnects of id. */
async function records(o, what, id) {
  o.s.emit(what, id);
  return (await o.next(what)).args[0];
}

/* Kill a client's transport (the gateway sees "transport close") and wait for its reconnect. */
function killTransport(c) {
  c.s.io.engine.close();
}

const offsetless = (args) => args.slice(0, -1);

/* One gauge or counter of the gateway's metrics. */
async function metric(m, name) {
  const r = await get(m.metricsPort, '/metrics');
  const line = r.body.split('\n').find((l) => l.startsWith(`siogate_${name} `));
  assert.ok(line, `metric ${name} in ${r.body}`);
  return Number(line.split(' ')[1]);
}

test('recovery: id, rooms, session and every missed event once, in order', T, async () => {
  const m = await main();
  const a = new Cli(`${m.url}/chat`, { transports: ['websocket'], auth: { name: 'ann' } });
  const first = await a.next('$connect');
  assert.equal(first.recovered, false);
  const b = new Cli(`${m.url}/chat`, { transports: ['polling'] });
  await b.next('$connect');
  assert.deepEqual(await a.call('join', 'r'), ['ok']);
  // Live events carry an offset as their last argument.
  b.s.emit('to-room', 'r', 'news', 'live');
  const live = await a.next('news');
  assert.equal(live.args[0], 'live');
  assert.match(live.args[1], /^[0-9a-f]+$/);
  killTransport(a);
  await a.next('$disconnect');
  // Emitted while A is away (B's ack comes after the worker sent them).
  for (let i = 0; i < 5; i++) b.s.emit('to-room', 'r', 'news', i, { big: 'x'.repeat(i * 10) });
  assert.deepEqual(await b.call('echo', 'sync'), ['ok']);
  const again = await a.next('$connect', 8000);
  assert.equal(again.recovered, true, 'socket.recovered');
  assert.equal(again.id, first.id, 'the same socket id');
  for (let i = 0; i < 5; i++) {
    const e = await a.next('news');
    assert.deepEqual(offsetless(e.args), [i, { big: 'x'.repeat(i * 10) }]);
  }
  // Exactly once: a round trip later, nothing more arrived.
  assert.deepEqual(await a.call('echo', 'after'), ['ok']);
  await a.next('echo');
  assert.equal(a.q.filter((e) => e.ev === 'news').length, 0, 'no duplicate');
  // Rooms and session data came back.
  a.s.emit('get-rooms');
  assert.deepEqual((await a.next('my-rooms')).args[0], ['r']);
  a.s.emit('get-session');
  assert.deepEqual((await a.next('session')).args[0], { name: 'ann' });
  b.s.emit('to-room', 'r', 'news', 'still in r');
  assert.equal((await a.next('news')).args[0], 'still in r');
  // The worker: one connect asking for a reply, one marked recovered, no disconnect.
  const conns = await records(b, 'connects', first.id);
  assert.deepEqual(conns.map((c) => [c.reply, c.recovered]), [[true, false], [false, true]]);
  assert.deepEqual(await records(b, 'disconnects', first.id), []);
  a.close();
  b.close();
});

test('recovery: binary events, an abrupt TCP loss, and polling', T, async (t) => {
  const m = await main();
  for (const [label, transports, kill] of [
    ['websocket, TCP connection destroyed', ['websocket'], (c) => c.s.io.engine.transport.ws._socket.destroy()],
    ['polling, engine closed', ['polling'], killTransport],
  ]) {
    await t.test(label, async () => {
      const a = new Cli(`${m.url}/chat`, { transports });
      const first = await a.next('$connect');
      const b = new Cli(`${m.url}/chat`, { transports: ['websocket'] });
      await b.next('$connect');
      assert.deepEqual(await a.call('join', 'rb'), ['ok']);
      kill(a);
      await a.next('$disconnect');
      for (let i = 0; i < 3; i++) b.s.emit('to-room', 'rb', 'news', i, Buffer.from([i, 255 - i]));
      assert.deepEqual(await b.call('echo', 'sync'), ['ok']);
      const again = await a.next('$connect', 8000);
      assert.equal(again.recovered, true);
      assert.equal(again.id, first.id);
      for (let i = 0; i < 3; i++) {
        const e = await a.next('news');
        assert.equal(e.args[0], i);
        assert.equal(Buffer.from(e.args[1]).toString('hex'), Buffer.from([i, 255 - i]).toString('hex'));
      }
      a.close();
      b.close();
    });
  }
});

test('recovery: beyond the packet bound a reconnect is a new socket, and the worker knows', T, async () => {
  const m = await tight();
  const a = new Cli(`${m.url}/chat`, { transports: ['websocket'], reconnectionDelay: 1500,
    reconnectionDelayMax: 1500 });
  const first = await a.next('$connect');
  const b = new Cli(`${m.url}/chat`, { transports: ['websocket'] });
  await b.next('$connect');
  assert.deepEqual(await a.call('join', 'r'), ['ok']);
  killTransport(a);
  await a.next('$disconnect');
  for (let i = 0; i < 5; i++) b.s.emit('to-room', 'r', 'news', i);
  assert.deepEqual(await b.call('echo', 'sync'), ['ok']);
  // While A is away: one socket waits, and no ring holds more than the bound (3).
  assert.equal(await metric(m, 'recovery_detached_sockets'), 1);
  const held = await metric(m, 'recovery_buffered_packets');
  assert.ok(held >= 3 && held <= 2 * 3, `${held} packets held for 2 sockets, bound 3 each`);
  const again = await a.next('$connect', 8000);
  assert.equal(again.recovered, false);
  assert.notEqual(again.id, first.id);
  const gone = await waitUntil(async () => {
    const d = await records(b, 'disconnects', first.id);
    return d.length > 0 ? d : null;
  }, 5000, 'the old socket\'s SIO_DISCONNECT');
  assert.equal(gone[0].reason, 'transport close');
  const conns = await records(b, 'connects', again.id);
  assert.equal(conns[0].lost, true, 'the new connect says state was lost');
  assert.equal(await metric(m, 'recovery_detached_sockets'), 0);
  assert.ok(await metric(m, 'recovery_lost_total') >= 1);
  a.close();
  b.close();
});

test('recovery: a pong frees what the client has; recovery still works after it', T, async () => {
  const m = await pinging();
  for (const transports of [['websocket'], ['polling']]) {
    const a = new Cli(`${m.url}/chat`, { transports });
    const first = await a.next('$connect');
    for (let i = 0; i < 4; i++) a.s.emit('echo', i);
    for (let i = 0; i < 4; i++) assert.equal((await a.next('echo')).args[0], i);
    // Within a ping interval or two the ring is empty again.
    await waitUntil(async () => (await metric(m, 'recovery_buffered_packets')) === 0, 3000,
      'the rings to empty after a pong');
    const b = new Cli(`${m.url}/chat`, { transports: ['websocket'] });
    await b.next('$connect');
    assert.deepEqual(await a.call('join', 'rp'), ['ok']);
    killTransport(a);
    await a.next('$disconnect');
    b.s.emit('to-room', 'rp', 'news', 'missed');
    assert.deepEqual(await b.call('echo', 'sync'), ['ok']);
    const again = await a.next('$connect', 8000);
    assert.equal(again.recovered, true);
    assert.equal(again.id, first.id);
    assert.equal((await a.next('news')).args[0], 'missed');
    assert.deepEqual(await a.call('echo', 'last'), ['ok']);
    assert.equal((await a.next('echo')).args[0], 'last');
    assert.equal(a.q.filter((e) => e.ev === 'echo' || e.ev === 'news').length, 0, 'nothing twice');
    a.close();
    b.close();
  }
});

test('recovery: a worker disconnecting a waiting socket ends it at once', T, async () => {
  const m = await main();
  const a = new Cli(`${m.url}/chat`, { transports: ['websocket'], reconnection: false });
  const first = await a.next('$connect');
  const b = new Cli(`${m.url}/chat`, { transports: ['websocket'] });
  await b.next('$connect');
  assert.deepEqual(await a.call('join', 'gone-room'), ['ok']);
  killTransport(a);
  await a.next('$disconnect');
  assert.deepEqual(await b.call('disconnect-room', 'gone-room'), ['ok']);
  const gone = await waitUntil(async () => {
    const d = await records(b, 'disconnects', first.id);
    return d.length > 0 ? d : null;
  }, 3000, 'the SIO_DISCONNECT of the waiting socket');
  assert.equal(gone[0].reason, 'server namespace disconnect');
  b.close();
});

test('recovery: the window ends, the worker gets the disconnect late', T, async () => {
  const m = await short();
  const a = new Cli(`${m.url}/chat`, { transports: ['websocket'], reconnection: false });
  const first = await a.next('$connect');
  const b = new Cli(`${m.url}/chat`, { transports: ['websocket'] });
  await b.next('$connect');
  const t0 = Date.now();
  killTransport(a);
  const gone = await waitUntil(async () => {
    const d = await records(b, 'disconnects', first.id);
    return d.length > 0 ? d : null;
  }, 5000, 'the SIO_DISCONNECT after the window');
  assert.ok(Date.now() - t0 >= 250, 'not before the window');
  assert.equal(gone[0].reason, 'transport close');
  b.close();
  await assertGatewaysAlive(fx);
});

test('recovery with a Python-module worker: the connect handler does not run again', T, async () => {
  const gw = await startGateway(['--recovery-window', '5000', '--recovery-max-packets', '1']);
  const w = await startProcess(PY, [path.join(srcdir, 'tests', 'integ', 'v2_worker.py'), gw.bridge],
    'v2_worker', /ready/);
  try {
    await gw.waitLog(/worker \d+ .*registered/);
    const a = new Cli(gw.url, { transports: ['websocket'] });
    const first = await a.next('$connect');
    const [[n1, last1, sess1]] = await a.call('stats');
    assert.deepEqual([n1, last1, sess1], [1, { lost: false, eio: 4 }, { n: 1 }]);
    killTransport(a);
    await a.next('$disconnect');
    const again = await a.next('$connect', 8000);
    assert.equal(again.recovered, true);
    assert.equal(again.id, first.id);
    const [[n2, , sess2]] = await a.call('stats');
    assert.equal(n2, 1, 'no second run of the connect handler');
    assert.deepEqual(sess2, { n: 1 }, 'the session came back');
    a.close();
  } finally {
    await w.stop();
    await gw.stop();
  }
});
