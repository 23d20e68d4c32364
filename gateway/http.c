/*
 * http.c: reading HTTP/1.1 requests with http-parser, enforcing limits on
 * the request target, the header block and the body before allocating.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw.h"
#include "http.h"

enum { ST_URL = 0, ST_FIELD = 1, ST_VALUE = 2 };

/* Make room for n more bytes without moving them later. */
static void
req_reserve(struct http_req *r, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		uint32_t cap = r->cap ? r->cap : 256;

		while (r->len + n + 1 > cap)
			cap *= 2;
		r->buf = gw_xrealloc(r->buf, cap);
		r->cap = cap;
	}
}

/* Append n bytes to the request's string buffer. */
static void
req_append(struct http_req *r, const char *p, size_t n)
{
	req_reserve(r, n);
	memcpy(r->buf + r->len, p, n);
	r->len += n;
}

/* Terminate the current string in the buffer. */
static void
req_nul(struct http_req *r)
{
	req_append(r, "", 1);
}

/* Fail the parse with an HTTP status. */
static int
in_fail(struct http_in *in, int status, const char *why)
{
	if (in->status == 0) {
		in->status = status;
		in->why = why;
	}
	return -1;
}

static int
cb_message_begin(http_parser *p)
{
	struct http_in *in = p->data;

	if (in->req == NULL)
		in->req = gw_xcalloc(1, sizeof *in->req);
	in->hdr_bytes = 0;
	return 0;
}

static int
cb_url(http_parser *p, const char *at, size_t n)
{
	struct http_in *in = p->data;
	struct http_req *r = in->req;

	if (r->url_len + n > in->lim->max_url)
		return in_fail(in, 414, "request target too long");
	req_append(r, at, n);
	r->url_len += n;
	return 0;
}

static int
cb_header_field(http_parser *p, const char *at, size_t n)
{
	struct http_in *in = p->data;
	struct http_req *r = in->req;
	size_t i, base;

	in->hdr_bytes += n;
	if (in->hdr_bytes > in->lim->max_headers)
		return in_fail(in, 431, "header block too large");
	if (r->in_value != ST_FIELD) {
		req_nul(r);	/* ends the URL or the previous value */
		if (r->nhdr == HTTP_MAX_HEADERS)
			return in_fail(in, 431, "too many header fields");
		r->hdr[r->nhdr].name = r->len;
		r->nhdr++;
		r->in_value = ST_FIELD;
	}
	base = r->len;
	req_append(r, at, n);
	for (i = base; i < r->len; i++)
		r->buf[i] = tolower((unsigned char)r->buf[i]);
	return 0;
}

static int
cb_header_value(http_parser *p, const char *at, size_t n)
{
	struct http_in *in = p->data;
	struct http_req *r = in->req;

	in->hdr_bytes += n;
	if (in->hdr_bytes > in->lim->max_headers)
		return in_fail(in, 431, "header block too large");
	if (r->in_value != ST_VALUE) {
		req_nul(r);
		r->hdr[r->nhdr - 1].value = r->len;
		r->in_value = ST_VALUE;
	}
	req_append(r, at, n);
	return 0;
}

/* Whether a header name is an RFC 9110 token (no space before the colon). */
static int
hdr_name_ok(const char *name)
{
	const char *p;

	if (*name == '\0')
		return 0;
	for (p = name; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr("!#$%&'*+-.^_`|~", *p) == NULL)
			return 0;
	}
	return 1;
}

/*
 * Headers that must appear once: two would be decided by whichever one a
 * reader looks at (RFC 9112 3.2 for Host; Origin is what CORS decides on).
 */
static const char *const hdr_single[] = { "host", "origin", "upgrade",
	"sec-websocket-key", "sec-websocket-version" };

