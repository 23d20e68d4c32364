// sdk_sio.test.mjs: the C SDK's Socket.IO API end to end.  Two gateways
// (ids GWaa and GWbb) and one C worker (tests/integ/sdk_worker, built on
// libsiogate only) registered with both; the official `socket.io-client`
// drives the worker through every function of the API: accept/reject,
// events and acks both ways with binary, emits to rooms/ids/namespaces
// across gateways, join/leave, disconnect, session data, queries merged
// over gateways, and a write-only emitter.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { io } from 'socket.io-client';
import { REF, startGateway, deadline, spawnLogged } from '../lib/harness.mjs';

const T = { timeout: 30000 };
const skip = REF ? { skip: 'siogate-only (C SDK worker)' } : {};
const OK = 0;
const ERR_JSON = -8;
const ERR_NOGATEWAY = -6;
const ERR_INVALID = -2;
const STATUS = { OK: 0, TIMEOUT: 1, DISCONNECTED: 2 };

/* The worker binary, next to the gateway in the build tree. */
function workerPath() {
  if (process.env.SDK_WORKER) return process.env.SDK_WORKER;
  return path.join(path.dirname(process.env.SIOGATE || '.'), '..', 'tests', 'integ', 'sdk_worker');
}

/* The C worker (harness.mjs spawnLogged: output collected, waitLog/waitLogs). */
function spawnWorker(args) {
  return spawnLogged(workerPath(), args, 'sdk_worker');
}

let A;
let B;
let W;
const clients = new Set();

before(async () => {
  if (REF) return;
  A = await startGateway(['--gateway-id', 'GWaa', '--bridge-heartbeat', '500']);
  B = await startGateway(['--gateway-id', 'GWbb', '--bridge-heartbeat', '500']);
  W = spawnWorker(['-n', 'csdk', '-s', '/', '-s', '/chat', '-o', '/open',
    '-e', A.bridge, '-e', B.bridge]);
  await W.waitLogs(/registered with gateway GW(aa|bb)/, 2, 10000);
});

after(async () => {
  for (const c of clients) c.disconnect();
  if (W) await W.stop();
  if (A) await A.stop();
  if (B) await B.stop();
});

/*
 * A client socket with a queue per event: next(ev) resolves with the next
 * args of ev.  connect() resolves once connected, or with the connect_error.
 */
function client(gw, nsp = '/', opts = {}) {
  const { manager, ...rest } = opts;
  const s = manager ? manager.socket(nsp, rest) : io(`${gw.url}${nsp}`, {
    transports: ['websocket'], forceNew: true, reconnection: false, ...rest,
  });
  clients.add(s);
  const queues = new Map();
  const wakers = new Set();
  const notify = () => { for (const w of [...wakers]) w(); };
  s.onAny((ev, ...args) => {
    if (!queues.has(ev)) queues.set(ev, []);
    queues.get(ev).push(args);
    notify();
  });
  let disc = null;
  s.on('disconnect', (reason) => { disc = reason; notify(); });
  const wait = (fn, ms, what) => deadline(new Promise((resolve) => {
    const check = () => {
      const r = fn();
      if (r !== undefined) { wakers.delete(check); resolve(r); }
    };
    wakers.add(check);
    check();
  }), ms, what);
  return {
    s,
    connect: (ms = 5000) => deadline(new Promise((resolve) => {
      if (s.connected) { resolve(null); return; }
      s.once('connect', () => resolve(null));
      s.once('connect_error', (e) => resolve(e));
    }), ms, 'connect'),
    next: (ev, ms = 5000) => wait(() => {
      const q = queues.get(ev);
      return q && q.length ? q.shift() : undefined;
    }, ms, `event ${ev}`),
    none: async (ev, ms = 300) => {
      await new Promise((r) => setTimeout(r, ms));
      const q = queues.get(ev);
      return !q || q.length === 0;
    },
    disconnected: (ms = 5000) => wait(() => (disc === null ? undefined : disc), ms, 'disconnect'),
    call: (ev, ...args) => deadline(s.emitWithAck(ev, ...args), 5000, `ack of ${ev}`),
  };
}

/* A connected client (asserts it connected). */
async function connected(gw, nsp = '/', opts = {}) {
  const c = client(gw, nsp, opts);
  const err = await c.connect();
  assert.equal(err, null, `connect to ${nsp}: ${err && err.message}`);
  return c;
}

