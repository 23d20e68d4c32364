/*
 * sio_eio.c: the Engine.IO handler of Socket.IO endpoints: what the session
 * code (eio_session.c, eio_v3_io.c) hands to the Socket.IO layer.  A
 * session without Socket.IO state (s->sio NULL, once it is closed) gets
 * nothing more.
 */
#include "eio_bridge.h"
#include "sio.h"

/* A new session: its Socket.IO state, with the handshake for its sockets. */
static int
sio_eio_open(struct eio_session *s, struct gw_conn *c, const struct http_req *req,
    const char *transport)
{
	sio_conn_open(s, eio_bridge_hs_blob(req, c->peer, transport));
	return 0;
}

static void
sio_eio_v3_opened(struct eio_session *s)
{
	if (s->sio != NULL)
		sio3_conn_start(s);
}

static void
sio_eio_message(struct eio_session *s, const char *data, size_t len, int binary)
{
	if (s->sio != NULL)
		sio_conn_message(s, data, len, binary);
}

static void
sio_eio_ping(struct eio_session *s)
{
	if (s->sio != NULL)
		sio_recover_ping(s);
}

static void
sio_eio_pong(struct eio_session *s)
{
	if (s->sio != NULL)
		sio_recover_pong(s);
}

const struct eio_handler sio_eio_handler = {
	.admit = NULL,		/* sockets are refused per namespace, at CONNECT */
	.open = sio_eio_open,
	.v3_opened = sio_eio_v3_opened,
	.message = sio_eio_message,
	.close = sio_conn_close,
	.ping = sio_eio_ping,
	.pong = sio_eio_pong,
};
