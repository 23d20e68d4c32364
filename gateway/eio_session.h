/*
 * eio_session.h: Engine.IO v4 sessions and their transports.
 *
 * A session is owned by the sid table in struct gw.  It outlives its
 * transports: the polling requests and the WebSocket borrow it.  Closing it
 * removes it from the table, answers a parked GET, closes the WebSocket and
 * queues it for the reaper.
 */
#ifndef EIO_SESSION_H
#define EIO_SESSION_H

#include "gw.h"
#include "gw_conn.h"
#include "eio_packet.h"

enum eio_transport { EIO_T_POLLING = 0, EIO_T_WS = 1 };
enum eio_state { EIO_S_OPEN = 0, EIO_S_UPGRADING = 1, EIO_S_CLOSED = 2 };

#define EIO_V3 0x01		/* Engine.IO v3 session (Socket.IO 2.x client) */
#define EIO_V3_B64 0x02		/* v3 client without binary support (b64=1) */
#define EIO_V3_JSONP 0x04	/* v3 JSONP polling (j=) */

#define EIO_SID_LEN 24	/* gateway id (4) + 20 random url-safe chars (120 bits) */

/*
 * Packets waiting for the next polling GET (or for the end of an upgrade).
 * Bound: conf.max_outq bytes; past it the session is closed (slow consumer).
 */
struct eio_pktq {
	struct gw_buf **v;
	uint32_t n, cap;
	size_t bytes;
};

struct eio_session {
	struct gw *gw;
	struct eio_session *hnext;	/* sid table chain, then the dead list */
	const struct gw_endpoint *ep;
	char sid[EIO_SID_LEN + 1];
	uint8_t transport;
	uint8_t state;
	uint8_t ping_sent;
	uint8_t client_closed;		/* closed by the client's close packet */
	uint8_t flush_listed;		/* on gw->poll_flush */
	uint8_t linger;			/* closed; the next GET collects its last packets */
	uint8_t close_pending;		/* on gw->sess_closing */
	uint8_t v3;			/* EIO_V3 flags: an Engine.IO v3 client */
	uint16_t jsonp;			/* v3 JSONP: the j index of its answers */
	struct eio_session *fnext;	/* gw->poll_flush chain */
	struct gw_tnode hb;		/* next ping (gw->t_ping), or the pong deadline (t_pong) */
	struct gw_conn *get;		/* parked polling GET, borrowed */
	struct gw_conn *post;		/* POST whose body is being read, borrowed */
	struct gw_conn *ws;		/* WebSocket (transport or probe), borrowed */
	struct eio_pktq q;
	const char *close_reason;	/* static */
	struct eio_session *cnext;	/* gw->sess_closing chain */
	struct sio_conn *sio;		/* Socket.IO state (Socket.IO endpoints), owned */
	struct gw_ip *ip;		/* the handshake's address (a reference) */
	uint32_t worker;		/* bridge worker id (0: none yet) */
	uint32_t seq;			/* next bridge sequence number */
};

/*
 * The layer above an endpoint's sessions: Socket.IO (sio_eio.c) or the raw
 * Engine.IO adapter that hands them to workers (eio_bridge.c).  Each
 * endpoint carries one (struct gw_endpoint h, chosen by its kind when the
 * loop starts); the session code calls through it and names neither.
 * Members that may be NULL say so.
 */
struct eio_handler {
	/*
	 * A handshake on c asks for a session on ep: 0, or -1 to refuse it
	 * with a 503 whose text is put in msg (logged).  May be NULL.
	 */
	int (*admit)(struct gw_conn *c, const struct gw_endpoint *ep, char *msg, size_t cap);
	/*
	 * The session is created (sid, transport, v3 flags, address): take it,
	 * 0; or -1 to have it freed quietly and the handshake refused (503).
	 */
	int (*open)(struct eio_session *s, struct gw_conn *c, const struct http_req *req,
	    const char *transport);
	/* A v3 session's open packet is sent.  May be NULL. */
	void (*v3_opened)(struct eio_session *s);
	/* One message packet from the client (text, or binary when binary). */
	void (*message)(struct eio_session *s, const char *data, size_t len, int binary);
	/* The session is closing (once; reason is static). */
	void (*close)(struct eio_session *s, const char *reason);
	/* A ping went out; the pong to it came.  May be NULL. */
	void (*ping)(struct eio_session *s);
	void (*pong)(struct eio_session *s);
};

/*
 * What HTTP hands an Engine.IO endpoint's requests to (struct gw_http_route,
 * gw_conn.h; set on every endpoint by gw_main.c): polling and handshakes,
 * the WebSocket upgrade, a POST's headers, a request refused as too large.
 */
extern const struct gw_http_route eio_http_route;
/* Route an Engine.IO WebSocket upgrade on endpoint ep. */
void eio_ws_upgrade(struct gw_conn *c, struct http_req *req, const struct gw_endpoint *ep,
    const char *rest, size_t nrest);

