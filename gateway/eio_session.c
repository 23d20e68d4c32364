/*
 * eio_session.c: Engine.IO v4 sessions: the sid table, the handshake,
 * request routing by sid, inbound packets, heartbeats and closing.
 *
 * Heartbeat (server pings, v4): pingInterval after open (or after the last
 * pong) the server sends "2" and expects "3" within pingTimeout.  A session's
 * one deadline node (s->hb) is on gw->t_ping while the next ping is due and
 * on gw->t_pong while a pong is awaited (or a closed polling session
 * lingers for its last GET): one ev_timer per class for the whole loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eio_session.h"

/* Engine.IO error codes, as the reference server numbers them. */
enum {
	EIO_ERR_TRANSPORT = 0, EIO_ERR_SID = 1, EIO_ERR_METHOD = 2,
	EIO_ERR_BAD_REQUEST = 3, EIO_ERR_FORBIDDEN = 4, EIO_ERR_VERSION = 5,
};

static void session_ping_cb(struct gw_tlist *tl, struct gw_tnode *n);
static void session_pong_cb(struct gw_tlist *tl, struct gw_tnode *n);
static void session_finish(struct eio_session *s);

/* Queue the close packet regardless of state (for a closing polling session). */
static void
session_q_close_packet(struct eio_session *s)
{
	struct eio_pktq *q = &s->q;

	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 4;
		q->v = gw_xrealloc(q->v, q->cap * sizeof *q->v);
	}
	q->v[q->n++] = eio_pkt_new(EIO_CLOSE, NULL, 0, 0);
	q->bytes += q->v[q->n - 1]->len;
}

/* FNV-1a of a sid. */
static uint32_t
sid_hash(const char *sid)
{
	uint32_t h = 2166136261u;

	while (*sid != '\0')
		h = (h ^ (unsigned char)*sid++) * 16777619u;
	return h;
}

/* Grow the table when it gets dense. */
static void
sess_tab_grow(struct gw *gw)
{
	uint32_t nsize = gw->sess_tab ? (gw->sess_mask + 1) * 2 : 1024, i;
	struct eio_session **nt = gw_xcalloc(nsize, sizeof *nt);

	for (i = 0; gw->sess_tab != NULL && i <= gw->sess_mask; i++) {
		struct eio_session *s = gw->sess_tab[i], *next;

		for (; s != NULL; s = next) {
			uint32_t b = sid_hash(s->sid) & (nsize - 1);

			next = s->hnext;
			s->hnext = nt[b];
			nt[b] = s;
		}
	}
	free(gw->sess_tab);
	gw->sess_tab = nt;
	gw->sess_mask = nsize - 1;
}

/*
 * The session a request may act on: sid's, opened on ep and, with
 * sid_bind_ip, from c's address (a refusal is logged unless quiet).
 */
struct eio_session *
eio_session_authorised(struct gw_conn *c, const char *sid, const struct gw_endpoint *ep,
    int quiet)
{
	struct eio_session *s = eio_session_find(c->gw, sid);

	if (s == NULL || s->ep != ep)
		return NULL;
	if (!s->gw->conf.sid_bind_ip || s->ip == c->ip)
		return s;
	if (!quiet)
		gw_warn("session %s: request from %s refused (session bound to %s)", s->sid,
		    c->peer, s->ip ? s->ip->ip : "?");
	return NULL;
}

/* Look up a live session by sid. */
struct eio_session *
eio_session_find(struct gw *gw, const char *sid)
{
	struct eio_session *s;

	if (gw->sess_tab == NULL)
		return NULL;
	for (s = gw->sess_tab[sid_hash(sid) & gw->sess_mask]; s != NULL; s = s->hnext) {
		if (strcmp(s->sid, sid) == 0)
			return s;
	}
	return NULL;
}

/* Remove a session from the table. */
static void
sess_tab_remove(struct gw *gw, struct eio_session *s)
{
	struct eio_session **pp = &gw->sess_tab[sid_hash(s->sid) & gw->sess_mask];

	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			s->hnext = NULL;
			if (--gw->nsess == 0) {
				free(gw->sess_tab);	/* empty: give it back */
				gw->sess_tab = NULL;
				gw->sess_mask = 0;
			}
			return;
		}
	}
}

