/*
 * http_test.c: the HTTP request reader, fed scripted bytes split at every
 * boundary.
 */
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "http.h"
#include "tap.h"

static const struct http_limits lim = { 256, 1024, 100 };

/* Feed req in two pieces split at cut; returns the result and the request. */
static int
feed_split(const char *req, size_t n, size_t cut, struct http_req **out, size_t *consumed)
{
	struct http_in in;
	size_t used = 0, total = 0;
	int r;

	http_in_init(&in, &lim);
	r = http_in_feed(&in, req, cut, &used);
	total += used;
	if (r == HTTP_IN_MORE && cut < n) {
		r = http_in_feed(&in, req + cut, n - cut, &used);
		total += used;
	}
	*consumed = total;
	*out = NULL;
	if (r == HTTP_IN_DONE || r == HTTP_IN_UPGRADE)
		*out = http_in_take(&in);
	http_in_reset(&in);
	return r == HTTP_IN_ERROR ? -in.status : r;
}

/* Every split of a valid request gives the same request. */
static void
test_splits(void)
{
	static const char req[] =
	    "POST /engine.io/?EIO=4&transport=polling&sid=ab%2Bc HTTP/1.1\r\n"
	    "Host: example.com\r\nX-Long-Header: one two three\r\n"
	    "Content-Length: 6\r\n\r\n4hello";
	size_t n = strlen(req), cut, used;
	int bad = 0;

	for (cut = 1; cut <= n; cut++) {
		struct http_req *r;
		char q[32];
		int rc = feed_split(req, n, cut, &r, &used);

		if (rc != HTTP_IN_DONE || r == NULL || used != n ||
		    strcmp(r->buf + r->path, "/engine.io/") != 0 || r->method != HTTP_POST ||
		    r->body_len != 6 || memcmp(r->body, "4hello", 6) != 0 ||
		    strcmp(http_req_header(r, "host"), "example.com") != 0 ||
		    strcmp(http_req_header(r, "x-long-header"), "one two three") != 0 ||
		    http_req_query(r, "sid", q, sizeof q) == NULL || strcmp(q, "ab+c") != 0 ||
		    http_req_query(r, "nope", q, sizeof q) != NULL) {
			bad++;
		}
		http_req_free(r);
	}
	tap_ok(bad == 0, "a POST split at each of %zu points parses the same (%d bad)", n, bad);
}

