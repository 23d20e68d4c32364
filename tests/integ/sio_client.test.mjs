// sio_client.test.mjs: the official Socket.IO client (`socket.io-client` 4,
// Node build) against the gateway and the scriptable test worker
// (tests/lib/sio_test_worker.py, spawned with /usr/bin/python3): namespaces,
// transports, events, acks both ways, binary, rooms, session data, queries,
// disconnects from both sides, emitters, several workers, dead workers, and
// malformed input from clients (raw WebSocket) and from workers.
//
// Every behaviour is chosen by the client through the worker's events (see
// the worker's docstring), so nothing here needs another control channel.
// Negative checks ("B did not get it") are made after a round trip through
// the same worker and session: the gateway handles one worker's commands in
// order and keeps each session's packets in order, so once B's echo is back
// whatever was sent to B before it has arrived.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { io, Manager } from 'socket.io-client';
import {
  deadline, waitUntil, fixtures, assertGatewaysAlive, openWs, sleep,
} from '../lib/harness.mjs';
import { skipReason, startWorker, startSioStack, Inbox } from '../lib/sio_stack.mjs';
import { T as BR_T, E as BR_E } from '../lib/proto.mjs';

const GWID = 'SioT';
const CONNECT_TIMEOUT = 1500;
const ACK_TIMEOUT = 1000;
const SKIP = skipReason();
const T = { timeout: 30000, skip: SKIP };

const fx = fixtures();
/* The main stack: worker wA serves "/", "/chat", every "/t-*" and "/fast" (open). */
const main = fx.lazy(() => startSioStack(
  ['--connect-timeout', String(CONNECT_TIMEOUT), '--ack-timeout', String(ACK_TIMEOUT)],
  { wA: ['--nsp', '/,/chat,/t-*', '--open', '/fast'] },
));

/* ---------------------------------------------------------------- clients */

const clients = new Set();
after(async () => {
  for (const c of clients) c.close();
  await fx.stopAll();
});

/* Binary values normalised for comparison: {$bin: hex}. */
function norm(v) {
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString('hex') };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') };
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = norm(x);
    return o;
  }
  return v;
}

let tokens = 0;

/*
 * A socket.io-client socket with an awaitable queue of everything it got:
 * server events {ev, args}, and '$connect', '$connect_error' {err},
 * '$disconnect' {reason, details}.
 */
class Cli extends Inbox {
  constructor(url, opts = {}, manager = null) {
    super();
    this.s = manager
      ? manager.socket(opts.nsp || '/', opts)
      : io(url, { forceNew: true, reconnection: false, timeout: 5000, ...opts });
    this.all = [];
    clients.add(this);
    this.s.onAny((ev, ...args) => this.push({ ev, args }));
    this.s.on('connect', () => this.push({ ev: '$connect', id: this.s.id }));
    this.s.on('connect_error', (err) => this.push({ ev: '$connect_error', err }));
    this.s.on('disconnect', (reason, details) => this.push({ ev: '$disconnect', reason, details }));
    this.s.io.on('close', (reason) => this.push({ ev: '$io_close', reason }));
  }

  push(e) {
    this.all.push(e);
    super.push(e);
  }

  /* The args of the next server event ev. */
  async args(ev, ms = 5000, pred = undefined) {
    return (await this.next(ev, ms, pred)).args;
  }

  count(ev) {
    return this.q.filter((e) => e.ev === ev).length;
  }

  async connected(ms = 5000) {
    const e = await Promise.race([this.next('$connect', ms),
      this.next('$connect_error', ms).then((x) => { throw new Error(`connect_error: ${x.err.message}`); })]);
    return e;
  }

  emit(...a) {
    this.s.emit(...a);
  }

  /* Emit with an ack callback; resolves with every argument of the ack. */
  call(ev, ...args) {
    return deadline(new Promise((resolve) => this.s.emit(ev, ...args, (...r) => resolve(r))),
      5000, `the ack of '${ev}'`);
  }

  /* A round trip through the worker: everything sent to us before it has arrived. */
  async sync() {
    const tok = `sync-${++tokens}`;
    this.s.emit('echo', tok);
    await this.next('echo', 5000, (e) => e.args[0] === tok);
  }

  close() {
    clients.delete(this);
    this.s.close();
    if (this.s.io && this.s.io.engine) this.s.io.engine.close();
  }
}

async function connect(url, opts = {}) {
  const c = new Cli(url, opts);
  await c.connected();
  return c;
}

/* Ask worker-side state through another client: its SIO_DISCONNECT records for id. */
async function disconnectsOf(observer, id) {
  observer.emit('disconnects', id);
  return observer.args('disconnects').then((a) => a[0]);
}

/* Wait until the worker recorded a disconnect for id (asked again every 25 ms). */
async function waitDisconnect(observer, id, ms = 5000) {
  return waitUntil(async () => {
    const d = await disconnectsOf(observer, id);
    return d.length > 0 ? d : null;
  }, ms, `the worker's SIO_DISCONNECT for ${id}`);
}

const sortedIds = (a) => [...a].sort();

/* ------------------------------------------------------------------ tests */

