/*
 * siogate_bench.c: siogate-bench, a load generator for Socket.IO v5 servers
 * (siogate with tests/bench/bench_worker, and the Node reference server
 * tests/bench/node_server.mjs), in C on libev.
 *
 *	siogate-bench SCENARIO [--url http://127.0.0.1:8080] [--path /socket.io/]
 *	    [--transport websocket|polling] [--clients N] [--duration S]
 *	    [--warmup S] [--rate R] [--payload BYTES] [--inflight K]
 *	    [--procs P] [--concurrency C] [--server-pid PID] [--worker-pid PID]...
 *	    [--label NAME] [--src-ips K] [--stall S] [-v]
 *
 * Scenarios (see tests/bench/README.md for what each figure means):
 *
 *   fanout        N clients emit "join" ["bench"] (with an ack); a driver
 *                 client emits "broadcast" [payload] and the server emits
 *                 it to the room.  --rate R: R messages/s delivered in all
 *                 (R/N broadcasts/s), else closed loop with --inflight
 *                 broadcasts not yet delivered to every client.
 *   echo          N clients emit "echo" [payload] with an ack: --inflight K
 *                 in flight per client (closed loop), or --rate R acks/s in
 *                 all (open loop).
 *   idle          N clients connect and stay, answering pings; the
 *                 server's RSS growth per client and missed pings.
 *   connect-rate  N slots connect (Engine.IO handshake + namespace "/"
 *                 connect) and drop the connection, over and over.
 *
 * Clients speak Engine.IO v4 + Socket.IO v5 over raw WebSocket (masked
 * client frames) or HTTP/1.1 long-polling (one keep-alive connection for
 * GETs, one for POSTs).  Timestamps (CLOCK_REALTIME, microseconds) travel
 * in the payload, so latency needs no per-message state; the time of
 * arrival is the kernel's receive timestamp of the data (SO_TIMESTAMPNS),
 * so the generator's own queueing does not count as the server's latency.
 *
 * Processes: the parent coordinates (phases, the fanout driver, server CPU
 * and RSS from /proc) and forks P children that own the clients; they talk
 * over SOCK_SEQPACKET socket pairs.  Output: one JSON line on stdout;
 * progress on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "gw.h"		/* gw_sha1(), gw_b64_encode() */

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define BENCH_MAX_PROCS 64
#define BENCH_MAX_WORKERS 16
#define BENCH_RING 65536	/* fanout: broadcasts tracked per child */
#define BENCH_HDR_MAX 16384	/* bytes of an HTTP response header */
#define BENCH_FRAME_MAX (64u << 20)
#define BENCH_ROOM "bench"
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum bench_scen { SC_FANOUT, SC_ECHO, SC_IDLE, SC_CONNECT };
enum bench_tr { TR_WS, TR_POLL };

/* Command-line options (read-only once parsed). */
struct bench_opts {
	int scen;
	int tr;
	char host[64];
	int port;
	char host2[64];		/* --url2: where the odd client processes connect (port2 0: none) */
	int port2;
	char path[128];
	unsigned clients;
	double duration, warmup;
	double rate;
	unsigned payload;
	unsigned inflight;
	unsigned procs;
	unsigned conc;		/* clients connecting at once, per process */
	unsigned src_ips;	/* loopback source addresses to spread over */
	double stall;		/* s without progress before giving up */
	double conn_timeout;	/* s for one client to connect */
	pid_t server_pid;
	pid_t worker_pid[BENCH_MAX_WORKERS];
	int nworkers;
	const char *label;
	int verbose;
};

/* ---------------- latency histogram (log-linear, ~1.6%) ---------------- */

#define HSUB 64
#define HBUCKETS (HSUB + 40 * 32)

/* Latencies in µs: 64 exact buckets, then 32 per power of two.  Inline in its owner. */
struct hist {
	uint64_t n, max_us;
	double sum_us;
	uint64_t b[HBUCKETS];
};

/* Bucket of a value in microseconds. */
static unsigned
hist_idx(uint64_t v)
{
	unsigned msb, shift;

	if (v < HSUB)
		return (unsigned)v;
	msb = 63 - (unsigned)__builtin_clzll(v);
	shift = msb - 5;
	if (shift > 40)
		return HBUCKETS - 1;
	return HSUB + (shift - 1) * 32 + (unsigned)((v >> shift) - 32);
}

/* A representative value (middle) of a bucket. */
static double
hist_val(unsigned idx)
{
	unsigned k, shift;

	if (idx < HSUB)
		return idx;
	k = idx - HSUB;
	shift = k / 32 + 1;
	return (double)((uint64_t)(k % 32 + 32) << shift) +
	    (double)((uint64_t)1 << shift) / 2;
}

/* Count one latency in microseconds. */
static void
hist_add(struct hist *h, int64_t v)
{
	if (v < 0)
		v = 0;
	h->n++;
	h->sum_us += (double)v;
	if ((uint64_t)v > h->max_us)
		h->max_us = (uint64_t)v;
	h->b[hist_idx((uint64_t)v)]++;
}

/* Add the counts of from to to. */
static void
hist_merge(struct hist *to, const struct hist *from)
{
	unsigned i;

	to->n += from->n;
	to->sum_us += from->sum_us;
	if (from->max_us > to->max_us)
		to->max_us = from->max_us;
	for (i = 0; i < HBUCKETS; i++)
		to->b[i] += from->b[i];
}

/* The q-quantile in milliseconds (-1 when empty). */
static double
hist_q(const struct hist *h, double q)
{
	uint64_t want, seen = 0;
	unsigned i;

	if (h->n == 0)
		return -1;
	want = (uint64_t)ceil(q * (double)h->n);
	if (want == 0)
		want = 1;
	for (i = 0; i < HBUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			double v = hist_val(i);

			return (v > (double)h->max_us ? (double)h->max_us : v) / 1000.0;
		}
	}
	return (double)h->max_us / 1000.0;
}

/* ---------------- parent <-> child messages ---------------- */

enum { M_READY = 1, M_GO, M_START, M_START_OK, M_PROGRESS, M_STOP, M_RESULT, M_QUIT };

/* What a child measured; merged by the parent. */
struct result {
	uint64_t connected;	/* clients that reached READY (still alive at READY) */
	uint64_t failed;	/* connection attempts that failed */
	uint64_t disconnects;	/* READY clients lost afterwards */
	uint64_t count;		/* deliveries, acks or connects in the window */
	uint64_t lost;		/* echo: acks never received */
	uint64_t sent;		/* echo: emits sent in the window */
	uint64_t pings, pings_missed, pings_late, ping_gap_max_us;
	uint64_t ping_interval_ms;	/* as the server announced it */
	double cpu_s;		/* this process's CPU in the window */
	struct hist h;
};

/* One parent <-> child message (SOCK_SEQPACKET keeps the boundaries); r only in RESULT. */
struct pmsg {
	uint32_t type;
	uint32_t pad;
	uint64_t a, b;
	struct result r;
};
#define PMSG_SHORT offsetof(struct pmsg, r)

/* ---------------- buffers ---------------- */

/*
 * A growable byte buffer, owned by its holder (a connection's input or
 * output, a client's POST body).  Bound: input stops growing at a frame of
 * BENCH_FRAME_MAX or a header of BENCH_HDR_MAX (the client fails); output
 * grows while the server does not read, which a benchmark client accepts.
 */
struct bbuf {
	char *p;
	uint32_t len, cap;
};

/* Make room for more bytes (exits on OOM: a load generator has no use going on). */
static void
bbuf_reserve(struct bbuf *b, size_t more)
{
	size_t want = (size_t)b->len + more, cap = b->cap ? b->cap : 256;

	if (want <= b->cap)
		return;
	while (cap < want)
		cap *= 2;
	b->p = realloc(b->p, cap);
	if (b->p == NULL) {
		fprintf(stderr, "siogate-bench: out of memory\n");
		exit(2);
	}
	b->cap = (uint32_t)cap;
}

/* Append n bytes. */
static void
bbuf_add(struct bbuf *b, const void *p, size_t n)
{
	bbuf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += (uint32_t)n;
}

