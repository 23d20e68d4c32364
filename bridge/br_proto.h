/*
 * br_proto.h: the siogate bridge protocol (see siogate-protocol(7)).
 *
 * One ZeroMQ frame carries one msgpack map.  Every map has the keys "v"
 * (protocol version, BR_VERSION) and "t" (message type, BR_T_*) first;
 * the other keys depend on the type.  Type numbers are never reused.
 *
 * This library does no I/O: the gateway and the SDK both encode and decode
 * with it, so the two can never disagree.
 */
#ifndef BR_PROTO_H
#define BR_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#define BR_VERSION 1

/* Message types.  Never renumber; never reuse a retired number. */
enum br_type {
	BR_T_HELLO = 1,		/* w->g: register (name, eio, nsp, nsp_open,
				   credit, hb) */
	BR_T_WELCOME = 2,	/* g->w: registered (gw, wid, hb) */
	BR_T_HEARTBEAT = 3,	/* both: still alive */
	BR_T_ERROR = 4,		/* both: code, text, [ref], [sid] */
	BR_T_BYE = 5,		/* both: leaving */
	BR_T_CREDIT = 6,	/* w->g: n more events may be sent */
	BR_T_STATUS = 7,	/* any->g: ask live figures (no HELLO needed) */
	BR_T_STATUS_REPLY = 8,	/* g->any: gw, version, connections, sessions, ... */
	BR_T_BATCH = 9,		/* both: msgs (array of bin, each one whole
				   message); only to a peer that announced
				   "batch" (HELLO / WELCOME) */
	BR_T_SYNC = 10,		/* any->g: req; answered SYNC_REPLY once all
				   the peer sent before it was handled */
	BR_T_SYNC_REPLY = 11,	/* g->any: req (of the SYNC) */

	BR_T_EIO_OPEN = 20,	/* g->w: sid, path, seq, hs */
	BR_T_EIO_MESSAGE = 21,	/* g->w: sid, seq, data (str|bin) */
	BR_T_EIO_CLOSE = 22,	/* g->w: sid, seq, reason */
	BR_T_EIO_SEND = 23,	/* w->g: sid | sids, data (str|bin) */
	BR_T_EIO_CLOSE_SESSION = 24, /* w->g: sid */

	/* Socket.IO, gateway -> worker (40-47). */
	BR_T_SIO_CONNECT = 40,	/* sid, id, nsp, seq, [auth], reply, hs */
	BR_T_SIO_EVENT = 41,	/* id, nsp, seq, ev, args, [ack], session, rooms */
	BR_T_SIO_DISCONNECT = 42, /* id, nsp, seq, reason */
	BR_T_SIO_CLIENT_ACK = 43, /* id, nsp, req, args */
	BR_T_SIO_ACK_TIMEOUT = 44, /* id, nsp, req, reason */
	BR_T_SIO_RESULT = 45,	/* req, result (answers SIO_QUERY) */
	BR_T_SIO_SERVER_EVENT = 46, /* nsp, ev, args, [req]: another node's
				   serverSideEmit */
	BR_T_SIO_SERVER_RESULT = 47, /* req, result, [error] (answers
				   SIO_SERVER_EMIT with req) */

	/* Socket.IO, worker -> gateway (50-60). */
	BR_T_SIO_ACCEPT = 50,	/* id, [session], [rooms] */
	BR_T_SIO_REJECT = 51,	/* id, [data] */
	BR_T_SIO_ACK = 52,	/* id, nsp, ack, args */
	BR_T_SIO_EMIT = 53,	/* [nsp], ev, args, [to], [except], [req],
				   [timeout], [volatile] */
	BR_T_SIO_JOIN = 54,	/* nsp, rooms, to */
	BR_T_SIO_LEAVE = 55,	/* nsp, rooms, to */
	BR_T_SIO_DISCONNECT_SOCKETS = 56, /* nsp, to, [close] */
	BR_T_SIO_SET_SESSION = 57, /* id, nsp, session, [merge] */
	BR_T_SIO_QUERY = 58,	/* req, nsp, what, [to] */
	BR_T_SIO_SERVER_EMIT = 59, /* [nsp], ev, args, [req]: serverSideEmit
				   to the other nodes of the cluster */
	BR_T_SIO_SERVER_ACK = 60, /* req, args (answers SIO_SERVER_EVENT
				   with req) */
};

