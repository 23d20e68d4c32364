/*
 * br_pickle.c: a pickle of plain data -> msgpack (see br_pickle.h).
 *
 * Two passes.  The first runs the pickle machine: a stack of node ids, a
 * stack of marks (Python 3's "metastack": after MARK only the items above
 * it are reachable), and the memo.  Values become nodes in one array;
 * containers hold their items as a chain of entries, so a list that was
 * memoized and then filled (pickle writes EMPTY_LIST, MEMOIZE, then
 * APPENDS) is the same node wherever the memo brought it.  The second
 * pass packs the root node, recursing once per container level.
 *
 * Why the bounds hold: every opcode creates at most one node and pushes
 * at most one stack item, and every entry is an item moved off the stack,
 * so nodes, entries, stack and marks are each at most len; memo indices
 * are refused from len up.  The second pass could unfold shared nodes
 * exponentially (a = [a0, a0] nested thirty times), so it spends a budget
 * proportional to len; a cycle stops at maxdepth.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "br_json.h"
#include "br_pickle.h"

/* The opcodes (Lib/pickle.py names). */
enum {
	PK_MARK = '(', PK_STOP = '.', PK_POP = '0', PK_POP_MARK = '1',
	PK_DUP = '2', PK_FLOAT = 'F', PK_INT = 'I', PK_BININT = 'J',
	PK_BININT1 = 'K', PK_LONG = 'L', PK_BININT2 = 'M', PK_NONE = 'N',
	PK_PERSID = 'P', PK_BINPERSID = 'Q', PK_REDUCE = 'R', PK_STRING = 'S',
	PK_BINSTRING = 'T', PK_SHORT_BINSTRING = 'U', PK_UNICODE = 'V',
	PK_BINUNICODE = 'X', PK_APPEND = 'a', PK_BUILD = 'b', PK_GLOBAL = 'c',
	PK_DICT = 'd', PK_EMPTY_DICT = '}', PK_APPENDS = 'e', PK_GET = 'g',
	PK_BINGET = 'h', PK_INST = 'i', PK_LONG_BINGET = 'j', PK_LIST = 'l',
	PK_EMPTY_LIST = ']', PK_OBJ = 'o', PK_PUT = 'p', PK_BINPUT = 'q',
	PK_LONG_BINPUT = 'r', PK_SETITEM = 's', PK_TUPLE = 't',
	PK_EMPTY_TUPLE = ')', PK_SETITEMS = 'u', PK_BINFLOAT = 'G',
	/* protocol 2 */
	PK_PROTO = 0x80, PK_NEWOBJ = 0x81, PK_EXT1 = 0x82, PK_EXT2 = 0x83,
	PK_EXT4 = 0x84, PK_TUPLE1 = 0x85, PK_TUPLE2 = 0x86, PK_TUPLE3 = 0x87,
	PK_NEWTRUE = 0x88, PK_NEWFALSE = 0x89, PK_LONG1 = 0x8a, PK_LONG4 = 0x8b,
	/* protocol 3 */
	PK_BINBYTES = 'B', PK_SHORT_BINBYTES = 'C',
	/* protocol 4 */
	PK_SHORT_BINUNICODE = 0x8c, PK_BINUNICODE8 = 0x8d, PK_BINBYTES8 = 0x8e,
	PK_EMPTY_SET = 0x8f, PK_ADDITEMS = 0x90, PK_FROZENSET = 0x91,
	PK_NEWOBJ_EX = 0x92, PK_STACK_GLOBAL = 0x93, PK_MEMOIZE = 0x94,
	PK_FRAME = 0x95,
	/* protocol 5 */
	PK_BYTEARRAY8 = 0x96, PK_NEXT_BUFFER = 0x97, PK_READONLY_BUFFER = 0x98
};

enum pk_type {
	PT_NIL, PT_TRUE, PT_FALSE, PT_INT, PT_UINT, PT_FLOAT, PT_STR, PT_BIN,
	PT_LIST, PT_TUPLE, PT_DICT
};

#define PK_NONE_ID UINT32_MAX	/* no entry, no memo value */

/*
 * One value.  Scalars keep their value; str and bin point into the input
 * (off, n); containers chain their entries from head to tail, n of them
 * (a dict: n key/value pairs, 2n entries, key first).
 */
