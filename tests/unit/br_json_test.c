/*
 * br_json_test.c: JSON <-> msgpack for Socket.IO payloads
 * (bridge/br_json.c).  JSON text goes through jansson, br_json_pack(),
 * msgpack-c and br_json_write() and must come back unchanged; msgpack
 * built by hand checks the writer's escaping, number formatting and
 * limits.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_json.h"
#include "tap.h"

#define DEPTH 32

/* Unpacked msgpack and its bytes (strs and bins point into them). */
static msgpack_unpacked up;
static msgpack_sbuffer upbuf;

/*
 * JSON text -> jansson -> msgpack (with atts) -> unpacked into up.
 * 0, or -1 with *why.
 */
static int
to_msgpack(const char *json, const struct br_str *atts, size_t natts,
    unsigned depth, size_t *used, const char **why)
{
	msgpack_sbuffer *sb = &upbuf;
	msgpack_packer pk;
	json_error_t err;
	json_t *v;
	int r;

	v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (v == NULL) {
		*why = "test JSON does not parse";
		return -1;
	}
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	r = br_json_pack(&pk, v, atts, natts, depth, used, why);
	json_decref(v);
	if (r == 0) {
		msgpack_unpacked_destroy(&up);
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, sb->data, sb->size, NULL) !=
		    MSGPACK_UNPACK_SUCCESS) {
			*why = "packed bytes do not unpack";
			r = -1;
		}
	}
	return r;
}

/* Write up.data as JSON into a fresh NUL-terminated string (or NULL). */
static char *
write_json(const msgpack_object *o, struct br_str *atts, size_t *natts,
    size_t maxatts, unsigned depth, const char **why)
{
	struct br_buf b = { 0 };
	char *s;

	if (br_json_write(&b, o, atts, natts, maxatts, depth, why) != 0) {
		br_buf_free(&b);
		return NULL;
	}
	s = malloc(b.len + 1);
	if (b.len > 0)
		memcpy(s, b.p, b.len);
	s[b.len] = '\0';
	br_buf_free(&b);
	return s;
}

/* JSON text survives the round trip unchanged. */
static void
round_trip(const char *json, const char *expect)
{
	const char *why = "?";
	size_t natts = 0;
	char *s = NULL;

	if (expect == NULL)
		expect = json;
	if (to_msgpack(json, NULL, 0, DEPTH, NULL, &why) == 0)
		s = write_json(&up.data, NULL, &natts, 0, DEPTH, &why);
	tap_ok(s != NULL && strcmp(s, expect) == 0,
	    "round trip %s -> %s (got %s, %s)", json, expect,
	    s ? s : "error", s ? "" : why);
	free(s);
}

/* Writing the single msgpack value packed by fn gives expect. */
static void
write_is(const char *name, msgpack_sbuffer *sb, const char *expect)
{
	msgpack_unpacked u;
	const char *why = "?";
	size_t natts = 0;
	char *s = NULL;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, sb->data, sb->size, NULL) ==
	    MSGPACK_UNPACK_SUCCESS)
		s = write_json(&u.data, NULL, &natts, 0, DEPTH, &why);
	if (expect == NULL)
		tap_ok(s == NULL, "%s: refused (%s)", name, why);
	else
		tap_ok(s != NULL && strcmp(s, expect) == 0,
		    "%s: %s (got %s)", name, expect, s ? s : why);
	free(s);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_clear(sb);
}

/* A packer writing into sb. */
static msgpack_sbuffer sb;
static msgpack_packer pk;

static void
double_is(double d, const char *expect)
{
	char name[64];

	snprintf(name, sizeof(name), "float %.17g", d);
	msgpack_pack_double(&pk, d);
	write_is(name, &sb, expect);
}

static void
str_is(const char *name, const char *s, size_t n, const char *expect)
{
	msgpack_pack_str(&pk, n);
	msgpack_pack_str_body(&pk, s, n);
	write_is(name, &sb, expect);
}

