/*
 * sio_recover.c: Socket.IO connection state recovery (the 4.6+ protocol's
 * pid and offsets; [socketio] recovery_window, recovery_max_packets).
 *
 * With a recovery window, every socket of a v5 client gets a private id
 * (pid, in its CONNECT reply) and a ring of the last recovery_max_packets
 * Engine.IO packets of the events sent to it.  Each emit that can be
 * replayed (no ack asked, not volatile) carries one offset, a gateway-wide
 * counter written in hex as the last argument of the event, the same for
 * every recipient (the packet is still encoded once).
 *
 * When the transport of a connected socket goes ("transport close",
 * "transport error", "ping timeout"), the socket is not closed: it moves to
 * the loop's limbo connection (a closed Engine.IO session that swallows
 * what is sent to it) and stays in its namespace, rooms and the socket
 * table, so emits and worker commands keep finding it and the ring keeps
 * recording what it misses.  The worker is not told.  Within the window, a
 * CONNECT with {pid, offset} for the same namespace takes it back: same id,
 * rooms and session, the CONNECT reply {sid, pid}, then every ring packet
 * after the client's offset, in order; its worker gets SIO_CONNECT with
 * reply false and recovered true.
 *
 * A pong proves that the client has every packet queued before the ping it
 * answers (one ordered stream), so a pong drops the ring's packets up to
 * the offset given out last before that ping: a connected socket holds
 * only what it was sent within about one ping interval.
 *
 * Bounds: the ring holds recovery_max_packets packets; while detached, a
 * socket whose ring overflows cannot be recovered (a later CONNECT with its
 * pid is a normal connect with lost true), and one whose window ends is
 * closed then: its worker gets SIO_DISCONNECT with the transport's reason,
 * late by the window.  Gauges: recovery_detached, recovery_buffered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "gw_bridge.h"
#include "sio.h"

struct sio_recov_ent {
	uint64_t off;
	struct gw_buf *b;	/* a reference */
};

/* Recovery state of one socket.  Owned by the socket; freed with it. */
struct sio_recov {
	struct sio_socket *so;
	char pid[SIO_ID_LEN + 1];
	struct sio_recov_ent *v;	/* ring, grown up to recovery_max_packets */
	uint32_t head, n, cap;
	uint64_t evicted;		/* largest offset dropped from the ring (0: none) */
	uint64_t mark;			/* last offset given out when the session last pinged */
	uint8_t detached;
	uint8_t overflowed;		/* dropped a packet while detached: not recoverable */
	const char *reason;		/* static: why the transport went */
	struct gw_tnode expiry;		/* gw->t_recover while detached */
};

static void recover_expired(struct gw_tlist *tl, struct gw_tnode *n);

/* Set up gw->t_recover (loop start). */
void
sio_recover_timers_init(struct gw *gw)
{
	gw_tlist_init(&gw->t_recover, gw->loop, gw->conf.recovery_window / 1000.0,
	    recover_expired, gw);
}

/* A new socket's recovery state; its pid, or NULL when recovery is off. */
const char *
sio_recover_new(struct sio_socket *so)
{
	struct gw *gw = so->conn->eio->gw;
	struct sio_recov *r;

	if (gw->conf.recovery_window == 0 || so->conn->eio->v3 || so->rec != NULL)
		return so->rec != NULL ? so->rec->pid : NULL;
	r = gw_xcalloc(1, sizeof *r);
	r->so = so;
	if (gw_random_id(r->pid, SIO_ID_LEN) < 0) {
		gw_err("kernel random source failed");
		abort();
	}
	so->rec = r;
	return r->pid;
}

/* Drop the ring's oldest packet. */
static void
ring_evict(struct gw *gw, struct sio_recov *r)
{
	struct sio_recov_ent *e = &r->v[r->head];

	r->evicted = e->off;
	gw_buf_unref(e->b);
	r->head = (r->head + 1) % r->cap;
	r->n--;
	gw->st.recovery_buffered--;
}

