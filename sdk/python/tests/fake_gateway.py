"""A scripted gateway for the module's own tests: a real ZeroMQ ROUTER
socket on a private ipc path that speaks the bridge protocol
(siogate-protocol(7)) message by message, as the test tells it to."""
import os
import tempfile
import time

import msgpack
import zmq

from siogate import protocol as P


class FakeGateway:
    """Bind, welcome the worker, then send and receive bridge messages."""

    def __init__(self, gw="Test"):
        self.dir = tempfile.mkdtemp(prefix="siogate-unit-")
        self.endpoint = "ipc://" + os.path.join(self.dir, "bridge")
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(self.endpoint)
        self.gw = gw
        self.peer = None
        self.seen = []          # every message received, in order

    def recv(self, timeout=5.0):
        """The next message (dict) from the worker, heartbeats skipped;
        None after timeout seconds."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                return None
            rid, frame = self.sock.recv_multipart()
            msg = msgpack.unpackb(frame, raw=False)
            if msg.get("t") == P.HEARTBEAT:
                continue
            self.peer = rid
            self.seen.append(msg)
            return msg

    def expect(self, t, timeout=5.0):
        """The next message of type t (others are kept in self.seen)."""
        end = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.0, end - time.monotonic()))
            if m is None or m.get("t") == t:
                return m

    def send(self, t, **fields):
        """Send one message to the worker."""
        self.sock.send_multipart([self.peer, P.pack(t=t, **fields)])

    def welcome(self, timeout=5.0):
        """Wait for HELLO and answer WELCOME; returns the HELLO."""
        hello = self.expect(P.HELLO, timeout)
        if hello is not None:
            self.send(P.WELCOME, gw=self.gw, wid=1, hb=2000)
        return hello

    def sid(self, n):
        """A socket id of this gateway (24 characters)."""
        return (self.gw + "%020d" % n)[:P.ID_LEN]

    def close(self):
        self.sock.close(0)
