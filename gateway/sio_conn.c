/*
 * sio_conn.c: a client's Socket.IO connection (one Engine.IO session):
 * packets in, binary attachments, events to workers, client acks, and the
 * session's close.  The sockets themselves live in sio_socket.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "br_json.h"
#include "gw_bridge.h"
#include "sio.h"
#include "sio_int.h"

/* Whether an event name is reserved by Socket.IO. */
static int
reserved_event(const char *ev)
{
	static const char *const r[] = { "connect", "connect_error", "disconnect", "disconnecting",
		"newListener", "removeListener" };
	size_t i;

	for (i = 0; i < sizeof r / sizeof r[0]; i++) {
		if (strcmp(ev, r[i]) == 0)
			return 1;
	}
	return 0;
}

/* EVENT / BINARY_EVENT from the client: forward to the socket's worker. */
/*
 * Pack v's items from index from on as the message's argument array (binary
 * placeholders resolved from att).  Consumes v; on a bad item frees e,
 * fails the connection and returns -1.
 */
static int
pack_args(struct sio_conn *c, const struct sio_pkt *pkt, struct br_enc *e, json_t *v, size_t from,
    const struct br_str *att, size_t natt)
{
	size_t i, n = json_array_size(v);
	const char *why = NULL;

	msgpack_pack_array(&e->pk, (uint32_t)(n - from));
	for (i = from; i < n; i++) {
		if (br_json_pack(&e->pk, json_array_get(v, i), natt ? att : NULL, natt,
		    c->eio->gw->conf.max_depth, NULL, &why) < 0) {
			json_decref(v);
			br_enc_free(e);
			sio_conn_fail(c, why, pkt->data, pkt->data_len);
			return -1;
		}
	}
	json_decref(v);
	return 0;
}

