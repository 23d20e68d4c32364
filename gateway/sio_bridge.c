/*
 * sio_bridge.c: Socket.IO commands from workers (siogate-protocol(7)):
 * accept/reject a connect, ack an event, emit (encoded once for every
 * recipient), join/leave, disconnect, session data and queries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_json.h"
#include "gw_bridge.h"
#include "sio.h"

/* A command's namespace ("/" when absent). */
static struct sio_nsp *
cmd_nsp(struct gw *gw, const struct br_msg *m)
{
	struct br_str nsp;

	if (br_msg_str(m, "nsp", &nsp) < 0)
		return sio_nsp_get(gw, "/", 1, 0);
	return sio_nsp_get(gw, nsp.p, nsp.n, 0);
}

/* The connected or connecting socket named by "id"; ERROR unknown-sid if gone. */
static struct sio_socket *
cmd_socket(struct gw *gw, struct gw_worker *w, const struct br_msg *m)
{
	struct br_str id;
	struct sio_socket *so;

	if (br_msg_str(m, "id", &id) < 0) {
		gw_bridge_error(gw, w, BR_E_BAD_MESSAGE, "missing id", m->type, NULL, 0);
		return NULL;
	}
	so = sio_socket_find(gw, id.p, id.n);
	if (so == NULL)
		gw_bridge_error(gw, w, BR_E_UNKNOWN_SID, "no such socket", m->type, id.p,
		    id.n < 64 ? id.n : 64);
	return so;
}

struct emit_ctx {
	struct gw_buf *pkts[SIO_MAX_ATTACHMENTS + 1];
	int n;
	size_t volatile_max;	/* volatile: skip recipients with more than this pending */
	uint32_t dropped;
	struct gw_buf **pkts3;	/* Engine.IO v3 forms, made for the first v3 recipient */
	uint64_t off;		/* recovery offset (0: not replayable) */
};

static void
emit_one(struct sio_socket *so, void *arg)
{
	struct emit_ctx *ec = arg;

	if (ec->volatile_max && eio_session_pending(so->conn->eio) > ec->volatile_max) {
		ec->dropped++;
		return;
	}
	if (ec->off != 0 && so->rec != NULL)
		sio_recover_note(so, ec->off, ec->pkts, ec->n);
	if (so->conn->eio->v3 && ec->n > 1) {
		/* Binary attachments differ in v3: encoded once more, for all v3 recipients. */
		if (ec->pkts3 == NULL)
			ec->pkts3 = sio3_pkts(ec->pkts, ec->n);
		sio_socket_send(so, ec->pkts3, ec->n);
		return;
	}
	sio_socket_send(so, ec->pkts, ec->n);
}

/* Whether a target string has the shape of one of this gateway's socket ids. */
static int
looks_like_id(struct gw *gw, const msgpack_object *t)
{
	size_t idl = strlen(gw->id);

	return t->type == MSGPACK_OBJECT_STR && t->via.str.size == SIO_ID_LEN &&
	    memcmp(t->via.str.ptr, gw->id, idl) == 0;
}

/*
 * ERROR unknown-sid when `to` is exactly one socket id that is gone (a name
 * that is no socket id is a room, possibly empty: no error).  Returns 1 if
 * it answered.
 */
static int
gone_single(struct gw *gw, struct gw_worker *w, const struct br_msg *m, const msgpack_object *to)
{
	const msgpack_object *t;

	if (to == NULL || to->type != MSGPACK_OBJECT_ARRAY || to->via.array.size != 1)
		return 0;
	t = &to->via.array.ptr[0];
	if (!looks_like_id(gw, t) || sio_socket_find(gw, t->via.str.ptr, t->via.str.size) != NULL)
		return 0;
	gw_bridge_error(gw, w, BR_E_UNKNOWN_SID, "no such socket", m->type, t->via.str.ptr,
	    t->via.str.size);
	return 1;
}

