/*
 * sio_socket.c: Socket.IO connections and sockets: inbound packets, the
 * connect handshake with a worker, acks both ways, disconnects.
 *
 * Connect state of a socket (per namespace of an Engine.IO session):
 *
 *   client 40/nsp --> [no worker serves nsp] --> 44 "Invalid namespace"
 *                 --> open namespace ------------> CONNECTED (40 sent, worker notified)
 *                 --> CONNECTING (SIO_CONNECT reply=true sent)
 *                        SIO_ACCEPT ------------> CONNECTED (40 sent)
 *                        SIO_REJECT ------------> gone (44 data sent)
 *                        connect timeout/worker gone -> gone (44 sent)
 *   CONNECTED --> client 41 / server disconnect / transport close --> gone
 *                 (worker gets SIO_DISCONNECT with the reason, exactly once)
 *
 * Order of a socket's events.  A socket has at most one SIO_CONNECT or
 * SIO_EVENT unfinished at its worker: sent (or waiting for credit) and not
 * yet paid back by CREDIT.  A worker applies what a handler did (session
 * data, rooms) before it returns the credit, on the same pipe, so the
 * next event, sent only then, carries the session and rooms as that
 * handler left them.  Events that arrive meanwhile wait in the socket's
 * held queue (struct sio_held, only while there are some), encoded
 * without seq, session and rooms, which are added when each is sent.
 * so->busy counts the socket's unfinished messages (a socket moved to a
 * new worker has its notice and its redelivered event); every path that
 * takes such a message out of a worker's queues (CREDIT, expiry, worker
 * loss, a new HELLO) calls sio_socket_release(), which sends the next
 * held event once none is left.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "br_json.h"
#include "gw_bridge.h"
#include "sio.h"

static void sio_socket_close(struct sio_socket *so, const char *reason, int tell_worker);
static void enc_rooms(struct br_enc *e, struct sio_socket *so);
static void held_flush(struct sio_socket *so);

/* One more message of the socket that its next events wait for. */
static void
socket_hold(struct sio_socket *so)
{
	if (so->busy < UINT8_MAX)
		so->busy++;	/* saturated: a release may come early (order only) */
}
static void held_free(struct gw *gw, struct sio_socket *so);

/* The socket with this id, or NULL. */
struct sio_socket *
sio_socket_find(struct gw *gw, const char *id, size_t n)
{
	return gw_map_get(&gw->sio_sockets, id, n);
}

/* Whether t is a socket id issued by this process (any of its loops). */
static int
id_local(struct gw *gw, const msgpack_object *t)
{
	size_t idl = gw->sh->n > 1 ? 3 : strlen(gw->id);

	return t->type == MSGPACK_OBJECT_STR && t->via.str.size == SIO_ID_LEN &&
	    memcmp(t->via.str.ptr, gw->id, idl) == 0;
}

int
sio_ids_local(struct gw *gw, const msgpack_object *to)
{
	uint32_t i;

	if (to == NULL || to->type != MSGPACK_OBJECT_ARRAY || to->via.array.size == 0)
		return 0;
	for (i = 0; i < to->via.array.size; i++)
		if (!id_local(gw, &to->via.array.ptr[i]))
			return 0;
	return 1;
}

/* The socket of a connection for a namespace, or NULL. */
static struct sio_socket *
conn_socket(struct sio_conn *c, const char *nsp, size_t n)
{
	struct sio_socket *so;

	for (so = c->sockets; so != NULL; so = so->next) {
		if (so->nsp->nlen == n && memcmp(so->nsp->name, nsp, n) == 0)
			return so;
	}
	return NULL;
}

/* Queue Engine.IO packets to the socket's session. */
void
sio_socket_send(struct sio_socket *so, struct gw_buf **pkts, int n)
{
	int i;

	for (i = 0; i < n; i++)
		eio_session_send(so->conn->eio, pkts[i]);
}

/* Send a packet whose payload is given as JSON text. */
static void
socket_send_json(struct eio_session *s, int type, const char *nsp, size_t nlen, const char *json)
{
	struct gw_buf *pkt;
	const char *why;
	char *v3 = NULL;

	if (s->v3 && type == SIO_CONNECT_ERROR)
		json = v3 = sio3_error_json(json);	/* v4 protocol: ERROR */
	if (sio_packet_encode(type, nsp, nlen, 0, 0, NULL, NULL, json, &pkt, &why) == 1) {
		eio_session_send(s, pkt);
		gw_buf_unref(pkt);
	}
	free(v3);
}

/* A protocol error: log once and close the Engine.IO connection. */
static void
conn_fail(struct sio_conn *c, const char *why, const char *data, size_t len)
{
	char esc[96];

	c->eio->gw->st.err_parse++;
	gw_info("session %s: bad Socket.IO packet: %s (%s)", c->eio->sid, why,
	    gw_log_escape(esc, sizeof esc, data, len));
	eio_session_close(c->eio, "parse error");
}

static void
conn_timeout_cb(struct gw_tlist *tl, struct gw_tnode *n)
{
	struct sio_conn *c = GW_TNODE_OWNER(n, struct sio_conn, connect_t);

	gw_info("session %s: no namespace connected within %u ms, closing", c->eio->sid,
	    c->eio->gw->conf.connect_timeout);
	eio_session_close_forced(c->eio);
}

static void socket_connect_timeout_cb(struct gw_tlist *tl, struct gw_tnode *n);

/* The connect deadline classes of a loop. */
void
sio_timers_init(struct gw *gw)
{
	double after = gw->conf.connect_timeout / 1000.0;

	gw_tlist_init(&gw->t_sio_conn, gw->loop, after, conn_timeout_cb, gw);
	gw_tlist_init(&gw->t_sio_sock, gw->loop, after, socket_connect_timeout_cb, gw);
}

/* A new Engine.IO session on a Socket.IO endpoint. */
void
sio_conn_open(struct eio_session *s, struct gw_buf *hs)
{
	struct sio_conn *c = gw_xcalloc(1, sizeof *c);

	c->eio = s;
	c->hs = hs;
	gw_tlist_arm(&s->gw->t_sio_conn, &c->connect_t);
	s->sio = c;
}

