/*
 * eio_v3.c: the Engine.IO v3 codec (no I/O), for Socket.IO 1.x/2.x clients
 * ([engineio] allow_eio3).
 *
 * What differs from v4 (eio_packet.c):
 *   - a binary message carries its packet type: a WebSocket binary frame is
 *     0x04 then the bytes, and its text form is "b4" then base64;
 *   - a polling payload is "<length>:<packet>" repeated, the length counted
 *     in UTF-16 code units of the packet (JavaScript's String.length: a
 *     character beyond the BMP counts 2, whatever its UTF-8 size);
 *   - a client that can (XHR2, no b64=1 in its handshake) sends and is sent
 *     payloads holding binary packets in a binary form: per packet 0x00
 *     (text) or 0x01 (binary), the decimal digits of its length as bytes 0-9,
 *     0xFF, then the packet (UTF-8 text, its length in bytes; or the type
 *     byte and the bytes).
 */
#include <stdlib.h>
#include <string.h>

#include "eio_packet.h"

#define V3_MAX_DIGITS 10	/* a length beyond 9,999,999,999 is refused before any arithmetic */

/* UTF-16 code units of UTF-8 text (lenient: for text we wrote). */
size_t
eio3_u16len(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i, u = 0;

	for (i = 0; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			u += s[i] >= 0xf0 ? 2 : 1;
	}
	return u;
}

/*
 * Bytes of the prefix of p[0..n) that holds exactly `units` UTF-16 code
 * units of valid UTF-8; -1 with *why when the text is shorter, not UTF-8,
 * or the count ends inside a surrogate pair.
 */
static long
u16_span(const char *p, size_t n, size_t units, const char **why)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, u = 0;

	while (u < units) {
		size_t k, len;
		unsigned w;

		if (i >= n) {
			*why = "packet length past the end of the payload";
			return -1;
		}
		if (s[i] < 0x80) {
			len = 1, w = 1;
		} else if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			len = 2, w = 1;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			len = 3, w = 1;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			len = 4, w = 2;
		} else {
			*why = "payload is not UTF-8";
			return -1;
		}
		if (i + len > n) {
			*why = "packet length past the end of the payload";
			return -1;
		}
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80) {
				*why = "payload is not UTF-8";
				return -1;
			}
		}
		/* Overlong and surrogate forms, and code points past U+10FFFF. */
		if ((len == 3 && ((s[i] == 0xe0 && s[i + 1] < 0xa0) ||
		    (s[i] == 0xed && s[i + 1] >= 0xa0))) ||
		    (len == 4 && ((s[i] == 0xf0 && s[i + 1] < 0x90) ||
		    (s[i] == 0xf4 && s[i + 1] >= 0x90)))) {
			*why = "payload is not UTF-8";
			return -1;
		}
		if (u + w > units) {
			*why = "packet length splits a surrogate pair";
			return -1;
		}
		u += w;
		i += len;
	}
	return (long)i;
}

/* One v3 packet in text form ("4hello", or "b4" + base64), decoded in place. */
static int
v3_text_packet(char *seg, size_t len, struct eio_in *pkt, const char **why)
{
	long got;

	if (len == 0 || seg[0] != 'b')
		return eio_decode_text(seg, len, pkt, why);
	if (len < 2 || seg[1] != '0' + EIO_MESSAGE) {
		*why = "binary packet that is not a message";
		return -1;
	}
	got = gw_b64_decode((unsigned char *)seg, seg + 2, len - 2);
	if (got < 0) {
		*why = "bad base64 in binary packet";
		return -1;
	}
	pkt->type = EIO_MESSAGE;
	pkt->binary = 1;
	pkt->data = seg;
	pkt->len = (size_t)got;
	return 0;
}

/* A v3 WebSocket binary frame (or binary payload packet): type byte, then data. */
int
eio3_decode_binary(const char *p, size_t n, struct eio_in *out, const char **why)
{
	if (n == 0) {
		*why = "empty binary packet";
		return -1;
	}
	if (p[0] != EIO_MESSAGE) {
		*why = "binary packet that is not a message";
		return -1;
	}
	out->type = EIO_MESSAGE;
	out->binary = 1;
	out->data = p + 1;
	out->len = n - 1;
	return 0;
}

/* Split a v3 text payload ("<units>:<packet>"...), calling fn per packet. */
int
eio3_decode_payload(char *body, size_t n, eio_packet_fn fn, void *arg, const char **why)
{
	size_t i = 0;

	if (n == 0) {
		*why = "empty payload";
		return -1;
	}
	while (i < n) {
		size_t units = 0, d = 0;
		struct eio_in pkt;
		long span;

		while (i + d < n && body[i + d] >= '0' && body[i + d] <= '9') {
			if (d == V3_MAX_DIGITS) {
				*why = "packet length too large";
				return -1;
			}
			units = units * 10 + (size_t)(body[i + d] - '0');
			d++;
		}
		if (d == 0 || i + d >= n || body[i + d] != ':') {
			*why = "bad packet length prefix";
			return -1;
		}
		i += d + 1;
		if (units > n - i) {
			/* Every code unit takes at least one byte. */
			*why = "packet length past the end of the payload";
			return -1;
		}
		span = u16_span(body + i, n - i, units, why);
		if (span < 0)
			return -1;
		if (span > 0) {
			if (v3_text_packet(body + i, (size_t)span, &pkt, why) < 0)
				return -1;
			if (fn(arg, &pkt) < 0) {
				*why = "packet refused";
				return -1;
			}
		}
		i += (size_t)span;
	}
	return 0;
}

