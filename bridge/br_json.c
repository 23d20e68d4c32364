/*
 * br_json.c: JSON <-> msgpack for Socket.IO payloads (see br_json.h).
 *
 * Both directions recurse, one C frame per array or object level; the
 * maxdepth argument bounds the recursion, so the caller's limit is also
 * the stack bound.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_json.h"

/* Free the buffer's bytes and zero it. */
void
br_buf_free(struct br_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Append n bytes, doubling the capacity when it runs out. */
int
br_buf_append(struct br_buf *b, const void *p, size_t n)
{
	size_t cap;
	char *np;

	if (n == 0)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return -1;
	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 64;
		while (cap < b->len + n)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/* ---- JSON (jansson) -> msgpack ---- */

struct br_pack {
	msgpack_packer *pk;
	const struct br_str *atts;
	size_t natts;
	unsigned maxdepth;
	size_t *used;
	const char **why;
};

/*
 * Is v a placeholder?  0 no, 1 yes with *num set, -1 a bad one (*why set).
 * Socket.IO's reconstructor treats any object with _placeholder === true
 * as one and then requires a valid num; we do the same.
 */
static int
br_pack_placeholder(struct br_pack *c, json_t *v, size_t *num)
{
	json_t *ph, *n;
	double d;

	ph = json_object_get(v, "_placeholder");
	if (ph == NULL || !json_is_true(ph))
		return 0;
	n = json_object_get(v, "num");
	if (json_is_integer(n)) {
		if (json_integer_value(n) < 0 ||
		    (uint64_t)json_integer_value(n) >= c->natts)
			goto bad;
		*num = (size_t)json_integer_value(n);
		return 1;
	}
	if (json_is_real(n)) {
		d = json_real_value(n);
		if (!(d >= 0 && d < (double)c->natts) || d != (double)(size_t)d)
			goto bad;
		*num = (size_t)d;
		return 1;
	}
bad:
	*c->why = "bad placeholder";
	return -1;
}

/* Pack one value at nesting level depth (0 for the root). */
static int
br_pack_value(struct br_pack *c, json_t *v, unsigned depth)
{
	const char *key, *s;
	size_t i, n, klen, num;
	json_t *item;
	int r;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (c->atts != NULL) {
			r = br_pack_placeholder(c, v, &num);
			if (r < 0)
				return -1;
			if (r > 0) {
				if (msgpack_pack_bin(c->pk, c->atts[num].n) != 0 ||
				    msgpack_pack_bin_body(c->pk,
				    c->atts[num].p, c->atts[num].n) != 0)
					goto nomem;
				if (c->used != NULL)
					(*c->used)++;
				return 0;
			}
		}
		if (depth >= c->maxdepth)
			goto deep;
		n = json_object_size(v);
		if (n > UINT32_MAX)
			goto big;
		if (msgpack_pack_map(c->pk, n) != 0)
			goto nomem;
		json_object_keylen_foreach(v, key, klen, item) {
			if (klen > UINT32_MAX)
				goto big;
			if (msgpack_pack_str(c->pk, klen) != 0 ||
			    msgpack_pack_str_body(c->pk, key, klen) != 0)
				goto nomem;
			if (br_pack_value(c, item, depth + 1) != 0)
				return -1;
		}
		return 0;
	case JSON_ARRAY:
		if (depth >= c->maxdepth)
			goto deep;
		n = json_array_size(v);
		if (n > UINT32_MAX)
			goto big;
		if (msgpack_pack_array(c->pk, n) != 0)
			goto nomem;
		for (i = 0; i < n; i++)
			if (br_pack_value(c, json_array_get(v, i),
			    depth + 1) != 0)
				return -1;
		return 0;
	case JSON_STRING:
		s = json_string_value(v);
		n = json_string_length(v);
		if (n > UINT32_MAX)
			goto big;
		if (msgpack_pack_str(c->pk, n) != 0 ||
		    msgpack_pack_str_body(c->pk, s, n) != 0)
			goto nomem;
		return 0;
	case JSON_INTEGER:
		r = msgpack_pack_int64(c->pk, json_integer_value(v));
		break;
	case JSON_REAL:
		r = msgpack_pack_double(c->pk, json_real_value(v));
		break;
	case JSON_TRUE:
		r = msgpack_pack_true(c->pk);
		break;
	case JSON_FALSE:
		r = msgpack_pack_false(c->pk);
		break;
	case JSON_NULL:
		r = msgpack_pack_nil(c->pk);
		break;
	default:
		*c->why = "unknown JSON type";
		return -1;
	}
	if (r != 0)
		goto nomem;
	return 0;
deep:
	*c->why = "too deep";
	return -1;
big:
	*c->why = "value too large for msgpack";
	return -1;
nomem:
	*c->why = "out of memory";
	return -1;
}

/* Pack a JSON value as msgpack (see br_json.h). */
int
br_json_pack(msgpack_packer *pk, const json_t *v, const struct br_str *atts,
    size_t natts, unsigned maxdepth, size_t *used_atts, const char **why)
{
	struct br_pack c;

	if (v == NULL) {
		*why = "no value";
		return -1;
	}
	c.pk = pk;
	c.atts = atts;
	c.natts = natts;
	c.maxdepth = maxdepth;
	c.used = used_atts;
	c.why = why;
	/* jansson's getters take non-const pointers but do not write. */
	return br_pack_value(&c, (json_t *)(uintptr_t)v, 0);
}

/* ---- msgpack -> JSON text ---- */

struct br_write {
	struct br_buf *out;
	struct br_str *atts;
	size_t *natts;
	size_t maxatts;
	unsigned maxdepth;
	const char **why;
};

#define BR_PUT(c, s) br_buf_append((c)->out, (s), sizeof(s) - 1)

/* Length of the valid UTF-8 sequence at p (see br_json.h). */
size_t
br_utf8_len(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] < 0xc2)
		return 0;	/* continuation byte or overlong 2-byte lead */
	if (p[0] < 0xe0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] < 0xf0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] < 0xf5) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* Write a quoted, escaped JSON string; -1 on invalid UTF-8 or OOM. */
