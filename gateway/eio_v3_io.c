/*
 * eio_v3_io.c: Engine.IO v3 sessions ([engineio] allow_eio3): the
 * handshake flag, the v3 heartbeat, polling answers and POST bodies
 * (text, binary and JSONP forms).  The codec is eio_v3.c.
 *
 * Heartbeat (client pings, v3): the client sends "2" every pingInterval and
 * the server answers "3"; a session that sent no ping for pingInterval +
 * pingTimeout is closed ("ping timeout").  Its deadline node (s->hb) sits on
 * gw->t_ping3, re-armed by every ping.
 *
 * JSONP (a "j" query parameter in the handshake): answers are
 * ___eio[j]("<payload as a JSON string>"); and POST bodies are the form
 * field d.  A script tag carries no Origin, so the handshake is checked
 * against the allowed origins with the origin of its Referer instead, and
 * refused without one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eio_session.h"

/* The Engine.IO revision a handshake's EIO value asks for: 4, 3 (when allowed) or 0. */
int
eio3_version(struct gw *gw, const char *eio)
{
	if (strcmp(eio, "4") == 0)
		return 4;
	if (strcmp(eio, "3") == 0 && gw->conf.allow_eio3)
		return 3;
	return 0;
}

static void
ping3_timeout_cb(struct gw_tlist *tl, struct gw_tnode *n)
{
	struct eio_session *s = GW_TNODE_OWNER(n, struct eio_session, hb);

	if (s->linger) {
		/* Not ours: a closed session lingers on t_pong. */
		return;
	}
	gw_debug("session %s: no ping from the v3 client within %u ms", s->sid,
	    s->gw->conf.ping_interval + s->gw->conf.ping_timeout);
	s->gw->st.err_ping_timeout++;
	eio_session_close(s, "ping timeout");
}

/* The v3 heartbeat class of a loop. */
void
eio3_timers_init(struct gw *gw)
{
	gw_tlist_init(&gw->t_ping3, gw->loop,
	    (gw->conf.ping_interval + gw->conf.ping_timeout) / 1000.0, ping3_timeout_cb, gw);
}

/* A ping from a v3 client: its next one is due within pingInterval + pingTimeout. */
void
eio3_got_ping(struct eio_session *s)
{
	gw_tlist_arm(&s->gw->t_ping3, &s->hb);
}

/* If a new session's handshake asked for v3: mark it, switch its heartbeat. */
void
eio3_session_init(struct eio_session *s, struct http_req *req)
{
	char v[16];

	if (http_req_query(req, "EIO", v, sizeof v) == NULL || strcmp(v, "3") != 0)
		return;
	s->v3 = EIO_V3;
	if (http_req_query(req, "b64", v, sizeof v) != NULL)
		s->v3 |= EIO_V3_B64;
	if (http_req_query(req, "j", v, sizeof v) != NULL) {
		unsigned long j = strtoul(v, NULL, 10);

		s->v3 |= EIO_V3_JSONP | EIO_V3_B64;	/* JSONP carries text only */
		s->jsonp = j > 65535 ? 65535 : (uint16_t)j;
	}
	gw_tlist_stop(&s->hb);
	eio3_got_ping(s);
}

/*
 * A JSONP handshake (j=) from a page the CORS rules allow?  The origin is
 * scheme://host[:port] of the Referer; no Referer, no session.
 */
int
eio3_jsonp_allowed(struct gw *gw, const struct http_req *req)
{
	const char *ref = http_req_header(req, "referer"), *p;
	char origin[256];
	size_t n;

	if (http_req_header(req, "origin") != NULL)
		return gw_http_origin_allowed(gw, req, http_req_header(req, "origin"));
	if (ref == NULL || (p = strstr(ref, "://")) == NULL)
		return 0;
	n = (size_t)(p + 3 - ref) + strcspn(p + 3, "/?#");
	if (n >= sizeof origin)
		return 0;
	memcpy(origin, ref, n);
	origin[n] = '\0';
	return gw_http_origin_allowed(gw, req, origin);
}