static void
test_round_trips(void)
{
	round_trip("null", NULL);
	round_trip("true", NULL);
	round_trip("false", NULL);
	round_trip("0", NULL);
	round_trip("-1", NULL);
	round_trip("123456", NULL);
	round_trip("\"abc\"", NULL);
	round_trip("\"\"", NULL);
	round_trip("[]", NULL);
	round_trip("{}", NULL);
	round_trip("1.5", NULL);
	round_trip("0.1", NULL);
	round_trip("-2.5e-7", NULL);
	round_trip("1e+300", NULL);
	round_trip("1E300", "1e+300");
	round_trip("3.0", "3");
	round_trip("-0.0", "0");
	round_trip("9007199254740993", NULL);		/* 2^53+1 */
	round_trip("-9223372036854775808", NULL);	/* -2^63 */
	round_trip("9223372036854775807", NULL);	/* 2^63-1 */
	round_trip("[1,\"a\",null,true,false,{\"x\":[1,2]},[],{}]", NULL);
	round_trip(" [ 1 , { \"a\" : 2 } ] ", "[1,{\"a\":2}]");
	/* Key order is kept, not sorted. */
	round_trip("{\"b\":1,\"a\":2,\"c\":{\"z\":0,\"y\":1,\"x\":2}}", NULL);
	/* Escapes, non-ASCII and a NUL inside a string. */
	round_trip("\"a\\\"b\\\\c/\\b\\f\\n\\r\\t\\u0001\\u001f\"", NULL);
	round_trip("\"\\/\"", "\"/\"");
	round_trip("\"\\u00e9\\u20ac\\ud83d\\ude00\"",
	    "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	round_trip("\"a\\u0000b\"", NULL);
	round_trip("{\"k\\n\\u0001\":1}", NULL);
	round_trip("\"\xe2\x80\xa8\x7f\"", NULL);	/* U+2028, DEL as is */
}

