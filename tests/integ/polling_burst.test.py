"""polling_max_packets: Debian's python3-socketio client (python-engineio
4.3, whose payload decoder refuses more than 16 packets in one response)
over long-polling only gets a burst of 50 events, queued at once for its
parked GET, all of them and in order, without disconnecting.  With
polling_max_packets = 0 (no limit, as in Node) the same burst goes in one
response and that client drops the connection, which shows the burst was
big enough.  And bad values of the option are refused with a clear error.
"""
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from tap import Gateway, Proc, done, ok, need_gateway_and_socketio  # noqa: E402

socketio = need_gateway_and_socketio()

WORKER = os.path.join(HERE, "..", "lib", "sio_test_worker.py")
N = 50


def burst(max_packets):
    """Run one burst; returns (numbers received in order, disconnected)."""
    gw = Gateway("--polling-max-packets", str(max_packets))
    w = Proc([sys.executable, WORKER, gw.bridge, "--name", "burst"], "worker")
    got, cond = [], threading.Condition()
    state = {"disc": False}
    sio = socketio.Client(reconnection=False, handle_sigint=False)

    @sio.on("n")
    def on_n(i):
        with cond:
            got.append(i)
            cond.notify_all()

    @sio.on("disconnect")
    def on_disc(*a):
        with cond:
            state["disc"] = True
            cond.notify_all()

    try:
        if not w.wait_line(r"registered with gateway", 10):
            raise RuntimeError("the worker did not register")
        sio.connect("http://127.0.0.1:%d" % gw.port, transports=["polling"], wait_timeout=5)
        # The parked GET is out while the worker's 50 emits arrive.
        sio.emit("burst", (N, "n"))
        end = time.monotonic() + 10
        with cond:
            while len(got) < N and not state["disc"] and time.monotonic() < end:
                cond.wait(end - time.monotonic())
        # Still up after it: an ack round trip (the worker acks with "ok").
        try:
            alive = sio.connected and sio.call("echo", "x", timeout=5) is not None
        except Exception:
            alive = False
        return list(got), state["disc"] or not alive
    finally:
        try:
            sio.disconnect()
        except Exception:
            pass
        w.stop()
        rc = gw.stop()
        ok(rc == 0, "the gateway exits 0 (99: valgrind errors; got %r)" % rc)


got, disc = burst(16)
ok(got == list(range(N)) and not disc,
   "polling_max_packets 16: all %d events in order, still connected (%d, disconnected %s)"
   % (N, len(got), disc))
got, disc = burst(0)
ok(disc and len(got) < N,
   "polling_max_packets 0: one response of %d packets makes python-engineio 4.3 drop the "
   "connection (got %d, disconnected %s)" % (N, len(got), disc))

for bad in ("-1", "1000001", "abc", ""):
    r = subprocess.run([os.environ["SIOGATE"], "--polling-max-packets", bad, "--check-config"],
                       capture_output=True, text=True, timeout=10)
    ok(r.returncode == 64 and "--polling-max-packets" in r.stderr and
       "0 to 1000000" in r.stderr,
       "--polling-max-packets %r: exit 64, says the range (%r)" % (bad, r.stderr.strip()))
conf = "/tmp/siogate-burst-%d.conf" % os.getpid()
with open(conf, "w") as f:
    f.write("[engineio]\npolling_max_packets = 2000000\n")
r = subprocess.run([os.environ["SIOGATE"], "--config", conf, "--check-config"],
                   capture_output=True, text=True, timeout=10)
os.unlink(conf)
ok(r.returncode != 0 and "polling_max_packets" in r.stderr,
   "polling_max_packets = 2000000 in the file: refused, naming the key (%r)" % r.stderr.strip())
done()
