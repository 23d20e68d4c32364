/*
 * fuzz_pickle.c: br_pickle_pack() on any bytes.  It must never crash, read
 * out of bounds or run away; an accepted pickle must give exactly one
 * msgpack value within the documented output bound, and the same bytes
 * each time; a refused one must say why; marking tuples
 * (BR_PICKLE_MARK_TUPLES) accepts and refuses the same pickles.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <msgpack.h>

#include "br_pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_sbuffer a, b;
	msgpack_packer pa, pb;
	msgpack_unpacked up;
	const char *why = NULL, *why2 = NULL;
	size_t off = 0;
	int r;

	msgpack_sbuffer_init(&a);
	msgpack_sbuffer_init(&b);
	msgpack_packer_init(&pa, &a, msgpack_sbuffer_write);
	msgpack_packer_init(&pb, &b, msgpack_sbuffer_write);
	r = br_pickle_pack(&pa, data, size, 32, &why);
	if (r != 0 && r != -1)
		abort();
	if (r == -1 && why == NULL)
		abort();
	if (r == 0) {
		/* At most 9 msgpack bytes per unit of the budget. */
		if (a.size > 9 * ((size_t)BR_PICKLE_EXPAND * size + BR_PICKLE_SLACK))
			abort();
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, a.data, a.size, &off) != MSGPACK_UNPACK_SUCCESS ||
		    off != a.size)
			abort();
		msgpack_unpacked_destroy(&up);
	}
	/* Marking tuples changes nothing about what is accepted. */
	msgpack_sbuffer_clear(&b);
	if (br_pickle_pack_flags(&pb, data, size, 32, BR_PICKLE_MARK_TUPLES, &why2) != r)
		abort();
	msgpack_sbuffer_clear(&b);
	if (br_pickle_pack(&pb, data, size, 32, &why2) != r || a.size != b.size ||
	    (a.size > 0 && memcmp(a.data, b.data, a.size) != 0) ||
	    (r == -1 && strcmp(why, why2) != 0))
		abort();
	msgpack_sbuffer_destroy(&a);
	msgpack_sbuffer_destroy(&b);
	return 0;
}
