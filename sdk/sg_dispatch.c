/*
 * sg_dispatch.c: libsiogate's handling of messages from a gateway:
 * sg_handle() decodes a frame (a BATCH item by item) and hands each
 * message to its handler, which copies what it carries into the worker's
 * scratch buffers and calls the application back.  The answers to
 * requests (acks, query results, sync replies) end their waits in
 * sg_wait.c; WELCOME is handled in sg_link.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg_internal.h"

/* ---- copies handed to callbacks ---- */

/* Make room for n bytes of callback copies; -1 on OOM. */
static int
sg_scratch(struct siogate_worker *w, size_t n)
{
	char *p;

	if (n <= w->scap)
		return 0;
	if ((p = realloc(w->sbuf, n)) == NULL)
		return -1;
	w->sbuf = p;
	w->scap = n;
	return 0;
}

/* Copy a slice into the scratch at *pos, NUL-terminated. */
static const char *
sg_put(struct siogate_worker *w, size_t *pos, const char *p, size_t n)
{
	char *d = w->sbuf + *pos;

	if (n > 0)
		memcpy(d, p, n);
	d[n] = '\0';
	*pos += n + 1;
	return d;
}

/* Scratch bytes for the str value of key in map ("" when absent). */
static size_t
sg_need(const msgpack_object *map, const char *key)
{
	struct br_str s;

	return br_obj_str(br_map_get(map, key), &s) == 0 ? (size_t)s.n + 1 : 1;
}

/* Copy the str value of key in map ("" when absent). */
static const char *
sg_put_key(struct siogate_worker *w, size_t *pos, const msgpack_object *map,
    const char *key)
{
	struct br_str s;

	if (br_obj_str(br_map_get(map, key), &s) == -1) {
		s.p = "";
		s.n = 0;
	}
	return sg_put(w, pos, s.p, s.n);
}

/* Count a map of str to str into scratch bytes (decode checked its kind). */
static size_t
sg_need_map(const msgpack_object *m, size_t *npairs)
{
	size_t n = 0;
	uint32_t i;

	*npairs = 0;
	if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
		return 0;
	for (i = 0; i < m->via.map.size; i++)
		n += (size_t)m->via.map.ptr[i].key.via.str.size +
		    m->via.map.ptr[i].val.via.str.size + 2;
	*npairs = m->via.map.size;
	return n;
}

/* Copy a map of str to str into hdrs[0..n). */
static void
sg_put_map(struct siogate_worker *w, size_t *pos, const msgpack_object *m,
    struct siogate_header *hdrs)
{
	const msgpack_object_kv *kv;
	uint32_t i;

	if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
		return;
	for (i = 0; i < m->via.map.size; i++) {
		kv = &m->via.map.ptr[i];
		hdrs[i].name = sg_put(w, pos, kv->key.via.str.ptr,
		    kv->key.via.str.size);
		hdrs[i].value = sg_put(w, pos, kv->val.via.str.ptr,
		    kv->val.via.str.size);
	}
}

/* Scratch bytes and header slots for a handshake map. */
static size_t
sg_hs_need(const msgpack_object *hs, size_t *nh, size_t *nq)
{
	return sg_need(hs, "url") + sg_need(hs, "addr") +
	    sg_need(hs, "transport") +
	    sg_need_map(br_map_get(hs, "headers"), nh) +
	    sg_need_map(br_map_get(hs, "query"), nq);
}

/* Make room for n handshake pairs; -1 on OOM. */
static int
sg_hdrs(struct siogate_worker *w, size_t n)
{
	struct siogate_header *p;

	if (n <= w->hcap)
		return 0;
	if ((p = realloc(w->hdrs, n * sizeof *p)) == NULL)
		return -1;
	w->hdrs = p;
	w->hcap = n;
	return 0;
}

/*
 * Copy the handshake map into h (scratch and header slots made ready by
 * the caller from sg_hs_need()).
 */
static void
sg_hs_put(struct siogate_worker *w, size_t *pos, const msgpack_object *hs,
    size_t nh, size_t nq, struct siogate_handshake *h)
{
	const msgpack_object *o;

	h->url = sg_put_key(w, pos, hs, "url");
	h->addr = sg_put_key(w, pos, hs, "addr");
	h->transport = sg_put_key(w, pos, hs, "transport");
	h->time_ms = (o = br_map_get(hs, "time")) != NULL ? o->via.u64 : 0;
	sg_put_map(w, pos, br_map_get(hs, "headers"), w->hdrs);
	sg_put_map(w, pos, br_map_get(hs, "query"), w->hdrs + nh);
	h->headers = nh ? w->hdrs : NULL;
	h->nheaders = nh;
	h->query = nq ? w->hdrs + nh : NULL;
	h->nquery = nq;
}

