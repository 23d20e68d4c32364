/*
 * gw_loops.c: several event loops in one process (threads = N).
 *
 * Each loop is a whole gateway: its own struct gw, libev loop, listeners
 * (SO_REUSEPORT sockets on the same address, so the kernel spreads new
 * connections), bridge endpoint and tables.  An Engine.IO session lives on
 * the loop that opened it; its sid starts with that loop's id.  A request
 * that names a sid of another loop (a long-polling GET or POST, or the
 * WebSocket upgrade, arriving on a connection the kernel gave to another
 * loop) is handed over whole: the connection, its parsed request and any
 * bytes read after it move to the owner's inbox.  Workers connect to every
 * loop's bridge (WELCOME lists them; the SDKs connect by themselves), so a
 * room emit reaches the members on every loop.
 *
 * Ownership: a loop touches only its own objects.  A connection in transit
 * belongs to nobody's tables; its output was flattened into a private
 * buffer (buffers are refcounted without atomics and may be shared by many
 * connections of the loop they come from).  What is shared is in struct
 * gw_shared: immutable after start, or under sh->mu.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eio_session.h"
#include "gw_conn.h"

struct gw_shared *
gw_loops_new(int n)
{
	struct gw_shared *sh = gw_xcalloc(1, sizeof *sh);
	int i;

	sh->n = n;
	sh->loop = gw_xcalloc((size_t)n, sizeof *sh->loop);
	sh->th = gw_xcalloc((size_t)n, sizeof *sh->th);
	sh->bridges = gw_xcalloc((size_t)n, sizeof *sh->bridges);
	sh->snaps = gw_xcalloc((size_t)n, sizeof *sh->snaps);
	pthread_mutex_init(&sh->mu, NULL);
	for (i = 0; i < n; i++) {
		struct gw *gw = gw_xcalloc(1, sizeof *gw);

		gw->sh = sh;
		gw->idx = i;
		pthread_mutex_init(&gw->inbox_mu, NULL);
		sh->loop[i] = gw;
	}
	return sh;
}

/*
 * Loop i's id: with one loop, the configured (or random) id; with several,
 * its first three characters and the loop's character.  Its bridge: the
 * configured endpoint for loop 0; for loop i, tcp://HOST:PORT+i (a
 * wildcard port stays a wildcard), or ipc://PATH.i.
 */
int
gw_loops_names(struct gw *gw, const char *base, const char **why)
{
	static char msg[320];
	const char *b = gw->conf.bridge;

	gw_inbox_id(gw, base);
	snprintf(gw->bridge_ep, sizeof gw->bridge_ep, "%s", b);
	if (gw->sh->n == 1 || gw->idx == 0)
		return 0;
	if (strncmp(b, "tcp://", 6) == 0) {
		const char *colon = strrchr(b, ':');
		unsigned long port;

		if (colon != NULL && gw_parse_uint(colon + 1, 1, 65535, &port) == 0) {
			if (port + (unsigned long)gw->idx > 65535) {
				snprintf(msg, sizeof msg, "bridge endpoint %s: loop %d would need port %lu "
				    "(each loop binds the port + its number); choose a lower port", b,
				    gw->idx, port + (unsigned long)gw->idx);
				*why = msg;
				return -1;
			}
			snprintf(gw->bridge_ep, sizeof gw->bridge_ep, "%.*s:%lu", (int)(colon - b), b,
			    port + (unsigned long)gw->idx);
		}
	} else {
		snprintf(gw->bridge_ep, sizeof gw->bridge_ep, "%s.%d", b, gw->idx);
	}
	return 0;
}

/*
 * The HTTP server's hand-off hook: a request naming a sid of another loop
 * goes there whole (bytes after an upgrade's headers with it, read by the
 * owner as the new protocol's); the prepare step moves c.  1 if it went.
 */
static int
loops_handoff(struct gw_conn *c, struct http_req *req, const char *rest, size_t nrest)
{
	struct gw *gw = c->gw, *to;
	char sid[64];

	if (http_req_query(req, "sid", sid, sizeof sid) == NULL ||
	    (to = gw_inbox_owner(gw, sid)) == NULL)
		return 0;
	if (nrest > 0) {
		c->stash = gw_xmalloc(nrest);
		memcpy(c->stash, rest, nrest);
		c->stash_len = (uint32_t)nrest;
	}
	if (gw->nhandoff == gw->handoff_cap) {
		gw->handoff_cap = gw->handoff_cap ? gw->handoff_cap * 2 : 16;
		gw->handoff = gw_xrealloc(gw->handoff, gw->handoff_cap * sizeof *gw->handoff);
	}
	gw->handoff[gw->nhandoff++] = (struct gw_msg){ .kind = to->idx, .conn = c };
	gw_wake(gw);
	return 1;
}

