"""Gateway restart: the official Python client reconnects by itself and the
worker (which never restarts) registers again by itself; events flow again
with no manual step."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("TOP_SRCDIR", "."), "tests", "lib"))
from tap import Gateway, ok, start  # noqa: E402
import tap  # noqa: E402

import socketio  # noqa: E402

WORKER = os.path.join(os.environ.get("TOP_SRCDIR", "."), "tests", "lib", "sio_test_worker.py")


def main():
    gw = Gateway("--gateway-id", "RsT1")
    port, bridge = gw.port, gw.bridge
    w = start(["/usr/bin/python3", WORKER, bridge, "--name", "wr", "--nsp", "/", "--hb", "200"],
              r"registered", "wr").p
    c = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=0.5)
    got = threading.Event()
    connects = []
    c.on("echo", lambda *a: got.set())
    c.on("connect", lambda: connects.append(time.monotonic()))
    c.connect("http://127.0.0.1:%d" % port, transports=["websocket"], wait_timeout=10)
    c.emit("echo", "one")
    ok(got.wait(10), "an event goes round before the restart")
    ok(gw.stop() == 0, "the gateway stops")
    gw2 = Gateway("--gateway-id", "RsT2", "--listen", "127.0.0.1:%d" % port, bridge=bridge)
    ok(gw2.wait_log(r"listening on 127\.0\.0\.1:%d" % port) is not None,
       "a new gateway listens on the same port and bridge")
    ok(gw2.wait_log(r"worker \d+ \(wr\) registered", deadline=15) is not None,
       "the worker registers with the new gateway by itself")
    end = time.monotonic() + 20
    while time.monotonic() < end and len(connects) < 2:
        time.sleep(0.05)
    ok(len(connects) >= 2 and c.connected, "the client reconnected by itself")
    got.clear()
    for _ in range(50):
        if not c.connected:
            time.sleep(0.1)
            continue
        c.emit("echo", "two")
        if got.wait(0.5):
            break
    ok(got.is_set(), "events flow again through the new gateway")
    c.disconnect()
    w.terminate()
    w.wait(10)
    ok(gw2.stop() == 0, "the new gateway exits 0")
    print("1..%d" % tap._n, flush=True)
    os._exit(1 if tap._failed else 0)   # python-socketio threads would keep us alive


main()
