/*
 * gw_http.c: HTTP/1.1 on a connection (gw_http_conn_ops: reading requests,
 * pipelining, the slow-request deadline) and what the gateway does with a
 * complete request: CORS, routing to what an endpoint's path registered
 * (ep->route: Engine.IO's, set by gw_main.c), to the metrics hook on the
 * metrics listener, to another loop (gw->http_handoff), or the static
 * folder; and responses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_conn.h"

#define GW_STASH_MAX (64 * 1024)

static void http_refused(struct gw_conn *c, const struct http_req *req, int status);

/* The endpoint serving path ("/engine.io/" or "/engine.io"), or NULL. */
static const struct gw_endpoint *
http_endpoint(struct gw *gw, const char *path, size_t n)
{
	int i;

	for (i = 0; i < gw->conf.nep; i++) {
		const struct gw_endpoint *ep = &gw->conf.ep[i];

		if (n == ep->plen && memcmp(path, ep->path, n) == 0)
			return ep;
		if (n + 1 == ep->plen && memcmp(path, ep->path, n) == 0)
			return ep;
	}
	return NULL;
}

/* Whether the request's Origin is allowed; a request without one is. */
int
gw_http_origin_ok(struct gw *gw, const struct http_req *req)
{
	const char *origin = http_req_header(req, "origin");

	return origin == NULL || gw_http_origin_allowed(gw, req, origin);
}

/* Whether a page of this origin (scheme://host[:port]) may use the gateway. */
int
gw_http_origin_allowed(struct gw *gw, const struct http_req *req, const char *origin)
{
	const char *host;
	int i;

	if (gw->conf.any_origin)
		return 1;
	for (i = 0; i < gw->conf.norigins; i++) {
		if (strcmp(origin, gw->conf.origins[i]) == 0)
			return 1;
	}
	/* Same origin (scheme://Host) is always allowed: it is no cross-origin request. */
	host = http_req_header(req, "host");
	if (host == NULL)
		return 0;
	if (strncmp(origin, "http://", 7) == 0 && strcmp(origin + 7, host) == 0)
		return 1;
	if (strncmp(origin, "https://", 8) == 0 && strcmp(origin + 8, host) == 0)
		return 1;
	return 0;
}

/* CORS response header lines for an allowed Origin. */
size_t
gw_http_cors_headers(struct gw *gw, const struct http_req *req, char *dst, size_t cap)
{
	const char *origin;
	int n;

	if (req == NULL || (origin = http_req_header(req, "origin")) == NULL ||
	    !gw_http_origin_ok(gw, req))
		return 0;
	n = snprintf(dst, cap, "Access-Control-Allow-Origin: %s\r\n"
	    "Access-Control-Allow-Credentials: true\r\nVary: Origin\r\n", origin);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Build the status line and headers into a fresh buffer. */
static struct gw_buf *
http_head(struct gw_conn *c, int status, const char *ctype, const char *extra,
    size_t len, int *keep)
{
	struct http_req *req = c->req;
	char cors[1024];
	size_t ncors = gw_http_cors_headers(c->gw, req, cors, sizeof cors);
	char head[4096];
	int n;

	*keep = req != NULL && req->keep_alive && !(c->flags & GW_CONN_CLOSE_AFTER);
	cors[ncors] = '\0';
	n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s%s\r\n",
	    status, http_status_text(status), ctype ? ctype : "text/plain; charset=UTF-8",
	    len, cors, extra ? extra : "", *keep ? "" : "Connection: close\r\n");
	if (n < 0 || (size_t)n >= sizeof head)
		n = snprintf(head, sizeof head, "HTTP/1.1 500 Internal Server Error\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n");
	return gw_buf_from(head, (size_t)n);
}

/* Finish a response: close or get ready for the next request. */
static void
http_done(struct gw_conn *c, int keep)
{
	if (!keep)
		gw_conn_close_after_write(c);
	gw_conn_request_done(c);
}

/* Answer with a body given as slices of shared buffers. */
void
gw_http_respond_slices(struct gw_conn *c, int status, const char *ctype,
    const struct gw_slice *sl, int nsl, size_t len)
{
	int keep, i;
	struct gw_buf *h = http_head(c, status, ctype, NULL, len, &keep);

	gw_conn_write(c, h, 0, h->len);
	gw_buf_unref(h);
	for (i = 0; i < nsl; i++)
		gw_conn_write(c, sl[i].b, sl[i].off, sl[i].end);
	http_done(c, keep);
}

