/*
 * br_codec_test.c: the bridge codec (bridge/br_codec.c).  Every message
 * type is encoded and decoded back; every class of bad frame is fed to the
 * decoder, including every truncation of every valid message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_proto.h"
#include "tap.h"

/* A frame kept for the split tests. */
struct frame {
	const char *name;
	char *p;
	size_t n;
};

static struct frame frames[64];
static int nframes;

/* Keep a copy of an encoded message (and free the encoder). */
static void
keep(const char *name, struct br_enc *e)
{
	tap_ok(!br_enc_failed(e), "%s: encoder did not fail", name);
	frames[nframes].name = name;
	frames[nframes].n = e->sb.size;
	frames[nframes].p = malloc(e->sb.size);
	memcpy(frames[nframes].p, e->sb.data, e->sb.size);
	nframes++;
	br_enc_free(e);
}

/* Nonzero when slice s equals the C string c. */
static int
str_is(const struct br_str *s, const char *c)
{
	return s->n == strlen(c) && memcmp(s->p, c, s->n) == 0;
}

/* Nonzero when key of m is the str c. */
static int
msg_str_is(const struct br_msg *m, const char *key, const char *c)
{
	struct br_str s;

	return br_msg_str(m, key, &s) == 0 && str_is(&s, c);
}

/* Nonzero when key of m is the unsigned v. */
static int
msg_uint_is(const struct br_msg *m, const char *key, uint64_t v)
{
	uint64_t u;

	return br_msg_uint(m, key, &u) == 0 && u == v;
}

/* Decode the last kept frame; check success and its type. */
static int
decode_last(struct br_msg *m, int type)
{
	const char *why = NULL;
	int code = 0, rc;

	rc = br_msg_decode(m, frames[nframes - 1].p, frames[nframes - 1].n,
	    &code, &why);
	tap_ok(rc == 0, "%s: decodes (%s)", frames[nframes - 1].name,
	    rc == 0 ? "ok" : why);
	tap_ok(m->type == type && m->version == BR_VERSION,
	    "%s: type %d, version %u", frames[nframes - 1].name, m->type,
	    m->version);
	return rc;
}

/* Decode raw bytes; expect failure with code. */
static void
expect_fail(const char *name, const void *p, size_t n, int want)
{
	struct br_msg m;
	const char *why = NULL;
	int code = 0, rc;

	rc = br_msg_decode(&m, p, n, &code, &why);
	tap_ok(rc == -1 && code == want && why != NULL,
	    "%s: refused with %s (got rc %d, %s: %s)", name,
	    br_err_name(want), rc, br_err_name(code), why ? why : "-");
	br_msg_free(&m);
	rc = br_msg_decode_ref(&m, p, n, &code, &why);
	tap_ok(rc == -1 && code == want, "%s: refused by decode_ref too",
	    name);
	br_msg_free(&m);
}

