// cluster.test.mjs: gateways clustered over Redis with the wire format of
// @socket.io/redis-adapter (siogate.conf(5) [cluster]).  A real
// redis-server on a private port; two siogate gateways (GWca, GWcb), each
// with its scriptable worker (tests/lib/sio_test_worker.py); a Node
// socket.io 4.8 server with @socket.io/redis-adapter 8.3 in this process;
// @socket.io/redis-emitter; the official client on each server.  Covers
// broadcasts both ways (rooms, except, binary), a command for a socket of
// another gateway, the emitter's emit/socketsJoin/socketsLeave/
// disconnectSockets, the adapter's fetchSockets/allRooms/socketsJoin/
// disconnectSockets reaching siogate's sockets, serverSideEmit both ways
// (with and without acks, raw, C SDK and Python-module workers, and without
// a cluster), acks of a socket on a gateway the worker is not linked to,
// python-socketio tuple data, malformed messages on the channels, and Redis
// killed and restarted mid-stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { io as ioc } from 'socket.io-client';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { Emitter } from '@socket.io/redis-emitter';
import { createClient } from 'redis';
import { REF, startGateway, spawnLogged, deadline, waitUntil, get, sleep } from '../lib/harness.mjs';
import { startRedis, redisMissing, freePort } from '../lib/redis.mjs';