/* Check the msgpack types br_json_pack() chose. */
static void
test_pack_types(void)
{
	const msgpack_object *a;
	const char *why = "?";
	int ok;

	ok = to_msgpack("[1,-1,1.0,\"s\",true,null,{\"k\":0},[]]", NULL, 0,
	    DEPTH, NULL, &why) == 0;
	a = up.data.via.array.ptr;
	tap_ok(ok && up.data.type == MSGPACK_OBJECT_ARRAY &&
	    up.data.via.array.size == 8 &&
	    a[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    a[0].via.u64 == 1 &&
	    a[1].type == MSGPACK_OBJECT_NEGATIVE_INTEGER &&
	    a[1].via.i64 == -1 &&
	    a[2].type == MSGPACK_OBJECT_FLOAT64 && a[2].via.f64 == 1.0 &&
	    a[3].type == MSGPACK_OBJECT_STR &&
	    a[4].type == MSGPACK_OBJECT_BOOLEAN && a[4].via.boolean &&
	    a[5].type == MSGPACK_OBJECT_NIL &&
	    a[6].type == MSGPACK_OBJECT_MAP && a[6].via.map.size == 1 &&
	    a[7].type == MSGPACK_OBJECT_ARRAY && a[7].via.array.size == 0,
	    "pack: every JSON type maps to its msgpack type");
	ok = to_msgpack("{\"z\":1,\"a\":2,\"m\":3}", NULL, 0, DEPTH, NULL,
	    &why) == 0;
	tap_ok(ok && up.data.via.map.size == 3 &&
	    memcmp(up.data.via.map.ptr[0].key.via.str.ptr, "z", 1) == 0 &&
	    memcmp(up.data.via.map.ptr[1].key.via.str.ptr, "a", 1) == 0 &&
	    memcmp(up.data.via.map.ptr[2].key.via.str.ptr, "m", 1) == 0,
	    "pack: map keys in insertion order");
}

/* Nonzero when o is a bin equal to s. */
static int
bin_is(const msgpack_object *o, const char *s)
{
	return o->type == MSGPACK_OBJECT_BIN &&
	    o->via.bin.size == strlen(s) &&
	    memcmp(o->via.bin.ptr, s, strlen(s)) == 0;
}

static void
test_placeholders(void)
{
	static const char *json = "[\"ev\",{\"_placeholder\":true,\"num\":1},"
	    "{\"a\":[{\"_placeholder\":true,\"num\":0}],\"b\":"
	    "{\"_placeholder\":true,\"num\":2}}]";
	static const char *back = "[\"ev\",{\"_placeholder\":true,\"num\":0},"
	    "{\"a\":[{\"_placeholder\":true,\"num\":1}],\"b\":"
	    "{\"_placeholder\":true,\"num\":2}}]";
	struct br_str atts[3] = { { "zero", 4 }, { "one", 3 }, { "", 0 } };
	struct br_str out[4];
	const msgpack_object *a, *m;
	const char *why = "?";
	size_t used = 0, natts = 0;
	char *s;
	int ok;

	ok = to_msgpack(json, atts, 3, DEPTH, &used, &why) == 0;
	tap_ok(ok, "placeholders: packed (%s)", ok ? "" : why);
	if (!ok)
		return;
	a = up.data.via.array.ptr;
	m = &a[2];
	tap_ok(used == 3, "placeholders: used_atts counts 3 (%zu)", used);
	tap_ok(bin_is(&a[1], "one"), "placeholder in the array -> bin atts[1]");
	tap_ok(m->type == MSGPACK_OBJECT_MAP &&
	    m->via.map.ptr[0].val.type == MSGPACK_OBJECT_ARRAY &&
	    bin_is(&m->via.map.ptr[0].val.via.array.ptr[0], "zero"),
	    "placeholder nested in object/array -> bin atts[0]");
	tap_ok(bin_is(&m->via.map.ptr[1].val, ""),
	    "placeholder in an object -> empty bin atts[2]");

	/* Back to JSON: numbered in document order, slices into up. */
	s = write_json(&up.data, out, &natts, 4, DEPTH, &why);
	tap_ok(s != NULL && strcmp(s, back) == 0,
	    "write: bins become placeholders in order (%s)", s ? s : why);
	tap_ok(natts == 3 && out[0].n == 3 && memcmp(out[0].p, "one", 3) == 0 &&
	    out[1].n == 4 && memcmp(out[1].p, "zero", 4) == 0 &&
	    out[2].n == 0, "write: atts slices in order");
	free(s);

	/* The same number twice is allowed (Socket.IO does not forbid it). */
	used = 0;
	ok = to_msgpack("[{\"_placeholder\":true,\"num\":0},"
	    "{\"_placeholder\":true,\"num\":0}]", atts, 1, DEPTH, &used,
	    &why) == 0;
	tap_ok(ok && used == 2, "placeholder reused: used_atts counts 2");

	/* A placeholder at the depth limit is a leaf. */
	ok = to_msgpack("[{\"_placeholder\":true,\"num\":0}]", atts, 1, 1,
	    NULL, &why) == 0;
	tap_ok(ok, "placeholder at the depth limit counts as a leaf");

	/* Without atts, placeholder-shaped objects are plain objects. */
	ok = to_msgpack("[{\"_placeholder\":true,\"num\":0}]", NULL, 0, DEPTH,
	    NULL, &why) == 0;
	tap_ok(ok && up.data.via.array.ptr[0].type == MSGPACK_OBJECT_MAP,
	    "atts NULL: placeholder stays an object");
	ok = to_msgpack("{\"_placeholder\":false,\"num\":9}", atts, 1, DEPTH,
	    NULL, &why) == 0;
	tap_ok(ok && up.data.type == MSGPACK_OBJECT_MAP,
	    "_placeholder false is a plain object");
}

static void
test_bad_placeholders(void)
{
	static const char *bad[] = {
		"[{\"_placeholder\":true,\"num\":2}]",
		"[{\"_placeholder\":true,\"num\":-1}]",
		"[{\"_placeholder\":true,\"num\":\"0\"}]",
		"[{\"_placeholder\":true,\"num\":0.5}]",
		"[{\"_placeholder\":true}]",
		"{\"a\":{\"b\":[{\"_placeholder\":true,\"num\":99}]}}",
		"{\"_placeholder\":true,\"num\":null}",
	};
	struct br_str atts[2] = { { "a", 1 }, { "b", 1 } };
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = "";
		tap_ok(to_msgpack(bad[i], atts, 2, DEPTH, NULL, &why) == -1 &&
		    why != NULL && strcmp(why, "bad placeholder") == 0,
		    "bad placeholder %s refused (%s)", bad[i], why);
	}
	why = NULL;
	tap_ok(to_msgpack("[{\"_placeholder\":true,\"num\":0}]", atts, 0,
	    DEPTH, NULL, &why) == -1, "placeholder with natts 0 refused");
	tap_ok(to_msgpack("[{\"_placeholder\":true,\"num\":1.0}]", atts, 2,
	    DEPTH, NULL, &why) == 0 && bin_is(&up.data.via.array.ptr[0], "b"),
	    "placeholder num 1.0 accepted as 1");
}