/* Raw msgpack writer for the bad-frame tests. */
struct raw {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

/* Start a raw frame. */
static void
raw_init(struct raw *r)
{
	msgpack_sbuffer_init(&r->sb);
	msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
}

/* Pack a str key. */
static void
raw_key(struct raw *r, const char *k)
{
	msgpack_pack_str_with_body(&r->pk, k, strlen(k));
}

/* Pack "v": v, "t": t as the first two pairs of a map of n pairs. */
static void
raw_head(struct raw *r, uint32_t n, int64_t v, int64_t t)
{
	msgpack_pack_map(&r->pk, n);
	raw_key(r, "v");
	msgpack_pack_int64(&r->pk, v);
	raw_key(r, "t");
	msgpack_pack_int64(&r->pk, t);
}

/* Pack a minimal handshake map under "hs". */
static void
enc_hs(struct br_enc *e)
{
	br_enc_map(e, "hs", 2);
	br_enc_map(e, "headers", 1);
	br_enc_item_str(e, "host", 4);
	br_enc_item_str(e, "localhost", 9);
	br_enc_cstr(e, "addr", "127.0.0.1:1");
}

/* Nonzero when key of m is an array of n items. */
static int
msg_arr_is(const struct br_msg *m, const char *key, uint32_t n)
{
	const msgpack_object *o = br_msg_get(m, key);

	return o != NULL && o->type == MSGPACK_OBJECT_ARRAY &&
	    o->via.array.size == n;
}

/* Nonzero when key of m is the boolean b. */
static int
msg_bool_is(const struct br_msg *m, const char *key, int b)
{
	const msgpack_object *o = br_msg_get(m, key);

	return o != NULL && o->type == MSGPACK_OBJECT_BOOLEAN &&
	    o->via.boolean == (b != 0);
}

/* Encode the Socket.IO types, decode them back, check every field. */
static void
test_sio_round_trip(void)
{
	static const char id[] = "g1AAbbbbccccddddeeeeffff";
	struct br_enc e;
	struct br_msg m;
	struct br_str s;
	const msgpack_object *o;

	/* HELLO with namespaces */
	br_enc_init(&e, BR_T_HELLO, 2);
	br_enc_array(&e, "nsp", 3);
	br_enc_item_str(&e, "/", 1);
	br_enc_item_str(&e, "/dyn-*", 6);
	br_enc_item_str(&e, "*", 1);
	br_enc_array(&e, "nsp_open", 1);
	br_enc_item_str(&e, "/dyn-*", 6);
	keep("HELLO (nsp)", &e);
	if (decode_last(&m, BR_T_HELLO) == 0) {
		o = br_msg_get(&m, "nsp_open");
		tap_ok(msg_arr_is(&m, "nsp", 3) && o != NULL &&
		    o->via.array.size == 1 &&
		    br_obj_str(&o->via.array.ptr[0], &s) == 0 &&
		    str_is(&s, "/dyn-*"), "HELLO: nsp, nsp_open");
	}
	br_msg_free(&m);

	/* SIO_CONNECT */
	br_enc_init(&e, BR_T_SIO_CONNECT, 7);
	br_enc_cstr(&e, "sid", "g1AAsssssssssssssssssssss");
	br_enc_cstr(&e, "id", id);
	br_enc_cstr(&e, "nsp", "/chat");
	br_enc_uint(&e, "seq", 0);
	br_enc_map(&e, "auth", 1);
	br_enc_item_str(&e, "token", 5);
	br_enc_item_str(&e, "abc", 3);
	br_enc_key(&e, "reply");
	msgpack_pack_true(&e.pk);
	enc_hs(&e);
	keep("SIO_CONNECT", &e);
	if (decode_last(&m, BR_T_SIO_CONNECT) == 0)
		tap_ok(msg_str_is(&m, "id", id) && msg_str_is(&m, "nsp",
		    "/chat") && msg_uint_is(&m, "seq", 0) &&
		    msg_bool_is(&m, "reply", 1) &&
		    br_obj_str(br_map_get(br_msg_get(&m, "auth"), "token"),
		    &s) == 0 && str_is(&s, "abc") &&
		    br_map_get(br_msg_get(&m, "hs"), "headers") != NULL,
		    "SIO_CONNECT: sid, id, nsp, seq, auth, reply, hs");
	br_msg_free(&m);
	/* without auth, auth nil, reply false */
	br_enc_init(&e, BR_T_SIO_CONNECT, 6);
	br_enc_cstr(&e, "sid", "g1AAsssssssssssssssssssss");
	br_enc_cstr(&e, "id", id);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_uint(&e, "seq", 0);
	br_enc_key(&e, "reply");
	msgpack_pack_false(&e.pk);
	enc_hs(&e);
	keep("SIO_CONNECT (no auth)", &e);
	if (decode_last(&m, BR_T_SIO_CONNECT) == 0)
		tap_ok(br_msg_get(&m, "auth") == NULL &&
		    msg_bool_is(&m, "reply", 0), "SIO_CONNECT: auth optional");
	br_msg_free(&m);

	/* SIO_EVENT with an ack, a bin argument, session and rooms */
	br_enc_init(&e, BR_T_SIO_EVENT, 8);
	br_enc_cstr(&e, "id", id);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_uint(&e, "seq", 1);
	br_enc_cstr(&e, "ev", "message");
	br_enc_array(&e, "args", 3);
	br_enc_item_str(&e, "hi", 2);
	msgpack_pack_int(&e.pk, -5);
	msgpack_pack_bin_with_body(&e.pk, "\0\1", 2);
	br_enc_uint(&e, "ack", 3);
	br_enc_map(&e, "session", 1);
	br_enc_item_str(&e, "user", 4);
	msgpack_pack_int(&e.pk, 7);
	br_enc_array(&e, "rooms", 1);
	br_enc_item_str(&e, "lobby", 5);
	keep("SIO_EVENT", &e);
	if (decode_last(&m, BR_T_SIO_EVENT) == 0) {
		o = br_msg_get(&m, "args");
		tap_ok(msg_str_is(&m, "ev", "message") &&
		    msg_uint_is(&m, "ack", 3) && msg_uint_is(&m, "seq", 1) &&
		    msg_arr_is(&m, "args", 3) &&
		    o->via.array.ptr[2].type == MSGPACK_OBJECT_BIN &&
		    msg_arr_is(&m, "rooms", 1) &&
		    br_map_get(br_msg_get(&m, "session"), "user") != NULL,
		    "SIO_EVENT: ev, args, ack, session, rooms");
	}
	br_msg_free(&m);

	/* SIO_DISCONNECT */
	br_enc_init(&e, BR_T_SIO_DISCONNECT, 4);
	br_enc_cstr(&e, "id", id);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_uint(&e, "seq", 2);
	br_enc_cstr(&e, "reason", "client namespace disconnect");
	keep("SIO_DISCONNECT", &e);
	if (decode_last(&m, BR_T_SIO_DISCONNECT) == 0)
		tap_ok(msg_str_is(&m, "reason", "client namespace disconnect"),
		    "SIO_DISCONNECT: reason");
	br_msg_free(&m);

	/* SIO_CLIENT_ACK, SIO_ACK_TIMEOUT */
	br_enc_init(&e, BR_T_SIO_CLIENT_ACK, 4);
	br_enc_cstr(&e, "id", id);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_uint(&e, "req", 9);
	br_enc_array(&e, "args", 0);
	keep("SIO_CLIENT_ACK", &e);
	if (decode_last(&m, BR_T_SIO_CLIENT_ACK) == 0)
		tap_ok(msg_uint_is(&m, "req", 9) && msg_arr_is(&m, "args", 0),
		    "SIO_CLIENT_ACK: req, args");
	br_msg_free(&m);
	br_enc_init(&e, BR_T_SIO_ACK_TIMEOUT, 4);
	br_enc_cstr(&e, "id", id);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_uint(&e, "req", 10);
	br_enc_cstr(&e, "reason", "timeout");
	keep("SIO_ACK_TIMEOUT", &e);
	if (decode_last(&m, BR_T_SIO_ACK_TIMEOUT) == 0)
		tap_ok(msg_uint_is(&m, "req", 10) &&
		    msg_str_is(&m, "reason", "timeout"),
		    "SIO_ACK_TIMEOUT: req, reason");
	br_msg_free(&m);

	/* SIO_RESULT (result of any type, here nil) */
	br_enc_init(&e, BR_T_SIO_RESULT, 2);
	br_enc_uint(&e, "req", 11);
	br_enc_key(&e, "result");
	msgpack_pack_nil(&e.pk);
	keep("SIO_RESULT", &e);
	if (decode_last(&m, BR_T_SIO_RESULT) == 0)
		tap_ok(msg_uint_is(&m, "req", 11) &&
		    br_msg_get(&m, "result")->type == MSGPACK_OBJECT_NIL,
		    "SIO_RESULT: req, result");
	br_msg_free(&m);

	/* SIO_ACCEPT, full and minimal */
	br_enc_init(&e, BR_T_SIO_ACCEPT, 3);
	br_enc_cstr(&e, "id", id);
	br_enc_map(&e, "session", 0);
	br_enc_array(&e, "rooms", 2);
	br_enc_item_str(&e, "a", 1);
	br_enc_item_str(&e, "b", 1);
	keep("SIO_ACCEPT", &e);
	if (decode_last(&m, BR_T_SIO_ACCEPT) == 0)
		tap_ok(msg_str_is(&m, "id", id) && msg_arr_is(&m, "rooms", 2),
		    "SIO_ACCEPT: id, session, rooms");
	br_msg_free(&m);
	br_enc_init(&e, BR_T_SIO_ACCEPT, 1);
	br_enc_cstr(&e, "id", id);
	keep("SIO_ACCEPT (minimal)", &e);
	decode_last(&m, BR_T_SIO_ACCEPT);
	br_msg_free(&m);

	/* SIO_REJECT with data of a non-map type, and without */
	br_enc_init(&e, BR_T_SIO_REJECT, 2);
	br_enc_cstr(&e, "id", id);
	br_enc_cstr(&e, "data", "go away");
	keep("SIO_REJECT", &e);
	if (decode_last(&m, BR_T_SIO_REJECT) == 0)
		tap_ok(msg_str_is(&m, "data", "go away"), "SIO_REJECT: data");
	br_msg_free(&m);
	br_enc_init(&e, BR_T_SIO_REJECT, 1);
	br_enc_cstr(&e, "id", id);
	keep("SIO_REJECT (minimal)", &e);
	decode_last(&m, BR_T_SIO_REJECT);
	br_msg_free(&m);

	/* SIO_ACK */
	br_enc_init(&e, BR_T_SIO_ACK, 4);
	br_enc_cstr(&e, "id", id);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_uint(&e, "ack", 3);
	br_enc_array(&e, "args", 1);
	msgpack_pack_true(&e.pk);
	keep("SIO_ACK", &e);
	if (decode_last(&m, BR_T_SIO_ACK) == 0)
		tap_ok(msg_uint_is(&m, "ack", 3) && msg_arr_is(&m, "args", 1),
		    "SIO_ACK: ack, args");
	br_msg_free(&m);

	/* SIO_EMIT, full and minimal */
	br_enc_init(&e, BR_T_SIO_EMIT, 8);
	br_enc_cstr(&e, "nsp", "/chat");
	br_enc_cstr(&e, "ev", "news");
	br_enc_array(&e, "args", 0);
	br_enc_array(&e, "to", 1);
	br_enc_item_str(&e, id, strlen(id));
	br_enc_array(&e, "except", 1);
	br_enc_item_str(&e, "muted", 5);
	br_enc_uint(&e, "req", 12);
	br_enc_uint(&e, "timeout", 500);
	br_enc_key(&e, "volatile");
	msgpack_pack_false(&e.pk);
	keep("SIO_EMIT", &e);
	if (decode_last(&m, BR_T_SIO_EMIT) == 0)
		tap_ok(msg_str_is(&m, "nsp", "/chat") &&
		    msg_str_is(&m, "ev", "news") && msg_arr_is(&m, "to", 1) &&
		    msg_arr_is(&m, "except", 1) && msg_uint_is(&m, "req", 12) &&
		    msg_uint_is(&m, "timeout", 500) &&
		    msg_bool_is(&m, "volatile", 0),
		    "SIO_EMIT: nsp, ev, args, to, except, req, timeout, "
		    "volatile");
	br_msg_free(&m);
	br_enc_init(&e, BR_T_SIO_EMIT, 2);
	br_enc_cstr(&e, "ev", "news");
	br_enc_array(&e, "args", 0);
	keep("SIO_EMIT (minimal)", &e);
	if (decode_last(&m, BR_T_SIO_EMIT) == 0)
		tap_ok(br_msg_get(&m, "nsp") == NULL, "SIO_EMIT: nsp optional");
	br_msg_free(&m);

	/* SIO_JOIN, SIO_LEAVE */
	br_enc_init(&e, BR_T_SIO_JOIN, 3);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_array(&e, "rooms", 1);
	br_enc_item_str(&e, "r1", 2);
	br_enc_array(&e, "to", 1);
	br_enc_item_str(&e, id, strlen(id));
	keep("SIO_JOIN", &e);
	if (decode_last(&m, BR_T_SIO_JOIN) == 0)
		tap_ok(msg_arr_is(&m, "rooms", 1) && msg_arr_is(&m, "to", 1),
		    "SIO_JOIN: nsp, rooms, to");
	br_msg_free(&m);
	br_enc_init(&e, BR_T_SIO_LEAVE, 3);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_array(&e, "rooms", 0);
	br_enc_array(&e, "to", 0);
	keep("SIO_LEAVE", &e);
	decode_last(&m, BR_T_SIO_LEAVE);
	br_msg_free(&m);

	/* SIO_DISCONNECT_SOCKETS */
	br_enc_init(&e, BR_T_SIO_DISCONNECT_SOCKETS, 3);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_array(&e, "to", 1);
	br_enc_item_str(&e, "room", 4);
	br_enc_key(&e, "close");
	msgpack_pack_true(&e.pk);
	keep("SIO_DISCONNECT_SOCKETS", &e);
	if (decode_last(&m, BR_T_SIO_DISCONNECT_SOCKETS) == 0)
		tap_ok(msg_bool_is(&m, "close", 1) && msg_arr_is(&m, "to", 1),
		    "SIO_DISCONNECT_SOCKETS: to, close");
	br_msg_free(&m);

	/* SIO_SET_SESSION */
	br_enc_init(&e, BR_T_SIO_SET_SESSION, 4);
	br_enc_cstr(&e, "id", id);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_map(&e, "session", 1);
	br_enc_item_str(&e, "k", 1);
	msgpack_pack_array(&e.pk, 0);
	br_enc_key(&e, "merge");
	msgpack_pack_true(&e.pk);
	keep("SIO_SET_SESSION", &e);
	if (decode_last(&m, BR_T_SIO_SET_SESSION) == 0)
		tap_ok(msg_bool_is(&m, "merge", 1) &&
		    br_map_get(br_msg_get(&m, "session"), "k") != NULL,
		    "SIO_SET_SESSION: session, merge");
	br_msg_free(&m);

	/* SIO_QUERY, both kinds */
	br_enc_init(&e, BR_T_SIO_QUERY, 4);
	br_enc_uint(&e, "req", 13);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_cstr(&e, "what", "sockets");
	br_enc_array(&e, "to", 1);
	br_enc_item_str(&e, "lobby", 5);
	keep("SIO_QUERY (sockets)", &e);
	if (decode_last(&m, BR_T_SIO_QUERY) == 0)
		tap_ok(msg_uint_is(&m, "req", 13) &&
		    msg_str_is(&m, "what", "sockets") &&
		    msg_arr_is(&m, "to", 1), "SIO_QUERY: req, nsp, what, to");
	br_msg_free(&m);
	br_enc_init(&e, BR_T_SIO_QUERY, 3);
	br_enc_uint(&e, "req", 14);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_cstr(&e, "what", "rooms");
	keep("SIO_QUERY (rooms)", &e);
	decode_last(&m, BR_T_SIO_QUERY);
	br_msg_free(&m);
}

/* A hand-made message of type t that must be refused with BAD_MESSAGE. */
struct sio_bad {
	const char *name;
	int t;
	const char *spec;	/* the fields, see pack_spec() */
};

/*
 * Pack the fields described by spec: "key=VAL key=VAL ...", VAL being
 * s (a str), u (uint 1), i (int -1), b (true), n (nil), m (empty map),
 * M (map with an int key), a (empty array), A (array holding an int),
 * S (array of one str), T (array of two str), w (str "sockets").
 */
static void
pack_spec(struct raw *r, int t, const char *spec)
{
	char key[32];
	const char *p;
	uint32_t n = 0;
	size_t k;

	for (p = spec; *p; p++)
		if (*p == '=')
			n++;
	msgpack_sbuffer_clear(&r->sb);
	raw_head(r, n + 2, 1, t);
	for (p = spec; *p;) {
		while (*p == ' ')
			p++;
		for (k = 0; *p != '=' && k < sizeof(key) - 1; p++)
			key[k++] = *p;
		key[k] = '\0';
		p++;
		raw_key(r, key);
		switch (*p++) {
		case 's': raw_key(r, "x"); break;
		case 'w': raw_key(r, "sockets"); break;
		case 'u': msgpack_pack_uint8(&r->pk, 1); break;
		case 'i': msgpack_pack_int8(&r->pk, -1); break;
		case 'b': msgpack_pack_true(&r->pk); break;
		case 'n': msgpack_pack_nil(&r->pk); break;
		case 'm': msgpack_pack_map(&r->pk, 0); break;
		case 'M':
			msgpack_pack_map(&r->pk, 1);
			msgpack_pack_int(&r->pk, 1);
			msgpack_pack_int(&r->pk, 1);
			break;
		case 'a': msgpack_pack_array(&r->pk, 0); break;
		case 'A':
			msgpack_pack_array(&r->pk, 1);
			msgpack_pack_int(&r->pk, 1);
			break;
		case 'S':
			msgpack_pack_array(&r->pk, 1);
			raw_key(r, "x");
			break;
		case 'T':
			msgpack_pack_array(&r->pk, 2);
			raw_key(r, "x");
			raw_key(r, "y");
			break;
		}
	}
}

/* Missing and mistyped fields of the Socket.IO types are refused. */
static void
test_sio_errors(void)
{
	static const struct sio_bad bad[] = {
		{ "HELLO nsp_open holds an int", BR_T_HELLO, "nsp_open=A" },
		{ "HELLO nsp is a map", BR_T_HELLO, "nsp=m" },
		{ "SIO_CONNECT without reply", BR_T_SIO_CONNECT,
		    "sid=s id=s nsp=s seq=u hs=m" },
		{ "SIO_CONNECT reply is an int", BR_T_SIO_CONNECT,
		    "sid=s id=s nsp=s seq=u reply=u hs=m" },
		{ "SIO_CONNECT without hs", BR_T_SIO_CONNECT,
		    "sid=s id=s nsp=s seq=u reply=b" },
		{ "SIO_CONNECT without sid", BR_T_SIO_CONNECT,
		    "id=s nsp=s seq=u reply=b hs=m" },
		{ "SIO_EVENT without ev", BR_T_SIO_EVENT,
		    "id=s nsp=s seq=u args=a session=m rooms=a" },
		{ "SIO_EVENT args is a map", BR_T_SIO_EVENT,
		    "id=s nsp=s seq=u ev=s args=m session=m rooms=a" },
		{ "SIO_EVENT ack is negative", BR_T_SIO_EVENT,
		    "id=s nsp=s seq=u ev=s args=a ack=i session=m rooms=a" },
		{ "SIO_EVENT session has an int key", BR_T_SIO_EVENT,
		    "id=s nsp=s seq=u ev=s args=a session=M rooms=a" },
		{ "SIO_EVENT rooms holds an int", BR_T_SIO_EVENT,
		    "id=s nsp=s seq=u ev=s args=a session=m rooms=A" },
		{ "SIO_EVENT without session", BR_T_SIO_EVENT,
		    "id=s nsp=s seq=u ev=s args=a rooms=a" },
		{ "SIO_DISCONNECT without reason", BR_T_SIO_DISCONNECT,
		    "id=s nsp=s seq=u" },
		{ "SIO_CLIENT_ACK without req", BR_T_SIO_CLIENT_ACK,
		    "id=s nsp=s args=a" },
		{ "SIO_ACK_TIMEOUT reason is nil", BR_T_SIO_ACK_TIMEOUT,
		    "id=s nsp=s req=u reason=n" },
		{ "SIO_RESULT without result", BR_T_SIO_RESULT, "req=u" },
		{ "SIO_ACCEPT without id", BR_T_SIO_ACCEPT, "session=m" },
		{ "SIO_ACCEPT session is an array", BR_T_SIO_ACCEPT,
		    "id=s session=a" },
		{ "SIO_ACCEPT rooms is a str", BR_T_SIO_ACCEPT, "id=s rooms=s" },
		{ "SIO_REJECT id is an int", BR_T_SIO_REJECT, "id=u" },
		{ "SIO_ACK without args", BR_T_SIO_ACK, "id=s nsp=s ack=u" },
		{ "SIO_ACK without nsp", BR_T_SIO_ACK, "id=s ack=u args=a" },
		{ "SIO_EMIT without ev", BR_T_SIO_EMIT, "args=a" },
		{ "SIO_EMIT without args", BR_T_SIO_EMIT, "ev=s" },
		{ "SIO_EMIT nsp is nil", BR_T_SIO_EMIT, "nsp=n ev=s args=a" },
		{ "SIO_EMIT except holds an int", BR_T_SIO_EMIT,
		    "ev=s args=a except=A" },
		{ "SIO_EMIT req without to", BR_T_SIO_EMIT,
		    "ev=s args=a req=u" },
		{ "SIO_EMIT req with two targets", BR_T_SIO_EMIT,
		    "ev=s args=a req=u to=T" },
		{ "SIO_EMIT timeout is a str", BR_T_SIO_EMIT,
		    "ev=s args=a timeout=s" },
		{ "SIO_EMIT volatile is an int", BR_T_SIO_EMIT,
		    "ev=s args=a volatile=u" },
		{ "SIO_JOIN without to", BR_T_SIO_JOIN, "nsp=s rooms=S" },
		{ "SIO_JOIN without rooms", BR_T_SIO_JOIN, "nsp=s to=S" },
		{ "SIO_LEAVE without nsp", BR_T_SIO_LEAVE, "rooms=S to=S" },
		{ "SIO_DISCONNECT_SOCKETS close is a str",
		    BR_T_SIO_DISCONNECT_SOCKETS, "nsp=s to=S close=s" },
		{ "SIO_DISCONNECT_SOCKETS without to",
		    BR_T_SIO_DISCONNECT_SOCKETS, "nsp=s" },
		{ "SIO_SET_SESSION without session", BR_T_SIO_SET_SESSION,
		    "id=s nsp=s" },
		{ "SIO_SET_SESSION merge is nil", BR_T_SIO_SET_SESSION,
		    "id=s nsp=s session=m merge=n" },
		{ "SIO_QUERY what is unknown", BR_T_SIO_QUERY,
		    "req=u nsp=s what=s" },
		{ "SIO_QUERY without req", BR_T_SIO_QUERY, "nsp=s what=w" },
		{ "SIO_SERVER_EMIT without ev", BR_T_SIO_SERVER_EMIT, "args=a" },
		{ "SIO_SERVER_EMIT req is a str", BR_T_SIO_SERVER_EMIT,
		    "ev=s args=a req=s" },
		{ "SIO_SERVER_ACK without req", BR_T_SIO_SERVER_ACK, "args=a" },
		{ "SIO_SERVER_ACK args is a map", BR_T_SIO_SERVER_ACK,
		    "req=u args=m" },
		{ "SIO_SERVER_EVENT without nsp", BR_T_SIO_SERVER_EVENT,
		    "ev=s args=a" },
		{ "SIO_SERVER_RESULT result is a map", BR_T_SIO_SERVER_RESULT,
		    "req=u result=m" },
	};
	static const struct sio_bad good[] = {
		{ "SIO_EMIT req with one target", BR_T_SIO_EMIT,
		    "ev=s args=a req=u to=S" },
		{ "SIO_CONNECT auth of any type", BR_T_SIO_CONNECT,
		    "sid=s id=s nsp=s seq=u reply=b hs=m auth=A" },
		{ "SIO_REJECT data of any type", BR_T_SIO_REJECT, "id=s data=u" },
		{ "SIO_RESULT result of any type", BR_T_SIO_RESULT,
		    "req=u result=a" },
		{ "SIO_QUERY sockets", BR_T_SIO_QUERY, "req=u nsp=s what=w" },
		{ "SIO_SERVER_EMIT with req", BR_T_SIO_SERVER_EMIT,
		    "nsp=s ev=s args=a req=u" },
		{ "SIO_SERVER_ACK", BR_T_SIO_SERVER_ACK, "req=u args=a" },
		{ "SIO_SERVER_EVENT with req", BR_T_SIO_SERVER_EVENT,
		    "nsp=s ev=s args=a req=u" },
		{ "SIO_SERVER_RESULT with error", BR_T_SIO_SERVER_RESULT,
		    "req=u result=a error=s" },
	};
	struct raw r;
	struct br_msg m;
	const char *why;
	size_t i;
	int rc, code;

	raw_init(&r);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		pack_spec(&r, bad[i].t, bad[i].spec);
		rc = br_msg_decode(&m, r.sb.data, r.sb.size, &code, &why);
		tap_ok(rc == -1 && code == BR_E_BAD_MESSAGE &&
		    m.type == bad[i].t, "%s: BAD_MESSAGE, type kept (%s)",
		    bad[i].name, rc == -1 ? why : "decoded");
		br_msg_free(&m);
	}
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		pack_spec(&r, good[i].t, good[i].spec);
		rc = br_msg_decode(&m, r.sb.data, r.sb.size, &code, &why);
		tap_ok(rc == 0, "%s: decodes (%s)", good[i].name,
		    rc == 0 ? "ok" : why);
		br_msg_free(&m);
	}
	/* SIO_CONNECT hs fields are checked like EIO_OPEN's. */
	msgpack_sbuffer_clear(&r.sb);
	raw_head(&r, 8, 1, BR_T_SIO_CONNECT);
	raw_key(&r, "sid"); raw_key(&r, "s");
	raw_key(&r, "id"); raw_key(&r, "s");
	raw_key(&r, "nsp"); raw_key(&r, "/");
	raw_key(&r, "seq"); msgpack_pack_int(&r.pk, 0);
	raw_key(&r, "reply"); msgpack_pack_true(&r.pk);
	raw_key(&r, "hs"); msgpack_pack_map(&r.pk, 1);
	raw_key(&r, "time"); raw_key(&r, "now");
	rc = br_msg_decode(&m, r.sb.data, r.sb.size, &code, &why);
	tap_ok(rc == -1 && code == BR_E_BAD_MESSAGE,
	    "SIO_CONNECT hs.time is a str: BAD_MESSAGE");
	br_msg_free(&m);
	msgpack_sbuffer_destroy(&r.sb);
}