/* Move every queued connection to its loop. */
void
gw_loops_flush(struct gw *gw)
{
	uint32_t i;

	for (i = 0; i < gw->nhandoff; i++) {
		struct gw_conn *c = gw->handoff[i].conn;
		struct gw *to = gw->sh->loop[gw->handoff[i].kind];

		if (gw_conn_release(c) == 0)
			gw_inbox_post(to, &(struct gw_msg){ .kind = GW_MSG_CONN, .conn = c });
	}
	gw->nhandoff = 0;
}

/* A connection from another loop: adopt it and serve its request. */
static void
loops_adopt(struct gw *gw, struct gw_conn *c)
{
	struct http_req *req = c->req;

	gw_conn_adopt(gw, c);
	gw->st.handovers++;
	gw_debug("conn %llu %s: request for a session of this loop, handed over",
	    (unsigned long long)c->id, c->peer);
	if (req->upgrade) {
		char *rest = c->stash;
		uint32_t n = c->stash_len;

		c->stash = NULL;
		c->stash_len = 0;
		gw_http_upgrade(c, req, rest, n);
		free(rest);
		return;
	}
	if (req->method == HTTP_POST) {
		const char *why = "refused";
		int status = gw_http_headers(c, req, &why);

		if (status != 0) {
			c->flags |= GW_CONN_CLOSE_AFTER;
			gw_http_error(c, status, 3, http_status_text(status));
			return;
		}
	}
	gw_http_request(c, req);
}

static void
inbox_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct gw *gw = w->data;
	struct gw_msg *v;
	uint32_t n, i;

	pthread_mutex_lock(&gw->inbox_mu);
	v = gw->inbox;
	n = gw->ninbox;
	gw->inbox = NULL;
	gw->ninbox = gw->inbox_cap = 0;
	pthread_mutex_unlock(&gw->inbox_mu);
	for (i = 0; i < n; i++) {
		switch (v[i].kind) {
		case GW_MSG_CONN:
			loops_adopt(gw, v[i].conn);
			break;
		case GW_MSG_STOP:
		case GW_MSG_STOP_NOW:
			gw_main_stop(gw, v[i].kind == GW_MSG_STOP_NOW);
			break;
		case GW_MSG_RELOAD:
			gw_main_reload_apply(gw, v[i].conf);
			break;
		case GW_MSG_CLOSE_SID:
			eio_poll_oversized_msg(gw, &v[i]);
			break;
		default:
			break;
		}
	}
	free(v);
	gw_wake(gw);
}

/* Publish this loop's figures for the loop that answers /metrics. */
static void
snap_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct gw *gw = t->data;
	struct gw_snap sn;

	gw_snap_take(gw, &sn);
	pthread_mutex_lock(&gw->sh->mu);
	gw->sh->snaps[gw->idx] = sn;
	pthread_mutex_unlock(&gw->sh->mu);
}

void
gw_loops_watch(struct gw *gw)
{
	ev_async_init(&gw->inbox_w, inbox_cb);
	gw->inbox_w.data = gw;
	ev_async_start(gw->loop, &gw->inbox_w);
	if (gw->sh->n > 1) {
		gw->http_handoff = loops_handoff;
		ev_timer_init(&gw->snap_t, snap_cb, 1., 1.);
		gw->snap_t.data = gw;
		ev_timer_start(gw->loop, &gw->snap_t);
	}
}

/* Sums over every loop. */
void
gw_snap_total(struct gw *gw, struct gw_snap *sum)
{
	int i;

	gw_snap_take(gw, sum);
	if (gw->sh->n == 1)
		return;
	pthread_mutex_lock(&gw->sh->mu);
	for (i = 0; i < gw->sh->n; i++) {
		const struct gw_snap *o = &gw->sh->snaps[i];
		const uint64_t *src = (const uint64_t *)(const void *)&o->st;
		uint64_t *dst = (uint64_t *)(void *)&sum->st;
		size_t k;

		if (i == gw->idx)
			continue;
		for (k = 0; k < sizeof o->st / sizeof(uint64_t); k++)
			dst[k] += src[k];
		sum->conns += o->conns;
		sum->polling += o->polling;
		sum->websocket += o->websocket;
		sum->sockets += o->sockets;
		sum->rooms += o->rooms;
		sum->backlog += o->backlog;
		sum->outq += o->outq;
		sum->parsers += o->parsers;
		sum->cluster_up += o->cluster_up;
		if (o->nsps > sum->nsps)
			sum->nsps = o->nsps;	/* the same names on every loop, mostly */
	}
	pthread_mutex_unlock(&gw->sh->mu);
}
