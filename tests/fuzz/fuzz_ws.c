/*
 * fuzz_ws.c: WebSocket frames from a client, through wslay server contexts
 * configured as the gateway configures them, and the frame-boundary scanner
 * (ws_scan.c) with which the gateway drops its context between messages.
 *
 * The first input byte seeds how the rest is cut into reads.  The stream is
 * fed twice: to one context kept throughout, and the way eio_ws.c feeds it
 * (a context made for a read, freed after any read that the scanner says
 * ends between messages).  Both must see the same messages and write the
 * same bytes, and stop at the same point; otherwise the scanner dropped a
 * context that still held part of the stream, and the target aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "ws_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a run saw: a hash over every message and every byte written. */
struct run {
	const uint8_t *p;	/* input of the current read */
	size_t n;
	uint64_t h;		/* FNV-1a over events */
	uint32_t msgs;
	int end;		/* 1: error, 2: close sent */
	size_t consumed;	/* bytes fed before the end */
};

static void
mix(struct run *r, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n-- > 0)
		r->h = (r->h ^ *b++) * 1099511628211ull;
}

static ssize_t
recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
	struct run *r = ud;
	size_t n = r->n < len ? r->n : len;

	if (n == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(buf, r->p, n);
	r->p += n;
	r->n -= n;
	return (ssize_t)n;
}

static ssize_t
send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
	mix(ud, "S", 1);
	mix(ud, data, len);
	return (ssize_t)len;
}

static void
msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
	struct run *r = ud;

	r->msgs++;
	mix(r, "M", 1);
	mix(r, &arg->opcode, sizeof arg->opcode);
	mix(r, &arg->msg_length, sizeof arg->msg_length);
	mix(r, arg->msg, arg->msg_length);
}

static const struct wslay_event_callbacks cb = { recv_cb, send_cb, NULL, NULL, NULL, NULL,
	msg_cb };

/* The next read's size: 1..64, sometimes up to 4 KiB, from a xorshift state. */
static size_t
next_cut(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return (*x & 7) == 0 ? 1 + (*x >> 8) % 4096 : 1 + (*x >> 8) % 64;
}

/* Feed data in reads; lazy: drop the context between messages as the gateway does. */
static void
feed(struct run *r, const uint8_t *data, size_t size, uint8_t seed, int lazy)
{
	wslay_event_context_ptr ctx = NULL;
	struct ws_scan scan;
	uint32_t x = 0x9e3779b9u ^ seed;
	size_t off = 0;

	memset(&scan, 0, sizeof scan);
	r->h = 14695981039346656037ull;
	while (off < size) {
		size_t k = seed == 0 ? size - off : next_cut(&x);

		if (k > size - off)
			k = size - off;
		if (ctx == NULL) {
			if (wslay_event_context_server_init(&ctx, &cb, r) != 0)
				abort();
			wslay_event_config_set_max_recv_msg_length(ctx, 1024);
		}
		ws_scan_feed(&scan, data + off, k);
		r->p = data + off;
		r->n = k;
		off += k;
		if (wslay_event_recv(ctx) != 0) {
			r->end = 1;
			break;
		}
		if (wslay_event_want_write(ctx))
			wslay_event_send(ctx);
		if (wslay_event_get_close_sent(ctx)) {
			r->end = 2;
			break;
		}
		if (lazy && ws_scan_idle(&scan)) {
			wslay_event_context_free(ctx);
			ctx = NULL;
		}
	}
	r->consumed = off;
	if (ctx != NULL)
		wslay_event_context_free(ctx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, lazy;

	if (size < 1)
		return 0;
	memset(&whole, 0, sizeof whole);
	memset(&lazy, 0, sizeof lazy);
	feed(&whole, data + 1, size - 1, data[0], 0);
	feed(&lazy, data + 1, size - 1, data[0], 1);
	if (whole.h != lazy.h || whole.msgs != lazy.msgs || whole.end != lazy.end ||
	    whole.consumed != lazy.consumed)
		abort();
	return 0;
}