/* Answer with a body copied from memory. */
void
gw_http_respond(struct gw_conn *c, int status, const char *ctype,
    const char *extra, const void *body, size_t len)
{
	int keep;
	struct gw_buf *h = http_head(c, status, ctype, extra, len, &keep);

	gw_conn_write(c, h, 0, h->len);
	gw_buf_unref(h);
	if (len > 0)
		gw_conn_write_copy(c, body, len);
	http_done(c, keep);
}

/* Answer an Engine.IO error. */
void
gw_http_error(struct gw_conn *c, int status, int code, const char *msg)
{
	char body[256];
	int n = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code, msg);

	gw_http_respond(c, status, "application/json", NULL, body, (size_t)n);
}

/* A CORS preflight for an Engine.IO endpoint. */
static void
http_preflight(struct gw_conn *c, struct http_req *req)
{
	const char *rh = http_req_header(req, "access-control-request-headers");
	char extra[1024];

	snprintf(extra, sizeof extra, "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
	    "%s%s%sAccess-Control-Max-Age: 86400\r\n",
	    rh ? "Access-Control-Allow-Headers: " : "", rh ? rh : "", rh ? "\r\n" : "");
	gw_http_respond(c, 204, "text/plain", extra, NULL, 0);
}

/* Content type by file extension. */
static const char *
http_mime(const char *path)
{
	static const struct { const char *ext, *type; } t[] = {
		{ ".html", "text/html; charset=UTF-8" }, { ".js", "application/javascript; charset=UTF-8" },
		{ ".mjs", "application/javascript; charset=UTF-8" }, { ".css", "text/css; charset=UTF-8" },
		{ ".json", "application/json" }, { ".map", "application/json" },
		{ ".png", "image/png" }, { ".svg", "image/svg+xml" }, { ".ico", "image/x-icon" },
		{ ".txt", "text/plain; charset=UTF-8" },
	};
	const char *dot = strrchr(path, '.');
	size_t i;

	for (i = 0; dot != NULL && i < sizeof t / sizeof t[0]; i++) {
		if (strcmp(dot, t[i].ext) == 0)
			return t[i].type;
	}
	return "application/octet-stream";
}

/* Whether a path has no "." or ".." segment and no empty inner segment. */
static int
http_path_safe(const char *path)
{
	const char *p = path;

	while (*p == '/') {
		const char *seg = p + 1, *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);

		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		if (n == 0 && end != NULL)
			return 0;
		if (end == NULL)
			return 1;
		p = end;
	}
	return *p == '\0';
}

/*
 * Answer with the regular file rel below dir; 0 if served, -1 if there is
 * none.  The path cannot leave dir (gw_open_beneath); opening never waits
 * (O_NONBLOCK: a FIFO or device is opened and refused at once, HEAD opens
 * with O_PATH, so not even that); the body is streamed from the file
 * (gw_conn_send_file), whatever its size.
 */
