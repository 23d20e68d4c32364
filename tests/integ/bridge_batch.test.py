"""BATCH frames on the bridge (siogate-protocol(7)): a worker that announces
"batch" gets the messages of one gateway loop turn in one frame, an older
worker keeps getting one message per frame, a worker may send BATCH, and a
bad BATCH (or garbage inside one) gets clear errors and affects only that
worker.  Real gateway, real ZeroMQ, raw msgpack from Python."""
import collections
import os
import sys
import time

import msgpack

sys.path.insert(0, os.path.join(os.environ.get("TOP_SRCDIR", "."), "tests", "lib"))
from tap import Gateway, Peer, done, get, ok, post  # noqa: E402
from proto import (BATCH, BYE, CREDIT, EIO_MESSAGE, EIO_OPEN,  # noqa: E402
                   EIO_SEND, ERROR, HEARTBEAT, HELLO, STATUS, STATUS_REPLY, WELCOME)
EP = "/engine.io/"


def pack(m):
    return msgpack.packb(m, use_bin_type=True)


class BatchPeer(Peer):
    """A worker that takes BATCH frames: each received frame is split into
    its messages, remembering whether it came as a BATCH and how many it
    held."""

    def __init__(self, endpoint):
        super().__init__(endpoint)
        self.q = collections.deque()

    def _fill(self, timeout):
        end = time.monotonic() + timeout
        while not self.q:
            left = end - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                return
            f = msgpack.unpackb(self.sock.recv(), raw=False)
            if f.get("t") == BATCH:
                # A heartbeat may share the frame: count the others.
                items = [msgpack.unpackb(b, raw=False) for b in f["msgs"]]
                n = sum(1 for m in items if m.get("t") != HEARTBEAT)
                for m in items:
                    self.q.append((n, m))
            else:
                self.q.append((0, f))

    def next(self, t=None, timeout=5):
        """(messages but heartbeats in its BATCH, or 0 for a bare frame,
        message) of the next message
        of type t (any but HEARTBEAT when None), or (None, None)."""
        end = time.monotonic() + timeout
        while True:
            self._fill(max(end - time.monotonic(), 0))
            if not self.q:
                return None, None
            n, m = self.q.popleft()
            if (t is None and m.get("t") != HEARTBEAT) or m.get("t") == t:
                return n, m


def handshake(gw):
    import json
    st, body = get(gw.port, EP + "?EIO=4&transport=polling")
    return json.loads(body[1:])["sid"] if st == 200 else None


def poll_packets(gw, sid, n, deadline=5):
    got = []
    end = time.monotonic() + deadline
    while len(got) < n and time.monotonic() < end:
        st, body = get(gw.port, EP + "?EIO=4&transport=polling&sid=" + sid)
        if st != 200:
            break
        got += [p for p in body.split(b"\x1e") if p != b"2"]
    return got


def main():
    gw = Gateway("--engineio-path", EP, "--gateway-id", "BaTc", "--bridge-heartbeat", "200")
    try:
        run(gw)
    finally:
        rc = gw.stop()
        ok(rc == 0, "gateway exits 0 on SIGTERM (got %r)" % rc)
    done()