/* Start an event message to the socket's worker: id, nsp, seq + nfields. */
static void
enc_socket(struct br_enc *e, int type, uint32_t nfields, struct sio_socket *so)
{
	br_enc_init(e, type, nfields + 3);
	br_enc_cstr(e, "id", so->id);
	br_enc_str(e, "nsp", so->nsp->name, so->nsp->nlen);
	br_enc_uint(e, "seq", so->seq++);
}

/* Tell the worker the socket is gone (once). */
static void
socket_tell_disconnect(struct sio_socket *so, const char *reason)
{
	struct gw *gw = so->conn->eio->gw;
	struct gw_worker *w = gw_bridge_find_worker(gw, so->worker);
	struct br_enc e;

	if (w == NULL || !so->notified)
		return;
	so->notified = 0;
	struct gw_evmeta meta = { BR_T_SIO_DISCONNECT, so->id, 0, 0, 0 };

	/* The session and rooms it had, like Node's "disconnecting". */
	enc_socket(&e, BR_T_SIO_DISCONNECT, 3, so);
	br_enc_cstr(&e, "reason", reason);
	br_enc_key(&e, "session");
	if (so->session != NULL)
		msgpack_sbuffer_write(&e.sb, so->session, so->session_len);
	else
		msgpack_pack_map(&e.pk, 0);
	enc_rooms(&e, so);
	gw_bridge_send_event(gw, w, &e, 1, &meta);
}

/* Free a pending server-to-client ack, telling its worker why. */
static void
wait_end(struct sio_wait *wt, const char *reason)
{
	struct sio_socket *so = wt->sock;
	struct gw *gw = so->conn->eio->gw;
	struct gw_worker *w = gw_bridge_find_worker(gw, wt->worker);
	struct sio_wait **pp;

	for (pp = &so->waits; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == wt) {
			*pp = wt->next;
			break;
		}
	}
	ev_timer_stop(gw->loop, &wt->t);
	if (w != NULL && reason != NULL) {
		struct br_enc e;
		struct gw_evmeta meta = { BR_T_SIO_ACK_TIMEOUT, so->id, 0, 0, 0 };

		br_enc_init(&e, BR_T_SIO_ACK_TIMEOUT, 4);
		br_enc_cstr(&e, "id", so->id);
		br_enc_str(&e, "nsp", so->nsp->name, so->nsp->nlen);
		br_enc_uint(&e, "req", wt->req);
		br_enc_cstr(&e, "reason", reason);
		gw_bridge_send_event(gw, w, &e, 1, &meta);
	}
	free(wt);
}

static void
wait_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct sio_wait *wt = t->data;

	wt->sock->conn->eio->gw->st.ack_timeouts++;
	wait_end(wt, "timeout");
}

/* Register an ack awaited from the client; returns the id to send. */
uint64_t
sio_socket_wait_ack(struct sio_socket *so, uint32_t worker, uint64_t req, unsigned ms)
{
	struct sio_wait *wt = gw_xcalloc(1, sizeof *wt);
	struct gw *gw = so->conn->eio->gw;

	wt->sock = so;
	wt->ack_id = so->next_ack++;
	wt->req = req;
	wt->worker = worker;
	ev_timer_init(&wt->t, wait_timeout_cb, ms / 1000.0, 0.);
	wt->t.data = wt;
	ev_timer_start(gw->loop, &wt->t);
	wt->next = so->waits;
	so->waits = wt;
	return wt->ack_id;
}

/* Close a socket: unlink it everywhere, tell the worker, free it. */
static void
sio_socket_close(struct sio_socket *so, const char *reason, int tell_worker)
{
	struct sio_conn *c = so->conn;
	struct gw *gw = c->eio->gw;
	struct sio_socket **pp;
	struct gw_worker *w;

	if (tell_worker)
		held_flush(so);		/* what the client sent before it left goes first */
	else
		held_free(gw, so);
	while (so->waits != NULL)
		wait_end(so->waits, "disconnected");
	if (tell_worker)
		socket_tell_disconnect(so, reason);
	if (so->state == SIO_S_CONNECTED) {
		sio_room_leave_all(so);
		sio_nsp_remove(so);
	}
	so->state = SIO_S_CLOSED;
	gw_tlist_stop(&so->connect_t);
	w = gw_bridge_find_worker(gw, so->worker);
	if (w != NULL && w->nsess > 0)
		w->nsess--;
	for (pp = &c->sockets; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == so) {
			*pp = so->next;
			break;
		}
	}
	gw_map_del(&gw->sio_sockets, so->id, strlen(so->id));
	sio_recover_free(so);
	free(so->rooms);
	free(so->session);
	free(so);
}

/* Close a socket, telling its worker the reason. */
void
sio_socket_end(struct sio_socket *so, const char *reason)
{
	sio_socket_close(so, reason, 1);
}

/* Answer the client's CONNECT and make the socket live. */
static void
socket_connected(struct sio_socket *so)
{
	char json[128];
	struct sio_conn *c = so->conn;
	const char *pid = sio_recover_new(so);	/* NULL unless recovery is on */

	so->state = SIO_S_CONNECTED;
	c->eio->gw->st.sio_connects++;
	gw_tlist_stop(&so->connect_t);
	gw_tlist_stop(&c->connect_t);
	sio_nsp_add(so);
	snprintf(json, sizeof json, "{\"sid\":\"%s\"%s%s%s}", so->id, pid ? ",\"pid\":\"" : "",
	    pid ? pid : "", pid ? "\"" : "");
	socket_send_json(c->eio, SIO_CONNECT, so->nsp->name, so->nsp->nlen,
	    c->eio->v3 ? "" : json);	/* v4 protocol: no payload */
	/*
	 * Write the CONNECT reply on its own, before what the worker sends
	 * next: like the reference server, which sends it in its own write.
	 * Clients that handle one frame per read (the official protocol
	 * suite's) would otherwise miss the packets that follow it.
	 */
	if (c->eio->transport == EIO_T_WS && c->eio->ws != NULL)
		gw_conn_flush(c->eio->ws);
}