struct pk_node {
	uint8_t type;
	uint32_t n;
	union {
		int64_t i;
		uint64_t u;
		double d;
		size_t off;
		struct {
			uint32_t head, tail;
		} c;
	} v;
};

/* One item of a container: a node id and the next entry. */
struct pk_ent {
	uint32_t node, next;
};

/* The decoder's state; every array is owned here and freed by pk_free(). */
struct pk {
	const unsigned char *p;
	size_t len, pos, frame_end;
	struct pk_node *nodes;
	size_t nnodes, capnodes;
	struct pk_ent *ents;
	size_t nents, capents;
	uint32_t *stack;		/* node ids */
	size_t sp, capstack;
	uint32_t *marks;		/* stack heights at MARK */
	size_t nmarks, capmarks;
	uint32_t *memo;			/* node ids, PK_NONE_ID when unset */
	size_t capmemo, nmemo;		/* nmemo: keys set, for MEMOIZE */
	msgpack_packer *pk;
	unsigned maxdepth;
	int flags;			/* BR_PICKLE_* */
	size_t budget;
	const char *why;
};

/* Grow *arr (elements of size sz) to hold need of them: 0, or -1 on OOM. */
static int
pk_grow(void *arr, size_t *cap, size_t need, size_t sz)
{
	void **a = arr;
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	if (ncap > SIZE_MAX / sz)
		return -1;
	np = realloc(*a, ncap * sz);
	if (np == NULL)
		return -1;
	*a = np;
	*cap = ncap;
	return 0;
}

/* Free what the decoder allocated. */
static void
pk_free(struct pk *c)
{
	free(c->nodes);
	free(c->ents);
	free(c->stack);
	free(c->marks);
	free(c->memo);
}

/* ---- input ---- */

/*
 * The next n bytes, or NULL with why set when the input ends first, or the
 * current frame does (an opcode must not straddle a frame's end).
 */
static const unsigned char *
pk_take(struct pk *c, uint64_t n)
{
	const unsigned char *s;

	if (n > c->len - c->pos) {
		c->why = "truncated pickle";
		return NULL;
	}
	if (c->pos < c->frame_end && n > c->frame_end - c->pos) {
		c->why = "pickle opcode runs past the end of its FRAME";
		return NULL;
	}
	s = c->p + c->pos;
	c->pos += n;
	return s;
}

/* The text up to the next newline (a protocol 0 argument), or NULL. */
static const char *
pk_line(struct pk *c, size_t *n)
{
	size_t end = c->pos < c->frame_end ? c->frame_end : c->len;
	const unsigned char *s = c->p + c->pos, *nl;

	nl = memchr(s, '\n', end - c->pos);
	if (nl == NULL) {
		c->why = c->pos < c->frame_end ?
		    "pickle opcode runs past the end of its FRAME" :
		    "truncated pickle";
		return NULL;
	}
	*n = (size_t)(nl - s);
	c->pos += *n + 1;
	return (const char *)s;
}

/* A little-endian unsigned integer of n bytes (n <= 8). */
static uint64_t
pk_le(const unsigned char *s, size_t n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | s[n];
	return v;
}

/* ---- nodes and the stack ---- */

/* A new node of type t; its id, or PK_NONE_ID on OOM. */
static uint32_t
pk_node(struct pk *c, enum pk_type t)
{
	struct pk_node *n;

	if (pk_grow(&c->nodes, &c->capnodes, c->nnodes + 1,
	    sizeof(*c->nodes)) != 0) {
		c->why = "out of memory";
		return PK_NONE_ID;
	}
	n = &c->nodes[c->nnodes];
	memset(n, 0, sizeof(*n));
	n->type = t;
	if (t >= PT_LIST)
		n->v.c.head = n->v.c.tail = PK_NONE_ID;
	return (uint32_t)c->nnodes++;
}

/* Push node id: 0, or -1 (OOM, or id is PK_NONE_ID from a failed pk_node). */
static int
pk_push(struct pk *c, uint32_t id)
{
	if (id == PK_NONE_ID)
		return -1;
	if (pk_grow(&c->stack, &c->capstack, c->sp + 1, sizeof(*c->stack)) != 0) {
		c->why = "out of memory";
		return -1;
	}
	c->stack[c->sp++] = id;
	return 0;
}

