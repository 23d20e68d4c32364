/*
 * gw_bridge.h: the gateway side of the bridge (ROUTER socket, workers,
 * credit, heartbeats).  Protocol: siogate-protocol(7), codec: bridge/.
 */
#ifndef GW_BRIDGE_H
#define GW_BRIDGE_H

#include "gw.h"
#include "http.h"

#include "br_proto.h"
#include "gw_ledger.h"

struct eio_session;
struct gw_curve;

/* A registered worker.  Owned by the bridge's list. */
struct gw_worker {
	struct gw_worker *next;
	uint32_t id;
	uint8_t rid_len;
	unsigned char rid[255];
	char name[64];
	uint32_t eio_mask;	/* bit per endpoint index (raw endpoints served) */
	char **nsp;		/* Socket.IO namespaces served (exact, or prefix*) */
	uint32_t nnsp;
	uint64_t nsp_open;	/* bit i: nsp[i] needs no connect round trip */
	uint32_t credit;	/* events we may still send */
	uint32_t hb_ms;		/* the worker's advertised interval */
	uint32_t nsess;
	uint8_t dead;		/* unreachable: dropped at the next turn */
	uint8_t batch;		/* said "batch" in HELLO: takes BATCH frames */
	uint8_t unordered;	/* said "ordered": false: a socket's events need not wait */
	struct br_batch out;	/* messages for it this turn (batch workers) */
	ev_tstamp last_rx, last_tx;
	struct gw_pq backlog;		/* events waiting for credit */
	struct gw_pq inflight;		/* events sent, not yet paid back by CREDIT */
};

/*
 * A layer above that must see a SYNC before it is answered (the cluster,
 * registered by gw_bridge_on_sync()): 1 when it takes the SYNC and will
 * call gw_bridge_sync_reply() itself, 0 to have it answered at once.
 */
typedef int (*gw_bridge_sync_fn)(struct gw *gw, const unsigned char *rid, size_t rid_len,
    uint64_t req);

/*
 * The STATUS_REPLY to a STATUS (siogate --status), encoded into e
 * (gw_metrics_status, registered by gw_bridge_on_status()).
 */
typedef void (*gw_bridge_status_fn)(struct gw *gw, struct br_enc *e);

/*
 * A layer above the bridge whose sessions workers serve (eio_bridge.c: raw
 * Engine.IO; sio_bridge.c: Socket.IO), registered with
 * gw_bridge_add_layer(): the worker commands it takes, its part in a
 * worker's loss, and what becomes of its events in the ledger
 * (gw_ledger.c), which knows them only by type, id, ack1 and hold.  This
 * is how the bridge reaches the layers above it: it never calls them by
 * name.  Layers are called in the order they were registered; every hook
 * but command may be NULL, and a hook given an event of another layer's
 * type (p->type) leaves it alone.
 */
struct gw_bridge_layer {
	/* A command from registered worker w: 1 if taken, 0 if m's type is not its. */
	int (*command)(struct gw *gw, struct gw_worker *w, const struct br_msg *m);
	/* Worker dead is lost: its sessions to other workers (before its events are). */
	void (*rehome)(struct gw *gw, uint32_t dead);
	/*
	 * Then, for each of its unfinished events, in order: the worker to
	 * redeliver p to (its session's new owner), or NULL when p ends here
	 * (the layer answers what must be, e.g. an error ack).
	 */
	struct gw_worker *(*redeliver)(struct gw *gw, const struct gw_pending *p);
	/* Then: close what no worker took. */
	void (*orphans)(struct gw *gw);
	/* p waited past conf.event_expiry without credit and is dropped. */
	void (*expired)(struct gw *gw, const struct gw_pending *p);
	/* p, marked hold, left the queues for good: its session's next events may go. */
	void (*release)(struct gw *gw, const struct gw_pending *p);
	/* On the heartbeat timer (a quarter of conf.bridge_hb): the layer's own expiry. */
	void (*tick)(struct gw *gw, ev_tstamp now);
};

#define GW_BRIDGE_LAYERS 4

struct gw_bridge {
	void *zctx, *router;
	struct gw_curve *curve;		/* CURVE and its ZAP handler (gw_curve.c), or NULL */
	ev_io io;
	ev_timer hb;
	ev_prepare flush;		/* last before the loop sleeps: batches out */
	struct gw_worker *workers;
	uint32_t next_wid;
	uint32_t rr;
	int sent;		/* something was sent since the last ZMQ_EVENTS check */
	gw_bridge_sync_fn on_sync;	/* NULL: SYNC is answered at once */
	gw_bridge_status_fn on_status;	/* NULL: STATUS is not answered */
	const struct gw_bridge_layer *layer[GW_BRIDGE_LAYERS];
	uint32_t nlayers;
};

/* The worker with this id (possibly found unreachable this turn), or NULL. */
struct gw_worker *gw_bridge_find_worker(struct gw *gw, uint32_t id);
/*
 * One message to registered worker w, straight out or into its batch, for
 * gw_ledger.c (no credit, no record).  0, or -1 with errno.
 */
int gw_bridge_send_w(struct gw *gw, struct gw_worker *w, const void *p, size_t n);
/* Send a control message (no credit).  Frees the encoder. */
void gw_bridge_send_ctl(struct gw *gw, struct gw_worker *w, struct br_enc *e);
/* Add a layer (at most GW_BRIDGE_LAYERS); the bridge must be started. */
void gw_bridge_add_layer(struct gw *gw, const struct gw_bridge_layer *l);
/* Register (fn) or remove (NULL) the STATUS hook; the bridge must be started. */
void gw_bridge_on_status(struct gw *gw, gw_bridge_status_fn fn);
/* Register (fn) or remove (NULL) the SYNC hook; the bridge must be started. */
void gw_bridge_on_sync(struct gw *gw, gw_bridge_sync_fn fn);
/*
 * SYNC_REPLY {req} to the peer with this routing id (registered or not);
 * nothing once the bridge is stopped.  See bridge_sync().
 */
void gw_bridge_sync_reply(struct gw *gw, const unsigned char *rid, size_t rid_len,
    uint64_t req);
/* ERROR {code, text, ref, [sid]} to a worker. */
void gw_bridge_error(struct gw *gw, struct gw_worker *w, int code, const char *text, int ref,
    const char *sid, size_t sidlen);
/* The worker that should take a new socket of namespace name (NULL: none); *open: no round trip. */
struct gw_worker *gw_bridge_pick_nsp(struct gw *gw, const char *name, size_t n, int *open);
/* Live workers. */
unsigned gw_bridge_workers(struct gw *gw);
/* Whether some live worker serves namespace name. */
int gw_bridge_serves_nsp(struct gw *gw, const char *name, size_t n);

int gw_bridge_start(struct gw *gw, const char **why);
/* Say BYE to every worker and close the socket. */
void gw_bridge_stop(struct gw *gw);
/* Drain the ROUTER socket (edge-triggered ZMQ_FD); called before sleeping. */
void gw_bridge_turn(struct gw *gw);

#endif