test('connect to / and /chat over websocket, polling only and with the default upgrade', T, async (t) => {
  const m = await main();
  for (const [label, opts] of [
    ['websocket', { transports: ['websocket'] }],
    ['polling', { transports: ['polling'] }],
    ['default (polling, then upgrade)', {}],
  ]) {
    await t.test(label, async () => {
      for (const nsp of ['/', '/chat']) {
        const c = await connect(`${m.url}${nsp}`, opts);
        assert.equal(typeof c.s.id, 'string');
        assert.equal(c.s.id.length, 24, `socket id ${c.s.id} has 24 chars`);
        assert.ok(c.s.id.startsWith(GWID), `socket id ${c.s.id} starts with the gateway id`);
        if (!opts.transports) {
          await deadline(new Promise((resolve) => {
            if (c.s.io.engine.transport.name === 'websocket') resolve();
            else c.s.io.engine.once('upgrade', resolve);
          }), 5000, 'the upgrade to websocket');
        }
        c.emit('echo', nsp, label);
        assert.deepEqual(await c.args('echo'), [nsp, label]);
        const expect = opts.transports ? opts.transports[0] : 'websocket';
        assert.equal(c.s.io.engine.transport.name, expect);
        c.close();
      }
    });
  }

  await t.test('two namespaces multiplexed on one Engine.IO session', async () => {
    const mgr = new Manager(m.url, { reconnection: false, transports: ['websocket'] });
    const a = new Cli(null, { nsp: '/' }, mgr);
    const b = new Cli(null, { nsp: '/chat' }, mgr);
    await a.connected();
    await b.connected();
    assert.notEqual(a.s.id, b.s.id, 'each namespace gets its own socket id');
    a.emit('echo', 'main');
    b.emit('echo', 'chat');
    assert.deepEqual(await a.args('echo'), ['main']);
    assert.deepEqual(await b.args('echo'), ['chat']);
    a.emit('connects', a.s.id);
    b.emit('connects', b.s.id);
    const [ca] = (await a.args('connects'))[0];
    const [cb] = (await b.args('connects'))[0];
    assert.equal(ca.nsp, '/');
    assert.equal(cb.nsp, '/chat');
    assert.equal(ca.sid, cb.sid, 'both sockets belong to one Engine.IO session');
    assert.equal(ca.reply, true, 'a namespace that is not open asks the worker');
    assert.equal(ca.transport, 'websocket');
    a.close();
    b.close();
    mgr.engine?.close();
  });

  await t.test('an open namespace connects without a round trip; the worker is told', async () => {
    const c = await connect(`${m.url}/fast`, { transports: ['websocket'], auth: { name: 'x' } });
    c.emit('echo', 'fast');
    assert.deepEqual(await c.args('echo'), ['fast']);
    c.emit('connects', c.s.id);
    const [rec] = (await c.args('connects'))[0];
    assert.equal(rec.reply, false, 'SIO_CONNECT has reply=false');
    assert.deepEqual(rec.auth, { name: 'x' }, 'SIO_CONNECT carries auth');
    assert.equal(rec.seq, 0, 'SIO_CONNECT is seq 0');
    c.close();
  });
});

test('connect refused: unknown namespace, rejected with data, delayed and unanswered connects', T, async (t) => {
  const m = await main();

  await t.test('a namespace no worker serves gets connect_error "Invalid namespace"', async () => {
    for (const transports of [['websocket'], ['polling']]) {
      const c = new Cli(`${m.url}/nope`, { transports });
      const e = await c.next('$connect_error');
      assert.equal(e.err.message, 'Invalid namespace');
      assert.equal(c.s.connected, false);
      c.close();
    }
  });

  await t.test('a rejected connect gives err.message and err.data', async () => {
    const c = new Cli(`${m.url}/chat`, { transports: ['websocket'], auth: { token: 'bad' } });
    const e = await c.next('$connect_error');
    assert.equal(e.err.message, 'bad token');
    assert.deepEqual(e.err.data, { code: 42 });
    assert.equal(c.count('$connect'), 0);
    c.close();
  });

  await t.test('reject data is passed through as given', async () => {
    const c = new Cli(`${m.url}/`, { transports: ['polling'], auth: { reject: { message: 'custom', data: [1, 'two', null] } } });
    const e = await c.next('$connect_error');
    assert.equal(e.err.message, 'custom');
    assert.deepEqual(e.err.data, [1, 'two', null]);
    c.close();
  });

  await t.test('a reject without data is "Not authorized"', async () => {
    const c = new Cli(`${m.url}/`, { transports: ['websocket'], auth: { reject_default: true } });
    const e = await c.next('$connect_error');
    assert.equal(e.err.message, 'Not authorized');
    c.close();
  });

  await t.test('a rejected socket never reaches the worker as connected (no SIO_DISCONNECT)', async () => {
    const c = new Cli(`${m.url}/`, { transports: ['websocket'], auth: { token: 'bad' } });
    await c.next('$connect_error');
    const o = await connect(`${m.url}/`, { transports: ['websocket'] });
    o.emit('connects');
    const rejected = (await o.args('connects'))[0].filter((x) => x.auth && x.auth.token === 'bad').map((x) => x.id);
    assert.ok(rejected.length >= 1);
    for (const id of rejected) assert.deepEqual(await disconnectsOf(o, id), [], `no disconnect for ${id}`);
    c.close();
    o.close();
  });

  await t.test('a delayed accept connects', async () => {
    const t0 = Date.now();
    const c = await connect(`${m.url}/`, { transports: ['websocket'], auth: { delay: 300 } });
    assert.ok(Date.now() - t0 >= 250, 'not before the worker answered');
    c.emit('echo', 'late');
    assert.deepEqual(await c.args('echo'), ['late']);
    c.close();
  });

  await t.test('a connect the worker never answers fails after --connect-timeout', async () => {
    const t0 = Date.now();
    const c = new Cli(`${m.url}/`, { transports: ['websocket'], auth: { never: true } });
    const e = await c.next('$connect_error', CONNECT_TIMEOUT + 3000);
    const dt = Date.now() - t0;
    assert.equal(e.err.message, 'Connect timeout', 'siogate-protocol(7)');
    assert.ok(dt >= CONNECT_TIMEOUT - 100, `not before the timeout (${dt} ms)`);
    c.close();
  });
});

test('session data: set at accept, merged and replaced by the worker', T, async () => {
  const m = await main();
  const c = await connect(`${m.url}/t-session`, { transports: ['websocket'], auth: { name: 'ann' } });
  c.emit('get-session');
  assert.deepEqual(await c.args('session'), [{ name: 'ann' }]);
  assert.deepEqual(await c.call('set-session', { score: 5, tags: ['a', 'b'] }, true), ['ok']);
  c.emit('get-session');
  assert.deepEqual(await c.args('session'), [{ name: 'ann', score: 5, tags: ['a', 'b'] }]);
  assert.deepEqual(await c.call('set-session', { score: 6 }, true), ['ok']);
  c.emit('get-session');
  assert.deepEqual(await c.args('session'), [{ name: 'ann', score: 6, tags: ['a', 'b'] }]);
  assert.deepEqual(await c.call('set-session', { x: 1 }, false), ['ok']);
  c.emit('get-session');
  assert.deepEqual(await c.args('session'), [{ x: 1 }]);
  const d = await connect(`${m.url}/t-session`, { transports: ['polling'] });
  d.emit('get-session');
  assert.deepEqual(await d.args('session'), [{}], 'no session data: {}');
  d.emit('sockets');
  const socks = (await d.args('sockets'))[0];
  const mine = socks.find((s) => s.id === c.s.id);
  assert.ok(mine, 'the sockets query lists the other socket');
  assert.deepEqual(mine.session, { x: 1 }, 'with its session');
  c.close();
  d.close();
});

