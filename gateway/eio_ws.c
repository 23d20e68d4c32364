/*
 * eio_ws.c: the WebSocket transport.  wslay reads client frames (masking,
 * fragmentation, control frames, UTF-8, the message size limit) and writes
 * control frames; data frames are written by us from the pre-built shared
 * packet buffers (server frames are unmasked), so a packet sent to many
 * sessions is never copied per recipient.
 *
 * A wslay context costs about 9 KiB (two 4 KiB buffers), most of what an
 * idle connection would hold, so it exists only while input is being parsed
 * or a frame or fragmented message is incomplete: ws_scan follows the frame
 * boundaries of the bytes fed to wslay, and the context is freed after any
 * read that ends between messages, and made again by the next read.  Close
 * frames of a connection without a context are written here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "eio_session.h"
#include "ws_scan.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Input being fed to wslay (on the stack of eio_ws_input). */
struct ws_feed {
	const char *p;
	size_t n;
};

/* WebSocket state of a connection.  Owned by the connection; 40 bytes. */
struct eio_ws {
	wslay_event_context_ptr ctx;	/* NULL while idle between messages */
	struct gw_conn *c;
	struct ws_feed *in;		/* during eio_ws_input only */
	struct ws_scan scan;		/* where the bytes fed so far end */
};

static void ws_input(struct gw_conn *c, const char *p, size_t n);
static void ws_gone(struct gw_conn *c);
static void ws_free(struct gw_conn *c);

/*
 * A connection after the upgrade (gw_conn_set_ops in ws_accept): its bytes
 * are frames, its private data (c->data) the struct eio_ws.
 */
static const struct gw_conn_ops ws_conn_ops = {
	.input = ws_input,
	.gone = ws_gone,
	.free = ws_free,
};

/* c's WebSocket state, or NULL if c does not speak WebSocket. */
static struct eio_ws *
ws_of(const struct gw_conn *c)
{
	return c->ops == &ws_conn_ops ? c->data : NULL;
}

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
	struct ws_feed *in = ((struct eio_ws *)ud)->in;
	size_t n = in->n < len ? in->n : len;

	if (n == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(buf, in->p, n);
	in->p += n;
	in->n -= n;
	return (ssize_t)n;
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
	struct eio_ws *ws = ud;

	gw_conn_write_copy(ws->c, data, len);
	return (ssize_t)len;
}

/* A complete message (or control frame) from the client. */
static void
ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
	struct eio_ws *ws = ud;
	struct gw_conn *c = ws->c;
	struct eio_session *s = c->sess;
	struct eio_in pkt;
	const char *why;

	if (s == NULL || (c->flags & GW_CONN_CLOSING))
		return;
	if (arg->opcode == WSLAY_TEXT_FRAME) {
		if (eio_decode_text((const char *)arg->msg, arg->msg_length, &pkt, &why) < 0) {
			char esc[64];

			gw_info("session %s: bad packet on websocket from %s: %s (%s)", s->sid,
			    c->peer, why, gw_log_escape(esc, sizeof esc, (const char *)arg->msg,
			    arg->msg_length));
			eio_session_close(s, "parse error");
			return;
		}
	} else if (arg->opcode == WSLAY_BINARY_FRAME && s->v3) {
		if (eio3_decode_binary((const char *)arg->msg, arg->msg_length, &pkt, &why) < 0) {
			gw_info("session %s: bad binary packet on websocket from %s: %s", s->sid,
			    c->peer, why);
			eio_session_close(s, "parse error");
			return;
		}
	} else if (arg->opcode == WSLAY_BINARY_FRAME) {
		pkt.type = EIO_MESSAGE;
		pkt.binary = 1;
		pkt.data = (const char *)arg->msg;
		pkt.len = arg->msg_length;
	} else {
		return;	/* ping/pong/close: wslay answers */
	}
	eio_session_packet(s, c, &pkt);
}

static const struct wslay_event_callbacks ws_callbacks = {
	.recv_callback = ws_recv_cb,
	.send_callback = ws_send_cb,
	.on_msg_recv_callback = ws_msg_cb,
};

