"""CURVE on the bridge: only workers with the gateway's public key and an
authorized key pair register; others get nowhere and the gateway logs the
refusal.  Real gateway, real ZeroMQ (pyzmq and the C SDK's echo worker)."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ.get("TOP_SRCDIR", "."), "tests", "lib"))
from tap import Gateway, Peer, Proc, done, get, ok  # noqa: E402
from proto import HELLO  # noqa: E402

import msgpack  # noqa: E402
import zmq  # noqa: E402


def keypair():
    out = subprocess.run([os.environ["SIOGATE"], "--curve-keygen"], capture_output=True,
                         text=True, timeout=10).stdout
    kv = dict(line.split(": ", 1) for line in out.splitlines())
    return kv["public"], kv["secret"]


def hello(peer):
    peer.send({"v": 1, "t": HELLO, "name": "c", "eio": ["/engine.io/"], "credit": 8, "hb": 500})
    return peer.recv_type(2, timeout=3)


def main():
    d = tempfile.mkdtemp()
    spub, ssec = keypair()
    wpub, wsec = keypair()
    bpub, bsec = keypair()
    ok(len(spub) == 40 and len(ssec) == 40, "--curve-keygen prints a z85 key pair")
    with open(os.path.join(d, "server.key"), "w") as f:
        f.write("secret: %s\n" % ssec)
    with open(os.path.join(d, "authorized"), "w") as f:
        f.write("# workers\n%s\n" % wpub)
    gw = Gateway("--engineio-path", "/engine.io/",
                 "--curve-secret-key-file", os.path.join(d, "server.key"),
                 "--curve-authorized-keys", os.path.join(d, "authorized"))
    try:
        ok(gw.wait_log(r"CURVE on, server public key " + re.escape(spub)) is not None,
           "the gateway logs its public key")

        good = Peer(gw.bridge, curve=(spub, wpub, wsec))
        ok(hello(good) is not None, "an authorized worker registers")
        bad = Peer(gw.bridge, curve=(spub, bpub, bsec))
        ok(hello(bad) is None, "a worker with another key pair gets no WELCOME")
        ok(gw.wait_log(r"CURVE client key .* refused") is not None, "the refusal is logged")
        plain = Peer(gw.bridge)
        ok(hello(plain) is None, "a worker without CURVE gets no WELCOME")

        # The C SDK takes the keys from the environment.
        env = dict(os.environ, SIOGATE_CURVE_SERVERKEY=spub, SIOGATE_CURVE_PUBLICKEY=wpub,
                   SIOGATE_CURVE_SECRETKEY=wsec)
        echo = Proc([os.environ["ECHO_WORKER"], "-e", gw.bridge, "-p", "/engine.io/"],
                    "echo_worker", env=env)
        ok(echo.wait_line(r"registered", 10) is not None,
           "the C echo worker registers with keys from the environment")
        echo.stop()
        st = subprocess.run([os.environ["SIOGATE"], "--status", "--bridge", gw.bridge,
                             "--curve-secret-key-file", os.path.join(d, "server.key")],
                            env=dict(os.environ, SIOGATE_CURVE_PUBLICKEY=wpub,
                                     SIOGATE_CURVE_SECRETKEY=wsec),
                            capture_output=True, text=True, timeout=20)
        ok(st.returncode == 0 and "workers:" in st.stdout,
           "--status works over CURVE with an authorized key pair (%d)" % st.returncode)
        for p in (good, bad, plain):
            p.close()
        ok(gw.alive(), "the gateway is still running")
    finally:
        ok(gw.stop() == 0, "gateway exits 0")
    done()


main()
