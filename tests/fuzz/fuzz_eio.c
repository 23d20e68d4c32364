/*
 * fuzz_eio.c: Engine.IO packet and polling payload decoding ("b" base64
 * included), v3 payloads (text form with UTF-16 lengths, binary form, v3
 * binary packets), and re-encoding what was decoded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eio_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
on_packet(void *arg, const struct eio_in *pkt)
{
	struct gw_buf *b = eio_pkt_new(pkt->type, pkt->data, pkt->len, pkt->binary);

	(void)arg;
	(void)eio_pkt_poll_len(b);
	gw_buf_unref(b);
	return 0;
}

/* A v3 packet: encode it back in both v3 payload forms and the v3 binary form. */
static int
on_packet3(void *arg, const struct eio_in *pkt)
{
	struct gw_buf *b = eio_pkt_new(pkt->type, pkt->data, pkt->len, pkt->binary);
	struct gw_buf *v = eio3_pkt_binary(b), *pl;
	const char *why;

	(void)arg;
	pl = eio3_payload(&v, 1, 1);
	(void)eio3_decode_binpayload(pl->data, pl->len, on_packet, NULL, &why);
	gw_buf_unref(pl);
	pl = eio3_payload(&v, 1, 0);
	gw_buf_unref(pl);
	gw_buf_unref(v);
	gw_buf_unref(b);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	const char *why;
	struct eio_in pkt;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	(void)eio_decode_text(copy, size, &pkt, &why);
	(void)eio_decode_payload(copy, size, on_packet, NULL, &why);
	memcpy(copy, data, size);
	(void)eio3_decode_payload(copy, size, on_packet3, NULL, &why);
	memcpy(copy, data, size);
	(void)eio3_decode_binpayload(copy, size, on_packet3, NULL, &why);
	(void)eio3_decode_binary((const char *)data, size, &pkt, &why);
	(void)eio3_u16len((const char *)data, size);
	free(copy);
	return 0;
}
