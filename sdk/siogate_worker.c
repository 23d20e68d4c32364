/*
 * siogate_worker.c: libsiogate, the worker side of the bridge protocol
 * (siogate-protocol(7), API in siogate.h and libsiogate(3)).
 *
 * Ownership: the caller owns the struct siogate_worker; it owns one
 * struct sg_gw per connected gateway (the gws array), each holding a DEALER
 * socket and the PAIR socket that receives that DEALER's monitor events.
 * All of them, the zmq context, the epoll fd and the wake eventfd are freed
 * by sg_destroy().
 *
 * Registration state of one gateway:
 *
 *	  connect / link up / BYE / NOT_REGISTERED / gateway silent
 *	      |                                  ^
 *	      v                                  |
 *	  SG_HELLO --- WELCOME ---------------> SG_READY
 *	  (HELLO now and every hb ms;           (HEARTBEAT when we sent nothing
 *	   sooner while the link is down)        for hb ms)
 *
 * The link (ZMTP connection) is tracked apart from registration, through
 * the socket monitor: sends are refused with NOGATEWAY while it is down,
 * and a fresh link always says HELLO at once (the gateway may have
 * restarted).  The DEALER reconnects by itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>

#include <zmq.h>

#include "br_json.h"
#include "br_proto.h"
#include "siogate.h"

#define SG_MAX_NAME 255			/* bytes of a worker name */
#define SG_MAX_PATH 255			/* bytes of a served path */
#define SG_HB_MIN 10			/* ms */
#define SG_HB_MAX 600000		/* ms */
#define SG_HELLO_RETRY_MIN 10		/* ms: first retry of an unqueued HELLO */
#define SG_REJECT_RETRY_MAX 60000	/* ms: HELLO retry after a rejection */
#define SG_CREDIT_RETRY 10		/* ms: retry of an unsent CREDIT */
#define SG_BATCH_MAX 1024		/* messages per process call, then yield */
#define SG_BYE_LINGER 100		/* ms to flush BYE at free */
#define SG_KEEP_BUF (512u * 1024)	/* bytes of buffers kept between calls (2 x SG_OUT_FLUSH) */
#define SG_MAX_NSP 255			/* bytes of a served namespace */
#define SG_OUT_FLUSH (256u * 1024)	/* a batch goes out early from here */
#define SG_OUT_MAX (16u * 1024 * 1024)	/* while ZeroMQ refuses it: AGAIN */
#define SG_TIMEOUT 10000		/* ms: default ack and query timeout */
#define SG_ACK_GRACE 1000		/* ms past an ack timeout: the SDK's own */
#define SG_IN_DEPTH 32			/* nesting of a value from a gateway (the
					   decoder's own limit is lower) */

/* The SDK's error codes mirror the wire's; keep them in step. */
_Static_assert((int)SIOGATE_BR_BAD_MESSAGE == (int)BR_E_BAD_MESSAGE &&
    (int)SIOGATE_BR_BAD_VERSION == (int)BR_E_BAD_VERSION &&
    (int)SIOGATE_BR_UNKNOWN_TYPE == (int)BR_E_UNKNOWN_TYPE &&
    (int)SIOGATE_BR_NOT_REGISTERED == (int)BR_E_NOT_REGISTERED &&
    (int)SIOGATE_BR_UNKNOWN_SID == (int)BR_E_UNKNOWN_SID &&
    (int)SIOGATE_BR_TOO_LARGE == (int)BR_E_TOO_LARGE &&
    (int)SIOGATE_BR_NOT_SERVED == (int)BR_E_NOT_SERVED &&
    (int)SIOGATE_BR_NO_WORKER == (int)BR_E_NO_WORKER,
    "bridge error codes drifted");

enum sg_state {
	SG_HELLO = 1,	/* HELLO sent or due; waiting for WELCOME */
	SG_READY,	/* registered */
};

/* One gateway connection.  Owned by its worker (gws). */
struct sg_gw {
	void *sock;		/* DEALER */
	void *mon;		/* PAIR: monitor events of sock */
	char *endpoint;
	char *gwid;		/* from WELCOME; kept across disconnects */
	size_t gwid_len;
	uint64_t wid;
	int64_t peer_hb;	/* ms, the gateway's advertised interval */
	int state;
	int linked;		/* the ZMTP connection is up */
	int64_t last_sent;	/* ms, monotonic */
	int64_t last_recv;
	int64_t next_hello;
	int64_t hello_retry;	/* ms: next retry delay while unlinked */
	int64_t reject_retry;	/* ms: next retry delay after a rejection */
	uint64_t owed;		/* credit to return */
	int batch;		/* its WELCOME said it takes BATCH frames */
	int no_sync;		/* it answered SYNC with UNKNOWN_TYPE: an old
				   gateway, synced with a query instead */
	uint64_t sync_fallback;	/* req of the last SYNC it refused */
	uint64_t cluster;	/* WELCOME "cluster": its request timeout (ms),
				   0 when it is no cluster node */
	char node[32];		/* WELCOME "node": the cluster node its loops
				   share ("": none) */
	struct br_batch out;	/* messages for it, sent at the end of the
				   round (see sg_send_enc) */
};

/*
 * An answer the worker waits for: a client's ack (SIO_EMIT with req) or
 * the results of a query (SIO_QUERY, sent to several gateways).  Owned by
 * the worker's waits array, sorted by req (handed out in increasing order).
 * It ends exactly once: answered, timed out, its gateway lost, or the
 * worker freed; the callback runs after it left the array.
 */
struct sg_wait {
	uint64_t req;
	int query;		/* a query (qcb) or a sync, else an ack (acb) */
	int sync;		/* a sync (scb): a query without a result */
	int64_t deadline;	/* ms, monotonic: the SDK's own timeout */
	void *ud;
	siogate_ack_cb acb;	/* an ack (acb or ancb) or a query (qcb) */
	siogate_ack_nsp_cb ancb;
	siogate_query_cb qcb;
	siogate_sync_cb scb;
	char *id;		/* ack: the socket asked */
	char *nsp;		/* ack with ancb: its namespace */
	struct sg_gw *g;	/* ack: its gateway */
	struct sg_gw **asked;	/* query: gateways yet to answer */
	size_t nasked;
	int rooms;		/* query: "rooms", merged as a set */
	int sse;		/* query: a server-side emit's answers
				   (SIO_SERVER_RESULT) */
	int lost;		/* query: a gateway was lost */
	struct br_buf acc;	/* query: result items so far, comma-separated */
	char **seen;		/* query "rooms": names already in acc */
	size_t nseen;
};

struct siogate_worker {
	struct siogate_callbacks cb;
	void *ud;
	void *zctx;
	int epfd;
	int evfd;			/* wake-up eventfd, in the epoll set */
	volatile sig_atomic_t stop;

	char *name;
	unsigned credit;
	int unordered;			/* HELLO "ordered": false */
	unsigned hb;			/* ms */
	char **paths;
	size_t npaths;
	char curve_server[41];		/* "" : CURVE off */
	char curve_public[41];
	char curve_secret[41];
	char **nsps;			/* served Socket.IO namespaces */
	unsigned char *nsp_open;	/* nsps[i] needs no connect answer */
	size_t nnsps;
	int frozen;			/* connected once: HELLO fields are fixed */

	struct sg_gw **gws;
	size_t ngws;

	int in_process;			/* inside siogate_worker_process */
	int dying;			/* freed from a callback */
	int more;			/* a send left input pending: go round */
	int proto_err;			/* a bad message was seen this call */
	int sys_err;			/* a NOMEM/ZMQ error this call */

	struct br_enc enc;		/* the one encoder, reused */
	char *sbuf;			/* copies handed to callbacks */
	size_t scap;
	struct siogate_header *hdrs;	/* handshake headers and query */
	size_t hcap;
	unsigned mon_seq;

	uint64_t last_req;		/* request ids handed out so far */
	struct sg_wait **waits;		/* sorted by req */
	size_t nwaits, capwaits;
	struct br_buf jbuf;		/* JSON text handed to callbacks */
	struct br_str iatt[SIOGATE_MAX_BINS];	/* bins of one message */
	struct siogate_bin ibin[SIOGATE_MAX_BINS];
	const char **rooms;		/* room lists handed to callbacks */
	size_t roomcap;
	/*
	 * The event being handed to sio_event: its args as JSON text (in
	 * jbuf) and as they came, so that an ack or emit that passes the
	 * same text and bins back is packed from the msgpack as it came,
	 * without parsing the JSON again.  NULL outside that callback.
	 */
	const char *ev_json;
	const msgpack_object *ev_args;
	size_t ev_nbins;
	siogate_server_event_cb server_event;	/* NULL: ignored */
};

/* Milliseconds of the monotonic clock. */
static int64_t
sg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A static English description of a SIOGATE_* code. */
const char *
siogate_strerror(int err)
{
	switch (err) {
	case SIOGATE_OK: return "success";
	case SIOGATE_ERR_NOMEM: return "out of memory";
	case SIOGATE_ERR_INVALID: return "invalid argument";
	case SIOGATE_ERR_ZMQ: return "ZeroMQ call failed (see errno)";
	case SIOGATE_ERR_PROTO: return "a gateway sent a bad message";
	case SIOGATE_ERR_AGAIN: return "queue full, try again";
	case SIOGATE_ERR_NOGATEWAY: return "no connected gateway for that id";
	case SIOGATE_ERR_STATE: return "call not allowed in this state";
	case SIOGATE_ERR_JSON: return "bad JSON value";
	}
	return "unknown error";
}

