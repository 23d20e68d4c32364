/*
 * fuzz_json.c: JSON text -> msgpack -> JSON text must round-trip to the same
 * value (for text jansson accepts), with placeholders.  And the gateway's
 * fast way (br_json_fast_scan/_pack) must agree with jansson plus
 * br_json_pack() on every text it takes: same value, same event name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <msgpack.h>

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

/* Unpack one msgpack value of sb into up; abort if it is not one. */
static void
unpack_or_die(msgpack_unpacked *up, const msgpack_sbuffer *sb)
{
	size_t off = 0;

	msgpack_unpacked_init(up);
	if (msgpack_unpack_next(up, sb->data, sb->size, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != sb->size)
		abort();
}

/* The fast way, with or without an event name, against jansson's way. */
static void
fast_vs_jansson(const uint8_t *data, size_t size, int named)
{
	struct br_fast f;
	struct br_str name;
	json_error_t jerr;
	json_t *v;
	msgpack_sbuffer a, b;
	msgpack_packer pa, pb;
	msgpack_unpacked ua, ub;
	const char *why;
	size_t i, first = named ? 1 : 0;

	if (br_json_fast_scan(&f, (const char *)data, size, 32, named ? &name : NULL) != 1)
		return;
	v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (v == NULL || !json_is_array(v) || json_array_size(v) < first)
		abort();	/* the fast way took what jansson refuses */
	if (named && (!json_is_string(json_array_get(v, 0)) ||
	    json_string_length(json_array_get(v, 0)) != name.n ||
	    memcmp(json_string_value(json_array_get(v, 0)), name.p, name.n) != 0))
		abort();
	msgpack_sbuffer_init(&a);
	msgpack_sbuffer_init(&b);
	msgpack_packer_init(&pa, &a, msgpack_sbuffer_write);
	msgpack_packer_init(&pb, &b, msgpack_sbuffer_write);
	msgpack_pack_array(&pa, (uint32_t)(json_array_size(v) - first));
	for (i = first; i < json_array_size(v); i++)
		if (br_json_pack(&pa, json_array_get(v, i), NULL, 0, 32, NULL, &why) != 0)
			abort();	/* the fast way took what the gateway refuses */
	if (br_json_fast_pack(&f, &pb) != 0)
		abort();
	unpack_or_die(&ua, &a);
	unpack_or_die(&ub, &b);
	if (!msgpack_object_equal(ua.data, ub.data))
		abort();
	msgpack_unpacked_destroy(&ua);
	msgpack_unpacked_destroy(&ub);
	msgpack_sbuffer_destroy(&a);
	msgpack_sbuffer_destroy(&b);
	json_decref(v);
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

	fast_vs_jansson(data, size, 0);
	fast_vs_jansson(data, size, 1);
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
