// eio_websocket.test.mjs: Engine.IO v4 over WebSocket against the gateway
// and the echo worker: handshake, echo of text/binary/fragmented messages,
// control frames, protocol errors, limits, heartbeats, and the upgrade from
// long-polling.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  REF, sgOnly, startStack, get, post, eio, pollingHandshake, openWs, wsHandshake, rawConn, wsFrame,
  wsUpgradeRequest, EIO_PATH, httpRequest, statusOf,
  fixtures, assertGatewaysAlive,
} from '../lib/harness.mjs';

const T = { timeout: 20000 };
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 1000;

const fx = fixtures();
const lazy = fx.lazy;
after(() => fx.stopAll());

const main = lazy(() => startStack(['--ping-interval', '25000', '--ping-timeout', '20000',
  '--max-payload', String(MAX_PAYLOAD)]));
const big = lazy(() => startStack(['--ping-interval', '25000', '--ping-timeout', '20000']));
const fast = lazy(() => startStack(['--ping-interval', String(PING_INTERVAL),
  '--ping-timeout', String(PING_TIMEOUT)]));

const wsPath = (q = '') => `${EIO_PATH}?EIO=4&transport=websocket${q ? `&${q}` : ''}`;

/* Assert that no Engine.IO noop ("6") ever came over this websocket. */
function assertNoNoop(c) {
  const noops = c.all.filter((m) => !m.binary && m.data === '6');
  assert.equal(noops.length, 0, 'a noop packet "6" was sent over the websocket');
}

test('handshake: 0{sid,upgrades:[],pingInterval,pingTimeout,maxPayload}', T, async () => {
  const { wsUrl } = await main();
  const { c, handshake } = await wsHandshake(wsUrl);
  try {
    assert.deepEqual(Object.keys(handshake).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
    assert.deepEqual(handshake.upgrades, []);
    assert.equal(handshake.pingInterval, 25000);
    assert.equal(handshake.pingTimeout, 20000);
    assert.equal(handshake.maxPayload, MAX_PAYLOAD);
    assert.ok(handshake.sid.length >= 20);
    assert.match(handshake.sid, /^[A-Za-z0-9_-]+$/);
  } finally {
    c.terminate();
  }
});

test('text echo', T, async () => {
  const { wsUrl } = await main();
  const { c } = await wsHandshake(wsUrl);
  try {
    c.send('4hello');
    assert.equal(await c.nextText(), '4hello');
    c.send('4héllo ✓ 😀');
    assert.equal(await c.nextText(), '4héllo ✓ 😀');
    c.send('4');
    assert.equal(await c.nextText(), '4');
  } finally {
    c.terminate();
  }
});

test('many text messages echoed in order (none lost when frames share a TCP read)', T, async () => {
  const { wsUrl } = await main();
  const { c } = await wsHandshake(wsUrl);
  try {
    for (let i = 0; i < 200; i++) c.send(`4m${i}`);
    for (let i = 0; i < 200; i++) assert.equal(await c.nextText(), `4m${i}`);
  } finally {
    c.terminate();
  }
});

test('binary echo', T, async () => {
  const { wsUrl } = await main();
  const { c } = await wsHandshake(wsUrl);
  try {
    c.send(Uint8Array.from([1, 2, 3, 4]));
    const m = await c.nextMessage();
    assert.equal(m.binary, true);
    assert.deepEqual(new Uint8Array(m.data), Uint8Array.from([1, 2, 3, 4]));
    const all = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) all[i] = i;
    c.send(all);
    const m2 = await c.nextMessage();
    assert.equal(m2.binary, true);
    assert.ok(all.equals(m2.data), 'all byte values survive');
    c.send(Buffer.alloc(0));
    const m3 = await c.nextMessage();
    assert.equal(m3.binary, true);
    assert.equal(m3.data.length, 0);
  } finally {
    c.terminate();
  }
});

test('fragmented text message is reassembled and echoed', T, async () => {
  const { wsUrl } = await main();
  const { c } = await wsHandshake(wsUrl);
  try {
    c.send('4hel', { fin: false });
    c.send('lo wo', { fin: false });
    c.send('rld', { fin: true });
    assert.equal(await c.nextText(), '4hello world');
  } finally {
    c.terminate();
  }
});

