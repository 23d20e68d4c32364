// sio_stack.mjs: the gateway plus scriptable test workers
// (tests/lib/sio_test_worker.py, spawned with /usr/bin/python3), shared by
// the Socket.IO client tests.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REF, startGateway, deadline, spawnLogged } from './harness.mjs';

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

/*
 * Start sio_test_worker.py on a bridge (harness.mjs spawnLogged); resolves
 * once it registered.  Returns {proc, logs, name, waitLog, stop, kill,
 * exited, exitP}.
 */
export async function startWorker(bridge, args = [], what = 'sio_test_worker') {
  const h = spawnLogged(PY, [WORKER, bridge, ...args], what);
  try {
    await h.waitLog(/registered with gateway/, 10000);
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
