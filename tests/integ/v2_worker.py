#!/usr/bin/python3
"""v2_worker.py ENDPOINT: the worker of v2_browser.test.mjs, written with the
siogate Python module the way a Flask-SocketIO app's handlers are."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "sdk", "python"))

import siogate  # noqa: E402

worker = siogate.Worker(sys.argv[1])


@worker.event
def connect(sid, environ, auth):
    worker.save_session(sid, {"eio": environ.get("eio") if isinstance(environ, dict) else None})


@worker.on("my event")
def my_event(sid, data):
    worker.emit("my response", data, to=sid)
    return "got it"


@worker.on("bin")
def binary(sid, data):
    worker.emit("bin", data, to=sid)


print("v2_worker: ready", file=sys.stderr, flush=True)
worker.run()
