/*
 * sdk_worker.c: a Socket.IO worker built on libsiogate only, driven by its
 * clients, for tests/integ/sdk_sio.test.mjs.  It runs its own poll(2)
 * loop on siogate_worker_fd() (the "caller's loop" mode) and calls every
 * function of the SDK's Socket.IO API on the clients' request.
 *
 *	sdk_worker [-v] [-n NAME] [-c CREDIT] [-H MS] [-s NSP]... [-o NSP]...
 *	    -e ENDPOINT [-e ENDPOINT]...
 *	sdk_worker -E [-N NSP] [-t TO]... -x EV -a ARGS -e ENDPOINT...
 *
 * -s serves a namespace, -o an open one (no connect answer); -H sets the
 * heartbeat interval; -U says "ordered": false in HELLO.  It prints "sdk_worker: registered with gateway
 * GWID" for each WELCOME.  The notice of a socket of an open namespace
 * whose name starts with "/opensess" sets its session {"name":
 * "from-connect"} and joins it to the room "from-connect" (after 200 ms
 * for "/opensess-slow").
 *
 * Connect, by the auth payload:
 *	{"token":"bad"}		reject {"message":"bad token","data":{"code":42}}
 *	{"reject":X}		reject with X
 *	{"reject_default":1}	reject without data
 *	{"later":MS}		accept MS ms later, outside the callback
 *	{"never":1}		no answer
 *	otherwise		accept: session {"name":auth.name} when given,
 *				rooms auth.rooms when given
 *
 * Events (args after the name; "rc" is the SDK's return code):
 *	echo ...		emit "echo" ... (binary kept) to the sender
 *	ack ...			siogate_ack with the same args
 *	join ROOMS / leave ROOMS	the sender joins/leaves (ROOMS: str or list)
 *	join-to TO ROOMS	siogate_join(TO, ROOMS)
 *	to TO EXCEPT EV ...	siogate_emit EV ... to TO (null: namespace)
 *				except EXCEPT (null: none)
 *	vto TO EXCEPT EV ...	the same with siogate_emit_volatile
 *	ask EV MS ...		siogate_emit_ack EV ... to the sender; the
 *				answer comes back as "asked"
 *				[{"status":S,"args":A}] (A keeps binary)
 *	ask-other ID EV MS ...	the same, asking socket ID
 *	set-session MAP MERGE	siogate_set_session for the sender
 *	get-session / get-rooms	emit "session" [S] / "my-rooms" [ROOMS]
 *	query WHAT TO MS	siogate_query -> "query" [{"status":S,"result":R}]
 *	kick TO CLOSE		siogate_disconnect
 *	raw-emit TO EV TEXT	siogate_emit with TEXT as the args text
 *	raw-ack TEXT		siogate_ack with TEXT as the args text
 *	unknown-gw		siogate_emit_ack to a socket of no gateway
 *	sse EV ...		siogate_server_emit EV ...
 *	sse-ack EV ...		siogate_server_emit_ack EV ...; the answers
 *				come back as "sse-result"
 *				[{"status":S,"result":R}]
 *	server-events		emit "server-events" [every server-side event
 *				seen: {nsp, ev, args, ack}]
 * Server-side events that ask for an answer (but "sse-mute") are
 * answered with siogate_server_ack [{"worker":NAME,"gw":GW,"args":A}].
 *	connects / disconnects	emit "connects" / "disconnects" [records]
 *	whoami			emit "whoami" [NAME]
 * For tests/integ/pipeline.test.mjs (answers in the ack):
 *	set_name N		siogate_set_session {"name":N}, merged
 *	get_name		ack [the "name" of the event's session, or null]
 *	inroom ROOM		ack [whether ROOM is in the event's rooms]
 *	sleep MS		block the worker MS ms (a slow handler), ack [rc]
 *	note X			append {"id","x":X} to the trail (disconnects
 *				append {"id","disconnect":reason}), ack [rc]
 *	trail ID		ack [the trail records of socket ID]
 * An event asking for an ack that its handler did not answer is acked
 * with [rc] once the commands are sent (the gateway handles one worker's
 * messages in order, so the client's callback runs after they took
 * effect).
 *
 * Emitter mode (-E): credit 0, nothing served; once every gateway said
 * WELCOME, siogate_emit EV ARGS to TO in NSP, then a query whose answer
 * proves the emit was handled; prints "sdk_worker: emitted", exits 0.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "siogate.h"

#define MAX_ENDPOINTS 8
#define MAX_LIST 64
#define MAX_LATER 64

static struct siogate_worker *sw;
static volatile sig_atomic_t stopping;
static int verbose, emitter, welcomed, emitted;
static const char *name = "sdkw";
static json_t *connects, *disconnects, *trail, *server_events;

/* Accepts due later (connect auth {"later": ms}). */
static struct later {
	long long due;
	char id[64];
} later[MAX_LATER];
static int nlater;