/* The stack height at the innermost mark (0 without one). */
static size_t
pk_base(const struct pk *c)
{
	return c->nmarks ? c->marks[c->nmarks - 1] : 0;
}

/* Whether k items are above the innermost mark; why set when not. */
static int
pk_have(struct pk *c, size_t k)
{
	if (c->sp - pk_base(c) >= k)
		return 1;
	c->why = "pickle stack underflow";
	return 0;
}

/* Pop the innermost mark: *first is where its items start.  0 or -1. */
static int
pk_pop_mark(struct pk *c, size_t *first)
{
	if (c->nmarks == 0) {
		c->why = "pickle mark underflow";
		return -1;
	}
	*first = c->marks[--c->nmarks];
	return 0;
}

/* Append node id to container cid's chain.  0, or -1 on OOM. */
static int
pk_add(struct pk *c, uint32_t cid, uint32_t id)
{
	struct pk_node *n;
	uint32_t e;

	if (pk_grow(&c->ents, &c->capents, c->nents + 1, sizeof(*c->ents)) != 0) {
		c->why = "out of memory";
		return -1;
	}
	e = (uint32_t)c->nents++;
	c->ents[e].node = id;
	c->ents[e].next = PK_NONE_ID;
	n = &c->nodes[cid];
	if (n->v.c.tail == PK_NONE_ID)
		n->v.c.head = e;
	else
		c->ents[n->v.c.tail].next = e;
	n->v.c.tail = e;
	return 0;
}

/*
 * Move the stack items from first up into container cid (a dict takes
 * them as key, value pairs) and drop them from the stack.  0 or -1.
 */
static int
pk_fill(struct pk *c, uint32_t cid, size_t first)
{
	struct pk_node *n;
	size_t i, k = c->sp - first;

	if (c->nodes[cid].type == PT_DICT) {
		if (k % 2 != 0) {
			c->why = "odd number of items for a pickle dict";
			return -1;
		}
		for (i = first; i < c->sp; i += 2) {
			n = &c->nodes[c->stack[i]];
			if (n->type != PT_STR && n->type != PT_INT &&
			    n->type != PT_UINT) {
				c->why = "pickle dict key is not a str or an int";
				return -1;
			}
		}
	}
	for (i = first; i < c->sp; i++)
		if (pk_add(c, cid, c->stack[i]) != 0)
			return -1;
	c->nodes[cid].n += (uint32_t)(c->nodes[cid].type == PT_DICT ? k / 2 : k);
	c->sp = first;
	return 0;
}

/* A new container of type t made of the stack items from first up, pushed. */
static int
pk_collect(struct pk *c, enum pk_type t, size_t first)
{
	uint32_t id = pk_node(c, t);

	if (id == PK_NONE_ID || pk_fill(c, id, first) != 0)
		return -1;
	return pk_push(c, id);
}

/* Fill the container at stack index at (type t) from first up.  0 or -1. */
static int
pk_extend(struct pk *c, size_t at, enum pk_type t, size_t first)
{
	if (c->nodes[c->stack[at]].type != t) {
		c->why = t == PT_LIST ? "pickle APPEND to something not a list" :
		    "pickle SETITEM on something not a dict";
		return -1;
	}
	return pk_fill(c, c->stack[at], first);
}

/* Push an int from sign and magnitude, if it fits 64 bits.  0 or -1. */
static int
pk_int(struct pk *c, int neg, uint64_t mag)
{
	uint32_t id;

	if (neg && mag > (uint64_t)INT64_MAX + 1) {
		c->why = "pickle int does not fit in 64 bits";
		return -1;
	}
	id = pk_node(c, !neg && mag > INT64_MAX ? PT_UINT : PT_INT);
	if (id == PK_NONE_ID)
		return -1;
	if (c->nodes[id].type == PT_UINT)
		c->nodes[id].v.u = mag;
	else if (neg)
		c->nodes[id].v.i = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN :
		    -(int64_t)mag;
	else
		c->nodes[id].v.i = (int64_t)mag;
	return pk_push(c, id);
}

