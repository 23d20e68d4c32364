"""Operating siogate, as TAP, with the real gateway, real workers on the bridge
and Debian's python3-socketio client: --status, the metrics endpoint,
siogate-emit, SIGHUP reload (live changes, a broken file), and the draining
shutdown on SIGTERM (nothing accepted is lost, exit 0 within the drain timeout,
clients reconnect to the next gateway)."""
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

TOP = os.environ.get("TOP_SRCDIR", ".")
LIB = os.path.join(TOP, "tests", "lib")
sys.path.insert(0, LIB)
import tap  # noqa: E402
from tap import free_port, http, ok, status_body  # noqa: E402

try:
    import socketio  # noqa: E402
except ImportError:
    socketio = None

SIOGATE = os.environ.get("SIOGATE", "")
EMIT = os.environ.get("SIOGATE_EMIT", "")
WORKER = os.path.join(LIB, "sio_test_worker.py")
PY = "/usr/bin/python3"
TMP = tempfile.mkdtemp(prefix="siogate-ops.")

# A worker that logs "got N" for every "ack" event and takes a few ms over
# each, so that with credit 1 events wait in the gateway's backlog.
SLOW_WORKER = """
import sys, time
sys.path.insert(0, %r)
import sio_test_worker as t

class Slow(t.Worker):
    def on_event(self, m):
        if m.get("ev") == "ack":
            t.log("got %%s%%s" %% (m["args"][0], " redelivered" if m.get("redelivered") else ""))
            time.sleep(0.004)
        super().on_event(m)

t.Worker = Slow
sys.exit(t.main())
""" % LIB


class Proc(tap.Proc):
    """tap.Proc, whose wait_log() here returns the index of the line (or None)."""

    def __init__(self, argv, env=None):
        super().__init__(argv, env=env)

    def wait_log(self, rx, deadline=10, start=0):
        """Index of the first line from start matching rx, or None at the deadline."""
        return self.find(rx, deadline, start)[0]

    def stop(self, sig=signal.SIGTERM, deadline=10):
        return super().stop(sig, deadline)


def gateway(conf):
    g = Proc([SIOGATE, "--config", conf])
    if g.wait_log(r"listening on 127\.0\.0\.1:\d+") is None:
        raise RuntimeError("gateway did not start: %r" % g.lines[-10:])
    return g


def worker(bridge, *args, script=None):
    argv = [PY, script or WORKER, bridge, "--hb", "200"] + list(args)
    w = Proc(argv)
    if w.wait_log(r"registered with gateway") is None:
        raise RuntimeError("worker did not register: %r" % w.lines[-10:])
    return w


class Client:
    """A python-socketio client; every event it receives goes to a queue."""

    def __init__(self, port, transports=("websocket",), namespaces=("/",), reconnect=False):
        self.c = socketio.Client(reconnection=reconnect, reconnection_delay=0.2,
                                 reconnection_delay_max=0.5, randomization_factor=0.1)
        self.q = queue.Queue()
        self.connects = 0
        self.disconnects = 0
        self.ev = threading.Condition()

        def catch_all(nsp):
            return lambda event, *args: self.q.put((event, nsp, list(args)))

        for nsp in namespaces:
            self.c.on("*", catch_all(nsp), namespace=nsp)
            self.c.on("connect", self._on_connect, namespace=nsp)
            self.c.on("disconnect", self._on_disconnect, namespace=nsp)
        self.c.connect("http://127.0.0.1:%d" % port, transports=list(transports),
                       namespaces=list(namespaces), wait_timeout=10)

    def _on_connect(self):
        with self.ev:
            self.connects += 1
            self.ev.notify_all()

    def _on_disconnect(self):
        with self.ev:
            self.disconnects += 1
            self.ev.notify_all()

    def wait_count(self, attr, n, deadline=10):
        end = time.monotonic() + deadline
        with self.ev:
            while getattr(self, attr) < n:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.ev.wait(left)
        return True

    def expect(self, event, deadline=5, nsp="/"):
        """The args of the next event called event (others are dropped), or None."""
        end = time.monotonic() + deadline
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                ev, ns, args = self.q.get(timeout=left)
            except queue.Empty:
                return None
            if ev == event and ns == nsp:
                return args

    def drain_queue(self):
        got = []
        while True:
            try:
                got.append(self.q.get_nowait())
            except queue.Empty:
                return got

    def call(self, event, *args, nsp="/", timeout=5):
        try:
            return self.c.call(event, args if len(args) != 1 else args[0], namespace=nsp,
                               timeout=timeout)
        except Exception as e:  # noqa: BLE001 - a timeout is a test failure, not a crash
            return "error: %r" % e

    def echo_ok(self, tag):
        self.drain_queue()
        self.c.emit("echo", tag)
        return self.expect("echo") == [tag]

    def close(self):
        try:
            self.c.disconnect()
        except Exception:  # noqa: BLE001
            pass


