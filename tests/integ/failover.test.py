"""Worker failure: kill -9 a worker in the middle of a stream of acked events.
Every ack must be answered exactly once from the client's view (by the
worker that took over, or with an error ack), the client stays connected,
and a session with no worker left is closed so the client reconnects.
Real gateway, real ZeroMQ, Debian's python3-socketio client."""
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.join(os.environ.get("TOP_SRCDIR", "."), "tests", "lib"))
from tap import Gateway, done, ok, start  # noqa: E402
import tap  # noqa: E402


def done_ok():
    print("1..%d" % tap._n, flush=True)
    return tap._failed == 0

import socketio  # noqa: E402

WORKER = os.path.join(os.environ.get("TOP_SRCDIR", "."), "tests", "lib", "sio_test_worker.py")


def start_worker(gw, name):
    """A registered sio_test_worker (its Popen; tap.start reads its log)."""
    return start(["/usr/bin/python3", WORKER, gw.bridge, "--name", name, "--nsp", "/",
                  "--credit", "16", "--hb", "200"], r"registered with gateway", name).p


def main():
    gw = Gateway("--log-level", os.environ.get("FAILOVER_LEVEL", "info"))
    workers = []
    try:
        workers = [start_worker(gw, "wa"), start_worker(gw, "wb")]
        run(gw, workers)
    finally:
        for p in workers:
            if p.poll() is None:
                p.kill()
            p.wait()
        ok(gw.stop() == 0, "gateway exits 0")
        if os.environ.get("FAILOVER_LOG"):
            sys.stderr.write("\n".join(gw.lines) + "\n")
    at_most_once()
    # python-socketio's reconnection threads would keep the process alive.
    sys.stdout.flush()
    os._exit(0 if done_ok() else 1)


def acked_stream(c, victim, n=200):
    """Emit n acked events, SIGKILL victim halfway; wait (bounded) for the
    answers.  Returns ({i: [args of each answer]}, whether all came)."""
    answers = {}
    lock = threading.Lock()
    all_in = threading.Event()

    def make_cb(i):
        def cb(*args):
            with lock:
                answers.setdefault(i, []).append(args)
                if len(answers) == n:
                    all_in.set()
        return cb
    for i in range(n):
        c.emit("ack", i, callback=make_cb(i))
        if i == n // 2:
            victim.send_signal(signal.SIGKILL)
    return answers, all_in.wait(30)


def at_most_once():
    """With the namespace at-most-once, nothing is redelivered: the surviving
    worker's history has no redelivered event, and every ack is still
    answered exactly once (the lost ones with ENOWORKER)."""
    gw = Gateway("--at-most-once", "/")
    workers = [start_worker(gw, "wa"), start_worker(gw, "wb")]
    try:
        c = socketio.Client(reconnection=True)
        who, hist = {}, {}
        got = threading.Event()
        c.on("whoami", lambda name: (who.update(name=name), got.set()))
        c.on("history", lambda h: (hist.update(h=h), got.set()))
        c.connect("http://127.0.0.1:%d" % gw.port, transports=["websocket"], wait_timeout=10)
        c.emit("whoami")
        got.wait(10)
        victim = workers[0] if who.get("name") == "wa" else workers[1]
        answers, complete = acked_stream(c, victim)
        ok(complete and all(len(a) == 1 for a in answers.values()),
           "at-most-once: every ack answered exactly once (%d)" % len(answers))
        got.clear()
        c.emit("history")
        ok(got.wait(10) and not any(h[3] for h in hist.get("h", [])),
           "at-most-once: the surviving worker got no redelivered event")
        c.disconnect()
    finally:
        for p in workers:
            if p.poll() is None:
                p.kill()
            p.wait()
        gw.stop()


def run(gw, workers):
    url = "http://127.0.0.1:%d" % gw.port
    c = socketio.Client(reconnection=True)
    who = {}
    got_who = threading.Event()

    @c.on("whoami")
    def on_whoami(name):
        who["name"] = name
        got_who.set()

    c.connect(url, transports=["websocket"], wait_timeout=10)
    c.emit("whoami")
    ok(got_who.wait(10), "the client learns which worker serves it (%s)" % who.get("name"))
    victim = workers[0] if who.get("name") == "wa" else workers[1]

    # A stream of acked events; kill the serving worker in the middle.
    N = 200
    answers, complete = acked_stream(c, victim, N)
    ok(complete, "all %d acks answered (%d)" % (N, len(answers)))
    dup = [i for i, a in answers.items() if len(a) != 1]
    ok(not dup, "every ack answered exactly once (duplicates: %s)" % dup[:5])
    good = [i for i, a in answers.items() if a and a[0] == (i,)]
    errs = [i for i, a in answers.items() if a and isinstance(a[0][0], dict) and
            a[0][0].get("code") == "ENOWORKER"]
    ok(len(good) + len(errs) == N,
       "each answer is the echo or an ENOWORKER error (%d echoed, %d errors)" % (len(good), len(errs)))
    ok(gw.wait_log(r"worker \d+ \((wa|wb)\) dropped") is not None, "the gateway logs the lost worker")
    ok(c.connected, "the client stayed connected")
    got_who.clear()
    c.emit("whoami")
    ok(got_who.wait(10) and who["name"] != ("wa" if victim is workers[0] else "wb"),
       "its socket moved to the surviving worker (%s)" % who.get("name"))

    # The last worker goes too: the session is closed, the client reconnects and fails
    # to connect the namespace until a worker is back.
    disconnected = threading.Event()
    c.on("disconnect", lambda *a: disconnected.set())
    survivor = workers[1] if victim is workers[0] else workers[0]
    survivor.send_signal(signal.SIGKILL)
    ok(disconnected.wait(15), "with no worker left, the client is disconnected")
    c.disconnect()
    ok(gw.alive(), "the gateway is still running")


main()
