"""The Python worker module (sdk/python/siogate) against the real gateway,
with Debian's python3-socketio client over both transports: events, acks
both ways (and their timeouts), binary both ways, rooms with skip_sid and
broadcasts, refused connects with data, session data, disconnects from both
sides, class-based namespaces, error handlers, call() from a handler and
from a thread, an Emitter in another process, two workers on one namespace
(per-socket order by seq), raw Engine.IO handlers, a gateway restart, and no
worker at all.

The workers are this file run again in worker mode (``--worker KIND
ENDPOINT``); they report what their handlers saw as JSON lines on stdout.
Every wait has a deadline; nothing sleeps to let things happen."""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.environ.get("TOP_SRCDIR") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from pyclient import Client  # noqa: E402  (a recording python-socketio client)

WAIT = 5.0
SEQ_CLIENTS = 4
SEQ_EVENTS = 40


# ----------------------------------------------------------------------
# Worker mode
# ----------------------------------------------------------------------

def report(**kw):
    print(json.dumps(kw), flush=True)


def main_worker(endpoint):
    """The worker most tests talk to: "/", "/chat" (class-based), "/open"
    (no connect handler: the gateway accepts at once) and raw Engine.IO."""
    import siogate

    worker = siogate.Worker(endpoint, name="pymain", heartbeat=300)

    @worker.event
    def connect(sid, environ, auth):
        auth = auth or {}
        how = auth.get("reject")
        if how == "false":
            return False
        if how == "dict":
            raise siogate.ConnectionRefusedError({"message": "nope", "code": 42})
        if how == "str":
            raise siogate.ConnectionRefusedError("bad token")
        if how == "multi":
            raise siogate.ConnectionRefusedError("a", 2)
        if how == "crash":
            raise RuntimeError("connect handler bug")
        worker.save_session(sid, {"user": auth.get("user"), "count": 0})
        worker.enter_room(sid, "everyone")
        # Sent before the accept leaves: the module holds it until after.
        worker.emit("welcome", {"sid": sid, "addr": environ.get("REMOTE_ADDR"),
                                "q": environ["siogate.query"].get("tag"),
                                "rooms": worker.rooms(sid)}, to=sid)
        report(ev="connect", sid=sid, transport=environ.get("siogate.transport"))

    @worker.event
    def disconnect(sid, reason):
        report(ev="disconnect", sid=sid, reason=reason, nsp="/")

    @worker.on("echo")
    def echo(sid, *args):
        return args                         # a tuple: several ack arguments

    @worker.on("echo_event")
    def echo_event(sid, *args):
        worker.emit("echoed", args, to=sid)

    @worker.on("none")
    def none(sid):
        return None                         # an empty ack

    @worker.on("count")
    def count(sid):
        with worker.session(sid) as s:
            s["count"] += 1
            return s["count"]

    @worker.on("whoami")
    def whoami(sid):
        return {"session": worker.get_session(sid), "request_sid": siogate.request.sid == sid,
                "seq": siogate.current_event().seq}

    @worker.on("join")
    def join(sid, room):
        worker.join_room(sid, room)
        return worker.rooms(sid)

    @worker.on("leave")
    def leave(sid, room):
        worker.leave_room(sid, room)
        return worker.rooms(sid)

    @worker.on("say")
    def say(sid, room, text):
        worker.emit("said", text, room=room, skip_sid=sid)
        return "sent"

    @worker.on("shout")
    def shout(sid, text, include_self):
        worker.emit("shouted", text, include_self=include_self)
        return "sent"

    @worker.on("send_me")
    def send_me(sid, text):
        worker.send(text, to=sid)

    @worker.on("ask")
    def ask(sid, x, timeout, target=None):
        def answer(*args):
            worker.emit("answer", ["ack"] + list(args), to=sid)

        def no_answer(e):
            worker.emit("answer", ["timeout", e.reason], to=sid)
        worker.emit("question", x, to=target or sid, callback=answer, timeout=timeout,
                    error_callback=no_answer)

    @worker.on("call_here")
    def call_here(sid, x):
        return worker.call("question", x, to=sid, timeout=3)

    @worker.on("call_thread")
    def call_thread(sid, x):
        def task():
            try:
                r = worker.call("question", x, to=sid, timeout=3)
            except siogate.AckTimeout as e:
                r = "timeout " + e.reason
            worker.emit("answer", ["thread", r], to=sid)
        worker.start_background_task(task)

    @worker.on("kick")
    def kick(sid):
        worker.disconnect(sid)

    @worker.on("kill")
    def kill(sid):
        worker.disconnect(sid, close=True)

    @worker.on("upd")
    def upd(sid, changes):
        worker.update_session(sid, changes)
        return worker.get_session(sid)

    @worker.on("who")
    def who(sid, room):
        return sorted(s["id"] for s in worker.sockets("/", to=room))

    @worker.on("close_room")
    def close_room(sid, room):
        worker.close_room(room)
        return worker.rooms(sid)

    @worker.on("echo", namespace="/dyn-*")
    def dyn_echo(sid, x):
        return siogate.current_event().namespace, x

    @worker.on("boom")
    def boom(sid, x):
        raise ValueError("boom %s" % x)

    @worker.on_error("/")
    def on_error(e):
        ev = siogate.current_event()
        report(ev="error", error=repr(e), event=ev.name, nsp=ev.namespace)
        return {"error": str(e), "event": ev.name, "args": list(ev.args), "sid": ev.sid}

    @worker.on_error_default
    def on_error_default(e):
        ev = siogate.current_event()
        report(ev="default_error", error=repr(e), event=ev.event["message"],
               nsp=ev.namespace)
        return "default handled"

    class Chat(siogate.Namespace):
        def on_connect(self, sid, environ, auth):
            if (auth or {}).get("reject"):
                raise siogate.ConnectionRefusedError("no chat for you")
            self.enter_room(sid, "lobby")
            self.save_session(sid, {"nick": (auth or {}).get("nick")})

        def on_disconnect(self, sid, reason):
            report(ev="disconnect", sid=sid, reason=reason, nsp="/chat")

        def on_hello(self, sid, name):
            nick = self.get_session(sid)["nick"]
            self.emit("hi", "%s says hello to %s" % (nick, name), room="lobby")
            return "ok"

        def on_rooms(self, sid):
            return self.rooms(sid)

        def on_fail(self, sid):
            raise KeyError("chat failure")

    worker.register_namespace(Chat("/chat"))

    @worker.on("ping", namespace="/open")
    def open_ping(sid, x):
        return "pong", x

    @worker.on("*", namespace="/open")
    def open_any(event, sid, *args):
        return "caught " + event

    @worker.on_eio_open("/eio/")
    def eio_open(sid, environ):
        report(ev="eio_open", sid=sid, transport=environ.get("siogate.transport"))

    @worker.on_eio_message("/eio/")
    def eio_message(sid, data):
        worker.eio_send(sid, data if isinstance(data, bytes) else "echo:" + data)

    @worker.on_eio_close("/eio/")
    def eio_close(sid, reason):
        report(ev="eio_close", sid=sid, reason=reason)

    report(ev="starting")
    worker.run()
    report(ev="stopped")


