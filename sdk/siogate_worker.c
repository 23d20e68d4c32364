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
#define SG_KEEP_BUF (256u * 1024)	/* bytes of buffers kept between calls */

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
	unsigned hb;			/* ms */
	char **paths;
	size_t npaths;
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
	if (w->enc.sb.alloc > SG_KEEP_BUF && !br_enc_failed(&w->enc)) {
		br_enc_free(&w->enc);
		br_enc_init(&w->enc, BR_T_HEARTBEAT, 0);
	}
	if (w->scap > SG_KEEP_BUF) {
		free(w->sbuf);
		w->sbuf = NULL;
		w->scap = 0;
	}
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

/* Send the encoded message to g.  SIOGATE_OK, AGAIN, NOMEM, ZMQ. */
static int
sg_send_enc(struct siogate_worker *w, struct sg_gw *g)
{
	int rc = SIOGATE_OK;

	if (br_enc_failed(&w->enc))
		return SIOGATE_ERR_NOMEM;
	while (zmq_send(g->sock, w->enc.sb.data, w->enc.sb.size,
	    ZMQ_DONTWAIT) < 0) {
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

/* Encode and send HELLO; schedule the next try either way. */
static int
sg_send_hello(struct siogate_worker *w, struct sg_gw *g, int64_t now)
{
	size_t i;
	int rc;

	br_enc_reset(&w->enc, BR_T_HELLO, w->name ? 4 : 3);
	if (w->name != NULL)
		br_enc_cstr(&w->enc, "name", w->name);
	br_enc_array(&w->enc, "eio", (uint32_t)w->npaths);
	for (i = 0; i < w->npaths; i++)
		br_enc_item_str(&w->enc, w->paths[i], strlen(w->paths[i]));
	br_enc_uint(&w->enc, "credit", w->credit);
	br_enc_uint(&w->enc, "hb", w->hb);
	rc = sg_send_enc(w, g);
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

/* Send a bodiless message (HEARTBEAT, BYE). */
static int
sg_send_simple(struct siogate_worker *w, struct sg_gw *g, int type)
{
	br_enc_reset(&w->enc, type, 0);
	return sg_send_enc(w, g);
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

/* EIO_OPEN: copy the handshake and call eio_open. */
static int
sg_on_open(struct siogate_worker *w, struct sg_gw *g, const struct br_msg *m)
{
	const msgpack_object *hs = br_msg_get(m, "hs");
	const msgpack_object *hh = br_map_get(hs, "headers");
	const msgpack_object *hq = br_map_get(hs, "query");
	struct siogate_handshake h;
	struct siogate_header *p;
	const char *sid, *path;
	size_t need, nh, nq, pos = 0;
	uint64_t t = 0;
	const msgpack_object *o;

	need = sg_need(m->root, "sid") + sg_need(m->root, "path") +
	    sg_need(hs, "url") + sg_need(hs, "addr") +
	    sg_need(hs, "transport") + sg_need_map(hh, &nh) +
	    sg_need_map(hq, &nq);
	if (sg_scratch(w, need) == -1)
		goto nomem;
	if (nh + nq > w->hcap) {
		p = realloc(w->hdrs, (nh + nq) * sizeof *p);
		if (p == NULL)
			goto nomem;
		w->hdrs = p;
		w->hcap = nh + nq;
	}
	sid = sg_put_key(w, &pos, m->root, "sid");
	path = sg_put_key(w, &pos, m->root, "path");
	h.url = sg_put_key(w, &pos, hs, "url");
	h.addr = sg_put_key(w, &pos, hs, "addr");
	h.transport = sg_put_key(w, &pos, hs, "transport");
	if ((o = br_map_get(hs, "time")) != NULL)
		t = o->via.u64;
	h.time_ms = t;
	sg_put_map(w, &pos, hh, w->hdrs);
	sg_put_map(w, &pos, hq, w->hdrs + nh);
	h.headers = nh ? w->hdrs : NULL;
	h.nheaders = nh;
	h.query = nq ? w->hdrs + nh : NULL;
	h.nquery = nq;
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

/* WELCOME: registered. */
static int
sg_on_welcome(struct siogate_worker *w, struct sg_gw *g,
    const struct br_msg *m, int64_t now)
{
	struct br_str gw;
	uint64_t wid = 0, hb = 0;
	int changed;
	char *id;

	br_msg_str(m, "gw", &gw);
	br_msg_uint(m, "wid", &wid);
	br_msg_uint(m, "hb", &hb);
	changed = g->gwid == NULL || g->gwid_len != gw.n ||
	    memcmp(g->gwid, gw.p, gw.n) != 0;
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
	if (w->cb.welcome != NULL)
		w->cb.welcome(w, g->gwid, w->ud);
	return 0;
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
	return 0;
}

/* Handle one frame from g. */
static void
sg_handle(struct siogate_worker *w, struct sg_gw *g, const void *p, size_t n)
{
	struct br_msg m;
	const char *why;
	int64_t now = sg_now();
	int code, rc = 0;

	g->last_recv = now;
	g->linked = 1;
	if (br_msg_decode_ref(&m, p, n, &code, &why) == -1) {
		if (m.type == BR_T_EIO_OPEN || m.type == BR_T_EIO_MESSAGE ||
		    m.type == BR_T_EIO_CLOSE)
			g->owed += w->credit > 0;	/* it used a credit */
		if (m.type != BR_T_ERROR)
			sg_send_error(w, g, code, why, m.type);
		w->proto_err = 1;
		br_msg_free(&m);
		return;
	}
	switch (m.type) {
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
		sg_handle(w, g, zmq_msg_data(&msg), zmq_msg_size(&msg));
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
			continue;
		}
		/* A full queue (AGAIN) is retried in hb ms, not in a spin. */
		if (now - g->last_sent >= (int64_t)w->hb &&
		    sg_send_simple(w, g, BR_T_HEARTBEAT) != SIOGATE_OK)
			g->last_sent = now;
	}
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
	free(g->endpoint);
	free(g->gwid);
	free(g);
}

/* Free everything the worker owns. */
static void
sg_destroy(struct siogate_worker *w)
{
	size_t i;

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
	if (w == NULL)
		return;
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
		if (g->owed > 0)
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
