"""The event being handled: :func:`current_event`, the Flask-like
:data:`request` and :data:`session` proxies, and the Flask-SocketIO style
functions (:func:`emit`, :func:`send`, :func:`call`, :func:`join_room`,
:func:`leave_room`, :func:`close_room`, :func:`rooms`, :func:`disconnect`)
that default to the socket and namespace of that event."""
from __future__ import annotations

import threading
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence, Union

if TYPE_CHECKING:  # pragma: no cover
    from .worker import Worker

#: A socket id or room name, or several.
Targets = Union[str, Sequence[str], None]

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
        The event name: ``"connect"``, ``"disconnect"``, ``"my event"``,
        ``"ack"`` (an emit callback), or
        ``"eio_open"``/``"eio_message"``/``"eio_close"``.
    ``args``
        The event's arguments as a tuple (without the sid).
    ``seq``
        The gateway's per-socket sequence number of this message (0 for the
        connect, then one more for every message of that socket).
    ``ack``
        True when the client asked for an acknowledgement.
    ``session``
        The socket's session data as it was when the event was sent: the
        gateway's copy, or this worker's when it stored a newer one since.
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
    ``worker``
        The :class:`siogate.Worker` running the handler.
    ``event``
        Flask-SocketIO's ``request.event``: ``{"message": name, "args": args}``.
    """

    __slots__ = ("sid", "namespace", "name", "args", "seq", "ack", "session",
                 "rooms", "environ", "auth", "gateway", "redelivered", "worker",
                 "_capture", "_session_used")

    def __init__(self, sid: str, namespace: Optional[str], name: str, args: Sequence = (),
                 seq: Optional[int] = None, ack: bool = False,
                 session: Optional[dict] = None, rooms: Optional[list] = None,
                 environ: Optional[dict] = None, auth: Any = None,
                 gateway: Optional[str] = None, worker: Optional["Worker"] = None):
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
        self.worker = worker
        self._capture = None
        self._session_used = False  # the handler looked at its own session

    @property
    def event(self) -> dict:
        """``{"message": name, "args": args}``, as Flask-SocketIO's
        ``request.event``."""
        return {"message": self.name, "args": self.args}

    def __repr__(self) -> str:
        """For logs."""
        return "<EventContext %s %s %r%s>" % (self.namespace, self.sid, self.name,
                                             self.args)


def current_event() -> Optional[EventContext]:
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


def _push(ctx: EventContext) -> None:
    """Enter a handler: ctx becomes current_event() for this thread."""
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(ctx)


def _pop() -> None:
    """Leave a handler."""
    _local.stack.pop()


def _need(what: str) -> EventContext:
    """The context of the Socket.IO handler being run, or RuntimeError
    saying how to do ``what`` outside one."""
    ctx = current_event()
    if ctx is None:
        raise RuntimeError(
            "siogate.%s() needs the socket of the event being handled, and this is not "
            "an event handler (a background thread, or code outside the worker): use "
            "the Worker method with an explicit sid and namespace instead, e.g. "
            "worker.emit(event, data, to=sid, namespace=ns)" % what)
    if ctx.namespace is None or ctx.worker is None:
        raise RuntimeError("siogate.%s() works in Socket.IO handlers, not in raw "
                           "Engine.IO handlers (%s)" % (what, ctx.name))
    return ctx


class _RequestProxy:
    """Flask-SocketIO's ``request`` for siogate handlers: ``request.sid``,
    ``request.namespace``, ``request.event`` (``{"message", "args"}``) and
    every other :class:`EventContext` attribute, for the event being handled
    by this thread.  Raises RuntimeError outside a handler."""

    def __getattr__(self, name: str) -> Any:
        """The attribute of the current EventContext."""
        ctx = current_event()
        if ctx is None:
            raise RuntimeError("siogate.request used outside an event handler")
        return getattr(ctx, name)

    def __bool__(self) -> bool:
        """True inside a handler."""
        return current_event() is not None

    def __repr__(self) -> str:
        """For logs."""
        return "<siogate.request %r>" % (current_event(),)


#: See :class:`_RequestProxy`.
request = _RequestProxy()


class _SessionProxy(MutableMapping):
    """Flask-SocketIO's ``session`` for siogate handlers: the session dict
    of the socket whose event is being handled (``request.sid`` in
    ``request.namespace``), stored in the gateway for you when the handler
    returns, if it changed (nested changes too: the whole dict is compared).
    Raises RuntimeError outside a Socket.IO handler."""

    @staticmethod
    def _dict() -> dict:
        """The current socket's session dict, marked as used."""
        ctx = _need("session")
        d = ctx.worker._own_session(ctx)
        ctx._session_used = True
        return d

    def __getitem__(self, key: str) -> Any:
        """``session[key]``."""
        return self._dict()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        """``session[key] = value``."""
        self._dict()[key] = value

    def __delitem__(self, key: str) -> None:
        """``del session[key]``."""
        del self._dict()[key]

    def __iter__(self) -> Iterator[str]:
        """The keys."""
        return iter(list(self._dict()))

    def __len__(self) -> int:
        """How many keys."""
        return len(self._dict())

    def __contains__(self, key: object) -> bool:
        """``key in session``."""
        return key in self._dict()

    def __bool__(self) -> bool:
        """True when the session has keys (as a dict)."""
        return bool(self._dict())

    def copy(self) -> dict:
        """A plain dict copy (shallow)."""
        return dict(self._dict())

    def __repr__(self) -> str:
        """For logs; does not raise outside handlers."""
        ctx = current_event()
        if ctx is None or ctx.worker is None or ctx.namespace is None:
            return "<siogate.session (outside a handler)>"
        return "<siogate.session %s %r>" % (ctx.sid, self._dict())