def seq_worker(endpoint, name):
    """One of two workers of "/seq": reports the seq of every event."""
    import siogate

    worker = siogate.Worker(endpoint, name=name, heartbeat=300)

    @worker.on("n", namespace="/seq")
    def n(sid, i):
        report(ev="seq", w=name, sid=sid, seq=siogate.current_event().seq, i=i)
        return name

    @worker.on("crash", namespace="/seq")
    def crash(sid):
        raise RuntimeError("no error handler here")

    @worker.on("disconnect", namespace="/seq")
    def disconnect(sid, reason):
        report(ev="seq_disconnect", w=name, sid=sid, seq=siogate.current_event().seq)

    worker.run()


def multi_worker(endpoints):
    """One worker registered with two gateways."""
    import siogate

    worker = siogate.Worker(endpoints.split(","), name="multi", heartbeat=300)

    @worker.on("connect", namespace="/multi")
    def connect(sid, environ, auth):
        worker.enter_room(sid, "all")

    @worker.on("hello", namespace="/multi")
    def hello(sid, text):
        worker.emit("hello", text, room="all", skip_sid=sid, namespace="/multi")
        return sorted(s["id"] for s in worker.sockets("/multi"))

    @worker.on("poke", namespace="/multi")
    def poke(sid, other):
        return worker.call("question", sid, to=other, namespace="/multi", timeout=3)

    report(ev="starting")
    worker.run()