static int
br_write_str(struct br_write *c, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, l;
	char esc[6];
	const char *e;
	size_t elen;

	if (BR_PUT(c, "\"") != 0)
		goto nomem;
	while (i < n) {
		e = NULL;
		elen = 2;
		switch (p[i]) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			if (p[i] < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[p[i] >> 4];
				esc[5] = hex[p[i] & 15];
				e = esc;
				elen = 6;
			}
		}
		if (e == NULL) {
			l = br_utf8_len(p + i, n - i);
			if (l == 0) {
				*c->why = "invalid UTF-8 in a string";
				return -1;
			}
			i += l;
			run += l;
			continue;
		}
		/* Flush the plain run before the escape. */
		if (br_buf_append(c->out, p + i - run, run) != 0 ||
		    br_buf_append(c->out, e, elen) != 0)
			goto nomem;
		run = 0;
		i++;
	}
	if (br_buf_append(c->out, p + i - run, run) != 0 ||
	    BR_PUT(c, "\"") != 0)
		goto nomem;
	return 0;
nomem:
	*c->why = "out of memory";
	return -1;
}

/*
 * Format a finite double as ECMAScript's Number::toString does (which is
 * what JSON.stringify writes), into buf (at least 32 bytes).
 *
 * Why: a JS client must read back the very number the worker sent, and
 * should see it written the way Node would write it.  The digits are the
 * shortest that round-trip: "%.*e" at increasing precision until strtod
 * gives the same double (glibc rounds exactly, so the first hit is the
 * closest shortest string).  Then ECMA-262's layout rules place the point
 * from k digits and decimal exponent n: integers up to 21 digits are
 * written out, 1e21 and beyond and below 1e-6 use "e+" / "e-".
 */
