#!/usr/bin/python3
"""dcenter_worker.py: keep the namespace "/dcenter" open for the push example.

    dcenter_worker.py [-e ENDPOINT]

A Socket.IO namespace exists while some worker serves it: a client that
connects to a namespace no worker serves gets "Invalid namespace".  The push
example's browsers only listen, and push.py / push_emitter send from outside,
so this worker serves "/dcenter" as an open namespace (no connect handler:
the gateway accepts every client at once) and does nothing else.  It plays
the part of Flask-SocketIO's

    @socketio.on('connect', namespace='/dcenter')
    def connected_msg(): print('client connected.')

without the round trip.  ENDPOINT defaults to $SIOGATE_ENDPOINT, else
tcp://127.0.0.1:5555.
"""
import argparse
import logging
import sys

try:
    import siogate
except ImportError as e:
    sys.exit("dcenter_worker.py: %s: install the siogate module (make install, or pip install "
             "sdk/python) or run with PYTHONPATH=sdk/python" % e)

NSP = "/dcenter"


def main():
    ap = argparse.ArgumentParser(description="serve /dcenter as an open namespace")
    ap.add_argument("-e", "--endpoint", help="gateway bridge endpoint "
                    "(default $SIOGATE_ENDPOINT, else tcp://127.0.0.1:5555)")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="dcenter_worker.py: %(message)s")
    worker = siogate.Worker(a.endpoint, name="dcenter")

    @worker.on("disconnect", namespace=NSP)
    def disconnected(sid, reason):
        logging.debug("%s disconnected (%s)", sid, reason)

    worker.run()


if __name__ == "__main__":
    main()
