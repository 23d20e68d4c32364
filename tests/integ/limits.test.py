"""Bounds and policies ([limits] in siogate.conf(5)), each against the real
gateway with a real worker: connection limits, handshake rate, sid_bind_ip,
namespaces per connection, event name length, JSON depth, attachments per
packet, slow consumers (others unaffected) and volatile emits."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("TOP_SRCDIR", "."), "tests", "lib"))
from tap import Gateway, done, exchange, get, ok, post, start, status_body  # noqa: E402
from proto import HELLO, SIO_ACCEPT, SIO_CONNECT, SIO_EMIT  # noqa: E402

WORKER = os.path.join(os.environ.get("TOP_SRCDIR", "."), "tests", "lib", "sio_test_worker.py")
SIO = "/socket.io/?EIO=4&transport=polling"


def start_worker(gw):
    """A registered sio_test_worker (its Popen; tap.start reads its log)."""
    return start(["/usr/bin/python3", WORKER, gw.bridge, "--nsp", "*", "--hb", "1000"],
                 r"registered", "sio_test_worker").p


def handshake(port, src=None):
    """Polling handshake (optionally from another loopback source address)."""
    st, body = status_body(exchange(port, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                    % SIO, src))
    return st, (json.loads(body[1:])["sid"] if st == 200 else body)


def sio_get(port, sid, timeout=5):
    return get(port, SIO + "&sid=" + sid, timeout)


def sio_post(port, sid, body):
    return post(port, SIO + "&sid=" + sid, body)


def connect_nsp(port, sid, nsp="/"):
    sio_post(port, sid, "40" if nsp == "/" else "40%s," % nsp)
    return sio_get(port, sid)


def raw_conn(port):
    """A connection the gateway has accepted and holds (a request in progress)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\n")
    return s


def refused(port, src=None):
    """Whether a new connection is closed without an answer."""
    s = socket.socket()
    s.settimeout(3)
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = s.recv(100)
    except (ConnectionResetError, BrokenPipeError):
        got = b""
    except socket.timeout:
        got = b"timeout"
    s.close()
    return got == b""


def eventually(fn, deadline=5):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if fn():
            return True
        time.sleep(0.05)
    return False