static void
handle_event(struct sio_conn *c, const struct sio_pkt *pkt, const struct br_str *att, size_t natt)
{
	struct gw *gw = c->eio->gw;
	struct sio_socket *so;
	json_t *v = NULL, *ev;
	json_error_t jerr;
	struct gw_worker *w;
	struct br_enc e;
	char numname[256];
	const char *name;
	size_t name_len;
	struct br_fast fast;
	struct br_str fname;
	int fastway;

	/* Plain JSON (most events) goes to msgpack without jansson. */
	fastway = natt == 0 && br_json_fast_scan(&fast, pkt->data, pkt->data_len, gw->conf.max_depth,
	    &fname) == 1;
	if (fastway) {
		memcpy(numname, fname.p, fname.n);
		numname[fname.n] = '\0';
		name = numname;
		name_len = fname.n;
		if (name_len > gw->conf.max_event_name) {
			sio_conn_fail(c, "event name longer than max_event_name", pkt->data, pkt->data_len);
			return;
		}
		if (reserved_event(name)) {
			sio_conn_fail(c, "reserved event name", pkt->data, pkt->data_len);
			return;
		}
		goto parsed;
	}
	v = json_loadb(pkt->data, pkt->data_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (v == NULL || !json_is_array(v) || json_array_size(v) == 0) {
		json_decref(v);
		sio_conn_fail(c, "event payload is not a non-empty array", pkt->data, pkt->data_len);
		return;
	}
	ev = json_array_get(v, 0);
	if (json_is_string(ev)) {
		name = json_string_value(ev);
		name_len = json_string_length(ev);
		if (name_len > gw->conf.max_event_name) {
			json_decref(v);
			sio_conn_fail(c, "event name longer than max_event_name", pkt->data, pkt->data_len);
			return;
		}
		if (reserved_event(name)) {
			json_decref(v);
			sio_conn_fail(c, "reserved event name", pkt->data, pkt->data_len);
			return;
		}
	} else if (json_is_integer(ev)) {
		snprintf(numname, sizeof numname, "%lld", (long long)json_integer_value(ev));
		name = numname;
		name_len = strlen(numname);
	} else {
		json_decref(v);
		sio_conn_fail(c, "event name is not a string", pkt->data, pkt->data_len);
		return;
	}
parsed:
	so = sio_conn_socket(c, pkt->nsp, pkt->nsp_len);
	if (so == NULL || so->state != SIO_S_CONNECTED) {
		/* Node closes the connection for this ("invalid state"). */
		json_decref(v);
		sio_conn_fail(c, "event for a namespace that is not connected", pkt->data, pkt->data_len);
		return;
	}
	w = gw_bridge_find_worker(gw, so->worker);
	if (w == NULL) {
		json_decref(v);
		return;
	}
	/* SIO_EVENT {id, nsp, ev, args, [ack]}, then {seq, session, rooms} when it goes */
	br_enc_init(&e, BR_T_SIO_EVENT, 7 + (pkt->has_id ? 1 : 0));
	br_enc_cstr(&e, "id", so->id);
	br_enc_str(&e, "nsp", so->nsp->name, so->nsp->nlen);
	br_enc_str(&e, "ev", name, name_len);
	br_enc_key(&e, "args");
	if (fastway) {
		(void)br_json_fast_pack(&fast, &e.pk);	/* a failure poisons the encoder */
		goto packed;
	}
	if (pack_args(c, pkt, &e, v, 1, att, natt) < 0)
		return;
packed:
	if (pkt->has_id)
		br_enc_uint(&e, "ack", pkt->id);
	if (br_enc_failed(&e)) {
		/* Out of memory while encoding: the bytes are not a message. */
		br_enc_free(&e);
		gw_warn("socket %s: out of memory encoding event '%s', dropped", so->id, name);
		return;
	}
	gw->st.events_in++;
	/* A worker that said "ordered": false takes them as they come (what waits goes first). */
	if (so->held || (so->busy > 0 && !w->unordered))
		sio_held_push(so, &e, pkt->has_id ? pkt->id + 1 : 0, name);
	else
		sio_event_out(so, w, &e, pkt->has_id ? pkt->id + 1 : 0, 0, !w->unordered, 0);
}

/* Answer a client's ack with an error object. */
void
sio_error_ack(struct gw *gw, const char *id, uint64_t ack, const char *code, const char *message)
{
	struct sio_socket *so = sio_socket_find(gw, id, strlen(id));
	struct gw_buf *pkt;
	const char *why;
	char json[256];

	if (so == NULL || so->state != SIO_S_CONNECTED)
		return;
	snprintf(json, sizeof json, "[{\"error\":\"%s\",\"code\":\"%s\"}]", message, code);
	if (sio_packet_encode(SIO_ACK, so->nsp->name, so->nsp->nlen, 1, ack, NULL, NULL, json, &pkt,
	    &why) == 1) {
		eio_session_send(so->conn->eio, pkt);
		gw_buf_unref(pkt);
	}
}

/* ACK / BINARY_ACK from the client: route to the worker that asked. */
static void
handle_ack(struct sio_conn *c, const struct sio_pkt *pkt, const struct br_str *att, size_t natt)
{
	struct gw *gw = c->eio->gw;
	struct sio_socket *so;
	struct sio_wait *wt;
	struct gw_worker *w;
	json_t *v;
	json_error_t jerr;
	struct br_enc e;
	const char *why = NULL;

	v = json_loadb(pkt->data, pkt->data_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!pkt->has_id || v == NULL || !json_is_array(v)) {
		json_decref(v);
		sio_conn_fail(c, "ack without id or array payload", pkt->data, pkt->data_len);
		return;
	}
	so = sio_conn_socket(c, pkt->nsp, pkt->nsp_len);
	for (wt = so ? so->waits : NULL; wt != NULL && wt->ack_id != pkt->id; wt = wt->next)
		;
	if (wt != NULL && wt->worker == SIO_WORKER_REMOTE) {
		/* Another node of the cluster asked: its first argument goes back over Redis. */
		msgpack_sbuffer sb;
		msgpack_packer pk;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		if (json_array_size(v) == 0)
			msgpack_pack_nil(&pk);
		else if (br_json_pack(&pk, json_array_get(v, 0), natt ? att : NULL, natt,
		    gw->conf.max_depth, NULL, &why) < 0)
			sb.size = 0;
		if (sb.size > 0 && gw->adapter != NULL)
			gw->adapter->client_ack(gw, wt->req, sb.data, sb.size);
		msgpack_sbuffer_destroy(&sb);
		json_decref(v);
		sio_wait_end(wt, NULL);
		return;
	}
	if (wt == NULL || (w = gw_bridge_find_worker(gw, wt->worker)) == NULL) {
		json_decref(v);
		if (wt != NULL)
			sio_wait_end(wt, NULL);
		return;		/* unknown or late ack: ignored */
	}
	br_enc_init(&e, BR_T_SIO_CLIENT_ACK, 4);
	br_enc_cstr(&e, "id", so->id);
	br_enc_str(&e, "nsp", so->nsp->name, so->nsp->nlen);
	br_enc_uint(&e, "req", wt->req);
	br_enc_key(&e, "args");
	if (pack_args(c, pkt, &e, v, 0, att, natt) < 0)
		return;
	{
		struct gw_evmeta meta = { BR_T_SIO_CLIENT_ACK, so->id, 0, 0, 0 };

		gw_bridge_send_event(gw, w, &e, 1, &meta);
	}
	sio_wait_end(wt, NULL);
}

/* One complete packet (attachments, if any, collected). */
static void
conn_dispatch(struct sio_conn *c, const struct sio_pkt *pkt, const struct br_str *att, size_t natt)
{
	struct sio_socket *so;

	switch (pkt->type) {
	case SIO_CONNECT:
		if (c->eio->v3) {
			/* v4 protocol: the query string in the namespace is the auth */
			struct sio_pkt p3;
			char *auth = sio3_connect_pkt(pkt, &p3);

			sio_handle_connect(c, &p3);
			free(auth);
			break;
		}
		sio_handle_connect(c, pkt);
		break;
	case SIO_DISCONNECT:
		if (pkt->data_len > 0) {
			sio_conn_fail(c, "DISCONNECT with a payload", pkt->data, pkt->data_len);
			break;
		}
		so = sio_conn_socket(c, pkt->nsp, pkt->nsp_len);
		if (so == NULL) {
			sio_conn_fail(c, "DISCONNECT for a namespace that is not connected", pkt->nsp,
			    pkt->nsp_len);
			break;
		}
		sio_socket_close(so, "client namespace disconnect", 1);
		break;
	case SIO_EVENT:
	case SIO_BINARY_EVENT:
		handle_event(c, pkt, att, natt);
		break;
	case SIO_ACK:
	case SIO_BINARY_ACK:
		handle_ack(c, pkt, att, natt);
		break;
	default:
		sio_conn_fail(c, "packet type not accepted from a client", pkt->data, pkt->data_len);
		break;
	}
}

/* Free a binary packet being reassembled; NULL is a no-op. */
static void
partial_destroy(struct sio_partial *pp)
{
	uint32_t i;

	if (pp == NULL)
		return;
	for (i = 0; i < pp->got; i++)
		free((void *)pp->att[i].p);
	free(pp->text);
	free(pp);
}

/* One Engine.IO message of a Socket.IO session. */
void
sio_conn_message(struct eio_session *s, const char *data, size_t len, int binary)
{
	struct sio_conn *c = s->sio;
	struct sio_partial *pp = c->partial;
	struct sio_pkt pkt;
	const char *why;

	if (binary) {
		if (pp == NULL) {
			sio_conn_fail(c, "unexpected binary attachment", "", 0);
			return;
		}
		pp->att[pp->got].p = gw_xstrndup(data, len);
		pp->att[pp->got].n = (uint32_t)len;
		pp->got++;
		if (pp->got == pp->pkt.natt) {
			c->partial = NULL;	/* c may be gone after the dispatch */
			conn_dispatch(c, &pp->pkt, pp->att, pp->got);
			partial_destroy(pp);
		}
		return;
	}
	if (pp != NULL) {
		sio_conn_fail(c, "text packet while attachments were expected", data, len);
		return;
	}
	if (sio_packet_parse(data, len, &pkt, s->gw->conf.max_att, &why) < 0) {
		sio_conn_fail(c, why, data, len);
		return;
	}
	if ((pkt.type == SIO_BINARY_EVENT || pkt.type == SIO_BINARY_ACK) && pkt.natt > 0) {
		/* Keep a copy of the text; point the header into it. */
		pp = gw_xcalloc(1, sizeof *pp);
		pp->text = gw_xstrndup(data, len);
		pp->pkt = pkt;
		if (pkt.nsp >= data && pkt.nsp < data + len)
			pp->pkt.nsp = pp->text + (pkt.nsp - data);
		pp->pkt.data = pp->text + (pkt.data - data);
		c->partial = pp;
		return;
	}
	conn_dispatch(c, &pkt, NULL, 0);
}

/* The Engine.IO session is closing: every socket goes, with its reason. */
void
sio_conn_close(struct eio_session *s, const char *reason)
{
	struct sio_conn *c = s->sio;

	if (c == NULL)
		return;
	while (c->sockets != NULL) {
		struct sio_socket *so = c->sockets;

		if (sio_recover_detach(so, reason))
			continue;	/* kept for the recovery window, off c's list */
		sio_socket_close(so, reason, so->state == SIO_S_CONNECTED);
	}
	partial_destroy(c->partial);
	c->partial = NULL;
	gw_tlist_stop(&c->connect_t);
	gw_buf_unref(c->hs);
	free(c);
	s->sio = NULL;
}