/* Stop a gateway and check it exited cleanly (99: valgrind found errors, make check-valgrind). */
async function stopGw(gw) {
  const r = await gw.stop();
  assert.equal(r.code, 0, `gateway exit status ${r.code} (signal ${r.signal}); 99: valgrind errors`);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const PY = process.env.PYTHON || '/usr/bin/python3';
const WORKER = path.join(here, '..', 'lib', 'sio_test_worker.py');

function skipReason() {
  if (REF) return 'siogate-specific (cluster on Redis)';
  const r = spawnSync(PY, ['-c', 'import zmq, msgpack'], { stdio: 'ignore' });
  if (r.status !== 0) return `${PY} lacks zmq or msgpack`;
  return redisMissing();
}
const SKIP = skipReason();
const T = { timeout: 30000, skip: SKIP };

let redis, gwA, gwB, wA, wB, node, nodeIo, nodePub, nodeSub, emitClient, emitter;
const clients = [];

async function startWorker(bridge) {
  const h = spawnLogged(PY, [WORKER, bridge, '--nsp', '/,/chat'], 'sio_test_worker');
  await h.waitLog(/registered with gateway/, 10000);
  return h;
}

async function startCluster(id, extra = []) {
  const gw = await startGateway(['--gateway-id', id, '--cluster', redis.url,
    '--metrics-listen', '127.0.0.1:0', ...extra]);
  await gw.waitLog(/cluster: node siogate:/, 5000);
  const m = await gw.waitLog(/metrics on (?:http:\/\/)?127\.0\.0\.1:(\d+)/, 5000);
  gw.metricsPort = Number(m[1]);
  gw.worker = await startWorker(gw.bridge);
  return gw;
}

async function metric(gw, name) {
  const r = await get(gw.metricsPort, '/metrics');
  const m = new RegExp(`^siogate_${name} (\\d+)$`, 'm').exec(r.body.toString());
  return m ? Number(m[1]) : NaN;
}

/* A connected client of url (namespace nsp); resolves once connected. */
async function client(url, nsp = '/', opts = {}) {
  const c = ioc(url + nsp, { transports: ['websocket'], reconnection: false, forceNew: true, ...opts });
  clients.push(c);
  await deadline(new Promise((resolve, reject) => {
    c.once('connect', resolve);
    c.once('connect_error', reject);
  }), 5000, `connect to ${url}${nsp}`);
  return c;
}

/* The next `ev` on c (args array), within ms. */
function next(c, ev, ms = 3000) {
  return deadline(new Promise((resolve) => c.once(ev, (...a) => resolve(a))), ms, `"${ev}" on ${c.id}`);
}

/* Resolves false if ev arrives on c within ms, true if it does not. */
function silent(c, ev, ms = 400) {
  return new Promise((resolve) => {
    const f = () => { clearTimeout(t); resolve(false); };
    const t = setTimeout(() => { c.off(ev, f); resolve(true); }, ms);
    c.once(ev, f);
  });
}

/* Ask the worker of c's gateway to do something: an event with an ack. */
function ask(c, ev, ...args) {
  return deadline(c.emitWithAck(ev, ...args), 5000, `worker to answer ${ev}`);
}

/* Subscribers the adapter counts for a namespace (PUBSUB NUMSUB of its request channel). */
async function numsub(nsp = '/') {
  const r = await nodePub.sendCommand(['PUBSUB', 'NUMSUB', `socket.io-request#${nsp}#`]);
  return Number(r[1]);
}

before(async () => {
  if (SKIP) return;
  redis = await startRedis();
  gwA = await startCluster('GWca', ['--cluster-request-timeout', '1000']);
  gwB = await startCluster('GWcb');
  nodePub = createClient({ url: redis.url });
  nodeSub = nodePub.duplicate();
  nodePub.on('error', () => {});
  nodeSub.on('error', () => {});
  await Promise.all([nodePub.connect(), nodeSub.connect()]);
  node = http.createServer();
  nodeIo = new Server(node, { adapter: createAdapter(nodePub, nodeSub) });
  nodeIo.of('/chat');
  await new Promise((resolve) => node.listen(0, '127.0.0.1', resolve));
  node.url = `http://127.0.0.1:${node.address().port}`;
  emitClient = createClient({ url: redis.url });
  emitClient.on('error', () => {});
  await emitClient.connect();
  emitter = new Emitter(emitClient);
  wA = gwA.worker;
  wB = gwB.worker;
});

after(async () => {
  for (const c of clients) c.disconnect();
  if (nodeIo) await new Promise((resolve) => nodeIo.close(() => resolve()));
  for (const r of [nodePub, nodeSub, emitClient]) {
    try { await r?.quit(); } catch { /* closed */ }
  }
  for (const gw of [gwA, gwB]) {
    if (!gw) continue;
    await gw.worker?.stop();
    await stopGw(gw);
  }
  await redis?.stop();
});

test('every gateway subscribes the request channel of its namespaces (the adapter counts them)', T, async () => {
  await client(gwA.url);
  await client(gwB.url);
  await waitUntil(async () => await numsub('/') === 3, 5000, 'NUMSUB 3 (two gateways, one Node server)');
});

test('a worker broadcast reaches the clients of every gateway and of the Node server', T, async () => {
  const a = await client(gwA.url);
  const b = await client(gwB.url);
  const n = await client(node.url);
  const got = [next(a, 'news'), next(b, 'news'), next(n, 'news')];
  await ask(a, 'broadcast', 'news', { n: 1 }, 'two');
  for (const g of await Promise.all(got)) assert.deepEqual(g, [{ n: 1 }, 'two']);
});

test('a Node broadcast reaches siogate clients, to rooms and except rooms', T, async () => {
  const a = await client(gwA.url);
  const b = await client(gwB.url);
  const b2 = await client(gwB.url);
  await ask(a, 'join', 'red');
  await ask(b, 'join', ['red', 'blue']);
  const all = [next(a, 'all'), next(b, 'all'), next(b2, 'all')];
  nodeIo.emit('all', 1, [2], { three: 3 });
  for (const g of await Promise.all(all)) assert.deepEqual(g, [1, [2], { three: 3 }]);
  const red = [next(a, 'red'), next(b, 'red')];
  const notB2 = silent(b2, 'red');
  nodeIo.to('red').emit('red', 'r');
  assert.deepEqual(await Promise.all(red), [['r'], ['r']]);
  assert.equal(await notB2, true, 'a socket outside the room gets nothing');
  const onlyA = next(a, 'ex');
  const notB = silent(b, 'ex');
  nodeIo.to('red').except('blue').emit('ex', 'e');
  assert.deepEqual(await onlyA, ['e']);
  assert.equal(await notB, true, 'except excludes the members of blue');
});

test('binary arguments cross the cluster in both directions', T, async () => {
  const a = await client(gwA.url);
  const n = await client(node.url);
  const fromNode = next(a, 'blob');
  nodeIo.emit('blob', Buffer.from([1, 2, 3]), { inner: Buffer.from('hi') });
  const [buf, obj] = await fromNode;
  assert.deepEqual([...new Uint8Array(buf)], [1, 2, 3]);
  assert.equal(Buffer.from(obj.inner).toString(), 'hi');
  const fromWorker = next(n, 'blob2');
  await ask(a, 'broadcast', 'blob2', Buffer.from([9, 8]));
  const [b2] = await fromWorker;
  assert.deepEqual([...b2], [9, 8]);
});

test('a worker emit to a socket id of another gateway reaches that socket only', T, async () => {
  const a = await client(gwA.url);
  const b = await client(gwB.url);
  const b2 = await client(gwB.url);
  const got = next(b, 'direct');
  const not = silent(b2, 'direct');
  await ask(a, 'to-room', b.id, 'direct', 'for b');
  assert.deepEqual(await got, ['for b']);
  assert.equal(await not, true);
  /* and to a socket of the Node server */
  const n = await client(node.url);
  const gotN = next(n, 'direct');
  await ask(a, 'to-room', n.id, 'direct', 'for n');
  assert.deepEqual(await gotN, ['for n']);
});

test('Node socketsJoin for a socket id of a siogate gateway', T, async () => {
  const a = await client(gwA.url);
  const b = await client(gwB.url);
  const s = await nodeIo.in(b.id).fetchSockets();
  assert.equal(s.length, 1, 'fetchSockets finds the socket of gateway B by its id');
  nodeIo.in(b.id).socketsJoin('joined-by-node');
  await waitUntil(async () => (await nodeIo.in('joined-by-node').fetchSockets()).length === 1, 3000,
    'socketsJoin from Node reaches gateway B');
  const got = next(b, 'jr');
  await ask(a, 'to-room', 'joined-by-node', 'jr', 1);
  assert.deepEqual(await got, [1]);
});

test('fetchSockets and allRooms of the Node server include siogate sockets', T, async () => {
  const a = await client(gwA.url, '/', { auth: { name: 'alice', rooms: ['fs-room'] } });
  const b = await client(gwB.url, '/', { auth: { name: 'bob' } });
  await ask(b, 'join', 'fs-room');
  const n = await client(node.url);
  (await nodeIo.in(n.id).fetchSockets())[0].join('fs-room');
  const socks = await nodeIo.in('fs-room').fetchSockets();
  const ids = socks.map((s) => s.id).sort();
  assert.deepEqual(ids, [a.id, b.id, n.id].sort());
  const sa = socks.find((s) => s.id === a.id);
  assert.ok(sa.rooms.has('fs-room') && sa.rooms.has(a.id), 'rooms include the own id');
  assert.deepEqual(sa.data, { name: 'alice' }, 'data is the session');
  assert.equal(typeof sa.handshake.headers, 'object');
  const rooms = await nodeIo.of('/').adapter.allRooms();
  for (const r of ['fs-room', a.id, b.id]) assert.ok(rooms.has(r), `allRooms has ${r}`);
});

test('a worker query spans the cluster: sockets and rooms of every gateway and of Node', T, async () => {
  const a = await client(gwA.url, '/', { auth: { name: 'ann' } });
  const b = await client(gwB.url, '/', { auth: { name: 'ben' } });
  const n = await client(node.url);
  await ask(a, 'join', 'q-room');
  await ask(b, 'join', ['q-room', 'q-other']);
  const ns = (await nodeIo.in(n.id).fetchSockets())[0];
  ns.join('q-room');
  ns.data = { name: 'nod' };
  let got = next(a, 'sockets');
  await ask(a, 'sockets', 'q-room');
  const [socks, err] = await got;
  assert.equal(err, undefined, 'complete: no error');
  const byId = Object.fromEntries(socks.map((s) => [s.id, s]));
  assert.deepEqual(Object.keys(byId).sort(), [a.id, b.id, n.id].sort());
  assert.deepEqual(byId[b.id].session, { name: 'ben' });
  assert.deepEqual(byId[b.id].rooms.sort(), ['q-other', 'q-room']);
  assert.deepEqual(byId[n.id].session, { name: 'nod' });
  assert.deepEqual(byId[n.id].rooms, ['q-room']);
  assert.equal(typeof byId[b.id].addr, 'string');
  got = next(a, 'rooms');
  await ask(a, 'rooms', ['q-room']);
  const [rooms] = await got;
  assert.deepEqual(rooms.sort(), ['q-other', 'q-room']);
});

test('a node that never answers: the query ends at the request timeout with an error', T, async () => {
  const a = await client(gwA.url);
  const mute = nodePub.duplicate();
  mute.on('error', () => {});
  await mute.connect();
  await mute.subscribe('socket.io-request#/#', () => {});
  try {
    const t0 = Date.now();
    const got = next(a, 'sockets', 5000);
    await ask(a, 'sockets', [a.id]);
    const [socks, err] = await got;
    assert.match(err, /^timeout: \d+ of \d+ other nodes answered within 1000 ms$/);
    assert.ok(socks.some((s) => s.id === a.id), 'what was gathered is returned');
    assert.ok(Date.now() - t0 < 4000, 'bounded by the request timeout');
    assert.ok(await metric(gwA, 'cluster_request_timeouts_total') >= 1);
  } finally {
    await mute.quit();
  }
});

test('broadcast with acks across nodes: Node asks, siogate clients answer', T, async () => {
  const a = await client(gwA.url);
  const b = await client(gwB.url);
  const n = await client(node.url);
  a.on('q', (x, cb) => cb(`a:${x}`));
  b.on('q', (x, cb) => cb(`b:${x}`));
  n.on('q', (x, cb) => cb(`n:${x}`));
  await ask(a, 'join', 'ackroom');
  await ask(b, 'join', 'ackroom');
  (await nodeIo.in(n.id).fetchSockets())[0].join('ackroom');
  const res = await deadline(nodeIo.to('ackroom').timeout(2000).emitWithAck('q', 1), 4000, 'acks');
  assert.deepEqual(res.sort(), ['a:1', 'b:1', 'n:1']);
});

test('a worker asks a socket of another gateway for an ack: the answer comes back to it', T, async () => {
  const a = await client(gwA.url);
  const b = await client(gwB.url);
  const n = await client(node.url);
  b.on('please', (x, cb) => cb({ yes: x }));
  n.on('please', (x, cb) => cb(`node says ${x}`));
  let got = next(a, 'asked');
  await ask(a, 'ask-other', b.id, 'please', 2000, 7);
  assert.deepEqual(await got, [{ args: [{ yes: 7 }] }]);
  got = next(a, 'asked');
  await ask(a, 'ask-other', n.id, 'please', 2000, 8);
  assert.deepEqual(await got, [{ args: ['node says 8'] }]);
  b.on('mute', () => {});
  got = next(a, 'asked', 3000);
  await ask(a, 'ask-other', b.id, 'mute', 500);
  assert.deepEqual(await got, [{ timeout: 'timeout' }]);
});

test('Node disconnectSockets reaches siogate sockets', T, async () => {
  const b = await client(gwB.url);
  await ask(b, 'join', 'doomed');
  const gone = next(b, 'disconnect');
  nodeIo.in('doomed').disconnectSockets();
  assert.equal((await gone)[0], 'io server disconnect');
});

test('a worker disconnects a room whose members are on another gateway and on Node', T, async () => {
  const a = await client(gwA.url);
  const b = await client(gwB.url);
  const n = await client(node.url);
  await ask(b, 'join', 'dr');
  (await nodeIo.in(n.id).fetchSockets())[0].join('dr');
  const gone = [next(b, 'disconnect'), next(n, 'disconnect')];
  const stays = silent(a, 'disconnect', 300);
  await ask(a, 'disconnect-room', 'dr');
  for (const g of await Promise.all(gone)) assert.equal(g[0], 'io server disconnect');
  assert.equal(await stays, true);
});

test('@socket.io/redis-emitter: emit, rooms, namespaces, socketsJoin/Leave, disconnectSockets', T, async () => {
  const a = await client(gwA.url);
  const b = await client(gwB.url);
  const bc = await client(gwB.url, '/chat');
  await ask(a, 'join', 'em');
  const all = [next(a, 'e1'), next(b, 'e1')];
  const notChat = silent(bc, 'e1');
  emitter.emit('e1', 'hello', 42);
  for (const g of await Promise.all(all)) assert.deepEqual(g, ['hello', 42]);
  assert.equal(await notChat, true, 'another namespace gets nothing');
  const chat = next(bc, 'e2');
  emitter.of('/chat').emit('e2', { x: 1 });
  assert.deepEqual(await chat, [{ x: 1 }]);
  const room = next(a, 'e3');
  const notB = silent(b, 'e3');
  emitter.to('em').emit('e3');
  assert.deepEqual(await room, []);
  assert.equal(await notB, true);
  emitter.in(b.id).socketsJoin('em-joined');
  await waitUntil(async () => (await nodeIo.in('em-joined').fetchSockets()).length === 1, 3000,
    'socketsJoin from the emitter');
  emitter.in('em-joined').socketsLeave('em-joined');
  await waitUntil(async () => (await nodeIo.in('em-joined').fetchSockets()).length === 0, 3000,
    'socketsLeave from the emitter');
  const gone = next(a, 'disconnect');
  emitter.in('em').disconnectSockets();
  assert.equal((await gone)[0], 'io server disconnect');
});

/* The server-side events the worker of c's gateway has seen (SIO_SERVER_EVENT). */
async function serverEvents(c) {
  const got = next(c, 'server-events');
  await ask(c, 'server-events');
  return (await got)[0];
}

test('serverSideEmit from Node reaches one worker per siogate gateway; its acks come back', T, async () => {
  const a = await client(gwA.url);
  const b = await client(gwB.url);
  const seen = (evs, ev) => evs.filter((e) => e.ev === ev);
  nodeIo.serverSideEmit('sse-hello', 1, { x: [2, 'three'] });
  await waitUntil(async () => seen(await serverEvents(a), 'sse-hello').length === 1 &&
    seen(await serverEvents(b), 'sse-hello').length === 1, 3000, 'both workers got it');
  assert.deepEqual(seen(await serverEvents(a), 'sse-hello'),
    [{ nsp: '/', ev: 'sse-hello', args: [1, { x: [2, 'three'] }], ack: false }]);
  /* With an ack: one answer per other node (two gateways), the worker's first argument each. */
  const res = await deadline(nodeIo.serverSideEmitWithAck('sse-q', 7), 4000, 'serverSideEmitWithAck');
  assert.deepEqual(res.map((r) => r.gw).sort(), ['GWca', 'GWcb']);
  for (const r of res) assert.deepEqual(r.args, [7]);
  /* Another namespace: only its workers (both serve /chat too) and the namespace in the event. */
  const chat = await client(gwA.url, '/chat');
  const res2 = await deadline(nodeIo.of('/chat').serverSideEmitWithAck('sse-chat'), 4000, '/chat');
  assert.equal(res2.length, 2);
  assert.deepEqual(seen(await serverEvents(chat), 'sse-chat'),
    [{ nsp: '/chat', ev: 'sse-chat', args: [], ack: true }]);
});

test('serverSideEmit from a worker reaches Node and the other gateways, not its own; acks too', T, async () => {
  const a = await client(gwA.url);
  const b = await client(gwB.url);
  const atNode = new Promise((resolve) => nodeIo.of('/').once('sse-w', (...args) => resolve(args)));
  await ask(a, 'server-emit', 'sse-w', 5, { y: null });
  assert.deepEqual(await deadline(atNode, 3000, 'Node gets sse-w'), [5, { y: null }]);
  await waitUntil(async () => (await serverEvents(b)).some((e) => e.ev === 'sse-w'), 3000,
    'gateway B\'s worker gets it');
  assert.equal((await serverEvents(a)).some((e) => e.ev === 'sse-w'), false,
    'the emitting node does not get its own event');
  /* With an ack: Node's callback and gateway B's worker answer; the result holds both. */
  nodeIo.of('/').once('sse-wq', (x, cb) => cb(`node:${x}`));
  let got = next(a, 'server-result', 4000);
  await ask(a, 'server-emit-ack', 'sse-wq', 9);
  const [result, error] = await got;
  assert.equal(error, undefined);
  assert.equal(result.length, 2);
  assert.ok(result.includes('node:9'), JSON.stringify(result));
  assert.deepEqual(result.find((r) => typeof r === 'object'), { worker: `sio_test_worker-${wB.proc.pid}`, gw: 'GWcb', args: [9] });
  /* Nobody answers: at gateway A's request timeout (1 s), the adapter's words and what came. */
  got = next(a, 'server-result', 4000);
  await ask(a, 'server-emit-ack', 'sse-mute');
  assert.deepEqual(await got, [[], 'timeout reached: only 0 responses received out of 2']);
});

test('serverSideEmit without a cluster: no other node, an ack gets no answers at once', T, async () => {
  const gw = await startGateway(['--gateway-id', 'GWcs']);
  const w = await startWorker(gw.bridge);
  try {
    const c = await client(gw.url);
    const got = next(c, 'server-result', 2000);
    await ask(c, 'server-emit-ack', 'alone', 1);
    assert.deepEqual(await got, [[]]);
    await ask(c, 'server-emit', 'alone', 2);
    assert.deepEqual(await serverEvents(c), [], 'not to the worker itself');
    /* Malformed server-side commands: an ERROR for the worker, nothing else. */
    for (const [kind, text] of [['server-emit-bad-nsp', /nsp must start with '\/'/],
      ['server-emit-no-ev', /SIO_SERVER_EMIT: "ev" is missing/], ['server-ack-no-req', /SIO_SERVER_ACK: "req" is missing/]]) {
      const err = next(c, 'error-reply');
      c.emit('bad-cmd', kind);
      const [e] = await err;
      assert.equal(e.code, 1, kind);
      assert.match(e.text, text, kind);
    }
    const echo = next(c, 'echo');
    await ask(c, 'echo', 'still here');
    assert.deepEqual(await echo, ['still here']);
  } finally {
    await w.stop();
    await stopGw(gw);
  }
});

/* The C worker (tests/integ/sdk_worker, on libsiogate), next to the gateway in the build tree. */
const SDK_WORKER = process.env.SDK_WORKER ||
  path.join(path.dirname(process.env.SIOGATE || '.'), '..', 'tests', 'integ', 'sdk_worker');

test('a C worker linked to gateway A only: acks of a socket on gateway B, serverSideEmit both ways', T, async () => {
  nodeIo.of('/c');
  const cw = spawnLogged(SDK_WORKER, ['-n', 'csdk', '-s', '/c', '-e', gwA.bridge], 'sdk_worker');
  const pw = spawnLogged(PY, [WORKER, gwB.bridge, '--nsp', '/c'], 'sio_test_worker');
  try {
    await cw.waitLog(/registered with gateway GWca/, 5000);
    await pw.waitLog(/registered with gateway GWcb/, 10000);
    const a = await client(gwA.url, '/c');
    const b = await client(gwB.url, '/c');
    await waitUntil(async () => await numsub('/c') === 3, 5000, 'NUMSUB 3 for /c');
    /* siogate_emit_ack to a socket of a gateway the worker is not connected to. */
    b.on('please', (x, cb) => cb({ from: 'b', x }));
    let got = next(a, 'asked');
    await ask(a, 'ask-other', b.id, 'please', 2000, 3);
    assert.deepEqual(await got, [{ status: 0, args: [{ from: 'b', x: 3 }] }]);
    b.on('mute', () => {});
    got = next(a, 'asked');
    await ask(a, 'ask-other', b.id, 'mute', 300);
    assert.deepEqual(await got, [{ status: 1, args: null }]);
    /* siogate_server_emit reaches Node and gateway B's worker. */
    const atNode = new Promise((resolve) => nodeIo.of('/c').once('c-sse', (...args) => resolve(args)));
    await ask(a, 'sse', 'c-sse', 1, 'two');
    assert.deepEqual(await deadline(atNode, 3000, 'Node gets c-sse'), [1, 'two']);
    await waitUntil(async () => (await serverEvents(b)).some((e) => e.ev === 'c-sse'), 3000, 'B\'s worker gets c-sse');
    /* siogate_server_emit_ack: both other nodes answer. */
    nodeIo.of('/c').once('c-q', (x, cb) => cb(`node:${x}`));
    got = next(a, 'sse-result', 4000);
    await ask(a, 'sse-ack', 'c-q', 4);
    const [r] = await got;
    assert.equal(r.status, 0);
    assert.deepEqual(r.result.filter((x) => typeof x === 'string'), ['node:4']);
    assert.deepEqual(r.result.filter((x) => typeof x === 'object'),
      [{ worker: `sio_test_worker-${pw.proc.pid}`, gw: 'GWcb', args: [4] }]);
    got = next(a, 'sse-result', 4000);
    await ask(a, 'sse-ack', 'sse-mute');
    assert.deepEqual(await got, [{ status: 1, result: [] }], 'TIMEOUT at the request timeout');
    /* Node asks: the C worker answers with siogate_server_ack. */
    const res = await deadline(nodeIo.of('/c').serverSideEmitWithAck('c-n', 5), 4000, 'Node\'s ack');
    assert.deepEqual(res.map((x) => x.worker).sort(), ['csdk', `sio_test_worker-${pw.proc.pid}`].sort());
    assert.deepEqual(res.find((x) => x.worker === 'csdk'), { worker: 'csdk', gw: 'GWca', args: [5] });
    assert.deepEqual((await serverEvents(a)).filter((e) => e.ev === 'c-n'),
      [{ nsp: '/c', ev: 'c-n', args: [5], ack: true }]);
  } finally {
    await cw.stop();
    await pw.stop();
  }
});

test('a C worker linked to both gateways: a room emit and a query happen once in the cluster', T, async () => {
  const cw = spawnLogged(SDK_WORKER, ['-n', 'cboth', '-s', '/d', '-e', gwA.bridge, '-e', gwB.bridge], 'sdk_worker');
  try {
    await cw.waitLog(/registered with gateway GWca/, 5000);
    await cw.waitLog(/registered with gateway GWcb/, 5000);
    const a = await client(gwA.url, '/d');
    const b = await client(gwB.url, '/d');
    await ask(a, 'join', ['rd']);
    await ask(b, 'join', ['rd']);
    const published = async () => await metric(gwA, 'cluster_published_total') +
      await metric(gwB, 'cluster_published_total');
    const before = await published();
    const copies = [0, 0];
    a.on('hi', () => copies[0]++);
    b.on('hi', () => copies[1]++);
    const got = [next(a, 'hi'), next(b, 'hi')];
    await ask(a, 'to', ['rd'], [], 'hi', 1);
    assert.deepEqual(await Promise.all(got), [[1], [1]]);
    /* One node carried it out and published it: no second copy from the other one. */
    await Promise.all([silent(a, 'hi', 500), silent(b, 'hi', 500)]);
    assert.deepEqual(copies, [1, 1], 'each client got the room emit once');
    assert.equal(await published() - before, 1, 'the emit was published once');
    /* A query spans the cluster from one node: each socket listed once. */
    const q = next(a, 'query');
    await ask(a, 'query', 'sockets', [], 2000);
    const [[{ status, result }]] = [await q];
    assert.equal(status, 0);
    assert.deepEqual(result.map((x) => x.id).sort(), [a.id, b.id].sort());
  } finally {
    await cw.stop();
  }
});

const PYSKIP = SKIP || (spawnSync(PY, ['-c', 'import socketio, redis'], { stdio: 'ignore' }).status !== 0 ?
  'python3-socketio or python3-redis missing' : false);

/* A worker on the Python module (sdk/python), linked to one gateway, serving /p. */
const PY_MODULE_WORKER = `
import logging, sys
sys.path.insert(0, sys.argv[2])
import siogate
logging.basicConfig(level=logging.INFO)
w = siogate.Worker(sys.argv[1], name='pymod')
seen = []

@w.on('sse', namespace='/p')
def sse(sid, ev, *args):
    w.server_side_emit(ev, tuple(args), namespace='/p')

@w.on('sse-ack', namespace='/p')
def sse_ack(sid, ev, *args):
    def done(err, res):
        w.emit('sse-result', {'error': str(err) if err else None, 'result': res}, to=sid, namespace='/p')
    w.server_side_emit(ev, tuple(args), namespace='/p', callback=done)

@w.on('ask-other', namespace='/p')
def ask_other(sid, other, ev, x):
    def done(*a):
        w.emit('asked', {'timeout': str(a[0])} if a and isinstance(a[0], Exception) else list(a), to=sid, namespace='/p')
    w.emit(ev, x, to=other, namespace='/p', callback=done, error_callback=done)

@w.on('seen', namespace='/p')
def get_seen(sid):
    return [seen]

@w.on_server_event('p-q', namespace='/p')
def p_q(x):
    seen.append(['p-q', x])
    return {'py': x}

w.run()
`;

/* A Python-module worker linked to both gateways (argv[1]: endpoints, comma-separated), serving /q. */
const PY_BOTH_WORKER = `
import logging, sys
sys.path.insert(0, sys.argv[2])
import siogate
logging.basicConfig(level=logging.INFO)
w = siogate.Worker(sys.argv[1].split(','), name='pyboth')

@w.on('join', namespace='/q')
def join(sid, room):
    w.enter_room(sid, room, namespace='/q')
    return True

@w.on('to', namespace='/q')
def to(sid, room, ev, x):
    w.emit(ev, x, to=room, namespace='/q')
    return True

@w.on('ids', namespace='/q')
def ids(sid):
    return [s['id'] for s in w.sockets(namespace='/q')]

w.run()
`;

test('a Python-module worker linked to both gateways: a room emit and a query happen once', { ...T, skip: PYSKIP }, async () => {
  const mw = spawnLogged(PY, ['-c', PY_BOTH_WORKER, `${gwA.bridge},${gwB.bridge}`,
    path.join(here, '..', '..', 'sdk', 'python')], 'py_both_worker');
  try {
    await mw.waitLogs(/registered as GWc[ab]/, 2, 10000);
    const a = await client(gwA.url, '/q');
    const b = await client(gwB.url, '/q');
    assert.equal(await ask(a, 'join', 'rq'), true);
    assert.equal(await ask(b, 'join', 'rq'), true);
    const copies = [0, 0];
    a.on('hq', () => copies[0]++);
    b.on('hq', () => copies[1]++);
    const got = [next(a, 'hq'), next(b, 'hq')];
    await ask(a, 'to', 'rq', 'hq', 2);
    assert.deepEqual(await Promise.all(got), [[2], [2]]);
    await Promise.all([silent(a, 'hq', 500), silent(b, 'hq', 500)]);
    assert.deepEqual(copies, [1, 1], 'each client got the room emit once');
    assert.deepEqual((await ask(a, 'ids')).sort(), [a.id, b.id].sort(), 'each socket listed once');
  } finally {
    await mw.stop();
  }
});

test('a Python-module worker linked to gateway A only: acks of a socket on B, serverSideEmit both ways', { ...T, skip: PYSKIP }, async () => {
  nodeIo.of('/p');
  const mw = spawnLogged(PY, ['-c', PY_MODULE_WORKER, gwA.bridge, path.join(here, '..', '..', 'sdk', 'python')], 'py_module_worker');
  const pw = spawnLogged(PY, [WORKER, gwB.bridge, '--nsp', '/p'], 'sio_test_worker');
  try {
    await mw.waitLog(/registered as GWca/, 10000);
    await pw.waitLog(/registered with gateway GWcb/, 10000);
    const a = await client(gwA.url, '/p');
    const b = await client(gwB.url, '/p');
    await waitUntil(async () => await numsub('/p') === 3, 5000, 'NUMSUB 3 for /p');
    b.on('please', (x, cb) => cb({ from: 'b', x }));
    let got = next(a, 'asked');
    await ask(a, 'ask-other', b.id, 'please', 3);
    assert.deepEqual(await got, [[{ from: 'b', x: 3 }]]);
    const atNode = new Promise((resolve) => nodeIo.of('/p').once('p-sse', (...args) => resolve(args)));
    await ask(a, 'sse', 'p-sse', 1, [2]);
    assert.deepEqual(await deadline(atNode, 3000, 'Node gets p-sse'), [1, [2]]);
    await waitUntil(async () => (await serverEvents(b)).some((e) => e.ev === 'p-sse'), 3000, 'B\'s worker gets p-sse');
    nodeIo.of('/p').once('p-qq', (x, cb) => cb(`node:${x}`));
    got = next(a, 'sse-result', 4000);
    await ask(a, 'sse-ack', 'p-qq', 4);
    const [r] = await got;
    assert.equal(r.error, null);
    assert.deepEqual(r.result.filter((x) => typeof x === 'string'), ['node:4']);
    assert.deepEqual(r.result.filter((x) => typeof x === 'object'),
      [{ worker: `sio_test_worker-${pw.proc.pid}`, gw: 'GWcb', args: [4] }]);
    got = next(a, 'sse-result', 4000);
    await ask(a, 'sse-ack', 'sse-mute');
    const [t] = await got;
    assert.match(t.error, /timeout reached: only 0 responses received out of 2/, 'an AckTimeout');
    assert.deepEqual(t.result, []);
    const res = await deadline(nodeIo.of('/p').serverSideEmitWithAck('p-q', 6), 4000, 'Node\'s ack');
    assert.deepEqual(res.filter((x) => x.py !== undefined), [{ py: 6 }]);
    assert.equal(res.length, 2);
    assert.deepEqual(await ask(a, 'seen'), [[['p-q', 6]]]);
  } finally {
    await mw.stop();
    await pw.stop();
  }
});

test('malformed messages on the channels are logged, counted and change nothing else', T, async () => {
  const a = await client(gwA.url);
  const mark = gwA.mark();
  const bad0 = await metric(gwA, 'cluster_malformed_total');
  /*
   * On a namespace the Node server does not have: its adapter lets a broadcast
   * that does not decode throw out of its message handler.
   */
  await nodePub.publish('socket.io#/nonode#', 'garbage that is no msgpack');
  await nodePub.publish(Buffer.from('socket.io#/nonode#'), Buffer.from([0x93, 0xa1, 0x78, 0x01, 0x80]));
  /* Requests: Node's adapter shrugs these off; siogate refuses them (a serverSideEmit needs an event name). */
  await nodePub.publish('socket.io-request#/#', '{"type": 2, "opts": {"rooms": [1]}, "rooms": "x"}');
  await nodePub.publish('socket.io-request#/#', '{not json');
  await nodePub.publish('socket.io-request#/#', '{"uid": "x", "type": 6, "data": [1, 2]}');
  await gwA.waitLog(/cluster: malformed broadcast on channel socket\.io#\/nonode# ignored: /, 3000, mark);
  await waitUntil(async () => await metric(gwA, 'cluster_malformed_total') >= bad0 + 5, 3000,
    'all five counted');
  const ok = next(a, 'after');
  nodeIo.emit('after', 'fine');
  assert.deepEqual(await ok, ['fine']);
  assert.ok(gwA.alive() && gwB.alive());
});

test('Redis killed mid-stream: local delivery goes on, the cluster resumes by itself', T, async () => {
  const a = await client(gwA.url);
  const a2 = await client(gwA.url);
  const b = await client(gwB.url);
  const markA = gwA.mark();
  await redis.kill();
  await gwA.waitLog(/cluster: redis at .* unreachable/, 5000, markA);
  /* Local delivery on gateway A does not wait for Redis. */
  const local = [next(a, 'local'), next(a2, 'local')];
  const notB = silent(b, 'local', 300);
  await ask(a, 'broadcast', 'local', 1);
  assert.deepEqual(await Promise.all(local), [[1], [1]]);
  assert.equal(await notB, true, 'gateway B is out of reach meanwhile');
  await waitUntil(async () => await metric(gwA, 'cluster_dropped_total') >= 1, 3000, 'drop counted');
  assert.equal(await metric(gwA, 'cluster_up'), 0);
  await redis.start();
  await gwA.waitLog(/cluster: redis at .* connected again after [\d.]+ s; \d+ publish\(es\) dropped/, 10000, markA);
  await gwB.waitLog(/cluster: redis at .* connected again/, 10000);
  await waitUntil(async () => await numsub('/') >= 2, 10000, 'gateways subscribed again');
  const across = next(b, 'back');
  await ask(a, 'broadcast', 'back', 2);
  assert.deepEqual(await across, [2]);
  assert.equal(gwA.logs.filter((l, i) => i >= markA && /unreachable/.test(l)).length, 1,
    'one log line per outage');
});

/* Run a python-socketio RedisManager(write_only=True) script (Debian's python3-socketio). */
function pyEmit(code) {
  const script = `import socketio, sys\nm = socketio.RedisManager(sys.argv[1], write_only=True)\n${code}\n`;
  const r = spawnSync(PY, ['-c', script, redis.url], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, `python script failed: ${r.stderr}`);
}


test('python-socketio RedisManager(write_only=True): emit, rooms, skip_sid, disconnect, close_room', { ...T, skip: PYSKIP }, async () => {
  const a = await client(gwA.url);
  const b = await client(gwB.url);
  const bc = await client(gwB.url, '/chat');
  await ask(a, 'join', 'py-room');
  await ask(b, 'join', 'py-room');
  let got = [next(a, 'py1'), next(b, 'py1')];
  pyEmit("m.emit('py1', data={'x': 1, 'b': b'\\x01\\x02'}, namespace='/')");
  for (const [v] of await Promise.all(got)) {
    assert.equal(v.x, 1);
    assert.deepEqual([...new Uint8Array(v.b)], [1, 2], 'bytes arrive as binary');
  }
  const chat = next(bc, 'py2');
  pyEmit("m.emit('py2', data='hi', namespace='/chat')");
  assert.deepEqual(await chat, ['hi']);
  got = next(a, 'py3');
  let not = silent(b, 'py3');
  pyEmit(`m.emit('py3', data=None, room='py-room', skip_sid='${b.id}', namespace='/')`);
  assert.deepEqual(await got, [], 'data None: no argument');
  assert.equal(await not, true, 'skip_sid excluded');
  got = next(b, 'py4');
  pyEmit(`m.emit('py4', data=[1, 2], room=['${b.id}'], namespace='/')`);
  assert.deepEqual(await got, [[1, 2]], 'a list is one argument');
  got = [next(a, 'py4t'), next(b, 'py4t')];
  pyEmit("m.emit('py4t', data=(1, 'two', [3, (4, 5)], {'k': b'\\x07'}), namespace='/')");
  for (const g of await Promise.all(got)) {
    assert.equal(g.length, 4, 'a tuple is several arguments');
    assert.deepEqual(g.slice(0, 3), [1, 'two', [3, [4, 5]]], 'a tuple inside is a list');
    assert.deepEqual([...new Uint8Array(g[3].k)], [7]);
  }
  got = next(b, 'py4e');
  pyEmit(`m.emit('py4e', data=(), room=('${b.id}',), namespace='/')`);
  assert.deepEqual(await got, [], 'an empty tuple is no argument; a tuple of rooms is rooms');
  got = next(b, 'py4one');
  pyEmit(`m.emit('py4one', data=([1, 2],), room='${b.id}', namespace='/')`);
  assert.deepEqual(await got, [[1, 2]], 'a one-tuple is one argument');
  pyEmit("m.close_room('py-room', namespace='/')");
  await waitUntil(async () => (await nodeIo.in('py-room').fetchSockets()).length === 0, 3000,
    'close_room empties the room on both gateways');
  const gone = next(b, 'disconnect');
  pyEmit(`m.disconnect('${b.id}', namespace='/')`);
  assert.equal((await gone)[0], 'io server disconnect');
  /* the JSON form python-socketio also reads */
  got = next(a, 'py5');
  await nodePub.publish('socketio', JSON.stringify({ method: 'emit', event: 'py5', data: 5, namespace: '/' }));
  assert.deepEqual(await got, [5]);
  /* a pickle that refers to code is refused */
  const mark = gwA.mark();
  spawnSync(PY, ['-c', `import pickle, redis, sys, os\nredis.Redis.from_url(sys.argv[1]).publish('socketio', pickle.dumps({'method': 'emit', 'event': os.system}))`, redis.url]);
  await gwA.waitLog(/cluster: malformed python-socketio message on channel socketio ignored/, 3000, mark);
});

/* Collect every `ev` arriving on c (for exactly-once checks). */
function collect(c, ev) {
  const got = [];
  c.on(ev, (...a) => got.push(a));
  return got;
}

test('threads = 2: each loop is a node; a worker broadcast is published once', T, async () => {
  const gwC = await startGateway(['--gateway-id', 'Tc00', '--threads', '2', '--cluster', redis.url,
    '--metrics-listen', '127.0.0.1:0']);
  const workers = [];
  try {
    await gwC.waitLog(/cluster: node siogate:Tc/, 5000);
    workers.push(await startWorker(gwC.bridge), await startWorker(`${gwC.bridge}.1`));
    /* Clients until both loops have some (the kernel spreads connections). */
    const cs = [];
    for (let i = 0; i < 40; i++) {
      cs.push(await client(gwC.url));
      if (cs.length >= 4 && new Set(cs.map((c) => c.id[3])).size === 2) break;
    }
    assert.equal(new Set(cs.map((c) => c.id[3])).size, 2, 'clients on both loops');
    const n = await client(node.url);
    const a = await client(gwA.url);
    const onN = collect(n, 't2');
    const onA = collect(a, 't2');
    const onC = cs.map((c) => collect(c, 't2'));
    /* Not spawnSync: this process's event loop must keep the clients and the Node server going. */
    const em = spawnLogged(process.env.SIOGATE_EMIT, ['-e', gwC.bridge, 't2', '"once"'], 'siogate-emit');
    const r = await deadline(new Promise((resolve) => em.proc.on('exit', (code) => resolve(code))),
      10000, 'siogate-emit to exit');
    assert.equal(r, 0, `siogate-emit: ${em.logs.join('\n')}`);
    await waitUntil(() => onN.length >= 1 && onA.length >= 1 && onC.every((g) => g.length >= 1), 3000,
      'the emit everywhere');
    /* a second, later event proves nothing more of the first is on its way */
    const fence = [next(n, 'fence'), next(a, 'fence'), ...cs.map((c) => next(c, 'fence'))];
    nodeIo.emit('fence');
    await Promise.all(fence);
    assert.equal(onN.length, 1, 'the Node client got it once');
    assert.equal(onA.length, 1, 'gateway A\'s client got it once');
    assert.ok(onC.every((g) => g.length === 1), 'each client of the 2-loop gateway got it once');
    /* Node's fetchSockets sees the sockets of both loops */
    const ids = new Set((await nodeIo.fetchSockets()).map((s) => s.id));
    for (const c of cs) assert.ok(ids.has(c.id), `fetchSockets has ${c.id}`);
    /* a query from a worker of loop 0 gets every loop's sockets once, no error */
    const c0 = cs.find((c) => c.id[3] === '0');
    if (c0) {
      const got = next(c0, 'sockets');
      await ask(c0, 'sockets');
      const [socks, err] = await got;
      assert.equal(err, undefined);
      const sids = socks.map((s) => s.id);
      assert.equal(new Set(sids).size, sids.length, 'no socket twice');
      for (const c of cs) assert.ok(sids.includes(c.id), `query has ${c.id}`);
    }
  } finally {
    for (const w of workers) await w.stop();
    await stopGw(gwC);
  }
});

test('a gateway killed: it leaves the count, queries from the others end without waiting', T, async () => {
  const gwD = await startCluster('GWcd');
  const d = await client(gwD.url);
  const a = await client(gwA.url);
  await waitUntil(async () => await numsub('/') === 4, 5000, 'gateway D counted');
  gwD.proc.kill('SIGKILL');
  await gwD.worker.stop();
  await gwD.stop();
  await waitUntil(async () => await numsub('/') === 3, 5000, 'gateway D no longer counted');
  const t0 = Date.now();
  const got = next(a, 'sockets', 3000);
  await ask(a, 'sockets');
  const [socks, err] = await got;
  assert.equal(err, undefined, 'every remaining node answered');
  assert.ok(Date.now() - t0 < 900, 'well before the request timeout');
  assert.ok(!socks.some((s) => s.id === d.id), 'the dead gateway\'s socket is gone');
});

test('a password: AUTH before anything; a wrong one is one error line, not a log per retry', T, async () => {
  const locked = await startRedis(['--requirepass', 's3cret']);
  const gws = [];
  try {
    const good = await startGateway(['--gateway-id', 'GWpw', '--cluster',
      `redis://:s3cret@127.0.0.1:${locked.port}`]);
    gws.push(good);
    const bad = await startGateway(['--gateway-id', 'GWpx', '--cluster',
      `redis://default:wrong@127.0.0.1:${locked.port}/3`]);
    gws.push(bad);
    const probe = createClient({ url: `redis://:s3cret@127.0.0.1:${locked.port}` });
    probe.on('error', () => {});
    await probe.connect();
    try {
      /* the good one subscribed (PSUBSCRIBE socket.io#*), the bad one did not */
      await waitUntil(async () => Number(await probe.sendCommand(['PUBSUB', 'NUMPAT'])) === 1, 5000,
        'one gateway subscribed');
      await bad.waitLog(/cluster: redis at 127\.0\.0\.1:\d+ refused AUTH: WRONGPASS/, 5000);
      await sleep(1500); /* several retries (0.1 s, 0.2 s, 0.4 s, ...) */
      assert.equal(bad.logs.filter((l) => /refused AUTH/.test(l)).length, 1, 'one AUTH error line');
      assert.equal(bad.logs.filter((l) => /unreachable/.test(l)).length, 1, 'one outage line');
      assert.equal(bad.logs.filter((l) => /connected again/.test(l)).length, 0, 'no false recovery');
      assert.equal(Number(await probe.sendCommand(['PUBSUB', 'NUMPAT'])), 1);
    } finally {
      await probe.quit();
    }
  } finally {
    for (const g of gws) await stopGw(g);
    await locked.stop();
  }
});

test('Redis down at start: the gateway serves locally and joins the cluster once Redis is up', T, async () => {
  const port = await freePort();
  const gw = await startGateway(['--gateway-id', 'GWlt', '--cluster', `redis://127.0.0.1:${port}`]);
  let late;
  try {
    await gw.waitLog(/cluster: redis at 127\.0\.0\.1:\d+ unreachable/, 5000);
    gw.worker = await startWorker(gw.bridge);
    const c = await client(gw.url);
    const c2 = await client(gw.url);
    const got = next(c2, 'early');
    await ask(c, 'broadcast', 'early', 1);
    assert.deepEqual(await got, [1], 'local delivery without Redis');
    late = await startRedis([], port);
    await gw.waitLog(/cluster: redis at .* connected again after [\d.]+ s; [1-9]\d* publish\(es\) dropped/, 10000);
    /* now a member of the cluster of that Redis */
    const pub = createClient({ url: late.url });
    pub.on('error', () => {});
    await pub.connect();
    try {
      const em = new Emitter(pub);
      const g2 = next(c, 'late');
      await waitUntil(async () => Number(await pub.sendCommand(['PUBSUB', 'NUMPAT'])) === 1, 5000,
        'subscribed');
      em.emit('late', 2);
      assert.deepEqual(await g2, [2]);
    } finally {
      await pub.quit();
    }
  } finally {
    await gw.worker?.stop();
    await stopGw(gw);
    await late?.stop();
  }
});
