/*
 * sg_cmd.c: libsiogate's commands: siogate_eio_send() and
 * siogate_eio_close(), accept and reject, acks, emits, rooms, disconnect
 * and session data, with the JSON-to-msgpack packing they share and the
 * fan-out of a command to the gateways concerned.  Commands that await
 * an answer are in sg_wait.c.
 */
#include <string.h>

#include "sg_internal.h"

/* ---- Engine.IO commands ---- */

/* Send one message to one session. */
int
siogate_eio_send(struct siogate_worker *w, const char *sid, const void *data,
    size_t len, int binary)
{
	struct sg_gw *g;

	if (w == NULL || sid == NULL || (data == NULL && len > 0) ||
	    len > BR_MAX_FRAME || w->dying)
		return SIOGATE_ERR_INVALID;
	if ((g = sg_route(w, sid, strlen(sid))) == NULL || !g->linked)
		return SIOGATE_ERR_NOGATEWAY;
	br_enc_reset(&w->enc, BR_T_EIO_SEND, 2);
	br_enc_cstr(&w->enc, "sid", sid);
	br_enc_data(&w->enc, "data", data, len, binary != 0);
	return sg_send_checked(w, g);
}

/* Send one message to many sessions, one frame per gateway. */
int
siogate_eio_send_many(struct siogate_worker *w, const char *const *sids,
    size_t nsids, const void *data, size_t len, int binary)
{
	struct sg_gw *g;
	size_t i, k, count;
	int rc, first = SIOGATE_OK;

	if (w == NULL || (sids == NULL && nsids > 0) ||
	    (data == NULL && len > 0) || len > BR_MAX_FRAME ||
	    nsids > UINT32_MAX || w->dying)
		return SIOGATE_ERR_INVALID;
	for (i = 0; i < nsids; i++)
		if (sids[i] == NULL)
			return SIOGATE_ERR_INVALID;
	for (k = 0; k < w->ngws; k++) {
		g = w->gws[k];
		if (g->gwid == NULL || !g->linked)
			continue;
		count = 0;
		for (i = 0; i < nsids; i++)
			if (sg_route(w, sids[i], strlen(sids[i])) == g)
				count++;
		if (count == 0)
			continue;
		br_enc_reset(&w->enc, BR_T_EIO_SEND, 2);
		br_enc_array(&w->enc, "sids", (uint32_t)count);
		for (i = 0; i < nsids; i++)
			if (sg_route(w, sids[i], strlen(sids[i])) == g)
				br_enc_item_str(&w->enc, sids[i],
				    strlen(sids[i]));
		br_enc_data(&w->enc, "data", data, len, binary != 0);
		rc = sg_send_checked(w, g);
		if (rc != SIOGATE_OK && first == SIOGATE_OK)
			first = rc;
	}
	if (first == SIOGATE_OK) {
		for (i = 0; i < nsids; i++) {
			g = sg_route(w, sids[i], strlen(sids[i]));
			if (g == NULL || !g->linked)
				return SIOGATE_ERR_NOGATEWAY;
		}
	}
	return first;
}

/* Ask the gateway to close a session. */
int
siogate_eio_close(struct siogate_worker *w, const char *sid)
{
	struct sg_gw *g;

	if (w == NULL || sid == NULL || w->dying)
		return SIOGATE_ERR_INVALID;
	if ((g = sg_route(w, sid, strlen(sid))) == NULL || !g->linked)
		return SIOGATE_ERR_NOGATEWAY;
	br_enc_reset(&w->enc, BR_T_EIO_CLOSE_SESSION, 1);
	br_enc_cstr(&w->enc, "sid", sid);
	return sg_send_checked(w, g);
}

/* ---- Socket.IO commands ---- */

/*
 * Parse JSON text into *out.  want is JSON_ARRAY or JSON_OBJECT, or -1
 * for any value.  SIOGATE_OK, JSON, NOMEM (jansson does not tell OOM
 * apart: a text that does not parse is JSON).
 */
int
sg_parse(const char *text, int want, json_t **out)
{
	json_error_t err;

	*out = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (*out == NULL)
		return SIOGATE_ERR_JSON;
	if (want >= 0 && (int)json_typeof(*out) != want) {
		json_decref(*out);
		*out = NULL;
		return SIOGATE_ERR_JSON;
	}
	return SIOGATE_OK;
}