def main():
    # -- connection limits --------------------------------------------------
    gw = Gateway("--max-connections", "3")
    held = [raw_conn(gw.port) for _ in range(3)]
    ok(gw.wait_log(r"listening") is not None and refused(gw.port),
       "a 4th connection over max_connections=3 is closed at once")
    ok(gw.wait_log(r"refused: global limit reached \(3\)") is not None, "and logged")
    for s in held:
        s.close()
    ok(eventually(lambda: not refused(gw.port)), "once others close, connections are accepted again")
    gw.stop()

    gw = Gateway("--max-connections-per-ip", "2")
    held = [raw_conn(gw.port) for _ in range(2)]
    other = socket.socket()
    other.bind(("127.0.0.2", 0))
    other.settimeout(5)
    other.connect(("127.0.0.1", gw.port))
    other.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    ok(other.recv(100).startswith(b"HTTP/1.1 404"), "another address is not affected by the per-IP limit")
    other.close()
    ok(refused(gw.port), "a 3rd connection from one address over max_connections_per_ip=2 is closed")
    ok(gw.wait_log(r"refused: per-IP limit reached \(2\)") is not None, "and logged")
    for s in held:
        s.close()
    gw.stop()

    # -- slow requests, pipelining bound ----------------------------------------
    gw = Gateway("--http-timeout", "300")
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    s.sendall(b"GET /x HTTP/1.1\r\nHost")     # and then nothing (slowloris)
    t0 = time.monotonic()
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    ok(data.startswith(b"HTTP/1.1 408") and time.monotonic() - t0 < 3,
       "a request not complete within http_timeout gets 408 and is closed (%r)" % data[:20])
    s.close()
    gw.stop()

    gw = Gateway("--engineio-path", "/engine.io/")
    w = start_worker(gw)
    try:
        st, body = get(gw.port, "/socket.io/?EIO=4&transport=polling")
        sid = json.loads(body[1:])["sid"]
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
        # A GET that parks (nothing queued), then more than 64 KiB pipelined behind it.
        s.sendall(("GET %s&sid=%s HTTP/1.1\r\nHost: x\r\n\r\n" % (SIO, sid)).encode())
        closed = False
        try:
            for _ in range(40):
                s.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 3000 + b"\r\n\r\n")
            s.settimeout(3)
            while s.recv(65536):
                pass
            closed = True
        except (ConnectionResetError, BrokenPipeError):
            closed = True
        except socket.timeout:
            closed = False
        ok(closed, "more than 64 KiB pipelined behind a parked request closes the connection")
        ok(get(gw.port, "/nothing")[0] == 404 and gw.alive(), "the gateway keeps serving others")
        s.close()
    finally:
        w.kill()
        w.wait()
        gw.stop()

    # -- handshake rate, sid_bind_ip -------------------------------------------
    gw = Gateway("--handshake-rate", "2", "--sid-bind-ip", "yes")
    w = start_worker(gw)
    try:
        codes = [handshake(gw.port)[0] for _ in range(6)]
        ok(codes.count(200) == 4 and codes[-1] == 429,
           "handshake_rate=2: a burst of 4 passes, then 429 (%s)" % codes)
        ok(gw.wait_log(r"handshake rate over 2/s") is not None, "the refusal is logged")
        st, sid = handshake(gw.port, src="127.0.0.3")
        ok(st == 200, "another address still gets its handshakes")
        st, body = sio_get(gw.port, sid)  # from 127.0.0.1: another address
        ok(st == 400 and b"Session ID unknown" in body,
           "sid_bind_ip: the session's sid used from another address gets 400")
        ok(gw.wait_log(r"request from 127\.0\.0\.1:\d+ refused \(session bound to 127\.0\.0\.3\)")
           is not None, "and the attempt is logged")
    finally:
        w.kill()
        w.wait()
        gw.stop()

    # -- a worker flooding commands does not starve clients ---------------------
    gw = Gateway()
    w = start_worker(gw)
    try:
        import threading
        import msgpack
        import zmq
        _, sid = handshake(gw.port)
        connect_nsp(gw.port, sid)
        ctx = zmq.Context.instance()
        fl = ctx.socket(zmq.DEALER)
        fl.setsockopt(zmq.LINGER, 0)
        fl.setsockopt(zmq.SNDHWM, 0)
        fl.connect(gw.bridge)
        fl.send(msgpack.packb({"v": 1, "t": HELLO, "name": "flood", "credit": 0, "hb": 5000}))
        fl.recv()   # WELCOME
        frame = msgpack.packb({"v": 1, "t": SIO_EMIT, "nsp": "/", "ev": "x", "args": [1], "to": ["nobody"]})
        stop = threading.Event()
        sent = [0]

        def flood():
            while not stop.is_set():
                for _ in range(1000):
                    fl.send(frame, zmq.NOBLOCK)
                sent[0] += 1000
        t = threading.Thread(target=flood)
        t.start()
        worst = 0.0
        try:
            for i in range(20):
                t0 = time.monotonic()
                sio_post(gw.port, sid, '42["echo",%d]' % i)
                st, body = sio_get(gw.port, sid)
                worst = max(worst, time.monotonic() - t0)
                if st != 200:
                    break
        finally:
            stop.set()
            t.join()
        ok(st == 200 and worst < 2.0,
           "while a worker floods commands (%d sent), a client's echoes still come back (worst %.3f s)"
           % (sent[0], worst))
        fl.close()
    finally:
        w.kill()
        w.wait()
        gw.stop()

    # -- events that wait too long for a worker's credit -------------------------
    gw = Gateway("--event-expiry", "300", "--bridge-heartbeat", "200")
    try:
        import msgpack
        import zmq
        ctx = zmq.Context.instance()
        hung = ctx.socket(zmq.DEALER)
        hung.setsockopt(zmq.LINGER, 0)
        hung.connect(gw.bridge)
        # Credit 2 and never any CREDIT back: it accepts the connect, then hangs.
        hung.send(msgpack.packb({"v": 1, "t": HELLO, "name": "hung", "nsp": ["/"], "credit": 2,
                                 "hb": 60000}))
        hung.recv()   # WELCOME
        _, sid = handshake(gw.port)
        sio_post(gw.port, sid, "40")
        while True:
            m = msgpack.unpackb(hung.recv(), raw=False)
            if m["t"] == SIO_CONNECT:
                hung.send(msgpack.packb({"v": 1, "t": SIO_ACCEPT, "id": m["id"]}))
                break
        sio_get(gw.port, sid)                      # 40{"sid":...}
        sio_post(gw.port, sid, '421["first"]')     # takes the last credit, never answered
        sio_post(gw.port, sid, '422["second"]')    # waits for credit, expires
        st, body = sio_get(gw.port, sid, timeout=5)
        ok(st == 200 and b'432[{"error":' in body and b'"code":"ENOWORKER"' in body,
           "an event that waited longer than event_expiry gets an ENOWORKER error ack (%r)" % body[:90])
        ok(gw.wait_log(r"event\(s\) expired after 300 ms") is not None, "and the drop is logged")
        hung.close()
    finally:
        gw.stop()

    # -- Origin on WebSocket upgrades, and what reaches the log -------------------
    gw = Gateway("--cors-origin", "http://good.example")
    try:
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
        s.sendall(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
                  b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Origin: http://evil.example\"x\\y\r\n\r\n")
        data = s.recv(4096)
        s.close()
        ok(data.startswith(b"HTTP/1.1 403"), "a WebSocket upgrade from an origin not allowed gets 403, no 101")
        m = gw.wait_log(r"origin .* not allowed .*websocket")
        ok(m is not None and '"' not in m.string and "\\x22" in m.string and "\\x5c" in m.string,
           "the origin is logged escaped (%r)" % (m.string if m else None))
    finally:
        gw.stop()

    # -- Socket.IO limits -----------------------------------------------------
    gw = Gateway("--max-namespaces", "2", "--max-event-name", "16", "--max-depth", "4",
                 "--max-attachments", "2", "--max-rooms", "2")
    w = start_worker(gw)
    try:
        _, sid = handshake(gw.port)
        connect_nsp(gw.port, sid, "/a")
        connect_nsp(gw.port, sid, "/b")
        st, body = connect_nsp(gw.port, sid, "/c")
        ok(b'44/c,{"message":"Too many namespaces"}' in body,
           "max_namespaces=2: a third namespace gets CONNECT_ERROR (%r)" % body[:60])

        def closes(packet, what):
            _, s2 = handshake(gw.port)
            connect_nsp(gw.port, s2)
            sio_post(gw.port, s2, packet)
            st2, _ = sio_get(gw.port, s2)
            st3, _ = sio_get(gw.port, s2)
            ok(st3 == 400 or st2 == 400, what)

        closes('42["%s"]' % ("e" * 17), "max_event_name=16: a 17-byte event name closes the connection")
        closes('42["echo",[[[[[1]]]]]]', "max_depth=4: five levels of nesting close the connection")
        closes('453-["echo",{"_placeholder":true,"num":0}]',
               "max_attachments=2: a packet announcing 3 attachments closes the connection")
        # max_rooms: a third room is not joined
        sio_post(gw.port, sid, '42/a,1["join",["r1","r2","r3"]]')
        sio_get(gw.port, sid)
        sio_post(gw.port, sid, '42/a,["get-rooms"]')
        st, body = sio_get(gw.port, sid)
        ok(b'my-rooms",["r1","r2"]' in body, "max_rooms=2: a socket is in at most 2 rooms (%r)" % body[:80])
        ok(gw.wait_log(r"room limit \(2\) reached") is not None, "and the refusal is logged")
        # the first session is unaffected by all that
        sio_post(gw.port, sid, '42/a,["echo","fine"]')
        st, body = sio_get(gw.port, sid)
        ok(st == 200 and b'42/a,["echo","fine"]' in body, "other connections keep working (%r)" % body[:80])
    finally:
        w.kill()
        w.wait()
        gw.stop()

    # -- slow consumer, volatile ----------------------------------------------
    gw = Gateway("--max-output", "65536", "--max-payload", "16384", "--ping-interval", "60000",
                 "--ping-timeout", "60000")
    w = start_worker(gw)
    try:
        _, slow = handshake(gw.port)
        connect_nsp(gw.port, slow)
        sio_post(gw.port, slow, '421["join","r"]')   # acked: the GET has an answer
        sio_get(gw.port, slow)
        _, fast = handshake(gw.port)
        connect_nsp(gw.port, fast)
        sio_post(gw.port, fast, '421["join","r"]')
        sio_get(gw.port, fast)
        # the slow one stops polling; broadcasts pile up for it
        big = "x" * 4000
        for i in range(25):
            sio_post(gw.port, fast, '42["to-room","r","news","%s"]' % big)
            st, body = sio_get(gw.port, fast)
        ok(st == 200 and b"news" in body, "the reading client keeps getting the broadcasts (%d %r)" % (st, body[:40]))
        ok(gw.wait_log(r"session \S+: \d+ bytes waiting for the client, closing \(slow consumer\)")
           is not None, "the client that does not read is closed as a slow consumer, with a log line")
        st, _ = sio_get(gw.port, slow)
        ok(st == 400 or st == 200, "its session is gone (or finishing)")
        st, body = sio_get(gw.port, slow)
        ok(st == 400, "then gone")

        # Volatile emits are dropped for a client that has a backlog, instead of
        # piling up until it is disconnected.
        _, lazy = handshake(gw.port)
        connect_nsp(gw.port, lazy)
        sio_post(gw.port, lazy, '421["join","v"]')
        sio_get(gw.port, lazy)
        sio_post(gw.port, fast, '421["join","v"]')
        sio_get(gw.port, fast)
        mark = len(gw.lines)
        for i in range(25):
            sio_post(gw.port, fast, '42["to-room-volatile","v","tick","%s"]' % big)
            st, body = sio_get(gw.port, fast)
        ok(st == 200 and b"tick" in body, "the reading client gets volatile emits")
        st, body = sio_get(gw.port, lazy)
        n = body.count(b"tick")
        ok(st == 200 and 0 < n < 25,
           "the client that did not read got some of them, not all (%d of 25), and is still connected" % n)
        ok(gw.wait_log(r"slow consumer", deadline=0.2, start=mark) is None,
           "no slow-consumer disconnect for volatile emits")
    finally:
        w.kill()
        w.wait()
        gw.stop()
    fd_limit()
    done()


def fd_limit():
    """Out of file descriptors (RLIMIT_NOFILE 64): accepting pauses instead of
    spinning on EMFILE, the log says so a few times, not in a loop, and once
    descriptors are free again new clients get in."""
    old = os.environ.get("SIOGATE_WRAPPER", "")
    os.environ["SIOGATE_WRAPPER"] = ("prlimit --nofile=64:64 " + old).strip()
    try:
        gw = Gateway("--max-connections-per-ip", "0")
    finally:
        os.environ["SIOGATE_WRAPPER"] = old
    held = []
    try:
        for _ in range(80):
            held.append(raw_conn(gw.port))
        ok(gw.wait_log(r"Too many open files.*pausing accepts", 5) is not None,
           "at the descriptor limit, the gateway pauses accepting and says so")
        time.sleep(1.0)   # let a spinning accept loop show itself, if there were one
        n = sum(1 for l in gw.lines if "Too many open files" in l)
        ok(n < 5, "the EMFILE warning is not repeated in a loop (%d line(s) in 1 s)" % n)
        ok(gw.proc.poll() is None, "the gateway keeps running")
        for s in held:
            s.close()
        held = []
        ok(eventually(lambda: not refused(gw.port), 10),
           "once descriptors are free, a new connection is served again")
    finally:
        for s in held:
            s.close()
        gw.stop()


main()