/* What an ack or query answer is sent back to. */
struct ctx {
	char id[64];
	char nsp[256];
};

/* Milliseconds of the monotonic clock. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* SIGTERM/SIGINT: leave the loop. */
static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Log a line when -v. */
static void __attribute__((format(printf, 1, 2)))
vlog(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "sdk_worker: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

/* A JSON value as compact text (caller frees); "null" on failure. */
static char *
dump(const json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
	    JSON_PRESERVE_ORDER) : NULL;

	return s ? s : strdup("null");
}

/*
 * A str or array of str as a NULL-terminated list in out (room for
 * MAX_LIST + 1); NULL for JSON null or absent; -1 when neither.
 */
static int
list_of(const json_t *v, const char **out, const char *const **res)
{
	size_t i;

	*res = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		out[0] = json_string_value(v);
		out[1] = NULL;
		*res = out;
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) > MAX_LIST)
		return -1;
	for (i = 0; i < json_array_size(v); i++) {
		if (!json_is_string(json_array_get(v, i)))
			return -1;
		out[i] = json_string_value(json_array_get(v, i));
	}
	out[i] = NULL;
	*res = out;
	return 0;
}

/* The JSON text of args[from..] (caller frees). */
static char *
rest(json_t *args, size_t from)
{
	json_t *a = json_array();
	size_t i;
	char *s;

	for (i = from; i < json_array_size(args); i++)
		json_array_append(a, json_array_get(args, i));
	s = dump(a);
	json_decref(a);
	return s;
}

/* Emit ev with args (JSON text) and bins to one socket. */
static int
emit_to(const char *id, const char *nsp, const char *ev, const char *args,
    const struct siogate_bin *bins, size_t nbins)
{
	const char *to[2] = { id, NULL };
	struct siogate_target t = { to, NULL };
	int rc = siogate_emit(sw, nsp, &t, ev, args, bins, nbins);

	if (rc != SIOGATE_OK)
		fprintf(stderr, "sdk_worker: emit %s to %s: %s\n", ev, id,
		    siogate_strerror(rc));
	return rc;
}

/* Emit ev with one JSON value as its only argument. */
static void
emit_value(const char *id, const char *nsp, const char *ev, json_t *v)
{
	json_t *a = json_pack("[O]", v);
	char *s = dump(a);

	emit_to(id, nsp, ev, s, NULL, 0);
	free(s);
	json_decref(a);
}

static void
on_welcome(struct siogate_worker *w, const char *gwid, void *ud)
{
	(void)w;
	(void)ud;
	welcomed++;
	fprintf(stderr, "sdk_worker: registered with gateway %s\n", gwid);
}

static void
on_error(struct siogate_worker *w, int code, const char *text,
    const char *sid, void *ud)
{
	(void)w;
	(void)ud;
	fprintf(stderr, "sdk_worker: gateway error %d: %s%s%s\n", code, text,
	    sid ? " id " : "", sid ? sid : "");
}