/* Wake the caller's loop (the eventfd is in the epoll set). */
static void
sg_poke(struct siogate_worker *w)
{
	uint64_t one = 1;
	ssize_t r;

	r = write(w->evfd, &one, sizeof one);
	(void)r;	/* EAGAIN: the counter is already nonzero */
}

/* Drop buffers that grew past SG_KEEP_BUF. */
static void
sg_trim(struct siogate_worker *w)
{
	size_t i;

	if (w->enc.sb.alloc > SG_KEEP_BUF && !br_enc_failed(&w->enc)) {
		br_enc_free(&w->enc);
		br_enc_init(&w->enc, BR_T_HEARTBEAT, 0);
	}
	if (w->scap > SG_KEEP_BUF) {
		free(w->sbuf);
		w->sbuf = NULL;
		w->scap = 0;
	}
	if (w->jbuf.cap > SG_KEEP_BUF)
		br_buf_free(&w->jbuf);
	for (i = 0; i < w->ngws; i++)
		if (w->gws[i]->out.n == 0 && w->gws[i]->out.cap > SG_KEEP_BUF)
			br_batch_free(&w->gws[i]->out);
}

/* After a send: input may be pending that the fd will not announce. */
static void
sg_after_send(struct siogate_worker *w, struct sg_gw *g)
{
	int ev = 0;
	size_t sz = sizeof ev;

	/*
	 * Why: ZMQ_FD is edge-triggered.  A send processes the socket's
	 * command queue, which may mark input readable and consume the edge
	 * the caller's loop was going to see.  So look now, and go round
	 * (inside process) or wake the loop (outside).
	 */
	if (zmq_getsockopt(g->sock, ZMQ_EVENTS, &ev, &sz) == 0 &&
	    (ev & ZMQ_POLLIN)) {
		if (w->in_process)
			w->more = 1;
		else
			sg_poke(w);
	}
}

/* Send one frame to g now.  SIOGATE_OK, AGAIN, ZMQ. */
static int
sg_zsend(struct siogate_worker *w, struct sg_gw *g, const void *p, size_t n)
{
	int rc = SIOGATE_OK;

	while (zmq_send(g->sock, p, n, ZMQ_DONTWAIT) < 0) {
		if (errno == EINTR)
			continue;
		rc = errno == EAGAIN ? SIOGATE_ERR_AGAIN : SIOGATE_ERR_ZMQ;
		break;
	}
	if (rc == SIOGATE_OK)
		g->last_sent = sg_now();
	sg_after_send(w, g);
	return rc;
}

/*
 * Send what is batched for g as one frame (a lone message without the
 * BATCH wrapper).  SIOGATE_OK (sent, or nothing to send); AGAIN: kept,
 * tried again at the next round; ZMQ: dropped.
 */
static int
sg_flush(struct siogate_worker *w, struct sg_gw *g)
{
	const char *p;
	size_t n;
	int rc;

	if (g->out.n == 0)
		return SIOGATE_OK;
	br_batch_frame(&g->out, &p, &n);
	if ((rc = sg_zsend(w, g, p, n)) == SIOGATE_ERR_AGAIN)
		return rc;
	br_batch_reset(&g->out);
	return rc;
}

/* Send the encoded message to g now, after what is batched for it. */
static int
sg_send_now(struct siogate_worker *w, struct sg_gw *g)
{
	int rc;

	if (br_enc_failed(&w->enc))
		return SIOGATE_ERR_NOMEM;
	if ((rc = sg_flush(w, g)) != SIOGATE_OK)
		return rc;
	return sg_zsend(w, g, w->enc.sb.data, w->enc.sb.size);
}

/*
 * Send the encoded message to g.  Inside siogate_worker_process(), a
 * gateway that takes BATCH gets it in its batch, sent as one frame at the
 * end of the round (everything to g goes the same way, so the order is
 * kept); otherwise it goes now.  SIOGATE_OK, AGAIN, NOMEM, ZMQ.
 */
static int
sg_send_enc(struct siogate_worker *w, struct sg_gw *g)
{
	int rc;

	if (br_enc_failed(&w->enc))
		return SIOGATE_ERR_NOMEM;
	if (!g->batch || !w->in_process)
		return sg_send_now(w, g);
	if (g->out.len >= SG_OUT_MAX && (rc = sg_flush(w, g)) != SIOGATE_OK)
		return rc;
	if (br_batch_add(&g->out, w->enc.sb.data, w->enc.sb.size) == -1)
		return SIOGATE_ERR_NOMEM;
	if (g->out.len >= SG_OUT_FLUSH)
		(void)sg_flush(w, g);	/* AGAIN: kept for the next round */
	return SIOGATE_OK;
}

/* Encode and send HELLO; schedule the next try either way. */
static int
sg_send_hello(struct siogate_worker *w, struct sg_gw *g, int64_t now)
{
	size_t i, nopen = 0;
	int rc;

	for (i = 0; i < w->nnsps; i++)
		nopen += w->nsp_open[i];
	br_enc_reset(&w->enc, BR_T_HELLO, 4 + (w->name != NULL) +
	    (w->nnsps > 0) + (nopen > 0) + (w->unordered != 0));
	if (w->name != NULL)
		br_enc_cstr(&w->enc, "name", w->name);
	br_enc_array(&w->enc, "eio", (uint32_t)w->npaths);
	for (i = 0; i < w->npaths; i++)
		br_enc_item_str(&w->enc, w->paths[i], strlen(w->paths[i]));
	if (w->nnsps > 0) {
		br_enc_array(&w->enc, "nsp", (uint32_t)w->nnsps);
		for (i = 0; i < w->nnsps; i++)
			br_enc_item_str(&w->enc, w->nsps[i],
			    strlen(w->nsps[i]));
	}
	if (nopen > 0) {
		br_enc_array(&w->enc, "nsp_open", (uint32_t)nopen);
		for (i = 0; i < w->nnsps; i++)
			if (w->nsp_open[i])
				br_enc_item_str(&w->enc, w->nsps[i],
				    strlen(w->nsps[i]));
	}
	br_enc_uint(&w->enc, "credit", w->credit);
	br_enc_uint(&w->enc, "hb", w->hb);
	br_enc_key(&w->enc, "batch");	/* we take BATCH frames */
	msgpack_pack_true(&w->enc.pk);
	if (w->unordered) {
		br_enc_key(&w->enc, "ordered");
		msgpack_pack_false(&w->enc.pk);
	}
	rc = sg_send_now(w, g);
	g->state = SG_HELLO;
	if (rc == SIOGATE_OK) {
		g->next_hello = now + w->hb;
	} else {
		/* Not linked yet (ZMQ_IMMEDIATE): retry soon, backing off. */
		g->next_hello = now + g->hello_retry;
		g->hello_retry *= 2;
		if (g->hello_retry > w->hb)
			g->hello_retry = w->hb;
	}
	return rc;
}

/* Send a bodiless message (HEARTBEAT, BYE: BYE goes now). */
static int
sg_send_simple(struct siogate_worker *w, struct sg_gw *g, int type)
{
	br_enc_reset(&w->enc, type, 0);
	return type == BR_T_BYE ? sg_send_now(w, g) : sg_send_enc(w, g);
}

/* Return the credit owed to g. */
static int
sg_send_credit(struct siogate_worker *w, struct sg_gw *g)
{
	int rc;

	if (g->owed == 0)
		return SIOGATE_OK;
	br_enc_reset(&w->enc, BR_T_CREDIT, 1);
	br_enc_uint(&w->enc, "n", g->owed);
	if ((rc = sg_send_enc(w, g)) == SIOGATE_OK)
		g->owed = 0;
	return rc;
}

/* Answer a bad message with ERROR (never an ERROR with an ERROR). */
static void
sg_send_error(struct siogate_worker *w, struct sg_gw *g, int code,
    const char *text, int ref)
{
	br_enc_reset(&w->enc, BR_T_ERROR, ref > 0 ? 3 : 2);
	br_enc_uint(&w->enc, "code", (uint64_t)code);
	br_enc_cstr(&w->enc, "text", text);
	if (ref > 0)
		br_enc_uint(&w->enc, "ref", (uint64_t)ref);
	(void)sg_send_enc(w, g);
}

/* Make room for n bytes of callback copies; -1 on OOM. */
static int
sg_scratch(struct siogate_worker *w, size_t n)
{
	char *p;

	if (n <= w->scap)
		return 0;
	if ((p = realloc(w->sbuf, n)) == NULL)
		return -1;
	w->sbuf = p;
	w->scap = n;
	return 0;
}

/* Copy a slice into the scratch at *pos, NUL-terminated. */
static const char *
sg_put(struct siogate_worker *w, size_t *pos, const char *p, size_t n)
{
	char *d = w->sbuf + *pos;

	if (n > 0)
		memcpy(d, p, n);
	d[n] = '\0';
	*pos += n + 1;
	return d;
}

/* Scratch bytes for the str value of key in map ("" when absent). */
static size_t
sg_need(const msgpack_object *map, const char *key)
{
	struct br_str s;

	return br_obj_str(br_map_get(map, key), &s) == 0 ? (size_t)s.n + 1 : 1;
}

/* Copy the str value of key in map ("" when absent). */
static const char *
sg_put_key(struct siogate_worker *w, size_t *pos, const msgpack_object *map,
    const char *key)
{
	struct br_str s;

	if (br_obj_str(br_map_get(map, key), &s) == -1) {
		s.p = "";
		s.n = 0;
	}
	return sg_put(w, pos, s.p, s.n);
}