/* Release the memory (the buffer stays usable). */
static void
bbuf_free(struct bbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Drop the first n bytes. */
static void
bbuf_consume(struct bbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		if (b->cap > 65536)
			bbuf_free(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= (uint32_t)n;
}

/* ---------------- clients ---------------- */

enum conn_role { R_WS, R_GET, R_POST };
enum conn_state {
	K_CLOSED, K_CONNECTING, K_IDLE,	/* HTTP: no request out */
	K_BUSY,				/* HTTP: waiting for the response */
	K_WS_UP,			/* waiting for 101 */
	K_WS,				/* WebSocket frames */
};
enum cl_state {
	CS_NONE, CS_OPEN_WAIT,		/* TCP/upgrade/handshake under way */
	CS_SIO_WAIT,			/* "40" sent */
	CS_JOIN_WAIT,			/* fanout: join sent, ack awaited */
	CS_READY, CS_DEAD,
};

struct bench_cl;

/* One TCP connection of a client.  Owned by its client (inline). */
struct conn {
	ev_io io;		/* first: the callback casts */
	struct bench_cl *c;
	int fd;
	uint8_t role, state, wwatch, close_after;
	struct bbuf in;		/* input not yet consumed */
	struct bbuf out;	/* output not yet written */
	struct bbuf frag;	/* WebSocket: fragmented message so far */
	uint8_t fragop;
	uint8_t got_bytes;	/* HTTP: response bytes seen for this request */
	uint32_t gen;		/* bumped by every open: a reader notices a new socket */
	char accept[32];	/* WebSocket: expected Sec-WebSocket-Accept */
};

/* One Socket.IO client.  Owned by its process's array; never freed early. */
struct bench_cl {
	struct bench_proc *P;
	uint32_t idx;
	uint8_t state;
	uint8_t driver;		/* the fanout driver (parent) */
	uint8_t restart;	/* connect-rate: queued for reopening */
	uint8_t post_retry;
	struct conn k[2];	/* WebSocket or GET; POST */
	char sid[32];
	struct bbuf pbody;	/* polling: packets for the next POST */
	struct bbuf pinfl;	/* polling: body of the POST in flight */
	uint64_t next_ack;
	uint32_t inflight;
	int64_t t0_us;		/* this connection attempt began */
	int64_t t_ready_us;
	int64_t last_ping_us;
};

/*
 * One process's clients and loop (a child, or the parent's driver).  Lives
 * on the stack of child_main() or main() for the whole process.
 */
struct bench_proc {
	struct ev_loop *loop;
	const struct bench_opts *o;
	struct sockaddr_in dst;
	int is_parent;
	int ctl;
	ev_io ctl_io;
	ev_timer tick;		/* housekeeping every 250 ms */
	ev_timer pace;		/* echo --rate */
	ev_timer drain_t;	/* echo: waiting for the last acks */
	ev_prepare chk;		/* restarts, progress (before sleeping) */
	struct bench_cl *cl;
	uint32_t ncl, next_open, opening, nready, nfailed_total;
	uint32_t *restart_q;
	uint32_t nrestart;
	int reported_ready, go, measuring, stopping, draining;
	uint64_t seq_start;
	uint32_t *ring;
	uint64_t done_seq, told_seq;
	struct result r;
	struct rusage ru0;
	char *rb;
	size_t rbcap;
	struct bbuf scratch;
	char *pad;
	uint32_t rnd;
	uint32_t src_rot;
	int ping_interval_ms, ping_timeout_ms;
	int64_t now_us;
	int64_t t_go_us, t_start_us, t_drain_us;
	uint64_t echo_due;
	uint32_t rr;
	double rate_share;	/* echo --rate: this process's share */
	void (*on_driver_ready)(struct bench_proc *P);
	void *coord;
};

/* Monotonic clock in microseconds: phases, timeouts, pacing. */
static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Wall clock in microseconds: payload stamps and arrival times. */
static int64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* User + system seconds of a getrusage() sample. */
static double
rusage_s(const struct rusage *a)
{
	return (double)a->ru_utime.tv_sec + (double)a->ru_utime.tv_usec / 1e6 +
	    (double)a->ru_stime.tv_sec + (double)a->ru_stime.tv_usec / 1e6;
}

/* xorshift32: WebSocket masks and keys (need not be strong). */
static uint32_t
proc_rand(struct bench_proc *P)
{
	uint32_t x = P->rnd;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return P->rnd = x;
}

static void cl_fail(struct bench_cl *c, const char *why);
static void cl_send_eio(struct bench_cl *c, const char *p, size_t n);
static void proc_open_more(struct bench_proc *P);
static void proc_check_ready(struct bench_proc *P);
static void conn_open(struct conn *k);
static void post_flush(struct bench_cl *c);
static void http_get(struct bench_cl *c);

/* ---------------- connection I/O ---------------- */

/* Set the watched events of a connection. */
static void
conn_watch(struct conn *k, int ev)
{
	struct ev_loop *loop = k->c->P->loop;

	if (ev_is_active(&k->io) && k->io.events == ev)
		return;
	ev_io_stop(loop, &k->io);
	ev_io_set(&k->io, k->fd, ev);
	ev_io_start(loop, &k->io);
}

/* Close the socket (abortive when rst: no TIME_WAIT). */
static void
conn_close(struct conn *k, int rst)
{
	if (k->fd >= 0) {
		if (rst) {
			struct linger l = { 1, 0 };

			setsockopt(k->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		}
		ev_io_stop(k->c->P->loop, &k->io);
		close(k->fd);
		k->fd = -1;
	}
	k->state = K_CLOSED;
	k->in.len = 0;
	k->out.len = 0;
	k->frag.len = 0;
	if (k->in.cap > 65536)
		bbuf_free(&k->in);
}

/* Write or queue bytes; 0, or -1 when the client failed. */
static int
conn_write(struct conn *k, const void *p, size_t n)
{
	ssize_t w = 0;

	if (k->out.len == 0 && k->state != K_CONNECTING && k->fd >= 0) {
		w = send(k->fd, p, n, MSG_NOSIGNAL);
		if (w == (ssize_t)n)
			return 0;
		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				cl_fail(k->c, "write");
				return -1;
			}
			w = 0;
		}
	}
	bbuf_add(&k->out, (const char *)p + w, n - (size_t)w);
	if (k->state != K_CONNECTING && k->fd >= 0 && !k->wwatch) {
		k->wwatch = 1;
		conn_watch(k, EV_READ | EV_WRITE);
	}
	return 0;
}

/* Write what is queued. */
static void
conn_flush(struct conn *k)
{
	ssize_t w;

	while (k->out.len > 0) {
		w = send(k->fd, k->out.p, k->out.len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			cl_fail(k->c, "write");
			return;
		}
		bbuf_consume(&k->out, (size_t)w);
	}
	if (k->wwatch) {
		k->wwatch = 0;
		conn_watch(k, EV_READ);
	}
}

/* Send one masked WebSocket frame. */
static int
ws_send(struct conn *k, int op, const char *p, size_t n)
{
	struct bench_proc *P = k->c->P;
	struct bbuf *s = &P->scratch;
	unsigned char *h;
	uint32_t mask = proc_rand(P);
	unsigned char m[4];
	size_t i, hl;

	s->len = 0;
	bbuf_reserve(s, n + 14);
	h = (unsigned char *)s->p;
	h[0] = (unsigned char)(0x80 | op);
	if (n < 126) {
		h[1] = (unsigned char)(0x80 | n);
		hl = 2;
	} else if (n < 65536) {
		h[1] = 0x80 | 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	} else {
		h[1] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	memcpy(m, &mask, 4);
	memcpy(h + hl, m, 4);
	hl += 4;
	for (i = 0; i < n; i++)
		h[hl + i] = (unsigned char)p[i] ^ m[i & 3];
	return conn_write(k, h, hl + n);
}

/* ---------------- scenario events ---------------- */

/* Parse an unsigned decimal at *p (advances); 0 if none. */
static uint64_t
parse_u64(const char **p, const char *end)
{
	uint64_t v = 0;

	while (*p < end && **p >= '0' && **p <= '9')
		v = v * 10 + (uint64_t)(*(*p)++ - '0');
	return v;
}

/* Build the string argument "T<us>:<seq>:xxxx" padded to payload bytes. */
static size_t
bench_arg(struct bench_proc *P, char *dst, int64_t ts, uint64_t seq)
{
	int n = sprintf(dst, "T%lld:%llu:", (long long)ts, (unsigned long long)seq);

	if ((unsigned)n < P->o->payload) {
		memcpy(dst + n, P->pad, P->o->payload - (unsigned)n);
		n = (int)P->o->payload;
	}
	return (size_t)n;
}

/* Emit one "echo" with an ack. */
static void
echo_send(struct bench_cl *c)
{
	struct bench_proc *P = c->P;
	char *b = P->pad + P->o->payload + 8;	/* room after the pad */
	size_t n;

	n = (size_t)sprintf(b, "42%llu[\"echo\",\"", (unsigned long long)c->next_ack++);
	n += bench_arg(P, b + n, wall_us(), 0);
	memcpy(b + n, "\"]", 2);
	n += 2;
	c->inflight++;
	if (P->measuring)
		P->r.sent++;
	cl_send_eio(c, b, n);
}

/* The fanout driver emits one "broadcast". */
static void
driver_send(struct bench_cl *c, uint64_t seq)
{
	struct bench_proc *P = c->P;
	char *b = P->pad + P->o->payload + 8;
	size_t n;

	memcpy(b, "42[\"broadcast\",\"", 16);
	n = 16 + bench_arg(P, b + 16, wall_us(), seq);
	memcpy(b + n, "\"]", 2);
	cl_send_eio(c, b, n + 2);
}

/* Advance the fanout completion mark while broadcasts are complete. */
static void
ring_advance(struct bench_proc *P)
{
	uint32_t need = P->nready;

	if (need == 0)
		return;
	while (P->ring[(P->done_seq + 1) % BENCH_RING] >= need) {
		P->ring[(P->done_seq + 1) % BENCH_RING] = 0;
		P->done_seq++;
	}
}

/* A "broadcast" reached a client: 42["broadcast","T<us>:<seq>:...."]. */
static void
on_broadcast(struct bench_cl *c, const char *p, size_t n)
{
	struct bench_proc *P = c->P;
	const char *q = p, *end = p + n;
	uint64_t ts, seq;

	if (n < 17 || memcmp(p, "[\"broadcast\",\"T", 15) != 0)
		return;
	q += 15;
	ts = parse_u64(&q, end);
	if (q >= end || *q++ != ':')
		return;
	seq = parse_u64(&q, end);
	if (P->measuring && seq >= P->seq_start) {
		P->r.count++;
		hist_add(&P->r.h, P->now_us - (int64_t)ts);
	}
	if (seq > P->done_seq && seq - P->done_seq < BENCH_RING) {
		P->ring[seq % BENCH_RING]++;
		if (seq == P->done_seq + 1)
			ring_advance(P);
	}
}

/* An ack: 3<id>[...]. */
static void
on_ack(struct bench_cl *c, const char *p, size_t n)
{
	struct bench_proc *P = c->P;
	const char *q = p, *end = p + n;
	uint64_t ts;

	if (c->state == CS_JOIN_WAIT) {
		c->state = CS_READY;
		c->t_ready_us = P->now_us;
		P->opening--;
		P->nready++;
		proc_open_more(P);
		proc_check_ready(P);
		return;
	}
	if (P->o->scen != SC_ECHO || c->state != CS_READY)
		return;
	parse_u64(&q, end);
	if (end - q < 3 || memcmp(q, "[\"T", 3) != 0)
		return;
	q += 3;
	ts = parse_u64(&q, end);
	if (c->inflight > 0)
		c->inflight--;
	if (P->measuring) {
		P->r.count++;
		hist_add(&P->r.h, P->now_us - (int64_t)ts);
	}
	if (P->go && !P->stopping && P->o->rate <= 0)
		echo_send(c);
}

/* The namespace connect was answered: the socket is connected. */
static void
cl_connected(struct bench_cl *c)
{
	struct bench_proc *P = c->P;
	unsigned i;

	if (P->o->scen == SC_CONNECT) {
		if (P->measuring) {
			P->r.count++;
			hist_add(&P->r.h, P->now_us - c->t0_us);
		}
		conn_close(&c->k[0], 1);
		conn_close(&c->k[1], 1);
		c->state = CS_NONE;
		if (!c->restart && !P->stopping) {
			c->restart = 1;
			P->restart_q[P->nrestart++] = c->idx;
		}
		return;
	}
	if (P->o->scen == SC_FANOUT && !c->driver) {
		static const char join[] = "421[\"join\",\"" BENCH_ROOM "\"]";

		c->state = CS_JOIN_WAIT;
		cl_send_eio(c, join, sizeof join - 1);
		return;
	}
	c->state = CS_READY;
	c->t_ready_us = P->now_us;
	P->opening--;
	P->nready++;
	if (c->driver) {
		P->on_driver_ready(P);
		return;
	}
	if (P->o->scen == SC_ECHO && P->go && P->o->rate <= 0) {
		for (i = 0; i < P->o->inflight; i++)
			echo_send(c);
	}
	proc_open_more(P);
	proc_check_ready(P);
}

/* A Socket.IO packet (after the Engine.IO '4'). */
static void
sio_packet(struct bench_cl *c, const char *p, size_t n)
{
	char type;

	if (n == 0)
		return;
	type = p[0];
	p++;
	n--;
	if (n > 0 && p[0] == '/') {	/* "/nsp," */
		const char *comma = memchr(p, ',', n);

		if (comma == NULL)
			return;
		n -= (size_t)(comma + 1 - p);
		p = comma + 1;
	}
	switch (type) {
	case '0':
		if (c->state == CS_SIO_WAIT)
			cl_connected(c);
		break;
	case '2':
		if (c->P->o->scen == SC_FANOUT && c->state == CS_READY)
			on_broadcast(c, p, n);
		break;
	case '3':
		on_ack(c, p, n);
		break;
	case '4':
		cl_fail(c, "connect_error");
		break;
	case '1':
		cl_fail(c, "server disconnect");
		break;
	}
}

/* Find "key": and parse the integer after it (-1 if absent). */
static long
json_int(const char *p, size_t n, const char *key)
{
	char pat[64];
	const char *q, *end = p + n;
	size_t kl = (size_t)snprintf(pat, sizeof pat, "\"%s\":", key);

	q = memmem(p, n, pat, kl);
	if (q == NULL)
		return -1;
	q += kl;
	return (long)parse_u64(&q, end);
}

/* One Engine.IO text packet. */
static void
eio_packet(struct bench_cl *c, const char *p, size_t n)
{
	struct bench_proc *P = c->P;

	if (n == 0)
		return;
	switch (p[0]) {
	case '0': {
		const char *s = memmem(p, n, "\"sid\":\"", 7), *e;
		long pi = json_int(p, n, "pingInterval"), pt = json_int(p, n, "pingTimeout");

		if (c->state != CS_OPEN_WAIT)
			return;
		if (s == NULL || (e = memchr(s + 7, '"', n - (size_t)(s + 7 - p))) == NULL ||
		    e - (s + 7) >= (long)sizeof c->sid) {
			cl_fail(c, "bad open packet");
			return;
		}
		memcpy(c->sid, s + 7, (size_t)(e - (s + 7)));
		c->sid[e - (s + 7)] = '\0';
		if (pi > 0)
			P->ping_interval_ms = (int)pi;
		if (pt > 0)
			P->ping_timeout_ms = (int)pt;
		c->state = CS_SIO_WAIT;
		c->last_ping_us = P->now_us;
		cl_send_eio(c, "40", 2);
		break;
	}
	case '2': {
		int64_t gap = P->now_us - c->last_ping_us;
		int64_t per = (int64_t)P->ping_interval_ms * 1000;
		int64_t dead = per + (int64_t)P->ping_timeout_ms * 1000;
		int64_t slack = per / 10 > 200000 ? per / 10 : 200000;

		/*
		 * Missed: no ping for pingInterval + pingTimeout, when
		 * engine.io-client gives the server up.  Late: more than
		 * pingInterval + max(10 %, 200 ms) (Node pings pingInterval
		 * after the pong, so its period includes the round trip).
		 */
		if (P->measuring && c->state == CS_READY) {
			P->r.pings++;
			if ((uint64_t)gap > P->r.ping_gap_max_us)
				P->r.ping_gap_max_us = (uint64_t)gap;
			if (per > 0) {
				P->r.pings_missed += (uint64_t)(gap / dead);
				P->r.pings_late += gap > per + slack;
			}
		}
		c->last_ping_us = P->now_us;
		cl_send_eio(c, "3", 1);
		break;
	}
	case '4':
		sio_packet(c, p + 1, n - 1);
		break;
	case '1':
		cl_fail(c, "engine.io close");
		break;
	default:
		break;
	}
}

/* ---------------- WebSocket ---------------- */

/* Consume complete frames; the count consumed, -1 if the client died. */
static ssize_t
ws_input(struct conn *k, const char *p, size_t n)
{
	struct bench_cl *c = k->c;
	size_t off = 0;

	while (n - off >= 2) {
		const unsigned char *h = (const unsigned char *)p + off;
		uint64_t len = h[1] & 0x7f;
		size_t hl = 2;
		int op = h[0] & 0x0f, fin = h[0] & 0x80;
		const char *pl;

		if (h[1] & 0x80) {
			cl_fail(c, "masked server frame");
			return -1;
		}
		if (len == 126) {
			if (n - off < 4)
				break;
			len = (uint64_t)h[2] << 8 | h[3];
			hl = 4;
		} else if (len == 127) {
			int i;

			if (n - off < 10)
				break;
			for (len = 0, i = 0; i < 8; i++)
				len = len << 8 | h[2 + i];
			hl = 10;
		}
		if (len > BENCH_FRAME_MAX) {
			cl_fail(c, "frame too large");
			return -1;
		}
		if (n - off < hl + len)
			break;
		pl = p + off + hl;
		off += hl + (size_t)len;
		switch (op) {
		case 0x1:
		case 0x2:
			if (!fin) {
				k->frag.len = 0;
				k->fragop = (uint8_t)op;
				bbuf_add(&k->frag, pl, (size_t)len);
			} else if (op == 0x1) {
				eio_packet(c, pl, (size_t)len);
			}
			break;
		case 0x0:
			bbuf_add(&k->frag, pl, (size_t)len);
			if (fin) {
				if (k->fragop == 0x1)
					eio_packet(c, k->frag.p, k->frag.len);
				k->frag.len = 0;
			}
			break;
		case 0x8:
			cl_fail(c, "websocket close");
			return -1;
		case 0x9:
			if (ws_send(k, 0xA, pl, (size_t)len) < 0)
				return -1;
			break;
		default:
			break;
		}
		if (k->fd < 0 || c->state == CS_DEAD || c->state == CS_NONE)
			return -1;
	}
	return (ssize_t)off;
}

/* The 101 answer of the upgrade: bytes consumed, 0 to wait, -1 failed. */
static ssize_t
ws_upgrade_input(struct conn *k, const char *p, size_t n)
{
	const char *e = memmem(p, n, "\r\n\r\n", 4);
	size_t hl;

	if (e == NULL) {
		if (n > BENCH_HDR_MAX) {
			cl_fail(k->c, "upgrade header too large");
			return -1;
		}
		return 0;
	}
	hl = (size_t)(e - p) + 4;
	if (n < 12 || memcmp(p + 8, " 101", 4) != 0) {
		cl_fail(k->c, "upgrade refused");
		return -1;
	}
	if (memmem(p, hl, k->accept, strlen(k->accept)) == NULL) {
		cl_fail(k->c, "bad Sec-WebSocket-Accept");
		return -1;
	}
	k->state = K_WS;
	return (ssize_t)hl;
}

/* Send the WebSocket upgrade request. */
static void
ws_request(struct conn *k)
{
	struct bench_proc *P = k->c->P;
	unsigned char key[16], sha[20];
	char k64[32], cat[80], req[512];
	int i, n;

	for (i = 0; i < 16; i += 4) {
		uint32_t r = proc_rand(P);

		memcpy(key + i, &r, 4);
	}
	k64[gw_b64_encode(k64, key, 16)] = '\0';
	n = snprintf(cat, sizeof cat, "%s" WS_GUID, k64);
	gw_sha1(cat, (size_t)n, sha);
	k->accept[gw_b64_encode(k->accept, sha, 20)] = '\0';
	n = snprintf(req, sizeof req,
	    "GET %s?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s:%d\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    P->o->path, P->o->host, P->o->port, k64);
	k->state = K_WS_UP;
	conn_write(k, req, (size_t)n);
}

/* ---------------- HTTP long-polling ---------------- */

/* Find a header value (case-insensitive name); length in *vl, or NULL. */
static const char *
http_header(const char *p, size_t n, const char *name, size_t *vl)
{
	size_t nl = strlen(name);
	const char *q = memchr(p, '\n', n), *end = p + n, *e;

	while (q != NULL && q + 1 < end) {
		q++;
		if ((size_t)(end - q) > nl + 1 && strncasecmp(q, name, nl) == 0 &&
		    q[nl] == ':') {
			q += nl + 1;
			while (q < end && (*q == ' ' || *q == '\t'))
				q++;
			e = memchr(q, '\r', (size_t)(end - q));
			*vl = e ? (size_t)(e - q) : (size_t)(end - q);
			return q;
		}
		q = memchr(q, '\n', (size_t)(end - q));
	}
	return NULL;
}

/* Packets of a GET body ("\x1e"-separated). */
static void
poll_body(struct bench_cl *c, const char *p, size_t n)
{
	const char *end = p + n, *s;

	while (p < end && c->state != CS_DEAD && c->state != CS_NONE) {
		s = memchr(p, '\x1e', (size_t)(end - p));
		if (s == NULL)
			s = end;
		if (s > p && p[0] != 'b')
			eio_packet(c, p, (size_t)(s - p));
		p = s + 1;
	}
}

/* An HTTP response: bytes consumed, 0 to wait, -1 if the client died. */
static ssize_t
http_input(struct conn *k, const char *p, size_t n)
{
	struct bench_cl *c = k->c;
	const char *e = memmem(p, n, "\r\n\r\n", 4), *v;
	size_t hl, vl, clen = 0;
	int status;

	k->got_bytes = 1;
	if (e == NULL) {
		if (n > BENCH_HDR_MAX) {
			cl_fail(c, "response header too large");
			return -1;
		}
		return 0;
	}
	hl = (size_t)(e - p) + 4;
	status = n > 12 ? atoi(p + 9) : 0;
	if ((v = http_header(p, hl, "content-length", &vl)) != NULL)
		clen = strtoul(v, NULL, 10);
	else if (http_header(p, hl, "transfer-encoding", &vl) != NULL) {
		cl_fail(c, "chunked response (unsupported)");
		return -1;
	}
	if (n - hl < clen)
		return 0;
	v = http_header(p, hl, "connection", &vl);
	k->close_after = v != NULL && vl >= 5 && strncasecmp(v, "close", 5) == 0;
	if (status != 200) {
		cl_fail(c, "polling request refused");
		return -1;
	}
	k->state = K_IDLE;
	k->got_bytes = 0;
	if (k->role == R_GET) {
		poll_body(c, p + hl, clen);
		if (c->state == CS_DEAD || c->state == CS_NONE)
			return -1;
		if (k->close_after)
			conn_close(k, 0);
		http_get(c);
	} else {
		c->pinfl.len = 0;
		c->post_retry = 0;
		if (k->close_after)
			conn_close(k, 0);
		post_flush(c);
	}
	if (c->state == CS_DEAD || c->state == CS_NONE)
		return -1;
	return (ssize_t)(hl + clen);
}

/* Issue the next GET (the handshake when no sid yet). */
static void
http_get(struct bench_cl *c)
{
	struct bench_proc *P = c->P;
	struct conn *k = &c->k[0];
	char req[512];
	int n;

	if (k->state == K_CLOSED) {
		conn_open(k);
		return;	/* sent once connected */
	}
	if (k->state != K_IDLE)
		return;
	if (c->sid[0] == '\0')
		n = snprintf(req, sizeof req,
		    "GET %s?EIO=4&transport=polling HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
		    P->o->path, P->o->host, P->o->port);
	else
		n = snprintf(req, sizeof req,
		    "GET %s?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
		    P->o->path, c->sid, P->o->host, P->o->port);
	k->state = K_BUSY;
	conn_write(k, req, (size_t)n);
}

/* Send the next POST if none is out and packets wait. */
static void
post_flush(struct bench_cl *c)
{
	struct bench_proc *P = c->P;
	struct conn *k = &c->k[1];
	char hdr[512];
	int n;

	if (k->state == K_BUSY || k->state == K_CONNECTING)
		return;
	if (c->pinfl.len == 0) {
		struct bbuf t;

		if (c->pbody.len == 0)
			return;
		t = c->pinfl;
		c->pinfl = c->pbody;
		c->pbody = t;
		c->pbody.len = 0;
	}
	if (k->state == K_CLOSED) {
		conn_open(k);
		return;
	}
	n = snprintf(hdr, sizeof hdr,
	    "POST %s?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s:%d\r\n"
	    "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %u\r\n\r\n",
	    P->o->path, c->sid, P->o->host, P->o->port, c->pinfl.len);
	k->state = K_BUSY;
	if (conn_write(k, hdr, (size_t)n) == 0)
		conn_write(k, c->pinfl.p, c->pinfl.len);
}

/* Send one Engine.IO packet on the client's transport. */
static void
cl_send_eio(struct bench_cl *c, const char *p, size_t n)
{
	if (c->state == CS_DEAD || c->state == CS_NONE)
		return;
	if (c->P->o->tr == TR_WS) {
		ws_send(&c->k[0], 0x1, p, n);
		return;
	}
	if (c->pbody.len > 0)
		bbuf_add(&c->pbody, "\x1e", 1);
	bbuf_add(&c->pbody, p, n);
	post_flush(c);
}

/* ---------------- connection events ---------------- */

/* Consume input by state: bytes used, or -1 when the client died. */
static ssize_t
conn_input(struct conn *k, const char *p, size_t n)
{
	ssize_t used, total = 0;

	for (;;) {
		switch (k->state) {
		case K_WS_UP:
			used = ws_upgrade_input(k, p, n);
			break;
		case K_WS:
			return (used = ws_input(k, p, n)) < 0 ? -1 : total + used;
		case K_BUSY:
			used = http_input(k, p, n);
			break;
		default:
			if (n == 0)
				return total;
			cl_fail(k->c, "unexpected data");
			return -1;
		}
		if (used < 0)
			return -1;
		if (used == 0 || (size_t)used == n || k->fd < 0)
			return total + used;
		p += used;
		n -= (size_t)used;
		total += used;
	}
}

/* The server closed a connection. */
static void
conn_eof(struct conn *k)
{
	struct bench_cl *c = k->c;

	if (k->role == R_POST && k->state == K_BUSY && !k->got_bytes &&
	    c->post_retry == 0) {
		/* An idle keep-alive connection the server closed: resend once. */
		c->post_retry = 1;
		conn_close(k, 0);
		post_flush(c);
		return;
	}
	if (k->role == R_POST && k->state == K_IDLE) {
		conn_close(k, 0);	/* idle keep-alive timeout */
		return;
	}
	cl_fail(c, "connection closed by server");
}

/*
 * recv() that also returns when the data arrived (the kernel's receive
 * timestamp of the last segment read, else now), in wall-clock µs.
 */
static ssize_t
conn_recv(struct conn *k, void *buf, size_t len, int64_t *at)
{
	struct iovec iov = { buf, len };
	union {
		char b[CMSG_SPACE(sizeof(struct timespec)) * 2];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh;
	struct cmsghdr *cm;
	ssize_t n;

	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.b;
	mh.msg_controllen = sizeof ctl.b;
	n = recvmsg(k->fd, &mh, 0);
	*at = 0;
	if (n > 0) {
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(cm), sizeof ts);
				*at = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
			}
		}
		if (*at == 0)
			*at = wall_us();
	}
	return n;
}

/* Read everything available and consume it. */
static void
conn_read(struct conn *k)
{
	struct bench_proc *P = k->c->P;
	uint32_t gen = k->gen;
	ssize_t n, used;
	size_t want;
	int64_t at;

	for (;;) {
		if (k->in.len == 0) {
			want = P->rbcap;
			n = conn_recv(k, P->rb, want, &at);
		} else {
			bbuf_reserve(&k->in, 65536);
			want = k->in.cap - k->in.len;
			n = conn_recv(k, k->in.p + k->in.len, want, &at);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			cl_fail(k->c, "read");
			return;
		}
		if (n == 0) {
			conn_eof(k);
			return;
		}
		P->now_us = at;
		if (k->in.len == 0) {
			used = conn_input(k, P->rb, (size_t)n);
			if (used < 0 || k->fd < 0 || k->gen != gen)
				return;
			if (used < n)
				bbuf_add(&k->in, P->rb + used, (size_t)(n - used));
		} else {
			k->in.len += (uint32_t)n;
			used = conn_input(k, k->in.p, k->in.len);
			if (used < 0 || k->fd < 0 || k->gen != gen)
				return;
			bbuf_consume(&k->in, (size_t)used);
		}
		if ((size_t)n < want)
			return;
	}
}

/* TCP connect finished (or failed). */
static void
conn_connected(struct conn *k)
{
	struct bench_cl *c = k->c;
	int err = 0, one = 1;
	socklen_t l = sizeof err;

	if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err != 0) {
		if (k->role == R_POST && c->state == CS_READY && c->post_retry == 0) {
			c->post_retry = 1;
			conn_close(k, 0);
			conn_open(k);
			return;
		}
		cl_fail(c, "connect");
		return;
	}
	setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(k->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
	k->state = K_IDLE;
	k->wwatch = 0;
	conn_watch(k, EV_READ);
	switch (k->role) {
	case R_WS:
		ws_request(k);
		break;
	case R_GET:
		http_get(c);
		break;
	case R_POST:
		post_flush(c);
		break;
	}
	if (k->fd >= 0 && k->out.len > 0 && !k->wwatch) {
		k->wwatch = 1;
		conn_watch(k, EV_READ | EV_WRITE);
	}
}

/* libev: a connection is readable, writable or connected. */
static void
conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *k = (struct conn *)w;
	uint32_t gen = k->gen;

	(void)loop;
	if (revents & EV_WRITE) {
		if (k->state == K_CONNECTING) {
			conn_connected(k);
			return;
		}
		conn_flush(k);
	}
	if ((revents & EV_READ) && k->fd >= 0 && k->gen == gen)
		conn_read(k);
}