/* Whether `to` names exactly one socket (for acks). */
static struct sio_socket *
single_target(struct gw *gw, struct sio_nsp *nsp, const msgpack_object *to)
{
	struct sio_socket *so;

	if (to == NULL || to->type != MSGPACK_OBJECT_ARRAY || to->via.array.size != 1 ||
	    to->via.array.ptr[0].type != MSGPACK_OBJECT_STR)
		return NULL;
	so = sio_socket_find(gw, to->via.array.ptr[0].via.str.ptr, to->via.array.ptr[0].via.str.size);
	return so != NULL && so->nsp == nsp && so->state == SIO_S_CONNECTED ? so : NULL;
}

/* SIO_EMIT: encode once, queue to every target. */
static void
cmd_emit(struct gw *gw, struct gw_worker *w, const struct br_msg *m)
{
	const msgpack_object *ev = br_msg_get(m, "ev"), *args = br_msg_get(m, "args");
	const msgpack_object *to = br_msg_get(m, "to"), *except = br_msg_get(m, "except");
	struct sio_nsp *nsp = cmd_nsp(gw, m);
	struct emit_ctx ec;
	struct br_str nspname = { "/", 1 };
	uint64_t req = 0, timeout = gw->conf.ack_timeout, ack_id = 0;
	int want_ack = br_msg_uint(m, "req", &req) == 0, i;
	const char *why = NULL;
	struct sio_socket *so = NULL;
	const msgpack_object *vol = br_msg_get(m, "volatile");
	char offset[24];

	memset(&ec, 0, sizeof ec);
	if (vol != NULL && vol->type == MSGPACK_OBJECT_BOOLEAN && vol->via.boolean) {
		/* Droppable: not for a client that already has a backlog. */
		ec.volatile_max = gw->conf.max_outq / 4 < 65536 ? gw->conf.max_outq / 4 : 65536;
	}
	gw->st.emits++;
	br_msg_str(m, "nsp", &nspname);
	br_msg_uint(m, "timeout", &timeout);
	if (ev == NULL || ev->type != MSGPACK_OBJECT_STR || args == NULL ||
	    args->type != MSGPACK_OBJECT_ARRAY) {
		gw_bridge_error(gw, w, BR_E_BAD_MESSAGE, "SIO_EMIT needs ev (str) and args (array)",
		    m->type, NULL, 0);
		return;
	}
	if (want_ack) {
		so = single_target(gw, nsp, to);
		if (so == NULL && gw->adapter != NULL && gw->adapter->emit_ack(gw, w, &nspname, ev,
		    args, to, req, timeout ? timeout : 1))
			return;		/* a socket of another gateway: asked over the cluster */
		if (so == NULL) {
			if (!gone_single(gw, w, m, to))
				gw_bridge_error(gw, w, BR_E_BAD_MESSAGE,
				    "an emit with req needs exactly one target socket", m->type, NULL, 0);
			return;
		}
		ack_id = sio_socket_wait_ack(so, w->id, req, (unsigned)(timeout ? timeout : 1));
	} else {
		/* Other gateways of the cluster get it whatever this one has. */
		if (gw->adapter != NULL)
			gw->adapter->emit(gw, &nspname, ev, args, to, except, ec.volatile_max != 0);
		if (gone_single(gw, w, m, to) || nsp == NULL)
			return;	/* a gone socket, or no socket ever joined that namespace */
	}
	if (gw->conf.recovery_window != 0 && !want_ack && !ec.volatile_max) {
		/* Replayable: one offset for every recipient, after the last argument. */
		snprintf(offset, sizeof offset, "\"%llx\"", (unsigned long long)++gw->sio_offset);
		ec.off = gw->sio_offset;
	}
	ec.n = sio_packet_encode_tail(SIO_EVENT, nspname.p, nspname.n, want_ack, ack_id, ev, args,
	    NULL, ec.off ? offset : NULL, ec.pkts, &why);
	if (ec.n < 0) {
		gw_bridge_error(gw, w, BR_E_BAD_MESSAGE, why, m->type, NULL, 0);
		return;
	}
	if (want_ack)
		emit_one(so, &ec);
	else
		sio_targets(gw, nsp, to, except, emit_one, &ec);
	for (i = 0; i < ec.n; i++) {
		gw_buf_unref(ec.pkts[i]);
		if (ec.pkts3 != NULL)
			gw_buf_unref(ec.pkts3[i]);
	}
	free(ec.pkts3);
	if (ec.dropped > 0) {
		gw->st.volatile_dropped += ec.dropped;
		gw_debug("volatile emit dropped for %u busy recipient(s)", ec.dropped);
	}
}

