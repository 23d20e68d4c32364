/*
 * gw_ledger.c: the bridge's credit and redelivery ledger.
 *
 * Every event sent to a worker uses one credit and stays in flight until
 * CREDIT pays it back; without credit, events wait in that worker's backlog
 * (bound: conf.max_backlog events).  When a worker is lost, its unfinished
 * events go on, in order and marked "redelivered", to the new owners of
 * their sockets or sessions; what an event is about is its layer's
 * (struct gw_bridge_layer: redeliver, expired, release).  A pending
 * SIO_CONNECT/SIO_EVENT marked hold keeps its socket's next events back:
 * whatever takes it out of the queues for good (CREDIT, expiry, a worker's
 * loss without redelivery, a new HELLO) releases it.
 */
#include <errno.h>

#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_proto.h"
#include "eio_session.h"
#include "gw_bridge.h"

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
void
gw_ledger_flush(struct gw *gw, struct gw_worker *w)
{
	while (w->backlog.n > 0 && w->credit > 0) {
		struct gw_pending *p = pq_at(&w->backlog, 0);

		if (gw_bridge_send_w(gw, w, p->b->data, p->b->len) < 0) {
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
ledger_send(struct gw *gw, struct gw_worker *w, const char *p, size_t n, int force,
    const struct gw_evmeta *meta)
{
	ev_tstamp now = ev_now(gw->loop);

	if (w->backlog.n == 0 && w->credit > 0) {
		if (gw_bridge_send_w(gw, w, p, n) == 0) {
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

int
gw_bridge_send_event(struct gw *gw, struct gw_worker *w, struct br_enc *e, int force,
    const struct gw_evmeta *meta)
{
	int rc = ledger_send(gw, w, e->sb.data, e->sb.size, force, meta);

	br_enc_free(e);
	return rc;
}

/* A copy of an encoded message with "redelivered": true added (fixmap only). */
static struct gw_buf *
ledger_redelivered(const struct gw_buf *b)
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

/*
 * Redeliver one pending event of a lost worker to the new owner of its
 * socket or session, marked "redelivered" (at-least-once): the layers'
 * redeliver hook names that owner, or answers what ends here (an error
 * ack).  Returns 1 when the event went on to the new worker (a hold goes
 * with it), 0 when it ends here.
 */
static int
ledger_redeliver(struct gw *gw, struct gw_pending *p)
{
	struct gw_bridge *br = gw->br;
	struct gw_worker *nw = NULL;
	struct eio_session *s;
	struct gw_evmeta meta = { p->type, p->id, p->ack1, p->hold, p->t };
	struct gw_buf *b;
	uint32_t i;

	if (p->b == NULL)
		return 0;	/* already answered */
	for (i = 0; i < br->nlayers && nw == NULL; i++)
		if (br->layer[i]->redeliver != NULL)
			nw = br->layer[i]->redeliver(gw, p);
	if (nw == NULL && p->type == BR_T_EIO_MESSAGE) {
		s = eio_session_find(gw, p->id);
		if (s != NULL && s->state != EIO_S_CLOSED)
			nw = gw_bridge_find_worker(gw, s->worker);
	}
	if (nw == NULL)
		return 0;	/* opens, closes and ack replies are not redelivered */
	b = ledger_redelivered(p->b);
	ledger_send(gw, nw, b->data, b->len, 1, &meta);
	gw_buf_unref(b);
	return 1;
}

/* A pending event left the queues for good: its socket's next events may go. */
static void
ledger_release(struct gw *gw, struct gw_pending *p)
{
	uint32_t i;

	if (!p->hold)
		return;
	p->hold = 0;
	for (i = 0; i < gw->br->nlayers; i++)
		if (gw->br->layer[i]->release != NULL)
			gw->br->layer[i]->release(gw, p);
}

/*
 * CREDIT n: the n oldest events in flight are done.  A socket released
 * here may send its next event to w at once (it joins the queues' tails,
 * after the n counted first).
 */
void
gw_ledger_paid(struct gw *gw, struct gw_worker *w, uint64_t n)
{
	uint64_t k = n < w->inflight.n ? n : w->inflight.n;

	while (k-- > 0) {
		struct gw_pending p = pq_take(&w->inflight);

		gw_buf_unref(p.b);
		ledger_release(gw, &p);
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

/* Drop events that waited longer than the expiry; the layers answer their acks with an error. */
void
gw_ledger_expire(struct gw *gw, struct gw_worker *w, ev_tstamp now)
{
	uint32_t n = 0;

	while (w->backlog.n > 0 && now - pq_at(&w->backlog, 0)->t > gw->conf.event_expiry / 1000.0) {
		struct gw_pending p = pq_take(&w->backlog);

		uint32_t i;

		for (i = 0; i < gw->br->nlayers; i++)
			if (gw->br->layer[i]->expired != NULL)
				gw->br->layer[i]->expired(gw, &p);
		gw_buf_unref(p.b);
		ledger_release(gw, &p);
		n++;
	}
	gw->st.events_expired += n;
	if (n > 0)
		gw_warn("worker %u (%s): %u event(s) expired after %u ms without credit", w->id, w->name,
		    n, gw->conf.event_expiry);
}

/* A new HELLO resets w's window: what a release sends joins the tail. */
void
gw_ledger_reset(struct gw *gw, struct gw_worker *w)
{
	uint32_t i, n0 = w->inflight.n;

	for (i = 0; i < n0; i++)
		ledger_release(gw, pq_at(&w->inflight, i));
}

void
gw_ledger_lost(struct gw *gw, struct gw_worker *w)
{
	uint32_t i;

	for (i = 0; i < w->inflight.n; i++) {
		gw_debug("in flight %u: type %d id %s ack1 %llu %s", i, pq_at(&w->inflight, i)->type,
		    pq_at(&w->inflight, i)->id, (unsigned long long)pq_at(&w->inflight, i)->ack1,
		    pq_at(&w->inflight, i)->b ? "" : "(done)");
		if (ledger_redeliver(gw, pq_at(&w->inflight, i)))
			pq_at(&w->inflight, i)->hold = 0;	/* it went on with the event */
		ledger_release(gw, pq_at(&w->inflight, i));
	}
	for (i = 0; i < w->backlog.n; i++) {
		if (ledger_redeliver(gw, pq_at(&w->backlog, i)))
			pq_at(&w->backlog, i)->hold = 0;
		ledger_release(gw, pq_at(&w->backlog, i));
	}
}

void
gw_ledger_free(struct gw_worker *w)
{
	pq_clear(&w->backlog);
	pq_clear(&w->inflight);
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
