/*
 * gw_cluster_msg.c: decoders of the messages that arrive on the cluster's
 * Redis channels, in the format of @socket.io/redis-adapter 8.x and
 * @socket.io/redis-emitter 5.x (see siogate-protocol(7), CLUSTER).
 *
 * A broadcast is msgpack [uid, packet, opts]; a request or a response is a
 * map, as JSON text (first byte '{') or msgpack.  Whatever arrives is
 * checked here before anything acts on it; strings point into the parsed
 * message.  No I/O and no logging.
 */
#include <string.h>
#include <jansson.h>

#include "br_json.h"
#include "br_pickle.h"
#include "gw_cluster.h"

/* Nesting of a JSON request converted to msgpack. */
#define CL_JSON_DEPTH 64

int
gw_cluster_in_parse(struct gw_cluster_in *in, const char *p, size_t n, int formats,
    const msgpack_object **root, const char **why)
{
	size_t off = 0;

	msgpack_unpacked_init(&in->up);
	msgpack_sbuffer_init(&in->sb);
	in->inited = 1;
	if (n == 0 || n > GW_CL_MAX_MSG) {
		*why = n == 0 ? "empty message" : "message too large";
		return -1;
	}
	if ((formats & GW_CL_IN_PICKLE) && (unsigned char)p[0] == 0x80) {
		msgpack_packer pk;

		msgpack_packer_init(&pk, &in->sb, msgpack_sbuffer_write);
		if (br_pickle_pack_flags(&pk, p, n, CL_JSON_DEPTH, BR_PICKLE_MARK_TUPLES, why) < 0)
			return -1;
		p = in->sb.data;
		n = in->sb.size;
	} else if ((formats & GW_CL_IN_JSON) && p[0] == '{') {
		json_error_t err;
		json_t *v = json_loadb(p, n, JSON_ALLOW_NUL, &err);
		msgpack_packer pk;
		int rc;

		if (v == NULL) {
			*why = "invalid JSON";
			return -1;
		}
		msgpack_packer_init(&pk, &in->sb, msgpack_sbuffer_write);
		rc = br_json_pack(&pk, v, NULL, 0, CL_JSON_DEPTH, NULL, why);
		json_decref(v);
		if (rc < 0)
			return -1;
		p = in->sb.data;
		n = in->sb.size;
	}
	/* The lengths it declares must fit before the unpacker allocates for them. */
	if (br_msgpack_scan(p, n, &off, why) < 0)
		return -1;
	if (off != n) {
		*why = "trailing bytes after the message";
		return -1;
	}
	off = 0;
	if (msgpack_unpack_next(&in->up, p, n, &off) != MSGPACK_UNPACK_SUCCESS) {
		*why = "invalid msgpack";
		return -1;
	}
	if (off != n) {
		*why = "trailing bytes after the message";
		return -1;
	}
	*root = &in->up.data;
	return 0;
}

void
gw_cluster_in_free(struct gw_cluster_in *in)
{
	if (!in->inited)
		return;
	msgpack_unpacked_destroy(&in->up);
	msgpack_sbuffer_destroy(&in->sb);
	in->inited = 0;
}

/* An array whose items are all str, or absent / nil: 0; else -1. */
static int
str_array(const msgpack_object *o, const msgpack_object **out)
{
	uint32_t i;

	*out = NULL;
	if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return -1;
	for (i = 0; i < o->via.array.size; i++)
		if (o->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
			return -1;
	*out = o;
	return 0;
}

/* A non-negative integer (JSON numbers may come as floats). */
static int
uint_of(const msgpack_object *o, uint64_t *v)
{
	if (o == NULL)
		return -1;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*v = o->via.u64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) {
		if (!(o->via.f64 >= 0 && o->via.f64 < 9007199254740992.0) ||
		    o->via.f64 != (double)(uint64_t)o->via.f64)
			return -1;
		*v = (uint64_t)o->via.f64;
		return 0;
	}
	return -1;
}