static void
br_fmt_double(double d, char *buf)
{
	char tmp[40], digits[20];
	int prec, k = 0, n, i;
	char *p, *q;
	size_t o = 0;

	if (d == 0) {		/* 0 and -0 both print as 0 */
		strcpy(buf, "0");
		return;
	}
	if (d < 0) {
		buf[o++] = '-';
		d = -d;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	/* tmp is "D[.DDD]e[+-]XX": collect the digits and the exponent. */
	for (p = tmp; *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[k++] = *p;
	n = (int)strtol(p + 1, &q, 10) + 1;
	while (k > 1 && digits[k - 1] == '0')
		k--;
	if (k <= n && n <= 21) {
		for (i = 0; i < k; i++)
			buf[o++] = digits[i];
		for (; i < n; i++)
			buf[o++] = '0';
	} else if (0 < n && n <= 21) {
		for (i = 0; i < k; i++) {
			if (i == n)
				buf[o++] = '.';
			buf[o++] = digits[i];
		}
	} else if (-6 < n && n <= 0) {
		buf[o++] = '0';
		buf[o++] = '.';
		for (i = n; i < 0; i++)
			buf[o++] = '0';
		for (i = 0; i < k; i++)
			buf[o++] = digits[i];
	} else {
		buf[o++] = digits[0];
		if (k > 1) {
			buf[o++] = '.';
			for (i = 1; i < k; i++)
				buf[o++] = digits[i];
		}
		buf[o++] = 'e';
		buf[o++] = n - 1 < 0 ? '-' : '+';
		o += (size_t)sprintf(buf + o, "%d", abs(n - 1));
	}
	buf[o] = '\0';
}

/* Write one object at nesting level depth (0 for the root). */
static int
br_write_value(struct br_write *c, const msgpack_object *o, unsigned depth)
{
	char num[64];
	uint32_t i;
	int r;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
	case MSGPACK_OBJECT_EXT:
		r = BR_PUT(c, "null");
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		r = o->via.boolean ? BR_PUT(c, "true") : BR_PUT(c, "false");
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)o->via.u64);
		r = br_buf_append(c->out, num, strlen(num));
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(num, sizeof(num), "%lld", (long long)o->via.i64);
		r = br_buf_append(c->out, num, strlen(num));
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64)) {
			r = BR_PUT(c, "null");
			break;
		}
		br_fmt_double(o->via.f64, num);
		r = br_buf_append(c->out, num, strlen(num));
		break;
	case MSGPACK_OBJECT_STR:
		return br_write_str(c, o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		if (*c->natts >= c->maxatts) {
			*c->why = "too many attachments";
			return -1;
		}
		c->atts[*c->natts].p = o->via.bin.ptr;
		c->atts[*c->natts].n = o->via.bin.size;
		snprintf(num, sizeof(num), "{\"_placeholder\":true,\"num\":%zu}",
		    *c->natts);
		(*c->natts)++;
		r = br_buf_append(c->out, num, strlen(num));
		break;
	case MSGPACK_OBJECT_ARRAY:
		if (depth >= c->maxdepth)
			goto deep;
		if (BR_PUT(c, "[") != 0)
			goto nomem;
		for (i = 0; i < o->via.array.size; i++) {
			if (i > 0 && BR_PUT(c, ",") != 0)
				goto nomem;
			if (br_write_value(c, &o->via.array.ptr[i],
			    depth + 1) != 0)
				return -1;
		}
		r = BR_PUT(c, "]");
		break;
	case MSGPACK_OBJECT_MAP:
		if (depth >= c->maxdepth)
			goto deep;
		if (BR_PUT(c, "{") != 0)
			goto nomem;
		for (i = 0; i < o->via.map.size; i++) {
			const msgpack_object *k = &o->via.map.ptr[i].key;

			if (i > 0 && BR_PUT(c, ",") != 0)
				goto nomem;
			switch (k->type) {
			case MSGPACK_OBJECT_STR:
				if (br_write_str(c, k->via.str.ptr,
				    k->via.str.size) != 0)
					return -1;
				break;
			case MSGPACK_OBJECT_POSITIVE_INTEGER:
				snprintf(num, sizeof(num), "\"%llu\"",
				    (unsigned long long)k->via.u64);
				if (br_buf_append(c->out, num,
				    strlen(num)) != 0)
					goto nomem;
				break;
			case MSGPACK_OBJECT_NEGATIVE_INTEGER:
				snprintf(num, sizeof(num), "\"%lld\"",
				    (long long)k->via.i64);
				if (br_buf_append(c->out, num,
				    strlen(num)) != 0)
					goto nomem;
				break;
			default:
				*c->why = "map key is not a string";
				return -1;
			}
			if (BR_PUT(c, ":") != 0)
				goto nomem;
			if (br_write_value(c, &o->via.map.ptr[i].val,
			    depth + 1) != 0)
				return -1;
		}
		r = BR_PUT(c, "}");
		break;
	default:
		*c->why = "unknown msgpack type";
		return -1;
	}
	if (r != 0)
		goto nomem;
	return 0;
deep:
	*c->why = "too deep";
	return -1;
nomem:
	*c->why = "out of memory";
	return -1;
}