/* A broadcast from the cluster: encode once, queue to every target here. */
int
sio_emit_local(struct gw *gw, struct sio_nsp *nsp, const msgpack_object *ev,
    const msgpack_object *args, const msgpack_object *to, const msgpack_object *except, int vol,
    const char **why)
{
	struct emit_ctx ec;
	int i;

	memset(&ec, 0, sizeof ec);
	if (vol)
		ec.volatile_max = gw->conf.max_outq / 4 < 65536 ? gw->conf.max_outq / 4 : 65536;
	ec.n = sio_packet_encode(SIO_EVENT, nsp->name, nsp->nlen, 0, 0, ev, args, NULL, ec.pkts, why);
	if (ec.n < 0)
		return -1;
	sio_targets(gw, nsp, to, except, emit_one, &ec);
	for (i = 0; i < ec.n; i++)
		gw_buf_unref(ec.pkts[i]);
	gw->st.volatile_dropped += ec.dropped;
	return 0;
}

/* SIO_ACK: answer a client's event. */
static void
cmd_ack(struct gw *gw, struct gw_worker *w, const struct br_msg *m)
{
	struct sio_socket *so = cmd_socket(gw, w, m);
	const msgpack_object *args = br_msg_get(m, "args");
	struct gw_buf *pkts[SIO_MAX_ATTACHMENTS + 1];
	uint64_t ack;
	const char *why = NULL;
	int n, i;

	if (so == NULL)
		return;
	if (br_msg_uint(m, "ack", &ack) < 0 || args == NULL || args->type != MSGPACK_OBJECT_ARRAY) {
		gw_bridge_error(gw, w, BR_E_BAD_MESSAGE, "SIO_ACK needs ack and args", m->type, NULL, 0);
		return;
	}
	n = sio_packet_encode(SIO_ACK, so->nsp->name, so->nsp->nlen, 1, ack, NULL, args, NULL, pkts,
	    &why);
	if (n < 0) {
		gw_bridge_error(gw, w, BR_E_BAD_MESSAGE, why, m->type, NULL, 0);
		return;
	}
	sio_socket_send(so, pkts, n);
	for (i = 0; i < n; i++)
		gw_buf_unref(pkts[i]);
	/* The event is in flight at the socket's worker, whoever sent the ack. */
	gw_bridge_event_done(so->worker == w->id ? w : gw_bridge_find_worker(gw, so->worker),
	    so->id, SIO_ID_LEN, ack);
}

struct collect {
	struct sio_socket **v;
	uint32_t n, cap;
};

static void
collect_one(struct sio_socket *so, void *arg)
{
	struct collect *c = arg;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->v = gw_xrealloc(c->v, c->cap * sizeof *c->v);
	}
	c->v[c->n++] = so;
}

/* sio_targets() into an array (see sio.h). */
struct sio_socket **
sio_targets_collect(struct gw *gw, struct sio_nsp *nsp, const msgpack_object *to,
    const msgpack_object *except, uint32_t *n)
{
	struct collect c = { 0 };

	sio_targets(gw, nsp, to, except, collect_one, &c);
	*n = c.n;
	return c.v;
}

/*
 * The sockets a command names in "to" (collected first: joining, leaving
 * and disconnecting change the lists being walked).  An empty result for a
 * single id that is no room gets ERROR unknown-sid.
 */
