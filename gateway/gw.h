/*
 * gw.h: the siogate gateway's shared types.
 *
 * Ownership in one place (see STYLE.md):
 *   struct gw owns the tables: connections (conns list), Engine.IO sessions
 *   (sid table), workers (bridge), listeners.  Every object has one owner
 *   table; others borrow the pointer inside a callback.  Closing an object
 *   marks it CLOSING, stops its watchers and queues it on a close list; the
 *   ev_prepare reaper frees it before the loop sleeps, so no callback ever
 *   sees a freed object on its own stack.
 */
#ifndef GW_H
#define GW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <pthread.h>
#include <ev.h>

#include "gw_tlist.h"
#include "http.h"

/* ---------------- logging (gw_log.c) ---------------- */

enum gw_log_level { GW_LOG_ERR = 3, GW_LOG_WARN = 4, GW_LOG_INFO = 6, GW_LOG_DEBUG = 7 };

/* The only mutable globals: the sink level, set before the loop starts. */
extern int gw_log_level;
extern int gw_log_json;		/* one JSON object per line instead of text */
void gw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Set while a loop handles a client's bytes or deadline (gw_conn.c): the
 * warnings and info lines logged meanwhile are rate-limited (gw_log.c).
 */
extern __thread int gw_log_client;
#define gw_err(...) gw_log(GW_LOG_ERR, __VA_ARGS__)
#define gw_warn(...) gw_log(GW_LOG_WARN, __VA_ARGS__)
#define gw_info(...) gw_log(GW_LOG_INFO, __VA_ARGS__)
#define gw_debug(...) do { if (gw_log_level >= GW_LOG_DEBUG) gw_log(GW_LOG_DEBUG, __VA_ARGS__); } while (0)
/* Copy untrusted bytes into dst as printable ASCII (escapes the rest). */
const char *gw_log_escape(char *dst, size_t dstlen, const char *src, size_t n);
int gw_log_parse_level(const char *s);

/* ---------------- utilities (gw_util.c) ---------------- */

void *gw_xmalloc(size_t n);
void *gw_xcalloc(size_t n, size_t m);
void *gw_xrealloc(void *p, size_t n);
char *gw_xstrndup(const char *s, size_t n);
/* base64 (standard alphabet, padded).  Return the output length. */
size_t gw_b64_encode(char *dst, const unsigned char *src, size_t n);
#define GW_B64_ENC_LEN(n) ((((n) + 2) / 3) * 4)
/* -1 on invalid input. dst must hold n*3/4 bytes. */
long gw_b64_decode(unsigned char *dst, const char *src, size_t n);
/* Fill buf with kernel randomness; -1 on failure. */
int gw_random(void *buf, size_t n);
/* url-safe base64 of random bytes, exactly nchars chars plus NUL. */
int gw_random_id(char *dst, size_t nchars);
/* SHA-1 (gw_sha1.c), for the WebSocket accept key. */
void gw_sha1(const void *data, size_t n, unsigned char out[20]);
/* Milliseconds since the epoch (wall clock). */
uint64_t gw_time_ms(void);
/* Strict unsigned parse of [lo, hi]; -1 on junk or range. */
int gw_parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out);
/* Decode %XX (and '+' when plus_is_space) in place; returns new length. */
size_t gw_url_decode(char *s, size_t n, int plus_is_space);
/*
 * Open rel (relative: no leading '/') below the folder dirfd without ever
 * resolving outside it: openat2(2) with RESOLVE_BENEATH and
 * RESOLVE_NO_MAGICLINKS (a symlink is followed only while it stays below
 * dirfd; absolute ones and ".." out are refused).  Where the kernel has no
 * openat2 (ENOSYS), or with walk set, one component at a time with
 * O_NOFOLLOW: then no symlink is followed at all.  flags as open(2)
 * (O_CLOEXEC added).  The fd, or -1 with errno (EXDEV: it would leave).
 */
int gw_open_beneath(int dirfd, const char *rel, int flags, int walk);

/* ---------------- string-keyed hash map (gw_map.c) ---------------- */