/* The heartbeat classes of a loop. */
void
eio_session_timers_init(struct gw *gw)
{
	gw_tlist_init(&gw->t_ping, gw->loop, gw->conf.ping_interval / 1000.0, session_ping_cb, gw);
	gw_tlist_init(&gw->t_pong, gw->loop, gw->conf.ping_timeout / 1000.0, session_pong_cb, gw);
	eio3_timers_init(gw);
}

/* Arm the heartbeat for the next ping. */
static void
session_schedule_ping(struct eio_session *s)
{
	s->ping_sent = 0;
	gw_tlist_arm(&s->gw->t_ping, &s->hb);
}

/* A new session with a fresh sid, in the table. */
static struct eio_session *
session_new(struct gw *gw, const struct gw_endpoint *ep, int transport)
{
	struct eio_session *s = gw_xcalloc(1, sizeof *s);
	size_t idlen = strlen(gw->id);

	s->gw = gw;
	s->ep = ep;
	s->transport = (uint8_t)transport;
	memcpy(s->sid, gw->id, idlen);
	do {
		if (gw_random_id(s->sid + idlen, EIO_SID_LEN - idlen) < 0) {
			gw_err("kernel random source failed");
			abort();
		}
	} while (eio_session_find(gw, s->sid) != NULL);
	if (gw->nsess + 1 > (gw->sess_tab ? gw->sess_mask + 1 : 0))
		sess_tab_grow(gw);
	{
		uint32_t b = sid_hash(s->sid) & gw->sess_mask;

		s->hnext = gw->sess_tab[b];
		gw->sess_tab[b] = s;
	}
	gw->nsess++;
	gw->st.sessions_opened++;
	session_schedule_ping(s);
	return s;
}

/* The open packet's JSON: exactly the five keys of the spec. */
static int
session_open_json(struct eio_session *s, char *dst, size_t cap)
{
	struct gw_conf *cf = &s->gw->conf;

	if (s->v3)	/* v3: no maxPayload */
		return snprintf(dst, cap, "{\"sid\":\"%s\",\"upgrades\":%s,\"pingInterval\":%u,"
		    "\"pingTimeout\":%u}", s->sid,
		    s->transport == EIO_T_POLLING ? "[\"websocket\"]" : "[]",
		    cf->ping_interval, cf->ping_timeout);
	return snprintf(dst, cap, "{\"sid\":\"%s\",\"upgrades\":%s,\"pingInterval\":%u,"
	    "\"pingTimeout\":%u,\"maxPayload\":%u}", s->sid,
	    s->transport == EIO_T_POLLING ? "[\"websocket\"]" : "[]",
	    cf->ping_interval, cf->ping_timeout, cf->max_payload);
}

/* Create a session for a handshake; NULL (answered) when refused. */
static struct eio_session *
session_open(struct gw_conn *c, struct http_req *req, const struct gw_endpoint *ep,
    int transport)
{
	struct gw *gw = c->gw;
	struct eio_session *s;

	if (gw->stopping) {
		gw_http_error(c, 503, EIO_ERR_BAD_REQUEST, "Server shutting down");
		return NULL;
	}
	if (gw_ip_handshake(gw, c->ip) < 0) {
		if (gw->st.limit_handshakes++ == 0 || gw->st.limit_handshakes % 1000 == 0)
			gw_warn("conn %llu %s: handshake rate over %u/s from this address, refused",
			    (unsigned long long)c->id, c->peer, gw->conf.handshake_rate);
		gw_http_error(c, 429, EIO_ERR_BAD_REQUEST, "Too many handshakes, slow down");
		return NULL;
	}
	if (ep->h->admit != NULL) {
		char msg[160];

		if (ep->h->admit(c, ep, msg, sizeof msg) < 0) {
			gw_http_error(c, 503, EIO_ERR_BAD_REQUEST, msg);
			return NULL;
		}
	}
	s = session_new(gw, ep, transport);
	eio3_session_init(s, req);
	s->ip = c->ip;
	gw_ip_ref(gw, c->ip);
	if (ep->h->open(s, c, req, transport == EIO_T_POLLING ? "polling" : "websocket") < 0) {
		/* Refused above (a raw endpoint's last worker just went): free quietly. */
		sess_tab_remove(gw, s);
		gw_tlist_stop(&s->hb);
		gw_ip_put(gw, s->ip);
		free(s);
		gw_http_error(c, 503, EIO_ERR_BAD_REQUEST, "No worker available");
		return NULL;
	}
	return s;
}