/* Answer a connect as its auth payload says. */
static void
on_connect(struct siogate_worker *w, const struct siogate_connect *c,
    void *ud)
{
	const char *rooms[MAX_LIST + 1];
	const char *const *r;
	json_t *auth = json_loads(c->auth, JSON_DECODE_ANY, NULL), *v;
	char *s;

	(void)ud;
	vlog("connect %s %s reply %d auth %s", c->id, c->nsp, c->reply,
	    c->auth);
	json_array_append_new(connects, json_pack("{s:s,s:s,s:b,s:O,s:s,s:s}",
	    "id", c->id, "nsp", c->nsp, "reply", c->reply,
	    "auth", auth ? auth : json_null(), "addr", c->hs->addr,
	    "sid", c->sid));
	if (!c->reply) {
		if (strncmp(c->nsp, "/opensess", 9) == 0) {
			const char *fc[2] = { "from-connect", NULL }, *me[2] = {
			    c->id, NULL };
			struct timespec ts = { 0, 200 * 1000000 };

			if (strcmp(c->nsp, "/opensess-slow") == 0)
				nanosleep(&ts, NULL);	/* a slow connect handler */

			siogate_set_session(w, c->id, c->nsp,
			    "{\"name\":\"from-connect\"}", 1);
			siogate_join(w, c->nsp, me, fc);
		}
		goto out;
	}
	if (!json_is_object(auth)) {
		siogate_accept(w, c->id, NULL, NULL);
	} else if ((v = json_object_get(auth, "token")) != NULL &&
	    json_is_string(v) && strcmp(json_string_value(v), "bad") == 0) {
		siogate_reject(w, c->id,
		    "{\"message\":\"bad token\",\"data\":{\"code\":42}}");
	} else if ((v = json_object_get(auth, "reject")) != NULL) {
		s = dump(v);
		siogate_reject(w, c->id, s);
		free(s);
	} else if (json_object_get(auth, "reject_default") != NULL) {
		siogate_reject(w, c->id, NULL);
	} else if (json_object_get(auth, "never") != NULL) {
		/* no answer */
	} else if ((v = json_object_get(auth, "later")) != NULL &&
	    json_is_integer(v) && nlater < MAX_LATER) {
		later[nlater].due = now_ms() + json_integer_value(v);
		snprintf(later[nlater].id, sizeof later[nlater].id, "%s",
		    c->id);
		nlater++;
	} else {
		json_t *sess = NULL;

		if ((v = json_object_get(auth, "name")) != NULL)
			sess = json_pack("{s:O}", "name", v);
		s = sess ? dump(sess) : NULL;
		if (list_of(json_object_get(auth, "rooms"), rooms, &r) == -1)
			r = NULL;
		siogate_accept(w, c->id, s, r);
		free(s);
		json_decref(sess);
	}
out:
	json_decref(auth);
}

/* The client's ack to "ask": send it back as "asked". */
static void
on_asked(struct siogate_worker *w, const char *id, int status,
    const char *args, const struct siogate_bin *bins, size_t nbins, void *ud)
{
	struct ctx *c = ud;
	char *s;
	size_t n;

	(void)w;
	(void)id;
	vlog("asked %s: status %d args %s", id, status, args ? args : "-");
	if (status != SIOGATE_STATUS_CANCELLED) {
		n = strlen(args ? args : "null") + 64;
		if ((s = malloc(n)) != NULL) {
			snprintf(s, n, "[{\"status\":%d,\"args\":%s}]", status,
			    args ? args : "null");
			emit_to(c->id, c->nsp, "asked", s, bins, nbins);
			free(s);
		}
	}
	free(c);
}

/* A query's answer: send it back as "query". */
static void
on_query(struct siogate_worker *w, int status, const char *result, void *ud)
{
	struct ctx *c = ud;
	char *s;
	size_t n;

	(void)w;
	if (status != SIOGATE_STATUS_CANCELLED) {
		if (emitter) {
			emitted = 1;
		} else {
			n = strlen(result) + 64;
			if ((s = malloc(n)) != NULL) {
				snprintf(s, n, "[{\"status\":%d,\"result\":%s}]",
				    status, result);
				emit_to(c->id, c->nsp, "query", s, NULL, 0);
				free(s);
			}
		}
	}
	free(c);
}

/* A server-side emit's answers: send them back as "sse-result". */
static void
on_sse_result(struct siogate_worker *w, int status, const char *result,
    void *ud)
{
	struct ctx *c = ud;
	char *s;
	size_t n;

	(void)w;
	if (status != SIOGATE_STATUS_CANCELLED) {
		n = strlen(result) + 64;
		if ((s = malloc(n)) != NULL) {
			snprintf(s, n, "[{\"status\":%d,\"result\":%s}]",
			    status, result);
			emit_to(c->id, c->nsp, "sse-result", s, NULL, 0);
			free(s);
		}
	}
	free(c);
}