/* ---- Engine.IO: messages from the gateway ---- */

/* EIO_OPEN: copy the handshake and call eio_open. */
static int
sg_on_open(struct siogate_worker *w, struct sg_gw *g, const struct br_msg *m)
{
	const msgpack_object *hs = br_msg_get(m, "hs");
	struct siogate_handshake h;
	const char *sid, *path;
	size_t need, nh, nq, pos = 0;

	need = sg_need(m->root, "sid") + sg_need(m->root, "path") +
	    sg_hs_need(hs, &nh, &nq);
	if (sg_scratch(w, need) == -1 || sg_hdrs(w, nh + nq) == -1)
		goto nomem;
	sid = sg_put_key(w, &pos, m->root, "sid");
	path = sg_put_key(w, &pos, m->root, "path");
	sg_hs_put(w, &pos, hs, nh, nq, &h);
	if (w->cb.eio_open != NULL)
		w->cb.eio_open(w, sid, path, &h, w->ud);
	return 0;
nomem:
	/* The session cannot be handed over: ask the gateway to close it. */
	{
		struct br_str s;

		if (br_msg_str(m, "sid", &s) == 0) {
			br_enc_reset(&w->enc, BR_T_EIO_CLOSE_SESSION, 1);
			br_enc_str(&w->enc, "sid", s.p, s.n);
			(void)sg_send_enc(w, g);
		}
	}
	return -1;
}

/* EIO_MESSAGE: copy sid and data and call eio_message. */
static int
sg_on_message(struct siogate_worker *w, const struct br_msg *m)
{
	struct br_str sid, data;
	const char *s, *d;
	size_t pos = 0;
	int binary;

	if (br_msg_str(m, "sid", &sid) == -1 ||
	    br_msg_data(m, "data", &data, &binary) == -1)
		return 0;	/* decode checked both */
	if (sg_scratch(w, (size_t)sid.n + data.n + 2) == -1)
		return -1;
	s = sg_put(w, &pos, sid.p, sid.n);
	d = sg_put(w, &pos, data.p, data.n);
	if (w->cb.eio_message != NULL)
		w->cb.eio_message(w, s, d, data.n, binary, w->ud);
	return 0;
}

/* EIO_CLOSE: call eio_close. */
static int
sg_on_close(struct siogate_worker *w, const struct br_msg *m)
{
	const char *sid, *reason;
	size_t pos = 0;

	if (sg_scratch(w, sg_need(m->root, "sid") +
	    sg_need(m->root, "reason")) == -1)
		return -1;
	sid = sg_put_key(w, &pos, m->root, "sid");
	reason = sg_put_key(w, &pos, m->root, "reason");
	if (w->cb.eio_close != NULL)
		w->cb.eio_close(w, sid, reason, w->ud);
	return 0;
}

/* ---- Socket.IO: messages from the gateway ---- */

/*
 * Append o as JSON plus a NUL to w->jbuf, *off set to where it starts.
 * Its bins become w->iatt/w->ibin from *nbins on, at most maxbins in all.
 * 0; -1 NOMEM; -2 when o cannot be written as JSON (*why).
 */
int
sg_to_json(struct siogate_worker *w, const msgpack_object *o, size_t *off,
    size_t *nbins, size_t maxbins, const char **why)
{
	size_t i, n0 = *nbins;

	*off = w->jbuf.len;
	if (br_json_write(&w->jbuf, o, w->iatt, nbins, maxbins,
	    SG_IN_DEPTH, why) == -1)
		return strcmp(*why, "out of memory") == 0 ? -1 : -2;
	if (br_buf_append(&w->jbuf, "", 1) == -1)
		return -1;
	for (i = n0; i < *nbins; i++) {
		w->ibin[i].p = w->iatt[i].p;
		w->ibin[i].len = w->iatt[i].n;
	}
	return 0;
}

/* Make room for n room pointers plus the NULL; -1 on OOM. */
static int
sg_room_slots(struct siogate_worker *w, size_t n)
{
	const char **p;

	if (n + 1 <= w->roomcap)
		return 0;
	if ((p = realloc(w->rooms, (n + 1) * sizeof *p)) == NULL)
		return -1;
	w->rooms = p;
	w->roomcap = n + 1;
	return 0;
}