test('accept: socket id from the gateway, session and rooms from siogate_accept', { ...T, ...skip }, async () => {
  const c = await connected(A, '/', { auth: { name: 'ann', rooms: ['r1', 'r2'] } });
  assert.match(c.s.id, /^GWaa.{20}$/);
  c.s.emit('get-session');
  assert.deepEqual(await c.next('session'), [{ name: 'ann' }]);
  c.s.emit('get-rooms');
  assert.deepEqual(await c.next('my-rooms'), [['r1', 'r2']]);
  c.s.emit('connects', c.s.id);
  const [recs] = await c.next('connects');
  assert.equal(recs.length, 1);
  assert.equal(recs[0].nsp, '/');
  assert.equal(recs[0].reply, true);
  assert.deepEqual(recs[0].auth, { name: 'ann', rooms: ['r1', 'r2'] });
  assert.match(recs[0].addr, /^127\.0\.0\.1:\d+$/);
  c.s.disconnect();
});

test('reject: data as given, Node-style error, default message', { ...T, ...skip }, async () => {
  let err = await client(A, '/', { auth: { token: 'bad' } }).connect();
  assert.ok(err, 'refused');
  assert.equal(err.message, 'bad token');
  assert.deepEqual(err.data, { code: 42 });
  err = await client(B, '/', { auth: { reject_default: true } }).connect();
  assert.equal(err.message, 'Not authorized');
  err = await client(A, '/chat', { auth: { reject: { message: 'custom', data: [1, 'x'] } } }).connect();
  assert.equal(err.message, 'custom');
  assert.deepEqual(err.data, [1, 'x']);
});

test('accept later, outside the callback; open namespaces need no answer', { ...T, ...skip }, async () => {
  const c = await connected(B, '/', { auth: { later: 200 } });
  c.s.emit('get-session');
  assert.deepEqual(await c.next('session'), [{ later: true }]);
  const o = await connected(A, '/open');
  o.s.emit('connects', o.s.id);
  const [recs] = await o.next('connects');
  assert.equal(recs[0].reply, false, 'open namespace: SIO_CONNECT with reply false');
  c.s.disconnect();
  o.s.disconnect();
});

test('events and acks with binary attachments, both ways', { ...T, ...skip }, async () => {
  const c = await connected(A, '/chat');
  const bin = Buffer.from([0, 1, 2, 255]);
  c.s.emit('echo', 'hi', bin, { nested: [Buffer.from('xy')], n: 1.5, big: 9007199254740991 });
  const got = await c.next('echo');
  assert.equal(got[0], 'hi');
  assert.deepEqual(Buffer.from(got[1]), bin);
  assert.deepEqual(Buffer.from(got[2].nested[0]), Buffer.from('xy'));
  assert.equal(got[2].n, 1.5);
  assert.equal(got[2].big, 9007199254740991);
  // A client's ack answered by siogate_ack (id 0 is the first ack id).
  const r = await c.call('ack', 'é ✓ 😀', bin, null, false, [], {});
  assert.equal(r, 'é ✓ 😀');
  const r2 = await deadline(new Promise((resolve) => c.s.emit('ack', 1, bin, (...a) => resolve(a))), 5000, 'ack');
  assert.equal(r2[0], 1);
  assert.deepEqual(Buffer.from(r2[1]), bin);
  c.s.disconnect();
});

test('siogate_emit_ack: answer with binary, timeout, disconnected', { ...T, ...skip }, async () => {
  const c = await connected(A);
  c.s.on('q', (x, bin, cb) => cb(x + 1, Buffer.concat([Buffer.from(bin), Buffer.from('!')])));
  c.s.emit('ask', 'q', 2000, 41, Buffer.from('ab'));
  let [res] = await c.next('asked');
  assert.equal(res.status, STATUS.OK);
  assert.equal(res.args[0], 42);
  assert.deepEqual(Buffer.from(res.args[1]), Buffer.from('ab!'));

  c.s.on('mute', () => { /* never acks */ });
  c.s.emit('ask', 'mute', 200);
  [res] = await c.next('asked');
  assert.equal(res.status, STATUS.TIMEOUT);
  assert.equal(res.args, null);

  // Another socket (on the other gateway) is asked and goes away first.
  const v = await connected(B);
  v.s.on('slow', () => { /* never acks */ });
  c.s.emit('ask-other', v.s.id, 'slow', 5000);
  await new Promise((r) => setTimeout(r, 200));
  v.s.disconnect();
  [res] = await c.next('asked');
  assert.equal(res.status, STATUS.DISCONNECTED);
  c.s.disconnect();
});

