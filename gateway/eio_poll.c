/*
 * eio_poll.c: the HTTP long-polling transport.  One GET may be parked per
 * session; packets queued for it are joined with \x1e into one response,
 * binary ones as "b" + base64.  The encoded packets are shared buffers:
 * the response references them (no copy) except for base64 forms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eio_session.h"

/* The shared "\x1e" separator (static: never freed, made before any loop runs). */
static struct gw_buf *sep;

/*
 * The ops of an HTTP connection a session holds (eio_poll_lend): HTTP's
 * (gw_http_conn_ops), with a gone hook that tells the session.  Made with
 * sep, before any loop runs; read-only from then on.
 */
static struct gw_conn_ops lent_ops;

static void poll_conn_gone(struct gw_conn *c);

void
gw_poll_init(void)
{
	if (sep == NULL) {
		sep = gw_buf_from("\x1e", 1);
		sep->refs = UINT32_MAX;
	}
	lent_ops = gw_http_conn_ops;
	lent_ops.gone = poll_conn_gone;
}

/* Session s holds the HTTP connection c. */
void
eio_poll_lend(struct gw_conn *c, struct eio_session *s)
{
	c->sess = s;
	c->ops = &lent_ops;
}

/* c is no longer held by a session. */
void
eio_poll_release(struct gw_conn *c)
{
	c->sess = NULL;
	c->ops = &gw_http_conn_ops;
}

/* A held connection is closing (or leaving its loop): its session lets go. */
static void
poll_conn_gone(struct gw_conn *c)
{
	struct eio_session *s = c->sess;

	eio_poll_release(c);
	if (s != NULL)
		eio_session_conn_gone(s, c);
}

static struct gw_buf *
poll_sep(void)
{
	return sep;
}

/* Take the parked GET off the session. */
static struct gw_conn *
poll_unpark(struct eio_session *s)
{
	struct gw_conn *c = s->get;

	s->get = NULL;
	eio_poll_release(c);
	return c;
}

/* Answer the parked GET with a single one-character packet ("1", "6"). */
void
eio_poll_answer_one(struct eio_session *s, int type)
{
	struct gw_conn *c = poll_unpark(s);
	char body = (char)('0' + type);

	if (s->v3) {
		struct gw_buf *p = eio_pkt_new(type, NULL, 0, 0);

		eio3_poll_respond(s, c, &p, 1);
		gw_buf_unref(p);
		return;
	}
	gw_http_respond(c, 200, NULL, NULL, &body, 1);
}

/* Drop the first k packets of q (sent); the rest move up for the next GET. */
static void
poll_q_drop(struct eio_pktq *q, uint32_t k)
{
	uint32_t i;

	for (i = 0; i < k; i++) {
		q->bytes -= q->v[i]->len;
		gw_buf_unref(q->v[i]);
	}
	q->n -= k;
	if (q->n == 0) {
		free(q->v);
		memset(q, 0, sizeof *q);
		return;
	}
	memmove(q->v, q->v + k, q->n * sizeof *q->v);
}

/*
 * Answer the parked GET with the queued packets, at most polling_max_packets
 * of them (0: all): clients such as python-engineio 4.3 drop a connection
 * whose response holds more than 16.  The rest wait for the next GET.
 */
void
eio_poll_flush(struct eio_session *s)
{
	struct eio_pktq *q = &s->q;
	struct gw_slice *sl;
	struct gw_buf **extra;
	size_t total = 0;
	uint32_t i, k, nsl = 0, nextra = 0;
	unsigned max = s->gw->conf.polling_max_packets;
	struct gw_conn *c;

	if (s->get == NULL || q->n == 0)
		return;
	c = poll_unpark(s);
	k = max > 0 && q->n > max ? max : q->n;
	if (s->v3) {
		eio3_poll_respond(s, c, q->v, k);
		poll_q_drop(q, k);
		return;
	}
	sl = gw_xmalloc(2 * k * sizeof *sl);
	extra = gw_xmalloc(k * sizeof *extra);
	for (i = 0; i < k; i++) {
		struct gw_buf *p = q->v[i];

		if (i > 0) {
			sl[nsl++] = (struct gw_slice){ poll_sep(), 0, 1 };
			total++;
		}
		if (p->flags & GW_BUF_BINARY) {
			size_t n = p->len - p->hdr;
			struct gw_buf *b = gw_buf_new(1 + GW_B64_ENC_LEN(n));

			b->data[0] = 'b';
			gw_b64_encode(b->data + 1, (const unsigned char *)p->data + p->hdr, n);
			extra[nextra++] = b;
			sl[nsl++] = (struct gw_slice){ b, 0, b->len };
			total += b->len;
		} else {
			sl[nsl++] = (struct gw_slice){ p, p->hdr, p->len };
			total += p->len - p->hdr;
		}
	}
	gw_http_respond_slices(c, 200, NULL, sl, (int)nsl, total);
	for (i = 0; i < nextra; i++)
		gw_buf_unref(extra[i]);
	free(sl);
	free(extra);
	poll_q_drop(q, k);
}

