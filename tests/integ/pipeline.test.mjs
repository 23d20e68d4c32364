// pipeline.test.mjs: events of one socket see what the earlier events of
// that socket did (issue 14).  A client that emits set_name then get_name,
// or join then inroom, without waiting for the first ack gets the new name
// and the room, as on Node: the gateway sends a socket's next event only
// once its worker paid the previous one back with CREDIT, after the
// worker's SET_SESSION / JOIN.  The real gateway, the C SDK test worker
// (tests/integ/sdk_worker.c), the official socket.io-client and Debian's
// python3-socketio client; websocket and polling; one and two workers;
// threads = 2; open namespaces; the held queue's bound (EOVERLOAD) and
// expiry (ENOWORKER); a worker lost with events held; emit then
// disconnect.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { io } from 'socket.io-client';
import { REF, startGateway, spawnLogged, deadline, waitUntil } from '../lib/harness.mjs';

const T = { timeout: 60000 };
const skip = REF ? { skip: 'siogate-only (C SDK worker)' } : {};
const ROUNDS = 20;

function workerPath() {
  if (process.env.SDK_WORKER) return process.env.SDK_WORKER;
  return path.join(path.dirname(process.env.SIOGATE || '.'), '..', 'tests', 'integ', 'sdk_worker');
}

const stoppers = [];
after(async () => {
  for (const s of stoppers.reverse()) await s();
});

/* A gateway with gwArgs and one sdk_worker per entry of workers (its extra args). */
async function stack(gwArgs = [], workers = [[]]) {
  const gw = await startGateway(['--bridge-heartbeat', '500', ...gwArgs]);
  const ti = gwArgs.indexOf('--threads');
  const loops = ti >= 0 ? Number(gwArgs[ti + 1]) : 1;
  const ws = [];
  const st = {
    gw,
    ws,
    async addWorker(extra = [], name = `w${ws.length}`) {
      const w = spawnLogged(workerPath(), ['-n', name, '-s', '/', '-o', '/opensess*',
        ...extra, '-e', gw.bridge], `sdk_worker ${name}`);
      ws.push(w);
      // Registered with every loop of the gateway.
      await waitUntil(() => w.logs.filter((l) => /registered with gateway/.test(l)).length >= loops,
        10000, `${name} to register with ${loops} loop(s)`);
      return w;
    },
    clients: new Set(),
    async stop() {
      for (const c of st.clients) c.disconnect();
      for (const w of ws) await w.stop();
      await gw.stop();
    },
  };
  stoppers.push(() => st.stop());
  for (const extra of workers) await st.addWorker(extra);
  return st;
}

/* A connected socket.io-client socket. */
async function connect(st, transports, nsp = '/') {
  const s = io(`${st.gw.url}${nsp}`, { transports, forceNew: true, reconnection: false });
  st.clients.add(s);
  await deadline(new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('connect_error', reject);
  }), 10000, `connect to ${nsp}`);
  return s;
}

/* The first argument of the ack (what emitWithAck resolves with). */
const ack = (s, ...args) => deadline(s.emitWithAck(...args), 10000, `ack of ${args[0]}`);

/*
 * ROUNDS fresh sockets, each: set_name then get_name, join then inroom,
 * all four emitted back to back without waiting.  Returns how many rounds
 * saw both changes.
 */
async function pipelined(st, transports) {
  let good = 0;
  const seen = [];
  await Promise.all(Array.from({ length: ROUNDS }, async (_, i) => {
    const s = await connect(st, transports);
    const p = [ack(s, 'set_name', `n${i}`), ack(s, 'get_name'), ack(s, 'join', `r${i}`),
      ack(s, 'inroom', `r${i}`)];
    const [, name, , inroom] = await Promise.all(p);
    seen.push([name, inroom]);
    if (name === `n${i}` && inroom === true) good++;
    s.disconnect();
    st.clients.delete(s);
  }));
  return { good, seen };
}

for (const transports of [['websocket'], ['polling']]) {
  for (const nworkers of [1, 2]) {
    test(`pipelined set_name/get_name and join/inroom, ${transports[0]}, ${nworkers} worker(s)`,
      { ...T, ...skip }, async () => {
        const st = await stack([], Array.from({ length: nworkers }, () => []));
        const { good, seen } = await pipelined(st, transports);
        assert.equal(good, ROUNDS, `rounds with the new name and room: ${JSON.stringify(seen)}`);
        await st.stop();
      });
  }
}

test('pipelined events with threads = 2 (polling requests handed between loops)',
  { ...T, ...skip }, async () => {
    const st = await stack(['--threads', '2'], [[], []]);
    for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
      const { good, seen } = await pipelined(st, transports);
      assert.equal(good, ROUNDS, `${transports}: ${JSON.stringify(seen)}`);
    }
    await st.stop();
  });