/* Check bins and make slices of them; INVALID when they are bad. */
int
sg_bins(const struct siogate_bin *bins, size_t nbins, struct br_str *atts)
{
	size_t i;

	if (nbins > SIOGATE_MAX_BINS || (bins == NULL && nbins > 0))
		return SIOGATE_ERR_INVALID;
	for (i = 0; i < nbins; i++) {
		if ((bins[i].p == NULL && bins[i].len > 0) ||
		    bins[i].len > BR_MAX_FRAME)
			return SIOGATE_ERR_INVALID;
		atts[i].p = bins[i].p;
		atts[i].n = (uint32_t)bins[i].len;
	}
	return SIOGATE_OK;
}

/*
 * Pack key: v into the encoder.  Placeholders always name atts (an object
 * with "_placeholder": true and no such bin is an error, not data).
 * SIOGATE_OK, JSON, NOMEM.
 */
int
sg_pack(struct siogate_worker *w, const char *key, const json_t *v,
    const struct br_str *atts, size_t nbins)
{
	static const struct br_str none;
	const char *why;

	br_enc_key(&w->enc, key);
	if (br_json_pack(&w->enc.pk, v, nbins ? atts : &none, nbins,
	    SIOGATE_MAX_DEPTH, NULL, &why) == -1)
		return br_enc_failed(&w->enc) ? SIOGATE_ERR_NOMEM :
		    SIOGATE_ERR_JSON;
	return SIOGATE_OK;
}

/*
 * The msgpack args of the event being handled, when args and bins are
 * exactly what sio_event was given for it (an echo, a relay): then they
 * are packed again as they came, with no JSON parsing.  Else NULL.
 * Without bins, text naming "_placeholder" takes the JSON way, which
 * checks it.
 */
static const msgpack_object *
sg_same_args(const struct siogate_worker *w, const char *args,
    const struct siogate_bin *bins, size_t nbins)
{
	if (args == NULL || args != w->ev_json || nbins != w->ev_nbins)
		return NULL;
	if (nbins > 0 ? bins != w->ibin :
	    strstr(args, "\"_placeholder\"") != NULL)
		return NULL;
	return w->ev_args;
}

/* Pack key: a msgpack object as it is. */
int
sg_pack_obj(struct siogate_worker *w, const char *key,
    const msgpack_object *o)
{
	br_enc_key(&w->enc, key);
	msgpack_pack_object(&w->enc.pk, *o);
	return br_enc_failed(&w->enc) ? SIOGATE_ERR_NOMEM : SIOGATE_OK;
}

/* Pack key: list (only the entries routed to only, when not NULL). */
void
sg_enc_list(struct siogate_worker *w, const char *key,
    const char *const *list, struct sg_gw *only)
{
	size_t i, n = 0;

	for (i = 0; list != NULL && list[i] != NULL; i++)
		if (only == NULL || sg_id_gw(w, list[i]) == only)
			n++;
	br_enc_array(&w->enc, key, (uint32_t)n);
	for (i = 0; list != NULL && list[i] != NULL; i++)
		if (only == NULL || sg_id_gw(w, list[i]) == only)
			br_enc_item_str(&w->enc, list[i], strlen(list[i]));
}

/* Encode the command for gateway only (NULL: the same for all). */
typedef int (*sg_encode_fn)(struct siogate_worker *w, struct sg_gw *only,
    void *arg);

/*
 * Send a command addressed by a target list to the gateways concerned.
 *
 * Why two ways: when every name in to is the socket id of a known
 * gateway, each of those gateways gets a frame naming only its own
 * sockets, so no gateway is told about ids it never issued (it would
 * answer ERROR unknown-sid for a lone one).  Any other name may be a room,
 * and rooms span gateways: then every usable gateway gets the same frame
 * (encoded once), and skips the ids it does not know.
 */