/* Start a non-blocking TCP connect. */
static void
conn_open(struct conn *k)
{
	struct bench_proc *P = k->c->P;
	struct sockaddr_in dst = P->dst;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		cl_fail(k->c, errno == EMFILE ? "socket: too many open files" : "socket");
		return;
	}
	if (P->o->src_ips > 1 && (ntohl(dst.sin_addr.s_addr) >> 24) == 127) {
		struct sockaddr_in src = { .sin_family = AF_INET };

		src.sin_addr.s_addr = htonl(0x7f000001u + P->src_rot++ % P->o->src_ips);
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
			close(fd);
			cl_fail(k->c, "bind");
			return;
		}
	}
	k->fd = fd;
	k->gen++;
	k->state = K_CONNECTING;
	k->wwatch = 0;
	k->got_bytes = 0;
	if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 &&
	    errno != EINPROGRESS) {
		cl_fail(k->c, "connect");
		return;
	}
	ev_io_init(&k->io, conn_cb, fd, EV_WRITE);
	ev_io_start(P->loop, &k->io);
}

/* Start a client's connection from scratch. */
static void
cl_open(struct bench_cl *c)
{
	struct bench_proc *P = c->P;

	c->state = CS_OPEN_WAIT;
	c->sid[0] = '\0';
	c->t0_us = wall_us();
	c->inflight = 0;
	c->pbody.len = 0;
	c->pinfl.len = 0;
	c->post_retry = 0;
	c->k[0].role = P->o->tr == TR_WS ? R_WS : R_GET;
	c->k[1].role = R_POST;
	conn_open(&c->k[0]);
}