struct gw_map_ent {
	struct gw_map_ent *next;
	const char *key;	/* borrowed from the value */
	uint32_t klen;
	void *val;
};
struct gw_map {
	struct gw_map_ent **b;
	uint32_t mask, n;
};
void *gw_map_get(const struct gw_map *m, const char *key, size_t klen);
void gw_map_put(struct gw_map *m, const char *key, size_t klen, void *val);
void *gw_map_del(struct gw_map *m, const char *key, size_t klen);
void gw_map_each(const struct gw_map *m, void (*fn)(void *val, void *arg), void *arg);
void gw_map_free(struct gw_map *m);

/* ---------------- shared immutable buffers (gw_buf.c) ---------------- */

/*
 * A refcounted, immutable byte buffer.  An outbound Engine.IO packet is
 * encoded once into one of these: data[0..hdr) is the WebSocket frame header
 * (server frames are unmasked, so it can be built in advance) and
 * data[hdr..len) the Engine.IO packet as polling sends it ("4hello"), or the
 * raw bytes of a binary message.  Every recipient's queue holds a reference.
 */
struct gw_buf {
	uint32_t refs;		/* UINT32_MAX: static, never freed */
	uint32_t len;
	uint16_t hdr;
	uint8_t flags;
	char data[];
};
#define GW_BUF_BINARY 0x01	/* a binary Engine.IO message */
#define GW_BUF_V3 0x02		/* a binary message in Engine.IO v3 form (type byte first) */

struct gw_buf *gw_buf_new(size_t len);
struct gw_buf *gw_buf_from(const void *p, size_t n);
struct gw_buf *gw_buf_ref(struct gw_buf *b);
void gw_buf_unref(struct gw_buf *b);

/* One slice of a buffer, queued for output. */
struct gw_slice {
	struct gw_buf *b;
	uint32_t off, end;
};

/*
 * A queue of slices (a ring).  Bound: the owner checks bytes against its
 * limit before pushing (slow consumer policy lives with the owner).
 * The ring array is allocated only while data is pending.
 */
struct gw_outq {
	struct gw_slice *s;
	uint32_t head, n, cap;
	size_t bytes;
};
void gw_outq_push(struct gw_outq *q, struct gw_buf *b, uint32_t off, uint32_t end);
/* Fill iov from the head; returns count. */
int gw_outq_iov(struct gw_outq *q, struct iovec *iov, int max);
/* Drop n written bytes from the head. */
void gw_outq_consume(struct gw_outq *q, size_t n);
void gw_outq_clear(struct gw_outq *q);

/* ---------------- configuration (gw_conf.c) ---------------- */

#define GW_MAX_LISTEN 16
#define GW_MAX_ENDPOINTS 16
#define GW_MAX_ORIGINS 64

enum gw_ep_kind { GW_EP_SIO = 1, GW_EP_RAW = 2 };

struct eio_handler;
struct gw_http_route;

/* An Engine.IO endpoint (a path). Owned by gw_conf. */
struct gw_endpoint {
	char *path;		/* "/engine.io/" (always ends with '/') */
	size_t plen;
	int kind;
	int idx;
	/* What HTTP hands its requests to (gw_conn.h), set by gw_main.c: Engine.IO's */
	const struct gw_http_route *route;
	/* What its sessions are handed to (eio_session.h), set for kind by gw_main.c */
	const struct eio_handler *h;
};

#define GW_MAX_WORKER_CONF 32
#define GW_MAX_WORKER_ENV 32

/* A [worker NAME] section: a program the gateway runs and supervises. */
struct gw_worker_conf {
	char *name;
	char *command;		/* run with /bin/sh -c */
	unsigned processes;
	char *namespaces;	/* passed as SIOGATE_NAMESPACES (informative) */
	char *env[GW_MAX_WORKER_ENV];
	int nenv;
	char *directory;
	char *user;
};

