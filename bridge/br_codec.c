/*
 * br_codec.c: encode and decode bridge messages (see br_proto.h and
 * siogate-protocol(7)).
 *
 * Decoding trusts nothing: a worker can send any bytes.  Before msgpack-c
 * sees a frame, br_scan() walks it once without allocating and checks that
 * every declared length fits in what is left of the frame.  A five-byte
 * "array of four billion items" is refused there, before the unpacker
 * allocates for it, so the zone holds at most one object per frame byte.
 * Then the map, "v", "t" and the fields of the known types are checked
 * against one table (br_fields), so a message that decodes is one the
 * accessors can read without surprises.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "br_proto.h"

/* sb.alloc of a failed encoder (never a real allocation size). */
#define BR_ENC_POISON SIZE_MAX

/* Value kinds a field may be required to have. */
enum br_kind {
	BK_STR = 1,	/* str */
	BK_UINT,	/* non-negative integer */
	BK_DATA,	/* str or bin */
	BK_STRARR,	/* array of str */
	BK_MAP,		/* map (checked further elsewhere) */
	BK_STRMAP,	/* map of str to str */
	BK_ARR,		/* array of anything */
	BK_OBJ,		/* map with str keys (a JSON object) */
	BK_BOOL,	/* true or false */
	BK_ANY,		/* any value */
	BK_BINARR,	/* array of bin */
};

/* One field of one message type; type 0 is the handshake map "hs". */
struct br_field {
	int type;
	const char *key;
	int kind;
	int required;
	const char *why;
};

#define BR_T_HS 0

/* The same for the Socket.IO messages. */
#define SIO_ID(t, name) \
	{ t, "id", BK_STR, 1, name ": \"id\" is missing or not a string" }
#define SIO_NSP(t, name) \
	{ t, "nsp", BK_STR, 1, name ": \"nsp\" is missing or not a string" }
#define SIO_SEQ(t, name) \
	{ t, "seq", BK_UINT, 1, \
	    name ": \"seq\" is missing or not an unsigned integer" }
#define SIO_REQ(t, name) \
	{ t, "req", BK_UINT, 1, \
	    name ": \"req\" is missing or not an unsigned integer" }
#define SIO_ARGS(t, name) \
	{ t, "args", BK_ARR, 1, name ": \"args\" is missing or not an array" }
#define SIO_TO(t, name, req) \
	{ t, "to", BK_STRARR, req, \
	    name ": \"to\" is missing or not an array of strings" }

/*
 * The schema of every known type: siogate-protocol(7) documents the same
 * table.  Optional fields are checked only when present.
 */
