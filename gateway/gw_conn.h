/*
 * gw_conn.h: one client TCP connection (HTTP, then maybe WebSocket).
 *
 * Owned by gw->conns; addressed by a monotonic id in logs.  A session
 * borrows its connections (c->sess / s->get / s->ws point at each other and
 * are cleared on either side's close).  Freed only by the reaper.
 */
#ifndef GW_CONN_H
#define GW_CONN_H

#include "gw.h"
#include "http.h"

#define GW_CONN_CLOSING		0x01	/* watchers stopped, queued for the reaper */
#define GW_CONN_CLOSE_AFTER	0x02	/* close once the output queue is empty */
#define GW_CONN_IN_WRITERS	0x04	/* linked on gw->writers */
#define GW_CONN_WWATCH		0x08	/* io watches EV_WRITE too (output blocked) */
#define GW_CONN_CLOSE_ASAP	0x10	/* over its output bound: closed by the flush step */

struct gw_conn;

/*
 * What a connection's bytes go to, and who is told when it goes: the
 * protocol it speaks, as redis (a read handler and private data), nginx
 * (c->read->handler, c->data) and libuv (read_cb, data) do it, so gw_conn.c
 * names no protocol.  Set at accept (gw_http_conn_ops: the HTTP reader,
 * chosen by gw_listen.c) and swapped by the layer that takes the
 * connection over: Engine.IO while a session holds an HTTP connection (a
 * parked GET, a POST being read: eio_poll.c, the same reader with a gone
 * hook) and at the WebSocket upgrade (eio_ws.c, gw_conn_set_ops).  Static
 * tables, shared by every loop.  Members that may be NULL say so.
 */
struct gw_conn_ops {
	/* c is accepted: set up its protocol state (c->hin).  May be NULL. */
	void (*open)(struct gw_conn *c);
	/* Bytes read from the socket (or kept in c->stash); c is not closing. */
	void (*input)(struct gw_conn *c, const char *p, size_t n);
	/* The deadline (gw->t_http) passed, no file being sent.  May be NULL: closed as idle. */
	void (*timeout)(struct gw_conn *c);
	/*
	 * c is closing, or leaving its loop (gw_conn_release): whatever
	 * borrows it lets go (c->sess is cleared).  May be NULL.
	 */
	void (*gone)(struct gw_conn *c);
	/* Free the protocol state (c->hin, c->data): the reaper, or a swap.  May be NULL. */
	void (*free)(struct gw_conn *c);
};

struct gw_conn {
	struct gw *gw;
	uint64_t id;
	int fd;
	uint8_t flags;
	uint8_t metrics;		/* accepted on the metrics listener */
	uint8_t counted;		/* counted in gw->sh->nconns (max_connections) */
	uint8_t file_keep;		/* keep-alive once the file is sent (see file_fd) */
	ev_io io;			/* EV_READ, and EV_WRITE while output is blocked */
	struct gw_tnode tmo;		/* HTTP: idle / slow-request deadline (gw->t_http) */
	struct gw_outq out;
	const struct gw_conn_ops *ops;	/* its protocol (static); never NULL */
	void *data;			/* the protocol's private data (WebSocket: struct eio_ws), owned */
	struct http_in *hin;		/* HTTP only (NULL after the upgrade), owned */
	struct http_req *req;		/* request in service (e.g. a parked long-poll GET) */
	char *stash;			/* bytes read while a request was in service */
	uint32_t stash_len;
	int file_fd;			/* see below */
	struct eio_session *sess;	/* the session holding c, borrowed (gw_conn.c never reads it) */
	struct gw_ip *ip;		/* its address's entry (a reference) */
	/*
	 * A static file being sent (file_fd >= 0, owned, closed by the reaper):
	 * bytes [file_off, file_end) go out by sendfile(2) once the output
	 * queue is empty, at most GW_FILE_TURN bytes per loop turn, so a file
	 * of any size takes no memory and other connections are served in
	 * between.  The request stays in service (c->req) until the last byte,
	 * so pipelined requests wait in the stash and the connection is never
	 * handed to another loop mid-file.
	 */
	uint64_t file_off, file_end;
	char peer[56];			/* "ip:port" */
	TAILQ_ENTRY(gw_conn) link;	/* gw->conns or gw->closing */
	TAILQ_ENTRY(gw_conn) wlink;	/* gw->writers */
};

/* gw_conn.c */
/* A connection on an accepted fd speaking ops (NULL: refused by a limit, fd closed). */
struct gw_conn *gw_conn_new(struct gw *gw, int fd, const struct sockaddr *sa, socklen_t salen,
    int metrics, const struct gw_conn_ops *ops);
