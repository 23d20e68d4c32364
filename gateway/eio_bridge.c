/*
 * eio_bridge.c: the raw Engine.IO adapter: the sessions of raw endpoints
 * ([engineio] path) are served by workers over the bridge.  Out: EIO_OPEN
 * (the handshake), EIO_MESSAGE, EIO_CLOSE, each counted against credit
 * (gw_bridge_send_event); in: EIO_SEND and EIO_CLOSE_SESSION.  A session is
 * bound to one worker, the one of its endpoint with the fewest sessions; if
 * that worker is lost, it moves to another (EIO_OPEN with moved true) or is
 * closed ("worker gone").  Registered as the endpoints' Engine.IO handler
 * (eio_bridge_handler) and as a bridge layer (eio_bridge_layer) by
 * gw_main.c.  Also the handshake map both kinds of endpoint send
 * (eio_bridge_hs_blob).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eio_bridge.h"

/* Whether a live worker serves ep. */
static int
eio_bridge_has_worker(struct gw *gw, const struct gw_endpoint *ep)
{
	struct gw_worker *w;

	for (w = gw->br->workers; w != NULL; w = w->next) {
		if (w->eio_mask & (1u << ep->idx))
			return 1;
	}
	return 0;
}

/* The worker of ep with the fewest sessions (round-robin among equals). */
static struct gw_worker *
eio_bridge_pick(struct gw *gw, const struct gw_endpoint *ep)
{
	struct gw_worker *w, *best = NULL;

	gw->br->rr++;
	for (w = gw->br->workers; w != NULL; w = w->next) {
		if (w->dead || !(w->eio_mask & (1u << ep->idx)))
			continue;
		if (best == NULL || w->nsess < best->nsess ||
		    (w->nsess == best->nsess && ((w->id ^ gw->br->rr) & 1)))
			best = w;
	}
	return best;
}

/* Count query parameters. */
static uint32_t
eio_bridge_query_count(const struct http_req *req)
{
	uint32_t n = 0, i;

	if (req->query_len == 0)
		return 0;
	for (i = 0; i < req->query_len; i++)
		n += req->buf[req->query + i] == '&';
	return n + 1;
}

/* Encode the query string as a map of decoded keys and values. */
static void
eio_bridge_enc_query(struct br_enc *e, const struct http_req *req)
{
	const char *p = req->buf + req->query, *end = p + req->query_len;
	uint32_t n = eio_bridge_query_count(req);
	char kbuf[512], vbuf[2048];

	msgpack_pack_map(&e->pk, n);
	while (n-- > 0) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *seg_end = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(seg_end - p));
		size_t kl = (size_t)((eq ? eq : seg_end) - p), vl = eq ? (size_t)(seg_end - eq - 1) : 0;

		if (kl >= sizeof kbuf)
			kl = sizeof kbuf - 1;
		if (vl >= sizeof vbuf)
			vl = sizeof vbuf - 1;
		memcpy(kbuf, p, kl);
		kl = gw_url_decode(kbuf, kl, 1);
		if (vl)
			memcpy(vbuf, eq + 1, vl);
		vl = gw_url_decode(vbuf, vl, 1);
		msgpack_pack_str(&e->pk, kl);
		msgpack_pack_str_body(&e->pk, kbuf, kl);
		msgpack_pack_str(&e->pk, vl);
		msgpack_pack_str_body(&e->pk, vbuf, vl);
		p = seg_end + 1;
	}
}

/* The handshake map, encoded once as msgpack. */
struct gw_buf *
eio_bridge_hs_blob(const struct http_req *req, const char *peer, const char *transport)
{
	struct br_enc e;
	struct gw_buf *b;
	char eio[8];
	int i;

	msgpack_sbuffer_init(&e.sb);
	msgpack_packer_init(&e.pk, &e.sb, msgpack_sbuffer_write);
	msgpack_pack_map(&e.pk, 7);
	/* The Engine.IO revision: 3 for Socket.IO 2.x clients (allow_eio3), else 4. */
	br_enc_uint(&e, "eio", http_req_query(req, "EIO", eio, sizeof eio) != NULL &&
	    strcmp(eio, "3") == 0 ? 3 : 4);
	br_enc_key(&e, "headers");
	msgpack_pack_map(&e.pk, req->nhdr);
	for (i = 0; i < req->nhdr; i++)
		br_enc_cstr(&e, req->buf + req->hdr[i].name, req->buf + req->hdr[i].value);
	br_enc_key(&e, "query");
	eio_bridge_enc_query(&e, req);
	br_enc_cstr(&e, "addr", peer);
	br_enc_cstr(&e, "transport", transport);
	br_enc_uint(&e, "time", gw_time_ms());
	br_enc_str(&e, "url", req->buf + req->url, req->url_len);
	b = gw_buf_from(e.sb.data, e.sb.size);
	msgpack_sbuffer_destroy(&e.sb);
	return b;
}

