/*
 * eio_packet_test.c: the Engine.IO packet codec (v4 and v3), base64 and SHA-1.
 */
#include <stdlib.h>
#include <string.h>

#include "eio_packet.h"
#include "tap.h"

struct collect {
	int n;
	struct eio_in p[8];
	char copy[8][64];
};

static int
collect_fn(void *arg, const struct eio_in *pkt)
{
	struct collect *c = arg;

	if (c->n == 8)
		return -1;
	c->p[c->n] = *pkt;
	memcpy(c->copy[c->n], pkt->data, pkt->len < 63 ? pkt->len : 63);
	c->n++;
	return 0;
}

static void
test_encode(void)
{
	struct gw_buf *b = eio_pkt_new(EIO_MESSAGE, "hello", 5, 0);
	char big[300];

	tap_ok(b->hdr == 2 && (unsigned char)b->data[0] == 0x81 && b->data[1] == 6 &&
	    memcmp(b->data + 2, "4hello", 6) == 0, "text message: FIN+text frame, '4hello'");
	tap_ok(eio_pkt_poll_len(b) == 6, "polling form of text is the packet itself");
	gw_buf_unref(b);
	b = eio_pkt_new(EIO_MESSAGE, "\x01\x02\x03\x04", 4, 1);
	tap_ok((unsigned char)b->data[0] == 0x82 && b->data[1] == 4 && (b->flags & GW_BUF_BINARY),
	    "binary message: binary frame with raw bytes");
	tap_ok(eio_pkt_poll_len(b) == 9, "polling form of binary is b + base64 (9 bytes)");
	gw_buf_unref(b);
	memset(big, 'x', sizeof big);
	b = eio_pkt_new(EIO_MESSAGE, big, sizeof big, 0);
	tap_ok(b->hdr == 4 && b->data[1] == 126 && ((unsigned char)b->data[2] << 8 |
	    (unsigned char)b->data[3]) == 301, "301-byte payload uses a 16-bit length");
	gw_buf_unref(b);
	b = eio_pkt_new(EIO_PING, NULL, 0, 0);
	tap_ok(b->len == 3 && b->data[2] == '2', "ping is '2'");
	gw_buf_unref(b);
}

static void
test_decode(void)
{
	struct eio_in p;
	const char *why;
	struct collect c;
	char body[64];

	tap_ok(eio_decode_text("4hi", 3, &p, &why) == 0 && p.type == 4 && p.len == 2,
	    "text packet decodes");
	tap_ok(eio_decode_text("", 0, &p, &why) < 0, "empty packet is an error");
	tap_ok(eio_decode_text("abc", 3, &p, &why) < 0, "unknown type 'a' is an error");
	tap_ok(eio_decode_text("7", 1, &p, &why) < 0, "type 7 is an error");

	memset(&c, 0, sizeof c);
	strcpy(body, "4test1\x1e" "4test2\x1e" "bAQIDBA==");
	tap_ok(eio_decode_payload(body, strlen(body), collect_fn, &c, &why) == 0 && c.n == 3,
	    "payload of three packets splits");
	tap_ok(strcmp(c.copy[1], "test2") == 0, "second packet data");
	tap_ok(c.p[2].binary && c.p[2].len == 4 && memcmp(c.copy[2], "\x01\x02\x03\x04", 4) == 0,
	    "b-packet base64-decoded");
	memset(&c, 0, sizeof c);
	strcpy(body, "4ok\x1e" "b!!!");
	tap_ok(eio_decode_payload(body, strlen(body), collect_fn, &c, &why) < 0 && c.n == 1,
	    "bad base64 fails after delivering the good packet");
	memset(&c, 0, sizeof c);
	strcpy(body, "4a\x1e\x1e" "4b");
	tap_ok(eio_decode_payload(body, strlen(body), collect_fn, &c, &why) < 0,
	    "empty segment is an error");
	tap_ok(eio_decode_payload(body, 0, collect_fn, &c, &why) < 0, "empty body is an error");
}