test('events with any number and kind of arguments, in order', T, async (t) => {
  const m = await main();
  for (const transports of [['websocket'], ['polling']]) {
    await t.test(transports[0], async () => {
      const c = await connect(`${m.url}/t-events`, { transports });
      const cases = [
        [],
        [1],
        ['two', 2],
        [null, true, false, 0, -1, 1.5, -2.25, 9007199254740991, -9007199254740991, 1e300],
        ['', 'ünïcødé ✓ 😀', 'quote " backslash \\ newline \n tab \t', '\u0001\u001f'],
        [{}, [], { a: { b: { c: [1, [2, [3, { d: null }]]] } } }],
        [{ 'key with spaces': 1, '': 'empty key', nested: { arr: [{ x: 'y' }] } }],
        [Array.from({ length: 100 }, (_, i) => i)],
        ['x'.repeat(100000)],
      ];
      for (const args of cases) {
        c.emit('echo', ...args);
        assert.deepEqual(await c.args('echo'), args, `echo of ${JSON.stringify(args).slice(0, 80)}`);
      }
      // Many events at once arrive (and come back) in order.
      for (let i = 0; i < 200; i++) c.emit('echo', 'n', i);
      for (let i = 0; i < 200; i++) assert.deepEqual(await c.args('echo'), ['n', i]);
      c.emit('seq');
      const seqs = (await c.args('seq'))[0];
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i),
        'the worker saw seq 0, 1, 2, ... with no gap');
      c.close();
    });
  }
});

test('strings Node accepts: NUL characters and lone surrogates', T, async (t) => {
  const m = await main();
  const cases = [
    ['a NUL character in an argument', ['x\u0000y'], (back) => assert.deepEqual(back, ['x\u0000y'])],
    ['a NUL character in an object key', [{ 'k\u0000': 1 }], (back) => assert.deepEqual(back, [{ 'k\u0000': 1 }])],
    // JSON.stringify writes a lone surrogate as \ud800; Node echoes it back.
    // msgpack needs UTF-8, so U+FFFD is an acceptable answer; a closed
    // connection is not.
    ['a lone surrogate (half an emoji)', ['\ud83d'], (back) => assert.ok(['\ud83d', '\ufffd'].includes(back[0]), JSON.stringify(back))],
  ];
  for (const [what, args, check] of cases) {
    await t.test(what, /key|surrogate/.test(what) ? {
      todo: 'known limitation (siogate(8)): jansson refuses NUL in object keys and lone surrogates '
        + '(msgpack strings are UTF-8), so the connection is closed as a parse error',
    } : {}, async () => {
      const c = await connect(`${m.url}/t-events`, { transports: ['websocket'] });
      c.emit('echo', ...args);
      const e = await Promise.race([c.next('echo'), c.next('$disconnect').then((d) => ({ closed: d.reason }))]);
      assert.equal(e.closed, undefined, `the connection was closed (${e.closed})`);
      check(e.args);
      c.close();
    });
  }
  await t.test('a NUL character in the CONNECT payload', async () => {
    const c = new Cli(`${m.url}/t-events`, { transports: ['websocket'], auth: { name: 'a\u0000b' } });
    const e = await Promise.race([c.connected(), c.next('$io_close')]);
    assert.notEqual(e.ev, '$io_close', `the connection was closed (${e.reason})`);
    c.emit('get-session');
    assert.deepEqual(await c.args('session'), [{ name: 'a\u0000b' }]);
    c.close();
  });
});

test('acks: client to server', T, async () => {
  const m = await main();
  const c = await connect(`${m.url}/t-acks`, { transports: ['websocket'] });
  assert.deepEqual(await c.call('ack'), []);
  assert.deepEqual(await c.call('ack', 1, 'two', { three: [3] }), [1, 'two', { three: [3] }]);
  // Many acks in flight at once each get their own answer.
  const all = await Promise.all(Array.from({ length: 50 }, (_, i) => c.call('ack', i, `v${i}`)));
  all.forEach((r, i) => assert.deepEqual(r, [i, `v${i}`]));
  // emitWithAck (first argument) works too.
  assert.equal(await c.s.timeout(5000).emitWithAck('ack', 'first', 'second'), 'first');
  const p = await connect(`${m.url}/t-acks`, { transports: ['polling'] });
  assert.deepEqual(await p.call('ack', 'over polling'), ['over polling']);
  c.close();
  p.close();
});

test('acks: server to client, answered, timed out, and cut by a disconnect', T, async () => {
  const m = await main();
  const c = await connect(`${m.url}/t-acks`, { transports: ['websocket'] });
  c.s.on('question', (a, b, cb) => cb('answer', a + b, { ok: true }));
  c.emit('ask', 'question', 5000, 2, 3);
  assert.deepEqual(await c.args('asked'), [{ args: ['answer', 5, { ok: true }] }]);

  // The client's handler gets exactly the args; an ack with no args.
  c.s.on('nothing', (cb) => cb());
  c.emit('ask', 'nothing', 5000);
  assert.deepEqual(await c.args('asked'), [{ args: [] }]);

  // Several asks in flight answered out of order.
  const held = [];
  c.s.on('later', (n, cb) => { held.push([n, cb]); if (held.length === 3) for (const [k, f] of held.reverse()) f(k * 10); });
  for (let i = 1; i <= 3; i++) c.emit('ask', 'later', 5000, i);
  const got = [];
  for (let i = 0; i < 3; i++) got.push((await c.args('asked'))[0].args[0]);
  assert.deepEqual(got.sort(), [10, 20, 30]);

  // Never answered: SIO_ACK_TIMEOUT "timeout" after the emit's timeout.
  c.s.on('silent', () => { /* no answer */ });
  let t0 = Date.now();
  c.emit('ask', 'silent', 300);
  assert.deepEqual(await c.args('asked'), [{ timeout: 'timeout' }]);
  assert.ok(Date.now() - t0 >= 250, 'not before the timeout');

  // Without a timeout in the emit: the gateway's --ack-timeout.
  t0 = Date.now();
  c.emit('ask', 'silent', null);
  assert.deepEqual(await c.args('asked', ACK_TIMEOUT + 3000), [{ timeout: 'timeout' }]);
  assert.ok(Date.now() - t0 >= ACK_TIMEOUT - 100, 'after --ack-timeout');

  // A late answer (after the timeout) is ignored.
  let lateCb;
  c.s.on('slow', (cb) => { lateCb = cb; });
  c.emit('ask', 'slow', 200);
  assert.deepEqual(await c.args('asked'), [{ timeout: 'timeout' }]);
  lateCb('too late');
  await c.sync();
  assert.equal(c.count('asked'), 0, 'no second answer for one request');

  // Cut by a disconnect: SIO_ACK_TIMEOUT "disconnected".
  const d = await connect(`${m.url}/t-acks`, { transports: ['websocket'] });
  const asked = new Promise((resolve) => d.s.on('pending', () => resolve()));
  d.emit('ask', 'pending', 10000);
  await deadline(asked, 5000, 'the question');
  const did = d.s.id;
  d.close();
  const rec = await waitUntil(async () => {
    c.emit('ack-timeouts');
    const list = (await c.args('ack-timeouts'))[0];
    return list.find((x) => x.id === did) || null;
  }, 5000, 'SIO_ACK_TIMEOUT for the disconnected socket');
  assert.equal(rec.reason, 'disconnected');
  c.close();
});