test('rooms across gateways: join, emit to a room with except, leave', { ...T, ...skip }, async () => {
  const a = await connected(A);
  const b = await connected(B);
  const z = await connected(B);
  assert.equal(await a.call('join', ['lobby', 'x']), OK);
  assert.equal(await b.call('join', 'lobby'), OK);
  assert.equal(await a.call('to', ['lobby'], null, 'news', 'n1', Buffer.from('bb')), OK);
  for (const c of [a, b]) {
    const got = await c.next('news');
    assert.equal(got[0], 'n1');
    assert.deepEqual(Buffer.from(got[1]), Buffer.from('bb'));
  }
  assert.ok(await z.none('news'), 'not in the room: nothing');
  assert.equal(await a.call('to', ['lobby'], [a.s.id], 'news', 'n2'), OK);
  assert.deepEqual(await b.next('news'), ['n2']);
  assert.ok(await a.none('news'), 'except: the sender is skipped');
  // Socket ids as targets, on two gateways at once.
  assert.equal(await a.call('to', [a.s.id, z.s.id], null, 'direct', 1), OK);
  assert.deepEqual(await a.next('direct'), [1]);
  assert.deepEqual(await z.next('direct'), [1]);
  assert.ok(await b.none('direct'));
  // join-to: a socket of the other gateway joins by id.
  assert.equal(await a.call('join-to', [z.s.id], ['lobby']), OK);
  assert.equal(await b.call('leave', 'lobby'), OK);
  assert.equal(await a.call('to', 'lobby', null, 'news', 'n3'), OK);
  assert.deepEqual(await a.next('news'), ['n3']);
  assert.deepEqual(await z.next('news'), ['n3']);
  assert.ok(await b.none('news'), 'left the room: nothing');
  z.s.emit('get-rooms');
  assert.deepEqual(await z.next('my-rooms'), [['lobby']]);
  for (const c of [a, b, z]) c.s.disconnect();
});

test('emit to a whole namespace reaches every gateway, not other namespaces', { ...T, ...skip }, async () => {
  const a = await connected(A);
  const b = await connected(B);
  const ch = await connected(A, '/chat');
  assert.equal(await a.call('to', null, null, 'all', { x: 1 }), OK);
  assert.deepEqual(await a.next('all'), [{ x: 1 }]);
  assert.deepEqual(await b.next('all'), [{ x: 1 }]);
  assert.ok(await ch.none('all'), '/chat gets nothing');
  // A volatile emit reaches clients that are not backed up.
  assert.equal(await b.call('vto', null, null, 'vol', 2), OK);
  assert.deepEqual(await a.next('vol'), [2]);
  assert.deepEqual(await b.next('vol'), [2]);
  for (const c of [a, b, ch]) c.s.disconnect();
});

test('session data: replace and merge', { ...T, ...skip }, async () => {
  const c = await connected(B, '/', { auth: { name: 'bob' } });
  assert.equal(await c.call('set-session', { a: 1, b: [true] }, true), OK);
  c.s.emit('get-session');
  assert.deepEqual(await c.next('session'), [{ name: 'bob', a: 1, b: [true] }]);
  assert.equal(await c.call('set-session', { only: 'me' }, false), OK);
  c.s.emit('get-session');
  assert.deepEqual(await c.next('session'), [{ only: 'me' }]);
  assert.equal(await c.call('set-session', [1], false), ERR_JSON, 'not an object: SIOGATE_ERR_JSON');
  c.s.disconnect();
});

