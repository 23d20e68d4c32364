/*
 * fuzz_bridge.c: bridge message decoding (a worker can send anything), then
 * every typed accessor the gateway uses on the result.  A BATCH is taken
 * apart as the gateway and the SDK do it, each item decoded and read as a
 * message of its own; its items are also batched again with br_batch_add()
 * and the new frame must decode to the same items.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "br_json.h"
#include "br_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read every field the gateway and the SDK read. */
static void
poke(const struct br_msg *m)
{
	static const char *const keys[] = { "sid", "id", "nsp", "ev", "args", "to", "except",
		"rooms", "session", "data", "n", "req", "ack", "name", "eio", "credit", "hb",
		"batch", "msgs" };
	const char *why;
	size_t i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		struct br_str s;
		uint64_t u;
		int bin;
		const msgpack_object *o = br_msg_get(m, keys[i]);

		(void)br_msg_str(m, keys[i], &s);
		(void)br_msg_uint(m, keys[i], &u);
		(void)br_msg_data(m, keys[i], &s, &bin);
		if (o != NULL) {
			struct br_buf out = { 0 };
			struct br_str a[8];
			size_t na = 0;

			(void)br_json_write(&out, o, a, &na, 8, 64, &why);
			br_buf_free(&out);
		}
	}
}

/* A decoded BATCH: its items one by one, then batched again. */
static void
batch(const struct br_msg *m)
{
	const msgpack_object *msgs = br_msg_get(m, "msgs");
	struct br_batch b = { 0 };
	struct br_msg im, again;
	const char *why, *p;
	size_t n;
	int code;
	uint32_t i;

	for (i = 0; i < msgs->via.array.size; i++) {
		const msgpack_object_bin *it = &msgs->via.array.ptr[i].via.bin;

		if (br_msg_decode_ref(&im, it->ptr, it->size, &code, &why) == 0)
			poke(&im);	/* a nested BATCH is refused by both readers */
		br_msg_free(&im);
		if (br_batch_add(&b, it->ptr, it->size) != 0)
			abort();
	}
	br_batch_frame(&b, &p, &n);
	if (b.n >= 2) {
		const msgpack_object *m2;

		if (br_msg_decode_ref(&again, p, n, &code, &why) != 0 || again.type != BR_T_BATCH)
			abort();
		m2 = br_msg_get(&again, "msgs");
		if (m2->via.array.size != b.n)
			abort();
		for (i = 0; i < b.n; i++) {
			const msgpack_object_bin *x = &m2->via.array.ptr[i].via.bin;
			const msgpack_object_bin *y = &msgs->via.array.ptr[i].via.bin;

			if (x->size != y->size || memcmp(x->ptr, y->ptr, x->size) != 0)
				abort();
		}
		br_msg_free(&again);
	} else if (b.n == 1) {
		/* A lone message goes bare: exactly the item's bytes. */
		if (n != msgs->via.array.ptr[0].via.bin.size ||
		    memcmp(p, msgs->via.array.ptr[0].via.bin.ptr, n) != 0)
			abort();
	}
	br_batch_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct br_msg m = { 0 };
	int code;
	const char *why;

	if (br_msg_decode_ref(&m, data, size, &code, &why) == 0) {
		poke(&m);
		if (m.type == BR_T_BATCH)
			batch(&m);
	}
	br_msg_free(&m);
	return 0;
}
