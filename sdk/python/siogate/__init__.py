"""siogate: Python workers and emitters for the siogate Socket.IO gateway.

The gateway (``siogate(8)``) owns every client connection; this module runs
your event handlers in a separate process and talks to the gateway over
ZeroMQ with msgpack (the bridge protocol, ``siogate-protocol(7)``).  The API
follows Flask-SocketIO (context functions that answer the sender) and
python-socketio's ``Server`` (explicit ``to=`` and ``namespace=``)::

    import siogate
    from siogate import emit, join_room, request, session

    worker = siogate.Worker()             # $SIOGATE_ENDPOINT or tcp://127.0.0.1:5555

    @worker.event
    def connect(sid, environ, auth):
        session["user"] = (auth or {}).get("user")      # stored for you

    @worker.on("join")
    def on_join(sid, room):
        join_room(room)
        emit("joined", room)                          # to the sender only
        emit("notice", session.get("user"), to=room)  # to the room
        return "ok"                                   # the client's ack

    worker.emit("news", 1, namespace="/")             # anywhere: to all of /

    worker.run()

and from any other process::

    siogate.Emitter().emit("news", {"x": 1}, namespace="/dcenter")

Requires pyzmq and msgpack (Debian: python3-zmq, python3-msgpack).
"""
from .context import (EventContext, call, close_room, current_event, disconnect, emit,
                      join_room, leave_room, request, rooms, send, session)
from .emitter import Emitter
from .exceptions import (AckTimeout, BroadcastWarning, ConnectionRefusedError,
                         GatewayError, GatewayUnavailable, NotRunning, SiogateError)
from .namespace import Namespace
from .worker import Worker

__version__ = "0.2.0"

__all__ = [
    "Worker", "Emitter", "Namespace", "EventContext", "current_event", "request",
    "session", "emit", "send", "call", "join_room", "leave_room", "close_room", "rooms",
    "disconnect", "SiogateError", "ConnectionRefusedError", "AckTimeout", "GatewayError",
    "GatewayUnavailable", "NotRunning", "BroadcastWarning",
]