def scrape(port):
    """GET /metrics: (ok_format, {name{labels}: value}, names, bad lines)."""
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read()
    vals, names, bad = {}, set(), []
    rx = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"'
                    r'(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (-?[0-9.eE+]+|NaN|[+-]Inf)$')
    for line in body.decode().splitlines():
        if re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$", line):
            continue
        m = rx.match(line)
        if not m:
            bad.append(line)
            continue
        names.add(m.group(1))
        vals[m.group(1) + (m.group(2) or "")] = float(m.group(4))
    return not bad and bool(vals), vals, names, bad


def status(conf):
    p = subprocess.run([SIOGATE, "--status", "--config", conf], capture_output=True, text=True,
                       timeout=10)
    figs = dict(line.split(": ", 1) for line in p.stdout.splitlines() if ": " in line)
    return p.returncode, figs, p.stderr


def emit(*args):
    p = subprocess.run([EMIT] + list(args), capture_output=True, text=True, timeout=20)
    return p.returncode, p.stderr.strip()


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def conf_text(port, mport, bridge, extra=""):
    return ("[server]\nlisten = 127.0.0.1:%d\n\n[bridge]\nendpoint = %s\n\n[shutdown]\n"
            "drain_timeout = 8000\n\n[metrics]\nlisten = 127.0.0.1:%d\n%s"
            % (port, bridge, mport, extra))


def main():
    if not SIOGATE or not os.access(SIOGATE, os.X_OK):
        print("1..0 # SKIP SIOGATE is not set to the gateway binary")
        return
    if socketio is None:
        print("1..0 # SKIP python3-socketio is not installed")
        return
    procs, clients = [], []
    try:
        run(procs, clients)
    except Exception:  # noqa: BLE001 - reported as a failure, then the plan
        ok(False, "the test ran to its end")
        for line in traceback.format_exc().splitlines():
            print("# " + line)
    finally:
        for c in clients:
            c.close()
        for p in reversed(procs):
            p.stop(signal.SIGKILL if p.p.poll() is None and p is not procs[0] else signal.SIGTERM)
        # The plan, then leave at once: python-socketio's reconnection
        # threads would keep a plain exit waiting.
        print("1..%d" % tap._n, flush=True)
        shutil.rmtree(TMP, ignore_errors=True)
        os._exit(1 if tap._failed else 0)