/* Push a little-endian two's-complement int of n bytes (LONG1, LONG4). */
static int
pk_long(struct pk *c, const unsigned char *s, uint64_t n)
{
	int neg = n > 0 && (s[n - 1] & 0x80);
	unsigned char ext = neg ? 0xff : 0x00;
	uint64_t i, v;

	/* Beyond 8 bytes only sign extension may follow. */
	for (i = 8; i < n; i++)
		if (s[i] != ext)
			goto big;
	v = pk_le(s, n < 8 ? (size_t)n : 8);
	if (neg) {
		if (n < 8)
			v |= ~(uint64_t)0 << (8 * n);	/* sign-extend */
		else if (!(v >> 63))
			goto big;	/* below -2^63 */
		return pk_int(c, 1, ~v + 1);
	}
	return pk_int(c, 0, v);
big:
	c->why = "pickle int does not fit in 64 bits";
	return -1;
}

/*
 * Push the decimal text of INT or LONG (Python writes "-12"; LONG adds a
 * trailing L).  Signs, digits and nothing else; no leading zeros (as
 * Python's int(s, 0) says).  0 or -1.
 */
static int
pk_text_int(struct pk *c, const char *s, size_t n)
{
	uint64_t v = 0;
	int neg = 0;
	size_t i = 0;

	if (n > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i++;
	}
	if (i == n || (s[i] == '0' && n - i > 1))
		goto bad;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10) {
			c->why = "pickle int does not fit in 64 bits";
			return -1;
		}
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return pk_int(c, neg, v);
bad:
	c->why = "bad pickle INT or LONG text";
	return -1;
}

/* The decimal text of GET or PUT as a memo index below len.  0 or -1. */
static int
pk_text_index(struct pk *c, const char *s, size_t n, uint64_t *idx)
{
	size_t i;

	*idx = 0;
	if (n == 0)
		goto bad;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		if (*idx >= c->len)
			break;	/* already out of range: pk_memo_set/get say so */
		*idx = *idx * 10 + (uint64_t)(s[i] - '0');
	}
	return 0;
bad:
	c->why = "bad pickle memo index text";
	return -1;
}

/* Push the float of FLOAT's text (repr(float): digits, sign, ., e, inf, nan). */
static int
pk_text_float(struct pk *c, const char *s, size_t n)
{
	char buf[64], *end;
	uint32_t id;
	double d;
	size_t i;

	if (n == 0 || n >= sizeof(buf))
		goto bad;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strcmp(buf, "inf") == 0 || strcmp(buf, "+inf") == 0)
		d = INFINITY;
	else if (strcmp(buf, "-inf") == 0)
		d = -INFINITY;
	else if (strcmp(buf, "nan") == 0)
		d = NAN;
	else {
		for (i = 0; i < n; i++)
			if (strchr("0123456789+-.eE", buf[i]) == NULL)
				goto bad;
		d = strtod(buf, &end);
		if (end != buf + n)
			goto bad;
	}
	id = pk_node(c, PT_FLOAT);
	if (id == PK_NONE_ID)
		return -1;
	c->nodes[id].v.d = d;
	return pk_push(c, id);
bad:
	c->why = "bad pickle FLOAT text";
	return -1;
}

/*
 * Push a str or bin of the n bytes at s (a str must be UTF-8; ascii: the
 * protocol 0/1 byte strings of Python 2, which Python 3 reads as ASCII).
 */
static int
pk_bytes(struct pk *c, enum pk_type t, const unsigned char *s, uint64_t n,
    int ascii)
{
	uint32_t id;
	size_t i, l;

	if (t == PT_STR)
		for (i = 0; i < n; i += l) {
			l = ascii ? (s[i] < 0x80) : br_utf8_len(s + i, n - i);
			if (l == 0) {
				c->why = ascii ? "pickle byte string is not ASCII" :
				    "pickle str is not valid UTF-8";
				return -1;
			}
		}
	id = pk_node(c, t);
	if (id == PK_NONE_ID)
		return -1;
	c->nodes[id].n = (uint32_t)n;	/* n < len < 2^31 */
	c->nodes[id].v.off = (size_t)(s - c->p);
	return pk_push(c, id);
}

