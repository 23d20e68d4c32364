/*
 * eio_packet_test.c: the Engine.IO packet codec, base64 and SHA-1.
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

int
main(void)
{
	test_encode();
	test_decode();
	test_b64_sha1();
	return tap_done();
}