static int
is_true(const msgpack_object *o)
{
	return o != NULL && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

/* The rooms / except / flags of opts into b. */
static int
opts_decode(const msgpack_object *opts, struct gw_cluster_bcast *b, const char **why)
{
	const msgpack_object *flags;

	if (opts == NULL || opts->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (opts->type != MSGPACK_OBJECT_MAP) {
		*why = "opts is not a map";
		return -1;
	}
	if (str_array(br_map_get(opts, "rooms"), &b->rooms) < 0 ||
	    str_array(br_map_get(opts, "except"), &b->except) < 0) {
		*why = "opts.rooms and opts.except must be arrays of strings";
		return -1;
	}
	flags = br_map_get(opts, "flags");
	if (flags != NULL && flags->type == MSGPACK_OBJECT_MAP) {
		b->vol = is_true(br_map_get(flags, "volatile"));
		b->local = is_true(br_map_get(flags, "local"));
		if (uint_of(br_map_get(flags, "timeout"), &b->timeout) < 0)
			b->timeout = 0;
	}
	return 0;
}

/* A Socket.IO packet object {type: 2|5, data: [ev, ...], nsp, id?} into b. */
static int
packet_decode(const msgpack_object *pkt, struct gw_cluster_bcast *b, const char **why)
{
	const msgpack_object *data, *nsp, *id;
	uint64_t type;

	if (pkt == NULL || pkt->type != MSGPACK_OBJECT_MAP) {
		*why = "packet is not a map";
		return -1;
	}
	if (uint_of(br_map_get(pkt, "type"), &type) < 0 || (type != 2 && type != 5)) {
		*why = "packet type is not EVENT (2) or BINARY_EVENT (5)";
		return -1;
	}
	data = br_map_get(pkt, "data");
	if (data == NULL || data->type != MSGPACK_OBJECT_ARRAY || data->via.array.size == 0 ||
	    data->via.array.ptr[0].type != MSGPACK_OBJECT_STR) {
		*why = "packet data is not an array starting with the event name";
		return -1;
	}
	b->ev = &data->via.array.ptr[0];
	b->args.type = MSGPACK_OBJECT_ARRAY;
	b->args.via.array.size = data->via.array.size - 1;
	b->args.via.array.ptr = data->via.array.ptr + 1;
	b->nsp.p = "/";
	b->nsp.n = 1;
	nsp = br_map_get(pkt, "nsp");
	if (nsp != NULL && nsp->type != MSGPACK_OBJECT_NIL &&
	    (br_obj_str(nsp, &b->nsp) < 0 || b->nsp.n == 0 || b->nsp.p[0] != '/')) {
		*why = "packet nsp is not a namespace";
		return -1;
	}
	id = br_map_get(pkt, "id");
	if (id != NULL && id->type != MSGPACK_OBJECT_NIL) {
		if (uint_of(id, &b->id) < 0) {
			*why = "packet id is not an integer";
			return -1;
		}
		b->has_id = 1;
	}
	return 0;
}

int
gw_cluster_bcast_decode(const msgpack_object *o, struct gw_cluster_bcast *b, const char **why)
{
	memset(b, 0, sizeof *b);
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 2) {
		*why = "broadcast is not [uid, packet, opts]";
		return -1;
	}
	if (br_obj_str(&o->via.array.ptr[0], &b->uid) < 0) {
		*why = "broadcast uid is not a string";
		return -1;
	}
	if (packet_decode(&o->via.array.ptr[1], b, why) < 0)
		return -1;
	return opts_decode(o->via.array.size > 2 ? &o->via.array.ptr[2] : NULL, b, why);
}

/* An optional string field: absent/nil leaves out.p NULL; another type is an error. */
static int
opt_str(const msgpack_object *map, const char *key, struct br_str *out)
{
	const msgpack_object *v = br_map_get(map, key);

	out->p = NULL;
	out->n = 0;
	if (v == NULL || v->type == MSGPACK_OBJECT_NIL)
		return 0;
	return br_obj_str(v, out);
}

int
gw_cluster_req_decode(const msgpack_object *o, struct gw_cluster_req *r, const char **why)
{
	const msgpack_object *opts, *rooms;
	uint64_t type;

	memset(r, 0, sizeof *r);
	r->root = o;
	r->type = -1;
	if (o->type != MSGPACK_OBJECT_MAP) {
		*why = "request is not a map";
		return -1;
	}
	if (br_map_get(o, "type") != NULL) {
		if (uint_of(br_map_get(o, "type"), &type) < 0 || type > GW_CL_BROADCAST_ACK) {
			*why = "unknown request type";
			return -1;
		}
		r->type = (int)type;
	}
	if (opt_str(o, "uid", &r->uid) < 0 || opt_str(o, "requestId", &r->req_id) < 0 ||
	    opt_str(o, "sid", &r->sid) < 0 || opt_str(o, "room", &r->room) < 0) {
		*why = "uid, requestId, sid and room must be strings";
		return -1;
	}
	r->close = is_true(br_map_get(o, "close"));
	opts = br_map_get(o, "opts");
	if (opts != NULL && opts->type != MSGPACK_OBJECT_NIL) {
		if (opts->type != MSGPACK_OBJECT_MAP) {
			*why = "opts is not a map";
			return -1;
		}
		r->has_opts = 1;
		if (str_array(br_map_get(opts, "rooms"), &r->opts_rooms) < 0 ||
		    str_array(br_map_get(opts, "except"), &r->opts_except) < 0) {
			*why = "opts.rooms and opts.except must be arrays of strings";
			return -1;
		}
	}
	rooms = br_map_get(o, "rooms");
	switch (r->type) {
	case GW_CL_REMOTE_JOIN:
	case GW_CL_REMOTE_LEAVE:
		if (r->has_opts) {
			if (str_array(rooms, &r->rooms) < 0 || r->rooms == NULL) {
				*why = "rooms must be an array of strings";
				return -1;
			}
		} else if (r->sid.p == NULL || r->room.p == NULL) {
			*why = "a join or leave needs opts and rooms, or sid and room";
			return -1;
		}
		break;
	case GW_CL_REMOTE_DISCONNECT:
		if (!r->has_opts && r->sid.p == NULL) {
			*why = "a disconnect needs opts or sid";
			return -1;
		}
		break;
	case GW_CL_SOCKETS:
		if (str_array(rooms, &r->opts_rooms) < 0) {
			*why = "rooms must be an array of strings";
			return -1;
		}
		break;
	case GW_CL_SERVER_SIDE_EMIT:
		r->data = br_map_get(o, "data");
		if (r->data == NULL || r->data->type != MSGPACK_OBJECT_ARRAY ||
		    r->data->via.array.size == 0 ||
		    r->data->via.array.ptr[0].type != MSGPACK_OBJECT_STR) {
			*why = "serverSideEmit data is not an array starting with the event name";
			return -1;
		}
		break;
	case GW_CL_BROADCAST:
		if (packet_decode(br_map_get(o, "packet"), &r->bc, why) < 0 ||
		    opts_decode(opts, &r->bc, why) < 0)
			return -1;
		r->bc.uid = r->uid;
		break;
	default:
		break;
	}
	return 0;
}

/* Whether v is a Python tuple as br_pickle marks it: [ext 'T', items...]. */
static int
is_tuple(const msgpack_object *v)
{
	return v != NULL && v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size > 0 &&
	    v->via.array.ptr[0].type == MSGPACK_OBJECT_EXT &&
	    v->via.array.ptr[0].via.ext.type == BR_PICKLE_TUPLE_EXT;
}

/* The items of a marked tuple as an array view. */
static void
tuple_items(const msgpack_object *v, msgpack_object *view)
{
	view->type = MSGPACK_OBJECT_ARRAY;
	view->via.array.size = v->via.array.size - 1;
	view->via.array.ptr = v->via.array.ptr + 1;
}

/*
 * A str, a list or tuple of str, or absent/nil (*out NULL); into a
 * one-item view for a str, the items' view for a tuple.
 */
static int
names(const msgpack_object *v, msgpack_object *one, const msgpack_object **out)
{
	*out = NULL;
	if (v == NULL || v->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (is_tuple(v)) {
		tuple_items(v, one);
		return str_array(one, out);
	}
	if (v->type == MSGPACK_OBJECT_STR) {
		one->type = MSGPACK_OBJECT_ARRAY;
		one->via.array.size = 1;
		one->via.array.ptr = (msgpack_object *)(uintptr_t)v;
		*out = one;
		return 0;
	}
	return str_array(v, out);
}

int
gw_cluster_py_decode(const msgpack_object *o, struct gw_cluster_py *m, const char **why)
{
	const msgpack_object *d;

	memset(m, 0, sizeof *m);
	if (o->type != MSGPACK_OBJECT_MAP || br_obj_str(br_map_get(o, "method"), &m->method) < 0) {
		*why = "not a map with a method";
		return -1;
	}
	m->nsp.p = "/";
	m->nsp.n = 1;
	if (br_map_get(o, "namespace") != NULL && br_map_get(o, "namespace")->type != MSGPACK_OBJECT_NIL &&
	    (br_obj_str(br_map_get(o, "namespace"), &m->nsp) < 0 || m->nsp.n == 0 ||
	    m->nsp.p[0] != '/')) {
		*why = "namespace is not a namespace";
		return -1;
	}
	if (m->method.n == 4 && memcmp(m->method.p, "emit", 4) == 0) {
		m->type = GW_CL_PY_EMIT;
		if (br_obj_str(br_map_get(o, "event"), &m->event) < 0) {
			*why = "emit without an event name";
			return -1;
		}
		/* Server.emit's data: a tuple is its arguments, None none, else one argument. */
		d = br_map_get(o, "data");
		m->args.type = MSGPACK_OBJECT_ARRAY;
		if (is_tuple(d)) {
			tuple_items(d, &m->args);
			m->tuple = 1;
		} else if (d != NULL && d->type != MSGPACK_OBJECT_NIL) {
			m->args.via.array.size = 1;
			m->args.via.array.ptr = (msgpack_object *)(uintptr_t)d;
		}
		if (names(br_map_get(o, "room"), &m->room1, &m->room) < 0 ||
		    names(br_map_get(o, "skip_sid"), &m->skip1, &m->skip) < 0) {
			*why = "room and skip_sid must be a string or a list of strings";
			return -1;
		}
		m->callback = br_map_get(o, "callback") != NULL &&
		    br_map_get(o, "callback")->type != MSGPACK_OBJECT_NIL;
	} else if (m->method.n == 10 && memcmp(m->method.p, "disconnect", 10) == 0) {
		m->type = GW_CL_PY_DISCONNECT;
		if (br_obj_str(br_map_get(o, "sid"), &m->sid) < 0) {
			*why = "disconnect without a sid";
			return -1;
		}
	} else if (m->method.n == 10 && memcmp(m->method.p, "close_room", 10) == 0) {
		m->type = GW_CL_PY_CLOSE_ROOM;
		if (br_obj_str(br_map_get(o, "room"), &m->sid) < 0) {
			*why = "close_room without a room";
			return -1;
		}
	} else {
		m->type = GW_CL_PY_OTHER;	/* callback, and methods of later versions */
	}
	return 0;
}
