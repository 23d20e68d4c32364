"""threads = N: several event loops in one gateway, with the real binary,
the chat example's workers (C on libsiogate, and Python on the siogate
module) and Debian's python3-socketio client.

What is checked: a worker given one endpoint registers on every loop by
itself (WELCOME "bridges"), and so does siogate-emit; clients spread over the loops (their sids carry
the loop's id); a room emit reaches members on every loop; polling requests
and WebSocket upgrades that arrive on another loop's connection are handed
over (fresh TCP connections for every request, until
siogate_handovers_total counts them) and answered by the owner; an
oversized POST on another loop still closes its session; metrics add up
every loop; SIGHUP and SIGTERM reach every loop and the gateway drains and
exits 0."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from tap import Gateway, Proc, done, ok, need_gateway_and_socketio  # noqa: E402

socketio = need_gateway_and_socketio()

BUILD = os.path.dirname(os.path.dirname(os.environ["SIOGATE"]))
TOP = os.environ.get("TOP_SRCDIR", os.path.join(HERE, "..", ".."))
C_WORKER = os.path.join(BUILD, "examples", "chat", "chat_worker")
PY_WORKER = os.path.join(TOP, "examples", "chat", "chat_worker.py")
WAIT = 10.0


def metrics(port):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"(siogate_\w+(?:\{[^}]*\})?) (\d+)$", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def wait_metric(port, cond, timeout=WAIT):
    """Poll the metrics (other loops publish theirs every second) until cond."""
    end = time.monotonic() + timeout
    while True:
        m = metrics(port)
        if cond(m) or time.monotonic() > end:
            return m
        time.sleep(0.1)


def http(port, method, path, body=None, timeout=5):
    """One request on a fresh TCP connection (so the kernel picks a loop anew)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    data = body.encode() if isinstance(body, str) else (body or b"")
    head = "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" % (method, path)
    if body is not None:
        head += "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %d\r\n" % len(data)
    s.sendall(head.encode() + b"\r\n" + data)
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
    return status, rest.decode("utf-8", "replace")


def handshake(port):
    st, body = http(port, "GET", "/socket.io/?EIO=4&transport=polling")
    assert st == 200, (st, body)
    return json.loads(body[1:])["sid"]


class Cli:
    """A python-socketio client of /chat that records "message" events."""

    def __init__(self, port, nick, transports):
        self.got = []
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False, handle_sigint=False)
        self.sio.on("message", self._on_message, namespace="/chat")
        self.sio.connect("http://127.0.0.1:%d" % port, namespaces=["/chat"],
                         transports=transports, wait_timeout=WAIT)
        self.nick = self.sio.call("nick", nick, namespace="/chat", timeout=WAIT)
        self.join = self.sio.call("join", "lobby", namespace="/chat", timeout=WAIT)

    def _on_message(self, data):
        with self.cond:
            self.got.append(data)
            self.cond.notify_all()

    def wait_text(self, text, timeout=WAIT):
        end = time.monotonic() + timeout
        with self.cond:
            while not any(text in (m.get("text"), m.get("data")) for m in self.got):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True