/* Route a polling request or a polling handshake. */
static void
eio_http_request(struct gw_conn *c, struct http_req *req, const struct gw_endpoint *ep)
{
	char transport[16], sid[64], eio[8];
	struct eio_session *s;

	if (c->sess != NULL && c->sess->post == c) {
		/* The body is in: this POST is no longer in progress. */
		c->sess->post = NULL;
		eio_poll_release(c);
	}

	if (http_req_query(req, "transport", transport, sizeof transport) == NULL ||
	    (strcmp(transport, "polling") != 0 && strcmp(transport, "websocket") != 0)) {
		gw_http_error(c, 400, EIO_ERR_TRANSPORT, "Transport unknown");
		return;
	}
	if (http_req_query(req, "sid", sid, sizeof sid) != NULL) {
		s = eio_session_authorised(c, sid, ep, 0);
		if (s == NULL) {
			gw_http_error(c, 400, EIO_ERR_SID, "Session ID unknown");
			return;
		}
		if (s->linger) {
			/* Closed by the server: a GET collects the last packets, then it is gone. */
			if (req->method == HTTP_GET && s->get == NULL) {
				s->get = c;
				eio_poll_lend(c, s);
				eio_poll_flush(s);
				if (s->q.n == 0)	/* else more for the next GET */
					session_finish(s);
			} else {
				gw_http_error(c, 400, EIO_ERR_SID, "Session ID unknown");
			}
			return;
		}
		if (strcmp(transport, "polling") != 0 || s->transport != EIO_T_POLLING) {
			gw_http_error(c, 400, EIO_ERR_BAD_REQUEST, "Bad request");
			return;
		}
		if (req->method == HTTP_GET)
			eio_poll_get(s, c);
		else if (req->method == HTTP_POST)
			eio_poll_post(s, c, req);
		else
			gw_http_error(c, 400, EIO_ERR_BAD_REQUEST, "Bad request");
		return;
	}
	if (req->method != HTTP_GET) {
		gw_http_error(c, 400, EIO_ERR_METHOD, "Bad handshake method");
		return;
	}
	if (http_req_query(req, "EIO", eio, sizeof eio) == NULL || eio3_version(c->gw, eio) == 0) {
		gw_http_error(c, 400, EIO_ERR_VERSION, "Unsupported protocol version");
		return;
	}
	if (strcmp(transport, "polling") != 0) {
		/* websocket without an Upgrade header */
		gw_http_error(c, 400, EIO_ERR_BAD_REQUEST, "Bad request");
		return;
	}
	if (eio3_version(c->gw, eio) == 3 && http_req_query(req, "j", sid, sizeof sid) != NULL &&
	    !eio3_jsonp_allowed(c->gw, req)) {
		gw_warn("conn %llu %s: JSONP handshake from a page whose origin is not allowed",
		    (unsigned long long)c->id, c->peer);
		c->gw->st.err_origin++;
		gw_http_error(c, 403, EIO_ERR_FORBIDDEN, "Forbidden");
		return;
	}
	s = session_open(c, req, ep, EIO_T_POLLING);
	if (s != NULL) {
		char open[256];
		int n = session_open_json(s, open, sizeof open);
		struct gw_buf *pkt = eio_pkt_new(EIO_OPEN, open, (size_t)n, 0);
		struct gw_slice sl = { pkt, pkt->hdr, pkt->len };

		if (s->v3)
			eio3_poll_respond(s, c, &pkt, 1);
		else
			gw_http_respond_slices(c, 200, NULL, &sl, 1, pkt->len - pkt->hdr);
		gw_buf_unref(pkt);
		if (s->v3)
			eio3_session_opened(s);
	}
}

/* Open a session on a new WebSocket (no sid); returns it or NULL (answered). */
struct eio_session *
eio_session_open_ws(struct gw_conn *c, struct http_req *req, const struct gw_endpoint *ep)
{
	return session_open(c, req, ep, EIO_T_WS);
}