/* Write a msgpack object as JSON (see br_json.h). */
int
br_json_write(struct br_buf *out, const msgpack_object *o,
    struct br_str *atts, size_t *natts, size_t maxatts, unsigned maxdepth,
    const char **why)
{
	struct br_write c;
	size_t len0 = out->len, n0 = *natts;

	c.out = out;
	c.atts = atts;
	c.natts = natts;
	c.maxatts = maxatts;
	c.maxdepth = maxdepth;
	c.why = why;
	if (br_write_value(&c, o, 0) != 0) {
		out->len = len0;
		*natts = n0;
		return -1;
	}
	return 0;
}

/* ---- the fast way (br_json_fast_scan, br_json_fast_pack) ---- */

#define BR_FAST_MAXKEYS 32	/* keys of one object (duplicates checked) */

static void
br_fast_ws(struct br_fast *f)
{
	while (f->p < f->end && (*f->p == ' ' || *f->p == '\t' ||
	    *f->p == '\n' || *f->p == '\r'))
		f->p++;
}

/* A string of printable ASCII without escapes at f->p (a quote); -1. */
static int
br_fast_str(struct br_fast *f, const char **s, size_t *n)
{
	const char *q = f->p + 1;

	while (q < f->end && *q != '"') {
		unsigned char c = (unsigned char)*q;

		if (c < 0x20 || c > 0x7e || c == '\\')
			return -1;
		q++;
	}
	if (q >= f->end)
		return -1;
	*s = f->p + 1;
	*n = (size_t)(q - *s);
	f->p = q + 1;
	return 0;
}

/* An integer jansson reads as one and that fits easily; -1 otherwise. */
static int
br_fast_int(struct br_fast *f, int64_t *v)
{
	const char *q = f->p;
	uint64_t u = 0;
	int neg = 0, digits = 0;

	if (*q == '-') {
		neg = 1;
		q++;
	}
	if (q >= f->end || *q < '0' || *q > '9')
		return -1;
	if (*q == '0') {
		q++;
		if (q < f->end && *q >= '0' && *q <= '9')
			return -1;
	} else {
		while (q < f->end && *q >= '0' && *q <= '9') {
			if (++digits > 18)
				return -1;
			u = u * 10 + (uint64_t)(*q++ - '0');
		}
	}
	if (q < f->end && (*q == '.' || *q == 'e' || *q == 'E'))
		return -1;	/* a real: jansson's way */
	*v = neg ? -(int64_t)u : (int64_t)u;
	f->p = q;
	return 0;
}

/* A literal word at f->p; -1 when it is not there. */
static int
br_fast_word(struct br_fast *f, const char *w, size_t n)
{
	if ((size_t)(f->end - f->p) < n || memcmp(f->p, w, n) != 0)
		return -1;
	f->p += n;
	return 0;
}

/*
 * One value at f->p: checked and counted (emit 0) or packed (emit 1).
 * 0; -1 when the text does not qualify (scan) or packing failed (pack).
 */