/*
 * Another node's server-side event: recorded; one asking for an answer
 * (but "sse-mute") is answered [{"worker":NAME,"gw":GW,"args":ARGS}].
 */
static void
on_server_event(struct siogate_worker *w, const struct siogate_server_event *e,
    void *ud)
{
	json_t *args = json_loads(e->args, 0, NULL), *a;
	char *s;

	(void)ud;
	json_array_append_new(server_events, json_pack("{s:s,s:s,s:O?,s:b}",
	    "nsp", e->nsp, "ev", e->ev, "args", args, "ack", e->has_ack));
	if (e->has_ack && strcmp(e->ev, "sse-mute") != 0) {
		a = json_pack("[{s:s,s:s,s:O?}]", "worker", name, "gw",
		    e->gateway, "args", args);
		s = dump(a);
		vlog("server ack %s: %d", s, siogate_server_ack(w, e->gateway,
		    e->ack, s, NULL, 0));
		free(s);
		json_decref(a);
	}
	json_decref(args);
}

/* A new answer context for id in nsp; NULL on OOM. */
static struct ctx *
ctx_new(const char *id, const char *nsp)
{
	struct ctx *c = calloc(1, sizeof *c);

	if (c != NULL) {
		snprintf(c->id, sizeof c->id, "%s", id);
		snprintf(c->nsp, sizeof c->nsp, "%s", nsp);
	}
	return c;
}

/* Records of connects/disconnects, of one id when given. */
static json_t *
records(json_t *all, const json_t *id)
{
	json_t *out = json_array(), *r;
	size_t i;

	json_array_foreach(all, i, r) {
		if (!json_is_string(id) || json_equal(json_object_get(r, "id"),
		    id))
			json_array_append(out, r);
	}
	return out;
}

