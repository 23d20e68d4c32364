/*
 * gw_bridge.c: the gateway's ROUTER socket and its workers.
 *
 * ZeroMQ joins the libev loop through ZMQ_FD, which is edge-triggered: the
 * prepare step drains the socket until ZMQ_EVENTS shows no POLLIN, and
 * checks again after sending (a send can consume the edge), so the loop
 * never sleeps with a message waiting.
 *
 * Workers are addressed by their routing id and known by a small id.
 * Every event sent to a worker uses one credit; without credit, events wait
 * in that worker's backlog (bound: conf.max_backlog events; past it the
 * session whose event does not fit is closed and logged).  A pending
 * SIO_CONNECT/SIO_EVENT marked hold keeps its socket's next events back
 * (sio_socket.c): whatever takes it out of the queues for good (CREDIT,
 * expiry, a worker's loss without redelivery, a new HELLO) releases it.
 */
#include <errno.h>
#include <unistd.h>

#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "br_proto.h"
#include "eio_session.h"
#include "gw_bridge.h"
#include "gw_cluster.h"
#include "sio.h"

#define GW_DRAIN_BUDGET 1024
/* A worker's batch goes out early from this size... */
#define GW_BATCH_FLUSH (256u * 1024)
/* ...and, while ZeroMQ refuses it (EAGAIN), takes no more than this. */
#define GW_BATCH_MAX (16u * 1024 * 1024)
/*
 * Batch buffers above this size are not kept between turns.  Twice the early
 * flush size: a buffer grown past GW_BATCH_FLUSH (it doubles) is kept, not
 * freed and grown again from scratch on every flush of a busy turn.
 */
#define GW_BATCH_KEEP (2 * GW_BATCH_FLUSH)

static void bridge_drop_worker(struct gw *gw, struct gw_worker *w, const char *why);
static void bridge_enc_query(struct br_enc *e, const struct http_req *req);
static void bridge_expire(struct gw *gw, struct gw_worker *w, ev_tstamp now);
static void bridge_zap_drain(struct gw *gw);
static struct gw_worker *bridge_find_rid(struct gw_bridge *br, const void *rid, size_t n);
struct gw_worker *bridge_pick(struct gw *gw, const struct gw_endpoint *ep);

