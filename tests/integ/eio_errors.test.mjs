// eio_errors.test.mjs: Engine.IO v4 error answers of the gateway: exact HTTP
// status and JSON body {"code":N,"message":"..."}, HTTP-level rejects
// (404, 400, 414/431, 413), the Origin check and CORS, and the answer when
// no worker serves the endpoint.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  REF, sgOnly, startStack, startGateway, startEchoWorker, get, post, request, eio,
  httpRequest, statusOf, pollingHandshake, rawConn, wsHandshake,
  fixtures, assertGatewaysAlive,
} from '../lib/harness.mjs';

const T = { timeout: 20000 };
const MSG = {
  0: 'Transport unknown',
  1: 'Session ID unknown',
  2: 'Bad handshake method',
  3: 'Bad request',
  4: 'Forbidden',
  5: 'Unsupported protocol version',
};

const fx = fixtures();
const lazy = fx.lazy;
after(() => fx.stopAll());

const main = lazy(() => startStack(['--max-payload', '1000']));
const corsOne = lazy(() => startStack(['--cors-origin', 'http://a.example']));
const corsAny = lazy(() => startStack(['--cors-origin', '*']));
const noWorker = lazy(() => startGateway([]));

/* A POST written in one go on a raw connection; resolves the first response. */
async function rawPost(port, p, lengthHeader, body) {
  const c = await rawConn(port);
  try {
    c.write(`POST ${p} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: text/plain;charset=UTF-8\r\n` +
      `${lengthHeader}\r\n\r\n${body}`);
    return await c.readResponse();
  } finally {
    c.destroy();
  }
}

/* Assert an Engine.IO JSON error answer. */
function assertEioError(r, status, code) {
  assert.equal(r.status, status, `status (body ${JSON.stringify(r.body)})`);
  assert.match(r.headers['content-type'] || '', /^application\/json/, 'content-type');
  assert.deepEqual(JSON.parse(r.body), { code, message: MSG[code] });
}

test('missing transport: 400, code 0 "Transport unknown"', T, async () => {
  const { port } = await main();
  assertEioError(await get(port, '/engine.io/?EIO=4'), 400, 0);
});

test('unknown transport: 400, code 0', T, async () => {
  const { port } = await main();
  assertEioError(await get(port, '/engine.io/?EIO=4&transport=abc'), 400, 0);
  assertEioError(await get(port, '/engine.io/?EIO=4&transport=webtransport'), 400, 0);
});

test('unknown sid: 400, code 1 "Session ID unknown" (GET and POST)', T, async () => {
  const { port } = await main();
  assertEioError(await get(port, eio('sid=AAAAAAAAAAAAAAAAAAAA')), 400, 1);
  assertEioError(await post(port, eio('sid=AAAAAAAAAAAAAAAAAAAA'), '4hello'), 400, 1);
});

test('handshake with POST or PUT: 400, code 2 "Bad handshake method"', T, async () => {
  const { port } = await main();
  assertEioError(await post(port, eio(), '4hello'), 400, 2);
  assertEioError(await request(port, { method: 'PUT', path: eio(), body: '4hello' }), 400, 2);
});

test('missing EIO, EIO=abc, EIO=3: 400, code 5 "Unsupported protocol version"', T, async () => {
  const { port } = await main();
  assertEioError(await get(port, '/engine.io/?transport=polling'), 400, 5);
  assertEioError(await get(port, '/engine.io/?EIO=abc&transport=polling'), 400, 5);
  assertEioError(await get(port, '/engine.io/?EIO=3&transport=polling'), 400, 5);
});

test('transport=websocket without an Upgrade: 400, code 3 "Bad request"', T, async () => {
  const { port } = await main();
  assertEioError(await get(port, '/engine.io/?EIO=4&transport=websocket'), 400, 3);
});

test('polling request with the sid of a websocket session: 400, code 3', T, async () => {
  const { port, wsUrl } = await main();
  const { c, sid } = await wsHandshake(wsUrl);
  try {
    assertEioError(await get(port, eio(`sid=${sid}`)), 400, 3);
    assertEioError(await post(port, eio(`sid=${sid}`), '4x'), 400, 3);
    // the websocket session is not harmed by that
    c.send('4still');
    assert.equal(await c.nextText(), '4still');
  } finally {
    c.terminate();
  }
});

test('path outside the endpoints: 404', T, async () => {
  const { port } = await main();
  assert.equal((await get(port, '/nope/?EIO=4&transport=polling')).status, 404);
  assert.equal((await get(port, '/')).status, 404);
});

