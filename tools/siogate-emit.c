/*
 * siogate-emit.c: emit one Socket.IO event from the shell.
 *
 *	siogate-emit [--endpoint E]... [--namespace N] [--room R]... [--to ID]...
 *	    [--except X]... [--timeout MS] EVENT [JSON-ARG]...
 *
 * A write-only emitter (credit 0, serves nothing) built on the public SDK
 * (siogate.h) only: it registers with each gateway, emits EVENT with the
 * JSON arguments to the sockets named (the whole namespace by default),
 * makes sure every gateway handled the emit, says BYE and exits.
 *
 * Why a sync after the emit: an emit is fire-and-forget on the bridge.
 * siogate_sync() is answered once the gateway handled everything sent
 * before it (in a cluster: published it to Redis), and an ERROR the
 * gateway sent about the emit arrives before that answer.  A gateway too
 * old for SYNC is synced by the SDK with an empty query instead.
 *
 * Exit status (sysexits.h): 0 handled, 1 a gateway refused the emit,
 * 64 usage or bad JSON, 69 no gateway answered within the timeout.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "siogate.h"

#define EMIT_EX_USAGE 64
#define EMIT_EX_UNAVAILABLE 69
#define EMIT_MAX_LIST 1024	/* --endpoint, --room, --to, --except each */

/* What the callbacks tell main(). */
struct emit_state {
	unsigned welcomed;	/* gateways registered with */
	int answered;		/* the sync: 1 answered, -1 failed */
	int refused;		/* a gateway sent ERROR */
	struct siogate_worker *w;
};

/* A NULL-terminated list of option values (borrowed from argv). */
struct emit_list {
	const char *v[EMIT_MAX_LIST + 1];
	size_t n;
};

/* Monotonic milliseconds. */
static int64_t
emit_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Registered with a gateway. */
static void
emit_welcome(struct siogate_worker *w, const char *gateway_id, void *ud)
{
	struct emit_state *st = ud;

	(void)w;
	(void)gateway_id;
	st->welcomed++;
}

/* An ERROR from a gateway: the emit (or the sync) was refused. */
static void
emit_error(struct siogate_worker *w, int code, const char *text, const char *sid, void *ud)
{
	struct emit_state *st = ud;

	(void)w;
	(void)sid;
	if (code == SIOGATE_BR_NOT_REGISTERED)
		return;		/* the SDK says HELLO again by itself */
	fprintf(stderr, "siogate-emit: the gateway refused the emit: %s (error %d)\n", text,
	    code);
	st->refused = 1;
}

/* The sync's answer: everything sent before it was handled. */
static void
emit_answer(struct siogate_worker *w, int status, void *ud)
{
	struct emit_state *st = ud;

	(void)w;
	st->answered = status == SIOGATE_STATUS_OK ? 1 : -1;
}

/* Run the worker until done(st) or the deadline; 0, or -1 at the deadline. */
static int
emit_wait(struct siogate_worker *w, struct emit_state *st,
    int (*done)(const struct emit_state *, unsigned), unsigned want, int64_t deadline)
{
	struct pollfd pfd = { .fd = siogate_worker_fd(w), .events = POLLIN };
	int64_t left;
	int rc, t;

	for (;;) {
		rc = siogate_worker_process(w);
		if (rc != SIOGATE_OK && rc != SIOGATE_ERR_PROTO) {
			fprintf(stderr, "siogate-emit: %s\n", siogate_strerror(rc));
			return -1;
		}
		if (done(st, want))
			return 0;
		left = deadline - emit_now();
		if (left <= 0)
			return -1;
		t = siogate_worker_timeout(w);
		if (t < 0 || t > left)
			t = (int)left;
		if (poll(&pfd, 1, t) < 0 && errno != EINTR) {
			fprintf(stderr, "siogate-emit: poll: %s\n", strerror(errno));
			return -1;
		}
	}
}

/*
 * emit_wait() condition: every gateway said WELCOME, and so did the other
 * event loops of a gateway with several (connected by the SDK on WELCOME).
 */
static int
all_welcomed(const struct emit_state *st, unsigned want)
{
	return st->welcomed >= want && siogate_worker_pending(st->w) == 0;
}

/* emit_wait() condition: the sync was answered (or failed). */
static int
barrier_done(const struct emit_state *st, unsigned want)
{
	(void)want;
	return st->answered != 0;
}