/* Send one frame to a routing id; 0, or -1 with errno. */
static int
bridge_send_raw(struct gw_bridge *br, const unsigned char *rid, size_t rid_len,
    const void *p, size_t n)
{
	br->sent = 1;
	if (zmq_send(br->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -1;
	if (zmq_send(br->router, p, n, ZMQ_DONTWAIT) < 0)
		return -1;
	return 0;
}

/*
 * Send what was batched for w this turn, as one frame (a lone message goes
 * without the BATCH wrapper).  0 when sent or empty; -1 with errno.  On
 * EAGAIN the batch is kept and tried again at the next turn; on another
 * error the worker is unreachable and dropped at the next turn.
 */
static int
bridge_flush(struct gw *gw, struct gw_worker *w)
{
	const char *p;
	size_t n;

	if (w->out.n == 0)
		return 0;
	br_batch_frame(&w->out, &p, &n);
	if (bridge_send_raw(gw->br, w->rid, w->rid_len, p, n) < 0) {
		if (errno == EAGAIN)
			return -1;
		w->dead = 1;
		gw_wake(gw);
	}
	br_batch_reset(&w->out);
	if (w->out.cap > GW_BATCH_KEEP)
		br_batch_free(&w->out);
	return 0;
}

/*
 * Send one message to a registered worker: straight out, or into its batch
 * for this turn when it takes BATCH (everything to one worker goes the
 * same way, so the order is kept).  0, or -1 with errno.
 */
static int
bridge_send_w(struct gw *gw, struct gw_worker *w, const void *p, size_t n)
{
	if (!w->batch)
		return bridge_send_raw(gw->br, w->rid, w->rid_len, p, n);
	if (w->out.len >= GW_BATCH_MAX && bridge_flush(gw, w) < 0)
		return -1;	/* EAGAIN: the caller keeps it or drops it, as unbatched */
	if (br_batch_add(&w->out, p, n) < 0) {
		errno = ENOMEM;
		return -1;
	}
	if (w->out.len >= GW_BATCH_FLUSH)
		(void)bridge_flush(gw, w);
	return 0;
}

/* Send an encoded control message (no credit) to a peer. */
static void
bridge_send_ctl(struct gw *gw, const unsigned char *rid, size_t rid_len, struct br_enc *e)
{
	struct gw_worker *w = bridge_find_rid(gw->br, rid, rid_len);
	int rc;

	rc = w != NULL ? bridge_send_w(gw, w, e->sb.data, e->sb.size) :
	    bridge_send_raw(gw->br, rid, rid_len, e->sb.data, e->sb.size);
	if (rc < 0)
		gw_debug("bridge: send to a peer failed: %s", zmq_strerror(errno));
	br_enc_free(e);
}

/* Reply ERROR {code, text, ref, [sid]} to a peer. */
static void
bridge_error(struct gw *gw, const unsigned char *rid, size_t rid_len, int code,
    const char *text, int ref, const char *sid, size_t sidlen)
{
	struct br_enc e;

	gw->st.err_worker_msg++;
	br_enc_init(&e, BR_T_ERROR, 3 + (sid != NULL));
	br_enc_uint(&e, "code", (uint64_t)code);
	br_enc_cstr(&e, "text", text);
	br_enc_uint(&e, "ref", (uint64_t)(ref > 0 ? ref : 0));
	if (sid != NULL)
		br_enc_str(&e, "sid", sid, sidlen);
	bridge_send_ctl(gw, rid, rid_len, &e);
}

/* The worker with this routing id, or NULL. */
static struct gw_worker *
bridge_find_rid(struct gw_bridge *br, const void *rid, size_t n)
{
	struct gw_worker *w;

	for (w = br->workers; w != NULL; w = w->next) {
		if (w->rid_len == n && memcmp(w->rid, rid, n) == 0)
			return w;
	}
	return NULL;
}

/* The worker with this id, or NULL. */
static struct gw_worker *
bridge_find_id(struct gw_bridge *br, uint32_t id)
{
	struct gw_worker *w;

	for (w = br->workers; w != NULL; w = w->next) {
		if (w->id == id)
			return w;
	}
	return NULL;
}

/* A new slot at the back of a queue. */
static struct gw_pending *
pq_push(struct gw_pq *q)
{
	if (q->n == q->cap) {
		uint32_t cap = q->cap ? q->cap * 2 : 16, i;
		struct gw_pending *nv = gw_xmalloc(cap * sizeof *nv);

		for (i = 0; i < q->n; i++)
			nv[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = nv;
		q->head = 0;
		q->cap = cap;
	}
	return &q->v[(q->head + q->n++) % q->cap];
}

/* The i-th entry from the front. */
static struct gw_pending *
pq_at(struct gw_pq *q, uint32_t i)
{
	return &q->v[(q->head + i) % q->cap];
}

/* Remove the front entry (its buffer is the caller's now). */
static struct gw_pending
pq_take(struct gw_pq *q)
{
	struct gw_pending p = q->v[q->head];

	q->head = (q->head + 1) % q->cap;
	q->n--;
	return p;
}

/* Drop everything and free the ring. */
static void
pq_clear(struct gw_pq *q)
{
	while (q->n > 0)
		gw_buf_unref(pq_take(q).b);
	free(q->v);
	memset(q, 0, sizeof *q);
}

/* Record an event in a queue. */
static void
pq_add(struct gw_pq *q, struct gw_buf *b, ev_tstamp t, const struct gw_evmeta *meta)
{
	struct gw_pending *p = pq_push(q);

	p->b = b;
	p->t = meta != NULL && meta->t > 0 ? meta->t : t;
	p->type = (uint8_t)(meta ? meta->type : 0);
	p->hold = (uint8_t)(meta != NULL && meta->hold);
	p->ack1 = meta ? meta->ack1 : 0;
	p->id[0] = '\0';
	if (meta != NULL && meta->id != NULL)
		snprintf(p->id, sizeof p->id, "%s", meta->id);
}

/* Send queued events while the worker has credit; they move to in flight. */
static void
bridge_flush_backlog(struct gw *gw, struct gw_worker *w)
{
	while (w->backlog.n > 0 && w->credit > 0) {
		struct gw_pending *p = pq_at(&w->backlog, 0);

		if (bridge_send_w(gw, w, p->b->data, p->b->len) < 0) {
			if (errno != EAGAIN) {
				w->dead = 1;
				gw_wake(gw);
			}
			return;
		}
		*pq_push(&w->inflight) = pq_take(&w->backlog);
		w->credit--;
		w->last_tx = ev_now(gw->loop);
	}
}

/*
 * Send one event to a worker, or queue it without credit.  Returns -1 when
 * the backlog is full (the caller decides what to close); force skips the
 * bound (close events: at most one per session).  A sent event stays in
 * flight until CREDIT pays it back, for redelivery.
 */
static int
bridge_send_bytes(struct gw *gw, struct gw_worker *w, const char *p, size_t n, int force,
    const struct gw_evmeta *meta)
{
	ev_tstamp now = ev_now(gw->loop);

	if (w->backlog.n == 0 && w->credit > 0) {
		if (bridge_send_w(gw, w, p, n) == 0) {
			w->credit--;
			w->last_tx = now;
			pq_add(&w->inflight, gw_buf_from(p, n), now, meta);
			return 0;
		}
		if (errno != EAGAIN) {
			/* Gone (ROUTER_MANDATORY): drop it at the next turn, not under the caller. */
			w->dead = 1;
			gw_wake(gw);
		}
	}
	if (w->backlog.n >= gw->conf.max_backlog && !force)
		return -1;
	pq_add(&w->backlog, gw_buf_from(p, n), now, meta);
	return 0;
}

static int
bridge_send_event(struct gw *gw, struct gw_worker *w, struct br_enc *e, int force,
    const struct gw_evmeta *meta)
{
	int rc = bridge_send_bytes(gw, w, e->sb.data, e->sb.size, force, meta);

	br_enc_free(e);
	return rc;
}

/* A copy of an encoded message with "redelivered": true added (fixmap only). */
static struct gw_buf *
bridge_redelivered(const struct gw_buf *b)
{
	static const char key[] = "\xabredelivered\xc3";	/* fixstr(11) "redelivered", true */
	unsigned char h = (unsigned char)b->data[0];
	struct gw_buf *n;

	if ((h & 0xf0) != 0x80 || (h & 0x0f) == 15)
		return gw_buf_ref((struct gw_buf *)b);
	n = gw_buf_new(b->len + sizeof key - 1);
	memcpy(n->data, b->data, b->len);
	n->data[0] = (char)(h + 1);
	memcpy(n->data + b->len, key, sizeof key - 1);
	return n;
}

/* Whether a namespace is configured at-most-once (no redelivery). */
static int
bridge_at_most_once(struct gw *gw, const char *nsp, size_t n)
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
 * Redeliver one pending event of a lost worker to the new owner of its
 * socket or session, marked "redelivered" (at-least-once).  Events of
 * sockets left without a worker, or of at-most-once namespaces, get an
 * error ack when the client asked for one.  Returns 1 when the event went
 * on to the new worker (a hold goes with it), 0 when it ends here.
 */
static int
bridge_redeliver(struct gw *gw, struct gw_pending *p)
{
	struct gw_worker *nw = NULL;
	struct sio_socket *so = NULL;
	struct eio_session *s = NULL;
	struct gw_evmeta meta = { p->type, p->id, p->ack1, p->hold, p->t };
	struct gw_buf *b;

	if (p->b == NULL)
		return 0;	/* already answered */
	switch (p->type) {
	case BR_T_SIO_EVENT:
	case BR_T_SIO_CONNECT:
		so = sio_socket_find(gw, p->id, strlen(p->id));
		if (so == NULL)
			return 0;
		nw = gw_bridge_find_worker(gw, so->worker);
		if (p->type == BR_T_SIO_CONNECT) {
			if (nw != NULL && so->state == SIO_S_CONNECTING) {
				so->reconnect_sent = 1;
				break;
			}
			return 0;
		}
		if (nw == NULL || so->state != SIO_S_CONNECTED ||
		    bridge_at_most_once(gw, so->nsp->name, so->nsp->nlen)) {
			if (p->ack1 != 0)
				sio_error_ack(gw, p->id, p->ack1 - 1, "ENOWORKER",
				    "the worker handling the event was lost");
			return 0;
		}
		break;
	case BR_T_EIO_MESSAGE:
		s = eio_session_find(gw, p->id);
		if (s == NULL || s->state == EIO_S_CLOSED)
			return 0;
		nw = gw_bridge_find_worker(gw, s->worker);
		if (nw == NULL)
			return 0;
		break;
	default:
		return 0;	/* opens, closes and ack replies are not redelivered */
	}
	b = bridge_redelivered(p->b);
	bridge_send_bytes(gw, nw, b->data, b->len, 1, &meta);
	gw_buf_unref(b);
	return 1;
}

/* A pending event left the queues for good: its socket's next events may go. */
static void
bridge_release(struct gw *gw, struct gw_pending *p)
{
	if (p->hold) {
		p->hold = 0;
		sio_socket_release(gw, p->id);
	}
}

/* Give a lost worker's raw sessions to another worker of their endpoint. */
static void
bridge_rehome_sessions(struct gw *gw, uint32_t dead)
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
			nw = bridge_pick(gw, s->ep);
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
			bridge_send_event(gw, nw, &e, 1, &meta);
		}
	}
}

/*
 * CREDIT n: the n oldest events in flight are done.  A socket released
 * here may send its next event to w at once (it joins the queues' tails,
 * after the n counted first).
 */
static void
bridge_paid(struct gw *gw, struct gw_worker *w, uint64_t n)
{
	uint64_t k = n < w->inflight.n ? n : w->inflight.n;

	while (k-- > 0) {
		struct gw_pending p = pq_take(&w->inflight);

		gw_buf_unref(p.b);
		bridge_release(gw, &p);
	}
}

/* A worker acked a client event: it will not be redelivered. */
void
gw_bridge_event_done(struct gw_worker *w, const char *id, size_t idlen, uint64_t ack)
{
	uint32_t i;

	if (w == NULL)
		return;

	for (i = 0; i < w->inflight.n; i++) {
		struct gw_pending *p = pq_at(&w->inflight, i);

		if (p->b != NULL && p->ack1 == ack + 1 && strlen(p->id) == idlen &&
		    memcmp(p->id, id, idlen) == 0) {
			gw_buf_unref(p->b);
			p->b = NULL;
			return;
		}
	}
}

/* Free a worker's namespace list. */
static void
bridge_free_nsp(struct gw_worker *w)
{
	uint32_t i;

	for (i = 0; i < w->nnsp; i++)
		free(w->nsp[i]);
	free(w->nsp);
	w->nsp = NULL;
	w->nnsp = 0;
	w->nsp_open = 0;
}

