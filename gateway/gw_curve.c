/*
 * gw_curve.c: CURVE on the bridge ([bridge] curve_secret_key_file,
 * curve_authorized_keys): the gateway's key pair, the worker public keys
 * allowed, and the ZAP handler that checks a connecting worker's key
 * against them (an inproc REP socket in the loop, answered before the
 * ROUTER socket is drained).  Without curve_authorized_keys, any worker
 * key is accepted.  --curve-keygen makes a key pair.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "gw_curve.h"

/*
 * The CURVE state of one loop's bridge, owned by its struct gw_bridge
 * (gw_curve_start, gw_curve_stop).
 */
struct gw_curve {
	struct gw *gw;
	void *zap;			/* ZAP handler (REP) when CURVE keys are restricted */
	ev_io zap_io;
	unsigned char (*keys)[32];	/* allowed worker public keys */
	uint32_t nkeys;
};

/* --curve-keygen: print a new key pair. */
int
gw_curve_keygen(void)
{
	char pub[41], sec[41];

	if (zmq_curve_keypair(pub, sec) < 0) {
		fprintf(stderr, "siogate: cannot make a CURVE key pair: %s\n", zmq_strerror(errno));
		return -1;
	}
	printf("public: %s\nsecret: %s\n", pub, sec);
	return 0;
}