/* Store the stack top at memo index idx.  0 or -1. */
static int
pk_memo_set(struct pk *c, uint64_t idx)
{
	size_t old = c->capmemo;

	if (!pk_have(c, 1))
		return -1;
	if (idx >= c->len) {
		c->why = "pickle memo index out of range";
		return -1;
	}
	if (pk_grow(&c->memo, &c->capmemo, (size_t)idx + 1,
	    sizeof(*c->memo)) != 0) {
		c->why = "out of memory";
		return -1;
	}
	if (c->capmemo > old)
		memset(c->memo + old, 0xff, (c->capmemo - old) * sizeof(*c->memo));
	if (c->memo[idx] == PK_NONE_ID)
		c->nmemo++;
	c->memo[idx] = c->stack[c->sp - 1];
	return 0;
}

/* Push the memo value at idx.  0 or -1. */
static int
pk_memo_get(struct pk *c, uint64_t idx)
{
	if (idx >= c->capmemo || c->memo[idx] == PK_NONE_ID) {
		c->why = "pickle memo index not set";
		return -1;
	}
	return pk_push(c, c->memo[idx]);
}

/* The message for an opcode that refers to code, or NULL. */
static const char *
pk_code_why(int op)
{
	switch (op) {
	case PK_GLOBAL: return "pickle refers to code (GLOBAL): refused";
	case PK_STACK_GLOBAL: return "pickle refers to code (STACK_GLOBAL): refused";
	case PK_REDUCE: return "pickle calls code (REDUCE): refused";
	case PK_BUILD: return "pickle builds an object (BUILD): refused";
	case PK_INST: return "pickle builds an object (INST): refused";
	case PK_OBJ: return "pickle builds an object (OBJ): refused";
	case PK_NEWOBJ: return "pickle builds an object (NEWOBJ): refused";
	case PK_NEWOBJ_EX: return "pickle builds an object (NEWOBJ_EX): refused";
	case PK_EXT1: case PK_EXT2: case PK_EXT4:
		return "pickle refers to code (EXT extension registry): refused";
	case PK_PERSID: case PK_BINPERSID:
		return "pickle refers to a persistent object (PERSID): refused";
	case PK_NEXT_BUFFER: case PK_READONLY_BUFFER:
		return "pickle uses out-of-band buffers: refused";
	case PK_EMPTY_SET: case PK_ADDITEMS: case PK_FROZENSET:
		return "pickle holds a set (not plain data): refused";
	case PK_STRING: case PK_UNICODE:
		return "pickle protocol 0 text strings are not supported";
	}
	return NULL;
}

