"""Pipelined clients against Python workers: the client sends an event and
the next one without waiting for the first ack, as a browser does when a
user acts quickly.  Each event must see the session and rooms changes of
the events of its socket before it (issue 14), over WebSocket and
polling:

* py_flask_worker.py: set_name (siogate.session) or save_name
  (worker.save_session) then whoami, PIPELINED times; join_room then
  whoami (request.rooms), PIPELINED times;
* examples/chat/chat_worker.py: nick, join, message back to back.

The session part holds in the module when the next event was received
before the save; the rest needs the gateway to hold a socket's next event
until the worker returned the credit of the previous one."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.environ.get("TOP_SRCDIR") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import Gateway, Proc, done, ok  # noqa: E402

PIPELINED = 20


def main():
    try:
        import socketio  # noqa: F401
        from engineio import payload
    except ImportError:
        print("1..0 # SKIP python3-socketio is not installed")
        sys.exit(0)
    # python-engineio 4.3 (Debian 12) refuses a polling response of more
    # than 16 packets; pipelining PIPELINED events makes bigger ones.
    payload.Payload.max_decode_packets = 10 * PIPELINED
    from pyclient import Client
    # One gateway each: both workers serve /chat.
    gw = Gateway("--gateway-id", "PyPi", "--bridge-heartbeat", "300")
    gw2 = Gateway("--gateway-id", "PyP2", "--bridge-heartbeat", "300")
    w = Proc([sys.executable, os.path.join(HERE, "py_flask_worker.py"), gw.bridge], "flask")
    chat = Proc([sys.executable, os.path.join(TOP, "examples", "chat", "chat_worker.py"),
                 "-e", gw2.bridge], "chat")
    try:
        ok(w.wait_line(r"registered") is not None and chat.wait_line(r"registered") is not None,
           "the workers register")
        for transport in ("websocket", "polling"):
            flask_app(Client, "http://127.0.0.1:%d" % gw.port, transport)
            chat_app(Client, "http://127.0.0.1:%d" % gw2.port, transport)
    finally:
        w.stop()
        chat.stop()
        gw.stop()
        gw2.stop()
    done()


def flask_app(Client, url, transport):
    t = "[%s] " % transport
    a = Client(url, ("/chat",), transport, auth={"user": "p"}).connect()
    try:
        keys = []
        for i in range(PIPELINED):
            a.emit_ack(("set", i), "set_name" if i % 2 == 0 else "save_name", "n%d" % i,
                       ns="/chat")
            a.emit_ack(("who", i), "whoami", ns="/chat")
            keys += [("set", i), ("who", i)]
        acks = a.wait_acks(keys, timeout=15)
        good = sum(1 for i in range(PIPELINED)
                   if (acks.get(("who", i)) or {}).get("name") == "n%d" % i)
        ok(good == PIPELINED, t + "set_name/save_session then whoami without waiting: "
           "%d of %d see the new name" % (good, PIPELINED))
        keys = []
        for i in range(PIPELINED):
            a.emit_ack(("join", i), "join", "r%d" % i, ns="/chat")
            a.emit_ack(("rooms", i), "whoami", ns="/chat")
            keys += [("join", i), ("rooms", i)]
        acks = a.wait_acks(keys, timeout=15)
        good = sum(1 for i in range(PIPELINED)
                   if "r%d" % i in (acks.get(("rooms", i)) or {}).get("rooms", []))
        ok(good == PIPELINED, t + "join_room then whoami without waiting: %d of %d see the "
           "room in request.rooms" % (good, PIPELINED))
    finally:
        a.close()


def chat_app(Client, url, transport):
    t = "[%s] " % transport
    a = Client(url, ("/chat",), transport).connect()
    try:
        keys = []
        for i in range(PIPELINED):
            a.emit_ack(("nick", i), "nick", "user%d" % i, ns="/chat")
            a.emit_ack(("join", i), "join", "room%d" % i, ns="/chat")
            a.emit_ack(("msg", i), "message", {"room": "room%d" % i, "text": "hi"}, ns="/chat")
            keys += [("nick", i), ("join", i), ("msg", i)]
        acks = a.wait_acks(keys, timeout=20)
        bad = [(k, acks.get(k)) for k in keys if not (acks.get(k) or {}).get("ok")]
        ok(not bad, t + "chat example: nick, join, message back to back, %d times: every "
           "ack ok (%d not: %r)" % (PIPELINED, len(bad), bad[:3]))
    finally:
        a.close()


if __name__ == "__main__":
    main()
