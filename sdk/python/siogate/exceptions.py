"""Exceptions raised or passed, and warnings given, by the siogate Python
module."""
import builtins


class SiogateError(Exception):
    """Base class of every exception of this module."""


class ConnectionRefusedError(SiogateError, builtins.ConnectionRefusedError):
    """Raise it in a ``connect`` handler to refuse the connection.

    The client receives a Socket.IO CONNECT_ERROR packet whose data depends on
    the arguments, as with python-socketio:

    * no argument: the gateway's default, ``{"message": "Not authorized"}``;
    * one dict: that dict, as is (``{"message": "bad token", "code": 7}``);
    * one other value: ``{"message": str(value)}``;
    * several arguments: the list of them.

    (A JavaScript client reads ``err.message`` and ``err.data``; the
    python-socketio client passes the data to its ``connect_error`` handler
    and raises ``socketio.exceptions.ConnectionError`` from ``connect()``.)
    """

    def __init__(self, *args):
        """See the class docstring."""
        super().__init__(*args)
        if not args:
            self.error_data = None
        elif len(args) == 1:
            a = args[0]
            self.error_data = a if isinstance(a, dict) else {"message": str(a)}
        else:
            self.error_data = list(args)


class AckTimeout(SiogateError, TimeoutError):
    """The client did not acknowledge an emit in time.

    Raised by :meth:`siogate.Worker.call` and :func:`siogate.call` (it is a
    ``TimeoutError``, as python-socketio's ``call()`` raises), and passed to
    the ``error_callback`` of an emit with an ack callback; the ``callback``
    itself is then never called (as in python-socketio, whose emit
    callbacks are not called when no ack comes).  ``reason`` is the
    gateway's reason:
    ``"timeout"`` (no answer within the timeout), ``"disconnected"`` (the
    socket went away first, or was already gone), or ``"lost"`` (no word from
    the gateway at all: it died, restarted, or refused the emit)."""

    def __init__(self, reason="timeout"):
        """See the class docstring."""
        super().__init__("no acknowledgement from the client (%s)" % reason)
        self.reason = reason


class GatewayError(SiogateError):
    """The gateway refused something with an ERROR message.

    ``code`` is the protocol's error code (see ``siogate-protocol(7)``),
    ``name`` its name (``"UNKNOWN_SID"``), ``text`` the gateway's explanation,
    ``ref`` the type of the refused message, ``sid`` the socket concerned."""

    def __init__(self, msg):
        """See the class docstring."""
        from .protocol import ERROR_NAMES
        self.code = msg.get("code")
        self.name = ERROR_NAMES.get(self.code, "?")
        self.text = msg.get("text", "")
        self.ref = msg.get("ref")
        self.sid = msg.get("sid")
        super().__init__("gateway ERROR %s %s: %s (ref %s%s)" % (
            self.code, self.name, self.text, self.ref,
            ", sid %s" % self.sid if self.sid else ""))


class GatewayUnavailable(SiogateError, TimeoutError):
    """No gateway answered (no WELCOME, or no result) within the deadline."""


class NotRunning(SiogateError, RuntimeError):
    """A round trip was asked of a Worker from another thread while its
    :meth:`~siogate.Worker.run` loop is not running."""


class BroadcastWarning(UserWarning):
    """``worker.emit``/``worker.send`` inside a Socket.IO handler without
    ``to``, ``room``, ``namespace`` or ``broadcast=True``: that goes to every
    socket of ``"/"``, where Flask-SocketIO's ``emit`` would answer the
    sender.  Use :func:`siogate.emit` to answer the sender, or say
    ``broadcast=True``.  ``warnings.simplefilter("error",
    siogate.BroadcastWarning)`` makes it an exception."""
