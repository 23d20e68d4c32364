#!/usr/bin/python3
"""push.py: push messages to the browsers of the /dcenter page.

    push.py [-e ENDPOINT] [-n NAMESPACE] [--event EVENT] MESSAGE...
    push.py [-e ENDPOINT] --loop [--interval SECONDS] [--count N]

The first form emits EVENT (default "dcenter") with {"data": MESSAGE} to
every browser of NAMESPACE (default "/dcenter"), once per MESSAGE, and exits
when the gateway has handled them.  --loop pushes the time every second
(until Ctrl-C, or N times).  No browser asked for anything: this is the
server push of Flask-SocketIO's /dcenter demo,

    socketio.emit('dcenter', {'data': "test message!"}, namespace='/dcenter')

from a process of its own (a cron job, a queue consumer) through
siogate.Emitter, a write-only bridge peer.  ENDPOINT defaults to
$SIOGATE_ENDPOINT, else tcp://127.0.0.1:5555.  Exit 0 when delivered to the
gateway, 1 when no gateway answered.
"""
import argparse
import sys
import time

try:
    import siogate
except ImportError as e:
    sys.exit("push.py: %s: install the siogate module (make install, or pip install "
             "sdk/python) or run with PYTHONPATH=sdk/python" % e)


def main():
    ap = argparse.ArgumentParser(description="push messages to the /dcenter page")
    ap.add_argument("-e", "--endpoint", help="gateway bridge endpoint "
                    "(default $SIOGATE_ENDPOINT, else tcp://127.0.0.1:5555)")
    ap.add_argument("-n", "--namespace", default="/dcenter")
    ap.add_argument("--event", default="dcenter")
    ap.add_argument("--loop", action="store_true", help="push the time every interval")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds (with --loop)")
    ap.add_argument("--count", type=int, default=0, help="stop after N pushes (with --loop)")
    ap.add_argument("-t", "--timeout", type=float, default=5.0,
                    help="seconds to wait for the gateway")
    ap.add_argument("message", nargs="*")
    a = ap.parse_args()
    if not a.loop and not a.message:
        ap.error("give a MESSAGE, or --loop")
    try:
        with siogate.Emitter(a.endpoint, name="push.py", timeout=a.timeout) as em:
            for m in a.message:
                em.emit(a.event, {"data": m}, namespace=a.namespace)
            n = 0
            while a.loop and (a.count <= 0 or n < a.count):
                em.emit(a.event, {"data": time.strftime("%Y-%m-%d %H:%M:%S")},
                        namespace=a.namespace)
                n += 1
                if a.count <= 0 or n < a.count:
                    time.sleep(a.interval)
    except siogate.GatewayUnavailable as e:
        print("push.py: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
