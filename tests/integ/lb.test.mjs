// lb.test.mjs: two gateways behind the real HAProxy and the real nginx,
// configured by the shipped samples (dist/haproxy/siogate.cfg,
// dist/nginx/siogate.conf) with only their addresses replaced by this
// test's ports.  Clients (the official socket.io-client) come from many
// loopback addresses, so that the samples' by-address handshake spreads them
// over both gateways; then every later request must reach the gateway its
// sid names, whatever its address hashes to.
//
// Checked per LB, for polling only, polling upgraded to WebSocket, and
// WebSocket only: every client's acks come back and the worker that answers
// "whoami" is the one of the gateway its sid names; no client is ever
// disconnected; the LB's own log shows every request with a sid on that
// gateway and no 400; both gateways got clients; handshakes from one
// address land on one gateway; a same-origin request passes the gateway's
// Origin check through the LB (the Host header is kept).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import {
  REF, startGateway, spawnLogged, deadline, waitUntil, freePort,
} from '../lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOP = process.env.TOP_SRCDIR || path.join(here, '..', '..');
const PY = process.env.PYTHON || '/usr/bin/python3';
const WORKER = path.join(here, '..', 'lib', 'sio_test_worker.py');
const HAPROXY = process.env.HAPROXY || '/usr/sbin/haproxy';
const NGINX = process.env.NGINX || '/usr/sbin/nginx';
/*
 * The samples route gw1* and gw2*.  gw1 runs two event loops, which are
 * gateways gw10 and gw11 (the 4th character is the loop's): the samples must
 * route by the first three characters.
 */
const IDS = ['gw1a', 'gw2a'];
const LOOPS = [['gw10', 'gw11'], ['gw2a']];
const gwOf = (sid) => IDS.findIndex((id) => sid.startsWith(id.slice(0, 3)));
const PER_MODE = 8;		/* clients per transport mode and LB */
const ROUNDS = 15;		/* acked events per client */

function skipReason() {
  if (REF) return 'siogate-specific (needs gateways with ids)';
  for (const [b, pkg] of [[HAPROXY, 'haproxy'], [NGINX, 'nginx']]) {
    if (!fs.existsSync(b)) return `${b} not installed (Debian package ${pkg})`;
  }
  const r = spawnSync(PY, ['-c', 'import zmq, msgpack'], { stdio: 'ignore' });
  if (r.status !== 0) return `${PY} lacks zmq or msgpack (python3-zmq, python3-msgpack)`;
  return false;
}
const SKIP = skipReason();
const T = { timeout: 60000, skip: SKIP };