static int
sg_fanout(struct siogate_worker *w, const char *const *to, sg_encode_fn enc,
    void *arg)
{
	const char *lead = sg_lead_node(w);
	struct sg_gw *g;
	size_t i, k;
	int split = to != NULL && to[0] != NULL, rc, first = SIOGATE_OK;
	int sent = 0;

	for (i = 0; split && to[i] != NULL; i++)
		if (sg_id_gw(w, to[i]) == NULL)
			split = 0;
	if (!split) {
		if ((rc = enc(w, NULL, arg)) != SIOGATE_OK)
			return rc;
		if (!br_enc_failed(&w->enc) && w->enc.sb.size > BR_MAX_FRAME)
			return SIOGATE_ERR_INVALID;
		for (k = 0; k < w->ngws; k++) {
			if (!sg_usable(w->gws[k]) || sg_other_node(w->gws[k], lead))
				continue;
			rc = sg_send_enc(w, w->gws[k]);
			if (rc != SIOGATE_OK && first == SIOGATE_OK)
				first = rc;
			sent++;
		}
		return sent == 0 ? SIOGATE_ERR_NOGATEWAY : first;
	}
	for (k = 0; k < w->ngws; k++) {
		g = w->gws[k];
		for (i = 0; to[i] != NULL && sg_id_gw(w, to[i]) != g; i++)
			;
		if (to[i] == NULL)
			continue;
		if (!g->linked) {
			rc = SIOGATE_ERR_NOGATEWAY;
		} else if ((rc = enc(w, g, arg)) == SIOGATE_OK)
			rc = sg_send_checked(w, g);
		if (rc == SIOGATE_ERR_JSON || rc == SIOGATE_ERR_INVALID)
			return rc;	/* the same for every gateway */
		if (rc != SIOGATE_OK && first == SIOGATE_OK)
			first = rc;
	}
	return first;
}

/* SIO_ACCEPT or SIO_REJECT for socket id. */
int
sg_accept_reject(struct siogate_worker *w, const char *id,
    const char *session, const char *const *rooms, const char *data,
    int reject)
{
	struct sg_gw *g;
	json_t *v = NULL;
	int rc;

	if (w == NULL || id == NULL || w->dying)
		return SIOGATE_ERR_INVALID;
	if ((g = sg_route_live(w, id)) == NULL)
		return SIOGATE_ERR_NOGATEWAY;
	if (reject && data != NULL && (rc = sg_parse(data, -1, &v)) != 0)
		return rc;
	if (!reject && session != NULL &&
	    (rc = sg_parse(session, JSON_OBJECT, &v)) != 0)
		return rc;
	if (reject) {
		br_enc_reset(&w->enc, BR_T_SIO_REJECT, 1 + (v != NULL));
		br_enc_cstr(&w->enc, "id", id);
	} else {
		br_enc_reset(&w->enc, BR_T_SIO_ACCEPT, 1 + (v != NULL) +
		    (rooms != NULL));
		br_enc_cstr(&w->enc, "id", id);
		if (rooms != NULL)
			sg_enc_list(w, "rooms", rooms, NULL);
	}
	rc = SIOGATE_OK;
	if (v != NULL)
		rc = sg_pack(w, reject ? "data" : "session", v, NULL, 0);
	json_decref(v);
	if (rc == SIOGATE_OK)
		rc = sg_send_checked(w, g);
	return rc;
}

/* Accept a pending connect. */
int
siogate_accept(struct siogate_worker *w, const char *id, const char *session,
    const char *const *rooms)
{
	return sg_accept_reject(w, id, session, rooms, NULL, 0);
}

/* Refuse a pending connect. */
int
siogate_reject(struct siogate_worker *w, const char *id, const char *data)
{
	return sg_accept_reject(w, id, NULL, NULL, data, 1);
}

/* Answer a client's ack. */
int
siogate_ack(struct siogate_worker *w, const char *id, const char *nsp,
    uint64_t ack, const char *args, const struct siogate_bin *bins,
    size_t nbins)
{
	struct br_str atts[SIOGATE_MAX_BINS];
	struct sg_gw *g;
	const msgpack_object *same;
	json_t *v = NULL;
	int rc;

	if (w == NULL || id == NULL || (nsp = sg_nsp(nsp)) == NULL ||
	    w->dying)
		return SIOGATE_ERR_INVALID;
	if ((rc = sg_bins(bins, nbins, atts)) != SIOGATE_OK)
		return rc;
	if ((g = sg_route_live(w, id)) == NULL)
		return SIOGATE_ERR_NOGATEWAY;
	same = sg_same_args(w, args, bins, nbins);
	if (same == NULL &&
	    (rc = sg_parse(args ? args : "[]", JSON_ARRAY, &v)) != 0)
		return rc;
	br_enc_reset(&w->enc, BR_T_SIO_ACK, 4);
	br_enc_cstr(&w->enc, "id", id);
	br_enc_cstr(&w->enc, "nsp", nsp);
	br_enc_uint(&w->enc, "ack", ack);
	rc = same != NULL ? sg_pack_obj(w, "args", same) :
	    sg_pack(w, "args", v, atts, nbins);
	json_decref(v);
	if (rc == SIOGATE_OK)
		rc = sg_send_checked(w, g);
	return rc;
}