static const struct br_field br_fields[] = {
	{ BR_T_HELLO, "name", BK_STR, 0, "HELLO: \"name\" is not a string" },
	{ BR_T_HELLO, "eio", BK_STRARR, 0,
	    "HELLO: \"eio\" is not an array of strings" },
	{ BR_T_HELLO, "nsp", BK_STRARR, 0,
	    "HELLO: \"nsp\" is not an array of strings" },
	{ BR_T_HELLO, "nsp_open", BK_STRARR, 0,
	    "HELLO: \"nsp_open\" is not an array of strings" },
	{ BR_T_HELLO, "credit", BK_UINT, 0,
	    "HELLO: \"credit\" is not an unsigned integer" },
	{ BR_T_HELLO, "hb", BK_UINT, 0,
	    "HELLO: \"hb\" is not an unsigned integer" },

	{ BR_T_WELCOME, "gw", BK_STR, 1,
	    "WELCOME: \"gw\" is missing or not a string" },
	{ BR_T_WELCOME, "wid", BK_UINT, 1,
	    "WELCOME: \"wid\" is missing or not an unsigned integer" },
	{ BR_T_WELCOME, "hb", BK_UINT, 1,
	    "WELCOME: \"hb\" is missing or not an unsigned integer" },

	{ BR_T_ERROR, "code", BK_UINT, 1,
	    "ERROR: \"code\" is missing or not an unsigned integer" },
	{ BR_T_ERROR, "text", BK_STR, 0, "ERROR: \"text\" is not a string" },
	{ BR_T_ERROR, "ref", BK_UINT, 0,
	    "ERROR: \"ref\" is not an unsigned integer" },
	{ BR_T_ERROR, "sid", BK_STR, 0, "ERROR: \"sid\" is not a string" },

	{ BR_T_HELLO, "batch", BK_BOOL, 0,
	    "HELLO: \"batch\" is not a boolean" },
	{ BR_T_WELCOME, "batch", BK_BOOL, 0,
	    "WELCOME: \"batch\" is not a boolean" },
	{ BR_T_WELCOME, "cluster", BK_UINT, 0,
	    "WELCOME: \"cluster\" is not an unsigned integer" },
	/*
	 * WELCOME "node" is not checked here: a bad one is answered with an
	 * ERROR by the SDK, which registers all the same (as no node).
	 */

	{ BR_T_BATCH, "msgs", BK_BINARR, 1,
	    "BATCH: \"msgs\" is missing or not an array of bin" },

	{ BR_T_CREDIT, "n", BK_UINT, 1,
	    "CREDIT: \"n\" is missing or not an unsigned integer" },

	{ BR_T_SYNC, "req", BK_UINT, 1,
	    "SYNC: \"req\" is missing or not an unsigned integer" },
	{ BR_T_SYNC_REPLY, "req", BK_UINT, 1,
	    "SYNC_REPLY: \"req\" is missing or not an unsigned integer" },

	{ BR_T_EIO_OPEN, "sid", BK_STR, 1,
	    "EIO_OPEN: \"sid\" is missing or not a string" },
	{ BR_T_EIO_OPEN, "path", BK_STR, 1,
	    "EIO_OPEN: \"path\" is missing or not a string" },
	{ BR_T_EIO_OPEN, "seq", BK_UINT, 1,
	    "EIO_OPEN: \"seq\" is missing or not an unsigned integer" },
	{ BR_T_EIO_OPEN, "hs", BK_MAP, 1,
	    "EIO_OPEN: \"hs\" is missing or not a map" },
	{ BR_T_HS, "headers", BK_STRMAP, 0,
	    "EIO_OPEN: \"hs.headers\" is not a map of strings" },
	{ BR_T_HS, "query", BK_STRMAP, 0,
	    "EIO_OPEN: \"hs.query\" is not a map of strings" },
	{ BR_T_HS, "addr", BK_STR, 0, "EIO_OPEN: \"hs.addr\" is not a string" },
	{ BR_T_HS, "transport", BK_STR, 0,
	    "EIO_OPEN: \"hs.transport\" is not a string" },
	{ BR_T_HS, "time", BK_UINT, 0,
	    "EIO_OPEN: \"hs.time\" is not an unsigned integer" },
	{ BR_T_HS, "url", BK_STR, 0, "EIO_OPEN: \"hs.url\" is not a string" },

	{ BR_T_EIO_MESSAGE, "sid", BK_STR, 1,
	    "EIO_MESSAGE: \"sid\" is missing or not a string" },
	{ BR_T_EIO_MESSAGE, "seq", BK_UINT, 1,
	    "EIO_MESSAGE: \"seq\" is missing or not an unsigned integer" },
	{ BR_T_EIO_MESSAGE, "data", BK_DATA, 1,
	    "EIO_MESSAGE: \"data\" is missing or not str/bin" },

	{ BR_T_EIO_CLOSE, "sid", BK_STR, 1,
	    "EIO_CLOSE: \"sid\" is missing or not a string" },
	{ BR_T_EIO_CLOSE, "seq", BK_UINT, 1,
	    "EIO_CLOSE: \"seq\" is missing or not an unsigned integer" },
	{ BR_T_EIO_CLOSE, "reason", BK_STR, 1,
	    "EIO_CLOSE: \"reason\" is missing or not a string" },

	{ BR_T_EIO_SEND, "sid", BK_STR, 0, "EIO_SEND: \"sid\" is not a string" },
	{ BR_T_EIO_SEND, "sids", BK_STRARR, 0,
	    "EIO_SEND: \"sids\" is not an array of strings" },
	{ BR_T_EIO_SEND, "data", BK_DATA, 1,
	    "EIO_SEND: \"data\" is missing or not str/bin" },

	{ BR_T_EIO_CLOSE_SESSION, "sid", BK_STR, 1,
	    "EIO_CLOSE_SESSION: \"sid\" is missing or not a string" },

	{ BR_T_SIO_CONNECT, "sid", BK_STR, 1,
	    "SIO_CONNECT: \"sid\" is missing or not a string" },
	SIO_ID(BR_T_SIO_CONNECT, "SIO_CONNECT"),
	SIO_NSP(BR_T_SIO_CONNECT, "SIO_CONNECT"),
	SIO_SEQ(BR_T_SIO_CONNECT, "SIO_CONNECT"),
	{ BR_T_SIO_CONNECT, "auth", BK_ANY, 0, NULL },
	{ BR_T_SIO_CONNECT, "reply", BK_BOOL, 1,
	    "SIO_CONNECT: \"reply\" is missing or not a boolean" },
	{ BR_T_SIO_CONNECT, "hs", BK_MAP, 1,
	    "SIO_CONNECT: \"hs\" is missing or not a map" },

	SIO_ID(BR_T_SIO_EVENT, "SIO_EVENT"),
	SIO_NSP(BR_T_SIO_EVENT, "SIO_EVENT"),
	SIO_SEQ(BR_T_SIO_EVENT, "SIO_EVENT"),
	{ BR_T_SIO_EVENT, "ev", BK_STR, 1,
	    "SIO_EVENT: \"ev\" is missing or not a string" },
	SIO_ARGS(BR_T_SIO_EVENT, "SIO_EVENT"),
	{ BR_T_SIO_EVENT, "ack", BK_UINT, 0,
	    "SIO_EVENT: \"ack\" is not an unsigned integer" },
	{ BR_T_SIO_EVENT, "session", BK_OBJ, 1,
	    "SIO_EVENT: \"session\" is missing or not a map with string keys" },
	{ BR_T_SIO_EVENT, "rooms", BK_STRARR, 1,
	    "SIO_EVENT: \"rooms\" is missing or not an array of strings" },

	SIO_ID(BR_T_SIO_DISCONNECT, "SIO_DISCONNECT"),
	SIO_NSP(BR_T_SIO_DISCONNECT, "SIO_DISCONNECT"),
	SIO_SEQ(BR_T_SIO_DISCONNECT, "SIO_DISCONNECT"),
	{ BR_T_SIO_DISCONNECT, "reason", BK_STR, 1,
	    "SIO_DISCONNECT: \"reason\" is missing or not a string" },

	SIO_ID(BR_T_SIO_CLIENT_ACK, "SIO_CLIENT_ACK"),
	SIO_NSP(BR_T_SIO_CLIENT_ACK, "SIO_CLIENT_ACK"),
	SIO_REQ(BR_T_SIO_CLIENT_ACK, "SIO_CLIENT_ACK"),
	SIO_ARGS(BR_T_SIO_CLIENT_ACK, "SIO_CLIENT_ACK"),

	SIO_ID(BR_T_SIO_ACK_TIMEOUT, "SIO_ACK_TIMEOUT"),
	SIO_NSP(BR_T_SIO_ACK_TIMEOUT, "SIO_ACK_TIMEOUT"),
	SIO_REQ(BR_T_SIO_ACK_TIMEOUT, "SIO_ACK_TIMEOUT"),
	{ BR_T_SIO_ACK_TIMEOUT, "reason", BK_STR, 1,
	    "SIO_ACK_TIMEOUT: \"reason\" is missing or not a string" },

	SIO_REQ(BR_T_SIO_RESULT, "SIO_RESULT"),
	{ BR_T_SIO_RESULT, "result", BK_ANY, 1,
	    "SIO_RESULT: \"result\" is missing" },

	SIO_ID(BR_T_SIO_ACCEPT, "SIO_ACCEPT"),
	{ BR_T_SIO_ACCEPT, "session", BK_OBJ, 0,
	    "SIO_ACCEPT: \"session\" is not a map with string keys" },
	{ BR_T_SIO_ACCEPT, "rooms", BK_STRARR, 0,
	    "SIO_ACCEPT: \"rooms\" is not an array of strings" },

	SIO_ID(BR_T_SIO_REJECT, "SIO_REJECT"),
	{ BR_T_SIO_REJECT, "data", BK_ANY, 0, NULL },

	SIO_ID(BR_T_SIO_ACK, "SIO_ACK"),
	SIO_NSP(BR_T_SIO_ACK, "SIO_ACK"),
	{ BR_T_SIO_ACK, "ack", BK_UINT, 1,
	    "SIO_ACK: \"ack\" is missing or not an unsigned integer" },
	SIO_ARGS(BR_T_SIO_ACK, "SIO_ACK"),

	{ BR_T_SIO_EMIT, "nsp", BK_STR, 0, "SIO_EMIT: \"nsp\" is not a string" },
	{ BR_T_SIO_EMIT, "ev", BK_STR, 1,
	    "SIO_EMIT: \"ev\" is missing or not a string" },
	SIO_ARGS(BR_T_SIO_EMIT, "SIO_EMIT"),
	SIO_TO(BR_T_SIO_EMIT, "SIO_EMIT", 0),
	{ BR_T_SIO_EMIT, "except", BK_STRARR, 0,
	    "SIO_EMIT: \"except\" is not an array of strings" },
	{ BR_T_SIO_EMIT, "req", BK_UINT, 0,
	    "SIO_EMIT: \"req\" is not an unsigned integer" },
	{ BR_T_SIO_EMIT, "timeout", BK_UINT, 0,
	    "SIO_EMIT: \"timeout\" is not an unsigned integer" },
	{ BR_T_SIO_EMIT, "volatile", BK_BOOL, 0,
	    "SIO_EMIT: \"volatile\" is not a boolean" },

	SIO_NSP(BR_T_SIO_JOIN, "SIO_JOIN"),
	{ BR_T_SIO_JOIN, "rooms", BK_STRARR, 1,
	    "SIO_JOIN: \"rooms\" is missing or not an array of strings" },
	SIO_TO(BR_T_SIO_JOIN, "SIO_JOIN", 1),

	SIO_NSP(BR_T_SIO_LEAVE, "SIO_LEAVE"),
	{ BR_T_SIO_LEAVE, "rooms", BK_STRARR, 1,
	    "SIO_LEAVE: \"rooms\" is missing or not an array of strings" },
	SIO_TO(BR_T_SIO_LEAVE, "SIO_LEAVE", 1),

	SIO_NSP(BR_T_SIO_DISCONNECT_SOCKETS, "SIO_DISCONNECT_SOCKETS"),
	SIO_TO(BR_T_SIO_DISCONNECT_SOCKETS, "SIO_DISCONNECT_SOCKETS", 1),
	{ BR_T_SIO_DISCONNECT_SOCKETS, "close", BK_BOOL, 0,
	    "SIO_DISCONNECT_SOCKETS: \"close\" is not a boolean" },

	SIO_ID(BR_T_SIO_SET_SESSION, "SIO_SET_SESSION"),
	SIO_NSP(BR_T_SIO_SET_SESSION, "SIO_SET_SESSION"),
	{ BR_T_SIO_SET_SESSION, "session", BK_OBJ, 1,
	    "SIO_SET_SESSION: \"session\" is missing or not a map with "
	    "string keys" },
	{ BR_T_SIO_SET_SESSION, "merge", BK_BOOL, 0,
	    "SIO_SET_SESSION: \"merge\" is not a boolean" },

	SIO_REQ(BR_T_SIO_QUERY, "SIO_QUERY"),
	SIO_NSP(BR_T_SIO_QUERY, "SIO_QUERY"),
	{ BR_T_SIO_QUERY, "what", BK_STR, 1,
	    "SIO_QUERY: \"what\" is missing or not a string" },
	SIO_TO(BR_T_SIO_QUERY, "SIO_QUERY", 0),

	SIO_NSP(BR_T_SIO_SERVER_EVENT, "SIO_SERVER_EVENT"),
	{ BR_T_SIO_SERVER_EVENT, "ev", BK_STR, 1,
	    "SIO_SERVER_EVENT: \"ev\" is missing or not a string" },
	SIO_ARGS(BR_T_SIO_SERVER_EVENT, "SIO_SERVER_EVENT"),
	{ BR_T_SIO_SERVER_EVENT, "req", BK_UINT, 0,
	    "SIO_SERVER_EVENT: \"req\" is not an unsigned integer" },

	SIO_REQ(BR_T_SIO_SERVER_RESULT, "SIO_SERVER_RESULT"),
	{ BR_T_SIO_SERVER_RESULT, "result", BK_ARR, 1,
	    "SIO_SERVER_RESULT: \"result\" is missing or not an array" },
	{ BR_T_SIO_SERVER_RESULT, "error", BK_STR, 0,
	    "SIO_SERVER_RESULT: \"error\" is not a string" },

	{ BR_T_SIO_SERVER_EMIT, "nsp", BK_STR, 0,
	    "SIO_SERVER_EMIT: \"nsp\" is not a string" },
	{ BR_T_SIO_SERVER_EMIT, "ev", BK_STR, 1,
	    "SIO_SERVER_EMIT: \"ev\" is missing or not a string" },
	SIO_ARGS(BR_T_SIO_SERVER_EMIT, "SIO_SERVER_EMIT"),
	{ BR_T_SIO_SERVER_EMIT, "req", BK_UINT, 0,
	    "SIO_SERVER_EMIT: \"req\" is not an unsigned integer" },

	SIO_REQ(BR_T_SIO_SERVER_ACK, "SIO_SERVER_ACK"),
	SIO_ARGS(BR_T_SIO_SERVER_ACK, "SIO_SERVER_ACK"),
};