/* The open packet for a WebSocket session, sent as its first frame. */
void
eio_session_send_open(struct eio_session *s)
{
	char open[256];
	int n = session_open_json(s, open, sizeof open);
	struct gw_buf *pkt = eio_pkt_new(EIO_OPEN, open, (size_t)n, 0);

	eio_session_send(s, pkt);
	gw_buf_unref(pkt);
	if (s->v3)
		eio3_session_opened(s);
}

/* Queue one packet on the session's current transport. */
void
eio_session_send(struct eio_session *s, struct gw_buf *pkt)
{
	struct eio_pktq *q = &s->q;

	if (s->state == EIO_S_CLOSED)
		return;
	if (s->v3 && (pkt->flags & GW_BUF_BINARY) && !(pkt->flags & GW_BUF_V3)) {
		/* One recipient's copy; a fan-out brings v3 forms made once (sio3_pkts). */
		struct gw_buf *v = eio3_pkt_binary(pkt);

		eio_session_send(s, v);
		gw_buf_unref(v);
		return;
	}
	s->gw->st.packets_out++;
	if (s->transport == EIO_T_WS && s->ws != NULL) {
		eio_ws_send(s->ws, pkt);
		return;
	}
	if (s->close_pending)
		return;
	if (q->bytes + pkt->len > s->gw->conf.max_outq) {
		gw_warn("session %s: %zu bytes waiting for the client, closing (slow consumer)",
		    s->sid, q->bytes);
		s->gw->st.err_slow++;
		eio_session_close_later(s, "transport error");
		return;
	}
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 4;
		q->v = gw_xrealloc(q->v, q->cap * sizeof *q->v);
	}
	q->v[q->n++] = gw_buf_ref(pkt);
	q->bytes += pkt->len;
	if (s->get != NULL && s->state == EIO_S_OPEN && !s->flush_listed) {
		/* Answer before the loop sleeps, with everything queued this turn. */
		s->flush_listed = 1;
		s->fnext = s->gw->poll_flush;
		s->gw->poll_flush = s;
		gw_wake(s->gw);
	}
}

/* Answer parked GETs that have packets waiting. */
void
eio_session_flush_polls(struct gw *gw)
{
	struct eio_session *s;

	while ((s = gw->poll_flush) != NULL) {
		gw->poll_flush = s->fnext;
		s->flush_listed = 0;
		if (s->state == EIO_S_OPEN && s->get != NULL)
			eio_poll_flush(s);
	}
}

/* A ping is due: send it, then wait for the pong. */
static void
session_ping_cb(struct gw_tlist *tl, struct gw_tnode *n)
{
	struct eio_session *s = GW_TNODE_OWNER(n, struct eio_session, hb);
	struct gw_buf *ping;

	s->ping_sent = 1;
	gw_tlist_arm(&s->gw->t_pong, &s->hb);
	if (s->ep->h->ping != NULL)
		s->ep->h->ping(s);	/* Socket.IO recovery: what the pong confirms */
	ping = eio_pkt_new(EIO_PING, NULL, 0, 0);
	eio_session_send(s, ping);
	gw_buf_unref(ping);
}

/* No pong in time: close; or a lingering session's last GET never came. */
static void
session_pong_cb(struct gw_tlist *tl, struct gw_tnode *n)
{
	struct eio_session *s = GW_TNODE_OWNER(n, struct eio_session, hb);

	if (s->linger) {
		session_finish(s);	/* nobody came for the last packets */
		return;
	}
	gw_debug("session %s: no pong within %u ms", s->sid, s->gw->conf.ping_timeout);
	s->gw->st.err_ping_timeout++;
	eio_session_close(s, "ping timeout");
}

/* Send a one-packet reply on a probe or transport WebSocket. */
static void
session_ws_reply(struct gw_conn *c, int type, const char *data)
{
	struct gw_buf *pkt = eio_pkt_new(type, data, strlen(data), 0);

	eio_ws_send(c, pkt);
	gw_buf_unref(pkt);
}

/* Finish an upgrade: the WebSocket becomes the transport. */
static void
session_upgrade_done(struct eio_session *s)
{
	uint32_t i;

	if (s->get != NULL)
		eio_poll_answer_one(s, EIO_NOOP);
	s->transport = EIO_T_WS;
	s->state = EIO_S_OPEN;
	for (i = 0; i < s->q.n; i++) {
		eio_ws_send(s->ws, s->q.v[i]);
		gw_buf_unref(s->q.v[i]);
	}
	free(s->q.v);
	memset(&s->q, 0, sizeof s->q);
	gw_debug("session %s upgraded to websocket", s->sid);
}