#: See :class:`_SessionProxy`.
session = _SessionProxy()


def emit(event: str, *args: Any, to: Targets = None, room: Targets = None,
         broadcast: bool = False, include_self: bool = True, skip_sid: Targets = None,
         namespace: Optional[str] = None, callback: Optional[Callable[..., Any]] = None,
         error_callback: Optional[Callable[[BaseException], Any]] = None,
         timeout: float = 10) -> None:
    """Emit an event from a handler, as Flask-SocketIO's ``emit``: to the
    socket whose event is being handled, in its namespace, unless told
    otherwise.

    :param event: the event name.
    :param args: the data: nothing, one value (a tuple spreads into several
        arguments, as in python-socketio), or several values.
    :param to: a socket id, a room, or a list of them instead of the sender
        (``room`` is the same).
    :param broadcast: True: every socket of the namespace (or of ``to``).
    :param include_self: False leaves the sender out (with ``broadcast`` or
        ``to``).
    :param skip_sid: socket ids or rooms to leave out.
    :param namespace: default: the namespace of the event being handled.
    :param callback: ``callback(*args)`` gets the client's ack; only with
        one target socket (the default, or ``to=sid``).  Runs as a handler
        of that socket: :data:`request` and the context functions work in it.
    :param error_callback: ``error_callback(exc)`` gets a
        :class:`siogate.AckTimeout` when no ack comes within ``timeout``
        seconds (then ``callback`` is never called).
    :param timeout: seconds to wait for the ack.

    Raises RuntimeError outside an event handler (use
    :meth:`siogate.Worker.emit` there).
    """
    ctx = _need("emit")
    targets = to if to is not None else room
    if targets is None and not broadcast:
        targets = ctx.sid
    ctx.worker.emit(event, _data(args), to=targets, skip_sid=skip_sid,
                    namespace=namespace or ctx.namespace, callback=callback,
                    error_callback=error_callback, timeout=timeout,
                    include_self=include_self, broadcast=True)


def send(message: Any, json: bool = False, to: Targets = None, room: Targets = None,
         broadcast: bool = False, include_self: bool = True, skip_sid: Targets = None,
         namespace: Optional[str] = None, callback: Optional[Callable[..., Any]] = None,
         error_callback: Optional[Callable[[BaseException], Any]] = None,
         timeout: float = 10) -> None:
    """Flask-SocketIO's ``send``: :func:`emit` of the event ``"message"``
    (``"json"`` with ``json=True``, as Flask-SocketIO names it)."""
    emit("json" if json else "message", message, to=to, room=room, broadcast=broadcast,
         include_self=include_self, skip_sid=skip_sid, namespace=namespace,
         callback=callback, error_callback=error_callback, timeout=timeout)


def call(event: str, *args: Any, to: Optional[str] = None, namespace: Optional[str] = None,
         timeout: float = 60) -> Any:
    """Flask-SocketIO's ``call``: emit to one socket (default: the sender)
    and wait for its ack; returns None, the value, or a tuple of values.
    Raises :class:`siogate.AckTimeout` (a ``TimeoutError``) when none comes
    within ``timeout`` seconds or the socket goes away."""
    ctx = _need("call")
    return ctx.worker.call(event, _data(args), to=to or ctx.sid,
                           namespace=namespace or ctx.namespace, timeout=timeout)


def join_room(room: Union[str, Sequence[str]], sid: Optional[str] = None,
              namespace: Optional[str] = None) -> None:
    """Put the sender (or ``sid``) in ``room`` (a name or a list), in the
    event's namespace.  Events of the socket that the gateway sends after
    this see the room."""
    ctx = _need("join_room")
    ctx.worker.enter_room(sid or ctx.sid, room, namespace=namespace or ctx.namespace)


def leave_room(room: Union[str, Sequence[str]], sid: Optional[str] = None,
               namespace: Optional[str] = None) -> None:
    """Take the sender (or ``sid``) out of ``room``."""
    ctx = _need("leave_room")
    ctx.worker.leave_room(sid or ctx.sid, room, namespace=namespace or ctx.namespace)


def close_room(room: Union[str, Sequence[str]], namespace: Optional[str] = None) -> None:
    """Every socket of the event's namespace leaves ``room``."""
    ctx = _need("close_room")
    ctx.worker.close_room(room, namespace=namespace or ctx.namespace)


def rooms(sid: Optional[str] = None, namespace: Optional[str] = None) -> list:
    """The rooms of the sender (or ``sid``), its own id room first, as the
    gateway has them now (a round trip, so it includes this handler's
    joins).  ``request.rooms`` is the list as of the event, without a round
    trip and without the id room."""
    ctx = _need("rooms")
    return ctx.worker.rooms(sid or ctx.sid, namespace=namespace or ctx.namespace)


def disconnect(sid: Optional[str] = None, namespace: Optional[str] = None,
               silent: bool = False) -> None:
    """Disconnect the sender (or ``sid``) from the event's namespace: the
    client gets a DISCONNECT, the worker then a ``disconnect`` event with
    reason ``"server namespace disconnect"``.  In a connect handler: refuses
    the connection.  ``silent`` is accepted for Flask-SocketIO code and
    ignored (as there)."""
    ctx = _need("disconnect")
    ctx.worker.disconnect(sid or ctx.sid, namespace=namespace or ctx.namespace)


def _data(args: tuple) -> Any:
    """The ``data`` of a Worker.emit from a context function's ``*args``."""
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)
