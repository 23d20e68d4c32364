"""The bridge as a worker sees it: registration, events, commands, and every
kind of garbage a worker can send (real gateway, real ZeroMQ)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("TOP_SRCDIR", "."), "tests", "lib"))
from tap import Gateway, Peer, done, get, ok, post  # noqa: E402
from proto import (BYE, CREDIT, EIO_CLOSE, EIO_CLOSE_SESSION, EIO_MESSAGE,  # noqa: E402
                   EIO_OPEN, EIO_SEND, ERROR, HEARTBEAT, HELLO, SYNC, SYNC_REPLY, WELCOME)
EP = "/engine.io/"


def poll_packets(gw, sid, n, deadline=5):
    """GET until n packets arrived (a worker's sends may straddle two GETs)."""
    import time
    got = []
    end = time.monotonic() + deadline
    while len(got) < n and time.monotonic() < end:
        st, body = get(gw.port, EP + "?EIO=4&transport=polling&sid=" + sid)
        if st != 200:
            break
        got += [p for p in body.split(b"\x1e") if p != b"2"]
    return got


def handshake(gw):
    st, body = get(gw.port, EP + "?EIO=4&transport=polling")
    if st != 200:
        return None
    return json.loads(body[1:])["sid"]


def main():
    gw = Gateway("--engineio-path", EP, "--gateway-id", "TeSt", "--bridge-heartbeat", "200")
    try:
        run(gw)
    finally:
        rc = gw.stop()
        ok(rc == 0, "gateway exits 0 on SIGTERM (got %r)" % rc)
    done()


def run(gw):
    w = Peer(gw.bridge)

    # Before HELLO: anything else is refused with NOT_REGISTERED.
    w.send({"v": 1, "t": HEARTBEAT})
    m = w.recv()
    ok(m and m["t"] == ERROR and m["code"] == 4, "a heartbeat before HELLO gets ERROR not-registered")

    w.send({"v": 1, "t": HELLO, "name": "py", "eio": [EP], "credit": 8, "hb": 1000})
    m = w.recv()
    ok(m and m["t"] == WELCOME and m["gw"] == "TeSt" and m["hb"] == 200 and m["wid"] >= 1,
       "HELLO is answered WELCOME with gateway id, worker id and heartbeat")
    ok(gw.wait_log(r"worker \d+ \(py\) registered") is not None, "the gateway logs the registration")

    # Heartbeats come at the advertised interval.
    m = w.recv(2, skip_heartbeats=False)
    ok(m and m["t"] == HEARTBEAT, "the gateway sends heartbeats to an idle worker")

    # A session: open carries the handshake.
    sid = handshake(gw)
    ok(sid and sid.startswith("TeSt") and len(sid) == 24, "sid starts with the gateway id")
    m = w.recv_type(EIO_OPEN)
    ok(m and m["sid"] == sid and m["path"] == EP and m["seq"] == 0 and
       m["hs"]["transport"] == "polling" and m["hs"]["query"]["EIO"] == "4" and
       m["hs"]["headers"]["host"] == "x" and m["hs"]["addr"].startswith("127.0.0.1:"),
       "EIO_OPEN carries sid, path, seq 0 and the handshake (headers, query, addr)")

    # Messages: text and binary, in order with seq.
    st, body = post(gw.port, EP + "?EIO=4&transport=polling&sid=" + sid, "4one\x1e4two\x1ebAAEC")
    ok(st == 200 and body == b"ok", "POST of three packets answered ok")
    msgs = [w.recv_type(EIO_MESSAGE) for _ in range(3)]
    ok(all(msgs) and [x["data"] for x in msgs] == ["one", "two", b"\x00\x01\x02"] and
       [x["seq"] for x in msgs] == [1, 2, 3],
       "text and binary messages arrive in order with increasing seq")
    w.send({"v": 1, "t": CREDIT, "n": 4})

    # Sending back: text and binary reach the client.
    w.send({"v": 1, "t": EIO_SEND, "sid": sid, "data": "hi"})
    w.send({"v": 1, "t": EIO_SEND, "sid": sid, "data": b"\x01\x02"})
    got = poll_packets(gw, sid, 2)
    ok(got == [b"4hi", b"bAQI="], "EIO_SEND text and binary reach the client (%r)" % got)

    # Fan-out with sids: one message to two sessions, unknown sid reported.
    sid2 = handshake(gw)
    w.recv_type(EIO_OPEN)
    w.send({"v": 1, "t": EIO_SEND, "sids": [sid, sid2, "TeStnope"], "data": "all"})
    m = w.recv_type(ERROR)
    ok(m and m["code"] == 5 and m["sid"] == "TeStnope" and m["ref"] == EIO_SEND,
       "EIO_SEND to an unknown sid gets ERROR unknown-sid naming it")
    b1 = poll_packets(gw, sid, 1)
    b2 = poll_packets(gw, sid2, 1)
    ok(b1 == [b"4all"] and b2 == [b"4all"], "EIO_SEND with sids reaches both sessions")

    # SYNC: answered after everything the peer sent before it, errors first.
    w.send({"v": 1, "t": EIO_SEND, "sid": "TeStgone", "data": "x"})
    w.send({"v": 1, "t": EIO_SEND, "sid": sid, "data": "before-sync"})
    w.send({"v": 1, "t": SYNC, "req": 77})
    got = [w.recv(), w.recv()]
    ok(got[0] and got[0]["t"] == ERROR and got[0]["sid"] == "TeStgone" and
       got[1] and got[1]["t"] == SYNC_REPLY and got[1]["req"] == 77,
       "SYNC is answered SYNC_REPLY with its req, after the ERROR about an earlier send (%r)" % got)
    ok(poll_packets(gw, sid, 1) == [b"4before-sync"], "... and the send before it was carried out")
    w.send({"v": 1, "t": SYNC})
    m = w.recv_type(ERROR)
    ok(m and m["code"] == 1 and m["ref"] == SYNC and "req" in m.get("text", ""),
       "SYNC without req gets ERROR bad-message naming req (%r)" % m)
    w.send({"v": 1, "t": SYNC, "req": "1"})
    m = w.recv_type(ERROR)
    ok(m and m["code"] == 1 and m["ref"] == SYNC, "SYNC with a str req gets ERROR bad-message")
    w.send({"v": 1, "t": SYNC_REPLY, "req": 1})
    m = w.recv_type(ERROR)
    ok(m and m["code"] == 1 and m["ref"] == SYNC_REPLY,
       "SYNC_REPLY from a worker gets ERROR bad-message")
    stranger = Peer(gw.bridge)
    stranger.send({"v": 1, "t": SYNC, "req": 5})
    m = stranger.recv()
    ok(m and m["t"] == SYNC_REPLY and m["req"] == 5,
       "a peer that never said HELLO gets SYNC_REPLY too (%r)" % m)
    stranger.close()

    # Garbage from the worker: each gets an ERROR, the gateway keeps serving.
    cases = [
        (b"\xc1", 1, "a byte that is not msgpack"),
        (b"\x93\x01\x02\x03", 1, "an array instead of a map"),
        (b"\x81\xa1t\x01", 1, "a map without v"),
        (b"", 1, "an empty frame"),
    ]
    for raw, code, what in cases:
        w.send_raw(raw)
        m = w.recv_type(ERROR)
        ok(m and m["code"] == code, "%s gets ERROR code %d" % (what, code))
    w.send({"v": 2, "t": HEARTBEAT})
    m = w.recv_type(ERROR)
    ok(m and m["code"] == 2, "version 2 gets ERROR bad-version")
    w.send({"v": 1, "t": 999})
    m = w.recv_type(ERROR)
    ok(m and m["code"] == 3 and m["ref"] == 999, "type 999 gets ERROR unknown-type with ref")
    w.send({"v": 1, "t": EIO_OPEN, "sid": sid})
    m = w.recv_type(ERROR)
    ok(m and m["code"] == 1, "a gateway-only type from a worker gets ERROR bad-message")
    w.send({"v": 1, "t": EIO_SEND, "sid": sid})
    m = w.recv_type(ERROR)
    ok(m and m["code"] == 1, "EIO_SEND without data gets ERROR bad-message")
    w.send({"v": 1, "t": EIO_SEND, "sid": 42, "data": "x"})
    m = w.recv_type(ERROR)
    ok(m and m["code"] == 1, "EIO_SEND with a numeric sid gets ERROR bad-message")
    w.send_raw(b"\x82\xa1v\x01\xa1t\x03", b"extra")
    m = w.recv_type(ERROR)
    ok(m and m["code"] == 1, "a two-frame message gets ERROR bad-message")
    w.send({"v": 1, "t": EIO_SEND, "sid": sid, "data": "x" * 2000000})
    m = w.recv_type(ERROR)
    ok(m and m["code"] == 6, "EIO_SEND over maxPayload gets ERROR too-large")
    w.send({"v": 1, "t": EIO_CLOSE_SESSION, "sid": "TeStgone"})
    m = w.recv_type(ERROR)
    ok(m and m["code"] == 5, "EIO_CLOSE_SESSION of an unknown sid gets ERROR unknown-sid")
    w.send({"v": 1, "t": HELLO, "eio": ["/nowhere/"]})
    m = w.recv_type(ERROR)
    ok(m and m["code"] == 7, "HELLO for a path that is no raw endpoint gets ERROR not-served")

    # After all that, the session still works.
    post(gw.port, EP + "?EIO=4&transport=polling&sid=" + sid, "4still")
    m = w.recv_type(EIO_MESSAGE)
    ok(m and m["data"] == "still", "the session still delivers after the garbage")

    # A second worker (write-only emitter: no paths) can send to the session.
    em = Peer(gw.bridge)
    em.send({"v": 1, "t": HELLO, "name": "emitter", "credit": 0})
    ok(em.recv_type(WELCOME) is not None, "a write-only emitter registers with no paths")
    em.send({"v": 1, "t": EIO_SEND, "sid": sid, "data": "from emitter"})
    ok(get(gw.port, EP + "?EIO=4&transport=polling&sid=" + sid) == (200, b"4from emitter"),
       "the emitter's message reaches the client")

    # Credit: with none left, events wait in the backlog until CREDIT.
    w.send({"v": 1, "t": CREDIT, "n": 0})
    w.send({"v": 1, "t": HELLO, "name": "py", "eio": [EP], "credit": 0, "hb": 1000})
    w.recv_type(WELCOME)
    post(gw.port, EP + "?EIO=4&transport=polling&sid=" + sid, "4held")
    ok(w.recv_type(EIO_MESSAGE, timeout=0.5) is None, "no event is sent without credit")
    w.send({"v": 1, "t": CREDIT, "n": 1})
    m = w.recv_type(EIO_MESSAGE)
    ok(m and m["data"] == "held", "the held event is sent once credit arrives")
    w.send({"v": 1, "t": CREDIT, "n": 100})

    # Worker closes a session: the client sees it, the worker gets EIO_CLOSE.
    w.send({"v": 1, "t": EIO_CLOSE_SESSION, "sid": sid2})
    m = w.recv_type(EIO_CLOSE)
    ok(m and m["sid"] == sid2 and m["reason"] == "forced close",
       "EIO_CLOSE_SESSION closes it and EIO_CLOSE says 'forced close'")
    ok(get(gw.port, EP + "?EIO=4&transport=polling&sid=" + sid2)[0] == 400,
       "the closed session is gone for the client")

    # A silent worker is dropped and its sessions closed with 'worker gone'.
    silent = Peer(gw.bridge)
    silent.send({"v": 1, "t": HELLO, "name": "silent", "eio": [EP], "credit": 10, "hb": 100})
    silent.recv_type(WELCOME)
    w.send({"v": 1, "t": BYE})
    ok(gw.wait_log(r"worker \d+ \(py\) dropped: said BYE") is not None, "BYE drops the worker")
    sid3 = handshake(gw)
    ok(silent.recv_type(EIO_OPEN) is not None, "with one worker left, it gets the new session")
    ok(gw.wait_log(r"worker \d+ \(silent\) dropped: heartbeat lost", deadline=3) is not None,
       "a worker silent for 4 heartbeat intervals is dropped")
    ok(get(gw.port, EP + "?EIO=4&transport=polling&sid=" + sid3)[0] == 400,
       "its session was closed")
    st, body = get(gw.port, EP + "?EIO=4&transport=polling")
    ok(st == 503 and b"No worker" in body, "with no worker left, a handshake gets 503")
    ok(gw.alive(), "the gateway is still running")
    for p in (w, em, silent):
        p.close()


main()
