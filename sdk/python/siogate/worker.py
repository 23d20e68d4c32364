"""siogate.Worker: Socket.IO (and raw Engine.IO) event handlers served over
the siogate bridge, with an API shaped like python-socketio's Server and
Flask-SocketIO's SocketIO."""
from __future__ import annotations

import collections
import contextlib
import inspect
import os
import signal
import threading
import time
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Union

import msgpack

from . import protocol as P
from .context import EventContext, Targets, _pop, _push, current_event
from .core import _Base, _Future, log, now
from .exceptions import (AckTimeout, BroadcastWarning, ConnectionRefusedError,
                         GatewayError, GatewayUnavailable, NotRunning)
from .namespace import Namespace

Handler = Callable[..., Any]

#: Extra time the module waits, past the gateway's own ack timeout, before it
#: gives up on hearing anything (gateway dead or restarted).
ACK_GRACE = 5.0
#: Commands queued by other threads while run() is not running; beyond, the
#: oldest are dropped.
OUTBOX_MAX = 100000

_argcount_cache = {}


def _max_positional(fn):
    """How many positional arguments fn takes; None when unbounded."""
    key = getattr(fn, "__func__", fn)
    try:
        return _argcount_cache[key]
    except (KeyError, TypeError):
        pass
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        n = None
    else:
        n = 0
        for p in sig.parameters.values():
            if p.kind == p.VAR_POSITIONAL:
                n = None
                break
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                n += 1
    try:
        _argcount_cache[key] = n
    except TypeError:
        pass
    return n


def call_adapted(fn, args):
    """Call fn with as many of args as it accepts (python-socketio calls
    ``connect(sid, environ)`` or ``connect(sid, environ, auth)`` by arity)."""
    n = _max_positional(fn)
    return fn(*args) if n is None else fn(*args[:n])


def _packed(session):
    """The msgpack bytes of a session dict (to see whether it changed)."""
    return msgpack.packb(session, use_bin_type=True)


def _ignore(*args):
    """The ack callback of an emit given only an error_callback."""


def _warn_broadcast(method, event):
    """worker.emit/send without a target inside a Socket.IO handler: warn
    (once per place in the caller's code, Python's default filter)."""
    ctx = current_event()
    if ctx is not None and ctx.namespace is not None:
        warnings.warn(
            "worker.%s(%r) in a handler without to=, namespace= or broadcast=True goes "
            "to every socket of '/'; siogate.%s() answers the sender in its namespace, as "
            "Flask-SocketIO's %s() does" % (method, event, method, method),
            BroadcastWarning, stacklevel=4)


class _Sock:
    """What the worker remembers of a connected socket it serves.

    ``session`` is this worker's copy of the socket's session data;
    ``base`` the msgpack bytes of what the gateway holds as far as this
    worker knows (None: not computed yet); ``saved_at`` the value of the
    worker's receive counter when this worker last changed the session in
    the gateway: a message received before that carries an older copy."""
    __slots__ = ("id", "nsp", "session", "environ", "seq", "link", "base", "saved_at")

    def __init__(self, sid, nsp, link, session=None, environ=None, seq=None):
        """See the class docstring."""
        self.id = sid
        self.nsp = nsp
        self.link = link
        self.session = session if session is not None else {}
        self.environ = environ
        self.seq = seq
        self.base = None
        self.saved_at = -1


class _Capture:
    """What a connect handler did to its own, not yet accepted, socket: the
    rooms and session go into SIO_ACCEPT, other commands wait until after it."""
    __slots__ = ("sid", "rooms", "session", "deferred", "disconnect")

    def __init__(self, sid):
        """See the class docstring."""
        self.sid = sid
        self.rooms = []
        self.session = None
        self.deferred = []
        self.disconnect = False