def run(kind, argv):
    gw = Gateway("--threads", "2", "--metrics-listen", "127.0.0.1:0", "--max-payload", "2000")
    w = None
    clients = []
    try:
        m = gw.wait_log(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", 5)
        mport = int(m.group(1))
        ok(gw.wait_log(r"2 event loops", 5) is not None, "%s: the gateway says it runs 2 loops" % kind)
        ids = sorted(set(re.findall(r"gateway id (\S+)\)", "\n".join(gw.lines))))
        ok(len(ids) == 2 and ids[0][:3] == ids[1][:3] and ids[0] != ids[1],
           "%s: each loop has its own id, the first 3 characters shared: %s" % (kind, ids))
        w = Proc(argv + ["-e", gw.bridge], "%s worker" % kind)
        regs = w.count(r"registered", 2)
        ok(len(regs) == 2, "%s worker given one endpoint registers on both loops" % kind)
        mm = wait_metric(mport, lambda x: x.get("siogate_workers") == 1)
        ok(mm.get("siogate_loops") == 2 and mm.get("siogate_workers") == 1,
           "%s: siogate_loops 2, the worker on loop 0" % kind)

        # Clients until both loops have some (the kernel spreads connections).
        for i in range(40):
            clients.append(Cli(gw.port, "%s%d" % (kind, i), ["polling"] if i % 2 else None))
            loops = {c.sio.get_sid("/chat")[3] for c in clients if c.sio.get_sid("/chat")}
            if len(clients) >= 6 and len(loops) == 2:
                break
        ok(len(loops) == 2, "%s: %d clients are spread over both loops (socket ids end in %s)"
           % (kind, len(clients), sorted(loops)))
        ok(all(c.nick.get("ok") and c.join.get("ok") for c in clients),
           "%s: every client set its nick and joined the room (acks through both loops)" % kind)
        ack = clients[0].sio.call("message", {"room": "lobby", "text": "hello all"},
                                  namespace="/chat", timeout=WAIT)
        ok(ack.get("ok"), "%s: the message is acked" % kind)
        ok(all(c.wait_text("hello all") for c in clients[1:]),
           "%s: a room emit reaches the members on both loops" % kind)
        emit = os.environ.get("SIOGATE_EMIT")
        if emit and os.path.exists(emit):
            r = subprocess.run([emit, "-e", gw.bridge, "-n", "/chat", "-r", "lobby", "message",
                                '{"room":"lobby","nick":"ops","text":"from siogate-emit"}'],
                               capture_output=True, timeout=20)
            ok(r.returncode == 0 and all(c.wait_text("from siogate-emit") for c in clients),
               "%s: siogate-emit given one endpoint reaches the room's members on both loops "
               "(exit %d %r)" % (kind, r.returncode, r.stderr[-200:]))
        push = os.path.join(BUILD, "examples", "push", "push_emitter")
        if os.path.exists(push):
            r = subprocess.run([push, "-e", gw.bridge, "-n", "/chat", "-E", "message",
                                "from push_emitter"], capture_output=True, timeout=20)
            ok(r.returncode == 0 and all(c.wait_text("from push_emitter") for c in clients),
               "%s: the push example's emitter, given one endpoint, reaches both loops "
               "(exit %d %r)" % (kind, r.returncode, r.stderr[-200:]))
        mm = wait_metric(mport, lambda x: x.get("siogate_sockets") == len(clients))
        ok(mm.get("siogate_sockets") == len(clients) and
           mm.get('siogate_sessions{transport="polling"}', 0) +
           mm.get('siogate_sessions{transport="websocket"}', 0) == len(clients),
           "%s: metrics add up both loops: %d sockets, %d sessions" % (kind, mm.get("siogate_sockets"),
           mm.get('siogate_sessions{transport="polling"}', 0) +
           mm.get('siogate_sessions{transport="websocket"}', 0)))

        # Raw polling on fresh connections: every request is answered by its owner.
        before = metrics(mport).get("siogate_handovers_total", 0)
        sids = [handshake(gw.port) for _ in range(4)]
        path = "/socket.io/?EIO=4&transport=polling&sid="
        bad = []
        for rnd in range(6):
            for sid in sids:
                # Namespace connect first, then an acked event each round.
                pkt = '40/chat,' if rnd == 0 else '42/chat,%d["nick","raw%d"]' % (rnd, rnd)
                want = '40/chat,{"sid":' if rnd == 0 else '43/chat,%d[{"ok":true' % rnd
                st, body = http(gw.port, "POST", path + sid, pkt)
                if st != 200 or body != "ok":
                    bad.append((sid, rnd, "POST", st, body))
                got = ""
                for _ in range(4):
                    st, body = http(gw.port, "GET", path + sid)
                    got += body
                    if st != 200 or want in got:
                        break
                if st != 200 or want not in got:
                    bad.append((sid, rnd, "GET", st, got))
        ok(not bad, "%s: 4 sessions, 6 rounds of POST and GET on fresh connections, each answered "
           "by the session's loop: %r" % (kind, bad[:3]))
        # WebSocket upgrades on fresh connections (websocket-client, when installed).
        try:
            import websocket
        except ImportError:
            websocket = None
        if websocket is not None:
            bad = []
            for k in range(8):
                sid = handshake(gw.port)
                try:
                    ws = websocket.create_connection(
                        "ws://127.0.0.1:%d/socket.io/?EIO=4&transport=websocket&sid=%s"
                        % (gw.port, sid), timeout=5)
                    ws.send("2probe")
                    probe = ws.recv()
                    ws.send("5")
                    ws.send("40/chat,")
                    conn = ws.recv()
                    ws.close()
                    if probe != "3probe" or not conn.startswith('40/chat,{"sid":'):
                        bad.append((sid, probe, conn))
                except Exception as e:  # noqa: BLE001
                    bad.append((sid, repr(e)))
            ok(not bad, "%s: 8 WebSocket upgrades on fresh connections, probe and namespace "
               "connect answered: %r" % (kind, bad[:3]))
        mm = wait_metric(mport, lambda x: x.get("siogate_handovers_total", 0) > before)
        ok(mm.get("siogate_handovers_total", 0) > before,
           "%s: some were handed over to the loop owning the sid (%d)"
           % (kind, mm.get("siogate_handovers_total", 0) - before))
        st, body = http(gw.port, "GET", "/socket.io/?EIO=4&transport=polling&sid=%sAAAAAAAAAAAAAAAAAAAA"
                        % ids[1])
        ok(st == 400 and "Session ID unknown" in body,
           "%s: an unknown sid of the other loop gets 400 'Session ID unknown'" % kind)
        # An oversized POST closes its session whichever loop read it.
        for sid in sids:
            st, _ = http(gw.port, "POST", "/socket.io/?EIO=4&transport=polling&sid=" + sid, "4" + "x" * 3000)
        gone = all(http(gw.port, "GET", "/socket.io/?EIO=4&transport=polling&sid=" + sid)[0] == 400
                   for sid in sids)
        ok(st == 413 and gone, "%s: a POST over maxPayload gets 413 and its session is closed" % kind)

        # SIGHUP reaches every loop; the clients keep working.
        n = len(gw.lines)
        gw.proc.send_signal(signal.SIGHUP)
        ok(gw.wait_log(r"reload done", 5, start=n) is not None, "%s: SIGHUP: reload done" % kind)
        ack = clients[-1].sio.call("message", {"room": "lobby", "text": "after reload"},
                                   namespace="/chat", timeout=WAIT)
        ok(ack.get("ok") and all(c.wait_text("after reload") for c in clients[:-1]),
           "%s: after the reload, a room emit still reaches everyone" % kind)
    finally:
        for c in clients:
            try:
                c.sio.disconnect()
            except Exception:
                pass
        n = len(gw.lines)
        rc = gw.stop(deadline=15)
        ok(rc == 0 and any("drained" in l for l in gw.lines[n:]),
           "%s: SIGTERM: every loop drains, exit 0 (got %r)" % (kind, rc))
        if w is not None:
            w.stop()


def bad_bridge_port():
    """A tcp bridge port whose loop i would be over 65535: a clear error at start."""
    r = subprocess.run([os.environ["SIOGATE"], "--listen", "127.0.0.1:0", "--threads", "2",
                        "--bridge", "tcp://127.0.0.1:65535"], capture_output=True, timeout=20)
    err = r.stderr.decode("utf-8", "replace")
    ok(r.returncode != 0 and "loop 1 would need port 65536" in err,
       "threads = 2 with bridge port 65535: exit %d with a clear error" % r.returncode)


def main():
    bad_bridge_port()
    run("C", [C_WORKER])
    run("Python", [sys.executable, PY_WORKER])
    done()


main()