/* Run one opcode; 1 at STOP, 0 to go on, -1 on error (why set). */
static int
pk_step(struct pk *c)
{
	const unsigned char *a;
	const char *s;
	size_t n, first;
	uint64_t len, idx;
	uint32_t id;
	int op;

	if ((a = pk_take(c, 1)) == NULL)
		return -1;
	op = a[0];
	switch (op) {
	case PK_PROTO:
		if ((a = pk_take(c, 1)) == NULL)
			return -1;
		if (a[0] > 5) {
			c->why = "unsupported pickle protocol (above 5)";
			return -1;
		}
		return 0;
	case PK_FRAME:
		if ((a = pk_take(c, 8)) == NULL)
			return -1;
		if (c->pos < c->frame_end) {
			c->why = "pickle FRAME starts inside the previous frame";
			return -1;
		}
		len = pk_le(a, 8);
		if (len > c->len - c->pos) {
			c->why = "truncated pickle (FRAME longer than the input)";
			return -1;
		}
		c->frame_end = c->pos + (size_t)len;
		return 0;
	case PK_STOP:
		if (c->nmarks != 0 || c->sp != 1) {
			c->why = "pickle STOP with the stack or marks unbalanced";
			return -1;
		}
		if (c->pos != c->len) {
			c->why = "bytes after the pickle's STOP";
			return -1;
		}
		return 1;
	case PK_MARK:
		if (pk_grow(&c->marks, &c->capmarks, c->nmarks + 1,
		    sizeof(*c->marks)) != 0) {
			c->why = "out of memory";
			return -1;
		}
		c->marks[c->nmarks++] = (uint32_t)c->sp;
		return 0;
	case PK_POP:
		/* As Python: with nothing above the mark, POP drops the mark. */
		if (c->sp > pk_base(c))
			c->sp--;
		else if (pk_pop_mark(c, &first) != 0)
			return -1;
		return 0;
	case PK_POP_MARK:
		if (pk_pop_mark(c, &first) != 0)
			return -1;
		c->sp = first;
		return 0;
	case PK_DUP:
		if (!pk_have(c, 1))
			return -1;
		return pk_push(c, c->stack[c->sp - 1]);
	case PK_NONE:
		return pk_push(c, pk_node(c, PT_NIL));
	case PK_NEWTRUE:
		return pk_push(c, pk_node(c, PT_TRUE));
	case PK_NEWFALSE:
		return pk_push(c, pk_node(c, PT_FALSE));
	case PK_INT:
		if ((s = pk_line(c, &n)) == NULL)
			return -1;
		if (n == 2 && memcmp(s, "01", 2) == 0)
			return pk_push(c, pk_node(c, PT_TRUE));
		if (n == 2 && memcmp(s, "00", 2) == 0)
			return pk_push(c, pk_node(c, PT_FALSE));
		return pk_text_int(c, s, n);
	case PK_LONG:
		if ((s = pk_line(c, &n)) == NULL)
			return -1;
		if (n > 0 && s[n - 1] == 'L')
			n--;
		return pk_text_int(c, s, n);
	case PK_BININT:
		if ((a = pk_take(c, 4)) == NULL)
			return -1;
		return pk_long(c, a, 4);
	case PK_BININT1:
	case PK_BININT2:
		n = op == PK_BININT1 ? 1 : 2;
		if ((a = pk_take(c, n)) == NULL)
			return -1;
		return pk_int(c, 0, pk_le(a, n));
	case PK_LONG1:
	case PK_LONG4:
		n = op == PK_LONG1 ? 1 : 4;
		if ((a = pk_take(c, n)) == NULL)
			return -1;
		len = pk_le(a, n);
		if (op == PK_LONG4 && (len >> 31)) {
			c->why = "pickle LONG4 with a negative length";
			return -1;
		}
		if ((a = pk_take(c, len)) == NULL)
			return -1;
		return pk_long(c, a, len);
	case PK_FLOAT:
		if ((s = pk_line(c, &n)) == NULL)
			return -1;
		return pk_text_float(c, s, n);
	case PK_BINFLOAT: {
		uint64_t bits = 0;
		int i;

		if ((a = pk_take(c, 8)) == NULL)
			return -1;
		for (i = 0; i < 8; i++)
			bits = bits << 8 | a[i];	/* big-endian */
		if ((id = pk_node(c, PT_FLOAT)) == PK_NONE_ID)
			return -1;
		memcpy(&c->nodes[id].v.d, &bits, sizeof(bits));
		return pk_push(c, id);
	}
	case PK_SHORT_BINUNICODE: case PK_BINUNICODE: case PK_BINUNICODE8:
	case PK_SHORT_BINBYTES: case PK_BINBYTES: case PK_BINBYTES8:
	case PK_BYTEARRAY8: case PK_SHORT_BINSTRING: case PK_BINSTRING:
		switch (op) {
		case PK_SHORT_BINUNICODE: case PK_SHORT_BINBYTES:
		case PK_SHORT_BINSTRING:
			n = 1;
			break;
		case PK_BINUNICODE: case PK_BINBYTES: case PK_BINSTRING:
			n = 4;
			break;
		default:
			n = 8;
		}
		if ((a = pk_take(c, n)) == NULL)
			return -1;
		len = pk_le(a, n);
		if (op == PK_BINSTRING && (len >> 31)) {
			c->why = "pickle BINSTRING with a negative length";
			return -1;
		}
		if ((a = pk_take(c, len)) == NULL)
			return -1;
		if (op == PK_SHORT_BINUNICODE || op == PK_BINUNICODE ||
		    op == PK_BINUNICODE8)
			return pk_bytes(c, PT_STR, a, len, 0);
		if (op == PK_SHORT_BINSTRING || op == PK_BINSTRING)
			return pk_bytes(c, PT_STR, a, len, 1);
		return pk_bytes(c, PT_BIN, a, len, 0);
	case PK_EMPTY_LIST:
		return pk_push(c, pk_node(c, PT_LIST));
	case PK_EMPTY_DICT:
		return pk_push(c, pk_node(c, PT_DICT));
	case PK_EMPTY_TUPLE:
		return pk_push(c, pk_node(c, PT_TUPLE));
	case PK_LIST:
	case PK_TUPLE:
	case PK_DICT:
		if (pk_pop_mark(c, &first) != 0)
			return -1;
		return pk_collect(c, op == PK_LIST ? PT_LIST :
		    op == PK_TUPLE ? PT_TUPLE : PT_DICT, first);
	case PK_TUPLE1:
	case PK_TUPLE2:
	case PK_TUPLE3:
		n = (size_t)(op - PK_TUPLE1 + 1);
		if (!pk_have(c, n))
			return -1;
		return pk_collect(c, PT_TUPLE, c->sp - n);
	case PK_APPEND:
		if (!pk_have(c, 2))
			return -1;
		return pk_extend(c, c->sp - 2, PT_LIST, c->sp - 1);
	case PK_SETITEM:
		if (!pk_have(c, 3))
			return -1;
		return pk_extend(c, c->sp - 3, PT_DICT, c->sp - 2);
	case PK_APPENDS:
	case PK_SETITEMS:
		if (pk_pop_mark(c, &first) != 0)
			return -1;
		if (first == pk_base(c)) {	/* nothing below the mark */
			c->why = "pickle stack underflow";
			return -1;
		}
		return pk_extend(c, first - 1,
		    op == PK_APPENDS ? PT_LIST : PT_DICT, first);
	case PK_BINPUT:
	case PK_LONG_BINPUT:
	case PK_BINGET:
	case PK_LONG_BINGET:
		n = op == PK_BINPUT || op == PK_BINGET ? 1 : 4;
		if ((a = pk_take(c, n)) == NULL)
			return -1;
		idx = pk_le(a, n);
		return op == PK_BINPUT || op == PK_LONG_BINPUT ?
		    pk_memo_set(c, idx) : pk_memo_get(c, idx);
	case PK_PUT:
	case PK_GET:
		if ((s = pk_line(c, &n)) == NULL ||
		    pk_text_index(c, s, n, &idx) != 0)
			return -1;
		return op == PK_PUT ? pk_memo_set(c, idx) : pk_memo_get(c, idx);
	case PK_MEMOIZE:
		return pk_memo_set(c, c->nmemo);
	}
	c->why = pk_code_why(op);
	if (c->why == NULL)
		c->why = "unknown pickle opcode";
	return -1;
}