/* Copy a msgpack map object as the socket's session bytes. */
static void
socket_store_session(struct sio_socket *so, const msgpack_object *map)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_object(&pk, *map);
	free(so->session);
	so->session = gw_xmalloc(sb.size);
	memcpy(so->session, sb.data, sb.size);
	so->session_len = (uint32_t)sb.size;
	msgpack_sbuffer_destroy(&sb);
}

/* Replace or update (merge) the session map. */
void
sio_socket_set_session(struct sio_socket *so, const msgpack_object *map, int merge)
{
	msgpack_unpacked up;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint32_t i, j, n;
	const msgpack_object *old = NULL;

	if (!merge || so->session == NULL) {
		socket_store_session(so, map);
		return;
	}
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, so->session, so->session_len, NULL) == MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_MAP)
		old = &up.data;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	n = map->via.map.size;
	for (i = 0; old != NULL && i < old->via.map.size; i++) {
		int replaced = 0;

		for (j = 0; j < map->via.map.size; j++)
			replaced |= msgpack_object_equal(old->via.map.ptr[i].key, map->via.map.ptr[j].key);
		n += !replaced;
	}
	msgpack_pack_map(&pk, n);
	for (i = 0; old != NULL && i < old->via.map.size; i++) {
		int replaced = 0;

		for (j = 0; j < map->via.map.size; j++)
			replaced |= msgpack_object_equal(old->via.map.ptr[i].key, map->via.map.ptr[j].key);
		if (!replaced) {
			msgpack_pack_object(&pk, old->via.map.ptr[i].key);
			msgpack_pack_object(&pk, old->via.map.ptr[i].val);
		}
	}
	for (j = 0; j < map->via.map.size; j++) {
		msgpack_pack_object(&pk, map->via.map.ptr[j].key);
		msgpack_pack_object(&pk, map->via.map.ptr[j].val);
	}
	free(so->session);
	so->session = gw_xmalloc(sb.size);
	memcpy(so->session, sb.data, sb.size);
	so->session_len = (uint32_t)sb.size;
	msgpack_sbuffer_destroy(&sb);
	msgpack_unpacked_destroy(&up);
}

/* The worker accepted the socket. */
int
sio_socket_accept(struct sio_socket *so, const msgpack_object *session, const msgpack_object *rooms)
{
	uint32_t i;

	if (so->state != SIO_S_CONNECTING)
		return -1;
	if (session != NULL && session->type == MSGPACK_OBJECT_MAP)
		socket_store_session(so, session);
	socket_connected(so);
	for (i = 0; rooms != NULL && rooms->type == MSGPACK_OBJECT_ARRAY && i < rooms->via.array.size;
	    i++) {
		const msgpack_object *r = &rooms->via.array.ptr[i];

		if (r->type == MSGPACK_OBJECT_STR)
			sio_room_join(so, r->via.str.ptr, r->via.str.size);
	}
	return 0;
}

/* Refuse a connect with data (CONNECT_ERROR). */
static void
socket_refuse(struct sio_socket *so, const char *json)
{
	struct sio_conn *c = so->conn;
	struct gw *gw = c->eio->gw;

	so->notified = 0;
	gw->st.sio_rejects++;
	socket_send_json(c->eio, SIO_CONNECT_ERROR, so->nsp->name, so->nsp->nlen, json);
	sio_socket_close(so, NULL, 0);
	if (c->sockets == NULL && !gw_tnode_armed(&c->connect_t)) {
		/* Nothing connected: the connection's own deadline runs again. */
		gw_tlist_arm(&gw->t_sio_conn, &c->connect_t);
	}
}

/* The worker rejected the socket: the client gets CONNECT_ERROR with data. */
int
sio_socket_reject(struct sio_socket *so, const msgpack_object *data)
{
	struct br_buf b = { 0 };
	struct br_str att[1];
	size_t natt = 0;
	const char *why;

	if (so->state != SIO_S_CONNECTING)
		return -1;
	if (data == NULL || br_json_write(&b, data, att, &natt, 0, SIO_OUT_DEPTH, &why) < 0 ||
	    br_buf_append(&b, "", 1) < 0) {
		br_buf_free(&b);
		socket_refuse(so, "{\"message\":\"Not authorized\"}");
		return 0;
	}
	socket_refuse(so, b.p);
	br_buf_free(&b);
	return 0;
}

static void
socket_connect_timeout_cb(struct gw_tlist *tl, struct gw_tnode *n)
{
	struct sio_socket *so = GW_TNODE_OWNER(n, struct sio_socket, connect_t);

	gw_warn("socket %s (%.*s): worker %u did not answer the connect within %u ms", so->id,
	    (int)so->nsp->nlen, so->nsp->name, so->worker, so->conn->eio->gw->conf.connect_timeout);
	socket_refuse(so, "{\"message\":\"Connect timeout\"}");
}

/* Server-side disconnect: the client gets 41, the worker the reason. */
void
sio_socket_disconnect(struct sio_socket *so, int close_conn)
{
	struct eio_session *s = so->conn->eio;

	socket_send_json(s, SIO_DISCONNECT, so->nsp->name, so->nsp->nlen, "");
	if (close_conn && s->state == EIO_S_CLOSED) {
		/* A socket waiting for recovery has no session of its own: it goes alone. */
		sio_socket_close(so, "forced close", 1);
		return;
	}
	if (close_conn) {
		/* The 41 goes out first (a WebSocket flushes before its close frame). */
		eio_session_close_forced(s);
		return;
	}
	sio_socket_close(so, "server namespace disconnect", 1);
}