static void
test_depth(void)
{
	const char *why = "?";
	size_t natts = 0;
	char *s;

	tap_ok(to_msgpack("[[[1]]]", NULL, 0, 3, NULL, &why) == 0,
	    "pack: 3 levels with maxdepth 3");
	tap_ok(to_msgpack("[[[1]]]", NULL, 0, 2, NULL, &why) == -1 &&
	    strcmp(why, "too deep") == 0, "pack: 3 levels with maxdepth 2");
	tap_ok(to_msgpack("{\"a\":{\"b\":{}}}", NULL, 0, 2, NULL, &why) ==
	    -1, "pack: 3 object levels with maxdepth 2");
	tap_ok(to_msgpack("7", NULL, 0, 0, NULL, &why) == 0 &&
	    to_msgpack("[]", NULL, 0, 0, NULL, &why) == -1,
	    "pack: maxdepth 0 allows scalars only");

	tap_ok(to_msgpack("[{\"a\":[1]}]", NULL, 0, DEPTH, NULL, &why) == 0,
	    "write: setup");
	s = write_json(&up.data, NULL, &natts, 0, 3, &why);
	tap_ok(s != NULL && strcmp(s, "[{\"a\":[1]}]") == 0,
	    "write: 3 levels with maxdepth 3");
	free(s);
	s = write_json(&up.data, NULL, &natts, 0, 2, &why);
	tap_ok(s == NULL && strcmp(why, "too deep") == 0,
	    "write: 3 levels with maxdepth 2");
	free(s);
}

static void
test_numbers(void)
{
	double_is(0.1, "0.1");
	double_is(1e300, "1e+300");
	double_is(-0.0, "0");
	double_is(0.0, "0");
	double_is(1.5, "1.5");
	double_is(3.0, "3");
	double_is(-3.0, "-3");
	double_is(1.0 / 3, "0.3333333333333333");
	double_is(0.1 + 0.2, "0.30000000000000004");
	double_is(123.456, "123.456");
	double_is(1e20, "100000000000000000000");
	double_is(1e21, "1e+21");
	double_is(1.5e21, "1.5e+21");
	double_is(1e-6, "0.000001");
	double_is(1.25e-6, "0.00000125");
	double_is(1e-7, "1e-7");
	double_is(-1.5e-7, "-1.5e-7");
	double_is(5e-324, "5e-324");
	double_is(1.7976931348623157e308, "1.7976931348623157e+308");
	double_is(9007199254740993.0, "9007199254740992");
	double_is(NAN, "null");
	double_is(INFINITY, "null");
	double_is(-INFINITY, "null");
	msgpack_pack_float(&pk, 0.5f);
	write_is("float32 0.5", &sb, "0.5");

	msgpack_pack_uint64(&pk, UINT64_MAX);
	write_is("uint 2^64-1", &sb, "18446744073709551615");
	msgpack_pack_int64(&pk, INT64_MIN);
	write_is("int -2^63", &sb, "-9223372036854775808");
	msgpack_pack_uint64(&pk, (UINT64_C(1) << 53) + 1);
	write_is("uint 2^53+1", &sb, "9007199254740993");
	msgpack_pack_int64(&pk, -((INT64_C(1) << 53) + 1));
	write_is("int -(2^53+1)", &sb, "-9007199254740993");
}