/* Forget a worker: close its sessions, free it. */
static void
bridge_drop_worker(struct gw *gw, struct gw_worker *w, const char *why)
{
	struct gw_bridge *br = gw->br;
	struct gw_worker **pp;
	uint32_t i;

	for (pp = &br->workers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	gw_warn("worker %u (%s) dropped: %s; moving its %u session(s)/socket(s), %u event(s) in "
	    "flight and %u waiting", w->id, w->name, why, w->nsess, w->inflight.n, w->backlog.n);
	gw->st.workers_lost++;
	/* 1. New owners: other workers of the same endpoint or namespace. */
	bridge_rehome_sessions(gw, w->id);
	sio_rehome(gw, w->id);
	/* 2. Its unfinished events, in order, to the new owners. */
	for (i = 0; i < w->inflight.n; i++) {
		gw_debug("in flight %u: type %d id %s ack1 %llu %s", i, pq_at(&w->inflight, i)->type,
		    pq_at(&w->inflight, i)->id, (unsigned long long)pq_at(&w->inflight, i)->ack1,
		    pq_at(&w->inflight, i)->b ? "" : "(done)");
		if (bridge_redeliver(gw, pq_at(&w->inflight, i)))
			pq_at(&w->inflight, i)->hold = 0;	/* it went on with the event */
		bridge_release(gw, pq_at(&w->inflight, i));
	}
	for (i = 0; i < w->backlog.n; i++) {
		if (bridge_redeliver(gw, pq_at(&w->backlog, i)))
			pq_at(&w->backlog, i)->hold = 0;
		bridge_release(gw, pq_at(&w->backlog, i));
	}
	/* 3. What found no new owner is closed; clients reconnect. */
	for (i = 0; gw->sess_tab != NULL && i <= gw->sess_mask; i++) {
		struct eio_session *s = gw->sess_tab[i], *next;

		for (; s != NULL; s = next) {
			next = s->hnext;
			if (s->ep->kind == GW_EP_RAW && s->worker == 0 && s->state != EIO_S_CLOSED)
				eio_session_close_later(s, "worker gone");
		}
	}
	sio_close_orphans(gw);
	pq_clear(&w->backlog);
	pq_clear(&w->inflight);
	br_batch_free(&w->out);
	bridge_free_nsp(w);
	free(w);
}

/* Bit of a raw endpoint served by path, -1 if the path is no raw endpoint. */
static int
bridge_ep_bit(struct gw *gw, const char *p, size_t n)
{
	int i;

	for (i = 0; i < gw->conf.nep; i++) {
		const struct gw_endpoint *ep = &gw->conf.ep[i];

		if (ep->kind != GW_EP_RAW)
			continue;
		if ((n == ep->plen && memcmp(p, ep->path, n) == 0) ||
		    (n + 1 == ep->plen && memcmp(p, ep->path, n) == 0))
			return i;
	}
	return -1;
}

/* HELLO: register (or re-register) a worker. */
static void
bridge_hello(struct gw *gw, const unsigned char *rid, size_t rid_len, struct br_msg *m)
{
	struct gw_bridge *br = gw->br;
	struct gw_worker *w;
	const msgpack_object *eio = br_msg_get(m, "eio");
	struct br_str name = { "", 0 };
	const msgpack_object *nsp, *nsp_open, *batch = br_msg_get(m, "batch");
	const msgpack_object *ordered = br_msg_get(m, "ordered");
	uint64_t credit = BR_DEFAULT_CREDIT, hb = BR_DEFAULT_HB_MS;
	uint32_t mask = 0, i, n0;
	char paths[512] = "";
	struct br_enc e;

	if (br_msg_get(m, "name") != NULL && br_msg_str(m, "name", &name) < 0)
		goto bad;
	if (br_msg_get(m, "credit") != NULL && br_msg_uint(m, "credit", &credit) < 0)
		goto bad;
	if (br_msg_get(m, "hb") != NULL && (br_msg_uint(m, "hb", &hb) < 0 || hb < 10 ||
	    hb > 3600000))
		goto bad;
	if (eio != NULL && eio->type != MSGPACK_OBJECT_NIL) {
		if (eio->type != MSGPACK_OBJECT_ARRAY)
			goto bad;
		for (i = 0; i < eio->via.array.size; i++) {
			struct br_str p;
			int bit;

			if (br_obj_str(&eio->via.array.ptr[i], &p) < 0)
				goto bad;
			bit = bridge_ep_bit(gw, p.p, p.n);
			if (bit < 0) {
				char esc[128], text[200];

				snprintf(text, sizeof text, "no raw Engine.IO endpoint at %s",
				    gw_log_escape(esc, sizeof esc, p.p, p.n));
				bridge_error(gw, rid, rid_len, BR_E_NOT_SERVED, text, BR_T_HELLO, NULL, 0);
				gw_warn("bridge: HELLO refused: %s", text);
				return;
			}
			mask |= 1u << bit;
			snprintf(paths + strlen(paths), sizeof paths - strlen(paths), " %s",
			    gw->conf.ep[bit].path);
		}
	}
	nsp = br_msg_get(m, "nsp");
	nsp_open = br_msg_get(m, "nsp_open");
	if (nsp != NULL && (nsp->type != MSGPACK_OBJECT_ARRAY || nsp->via.array.size > 64))
		goto bad;
	if (nsp_open != NULL && nsp_open->type != MSGPACK_OBJECT_ARRAY)
		goto bad;
	if (batch != NULL && batch->type != MSGPACK_OBJECT_BOOLEAN)
		goto bad;
	if (ordered != NULL && ordered->type != MSGPACK_OBJECT_BOOLEAN)
		goto bad;
	for (i = 0; nsp != NULL && i < nsp->via.array.size; i++) {
		struct br_str p;

		if (br_obj_str(&nsp->via.array.ptr[i], &p) < 0 || p.n == 0 || p.n > 255 ||
		    (p.p[0] != '/' && !(p.n == 1 && p.p[0] == '*')))
			goto bad;
	}
	for (i = 0; nsp_open != NULL && i < nsp_open->via.array.size; i++) {
		struct br_str p;

		if (br_obj_str(&nsp_open->via.array.ptr[i], &p) < 0)
			goto bad;
	}
	if (credit > 1000000)
		credit = 1000000;
	w = bridge_find_rid(br, rid, rid_len);
	if (w == NULL) {
		w = gw_xcalloc(1, sizeof *w);
		w->id = ++br->next_wid;
		w->rid_len = (uint8_t)rid_len;
		memcpy(w->rid, rid, rid_len);
		w->next = br->workers;
		br->workers = w;
	}
	gw_log_escape(w->name, sizeof w->name, name.p, name.n);
	/* What was batched under the old registration goes first, as it was. */
	(void)bridge_flush(gw, w);
	if (w->out.n > 0) {
		gw_warn("worker %u (%s): %u message(s) dropped at its new HELLO (ZeroMQ queue full)",
		    w->id, w->name, w->out.n);
		br_batch_reset(&w->out);
	}
	w->batch = batch != NULL && batch->via.boolean;
	w->unordered = ordered != NULL && !ordered->via.boolean;
	w->eio_mask = mask;
	bridge_free_nsp(w);
	if (nsp != NULL && nsp->via.array.size > 0) {
		w->nsp = gw_xcalloc(nsp->via.array.size, sizeof *w->nsp);
		for (i = 0; i < nsp->via.array.size; i++) {
			struct br_str p;
			uint32_t j;

			br_obj_str(&nsp->via.array.ptr[i], &p);
			w->nsp[w->nnsp] = gw_xstrndup(p.p, p.n);
			for (j = 0; nsp_open != NULL && j < nsp_open->via.array.size; j++) {
				struct br_str o;

				br_obj_str(&nsp_open->via.array.ptr[j], &o);
				if (o.n == p.n && memcmp(o.p, p.p, p.n) == 0 && w->nnsp < 64)
					w->nsp_open |= 1ull << w->nnsp;
			}
			w->nnsp++;
			snprintf(paths + strlen(paths), sizeof paths - strlen(paths), " %s%s",
			    w->nsp[w->nnsp - 1], (w->nsp_open >> (w->nnsp - 1)) & 1 ? "(open)" : "");
		}
	}
	w->credit = (uint32_t)credit;
	w->hb_ms = (uint32_t)hb;
	w->last_rx = ev_now(gw->loop);
	gw_info("worker %u (%s) registered: serves%s credit %u heartbeat %u ms%s%s", w->id,
	    w->name[0] ? w->name : "unnamed", paths[0] ? paths : " none", w->credit, w->hb_ms,
	    w->batch ? " batch" : "", w->unordered ? " unordered" : "");
	br_enc_init(&e, BR_T_WELCOME, (gw->sh->n > 1 ? 5 : 4) + 2 * gw_cluster_on(gw));
	br_enc_cstr(&e, "gw", gw->id);
	br_enc_uint(&e, "wid", w->id);
	br_enc_uint(&e, "hb", gw->conf.bridge_hb);
	br_enc_key(&e, "batch");	/* this gateway takes BATCH frames */
	msgpack_pack_true(&e.pk);
	if (gw_cluster_on(gw)) {
		/* Clustered: its request timeout, and the node its loops share. */
		br_enc_uint(&e, "cluster", gw->conf.cluster_request_timeout);
		br_enc_str(&e, "node", gw->id, gw->sh->n > 1 ? 3 : strlen(gw->id));
	}
	if (gw->sh->n > 1) {
		/* threads = N: every loop's bridge, to connect to all of them. */
		int i;

		br_enc_array(&e, "bridges", (uint32_t)gw->sh->n);
		for (i = 0; i < gw->sh->n; i++)
			br_enc_item_str(&e, gw->sh->bridges[i], strlen(gw->sh->bridges[i]));
	}
	bridge_send_ctl(gw, rid, rid_len, &e);
	w->last_tx = ev_now(gw->loop);
	/*
	 * A HELLO resets the window: the CREDIT for what is in flight may
	 * have been lost with the connection, so no socket waits for it any
	 * more (the events stay in flight, for redelivery).
	 */
	n0 = w->inflight.n;	/* what a release sends joins the tail */
	for (i = 0; i < n0; i++)
		bridge_release(gw, pq_at(&w->inflight, i));
	bridge_flush_backlog(gw, w);
	return;
bad:
	bridge_error(gw, rid, rid_len, BR_E_BAD_MESSAGE, "malformed HELLO", BR_T_HELLO, NULL, 0);
}

/* Resolve a sid given by a worker; answers UNKNOWN_SID when gone. */
static struct eio_session *
bridge_session(struct gw *gw, struct gw_worker *w, const struct br_str *sid, int ref)
{
	char buf[EIO_SID_LEN + 8];
	struct eio_session *s = NULL;

	if (sid->n < sizeof buf) {
		memcpy(buf, sid->p, sid->n);
		buf[sid->n] = '\0';
		s = eio_session_find(gw, buf);
	}
	if (s == NULL)
		bridge_error(gw, w->rid, w->rid_len, BR_E_UNKNOWN_SID, "no such session", ref,
		    sid->p, sid->n < 64 ? sid->n : 64);
	return s;
}

/* EIO_SEND: one message to one or many sessions, encoded once. */
static void
bridge_eio_send(struct gw *gw, struct gw_worker *w, struct br_msg *m)
{
	struct br_str sid, data;
	const msgpack_object *sids = br_msg_get(m, "sids");
	int binary;
	struct gw_buf *pkt;
	uint32_t i;

	if (br_msg_data(m, "data", &data, &binary) < 0 ||
	    (br_msg_str(m, "sid", &sid) < 0 && (sids == NULL || sids->type != MSGPACK_OBJECT_ARRAY))) {
		bridge_error(gw, w->rid, w->rid_len, BR_E_BAD_MESSAGE,
		    "EIO_SEND needs data and sid or sids", BR_T_EIO_SEND, NULL, 0);
		return;
	}
	if (data.n > gw->conf.max_payload) {
		bridge_error(gw, w->rid, w->rid_len, BR_E_TOO_LARGE, "data larger than maxPayload",
		    BR_T_EIO_SEND, NULL, 0);
		return;
	}
	pkt = eio_pkt_new(EIO_MESSAGE, data.p, data.n, binary);
	if (br_msg_str(m, "sid", &sid) == 0) {
		struct eio_session *s = bridge_session(gw, w, &sid, BR_T_EIO_SEND);

		if (s != NULL)
			eio_session_send(s, pkt);
	} else {
		for (i = 0; i < sids->via.array.size; i++) {
			struct eio_session *s;

			if (br_obj_str(&sids->via.array.ptr[i], &sid) < 0)
				continue;
			if ((s = bridge_session(gw, w, &sid, BR_T_EIO_SEND)) != NULL)
				eio_session_send(s, pkt);
		}
	}
	gw_buf_unref(pkt);
}

/* STATUS: live figures for an operator (siogate --status). */
static void
bridge_status(struct gw *gw, const unsigned char *rid, size_t rid_len)
{
	struct br_enc e;
	struct gw_snap sn;

	gw_snap_total(gw, &sn);
	br_enc_init(&e, BR_T_STATUS_REPLY, 13);
	br_enc_cstr(&e, "gateway", gw->id);
	br_enc_cstr(&e, "version", PACKAGE_VERSION);
	br_enc_uint(&e, "pid", (uint64_t)getpid());
	br_enc_uint(&e, "uptime_s", (uint64_t)(ev_now(gw->loop) - gw->started));
	br_enc_uint(&e, "loops", (uint64_t)gw->sh->n);
	br_enc_uint(&e, "connections", sn.conns);
	br_enc_uint(&e, "sessions_polling", sn.polling);
	br_enc_uint(&e, "sessions_websocket", sn.websocket);
	br_enc_uint(&e, "sockets", sn.sockets);
	br_enc_uint(&e, "namespaces", sn.nsps);
	br_enc_uint(&e, "workers", gw_bridge_workers(gw));
	br_enc_uint(&e, "worker_backlog_events", sn.backlog);
	br_enc_uint(&e, "supervised_processes", gw_super_running(gw));
	bridge_send_ctl(gw, rid, rid_len, &e);
}

void
gw_bridge_on_sync(struct gw *gw, gw_bridge_sync_fn fn)
{
	if (gw->br != NULL)
		gw->br->on_sync = fn;
}

void
gw_bridge_sync_reply(struct gw *gw, const unsigned char *rid, size_t rid_len, uint64_t req)
{
	struct br_enc e;

	if (gw->br == NULL)
		return;
	br_enc_init(&e, BR_T_SYNC_REPLY, 1);
	br_enc_uint(&e, "req", req);
	bridge_send_ctl(gw, rid, rid_len, &e);
}

/*
 * SYNC, from any peer: answer SYNC_REPLY once everything the peer sent
 * before it was handled.  A peer's messages are handled in order, one at a
 * time, so that is now, except for what this loop published to the
 * cluster: then the answer waits until Redis has answered every PUBLISH
 * made before it (the cluster's on_sync hook), so that an emitter that
 * exits on SYNC_REPLY knows its broadcasts are in Redis, not in our
 * buffers.
 */
static void
bridge_sync(struct gw *gw, const unsigned char *rid, size_t rid_len, const struct br_msg *m)
{
	uint64_t req = 0;

	br_msg_uint(m, "req", &req);	/* checked by the decoder */
	if (gw->br->on_sync == NULL || !gw->br->on_sync(gw, rid, rid_len, req))
		gw_bridge_sync_reply(gw, rid, rid_len, req);
}

static void bridge_handle(struct gw *gw, const unsigned char *rid, size_t rid_len,
    const void *p, size_t n, uint32_t item);

/*
 * BATCH: each message of msgs is handled as if it had come in a frame of
 * its own, in order; a bad one gets its own ERROR (its text names the
 * item) and the others are still handled.
 */
static void
bridge_batch(struct gw *gw, const unsigned char *rid, size_t rid_len, const struct br_msg *m)
{
	const msgpack_object *msgs = br_msg_get(m, "msgs");
	uint32_t i;

	for (i = 0; i < msgs->via.array.size; i++)
		bridge_handle(gw, rid, rid_len, msgs->via.array.ptr[i].via.bin.ptr,
		    msgs->via.array.ptr[i].via.bin.size, i + 1);
}

/* Handle one frame from a peer, or item - 1 of a BATCH frame (item > 0). */
static void
bridge_handle(struct gw *gw, const unsigned char *rid, size_t rid_len, const void *p, size_t n,
    uint32_t item)
{
	struct gw_bridge *br = gw->br;
	struct br_msg m;
	struct gw_worker *w;
	int code = 0;
	const char *why = NULL;
	char text[192];
	struct br_str sid;
	uint64_t v;

	memset(&m, 0, sizeof m);
	if (br_msg_decode_ref(&m, p, n, &code, &why) < 0) {
		if (m.type != BR_T_ERROR) {
			if (item > 0) {
				snprintf(text, sizeof text, "BATCH item %u: %s", item - 1, why);
				why = text;
			}
			gw_info("bridge: bad message from a peer: %s", why);
			bridge_error(gw, rid, rid_len, code, why, m.type, NULL, 0);
		}
		br_msg_free(&m);
		return;
	}
	if (m.type == BR_T_BATCH) {
		if (item > 0) {
			snprintf(text, sizeof text, "BATCH item %u: a BATCH inside a BATCH", item - 1);
			gw_info("bridge: bad message from a peer: %s", text);
			bridge_error(gw, rid, rid_len, BR_E_BAD_MESSAGE, text, BR_T_BATCH, NULL, 0);
		} else {
			bridge_batch(gw, rid, rid_len, &m);
		}
		br_msg_free(&m);
		return;
	}
	w = bridge_find_rid(br, rid, rid_len);
	if (m.type == BR_T_STATUS) {
		bridge_status(gw, rid, rid_len);
		br_msg_free(&m);
		return;
	}
	if (m.type == BR_T_SYNC) {
		if (w != NULL)
			w->last_rx = ev_now(gw->loop);
		bridge_sync(gw, rid, rid_len, &m);
		br_msg_free(&m);
		return;
	}
	if (m.type == BR_T_HELLO) {
		bridge_hello(gw, rid, rid_len, &m);
		br_msg_free(&m);
		return;
	}
	if (w == NULL) {
		if (m.type != BR_T_ERROR && m.type != BR_T_BYE)
			bridge_error(gw, rid, rid_len, BR_E_NOT_REGISTERED, "say HELLO first", m.type,
			    NULL, 0);
		br_msg_free(&m);
		return;
	}
	w->last_rx = ev_now(gw->loop);
	switch (m.type) {
	case BR_T_HEARTBEAT:
		break;
	case BR_T_CREDIT:
		if (br_msg_uint(&m, "n", &v) < 0) {
			bridge_error(gw, rid, rid_len, BR_E_BAD_MESSAGE, "CREDIT needs n", m.type, NULL, 0);
			break;
		}
		w->credit = v > 1000000 - w->credit ? 1000000 : w->credit + (uint32_t)v;
		gw_debug("worker %u: CREDIT %llu, %u in flight, %u waiting", w->id,
		    (unsigned long long)v, w->inflight.n, w->backlog.n);
		bridge_paid(gw, w, v);
		bridge_flush_backlog(gw, w);
		break;
	case BR_T_BYE:
		bridge_drop_worker(gw, w, "said BYE");
		break;
	case BR_T_ERROR: {
		struct br_str text = { "", 0 };
		char esc[256];

		br_msg_str(&m, "text", &text);
		gw_warn("worker %u (%s) reports an error: %s", w->id, w->name,
		    gw_log_escape(esc, sizeof esc, text.p, text.n));
		break;
	}
	case BR_T_EIO_SEND:
		bridge_eio_send(gw, w, &m);
		break;
	case BR_T_EIO_CLOSE_SESSION: {
		struct eio_session *s;

		if (br_msg_str(&m, "sid", &sid) < 0) {
			bridge_error(gw, rid, rid_len, BR_E_BAD_MESSAGE, "EIO_CLOSE_SESSION needs sid",
			    m.type, NULL, 0);
			break;
		}
		if ((s = bridge_session(gw, w, &sid, m.type)) != NULL)
			eio_session_close(s, "forced close");
		break;
	}
	case BR_T_SIO_ACCEPT:
	case BR_T_SIO_REJECT:
	case BR_T_SIO_ACK:
	case BR_T_SIO_EMIT:
	case BR_T_SIO_JOIN:
	case BR_T_SIO_LEAVE:
	case BR_T_SIO_DISCONNECT_SOCKETS:
	case BR_T_SIO_SET_SESSION:
	case BR_T_SIO_QUERY:
	case BR_T_SIO_SERVER_EMIT:
	case BR_T_SIO_SERVER_ACK:
		sio_bridge_handle(gw, w, &m);
		break;
	default:
		if (m.type > 0 && br_type_name(m.type)[0] != '?')
			bridge_error(gw, rid, rid_len, BR_E_BAD_MESSAGE,
			    "message type not accepted from a worker", m.type, NULL, 0);
		else
			bridge_error(gw, rid, rid_len, BR_E_UNKNOWN_TYPE, "unknown message type", m.type,
			    NULL, 0);
		break;
	}
	br_msg_free(&m);
}

/* Receive and handle up to budget messages; returns how many. */
static int
bridge_drain(struct gw *gw, int budget)
{
	struct gw_bridge *br = gw->br;
	int done = 0;

	while (done < budget) {
		zmq_msg_t id, body;
		int more;
		size_t ml = sizeof more;

		zmq_msg_init(&id);
		if (zmq_msg_recv(&id, br->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&id);
			break;
		}
		zmq_msg_init(&body);
		if (zmq_msg_recv(&body, br->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&body);
			zmq_msg_close(&id);
			break;
		}
		/* More than one body frame: not ours; drain and refuse. */
		zmq_getsockopt(br->router, ZMQ_RCVMORE, &more, &ml);
		if (more) {
			zmq_msg_t extra;

			while (more) {
				zmq_msg_init(&extra);
				zmq_msg_recv(&extra, br->router, ZMQ_DONTWAIT);
				zmq_msg_close(&extra);
				zmq_getsockopt(br->router, ZMQ_RCVMORE, &more, &ml);
			}
			bridge_error(gw, zmq_msg_data(&id), zmq_msg_size(&id), BR_E_BAD_MESSAGE,
			    "one frame per message", 0, NULL, 0);
		} else if (zmq_msg_size(&id) > 0 && zmq_msg_size(&id) <= 255) {
			bridge_handle(gw, zmq_msg_data(&id), zmq_msg_size(&id), zmq_msg_data(&body),
			    zmq_msg_size(&body), 0);
		}
		zmq_msg_close(&body);
		zmq_msg_close(&id);
		done++;
	}
	return done;
}

/* Drain until ZMQ_EVENTS shows nothing to read (or the budget is spent). */
void
gw_bridge_turn(struct gw *gw)
{
	struct gw_bridge *br = gw->br;
	int budget = GW_DRAIN_BUDGET, ev;
	size_t el = sizeof ev;

	if (br == NULL)
		return;
	if (br->zap != NULL)
		bridge_zap_drain(gw);
	for (;;) {
		struct gw_worker *w, *next;

		for (w = br->workers; w != NULL; w = next) {
			next = w->next;
			if (w->dead)
				bridge_drop_worker(gw, w, "unreachable");
		}
		budget -= bridge_drain(gw, budget);
		/* What this turn produced for batch workers: one frame each. */
		for (w = br->workers; w != NULL; w = w->next)
			(void)bridge_flush(gw, w);
		br->sent = 0;
		if (zmq_getsockopt(br->router, ZMQ_EVENTS, &ev, &el) < 0 || !(ev & ZMQ_POLLIN))
			break;
		if (budget <= 0) {
			gw_wake(gw);	/* more to do: come back without sleeping */
			break;
		}
	}
}

static void
bridge_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	gw_bridge_turn(w->data);
}

