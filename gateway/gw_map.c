/*
 * gw_map.c: a string-keyed hash map (chained).  The key is borrowed: it must
 * live as long as its entry (it is normally a field of the value).
 */
#include <stdlib.h>
#include <string.h>

#include "gw.h"

/* FNV-1a over n bytes. */
static uint32_t
map_hash(const char *k, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0)
		h = (h ^ (unsigned char)*k++) * 16777619u;
	return h;
}

/* Double the bucket array. */
static void
map_grow(struct gw_map *m)
{
	uint32_t nsize = m->b ? (m->mask + 1) * 2 : 16, i;
	struct gw_map_ent **nb = gw_xcalloc(nsize, sizeof *nb);

	for (i = 0; m->b != NULL && i <= m->mask; i++) {
		struct gw_map_ent *e = m->b[i], *next;

		for (; e != NULL; e = next) {
			uint32_t h = map_hash(e->key, e->klen) & (nsize - 1);

			next = e->next;
			e->next = nb[h];
			nb[h] = e;
		}
	}
	free(m->b);
	m->b = nb;
	m->mask = nsize - 1;
}

/* The value under key, or NULL. */
void *
gw_map_get(const struct gw_map *m, const char *key, size_t klen)
{
	struct gw_map_ent *e;

	if (m->b == NULL)
		return NULL;
	for (e = m->b[map_hash(key, klen) & m->mask]; e != NULL; e = e->next) {
		if (e->klen == klen && memcmp(e->key, key, klen) == 0)
			return e->val;
	}
	return NULL;
}

/* Insert (the key must not be present). */
void
gw_map_put(struct gw_map *m, const char *key, size_t klen, void *val)
{
	struct gw_map_ent *e = gw_xmalloc(sizeof *e);
	uint32_t h;

	if (m->b == NULL || m->n + 1 > m->mask + 1)
		map_grow(m);
	h = map_hash(key, klen) & m->mask;
	e->key = key;
	e->klen = (uint32_t)klen;
	e->val = val;
	e->next = m->b[h];
	m->b[h] = e;
	m->n++;
}

/* Remove key; returns its value or NULL. */
void *
gw_map_del(struct gw_map *m, const char *key, size_t klen)
{
	struct gw_map_ent **pp;

	if (m->b == NULL)
		return NULL;
	for (pp = &m->b[map_hash(key, klen) & m->mask]; *pp != NULL; pp = &(*pp)->next) {
		struct gw_map_ent *e = *pp;

		if (e->klen == klen && memcmp(e->key, key, klen) == 0) {
			void *v = e->val;

			*pp = e->next;
			free(e);
			if (--m->n == 0) {
				/* Empty: give the buckets back (a burst of clients left). */
				free(m->b);
				m->b = NULL;
				m->mask = 0;
			}
			return v;
		}
	}
	return NULL;
}

/* Call fn on every value (fn must not change the map). */
void
gw_map_each(const struct gw_map *m, void (*fn)(void *val, void *arg), void *arg)
{
	uint32_t i;
	struct gw_map_ent *e;

	for (i = 0; m->b != NULL && i <= m->mask; i++) {
		for (e = m->b[i]; e != NULL; e = e->next)
			fn(e->val, arg);
	}
}

/* Free the entries (not the values). */
void
gw_map_free(struct gw_map *m)
{
	uint32_t i;

	for (i = 0; m->b != NULL && i <= m->mask; i++) {
		struct gw_map_ent *e = m->b[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->b);
	memset(m, 0, sizeof *m);
}
