/*
 * eio_ws.c: the WebSocket transport.  wslay reads client frames (masking,
 * fragmentation, control frames, UTF-8, the message size limit) and writes
 * control frames; data frames are written by us from the pre-built shared
 * packet buffers (server frames are unmasked), so a packet sent to many
 * sessions is never copied per recipient.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "eio_session.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* WebSocket state of a connection.  Owned by the connection. */
struct eio_ws {
	wslay_event_context_ptr ctx;
	struct gw_conn *c;
	const char *in;		/* input being fed to wslay */
	size_t in_len;
};

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
	struct eio_ws *ws = ud;
	size_t n = ws->in_len < len ? ws->in_len : len;

	if (n == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(buf, ws->in, n);
	ws->in += n;
	ws->in_len -= n;
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
	struct eio_ws *ws = c->ws;

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

/* Bytes from the socket of a WebSocket connection. */
void
eio_ws_input(struct gw_conn *c, const char *p, size_t n)
{
	struct eio_ws *ws = c->ws;

	ws->in = p;
	ws->in_len = n;
	if (wslay_event_recv(ws->ctx) != 0) {
		/* A protocol violation: tell the client (1002) and close. */
		ws->in = NULL;
		ws->in_len = 0;
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
		return;
	}
	ws->in = NULL;
	ws->in_len = 0;
	if (!(c->flags & GW_CONN_CLOSING))
		ws_pump(c);
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
	if (c->flags & (GW_CONN_CLOSING | GW_CONN_CLOSE_AFTER) || c->ws == NULL)
		return;
	if (!wslay_event_get_close_sent(c->ws->ctx))
		wslay_event_queue_close(c->ws->ctx, code, NULL, 0);
	wslay_event_send(c->ws->ctx);
	gw_conn_close_after_write(c);
}

/* Free the WebSocket state; NULL is a no-op. */
void
eio_ws_free(struct eio_ws *ws)
{
	if (ws == NULL)
		return;
	wslay_event_context_free(ws->ctx);
	free(ws);
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
	ws = gw_xcalloc(1, sizeof *ws);
	ws->c = c;
	if (wslay_event_context_server_init(&ws->ctx, &ws_callbacks, ws) != 0) {
		free(ws);
		return -1;
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, c->gw->conf.max_payload);
	c->ws = ws;
	c->mode = GW_CONN_WS;
	http_in_reset(c->hin);
	free(c->hin);
	c->hin = NULL;
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
		s = eio_session_find(c->gw, sid);
		if (s == NULL || s->ep != ep || s->state == EIO_S_CLOSED || !eio_session_ip_ok(s, c)) {
			gw_http_error(c, 400, 1, "Session ID unknown");
			return;
		}
		/* Already upgraded or upgrading: accept, then close at once. */
		if (s->transport == EIO_T_WS || s->ws != NULL)
			reject = 1;
	} else {
		if (http_req_query(req, "EIO", eio, sizeof eio) == NULL || strcmp(eio, "4") != 0) {
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
		eio_ws_input(c, rest, nrest);
}