/* CONNECT from the client. */
static void
handle_connect(struct sio_conn *c, const struct sio_pkt *pkt)
{
	struct eio_session *s = c->eio;
	struct gw *gw = s->gw;
	struct gw_worker *w;
	struct sio_socket *so;
	json_t *auth = NULL;
	json_error_t jerr;
	int open = 0, lost = 0;
	struct br_enc e;
	const char *why = NULL;

	if (pkt->data_len > 0) {
		auth = json_loadb(pkt->data, pkt->data_len, JSON_ALLOW_NUL, &jerr);
		if (auth == NULL || !json_is_object(auth)) {
			json_decref(auth);
			conn_fail(c, "CONNECT payload is not an object", pkt->data, pkt->data_len);
			return;
		}
	}
	if (conn_socket(c, pkt->nsp, pkt->nsp_len) != NULL) {
		json_decref(auth);
		return;		/* already connected (or connecting) to it */
	}
	{
		unsigned n = 0;

		for (so = c->sockets; so != NULL; so = so->next)
			n++;
		if (n >= gw->conf.max_nsp) {
			json_decref(auth);
			gw_info("session %s: namespace limit (%u) reached", s->sid, gw->conf.max_nsp);
			socket_send_json(s, SIO_CONNECT_ERROR, pkt->nsp, pkt->nsp_len,
			    "{\"message\":\"Too many namespaces\"}");
			return;
		}
	}
	if (sio_recover_resume(c, pkt, auth, &lost)) {
		json_decref(auth);
		return;		/* the detached socket is back */
	}
	w = gw_bridge_pick_nsp(gw, pkt->nsp, pkt->nsp_len, &open);
	if (w == NULL) {
		json_decref(auth);
		socket_send_json(s, SIO_CONNECT_ERROR, pkt->nsp, pkt->nsp_len,
		    "{\"message\":\"Invalid namespace\"}");
		return;
	}
	so = gw_xcalloc(1, sizeof *so);
	memcpy(so->id, gw->id, strlen(gw->id));
	do {
		gw_random_id(so->id + strlen(gw->id), SIO_ID_LEN - strlen(gw->id));
	} while (sio_socket_find(gw, so->id, SIO_ID_LEN) != NULL);
	so->conn = c;
	so->nsp = sio_nsp_get(gw, pkt->nsp, pkt->nsp_len, 1);
	so->worker = w->id;
	so->next_ack = 0;
	so->next = c->sockets;
	c->sockets = so;
	gw_map_put(&gw->sio_sockets, so->id, SIO_ID_LEN, so);
	w->nsess++;
	/* From here the socket's own deadline guards the connect. */
	gw_tlist_stop(&c->connect_t);

	/* SIO_CONNECT {sid, id, nsp, seq, auth, reply, hs[, lost]} */
	enc_socket(&e, BR_T_SIO_CONNECT, 4 + (lost ? 1 : 0), so);
	if (lost) {
		br_enc_key(&e, "lost");	/* asked to recover a session that is gone */
		msgpack_pack_true(&e.pk);
	}
	br_enc_cstr(&e, "sid", s->sid);
	br_enc_key(&e, "auth");
	if (auth == NULL)
		msgpack_pack_nil(&e.pk);
	else if (br_json_pack(&e.pk, auth, NULL, 0, gw->conf.max_depth, NULL, &why) < 0) {
		json_decref(auth);
		br_enc_free(&e);
		sio_socket_close(so, NULL, 0);
		conn_fail(c, why, pkt->data, pkt->data_len);
		return;
	}
	json_decref(auth);
	br_enc_key(&e, "reply");
	if (open)
		msgpack_pack_false(&e.pk);
	else
		msgpack_pack_true(&e.pk);
	br_enc_key(&e, "hs");
	msgpack_sbuffer_write(&e.sb, c->hs->data, c->hs->len);
	so->notified = 1;
	{
		/* Its first event waits for this one's credit (the connect handler may join rooms). */
		struct gw_evmeta meta = { BR_T_SIO_CONNECT, so->id, 0, !w->unordered, 0 };

		gw_bridge_send_event(gw, w, &e, 1, &meta);
		if (!w->unordered)
			socket_hold(so);
	}
	if (open)
		socket_connected(so);
	else
		gw_tlist_arm(&gw->t_sio_sock, &so->connect_t);
}

/* Whether an event name is reserved by Socket.IO. */
static int
reserved_event(const char *ev)
{
	static const char *const r[] = { "connect", "connect_error", "disconnect", "disconnecting",
		"newListener", "removeListener" };
	size_t i;

	for (i = 0; i < sizeof r / sizeof r[0]; i++) {
		if (strcmp(ev, r[i]) == 0)
			return 1;
	}
	return 0;
}

/* Pack the socket's rooms (without its own id room). */
static void
enc_rooms(struct br_enc *e, struct sio_socket *so)
{
	uint32_t i;

	br_enc_key(e, "rooms");
	msgpack_pack_array(&e->pk, so->nrooms);
	for (i = 0; i < so->nrooms; i++)
		br_enc_item_str(e, so->rooms[i].r->name, strlen(so->rooms[i].r->name));
}

/*
 * Finish a client event and send it: seq, session and rooms as they are
 * now.  hold: the socket's next events wait for it (busy); force: past the
 * worker's backlog bound (a closing socket's last events).  ack1: the
 * client's ack id + 1 (0: none), t: when it arrived (0: now).  Frees e.
 * When the worker's backlog is full the event is dropped and a waiting
 * client ack gets EOVERLOAD; returns -1 then.
 */
static int
event_out(struct sio_socket *so, struct gw_worker *w, struct br_enc *e, uint64_t ack1,
    ev_tstamp t, int hold, int force)
{
	struct gw *gw = so->conn->eio->gw;
	struct gw_evmeta meta = { BR_T_SIO_EVENT, so->id, ack1, hold, t };

	br_enc_uint(e, "seq", so->seq++);
	br_enc_key(e, "session");
	if (so->session != NULL)
		msgpack_sbuffer_write(&e->sb, so->session, so->session_len);
	else
		msgpack_pack_map(&e->pk, 0);
	enc_rooms(e, so);
	if (br_enc_failed(e)) {
		br_enc_free(e);
		gw_warn("socket %s: out of memory encoding an event, dropped", so->id);
		return -1;
	}
	if (gw_bridge_send_event(gw, w, e, force, &meta) < 0) {
		gw->st.events_overflow++;
		if (ack1 != 0)
			sio_error_ack(gw, so->id, ack1 - 1, "EOVERLOAD", "worker backlog full");
		gw_warn("socket %s: worker %u backlog full (%u events), event dropped", so->id, w->id,
		    gw->conf.max_backlog);
		return -1;
	}
	if (hold)
		socket_hold(so);
	return 0;
}

