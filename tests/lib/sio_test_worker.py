#!/usr/bin/python3
"""sio_test_worker.py: a scriptable Socket.IO worker for siogate's tests.

It speaks the bridge protocol (siogate-protocol(7) and its Socket.IO part)
directly with pyzmq and msgpack, imports nothing from siogate, and lets the
*client* choose what it does, so that tests need no other control channel:

    sio_test_worker.py ENDPOINT [--name N] [--nsp /,/chat] [--open /fast]
                       [--credit N] [--hb MS] [-v]
    sio_test_worker.py ENDPOINT --emitter --emit JSON [--emit JSON ...]

It prints "sio_test_worker: registered with gateway GWID" on stderr when
WELCOME arrives, answers heartbeats, returns credit after every batch and
says BYE on SIGTERM/SIGINT.

Connect (SIO_CONNECT with reply=true), by the CONNECT payload ("auth"):
    {"token": "bad"}    SIO_REJECT data {"message": "bad token", "data": {"code": 42}}
                        (what Node's next(err) with err.data = {code: 42} sends; the
                        official client exposes it as err.message / err.data)
    {"reject": X}       SIO_REJECT with data X as given (any type)
    {"reject_default": true}  SIO_REJECT without data
    {"never": true}     no answer at all (the gateway's connect timeout)
    {"delay": ms}       accept after ms
    otherwise           SIO_ACCEPT, session {"name": auth.name} when given,
                        rooms auth.rooms when given
Open namespaces (--open) get SIO_CONNECT with reply=false: recorded only (as
are sockets moved here from a lost worker: reply=false, moved=true).

Events (args after the name):
    echo ...                  emit "echo" with the same args to the sender
    burst N, EV               emit EV [0] .. EV [N-1] to the sender, back to back
    bin ...                   emit "bin" with the same args (binary kept) to the sender
    ack ...                   SIO_ACK with the same args
    join ROOM|[ROOMS]         SIO_JOIN for the sender; leave: SIO_LEAVE
    to-room ROOM|[ROOMS], EV, ...        SIO_EMIT EV to those rooms
    to-room-except-me ROOM|[ROOMS], EV, ...  the same, except the sender
    to-room-volatile ROOM|[ROOMS], EV, ...   the same as to-room, volatile
    broadcast EV, ...          SIO_EMIT EV to the whole namespace
    broadcast-except-room ROOM|[ROOMS], EV, ...  whole namespace except those rooms
    ask EV, TIMEOUT_MS, ...   SIO_EMIT EV (...) with req to the sender; on SIO_CLIENT_ACK
                              emits "asked" [{"args": [...]}], on SIO_ACK_TIMEOUT
                              "asked" [{"timeout": reason}]
    ask-other ID, EV, TIMEOUT_MS, ...  the same to socket ID (any gateway of a cluster);
                              "asked" goes to the sender
    set-session MAP[, MERGE]  SIO_SET_SESSION (merge defaults to false)
    get-session               emit "session" [the session map that came with this event]
    get-rooms                 emit "my-rooms" [the rooms list that came with this event]
    rooms [TO]                SIO_QUERY rooms of the sender (TO: null = whole namespace,
                              a list = those ids/rooms) -> emit "rooms" [result]
    sockets [ROOM|[TO]]       SIO_QUERY sockets (of ROOM, or all) -> emit "sockets" [result]
                              (both queries: [result, error] when SIO_RESULT has "error")
    disconnect-me             SIO_DISCONNECT_SOCKETS for the sender
    close-me                  the same with close true
    disconnect-room ROOM      SIO_DISCONNECT_SOCKETS for a room
    seq                       emit "seq" [the seq numbers seen for this socket]
    history                   emit "history" [[seq, ev, first arg, redelivered] of every
                              event of this socket]
    whoami                    emit "whoami" [worker name]
    bad-cmd KIND              send a malformed command, emit "error-reply" [the ERROR]
    disconnects [ID]          emit "disconnects" [every SIO_DISCONNECT seen, or ID's]
    connects [ID]             emit "connects" [every SIO_CONNECT seen, or ID's]
    ack-timeouts              emit "ack-timeouts" [every SIO_ACK_TIMEOUT seen]
    errors                    emit "errors" [every ERROR received]
    server-emit EV, ...       SIO_SERVER_EMIT EV (...) to the other nodes of the cluster
    server-emit-ack EV, ...   the same with req -> emit "server-result" [result] (or
                              [result, error] when SIO_SERVER_RESULT has "error")
    server-events             emit "server-events" [every SIO_SERVER_EVENT seen]
Server-side events (SIO_SERVER_EVENT) are recorded; one with req is answered with
SIO_SERVER_ACK [{"worker": NAME, "gw": GWID, "args": ARGS}], unless EV is "sse-mute".
An event that asked for an ack and was not answered by its handler (all but
"ack", the disconnects and bad-cmd) is acked with ["ok"] once its commands are
sent: the gateway handles one worker's messages in order, so the client's
callback runs after the commands took effect.

Emitter mode: HELLO with credit 0 and no namespaces, send each --emit (a
JSON SIO_EMIT body such as {"nsp":"/","ev":"news","args":[1],"to":["room"]}),
then a SYNC whose SYNC_REPLY proves the emits were handled; prints
"sio_test_worker: emitted N" on stderr, says BYE and exits 0.
"""
import argparse
import heapq
import json
import os
import signal
import sys
import time