/* Count a map of str to str into scratch bytes (decode checked its kind). */
static size_t
sg_need_map(const msgpack_object *m, size_t *npairs)
{
	size_t n = 0;
	uint32_t i;

	*npairs = 0;
	if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
		return 0;
	for (i = 0; i < m->via.map.size; i++)
		n += (size_t)m->via.map.ptr[i].key.via.str.size +
		    m->via.map.ptr[i].val.via.str.size + 2;
	*npairs = m->via.map.size;
	return n;
}

/* Copy a map of str to str into hdrs[0..n). */
static void
sg_put_map(struct siogate_worker *w, size_t *pos, const msgpack_object *m,
    struct siogate_header *hdrs)
{
	const msgpack_object_kv *kv;
	uint32_t i;

	if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
		return;
	for (i = 0; i < m->via.map.size; i++) {
		kv = &m->via.map.ptr[i];
		hdrs[i].name = sg_put(w, pos, kv->key.via.str.ptr,
		    kv->key.via.str.size);
		hdrs[i].value = sg_put(w, pos, kv->val.via.str.ptr,
		    kv->val.via.str.size);
	}
}

/* Scratch bytes and header slots for a handshake map. */
static size_t
sg_hs_need(const msgpack_object *hs, size_t *nh, size_t *nq)
{
	return sg_need(hs, "url") + sg_need(hs, "addr") +
	    sg_need(hs, "transport") +
	    sg_need_map(br_map_get(hs, "headers"), nh) +
	    sg_need_map(br_map_get(hs, "query"), nq);
}

/* Make room for n handshake pairs; -1 on OOM. */
static int
sg_hdrs(struct siogate_worker *w, size_t n)
{
	struct siogate_header *p;

	if (n <= w->hcap)
		return 0;
	if ((p = realloc(w->hdrs, n * sizeof *p)) == NULL)
		return -1;
	w->hdrs = p;
	w->hcap = n;
	return 0;
}

/*
 * Copy the handshake map into h (scratch and header slots made ready by
 * the caller from sg_hs_need()).
 */
static void
sg_hs_put(struct siogate_worker *w, size_t *pos, const msgpack_object *hs,
    size_t nh, size_t nq, struct siogate_handshake *h)
{
	const msgpack_object *o;

	h->url = sg_put_key(w, pos, hs, "url");
	h->addr = sg_put_key(w, pos, hs, "addr");
	h->transport = sg_put_key(w, pos, hs, "transport");
	h->time_ms = (o = br_map_get(hs, "time")) != NULL ? o->via.u64 : 0;
	sg_put_map(w, pos, br_map_get(hs, "headers"), w->hdrs);
	sg_put_map(w, pos, br_map_get(hs, "query"), w->hdrs + nh);
	h->headers = nh ? w->hdrs : NULL;
	h->nheaders = nh;
	h->query = nq ? w->hdrs + nh : NULL;
	h->nquery = nq;
}

/* EIO_OPEN: copy the handshake and call eio_open. */
static int
sg_on_open(struct siogate_worker *w, struct sg_gw *g, const struct br_msg *m)
{
	const msgpack_object *hs = br_msg_get(m, "hs");
	struct siogate_handshake h;
	const char *sid, *path;
	size_t need, nh, nq, pos = 0;

	need = sg_need(m->root, "sid") + sg_need(m->root, "path") +
	    sg_hs_need(hs, &nh, &nq);
	if (sg_scratch(w, need) == -1 || sg_hdrs(w, nh + nq) == -1)
		goto nomem;
	sid = sg_put_key(w, &pos, m->root, "sid");
	path = sg_put_key(w, &pos, m->root, "path");
	sg_hs_put(w, &pos, hs, nh, nq, &h);
	if (w->cb.eio_open != NULL)
		w->cb.eio_open(w, sid, path, &h, w->ud);
	return 0;
nomem:
	/* The session cannot be handed over: ask the gateway to close it. */
	{
		struct br_str s;

		if (br_msg_str(m, "sid", &s) == 0) {
			br_enc_reset(&w->enc, BR_T_EIO_CLOSE_SESSION, 1);
			br_enc_str(&w->enc, "sid", s.p, s.n);
			(void)sg_send_enc(w, g);
		}
	}
	return -1;
}

/* EIO_MESSAGE: copy sid and data and call eio_message. */
static int
sg_on_message(struct siogate_worker *w, const struct br_msg *m)
{
	struct br_str sid, data;
	const char *s, *d;
	size_t pos = 0;
	int binary;

	if (br_msg_str(m, "sid", &sid) == -1 ||
	    br_msg_data(m, "data", &data, &binary) == -1)
		return 0;	/* decode checked both */
	if (sg_scratch(w, (size_t)sid.n + data.n + 2) == -1)
		return -1;
	s = sg_put(w, &pos, sid.p, sid.n);
	d = sg_put(w, &pos, data.p, data.n);
	if (w->cb.eio_message != NULL)
		w->cb.eio_message(w, s, d, data.n, binary, w->ud);
	return 0;
}

/* EIO_CLOSE: call eio_close. */
static int
sg_on_close(struct siogate_worker *w, const struct br_msg *m)
{
	const char *sid, *reason;
	size_t pos = 0;

	if (sg_scratch(w, sg_need(m->root, "sid") +
	    sg_need(m->root, "reason")) == -1)
		return -1;
	sid = sg_put_key(w, &pos, m->root, "sid");
	reason = sg_put_key(w, &pos, m->root, "reason");
	if (w->cb.eio_close != NULL)
		w->cb.eio_close(w, sid, reason, w->ud);
	return 0;
}

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
static void
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
static void
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
static void
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

/* ---- Socket.IO: messages from the gateway ---- */

/*
 * Append o as JSON plus a NUL to w->jbuf, *off set to where it starts.
 * Its bins become w->iatt/w->ibin from *nbins on, at most maxbins in all.
 * 0; -1 NOMEM; -2 when o cannot be written as JSON (*why).
 */
static int
sg_to_json(struct siogate_worker *w, const msgpack_object *o, size_t *off,
    size_t *nbins, size_t maxbins, const char **why)
{
	size_t i, n0 = *nbins;

	*off = w->jbuf.len;
	if (br_json_write(&w->jbuf, o, w->iatt, nbins, maxbins,
	    SG_IN_DEPTH, why) == -1)
		return strcmp(*why, "out of memory") == 0 ? -1 : -2;
	if (br_buf_append(&w->jbuf, "", 1) == -1)
		return -1;
	for (i = n0; i < *nbins; i++) {
		w->ibin[i].p = w->iatt[i].p;
		w->ibin[i].len = w->iatt[i].n;
	}
	return 0;
}

/* Make room for n room pointers plus the NULL; -1 on OOM. */
static int
sg_room_slots(struct siogate_worker *w, size_t n)
{
	const char **p;

	if (n + 1 <= w->roomcap)
		return 0;
	if ((p = realloc(w->rooms, (n + 1) * sizeof *p)) == NULL)
		return -1;
	w->rooms = p;
	w->roomcap = n + 1;
	return 0;
}

/* A message the SDK could not hand over: tell the gateway, note PROTO. */
static void
sg_refuse(struct siogate_worker *w, struct sg_gw *g, const char *why,
    int type)
{
	sg_send_error(w, g, BR_E_BAD_MESSAGE, why, type);
	w->proto_err = 1;
}

static int sg_accept_reject(struct siogate_worker *w, const char *id,
    const char *session, const char *const *rooms, const char *data,
    int reject);

/* Whether an optional boolean field of m is true. */
static int
sg_flag(const struct br_msg *m, const char *key)
{
	const msgpack_object *v = br_msg_get(m, key);

	return v != NULL && v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
}

/* SIO_CONNECT: a client joins a namespace. */
static int
sg_on_sio_connect(struct siogate_worker *w, struct sg_gw *g,
    const struct br_msg *m)
{
	static const msgpack_object nil = { .type = MSGPACK_OBJECT_NIL };
	const msgpack_object *hs = br_msg_get(m, "hs");
	const msgpack_object *auth = br_msg_get(m, "auth");
	const msgpack_object *reply = br_msg_get(m, "reply");
	struct siogate_handshake h;
	struct siogate_connect c;
	size_t need, nh, nq, pos = 0, off, nbins = 0;
	const char *why;
	int r;

	need = sg_need(m->root, "sid") + sg_need(m->root, "id") +
	    sg_need(m->root, "nsp") + sg_hs_need(hs, &nh, &nq);
	if (sg_scratch(w, need) == -1 || sg_hdrs(w, nh + nq) == -1)
		return -1;
	c.sid = sg_put_key(w, &pos, m->root, "sid");
	c.id = sg_put_key(w, &pos, m->root, "id");
	c.nsp = sg_put_key(w, &pos, m->root, "nsp");
	sg_hs_put(w, &pos, hs, nh, nq, &h);
	c.hs = &h;
	c.reply = reply->via.boolean;
	c.recovered = sg_flag(m, "recovered");
	c.lost = sg_flag(m, "lost");
	w->jbuf.len = 0;
	r = sg_to_json(w, auth != NULL ? auth : &nil, &off, &nbins,
	    SIOGATE_MAX_BINS, &why);
	if (r == -1)
		return -1;
	if (r == -2) {
		sg_refuse(w, g, why, m->type);
		if (c.reply)	/* do not leave the client hanging */
			(void)sg_accept_reject(w, c.id, NULL, NULL,
			    "{\"message\":\"bad auth payload\"}", 1);
		return 0;
	}
	c.auth = w->jbuf.p + off;
	c.bins = nbins ? w->ibin : NULL;
	c.nbins = nbins;
	if (w->cb.sio_connect != NULL)
		w->cb.sio_connect(w, &c, w->ud);
	else if (c.reply)	/* no callback: accept everybody */
		(void)sg_accept_reject(w, c.id, NULL, NULL, NULL, 0);
	return 0;
}

