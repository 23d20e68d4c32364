// sio_v2_client.test.mjs: Socket.IO 2.x clients (Engine.IO v3, Socket.IO
// protocol v4) against the gateway with --allow-eio3: the npm
// `socket.io-client` 2.5 (installed as the alias socket.io-client-v2, next to
// 4.x) over polling, WebSocket and the upgrade, on "/" and other namespaces,
// with events, multi-argument acks, binary, rooms shared with 4.x clients,
// server-to-client acks, connect errors and disconnects; plus raw v3
// requests: the handshake, heartbeats in the v3 direction, payload framing
// (UTF-16 lengths, XHR2 binary payloads, JSONP) and hostile payloads.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { io as io4 } from 'socket.io-client';
import {
  deadline, waitUntil, fixtures, assertGatewaysAlive, get, post, request, startStack, EIO_PATH,
} from '../lib/harness.mjs';
import { skipReason, startSioStack, Inbox } from '../lib/sio_stack.mjs';

const require = createRequire(import.meta.url);
const io2 = require('socket.io-client-v2');

const GWID = 'SioV';
const SKIP = skipReason();
const T = { timeout: 30000, skip: SKIP };
const PATH = '/socket.io/';

const fx = fixtures();
/* Worker wA serves "/", "/chat" and every "/t-*". */
const main = fx.lazy(() => startSioStack(['--allow-eio3', 'yes', '--ping-interval', '400',
  '--ping-timeout', '300', '--connect-timeout', '1500', '--ack-timeout', '1000'],
{ wA: ['--nsp', '/,/chat,/t-*'] }, GWID));
/* A raw Engine.IO endpoint with the echo worker. */
const echo = fx.lazy(() => startStack(['--allow-eio3', 'yes']));
/* The same without --allow-eio3 (the default). */
const plain = fx.lazy(() => startSioStack([], { wA: ['--nsp', '/'] }, GWID));

const clients = new Set();
after(async () => {
  for (const c of clients) c.close();
  await fx.stopAll();
});

const EVENTS = ['echo', 'bin', 'news', 'asked', 'connects', 'disconnects', 'room-news', 'ping-me'];

/* A socket.io-client 2.x (or 4.x: v4 = true) socket with an awaitable queue of what it got. */
class Cli extends Inbox {
  constructor(url, opts = {}, v4 = false) {
    super();
    const o = { forceNew: true, reconnection: false, timeout: 5000, ...opts };
    this.s = v4 ? io4(url, o) : io2(url, o);
    clients.add(this);
    for (const ev of EVENTS) this.s.on(ev, (...args) => this.push({ ev, args }));
    this.s.on('connect', () => this.push({ ev: '$connect' }));
    this.s.on('error', (err) => this.push({ ev: '$error', err }));
    this.s.on('connect_error', (err) => this.push({ ev: '$connect_error', err }));
    this.s.on('disconnect', (reason) => this.push({ ev: '$disconnect', reason }));
  }

  async args(ev, ms = 5000, pred = undefined) {
    return (await this.next(ev, ms, pred)).args;
  }

  async connected(ms = 5000) {
    await Promise.race([this.next('$connect', ms),
      this.next('$error', ms).then((x) => { throw new Error(`error: ${JSON.stringify(x.err)}`); })]);
    return this;
  }

  emit(...a) {
    this.s.emit(...a);
  }

  call(ev, ...args) {
    return deadline(new Promise((resolve) => this.s.emit(ev, ...args, (...r) => resolve(r))),
      5000, `the ack of '${ev}'`);
  }

  engine() {
    return this.s.io.engine;
  }

  async upgraded() {
    await deadline(new Promise((resolve) => {
      if (this.engine().transport.name === 'websocket') resolve();
      else this.engine().once('upgrade', resolve);
    }), 5000, 'the upgrade to websocket');
  }

  close() {
    clients.delete(this);
    this.s.close();
  }
}

const connect = (url, opts, v4) => new Cli(url, opts, v4).connected();

