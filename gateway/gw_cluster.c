/*
 * gw_cluster.c: a node of a Socket.IO cluster on Redis, per event loop.
 *
 * Wire format: @socket.io/redis-adapter 8.x, classic pub/sub (see
 * siogate-protocol(7), CLUSTER).  Channels, with P the prefix (default
 * "socket.io") and NSP a namespace:
 *   P#NSP#  and  P#NSP#ROOM#   broadcasts, msgpack [uid, packet, opts]
 *                              (the room form when exactly one room)
 *   P-request#NSP#             requests, JSON or msgpack maps
 *   P-response#NSP#            responses
 * The subscriber PSUBSCRIBEs P#* (every namespace's broadcasts) and
 * SUBSCRIBEs the request and response channels of each namespace this
 * loop has: the adapter counts the nodes of a namespace with PUBSUB
 * NUMSUB of its request channel and waits for that many responses.
 *
 * Two hiredis connections, attached to this loop with hiredis's libev
 * adapter: no thread, no blocking call (the host name is resolved once,
 * at start), no polling timer (one-shot timers: a connect deadline, and
 * the reconnection backoff).
 *
 * Publish queue: hiredis buffers what it has not written; bytes handed to
 * it and not yet answered by Redis are counted, and a publish that would
 * take that over cluster_max_queue is dropped and counted, as is every
 * publish while the publisher is down: a broadcast is not held back for
 * later (it would arrive late and out of order).  Local delivery never
 * waits for Redis.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libev.h>

#include "gw_bridge.h"
#include "gw_cluster.h"
#include "sio.h"

#define CL_BACKOFF_MIN 0.1	/* s: first retry */
#define CL_BACKOFF_MAX 5.0	/* s: retries at most this far apart */
#define CL_CONNECT_TIMEOUT 5.0	/* s: a connect (and AUTH) must finish within this */
/*
 * SYNCs waiting for Redis at a time, per loop.  Bound: past it a SYNC is
 * answered at once (what it waited for would only make it later; a peer
 * that sends thousands of SYNCs while Redis is slow gets the weaker
 * answer, not unbounded memory here).
 */
#define CL_MAX_SYNCS 4096

/* A parsed --cluster address. */
struct cl_addr {
	char host[256];
	int port;
	char path[108];		/* unix: */
	char user[128], pass[256];
	unsigned db;
};

/* One connection to Redis: the subscriber or the publisher. */
struct cl_link {
	struct gw_cluster *cl;
	redisAsyncContext *ac;	/* NULL while down (hiredis frees it) */
	int sub;		/* the subscriber */
	int ready;		/* connected */
	ev_timer t;		/* connect deadline, or the backoff before retrying */
	double backoff;
	ev_tstamp since;	/* when it became ready */
	char err[128];		/* why it went down */
};

struct gw_cluster {
	struct gw *gw;
	struct cl_addr a;
	char ip[INET6_ADDRSTRLEN];
	char where[300];	/* for logs: host:port or the path */
	char uid[24];		/* siogate:ID */
	char *prefix;
	size_t plen;
	size_t pylen;		/* python-socketio's channel (0: not listened to) */
	struct cl_link sub, pub;
	size_t inflight;	/* bytes published, not yet answered */
	size_t max_queue;
	int down;		/* an outage is in progress (logged once) */
	ev_tstamp down_since;
	uint64_t down_dropped;	/* publishes lost during this outage */
	int overflowing;	/* the queue is over its bound (logged once) */
	ev_tstamp malformed_logged;
	uint64_t malformed_quiet;	/* malformed messages not logged (rate limit) */
	msgpack_sbuffer sb;	/* the one encoder, reused */
	msgpack_packer pk;
	struct cl_query *queries;	/* a worker's queries waiting for other nodes (owner) */
	struct cl_ack *acks;		/* broadcasts with acks in flight (owner) */
	uint64_t next_query;
	unsigned syncs;		/* SYNCs waiting for Redis's PONG (CL_MAX_SYNCS) */
};

/*
 * A peer's SYNC waiting behind this loop's publishes: a PING queued on
 * the publisher after them; its answer (Redis answers in order) means
 * every earlier PUBLISH was carried out.  Owned by hiredis as the PING's
 * privdata, freed by sync_cb.
 */
struct cl_sync {
	struct gw *gw;
	uint64_t req;
	size_t rid_len;
	unsigned char rid[255];
};

/*
 * A broadcast with acks in flight.  out: a worker here asked a socket of
 * another node (waiting for BROADCAST_ACK on the response channel); else
 * another node asked sockets here (each client's ack is published as
 * BROADCAST_ACK).  sse: another node's serverSideEmit with an ack, handed
 * to worker as SIO_SERVER_EVENT num; its SIO_SERVER_ACK is published.
 * Ends at its timeout.  Owned by cl->acks.
 */
struct cl_ack {
	struct cl_ack *next;
	struct gw_cluster *cl;
	uint64_t num;
	char rid[64];		/* the requestId */
	int out;
	int sse;		/* another node's serverSideEmit with an ack, given to worker */
	uint32_t worker;	/* out: who asked, its req, and the socket */
	uint64_t req;
	char sid[64];
	char *nsp;
	uint32_t nlen;
	ev_timer t;
};

/*
 * A worker's SIO_QUERY spanning the cluster: this loop's answer is taken at
 * once; the other nodes' come back on the namespace's response channel.
 * Done when every subscriber of the request channel but this loop answered
 * (the adapter's count, PUBSUB NUMSUB), or at the request timeout: then the
 * result says so in "error".  A worker's serverSideEmit with an ack is one
 * too (sse), with the other nodes' answers as its items and no local part.
 * Owned by cl->queries.
 */
struct cl_query {
	struct cl_query *next;
	struct gw_cluster *cl;
	char id[64];		/* requestId */
	uint64_t num;		/* its number, to find it again from a reply */
	uint64_t req;
	uint32_t worker;
	int rooms;		/* what = rooms (else sockets) */
	int sse;		/* a serverSideEmit with an ack: items are the answers */
	char *nsp;
	uint32_t nlen;
	struct br_enc items;	/* what = sockets: the packed entries */
	uint32_t nitems;
	struct gw_map seen;	/* what = rooms: distinct names (values owned) */
	char *request;		/* the request to publish once the count is known */
	size_t request_len;
	int waiting_sub;	/* its namespace's channels are being subscribed */
	long expected, got;
	ev_timer t;
};

/* Parse redis://[[USER]:PASS@]HOST[:PORT][/DB] or unix:PATH. */
static int
addr_parse(const char *s, struct cl_addr *a, const char **why)
{
	const char *p, *at, *end, *colon, *slash;
	unsigned long v;
	char num[16];

	memset(a, 0, sizeof *a);
	a->port = 6379;
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] != '/' || strlen(s + 5) >= sizeof a->path) {
			*why = "unix: needs an absolute path of at most 107 bytes";
			return -1;
		}
		snprintf(a->path, sizeof a->path, "%s", s + 5);
		return 0;
	}
	if (strncmp(s, "redis://", 8) != 0) {
		*why = "not redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or unix:/PATH";
		return -1;
	}
	p = s + 8;
	slash = strchr(p, '/');
	end = slash ? slash : p + strlen(p);
	at = memrchr(p, '@', (size_t)(end - p));
	if (at != NULL) {
		colon = memchr(p, ':', (size_t)(at - p));
		if (colon == NULL || (size_t)(colon - p) >= sizeof a->user ||
		    (size_t)(at - colon - 1) >= sizeof a->pass || at == colon + 1) {
			*why = "credentials must be [USER]:PASSWORD@";
			return -1;
		}
		memcpy(a->user, p, (size_t)(colon - p));
		memcpy(a->pass, colon + 1, (size_t)(at - colon - 1));
		p = at + 1;
	}
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (rb == NULL || (size_t)(rb - p - 1) >= sizeof a->host || rb == p + 1) {
			*why = "bad [IPv6] host";
			return -1;
		}
		memcpy(a->host, p + 1, (size_t)(rb - p - 1));
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
		if (rb + 1 < end && colon == NULL) {
			*why = "junk after ]";
			return -1;
		}
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		if ((size_t)((colon ? colon : end) - p) >= sizeof a->host || (colon ? colon : end) == p) {
			*why = "missing or too long host";
			return -1;
		}
		memcpy(a->host, p, (size_t)((colon ? colon : end) - p));
	}
	if (colon != NULL) {
		if ((size_t)(end - colon - 1) >= sizeof num) {
			*why = "port is not a number from 1 to 65535";
			return -1;
		}
		memcpy(num, colon + 1, (size_t)(end - colon - 1));
		num[end - colon - 1] = '\0';
		if (gw_parse_uint(num, 1, 65535, &v) < 0) {
			*why = "port is not a number from 1 to 65535";
			return -1;
		}
		a->port = (int)v;
	}
	if (slash != NULL && slash[1] != '\0') {
		if (gw_parse_uint(slash + 1, 0, 1000000, &v) < 0) {
			*why = "database is not a number";
			return -1;
		}
		a->db = (unsigned)v;
	}
	return 0;
}

int
gw_cluster_addr_check(const char *s, const char **why)
{
	struct cl_addr a;

	return addr_parse(s, &a, why);
}