/* SIO_EVENT: an event of an accepted socket. */
static int
sg_on_sio_event(struct siogate_worker *w, struct sg_gw *g,
    const struct br_msg *m)
{
	const msgpack_object *rooms = br_msg_get(m, "rooms");
	const msgpack_object *args = br_msg_get(m, "args");
	const msgpack_object *sess = br_msg_get(m, "session");
	struct siogate_event e;
	size_t need, pos = 0, aoff, soff, nbins = 0, nb2 = 0;
	const char *why;
	uint32_t i;
	int r;

	need = sg_need(m->root, "id") + sg_need(m->root, "nsp") +
	    sg_need(m->root, "ev");
	for (i = 0; i < rooms->via.array.size; i++)
		need += (size_t)rooms->via.array.ptr[i].via.str.size + 1;
	if (sg_scratch(w, need) == -1 ||
	    sg_room_slots(w, rooms->via.array.size) == -1)
		return -1;
	e.id = sg_put_key(w, &pos, m->root, "id");
	e.nsp = sg_put_key(w, &pos, m->root, "nsp");
	e.ev = sg_put_key(w, &pos, m->root, "ev");
	for (i = 0; i < rooms->via.array.size; i++)
		w->rooms[i] = sg_put(w, &pos, rooms->via.array.ptr[i].via.str.ptr,
		    rooms->via.array.ptr[i].via.str.size);
	w->rooms[i] = NULL;
	e.rooms = w->rooms;
	e.nrooms = rooms->via.array.size;
	e.has_ack = br_msg_uint(m, "ack", &e.ack) == 0;
	if (!e.has_ack)
		e.ack = 0;
	w->jbuf.len = 0;
	r = sg_to_json(w, args, &aoff, &nbins, SIOGATE_MAX_BINS, &why);
	if (r == -1)
		return -1;
	if (r == -2) {
		sg_refuse(w, g, why, m->type);
		return 0;
	}
	/* Session data holding binary (another SDK put it) is not JSON. */
	r = sg_to_json(w, sess, &soff, &nb2, 0, &why);
	if (r == -1)
		return -1;
	e.args = w->jbuf.p + aoff;
	e.session = r == 0 ? w->jbuf.p + soff : NULL;
	e.bins = nbins ? w->ibin : NULL;
	e.nbins = nbins;
	if (w->cb.sio_event != NULL) {
		w->ev_json = e.args;
		w->ev_args = args;
		w->ev_nbins = nbins;
		w->cb.sio_event(w, &e, w->ud);
		w->ev_json = NULL;
		w->ev_args = NULL;
	}
	return 0;
}

/* SIO_SERVER_EVENT: another node's server-side event. */
static int
sg_on_server_event(struct siogate_worker *w, struct sg_gw *g,
    const struct br_msg *m)
{
	struct siogate_server_event e;
	size_t pos = 0, aoff, nbins = 0;
	const char *why;
	int r;

	if (w->server_event == NULL)
		return 0;
	if (sg_scratch(w, sg_need(m->root, "nsp") + sg_need(m->root, "ev")) ==
	    -1)
		return -1;
	memset(&e, 0, sizeof e);
	e.nsp = sg_put_key(w, &pos, m->root, "nsp");
	e.ev = sg_put_key(w, &pos, m->root, "ev");
	e.gateway = g->gwid;
	e.has_ack = br_msg_uint(m, "req", &e.ack) == 0;
	if (!e.has_ack)
		e.ack = 0;
	w->jbuf.len = 0;
	r = sg_to_json(w, br_msg_get(m, "args"), &aoff, &nbins,
	    SIOGATE_MAX_BINS, &why);
	if (r == -1)
		return -1;
	if (r == -2) {
		sg_refuse(w, g, why, m->type);
		return 0;
	}
	e.args = w->jbuf.p + aoff;
	e.bins = nbins ? w->ibin : NULL;
	e.nbins = nbins;
	w->server_event(w, &e, w->ud);
	return 0;
}

/* SIO_DISCONNECT: a socket is gone. */
static int
sg_on_sio_disconnect(struct siogate_worker *w, const struct br_msg *m)
{
	const char *id, *nsp, *reason;
	size_t pos = 0;

	if (sg_scratch(w, sg_need(m->root, "id") + sg_need(m->root, "nsp") +
	    sg_need(m->root, "reason")) == -1)
		return -1;
	id = sg_put_key(w, &pos, m->root, "id");
	nsp = sg_put_key(w, &pos, m->root, "nsp");
	reason = sg_put_key(w, &pos, m->root, "reason");
	if (w->cb.sio_disconnect != NULL)
		w->cb.sio_disconnect(w, id, nsp, reason, w->ud);
	return 0;
}

/* SIO_CLIENT_ACK / SIO_ACK_TIMEOUT: the end of an ack wait. */
static int
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
static int
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
static void
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

static int sg_send_checked(struct siogate_worker *w, struct sg_gw *g);

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
static void
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
 * WELCOME "bridges" (a gateway running several event loops): connect to
 * every loop not connected yet.  A tcp:// endpoint keeps the host this
 * worker reached the gateway by (the gateway may have bound a wildcard).
 */
static void
sg_connect_bridges(struct siogate_worker *w, struct sg_gw *g, const struct br_msg *m)
{
	const msgpack_object *b = br_msg_get(m, "bridges");
	char ep[512];
	uint32_t i;
	size_t k;

	if (b == NULL || b->type != MSGPACK_OBJECT_ARRAY)
		return;
	for (i = 0; i < b->via.array.size && i < 64; i++) {
		struct br_str s;
		const char *hc, *pc;
		int dup = 0;

		if (br_obj_str(&b->via.array.ptr[i], &s) < 0 || s.n == 0 || s.n >= sizeof ep ||
		    memchr(s.p, '\0', s.n) != NULL)
			continue;
		memcpy(ep, s.p, s.n);
		ep[s.n] = '\0';
		if (strncmp(ep, "tcp://", 6) == 0 && strncmp(g->endpoint, "tcp://", 6) == 0 &&
		    (pc = strrchr(ep, ':')) != NULL && (hc = strrchr(g->endpoint, ':')) != NULL &&
		    strlen(pc) < 8 && (size_t)(hc - g->endpoint) + 8 < sizeof ep) {
			char port[8];

			memcpy(port, pc, strlen(pc) + 1);
			memcpy(ep, g->endpoint, (size_t)(hc - g->endpoint));
			memcpy(ep + (hc - g->endpoint), port, strlen(port) + 1);
		}
		for (k = 0; k < w->ngws; k++)
			if (strcmp(w->gws[k]->endpoint, ep) == 0)
				dup = 1;
		if (!dup)
			(void)siogate_worker_connect(w, ep);
	}
}

/* WELCOME: registered. */
static int
sg_on_welcome(struct siogate_worker *w, struct sg_gw *g,
    const struct br_msg *m, int64_t now)
{
	struct br_str gw;
	uint64_t wid = 0, hb = 0;
	struct br_str node = { NULL, 0 };
	const msgpack_object *batch;
	int changed;
	char *id;

	br_msg_str(m, "gw", &gw);
	br_msg_uint(m, "wid", &wid);
	br_msg_uint(m, "hb", &hb);
	batch = br_msg_get(m, "batch");
	if (br_msg_uint(m, "cluster", &g->cluster) < 0)
		g->cluster = 0;
	g->node[0] = '\0';
	if (g->cluster > 0 && br_msg_str(m, "node", &node) == 0 && node.n > 0 &&
	    node.n < sizeof g->node) {
		memcpy(g->node, node.p, node.n);
		g->node[node.n] = '\0';
	}
	/* What was batched goes out as before; then the new gateway's way. */
	(void)sg_flush(w, g);
	g->batch = batch != NULL && batch->via.boolean;
	changed = g->gwid == NULL || g->gwid_len != gw.n ||
	    memcmp(g->gwid, gw.p, gw.n) != 0;
	/* A new registration: what the old one was asked is lost. */
	if (g->gwid != NULL && (changed || wid != g->wid)) {
		g->no_sync = 0;		/* maybe upgraded: try SYNC again */
		sg_gw_lost(w, g);
		if (w->dying)
			return 0;
	}
	if (changed) {
		if ((id = malloc((size_t)gw.n + 1)) == NULL)
			return -1;	/* stay in SG_HELLO: retried */
		memcpy(id, gw.p, gw.n);
		id[gw.n] = '\0';
		free(g->gwid);
		g->gwid = id;
		g->gwid_len = gw.n;
	}
	g->wid = wid;
	g->peer_hb = hb == 0 ? BR_DEFAULT_HB_MS :
	    hb > SG_HB_MAX ? SG_HB_MAX : (int64_t)hb;
	g->reject_retry = w->hb;
	g->hello_retry = SG_HELLO_RETRY_MIN;
	g->linked = 1;
	g->last_recv = now;
	if (g->state == SG_READY && !changed)
		return 0;	/* a repeated WELCOME */
	g->state = SG_READY;
	sg_connect_bridges(w, g, m);
	if (w->cb.welcome != NULL)
		w->cb.welcome(w, g->gwid, w->ud);
	return 0;
}

/*
 * ERROR unknown-sid for an SIO_EMIT: the socket was gone when the gateway
 * read it.  Whatever is still awaited of that socket there will not come
 * (answers and verdicts of earlier emits were sent before this ERROR).
 */
static void
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