/* Run one event's command; rc is what the SDK returned. */
static void
on_event(struct siogate_worker *w, const struct siogate_event *e, void *ud)
{
	const char *l1[MAX_LIST + 1], *l2[MAX_LIST + 1], *me[2] = { e->id,
	    NULL };
	const char *const *to, *const *ex;
	json_t *args = json_loads(e->args, 0, NULL), *a0, *a1, *a2, *v;
	struct siogate_target t;
	struct ctx *c;
	int rc = SIOGATE_OK, acked = 0;
	char *s = NULL, buf[64];
	const char *ev = e->ev;

	(void)ud;
	vlog("event %s %s %s ack %d:%llu", e->id, ev, e->args, e->has_ack,
	    (unsigned long long)e->ack);
	if (args == NULL) {
		fprintf(stderr, "sdk_worker: args do not parse: %s\n",
		    e->args);
		return;
	}
	a0 = json_array_get(args, 0);
	a1 = json_array_get(args, 1);
	a2 = json_array_get(args, 2);
	if (strcmp(ev, "echo") == 0) {
		rc = emit_to(e->id, e->nsp, "echo", e->args, e->bins, e->nbins);
	} else if (strcmp(ev, "ack") == 0) {
		rc = siogate_ack(w, e->id, e->nsp, e->ack, e->args, e->bins,
		    e->nbins);
		acked = 1;
	} else if (strcmp(ev, "raw-ack") == 0) {
		rc = siogate_ack(w, e->id, e->nsp, e->ack,
		    json_string_value(a0), NULL, 0);
		if (rc == SIOGATE_OK)
			acked = 1;
	} else if (strcmp(ev, "join") == 0 || strcmp(ev, "leave") == 0) {
		rc = list_of(a0, l1, &to) == -1 || to == NULL ?
		    SIOGATE_ERR_INVALID : ev[0] == 'j' ?
		    siogate_join(w, e->nsp, me, to) :
		    siogate_leave(w, e->nsp, me, to);
	} else if (strcmp(ev, "join-to") == 0) {
		rc = list_of(a0, l1, &to) == -1 || list_of(a1, l2, &ex) == -1 ?
		    SIOGATE_ERR_INVALID : siogate_join(w, e->nsp, to, ex);
	} else if (strcmp(ev, "to") == 0 || strcmp(ev, "vto") == 0) {
		if (list_of(a0, l1, &to) == -1 || list_of(a1, l2, &ex) == -1 ||
		    !json_is_string(a2)) {
			rc = SIOGATE_ERR_INVALID;
		} else {
			t.to = to;
			t.except = ex;
			s = rest(args, 3);
			rc = (ev[0] == 'v' ? siogate_emit_volatile :
			    siogate_emit)(w, e->nsp, &t, json_string_value(a2),
			    s, e->bins, e->nbins);
		}
	} else if (strcmp(ev, "ask") == 0 || strcmp(ev, "ask-other") == 0) {
		size_t k = ev[3] == '-';
		const char *id = k ? json_string_value(a0) : e->id;
		json_t *evn = json_array_get(args, k), *ms =
		    json_array_get(args, k + 1);

		if (id == NULL || !json_is_string(evn) ||
		    !json_is_integer(ms) || (c = ctx_new(e->id, e->nsp)) ==
		    NULL) {
			rc = SIOGATE_ERR_INVALID;
		} else {
			s = rest(args, k + 2);
			rc = siogate_emit_ack(w, e->nsp, id,
			    json_string_value(evn), s, e->bins, e->nbins,
			    (unsigned)json_integer_value(ms), on_asked, c);
			if (rc != SIOGATE_OK)
				free(c);
		}
	} else if (strcmp(ev, "sse") == 0) {
		s = rest(args, 1);
		rc = json_is_string(a0) ? siogate_server_emit(w, e->nsp,
		    json_string_value(a0), s, e->bins, e->nbins) :
		    SIOGATE_ERR_INVALID;
	} else if (strcmp(ev, "sse-ack") == 0) {
		if (!json_is_string(a0) || (c = ctx_new(e->id, e->nsp)) == NULL) {
			rc = SIOGATE_ERR_INVALID;
		} else {
			s = rest(args, 1);
			rc = siogate_server_emit_ack(w, e->nsp,
			    json_string_value(a0), s, e->bins, e->nbins,
			    on_sse_result, c);
			if (rc != SIOGATE_OK)
				free(c);
		}
	} else if (strcmp(ev, "server-events") == 0) {
		emit_value(e->id, e->nsp, "server-events", server_events);
	} else if (strcmp(ev, "unknown-gw") == 0) {
		c = ctx_new(e->id, e->nsp);
		rc = siogate_emit_ack(w, e->nsp, "ZZZZaaaaaaaaaaaaaaaaaaaa", "x",
		    NULL, NULL, 0, 0, on_asked, c);
		if (rc != SIOGATE_OK)
			free(c);
	} else if (strcmp(ev, "set-session") == 0) {
		s = dump(a0);
		rc = siogate_set_session(w, e->id, e->nsp, s, json_is_true(a1));
	} else if (strcmp(ev, "get-session") == 0) {
		v = e->session ? json_loads(e->session, 0, NULL) : json_null();
		emit_value(e->id, e->nsp, "session", v);
		json_decref(v);
	} else if (strcmp(ev, "get-rooms") == 0) {
		size_t i;

		v = json_array();
		for (i = 0; i < e->nrooms; i++)
			json_array_append_new(v, json_string(e->rooms[i]));
		emit_value(e->id, e->nsp, "my-rooms", v);
		json_decref(v);
	} else if (strcmp(ev, "query") == 0) {
		if (!json_is_string(a0) || list_of(a1, l1, &to) == -1 ||
		    (c = ctx_new(e->id, e->nsp)) == NULL) {
			rc = SIOGATE_ERR_INVALID;
		} else {
			rc = siogate_query(w, e->nsp, json_string_value(a0), to,
			    (unsigned)json_integer_value(a2), on_query, c);
			if (rc != SIOGATE_OK)
				free(c);
		}
	} else if (strcmp(ev, "kick") == 0) {
		rc = list_of(a0, l1, &to) == -1 || to == NULL ?
		    SIOGATE_ERR_INVALID :
		    siogate_disconnect(w, e->nsp, to, json_is_true(a1));
	} else if (strcmp(ev, "raw-emit") == 0) {
		if (list_of(a0, l1, &to) == -1 || !json_is_string(a1)) {
			rc = SIOGATE_ERR_INVALID;
		} else {
			t.to = to;
			t.except = NULL;
			rc = siogate_emit(w, e->nsp, &t, json_string_value(a1),
			    json_string_value(a2), e->bins, e->nbins);
		}
	} else if (strcmp(ev, "connects") == 0 ||
	    strcmp(ev, "disconnects") == 0) {
		v = records(ev[0] == 'c' ? connects : disconnects, a0);
		emit_value(e->id, e->nsp, ev, v);
		json_decref(v);
	} else if (strcmp(ev, "set_name") == 0) {
		v = json_pack("{s:O?}", "name", a0);
		s = dump(v);
		json_decref(v);
		rc = siogate_set_session(w, e->id, e->nsp, s, 1);
	} else if (strcmp(ev, "get_name") == 0 || strcmp(ev, "inroom") == 0 ||
	    strcmp(ev, "trail") == 0) {
		json_t *sess = e->session ? json_loads(e->session, 0, NULL) : NULL;
		size_t i;

		if (ev[0] == 'g') {
			v = json_object_get(sess, "name");
			v = json_pack("[O]", v ? v : json_null());
		} else if (ev[0] == 'i') {
			for (i = 0; json_is_string(a0) && i < e->nrooms &&
			    strcmp(e->rooms[i], json_string_value(a0)) != 0; i++)
				;
			v = json_pack("[b]", json_is_string(a0) && i < e->nrooms);
		} else {
			v = json_pack("[o]", records(trail, a0));
		}
		json_decref(sess);
		s = dump(v);
		json_decref(v);
		if (e->has_ack)
			rc = siogate_ack(w, e->id, e->nsp, e->ack, s, NULL, 0);
		acked = 1;
	} else if (strcmp(ev, "sleep") == 0) {
		struct timespec ts = { json_integer_value(a0) / 1000,
		    json_integer_value(a0) % 1000 * 1000000 };

		nanosleep(&ts, NULL);
	} else if (strcmp(ev, "note") == 0) {
		json_array_append_new(trail, json_pack("{s:s,s:O?}", "id", e->id,
		    "x", a0));
	} else if (strcmp(ev, "whoami") == 0) {
		v = json_string(name);
		emit_value(e->id, e->nsp, "whoami", v);
		json_decref(v);
	} else {
		rc = SIOGATE_ERR_INVALID;
	}
	if (e->has_ack && !acked) {
		snprintf(buf, sizeof buf, "[%d]", rc);
		siogate_ack(w, e->id, e->nsp, e->ack, buf, NULL, 0);
	}
	free(s);
	json_decref(args);
}