/* A client event waiting for the previous event of its socket. */
struct sio_held_ev {
	struct gw_buf *b;	/* SIO_EVENT without seq, session and rooms (see handle_event) */
	ev_tstamp t;		/* arrival */
	uint64_t ack1;		/* the client's ack id + 1, 0: none */
};

/*
 * The held events of one socket, in order.  Owned by gw->sio_held (key:
 * the socket's id; so->held says it exists); freed when it empties or the
 * socket closes.  Bound: [bridge] worker_backlog events and [server]
 * max_output bytes; past it an event is dropped and its ack, if any, gets
 * EOVERLOAD.
 */
struct sio_held {
	struct sio_socket *so;
	struct sio_held_ev *v;	/* ring */
	uint32_t head, n, cap;
	size_t bytes;
};

/* The socket's held queue, or NULL. */
static struct sio_held *
held_get(struct sio_socket *so)
{
	if (!so->held)
		return NULL;
	return gw_map_get(&so->conn->eio->gw->sio_held, so->id, SIO_ID_LEN);
}

/* Take the oldest held event (its buffer is the caller's). */
static struct sio_held_ev
held_take(struct gw *gw, struct sio_held *h)
{
	struct sio_held_ev ev = h->v[h->head];

	h->head = (h->head + 1) % h->cap;
	h->n--;
	h->bytes -= ev.b->len;
	gw->st.events_held--;
	return ev;
}

/* Free the socket's held queue and what is in it; no-op without one. */
static void
held_free(struct gw *gw, struct sio_socket *so)
{
	struct sio_held *h = held_get(so);

	if (h == NULL)
		return;
	while (h->n > 0)
		gw_buf_unref(held_take(gw, h).b);
	gw_map_del(&gw->sio_held, so->id, SIO_ID_LEN);
	so->held = 0;
	free(h->v);
	free(h);
}

/* Hold a client event (takes e) behind the socket's unfinished one. */
static void
held_push(struct sio_socket *so, struct br_enc *e, uint64_t ack1, const char *name)
{
	struct gw *gw = so->conn->eio->gw;
	struct sio_held *h = held_get(so);

	if (h != NULL && (h->n >= gw->conf.max_backlog ||
	    h->bytes + e->sb.size > gw->conf.max_outq)) {
		/* A client that sends faster than its worker handles: drop, say so in its ack. */
		br_enc_free(e);
		gw->st.events_overflow++;
		if (ack1 != 0)
			sio_error_ack(gw, so->id, ack1 - 1, "EOVERLOAD",
			    "too many events waiting for this socket's previous ones");
		gw_warn("socket %s: %u event(s) (%zu bytes) already waiting for the previous one, "
		    "event '%s' dropped", so->id, h->n, h->bytes, name);
		return;
	}
	if (h == NULL) {
		h = gw_xcalloc(1, sizeof *h);
		h->so = so;
		gw_map_put(&gw->sio_held, so->id, SIO_ID_LEN, h);
		so->held = 1;
	}
	if (h->n == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 4, i;
		struct sio_held_ev *nv = gw_xmalloc(cap * sizeof *nv);

		for (i = 0; i < h->n; i++)
			nv[i] = h->v[(h->head + i) % h->cap];
		free(h->v);
		h->v = nv;
		h->head = 0;
		h->cap = cap;
	}
	h->v[(h->head + h->n) % h->cap] = (struct sio_held_ev){
		gw_buf_from(e->sb.data, e->sb.size), ev_now(gw->loop), ack1 };
	h->n++;
	h->bytes += e->sb.size;
	gw->st.events_held++;
	br_enc_free(e);
}

/* An encoder that goes on from a held event's bytes. */
static void
held_enc(struct br_enc *e, const struct gw_buf *b)
{
	br_enc_resume(e, b->data, b->len);
}

/*
 * Send held events until one is on its way (the socket is busy again) or
 * none is left: expired ones, or all when no worker has the socket, are
 * dropped and their acks answered with ENOWORKER.
 */
static void
held_next(struct gw *gw, struct sio_socket *so)
{
	struct sio_held *h = held_get(so);
	struct gw_worker *w = gw_bridge_find_worker(gw, so->worker);
	ev_tstamp now = ev_now(gw->loop);

	while (h != NULL && h->n > 0 && so->busy == 0) {
		struct sio_held_ev ev = held_take(gw, h);
		struct br_enc e;

		if (w == NULL || now - ev.t > gw->conf.event_expiry / 1000.0) {
			gw->st.events_expired++;
			if (ev.ack1 != 0)
				sio_error_ack(gw, so->id, ev.ack1 - 1, "ENOWORKER",
				    "no worker took the event in time");
		} else {
			held_enc(&e, ev.b);
			(void)event_out(so, w, &e, ev.ack1, ev.t, 1, 0);
		}
		gw_buf_unref(ev.b);
	}
	if (h != NULL && h->n == 0)
		held_free(gw, so);
}

/* The socket is closing: its held events go to the worker now, before SIO_DISCONNECT. */
static void
held_flush(struct sio_socket *so)
{
	struct gw *gw = so->conn->eio->gw;
	struct sio_held *h = held_get(so);
	struct gw_worker *w = gw_bridge_find_worker(gw, so->worker);

	while (h != NULL && h->n > 0 && w != NULL && so->notified) {
		struct sio_held_ev ev = held_take(gw, h);
		struct br_enc e;

		held_enc(&e, ev.b);
		(void)event_out(so, w, &e, 0, ev.t, 0, 1);
		gw_buf_unref(ev.b);
	}
	held_free(gw, so);
}

void
sio_socket_release(struct gw *gw, const char *id)
{
	struct sio_socket *so = sio_socket_find(gw, id, strlen(id));

	if (so == NULL)
		return;		/* closed meanwhile */
	if (so->busy > 0)
		so->busy--;
	if (so->busy == 0 && so->held)
		held_next(gw, so);
}