test('queries are merged over every gateway', { ...T, ...skip }, async () => {
  const a = await connected(A, '/chat', { auth: { name: 'qa', rooms: ['qr', 'qa-only'] } });
  const b = await connected(B, '/chat', { auth: { name: 'qb', rooms: ['qr'] } });
  a.s.emit('query', 'sockets', 'qr', 0);
  let [res] = await a.next('query');
  assert.equal(res.status, STATUS.OK);
  const ids = res.result.map((x) => x.id).sort();
  assert.deepEqual(ids, [a.s.id, b.s.id].sort());
  const sa = res.result.find((x) => x.id === a.s.id);
  assert.deepEqual(sa.session, { name: 'qa' });
  assert.deepEqual(sa.rooms.sort(), ['qa-only', 'qr']);
  assert.match(sa.addr, /^127\.0\.0\.1:\d+$/);
  a.s.emit('query', 'rooms', null, 0);
  [res] = await a.next('query');
  assert.equal(res.status, STATUS.OK);
  assert.deepEqual(res.result.sort(), ['qa-only', 'qr'], 'rooms as a set over both gateways');
  for (const c of [a, b]) c.s.disconnect();
});

test('disconnect from the worker, and every disconnect reported once with its reason', { ...T, ...skip }, async () => {
  const a = await connected(A);
  const id = a.s.id;
  a.s.emit('kick', [id], false);
  assert.equal(await a.disconnected(), 'io server disconnect');
  // The same connection, another namespace: close takes the whole connection.
  const m = await connected(B);
  const m2 = client(B, '/chat', { manager: m.s.io });
  assert.equal(m2.s.io, m.s.io, 'one Engine.IO connection for both namespaces');
  assert.equal(await m2.connect(), null);
  m.s.emit('kick', [m.s.id], true);
  // Node flushes the 41 before closing; this gateway may close first.
  assert.match(await m.disconnected(), /io server disconnect|transport close/);
  assert.match(await m2.disconnected(), /transport close|io server disconnect/);
  // A client's own disconnect.
  const c = await connected(A);
  const cid = c.s.id;
  c.s.disconnect();
  const w = await connected(A);
  const want = { [id]: 'server namespace disconnect', [cid]: 'client namespace disconnect' };
  for (const [sid, reason] of Object.entries(want)) {
    let recs;
    for (let i = 0; i < 50; i++) {
      w.s.emit('disconnects', sid);
      [recs] = await w.next('disconnects');
      if (recs.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(recs.length, 1, `one SIO_DISCONNECT for ${sid}`);
    assert.equal(recs[0].reason, reason);
  }
  w.s.disconnect();
});

test('errors come back as SDK return codes', { ...T, ...skip }, async () => {
  const c = await connected(A);
  assert.equal(await c.call('raw-emit', c.s.id, 'x', '[1,'), ERR_JSON, 'bad JSON');
  assert.equal(await c.call('raw-emit', c.s.id, 'x', '{"a":1}'), ERR_JSON, 'args not an array');
  assert.equal(await c.call('raw-emit', c.s.id, 'x', '[{"_placeholder":true,"num":0}]'), ERR_JSON,
    'placeholder without a bin');
  assert.equal(await c.call('raw-emit', c.s.id, 'x', '[{"_placeholder":true,"num":0}]', Buffer.from('b')), OK,
    'placeholder with its bin');
  assert.deepEqual(Buffer.from((await c.next('x'))[0]), Buffer.from('b'));
  assert.equal(await c.call('unknown-gw'), ERR_NOGATEWAY, 'a socket id of no gateway');
  assert.equal(await c.call('no-such-command'), ERR_INVALID);
  c.s.disconnect();
});

test('a write-only emitter (credit 0, nothing served) reaches rooms on every gateway', { ...T, ...skip }, async () => {
  const a = await connected(A, '/', { auth: { rooms: ['em'] } });
  const b = await connected(B, '/', { auth: { rooms: ['em'] } });
  const e = spawnWorker(['-E', '-N', '/', '-t', 'em', '-x', 'from-emitter', '-a', '[{"k":"v"},2]',
    '-e', A.bridge, '-e', B.bridge]);
  const r = await deadline(e.exitP, 10000, 'emitter to exit');
  process.stderr.write(`--- emitter log ---\n${e.logs.map((l) => `  ${l}\n`).join('')}`);
  assert.equal(r.code, 0);
  assert.ok(e.logs.some((l) => /emitted/.test(l)));
  assert.deepEqual(await a.next('from-emitter'), [{ k: 'v' }, 2]);
  assert.deepEqual(await b.next('from-emitter'), [{ k: 'v' }, 2]);
  for (const c of [a, b]) c.s.disconnect();
});
