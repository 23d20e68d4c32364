/*
 * chat_worker.c: the siogate chat example's worker, in C on libsiogate.
 *
 *	chat_worker [-v] [-e ENDPOINT] [-n NAME]
 *
 * Serves the Socket.IO namespace "/chat" for the page in this folder
 * (index.html, chat.js), with the same behaviour as chat_worker.py:
 *
 *   "nick" (name)           keep name as the socket's session data
 *                           {"nick": name} in the gateway; tell the rooms
 *                           of the socket about a change of name
 *   "join" (room)           join room; its members get a "notice"
 *   "leave" (room)          leave room; its members get a "notice"
 *   "message" ({room,text}) a "message" {room, nick, text, ts} to the
 *                           other members of room
 *
 * Each is answered with an ack {"ok":true,...} or {"ok":false,"error":...}.
 * After every change of names or rooms, and after a disconnect, the worker
 * asks the gateway for the namespace's sockets (siogate_query) and emits
 * "online" [{id, nick, rooms}] to everyone.  The worker keeps no state of
 * its own: names and rooms live in the gateway and come with every event.
 *
 * ENDPOINT defaults to $SIOGATE_ENDPOINT, else tcp://127.0.0.1:5555.  On
 * each registration it prints "chat_worker: registered with gateway GWID"
 * to stderr.  SIGINT and SIGTERM make it leave cleanly (BYE) and exit 0.
 * JSON is handled with jansson.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "siogate.h"

#define CHAT_NSP "/chat"
#define CHAT_NICK_MAX 32	/* bytes of UTF-8 */
#define CHAT_ROOM_MAX 20	/* [A-Za-z0-9_-]: never a 24-byte socket id */
#define CHAT_TEXT_MAX 2000	/* bytes of UTF-8 */
#define CHAT_ROOMS_MAX 20	/* rooms one socket may be in */

/* The worker the signal handler stops (set before the handler is). */
static struct siogate_worker *chat_w;
static int chat_verbose;

/*
 * The "online" broadcast: one query at a time.  A change while a query is
 * out only marks the list stale, and the answer starts one more query, so
 * a burst of joins costs two queries, not one per join.
 */
static int chat_querying, chat_stale;

static void chat_online(struct siogate_worker *w);

/* SIGINT/SIGTERM: ask the loop to return (async-signal-safe). */
static void
chat_on_signal(int sig)
{
	(void)sig;
	siogate_worker_stop(chat_w);
}

/* Milliseconds since the epoch. */
static json_int_t
chat_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (json_int_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Serialise v compactly and free it; NULL on failure. */
static char *
chat_dump(json_t *v)
{
	char *s;

	if (v == NULL)
		return NULL;
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	return s;
}

/* Answer the event's ack, if it asked for one, with the one value v. */
static void
chat_ack(struct siogate_worker *w, const struct siogate_event *e, json_t *v)
{
	char *args;
	int rc;

	if (!e->has_ack) {
		json_decref(v);
		return;
	}
	args = chat_dump(json_pack("[o]", v));
	if (args == NULL)
		return;
	rc = siogate_ack(w, e->id, e->nsp, e->ack, args, NULL, 0);
	if (rc != SIOGATE_OK)
		fprintf(stderr, "chat_worker: ack to %s: %s\n", e->id,
		    siogate_strerror(rc));
	free(args);
}

/* Refuse an event: ack {"ok":false,"error":why}. */
static void
chat_refuse(struct siogate_worker *w, const struct siogate_event *e,
    const char *why)
{
	chat_ack(w, e, json_pack("{s:b,s:s}", "ok", 0, "error", why));
}

/* Emit ev with the one value v to rooms (NULL-terminated), but not to skip. */
static void
chat_emit(struct siogate_worker *w, const char *const *rooms,
    const char *skip, const char *ev, json_t *v)
{
	const char *except[2] = { skip, NULL };
	struct siogate_target to = { rooms, skip ? except : NULL };
	char *args;
	int rc;

	args = chat_dump(json_pack("[o]", v));
	if (args == NULL)
		return;
	rc = siogate_emit(w, CHAT_NSP, rooms ? &to : NULL, ev, args, NULL, 0);
	if (rc != SIOGATE_OK)
		fprintf(stderr, "chat_worker: emit %s: %s\n", ev,
		    siogate_strerror(rc));
	free(args);
}

/* A "notice" {room, text, ts} to the members of room. */
static void
chat_notice(struct siogate_worker *w, const char *room, const char *text)
{
	const char *rooms[2] = { room, NULL };

	chat_emit(w, rooms, NULL, "notice", json_pack("{s:s,s:s,s:I}",
	    "room", room, "text", text, "ts", chat_now_ms()));
}

/* Whether s is 1..CHAT_ROOM_MAX of [A-Za-z0-9_-]. */
static int
chat_room_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");

	return n >= 1 && n <= CHAT_ROOM_MAX && s[n] == '\0';
}