test('binary both ways, nested in objects and arrays', T, async (t) => {
  const m = await main();
  const payload = () => [
    Buffer.from([1, 2, 3]),
    {
      buf: Buffer.from('hello'),
      list: [new Uint8Array([4, 5, 6]), 'text', { deep: Buffer.from([0, 255, 0]) }, 7],
      empty: Buffer.alloc(0),
    },
    'plain',
    Buffer.from(Array.from({ length: 70000 }, (_, i) => i & 0xff)),
  ];
  for (const transports of [['websocket'], ['polling']]) {
    await t.test(transports[0], async () => {
      const c = await connect(`${m.url}/t-bin`, { transports });
      c.emit('bin', ...payload());
      const back = await c.args('bin');
      assert.deepEqual(norm(back), norm(payload()), 'the event comes back with its binaries');
      assert.ok(Buffer.isBuffer(back[0]) || back[0] instanceof ArrayBuffer, 'as binary, not JSON');

      // Acks carry binary both ways.
      const r = await c.call('ack', { b: Buffer.from([9, 8, 7]) }, Buffer.from([1]));
      assert.deepEqual(norm(r), norm([{ b: Buffer.from([9, 8, 7]) }, Buffer.from([1])]));
      c.s.on('give-bin', (x, cb) => cb({ got: x, mine: Buffer.from([0xde, 0xad]) }));
      c.emit('ask', 'give-bin', 5000, Buffer.from([0xbe, 0xef]));
      assert.deepEqual(norm(await c.args('asked')),
        norm([{ args: [{ got: Buffer.from([0xbe, 0xef]), mine: Buffer.from([0xde, 0xad]) }] }]));

      // A placeholder-looking object from the client is data, not an attachment.
      c.emit('echo', { _placeholder: true, num: 0 });
      assert.deepEqual(await c.args('echo'), [{ _placeholder: true, num: 0 }]);
      c.close();
    });
  }
});

test('rooms: join, leave, to a room, except, several rooms at once', T, async (t) => {
  const m = await main();
  const u = `${m.url}/t-rooms`;
  const a = await connect(u, { transports: ['websocket'] });
  const b = await connect(u, { transports: ['polling'] });
  const c = await connect(u, { transports: ['websocket'], auth: { rooms: ['lobby'] } });
  const quiet = async (clis, ev) => {
    for (const x of clis) {
      await x.sync();
      assert.equal(x.count(ev), 0, `${ev} did not reach ${x.s.id}`);
    }
  };

  await t.test('rooms given at accept', async () => {
    a.emit('to-room', 'lobby', 'hello-lobby', 1);
    assert.deepEqual(await c.args('hello-lobby'), [1]);
    await quiet([a, b], 'hello-lobby');
    c.emit('get-rooms');
    assert.deepEqual(await c.args('my-rooms'), [['lobby']]);
  });

  await t.test('an emit to a room reaches its members only', async () => {
    assert.deepEqual(await a.call('join', 'r1'), ['ok']);
    assert.deepEqual(await b.call('join', 'r1'), ['ok']);
    c.emit('to-room', 'r1', 'news', 'for r1', { n: 1 });
    assert.deepEqual(await a.args('news'), ['for r1', { n: 1 }]);
    assert.deepEqual(await b.args('news'), ['for r1', { n: 1 }]);
    await quiet([c], 'news');
  });

  await t.test('except me', async () => {
    a.emit('to-room-except-me', 'r1', 'news2', 2);
    assert.deepEqual(await b.args('news2'), [2]);
    await quiet([a, c], 'news2');
  });

  await t.test('broadcast to the namespace, and except a room', async () => {
    a.emit('broadcast', 'all', 3);
    for (const x of [a, b, c]) assert.deepEqual(await x.args('all'), [3]);
    c.emit('broadcast-except-room', 'r1', 'not-r1', 4);
    assert.deepEqual(await c.args('not-r1'), [4]);
    await quiet([a, b], 'not-r1');
  });

  await t.test('several rooms at once: each member gets it once', async () => {
    assert.deepEqual(await a.call('join', ['r2', 'r3']), ['ok']);
    assert.deepEqual(await c.call('join', 'r3'), ['ok']);
    c.emit('to-room', ['r1', 'r2', 'r3'], 'multi', 5);
    for (const x of [a, b, c]) assert.deepEqual(await x.args('multi'), [5]);
    await quiet([a, b, c], 'multi');
    // A room and a socket id in the same target list: still once.
    c.emit('to-room', ['r1', a.s.id], 'multi2', 6);
    assert.deepEqual(await a.args('multi2'), [6]);
    assert.deepEqual(await b.args('multi2'), [6]);
    await quiet([a, b, c], 'multi2');
    // To a socket id (its own room).
    c.emit('to-room', b.s.id, 'direct', 7);
    assert.deepEqual(await b.args('direct'), [7]);
    await quiet([a, c], 'direct');
    a.emit('get-rooms');
    assert.deepEqual(sortedIds((await a.args('my-rooms'))[0]), ['r1', 'r2', 'r3'],
      'SIO_EVENT lists the rooms, without the own id room');
  });

  await t.test('leave', async () => {
    assert.deepEqual(await a.call('leave', 'r1'), ['ok']);
    c.emit('to-room', 'r1', 'after-leave', 8);
    assert.deepEqual(await b.args('after-leave'), [8]);
    await quiet([a, c], 'after-leave');
    assert.deepEqual(await b.call('leave', 'r1'), ['ok']);
    c.emit('to-room', 'r1', 'empty-room', 9);
    await quiet([a, b, c], 'empty-room');
    // Leaving a room one is not in is harmless.
    assert.deepEqual(await b.call('leave', 'never-joined'), ['ok']);
    b.emit('echo', 'still fine');
    assert.deepEqual(await b.args('echo'), ['still fine']);
  });

  await t.test('rooms are per namespace', async () => {
    const other = await connect(`${m.url}/t-rooms2`, { transports: ['websocket'] });
    assert.deepEqual(await other.call('join', 'r2'), ['ok']);
    c.emit('to-room', 'r2', 'ns-check', 1);
    assert.deepEqual(await a.args('ns-check'), [1]);
    await quiet([other], 'ns-check');
    other.close();
  });

  await t.test('a disconnected socket leaves its rooms', async () => {
    assert.deepEqual(await b.call('join', 'r9'), ['ok']);
    const bid = b.s.id;
    b.close();
    await waitDisconnect(a, bid);
    a.emit('sockets', 'r9');
    assert.deepEqual((await a.args('sockets'))[0], []);
  });
  a.close();
  c.close();
});