test('open namespace: the first event sees what the connect notice did', { ...T, ...skip },
  async () => {
    const st = await stack([], [[]]);
    for (const [nsp, transports] of [['/opensess', ['websocket']], ['/opensess', ['polling']],
      ['/opensess-slow', ['websocket']]]) {
      const n = nsp.endsWith('slow') ? 4 : ROUNDS;
      const results = await Promise.all(Array.from({ length: n }, async () => {
        const s = io(`${st.gw.url}${nsp}`, { transports, forceNew: true, reconnection: false });
        st.clients.add(s);
        // Emitted before the connect completes: sent right after the 40 arrives.
        const p = Promise.all([ack(s, 'get_name'), ack(s, 'inroom', 'from-connect')]);
        const [name, inroom] = await p;
        s.disconnect();
        return name === 'from-connect' && inroom === true;
      }));
      assert.ok(results.every(Boolean), `${nsp} ${transports}: ${results}`);
    }
    await st.stop();
  });

test('Debian python3-socketio client, pipelined', { ...T, ...skip }, async () => {
  const st = await stack([], [[]]);
  const script = `
import sys, socketio
url, transport, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
good = 0
c = socketio.Client(reconnection=False)
c.connect(url, transports=[transport], wait_timeout=10)
for i in range(rounds):
    c.emit('set_name', 'p%d' % i, callback=lambda *a: None)
    c.emit('join', 'q%d' % i, callback=lambda *a: None)
    name = c.call('get_name', timeout=10)
    room = c.call('inroom', 'q%d' % i, timeout=10)
    good += name == 'p%d' % i and room is True
c.disconnect()
print("good %d" % good, flush=True)
`;
  for (const transport of ['websocket', 'polling']) {
    const out = await deadline(new Promise((resolve, reject) => {
      const p = spawn('/usr/bin/python3', ['-c', script, st.gw.url, transport, String(ROUNDS)],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      p.stdout.on('data', (d) => { text += d; });
      p.stderr.on('data', (d) => { text += d; });
      p.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`python: ${code}\n${text}`))));
    }), 50000, `python3-socketio over ${transport}`);
    assert.match(out, new RegExp(`good ${ROUNDS}\\b`), `${transport}: ${out}`);
  }
  await st.stop();
});

test('held queue bound: past worker_backlog events, acks get EOVERLOAD', { ...T, ...skip },
  async () => {
    const st = await stack(['--worker-backlog', '3'], [[]]);
    const s = await connect(st, ['websocket']);
    const other = await connect(st, ['websocket']);
    const slow = ack(s, 'sleep', 500);
    const rest = Array.from({ length: 10 }, () => ack(s, 'get_name'));
    const answers = await Promise.all(rest);
    // Another socket of the same worker is not held by this one's queue.
    assert.equal(await ack(other, 'get_name'), null);
    const over = answers.filter((a) => a && a.code === 'EOVERLOAD');
    assert.equal(over.length, 7, `answers: ${JSON.stringify(answers)}`);
    assert.deepEqual(answers.slice(0, 3), [null, null, null], 'the 3 held ones are handled');
    assert.equal(await slow, 0);
    await st.gw.waitLog(/event\(s\) \(\d+ bytes\) already waiting for the previous one/, 5000);
    // The socket still works.
    assert.deepEqual(await Promise.all([ack(s, 'set_name', 'after'), ack(s, 'get_name')]),
      [0, 'after']);
    await st.stop();
  });

test('a worker that said "ordered": false gets a socket\'s events as they come',
  { ...T, ...skip }, async () => {
    const st = await stack(['--worker-backlog', '3'], [['-U']]);
    await st.gw.waitLog(/worker \d+ \(w0\) registered: .* unordered/, 5000);
    const s = await connect(st, ['websocket']);
    const slow = ack(s, 'sleep', 300);
    // Nothing waits in the gateway, so no bound of a socket's queue applies.
    const answers = await Promise.all(Array.from({ length: 10 }, () => ack(s, 'get_name')));
    assert.deepEqual(answers, Array(10).fill(null));
    assert.equal(await slow, 0);
    await st.stop();
  });

