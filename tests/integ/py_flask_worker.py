#!/usr/bin/python3
"""py_flask_worker.py ENDPOINT: a worker written the Flask-SocketIO way,
with the siogate context functions (emit, send, call, join_room,
leave_room, close_room, rooms, disconnect, request, session), for
py_flask.test.py and py_pipeline.test.py.

Namespace "/chat" holds the handlers; "/" only exists so that a client can
be connected to both and see where emits land.  It logs "registered" on
stderr once the gateway accepted it."""
import logging
import sys
import threading
import warnings

import siogate
from siogate import (call, close_room, disconnect, emit, join_room, leave_room, request,
                     rooms, send, session)

NSP = "/chat"
worker = siogate.Worker(sys.argv[1], name="flask", heartbeat=300)


@worker.on("connect", namespace=NSP)
def on_connect(sid, environ, auth):
    auth = auth or {}
    if auth.get("refuse"):
        disconnect()                    # in connect: refuses the connection
        return
    session["user"] = auth.get("user")
    session["n"] = 0
    session["list"] = []
    join_room("lobby")
    emit("welcome", {"sid": request.sid, "ns": request.namespace})


@worker.on("connect")
def on_connect_root(sid, environ, auth):
    pass


@worker.on("ping_me", namespace=NSP)
def ping_me(sid, x):
    emit("pong", x)                     # the sender, in /chat


@worker.on("two_args", namespace=NSP)
def two_args(sid):
    emit("pair", "a", 2)                # several arguments


@worker.on("shout", namespace=NSP)
def shout(sid, text, include_self=True):
    emit("shouted", text, broadcast=True, include_self=include_self)


@worker.on("to_room", namespace=NSP)
def to_room(sid, room, text):
    emit("room_msg", text, to=room)


def room_handler(act):
    """join, leave, close: do act(room), answer the rooms the socket is in."""

    def handler(sid, room):
        act(room)
        return rooms()

    return handler


for ev, act in (("join", join_room), ("leave", leave_room), ("close", close_room)):
    worker.on(ev, namespace=NSP)(room_handler(act))


@worker.on("set_name", namespace=NSP)
def set_name(sid, name):
    session["name"] = name
    return "ok"


@worker.on("save_name", namespace=NSP)
def save_name(sid, name):
    # The python-socketio way: a whole new dict, stored at once.
    worker.save_session(sid, dict(worker.get_session(sid), name=name, saved=True))
    return "ok"


@worker.on("bump", namespace=NSP)
def bump(sid):
    session["n"] += 1
    return session["n"]


@worker.on("push", namespace=NSP)
def push(sid, x):
    session["list"].append(x)           # a nested change: stored too
    return len(session["list"])


@worker.on("whoami", namespace=NSP)
def whoami(sid):
    return {"sid": request.sid, "ns": request.namespace, "name": session.get("name"),
            "session": dict(session), "get_session": worker.get_session(sid),
            "rooms": sorted(request.rooms), "event": request.event["message"]}


@worker.on("kick", namespace=NSP)
def kick(sid):
    disconnect()


@worker.on("send_me", namespace=NSP)
def send_me(sid, text):
    send(text)


@worker.on("ask", namespace=NSP)
def ask(sid, x, timeout=5):
    def answer(*args):
        # runs as a handler of the socket asked: emit() answers it
        emit("answer", ["ack", request.sid == sid] + list(args))

    def no_answer(e):
        emit("answer", ["timeout", e.reason])
    emit("question", x, callback=answer, error_callback=no_answer, timeout=timeout)


@worker.on("call_me", namespace=NSP)
def call_me(sid, x):
    try:
        return ["ok", call("question", x, timeout=3)]
    except siogate.AckTimeout as e:
        return ["timeout", e.reason, isinstance(e, TimeoutError)]


@worker.on("misuse", namespace=NSP)
def misuse(sid):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        worker.emit("leak", 1)                              # warns
        worker.emit("fine", 1, to=sid, namespace=NSP)       # does not
        worker.emit("fine", 2, namespace=NSP)               # does not
        worker.send("fine", broadcast=True)                 # does not
    return [w.category.__name__ for w in seen]


@worker.on("outside", namespace=NSP)
def outside(sid):
    def task():
        for fn, args in ((siogate.emit, ("x",)), (siogate.join_room, ("r",)),
                         (session.get, ("name",))):
            try:
                fn(*args)
                what = "no error"
            except RuntimeError as e:
                what = str(e)
            worker.emit("outside_error", what, to=sid, namespace=NSP)
    threading.Thread(target=task, daemon=True).start()


@worker.on_error(NSP)
def on_error(e):
    logging.getLogger("flask").exception("handler failed")
    return {"error": repr(e)}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="py_flask_worker: %(message)s")
    worker.run()
