/*
 * gw_bridge.c: the gateway's ROUTER socket and its workers.
 *
 * ZeroMQ joins the libev loop through ZMQ_FD, which is edge-triggered: the
 * prepare step drains the socket until ZMQ_EVENTS shows no POLLIN, and
 * checks again after sending (a send can consume the edge), so the loop
 * never sleeps with a message waiting.
 *
 * Workers are addressed by their routing id and known by a small id.
 * Every event sent to a worker uses one credit; without credit, events wait
 * in that worker's backlog (bound: conf.max_backlog events; past it the
 * session whose event does not fit is closed and logged).  That ledger,
 * and the redelivery of a lost worker's events, is gw_ledger.c's.
 *
 * What workers serve is the layers' (gw_bridge_add_layer): eio_bridge.c
 * (raw Engine.IO sessions) and sio_bridge.c (Socket.IO sockets) take the
 * commands of their types, move a lost worker's sessions and say what
 * becomes of their events (redeliver, expired, release hooks).
 */
#include <errno.h>
#include <unistd.h>

#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "br_proto.h"
#include "gw_bridge.h"
#include "gw_curve.h"
#include "gw_ledger.h"

#define GW_DRAIN_BUDGET 1024
/* A worker's batch goes out early from this size... */
#define GW_BATCH_FLUSH (256u * 1024)
/* ...and, while ZeroMQ refuses it (EAGAIN), takes no more than this. */
#define GW_BATCH_MAX (16u * 1024 * 1024)
/*
 * Batch buffers above this size are not kept between turns.  Twice the early
 * flush size: a buffer grown past GW_BATCH_FLUSH (it doubles) is kept, not
 * freed and grown again from scratch on every flush of a busy turn.
 */
#define GW_BATCH_KEEP (2 * GW_BATCH_FLUSH)

static void bridge_drop_worker(struct gw *gw, struct gw_worker *w, const char *why);
static struct gw_worker *bridge_find_rid(struct gw_bridge *br, const void *rid, size_t n);