/* Read a big-endian unsigned integer of n bytes. */
static uint64_t
br_be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

/*
 * Walk the first msgpack object of p[0..len) without allocating.  0 with
 * *end set to its length in bytes; -1 with *why when the bytes are not
 * msgpack, end early, or declare a length that cannot fit in the frame.
 *
 * Why a counter and not recursion: "pending" counts the objects still to
 * read.  Each needs at least one byte, so pending can never exceed the
 * bytes left; a container that declares more is refused at once.  The loop
 * runs at most len times and needs no stack, whatever the nesting.
 */
static int
br_scan(const unsigned char *p, size_t len, size_t *end, const char **why)
{
	size_t pos = 0;
	uint64_t pending = 1, n;
	unsigned b;
	int lb;

	while (pending > 0) {
		if (pos >= len)
			goto truncated;
		b = p[pos++];
		pending--;
		n = 0;
		lb = 0;
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 ||
		    b == 0xc3)
			continue;	/* fixint, nil, bool */
		if (b <= 0x8f) {
			n = 2 * (uint64_t)(b & 0x0f);	/* fixmap */
			goto container;
		}
		if (b <= 0x9f) {
			n = b & 0x0f;			/* fixarray */
			goto container;
		}
		if (b <= 0xbf) {
			n = b & 0x1f;			/* fixstr */
			goto payload;
		}
		switch (b) {
		case 0xc1:
			*why = "not msgpack (byte 0xc1)";
			return -1;
		case 0xc4: case 0xc5: case 0xc6:	/* bin 8/16/32 */
			lb = 1 << (b - 0xc4);
			break;
		case 0xc7: case 0xc8: case 0xc9:	/* ext 8/16/32 */
			lb = 1 << (b - 0xc7);
			break;
		case 0xca: n = 4; goto payload;		/* float 32 */
		case 0xcb: n = 8; goto payload;		/* float 64 */
		case 0xcc: case 0xd0: n = 1; goto payload;
		case 0xcd: case 0xd1: n = 2; goto payload;
		case 0xce: case 0xd2: n = 4; goto payload;
		case 0xcf: case 0xd3: n = 8; goto payload;
		case 0xd4: n = 2; goto payload;		/* fixext 1 */
		case 0xd5: n = 3; goto payload;
		case 0xd6: n = 5; goto payload;
		case 0xd7: n = 9; goto payload;
		case 0xd8: n = 17; goto payload;	/* fixext 16 */
		case 0xd9: case 0xda: case 0xdb:	/* str 8/16/32 */
			lb = 1 << (b - 0xd9);
			break;
		case 0xdc: case 0xdd:			/* array 16/32 */
		case 0xde: case 0xdf:			/* map 16/32 */
			lb = (b == 0xdc || b == 0xde) ? 2 : 4;
			break;
		}
		if ((size_t)lb > len - pos)
			goto truncated;
		n = br_be(p + pos, lb);
		pos += lb;
		if (b >= 0xdc) {
			if (b >= 0xde)
				n *= 2;
			goto container;
		}
		if (b >= 0xc7 && b <= 0xc9)
			n++;		/* the ext type byte */
payload:
		if (n > len - pos)
			goto huge;
		pos += n;
		continue;
container:
		pending += n;
		if (pending > len - pos)
			goto huge;
	}
	*end = pos;
	return 0;
