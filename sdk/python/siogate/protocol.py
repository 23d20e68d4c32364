"""Constants and small pure helpers of the siogate bridge protocol, version 1.

Everything here mirrors ``siogate-protocol(7)`` and ``bridge/br_proto.h``:
one msgpack map per ZeroMQ frame, ``"v"`` (version) and ``"t"`` (type) first.
Nothing in this module does I/O.
"""
import os
import urllib.parse

import msgpack

VERSION = 1

# Control messages (< 20).
HELLO = 1
WELCOME = 2
HEARTBEAT = 3
ERROR = 4
BYE = 5
CREDIT = 6
STATUS = 7
STATUS_REPLY = 8
BATCH = 9
SYNC = 10
SYNC_REPLY = 11

# Raw Engine.IO (20-29).
EIO_OPEN = 20
EIO_MESSAGE = 21
EIO_CLOSE = 22
EIO_SEND = 23
EIO_CLOSE_SESSION = 24

# Socket.IO, gateway to worker (40-49).
SIO_CONNECT = 40
SIO_EVENT = 41
SIO_DISCONNECT = 42
SIO_CLIENT_ACK = 43
SIO_ACK_TIMEOUT = 44
SIO_RESULT = 45
SIO_SERVER_EVENT = 46     # another node's serverSideEmit (no credit)
SIO_SERVER_RESULT = 47    # the answers to our SIO_SERVER_EMIT with req

# Socket.IO, worker to gateway (50-69).
SIO_ACCEPT = 50
SIO_REJECT = 51
SIO_ACK = 52
SIO_EMIT = 53
SIO_JOIN = 54
SIO_LEAVE = 55
SIO_DISCONNECT_SOCKETS = 56
SIO_SET_SESSION = 57
SIO_QUERY = 58
SIO_SERVER_EMIT = 59      # serverSideEmit to the other nodes of the cluster
SIO_SERVER_ACK = 60       # our answer to a SIO_SERVER_EVENT with req

#: Gateway-to-worker messages that cost one credit each.
CREDITED = frozenset((EIO_OPEN, EIO_MESSAGE, EIO_CLOSE, SIO_CONNECT, SIO_EVENT,
                      SIO_DISCONNECT, SIO_CLIENT_ACK, SIO_ACK_TIMEOUT))

# ERROR codes.
E_BAD_MESSAGE = 1
E_BAD_VERSION = 2
E_UNKNOWN_TYPE = 3
E_NOT_REGISTERED = 4
E_UNKNOWN_SID = 5
E_TOO_LARGE = 6
E_NOT_SERVED = 7
E_NO_WORKER = 8

ERROR_NAMES = {
    E_BAD_MESSAGE: "BAD_MESSAGE", E_BAD_VERSION: "BAD_VERSION",
    E_UNKNOWN_TYPE: "UNKNOWN_TYPE", E_NOT_REGISTERED: "NOT_REGISTERED",
    E_UNKNOWN_SID: "UNKNOWN_SID", E_TOO_LARGE: "TOO_LARGE",
    E_NOT_SERVED: "NOT_SERVED", E_NO_WORKER: "NO_WORKER",
}

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"
DEFAULT_CREDIT = 256
DEFAULT_HB_MS = 2000
DEAD_AFTER_MISSED = 4
MAX_FRAME = 64 * 1024 * 1024
#: Length of a socket id or Engine.IO sid: 4-char gateway id + 20 characters.
ID_LEN = 24
GW_ID_LEN = 4


def pack(**fields):
    """Encode one bridge message: ``pack(t=HELLO, name="w")`` -> bytes.

    ``v`` and ``t`` come first.  bytes/bytearray become msgpack bin, str
    becomes str, tuples become arrays.  Raises TypeError for values msgpack
    cannot encode (so the caller sees the mistake where it made it).
    """
    msg = {"v": VERSION, "t": fields.pop("t")}
    msg.update(fields)
    return msgpack.packb(msg, use_bin_type=True)


