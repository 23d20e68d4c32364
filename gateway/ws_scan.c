/*
 * ws_scan.c: frame boundaries of a client's WebSocket stream (RFC 6455
 * section 5.2), so that the wslay context can be dropped between messages.
 */
#include "ws_scan.h"

/* Header length once its second byte is known: 2, extended length, mask key. */
static unsigned
hdr_len(uint8_t b1)
{
	unsigned len7 = b1 & 0x7f;

	return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}

void
ws_scan_feed(struct ws_scan *s, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		if (s->hpos == 0 && s->left > 0) {
			/* Payload: skip it. */
			size_t k = (uint64_t)n < s->left ? n : (size_t)s->left;

			b += k;
			n -= k;
			s->left -= k;
			continue;
		}
		/* One header byte. */
		switch (s->hpos) {
		case 0:
			s->op = *b;
			s->left = 0;
			break;
		case 1:
			s->b1 = *b;
			if ((*b & 0x7f) < 126)
				s->left = *b & 0x7f;
			break;
		default:
			/* Extended length bytes (big-endian), then the mask key. */
			if (s->hpos < hdr_len(s->b1) - (s->b1 & 0x80 ? 4 : 0))
				s->left = s->left << 8 | *b;
			break;
		}
		b++;
		n--;
		s->hpos++;
		if (s->hpos >= 2 && s->hpos == hdr_len(s->b1)) {
			/* Header complete: a data frame opens or closes a message. */
			s->hpos = 0;
			if ((s->op & 0x0f) < 8)
				s->frag = !(s->op & 0x80);
		}
	}
}
