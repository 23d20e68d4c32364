/*
 * sg_link.c: libsiogate's gateway links: connect, HELLO/WELCOME, the
 * socket monitor, heartbeats, credit, batching and the send paths, and
 * which gateway a socket id or a command goes to.
 *
 * Registration state of one gateway:
 *
 *	  connect / link up / BYE / NOT_REGISTERED / gateway silent
 *	      |                                  ^
 *	      v                                  |
 *	  SG_HELLO --- WELCOME ---------------> SG_READY
 *	  (HELLO now and every hb ms;           (HEARTBEAT when we sent nothing
 *	   sooner while the link is down)        for hb ms)
 *
 * The link (ZMTP connection) is tracked apart from registration, through
 * the socket monitor: sends are refused with NOGATEWAY while it is down,
 * and a fresh link always says HELLO at once (the gateway may have
 * restarted).  The DEALER reconnects by itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include <zmq.h>

#include "sg_internal.h"

/* ---- send paths ---- */

/* After a send: input may be pending that the fd will not announce. */
static void
sg_after_send(struct siogate_worker *w, struct sg_gw *g)
{
	int ev = 0;
	size_t sz = sizeof ev;

	/*
	 * Why: ZMQ_FD is edge-triggered.  A send processes the socket's
	 * command queue, which may mark input readable and consume the edge
	 * the caller's loop was going to see.  So look now, and go round
	 * (inside process) or wake the loop (outside).
	 */
	if (zmq_getsockopt(g->sock, ZMQ_EVENTS, &ev, &sz) == 0 &&
	    (ev & ZMQ_POLLIN)) {
		if (w->in_process)
			w->more = 1;
		else
			sg_poke(w);
	}
}

/* Send one frame to g now.  SIOGATE_OK, AGAIN, ZMQ. */
static int
sg_zsend(struct siogate_worker *w, struct sg_gw *g, const void *p, size_t n)
{
	int rc = SIOGATE_OK;

	while (zmq_send(g->sock, p, n, ZMQ_DONTWAIT) < 0) {
		if (errno == EINTR)
			continue;
		rc = errno == EAGAIN ? SIOGATE_ERR_AGAIN : SIOGATE_ERR_ZMQ;
		break;
	}
	if (rc == SIOGATE_OK)
		g->last_sent = sg_now();
	sg_after_send(w, g);
	return rc;
}

/*
 * Send what is batched for g as one frame (a lone message without the
 * BATCH wrapper).  SIOGATE_OK (sent, or nothing to send); AGAIN: kept,
 * tried again at the next round; ZMQ: dropped.
 */
int
sg_flush(struct siogate_worker *w, struct sg_gw *g)
{
	const char *p;
	size_t n;
	int rc;

	if (g->out.n == 0)
		return SIOGATE_OK;
	br_batch_frame(&g->out, &p, &n);
	if ((rc = sg_zsend(w, g, p, n)) == SIOGATE_ERR_AGAIN)
		return rc;
	br_batch_reset(&g->out);
	return rc;
}

/* Send the encoded message to g now, after what is batched for it. */
static int
sg_send_now(struct siogate_worker *w, struct sg_gw *g)
{
	int rc;

	if (br_enc_failed(&w->enc))
		return SIOGATE_ERR_NOMEM;
	if ((rc = sg_flush(w, g)) != SIOGATE_OK)
		return rc;
	return sg_zsend(w, g, w->enc.sb.data, w->enc.sb.size);
}

/*
 * Send the encoded message to g.  Inside siogate_worker_process(), a
 * gateway that takes BATCH gets it in its batch, sent as one frame at the
 * end of the round (everything to g goes the same way, so the order is
 * kept); otherwise it goes now.  SIOGATE_OK, AGAIN, NOMEM, ZMQ.
 */
