"""Deadlines, kept in one list per class with one timer each (gateway/gw_tlist.c),
against the real gateway: an idle keep-alive connection is closed after
http_timeout; a Socket.IO connection with no namespace after connect_timeout;
and after a reload shortens http_timeout and ping_interval, new deadlines are
not held back behind the older, longer ones, which keep theirs (siogate.conf(5):
"applied to requests that start after the reload", "starts with each
session's next ping")."""
import json
import os
import select
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("TOP_SRCDIR", "."), "tests", "lib"))
from tap import Gateway, done, ok, status_body  # noqa: E402

SIO = "/socket.io/?EIO=4&transport=polling"
TMP = tempfile.mkdtemp(prefix="siogate-timers-")


def write_conf(http_timeout, ping_interval):
    path = os.path.join(TMP, "siogate.conf")
    with open(path + ".new", "w") as f:
        f.write("[server]\nhttp_timeout = %d\n[engineio]\nping_interval = %d\n"
                "ping_timeout = 60000\n" % (http_timeout, ping_interval))
    os.rename(path + ".new", path)
    return path


def read_response(s, timeout=10):
    """One HTTP response (headers and Content-Length body) from a kept-alive socket."""
    s.settimeout(timeout)
    data = b""
    while True:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            n = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v)
            if len(body) >= n:
                return data
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def keepalive(port):
    """A connection that made one request and stays open: (socket, when answered)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
    st, _ = status_body(read_response(s))
    return s, time.monotonic(), st


def eof_at(s, timeout=15):
    """Block until the peer closes; the time it did (None: not within timeout)."""
    s.settimeout(timeout)
    try:
        while s.recv(4096):
            pass
    except socket.timeout:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic()


def still_open(s):
    r, _, _ = select.select([s], [], [], 0)
    return not r


def request(port, path, timeout=15):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
    resp = read_response(s, timeout)
    s.close()
    return status_body(resp)


def handshake(port):
    st, body = request(port, SIO)
    return json.loads(body[1:])["sid"] if st == 200 else None


def main():
    # -- no namespace connected within connect_timeout ---------------------------
    gw = Gateway("--connect-timeout", "400")
    t0 = time.monotonic()
    sid = handshake(gw.port)
    m = gw.wait_log(r"session %s: no namespace connected within 400 ms, closing" % sid, 5)
    dt = time.monotonic() - t0
    ok(sid is not None and m is not None and 0.35 <= dt < 4,
       "a Socket.IO connection with no namespace is closed after connect_timeout (%.2f s)" % dt)
    gw.stop()

    # -- reload: shorter durations -----------------------------------------------
    conf = write_conf(6000, 6000)
    gw = Gateway("--config", conf)
    a, ta, st = keepalive(gw.port)
    ok(st == 404, "connection A: a request answered, kept alive")
    sid_a = handshake(gw.port)
    tsa = time.monotonic()
    ok(sid_a is not None, "session A opened (ping_interval 6000)")

    write_conf(500, 300)
    n = len(gw.lines)
    gw.proc.send_signal(signal.SIGHUP)
    ok(gw.wait_log(r"reload done", 10, start=n) is not None,
       "SIGHUP: http_timeout 6000 -> 500, ping_interval 6000 -> 300")

    b, tb, st = keepalive(gw.port)
    end = eof_at(b)
    ok(st == 404 and end is not None and 0.4 <= end - tb < 2.5,
       "connection B, idle after the reload, is closed after the new http_timeout "
       "(%s s), not held back behind A" % ("%.2f" % (end - tb) if end else "never"))
    ok(still_open(a), "connection A keeps its deadline (still open %.2f s after its request)"
       % (time.monotonic() - ta))

    sid_b = handshake(gw.port)
    tsb = time.monotonic()
    st, body = request(gw.port, SIO + "&sid=" + sid_b)
    dt = time.monotonic() - tsb
    ok(st == 200 and body == b"2" and dt < 2.5,
       "session B, opened after the reload, is pinged after the new ping_interval "
       "(%.2f s), not behind A" % dt)

    st, body = request(gw.port, SIO + "&sid=" + sid_a)
    dt = time.monotonic() - tsa
    ok(st == 200 and body == b"2" and 5.0 <= dt < 10,
       "session A is pinged at its old deadline (%.2f s after its handshake)" % dt)
    end = eof_at(a)
    ok(end is not None and 5.0 <= end - ta < 10,
       "connection A is closed at its old deadline (%s s after its request)"
       % ("%.2f" % (end - ta) if end else "never"))
    a.close()
    b.close()
    ok(gw.stop() == 0, "the gateway exits cleanly")
    done()


if __name__ == "__main__":
    main()
