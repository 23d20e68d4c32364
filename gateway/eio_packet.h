/*
 * eio_packet.h: the Engine.IO v4 packet codec (no I/O).
 */
#ifndef EIO_PACKET_H
#define EIO_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "gw.h"

enum eio_type {
	EIO_OPEN = 0, EIO_CLOSE = 1, EIO_PING = 2, EIO_PONG = 3,
	EIO_MESSAGE = 4, EIO_UPGRADE = 5, EIO_NOOP = 6,
};

#define EIO_SEP '\x1e'

/* One decoded inbound packet; data borrows the input. */
struct eio_in {
	int type;
	int binary;		/* a binary message (WebSocket binary frame or 'b' base64) */
	const char *data;
	size_t len;
};

/*
 * Encode an outbound packet once: the WebSocket frame header, then the type
 * digit and data (text), or the raw bytes (binary message).
 */
struct gw_buf *eio_pkt_new(int type, const void *data, size_t len, int binary);
/* Size of the polling form of an encoded packet ("4hello" or "b<base64>"). */
size_t eio_pkt_poll_len(const struct gw_buf *b);

/* Decode a text packet (WebSocket text frame, or one polling segment that is not 'b'). */
int eio_decode_text(const char *p, size_t n, struct eio_in *out, const char **why);

/*
 * Split a polling body in place.  Calls fn for every packet; 'b' segments
 * are base64-decoded in place.  Returns 0, or -1 with *why on the first bad
 * packet (earlier packets were delivered).
 */
typedef int (*eio_packet_fn)(void *arg, const struct eio_in *pkt);
int eio_decode_payload(char *body, size_t n, eio_packet_fn fn, void *arg, const char **why);

/* eio_v3.c: Engine.IO v3 ([engineio] allow_eio3) */
/* UTF-16 code units of UTF-8 text (what a JavaScript String.length says). */
size_t eio3_u16len(const char *p, size_t n);
/* Decode a v3 binary packet (WebSocket binary frame): type byte 4, then the bytes. */
int eio3_decode_binary(const char *p, size_t n, struct eio_in *out, const char **why);
/*
 * Split a v3 polling body in place, text form ("<length>:<packet>"..., the
 * length in UTF-16 code units) or binary (XHR2) form.  Like
 * eio_decode_payload: fn per packet, -1 with *why on the first bad one.
 */
int eio3_decode_payload(char *body, size_t n, eio_packet_fn fn, void *arg, const char **why);
int eio3_decode_binpayload(char *body, size_t n, eio_packet_fn fn, void *arg, const char **why);
/* The v3 form of a binary message (a new reference; b itself if not needed). */
struct gw_buf *eio3_pkt_binary(const struct gw_buf *b);
/* Whether a v3 polling answer takes the binary form (a binary packet, client without b64). */
int eio3_payload_binary(struct gw_buf *const *v, uint32_t n, int b64);
/* The v3 polling payload of n packets, text or binary form (a new buffer). */
struct gw_buf *eio3_payload(struct gw_buf *const *v, uint32_t n, int binform);

#endif
