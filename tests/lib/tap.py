"""Small helpers for Python integration tests: TAP output, starting the real
gateway, raw HTTP, and a bridge peer on a real ZeroMQ DEALER socket."""
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import msgpack
import zmq

_n = 0
_failed = 0


def ok(cond, what):
    global _n, _failed
    _n += 1
    if not cond:
        _failed += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (_n, what), flush=True)
    return cond


def done():
    print("1..%d" % _n, flush=True)
    sys.exit(1 if _failed else 0)


class Gateway:
    """The real siogate binary on a private port and ipc path."""
    count = 0

    def __init__(self, *args, deadline=10, bridge=None):
        Gateway.count += 1
        self.bridge = bridge or "ipc:///tmp/siogate-pytest-%d-%d.sock" % (os.getpid(), Gateway.count)
        cmd = [os.environ["SIOGATE"], "--listen", "127.0.0.1:0", "--bridge", self.bridge]
        cmd += list(args)
        # $SIOGATE_WRAPPER (e.g. "valgrind --error-exitcode=99 ...") runs it under a tool.
        cmd = os.environ.get("SIOGATE_WRAPPER", "").split() + cmd
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        self.lines = []
        self._buf = b""
        m = self.wait_log(r"listening on 127\.0\.0\.1:(\d+)", deadline)
        if not m:
            raise RuntimeError("gateway did not start: %r" % self.lines)
        self.port = int(m.group(1))

    def _pump(self, timeout):
        r, _, _ = select.select([self.proc.stderr], [], [], timeout)
        if not r:
            return False
        chunk = os.read(self.proc.stderr.fileno(), 65536)
        if not chunk:
            return False
        self._buf += chunk
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            self.lines.append(line.decode("utf-8", "replace"))
        return True

    def wait_log(self, pattern, deadline=5, start=0):
        """Wait for a log line matching pattern (from line index start)."""
        rx = re.compile(pattern)
        end = time.monotonic() + deadline
        i = start
        while True:
            while i < len(self.lines):
                m = rx.search(self.lines[i])
                if m:
                    return m
                i += 1
            left = end - time.monotonic()
            if left <= 0 or (not self._pump(left) and self.proc.poll() is not None):
                return None

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        while self._pump(0.1):
            pass
        return self.proc.returncode


def http(port, raw, timeout=5):
    """Send raw bytes, return the whole response (until close or one response)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(raw if isinstance(raw, bytes) else raw.encode())
    data = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"content-length: *(\d+)", head, re.I)
            if m and len(body) >= int(m.group(1)):
                break
    s.close()
    return data


def exchange(port, raw, src=None, timeout=5):
    """Send raw bytes on a fresh connection (optionally from another loopback
    source address); return everything read until the peer closes."""
    s = socket.socket()
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(raw if isinstance(raw, bytes) else raw.encode())
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return data


def rss_kb(pid):
    """A process's resident set size in kB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def status_body(resp):
    head, _, body = resp.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.1 (\d+)", head)
    return (int(m.group(1)) if m else 0), body


def get(port, path, timeout=5):
    return status_body(http(port, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path,
                            timeout))


def post(port, path, body, timeout=5):
    if isinstance(body, str):
        body = body.encode()
    req = ("POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
           % (path, len(body))).encode() + body
    return status_body(http(port, req, timeout))


class Peer:
    """A bridge peer: a real ZeroMQ DEALER speaking msgpack maps."""

    def __init__(self, endpoint, rid=None, curve=None):
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.ROUTING_ID, rid or os.urandom(16))
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            server, public, secret = curve
            self.sock.setsockopt(zmq.CURVE_SERVERKEY, server.encode())
            self.sock.setsockopt(zmq.CURVE_PUBLICKEY, public.encode())
            self.sock.setsockopt(zmq.CURVE_SECRETKEY, secret.encode())
        self.sock.connect(endpoint)

    def send(self, msg):
        self.sock.send(msgpack.packb(msg, use_bin_type=True))

    def send_raw(self, *frames):
        self.sock.send_multipart(list(frames))

    def recv(self, timeout=5, skip_heartbeats=True):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                return None
            m = msgpack.unpackb(self.sock.recv(), raw=False)
            if skip_heartbeats and m.get("t") == 3:
                continue
            return m

    def recv_type(self, t, timeout=5):
        """Next message of type t, skipping others."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            m = self.recv(max(left, 0.01))
            if m is None or m.get("t") == t:
                return m
            if left <= 0:
                return None

    def close(self):
        self.sock.close()


class Proc:
    """A child process whose stderr lines are collected by a thread."""

    def __init__(self, argv, name):
        self.name = name
        self.lines = []
        self.cond = threading.Condition()
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.p.stderr:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, pattern, timeout=5.0):
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if rx.search(line):
                        return line
                left = end - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    return None
                self.cond.wait(min(left, 0.2))

    def count(self, pattern, n, timeout=10.0):
        """Wait until n lines match pattern; return the matches."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [m for m in (rx.search(l) for l in self.lines) if m]
                left = end - time.monotonic()
                if len(got) >= n or left <= 0 or self.p.poll() is not None:
                    return got
                self.cond.wait(min(left, 0.2))

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        sys.stderr.write("--- %s log, exit %r ---\n" % (self.name, self.p.returncode))
        for line in self.lines:
            sys.stderr.write("  %s\n" % line)
        return self.p.returncode
