// ws_lean.test.mjs: the gateway keeps a WebSocket frame parser (a wslay
// context, ~9 KiB) only while a connection's input is incomplete, and drops
// it between messages.  Every case checks siogate_websocket_parsers on the
// metrics listener, which also proves that each piece written was read by
// the gateway on its own (a separate TCP read) before the next is sent:
// frames split byte by byte, in their extended lengths and mask keys,
// fragmented messages spread over reads with control frames in between,
// the message size limit across fragments, pings, closes both ways.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  REF, startStack, rawConn, wsFrame, wsUpgradeRequest, EIO_PATH, request, waitUntil, sleep,
  fixtures, assertGatewaysAlive,
} from '../lib/harness.mjs';

const T = { timeout: 30000, skip: REF && 'siogate-specific (metrics)' };
const MAX_PAYLOAD = 100000;

const fx = fixtures();
after(() => fx.stopAll());

async function stackWithMetrics(args) {
  const s = await startStack(['--metrics-listen', '127.0.0.1:0', ...args]);
  const m = await s.gw.waitLog(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/, 5000);
  return { ...s, mport: Number(m[1]) };
}
const main = fx.lazy(() => stackWithMetrics(['--ping-interval', '25000', '--ping-timeout', '20000',
  '--max-payload', String(MAX_PAYLOAD)]));
const fast = fx.lazy(() => stackWithMetrics(['--ping-interval', '300', '--ping-timeout', '300']));

/* One gauge or counter from /metrics. */
async function metric(mport, name) {
  const r = await request(mport, { path: '/metrics' });
  assert.equal(r.status, 200);
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(r.body);
  assert.ok(m, `${name} in /metrics`);
  return Number(m[1]);
}
const parsers = (mport) => metric(mport, 'siogate_websocket_parsers');
const bytesIn = (mport) => metric(mport, 'siogate_bytes_in_total');

/* Wait until the gateway holds `n` parsers. */
async function expectParsers(mport, n, what) {
  let last;
  await waitUntil(async () => (last = await parsers(mport)) === n, 3000,
    `${n} websocket parser(s) ${what} (have ${last})`);
}