/* Send one frame to a routing id; 0, or -1 with errno. */
static int
bridge_send_raw(struct gw_bridge *br, const unsigned char *rid, size_t rid_len,
    const void *p, size_t n)
{
	br->sent = 1;
	if (zmq_send(br->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -1;
	if (zmq_send(br->router, p, n, ZMQ_DONTWAIT) < 0)
		return -1;
	return 0;
}

/*
 * Send what was batched for w this turn, as one frame (a lone message goes
 * without the BATCH wrapper).  0 when sent or empty; -1 with errno.  On
 * EAGAIN the batch is kept and tried again at the next turn; on another
 * error the worker is unreachable and dropped at the next turn.
 */
static int
bridge_flush(struct gw *gw, struct gw_worker *w)
{
	const char *p;
	size_t n;

	if (w->out.n == 0)
		return 0;
	br_batch_frame(&w->out, &p, &n);
	if (bridge_send_raw(gw->br, w->rid, w->rid_len, p, n) < 0) {
		if (errno == EAGAIN)
			return -1;
		w->dead = 1;
		gw_wake(gw);
	}
	br_batch_reset(&w->out);
	if (w->out.cap > GW_BATCH_KEEP)
		br_batch_free(&w->out);
	return 0;
}

/*
 * Send one message to a registered worker: straight out, or into its batch
 * for this turn when it takes BATCH (everything to one worker goes the
 * same way, so the order is kept).  0, or -1 with errno.
 */
int
gw_bridge_send_w(struct gw *gw, struct gw_worker *w, const void *p, size_t n)
{
	if (!w->batch)
		return bridge_send_raw(gw->br, w->rid, w->rid_len, p, n);
	if (w->out.len >= GW_BATCH_MAX && bridge_flush(gw, w) < 0)
		return -1;	/* EAGAIN: the caller keeps it or drops it, as unbatched */
	if (br_batch_add(&w->out, p, n) < 0) {
		errno = ENOMEM;
		return -1;
	}
	if (w->out.len >= GW_BATCH_FLUSH)
		(void)bridge_flush(gw, w);
	return 0;
}

/* Send an encoded control message (no credit) to a peer. */
static void
bridge_send_ctl(struct gw *gw, const unsigned char *rid, size_t rid_len, struct br_enc *e)
{
	struct gw_worker *w = bridge_find_rid(gw->br, rid, rid_len);
	int rc;

	rc = w != NULL ? gw_bridge_send_w(gw, w, e->sb.data, e->sb.size) :
	    bridge_send_raw(gw->br, rid, rid_len, e->sb.data, e->sb.size);
	if (rc < 0)
		gw_debug("bridge: send to a peer failed: %s", zmq_strerror(errno));
	br_enc_free(e);
}

/* Reply ERROR {code, text, ref, [sid]} to a peer. */
static void
bridge_error(struct gw *gw, const unsigned char *rid, size_t rid_len, int code,
    const char *text, int ref, const char *sid, size_t sidlen)
{
	struct br_enc e;

	gw->st.err_worker_msg++;
	br_enc_init(&e, BR_T_ERROR, 3 + (sid != NULL));
	br_enc_uint(&e, "code", (uint64_t)code);
	br_enc_cstr(&e, "text", text);
	br_enc_uint(&e, "ref", (uint64_t)(ref > 0 ? ref : 0));
	if (sid != NULL)
		br_enc_str(&e, "sid", sid, sidlen);
	bridge_send_ctl(gw, rid, rid_len, &e);
}

/* The worker with this routing id, or NULL. */
static struct gw_worker *
bridge_find_rid(struct gw_bridge *br, const void *rid, size_t n)
{
	struct gw_worker *w;

	for (w = br->workers; w != NULL; w = w->next) {
		if (w->rid_len == n && memcmp(w->rid, rid, n) == 0)
			return w;
	}
	return NULL;
}

/* The worker with this id, or NULL. */
static struct gw_worker *
bridge_find_id(struct gw_bridge *br, uint32_t id)
{
	struct gw_worker *w;

	for (w = br->workers; w != NULL; w = w->next) {
		if (w->id == id)
			return w;
	}
	return NULL;
}

/* Free a worker's namespace list. */
static void
bridge_free_nsp(struct gw_worker *w)
{
	uint32_t i;

	for (i = 0; i < w->nnsp; i++)
		free(w->nsp[i]);
	free(w->nsp);
	w->nsp = NULL;
	w->nnsp = 0;
	w->nsp_open = 0;
}

/* Forget a worker: close its sessions, free it. */
static void
bridge_drop_worker(struct gw *gw, struct gw_worker *w, const char *why)
{
	struct gw_bridge *br = gw->br;
	struct gw_worker **pp;
	uint32_t i;

	for (pp = &br->workers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	gw_warn("worker %u (%s) dropped: %s; moving its %u session(s)/socket(s), %u event(s) in "
	    "flight and %u waiting", w->id, w->name, why, w->nsess, w->inflight.n, w->backlog.n);
	gw->st.workers_lost++;
	/* 1. New owners: other workers of the same endpoint or namespace. */
	for (i = 0; i < br->nlayers; i++)
		br->layer[i]->rehome(gw, w->id);
	/* 2. Its unfinished events, in order, to the new owners (gw_ledger.c). */
	gw_ledger_lost(gw, w);
	/* 3. What found no new owner is closed; clients reconnect. */
	for (i = 0; i < br->nlayers; i++)
		br->layer[i]->orphans(gw);
	gw_ledger_free(w);
	br_batch_free(&w->out);
	bridge_free_nsp(w);
	free(w);
}

/* Bit of a raw endpoint served by path, -1 if the path is no raw endpoint. */
static int
bridge_ep_bit(struct gw *gw, const char *p, size_t n)
{
	int i;

	for (i = 0; i < gw->conf.nep; i++) {
		const struct gw_endpoint *ep = &gw->conf.ep[i];

		if (ep->kind != GW_EP_RAW)
			continue;
		if ((n == ep->plen && memcmp(p, ep->path, n) == 0) ||
		    (n + 1 == ep->plen && memcmp(p, ep->path, n) == 0))
			return i;
	}
	return -1;
}

/* HELLO: register (or re-register) a worker. */
static void
bridge_hello(struct gw *gw, const unsigned char *rid, size_t rid_len, struct br_msg *m)
{
	struct gw_bridge *br = gw->br;
	struct gw_worker *w;
	const msgpack_object *eio = br_msg_get(m, "eio");
	struct br_str name = { "", 0 };
	const msgpack_object *nsp, *nsp_open, *batch = br_msg_get(m, "batch");
	const msgpack_object *ordered = br_msg_get(m, "ordered");
	uint64_t credit = BR_DEFAULT_CREDIT, hb = BR_DEFAULT_HB_MS;
	uint32_t mask = 0, i;
	char paths[512] = "";
	struct br_enc e;

	if (br_msg_get(m, "name") != NULL && br_msg_str(m, "name", &name) < 0)
		goto bad;
	if (br_msg_get(m, "credit") != NULL && br_msg_uint(m, "credit", &credit) < 0)
		goto bad;
	if (br_msg_get(m, "hb") != NULL && (br_msg_uint(m, "hb", &hb) < 0 || hb < 10 ||
	    hb > 3600000))
		goto bad;
	if (eio != NULL && eio->type != MSGPACK_OBJECT_NIL) {
		if (eio->type != MSGPACK_OBJECT_ARRAY)
			goto bad;
		for (i = 0; i < eio->via.array.size; i++) {
			struct br_str p;
			int bit;

			if (br_obj_str(&eio->via.array.ptr[i], &p) < 0)
				goto bad;
			bit = bridge_ep_bit(gw, p.p, p.n);
			if (bit < 0) {
				char esc[128], text[200];

				snprintf(text, sizeof text, "no raw Engine.IO endpoint at %s",
				    gw_log_escape(esc, sizeof esc, p.p, p.n));
				bridge_error(gw, rid, rid_len, BR_E_NOT_SERVED, text, BR_T_HELLO, NULL, 0);
				gw_warn("bridge: HELLO refused: %s", text);
				return;
			}
			mask |= 1u << bit;
			snprintf(paths + strlen(paths), sizeof paths - strlen(paths), " %s",
			    gw->conf.ep[bit].path);
		}
	}
	nsp = br_msg_get(m, "nsp");
	nsp_open = br_msg_get(m, "nsp_open");
	if (nsp != NULL && (nsp->type != MSGPACK_OBJECT_ARRAY || nsp->via.array.size > 64))
		goto bad;
	if (nsp_open != NULL && nsp_open->type != MSGPACK_OBJECT_ARRAY)
		goto bad;
	if (batch != NULL && batch->type != MSGPACK_OBJECT_BOOLEAN)
		goto bad;
	if (ordered != NULL && ordered->type != MSGPACK_OBJECT_BOOLEAN)
		goto bad;
	for (i = 0; nsp != NULL && i < nsp->via.array.size; i++) {
		struct br_str p;

		if (br_obj_str(&nsp->via.array.ptr[i], &p) < 0 || p.n == 0 || p.n > 255 ||
		    (p.p[0] != '/' && !(p.n == 1 && p.p[0] == '*')))
			goto bad;
	}
	for (i = 0; nsp_open != NULL && i < nsp_open->via.array.size; i++) {
		struct br_str p;

		if (br_obj_str(&nsp_open->via.array.ptr[i], &p) < 0)
			goto bad;
	}
	if (credit > 1000000)
		credit = 1000000;
	w = bridge_find_rid(br, rid, rid_len);
	if (w == NULL) {
		w = gw_xcalloc(1, sizeof *w);
		w->id = ++br->next_wid;
		w->rid_len = (uint8_t)rid_len;
		memcpy(w->rid, rid, rid_len);
		w->next = br->workers;
		br->workers = w;
	}
	gw_log_escape(w->name, sizeof w->name, name.p, name.n);
	/* What was batched under the old registration goes first, as it was. */
	(void)bridge_flush(gw, w);
	if (w->out.n > 0) {
		gw_warn("worker %u (%s): %u message(s) dropped at its new HELLO (ZeroMQ queue full)",
		    w->id, w->name, w->out.n);
		br_batch_reset(&w->out);
	}
	w->batch = batch != NULL && batch->via.boolean;
	w->unordered = ordered != NULL && !ordered->via.boolean;
	w->eio_mask = mask;
	bridge_free_nsp(w);
	if (nsp != NULL && nsp->via.array.size > 0) {
		w->nsp = gw_xcalloc(nsp->via.array.size, sizeof *w->nsp);
		for (i = 0; i < nsp->via.array.size; i++) {
			struct br_str p;
			uint32_t j;

			br_obj_str(&nsp->via.array.ptr[i], &p);
			w->nsp[w->nnsp] = gw_xstrndup(p.p, p.n);
			for (j = 0; nsp_open != NULL && j < nsp_open->via.array.size; j++) {
				struct br_str o;

				br_obj_str(&nsp_open->via.array.ptr[j], &o);
				if (o.n == p.n && memcmp(o.p, p.p, p.n) == 0 && w->nnsp < 64)
					w->nsp_open |= 1ull << w->nnsp;
			}
			w->nnsp++;
			snprintf(paths + strlen(paths), sizeof paths - strlen(paths), " %s%s",
			    w->nsp[w->nnsp - 1], (w->nsp_open >> (w->nnsp - 1)) & 1 ? "(open)" : "");
		}
	}
	w->credit = (uint32_t)credit;
	w->hb_ms = (uint32_t)hb;
	w->last_rx = ev_now(gw->loop);
	gw_info("worker %u (%s) registered: serves%s credit %u heartbeat %u ms%s%s", w->id,
	    w->name[0] ? w->name : "unnamed", paths[0] ? paths : " none", w->credit, w->hb_ms,
	    w->batch ? " batch" : "", w->unordered ? " unordered" : "");
	br_enc_init(&e, BR_T_WELCOME, (gw->sh->n > 1 ? 5 : 4) + (gw->cl != NULL ? 2 : 0));
	br_enc_cstr(&e, "gw", gw->id);
	br_enc_uint(&e, "wid", w->id);
	br_enc_uint(&e, "hb", gw->conf.bridge_hb);
	br_enc_key(&e, "batch");	/* this gateway takes BATCH frames */
	msgpack_pack_true(&e.pk);
	if (gw->cl != NULL) {
		/* A cluster node (gw->cl, set up by gw_cluster.c): its request
		   timeout, and the node its loops share. */
		br_enc_uint(&e, "cluster", gw->conf.cluster_request_timeout);
		br_enc_str(&e, "node", gw->id, gw->sh->n > 1 ? 3 : strlen(gw->id));
	}
	if (gw->sh->n > 1) {
		/* threads = N: every loop's bridge, to connect to all of them. */
		int i;

		br_enc_array(&e, "bridges", (uint32_t)gw->sh->n);
		for (i = 0; i < gw->sh->n; i++)
			br_enc_item_str(&e, gw->sh->bridges[i], strlen(gw->sh->bridges[i]));
	}
	bridge_send_ctl(gw, rid, rid_len, &e);
	w->last_tx = ev_now(gw->loop);
	/*
	 * A HELLO resets the window: the CREDIT for what is in flight may
	 * have been lost with the connection, so no socket waits for it any
	 * more (the events stay in flight, for redelivery).
	 */
	gw_ledger_reset(gw, w);
	gw_ledger_flush(gw, w);
	return;
bad:
	bridge_error(gw, rid, rid_len, BR_E_BAD_MESSAGE, "malformed HELLO", BR_T_HELLO, NULL, 0);
}

/* STATUS: live figures for an operator (siogate --status), from the status hook. */
static void
bridge_status(struct gw *gw, const unsigned char *rid, size_t rid_len)
{
	struct br_enc e;

	if (gw->br->on_status == NULL)
		return;
	gw->br->on_status(gw, &e);
	bridge_send_ctl(gw, rid, rid_len, &e);
}

void
gw_bridge_on_status(struct gw *gw, gw_bridge_status_fn fn)
{
	if (gw->br != NULL)
		gw->br->on_status = fn;
}

void
gw_bridge_add_layer(struct gw *gw, const struct gw_bridge_layer *l)
{
	if (gw->br != NULL && gw->br->nlayers < GW_BRIDGE_LAYERS)
		gw->br->layer[gw->br->nlayers++] = l;
}

void
gw_bridge_on_sync(struct gw *gw, gw_bridge_sync_fn fn)
{
	if (gw->br != NULL)
		gw->br->on_sync = fn;
}

void
gw_bridge_sync_reply(struct gw *gw, const unsigned char *rid, size_t rid_len, uint64_t req)
{
	struct br_enc e;

	if (gw->br == NULL)
		return;
	br_enc_init(&e, BR_T_SYNC_REPLY, 1);
	br_enc_uint(&e, "req", req);
	bridge_send_ctl(gw, rid, rid_len, &e);
}

/*
 * SYNC, from any peer: answer SYNC_REPLY once everything the peer sent
 * before it was handled.  A peer's messages are handled in order, one at a
 * time, so that is now, except for what this loop published to the
 * cluster: then the answer waits until Redis has answered every PUBLISH
 * made before it (the cluster's on_sync hook), so that an emitter that
 * exits on SYNC_REPLY knows its broadcasts are in Redis, not in our
 * buffers.
 */
static void
bridge_sync(struct gw *gw, const unsigned char *rid, size_t rid_len, const struct br_msg *m)
{
	uint64_t req = 0;

	br_msg_uint(m, "req", &req);	/* checked by the decoder */
	if (gw->br->on_sync == NULL || !gw->br->on_sync(gw, rid, rid_len, req))
		gw_bridge_sync_reply(gw, rid, rid_len, req);
}

static void bridge_handle(struct gw *gw, const unsigned char *rid, size_t rid_len,
    const void *p, size_t n, uint32_t item);

/*
 * BATCH: each message of msgs is handled as if it had come in a frame of
 * its own, in order; a bad one gets its own ERROR (its text names the
 * item) and the others are still handled.
 */
static void
bridge_batch(struct gw *gw, const unsigned char *rid, size_t rid_len, const struct br_msg *m)
{
	const msgpack_object *msgs = br_msg_get(m, "msgs");
	uint32_t i;

	for (i = 0; i < msgs->via.array.size; i++)
		bridge_handle(gw, rid, rid_len, msgs->via.array.ptr[i].via.bin.ptr,
		    msgs->via.array.ptr[i].via.bin.size, i + 1);
}

/* Handle one frame from a peer, or item - 1 of a BATCH frame (item > 0). */
static void
bridge_handle(struct gw *gw, const unsigned char *rid, size_t rid_len, const void *p, size_t n,
    uint32_t item)
{
	struct gw_bridge *br = gw->br;
	struct br_msg m;
	struct gw_worker *w;
	int code = 0;
	const char *why = NULL;
	char text[192];
	uint64_t v;
	uint32_t i;

	memset(&m, 0, sizeof m);
	if (br_msg_decode_ref(&m, p, n, &code, &why) < 0) {
		if (m.type != BR_T_ERROR) {
			if (item > 0) {
				snprintf(text, sizeof text, "BATCH item %u: %s", item - 1, why);
				why = text;
			}
			gw_info("bridge: bad message from a peer: %s", why);
			bridge_error(gw, rid, rid_len, code, why, m.type, NULL, 0);
		}
		br_msg_free(&m);
		return;
	}
	if (m.type == BR_T_BATCH) {
		if (item > 0) {
			snprintf(text, sizeof text, "BATCH item %u: a BATCH inside a BATCH", item - 1);
			gw_info("bridge: bad message from a peer: %s", text);
			bridge_error(gw, rid, rid_len, BR_E_BAD_MESSAGE, text, BR_T_BATCH, NULL, 0);
		} else {
			bridge_batch(gw, rid, rid_len, &m);
		}
		br_msg_free(&m);
		return;
	}
	w = bridge_find_rid(br, rid, rid_len);
	if (m.type == BR_T_STATUS) {
		bridge_status(gw, rid, rid_len);
		br_msg_free(&m);
		return;
	}
	if (m.type == BR_T_SYNC) {
		if (w != NULL)
			w->last_rx = ev_now(gw->loop);
		bridge_sync(gw, rid, rid_len, &m);
		br_msg_free(&m);
		return;
	}
	if (m.type == BR_T_HELLO) {
		bridge_hello(gw, rid, rid_len, &m);
		br_msg_free(&m);
		return;
	}
	if (w == NULL) {
		if (m.type != BR_T_ERROR && m.type != BR_T_BYE)
			bridge_error(gw, rid, rid_len, BR_E_NOT_REGISTERED, "say HELLO first", m.type,
			    NULL, 0);
		br_msg_free(&m);
		return;
	}
	w->last_rx = ev_now(gw->loop);
	switch (m.type) {
	case BR_T_HEARTBEAT:
		break;
	case BR_T_CREDIT:
		if (br_msg_uint(&m, "n", &v) < 0) {
			bridge_error(gw, rid, rid_len, BR_E_BAD_MESSAGE, "CREDIT needs n", m.type, NULL, 0);
			break;
		}
		w->credit = v > 1000000 - w->credit ? 1000000 : w->credit + (uint32_t)v;
		gw_debug("worker %u: CREDIT %llu, %u in flight, %u waiting", w->id,
		    (unsigned long long)v, w->inflight.n, w->backlog.n);
		gw_ledger_paid(gw, w, v);
		gw_ledger_flush(gw, w);
		break;
	case BR_T_BYE:
		bridge_drop_worker(gw, w, "said BYE");
		break;
	case BR_T_ERROR: {
		struct br_str text = { "", 0 };
		char esc[256];

		br_msg_str(&m, "text", &text);
		gw_warn("worker %u (%s) reports an error: %s", w->id, w->name,
		    gw_log_escape(esc, sizeof esc, text.p, text.n));
		break;
	}
	default:
		for (i = 0; i < br->nlayers; i++) {
			if (br->layer[i]->command(gw, w, &m))
				break;
		}
		if (i < br->nlayers)
			break;
		if (m.type > 0 && br_type_name(m.type)[0] != '?')
			bridge_error(gw, rid, rid_len, BR_E_BAD_MESSAGE,
			    "message type not accepted from a worker", m.type, NULL, 0);
		else
			bridge_error(gw, rid, rid_len, BR_E_UNKNOWN_TYPE, "unknown message type", m.type,
			    NULL, 0);
		break;
	}
	br_msg_free(&m);
}

/* Receive and handle up to budget messages; returns how many. */
static int
bridge_drain(struct gw *gw, int budget)
{
	struct gw_bridge *br = gw->br;
	int done = 0;

	while (done < budget) {
		zmq_msg_t id, body;
		int more;
		size_t ml = sizeof more;

		zmq_msg_init(&id);
		if (zmq_msg_recv(&id, br->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&id);
			break;
		}
		zmq_msg_init(&body);
		if (zmq_msg_recv(&body, br->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&body);
			zmq_msg_close(&id);
			break;
		}
		/* More than one body frame: not ours; drain and refuse. */
		zmq_getsockopt(br->router, ZMQ_RCVMORE, &more, &ml);
		if (more) {
			zmq_msg_t extra;

			while (more) {
				zmq_msg_init(&extra);
				zmq_msg_recv(&extra, br->router, ZMQ_DONTWAIT);
				zmq_msg_close(&extra);
				zmq_getsockopt(br->router, ZMQ_RCVMORE, &more, &ml);
			}
			bridge_error(gw, zmq_msg_data(&id), zmq_msg_size(&id), BR_E_BAD_MESSAGE,
			    "one frame per message", 0, NULL, 0);
		} else if (zmq_msg_size(&id) > 0 && zmq_msg_size(&id) <= 255) {
			bridge_handle(gw, zmq_msg_data(&id), zmq_msg_size(&id), zmq_msg_data(&body),
			    zmq_msg_size(&body), 0);
		}
		zmq_msg_close(&body);
		zmq_msg_close(&id);
		done++;
	}
	return done;
}

/* Drain until ZMQ_EVENTS shows nothing to read (or the budget is spent). */
void
gw_bridge_turn(struct gw *gw)
{
	struct gw_bridge *br = gw->br;
	int budget = GW_DRAIN_BUDGET, ev;
	size_t el = sizeof ev;

	if (br == NULL)
		return;
	gw_curve_turn(br->curve);
	for (;;) {
		struct gw_worker *w, *next;

		for (w = br->workers; w != NULL; w = next) {
			next = w->next;
			if (w->dead)
				bridge_drop_worker(gw, w, "unreachable");
		}
		budget -= bridge_drain(gw, budget);
		/* What this turn produced for batch workers: one frame each. */
		for (w = br->workers; w != NULL; w = w->next)
			(void)bridge_flush(gw, w);
		br->sent = 0;
		if (zmq_getsockopt(br->router, ZMQ_EVENTS, &ev, &el) < 0 || !(ev & ZMQ_POLLIN))
			break;
		if (budget <= 0) {
			gw_wake(gw);	/* more to do: come back without sleeping */
			break;
		}
	}
}

static void
bridge_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	gw_bridge_turn(w->data);
}

/*
 * The last prepare watcher (lowest priority): what was batched after the
 * bridge's own turn in the prepare step (a close told to a worker while
 * sessions were flushed or reaped) goes out before the loop sleeps.
 */
static void
bridge_flush_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
	struct gw *gw = p->data;
	struct gw_bridge *br = gw->br;
	struct gw_worker *w;
	int ev;
	size_t el = sizeof ev;

	br->sent = 0;
	for (w = br->workers; w != NULL; w = w->next)
		(void)bridge_flush(gw, w);
	/* A send can consume the ZMQ_FD edge: come back if input waits. */
	if (br->sent && zmq_getsockopt(br->router, ZMQ_EVENTS, &ev, &el) == 0 &&
	    (ev & ZMQ_POLLIN))
		gw_wake(gw);
	br->sent = 0;
}

/* Heartbeats out, silent workers dropped. */
static void
bridge_hb_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct gw *gw = t->data;
	struct gw_worker *w, *next;
	ev_tstamp now;
	uint32_t i;

	/* Read what arrived first: after a pause of our own, workers' heartbeats wait there. */
	gw_bridge_turn(gw);
	ev_now_update(loop);
	now = ev_now(loop);

	for (w = gw->br->workers; w != NULL; w = next) {
		next = w->next;
		if (now - w->last_rx > BR_DEAD_AFTER_MISSED * w->hb_ms / 1000.0) {
			bridge_drop_worker(gw, w, "heartbeat lost");
			continue;
		}
		gw_ledger_expire(gw, w, now);
		if (now - w->last_tx >= gw->conf.bridge_hb / 1000.0) {
			struct br_enc e;

			br_enc_init(&e, BR_T_HEARTBEAT, 0);
			bridge_send_ctl(gw, w->rid, w->rid_len, &e);
			w->last_tx = now;
		}
	}
	for (i = 0; i < gw->br->nlayers; i++)
		if (gw->br->layer[i]->tick != NULL)
			gw->br->layer[i]->tick(gw, now);
}