test('fragmented message with a ping frame in the middle', T, async () => {
  const { port } = await main();
  const c = await rawConn(port);
  try {
    const up = wsUpgradeRequest(port, wsPath());
    c.write(up.text);
    const r = await c.readResponse();
    assert.equal(r.status, 101);
    assert.equal(r.headers['sec-websocket-accept'], up.accept);
    const open = await c.readFrame();
    assert.equal(open.opcode, 1);
    assert.match(open.payload.toString(), /^0\{/);
    c.write(Buffer.concat([
      wsFrame(1, '4ab', { fin: false }),
      wsFrame(9, 'pp'),
      wsFrame(0, 'cd', { fin: true }),
    ]));
    const pong = await c.readFrame();
    assert.equal(pong.opcode, 10);
    assert.equal(pong.payload.toString(), 'pp');
    const echo = await c.readFrame();
    assert.equal(echo.opcode, 1);
    assert.equal(echo.payload.toString(), '4abcd');
  } finally {
    c.destroy();
  }
});

test('ping frame is answered with a pong carrying the same data', T, async () => {
  const { wsUrl } = await main();
  const { c } = await wsHandshake(wsUrl);
  try {
    c.ws.ping(Buffer.from('abc'));
    const p = await c.pong();
    assert.equal(p.toString(), 'abc');
  } finally {
    c.terminate();
  }
});

test('close handshake: client close 1000 is answered with a close frame', T, async () => {
  const { wsUrl } = await main();
  const { c } = await wsHandshake(wsUrl);
  c.close(1000, 'bye');
  const info = await c.closed(3000);
  assert.equal(info.code, 1000);
});

test('unmasked client frame: connection closed with 1002', T, async () => {
  const { port } = await main();
  const c = await rawConn(port);
  try {
    const up = wsUpgradeRequest(port, wsPath());
    c.write(up.text);
    const r = await c.readResponse();
    assert.equal(r.status, 101);
    const open = await c.readFrame();
    assert.match(open.payload.toString(), /^0\{/);
    c.write(wsFrame(1, '4hello', { mask: false }));
    let f;
    do {
      f = await c.readFrame(3000);
    } while (f.opcode !== 8); // skip anything sent before the close
    assert.equal(f.code, 1002);
    assert.ok(await c.closed(3000));
  } finally {
    c.destroy();
  }
});

test('frame larger than maxPayload: closed with 1009; other sessions unaffected', T, async () => {
  const { wsUrl } = await main();
  const other = await wsHandshake(wsUrl);
  const { c } = await wsHandshake(wsUrl);
  try {
    c.send(`4${'x'.repeat(MAX_PAYLOAD + 1)}`);
    const info = await c.closed(3000);
    assert.equal(info.code, 1009);
    other.c.send('4still here');
    assert.equal(await other.c.nextText(), '4still here');
    // a message of exactly maxPayload bytes still goes through
    const exact = `4${'y'.repeat(MAX_PAYLOAD - 1)}`;
    other.c.send(exact);
    assert.equal(await other.c.nextText(), exact);
  } finally {
    c.terminate();
    other.c.terminate();
  }
});

/* Open a raw websocket session; resolves the rawConn after the open packet. */
async function rawWs(port) {
  const c = await rawConn(port);
  const up = wsUpgradeRequest(port, wsPath());
  c.write(up.text);
  const r = await c.readResponse();
  assert.equal(r.status, 101);
  assert.equal(r.headers['sec-websocket-accept'], up.accept);
  const open = await c.readFrame();
  assert.equal(open.opcode, 1);
  assert.match(open.payload.toString(), /^0\{/);
  return c;
}

/* Read frames until a close frame; returns it (rejects if the TCP closes first). */
async function closeFrame(c) {
  for (;;) {
    const f = await c.readFrame(3000);
    if (f.opcode === 8) return f;
  }
}

const protocolErrors = [
  ['a continuation frame with no message started', () => wsFrame(0, 'xx'), 1002],
  ['a frame with RSV1 set and no extension', () => {
    const f = wsFrame(1, '4hi');
    f[0] |= 0x40;
    return f;
  }, 1002],
  ['a frame with the reserved opcode 3', () => wsFrame(3, 'zz'), 1002],
  ['a ping frame of 126 bytes (control frames carry at most 125)', () => wsFrame(9, 'p'.repeat(126)), 1002],
  ['a fragmented ping frame', () => wsFrame(9, 'pp', { fin: false }), 1002],
  ['a new text frame inside a fragmented message', () => Buffer.concat([
    wsFrame(1, '4ab', { fin: false }), wsFrame(1, '4cd')]), 1002],
  ['a text message that is not UTF-8', () => wsFrame(1, Buffer.from([0x34, 0xff, 0xfe, 0x41])), 1007],
  ['a text message split inside a UTF-8 sequence that never completes', () => Buffer.concat([
    wsFrame(1, Buffer.from([0x34, 0xe2, 0x82]), { fin: false }), wsFrame(0, Buffer.from([0x41]))]), 1007],
];
for (const [what, frame, code] of protocolErrors) {
  test(`${what}: closed with ${code}`, T, async () => {
    const { port } = await main();
    const c = await rawWs(port);
    try {
      c.write(frame());
      const f = await closeFrame(c);
      assert.equal(f.code, code, `close code ${f.code} (${f.reason})`);
      assert.ok(await c.closed(3000));
    } finally {
      c.destroy();
    }
  });
}

test('a text message split inside a UTF-8 sequence is reassembled', T, async () => {
  const { port } = await main();
  const c = await rawWs(port);
  try {
    const text = Buffer.from('4€uro', 'utf8'); // € is e2 82 ac
    c.write(Buffer.concat([wsFrame(1, text.subarray(0, 3), { fin: false }), wsFrame(0, text.subarray(3))]));
    const f = await c.readFrame();
    assert.equal(f.opcode, 1);
    assert.equal(f.payload.toString('utf8'), '4€uro');
  } finally {
    c.destroy();
  }
});

test('frames written one byte at a time are understood', T, async () => {
  const { port } = await main();
  const c = await rawWs(port);
  try {
    const bytes = Buffer.concat([wsFrame(1, '4slow'), wsFrame(2, Buffer.from([1, 2]))]);
    for (const b of bytes) {
      c.write(Buffer.from([b]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const f = await c.readFrame();
    assert.equal(f.payload.toString(), '4slow');
    const g = await c.readFrame();
    assert.equal(g.opcode, 2);
    assert.deepEqual([...g.payload], [1, 2]);
  } finally {
    c.destroy();
  }
});

test('upgrade request with Sec-WebSocket-Version 99: refused, no 101', T, async () => {
  const { port } = await main();
  const r = await httpRequest(port, wsUpgradeRequest(port, wsPath()).text.replace('Version: 13', 'Version: 99'), 3000);
  const st = statusOf(r.text);
  assert.ok(st >= 400 && st < 500, `answer: ${JSON.stringify(r.text.slice(0, 200))}`);
});

test('upgrade request without Sec-WebSocket-Key: refused, no 101', T, async () => {
  const { port } = await main();
  const r = await httpRequest(port, wsUpgradeRequest(port, wsPath()).text.replace(/Sec-WebSocket-Key: [^\r]*\r\n/, ''), 3000);
  const st = statusOf(r.text);
  assert.ok(st >= 400 && st < 500, `answer: ${JSON.stringify(r.text.slice(0, 200))}`);
});

test('a message of 200 KB is echoed whole (64-bit frame length)', T, async () => {
  const { wsUrl } = await big();
  const { c } = await wsHandshake(wsUrl);
  try {
    const text = `4${'0123456789'.repeat(20000)}`;
    c.send(text);
    assert.equal(await c.nextText(), text);
    const bin = Buffer.alloc(150000, 7);
    c.send(bin);
    const m = await c.nextMessage();
    assert.ok(m.binary && bin.equals(m.data), 'binary echo equal');
  } finally {
    c.terminate();
  }
});

test('invalid packet "abc" closes the websocket', T, async () => {
  const { wsUrl } = await main();
  const { c } = await wsHandshake(wsUrl);
  c.send('abc');
  await c.closed(3000);
});

// The spec lists "1" as "a transport can be closed"; the Node server only
// acts on it over polling and ignores it over a websocket, siogate closes.
test('client close packet "1" closes the websocket', { ...T, ...sgOnly }, async () => {
  const { wsUrl } = await main();
  const { c } = await wsHandshake(wsUrl);
  c.send('1');
  await c.closed(3000);
  assertNoNoop(c);
});

test('heartbeat: "2" every pingInterval; an unanswered ping closes the socket in time', T, async () => {
  const { wsUrl } = await fast();
  const { c } = await wsHandshake(wsUrl);
  try {
    let last = Date.now();
    for (let i = 0; i < 3; i++) {
      assert.equal(await c.nextText(PING_INTERVAL + 1000), '2');
      const gap = Date.now() - last;
      assert.ok(gap >= PING_INTERVAL - 100 && gap <= PING_INTERVAL + 500, `ping gap ${gap} ms`);
      last = Date.now();
      c.send('3');
    }
    // Stop answering: closed within interval + timeout after the last pong.
    assert.equal(await c.nextText(PING_INTERVAL + 1000), '2');
    const t0 = Date.now();
    await c.closed(PING_TIMEOUT + 1000);
    assert.ok(Date.now() - t0 <= PING_TIMEOUT + 500, `closed ${Date.now() - t0} ms after the unanswered ping`);
  } finally {
    c.terminate();
  }
});

test('upgrade from polling: 2probe/3probe, pending GET gets 6, 5 completes', T, async () => {
  const { port, wsUrl } = await main();
  const { sid } = await pollingHandshake(port);
  const c = openWs(`${wsUrl}${wsPath(`sid=${sid}`)}`);
  try {
    await c.opened();
    c.send('2probe');
    assert.equal(await c.nextText(), '3probe');
    const g = await get(port, eio(`sid=${sid}`));
    assert.equal(g.status, 200);
    assert.equal(g.body, '6');
    c.send('5');
    c.send('4hello');
    assert.equal(await c.nextText(), '4hello');
    c.send(Buffer.from([9, 8, 7]));
    const m = await c.nextMessage();
    assert.ok(m.binary && Buffer.from([9, 8, 7]).equals(m.data));
    // polling with that sid is refused once upgraded
    const g2 = await get(port, eio(`sid=${sid}`));
    assert.equal(g2.status, 400);
    c.send('4after');
    assert.equal(await c.nextText(), '4after');
    assertNoNoop(c);
  } finally {
    c.terminate();
  }
});

test('upgrade with a GET pending before the probe: the GET is answered 6', T, async () => {
  const { port, wsUrl } = await main();
  const { sid } = await pollingHandshake(port);
  const pending = get(port, eio(`sid=${sid}`));
  const c = openWs(`${wsUrl}${wsPath(`sid=${sid}`)}`);
  try {
    await c.opened();
    c.send('2probe');
    assert.equal(await c.nextText(), '3probe');
    const g = await pending;
    assert.equal(g.status, 200);
    assert.equal(g.body, '6');
    c.send('5');
    c.send('4hi');
    assert.equal(await c.nextText(), '4hi');
    assertNoNoop(c);
  } finally {
    c.terminate();
  }
});

test('messages echoed during the upgrade are not lost', T, async () => {
  const { port, wsUrl } = await main();
  const { sid } = await pollingHandshake(port);
  const c = openWs(`${wsUrl}${wsPath(`sid=${sid}`)}`);
  try {
    await c.opened();
    c.send('2probe');
    assert.equal(await c.nextText(), '3probe');
    // A message posted over polling before the upgrade completes: its echo
    // arrives on the poll (before the noop) or on the websocket after "5".
    const p = await post(port, eio(`sid=${sid}`), '4during');
    assert.equal(p.body, 'ok');
    const g = await get(port, eio(`sid=${sid}`));
    assert.equal(g.status, 200);
    const polled = g.body.split('\x1e');
    c.send('5');
    c.send('4end');
    const got = [];
    for (;;) {
      const t = await c.nextText();
      if (t === '4end') break;
      got.push(t);
    }
    const seen = [...polled, ...got].filter((x) => x === '4during');
    assert.equal(seen.length, 1, `polled ${JSON.stringify(polled)} ws ${JSON.stringify(got)}`);
    assertNoNoop(c);
  } finally {
    c.terminate();
  }
});

test('upgrade: polling with the sid after the upgrade is refused', T, async () => {
  const { port, wsUrl } = await main();
  const { sid } = await pollingHandshake(port);
  const c = openWs(`${wsUrl}${wsPath(`sid=${sid}`)}`);
  try {
    await c.opened();
    c.send('2probe');
    assert.equal(await c.nextText(), '3probe');
    c.send('5');
    // The "5" is on the wire before this request; wait for an echo so it is
    // also processed before.
    c.send('4sync');
    assert.equal(await c.nextText(), '4sync');
    const g = await get(port, eio(`sid=${sid}`));
    assert.equal(g.status, 400);
    c.send('4hello');
    assert.equal(await c.nextText(), '4hello');
  } finally {
    c.terminate();
  }
});

test('upgrade: a second websocket with the same sid is closed, the first keeps working', T, async () => {
  const { port, wsUrl } = await main();
  const { sid } = await pollingHandshake(port);
  const c = openWs(`${wsUrl}${wsPath(`sid=${sid}`)}`);
  try {
    await c.opened();
    c.send('2probe');
    assert.equal(await c.nextText(), '3probe');
    c.send('5');
    c.send('4sync');
    assert.equal(await c.nextText(), '4sync');
    const c2 = openWs(`${wsUrl}${wsPath(`sid=${sid}`)}`);
    await c2.closed(3000); // refused (HTTP error) or opened then closed
    assert.equal(c2.all.length, 0, `second websocket got ${JSON.stringify(c2.all)}`);
    c.send('4hello');
    assert.equal(await c.nextText(), '4hello');
    assertNoNoop(c);
  } finally {
    c.terminate();
  }
});

test('a websocket with an unknown sid is refused', T, async () => {
  const { wsUrl } = await main();
  const c = openWs(`${wsUrl}${wsPath('sid=AAAAAAAAAAAAAAAAAAAA')}`);
  await c.closed(3000);
  assert.equal(c.all.length, 0);
});

test('the gateway survived every case above', { ...T, skip: REF && 'reference server' }, async () => {
  await assertGatewaysAlive(fx);
});
