// redis.mjs: a private redis-server for the cluster tests (Debian's
// redis-server, no persistence, 127.0.0.1 on a free port).  start() again
// after kill() brings it back on the same port, as a restarted Redis.
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { spawnLogged, freePort } from './harness.mjs';

export { freePort };

export const REDIS_SERVER = process.env.REDIS_SERVER || '/usr/bin/redis-server';

/* Why the cluster tests cannot run here, or false. */
export function redisMissing() {
  const r = spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' });
  return r.status === 0 ? false : `${REDIS_SERVER} not found (apt-get install redis-server)`;
}


/*
 * Start redis-server (with extra arguments, e.g. ['--requirepass', 'pw'], on
 * port0 if given);
 * resolves to {port, url, start(), kill(), stop()}.
 * kill() is SIGKILL (an outage); start() runs it again on the same port.
 */
export async function startRedis(extra = [], port0 = 0) {
  const port = port0 || await freePort();
  const r = { port, url: `redis://127.0.0.1:${port}`, h: null };
  r.start = async () => {
    r.h = spawnLogged(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--protected-mode', 'no', ...extra], 'redis-server');
    await r.h.waitLog(/Ready to accept connections/, 10000);
    return r;
  };
  r.kill = async () => {
    const h = r.h;
    r.h = null;
    if (h) {
      h.proc.kill('SIGKILL');
      await h.stop();
    }
  };
  r.stop = async () => {
    if (r.h) await r.h.stop();
    r.h = null;
  };
  return r.start();
}