/* A client is lost (or failed to connect); it stays in the array. */
static void
cl_fail(struct bench_cl *c, const char *why)
{
	struct bench_proc *P = c->P;
	int was = c->state;

	if (was == CS_DEAD || was == CS_NONE)
		return;
	conn_close(&c->k[0], 0);
	conn_close(&c->k[1], 0);
	c->state = CS_DEAD;
	if (P->o->scen == SC_CONNECT) {
		/* connect-rate: count and go again (from the check watcher) */
		P->r.failed++;
		if (P->o->verbose)
			fprintf(stderr, "siogate-bench: connect failed: %s\n", why);
		c->state = CS_NONE;
		if (!c->restart && !P->stopping) {
			c->restart = 1;
			P->restart_q[P->nrestart++] = c->idx;
		}
		return;
	}
	if (was == CS_READY) {
		P->nready--;
		P->r.disconnects++;
		if (P->r.disconnects <= 5 || P->o->verbose)
			fprintf(stderr, "siogate-bench: client %u lost: %s\n", c->idx, why);
		if (P->o->scen == SC_FANOUT && !c->driver)
			ring_advance(P);
		if (P->o->scen == SC_ECHO && c->inflight > 0)
			P->r.lost += c->inflight;
		c->inflight = 0;
		if (c->driver) {
			fprintf(stderr, "siogate-bench: the driver was lost: %s\n", why);
			exit(3);
		}
		return;
	}
	P->opening--;
	P->r.failed++;
	if (P->r.failed <= 5 || P->o->verbose)
		fprintf(stderr, "siogate-bench: client %u failed to connect: %s\n", c->idx, why);
	if (c->driver) {
		fprintf(stderr, "siogate-bench: the driver failed to connect: %s\n", why);
		exit(3);
	}
	proc_open_more(P);
	proc_check_ready(P);
}