/* ---- duplicate dict keys ---- */

/* A dict key to sort: type, value or bytes, and a hash to compare first. */
struct pk_key {
	int type;
	uint64_t v;	/* int bits, or the str's hash */
	const unsigned char *s;
	size_t n;
};

/* Order keys: type, then value or (hash, length, bytes). */
static int
pk_key_cmp(const void *x, const void *y)
{
	const struct pk_key *a = x, *b = y;

	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if (a->v != b->v)
		return a->v < b->v ? -1 : 1;
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	return a->n ? memcmp(a->s, b->s, a->n) : 0;
}

/*
 * Refuse a dict that sets one key twice (pickle.dumps of a dict never
 * does; Python would keep the last value, a msgpack reader might take the
 * first).  Each dict's keys are sorted, so a crafted set of keys costs
 * n log n comparisons, never n^2.  0 or -1.
 */
static int
pk_check_keys(struct pk *c)
{
	struct pk_key *k = NULL;
	size_t cap = 0, i, j, h;
	const struct pk_node *d, *kn;
	uint32_t e;

	for (i = 0; i < c->nnodes; i++) {
		d = &c->nodes[i];
		if (d->type != PT_DICT || d->n < 2)
			continue;
		if (pk_grow(&k, &cap, d->n, sizeof(*k)) != 0) {
			c->why = "out of memory";
			goto fail;
		}
		for (j = 0, e = d->v.c.head; j < d->n; j++) {
			kn = &c->nodes[c->ents[e].node];
			k[j].type = kn->type;
			k[j].n = 0;
			k[j].s = NULL;
			if (kn->type == PT_STR) {
				k[j].s = c->p + kn->v.off;
				k[j].n = kn->n;
				k[j].v = 14695981039346656037ull;	/* FNV-1a */
				for (h = 0; h < k[j].n; h++)
					k[j].v = (k[j].v ^ k[j].s[h]) *
					    1099511628211ull;
			} else
				k[j].v = kn->v.u;	/* int and uint: same bits */
			e = c->ents[c->ents[e].next].next;
		}
		qsort(k, d->n, sizeof(*k), pk_key_cmp);
		for (j = 1; j < d->n; j++)
			if (pk_key_cmp(&k[j - 1], &k[j]) == 0) {
				c->why = "pickle dict sets a key twice";
				goto fail;
			}
	}
	free(k);
	return 0;
fail:
	free(k);
	return -1;
}

