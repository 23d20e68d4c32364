"""Bridge links: one ZeroMQ DEALER socket per gateway, registration
(HELLO/WELCOME), heartbeats, credit bookkeeping, and the poll pump that the
Worker and the Emitter share.

Threading: a :class:`_Base` object's sockets are touched by one thread at a
time only (the Worker's run() thread; the Emitter's caller, under a lock).
"""
import collections
import logging
import os
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

from . import protocol as P
from .exceptions import GatewayError

log = logging.getLogger("siogate")

#: Commands kept while a gateway has not (re)welcomed us; beyond, the oldest go.
PENDING_MAX = 10000
#: Longest delay between two HELLOs after the gateway refused one.
HELLO_BACKOFF_MAX = 60.0
#: Frames read from one socket before the pump lets the others have a turn.
RECV_BATCH = 256


def now():
    """Monotonic seconds."""
    return time.monotonic()


def curve_of(curve):
    """The CURVE keys (server public, own public, own secret; Z85 text of
    40 characters) from the argument or $SIOGATE_CURVE_SERVERKEY,
    $SIOGATE_CURVE_PUBLICKEY and $SIOGATE_CURVE_SECRETKEY; None for none."""
    if curve is None:
        env = [os.environ.get(k) for k in ("SIOGATE_CURVE_SERVERKEY", "SIOGATE_CURVE_PUBLICKEY",
                                           "SIOGATE_CURVE_SECRETKEY")]
        if env[0] is None:
            return None
        curve = env
    keys = tuple(k.decode() if isinstance(k, bytes) else k for k in curve)
    if len(keys) != 3 or not all(isinstance(k, str) and len(k) == 40 for k in keys):
        raise ValueError("CURVE needs (server public, public, secret) keys, Z85 text of 40 "
                         "characters each (siogate --curve-keygen prints a pair)")
    if not zmq.has("curve"):
        raise ValueError("this libzmq has no CURVE support")
    return keys


def endpoints_of(endpoint):
    """The list of endpoints from the constructor argument: None means
    $SIOGATE_ENDPOINT (comma- or space-separated) or the default."""
    if endpoint is None:
        endpoint = os.environ.get("SIOGATE_ENDPOINT") or P.DEFAULT_ENDPOINT
    if isinstance(endpoint, str):
        endpoint = endpoint.replace(",", " ").split()
    eps = [e for e in endpoint if e]
    if not eps:
        raise ValueError("no gateway endpoint")
    return eps


class _Future:
    """A pending answer: a query's SIO_RESULT, or the client's ack of an emit.

    kind "callback": ``callback`` (the ack) or ``errback`` (no ack) runs in
    the loop thread; kind "sync": a thread waits on ``event``; kind "query":
    like sync, for SIO_QUERY."""

    __slots__ = ("req", "kind", "callback", "errback", "nsp", "event", "value", "error",
                 "deadline", "link", "target", "links_left", "done", "answered")

    def __init__(self, req, kind, deadline, link=None, target=None, callback=None):
        """See the class docstring."""
        self.req = req
        self.kind = kind
        self.callback = callback
        self.errback = None     # callback futures: fn(AckTimeout)
        self.nsp = None         # callback futures: the emit's namespace
        self.event = None
        self.value = None
        self.error = None
        self.deadline = deadline
        self.link = link
        self.target = target
        self.links_left = 1
        self.done = False
        self.answered = set()   # links that answered (queries)


class _Link:
    """One gateway: its DEALER socket, monitor, and registration state."""

    def __init__(self, ctx, endpoint, curve=None):
        """See the class docstring."""
        self.endpoint = endpoint
        self.sock = ctx.socket(zmq.DEALER)
        if curve is not None:
            self.sock.curve_serverkey = curve[0].encode()
            self.sock.curve_publickey = curve[1].encode()
            self.sock.curve_secretkey = curve[2].encode()
        self.sock.setsockopt(zmq.ROUTING_ID, P.routing_id())
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, P.MAX_FRAME)
        self.sock.setsockopt(zmq.RECONNECT_IVL, 100)
        self.sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        for opt, val in (("HEARTBEAT_IVL", 2000), ("HEARTBEAT_TIMEOUT", 6000)):
            if hasattr(zmq, opt):
                self.sock.setsockopt(getattr(zmq, opt), val)
        self.monitor = self.sock.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        self.sock.connect(endpoint)
        self.gw = None          # gateway id from the last WELCOME
        self.wid = None
        self.cluster = 0        # WELCOME "cluster": its request timeout (ms), 0 if none
        self.node = None        # WELCOME "node": the cluster node its loops share
        self.gw_hb = P.DEFAULT_HB_MS / 1000.0
        self.registered = False
        t = now()
        self.last_send = t
        self.last_recv = t
        self.next_hello = t     # HELLO retry time, while connected and unregistered
        self.last_hello = 0.0
        self.connected = False  # a ZMTP connection is up (from the monitor)
        self.hello_backoff = 0.0
        self.pending = collections.deque()  # commands waiting for WELCOME
        self.outq = collections.deque()     # frames that met EAGAIN, in order
        self.used = 0           # credited messages handled, not yet returned
        self.early = 0          # handled ahead of older ones (returned after them)
        self.stashed = 0        # credited messages waiting to be handled
        self.busy = 0           # credited messages being handled
        self.refused = 0        # NOT_REGISTERED answers to commands (see Emitter)
        self.welcomes = 0

    def name(self):
        """The endpoint and gateway id, for logs."""
        return "%s%s" % (self.endpoint, " [%s]" % self.gw if self.gw else "")

    def close(self, linger_ms=0):
        """Close the socket and its monitor."""
        try:
            self.sock.setsockopt(zmq.LINGER, linger_ms)
            self.sock.disable_monitor()
        except zmq.ZMQError:
            pass
        self.monitor.close(0)
        self.sock.close()