/*
 * The last prepare watcher (lowest priority): what was batched after the
 * bridge's own turn in the prepare step (a close told to a worker while
 * sessions were flushed or reaped) goes out before the loop sleeps.
 */
static void
bridge_flush_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
	struct gw *gw = p->data;
	struct gw_bridge *br = gw->br;
	struct gw_worker *w;
	int ev;
	size_t el = sizeof ev;

	br->sent = 0;
	for (w = br->workers; w != NULL; w = w->next)
		(void)bridge_flush(gw, w);
	/* A send can consume the ZMQ_FD edge: come back if input waits. */
	if (br->sent && zmq_getsockopt(br->router, ZMQ_EVENTS, &ev, &el) == 0 &&
	    (ev & ZMQ_POLLIN))
		gw_wake(gw);
	br->sent = 0;
}

/* Heartbeats out, silent workers dropped. */
static void
bridge_hb_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct gw *gw = t->data;
	struct gw_worker *w, *next;
	ev_tstamp now;

	/* Read what arrived first: after a pause of our own, workers' heartbeats wait there. */
	gw_bridge_turn(gw);
	ev_now_update(loop);
	now = ev_now(loop);

	for (w = gw->br->workers; w != NULL; w = next) {
		next = w->next;
		if (now - w->last_rx > BR_DEAD_AFTER_MISSED * w->hb_ms / 1000.0) {
			bridge_drop_worker(gw, w, "heartbeat lost");
			continue;
		}
		bridge_expire(gw, w, now);
		if (now - w->last_tx >= gw->conf.bridge_hb / 1000.0) {
			struct br_enc e;

			br_enc_init(&e, BR_T_HEARTBEAT, 0);
			bridge_send_ctl(gw, w->rid, w->rid_len, &e);
			w->last_tx = now;
		}
	}
	sio_held_expire(gw, now);
}