/* Record the packets of one replayable emit (offset off) sent to so. */
void
sio_recover_note(struct sio_socket *so, uint64_t off, struct gw_buf *const *pkts, int n)
{
	struct sio_recov *r = so->rec;
	struct gw *gw = so->conn->eio->gw;
	uint32_t max = gw->conf.recovery_max_packets;
	int i;

	if (r == NULL || r->overflowed)
		return;
	for (i = 0; i < n; i++) {
		if (r->n == r->cap && r->cap < max) {
			/* Grow, unrolling the ring into the new array. */
			uint32_t ncap = r->cap ? (r->cap * 2 < max ? r->cap * 2 : max) : (max < 8 ? max : 8);
			struct sio_recov_ent *nv = gw_xmalloc(ncap * sizeof *nv);
			uint32_t k;

			for (k = 0; k < r->n; k++)
				nv[k] = r->v[(r->head + k) % r->cap];
			free(r->v);
			r->v = nv;
			r->cap = ncap;
			r->head = 0;
		}
		if (r->n == r->cap) {
			if (r->detached) {
				/* It would miss a packet: no longer recoverable (stop holding more). */
				r->overflowed = 1;
				return;
			}
			ring_evict(gw, r);
		}
		r->v[(r->head + r->n) % r->cap] = (struct sio_recov_ent){ off, gw_buf_ref(pkts[i]) };
		r->n++;
		gw->st.recovery_buffered++;
	}
}

/* A session pings: what its sockets were sent so far is confirmed by the pong. */
void
sio_recover_ping(struct eio_session *s)
{
	struct sio_socket *so;

	for (so = s->sio != NULL ? s->sio->sockets : NULL; so != NULL; so = so->next) {
		if (so->rec != NULL)
			so->rec->mark = s->gw->sio_offset;
	}
}

/* The pong came: drop the packets the client is known to have. */
void
sio_recover_pong(struct eio_session *s)
{
	struct sio_socket *so;

	for (so = s->sio != NULL ? s->sio->sockets : NULL; so != NULL; so = so->next) {
		struct sio_recov *r = so->rec;

		while (r != NULL && r->n > 0 && r->v[r->head].off <= r->mark) {
			gw_buf_unref(r->v[r->head].b);
			r->head = (r->head + 1) % r->cap;
			r->n--;
			s->gw->st.recovery_buffered--;
		}
	}
}

/* The loop's limbo: a closed session that swallows what detached sockets are sent. */
static struct sio_conn *
limbo(struct gw *gw)
{
	if (gw->sio_limbo == NULL) {
		struct eio_session *s = gw_xcalloc(1, sizeof *s);
		struct sio_conn *c = gw_xcalloc(1, sizeof *c);

		s->gw = gw;
		s->state = EIO_S_CLOSED;
		s->sio = c;
		c->eio = s;
		c->hs = gw_buf_from("\x80", 1);	/* {} */
		gw->sio_limbo = c;
	}
	return gw->sio_limbo;
}

/* Move a socket from its connection's list to another connection's. */
static void
socket_move(struct sio_socket *so, struct sio_conn *to)
{
	struct sio_socket **pp;

	for (pp = &so->conn->sockets; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == so) {
			*pp = so->next;
			break;
		}
	}
	so->conn = to;
	so->next = to->sockets;
	to->sockets = so;
}

/* Whether a session's close reason leaves its sockets recoverable. */
static int
recoverable(const char *reason)
{
	return strcmp(reason, "transport close") == 0 || strcmp(reason, "transport error") == 0 ||
	    strcmp(reason, "ping timeout") == 0;
}

/*
 * The transport of a connected socket went with reason: keep the socket
 * for the recovery window instead of closing it.  Returns 1 if kept.
 */
int
sio_recover_detach(struct sio_socket *so, const char *reason)
{
	struct sio_recov *r = so->rec;
	struct gw *gw = so->conn->eio->gw;

	if (r == NULL || r->detached || so->state != SIO_S_CONNECTED || gw->stopping ||
	    !recoverable(reason))
		return 0;
	r->detached = 1;
	r->reason = reason;
	socket_move(so, limbo(gw));
	gw_map_put(&gw->sio_pids, r->pid, SIO_ID_LEN, so);
	gw_tlist_arm(&gw->t_recover, &r->expiry);
	gw->st.recovery_detached++;
	gw_debug("socket %s: transport gone (%s), kept %u ms for recovery", so->id, reason,
	    gw->conf.recovery_window);
	return 1;
}

/* The window of a detached socket ended: close it, telling its worker. */
static void
recover_expired(struct gw_tlist *tl, struct gw_tnode *n)
{
	struct sio_recov *r = GW_TNODE_OWNER(n, struct sio_recov, expiry);

	r->so->conn->eio->gw->st.recovery_lost++;
	sio_socket_end(r->so, r->reason);
}