static int
cmd_collect(struct gw *gw, struct gw_worker *w, const struct br_msg *m, struct sio_nsp *nsp,
    struct collect *c)
{
	const msgpack_object *to = br_msg_get(m, "to");
	struct br_str id;

	memset(c, 0, sizeof *c);
	if (to == NULL && br_msg_str(m, "id", &id) == 0) {
		struct sio_socket *so = cmd_socket(gw, w, m);

		if (so == NULL)
			return -1;
		if (so->state == SIO_S_CONNECTED)
			collect_one(so, c);
		return 0;
	}
	if (to == NULL || to->type != MSGPACK_OBJECT_ARRAY) {
		gw_bridge_error(gw, w, BR_E_BAD_MESSAGE, "missing to (array)", m->type, NULL, 0);
		return -1;
	}
	if (to->via.array.size == 0)
		return 0;	/* an empty list names nobody here */
	sio_targets(gw, nsp, to, NULL, collect_one, c);
	if (c->n == 0 && to->via.array.size == 1 && to->via.array.ptr[0].type == MSGPACK_OBJECT_STR &&
	    (nsp == NULL || gw_map_get(&nsp->rooms, to->via.array.ptr[0].via.str.ptr,
	    to->via.array.ptr[0].via.str.size) == NULL)) {
		const msgpack_object *t = &to->via.array.ptr[0];

		if (sio_socket_find(gw, t->via.str.ptr, t->via.str.size) == NULL &&
		    (gw->adapter == NULL || sio_ids_local(gw, to))) {
			gw_bridge_error(gw, w, BR_E_UNKNOWN_SID, "no such socket", m->type,
			    t->via.str.ptr, t->via.str.size < 64 ? t->via.str.size : 64);
			return -1;
		}
	}
	return 0;
}

/* Pass a join (1), leave (0) or disconnect (-1) naming "to" on to the cluster. */
static void
cmd_cluster(struct gw *gw, const struct br_msg *m, int join, const msgpack_object *rooms,
    int close_conn)
{
	struct br_str nspname = { "/", 1 };

	br_msg_str(m, "nsp", &nspname);
	if (gw->adapter != NULL)
		gw->adapter->command(gw, join, &nspname, br_msg_get(m, "to"), rooms, close_conn);
}

/* SIO_JOIN / SIO_LEAVE. */
static void
cmd_rooms(struct gw *gw, struct gw_worker *w, const struct br_msg *m, int join)
{
	const msgpack_object *rooms = br_msg_get(m, "rooms");
	struct sio_nsp *nsp = cmd_nsp(gw, m);
	struct collect c;
	uint32_t i, j;

	if (rooms == NULL || rooms->type != MSGPACK_OBJECT_ARRAY) {
		gw_bridge_error(gw, w, BR_E_BAD_MESSAGE, "missing rooms (array)", m->type, NULL, 0);
		return;
	}
	if (cmd_collect(gw, w, m, nsp, &c) < 0)
		return;
	cmd_cluster(gw, m, join, rooms, 0);
	for (i = 0; i < c.n; i++) {
		for (j = 0; j < rooms->via.array.size; j++) {
			const msgpack_object *r = &rooms->via.array.ptr[j];

			if (r->type != MSGPACK_OBJECT_STR || r->via.str.size == 0 || r->via.str.size > 1024)
				continue;
			if (join)
				sio_room_join(c.v[i], r->via.str.ptr, r->via.str.size);
			else
				sio_room_leave(c.v[i], r->via.str.ptr, r->via.str.size);
		}
	}
	free(c.v);
}