int
sg_send_enc(struct siogate_worker *w, struct sg_gw *g)
{
	int rc;

	if (br_enc_failed(&w->enc))
		return SIOGATE_ERR_NOMEM;
	if (!g->batch || !w->in_process)
		return sg_send_now(w, g);
	if (g->out.len >= SG_OUT_MAX && (rc = sg_flush(w, g)) != SIOGATE_OK)
		return rc;
	if (br_batch_add(&g->out, w->enc.sb.data, w->enc.sb.size) == -1)
		return SIOGATE_ERR_NOMEM;
	if (g->out.len >= SG_OUT_FLUSH)
		(void)sg_flush(w, g);	/* AGAIN: kept for the next round */
	return SIOGATE_OK;
}

/* Encode and send HELLO; schedule the next try either way. */
int
sg_send_hello(struct siogate_worker *w, struct sg_gw *g, int64_t now)
{
	size_t i, nopen = 0;
	int rc;

	for (i = 0; i < w->nnsps; i++)
		nopen += w->nsp_open[i];
	br_enc_reset(&w->enc, BR_T_HELLO, 4 + (w->name != NULL) +
	    (w->nnsps > 0) + (nopen > 0) + (w->unordered != 0));
	if (w->name != NULL)
		br_enc_cstr(&w->enc, "name", w->name);
	br_enc_array(&w->enc, "eio", (uint32_t)w->npaths);
	for (i = 0; i < w->npaths; i++)
		br_enc_item_str(&w->enc, w->paths[i], strlen(w->paths[i]));
	if (w->nnsps > 0) {
		br_enc_array(&w->enc, "nsp", (uint32_t)w->nnsps);
		for (i = 0; i < w->nnsps; i++)
			br_enc_item_str(&w->enc, w->nsps[i],
			    strlen(w->nsps[i]));
	}
	if (nopen > 0) {
		br_enc_array(&w->enc, "nsp_open", (uint32_t)nopen);
		for (i = 0; i < w->nnsps; i++)
			if (w->nsp_open[i])
				br_enc_item_str(&w->enc, w->nsps[i],
				    strlen(w->nsps[i]));
	}
	br_enc_uint(&w->enc, "credit", w->credit);
	br_enc_uint(&w->enc, "hb", w->hb);
	br_enc_key(&w->enc, "batch");	/* we take BATCH frames */
	msgpack_pack_true(&w->enc.pk);
	if (w->unordered) {
		br_enc_key(&w->enc, "ordered");
		msgpack_pack_false(&w->enc.pk);
	}
	rc = sg_send_now(w, g);
	g->state = SG_HELLO;
	if (rc == SIOGATE_OK) {
		g->next_hello = now + w->hb;
	} else {
		/* Not linked yet (ZMQ_IMMEDIATE): retry soon, backing off. */
		g->next_hello = now + g->hello_retry;
		g->hello_retry *= 2;
		if (g->hello_retry > w->hb)
			g->hello_retry = w->hb;
	}
	return rc;
}

/* Send a bodiless message (HEARTBEAT, BYE: BYE goes now). */
static int
sg_send_simple(struct siogate_worker *w, struct sg_gw *g, int type)
{
	br_enc_reset(&w->enc, type, 0);
	return type == BR_T_BYE ? sg_send_now(w, g) : sg_send_enc(w, g);
}

/* Return the credit owed to g. */
static int
sg_send_credit(struct siogate_worker *w, struct sg_gw *g)
{
	int rc;

	if (g->owed == 0)
		return SIOGATE_OK;
	br_enc_reset(&w->enc, BR_T_CREDIT, 1);
	br_enc_uint(&w->enc, "n", g->owed);
	if ((rc = sg_send_enc(w, g)) == SIOGATE_OK)
		g->owed = 0;
	return rc;
}