/* A raw websocket session (Nagle off: every write is its own segment). */
async function rawWs(port) {
  const c = await rawConn(port);
  c.sock.setNoDelay(true);
  const up = wsUpgradeRequest(port, `${EIO_PATH}?EIO=4&transport=websocket`);
  c.write(up.text);
  const r = await c.readResponse();
  assert.equal(r.status, 101);
  const open = await c.readFrame();
  assert.match(open.payload.toString(), /^0\{/);
  return c;
}

/*
 * Write bytes in pieces, each read by the gateway before the next is sent
 * (its input counter moves); between pieces the parser must be held.
 */
async function writeInReads(mport, c, pieces) {
  for (let i = 0; i < pieces.length; i++) {
    const before = await bytesIn(mport);
    c.write(pieces[i]);
    await waitUntil(async () => (await bytesIn(mport)) >= before + pieces[i].length, 3000,
      `piece ${i} read by the gateway`);
    if (i < pieces.length - 1) {
      assert.equal(await parsers(mport), 1, `a parser is held after piece ${i} of ${pieces.length}`);
    }
  }
}

const bytesOf = (b) => [...b].map((x) => Buffer.from([x]));

test('idle websockets hold no frame parser', T, async () => {
  const { port, mport } = await main();
  const cs = [await rawWs(port), await rawWs(port), await rawWs(port)];
  try {
    for (const [i, c] of cs.entries()) {
      c.write(wsFrame(1, `4hi${i}`));
      assert.equal((await c.readFrame()).payload.toString(), `4hi${i}`);
    }
    await expectParsers(mport, 0, 'with three idle websockets');
  } finally {
    for (const c of cs) c.destroy();
  }
});

test('a frame split byte by byte over reads, after the parser was dropped, is understood', T, async () => {
  const { port, mport } = await main();
  const c = await rawWs(port);
  try {
    c.write(wsFrame(1, '4first'));
    assert.equal((await c.readFrame()).payload.toString(), '4first');
    await expectParsers(mport, 0, 'after a whole message');
    await writeInReads(mport, c, bytesOf(wsFrame(1, '4byte by byte')));
    assert.equal((await c.readFrame()).payload.toString(), '4byte by byte');
    await expectParsers(mport, 0, 'after the split frame');
    // Again on the same connection: the parser is made anew each time.
    await writeInReads(mport, c, bytesOf(wsFrame(2, Buffer.from([1, 2, 3]))));
    const f = await c.readFrame();
    assert.equal(f.opcode, 2);
    assert.deepEqual([...f.payload], [1, 2, 3]);
  } finally {
    c.destroy();
  }
});

test('16- and 64-bit frame lengths split inside the length and the mask key', T, async () => {
  const { port, mport } = await main();
  const c = await rawWs(port);
  try {
    const mid = `4${'m'.repeat(300)}`;
    const f16 = wsFrame(1, mid);
    // header 2 + 2 length + 4 key: split after 1, 3 and 6 bytes, then the payload in two
    await writeInReads(mport, c, [f16.subarray(0, 1), f16.subarray(1, 3), f16.subarray(3, 6),
      f16.subarray(6, 100), f16.subarray(100)]);
    assert.equal((await c.readFrame()).payload.toString(), mid);
    const large = `4${'L'.repeat(70000)}`;
    const f64 = wsFrame(1, large);
    // header 2 + 8 length + 4 key
    await writeInReads(mport, c, [f64.subarray(0, 2), f64.subarray(2, 7), f64.subarray(7, 12),
      f64.subarray(12, 14), f64.subarray(14, 30000), f64.subarray(30000)]);
    assert.equal((await c.readFrame(10000)).payload.toString(), large);
    await expectParsers(mport, 0, 'after both');
  } finally {
    c.destroy();
  }
});

test('a fragmented message over reads, with ping and pong frames between fragments', T, async () => {
  const { port, mport } = await main();
  const c = await rawWs(port);
  try {
    // Whole frames, but the message stays open until the last: the parser is kept.
    await writeInReads(mport, c, [
      wsFrame(1, '4one ', { fin: false }),
      wsFrame(9, 'p1'),
      wsFrame(0, 'two ', { fin: false }),
      wsFrame(10, 'unsolicited pong'),
      wsFrame(0, 'three'),
    ]);
    const p = await c.readFrame();
    assert.equal(p.opcode, 10);
    assert.equal(p.payload.toString(), 'p1');
    assert.equal((await c.readFrame()).payload.toString(), '4one two three');
    await expectParsers(mport, 0, 'after the last fragment');
  } finally {
    c.destroy();
  }
});

test('a big binary message in fragments split across reads is echoed whole', T, async () => {
  const { port, mport } = await main();
  const c = await rawWs(port);
  try {
    const data = Buffer.alloc(60000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const frames = Buffer.concat([
      wsFrame(2, data.subarray(0, 20000), { fin: false }),
      wsFrame(0, data.subarray(20000, 40000), { fin: false }),
      wsFrame(0, data.subarray(40000)),
    ]);
    // Cut anywhere, not at frame boundaries.
    const cuts = [0, 5, 7000, 20010, 20013, 33333, 40020, frames.length];
    await writeInReads(mport, c, cuts.slice(1).map((e, i) => frames.subarray(cuts[i], e)));
    const f = await c.readFrame(10000);
    assert.equal(f.opcode, 2);
    assert.ok(data.equals(f.payload), 'binary echo equal');
    await expectParsers(mport, 0, 'after the message');
  } finally {
    c.destroy();
  }
});

test('the size limit counts every fragment, in separate reads: closed with 1009', T, async () => {
  const { port, mport } = await main();
  const c = await rawWs(port);
  try {
    const half = 'x'.repeat(MAX_PAYLOAD / 2 + 10);
    await writeInReads(mport, c, [wsFrame(1, `4${half}`, { fin: false })]);
    assert.equal(await parsers(mport), 1, 'the open message keeps its parser');
    c.write(wsFrame(0, half));
    let f;
    do f = await c.readFrame(); while (f.opcode !== 8);
    assert.equal(f.code, 1009, `close code ${f.code}`);
    assert.ok(await c.closed(3000));
    await expectParsers(mport, 0, 'once closed');
  } finally {
    c.destroy();
  }
});

test('a ping frame after idle gets its pong; a close after idle gets its close', T, async () => {
  const { port, mport } = await main();
  const c = await rawWs(port);
  try {
    await expectParsers(mport, 0, 'before the ping');
    c.write(wsFrame(9, 'are you there'));
    const p = await c.readFrame();
    assert.equal(p.opcode, 10);
    assert.equal(p.payload.toString(), 'are you there');
    await expectParsers(mport, 0, 'after the ping');
    const code = Buffer.from([0x03, 0xe8]); // 1000
    await writeInReads(mport, c, bytesOf(wsFrame(8, Buffer.concat([code, Buffer.from('bye')]))));
    const f = await c.readFrame();
    assert.equal(f.opcode, 8);
    assert.equal(f.code, 1000);
    assert.ok(await c.closed(3000));
  } finally {
    c.destroy();
  }
});

test('Engine.IO heartbeats go on while idle; a missed pong gets a close frame 1000', T, async () => {
  const { port, mport } = await fast();
  const c = await rawWs(port);
  try {
    for (let i = 0; i < 3; i++) {
      const ping = await c.readFrame(2000);
      assert.equal(ping.payload.toString(), '2');
      await expectParsers(mport, 0, `when ping ${i} comes`);
      c.write(wsFrame(1, '3'));
    }
    // Stop answering: the gateway closes an idle connection (no parser) itself.
    let f;
    do f = await c.readFrame(2000); while (f.opcode !== 8);
    assert.equal(f.code, 1000);
    assert.ok(await c.closed(3000));
  } finally {
    c.destroy();
  }
});

test('a protocol error after the parser was dropped: closed with 1002', T, async () => {
  const { port, mport } = await main();
  const c = await rawWs(port);
  try {
    await expectParsers(mport, 0, 'while idle');
    // A continuation frame with no message open: the new parser must see it as one.
    c.write(wsFrame(0, 'orphan'));
    let f;
    do f = await c.readFrame(); while (f.opcode !== 8);
    assert.equal(f.code, 1002);
    assert.ok(await c.closed(3000));
    await sleep(50);
  } finally {
    c.destroy();
  }
});

test('the gateways survived every case above', T, async () => {
  await assertGatewaysAlive(fx);
});