/* SIO_DISCONNECT_SOCKETS. */
static void
cmd_disconnect(struct gw *gw, struct gw_worker *w, const struct br_msg *m)
{
	struct sio_nsp *nsp = cmd_nsp(gw, m);
	const msgpack_object *close = br_msg_get(m, "close");
	int close_conn = close != NULL && close->type == MSGPACK_OBJECT_BOOLEAN && close->via.boolean;
	struct collect c;
	char (*ids)[SIO_ID_LEN + 1];
	uint32_t i, n;

	if (cmd_collect(gw, w, m, nsp, &c) < 0)
		return;
	cmd_cluster(gw, m, -1, NULL, close_conn);
	/*
	 * Closing one connection closes its other sockets too: keep ids, not
	 * pointers, and look each one up again before acting on it.
	 */
	ids = gw_xcalloc(c.n ? c.n : 1, sizeof *ids);
	for (i = 0; i < c.n; i++)
		memcpy(ids[i], c.v[i]->id, SIO_ID_LEN + 1);
	n = c.n;
	free(c.v);
	for (i = 0; i < n; i++) {
		struct sio_socket *so = sio_socket_find(gw, ids[i], SIO_ID_LEN);

		if (so != NULL && so->state == SIO_S_CONNECTED)
			sio_socket_disconnect(so, close_conn);
	}
	free(ids);
}

/* SIO_SET_SESSION. */
static void
cmd_session(struct gw *gw, struct gw_worker *w, const struct br_msg *m)
{
	struct sio_socket *so = cmd_socket(gw, w, m);
	const msgpack_object *sess = br_msg_get(m, "session"), *merge = br_msg_get(m, "merge");

	if (so == NULL)
		return;
	if (sess == NULL || sess->type != MSGPACK_OBJECT_MAP) {
		gw_bridge_error(gw, w, BR_E_BAD_MESSAGE, "session must be a map", m->type, NULL, 0);
		return;
	}
	sio_socket_set_session(so, sess, merge != NULL && merge->type == MSGPACK_OBJECT_BOOLEAN &&
	    merge->via.boolean);
}

/* Pack one socket for a "sockets" query. */
static void
pack_socket(struct br_enc *e, struct sio_socket *so)
{
	uint32_t i;
	const char *peer = "";
	msgpack_unpacked up;

	msgpack_pack_map(&e->pk, 4);
	br_enc_cstr(e, "id", so->id);
	br_enc_key(e, "rooms");
	msgpack_pack_array(&e->pk, so->nrooms);
	for (i = 0; i < so->nrooms; i++)
		br_enc_item_str(e, so->rooms[i].r->name, strlen(so->rooms[i].r->name));
	br_enc_key(e, "session");
	if (so->session != NULL)
		msgpack_sbuffer_write(&e->sb, so->session, so->session_len);
	else
		msgpack_pack_map(&e->pk, 0);
	/* addr from the stored handshake */
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, so->conn->hs->data, so->conn->hs->len, NULL) ==
	    MSGPACK_UNPACK_SUCCESS) {
		const msgpack_object *a = br_map_get(&up.data, "addr");

		if (a != NULL && a->type == MSGPACK_OBJECT_STR) {
			br_enc_str(e, "addr", a->via.str.ptr, a->via.str.size);
			msgpack_unpacked_destroy(&up);
			return;
		}
	}
	msgpack_unpacked_destroy(&up);
	br_enc_cstr(e, "addr", peer);
}

void
sio_pack_socket(struct br_enc *e, struct sio_socket *so)
{
	pack_socket(e, so);
}

