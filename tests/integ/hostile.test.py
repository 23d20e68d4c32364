#!/usr/bin/python3
"""Hostile inputs found by an outside attack (issue 12), against the real
gateway, with a healthy Engine.IO session watching: its pings must keep
arriving on time while others attack.

- static files: pipelined HEADs and slow readers of a 12 MiB file (over
  max_output) do not stall the loop or grow its memory; a FIFO does not
  block it; a symlink out of the folder is not followed; a reader that
  stops is closed after http_timeout; pipelining and keep-alive work, with
  one loop and with two;
- sessions: a request that may not act on a session (another address with
  sid_bind_ip, an Origin not allowed) neither closes it by a 413 nor marks
  it busy with the headers of a POST;
- HTTP: duplicate Host/Origin, whitespace before a colon, sid=A&sid=B;
- the log: requests that each cause a warning write a bounded number of
  lines (a blocking write on the loop), the rest counted.
"""
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("TOP_SRCDIR", "."), "tests", "lib"))
from tap import Gateway, done, exchange, get, ok, post, rss_kb, status_body  # noqa: E402

SIO = "/socket.io/?EIO=4&transport=polling"
BIG = 12 * 1024 * 1024
PING_MS = 300
WAIT = 10


def handshake(port, src=None, origin=None):
    extra = "Origin: %s\r\n" % origin if origin else ""
    st, body = request(port, "GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n"
                       % (SIO, extra), src)
    return json.loads(body[1:])["sid"] if st == 200 else None


def request(port, raw, src=None, timeout=5):
    """One request on a fresh connection: (status, body)."""
    return status_body(exchange(port, raw, src, timeout))


def sess_post(port, sid, body, src=None, origin=None):
    extra = "Origin: %s\r\n" % origin if origin else ""
    return request(port, "POST %s&sid=%s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n"
                   "Content-Length: %d\r\n\r\n%s" % (SIO, sid, extra, len(body), body), src)


class Responses:
    """Reads pipelined responses off one keep-alive connection."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def _more(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def next(self, head_only=False, sink=None):
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        st = int(head.split(b" ")[1])
        m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
        n = int(m.group(1)) if m else 0
        if head_only:
            return st, n, None
        h = hashlib.sha256()
        left = n
        while left > 0:
            if not self.buf:
                self._more()
            take = self.buf[:left]
            self.buf = self.buf[len(take):]
            h.update(take)
            left -= len(take)
            if sink:
                sink(len(take))
        return st, n, h.hexdigest()


class Watcher(threading.Thread):
    """A healthy Engine.IO polling session: answers every ping, notes when each came."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.sid = handshake(port)
        self.pings = []
        self.error = None
        self.stop_flag = False

    def run(self):
        try:
            while not self.stop_flag:
                st, body = get(self.port, "%s&sid=%s" % (SIO, self.sid), timeout=WAIT)
                if st != 200:
                    self.error = "GET %d %r" % (st, body[:80])
                    return
                for pkt in body.split(b"\x1e"):
                    if pkt == b"2":
                        self.pings.append(time.monotonic())
                        st, _ = post(self.port, "%s&sid=%s" % (SIO, self.sid), "3", timeout=WAIT)
                        if st != 200:
                            self.error = "POST %d" % st
                            return
                    elif pkt == b"1":
                        self.error = "closed by the server"
                        return
        except Exception as e:  # noqa: BLE001
            self.error = repr(e)

    def max_gap(self, since):
        t = [since] + [p for p in self.pings if p >= since] + [time.monotonic()]
        return max(b - a for a, b in zip(t, t[1:]))


def small_get_latency(port, stop, out):
    """Latency of small GETs while an attack runs."""
    while not stop.is_set():
        t = time.monotonic()
        st, body = get(port, "/small.txt", timeout=WAIT)
        out.append((time.monotonic() - t, st))
        time.sleep(0.02)


