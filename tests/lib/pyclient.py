"""A recording python-socketio client (Debian's python3-socketio) for the
tests of the siogate Python module: every event of every namespace is kept
and can be waited for with a deadline."""
import os
import threading
import time

WAIT = 5.0


class Client:
    """socketio.Client connected to some namespaces, recording events."""

    def __init__(self, url, namespaces=("/",), transport="websocket", auth=None,
                 delay=0, query=None):
        """delay: seconds the "question" handler sleeps before it answers;
        query: a query string added to url."""
        import socketio
        self.c = socketio.Client(reconnection=False, engineio_logger=bool(os.environ.get("EIO_LOG")))
        self.url = url + ("?" + query if query else "")
        self.namespaces = list(namespaces)
        self.transport = transport
        self.auth = auth
        self.cond = threading.Condition()
        self.events = []
        self.acks = {}
        for ns in self.namespaces:
            self.c.on("*", self._catch(ns), namespace=ns)
            for name in ("connect_error", "disconnect"):
                self.c.on(name, self._named(ns, name), namespace=ns)
            self.c.on("question", self._question(ns, delay), namespace=ns)

    def _add(self, ns, name, args):
        with self.cond:
            self.events.append((ns, name, args))
            self.cond.notify_all()

    def _catch(self, ns):
        return lambda event, *args: self._add(ns, event, args)

    def _named(self, ns, name):
        return lambda *args: self._add(ns, name, args)

    def _question(self, ns, delay):
        def question(x):
            self._add(ns, "question", (x,))
            if delay:
                time.sleep(delay)       # a slow client: answers after the worker gave up
            return x * 2, "twice"
        return question

    def connect(self, wait=WAIT):
        """Connect every namespace.  python-socketio waits wait_timeout
        after a refusal before it raises: expected refusals pass a short one."""
        self.c.connect(self.url, transports=[self.transport], namespaces=self.namespaces,
                       auth=self.auth, wait_timeout=wait)
        return self

    def sid(self, ns="/"):
        return self.c.get_sid(ns)

    def wait(self, name, ns="/", pred=None, timeout=WAIT):
        """The args of the first recorded, not yet taken, event name of ns
        (for which pred(args) holds, if given)."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, (n, e, args) in enumerate(self.events):
                    if n == ns and e == name and (pred is None or pred(args)):
                        del self.events[i]
                        return args
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def has(self, name, ns="/"):
        return self.count(name, ns) > 0

    def count(self, name, ns="/"):
        with self.cond:
            return sum(1 for n, e, _ in self.events if n == ns and e == name)

    def call(self, event, *args, ns="/", timeout=WAIT):
        data = args[0] if len(args) == 1 else (tuple(args) if args else None)
        return self.c.call(event, data, namespace=ns, timeout=timeout)

    def emit_ack(self, key, event, *args, ns="/"):
        """Emit without waiting; the ack lands in self.acks[key]."""
        def got(*a):
            with self.cond:
                self.acks[key] = a[0] if len(a) == 1 else a
                self.cond.notify_all()
        data = args[0] if len(args) == 1 else (tuple(args) if args else None)
        self.c.emit(event, data, namespace=ns, callback=got)

    def wait_acks(self, keys, timeout=WAIT):
        """Wait until every key has its ack; returns self.acks."""
        end = time.monotonic() + timeout
        with self.cond:
            while not all(k in self.acks for k in keys):
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return dict(self.acks)

    def close(self):
        try:
            self.c.disconnect()
        except Exception:
            pass