struct gw_conf {
	char *file;		/* the file read, or NULL */
	char *listen[GW_MAX_LISTEN];
	int nlisten;
	struct gw_endpoint ep[GW_MAX_ENDPOINTS];
	int nep;
	char *origins[GW_MAX_ORIGINS];
	int norigins;
	int any_origin;
	char *bridge;
	char *static_dir;
	char *client_dir;	/* socket.io.js & co, served under the Socket.IO path */
	char *gateway_id;
	unsigned ping_interval;	/* ms */
	unsigned ping_timeout;	/* ms */
	unsigned max_payload;	/* bytes */
	unsigned polling_max_packets;	/* per polling response (0: all) */
	unsigned max_url;	/* bytes of request line target */
	unsigned max_headers;	/* bytes of all header lines */
	unsigned http_timeout;	/* ms: slow request / idle keep-alive */
	unsigned max_outq;	/* bytes pending per connection */
	unsigned max_backlog;	/* events queued per worker without credit */
	unsigned bridge_hb;	/* ms */
	unsigned connect_timeout;	/* ms: Socket.IO CONNECT, and the worker's answer */
	unsigned ack_timeout;	/* ms: default server-to-client ack timeout */
	unsigned event_expiry;	/* ms an event may wait in a worker's backlog */
	unsigned drain_timeout;	/* ms to deliver what is pending at shutdown */
	int log_level;
	int log_json;
	char *metrics_listen;
	unsigned max_conns, max_conns_ip, handshake_rate;	/* 0: no limit */
	unsigned max_nsp, max_rooms, max_att, max_depth, max_event_name;
	unsigned sid_bind_ip;
	unsigned allow_eio3;	/* Engine.IO v3 (Socket.IO 2.x) clients too */
	unsigned recovery_window;	/* ms a socket waits for its client (0: no recovery) */
	unsigned recovery_max_packets;	/* packets held per socket for recovery */
	char *at_most_once;	/* namespaces whose events are never redelivered */
	char *curve_secret_file;	/* CURVE on the bridge: the server's secret key */
	char *curve_authorized;		/* CURVE: file of allowed worker public keys */
	unsigned threads;		/* event loops (0: one per CPU) */
	char *cluster;			/* [cluster] redis: redis://... or unix:PATH (NULL: off) */
	char *cluster_prefix;		/* channel prefix ("socket.io") */
	unsigned cluster_max_queue;	/* bytes published and not yet answered */
	unsigned cluster_request_timeout;	/* ms a query waits for the other nodes */
	char *cluster_python;		/* python-socketio's pub/sub channel ("socketio"; "": off) */
	struct gw_worker_conf workers[GW_MAX_WORKER_CONF];
	int nworkers;
};

enum { GW_CONF_RUN = 0, GW_CONF_CHECK = 1, GW_CONF_STATUS = 2 };
/*
 * Load the configuration: defaults, then the file (--config FILE, or
 * /etc/siogate/siogate.conf if present), then the command line.  0 ok with
 * *action; 1: exit 0 (help/version printed); -1: usage error (exit 64);
 * -2: configuration error (exit 78).  Errors are printed.
 */
int gw_conf_load(struct gw_conf *c, int argc, char **argv, int *action);
/* Move what SIGHUP may change from next into cur; warn about the rest. */
void gw_conf_apply_live(struct gw_conf *cur, struct gw_conf *next, int quiet);
/* Print "cli section key" for every option (documentation test). */
void gw_conf_list(FILE *f);
void gw_worker_conf_free(struct gw_worker_conf *w);
void gw_conf_free(struct gw_conf *c);

/* ---------------- the root ---------------- */

struct gw_conn;
struct eio_session;
struct gw_worker;
struct gw_bridge;
struct sio_adapter;

TAILQ_HEAD(gw_conn_list, gw_conn);

struct gw_listener {
	int fd;
	ev_io io;
	struct gw *gw;
	int metrics;		/* the metrics listener: serves /metrics only */
	int inherited;		/* passed by systemd */
	ev_timer pause_t;	/* accepting paused after EMFILE */
	unsigned paused;	/* EMFILEs in a row */
	char name[64];
};