/* Split a v3 binary (XHR2) payload, calling fn per packet. */
int
eio3_decode_binpayload(char *body, size_t n, eio_packet_fn fn, void *arg, const char **why)
{
	const unsigned char *s = (const unsigned char *)body;
	size_t i = 0;

	if (n == 0) {
		*why = "empty payload";
		return -1;
	}
	while (i < n) {
		int text;
		size_t len = 0, d = 0;
		struct eio_in pkt;

		if (s[i] > 1) {
			*why = "bad packet marker in binary payload";
			return -1;
		}
		text = s[i] == 0;
		i++;
		while (i < n && s[i] != 0xff) {
			if (s[i] > 9) {
				*why = "bad length digit in binary payload";
				return -1;
			}
			if (d == V3_MAX_DIGITS) {
				*why = "packet length too large";
				return -1;
			}
			len = len * 10 + s[i];
			d++;
			i++;
		}
		if (d == 0 || i >= n) {
			*why = "bad packet length prefix";
			return -1;
		}
		i++;	/* 0xff */
		if (len > n - i) {
			*why = "packet length past the end of the payload";
			return -1;
		}
		if (text) {
			long sp = u16_span(body + i, len, eio3_u16len(body + i, len), why);

			if (sp < 0)
				return -1;
			if ((size_t)sp != len) {
				*why = "payload is not UTF-8";
				return -1;
			}
			if (v3_text_packet(body + i, len, &pkt, why) < 0)
				return -1;
		} else if (eio3_decode_binary(body + i, len, &pkt, why) < 0) {
			return -1;
		}
		if (fn(arg, &pkt) < 0) {
			*why = "packet refused";
			return -1;
		}
		i += len;
	}
	return 0;
}

/* The v3 form of a binary message buffer: frame header, type byte 0x04, the bytes. */
struct gw_buf *
eio3_pkt_binary(const struct gw_buf *b)
{
	struct gw_buf *v;
	size_t n = b->len - b->hdr;
	char *tmp;

	if ((b->flags & GW_BUF_V3) || !(b->flags & GW_BUF_BINARY))
		return gw_buf_ref((struct gw_buf *)b);
	tmp = gw_xmalloc(n + 1);
	tmp[0] = EIO_MESSAGE;
	memcpy(tmp + 1, b->data + b->hdr, n);
	v = eio_pkt_new(EIO_MESSAGE, tmp, n + 1, 1);
	v->flags |= GW_BUF_V3;
	free(tmp);
	return v;
}

/* The raw bytes of a binary message in either form. */
static void
bin_bytes(const struct gw_buf *p, const char **d, size_t *n)
{
	size_t skip = (p->flags & GW_BUF_V3) ? 1 : 0;

	*d = p->data + p->hdr + skip;
	*n = p->len - p->hdr - skip;
}

/* Append the decimal digits of v as characters, or as bytes 0-9 (raw). */
static size_t
put_digits(char *dst, size_t v, int raw)
{
	char tmp[24];
	size_t k = 0, i;

	do {
		tmp[k++] = (char)(v % 10);
		v /= 10;
	} while (v > 0);
	for (i = 0; i < k; i++)
		dst[i] = (char)(tmp[k - 1 - i] + (raw ? 0 : '0'));
	return k;
}

/*
 * The v3 polling payload of packets v[0..n): text form, or the binary (XHR2)
 * form.  One new buffer; the packets are copied (legacy path).
 */
struct gw_buf *
eio3_payload(struct gw_buf *const *v, uint32_t n, int binform)
{
	size_t total = 0, off = 0;
	struct gw_buf *out;
	uint32_t i;

	for (i = 0; i < n; i++) {
		const char *d;
		size_t len;

		if (v[i]->flags & GW_BUF_BINARY) {
			bin_bytes(v[i], &d, &len);
			total += 24 + (binform ? 1 + len : 2 + GW_B64_ENC_LEN(len));
		} else {
			total += 24 + v[i]->len - v[i]->hdr;
		}
	}
	out = gw_buf_new(total);
	for (i = 0; i < n; i++) {
		const struct gw_buf *p = v[i];
		const char *d;
		size_t len;

		if ((p->flags & GW_BUF_BINARY) && binform) {
			bin_bytes(p, &d, &len);
			out->data[off++] = 1;
			off += put_digits(out->data + off, len + 1, 1);
			out->data[off++] = (char)0xff;
			out->data[off++] = EIO_MESSAGE;
			memcpy(out->data + off, d, len);
			off += len;
		} else if (p->flags & GW_BUF_BINARY) {
			bin_bytes(p, &d, &len);
			off += put_digits(out->data + off, 2 + GW_B64_ENC_LEN(len), 0);
			out->data[off++] = ':';
			out->data[off++] = 'b';
			out->data[off++] = '0' + EIO_MESSAGE;
			off += gw_b64_encode(out->data + off, (const unsigned char *)d, len);
		} else {
			d = p->data + p->hdr;
			len = p->len - p->hdr;
			if (binform) {
				out->data[off++] = 0;
				off += put_digits(out->data + off, len, 1);
				out->data[off++] = (char)0xff;
			} else {
				off += put_digits(out->data + off, eio3_u16len(d, len), 0);
				out->data[off++] = ':';
			}
			memcpy(out->data + off, d, len);
			off += len;
		}
	}
	out->len = (uint32_t)off;
	return out;
}

/* Whether a v3 polling answer for these packets takes the binary form. */
int
eio3_payload_binary(struct gw_buf *const *v, uint32_t n, int b64)
{
	uint32_t i;

	if (b64)
		return 0;
	for (i = 0; i < n; i++) {
		if (v[i]->flags & GW_BUF_BINARY)
			return 1;
	}
	return 0;
}