struct held_list {
	struct sio_socket **v;
	uint32_t n, cap;
};

static void
held_collect(void *val, void *arg)
{
	struct sio_held *h = val;
	struct held_list *g = arg;

	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->v = gw_xrealloc(g->v, g->cap * sizeof *g->v);
	}
	g->v[g->n++] = h->so;
}

void
sio_held_expire(struct gw *gw, ev_tstamp now)
{
	struct held_list g = { NULL, 0, 0 };
	double after = gw->conf.event_expiry / 1000.0;
	uint32_t i, n = 0;

	if (gw->sio_held.n == 0)
		return;
	gw_map_each(&gw->sio_held, held_collect, &g);
	for (i = 0; i < g.n; i++) {
		struct sio_held *h = held_get(g.v[i]);

		while (h != NULL && h->n > 0 && now - h->v[h->head].t > after) {
			struct sio_held_ev ev = held_take(gw, h);

			if (ev.ack1 != 0)
				sio_error_ack(gw, g.v[i]->id, ev.ack1 - 1, "ENOWORKER",
				    "no worker took the event in time");
			gw_buf_unref(ev.b);
			n++;
		}
		if (h != NULL && h->n == 0)
			held_free(gw, g.v[i]);
	}
	free(g.v);
	gw->st.events_expired += n;
	if (n > 0)
		gw_warn("%u client event(s) expired after %u ms waiting for the previous event of "
		    "their socket", n, gw->conf.event_expiry);
}