/* Encode every type, decode it back, and check every field. */
static void
test_round_trip(void)
{
	struct br_enc e;
	struct br_msg m;
	struct br_str s;
	const msgpack_object *o, *hs, *h;
	const char *why;
	static const char bin[] = { 0, 1, 2, (char)0xff, 0, 'x' };
	int binary, code;
	uint64_t u;

	/* HELLO */
	br_enc_init(&e, BR_T_HELLO, 5);
	br_enc_cstr(&e, "name", "echo");
	br_enc_array(&e, "eio", 2);
	br_enc_item_str(&e, "/engine.io/", 11);
	br_enc_item_str(&e, "/other/", 7);
	br_enc_array(&e, "nsp", 0);
	br_enc_uint(&e, "credit", BR_DEFAULT_CREDIT);
	br_enc_uint(&e, "hb", 1500);
	keep("HELLO", &e);
	if (decode_last(&m, BR_T_HELLO) == 0) {
		tap_ok(msg_str_is(&m, "name", "echo"), "HELLO: name");
		o = br_msg_get(&m, "eio");
		tap_ok(o != NULL && o->type == MSGPACK_OBJECT_ARRAY &&
		    o->via.array.size == 2 &&
		    br_obj_str(&o->via.array.ptr[1], &s) == 0 &&
		    str_is(&s, "/other/"), "HELLO: eio paths");
		o = br_msg_get(&m, "nsp");
		tap_ok(o != NULL && o->via.array.size == 0, "HELLO: nsp");
		tap_ok(msg_uint_is(&m, "credit", BR_DEFAULT_CREDIT) &&
		    msg_uint_is(&m, "hb", 1500), "HELLO: credit, hb");
	}
	br_msg_free(&m);

	/* A minimal HELLO (an emitter): every field is optional. */
	br_enc_init(&e, BR_T_HELLO, 0);
	keep("HELLO (minimal)", &e);
	decode_last(&m, BR_T_HELLO);
	tap_ok(br_msg_get(&m, "eio") == NULL, "HELLO (minimal): no eio");
	br_msg_free(&m);

	/* WELCOME */
	br_enc_init(&e, BR_T_WELCOME, 3);
	br_enc_cstr(&e, "gw", "g1");
	br_enc_uint(&e, "wid", 7);
	br_enc_uint(&e, "hb", 2000);
	keep("WELCOME", &e);
	if (decode_last(&m, BR_T_WELCOME) == 0)
		tap_ok(msg_str_is(&m, "gw", "g1") && msg_uint_is(&m, "wid", 7)
		    && msg_uint_is(&m, "hb", 2000), "WELCOME: gw, wid, hb");
	br_msg_free(&m);

	/* HEARTBEAT, BYE */
	br_enc_init(&e, BR_T_HEARTBEAT, 0);
	keep("HEARTBEAT", &e);
	decode_last(&m, BR_T_HEARTBEAT);
	tap_ok(m.root != NULL && m.root->via.map.size == 2,
	    "HEARTBEAT: just v and t");
	br_msg_free(&m);
	br_enc_init(&e, BR_T_BYE, 0);
	keep("BYE", &e);
	decode_last(&m, BR_T_BYE);
	br_msg_free(&m);

	/* ERROR */
	br_enc_init(&e, BR_T_ERROR, 4);
	br_enc_uint(&e, "code", BR_E_UNKNOWN_SID);
	br_enc_cstr(&e, "text", "no such session");
	br_enc_uint(&e, "ref", BR_T_EIO_SEND);
	br_enc_cstr(&e, "sid", "g1AAAAAAAAAAAAAAAAAAAA");
	keep("ERROR", &e);
	if (decode_last(&m, BR_T_ERROR) == 0)
		tap_ok(msg_uint_is(&m, "code", BR_E_UNKNOWN_SID) &&
		    msg_str_is(&m, "text", "no such session") &&
		    msg_uint_is(&m, "ref", BR_T_EIO_SEND) &&
		    msg_str_is(&m, "sid", "g1AAAAAAAAAAAAAAAAAAAA"),
		    "ERROR: code, text, ref, sid");
	br_msg_free(&m);

	/* CREDIT */
	br_enc_init(&e, BR_T_CREDIT, 1);
	br_enc_uint(&e, "n", 300);
	keep("CREDIT", &e);
	if (decode_last(&m, BR_T_CREDIT) == 0)
		tap_ok(msg_uint_is(&m, "n", 300), "CREDIT: n");
	br_msg_free(&m);

	/* EIO_OPEN with a full handshake */
	br_enc_init(&e, BR_T_EIO_OPEN, 4);
	br_enc_cstr(&e, "sid", "g1abcdefghijklmnopqrst");
	br_enc_cstr(&e, "path", "/engine.io/");
	br_enc_uint(&e, "seq", 0);
	br_enc_map(&e, "hs", 6);
	br_enc_map(&e, "headers", 2);
	br_enc_item_str(&e, "host", 4);
	br_enc_item_str(&e, "localhost", 9);
	br_enc_item_str(&e, "user-agent", 10);
	br_enc_item_str(&e, "t", 1);
	br_enc_map(&e, "query", 1);
	br_enc_item_str(&e, "EIO", 3);
	br_enc_item_str(&e, "4", 1);
	br_enc_cstr(&e, "addr", "127.0.0.1:4242");
	br_enc_cstr(&e, "transport", "polling");
	br_enc_uint(&e, "time", UINT64_C(1700000000000));
	br_enc_cstr(&e, "url", "/engine.io/?EIO=4&transport=polling");
	keep("EIO_OPEN", &e);
	if (decode_last(&m, BR_T_EIO_OPEN) == 0) {
		tap_ok(msg_str_is(&m, "sid", "g1abcdefghijklmnopqrst") &&
		    msg_str_is(&m, "path", "/engine.io/") &&
		    msg_uint_is(&m, "seq", 0), "EIO_OPEN: sid, path, seq");
		hs = br_msg_get(&m, "hs");
		h = br_map_get(hs, "headers");
		tap_ok(h != NULL && h->via.map.size == 2 &&
		    br_obj_str(br_map_get(h, "user-agent"), &s) == 0 &&
		    str_is(&s, "t"), "EIO_OPEN: hs.headers");
		tap_ok(br_obj_str(br_map_get(br_map_get(hs, "query"), "EIO"),
		    &s) == 0 && str_is(&s, "4"), "EIO_OPEN: hs.query");
		o = br_map_get(hs, "time");
		tap_ok(o != NULL && o->via.u64 == UINT64_C(1700000000000) &&
		    br_obj_str(br_map_get(hs, "transport"), &s) == 0 &&
		    str_is(&s, "polling") &&
		    br_obj_str(br_map_get(hs, "addr"), &s) == 0 &&
		    str_is(&s, "127.0.0.1:4242") &&
		    br_obj_str(br_map_get(hs, "url"), &s) == 0 &&
		    str_is(&s, "/engine.io/?EIO=4&transport=polling"),
		    "EIO_OPEN: hs.addr, transport, time, url");
	}
	br_msg_free(&m);

	/* EIO_MESSAGE, text then binary (with NULs), then empty */
	br_enc_init(&e, BR_T_EIO_MESSAGE, 3);
	br_enc_cstr(&e, "sid", "g1abcdefghijklmnopqrst");
	br_enc_uint(&e, "seq", 1);
	br_enc_data(&e, "data", "hello", 5, 0);
	keep("EIO_MESSAGE (text)", &e);
	if (decode_last(&m, BR_T_EIO_MESSAGE) == 0)
		tap_ok(br_msg_data(&m, "data", &s, &binary) == 0 &&
		    binary == 0 && str_is(&s, "hello") &&
		    msg_uint_is(&m, "seq", 1), "EIO_MESSAGE: text data");
	br_msg_free(&m);
	br_enc_init(&e, BR_T_EIO_MESSAGE, 3);
	br_enc_cstr(&e, "sid", "g1abcdefghijklmnopqrst");
	br_enc_uint(&e, "seq", 2);
	br_enc_data(&e, "data", bin, sizeof bin, 1);
	keep("EIO_MESSAGE (binary)", &e);
	if (decode_last(&m, BR_T_EIO_MESSAGE) == 0)
		tap_ok(br_msg_data(&m, "data", &s, &binary) == 0 &&
		    binary == 1 && s.n == sizeof bin &&
		    memcmp(s.p, bin, sizeof bin) == 0,
		    "EIO_MESSAGE: binary data");
	br_msg_free(&m);
	br_enc_init(&e, BR_T_EIO_MESSAGE, 3);
	br_enc_cstr(&e, "sid", "g1abcdefghijklmnopqrst");
	br_enc_uint(&e, "seq", 3);
	br_enc_data(&e, "data", NULL, 0, 1);
	keep("EIO_MESSAGE (empty binary)", &e);
	if (decode_last(&m, BR_T_EIO_MESSAGE) == 0)
		tap_ok(br_msg_data(&m, "data", &s, &binary) == 0 &&
		    binary == 1 && s.n == 0, "EIO_MESSAGE: empty binary");
	br_msg_free(&m);

	/* EIO_CLOSE */
	br_enc_init(&e, BR_T_EIO_CLOSE, 3);
	br_enc_cstr(&e, "sid", "g1abcdefghijklmnopqrst");
	br_enc_uint(&e, "seq", 4);
	br_enc_cstr(&e, "reason", "transport close");
	keep("EIO_CLOSE", &e);
	if (decode_last(&m, BR_T_EIO_CLOSE) == 0)
		tap_ok(msg_str_is(&m, "reason", "transport close") &&
		    msg_uint_is(&m, "seq", 4), "EIO_CLOSE: reason, seq");
	br_msg_free(&m);

	/* EIO_SEND to one sid, then to many */
	br_enc_init(&e, BR_T_EIO_SEND, 2);
	br_enc_cstr(&e, "sid", "g1abcdefghijklmnopqrst");
	br_enc_data(&e, "data", "pong", 4, 0);
	keep("EIO_SEND (sid)", &e);
	if (decode_last(&m, BR_T_EIO_SEND) == 0)
		tap_ok(msg_str_is(&m, "sid", "g1abcdefghijklmnopqrst") &&
		    br_msg_data(&m, "data", &s, &binary) == 0 && !binary &&
		    str_is(&s, "pong"), "EIO_SEND: sid, data");
	br_msg_free(&m);
	br_enc_init(&e, BR_T_EIO_SEND, 2);
	br_enc_array(&e, "sids", 3);
	br_enc_item_str(&e, "g1a", 3);
	br_enc_item_str(&e, "g1b", 3);
	br_enc_item_str(&e, "g1c", 3);
	br_enc_data(&e, "data", bin, sizeof bin, 1);
	keep("EIO_SEND (sids)", &e);
	if (decode_last(&m, BR_T_EIO_SEND) == 0) {
		o = br_msg_get(&m, "sids");
		tap_ok(o != NULL && o->via.array.size == 3 &&
		    br_obj_str(&o->via.array.ptr[2], &s) == 0 &&
		    str_is(&s, "g1c") && br_msg_get(&m, "sid") == NULL,
		    "EIO_SEND: sids");
	}
	br_msg_free(&m);

	/* EIO_CLOSE_SESSION */
	br_enc_init(&e, BR_T_EIO_CLOSE_SESSION, 1);
	br_enc_cstr(&e, "sid", "g1abcdefghijklmnopqrst");
	keep("EIO_CLOSE_SESSION", &e);
	if (decode_last(&m, BR_T_EIO_CLOSE_SESSION) == 0)
		tap_ok(msg_str_is(&m, "sid", "g1abcdefghijklmnopqrst"),
		    "EIO_CLOSE_SESSION: sid");
	br_msg_free(&m);

	/* br_msg_decode copies: the source may go away at once. */
	{
		char *p = malloc(frames[0].n);
		size_t n = frames[0].n;

		memcpy(p, frames[0].p, n);
		tap_ok(br_msg_decode(&m, p, n, &code, &why) == 0,
		    "copying decode");
		memset(p, 0xee, n);
		free(p);
		tap_ok(msg_str_is(&m, "name", "echo"),
		    "copying decode: strings outlive the source frame");
		br_msg_free(&m);
	}
	/* br_msg_decode_ref does not: its strings point into the frame. */
	tap_ok(br_msg_decode_ref(&m, frames[0].p, frames[0].n, &code,
	    &why) == 0 && br_msg_str(&m, "name", &s) == 0 &&
	    s.p >= frames[0].p && s.p < frames[0].p + frames[0].n,
	    "decode_ref points into the frame");
	br_msg_free(&m);

	/* Accessors refuse the wrong type and absent keys. */
	br_msg_decode(&m, frames[0].p, frames[0].n, &code, &why);
	tap_ok(br_msg_uint(&m, "name", &u) == -1 &&
	    br_msg_str(&m, "credit", &s) == -1 &&
	    br_msg_data(&m, "credit", &s, &binary) == -1 &&
	    br_msg_str(&m, "nope", &s) == -1 && br_msg_get(&m, "") == NULL,
	    "accessors refuse wrong types and absent keys");
	tap_ok(br_map_get(NULL, "v") == NULL &&
	    br_map_get(br_msg_get(&m, "credit"), "v") == NULL &&
	    br_obj_str(NULL, &s) == -1, "br_map_get/br_obj_str on non-maps");
	br_msg_free(&m);
	br_msg_free(&m);
	tap_ok(m.root == NULL, "br_msg_free twice is safe");
}

