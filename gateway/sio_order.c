/*
 * sio_order.c: the order of a socket's events.
 *
 * A socket has at most one SIO_CONNECT or
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
#include "sio_int.h"

/* One more message of the socket that its next events wait for. */
void
sio_socket_hold(struct sio_socket *so)
{
	if (so->busy < UINT8_MAX)
		so->busy++;	/* saturated: a release may come early (order only) */
}

/* Pack the socket's rooms (without its own id room). */
void
sio_enc_rooms(struct br_enc *e, struct sio_socket *so)
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
int
sio_event_out(struct sio_socket *so, struct gw_worker *w, struct br_enc *e, uint64_t ack1,
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
	sio_enc_rooms(e, so);
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
		sio_socket_hold(so);
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
void
sio_held_free(struct gw *gw, struct sio_socket *so)
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
void
sio_held_push(struct sio_socket *so, struct br_enc *e, uint64_t ack1, const char *name)
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
			(void)sio_event_out(so, w, &e, ev.ack1, ev.t, 1, 0);
		}
		gw_buf_unref(ev.b);
	}
	if (h != NULL && h->n == 0)
		sio_held_free(gw, so);
}

/* The socket is closing: its held events go to the worker now, before SIO_DISCONNECT. */
void
sio_held_flush(struct sio_socket *so)
{
	struct gw *gw = so->conn->eio->gw;
	struct sio_held *h = held_get(so);
	struct gw_worker *w = gw_bridge_find_worker(gw, so->worker);

	while (h != NULL && h->n > 0 && w != NULL && so->notified) {
		struct sio_held_ev ev = held_take(gw, h);
		struct br_enc e;

		held_enc(&e, ev.b);
		(void)sio_event_out(so, w, &e, 0, ev.t, 0, 1);
		gw_buf_unref(ev.b);
	}
	sio_held_free(gw, so);
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
			sio_held_free(gw, g.v[i]);
	}
	free(g.v);
	gw->st.events_expired += n;
	if (n > 0)
		gw_warn("%u client event(s) expired after %u ms waiting for the previous event of "
		    "their socket", n, gw->conf.event_expiry);
}