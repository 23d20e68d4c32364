"""siogate: Python workers and emitters for the siogate Socket.IO gateway.

The gateway (``siogate(8)``) owns every client connection; this module runs
your event handlers in a separate process and talks to the gateway over
ZeroMQ with msgpack (the bridge protocol, ``siogate-protocol(7)``).  The API
follows python-socketio's ``Server`` and Flask-SocketIO::

    import siogate

    worker = siogate.Worker()             # $SIOGATE_ENDPOINT or tcp://127.0.0.1:5555

    @worker.event
    def connect(sid, environ, auth):
        print("connect", sid, environ["REMOTE_ADDR"])

    @worker.on("my event")
    def my_event(sid, data):
        worker.emit("my response", data, to=sid)
        return "ok"                        # the ack, when the client asked for one

    worker.run()

and from any other process::

    siogate.Emitter().emit("news", {"x": 1}, namespace="/dcenter")

Requires pyzmq and msgpack (Debian: python3-zmq, python3-msgpack).
"""
from .context import EventContext, current_event, request
from .emitter import Emitter
from .exceptions import (AckTimeout, ConnectionRefusedError, GatewayError,
                         GatewayUnavailable, NotRunning, SiogateError)
from .namespace import Namespace
from .worker import Worker

__version__ = "0.1.0"

__all__ = [
    "Worker", "Emitter", "Namespace", "EventContext", "current_event", "request",
    "SiogateError", "ConnectionRefusedError", "AckTimeout", "GatewayError",
    "GatewayUnavailable", "NotRunning",
]