const hex = (b) => Buffer.from(b).toString('hex');

const VARIANTS = [
  ['websocket', { transports: ['websocket'] }],
  ['polling', { transports: ['polling'] }],
  ['polling, base64 (b64=1)', { transports: ['polling'], forceBase64: true }],
  ['default (polling, then upgrade)', {}],
];

test('2.x client: "/" and "/chat" on every transport: events, acks, binary, unicode', T, async (t) => {
  const m = await main();
  for (const [label, opts] of VARIANTS) {
    await t.test(label, async () => {
      for (const nsp of ['/', '/chat']) {
        const c = await connect(`${m.url}${nsp}`, opts);
        if (!opts.transports) await c.upgraded();
        assert.equal(c.engine().transport.name, opts.transports ? opts.transports[0] : 'websocket');
        // Text beyond the BMP: its UTF-16 length differs from its UTF-8 one.
        const text = 'h\u00e9 \u4e2d \u{1F600}\u{1D11E} end';
        c.emit('echo', nsp, text, { n: 1 });
        assert.deepEqual(await c.args('echo'), [nsp, text, { n: 1 }]);
        // Several packets in one payload, in order.
        for (let i = 0; i < 5; i++) c.emit('echo', i, '\u{1F600}'.repeat(i));
        for (let i = 0; i < 5; i++) assert.deepEqual(await c.args('echo'), [i, '\u{1F600}'.repeat(i)]);
        assert.deepEqual(await c.call('ack', 1, 'two', { three: [3] }), [1, 'two', { three: [3] }]);
        const blob = Buffer.from([0, 1, 2, 250, 255]);
        c.emit('bin', 'x', blob, { inner: Buffer.from('\u00ff\u00fe', 'latin1') });
        const got = await c.args('bin');
        assert.equal(got[0], 'x');
        assert.equal(hex(got[1]), hex(blob));
        assert.equal(hex(got[2].inner), 'fffe');
        c.close();
      }
    });
  }
});

test('2.x client: the worker sees eio 3 and the namespace query as auth; errors are strings or data', T, async () => {
  const m = await main();
  const c = await connect(`${m.url}/chat`, { transports: ['websocket'], query: { name: 'ann', x: 'a b&c' } });
  c.emit('connects');
  const recs = (await c.args('connects'))[0];
  const mine = recs.filter((r) => r.nsp === '/chat');
  const last = mine[mine.length - 1];
  assert.equal(last.eio, 3);
  assert.equal(last.transport, 'websocket');
  assert.equal(last.auth.name, 'ann');
  assert.equal(last.auth.x, 'a b&c');
  assert.ok(recs.some((r) => r.nsp === '/' && r.sid === last.sid), 'the implicit "/" connect of the same session');
  c.close();
  // A rejection with data: the 2.x client's 'error' event gets the data.
  const r = new Cli(`${m.url}/chat`, { transports: ['polling'], query: { token: 'bad' } });
  const e = await r.next('$error');
  assert.deepEqual(e.err, { code: 42 });
  r.close();
  // An unserved namespace: "Invalid namespace".
  const u = new Cli(`${m.url}/nobody`, { transports: ['websocket'] });
  assert.equal((await u.next('$error')).err, 'Invalid namespace');
  u.close();
});

test('rooms and broadcasts mix 2.x and 4.x clients (binary included)', T, async () => {
  const m = await main();
  const a = await connect(`${m.url}/t-mix`, { transports: ['websocket'] });
  const b = await connect(`${m.url}/t-mix`, { transports: ['polling'] });
  const c = await connect(`${m.url}/t-mix`, { transports: ['websocket'] }, true);
  const d = await connect(`${m.url}/t-mix`, { transports: ['polling'] }, true);
  for (const x of [a, b, c, d]) assert.deepEqual(await x.call('join', 'r'), ['ok']);
  const blob = Buffer.from('\u00000123', 'latin1');
  a.emit('to-room', 'r', 'room-news', 'hi \u{1F600}', blob);
  for (const x of [a, b, c, d]) {
    const got = await x.args('room-news');
    assert.equal(got[0], 'hi \u{1F600}');
    assert.equal(hex(got[1]), hex(blob));
  }
  d.emit('broadcast', 'news', 42);
  for (const x of [a, b, c, d]) assert.deepEqual(await x.args('news'), [42]);
  for (const x of [a, b, c, d]) x.close();
});