/* ERROR from the gateway. */
static int
sg_on_error(struct siogate_worker *w, struct sg_gw *g, const struct br_msg *m,
    int64_t now)
{
	struct br_str text = { "", 0 }, sid;
	uint64_t code = 0, ref = 0;
	const char *t, *s = NULL;
	size_t pos = 0, need;
	int has_sid;

	br_msg_uint(m, "code", &code);
	br_msg_uint(m, "ref", &ref);
	br_msg_str(m, "text", &text);
	has_sid = br_msg_str(m, "sid", &sid) == 0;
	if (code == BR_E_UNKNOWN_TYPE && ref == BR_T_SYNC) {
		sg_sync_refused(w, g);	/* not the application's concern */
		return 0;
	}
	if (code == BR_E_NOT_REGISTERED) {
		/* The gateway forgot us (it restarted): register again. */
		if (g->state == SG_READY || now >= g->next_hello)
			sg_send_hello(w, g, now);
		return 0;
	}
	if (ref == BR_T_HELLO) {
		/* HELLO refused: retry later, backing off. */
		g->state = SG_HELLO;
		g->next_hello = now + g->reject_retry;
		g->reject_retry *= 2;
		if (g->reject_retry > SG_REJECT_RETRY_MAX)
			g->reject_retry = SG_REJECT_RETRY_MAX;
	}
	need = (size_t)text.n + 1 + (has_sid ? (size_t)sid.n + 1 : 0);
	if (sg_scratch(w, need) == -1)
		return -1;
	t = sg_put(w, &pos, text.p, text.n);
	if (has_sid)
		s = sg_put(w, &pos, sid.p, sid.n);
	if (w->cb.error != NULL)
		w->cb.error(w, code > 0x7fffffff ? 0 : (int)code, t, s, w->ud);
	if (code == BR_E_UNKNOWN_SID && ref == BR_T_SIO_EMIT && has_sid)
		sg_acks_gone(w, g, s);
	return 0;
}

/*
 * Handle one frame from g, or item - 1 of a BATCH frame (item > 0): each
 * message of a BATCH is handled as if it had come alone, in order.
 */
static void
sg_handle(struct siogate_worker *w, struct sg_gw *g, const void *p, size_t n,
    uint32_t item)
{
	struct br_msg m;
	const msgpack_object *msgs;
	const char *why;
	char text[192];
	int64_t now = sg_now();
	int code, rc = 0;
	uint32_t i;

	g->last_recv = now;
	g->linked = 1;
	if (br_msg_decode_ref(&m, p, n, &code, &why) == -1) {
		if (m.type == BR_T_EIO_OPEN || m.type == BR_T_EIO_MESSAGE ||
		    m.type == BR_T_EIO_CLOSE || (m.type >= BR_T_SIO_CONNECT &&
		    m.type <= BR_T_SIO_ACK_TIMEOUT))
			g->owed += w->credit > 0;	/* it used a credit */
		if (m.type != BR_T_ERROR) {
			if (item > 0) {
				snprintf(text, sizeof text, "BATCH item %u: %s",
				    item - 1, why);
				why = text;
			}
			sg_send_error(w, g, code, why, m.type);
		}
		w->proto_err = 1;
		br_msg_free(&m);
		return;
	}
	switch (m.type) {
	case BR_T_BATCH:
		if (item > 0) {
			snprintf(text, sizeof text,
			    "BATCH item %u: a BATCH inside a BATCH", item - 1);
			sg_send_error(w, g, BR_E_BAD_MESSAGE, text, m.type);
			w->proto_err = 1;
			break;
		}
		msgs = br_msg_get(&m, "msgs");
		for (i = 0; i < msgs->via.array.size && !w->dying; i++)
			sg_handle(w, g, msgs->via.array.ptr[i].via.bin.ptr,
			    msgs->via.array.ptr[i].via.bin.size, i + 1);
		break;
	case BR_T_WELCOME:
		rc = sg_on_welcome(w, g, &m, now);
		break;
	case BR_T_HEARTBEAT:
		break;
	case BR_T_ERROR:
		rc = sg_on_error(w, g, &m, now);
		break;
	case BR_T_BYE:
		/* The gateway is leaving; it may come back: say HELLO later. */
		g->state = SG_HELLO;
		g->next_hello = now + w->hb;
		sg_gw_lost(w, g);
		break;
	case BR_T_EIO_OPEN:
		g->owed += w->credit > 0;
		rc = sg_on_open(w, g, &m);
		break;
	case BR_T_EIO_MESSAGE:
		g->owed += w->credit > 0;
		rc = sg_on_message(w, &m);
		break;
	case BR_T_EIO_CLOSE:
		g->owed += w->credit > 0;
		rc = sg_on_close(w, &m);
		break;
	case BR_T_SIO_CONNECT:
		g->owed += w->credit > 0;
		rc = sg_on_sio_connect(w, g, &m);
		break;
	case BR_T_SIO_EVENT:
		g->owed += w->credit > 0;
		rc = sg_on_sio_event(w, g, &m);
		break;
	case BR_T_SIO_DISCONNECT:
		g->owed += w->credit > 0;
		rc = sg_on_sio_disconnect(w, &m);
		break;
	case BR_T_SIO_CLIENT_ACK:
	case BR_T_SIO_ACK_TIMEOUT:
		g->owed += w->credit > 0;
		rc = sg_on_client_ack(w, g, &m);
		break;
	case BR_T_SIO_RESULT:
	case BR_T_SIO_SERVER_RESULT:
		rc = sg_on_result(w, g, &m);
		break;
	case BR_T_SYNC_REPLY:
		sg_on_sync_reply(w, g, &m);
		break;
	case BR_T_SIO_SERVER_EVENT:
		rc = sg_on_server_event(w, g, &m);
		break;
	default:
		/* HELLO, CREDIT, EIO_SEND...: known, but not for a worker. */
		sg_send_error(w, g, BR_E_BAD_MESSAGE,
		    "message type not accepted by a worker", m.type);
		w->proto_err = 1;
		break;
	}
	if (rc == -1)
		w->sys_err = SIOGATE_ERR_NOMEM;
	br_msg_free(&m);
}

/* Read monitor events of g: track the link.  Returns events read. */
static int
sg_drain_monitor(struct siogate_worker *w, struct sg_gw *g)
{
	zmq_msg_t msg;
	uint16_t ev;
	int n = 0, more;

	for (;;) {
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, g->mon, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&msg);
			if (errno == EINTR)
				continue;
			return n;
		}
		ev = 0;
		if (zmq_msg_size(&msg) >= 2)
			memcpy(&ev, zmq_msg_data(&msg), sizeof ev);
		more = zmq_msg_more(&msg);
		zmq_msg_close(&msg);
		while (more) {	/* the endpoint frame */
			zmq_msg_init(&msg);
			if (zmq_msg_recv(&msg, g->mon, 0) < 0) {
				zmq_msg_close(&msg);
				if (errno == EINTR)
					continue;
				break;
			}
			more = zmq_msg_more(&msg);
			zmq_msg_close(&msg);
		}
		n++;
		if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
			/* A fresh link: the gateway may be new, say HELLO. */
			g->linked = 1;
			g->hello_retry = SG_HELLO_RETRY_MIN;
			sg_send_hello(w, g, sg_now());
		} else if (ev == ZMQ_EVENT_DISCONNECTED) {
			g->linked = 0;
			g->state = SG_HELLO;
			g->hello_retry = SG_HELLO_RETRY_MIN;
			g->next_hello = sg_now() + w->hb;
			/* A ROUTER drops what it sends while we are away. */
			sg_gw_lost(w, g);
			if (w->dying)
				return n;
		}
	}
}

/*
 * Read up to *budget messages from g, returning credit on the way.
 * Returns the number read; a receive error is noted in w->sys_err.
 */
static int
sg_drain(struct siogate_worker *w, struct sg_gw *g, int *budget)
{
	zmq_msg_t msg;
	int n = 0, more;
	uint64_t half = w->credit / 2 ? w->credit / 2 : 1;

	while (*budget > 0 && !w->dying) {
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, g->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&msg);
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				w->sys_err = SIOGATE_ERR_ZMQ;
			break;
		}
		(*budget)--;
		n++;
		if (zmq_msg_more(&msg)) {
			/* One frame per message: drop the rest, answer once. */
			do {
				zmq_msg_close(&msg);
				zmq_msg_init(&msg);
				if (zmq_msg_recv(&msg, g->sock, 0) < 0)
					break;
				more = zmq_msg_more(&msg);
			} while (more);
			zmq_msg_close(&msg);
			sg_send_error(w, g, BR_E_BAD_MESSAGE,
			    "a message must be one frame", 0);
			w->proto_err = 1;
			continue;
		}
		sg_handle(w, g, zmq_msg_data(&msg), zmq_msg_size(&msg), 0);
		zmq_msg_close(&msg);
		/* Keep the gateway's pipe full during long batches. */
		if (g->owed >= half)
			(void)sg_send_credit(w, g);
	}
	return n;
}

/* Heartbeats, HELLO retries, dead gateways, unsent credit. */
static void
sg_timers(struct siogate_worker *w, int64_t now)
{
	struct sg_gw *g;
	size_t i;

	for (i = 0; i < w->ngws && !w->dying; i++) {
		g = w->gws[i];
		if (g->owed > 0)
			(void)sg_send_credit(w, g);
		if (g->state != SG_READY) {
			if (now >= g->next_hello)
				sg_send_hello(w, g, now);
			continue;
		}
		if (now - g->last_recv >= BR_DEAD_AFTER_MISSED * g->peer_hb) {
			/* Silent gateway: register again (DEALER reconnects). */
			g->hello_retry = SG_HELLO_RETRY_MIN;
			sg_send_hello(w, g, now);
			sg_gw_lost(w, g);
			continue;
		}
		/* A full queue (AGAIN) is retried in hb ms, not in a spin. */
		if (now - g->last_sent >= (int64_t)w->hb &&
		    sg_send_simple(w, g, BR_T_HEARTBEAT) != SIOGATE_OK)
			g->last_sent = now;
	}
	if (!w->dying)
		sg_waits_expire(w, now);
}