/* Whether uid is exactly this loop's. */
static int
self_uid(struct gw_cluster *cl, const struct br_str *uid)
{
	return uid->p != NULL && uid->n == strlen(cl->uid) && memcmp(uid->p, cl->uid, uid->n) == 0;
}

/* Whether uid is this loop's or a sibling loop's. */
static int
own_uid(struct gw_cluster *cl, const struct br_str *uid)
{
	size_t n = cl->gw->sh->n > 1 ? strlen(cl->uid) - 1 : strlen(cl->uid);

	if (uid->p == NULL || uid->n != strlen(cl->uid))
		return 0;
	return memcmp(uid->p, cl->uid, n) == 0;
}

/* ---------------- connections ---------------- */

static void link_open(struct cl_link *l);
static void query_subscribed(struct gw_cluster *cl, const char *chan, size_t clen);
struct gw_cluster_req;
static void bcast_ack_in(struct gw_cluster *cl, struct sio_nsp *nsp, const struct gw_cluster_req *r,
    const struct br_str *nspname);
static int bcast_ack_back(struct gw_cluster *cl, const msgpack_object *root,
    const struct br_str *rid);
static void server_result(struct gw *gw, struct gw_worker *w, uint64_t req,
    const msgpack_sbuffer *items, uint32_t n, const char *error);
struct cl_ack;
static struct cl_ack *ack_new(struct gw_cluster *cl, int out, const struct br_str *nsp, uint64_t ms);
static void ack_free(struct cl_ack *a);
static void server_event_in(struct gw_cluster *cl, const struct gw_cluster_req *r,
    const struct br_str *nspname);
struct cl_query;
static const char *query_unreachable(const struct cl_query *q);

/* Log the start of an outage once. */
static void
outage_begin(struct gw_cluster *cl, struct cl_link *l)
{
	if (cl->down)
		return;
	cl->down = 1;
	cl->down_since = ev_now(cl->gw->loop);
	cl->down_dropped = 0;
	cl->gw->st.cluster_outages++;
	if (cl->gw->idx == 0)
		gw_warn("cluster: redis at %s unreachable (%s connection: %s); local delivery goes "
		    "on, cross-gateway messages are dropped until it is back", cl->where,
		    l->sub ? "subscriber" : "publisher", l->err);
}

/* Both connections are up again: log the end of the outage. */
static void
outage_end(struct gw_cluster *cl)
{
	if (!cl->down || !cl->sub.ready || !cl->pub.ready)
		return;
	cl->down = 0;
	if (cl->gw->idx == 0)
		gw_info("cluster: redis at %s connected again after %.1f s; %llu publish(es) "
		    "dropped meanwhile", cl->where, ev_now(cl->gw->loop) - cl->down_since,
		    (unsigned long long)cl->down_dropped);
}

/* Schedule the next attempt of l. */
static void
link_retry(struct cl_link *l)
{
	struct gw_cluster *cl = l->cl;

	l->ready = 0;
	if (!l->sub)
		cl->inflight = 0;	/* what was in flight is lost with the connection */
	outage_begin(cl, l);
	ev_timer_stop(cl->gw->loop, &l->t);
	ev_timer_set(&l->t, l->backoff, 0.);
	ev_timer_start(cl->gw->loop, &l->t);
	l->backoff = l->backoff * 2 > CL_BACKOFF_MAX ? CL_BACKOFF_MAX : l->backoff * 2;
}

/* Drop l's context (not from inside a hiredis callback of that context). */
static void
link_close(struct cl_link *l)
{
	redisAsyncContext *ac = l->ac;

	if (ac == NULL)
		return;
	l->ac = NULL;
	ac->data = NULL;	/* its callbacks, run by the free, ignore it */
	redisAsyncFree(ac);
}

static void
link_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct cl_link *l = t->data;

	if (l->ac != NULL) {
		/* The connect deadline passed. */
		snprintf(l->err, sizeof l->err, "connect timed out");
		link_close(l);
		link_retry(l);
		return;
	}
	link_open(l);
}

/* l's context is going (hiredis frees it after this callback): why, and retry. */
static void
link_lost(struct cl_link *l, const redisAsyncContext *ac, const char *dflt)
{
	snprintf(l->err, sizeof l->err, "%s", ac->errstr[0] ? ac->errstr : dflt);
	l->ac = NULL;
	link_retry(l);
}

static void
connect_cb(const redisAsyncContext *ac, int status)
{
	struct cl_link *l = ac->data;

	if (l == NULL)
		return;
	if (status != REDIS_OK) {
		link_lost(l, ac, "connect failed");
		return;
	}
	gw_debug("cluster: %s connected to redis at %s", l->sub ? "subscriber" : "publisher",
	    l->cl->where);
}

/*
 * l answered its first command after AUTH (the publisher's PING, the
 * subscriber's PSUBSCRIBE): it is up.  Not at connect: a refused AUTH
 * would make every retry look like a recovery.
 */
static void
link_ready(struct cl_link *l)
{
	if (l->ready)
		return;
	ev_timer_stop(l->cl->gw->loop, &l->t);
	l->ready = 1;
	l->since = ev_now(l->cl->gw->loop);
	outage_end(l->cl);
}

static void
ping_cb(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *rep = r;
	struct cl_link *l = ac->data;

	if (l != NULL && rep != NULL && rep->type != REDIS_REPLY_ERROR)
		link_ready(l);
}

static void
disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct cl_link *l = ac->data;

	if (l == NULL)
		return;
	/* A connection that served a while retries quickly; one refused at once backs off. */
	if (l->ready && ev_now(l->cl->gw->loop) - l->since >= 1.0)
		l->backoff = CL_BACKOFF_MIN;
	link_lost(l, ac, "connection closed");
}

/* The answer to AUTH or SELECT: an error closes the connection (and retries). */
static void
setup_cb(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *rep = r;
	struct cl_link *l = ac->data;

	if (l == NULL || rep == NULL || rep->type != REDIS_REPLY_ERROR)
		return;
	snprintf(l->err, sizeof l->err, "%s: %.100s", (const char *)priv, rep->str);
	if (!l->cl->down && l->cl->gw->idx == 0)
		gw_err("cluster: redis at %s refused %s: %s", l->cl->where, (const char *)priv,
		    rep->str);
	redisAsyncDisconnect(ac);
}

static void sub_cb(redisAsyncContext *ac, void *r, void *priv);

/* Subscribe the request and response channels of one namespace. */
static void
sub_nsp(struct gw_cluster *cl, const char *nsp, size_t n)
{
	char req[1200], resp[1200];

	if (cl->sub.ac == NULL || n > 1000)
		return;
	snprintf(req, sizeof req, "%s-request#%.*s#", cl->prefix, (int)n, nsp);
	snprintf(resp, sizeof resp, "%s-response#%.*s#", cl->prefix, (int)n, nsp);
	redisAsyncCommand(cl->sub.ac, sub_cb, NULL, "SUBSCRIBE %s %s", req, resp);
}

static void
sub_nsp_each(void *val, void *arg)
{
	struct sio_nsp *nsp = val;

	sub_nsp(arg, nsp->name, nsp->nlen);
}

/* Open l: connect, then (pipelined) AUTH, and the subscriptions. */
static void
link_open(struct cl_link *l)
{
	struct gw_cluster *cl = l->cl;
	redisAsyncContext *ac;

	ac = cl->a.path[0] ? redisAsyncConnectUnix(cl->a.path) : redisAsyncConnect(cl->ip, cl->a.port);
	if (ac == NULL || ac->err) {
		snprintf(l->err, sizeof l->err, "%s", ac ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		link_retry(l);
		return;
	}
	ac->data = l;
	l->ac = ac;
	redisLibevAttach(cl->gw->loop, ac);
	redisAsyncSetConnectCallback(ac, connect_cb);
	redisAsyncSetDisconnectCallback(ac, disconnect_cb);
	if (cl->a.pass[0] && cl->a.user[0])
		redisAsyncCommand(ac, setup_cb, "AUTH", "AUTH %s %s", cl->a.user, cl->a.pass);
	else if (cl->a.pass[0])
		redisAsyncCommand(ac, setup_cb, "AUTH", "AUTH %s", cl->a.pass);
	if (l->sub) {
		redisAsyncCommand(ac, sub_cb, NULL, "PSUBSCRIBE %s#*", cl->prefix);
		if (cl->pylen > 0)
			redisAsyncCommand(ac, sub_cb, NULL, "SUBSCRIBE %s", cl->gw->conf.cluster_python);
		gw_map_each(&cl->gw->sio_nsps, sub_nsp_each, cl);
	} else {
		if (cl->a.db)
			redisAsyncCommand(ac, setup_cb, "SELECT", "SELECT %u", cl->a.db);
		redisAsyncCommand(ac, ping_cb, NULL, "PING");
	}
	ev_timer_stop(cl->gw->loop, &l->t);
	ev_timer_set(&l->t, CL_CONNECT_TIMEOUT, 0.);
	ev_timer_start(cl->gw->loop, &l->t);
}

static void
adapter_nsp_new(struct gw *gw, struct sio_nsp *nsp)
{
	if (gw->cl != NULL)
		sub_nsp(gw->cl, nsp->name, nsp->nlen);
}

/* ---------------- publishing ---------------- */

static void
pub_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct cl_link *l = ac->data;
	size_t n = (size_t)(uintptr_t)priv;

	if (l == NULL || r == NULL)
		return;
	l->cl->inflight = l->cl->inflight > n ? l->cl->inflight - n : 0;
	if (l->cl->overflowing && l->cl->inflight < l->cl->max_queue / 2) {
		l->cl->overflowing = 0;
		gw_info("cluster: publish queue below half its bound again");
	}
}