/* ---- packing ---- */

/* Pack node id at level depth (0 for the root). */
static int
pk_pack(struct pk *c, uint32_t id, unsigned depth)
{
	const struct pk_node *n = &c->nodes[id];
	size_t cost = 1;
	uint32_t e;
	int r;

	if (n->type == PT_STR || n->type == PT_BIN)
		cost += n->n;
	if (cost > c->budget) {
		c->why = "pickle expands too much (memo sharing)";
		return -1;
	}
	c->budget -= cost;
	switch (n->type) {
	case PT_NIL:
		r = msgpack_pack_nil(c->pk);
		break;
	case PT_TRUE:
		r = msgpack_pack_true(c->pk);
		break;
	case PT_FALSE:
		r = msgpack_pack_false(c->pk);
		break;
	case PT_INT:
		r = msgpack_pack_int64(c->pk, n->v.i);
		break;
	case PT_UINT:
		r = msgpack_pack_uint64(c->pk, n->v.u);
		break;
	case PT_FLOAT:
		r = msgpack_pack_double(c->pk, n->v.d);
		break;
	case PT_STR:
		r = msgpack_pack_str(c->pk, n->n) ||
		    msgpack_pack_str_body(c->pk, c->p + n->v.off, n->n);
		break;
	case PT_BIN:
		r = msgpack_pack_bin(c->pk, n->n) ||
		    msgpack_pack_bin_body(c->pk, c->p + n->v.off, n->n);
		break;
	default:
		if (depth >= c->maxdepth) {
			c->why = "pickle too deep";
			return -1;
		}
		if (n->type == PT_TUPLE && depth == 1 &&
		    (c->flags & BR_PICKLE_MARK_TUPLES) &&
		    c->nodes[c->stack[0]].type == PT_DICT) {
			/* A value of the root dict: [marker, items...]. */
			r = msgpack_pack_array(c->pk, n->n + 1) ||
			    msgpack_pack_ext(c->pk, 0, BR_PICKLE_TUPLE_EXT);
		} else {
			r = n->type == PT_DICT ? msgpack_pack_map(c->pk, n->n) :
			    msgpack_pack_array(c->pk, n->n);
		}
		if (r != 0)
			break;
		for (e = n->v.c.head; e != PK_NONE_ID; e = c->ents[e].next)
			if (pk_pack(c, c->ents[e].node, depth + 1) != 0)
				return -1;
		return 0;
	}
	if (r != 0) {
		c->why = "out of memory";
		return -1;
	}
	return 0;
}

/* Decode a pickle of plain data and pack it (see br_pickle.h). */
int
br_pickle_pack(msgpack_packer *pk, const void *buf, size_t len,
    unsigned maxdepth, const char **why)
{
	return br_pickle_pack_flags(pk, buf, len, maxdepth, 0, why);
}

/* The same, with BR_PICKLE_* flags. */
int
br_pickle_pack_flags(msgpack_packer *pk, const void *buf, size_t len,
    unsigned maxdepth, int flags, const char **why)
{
	struct pk c;
	int r;

	memset(&c, 0, sizeof(c));
	c.p = buf;
	c.len = len;
	c.pk = pk;
	c.maxdepth = maxdepth;
	c.flags = flags;
	if (len >= INT32_MAX / BR_PICKLE_EXPAND) {
		c.why = "pickle too large";
		goto fail;
	}
	c.budget = BR_PICKLE_EXPAND * len + BR_PICKLE_SLACK;
	while ((r = pk_step(&c)) == 0)
		;
	if (r < 0 || pk_check_keys(&c) != 0 ||
	    pk_pack(&c, c.stack[0], 0) != 0)
		goto fail;
	pk_free(&c);
	return 0;
fail:
	*why = c.why;
	pk_free(&c);
	return -1;
}