/* Let wslay write what it queued (pongs, close frames). */
static void
ws_pump(struct gw_conn *c)
{
	struct eio_ws *ws = c->data;

	if (wslay_event_want_write(ws->ctx))
		wslay_event_send(ws->ctx);
	if (wslay_event_get_close_sent(ws->ctx) && !(c->flags & GW_CONN_CLOSE_AFTER)) {
		if (c->sess != NULL) {
			struct eio_session *s = c->sess;

			if (wslay_event_get_close_received(ws->ctx))
				s->client_closed = 1;
			eio_session_conn_gone(s, c);
			c->sess = NULL;
		}
		gw_conn_close_after_write(c);
	}
}

/* A wslay context for the connection's input; -1 when out of memory. */
static int
ws_ctx_make(struct eio_ws *ws)
{
	if (wslay_event_context_server_init(&ws->ctx, &ws_callbacks, ws) != 0) {
		ws->ctx = NULL;
		return -1;
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->c->gw->conf.max_payload);
	return 0;
}

/* Drop the context: nothing of the stream is left in it. */
static void
ws_ctx_drop(struct eio_ws *ws)
{
	wslay_event_context_free(ws->ctx);
	ws->ctx = NULL;
}

/* Bytes from the socket of a WebSocket connection (its ops' input). */
static void
ws_input(struct gw_conn *c, const char *p, size_t n)
{
	struct eio_ws *ws = c->data;
	struct ws_feed in = { p, n };
	int r;

	if (ws->ctx == NULL && ws_ctx_make(ws) < 0) {
		gw_conn_close(c, "out of memory for websocket");
		return;
	}
	ws_scan_feed(&ws->scan, p, n);
	ws->in = &in;
	r = wslay_event_recv(ws->ctx);
	ws->in = NULL;
	if (r != 0) {
		/* A protocol violation: tell the client (1002) and close. */
		if (c->sess != NULL) {
			struct eio_session *s = c->sess;

			gw_info("session %s: websocket protocol error from %s", s->sid, c->peer);
			eio_session_conn_gone(s, c);
			c->sess = NULL;
		}
		/*
		 * wslay may have queued a close without a status code; send our
		 * own 1002 instead of flushing its queue.
		 */
		if (!wslay_event_get_close_sent(ws->ctx))
			gw_conn_write_copy(c, "\x88\x02\x03\xea", 4);
		gw_conn_close_after_write(c);
	} else if (!(c->flags & GW_CONN_CLOSING)) {
		ws_pump(c);
	}
	/*
	 * Between messages, or closing (no more input is read): the context
	 * holds nothing that a new one would not start with.
	 */
	if (ws_scan_idle(&ws->scan) || (c->flags & (GW_CONN_CLOSING | GW_CONN_CLOSE_AFTER)))
		ws_ctx_drop(ws);
}

/* Queue a pre-built packet frame. */
void
eio_ws_send(struct gw_conn *c, struct gw_buf *pkt)
{
	gw_conn_write(c, pkt, 0, pkt->len);
}

/* Send a close frame and close the connection once written. */
void
eio_ws_close(struct gw_conn *c, uint16_t code)
{
	struct eio_ws *ws = ws_of(c);

	if (c->flags & (GW_CONN_CLOSING | GW_CONN_CLOSE_AFTER) || ws == NULL)
		return;
	if (ws->ctx != NULL) {
		/* Inside wslay's input (a message callback) or mid-message: let it know. */
		if (!wslay_event_get_close_sent(ws->ctx))
			wslay_event_queue_close(ws->ctx, code, NULL, 0);
		wslay_event_send(ws->ctx);
	} else {
		char f[4] = { (char)0x88, 2, (char)(code >> 8), (char)(code & 0xff) };

		gw_conn_write_copy(c, f, sizeof f);
	}
	gw_conn_close_after_write(c);
}

/* The connection is closing or leaving: its session lets go of it. */
static void
ws_gone(struct gw_conn *c)
{
	if (c->sess != NULL)
		eio_session_conn_gone(c->sess, c);
	c->sess = NULL;
}