test('held events expire after event_expiry with ENOWORKER; the socket goes on',
  { ...T, ...skip }, async () => {
    const st = await stack(['--event-expiry', '200', '--bridge-heartbeat', '200'], [[]]);
    const s = await connect(st, ['polling']);
    const t0 = Date.now();
    const slow = ack(s, 'sleep', 1500);
    const held = await ack(s, 'get_name');
    assert.equal(held && held.code, 'ENOWORKER', JSON.stringify(held));
    assert.ok(Date.now() - t0 < 1400, 'answered before the slow handler ended');
    assert.equal(await slow, 0);
    await st.gw.waitLog(/client event\(s\) expired after 200 ms waiting for the previous event/, 5000);
    assert.deepEqual(await Promise.all([ack(s, 'set_name', 'later'), ack(s, 'get_name')]),
      [0, 'later']);
    await st.stop();
  });

test('emit then disconnect: the held events reach the worker before the disconnect',
  { ...T, ...skip }, async () => {
    const st = await stack([], [[]]);
    for (const transports of [['websocket'], ['polling']]) {
      const a = await connect(st, transports);
      const b = await connect(st, ['websocket']);
      const id = a.id;
      a.emit('sleep', 300);
      a.emit('note', 1);
      a.emit('note', 2);
      a.disconnect();
      const trail = await waitUntil(async () => {
        const t = await ack(b, 'trail', id);
        return t.some((r) => r.disconnect) && t;
      }, 10000, 'the disconnect in the trail');
      assert.deepEqual(trail, [{ id, x: 1 }, { id, x: 2 },
        { id, disconnect: 'client namespace disconnect' }], transports[0]);
      b.disconnect();
    }
    await st.stop();
  });

test('worker lost with events held: they go, in order, to the new worker', { ...T, ...skip },
  async () => {
    const st = await stack([], [['-H', '100', '-v']]);
    const s = await connect(st, ['websocket']);	// on w0, the only worker
    await st.addWorker();
    const slow = ack(s, 'sleep', 1000);
    const p = Promise.all([ack(s, 'set_name', 'moved'), ack(s, 'get_name'),
      ack(s, 'join', 'm'), ack(s, 'inroom', 'm')]);
    // w0 is in its slow handler: kill it; the socket moves to w1, which gets
    // the sleep again (redelivered), then the held events.
    await st.ws[0].waitLog(/event \S+ sleep/, 5000);
    st.ws[0].proc.kill('SIGKILL');
    assert.deepEqual(await p, [0, 'moved', 0, true]);
    assert.equal(await slow, 0);
    await st.gw.waitLog(/worker \d+ \(w0\) dropped/, 5000);
    await st.stop();
  });

test('the C chat example: nick, join and message sent back to back all succeed',
  { ...T, ...skip }, async () => {
    const gw = await startGateway(['--bridge-heartbeat', '500']);
    const bin = path.join(path.dirname(process.env.SIOGATE || '.'), '..', 'examples', 'chat',
      'chat_worker');
    const w = spawnLogged(bin, ['-e', gw.bridge], 'chat_worker');
    stoppers.push(async () => { await w.stop(); await gw.stop(); });
    await w.waitLog(/registered with gateway/, 10000);
    const st = { gw, clients: new Set() };
    for (const transports of [['websocket'], ['polling']]) {
      for (let i = 0; i < 5; i++) {
        const room = `lobby-${transports[0]}-${i}`;
        const b = await connect(st, ['websocket'], '/chat');
        assert.equal((await ack(b, 'nick', `bob${i}`)).ok, true);
        assert.equal((await ack(b, 'join', room)).ok, true);
        const got = new Promise((resolve) => b.on('message', resolve));
        const a = await connect(st, transports, '/chat');
        const answers = await Promise.all([ack(a, 'nick', `ann${i}`), ack(a, 'join', room),
          ack(a, 'message', { room, text: 'hi' })]);
        assert.deepEqual(answers.map((x) => [x.ok, x.error]),
          [[true, undefined], [true, undefined], [true, undefined]], JSON.stringify(answers));
        const m = await deadline(got, 5000, 'the message at bob');
        assert.equal(m.nick, `ann${i}`);
        assert.equal(m.text, 'hi');
        a.disconnect();
        b.disconnect();
      }
    }
  });

test('SIGTERM drains held events too: their acks reach the client before it is told to go',
  { ...T, ...skip }, async () => {
    const st = await stack(['--drain-timeout', '5000'], [['-v']]);
    const s = await connect(st, ['websocket']);
    const gone = new Promise((resolve) => s.on('disconnect', resolve));
    const slow = ack(s, 'sleep', 500);
    const held = [ack(s, 'set_name', 'x'), ack(s, 'get_name')];
    await st.ws[0].waitLog(/event \S+ sleep/, 5000).catch(() => {});
    st.gw.proc.kill('SIGTERM');
    assert.deepEqual(await Promise.all([slow, ...held]), [0, 0, 'x']);
    await deadline(gone, 5000, 'the disconnect after the drain');
    await st.stop();
  });
