/*
 * fuzz_eio.c: Engine.IO packet and polling payload decoding ("b" base64
 * included), and re-encoding what was decoded.
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
	free(copy);
	return 0;
}