/* Read the wake-up eventfd so it stops being readable. */
static void
sg_drain_wake(struct siogate_worker *w)
{
	uint64_t v;
	ssize_t r;

	r = read(w->evfd, &v, sizeof v);
	(void)r;
}

/* Close and free one gateway (BYE first when say_bye and linked). */
static void
sg_gw_free(struct siogate_worker *w, struct sg_gw *g, int say_bye)
{
	int linger = 0;

	if (g == NULL)
		return;
	if (g->sock != NULL) {
		if (say_bye && g->linked) {
			linger = SG_BYE_LINGER;
			zmq_setsockopt(g->sock, ZMQ_LINGER, &linger,
			    sizeof linger);
			(void)sg_send_simple(w, g, BR_T_BYE);
		}
		zmq_socket_monitor(g->sock, NULL, 0);
		zmq_close(g->sock);
	}
	if (g->mon != NULL)
		zmq_close(g->mon);
	br_batch_free(&g->out);
	free(g->endpoint);
	free(g->gwid);
	free(g);
}

/* Free everything the worker owns. */
static void
sg_destroy(struct siogate_worker *w)
{
	size_t i;

	/* Every wait ends exactly once: CANCELLED, before anything goes. */
	w->dying = 1;
	while (w->nwaits > 0)
		sg_wait_end(w, 0, SIOGATE_STATUS_CANCELLED);
	free(w->waits);
	for (i = 0; i < w->ngws; i++)
		sg_gw_free(w, w->gws[i], 1);
	free(w->gws);
	if (w->zctx != NULL)
		while (zmq_ctx_term(w->zctx) == -1 && errno == EINTR)
			;
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->evfd >= 0)
		close(w->evfd);
	for (i = 0; i < w->npaths; i++)
		free(w->paths[i]);
	free(w->paths);
	for (i = 0; i < w->nnsps; i++)
		free(w->nsps[i]);
	free(w->nsps);
	free(w->nsp_open);
	br_buf_free(&w->jbuf);
	free(w->rooms);
	free(w->name);
	br_enc_free(&w->enc);
	free(w->sbuf);
	free(w->hdrs);
	free(w);
}

/* One round of work; *freed set when w was freed from a callback. */
static int
sg_process(struct siogate_worker *w, int *freed)
{
	int budget = SG_BATCH_MAX, rc;
	size_t i;

	*freed = 0;
	w->in_process = 1;
	w->proto_err = 0;
	w->sys_err = 0;
	sg_drain_wake(w);
	for (;;) {
		w->more = 0;
		for (i = 0; i < w->ngws && !w->dying; i++) {
			sg_drain_monitor(w, w->gws[i]);
			sg_drain(w, w->gws[i], &budget);
		}
		if (w->dying)
			break;
		sg_timers(w, sg_now());
		/* What this round produced: one frame per gateway. */
		for (i = 0; i < w->ngws && !w->dying; i++)
			if (sg_flush(w, w->gws[i]) == SIOGATE_ERR_ZMQ)
				w->sys_err = SIOGATE_ERR_ZMQ;
		if (budget <= 0) {
			sg_poke(w);	/* more to do: come back soon */
			break;
		}
		if (!w->more)
			break;
	}
	w->in_process = 0;
	rc = w->sys_err ? w->sys_err :
	    w->proto_err ? SIOGATE_ERR_PROTO : SIOGATE_OK;
	if (w->dying) {
		sg_destroy(w);
		*freed = 1;
		return SIOGATE_OK;
	}
	sg_trim(w);
	return rc;
}

/* Create a worker. */
int
siogate_worker_new(struct siogate_worker **out,
    const struct siogate_callbacks *cb, void *ud)
{
	struct siogate_worker *w;
	struct epoll_event ev;
	int rc = SIOGATE_ERR_ZMQ;

	if (out == NULL)
		return SIOGATE_ERR_INVALID;
	*out = NULL;
	if ((w = calloc(1, sizeof *w)) == NULL)
		return SIOGATE_ERR_NOMEM;
	w->epfd = w->evfd = -1;
	if (cb != NULL)
		w->cb = *cb;
	w->ud = ud;
	w->credit = BR_DEFAULT_CREDIT;
	w->hb = BR_DEFAULT_HB_MS;
	br_enc_init(&w->enc, BR_T_HEARTBEAT, 0);
	if (br_enc_failed(&w->enc)) {
		rc = SIOGATE_ERR_NOMEM;
		goto fail;
	}
	if ((w->zctx = zmq_ctx_new()) == NULL)
		goto fail;
	if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		goto fail;
	if ((w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) == -1)
		goto fail;
	*out = w;
	return SIOGATE_OK;
fail:
	sg_destroy(w);
	return rc;
}

/* Say BYE, close everything, free w (deferred inside a callback). */
void
siogate_worker_free(struct siogate_worker *w)
{
	if (w == NULL || w->dying)
		return;		/* NULL, or being freed already */
	if (w->in_process) {
		w->dying = 1;
		w->stop = 1;
		return;
	}
	sg_destroy(w);
}

/* Set the name sent in HELLO. */
int
siogate_worker_set_name(struct siogate_worker *w, const char *name)
{
	char *n = NULL;

	if (w == NULL)
		return SIOGATE_ERR_INVALID;
	if (w->frozen)
		return SIOGATE_ERR_STATE;
	if (name != NULL) {
		if (strlen(name) > SG_MAX_NAME)
			return SIOGATE_ERR_INVALID;
		if ((n = strdup(name)) == NULL)
			return SIOGATE_ERR_NOMEM;
	}
	free(w->name);
	w->name = n;
	return SIOGATE_OK;
}

/* Set the credit offered in HELLO. */
int
siogate_worker_set_credit(struct siogate_worker *w, unsigned credit)
{
	if (w == NULL)
		return SIOGATE_ERR_INVALID;
	if (w->frozen)
		return SIOGATE_ERR_STATE;
	w->credit = credit;
	return SIOGATE_OK;
}

/* Whether the events of one socket wait for the previous one (HELLO "ordered"). */
int
siogate_worker_set_ordered(struct siogate_worker *w, int ordered)
{
	if (w == NULL)
		return SIOGATE_ERR_INVALID;
	if (w->frozen)
		return SIOGATE_ERR_STATE;
	w->unordered = !ordered;
	return SIOGATE_OK;
}

/* Set the heartbeat interval advertised in HELLO. */
int
siogate_worker_set_heartbeat(struct siogate_worker *w, unsigned ms)
{
	if (w == NULL || (ms != 0 && (ms < SG_HB_MIN || ms > SG_HB_MAX)))
		return SIOGATE_ERR_INVALID;
	if (w->frozen)
		return SIOGATE_ERR_STATE;
	w->hb = ms == 0 ? BR_DEFAULT_HB_MS : ms;
	return SIOGATE_OK;
}

/* Copy one z85 key (explicit, else the environment variable); 0 or -1. */
static int
sg_curve_key(char dst[41], const char *key, const char *env)
{
	if (key == NULL)
		key = getenv(env);
	if (key == NULL) {
		dst[0] = '\0';
		return 0;
	}
	if (strlen(key) != 40)
		return -1;
	memcpy(dst, key, 41);
	return 0;
}

/* ZeroMQ CURVE for the next connections. */
int
siogate_worker_set_curve(struct siogate_worker *w, const char *server_public,
    const char *public_key, const char *secret_key)
{
	char s[41], p[41], k[41];

	if (w == NULL || sg_curve_key(s, server_public, "SIOGATE_CURVE_SERVERKEY") < 0 ||
	    sg_curve_key(p, public_key, "SIOGATE_CURVE_PUBLICKEY") < 0 ||
	    sg_curve_key(k, secret_key, "SIOGATE_CURVE_SECRETKEY") < 0)
		return SIOGATE_ERR_INVALID;
	if (s[0] != '\0' && (p[0] == '\0' || k[0] == '\0'))
		return SIOGATE_ERR_INVALID;
	memcpy(w->curve_server, s, sizeof s);
	memcpy(w->curve_public, p, sizeof p);
	memcpy(w->curve_secret, k, sizeof k);
	return SIOGATE_OK;
}

/* Add a raw Engine.IO path to serve. */
int
siogate_worker_serve_eio(struct siogate_worker *w, const char *path)
{
	char **p, *s;
	size_t i, n;

	if (w == NULL || path == NULL || path[0] != '/')
		return SIOGATE_ERR_INVALID;
	if ((n = strlen(path)) > SG_MAX_PATH)
		return SIOGATE_ERR_INVALID;
	if (w->frozen)
		return SIOGATE_ERR_STATE;
	for (i = 0; i < w->npaths; i++)
		if (strcmp(w->paths[i], path) == 0)
			return SIOGATE_OK;
	if ((s = malloc(n + 1)) == NULL)
		return SIOGATE_ERR_NOMEM;
	memcpy(s, path, n + 1);
	if ((p = realloc(w->paths, (w->npaths + 1) * sizeof *p)) == NULL) {
		free(s);
		return SIOGATE_ERR_NOMEM;
	}
	w->paths = p;
	w->paths[w->npaths++] = s;
	return SIOGATE_OK;
}