def run(gw):
    a = BatchPeer(gw.bridge)
    a.send({"v": 1, "t": HELLO, "name": "batcher", "eio": [EP], "credit": 64, "hb": 1000,
            "batch": True})
    _, m = a.next(WELCOME)
    ok(m is not None and m.get("batch") is True, "WELCOME says the gateway takes BATCH")
    ok(gw.wait_log(r"worker \d+ \(batcher\) registered: .* batch") is not None,
       "the gateway logs that the worker takes BATCH")
    s1 = handshake(gw)
    _, m = a.next(EIO_OPEN)
    ok(m and m["sid"] == s1, "the first session goes to the batch worker")

    # An older worker (no "batch" in HELLO) gets the second session.
    b = Peer(gw.bridge)
    b.send({"v": 1, "t": HELLO, "name": "legacy", "eio": [EP], "credit": 64, "hb": 1000})
    m = b.recv_type(WELCOME)
    ok(m is not None and m.get("batch") is True, "an older worker gets the same WELCOME")
    s2 = handshake(gw)
    m = b.recv_type(EIO_OPEN)
    ok(m and m["sid"] == s2, "the second session goes to the older worker")

    # Three client messages handled in one loop turn: one BATCH for the
    # batch worker, three frames for the older one.
    post(gw.port, EP + "?EIO=4&transport=polling&sid=" + s1, "4one\x1e4two\x1e4three")
    got = [a.next(EIO_MESSAGE) for _ in range(3)]
    ok(all(m for _, m in got) and [m["data"] for _, m in got] == ["one", "two", "three"] and
       [m["seq"] for _, m in got] == [1, 2, 3], "the batch worker gets the three messages in order")
    ok([n for n, _ in got] == [3, 3, 3], "... in one BATCH frame of three (%r)" % [n for n, _ in got])
    post(gw.port, EP + "?EIO=4&transport=polling&sid=" + s2, "4one\x1e4two\x1e4three")
    frames = [b.recv() for _ in range(3)]
    ok(all(frames) and [f["t"] for f in frames] == [EIO_MESSAGE] * 3 and
       [f["data"] for f in frames] == ["one", "two", "three"],
       "the older worker gets them as three frames of their own, never a BATCH")
    a.send({"v": 1, "t": CREDIT, "n": 4})
    b.send({"v": 1, "t": CREDIT, "n": 4})

    # A BATCH from the worker: each message handled in order.
    a.send({"v": 1, "t": BATCH, "msgs": [
        pack({"v": 1, "t": EIO_SEND, "sid": s1, "data": "a"}),
        pack({"v": 1, "t": EIO_SEND, "sid": s1, "data": b"\x01\x02"}),
        pack({"v": 1, "t": EIO_SEND, "sid": s1, "data": "c"})]})
    got = poll_packets(gw, s1, 3)
    ok(got == [b"4a", b"bAQI=", b"4c"], "a worker's BATCH of sends reaches the client in order (%r)"
       % got)

    # Garbage inside a BATCH: each bad message gets its own ERROR naming the
    # item; the good ones around it are still handled.
    a.send({"v": 1, "t": BATCH, "msgs": [
        pack({"v": 1, "t": EIO_SEND, "sid": s1, "data": "x"}),
        b"\xc1",
        pack({"t": EIO_SEND, "sid": s1, "data": "no version"}),
        pack({"v": 1, "t": 999}),
        pack({"v": 1, "t": BATCH, "msgs": [pack({"v": 1, "t": EIO_SEND, "sid": s1,
                                                 "data": "nested"})]}),
        pack({"v": 1, "t": EIO_SEND, "sid": "BaTcnope", "data": "lost"}),
        pack({"v": 1, "t": EIO_OPEN, "sid": s1}),
        pack({"v": 1, "t": EIO_SEND, "sid": s1, "data": "y"}),
        pack({"v": 1, "t": EIO_SEND, "sid": s1}) + b"\x00"]})
    errs = [a.next(ERROR) for _ in range(7)]
    ok(all(m for _, m in errs), "seven bad items get seven ERRORs")
    errs = [(n, m or {}) for n, m in errs]
    e = [m for _, m in errs]
    ok(e[0].get("code") == 1 and e[0].get("text", "").startswith("BATCH item 1:"),
       "a byte that is not msgpack: ERROR bad-message naming item 1 (%r)" % e[0])
    ok(e[1].get("code") == 1 and e[1].get("text", "").startswith("BATCH item 2:"),
       "a message without v: ERROR bad-message naming item 2 (%r)" % e[1])
    ok(e[2].get("code") == 3 and e[2].get("ref") == 999 and
       e[2].get("text", "").startswith("BATCH item 3:"),
       "an unknown type: ERROR unknown-type with ref, naming item 3 (%r)" % e[2])
    ok(e[3].get("code") == 1 and e[3].get("ref") == BATCH and
       e[3].get("text") == "BATCH item 4: a BATCH inside a BATCH",
       "a BATCH inside a BATCH: ERROR bad-message, ref 9 (%r)" % e[3])
    ok(e[4].get("code") == 5 and e[4].get("sid") == "BaTcnope" and e[4].get("ref") == EIO_SEND,
       "a send to an unknown sid: ERROR unknown-sid as alone (%r)" % e[4])
    ok(e[5].get("code") == 1 and e[5].get("ref") == EIO_OPEN,
       "a gateway-only type: ERROR bad-message with its ref (%r)" % e[5])
    ok(e[6].get("code") == 1 and e[6].get("text", "").startswith("BATCH item 8:"),
       "trailing bytes after an item: ERROR bad-message naming item 8 (%r)" % e[6])
    ok(all(n == 7 for n, _ in errs), "the gateway's seven answers came in one BATCH")
    got = poll_packets(gw, s1, 2)
    ok(got == [b"4x", b"4y"], "the good items around the garbage were handled (%r)" % got)

    # A malformed BATCH frame: one ERROR with ref 9, nothing of it handled.
    cases = [
        ({"v": 1, "t": BATCH}, "a BATCH without msgs"),
        ({"v": 1, "t": BATCH, "msgs": 5}, "a BATCH whose msgs is no array"),
        ({"v": 1, "t": BATCH, "msgs": [pack({"v": 1, "t": EIO_SEND, "sid": s1, "data": "z"}),
                                       "a str"]}, "a BATCH with a str among its bins"),
    ]
    for msg, what in cases:
        a.send(msg)
        _, m = a.next(ERROR)
        ok(m and m["code"] == 1 and m.get("ref") == BATCH,
           "%s gets one ERROR bad-message with ref 9" % what)
    a.send_raw(b"\x83\xa1v\x01\xa1t\x09\xa4msgs\x91\xc4\x10abc")
    _, m = a.next(ERROR)
    ok(m and m["code"] == 1 and "past the end" in m.get("text", ""),
       "a BATCH whose bin runs past the frame gets ERROR bad-message (%r)" % m)
    a.send({"v": 1, "t": BATCH, "msgs": []})
    a.send({"v": 1, "t": STATUS})
    _, m = a.next()
    ok(m and m["t"] == STATUS_REPLY, "an empty BATCH does nothing: the next answer is the STATUS one")
    a.send({"v": 1, "t": EIO_SEND, "sid": s1, "data": "after"})
    got = poll_packets(gw, s1, 1)
    ok(got == [b"4after"], "nothing of the malformed BATCH frames reached the client (%r)" % got)

    # Only that worker was affected: both still work.
    post(gw.port, EP + "?EIO=4&transport=polling&sid=" + s2, "4fine")
    m = b.recv_type(EIO_MESSAGE)
    ok(m and m["data"] == "fine", "the other worker's session is unaffected")
    post(gw.port, EP + "?EIO=4&transport=polling&sid=" + s1, "4still")
    _, m = a.next(EIO_MESSAGE)
    ok(m and m["data"] == "still", "the worker that sent garbage still gets its events")
    a.send({"v": 1, "t": CREDIT, "n": 1})
    b.send({"v": 1, "t": CREDIT, "n": 1})
    ok(gw.alive(), "the gateway is still running")

    # The older worker may send BATCH too (WELCOME said so).
    b.send({"v": 1, "t": BATCH, "msgs": [pack({"v": 1, "t": EIO_SEND, "sid": s2,
                                               "data": "from b"})]})
    got = poll_packets(gw, s2, 1)
    ok(got == [b"4from b"], "a BATCH from the older worker is handled (%r)" % got)

    # Every event of a BATCH costs a credit: with 2 credits, 2 of 3 go.
    a.send({"v": 1, "t": HELLO, "name": "batcher", "eio": [EP], "credit": 2, "hb": 1000,
            "batch": True})
    a.next(WELCOME)
    post(gw.port, EP + "?EIO=4&transport=polling&sid=" + s1, "4c1\x1e4c2\x1e4c3")
    got = [a.next(EIO_MESSAGE, timeout=2) for _ in range(2)]
    ok([m and m["data"] for _, m in got] == ["c1", "c2"] and [n for n, _ in got] == [2, 2],
       "with 2 credits, a BATCH of 2 events goes")
    n, m = a.next(EIO_MESSAGE, timeout=0.5)
    ok(m is None, "the third waits for credit")
    a.send({"v": 1, "t": CREDIT, "n": 1})
    n, m = a.next(EIO_MESSAGE)
    ok(m and m["data"] == "c3", "CREDIT 1 releases it")

    # A re-HELLO without "batch": back to one message per frame.
    a.send({"v": 1, "t": HELLO, "name": "batcher", "eio": [EP], "credit": 64, "hb": 1000})
    a.next(WELCOME)
    post(gw.port, EP + "?EIO=4&transport=polling&sid=" + s1, "4d1\x1e4d2")
    got = [a.next(EIO_MESSAGE) for _ in range(2)]
    ok([m and m["data"] for _, m in got] == ["d1", "d2"] and [n for n, _ in got] == [0, 0],
       "after a HELLO without batch, the worker gets one message per frame")
    for p in (a, b):
        p.send({"v": 1, "t": BYE})
        p.close()

    # HELLO with "batch" that is not a boolean: refused with a clear ERROR, not registered.
    c = Peer(gw.bridge)
    c.send({"v": 1, "t": HELLO, "name": "bad-batch", "eio": [EP], "credit": 8, "hb": 1000,
            "batch": "yes"})
    m = c.recv()
    ok(m is not None and m.get("t") == ERROR and m.get("ref") == HELLO and "batch" in m.get("text", ""),
       "HELLO with batch \"yes\" gets ERROR naming the field: %r" % (m,))
    c.close()


main()