/* Two pipelined requests: the first stops where the second starts. */
static void
test_pipelined(void)
{
	static const char two[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_in in;
	size_t used, n = strlen(two);
	struct http_req *r;
	int rc;

	http_in_init(&in, &lim);
	rc = http_in_feed(&in, two, n, &used);
	r = http_in_take(&in);
	tap_ok(rc == HTTP_IN_DONE && used == n / 2 && strcmp(r->buf + r->path, "/a") == 0,
	    "first pipelined request ends at the second");
	tap_ok(r->keep_alive == 1, "HTTP/1.1 is keep-alive");
	http_req_free(r);
	rc = http_in_feed(&in, two + used, n - used, &used);
	r = http_in_take(&in);
	tap_ok(rc == HTTP_IN_DONE && r && strcmp(r->buf + r->path, "/b") == 0,
	    "second pipelined request parses");
	http_req_free(r);
	http_in_reset(&in);
}

/* An Upgrade request leaves the frame bytes after the headers. */
static void
test_upgrade(void)
{
	static const char up[] = "GET /engine.io/?transport=websocket HTTP/1.1\r\nHost: x\r\n"
	    "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n\x81\x85";
	struct http_req *r;
	size_t used, n = strlen(up);
	int rc = feed_split(up, n, n, &r, &used);

	tap_ok(rc == HTTP_IN_UPGRADE && used == n - 2, "upgrade stops after the headers");
	tap_ok(r != NULL && r->upgrade && http_header_has_token(http_req_header(r, "connection"),
	    "upgrade"), "upgrade flag and Connection token");
	http_req_free(r);
}

/* Each bad input gets its status. */
static void
test_errors(void)
{
	static const struct { const char *req; int status; const char *what; } c[] = {
		{ "GARBAGE\r\n\r\n", 400, "garbage request line" },
		{ "GET /x HTTP/1.1\r\nBad Header\r\n\r\n", 400, "header without colon" },
		{ "GET x HTTP/1.1\r\n\r\n", 400, "relative target" },
		{ "POST /x HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413, "declared body over the limit" },
		{ "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", 413,
		  "chunked body over the limit" },
		{ "POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
		  "Content-Length with Transfer-Encoding" },
		{ "POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400,
		  "two Content-Length headers" },
		{ "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Host headers" },
		{ "GET /x HTTP/1.1\r\nHost: a\r\nhOST: a\r\n\r\n", 400,
		  "two Host headers, same value, other case" },
		{ "GET /x HTTP/1.1\r\nOrigin: http://a\r\nOrigin: http://evil\r\n\r\n", 400,
		  "two Origin headers" },
		{ "GET /x HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: a\r\nSec-WebSocket-Key: b\r\n\r\n", 400,
		  "two Sec-WebSocket-Key headers" },
		{ "GET /x HTTP/1.1\r\nHost : x\r\n\r\n", 400, "space before the colon" },
		{ "GET /x HTTP/1.1\r\nHost\t: x\r\n\r\n", 400, "tab before the colon" },
		{ "GET /x HTTP/1.1\r\nX Y: x\r\n\r\n", 400, "space inside a header name" },
	};
	size_t i, used;
	char big[2048];
	struct http_req *r;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		int rc = feed_split(c[i].req, strlen(c[i].req), strlen(c[i].req), &r, &used);

		tap_ok(rc == -c[i].status, "%s -> %d (got %d)", c[i].what, c[i].status, -rc);
		http_req_free(r);
	}
	memset(big, 'a', sizeof big);
	memcpy(big, "GET /", 5);
	big[sizeof big - 1] = '\0';
	tap_ok(feed_split(big, strlen(big), strlen(big), &r, &used) == -414,
	    "request target over the limit -> 414");
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	tap_ok(feed_split(big, strlen(big), strlen(big), &r, &used) == -431,
	    "header block over the limit -> 431");
}

/* Headers that may repeat still do; a query key given twice reads as empty. */
static void
test_repeats(void)
{
	static const char req[] = "GET /e/?EIO=4&sid=A&transport=polling&sid=B&j HTTP/1.1\r\n"
	    "Host: x\r\nCookie: a=1\r\nCookie: b=2\r\nX-Odd!#$%&'*+-.^_`|~1: v\r\n\r\n";
	size_t used;
	struct http_req *r;
	char q[16];
	int rc = feed_split(req, strlen(req), strlen(req), &r, &used);

	tap_ok(rc == HTTP_IN_DONE && r != NULL, "repeated Cookie and a name of every tchar accepted");
	if (r == NULL)
		return;
	tap_ok(http_req_query(r, "sid", q, sizeof q) != NULL && q[0] == '\0',
	    "sid=A&sid=B reads as an empty sid (ambiguous: no session matches)");
	tap_ok(http_req_query(r, "EIO", q, sizeof q) != NULL && strcmp(q, "4") == 0 &&
	    http_req_query(r, "transport", q, sizeof q) != NULL && strcmp(q, "polling") == 0,
	    "keys given once read as before");
	tap_ok(http_req_query(r, "j", q, sizeof q) != NULL && q[0] == '\0' &&
	    http_req_query(r, "si", q, sizeof q) == NULL, "a bare key is empty; a prefix is no key");
	http_req_free(r);
}

/* Token matching in comma-separated headers. */
static void
test_tokens(void)
{
	tap_ok(http_header_has_token("keep-alive, Upgrade", "upgrade"), "token found case-insensitively");
	tap_ok(!http_header_has_token("keep-alive, Upgraded", "upgrade"), "no partial token match");
	tap_ok(http_header_has_token("websocket", "websocket"), "single token");
}

int
main(void)
{
	test_splits();
	test_pipelined();
	test_upgrade();
	test_errors();
	test_repeats();
	test_tokens();
	return tap_done();
}