test('queries: rooms and sockets', T, async () => {
  const m = await main();
  const u = `${m.url}/t-query`;
  const a = await connect(u, { transports: ['websocket'], auth: { name: 'alice', rooms: ['q1', 'q2'] } });
  const b = await connect(u, { transports: ['polling'], auth: { name: 'bob', rooms: ['q2'] } });
  a.emit('rooms');
  assert.deepEqual(sortedIds((await a.args('rooms'))[0]), ['q1', 'q2'], 'my rooms, without my id');
  b.emit('rooms');
  assert.deepEqual((await b.args('rooms'))[0], ['q2']);
  b.emit('rooms', null);
  assert.deepEqual(sortedIds((await b.args('rooms'))[0]), ['q1', 'q2'], 'every room of the namespace');
  b.emit('rooms', [a.s.id, b.s.id]);
  assert.deepEqual(sortedIds((await b.args('rooms'))[0]), ['q1', 'q2']);

  a.emit('sockets');
  let socks = (await a.args('sockets'))[0];
  assert.deepEqual(sortedIds(socks.map((s) => s.id)), sortedIds([a.s.id, b.s.id]));
  const sa = socks.find((s) => s.id === a.s.id);
  assert.deepEqual(sortedIds(sa.rooms), ['q1', 'q2']);
  assert.deepEqual(sa.session, { name: 'alice' });
  assert.match(sa.addr, /^127\.0\.0\.1:\d+$/);
  a.emit('sockets', 'q1');
  socks = (await a.args('sockets'))[0];
  assert.deepEqual(socks.map((s) => s.id), [a.s.id], 'the sockets of one room');
  a.emit('sockets', ['q1', 'q2']);
  socks = (await a.args('sockets'))[0];
  assert.deepEqual(sortedIds(socks.map((s) => s.id)), sortedIds([a.s.id, b.s.id]), 'no duplicates');
  a.emit('sockets', 'no-such-room');
  assert.deepEqual((await a.args('sockets'))[0], []);
  a.close();
  b.close();
});

