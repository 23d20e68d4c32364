"""Unit tests of siogate.Worker against a scripted gateway (a real ZeroMQ
ROUTER, fake_gateway.py): the context functions' defaults, the session
stored for you, a stale session copy in an event not overwriting what
save_session() stored, ack callbacks and error callbacks, and the
BroadcastWarning.  Run: python3 test_worker.py (TAP)."""
import logging
import threading
import unittest
import warnings

import siogate
from siogate import protocol as P
from siogate import emit, join_room, request, session

import _tap
from fake_gateway import FakeGateway

NSP = "/chat"


class WorkerCase(unittest.TestCase):
    """A worker with the test's handlers, run in a thread, registered."""

    def setUp(self):
        self.gw = FakeGateway()
        self.worker = siogate.Worker(self.gw.endpoint, name="unit", heartbeat=2000)
        self.seen = []
        self.handlers(self.worker)
        self.thread = threading.Thread(target=self.worker.run, daemon=True)
        self.thread.start()
        self.assertIsNotNone(self.gw.welcome(), "HELLO")
        self.sid = self.gw.sid(1)
        self.seq = 0

    def tearDown(self):
        self.worker.stop()
        self.thread.join(5)
        self.gw.close()

    def handlers(self, w):
        pass

    def event(self, ev, *args, ack=None, session=None, rooms=None):
        self.seq += 1
        f = {"id": self.sid, "nsp": NSP, "seq": self.seq, "ev": ev, "args": list(args),
             "session": session or {}, "rooms": rooms or []}
        if ack is not None:
            f["ack"] = ack
        self.gw.send(P.SIO_EVENT, **f)

    def expect(self, t):
        m = self.gw.expect(t)
        self.assertIsNotNone(m, "no message of type %d" % t)
        return m


class ContextDefaults(WorkerCase):
    def handlers(self, w):
        @w.on("hi", namespace=NSP)
        def hi(sid, x):
            emit("hello", x)                    # the sender, in /chat
            emit("all", x, broadcast=True, include_self=False)
            join_room("r")
            return request.sid == sid and request.namespace == NSP

        @w.on("leak", namespace=NSP)
        def leak(sid):
            with warnings.catch_warnings(record=True) as got:
                warnings.simplefilter("always")
                w.emit("to_everyone", 1)
                w.emit("fine", 1, namespace=NSP)
            return [str(g.category.__name__) for g in got]

    def test_defaults(self):
        self.event("hi", 5, ack=1)
        e = self.expect(P.SIO_EMIT)
        self.assertEqual((e["nsp"], e["ev"], e["args"], e["to"]), (NSP, "hello", [5], [self.sid]))
        e = self.expect(P.SIO_EMIT)
        self.assertEqual((e["nsp"], e.get("to"), e["except"]), (NSP, None, [self.sid]))
        j = self.expect(P.SIO_JOIN)
        self.assertEqual((j["nsp"], j["rooms"], j["to"]), (NSP, ["r"], [self.sid]))
        a = self.expect(P.SIO_ACK)
        self.assertEqual(a["args"], [True])

    def test_warning(self):
        self.event("leak", ack=2)
        e = self.expect(P.SIO_EMIT)
        self.assertEqual((e["nsp"], e.get("to")), ("/", None))
        self.assertEqual(self.expect(P.SIO_ACK)["args"], [["BroadcastWarning"]])


