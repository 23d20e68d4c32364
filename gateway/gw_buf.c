/*
 * gw_buf.c: refcounted immutable buffers and the per-connection output
 * queue of slices that reference them (encode once, queue many).
 */
#include <stdlib.h>
#include <string.h>

#include "gw.h"

/* A new buffer of len bytes with one reference (the caller's). */
struct gw_buf *
gw_buf_new(size_t len)
{
	struct gw_buf *b = gw_xmalloc(sizeof *b + len);

	b->refs = 1;
	b->len = (uint32_t)len;
	b->hdr = 0;
	b->flags = 0;
	return b;
}

/* A new buffer holding a copy of p. */
struct gw_buf *
gw_buf_from(const void *p, size_t n)
{
	struct gw_buf *b = gw_buf_new(n);

	if (n > 0)
		memcpy(b->data, p, n);
	return b;
}

/* Take one more reference. */
struct gw_buf *
gw_buf_ref(struct gw_buf *b)
{
	if (b->refs != UINT32_MAX)
		b->refs++;
	return b;
}

/* Drop a reference; the last one frees. NULL is a no-op. */
void
gw_buf_unref(struct gw_buf *b)
{
	if (b == NULL || b->refs == UINT32_MAX)
		return;
	if (--b->refs == 0)
		free(b);
}

/* Queue a slice (takes a new reference on b). */
void
gw_outq_push(struct gw_outq *q, struct gw_buf *b, uint32_t off, uint32_t end)
{
	if (end <= off)
		return;
	if (q->n == q->cap) {
		uint32_t cap = q->cap ? q->cap * 2 : 4, i;
		struct gw_slice *s = gw_xmalloc(cap * sizeof *s);

		for (i = 0; i < q->n; i++)
			s[i] = q->s[(q->head + i) % q->cap];
		free(q->s);
		q->s = s;
		q->head = 0;
		q->cap = cap;
	}
	q->s[(q->head + q->n) % q->cap] = (struct gw_slice){ gw_buf_ref(b), off, end };
	q->n++;
	q->bytes += end - off;
}

/* Fill up to max iovecs from the head of the queue. */
int
gw_outq_iov(struct gw_outq *q, struct iovec *iov, int max)
{
	int i;

	for (i = 0; i < max && (uint32_t)i < q->n; i++) {
		struct gw_slice *s = &q->s[(q->head + i) % q->cap];

		iov[i].iov_base = s->b->data + s->off;
		iov[i].iov_len = s->end - s->off;
	}
	return i;
}

/* Drop n bytes that were written; frees the ring when empty. */
void
gw_outq_consume(struct gw_outq *q, size_t n)
{
	q->bytes -= n;
	while (n > 0 && q->n > 0) {
		struct gw_slice *s = &q->s[q->head];
		size_t len = s->end - s->off;

		if (n < len) {
			s->off += (uint32_t)n;
			return;
		}
		n -= len;
		gw_buf_unref(s->b);
		q->head = (q->head + 1) % q->cap;
		q->n--;
	}
	if (q->n == 0)
		gw_outq_clear(q);
}

/* Drop everything and free the ring. */
void
gw_outq_clear(struct gw_outq *q)
{
	while (q->n > 0) {
		gw_buf_unref(q->s[q->head].b);
		q->head = (q->head + 1) % q->cap;
		q->n--;
	}
	free(q->s);
	memset(q, 0, sizeof *q);
}