/* A message the SDK could not hand over: tell the gateway, note PROTO. */
void
sg_refuse(struct siogate_worker *w, struct sg_gw *g, const char *why,
    int type)
{
	sg_send_error(w, g, BR_E_BAD_MESSAGE, why, type);
	w->proto_err = 1;
}

/* Whether an optional boolean field of m is true. */
static int
sg_flag(const struct br_msg *m, const char *key)
{
	const msgpack_object *v = br_msg_get(m, key);

	return v != NULL && v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
}

/* SIO_CONNECT: a client joins a namespace. */
static int
sg_on_sio_connect(struct siogate_worker *w, struct sg_gw *g,
    const struct br_msg *m)
{
	static const msgpack_object nil = { .type = MSGPACK_OBJECT_NIL };
	const msgpack_object *hs = br_msg_get(m, "hs");
	const msgpack_object *auth = br_msg_get(m, "auth");
	const msgpack_object *reply = br_msg_get(m, "reply");
	struct siogate_handshake h;
	struct siogate_connect c;
	size_t need, nh, nq, pos = 0, off, nbins = 0;
	const char *why;
	int r;

	need = sg_need(m->root, "sid") + sg_need(m->root, "id") +
	    sg_need(m->root, "nsp") + sg_hs_need(hs, &nh, &nq);
	if (sg_scratch(w, need) == -1 || sg_hdrs(w, nh + nq) == -1)
		return -1;
	c.sid = sg_put_key(w, &pos, m->root, "sid");
	c.id = sg_put_key(w, &pos, m->root, "id");
	c.nsp = sg_put_key(w, &pos, m->root, "nsp");
	sg_hs_put(w, &pos, hs, nh, nq, &h);
	c.hs = &h;
	c.reply = reply->via.boolean;
	c.recovered = sg_flag(m, "recovered");
	c.lost = sg_flag(m, "lost");
	w->jbuf.len = 0;
	r = sg_to_json(w, auth != NULL ? auth : &nil, &off, &nbins,
	    SIOGATE_MAX_BINS, &why);
	if (r == -1)
		return -1;
	if (r == -2) {
		sg_refuse(w, g, why, m->type);
		if (c.reply)	/* do not leave the client hanging */
			(void)sg_accept_reject(w, c.id, NULL, NULL,
			    "{\"message\":\"bad auth payload\"}", 1);
		return 0;
	}
	c.auth = w->jbuf.p + off;
	c.bins = nbins ? w->ibin : NULL;
	c.nbins = nbins;
	if (w->cb.sio_connect != NULL)
		w->cb.sio_connect(w, &c, w->ud);
	else if (c.reply)	/* no callback: accept everybody */
		(void)sg_accept_reject(w, c.id, NULL, NULL, NULL, 0);
	return 0;
}

/* SIO_EVENT: an event of an accepted socket. */
static int
sg_on_sio_event(struct siogate_worker *w, struct sg_gw *g,
    const struct br_msg *m)
{
	const msgpack_object *rooms = br_msg_get(m, "rooms");
	const msgpack_object *args = br_msg_get(m, "args");
	const msgpack_object *sess = br_msg_get(m, "session");
	struct siogate_event e;
	size_t need, pos = 0, aoff, soff, nbins = 0, nb2 = 0;
	const char *why;
	uint32_t i;
	int r;

	need = sg_need(m->root, "id") + sg_need(m->root, "nsp") +
	    sg_need(m->root, "ev");
	for (i = 0; i < rooms->via.array.size; i++)
		need += (size_t)rooms->via.array.ptr[i].via.str.size + 1;
	if (sg_scratch(w, need) == -1 ||
	    sg_room_slots(w, rooms->via.array.size) == -1)
		return -1;
	e.id = sg_put_key(w, &pos, m->root, "id");
	e.nsp = sg_put_key(w, &pos, m->root, "nsp");
	e.ev = sg_put_key(w, &pos, m->root, "ev");
	for (i = 0; i < rooms->via.array.size; i++)
		w->rooms[i] = sg_put(w, &pos, rooms->via.array.ptr[i].via.str.ptr,
		    rooms->via.array.ptr[i].via.str.size);
	w->rooms[i] = NULL;
	e.rooms = w->rooms;
	e.nrooms = rooms->via.array.size;
	e.has_ack = br_msg_uint(m, "ack", &e.ack) == 0;
	if (!e.has_ack)
		e.ack = 0;
	w->jbuf.len = 0;
	r = sg_to_json(w, args, &aoff, &nbins, SIOGATE_MAX_BINS, &why);
	if (r == -1)
		return -1;
	if (r == -2) {
		sg_refuse(w, g, why, m->type);
		return 0;
	}
	/* Session data holding binary (another SDK put it) is not JSON. */
	r = sg_to_json(w, sess, &soff, &nb2, 0, &why);
	if (r == -1)
		return -1;
	e.args = w->jbuf.p + aoff;
	e.session = r == 0 ? w->jbuf.p + soff : NULL;
	e.bins = nbins ? w->ibin : NULL;
	e.nbins = nbins;
	if (w->cb.sio_event != NULL) {
		w->ev_json = e.args;
		w->ev_args = args;
		w->ev_nbins = nbins;
		w->cb.sio_event(w, &e, w->ud);
		w->ev_json = NULL;
		w->ev_args = NULL;
	}
	return 0;
}

