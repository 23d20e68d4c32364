"""SYNC with a cluster (siogate-protocol(7) SYNC): the gateway's SYNC_REPLY
comes only once Redis has taken the broadcasts published for the commands
before it, and at once while Redis is away.  Real gateway, real
redis-server, real ZeroMQ; Redis is watched with a raw RESP subscriber.

How "Redis has taken it" is seen without a race: Redis carries out one
connection's commands in order and puts a PUBLISH into every subscriber's
output buffer while carrying it out.  So after SYNC_REPLY, a PING sent on
our subscriber connection is answered after the broadcast, never before,
if the gateway waited for its PUBLISH to be answered; without that wait the
PUBLISH may still sit in the gateway's buffer when our PING arrives.  That
race is nearly always won by the gateway, so a round with Redis kept busy
(DEBUG SLEEP) checks the wait itself: the reply must not come before
Redis is free again."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("TOP_SRCDIR", "."), "tests", "lib"))
from tap import Gateway, Peer, done, free_port, ok, start  # noqa: E402
from proto import E_NOT_REGISTERED, ERROR, HELLO, SIO_EMIT, SYNC, SYNC_REPLY, WELCOME  # noqa: E402

REDIS = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
ROUNDS = 30


class Resp:
    """A Redis connection speaking RESP2 by hand (a subscriber)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bulk(self, n, deadline):
        while len(self.buf) < n + 2:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self, timeout=5):
        """One reply (bytes, int, list, or an Exception for -ERR)."""
        deadline = time.monotonic() + timeout
        line = self._line(deadline)
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if int(rest) < 0 else self._bulk(int(rest), deadline)
        if kind == b"*":
            return [self.read(max(0.01, deadline - time.monotonic())) for _ in range(int(rest))]
        raise ValueError("not RESP: %r" % line)


def main():
    if not os.access(REDIS, os.X_OK):
        print("1..0 # SKIP %s not found (apt-get install redis-server)" % REDIS)
        return
    port = free_port()
    redis = start([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--protected-mode", "no", "--enable-debug-command", "yes"],
                  r"Ready to accept connections", "redis-server", both=True)
    gw = None
    try:
        gw = Gateway("--gateway-id", "SyN1", "--cluster", "redis://127.0.0.1:%d" % port)
        run(gw, redis, port)
    finally:
        rc = gw.stop() if gw else None
        ok(rc == 0, "gateway exits 0 on SIGTERM (got %r)" % rc)
        redis.stop()
    done()


def run(gw, redis, port):
    sub = Resp(port)
    sub.send("PSUBSCRIBE", "socket.io#*")
    r = sub.read()
    ok(isinstance(r, list) and r[0] == b"psubscribe", "our subscriber listens to socket.io#*")

    em = Peer(gw.bridge)
    em.send({"v": 1, "t": HELLO, "name": "sync-emitter", "credit": 0, "hb": 5000})
    m = em.recv_type(WELCOME)
    ok(m is not None, "an emitter registers")

    def emit_sync(ev, req, timeout=5):
        em.send({"v": 1, "t": SIO_EMIT, "nsp": "/", "ev": ev, "args": [req]})
        em.send({"v": 1, "t": SYNC, "req": req})
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = em.recv(max(0.01, end - time.monotonic()))
            if m is None:
                break
            if m["t"] == SYNC_REPLY and m.get("req") == req:
                return True
            if m["t"] == ERROR and m.get("code") == E_NOT_REGISTERED:
                em.send({"v": 1, "t": HELLO, "name": "sync-emitter", "credit": 0, "hb": 5000})
        return False

    def seen_before_pong(ev):
        """PING on the subscriber: was ev's broadcast delivered before PONG?"""
        sub.send("PING")
        seen = False
        end = time.monotonic() + 5
        while time.monotonic() < end:
            r = sub.read(max(0.01, end - time.monotonic()))
            if isinstance(r, list) and r and r[0] == b"pong":
                return seen
            if isinstance(r, list) and len(r) == 4 and r[0] == b"pmessage" and ev.encode() in r[3]:
                seen = True
        return None

    # The publisher connects in the background: emit until a broadcast shows.
    up = False
    end = time.monotonic() + 10
    n = 0
    while not up and time.monotonic() < end:
        n += 1
        emit_sync("warm-%d" % n, n)
        up = seen_before_pong("warm-%d" % n) is True
        if not up:
            # Let any late broadcast of this round arrive before the next.
            seen_before_pong("warm-%d" % n)
    ok(up, "the gateway's broadcasts reach Redis (after %d warm-up emits)" % n)

    fails = []
    for i in range(ROUNDS):
        ev = "sync-%d" % i
        if not emit_sync(ev, 1000 + i):
            fails.append("%s: no SYNC_REPLY" % ev)
            continue
        got = seen_before_pong(ev)
        if got is not True:
            fails.append("%s: %s" % (ev, "the broadcast came after our PING" if got is False
                                      else "no PONG"))
    ok(not fails, "%d times: after SYNC_REPLY, Redis has already delivered the emit's broadcast%s"
       % (ROUNDS, "" if not fails else " (%s)" % "; ".join(fails[:5])))

    # Redis busy (DEBUG SLEEP on another connection): the PUBLISH waits in
    # Redis's input, and so must the SYNC_REPLY.
    busy = Resp(port)
    t0 = time.monotonic()
    busy.send("DEBUG", "SLEEP", "0.5")
    got = emit_sync("busy", 2000)
    took = time.monotonic() - t0
    ok(got and took >= 0.4, "while Redis sleeps 0.5 s, SYNC_REPLY waits for it (%.2f s)" % took)
    r = busy.read()
    ok(r == b"OK" and seen_before_pong("busy") is True, "... and the broadcast was delivered (%r)" % r)

    # Redis away: nothing to wait for, the reply comes at once.
    mark = gw.mark()
    redis.stop()
    ok(gw.wait_log(r"cluster: redis at .* unreachable", 10, mark) is not None,
       "the gateway notices that Redis is gone")
    t0 = time.monotonic()
    got = emit_sync("while-down", 99)
    ok(got and time.monotonic() - t0 < 2,
       "with Redis away, SYNC is answered at once (%.2f s)" % (time.monotonic() - t0))
    ok(gw.alive(), "the gateway keeps running")
    em.close()


main()
