/*
 * fuzz_http.c: the HTTP request reader, fed arbitrary bytes in arbitrary
 * pieces (the first byte chooses the split size).
 */
#include <stdint.h>
#include <stdlib.h>

#include "gw.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct http_limits lim = { 1024, 4096, 8192 };
	struct http_in in;
	size_t off = 1, step;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] % 64) + 1;
	http_in_init(&in, &lim);
	while (off < size) {
		size_t n = size - off < step ? size - off : step, used = 0;
		int r = http_in_feed(&in, (const char *)data + off, n, &used);

		if (r == HTTP_IN_ERROR || r == HTTP_IN_UPGRADE)
			break;
		if (r == HTTP_IN_DONE) {
			struct http_req *req = http_in_take(&in);
			char q[64];

			http_req_header(req, "host");
			http_req_query(req, "sid", q, sizeof q);
			http_req_free(req);
			off += used;
			continue;
		}
		off += n;
	}
	http_in_reset(&in);
	return 0;
}