/* Answer a bad message with ERROR (never an ERROR with an ERROR). */
void
sg_send_error(struct siogate_worker *w, struct sg_gw *g, int code,
    const char *text, int ref)
{
	br_enc_reset(&w->enc, BR_T_ERROR, ref > 0 ? 3 : 2);
	br_enc_uint(&w->enc, "code", (uint64_t)code);
	br_enc_cstr(&w->enc, "text", text);
	if (ref > 0)
		br_enc_uint(&w->enc, "ref", (uint64_t)ref);
	(void)sg_send_enc(w, g);
}

/* Check the encoded frame's size, then send it to g. */
int
sg_send_checked(struct siogate_worker *w, struct sg_gw *g)
{
	if (!br_enc_failed(&w->enc) && w->enc.sb.size > BR_MAX_FRAME)
		return SIOGATE_ERR_INVALID;
	return sg_send_enc(w, g);
}

/* ---- which gateway ---- */

/* The gateway that issued sid, or NULL. */
struct sg_gw *
sg_route(struct siogate_worker *w, const char *sid, size_t n)
{
	struct sg_gw *g, *best = NULL;
	size_t i;

	/*
	 * A sid is a gateway id plus BR_SID_SUFFIX_LEN chars: an exact fit
	 * wins, so ids that prefix each other ("g1", "g12") still route
	 * right; otherwise the longest prefix.
	 */
	for (i = 0; i < w->ngws; i++) {
		g = w->gws[i];
		if (g->gwid == NULL || g->gwid_len >= n ||
		    memcmp(sid, g->gwid, g->gwid_len) != 0)
			continue;
		if (n == g->gwid_len + BR_SID_SUFFIX_LEN)
			return g;
		if (best == NULL || g->gwid_len > best->gwid_len)
			best = g;
	}
	return best;
}

/* A socket id's gateway, when it is registered and linked. */
struct sg_gw *
sg_route_live(struct siogate_worker *w, const char *id)
{
	struct sg_gw *g = sg_route(w, id, strlen(id));

	return g != NULL && g->linked ? g : NULL;
}

/*
 * A usable gateway that is a cluster node (it forwards a command for a
 * socket of a gateway this worker is not connected to), or NULL.
 */
struct sg_gw *
sg_cluster_gw(struct siogate_worker *w)
{
	size_t k;

	for (k = 0; k < w->ngws; k++)
		if (sg_usable(w->gws[k]) && w->gws[k]->cluster > 0)
			return w->gws[k];
	return NULL;
}

/* A usable gateway, a cluster node first, or NULL. */
struct sg_gw *
sg_any_gw(struct siogate_worker *w)
{
	struct sg_gw *g = sg_cluster_gw(w);
	size_t k;

	for (k = 0; g == NULL && k < w->ngws; k++)
		if (sg_usable(w->gws[k]))
			g = w->gws[k];
	return g;
}

/*
 * The gateway whose socket id s is exactly (its id plus
 * BR_SID_SUFFIX_LEN characters), or NULL: then s may be a room.
 */
struct sg_gw *
sg_id_gw(struct siogate_worker *w, const char *s)
{
	struct sg_gw *g = sg_route(w, s, strlen(s));

	return g != NULL && strlen(s) == g->gwid_len + BR_SID_SUFFIX_LEN ?
	    g : NULL;
}

/*
 * In a cluster one node, with all of its loops, carries out a broadcast,
 * a room command or a query for the whole cluster; the loops of other
 * nodes the worker is connected to would do it again.  The lead: the node
 * of the first usable cluster gateway (NULL: no cluster gateway).
 */
const char *
sg_lead_node(struct siogate_worker *w)
{
	size_t k;

	for (k = 0; k < w->ngws; k++)
		if (sg_usable(w->gws[k]) && w->gws[k]->node[0] != '\0')
			return w->gws[k]->node;
	return NULL;
}

/* ---- registration, receiving, timers ---- */

/*
 * WELCOME "bridges" (a gateway running several event loops): connect to
 * every loop not connected yet.  A tcp:// endpoint keeps the host this
 * worker reached the gateway by (the gateway may have bound a wildcard).
 */