/* Start an event message for session s (sid and seq). */
static void
eio_bridge_enc_session(struct br_enc *e, int type, uint32_t nfields, struct eio_session *s)
{
	br_enc_init(e, type, nfields + 2);
	br_enc_cstr(e, "sid", s->sid);
	br_enc_uint(e, "seq", s->seq++);
}

/* A raw endpoint takes a handshake only while some worker serves it. */
static int
eio_bridge_admit(struct gw_conn *c, const struct gw_endpoint *ep, char *msg, size_t cap)
{
	if (eio_bridge_has_worker(c->gw, ep))
		return 0;
	gw_warn("conn %llu %s: no worker serves %s, handshake refused",
	    (unsigned long long)c->id, c->peer, ep->path);
	snprintf(msg, cap, "No worker available for %s", ep->path);
	return -1;
}

/* Bind a new session to a worker and send EIO_OPEN with the handshake; -1 if no worker. */
static int
eio_bridge_open(struct eio_session *s, struct gw_conn *c, const struct http_req *req,
    const char *transport)
{
	struct gw *gw = s->gw;
	struct gw_worker *w = eio_bridge_pick(gw, s->ep);
	struct br_enc e;
	struct gw_buf *hs;
	struct gw_evmeta meta = { BR_T_EIO_OPEN, s->sid, 0, 0, 0 };

	if (w == NULL)
		return -1;
	s->worker = w->id;
	w->nsess++;
	hs = eio_bridge_hs_blob(req, c->peer, transport);
	eio_bridge_enc_session(&e, BR_T_EIO_OPEN, 2, s);
	br_enc_cstr(&e, "path", s->ep->path);
	br_enc_key(&e, "hs");
	msgpack_sbuffer_write(&e.sb, hs->data, hs->len);
	gw_buf_unref(hs);
	gw_bridge_send_event(gw, w, &e, 1, &meta);
	gw_debug("session %s opened on %s by conn %llu %s", s->sid, s->ep->path,
	    (unsigned long long)c->id, c->peer);
	return 0;
}

/* Forward one message of a raw session to its worker. */
static void
eio_bridge_message(struct eio_session *s, const char *data, size_t len, int binary)
{
	struct gw *gw = s->gw;
	struct gw_worker *w = gw_bridge_find_worker(gw, s->worker);
	struct br_enc e;
	struct gw_evmeta meta = { BR_T_EIO_MESSAGE, s->sid, 0, 0, 0 };

	if (w == NULL) {
		eio_session_close(s, "worker gone");
		return;
	}
	eio_bridge_enc_session(&e, BR_T_EIO_MESSAGE, 1, s);
	br_enc_data(&e, "data", data, len, binary);
	if (gw_bridge_send_event(gw, w, &e, 0, &meta) < 0) {
		gw_warn("session %s: worker %u backlog full (%u events), closing the session",
		    s->sid, w->id, gw->conf.max_backlog);
		eio_session_close(s, "worker overloaded");
	}
}

/* Tell the session's worker it closed. */
static void
eio_bridge_close(struct eio_session *s, const char *reason)
{
	struct gw *gw = s->gw;
	struct gw_worker *w = gw_bridge_find_worker(gw, s->worker);
	struct br_enc e;
	struct gw_evmeta meta = { BR_T_EIO_CLOSE, s->sid, 0, 0, 0 };

	if (w == NULL)
		return;
	w->nsess--;
	s->worker = 0;
	eio_bridge_enc_session(&e, BR_T_EIO_CLOSE, 1, s);
	br_enc_cstr(&e, "reason", reason);
	gw_bridge_send_event(gw, w, &e, 1, &meta);
}

/* Resolve a sid given by a worker; answers UNKNOWN_SID when gone. */
static struct eio_session *
eio_bridge_session(struct gw *gw, struct gw_worker *w, const struct br_str *sid, int ref)
{
	char buf[EIO_SID_LEN + 8];
	struct eio_session *s = NULL;

	if (sid->n < sizeof buf) {
		memcpy(buf, sid->p, sid->n);
		buf[sid->n] = '\0';
		s = eio_session_find(gw, buf);
	}
	if (s == NULL)
		gw_bridge_error(gw, w, BR_E_UNKNOWN_SID, "no such session", ref,
		    sid->p, sid->n < 64 ? sid->n : 64);
	return s;
}

