/*
 * fuzz_json.c: JSON text -> msgpack -> JSON text must round-trip to the same
 * value (for text jansson accepts), with placeholders.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "br_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether a value holds a real anywhere (1.0 comes back as 1: not equal). */
static int
has_real(json_t *v)
{
	size_t i;
	const char *k;
	json_t *x;

	if (json_is_real(v))
		return 1;
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if (has_real(x))
				return 1;
	}
	if (json_is_object(v)) {
		json_object_foreach(v, k, x)
			if (has_real(x))
				return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct br_str att[2] = { { "\x00\x01", 2 }, { "z", 1 } };
	json_error_t jerr;
	json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const char *why;

	if (v == NULL)
		return 0;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (br_json_pack(&pk, v, att, 2, 64, NULL, &why) == 0) {
		msgpack_unpacked up;

		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS) {
			struct br_buf out = { 0 };
			struct br_str a[16];
			size_t na = 0;

			if (br_json_write(&out, &up.data, a, &na, 16, 64, &why) == 0) {
				json_t *back = json_loadb(out.p, out.len, JSON_DECODE_ANY, &jerr);

				/* Without placeholders the value must come back equal. */
				if (na == 0 && back != NULL && !has_real(v) && !json_equal(v, back))
					abort();
				json_decref(back);
			}
			br_buf_free(&out);
		}
		msgpack_unpacked_destroy(&up);
	}
	msgpack_sbuffer_destroy(&sb);
	json_decref(v);
	return 0;
}