static void
sg_connect_bridges(struct siogate_worker *w, struct sg_gw *g, const struct br_msg *m)
{
	const msgpack_object *b = br_msg_get(m, "bridges");
	char ep[512];
	uint32_t i;
	size_t k;

	if (b == NULL || b->type != MSGPACK_OBJECT_ARRAY)
		return;
	for (i = 0; i < b->via.array.size && i < 64; i++) {
		struct br_str s;
		const char *hc, *pc;
		int dup = 0;

		if (br_obj_str(&b->via.array.ptr[i], &s) < 0 || s.n == 0 || s.n >= sizeof ep ||
		    memchr(s.p, '\0', s.n) != NULL)
			continue;
		memcpy(ep, s.p, s.n);
		ep[s.n] = '\0';
		if (strncmp(ep, "tcp://", 6) == 0 && strncmp(g->endpoint, "tcp://", 6) == 0 &&
		    (pc = strrchr(ep, ':')) != NULL && (hc = strrchr(g->endpoint, ':')) != NULL &&
		    strlen(pc) < 8 && (size_t)(hc - g->endpoint) + 8 < sizeof ep) {
			char port[8];

			memcpy(port, pc, strlen(pc) + 1);
			memcpy(ep, g->endpoint, (size_t)(hc - g->endpoint));
			memcpy(ep + (hc - g->endpoint), port, strlen(port) + 1);
		}
		for (k = 0; k < w->ngws; k++)
			if (strcmp(w->gws[k]->endpoint, ep) == 0)
				dup = 1;
		if (!dup)
			(void)siogate_worker_connect(w, ep);
	}
}

/* WELCOME: registered. */
int
sg_on_welcome(struct siogate_worker *w, struct sg_gw *g,
    const struct br_msg *m, int64_t now)
{
	struct br_str gw;
	uint64_t wid = 0, hb = 0;
	struct br_str node = { NULL, 0 };
	const msgpack_object *batch;
	int changed;
	char *id;

	br_msg_str(m, "gw", &gw);
	br_msg_uint(m, "wid", &wid);
	br_msg_uint(m, "hb", &hb);
	batch = br_msg_get(m, "batch");
	if (br_msg_uint(m, "cluster", &g->cluster) < 0)
		g->cluster = 0;
	g->node[0] = '\0';
	if (g->cluster > 0 && br_msg_get(m, "node") != NULL) {
		if (br_msg_str(m, "node", &node) == 0 && node.n > 0 &&
		    node.n < sizeof g->node &&
		    memchr(node.p, '\0', node.n) == NULL) {
			memcpy(g->node, node.p, node.n);
			g->node[node.n] = '\0';
		} else {
			/* Registered all the same, as a gateway of no node. */
			sg_refuse(w, g, "WELCOME: node is not a string of 1 to "
			    "31 bytes: taken as no node", BR_T_WELCOME);
		}
	}
	/* What was batched goes out as before; then the new gateway's way. */
	(void)sg_flush(w, g);
	g->batch = batch != NULL && batch->via.boolean;
	changed = g->gwid == NULL || g->gwid_len != gw.n ||
	    memcmp(g->gwid, gw.p, gw.n) != 0;
	/* A new registration: what the old one was asked is lost. */
	if (g->gwid != NULL && (changed || wid != g->wid)) {
		g->no_sync = 0;		/* maybe upgraded: try SYNC again */
		sg_gw_lost(w, g);
		if (w->dying)
			return 0;
	}
	if (changed) {
		if ((id = malloc((size_t)gw.n + 1)) == NULL)
			return -1;	/* stay in SG_HELLO: retried */
		memcpy(id, gw.p, gw.n);
		id[gw.n] = '\0';
		free(g->gwid);
		g->gwid = id;
		g->gwid_len = gw.n;
	}
	g->wid = wid;
	g->peer_hb = hb == 0 ? BR_DEFAULT_HB_MS :
	    hb > SG_HB_MAX ? SG_HB_MAX : (int64_t)hb;
	g->reject_retry = w->hb;
	g->hello_retry = SG_HELLO_RETRY_MIN;
	g->linked = 1;
	g->last_recv = now;
	if (g->state == SG_READY && !changed)
		return 0;	/* a repeated WELCOME */
	g->state = SG_READY;
	sg_connect_bridges(w, g, m);
	if (w->cb.welcome != NULL)
		w->cb.welcome(w, g->gwid, w->ud);
	return 0;
}