/* The encoder keeps its buffer across resets and never reports failure. */
static void
test_encoder(void)
{
	struct br_enc e;
	struct br_msg m;
	const char *why;
	char *first;
	int code, i, ok = 1;

	br_enc_init(&e, BR_T_CREDIT, 1);
	br_enc_uint(&e, "n", 1);
	first = e.sb.data;
	for (i = 0; i < 100; i++) {
		br_enc_reset(&e, BR_T_CREDIT, 1);
		br_enc_uint(&e, "n", (uint64_t)i);
		if (br_msg_decode(&m, e.sb.data, e.sb.size, &code, &why) != 0
		    || !msg_uint_is(&m, "n", (uint64_t)i))
			ok = 0;
		br_msg_free(&m);
	}
	tap_ok(ok && e.sb.data == first && !br_enc_failed(&e),
	    "br_enc_reset reuses the buffer");
	br_enc_free(&e);
	br_enc_free(&e);
	tap_ok(e.sb.data == NULL, "br_enc_free twice is safe");

	/* A str longer than msgpack allows poisons the encoder. */
	br_enc_init(&e, BR_T_EIO_SEND, 2);
	br_enc_str(&e, "sid", "x", (size_t)UINT32_MAX + 1);
	tap_ok(br_enc_failed(&e) && e.sb.size == 0,
	    "an over-long string marks the encoder failed");
	br_enc_reset(&e, BR_T_HEARTBEAT, 0);
	tap_ok(!br_enc_failed(&e) && br_msg_decode(&m, e.sb.data, e.sb.size,
	    &code, &why) == 0, "br_enc_reset recovers a failed encoder");
	br_msg_free(&m);
	br_enc_free(&e);
}

