"""Small helpers for Python integration tests: TAP output, starting the real
gateway, raw HTTP, and a bridge peer on a real ZeroMQ DEALER socket."""
import os
import re
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


def need_gateway_and_socketio():
    """Skip the whole test (a TAP plan of 0) unless $SIOGATE names the
    gateway binary and Debian's python3-socketio imports; returns the
    socketio module."""
    try:
        import socketio
    except ImportError:
        print("1..0 # SKIP python3-socketio is not installed", flush=True)
        sys.exit(0)
    if not os.path.exists(os.environ.get("SIOGATE", "")):
        print("1..0 # SKIP SIOGATE is not set to the gateway binary", flush=True)
        sys.exit(0)
    return socketio


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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
    """The one "spawn and wait for a log line" of the Python tests: a child
    process whose stderr lines (with both=True stdout's too, for programs
    that log there, like redis-server) are collected by a thread in
    ``lines``; stdout otherwise goes to /dev/null.

    Every wait is bounded and returns early when the process exits;
    ``expect()`` raises an error that names the process and holds its
    output, ``find()``/``wait_line()``/``wait_log()`` return None instead.
    ``stop()`` is SIGTERM, then SIGKILL after ``deadline`` seconds, and
    copies the output to stderr (the test's .log file, not the TAP stream).
    """

    def __init__(self, argv, name=None, env=None, both=False):
        self.name = name or os.path.basename(argv[0])
        self.argv = list(argv)
        self.lines = []
        self.cond = threading.Condition()
        if both:
            self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, env=env)
            self._out = self.p.stdout
        else:
            self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, env=env)
            self._out = self.p.stderr
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._logged = False

    def _read(self):
        for raw in self._out:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def _done(self):
        """Exited, and every line of it read."""
        return self.p.poll() is not None and not self._reader.is_alive()

    def find(self, pattern, timeout=5.0, start=0):
        """(index, match) of the first line from index start matching
        pattern, or (None, None) after timeout seconds or once it exited."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                    i += 1
                left = end - time.monotonic()
                if left <= 0 or self._done():
                    return None, None
                self.cond.wait(min(left, 0.2))

    def wait_log(self, pattern, timeout=5.0, start=0):
        """The match of the first line from start matching pattern, or None."""
        return self.find(pattern, timeout, start)[1]

    def wait_line(self, pattern, timeout=5.0, start=0):
        """The first line from start matching pattern, or None."""
        i, _ = self.find(pattern, timeout, start)
        return None if i is None else self.lines[i]

    def expect(self, pattern, timeout=10.0, start=0):
        """Like wait_log(), but raises RuntimeError with the output when the
        line does not come."""
        m = self.wait_log(pattern, timeout, start)
        if m is None:
            raise RuntimeError(self.why_not(pattern, timeout))
        return m

    def why_not(self, pattern, timeout):
        """The message for a line that did not come: who, why, the output."""
        rc = self.p.poll()
        state = "exited with %s" % rc if rc is not None else "still running"
        return "%s did not log /%s/ within %.1f s (%s); its output:\n%s" % (
            self.name, pattern, timeout, state, self.output())

    def output(self, last=60):
        with self.cond:
            lines = self.lines[-last:]
        return "\n".join("  " + l for l in lines) or "  (nothing)"

    def count(self, pattern, n, timeout=10.0):
        """Wait until n lines match pattern; return the matches."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [m for m in (rx.search(l) for l in self.lines) if m]
                left = end - time.monotonic()
                if len(got) >= n or left <= 0 or self._done():
                    return got
                self.cond.wait(min(left, 0.2))

    def mark(self):
        """Index of the next line, for find(..., start=mark())."""
        with self.cond:
            return len(self.lines)

    def since(self, n):
        with self.cond:
            return list(self.lines[n:])

    def alive(self):
        return self.p.poll() is None

    def join_output(self, timeout=5.0):
        """After it exited: wait (bounded) until its last lines are read."""
        self._reader.join(timeout)

    def stop(self, sig=signal.SIGTERM, deadline=5.0):
        """Signal, wait (bounded), SIGKILL if need be; the exit status."""
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(deadline)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self._reader.join(5)
        if not self._logged:
            self._logged = True
            sys.stderr.write("--- %s (pid %d) log, exit %r ---\n" % (self.name, self.p.pid,
                                                                     self.p.returncode))
            for line in self.since(0):
                sys.stderr.write("  %s\n" % line)
        return self.p.returncode


def start(argv, ready, name=None, timeout=10.0, env=None, both=False):
    """Start a Proc and wait for a line matching ready; on failure stop it
    and raise RuntimeError with its output."""
    p = Proc(argv, name, env=env, both=both)
    try:
        p.expect(ready, timeout)
    except RuntimeError:
        p.stop()
        raise
    return p


class Gateway(Proc):
    """The real siogate binary on a private port and ipc path (a Proc:
    wait_log(pattern, deadline, start) and the rest)."""
    count = 0

    def __init__(self, *args, deadline=10, bridge=None):
        Gateway.count += 1
        self.bridge = bridge or "ipc:///tmp/siogate-pytest-%d-%d.sock" % (os.getpid(), Gateway.count)
        cmd = [os.environ["SIOGATE"], "--listen", "127.0.0.1:0", "--bridge", self.bridge]
        cmd += list(args)
        # $SIOGATE_WRAPPER (e.g. "valgrind --error-exitcode=99 ...") runs it under a tool.
        cmd = os.environ.get("SIOGATE_WRAPPER", "").split() + cmd
        super().__init__(cmd, "siogate")
        self.proc = self.p
        m = self.wait_log(r"listening on 127\.0\.0\.1:(\d+)", deadline)
        if not m:
            self.stop()
            raise RuntimeError(self.why_not("listening on", deadline))
        self.port = int(m.group(1))

    def wait_log(self, pattern, deadline=5, start=0):
        """Wait for a log line matching pattern (from line index start)."""
        return super().wait_log(pattern, deadline, start)

    def stop(self, sig=signal.SIGTERM, deadline=10.0):
        """SIGTERM (10 s, for valgrind), then SIGKILL; the exit status."""
        return super().stop(sig, deadline)