/*
 * Copy s into buf (of size n) without the leading and trailing bytes of
 * strip; -1 if the rest is empty, longer than max bytes, or (ctl nonzero)
 * holds a control character.
 */
static int
chat_clean(const char *s, const char *strip, size_t max, int ctl, char *buf,
    size_t n)
{
	size_t len, i;

	s += strspn(s, strip);
	len = strlen(s);
	while (len > 0 && strchr(strip, s[len - 1]) != NULL)
		len--;
	if (len == 0 || len > max || len >= n)
		return -1;
	for (i = 0; ctl && i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

/* Whether the event's socket is in room. */
static int
chat_in_room(const struct siogate_event *e, const char *room)
{
	size_t i;

	for (i = 0; i < e->nrooms; i++) {
		if (strcmp(e->rooms[i], room) == 0)
			return 1;
	}
	return 0;
}

/* "nick" (name): keep the name in the gateway's session data. */
static void
chat_on_nick(struct siogate_worker *w, const struct siogate_event *e,
    json_t *args, const char *old)
{
	const char *name = json_string_value(json_array_get(args, 0));
	char nick[CHAT_NICK_MAX + 1], *session, text[3 * CHAT_NICK_MAX + 64];
	size_t i;
	int rc;

	if (name == NULL || chat_clean(name, " ", CHAT_NICK_MAX, 1, nick,
	    sizeof nick) < 0) {
		chat_refuse(w, e, "nickname must be 1 to 32 bytes, "
		    "no control characters");
		return;
	}
	session = chat_dump(json_pack("{s:s}", "nick", nick));
	if (session == NULL)
		return;
	rc = siogate_set_session(w, e->id, e->nsp, session, 1);
	free(session);
	if (rc != SIOGATE_OK) {
		chat_refuse(w, e, siogate_strerror(rc));
		return;
	}
	if (old != NULL && strcmp(old, nick) != 0) {
		snprintf(text, sizeof text, "%s is now known as %s", old, nick);
		for (i = 0; i < e->nrooms; i++)
			chat_notice(w, e->rooms[i], text);
	}
	chat_ack(w, e, json_pack("{s:b,s:s}", "ok", 1, "nick", nick));
	chat_online(w);
}

/* "join" (room) and "leave" (room). */
static void
chat_on_room(struct siogate_worker *w, const struct siogate_event *e,
    json_t *args, const char *nick, int join)
{
	const char *room = json_string_value(json_array_get(args, 0));
	const char *to[2] = { e->id, NULL }, *rooms[2] = { room, NULL };
	char text[CHAT_NICK_MAX + CHAT_ROOM_MAX + 32];
	int rc;

	if (nick == NULL) {
		chat_refuse(w, e, "set a nickname first");
		return;
	}
	if (room == NULL || !chat_room_ok(room)) {
		chat_refuse(w, e, "room names are 1 to 20 letters, digits, - or _");
		return;
	}
	if (join == chat_in_room(e, room)) {	/* nothing to do */
		chat_ack(w, e, json_pack("{s:b,s:s}", "ok", 1, "room", room));
		return;
	}
	if (join && e->nrooms >= CHAT_ROOMS_MAX) {
		chat_refuse(w, e, "too many rooms (at most 20)");
		return;
	}
	rc = join ? siogate_join(w, e->nsp, to, rooms) :
	    siogate_leave(w, e->nsp, to, rooms);
	if (rc != SIOGATE_OK) {
		chat_refuse(w, e, siogate_strerror(rc));
		return;
	}
	/* Commands reach the gateway in order: the joiner gets the notice. */
	snprintf(text, sizeof text, "%s %s #%s", nick, join ? "joined" : "left",
	    room);
	chat_notice(w, room, text);
	chat_ack(w, e, json_pack("{s:b,s:s}", "ok", 1, "room", room));
	chat_online(w);
}

/* "message" ({room, text}): to the other members of the room. */
static void
chat_on_message(struct siogate_worker *w, const struct siogate_event *e,
    json_t *args, const char *nick)
{
	json_t *m = json_array_get(args, 0);
	const char *room = json_string_value(json_object_get(m, "room"));
	const char *text = json_string_value(json_object_get(m, "text"));
	const char *rooms[2] = { room, NULL };
	json_int_t ts = chat_now_ms();
	char *buf;

	if (nick == NULL) {
		chat_refuse(w, e, "set a nickname first");
		return;
	}
	if (room == NULL || text == NULL) {
		chat_refuse(w, e, "bad arguments");
		return;
	}
	if (!chat_in_room(e, room)) {
		chat_refuse(w, e, "join the room first");
		return;
	}
	if ((buf = malloc(CHAT_TEXT_MAX + 1)) == NULL)
		return;
	if (chat_clean(text, " \t\r\n", CHAT_TEXT_MAX, 0, buf,
	    CHAT_TEXT_MAX + 1) < 0) {
		free(buf);
		chat_refuse(w, e, "message must be 1 to 2000 bytes");
		return;
	}
	chat_emit(w, rooms, e->id, "message", json_pack("{s:s,s:s,s:s,s:I}",
	    "room", room, "nick", nick, "text", buf, "ts", ts));
	free(buf);
	chat_ack(w, e, json_pack("{s:b,s:I}", "ok", 1, "ts", ts));
}

/* An event of a /chat socket. */
static void
chat_event(struct siogate_worker *w, const struct siogate_event *e, void *ud)
{
	json_t *args, *session = NULL;
	const char *nick = NULL;

	(void)ud;
	if (chat_verbose)
		fprintf(stderr, "chat_worker: %s: %s %s\n", e->id, e->ev,
		    e->args);
	args = json_loads(e->args, JSON_DECODE_ANY, NULL);
	if (e->session != NULL)
		session = json_loads(e->session, 0, NULL);
	nick = json_string_value(json_object_get(session, "nick"));
	if (!json_is_array(args))
		chat_refuse(w, e, "bad arguments");
	else if (strcmp(e->ev, "nick") == 0)
		chat_on_nick(w, e, args, nick);
	else if (strcmp(e->ev, "join") == 0)
		chat_on_room(w, e, args, nick, 1);
	else if (strcmp(e->ev, "leave") == 0)
		chat_on_room(w, e, args, nick, 0);
	else if (strcmp(e->ev, "message") == 0)
		chat_on_message(w, e, args, nick);
	else
		chat_refuse(w, e, "unknown event");
	json_decref(session);
	json_decref(args);
}

/* Order of the "online" list: by nickname, then id. */
static int
chat_cmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(json_string_value(json_object_get(x, "nick")),
	    json_string_value(json_object_get(y, "nick")));

	return c ? c : strcmp(json_string_value(json_object_get(x, "id")),
	    json_string_value(json_object_get(y, "id")));
}

/*
 * The answer to the sockets query: emit "online" with everyone who has a
 * nickname, as [{id, nick, rooms}] (not their addresses).
 */
static void
chat_sockets(struct siogate_worker *w, int status, const char *result,
    void *ud)
{
	json_t *all = NULL, *list = NULL, **people = NULL, *s, *r;
	size_t i, j, n = 0;

	(void)ud;
	chat_querying = 0;
	if (status == SIOGATE_STATUS_CANCELLED)
		return;
	if (status != SIOGATE_STATUS_OK)
		fprintf(stderr, "chat_worker: sockets query: status %d\n", status);
	all = result ? json_loads(result, 0, NULL) : NULL;
	list = json_array();
	if (!json_is_array(all) || list == NULL)
		goto done;
	people = calloc(json_array_size(all) + 1, sizeof *people);
	if (people == NULL)
		goto done;
	json_array_foreach(all, i, s) {
		const char *id = json_string_value(json_object_get(s, "id"));
		const char *nick = json_string_value(json_object_get(
		    json_object_get(s, "session"), "nick"));
		json_t *p, *rooms = json_array();

		if (id == NULL || nick == NULL || rooms == NULL) {
			json_decref(rooms);
			continue;
		}
		json_array_foreach(json_object_get(s, "rooms"), j, r) {
			if (json_is_string(r) && strcmp(json_string_value(r), id) != 0)
				json_array_append(rooms, r);
		}
		p = json_pack("{s:s,s:s,s:o}", "id", id, "nick", nick,
		    "rooms", rooms);
		if (p != NULL)
			people[n++] = p;
	}
	qsort(people, n, sizeof *people, chat_cmp);
	for (i = 0; i < n; i++)
		json_array_append_new(list, people[i]);
	chat_emit(w, NULL, NULL, "online", list);
	list = NULL;
done:
	free(people);
	json_decref(list);
	json_decref(all);
	if (chat_stale) {
		chat_stale = 0;
		chat_online(w);
	}
}

/* Names or rooms changed: send everyone the new "online" list. */
static void
chat_online(struct siogate_worker *w)
{
	int rc;

	if (chat_querying) {
		chat_stale = 1;
		return;
	}
	rc = siogate_query(w, CHAT_NSP, "sockets", NULL, 5000, chat_sockets,
	    NULL);
	if (rc == SIOGATE_OK)
		chat_querying = 1;
	else
		fprintf(stderr, "chat_worker: sockets query: %s\n",
		    siogate_strerror(rc));
}

/* A client joined /chat (an open namespace: nothing to answer). */
static void
chat_connect(struct siogate_worker *w, const struct siogate_connect *c,
    void *ud)
{
	(void)w;
	(void)ud;
	if (chat_verbose)
		fprintf(stderr, "chat_worker: %s connected from %s\n", c->id,
		    c->hs->addr);
}

/* A socket is gone: its rooms and name went with it. */
static void
chat_disconnect(struct siogate_worker *w, const char *id, const char *nsp,
    const char *reason, void *ud)
{
	(void)nsp;
	(void)ud;
	if (chat_verbose)
		fprintf(stderr, "chat_worker: %s disconnected (%s)\n", id,
		    reason);
	chat_online(w);
}

/* Registered: the line the tests wait for. */
static void
chat_welcome(struct siogate_worker *w, const char *gateway_id, void *ud)
{
	(void)w;
	(void)ud;
	fprintf(stderr, "chat_worker: registered with gateway %s\n",
	    gateway_id);
}

/* An ERROR from the gateway (a socket that left meanwhile, say). */
static void
chat_error(struct siogate_worker *w, int code, const char *text,
    const char *sid, void *ud)
{
	(void)w;
	(void)ud;
	if (chat_verbose || code != SIOGATE_BR_UNKNOWN_SID)
		fprintf(stderr, "chat_worker: gateway error %d: %s%s%s\n",
		    code, text, sid ? " sid " : "", sid ? sid : "");
}

/* Print usage and exit 2. */
static void
chat_usage(void)
{
	fprintf(stderr, "usage: chat_worker [-v] [-e endpoint] [-n name]\n");
	exit(2);
}

/* Parse options, register, serve /chat until SIGINT/SIGTERM. */
int
main(int argc, char **argv)
{
	static const struct siogate_callbacks cb = {
		.welcome = chat_welcome,
		.error = chat_error,
		.sio_connect = chat_connect,
		.sio_event = chat_event,
		.sio_disconnect = chat_disconnect,
	};
	struct sigaction sa;
	const char *endpoint = NULL, *name = "chat";
	int c, rc;

	while ((c = getopt(argc, argv, "e:n:vh")) != -1) {
		switch (c) {
		case 'e':
			endpoint = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'v':
			chat_verbose = 1;
			break;
		default:
			chat_usage();
		}
	}
	if (optind != argc)
		chat_usage();
	if ((rc = siogate_worker_new(&chat_w, &cb, NULL)) != SIOGATE_OK)
		goto fail;
	if ((rc = siogate_worker_set_name(chat_w, name)) != SIOGATE_OK)
		goto fail;
	/* Open: the gateway accepts every client without asking us. */
	if ((rc = siogate_worker_serve_nsp(chat_w, CHAT_NSP, 1)) != SIOGATE_OK)
		goto fail;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = chat_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if ((rc = siogate_worker_connect(chat_w, endpoint)) != SIOGATE_OK)
		goto fail;
	rc = siogate_worker_run(chat_w);
	siogate_worker_free(chat_w);
	if (rc != SIOGATE_OK) {
		fprintf(stderr, "chat_worker: %s\n", siogate_strerror(rc));
		return 1;
	}
	return 0;
fail:
	fprintf(stderr, "chat_worker: %s\n", siogate_strerror(rc));
	siogate_worker_free(chat_w);
	return 1;
}