/* EVENT / BINARY_EVENT from the client: forward to the socket's worker. */
static void
handle_event(struct sio_conn *c, const struct sio_pkt *pkt, const struct br_str *att, size_t natt)
{
	struct gw *gw = c->eio->gw;
	struct sio_socket *so;
	json_t *v = NULL, *ev;
	json_error_t jerr;
	struct gw_worker *w;
	struct br_enc e;
	const char *why = NULL;
	char numname[256];
	const char *name;
	size_t i, n, name_len;
	struct br_fast fast;
	struct br_str fname;
	int fastway;

	/* Plain JSON (most events) goes to msgpack without jansson. */
	fastway = natt == 0 && br_json_fast_scan(&fast, pkt->data, pkt->data_len, gw->conf.max_depth,
	    &fname) == 1;
	if (fastway) {
		memcpy(numname, fname.p, fname.n);
		numname[fname.n] = '\0';
		name = numname;
		name_len = fname.n;
		if (name_len > gw->conf.max_event_name) {
			conn_fail(c, "event name longer than max_event_name", pkt->data, pkt->data_len);
			return;
		}
		if (reserved_event(name)) {
			conn_fail(c, "reserved event name", pkt->data, pkt->data_len);
			return;
		}
		goto parsed;
	}
	v = json_loadb(pkt->data, pkt->data_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (v == NULL || !json_is_array(v) || json_array_size(v) == 0) {
		json_decref(v);
		conn_fail(c, "event payload is not a non-empty array", pkt->data, pkt->data_len);
		return;
	}
	ev = json_array_get(v, 0);
	if (json_is_string(ev)) {
		name = json_string_value(ev);
		name_len = json_string_length(ev);
		if (name_len > gw->conf.max_event_name) {
			json_decref(v);
			conn_fail(c, "event name longer than max_event_name", pkt->data, pkt->data_len);
			return;
		}
		if (reserved_event(name)) {
			json_decref(v);
			conn_fail(c, "reserved event name", pkt->data, pkt->data_len);
			return;
		}
	} else if (json_is_integer(ev)) {
		snprintf(numname, sizeof numname, "%lld", (long long)json_integer_value(ev));
		name = numname;
		name_len = strlen(numname);
	} else {
		json_decref(v);
		conn_fail(c, "event name is not a string", pkt->data, pkt->data_len);
		return;
	}
parsed:
	so = conn_socket(c, pkt->nsp, pkt->nsp_len);
	if (so == NULL || so->state != SIO_S_CONNECTED) {
		/* Node closes the connection for this ("invalid state"). */
		json_decref(v);
		conn_fail(c, "event for a namespace that is not connected", pkt->data, pkt->data_len);
		return;
	}
	w = gw_bridge_find_worker(gw, so->worker);
	if (w == NULL) {
		json_decref(v);
		return;
	}
	/* SIO_EVENT {id, nsp, ev, args, [ack]}, then {seq, session, rooms} when it goes */
	br_enc_init(&e, BR_T_SIO_EVENT, 7 + (pkt->has_id ? 1 : 0));
	br_enc_cstr(&e, "id", so->id);
	br_enc_str(&e, "nsp", so->nsp->name, so->nsp->nlen);
	br_enc_str(&e, "ev", name, name_len);
	br_enc_key(&e, "args");
	if (fastway) {
		(void)br_json_fast_pack(&fast, &e.pk);	/* a failure poisons the encoder */
		goto packed;
	}
	n = json_array_size(v);
	msgpack_pack_array(&e.pk, (uint32_t)(n - 1));
	for (i = 1; i < n; i++) {
		if (br_json_pack(&e.pk, json_array_get(v, i), natt ? att : NULL, natt, gw->conf.max_depth,
		    NULL, &why) < 0) {
			json_decref(v);
			br_enc_free(&e);
			conn_fail(c, why, pkt->data, pkt->data_len);
			return;
		}
	}
	json_decref(v);
packed:
	if (pkt->has_id)
		br_enc_uint(&e, "ack", pkt->id);
	if (br_enc_failed(&e)) {
		/* Out of memory while encoding: the bytes are not a message. */
		br_enc_free(&e);
		gw_warn("socket %s: out of memory encoding event '%s', dropped", so->id, name);
		return;
	}
	gw->st.events_in++;
	/* A worker that said "ordered": false takes them as they come (what waits goes first). */
	if (so->held || (so->busy > 0 && !w->unordered))
		held_push(so, &e, pkt->has_id ? pkt->id + 1 : 0, name);
	else
		event_out(so, w, &e, pkt->has_id ? pkt->id + 1 : 0, 0, !w->unordered, 0);
}

/* Answer a client's ack with an error object. */
void
sio_error_ack(struct gw *gw, const char *id, uint64_t ack, const char *code, const char *message)
{
	struct sio_socket *so = sio_socket_find(gw, id, strlen(id));
	struct gw_buf *pkt;
	const char *why;
	char json[256];

	if (so == NULL || so->state != SIO_S_CONNECTED)
		return;
	snprintf(json, sizeof json, "[{\"error\":\"%s\",\"code\":\"%s\"}]", message, code);
	if (sio_packet_encode(SIO_ACK, so->nsp->name, so->nsp->nlen, 1, ack, NULL, NULL, json, &pkt,
	    &why) == 1) {
		eio_session_send(so->conn->eio, pkt);
		gw_buf_unref(pkt);
	}
}

/* ACK / BINARY_ACK from the client: route to the worker that asked. */
static void
handle_ack(struct sio_conn *c, const struct sio_pkt *pkt, const struct br_str *att, size_t natt)
{
	struct gw *gw = c->eio->gw;
	struct sio_socket *so;
	struct sio_wait *wt;
	struct gw_worker *w;
	json_t *v;
	json_error_t jerr;
	struct br_enc e;
	const char *why = NULL;
	size_t i;

	v = json_loadb(pkt->data, pkt->data_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!pkt->has_id || v == NULL || !json_is_array(v)) {
		json_decref(v);
		conn_fail(c, "ack without id or array payload", pkt->data, pkt->data_len);
		return;
	}
	so = conn_socket(c, pkt->nsp, pkt->nsp_len);
	for (wt = so ? so->waits : NULL; wt != NULL && wt->ack_id != pkt->id; wt = wt->next)
		;
	if (wt != NULL && wt->worker == SIO_WORKER_REMOTE) {
		/* Another node of the cluster asked: its first argument goes back over Redis. */
		msgpack_sbuffer sb;
		msgpack_packer pk;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		if (json_array_size(v) == 0)
			msgpack_pack_nil(&pk);
		else if (br_json_pack(&pk, json_array_get(v, 0), natt ? att : NULL, natt,
		    gw->conf.max_depth, NULL, &why) < 0)
			sb.size = 0;
		if (sb.size > 0 && gw->adapter != NULL)
			gw->adapter->client_ack(gw, wt->req, sb.data, sb.size);
		msgpack_sbuffer_destroy(&sb);
		json_decref(v);
		wait_end(wt, NULL);
		return;
	}
	if (wt == NULL || (w = gw_bridge_find_worker(gw, wt->worker)) == NULL) {
		json_decref(v);
		if (wt != NULL)
			wait_end(wt, NULL);
		return;		/* unknown or late ack: ignored */
	}
	br_enc_init(&e, BR_T_SIO_CLIENT_ACK, 4);
	br_enc_cstr(&e, "id", so->id);
	br_enc_str(&e, "nsp", so->nsp->name, so->nsp->nlen);
	br_enc_uint(&e, "req", wt->req);
	br_enc_key(&e, "args");
	msgpack_pack_array(&e.pk, (uint32_t)json_array_size(v));
	for (i = 0; i < json_array_size(v); i++) {
		if (br_json_pack(&e.pk, json_array_get(v, i), natt ? att : NULL, natt, gw->conf.max_depth,
		    NULL, &why) < 0) {
			json_decref(v);
			br_enc_free(&e);
			conn_fail(c, why, pkt->data, pkt->data_len);
			return;
		}
	}
	json_decref(v);
	{
		struct gw_evmeta meta = { BR_T_SIO_CLIENT_ACK, so->id, 0, 0, 0 };

		gw_bridge_send_event(gw, w, &e, 1, &meta);
	}
	wait_end(wt, NULL);
}

/* One complete packet (attachments, if any, collected). */
static void
conn_dispatch(struct sio_conn *c, const struct sio_pkt *pkt, const struct br_str *att, size_t natt)
{
	struct sio_socket *so;

	switch (pkt->type) {
	case SIO_CONNECT:
		if (c->eio->v3) {
			/* v4 protocol: the query string in the namespace is the auth */
			struct sio_pkt p3;
			char *auth = sio3_connect_pkt(pkt, &p3);

			handle_connect(c, &p3);
			free(auth);
			break;
		}
		handle_connect(c, pkt);
		break;
	case SIO_DISCONNECT:
		if (pkt->data_len > 0) {
			conn_fail(c, "DISCONNECT with a payload", pkt->data, pkt->data_len);
			break;
		}
		so = conn_socket(c, pkt->nsp, pkt->nsp_len);
		if (so == NULL) {
			conn_fail(c, "DISCONNECT for a namespace that is not connected", pkt->nsp,
			    pkt->nsp_len);
			break;
		}
		sio_socket_close(so, "client namespace disconnect", 1);
		break;
	case SIO_EVENT:
	case SIO_BINARY_EVENT:
		handle_event(c, pkt, att, natt);
		break;
	case SIO_ACK:
	case SIO_BINARY_ACK:
		handle_ack(c, pkt, att, natt);
		break;
	default:
		conn_fail(c, "packet type not accepted from a client", pkt->data, pkt->data_len);
		break;
	}
}

/* Free a binary packet being reassembled; NULL is a no-op. */
static void
partial_destroy(struct sio_partial *pp)
{
	uint32_t i;

	if (pp == NULL)
		return;
	for (i = 0; i < pp->got; i++)
		free((void *)pp->att[i].p);
	free(pp->text);
	free(pp);
}

/* One Engine.IO message of a Socket.IO session. */
void
sio_conn_message(struct eio_session *s, const char *data, size_t len, int binary)
{
	struct sio_conn *c = s->sio;
	struct sio_partial *pp = c->partial;
	struct sio_pkt pkt;
	const char *why;

	if (binary) {
		if (pp == NULL) {
			conn_fail(c, "unexpected binary attachment", "", 0);
			return;
		}
		pp->att[pp->got].p = gw_xstrndup(data, len);
		pp->att[pp->got].n = (uint32_t)len;
		pp->got++;
		if (pp->got == pp->pkt.natt) {
			c->partial = NULL;	/* c may be gone after the dispatch */
			conn_dispatch(c, &pp->pkt, pp->att, pp->got);
			partial_destroy(pp);
		}
		return;
	}
	if (pp != NULL) {
		conn_fail(c, "text packet while attachments were expected", data, len);
		return;
	}
	if (sio_packet_parse(data, len, &pkt, s->gw->conf.max_att, &why) < 0) {
		conn_fail(c, why, data, len);
		return;
	}
	if ((pkt.type == SIO_BINARY_EVENT || pkt.type == SIO_BINARY_ACK) && pkt.natt > 0) {
		/* Keep a copy of the text; point the header into it. */
		pp = gw_xcalloc(1, sizeof *pp);
		pp->text = gw_xstrndup(data, len);
		pp->pkt = pkt;
		if (pkt.nsp >= data && pkt.nsp < data + len)
			pp->pkt.nsp = pp->text + (pkt.nsp - data);
		pp->pkt.data = pp->text + (pkt.data - data);
		c->partial = pp;
		return;
	}
	conn_dispatch(c, &pkt, NULL, 0);
}

/* The Engine.IO session is closing: every socket goes, with its reason. */
void
sio_conn_close(struct eio_session *s, const char *reason)
{
	struct sio_conn *c = s->sio;

	if (c == NULL)
		return;
	while (c->sockets != NULL) {
		struct sio_socket *so = c->sockets;

		if (sio_recover_detach(so, reason))
			continue;	/* kept for the recovery window, off c's list */
		sio_socket_close(so, reason, so->state == SIO_S_CONNECTED);
	}
	partial_destroy(c->partial);
	c->partial = NULL;
	gw_tlist_stop(&c->connect_t);
	gw_buf_unref(c->hs);
	free(c);
	s->sio = NULL;
}

struct gone_ctx {
	uint32_t worker;
	struct sio_socket **v;
	uint32_t n, cap;
};

/* Collect the sockets of a worker. */
static void
gone_collect(void *val, void *arg)
{
	struct sio_socket *so = val;
	struct gone_ctx *g = arg;

	if (so->worker != g->worker)
		return;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->v = gw_xrealloc(g->v, g->cap * sizeof *g->v);
	}
	g->v[g->n++] = so;
}