test('garbage bytes: 400 and the connection is closed', T, async () => {
  const { port } = await main();
  const r = await httpRequest(port, 'this is not http\r\n\r\n');
  assert.equal(statusOf(r.text), 400, `answer: ${JSON.stringify(r.text)}`);
  assert.ok(r.closed, 'connection closed');
  const r2 = await httpRequest(port, Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 13, 10, 13, 10]));
  assert.equal(statusOf(r2.text), 400, `answer: ${JSON.stringify(r2.text)}`);
  assert.ok(r2.closed, 'connection closed');
});

test('malformed request line: 400 and the connection is closed', T, async () => {
  const { port } = await main();
  const r = await httpRequest(port, 'GET /engine.io/?EIO=4&transport=polling HTTP/9z\r\nHost: x\r\n\r\n');
  assert.equal(statusOf(r.text), 400, `answer: ${JSON.stringify(r.text)}`);
  assert.ok(r.closed, 'connection closed');
});

test('request line of 17 KiB: 414 or 431 and the connection is closed', T, async () => {
  const { port } = await main();
  const r = await httpRequest(port, `GET ${eio()}&x=${'a'.repeat(17 * 1024)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  assert.ok([414, 431].includes(statusOf(r.text)), `answer: ${JSON.stringify(r.text.slice(0, 200))}`);
  assert.ok(r.closed, 'connection closed');
});

test('request line just over 8 KiB: 414 or 431 and the connection is closed', { ...T, ...sgOnly }, async () => {
  const { port } = await main();
  const r = await httpRequest(port, `GET ${eio()}&x=${'a'.repeat(8192)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  assert.ok([414, 431].includes(statusOf(r.text)), `answer: ${JSON.stringify(r.text.slice(0, 200))}`);
  assert.ok(r.closed, 'connection closed');
});

test('headers of 64 KiB: 431 and the connection is closed', T, async () => {
  const { port } = await main();
  let hdrs = '';
  for (let i = 0; i < 64; i++) hdrs += `X-Filler-${i}: ${'b'.repeat(1024)}\r\n`;
  const r = await httpRequest(port, `GET ${eio()} HTTP/1.1\r\nHost: 127.0.0.1\r\n${hdrs}\r\n`);
  assert.equal(statusOf(r.text), 431, `answer: ${JSON.stringify(r.text.slice(0, 200))}`);
  assert.ok(r.closed, 'connection closed');
});

test('POST body over maxPayload: 413', T, async () => {
  const { port } = await main();
  const { sid } = await pollingHandshake(port);
  const body = `4${'x'.repeat(2000)}`;
  const r = await rawPost(port, eio(`sid=${sid}`), `Content-Length: ${body.length}`, body);
  assert.equal(r.status, 413, `answer: ${r.status} ${JSON.stringify(r.body)}`);
});

test('POST body over maxPayload closes that session only', { ...T, ...sgOnly }, async () => {
  const { port } = await main();
  const a = await pollingHandshake(port);
  const b = await pollingHandshake(port);
  const body = `4${'x'.repeat(2000)}`;
  const r = await rawPost(port, eio(`sid=${a.sid}`), `Content-Length: ${body.length}`, body);
  assert.equal(r.status, 413, `answer: ${r.status} ${JSON.stringify(r.body)}`);
  assertEioError(await get(port, eio(`sid=${a.sid}`)), 400, 1);
  // The other session still works.
  const p = await post(port, eio(`sid=${b.sid}`), '4still here');
  assert.equal(p.status, 200);
  assert.equal(p.body, 'ok');
  const g = await get(port, eio(`sid=${b.sid}`));
  assert.equal(g.status, 200);
  assert.equal(g.body, '4still here');
});

test('POST body over maxPayload with a chunked body: 413', { ...T, ...sgOnly }, async () => {
  const { port } = await main();
  const { sid } = await pollingHandshake(port);
  const chunk = `4${'y'.repeat(799)}`;
  const chunked = `${(800).toString(16)}\r\n${chunk}\r\n${(800).toString(16)}\r\n${'z'.repeat(800)}\r\n0\r\n\r\n`;
  const r = await rawPost(port, eio(`sid=${sid}`), 'Transfer-Encoding: chunked', chunked);
  assert.equal(r.status, 413, `answer: ${r.status} ${JSON.stringify(r.body)}`);
});

test('Origin not allowed by default (same-origin): 403, code 4, and logged', { ...T, ...sgOnly }, async () => {
  const s = await main();
  const since = s.gw.mark();
  const r = await get(s.port, eio(), { headers: { Origin: 'http://evil.example' } });
  assertEioError(r, 403, 4);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  await s.gw.waitLog(/evil\.example/, 3000, since);
});

test('same-origin Origin (http://<Host>) is allowed by default', { ...T, ...sgOnly }, async () => {
  const { port } = await main();
  const r = await get(port, eio(), { headers: { Origin: `http://127.0.0.1:${port}` } });
  assert.equal(r.status, 200, r.body);
  assert.match(r.body, /^0\{/);
  const r2 = await get(port, eio(), { headers: { Host: 'gw.example:8080', Origin: 'http://gw.example:8080' } });
  assert.equal(r2.status, 200, r2.body);
  const r3 = await get(port, eio(), { headers: { Host: 'gw.example:8080', Origin: `http://127.0.0.1:${port}` } });
  assertEioError(r3, 403, 4);
});

test('--cors-origin http://a.example: that origin gets the CORS headers', T, async () => {
  const { port } = await corsOne();
  const r = await get(port, eio(), { headers: { Origin: 'http://a.example' } });
  assert.equal(r.status, 200, r.body);
  assert.match(r.body, /^0\{/);
  assert.equal(r.headers['access-control-allow-origin'], 'http://a.example');
  assert.equal(r.headers['access-control-allow-credentials'], 'true');
  const sid = JSON.parse(r.body.slice(1)).sid;
  const p = await post(port, eio(`sid=${sid}`), '4x', { headers: { Origin: 'http://a.example' } });
  assert.equal(p.status, 200);
  assert.equal(p.headers['access-control-allow-origin'], 'http://a.example');
  assert.equal(p.headers['access-control-allow-credentials'], 'true');
});

test('--cors-origin http://a.example: any other origin is refused with 403, code 4', { ...T, ...sgOnly }, async () => {
  const { port } = await corsOne();
  const r = await get(port, eio(), { headers: { Origin: 'http://b.example' } });
  assertEioError(r, 403, 4);
  assert.notEqual(r.headers['access-control-allow-origin'], 'http://b.example');
  const r2 = await get(port, eio(), { headers: { Origin: 'http://a.example.evil' } });
  assertEioError(r2, 403, 4);
});

test('--cors-origin http://a.example: preflight OPTIONS answered 204', T, async () => {
  const { port } = await corsOne();
  const r = await request(port, {
    method: 'OPTIONS',
    path: eio(),
    headers: {
      Origin: 'http://a.example',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type,x-custom',
    },
  });
  assert.equal(r.status, 204);
  assert.equal(r.headers['access-control-allow-origin'], 'http://a.example');
  assert.equal(r.headers['access-control-allow-credentials'], 'true');
  const methods = (r.headers['access-control-allow-methods'] || '').toUpperCase().split(/\s*,\s*/);
  assert.ok(methods.includes('GET') && methods.includes('POST'), `Allow-Methods: ${methods}`);
  const allowed = (r.headers['access-control-allow-headers'] || '').toLowerCase().split(/\s*,\s*/);
  assert.ok(allowed.includes('content-type') && allowed.includes('x-custom'), `Allow-Headers: ${allowed}`);
});

test("--cors-origin '*': any origin is allowed", T, async () => {
  const { port } = await corsAny();
  for (const origin of ['http://x.example', 'https://y.example:8443']) {
    const r = await get(port, eio(), { headers: { Origin: origin } });
    assert.equal(r.status, 200, r.body);
    assert.ok([origin, '*'].includes(r.headers['access-control-allow-origin']),
      `Allow-Origin: ${r.headers['access-control-allow-origin']}`);
  }
});

test('no worker: a new session is refused with 503 and a JSON error; the gateway survives', { ...T, ...sgOnly }, async () => {
  const gw = await noWorker();
  const r = await get(gw.port, eio());
  assert.equal(r.status, 503, r.body);
  assert.match(r.headers['content-type'] || '', /^application\/json/);
  const j = JSON.parse(r.body);
  assert.equal(j.code, 3);
  assert.match(j.message, /no worker/i);
  // A websocket handshake is refused as well (no 101).
  const w = await httpRequest(gw.port, `GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
    'Sec-WebSocket-Version: 13\r\n\r\n', 3000);
  assert.notEqual(statusOf(w.text), 101, `answer: ${JSON.stringify(w.text.slice(0, 200))}`);
  assert.ok(gw.alive(), 'gateway still running');
  // Once a worker registers, sessions open.
  const worker = await startEchoWorker(gw.bridge);
  try {
    const { sid } = await pollingHandshake(gw.port);
    assert.equal((await post(gw.port, eio(`sid=${sid}`), '4late')).body, 'ok');
    assert.equal((await get(gw.port, eio(`sid=${sid}`))).body, '4late');
  } finally {
    await worker.stop();
  }
});

test('the gateway survived every case above', { ...T, skip: REF && 'reference server' }, async () => {
  await assertGatewaysAlive(fx);
});
