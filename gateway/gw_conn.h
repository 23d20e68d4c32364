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

enum gw_conn_mode { GW_CONN_HTTP = 0, GW_CONN_WS = 1 };

#define GW_CONN_CLOSING		0x01	/* watchers stopped, queued for the reaper */
#define GW_CONN_CLOSE_AFTER	0x02	/* close once the output queue is empty */
#define GW_CONN_IN_WRITERS	0x04	/* linked on gw->writers */
#define GW_CONN_WWATCH		0x08	/* io watches EV_WRITE too (output blocked) */
#define GW_CONN_CLOSE_ASAP	0x10	/* over its output bound: closed by the flush step */

struct eio_ws;

struct gw_conn {
	struct gw *gw;
	uint64_t id;
	int fd;
	uint8_t mode;
	uint8_t flags;
	uint8_t metrics;		/* accepted on the metrics listener */
	uint8_t counted;		/* counted in gw->sh->nconns (max_connections) */
	ev_io io;			/* EV_READ, and EV_WRITE while output is blocked */
	struct gw_tnode tmo;		/* HTTP: idle / slow-request deadline (gw->t_http) */
	struct gw_outq out;
	struct http_in *hin;		/* HTTP mode only */
	struct http_req *req;		/* request in service (e.g. a parked long-poll GET) */
	char *stash;			/* bytes read while a request was in service */
	uint32_t stash_len;
	struct eio_session *sess;	/* borrowed */
	struct eio_ws *ws;		/* WebSocket mode only, owned */
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
	int file_fd;
	uint8_t file_keep;		/* keep-alive once the file is sent */
	uint64_t file_off, file_end;
	char peer[56];			/* "ip:port" */
	TAILQ_ENTRY(gw_conn) link;	/* gw->conns or gw->closing */
	TAILQ_ENTRY(gw_conn) wlink;	/* gw->writers */
};

/* gw_conn.c */
struct gw_conn *gw_conn_new(struct gw *gw, int fd, const struct sockaddr *sa, socklen_t salen,
    int metrics);
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
/* Feed bytes as if read from the socket. */
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

/* gw_http.c: routing and responses */
void gw_http_request(struct gw_conn *c, struct http_req *req);
/* Headers of a request are complete (before its body): 0, or a status to refuse. */
int gw_http_headers(void *conn, struct http_req *req, const char **why);
/*
 * The HTTP reader refused a request (req: what was read of it, or NULL)
 * with status, answered next: what it means above HTTP (a 413 closes the
 * session it names, if it may act on it).
 */
void gw_http_refused(struct gw_conn *c, const struct http_req *req, int status);
void gw_http_upgrade(struct gw_conn *c, struct http_req *req, const char *rest, size_t nrest);
/*
 * Answer the request in service: status line, standard and CORS headers,
 * extra header lines (each ending in CRLF, may be NULL), then the body slices.
 */
void gw_http_respond(struct gw_conn *c, int status, const char *ctype,
    const char *extra, const void *body, size_t len);
void gw_http_respond_slices(struct gw_conn *c, int status, const char *ctype,
    const struct gw_slice *sl, int nsl, size_t len);
/* gw_metrics.c: answer a request on the metrics listener */
void gw_metrics_serve(struct gw_conn *c, struct http_req *req);
/* Answer an Engine.IO error: status with {"code":code,"message":msg}. */
void gw_http_error(struct gw_conn *c, int status, int code, const char *msg);
/* Whether the request's Origin is allowed (no Origin: allowed). */
int gw_http_origin_ok(struct gw *gw, const struct http_req *req);
int gw_http_origin_allowed(struct gw *gw, const struct http_req *req, const char *origin);
/* Append "Header: value\r\n" CORS lines for req into dst; returns length. */
size_t gw_http_cors_headers(struct gw *gw, const struct http_req *req, char *dst, size_t cap);

#endif