/* SIO_QUERY -> SIO_RESULT. */
static void
cmd_query(struct gw *gw, struct gw_worker *w, const struct br_msg *m)
{
	struct sio_nsp *nsp = cmd_nsp(gw, m);
	struct br_str what;
	uint64_t req;
	struct collect c = { 0 };
	const msgpack_object *to = br_msg_get(m, "to");
	struct br_enc e;
	uint32_t i, j;

	if (br_msg_uint(m, "req", &req) < 0 || br_msg_str(m, "what", &what) < 0) {
		gw_bridge_error(gw, w, BR_E_BAD_MESSAGE, "SIO_QUERY needs req and what", m->type, NULL, 0);
		return;
	}
	if (gw->adapter != NULL && gw->adapter->query(gw, w, m))
		return;		/* answered for the whole cluster */
	if (to != NULL && to->type == MSGPACK_OBJECT_ARRAY && to->via.array.size > 0)
		sio_targets(gw, nsp, to, NULL, collect_one, &c);
	else if (nsp != NULL)
		sio_targets(gw, nsp, NULL, NULL, collect_one, &c);
	br_enc_init(&e, BR_T_SIO_RESULT, 2);
	br_enc_uint(&e, "req", req);
	br_enc_key(&e, "result");
	if (what.n == 7 && memcmp(what.p, "sockets", 7) == 0) {
		msgpack_pack_array(&e.pk, c.n);
		for (i = 0; i < c.n; i++)
			pack_socket(&e, c.v[i]);
	} else if (what.n == 5 && memcmp(what.p, "rooms", 5) == 0) {
		/* Distinct rooms of the selected sockets, via the room's own mark: reuse a stamp. */
		struct sio_room **rv = NULL;
		uint32_t nr = 0, cap = 0;

		for (i = 0; i < c.n; i++) {
			for (j = 0; j < c.v[i]->nrooms; j++) {
				struct sio_room *r = c.v[i]->rooms[j].r;
				uint32_t k;

				for (k = 0; k < nr && rv[k] != r; k++)
					;
				if (k < nr)
					continue;
				if (nr == cap) {
					cap = cap ? cap * 2 : 16;
					rv = gw_xrealloc(rv, cap * sizeof *rv);
				}
				rv[nr++] = r;
			}
		}
		msgpack_pack_array(&e.pk, nr);
		for (i = 0; i < nr; i++)
			br_enc_item_str(&e, rv[i]->name, strlen(rv[i]->name));
		free(rv);
	} else {
		br_enc_free(&e);
		free(c.v);
		gw_bridge_error(gw, w, BR_E_BAD_MESSAGE, "what must be sockets or rooms", m->type, NULL, 0);
		return;
	}
	free(c.v);
	gw_bridge_send_ctl(gw, w, &e);
}

/*
 * SIO_SERVER_EMIT: to the other nodes of the namespace (the adapter's).
 * Alone, there is nobody to tell and no answer to wait for: with req, an
 * empty SIO_SERVER_RESULT at once.
 */
static void
cmd_server_emit(struct gw *gw, struct gw_worker *w, const struct br_msg *m)
{
	struct br_str nspname = { "/", 1 };
	struct br_enc e;
	uint64_t req;

	br_msg_str(m, "nsp", &nspname);
	if (nspname.n == 0 || nspname.n > 1000 || nspname.p[0] != '/') {
		gw_bridge_error(gw, w, BR_E_BAD_MESSAGE,
		    "SIO_SERVER_EMIT: nsp must start with '/' and have at most 1000 bytes", m->type,
		    NULL, 0);
		return;
	}
	if (gw->adapter != NULL) {
		gw->adapter->server_emit(gw, w, m);
		return;
	}
	if (br_msg_uint(m, "req", &req) < 0)
		return;
	br_enc_init(&e, BR_T_SIO_SERVER_RESULT, 2);
	br_enc_uint(&e, "req", req);
	br_enc_array(&e, "result", 0);
	gw_bridge_send_ctl(gw, w, &e);
}