truncated:
	*why = "truncated msgpack";
	return -1;
huge:
	*why = "a declared length runs past the end of the frame";
	return -1;
}

/* Nonzero when o has the kind k. */
static int
br_kind_ok(const msgpack_object *o, int k)
{
	uint32_t i;

	switch (k) {
	case BK_STR:
		return o->type == MSGPACK_OBJECT_STR;
	case BK_UINT:
		return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
	case BK_DATA:
		return o->type == MSGPACK_OBJECT_STR ||
		    o->type == MSGPACK_OBJECT_BIN;
	case BK_MAP:
		return o->type == MSGPACK_OBJECT_MAP;
	case BK_ARR:
		return o->type == MSGPACK_OBJECT_ARRAY;
	case BK_BOOL:
		return o->type == MSGPACK_OBJECT_BOOLEAN;
	case BK_ANY:
		return 1;
	case BK_OBJ:
		if (o->type != MSGPACK_OBJECT_MAP)
			return 0;
		for (i = 0; i < o->via.map.size; i++)
			if (o->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR)
				return 0;
		return 1;
	case BK_STRARR:
		if (o->type != MSGPACK_OBJECT_ARRAY)
			return 0;
		for (i = 0; i < o->via.array.size; i++)
			if (o->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
				return 0;
		return 1;
	case BK_BINARR:
		if (o->type != MSGPACK_OBJECT_ARRAY)
			return 0;
		for (i = 0; i < o->via.array.size; i++)
			if (o->via.array.ptr[i].type != MSGPACK_OBJECT_BIN)
				return 0;
		return 1;
	case BK_STRMAP:
		if (o->type != MSGPACK_OBJECT_MAP)
			return 0;
		for (i = 0; i < o->via.map.size; i++)
			if (o->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR ||
			    o->via.map.ptr[i].val.type != MSGPACK_OBJECT_STR)
				return 0;
		return 1;
	}
	return 0;
}

/* Check the fields of table type t in map; 0 or -1 with *why. */
static int
br_check_fields(const msgpack_object *map, int t, const char **why)
{
	const msgpack_object *o;
	size_t i;

	for (i = 0; i < sizeof br_fields / sizeof br_fields[0]; i++) {
		if (br_fields[i].type != t)
			continue;
		o = br_map_get(map, br_fields[i].key);
		if (o == NULL ? br_fields[i].required :
		    !br_kind_ok(o, br_fields[i].kind)) {
			*why = br_fields[i].why;
			return -1;
		}
	}
	return 0;
}

/* Check the fields of a known type; 0 or -1 with *why. */
static int
br_check_type(const struct br_msg *m, const char **why)
{
	const msgpack_object *to;
	struct br_str what;
	int has_sid, has_sids;

	if (br_check_fields(m->root, m->type, why) == -1)
		return -1;
	switch (m->type) {
	case BR_T_EIO_OPEN:
	case BR_T_SIO_CONNECT:
		if (br_check_fields(br_msg_get(m, "hs"), BR_T_HS, why) == -1) {
			if (m->type == BR_T_SIO_CONNECT)
				*why = "SIO_CONNECT: a field of \"hs\" has the "
				    "wrong type";
			return -1;
		}
		break;
	case BR_T_SIO_EMIT:
		/* An ack comes from one socket: req needs a single target. */
		to = br_msg_get(m, "to");
		if (br_msg_get(m, "req") != NULL &&
		    (to == NULL || to->via.array.size != 1)) {
			*why = "SIO_EMIT: \"req\" needs \"to\" naming one socket";
			return -1;
		}
		break;
	case BR_T_SIO_QUERY:
		br_msg_str(m, "what", &what);
		if (!(what.n == 7 && memcmp(what.p, "sockets", 7) == 0) &&
		    !(what.n == 5 && memcmp(what.p, "rooms", 5) == 0)) {
			*why = "SIO_QUERY: \"what\" is not \"sockets\" or "
			    "\"rooms\"";
			return -1;
		}
		break;
	case BR_T_EIO_SEND:
		has_sid = br_msg_get(m, "sid") != NULL;
		has_sids = br_msg_get(m, "sids") != NULL;
		if (has_sid == has_sids) {
			*why = "EIO_SEND: needs exactly one of \"sid\" and \"sids\"";
			return -1;
		}
		break;
	}
	return 0;
}

/* Decode, copying the frame into the zone when copy is set. */
static int
br_msg_decode_common(struct br_msg *m, const void *buf, size_t len,
    int *code, const char **why, int copy)
{
	const msgpack_object *v, *t, *root;
	size_t end, off = 0;
	char *cp = NULL;
	uint32_t i;
	int tv = 0;

	memset(m, 0, sizeof *m);
	msgpack_unpacked_init(&m->up);
	*code = BR_E_BAD_MESSAGE;
	if (len == 0 || buf == NULL) {
		*why = "empty frame";
		return -1;
	}
	if (len > BR_MAX_FRAME) {
		*code = BR_E_TOO_LARGE;
		*why = "frame larger than the bridge maximum";
		return -1;
	}
	if (br_scan(buf, len, &end, why) == -1)
		return -1;
	if (end != len) {
		*why = "trailing bytes after the message";
		return -1;
	}
	if (copy) {
		if ((cp = malloc(len)) == NULL) {
			*why = "out of memory";
			return -1;
		}
		memcpy(cp, buf, len);
		buf = cp;
	}
	if (msgpack_unpack_next(&m->up, buf, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || off != len) {
		*why = "msgpack nesting too deep, or out of memory";
		goto fail;
	}
	if (cp != NULL) {
		if (m->up.zone == NULL &&
		    (m->up.zone = msgpack_zone_new(256)) == NULL) {
			*why = "out of memory";
			goto fail;
		}
		if (!msgpack_zone_push_finalizer(m->up.zone, free, cp)) {
			*why = "out of memory";
			goto fail;
		}
		cp = NULL;	/* the zone owns it now */
	}
	root = &m->up.data;
	if (root->type != MSGPACK_OBJECT_MAP) {
		*why = "message is not a map";
		goto fail;
	}
	for (i = 0; i < root->via.map.size; i++) {
		if (root->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR) {
			*why = "a key of the message map is not a string";
			goto fail;
		}
	}
	m->root = root;
	v = br_msg_get(m, "v");
	t = br_msg_get(m, "t");
	if (t != NULL && t->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    t->via.u64 <= INT_MAX)
		tv = (int)t->via.u64;
	m->type = tv;
	if (v == NULL || (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    v->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)) {
		*why = "\"v\" is missing or not an integer";
		goto fail;
	}
	if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
	    v->via.u64 != BR_VERSION) {
		m->version = v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? 0 :
		    v->via.u64 > UINT32_MAX ? UINT32_MAX : (uint32_t)v->via.u64;
		*code = BR_E_BAD_VERSION;
		*why = "unsupported protocol version";
		goto fail;
	}
	m->version = BR_VERSION;
	if (t == NULL || t->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*why = "\"t\" is missing or not an unsigned integer";
		goto fail;
	}
	if (t->via.u64 > INT_MAX) {
		*why = "\"t\" is out of range";
		goto fail;
	}
	if (strcmp(br_type_name(tv), "?") == 0) {
		*code = BR_E_UNKNOWN_TYPE;
		*why = "unknown message type";
		return -1;	/* still decoded: the caller answers with ref */
	}
	if (br_check_type(m, why) == -1)
		return -1;	/* decoded, m->type set */
	return 0;
fail:
	/* Keep what was read of "v" and "t" for the caller's ERROR reply. */
	free(cp);
	tv = m->type;
	i = m->version;
	br_msg_free(m);
	m->type = tv;
	m->version = i;
	return -1;
}

/* Decode one frame into m, copying it (pointers live until br_msg_free). */
int
br_msg_decode(struct br_msg *m, const void *buf, size_t len, int *code,
    const char **why)
{
	return br_msg_decode_common(m, buf, len, code, why, 1);
}

/* Decode one frame into m without copying (buf must outlive m). */
int
br_msg_decode_ref(struct br_msg *m, const void *buf, size_t len, int *code,
    const char **why)
{
	return br_msg_decode_common(m, buf, len, code, why, 0);
}

/* Free a decoded message; safe on a zeroed or failed one. */
void
br_msg_free(struct br_msg *m)
{
	if (m == NULL)
		return;
	msgpack_unpacked_destroy(&m->up);
	m->root = NULL;
	m->type = 0;
	m->version = 0;
}

/* Look up a string key in a map object; NULL when absent or not a map. */
const msgpack_object *
br_map_get(const msgpack_object *map, const char *key)
{
	const msgpack_object_kv *kv;
	size_t n;
	uint32_t i;

	if (map == NULL || map->type != MSGPACK_OBJECT_MAP || key == NULL)
		return NULL;
	n = strlen(key);
	for (i = 0; i < map->via.map.size; i++) {
		kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR &&
		    kv->key.via.str.size == n &&
		    memcmp(kv->key.via.str.ptr, key, n) == 0)
			return &kv->val;
	}
	return NULL;
}