/* PUBLISH chan data (the encoder's bytes): 0, or -1 when dropped. */
static int
cl_publish(struct gw_cluster *cl, const char *chan, size_t clen)
{
	const char *p = cl->sb.data;
	size_t n = cl->sb.size;

	if (!cl->pub.ready || cl->pub.ac == NULL) {
		cl->gw->st.cluster_dropped++;
		cl->down_dropped++;
		return -1;
	}
	if (cl->inflight + n > cl->max_queue) {
		cl->gw->st.cluster_dropped++;
		if (!cl->overflowing) {
			cl->overflowing = 1;
			gw_warn("cluster: publish queue to redis at %s over %zu bytes; dropping "
			    "publishes until it drains", cl->where, cl->max_queue);
		}
		return -1;
	}
	if (redisAsyncCommand(cl->pub.ac, pub_cb, (void *)(uintptr_t)n, "PUBLISH %b %b", chan, clen,
	    p, n) != REDIS_OK) {
		cl->gw->st.cluster_dropped++;
		return -1;
	}
	cl->inflight += n;
	cl->gw->st.cluster_published++;
	return 0;
}

/* Redis answered the PING behind a SYNC (r NULL: the link went down). */
static void
sync_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct cl_sync *s = priv;
	struct cl_link *l = ac->data;

	(void)r;
	/* l NULL: the context is freed at stop, after the bridge: no reply. */
	if (l != NULL) {
		l->cl->syncs--;
		gw_bridge_sync_reply(s->gw, s->rid, s->rid_len, s->req);
	}
	free(s);
}

/*
 * The bridge's SYNC hook: when the publisher is up, answer after Redis
 * answered everything published before (1); else 0, answered at once: a
 * publish made while the publisher was down was dropped already (counted
 * in cluster_dropped), so there is nothing to wait for.
 */
static int
cl_sync(struct gw *gw, const unsigned char *rid, size_t rid_len, uint64_t req)
{
	struct gw_cluster *cl = gw->cl;
	struct cl_sync *s;

	if (cl == NULL || !cl->pub.ready || cl->pub.ac == NULL || cl->syncs >= CL_MAX_SYNCS ||
	    rid_len > sizeof s->rid)
		return 0;
	s = gw_xmalloc(sizeof *s);
	s->gw = gw;
	s->req = req;
	s->rid_len = rid_len;
	memcpy(s->rid, rid, rid_len);
	if (redisAsyncCommand(cl->pub.ac, sync_cb, s, "PING") != REDIS_OK) {
		free(s);
		return 0;
	}
	cl->syncs++;
	return 1;
}

/* Start encoding a new message. */
static msgpack_packer *
enc(struct gw_cluster *cl)
{
	msgpack_sbuffer_clear(&cl->sb);
	return &cl->pk;
}

static void
pk_str(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void
pk_cstr(msgpack_packer *pk, const char *s)
{
	pk_str(pk, s, strlen(s));
}

/* An array of the str items of o (NULL: empty). */
static void
pk_strs(msgpack_packer *pk, const msgpack_object *o)
{
	uint32_t i, n = 0;

	for (i = 0; o != NULL && o->type == MSGPACK_OBJECT_ARRAY && i < o->via.array.size; i++)
		n += o->via.array.ptr[i].type == MSGPACK_OBJECT_STR;
	msgpack_pack_array(pk, n);
	for (i = 0; o != NULL && o->type == MSGPACK_OBJECT_ARRAY && i < o->via.array.size; i++)
		if (o->via.array.ptr[i].type == MSGPACK_OBJECT_STR)
			pk_str(pk, o->via.array.ptr[i].via.str.ptr, o->via.array.ptr[i].via.str.size);
}

/* Start a request map {uid, [requestId], type, ...} of n further pairs. */
static msgpack_packer *
req_start(struct gw_cluster *cl, const char *rid, int type, uint32_t n)
{
	msgpack_packer *pk = enc(cl);

	msgpack_pack_map(pk, 2 + (rid != NULL) + n);
	pk_cstr(pk, "uid");
	pk_cstr(pk, cl->uid);
	if (rid != NULL) {
		pk_cstr(pk, "requestId");
		pk_cstr(pk, rid);
	}
	pk_cstr(pk, "type");
	msgpack_pack_uint8(pk, (uint8_t)type);
	return pk;
}

/* "opts": {rooms: the names in to, except: [], and flags when the caller packs it}. */
static void
pk_opts(msgpack_packer *pk, const msgpack_object *to, int flags)
{
	pk_cstr(pk, "opts");
	msgpack_pack_map(pk, flags ? 3 : 2);
	pk_cstr(pk, "rooms");
	pk_strs(pk, to);
	pk_cstr(pk, "except");
	msgpack_pack_array(pk, 0);
}

/* Whether o is a non-empty array of strings. */
static int
has_names(const msgpack_object *o)
{
	return o != NULL && o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size > 0;
}

/* A Socket.IO packet object {type: EVENT, data: [ev, ...args], nsp}. */
static void
pk_packet(msgpack_packer *pk, const struct br_str *nsp, const msgpack_object *ev,
    const msgpack_object *args)
{
	uint32_t i;

	msgpack_pack_map(pk, 3);
	pk_cstr(pk, "type");
	msgpack_pack_uint8(pk, 2);
	pk_cstr(pk, "data");
	msgpack_pack_array(pk, 1 + args->via.array.size);
	msgpack_pack_object(pk, *ev);
	for (i = 0; i < args->via.array.size; i++)
		msgpack_pack_object(pk, args->via.array.ptr[i]);
	pk_cstr(pk, "nsp");
	pk_str(pk, nsp->p, nsp->n);
}

static void
adapter_emit(struct gw *gw, const struct br_str *nsp, const msgpack_object *ev,
    const msgpack_object *args, const msgpack_object *to, const msgpack_object *except, int vol)
{
	struct gw_cluster *cl = gw->cl;
	msgpack_packer *pk;
	char chan[2200];
	int n;

	if (cl == NULL || gw->idx != 0 || sio_ids_local(gw, to) || nsp->n > 1000)
		return;
	pk = enc(cl);
	msgpack_pack_array(pk, 3);
	pk_cstr(pk, cl->uid);
	pk_packet(pk, nsp, ev, args);
	msgpack_pack_map(pk, 3);
	pk_cstr(pk, "rooms");
	pk_strs(pk, to);
	pk_cstr(pk, "except");
	pk_strs(pk, except);
	pk_cstr(pk, "flags");
	msgpack_pack_map(pk, vol ? 1 : 0);
	if (vol) {
		pk_cstr(pk, "volatile");
		msgpack_pack_true(pk);
	}
	if (has_names(to) && to->via.array.size == 1 && to->via.array.ptr[0].type == MSGPACK_OBJECT_STR &&
	    to->via.array.ptr[0].via.str.size <= 1024)
		n = snprintf(chan, sizeof chan, "%s#%.*s#%.*s#", cl->prefix, (int)nsp->n, nsp->p,
		    (int)to->via.array.ptr[0].via.str.size, to->via.array.ptr[0].via.str.ptr);
	else
		n = snprintf(chan, sizeof chan, "%s#%.*s#", cl->prefix, (int)nsp->n, nsp->p);
	cl_publish(cl, chan, (size_t)n);
}

static void
adapter_command(struct gw *gw, int join, const struct br_str *nsp, const msgpack_object *to,
    const msgpack_object *rooms, int close)
{
	struct gw_cluster *cl = gw->cl;
	msgpack_packer *pk;
	char chan[1200];
	int n;

	if (cl == NULL || gw->idx != 0 || !has_names(to) || sio_ids_local(gw, to) ||
	    nsp->n > 1000)
		return;
	pk = req_start(cl, NULL, join == 1 ? GW_CL_REMOTE_JOIN : join == 0 ? GW_CL_REMOTE_LEAVE :
	    GW_CL_REMOTE_DISCONNECT, 2);
	pk_opts(pk, to, 0);
	if (join >= 0) {
		pk_cstr(pk, "rooms");
		pk_strs(pk, rooms);
	} else {
		pk_cstr(pk, "close");
		if (close)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
	}
	n = snprintf(chan, sizeof chan, "%s-request#%.*s#", cl->prefix, (int)nsp->n, nsp->p);
	cl_publish(cl, chan, (size_t)n);
}

/* ---------------- receiving ---------------- */

/* A message that does not decode: logged (at most once a second), counted, dropped. */
static void
malformed(struct gw_cluster *cl, const char *chan, size_t clen, const char *what, const char *why)
{
	char esc[200];
	ev_tstamp now = ev_now(cl->gw->loop);

	cl->gw->st.cluster_malformed++;
	if (now - cl->malformed_logged < 1.0) {
		cl->malformed_quiet++;
		return;
	}
	cl->malformed_logged = now;
	gw_warn("cluster: malformed %s on channel %s ignored: %s%s", what,
	    gw_log_escape(esc, sizeof esc, chan, clen > 120 ? 120 : clen), why,
	    cl->malformed_quiet ? " (and earlier ones not logged)" : "");
	cl->malformed_quiet = 0;
}

/* A broadcast from another node or an emitter: deliver to the members here. */
static void
on_bcast(struct gw_cluster *cl, const char *chan, size_t clen, const char *p, size_t n)
{
	struct gw *gw = cl->gw;
	struct gw_cluster_in in = { 0 };
	struct gw_cluster_bcast b;
	const msgpack_object *root;
	const char *why = NULL;
	struct sio_nsp *nsp;

	if (gw_cluster_in_parse(&in, p, n, 0, &root, &why) < 0 ||
	    gw_cluster_bcast_decode(root, &b, &why) < 0) {
		malformed(cl, chan, clen, "broadcast", why);
		goto done;
	}
	if (own_uid(cl, &b.uid) || b.local)
		goto done;
	gw->st.cluster_received++;
	if ((nsp = sio_nsp_get(gw, b.nsp.p, b.nsp.n, 0)) == NULL)
		goto done;
	if (sio_emit_local(gw, nsp, b.ev, &b.args, b.rooms, b.except, b.vol, &why) < 0)
		malformed(cl, chan, clen, "broadcast", why);
done:
	gw_cluster_in_free(&in);
}

/* Publish the encoder's response on the namespace's response channel. */
static void
respond(struct gw_cluster *cl, const struct br_str *nsp)
{
	char chan[1200];
	int n = snprintf(chan, sizeof chan, "%s-response#%.*s#", cl->prefix, (int)nsp->n, nsp->p);

	cl_publish(cl, chan, (size_t)n);
}

/* Start a response map {requestId, ...} of nfields further pairs. */
static msgpack_packer *
resp_start(struct gw_cluster *cl, const struct gw_cluster_req *r, uint32_t nfields)
{
	msgpack_packer *pk = enc(cl);

	msgpack_pack_map(pk, 1 + nfields);
	pk_cstr(pk, "requestId");
	pk_str(pk, r->req_id.p, r->req_id.n);
	return pk;
}

/* A socket's rooms as Socket.IO lists them: its own id first. */
static void
pk_rooms_of(msgpack_packer *pk, struct sio_socket *so)
{
	uint32_t i;

	msgpack_pack_array(pk, so->nrooms + 1);
	pk_str(pk, so->id, SIO_ID_LEN);
	for (i = 0; i < so->nrooms; i++)
		pk_cstr(pk, so->rooms[i].r->name);
}

/* A socket as fetchSockets() returns it: {id, handshake, rooms, data}. */
static void
pk_socket(msgpack_packer *pk, struct sio_socket *so)
{
	msgpack_unpacked up;
	const msgpack_object *hs = NULL, *v;
	uint64_t t = 0;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, so->conn->hs->data, so->conn->hs->len, NULL) ==
	    MSGPACK_UNPACK_SUCCESS && up.data.type == MSGPACK_OBJECT_MAP)
		hs = &up.data;
	msgpack_pack_map(pk, 4);
	pk_cstr(pk, "id");
	pk_str(pk, so->id, SIO_ID_LEN);
	pk_cstr(pk, "handshake");
	msgpack_pack_map(pk, 8);
	pk_cstr(pk, "headers");
	if (hs != NULL && (v = br_map_get(hs, "headers")) != NULL)
		msgpack_pack_object(pk, *v);
	else
		msgpack_pack_map(pk, 0);
	pk_cstr(pk, "query");
	if (hs != NULL && (v = br_map_get(hs, "query")) != NULL)
		msgpack_pack_object(pk, *v);
	else
		msgpack_pack_map(pk, 0);
	pk_cstr(pk, "address");
	if (hs != NULL && (v = br_map_get(hs, "addr")) != NULL && v->type == MSGPACK_OBJECT_STR)
		msgpack_pack_object(pk, *v);
	else
		pk_cstr(pk, "");
	pk_cstr(pk, "url");
	if (hs != NULL && (v = br_map_get(hs, "url")) != NULL && v->type == MSGPACK_OBJECT_STR)
		msgpack_pack_object(pk, *v);
	else
		pk_cstr(pk, "");
	if (hs != NULL && (v = br_map_get(hs, "time")) != NULL &&
	    v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		t = v->via.u64;
	pk_cstr(pk, "issued");
	msgpack_pack_uint64(pk, t);
	pk_cstr(pk, "time");
	{
		char tb[64];
		time_t s = (time_t)(t / 1000);
		struct tm tm;

		gmtime_r(&s, &tm);
		strftime(tb, sizeof tb, "%a %b %d %Y %H:%M:%S GMT+0000", &tm);
		pk_cstr(pk, tb);
	}
	pk_cstr(pk, "secure");
	msgpack_pack_false(pk);
	pk_cstr(pk, "xdomain");
	if (hs != NULL && (v = br_map_get(hs, "headers")) != NULL && br_map_get(v, "origin") != NULL)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	pk_cstr(pk, "rooms");
	pk_rooms_of(pk, so);
	pk_cstr(pk, "data");
	if (so->session != NULL)
		msgpack_sbuffer_write(pk->data, so->session, so->session_len);
	else
		msgpack_pack_map(pk, 0);
	msgpack_unpacked_destroy(&up);
}

