#!/usr/bin/python3
"""v2_worker.py ENDPOINT: a worker written with the siogate Python module the
way a Flask-SocketIO app's handlers are (v2_browser.test.mjs,
sio_recovery.test.mjs).  "stats" answers [connect handler runs, the
environ flags of the last one]."""
import sys

import siogate

worker = siogate.Worker(sys.argv[1])
runs = []


@worker.event
def connect(sid, environ, auth):
    runs.append({"lost": environ.get("siogate.lost"), "eio": environ["siogate.hs"].get("eio")})
    worker.save_session(sid, {"n": len(runs)})


@worker.on("stats")
def stats(sid):
    return [len(runs), runs[-1], worker.get_session(sid)]


@worker.on("my event")
def my_event(sid, data):
    worker.emit("my response", data, to=sid)
    return "got it"


@worker.on("bin")
def binary(sid, data):
    worker.emit("bin", data, to=sid)


print("v2_worker: ready", file=sys.stderr, flush=True)
worker.run()