def curve_worker(endpoint):
    """A worker whose CURVE keys come from $SIOGATE_CURVE_*."""
    import siogate

    worker = siogate.Worker(endpoint, name="curvy", heartbeat=300)

    @worker.on("echo")
    def echo(sid, x):
        return x

    worker.run()


def emitter_main(endpoint, sid):
    """Emit from a process that serves nothing, the way a cron job would."""
    import siogate

    siogate.Emitter(endpoint).emit("news", {"x": 1}, namespace="/chat")   # one-liner
    with siogate.Emitter(endpoint, name="cron", confirm=False) as em:
        em.emit("news", {"x": 2}, room="lobby", namespace="/chat")
        em.emit("news", (b"\x00\xff", 3), to=sid, namespace="/chat")
        em.enter_room(sid, "from-emitter", namespace="/chat")
        em.flush()
        print(json.dumps({"rooms": em.rooms(sid, namespace="/chat"),
                          "sockets": len(em.sockets("/chat"))}), flush=True)


# ----------------------------------------------------------------------
# Test mode
# ----------------------------------------------------------------------

class Proc:
    """A child process whose stdout lines are JSON reports."""

    def __init__(self, *args):
        self.p = subprocess.Popen([sys.executable, os.path.abspath(__file__)] + list(args),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.q = queue.Queue()
        self.seen = []
        self.err = []
        threading.Thread(target=self._read, args=(self.p.stdout, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.p.stderr, False), daemon=True).start()

    def _read(self, f, out):
        for line in f:
            line = line.decode("utf-8", "replace").rstrip("\n")
            if out:
                try:
                    self.q.put(json.loads(line))
                except ValueError:
                    self.err.append(line)
            else:
                self.err.append(line)

    def expect(self, timeout=WAIT, **match):
        """The first report (new or already seen) whose fields match."""
        for r in self.seen:
            if all(r.get(k) == v for k, v in match.items()):
                self.seen.remove(r)
                return r
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                r = self.q.get(timeout=left)
            except queue.Empty:
                return None
            if all(r.get(k) == v for k, v in match.items()):
                return r
            self.seen.append(r)

    def seen_one(self, timeout=WAIT, **match):
        """Wait until a matching report has arrived; leave it in place."""
        r = self.expect(timeout, **match)
        if r is not None:
            self.seen.append(r)
        return r

    def all(self, timeout=0.0, **match):
        """Every report so far (waiting up to timeout for more) that matches."""
        end = time.monotonic() + timeout
        while True:
            try:
                self.seen.append(self.q.get(timeout=max(0.0, end - time.monotonic())))
            except queue.Empty:
                break
        return [r for r in self.seen if all(r.get(k) == v for k, v in match.items())]

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def main():
    from tap import Gateway, done, need_gateway_and_socketio, ok
    need_gateway_and_socketio()
    gw = Gateway("--gateway-id", "PyMo", "--bridge-heartbeat", "300",
                 "--engineio-path", "/eio/", "--log-level", "info")
    procs = []
    try:
        run(gw, procs, ok)
    finally:
        for p in procs:
            p.stop()
        for p in procs:
            if p.err and any("Traceback" in line for line in p.err) and \
                    not any("no error handler here" in line for line in p.err):
                print("# worker stderr:\n# " + "\n# ".join(p.err[-40:]))
        gw.stop()
    done()


def run(gw, procs, ok):
    import socketio
    url = "http://127.0.0.1:%d" % gw.port

    # No worker at all: Node's answer for an unknown namespace.
    c = Client(url, transport="polling")
    try:
        c.connect(0.5)
        connected = True
    except socketio.exceptions.ConnectionError:
        connected = False
    err = c.wait("connect_error")
    ok(not connected and err == ({"message": "Invalid namespace"},),
       "no worker: connect fails, connect_error gets Invalid namespace (%r)" % (err,))
    c.close()

    w = Proc("--worker", "main", gw.bridge)
    procs.append(w)
    ok(w.expect(ev="starting") is not None and
       gw.wait_log(r"worker \d+ \(pymain\) registered", WAIT) is not None,
       "the worker registers (HELLO/WELCOME)")

    for transport in ("polling", "websocket"):
        events_acks_binary(url, transport, w, ok)

    rooms_and_broadcasts(url, w, ok)
    refused_connects(url, w, ok)
    server_acks(url, w, ok)
    class_based_and_errors(url, w, ok)
    emitter_process(url, gw, w, ok, procs)
    two_workers(url, gw, ok, procs)
    more_api(url, w, ok)
    raw_engineio(gw, w, ok)
    two_gateways(gw, ok, procs)
    curve(ok, procs)
    gateway_restart(gw, w, ok, procs)


def events_acks_binary(url, transport, w, ok):
    import socketio.packet
    t = "[%s] " % transport
    c = Client(url, transport=transport, auth={"user": "ann"}, query="tag=t1").connect()
    sid = c.sid()
    welcome = c.wait("welcome")
    ok(welcome and welcome[0]["sid"] == sid and welcome[0]["addr"] == "127.0.0.1" and
       welcome[0]["q"] == "t1" and welcome[0]["rooms"] == [sid, "everyone"],
       t + "connect handler: environ, auth; its emit and rooms() come after the accept (%r)"
       % (welcome,))
    r = w.expect(ev="connect", sid=sid)
    ok(r is not None and r["transport"] == transport, t + "connect seen by the worker: %r" % (r,))

    ok(c.call("echo", (1, "two", {"3": [True, None]})) == (1, "two", {"3": [True, None]}),
       t + "event with an ack: the handler's tuple is the ack's arguments")
    ok(c.call("none") is None, t + "a handler returning None gives an empty ack")
    blob = bytes(range(256))
    got = c.call("echo", (blob, {"nested": b"\x01\x02"}))
    ok(got == (blob, {"nested": b"\x01\x02"}),
       t + "binary both ways: client bytes reach the handler and come back in the ack")
    c.c.emit("echo_event", ("x", b"\x00bin"))
    ev = c.wait("echoed")
    ok(ev == ("x", b"\x00bin"), t + "a worker emit carries binary to the client (%r)" % (ev,))
    c.c.emit("send_me", "plain message")
    ok(c.wait("message") == ("plain message",), t + "send() emits 'message'")

    ok(c.call("count") == 1 and c.call("count") == 2 and c.call("count") == 3,
       t + "session data: with worker.session() counts across events")
    me = c.call("whoami")
    ok(me and me["session"] == {"user": "ann", "count": 3} and me["request_sid"] is True,
       t + "session saved in connect travels with events; siogate.request.sid (%r)" % (me,))

    c.c.emit("kick")
    ok(c.wait("disconnect") is not None, t + "server-side disconnect reaches the client")
    r = w.expect(ev="disconnect", sid=sid)
    ok(r and r["reason"] == "server namespace disconnect",
       t + "worker's disconnect handler: reason %r" % (r and r["reason"],))
    c.close()

    # python-socketio 5.7 has no per-namespace disconnect, and its
    # disconnect() may close the transport before its DISCONNECT packet
    # leaves: send the packet by hand for the exact reason.
    c = Client(url, transport=transport, auth={"user": "bob"}).connect()
    sid = c.sid()
    c.c._send_packet(c.c.packet_class(socketio.packet.DISCONNECT, namespace="/"))
    r = w.expect(ev="disconnect", sid=sid)
    ok(r and r["reason"] == "client namespace disconnect",
       t + "client DISCONNECT packet: reason %r" % (r and r["reason"],))
    c.close()
    c = Client(url, transport=transport, auth={"user": "cy"}).connect()
    sid = c.sid()
    c.close()
    r = w.expect(ev="disconnect", sid=sid)
    ok(r and r["reason"] in ("client namespace disconnect", "transport close"),
       t + "client disconnect(): reason %r" % (r and r["reason"],))


def rooms_and_broadcasts(url, w, ok):
    a = Client(url, auth={"user": "a"}).connect()
    b = Client(url, auth={"user": "b"}, transport="polling").connect()
    c = Client(url, auth={"user": "c"}).connect()
    for x in (a, b, c):
        x.wait("welcome")
    ra = a.call("join", "blue")
    ok(ra == [a.sid(), "everyone", "blue"], "enter_room then rooms(): %r" % (ra,))
    ok(b.call("join", "blue") == [b.sid(), "everyone", "blue"], "b joins blue too")
    ok(a.call("say", ("blue", "hello blue")) == "sent", "a says hello to blue, skipping itself")
    ok(b.wait("said") == ("hello blue",), "room member b gets it")
    # c is not in blue and a is skipped: a round trip through the same
    # worker orders the checks after the emit.
    c.call("none")
    a.call("none")
    ok(not c.has("said") and not a.has("said"), "non-member c and skipped sender a get nothing")
    ok(b.call("leave", "blue") == [b.sid(), "everyone"], "leave_room then rooms()")
    a.call("say", ("blue", "again"))
    b.call("none")
    ok(not b.has("said"), "after leave_room, b no longer gets room emits")

    a.call("shout", ("to all", True))
    ok(all(x.wait("shouted") == ("to all",) for x in (a, b, c)),
       "emit without to: broadcast to the whole namespace, sender included")
    a.call("shout", ("not me", False))
    ok(b.wait("shouted") == ("not me",) and c.wait("shouted") == ("not me",),
       "include_self=False: the others get it")
    a.call("none")
    ok(not a.has("shouted"), "include_self=False: the sender does not")
    for x in (a, b, c):
        x.close()


def refused_connects(url, w, ok):
    import socketio
    cases = [("false", ({"message": "Not authorized"},)),
             ("dict", ({"message": "nope", "code": 42},)),
             ("str", ({"message": "bad token"},)),
             ("multi", ("a", 2)),
             ("crash", ({"message": "Internal server error"},))]
    for how, want in cases:
        c = Client(url, auth={"reject": how}, transport="polling")
        try:
            c.connect(0.5)
            raised = False
        except socketio.exceptions.ConnectionError:
            raised = True
        got = c.wait("connect_error")
        ok(raised and got == want,
           "connect refused (%s): ConnectionError, connect_error data %r" % (how, got))
        c.close()
    r = w.expect(ev="error", event="connect")
    ok(r is not None and "connect handler bug" in r["error"],
       "an exception in connect goes to the error handler (%r)" % (r,))


def server_acks(url, w, ok):
    c = Client(url, auth={"user": "q"}).connect()
    c.wait("welcome")
    c.c.emit("ask", (21, 2))
    ok(c.wait("question") == (21,) and c.wait("answer") == (["ack", 42, "twice"],),
       "emit with callback: the callback gets the client's ack arguments")
    ok(c.call("call_here", 5) == (10, "twice"),
       "call() from inside a handler returns the client's ack")
    c.c.emit("call_thread", 7)
    ok(c.wait("answer", pred=lambda a: a[0][0] == "thread") == (["thread", [14, "twice"]],),
       "call() from a background task")
    old = c.sid()
    c.close()

    slow = Client(url, auth={"user": "slow"}, delay=1.2).connect()
    slow.wait("welcome")
    slow.c.emit("ask", (1, 0.3))
    ans = slow.wait("answer", timeout=WAIT)
    ok(ans == (["timeout", "timeout"],),
       "no ack within the timeout: error_callback(AckTimeout) with reason timeout (%r)" % (ans,))
    slow.c.emit("ask", (1, 1, old))
    ans = slow.wait("answer", timeout=WAIT)
    ok(ans == (["timeout", "disconnected"],),
       "callback emit to a socket that is gone: AckTimeout reason disconnected (%r)" % (ans,))
    slow.close()


def class_based_and_errors(url, w, ok):
    import socketio
    a = Client(url, namespaces=("/", "/chat"), auth={"nick": "ann", "user": "ann"}).connect()
    b = Client(url, namespaces=("/chat",), auth={"nick": "bob"}, transport="polling").connect()
    ok(a.call("rooms", ns="/chat") == [a.sid("/chat"), "lobby"],
       "class-based on_connect joined lobby (rooms() from a Namespace)")
    ok(a.call("hello", "world", ns="/chat") == "ok", "on_hello returns the ack")
    ok(a.wait("hi", ns="/chat") == ("ann says hello to world",) and
       b.wait("hi", ns="/chat") == ("ann says hello to world",),
       "self.emit(room=...) from a Namespace reaches the room; session from on_connect")
    got = a.call("boom", 17)
    ok(got == {"error": "boom 17", "event": "boom", "args": [17], "sid": a.sid()},
       "@on_error('/'): gets the exception, current_event() names the event, its return "
       "is the ack (%r)" % (got,))
    ok(a.call("fail", ns="/chat") == "default handled",
       "@on_error_default handles /chat")
    r = w.expect(ev="default_error", event="fail")
    ok(r and r["nsp"] == "/chat" and "chat failure" in r["error"],
       "the default error handler sees the namespace and event (%r)" % (r,))
    ok(a.call("echo", "still alive") == "still alive", "the worker keeps going")
    c = Client(url, namespaces=("/chat",), auth={"reject": True})
    try:
        c.connect(0.5)
        refused = False
    except socketio.exceptions.ConnectionError:
        refused = True
    ok(refused and c.wait("connect_error", ns="/chat") == ({"message": "no chat for you"},),
       "a Namespace's on_connect refuses with ConnectionRefusedError")
    c.close()
    o = Client(url, namespaces=("/open",)).connect()
    ok(o.call("ping", 3, ns="/open") == ("pong", 3),
       "a namespace without connect handler (nsp_open) serves events")
    ok(o.call("whatever", ns="/open") == "caught whatever", "catch-all handler '*'")
    o.close()
    a.close()
    b.close()


def emitter_process(url, gw, w, ok, procs):
    c = Client(url, namespaces=("/chat",), auth={"nick": "em"}).connect()
    sid = c.sid("/chat")
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--emitter", gw.bridge, sid],
                       capture_output=True, timeout=30)
    ok(p.returncode == 0, "the Emitter process exits 0 (%s)" % p.stderr.decode()[-300:])
    ok(c.wait("news", ns="/chat") == ({"x": 1},),
       "Emitter().emit(...) one-liner delivers before the process exits")
    ok(c.wait("news", ns="/chat") == ({"x": 2},), "a room emit from the emitter")
    ok(c.wait("news", ns="/chat") == (b"\x00\xff", 3), "binary to one socket from the emitter")
    try:
        out = json.loads(p.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        out = None
    ok(out and out["rooms"] == [sid, "lobby", "from-emitter"] and out["sockets"] >= 1,
       "emitter enter_room, rooms() and sockets() queries (%r)" % (out,))
    c.close()


def two_workers(url, gw, ok, procs):
    wa = Proc("--worker", "seq", gw.bridge, "seqA")
    wb = Proc("--worker", "seq", gw.bridge, "seqB")
    procs += [wa, wb]
    ok(gw.wait_log(r"\(seqA\) registered", WAIT) and gw.wait_log(r"\(seqB\) registered", WAIT),
       "two workers serve /seq")
    clients = [Client(url, namespaces=("/seq",), transport=("websocket", "polling")[i % 2]).connect()
               for i in range(SEQ_CLIENTS)]
    for c in clients:
        for i in range(SEQ_EVENTS):
            c.c.emit("n", i, namespace="/seq")
    owners = [c.call("n", SEQ_EVENTS, ns="/seq") for c in clients]
    ok(set(owners) == {"seqA", "seqB"}, "sockets spread over both workers (%r)" % (owners,))
    good = True
    for c, owner in zip(clients, owners):
        sid = c.sid("/seq")
        (wa if owner == "seqA" else wb).seen_one(sid=sid, ev="seq", i=SEQ_EVENTS)
        recs = (wa if owner == "seqA" else wb).all(sid=sid, ev="seq")
        other = (wb if owner == "seqA" else wa).all(sid=sid, ev="seq")
        seqs = [r["seq"] for r in recs]
        if other or [r["i"] for r in recs] != list(range(SEQ_EVENTS + 1)) or \
                seqs != list(range(1, SEQ_EVENTS + 2)):
            good = False
            print("# %s on %s: other=%d i=%r seq=%r" % (sid, owner, len(other),
                                                         [r["i"] for r in recs], seqs))
    ok(good, "per socket: every event at its one worker, in order, seq 1..%d after connect 0"
       % (SEQ_EVENTS + 1))
    c = clients[0]
    c.c.emit("crash", namespace="/seq")
    ok(c.call("n", 99, ns="/seq") == owners[0],
       "an exception without error handler is logged and the worker keeps running")
    # Disconnect seq: after connect (0) and every event of the socket.
    want = {c.sid("/seq"): SEQ_EVENTS + 2 for c in clients}
    want[clients[0].sid("/seq")] += 2
    for c in clients:
        c.close()
    disc = []
    end = time.monotonic() + WAIT
    while len(disc) < SEQ_CLIENTS and time.monotonic() < end:
        disc = wa.all(timeout=0.05, ev="seq_disconnect") + wb.all(timeout=0.05, ev="seq_disconnect")
    got = {r["sid"]: r["seq"] for r in disc}
    ok(len(disc) == SEQ_CLIENTS and got == want,
       "one disconnect per socket, its seq after all the events (%r vs %r)" % (got, want))
    for p in (wa, wb):
        ok(p.stop() == 0, "worker %s stops on SIGTERM with exit 0" % p.p.args[-1])
    ok(any("no error handler here" in line for line in wa.err + wb.err),
       "the unhandled exception was logged")


def more_api(url, w, ok):
    a = Client(url, namespaces=("/", "/chat", "/dyn-7"), auth={"user": "m", "nick": "m"}).connect()
    b = Client(url, auth={"user": "n"}).connect()
    a.wait("welcome")
    got = a.call("upd", {"k": [1, 2]})
    ok(got == {"user": "m", "count": 0, "k": [1, 2]}, "update_session merges (%r)" % (got,))
    me = a.call("whoami")
    ok(me and me["session"] == {"user": "m", "count": 0, "k": [1, 2]},
       "the merged session comes back from the gateway with the next event")
    a.call("join", "green")
    b.call("join", "green")
    ok(a.call("who", "green") == sorted([a.sid(), b.sid()]), "sockets(to=room) query")
    ok(a.call("close_room", "green") == [a.sid(), "everyone"] and
       b.call("who", "green") == [], "close_room empties the room")
    ok(a.call("echo", 5, ns="/dyn-7") == ("/dyn-7", 5),
       "a pattern namespace '/dyn-*' serves '/dyn-7'")
    a.c.emit("kill")
    ok(a.wait("disconnect", ns="/chat") is not None and a.wait("disconnect") is not None,
       "disconnect(close=True) closes the whole connection, every namespace")
    a.close()
    b.close()


def two_gateways(gw, ok, procs):
    from tap import Gateway
    g2 = Gateway("--gateway-id", "Gw2x", "--bridge-heartbeat", "300")
    g3 = Gateway("--gateway-id", "Gw3x", "--bridge-heartbeat", "300")
    try:
        m = Proc("--worker", "multi", g2.bridge + "," + g3.bridge)
        procs.append(m)
        ok(g2.wait_log(r"\(multi\) registered", WAIT) and g3.wait_log(r"\(multi\) registered", WAIT),
           "one worker registers with two gateways")
        a = Client("http://127.0.0.1:%d" % g2.port, namespaces=("/multi",)).connect()
        b = Client("http://127.0.0.1:%d" % g3.port, namespaces=("/multi",)).connect()
        ids = a.call("hello", "from a", ns="/multi")
        ok(ids == sorted([a.sid("/multi"), b.sid("/multi")]),
           "sockets() merges the answers of both gateways (%r)" % (ids,))
        ok(b.wait("hello", ns="/multi") == ("from a",),
           "a room emit reaches the room's sockets on every gateway")
        got = a.call("poke", b.sid("/multi"), ns="/multi")
        ok(got == ("%s" % a.sid("/multi") * 2, "twice"),
           "call() to a socket of the other gateway is routed by its id (%r)" % (got,))
        a.close()
        b.close()
        ok(m.stop() == 0, "the two-gateway worker stops with exit 0")
    finally:
        g2.stop()
        g3.stop()


def raw_engineio(gw, w, ok):
    from tap import get, post
    st, body = get(gw.port, "/eio/?EIO=4&transport=polling")
    sid = json.loads(body[1:])["sid"] if st == 200 else None
    r = w.expect(ev="eio_open", sid=sid)
    ok(r and r["transport"] == "polling", "raw Engine.IO: on_eio_open")
    post(gw.port, "/eio/?EIO=4&transport=polling&sid=%s" % sid, "4hello\x1ebAQI=")
    got = b""
    end = time.monotonic() + WAIT
    while not (b"echo:hello" in got and b"bAQI=" in got) and time.monotonic() < end:
        st, body = get(gw.port, "/eio/?EIO=4&transport=polling&sid=%s" % sid)
        got += body + b"\x1e"
    ok(b"4echo:hello" in got and b"bAQI=" in got,
       "on_eio_message + eio_send echo text and binary (%r)" % (got,))
    post(gw.port, "/eio/?EIO=4&transport=polling&sid=%s" % sid, "1")
    r = w.expect(ev="eio_close", sid=sid)
    ok(r is not None, "on_eio_close: %r" % (r and r["reason"],))


def curve(ok, procs):
    import tempfile
    from tap import Gateway
    import siogate

    def keypair():
        out = subprocess.run([os.environ["SIOGATE"], "--curve-keygen"], capture_output=True,
                             text=True, timeout=10).stdout
        kv = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        return kv.get("public"), kv.get("secret")
    spub, ssec = keypair()
    wpub, wsec = keypair()
    if not spub or not wpub:
        ok(False, "siogate --curve-keygen prints a key pair")
        return
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "server.key"), "w") as f:
        f.write("secret: %s\n" % ssec)
    with open(os.path.join(d, "authorized"), "w") as f:
        f.write("%s\n" % wpub)
    g = Gateway("--gateway-id", "Curv", "--bridge-heartbeat", "300",
                "--curve-secret-key-file", os.path.join(d, "server.key"),
                "--curve-authorized-keys", os.path.join(d, "authorized"))
    try:
        env = dict(os.environ, SIOGATE_CURVE_SERVERKEY=spub, SIOGATE_CURVE_PUBLICKEY=wpub,
                   SIOGATE_CURVE_SECRETKEY=wsec)
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", "curve",
                              g.bridge], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        ok(g.wait_log(r"\(curvy\) registered", WAIT) is not None,
           "CURVE: a worker with keys from $SIOGATE_CURVE_* registers")
        c = Client("http://127.0.0.1:%d" % g.port).connect()
        ok(c.call("echo", "secret") == "secret", "CURVE: events flow")
        c.c.on("news", lambda x: c._add("/", "news", (x,)))
        siogate.Emitter(g.bridge, curve=(spub, wpub, wsec), timeout=5).emit("news", 1)
        ok(c.wait("news") == (1,), "CURVE: an Emitter with curve= keys delivers")
        try:
            siogate.Emitter(g.bridge, timeout=1).emit("news", 2)
            refused = False
        except siogate.GatewayUnavailable:
            refused = True
        ok(refused, "CURVE: an Emitter without keys gets no WELCOME (GatewayUnavailable)")
        c.close()
        p.terminate()
        ok(p.wait(10) == 0, "CURVE worker stops with exit 0")
    finally:
        g.stop()