class Sessions(WorkerCase):
    def handlers(self, w):
        @w.on("set", namespace=NSP)
        def set_(sid, k, v):
            session[k] = v

        @w.on("nested", namespace=NSP)
        def nested(sid):
            session["l"].append(3)

        @w.on("read", namespace=NSP)
        def read(sid):
            return session.get("k"), w.get_session(sid).get("k")

        @w.on("save_and_ask", namespace=NSP)
        def save_and_ask(sid, v):
            # the round trip lets the next event arrive (with its older
            # copy of the session) before the save leaves
            w.rooms(sid)
            w.save_session(sid, {"k": v})

    def test_stored_before_the_ack(self):
        self.event("set", "k", "v", ack=1, session={"a": 1})
        s = self.expect(P.SIO_SET_SESSION)
        self.assertEqual((s["id"], s["nsp"], s["session"], s.get("merge")),
                         (self.sid, NSP, {"a": 1, "k": "v"}, None))
        self.expect(P.SIO_ACK)
        types = [m["t"] for m in self.gw.seen]
        self.assertLess(types.index(P.SIO_SET_SESSION), types.index(P.SIO_ACK))

    def test_nested_change_and_no_change(self):
        self.event("nested", ack=1, session={"l": [1, 2]})
        self.assertEqual(self.expect(P.SIO_SET_SESSION)["session"], {"l": [1, 2, 3]})
        self.expect(P.SIO_ACK)
        self.event("read", ack=2, session={"k": "x"})
        self.assertEqual(self.expect(P.SIO_ACK)["args"], ["x", "x"])
        self.assertEqual([m["t"] for m in self.gw.seen].count(P.SIO_SET_SESSION), 1,
                         "reading the session stores nothing")

    def test_stale_copy_does_not_overwrite(self):
        self.event("save_and_ask", "new", session={"k": "old"})
        q = self.expect(P.SIO_QUERY)
        self.event("read", ack=3, session={"k": "old"})    # sent before the save
        self.gw.send(P.SIO_RESULT, req=q["req"], result=[])
        self.assertEqual(self.expect(P.SIO_SET_SESSION)["session"], {"k": "new"})
        self.assertEqual(self.expect(P.SIO_ACK)["args"], ["new", "new"])
        self.event("read", ack=4, session={"k": "later"})  # sent after: the gateway's
        self.assertEqual(self.expect(P.SIO_ACK)["args"], ["later", "later"])


class Acks(WorkerCase):
    def handlers(self, w):
        @w.on("ask", namespace=NSP)
        def ask(sid):
            emit("q", callback=lambda *a: emit("got", list(a)),
                 error_callback=lambda e: emit("none", e.reason), timeout=1)

    def test_callback(self):
        self.event("ask")
        e = self.expect(P.SIO_EMIT)
        self.assertEqual((e["to"], e["timeout"]), ([self.sid], 1000))
        self.gw.send(P.SIO_CLIENT_ACK, id=self.sid, nsp=NSP, req=e["req"], args=[1, "b"])
        g = self.expect(P.SIO_EMIT)
        self.assertEqual((g["ev"], g["args"], g["to"], g["nsp"]),
                         ("got", [[1, "b"]], [self.sid], NSP))

    def test_error_callback(self):
        self.event("ask")
        e = self.expect(P.SIO_EMIT)
        self.gw.send(P.SIO_ACK_TIMEOUT, id=self.sid, nsp=NSP, req=e["req"], reason="timeout")
        g = self.expect(P.SIO_EMIT)
        self.assertEqual((g["ev"], g["args"]), ("none", ["timeout"]))


class BadNode(WorkerCase):
    """A clustered gateway's WELCOME with a bad "node": a warning, and the
    link stays registered, as a gateway of no cluster node."""

    def setUp(self):
        self.records = []
        self.logged = threading.Event()
        h = logging.Handler(logging.WARNING)
        h.emit = lambda r: (self.records.append(r.getMessage()), self.logged.set())
        logging.getLogger("siogate").addHandler(h)
        self.addCleanup(logging.getLogger("siogate").removeHandler, h)
        super().setUp()

    def welcome(self, node):
        self.logged.clear()
        self.gw.send(P.WELCOME, gw=self.gw.gw, wid=1, hb=2000, cluster=5000, node=node)

    def still_usable(self):
        self.worker.emit("after", 1, namespace=NSP)
        e = self.expect(P.SIO_EMIT)
        self.assertEqual((e["ev"], e["args"]), ("after", [1]))

    def test_bad_node(self):
        for node in (42, "", ["n1"]):
            self.welcome(node)
            self.assertTrue(self.logged.wait(5), "no warning for node %r" % (node,))
            self.assertIn("WELCOME node", self.records[-1])
            self.assertIn("taken as no node", self.records[-1])
            self.assertIsNone(self.worker.links[0].node)
            self.still_usable()

    def test_good_node(self):
        self.welcome("N1")
        self.still_usable()
        self.assertEqual(self.worker.links[0].node, "N1")
        self.assertEqual([r for r in self.records if "node" in r], [])


if __name__ == "__main__":
    _tap.main()