/* Per-IP bookkeeping (gw_ip.c).  Owned by gw->ips; referenced by conns and sessions. */
struct gw_ip {
	char ip[48];
	uint32_t refs;		/* connections and sessions of this address */
	uint32_t conns;		/* open connections */
	double tokens;		/* handshake bucket (-1: full, unused) */
	ev_tstamp t;
};
struct gw;
/*
 * The table is shared by every loop (gw->sh->ips, under gw->sh->mu), so
 * per-IP limits and sid_bind_ip hold across loops.
 */
struct gw_ip *gw_ip_get(struct gw *gw, const struct sockaddr *sa);
void gw_ip_put(struct gw *gw, struct gw_ip *e);
void gw_ip_ref(struct gw *gw, struct gw_ip *e);
/* Count a new connection of e unless over max (0: no limit): 0, or -1. */
int gw_ip_conn_add(struct gw *gw, struct gw_ip *e, unsigned max);
void gw_ip_conn_del(struct gw *gw, struct gw_ip *e);
int gw_ip_handshake(struct gw *gw, struct gw_ip *e);
void gw_ip_sweep(struct gw *gw, int all);

/* Counters for the metrics endpoint (monotonic unless noted). */
struct gw_stats {
	uint64_t conns_accepted;
	uint64_t sessions_opened;
	uint64_t sio_connects, sio_rejects;
	uint64_t events_in;		/* client events handed to workers */
	uint64_t emits;			/* worker emits */
	uint64_t packets_out;		/* Engine.IO packets queued to clients */
	uint64_t bytes_in, bytes_out;
	uint64_t events_expired, events_overflow;
	uint64_t ack_timeouts;
	uint64_t err_http, err_origin, err_parse, err_slow, err_worker_msg, err_ping_timeout;
	uint64_t workers_lost;
	uint64_t limit_conns, limit_handshakes;
	uint64_t volatile_dropped;
	uint64_t handovers;		/* requests passed to the loop owning their sid */
	uint64_t cluster_published, cluster_received, cluster_dropped, cluster_malformed;
	uint64_t cluster_outages;	/* gw_cluster.c */
	uint64_t cluster_timeouts;	/* queries some node did not answer in time */
	uint64_t recovered, recovery_lost;	/* sockets recovered; recoveries refused */
	uint64_t recovery_detached;	/* gauge: sockets waiting for their client */
	uint64_t recovery_buffered;	/* gauge: packets held in recovery rings */
	uint64_t events_held;		/* gauge: client events waiting for their socket's previous one */
};

/*
 * What the metrics and --status report of one loop: its counters and its
 * gauges.  Loops other than the one answering publish theirs every second
 * (gw_loops.c); one loop never reads another's tables.
 */
struct gw_snap {
	struct gw_stats st;
	uint64_t conns, polling, websocket, sockets, nsps, rooms, backlog, outq, parsers;
	uint64_t cluster_up;		/* loops connected to the cluster's Redis */
};
void gw_snap_take(struct gw *gw, struct gw_snap *sn);
/* The sums over every loop: gw's live figures and the others' last snapshots. */
void gw_snap_total(struct gw *gw, struct gw_snap *sum);

/* A message from one loop (or the main thread) to another (gw_loops.c). */
enum gw_msg_kind {
	GW_MSG_CONN = 1,	/* a connection whose request names a sid of this loop */
	GW_MSG_STOP,		/* begin draining (SIGTERM/SIGINT) */
	GW_MSG_STOP_NOW,	/* a second signal */
	GW_MSG_RELOAD,		/* apply conf (taken) */
	GW_MSG_CLOSE_SID,	/* close this sid's session (oversized POST on another loop) */
	GW_MSG_WAKE,		/* re-check the drain (another loop finished) */
};
struct gw_msg {
	int kind;
	struct gw_conn *conn;
	struct gw_conf *conf;
	char sid[32];
	/* GW_MSG_CLOSE_SID: the requester's address (a reference), endpoint index, "ip:port" */
	struct gw_ip *ip;
	int ep;
	char peer[56];
};

