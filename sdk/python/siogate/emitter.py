"""siogate.Emitter: send to Socket.IO clients from any process (a cron job,
a queue consumer, a web request handler) without serving anything."""
from __future__ import annotations

import atexit
import threading
import weakref
from typing import Any, Dict, List, Optional, Sequence, Union

from . import protocol as P
from .context import Targets
from .core import _Base, log, now
from .exceptions import GatewayError, GatewayUnavailable, SiogateError

#: Frames sent without confirmation before an automatic flush().
UNCONFIRMED_MAX = 10000
#: The room the flush barrier asks a gateway too old for SYNC about: never a
#: socket id, never in use.
BARRIER_ROOM = "siogate:barrier"

_live = weakref.WeakSet()


class Emitter(_Base):
    """A write-only bridge peer: registers with credit 0 and no namespaces,
    then emits, joins/leaves rooms, disconnects sockets, sets sessions.

    :param endpoint: as for :class:`siogate.Worker` (a list for several
        gateways: rooms and broadcasts go to every gateway, a socket id to
        the gateway that issued it).
    :param name: a name for the gateway's logs (default ``emitter-<pid>``).
    :param timeout: seconds each call may wait for the gateway (WELCOME and
        confirmation); past it, :class:`siogate.GatewayUnavailable`.
    :param confirm: True (default): each call returns once the gateway has
        processed the command (a round trip, so nothing is lost when the
        process exits right after).  False: calls return once the command
        is queued; :meth:`flush` (also called by :meth:`close`, the ``with``
        block's end and at interpreter exit) waits for all of them.
    :param heartbeat: the heartbeat interval advertised to the gateway, ms.
    :param curve: CURVE keys, as for :class:`siogate.Worker`.

    Usage from a cron job::

        siogate.Emitter().emit("news", {"x": 1}, namespace="/dcenter")

    or, for many messages::

        with siogate.Emitter(confirm=False) as em:
            for user in users:
                em.emit("mail", count(user), room="user:" + user, namespace="/")

    Commands refused because the gateway restarted in between are sent again
    after it welcomes the emitter anew.  Errors the gateway reports (say, a
    socket id that is gone) are logged (logger ``siogate``), not raised.
    Thread-safe (one call at a time).  The Emitter cannot receive acks: use
    a Worker's :meth:`~siogate.Worker.call` for that.
    """

    _role = "emitter"
    # Between calls nobody reads the socket; _ensure() checks instead.
    _watch_silence = False

    def __init__(self, endpoint=None, name=None, timeout=10.0, confirm=True,
                 heartbeat=10000, curve=None):
        """See the class docstring."""
        super().__init__(endpoint, name, 0, heartbeat, curve)
        self.timeout = timeout
        self.confirm = confirm
        self._lock = threading.RLock()
        self._closed = False
        self._unconfirmed = {}      # link -> [frames sent since the last barrier]
        self._answers = {}          # req -> [link, done, result, error]
        self._no_sync = set()       # links whose gateway refused SYNC (too old)
        _live.add(self)

    def __enter__(self):
        """``with Emitter() as em:``."""
        return self

    def __exit__(self, *exc):
        """Flush and close."""
        self.close()

    def __del__(self):
        """Flush and close when forgotten."""
        try:
            self.close(timeout=2.0)
        except Exception:
            pass

    # ---- registration and the barrier ----

    def _ensure(self, deadline):
        """Make sure every gateway knows us (HELLO/WELCOME, again if we were
        quiet for long enough to have been forgotten)."""
        if not self.links:
            self._open_links()
            for link in self.links:
                self._unconfirmed[link] = []
        self._pump(0)
        t = now()
        for link in self.links:
            if link.registered and t - link.last_send > (P.DEAD_AFTER_MISSED - 1) * self.hb:
                link.registered = False
                if link.connected:
                    self._hello(link)
        while not all(link.registered for link in self.links):
            left = deadline - now()
            if left <= 0:
                missing = [l.endpoint for l in self.links if not l.registered]
                raise GatewayUnavailable("no WELCOME from %s" % ", ".join(missing))
            self._pump(min(left, 0.05))

    def _link_added(self, link):
        self._unconfirmed[link] = []

    def _after_welcome(self, link):
        # Commands the gateway refused as NOT_REGISTERED: all of them come
        # before the WELCOME that answers our new HELLO, and they are the
        # last ones sent, so they are the tail of the unconfirmed list.
        """Send again the commands refused before this WELCOME."""
        frames = self._unconfirmed.get(link) or []
        k = min(link.refused, len(frames))
        link.refused = 0
        if k:
            log.info("siogate: %s: sending %d refused commands again", link.name(), k)
            for frame in frames[-k:]:
                self._xmit(link, frame)

    def _command_refused(self, link, msg):
        """Count a refused command (or end a refused query)."""
        if msg.get("ref") in (P.SIO_QUERY, P.SYNC):
            for req, a in sorted(self._answers.items()):
                if a[0] is link and not a[1]:
                    a[1], a[3] = True, "refused"
                    break
        else:
            link.refused += 1

    def _gateway_error(self, link, err):
        """End the query an ERROR answers; log."""
        if err.ref == P.SYNC and err.code == P.E_UNKNOWN_TYPE:
            # A gateway older than SYNC: ask it the old way from now on.
            if link not in self._no_sync:
                log.info("siogate: %s: gateway predates SYNC; syncing with a query",
                         link.name())
            self._no_sync.add(link)
            for req, a in sorted(self._answers.items()):
                if a[0] is link and not a[1]:
                    a[1], a[3] = True, "again"
                    break
            return
        if err.ref in (P.SIO_QUERY, P.SYNC):
            for req, a in sorted(self._answers.items()):
                if a[0] is link and not a[1]:
                    a[1], a[3] = True, err
                    break
        super()._gateway_error(link, err)

    def _on_msg(self, link, msg):
        """SIO_RESULT answers a query, SYNC_REPLY a sync; nothing else is expected."""
        if msg["t"] in (P.SIO_RESULT, P.SYNC_REPLY):
            a = self._answers.get(msg.get("req"))
            if a is not None and a[0] is link:
                a[1], a[2] = True, msg.get("result")
            return
        log.debug("siogate: emitter ignores message type %s", msg["t"])

    def _ask(self, plan, fields, deadline, t=P.SIO_QUERY):
        """Send a query (or with t=SYNC a sync) to each link of plan ({link:
        to-list or None}) and wait for the answers: a list of results.
        Retries after a refusal."""
        answers = {}
        while True:
            self._ensure(deadline)
            asked = {}
            for link, sub in plan.items():
                if link in answers:
                    continue
                self._req += 1
                g = dict(fields, req=self._req)
                if sub is not None:
                    g["to"] = sub
                self._answers[self._req] = asked[link] = [link, False, None, None]
                if t == P.SYNC and link in self._no_sync:
                    g.update(nsp="/", what="rooms", to=[BARRIER_ROOM])
                    self._xmit(link, P.pack(t=P.SIO_QUERY, **g))
                else:
                    self._xmit(link, P.pack(t=t, **g))
            try:
                while not all(a[1] for a in asked.values()):
                    left = deadline - now()
                    if left <= 0:
                        raise GatewayUnavailable("no answer from the gateway")
                    self._pump(min(left, 0.05))
            finally:
                for req in [r for r, a in self._answers.items() if a in asked.values()]:
                    del self._answers[req]
            for link, a in asked.items():
                if a[3] in ("refused", "again"):
                    continue
                if isinstance(a[3], GatewayError):
                    raise a[3]
                answers[link] = a[2]
            if len(answers) == len(plan):
                return [answers[link] for link in plan]

    def _barrier(self, deadline):
        """Wait until every gateway has processed everything sent so far
        (SYNC; siogate-protocol(7))."""
        plan = {link: None for link in self.links if self._unconfirmed.get(link)}
        if not plan:
            return
        while True:
            welcomes = [link.welcomes for link in plan]
            self._ask(plan, {}, deadline, P.SYNC)
            # A WELCOME meanwhile means the gateway had forgotten us: the
            # refused commands were sent again then; confirm those too.
            if welcomes == [link.welcomes for link in plan] and \
                    not any(link.refused for link in plan):
                break
        for link in plan:
            self._unconfirmed[link] = []

    def _send(self, t, fields, to=None, route=None):
        """Send a command to the gateway(s) it concerns; confirm it if asked."""
        with self._lock:
            if self._closed:
                raise SiogateError("this emitter is closed")
            deadline = now() + self.timeout
            self._ensure(deadline)
            if to is None:
                link = self._link_for_id(route)
                plan = {link: None} if link is not None else {l: None for l in self.links}
            elif not to:
                plan = {l: None for l in self.links}
            else:
                plan = {l: sub for l, sub in self._split_targets(to).items() if sub}
            for link, sub in plan.items():
                g = dict(fields)
                if sub is not None:
                    g["to"] = sub
                frame = P.pack(t=t, **g)
                self._xmit(link, frame)
                self._unconfirmed[link].append(frame)
            if self.confirm or any(len(f) >= UNCONFIRMED_MAX for f in self._unconfirmed.values()):
                self._barrier(deadline)

    # ---- the API ----

    def emit(self, event: str, data: Any = None, to: Targets = None, room: Targets = None,
             skip_sid: Targets = None, namespace: str = "/") -> None:
        """Emit an event: to every socket of ``namespace``, or to ``to``/
        ``room`` (a socket id, a room, or a list), leaving out ``skip_sid``.
        ``data``: one argument, a tuple of several, or None for none (as
        :meth:`siogate.Worker.emit`)."""
        if not isinstance(event, str):
            raise TypeError("event names are str")
        to_l = P.targets(to)
        to_l += [r for r in P.targets(room) if r not in to_l]
        fields = {"nsp": P.check_nsp(namespace), "ev": event, "args": P.args_of(data)}
        skip = P.targets(skip_sid)
        if skip:
            fields["except"] = skip
        self._send(P.SIO_EMIT, fields, to=to_l)

    def send(self, data: Any, to: Targets = None, room: Targets = None,
             skip_sid: Targets = None, namespace: str = "/") -> None:
        """``emit("message", data, ...)``."""
        self.emit("message", data, to=to, room=room, skip_sid=skip_sid, namespace=namespace)

    def enter_room(self, sid: Targets, room: Union[str, Sequence[str]],
                   namespace: str = "/") -> None:
        """Put socket(s) ``sid`` (ids and/or rooms) in ``room`` (one or a list)."""
        self._send(P.SIO_JOIN, {"nsp": P.check_nsp(namespace), "rooms": P.targets(room)},
                   to=P.targets(sid))

    join_room = enter_room

    def leave_room(self, sid: Targets, room: Union[str, Sequence[str]],
                   namespace: str = "/") -> None:
        """Take socket(s) ``sid`` out of ``room``."""
        self._send(P.SIO_LEAVE, {"nsp": P.check_nsp(namespace), "rooms": P.targets(room)},
                   to=P.targets(sid))

    def close_room(self, room: Union[str, Sequence[str]], namespace: str = "/") -> None:
        """Empty ``room``."""
        self._send(P.SIO_LEAVE, {"nsp": P.check_nsp(namespace), "rooms": P.targets(room)},
                   to=P.targets(room))

    def disconnect(self, sid: Targets, namespace: str = "/", close: bool = False) -> None:
        """Disconnect socket(s) ``sid`` (ids and/or rooms) from the namespace;
        ``close=True`` closes their whole connections."""
        fields = {"nsp": P.check_nsp(namespace)}
        if close:
            fields["close"] = True
        self._send(P.SIO_DISCONNECT_SOCKETS, fields, to=P.targets(sid))

    def save_session(self, sid: str, session: Dict[str, Any], namespace: str = "/") -> None:
        """Replace the session data of socket ``sid``."""
        if not isinstance(session, dict):
            raise TypeError("a session is a dict")
        self._send(P.SIO_SET_SESSION, {"id": sid, "nsp": P.check_nsp(namespace),
                                       "session": session}, route=sid)

    def update_session(self, sid: str, changes: Dict[str, Any], namespace: str = "/") -> None:
        """Merge ``changes`` into the session data of socket ``sid``."""
        if not isinstance(changes, dict):
            raise TypeError("session changes are a dict")
        self._send(P.SIO_SET_SESSION, {"id": sid, "nsp": P.check_nsp(namespace),
                                       "session": changes, "merge": True}, route=sid)

    def eio_send(self, sid: Union[str, Sequence[str]], data: Union[str, bytes]) -> None:
        """Send a raw Engine.IO message (str or bytes) to session ``sid``."""
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        self._send(P.EIO_SEND, {"sid": sid, "data": data}, route=sid)

    def eio_close(self, sid: str) -> None:
        """Close raw Engine.IO session ``sid``."""
        self._send(P.EIO_CLOSE_SESSION, {"sid": sid}, route=sid)

    def rooms(self, sid: Optional[str] = None, namespace: str = "/") -> List[str]:
        """The rooms with members in ``namespace`` (of socket ``sid`` only,
        its own id room first, when given)."""
        with self._lock:
            deadline = now() + self.timeout
            self._ensure(deadline)
            fields = {"nsp": P.check_nsp(namespace), "what": "rooms"}
            if sid is None:
                plan = {l: None for l in self.links}
            else:
                plan = {l: sub for l, sub in self._split_targets([sid]).items() if sub}
            out = [sid] if sid is not None else []
            for part in self._ask(plan, fields, deadline):
                out += [r for r in part or [] if r not in out]
            return out

    def sockets(self, namespace: str = "/", to: Targets = None) -> List[Dict[str, Any]]:
        """The sockets of ``namespace`` (restricted to ``to``: ids and/or
        rooms), as dicts ``{"id", "rooms", "session", "addr"}``."""
        with self._lock:
            deadline = now() + self.timeout
            self._ensure(deadline)
            to_l = P.targets(to)
            if to_l:
                plan = {l: sub for l, sub in self._split_targets(to_l).items() if sub}
            else:
                plan = {l: None for l in self.links}
            out = []
            for part in self._ask(plan, {"nsp": P.check_nsp(namespace), "what": "sockets"},
                                  deadline):
                out += part or []
            return out

    def flush(self, timeout: Optional[float] = None) -> None:
        """Wait until the gateway(s) processed every command sent so far;
        raises :class:`siogate.GatewayUnavailable` after ``timeout`` seconds
        (default: the emitter's timeout)."""
        with self._lock:
            if self._closed or not self.links:
                return
            deadline = now() + (self.timeout if timeout is None else timeout)
            self._barrier(deadline)

    def close(self, timeout: Optional[float] = None) -> None:
        """Flush, say BYE and close the sockets.  Idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                if self.links and any(self._unconfirmed.values()):
                    self.flush(timeout)
            finally:
                self._closed = True
                for link in self.links:
                    if link.registered:
                        self._xmit(link, P.pack(t=P.BYE))
                self._close_links(linger_ms=500)
                _live.discard(self)


@atexit.register
def _close_all():
    """At interpreter exit: flush and close every emitter still open."""
    for em in list(_live):
        try:
            em.close(timeout=2.0)
        except Exception as e:
            log.warning("siogate: emitter %s: %s", em.name, e)