static void
test_b64_sha1(void)
{
	unsigned char out[32], sha[20];
	char enc[64];
	size_t n;

	n = gw_b64_encode(enc, (const unsigned char *)"foobar", 6);
	tap_ok(n == 8 && memcmp(enc, "Zm9vYmFy", 8) == 0, "base64 of foobar");
	n = gw_b64_encode(enc, (const unsigned char *)"fo", 2);
	tap_ok(n == 4 && memcmp(enc, "Zm8=", 4) == 0, "base64 padding");
	tap_ok(gw_b64_decode(out, "Zm9vYg==", 8) == 4 && memcmp(out, "foob", 4) == 0,
	    "base64 decode with padding");
	tap_ok(gw_b64_decode(out, "Zm9v*", 5) < 0, "base64 rejects bad characters");
	/* RFC 6455 section 1.3 example */
	gw_sha1("dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 60, sha);
	n = gw_b64_encode(enc, sha, 20);
	tap_ok(n == 28 && memcmp(enc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28) == 0,
	    "WebSocket accept key of the RFC 6455 example");
}

/* Decode a v3 text payload given as a C string; returns the count or -1 with *why. */
static int
v3_decode(const char *text, struct collect *c, const char **why)
{
	char body[256];
	size_t n = strlen(text);

	memcpy(body, text, n);
	memset(c, 0, sizeof *c);
	*why = NULL;
	return eio3_decode_payload(body, n, collect_fn, c, why) < 0 ? -1 : c->n;
}

static void
test_v3(void)
{
	struct collect c;
	const char *why;
	struct gw_buf *v[4], *pl;
	char body[64];
	size_t i;
	/* "4" + U+1F600 (4 bytes, 2 UTF-16 units) + "\xc3\xa9" (1 unit): 4 units, 7 bytes */
	static const char emoji[] = "4\xf0\x9f\x98\x80\xc3\xa9";

	tap_ok(eio3_u16len(emoji, 7) == 4, "UTF-16 length: a 4-byte character counts 2");
	tap_ok(v3_decode("4:4\xf0\x9f\x98\x80\xc3\xa9" "1:2", &c, &why) == 2 && c.p[0].len == 6 &&
	    memcmp(c.p[0].data, emoji + 1, 6) == 0 && c.p[1].type == EIO_PING,
	    "v3 payload: lengths in UTF-16 units, two packets");
	tap_ok(v3_decode("0:1:6", &c, &why) == 1 && c.p[0].type == EIO_NOOP, "a 0: segment is skipped");
	tap_ok(v3_decode("6:b4AQID", &c, &why) == 1 && c.p[0].binary && c.p[0].len == 3 &&
	    memcmp(c.p[0].data, "\x01\x02\x03", 3) == 0, "b4 + base64 is a binary message");
	tap_ok(v3_decode("3:4", &c, &why) < 0 && strstr(why, "past the end") != NULL,
	    "length past the body refused");
	tap_ok(v3_decode("99999999999:4", &c, &why) < 0 && strstr(why, "too large") != NULL,
	    "huge length refused before arithmetic");
	tap_ok(v3_decode(":4", &c, &why) < 0 && strstr(why, "prefix") != NULL, "empty length refused");
	tap_ok(v3_decode("1x:4", &c, &why) < 0 && strstr(why, "prefix") != NULL, "non-digit refused");
	tap_ok(v3_decode("12", &c, &why) < 0 && strstr(why, "prefix") != NULL, "no colon refused");
	tap_ok(v3_decode("2:4\xf0\x9f\x98\x80", &c, &why) < 0 && strstr(why, "surrogate") != NULL,
	    "a length ending inside a surrogate pair refused");
	tap_ok(v3_decode("2:4\xff", &c, &why) < 0 && strstr(why, "UTF-8") != NULL, "bad UTF-8 refused");
	tap_ok(v3_decode("2:4\xed\xa0\x80", &c, &why) < 0 && strstr(why, "UTF-8") != NULL,
	    "an encoded surrogate refused");
	tap_ok(v3_decode("4:b2AA", &c, &why) < 0 && strstr(why, "not a message") != NULL,
	    "binary non-message refused");
	tap_ok(v3_decode("1:9", &c, &why) < 0 && strstr(why, "unknown") != NULL, "unknown type refused");
	/* Every split point of a valid payload: only the whole parses, as one. */
	{
		static const char ok[] = "3:4ab1:2";
		int good = 1;

		for (i = 1; i < sizeof ok - 1; i++) {
			char part[16];

			memcpy(part, ok, i);
			part[i] = '\0';
			if (v3_decode(part, &c, &why) >= 0 && !(i == 5 && c.n == 1))
				good = 0;
		}
		tap_ok(good && v3_decode(ok, &c, &why) == 2, "every truncation of a payload is refused or whole");
	}
	/* Binary (XHR2) form. */
	{
		static const unsigned char bin[] = { 0, 2, 0xff, '4', 'a', 1, 4, 0xff, 4, 9, 8, 7 };

		memcpy(body, bin, sizeof bin);
		memset(&c, 0, sizeof c);
		tap_ok(eio3_decode_binpayload(body, sizeof bin, collect_fn, &c, &why) == 0 && c.n == 2 &&
		    c.p[0].type == EIO_MESSAGE && !c.p[0].binary && c.p[0].len == 1 && c.p[1].binary &&
		    c.p[1].len == 3 && memcmp(c.copy[1], "\x09\x08\x07", 3) == 0,
		    "binary payload: a text and a binary packet");
		for (i = 1; i < sizeof bin; i++) {
			memcpy(body, bin, i);
			memset(&c, 0, sizeof c);
			if (eio3_decode_binpayload(body, i, collect_fn, &c, &why) == 0 && i != 5)
				break;
		}
		tap_ok(i == sizeof bin, "every truncation of a binary payload but the first packet is refused");
		memcpy(body, "\x07\x01\xff\x34", 4);
		tap_ok(eio3_decode_binpayload(body, 4, collect_fn, &c, &why) < 0 &&
		    strstr(why, "marker") != NULL, "bad marker refused");
		memcpy(body, "\x00\x0c\xff\x34", 4);
		tap_ok(eio3_decode_binpayload(body, 4, collect_fn, &c, &why) < 0 &&
		    strstr(why, "digit") != NULL, "bad length digit refused");
		memset(body, 9, 20);
		body[0] = 0;
		body[20] = (char)0xff;
		tap_ok(eio3_decode_binpayload(body, 21, collect_fn, &c, &why) < 0 &&
		    strstr(why, "too large") != NULL, "huge binary length refused");
	}
	/* Encoding: text form, binary form, v3 binary buffers. */
	v[0] = eio_pkt_new(EIO_MESSAGE, emoji + 1, 6, 0);
	v[1] = eio_pkt_new(EIO_MESSAGE, "\x01\x02\x03", 3, 1);
	v[2] = eio3_pkt_binary(v[1]);
	tap_ok((v[2]->flags & GW_BUF_V3) && v[2]->data[1] == 4 && v[2]->data[2] == EIO_MESSAGE,
	    "v3 binary frame: type byte then the bytes");
	v[3] = eio3_pkt_binary(v[2]);
	tap_ok(v[3] == v[2], "a v3 buffer is not converted again");
	gw_buf_unref(v[3]);
	tap_ok(eio3_payload_binary(v, 2, 0) && !eio3_payload_binary(v, 2, 1) &&
	    !eio3_payload_binary(v, 1, 0), "binary form only with a binary packet and no b64");
	pl = eio3_payload(v, 3, 0);
	tap_ok(pl->len == 25 && memcmp(pl->data, "4:4\xf0\x9f\x98\x80\xc3\xa9" "6:b4AQID6:b4AQID", 25) == 0,
	    "text form: UTF-16 lengths, b4 + base64 for either binary form");
	gw_buf_unref(pl);
	pl = eio3_payload(v, 3, 1);
	tap_ok(pl->len == 10 + 7 + 7 && memcmp(pl->data, "\x00\x07\xff" "4\xf0\x9f\x98\x80\xc3\xa9"
	    "\x01\x04\xff\x04\x01\x02\x03" "\x01\x04\xff\x04\x01\x02\x03", 24) == 0,
	    "binary form: UTF-8 lengths for text, type byte for binary");
	memset(&c, 0, sizeof c);
	tap_ok(eio3_decode_binpayload(pl->data, pl->len, collect_fn, &c, &why) == 0 && c.n == 3,
	    "the binary form decodes back");
	gw_buf_unref(pl);
	for (i = 0; i < 3; i++)
		gw_buf_unref(v[i]);
}

int
main(void)
{
	test_encode();
	test_decode();
	test_v3();
	test_b64_sha1();
	return tap_done();
}
