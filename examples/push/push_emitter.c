/*
 * push_emitter.c: push messages to the browsers of the /dcenter page, in C.
 *
 *	push_emitter [-e ENDPOINT] [-n NAMESPACE] [-E EVENT] [-t MS] MESSAGE...
 *
 * A write-only emitter (credit 0, no namespaces): it registers with the
 * gateway, emits EVENT (default "dcenter") with {"data": MESSAGE} to every
 * socket of NAMESPACE (default "/dcenter") once per MESSAGE, waits until the
 * gateway has handled them, says BYE and exits.  This is Flask-SocketIO's
 * socketio.emit('dcenter', {'data': ...}, namespace='/dcenter') from a
 * process that serves nothing; push.py does the same in Python.
 *
 * "Handled" is learnt from a round trip: after the emits it calls
 * siogate_sync(), whose answer the gateway sends once everything that came
 * before it on the same socket was processed (and, in a cluster, published
 * to Redis).  ENDPOINT defaults to $SIOGATE_ENDPOINT, else
 * tcp://127.0.0.1:5555.  Exit 0 when delivered to the gateway, 1 when no
 * gateway answered within MS milliseconds (default 5000), 2 on bad usage.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "siogate.h"

/* What the callbacks tell main(). */
struct push_state {
	int welcomed;		/* registered with the gateway */
	int answered;		/* the sync came back: 1 OK, -1 not */
};

/* Monotonic milliseconds. */
static int64_t
push_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Registered with a gateway; ready once every gateway connection is (a
 * gateway with several event loops names the others in its WELCOME, and the
 * SDK connects to them: each welcomes us in turn).
 */
static void
push_welcome(struct siogate_worker *w, const char *gateway_id, void *ud)
{
	struct push_state *st = ud;

	(void)gateway_id;
	st->welcomed = siogate_worker_pending(w) == 0;
}

/* An ERROR from the gateway (a refused emit, say). */
static void
push_error(struct siogate_worker *w, int code, const char *text,
    const char *sid, void *ud)
{
	(void)w;
	(void)sid;
	(void)ud;
	fprintf(stderr, "push_emitter: gateway error %d: %s\n", code, text);
}

/* The sync's answer: everything sent before it was handled. */
static void
push_answer(struct siogate_worker *w, int status, void *ud)
{
	struct push_state *st = ud;

	(void)w;
	if (status != SIOGATE_STATUS_OK)
		fprintf(stderr, "push_emitter: no confirmation (status %d)\n",
		    status);
	st->answered = status == SIOGATE_STATUS_OK ? 1 : -1;
}

/* Run the worker until *flag is set or the deadline passes; 0 or -1. */
static int
push_wait(struct siogate_worker *w, const int *flag, int64_t deadline)
{
	struct pollfd pfd = { .fd = siogate_worker_fd(w), .events = POLLIN };
	int64_t left;
	int rc, t;

	for (;;) {
		rc = siogate_worker_process(w);
		if (rc != SIOGATE_OK && rc != SIOGATE_ERR_PROTO) {
			fprintf(stderr, "push_emitter: %s\n",
			    siogate_strerror(rc));
			return -1;
		}
		if (*flag)
			return 0;
		left = deadline - push_now();
		if (left <= 0)
			return -1;
		t = siogate_worker_timeout(w);
		if (t < 0 || t > left)
			t = (int)left;
		if (poll(&pfd, 1, t) < 0 && errno != EINTR)
			return -1;
	}
}

/* Print usage and exit 2. */
static void
push_usage(void)
{
	fprintf(stderr, "usage: push_emitter [-e endpoint] [-n namespace] "
	    "[-E event] [-t ms] message...\n");
	exit(2);
}

/* Parse options, register, emit every message, confirm, leave. */
int
main(int argc, char **argv)
{
	static const struct siogate_callbacks cb = {
		.welcome = push_welcome,
		.error = push_error,
	};
	struct push_state st = { 0, 0 };
	struct siogate_worker *w = NULL;
	const char *endpoint = NULL, *nsp = "/dcenter", *ev = "dcenter";
	long ms = 5000;
	int64_t deadline;
	char *args, *end;
	json_t *v;
	int c, i, rc;

	while ((c = getopt(argc, argv, "e:n:E:t:h")) != -1) {
		switch (c) {
		case 'e':
			endpoint = optarg;
			break;
		case 'n':
			nsp = optarg;
			break;
		case 'E':
			ev = optarg;
			break;
		case 't':
			ms = strtol(optarg, &end, 10);
			if (*end != '\0' || ms < 1 || ms > 3600000)
				push_usage();
			break;
		default:
			push_usage();
		}
	}
	if (optind == argc)
		push_usage();
	deadline = push_now() + ms;
	if ((rc = siogate_worker_new(&w, &cb, &st)) != SIOGATE_OK ||
	    (rc = siogate_worker_set_name(w, "push_emitter")) != SIOGATE_OK ||
	    (rc = siogate_worker_set_credit(w, 0)) != SIOGATE_OK ||
	    (rc = siogate_worker_connect(w, endpoint)) != SIOGATE_OK) {
		fprintf(stderr, "push_emitter: %s\n", siogate_strerror(rc));
		goto fail;
	}
	if (push_wait(w, &st.welcomed, deadline) < 0) {
		fprintf(stderr, "push_emitter: no gateway answered at %s\n",
		    endpoint ? endpoint : "the default endpoint");
		goto fail;
	}
	for (i = optind; i < argc; i++) {
		v = json_pack("[{s:s}]", "data", argv[i]);
		args = v ? json_dumps(v, JSON_COMPACT) : NULL;
		json_decref(v);
		if (args == NULL) {
			fprintf(stderr, "push_emitter: not UTF-8: %s\n", argv[i]);
			goto fail;
		}
		rc = siogate_emit(w, nsp, NULL, ev, args, NULL, 0);
		free(args);
		if (rc != SIOGATE_OK) {
			fprintf(stderr, "push_emitter: emit: %s\n",
			    siogate_strerror(rc));
			goto fail;
		}
	}
	/* The receipt: the gateway handled every emit before it. */
	rc = siogate_sync(w, (unsigned)ms, push_answer, &st);
	if (rc != SIOGATE_OK || push_wait(w, &st.answered, deadline) < 0 ||
	    st.answered < 0) {
		fprintf(stderr, "push_emitter: the gateway did not confirm\n");
		goto fail;
	}
	siogate_worker_free(w);
	return 0;
fail:
	siogate_worker_free(w);
	return 1;
}