/* Read monitor events of g: track the link.  Returns events read. */
int
sg_drain_monitor(struct siogate_worker *w, struct sg_gw *g)
{
	zmq_msg_t msg;
	uint16_t ev;
	int n = 0, more;

	for (;;) {
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, g->mon, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&msg);
			if (errno == EINTR)
				continue;
			return n;
		}
		ev = 0;
		if (zmq_msg_size(&msg) >= 2)
			memcpy(&ev, zmq_msg_data(&msg), sizeof ev);
		more = zmq_msg_more(&msg);
		zmq_msg_close(&msg);
		while (more) {	/* the endpoint frame */
			zmq_msg_init(&msg);
			if (zmq_msg_recv(&msg, g->mon, 0) < 0) {
				zmq_msg_close(&msg);
				if (errno == EINTR)
					continue;
				break;
			}
			more = zmq_msg_more(&msg);
			zmq_msg_close(&msg);
		}
		n++;
		if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
			/* A fresh link: the gateway may be new, say HELLO. */
			g->linked = 1;
			g->hello_retry = SG_HELLO_RETRY_MIN;
			sg_send_hello(w, g, sg_now());
		} else if (ev == ZMQ_EVENT_DISCONNECTED) {
			g->linked = 0;
			g->state = SG_HELLO;
			g->hello_retry = SG_HELLO_RETRY_MIN;
			g->next_hello = sg_now() + w->hb;
			/* A ROUTER drops what it sends while we are away. */
			sg_gw_lost(w, g);
			if (w->dying)
				return n;
		}
	}
}

/*
 * Read up to *budget messages from g, returning credit on the way.
 * Returns the number read; a receive error is noted in w->sys_err.
 */
int
sg_drain(struct siogate_worker *w, struct sg_gw *g, int *budget)
{
	zmq_msg_t msg;
	int n = 0, more;
	uint64_t half = w->credit / 2 ? w->credit / 2 : 1;

	while (*budget > 0 && !w->dying) {
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, g->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&msg);
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				w->sys_err = SIOGATE_ERR_ZMQ;
			break;
		}
		(*budget)--;
		n++;
		if (zmq_msg_more(&msg)) {
			/* One frame per message: drop the rest, answer once. */
			do {
				zmq_msg_close(&msg);
				zmq_msg_init(&msg);
				if (zmq_msg_recv(&msg, g->sock, 0) < 0)
					break;
				more = zmq_msg_more(&msg);
			} while (more);
			zmq_msg_close(&msg);
			sg_send_error(w, g, BR_E_BAD_MESSAGE,
			    "a message must be one frame", 0);
			w->proto_err = 1;
			continue;
		}
		sg_handle(w, g, zmq_msg_data(&msg), zmq_msg_size(&msg), 0);
		zmq_msg_close(&msg);
		/* Keep the gateway's pipe full during long batches. */
		if (g->owed >= half)
			(void)sg_send_credit(w, g);
	}
	return n;
}

