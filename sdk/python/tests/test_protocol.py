"""Unit tests of siogate.protocol (pure helpers, no I/O) and of the
context functions outside handlers.  Run: python3 test_protocol.py (TAP)."""
import unittest
import warnings

import siogate
from siogate import protocol as P

import _tap


class Targets(unittest.TestCase):
    def test_targets(self):
        self.assertEqual(P.targets(None), [])
        self.assertEqual(P.targets("a"), ["a"])
        self.assertEqual(P.targets(["a", "b", "a"]), ["a", "b"])
        self.assertEqual(P.targets(("x",)), ["x"])
        with self.assertRaises(TypeError):
            P.targets(["a", 1])

    def test_args_of(self):
        self.assertEqual(P.args_of(None), [])
        self.assertEqual(P.args_of((1, "b")), [1, "b"])
        self.assertEqual(P.args_of([1, 2]), [[1, 2]])
        self.assertEqual(P.args_of({"k": 1}), [{"k": 1}])


class Namespaces(unittest.TestCase):
    def test_match(self):
        self.assertTrue(P.nsp_match("/chat", "/chat"))
        self.assertFalse(P.nsp_match("/chat", "/chat2"))
        self.assertTrue(P.nsp_match("/room-*", "/room-7"))
        self.assertTrue(P.nsp_match("*", "/anything"))

    def test_overlap(self):
        self.assertTrue(P.nsp_overlap("/a*", "/ab*"))
        self.assertTrue(P.nsp_overlap("/a*", "/abc"))
        self.assertFalse(P.nsp_overlap("/a", "/b*"))

    def test_check(self):
        self.assertEqual(P.check_nsp("/x"), "/x")
        for bad in ("x", "", None, 3):
            with self.assertRaises(ValueError):
                P.check_nsp(bad)


class Codec(unittest.TestCase):
    def test_pack_unpack(self):
        m = P.unpack(P.pack(t=P.SIO_EMIT, nsp="/", ev="e", args=[b"\x00", "s", 1]))
        self.assertEqual((m["v"], m["t"], m["args"]), (P.VERSION, P.SIO_EMIT, [b"\x00", "s", 1]))
        with self.assertRaises(TypeError):
            P.pack(t=P.SIO_EMIT, args=[object()])
        for bad in (b"\xc1", P.pack(t=1)[:-1], b"\x93\x01\x02\x03"):
            with self.assertRaises(ValueError):
                P.unpack(bad)

    def test_environ(self):
        env = P.environ_from_hs({"addr": "[::1]:4567", "headers": {"user-agent": "ua",
                                 "content-type": "x"}, "query": {"a": "1"},
                                 "url": "/socket.io/?EIO=4&a=1", "transport": "polling"})
        self.assertEqual(env["REMOTE_ADDR"], "::1")
        self.assertEqual(env["REMOTE_PORT"], "4567")
        self.assertEqual(env["HTTP_USER_AGENT"], "ua")
        self.assertEqual(env["CONTENT_TYPE"], "x")
        self.assertEqual(env["QUERY_STRING"], "EIO=4&a=1")
        self.assertEqual(env["siogate.transport"], "polling")
        self.assertEqual(P.environ_from_hs(None)["PATH_INFO"], "/socket.io/")


class OutsideHandlers(unittest.TestCase):
    """The context functions need the event being handled."""

    def test_context_functions_raise(self):
        calls = [(siogate.emit, ("e",)), (siogate.send, ("m",)), (siogate.call, ("e",)),
                 (siogate.join_room, ("r",)), (siogate.leave_room, ("r",)),
                 (siogate.close_room, ("r",)), (siogate.rooms, ()),
                 (siogate.disconnect, ())]
        for fn, args in calls:
            with self.assertRaisesRegex(RuntimeError, "not an event handler"):
                fn(*args)
        with self.assertRaises(RuntimeError):
            siogate.session["x"] = 1
        with self.assertRaises(RuntimeError):
            siogate.request.sid
        self.assertFalse(siogate.request)
        self.assertIn("outside", repr(siogate.session))

    def test_no_warning_outside_handlers(self):
        w = siogate.Worker("ipc:///nonexistent/siogate-unit")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            w.emit("news", 1)       # queued for run(): a broadcast, no warning


class Exceptions(unittest.TestCase):
    def test_ack_timeout(self):
        e = siogate.AckTimeout("disconnected")
        self.assertIsInstance(e, TimeoutError)
        self.assertEqual(e.reason, "disconnected")

    def test_refused_data(self):
        self.assertIsNone(siogate.ConnectionRefusedError().error_data)
        self.assertEqual(siogate.ConnectionRefusedError("no").error_data, {"message": "no"})
        self.assertEqual(siogate.ConnectionRefusedError({"a": 1}).error_data, {"a": 1})
        self.assertEqual(siogate.ConnectionRefusedError("a", 2).error_data, ["a", 2])

    def test_broadcast_warning(self):
        self.assertTrue(issubclass(siogate.BroadcastWarning, UserWarning))


if __name__ == "__main__":
    _tap.main()
