/*
 * fuzz_cluster.c: the decoders of the cluster's Redis channels
 * (gw_cluster_msg.c) on any bytes, in every format a channel accepts:
 * a broadcast (msgpack), a request or response (JSON or msgpack), a
 * python-socketio message (pickle, JSON or msgpack).  They must never
 * crash or read out of bounds; a refusal must say why; whatever they
 * accept must point inside the parsed message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <msgpack.h>

#include "gw_cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touch every byte of a decoded string (ASan checks it is inside live memory). */
static unsigned
touch(const struct br_str *s)
{
	unsigned h = 0;
	uint32_t i;

	for (i = 0; s->p != NULL && i < s->n; i++)
		h += (unsigned char)s->p[i];
	return h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int formats[] = { 0, GW_CL_IN_JSON, GW_CL_IN_JSON | GW_CL_IN_PICKLE };
	volatile unsigned sink = 0;
	size_t f;

	for (f = 0; f < sizeof formats / sizeof formats[0]; f++) {
		struct gw_cluster_in in = { 0 };
		const msgpack_object *root = NULL;
		const char *why = NULL;
		struct gw_cluster_bcast b;
		struct gw_cluster_req r;
		struct gw_cluster_py m;

		if (gw_cluster_in_parse(&in, (const char *)data, size, formats[f], &root, &why) < 0) {
			if (why == NULL)
				abort();
			gw_cluster_in_free(&in);
			continue;
		}
		why = NULL;
		if (gw_cluster_bcast_decode(root, &b, &why) == 0) {
			sink += touch(&b.uid) + touch(&b.nsp) + b.args.via.array.size;
			if (b.ev == NULL || b.ev->type != MSGPACK_OBJECT_STR)
				abort();
		} else if (why == NULL) {
			abort();
		}
		why = NULL;
		if (gw_cluster_req_decode(root, &r, &why) == 0) {
			sink += touch(&r.uid) + touch(&r.req_id) + touch(&r.sid) + touch(&r.room);
			/* serverSideEmit: what the gateway hands a worker starts with the event name. */
			if (r.type == GW_CL_SERVER_SIDE_EMIT && (r.data == NULL ||
			    r.data->type != MSGPACK_OBJECT_ARRAY || r.data->via.array.size == 0 ||
			    r.data->via.array.ptr[0].type != MSGPACK_OBJECT_STR))
				abort();
		} else if (why == NULL)
			abort();
		why = NULL;
		if (gw_cluster_py_decode(root, &m, &why) == 0)
			sink += touch(&m.event) + touch(&m.nsp) + touch(&m.sid) +
			    (m.room ? m.room->via.array.size : 0) + m.args.via.array.size;
		else if (why == NULL)
			abort();
		gw_cluster_in_free(&in);
	}
	(void)sink;
	return 0;
}