static void
on_disconnect(struct siogate_worker *w, const char *id, const char *nsp,
    const char *reason, void *ud)
{
	(void)w;
	(void)ud;
	vlog("disconnect %s %s: %s", id, nsp, reason);
	json_array_append_new(disconnects, json_pack("{s:s,s:s,s:s}", "id",
	    id, "nsp", nsp, "reason", reason));
	json_array_append_new(trail, json_pack("{s:s,s:s}", "id", id,
	    "disconnect", reason));
}

/* Accept the connects whose time came. */
static void
run_later(void)
{
	int i;

	for (i = 0; i < nlater;) {
		if (later[i].due > now_ms()) {
			i++;
			continue;
		}
		siogate_accept(sw, later[i].id, "{\"later\":true}", NULL);
		later[i] = later[--nlater];
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: sdk_worker [-v] [-n name] [-c credit] [-H ms] [-U] "
	    "[-s nsp]... [-o nsp]... -e endpoint...\n"
	    "       sdk_worker -E [-N nsp] [-t to]... -x ev -a args "
	    "-e endpoint...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct siogate_callbacks cb = {
		.welcome = on_welcome,
		.error = on_error,
		.sio_connect = on_connect,
		.sio_event = on_event,
		.sio_disconnect = on_disconnect,
	};
	const char *eps[MAX_ENDPOINTS], *tos[MAX_LIST + 1];
	const char *nsp = "/", *ev = NULL, *args = NULL;
	struct siogate_target t = { NULL, NULL };
	struct sigaction sa;
	struct pollfd pfd;
	int c, rc, neps = 0, ntos = 0, sent = 0, tmo;
	long long t0;

	connects = json_array();
	disconnects = json_array();
	trail = json_array();
	server_events = json_array();
	if ((rc = siogate_worker_new(&sw, &cb, NULL)) != SIOGATE_OK) {
		fprintf(stderr, "sdk_worker: %s\n", siogate_strerror(rc));
		return 1;
	}
	siogate_worker_on_server_event(sw, on_server_event);
	while ((c = getopt(argc, argv, "vn:c:H:Us:o:e:EN:t:x:a:")) != -1) {
		switch (c) {
		case 'v':
			verbose = 1;
			break;
		case 'n':
			name = optarg;
			break;
		case 'c':
			siogate_worker_set_credit(sw, (unsigned)atoi(optarg));
			break;
		case 'H':
			siogate_worker_set_heartbeat(sw, (unsigned)atoi(optarg));
			break;
		case 'U':
			siogate_worker_set_ordered(sw, 0);
			break;
		case 's':
		case 'o':
			if (siogate_worker_serve_nsp(sw, optarg, c == 'o') !=
			    SIOGATE_OK)
				usage();
			break;
		case 'e':
			if (neps == MAX_ENDPOINTS)
				usage();
			eps[neps++] = optarg;
			break;
		case 'E':
			emitter = 1;
			break;
		case 'N':
			nsp = optarg;
			break;
		case 't':
			if (ntos == MAX_LIST)
				usage();
			tos[ntos++] = optarg;
			break;
		case 'x':
			ev = optarg;
			break;
		case 'a':
			args = optarg;
			break;
		default:
			usage();
		}
	}
	if (neps == 0 || (emitter && ev == NULL))
		usage();
	tos[ntos] = NULL;
	if (emitter)
		siogate_worker_set_credit(sw, 0);
	siogate_worker_set_name(sw, name);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (c = 0; c < neps; c++) {
		if ((rc = siogate_worker_connect(sw, eps[c])) != SIOGATE_OK) {
			fprintf(stderr, "sdk_worker: connect %s: %s\n", eps[c],
			    siogate_strerror(rc));
			return 1;
		}
	}
	t0 = now_ms();
	/* The caller's own loop: poll the SDK's fd, wake for its timers. */
	while (!stopping) {
		pfd.fd = siogate_worker_fd(sw);
		pfd.events = POLLIN;
		tmo = siogate_worker_timeout(sw);
		if (nlater > 0 && (tmo < 0 || tmo > 10))
			tmo = 10;
		if (poll(&pfd, 1, tmo) == -1 && errno != EINTR)
			break;
		rc = siogate_worker_process(sw);
		if (rc == SIOGATE_ERR_NOMEM || rc == SIOGATE_ERR_ZMQ) {
			fprintf(stderr, "sdk_worker: %s\n", siogate_strerror(rc));
			return 1;
		}
		run_later();
		if (emitter && !sent && welcomed >= neps) {
			t.to = ntos ? tos : NULL;
			rc = siogate_emit(sw, nsp, &t, ev, args, NULL, 0);
			if (rc == SIOGATE_OK)
				rc = siogate_query(sw, nsp, "rooms", NULL, 5000,
				    on_query, ctx_new("", nsp));
			if (rc != SIOGATE_OK) {
				fprintf(stderr, "sdk_worker: emit: %s\n",
				    siogate_strerror(rc));
				return 1;
			}
			sent = 1;
		}
		if (emitter && emitted) {
			fprintf(stderr, "sdk_worker: emitted\n");
			break;
		}
		if (emitter && now_ms() - t0 > 10000) {
			fprintf(stderr, "sdk_worker: emitter timed out\n");
			return 1;
		}
	}
	siogate_worker_free(sw);
	json_decref(connects);
	json_decref(disconnects);
	json_decref(trail);
	return 0;
}