/* One Socket.IO command from a worker: 1, or 0 when m is not one. */
static int
sio_bridge_command(struct gw *gw, struct gw_worker *w, const struct br_msg *m)
{
	struct sio_socket *so;

	switch (m->type) {
	case BR_T_SIO_ACCEPT:
	case BR_T_SIO_REJECT:
		if ((so = cmd_socket(gw, w, m)) == NULL)
			return 1;
		if (so->state != SIO_S_CONNECTING) {
			gw_bridge_error(gw, w, BR_E_UNKNOWN_SID, "socket is not waiting for an answer",
			    m->type, so->id, SIO_ID_LEN);
			return 1;
		}
		if (m->type == BR_T_SIO_ACCEPT)
			sio_socket_accept(so, br_msg_get(m, "session"), br_msg_get(m, "rooms"));
		else
			sio_socket_reject(so, br_msg_get(m, "data"));
		break;
	case BR_T_SIO_ACK:
		cmd_ack(gw, w, m);
		break;
	case BR_T_SIO_EMIT:
		cmd_emit(gw, w, m);
		break;
	case BR_T_SIO_JOIN:
	case BR_T_SIO_LEAVE:
		cmd_rooms(gw, w, m, m->type == BR_T_SIO_JOIN);
		break;
	case BR_T_SIO_DISCONNECT_SOCKETS:
		cmd_disconnect(gw, w, m);
		break;
	case BR_T_SIO_SET_SESSION:
		cmd_session(gw, w, m);
		break;
	case BR_T_SIO_QUERY:
		cmd_query(gw, w, m);
		break;
	case BR_T_SIO_SERVER_EMIT:
		cmd_server_emit(gw, w, m);
		break;
	case BR_T_SIO_SERVER_ACK:
		if (gw->adapter != NULL)
			gw->adapter->server_ack(gw, w, m);
		else
			gw_debug("worker %u: SIO_SERVER_ACK without a cluster answers nothing", w->id);
		break;
	default:
		return 0;
	}
	return 1;
}

/* Whether a namespace is configured at-most-once (no redelivery). */
static int
at_most_once(struct gw *gw, const char *nsp, size_t n)
{
	const char *p = gw->conf.at_most_once;

	while (p != NULL && *p != '\0') {
		size_t len;

		p += strspn(p, " \t,");
		len = strcspn(p, " \t,");
		if (len == n && memcmp(p, nsp, n) == 0)
			return 1;
		p += len;
	}
	return 0;
}

/*
 * A lost worker's SIO_CONNECT or SIO_EVENT: the socket's new worker, or
 * NULL.  A connect goes again to a socket still connecting; an event of a
 * socket left without a worker, or of an at-most-once namespace, ends here
 * with an error ack when the client asked for one.
 */
static struct gw_worker *
sio_redeliver(struct gw *gw, const struct gw_pending *p)
{
	struct sio_socket *so;
	struct gw_worker *nw;

	if (p->type != BR_T_SIO_EVENT && p->type != BR_T_SIO_CONNECT)
		return NULL;
	so = sio_socket_find(gw, p->id, strlen(p->id));
	if (so == NULL)
		return NULL;
	nw = gw_bridge_find_worker(gw, so->worker);
	if (p->type == BR_T_SIO_CONNECT) {
		if (nw != NULL && so->state == SIO_S_CONNECTING) {
			so->reconnect_sent = 1;
			return nw;
		}
		return NULL;
	}
	if (nw == NULL || so->state != SIO_S_CONNECTED ||
	    at_most_once(gw, so->nsp->name, so->nsp->nlen)) {
		if (p->ack1 != 0)
			sio_error_ack(gw, p->id, p->ack1 - 1, "ENOWORKER",
			    "the worker handling the event was lost");
		return NULL;
	}
	return nw;
}

/* An event that found no credit in time: an error ack if the client asked. */
static void
sio_expired(struct gw *gw, const struct gw_pending *p)
{
	if (p->type == BR_T_SIO_EVENT && p->ack1 != 0)
		sio_error_ack(gw, p->id, p->ack1 - 1, "ENOWORKER", "no worker took the event in time");
}

/* A held connect or event is done: the socket's next events may go. */
static void
sio_release(struct gw *gw, const struct gw_pending *p)
{
	if (p->type == BR_T_SIO_EVENT || p->type == BR_T_SIO_CONNECT)
		sio_socket_release(gw, p->id);
}

/* Socket.IO as a bridge layer (gw_bridge.h). */
const struct gw_bridge_layer sio_bridge_layer = {
	.command = sio_bridge_command,
	.rehome = sio_rehome,
	.redeliver = sio_redeliver,
	.orphans = sio_close_orphans,
	.expired = sio_expired,
	.release = sio_release,
	.tick = sio_held_expire,
};