/* ---------------- the process loop (children and the driver) ---------------- */

/* Send a message to the parent (blocking; it always reads). */
static void
ctl_send(struct bench_proc *P, struct pmsg *m, size_t len)
{
	while (send(P->ctl, m, len, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "siogate-bench: control socket: %s\n", strerror(errno));
			exit(2);
		}
	}
}

/* Open clients while fewer than --concurrency are connecting. */
static void
proc_open_more(struct bench_proc *P)
{
	if (P->o->scen == SC_CONNECT)
		return;
	while (P->opening < P->o->conc && P->next_open < P->ncl) {
		P->opening++;
		cl_open(&P->cl[P->next_open++]);
	}
}

/* Tell the parent once every client is connected or has failed. */
static void
proc_check_ready(struct bench_proc *P)
{
	struct pmsg m = { .type = M_READY };

	if (P->reported_ready || P->is_parent)
		return;
	if (P->o->scen != SC_CONNECT && (P->next_open < P->ncl || P->opening > 0))
		return;
	P->reported_ready = 1;
	m.a = P->nready;
	m.b = P->r.failed;
	ctl_send(P, &m, PMSG_SHORT);
}

/* Every 250 ms: connection timeouts. */
static void
proc_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct bench_proc *P = w->data;
	int64_t now = wall_us(), lim = (int64_t)(P->o->conn_timeout * 1e6);
	uint32_t i;

	(void)loop;
	(void)revents;
	if (P->opening == 0 && P->o->scen != SC_CONNECT)
		return;
	for (i = 0; i < P->ncl; i++) {
		struct bench_cl *c = &P->cl[i];

		if ((c->state == CS_OPEN_WAIT || c->state == CS_SIO_WAIT ||
		    c->state == CS_JOIN_WAIT) && now - c->t0_us > lim)
			cl_fail(c, "timeout");
	}
}

/* Echo --rate: send what is due, round robin over ready clients. */
static void
proc_pace(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct bench_proc *P = w->data;
	uint64_t due;
	uint32_t tries;

	(void)loop;
	(void)revents;
	if (!P->go || P->stopping || P->nready == 0)
		return;
	due = (uint64_t)((double)(mono_us() - P->t_go_us) / 1e6 * P->rate_share);
	while (P->echo_due < due) {
		for (tries = 0; tries < P->ncl; tries++) {
			struct bench_cl *c = &P->cl[P->rr++ % P->ncl];

			if (c->state == CS_READY) {
				echo_send(c);
				break;
			}
		}
		P->echo_due++;
	}
}

/* Before sleeping: reopen connect-rate slots, report fanout progress. */
static void
proc_check(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct bench_proc *P = w->data;
	uint32_t i, n = P->nrestart;

	(void)loop;
	(void)revents;
	P->nrestart = 0;
	for (i = 0; i < n; i++) {
		struct bench_cl *c = &P->cl[P->restart_q[i]];

		c->restart = 0;
		if (!P->stopping)
			cl_open(c);
	}
	if (P->o->scen == SC_FANOUT && !P->is_parent && P->done_seq != P->told_seq) {
		struct pmsg m = { .type = M_PROGRESS };

		m.a = P->told_seq = P->done_seq;
		ctl_send(P, &m, PMSG_SHORT);
	}
}

/* Send the result and stop measuring. */
static void
proc_result(struct bench_proc *P)
{
	struct pmsg *m = calloc(1, sizeof *m);
	struct rusage ru;
	int64_t now = wall_us();
	int64_t per = (int64_t)P->ping_interval_ms * 1000;
	int64_t dead = per + (int64_t)P->ping_timeout_ms * 1000;
	uint32_t i;

	getrusage(RUSAGE_SELF, &ru);
	P->r.cpu_s = rusage_s(&ru) - rusage_s(&P->ru0);
	if (P->o->scen == SC_IDLE && per > 0) {
		/* A ping overdue at the end counts as missed too. */
		for (i = 0; i < P->ncl; i++) {
			struct bench_cl *c = &P->cl[i];

			if (c->state == CS_READY)
				P->r.pings_missed += (uint64_t)((now - c->last_ping_us) / dead);
		}
	}
	if (P->o->scen == SC_ECHO) {
		for (i = 0; i < P->ncl; i++)
			P->r.lost += P->cl[i].inflight;
	}
	P->r.connected = P->nready;
	P->r.ping_interval_ms = (uint64_t)P->ping_interval_ms;
	m->type = M_RESULT;
	m->r = P->r;
	ctl_send(P, m, sizeof *m);
	free(m);
}

/* echo: the last acks had their chance. */
static void
proc_drained(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct bench_proc *P = w->data;

	(void)loop;
	(void)revents;
	if (!P->draining)
		return;
	P->draining = 0;
	ev_timer_stop(P->loop, &P->drain_t);
	proc_result(P);
}

/* A message from the parent. */
static void
proc_ctl(struct ev_loop *loop, ev_io *w, int revents)
{
	struct bench_proc *P = w->data;
	struct pmsg m;
	ssize_t n;
	uint32_t i, j;

	(void)revents;
	n = recv(P->ctl, &m, sizeof m, 0);
	if (n <= 0) {
		if (n < 0 && errno == EINTR)
			return;
		exit(0);	/* the parent is gone */
	}
	switch (m.type) {
	case M_GO:
		P->go = 1;
		P->t_go_us = mono_us();
		if (P->o->scen == SC_CONNECT) {
			for (i = 0; i < P->ncl; i++)
				cl_open(&P->cl[i]);
		} else if (P->o->scen == SC_ECHO && P->o->rate <= 0) {
			for (i = 0; i < P->ncl; i++) {
				if (P->cl[i].state != CS_READY)
					continue;
				for (j = 0; j < P->o->inflight; j++)
					echo_send(&P->cl[i]);
			}
		} else if (P->o->scen == SC_ECHO) {
			ev_timer_start(P->loop, &P->pace);
		}
		break;
	case M_START:
		P->seq_start = m.a;
		P->t_start_us = mono_us();
		getrusage(RUSAGE_SELF, &P->ru0);
		memset(&P->r.h, 0, sizeof P->r.h);
		P->r.count = P->r.sent = P->r.lost = 0;
		P->r.pings = P->r.pings_missed = P->r.pings_late = P->r.ping_gap_max_us = 0;
		P->r.disconnects = 0;
		P->measuring = 1;
		m.type = M_START_OK;
		ctl_send(P, &m, PMSG_SHORT);
		break;
	case M_STOP:
		P->measuring = 0;
		P->stopping = 1;
		ev_timer_stop(P->loop, &P->pace);
		if (P->o->scen == SC_ECHO) {
			/* Give acks in flight 2 s to come back before calling them lost. */
			uint64_t fl = 0;

			for (i = 0; i < P->ncl; i++)
				fl += P->cl[i].inflight;
			if (fl > 0) {
				P->draining = 1;
				P->t_drain_us = mono_us();
				ev_timer_start(P->loop, &P->drain_t);
				break;
			}
		}
		proc_result(P);
		break;
	case M_QUIT:
		ev_break(loop, EVBREAK_ALL);
		break;
	}
}

/* echo drain: done when nothing is in flight or after 2 s. */
static void
proc_drain_poll(struct bench_proc *P)
{
	uint64_t fl = 0;
	uint32_t i;

	for (i = 0; i < P->ncl; i++)
		fl += P->cl[i].inflight;
	if (fl == 0 || mono_us() - P->t_drain_us > 2000000)
		proc_drained(P->loop, &P->drain_t, 0);
}

/* echo: every 50 ms after STOP, see whether the acks are in. */
static void
proc_drain_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	proc_drain_poll(w->data);
}