/* SIO_SERVER_EVENT: another node's server-side event. */
static int
sg_on_server_event(struct siogate_worker *w, struct sg_gw *g,
    const struct br_msg *m)
{
	struct siogate_server_event e;
	size_t pos = 0, aoff, nbins = 0;
	const char *why;
	int r;

	if (w->server_event == NULL)
		return 0;
	if (sg_scratch(w, sg_need(m->root, "nsp") + sg_need(m->root, "ev")) ==
	    -1)
		return -1;
	memset(&e, 0, sizeof e);
	e.nsp = sg_put_key(w, &pos, m->root, "nsp");
	e.ev = sg_put_key(w, &pos, m->root, "ev");
	e.gateway = g->gwid;
	e.has_ack = br_msg_uint(m, "req", &e.ack) == 0;
	if (!e.has_ack)
		e.ack = 0;
	w->jbuf.len = 0;
	r = sg_to_json(w, br_msg_get(m, "args"), &aoff, &nbins,
	    SIOGATE_MAX_BINS, &why);
	if (r == -1)
		return -1;
	if (r == -2) {
		sg_refuse(w, g, why, m->type);
		return 0;
	}
	e.args = w->jbuf.p + aoff;
	e.bins = nbins ? w->ibin : NULL;
	e.nbins = nbins;
	w->server_event(w, &e, w->ud);
	return 0;
}

/* SIO_DISCONNECT: a socket is gone. */
static int
sg_on_sio_disconnect(struct siogate_worker *w, const struct br_msg *m)
{
	const char *id, *nsp, *reason;
	size_t pos = 0;

	if (sg_scratch(w, sg_need(m->root, "id") + sg_need(m->root, "nsp") +
	    sg_need(m->root, "reason")) == -1)
		return -1;
	id = sg_put_key(w, &pos, m->root, "id");
	nsp = sg_put_key(w, &pos, m->root, "nsp");
	reason = sg_put_key(w, &pos, m->root, "reason");
	if (w->cb.sio_disconnect != NULL)
		w->cb.sio_disconnect(w, id, nsp, reason, w->ud);
	return 0;
}

/* ---- ERROR, and the dispatch of every message ---- */

/* ERROR from the gateway. */
static int
sg_on_error(struct siogate_worker *w, struct sg_gw *g, const struct br_msg *m,
    int64_t now)
{
	struct br_str text = { "", 0 }, sid;
	uint64_t code = 0, ref = 0;
	const char *t, *s = NULL;
	size_t pos = 0, need;
	int has_sid;

	br_msg_uint(m, "code", &code);
	br_msg_uint(m, "ref", &ref);
	br_msg_str(m, "text", &text);
	has_sid = br_msg_str(m, "sid", &sid) == 0;
	if (code == BR_E_UNKNOWN_TYPE && ref == BR_T_SYNC) {
		sg_sync_refused(w, g);	/* not the application's concern */
		return 0;
	}
	if (code == BR_E_NOT_REGISTERED) {
		/* The gateway forgot us (it restarted): register again. */
		if (g->state == SG_READY || now >= g->next_hello)
			sg_send_hello(w, g, now);
		return 0;
	}
	if (ref == BR_T_HELLO) {
		/* HELLO refused: retry later, backing off. */
		g->state = SG_HELLO;
		g->next_hello = now + g->reject_retry;
		g->reject_retry *= 2;
		if (g->reject_retry > SG_REJECT_RETRY_MAX)
			g->reject_retry = SG_REJECT_RETRY_MAX;
	}
	need = (size_t)text.n + 1 + (has_sid ? (size_t)sid.n + 1 : 0);
	if (sg_scratch(w, need) == -1)
		return -1;
	t = sg_put(w, &pos, text.p, text.n);
	if (has_sid)
		s = sg_put(w, &pos, sid.p, sid.n);
	if (w->cb.error != NULL)
		w->cb.error(w, code > 0x7fffffff ? 0 : (int)code, t, s, w->ud);
	if (code == BR_E_UNKNOWN_SID && ref == BR_T_SIO_EMIT && has_sid)
		sg_acks_gone(w, g, s);
	return 0;
}