/* Free the WebSocket state (the reaper). */
static void
ws_free(struct gw_conn *c)
{
	struct eio_ws *ws = c->data;

	c->data = NULL;
	if (ws == NULL)
		return;
	if (ws->ctx != NULL)
		wslay_event_context_free(ws->ctx);
	free(ws);
}

/* WebSocket connections holding a wslay context now (a message in progress). */
uint64_t
eio_ws_parsers(struct gw *gw)
{
	const struct gw_conn *c;
	uint64_t n = 0;

	TAILQ_FOREACH(c, &gw->conns, link) {
		const struct eio_ws *ws = ws_of(c);

		if (ws != NULL && ws->ctx != NULL)
			n++;
	}
	return n;
}

/* Answer the upgrade with 101 and switch the connection to WebSocket. */
static int
ws_accept(struct gw_conn *c, const char *key)
{
	char buf[128], accept[32], head[256];
	unsigned char sha[20];
	struct eio_ws *ws;
	int n;

	n = snprintf(buf, sizeof buf, "%s" WS_GUID, key);
	if (n < 0 || (size_t)n >= sizeof buf)
		return -1;
	gw_sha1(buf, (size_t)n, sha);
	accept[gw_b64_encode(accept, sha, 20)] = '\0';
	n = snprintf(head, sizeof head, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
	    accept);
	gw_conn_write_copy(c, head, (size_t)n);
	ws = gw_xcalloc(1, sizeof *ws);	/* no wslay context until a frame comes */
	ws->c = c;
	gw_conn_set_ops(c, &ws_conn_ops, ws);	/* the HTTP reader is freed */
	gw_conn_request_done(c);
	return 0;
}

/* An Engine.IO WebSocket request: new session, or an upgrade probe. */
void
eio_ws_upgrade(struct gw_conn *c, struct http_req *req, const struct gw_endpoint *ep,
    const char *rest, size_t nrest)
{
	const char *key = http_req_header(req, "sec-websocket-key");
	const char *ver = http_req_header(req, "sec-websocket-version");
	char transport[16], sid[64], eio[8];
	struct eio_session *s = NULL;
	int have_sid, reject = 0;

	c->flags |= GW_CONN_CLOSE_AFTER;	/* until accepted */
	if (http_req_query(req, "transport", transport, sizeof transport) == NULL ||
	    strcmp(transport, "websocket") != 0) {
		gw_http_error(c, 400, 0, "Transport unknown");
		return;
	}
	if (req->method != HTTP_GET || key == NULL || strlen(key) > 64 || ver == NULL ||
	    strcmp(ver, "13") != 0) {
		gw_http_error(c, 400, 3, "Bad request");
		return;
	}
	have_sid = http_req_query(req, "sid", sid, sizeof sid) != NULL;
	if (have_sid) {
		s = eio_session_authorised(c, sid, ep, 0);
		if (s == NULL || s->state == EIO_S_CLOSED) {
			gw_http_error(c, 400, 1, "Session ID unknown");
			return;
		}
		/* Already upgraded or upgrading: accept, then close at once. */
		if (s->transport == EIO_T_WS || s->ws != NULL)
			reject = 1;
	} else {
		if (http_req_query(req, "EIO", eio, sizeof eio) == NULL ||
		    eio3_version(c->gw, eio) == 0) {
			gw_http_error(c, 400, 5, "Unsupported protocol version");
			return;
		}
		s = eio_session_open_ws(c, req, ep);
		if (s == NULL)
			return;
	}
	c->flags &= ~GW_CONN_CLOSE_AFTER;
	if (ws_accept(c, key) < 0) {
		gw_conn_close(c, "websocket setup failed");
		if (!have_sid)
			eio_session_close(s, "transport error");
		return;
	}
	if (reject) {
		gw_info("session %s: second websocket from %s refused", s->sid, c->peer);
		eio_ws_close(c, 1000);
		return;
	}
	s->ws = c;
	c->sess = s;
	if (!have_sid)
		eio_session_send_open(s);
	if (nrest > 0)
		ws_input(c, rest, nrest);
}
