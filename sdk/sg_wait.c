/*
 * sg_wait.c: libsiogate's requests that await answers: an emit's ack from
 * a client, a query of the gateways, a sync barrier and a server-side emit
 * (serverSideEmit) and its answers; the waits they leave (struct sg_wait)
 * and how each ends: answered, timed out, its gateway lost, or the worker
 * freed.
 */
#include <stdlib.h>
#include <string.h>

#include "sg_internal.h"

/* ---- Socket.IO: awaited answers ---- */

/* Free a wait that left the array. */
static void
sg_wait_free(struct sg_wait *wt)
{
	size_t i;

	if (wt == NULL)
		return;
	for (i = 0; i < wt->nseen; i++)
		free(wt->seen[i]);
	free(wt->seen);
	free(wt->asked);
	free(wt->id);
	free(wt->nsp);
	br_buf_free(&wt->acc);
	free(wt);
}

/* Index of the wait for req, or -1 (binary search: sorted by req). */
static ssize_t
sg_wait_find(const struct siogate_worker *w, uint64_t req)
{
	size_t lo = 0, hi = w->nwaits, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (w->waits[mid]->req == req)
			return (ssize_t)mid;
		if (w->waits[mid]->req < req)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Take the wait at index i out of the array. */
static struct sg_wait *
sg_wait_take(struct siogate_worker *w, size_t i)
{
	struct sg_wait *wt = w->waits[i];

	memmove(w->waits + i, w->waits + i + 1,
	    (w->nwaits - i - 1) * sizeof *w->waits);
	w->nwaits--;
	return wt;
}

/* Make room for one more wait; -1 on OOM. */
static int
sg_wait_room(struct siogate_worker *w)
{
	struct sg_wait **p;
	size_t cap;

	if (w->nwaits < w->capwaits)
		return 0;
	cap = w->capwaits ? w->capwaits * 2 : 16;
	if ((p = realloc(w->waits, cap * sizeof *p)) == NULL)
		return -1;
	w->waits = p;
	w->capwaits = cap;
	return 0;
}

/* End an ack wait (already out of the array): call back, free. */
static void
sg_ack_done(struct siogate_worker *w, struct sg_wait *wt, int status,
    const char *args, size_t nbins)
{
	if (wt->acb != NULL)
		wt->acb(w, wt->id, status, args, nbins ? w->ibin : NULL, nbins,
		    wt->ud);
	else if (wt->ancb != NULL)
		wt->ancb(w, wt->id, wt->nsp, status, args, nbins ? w->ibin :
		    NULL, nbins, wt->ud);
	sg_wait_free(wt);
}

/* End a query wait (already out of the array): call back, free. */
static void
sg_query_done(struct siogate_worker *w, struct sg_wait *wt, int status)
{
	const char *res = NULL;

	/* "[" + items + "]": acc holds the items; close it in place. */
	if (status != SIOGATE_STATUS_CANCELLED &&
	    br_buf_append(&wt->acc, "]", 2) == 0)
		res = wt->acc.p;
	if (res == NULL && status != SIOGATE_STATUS_CANCELLED)
		res = "[]";	/* out of memory: what can be said */
	if (wt->sync && wt->scb != NULL)
		wt->scb(w, status, wt->ud);
	else if (!wt->sync && wt->qcb != NULL)
		wt->qcb(w, status, res, wt->ud);
	sg_wait_free(wt);
}

/* End the wait at index i with status (no answer). */
void
sg_wait_end(struct siogate_worker *w, size_t i, int status)
{
	struct sg_wait *wt = sg_wait_take(w, i);

	if (!wt->query)
		sg_ack_done(w, wt, status, NULL, 0);
	else
		sg_query_done(w, wt, wt->lost && status ==
		    SIOGATE_STATUS_OK ? SIOGATE_STATUS_GONE : status);
}

/*
 * Gateway g is lost (link down, BYE, silent, or it registered us again
 * under a new worker id): whatever it was asked will never be answered.
 * Acks asked of it end GONE; queries stop waiting for it.
 */
void
sg_gw_lost(struct siogate_worker *w, struct sg_gw *g)
{
	struct sg_wait *wt;
	size_t i = 0, k;

	/* Callbacks may add waits (at the end) but remove none but i. */
	while (i < w->nwaits && !w->dying) {
		wt = w->waits[i];
		if (!wt->query) {
			if (wt->g == g) {
				sg_wait_end(w, i, SIOGATE_STATUS_GONE);
				continue;
			}
		} else {
			for (k = 0; k < wt->nasked && wt->asked[k] != g; k++)
				;
			if (k < wt->nasked) {
				wt->asked[k] = wt->asked[--wt->nasked];
				wt->lost = 1;
				if (wt->nasked == 0) {
					sg_wait_end(w, i, SIOGATE_STATUS_GONE);
					continue;
				}
			}
		}
		i++;
	}
}

/* End every wait whose own deadline passed. */
void
sg_waits_expire(struct siogate_worker *w, int64_t now)
{
	size_t i = 0;

	while (i < w->nwaits && !w->dying) {
		if (w->waits[i]->deadline <= now)
			sg_wait_end(w, i, SIOGATE_STATUS_TIMEOUT);
		else
			i++;
	}
}

/* SIO_CLIENT_ACK / SIO_ACK_TIMEOUT: the end of an ack wait. */
int
sg_on_client_ack(struct siogate_worker *w, struct sg_gw *g,
    const struct br_msg *m)
{
	struct sg_wait *wt;
	struct br_str reason;
	uint64_t req = 0;
	size_t off, nbins = 0;
	const char *why;
	ssize_t i;
	int r;

	br_msg_uint(m, "req", &req);
	i = sg_wait_find(w, req);
	if (i < 0 || w->waits[i]->query || w->waits[i]->g != g)
		return 0;	/* ended already (our own timeout) */
	if (m->type == BR_T_SIO_ACK_TIMEOUT) {
		br_msg_str(m, "reason", &reason);
		sg_wait_end(w, (size_t)i, reason.n == 7 &&
		    memcmp(reason.p, "timeout", 7) == 0 ?
		    SIOGATE_STATUS_TIMEOUT : SIOGATE_STATUS_DISCONNECTED);
		return 0;
	}
	w->jbuf.len = 0;
	r = sg_to_json(w, br_msg_get(m, "args"), &off, &nbins,
	    SIOGATE_MAX_BINS, &why);
	if (r == -1)
		return -1;
	wt = sg_wait_take(w, (size_t)i);
	if (r == -2) {
		sg_refuse(w, g, why, m->type);
		sg_ack_done(w, wt, SIOGATE_STATUS_GONE, NULL, 0);
		return 0;
	}
	sg_ack_done(w, wt, SIOGATE_STATUS_OK, w->jbuf.p + off, nbins);
	return 0;
}

/* Add the items of one gateway's query result to the wait. */
static int
sg_query_merge(struct sg_wait *wt, const msgpack_object *res,
    const char **why)
{
	const msgpack_object *it;
	size_t nb, k, len0;
	uint32_t i;
	char *name;
	char **seen;

	if (res->type != MSGPACK_OBJECT_ARRAY) {
		*why = "SIO_RESULT: result is not an array";
		return -2;
	}
	for (i = 0; i < res->via.array.size; i++) {
		it = &res->via.array.ptr[i];
		if (wt->rooms) {
			if (it->type != MSGPACK_OBJECT_STR)
				continue;
			for (k = 0; k < wt->nseen; k++)
				if (strlen(wt->seen[k]) == it->via.str.size &&
				    memcmp(wt->seen[k], it->via.str.ptr,
				    it->via.str.size) == 0)
					break;
			if (k < wt->nseen)
				continue;
			seen = realloc(wt->seen, (wt->nseen + 1) *
			    sizeof *seen);
			if (seen == NULL)
				return -1;
			wt->seen = seen;
			if ((name = strndup(it->via.str.ptr,
			    it->via.str.size)) == NULL)
				return -1;
			wt->seen[wt->nseen++] = name;
		}
		len0 = wt->acc.len;
		if (br_buf_append(&wt->acc, wt->acc.len > 1 ? "," : "",
		    wt->acc.len > 1) == -1)
			return -1;
		nb = 0;
		if (br_json_write(&wt->acc, it, NULL, &nb, 0, SG_IN_DEPTH,
		    why) == -1) {
			wt->acc.len = len0;
			if (strcmp(*why, "out of memory") == 0)
				return -1;
			/* binary session data: not JSON, leave it out */
		}
	}
	return 0;
}

/*
 * SIO_RESULT: one gateway's answer to a query; SIO_SERVER_RESULT: the
 * answers to a server-side emit (its "error" says why some are missing).
 */
int
sg_on_result(struct siogate_worker *w, struct sg_gw *g,
    const struct br_msg *m)
{
	struct br_str err;
	struct sg_wait *wt;
	uint64_t req = 0;
	const char *why;
	ssize_t i;
	size_t k;
	int r;

	br_msg_uint(m, "req", &req);
	i = sg_wait_find(w, req);
	if (i < 0 || !w->waits[i]->query || w->waits[i]->sse != (m->type ==
	    BR_T_SIO_SERVER_RESULT))
		return 0;
	wt = w->waits[i];
	for (k = 0; k < wt->nasked && wt->asked[k] != g; k++)
		;
	if (k == wt->nasked)
		return 0;	/* not asked, or answered already */
	wt->asked[k] = wt->asked[--wt->nasked];
	/* A sync's fallback query (an old gateway): the answer is the receipt. */
	r = wt->sync ? 0 : sg_query_merge(wt, br_msg_get(m, "result"), &why);
	if (r == -2) {
		sg_refuse(w, g, why, m->type);
		wt->lost = 1;
	}
	if (wt->nasked == 0)
		sg_wait_end(w, (size_t)i, m->type == BR_T_SIO_SERVER_RESULT &&
		    br_msg_str(m, "error", &err) == 0 ? (err.n >= 7 &&
		    memcmp(err.p, "timeout", 7) == 0 ? SIOGATE_STATUS_TIMEOUT :
		    SIOGATE_STATUS_GONE) : SIOGATE_STATUS_OK);
	return r == -1 ? -1 : 0;
}

/* SYNC_REPLY: g handled everything sent before the SYNC of req. */
void
sg_on_sync_reply(struct siogate_worker *w, struct sg_gw *g,
    const struct br_msg *m)
{
	struct sg_wait *wt;
	uint64_t req = 0;
	ssize_t i;
	size_t k;

	br_msg_uint(m, "req", &req);
	i = sg_wait_find(w, req);
	if (i < 0 || !w->waits[i]->sync)
		return;
	wt = w->waits[i];
	for (k = 0; k < wt->nasked && wt->asked[k] != g; k++)
		;
	if (k == wt->nasked)
		return;
	wt->asked[k] = wt->asked[--wt->nasked];
	if (wt->nasked == 0)
		sg_wait_end(w, (size_t)i, SIOGATE_STATUS_OK);
}

/*
 * Encode what syncs g for req: SYNC, or for a gateway that does not know
 * SYNC the receipt emitters used before it: a query about a room no one
 * is in (a gateway answers one peer's messages in order).
 */
static void
sg_enc_sync(struct siogate_worker *w, struct sg_gw *g, uint64_t req)
{
	if (!g->no_sync) {
		br_enc_reset(&w->enc, BR_T_SYNC, 1);
		br_enc_uint(&w->enc, "req", req);
		return;
	}
	br_enc_reset(&w->enc, BR_T_SIO_QUERY, 4);
	br_enc_uint(&w->enc, "req", req);
	br_enc_cstr(&w->enc, "nsp", "/");
	br_enc_cstr(&w->enc, "what", "rooms");
	br_enc_array(&w->enc, "to", 1);
	br_enc_item_str(&w->enc, "siogate:sync", 12);
}

/*
 * ERROR unknown-type for a SYNC: g predates it.  The oldest sync still
 * waiting for g past the last one refused is the one refused (ERRORs come
 * in order): ask it again the old way, and every later sync too.
 */
void
sg_sync_refused(struct siogate_worker *w, struct sg_gw *g)
{
	struct sg_wait *wt;
	size_t i, k;

	g->no_sync = 1;
	for (i = 0; i < w->nwaits; i++) {
		wt = w->waits[i];
		if (!wt->sync || wt->req <= g->sync_fallback)
			continue;
		for (k = 0; k < wt->nasked && wt->asked[k] != g; k++)
			;
		if (k == wt->nasked)
			continue;
		g->sync_fallback = wt->req;
		sg_enc_sync(w, g, wt->req);
		if (br_enc_failed(&w->enc) || sg_send_checked(w, g) != SIOGATE_OK) {
			wt->asked[k] = wt->asked[--wt->nasked];
			wt->lost = 1;
			if (wt->nasked == 0)
				sg_wait_end(w, i, SIOGATE_STATUS_GONE);
		}
		return;
	}
}

/*
 * ERROR unknown-sid for an SIO_EMIT: the socket was gone when the gateway
 * read it.  Whatever is still awaited of that socket there will not come
 * (answers and verdicts of earlier emits were sent before this ERROR).
 */
void
sg_acks_gone(struct siogate_worker *w, struct sg_gw *g, const char *id)
{
	size_t i = 0;

	while (i < w->nwaits && !w->dying) {
		if (!w->waits[i]->query && w->waits[i]->g == g &&
		    strcmp(w->waits[i]->id, id) == 0)
			sg_wait_end(w, i, SIOGATE_STATUS_DISCONNECTED);
		else
			i++;
	}
}

/*
 * Add wt (room made by sg_wait_room()), due ms from now plus a grace for
 * a gateway g that dies silently.
 */
static void
sg_wait_add(struct siogate_worker *w, struct sg_wait *wt, struct sg_gw *g,
    int64_t ms)
{
	wt->deadline = sg_now() + ms + SG_ACK_GRACE + 2 * g->peer_hb;
	w->waits[w->nwaits++] = wt;
}

/* A new wait, with room for it in w->waits; NULL when out of memory. */
static struct sg_wait *
sg_wait_alloc(struct siogate_worker *w)
{
	if (sg_wait_room(w) == -1)
		return NULL;
	return calloc(1, sizeof(struct sg_wait));
}

/*
 * Send the request encoded with req w->last_req + 1 to g and, once it is
 * out, make wt the wait for its answer (deadline ms from now).
 */
static int
sg_wait_send(struct siogate_worker *w, struct sg_wait *wt, struct sg_gw *g,
    int64_t ms, void *ud)
{
	int rc;

	if ((rc = sg_send_checked(w, g)) != SIOGATE_OK)
		return rc;
	wt->req = ++w->last_req;
	wt->ud = ud;
	sg_wait_add(w, wt, g, ms);
	return SIOGATE_OK;
}

/* Emit to one socket and wait for its ack. */
/* siogate_emit_ack() and siogate_emit_ack_nsp(): one of cb, ncb. */
static int
sg_emit_ack(struct siogate_worker *w, const char *nsp, const char *id,
    const char *ev, const char *args, const struct siogate_bin *bins,
    size_t nbins, unsigned timeout_ms, siogate_ack_cb cb,
    siogate_ack_nsp_cb ncb, void *ud)
{
	struct br_str atts[SIOGATE_MAX_BINS];
	const char *to[2] = { id, NULL };
	struct sg_wait *wt = NULL;
	struct sg_emit e;
	struct sg_gw *g;
	int rc;

	if (id == NULL || (cb == NULL && ncb == NULL))
		return SIOGATE_ERR_INVALID;
	if ((rc = sg_emit_prep(w, &e, nsp, ev, args, bins, nbins, atts)) != 0)
		return rc;
	rc = SIOGATE_ERR_NOGATEWAY;
	if ((g = sg_route_live(w, id)) == NULL &&
	    (g = sg_cluster_gw(w)) == NULL)
		goto out;
	rc = SIOGATE_ERR_NOMEM;
	if ((wt = sg_wait_alloc(w)) == NULL || (wt->id = strdup(id)) == NULL ||
	    (ncb != NULL && (wt->nsp = strdup(nsp ? nsp : "/")) == NULL))
		goto out;
	e.to = to;
	e.req = w->last_req + 1;
	e.timeout = timeout_ms ? timeout_ms : SG_TIMEOUT;
	if ((rc = sg_enc_emit(w, NULL, &e)) != SIOGATE_OK)
		goto out;
	wt->acb = cb;
	wt->ancb = ncb;
	wt->g = g;
	/*
	 * The gateway times the ack out and says so; our own deadline, a
	 * little later, covers a gateway that dies silently.
	 */
	if ((rc = sg_wait_send(w, wt, g, e.timeout, ud)) != SIOGATE_OK)
		goto out;
	wt = NULL;
out:
	sg_wait_free(wt);
	json_decref(e.args);
	return rc;
}

int
siogate_emit_ack(struct siogate_worker *w, const char *nsp, const char *id,
    const char *ev, const char *args, const struct siogate_bin *bins,
    size_t nbins, unsigned timeout_ms, siogate_ack_cb cb, void *ud)
{
	return sg_emit_ack(w, nsp, id, ev, args, bins, nbins, timeout_ms, cb,
	    NULL, ud);
}

int
siogate_emit_ack_nsp(struct siogate_worker *w, const char *nsp,
    const char *id, const char *ev, const char *args,
    const struct siogate_bin *bins, size_t nbins, unsigned timeout_ms,
    siogate_ack_nsp_cb cb, void *ud)
{
	return sg_emit_ack(w, nsp, id, ev, args, bins, nbins, timeout_ms, NULL,
	    cb, ud);
}

/* Encodes a request req for gateway g into w->enc: SIOGATE_OK or an error. */
typedef int (*sg_ask_fn)(struct siogate_worker *w, struct sg_gw *g,
    uint64_t req, void *arg);

/*
 * Send request w->last_req + 1, as enc encodes it, to every usable gateway
 * (wide: the loops of one cluster node only, see sg_lead_node()), noting
 * them in wt->asked; then wt waits for their answers until timeout_ms (0:
 * SG_TIMEOUT).  wt is freed when no gateway took it.
 */
static int
sg_ask(struct siogate_worker *w, struct sg_wait *wt, int wide, sg_ask_fn enc,
    void *arg, unsigned timeout_ms)
{
	const char *lead = wide ? sg_lead_node(w) : NULL;
	int rc, first = SIOGATE_OK;
	size_t k;

	for (k = 0; k < w->ngws; k++) {
		struct sg_gw *g = w->gws[k];

		if (!sg_usable(g) || sg_other_node(g, lead))
			continue;
		rc = enc(w, g, w->last_req + 1, arg);
		if (rc == SIOGATE_OK)
			rc = sg_send_checked(w, g);
		if (rc == SIOGATE_OK)
			wt->asked[wt->nasked++] = g;
		else if (first == SIOGATE_OK)
			first = rc;
	}
	if (wt->nasked == 0) {
		sg_wait_free(wt);
		return first != SIOGATE_OK ? first : SIOGATE_ERR_NOGATEWAY;
	}
	wt->req = ++w->last_req;
	wt->query = 1;
	wt->deadline = sg_now() + (timeout_ms ? timeout_ms : SG_TIMEOUT);
	w->waits[w->nwaits++] = wt;
	return SIOGATE_OK;
}

/* A new wait with room for every gateway, or NULL (out of memory). */
static struct sg_wait *
sg_wait_new(struct siogate_worker *w)
{
	struct sg_wait *wt = sg_wait_alloc(w);

	if (wt == NULL || (w->ngws > 0 && (wt->asked = calloc(w->ngws,
	    sizeof *wt->asked)) == NULL)) {
		sg_wait_free(wt);
		return NULL;
	}
	return wt;
}

/* What a query asks. */
struct sg_query {
	const char *nsp, *what;
	const char *const *to;
};

static int
sg_enc_query(struct siogate_worker *w, struct sg_gw *g, uint64_t req,
    void *arg)
{
	const struct sg_query *q = arg;

	(void)g;
	br_enc_reset(&w->enc, BR_T_SIO_QUERY, 3 + (sg_count(q->to) > 0));
	br_enc_uint(&w->enc, "req", req);
	br_enc_cstr(&w->enc, "nsp", q->nsp);
	br_enc_cstr(&w->enc, "what", q->what);
	if (sg_count(q->to) > 0)
		sg_enc_list(w, "to", q->to, NULL);
	return br_enc_failed(&w->enc) ? SIOGATE_ERR_NOMEM : SIOGATE_OK;
}

/* Ask every usable gateway about a namespace. */
int
siogate_query(struct siogate_worker *w, const char *nsp, const char *what,
    const char *const *to, unsigned timeout_ms, siogate_query_cb cb,
    void *ud)
{
	struct sg_query q = { nsp, what, to };
	struct sg_wait *wt;

	if (w == NULL || cb == NULL || what == NULL ||
	    (q.nsp = sg_nsp(nsp)) == NULL || sg_count(to) > UINT32_MAX ||
	    (strcmp(what, "sockets") != 0 && strcmp(what, "rooms") != 0) ||
	    w->dying)
		return SIOGATE_ERR_INVALID;
	if ((wt = sg_wait_new(w)) == NULL ||
	    br_buf_append(&wt->acc, "[", 1) == -1) {
		sg_wait_free(wt);
		return SIOGATE_ERR_NOMEM;
	}
	wt->rooms = strcmp(what, "rooms") == 0;
	wt->qcb = cb;
	wt->ud = ud;
	return sg_ask(w, wt, 1, sg_enc_query, &q, timeout_ms);
}

static int
sg_enc_sync_fn(struct siogate_worker *w, struct sg_gw *g, uint64_t req,
    void *arg)
{
	(void)arg;
	sg_enc_sync(w, g, req);
	return br_enc_failed(&w->enc) ? SIOGATE_ERR_NOMEM : SIOGATE_OK;
}

/* A barrier: called back once every usable gateway handled what came before. */
int
siogate_sync(struct siogate_worker *w, unsigned timeout_ms, siogate_sync_cb cb,
    void *ud)
{
	struct sg_wait *wt;

	if (w == NULL || cb == NULL || w->dying)
		return SIOGATE_ERR_INVALID;
	if ((wt = sg_wait_new(w)) == NULL)
		return SIOGATE_ERR_NOMEM;
	wt->sync = 1;
	wt->scb = cb;
	wt->ud = ud;
	return sg_ask(w, wt, 0, sg_enc_sync_fn, NULL, timeout_ms);
}

/* ---- server-side events (serverSideEmit) ---- */

/* Encode SIO_SERVER_EMIT (req 0: no answer asked). */
static int
sg_enc_server_emit(struct siogate_worker *w, const struct sg_emit *e,
    uint64_t req)
{
	int rc;

	rc = sg_enc_event(w, BR_T_SIO_SERVER_EMIT, 3 + (req != 0), e);
	if (rc != SIOGATE_OK)
		return rc;
	if (req != 0)
		br_enc_uint(&w->enc, "req", req);
	return br_enc_failed(&w->enc) ? SIOGATE_ERR_NOMEM : SIOGATE_OK;
}

/* Send an event to the other nodes of the cluster. */
int
siogate_server_emit(struct siogate_worker *w, const char *nsp,
    const char *ev, const char *args, const struct siogate_bin *bins,
    size_t nbins)
{
	struct br_str atts[SIOGATE_MAX_BINS];
	struct sg_emit e;
	struct sg_gw *g;
	int rc;

	if ((rc = sg_emit_prep(w, &e, nsp, ev, args, bins, nbins, atts)) != 0)
		return rc;
	rc = SIOGATE_ERR_NOGATEWAY;
	if ((g = sg_any_gw(w)) != NULL &&
	    (rc = sg_enc_server_emit(w, &e, 0)) == SIOGATE_OK)
		rc = sg_send_checked(w, g);
	json_decref(e.args);
	return rc;
}

/* The same, collecting every other node's answer. */
int
siogate_server_emit_ack(struct siogate_worker *w, const char *nsp,
    const char *ev, const char *args, const struct siogate_bin *bins,
    size_t nbins, siogate_query_cb cb, void *ud)
{
	struct br_str atts[SIOGATE_MAX_BINS];
	struct sg_wait *wt = NULL;
	struct sg_emit e;
	struct sg_gw *g;
	int rc;

	if (cb == NULL)
		return SIOGATE_ERR_INVALID;
	if ((rc = sg_emit_prep(w, &e, nsp, ev, args, bins, nbins, atts)) != 0)
		return rc;
	rc = SIOGATE_ERR_NOGATEWAY;
	if ((g = sg_any_gw(w)) == NULL)
		goto out;
	rc = SIOGATE_ERR_NOMEM;
	if ((wt = sg_wait_alloc(w)) == NULL ||
	    br_buf_append(&wt->acc, "[", 1) == -1 ||
	    (wt->asked = calloc(1, sizeof *wt->asked)) == NULL)
		goto out;
	if ((rc = sg_enc_server_emit(w, &e, w->last_req + 1)) != SIOGATE_OK)
		goto out;
	wt->query = 1;
	wt->sse = 1;
	wt->asked[wt->nasked++] = g;
	wt->qcb = cb;
	/* The gateway ends it at its request timeout; ours covers its death. */
	if ((rc = sg_wait_send(w, wt, g, (int64_t)g->cluster, ud)) !=
	    SIOGATE_OK)
		goto out;
	wt = NULL;
out:
	sg_wait_free(wt);
	json_decref(e.args);
	return rc;
}

/* Answer another node's server-side event. */
int
siogate_server_ack(struct siogate_worker *w, const char *gateway,
    uint64_t ack, const char *args, const struct siogate_bin *bins,
    size_t nbins)
{
	struct br_str atts[SIOGATE_MAX_BINS];
	struct sg_gw *g = NULL;
	json_t *v = NULL;
	size_t k;
	int rc;

	if (w == NULL || gateway == NULL || w->dying)
		return SIOGATE_ERR_INVALID;
	if ((rc = sg_bins(bins, nbins, atts)) != SIOGATE_OK)
		return rc;
	for (k = 0; k < w->ngws && g == NULL; k++)
		if (sg_usable(w->gws[k]) &&
		    strcmp(w->gws[k]->gwid, gateway) == 0)
			g = w->gws[k];
	if (g == NULL)
		return SIOGATE_ERR_NOGATEWAY;
	if ((rc = sg_parse(args ? args : "[]", JSON_ARRAY, &v)) != 0)
		return rc;
	br_enc_reset(&w->enc, BR_T_SIO_SERVER_ACK, 2);
	br_enc_uint(&w->enc, "req", ack);
	rc = sg_pack(w, "args", v, atts, nbins);
	json_decref(v);
	if (rc == SIOGATE_OK)
		rc = sg_send_checked(w, g);
	return rc;
}
