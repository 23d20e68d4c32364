/*
 * bench_worker.c: the worker of siogate's benchmarks (tests/bench/run.sh),
 * in C on libsiogate.
 *
 *	bench_worker [-v] [-u] [-e ENDPOINT] [-c CREDIT]
 *
 * -u: HELLO with "ordered": false (siogate_worker_set_ordered(w, 0)): the
 * gateway hands over a socket's events without waiting for the credit of
 * the previous one (see ORDERING in siogate-protocol(7)).
 *
 * Serves the Socket.IO namespace "/" as an open namespace (the gateway
 * accepts every connect at once and only notifies the worker), with the
 * handlers of tests/bench/node_server.mjs:
 *
 *   "join" [room]      the sender joins room; an ack, if asked, is []
 *   "broadcast" [x]    emits "broadcast" [x] to the room "bench"
 *   "echo" [args...]   answers the ack with the same arguments (binary
 *                      attachments included)
 *
 * The arguments travel as JSON text and are handed back to the SDK as they
 * came: the worker parses nothing but the room name.  On each registration
 * it prints "bench_worker: registered with gateway GWID" to stderr; on
 * SIGINT/SIGTERM it leaves (BYE), prints its counters and exits 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "siogate.h"

#define BENCH_ROOM "bench"

/* The worker the signal handler stops (set before the handler is). */
static struct siogate_worker *bw_w;

/* Counters, printed at exit. */
struct bw_stats {
	unsigned long long joins, broadcasts, echoes, connects, disconnects;
	unsigned long long failed;	/* SDK calls that returned an error */
	int last_err;
};

static int bw_verbose;

/* SIGINT/SIGTERM: make siogate_worker_run() return (async-signal-safe). */
static void
bw_on_signal(int sig)
{
	(void)sig;
	siogate_worker_stop(bw_w);
}

/* Count a failed SDK call; say it the first time (or always with -v). */
static void
bw_check(struct bw_stats *st, int rc, const char *what)
{
	if (rc == SIOGATE_OK)
		return;
	if (st->failed++ == 0 || bw_verbose)
		fprintf(stderr, "bench_worker: %s: %s\n", what, siogate_strerror(rc));
	st->last_err = rc;
}

/* Registered with a gateway: say so (run.sh waits for this line). */
static void
bw_welcome(struct siogate_worker *w, const char *gateway_id, void *ud)
{
	(void)w;
	(void)ud;
	fprintf(stderr, "bench_worker: registered with gateway %s\n", gateway_id);
}

/* A socket connected to "/" (a notice: the namespace is open). */
static void
bw_connect(struct siogate_worker *w, const struct siogate_connect *c, void *ud)
{
	struct bw_stats *st = ud;

	st->connects++;
	if (c->reply)	/* not expected: "/" is served open */
		bw_check(st, siogate_accept(w, c->id, NULL, NULL), "accept");
}

/* A socket is gone. */
static void
bw_disconnect(struct siogate_worker *w, const char *id, const char *nsp,
    const char *reason, void *ud)
{
	struct bw_stats *st = ud;

	(void)w;
	(void)id;
	(void)nsp;
	(void)reason;
	st->disconnects++;
}

/* "join" [room]: the sender joins room. */
static void
bw_join(struct siogate_worker *w, const struct siogate_event *e,
    struct bw_stats *st)
{
	json_t *args = json_loads(e->args, 0, NULL);
	const char *room = json_string_value(json_array_get(args, 0));
	const char *to[2] = { e->id, NULL };
	const char *rooms[2] = { room, NULL };

	st->joins++;
	if (room != NULL)
		bw_check(st, siogate_join(w, e->nsp, to, rooms), "join");
	json_decref(args);
	if (e->has_ack)
		bw_check(st, siogate_ack(w, e->id, e->nsp, e->ack, "[]", NULL, 0),
		    "ack");
}

/* An event: echo, broadcast or join. */
static void
bw_event(struct siogate_worker *w, const struct siogate_event *e, void *ud)
{
	static const char *const bench_room[2] = { BENCH_ROOM, NULL };
	static const struct siogate_target to = { bench_room, NULL };
	struct bw_stats *st = ud;

	if (strcmp(e->ev, "echo") == 0) {
		st->echoes++;
		if (e->has_ack)
			bw_check(st, siogate_ack(w, e->id, e->nsp, e->ack, e->args,
			    e->bins, e->nbins), "ack");
	} else if (strcmp(e->ev, "broadcast") == 0) {
		st->broadcasts++;
		bw_check(st, siogate_emit(w, e->nsp, &to, "broadcast", e->args,
		    e->bins, e->nbins), "emit");
	} else if (strcmp(e->ev, "join") == 0) {
		bw_join(w, e, st);
	}
}

/* An ERROR from the gateway. */
static void
bw_error(struct siogate_worker *w, int code, const char *text, const char *sid,
    void *ud)
{
	(void)w;
	(void)ud;
	if (bw_verbose || code != 5)	/* 5: a socket that just left */
		fprintf(stderr, "bench_worker: gateway error %d: %s (%s)\n", code,
		    text ? text : "", sid ? sid : "-");
}

/* Serve "/" until a signal; print the counters. */
int
main(int argc, char **argv)
{
	struct siogate_callbacks cb = {
		.welcome = bw_welcome,
		.sio_connect = bw_connect,
		.sio_event = bw_event,
		.sio_disconnect = bw_disconnect,
		.error = bw_error,
	};
	struct bw_stats st;
	const char *endpoint = NULL;
	unsigned credit = 512;
	int ch, rc, ordered = 1;

	memset(&st, 0, sizeof st);
	while ((ch = getopt(argc, argv, "vue:c:")) != -1) {
		switch (ch) {
		case 'v':
			bw_verbose = 1;
			break;
		case 'u':
			ordered = 0;
			break;
		case 'e':
			endpoint = optarg;
			break;
		case 'c':
			credit = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: bench_worker [-v] [-u] [-e ENDPOINT] [-c CREDIT]\n");
			return 64;
		}
	}
	if ((rc = siogate_worker_new(&bw_w, &cb, &st)) != SIOGATE_OK ||
	    (rc = siogate_worker_set_name(bw_w, "bench_worker")) != SIOGATE_OK ||
	    (rc = siogate_worker_set_credit(bw_w, credit)) != SIOGATE_OK ||
	    (rc = siogate_worker_set_ordered(bw_w, ordered)) != SIOGATE_OK ||
	    (rc = siogate_worker_serve_nsp(bw_w, "/", 1)) != SIOGATE_OK ||
	    (rc = siogate_worker_connect(bw_w, endpoint)) != SIOGATE_OK) {
		fprintf(stderr, "bench_worker: %s\n", siogate_strerror(rc));
		siogate_worker_free(bw_w);
		return 1;
	}
	signal(SIGINT, bw_on_signal);
	signal(SIGTERM, bw_on_signal);
	rc = siogate_worker_run(bw_w);
	siogate_worker_free(bw_w);
	fprintf(stderr, "bench_worker: connects %llu disconnects %llu joins %llu "
	    "broadcasts %llu echoes %llu failed calls %llu\n", st.connects,
	    st.disconnects, st.joins, st.broadcasts, st.echoes, st.failed);
	if (rc != SIOGATE_OK) {
		fprintf(stderr, "bench_worker: %s\n", siogate_strerror(rc));
		return 1;
	}
	return 0;
}
