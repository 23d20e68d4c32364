"""siogate.Emitter's barrier (sdk/python/siogate/emitter.py) against fake
gateways in this process: a ZeroMQ ROUTER speaking the bridge with the
module's own codec, as tests/unit/sdk_test.c does for the C SDK.  The
emitter confirms with SYNC; a gateway older than SYNC (it answers
ERROR unknown-type, ref SYNC) is asked the old empty-room SIO_QUERY, and
straight away from then on; a silent one makes the call
raise GatewayUnavailable.  The real gateway's side is in
tests/integ/bridge.test.py and sync.test.py.  TAP."""
import logging
import os
import sys
import threading
import time

TOP = os.environ.get("TOP_SRCDIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "..", "..")
sys.path.insert(0, os.path.join(TOP, "sdk", "python"))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import zmq  # noqa: E402

import siogate  # noqa: E402
from siogate import protocol as P  # noqa: E402
from siogate.emitter import BARRIER_ROOM  # noqa: E402
from tap import done, ok  # noqa: E402


class FakeGateway(threading.Thread):
    """A ROUTER that welcomes, records what it gets and answers SYNC as a
    current gateway ("new"), an old one ("old"), or not at all ("silent")."""

    def __init__(self, endpoint, mode):
        super().__init__(daemon=True)
        self.mode = mode
        self.got = []
        self.cond = threading.Condition()
        self.sock = zmq.Context.instance().socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.running = True
        self.start()

    def send(self, rid, **fields):
        self.sock.send_multipart([rid, P.pack(**fields)])

    def run(self):
        while self.running:
            if not self.sock.poll(50):
                continue
            rid, frame = self.sock.recv_multipart()
            m = P.unpack(frame)
            t = m["t"]
            if t == P.HEARTBEAT:
                continue
            with self.cond:
                self.got.append(m)
                self.cond.notify_all()
            if t == P.HELLO:
                self.send(rid, t=P.WELCOME, gw="FaKe", wid=1, hb=1000)
            elif t == P.SYNC and self.mode == "new":
                self.send(rid, t=P.SYNC_REPLY, req=m["req"])
            elif t == P.SYNC and self.mode == "old":
                self.send(rid, t=P.ERROR, code=P.E_UNKNOWN_TYPE, text="unknown message type",
                          ref=P.SYNC)
            elif t == P.SIO_QUERY:
                self.send(rid, t=P.SIO_RESULT, req=m["req"], result=[])

    def types(self):
        with self.cond:
            return [m["t"] for m in self.got if m["t"] not in (P.HELLO, P.BYE)]

    def clear(self):
        with self.cond:
            self.got = []

    def stop(self):
        self.running = False
        self.join(2)
        self.sock.close()


class Errors(logging.Handler):
    """Counts the warnings and errors the module logs."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record.getMessage())


def main():
    errs = Errors()
    logging.getLogger("siogate").addHandler(errs)
    base = "ipc:///tmp/siogate-pyemit-%d" % os.getpid()

    gw = FakeGateway(base + "-new.sock", "new")
    with siogate.Emitter(gw.sock.getsockopt_string(zmq.LAST_ENDPOINT), timeout=5) as em:
        em.emit("news", 1)
        ok(gw.types() == [P.SIO_EMIT, P.SYNC],
           "a confirmed emit is SIO_EMIT then SYNC, and nothing else (%r)" % gw.types())
        sync = [m for m in gw.got if m["t"] == P.SYNC]
        ok(sync and isinstance(sync[0].get("req"), int), "SYNC carries a req")
    gw.stop()

    gw = FakeGateway(base + "-old.sock", "old")
    with siogate.Emitter(gw.sock.getsockopt_string(zmq.LAST_ENDPOINT), timeout=5) as em:
        t0 = time.monotonic()
        em.emit("news", 2)
        got = list(gw.got)
        ts = [m["t"] for m in got if m["t"] not in (P.HELLO, P.BYE)]
        ok(ts == [P.SIO_EMIT, P.SYNC, P.SIO_QUERY],
           "an old gateway: SYNC refused, then the empty-room SIO_QUERY (%r)" % ts)
        q = [m for m in got if m["t"] == P.SIO_QUERY]
        s = [m for m in got if m["t"] == P.SYNC]
        ok(q and s and isinstance(q[0]["req"], int) and q[0]["to"] == [BARRIER_ROOM] and
           q[0]["what"] == "rooms", "... what rooms, to [%s] (%r)" % (BARRIER_ROOM, q))
        ok(time.monotonic() - t0 < 3, "... and the emit returns once it is answered")
        gw.clear()
        em.emit("news", 3)
        ok(gw.types() == [P.SIO_EMIT, P.SIO_QUERY],
           "the next emit asks that gateway the query straight away (%r)" % gw.types())
    gw.stop()
    ok(not errs.records, "no warning or error logged for the old gateway's refusal (%r)"
       % errs.records)

    gw = FakeGateway(base + "-silent.sock", "silent")
    em = siogate.Emitter(gw.sock.getsockopt_string(zmq.LAST_ENDPOINT), timeout=1)
    t0 = time.monotonic()
    try:
        em.emit("news", 4)
        raised = None
    except siogate.GatewayUnavailable as e:
        raised = e
    ok(raised is not None and time.monotonic() - t0 < 3,
       "a gateway that never answers SYNC: GatewayUnavailable after the timeout (%r)" % raised)
    try:
        em.close(timeout=0.5)
    except siogate.GatewayUnavailable:
        pass
    gw.stop()
    for kind in ("new", "old", "silent"):
        try:
            os.unlink("/tmp/siogate-pyemit-%d-%s.sock" % (os.getpid(), kind))
        except OSError:
            pass
    done()


main()