test('2.x client: server-to-client acks and disconnects both ways', T, async () => {
  const m = await main();
  for (const transports of [['websocket'], ['polling']]) {
    const c = await connect(`${m.url}/chat`, { transports });
    c.s.on('ping-me', (x, fn) => fn('pong', x, Buffer.from([7])));
    c.emit('ask', 'ping-me', 2000, 'arg');
    const asked = (await c.args('asked'))[0];
    assert.equal(asked.args[0], 'pong');
    assert.equal(asked.args[1], 'arg');
    c.emit('disconnect-me');
    assert.equal((await c.next('$disconnect')).reason, 'io server disconnect');
    c.close();
    // A client-side disconnect reaches the worker.
    const d = await connect(`${m.url}/chat`, { transports });
    const o = await connect(`${m.url}/chat`, { transports: ['websocket'] });
    d.emit('echo', 'me');
    await d.args('echo');
    o.emit('connects');
    const recs = (await o.args('connects'))[0].filter((r) => r.nsp === '/chat');
    const id = recs[recs.length - 2].id;
    d.s.disconnect();
    await waitUntil(async () => {
      o.emit('disconnects', id);
      const got = (await o.args('disconnects'))[0];
      return got.length > 0 ? got : null;
    }, 5000, 'the worker to see the disconnect');
    o.close();
  }
});

test('2.x client: heartbeats run the v3 way (client pings) past several intervals', T, async () => {
  const m = await main();
  const c = await connect(`${m.url}/`, { transports: ['polling'] });
  const w = await connect(`${m.url}/`, { transports: ['websocket'] });
  let pongs = 0;
  c.engine().on('pong', () => { pongs++; });
  await waitUntil(() => pongs >= 3, 5000, 'three pongs');
  c.emit('echo', 'alive');
  assert.deepEqual(await c.args('echo'), ['alive']);
  w.emit('echo', 'alive');
  assert.deepEqual(await w.args('echo'), ['alive']);
  assert.equal(c.q.filter((e) => e.ev === '$disconnect').length, 0);
  c.close();
  w.close();
});

/* ------------------------------------------------------------ raw v3 */

/* A v3 polling handshake; returns {sid, open, body}. */
async function handshake3(port, extra = '') {
  const r = await get(port, `${PATH}?EIO=3&transport=polling${extra}`);
  assert.equal(r.status, 200, r.body);
  const m = /^(\d+):0(\{.*?\})/.exec(r.body);
  assert.ok(m, `a length-prefixed open packet: ${r.body}`);
  assert.equal(Number(m[1]), 1 + m[2].length);
  const open = JSON.parse(m[2]);
  return { sid: open.sid, open, body: r.body, res: r };
}

