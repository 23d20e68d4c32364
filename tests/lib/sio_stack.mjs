// sio_stack.mjs: the gateway plus scriptable test workers
// (tests/lib/sio_test_worker.py, spawned with /usr/bin/python3), shared by
// the Socket.IO client tests.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REF, startGateway, deadline } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PY = process.env.PYTHON || '/usr/bin/python3';
const WORKER = path.join(here, 'sio_test_worker.py');

/* Why the worker-based tests cannot run here, or false. */
export function skipReason() {
  if (REF) return 'siogate-specific (needs the bridge and a worker)';
  const r = spawnSync(PY, ['-c', 'import zmq, msgpack'], { stdio: 'ignore' });
  if (r.status !== 0) return `${PY} lacks zmq or msgpack (python3-zmq, python3-msgpack)`;
  return false;
}

/* ---------------------------------------------------------------- workers */

const procs = new Set();
process.on('exit', () => {
  for (const p of procs) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
});

/*
 * Start sio_test_worker.py on a bridge; resolves once it registered.
 * Returns {proc, logs, name, waitLog, stop, kill, exited}.
 */
export async function startWorker(bridge, args = [], what = 'sio_test_worker') {
  const proc = spawn(PY, [WORKER, bridge, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.add(proc);
  const logs = [];
  const wakers = new Set();
  const notify = () => { for (const w of [...wakers]) w(); };
  let exited = null;
  const exitP = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exited = { code, signal };
      procs.delete(proc);
      notify();
      resolve(exited);
    });
  });
  for (const st of [proc.stdout, proc.stderr]) {
    let buf = '';
    st.setEncoding('utf8');
    st.on('data', (c) => {
      buf += c;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        logs.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      notify();
    });
  }
  const waitLog = (re, ms = 5000) => deadline(new Promise((resolve, reject) => {
    const check = () => {
      const line = logs.find((l) => re.test(l));
      if (line) { wakers.delete(check); resolve(line); return; }
      if (exited) {
        wakers.delete(check);
        reject(new Error(`${what} exited ${JSON.stringify(exited)} before logging ${re}:\n${logs.join('\n')}`));
      }
    };
    wakers.add(check);
    check();
  }), ms, `${what} to log ${re}`);
  let stopped = false;
  const h = {
    proc,
    logs,
    waitLog,
    exited: () => exited,
    exitP,
    async stop() {
      if (stopped) return exitP;
      stopped = true;
      if (!exited) proc.kill('SIGTERM');
      let r;
      try {
        r = await deadline(exitP, 3000, `${what} to exit`);
      } catch {
        proc.kill('SIGKILL');
        r = await exitP;
      }
      process.stderr.write(`--- ${what} (pid ${proc.pid}) log, exit ${JSON.stringify(r)} ---\n` +
        `${logs.map((l) => `  ${l}\n`).join('')}`);
      return r;
    },
    kill() {
      proc.kill('SIGKILL');
      return exitP;
    },
  };
  try {
    await waitLog(/registered with gateway/, 10000);
  } catch (e) {
    await h.stop();
    throw e;
  }
  return h;
}

/* The gateway plus workers; stop() stops them all (workers first). */
export async function startSioStack(gwArgs, workers, GWID = 'SioT') {
  const gw = await startGateway(['--gateway-id', GWID, '--bridge-heartbeat', '200', ...gwArgs]);
  const ws = {};
  try {
    for (const [name, args] of Object.entries(workers)) {
      ws[name] = await startWorker(gw.bridge, ['--name', name, ...args], name);
    }
  } catch (e) {
    for (const w of Object.values(ws)) await w.stop();
    await gw.stop();
    throw e;
  }
  return {
    gw,
    w: ws,
    url: gw.url,
    wsUrl: gw.wsUrl,
    async addWorker(name, args) {
      ws[name] = await startWorker(gw.bridge, ['--name', name, ...args], name);
      return ws[name];
    },
    async stop() {
      for (const w of Object.values(ws)) await w.stop();
      return gw.stop();
    },
  };
}


/*
 * An awaitable queue of what a client got: entries {ev, ...} pushed by its
 * listeners, taken by next(ev) in arrival order.
 */
export class Inbox {
  constructor() {
    this.q = [];
    this.wakers = new Set();
  }

  push(e) {
    this.q.push(e);
    for (const w of [...this.wakers]) w();
  }

  /* Take the first unread entry named ev (and matching pred). */
  next(ev, ms = 5000, pred = () => true) {
    return deadline(new Promise((resolve) => {
      const check = () => {
        const i = this.q.findIndex((e) => e.ev === ev && pred(e));
        if (i < 0) return;
        this.wakers.delete(check);
        resolve(this.q.splice(i, 1)[0]);
      };
      this.wakers.add(check);
      check();
    }), ms, `'${ev}' (got so far: ${JSON.stringify(this.q.map((e) => e.ev))})`)
      .catch((e) => { this.wakers.clear(); throw e; });
  }
}