/* The shipped sample with its addresses replaced; each must be there. */
function render(rel, lbPort, gws) {
  let text = fs.readFileSync(path.join(TOP, rel), 'utf8');
  const subst = [['127.0.0.1:8080', lbPort], ['127.0.0.1:8081', gws[0].port],
    ['127.0.0.1:8082', gws[1].port]];
  for (const [from, port] of subst) {
    assert.ok(text.includes(from), `${rel} names ${from}`);
    text = text.replaceAll(from, `127.0.0.1:${port}`);
  }
  return text;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-lb-'));
const stops = [];
after(async () => {
  for (const s of stops.reverse()) await s();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/* Two gateways, each with its own test worker named after the gateway. */
let gwsP = null;
function gateways() {
  gwsP ??= (async () => {
    const gws = [];
    for (let g = 0; g < IDS.length; g++) {
      const gw = await startGateway(['--gateway-id', IDS[g], '--threads', String(LOOPS[g].length),
        '--ping-interval', '400', '--ping-timeout', '5000']);
      stops.push(async () => {
        const r = await gw.stop();
        assert.equal(r.code, 0, `gateway ${IDS[g]} exit status ${r.code}; 99: valgrind errors`);
      });
      /* One worker per loop (loop i's bridge is the ipc path + ".i"), named after it. */
      for (let i = 0; i < LOOPS[g].length; i++) {
        const id = LOOPS[g][i];
        const w = spawnLogged(PY, [WORKER, i ? `${gw.bridge}.${i}` : gw.bridge, '--name', `w-${id}`],
          `worker ${id}`);
        stops.push(w.stop);
        const m = await w.waitLog(/registered with gateway (\S+)/, 10000);
        assert.equal(m[1], id, `loop ${i} of ${IDS[g]} is gateway ${id}`);
      }
      gws.push(gw);
    }
    return gws;
  })();
  return gwsP;
}

/* An HTTP GET through port from a given local address: {status, body}. */
function get(port, p, { local = '127.0.0.1', headers = {} } = {}) {
  return deadline(new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path: p, localAddress: local, headers, agent: false,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  }), 5000, `GET ${p}`);
}

/* An Engine.IO polling handshake through port from local: the sid. */
async function handshake(port, local, headers = {}) {
  const r = await get(port, '/socket.io/?EIO=4&transport=polling', { local, headers });
  assert.equal(r.status, 200, `handshake from ${local}: ${r.status} ${r.body}`);
  return JSON.parse(r.body.slice(1)).sid;
}

/*
 * An agent that opens each connection from the next of its local addresses
 * (a client behind a pool of NAT addresses or several outgoing proxies), so
 * that only the sid can keep a session's requests on its gateway.
 */
class RotatingAgent extends http.Agent {
  constructor(addrs) {
    super({ keepAlive: false });
    this.addrs = addrs;
    this.next = 0;
  }

  createConnection(options, cb) {
    const localAddress = this.addrs[this.next++ % this.addrs.length];
    return super.createConnection({ ...options, localAddress }, cb);
  }
}

/*
 * One client from local addresses addrs (the handshake from the first) with
 * transport mode `mode`: connect, ROUNDS acked events, a "whoami", then
 * close.  Resolves to {sid, worker, transport}; rejects on any disconnect or
 * error.
 */
async function client(port, mode, addrs) {
  const opts = {
    polling: { transports: ['polling'], upgrade: false },
    upgrade: {},
    websocket: { transports: ['websocket'] },
  }[mode];
  const agent = new RotatingAgent(addrs);
  const local = addrs[0];
  const s = io(`http://127.0.0.1:${port}`, {
    forceNew: true, reconnection: false, timeout: 5000, agent, ...opts,
  });
  const failures = [];
  s.on('connect_error', (e) => failures.push(`connect_error: ${e.message}`));
  s.on('disconnect', (reason) => failures.push(`disconnect: ${reason}`));
  try {
    await deadline(new Promise((resolve, reject) => {
      s.once('connect', resolve);
      s.once('connect_error', reject);
    }), 10000, `${mode} client from ${local} to connect`);
    const eng = s.io.engine;
    const sid = eng.id;
    if (mode === 'upgrade' && eng.transport.name !== 'websocket') {
      await deadline(new Promise((resolve) => eng.once('upgrade', resolve)), 10000,
        `client ${sid} to upgrade`);
    }
    for (let i = 0; i < ROUNDS; i++) {
      const r = await s.timeout(5000).emitWithAck('ack', { i, sid });
      assert.deepEqual(r, { i, sid }, `ack ${i} of ${sid}`);
    }
    const who = new Promise((resolve) => s.once('whoami', resolve));
    assert.equal(await s.timeout(5000).emitWithAck('whoami'), 'ok');
    const worker = await deadline(who, 5000, `whoami of ${sid}`);
    assert.deepEqual(failures, [], `client ${sid} (${mode}) stayed connected`);
    assert.equal(eng.id, sid, 'the session never changed');
    return { sid, worker, transport: eng.transport.name };
  } finally {
    s.close();
    agent.destroy();
  }
}

/*
 * The scenario through one LB: 3 x PER_MODE clients at once, each from its
 * own first address and then rotating over the others, then the checks on
 * their results.  Returns the clients.
 */
async function clientsThrough(port, gws, base) {
  const modes = ['polling', 'upgrade', 'websocket'];
  const n = modes.length * PER_MODE;
  const jobs = [];
  for (let j = 0; j < n; j++) {
    const mode = modes[Math.floor(j / PER_MODE)];
    const addrs = [];
    for (let r = 0; r < n; r++) addrs.push(`127.0.${base}.${10 + ((j + r * 7) % n)}`);
    jobs.push(client(port, mode, addrs).then((r) => ({ ...r, mode })));
  }
  const res = await deadline(Promise.all(jobs), 45000, 'every client to finish');
  const per = {};
  for (const r of res) per[r.sid.slice(0, 4)] = (per[r.sid.slice(0, 4)] || 0) + 1;
  console.log(`clients per gateway loop: ${JSON.stringify(per)}`);
  for (const r of res) {
    assert.ok(LOOPS.flat().includes(r.sid.slice(0, 4)), `sid ${r.sid} names a gateway loop`);
    assert.equal(r.worker, `w-${r.sid.slice(0, 4)}`,
      `${r.mode} client ${r.sid} was served by its loop's worker`);
    assert.equal(r.transport, r.mode === 'polling' ? 'polling' : 'websocket', `${r.sid} transport`);
  }
  for (const id of IDS) {
    assert.ok(res.some((r) => gwOf(r.sid) === IDS.indexOf(id)), `some clients landed on ${id}`);
  }
  return res;
}

/* Handshakes from one address land on one gateway; same origin passes. */
async function stickyAndOrigin(port, base) {
  const prefixes = new Set();
  for (let i = 0; i < 8; i++) prefixes.add((await handshake(port, `127.0.${base}.200`)).slice(0, 3));
  assert.equal(prefixes.size, 1, `8 handshakes from one address: ${[...prefixes]}`);
  const sid = await handshake(port, '127.0.0.1', { Origin: `http://127.0.0.1:${port}` });
  assert.ok(sid.length > 4, 'same-origin handshake through the LB accepted (Host kept)');
  const bad = await get(port, '/socket.io/?EIO=4&transport=polling',
    { headers: { Origin: 'http://evil.example' } });
  assert.equal(bad.status, 403, 'a foreign Origin is still refused by the gateway');
  /* A sid of gw1 that does not exist: routed to gw1, which says so. */
  const r = await get(port, '/socket.io/?EIO=4&transport=polling&sid=gw1aNoSuchSession000');
  assert.equal(r.status, 400);
  assert.match(r.body, /Session ID unknown/);
}

/*
 * Check an LB's request log: [{status, gw, sid}] with gw the gateway index
 * the request went to.  Every request with a sid of a live session went to
 * the gateway of its prefix; no 400 except for the one made on purpose.
 */
function checkLog(lines, sids) {
  const known = new Set(sids);
  let routed = 0;
  const perGw = [0, 0];
  for (const l of lines) {
    if (l.sid && known.has(l.sid)) {
      routed++;
      perGw[l.gw]++;
      assert.equal(l.gw, gwOf(l.sid), `request for ${l.sid} went to gateway ${IDS[l.gw]}`);
    }
    if (l.status === 400) {
      assert.equal(l.sid, 'gw1aNoSuchSession000', `400 only for the made-up sid: ${JSON.stringify(l)}`);
      assert.equal(l.gw, 0, 'the made-up gw1 sid went to gw1');
    }
  }
  assert.ok(routed >= sids.length * 3, `the log shows ${routed} requests with known sids`);
  assert.ok(perGw[0] > 0 && perGw[1] > 0, `both gateways got requests with sids: ${perGw}`);
}

const sidOf = (url) => (/[?&]sid=([^& ]+)/.exec(url) || [])[1] || null;

test('HAProxy with dist/haproxy/siogate.cfg routes by sid prefix and by address', T, async () => {
  const gws = await gateways();
  const port = await freePort();
  const cfg = path.join(tmp, 'haproxy.cfg');
  fs.writeFileSync(cfg, render('dist/haproxy/siogate.cfg', port, gws));
  const h = spawnLogged(HAPROXY, ['-f', cfg, '-db'], 'haproxy');
  const closed = new Promise((resolve) => h.proc.on('close', resolve));
  stops.push(h.stop);
  await waitUntil(async () => (await handshake(port, '127.0.0.1').catch(() => null)), 10000,
    'haproxy to answer');
  const res = await clientsThrough(port, gws, 1);
  await stickyAndOrigin(port, 1);
  await h.stop();
  await deadline(closed, 5000, 'haproxy output to end');
  /* option httplog: ... backend/server Tq/Tw/Tc/Tr/Ta STATUS ... "GET /... HTTP/1.1" */
  const lines = [];
  for (const l of h.logs) {
    const m = /\ssiogate\/(gw[12])\s+\S+\s+(\d{3})\s.*"(?:GET|POST) (\S+)/.exec(l);
    if (m) lines.push({ gw: m[1] === 'gw1' ? 0 : 1, status: Number(m[2]), sid: sidOf(m[3]) });
  }
  assert.ok(lines.length > 0, `haproxy logged requests:\n${h.logs.slice(0, 5).join('\n')}`);
  checkLog(lines, res.map((r) => r.sid));
});

test('nginx with dist/nginx/siogate.conf routes by sid prefix and by address', T, async () => {
  const gws = await gateways();
  const port = await freePort();
  const dir = path.join(tmp, 'nginx');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'siogate.conf'), render('dist/nginx/siogate.conf', port, gws));
  /* The test's own main file: private pid, temp dirs and log, then the sample. */
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `\t${t}_temp_path ${dir}/${t};`).join('\n');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `${process.getuid() === 0 ? 'user root;\n' : ''}\
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr;
events {}
http {
${temps}
\tlog_format lbtest '$status $upstream_addr "$request"';
\taccess_log ${dir}/access.log lbtest;
\tinclude ${dir}/siogate.conf;
}
`);
  const h = spawnLogged(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', 'stderr',
    '-g', 'daemon off;'], 'nginx');
  const closed = new Promise((resolve) => h.proc.on('close', resolve));
  stops.push(h.stop);
  await waitUntil(async () => (await handshake(port, '127.0.0.1').catch(() => null)), 10000,
    'nginx to answer');
  const res = await clientsThrough(port, gws, 2);
  await stickyAndOrigin(port, 2);
  await h.stop();
  await deadline(closed, 5000, 'nginx to exit');
  const byPort = new Map(gws.map((g, i) => [`127.0.0.1:${g.port}`, i]));
  const lines = [];
  for (const l of fs.readFileSync(path.join(dir, 'access.log'), 'utf8').split('\n')) {
    const m = /^(\d{3}) (\S+) "(?:GET|POST) (\S+)/.exec(l);
    if (m && byPort.has(m[2])) lines.push({ gw: byPort.get(m[2]), status: Number(m[1]), sid: sidOf(m[3]) });
  }
  assert.ok(lines.length > 0, 'nginx logged requests');
  checkLog(lines, res.map((r) => r.sid));
});