/*
 * Start a message about an event: reset the encoder for nkeys keys and
 * write nsp, ev and args (SIO_EMIT and SIO_SERVER_EMIT begin alike).
 */
int
sg_enc_event(struct siogate_worker *w, int type, uint32_t nkeys,
    const struct sg_emit *e)
{
	br_enc_reset(&w->enc, type, nkeys);
	br_enc_cstr(&w->enc, "nsp", e->nsp);
	br_enc_cstr(&w->enc, "ev", e->ev);
	return e->same != NULL ? sg_pack_obj(w, "args", e->same) :
	    sg_pack(w, "args", e->args, e->atts, e->nbins);
}

/* Encode SIO_EMIT. */
int
sg_enc_emit(struct siogate_worker *w, struct sg_gw *only, void *arg)
{
	struct sg_emit *e = arg;
	int has_to = e->to != NULL && e->to[0] != NULL;
	int has_except = e->except != NULL && e->except[0] != NULL;
	int rc;

	int vol = e->vol;

	rc = sg_enc_event(w, BR_T_SIO_EMIT, 3 + has_to + has_except +
	    (e->req ? 2 : 0) + vol, e);
	if (rc != SIOGATE_OK)
		return rc;
	if (has_to)
		sg_enc_list(w, "to", e->to, only);
	if (has_except)
		sg_enc_list(w, "except", e->except, NULL);
	if (e->req) {
		br_enc_uint(&w->enc, "req", e->req);
		br_enc_uint(&w->enc, "timeout", e->timeout);
	}
	if (vol) {
		br_enc_key(&w->enc, "volatile");
		msgpack_pack_true(&w->enc.pk);
	}
	return br_enc_failed(&w->enc) ? SIOGATE_ERR_NOMEM : SIOGATE_OK;
}

/* Check and parse what emit and emit_ack share. */
int
sg_emit_prep(struct siogate_worker *w, struct sg_emit *e, const char *nsp,
    const char *ev, const char *args, const struct siogate_bin *bins,
    size_t nbins, struct br_str *atts)
{
	int rc;

	memset(e, 0, sizeof *e);
	if (w == NULL || ev == NULL || (e->nsp = sg_nsp(nsp)) == NULL ||
	    w->dying)
		return SIOGATE_ERR_INVALID;
	if ((rc = sg_bins(bins, nbins, atts)) != SIOGATE_OK)
		return rc;
	e->ev = ev;
	e->atts = atts;
	e->nbins = nbins;
	if ((e->same = sg_same_args(w, args, bins, nbins)) != NULL)
		return SIOGATE_OK;
	return sg_parse(args ? args : "[]", JSON_ARRAY, &e->args);
}

/* Emit an event to a target set, volatile or not. */
static int
sg_emit_to(struct siogate_worker *w, const char *nsp,
    const struct siogate_target *to, const char *ev, const char *args,
    const struct siogate_bin *bins, size_t nbins, int vol)
{
	struct br_str atts[SIOGATE_MAX_BINS];
	struct sg_emit e;
	int rc;

	if ((rc = sg_emit_prep(w, &e, nsp, ev, args, bins, nbins, atts)) != 0)
		return rc;
	if (to != NULL) {
		e.to = to->to;
		e.except = to->except;
	}
	e.vol = vol;
	rc = sg_fanout(w, e.to, sg_enc_emit, &e);
	json_decref(e.args);
	return rc;
}

/* Emit an event to a target set. */
int
siogate_emit(struct siogate_worker *w, const char *nsp,
    const struct siogate_target *to, const char *ev, const char *args,
    const struct siogate_bin *bins, size_t nbins)
{
	return sg_emit_to(w, nsp, to, ev, args, bins, nbins, 0);
}