/* A reason to refuse the header block, or NULL. */
static const char *
req_headers_check(const struct http_req *r)
{
	size_t k;
	int i, j;

	for (i = 0; i < r->nhdr; i++) {
		const char *name = r->buf + r->hdr[i].name;

		if (!hdr_name_ok(name))
			return "bad header name (whitespace before the colon?)";
		for (k = 0; k < sizeof hdr_single / sizeof hdr_single[0]; k++) {
			if (strcmp(name, hdr_single[k]) != 0)
				continue;
			for (j = i + 1; j < r->nhdr; j++) {
				if (strcmp(r->buf + r->hdr[j].name, name) == 0)
					return "header that must be single appears twice";
			}
		}
	}
	return NULL;
}

static int
cb_headers_complete(http_parser *p)
{
	struct http_in *in = p->data;
	struct http_req *r = in->req;
	const char *q, *why;
	uint32_t plen;

	req_nul(r);	/* ends the URL (no headers) or the last value */
	if ((why = req_headers_check(r)) != NULL)
		return in_fail(in, 400, why);
	r->method = p->method;
	r->keep_alive = http_should_keep_alive(p) ? 1 : 0;
	r->upgrade = p->upgrade ? 1 : 0;
	/* Split the target into a decoded path and a raw query (no realloc below). */
	req_reserve(r, r->url_len + 3);
	q = memchr(r->buf + r->url, '?', r->url_len);
	plen = q ? (uint32_t)(q - (r->buf + r->url)) : r->url_len;
	r->path = r->len;
	req_append(r, r->buf + r->url, plen);
	r->path_len = gw_url_decode(r->buf + r->path, plen, 0);
	r->len = r->path + r->path_len;
	req_nul(r);
	r->query = r->len;
	if (q != NULL) {
		uint32_t qoff = r->url + plen + 1;

		req_append(r, r->buf + qoff, r->url_len - plen - 1);
		r->query_len = r->url_len - plen - 1;
	}
	req_nul(r);
	if (r->path_len == 0 || r->buf[r->path] != '/')
		return in_fail(in, 400, "request target is not an absolute path");
	if (memchr(r->buf + r->path, '\0', r->path_len) != NULL)
		return in_fail(in, 400, "NUL in path");
	if (p->content_length != ULLONG_MAX && p->content_length > in->lim->max_body)
		return in_fail(in, 413, "body larger than the limit");
	if (in->on_headers != NULL) {
		int status;

		why = "refused";
		status = in->on_headers(in->hook_arg, r, &why);

		if (status != 0)
			return in_fail(in, status, why);
	}
	return 0;
}