/*
 * The worker with this id, or NULL.  A worker found unreachable in this
 * turn is still returned: what is sent to it waits in its queues and is
 * redelivered when it is dropped at the next turn, instead of being lost.
 */
struct gw_worker *
gw_bridge_find_worker(struct gw *gw, uint32_t id)
{
	return bridge_find_id(gw->br, id);
}

int
gw_bridge_send_event(struct gw *gw, struct gw_worker *w, struct br_enc *e, int force,
    const struct gw_evmeta *meta)
{
	return bridge_send_event(gw, w, e, force, meta);
}

/* Drop events that waited longer than the expiry; answer their acks with an error. */
static void
bridge_expire(struct gw *gw, struct gw_worker *w, ev_tstamp now)
{
	uint32_t n = 0;

	while (w->backlog.n > 0 && now - pq_at(&w->backlog, 0)->t > gw->conf.event_expiry / 1000.0) {
		struct gw_pending p = pq_take(&w->backlog);

		if (p.ack1 != 0)
			sio_error_ack(gw, p.id, p.ack1 - 1, "ENOWORKER", "no worker took the event in time");
		gw_buf_unref(p.b);
		bridge_release(gw, &p);
		n++;
	}
	gw->st.events_expired += n;
	if (n > 0)
		gw_warn("worker %u (%s): %u event(s) expired after %u ms without credit", w->id, w->name,
		    n, gw->conf.event_expiry);
}

