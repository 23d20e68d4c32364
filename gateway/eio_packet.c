/*
 * eio_packet.c: Engine.IO v4 packets in and out.
 */
#include <string.h>

#include "eio_packet.h"

/* Bytes of a server (unmasked) WebSocket frame header for len payload bytes. */
static size_t
ws_hdr_len(size_t len)
{
	return len < 126 ? 2 : len <= 0xffff ? 4 : 10;
}

/* Write the frame header for opcode and payload length. */
static void
ws_hdr_write(char *p, int opcode, size_t len)
{
	size_t i;

	p[0] = (char)(0x80 | opcode);
	if (len < 126) {
		p[1] = (char)len;
	} else if (len <= 0xffff) {
		p[1] = 126;
		p[2] = (char)(len >> 8);
		p[3] = (char)len;
	} else {
		p[1] = 127;
		for (i = 0; i < 8; i++)
			p[2 + i] = (char)((uint64_t)len >> (56 - 8 * i));
	}
}

/* Encode one outbound packet into a shared buffer. */
struct gw_buf *
eio_pkt_new(int type, const void *data, size_t len, int binary)
{
	size_t plen = binary ? len : len + 1;
	size_t hl = ws_hdr_len(plen);
	struct gw_buf *b = gw_buf_new(hl + plen);

	ws_hdr_write(b->data, binary ? 2 : 1, plen);
	b->hdr = (uint16_t)hl;
	if (binary) {
		b->flags |= GW_BUF_BINARY;
		if (len)
			memcpy(b->data + hl, data, len);
	} else {
		b->data[hl] = (char)('0' + type);
		if (len)
			memcpy(b->data + hl + 1, data, len);
	}
	return b;
}

/* Length of the polling form of b. */
size_t
eio_pkt_poll_len(const struct gw_buf *b)
{
	size_t n = b->len - b->hdr;

	return (b->flags & GW_BUF_BINARY) ? 1 + GW_B64_ENC_LEN(n) : n;
}

/* Decode one text packet. */
int
eio_decode_text(const char *p, size_t n, struct eio_in *out, const char **why)
{
	if (n == 0) {
		*why = "empty packet";
		return -1;
	}
	if (p[0] < '0' || p[0] > '6') {
		*why = "unknown packet type";
		return -1;
	}
	out->type = p[0] - '0';
	out->binary = 0;
	out->data = p + 1;
	out->len = n - 1;
	return 0;
}

/* Split a polling body into packets, decoding 'b' ones in place. */
int
eio_decode_payload(char *body, size_t n, eio_packet_fn fn, void *arg, const char **why)
{
	size_t i = 0;

	if (n == 0) {
		*why = "empty payload";
		return -1;
	}
	while (i <= n) {
		char *seg = body + i, *sep = memchr(seg, EIO_SEP, n - i);
		size_t len = sep ? (size_t)(sep - seg) : n - i;
		struct eio_in pkt;

		if (len > 0 && seg[0] == 'b') {
			long got = gw_b64_decode((unsigned char *)seg, seg + 1, len - 1);

			if (got < 0) {
				*why = "bad base64 in binary packet";
				return -1;
			}
			pkt.type = EIO_MESSAGE;
			pkt.binary = 1;
			pkt.data = seg;
			pkt.len = (size_t)got;
		} else if (eio_decode_text(seg, len, &pkt, why) < 0) {
			return -1;
		}
		if (fn(arg, &pkt) < 0) {
			*why = "packet refused";
			return -1;
		}
		if (sep == NULL)
			break;
		i += len + 1;
	}
	return 0;
}
