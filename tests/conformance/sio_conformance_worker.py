#!/usr/bin/python3
"""The worker the official socket.io-protocol test suite expects behind
siogate, written against siogate-protocol(7) with nothing but pyzmq and
msgpack (no siogate module): it proves the documented protocol is enough.

Behaviour (test-suite.js of socketio/socket.io-protocol):
  * serves the namespaces "/" and "/custom";
  * accepts every connection, then emits "auth" with the CONNECT payload
    ({} when the client sent none);
  * "message"          -> emits "message-back" with the same arguments;
  * "message-with-ack" -> acknowledges with the same arguments.

usage: sio_conformance_worker.py [ENDPOINT]   (default $SIOGATE_ENDPOINT or
tcp://127.0.0.1:5555).  Prints "ready" on stdout once the gateway welcomed it.

Why "auth" waits AUTH_DELAY after the accept: the suite reads packets with
waitFor(), which adds a one-shot listener after each message, so when two
WebSocket frames arrive in one TCP read the second is never seen.  The
gateway writes the CONNECT answer and an emit that follows it at once in one
write; Node's reference server happens to write them separately.  The pause
keeps the two packets in separate reads; the suite only checks their order.
"""
import os
import sys
import time

import msgpack
import zmq

# Message types and error codes (siogate-protocol(7), /tmp/sio-spec.md).
HELLO, WELCOME, HEARTBEAT, ERROR, BYE, CREDIT = 1, 2, 3, 4, 5, 6
SIO_CONNECT, SIO_EVENT, SIO_DISCONNECT, SIO_CLIENT_ACK, SIO_ACK_TIMEOUT = 40, 41, 42, 43, 44
SIO_ACCEPT, SIO_ACK, SIO_EMIT = 50, 52, 53
CREDITED = {20, 21, 22, 40, 41, 42, 43, 44}
E_NOT_REGISTERED = 4

HB_MS = 1000
AUTH_DELAY = 0.05
CREDIT_WINDOW = 64
NAMESPACES = ["/", "/custom"]


def main():
    endpoint = (sys.argv[1] if len(sys.argv) > 1 else
                os.environ.get("SIOGATE_ENDPOINT", "tcp://127.0.0.1:5555"))
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    rid = bytearray(os.urandom(16))
    rid[0] = rid[0] or 1                      # a leading zero byte is reserved
    sock.setsockopt(zmq.ROUTING_ID, bytes(rid))
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)

    state = {"last_send": 0.0, "registered": False}

    def send(**fields):
        msg = {"v": 1, "t": fields.pop("t")}
        msg.update(fields)
        sock.send(msgpack.packb(msg, use_bin_type=True))
        state["last_send"] = time.monotonic()

    def hello():
        send(t=HELLO, name="sio-conformance", nsp=NAMESPACES, credit=CREDIT_WINDOW, hb=HB_MS)

    hello()
    last_recv = time.monotonic()
    gw_hb = 2.0
    used = 0
    later = []                                # (when, fields) of delayed emits
    while True:
        timeout = HB_MS if state["registered"] else 200
        if later:
            timeout = max(0, min(timeout, int((later[0][0] - time.monotonic()) * 1000) + 1))
        if sock.poll(timeout):
            while True:
                try:
                    frame = sock.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                last_recv = time.monotonic()
                m = msgpack.unpackb(frame, raw=False)
                t = m.get("t")
                if t == WELCOME:
                    if not state["registered"]:
                        print("ready", flush=True)
                    state["registered"] = True
                    gw_hb = (m.get("hb") or 2000) / 1000.0
                    used = 0                  # a HELLO resets the credit window
                elif t == ERROR:
                    print("gateway ERROR %r" % (m,), file=sys.stderr, flush=True)
                    if m.get("code") == E_NOT_REGISTERED:
                        state["registered"] = False
                        hello()
                elif t == BYE:
                    state["registered"] = False
                elif t == SIO_CONNECT:
                    sid, nsp = m["id"], m["nsp"]
                    if m.get("reply"):
                        send(t=SIO_ACCEPT, id=sid)
                    auth = m.get("auth")
                    later.append((time.monotonic() + AUTH_DELAY,
                                  dict(t=SIO_EMIT, nsp=nsp, ev="auth",
                                       args=[auth if auth is not None else {}], to=[sid])))
                elif t == SIO_EVENT:
                    sid, nsp, ev, args = m["id"], m["nsp"], m["ev"], m.get("args", [])
                    if ev == "message":
                        send(t=SIO_EMIT, nsp=nsp, ev="message-back", args=args, to=[sid])
                    elif ev == "message-with-ack" and "ack" in m:
                        send(t=SIO_ACK, id=sid, nsp=nsp, ack=m["ack"], args=args)
                if t in CREDITED:
                    used += 1
            if used and state["registered"]:
                send(t=CREDIT, n=used)
                used = 0
        now = time.monotonic()
        while later and later[0][0] <= now:
            send(**later.pop(0)[1])
        if not state["registered"]:
            if now - state["last_send"] >= HB_MS / 1000.0:
                hello()
        elif now - last_recv > 4 * gw_hb:
            state["registered"] = False       # the gateway went silent
            hello()
        elif now - state["last_send"] >= HB_MS / 1000.0:
            send(t=HEARTBEAT)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