static void
room_name_each(void *val, void *arg)
{
	struct sio_room *r = val;

	pk_cstr(arg, r->name);
}

/* Join, leave or disconnect the local sockets a request names (by opts or by sid). */
static void
req_apply(struct gw_cluster *cl, struct sio_nsp *nsp, const struct gw_cluster_req *r,
    const struct br_str *nspname)
{
	struct gw *gw = cl->gw;
	struct sio_socket **v = NULL, *one;
	char (*ids)[SIO_ID_LEN + 1] = NULL;
	uint32_t n = 0, i, j;

	if (!r->has_opts) {
		one = sio_socket_find(gw, r->sid.p, r->sid.n);
		if (one == NULL || one->nsp != nsp || one->state != SIO_S_CONNECTED)
			return;		/* another node's socket: that node answers */
		if (r->type == GW_CL_REMOTE_JOIN)
			sio_room_join(one, r->room.p, r->room.n);
		else if (r->type == GW_CL_REMOTE_LEAVE)
			sio_room_leave(one, r->room.p, r->room.n);
		else
			sio_socket_disconnect(one, r->close);
		if (r->req_id.p != NULL) {
			resp_start(cl, r, 0);
			respond(cl, nspname);
		}
		return;
	}
	v = sio_targets_collect(gw, nsp, r->opts_rooms, r->opts_except, &n);
	if (r->type == GW_CL_REMOTE_DISCONNECT) {
		/* Closing a connection closes its other sockets: keep ids, look each up again. */
		ids = gw_xcalloc(n ? n : 1, sizeof *ids);
		for (i = 0; i < n; i++)
			memcpy(ids[i], v[i]->id, SIO_ID_LEN + 1);
		for (i = 0; i < n; i++) {
			struct sio_socket *so = sio_socket_find(gw, ids[i], SIO_ID_LEN);

			if (so != NULL && so->state == SIO_S_CONNECTED)
				sio_socket_disconnect(so, r->close);
		}
		free(ids);
		free(v);
		return;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < r->rooms->via.array.size; j++) {
			const msgpack_object *rm = &r->rooms->via.array.ptr[j];

			if (rm->via.str.size == 0 || rm->via.str.size > 1024)
				continue;
			if (r->type == GW_CL_REMOTE_JOIN)
				sio_room_join(v[i], rm->via.str.ptr, rm->via.str.size);
			else
				sio_room_leave(v[i], rm->via.str.ptr, rm->via.str.size);
		}
	}
	free(v);
}