/* A GET on an existing session: answer now or park it. */
void
eio_poll_get(struct eio_session *s, struct gw_conn *c)
{
	if (s->get != NULL) {
		/* Two GETs at once: refuse the second and close the session. */
		gw_http_error(c, 400, 3, "Bad request");
		gw_info("session %s: overlapping polling GET from %s, closing", s->sid, c->peer);
		eio_session_close(s, "transport error");
		return;
	}
	s->get = c;
	eio_poll_lend(c, s);
	if (s->state == EIO_S_UPGRADING)
		eio_poll_answer_one(s, EIO_NOOP);
	else if (s->q.n > 0)
		eio_poll_flush(s);
}

struct post_ctx {
	struct eio_session *s;
	struct gw_conn *c;
};

/* One packet of a POST body. */
static int
post_packet(void *arg, const struct eio_in *pkt)
{
	struct post_ctx *pc = arg;

	if (pc->s->state == EIO_S_CLOSED)
		return 0;
	eio_session_packet(pc->s, pc->c, pkt);
	return 0;
}

/* A POST on an existing session: decode and handle its packets. */
void
eio_poll_post(struct eio_session *s, struct gw_conn *c, struct http_req *req)
{
	struct post_ctx pc = { s, c };
	const char *why = NULL;

	if ((s->v3 ? eio3_decode_post(s, req, post_packet, &pc, &why) :
	    eio_decode_payload(req->body, req->body_len, post_packet, &pc, &why)) < 0) {
		gw_info("session %s: bad polling payload from %s: %s", s->sid, c->peer, why);
		gw_http_error(c, 400, 3, "Bad request");
		eio_session_close(s, "parse error");
		return;
	}
	gw_http_respond(c, 200, "text/html", NULL, "ok", 2);
}

/*
 * A POST's headers arrived (its Origin allowed): refuse a second POST while
 * one is in progress.  A session the requester may not act on is left
 * alone: the complete request gets 400 "Session ID unknown".
 */
int
eio_poll_post_begin(struct gw_conn *c, struct http_req *req, const struct gw_endpoint *ep,
    const char **why)
{
	char sid[64];
	struct eio_session *s;

	if (http_req_query(req, "sid", sid, sizeof sid) == NULL ||
	    (s = eio_session_authorised(c, sid, ep, 1)) == NULL)
		return 0;	/* answered when complete */
	if (s->post != NULL && s->post != c) {
		gw_info("session %s: overlapping POST from %s, closing", s->sid, c->peer);
		eio_session_close(s, "transport error");
		*why = "overlapping POST";
		return 400;
	}
	s->post = c;
	eio_poll_lend(c, s);
	return 0;
}

/* Close a session for a request over maxPayload. */
static void
poll_oversized_close(struct eio_session *s, const char *peer)
{
	gw_warn("session %s: payload from %s larger than maxPayload (%u bytes), closing",
	    s->sid, peer, s->gw->conf.max_payload);
	eio_session_close(s, "transport error");
}

/* A request on this session exceeded maxPayload: close the session. */
void
eio_poll_oversized(struct gw_conn *c, const struct http_req *req, const struct gw_endpoint *ep)
{
	struct gw *gw = c->gw;
	char sid[64];
	struct eio_session *s;
	struct gw *to;

	if (http_req_query(req, "sid", sid, sizeof sid) == NULL)
		return;
	if ((s = eio_session_authorised(c, sid, ep, 0)) != NULL) {
		poll_oversized_close(s, c->peer);
		return;
	}
	if ((to = gw_inbox_owner(gw, sid)) != NULL && strlen(sid) < sizeof ((struct gw_msg *)0)->sid) {
		/* The owner checks the endpoint and the address (the Origin was checked here). */
		struct gw_msg m = { .kind = GW_MSG_CLOSE_SID, .ip = c->ip,
			.ep = (int)(ep - gw->conf.ep) };

		memcpy(m.sid, sid, strlen(sid) + 1);
		snprintf(m.peer, sizeof m.peer, "%s", c->peer);
		gw_ip_ref(gw, c->ip);
		gw_inbox_post(to, &m);
	}
}

/* On the owning loop: the same checks as eio_session_authorised. */
void
eio_poll_oversized_msg(struct gw *gw, const struct gw_msg *m)
{
	struct eio_session *s = eio_session_find(gw, m->sid);

	if (s != NULL && m->ep >= 0 && m->ep < gw->conf.nep && s->ep == &gw->conf.ep[m->ep]) {
		if (!gw->conf.sid_bind_ip || s->ip == m->ip)
			poll_oversized_close(s, m->peer);
		else
			gw_warn("session %s: request from %s refused (session bound to %s; "
			    "read by another loop)", s->sid, m->peer, s->ip ? s->ip->ip : "?");
	}
	gw_ip_put(gw, m->ip);
}
