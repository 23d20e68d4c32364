/*
 * gw_bridge.h: the gateway side of the bridge (ROUTER socket, workers,
 * credit, heartbeats).  Protocol: siogate-protocol(7), codec: bridge/.
 */
#ifndef GW_BRIDGE_H
#define GW_BRIDGE_H

#include "gw.h"
#include "http.h"

#include "br_proto.h"

struct eio_session;
struct gw_curve;

/*
 * An event for a worker, queued for credit (backlog) or sent and not yet
 * paid back by CREDIT (in flight): kept so that it can be redelivered to
 * another worker if this one is lost.  id: the socket id (Socket.IO) or
 * sid (raw Engine.IO) it is about; ack1: the client's ack id + 1 (0: none).
 * hold: a SIO_CONNECT or SIO_EVENT that the socket's next events wait for
 * (sio_socket_release() when it leaves the queues without going on to
 * another worker).
 */
struct gw_pending {
	struct gw_buf *b;	/* the encoded message (NULL: done, acked) */
	ev_tstamp t;
	uint64_t ack1;
	uint8_t type;
	uint8_t hold;
	char id[28];
};

/* A ring of pending events. */
struct gw_pq {
	struct gw_pending *v;
	uint32_t head, n, cap;
};

/*
 * What an event is about (for redelivery and error acks).  hold: see
 * struct gw_pending; t: when it arrived from its client (0: now), from
 * which its expiry counts.
 */
struct gw_evmeta {
	int type;
	const char *id;
	uint64_t ack1;
	int hold;
	ev_tstamp t;
};

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
 * gw_bridge_add_layer(): the worker commands it takes and its part in a
 * worker's loss.  Layers are called in the order they were registered.
 */
struct gw_bridge_layer {
	/* A command from registered worker w: 1 if taken, 0 if m's type is not its. */
	int (*command)(struct gw *gw, struct gw_worker *w, const struct br_msg *m);
	/* Worker dead is lost: its sessions to other workers (before its events are). */
	void (*rehome)(struct gw *gw, uint32_t dead);
	/* Then: close what no worker took. */
	void (*orphans)(struct gw *gw);
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
 * Send an event to a worker, or queue it without credit.  -1 when the
 * backlog is full (force skips the bound).  Frees the encoder.
 */
int gw_bridge_send_event(struct gw *gw, struct gw_worker *w, struct br_enc *e, int force,
    const struct gw_evmeta *meta);
/* A worker answered a client's ack: that event is done (no redelivery). */
void gw_bridge_event_done(struct gw_worker *w, const char *id, size_t idlen, uint64_t ack);
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
/* Events waiting in every worker's backlog. */
unsigned gw_bridge_pending(struct gw *gw);
/*
 * Events waiting or in flight (sent, not yet paid back) to every worker,
 * and client events held behind an earlier event of their socket.
 */
unsigned gw_bridge_unfinished(struct gw *gw);
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