/* Look up a key of the message; NULL when absent. */
const msgpack_object *
br_msg_get(const struct br_msg *m, const char *key)
{
	return m == NULL ? NULL : br_map_get(m->root, key);
}

/* A str object as a slice; -1 when o is NULL or not a str. */
int
br_obj_str(const msgpack_object *o, struct br_str *out)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return -1;
	out->p = o->via.str.ptr;
	out->n = o->via.str.size;
	return 0;
}

/* The str value of key; -1 when absent or not a str. */
int
br_msg_str(const struct br_msg *m, const char *key, struct br_str *out)
{
	return br_obj_str(br_msg_get(m, key), out);
}

/* The unsigned integer value of key; -1 when absent or not one. */
int
br_msg_uint(const struct br_msg *m, const char *key, uint64_t *out)
{
	const msgpack_object *o = br_msg_get(m, key);

	if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -1;
	*out = o->via.u64;
	return 0;
}

/* The str or bin value of key, *binary telling which; -1 otherwise. */
int
br_msg_data(const struct br_msg *m, const char *key, struct br_str *out,
    int *binary)
{
	const msgpack_object *o = br_msg_get(m, key);

	if (o == NULL)
		return -1;
	if (o->type == MSGPACK_OBJECT_STR) {
		out->p = o->via.str.ptr;
		out->n = o->via.str.size;
		*binary = 0;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_BIN) {
		out->p = o->via.bin.ptr;
		out->n = o->via.bin.size;
		*binary = 1;
		return 0;
	}
	return -1;
}