/*
 * What the loops of one process share (threads = N).  Immutable once the
 * loops run, except what mu guards: the per-IP table, the snapshots, and
 * the count of connections.
 */
struct gw_shared {
	int n;				/* loops */
	struct gw **loop;		/* [n]; loop[0] runs in the main thread */
	pthread_t *th;
	char **bridges;			/* [n] bound bridge endpoints, for WELCOME */
	pthread_mutex_t mu;
	struct gw_map ips;		/* address -> gw_ip (owner) */
	struct gw_snap *snaps;		/* [n], published every second */
	uint32_t nconns;		/* open connections, all loops (max_connections) */
	int drained;			/* loops done draining */
};

struct gw {
	struct ev_loop *loop;
	struct gw_conf conf;
	char id[8];			/* gateway id: prefix of every sid */
	struct gw_listener lst[GW_MAX_LISTEN];
	int nlst;
	struct gw_listener mlst;	/* metrics (fd -1: off) */
	struct http_limits http_lim;	/* current limits; parsers point here */
	struct gw_stats st;
	struct gw_shared *sh;		/* the loops of this process */
	int idx;			/* this loop's index in sh->loop */
	char bridge_ep[256];		/* this loop's bridge endpoint (bind) */
	pthread_mutex_t inbox_mu;	/* guards inbox */
	struct gw_msg *inbox;
	uint32_t ninbox, inbox_cap;
	ev_async inbox_w;		/* inbox has messages */
	struct gw_msg *handoff;		/* conns to pass to other loops (prepare step): */
	uint32_t nhandoff, handoff_cap;	/* kind = target loop index */
	ev_timer snap_t;		/* publish the snapshot (loops > 0) */
	ev_timer sweep_t;
	uint64_t limit_logged;		/* st.limit_conns when last logged */
	struct gw_proc *procs;		/* supervised worker processes (owner) */
	int stopping;			/* SIGTERM seen: draining */
	int done;			/* left its loop (counted in sh->drained) */
	ev_tstamp started;
	ev_timer drain_t;

	struct gw_conn_list conns;	/* every live connection (owner) */
	struct gw_conn_list writers;	/* conns with output to flush */
	struct gw_conn_list closing;	/* conns to free in the reaper */
	uint64_t next_conn_id;
	uint32_t nconns;

	/* sid -> session (owner), chained hash */
	struct eio_session **sess_tab;
	uint32_t sess_mask, nsess;
	struct eio_session *sess_dead;	/* closed sessions to free */
	struct eio_session *poll_flush;	/* sessions whose parked GET has packets */
	struct eio_session *sess_closing;	/* sessions to close before sleeping */

	/*
	 * Deadline classes (gw_tlist.h): one ev_timer each, however many
	 * members.  This loop's only: a member moving to another loop (a
	 * connection handed over) is stopped here and armed there.
	 */
	struct gw_tlist t_ping;		/* sessions: next ping (ping_interval) */
	struct gw_tlist t_pong;		/* sessions: pong, or a lingering close (ping_timeout) */
	struct gw_tlist t_ping3;	/* v3 sessions: the client's next ping (interval + timeout) */
	struct gw_tlist t_recover;	/* detached sockets: end of the recovery window */
	struct gw_tlist t_http;		/* connections: idle / slow request (http_timeout) */
	struct gw_tlist t_sio_conn;	/* Socket.IO: no namespace connected yet (connect_timeout) */
	struct gw_tlist t_sio_sock;	/* sockets waiting for the worker (connect_timeout) */

	struct gw_bridge *br;
	struct gw_cluster *cl;		/* the cluster node (gw_cluster.c), NULL: off */
	const struct sio_adapter *adapter;	/* Socket.IO's adapter (sio.h), NULL: local */

	/* Socket.IO (sio.h): namespaces (owner) and sockets by id (borrowed) */
	struct gw_map sio_nsps;
	struct gw_map sio_sockets;
	uint32_t sio_stamp;
	struct gw_map sio_pids;		/* pid -> detached sio_socket (borrowed) */
	struct sio_conn *sio_limbo;	/* owner of the detached sockets (sio_recover.c) */
	uint64_t sio_offset;		/* last recovery offset given to an emit */
	struct gw_map sio_held;		/* socket id -> sio_held (owner), sockets holding events */