test('raw v3: handshake, refused without --allow-eio3, heartbeat timeout', T, async () => {
  const p = await plain();
  const r = await get(p.gw.port, `${PATH}?EIO=3&transport=polling`);
  assert.equal(r.status, 400);
  assert.deepEqual(JSON.parse(r.body), { code: 5, message: 'Unsupported protocol version' });
  const m = await main();
  const h = await handshake3(m.gw.port);
  assert.deepEqual(Object.keys(h.open).sort(), ['pingInterval', 'pingTimeout', 'sid', 'upgrades']);
  assert.equal(h.open.pingInterval, 400);
  assert.deepEqual(h.open.upgrades, ['websocket']);
  assert.match(h.res.headers['content-type'], /^text\/plain/);
  // The implicit "/" CONNECT comes next, with no payload.
  const g = await get(m.gw.port, `${PATH}?EIO=3&transport=polling&sid=${h.sid}`);
  assert.equal(g.body, '2:40');
  // A ping gets a pong; a session that stops pinging is closed after interval + timeout.
  const t0 = Date.now();
  const pr = post(m.gw.port, `${PATH}?EIO=3&transport=polling&sid=${h.sid}`, '1:2');
  const pong = await get(m.gw.port, `${PATH}?EIO=3&transport=polling&sid=${h.sid}`);
  assert.equal((await pr).body, 'ok');
  assert.equal(pong.body, '1:3');
  const end = await get(m.gw.port, `${PATH}?EIO=3&transport=polling&sid=${h.sid}`, { ms: 3000 });
  const took = Date.now() - t0;
  assert.equal(end.body, '1:1', 'the close packet ends the parked GET');
  assert.ok(took >= 600 && took < 2500, `closed after ${took} ms (interval 400 + timeout 300)`);
  const gone = await get(m.gw.port, `${PATH}?EIO=3&transport=polling&sid=${h.sid}`);
  assert.equal(gone.status, 400);
});

