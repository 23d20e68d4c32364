/*
 * fuzz_bridge.c: bridge message decoding (a worker can send anything), then
 * every typed accessor the gateway uses on the result.
 */
#include <stdint.h>
#include <stdlib.h>

#include "br_json.h"
#include "br_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct br_msg m = { 0 };
	int code;
	const char *why;
	static const char *const keys[] = { "sid", "id", "nsp", "ev", "args", "to", "except",
		"rooms", "session", "data", "n", "req", "ack", "name", "eio", "credit", "hb" };
	size_t i;

	if (br_msg_decode_ref(&m, data, size, &code, &why) == 0) {
		for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
			struct br_str s;
			uint64_t u;
			int bin;
			const msgpack_object *o = br_msg_get(&m, keys[i]);

			(void)br_msg_str(&m, keys[i], &s);
			(void)br_msg_uint(&m, keys[i], &u);
			(void)br_msg_data(&m, keys[i], &s, &bin);
			if (o != NULL) {
				struct br_buf out = { 0 };
				struct br_str a[8];
				size_t na = 0;

				(void)br_json_write(&out, o, a, &na, 8, 64, &why);
				br_buf_free(&out);
			}
		}
	}
	br_msg_free(&m);
	return 0;
}