/*
 * Handle one frame from g, or item - 1 of a BATCH frame (item > 0): each
 * message of a BATCH is handled as if it had come alone, in order.
 */
void
sg_handle(struct siogate_worker *w, struct sg_gw *g, const void *p, size_t n,
    uint32_t item)
{
	struct br_msg m;
	const msgpack_object *msgs;
	const char *why;
	char text[192];
	int64_t now = sg_now();
	int code, rc = 0;
	uint32_t i;

	g->last_recv = now;
	g->linked = 1;
	if (br_msg_decode_ref(&m, p, n, &code, &why) == -1) {
		if (m.type == BR_T_EIO_OPEN || m.type == BR_T_EIO_MESSAGE ||
		    m.type == BR_T_EIO_CLOSE || (m.type >= BR_T_SIO_CONNECT &&
		    m.type <= BR_T_SIO_ACK_TIMEOUT))
			g->owed += w->credit > 0;	/* it used a credit */
		if (m.type != BR_T_ERROR) {
			if (item > 0) {
				snprintf(text, sizeof text, "BATCH item %u: %s",
				    item - 1, why);
				why = text;
			}
			sg_send_error(w, g, code, why, m.type);
		}
		w->proto_err = 1;
		br_msg_free(&m);
		return;
	}
	switch (m.type) {
	case BR_T_BATCH:
		if (item > 0) {
			snprintf(text, sizeof text,
			    "BATCH item %u: a BATCH inside a BATCH", item - 1);
			sg_send_error(w, g, BR_E_BAD_MESSAGE, text, m.type);
			w->proto_err = 1;
			break;
		}
		msgs = br_msg_get(&m, "msgs");
		for (i = 0; i < msgs->via.array.size && !w->dying; i++)
			sg_handle(w, g, msgs->via.array.ptr[i].via.bin.ptr,
			    msgs->via.array.ptr[i].via.bin.size, i + 1);
		break;
	case BR_T_WELCOME:
		rc = sg_on_welcome(w, g, &m, now);
		break;
	case BR_T_HEARTBEAT:
		break;
	case BR_T_ERROR:
		rc = sg_on_error(w, g, &m, now);
		break;
	case BR_T_BYE:
		/* The gateway is leaving; it may come back: say HELLO later. */
		g->state = SG_HELLO;
		g->next_hello = now + w->hb;
		sg_gw_lost(w, g);
		break;
	case BR_T_EIO_OPEN:
		g->owed += w->credit > 0;
		rc = sg_on_open(w, g, &m);
		break;
	case BR_T_EIO_MESSAGE:
		g->owed += w->credit > 0;
		rc = sg_on_message(w, &m);
		break;
	case BR_T_EIO_CLOSE:
		g->owed += w->credit > 0;
		rc = sg_on_close(w, &m);
		break;
	case BR_T_SIO_CONNECT:
		g->owed += w->credit > 0;
		rc = sg_on_sio_connect(w, g, &m);
		break;
	case BR_T_SIO_EVENT:
		g->owed += w->credit > 0;
		rc = sg_on_sio_event(w, g, &m);
		break;
	case BR_T_SIO_DISCONNECT:
		g->owed += w->credit > 0;
		rc = sg_on_sio_disconnect(w, &m);
		break;
	case BR_T_SIO_CLIENT_ACK:
	case BR_T_SIO_ACK_TIMEOUT:
		g->owed += w->credit > 0;
		rc = sg_on_client_ack(w, g, &m);
		break;
	case BR_T_SIO_RESULT:
	case BR_T_SIO_SERVER_RESULT:
		rc = sg_on_result(w, g, &m);
		break;
	case BR_T_SYNC_REPLY:
		sg_on_sync_reply(w, g, &m);
		break;
	case BR_T_SIO_SERVER_EVENT:
		rc = sg_on_server_event(w, g, &m);
		break;
	default:
		/* HELLO, CREDIT, EIO_SEND...: known, but not for a worker. */
		sg_send_error(w, g, BR_E_BAD_MESSAGE,
		    "message type not accepted by a worker", m.type);
		w->proto_err = 1;
		break;
	}
	if (rc == -1)
		w->sys_err = SIOGATE_ERR_NOMEM;
	br_msg_free(&m);
}