/* Heartbeats, HELLO retries, dead gateways, unsent credit. */
void
sg_timers(struct siogate_worker *w, int64_t now)
{
	struct sg_gw *g;
	size_t i;

	for (i = 0; i < w->ngws && !w->dying; i++) {
		g = w->gws[i];
		if (g->owed > 0)
			(void)sg_send_credit(w, g);
		if (g->state != SG_READY) {
			if (now >= g->next_hello)
				sg_send_hello(w, g, now);
			continue;
		}
		if (now - g->last_recv >= BR_DEAD_AFTER_MISSED * g->peer_hb) {
			/* Silent gateway: register again (DEALER reconnects). */
			g->hello_retry = SG_HELLO_RETRY_MIN;
			sg_send_hello(w, g, now);
			sg_gw_lost(w, g);
			continue;
		}
		/* A full queue (AGAIN) is retried in hb ms, not in a spin. */
		if (now - g->last_sent >= (int64_t)w->hb &&
		    sg_send_simple(w, g, BR_T_HEARTBEAT) != SIOGATE_OK)
			g->last_sent = now;
	}
	if (!w->dying)
		sg_waits_expire(w, now);
}

/* ---- connect and close ---- */

/* Close and free one gateway (BYE first when say_bye and linked). */
void
sg_gw_free(struct siogate_worker *w, struct sg_gw *g, int say_bye)
{
	int linger = 0;

	if (g == NULL)
		return;
	if (g->sock != NULL) {
		if (say_bye && g->linked) {
			linger = SG_BYE_LINGER;
			zmq_setsockopt(g->sock, ZMQ_LINGER, &linger,
			    sizeof linger);
			(void)sg_send_simple(w, g, BR_T_BYE);
		}
		zmq_socket_monitor(g->sock, NULL, 0);
		zmq_close(g->sock);
	}
	if (g->mon != NULL)
		zmq_close(g->mon);
	br_batch_free(&g->out);
	free(g->endpoint);
	free(g->gwid);
	free(g);
}