/* A request from another node or an emitter. */
static void
on_request(struct gw_cluster *cl, const char *chan, size_t clen, const char *p, size_t n)
{
	struct gw *gw = cl->gw;
	struct gw_cluster_in in = { 0 };
	struct gw_cluster_req r;
	const msgpack_object *root;
	const char *why = NULL;
	struct br_str nspname;
	struct sio_nsp *nsp;
	msgpack_packer *pk;
	struct sio_socket **v;
	uint32_t i, cnt;
	size_t skip = cl->plen + strlen("-request#");

	if (gw_cluster_in_parse(&in, p, n, GW_CL_IN_JSON, &root, &why) < 0 ||
	    gw_cluster_req_decode(root, &r, &why) < 0) {
		malformed(cl, chan, clen, "request", why);
		goto done;
	}
	/*
	 * The loops of this process carried out a command of theirs already;
	 * a query of loop 0's or a serverSideEmit, they answer like any node.
	 */
	if ((r.type == GW_CL_SOCKETS || r.type == GW_CL_ALL_ROOMS || r.type == GW_CL_REMOTE_FETCH ||
	    r.type == GW_CL_SERVER_SIDE_EMIT ? self_uid(cl, &r.uid) : own_uid(cl, &r.uid)) ||
	    clen < skip + 2 || chan[clen - 1] != '#')
		goto done;
	nspname.p = chan + skip;
	nspname.n = (uint32_t)(clen - skip - 1);
	gw->st.cluster_received++;
	nsp = sio_nsp_get(gw, nspname.p, nspname.n, 0);
	switch (r.type) {
	case GW_CL_REMOTE_JOIN:
	case GW_CL_REMOTE_LEAVE:
	case GW_CL_REMOTE_DISCONNECT:
		if (nsp != NULL)
			req_apply(cl, nsp, &r, &nspname);
		break;
	case GW_CL_SOCKETS:
	case GW_CL_REMOTE_FETCH:
		if (r.req_id.p == NULL)
			break;
		v = sio_targets_collect(gw, nsp, r.opts_rooms, r.opts_except, &cnt);
		pk = resp_start(cl, &r, 1);
		pk_cstr(pk, "sockets");
		msgpack_pack_array(pk, cnt);
		for (i = 0; i < cnt; i++) {
			if (r.type == GW_CL_SOCKETS)
				pk_str(pk, v[i]->id, SIO_ID_LEN);
			else
				pk_socket(pk, v[i]);
		}
		free(v);
		respond(cl, &nspname);
		break;
	case GW_CL_ALL_ROOMS:
		if (r.req_id.p == NULL)
			break;
		pk = resp_start(cl, &r, 1);
		pk_cstr(pk, "rooms");
		msgpack_pack_array(pk, nsp == NULL ? 0 : nsp->rooms.n + nsp->n);
		if (nsp != NULL) {
			gw_map_each(&nsp->rooms, room_name_each, pk);
			for (i = 0; i < nsp->n; i++)
				pk_str(pk, nsp->all[i]->id, SIO_ID_LEN);
		}
		respond(cl, &nspname);
		break;
	case GW_CL_BROADCAST:
		bcast_ack_in(cl, nsp, &r, &nspname);
		break;
	case GW_CL_SERVER_SIDE_EMIT:
		server_event_in(cl, &r, &nspname);
		break;
	default:
		gw_debug("cluster: request type %d on %.*s not served", r.type, (int)clen, chan);
		break;
	}
done:
	gw_cluster_in_free(&in);
}

/* A message of python-socketio's pub/sub managers (RedisManager, Flask-SocketIO). */
static void
on_python(struct gw_cluster *cl, const char *chan, size_t clen, const char *p, size_t n)
{
	struct gw *gw = cl->gw;
	struct gw_cluster_in in = { 0 };
	struct gw_cluster_py m;
	const msgpack_object *root;
	const char *why = NULL;
	struct sio_nsp *nsp;
	struct sio_socket *so, **v;
	uint32_t i, cnt;

	if (gw_cluster_in_parse(&in, p, n, GW_CL_IN_JSON | GW_CL_IN_PICKLE, &root, &why) < 0 ||
	    gw_cluster_py_decode(root, &m, &why) < 0) {
		malformed(cl, chan, clen, "python-socketio message", why);
		goto done;
	}
	if (m.type == GW_CL_PY_OTHER)
		goto done;
	gw->st.cluster_received++;
	if ((nsp = sio_nsp_get(gw, m.nsp.p, m.nsp.n, 0)) == NULL)
		goto done;
	switch (m.type) {
	case GW_CL_PY_EMIT:
		{
			msgpack_object ev = { .type = MSGPACK_OBJECT_STR };

			ev.via.str.ptr = m.event.p;
			ev.via.str.size = m.event.n;
			if (sio_emit_local(gw, nsp, &ev, &m.args, m.room, m.skip, 0, &why) < 0)
				malformed(cl, chan, clen, "python-socketio emit", why);
		}
		break;
	case GW_CL_PY_DISCONNECT:
		so = sio_socket_find(gw, m.sid.p, m.sid.n);
		if (so != NULL && so->nsp == nsp && so->state == SIO_S_CONNECTED)
			sio_socket_disconnect(so, 0);
		break;
	case GW_CL_PY_CLOSE_ROOM:
		{
			msgpack_object one = { .type = MSGPACK_OBJECT_STR }, to;

			one.via.str.ptr = m.sid.p;
			one.via.str.size = m.sid.n;
			to.type = MSGPACK_OBJECT_ARRAY;
			to.via.array.size = 1;
			to.via.array.ptr = &one;
			v = sio_targets_collect(gw, nsp, &to, NULL, &cnt);
			for (i = 0; i < cnt; i++)
				sio_room_leave(v[i], m.sid.p, m.sid.n);
			free(v);
		}
		break;
	}
done:
	gw_cluster_in_free(&in);
}

/* ---------------- a worker's queries across the cluster ---------------- */

static void
seen_free(void *val, void *arg)
{
	free(val);
}

/* Add a room name to a rooms query (once). */
static void
query_room(struct cl_query *q, const char *name, size_t n)
{
	char *v;

	if (gw_map_get(&q->seen, name, n) != NULL)
		return;
	v = gw_xstrndup(name, n);
	gw_map_put(&q->seen, v, n, v);
}

static void
query_room_each(void *val, void *arg)
{
	br_enc_item_str(arg, val, strlen(val));
}

/* Answer the worker (if it is still there) and free q. */
static void
query_finish(struct cl_query *q, const char *error)
{
	struct gw_cluster *cl = q->cl;
	struct gw_worker *w = gw_bridge_find_worker(cl->gw, q->worker);
	struct cl_query **pp;
	struct br_enc e;

	for (pp = &cl->queries; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	}
	ev_timer_stop(cl->gw->loop, &q->t);
	if (w != NULL && q->sse) {
		server_result(cl->gw, w, q->req, &q->items.sb, q->nitems, error);
	} else if (w != NULL) {
		br_enc_init(&e, BR_T_SIO_RESULT, error ? 3 : 2);
		br_enc_uint(&e, "req", q->req);
		br_enc_key(&e, "result");
		if (q->rooms) {
			msgpack_pack_array(&e.pk, q->seen.n);
			gw_map_each(&q->seen, query_room_each, &e);
		} else {
			msgpack_pack_array(&e.pk, q->nitems);
			msgpack_sbuffer_write(&e.sb, q->items.sb.data, q->items.sb.size);
		}
		if (error != NULL)
			br_enc_cstr(&e, "error", error);
		gw_bridge_send_ctl(cl->gw, w, &e);
	}
	msgpack_sbuffer_destroy(&q->items.sb);
	gw_map_each(&q->seen, seen_free, NULL);
	gw_map_free(&q->seen);
	free(q->request);
	free(q->nsp);
	free(q);
}

static void
query_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct cl_query *q = t->data;
	char msg[160];

	if (q->sse)	/* the adapter's words */
		snprintf(msg, sizeof msg, "timeout reached: only %ld responses received out of %ld",
		    q->got, q->expected);
	else
		snprintf(msg, sizeof msg, "timeout: %ld of %ld other nodes answered within %u ms",
		    q->got, q->expected, q->cl->gw->conf.cluster_request_timeout);
	q->cl->gw->st.cluster_timeouts++;
	query_finish(q, msg);
}

/* The count of nodes is known: publish the request, or finish if there is nobody else. */
static void
numsub_cb(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *rep = r;
	struct cl_link *l = ac->data;
	struct cl_query *q;
	char chan[1200];
	int n;

	if (l == NULL)
		return;
	for (q = l->cl->queries; q != NULL && q->num != (uint64_t)(uintptr_t)priv; q = q->next)
		;
	if (q == NULL)
		return;
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[1]->type != REDIS_REPLY_INTEGER) {
		query_finish(q, q->sse ? "cluster: redis did not count the nodes; no other node was asked" :
		    "cluster: redis did not count the nodes; this gateway's sockets only");
		return;
	}
	q->expected = (long)rep->element[1]->integer - 1;	/* all but this loop */
	if (q->expected <= 0) {
		query_finish(q, NULL);
		return;
	}
	n = snprintf(chan, sizeof chan, "%s-request#%.*s#", l->cl->prefix, (int)q->nlen, q->nsp);
	if (redisAsyncCommand(ac, pub_cb, (void *)(uintptr_t)0, "PUBLISH %b %b", chan, (size_t)n,
	    q->request, q->request_len) != REDIS_OK) {
		query_finish(q, query_unreachable(q));
		return;
	}
	l->cl->gw->st.cluster_published++;
}

/* Count the nodes of q's namespace (the subscribers of its request channel). */
static void
query_count(struct cl_query *q)
{
	struct gw_cluster *cl = q->cl;
	char chan[1200];

	q->waiting_sub = 0;
	snprintf(chan, sizeof chan, "%s-request#%.*s#", cl->prefix, (int)q->nlen, q->nsp);
	if (!cl->pub.ready || cl->pub.ac == NULL ||
	    redisAsyncCommand(cl->pub.ac, numsub_cb, (void *)(uintptr_t)q->num, "PUBSUB NUMSUB %s",
	    chan) != REDIS_OK)
		query_finish(q, query_unreachable(q));
}

/* A SUBSCRIBE confirmed: the queries that waited for their namespace's channels go on. */
static void
query_subscribed(struct gw_cluster *cl, const char *chan, size_t clen)
{
	struct cl_query *q, *next;
	size_t skip = cl->plen + strlen("-response#");

	if (clen < skip + 2 || memcmp(chan + cl->plen, "-response#", 10) != 0)
		return;
	for (q = cl->queries; q != NULL; q = next) {
		next = q->next;
		if (q->waiting_sub && q->nlen == clen - skip - 1 &&
		    memcmp(q->nsp, chan + skip, q->nlen) == 0)
			query_count(q);
	}
}