/* Emit an event that busy recipients may skip. */
int
siogate_emit_volatile(struct siogate_worker *w, const char *nsp,
    const struct siogate_target *to, const char *ev, const char *args,
    const struct siogate_bin *bins, size_t nbins)
{
	return sg_emit_to(w, nsp, to, ev, args, bins, nbins, 1);
}

/* Rooms, targets: join, leave, disconnect. */
struct sg_rooms {
	int type;
	const char *nsp;
	const char *const *to;
	const char *const *rooms;
	int close;
};

/* Encode SIO_JOIN, SIO_LEAVE or SIO_DISCONNECT_SOCKETS. */
static int
sg_enc_rooms(struct siogate_worker *w, struct sg_gw *only, void *arg)
{
	struct sg_rooms *r = arg;

	if (r->type == BR_T_SIO_DISCONNECT_SOCKETS) {
		br_enc_reset(&w->enc, r->type, 2 + (r->close != 0));
		br_enc_cstr(&w->enc, "nsp", r->nsp);
		sg_enc_list(w, "to", r->to, only);
		if (r->close) {
			br_enc_key(&w->enc, "close");
			msgpack_pack_true(&w->enc.pk);
		}
	} else {
		br_enc_reset(&w->enc, r->type, 3);
		br_enc_cstr(&w->enc, "nsp", r->nsp);
		sg_enc_list(w, "rooms", r->rooms, NULL);
		sg_enc_list(w, "to", r->to, only);
	}
	return br_enc_failed(&w->enc) ? SIOGATE_ERR_NOMEM : SIOGATE_OK;
}

/* Check and send a rooms command. */
static int
sg_rooms_cmd(struct siogate_worker *w, int type, const char *nsp,
    const char *const *to, const char *const *rooms, int close)
{
	struct sg_rooms r;

	if (w == NULL || (nsp = sg_nsp(nsp)) == NULL || sg_count(to) == 0 ||
	    (type != BR_T_SIO_DISCONNECT_SOCKETS && rooms == NULL) ||
	    sg_count(to) > UINT32_MAX || sg_count(rooms) > UINT32_MAX ||
	    w->dying)
		return SIOGATE_ERR_INVALID;
	r.type = type;
	r.nsp = nsp;
	r.to = to;
	r.rooms = rooms;
	r.close = close;
	return sg_fanout(w, to, sg_enc_rooms, &r);
}

/* Make sockets join rooms. */
int
siogate_join(struct siogate_worker *w, const char *nsp,
    const char *const *to, const char *const *rooms)
{
	return sg_rooms_cmd(w, BR_T_SIO_JOIN, nsp, to, rooms, 0);
}

/* Make sockets leave rooms. */
int
siogate_leave(struct siogate_worker *w, const char *nsp,
    const char *const *to, const char *const *rooms)
{
	return sg_rooms_cmd(w, BR_T_SIO_LEAVE, nsp, to, rooms, 0);
}

/* Disconnect sockets. */
int
siogate_disconnect(struct siogate_worker *w, const char *nsp,
    const char *const *to, int close)
{
	return sg_rooms_cmd(w, BR_T_SIO_DISCONNECT_SOCKETS, nsp, to, NULL,
	    close);
}

/* Replace or update a socket's session data. */
int
siogate_set_session(struct siogate_worker *w, const char *id,
    const char *nsp, const char *session, int merge)
{
	struct sg_gw *g;
	json_t *v;
	int rc;

	if (w == NULL || id == NULL || session == NULL ||
	    (nsp = sg_nsp(nsp)) == NULL || w->dying)
		return SIOGATE_ERR_INVALID;
	if ((g = sg_route_live(w, id)) == NULL)
		return SIOGATE_ERR_NOGATEWAY;
	if ((rc = sg_parse(session, JSON_OBJECT, &v)) != 0)
		return rc;
	br_enc_reset(&w->enc, BR_T_SIO_SET_SESSION, 4);
	br_enc_cstr(&w->enc, "id", id);
	br_enc_cstr(&w->enc, "nsp", nsp);
	rc = sg_pack(w, "session", v, NULL, 0);
	json_decref(v);
	br_enc_key(&w->enc, "merge");
	if (merge)
		msgpack_pack_true(&w->enc.pk);
	else
		msgpack_pack_false(&w->enc.pk);
	if (rc == SIOGATE_OK)
		rc = sg_send_checked(w, g);
	return rc;
}