void
gw_bridge_send_ctl(struct gw *gw, struct gw_worker *w, struct br_enc *e)
{
	bridge_send_ctl(gw, w->rid, w->rid_len, e);
}

void
gw_bridge_error(struct gw *gw, struct gw_worker *w, int code, const char *text, int ref,
    const char *sid, size_t sidlen)
{
	bridge_error(gw, w->rid, w->rid_len, code, text, ref, sid, sidlen);
}

/* Whether a namespace pattern (exact, "prefix*" or "*") matches name. */
static int
bridge_nsp_match(const char *pat, const char *name, size_t n)
{
	size_t pl = strlen(pat);

	if (pl > 0 && pat[pl - 1] == '*')
		return n >= pl - 1 && memcmp(pat, name, pl - 1) == 0;
	return pl == n && memcmp(pat, name, n) == 0;
}

/* The worker of a namespace with the fewest sockets; *open if no round trip. */
struct gw_worker *
gw_bridge_pick_nsp(struct gw *gw, const char *name, size_t n, int *open)
{
	struct gw_worker *w, *best = NULL;
	int best_open = 0;
	uint32_t i;

	gw->br->rr++;
	for (w = gw->br->workers; w != NULL; w = w->next) {
		if (w->dead)
			continue;
		for (i = 0; i < w->nnsp; i++) {
			if (!bridge_nsp_match(w->nsp[i], name, n))
				continue;
			if (best == NULL || w->nsess < best->nsess ||
			    (w->nsess == best->nsess && ((w->id ^ gw->br->rr) & 1))) {
				best = w;
				best_open = i < 64 && ((w->nsp_open >> i) & 1);
			}
			break;
		}
	}
	if (open != NULL)
		*open = best_open;
	return best;
}

int
gw_bridge_serves_nsp(struct gw *gw, const char *name, size_t n)
{
	return gw_bridge_pick_nsp(gw, name, n, NULL) != NULL;
}

/* The handshake map, encoded once as msgpack. */
struct gw_buf *
gw_bridge_hs_blob(const struct http_req *req, const char *peer, const char *transport)
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
	bridge_enc_query(&e, req);
	br_enc_cstr(&e, "addr", peer);
	br_enc_cstr(&e, "transport", transport);
	br_enc_uint(&e, "time", gw_time_ms());
	br_enc_str(&e, "url", req->buf + req->url, req->url_len);
	b = gw_buf_from(e.sb.data, e.sb.size);
	msgpack_sbuffer_destroy(&e.sb);
	return b;
}

