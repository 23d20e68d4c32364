/*
 * echo_worker.c: a raw Engine.IO echo worker built on libsiogate only.
 *
 *	echo_worker [-v] [-e ENDPOINT] [-p PATH]... [-n NAME]
 *
 * Every message a client sends comes back unchanged, text as text and
 * binary as binary.  ENDPOINT defaults to $SIOGATE_ENDPOINT, else
 * tcp://127.0.0.1:5555; PATH to /engine.io/ (-p may be repeated).  On each
 * registration it prints "echo_worker: registered with gateway GWID" to
 * stderr.  SIGINT and SIGTERM make it leave cleanly (BYE) and exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "siogate.h"

/* The worker the signal handler stops (set before the handler is). */
static struct siogate_worker *echo_w;
static int echo_verbose;

/* SIGINT/SIGTERM: ask the loop to return (async-signal-safe). */
static void
echo_on_signal(int sig)
{
	(void)sig;
	siogate_worker_stop(echo_w);
}

/* Registered: the line the tests wait for. */
static void
echo_welcome(struct siogate_worker *w, const char *gateway_id, void *ud)
{
	(void)w;
	(void)ud;
	fprintf(stderr, "echo_worker: registered with gateway %s\n",
	    gateway_id);
}

/* A session opened. */
static void
echo_open(struct siogate_worker *w, const char *sid, const char *path,
    const struct siogate_handshake *hs, void *ud)
{
	(void)w;
	(void)ud;
	if (echo_verbose)
		fprintf(stderr, "echo_worker: open %s on %s from %s (%s)\n",
		    sid, path, hs->addr, hs->transport);
}

/* A message: send it back as it came. */
static void
echo_message(struct siogate_worker *w, const char *sid, const void *data,
    size_t len, int binary, void *ud)
{
	int rc;

	(void)ud;
	rc = siogate_eio_send(w, sid, data, len, binary);
	if (rc != SIOGATE_OK && echo_verbose)
		fprintf(stderr, "echo_worker: send to %s: %s\n", sid,
		    siogate_strerror(rc));
}

/* A session closed. */
static void
echo_close(struct siogate_worker *w, const char *sid, const char *reason,
    void *ud)
{
	(void)w;
	(void)ud;
	if (echo_verbose)
		fprintf(stderr, "echo_worker: close %s (%s)\n", sid, reason);
}

/* An ERROR from the gateway. */
static void
echo_error(struct siogate_worker *w, int code, const char *text,
    const char *sid, void *ud)
{
	(void)w;
	(void)ud;
	fprintf(stderr, "echo_worker: gateway error %d: %s%s%s\n", code, text,
	    sid ? " sid " : "", sid ? sid : "");
}

/* Print usage and exit 2. */
static void
echo_usage(void)
{
	fprintf(stderr, "usage: echo_worker [-v] [-e endpoint] [-p path]... "
	    "[-n name]\n");
	exit(2);
}

/* Parse options, register, echo until SIGINT/SIGTERM. */
int
main(int argc, char **argv)
{
	static const struct siogate_callbacks cb = {
		.welcome = echo_welcome,
		.eio_open = echo_open,
		.eio_message = echo_message,
		.eio_close = echo_close,
		.error = echo_error,
	};
	struct sigaction sa;
	const char *endpoint = NULL, *name = "echo";
	int c, rc, npaths = 0;

	if ((rc = siogate_worker_new(&echo_w, &cb, NULL)) != SIOGATE_OK) {
		fprintf(stderr, "echo_worker: %s\n", siogate_strerror(rc));
		return 1;
	}
	while ((c = getopt(argc, argv, "e:p:n:vh")) != -1) {
		switch (c) {
		case 'e':
			endpoint = optarg;
			break;
		case 'p':
			rc = siogate_worker_serve_eio(echo_w, optarg);
			if (rc != SIOGATE_OK) {
				fprintf(stderr, "echo_worker: path %s: %s\n",
				    optarg, siogate_strerror(rc));
				return 2;
			}
			npaths++;
			break;
		case 'n':
			name = optarg;
			break;
		case 'v':
			echo_verbose = 1;
			break;
		default:
			echo_usage();
		}
	}
	if (optind != argc)
		echo_usage();
	if (npaths == 0)
		siogate_worker_serve_eio(echo_w, "/engine.io/");
	if ((rc = siogate_worker_set_name(echo_w, name)) != SIOGATE_OK) {
		fprintf(stderr, "echo_worker: name: %s\n", siogate_strerror(rc));
		return 2;
	}

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = echo_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* NULL: $SIOGATE_ENDPOINT, else tcp://127.0.0.1:5555. */
	if ((rc = siogate_worker_connect(echo_w, endpoint)) != SIOGATE_OK) {
		fprintf(stderr, "echo_worker: connect %s: %s\n",
		    endpoint ? endpoint : "(default)", siogate_strerror(rc));
		return 1;
	}
	rc = siogate_worker_run(echo_w);
	if (rc != SIOGATE_OK)
		fprintf(stderr, "echo_worker: %s\n", siogate_strerror(rc));
	/* No signal may touch the worker once it is freed. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	siogate_worker_free(echo_w);
	return rc == SIOGATE_OK ? 0 : 1;
}