static void
test_strings(void)
{
	static const char ctl[] = "a\"b\\c/\b\f\n\r\t\x01\x1f\x7f";
	static const char nul[] = "x\0y";

	str_is("escapes", ctl, sizeof(ctl) - 1,
	    "\"a\\\"b\\\\c/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
	str_is("NUL", nul, 3, "\"x\\u0000y\"");
	str_is("UTF-8 2/3/4 bytes", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
	    9, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	str_is("U+10FFFF", "\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\"");
	str_is("bad: lone 0xff", "a\xff", 2, NULL);
	str_is("bad: continuation first", "\x80", 1, NULL);
	str_is("bad: overlong NUL", "\xc0\x80", 2, NULL);
	str_is("bad: overlong 3-byte", "\xe0\x80\xaf", 3, NULL);
	str_is("bad: overlong 4-byte", "\xf0\x80\x80\xaf", 4, NULL);
	str_is("bad: surrogate", "\xed\xa0\x80", 3, NULL);
	str_is("bad: above U+10FFFF", "\xf4\x90\x80\x80", 4, NULL);
	str_is("bad: truncated", "ok\xe2\x82", 4, NULL);
	str_is("bad: 0xf5 lead", "\xf5\x80\x80\x80", 4, NULL);

	/* Invalid UTF-8 in a map key. */
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "\xfe", 1);
	msgpack_pack_nil(&pk);
	write_is("bad UTF-8 in a key", &sb, NULL);
}

static void
test_other_types(void)
{
	struct br_buf b = { 0 };
	struct br_str atts[2];
	msgpack_unpacked u;
	const char *why = "?";
	size_t natts;
	int r;

	/* Integer keys written as strings, ext as null. */
	msgpack_pack_map(&pk, 3);
	msgpack_pack_uint8(&pk, 7);
	msgpack_pack_true(&pk);
	msgpack_pack_int8(&pk, -2);
	msgpack_pack_ext(&pk, 1, 5);
	msgpack_pack_ext_body(&pk, "x", 1);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "k", 1);
	msgpack_pack_array(&pk, 0);
	write_is("int keys, ext", &sb, "{\"7\":true,\"-2\":null,\"k\":[]}");

	msgpack_pack_map(&pk, 1);
	msgpack_pack_true(&pk);
	msgpack_pack_nil(&pk);
	write_is("bool key refused", &sb, NULL);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_double(&pk, 1.5);
	msgpack_pack_nil(&pk);
	write_is("float key refused", &sb, NULL);

	/* maxatts: three bins, room for two; out and natts restored. */
	msgpack_pack_array(&pk, 3);
	msgpack_pack_bin(&pk, 1);
	msgpack_pack_bin_body(&pk, "a", 1);
	msgpack_pack_bin(&pk, 1);
	msgpack_pack_bin_body(&pk, "b", 1);
	msgpack_pack_bin(&pk, 1);
	msgpack_pack_bin_body(&pk, "c", 1);
	msgpack_unpacked_init(&u);
	msgpack_unpack_next(&u, sb.data, sb.size, NULL);
	br_buf_append(&b, "keep", 4);
	natts = 0;
	r = br_json_write(&b, &u.data, atts, &natts, 2, DEPTH, &why);
	tap_ok(r == -1 && strcmp(why, "too many attachments") == 0,
	    "maxatts 2: third bin refused");
	tap_ok(b.len == 4 && natts == 0,
	    "maxatts: output and natts restored on error");
	natts = 1;	/* *natts is in/out: continue numbering at 1 */
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_bin(&pk, 2);
	msgpack_pack_bin_body(&pk, "zz", 2);
	msgpack_unpacked_init(&u);
	msgpack_unpack_next(&u, sb.data, sb.size, NULL);
	r = br_json_write(&b, &u.data, atts, &natts, 2, DEPTH, &why);
	tap_ok(r == 0 && natts == 2 && atts[1].n == 2 && b.len == 4 + 29 &&
	    memcmp(b.p + 4, "{\"_placeholder\":true,\"num\":1}", 29) == 0,
	    "write appends, numbering from *natts");
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_clear(&sb);
	br_buf_free(&b);
	br_buf_free(&b);
	tap_ok(b.p == NULL && b.len == 0 && b.cap == 0,
	    "br_buf_free twice is safe");

	/* Growth over many appends. */
	for (r = 0; r < 10000; r++)
		if (br_buf_append(&b, "0123456789", 10) != 0)
			break;
	tap_ok(r == 10000 && b.len == 100000 && b.cap >= b.len &&
	    memcmp(b.p + 99990, "0123456789", 10) == 0,
	    "br_buf_append grows");
	br_buf_free(&b);

	tap_ok(br_json_pack(&pk, NULL, NULL, 0, DEPTH, NULL, &why) == -1,
	    "pack NULL refused");
}

int
main(void)
{
	msgpack_unpacked_init(&up);
	msgpack_sbuffer_init(&upbuf);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	test_round_trips();
	test_pack_types();
	test_placeholders();
	test_bad_placeholders();
	test_depth();
	test_numbers();
	test_strings();
	test_other_types();
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&upbuf);
	msgpack_sbuffer_destroy(&sb);
	return tap_done();
}
