/*
 * http.h: HTTP/1.1 request reading on top of http-parser, with limits.
 * No I/O and no libev: bytes in, one request out.  Unit-tested by feeding
 * scripted bytes split at every boundary.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <http_parser.h>

#define HTTP_MAX_HEADERS 64

struct http_limits {
	uint32_t max_url;	/* bytes of the request target */
	uint32_t max_headers;	/* bytes of header names + values */
	uint32_t max_body;	/* bytes of body */
};

struct http_hdr {
	uint32_t name, value;	/* offsets into req->buf, NUL-terminated */
};

/*
 * One request being read or served.  Owned by its connection; freed by
 * http_req_free() once the response is queued.  Header names are
 * lower-cased.  All strings are NUL-terminated within buf.
 */
struct http_req {
	char *buf;
	uint32_t len, cap;
	uint32_t url, url_len;
	uint32_t path, path_len;	/* decoded path (no query) */
	uint32_t query, query_len;	/* raw query string (no '?'), may be empty */
	struct http_hdr hdr[HTTP_MAX_HEADERS];
	uint16_t nhdr;
	uint8_t method;			/* enum http_method */
	uint8_t keep_alive;
	uint8_t upgrade;
	uint8_t in_value;		/* parser state: inside a header value */
	char *body;
	uint32_t body_len, body_cap;
};

enum http_in_result {
	HTTP_IN_MORE = 0,	/* all bytes consumed, request not complete */
	HTTP_IN_DONE = 1,	/* a request is complete; *used bytes consumed */
	HTTP_IN_UPGRADE = 2,	/* an Upgrade request; bytes after *used are the new protocol's */
	HTTP_IN_ERROR = -1,	/* bad request: answer in->status and close */
};

struct http_in {
	http_parser parser;
	const struct http_limits *lim;
	struct http_req *req;	/* the request being read (owned until taken) */
	uint32_t hdr_bytes;
	int status;		/* HTTP status for HTTP_IN_ERROR */
	const char *why;	/* static reason for HTTP_IN_ERROR */
	uint8_t done;
	/*
	 * Called when a request's headers are complete, before its body: return
	 * 0 to go on, or an HTTP status to refuse it (why: static reason).
	 */
	int (*on_headers)(void *arg, struct http_req *req, const char **why);
	void *hook_arg;
};

void http_in_init(struct http_in *in, const struct http_limits *lim);
/* Feed bytes; see enum http_in_result. After DONE/UPGRADE take in->req. */
int http_in_feed(struct http_in *in, const char *p, size_t n, size_t *used);
/* Take ownership of the finished request and get ready for the next one. */
struct http_req *http_in_take(struct http_in *in);
/* Free the request being read, if any. */
void http_in_reset(struct http_in *in);
/* Whether a request is partly read (bytes seen, not complete). */
int http_in_busy(const struct http_in *in);

void http_req_free(struct http_req *r);
/* Header value by lower-case name, or NULL. */
const char *http_req_header(const struct http_req *r, const char *name);
/* Query parameter (decoded) into dst, or NULL if absent; "" if the key is repeated. */
const char *http_req_query(const struct http_req *r, const char *key, char *dst, size_t dstlen);
/* Whether a comma-separated header contains token (case-insensitive). */
int http_header_has_token(const char *value, const char *token);

const char *http_status_text(int status);

#endif