/* 16 random bytes for a routing id (never starting with a zero byte). */
static void
sg_routing_id(unsigned char *id, size_t n, const void *salt)
{
	struct timespec ts;
	size_t i, got = 0;
	ssize_t r;
	uint64_t x;

	while (got < n) {
		r = getrandom(id + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < n) {
		/* No kernel randomness: unique enough for a routing id. */
		clock_gettime(CLOCK_REALTIME, &ts);
		x = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 20 ^
		    (uint64_t)getpid() << 40 ^ (uint64_t)(uintptr_t)salt;
		for (i = got; i < n; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			id[i] = (unsigned char)(x >> 56);
		}
	}
	if (id[0] == 0)
		id[0] = 1;	/* ids starting with 0 are reserved by ZeroMQ */
}

/* Gateway connections that have not said WELCOME (yet, or again). */
int
siogate_worker_pending(const struct siogate_worker *w)
{
	size_t i;
	int n = 0;

	if (w == NULL)
		return SIOGATE_ERR_INVALID;
	for (i = 0; i < w->ngws; i++)
		if (w->gws[i]->state != SG_READY)
			n++;
	return n;
}

/* Connect a DEALER to endpoint and say HELLO. */
int
siogate_worker_connect(struct siogate_worker *w, const char *endpoint)
{
	struct sg_gw *g = NULL, **gws;
	struct epoll_event ev;
	unsigned char rid[16];
	char monaddr[64];
	int64_t maxmsg = BR_MAX_FRAME;
	int one = 1, zero = 0, fd, rc = SIOGATE_ERR_ZMQ, err;
	size_t i, sz;

	if (w == NULL || w->dying)
		return SIOGATE_ERR_INVALID;
	if (endpoint == NULL && (endpoint = getenv("SIOGATE_ENDPOINT")) ==
	    NULL)
		endpoint = SIOGATE_DEFAULT_ENDPOINT;
	if (*endpoint == '\0')
		return SIOGATE_ERR_INVALID;
	for (i = 0; i < w->ngws; i++)
		if (strcmp(w->gws[i]->endpoint, endpoint) == 0)
			return SIOGATE_ERR_INVALID;
	if ((g = calloc(1, sizeof *g)) == NULL)
		return SIOGATE_ERR_NOMEM;
	g->state = SG_HELLO;
	g->hello_retry = SG_HELLO_RETRY_MIN;
	g->reject_retry = w->hb;
	g->peer_hb = BR_DEFAULT_HB_MS;
	if ((g->endpoint = strdup(endpoint)) == NULL) {
		rc = SIOGATE_ERR_NOMEM;
		goto fail;
	}
	if ((g->sock = zmq_socket(w->zctx, ZMQ_DEALER)) == NULL)
		goto fail;
	sg_routing_id(rid, sizeof rid, g);
	if (zmq_setsockopt(g->sock, ZMQ_ROUTING_ID, rid, sizeof rid) == -1 ||
	    zmq_setsockopt(g->sock, ZMQ_LINGER, &zero, sizeof zero) == -1 ||
	    zmq_setsockopt(g->sock, ZMQ_IMMEDIATE, &one, sizeof one) == -1 ||
	    zmq_setsockopt(g->sock, ZMQ_MAXMSGSIZE, &maxmsg,
	    sizeof maxmsg) == -1)
		goto fail;
	if (w->curve_server[0] == '\0' && getenv("SIOGATE_CURVE_SERVERKEY") != NULL &&
	    siogate_worker_set_curve(w, NULL, NULL, NULL) != SIOGATE_OK)
		goto fail;
	if (w->curve_server[0] != '\0' &&
	    (zmq_setsockopt(g->sock, ZMQ_CURVE_SERVERKEY, w->curve_server, 40) == -1 ||
	    zmq_setsockopt(g->sock, ZMQ_CURVE_PUBLICKEY, w->curve_public, 40) == -1 ||
	    zmq_setsockopt(g->sock, ZMQ_CURVE_SECRETKEY, w->curve_secret, 40) == -1))
		goto fail;
	snprintf(monaddr, sizeof monaddr, "inproc://siogate-mon-%p-%u",
	    (void *)w, w->mon_seq++);
	if (zmq_socket_monitor(g->sock, monaddr, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
	    ZMQ_EVENT_DISCONNECTED) == -1)
		goto fail;
	if ((g->mon = zmq_socket(w->zctx, ZMQ_PAIR)) == NULL)
		goto fail;
	if (zmq_setsockopt(g->mon, ZMQ_LINGER, &zero, sizeof zero) == -1 ||
	    zmq_connect(g->mon, monaddr) == -1)
		goto fail;
	if (zmq_connect(g->sock, endpoint) == -1)
		goto fail;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	sz = sizeof fd;
	if (zmq_getsockopt(g->sock, ZMQ_FD, &fd, &sz) == -1 ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		goto fail;
	sz = sizeof fd;
	if (zmq_getsockopt(g->mon, ZMQ_FD, &fd, &sz) == -1 ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		goto fail;
	if ((gws = realloc(w->gws, (w->ngws + 1) * sizeof *gws)) == NULL) {
		rc = SIOGATE_ERR_NOMEM;
		goto fail;
	}
	w->gws = gws;
	w->gws[w->ngws++] = g;
	w->frozen = 1;
	/* Usually not linked yet: HELLO then goes out on the monitor event. */
	sg_send_hello(w, g, sg_now());
	if (!w->in_process)
		sg_poke(w);	/* let the caller's loop run the timers */
	return SIOGATE_OK;
fail:
	err = errno;
	if (g->sock != NULL) {
		sz = sizeof fd;
		if (zmq_getsockopt(g->sock, ZMQ_FD, &fd, &sz) == 0)
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
	}
	if (g->mon != NULL) {
		sz = sizeof fd;
		if (zmq_getsockopt(g->mon, ZMQ_FD, &fd, &sz) == 0)
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
	}
	sg_gw_free(w, g, 0);
	errno = err;
	return rc;
}

/* The epoll fd to watch. */
int
siogate_worker_fd(struct siogate_worker *w)
{
	return w == NULL ? SIOGATE_ERR_INVALID : w->epfd;
}

/* Milliseconds until process is due; -1 when nothing is scheduled. */
int
siogate_worker_timeout(struct siogate_worker *w)
{
	struct sg_gw *g;
	int64_t now, due = -1, t;
	size_t i;

	if (w == NULL || w->ngws == 0)
		return -1;
	now = sg_now();
	for (i = 0; i < w->ngws; i++) {
		g = w->gws[i];
		if (g->owed > 0 || g->out.n > 0)	/* unsent: retry */
			t = now + SG_CREDIT_RETRY;
		else if (g->state != SG_READY)
			t = g->next_hello;
		else {
			t = g->last_sent + w->hb;
			if (g->last_recv + BR_DEAD_AFTER_MISSED * g->peer_hb < t)
				t = g->last_recv +
				    BR_DEAD_AFTER_MISSED * g->peer_hb;
		}
		if (due == -1 || t < due)
			due = t;
	}
	for (i = 0; i < w->nwaits; i++)
		if (w->waits[i]->deadline < due)
			due = w->waits[i]->deadline;
	t = due - now;
	return t < 0 ? 0 : t > 0x7fffffff ? 0x7fffffff : (int)t;
}

/* Do all pending work without blocking. */
int
siogate_worker_process(struct siogate_worker *w)
{
	int freed;

	if (w == NULL)
		return SIOGATE_ERR_INVALID;
	if (w->in_process)
		return SIOGATE_ERR_STATE;
	return sg_process(w, &freed);
}

/* Run until siogate_worker_stop() or a fatal error. */
int
siogate_worker_run(struct siogate_worker *w)
{
	struct pollfd pfd;
	int rc, freed;

	if (w == NULL)
		return SIOGATE_ERR_INVALID;
	if (w->in_process)
		return SIOGATE_ERR_STATE;
	while (!w->stop) {
		pfd.fd = w->epfd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, siogate_worker_timeout(w)) == -1 &&
		    errno != EINTR)
			return SIOGATE_ERR_ZMQ;
		rc = sg_process(w, &freed);
		if (freed)
			return SIOGATE_OK;
		if (rc == SIOGATE_ERR_NOMEM || rc == SIOGATE_ERR_ZMQ)
			return rc;
	}
	w->stop = 0;
	return SIOGATE_OK;
}

/* Ask siogate_worker_run() to return (async-signal-safe). */
void
siogate_worker_stop(struct siogate_worker *w)
{
	int saved = errno;

	if (w == NULL)
		return;
	w->stop = 1;
	sg_poke(w);
	errno = saved;
}

/* The gateway that issued sid, or NULL. */
static struct sg_gw *
sg_route(struct siogate_worker *w, const char *sid, size_t n)
{
	struct sg_gw *g, *best = NULL;
	size_t i;

	/*
	 * A sid is a gateway id plus BR_SID_SUFFIX_LEN chars: an exact fit
	 * wins, so ids that prefix each other ("g1", "g12") still route
	 * right; otherwise the longest prefix.
	 */
	for (i = 0; i < w->ngws; i++) {
		g = w->gws[i];
		if (g->gwid == NULL || g->gwid_len >= n ||
		    memcmp(sid, g->gwid, g->gwid_len) != 0)
			continue;
		if (n == g->gwid_len + BR_SID_SUFFIX_LEN)
			return g;
		if (best == NULL || g->gwid_len > best->gwid_len)
			best = g;
	}
	return best;
}

/* Check the encoded frame's size, then send it to g. */
static int
sg_send_checked(struct siogate_worker *w, struct sg_gw *g)
{
	if (!br_enc_failed(&w->enc) && w->enc.sb.size > BR_MAX_FRAME)
		return SIOGATE_ERR_INVALID;
	return sg_send_enc(w, g);
}

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

/* The namespace of a command: NULL is "/"; others start with '/'. */
static const char *
sg_nsp(const char *nsp)
{
	if (nsp == NULL)
		return "/";
	return nsp[0] == '/' && strlen(nsp) <= SG_MAX_NSP ? nsp : NULL;
}

/* Entries of a NULL-terminated list (0 for NULL). */
static size_t
sg_count(const char *const *list)
{
	size_t n = 0;

	while (list != NULL && list[n] != NULL)
		n++;
	return n;
}

/* A socket id's gateway, when it is registered and linked. */
static struct sg_gw *
sg_route_live(struct siogate_worker *w, const char *id)
{
	struct sg_gw *g = sg_route(w, id, strlen(id));

	return g != NULL && g->linked ? g : NULL;
}

/* g can be sent commands: it registered once and is linked. */
static int
sg_usable(const struct sg_gw *g)
{
	return g->gwid != NULL && g->linked;
}

/*
 * A usable gateway that is a cluster node (it forwards a command for a
 * socket of a gateway this worker is not connected to), or NULL.
 */
static struct sg_gw *
sg_cluster_gw(struct siogate_worker *w)
{
	size_t k;

	for (k = 0; k < w->ngws; k++)
		if (sg_usable(w->gws[k]) && w->gws[k]->cluster > 0)
			return w->gws[k];
	return NULL;
}

/* A usable gateway, a cluster node first, or NULL. */
static struct sg_gw *
sg_any_gw(struct siogate_worker *w)
{
	struct sg_gw *g = sg_cluster_gw(w);
	size_t k;

	for (k = 0; g == NULL && k < w->ngws; k++)
		if (sg_usable(w->gws[k]))
			g = w->gws[k];
	return g;
}

/*
 * The gateway whose socket id s is exactly (its id plus
 * BR_SID_SUFFIX_LEN characters), or NULL: then s may be a room.
 */
static struct sg_gw *
sg_id_gw(struct siogate_worker *w, const char *s)
{
	struct sg_gw *g = sg_route(w, s, strlen(s));

	return g != NULL && strlen(s) == g->gwid_len + BR_SID_SUFFIX_LEN ?
	    g : NULL;
}

/*
 * Parse JSON text into *out.  want is JSON_ARRAY or JSON_OBJECT, or -1
 * for any value.  SIOGATE_OK, JSON, NOMEM (jansson does not tell OOM
 * apart: a text that does not parse is JSON).
 */
static int
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
static int
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
static int
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
static int
sg_pack_obj(struct siogate_worker *w, const char *key,
    const msgpack_object *o)
{
	br_enc_key(&w->enc, key);
	msgpack_pack_object(&w->enc.pk, *o);
	return br_enc_failed(&w->enc) ? SIOGATE_ERR_NOMEM : SIOGATE_OK;
}

/* Pack key: list (only the entries routed to only, when not NULL). */
static void
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
 * In a cluster one node, with all of its loops, carries out a broadcast,
 * a room command or a query for the whole cluster; the loops of other
 * nodes the worker is connected to would do it again.  The lead: the node
 * of the first usable cluster gateway (NULL: no cluster gateway).
 */
static const char *
sg_lead_node(struct siogate_worker *w)
{
	size_t k;

	for (k = 0; k < w->ngws; k++)
		if (sg_usable(w->gws[k]) && w->gws[k]->node[0] != '\0')
			return w->gws[k]->node;
	return NULL;
}

/* Whether g is a loop of another cluster node than lead (left out). */
static int
sg_other_node(const struct sg_gw *g, const char *lead)
{
	return lead != NULL && g->node[0] != '\0' && strcmp(g->node, lead) != 0;
}

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

/* Serve a Socket.IO namespace. */
int
siogate_worker_serve_nsp(struct siogate_worker *w, const char *nsp, int open)
{
	unsigned char *o;
	char **p, *s;
	size_t i, n;

	if (w == NULL || nsp == NULL ||
	    (nsp[0] != '/' && strcmp(nsp, "*") != 0))
		return SIOGATE_ERR_INVALID;
	if ((n = strlen(nsp)) > SG_MAX_NSP)
		return SIOGATE_ERR_INVALID;
	if (w->frozen)
		return SIOGATE_ERR_STATE;
	for (i = 0; i < w->nnsps; i++) {
		if (strcmp(w->nsps[i], nsp) == 0) {
			w->nsp_open[i] = open != 0;
			return SIOGATE_OK;
		}
	}
	if ((s = malloc(n + 1)) == NULL)
		return SIOGATE_ERR_NOMEM;
	memcpy(s, nsp, n + 1);
	if ((p = realloc(w->nsps, (w->nnsps + 1) * sizeof *p)) == NULL) {
		free(s);
		return SIOGATE_ERR_NOMEM;
	}
	w->nsps = p;
	if ((o = realloc(w->nsp_open, w->nnsps + 1)) == NULL) {
		free(s);
		return SIOGATE_ERR_NOMEM;
	}
	w->nsp_open = o;
	w->nsp_open[w->nnsps] = open != 0;
	w->nsps[w->nnsps++] = s;
	return SIOGATE_OK;
}

/* SIO_ACCEPT or SIO_REJECT for socket id. */
static int
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

/* An emit being encoded. */
struct sg_emit {
	const char *nsp;
	const char *const *to;
	const char *const *except;
	const char *ev;
	json_t *args;
	const msgpack_object *same;	/* args as they came (sg_same_args) */
	const struct br_str *atts;
	size_t nbins;
	uint64_t req;		/* 0: no ack asked */
	unsigned timeout;
	int vol;		/* volatile */
};

/* Encode SIO_EMIT. */
static int
sg_enc_emit(struct siogate_worker *w, struct sg_gw *only, void *arg)
{
	struct sg_emit *e = arg;
	int has_to = e->to != NULL && e->to[0] != NULL;
	int has_except = e->except != NULL && e->except[0] != NULL;
	int rc;

	int vol = e->vol;

	br_enc_reset(&w->enc, BR_T_SIO_EMIT, 3 + has_to + has_except +
	    (e->req ? 2 : 0) + vol);
	br_enc_cstr(&w->enc, "nsp", e->nsp);
	br_enc_cstr(&w->enc, "ev", e->ev);
	rc = e->same != NULL ? sg_pack_obj(w, "args", e->same) :
	    sg_pack(w, "args", e->args, e->atts, e->nbins);
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
static int
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
	if ((wt = calloc(1, sizeof *wt)) == NULL ||
	    (wt->id = strdup(id)) == NULL || sg_wait_room(w) == -1 ||
	    (ncb != NULL && (wt->nsp = strdup(nsp ? nsp : "/")) == NULL))
		goto out;
	e.to = to;
	e.req = w->last_req + 1;
	e.timeout = timeout_ms ? timeout_ms : SG_TIMEOUT;
	if ((rc = sg_enc_emit(w, NULL, &e)) != SIOGATE_OK ||
	    (rc = sg_send_checked(w, g)) != SIOGATE_OK)
		goto out;
	/*
	 * The gateway times the ack out and says so; our own deadline, a
	 * little later, covers a gateway that dies silently.
	 */
	w->last_req = e.req;
	wt->req = e.req;
	wt->acb = cb;
	wt->ancb = ncb;
	wt->ud = ud;
	wt->g = g;
	sg_wait_add(w, wt, g, e.timeout);
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
	struct sg_wait *wt = calloc(1, sizeof *wt);

	if (wt == NULL || sg_wait_room(w) == -1 ||
	    (w->ngws > 0 && (wt->asked = calloc(w->ngws,
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

/* Receive other nodes' server-side events. */
int
siogate_worker_on_server_event(struct siogate_worker *w,
    siogate_server_event_cb cb)
{
	if (w == NULL)
		return SIOGATE_ERR_INVALID;
	w->server_event = cb;
	return SIOGATE_OK;
}

/* Encode SIO_SERVER_EMIT (req 0: no answer asked). */
static int
sg_enc_server_emit(struct siogate_worker *w, const struct sg_emit *e,
    uint64_t req)
{
	int rc;

	br_enc_reset(&w->enc, BR_T_SIO_SERVER_EMIT, 3 + (req != 0));
	br_enc_cstr(&w->enc, "nsp", e->nsp);
	br_enc_cstr(&w->enc, "ev", e->ev);
	rc = e->same != NULL ? sg_pack_obj(w, "args", e->same) :
	    sg_pack(w, "args", e->args, e->atts, e->nbins);
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
	if ((wt = calloc(1, sizeof *wt)) == NULL || sg_wait_room(w) == -1 ||
	    br_buf_append(&wt->acc, "[", 1) == -1 ||
	    (wt->asked = calloc(1, sizeof *wt->asked)) == NULL)
		goto out;
	if ((rc = sg_enc_server_emit(w, &e, w->last_req + 1)) != SIOGATE_OK ||
	    (rc = sg_send_checked(w, g)) != SIOGATE_OK)
		goto out;
	wt->req = ++w->last_req;
	wt->query = 1;
	wt->sse = 1;
	wt->asked[wt->nasked++] = g;
	wt->qcb = cb;
	wt->ud = ud;
	/* The gateway ends it at its request timeout; ours covers its death. */
	sg_wait_add(w, wt, g, (int64_t)g->cluster);
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
