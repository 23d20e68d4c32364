"""The event being handled: :func:`current_event` and the Flask-like
:data:`request` proxy."""
import threading

_local = threading.local()


class EventContext:
    """What a handler is handling; see :func:`current_event`.

    Attributes:

    ``sid``
        The socket id (``socket.id`` on the client), or the Engine.IO sid for
        raw Engine.IO handlers.
    ``namespace``
        The namespace (``None`` for raw Engine.IO handlers).
    ``name``
        The event name: ``"connect"``, ``"disconnect"``, ``"my event"``, or
        ``"eio_open"``/``"eio_message"``/``"eio_close"``.
    ``args``
        The event's arguments as a tuple (without the sid).
    ``seq``
        The gateway's per-socket sequence number of this message (0 for the
        connect, then one more for every message of that socket).
    ``ack``
        True when the client asked for an acknowledgement.
    ``session``
        The socket's session data as the gateway sent it with the event.
    ``rooms``
        The rooms the socket was in when the gateway sent the event (without
        its own id room).
    ``environ``, ``auth``
        For ``connect`` only (``None`` otherwise); see
        :meth:`siogate.Worker.get_environ` for later events.
    ``redelivered``
        True when the gateway sends the event again because the worker that
        had it was lost before returning its credit: that worker may have
        handled it already (at-least-once delivery), so make such handlers
        idempotent.
    ``gateway``
        The id of the gateway the event came from.
    ``event``
        Flask-SocketIO's ``request.event``: ``{"message": name, "args": args}``.
    """

    __slots__ = ("sid", "namespace", "name", "args", "seq", "ack", "session",
                 "rooms", "environ", "auth", "gateway", "redelivered", "_capture")

    def __init__(self, sid, namespace, name, args=(), seq=None, ack=False,
                 session=None, rooms=None, environ=None, auth=None, gateway=None):
        """See the class docstring."""
        self.sid = sid
        self.namespace = namespace
        self.name = name
        self.args = tuple(args)
        self.seq = seq
        self.ack = ack
        self.session = session
        self.rooms = rooms
        self.environ = environ
        self.auth = auth
        self.gateway = gateway
        self.redelivered = False
        self._capture = None

    @property
    def event(self):
        """``{"message": name, "args": args}``, as Flask-SocketIO's
        ``request.event``."""
        return {"message": self.name, "args": self.args}

    def __repr__(self):
        """For logs."""
        return "<EventContext %s %s %r%s>" % (self.namespace, self.sid, self.name,
                                             self.args)


def current_event():
    """The :class:`EventContext` of the event this thread is handling, or
    None outside a handler.  Error handlers use it to learn which event
    failed::

        @worker.on_error_default
        def oops(e):
            ev = siogate.current_event()
            log.error("%s(%r) from %s failed: %s", ev.name, ev.args, ev.sid, e)
    """
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


def _push(ctx):
    """Enter a handler: ctx becomes current_event() for this thread."""
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(ctx)


def _pop():
    """Leave a handler."""
    _local.stack.pop()


class _RequestProxy:
    """Flask-SocketIO's ``request`` for siogate handlers: ``request.sid``,
    ``request.namespace``, ``request.event`` (``{"message", "args"}``) and
    every other :class:`EventContext` attribute, for the event being handled
    by this thread.  Raises RuntimeError outside a handler."""

    def __getattr__(self, name):
        """The attribute of the current EventContext."""
        ctx = current_event()
        if ctx is None:
            raise RuntimeError("siogate.request used outside an event handler")
        return getattr(ctx, name)

    def __bool__(self):
        """True inside a handler."""
        return current_event() is not None

    def __repr__(self):
        """For logs."""
        return "<siogate.request %r>" % (current_event(),)


#: See :class:`_RequestProxy`.
request = _RequestProxy()