/* Handle one inbound packet. */
void
eio_session_packet(struct eio_session *s, struct gw_conn *c, const struct eio_in *pkt)
{
	int probe = s->transport == EIO_T_POLLING && c == s->ws;

	if (s->state == EIO_S_CLOSED)
		return;
	if (probe) {
		/* The upgrade probe: 2probe, then 5. Anything else ends the probe. */
		if (pkt->type == EIO_PING && pkt->len == 5 && memcmp(pkt->data, "probe", 5) == 0) {
			session_ws_reply(c, EIO_PONG, "probe");
			s->state = EIO_S_UPGRADING;
			if (s->get != NULL)
				eio_poll_answer_one(s, EIO_NOOP);
		} else if (pkt->type == EIO_UPGRADE && s->state == EIO_S_UPGRADING) {
			session_upgrade_done(s);
		} else {
			s->ws = NULL;
			c->sess = NULL;
			s->state = EIO_S_OPEN;
			eio_ws_close(c, 1002);
		}
		return;
	}
	switch (pkt->type) {
	case EIO_PONG:
		if (s->v3) {
			/* v3: the server never pings; Node closes for this too */
			gw_info("session %s: pong from a v3 client (invalid heartbeat direction)",
			    s->sid);
			eio_session_close(s, "transport error");
			break;
		}
		if (s->ping_sent) {
			session_schedule_ping(s);
			if (s->ep->h->pong != NULL)
				s->ep->h->pong(s);
		}
		break;
	case EIO_PING: {
		struct gw_buf *pong;

		if (s->v3)
			eio3_got_ping(s);
		pong = eio_pkt_new(EIO_PONG, pkt->data, pkt->len, 0);

		eio_session_send(s, pong);
		gw_buf_unref(pong);
		break;
	}
	case EIO_MESSAGE:
		s->ep->h->message(s, pkt->data, pkt->len, pkt->binary);
		break;
	case EIO_CLOSE:
		s->client_closed = 1;
		eio_session_close(s, "transport close");
		break;
	case EIO_NOOP:
		break;
	default:
		/* open or upgrade outside an upgrade: a protocol error */
		eio_session_close(s, "parse error");
		break;
	}
}

/*
 * Close the session: tell the layer above, answer or close its transports.
 * deliver: a deliberate close (eio_session_close_forced) that lets a
 * polling client collect what was queued first.
 */
static void
session_close(struct eio_session *s, const char *reason, int deliver)
{
	struct gw *gw = s->gw;
	uint32_t i;

	int linger;

	if (s->state == EIO_S_CLOSED)
		return;
	s->state = EIO_S_CLOSED;
	gw_tlist_stop(&s->hb);
	gw_debug("session %s closed: %s", s->sid, reason);
	/*
	 * A server close of a polling session delivers what was queued first
	 * (a "41" from a server disconnect, say) and the close packet in a later
	 * response, like the reference server: clients handle a payload's
	 * packets asynchronously, and a close in the same payload would overtake
	 * them.  The session lingers (up to pingTimeout) for that next GET.
	 * Only for a deliberate close (a worker's): after a ping timeout or an
	 * error the queue is dropped and the sid is gone at once, as in Node.
	 */
	linger = s->transport == EIO_T_POLLING && !s->client_closed && s->q.n > 0 &&
	    !gw->stopping && deliver;
	if (s->get != NULL) {
		if (linger)
			eio_poll_flush(s);
		else
			/* A client close gets a noop; a server close tells the client. */
			eio_poll_answer_one(s, s->client_closed ? EIO_NOOP : EIO_CLOSE);
	}
	if (s->post != NULL) {
		eio_poll_release(s->post);
		s->post = NULL;
	}
	if (s->ws != NULL) {
		struct gw_conn *c = s->ws;

		s->ws = NULL;
		c->sess = NULL;
		eio_ws_close(c, 1000);
	}
	if (!linger) {
		for (i = 0; i < s->q.n; i++)
			gw_buf_unref(s->q.v[i]);
		free(s->q.v);
		memset(&s->q, 0, sizeof s->q);
	}
	s->ep->h->close(s, reason);
	if (linger) {
		session_q_close_packet(s);
		s->linger = 1;
		gw_tlist_arm(&gw->t_pong, &s->hb);
		return;
	}
	session_finish(s);
}