def unpack(frame):
    """Decode one frame into a dict; raises ValueError when it is not a
    version-1 map with an integer ``t``."""
    try:
        msg = msgpack.unpackb(frame, raw=False, strict_map_key=False)
    except Exception as e:  # msgpack raises several unrelated types
        raise ValueError("not msgpack: %s" % e) from None
    if not isinstance(msg, dict):
        raise ValueError("not a map")
    if msg.get("v") != VERSION:
        raise ValueError("version %r" % (msg.get("v"),))
    if not isinstance(msg.get("t"), int):
        raise ValueError("no type")
    return msg


def routing_id():
    """16 random bytes whose first byte is not zero (ZeroMQ reserves it)."""
    rid = bytearray(os.urandom(16))
    if rid[0] == 0:
        rid[0] = 1
    return bytes(rid)


def targets(x):
    """Normalise a ``to``/``room``/``skip_sid`` argument to a list of str.

    None -> [], "a" -> ["a"], ["a", "b"] (any iterable) -> ["a", "b"]
    (duplicates dropped, order kept)."""
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    out = []
    for item in x:
        if not isinstance(item, str):
            raise TypeError("socket ids and room names are str, got %r" % (item,))
        if item not in out:
            out.append(item)
    return out


def args_of(data):
    """The args array of an event: a tuple spreads into several args, None
    means no args, anything else is one arg (python-socketio's rule)."""
    if data is None:
        return []
    if isinstance(data, tuple):
        return list(data)
    return [data]


def ack_args(value):
    """The args of an ack built from a handler's return value."""
    return args_of(value)


def nsp_match(pattern, name):
    """Whether namespace ``name`` matches ``pattern``: an exact name, a prefix
    ending in ``*`` ("/dyn-*"), or ``*`` alone (every namespace)."""
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return pattern == name


def nsp_overlap(a, b):
    """Whether two namespace patterns can match a common name."""
    if a.endswith("*") and b.endswith("*"):
        pa, pb = a[:-1], b[:-1]
        return pa.startswith(pb) or pb.startswith(pa)
    if a.endswith("*"):
        return nsp_match(a, b)
    if b.endswith("*"):
        return nsp_match(b, a)
    return a == b


def check_nsp(nsp):
    """Validate a namespace name or pattern; returns it."""
    if not isinstance(nsp, str) or not (nsp.startswith("/") or nsp == "*"):
        raise ValueError("a namespace starts with '/' (or is '*'), got %r" % (nsp,))
    return nsp


def environ_from_hs(hs, path="/socket.io/"):
    """A WSGI-like environ dict built from a handshake map (``hs``).

    Keys as python-socketio/Flask users know them: ``REQUEST_METHOD``,
    ``PATH_INFO``, ``QUERY_STRING``, ``REMOTE_ADDR``, ``REMOTE_PORT`` and one
    ``HTTP_<NAME>`` per header.  The raw handshake is kept too, under
    ``siogate.hs``, with shortcuts ``siogate.headers``, ``siogate.query``,
    ``siogate.transport``, ``siogate.time`` and ``siogate.url``."""
    hs = hs if isinstance(hs, dict) else {}
    headers = hs.get("headers") or {}
    query = hs.get("query") or {}
    url = hs.get("url") or ""
    target = urllib.parse.urlsplit(url) if url else None
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": target.path if target and target.path else path,
        "QUERY_STRING": target.query if target else urllib.parse.urlencode(query),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
    }
    addr = hs.get("addr") or ""
    host, sep, port = addr.rpartition(":")
    if sep:
        env["REMOTE_ADDR"] = host.strip("[]")
        env["REMOTE_PORT"] = port
    elif addr:
        env["REMOTE_ADDR"] = addr
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE" or key == "CONTENT_LENGTH":
            env[key] = value
        else:
            env["HTTP_" + key] = value
    env["siogate.hs"] = hs
    env["siogate.headers"] = headers
    env["siogate.query"] = query
    env["siogate.transport"] = hs.get("transport")
    env["siogate.time"] = hs.get("time")
    env["siogate.url"] = url
    return env