/* Set up a process context for n clients. */
static void
proc_init(struct bench_proc *P, const struct bench_opts *o, uint32_t n, int ctl,
    uint32_t seed)
{
	uint32_t i;

	memset(P, 0, sizeof *P);
	P->o = o;
	P->loop = ev_default_loop(EVFLAG_AUTO);
	P->ctl = ctl;
	P->dst.sin_family = AF_INET;
	P->dst.sin_port = htons((uint16_t)o->port);
	inet_pton(AF_INET, o->host, &P->dst.sin_addr);
	P->ncl = n;
	P->cl = calloc(n ? n : 1, sizeof *P->cl);
	P->restart_q = calloc(n ? n : 1, sizeof *P->restart_q);
	P->ring = calloc(BENCH_RING, sizeof *P->ring);
	P->rbcap = 256 * 1024;
	P->rb = malloc(P->rbcap);
	P->pad = malloc(2 * (size_t)o->payload + 256);
	if (P->cl == NULL || P->restart_q == NULL || P->ring == NULL ||
	    P->rb == NULL || P->pad == NULL) {
		fprintf(stderr, "siogate-bench: out of memory\n");
		exit(2);
	}
	memset(P->pad, 'x', o->payload);
	P->rnd = seed ? seed : 0x9e3779b9u;
	P->src_rot = seed;
	P->ping_interval_ms = 25000;
	P->ping_timeout_ms = 20000;
	for (i = 0; i < n; i++) {
		P->cl[i].P = P;
		P->cl[i].idx = i;
		P->cl[i].k[0].c = P->cl[i].k[1].c = &P->cl[i];
		P->cl[i].k[0].fd = P->cl[i].k[1].fd = -1;
	}
	ev_timer_init(&P->tick, proc_tick, 0.25, 0.25);
	P->tick.data = P;
	ev_timer_start(P->loop, &P->tick);
	ev_timer_init(&P->pace, proc_pace, 0.001, 0.001);
	P->pace.data = P;
	ev_timer_init(&P->drain_t, proc_drain_cb, 0.05, 0.05);
	P->drain_t.data = P;
	ev_prepare_init(&P->chk, proc_check);
	P->chk.data = P;
	ev_prepare_start(P->loop, &P->chk);
	if (ctl >= 0) {
		ev_io_init(&P->ctl_io, proc_ctl, ctl, EV_READ);
		P->ctl_io.data = P;
		ev_io_start(P->loop, &P->ctl_io);
	}
}

/* A child: connect n clients and serve the parent's phases. */
static void
child_main(const struct bench_opts *o, uint32_t n, int ctl, uint32_t seed,
    double rate_share)
{
	struct bench_proc P;

	proc_init(&P, o, n, ctl, seed);
	P.rate_share = rate_share;
	if (o->scen == SC_CONNECT) {
		proc_check_ready(&P);	/* slots open on GO */
	} else {
		proc_open_more(&P);
		proc_check_ready(&P);
	}
	ev_run(P.loop, 0);
	exit(0);
}

/* ---------------- the parent: phases, driver, server figures ---------------- */

/* utime+stime of a process in seconds (all threads), -1 if unreadable. */
static double
pid_cpu_s(pid_t pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* fields after ")": 3 state ... 14 utime 15 stime */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS of a process in KiB, -1 if unreadable. */
static long
pid_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* A client process as the parent sees it.  Owned by bench_coord (inline). */
struct bench_child {
	pid_t pid;
	int fd;
	ev_io io;
	struct bench_coord *co;
	int ready, started, has_result;
	uint64_t connected, failed, progress;
	struct result r;
};

/*
 * Phases of a run, in the parent:
 *
 *   CONNECT   children open their clients, each answers READY once done
 *   DRIVER    fanout: the parent's driver client connects
 *   WARMUP    GO: load starts (echo, connect-rate, fanout broadcasts)
 *   STARTING  START{seq_start}: sending pauses until every child answered
 *             START_OK, so no measured broadcast races the START
 *   MEASURE   baseline CPU taken; --duration seconds
 *   DRAIN     fanout: no more broadcasts; wait for every one to be delivered
 *             everywhere (or --stall seconds without progress)
 *   RESULTS   CPU and RSS taken; STOP; children answer RESULT; report
 */
enum { PH_CONNECT, PH_DRIVER, PH_WARMUP, PH_STARTING, PH_MEASURE, PH_DRAIN, PH_RESULTS };

/* The parent's state for one run (static in main). */
struct bench_coord {
	const struct bench_opts *o;
	struct bench_proc *P;		/* the parent's loop and driver */
	struct bench_child ch[BENCH_MAX_PROCS];
	unsigned nch;
	int phase;
	ev_timer phase_t, pace_t, stall_t;
	int64_t t_connect0, t_ready, t0, t1, t_last_progress;
	double cpu0[1 + BENCH_MAX_WORKERS], cpu1[1 + BENCH_MAX_WORKERS];
	long rss_base, rss_end;
	struct rusage ru0, ru1;
	uint64_t connected, failed;
	uint64_t next_seq;		/* next broadcast sequence number (from 1) */
	uint64_t seq_start;
	int64_t t_pace0;
	uint64_t paced;
	int paused, stalled;
	struct pmsg in;			/* the message being read */
};

static void coord_phase(struct bench_coord *co, int phase);

/* The lowest fanout progress among children. */
static uint64_t
coord_min_progress(struct bench_coord *co)
{
	uint64_t m = UINT64_MAX;
	unsigned i;

	for (i = 0; i < co->nch; i++)
		if (co->ch[i].progress < m)
			m = co->ch[i].progress;
	return m;
}

/* Server CPU sample: [0] the server, [1..] the workers. */
static void
coord_cpu(struct bench_coord *co, double *v)
{
	int i;

	v[0] = co->o->server_pid > 0 ? pid_cpu_s(co->o->server_pid) : 0;
	for (i = 0; i < co->o->nworkers; i++)
		v[1 + i] = pid_cpu_s(co->o->worker_pid[i]);
}

/* VmRSS of the server plus its workers in KiB, -1 if unreadable. */
static long
coord_rss(struct bench_coord *co)
{
	long kb = 0, v;
	int i;

	if (co->o->server_pid <= 0)
		return -1;
	if ((v = pid_rss_kb(co->o->server_pid)) < 0)
		return -1;
	kb += v;
	for (i = 0; i < co->o->nworkers; i++)
		if ((v = pid_rss_kb(co->o->worker_pid[i])) > 0)
			kb += v;
	return kb;
}

/* Send a short message to every child. */
static void
coord_send_all(struct bench_coord *co, int type, uint64_t a)
{
	struct pmsg m = { .type = (uint32_t)type, .a = a };
	unsigned i;

	for (i = 0; i < co->nch; i++) {
		while (send(co->ch[i].fd, &m, PMSG_SHORT, MSG_NOSIGNAL) < 0 && errno == EINTR)
			;
	}
}

/* fanout: send broadcasts the window (or the rate) allows. */
static void
coord_fanout_send(struct bench_coord *co)
{
	struct bench_cl *d = &co->P->cl[0];
	uint64_t done = coord_min_progress(co);
	uint64_t cap = co->o->rate > 0 ? BENCH_RING / 2 : co->o->inflight;

	if (co->paused || (co->phase != PH_WARMUP && co->phase != PH_MEASURE))
		return;
	if (co->o->rate > 0) {
		double bps = co->o->rate / (double)(co->connected ? co->connected : 1);
		uint64_t due = (uint64_t)((double)(mono_us() - co->t_pace0) / 1e6 * bps) + 1;

		while (co->paced < due && co->next_seq - 1 - done < cap) {
			driver_send(d, co->next_seq++);
			co->paced++;
		}
		if (co->paced < due)	/* window full: do not burst later */
			co->paced = due;
		return;
	}
	while (co->next_seq - 1 - done < cap)
		driver_send(d, co->next_seq++);
}

/* fanout --rate: every millisecond, send what is due. */
static void
coord_pace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	coord_fanout_send(w->data);
}

/* No fanout progress for --stall seconds. */
static void
coord_stall_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct bench_coord *co = w->data;
	int64_t idle = mono_us() - co->t_last_progress;
	uint64_t done = coord_min_progress(co);
	unsigned i;

	(void)loop;
	(void)revents;
	if ((co->phase != PH_MEASURE && co->phase != PH_DRAIN) || co->next_seq == 0 ||
	    co->next_seq - 1 <= done || idle < (int64_t)(co->o->stall * 1e6))
		return;
	if (!co->stalled) {
		fprintf(stderr, "siogate-bench: STALL: no fanout progress for %.1f s: "
		    "%llu broadcasts sent, complete up to", (double)idle / 1e6,
		    (unsigned long long)(co->next_seq - 1));
		for (i = 0; i < co->nch; i++)
			fprintf(stderr, " %llu", (unsigned long long)co->ch[i].progress);
		fprintf(stderr, "\n");
	}
	co->stalled = 1;
	if (co->phase == PH_DRAIN)
		coord_phase(co, PH_RESULTS);
}