/* Default ack timeout of SIO_EMIT with req (ms). */
#define BR_DEFAULT_ACK_TIMEOUT_MS 10000

/* Error codes carried by BR_T_ERROR. */
enum br_err {
	BR_E_BAD_MESSAGE = 1,	/* not msgpack, not a map, missing or mistyped key */
	BR_E_BAD_VERSION = 2,	/* "v" is not BR_VERSION */
	BR_E_UNKNOWN_TYPE = 3,	/* "t" names no message type */
	BR_E_NOT_REGISTERED = 4,/* peer sent something before HELLO: say HELLO */
	BR_E_UNKNOWN_SID = 5,	/* the session is gone */
	BR_E_TOO_LARGE = 6,	/* a payload exceeds the gateway's max payload */
	BR_E_NOT_SERVED = 7,	/* HELLO names a path the gateway does not offer */
	BR_E_NO_WORKER = 8,	/* no worker could take the event */
};

/* Default figures (ms / count), also documented in siogate-protocol(7). */
#define BR_DEFAULT_HB_MS 2000
#define BR_DEAD_AFTER_MISSED 4
#define BR_DEFAULT_CREDIT 256
#define BR_MAX_FRAME (64u * 1024 * 1024)

/* A string or binary slice inside a decoded message (not NUL-terminated). */
struct br_str {
	const char *p;
	uint32_t n;
};

/*
 * A decoded message.  Owns the msgpack zone: every pointer handed out by the
 * accessors below lives until br_msg_free().
 */
struct br_msg {
	uint32_t version;
	int type;
	msgpack_unpacked up;
	const msgpack_object *root;	/* the map */
};

/* Decode one frame.  0 on success; -1 with *why (static) and *code (BR_E_*). */
int br_msg_decode(struct br_msg *m, const void *buf, size_t len, int *code,
    const char **why);
/* Free a decoded message; safe on a zeroed or failed one. */
void br_msg_free(struct br_msg *m);

/* Look up a key; NULL when absent. */
const msgpack_object *br_msg_get(const struct br_msg *m, const char *key);
/* Typed look-ups: 0 when present and of that type, -1 otherwise. */
int br_msg_str(const struct br_msg *m, const char *key, struct br_str *out);
int br_msg_uint(const struct br_msg *m, const char *key, uint64_t *out);
/* str or bin: *binary set to 1 for bin. */
int br_msg_data(const struct br_msg *m, const char *key, struct br_str *out,
    int *binary);
/* Same helpers on a bare object (items of arrays, nested maps). */
int br_obj_str(const msgpack_object *o, struct br_str *out);
const msgpack_object *br_map_get(const msgpack_object *map, const char *key);