/* EIO_SEND: one message to one or many sessions, encoded once. */
static void
eio_bridge_send(struct gw *gw, struct gw_worker *w, const struct br_msg *m)
{
	struct br_str sid, data;
	const msgpack_object *sids = br_msg_get(m, "sids");
	int binary;
	struct gw_buf *pkt;
	uint32_t i;

	if (br_msg_data(m, "data", &data, &binary) < 0 ||
	    (br_msg_str(m, "sid", &sid) < 0 && (sids == NULL || sids->type != MSGPACK_OBJECT_ARRAY))) {
		gw_bridge_error(gw, w, BR_E_BAD_MESSAGE,
		    "EIO_SEND needs data and sid or sids", BR_T_EIO_SEND, NULL, 0);
		return;
	}
	if (data.n > gw->conf.max_payload) {
		gw_bridge_error(gw, w, BR_E_TOO_LARGE, "data larger than maxPayload",
		    BR_T_EIO_SEND, NULL, 0);
		return;
	}
	pkt = eio_pkt_new(EIO_MESSAGE, data.p, data.n, binary);
	if (br_msg_str(m, "sid", &sid) == 0) {
		struct eio_session *s = eio_bridge_session(gw, w, &sid, BR_T_EIO_SEND);

		if (s != NULL)
			eio_session_send(s, pkt);
	} else {
		for (i = 0; i < sids->via.array.size; i++) {
			struct eio_session *s;

			if (br_obj_str(&sids->via.array.ptr[i], &sid) < 0)
				continue;
			if ((s = eio_bridge_session(gw, w, &sid, BR_T_EIO_SEND)) != NULL)
				eio_session_send(s, pkt);
		}
	}
	gw_buf_unref(pkt);
}

/* Give a lost worker's raw sessions to another worker of their endpoint. */
static void
eio_bridge_rehome(struct gw *gw, uint32_t dead)
{
	uint32_t i;

	for (i = 0; gw->sess_tab != NULL && i <= gw->sess_mask; i++) {
		struct eio_session *s;

		for (s = gw->sess_tab[i]; s != NULL; s = s->hnext) {
			struct gw_worker *nw;
			struct br_enc e;
			struct gw_evmeta meta = { BR_T_EIO_OPEN, s->sid, 0, 0, 0 };

			if (s->worker != dead || s->ep->kind != GW_EP_RAW)
				continue;
			nw = eio_bridge_pick(gw, s->ep);
			s->worker = 0;
			if (nw == NULL)
				continue;	/* closed below */
			s->worker = nw->id;
			nw->nsess++;
			/* EIO_OPEN {sid, seq, path, hs: {}, moved: true} */
			br_enc_init(&e, BR_T_EIO_OPEN, 5);
			br_enc_cstr(&e, "sid", s->sid);
			br_enc_uint(&e, "seq", s->seq++);
			br_enc_cstr(&e, "path", s->ep->path);
			br_enc_map(&e, "hs", 0);
			br_enc_key(&e, "moved");
			msgpack_pack_true(&e.pk);
			gw_bridge_send_event(gw, nw, &e, 1, &meta);
		}
	}
}

/* The worker commands of raw sessions. */
static int
eio_bridge_command(struct gw *gw, struct gw_worker *w, const struct br_msg *m)
{
	struct br_str sid;
	struct eio_session *s;

	switch (m->type) {
	case BR_T_EIO_SEND:
		eio_bridge_send(gw, w, m);
		return 1;
	case BR_T_EIO_CLOSE_SESSION:
		if (br_msg_str(m, "sid", &sid) < 0) {
			gw_bridge_error(gw, w, BR_E_BAD_MESSAGE, "EIO_CLOSE_SESSION needs sid", m->type,
			    NULL, 0);
			return 1;
		}
		if ((s = eio_bridge_session(gw, w, &sid, m->type)) != NULL)
			eio_session_close_forced(s);
		return 1;
	default:
		return 0;
	}
}

/* A lost worker's raw sessions that found no other worker are closed. */
static void
eio_bridge_orphans(struct gw *gw)
{
	uint32_t i;

	for (i = 0; gw->sess_tab != NULL && i <= gw->sess_mask; i++) {
		struct eio_session *s = gw->sess_tab[i], *next;

		for (; s != NULL; s = next) {
			next = s->hnext;
			if (s->ep->kind == GW_EP_RAW && s->worker == 0 && s->state != EIO_S_CLOSED)
				eio_session_close_later(s, "worker gone");
		}
	}
}

const struct gw_bridge_layer eio_bridge_layer = {
	.command = eio_bridge_command,
	.rehome = eio_bridge_rehome,
	.orphans = eio_bridge_orphans,
};

/* Raw Engine.IO endpoints: every session is handed to one worker. */
const struct eio_handler eio_bridge_handler = {
	.admit = eio_bridge_admit,
	.open = eio_bridge_open,
	.message = eio_bridge_message,
	.close = eio_bridge_close,
};