static int
br_fast_value(struct br_fast *f, unsigned depth, int emit)
{
	struct br_str keys[BR_FAST_MAXKEYS];
	const char *s;
	size_t n, idx, i;
	uint32_t k = 0;
	int64_t iv;
	int obj, r = 0;

	if (f->p >= f->end)
		return -1;
	switch (*f->p) {
	case '"':
		if (br_fast_str(f, &s, &n) != 0)
			return -1;
		if (emit)
			r = msgpack_pack_str(f->pk, n) ||
			    msgpack_pack_str_body(f->pk, s, n);
		return r ? -1 : 0;
	case 't':
		if (br_fast_word(f, "true", 4) != 0)
			return -1;
		return emit && msgpack_pack_true(f->pk) ? -1 : 0;
	case 'f':
		if (br_fast_word(f, "false", 5) != 0)
			return -1;
		return emit && msgpack_pack_false(f->pk) ? -1 : 0;
	case 'n':
		if (br_fast_word(f, "null", 4) != 0)
			return -1;
		return emit && msgpack_pack_nil(f->pk) ? -1 : 0;
	case '[':
	case '{':
		break;
	default:
		if (br_fast_int(f, &iv) != 0)
			return -1;
		return emit && msgpack_pack_int64(f->pk, iv) ? -1 : 0;
	}
	obj = *f->p == '{';
	if (depth >= f->maxdepth || (!emit && f->nc >= BR_FAST_MAXC))
		return -1;
	idx = f->nc++;
	if (emit && (obj ? msgpack_pack_map(f->pk, f->cnt[idx]) :
	    msgpack_pack_array(f->pk, f->cnt[idx])) != 0)
		return -1;
	f->p++;
	br_fast_ws(f);
	if (f->p < f->end && *f->p == (obj ? '}' : ']')) {
		f->p++;
		goto done;
	}
	for (;;) {
		if (obj) {
			if (f->p >= f->end || *f->p != '"' ||
			    br_fast_str(f, &s, &n) != 0)
				return -1;
			if (!emit) {
				/* Duplicate keys: jansson's rules, its way. */
				if (k >= BR_FAST_MAXKEYS)
					return -1;
				for (i = 0; i < k; i++)
					if (keys[i].n == n &&
					    memcmp(keys[i].p, s, n) == 0)
						return -1;
				keys[k].p = s;
				keys[k].n = (uint32_t)n;
			} else if (msgpack_pack_str(f->pk, n) ||
			    msgpack_pack_str_body(f->pk, s, n)) {
				return -1;
			}
			br_fast_ws(f);
			if (f->p >= f->end || *f->p != ':')
				return -1;
			f->p++;
			br_fast_ws(f);
		}
		if (br_fast_value(f, depth + 1, emit) != 0)
			return -1;
		k++;
		br_fast_ws(f);
		if (f->p < f->end && *f->p == ',') {
			f->p++;
			br_fast_ws(f);
			continue;
		}
		if (f->p < f->end && *f->p == (obj ? '}' : ']')) {
			f->p++;
			break;
		}
		return -1;
	}
done:
	if (!emit)
		f->cnt[idx] = k;
	return 0;
}

/* Check the text and count its containers (see br_json.h). */
int
br_json_fast_scan(struct br_fast *f, const char *p, size_t n,
    unsigned maxdepth, struct br_str *name)
{
	const char *s;
	size_t sn;
	int comma = 0;

	f->p = f->start = p;
	f->end = p + n;
	f->nc = 1;		/* cnt[0]: the items of the array (packed) */
	f->cnt[0] = 0;
	f->maxdepth = maxdepth;
	f->named = name != NULL;
	br_fast_ws(f);
	if (f->p >= f->end || *f->p != '[')
		return 0;
	f->p++;
	br_fast_ws(f);
	if (name != NULL) {
		if (f->p >= f->end || *f->p != '"' ||
		    br_fast_str(f, &s, &sn) != 0 || sn > 255)
			return 0;
		name->p = s;
		name->n = (uint32_t)sn;
		br_fast_ws(f);
		if (f->p < f->end && *f->p == ',') {
			f->p++;
			br_fast_ws(f);
			comma = 1;	/* a value must follow */
		} else if (f->p >= f->end || *f->p != ']') {
			return 0;
		}
	}
	if (!comma && f->p < f->end && *f->p == ']') {
		f->p++;
		goto end;
	}
	for (;;) {
		if (br_fast_value(f, 0, 0) != 0)
			return 0;
		f->cnt[0]++;
		br_fast_ws(f);
		if (f->p < f->end && *f->p == ',') {
			f->p++;
			br_fast_ws(f);
			continue;
		}
		if (f->p < f->end && *f->p == ']') {
			f->p++;
			break;
		}
		return 0;
	}
end:
	br_fast_ws(f);
	return f->p == f->end ? 1 : 0;
}

/* Pack the items the scan counted (see br_json.h). */
int
br_json_fast_pack(struct br_fast *f, msgpack_packer *pk)
{
	const char *s;
	size_t sn;
	uint32_t i;

	f->pk = pk;
	f->p = f->start;
	f->nc = 1;
	br_fast_ws(f);
	f->p++;			/* [ */
	br_fast_ws(f);
	if (f->named) {
		br_fast_str(f, &s, &sn);
		br_fast_ws(f);
		if (*f->p == ',')
			f->p++;
		br_fast_ws(f);
	}
	if (msgpack_pack_array(pk, f->cnt[0]) != 0)
		return -1;
	for (i = 0; i < f->cnt[0]; i++) {
		if (br_fast_value(f, 0, 1) != 0)
			return -1;
		br_fast_ws(f);
		if (f->p < f->end && *f->p == ',')
			f->p++;
		br_fast_ws(f);
	}
	return 0;
}
