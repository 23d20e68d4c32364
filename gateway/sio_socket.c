/*
 * sio_socket.c: Socket.IO sockets: lookup, the connect handshake with a
 * worker, session data, acks a worker waits for, disconnects, and sockets
 * moving to a new worker.  Packets from the client are read in sio_conn.c,
 * the order of a socket's events is kept in sio_order.c.
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
 * Order of a socket's events: sio_order.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "br_json.h"
#include "gw_bridge.h"
#include "sio.h"
#include "sio_int.h"

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
struct sio_socket *
sio_conn_socket(struct sio_conn *c, const char *nsp, size_t n)
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
void
sio_send_json(struct eio_session *s, int type, const char *nsp, size_t nlen, const char *json)
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
void
sio_conn_fail(struct sio_conn *c, const char *why, const char *data, size_t len)
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
void
sio_enc_socket(struct br_enc *e, int type, uint32_t nfields, struct sio_socket *so)
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
	sio_enc_socket(&e, BR_T_SIO_DISCONNECT, 3, so);
	br_enc_cstr(&e, "reason", reason);
	br_enc_key(&e, "session");
	if (so->session != NULL)
		msgpack_sbuffer_write(&e.sb, so->session, so->session_len);
	else
		msgpack_pack_map(&e.pk, 0);
	sio_enc_rooms(&e, so);
	gw_bridge_send_event(gw, w, &e, 1, &meta);
}

/* Free a pending server-to-client ack, telling its worker why. */
void
sio_wait_end(struct sio_wait *wt, const char *reason)
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
	sio_wait_end(wt, "timeout");
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
void
sio_socket_close(struct sio_socket *so, const char *reason, int tell_worker)
{
	struct sio_conn *c = so->conn;
	struct gw *gw = c->eio->gw;
	struct sio_socket **pp;
	struct gw_worker *w;

	if (tell_worker)
		sio_held_flush(so);		/* what the client sent before it left goes first */
	else
		sio_held_free(gw, so);
	while (so->waits != NULL)
		sio_wait_end(so->waits, "disconnected");
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
	sio_send_json(c->eio, SIO_CONNECT, so->nsp->name, so->nsp->nlen,
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
	sio_send_json(c->eio, SIO_CONNECT_ERROR, so->nsp->name, so->nsp->nlen, json);
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

	sio_send_json(s, SIO_DISCONNECT, so->nsp->name, so->nsp->nlen, "");
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
void
sio_handle_connect(struct sio_conn *c, const struct sio_pkt *pkt)
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
			sio_conn_fail(c, "CONNECT payload is not an object", pkt->data, pkt->data_len);
			return;
		}
	}
	if (sio_conn_socket(c, pkt->nsp, pkt->nsp_len) != NULL) {
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
			sio_send_json(s, SIO_CONNECT_ERROR, pkt->nsp, pkt->nsp_len,
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
		sio_send_json(s, SIO_CONNECT_ERROR, pkt->nsp, pkt->nsp_len,
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
	sio_enc_socket(&e, BR_T_SIO_CONNECT, 4 + (lost ? 1 : 0), so);
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
		sio_conn_fail(c, why, pkt->data, pkt->data_len);
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
			sio_socket_hold(so);
	}
	if (open)
		socket_connected(so);
	else
		gw_tlist_arm(&gw->t_sio_sock, &so->connect_t);
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

	sio_enc_socket(&e, BR_T_SIO_CONNECT, 5, so);
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
		sio_socket_hold(so);	/* the next event waits for the new worker's connect handler */
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