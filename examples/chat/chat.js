/*
 * chat.js: the browser side of the siogate chat example.
 *
 * It talks Socket.IO to the namespace "/chat" through the official browser
 * client, which the gateway serves at /socket.io/socket.io.js.  The events
 * (the same for the C and the Python worker):
 *
 *   client -> worker, each with an ack: {ok: true, ...} or {ok: false, error}
 *     "nick"    (name)          set the nickname; the worker keeps it as the
 *                               socket's session data in the gateway
 *     "join"    (room)          join a room; its members get a notice
 *     "leave"   (room)          leave a room; its members get a notice
 *     "message" ({room, text})  say something in a room; ack {ok, ts}
 *   worker -> client
 *     "message" ({room, nick, text, ts})  someone else said something
 *     "notice"  ({room, text, ts})        joins, leaves, nickname changes
 *     "online"  ([{id, nick, rooms}])     everyone who has a nickname
 *
 * Everything from the network is put in the page with textContent only.
 */
"use strict";

(() => {
	const DEFAULT_ROOMS = ["lobby", "random"];
	const ACK_MS = 10000;
	const NICK_KEY = "siogate-chat-nick";
	const $ = (id) => document.getElementById(id);

	const state = {
		nick: null,		/* as the worker confirmed it */
		joined: new Map(),	/* room -> {log, unread} */
		active: null,		/* the room shown */
		online: [],		/* the last "online" list */
	};

	/* A new element with a class and text. */
	function el(tag, cls, text) {
		const e = document.createElement(tag);
		if (cls)
			e.className = cls;
		if (text !== undefined)
			e.textContent = text;
		return e;
	}

	function clock(ts) {
		return new Date(ts || Date.now()).toLocaleTimeString([],
		    { hour: "2-digit", minute: "2-digit" });
	}

	function setStatus(cls, text) {
		const s = $("status");
		s.className = "status " + cls;
		s.textContent = text;
	}

	let flashTimer = null;
	/* A short-lived error line above the message box. */
	function flash(text) {
		const f = $("flash");
		f.textContent = text;
		f.hidden = false;
		clearTimeout(flashTimer);
		flashTimer = setTimeout(() => { f.hidden = true; }, 6000);
	}

	/* ---- the connection ---- */

	const socket = io("/chat");	/* same origin, path /socket.io/ */

	socket.on("connect", () => {
		setStatus("connected", "connected");
		if (state.nick)		/* a reconnect: a new socket, say who we are again */
			sendNick(state.nick, () => { });
		else
			askNick();
	});
	socket.on("disconnect", (reason) => {
		setStatus("disconnected", "disconnected (" + reason + ")");
		enableInput();	/* off until the new socket has our name again */
	});
	socket.on("connect_error", (err) => {
		setStatus("disconnected", "cannot connect: " + err.message);
		/*
		 * Refused by the server ("Invalid namespace": no worker serves
		 * /chat yet): the client gives up on such errors, so try again.
		 */
		if (!socket.active)
			setTimeout(() => socket.connect(), 2000);
	});
	socket.io.on("reconnect_attempt", () => setStatus("connecting", "reconnecting…"));

	/* Emit with an ack and a deadline; done(error text or null, answer). */
	function request(ev, arg, done) {
		socket.timeout(ACK_MS).emit(ev, arg, (err, res) => {
			if (err)
				done("no answer from the server", null);
			else if (!res || res.ok !== true)
				done((res && res.error) || "refused", res);
			else
				done(null, res);
		});
	}

	/* ---- the nickname ---- */

	function askNick() {
		const d = $("nick-dialog");
		$("nick-input").value = state.nick || localStorage.getItem(NICK_KEY) || "";
		$("nick-error").textContent = "";
		if (!d.open)
			d.showModal();
		$("nick-input").focus();
	}

	/* Tell the worker our nickname; then (re)join our rooms. */
	function sendNick(name, done) {
		request("nick", name, (err, res) => {
			if (err) {
				done(err);
				return;
			}
			const first = state.nick === null;
			state.nick = res.nick;
			localStorage.setItem(NICK_KEY, res.nick);
			$("me").textContent = res.nick;
			$("me").hidden = false;
			for (const room of state.joined.keys())
				sendJoin(room);
			if (first && state.joined.size === 0)
				join(DEFAULT_ROOMS[0]);
			enableInput();
			done(null);
		});
	}

	$("nick-form").addEventListener("submit", (ev) => {
		ev.preventDefault();
		const name = $("nick-input").value.trim();
		if (!name)
			return;
		sendNick(name, (err) => {
			if (err)
				$("nick-error").textContent = err;
			else
				$("nick-dialog").close();
		});
	});
	$("nick-dialog").addEventListener("cancel", (ev) => {
		if (!state.nick)
			ev.preventDefault();	/* no chatting without a name */
	});
	$("me").addEventListener("click", askNick);

	/* ---- rooms ---- */

	function roomLog(room) {
		let r = state.joined.get(room);
		if (!r) {
			const log = el("ol", "log");
			log.dataset.room = room;
			log.hidden = true;
			$("logs").append(log);
			r = { log, unread: 0 };
			state.joined.set(room, r);
		}
		return r;
	}

	function select(room) {
		state.active = room;
		for (const [name, r] of state.joined) {
			r.log.hidden = name !== room;
			if (name === room)
				r.unread = 0;
		}
		$("no-room").hidden = room !== null;
		$("room-title").textContent = room ? "#" + room : "no room";
		$("leave").hidden = room === null;
		enableInput();
		renderRooms();
		if (room) {
			const log = state.joined.get(room).log;
			log.scrollTop = log.scrollHeight;
			$("msg-input").focus();
		}
	}

	function enableInput() {
		const on = socket.connected && state.nick !== null && state.active !== null;
		$("msg-input").disabled = !on;
		$("send").disabled = !on;
	}

	function sendJoin(room) {
		request("join", room, (err) => {
			if (err) {
				flash("#" + room + ": " + err);
				drop(room);
			}
		});
	}

	/* Join a room (shown at once; dropped again if the worker refuses). */
	function join(room) {
		if (!state.nick) {
			askNick();
			return;
		}
		const known = state.joined.has(room);
		roomLog(room);
		select(room);
		if (!known)
			sendJoin(room);
	}

	function drop(room) {
		const r = state.joined.get(room);
		if (!r)
			return;
		r.log.remove();
		state.joined.delete(room);
		if (state.active === room)
			select(state.joined.size ? state.joined.keys().next().value : null);
		else
			renderRooms();
	}

	function leave(room) {
		request("leave", room, (err) => {
			if (err)
				flash("#" + room + ": " + err);
			else
				drop(room);
		});
	}

	function renderRooms() {
		const counts = new Map();
		for (const p of state.online)
			for (const r of p.rooms)
				counts.set(r, (counts.get(r) || 0) + 1);
		const names = new Set(DEFAULT_ROOMS);
		for (const r of [...counts.keys(), ...state.joined.keys()].sort())
			names.add(r);
		const ul = $("rooms");
		ul.replaceChildren();
		for (const room of names) {
			const r = state.joined.get(room);
			const li = el("li", r ? "joined" : "");
			li.dataset.room = room;
			if (room === state.active)
				li.classList.add("active");
			const name = el("button", "name", "#" + room);
			name.type = "button";
			name.title = r ? "show #" + room : "join #" + room;
			name.addEventListener("click", () => (r ? select(room) : join(room)));
			li.append(name);
			if (r && r.unread)
				li.append(el("span", "unread", String(r.unread)));
			li.append(el("span", "count", String(counts.get(room) || 0)));
			ul.append(li);
		}
	}

	$("room-form").addEventListener("submit", (ev) => {
		ev.preventDefault();
		const room = $("room-input").value.trim();
		if (!room)
			return;
		$("room-input").value = "";
		join(room);
	});
	$("leave").addEventListener("click", () => {
		if (state.active)
			leave(state.active);
	});

	/* ---- messages ---- */

	function append(room, item) {
		const r = state.joined.get(room);
		if (!r)
			return;		/* not (any more) in that room */
		const log = r.log;
		const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
		log.append(item);
		if (stick || room === state.active)
			log.scrollTop = log.scrollHeight;
		if (room !== state.active) {
			r.unread++;
			renderRooms();
		}
	}

	function messageItem(nick, text, ts, mine) {
		const li = el("li", mine ? "msg mine pending" : "msg");
		li.append(el("time", "", clock(ts)), el("b", "nick", nick),
		    el("span", "text", text));
		if (mine) {
			const tick = el("span", "tick", "…");
			tick.title = "sending";
			li.append(tick);
		}
		return li;
	}

	function notice(room, text, ts) {
		const li = el("li", "notice");
		li.append(el("time", "", clock(ts)), el("span", "text", text));
		append(room, li);
	}

	$("msg-form").addEventListener("submit", (ev) => {
		ev.preventDefault();
		const input = $("msg-input");
		const text = input.value;
		const room = state.active;
		if (!text.trim() || !room)
			return;
		input.value = "";
		const li = messageItem(state.nick, text, Date.now(), true);
		append(room, li);
		request("message", { room, text }, (err) => {
			const tick = li.querySelector(".tick");
			li.classList.remove("pending");
			if (err) {
				li.classList.add("failed");
				tick.textContent = "✗";
				tick.title = err;
			} else {
				li.classList.add("acked");
				tick.textContent = "✓";
				tick.title = "delivered";
			}
		});
	});

	socket.on("message", (m) => {
		if (m && typeof m.room === "string")
			append(m.room, messageItem(String(m.nick), String(m.text), m.ts, false));
	});
	socket.on("notice", (n) => {
		if (n && typeof n.room === "string")
			notice(n.room, String(n.text), n.ts);
	});

	/* ---- who is online ---- */

	socket.on("online", (list) => {
		if (!Array.isArray(list))
			return;
		const now = new Set(list.map((p) => p.id));
		for (const p of state.online) {
			if (now.has(p.id))
				continue;
			for (const r of p.rooms)	/* gone without leaving */
				notice(r, p.nick + " went offline");
		}
		state.online = list;
		const ul = $("online");
		ul.replaceChildren();
		for (const p of list) {
			const li = el("li", p.id === socket.id ? "me" : "", p.nick);
			li.title = p.rooms.length ? "in #" + p.rooms.join(", #") : "in no room";
			ul.append(li);
		}
		$("online-count").textContent = "(" + list.length + ")";
		renderRooms();
	});

	renderRooms();
})();