/*
 * The worker with this id, or NULL.  A worker found unreachable in this
 * turn is still returned: what is sent to it waits in its queues and is
 * redelivered when it is dropped at the next turn, instead of being lost.
 */
struct gw_worker *
gw_bridge_find_worker(struct gw *gw, uint32_t id)
{
	return bridge_find_id(gw->br, id);
}

void
gw_bridge_send_ctl(struct gw *gw, struct gw_worker *w, struct br_enc *e)
{
	bridge_send_ctl(gw, w->rid, w->rid_len, e);
}

void
gw_bridge_error(struct gw *gw, struct gw_worker *w, int code, const char *text, int ref,
    const char *sid, size_t sidlen)
{
	bridge_error(gw, w->rid, w->rid_len, code, text, ref, sid, sidlen);
}

/* Whether a namespace pattern (exact, "prefix*" or "*") matches name. */
static int
bridge_nsp_match(const char *pat, const char *name, size_t n)
{
	size_t pl = strlen(pat);

	if (pl > 0 && pat[pl - 1] == '*')
		return n >= pl - 1 && memcmp(pat, name, pl - 1) == 0;
	return pl == n && memcmp(pat, name, n) == 0;
}

/* The worker of a namespace with the fewest sockets; *open if no round trip. */
struct gw_worker *
gw_bridge_pick_nsp(struct gw *gw, const char *name, size_t n, int *open)
{
	struct gw_worker *w, *best = NULL;
	int best_open = 0;
	uint32_t i;

	gw->br->rr++;
	for (w = gw->br->workers; w != NULL; w = w->next) {
		if (w->dead)
			continue;
		for (i = 0; i < w->nnsp; i++) {
			if (!bridge_nsp_match(w->nsp[i], name, n))
				continue;
			if (best == NULL || w->nsess < best->nsess ||
			    (w->nsess == best->nsess && ((w->id ^ gw->br->rr) & 1))) {
				best = w;
				best_open = i < 64 && ((w->nsp_open >> i) & 1);
			}
			break;
		}
	}
	if (open != NULL)
		*open = best_open;
	return best;
}