/* Every prefix and suffix of every valid frame is refused. */
static void
test_splits(void)
{
	struct br_msg m;
	const char *why;
	int f, code, pre_ok, suf_ok, ok;
	size_t k;

	for (f = 0; f < nframes; f++) {
		pre_ok = suf_ok = 1;
		for (k = 0; k < frames[f].n; k++) {
			if (br_msg_decode(&m, frames[f].p, k, &code, &why) !=
			    -1 || code != BR_E_BAD_MESSAGE)
				pre_ok = 0;
			br_msg_free(&m);
			if (k > 0 && br_msg_decode(&m, frames[f].p + k,
			    frames[f].n - k, &code, &why) != -1)
				suf_ok = 0;
			br_msg_free(&m);
		}
		tap_ok(pre_ok, "%s: all %zu truncations refused",
		    frames[f].name, frames[f].n);
		tap_ok(suf_ok, "%s: all suffixes refused", frames[f].name);
		ok = br_msg_decode(&m, frames[f].p, frames[f].n, &code,
		    &why) == 0;
		br_msg_free(&m);
		tap_ok(ok, "%s: whole frame still decodes", frames[f].name);
	}
}

/* Every class of bad frame gets the right error code. */
static void
test_errors(void)
{
	struct raw r;
	struct br_msg m;
	const char *why;
	char buf[256];
	int code, i, rc;
	static const unsigned char c1[] = { 0xc1 };
	static const unsigned char junk[] = "GET / HTTP/1.1\r\n\r\n";
	static const unsigned char arr32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
	static const unsigned char map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
	static const unsigned char map16[] = { 0xde, 0xff, 0xff, 0x00 };
	static const unsigned char str32[] = { 0xdb, 0xff, 0xff, 0xff, 0xff,
	    'a' };
	static const unsigned char bin32[] = { 0xc6, 0x7f, 0xff, 0xff, 0xff };
	static const unsigned char ext32[] = { 0xc9, 0xff, 0xff, 0xff, 0xff,
	    0x01 };
	/* {"v":1,"t":3,"x": array32 of 4G items} */
	static const unsigned char inner[] = { 0x83, 0xa1, 'v', 0x01, 0xa1,
	    't', 0x03, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0 };
	static const unsigned char hb[] = { 0x82, 0xa1, 'v', 0x01, 0xa1, 't',
	    0x03 };

	expect_fail("empty frame", "", 0, BR_E_BAD_MESSAGE);
	expect_fail("NULL frame", NULL, 0, BR_E_BAD_MESSAGE);
	expect_fail("byte 0xc1", c1, sizeof c1, BR_E_BAD_MESSAGE);
	expect_fail("HTTP request", junk, sizeof junk - 1, BR_E_BAD_MESSAGE);
	expect_fail("array32 of 4G items", arr32, sizeof arr32,
	    BR_E_BAD_MESSAGE);
	expect_fail("map32 of 4G pairs", map32, sizeof map32,
	    BR_E_BAD_MESSAGE);
	expect_fail("map16 of 65535 pairs", map16, sizeof map16,
	    BR_E_BAD_MESSAGE);
	expect_fail("str32 of 4G bytes", str32, sizeof str32,
	    BR_E_BAD_MESSAGE);
	expect_fail("bin32 of 2G bytes", bin32, sizeof bin32,
	    BR_E_BAD_MESSAGE);
	expect_fail("ext32 of 4G bytes", ext32, sizeof ext32,
	    BR_E_BAD_MESSAGE);
	expect_fail("array32 of 4G items inside a message", inner,
	    sizeof inner, BR_E_BAD_MESSAGE);
	tap_ok(br_msg_decode(&m, hb, sizeof hb, &code, &why) == 0 &&
	    m.type == BR_T_HEARTBEAT, "hand-made HEARTBEAT decodes");
	br_msg_free(&m);
	rc = br_msg_decode(&m, hb, (size_t)BR_MAX_FRAME + 1, &code, &why);
	tap_ok(rc == -1 && code == BR_E_TOO_LARGE,
	    "frame above BR_MAX_FRAME: TOO_LARGE");
	br_msg_free(&m);

	/* Not a map. */
	raw_init(&r);
	msgpack_pack_array(&r.pk, 2);
	msgpack_pack_int(&r.pk, 1);
	msgpack_pack_int(&r.pk, 3);
	expect_fail("an array", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);
	msgpack_sbuffer_clear(&r.sb);
	msgpack_pack_int(&r.pk, 3);
	expect_fail("an integer", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);
	msgpack_sbuffer_clear(&r.sb);
	msgpack_pack_str_with_body(&r.pk, "HELLO", 5);
	expect_fail("a string", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);
	msgpack_sbuffer_clear(&r.sb);
	msgpack_pack_nil(&r.pk);
	expect_fail("nil", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);
	msgpack_sbuffer_clear(&r.sb);
	msgpack_pack_map(&r.pk, 0);
	expect_fail("an empty map", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);

	/* Version. */
	msgpack_sbuffer_clear(&r.sb);
	raw_head(&r, 2, 2, BR_T_HEARTBEAT);
	rc = br_msg_decode(&m, r.sb.data, r.sb.size, &code, &why);
	tap_ok(rc == -1 && code == BR_E_BAD_VERSION && m.version == 2 &&
	    m.type == BR_T_HEARTBEAT,
	    "v 2: BAD_VERSION, version and type kept for the reply");
	br_msg_free(&m);
	msgpack_sbuffer_clear(&r.sb);
	raw_head(&r, 2, 0, BR_T_HEARTBEAT);
	expect_fail("v 0", r.sb.data, r.sb.size, BR_E_BAD_VERSION);
	msgpack_sbuffer_clear(&r.sb);
	raw_head(&r, 2, -1, BR_T_HEARTBEAT);
	expect_fail("v -1", r.sb.data, r.sb.size, BR_E_BAD_VERSION);
	msgpack_sbuffer_clear(&r.sb);
	raw_head(&r, 2, INT64_C(1) << 40, BR_T_HEARTBEAT);
	expect_fail("v 2^40", r.sb.data, r.sb.size, BR_E_BAD_VERSION);
	msgpack_sbuffer_clear(&r.sb);
	msgpack_pack_map(&r.pk, 1);
	raw_key(&r, "t");
	msgpack_pack_int(&r.pk, BR_T_HEARTBEAT);
	expect_fail("no v", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);
	msgpack_sbuffer_clear(&r.sb);
	msgpack_pack_map(&r.pk, 2);
	raw_key(&r, "v");
	raw_key(&r, "1");
	raw_key(&r, "t");
	msgpack_pack_int(&r.pk, BR_T_HEARTBEAT);
	expect_fail("v is a string", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);
	msgpack_sbuffer_clear(&r.sb);
	msgpack_pack_map(&r.pk, 2);
	raw_key(&r, "v");
	msgpack_pack_double(&r.pk, 1.0);
	raw_key(&r, "t");
	msgpack_pack_int(&r.pk, BR_T_HEARTBEAT);
	expect_fail("v is a float", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);

	/* Type. */
	msgpack_sbuffer_clear(&r.sb);
	raw_head(&r, 3, 1, 99);
	raw_key(&r, "x");
	msgpack_pack_int(&r.pk, 5);
	rc = br_msg_decode(&m, r.sb.data, r.sb.size, &code, &why);
	tap_ok(rc == -1 && code == BR_E_UNKNOWN_TYPE && m.type == 99 &&
	    msg_uint_is(&m, "x", 5),
	    "t 99: UNKNOWN_TYPE, still decoded (type and fields readable)");
	br_msg_free(&m);
	for (i = 0; i < 64; i++) {
		if (strcmp(br_type_name(i), "?") != 0)
			continue;
		msgpack_sbuffer_clear(&r.sb);
		raw_head(&r, 2, 1, i);
		rc = br_msg_decode(&m, r.sb.data, r.sb.size, &code, &why);
		br_msg_free(&m);
		if (rc != -1 || code != BR_E_UNKNOWN_TYPE)
			break;
	}
	tap_ok(i == 64, "every unassigned t below 64 is UNKNOWN_TYPE");
	msgpack_sbuffer_clear(&r.sb);
	msgpack_pack_map(&r.pk, 1);
	raw_key(&r, "v");
	msgpack_pack_int(&r.pk, 1);
	expect_fail("no t", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);
	msgpack_sbuffer_clear(&r.sb);
	raw_head(&r, 2, 1, -3);
	expect_fail("t -3", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);
	msgpack_sbuffer_clear(&r.sb);
	raw_head(&r, 2, 1, INT64_C(1) << 40);
	expect_fail("t 2^40", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);
	msgpack_sbuffer_clear(&r.sb);
	msgpack_pack_map(&r.pk, 2);
	raw_key(&r, "v");
	msgpack_pack_int(&r.pk, 1);
	raw_key(&r, "t");
	raw_key(&r, "HEARTBEAT");
	expect_fail("t is a string", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);

	/* Key types. */
	msgpack_sbuffer_clear(&r.sb);
	raw_head(&r, 3, 1, BR_T_HEARTBEAT);
	msgpack_pack_int(&r.pk, 7);
	msgpack_pack_int(&r.pk, 7);
	expect_fail("an integer key", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);
	msgpack_sbuffer_clear(&r.sb);
	raw_head(&r, 3, 1, BR_T_HEARTBEAT);
	msgpack_pack_bin_with_body(&r.pk, "k", 1);
	msgpack_pack_int(&r.pk, 7);
	expect_fail("a bin key", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);

	/* Trailing bytes. */
	msgpack_sbuffer_clear(&r.sb);
	raw_head(&r, 2, 1, BR_T_HEARTBEAT);
	msgpack_pack_nil(&r.pk);
	expect_fail("trailing nil", r.sb.data, r.sb.size, BR_E_BAD_MESSAGE);
	msgpack_sbuffer_clear(&r.sb);
	raw_head(&r, 2, 1, BR_T_HEARTBEAT);
	raw_head(&r, 2, 1, BR_T_HEARTBEAT);
	expect_fail("two messages in one frame", r.sb.data, r.sb.size,
	    BR_E_BAD_MESSAGE);

	/* Deep nesting: refused, no crash. */
	msgpack_sbuffer_clear(&r.sb);
	raw_head(&r, 3, 1, BR_T_HEARTBEAT);
	raw_key(&r, "deep");
	for (i = 0; i < 200; i++)
		msgpack_pack_array(&r.pk, 1);
	msgpack_pack_nil(&r.pk);
	expect_fail("200 nested arrays", r.sb.data, r.sb.size,
	    BR_E_BAD_MESSAGE);

	/* Fields of known types. */
#define FIELD_CASE(name, t, n, body)					\
	do {								\
		msgpack_sbuffer_clear(&r.sb);				\
		raw_head(&r, (n) + 2, 1, (t));				\
		body;							\
		rc = br_msg_decode(&m, r.sb.data, r.sb.size, &code, &why); \
		tap_ok(rc == -1 && code == BR_E_BAD_MESSAGE &&		\
		    m.type == (t), "%s: BAD_MESSAGE, type kept (%s)",	\
		    name, rc == -1 ? why : "decoded");			\
		br_msg_free(&m);					\
	} while (0)

	FIELD_CASE("HELLO credit is a string", BR_T_HELLO, 1,
	    (raw_key(&r, "credit"), raw_key(&r, "10")));
	FIELD_CASE("HELLO credit is negative", BR_T_HELLO, 1,
	    (raw_key(&r, "credit"), msgpack_pack_int(&r.pk, -1)));
	FIELD_CASE("HELLO eio holds an integer", BR_T_HELLO, 1,
	    (raw_key(&r, "eio"), msgpack_pack_array(&r.pk, 1),
	    msgpack_pack_int(&r.pk, 1)));
	FIELD_CASE("HELLO eio is a string", BR_T_HELLO, 1,
	    (raw_key(&r, "eio"), raw_key(&r, "/engine.io/")));
	FIELD_CASE("WELCOME without gw", BR_T_WELCOME, 2,
	    (raw_key(&r, "wid"), msgpack_pack_int(&r.pk, 1),
	    raw_key(&r, "hb"), msgpack_pack_int(&r.pk, 1)));
	FIELD_CASE("ERROR without code", BR_T_ERROR, 1,
	    (raw_key(&r, "text"), raw_key(&r, "x")));
	FIELD_CASE("CREDIT n is nil", BR_T_CREDIT, 1,
	    (raw_key(&r, "n"), msgpack_pack_nil(&r.pk)));
	FIELD_CASE("EIO_OPEN hs is an array", BR_T_EIO_OPEN, 4,
	    (raw_key(&r, "sid"), raw_key(&r, "s"), raw_key(&r, "path"),
	    raw_key(&r, "/"), raw_key(&r, "seq"), msgpack_pack_int(&r.pk, 0),
	    raw_key(&r, "hs"), msgpack_pack_array(&r.pk, 0)));
	FIELD_CASE("EIO_OPEN header value is an integer", BR_T_EIO_OPEN, 4,
	    (raw_key(&r, "sid"), raw_key(&r, "s"), raw_key(&r, "path"),
	    raw_key(&r, "/"), raw_key(&r, "seq"), msgpack_pack_int(&r.pk, 0),
	    raw_key(&r, "hs"), msgpack_pack_map(&r.pk, 1),
	    raw_key(&r, "headers"), msgpack_pack_map(&r.pk, 1),
	    raw_key(&r, "host"), msgpack_pack_int(&r.pk, 80)));
	FIELD_CASE("EIO_MESSAGE data is an integer", BR_T_EIO_MESSAGE, 3,
	    (raw_key(&r, "sid"), raw_key(&r, "s"), raw_key(&r, "seq"),
	    msgpack_pack_int(&r.pk, 1), raw_key(&r, "data"),
	    msgpack_pack_int(&r.pk, 1)));
	FIELD_CASE("EIO_CLOSE without reason", BR_T_EIO_CLOSE, 2,
	    (raw_key(&r, "sid"), raw_key(&r, "s"), raw_key(&r, "seq"),
	    msgpack_pack_int(&r.pk, 1)));
	FIELD_CASE("EIO_SEND with sid and sids", BR_T_EIO_SEND, 3,
	    (raw_key(&r, "sid"), raw_key(&r, "s"), raw_key(&r, "sids"),
	    msgpack_pack_array(&r.pk, 0), raw_key(&r, "data"),
	    raw_key(&r, "x")));
	FIELD_CASE("EIO_SEND with neither sid nor sids", BR_T_EIO_SEND, 1,
	    (raw_key(&r, "data"), raw_key(&r, "x")));
	FIELD_CASE("EIO_SEND sid is bin", BR_T_EIO_SEND, 2,
	    (raw_key(&r, "sid"), msgpack_pack_bin_with_body(&r.pk, "s", 1),
	    raw_key(&r, "data"), raw_key(&r, "x")));
	FIELD_CASE("EIO_CLOSE_SESSION without sid", BR_T_EIO_CLOSE_SESSION, 0,
	    (void)0);

	/* Unknown keys are ignored; key order does not matter. */
	msgpack_sbuffer_clear(&r.sb);
	msgpack_pack_map(&r.pk, 4);
	raw_key(&r, "future");
	msgpack_pack_array(&r.pk, 0);
	raw_key(&r, "n");
	msgpack_pack_int(&r.pk, 5);
	raw_key(&r, "t");
	msgpack_pack_int(&r.pk, BR_T_CREDIT);
	raw_key(&r, "v");
	msgpack_pack_int(&r.pk, 1);
	rc = br_msg_decode(&m, r.sb.data, r.sb.size, &code, &why);
	tap_ok(rc == 0 && msg_uint_is(&m, "n", 5),
	    "unknown keys ignored, any key order");
	br_msg_free(&m);
	msgpack_sbuffer_destroy(&r.sb);

	/* Random bytes never crash and never decode as a valid type. */
	srand(12345);
	rc = 0;
	for (i = 0; i < 20000; i++) {
		size_t n = (size_t)(rand() % (int)sizeof buf), k;

		for (k = 0; k < n; k++)
			buf[k] = (char)rand();
		if (n > 0 && i % 2)
			buf[0] = (char)(0x80 | (rand() & 0x0f));
		if (br_msg_decode(&m, buf, n, &code, &why) == 0)
			rc++;
		br_msg_free(&m);
	}
	tap_ok(1, "20000 random frames survived (%d decoded)", rc);
}