struct eio_session *eio_session_find(struct gw *gw, const char *sid);
/*
 * The session named by sid that a request on c may act on: on endpoint ep
 * and, with sid_bind_ip, opened from c's address; else NULL (logged unless
 * quiet).  The Origin is checked before (gw_http.c).  Every path that
 * touches a session from a request goes through here first.
 */
struct eio_session *eio_session_authorised(struct gw_conn *c, const char *sid,
    const struct gw_endpoint *ep, int quiet);
/* Queue one encoded packet (takes a reference). */
void eio_session_send(struct eio_session *s, struct gw_buf *pkt);
/* Close with a reason (sent to the worker); idempotent.  What was queued is dropped. */
void eio_session_close(struct eio_session *s, const char *reason);
/*
 * Close deliberately (a worker asked, or the server's Socket.IO decision),
 * with reason "forced close": a polling client still gets what was queued
 * (the session lingers for its next GET, up to pingTimeout).  Idempotent.
 */
void eio_session_close_forced(struct eio_session *s);
/* Handle one inbound packet from a transport connection. */
void eio_session_packet(struct eio_session *s, struct gw_conn *c, const struct eio_in *pkt);
/* A borrowed connection is closing. */
void eio_session_conn_gone(struct eio_session *s, struct gw_conn *c);
/* Free sessions closed during this loop turn. */
void eio_session_reap(struct gw *gw);
/* Answer parked GETs that have packets (batched once per loop turn). */
void eio_session_flush_polls(struct gw *gw);
/* Bytes queued for the client (polling queue and WebSocket output). */
size_t eio_session_pending(const struct eio_session *s);
/* Close at the next prepare step (safe inside fan-out loops). */
void eio_session_close_later(struct eio_session *s, const char *reason);
/* Close the sessions marked by eio_session_close_later(). */
void eio_session_close_pending(struct gw *gw);
/* Close every session (shutdown). */
void eio_session_close_all(struct gw *gw, const char *reason);
/* Set up gw->t_ping and gw->t_pong (loop start). */
void eio_session_timers_init(struct gw *gw);

/* Open a session on a new WebSocket (no sid); NULL when refused (answered). */
struct eio_session *eio_session_open_ws(struct gw_conn *c, struct http_req *req,
    const struct gw_endpoint *ep);
/* Send the open packet (first frame of a WebSocket session). */
void eio_session_send_open(struct eio_session *s);

/* eio_poll.c */
/*
 * A request on ep (its Origin allowed) was over maxPayload: close the
 * session it names if it may act on it, here or on the owning loop.
 */
void eio_poll_oversized(struct gw_conn *c, const struct http_req *req,
    const struct gw_endpoint *ep);
/* The owning loop's half of that (GW_MSG_CLOSE_SID); drops m->ip's reference. */
void eio_poll_oversized_msg(struct gw *gw, const struct gw_msg *m);
/*
 * An HTTP connection held by s (a parked GET, a POST whose body is read):
 * c->sess is s, and c's ops tell s when c goes.  eio_poll_release: c is
 * HTTP's alone again.
 */
void eio_poll_lend(struct gw_conn *c, struct eio_session *s);
void eio_poll_release(struct gw_conn *c);
void eio_poll_get(struct eio_session *s, struct gw_conn *c);
void eio_poll_post(struct eio_session *s, struct gw_conn *c, struct http_req *req);
/* A POST's headers are in: one POST at a time per session (0, or 400). */
int eio_poll_post_begin(struct gw_conn *c, struct http_req *req, const struct gw_endpoint *ep,
    const char **why);
/* Answer the parked GET with the queued packets (or with one packet). */
void eio_poll_flush(struct eio_session *s);
void eio_poll_answer_one(struct eio_session *s, int type);

/* eio_v3_io.c: Engine.IO v3 sessions */
/* 4, 3 (when allow_eio3) or 0 (unsupported) for a handshake's EIO value. */
int eio3_version(struct gw *gw, const char *eio);
void eio3_timers_init(struct gw *gw);
void eio3_session_init(struct eio_session *s, struct http_req *req);
void eio3_got_ping(struct eio_session *s);
int eio3_jsonp_allowed(struct gw *gw, const struct http_req *req);
void eio3_poll_respond(struct eio_session *s, struct gw_conn *c, struct gw_buf *const *v,
    uint32_t n);
int eio3_decode_post(struct eio_session *s, struct http_req *req, eio_packet_fn fn, void *arg,
    const char **why);
void eio3_session_opened(struct eio_session *s);

/* eio_ws.c */
/* Send a packet as a frame on a WebSocket connection. */
void eio_ws_send(struct gw_conn *c, struct gw_buf *pkt);
/* Send a close frame and close once written. */
void eio_ws_close(struct gw_conn *c, uint16_t code);
/* WebSocket connections holding a frame parser (wslay context) now: metrics. */
uint64_t eio_ws_parsers(struct gw *gw);

#endif