/* Mark the encoder failed and drop its buffer. */
static void
br_enc_poison(struct br_enc *e)
{
	if (e->sb.alloc != BR_ENC_POISON)
		free(e->sb.data);
	e->sb.data = NULL;
	e->sb.size = 0;
	e->sb.alloc = BR_ENC_POISON;
}

/* The packer's write callback: append, or poison on failure. */
static int
br_enc_write(void *data, const char *buf, size_t len)
{
	struct br_enc *e = data;

	if (e->sb.alloc == BR_ENC_POISON)
		return -1;
	if (len == 0)
		return 0;
	if (msgpack_sbuffer_write(&e->sb, buf, len) != 0) {
		br_enc_poison(e);
		return -1;
	}
	return 0;
}

/* Start a message of type with nfields further keys. */
void
br_enc_init(struct br_enc *e, int type, uint32_t nfields)
{
	msgpack_sbuffer_init(&e->sb);
	br_enc_reset(e, type, nfields);
}

/* Start a new message in e, keeping its buffer. */
void
br_enc_reset(struct br_enc *e, int type, uint32_t nfields)
{
	if (e->sb.alloc == BR_ENC_POISON)
		msgpack_sbuffer_init(&e->sb);
	e->sb.size = 0;
	msgpack_packer_init(&e->pk, e, br_enc_write);
	if (nfields > UINT32_MAX - 2) {
		br_enc_poison(e);
		return;
	}
	msgpack_pack_map(&e->pk, nfields + 2);
	br_enc_key(e, "v");
	msgpack_pack_uint64(&e->pk, BR_VERSION);
	br_enc_key(e, "t");
	msgpack_pack_int64(&e->pk, type);
}