int
gw_bridge_serves_nsp(struct gw *gw, const char *name, size_t n)
{
	return gw_bridge_pick_nsp(gw, name, n, NULL) != NULL;
}

/* Bind the ROUTER socket and join the loop. */
int
gw_bridge_start(struct gw *gw, const char **why)
{
	struct gw_bridge *br = gw_xcalloc(1, sizeof *br);
	int one = 1, fd;
	size_t fl = sizeof fd;
	/*
	 * Largest frame a worker may send.  Up to it, a payload over maxPayload
	 * gets a clear ERROR; past it ZeroMQ drops the connection (the DEALER
	 * reconnects), which bounds what decoding a hostile frame can cost.
	 */
	int64_t maxmsg = 4 * (int64_t)gw->conf.max_payload + 65536;

	gw->br = br;
	br->zctx = zmq_ctx_new();
	br->router = zmq_socket(br->zctx, ZMQ_ROUTER);
	if (br->router == NULL) {
		*why = "cannot create the ZeroMQ ROUTER socket";
		return -1;
	}
	zmq_setsockopt(br->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
	zmq_setsockopt(br->router, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
	zmq_setsockopt(br->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
	{
		int linger = 200;

		zmq_setsockopt(br->router, ZMQ_LINGER, &linger, sizeof linger);
	}
	if (gw_curve_start(gw, br->zctx, br->router, &br->curve, why) < 0)
		return -1;
	if (zmq_bind(br->router, gw->bridge_ep) < 0) {
		static char msg[300];

		snprintf(msg, sizeof msg, "cannot bind the bridge to %s: %s", gw->bridge_ep,
		    zmq_strerror(errno));
		*why = msg;
		return -1;
	}
	{
		char last[256];
		size_t ll = sizeof last;

		if (zmq_getsockopt(br->router, ZMQ_LAST_ENDPOINT, last, &ll) < 0)
			snprintf(last, sizeof last, "%s", gw->bridge_ep);
		gw->sh->bridges[gw->idx] = gw_xstrndup(last, strlen(last));
	}
	zmq_getsockopt(br->router, ZMQ_FD, &fd, &fl);
	ev_io_init(&br->io, bridge_io_cb, fd, EV_READ);
	br->io.data = gw;
	ev_io_start(gw->loop, &br->io);
	ev_timer_init(&br->hb, bridge_hb_cb, gw->conf.bridge_hb / 4000.0, gw->conf.bridge_hb / 4000.0);
	br->hb.data = gw;
	ev_timer_start(gw->loop, &br->hb);
	ev_prepare_init(&br->flush, bridge_flush_cb);
	ev_set_priority(&br->flush, EV_MINPRI);
	br->flush.data = gw;
	ev_prepare_start(gw->loop, &br->flush);
	gw_info("bridge bound to %s (gateway id %s)", gw->sh->bridges[gw->idx], gw->id);
	return 0;
}

/* Say BYE to every worker and close the socket. */
void
gw_bridge_stop(struct gw *gw)
{
	struct gw_bridge *br = gw->br;
	struct gw_worker *w;

	if (br == NULL)
		return;
	while ((w = br->workers) != NULL) {
		struct br_enc e;

		(void)bridge_flush(gw, w);
		br_enc_init(&e, BR_T_BYE, 0);
		if (bridge_send_raw(br, w->rid, w->rid_len, e.sb.data, e.sb.size) < 0)
			gw_debug("bridge: BYE to worker %u failed: %s", w->id, zmq_strerror(errno));
		br_enc_free(&e);
		br->workers = w->next;
		gw_ledger_free(w);
		br_batch_free(&w->out);
		bridge_free_nsp(w);
		free(w);
	}
	ev_io_stop(gw->loop, &br->io);
	ev_timer_stop(gw->loop, &br->hb);
	ev_prepare_stop(gw->loop, &br->flush);
	if (br->router != NULL)
		zmq_close(br->router);
	gw_curve_stop(gw, br->curve);
	zmq_ctx_term(br->zctx);
	free(br);
	gw->br = NULL;
}

/* Live workers. */
unsigned
gw_bridge_workers(struct gw *gw)
{
	struct gw_worker *w;
	unsigned n = 0;

	for (w = gw->br ? gw->br->workers : NULL; w != NULL; w = w->next)
		n += !w->dead;
	return n;
}

