/*
 * br_pickle_test.c: pickle -> msgpack (bridge/br_pickle.c) on real
 * pickles.  tests/unit/br_pickle_vectors.py makes them with Python's
 * pickle (every protocol; python-socketio's own pub/sub messages; hostile
 * ones) together with what python3-msgpack packs for the same value or
 * what the error must say; this program reads its output through a pipe.
 * Every accepted pickle is also cut at every byte (each prefix must be
 * refused) and extended by one byte (refused: bytes after STOP).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_pickle.h"
#include "tap.h"

/* Decode hex text in place; its length in bytes, or -1. */
static long
unhex(char *s)
{
	size_t i, n = strlen(s);
	unsigned v;

	if (n % 2 != 0)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		s[i] = (char)v;
	}
	return (long)(n / 2);
}

/* Run the decoder into sb: its return value, *why set on -1. */
static int
run(msgpack_sbuffer *sb, const void *p, size_t n, unsigned depth, const char **why)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	*why = NULL;
	return br_pickle_pack(&pk, p, n, depth, why);
}

/* One vector: "name depth ok|err pickle expect" (tab-separated). */
static void
vector(char *line, msgpack_sbuffer *sb)
{
	char *name, *depth, *kind, *pick, *exp;
	const char *why;
	long n, en;
	size_t cut, prefix_fail = 0, prefix_max;
	unsigned d;
	char *ext;
	int r;

	line[strcspn(line, "\n")] = '\0';
	name = strsep(&line, "\t");
	depth = strsep(&line, "\t");
	kind = strsep(&line, "\t");
	pick = strsep(&line, "\t");
	exp = strsep(&line, "\t");
	if (name == NULL || depth == NULL || kind == NULL || pick == NULL || exp == NULL) {
		tap_ok(0, "vector line parses");
		return;
	}
	d = (unsigned)atoi(depth);
	n = unhex(pick);
	if (strcmp(kind, "err") == 0) {
		r = run(sb, pick, (size_t)n, d, &why);
		tap_ok(r == -1 && why != NULL && strstr(why, exp) != NULL,
		    "%s refused: \"%s\" (want \"%s\")", name, why ? why : "accepted", exp);
		return;
	}
	en = unhex(exp);
	r = run(sb, pick, (size_t)n, d, &why);
	tap_ok(r == 0 && (long)sb->size == en && memcmp(sb->data, exp, (size_t)en) == 0,
	    "%s: %ld pickle bytes -> the %ld msgpack bytes python3-msgpack makes%s%s",
	    name, n, en, r ? ": " : "", r ? why : "");
	/* Every proper prefix is a truncated pickle (long ones: the first 4k cuts). */
	prefix_max = n > 4096 ? 4096 : (size_t)n;
	for (cut = 0; cut < prefix_max; cut++)
		if (run(sb, pick, cut, d, &why) != -1)
			prefix_fail++;
	tap_ok(prefix_fail == 0, "%s: each of %zu prefixes is refused", name, prefix_max);
	ext = malloc((size_t)n + 1);
	memcpy(ext, pick, (size_t)n);
	ext[n] = 'N';
	r = run(sb, ext, (size_t)n + 1, d, &why);
	tap_ok(r == -1 && strstr(why, "after") != NULL, "%s + one byte: %s", name,
	    r ? why : "accepted");
	free(ext);
}
/*
 * BR_PICKLE_MARK_TUPLES: tuples that are values of a root dict get the
 * marker, others do not (pickles and msgpack from python3's pickle and
 * msgpack, protocol 4, the marker as ExtType(84, b'')).
 */
static void
marked(msgpack_sbuffer *sb)
{
	static const struct {
		const char *name, *pick, *exp;
	} v[] = {
		{ "{'data': (1, 2), 'r': [3, (4,)], 'e': ()}",
		    "80049525000000000000007d94288c0464617461944b014b0286948c0172"
		    "945d94284b034b048594658c01659429752e",
		    "83a46461746193c700540102a17292039104a16591c70054" },
		{ "(1, (2,)) (no dict at the root)",
		    "80049509000000000000004b014b02859486942e", "92019102" },
		{ "{'d': {'t': (5,)}} (deeper)",
		    "80049513000000000000007d948c0164947d948c0174944b05859473732e",
		    "81a16481a1749105" },
	};
	char pick[256], exp[256];
	msgpack_packer pk;
	const char *why;
	size_t i;
	long n, en;
	int r;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		snprintf(pick, sizeof pick, "%s", v[i].pick);
		snprintf(exp, sizeof exp, "%s", v[i].exp);
		n = unhex(pick);
		en = unhex(exp);
		msgpack_sbuffer_clear(sb);
		msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
		why = NULL;
		r = br_pickle_pack_flags(&pk, pick, (size_t)n, 8, BR_PICKLE_MARK_TUPLES, &why);
		tap_ok(r == 0 && (long)sb->size == en && memcmp(sb->data, exp, (size_t)en) == 0,
		    "MARK_TUPLES %s%s%s", v[i].name, r ? ": " : "", r ? why : "");
	}
}

int
main(void)
{
	const char *top = getenv("TOP_SRCDIR");
	char cmd[4096], *line = NULL;
	size_t cap = 0;
	msgpack_sbuffer sb;
	FILE *f;
	int nvec = 0;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/tests/unit/br_pickle_vectors.py'",
	    top ? top : ".");
	f = popen(cmd, "r");
	if (f == NULL) {
		tap_ok(0, "run %s", cmd);
		return tap_done();
	}
	msgpack_sbuffer_init(&sb);
	while (getline(&line, &cap, f) > 0) {
		char *l = line;

		vector(l, &sb);
		nvec++;
	}
	free(line);
	tap_ok(pclose(f) == 0 && nvec > 400, "the vector script ran and gave %d vectors", nvec);
	marked(&sb);
	msgpack_sbuffer_destroy(&sb);
	return tap_done();
}