/* Append the JSON string form of p[0..n) (what JSON.stringify writes, U+2028/9 escaped). */
static size_t
json_quote(char *dst, const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i, o = 0;

	dst[o++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char ch = s[i];

		if (ch == '"' || ch == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)ch;
		} else if (ch == '\n') {
			dst[o++] = '\\';
			dst[o++] = 'n';
		} else if (ch < 0x20) {
			o += (size_t)sprintf(dst + o, "\\u%04x", ch);
		} else if (ch == 0xe2 && i + 2 < n && s[i + 1] == 0x80 &&
		    (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
			o += (size_t)sprintf(dst + o, "\\u202%c", s[i + 2] == 0xa8 ? '8' : '9');
			i += 2;
		} else {
			dst[o++] = (char)ch;
		}
	}
	dst[o++] = '"';
	return o;
}

/* Answer a polling request of a v3 session with packets v[0..n). */
void
eio3_poll_respond(struct eio_session *s, struct gw_conn *c, struct gw_buf *const *v, uint32_t n)
{
	int bin = eio3_payload_binary(v, n, s->v3 & EIO_V3_B64);
	struct gw_buf *pl = eio3_payload(v, n, bin);
	struct gw_slice sl;

	if (s->v3 & EIO_V3_JSONP) {
		/* ___eio[j]("...");  6 bytes per input byte at most, plus the frame. */
		struct gw_buf *js = gw_buf_new(32 + 6 * (size_t)pl->len);
		size_t o = (size_t)sprintf(js->data, "___eio[%u](", s->jsonp);

		o += json_quote(js->data + o, pl->data, pl->len);
		memcpy(js->data + o, ");", 2);
		js->len = (uint32_t)(o + 2);
		gw_buf_unref(pl);
		pl = js;
	}
	sl = (struct gw_slice){ pl, 0, pl->len };
	gw_http_respond_slices(c, 200, bin ? "application/octet-stream" :
	    (s->v3 & EIO_V3_JSONP) ? "text/javascript; charset=UTF-8" : "text/plain; charset=UTF-8",
	    &sl, 1, pl->len);
	gw_buf_unref(pl);
}

/*
 * The payload of a JSONP POST body (form field d), decoded in place: URL
 * decoding (malformed escapes kept, as Node's querystring does), then the
 * client's newline escapes undone ("\\n" is a newline,
 * "\\\\n" the two characters \n).  Returns its length, or -1 with *why.
 */
static long
jsonp_body(char *body, size_t n, const char **why)
{
	size_t i = 0, o = 0, end = 0;
	char *d = NULL;

	while (i < n) {
		size_t k = i;

		while (k < n && body[k] != '&')
			k++;
		if (k - i >= 2 && body[i] == 'd' && body[i + 1] == '=') {
			d = body + i + 2;
			end = k - i - 2;
			break;
		}
		i = k + 1;
	}
	if (d == NULL) {
		*why = "JSONP body without a d field";
		return -1;
	}
	end = gw_url_decode(d, end, 1);
	for (i = 0; i < end; i++) {
		if (d[i] == '\\' && i + 2 < end && d[i + 1] == '\\' && d[i + 2] == 'n') {
			d[o++] = '\\';
			d[o++] = 'n';
			i += 2;
		} else if (d[i] == '\\' && i + 1 < end && d[i + 1] == 'n') {
			d[o++] = '\n';
			i++;
		} else {
			d[o++] = d[i];
		}
	}
	memmove(body, d, o);
	return (long)o;
}

/* Decode the body of a v3 session's POST: binary form, JSONP form or text form. */
int
eio3_decode_post(struct eio_session *s, struct http_req *req, eio_packet_fn fn, void *arg,
    const char **why)
{
	const char *ct = http_req_header(req, "content-type");

	if (ct != NULL && strncmp(ct, "application/octet-stream", 24) == 0)
		return eio3_decode_binpayload(req->body, req->body_len, fn, arg, why);
	if (s->v3 & EIO_V3_JSONP) {
		long n = jsonp_body(req->body, req->body_len, why);

		if (n < 0)
			return -1;
		return eio3_decode_payload(req->body, (size_t)n, fn, arg, why);
	}
	return eio3_decode_payload(req->body, req->body_len, fn, arg, why);
}

/* A v3 session is open (its open packet sent): tell its handler (Socket.IO 2.x wants "/"). */
void
eio3_session_opened(struct eio_session *s)
{
	if (s->ep->h->v3_opened != NULL)
		s->ep->h->v3_opened(s);
}