static int
http_send_file(struct gw_conn *c, struct http_req *req, const char *dir, const char *rel)
{
	int head = req->method == HTTP_HEAD;
	struct gw_buf *h;
	struct stat st;
	int dfd, fd, keep;

	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	fd = gw_open_beneath(dfd, rel, head ? O_PATH : O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	close(dfd);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	h = http_head(c, 200, http_mime(rel), NULL, (size_t)st.st_size, &keep);
	gw_conn_write(c, h, 0, h->len);
	gw_buf_unref(h);
	if (head || st.st_size == 0) {
		close(fd);
		http_done(c, keep);
		return 0;
	}
	gw_conn_send_file(c, fd, (uint64_t)st.st_size, keep);
	return 0;
}

/* Serve a file from the static folder; 0 if served, -1 if not found. */
static int
http_static(struct gw_conn *c, struct http_req *req)
{
	const char *dir = c->gw->conf.static_dir, *path = req->buf + req->path;
	char rel[4096];
	int n;

	if (dir == NULL || (req->method != HTTP_GET && req->method != HTTP_HEAD))
		return -1;
	if (!http_path_safe(path))
		return -1;
	n = snprintf(rel, sizeof rel, "%s%s", path + 1,
	    path[strlen(path) - 1] == '/' ? "index.html" : "");
	if (n < 0 || (size_t)n >= sizeof rel)
		return -1;
	return http_send_file(c, req, dir, rel);
}

/*
 * The Socket.IO browser client at <path>socket.io.js (and its minified,
 * ESM and source-map siblings), from --client-dir, like the Node server.
 */
static int
http_client_js(struct gw_conn *c, struct http_req *req)
{
	static const char *const names[] = { "socket.io.js", "socket.io.min.js",
		"socket.io.esm.min.js", "socket.io.js.map", "socket.io.min.js.map",
		"socket.io.esm.min.js.map" };
	const char *dir = c->gw->conf.client_dir, *path = req->buf + req->path;
	size_t i;
	int e;

	if (dir == NULL || (req->method != HTTP_GET && req->method != HTTP_HEAD))
		return -1;
	for (e = 0; e < c->gw->conf.nep; e++) {
		const struct gw_endpoint *ep = &c->gw->conf.ep[e];

		if (ep->kind != GW_EP_SIO || req->path_len <= ep->plen ||
		    memcmp(path, ep->path, ep->plen) != 0)
			continue;
		for (i = 0; i < sizeof names / sizeof names[0]; i++) {
			if (strcmp(path + ep->plen, names[i]) == 0)
				return http_send_file(c, req, dir, names[i]);
		}
	}
	return -1;
}

/*
 * threads = N: hand the request to the loop owning its session, if another
 * one (the hook gw_loops.c sets): 1 if handed over.  rest: bytes read after
 * an upgrade's headers, which go along.
 */
static int
http_handoff(struct gw_conn *c, struct http_req *req, const char *rest, size_t nrest)
{
	return c->gw->http_handoff != NULL && c->gw->http_handoff(c, req, rest, nrest);
}

/*
 * A request's headers are in (before its body): its endpoint's route may
 * refuse it (a second POST on a session: a status), or note it.  Only an
 * allowed Origin reaches the route: a refused one touches no session and
 * gets its answer when complete.
 */
int
gw_http_headers(void *conn, struct http_req *req, const char **why)
{
	struct gw_conn *c = conn;
	const struct gw_endpoint *ep;

	ep = http_endpoint(c->gw, req->buf + req->path, req->path_len);
	if (ep == NULL || ep->route->headers == NULL || !gw_http_origin_ok(c->gw, req))
		return 0;
	return ep->route->headers(c, req, ep, why);
}

/*
 * A request refused by the HTTP reader with status (answered by the
 * caller): its endpoint's route is told (Engine.IO closes the session a
 * request over max_payload names, if it may act on it).
 */
static void
http_refused(struct gw_conn *c, const struct http_req *req, int status)
{
	const struct gw_endpoint *ep;

	if (req == NULL || req->path_len == 0)
		return;
	ep = http_endpoint(c->gw, req->buf + req->path, req->path_len);
	if (ep != NULL && ep->route->refused != NULL && gw_http_origin_ok(c->gw, req))
		ep->route->refused(c, req, ep, status);
}

/* Route one complete request. */
void
gw_http_request(struct gw_conn *c, struct http_req *req)
{
	struct gw *gw = c->gw;
	const struct gw_endpoint *ep = http_endpoint(gw, req->buf + req->path, req->path_len);

	if (c->metrics) {
		if (gw->http_metrics != NULL)
			gw->http_metrics(c, req);
		else
			gw_http_respond(c, 404, "text/plain; charset=UTF-8", NULL, "Not Found\n", 10);
		return;
	}
	if (ep != NULL && http_handoff(c, req, NULL, 0))
		return;
	if (ep != NULL) {
		if (!gw_http_origin_ok(gw, req)) {
			const char *o = http_req_header(req, "origin");
			char esc[256];

			gw_warn("conn %llu %s: origin %s not allowed on %s", (unsigned long long)c->id,
			    c->peer, gw_log_escape(esc, sizeof esc, o, strlen(o)), ep->path);
			gw->st.err_origin++;
			gw_http_error(c, 403, 4, "Forbidden");
			return;
		}
		if (req->method == HTTP_OPTIONS) {
			http_preflight(c, req);
			return;
		}
		ep->route->request(c, req, ep);
		return;
	}
	if (http_client_js(c, req) == 0 || http_static(c, req) == 0)
		return;
	gw_http_respond(c, 404, "text/plain; charset=UTF-8", NULL, "Not Found\n", 10);
}

/* Route an Upgrade request; bytes after the headers are in rest. */
void
gw_http_upgrade(struct gw_conn *c, struct http_req *req, const char *rest, size_t nrest)
{
	struct gw *gw = c->gw;
	const struct gw_endpoint *ep = http_endpoint(gw, req->buf + req->path, req->path_len);
	const char *up = http_req_header(req, "upgrade");

	/* Bytes after the headers go along (read by the owner as the new protocol's). */
	if (ep != NULL && http_handoff(c, req, rest, nrest))
		return;
	if (ep == NULL) {
		c->flags |= GW_CONN_CLOSE_AFTER;
		gw_http_respond(c, 404, "text/plain; charset=UTF-8", NULL, "Not Found\n", 10);
		return;
	}
	if (!gw_http_origin_ok(gw, req)) {
		const char *o = http_req_header(req, "origin");
		char esc[256];

		gw_warn("conn %llu %s: origin %s not allowed on %s (websocket)",
		    (unsigned long long)c->id, c->peer,
		    gw_log_escape(esc, sizeof esc, o, strlen(o)), ep->path);
		c->flags |= GW_CONN_CLOSE_AFTER;
		gw->st.err_origin++;
		gw_http_error(c, 403, 4, "Forbidden");
		return;
	}
	if (up == NULL || !http_header_has_token(up, "websocket")) {
		c->flags |= GW_CONN_CLOSE_AFTER;
		gw_http_error(c, 400, 3, "Bad request");
		return;
	}
	if (ep->route->upgrade == NULL) {
		c->flags |= GW_CONN_CLOSE_AFTER;
		gw_http_error(c, 400, 3, "Bad request");
		return;
	}
	ep->route->upgrade(c, req, ep, rest, nrest);
}

/* ---- the HTTP reader: gw_http_conn_ops ---- */

/* An accepted connection: a request reader on the loop's limits. */
static void
http_open(struct gw_conn *c)
{
	c->hin = gw_xmalloc(sizeof *c->hin);
	http_in_init(c->hin, &c->gw->http_lim);
	c->hin->on_headers = gw_http_headers;
	c->hin->hook_arg = c;
}

/* Free the reader (the reaper, or the switch to WebSocket). */
static void
http_free(struct gw_conn *c)
{
	if (c->hin != NULL) {
		http_in_reset(c->hin);
		free(c->hin);
		c->hin = NULL;
	}
}

/* Answer a request-level error and close. */
static void
http_fail(struct gw_conn *c, int status, const char *why)
{
	char esc[128];
	char body[160];
	int n;

	gw_info("conn %llu %s: bad HTTP request (%d): %s", (unsigned long long)c->id, c->peer,
	    status, gw_log_escape(esc, sizeof esc, why, strlen(why)));
	c->gw->st.err_http++;
	http_refused(c, c->hin->req, status);
	n = snprintf(body, sizeof body, "{\"code\":3,\"message\":\"%s\"}",
	    http_status_text(status));
	gw_http_respond(c, status, "application/json", NULL, body, (size_t)n);
	gw_conn_close_after_write(c);
}

/* Bytes from the socket: requests, one in service at a time (the rest kept). */
static void
http_input(struct gw_conn *c, const char *p, size_t n)
{
	while (n > 0 && !(c->flags & (GW_CONN_CLOSING | GW_CONN_CLOSE_AFTER))) {
		size_t used;
		int r;

		if (c->req != NULL) {
			/* A request is in service: keep the rest for later, bounded. */
			if (c->stash_len + n > GW_STASH_MAX) {
				gw_conn_close(c, "too much pipelined input");
				return;
			}
			c->stash = gw_xrealloc(c->stash, c->stash_len + n);
			memcpy(c->stash + c->stash_len, p, n);
			c->stash_len += (uint32_t)n;
			return;
		}
		r = http_in_feed(c->hin, p, n, &used);
		switch (r) {
		case HTTP_IN_MORE:
			return;
		case HTTP_IN_ERROR:
			http_fail(c, c->hin->status, c->hin->why);
			return;
		case HTTP_IN_DONE:
			gw_tlist_stop(&c->tmo);
			c->req = http_in_take(c->hin);
			p += used;
			n -= used;
			gw_http_request(c, c->req);
			break;
		case HTTP_IN_UPGRADE:
			gw_tlist_stop(&c->tmo);
			c->req = http_in_take(c->hin);
			gw_http_upgrade(c, c->req, p + used, n - used);
			return;
		}
	}
}

/* The deadline: a request begun and not complete (slowloris) gets 408; else idle. */
static void
http_timeout(struct gw_conn *c)
{
	if (c->req == NULL && http_in_busy(c->hin)) {
		gw_log_client = 1;	/* a slowloris flood is the client's */
		http_fail(c, 408, "request not complete in time");
		gw_log_client = 0;
		return;
	}
	gw_conn_close(c, "idle timeout");
}

const struct gw_conn_ops gw_http_conn_ops = {
	.open = http_open,
	.input = http_input,
	.timeout = http_timeout,
	.free = http_free,
};
