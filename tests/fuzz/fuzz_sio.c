/*
 * fuzz_sio.c: Socket.IO packet parsing and payload conversion as the
 * gateway does it: header, JSON, placeholders resolved against up to four
 * attachments, then the result written back as JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "br_json.h"
#include "sio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct br_str att[4] = { { "\x01", 1 }, { "ab", 2 }, { "", 0 }, { "xyz", 3 } };
	struct sio_pkt pkt;
	const char *why;
	json_t *v;
	json_error_t jerr;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (sio_packet_parse((const char *)data, size, &pkt, 4, &why) < 0)
		return 0;
	v = json_loadb(pkt.data, pkt.data_len, JSON_DECODE_ANY, &jerr);
	if (v == NULL)
		return 0;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (br_json_pack(&pk, v, pkt.natt ? att : NULL, pkt.natt < 4 ? pkt.natt : 4, 32, NULL,
	    &why) == 0) {
		msgpack_unpacked up;

		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS) {
			struct br_buf out = { 0 };
			struct br_str a[8];
			size_t na = 0;

			(void)br_json_write(&out, &up.data, a, &na, 8, 64, &why);
			br_buf_free(&out);
		}
		msgpack_unpacked_destroy(&up);
	}
	msgpack_sbuffer_destroy(&sb);
	json_decref(v);
	return 0;
}