/* Print the usage on f. */
static void
emit_usage(FILE *f)
{
	fprintf(f, "usage: siogate-emit [options] EVENT [JSON-ARG]...\n"
	    "  -e, --endpoint E     gateway bridge endpoint, repeatable (default\n"
	    "                       $SIOGATE_ENDPOINT, else %s)\n"
	    "  -n, --namespace N    namespace (default /)\n"
	    "  -r, --room R         emit to the sockets in room R, repeatable\n"
	    "  -t, --to ID          emit to the socket ID, repeatable\n"
	    "  -x, --except X       not to the socket or room X, repeatable\n"
	    "  -T, --timeout MS     wait at most MS ms for each gateway (default 3000)\n"
	    "  -h, --help           print this help and exit\n"
	    "  -V, --version        print the version and exit\n"
	    "Each JSON-ARG is one argument of the event, as JSON: '\"text\"', 42,\n"
	    "'{\"a\":1}'.  Options come before EVENT.  Exit 0 when every gateway\n"
	    "handled the emit, 1 when one refused it, 64 on a usage or JSON error,\n"
	    "69 when no gateway answered.\n", SIOGATE_DEFAULT_ENDPOINT);
}

/* A usage error: say it, point at --help, exit 64. */
static void
emit_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "siogate-emit: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see --help)\n");
	exit(EMIT_EX_USAGE);
}

/* Append an option value to a list. */
static void
emit_list_add(struct emit_list *l, const char *opt, const char *v)
{
	if (l->n == EMIT_MAX_LIST)
		emit_usage_error("too many %s values (at most 1024)", opt);
	if (v[0] == '\0')
		emit_usage_error("%s needs a non-empty value", opt);
	l->v[l->n++] = v;
}

/* Whether Socket.IO reserves the event name ev. */
static int
emit_reserved(const char *ev)
{
	static const char *const names[] = { "connect", "connect_error", "disconnect",
	    "disconnecting", "newListener", "removeListener", NULL };
	size_t i;

	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(ev, names[i]) == 0)
			return 1;
	}
	return 0;
}

/*
 * The JSON array of the arguments, each checked on its own so that an
 * error names the argument.  Exits 64 on a bad one.  The caller frees.
 */
