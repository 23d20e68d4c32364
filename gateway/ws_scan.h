/*
 * ws_scan.h: follows WebSocket frame boundaries in a client's byte stream.
 *
 * The gateway lets wslay parse client frames but keeps a wslay context only
 * while one is needed: wslay's event context embeds two 4 KiB buffers and
 * its headers do not say whether a partial frame is buffered.  This scanner
 * reads the same bytes (headers only; payloads are skipped) and tells when
 * the stream stands between two frames outside a fragmented message, where
 * a fresh context would continue exactly where the old one stopped.  It
 * trusts its input: wslay validates it, and a stream wslay refuses closes.
 */
#ifndef WS_SCAN_H
#define WS_SCAN_H

#include <stddef.h>
#include <stdint.h>

struct ws_scan {
	uint64_t left;		/* header: the extended length so far; payload: bytes to go */
	uint8_t hpos;		/* header bytes seen (0: not in a header) */
	uint8_t b1;		/* second header byte (mask bit, 7-bit length) */
	uint8_t frag;		/* a data frame without FIN was seen: a message is open */
	uint8_t op;		/* the current frame's first byte */
};

/* Account for n more bytes of the stream. */
void ws_scan_feed(struct ws_scan *s, const void *p, size_t n);
/* 1 when the bytes so far end on a frame boundary with no message open. */
static inline int
ws_scan_idle(const struct ws_scan *s)
{
	return s->hpos == 0 && s->left == 0 && !s->frag;
}

#endif