test('server-side disconnect and close', T, async (t) => {
  const m = await main();
  const u = `${m.url}/t-disc`;
  const o = await connect(u, { transports: ['websocket'] });

  for (const transports of [['websocket'], ['polling']]) {
    await t.test(`disconnect (${transports[0]}): "io server disconnect", no reconnection`, async () => {
      const c = await connect(u, { transports, reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
      const id = c.s.id;
      c.emit('disconnect-me');
      const e = await c.next('$disconnect');
      assert.equal(e.reason, 'io server disconnect');
      assert.equal(c.s.active, false, 'the client will not reconnect');
      assert.equal(c.s.connected, false);
      const d = await waitDisconnect(o, id);
      assert.deepEqual(d.map((x) => x.reason), ['server namespace disconnect'], 'the worker is told once');
      c.close();
    });
  }

  await t.test('disconnecting one namespace leaves the other of the same session connected', async () => {
    const mgr = new Manager(m.url, { reconnection: false, transports: ['websocket'] });
    const x = new Cli(null, { nsp: '/t-disc' }, mgr);
    const y = new Cli(null, { nsp: '/chat' }, mgr);
    await x.connected();
    await y.connected();
    x.emit('disconnect-me');
    assert.equal((await x.next('$disconnect')).reason, 'io server disconnect');
    y.emit('echo', 'still here');
    assert.deepEqual(await y.args('echo'), ['still here']);
    assert.equal(y.count('$disconnect'), 0);
    y.close();
    mgr.engine?.close();
  });

  // close=true: like Node's socket.disconnect(true), the socket's 41 goes
  // out first, then the connection closes; the worker hears "forced close"
  // (siogate-protocol(7); Node's server side says "server namespace
  // disconnect").  The client sees "io server disconnect" and stays down.
  for (const transports of [['websocket'], ['polling']]) {
    await t.test(`close (${transports[0]}): the 41 first ("io server disconnect", no reconnection), then the connection closes`,
      async () => {
        const c = await connect(u, { transports, reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
        const id = c.s.id;
        c.emit('close-me');
        const e = await c.next('$disconnect');
        const closed = await c.next('$io_close', 5000);
        assert.equal(e.reason, 'io server disconnect');
        assert.equal(c.s.active, false, 'the client will not reconnect');
        assert.ok(closed, 'the Engine.IO connection closed');
        const d = await waitDisconnect(o, id);
        assert.deepEqual(d.map((x) => x.reason), ['forced close'], 'the worker is told once');
        c.close();
      });
  }

  await t.test('close takes every namespace of the connection; the worker hears "forced close" for each', async () => {
    const mgr = new Manager(m.url, { reconnection: false, transports: ['websocket'] });
    const x = new Cli(null, { nsp: '/t-disc' }, mgr);
    const y = new Cli(null, { nsp: '/t-disc2' }, mgr);
    await x.connected();
    await y.connected();
    const ids = [x.s.id, y.s.id];
    x.emit('close-me');
    assert.equal((await x.next('$disconnect')).reason, 'io server disconnect');
    assert.ok(await y.next('$disconnect'), 'the other namespace goes too');
    assert.deepEqual((await waitDisconnect(o, ids[0])).map((d) => d.reason), ['forced close']);
    const o2 = await connect(`${m.url}/t-disc2`, { transports: ['websocket'] });
    assert.deepEqual((await waitDisconnect(o2, ids[1])).map((d) => d.reason), ['forced close']);
    o2.close();
    x.close();
    y.close();
    mgr.engine?.close();
  });

  await t.test('a room of sockets disconnected at once', async () => {
    const xs = [];
    for (let i = 0; i < 3; i++) xs.push(await connect(u, { transports: ['websocket'], auth: { rooms: ['doomed'] } }));
    o.emit('disconnect-room', 'doomed');
    for (const x of xs) assert.equal((await x.next('$disconnect')).reason, 'io server disconnect');
    await o.sync();
    assert.equal(o.count('$disconnect'), 0, 'the others stay');
    xs.forEach((x) => x.close());
  });
  o.close();
});

test('client-side disconnect: the worker gets the reason once', T, async (t) => {
  const m = await main();
  const u = `${m.url}/t-cdisc`;
  const o = await connect(u, { transports: ['websocket'] });
  for (const transports of [['websocket'], ['polling']]) {
    await t.test(`socket.disconnect() (${transports[0]}): "client namespace disconnect"`, async () => {
      const c = await connect(u, { transports });
      const id = c.s.id;
      c.s.disconnect();
      const d = await waitDisconnect(o, id);
      assert.deepEqual(d.map((x) => x.reason), ['client namespace disconnect']);
      c.close();
      await o.sync();
      assert.equal((await disconnectsOf(o, id)).length, 1, 'still once after the transport closed');
    });
  }
  await t.test('transport closed by the client: "transport close"', async () => {
    const c = await connect(u, { transports: ['websocket'] });
    const id = c.s.id;
    c.s.io.engine.close();
    const d = await waitDisconnect(o, id);
    assert.deepEqual(d.map((x) => x.reason), ['transport close']);
    c.close();
  });
  await t.test('a disconnected socket id is gone for the worker', async () => {
    const c = await connect(u, { transports: ['websocket'] });
    const id = c.s.id;
    c.s.disconnect();
    await waitDisconnect(o, id);
    o.emit('sockets');
    const ids = (await o.args('sockets'))[0].map((s) => s.id);
    assert.ok(!ids.includes(id));
    c.close();
  });
  o.close();
});

test('a write-only emitter (credit 0, no namespace) reaches a room', T, async () => {
  const m = await main();
  const u = `${m.url}/t-emit`;
  const a = await connect(u, { transports: ['websocket'], auth: { rooms: ['news'] } });
  const b = await connect(u, { transports: ['polling'] });
  const em = await startWorker(m.gw.bridge, ['--emitter', '--name', 'emitter',
    '--emit', JSON.stringify({ nsp: '/t-emit', ev: 'bulletin', args: [1, 'x', { y: [2] }], to: ['news'] }),
    '--emit', JSON.stringify({ nsp: '/t-emit', ev: 'everyone', args: [] })], 'emitter');
  await em.waitLog(/emitted 2/);
  const r = await deadline(em.exitP, 5000, 'the emitter to exit');
  await em.stop();
  assert.equal(r.code, 0);
  assert.deepEqual(await a.args('bulletin'), [1, 'x', { y: [2] }]);
  await b.sync();
  assert.equal(b.count('bulletin'), 0, 'not to a non-member');
  assert.deepEqual(await a.args('everyone'), []);
  assert.deepEqual(await b.args('everyone'), []);
  assert.ok(m.gw.logs.some((l) => /worker \d+ \(emitter\) registered: serves none credit 0/.test(l)),
    'the gateway registered it as an emitter');
  a.close();
  b.close();
});

test('two workers on one namespace: spread, sticky and in order; one killed', T, async (t) => {
  const m = await main();
  // Short heartbeats so that a killed worker is noticed within a second.
  await m.addWorker('wP1', ['--nsp', '/pair', '--hb', '250']);
  await m.addWorker('wP2', ['--nsp', '/pair', '--hb', '250']);
  const u = `${m.url}/pair`;
  const cs = [];
  for (let i = 0; i < 8; i++) {
    cs.push(await connect(u, {
      transports: i % 2 ? ['polling'] : ['websocket'], reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100,
    }));
  }
  const who = async (c) => { c.emit('whoami'); return (await c.args('whoami'))[0]; };

  await t.test('sockets spread across both workers', async () => {
    const names = [];
    for (const c of cs) names.push(await who(c));
    assert.deepEqual([...new Set(names)].sort(), ['wP1', 'wP2']);
    const n1 = names.filter((x) => x === 'wP1').length;
    assert.ok(n1 >= 2 && n1 <= 6, `balanced enough (${n1} of 8 on wP1)`);
  });

  await t.test("each socket's events reach one worker, in order", async () => {
    for (const c of cs) for (let i = 0; i < 40; i++) c.emit('echo', i);
    for (const c of cs) {
      for (let i = 0; i < 40; i++) assert.deepEqual(await c.args('echo'), [i]);
      assert.equal(await who(c), await who(c), 'sticky');
      c.emit('seq');
      const seqs = (await c.args('seq'))[0];
      // connect, whoami (spread), 40 echoes, 2 whoami (sticky), seq: all on one worker
      assert.equal(seqs.length, 1 + 1 + 40 + 2 + 1, `every event reached the one worker: ${seqs}`);
      assert.equal(seqs[0], 0, 'SIO_CONNECT is seq 0');
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] === seqs[i - 1] + 1, `seq strictly increasing: ${seqs}`);
    }
  });

  let victims = [];
  await t.test('a worker killed with SIGKILL: its clients end up on the other, the rest is untouched', async () => {
    const names = [];
    for (const c of cs) names.push(await who(c));
    victims = cs.filter((_, i) => names[i] === 'wP2');
    const keepers = cs.filter((_, i) => names[i] === 'wP1');
    for (const c of cs) { c.mark = c.all.length; c.oldId = c.s.id; }
    await m.w.wP2.kill();
    await m.gw.waitLog(/worker \d+ \(wP2\) dropped/, 5000);
    for (const c of victims) {
      // Asked again until answered: an emit may be lost while the client reconnects.
      await waitUntil(async () => {
        c.emit('whoami');
        const r = await c.next('whoami', 500).catch(() => null);
        return r && r.args[0] === 'wP1';
      }, 8000, 'the victim to be served by wP1');
      c.emit('echo', 'moved');
      assert.deepEqual(await c.args('echo', 5000, (e) => e.args[0] === 'moved'), ['moved']);
    }
    for (const c of keepers) {
      c.emit('echo', 'unaffected');
      assert.deepEqual(await c.args('echo'), ['unaffected']);
      assert.equal(c.all.slice(c.mark).filter((e) => e.ev === '$disconnect').length, 0,
        'the other worker\'s clients stay connected');
    }
  });

  // Since 3e0bd9f a lost worker's sockets move to another worker of their
  // namespace (SIO_CONNECT reply=false, moved=true) and the clients see
  // nothing; siogate-protocol(7) still says the connections close.
  await t.test('... without the clients noticing: same socket, moved=true on the new worker', async () => {
    assert.ok(victims.length > 0);
    for (const c of victims) {
      assert.equal(c.all.slice(c.mark).filter((e) => e.ev === '$disconnect').length, 0, 'no disconnect');
      assert.equal(c.s.id, c.oldId, 'the same socket');
      c.emit('connects', c.s.id);
      const recs = (await c.args('connects'))[0];
      assert.equal(recs.length, 1, `wP1 learnt of it once: ${JSON.stringify(recs)}`);
      assert.equal(recs[0].moved, true);
      assert.equal(recs[0].reply, false);
    }
  });
  cs.forEach((c) => c.close());
  await m.w.wP1.stop();
  await m.w.wP2.stop();
});

test('no worker: "Invalid namespace"; the last worker leaving disconnects its clients', T, async () => {
  const s = await startSioStack([], {});
  try {
    const c = new Cli(`${s.url}/`, { transports: ['websocket'] });
    assert.equal((await c.next('$connect_error')).err.message, 'Invalid namespace');
    c.close();
    const w = await s.addWorker('solo', ['--nsp', '/']);
    const d = await connect(`${s.url}/`, { transports: ['websocket'] });
    d.emit('whoami');
    assert.deepEqual(await d.args('whoami'), ['solo']);
    await w.stop();			// BYE: the gateway drops it at once
    assert.equal((await d.next('$disconnect')).reason, 'transport close');
    d.close();
    const e = new Cli(`${s.url}/`, { transports: ['polling'] });
    assert.equal((await e.next('$connect_error')).err.message, 'Invalid namespace');
    e.close();
  } finally {
    await s.stop();
  }
});

/* ------------------------------------------------------- raw WebSocket */

/* A raw Engine.IO websocket on the Socket.IO endpoint; resolves after the open packet. */
async function rawSio(m) {
  const c = openWs(`${m.wsUrl}/socket.io/?EIO=4&transport=websocket`);
  const first = await c.nextText();
  assert.equal(first[0], '0', `open packet, got ${first}`);
  return c;
}

/* Next Engine.IO message packet's payload (skipping pings, which are answered). */
async function rawNext(c, ms = 5000) {
  for (;;) {
    const m = await c.nextMessage(ms);
    if (m.binary) return m.data;
    if (m.data === '2') { c.send('3'); continue; }
    assert.equal(m.data[0], '4', `a message packet, got ${m.data}`);
    return m.data.slice(1);
  }
}

test('a client that never sends CONNECT is dropped after --connect-timeout', T, async () => {
  const m = await main();
  const t0 = Date.now();
  const idle = await rawSio(m);
  const info = await idle.closed(CONNECT_TIMEOUT + 3000);
  const dt = Date.now() - t0;
  assert.ok(dt >= CONNECT_TIMEOUT - 100, `not before the timeout (${dt} ms)`);
  assert.ok(info, 'closed');

  // One that connected in time stays past the timeout (time passing is the point here).
  const ok = await rawSio(m);
  ok.send('40');
  assert.match(await rawNext(ok), /^0\{"sid":"SioT[\w-]{20}"\}$/);
  await sleep(CONNECT_TIMEOUT + 300);
  ok.send('42["echo","alive"]');
  assert.equal(await rawNext(ok), '2["echo","alive"]');
  ok.close();
});

test('malformed Socket.IO packets close that connection only', T, async (t) => {
  const m = await main();
  const good = await connect(`${m.url}/`, { transports: ['websocket'] });
  // Socket.IO payloads; each string is sent as an Engine.IO message ("4" + it).
  const cases = [
    ['unknown packet type', ['7']],
    ['unknown packet type before any CONNECT', ['9'], { noConnect: true }],
    ['bad JSON in an event', ['2["echo",']],
    ['an event payload that is not an array', ['2{"a":1}']],
    ['an empty event array', ['2[]']],
    ['an event name that is an object', ['2[{}]']],
    ['the reserved event name "connect"', ['2["connect"]']],
    ['the reserved event name "disconnecting"', ['2["disconnecting"]']],
    ['too many attachments', ['5100-["bin",{"_placeholder":true,"num":0}]']],
    ['a malformed attachment count', ['5x-["bin"]']],
    ['a binary attachment without a header', [Buffer.from([1, 2, 3])]],
    ['text while attachments are expected', ['51-["bin",{"_placeholder":true,"num":0}]', '2["echo","x"]']],
    ['a placeholder number beyond the attachments', ['51-["bin",{"_placeholder":true,"num":5}]', Buffer.from([1])]],
    ['a CONNECT payload that is not an object', ['0/chat,"str"']],
    ['an ack with junk instead of an id', ['3abc']],
    ['an ack id too large for JavaScript', ['399999999999999999[]']],
    ['a DISCONNECT with a payload', ['1{}']],
    ['a CONNECT_ERROR packet from a client', ['4{"message":"x"}']],
  ];
  for (const [what, sends, opts = {}] of cases) {
    await t.test(what, async () => {
      const c = await rawSio(m);
      if (!opts.noConnect) {
        c.send('40');
        assert.match(await rawNext(c), /^0\{"sid"/);
      }
      const mark = m.gw.mark();
      for (const s of sends) c.send(typeof s === 'string' ? `4${s}` : s);
      const info = await c.closed(5000);
      assert.ok(info, 'the connection is closed');
      await m.gw.waitLog(/bad Socket\.IO packet|parse error/, 3000, mark);
      good.emit('echo', what);
      assert.deepEqual(await good.args('echo'), [what], 'another client is unaffected');
    });
  }
  await t.test('a second CONNECT to a connected namespace is ignored (siogate-protocol(7))', async () => {
    const c = await rawSio(m);
    c.send('40');
    const first = await rawNext(c);
    assert.match(first, /^0\{"sid"/);
    c.send('40');
    c.send('40{"name":"again"}');
    c.send('42["echo","x"]');
    assert.equal(await rawNext(c), '2["echo","x"]', 'no second CONNECT answer');
    c.send('42["get-session"]');
    assert.equal(await rawNext(c), '2["session",{}]', 'the first socket is the one in use');
    c.close();
  });

  // Node (socket.io 4.8, Client#ondecoded: "invalid state") closes the
  // connection on any packet but CONNECT for a namespace the client has not
  // joined; so does the gateway.
  for (const [what, sends, opts = {}] of [
    ['an event for a namespace not connected', ['2/chat,["echo","nope"]']],
    ['an event before any CONNECT', ['2["echo","early"]'], { noConnect: true }],
    ['a DISCONNECT for a namespace not connected', ['1/chat,']],
  ]) {
    await t.test(`${what} closes the connection, like Node`, async () => {
      const c = await rawSio(m);
      if (!opts.noConnect) {
        c.send('40');
        await rawNext(c);
      }
      for (const x of sends) c.send(`4${x}`);
      // Then something that gets an answer unless the connection is closed.
      c.send(opts.noConnect ? '40' : '42["echo","after"]');
      const reply = await rawNext(c, 3000).catch(() => null);
      assert.equal(reply, null, 'no answer: the connection is closed');
      assert.ok(c.isClosed());
    });
  }
  assert.equal(good.count('$disconnect'), 0);
  good.close();
});

test('garbage from a worker gets an ERROR and affects nobody else', T, async (t) => {
  const m = await main();
  const g = await m.addWorker('wG', ['--nsp', '/garbage']);
  const c = await connect(`${m.url}/garbage`, { transports: ['websocket'] });
  const other = await connect(`${m.url}/`, { transports: ['polling'] });
  const cases = {
    'not-msgpack': { code: BR_E.BAD_MESSAGE },
    'not-map': { code: BR_E.BAD_MESSAGE },
    empty: { code: BR_E.BAD_MESSAGE },
    'no-version': { code: BR_E.BAD_MESSAGE },
    'bad-version': { code: BR_E.BAD_VERSION },
    'unknown-type': { code: BR_E.UNKNOWN_TYPE, ref: 69 },
    'wrong-direction': { code: BR_E.BAD_MESSAGE, ref: BR_T.SIO_EVENT },
    'two-frames': { code: BR_E.BAD_MESSAGE },
    'emit-no-ev': { code: BR_E.BAD_MESSAGE, ref: BR_T.SIO_EMIT },
    'emit-ev-not-str': { code: BR_E.BAD_MESSAGE, ref: BR_T.SIO_EMIT },
    'emit-args-not-array': { code: BR_E.BAD_MESSAGE, ref: BR_T.SIO_EMIT },
    'emit-req-many': { code: BR_E.BAD_MESSAGE, ref: BR_T.SIO_EMIT },
    'emit-req-none': { code: BR_E.BAD_MESSAGE, ref: BR_T.SIO_EMIT },
    'ack-gone': { code: BR_E.UNKNOWN_SID, ref: BR_T.SIO_ACK, gone: true },
    'ack-no-args': { code: BR_E.BAD_MESSAGE, ref: BR_T.SIO_ACK },
    'accept-connected': { code: BR_E.UNKNOWN_SID, ref: BR_T.SIO_ACCEPT },
    'reject-gone': { code: BR_E.UNKNOWN_SID, ref: BR_T.SIO_REJECT, gone: true },
    'join-no-rooms': { code: BR_E.BAD_MESSAGE, ref: BR_T.SIO_JOIN },
    'join-no-to': { code: BR_E.BAD_MESSAGE, ref: BR_T.SIO_JOIN },
    'join-gone': { code: BR_E.UNKNOWN_SID, ref: BR_T.SIO_JOIN, gone: true },
    'disconnect-gone': { code: BR_E.UNKNOWN_SID, ref: BR_T.SIO_DISCONNECT_SOCKETS, gone: true },
    'session-not-map': { code: BR_E.BAD_MESSAGE, ref: BR_T.SIO_SET_SESSION },
    'session-gone': { code: BR_E.UNKNOWN_SID, ref: BR_T.SIO_SET_SESSION, gone: true },
    'query-bad-what': { code: BR_E.BAD_MESSAGE, ref: BR_T.SIO_QUERY },
    'query-no-req': { code: BR_E.BAD_MESSAGE, ref: BR_T.SIO_QUERY },
  };
  for (const [kind, want] of Object.entries(cases)) {
    await t.test(kind, async () => {
      c.emit('bad-cmd', kind);
      const [err] = await c.args('error-reply');
      assert.equal(err.t, 4, 'an ERROR');
      assert.equal(err.code, want.code, `code ${want.code}: ${JSON.stringify(err)}`);
      if (want.ref !== undefined) assert.equal(err.ref, want.ref, `ref ${want.ref}: ${JSON.stringify(err)}`);
      if (want.gone) assert.equal(err.sid, `${GWID}${'x'.repeat(20)}`, 'names the id');
      assert.equal(typeof err.text, 'string');
      c.emit('echo', kind);
      assert.deepEqual(await c.args('echo'), [kind], 'the worker is still served');
      other.emit('echo', kind);
      assert.deepEqual(await other.args('echo'), [kind], 'another worker\'s client is unaffected');
    });
  }
  assert.equal(c.count('$disconnect'), 0);
  assert.ok(!g.exited(), 'the worker is still running');
  c.close();
  other.close();
  await g.stop();
  await assertGatewaysAlive(fx);
});