/* A response of another node: add its sockets to the query that asked. */
static void
on_response(struct gw_cluster *cl, const char *chan, size_t clen, const char *p, size_t n)
{
	struct gw_cluster_in in = { 0 };
	const msgpack_object *root, *socks, *it, *v, *rooms;
	const char *why = NULL;
	struct br_str id, s, rid;
	struct cl_query *q;
	uint32_t i, j;

	if (cl->queries == NULL && cl->acks == NULL)
		return;		/* not ours: nothing is waiting */
	if (gw_cluster_in_parse(&in, p, n, GW_CL_IN_JSON, &root, &why) < 0) {
		malformed(cl, chan, clen, "response", why);
		goto done;
	}
	/* Responses to other nodes' requests pass here too: only ours are read. */
	if (root->type != MSGPACK_OBJECT_MAP || br_obj_str(br_map_get(root, "requestId"), &rid) < 0)
		goto done;
	if (bcast_ack_back(cl, root, &rid))
		goto done;
	for (q = cl->queries; q != NULL; q = q->next)
		if (rid.n == strlen(q->id) && memcmp(rid.p, q->id, rid.n) == 0)
			break;
	if (q == NULL || q->waiting_sub)
		goto done;
	if (q->sse) {
		/* One answer per node: its callback's argument. */
		v = br_map_get(root, "data");
		if (v != NULL)
			msgpack_pack_object(&q->items.pk, *v);
		else
			msgpack_pack_nil(&q->items.pk);
		q->nitems++;
		cl->gw->st.cluster_received++;
		if (++q->got >= q->expected)
			query_finish(q, NULL);
		goto done;
	}
	socks = br_map_get(root, "sockets");
	if (socks == NULL || socks->type != MSGPACK_OBJECT_ARRAY) {
		malformed(cl, chan, clen, "response", "fetchSockets response without sockets");
		goto done;
	}
	for (i = 0; i < socks->via.array.size; i++) {
		it = &socks->via.array.ptr[i];
		if (it->type != MSGPACK_OBJECT_MAP || br_obj_str(br_map_get(it, "id"), &id) < 0)
			continue;
		rooms = br_map_get(it, "rooms");
		if (rooms != NULL && rooms->type != MSGPACK_OBJECT_ARRAY)
			rooms = NULL;
		if (q->rooms) {
			for (j = 0; rooms != NULL && j < rooms->via.array.size; j++)
				if (br_obj_str(&rooms->via.array.ptr[j], &s) == 0 &&
				    !(s.n == id.n && memcmp(s.p, id.p, s.n) == 0))
					query_room(q, s.p, s.n);
			continue;
		}
		msgpack_pack_map(&q->items.pk, 4);
		pk_cstr(&q->items.pk, "id");
		pk_str(&q->items.pk, id.p, id.n);
		pk_cstr(&q->items.pk, "rooms");
		for (j = 0, s.n = 0; rooms != NULL && j < rooms->via.array.size; j++) {
			struct br_str t;

			s.n += br_obj_str(&rooms->via.array.ptr[j], &t) == 0 &&
			    !(t.n == id.n && memcmp(t.p, id.p, t.n) == 0);
		}
		msgpack_pack_array(&q->items.pk, s.n);
		for (j = 0; rooms != NULL && j < rooms->via.array.size; j++) {
			struct br_str t;

			if (br_obj_str(&rooms->via.array.ptr[j], &t) == 0 &&
			    !(t.n == id.n && memcmp(t.p, id.p, t.n) == 0))
				pk_str(&q->items.pk, t.p, t.n);
		}
		pk_cstr(&q->items.pk, "session");
		v = br_map_get(it, "data");
		if (v != NULL && v->type == MSGPACK_OBJECT_MAP)
			msgpack_pack_object(&q->items.pk, *v);
		else
			msgpack_pack_map(&q->items.pk, 0);
		pk_cstr(&q->items.pk, "addr");
		v = br_map_get(it, "handshake");
		if (v != NULL && v->type == MSGPACK_OBJECT_MAP &&
		    br_obj_str(br_map_get(v, "address"), &s) == 0)
			pk_str(&q->items.pk, s.p, s.n);
		else
			pk_cstr(&q->items.pk, "");
		q->nitems++;
	}
	cl->gw->st.cluster_received++;
	if (++q->got >= q->expected)
		query_finish(q, NULL);
done:
	gw_cluster_in_free(&in);
}

static void
query_local(struct sio_socket *so, void *arg)
{
	struct cl_query *q = arg;
	uint32_t i;

	if (q->rooms) {
		for (i = 0; i < so->nrooms; i++)
			query_room(q, so->rooms[i].r->name, strlen(so->rooms[i].r->name));
		return;
	}
	sio_pack_socket(&q->items, so);
	q->nitems++;
}

/* A new query of worker w (its req) on namespace nsp: numbered, timed, not started. */
static struct cl_query *
query_new(struct gw_cluster *cl, struct gw_worker *w, uint64_t req, const struct br_str *nsp)
{
	struct cl_query *q = gw_xcalloc(1, sizeof *q);

	q->cl = cl;
	q->req = req;
	q->worker = w->id;
	q->nsp = gw_xstrndup(nsp->p, nsp->n);
	q->nlen = nsp->n;
	msgpack_sbuffer_init(&q->items.sb);
	msgpack_packer_init(&q->items.pk, &q->items.sb, msgpack_sbuffer_write);
	q->num = ++cl->next_query;
	snprintf(q->id, sizeof q->id, "%s:%llu", cl->uid, (unsigned long long)q->num);
	ev_timer_init(&q->t, query_timeout_cb, cl->gw->conf.cluster_request_timeout / 1000.0, 0.);
	q->t.data = q;
	q->next = cl->queries;
	cl->queries = q;
	return q;
}

/* Why q ended early without the other nodes. */
static const char *
query_unreachable(const struct cl_query *q)
{
	return q->sse ? "cluster: redis unreachable; no other node was asked" :
	    "cluster: redis unreachable; this gateway's sockets only";
}

/*
 * Start q with the request in the encoder: publish it once the nodes are
 * counted.  existed: its namespace's channels were subscribed already
 * (else the count waits for that SUBSCRIBE).
 */
static void
query_start(struct cl_query *q, int existed)
{
	struct gw_cluster *cl = q->cl;

	q->request = gw_xmalloc(cl->sb.size);
	memcpy(q->request, cl->sb.data, cl->sb.size);
	q->request_len = cl->sb.size;
	ev_timer_start(cl->gw->loop, &q->t);
	if (!cl->sub.ready || !cl->pub.ready) {
		query_finish(q, query_unreachable(q));
		return;
	}
	if (existed)
		query_count(q);
	else
		q->waiting_sub = 1;	/* counted once its SUBSCRIBE is confirmed */
}

static int
adapter_query(struct gw *gw, struct gw_worker *w, const struct br_msg *m)
{
	struct gw_cluster *cl = gw->cl;
	struct br_str nspname = { "/", 1 }, what;
	const msgpack_object *to = br_msg_get(m, "to");
	struct sio_nsp *nsp;
	struct cl_query *q;
	msgpack_packer *pk;
	int existed;
	uint64_t req;

	if (cl == NULL || br_msg_uint(m, "req", &req) < 0 || br_msg_str(m, "what", &what) < 0 ||
	    !((what.n == 7 && memcmp(what.p, "sockets", 7) == 0) ||
	    (what.n == 5 && memcmp(what.p, "rooms", 5) == 0)))
		return 0;
	br_msg_str(m, "nsp", &nspname);
	if (nspname.n == 0 || nspname.n > 1000 || nspname.p[0] != '/')
		return 0;
	q = query_new(cl, w, req, &nspname);
	q->rooms = what.n == 5;
	if (gw->idx != 0) {
		/* Loop 0 answers for every loop of this process, as a node of its own each. */
		query_finish(q, NULL);
		return 1;
	}
	existed = sio_nsp_get(gw, nspname.p, nspname.n, 0) != NULL;
	nsp = sio_nsp_get(gw, nspname.p, nspname.n, 1);	/* subscribes its channels if new */
	if (to != NULL && to->type == MSGPACK_OBJECT_ARRAY && to->via.array.size > 0)
		sio_targets(gw, nsp, to, NULL, query_local, q);
	else
		sio_targets(gw, nsp, NULL, NULL, query_local, q);
	pk = req_start(cl, q->id, GW_CL_REMOTE_FETCH, 1);
	pk_opts(pk, to, 0);
	query_start(q, existed);
	return 1;
}

/* ---------------- serverSideEmit ---------------- */

/* SIO_SERVER_RESULT {req, result: the answers, [error]} to worker w. */
static void
server_result(struct gw *gw, struct gw_worker *w, uint64_t req, const msgpack_sbuffer *items,
    uint32_t n, const char *error)
{
	struct br_enc e;

	br_enc_init(&e, BR_T_SIO_SERVER_RESULT, error ? 3 : 2);
	br_enc_uint(&e, "req", req);
	br_enc_key(&e, "result");
	msgpack_pack_array(&e.pk, n);
	if (n > 0)
		msgpack_sbuffer_write(&e.sb, items->data, items->size);
	if (error != NULL)
		br_enc_cstr(&e, "error", error);
	gw_bridge_send_ctl(gw, w, &e);
}