static int
cb_body(http_parser *p, const char *at, size_t n)
{
	struct http_in *in = p->data;
	struct http_req *r = in->req;

	if (r->body_len + n > in->lim->max_body)
		return in_fail(in, 413, "body larger than the limit");
	if (r->body_len + n + 1 > r->body_cap) {
		uint32_t cap = r->body_cap ? r->body_cap : 1024;

		if (p->content_length != ULLONG_MAX && cap < r->body_len + n + p->content_length + 1)
			cap = r->body_len + n + p->content_length + 1;
		while (r->body_len + n + 1 > cap)
			cap *= 2;
		r->body = gw_xrealloc(r->body, cap);
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, at, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

/* A chunk is announced: refuse it before reading if it cannot fit. */
static int
cb_chunk_header(http_parser *p)
{
	struct http_in *in = p->data;

	if (p->content_length > in->lim->max_body - in->req->body_len)
		return in_fail(in, 413, "body larger than the limit");
	return 0;
}

static int
cb_message_complete(http_parser *p)
{
	struct http_in *in = p->data;

	in->done = 1;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = cb_message_begin,
	.on_url = cb_url,
	.on_header_field = cb_header_field,
	.on_header_value = cb_header_value,
	.on_headers_complete = cb_headers_complete,
	.on_body = cb_body,
	.on_chunk_header = cb_chunk_header,
	.on_message_complete = cb_message_complete,
};

/* Prepare to read requests with the given limits. */
void
http_in_init(struct http_in *in, const struct http_limits *lim)
{
	memset(in, 0, sizeof *in);
	http_parser_init(&in->parser, HTTP_REQUEST);
	in->parser.data = in;
	in->lim = lim;
}

/* Feed bytes to the parser; see enum http_in_result. */
int
http_in_feed(struct http_in *in, const char *p, size_t n, size_t *used)
{
	size_t got;
	enum http_errno err;

	*used = 0;
	if (in->status != 0)
		return HTTP_IN_ERROR;
	got = http_parser_execute(&in->parser, &settings, p, n);
	*used = got;
	err = HTTP_PARSER_ERRNO(&in->parser);
	if (in->status != 0)
		return HTTP_IN_ERROR;
	if (in->done && in->parser.upgrade)
		return HTTP_IN_UPGRADE;
	if (in->done)
		return HTTP_IN_DONE;
	if (err != HPE_OK) {
		in->status = 400;
		in->why = http_errno_description(err);
		return HTTP_IN_ERROR;
	}
	if (in->parser.upgrade) {
		/* Upgrade with the headers complete but no message-complete. */
		in->done = 1;
		return HTTP_IN_UPGRADE;
	}
	if (got != n) {
		in->status = 400;
		in->why = "malformed request";
		return HTTP_IN_ERROR;
	}
	return HTTP_IN_MORE;
}

/* Take the finished request; the parser is ready for the next one. */
struct http_req *
http_in_take(struct http_in *in)
{
	struct http_req *r = in->req;

	in->req = NULL;
	in->done = 0;
	in->hdr_bytes = 0;
	http_parser_pause(&in->parser, 0);
	return r;
}

/* Drop a partly read request. */
void
http_in_reset(struct http_in *in)
{
	http_req_free(in->req);
	in->req = NULL;
}

/* Whether a request has started but is not complete. */
int
http_in_busy(const struct http_in *in)
{
	return in->req != NULL && !in->done;
}

/* Free a request; NULL is a no-op. */
void
http_req_free(struct http_req *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r->body);
	free(r);
}

/* Header value by lower-case name. */
const char *
http_req_header(const struct http_req *r, const char *name)
{
	int i;

	for (i = 0; i < r->nhdr; i++) {
		if (strcmp(r->buf + r->hdr[i].name, name) == 0)
			return r->buf + r->hdr[i].value;
	}
	return NULL;
}

/* The value of the first key=value segment of r's query named key, or NULL. */
static const char *
req_query_find(const char *p, const char *end, const char *key, size_t klen, size_t *vlen)
{
	while (p < end) {
		const char *amp = memchr(p, '&', end - p);
		const char *seg_end = amp ? amp : end;
		const char *eq = memchr(p, '=', seg_end - p);
		const char *kend = eq ? eq : seg_end;

		if ((size_t)(kend - p) == klen && memcmp(p, key, klen) == 0) {
			*vlen = eq ? (size_t)(seg_end - eq - 1) : 0;
			return eq ? eq + 1 : seg_end;
		}
		p = seg_end + 1;
	}
	return NULL;
}

/*
 * Decoded query parameter into dst (truncated to dstlen-1), NULL if absent.
 * A key given twice is ambiguous: it reads as present and empty, which no
 * caller accepts (as Node, where it becomes an array no lookup matches).
 */
const char *
http_req_query(const struct http_req *r, const char *key, char *dst, size_t dstlen)
{
	const char *p = r->buf + r->query, *end = p + r->query_len;
	size_t klen = strlen(key), vlen, vlen2;
	const char *v = req_query_find(p, end, key, klen, &vlen);

	if (v == NULL)
		return NULL;
	if (req_query_find(v + vlen + 1, end, key, klen, &vlen2) != NULL)
		vlen = 0;
	if (vlen >= dstlen)
		vlen = dstlen - 1;
	if (vlen > 0)
		memcpy(dst, v, vlen);
	dst[gw_url_decode(dst, vlen, 1)] = '\0';
	return dst;
}

/* Whether a comma-separated header value contains token. */
int
http_header_has_token(const char *value, const char *token)
{
	size_t tlen = strlen(token);
	const char *p = value;

	while (p != NULL && *p != '\0') {
		const char *comma;
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == tlen && strncasecmp(p, token, n) == 0)
			return 1;
		p = comma;
	}
	return 0;
}

/* Reason phrase of a status code. */
const char *
http_status_text(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}