def gateway_restart(gw, w, ok, procs):
    from tap import Gateway
    gw.stop()
    gw2 = Gateway("--gateway-id", "PyM2", "--bridge-heartbeat", "300",
                  "--engineio-path", "/eio/", bridge=gw.bridge)
    try:
        ok(gw2.wait_log(r"worker \d+ \(pymain\) registered", WAIT) is not None,
           "after a gateway restart the worker registers again by itself")
        url = "http://127.0.0.1:%d" % gw2.port
        c = Client(url, auth={"user": "again"}).connect()
        ok(c.sid().startswith("PyM2") and c.call("echo", "back") == "back",
           "and serves clients of the new gateway")
        c.close()
        ok(w.stop() == 0 and w.expect(ev="stopped") is not None,
           "the worker stops cleanly on SIGTERM (BYE)")
        import socketio
        c = Client(url, transport="polling")
        try:
            c.connect(0.5)
            failed = False
        except socketio.exceptions.ConnectionError:
            failed = True
        ok(failed and c.wait("connect_error") == ({"message": "Invalid namespace"},),
           "with its last worker gone, '/' is an invalid namespace again")
        c.close()
    finally:
        gw2.stop()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        if sys.argv[2] == "main":
            main_worker(sys.argv[3])
        elif sys.argv[2] == "multi":
            multi_worker(sys.argv[3])
        elif sys.argv[2] == "curve":
            curve_worker(sys.argv[3])
        else:
            seq_worker(sys.argv[3], sys.argv[4])
    elif len(sys.argv) > 1 and sys.argv[1] == "--emitter":
        emitter_main(sys.argv[2], sys.argv[3])
    else:
        main()