static void
adapter_server_emit(struct gw *gw, struct gw_worker *w, const struct br_msg *m)
{
	struct gw_cluster *cl = gw->cl;
	struct br_str nspname = { "/", 1 };
	const msgpack_object *ev = br_msg_get(m, "ev"), *args = br_msg_get(m, "args");
	struct cl_query *q = NULL;
	msgpack_packer *pk;
	char chan[1200];
	uint64_t req;
	uint32_t i;
	int ack = br_msg_uint(m, "req", &req) == 0, existed, n;

	br_msg_str(m, "nsp", &nspname);	/* checked by sio_bridge.c */
	existed = sio_nsp_get(gw, nspname.p, nspname.n, 0) != NULL;
	if (ack) {
		q = query_new(cl, w, req, &nspname);
		q->sse = 1;
		sio_nsp_get(gw, nspname.p, nspname.n, 1);	/* counted like any node */
	}
	pk = req_start(cl, q != NULL ? q->id : NULL, GW_CL_SERVER_SIDE_EMIT, 1);
	pk_cstr(pk, "data");
	msgpack_pack_array(pk, 1 + args->via.array.size);
	msgpack_pack_object(pk, *ev);
	for (i = 0; i < args->via.array.size; i++)
		msgpack_pack_object(pk, args->via.array.ptr[i]);
	if (q != NULL) {
		query_start(q, existed);
		return;
	}
	n = snprintf(chan, sizeof chan, "%s-request#%.*s#", cl->prefix, (int)nspname.n, nspname.p);
	cl_publish(cl, chan, (size_t)n);
}

/* Another node's serverSideEmit: to one worker of the namespace on this loop. */
static void
server_event_in(struct gw_cluster *cl, const struct gw_cluster_req *r, const struct br_str *nspname)
{
	struct gw *gw = cl->gw;
	struct gw_worker *w = gw_bridge_pick_nsp(gw, nspname->p, nspname->n, NULL);
	const msgpack_object *d = r->data;
	struct cl_ack *a;
	struct br_enc e;
	uint32_t i;
	int ack = r->req_id.p != NULL;

	if (w == NULL) {
		/* With an ack, the asking node counts this one as not answering. */
		gw_debug("cluster: serverSideEmit on %.*s: no worker serves it here", (int)nspname->n,
		    nspname->p);
		return;
	}
	if (ack && r->req_id.n >= sizeof a->rid)
		return;
	br_enc_init(&e, BR_T_SIO_SERVER_EVENT, 3 + ack);
	br_enc_str(&e, "nsp", nspname->p, nspname->n);
	br_enc_key(&e, "ev");
	msgpack_pack_object(&e.pk, d->via.array.ptr[0]);
	br_enc_array(&e, "args", d->via.array.size - 1);
	for (i = 1; i < d->via.array.size; i++)
		msgpack_pack_object(&e.pk, d->via.array.ptr[i]);
	if (ack) {
		a = ack_new(cl, 0, nspname, gw->conf.cluster_request_timeout);
		a->sse = 1;
		a->worker = w->id;
		memcpy(a->rid, r->req_id.p, r->req_id.n);
		br_enc_uint(&e, "req", a->num);
	}
	gw_bridge_send_ctl(gw, w, &e);
}

static void
adapter_server_ack(struct gw *gw, struct gw_worker *w, const struct br_msg *m)
{
	struct gw_cluster *cl = gw->cl;
	const msgpack_object *args = br_msg_get(m, "args");
	struct cl_ack *a;
	msgpack_packer *pk;
	struct br_str nsp;
	uint64_t req = 0;

	br_msg_uint(m, "req", &req);
	for (a = cl != NULL ? cl->acks : NULL; a != NULL; a = a->next)
		if (a->sse && a->num == req && a->worker == w->id)
			break;
	if (a == NULL) {
		gw_debug("worker %u: SIO_SERVER_ACK %llu answers nothing waiting (late?)", w->id,
		    (unsigned long long)req);
		return;
	}
	pk = enc(cl);
	msgpack_pack_map(pk, 3);
	pk_cstr(pk, "type");
	msgpack_pack_uint8(pk, GW_CL_SERVER_SIDE_EMIT);
	pk_cstr(pk, "requestId");
	pk_cstr(pk, a->rid);
	pk_cstr(pk, "data");	/* the adapter's callback takes one argument */
	if (args->via.array.size > 0)
		msgpack_pack_object(pk, args->via.array.ptr[0]);
	else
		msgpack_pack_nil(pk);
	nsp.p = a->nsp;
	nsp.n = a->nlen;
	respond(cl, &nsp);
	ack_free(a);
}

/* ---------------- broadcasts with acks ---------------- */

/* Tell the worker of an out ack how it ended: SIO_CLIENT_ACK (arg) or SIO_ACK_TIMEOUT. */
static void
ack_tell(struct cl_ack *a, const msgpack_object *arg, const char *reason)
{
	struct gw *gw = a->cl->gw;
	struct gw_worker *w = gw_bridge_find_worker(gw, a->worker);
	struct gw_evmeta meta = { arg ? BR_T_SIO_CLIENT_ACK : BR_T_SIO_ACK_TIMEOUT, a->sid, 0, 0, 0 };
	struct br_enc e;

	if (w == NULL)
		return;
	br_enc_init(&e, meta.type, 4);
	br_enc_cstr(&e, "id", a->sid);
	br_enc_str(&e, "nsp", a->nsp, a->nlen);
	br_enc_uint(&e, "req", a->req);
	if (arg != NULL) {
		br_enc_key(&e, "args");
		msgpack_pack_array(&e.pk, 1);
		msgpack_pack_object(&e.pk, *arg);
	} else {
		br_enc_cstr(&e, "reason", reason);
	}
	gw_bridge_send_event(gw, w, &e, 1, &meta);
}

static void
ack_free(struct cl_ack *a)
{
	struct cl_ack **pp;

	for (pp = &a->cl->acks; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	ev_timer_stop(a->cl->gw->loop, &a->t);
	free(a->nsp);
	free(a);
}

static void
ack_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct cl_ack *a = t->data;

	if (a->out) {
		a->cl->gw->st.ack_timeouts++;
		ack_tell(a, NULL, "timeout");
	}
	ack_free(a);
}

static struct cl_ack *
ack_new(struct gw_cluster *cl, int out, const struct br_str *nsp, uint64_t ms)
{
	struct cl_ack *a = gw_xcalloc(1, sizeof *a);

	a->cl = cl;
	a->out = out;
	a->num = ++cl->next_query;
	a->nsp = gw_xstrndup(nsp->p, nsp->n);
	a->nlen = nsp->n;
	ev_timer_init(&a->t, ack_timeout_cb, (ms ? ms : 1) / 1000.0, 0.);
	a->t.data = a;
	ev_timer_start(cl->gw->loop, &a->t);
	a->next = cl->acks;
	cl->acks = a;
	return a;
}

static int
adapter_emit_ack(struct gw *gw, struct gw_worker *w, const struct br_str *nsp,
    const msgpack_object *ev, const msgpack_object *args, const msgpack_object *to, uint64_t req,
    uint64_t timeout)
{
	struct gw_cluster *cl = gw->cl;
	const msgpack_object *t;
	struct cl_ack *a;
	msgpack_packer *pk;
	char chan[1200];
	int n;

	if (cl == NULL || to == NULL || to->type != MSGPACK_OBJECT_ARRAY || to->via.array.size != 1 ||
	    to->via.array.ptr[0].type != MSGPACK_OBJECT_STR || sio_ids_local(gw, to) ||
	    to->via.array.ptr[0].via.str.size >= sizeof a->sid || nsp->n > 1000)
		return 0;
	t = &to->via.array.ptr[0];
	a = ack_new(cl, 1, nsp, timeout);
	a->worker = w->id;
	a->req = req;
	memcpy(a->sid, t->via.str.ptr, t->via.str.size);
	snprintf(a->rid, sizeof a->rid, "%s:%llu", cl->uid, (unsigned long long)a->num);
	pk = req_start(cl, a->rid, GW_CL_BROADCAST, 2);
	pk_cstr(pk, "packet");
	pk_packet(pk, nsp, ev, args);
	pk_opts(pk, to, 1);
	pk_cstr(pk, "flags");
	msgpack_pack_map(pk, 1);
	pk_cstr(pk, "timeout");
	msgpack_pack_uint64(pk, timeout);
	n = snprintf(chan, sizeof chan, "%s-request#%.*s#", cl->prefix, (int)nsp->n, nsp->p);
	if (cl_publish(cl, chan, (size_t)n) < 0) {
		ack_tell(a, NULL, "disconnected");
		ack_free(a);
	}
	return 1;
}