import msgpack
import zmq

# The numbers, from bridge/br_proto.h (tests/lib/proto.py, next to this file).
from proto import (BYE, CREDIT, ERROR, HEARTBEAT, HELLO, SIO_ACCEPT, SIO_ACK,  # noqa: E402
                   SIO_ACK_TIMEOUT, SIO_CLIENT_ACK, SIO_CONNECT, SIO_DISCONNECT,
                   SIO_DISCONNECT_SOCKETS, SIO_EMIT, SIO_EVENT, SIO_JOIN, SIO_LEAVE,
                   SIO_QUERY, SIO_REJECT, SIO_RESULT, SIO_SET_SESSION, SYNC, SYNC_REPLY,
                   SIO_SERVER_EVENT, SIO_SERVER_RESULT, SIO_SERVER_EMIT, SIO_SERVER_ACK,
                   WELCOME)
EVENTS = (SIO_CONNECT, SIO_EVENT, SIO_DISCONNECT, SIO_CLIENT_ACK, SIO_ACK_TIMEOUT)


def log(msg):
    sys.stderr.write("sio_test_worker: %s\n" % msg)
    sys.stderr.flush()


def short(v, n=200):
    s = repr(v)
    return s if len(s) <= n else s[:n] + "..."


def as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


class Worker:
    def __init__(self, opts):
        self.o = opts
        self.name = opts.name
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        rid = os.urandom(16)
        self.sock.setsockopt(zmq.ROUTING_ID, bytes([rid[0] | 1]) + rid[1:])
        self.sock.setsockopt(zmq.LINGER, 500)
        self.sock.connect(opts.endpoint)
        self.nsp = []
        for n in opts.nsp + opts.open:
            if n not in self.nsp:
                self.nsp.append(n)
        self.gw = None
        self.gw_hb = 2.0
        self.last_tx = 0.0
        self.last_rx = time.monotonic()
        self.registered = False
        self.timers = []        # heap of (when, n, fn)
        self.ntimers = 0
        self.next_req = 1
        self.asks = {}          # req -> (id, nsp)
        self.queries = {}       # req -> (id, nsp, event name)
        self.seqs = {}          # socket id -> [seq, ...]
        self.history = {}       # socket id -> [[seq, ev, first arg, redelivered], ...]
        self.nsp_of = {}        # socket id -> nsp
        self.connects = []
        self.disconnects = []
        self.ack_timeouts = []
        self.errors = []
        self.server_events = []  # SIO_SERVER_EVENT seen (nsp, ev, args, ack)
        self.bad_waiting = []   # (id, nsp) waiting for an ERROR
        self.used = 0           # credit to return
        self.stop = False

    # ---- sending ----
    def send(self, t, **kw):
        m = {"v": 1, "t": t}
        m.update(kw)
        self.send_raw(msgpack.packb(m, use_bin_type=True))
        if self.o.verbose:
            log("-> %s" % short(m))

    def send_raw(self, *frames):
        self.sock.send_multipart(list(frames))
        self.last_tx = time.monotonic()

    def hello(self):
        m = {"name": self.name, "credit": self.o.credit, "hb": self.o.hb}
        if self.nsp:
            m["nsp"] = self.nsp
        if self.o.open:
            m["nsp_open"] = self.o.open
        self.send(HELLO, **m)

    def emit(self, nsp, ev, args, to=None, **kw):
        m = {"nsp": nsp, "ev": ev, "args": list(args)}
        if to is not None:
            m["to"] = as_list(to)
        m.update(kw)
        self.send(SIO_EMIT, **m)

    def later(self, ms, fn):
        self.ntimers += 1
        heapq.heappush(self.timers, (time.monotonic() + ms / 1000.0, self.ntimers, fn))

    # ---- receiving ----
    def handle(self, frame):
        try:
            m = msgpack.unpackb(frame, raw=False, strict_map_key=False)
        except Exception as e:  # noqa: BLE001 - a test tool reports and carries on
            log("undecodable frame from the gateway: %s" % e)
            return
        self.last_rx = time.monotonic()
        t = m.get("t")
        if self.o.verbose and t != HEARTBEAT:
            log("<- %s" % short(m))
        if t in EVENTS:
            self.used += 1
        if t == WELCOME:
            first = not self.registered
            self.registered = True
            self.gw_hb = (m.get("hb") or 2000) / 1000.0
            if m.get("gw") != self.gw or first:
                self.gw = m.get("gw")
                log("registered with gateway %s" % self.gw)
            self.on_welcome()
        elif t == HEARTBEAT:
            pass
        elif t == ERROR:
            self.on_error(m)
        elif t == BYE:
            self.registered = False
            log("gateway said BYE")
        elif t == SIO_CONNECT:
            self.on_connect(m)
        elif t == SIO_EVENT:
            self.seqs.setdefault(m["id"], []).append(m.get("seq"))
            args = m.get("args") or []
            self.history.setdefault(m["id"], []).append(
                [m.get("seq"), m.get("ev"), args[0] if args else None, bool(m.get("redelivered"))])
            self.on_event(m)
        elif t == SIO_DISCONNECT:
            self.seqs.setdefault(m["id"], []).append(m.get("seq"))
            self.disconnects.append({"id": m["id"], "nsp": m.get("nsp"),
                                     "reason": m.get("reason"), "seq": m.get("seq")})
        elif t == SIO_CLIENT_ACK:
            who = self.asks.pop(m.get("req"), None)
            if who:
                self.emit(who[1], "asked", [{"args": m.get("args")}], to=who[0])
        elif t == SIO_ACK_TIMEOUT:
            self.ack_timeouts.append({"id": m.get("id"), "req": m.get("req"),
                                      "reason": m.get("reason")})
            who = self.asks.pop(m.get("req"), None)
            if who and m.get("reason") != "disconnected":
                self.emit(who[1], "asked", [{"timeout": m.get("reason")}], to=who[0])
        elif t == SIO_SERVER_EVENT:
            self.server_events.append({"nsp": m.get("nsp"), "ev": m.get("ev"),
                                       "args": m.get("args"), "ack": "req" in m})
            if "req" in m and m.get("ev") != "sse-mute":
                self.send(SIO_SERVER_ACK, req=m["req"],
                          args=[{"worker": self.o.name, "gw": self.gw, "args": m.get("args")}])
        elif t == SIO_SERVER_RESULT or t == SIO_RESULT:
            q = self.queries.pop(m.get("req"), None)
            if q:
                # A cluster's partial answer carries "error": it follows the result.
                self.emit(q[1], q[2], [m.get("result")] + ([m["error"]] if "error" in m else []),
                          to=q[0])
            self.on_result(m)
        elif t == SYNC_REPLY:
            self.on_result(m)
        else:
            log("unexpected message %s" % short(m))

    def on_welcome(self):
        pass

    def on_result(self, m):
        pass

    def on_error(self, m):
        self.errors.append(m)
        if m.get("code") == 4:          # NOT_REGISTERED: say HELLO again
            self.registered = False
            self.hello()
            return
        if self.bad_waiting:
            sid, nsp = self.bad_waiting.pop(0)
            self.emit(nsp, "error-reply", [m], to=sid)
        else:
            log("gateway reports an error: %s" % short(m))

    def on_connect(self, m):
        sid, nsp, auth = m["id"], m.get("nsp"), m.get("auth")
        self.seqs[sid] = [m.get("seq")]
        self.nsp_of[sid] = nsp
        hs = m.get("hs") or {}
        self.connects.append({"id": sid, "nsp": nsp, "auth": auth, "reply": m.get("reply"),
                              "sid": m.get("sid"), "transport": hs.get("transport"), "eio": hs.get("eio"),
                              "seq": m.get("seq"), "moved": bool(m.get("moved")),
                              "recovered": bool(m.get("recovered")), "lost": bool(m.get("lost"))})
        if not m.get("reply"):
            return
        a = auth if isinstance(auth, dict) else {}
        if a.get("token") == "bad":
            self.send(SIO_REJECT, id=sid, data={"message": "bad token", "data": {"code": 42}})
        elif "reject" in a:
            self.send(SIO_REJECT, id=sid, data=a["reject"])
        elif a.get("reject_default"):
            self.send(SIO_REJECT, id=sid)
        elif a.get("never"):
            pass
        elif isinstance(a.get("delay"), (int, float)):
            self.later(a["delay"], lambda: self.accept(sid, a))
        else:
            self.accept(sid, a)

    def accept(self, sid, a):
        m = {"id": sid}
        if "name" in a:
            m["session"] = {"name": a["name"]}
        if isinstance(a.get("rooms"), list):
            m["rooms"] = a["rooms"]
        self.send(SIO_ACCEPT, **m)

    def query(self, sid, nsp, what, to, reply_ev):
        req = self.next_req
        self.next_req += 1
        self.queries[req] = (sid, nsp, reply_ev)
        m = {"req": req, "nsp": nsp, "what": what}
        if to is not None:
            m["to"] = as_list(to)
        self.send(SIO_QUERY, **m)

    def on_event(self, m):
        sid, nsp, ev, args = m["id"], m.get("nsp", "/"), m.get("ev"), m.get("args") or []
        acked = False
        a0 = args[0] if args else None
        if ev == "echo" or ev == "bin":
            self.emit(nsp, ev, args, to=sid)
        elif ev == "burst":
            for i in range(int(a0)):
                self.emit(nsp, args[1], [i], to=sid)
        elif ev == "ack":
            if "ack" in m:
                self.send(SIO_ACK, id=sid, nsp=nsp, ack=m["ack"], args=args)
            acked = True
        elif ev in ("join", "leave"):
            self.send(SIO_JOIN if ev == "join" else SIO_LEAVE, nsp=nsp, rooms=as_list(a0),
                      to=[sid])
        elif ev == "to-room":
            self.emit(nsp, args[1], args[2:], to=as_list(a0))
        elif ev == "to-room-volatile":
            self.emit(nsp, args[1], args[2:], to=as_list(a0), volatile=True)
        elif ev == "to-room-except-me":
            self.emit(nsp, args[1], args[2:], to=as_list(a0), **{"except": [sid]})
        elif ev == "broadcast":
            self.emit(nsp, a0, args[1:])
        elif ev == "broadcast-except-room":
            self.emit(nsp, args[1], args[2:], **{"except": as_list(a0)})
        elif ev == "ask":
            req = self.next_req
            self.next_req += 1
            self.asks[req] = (sid, nsp)
            kw = {"req": req}
            if len(args) > 1 and args[1] is not None:
                kw["timeout"] = int(args[1])
            self.emit(nsp, a0, args[2:], to=sid, **kw)
        elif ev == "ask-other":
            req = self.next_req
            self.next_req += 1
            self.asks[req] = (sid, nsp)
            kw = {"req": req}
            if len(args) > 2 and args[2] is not None:
                kw["timeout"] = int(args[2])
            self.emit(nsp, args[1], args[3:], to=a0, **kw)
        elif ev == "set-session":
            merge = bool(args[1]) if len(args) > 1 else False
            self.send(SIO_SET_SESSION, id=sid, nsp=nsp, session=a0 if a0 is not None else {},
                      merge=merge)
        elif ev == "get-session":
            self.emit(nsp, "session", [m.get("session")], to=sid)
        elif ev == "get-rooms":
            self.emit(nsp, "my-rooms", [m.get("rooms")], to=sid)
        elif ev == "rooms":
            to = [sid] if not args else a0
            self.query(sid, nsp, "rooms", to, "rooms")
        elif ev == "sockets":
            self.query(sid, nsp, "sockets", a0, "sockets")
        elif ev in ("disconnect-me", "close-me"):
            m2 = {"nsp": nsp, "to": [sid]}
            if ev == "close-me":
                m2["close"] = True
            self.send(SIO_DISCONNECT_SOCKETS, **m2)
            acked = True
        elif ev == "disconnect-room":
            self.send(SIO_DISCONNECT_SOCKETS, nsp=nsp, to=as_list(a0))
        elif ev == "seq":
            self.emit(nsp, "seq", [self.seqs.get(sid, [])], to=sid)
        elif ev == "history":
            self.emit(nsp, "history", [self.history.get(sid, [])], to=sid)
        elif ev == "whoami":
            self.emit(nsp, "whoami", [self.name], to=sid)
        elif ev == "bad-cmd":
            self.bad_cmd(sid, nsp, a0, m)
            acked = True
        elif ev == "disconnects":
            self.emit(nsp, "disconnects",
                      [[d for d in self.disconnects if a0 is None or d["id"] == a0]], to=sid)
        elif ev == "connects":
            self.emit(nsp, "connects",
                      [[c for c in self.connects if a0 is None or c["id"] == a0]], to=sid)
        elif ev == "ack-timeouts":
            self.emit(nsp, "ack-timeouts", [self.ack_timeouts], to=sid)
        elif ev == "errors":
            self.emit(nsp, "errors", [self.errors], to=sid)
        elif ev == "server-emit":
            self.send(SIO_SERVER_EMIT, nsp=nsp, ev=a0, args=args[1:])
        elif ev == "server-emit-ack":
            req = self.next_req
            self.next_req += 1
            self.queries[req] = (sid, nsp, "server-result")
            self.send(SIO_SERVER_EMIT, nsp=nsp, ev=a0, args=args[1:], req=req)
        elif ev == "server-events":
            self.emit(nsp, "server-events", [self.server_events], to=sid)
        if "ack" in m and not acked:
            self.send(SIO_ACK, id=sid, nsp=nsp, ack=m["ack"], args=["ok"])

    def bad_cmd(self, sid, nsp, kind, m):
        """Send a deliberately malformed command; the next ERROR goes back to sid."""
        pk = lambda d: msgpack.packb(d, use_bin_type=True)  # noqa: E731
        gone = self.gw + "x" * 20 if self.gw else "gone"
        cases = {
            "not-msgpack": [b"\xc1"],
            "not-map": [pk([1, 2, 3])],
            "empty": [b""],
            "no-version": [pk({"t": SIO_EMIT, "ev": "x", "args": []})],
            "bad-version": [pk({"v": 2, "t": SIO_EMIT, "ev": "x", "args": []})],
            "unknown-type": [pk({"v": 1, "t": 69})],
            "wrong-direction": [pk({"v": 1, "t": SIO_EVENT, "id": sid, "nsp": nsp, "seq": 0,
                                    "ev": "x", "args": []})],
            "two-frames": [pk({"v": 1, "t": HEARTBEAT}), b"extra"],
            "emit-no-ev": [pk({"v": 1, "t": SIO_EMIT, "nsp": nsp, "args": []})],
            "emit-ev-not-str": [pk({"v": 1, "t": SIO_EMIT, "nsp": nsp, "ev": 7, "args": []})],
            "emit-args-not-array": [pk({"v": 1, "t": SIO_EMIT, "nsp": nsp, "ev": "x",
                                        "args": "nope"})],
            "emit-req-many": [pk({"v": 1, "t": SIO_EMIT, "nsp": nsp, "ev": "x", "args": [],
                                  "req": 999, "to": [sid, sid]})],
            "emit-req-none": [pk({"v": 1, "t": SIO_EMIT, "nsp": nsp, "ev": "x", "args": [],
                                  "req": 999})],
            "ack-gone": [pk({"v": 1, "t": SIO_ACK, "id": gone, "nsp": nsp, "ack": 1,
                             "args": []})],
            "ack-no-args": [pk({"v": 1, "t": SIO_ACK, "id": sid, "nsp": nsp, "ack": 1})],
            "accept-connected": [pk({"v": 1, "t": SIO_ACCEPT, "id": sid})],
            "reject-gone": [pk({"v": 1, "t": SIO_REJECT, "id": gone})],
            "join-no-rooms": [pk({"v": 1, "t": SIO_JOIN, "nsp": nsp, "to": [sid]})],
            "join-no-to": [pk({"v": 1, "t": SIO_JOIN, "nsp": nsp, "rooms": ["r"]})],
            "join-gone": [pk({"v": 1, "t": SIO_JOIN, "nsp": nsp, "rooms": ["r"], "to": [gone]})],
            "disconnect-gone": [pk({"v": 1, "t": SIO_DISCONNECT_SOCKETS, "nsp": nsp,
                                    "to": [gone]})],
            "session-not-map": [pk({"v": 1, "t": SIO_SET_SESSION, "id": sid, "nsp": nsp,
                                    "session": [1]})],
            "session-gone": [pk({"v": 1, "t": SIO_SET_SESSION, "id": gone, "nsp": nsp,
                                 "session": {}})],
            "query-bad-what": [pk({"v": 1, "t": SIO_QUERY, "req": 1, "nsp": nsp,
                                   "what": "everything"})],
            "query-no-req": [pk({"v": 1, "t": SIO_QUERY, "nsp": nsp, "what": "rooms"})],
            "server-emit-bad-nsp": [pk({"v": 1, "t": SIO_SERVER_EMIT, "nsp": "chat", "ev": "x",
                                        "args": []})],
            "server-emit-no-ev": [pk({"v": 1, "t": SIO_SERVER_EMIT, "nsp": nsp, "args": []})],
            "server-ack-no-req": [pk({"v": 1, "t": SIO_SERVER_ACK, "args": []})],
        }
        frames = cases.get(kind)
        if frames is None:
            self.emit(nsp, "error-reply", [{"unknown-kind": kind}], to=sid)
            return
        self.bad_waiting.append((sid, nsp))
        self.send_raw(*frames)

    # ---- the loop ----
    def run(self):
        self.hello()
        hb = self.o.hb / 1000.0
        last_hello = time.monotonic()
        while not self.stop:
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, fn = heapq.heappop(self.timers)
                fn()
            if not self.registered and now - last_hello >= hb:
                self.hello()
                last_hello = now
            if self.registered and now - self.last_rx > 4 * self.gw_hb:
                log("gateway silent for 4 intervals: registering again")
                self.registered = False
                self.hello()
                last_hello = now
            if now - self.last_tx >= hb:
                self.send(HEARTBEAT)
            wait = hb - (time.monotonic() - self.last_tx)
            if self.timers:
                wait = min(wait, self.timers[0][0] - time.monotonic())
            wait = max(0.0, min(wait, hb))
            # At most 200 ms per poll, so that SIGTERM is seen soon.
            if self.sock.poll(int(min(wait, 0.2) * 1000) + 1):
                while True:
                    try:
                        frame = self.sock.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self.handle(frame)
                    if self.used >= max(1, self.o.credit // 2):
                        self.send(CREDIT, n=self.used)
                        self.used = 0
            if self.used:
                self.send(CREDIT, n=self.used)
                self.used = 0
        self.send(BYE)
        self.sock.close()
        self.ctx.term()


class Emitter(Worker):
    """Registers with credit 0 and no namespaces, sends the emits, proves them handled."""

    def __init__(self, opts):
        super().__init__(opts)
        self.nsp = []
        self.done_req = None

    def hello(self):
        self.send(HELLO, name=self.name, credit=0, hb=self.o.hb)

    def on_welcome(self):
        if self.done_req is not None:
            return
        for e in self.o.emit:
            body = json.loads(e)
            self.send(SIO_EMIT, **body)
        self.done_req = 424242
        self.send(SYNC, req=self.done_req)

    def on_result(self, m):
        if m.get("req") == self.done_req:
            log("emitted %d" % len(self.o.emit))
            self.stop = True

    def on_error(self, m):
        log("gateway reports an error: %s" % short(m))
        self.errors.append(m)
        if m.get("code") == 4:
            self.hello()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("endpoint")
    ap.add_argument("--name", default="sio_test_worker-%d" % os.getpid())
    ap.add_argument("--nsp", default="/", help="comma-separated namespaces (patterns allowed)")
    ap.add_argument("--open", default="", help="comma-separated namespaces needing no round trip")
    ap.add_argument("--credit", type=int, default=64)
    ap.add_argument("--hb", type=int, default=1000, help="heartbeat interval, ms")
    ap.add_argument("--emitter", action="store_true")
    ap.add_argument("--emit", action="append", default=[], help="emitter: a SIO_EMIT body (JSON)")
    ap.add_argument("-v", "--verbose", action="store_true")
    o = ap.parse_args()
    o.nsp = [x for x in o.nsp.split(",") if x]
    o.open = [x for x in o.open.split(",") if x]
    w = Emitter(o) if o.emitter else Worker(o)

    def on_signal(signum, frame):
        w.stop = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    w.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
