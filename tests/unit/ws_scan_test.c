/*
 * ws_scan_test.c: the WebSocket frame-boundary scanner, fed whole streams
 * and the same streams cut at every byte.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "ws_scan.h"

/* Append one client frame (masked unless mask is 0) to buf; returns its length. */
static size_t
frame(unsigned char *buf, int fin, int op, size_t len, int mask)
{
	size_t n = 0, i;

	buf[n++] = (unsigned char)((fin ? 0x80 : 0) | op);
	if (len < 126) {
		buf[n++] = (unsigned char)((mask ? 0x80 : 0) | len);
	} else if (len < 65536) {
		buf[n++] = (unsigned char)((mask ? 0x80 : 0) | 126);
		buf[n++] = (unsigned char)(len >> 8);
		buf[n++] = (unsigned char)len;
	} else {
		buf[n++] = (unsigned char)((mask ? 0x80 : 0) | 127);
		for (i = 0; i < 8; i++)
			buf[n++] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	if (mask) {
		memcpy(buf + n, "\x12\x34\x56\x78", 4);
		n += 4;
	}
	/* Payload bytes that look like headers, so a scanner that reads them fails. */
	memset(buf + n, 0x81, len);
	return n + len;
}

/*
 * Feed buf cut into pieces of `step` bytes; idle[] lists the offsets where
 * the stream is idle (frame boundary, no message open).  Returns 1 when the
 * scanner agrees after every piece.
 */
static int
agrees(const unsigned char *buf, size_t n, const size_t *idle, int nidle, size_t step)
{
	struct ws_scan s;
	size_t off = 0;

	memset(&s, 0, sizeof s);
	while (off < n) {
		size_t k = n - off < step ? n - off : step;
		int want = 0, i;

		ws_scan_feed(&s, buf + off, k);
		off += k;
		for (i = 0; i < nidle; i++)
			want |= idle[i] == off;
		if (ws_scan_idle(&s) != want)
			return 0;
	}
	return 1;
}

/* Every piece size from 1 to n. */
static int
agrees_all_cuts(const unsigned char *buf, size_t n, const size_t *idle, int nidle)
{
	size_t step;

	for (step = 1; step <= n; step += step < 300 ? 1 : 997) {
		if (!agrees(buf, n, idle, nidle, step))
			return 0;
	}
	return 1;
}

int
main(void)
{
	unsigned char *buf = malloc(300000);
	size_t n, idle[8];
	struct ws_scan s;

	memset(&s, 0, sizeof s);
	tap_ok(ws_scan_idle(&s), "a new stream is idle");

	n = frame(buf, 1, 1, 5, 1);
	idle[0] = n;
	tap_ok(agrees_all_cuts(buf, n, idle, 1), "a small text frame: idle only at its end");

	n = frame(buf, 1, 1, 0, 1);
	idle[0] = n;
	n += frame(buf + n, 1, 9, 0, 1);
	idle[1] = n;
	tap_ok(agrees_all_cuts(buf, n, idle, 2), "empty text and ping frames (header only)");

	n = frame(buf, 1, 2, 300, 1);
	idle[0] = n;
	n += frame(buf + n, 1, 2, 126, 1);
	idle[1] = n;
	n += frame(buf + n, 1, 1, 65535, 1);
	idle[2] = n;
	tap_ok(agrees_all_cuts(buf, n, idle, 3), "16-bit lengths (126, 300, 65535)");

	n = frame(buf, 1, 2, 70000, 1);
	idle[0] = n;
	n += frame(buf + n, 1, 1, 3, 1);
	idle[1] = n;
	tap_ok(agrees_all_cuts(buf, n, idle, 2), "a 64-bit length (70000), then a small frame");

	n = frame(buf, 0, 1, 10, 1);
	n += frame(buf + n, 1, 9, 2, 1);
	n += frame(buf + n, 0, 0, 200, 1);
	n += frame(buf + n, 1, 10, 0, 1);
	n += frame(buf + n, 1, 0, 4, 1);
	idle[0] = n;
	n += frame(buf + n, 1, 9, 1, 1);
	idle[1] = n;
	tap_ok(agrees_all_cuts(buf, n, idle, 2),
	    "a fragmented message with ping and pong inside: idle after its last fragment only");

	n = frame(buf, 0, 2, 10, 1);
	n += frame(buf + n, 1, 0, 0, 1);
	idle[0] = n;
	tap_ok(agrees_all_cuts(buf, n, idle, 1), "a message ended by an empty continuation");

	n = frame(buf, 1, 1, 7, 0);
	idle[0] = n;
	n += frame(buf + n, 1, 1, 130, 0);
	idle[1] = n;
	tap_ok(agrees_all_cuts(buf, n, idle, 2), "unmasked frames (refused by wslay) still scan");

	n = frame(buf, 1, 8, 2, 1);
	idle[0] = n;
	tap_ok(agrees_all_cuts(buf, n, idle, 1), "a close frame");

	free(buf);
	return tap_done();
}