void
eio_session_close(struct eio_session *s, const char *reason)
{
	session_close(s, reason, 0);
}

/* A worker's or the server's decision: reason "forced close", the queue delivered first. */
void
eio_session_close_forced(struct eio_session *s)
{
	session_close(s, "forced close", 1);
}

/* Remove a closed session from the table and queue it for the reaper. */
static void
session_finish(struct eio_session *s)
{
	struct gw *gw = s->gw;
	uint32_t i;

	gw_tlist_stop(&s->hb);
	for (i = 0; i < s->q.n; i++)
		gw_buf_unref(s->q.v[i]);
	free(s->q.v);
	memset(&s->q, 0, sizeof s->q);
	s->linger = 0;
	sess_tab_remove(gw, s);
	s->hnext = gw->sess_dead;
	gw->sess_dead = s;
	gw_wake(gw);
}


/* A borrowed connection is closing under the session. */
void
eio_session_conn_gone(struct eio_session *s, struct gw_conn *c)
{
	if (c == s->get) {
		/* The client dropped its pending GET: it is gone (like Node). */
		s->get = NULL;
		if (s->state != EIO_S_CLOSED)
			eio_session_close_later(s, "transport close");
		return;
	}
	if (c == s->post) {
		s->post = NULL;
		return;
	}
	if (c == s->ws) {
		s->ws = NULL;
		if (s->transport == EIO_T_WS) {
			eio_session_close(s, "transport close");
		} else if (s->state == EIO_S_UPGRADING) {
			s->state = EIO_S_OPEN;	/* the probe died: stay on polling */
		}
	}
}

/* A POST's headers are in: one POST at a time per session. */
static int
eio_http_headers(struct gw_conn *c, struct http_req *req, const struct gw_endpoint *ep,
    const char **why)
{
	if (req->method != HTTP_POST)
		return 0;
	return eio_poll_post_begin(c, req, ep, why);
}

/* A request refused by HTTP: one over maxPayload (413) closes the session it names. */
static void
eio_http_refused(struct gw_conn *c, const struct http_req *req, const struct gw_endpoint *ep,
    int status)
{
	if (status == 413)
		eio_poll_oversized(c, req, ep);
}

const struct gw_http_route eio_http_route = {
	.headers = eio_http_headers,
	.request = eio_http_request,
	.upgrade = eio_ws_upgrade,
	.refused = eio_http_refused,
};

/* Free sessions closed this turn. */
void
eio_session_reap(struct gw *gw)
{
	struct eio_session *s;

	while ((s = gw->sess_dead) != NULL) {
		gw->sess_dead = s->hnext;
		gw_ip_put(gw, s->ip);
		free(s);
	}
}

/* Bytes waiting for the client. */
size_t
eio_session_pending(const struct eio_session *s)
{
	return s->q.bytes + (s->ws != NULL && s->transport == EIO_T_WS ? s->ws->out.bytes : 0);
}

/* Mark a session to be closed before the loop sleeps. */
void
eio_session_close_later(struct eio_session *s, const char *reason)
{
	if (s->state == EIO_S_CLOSED || s->close_pending)
		return;
	s->close_pending = 1;
	s->close_reason = reason;
	s->cnext = s->gw->sess_closing;
	s->gw->sess_closing = s;
	gw_wake(s->gw);
}

/* Close the sessions marked for closing. */
void
eio_session_close_pending(struct gw *gw)
{
	struct eio_session *s;

	while ((s = gw->sess_closing) != NULL) {
		gw->sess_closing = s->cnext;
		eio_session_close(s, s->close_reason);
	}
}

/* Close every session (shutdown). */
void
eio_session_close_all(struct gw *gw, const char *reason)
{
	uint32_t i;

	for (i = 0; gw->sess_tab != NULL && i <= gw->sess_mask; i++) {
		/* The table goes away with its last session. */
		while (gw->sess_tab != NULL && gw->sess_tab[i] != NULL) {
			if (gw->sess_tab[i]->linger)
				session_finish(gw->sess_tab[i]);
			else
				eio_session_close(gw->sess_tab[i], reason);
		}
	}
}