/* Switch c to another protocol: the old ops free their state, ops and data take over. */
void gw_conn_set_ops(struct gw_conn *c, const struct gw_conn_ops *ops, void *data);
/* Queue a slice for writing (takes a reference). Closes on output overflow. */
void gw_conn_write(struct gw_conn *c, struct gw_buf *b, uint32_t off, uint32_t end);
/* Queue a copy of bytes. */
void gw_conn_write_copy(struct gw_conn *c, const void *p, size_t n);
/* Close now: stop watchers, detach from the session, queue for the reaper. */
void gw_conn_close(struct gw_conn *c, const char *why);
/* Close once everything queued is written. */
void gw_conn_close_after_write(struct gw_conn *c);
/* Write what can be written now (called before the loop sleeps). */
void gw_conn_flush(struct gw_conn *c);
/* Flush every connection with pending output (the prepare step). */
void gw_conn_flush_all(struct gw *gw);
/* Reap closed connections (called by the prepare step). */
void gw_conn_reap(struct gw *gw);
/* Feed bytes as if read from the socket (to c->ops->input unless closing). */
void gw_conn_input(struct gw_conn *c, const char *p, size_t n);
/*
 * threads = N: take c off its loop (watchers, lists; pending output copied
 * into a private buffer) so another loop may adopt it: 0, or -1 if c is
 * closing (the reaper frees it).
 */
int gw_conn_release(struct gw_conn *c);
/* Put a released connection on gw's loop (its request is served by the caller). */
void gw_conn_adopt(struct gw *gw, struct gw_conn *c);
/*
 * Send bytes [0, size) of the regular file fd after what is queued, then
 * finish the request in service (keep: keep the connection); takes fd.
 */
void gw_conn_send_file(struct gw_conn *c, int fd, uint64_t size, int keep);
/* The request in service is answered: resume reading requests. */
void gw_conn_request_done(struct gw_conn *c);
/* Set up gw->t_http (loop start). */
void gw_conn_timers_init(struct gw *gw);

/* gw_http.c: HTTP on a connection, routing and responses */
/* What an accepted connection speaks first (gw_listen.c). */
extern const struct gw_conn_ops gw_http_conn_ops;

/*
 * What an endpoint's path is served by, registered by the layer above
 * (struct gw_endpoint route: Engine.IO's eio_http_route, set by gw_main.c):
 * gw_http.c finds the endpoint, answers CORS (a refused Origin reaches no
 * route) and OPTIONS, and calls these; it names no Engine.IO function.
 * Members that may be NULL say so.
 */
struct gw_http_route {
	/*
	 * Headers of a request are in, before its body: 0, or a status to
	 * refuse it with (why: for the log).  May be NULL.
	 */
	int (*headers)(struct gw_conn *c, struct http_req *req, const struct gw_endpoint *ep,
	    const char **why);
	/* A complete request (not OPTIONS): answer it, now or later. */
	void (*request)(struct gw_conn *c, struct http_req *req, const struct gw_endpoint *ep);
	/* An Upgrade: websocket request; rest: the bytes after its headers.  May be NULL (400). */
	void (*upgrade)(struct gw_conn *c, struct http_req *req, const struct gw_endpoint *ep,
	    const char *rest, size_t nrest);
	/* The HTTP reader refused a request (answered with status by HTTP).  May be NULL. */
	void (*refused)(struct gw_conn *c, const struct http_req *req, const struct gw_endpoint *ep,
	    int status);
};

/* Route a complete request (also for a connection handed over by another loop). */
void gw_http_request(struct gw_conn *c, struct http_req *req);
/* Headers of a request are complete (before its body): 0, or a status to refuse. */
int gw_http_headers(void *conn, struct http_req *req, const char **why);
/* Route an Upgrade request; rest: the bytes read after its headers. */
void gw_http_upgrade(struct gw_conn *c, struct http_req *req, const char *rest, size_t nrest);
/*
 * Answer the request in service: status line, standard and CORS headers,
 * extra header lines (each ending in CRLF, may be NULL), then the body slices.
 */
void gw_http_respond(struct gw_conn *c, int status, const char *ctype,
    const char *extra, const void *body, size_t len);
void gw_http_respond_slices(struct gw_conn *c, int status, const char *ctype,
    const struct gw_slice *sl, int nsl, size_t len);
/* Answer an Engine.IO error: status with {"code":code,"message":msg}. */
void gw_http_error(struct gw_conn *c, int status, int code, const char *msg);
/* Whether the request's Origin is allowed (no Origin: allowed). */
int gw_http_origin_ok(struct gw *gw, const struct http_req *req);
int gw_http_origin_allowed(struct gw *gw, const struct http_req *req, const char *origin);
/* Append "Header: value\r\n" CORS lines for req into dst; returns length. */
size_t gw_http_cors_headers(struct gw *gw, const struct http_req *req, char *dst, size_t cap);

#endif