static char *
emit_args(int argc, char **argv)
{
	json_t *arr = json_array(), *v;
	json_error_t err;
	char *text;
	int i;

	if (arr == NULL)
		goto nomem;
	for (i = 0; i < argc; i++) {
		v = json_loads(argv[i], JSON_DECODE_ANY, &err);
		if (v == NULL) {
			fprintf(stderr, "siogate-emit: argument %d is not JSON: '%s': %s at "
			    "character %d%s\n", i + 1, argv[i], err.text, err.position,
			    argv[i][0] != '"' && argv[i][0] != '{' && argv[i][0] != '[' ?
			    " (a string needs quotes: '\"text\"')" : "");
			exit(EMIT_EX_USAGE);
		}
		if (json_array_append_new(arr, v) < 0)
			goto nomem;
	}
	text = json_dumps(arr, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(arr);
	if (text == NULL)
		goto nomem;
	return text;
nomem:
	fprintf(stderr, "siogate-emit: out of memory\n");
	exit(1);
}

/* Parse, check the JSON, register, emit, confirm, leave. */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "room", required_argument, NULL, 'r' },
		{ "to", required_argument, NULL, 't' },
		{ "except", required_argument, NULL, 'x' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct siogate_callbacks cb = {
		.welcome = emit_welcome,
		.error = emit_error,
	};
	static struct emit_list endpoints, to, except;
	struct emit_state st = { 0, 0, 0, NULL };
	struct siogate_target target;
	struct siogate_worker *w = NULL;
	const char *nsp = "/", *ev;
	unsigned long timeout = 3000;
	int64_t deadline;
	char *args = NULL, *end;
	int c, rc, status = 1;
	size_t i;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:e:n:r:t:x:T:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			emit_list_add(&endpoints, "--endpoint", optarg);
			break;
		case 'n':
			nsp = optarg;
			if (nsp[0] != '/')
				emit_usage_error("namespace '%s' does not start with '/'", nsp);
			break;
		case 'r':
			emit_list_add(&to, "--room", optarg);
			break;
		case 't':
			emit_list_add(&to, "--to", optarg);
			break;
		case 'x':
			emit_list_add(&except, "--except", optarg);
			break;
		case 'T':
			errno = 0;
			timeout = strtoul(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' || errno != 0 ||
			    timeout < 1 || timeout > 3600000)
				emit_usage_error("--timeout '%s' is not a number of ms from 1 to 3600000",
				    optarg);
			break;
		case 'h':
			emit_usage(stdout);
			return 0;
		case 'V':
			printf("siogate-emit %s\n", PACKAGE_VERSION);
			return 0;
		case ':':
			emit_usage_error("option '%s' needs a value", argv[optind - 1]);
			break;
		default:
			emit_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		emit_usage_error("%s", "no EVENT given");
	ev = argv[optind++];
	if (ev[0] == '\0')
		emit_usage_error("%s", "the EVENT name is empty");
	if (emit_reserved(ev))
		emit_usage_error("'%s' is a reserved event name", ev);
	args = emit_args(argc - optind, argv + optind);

	rc = siogate_worker_new(&w, &cb, &st);
	st.w = w;
	if (rc == SIOGATE_OK)
		rc = siogate_worker_set_name(w, "siogate-emit");
	if (rc == SIOGATE_OK)
		rc = siogate_worker_set_credit(w, 0);
	if (rc != SIOGATE_OK) {
		fprintf(stderr, "siogate-emit: %s\n", siogate_strerror(rc));
		goto out;
	}
	if (endpoints.n == 0) {
		const char *env = getenv("SIOGATE_ENDPOINT");

		endpoints.v[endpoints.n++] = env != NULL && env[0] != '\0' ? env :
		    SIOGATE_DEFAULT_ENDPOINT;
	}
	for (i = 0; i < endpoints.n; i++) {
		rc = siogate_worker_connect(w, endpoints.v[i]);
		if (rc != SIOGATE_OK) {
			fprintf(stderr, "siogate-emit: cannot connect to '%s': %s\n", endpoints.v[i],
			    rc == SIOGATE_ERR_ZMQ ? strerror(errno) : siogate_strerror(rc));
			status = rc == SIOGATE_ERR_INVALID || rc == SIOGATE_ERR_ZMQ ?
			    EMIT_EX_USAGE : 1;
			goto out;
		}
	}
	deadline = emit_now() + (int64_t)timeout;
	if (emit_wait(w, &st, all_welcomed, (unsigned)endpoints.n, deadline) < 0) {
		if (endpoints.n == 1)
			fprintf(stderr, "siogate-emit: no gateway answered on %s within %lu ms\n",
			    endpoints.v[0], timeout);
		else
			fprintf(stderr, "siogate-emit: %u of %zu gateways answered within %lu ms\n",
			    st.welcomed, endpoints.n, timeout);
		status = EMIT_EX_UNAVAILABLE;
		goto out;
	}
	target.to = to.n > 0 ? to.v : NULL;
	target.except = except.n > 0 ? except.v : NULL;
	rc = siogate_emit(w, nsp, &target, ev, args, NULL, 0);
	if (rc != SIOGATE_OK) {
		fprintf(stderr, "siogate-emit: emit failed: %s\n", siogate_strerror(rc));
		status = rc == SIOGATE_ERR_INVALID || rc == SIOGATE_ERR_JSON ? EMIT_EX_USAGE :
		    rc == SIOGATE_ERR_NOGATEWAY ? EMIT_EX_UNAVAILABLE : 1;
		goto out;
	}
	rc = siogate_sync(w, (unsigned)timeout, emit_answer, &st);
	if (rc != SIOGATE_OK) {
		fprintf(stderr, "siogate-emit: %s\n", siogate_strerror(rc));
		goto out;
	}
	deadline = emit_now() + (int64_t)timeout + 1000;	/* the SDK's own timeout first */
	if (emit_wait(w, &st, barrier_done, 0, deadline) < 0 || st.answered < 0) {
		fprintf(stderr, "siogate-emit: the gateway did not confirm the emit within %lu ms\n",
		    timeout);
		status = EMIT_EX_UNAVAILABLE;
		goto out;
	}
	status = st.refused ? 1 : 0;
out:
	siogate_worker_free(w);
	free(args);
	return status;
}