/*
 * Tell a worker about a connected socket: SIO_CONNECT with reply false and
 * flag ("moved": it is the socket's new worker; "recovered": the socket came
 * back on a new session) true.
 */
void
sio_socket_notify(struct sio_socket *so, struct gw_worker *w, const char *flag)
{
	struct gw *gw = so->conn->eio->gw;
	struct br_enc e;
	struct gw_evmeta meta = { BR_T_SIO_CONNECT, so->id, 0, !w->unordered, 0 };

	enc_socket(&e, BR_T_SIO_CONNECT, 5, so);
	br_enc_cstr(&e, "sid", so->conn->eio->sid);
	br_enc_key(&e, "auth");
	msgpack_pack_nil(&e.pk);
	br_enc_key(&e, "reply");
	msgpack_pack_false(&e.pk);
	br_enc_key(&e, flag);
	msgpack_pack_true(&e.pk);
	br_enc_key(&e, "hs");
	msgpack_sbuffer_write(&e.sb, so->conn->hs->data, so->conn->hs->len);
	so->notified = 1;
	gw_bridge_send_event(gw, w, &e, 1, &meta);
	if (!w->unordered)
		socket_hold(so);	/* the next event waits for the new worker's connect handler */
}

/*
 * A worker is lost: give each of its sockets to another worker of the
 * namespace (which learns of it through SIO_CONNECT with moved = true; a
 * socket still waiting for its connect answer gets its CONNECT redelivered
 * instead).  Sockets no worker can take are marked orphans and closed by
 * sio_close_orphans() once the lost worker's events are dealt with.
 */
void
sio_rehome(struct gw *gw, uint32_t dead)
{
	struct gone_ctx g = { dead, NULL, 0, 0 };
	uint32_t i;

	gw_map_each(&gw->sio_sockets, gone_collect, &g);
	for (i = 0; i < g.n; i++) {
		struct sio_socket *so = g.v[i];
		struct gw_worker *nw = gw_bridge_pick_nsp(gw, so->nsp->name, so->nsp->nlen, NULL);

		so->notified = 0;
		if (nw == NULL) {
			so->worker = 0;
			so->orphan = 1;
			continue;
		}
		so->worker = nw->id;
		nw->nsess++;
		if (so->state == SIO_S_CONNECTED) {
			sio_socket_notify(so, nw, "moved");
		} else {
			so->moving = 1;
			so->reconnect_sent = 0;
		}
	}
	free(g.v);
}

static void
orphan_collect(void *val, void *arg)
{
	struct sio_socket *so = val;
	struct gone_ctx *g = arg;

	if (!so->orphan && !so->moving)
		return;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->v = gw_xrealloc(g->v, g->cap * sizeof *g->v);
	}
	g->v[g->n++] = so;
}

/*
 * After a worker loss: close the connections of sockets no worker took
 * (the official clients reconnect by themselves), and refuse connects whose
 * request could not be redelivered.
 */
void
sio_close_orphans(struct gw *gw)
{
	struct gone_ctx g = { 0, NULL, 0, 0 };
	uint32_t i;

	gw_map_each(&gw->sio_sockets, orphan_collect, &g);
	for (i = 0; i < g.n; i++) {
		struct sio_socket *so = g.v[i];

		if (so->orphan) {
			so->orphan = 0;
			eio_session_close_later(so->conn->eio, "worker gone");
		} else if (so->moving) {
			so->moving = 0;
			if (!so->reconnect_sent && so->state == SIO_S_CONNECTING)
				socket_refuse(so, "{\"message\":\"Worker lost, please retry\"}");
		}
	}
	free(g.v);
}