test('raw v3: payload framing both ways (UTF-16 lengths, binary payloads, JSONP)', T, async () => {
  const m = await main();
  const h = await handshake3(m.gw.port);
  const q = `${PATH}?EIO=3&transport=polling&sid=${h.sid}`;
  assert.equal((await get(m.gw.port, q)).body, '2:40');
  // Two events in one POST; "\u{1F600}" is 2 UTF-16 units and 4 UTF-8 bytes.
  const ev1 = '42["echo","\u{1F600}"]';
  const ev2 = '42["echo","\u00e9"]';
  assert.equal(ev1.length, 15);
  const r = await post(m.gw.port, q, `${ev1.length}:${ev1}${ev2.length}:${ev2}`);
  assert.equal(r.body, 'ok');
  let body = '';
  await waitUntil(async () => {
    body += (await get(m.gw.port, q)).body;
    return body.length >= ev1.length + ev2.length + 6;
  }, 5000, 'both echoes');
  assert.equal(body, `${ev1.length}:${ev1}${ev2.length}:${ev2}`);
  // An XHR2 binary payload in: a binary event with its attachment.
  const text = Buffer.from('451-["bin",{"_placeholder":true,"num":0}]');
  const att = Buffer.from([4, 9, 8, 7]);
  const digits = (n) => Buffer.from(String(n).split('').map(Number));
  const bin = Buffer.concat([Buffer.from([0]), digits(text.length), Buffer.from([255]), text,
    Buffer.from([1]), digits(att.length), Buffer.from([255]), att]);
  const rb = await request(m.gw.port, { method: 'POST', path: q, body: bin,
    headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(rb.body, 'ok');
  const back = await request(m.gw.port, { method: 'GET', path: q, raw: true });
  assert.match(back.headers['content-type'], /^application\/octet-stream/);
  const expect = Buffer.concat([Buffer.from([0]), digits(text.length), Buffer.from([255]), text,
    Buffer.from([1]), digits(att.length), Buffer.from([255]), att]);
  assert.equal(hex(back.raw || Buffer.from(back.body, 'latin1')), hex(expect));
  // JSONP: a handshake with j= from an allowed page (same origin by the Referer).
  const jr = await get(m.gw.port, `${PATH}?EIO=3&transport=polling&j=3`,
    { headers: { referer: `http://127.0.0.1:${m.gw.port}/page.html` } });
  assert.equal(jr.status, 200);
  const jm = /^___eio\[3\]\((".*")\);$/.exec(jr.body);
  assert.ok(jm, jr.body);
  const sid = JSON.parse(/^\d+:0(.*)$/.exec(JSON.parse(jm[1]))[1]).sid;
  const jq = `${PATH}?EIO=3&transport=polling&j=3&sid=${sid}`;
  assert.equal((await get(m.gw.port, jq)).body, '___eio[3]("2:40");');
  const payload = `${ev1.length}:${ev1}`;
  const jp = await post(m.gw.port, jq, `d=${encodeURIComponent(payload)}`,
    { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(jp.body, 'ok');
  assert.equal((await get(m.gw.port, jq)).body, `___eio[3](${JSON.stringify(payload)});`);
  // No Referer (or a foreign one): refused.
  const jx = await get(m.gw.port, `${PATH}?EIO=3&transport=polling&j=0`,
    { headers: { referer: 'http://evil.example/x' } });
  assert.equal(jx.status, 403);
  const jn = await get(m.gw.port, `${PATH}?EIO=3&transport=polling&j=0`);
  assert.equal(jn.status, 403);
});

test('raw v3: hostile payloads get 400 and close only their session', T, async () => {
  const m = await main();
  const keep = await connect(`${m.url}/`, { transports: ['websocket'] });
  for (const [what, body] of [
    ['no length', ':42["echo"]'],
    ['non-digit length', '1x:4'],
    ['length past the body', '99:42["echo"]'],
    ['huge count', `${'9'.repeat(40)}:4`],
    ['length splitting a surrogate pair', '12:42["echo","\u{1F600}"]'],
    ['missing colon at the end', '3'],
    ['not UTF-8', Buffer.from([0x33, 0x3a, 0x34, 0xff, 0xfe])],
    ['bad binary type', 'b3:b2AAAA'],
  ]) {
    const h = await handshake3(m.gw.port);
    const q = `${PATH}?EIO=3&transport=polling&sid=${h.sid}`;
    const r = await post(m.gw.port, q, body);
    assert.equal(r.status, 400, `${what}: ${r.status} ${r.body}`);
    const after2 = await get(m.gw.port, q);
    assert.equal(after2.status, 400, `${what}: the session is gone`);
  }
  for (const [what, bytes] of [
    ['bad marker', [7, 1, 255, 52]],
    ['bad digit', [0, 12, 255, 52]],
    ['length past the body', [0, 9, 9, 255, 52]],
    ['huge count', [0, ...Array(40).fill(9), 255, 52]],
    ['no 0xff', [0, 1, 2, 3]],
  ]) {
    const h = await handshake3(m.gw.port);
    const q = `${PATH}?EIO=3&transport=polling&sid=${h.sid}`;
    const r = await request(m.gw.port, { method: 'POST', path: q, body: Buffer.from(bytes),
      headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(r.status, 400, `binary ${what}: ${r.status} ${r.body}`);
  }
  keep.emit('echo', 'still here');
  assert.deepEqual(await keep.args('echo'), ['still here']);
  keep.close();
  await assertGatewaysAlive(fx);
});

test('raw Engine.IO v3 endpoint: the echo worker gets text and binary messages', T, async () => {
  const m = await echo();
  for (const b64 of [false, true]) {
    const r = await get(m.port, `${EIO_PATH}?EIO=3&transport=polling${b64 ? '&b64=1' : ''}`);
    const sid = JSON.parse(/^\d+:0(.*)$/.exec(r.body)[1]).sid;
    const q = `${EIO_PATH}?EIO=3&transport=polling&sid=${sid}`;
    assert.equal((await post(m.port, q, '5:4h\u00e9lo4:4\u{1F600}!')).body, 'ok');
    let body = '';
    await waitUntil(async () => {
      body += (await get(m.port, q)).body;
      return body.length >= 13 ? body : null;
    }, 5000, 'the echoes');
    assert.equal(body, '5:4h\u00e9lo4:4\u{1F600}!');
    assert.equal((await post(m.port, q, '6:b4AQID')).body, 'ok');
    const back = await get(m.port, q);
    if (b64) {
      assert.equal(back.body, '6:b4AQID');
    } else {
      assert.match(back.headers['content-type'], /^application\/octet-stream/);
      assert.equal(hex(back.raw), '0104ff04010203');
    }
  }
});