	/*
	 * Hooks of the HTTP server (gw_http.c), set by the layers above:
	 * requests on the metrics listener (gw_metrics.c; NULL: 404), and
	 * threads = N, a request naming another loop's session (gw_loops.c;
	 * NULL with one loop): hand c over with its request and the bytes
	 * after an upgrade's headers, 1; or 0, not another loop's.
	 */
	void (*http_metrics)(struct gw_conn *c, struct http_req *req);
	int (*http_handoff)(struct gw_conn *c, struct http_req *req, const char *rest,
	    size_t nrest);

	ev_prepare prep;		/* flush, drain, reap before sleeping */
	ev_idle idle;			/* keeps the loop turning while work remains */
	ev_signal sigint, sigterm, sighup;
	char rbuf[65536];		/* shared read buffer (one loop, one reader at a time) */
};

/* gw_listen.c */
int gw_listen_start(struct gw *gw, const char **why);
int gw_listen_metrics(struct gw *gw, const char **why);
void gw_listen_stop(struct gw *gw);

/* gw_loops.c: threads = N */
/* Create the shared state for n loops and each loop's struct gw (not started). */
struct gw_shared *gw_loops_new(int n);
/* Derive loop i's id and bridge endpoint from the configured ones. */
/* -1 with *why when loop i's endpoint cannot be made (port + i over 65535). */
int gw_loops_names(struct gw *gw, const char *base_id, const char **why);
/* Start the inbox watcher and, with several loops, the snapshot timer and the HTTP hand-off hook. */
void gw_loops_watch(struct gw *gw);
/* Move queued connections to their loops (the prepare step). */
void gw_loops_flush(struct gw *gw);
/* Hooks gw_main.c provides to the inbox. */
void gw_main_stop(struct gw *gw, int now);
void gw_main_reload_apply(struct gw *gw, struct gw_conf *next);

/* eio_poll.c: shared static buffers, before the loops start. */
void gw_poll_init(void);

/* gw_inbox.c: waking loops (the base layer: any layer may call these) */
/* Set up gw->idle (loop start). */
void gw_wake_init(struct gw *gw);
/* Ask the loop to run its prepare step before sleeping again. */
void gw_wake(struct gw *gw);
/* Loop gw's id from the configured (or random) one: with several loops, its own. */
void gw_inbox_id(struct gw *gw, const char *base);
/* The loop whose id prefixes sid, if it is another loop; else NULL. */
struct gw *gw_inbox_owner(struct gw *gw, const char *sid);
/* Post a message to loop `to` (any thread) and wake it. */
void gw_inbox_post(struct gw *to, const struct gw_msg *m);
/* sd_notify when built with libsystemd; no-op otherwise. */
void gw_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* gw_super.c: worker programs */
struct gw_proc;
void gw_super_start(struct gw *gw);
void gw_super_reconcile(struct gw *gw);
void gw_super_stop(struct gw *gw);
unsigned gw_super_running(struct gw *gw);
void gw_super_free(struct gw *gw);

/* gw_metrics.c */
int gw_metrics_start(struct gw *gw, const char **why);
void gw_metrics_stop(struct gw *gw);
/* --status: ask a running gateway over the bridge and print; exit status. */
int gw_status_print(const struct gw_conf *c);
/* The reply to that: STATUS_REPLY with the figures of every loop (the bridge's status hook). */
struct br_enc;
void gw_metrics_status(struct gw *gw, struct br_enc *e);

/* gw_conn.c: apply the configured HTTP limits (start, reload) */
void gw_conn_limits_update(struct gw *gw);
/* gw_main.c: the deadline classes (gw->t_*): set up, take the configured durations (reload), stop */
void gw_timers_init(struct gw *gw);
void gw_timers_update(struct gw *gw);
void gw_timers_stop(struct gw *gw);

#endif