/* --curve-keygen: print a new key pair. */
int
gw_curve_keygen(void)
{
	char pub[41], sec[41];

	if (zmq_curve_keypair(pub, sec) < 0) {
		fprintf(stderr, "siogate: cannot make a CURVE key pair: %s\n", zmq_strerror(errno));
		return -1;
	}
	printf("public: %s\nsecret: %s\n", pub, sec);
	return 0;
}

/* Read a z85 key (40 characters, surrounding space ignored) from a file. */
static int
bridge_read_key(const char *file, char key[41], const char **why)
{
	static char msg[300];
	FILE *f = fopen(file, "r");
	char line[256];

	if (f == NULL) {
		snprintf(msg, sizeof msg, "cannot read the CURVE secret key from %s", file);
		*why = msg;
		return -1;
	}
	/* The key alone on a line, or the "secret:" line of --curve-keygen output. */
	while (fgets(line, sizeof line, f) != NULL) {
		char *p = line + strspn(line, " \t");
		size_t n;

		if (strncmp(p, "public:", 7) == 0)
			continue;
		if (strncmp(p, "secret:", 7) == 0)
			p += 7 + strspn(p + 7, " \t");
		n = strcspn(p, " \t\r\n");
		if (n == 40) {
			memcpy(key, p, 40);
			key[40] = '\0';
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	snprintf(msg, sizeof msg, "%s: no CURVE secret key (40 z85 characters) in it", file);
	*why = msg;
	return -1;
}

/* Load the allowed worker public keys (one z85 key per line, # comments). */
static int
bridge_load_keys(struct gw *gw, const char **why)
{
	static char msg[300];
	struct gw_bridge *br = gw->br;
	FILE *f = fopen(gw->conf.curve_authorized, "r");
	char line[256];
	int lineno = 0;

	if (f == NULL) {
		snprintf(msg, sizeof msg, "cannot read %s", gw->conf.curve_authorized);
		*why = msg;
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *p = line + strspn(line, " \t");
		size_t n = strcspn(p, " \t\r\n");

		lineno++;
		/* '#' is a z85 character: a line is a comment only if it is no key. */
		if (n == 0 || (*p == '#' && n != 40))
			continue;
		if (n != 40) {
			snprintf(msg, sizeof msg, "%s:%d: a public key is 40 z85 characters",
			    gw->conf.curve_authorized, lineno);
			fclose(f);
			*why = msg;
			return -1;
		}
		p[40] = '\0';
		br->keys = gw_xrealloc(br->keys, (br->nkeys + 1) * sizeof *br->keys);
		if (zmq_z85_decode(br->keys[br->nkeys], p) == NULL) {
			snprintf(msg, sizeof msg, "%s:%d: not a z85 key", gw->conf.curve_authorized, lineno);
			fclose(f);
			*why = msg;
			return -1;
		}
		br->nkeys++;
	}
	fclose(f);
	return 0;
}

/* Answer ZAP requests: a CURVE client key must be in the allowed list. */
static void
bridge_zap_drain(struct gw *gw)
{
	struct gw_bridge *br = gw->br;

	for (;;) {
		zmq_msg_t part[7];
		int n = 0, more = 1, allowed = 0, i;
		size_t ml = sizeof more;
		char keytext[41] = "?";

		while (more && n < 7) {
			zmq_msg_init(&part[n]);
			if (zmq_msg_recv(&part[n], br->zap, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&part[n]);
				if (n == 0)
					return;
				break;
			}
			n++;
			zmq_getsockopt(br->zap, ZMQ_RCVMORE, &more, &ml);
		}
		if (n == 7 && zmq_msg_size(&part[6]) == 32) {
			uint32_t k;

			for (k = 0; k < br->nkeys; k++)
				allowed |= memcmp(br->keys[k], zmq_msg_data(&part[6]), 32) == 0;
			zmq_z85_encode(keytext, zmq_msg_data(&part[6]), 32);
		}
		if (!allowed)
			gw_warn("bridge: CURVE client key %s refused (not in %s)", keytext,
			    gw->conf.curve_authorized);
		/* version, request id, status code, status text, user id, metadata */
		zmq_send(br->zap, "1.0", 3, ZMQ_SNDMORE);
		if (n >= 2)
			zmq_send(br->zap, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
		else
			zmq_send(br->zap, "", 0, ZMQ_SNDMORE);
		zmq_send(br->zap, allowed ? "200" : "400", 3, ZMQ_SNDMORE);
		zmq_send(br->zap, allowed ? "OK" : "not an authorized key", allowed ? 2 : 21,
		    ZMQ_SNDMORE);
		zmq_send(br->zap, "", 0, ZMQ_SNDMORE);
		zmq_send(br->zap, "", 0, 0);
		for (i = 0; i < n; i++)
			zmq_msg_close(&part[i]);
	}
}

static void
bridge_zap_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	bridge_zap_drain(w->data);
}

/* CURVE on the ROUTER socket (before it binds), and the ZAP handler. */
static int
bridge_curve(struct gw *gw, const char **why)
{
	struct gw_bridge *br = gw->br;
	char sec[41], pub[41];
	int one = 1, fd;
	size_t fl = sizeof fd;

	if (gw->conf.curve_secret_file == NULL)
		return 0;
	if (bridge_read_key(gw->conf.curve_secret_file, sec, why) < 0)
		return -1;
	if (zmq_curve_public(pub, sec) < 0) {
		*why = "the CURVE secret key is not valid z85";
		return -1;
	}
	if (gw->conf.curve_authorized != NULL) {
		if (bridge_load_keys(gw, why) < 0)
			return -1;
		br->zap = zmq_socket(br->zctx, ZMQ_REP);
		if (br->zap == NULL || zmq_bind(br->zap, "inproc://zeromq.zap.01") < 0) {
			*why = "cannot start the ZAP handler";
			return -1;
		}
		zmq_getsockopt(br->zap, ZMQ_FD, &fd, &fl);
		ev_io_init(&br->zap_io, bridge_zap_cb, fd, EV_READ);
		br->zap_io.data = gw;
		ev_io_start(gw->loop, &br->zap_io);
		zmq_setsockopt(br->router, ZMQ_ZAP_DOMAIN, "siogate", 7);
	}
	if (zmq_setsockopt(br->router, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
	    zmq_setsockopt(br->router, ZMQ_CURVE_SECRETKEY, sec, 40) < 0) {
		*why = "cannot enable CURVE on the bridge (libzmq without CURVE?)";
		return -1;
	}
	gw_info("bridge: CURVE on, server public key %s%s", pub,
	    gw->conf.curve_authorized ? ", authorized worker keys only" : ", any worker key");
	return 0;
}

/* Bind the ROUTER socket and join the loop. */
int
gw_bridge_start(struct gw *gw, const char **why)
{
	struct gw_bridge *br = gw_xcalloc(1, sizeof *br);
	int one = 1, fd;
	size_t fl = sizeof fd;
	/*
	 * Largest frame a worker may send.  Up to it, a payload over maxPayload
	 * gets a clear ERROR; past it ZeroMQ drops the connection (the DEALER
	 * reconnects), which bounds what decoding a hostile frame can cost.
	 */
	int64_t maxmsg = 4 * (int64_t)gw->conf.max_payload + 65536;

	gw->br = br;
	br->zctx = zmq_ctx_new();
	br->router = zmq_socket(br->zctx, ZMQ_ROUTER);
	if (br->router == NULL) {
		*why = "cannot create the ZeroMQ ROUTER socket";
		return -1;
	}
	zmq_setsockopt(br->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
	zmq_setsockopt(br->router, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
	zmq_setsockopt(br->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
	{
		int linger = 200;

		zmq_setsockopt(br->router, ZMQ_LINGER, &linger, sizeof linger);
	}
	if (bridge_curve(gw, why) < 0)
		return -1;
	if (zmq_bind(br->router, gw->bridge_ep) < 0) {
		static char msg[300];

		snprintf(msg, sizeof msg, "cannot bind the bridge to %s: %s", gw->bridge_ep,
		    zmq_strerror(errno));
		*why = msg;
		return -1;
	}
	{
		char last[256];
		size_t ll = sizeof last;

		if (zmq_getsockopt(br->router, ZMQ_LAST_ENDPOINT, last, &ll) < 0)
			snprintf(last, sizeof last, "%s", gw->bridge_ep);
		gw->sh->bridges[gw->idx] = gw_xstrndup(last, strlen(last));
	}
	zmq_getsockopt(br->router, ZMQ_FD, &fd, &fl);
	ev_io_init(&br->io, bridge_io_cb, fd, EV_READ);
	br->io.data = gw;
	ev_io_start(gw->loop, &br->io);
	ev_timer_init(&br->hb, bridge_hb_cb, gw->conf.bridge_hb / 4000.0, gw->conf.bridge_hb / 4000.0);
	br->hb.data = gw;
	ev_timer_start(gw->loop, &br->hb);
	ev_prepare_init(&br->flush, bridge_flush_cb);
	ev_set_priority(&br->flush, EV_MINPRI);
	br->flush.data = gw;
	ev_prepare_start(gw->loop, &br->flush);
	gw_info("bridge bound to %s (gateway id %s)", gw->sh->bridges[gw->idx], gw->id);
	return 0;
}

/* Say BYE to every worker and close the socket. */
void
gw_bridge_stop(struct gw *gw)
{
	struct gw_bridge *br = gw->br;
	struct gw_worker *w;

	if (br == NULL)
		return;
	while ((w = br->workers) != NULL) {
		struct br_enc e;

		(void)bridge_flush(gw, w);
		br_enc_init(&e, BR_T_BYE, 0);
		if (bridge_send_raw(br, w->rid, w->rid_len, e.sb.data, e.sb.size) < 0)
			gw_debug("bridge: BYE to worker %u failed: %s", w->id, zmq_strerror(errno));
		br_enc_free(&e);
		br->workers = w->next;
		pq_clear(&w->backlog);
		pq_clear(&w->inflight);
		br_batch_free(&w->out);
		bridge_free_nsp(w);
		free(w);
	}
	ev_io_stop(gw->loop, &br->io);
	ev_timer_stop(gw->loop, &br->hb);
	ev_prepare_stop(gw->loop, &br->flush);
	if (br->router != NULL)
		zmq_close(br->router);
	if (br->zap != NULL) {
		ev_io_stop(gw->loop, &br->zap_io);
		zmq_close(br->zap);
	}
	free(br->keys);
	zmq_ctx_term(br->zctx);
	free(br);
	gw->br = NULL;
}

/* Events waiting in every worker's backlog. */
unsigned
gw_bridge_pending(struct gw *gw)
{
	struct gw_worker *w;
	unsigned n = 0;

	for (w = gw->br ? gw->br->workers : NULL; w != NULL; w = w->next)
		n += w->backlog.n;
	return n;
}

/* Events not yet handled by workers: waiting or in flight (not done). */
unsigned
gw_bridge_unfinished(struct gw *gw)
{
	struct gw_worker *w;
	unsigned n = 0;
	uint32_t i;

	for (w = gw->br ? gw->br->workers : NULL; w != NULL; w = w->next) {
		n += w->backlog.n;
		for (i = 0; i < w->inflight.n; i++)
			n += pq_at(&w->inflight, i)->b != NULL;
	}
	return n + (unsigned)gw->st.events_held;
}

/* Live workers. */
unsigned
gw_bridge_workers(struct gw *gw)
{
	struct gw_worker *w;
	unsigned n = 0;

	for (w = gw->br ? gw->br->workers : NULL; w != NULL; w = w->next)
		n += !w->dead;
	return n;
}

/* Whether a live worker serves ep. */
int
gw_bridge_has_worker(struct gw *gw, const struct gw_endpoint *ep)
{
	struct gw_worker *w;

	for (w = gw->br->workers; w != NULL; w = w->next) {
		if (w->eio_mask & (1u << ep->idx))
			return 1;
	}
	return 0;
}

/* The worker of ep with the fewest sessions (round-robin among equals). */
struct gw_worker *
bridge_pick(struct gw *gw, const struct gw_endpoint *ep)
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
bridge_query_count(const struct http_req *req)
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
bridge_enc_query(struct br_enc *e, const struct http_req *req)
{
	const char *p = req->buf + req->query, *end = p + req->query_len;
	uint32_t n = bridge_query_count(req);
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

/* Start an event message for session s (sid and seq). */
static void
bridge_enc_session(struct br_enc *e, int type, uint32_t nfields, struct eio_session *s)
{
	br_enc_init(e, type, nfields + 2);
	br_enc_cstr(e, "sid", s->sid);
	br_enc_uint(e, "seq", s->seq++);
}

/* Bind a new session to a worker and send EIO_OPEN with the handshake. */
int
gw_bridge_eio_open(struct gw *gw, struct eio_session *s, const struct http_req *req,
    const char *peer, const char *transport)
{
	struct gw_worker *w = bridge_pick(gw, s->ep);
	struct br_enc e;
	struct gw_buf *hs;
	struct gw_evmeta meta = { BR_T_EIO_OPEN, s->sid, 0, 0, 0 };

	if (w == NULL)
		return -1;
	s->worker = w->id;
	w->nsess++;
	hs = gw_bridge_hs_blob(req, peer, transport);
	bridge_enc_session(&e, BR_T_EIO_OPEN, 2, s);
	br_enc_cstr(&e, "path", s->ep->path);
	br_enc_key(&e, "hs");
	msgpack_sbuffer_write(&e.sb, hs->data, hs->len);
	gw_buf_unref(hs);
	bridge_send_event(gw, w, &e, 1, &meta);
	return 0;
}

/* Forward one message of a raw session to its worker. */
void
gw_bridge_eio_message(struct gw *gw, struct eio_session *s, const char *data, size_t len,
    int binary)
{
	struct gw_worker *w = bridge_find_id(gw->br, s->worker);
	struct br_enc e;
	struct gw_evmeta meta = { BR_T_EIO_MESSAGE, s->sid, 0, 0, 0 };

	if (w == NULL) {
		eio_session_close(s, "worker gone");
		return;
	}
	bridge_enc_session(&e, BR_T_EIO_MESSAGE, 1, s);
	br_enc_data(&e, "data", data, len, binary);
	if (bridge_send_event(gw, w, &e, 0, &meta) < 0) {
		gw_warn("session %s: worker %u backlog full (%u events), closing the session",
		    s->sid, w->id, gw->conf.max_backlog);
		eio_session_close(s, "worker overloaded");
	}
}

/* Tell the session's worker it closed. */
void
gw_bridge_eio_close(struct gw *gw, struct eio_session *s, const char *reason)
{
	struct gw_worker *w = bridge_find_id(gw->br, s->worker);
	struct br_enc e;
	struct gw_evmeta meta = { BR_T_EIO_CLOSE, s->sid, 0, 0, 0 };

	if (w == NULL)
		return;
	w->nsess--;
	s->worker = 0;
	bridge_enc_session(&e, BR_T_EIO_CLOSE, 1, s);
	br_enc_cstr(&e, "reason", reason);
	bridge_send_event(gw, w, &e, 1, &meta);
}