/* BROADCAST (with acks) from another node: deliver here, each socket with its ack id. */
static void
bcast_ack_in(struct gw_cluster *cl, struct sio_nsp *nsp, const struct gw_cluster_req *r,
    const struct br_str *nspname)
{
	struct gw *gw = cl->gw;
	struct sio_socket **v;
	struct gw_buf *pkts[SIO_MAX_ATTACHMENTS + 1];
	struct cl_ack *a;
	msgpack_packer *pk;
	const char *why = NULL;
	uint32_t i, cnt = 0, sent = 0;
	int np, k;
	uint64_t ms = r->bc.timeout ? r->bc.timeout : gw->conf.ack_timeout;

	if (r->req_id.p == NULL || r->req_id.n >= sizeof a->rid)
		return;
	a = ack_new(cl, 0, nspname, ms);
	memcpy(a->rid, r->req_id.p, r->req_id.n);
	v = nsp != NULL ? sio_targets_collect(gw, nsp, r->bc.rooms, r->bc.except, &cnt) : NULL;
	for (i = 0; i < cnt; i++) {
		uint64_t id = sio_socket_wait_ack(v[i], SIO_WORKER_REMOTE, a->num, (unsigned)ms);

		np = sio_packet_encode(SIO_EVENT, nsp->name, nsp->nlen, 1, id, r->bc.ev, &r->bc.args,
		    NULL, pkts, &why);
		if (np < 0)
			break;
		sio_socket_send(v[i], pkts, np);
		for (k = 0; k < np; k++)
			gw_buf_unref(pkts[k]);
		sent++;
	}
	free(v);
	pk = resp_start(cl, r, 2);
	pk_cstr(pk, "type");
	msgpack_pack_uint8(pk, GW_CL_BROADCAST_CLIENT_COUNT);
	pk_cstr(pk, "clientCount");
	msgpack_pack_uint32(pk, sent);
	respond(cl, nspname);
	if (sent == 0)
		ack_free(a);
}

static void
adapter_client_ack(struct gw *gw, uint64_t n, const char *arg, size_t len)
{
	struct gw_cluster *cl = gw->cl;
	struct cl_ack *a;
	msgpack_packer *pk;
	struct br_str nsp;

	if (cl == NULL)
		return;
	for (a = cl->acks; a != NULL && (a->out || a->sse || a->num != n); a = a->next)
		;
	if (a == NULL)
		return;		/* late: the asking node gave up already */
	pk = enc(cl);
	msgpack_pack_map(pk, 3);
	pk_cstr(pk, "type");
	msgpack_pack_uint8(pk, GW_CL_BROADCAST_ACK);
	pk_cstr(pk, "requestId");
	pk_cstr(pk, a->rid);
	pk_cstr(pk, "packet");
	msgpack_sbuffer_write(&cl->sb, arg, len);
	nsp.p = a->nsp;
	nsp.n = a->nlen;
	respond(cl, &nsp);
}

/* A response naming an out ack of ours: a BROADCAST_ACK goes to the worker that asked. */
static int
bcast_ack_back(struct gw_cluster *cl, const msgpack_object *root, const struct br_str *rid)
{
	static const msgpack_object nil = { .type = MSGPACK_OBJECT_NIL };
	const msgpack_object *type = br_map_get(root, "type"), *pkt = br_map_get(root, "packet");
	struct cl_ack *a;

	for (a = cl->acks; a != NULL; a = a->next)
		if (a->out && rid->n == strlen(a->rid) && memcmp(rid->p, a->rid, rid->n) == 0)
			break;
	if (a == NULL)
		return 0;
	if (type != NULL && type->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    type->via.u64 == GW_CL_BROADCAST_ACK) {
		cl->gw->st.cluster_received++;
		ack_tell(a, pkt != NULL ? pkt : &nil, NULL);
		ack_free(a);	/* the first answer wins: one socket was asked */
	}
	return 1;	/* a client count: the ack itself is still to come */
}

/* Every message of the subscriber. */
static void
sub_cb(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *rep = r, *chan, *msg;
	struct cl_link *l = ac->data;
	struct gw_cluster *cl;

	if (l == NULL || rep == NULL)
		return;
	cl = l->cl;
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(l->err, sizeof l->err, "%.100s", rep->str);
		return;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
	    rep->element[0]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(rep->element[0]->str, "pmessage") == 0 && rep->elements == 4) {
		chan = rep->element[2];
		msg = rep->element[3];
	} else if (strcmp(rep->element[0]->str, "message") == 0) {
		chan = rep->element[1];
		msg = rep->element[2];
	} else {
		if (strcmp(rep->element[0]->str, "psubscribe") == 0)
			link_ready(l);
		if (strcmp(rep->element[0]->str, "subscribe") == 0 &&
		    rep->element[1]->type == REDIS_REPLY_STRING)
			query_subscribed(cl, rep->element[1]->str, rep->element[1]->len);
		return;		/* a subscription confirmed */
	}
	if (chan->type != REDIS_REPLY_STRING || msg->type != REDIS_REPLY_STRING)
		return;
	if (cl->pylen > 0 && chan->len == cl->pylen &&
	    memcmp(chan->str, cl->gw->conf.cluster_python, cl->pylen) == 0) {
		on_python(cl, chan->str, chan->len, msg->str, msg->len);
	} else if (chan->len > cl->plen && memcmp(chan->str, cl->prefix, cl->plen) == 0) {
		const char *rest = chan->str + cl->plen;
		size_t rn = chan->len - cl->plen;

		if (rest[0] == '#')
			on_bcast(cl, chan->str, chan->len, msg->str, msg->len);
		else if (rn > 9 && memcmp(rest, "-request#", 9) == 0)
			on_request(cl, chan->str, chan->len, msg->str, msg->len);
		else if (rn > 10 && memcmp(rest, "-response#", 10) == 0)
			on_response(cl, chan->str, chan->len, msg->str, msg->len);
	}
}

/* ---------------- start / stop ---------------- */

/* Socket.IO's adapter (sio.h) while this loop runs a cluster node. */
static const struct sio_adapter cluster_adapter = {
	.nsp_new = adapter_nsp_new,
	.emit = adapter_emit,
	.emit_ack = adapter_emit_ack,
	.command = adapter_command,
	.query = adapter_query,
	.server_emit = adapter_server_emit,
	.server_ack = adapter_server_ack,
	.client_ack = adapter_client_ack,
};

int
gw_cluster_start(struct gw *gw, const char **why)
{
	static char msg[400];
	struct gw_cluster *cl;
	struct addrinfo hints, *res = NULL;
	int rc;

	if (gw->conf.cluster == NULL || gw->conf.cluster[0] == '\0')
		return 0;
	cl = gw_xcalloc(1, sizeof *cl);
	cl->gw = gw;
	if (addr_parse(gw->conf.cluster, &cl->a, why) < 0) {
		free(cl);
		return -1;
	}
	if (cl->a.path[0]) {
		snprintf(cl->where, sizeof cl->where, "unix:%s", cl->a.path);
	} else {
		/* Resolved once, before the loop runs: reconnecting never blocks on DNS. */
		memset(&hints, 0, sizeof hints);
		hints.ai_socktype = SOCK_STREAM;
		if ((rc = getaddrinfo(cl->a.host, NULL, &hints, &res)) != 0 || res == NULL) {
			snprintf(msg, sizeof msg, "cluster: cannot resolve %s: %s", cl->a.host,
			    gai_strerror(rc));
			*why = msg;
			free(cl);
			return -1;
		}
		if (res->ai_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr,
			    cl->ip, sizeof cl->ip);
		else
			inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr,
			    cl->ip, sizeof cl->ip);
		freeaddrinfo(res);
		snprintf(cl->where, sizeof cl->where, "%s:%d", cl->a.host, cl->a.port);
	}
	snprintf(cl->uid, sizeof cl->uid, "siogate:%s", gw->id);
	cl->prefix = gw->conf.cluster_prefix;
	cl->plen = strlen(cl->prefix);
	cl->pylen = gw->conf.cluster_python != NULL ? strlen(gw->conf.cluster_python) : 0;
	cl->max_queue = gw->conf.cluster_max_queue;
	msgpack_sbuffer_init(&cl->sb);
	msgpack_packer_init(&cl->pk, &cl->sb, msgpack_sbuffer_write);
	cl->sub.cl = cl->pub.cl = cl;
	cl->sub.sub = 1;
	cl->sub.backoff = cl->pub.backoff = CL_BACKOFF_MIN;
	gw_bridge_on_sync(gw, cl_sync);
	ev_init(&cl->sub.t, link_timer_cb);
	ev_init(&cl->pub.t, link_timer_cb);
	cl->sub.t.data = &cl->sub;
	cl->pub.t.data = &cl->pub;
	gw->cl = cl;
	gw->adapter = &cluster_adapter;
	if (gw->idx == 0)
		gw_info("cluster: node %s on redis at %s, channel prefix %s", cl->uid, cl->where,
		    cl->prefix);
	link_open(&cl->sub);
	link_open(&cl->pub);
	return 0;
}

void
gw_cluster_stop(struct gw *gw)
{
	struct gw_cluster *cl = gw->cl;

	if (cl == NULL)
		return;
	gw_bridge_on_sync(gw, NULL);
	gw->adapter = NULL;
	ev_timer_stop(gw->loop, &cl->sub.t);
	ev_timer_stop(gw->loop, &cl->pub.t);
	while (cl->queries != NULL)
		query_finish(cl->queries, "server shutting down");
	while (cl->acks != NULL)
		ack_free(cl->acks);
	link_close(&cl->sub);
	link_close(&cl->pub);
	msgpack_sbuffer_destroy(&cl->sb);
	free(cl);
	gw->cl = NULL;
}

/* This loop's cluster gauge: 1 when both connections are up. */
int
gw_cluster_up(struct gw *gw)
{
	return gw->cl != NULL && gw->cl->sub.ready && gw->cl->pub.ready;
}