def static_dir():
    d = tempfile.mkdtemp(prefix="siogate-hostile-")
    www = os.path.join(d, "www")
    os.makedirs(os.path.join(www, "sub"))
    with open(os.path.join(www, "big.bin"), "wb") as f:
        f.write(os.urandom(BIG))
    with open(os.path.join(www, "small.txt"), "w") as f:
        f.write("small\n")
    with open(os.path.join(www, "sub", "inner.txt"), "w") as f:
        f.write("inner\n")
    with open(os.path.join(d, "secret.txt"), "w") as f:
        f.write("outside the folder\n")
    os.mkfifo(os.path.join(www, "fifo"))
    os.symlink(d, os.path.join(www, "link_out"))             # a directory outside
    os.symlink("/etc", os.path.join(www, "link_etc"))
    os.symlink(os.path.join(d, "secret.txt"), os.path.join(www, "secret_link.txt"))
    os.symlink("sub", os.path.join(www, "link_in"))          # stays inside: allowed
    with open(os.path.join(www, "big.bin"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return d, www, digest


def static_tests(gw, www, digest, label):
    port = gw.port
    w = Watcher(port)
    ok(w.sid is not None, "%s: the watching session is open" % label)
    w.start()
    deadline = time.monotonic() + WAIT
    while len(w.pings) < 2 and time.monotonic() < deadline and w.error is None:
        time.sleep(0.05)
    ok(len(w.pings) >= 2, "%s: its pings arrive (%d)" % (label, len(w.pings)))
    rss0 = rss_kb(gw.proc.pid)

    # Pipelined HEADs for the 12 MiB file: answered from fstat, no body.
    n = 1500
    t0 = time.monotonic()
    stop = threading.Event()
    lat = []
    prober = threading.Thread(target=small_get_latency, args=(port, stop, lat), daemon=True)
    prober.start()
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    s.sendall(b"HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n" * n)
    rd = Responses(s)
    heads = [rd.next(head_only=True) for _ in range(n)]
    s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    after = rd.next()
    s.close()
    took = time.monotonic() - t0
    ok(all(h[0] == 200 and h[1] == BIG for h in heads) and after[:2] == (200, 6),
       "%s: %d pipelined HEADs get 200 with the real Content-Length and no body, in %.2f s"
       % (label, n, took))

    # Four readers of the 12 MiB file, slower than the loop; one fast reader.
    got = []

    def reader(pause):
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            c.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            got.append(Responses(c).next(sink=lambda k: time.sleep(pause)))
            c.close()
        except Exception as e:  # noqa: BLE001
            got.append(repr(e))

    peak = [rss0]

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kb(gw.proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    readers = [threading.Thread(target=reader, args=(0.004,)) for _ in range(4)]
    readers.append(threading.Thread(target=reader, args=(0,)))
    for r in readers:
        r.start()
    for r in readers:
        r.join(60)
    stop.set()
    prober.join(WAIT)
    sampler.join(WAIT)
    ok(len(got) == 5 and all(g == (200, BIG, digest) for g in got),
       "%s: five readers of a 12 MiB file (over max_output) each get all of it: %r"
       % (label, [g if isinstance(g, str) else g[:2] for g in got]))
    grow = (peak[0] - rss0) / 1024.0
    ok(grow < 24, "%s: the gateway's RSS grew %.1f MB while streaming 60 MiB (%d -> %d kB)"
       % (label, grow, rss0, peak[0]))
    worst = max(x[0] for x in lat) if lat else 99
    ok(lat and all(x[1] == 200 for x in lat) and worst < 1.0,
       "%s: small GETs meanwhile answered, slowest %.0f ms of %d" % (label, worst * 1000, len(lat)))

    # A FIFO: refused at once, the loop never waits for a writer.
    t = time.monotonic()
    st_get = get(port, "/fifo")[0]
    st_head = request(port, "HEAD /fifo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0]
    ok(st_get == 404 and st_head == 404 and time.monotonic() - t < 2,
       "%s: GET and HEAD of a FIFO get 404 at once (%d, %d)" % (label, st_get, st_head))
    ok(get(port, "/sub/")[0] == 404 and get(port, "/sub")[0] == 404,
       "%s: a folder without index.html is 404" % label)

    # Symlinks: out of the folder refused, inside allowed.
    outs = [get(port, p) for p in ("/link_etc/passwd", "/link_out/secret.txt", "/secret_link.txt")]
    ok(all(o[0] == 404 for o in outs) and not any(b"root:" in o[1] or b"outside" in o[1]
                                                   for o in outs),
       "%s: symlinks leading out of the folder are not followed (%s)"
       % (label, [o[0] for o in outs]))
    ok(get(port, "/link_in/inner.txt") == (200, b"inner\n"),
       "%s: a symlink that stays inside the folder is followed" % label)

    # Pipelined GETs on one keep-alive connection: in order, complete.
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nHEAD /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    rd = Responses(s)
    seq = [rd.next(), rd.next(head_only=True), rd.next(), rd.next()]
    s.sendall(b"GET /sub/inner.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    last = rd.next()
    s.close()
    ok(seq[0] == (200, BIG, digest) and seq[1][:2] == (200, 6) and seq[2] == (200, BIG, digest)
       and seq[3][:2] == (200, 6) and last[:2] == (200, 6),
       "%s: pipelined GET, HEAD, GET, GET of big and small files answered in order, "
       "then the connection is still kept alive" % label)

    w.stop_flag = True
    gap = w.max_gap(t0)
    ok(w.error is None and gap < (PING_MS + 700) / 1000.0,
       "%s: the watching session was served throughout (largest gap between pings %.0f ms, "
       "ping interval %d ms; error %r)" % (label, gap * 1000, PING_MS, w.error))
    w.join(WAIT)
    return took, grow, worst


def stalled_reader(gw):
    """A reader that stops reading mid-file is closed after http_timeout."""
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    start = len(gw.lines)
    m = gw.wait_log(r"static file: nothing read for http_timeout, closing", 8, start=start)
    s.close()
    return m is not None


def session_tests():
    # max_payload 1000; sid_bind_ip; the victim's session comes from 127.0.0.3.
    gw = Gateway("--sid-bind-ip", "yes", "--max-payload", "1000", "--connect-timeout", "600000",
                 "--ping-interval", "60000")
    try:
        port = gw.port
        victim = handshake(port, src="127.0.0.3")
        ok(victim is not None, "sessions: victim's session open (from 127.0.0.3)")

        def alive():
            return sess_post(port, victim, "6", src="127.0.0.3") == (200, b"ok")

        # An oversized POST from another address: 413, the victim's session stays.
        st, _ = sess_post(port, victim, "4" + "x" * 3000)
        ok(st == 413, "sessions: an oversized POST for someone else's sid gets 413")
        ok(alive(), "sessions: ... and does not close that session (sid_bind_ip)")
        ok(gw.wait_log(r"request from 127\.0\.0\.1:\d+ refused \(session bound to 127\.0\.0\.3\)")
           is not None, "sessions: the refusal is logged")

        # An oversized POST with an Origin not allowed, from the right address.
        st, _ = sess_post(port, victim, "4" + "x" * 3000, src="127.0.0.3", origin="http://evil.example")
        ok(st == 413 and alive(), "sessions: an oversized POST from a forbidden Origin gets 413, "
           "the session stays")

        # Headers of a POST held open by another address: the victim's POST still goes.
        for what, src, origin in (("another address", None, None),
                                  ("a forbidden Origin", "127.0.0.3", "http://evil.example")):
            h = socket.socket()
            h.settimeout(5)
            if src:
                h.bind((src, 0))
            h.connect(("127.0.0.1", port))
            extra = "Origin: %s\r\n" % origin if origin else ""
            h.sendall(("POST %s&sid=%s HTTP/1.1\r\nHost: x\r\n%sContent-Length: 10\r\n\r\n4"
                       % (SIO, victim, extra)).encode())
            time.sleep(0.2)  # the held headers must be read first; nothing to wait on
            ok(alive(), "sessions: POST headers held by %s do not mark the session busy" % what)
            h.sendall(b"x" * 9)
            st, _ = status_body(h.recv(4096))
            h.close()
            ok(st in (400, 403), "sessions: ... and the held POST itself is refused (%d)" % st)
        ok(alive(), "sessions: the victim's session survived every attempt")

        # sid=A&sid=B: ambiguous, 400 "Session ID unknown", the session untouched.
        st, body = request(port, "GET %s&sid=%s&sid=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                           % (SIO, victim, victim), src="127.0.0.3")
        ok(st == 400 and b"Session ID unknown" in body and alive(),
           "sessions: sid=A&sid=A gets 400 'Session ID unknown', the session is untouched")

        # Control: the session's own oversized POST still closes it (as before).
        st, _ = sess_post(port, victim, "4" + "x" * 3000, src="127.0.0.3")
        ok(st == 413 and not alive(), "sessions: the session's own oversized POST closes it")
    finally:
        ok(gw.stop() == 0, "sessions: the gateway stops cleanly")


def session_threads():
    """threads = 2: an oversized POST read by the loop that does not own the sid."""
    gw = Gateway("--threads", "2", "--sid-bind-ip", "yes", "--max-payload", "1000",
                 "--connect-timeout", "600000", "--ping-interval", "60000")
    try:
        port = gw.port
        victim = handshake(port, src="127.0.0.3")
        # Fresh connections: the kernel spreads them over both loops.
        codes = [sess_post(port, victim, "4" + "x" * 3000)[0] for _ in range(12)]
        ok(codes == [413] * 12, "2 loops: oversized POSTs for someone else's sid get 413 (%s)" % codes)
        ok(gw.wait_log(r"refused \(session bound to 127\.0\.0\.3; read by another loop\)")
           is not None, "2 loops: the loop owning the sid refuses the close asked by the other")
        ok(all(sess_post(port, victim, "6", src="127.0.0.3") == (200, b"ok") for _ in range(4)),
           "2 loops: the session is still open")
        codes = [sess_post(port, victim, "4" + "x" * 3000, src="127.0.0.3")[0] for _ in range(6)]
        end = time.monotonic() + 3  # a close asked of the other loop arrives by its inbox
        gone = False
        while not gone and time.monotonic() < end:
            gone = sess_post(port, victim, "6", src="127.0.0.3")[0] == 400
        ok(codes[0] == 413 and gone, "2 loops: the session's own oversized POST closes it")
    finally:
        ok(gw.stop() == 0, "2 loops: the gateway stops cleanly")


def header_tests(port):
    cases = [
        ("two Host headers", "GET /small.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        ("Host with a space before the colon", "GET /small.txt HTTP/1.1\r\nHost : x\r\n\r\n"),
        ("two Origin headers", "GET %s HTTP/1.1\r\nHost: x\r\nOrigin: http://x\r\n"
         "Origin: http://evil.example\r\n\r\n" % SIO),
    ]
    for what, raw in cases:
        st, _ = request(port, raw)
        ok(st == 400, "HTTP: %s gets 400 (%d)" % (what, st))
    ok(get(port, "/small.txt") == (200, b"small\n"), "HTTP: the gateway goes on serving")


def section(what, fn, *args):
    """Run one part; an exception (a gateway that stopped answering) is a failure, not a crash."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001
        ok(False, "%s: raised %r" % (what, e))
        return None


def log_flood(gw):
    """Requests that each cause a warning: the log is bounded, the loop not stalled."""
    port, start, n = gw.port, len(gw.lines), 2000
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n\r\n" % SIO).encode() * n)
    rd = Responses(s)
    codes = [rd.next()[0] for _ in range(n)]
    ok(codes.count(403) == n, "log flood: %d requests from a forbidden Origin on one connection "
       "all get 403 (in %.2f s)" % (n, time.monotonic() - t0))
    summary = None
    end = time.monotonic() + 5
    while summary is None and time.monotonic() < end:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n\r\n" % SIO).encode())
        rd.next()
        summary = gw.wait_log(r"(\d+) log line\(s\) caused by clients not written", 0.05, start=start)
    s.close()
    took = time.monotonic() - t0
    written = sum(1 for line in gw.lines[start:] if "not allowed" in line)
    ok(summary is not None and written <= 200 + 50 * took + 5,
       "log flood: %d warnings written of %d (burst 200, then 50/s), the rest counted: %r"
       % (written, n, summary.group(0) if summary else None))
    ok(get(port, "/small.txt") == (200, b"small\n"), "log flood: the gateway goes on serving")


def main():
    d, www, digest = static_dir()
    figures = []
    try:
        gw = Gateway("--static", www, "--ping-interval", str(PING_MS), "--ping-timeout", "1000",
                     "--connect-timeout", "600000", "--http-timeout", "1500")
        try:
            figures.append(section("1 loop", static_tests, gw, www, digest, "1 loop"))
            ok(section("stalled reader", stalled_reader, gw),
               "a reader that stops mid-file is closed after http_timeout")
            section("headers", header_tests, gw.port)
            section("log flood", log_flood, gw)
            ok(gw.alive(), "the gateway survived")
        finally:
            ok(gw.stop() == 0, "1 loop: the gateway stops cleanly (exit 0, no sanitizer report)")
        gw = Gateway("--static", www, "--threads", "2", "--ping-interval", str(PING_MS),
                     "--ping-timeout", "1000", "--connect-timeout", "600000")
        try:
            figures.append(section("2 loops", static_tests, gw, www, digest, "2 loops"))
        finally:
            ok(gw.stop() == 0, "2 loops: the gateway stops cleanly")
        section("sessions", session_tests)
        section("sessions, 2 loops", session_threads)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    for took, grow, worst in [f for f in figures if f]:
        sys.stderr.write("figures: 1500 HEADs %.2f s, RSS growth %.1f MB, slowest small GET %.0f ms\n"
                         % (took, grow, worst * 1000))
    done()


main()
