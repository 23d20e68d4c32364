/*
 * sg_internal.h: libsiogate's private header: the structs its files
 * share, small helpers and the functions one file calls in another.  Not
 * installed (the API is siogate.h); declared with hidden visibility, and
 * the library exports only siogate_* (-export-symbols-regex in
 * Makefile.am).
 *
 * Ownership: the caller owns the struct siogate_worker; it owns one
 * struct sg_gw per connected gateway (the gws array), each holding a DEALER
 * socket and the PAIR socket that receives that DEALER's monitor events.
 * All of them, the zmq context, the epoll fd and the wake eventfd are freed
 * by sg_destroy() (siogate_worker.c).
 *
 * The files, one concern each (as wslay's lib/):
 *	siogate_worker.c	the worker object: new, options, the caller's
 *				loop (fd, timeout, process, run, stop), free
 *	sg_link.c		gateway links: connect, HELLO/WELCOME, monitor,
 *				heartbeats, credit, batching, send paths, routing
 *	sg_dispatch.c		messages from a gateway: decoding, callbacks
 *	sg_cmd.c		commands: eio_send, accept, ack, emit, rooms,
 *				disconnect, session, fan-out
 *	sg_wait.c		requests awaiting answers: acks, queries, sync,
 *				server-side emit
 */
#ifndef SG_INTERNAL_H
#define SG_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>

#include "br_json.h"
#include "br_proto.h"
#include "siogate.h"

#pragma GCC visibility push(hidden)

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
static inline int64_t
sg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* The namespace of a command: NULL is "/"; others start with '/'. */
static inline const char *
sg_nsp(const char *nsp)
{
	if (nsp == NULL)
		return "/";
	return nsp[0] == '/' && strlen(nsp) <= SG_MAX_NSP ? nsp : NULL;
}

/* Entries of a NULL-terminated list (0 for NULL). */
static inline size_t
sg_count(const char *const *list)
{
	size_t n = 0;

	while (list != NULL && list[n] != NULL)
		n++;
	return n;
}

/* g can be sent commands: it registered once and is linked. */
static inline int
sg_usable(const struct sg_gw *g)
{
	return g->gwid != NULL && g->linked;
}

/* Whether g is a loop of another cluster node than lead (left out). */
static inline int
sg_other_node(const struct sg_gw *g, const char *lead)
{
	return lead != NULL && g->node[0] != '\0' && strcmp(g->node, lead) != 0;
}

/*
 * The functions one file calls in another, grouped by the file that
 * defines them (their comments are at the definitions).
 */

/* siogate_worker.c */
void sg_poke(struct siogate_worker *w);

/* sg_link.c */
int sg_flush(struct siogate_worker *w, struct sg_gw *g);
int sg_send_enc(struct siogate_worker *w, struct sg_gw *g);
int sg_send_hello(struct siogate_worker *w, struct sg_gw *g, int64_t now);
void sg_send_error(struct siogate_worker *w, struct sg_gw *g, int code, const char *text, int ref);
int sg_on_welcome(struct siogate_worker *w, struct sg_gw *g, const struct br_msg *m, int64_t now);
int sg_drain_monitor(struct siogate_worker *w, struct sg_gw *g);
int sg_drain(struct siogate_worker *w, struct sg_gw *g, int *budget);
void sg_timers(struct siogate_worker *w, int64_t now);
void sg_gw_free(struct siogate_worker *w, struct sg_gw *g, int say_bye);
struct sg_gw *sg_route(struct siogate_worker *w, const char *sid, size_t n);
int sg_send_checked(struct siogate_worker *w, struct sg_gw *g);
struct sg_gw *sg_route_live(struct siogate_worker *w, const char *id);
struct sg_gw *sg_cluster_gw(struct siogate_worker *w);
struct sg_gw *sg_any_gw(struct siogate_worker *w);
struct sg_gw *sg_id_gw(struct siogate_worker *w, const char *s);
const char *sg_lead_node(struct siogate_worker *w);

/* sg_dispatch.c */
int sg_to_json(struct siogate_worker *w, const msgpack_object *o, size_t *off, size_t *nbins,
    size_t maxbins, const char **why);
void sg_refuse(struct siogate_worker *w, struct sg_gw *g, const char *why, int type);
void sg_handle(struct siogate_worker *w, struct sg_gw *g, const void *p, size_t n, uint32_t item);

/* sg_cmd.c */
int sg_parse(const char *text, int want, json_t **out);
int sg_bins(const struct siogate_bin *bins, size_t nbins, struct br_str *atts);
int sg_pack(struct siogate_worker *w, const char *key, const json_t *v, const struct br_str *atts,
    size_t nbins);
int sg_pack_obj(struct siogate_worker *w, const char *key, const msgpack_object *o);
void sg_enc_list(
    struct siogate_worker *w, const char *key, const char *const *list, struct sg_gw *only);
int sg_accept_reject(struct siogate_worker *w, const char *id, const char *session,
    const char *const *rooms, const char *data, int reject);
int sg_enc_emit(struct siogate_worker *w, struct sg_gw *only, void *arg);
int sg_enc_event(struct siogate_worker *w, int type, uint32_t nkeys, const struct sg_emit *e);
int sg_emit_prep(struct siogate_worker *w, struct sg_emit *e, const char *nsp, const char *ev,
    const char *args, const struct siogate_bin *bins, size_t nbins, struct br_str *atts);

/* sg_wait.c */
void sg_wait_end(struct siogate_worker *w, size_t i, int status);
void sg_gw_lost(struct siogate_worker *w, struct sg_gw *g);
void sg_waits_expire(struct siogate_worker *w, int64_t now);
int sg_on_client_ack(struct siogate_worker *w, struct sg_gw *g, const struct br_msg *m);
int sg_on_result(struct siogate_worker *w, struct sg_gw *g, const struct br_msg *m);
void sg_on_sync_reply(struct siogate_worker *w, struct sg_gw *g, const struct br_msg *m);
void sg_sync_refused(struct siogate_worker *w, struct sg_gw *g);
void sg_acks_gone(struct siogate_worker *w, struct sg_gw *g, const char *id);

#pragma GCC visibility pop

#endif /* SG_INTERNAL_H */