class _Base:
    """Registration, heartbeats and the pump, common to Worker and Emitter."""

    _role = "worker"
    #: Treat a gateway silent for 4 of its intervals as gone (say HELLO).
    _watch_silence = True

    def __init__(self, endpoint, name, credit, heartbeat, curve=None):
        """See the class docstring."""
        self.endpoints = endpoints_of(endpoint)
        self.curve = curve_of(curve)
        if not isinstance(heartbeat, int) or not 10 <= heartbeat <= 3600000:
            raise ValueError("heartbeat is in milliseconds, 10 to 3600000")
        if not isinstance(credit, int) or not 0 <= credit <= 1000000:
            raise ValueError("credit is 0 to 1000000")
        self.name = name or "%s-%d" % (self._role, os.getpid())
        self.credit = credit
        self.heartbeat = heartbeat
        self.hb = heartbeat / 1000.0
        self.links = []
        self._ctx = zmq.Context.instance()
        self._poller = None
        self._pending = {}      # req -> _Future
        self._req = 0
        self._extra_fds = []    # (fd, callback) polled along the sockets

    # ---- links ----

    def _open_links(self):
        """Create one link per endpoint, and the poller."""
        if self.links:
            return
        self.links = [_Link(self._ctx, ep, self.curve) for ep in self.endpoints]
        self._poller = zmq.Poller()
        for link in self.links:
            self._poller.register(link.sock, zmq.POLLIN)
            self._poller.register(link.monitor, zmq.POLLIN)
        for fd, _ in self._extra_fds:
            self._poller.register(fd, zmq.POLLIN)

    def _close_links(self, linger_ms=0):
        """Close every link (linger_ms lets queued frames leave)."""
        for link in self.links:
            link.close(linger_ms)
        self.links = []
        self._poller = None

    def _link_for_id(self, sid):
        """The link whose gateway issued the socket id (or sid), or None."""
        if len(self.links) == 1:
            return self.links[0]
        if isinstance(sid, str) and len(sid) == P.ID_LEN:
            for link in self.links:
                if link.gw and sid.startswith(link.gw):
                    return link
        return None

    def _wide_links(self):
        """The links a command for rooms or a namespace goes to.  In a
        cluster one node, with all of its loops, carries it out for the
        whole cluster (the node of the first registered cluster link): the
        loops of other nodes are left out, or they would do it again.
        Gateways that are no cluster node all get it."""
        lead = next((l.node for l in self.links if l.registered and l.node), None)
        return [l for l in self.links if lead is None or l.node is None or l.node == lead]

    def _split_targets(self, to):
        """Route a target list over the links: {link: [targets]}.  A socket
        id of a known gateway goes to that gateway only; anything else (a
        room, an id of an unknown gateway) goes to every gateway of
        :meth:`_wide_links`."""
        if len(self.links) == 1:
            return {self.links[0]: list(to)}
        out = {link: [] for link in self.links}
        wide = self._wide_links()
        for x in to:
            owner = self._link_for_id(x)
            for link in self.links:
                if owner is link or (owner is None and link in wide):
                    out[link].append(x)
        return out

    def _next_req(self):
        """A new request number."""
        self._req += 1
        return self._req

    # ---- sending ----

    def _xmit(self, link, frame):
        """Send one frame now, or queue it behind earlier EAGAINs."""
        if link.outq:
            link.outq.append(frame)
            return
        try:
            link.sock.send(frame, zmq.NOBLOCK)
        except zmq.Again:
            link.outq.append(frame)
            self._poller.register(link.sock, zmq.POLLIN | zmq.POLLOUT)
            return
        link.last_send = now()

    def _flush_outq(self, link):
        """Send what met EAGAIN earlier, in order."""
        while link.outq:
            try:
                link.sock.send(link.outq[0], zmq.NOBLOCK)
            except zmq.Again:
                return
            link.outq.popleft()
            link.last_send = now()
        self._poller.register(link.sock, zmq.POLLIN)

    def _send_cmd(self, link, frame):
        """Send a command, or keep it until the gateway welcomes us."""
        if link.registered:
            self._xmit(link, frame)
            return
        if len(link.pending) >= PENDING_MAX:
            link.pending.popleft()
            log.warning("siogate: %s: not registered, %d commands waiting: dropping the oldest",
                        link.name(), PENDING_MAX)
        link.pending.append(frame)

    def _hello_fields(self):
        """The keys of our HELLO."""
        return {"name": self.name, "credit": self.credit, "hb": self.heartbeat}

    def _hello(self, link):
        """Say HELLO on a link; schedule the next try."""
        self._xmit(link, P.pack(t=P.HELLO, **self._hello_fields()))
        link.last_hello = now()
        link.next_hello = link.last_hello + max(self.hb, link.hello_backoff)

    def _return_credit(self, link, force=True):
        """Send CREDIT for handled events (force: any; else only half a window)."""
        if link.used and (force or link.used >= max(1, self.credit // 2)):
            if link.registered:
                self._xmit(link, P.pack(t=P.CREDIT, n=link.used))
            link.used = 0

    # ---- receiving ----

    def _pump(self, timeout):
        """Wait up to timeout seconds for input, read what is there, run the
        timers.  Messages are passed to _on_msg."""
        if self._poller is None:
            time.sleep(max(timeout, 0))
            return
        ready = dict(self._poller.poll(max(0, int(timeout * 1000))))
        for fd, cb in self._extra_fds:
            if fd in ready:
                cb()
        for link in list(self.links):
            if link.monitor in ready:
                self._on_monitor(link)
            ev = ready.get(link.sock, 0)
            if ev & zmq.POLLOUT:
                self._flush_outq(link)
            if ev & zmq.POLLIN:
                for _ in range(RECV_BATCH):
                    try:
                        frame = link.sock.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self._on_frame(link, frame)
        self._tick()

    def _on_monitor(self, link):
        """ZMTP connection events: HELLO on each new connection."""
        while True:
            try:
                ev = recv_monitor_message(link.monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError:
                return
            if ev["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                log.debug("siogate: %s: connected, saying HELLO", link.name())
                link.connected = True
                link.hello_backoff = 0.0
                self._hello(link)
            elif ev["event"] == zmq.EVENT_DISCONNECTED:
                if link.registered:
                    log.info("siogate: %s: connection lost", link.name())
                link.connected = False
                link.registered = False

    def _on_frame(self, link, frame):
        """Decode one frame; control messages here, the rest to _on_msg."""
        link.last_recv = now()
        try:
            msg = P.unpack(frame)
        except ValueError as e:
            log.warning("siogate: %s: undecodable message dropped (%s)", link.name(), e)
            return
        t = msg["t"]
        if t == P.HEARTBEAT:
            return
        if t == P.WELCOME:
            self._on_welcome(link, msg)
        elif t == P.ERROR:
            self._on_error(link, msg)
        elif t == P.BYE:
            log.info("siogate: %s: gateway said BYE", link.name())
            link.registered = False
            link.next_hello = now() + self.hb
        else:
            self._on_msg(link, msg)

    def _on_welcome(self, link, msg):
        """Registered: remember the gateway, flush waiting commands."""
        gw = msg.get("gw")
        old = link.gw
        link.gw = gw if isinstance(gw, str) else None
        link.wid = msg.get("wid")
        cl = msg.get("cluster")
        link.cluster = cl if isinstance(cl, int) and not isinstance(cl, bool) and cl > 0 else 0
        node = msg.get("node")
        link.node = node if link.cluster and isinstance(node, str) and node else None
        if link.cluster and node is not None and link.node is None:
            # Registered all the same, as a gateway of no cluster node.
            log.warning("siogate: %s: WELCOME node %r is not a non-empty string: "
                        "taken as no node", link.name(), node)
        hb = msg.get("hb")
        link.gw_hb = (hb if isinstance(hb, int) and hb > 0 else P.DEFAULT_HB_MS) / 1000.0
        first = not link.registered
        link.registered = True
        link.hello_backoff = 0.0
        link.welcomes += 1
        link.used = link.early = 0  # a HELLO resets the window
        if first:
            log.info("siogate: %s: registered as %s worker %s", link.endpoint,
                     link.gw, link.wid)
        if old is not None and old != link.gw:
            log.warning("siogate: %s: new gateway %s (was %s): its sockets are gone",
                        link.endpoint, link.gw, old)
            self._gateway_changed(link, old)
        while link.pending and link.registered:
            self._xmit(link, link.pending.popleft())
        self._add_bridges(link, msg.get("bridges"))
        self._after_welcome(link)

    def _add_bridges(self, link, bridges):
        """A gateway with several event loops lists every loop's endpoint in
        WELCOME: connect to those not connected yet (tcp:// keeps the host
        this link reached the gateway by)."""
        if not isinstance(bridges, list) or self._poller is None:
            return
        known = {l.endpoint for l in self.links}
        for ep in bridges[:64]:
            if not isinstance(ep, str) or not ep or "\0" in ep:
                continue
            if ep.startswith("tcp://") and link.endpoint.startswith("tcp://") and \
                    ":" in ep[6:] and ":" in link.endpoint[6:]:
                ep = link.endpoint.rsplit(":", 1)[0] + ":" + ep.rsplit(":", 1)[1]
            if ep in known:
                continue
            known.add(ep)
            new = _Link(self._ctx, ep, self.curve)
            self.links.append(new)
            self._poller.register(new.sock, zmq.POLLIN)
            self._poller.register(new.monitor, zmq.POLLIN)
            self._link_added(new)
            log.info("siogate: %s: another event loop of the gateway, connecting", ep)

    def _on_error(self, link, msg):
        """An ERROR: NOT_REGISTERED means HELLO again, a refused HELLO backs off."""
        code, ref = msg.get("code"), msg.get("ref")
        if code == P.E_NOT_REGISTERED:
            log.info("siogate: %s: gateway does not know us (ref %s): HELLO again",
                     link.name(), ref)
            if link.registered or now() - link.last_hello > 0.2:
                self._hello(link)
            link.registered = False
            if ref not in (P.HELLO, P.HEARTBEAT, P.CREDIT, P.BYE, None, 0):
                self._command_refused(link, msg)
            return
        if ref == P.HELLO:
            link.registered = False
            link.hello_backoff = min(HELLO_BACKOFF_MAX, max(2 * link.hello_backoff, 1.0))
            link.next_hello = now() + link.hello_backoff
            log.error("siogate: %s: HELLO refused: %s", link.name(), GatewayError(msg))
            return
        self._gateway_error(link, GatewayError(msg))

    def _tick(self):
        """Timers: heartbeats, HELLO retries, gateway silence, deadlines."""
        t = now()
        for link in self.links:
            if link.registered and self._watch_silence and \
                    t - link.last_recv > P.DEAD_AFTER_MISSED * link.gw_hb:
                log.warning("siogate: %s: gateway silent for %.1f s: HELLO again",
                            link.name(), t - link.last_recv)
                link.registered = False
                link.hello_backoff = 0.0
                self._hello(link)
            elif not link.registered and link.connected and t >= link.next_hello:
                self._hello(link)
            elif link.registered and t - link.last_send >= self.hb:
                self._xmit(link, P.pack(t=P.HEARTBEAT))
        if self._pending:
            self._expire(t)

    def _next_timeout(self, cap=1.0):
        """Seconds until the next timer is due (at most cap)."""
        t = now()
        due = t + cap
        for link in self.links:
            if link.registered:
                due = min(due, link.last_send + self.hb)
                if self._watch_silence:
                    due = min(due, link.last_recv + P.DEAD_AFTER_MISSED * link.gw_hb + 0.001)
            elif link.connected:
                due = min(due, link.next_hello)
            if link.outq:
                due = min(due, t + 0.05)
        for f in list(self._pending.values())[:64]:
            due = min(due, f.deadline)
        return max(0.0, due - t)

    # ---- hooks ----

    def _on_msg(self, link, msg):
        """A non-control message (subclasses handle them)."""
        log.debug("siogate: %s: ignoring message type %s", link.name(), msg["t"])

    def _after_welcome(self, link):
        """Hook: a WELCOME was handled."""
        pass

    def _link_added(self, link):
        """Hook: a link to another event loop was opened."""
        pass

    def _gateway_changed(self, link, old):
        """Hook: a WELCOME came from a new gateway at the same endpoint."""
        pass

    def _command_refused(self, link, msg):
        """Hook: a command was answered NOT_REGISTERED."""
        pass

    def _gateway_error(self, link, err):
        """Hook: any other ERROR; logged by default."""
        if err.code == P.E_UNKNOWN_SID:
            log.info("siogate: %s: %s", link.name(), err)
        else:
            log.warning("siogate: %s: %s", link.name(), err)

    def _expire(self, t):
        """Hook: fail requests past their deadline."""
        pass