class Worker(_Base):
    """A siogate worker: serves Socket.IO namespaces (and optionally raw
    Engine.IO paths) for one or more gateways.

    :param endpoint: the gateway's bridge endpoint (``"tcp://127.0.0.1:5555"``,
        ``"ipc:///run/siogate/bridge"``), or a list of them to work for
        several gateways.  Default: ``$SIOGATE_ENDPOINT`` (several may be
        separated by commas or spaces), else ``tcp://127.0.0.1:5555``.
    :param name: a name for the gateway's logs (default ``worker-<pid>``).
    :param credit: how many events each gateway may send before this worker
        has handled them (flow control; 1 to 1000000).
    :param heartbeat: this worker's heartbeat interval in milliseconds.  The
        gateway declares the worker dead after 4 silent intervals, and one
        handler call blocks the loop, so pick it above the longest handler.
    :param curve: ZeroMQ CURVE keys for a gateway run with
        ``--curve-secret-key-file``: ``(server_public, public, secret)``,
        Z85 text (``siogate --curve-keygen``).  Default: from
        ``$SIOGATE_CURVE_SERVERKEY``, ``$SIOGATE_CURVE_PUBLICKEY`` and
        ``$SIOGATE_CURVE_SECRETKEY`` when the first is set, else none.

    Handlers run one at a time, in the thread that called :meth:`run`, in the
    order the gateway sent their events (so events of one socket are handled
    in order).  Every method that sends (emit, enter_room, save_session, ...)
    may be called from any thread: from other threads the command is queued
    and the run() loop sends it.  Round trips (:meth:`call`, :meth:`rooms`,
    :meth:`sockets`, :meth:`get_session` of a socket this worker does not
    serve) work from handlers and from other threads while :meth:`run` runs.

    Example::

        import siogate
        worker = siogate.Worker()

        @worker.on("connect", namespace="/chat")
        def connect(sid, environ, auth):
            if not auth or auth.get("token") != "secret":
                raise siogate.ConnectionRefusedError("bad token")
            worker.save_session(sid, {"user": auth.get("user")}, namespace="/chat")

        @worker.on("chat message", namespace="/chat")
        def chat(sid, text):
            user = worker.get_session(sid, namespace="/chat")["user"]
            worker.emit("chat message", (user, text), room="lobby", namespace="/chat")
            return "ok"          # the client's ack callback gets "ok"

        worker.run()
    """

    _role = "worker"

    def __init__(self, endpoint: Union[str, Sequence[str], None] = None,
                 name: Optional[str] = None, credit: int = P.DEFAULT_CREDIT,
                 heartbeat: int = P.DEFAULT_HB_MS, curve: Optional[Sequence[str]] = None):
        """See the class docstring."""
        if credit < 1:
            raise ValueError("a worker needs credit >= 1 (use siogate.Emitter to only send)")
        super().__init__(endpoint, name, credit, heartbeat, curve)
        self._handlers = {}          # nsp -> {event: fn}
        self._server_handlers = {}   # nsp -> {event: fn}: server-side events
        self._namespaces = {}        # nsp -> Namespace
        self._error_handlers = {}    # nsp -> fn(e)
        self._default_error_handler = None
        self._gateway_error_handler = None
        self._eio = {}               # normalised path -> {"path", "open", "message", "close"}
        self._eio_sids = {}          # Engine.IO sid -> normalised path
        self._sockets = {}           # socket id -> _Sock
        self._stash = collections.deque()   # (link, msg) to handle, in order
        self._outbox = collections.deque()  # (fn, args) from other threads
        self._lock = threading.Lock()       # _pending, _req, _running
        self._capture = None
        self._nested = 0
        self._rx = 0                 # messages received (stamps, see _Sock.saved_at)
        self._running = False
        self._stopping = False
        self._loop_ident = None
        self._next_expire = 0.0
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._extra_fds = [(self._wake_r, self._on_wake)]

    # ------------------------------------------------------------------
    # Registering handlers
    # ------------------------------------------------------------------

    def on(self, event: str, handler: Optional[Handler] = None,
           namespace: Optional[str] = None) -> Any:
        """Register a handler for an event of a namespace (default ``"/"``).

        Use as a decorator, ``@worker.on("my event", namespace="/chat")``, or
        call ``worker.on("my event", fn, namespace="/chat")``.

        * ``"connect"``: ``fn(sid, environ, auth)`` (or fewer parameters:
          ``fn(sid)``, ``fn(sid, environ)``).  ``environ`` is a WSGI-like dict
          of the handshake (see :func:`siogate.protocol.environ_from_hs`),
          ``auth`` the client's CONNECT payload (None when absent).  Return
          False to refuse with the gateway's default error, or raise
          :class:`siogate.ConnectionRefusedError` to refuse with data.
          Rooms joined and session saved here travel in the accept.  A
          namespace without a connect handler is accepted by the gateway at
          once (no round trip).
        * ``"disconnect"``: ``fn(sid, reason)`` (or ``fn(sid)``).
        * ``"*"``: catch-all, ``fn(event, sid, *args)`` for events without a
          handler of their own.
        * any other name: ``fn(sid, *args)``; the return value is the ack
          (a tuple gives several ack arguments, None an empty ack) when the
          client asked for one.

        ``namespace`` may also be a pattern: ``"/dyn-*"`` (prefix) or ``"*"``.
        """
        namespace = P.check_nsp(namespace or "/")
        if not isinstance(event, str):
            raise TypeError("event names are str")

        def set_handler(fn):
            """Store the handler."""
            self._handlers.setdefault(namespace, {})[event] = fn
            self._changed()
            return fn

        if handler is None:
            return set_handler
        return set_handler(handler)

    def on_event(self, event: str, handler: Handler, namespace: Optional[str] = None) -> Handler:
        """Flask-SocketIO's spelling of ``on(event, handler, namespace)``."""
        return self.on(event, handler, namespace)

    def event(self, *args, **kwargs):
        """Register a handler named after the function: ``@worker.event``
        or ``@worker.event(namespace="/chat")``."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def decorator(fn):
            """Store the handler."""
            return self.on(fn.__name__, namespace=kwargs.get("namespace"))(fn)
        return decorator

    def register_namespace(self, namespace_handler: Namespace) -> Namespace:
        """Register a class-based namespace, an instance of a
        :class:`siogate.Namespace` subclass: its ``on_<event>`` methods handle
        the events of its namespace.  A decorator handler of the same event
        and namespace takes precedence."""
        if not isinstance(namespace_handler, Namespace):
            raise TypeError("not a siogate.Namespace instance")
        P.check_nsp(namespace_handler.namespace)
        namespace_handler._set_worker(self)
        self._namespaces[namespace_handler.namespace] = namespace_handler
        self._changed()
        return namespace_handler

    on_namespace = register_namespace

    def on_error(self, namespace: Optional[str] = None) -> Callable[[Handler], Handler]:
        """Decorator: ``fn(e)`` handles exceptions raised by the handlers of a
        namespace (default ``"/"``).  :func:`siogate.current_event` tells
        which event failed.  When the failing event asked for an ack, the
        error handler's return value is the ack (as in Flask-SocketIO)."""
        namespace = P.check_nsp(namespace or "/")

        def decorator(fn):
            """Store the handler."""
            self._error_handlers[namespace] = fn
            return fn
        return decorator

    def on_error_default(self, fn: Handler) -> Handler:
        """Decorator: ``fn(e)`` handles exceptions of every namespace without
        an :meth:`on_error` handler.  Without any error handler, the
        exception is logged (logger ``siogate``) and the worker carries on."""
        self._default_error_handler = fn
        return fn

    def on_gateway_error(self, fn: Handler) -> Handler:
        """Decorator: ``fn(err)`` receives every :class:`siogate.GatewayError`
        the gateway sends (a command naming a socket that is gone, a
        malformed command...).  Without it they are logged."""
        self._gateway_error_handler = fn
        return fn

    def _eio_register(self, path, kind, fn):
        """Register a raw Engine.IO handler of a path."""
        key = path.rstrip("/") or "/"
        entry = self._eio.setdefault(key, {"path": path})
        entry[kind] = fn
        self._changed()
        return fn

    def on_eio_open(self, path: str) -> Callable[[Handler], Handler]:
        """Decorator: ``fn(sid, environ)`` when a client opens a raw Engine.IO
        session on ``path`` (the gateway must serve it: ``siogate
        --engineio-path PATH``)."""
        return lambda fn: self._eio_register(path, "open", fn)

    def on_eio_message(self, path: str) -> Callable[[Handler], Handler]:
        """Decorator: ``fn(sid, data)`` for each raw Engine.IO message on
        ``path``; data is str (text) or bytes (binary)."""
        return lambda fn: self._eio_register(path, "message", fn)

    def on_eio_close(self, path: str) -> Callable[[Handler], Handler]:
        """Decorator: ``fn(sid, reason)`` when a raw Engine.IO session of
        ``path`` closes."""
        return lambda fn: self._eio_register(path, "close", fn)

    # ------------------------------------------------------------------
    # HELLO contents
    # ------------------------------------------------------------------

    def _has_connect(self, nsp):
        """Whether the namespace has a connect handler."""
        if "connect" in self._handlers.get(nsp, {}):
            return True
        ns = self._namespaces.get(nsp)
        return ns is not None and callable(getattr(ns, "on_connect", None))

    def _served(self):
        """Every namespace (or pattern) with handlers."""
        return sorted(set(self._handlers) | set(self._namespaces))

    def _hello_fields(self):
        """HELLO with nsp, nsp_open (namespaces without connect handler) and eio."""
        f = super()._hello_fields()
        nsps = self._served()
        if nsps:
            f["nsp"] = nsps
            with_connect = [n for n in nsps if self._has_connect(n)]
            open_ = [n for n in nsps if n not in with_connect and
                     not any(P.nsp_overlap(n, m) for m in with_connect)]
            if open_:
                f["nsp_open"] = open_
        if self._eio:
            f["eio"] = [e["path"] for e in self._eio.values()]
        return f

    def _changed(self):
        """Handlers changed: a running worker registers again."""
        if self._running:
            self._call_in_loop(self._rehello)

    def _rehello(self):
        """Register again (handlers changed)."""
        for link in self.links:
            if link.connected:
                self._hello(link)

    # ------------------------------------------------------------------
    # The loop
    # ------------------------------------------------------------------

    def run(self) -> None:
        """Connect to the gateway(s) and handle events until :meth:`stop`,
        SIGTERM (when run() is called in the main thread) or Ctrl-C.

        Registers with HELLO (and again after a gateway restart, a lost
        connection or a silent gateway), sends heartbeats, returns credit
        after each batch of events, and finally says BYE (the gateway then
        closes the sockets this worker served, reason "worker gone")."""
        with self._lock:
            if self._running:
                raise RuntimeError("this worker is already running")
            self._running = True
            self._stopping = False
            self._loop_ident = threading.get_ident()
        restore = None
        if threading.current_thread() is threading.main_thread():
            try:
                if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                    restore = signal.signal(signal.SIGTERM, lambda *_: self.stop())
            except (ValueError, OSError):
                restore = None
        try:
            self._open_links()
            self._drain_outbox()
            while not self._stopping:
                self._turn(self._next_timeout())
        except KeyboardInterrupt:
            log.info("siogate: interrupted, stopping")
        finally:
            try:
                self._shutdown()
            finally:
                if restore is not None:
                    signal.signal(signal.SIGTERM, restore)
                with self._lock:
                    self._running = False
                    self._loop_ident = None

    def stop(self) -> None:
        """Make :meth:`run` return (after saying BYE).  Any thread; also from
        a handler."""
        self._stopping = True
        self._wake()

    def start_background_task(self, target: Callable[..., Any], *args: Any,
                              **kwargs: Any) -> threading.Thread:
        """Run ``target(*args, **kwargs)`` in a daemon thread and return the
        ``threading.Thread``.  The task may emit, join rooms, call(), etc."""
        t = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True)
        t.start()
        return t

    @staticmethod
    def sleep(seconds: float = 0) -> None:
        """``time.sleep``; for code written for python-socketio."""
        time.sleep(seconds)

    def _turn(self, timeout):
        """One loop turn: wait for input, then handle it and return credit."""
        if self._stash or self._outbox:
            timeout = 0
        self._pump(timeout)
        self._drain_outbox()
        self._drain_stash()
        for link in self.links:
            self._return_credit(link)

    def _drain_stash(self):
        """Handle the waiting events in order, counting credit."""
        last_tick = now()
        while self._stash and not self._stopping:
            link, msg = self._stash.popleft()
            if link is None:
                self._handle(link, msg)
                continue
            link.stashed -= 1
            link.busy += 1
            try:
                self._handle(link, msg)
            finally:
                link.busy -= 1
            link.used += 1
            if not link.stashed and not link.busy:
                link.used += link.early
                link.early = 0
            self._return_credit(link, force=False)
            t = now()
            if t - last_tick > 0.05:
                last_tick = t
                self._tick()

    def _shutdown(self):
        """Say BYE, fail waiters, close the sockets."""
        self._drain_outbox()
        for link in self.links:
            if link.registered:
                self._return_credit(link)
                self._xmit(link, P.pack(t=P.BYE))
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
        for f in pending:
            if f.kind != "callback":
                self._settle(f, error=NotRunning("the worker stopped"))
        self._stash.clear()
        self._sockets.clear()
        self._eio_sids.clear()
        self._close_links(linger_ms=1000)

    def _in_loop(self):
        """Whether this is the run() thread."""
        return self._loop_ident == threading.get_ident()

    def _wake(self):
        """Wake the run() loop (any thread)."""
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    def _on_wake(self):
        """Empty the wake-up pipe."""
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _call_in_loop(self, fn, *args):
        """Run fn(*args) in the loop thread: now when already there, else
        queued for run()."""
        if self._in_loop():
            fn(*args)
            return
        if len(self._outbox) >= OUTBOX_MAX:
            self._outbox.popleft()
            log.warning("siogate: %d commands queued while the worker is not running: "
                        "dropping the oldest", OUTBOX_MAX)
        self._outbox.append((fn, args))
        self._wake()

    def _drain_outbox(self):
        """Run the commands other threads queued."""
        while self._outbox and self.links:
            fn, args = self._outbox.popleft()
            try:
                fn(*args)
            except Exception:
                log.exception("siogate: a queued command failed")

    # ------------------------------------------------------------------
    # Incoming messages
    # ------------------------------------------------------------------

    def _on_msg(self, link, msg):
        """Sort an incoming message: answers now, events to the stash."""
        t = msg["t"]
        if t == P.SIO_RESULT:
            self._on_result(link, msg)
            return
        if t == P.SIO_SERVER_RESULT:
            self._on_server_result(link, msg)
            return
        if t == P.SIO_SERVER_EVENT:
            # No credit; handled in order with the events.
            self._stash.append((None, {"t": "_server_event", "link": link, "m": msg}))
            return
        if t in (P.SIO_CLIENT_ACK, P.SIO_ACK_TIMEOUT):
            f = self._pending.get(msg.get("req"))
            if f is not None and f.kind != "callback":
                # Handled now, ahead of older events still waiting: CREDIT
                # completes the oldest events first, so it is returned
                # only once those are done.
                if link.stashed or link.busy:
                    link.early += 1
                else:
                    link.used += 1
                self._on_client_ack(link, msg)
                return
        if t in P.CREDITED:
            msg["_rx"] = self._rx
            self._rx += 1
            link.stashed += 1
            self._stash.append((link, msg))
            return
        log.warning("siogate: %s: unknown message type %s", link.name(), t)
        self._xmit(link, P.pack(t=P.ERROR, code=P.E_UNKNOWN_TYPE,
                                text="unknown type", ref=t))

    def _handle(self, link, msg):
        """Handle one stashed message."""
        t = msg["t"]
        try:
            if t == P.SIO_EVENT:
                self._on_event(link, msg)
            elif t == P.SIO_CONNECT:
                self._on_connect(link, msg)
            elif t == P.SIO_DISCONNECT:
                self._on_disconnect(link, msg)
            elif t in (P.SIO_CLIENT_ACK, P.SIO_ACK_TIMEOUT):
                self._on_client_ack(link, msg)
            elif t in (P.EIO_OPEN, P.EIO_MESSAGE, P.EIO_CLOSE):
                self._on_eio(link, msg)
            elif t == "_settle":
                self._run_callback(msg["f"], msg["fn"], msg["args"])
            elif t == "_gone":
                self._on_disconnect(None, msg)
            elif t == "_server_event":
                self._on_server_event(msg["link"], msg["m"])
        except _BadMessage as e:
            log.warning("siogate: %s: malformed message type %s dropped: %s",
                        link.name() if link else "-", t, e)
        except Exception:
            log.exception("siogate: internal error on a message of type %s", t)

    def _report(self, exc, ctx):
        """An exception escaped a handler: run the error handler of the
        namespace (or the default one).  Returns (handled, value)."""
        h = None
        if ctx is not None and ctx.namespace is not None:
            h = self._find(self._error_handlers, ctx.namespace)
        if h is None:
            h = self._default_error_handler
        if h is None:
            log.error("siogate: handler for %r failed", ctx, exc_info=exc)
            return False, None
        try:
            return True, h(exc)
        except Exception:
            log.exception("siogate: the error handler failed too (on %r)", ctx)
            return False, None

    @staticmethod
    def _find(table, nsp):
        """Exact namespace first, then the longest matching pattern."""
        if nsp in table:
            return table[nsp]
        best = None
        for pat in table:
            if pat.endswith("*") and P.nsp_match(pat, nsp):
                if best is None or len(pat) > len(best):
                    best = pat
        return table[best] if best is not None else None

    def _find_handler(self, nsp, event):
        """The handler of an event: exact namespace, then patterns."""
        if nsp in self._handlers and event in self._handlers[nsp]:
            return self._handlers[nsp][event]
        best = None
        for pat, hs in self._handlers.items():
            if pat.endswith("*") and event in hs and P.nsp_match(pat, nsp):
                if best is None or len(pat) > len(best):
                    best = pat
        return self._handlers[best][event] if best is not None else None

    def _dispatch(self, nsp, event, args):
        """Run the handler of an event: (handled, return value)."""
        h = self._find_handler(nsp, event)
        if h is not None:
            if event in ("connect", "disconnect"):
                return True, call_adapted(h, args)
            return True, h(*args)
        ns = self._find(self._namespaces, nsp)
        if ns is not None and (callable(getattr(ns, "on_" + event, None)) or
                               type(ns).trigger_event is not Namespace.trigger_event):
            return True, ns.trigger_event(event, *args)
        if event not in ("connect", "disconnect"):
            h = self._find_handler(nsp, "*")
            if h is not None:
                return True, h(event, *args)
        return False, None

    def _on_connect(self, link, m):
        """SIO_CONNECT: run the connect handler, answer ACCEPT or REJECT."""
        sid = _req(m, "id", str)
        nsp = _req(m, "nsp", str)
        reply = m.get("reply", False) is True
        auth = m.get("auth")
        environ = P.environ_from_hs(m.get("hs"))
        environ["siogate.eio_sid"] = m.get("sid")
        environ["siogate.namespace"] = nsp
        ctx = EventContext(sid, nsp, "connect", (environ, auth), seq=m.get("seq"),
                           session={}, rooms=[], environ=environ, auth=auth,
                           gateway=link.gw, worker=self)
        st = _Sock(sid, nsp, link, environ=environ, seq=m.get("seq"))
        environ["siogate.recovered"] = m.get("recovered") is True
        environ["siogate.lost"] = m.get("lost") is True
        if (m.get("moved") is True or m.get("recovered") is True) and not reply:
            # A socket of a lost worker, given to this one, or one back from
            # connection state recovery: it was accepted long ago, so the
            # connect handler does not run again.
            self._sockets[sid] = st
            log.debug("siogate: socket %s of %s %s", sid, nsp,
                      "recovered" if m.get("recovered") is True else "moved to this worker")
            return
        cap = _Capture(sid) if reply else None
        if not reply:
            self._sockets[sid] = st
        accepted, data = True, None
        prev_cap, self._capture = self._capture, cap
        _push(ctx)
        try:
            handled, r = self._dispatch(nsp, "connect", (sid, environ, auth))
            if r is False:
                accepted = False
        except ConnectionRefusedError as e:
            accepted, data = False, e.error_data
        except Exception as e:
            self._report(e, ctx)
            accepted, data = False, {"message": "Internal server error"}
        finally:
            _pop()
            self._capture = prev_cap
        if not reply:
            if accepted:
                self._autosave(ctx)
            if not accepted or (cap and cap.disconnect):
                log.warning("siogate: connect handler of open namespace %s refused %s: "
                            "disconnecting it", nsp, sid)
                self.disconnect(sid, namespace=nsp)
            return
        if cap.disconnect:
            accepted = False
        if accepted:
            fields = {"id": sid}
            if cap.session is not None:
                fields["session"] = cap.session
                st.session = cap.session
            if cap.rooms:
                fields["rooms"] = cap.rooms
            try:
                frame = P.pack(t=P.SIO_ACCEPT, **fields)
            except (TypeError, ValueError, OverflowError) as e:
                log.error("siogate: the session or rooms of %s cannot be encoded (%s): "
                          "refusing it", sid, e)
                accepted = False
                data = {"message": "Internal server error"}
            else:
                self._sockets[sid] = st
                self._send_cmd(link, frame)
        if not accepted:
            try:
                frame = P.pack(t=P.SIO_REJECT, id=sid, **({} if data is None else {"data": data}))
            except (TypeError, ValueError, OverflowError) as e:
                log.error("siogate: the refusal data for %s cannot be encoded (%s)", sid, e)
                frame = P.pack(t=P.SIO_REJECT, id=sid)
            self._send_cmd(link, frame)
        for t, f, to, route, only in cap.deferred:
            if accepted or only != sid:
                try:
                    self._dispatch_cmd(t, f, to, route)
                except Exception:
                    log.exception("siogate: a command of the connect handler of %s failed", sid)

    def _on_event(self, link, m):
        """SIO_EVENT: run the handler, answer the ack."""
        sid = _req(m, "id", str)
        nsp = _req(m, "nsp", str)
        ev = _req(m, "ev", str)
        args = m.get("args") or []
        if not isinstance(args, list):
            raise _BadMessage("args is not an array")
        ack = m.get("ack")
        session = m.get("session")
        if not isinstance(session, dict):
            session = {}
        rooms = m.get("rooms") or []
        seq = m.get("seq")
        st = self._sockets.get(sid)
        if st is None:
            st = self._sockets[sid] = _Sock(sid, nsp, link)
        elif isinstance(seq, int) and isinstance(st.seq, int) and seq <= st.seq:
            log.warning("siogate: socket %s: seq %d after %d (reordered?)", sid, seq, st.seq)
        st.seq = seq
        if st.saved_at > m.get("_rx", 0):
            # This worker stored the session after the gateway sent this
            # event: the copy in the event is older than ours; keep ours.
            session = st.session
        else:
            st.session = session
            st.base = None
        ctx = EventContext(sid, nsp, ev, args, seq=seq, ack=ack is not None,
                           session=session, rooms=rooms, gateway=link.gw, worker=self)
        ctx.redelivered = m.get("redelivered") is True
        if ev in ("connect", "disconnect"):
            log.warning("siogate: socket %s sent a reserved event name %r: ignored", sid, ev)
            return
        _push(ctx)
        try:
            handled, r = self._dispatch(nsp, ev, (sid,) + tuple(args))
            if not handled:
                log.debug("siogate: no handler for %r in %s", ev, nsp)
        except Exception as e:
            handled, r = self._report(e, ctx)
        finally:
            _pop()
        # Before the ack: a client that waits for it sees the new session.
        self._autosave(ctx)
        if ack is not None and handled:
            try:
                frame = P.pack(t=P.SIO_ACK, id=sid, nsp=nsp, ack=ack, args=P.ack_args(r))
            except (TypeError, ValueError, OverflowError) as e:
                log.error("siogate: ack of %r cannot be encoded: %s", ev, e)
                return
            self._send_cmd(link, frame)

    def _on_disconnect(self, link, m):
        """SIO_DISCONNECT: run the disconnect handler, forget the socket."""
        sid = _req(m, "id", str)
        st = self._sockets.pop(sid, None)
        nsp = m.get("nsp") if isinstance(m.get("nsp"), str) else (st.nsp if st else "/")
        reason = m.get("reason") if isinstance(m.get("reason"), str) else "unknown"
        session = m.get("session")
        if not isinstance(session, dict):
            session = st.session if st else {}
        rooms = m.get("rooms") if isinstance(m.get("rooms"), list) else []
        ctx = EventContext(sid, nsp, "disconnect", (reason,), seq=m.get("seq"),
                           session=session, rooms=rooms,
                           gateway=link.gw if link else None, worker=self)
        _push(ctx)
        try:
            self._dispatch(nsp, "disconnect", (sid, reason))
        except Exception as e:
            self._report(e, ctx)
        finally:
            _pop()

    def _on_client_ack(self, link, m):
        """SIO_CLIENT_ACK / SIO_ACK_TIMEOUT: finish the emit's request."""
        with self._lock:
            f = self._pending.pop(m.get("req"), None)
        if f is None:
            log.debug("siogate: ack for unknown or expired req %r", m.get("req"))
            return
        if m["t"] == P.SIO_CLIENT_ACK:
            args = m.get("args") or []
            self._settle(f, value=tuple(args) if isinstance(args, list) else (args,))
        else:
            reason = m.get("reason") if isinstance(m.get("reason"), str) else "timeout"
            self._settle(f, error=AckTimeout(reason))

    def _settle(self, f, value=None, error=None):
        """Finish a future: wake its waiter, or run its callback (callbacks
        run from the stash only, so never inside a nested wait)."""
        if f.done:
            return
        f.done = True
        f.value, f.error = value, error
        if f.kind == "callback":
            if error is not None:
                if f.errback is None:
                    log.debug("siogate: no ack from %s (%s) and no error_callback",
                              f.target, getattr(error, "reason", error))
                    return
                fn, args = f.errback, (error,)
            else:
                fn, args = f.callback, tuple(value or ())
            if self._nested:
                self._stash.append((None, {"t": "_settle", "f": f, "fn": fn, "args": args}))
            else:
                self._run_callback(f, fn, args)
        elif f.event is not None:
            f.event.set()

    def _run_callback(self, f, fn, args):
        """Run an emit callback (or error callback) as a handler of the
        socket the emit went to: the context functions work in it, errors go
        to the error handler of its namespace."""
        ctx = EventContext(f.target, f.nsp, "ack", args, worker=self)
        _push(ctx)
        try:
            fn(*args)
        except Exception as e:
            self._report(e, ctx)
        finally:
            _pop()
        if f.target in self._sockets:
            self._autosave(ctx)

    def _on_result(self, link, m):
        """SIO_RESULT: one gateway's answer to a query."""
        f = self._pending.get(m.get("req"))
        if f is None or f.kind != "query":
            log.debug("siogate: result for unknown or expired req %r", m.get("req"))
            return
        self._query_answer(f, link, result=m.get("result"))

    def _query_answer(self, f, link, result=None, error=None):
        """Record a gateway's answer (or error); finish when all answered."""
        if link in f.answered:
            return
        f.answered.add(link)
        if error is not None:
            f.error = error
        else:
            f.value = (f.value or []) + [result]
        f.links_left -= 1
        if f.links_left <= 0:
            with self._lock:
                self._pending.pop(f.req, None)
            if f.value is not None:
                f.error = None      # some gateway answered
            self._settle(f, value=f.value, error=f.error)

    def _on_eio(self, link, m):
        """Raw Engine.IO open/message/close."""
        sid = _req(m, "sid", str)
        t = m["t"]
        if t == P.EIO_OPEN:
            key = (m.get("path") or "").rstrip("/") or "/"
            self._eio_sids[sid] = key
            if m.get("moved") is True:
                return      # a session of a lost worker: its open ran there
            kind, args = "open", (sid, P.environ_from_hs(m.get("hs"), m.get("path")))
        elif t == P.EIO_MESSAGE:
            key = self._eio_sids.get(sid)
            kind, args = "message", (sid, m.get("data"))
        else:
            key = self._eio_sids.pop(sid, None)
            kind, args = "close", (sid, m.get("reason"))
        fn = self._eio.get(key, {}).get(kind) if key else None
        if fn is None:
            return
        ctx = EventContext(sid, None, "eio_" + kind, args[1:], seq=m.get("seq"),
                           gateway=link.gw)
        _push(ctx)
        try:
            fn(*args)
        except Exception as e:
            self._report(e, ctx)
        finally:
            _pop()

    # ---- gateway-side events of the link ----

    def _gateway_error(self, link, err):
        """ERRORs that end requests: gone sockets of acks, refused queries."""
        if err.ref in (P.SIO_EMIT,) and err.code == P.E_UNKNOWN_SID and err.sid:
            with self._lock:
                cands = [f for f in self._pending.values()
                         if f.kind != "query" and f.target == err.sid and
                         (f.link is None or f.link is link)]
            # Answers and timeouts of that socket's earlier reqs came before
            # this ERROR (siogate-protocol(7)): every ack still awaited
            # from it is over.
            for f in sorted(cands, key=lambda x: x.req):
                f.links_left -= 1
                if f.links_left <= 0:
                    with self._lock:
                        self._pending.pop(f.req, None)
                    self._settle(f, error=AckTimeout("disconnected"))
        elif err.ref == P.SIO_QUERY:
            self._query_failed(link, err)
        if self._gateway_error_handler is not None:
            try:
                self._gateway_error_handler(err)
            except Exception:
                log.exception("siogate: the gateway error handler failed")
        else:
            super()._gateway_error(link, err)

    def _command_refused(self, link, msg):
        """A command refused as NOT_REGISTERED."""
        if msg.get("ref") == P.SIO_QUERY:
            self._query_failed(link, GatewayError(msg))
        else:
            log.warning("siogate: %s: a command (type %s) was refused: not registered",
                        link.name(), msg.get("ref"))

    def _query_failed(self, link, err):
        """End the oldest query a link has not answered with an error."""
        with self._lock:
            cands = [f for f in self._pending.values() if f.kind == "query" and
                     link in (f.link or ()) and link not in f.answered]
        if cands:
            self._query_answer(min(cands, key=lambda x: x.req), link, error=err)

    def _gateway_changed(self, link, old):
        """A gateway restarted: its sockets are gone; tell the handlers."""
        gone = [st.id for st in self._sockets.values()
                if st.link is link and st.id.startswith(old)]
        for sid in gone:
            st = self._sockets.get(sid)
            self._stash.append((None, {"t": "_gone", "id": sid, "nsp": st.nsp,
                                       "reason": "gateway restarted"}))
        with self._lock:
            lost = [f for f in self._pending.values()
                    if isinstance(f.target, str) and f.target.startswith(old)]
            for f in lost:
                self._pending.pop(f.req, None)
        for f in lost:
            self._settle(f, error=AckTimeout("lost"))

    def _expire(self, t):
        """Fail requests past their deadline (at most every 100 ms)."""
        if t < self._next_expire:
            return
        self._next_expire = t + 0.1
        with self._lock:
            late = [f for f in self._pending.values() if f.deadline <= t]
            for f in late:
                self._pending.pop(f.req, None)
        for f in late:
            if f.kind == "query":
                self._settle(f, error=GatewayUnavailable("no answer from the gateway"))
            else:
                self._settle(f, error=AckTimeout("lost"))

    # ------------------------------------------------------------------
    # Commands
    # ------------------------------------------------------------------

    def _command(self, t, fields, to=None, route=None, only_sid=None):
        """Send a command (from any thread).  ``to``: the target list of a
        fan-out command (routed over the gateways, and sent as its ``to``);
        else the socket id or sid ``route`` picks the gateway."""
        if self._in_loop():
            if self._capture is not None:
                self._capture.deferred.append((t, fields, to, route, only_sid))
                return
            self._dispatch_cmd(t, fields, to, route)
            return
        msgpack.packb(fields, use_bin_type=True)    # raise TypeError here, not in the loop
        self._call_in_loop(self._dispatch_cmd, t, fields, to, route)

    def _dispatch_cmd(self, t, fields, to, route=None):
        """Route a command over the gateways and send it (run() thread)."""
        req = fields.get("req") if t in (P.SIO_EMIT, P.SIO_QUERY) else None
        if to is None:
            link = self._link_for_id(route)
            plan = {link: None} if link is not None else {l: None for l in self._wide_links()}
        elif not to:
            plan = {l: None for l in self._wide_links()}
        else:
            plan = {l: sub for l, sub in self._split_targets(to).items() if sub}
        if req is not None and t == P.SIO_EMIT and len(plan) > 1:
            # A socket of a gateway not linked: one cluster node forwards it.
            one = next((l for l in plan if l.cluster and l.registered), None)
            if one is not None:
                plan = {one: plan[one]}
        f = self._pending.get(req) if req is not None else None
        if f is not None:
            f.links_left = len(plan)
            f.link = next(iter(plan)) if len(plan) == 1 and f.kind != "query" else None
            if f.kind == "query":
                f.link = set(plan)
            if not plan:
                with self._lock:
                    self._pending.pop(req, None)
                self._settle(f, value=[] if f.kind == "query" else None,
                             error=None if f.kind == "query" else AckTimeout("lost"))
        for link, sub in plan.items():
            g = dict(fields)
            if sub is not None:
                g["to"] = sub
            self._send_cmd(link, P.pack(t=t, **g))

    def _new_future(self, kind, target, deadline, callback=None):
        """Register a pending request."""
        with self._lock:
            self._req += 1
            f = _Future(self._req, kind, deadline, target=target, callback=callback)
            if kind != "callback":
                f.event = threading.Event()
            self._pending[f.req] = f
        return f

    def _wait(self, f, timeout):
        """Wait for a future from any thread; returns its value or raises."""
        end = now() + timeout
        if self._in_loop():
            self._nested += 1
            try:
                while not f.done and not self._stopping:
                    left = end - now()
                    if left <= 0:
                        break
                    self._pump(min(left, self._next_timeout()))
                    self._drain_outbox()
                    for link in self.links:
                        self._return_credit(link, force=False)
            finally:
                self._nested -= 1
        elif not self._running:
            with self._lock:
                self._pending.pop(f.req, None)
            raise NotRunning("the worker's run() loop is not running")
        else:
            f.event.wait(max(0, timeout))
        if not f.done:
            with self._lock:
                self._pending.pop(f.req, None)
            if f.kind == "query":
                raise GatewayUnavailable("no answer from the gateway")
            raise AckTimeout("lost")
        if f.error is not None:
            raise f.error
        return f.value

    def _nsp_for(self, sid, namespace):
        """The namespace of a per-socket command."""
        if namespace:
            return P.check_nsp(namespace)
        st = self._sockets.get(sid) if isinstance(sid, str) else None
        if st is not None:
            return st.nsp
        ctx = current_event()
        if ctx is not None and ctx.sid == sid and ctx.namespace:
            return ctx.namespace
        return "/"

    def _my_capture(self, sid):
        """The connect handler capture for sid, when in it."""
        cap = self._capture
        if cap is not None and cap.sid == sid and self._in_loop():
            return cap
        return None

    def emit(self, event: str, data: Any = None, to: Targets = None, room: Targets = None,
             skip_sid: Targets = None, namespace: Optional[str] = None,
             callback: Optional[Handler] = None, timeout: float = 10,
             include_self: bool = True, broadcast: bool = False,
             error_callback: Optional[Callable[[BaseException], Any]] = None) -> None:
        """Emit an event to clients (python-socketio's ``Server.emit``).

        :param event: the event name.
        :param data: the argument; a tuple sends several arguments, None
            none.  str, bytes (sent as binary attachments), numbers, bools,
            None, lists and dicts of them.
        :param to: a socket id, a room name, or a list of them; None (and no
            ``room``) means every socket of the namespace.
        :param room: the same as ``to`` (both may be given: the union).
        :param skip_sid: a socket id or room, or a list, to leave out.
        :param namespace: the namespace; default ``"/"``, even inside a
            handler of another namespace (use :func:`siogate.emit` to
            answer the sender in its namespace).
        :param callback: ask the client for an ack: ``callback(*args)`` gets
            the client's ack arguments.  Only with exactly one target socket
            (``to=sid``).  Runs in the run() thread, as a handler of that
            socket.  Not called when no ack comes (as in python-socketio).
        :param timeout: seconds the gateway waits for that ack.
        :param error_callback: ``error_callback(exc)`` gets a
            :class:`siogate.AckTimeout` when the client does not answer
            within ``timeout`` seconds or disconnects first (``exc.reason``
            tells which).
        :param include_self: False adds the socket of the event being
            handled to ``skip_sid`` (Flask-SocketIO's ``include_self``).
        :param broadcast: True says that an emit without ``to`` from inside
            a handler is meant to reach the whole namespace.  Without it,
            such an emit warns (:class:`siogate.BroadcastWarning`), because
            Flask-SocketIO's ``emit`` in a handler answers the sender only.
        """
        if not isinstance(event, str):
            raise TypeError("event names are str")
        if to is None and room is None and namespace is None and not broadcast:
            _warn_broadcast("emit", event)
        nsp = namespace or "/"
        if not nsp.startswith("/"):
            raise ValueError("emit needs a namespace starting with '/', got %r" % (nsp,))
        to_l = P.targets(to)
        to_l += [r for r in P.targets(room) if r not in to_l]
        skip = P.targets(skip_sid)
        if not include_self:
            ctx = current_event()
            if ctx is not None and ctx.sid and ctx.sid not in skip:
                skip.append(ctx.sid)
        fields = {"nsp": nsp, "ev": event, "args": P.args_of(data)}
        if skip:
            fields["except"] = skip
        f = None
        if callback is not None or error_callback is not None:
            if len(to_l) != 1 or skip:
                raise ValueError("an emit with a callback needs exactly one target socket (to=sid)")
            f = self._new_future("callback", to_l[0], now() + timeout + ACK_GRACE,
                                 callback=callback or _ignore)
            f.errback = error_callback
            f.nsp = nsp
            fields["req"] = f.req
            fields["timeout"] = int(timeout * 1000)
        try:
            self._command(P.SIO_EMIT, fields, to=to_l,
                          only_sid=to_l[0] if len(to_l) == 1 else None)
        except Exception:
            if f is not None:
                with self._lock:
                    self._pending.pop(f.req, None)
            raise

    def send(self, data: Any, to: Targets = None, room: Targets = None,
             skip_sid: Targets = None, namespace: Optional[str] = None,
             callback: Optional[Handler] = None, timeout: float = 10,
             include_self: bool = True, broadcast: bool = False,
             error_callback: Optional[Callable[[BaseException], Any]] = None) -> None:
        """``emit("message", data, ...)``: what a client's ``send()`` and
        ``on("message")`` use."""
        if to is None and room is None and namespace is None and not broadcast:
            _warn_broadcast("send", "message")
            broadcast = True
        self.emit("message", data, to=to, room=room, skip_sid=skip_sid,
                  namespace=namespace, callback=callback, timeout=timeout,
                  include_self=include_self, broadcast=broadcast,
                  error_callback=error_callback)

    def call(self, event: str, data: Any = None, to: Optional[str] = None,
             sid: Optional[str] = None, namespace: Optional[str] = None,
             timeout: float = 10) -> Any:
        """Emit to one socket and wait for its ack; returns the ack: None
        for no argument, the value for one, a tuple for several.  Raises
        :class:`siogate.AckTimeout` (a ``TimeoutError``, as python-socketio's
        ``call`` raises one) when none comes within ``timeout`` seconds or
        the socket goes away first.  From a handler, other events wait
        meanwhile (they are handled after it, in order)."""
        target = to if to is not None else sid
        if not isinstance(target, str):
            raise ValueError("call() needs one target socket (to=sid)")
        nsp = namespace or "/"
        f = self._new_future("sync", target, now() + timeout + ACK_GRACE)
        fields = {"nsp": nsp, "ev": event, "args": P.args_of(data), "req": f.req,
                  "timeout": int(timeout * 1000)}
        try:
            self._command(P.SIO_EMIT, fields, to=[target], only_sid=target)
        except Exception:
            with self._lock:
                self._pending.pop(f.req, None)
            raise
        args = self._wait(f, timeout + ACK_GRACE)
        if not args:
            return None
        return args[0] if len(args) == 1 else tuple(args)

    # ---- server-side events (Node's serverSideEmit) ----

    def on_server_event(self, event, handler=None, namespace=None):
        """Register a handler for another cluster node's server-side event
        (Node's ``io.serverSideEmit(event, ...args)``): ``fn(*args)``; when
        the emitter waits for answers, the return value is this node's one
        answer (only one value crosses the cluster: a tuple gives its first
        item).  One worker of the namespace per siogate node gets each
        event.  Use as a decorator or call it with ``handler``."""
        namespace = P.check_nsp(namespace or "/")
        if not isinstance(event, str):
            raise TypeError("event names are str")

        def set_handler(fn):
            """Store the handler."""
            self._server_handlers.setdefault(namespace, {})[event] = fn
            return fn

        if handler is None:
            return set_handler
        return set_handler(handler)

    def server_side_emit(self, event, data=None, namespace=None, callback=None):
        """Send an event to the other nodes of the cluster (Node servers
        and one worker per other siogate node), not to clients; without a
        cluster it reaches nobody.  ``data`` as in :meth:`emit`.  With
        ``callback``, ``callback(error, responses)`` runs once in the run()
        thread: ``responses`` the other nodes' answers, ``error`` None, or a
        :class:`siogate.AckTimeout` (some did not answer within the
        gateway's request timeout) or :class:`siogate.GatewayUnavailable`
        (Redis or the gateway lost), with the answers that came."""
        if not isinstance(event, str):
            raise TypeError("event names are str")
        nsp = namespace or "/"
        if not nsp.startswith("/"):
            raise ValueError("server_side_emit needs a namespace starting with '/', got %r" % (nsp,))
        fields = {"nsp": nsp, "ev": event, "args": P.args_of(data)}
        f = None
        if callback is not None:
            def settle(*a):
                """(error, responses), or a lone error from the SDK's own deadline."""
                if len(a) == 2:
                    callback(a[0], a[1])
                else:
                    callback(a[0] if a else None, [])
            wait = max([l.cluster for l in self.links] + [0]) / 1000.0
            f = self._new_future("callback", None, now() + wait + ACK_GRACE, callback=settle)
            f.errback = settle      # the SDK's own deadline: (error, [])
            fields["req"] = f.req
        if self._in_loop():
            self._send_server_emit(fields, f)
        else:
            msgpack.packb(fields, use_bin_type=True)
            self._call_in_loop(self._send_server_emit, fields, f)

    def _send_server_emit(self, fields, f):
        """SIO_SERVER_EMIT through one gateway, a cluster node first."""
        links = [l for l in self.links if l.registered and l.cluster] or \
            [l for l in self.links if l.registered] or self.links
        if f is not None:
            f.link = links[0]
        self._send_cmd(links[0], P.pack(t=P.SIO_SERVER_EMIT, **fields))

    def _on_server_result(self, link, m):
        """SIO_SERVER_RESULT: the answers to our server-side emit."""
        with self._lock:
            f = self._pending.pop(m.get("req"), None)
        if f is None:
            return
        res = m.get("result") if isinstance(m.get("result"), list) else []
        err = m.get("error")
        if isinstance(err, str):
            err = AckTimeout(err) if err.startswith("timeout") else GatewayUnavailable(err)
        else:
            err = None
        self._settle(f, value=(err, res))

    def _on_server_event(self, link, m):
        """SIO_SERVER_EVENT: run its handler; answer when asked."""
        nsp = m.get("nsp") if isinstance(m.get("nsp"), str) else "/"
        ev, args = m.get("ev"), m.get("args")
        table = self._find(self._server_handlers, nsp) or {}
        h = table.get(ev)
        if h is None:
            log.debug("siogate: server-side event %r on %s without a handler", ev, nsp)
            return
        try:
            ret = h(*(args if isinstance(args, list) else []))
        except Exception:
            log.exception("siogate: server-side event handler %r failed", ev)
            return
        if isinstance(m.get("req"), int):
            out = P.ack_args(ret)
            self._send_cmd(link, P.pack(t=P.SIO_SERVER_ACK, req=m["req"], args=out[:1]))

    def enter_room(self, sid: Targets, room: Union[str, Sequence[str]],
                   namespace: Optional[str] = None) -> None:
        """Put socket ``sid`` (or every socket of a room, or a list) in
        ``room`` (a name or a list of names).  ``namespace`` defaults to the
        socket's own when this worker serves it, else ``"/"``."""
        rooms = P.targets(room)
        cap = self._my_capture(sid)
        if cap is not None:
            cap.rooms += [r for r in rooms if r not in cap.rooms]
            return
        self._command(P.SIO_JOIN, {"nsp": self._nsp_for(sid, namespace), "rooms": rooms},
                      to=P.targets(sid), only_sid=sid)

    join_room = enter_room

    def leave_room(self, sid: Targets, room: Union[str, Sequence[str]],
                   namespace: Optional[str] = None) -> None:
        """Take socket ``sid`` (or a room's sockets, or a list) out of
        ``room`` (a name or a list)."""
        rooms = P.targets(room)
        cap = self._my_capture(sid)
        if cap is not None:
            cap.rooms = [r for r in cap.rooms if r not in rooms]
            return
        self._command(P.SIO_LEAVE, {"nsp": self._nsp_for(sid, namespace), "rooms": rooms},
                      to=P.targets(sid), only_sid=sid)

    def close_room(self, room: Union[str, Sequence[str]],
                   namespace: Optional[str] = None) -> None:
        """Remove every socket from ``room``."""
        nsp = P.check_nsp(namespace or "/")
        self._command(P.SIO_LEAVE, {"nsp": nsp, "rooms": P.targets(room)},
                      to=P.targets(room))

    def disconnect(self, sid: Targets, namespace: Optional[str] = None,
                   close: bool = False) -> None:
        """Disconnect socket ``sid`` (or a room's sockets, or a list) from the
        namespace: the client gets a DISCONNECT packet, the worker then the
        ``disconnect`` event with reason ``"server namespace disconnect"``.
        ``close=True`` closes the client's whole connection.  From a connect
        handler, on its own socket: refuses the connection."""
        cap = self._my_capture(sid)
        if cap is not None:
            cap.disconnect = True
            return
        fields = {"nsp": self._nsp_for(sid, namespace)}
        if close:
            fields["close"] = True
        self._command(P.SIO_DISCONNECT_SOCKETS, fields, to=P.targets(sid), only_sid=sid)

    def rooms(self, sid: Optional[str] = None, namespace: Optional[str] = None,
              timeout: float = 10) -> List[str]:
        """The rooms socket ``sid`` is in, its own id room first (as
        python-socketio).  Asks the gateway (a round trip).  ``sid`` defaults
        to the socket of the event being handled."""
        if sid is None:
            ctx = current_event()
            if ctx is None or not ctx.sid:
                raise ValueError("rooms() needs a sid outside a handler")
            sid = ctx.sid
        cap = self._my_capture(sid)
        if cap is not None:
            return [sid] + list(cap.rooms)
        res = self._query(self._nsp_for(sid, namespace), "rooms", [sid], timeout)
        out = [sid]
        for part in res:
            for r in part or []:
                if r not in out:
                    out.append(r)
        return out

    def sockets(self, namespace: str = "/", to: Targets = None,
                timeout: float = 10) -> List[Dict[str, Any]]:
        """The sockets of a namespace (restricted to ``to``: ids and/or
        rooms), from every gateway: a list of dicts ``{"id", "rooms",
        "session", "addr"}`` (like Node's fetchSockets).  A round trip."""
        res = self._query(P.check_nsp(namespace), "sockets", P.targets(to) or None, timeout)
        out = []
        for part in res:
            out.extend(part or [])
        return out

    def _query(self, nsp, what, to, timeout):
        """SIO_QUERY to the gateway(s) concerned; the list of answers."""
        f = self._new_future("query", None, now() + timeout)
        fields = {"req": f.req, "nsp": nsp, "what": what}
        if to:
            fields["to"] = list(to)
        self._command(P.SIO_QUERY, {k: v for k, v in fields.items() if k != "to"},
                      to=to or [])
        return self._wait(f, timeout) or []

    # ---- session data ----

    def _own_session(self, ctx):
        """The session dict of the socket of the handler being run (the
        connect handler's capture, this worker's copy, or for a disconnect
        the copy the gateway sent), with its baseline for _autosave."""
        cap = self._my_capture(ctx.sid)
        if cap is not None:
            if cap.session is None:
                cap.session = {}
            return cap.session
        st = self._sockets.get(ctx.sid)
        if st is None:
            if ctx.session is None:
                ctx.session = {}
            return ctx.session
        if st.base is None:
            st.base = _packed(st.session)
        return st.session

    def _autosave(self, ctx):
        """After a handler that used its socket's session: store it in the
        gateway if it changed (replacing the gateway's copy)."""
        if not ctx._session_used or self._my_capture(ctx.sid) is not None:
            return
        st = self._sockets.get(ctx.sid)
        if st is None:
            return
        try:
            cur = _packed(st.session)
        except (TypeError, ValueError, OverflowError) as e:
            log.error("siogate: the session of %s cannot be encoded (%s): not stored "
                      "(after %r)", ctx.sid, e, ctx)
            return
        if cur != st.base:
            self._store_session(st.id, st.nsp, st.session, cur)

    def _store_session(self, sid, nsp, session, packed=None, merge=False):
        """SIO_SET_SESSION, and note it in the socket's _Sock."""
        st = self._sockets.get(sid)
        if st is not None:
            st.saved_at = self._rx
            st.base = packed
        fields = {"id": sid, "nsp": nsp, "session": session}
        if merge:
            fields["merge"] = True
        self._command(P.SIO_SET_SESSION, fields, route=sid, only_sid=sid)

    def get_session(self, sid: str, namespace: Optional[str] = None,
                    timeout: float = 10) -> Dict[str, Any]:
        """The session dict of socket ``sid``.  For a socket this worker
        serves it is this worker's copy: what came with the socket's latest
        event, or what :meth:`save_session` stored since (whichever is
        newer), without a round trip; else the gateway is asked.

        Changes to the dict of the socket whose event is being handled are
        stored in the gateway when the handler returns (as
        :data:`siogate.session`'s); changes to other dicts stay local until
        :meth:`save_session`.  Raises KeyError for a socket that is gone."""
        ctx = current_event()
        if ctx is not None and ctx.sid == sid and ctx.worker is self and self._in_loop():
            d = self._own_session(ctx)
            ctx._session_used = True
            return d
        cap = self._my_capture(sid)
        if cap is not None:
            if cap.session is None:
                cap.session = {}
            return cap.session
        st = self._sockets.get(sid)
        if st is not None:
            return st.session
        res = self.sockets(self._nsp_for(sid, namespace), to=[sid], timeout=timeout)
        for s in res:
            if isinstance(s, dict) and s.get("id") == sid:
                sess = s.get("session")
                return sess if isinstance(sess, dict) else {}
        raise KeyError("no socket %s" % sid)

    def save_session(self, sid: str, session: Dict[str, Any],
                     namespace: Optional[str] = None) -> None:
        """Store ``session`` (a dict of msgpack-able values) as the session
        data of socket ``sid`` in the gateway; it comes back with every later
        event of the socket, to whichever worker handles it."""
        if not isinstance(session, dict):
            raise TypeError("a session is a dict")
        cap = self._my_capture(sid)
        if cap is not None:
            cap.session = session
            return
        packed = _packed(session)       # TypeError here, in the caller
        st = self._sockets.get(sid)
        if st is not None:
            st.session = session
        self._store_session(sid, self._nsp_for(sid, namespace), session, packed)

    def update_session(self, sid: str, changes: Dict[str, Any],
                       namespace: Optional[str] = None) -> None:
        """Merge ``changes`` into the session of ``sid`` in the gateway (keys
        not named keep their values)."""
        if not isinstance(changes, dict):
            raise TypeError("session changes are a dict")
        cap = self._my_capture(sid)
        if cap is not None:
            cap.session = dict(cap.session or {}, **changes)
            return
        _packed(changes)
        st = self._sockets.get(sid)
        packed = None
        if st is not None:
            st.session.update(changes)
            packed = _packed(st.session)
        self._store_session(sid, self._nsp_for(sid, namespace), changes, packed, merge=True)

    @contextlib.contextmanager
    def session(self, sid: str, namespace: Optional[str] = None) -> Iterator[Dict[str, Any]]:
        """``with worker.session(sid) as s: s["x"] = 1`` reads the session,
        and stores it when the block ends without an exception."""
        s = self.get_session(sid, namespace)
        yield s
        self.save_session(sid, s, namespace)

    def get_environ(self, sid: str, namespace: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """The environ dict the connect handler got for socket ``sid``, or
        None when this worker does not serve it."""
        st = self._sockets.get(sid)
        return st.environ if st is not None else None

    # ---- raw Engine.IO ----

    def eio_send(self, sid: Union[str, Sequence[str]], data: Union[str, bytes]) -> None:
        """Send a raw Engine.IO message (str: text, bytes: binary) to one
        session or a list of sessions."""
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        if not isinstance(data, (str, bytes)):
            raise TypeError("Engine.IO data is str or bytes")
        if isinstance(sid, str):
            self._command(P.EIO_SEND, {"sid": sid, "data": data}, route=sid)
        else:
            by = {}
            for s in P.targets(sid):
                by.setdefault(s[:P.GW_ID_LEN], []).append(s)
            for group in by.values():
                self._command(P.EIO_SEND, {"sids": group, "data": data}, route=group[0])

    def eio_close(self, sid: str) -> None:
        """Close a raw Engine.IO session."""
        self._command(P.EIO_CLOSE_SESSION, {"sid": sid}, route=sid)


class _BadMessage(ValueError):
    """A gateway message without its required keys."""
    pass


def _req(m, key, typ):
    """A required key of a message, of a type."""
    v = m.get(key)
    if not isinstance(v, typ):
        raise _BadMessage("%s missing or not %s" % (key, typ.__name__))
    return v