/* Print the run's JSON line. */
static void
coord_report(struct bench_coord *co)
{
	const struct bench_opts *o = co->o;
	static const char *scen[] = { "fanout", "echo", "idle", "connect-rate" };
	struct result R;
	double dur = (double)(co->t1 - co->t0) / 1e6;
	double scpu = 0, gcpu = 0, wcpu = 0, bcpu, tput, events;
	const char *unit;
	unsigned i;
	uint64_t expected = 0;
	int j;

	memset(&R, 0, sizeof R);
	for (i = 0; i < co->nch; i++) {
		struct result *r = &co->ch[i].r;

		R.connected += r->connected;
		R.failed += r->failed;
		R.disconnects += r->disconnects;
		R.count += r->count;
		R.lost += r->lost;
		R.sent += r->sent;
		R.pings += r->pings;
		R.pings_missed += r->pings_missed;
		R.pings_late += r->pings_late;
		if (r->ping_gap_max_us > R.ping_gap_max_us)
			R.ping_gap_max_us = r->ping_gap_max_us;
		R.cpu_s += r->cpu_s;
		R.ping_interval_ms = r->ping_interval_ms;
		hist_merge(&R.h, &r->h);
	}
	if (o->server_pid > 0) {
		gcpu = co->cpu1[0] - co->cpu0[0];
		for (j = 0; j < o->nworkers; j++)
			wcpu += co->cpu1[1 + j] - co->cpu0[1 + j];
		scpu = gcpu + wcpu;
	}
	bcpu = R.cpu_s + rusage_s(&co->ru1) - rusage_s(&co->ru0);
	switch (o->scen) {
	case SC_FANOUT:
		unit = "msg/s";
		events = (double)R.count;
		if (co->next_seq > co->seq_start)
			expected = (co->next_seq - co->seq_start) * co->connected;
		R.lost = expected > R.count ? expected - R.count : 0;
		break;
	case SC_ECHO:
		unit = "acks/s";
		events = (double)R.count;
		break;
	case SC_CONNECT:
		unit = "connects/s";
		events = (double)R.count;
		break;
	default:
		unit = "clients";
		events = 0;
		break;
	}
	tput = o->scen == SC_IDLE ? (double)co->connected : (dur > 0 ? events / dur : 0);
	printf("{\"scenario\":\"%s\",\"server\":\"%s\",\"transport\":\"%s\","
	    "\"clients\":%llu,\"clients_requested\":%u,\"failed\":%llu,"
	    "\"disconnects\":%llu,\"procs\":%u,\"duration_s\":%.3f,"
	    "\"throughput\":%.1f,\"unit\":\"%s\",",
	    scen[o->scen], o->label, o->tr == TR_WS ? "websocket" : "polling",
	    (unsigned long long)co->connected, o->clients,
	    (unsigned long long)co->failed, (unsigned long long)R.disconnects,
	    co->nch, dur, tput, unit);
	if (R.h.n > 0)
		printf("\"lat_p50_ms\":%.3f,\"lat_p90_ms\":%.3f,\"lat_p99_ms\":%.3f,"
		    "\"lat_max_ms\":%.3f,\"lat_mean_ms\":%.3f,",
		    hist_q(&R.h, 0.5), hist_q(&R.h, 0.9), hist_q(&R.h, 0.99),
		    (double)R.h.max_us / 1000.0, R.h.sum_us / (double)R.h.n / 1000.0);
	else
		printf("\"lat_p50_ms\":null,\"lat_p90_ms\":null,\"lat_p99_ms\":null,"
		    "\"lat_max_ms\":null,\"lat_mean_ms\":null,");
	printf("\"lost\":%llu,", (unsigned long long)R.lost);
	if (o->server_pid > 0) {
		printf("\"server_cpu_s\":%.3f,\"gateway_cpu_s\":%.3f,\"worker_cpu_s\":%.3f,"
		    "\"server_cpu_util\":%.3f,", scpu, gcpu, wcpu, dur > 0 ? scpu / dur : 0);
		printf("\"server_rss_kb\":%ld,\"server_rss_base_kb\":%ld,", co->rss_end,
		    co->rss_base);
		if (co->connected > 0 && co->rss_end >= 0 && co->rss_base >= 0)
			printf("\"rss_per_client_kb\":%.3f,",
			    (double)(co->rss_end - co->rss_base) / (double)co->connected);
		else
			printf("\"rss_per_client_kb\":null,");
		if (o->scen != SC_IDLE && scpu > 0)
			printf("\"per_cpu_second\":%.1f,", events / scpu);
		else
			printf("\"per_cpu_second\":null,");
	} else {
		printf("\"server_cpu_s\":null,\"server_rss_kb\":null,"
		    "\"rss_per_client_kb\":null,\"per_cpu_second\":null,");
	}
	printf("\"bench_cpu_s\":%.3f,\"bench_cpu_util\":%.3f,\"payload\":%u,"
	    "\"rate\":%.0f,\"inflight\":%u", bcpu, dur > 0 ? bcpu / dur : 0,
	    o->payload, o->rate, o->inflight);
	if (o->scen == SC_FANOUT)
		printf(",\"broadcasts\":%llu,\"stalled\":%s",
		    (unsigned long long)(co->next_seq - co->seq_start),
		    co->stalled ? "true" : "false");
	if (o->scen == SC_ECHO)
		printf(",\"sent\":%llu", (unsigned long long)R.sent);
	if (o->scen == SC_IDLE)
		printf(",\"pings\":%llu,\"pings_missed\":%llu,\"pings_late\":%llu,"
		    "\"ping_gap_max_ms\":%.1f,\"ping_interval_ms\":%d", (unsigned long long)R.pings,
		    (unsigned long long)R.pings_missed, (unsigned long long)R.pings_late,
		    (double)R.ping_gap_max_us / 1000.0,
		    (int)R.ping_interval_ms);
	if (o->scen == SC_CONNECT)
		printf(",\"connect_failures\":%llu", (unsigned long long)R.failed);
	printf("}\n");
	fflush(stdout);
}

/* The warm-up or the measured window is over. */
static void
coord_phase_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct bench_coord *co = w->data;

	(void)loop;
	(void)revents;
	if (co->phase == PH_WARMUP)
		coord_phase(co, PH_STARTING);
	else if (co->phase == PH_MEASURE)
		coord_phase(co, co->o->scen == SC_FANOUT ? PH_DRAIN : PH_RESULTS);
}

/* Every child started measuring: take the baseline and go on. */
static void
coord_started(struct bench_coord *co)
{
	const struct bench_opts *o = co->o;

	coord_cpu(co, co->cpu0);
	getrusage(RUSAGE_SELF, &co->ru0);
	co->t0 = mono_us();
	co->phase = PH_MEASURE;
	co->paused = 0;
	ev_timer_stop(co->P->loop, &co->phase_t);
	ev_timer_set(&co->phase_t, o->duration, 0);
	ev_timer_start(co->P->loop, &co->phase_t);
	if (o->verbose)
		fprintf(stderr, "siogate-bench: measuring for %.1f s\n", o->duration);
	if (o->scen == SC_FANOUT)
		coord_fanout_send(co);
}

/* Enter a phase of the run (see the PH_ list). */
static void
coord_phase(struct bench_coord *co, int phase)
{
	const struct bench_opts *o = co->o;
	struct ev_loop *loop = co->P->loop;

	co->phase = phase;
	switch (phase) {
	case PH_DRIVER:
		co->P->cl[0].driver = 1;
		co->P->opening = 1;
		cl_open(&co->P->cl[0]);
		break;
	case PH_WARMUP:
		coord_send_all(co, M_GO, 0);
		co->next_seq = 1;
		co->t_pace0 = mono_us();
		if (o->scen == SC_FANOUT && o->rate > 0)
			ev_timer_start(loop, &co->pace_t);
		if (o->scen == SC_FANOUT)
			coord_fanout_send(co);
		if (o->warmup > 0 && o->scen != SC_IDLE) {
			ev_timer_set(&co->phase_t, o->warmup, 0);
			ev_timer_start(loop, &co->phase_t);
		} else {
			coord_phase(co, PH_STARTING);
		}
		break;
	case PH_STARTING:
		co->paused = 1;
		co->seq_start = co->next_seq;
		coord_send_all(co, M_START, co->seq_start);
		break;
	case PH_DRAIN:
		co->t_last_progress = mono_us();
		ev_timer_stop(loop, &co->pace_t);
		if (coord_min_progress(co) >= co->next_seq - 1)
			coord_phase(co, PH_RESULTS);
		break;
	case PH_RESULTS:
		ev_timer_stop(loop, &co->pace_t);
		co->t1 = mono_us();
		coord_cpu(co, co->cpu1);
		getrusage(RUSAGE_SELF, &co->ru1);
		co->rss_end = coord_rss(co);
		coord_send_all(co, M_STOP, 0);
		break;
	}
}

/* The fanout driver is connected: start sending. */
static void
coord_driver_ready(struct bench_proc *P)
{
	struct bench_coord *co = P->coord;

	coord_phase(co, PH_WARMUP);
}

/* A message from a child. */
static void
coord_child_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct bench_child *ch = w->data;
	struct bench_coord *co = ch->co;
	struct pmsg *m = &co->in;
	ssize_t n;
	unsigned i, all;

	(void)revents;
	n = recv(ch->fd, m, sizeof *m, 0);
	if (n <= 0) {
		if (n < 0 && errno == EINTR)
			return;
		fprintf(stderr, "siogate-bench: a client process died\n");
		exit(3);
	}
	switch (m->type) {
	case M_READY:
		ch->ready = 1;
		ch->connected = m->a;
		ch->failed = m->b;
		for (i = 0, all = 1; i < co->nch; i++)
			all &= co->ch[i].ready;
		if (!all)
			break;
		co->connected = co->failed = 0;
		for (i = 0; i < co->nch; i++) {
			co->connected += co->ch[i].connected;
			co->failed += co->ch[i].failed;
		}
		co->t_ready = mono_us();
		if (co->o->scen == SC_CONNECT)
			co->connected = co->o->clients;	/* slots */
		if (co->o->scen != SC_CONNECT)
			fprintf(stderr, "siogate-bench: %s: %llu clients connected, %llu failed, "
			    "in %.2f s\n", co->o->label, (unsigned long long)co->connected,
			    (unsigned long long)co->failed,
			    (double)(co->t_ready - co->t_connect0) / 1e6);
		if (co->o->scen == SC_FANOUT)
			coord_phase(co, PH_DRIVER);
		else
			coord_phase(co, PH_WARMUP);
		break;
	case M_START_OK:
		ch->started = 1;
		for (i = 0, all = 1; i < co->nch; i++)
			all &= co->ch[i].started;
		if (all && co->phase == PH_STARTING)
			coord_started(co);
		break;
	case M_PROGRESS:
		if (m->a > ch->progress) {
			ch->progress = m->a;
			co->t_last_progress = mono_us();
		}
		if (co->phase == PH_DRAIN) {
			if (coord_min_progress(co) >= co->next_seq - 1)
				coord_phase(co, PH_RESULTS);
		} else if (co->o->rate <= 0) {
			coord_fanout_send(co);
		}
		break;
	case M_RESULT:
		ch->r = m->r;
		ch->has_result = 1;
		for (i = 0, all = 1; i < co->nch; i++)
			all &= co->ch[i].has_result;
		if (all) {
			coord_report(co);
			coord_send_all(co, M_QUIT, 0);
			ev_break(loop, EVBREAK_ALL);
		}
		break;
	}
}

/* ---------------- main ---------------- */

