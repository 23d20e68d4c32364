"""A Flask-SocketIO style worker (tests/integ/py_flask_worker.py: the
siogate context functions emit, send, call, join_room, leave_room,
close_room, rooms, disconnect, request and session) against the real
gateway, driven by Debian's python3-socketio client over WebSocket and
polling: emit in a handler answers the sender in its namespace,
broadcast=True reaches everyone, include_self, rooms, disconnect(), the
session stored for you (nested changes too), save_session() not
overwritten,
callbacks and call(), ack timeouts through error_callback, the
BroadcastWarning of worker.emit in a handler, and the RuntimeError of a
context function outside a handler.  Clients that do not wait for acks
(pipelining) are in py_pipeline.test.py."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.environ.get("TOP_SRCDIR") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import Gateway, Proc, done, ok  # noqa: E402

NSP = "/chat"


def main():
    try:
        import socketio  # noqa: F401
    except ImportError:
        print("1..0 # SKIP python3-socketio is not installed")
        sys.exit(0)
    from pyclient import Client
    gw = Gateway("--gateway-id", "PyFl", "--bridge-heartbeat", "300")
    w = Proc([sys.executable, os.path.join(HERE, "py_flask_worker.py"), gw.bridge], "worker")
    try:
        ok(w.wait_line(r"registered") is not None, "the Flask-style worker registers")
        url = "http://127.0.0.1:%d" % gw.port
        for transport in ("websocket", "polling"):
            run(Client, url, transport)
        outside_and_misuse(Client, url)
    finally:
        w.stop()
        gw.stop()
    done()


def run(Client, url, transport):
    t = "[%s] " % transport
    a = Client(url, ("/", NSP), transport, auth={"user": "ann"}).connect()
    b = Client(url, ("/", NSP), transport, auth={"user": "bob"}).connect()
    try:
        sa = a.sid(NSP)
        ok(a.wait("welcome", NSP) == ({"sid": sa, "ns": NSP},),
           t + "emit() in connect reaches the connecting socket, request.sid/namespace right")

        a.c.emit("ping_me", 7, namespace=NSP)
        ok(a.wait("pong", NSP) == (7,), t + "emit() in a handler answers the sender")
        ok(b.wait("pong", NSP, timeout=0.3) is None and a.count("pong", "/") == 0,
           t + "... and nobody else, and not in '/'")
        a.c.emit("two_args", namespace=NSP)
        ok(a.wait("pair", NSP) == ("a", 2), t + "emit(event, a, b) sends two arguments")

        a.c.emit("shout", "hi", namespace=NSP)
        ok(a.wait("shouted", NSP) == ("hi",) and b.wait("shouted", NSP) == ("hi",),
           t + "emit(broadcast=True) reaches every socket of the namespace")
        a.c.emit("shout", ("quiet", False), namespace=NSP)
        a.c.emit("shout", "again", namespace=NSP)
        ok(b.wait("shouted", NSP) == ("quiet",) and a.wait("shouted", NSP) == ("again",),
           t + "broadcast=True, include_self=False leaves the sender out")
        b.wait("shouted", NSP)

        r = a.call("join", "r1", ns=NSP)
        ok(r and r[0] == sa and sorted(r[1:]) == ["lobby", "r1"],
           t + "join_room() then rooms(): own id first, lobby (joined in connect), r1 (%r)"
           % (r,))
        a.c.emit("to_room", ("r1", "in r1"), namespace=NSP)
        ok(a.wait("room_msg", NSP) == ("in r1",) and b.wait("room_msg", NSP, 0.3) is None,
           t + "emit(to=room) reaches the room only")
        ok(a.call("leave", "r1", ns=NSP) == [sa, "lobby"], t + "leave_room() then rooms()")
        ok(a.call("close", "lobby", ns=NSP) == [sa], t + "close_room() empties the room")

        ok(a.call("bump", ns=NSP) == 1 and a.call("bump", ns=NSP) == 2,
           t + "session['n'] += 1 is stored for you between events")
        ok(a.call("push", "x", ns=NSP) == 1 and a.call("push", "y", ns=NSP) == 2,
           t + "a nested change (session['list'].append) is stored too")
        me = a.call("whoami", ns=NSP)
        ok(me["session"] == {"user": "ann", "n": 2, "list": ["x", "y"]} and
           me["get_session"] == me["session"] and me["event"] == "whoami",
           t + "session from connect + changes; worker.get_session agrees (%r)" % (me,))

        ok(a.call("save_name", "saved", ns=NSP) == "ok" and
           a.call("set_name", "then set", ns=NSP) == "ok", t + "save_session(), then session[]")
        me = a.call("whoami", ns=NSP)
        ok(me["name"] == "then set" and me["session"].get("saved") is True and
           me["get_session"] == me["session"],
           t + "what save_session() stored stays, with the later change on top (%r)" % (me,))

        a.c.emit("send_me", "sent", namespace=NSP)
        ok(a.wait("message", NSP) == ("sent",), t + "send() answers the sender with 'message'")

        a.c.emit("ask", 21, namespace=NSP)
        ok(a.wait("question", NSP) == (21,) and
           a.wait("answer", NSP) == (["ack", True, 42, "twice"],),
           t + "emit(callback=): the callback runs as a handler of the sender (emit, request)")
        ok(a.call("call_me", 5, ns=NSP) == ["ok", [10, "twice"]],
           t + "call() asks the sender and returns its ack")

        slow = Client(url, (NSP,), transport, auth={"user": "slow"}, delay=1.0).connect()
        try:
            slow.c.emit("ask", (1, 0.3), namespace=NSP)
            ok(slow.wait("answer", NSP) == (["timeout", "timeout"],),
               t + "no ack in time: error_callback(AckTimeout), callback not called")
        finally:
            slow.close()

        a.c.emit("kick", namespace=NSP)
        ok(a.wait("disconnect", NSP) is not None and a.c.connected,
           t + "disconnect() drops the sender's namespace, not its connection")
        try:
            Client(url, (NSP,), transport, auth={"refuse": True}).connect(wait=1)
            refused = False
        except Exception:
            refused = True
        ok(refused, t + "disconnect() in connect refuses the connection")
    finally:
        a.close()
        b.close()


def outside_and_misuse(Client, url):
    a = Client(url, (NSP,), auth={"user": "m"}).connect()
    b = Client(url, ("/",), auth={}).connect()
    try:
        ok(a.call("misuse", ns=NSP) == ["BroadcastWarning"],
           "worker.emit in a handler without to/namespace/broadcast warns "
           "(BroadcastWarning), explicit ones do not")
        ok(b.wait("leak", "/") == (1,), "... and still broadcasts to '/' (python-socketio's rule)")
        a.c.emit("outside", namespace=NSP)
        errs = [a.wait("outside_error", NSP) for _ in range(3)]
        ok(all(e and "not an event handler" in e[0] for e in errs),
           "context functions outside a handler raise RuntimeError saying what to use (%r)"
           % (errs,))
    finally:
        a.close()
        b.close()


if __name__ == "__main__":
    main()