/* Encoder: a growing buffer plus packer. */
struct br_enc {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

/*
 * Start a message of type with nfields further keys (not counting v and t).
 * The caller then adds exactly nfields key/value pairs.
 */
void br_enc_init(struct br_enc *e, int type, uint32_t nfields);
void br_enc_key(struct br_enc *e, const char *key);
void br_enc_str(struct br_enc *e, const char *key, const char *s, size_t n);
void br_enc_cstr(struct br_enc *e, const char *key, const char *s);
void br_enc_uint(struct br_enc *e, const char *key, uint64_t v);
void br_enc_bin(struct br_enc *e, const char *key, const void *p, size_t n);
/* str when binary == 0, bin otherwise. */
void br_enc_data(struct br_enc *e, const char *key, const void *p, size_t n,
    int binary);
/* The encoded bytes: e->sb.data, e->sb.size.  Frees the buffer. */
void br_enc_free(struct br_enc *e);

/* Name of a type for logs ("HELLO"), "?" when unknown. */
const char *br_type_name(int type);

/* ---- additions (br_codec.c) ---- */

/* A sid is the gateway id followed by this many url-safe base64 chars. */
#define BR_SID_SUFFIX_LEN 20

/*
 * Like br_msg_decode(), without copying the frame: strings and bin slices
 * point into buf, which must then outlive the message (keep the zmq_msg_t
 * open until br_msg_free()).  br_msg_decode() copies the frame into the
 * message's zone, so its pointers depend on nothing else.
 *
 * Both check the frame size (BR_E_TOO_LARGE above BR_MAX_FRAME), the msgpack
 * structure before anything is allocated (declared lengths must fit in the
 * frame, exactly one object, no trailing bytes), the map, "v" and "t", and
 * for every known type the keys and value types listed in
 * siogate-protocol(7) (BR_E_BAD_MESSAGE).  Unknown keys are ignored.
 *
 * After any return the caller calls br_msg_free().  On -1, m->type is the
 * message type when "t" could be read (else 0) and m->root stays usable
 * for BR_E_UNKNOWN_TYPE and for field errors (BR_E_BAD_MESSAGE with
 * m->type != 0), so the caller can answer ERROR with ref = m->type.
 */
int br_msg_decode_ref(struct br_msg *m, const void *buf, size_t len,
    int *code, const char **why);

/*
 * Walk one msgpack object at p[0..len) without allocating: 0 with *end
 * its length, or -1 with *why when it is not msgpack, is truncated, or
 * declares a length that cannot fit in len (so msgpack-c's unpacker,
 * run after it, allocates at most in proportion to len).
 */
int br_msgpack_scan(const void *p, size_t len, size_t *end, const char **why);

/* Name of an error code for logs ("UNKNOWN_SID"), "?" when unknown. */
const char *br_err_name(int code);

/*
 * Restart the encoder for a new message, keeping its buffer (the hot path
 * reuses one encoder).  e must have been set up by br_enc_init().
 */
void br_enc_reset(struct br_enc *e, int type, uint32_t nfields);
/*
 * Start e with a copy of the first n bytes of a message encoded earlier,
 * whose map header already counts the keys the caller adds next.
 */
void br_enc_resume(struct br_enc *e, const void *p, size_t n);
/* Key plus an array header of n items / a map header of n pairs. */
void br_enc_array(struct br_enc *e, const char *key, uint32_t n);
void br_enc_map(struct br_enc *e, const char *key, uint32_t n);
/* A bare string value (an array item, a nested map key or value). */
void br_enc_item_str(struct br_enc *e, const char *s, size_t n);
/*
 * Nonzero when an allocation failed or a string was longer than msgpack
 * allows since br_enc_init()/br_enc_reset(): the bytes are then not a
 * valid message and must not be sent.  Writes made directly with
 * msgpack_pack_*(&e->pk, ...) are tracked too.
 */
int br_enc_failed(const struct br_enc *e);

/*
 * A BATCH being built: whole encoded messages appended one by one, sent
 * as one frame {v, t: BATCH, msgs: [bin, ...]} (see siogate-protocol(7)).
 * Zero it to start; the buffer is kept across br_batch_take() calls.
 */
struct br_batch {
	char *p;
	size_t len, cap;
	uint32_t n;		/* messages in it */
};

/* Append one encoded message: 0, or -1 on OOM or a message > 4 GiB. */
int br_batch_add(struct br_batch *b, const void *msg, size_t len);
/*
 * The frame to send: the BATCH, or the lone message itself when only one
 * was added (no wrapper).  Valid until the next add, reset or free.
 */
void br_batch_frame(struct br_batch *b, const char **p, size_t *len);
/* Forget the messages (keeps the buffer); free drops it too. */
void br_batch_reset(struct br_batch *b);
void br_batch_free(struct br_batch *b);

#endif
