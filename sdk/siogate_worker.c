/*
 * siogate_worker.c: libsiogate, the worker side of the bridge protocol
 * (siogate-protocol(7), API in siogate.h and libsiogate(3)): the worker
 * object itself: new, the options, the caller's loop (fd, timeout,
 * process, run, stop) and free.  The rest of the library is split by
 * concern (see sg_internal.h): gateway links in sg_link.c, messages from
 * a gateway in sg_dispatch.c, commands in sg_cmd.c, requests awaiting
 * answers in sg_wait.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <zmq.h>

#include "sg_internal.h"

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
void
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

/* Read the wake-up eventfd so it stops being readable. */
static void
sg_drain_wake(struct siogate_worker *w)
{
	uint64_t v;
	ssize_t r;

	r = read(w->evfd, &v, sizeof v);
	(void)r;
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