/* Print the options. */
static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: siogate-bench fanout|echo|idle|connect-rate [options]\n"
	    "  --url URL             server (http://127.0.0.1:8080)\n"
	    "  --url2 URL            a second server of the same cluster: every other client\n"
	    "                        process connects there (fanout across servers)\n"
	    "  --path PATH           Socket.IO path (/socket.io/)\n"
	    "  --transport T         websocket or polling (websocket)\n"
	    "  --clients N           clients (connect-rate: connections at once) (1000)\n"
	    "  --duration S          measured seconds (10)\n"
	    "  --warmup S            seconds of load before measuring (1)\n"
	    "  --rate R              fanout: messages/s delivered; echo: acks/s (0: closed loop)\n"
	    "  --payload BYTES       bytes of the string argument (100)\n"
	    "  --inflight K          fanout: broadcasts not yet delivered to all (4);\n"
	    "                        echo: per client (1)\n"
	    "  --procs P             client processes (0: as the fd limit needs)\n"
	    "  --concurrency C       connections being opened at once per process (256)\n"
	    "  --server-pid PID      the server: CPU (utime+stime) and VmRSS from /proc\n"
	    "  --worker-pid PID      a worker process to add in (repeatable)\n"
	    "  --label NAME          server name in the output (server)\n"
	    "  --src-ips K           spread over 127.0.0.1..K as source addresses (16)\n"
	    "  --stall S             seconds without fanout progress that end a run (5)\n"
	    "  --connect-timeout S   seconds for one client to connect (15)\n"
	    "  -v, --verbose\n");
}

/* Parse http://host:port[/...]. */
static int
parse_url(struct bench_opts *o, const char *url)
{
	const char *p = url, *c, *e;
	struct in_addr a;

	if (strncmp(p, "http://", 7) == 0)
		p += 7;
	e = p + strcspn(p, "/");
	c = memchr(p, ':', (size_t)(e - p));
	if (c == NULL || (size_t)(c - p) >= sizeof o->host)
		return -1;
	memcpy(o->host, p, (size_t)(c - p));
	o->host[c - p] = '\0';
	o->port = atoi(c + 1);
	if (strcmp(o->host, "localhost") == 0)
		strcpy(o->host, "127.0.0.1");
	if (o->port <= 0 || o->port > 65535 || inet_pton(AF_INET, o->host, &a) != 1)
		return -1;
	return 0;
}

/* Parse options, fork the client processes, coordinate, print the JSON line. */
int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "url", 1, 0, 'u' }, { "url2", 1, 0, 'U' }, { "path", 1, 0, 'a' },
		{ "transport", 1, 0, 't' },
		{ "clients", 1, 0, 'n' }, { "duration", 1, 0, 'd' }, { "warmup", 1, 0, 'w' },
		{ "rate", 1, 0, 'r' }, { "payload", 1, 0, 'b' }, { "inflight", 1, 0, 'k' },
		{ "procs", 1, 0, 'p' }, { "concurrency", 1, 0, 'c' },
		{ "server-pid", 1, 0, 's' }, { "worker-pid", 1, 0, 'W' },
		{ "label", 1, 0, 'l' }, { "src-ips", 1, 0, 'i' }, { "stall", 1, 0, 'S' },
		{ "connect-timeout", 1, 0, 'T' }, { "verbose", 0, 0, 'v' },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	static struct bench_opts o;
	static struct bench_coord co;
	struct bench_proc P;
	struct rlimit rl;
	int ch, inflight_set = 0;
	unsigned i, fds_per, per_proc;
	uint32_t share, rest;

	o.tr = TR_WS;
	strcpy(o.host, "127.0.0.1");
	o.port = 8080;
	strcpy(o.path, "/socket.io/");
	o.clients = 1000;
	o.duration = 10;
	o.warmup = 1;
	o.payload = 100;
	o.inflight = 1;
	o.conc = 256;
	o.src_ips = 16;
	o.stall = 5;
	o.conn_timeout = 15;
	o.label = "server";
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 64;
	}
	if (strcmp(argv[1], "fanout") == 0)
		o.scen = SC_FANOUT;
	else if (strcmp(argv[1], "echo") == 0)
		o.scen = SC_ECHO;
	else if (strcmp(argv[1], "idle") == 0)
		o.scen = SC_IDLE;
	else if (strcmp(argv[1], "connect-rate") == 0)
		o.scen = SC_CONNECT;
	else {
		usage(stderr);
		return 64;
	}
	optind = 2;
	while ((ch = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (ch) {
		case 'u':
			if (parse_url(&o, optarg) < 0) {
				fprintf(stderr, "siogate-bench: bad --url (http://IPv4:port)\n");
				return 64;
			}
			break;
		case 'a':
			snprintf(o.path, sizeof o.path, "%s", optarg);
			break;
		case 't':
			if (strcmp(optarg, "websocket") == 0)
				o.tr = TR_WS;
			else if (strcmp(optarg, "polling") == 0)
				o.tr = TR_POLL;
			else {
				fprintf(stderr, "siogate-bench: --transport websocket|polling\n");
				return 64;
			}
			break;
		case 'n': o.clients = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': o.duration = atof(optarg); break;
		case 'w': o.warmup = atof(optarg); break;
		case 'r': o.rate = atof(optarg); break;
		case 'b': o.payload = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'k': o.inflight = (unsigned)strtoul(optarg, NULL, 10); inflight_set = 1; break;
		case 'p': o.procs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': o.conc = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'U': {
			struct bench_opts o2 = o;

			if (parse_url(&o2, optarg) < 0) {
				fprintf(stderr, "siogate-bench: bad --url2 %s\n", optarg);
				return 64;
			}
			memcpy(o.host2, o2.host, sizeof o.host2);
			o.port2 = o2.port;
			break;
		}
		case 's': o.server_pid = (pid_t)atoi(optarg); break;
		case 'W':
			if (o.nworkers < BENCH_MAX_WORKERS)
				o.worker_pid[o.nworkers++] = (pid_t)atoi(optarg);
			break;
		case 'l': o.label = optarg; break;
		case 'i': o.src_ips = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'S': o.stall = atof(optarg); break;
		case 'T': o.conn_timeout = atof(optarg); break;
		case 'v': o.verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 64;
		}
	}
	/*
	 * Why a fixed fanout window: a server that writes several queued
	 * messages per syscall does less work per message the deeper the
	 * window, so figures per CPU-second are comparable only at one depth.
	 */
	if (!inflight_set && o.scen == SC_FANOUT)
		o.inflight = 4;
	if (o.clients == 0 || o.duration <= 0 || o.inflight == 0 || o.conc == 0 ||
	    o.payload > (16u << 20)) {
		fprintf(stderr, "siogate-bench: bad option value\n");
		return 64;
	}
	if (o.src_ips == 0)
		o.src_ips = 1;
	signal(SIGPIPE, SIG_IGN);
	/* Raise the open-file limit to the hard limit; split clients over processes. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	} else {
		rl.rlim_cur = 1024;
	}
	fds_per = o.tr == TR_POLL ? 2 : 1;
	per_proc = rl.rlim_cur > 128 ? (unsigned)((rl.rlim_cur - 64) / fds_per) : 32;
	if (o.procs == 0)
		o.procs = (o.clients + per_proc - 1) / per_proc;
	if (o.procs == 0)
		o.procs = 1;
	if (o.procs > BENCH_MAX_PROCS || o.procs > o.clients) {
		fprintf(stderr, "siogate-bench: --procs must be 1..min(%d, clients)\n",
		    BENCH_MAX_PROCS);
		return 64;
	}
	if ((o.clients + o.procs - 1) / o.procs > per_proc) {
		fprintf(stderr, "siogate-bench: %u clients per process exceed the open-file "
		    "limit %lu: use --procs %u\n", (o.clients + o.procs - 1) / o.procs,
		    (unsigned long)rl.rlim_cur, (o.clients + per_proc - 1) / per_proc);
		return 64;
	}

	co.o = &o;
	co.nch = o.procs;
	if (o.server_pid > 0 && pid_cpu_s(o.server_pid) < 0) {
		fprintf(stderr, "siogate-bench: cannot read /proc/%d/stat\n", (int)o.server_pid);
		return 1;
	}
	co.rss_base = coord_rss(&co);
	co.t_connect0 = mono_us();
	share = o.clients / o.procs;
	rest = o.clients % o.procs;
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < o.procs; i++) {
		int sv[2];
		uint32_t n = share + (i < rest ? 1 : 0);
		pid_t pid;

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			perror("siogate-bench: socketpair");
			return 1;
		}
		pid = fork();
		if (pid < 0) {
			perror("siogate-bench: fork");
			return 1;
		}
		if (pid == 0) {
			unsigned j;

			close(sv[0]);
			for (j = 0; j < i; j++)
				close(co.ch[j].fd);
			if (o.port2 > 0 && i % 2 == 1) {
				/* This process's clients are on the second server. */
				memcpy(o.host, o.host2, sizeof o.host);
				o.port = o.port2;
			}
			child_main(&o, n, sv[1], (uint32_t)(mono_us() ^ (getpid() << 16)) | 1u,
			    o.rate * (double)n / (double)o.clients);
		}
		close(sv[1]);
		co.ch[i].pid = pid;
		co.ch[i].fd = sv[0];
		co.ch[i].co = &co;
	}

	/* The parent: one client (the fanout driver) and the children's sockets. */
	proc_init(&P, &o, 1, -1, (uint32_t)mono_us() | 1u);
	P.is_parent = 1;
	P.coord = &co;
	P.on_driver_ready = coord_driver_ready;
	co.P = &P;
	ev_timer_init(&co.phase_t, coord_phase_cb, 1, 0);
	co.phase_t.data = &co;
	ev_timer_init(&co.pace_t, coord_pace_cb, 0.001, 0.001);
	co.pace_t.data = &co;
	ev_timer_init(&co.stall_t, coord_stall_cb, 0.5, 0.5);
	co.stall_t.data = &co;
	ev_timer_start(P.loop, &co.stall_t);
	for (i = 0; i < o.procs; i++) {
		ev_io_init(&co.ch[i].io, coord_child_cb, co.ch[i].fd, EV_READ);
		co.ch[i].io.data = &co.ch[i];
		ev_io_start(P.loop, &co.ch[i].io);
	}
	ev_run(P.loop, 0);
	for (i = 0; i < o.procs; i++)
		waitpid(co.ch[i].pid, NULL, 0);
	return co.stalled ? 2 : 0;
}