/* Go on from the bytes of a message begun earlier (see br_proto.h). */
void
br_enc_resume(struct br_enc *e, const void *p, size_t n)
{
	msgpack_sbuffer_init(&e->sb);
	msgpack_packer_init(&e->pk, e, br_enc_write);
	(void)br_enc_write(e, p, n);
}

/* Add a bare string value. */
void
br_enc_item_str(struct br_enc *e, const char *s, size_t n)
{
	if (n > UINT32_MAX) {
		br_enc_poison(e);
		return;
	}
	msgpack_pack_str(&e->pk, n);
	if (n > 0)
		msgpack_pack_str_body(&e->pk, s, n);
}

/* Add a key (the caller packs its value). */
void
br_enc_key(struct br_enc *e, const char *key)
{
	br_enc_item_str(e, key, strlen(key));
}

/* Add key: str of n bytes. */
void
br_enc_str(struct br_enc *e, const char *key, const char *s, size_t n)
{
	br_enc_key(e, key);
	br_enc_item_str(e, s, n);
}

/* Add key: a NUL-terminated string (NULL packs ""). */
void
br_enc_cstr(struct br_enc *e, const char *key, const char *s)
{
	br_enc_str(e, key, s, s == NULL ? 0 : strlen(s));
}

/* Add key: unsigned integer. */
void
br_enc_uint(struct br_enc *e, const char *key, uint64_t v)
{
	br_enc_key(e, key);
	msgpack_pack_uint64(&e->pk, v);
}

/* Add key: bin of n bytes. */
void
br_enc_bin(struct br_enc *e, const char *key, const void *p, size_t n)
{
	br_enc_key(e, key);
	if (n > UINT32_MAX) {
		br_enc_poison(e);
		return;
	}
	msgpack_pack_bin(&e->pk, n);
	if (n > 0)
		msgpack_pack_bin_body(&e->pk, p, n);
}

/* Add key: str when binary == 0, bin otherwise. */
void
br_enc_data(struct br_enc *e, const char *key, const void *p, size_t n,
    int binary)
{
	if (binary)
		br_enc_bin(e, key, p, n);
	else
		br_enc_str(e, key, p, n);
}

/* Add key: an array header of n items (the caller packs them). */
void
br_enc_array(struct br_enc *e, const char *key, uint32_t n)
{
	br_enc_key(e, key);
	msgpack_pack_array(&e->pk, n);
}

/* Add key: a map header of n pairs (the caller packs them). */
void
br_enc_map(struct br_enc *e, const char *key, uint32_t n)
{
	br_enc_key(e, key);
	msgpack_pack_map(&e->pk, n);
}

/* Nonzero when the encoder failed since it was started. */
int
br_enc_failed(const struct br_enc *e)
{
	return e->sb.alloc == BR_ENC_POISON;
}

/* Free the encoder's buffer; the encoder may be freed again. */
void
br_enc_free(struct br_enc *e)
{
	if (e == NULL)
		return;
	if (e->sb.alloc != BR_ENC_POISON)
		free(e->sb.data);
	msgpack_sbuffer_init(&e->sb);
}

/* Name of a type for logs ("HELLO"), "?" when unknown. */
const char *
br_type_name(int type)
{
	switch (type) {
	case BR_T_HELLO: return "HELLO";
	case BR_T_WELCOME: return "WELCOME";
	case BR_T_HEARTBEAT: return "HEARTBEAT";
	case BR_T_ERROR: return "ERROR";
	case BR_T_BYE: return "BYE";
	case BR_T_CREDIT: return "CREDIT";
	case BR_T_STATUS: return "STATUS";
	case BR_T_STATUS_REPLY: return "STATUS_REPLY";
	case BR_T_BATCH: return "BATCH";
	case BR_T_SYNC: return "SYNC";
	case BR_T_SYNC_REPLY: return "SYNC_REPLY";
	case BR_T_EIO_OPEN: return "EIO_OPEN";
	case BR_T_EIO_MESSAGE: return "EIO_MESSAGE";
	case BR_T_EIO_CLOSE: return "EIO_CLOSE";
	case BR_T_EIO_SEND: return "EIO_SEND";
	case BR_T_EIO_CLOSE_SESSION: return "EIO_CLOSE_SESSION";
	case BR_T_SIO_CONNECT: return "SIO_CONNECT";
	case BR_T_SIO_EVENT: return "SIO_EVENT";
	case BR_T_SIO_DISCONNECT: return "SIO_DISCONNECT";
	case BR_T_SIO_CLIENT_ACK: return "SIO_CLIENT_ACK";
	case BR_T_SIO_ACK_TIMEOUT: return "SIO_ACK_TIMEOUT";
	case BR_T_SIO_RESULT: return "SIO_RESULT";
	case BR_T_SIO_ACCEPT: return "SIO_ACCEPT";
	case BR_T_SIO_REJECT: return "SIO_REJECT";
	case BR_T_SIO_ACK: return "SIO_ACK";
	case BR_T_SIO_EMIT: return "SIO_EMIT";
	case BR_T_SIO_JOIN: return "SIO_JOIN";
	case BR_T_SIO_LEAVE: return "SIO_LEAVE";
	case BR_T_SIO_DISCONNECT_SOCKETS: return "SIO_DISCONNECT_SOCKETS";
	case BR_T_SIO_SET_SESSION: return "SIO_SET_SESSION";
	case BR_T_SIO_QUERY: return "SIO_QUERY";
	case BR_T_SIO_SERVER_EVENT: return "SIO_SERVER_EVENT";
	case BR_T_SIO_SERVER_RESULT: return "SIO_SERVER_RESULT";
	case BR_T_SIO_SERVER_EMIT: return "SIO_SERVER_EMIT";
	case BR_T_SIO_SERVER_ACK: return "SIO_SERVER_ACK";
	}
	return "?";
}