/* 16 random bytes for a routing id (never starting with a zero byte). */
static void
sg_routing_id(unsigned char *id, size_t n, const void *salt)
{
	struct timespec ts;
	size_t i, got = 0;
	ssize_t r;
	uint64_t x;

	while (got < n) {
		r = getrandom(id + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < n) {
		/* No kernel randomness: unique enough for a routing id. */
		clock_gettime(CLOCK_REALTIME, &ts);
		x = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 20 ^
		    (uint64_t)getpid() << 40 ^ (uint64_t)(uintptr_t)salt;
		for (i = got; i < n; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			id[i] = (unsigned char)(x >> 56);
		}
	}
	if (id[0] == 0)
		id[0] = 1;	/* ids starting with 0 are reserved by ZeroMQ */
}

/* Gateway connections that have not said WELCOME (yet, or again). */
int
siogate_worker_pending(const struct siogate_worker *w)
{
	size_t i;
	int n = 0;

	if (w == NULL)
		return SIOGATE_ERR_INVALID;
	for (i = 0; i < w->ngws; i++)
		if (w->gws[i]->state != SG_READY)
			n++;
	return n;
}

/* Connect a DEALER to endpoint and say HELLO. */
int
siogate_worker_connect(struct siogate_worker *w, const char *endpoint)
{
	struct sg_gw *g = NULL, **gws;
	struct epoll_event ev;
	unsigned char rid[16];
	char monaddr[64];
	int64_t maxmsg = BR_MAX_FRAME;
	int one = 1, zero = 0, fd, rc = SIOGATE_ERR_ZMQ, err;
	size_t i, sz;

	if (w == NULL || w->dying)
		return SIOGATE_ERR_INVALID;
	if (endpoint == NULL && (endpoint = getenv("SIOGATE_ENDPOINT")) ==
	    NULL)
		endpoint = SIOGATE_DEFAULT_ENDPOINT;
	if (*endpoint == '\0')
		return SIOGATE_ERR_INVALID;
	for (i = 0; i < w->ngws; i++)
		if (strcmp(w->gws[i]->endpoint, endpoint) == 0)
			return SIOGATE_ERR_INVALID;
	if ((g = calloc(1, sizeof *g)) == NULL)
		return SIOGATE_ERR_NOMEM;
	g->state = SG_HELLO;
	g->hello_retry = SG_HELLO_RETRY_MIN;
	g->reject_retry = w->hb;
	g->peer_hb = BR_DEFAULT_HB_MS;
	if ((g->endpoint = strdup(endpoint)) == NULL) {
		rc = SIOGATE_ERR_NOMEM;
		goto fail;
	}
	if ((g->sock = zmq_socket(w->zctx, ZMQ_DEALER)) == NULL)
		goto fail;
	sg_routing_id(rid, sizeof rid, g);
	if (zmq_setsockopt(g->sock, ZMQ_ROUTING_ID, rid, sizeof rid) == -1 ||
	    zmq_setsockopt(g->sock, ZMQ_LINGER, &zero, sizeof zero) == -1 ||
	    zmq_setsockopt(g->sock, ZMQ_IMMEDIATE, &one, sizeof one) == -1 ||
	    zmq_setsockopt(g->sock, ZMQ_MAXMSGSIZE, &maxmsg,
	    sizeof maxmsg) == -1)
		goto fail;
	if (w->curve_server[0] == '\0' && getenv("SIOGATE_CURVE_SERVERKEY") != NULL &&
	    siogate_worker_set_curve(w, NULL, NULL, NULL) != SIOGATE_OK)
		goto fail;
	if (w->curve_server[0] != '\0' &&
	    (zmq_setsockopt(g->sock, ZMQ_CURVE_SERVERKEY, w->curve_server, 40) == -1 ||
	    zmq_setsockopt(g->sock, ZMQ_CURVE_PUBLICKEY, w->curve_public, 40) == -1 ||
	    zmq_setsockopt(g->sock, ZMQ_CURVE_SECRETKEY, w->curve_secret, 40) == -1))
		goto fail;
	snprintf(monaddr, sizeof monaddr, "inproc://siogate-mon-%p-%u",
	    (void *)w, w->mon_seq++);
	if (zmq_socket_monitor(g->sock, monaddr, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
	    ZMQ_EVENT_DISCONNECTED) == -1)
		goto fail;
	if ((g->mon = zmq_socket(w->zctx, ZMQ_PAIR)) == NULL)
		goto fail;
	if (zmq_setsockopt(g->mon, ZMQ_LINGER, &zero, sizeof zero) == -1 ||
	    zmq_connect(g->mon, monaddr) == -1)
		goto fail;
	if (zmq_connect(g->sock, endpoint) == -1)
		goto fail;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	sz = sizeof fd;
	if (zmq_getsockopt(g->sock, ZMQ_FD, &fd, &sz) == -1 ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		goto fail;
	sz = sizeof fd;
	if (zmq_getsockopt(g->mon, ZMQ_FD, &fd, &sz) == -1 ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		goto fail;
	if ((gws = realloc(w->gws, (w->ngws + 1) * sizeof *gws)) == NULL) {
		rc = SIOGATE_ERR_NOMEM;
		goto fail;
	}
	w->gws = gws;
	w->gws[w->ngws++] = g;
	w->frozen = 1;
	/* Usually not linked yet: HELLO then goes out on the monitor event. */
	sg_send_hello(w, g, sg_now());
	if (!w->in_process)
		sg_poke(w);	/* let the caller's loop run the timers */
	return SIOGATE_OK;
fail:
	err = errno;
	if (g->sock != NULL) {
		sz = sizeof fd;
		if (zmq_getsockopt(g->sock, ZMQ_FD, &fd, &sz) == 0)
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
	}
	if (g->mon != NULL) {
		sz = sizeof fd;
		if (zmq_getsockopt(g->mon, ZMQ_FD, &fd, &sz) == 0)
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
	}
	sg_gw_free(w, g, 0);
	errno = err;
	return rc;
}
