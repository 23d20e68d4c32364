/*
 * br_json.h: convert Socket.IO payloads between JSON (jansson values, JSON
 * text) and msgpack, with binary attachments (see siogate-protocol(7)).
 *
 * Socket.IO sends binary values out of band: the JSON carries a placeholder
 * {"_placeholder":true,"num":N} and attachment N follows as its own
 * Engine.IO message.  On the bridge the same value is a msgpack bin in
 * place.  br_json_pack() resolves placeholders into bins (client -> bridge);
 * br_json_write() turns bins back into placeholders plus a list of slices
 * (bridge -> client).  Like br_codec.c, no I/O and no logging.
 */
#ifndef BR_JSON_H
#define BR_JSON_H

#include <stddef.h>
#include <jansson.h>

#include "br_proto.h"

/* A growable output buffer.  Owns p; zero it to start. */
struct br_buf {
	char *p;
	size_t len, cap;
};

/* Free b->p and zero b; safe on a zeroed buffer. */
void br_buf_free(struct br_buf *b);
/* Append n bytes: 0, or -1 on OOM (b unchanged). */
int br_buf_append(struct br_buf *b, const void *p, size_t n);

/*
 * Length of the valid UTF-8 sequence at p (n > 0 bytes available), or 0
 * when it is not one: overlong forms, surrogates (U+D800..DFFF) and code
 * points above U+10FFFF are refused, as RFC 3629 says.
 */
size_t br_utf8_len(const unsigned char *p, size_t n);

/*
 * Pack a jansson value as msgpack: object -> map (key order kept), array ->
 * array, string -> str, integer -> int, real -> float64, true/false ->
 * bool, null -> nil.
 *
 * Placeholders: when atts is not NULL, an object whose "_placeholder" is
 * true (as Socket.IO's own parser decides) must have an integer "num" N
 * with 0 <= N < natts, and is packed as bin atts[N]; anything else is the
 * error "bad placeholder".  When atts is NULL (a packet that announced no
 * attachments: EVENT, not BINARY_EVENT), placeholder-shaped objects are
 * ordinary objects, as in Node.  *used_atts (may be NULL) is incremented
 * once per placeholder packed, so the caller can check that every
 * attachment was used.
 *
 * Depth: every array and object counts one level (a placeholder counts as
 * a leaf); more than maxdepth levels is the error "too deep".
 *
 * 0, or -1 with *why (static).  On -1 the packer's output is incomplete
 * and must be thrown away.
 */
int br_json_pack(msgpack_packer *pk, const json_t *v,
    const struct br_str *atts, size_t natts, unsigned maxdepth,
    size_t *used_atts, const char **why);

/*
 * Append a msgpack object to out as compact JSON, as JSON.stringify would
 * write it: no spaces; strings escaped per RFC 8259 (\" \\ \b \f \n \r \t,
 * other control characters as \u00xx), "/" and non-ASCII UTF-8 passed
 * through (invalid UTF-8 is an error); integers exact; floats in the
 * shortest form that reads back to the same double, formatted like
 * ECMAScript's Number::toString (3.0 -> 3, 1e21 -> 1e+21, -0.0 -> 0),
 * NaN and infinities -> null; ext -> null.  Map keys must be str, or
 * integers (written as their decimal string, as JS does).
 *
 * Each bin becomes {"_placeholder":true,"num":K} with K = *natts, and
 * atts[K] is set to the bin slice (pointing into o, so o must outlive
 * atts); *natts is incremented.  *natts is in/out: set it to 0 to start,
 * atts has room for maxatts slices, and one bin more is the error
 * "too many attachments".  Depth counts as in br_json_pack().
 *
 * 0, or -1 with *why (static); on -1, out->len and *natts are restored to
 * their values at the call.
 */
int br_json_write(struct br_buf *out, const msgpack_object *o,
    struct br_str *atts, size_t *natts, size_t maxatts, unsigned maxdepth,
    const char **why);

/*
 * A fast way for the common JSON of client packets, without jansson.
 * br_json_fast_scan() checks that text p[0..n) is a JSON array made only
 * of what it handles exactly as jansson plus br_json_pack() (atts NULL)
 * would: arrays, objects with distinct keys, strings of printable ASCII
 * without escapes, integers of up to 18 digits, true, false, null, and
 * nesting below maxdepth for every item (the array itself not counted).
 * With name not NULL, the first item must be such a string of at most
 * 255 bytes: *name points at it in p, and it is not packed.  Returns 1
 * when the text qualifies; 0 when it does not (anything else, invalid
 * JSON included): then use jansson, which gives the verdict.
 * br_json_fast_pack() then packs the (other) items as one msgpack array:
 * 0, or -1 when the packer failed.  p must not change in between.
 */
#define BR_FAST_MAXC 64		/* containers in one text */
struct br_fast {
	const char *p, *end, *start;
	uint32_t cnt[BR_FAST_MAXC];	/* items of each container, in order */
	size_t nc;
	unsigned maxdepth;
	int named;
	msgpack_packer *pk;
};
int br_json_fast_scan(struct br_fast *f, const char *p, size_t n,
    unsigned maxdepth, struct br_str *name);
int br_json_fast_pack(struct br_fast *f, msgpack_packer *pk);

#endif