def run(procs, clients):
    port, mport = free_port(), free_port()
    bridge = "ipc://%s/bridge.sock" % TMP
    conf = os.path.join(TMP, "siogate.conf")
    write(conf, conf_text(port, mport, bridge))
    gw = gateway(conf)
    procs.append(gw)
    ok(gw.wait_log(r"metrics on http://127\.0\.0\.1:%d/metrics" % mport) is not None,
       "the metrics listener is announced")
    w1 = worker(bridge, "--name", "w1")
    procs.append(w1)

    # ---- one client: --status and the metrics ----
    c1 = Client(port, reconnect=True)
    clients.append(c1)
    ok(c1.echo_ok("hi"), "a websocket client connects and gets an echo from the worker")
    rc, figs, err = status(conf)
    ok(rc == 0 and figs.get("sockets") == "1" and figs.get("workers") == "1" and
       figs.get("sessions_websocket") == "1" and figs.get("version") and figs.get("pid") ==
       str(gw.p.pid), "siogate --status: sockets: 1, workers: 1, sessions_websocket: 1, its pid "
       "(%r, exit %d)" % (figs, rc))
    good, m0, names, bad = scrape(mport)
    ok(good, "GET /metrics parses: every line is '# HELP', '# TYPE' or 'name{labels} value'" +
       ("" if good else " (bad: %r)" % bad[:3]))
    ok(m0.get("siogate_sockets") == 1 and m0.get("siogate_workers") == 1 and
       m0.get('siogate_sessions{transport="websocket"}') == 1,
       "metrics: siogate_sockets 1, siogate_workers 1, one websocket session")
    man8 = open(os.path.join(TOP, "man", "siogate.8")).read()
    undoc = sorted(n for n in names if not re.search(r"^\.It Li .*\b%s\b" % n, man8, re.M))
    ok(not undoc, "every metric name is listed in siogate.8" +
       ("" if not undoc else ": missing " + ", ".join(undoc)))
    st, body = status_body(http(mport, "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    ok(st == 404, "the metrics listener answers 404 for other paths")

    # ---- a second client (polling) with acked events moves the counters ----
    c2 = Client(port, transports=("polling",))
    clients.append(c2)
    acks = [c2.call("ack", i) for i in range(5)]
    ok(acks == list(range(5)), "a polling client's 5 acked events are answered (%r)" % acks)
    good, m1, _, _ = scrape(mport)
    ok(good and m1.get("siogate_sockets") == 2, "metrics: siogate_sockets 2 with two clients")
    ok(m1.get("siogate_events_in_total", 0) >= m0.get("siogate_events_in_total", 0) + 5,
       "metrics: siogate_events_in_total grew by at least 5 (%s -> %s)" %
       (m0.get("siogate_events_in_total"), m1.get("siogate_events_in_total")))
    for name in ("siogate_connections_accepted_total", "siogate_sessions_opened_total",
                 "siogate_socketio_connects_total", "siogate_bytes_in_total",
                 "siogate_bytes_out_total", "siogate_packets_out_total"):
        ok(m1.get(name, 0) > m0.get(name, 0), "metrics: %s moved (%s -> %s)" %
           (name, m0.get(name), m1.get(name)))
    ok(m1.get("siogate_connections", 0) >= 2, "metrics: siogate_connections counts the clients")

    # ---- siogate-emit ----
    if not EMIT or not os.access(EMIT, os.X_OK):
        ok(True, "siogate-emit # SKIP SIOGATE_EMIT is not set")
    else:
        check_emit(bridge, c1, c2)

    # ---- SIGHUP: log level and CORS origins change live, the client stays ----
    origin_req = ("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Origin: https://ops.example\r\nConnection: close\r\n\r\n")
    st, _ = status_body(http(port, origin_req))
    ok(st == 403, "before the reload, Origin https://ops.example is refused (%d)" % st)
    # The same origin is listed too: with a list, siogate accepts only what
    # it names, and python's websocket client sends an Origin header.
    cors = "cors_origin = https://ops.example\ncors_origin = http://127.0.0.1:%d\n" % port
    write(conf, conf_text(port, mport, bridge, "\n[log]\nlevel = debug\n\n[server]\n" + cors))
    n = gw.mark()
    discs = c1.disconnects
    gw.p.send_signal(signal.SIGHUP)
    i = gw.wait_log(r"reload done", start=n)
    log = gw.since(n)
    ok(i is not None, "SIGHUP: 'reloading the configuration from ...' then 'reload done'")
    ok(any("reloading the configuration from " + conf in l for l in log),
       "the reload names the file")
    ok(any("reload: log-level: info -> debug" in l for l in log),
       "the reload logs 'reload: log-level: info -> debug'")
    ok(any("reload: cors-origin: (not set) -> https://ops.example, http://127.0.0.1:%d" % port
           in l for l in log), "the reload logs 'reload: cors-origin: (not set) -> "
       "https://ops.example, http://127.0.0.1:PORT'")
    ok(not any("cannot change" in l for l in log), "nothing is reported as needing a restart")
    st, _ = status_body(http(port, origin_req))
    ok(st == 200, "after the reload, Origin https://ops.example is accepted (%d)" % st)
    c2.close()
    ok(gw.wait_log(r"^<7>siogate: session \S+ closed", start=n, deadline=5) is not None,
       "after the reload, debug records are logged (a session's close)")
    ok(c1.echo_ok("after-reload") and c1.disconnects == discs and c1.connects == 1,
       "the websocket client stayed connected across SIGHUP and still gets events")

    # ---- SIGHUP with a broken file: logged, the running configuration kept ----
    write(conf, conf_text(port, mport, bridge, "\n[log]\nlevel = debug\n\n[server]\n" + cors +
                          "\n[engineio]\nping_interval = fast\n"))
    n = gw.mark()
    gw.p.send_signal(signal.SIGHUP)
    i = gw.wait_log(r"keeping the running one", start=n)
    log = gw.since(n)
    ok(i is not None and any(re.search(r"siogate\.conf:\d+: \[engineio\] ping_interval: 'fast' is "
                                       r"not a number", l) for l in log),
       "a broken file on SIGHUP: the error is logged with file:line, the running one kept")
    ok(gw.p.poll() is None and c1.echo_ok("after-bad-reload"),
       "the gateway keeps running and the client still gets events")
    st, _ = status_body(http(port, origin_req))
    ok(st == 200, "the old configuration stays in force (the origin is still accepted)")
    write(conf, conf_text(port, mport, bridge))

    # ---- SIGTERM: drain, exit 0, clients reconnect to the next gateway ----
    check_drain(procs, clients, conf, port, mport, bridge, gw, w1, c1)
    check_supervision(procs, clients)
    check_supervised_drain(procs, clients)
    check_socket_activation(procs, clients)


def check_emit(bridge, c1, c2):
    r = c1.call("join", "r1")
    ok(r == "ok", "the first client joins room r1 (%r)" % (r,))
    c1.drain_queue()
    c2.drain_queue()
    rc, err = emit("-e", bridge, "-r", "r1", "news", '"hello"', "42", '{"k":[1,null]}')
    ok(rc == 0, "siogate-emit --room r1 exits 0" + ("" if rc == 0 else " (%d: %s)" % (rc, err)))
    got = c1.expect("news")
    ok(got == ["hello", 42, {"k": [1, None]}], "the client in r1 receives news with its 3 "
       "arguments (%r)" % (got,))
    rc, err = emit("--endpoint", bridge, "tick", "1")
    ok(rc == 0 and c2.expect("tick") == [1] and c1.expect("tick") == [1],
       "siogate-emit without a target reaches every client of the namespace")
    ok(not [e for e in c2.drain_queue() if e[0] == "news"], "the client not in r1 got no news")
    sid2 = c2.c.get_sid("/")
    rc, err = emit("-e", bridge, "--to", sid2, "direct", '"x"')
    ok(rc == 0 and c2.expect("direct") == ["x"], "siogate-emit --to ID reaches that socket")
    rc, err = emit("-e", bridge, "--except", "r1", "notr1", "true")
    ok(rc == 0 and c2.expect("notr1") == [True], "siogate-emit --except r1 reaches the others")
    ok(not [e for e in c1.drain_queue() if e[0] in ("direct", "notr1")],
       "and not the socket in r1")
    rc, err = emit("-e", bridge, "news", '"ok"', "hello")
    ok(rc == 64 and "argument 2 is not JSON: 'hello'" in err,
       "siogate-emit with bad JSON: exit 64 naming argument 2 (%r)" % err)
    rc, err = emit("-e", "ipc://%s/nobody.sock" % TMP, "-T", "300", "news", "1")
    ok(rc == 69 and "no gateway answered" in err,
       "siogate-emit with no gateway: exit 69 after the timeout (%r)" % err)
    rc, err = emit("-e", bridge)
    ok(rc == 64 and "no EVENT" in err, "siogate-emit without an event: exit 64")


def check_drain(procs, clients, conf, port, mport, bridge, gw, w1, c1):
    script = os.path.join(TMP, "slow_worker.py")
    write(script, SLOW_WORKER)
    ws = worker(bridge, "--name", "slow", "--nsp", "/drain", "--credit", "1", script=script)
    procs.append(ws)
    c3 = Client(port, namespaces=("/drain",), reconnect=True)
    clients.append(c3)
    total = 150
    acked = []
    lock = threading.Lock()

    def on_ack(i):
        def cb(*args):
            with lock:
                acked.append(i)
        return cb

    _, m0, _, _ = scrape(mport)
    base = m0.get("siogate_events_in_total", 0)
    for i in range(total):
        c3.c.emit("ack", i, namespace="/drain", callback=on_ack(i))
    # Wait until the gateway holds all of them: handed over or in the backlog.
    end = time.monotonic() + 10
    backlog, took_all = -1, False
    while time.monotonic() < end and not took_all:
        _, m, _, _ = scrape(mport)
        backlog = m.get("siogate_worker_backlog_events", 0)
        # events_in counts events when the gateway takes them (backlog included).
        took_all = m.get("siogate_events_in_total", 0) - base >= total
    ok(took_all, "the gateway took all %d events (%d in the slow worker's backlog at "
       "SIGTERM)" % (total, backlog))
    n = gw.mark()
    t0 = time.monotonic()
    gw.p.send_signal(signal.SIGTERM)
    try:
        rc = gw.p.wait(15)
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - t0
    gw.join_output(5)
    log = gw.since(n)
    ok(rc == 0, "SIGTERM: the gateway exits 0 (%r)" % rc)
    ok(took < 8 + 1, "it exits within the drain timeout (%.1f s of 8)" % took)
    ok(any("drained: everything pending was delivered" in l for l in log),
       "it logs 'drained: everything pending was delivered' (not a drain timeout)")
    if ws.wait_log(r"got %d\b" % (total - 1), deadline=3) is None:
        pass
    got = [int(m.group(1)) for m in (re.search(r"got (\d+)$", l) for l in ws.since(0)) if m]
    if not ok(sorted(set(got)) == list(range(total)),
              "every one of the %d accepted events reached the worker (%d did, last %r)" %
              (total, len(set(got)), got[-1:] if got else None)):
        for line in log[-15:] + [l for l in ws.since(0) if "got" not in l][-10:]:
            print("#   " + line)
    ok(len(got) == len(set(got)) and got == sorted(got),
       "each once and in order")
    with lock:
        acked_now = list(acked)
    ok(set(acked_now) <= set(got), "every ack the client got was for an event the worker saw "
       "(%d acked before the close)" % len(acked_now))
    ok(c1.wait_count("disconnects", 1, deadline=5) and c3.wait_count("disconnects", 1, deadline=5),
       "the clients see a disconnect")
    # The next gateway on the same port and bridge: the workers register again
    # by themselves and the clients reconnect by themselves.
    gw2 = gateway(conf)
    procs.insert(0, gw2)
    ok(gw2.wait_log(r"worker \d+ \(w1\) registered", deadline=10) is not None,
       "the worker registers with the restarted gateway")
    ok(c1.wait_count("connects", 2, deadline=15) and c1.echo_ok("back"),
       "the websocket client reconnects to the restarted gateway and gets events")
    n = gw2.mark()
    rc = gw2.stop()
    ok(rc == 0 and any("drained" in l for l in gw2.since(n)),
       "the second gateway drains and exits 0 too")
    procs.remove(gw2)


def check_supervision(procs, clients):
    """A [worker sup] section: started, logged, restarted after SIGKILL, stopped on reload."""
    port = free_port()
    bridge = "ipc://%s/super.sock" % TMP
    conf = os.path.join(TMP, "super.conf")
    wrapper = os.path.join(TMP, "sup.sh")
    # A wrapper keeps the command line short whatever the source path is.
    write(wrapper, 'exec %s %s "$SIOGATE_ENDPOINT" --name "sup-$SIOGATE_WORKER_INDEX" --hb 200\n'
          % (PY, WORKER))
    base = "[server]\nlisten = 127.0.0.1:%d\n\n[bridge]\nendpoint = %s\n" % (port, bridge)
    write(conf, base + "\n[worker sup]\ncommand = echo supervised-hello $GREETING; "
          "exec /bin/sh %s\nenvironment = GREETING=from-env\n" % wrapper)
    gw = gateway(conf)
    procs.insert(0, gw)
    i = gw.wait_log(r"worker sup\[0\]: started, pid (\d+)")
    ok(i is not None, "[worker sup]: 'worker sup[0]: started, pid N'")
    if i is None:
        return
    pid1 = int(re.search(r"pid (\d+)", gw.lines[i]).group(1))
    ok(gw.wait_log(r"^<6>siogate: worker sup\[0\]: supervised-hello from-env$") is not None,
       "the worker's stdout line is logged as 'worker sup[0]: ...' with its environment")
    ok(gw.wait_log(r"^<4>siogate: worker sup\[0\]: sio_test_worker: registered with gateway")
       is not None, "its stderr lines are logged at warning level")
    ok(gw.wait_log(r"worker \d+ \(sup-0\) registered") is not None,
       "the supervised worker registers on the bridge (SIOGATE_ENDPOINT, SIOGATE_WORKER_INDEX)")
    c = Client(port, reconnect=True)
    clients.append(c)
    c.c.emit("whoami")
    ok(c.expect("whoami") == ["sup-0"], "a client's events are handled by the supervised worker")
    rc, figs, err = status(conf)
    ok(rc == 0 and figs.get("supervised_processes") == "1",
       "siogate --status: supervised_processes: 1 (%r)" % figs.get("supervised_processes"))
    n = gw.mark()
    os.kill(pid1, signal.SIGKILL)
    ok(gw.wait_log(r"worker sup\[0\]: killed by signal 9", start=n) is not None,
       "SIGKILL: 'worker sup[0]: killed by signal 9'")
    ok(gw.wait_log(r"worker sup\[0\]: restarting in 1 s", start=n) is not None,
       "'worker sup[0]: restarting in 1 s'")
    i = gw.wait_log(r"worker sup\[0\]: started, pid (\d+)", start=n, deadline=5)
    pid2 = int(re.search(r"pid (\d+)", gw.lines[i]).group(1)) if i is not None else 0
    ok(i is not None and pid2 != pid1, "it is started again (pid %d, was %d)" % (pid2, pid1))
    ok(gw.wait_log(r"worker \d+ \(sup-0\) registered", start=n) is not None,
       "and registers again")
    # The client's socket moves to the restarted worker, or (no worker in
    # time) its connection is closed and the client reconnects: either way
    # its events reach the new process.
    got = None
    end = time.monotonic() + 15
    while got != ["sup-0"] and time.monotonic() < end:
        c.drain_queue()
        try:
            c.c.emit("whoami")
        except socketio.exceptions.BadNamespaceError:
            c.wait_count("connects", c.connects + 1, deadline=1)     # reconnecting
            continue
        got = c.expect("whoami", deadline=1)
    ok(got == ["sup-0"], "the restarted worker handles the client's events again (%d "
       "reconnects)" % (c.connects - 1))
    n = gw.mark()
    write(conf, base)
    gw.p.send_signal(signal.SIGHUP)
    ok(gw.wait_log(r"worker sup\[0\]: removed from the configuration, stopping", start=n)
       is not None, "a reload without the section: 'worker sup[0]: removed from the "
       "configuration, stopping'")
    ok(gw.wait_log(r"worker sup\[0\]: (exited with status|killed by signal)", start=n)
       is not None, "the process exits")
    gone = False
    end = time.monotonic() + 5
    while not gone and time.monotonic() < end:
        try:
            os.kill(pid2, 0)
            gw.wait_log(r"(?!)", deadline=0.05)     # a bounded pause on the log
        except ProcessLookupError:
            gone = True
    ok(gone, "pid %d is gone" % pid2)
    ok(gw.wait_log(r"worker sup\[0\]: restarting", start=n, deadline=1.5) is None,
       "and is not restarted")
    c.close()
    clients.remove(c)
    ok(gw.stop() == 0, "the gateway exits 0")
    procs.remove(gw)


def check_supervised_drain(procs, clients):
    """SIGTERM with events waiting for a supervised worker: it is stopped only after them."""
    port, mport = free_port(), free_port()
    bridge = "ipc://%s/sdrain.sock" % TMP
    conf = os.path.join(TMP, "sdrain.conf")
    script = os.path.join(TMP, "slow_worker.py")
    write(script, SLOW_WORKER)
    write(conf, conf_text(port, mport, bridge, "\n[worker slow]\ncommand = exec %s %s "
                          "\"$SIOGATE_ENDPOINT\" --credit 1 --hb 200\n" % (PY, script)))
    gw = gateway(conf)
    procs.insert(0, gw)
    ok(gw.wait_log(r"worker \d+ \(\S+\) registered") is not None,
       "a supervised slow worker (credit 1) registers")
    c = Client(port)
    clients.append(c)
    total = 100
    _, m, _, _ = scrape(mport)
    base = m.get("siogate_events_in_total", 0)
    for i in range(total):
        c.c.emit("ack", i)
    end = time.monotonic() + 10
    took_all = False
    while time.monotonic() < end and not took_all:
        _, m, _, _ = scrape(mport)
        took_all = m.get("siogate_events_in_total", 0) - base >= total
    n = gw.mark()
    gw.p.send_signal(signal.SIGTERM)
    try:
        rc = gw.p.wait(15)
    except subprocess.TimeoutExpired:
        rc = None
    gw.join_output(5)
    got = [int(x.group(1)) for x in (re.search(r"worker slow\[0\]: sio_test_worker: got (\d+)$", l)
                                     for l in gw.lines) if x]
    ok(took_all and rc == 0 and got == list(range(total)),
       "SIGTERM with %d events waiting for a supervised worker: it gets them all, in order, "
       "before it is stopped (%d did; exit %r)" % (total, len(got), rc))
    log = gw.since(n)
    stop_i = next((i for i, l in enumerate(log) if "worker slow[0]: exited" in l), None)
    ok(stop_i is not None and any("drained" in l for l in log[stop_i:]),
       "the worker program exits before 'drained'")
    c.close()
    clients.remove(c)
    procs.remove(gw)


def check_socket_activation(procs, clients):
    """Under systemd-socket-activate, with NOTIFY_SOCKET: the passed socket, sd_notify."""
    sa = subprocess.run(["sh", "-c", "command -v systemd-socket-activate"], capture_output=True,
                        text=True).stdout.strip()
    if not sa:
        ok(True, "socket activation # SKIP systemd-socket-activate is not installed "
           "(apt-get install systemd)")
        return
    port = free_port()
    bridge = "ipc://%s/sa.sock" % TMP
    conf = os.path.join(TMP, "sa.conf")
    write(conf, "[server]\nlisten = 127.0.0.1:0\n\n[bridge]\nendpoint = %s\n" % bridge)
    notify_path = os.path.join(TMP, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(notify_path)
    # systemd-socket-activate passes only the environment named with -E.
    g = Proc([sa, "-l", "127.0.0.1:%d" % port, "-E", "NOTIFY_SOCKET=" + notify_path, SIOGATE,
              "--config", conf])
    procs.insert(0, g)
    ok(g.wait_log(r"Listening on 127\.0\.0\.1:%d" % port) is not None,
       "systemd-socket-activate listens on port %d" % port)
    # The first connection makes it exec siogate with the socket as fd 3.
    st, body = status_body(http(port, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n"
                                "Host: x\r\nConnection: close\r\n\r\n"))
    ok(st == 200 and body.startswith(b'0{"sid":'), "the first request is answered by siogate")
    ok(g.wait_log(r"listening on 127\.0\.0\.1:%d \(socket activation\)" % port) is not None,
       "siogate logs 'listening on 127.0.0.1:%d (socket activation)' instead of its "
       "[server] listen" % port)
    w = worker(bridge, "--name", "saw")
    procs.append(w)
    c = Client(port)
    clients.append(c)
    ok(c.echo_ok("activated"), "a client connects through the inherited socket")

    linked = b"libsystemd" in subprocess.run(["ldd", SIOGATE], capture_output=True).stdout

    def notes(until, deadline=5):
        got = []
        ns.settimeout(0.2)
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                got.append(ns.recv(4096).decode())
            except socket.timeout:
                continue
            if until in got[-1]:
                break
        return got

    if not linked:
        ok(True, "sd_notify # SKIP siogate is built without libsystemd")
    else:
        got = notes("READY=1")
        ok(any("READY=1" in m for m in got), "sd_notify: READY=1 at start (%r)" % got)
        g.p.send_signal(signal.SIGHUP)
        got = notes("READY=1")
        ok(len(got) >= 2 and "RELOADING=1" in got[0] and "MONOTONIC_USEC=" in got[0] and
           "READY=1" in got[-1], "sd_notify on SIGHUP: RELOADING=1 then READY=1 (%r)" % got)
    c.close()
    clients.remove(c)
    g.p.send_signal(signal.SIGTERM)
    if linked:
        got = notes("STOPPING=1")
        ok(any("STOPPING=1" in m for m in got), "sd_notify on SIGTERM: STOPPING=1")
    ok(g.stop() == 0, "the socket-activated gateway exits 0")
    procs.remove(g)
    ns.close()


if __name__ == "__main__":
    main()
