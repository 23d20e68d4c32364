/*
 * fuzz_ws.c: WebSocket frames from a client, through a wslay server
 * context configured as the gateway configures it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct feed {
	const uint8_t *p;
	size_t n;
};

static ssize_t
recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
	struct feed *f = ud;
	size_t n = f->n < len ? f->n : len;

	if (n == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(buf, f->p, n);
	f->p += n;
	f->n -= n;
	return (ssize_t)n;
}

static ssize_t
send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
	return (ssize_t)len;
}

static void
msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct wslay_event_callbacks cb = { recv_cb, send_cb, NULL, NULL, NULL, NULL,
		msg_cb };
	wslay_event_context_ptr ctx;
	struct feed f = { data, size };

	if (wslay_event_context_server_init(&ctx, &cb, &f) != 0)
		return 0;
	wslay_event_config_set_max_recv_msg_length(ctx, 65536);
	while (f.n > 0) {
		if (wslay_event_recv(ctx) != 0)
			break;
		if (wslay_event_want_write(ctx))
			wslay_event_send(ctx);
		if (wslay_event_get_close_received(ctx))
			break;
	}
	wslay_event_context_free(ctx);
	return 0;
}
