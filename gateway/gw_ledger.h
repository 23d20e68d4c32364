/*
 * gw_ledger.h: the bridge's credit and redelivery ledger: every event sent
 * to a worker is kept until CREDIT pays it back (in flight), or waits for
 * credit (backlog), so that a lost worker's events can go on to another.
 * What an event means is the layers' (struct gw_bridge_layer hooks).
 */
#ifndef GW_LEDGER_H
#define GW_LEDGER_H

#include "gw.h"

struct br_enc;
struct gw_worker;

/*
 * An event for a worker, queued for credit (backlog) or sent and not yet
 * paid back by CREDIT (in flight): kept so that it can be redelivered to
 * another worker if this one is lost.  id: the socket id (Socket.IO) or
 * sid (raw Engine.IO) it is about; ack1: the client's ack id + 1 (0: none).
 * hold: a SIO_CONNECT or SIO_EVENT that the socket's next events wait for
 * (the layers' release hook when it leaves the queues without going on to
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

/*
 * Send an event to a worker, or queue it without credit.  -1 when the
 * backlog is full (force skips the bound).  Frees the encoder.
 */
int gw_bridge_send_event(struct gw *gw, struct gw_worker *w, struct br_enc *e, int force,
    const struct gw_evmeta *meta);
/* A worker answered a client's ack: that event is done (no redelivery). */
void gw_bridge_event_done(struct gw_worker *w, const char *id, size_t idlen, uint64_t ack);
/* Events waiting in every worker's backlog. */
unsigned gw_bridge_pending(struct gw *gw);
/*
 * Events waiting or in flight (sent, not yet paid back) to every worker,
 * and client events held behind an earlier event of their socket.
 */
unsigned gw_bridge_unfinished(struct gw *gw);

/* For gw_bridge.c. */
/* Send queued events while w has credit; they move to in flight. */
void gw_ledger_flush(struct gw *gw, struct gw_worker *w);
/* CREDIT n: the n oldest events in flight are done. */
void gw_ledger_paid(struct gw *gw, struct gw_worker *w, uint64_t n);
/* A new HELLO from w: no socket waits for its events in flight any more. */
void gw_ledger_reset(struct gw *gw, struct gw_worker *w);
/* w is lost (its sessions rehomed): its unfinished events, in order, to the new owners. */
void gw_ledger_lost(struct gw *gw, struct gw_worker *w);
/* Drop w's events that waited past the expiry; the layers answer their acks. */
void gw_ledger_expire(struct gw *gw, struct gw_worker *w, ev_tstamp now);
/* Free w's queues (without releasing anything). */
void gw_ledger_free(struct gw_worker *w);

#endif