/* Free a socket's recovery state (the socket is being freed). */
void
sio_recover_free(struct sio_socket *so)
{
	struct sio_recov *r = so->rec;
	struct gw *gw = so->conn->eio->gw;

	if (r == NULL)
		return;
	if (r->detached) {
		gw_map_del(&gw->sio_pids, r->pid, SIO_ID_LEN);
		gw_tlist_stop(&r->expiry);
		gw->st.recovery_detached--;
	}
	while (r->n > 0)
		ring_evict(gw, r);
	free(r->v);
	free(r);
	so->rec = NULL;
}

/* Parse a client's offset (hex, as we write it); -1 if it is not one of ours. */
static int
parse_offset(const json_t *v, uint64_t *off)
{
	const char *s;
	size_t i, n;

	*off = 0;
	if (v == NULL || json_is_null(v))
		return 0;		/* no event seen: everything since the connect */
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = strlen(s);
	if (n == 0 || n > 16)
		return -1;
	for (i = 0; i < n; i++) {
		int d = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : s[i] >= 'a' && s[i] <= 'f' ?
		    s[i] - 'a' + 10 : -1;

		if (d < 0)
			return -1;
		*off = *off * 16 + (uint64_t)d;
	}
	return 0;
}

/*
 * A CONNECT whose auth has a pid: take back the detached socket.  Returns 1
 * when recovered (answered); 0 when the connect must go on as a new one,
 * with *lost set if the client had a session that cannot be recovered.
 */
int
sio_recover_resume(struct sio_conn *c, const struct sio_pkt *pkt, const json_t *auth, int *lost)
{
	struct gw *gw = c->eio->gw;
	const json_t *pidv = auth != NULL ? json_object_get(auth, "pid") : NULL;
	struct sio_socket *so;
	struct sio_recov *r;
	struct gw_worker *w;
	struct gw_buf *pkt0;
	uint64_t off;
	uint32_t i;
	char json[128];
	const char *why;

	*lost = 0;
	if (gw->conf.recovery_window == 0 || c->eio->v3 || !json_is_string(pidv))
		return 0;
	*lost = 1;
	so = gw_map_get(&gw->sio_pids, json_string_value(pidv), json_string_length(pidv));
	if (so == NULL || so->nsp->nlen != pkt->nsp_len ||
	    memcmp(so->nsp->name, pkt->nsp, pkt->nsp_len) != 0) {
		gw->st.recovery_lost++;
		return 0;
	}
	r = so->rec;
	if (parse_offset(json_object_get(auth, "offset"), &off) < 0 || r->overflowed ||
	    off < r->evicted) {
		/* Packets it missed are gone: end the old socket now (its worker is told). */
		gw->st.recovery_lost++;
		sio_socket_end(so, r->reason);
		return 0;
	}
	w = gw_bridge_find_worker(gw, so->worker);
	if (w == NULL) {
		w = gw_bridge_pick_nsp(gw, so->nsp->name, so->nsp->nlen, NULL);
		if (w == NULL) {
			gw->st.recovery_lost++;
			sio_socket_end(so, r->reason);
			return 0;
		}
		so->worker = w->id;
		w->nsess++;
	}
	*lost = 0;
	gw_map_del(&gw->sio_pids, r->pid, SIO_ID_LEN);
	gw_tlist_stop(&r->expiry);
	r->detached = 0;
	gw->st.recovery_detached--;
	gw->st.recovered++;
	socket_move(so, c);
	gw_tlist_stop(&c->connect_t);
	snprintf(json, sizeof json, "{\"sid\":\"%s\",\"pid\":\"%s\"}", so->id, r->pid);
	if (sio_packet_encode(SIO_CONNECT, so->nsp->name, so->nsp->nlen, 0, 0, NULL, NULL, json,
	    &pkt0, &why) == 1) {
		eio_session_send(c->eio, pkt0);
		gw_buf_unref(pkt0);
	}
	/* What it missed, in order: the ring's packets after its offset. */
	for (i = 0; i < r->n; i++) {
		struct sio_recov_ent *e = &r->v[(r->head + i) % r->cap];

		if (e->off > off)
			eio_session_send(c->eio, e->b);
	}
	gw_info("socket %s recovered on session %s (offset %llx)", so->id, c->eio->sid,
	    (unsigned long long)off);
	sio_socket_notify(so, w, "recovered");
	return 1;
}

/* Close every detached socket and free the limbo (shutdown). */
void
sio_recover_close_all(struct gw *gw)
{
	struct sio_conn *c = gw->sio_limbo;

	if (c == NULL)
		return;
	while (c->sockets != NULL)
		sio_socket_end(c->sockets, "server shutting down");
	gw_buf_unref(c->hs);
	free(c->eio);
	free(c);
	gw->sio_limbo = NULL;
	gw_map_free(&gw->sio_pids);
}