/* Name of an error code for logs ("UNKNOWN_SID"), "?" when unknown. */
const char *
br_err_name(int code)
{
	switch (code) {
	case BR_E_BAD_MESSAGE: return "BAD_MESSAGE";
	case BR_E_BAD_VERSION: return "BAD_VERSION";
	case BR_E_UNKNOWN_TYPE: return "UNKNOWN_TYPE";
	case BR_E_NOT_REGISTERED: return "NOT_REGISTERED";
	case BR_E_UNKNOWN_SID: return "UNKNOWN_SID";
	case BR_E_TOO_LARGE: return "TOO_LARGE";
	case BR_E_NOT_SERVED: return "NOT_SERVED";
	case BR_E_NO_WORKER: return "NO_WORKER";
	}
	return "?";
}

/* ---- BATCH frames ---- */

/*
 * The frame starts with this fixed header: a map of 3, "v": 1, "t": 9,
 * "msgs": an array32 whose count br_batch_frame() fills in.  MessagePack
 * lets a short array use the 32-bit form, so the header never moves.
 */
static const unsigned char br_batch_head[] = {
	0x83, 0xa1, 'v', BR_VERSION, 0xa1, 't', BR_T_BATCH,
	0xa4, 'm', 's', 'g', 's', 0xdd, 0, 0, 0, 0,
};
#define BR_BATCH_HEAD sizeof br_batch_head

/* Make room for n more bytes; -1 on OOM. */
static int
br_batch_room(struct br_batch *b, size_t n)
{
	size_t cap;
	char *p;

	if (n <= b->cap - b->len)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return -1;
	cap = b->cap ? b->cap : 4096;
	while (cap - b->len < n)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Append one whole message as a bin of the array. */
int
br_batch_add(struct br_batch *b, const void *msg, size_t len)
{
	unsigned char h[5];
	size_t hl;

	if (len > UINT32_MAX || b->n == UINT32_MAX)
		return -1;
	if (len < 256) {
		h[0] = 0xc4;
		h[1] = (unsigned char)len;
		hl = 2;
	} else if (len < 65536) {
		h[0] = 0xc5;
		h[1] = (unsigned char)(len >> 8);
		h[2] = (unsigned char)len;
		hl = 3;
	} else {
		h[0] = 0xc6;
		h[1] = (unsigned char)(len >> 24);
		h[2] = (unsigned char)(len >> 16);
		h[3] = (unsigned char)(len >> 8);
		h[4] = (unsigned char)len;
		hl = 5;
	}
	if (br_batch_room(b, (b->n == 0 ? BR_BATCH_HEAD : 0) + hl + len) == -1)
		return -1;
	if (b->n == 0) {
		memcpy(b->p, br_batch_head, BR_BATCH_HEAD);
		b->len = BR_BATCH_HEAD;
	}
	memcpy(b->p + b->len, h, hl);
	memcpy(b->p + b->len + hl, msg, len);
	b->len += hl + len;
	b->n++;
	return 0;
}

/* The frame: the BATCH, or its one message alone. */
void
br_batch_frame(struct br_batch *b, const char **p, size_t *len)
{
	unsigned char c;
	size_t hl;

	if (b->n == 0) {
		*p = NULL;
		*len = 0;
		return;
	}
	if (b->n == 1) {
		c = (unsigned char)b->p[BR_BATCH_HEAD];
		hl = c == 0xc4 ? 2 : c == 0xc5 ? 3 : 5;
		*p = b->p + BR_BATCH_HEAD + hl;
		*len = b->len - BR_BATCH_HEAD - hl;
		return;
	}
	b->p[BR_BATCH_HEAD - 4] = (char)(b->n >> 24);
	b->p[BR_BATCH_HEAD - 3] = (char)(b->n >> 16);
	b->p[BR_BATCH_HEAD - 2] = (char)(b->n >> 8);
	b->p[BR_BATCH_HEAD - 1] = (char)b->n;
	*p = b->p;
	*len = b->len;
}

void
br_batch_reset(struct br_batch *b)
{
	b->len = 0;
	b->n = 0;
}

void
br_batch_free(struct br_batch *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* br_scan() for other decoders of untrusted msgpack (see br_proto.h). */
int
br_msgpack_scan(const void *p, size_t len, size_t *end, const char **why)
{
	return br_scan(p, len, end, why);
}