/* Names for logs. */
static void
test_names(void)
{
	static const int types[] = { BR_T_HELLO, BR_T_WELCOME, BR_T_HEARTBEAT,
	    BR_T_ERROR, BR_T_BYE, BR_T_CREDIT, BR_T_EIO_OPEN,
	    BR_T_EIO_MESSAGE, BR_T_EIO_CLOSE, BR_T_EIO_SEND,
	    BR_T_EIO_CLOSE_SESSION, BR_T_SIO_CONNECT, BR_T_SIO_EVENT,
	    BR_T_SIO_DISCONNECT, BR_T_SIO_CLIENT_ACK, BR_T_SIO_ACK_TIMEOUT,
	    BR_T_SIO_RESULT, BR_T_SIO_ACCEPT, BR_T_SIO_REJECT, BR_T_SIO_ACK,
	    BR_T_SIO_EMIT, BR_T_SIO_JOIN, BR_T_SIO_LEAVE,
	    BR_T_SIO_DISCONNECT_SOCKETS, BR_T_SIO_SET_SESSION,
	    BR_T_SIO_QUERY, BR_T_SIO_SERVER_EVENT, BR_T_SIO_SERVER_RESULT,
	    BR_T_SIO_SERVER_EMIT, BR_T_SIO_SERVER_ACK };
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(br_type_name(types[i]), "?") == 0)
			ok = 0;
	tap_ok(ok, "br_type_name names every type");
	tap_ok(strcmp(br_type_name(BR_T_EIO_CLOSE_SESSION),
	    "EIO_CLOSE_SESSION") == 0 && strcmp(br_type_name(0), "?") == 0 &&
	    strcmp(br_type_name(-1), "?") == 0 &&
	    strcmp(br_type_name(BR_T_SIO_DISCONNECT_SOCKETS),
	    "SIO_DISCONNECT_SOCKETS") == 0 &&
	    strcmp(br_type_name(48), "?") == 0 &&
	    strcmp(br_type_name(61), "?") == 0, "br_type_name values");
	ok = 1;
	for (i = BR_E_BAD_MESSAGE; i <= BR_E_NO_WORKER; i++)
		if (strcmp(br_err_name((int)i), "?") == 0)
			ok = 0;
	tap_ok(ok && strcmp(br_err_name(BR_E_UNKNOWN_SID), "UNKNOWN_SID") == 0
	    && strcmp(br_err_name(0), "?") == 0, "br_err_name");
}

/* Run every group of tests and print the TAP plan. */
int
main(void)
{
	int i;

	test_round_trip();
	test_sio_round_trip();
	test_sio_errors();
	test_encoder();
	test_splits();
	test_errors();
	test_names();
	for (i = 0; i < nframes; i++)
		free(frames[i].p);
	return tap_done();
}