/* Read a z85 key (40 characters, surrounding space ignored) from a file. */
static int
curve_read_key(const char *file, char key[41], const char **why)
{
	static char msg[300];
	FILE *f = fopen(file, "r");
	char line[256];

	if (f == NULL) {
		snprintf(msg, sizeof msg, "cannot read the CURVE secret key from %s", file);
		*why = msg;
		return -1;
	}
	/* The key alone on a line, or the "secret:" line of --curve-keygen output. */
	while (fgets(line, sizeof line, f) != NULL) {
		char *p = line + strspn(line, " \t");
		size_t n;

		if (strncmp(p, "public:", 7) == 0)
			continue;
		if (strncmp(p, "secret:", 7) == 0)
			p += 7 + strspn(p + 7, " \t");
		n = strcspn(p, " \t\r\n");
		if (n == 40) {
			memcpy(key, p, 40);
			key[40] = '\0';
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	snprintf(msg, sizeof msg, "%s: no CURVE secret key (40 z85 characters) in it", file);
	*why = msg;
	return -1;
}

/* Load the allowed worker public keys (one z85 key per line, # comments). */
static int
curve_load_keys(struct gw_curve *cv, const char **why)
{
	static char msg[300];
	struct gw *gw = cv->gw;
	FILE *f = fopen(gw->conf.curve_authorized, "r");
	char line[256];
	int lineno = 0;

	if (f == NULL) {
		snprintf(msg, sizeof msg, "cannot read %s", gw->conf.curve_authorized);
		*why = msg;
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *p = line + strspn(line, " \t");
		size_t n = strcspn(p, " \t\r\n");

		lineno++;
		/* '#' is a z85 character: a line is a comment only if it is no key. */
		if (n == 0 || (*p == '#' && n != 40))
			continue;
		if (n != 40) {
			snprintf(msg, sizeof msg, "%s:%d: a public key is 40 z85 characters",
			    gw->conf.curve_authorized, lineno);
			fclose(f);
			*why = msg;
			return -1;
		}
		p[40] = '\0';
		cv->keys = gw_xrealloc(cv->keys, (cv->nkeys + 1) * sizeof *cv->keys);
		if (zmq_z85_decode(cv->keys[cv->nkeys], p) == NULL) {
			snprintf(msg, sizeof msg, "%s:%d: not a z85 key", gw->conf.curve_authorized, lineno);
			fclose(f);
			*why = msg;
			return -1;
		}
		cv->nkeys++;
	}
	fclose(f);
	return 0;
}

/* Answer ZAP requests: a CURVE client key must be in the allowed list. */
void
gw_curve_turn(struct gw_curve *cv)
{
	if (cv == NULL || cv->zap == NULL)
		return;
	for (;;) {
		zmq_msg_t part[7];
		int n = 0, more = 1, allowed = 0, i;
		size_t ml = sizeof more;
		char keytext[41] = "?";

		while (more && n < 7) {
			zmq_msg_init(&part[n]);
			if (zmq_msg_recv(&part[n], cv->zap, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&part[n]);
				if (n == 0)
					return;
				break;
			}
			n++;
			zmq_getsockopt(cv->zap, ZMQ_RCVMORE, &more, &ml);
		}
		if (n == 7 && zmq_msg_size(&part[6]) == 32) {
			uint32_t k;

			for (k = 0; k < cv->nkeys; k++)
				allowed |= memcmp(cv->keys[k], zmq_msg_data(&part[6]), 32) == 0;
			zmq_z85_encode(keytext, zmq_msg_data(&part[6]), 32);
		}
		if (!allowed)
			gw_warn("bridge: CURVE client key %s refused (not in %s)", keytext,
			    cv->gw->conf.curve_authorized);
		/* version, request id, status code, status text, user id, metadata */
		zmq_send(cv->zap, "1.0", 3, ZMQ_SNDMORE);
		if (n >= 2)
			zmq_send(cv->zap, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
		else
			zmq_send(cv->zap, "", 0, ZMQ_SNDMORE);
		zmq_send(cv->zap, allowed ? "200" : "400", 3, ZMQ_SNDMORE);
		zmq_send(cv->zap, allowed ? "OK" : "not an authorized key", allowed ? 2 : 21,
		    ZMQ_SNDMORE);
		zmq_send(cv->zap, "", 0, ZMQ_SNDMORE);
		zmq_send(cv->zap, "", 0, 0);
		for (i = 0; i < n; i++)
			zmq_msg_close(&part[i]);
	}
}

static void
curve_zap_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	gw_curve_turn(w->data);
}

/* CURVE on the ROUTER socket (before it binds), and the ZAP handler. */
int
gw_curve_start(struct gw *gw, void *zctx, void *router, struct gw_curve **out,
    const char **why)
{
	struct gw_curve *cv;
	char sec[41], pub[41];
	int one = 1, fd;
	size_t fl = sizeof fd;

	*out = NULL;
	if (gw->conf.curve_secret_file == NULL)
		return 0;
	cv = gw_xcalloc(1, sizeof *cv);
	cv->gw = gw;
	*out = cv;	/* freed by gw_curve_stop(), also after a failure */
	if (curve_read_key(gw->conf.curve_secret_file, sec, why) < 0)
		return -1;
	if (zmq_curve_public(pub, sec) < 0) {
		*why = "the CURVE secret key is not valid z85";
		return -1;
	}
	if (gw->conf.curve_authorized != NULL) {
		if (curve_load_keys(cv, why) < 0)
			return -1;
		cv->zap = zmq_socket(zctx, ZMQ_REP);
		if (cv->zap == NULL || zmq_bind(cv->zap, "inproc://zeromq.zap.01") < 0) {
			*why = "cannot start the ZAP handler";
			return -1;
		}
		zmq_getsockopt(cv->zap, ZMQ_FD, &fd, &fl);
		ev_io_init(&cv->zap_io, curve_zap_cb, fd, EV_READ);
		cv->zap_io.data = cv;
		ev_io_start(gw->loop, &cv->zap_io);
		zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, "siogate", 7);
	}
	if (zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
	    zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, sec, 40) < 0) {
		*why = "cannot enable CURVE on the bridge (libzmq without CURVE?)";
		return -1;
	}
	gw_info("bridge: CURVE on, server public key %s%s", pub,
	    gw->conf.curve_authorized ? ", authorized worker keys only" : ", any worker key");
	return 0;
}

/* Close the ZAP handler and free cv (NULL: nothing); before the context ends. */
void
gw_curve_stop(struct gw *gw, struct gw_curve *cv)
{
	if (cv == NULL)
		return;
	if (cv->zap != NULL) {
		ev_io_stop(gw->loop, &cv->zap_io);
		zmq_close(cv->zap);
	}
	free(cv->keys);
	free(cv);
}
