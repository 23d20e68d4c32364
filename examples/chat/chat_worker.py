#!/usr/bin/python3
"""chat_worker.py: the siogate chat example's worker, in Python.

    chat_worker.py [-v] [-e ENDPOINT] [-n NAME]

Serves the Socket.IO namespace "/chat" for the page in this folder
(index.html, chat.js) with the same behaviour as chat_worker.c, written the
Flask-SocketIO way (siogate.emit, join_room, session... act on the socket
whose event is being handled):

    "nick" (name)            keep name as the socket's session data
                             {"nick": name} in the gateway; tell the rooms
                             of the socket about a change of name
    "join" (room)            join room; its members get a "notice"
    "leave" (room)           leave room; its members get a "notice"
    "message" ({room, text}) a "message" {room, nick, text, ts} to the
                             other members of room

Each is answered with an ack {"ok": True, ...} or {"ok": False, "error": ...}
(the handler's return value).  After every change of names or rooms, and
after a disconnect, the worker asks the gateway for the namespace's sockets
and emits "online" [{id, nick, rooms}] to everyone.  It keeps no state of
its own: names and rooms live in the gateway and come with every event.

ENDPOINT defaults to $SIOGATE_ENDPOINT, else tcp://127.0.0.1:5555.  It logs
"registered" once the gateway accepted it.  Ctrl-C or SIGTERM: leave
cleanly (BYE) and exit 0.

The siogate module must be importable: installed (make install, or
pip install sdk/python), or PYTHONPATH=sdk/python from a source tree.
"""
import argparse
import logging
import re
import sys
import time

try:
    import siogate
    from siogate import emit, join_room, leave_room, request, session
except ImportError as e:
    sys.exit("chat_worker.py: %s: install the siogate module (make install, or pip install "
             "sdk/python) or run with PYTHONPATH=sdk/python" % e)

NSP = "/chat"
NICK_MAX = 32       # bytes of UTF-8
TEXT_MAX = 2000     # bytes of UTF-8
ROOMS_MAX = 20      # rooms one socket may be in
ROOM_RE = re.compile(r"[A-Za-z0-9_-]{1,20}\Z")   # never a 24-byte socket id

log = logging.getLogger("chat_worker")


def ok(**fields):
    return dict(ok=True, **fields)


def refuse(why):
    return {"ok": False, "error": why}


def now_ms():
    return int(time.time() * 1000)


def clean(s, strip, limit, no_ctl):
    """s without the leading and trailing characters of strip; None if the
    rest is empty, longer than limit bytes, or holds a control character."""
    if not isinstance(s, str):
        return None
    s = s.strip(strip)
    n = len(s.encode("utf-8", "surrogatepass"))
    if n == 0 or n > limit:
        return None
    if no_ctl and any(ord(c) < 0x20 or ord(c) == 0x7f for c in s):
        return None
    return s


def make_worker(endpoint=None, name="chat"):
    worker = siogate.Worker(endpoint, name=name)

    def notice(room, text):
        emit("notice", {"room": room, "text": text, "ts": now_ms()}, to=room)

    def online():
        """Everyone with a nickname, to everyone: [{id, nick, rooms}]."""
        try:
            socks = worker.sockets(NSP, timeout=5)
        except siogate.SiogateError as e:
            log.warning("sockets query: %s", e)
            return
        people = []
        for s in socks:
            sess = s.get("session")
            nick = sess.get("nick") if isinstance(sess, dict) else None
            if not isinstance(s.get("id"), str) or not isinstance(nick, str):
                continue
            rooms = [r for r in s.get("rooms") or [] if isinstance(r, str) and r != s["id"]]
            people.append({"id": s["id"], "nick": nick, "rooms": rooms})
        people.sort(key=lambda p: (p["nick"].encode(), p["id"].encode()))
        worker.emit("online", people, namespace=NSP)

    def my_nick():
        nick = session.get("nick")
        return nick if isinstance(nick, str) else None

    @worker.on("nick", namespace=NSP)
    def on_nick(sid, name=None, *_):
        nick = clean(name, " ", NICK_MAX, True)
        if nick is None:
            return refuse("nickname must be 1 to 32 bytes, no control characters")
        old = my_nick()
        session["nick"] = nick
        # online() below asks the gateway, so store the name before it
        # (otherwise the module stores it when the handler returns).
        worker.save_session(sid, session.copy())
        if old is not None and old != nick:
            for room in request.rooms:
                notice(room, "%s is now known as %s" % (old, nick))
        online()
        return ok(nick=nick)

    def change_room(sid, room, join):
        nick = my_nick()
        if nick is None:
            return refuse("set a nickname first")
        if not isinstance(room, str) or not ROOM_RE.match(room):
            return refuse("room names are 1 to 20 letters, digits, - or _")
        rooms = request.rooms
        if join == (room in rooms):      # nothing to do
            return ok(room=room)
        if join and len(rooms) >= ROOMS_MAX:
            return refuse("too many rooms (at most 20)")
        if join:
            join_room(room)
        else:
            leave_room(room)
        # Commands reach the gateway in order: a joiner gets the notice.
        notice(room, "%s %s #%s" % (nick, "joined" if join else "left", room))
        online()
        return ok(room=room)

    @worker.on("join", namespace=NSP)
    def on_join(sid, room=None, *_):
        return change_room(sid, room, True)

    @worker.on("leave", namespace=NSP)
    def on_leave(sid, room=None, *_):
        return change_room(sid, room, False)

    @worker.on("message", namespace=NSP)
    def on_message(sid, data=None, *_):
        nick = my_nick()
        if nick is None:
            return refuse("set a nickname first")
        room = data.get("room") if isinstance(data, dict) else None
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(room, str) or not isinstance(text, str):
            return refuse("bad arguments")
        if room not in request.rooms:
            return refuse("join the room first")
        text = clean(text, " \t\r\n", TEXT_MAX, False)
        if text is None:
            return refuse("message must be 1 to 2000 bytes")
        ts = now_ms()
        emit("message", {"room": room, "nick": nick, "text": text, "ts": ts},
             to=room, include_self=False)
        return ok(ts=ts)

    @worker.on("*", namespace=NSP)
    def on_other(event, sid, *args):
        return refuse("unknown event")

    @worker.on("disconnect", namespace=NSP)
    def on_disconnect(sid, reason):
        log.debug("%s disconnected (%s)", sid, reason)
        online()

    @worker.on_error(NSP)
    def on_error(e):
        log.exception("handler failed: %s", e)
        return refuse("bad arguments")

    return worker


def main():
    ap = argparse.ArgumentParser(description="the siogate chat example's worker")
    ap.add_argument("-e", "--endpoint", help="gateway bridge endpoint "
                    "(default $SIOGATE_ENDPOINT, else tcp://127.0.0.1:5555)")
    ap.add_argument("-n", "--name", default="chat", help="name in the gateway's logs")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every event")
    a = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG if a.verbose else logging.INFO,
                        format="chat_worker.py: %(message)s")
    make_worker(a.endpoint, a.name).run()


if __name__ == "__main__":
    main()
