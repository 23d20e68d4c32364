/*
 * sdk_test.c: libsiogate's Socket.IO API (sdk/siogate.h) against
 * two fake gateways: ZeroMQ ROUTER sockets in this process that speak the
 * bridge protocol with the real codec.  Checks what the SDK sends for
 * every call, what callbacks it makes for every gateway message, the
 * routing between gateways, and that every awaited answer ends exactly
 * once (answered, timed out, gateway lost, worker freed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "br_proto.h"
#include "siogate.h"
#include "tap.h"

#define WAIT_MS 3000

/* A fake gateway. */
struct fgw {
	void *sock;		/* ROUTER */
	char ep[96];
	const char *gwid;
	unsigned char rid[256];	/* the worker's routing id */
	size_t rid_len;
	int64_t last_hb;
};

static void *zctx;
static struct fgw gws[2];
static struct siogate_worker *w;

/* Milliseconds of the monotonic clock. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send the encoded message to the worker through f. */
static void
fgw_send(struct fgw *f, struct br_enc *e)
{
	zmq_send(f->sock, f->rid, f->rid_len, ZMQ_SNDMORE);
	zmq_send(f->sock, e->sb.data, e->sb.size, 0);
	br_enc_free(e);
}

/* Keep the worker's view of f alive: heartbeat every 100 ms. */
static void
fgw_tick(struct fgw *f)
{
	struct br_enc e;

	if (f->rid_len == 0 || now_ms() - f->last_hb < 100)
		return;
	f->last_hb = now_ms();
	br_enc_init(&e, BR_T_HEARTBEAT, 0);
	fgw_send(f, &e);
}

/*
 * Receive one message from the worker on f within ms, running the worker
 * meanwhile.  HELLO is answered WELCOME; HEARTBEAT and CREDIT are skipped
 * unless asked for.  0 with *m decoded (type `type`, or any when 0), -1.
 */
static int
fgw_recv(struct fgw *f, struct br_msg *m, int type, int ms)
{
	int64_t end = now_ms() + ms;
	zmq_pollitem_t pi = { f->sock, 0, ZMQ_POLLIN, 0 };
	unsigned char rid[256];
	char buf[65536];
	const char *why;
	struct br_enc e;
	int n, k, code, i;

	memset(m, 0, sizeof *m);
	while (now_ms() < end) {
		siogate_worker_process(w);
		for (i = 0; i < 2; i++)
			fgw_tick(&gws[i]);
		if (zmq_poll(&pi, 1, 5) <= 0)
			continue;
		if ((k = zmq_recv(f->sock, rid, sizeof rid, 0)) < 0)
			continue;
		n = zmq_recv(f->sock, buf, sizeof buf, 0);
		if (n < 0 || n > (int)sizeof buf)
			continue;
		if (br_msg_decode(m, buf, (size_t)n, &code, &why) != 0) {
			printf("# fake %s: undecodable message: %s\n",
			    f->gwid, why);
			br_msg_free(m);
			continue;
		}
		if (m->type == BR_T_HELLO) {
			memcpy(f->rid, rid, (size_t)k);
			f->rid_len = (size_t)k;
			if (type == BR_T_HELLO)
				return 0;
			br_enc_init(&e, BR_T_WELCOME, 3);
			br_enc_cstr(&e, "gw", f->gwid);
			br_enc_uint(&e, "wid", 1);
			br_enc_uint(&e, "hb", 100);
			fgw_send(f, &e);
			br_msg_free(m);
			continue;
		}
		if (m->type == type || (type == 0 && m->type !=
		    BR_T_HEARTBEAT && m->type != BR_T_CREDIT))
			return 0;
		br_msg_free(m);
	}
	return -1;
}

/* Nothing but heartbeats/credit arrives on f within ms. */
static int
fgw_quiet(struct fgw *f, int ms)
{
	struct br_msg m;

	if (fgw_recv(f, &m, 0, ms) == 0) {
		printf("# unexpected %s on %s\n", br_type_name(m.type),
		    f->gwid);
		br_msg_free(&m);
		return 0;
	}
	return 1;
}

/* Run the worker (and heartbeats) for ms or until *flag is set. */
static void
pump(int ms, const int *flag)
{
	int64_t end = now_ms() + ms;
	zmq_msg_t msg;
	int i;

	while (now_ms() < end && (flag == NULL || !*flag)) {
		siogate_worker_process(w);
		for (i = 0; i < 2; i++) {
			fgw_tick(&gws[i]);
			/* Drop what comes meanwhile (heartbeats, credit). */
			zmq_msg_init(&msg);
			while (zmq_msg_recv(&msg, gws[i].sock,
			    ZMQ_DONTWAIT) >= 0)
				;
			zmq_msg_close(&msg);
		}
		usleep(2000);
	}
}

/* Nonzero when slice s equals c. */
static int
str_is(const struct br_str *s, const char *c)
{
	return s->n == strlen(c) && memcmp(s->p, c, s->n) == 0;
}

/* Nonzero when key of m is the str c. */
static int
mstr(const struct br_msg *m, const char *key, const char *c)
{
	struct br_str s;

	return br_msg_str(m, key, &s) == 0 && str_is(&s, c);
}

/* Nonzero when o is an array of the given strs (NULL-terminated). */
static int
strarr_is(const msgpack_object *o, const char *const *want)
{
	struct br_str s;
	uint32_t i;

	if (o == NULL || o->type != MSGPACK_OBJECT_ARRAY)
		return 0;
	for (i = 0; want[i] != NULL; i++)
		if (i >= o->via.array.size ||
		    br_obj_str(&o->via.array.ptr[i], &s) != 0 ||
		    !str_is(&s, want[i]))
			return 0;
	return o->via.array.size == i;
}

/* Socket ids of the fake gateways: gwid + 20 chars. */
#define ID1 "GW01aaaaaaaaaaaaaaaaaaaa"
#define ID1B "GW01bbbbbbbbbbbbbbbbbbbb"
#define ID2 "GW02aaaaaaaaaaaaaaaaaaaa"

/* What the callbacks saw. */
static struct {
	int connects, events, disconnects, errors;
	char id[64], nsp[64], auth[256], args[512], session[256];
	char ev[64], reason[64], rooms[128], addr[64];
	int reply, has_ack, session_null;
	uint64_t ack;
	size_t nbins;
	char bin0[16], bin1[16];
	int err_code;
	char err_sid[64];
	int accept_now;		/* sio_connect: accept from the callback */
	int echo;		/* sio_event: ack with the event's own args */
	int echo_rc;		/* what that siogate_ack() returned */
} seen;

/* Results of ack and query callbacks. */
struct answer {
	int calls, status;
	char id[64];
	char json[512];
	size_t nbins;
	char bin0[16];
	int call_rc;		/* rc of an API call made from the callback */
	char nsp[64];		/* siogate_emit_ack_nsp() */
};

static void
cb_connect(struct siogate_worker *wk, const struct siogate_connect *c,
    void *ud)
{
	static const char *const rooms[] = { "r1", "r2", NULL };

	(void)ud;
	seen.connects++;
	snprintf(seen.id, sizeof seen.id, "%s", c->id);
	snprintf(seen.nsp, sizeof seen.nsp, "%s", c->nsp);
	snprintf(seen.auth, sizeof seen.auth, "%s", c->auth);
	snprintf(seen.addr, sizeof seen.addr, "%s", c->hs->addr);
	seen.reply = c->reply;
	seen.nbins = c->nbins;
	if (seen.accept_now)
		siogate_accept(wk, c->id, "{\"user\":\"ann\",\"n\":1}", rooms);
}

static void
cb_event(struct siogate_worker *wk, const struct siogate_event *e, void *ud)
{
	size_t i;

	(void)ud;
	seen.events++;
	snprintf(seen.id, sizeof seen.id, "%s", e->id);
	snprintf(seen.nsp, sizeof seen.nsp, "%s", e->nsp);
	snprintf(seen.ev, sizeof seen.ev, "%s", e->ev);
	snprintf(seen.args, sizeof seen.args, "%s", e->args);
	seen.session_null = e->session == NULL;
	snprintf(seen.session, sizeof seen.session, "%s",
	    e->session ? e->session : "");
	seen.has_ack = e->has_ack;
	seen.ack = e->ack;
	seen.nbins = e->nbins;
	seen.rooms[0] = '\0';
	for (i = 0; i < e->nrooms; i++) {
		strcat(seen.rooms, e->rooms[i]);
		strcat(seen.rooms, ";");
	}
	if (e->rooms[e->nrooms] != NULL)
		strcat(seen.rooms, "NOT-TERMINATED");
	seen.bin0[0] = seen.bin1[0] = '\0';
	if (e->nbins > 0)
		snprintf(seen.bin0, sizeof seen.bin0, "%.*s",
		    (int)e->bins[0].len, (const char *)e->bins[0].p);
	if (e->nbins > 1)
		snprintf(seen.bin1, sizeof seen.bin1, "%.*s",
		    (int)e->bins[1].len, (const char *)e->bins[1].p);
	if (seen.echo && e->has_ack)
		seen.echo_rc = siogate_ack(wk, e->id, e->nsp, e->ack, e->args,
		    e->bins, e->nbins);
}

static void
cb_disconnect(struct siogate_worker *wk, const char *id, const char *nsp,
    const char *reason, void *ud)
{
	(void)wk;
	(void)ud;
	seen.disconnects++;
	snprintf(seen.id, sizeof seen.id, "%s", id);
	snprintf(seen.nsp, sizeof seen.nsp, "%s", nsp);
	snprintf(seen.reason, sizeof seen.reason, "%s", reason);
}

static void
cb_error(struct siogate_worker *wk, int code, const char *text,
    const char *sid, void *ud)
{
	(void)wk;
	(void)text;
	(void)ud;
	seen.errors++;
	seen.err_code = code;
	snprintf(seen.err_sid, sizeof seen.err_sid, "%s", sid ? sid : "");
}

static void
on_ack(struct siogate_worker *wk, const char *id, int status,
    const char *args, const struct siogate_bin *bins, size_t nbins, void *ud)
{
	struct answer *a = ud;

	a->calls++;
	a->status = status;
	snprintf(a->id, sizeof a->id, "%s", id);
	snprintf(a->json, sizeof a->json, "%s", args ? args : "(null)");
	a->nbins = nbins;
	a->bin0[0] = '\0';
	if (nbins > 0)
		snprintf(a->bin0, sizeof a->bin0, "%.*s", (int)bins[0].len,
		    (const char *)bins[0].p);
	if (status == SIOGATE_STATUS_CANCELLED)
		a->call_rc = siogate_emit(wk, "/", NULL, "x", NULL, NULL, 0);
}

/* The siogate_emit_ack_nsp() callback: on_ack, plus the namespace. */
static void
on_ack_nsp(struct siogate_worker *wk, const char *id, const char *nsp,
    int status, const char *args, const struct siogate_bin *bins, size_t nbins,
    void *ud)
{
	struct answer *a = ud;

	snprintf(a->nsp, sizeof a->nsp, "%s", nsp ? nsp : "(null)");
	on_ack(wk, id, status, args, bins, nbins, ud);
}

static void
on_query(struct siogate_worker *wk, int status, const char *result, void *ud)
{
	struct answer *a = ud;

	(void)wk;
	a->calls++;
	a->status = status;
	snprintf(a->json, sizeof a->json, "%s", result ? result : "(null)");
}

/* Register the worker with both fake gateways. */
static void
test_register(void)
{
	static const char *const nsp[] = { "/", "/chat", "/dyn-*", NULL };
	static const char *const open[] = { "/chat", NULL };
	struct br_msg m;
	int i, ok = 1;

	tap_ok(siogate_worker_serve_nsp(w, "chat", 0) == SIOGATE_ERR_INVALID &&
	    siogate_worker_serve_nsp(w, NULL, 0) == SIOGATE_ERR_INVALID &&
	    siogate_worker_serve_nsp(NULL, "/", 0) == SIOGATE_ERR_INVALID,
	    "serve_nsp refuses names not starting with /");
	tap_ok(siogate_worker_serve_nsp(w, "/", 0) == SIOGATE_OK &&
	    siogate_worker_serve_nsp(w, "/chat", 0) == SIOGATE_OK &&
	    siogate_worker_serve_nsp(w, "/dyn-*", 0) == SIOGATE_OK &&
	    siogate_worker_serve_nsp(w, "/chat", 1) == SIOGATE_OK,
	    "serve_nsp: names, patterns, again to change open");
	siogate_worker_set_heartbeat(w, 100);
	siogate_worker_set_credit(w, 4);
	for (i = 0; i < 2; i++)
		if (siogate_worker_connect(w, gws[i].ep) != SIOGATE_OK)
			ok = 0;
	tap_ok(ok, "connect to two gateways");
	tap_ok(siogate_worker_serve_nsp(w, "/late", 0) == SIOGATE_ERR_STATE,
	    "serve_nsp after connect: STATE");
	if (fgw_recv(&gws[0], &m, BR_T_HELLO, WAIT_MS) == 0) {
		tap_ok(strarr_is(br_msg_get(&m, "nsp"), nsp) &&
		    strarr_is(br_msg_get(&m, "nsp_open"), open),
		    "HELLO carries nsp and nsp_open");
		br_msg_free(&m);
	} else
		tap_ok(0, "HELLO carries nsp and nsp_open (no HELLO)");
	/* Let both register (HELLO answered by fgw_recv). */
	for (i = 0; i < 2; i++)
		fgw_quiet(&gws[i], 300);
	tap_ok(gws[0].rid_len > 0 && gws[1].rid_len > 0,
	    "both gateways saw HELLO");
}

/* SIO_CONNECT and the accept/reject answers. */
static void
test_connect(void)
{
	struct br_enc e;
	struct br_msg m;
	const msgpack_object *o;
	static const char *const r12[] = { "r1", "r2", NULL };

	/* With auth, accepted from inside the callback. */
	seen.accept_now = 1;
	br_enc_init(&e, BR_T_SIO_CONNECT, 7);
	br_enc_cstr(&e, "sid", "GW01ssssssssssssssssssss");
	br_enc_cstr(&e, "id", ID1);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_uint(&e, "seq", 0);
	br_enc_map(&e, "auth", 2);
	br_enc_item_str(&e, "token", 5);
	br_enc_item_str(&e, "abc", 3);
	br_enc_item_str(&e, "n", 1);
	msgpack_pack_double(&e.pk, 1.5);
	br_enc_key(&e, "reply");
	msgpack_pack_true(&e.pk);
	br_enc_map(&e, "hs", 1);
	br_enc_cstr(&e, "addr", "10.0.0.1:5");
	fgw_send(&gws[0], &e);
	if (fgw_recv(&gws[0], &m, BR_T_SIO_ACCEPT, WAIT_MS) == 0) {
		o = br_msg_get(&m, "session");
		tap_ok(mstr(&m, "id", ID1) && o != NULL &&
		    o->type == MSGPACK_OBJECT_MAP && o->via.map.size == 2 &&
		    br_map_get(o, "n")->type ==
		    MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    strarr_is(br_msg_get(&m, "rooms"), r12),
		    "accept from the callback: SIO_ACCEPT id, session, rooms");
		br_msg_free(&m);
	} else
		tap_ok(0, "accept from the callback: no SIO_ACCEPT");
	tap_ok(seen.connects == 1 && strcmp(seen.id, ID1) == 0 &&
	    strcmp(seen.nsp, "/") == 0 && seen.reply == 1 &&
	    strcmp(seen.auth, "{\"token\":\"abc\",\"n\":1.5}") == 0 &&
	    strcmp(seen.addr, "10.0.0.1:5") == 0 && seen.nbins == 0,
	    "sio_connect: id, nsp, auth JSON, reply, handshake (%s)",
	    seen.auth);

	/* Without auth, not open: rejected later, outside the callback. */
	seen.accept_now = 0;
	br_enc_init(&e, BR_T_SIO_CONNECT, 6);
	br_enc_cstr(&e, "sid", "GW01ssssssssssssssssssss");
	br_enc_cstr(&e, "id", ID1B);
	br_enc_cstr(&e, "nsp", "/chat");
	br_enc_uint(&e, "seq", 0);
	br_enc_key(&e, "reply");
	msgpack_pack_false(&e.pk);
	br_enc_map(&e, "hs", 0);
	fgw_send(&gws[0], &e);
	pump(WAIT_MS, &seen.connects);
	seen.connects = 0;
	pump(300, NULL);
	tap_ok(strcmp(seen.auth, "null") == 0 && seen.reply == 0 &&
	    strcmp(seen.nsp, "/chat") == 0,
	    "sio_connect without auth: auth \"null\", reply 0");
	tap_ok(siogate_reject(w, ID1B, "{\"message\":\"no\",\"data\":[1]}") ==
	    SIOGATE_OK, "reject later: OK");
	if (fgw_recv(&gws[0], &m, BR_T_SIO_REJECT, WAIT_MS) == 0) {
		o = br_msg_get(&m, "data");
		tap_ok(mstr(&m, "id", ID1B) && o != NULL &&
		    o->type == MSGPACK_OBJECT_MAP && o->via.map.size == 2,
		    "SIO_REJECT id, data");
		br_msg_free(&m);
	} else
		tap_ok(0, "SIO_REJECT (none)");
	tap_ok(siogate_reject(w, ID1B, NULL) == SIOGATE_OK &&
	    fgw_recv(&gws[0], &m, BR_T_SIO_REJECT, WAIT_MS) == 0 &&
	    br_msg_get(&m, "data") == NULL, "reject without data: no data key");
	br_msg_free(&m);
	tap_ok(siogate_reject(w, ID1B, "\"just a string\"") == SIOGATE_OK &&
	    fgw_recv(&gws[0], &m, BR_T_SIO_REJECT, WAIT_MS) == 0 &&
	    mstr(&m, "data", "just a string"), "reject with a JSON string");
	br_msg_free(&m);
	tap_ok(siogate_accept(w, ID1, "[1]", NULL) == SIOGATE_ERR_JSON &&
	    siogate_accept(w, ID1, "{bad", NULL) == SIOGATE_ERR_JSON &&
	    siogate_reject(w, ID1, "nope") == SIOGATE_ERR_JSON,
	    "accept session not an object, bad JSON: JSON");
	tap_ok(siogate_accept(w, "XXXXaaaaaaaaaaaaaaaaaaaa", NULL, NULL) ==
	    SIOGATE_ERR_NOGATEWAY && siogate_accept(w, NULL, NULL, NULL) ==
	    SIOGATE_ERR_INVALID, "accept: unknown gateway, NULL id");
	tap_ok(siogate_accept(w, ID2, NULL, NULL) == SIOGATE_OK &&
	    fgw_recv(&gws[1], &m, BR_T_SIO_ACCEPT, WAIT_MS) == 0 &&
	    mstr(&m, "id", ID2) && br_msg_get(&m, "session") == NULL &&
	    br_msg_get(&m, "rooms") == NULL,
	    "accept of a GW02 socket goes to GW02, minimal");
	br_msg_free(&m);
	tap_ok(fgw_quiet(&gws[0], 100), "... and not to GW01");
}

/* SIO_EVENT in, SIO_ACK out. */
static void
test_event(void)
{
	static const struct siogate_bin b[2] = { { "B0", 2 }, { "", 0 } };
	struct br_enc e;
	struct br_msg m;
	const msgpack_object *a;
	int i;

	memset(&seen, 0, sizeof seen);
	br_enc_init(&e, BR_T_SIO_EVENT, 8);
	br_enc_cstr(&e, "id", ID1);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_uint(&e, "seq", 1);
	br_enc_cstr(&e, "ev", "msg");
	br_enc_array(&e, "args", 3);
	br_enc_item_str(&e, "hi\n\"", 4);
	msgpack_pack_bin_with_body(&e.pk, "xyz", 3);
	msgpack_pack_map(&e.pk, 1);
	br_enc_item_str(&e, "a", 1);
	msgpack_pack_array(&e.pk, 2);
	msgpack_pack_bin_with_body(&e.pk, "Q", 1);
	msgpack_pack_int64(&e.pk, -7);
	br_enc_uint(&e, "ack", 0);
	br_enc_map(&e, "session", 1);
	br_enc_item_str(&e, "user", 4);
	br_enc_item_str(&e, "ann", 3);
	br_enc_array(&e, "rooms", 2);
	br_enc_item_str(&e, "r1", 2);
	br_enc_item_str(&e, "r2", 2);
	fgw_send(&gws[0], &e);
	pump(WAIT_MS, &seen.events);
	tap_ok(seen.events == 1 && strcmp(seen.ev, "msg") == 0 &&
	    strcmp(seen.id, ID1) == 0 && strcmp(seen.nsp, "/") == 0,
	    "sio_event: id, nsp, ev");
	tap_ok(strcmp(seen.args, "[\"hi\\n\\\"\",{\"_placeholder\":true,"
	    "\"num\":0},{\"a\":[{\"_placeholder\":true,\"num\":1},-7]}]") == 0,
	    "sio_event: args JSON with placeholders (%s)", seen.args);
	tap_ok(seen.nbins == 2 && strcmp(seen.bin0, "xyz") == 0 &&
	    strcmp(seen.bin1, "Q") == 0, "sio_event: bins in order");
	tap_ok(seen.has_ack && seen.ack == 0, "sio_event: ack id 0 is an ack");
	tap_ok(strcmp(seen.session, "{\"user\":\"ann\"}") == 0 &&
	    strcmp(seen.rooms, "r1;r2;") == 0,
	    "sio_event: session JSON, rooms NULL-terminated");

	/* No ack, session holding a bin (not JSON): session NULL. */
	seen.events = 0;
	br_enc_init(&e, BR_T_SIO_EVENT, 7);
	br_enc_cstr(&e, "id", ID1);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_uint(&e, "seq", 2);
	br_enc_cstr(&e, "ev", "e2");
	br_enc_array(&e, "args", 0);
	br_enc_map(&e, "session", 1);
	br_enc_item_str(&e, "b", 1);
	msgpack_pack_bin_with_body(&e.pk, "x", 1);
	br_enc_array(&e, "rooms", 0);
	fgw_send(&gws[0], &e);
	pump(WAIT_MS, &seen.events);
	tap_ok(seen.events == 1 && !seen.has_ack && seen.session_null &&
	    strcmp(seen.args, "[]") == 0 && seen.nbins == 0 &&
	    seen.rooms[0] == '\0', "sio_event: no ack, binary session NULL");

	/* The answer. */
	tap_ok(siogate_ack(w, ID1, NULL, 0, "[\"ok\",{\"_placeholder\":true,"
	    "\"num\":1},{\"_placeholder\":true,\"num\":0}]", b, 2) ==
	    SIOGATE_OK, "siogate_ack: OK");
	if (fgw_recv(&gws[0], &m, BR_T_SIO_ACK, WAIT_MS) == 0) {
		a = br_msg_get(&m, "args");
		tap_ok(mstr(&m, "id", ID1) && mstr(&m, "nsp", "/") &&
		    br_msg_get(&m, "ack")->via.u64 == 0 && a->via.array.size ==
		    3 && a->via.array.ptr[1].type == MSGPACK_OBJECT_BIN &&
		    a->via.array.ptr[1].via.bin.size == 0 &&
		    a->via.array.ptr[2].type == MSGPACK_OBJECT_BIN &&
		    a->via.array.ptr[2].via.bin.size == 2,
		    "SIO_ACK: id, nsp, ack, args with bins in place");
		br_msg_free(&m);
	} else
		tap_ok(0, "SIO_ACK (none)");
	tap_ok(siogate_ack(w, ID1, "/", 5, NULL, NULL, 0) == SIOGATE_OK &&
	    fgw_recv(&gws[0], &m, BR_T_SIO_ACK, WAIT_MS) == 0 &&
	    br_msg_get(&m, "args")->via.array.size == 0,
	    "siogate_ack with NULL args sends []");
	br_msg_free(&m);
	tap_ok(siogate_ack(w, ID1, "/", 1, "{}", NULL, 0) == SIOGATE_ERR_JSON &&
	    siogate_ack(w, ID1, "/", 1, "[{\"_placeholder\":true,\"num\":0}]",
	    NULL, 0) == SIOGATE_ERR_JSON &&
	    siogate_ack(w, ID1, "/", 1, "[{\"_placeholder\":true,\"num\":2}]",
	    b, 2) == SIOGATE_ERR_JSON && siogate_ack(w, ID1, "nsp", 1, NULL,
	    NULL, 0) == SIOGATE_ERR_INVALID && siogate_ack(w, ID1, "/", 1,
	    NULL, NULL, 1) == SIOGATE_ERR_INVALID,
	    "siogate_ack: args not an array, bad placeholders, bad nsp, bins");

	/* Credit comes back for the events (credit 4: half is 2). */
	for (i = 0; i < 2; i++) {
		br_enc_init(&e, BR_T_SIO_DISCONNECT, 4);
		br_enc_cstr(&e, "id", ID1B);
		br_enc_cstr(&e, "nsp", "/chat");
		br_enc_uint(&e, "seq", 3);
		br_enc_cstr(&e, "reason", "transport close");
		fgw_send(&gws[0], &e);
	}
	tap_ok(fgw_recv(&gws[0], &m, BR_T_CREDIT, WAIT_MS) == 0,
	    "SIO events use credit: CREDIT comes back");
	br_msg_free(&m);
	for (i = 0; i < 60 && seen.disconnects < 2; i++)
		pump(50, NULL);
	tap_ok(seen.disconnects == 2 && strcmp(seen.id, ID1B) == 0 &&
	    strcmp(seen.nsp, "/chat") == 0 &&
	    strcmp(seen.reason, "transport close") == 0,
	    "sio_disconnect: id, nsp, reason");

	/* A malformed SIO_EVENT: ERROR back, no callback. */
	seen.events = 0;
	br_enc_init(&e, BR_T_SIO_EVENT, 2);
	br_enc_cstr(&e, "id", ID1);
	br_enc_cstr(&e, "nsp", "/");
	fgw_send(&gws[0], &e);
	tap_ok(fgw_recv(&gws[0], &m, BR_T_ERROR, WAIT_MS) == 0 &&
	    br_msg_get(&m, "ref")->via.u64 == BR_T_SIO_EVENT &&
	    seen.events == 0, "malformed SIO_EVENT: ERROR with ref, no callback");
	br_msg_free(&m);
}

/* SIO_EMIT: targets, except, bins, errors, routing. */
static void
test_emit(void)
{
	static const char *const rooms[] = { "lobby", "GW02aaaaaaaaaaaaaaaaaaaa",
	    NULL };
	static const char *const ids[] = { ID1, ID2, ID1B, NULL };
	static const char *const ex[] = { ID1B, NULL };
	static const char *const w1[] = { ID1, ID1B, NULL };
	static const char *const w2[] = { ID2, NULL };
	static const struct siogate_bin b[1] = { { "\0\1\2", 3 } };
	struct siogate_target t = { rooms, ex };
	struct siogate_bin many[SIOGATE_MAX_BINS + 1];
	struct br_msg m;
	const msgpack_object *a;
	char deep[256];
	int i, ok;

	tap_ok(siogate_emit(w, NULL, NULL, "news", "[1,\"two\",null]", NULL,
	    0) == SIOGATE_OK, "emit to the whole namespace: OK");
	ok = 1;
	for (i = 0; i < 2; i++) {
		if (fgw_recv(&gws[i], &m, BR_T_SIO_EMIT, WAIT_MS) != 0) {
			ok = 0;
			continue;
		}
		a = br_msg_get(&m, "args");
		if (!mstr(&m, "nsp", "/") || !mstr(&m, "ev", "news") ||
		    br_msg_get(&m, "to") != NULL ||
		    br_msg_get(&m, "except") != NULL ||
		    br_msg_get(&m, "req") != NULL || a->via.array.size != 3)
			ok = 0;
		br_msg_free(&m);
	}
	tap_ok(ok, "... every gateway gets SIO_EMIT nsp, ev, args, no to");

	tap_ok(siogate_emit(w, "/chat", &t, "n", "[{\"_placeholder\":true,"
	    "\"num\":0}]", b, 1) == SIOGATE_OK, "emit to rooms with except");
	ok = 1;
	for (i = 0; i < 2; i++) {
		if (fgw_recv(&gws[i], &m, BR_T_SIO_EMIT, WAIT_MS) != 0) {
			ok = 0;
			continue;
		}
		a = br_msg_get(&m, "args");
		if (!mstr(&m, "nsp", "/chat") ||
		    !strarr_is(br_msg_get(&m, "to"), rooms) ||
		    !strarr_is(br_msg_get(&m, "except"), ex) ||
		    a->via.array.ptr[0].type != MSGPACK_OBJECT_BIN ||
		    a->via.array.ptr[0].via.bin.size != 3)
			ok = 0;
		br_msg_free(&m);
	}
	tap_ok(ok, "... rooms may span gateways: both get the full lists");

	t.to = NULL;
	t.except = NULL;
	tap_ok(siogate_emit_volatile(w, "/", &t, "v", NULL, NULL, 0) ==
	    SIOGATE_OK &&
	    fgw_recv(&gws[0], &m, BR_T_SIO_EMIT, WAIT_MS) == 0 &&
	    (a = br_msg_get(&m, "volatile")) != NULL && a->via.boolean &&
	    br_msg_get(&m, "to") == NULL, "volatile emit: volatile true");
	br_msg_free(&m);
	tap_ok(fgw_recv(&gws[1], &m, BR_T_SIO_EMIT, WAIT_MS) == 0 &&
	    br_msg_get(&m, "volatile") != NULL, "... on every gateway");
	br_msg_free(&m);
	t.to = ids;
	tap_ok(siogate_emit(w, "/", &t, "n", NULL, NULL, 0) == SIOGATE_OK,
	    "emit to socket ids of two gateways");
	tap_ok(fgw_recv(&gws[0], &m, BR_T_SIO_EMIT, WAIT_MS) == 0 &&
	    strarr_is(br_msg_get(&m, "to"), w1), "... GW01 gets its ids only");
	br_msg_free(&m);
	tap_ok(fgw_recv(&gws[1], &m, BR_T_SIO_EMIT, WAIT_MS) == 0 &&
	    strarr_is(br_msg_get(&m, "to"), w2), "... GW02 gets its id only");
	br_msg_free(&m);

	tap_ok(siogate_emit(w, "/", NULL, "e", "{}", NULL, 0) ==
	    SIOGATE_ERR_JSON && siogate_emit(w, "/", NULL, "e", "[1,", NULL,
	    0) == SIOGATE_ERR_JSON && siogate_emit(w, "/", NULL, "e",
	    "[{\"_placeholder\":true,\"num\":1}]", b, 1) == SIOGATE_ERR_JSON,
	    "emit: args not an array, bad JSON, bad placeholder: JSON");
	tap_ok(siogate_emit(w, "chat", NULL, "e", NULL, NULL, 0) ==
	    SIOGATE_ERR_INVALID && siogate_emit(w, "/", NULL, NULL, NULL,
	    NULL, 0) == SIOGATE_ERR_INVALID && siogate_emit(NULL, "/", NULL,
	    "e", NULL, NULL, 0) == SIOGATE_ERR_INVALID,
	    "emit: bad nsp, no ev, no worker: INVALID");
	for (i = 0; i <= SIOGATE_MAX_BINS; i++) {
		many[i].p = "x";
		many[i].len = 1;
	}
	tap_ok(siogate_emit(w, "/", NULL, "e", NULL, many,
	    SIOGATE_MAX_BINS + 1) == SIOGATE_ERR_INVALID,
	    "emit: more than SIOGATE_MAX_BINS bins: INVALID");

	/* Depth: the args array plus 29 levels is the most. */
	for (i = 0; i < 30; i++)
		deep[i] = '[';
	for (i = 30; i < 60; i++)
		deep[i] = ']';
	deep[60] = '\0';
	tap_ok(siogate_emit(w, "/", NULL, "e", deep, NULL, 0) == SIOGATE_OK,
	    "emit: 30 levels of nesting pass");
	ok = fgw_recv(&gws[0], &m, BR_T_SIO_EMIT, WAIT_MS) == 0;
	br_msg_free(&m);
	ok = ok && fgw_recv(&gws[1], &m, BR_T_SIO_EMIT, WAIT_MS) == 0;
	br_msg_free(&m);
	tap_ok(ok, "... and decode at the gateways");
	memmove(deep + 1, deep, 61);
	deep[0] = '[';
	deep[61] = ']';
	deep[62] = '\0';
	tap_ok(siogate_emit(w, "/", NULL, "e", deep, NULL, 0) ==
	    SIOGATE_ERR_JSON, "emit: 31 levels: JSON");
}

/* emit_ack and every way an ack wait ends. */
static void
test_emit_ack(void)
{
	struct answer a1 = { 0 }, a2 = { 0 }, a3 = { 0 }, a4 = { 0 },
	    a5 = { 0 }, a6 = { 0 };
	static const char *const one[] = { ID1, NULL };
	struct br_msg m;
	struct br_enc e;
	uint64_t req = 0, r2 = 0, r3 = 0;
	int64_t t0;

	tap_ok(siogate_emit_ack(w, "/", ID1, "ping", "[1]", NULL, 0, 5000,
	    on_ack, &a1) == SIOGATE_OK, "emit_ack: OK");
	if (fgw_recv(&gws[0], &m, BR_T_SIO_EMIT, WAIT_MS) == 0) {
		req = br_msg_get(&m, "req")->via.u64;
		tap_ok(strarr_is(br_msg_get(&m, "to"), one) && req > 0 &&
		    br_msg_get(&m, "timeout")->via.u64 == 5000 &&
		    mstr(&m, "ev", "ping"), "SIO_EMIT with to [id], req, timeout");
		br_msg_free(&m);
	} else
		tap_ok(0, "SIO_EMIT with req (none)");
	tap_ok(fgw_quiet(&gws[1], 50), "... only to the socket's gateway");
	br_enc_init(&e, BR_T_SIO_CLIENT_ACK, 4);
	br_enc_cstr(&e, "id", ID1);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_uint(&e, "req", req);
	br_enc_array(&e, "args", 2);
	br_enc_item_str(&e, "pong", 4);
	msgpack_pack_bin_with_body(&e.pk, "BB", 2);
	fgw_send(&gws[0], &e);
	pump(WAIT_MS, &a1.calls);
	tap_ok(a1.calls == 1 && a1.status == SIOGATE_STATUS_OK &&
	    strcmp(a1.id, ID1) == 0 && strcmp(a1.json,
	    "[\"pong\",{\"_placeholder\":true,\"num\":0}]") == 0 &&
	    a1.nbins == 1 && strcmp(a1.bin0, "BB") == 0,
	    "client ack: callback OK with args JSON and bins (%s)", a1.json);
	/* A second answer for the same req is ignored. */
	br_enc_init(&e, BR_T_SIO_ACK_TIMEOUT, 4);
	br_enc_cstr(&e, "id", ID1);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_uint(&e, "req", req);
	br_enc_cstr(&e, "reason", "timeout");
	fgw_send(&gws[0], &e);
	pump(200, NULL);
	tap_ok(a1.calls == 1, "a late verdict for an ended req is ignored");

	/* Gateway verdicts: timeout, disconnected. */
	siogate_emit_ack(w, "/", ID1, "p", NULL, NULL, 0, 0, on_ack, &a2);
	siogate_emit_ack(w, "/", ID1, "p", NULL, NULL, 0, 0, on_ack, &a3);
	if (fgw_recv(&gws[0], &m, BR_T_SIO_EMIT, WAIT_MS) == 0) {
		r2 = br_msg_get(&m, "req")->via.u64;
		tap_ok(br_msg_get(&m, "timeout")->via.u64 == 10000,
		    "timeout 0 means 10000");
		br_msg_free(&m);
	}
	if (fgw_recv(&gws[0], &m, BR_T_SIO_EMIT, WAIT_MS) == 0) {
		r3 = br_msg_get(&m, "req")->via.u64;
		br_msg_free(&m);
	}
	tap_ok(r2 > req && r3 > r2, "reqs increase");
	br_enc_init(&e, BR_T_SIO_ACK_TIMEOUT, 4);
	br_enc_cstr(&e, "id", ID1);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_uint(&e, "req", r3);
	br_enc_cstr(&e, "reason", "disconnected");
	fgw_send(&gws[0], &e);
	br_enc_init(&e, BR_T_SIO_ACK_TIMEOUT, 4);
	br_enc_cstr(&e, "id", ID1);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_uint(&e, "req", r2);
	br_enc_cstr(&e, "reason", "timeout");
	fgw_send(&gws[0], &e);
	pump(WAIT_MS, &a2.calls);
	tap_ok(a2.calls == 1 && a2.status == SIOGATE_STATUS_TIMEOUT &&
	    strcmp(a2.json, "(null)") == 0 && a3.calls == 1 &&
	    a3.status == SIOGATE_STATUS_DISCONNECTED,
	    "ACK_TIMEOUT: timeout and disconnected, args NULL");

	/* ERROR unknown-sid for the emit: the socket was gone. */
	seen.errors = 0;
	siogate_emit_ack(w, "/", ID1B, "p", NULL, NULL, 0, 0, on_ack, &a4);
	fgw_recv(&gws[0], &m, BR_T_SIO_EMIT, WAIT_MS);
	br_msg_free(&m);
	br_enc_init(&e, BR_T_ERROR, 4);
	br_enc_uint(&e, "code", BR_E_UNKNOWN_SID);
	br_enc_cstr(&e, "text", "no such socket");
	br_enc_uint(&e, "ref", BR_T_SIO_EMIT);
	br_enc_cstr(&e, "sid", ID1B);
	fgw_send(&gws[0], &e);
	pump(WAIT_MS, &a4.calls);
	tap_ok(a4.calls == 1 && a4.status == SIOGATE_STATUS_DISCONNECTED &&
	    seen.errors == 1 && seen.err_code == SIOGATE_BR_UNKNOWN_SID &&
	    strcmp(seen.err_sid, ID1B) == 0,
	    "ERROR unknown-sid: ack DISCONNECTED, error callback with the id");

	/* No verdict at all: the SDK's own deadline (timeout + grace). */
	t0 = now_ms();
	siogate_emit_ack(w, "/", ID1, "p", NULL, NULL, 0, 50, on_ack, &a5);
	tap_ok(siogate_worker_timeout(w) >= 0, "timeout is scheduled");
	pump(5000, &a5.calls);
	tap_ok(a5.calls == 1 && a5.status == SIOGATE_STATUS_TIMEOUT &&
	    now_ms() - t0 >= 1050, "silent gateway: TIMEOUT after %lld ms",
	    (long long)(now_ms() - t0));

	/* BYE: the gateway is leaving, what it was asked is lost. */
	siogate_emit_ack(w, "/", ID2, "p", NULL, NULL, 0, 0, on_ack, &a6);
	fgw_recv(&gws[1], &m, BR_T_SIO_EMIT, WAIT_MS);
	br_msg_free(&m);
	br_enc_init(&e, BR_T_BYE, 0);
	fgw_send(&gws[1], &e);
	pump(WAIT_MS, &a6.calls);
	tap_ok(a6.calls == 1 && a6.status == SIOGATE_STATUS_GONE,
	    "BYE: pending ack ends GONE");
	/* It says HELLO again (answered WELCOME by fgw_recv). */
	fgw_quiet(&gws[1], 400);

	/* The callback that is told the namespace: an answer, a verdict. */
	{
		struct answer n1 = { 0 }, n2 = { 0 };
		uint64_t q1 = 0, q2 = 0;

		tap_ok(siogate_emit_ack_nsp(w, "/chat", ID1, "p", NULL, NULL, 0,
		    0, on_ack_nsp, &n1) == SIOGATE_OK && siogate_emit_ack_nsp(w,
		    NULL, ID1, "p", NULL, NULL, 0, 0, on_ack_nsp, &n2) ==
		    SIOGATE_OK, "emit_ack_nsp: OK");
		if (fgw_recv(&gws[0], &m, BR_T_SIO_EMIT, WAIT_MS) == 0) {
			q1 = br_msg_get(&m, "req")->via.u64;
			tap_ok(mstr(&m, "nsp", "/chat"), "... SIO_EMIT in /chat");
			br_msg_free(&m);
		} else
			tap_ok(0, "... SIO_EMIT in /chat (none)");
		if (fgw_recv(&gws[0], &m, BR_T_SIO_EMIT, WAIT_MS) == 0) {
			q2 = br_msg_get(&m, "req")->via.u64;
			br_msg_free(&m);
		}
		br_enc_init(&e, BR_T_SIO_CLIENT_ACK, 4);
		br_enc_cstr(&e, "id", ID1);
		br_enc_cstr(&e, "nsp", "/chat");
		br_enc_uint(&e, "req", q1);
		br_enc_array(&e, "args", 1);
		br_enc_item_str(&e, "yes", 3);
		fgw_send(&gws[0], &e);
		br_enc_init(&e, BR_T_SIO_ACK_TIMEOUT, 4);
		br_enc_cstr(&e, "id", ID1);
		br_enc_cstr(&e, "nsp", "/");
		br_enc_uint(&e, "req", q2);
		br_enc_cstr(&e, "reason", "timeout");
		fgw_send(&gws[0], &e);
		pump(WAIT_MS, &n2.calls);
		tap_ok(n1.calls == 1 && n1.status == SIOGATE_STATUS_OK &&
		    strcmp(n1.nsp, "/chat") == 0 && strcmp(n1.id, ID1) == 0 &&
		    strcmp(n1.json, "[\"yes\"]") == 0 && n2.calls == 1 &&
		    n2.status == SIOGATE_STATUS_TIMEOUT &&
		    strcmp(n2.nsp, "/") == 0,
		    "emit_ack_nsp: the callback gets the namespace (%s, %s)",
		    n1.nsp, n2.nsp);
		tap_ok(siogate_emit_ack_nsp(w, "/", ID1, "p", NULL, NULL, 0, 0,
		    NULL, NULL) == SIOGATE_ERR_INVALID,
		    "emit_ack_nsp: no callback INVALID");
	}

	tap_ok(siogate_emit_ack(w, "/", ID1, "p", NULL, NULL, 0, 0, NULL,
	    NULL) == SIOGATE_ERR_INVALID && siogate_emit_ack(w, "/",
	    "XXXXaaaaaaaaaaaaaaaaaaaa", "p", NULL, NULL, 0, 0, on_ack, &a6) ==
	    SIOGATE_ERR_NOGATEWAY && a6.calls == 1,
	    "emit_ack: no callback INVALID, unknown gateway NOGATEWAY");
	pump(100, NULL);
}

/* join, leave, disconnect, set_session. */
static void
test_rooms(void)
{
	static const char *const to[] = { ID1, NULL };
	static const char *const mixed[] = { ID1, "lobby", NULL };
	static const char *const rooms[] = { "a", "b", NULL };
	static const char *const none[] = { NULL };
	struct br_msg m;
	const msgpack_object *o;

	tap_ok(siogate_join(w, "/", to, rooms) == SIOGATE_OK &&
	    fgw_recv(&gws[0], &m, BR_T_SIO_JOIN, WAIT_MS) == 0 &&
	    mstr(&m, "nsp", "/") && strarr_is(br_msg_get(&m, "to"), to) &&
	    strarr_is(br_msg_get(&m, "rooms"), rooms),
	    "join: SIO_JOIN nsp, to, rooms to the socket's gateway");
	br_msg_free(&m);
	tap_ok(fgw_quiet(&gws[1], 50), "... not to the other");
	tap_ok(siogate_leave(w, "/chat", mixed, rooms) == SIOGATE_OK &&
	    fgw_recv(&gws[0], &m, BR_T_SIO_LEAVE, WAIT_MS) == 0 &&
	    mstr(&m, "nsp", "/chat") && strarr_is(br_msg_get(&m, "to"), mixed),
	    "leave with a room in to: SIO_LEAVE to GW01");
	br_msg_free(&m);
	tap_ok(fgw_recv(&gws[1], &m, BR_T_SIO_LEAVE, WAIT_MS) == 0,
	    "... and to GW02 (rooms span gateways)");
	br_msg_free(&m);
	tap_ok(siogate_join(w, "/", NULL, rooms) == SIOGATE_ERR_INVALID &&
	    siogate_join(w, "/", none, rooms) == SIOGATE_ERR_INVALID &&
	    siogate_join(w, "/", to, NULL) == SIOGATE_ERR_INVALID,
	    "join: no targets or no rooms: INVALID");

	tap_ok(siogate_disconnect(w, NULL, to, 1) == SIOGATE_OK &&
	    fgw_recv(&gws[0], &m, BR_T_SIO_DISCONNECT_SOCKETS, WAIT_MS) == 0 &&
	    (o = br_msg_get(&m, "close")) != NULL && o->via.boolean &&
	    strarr_is(br_msg_get(&m, "to"), to),
	    "disconnect close: SIO_DISCONNECT_SOCKETS to, close true");
	br_msg_free(&m);
	tap_ok(siogate_disconnect(w, NULL, to, 0) == SIOGATE_OK &&
	    fgw_recv(&gws[0], &m, BR_T_SIO_DISCONNECT_SOCKETS, WAIT_MS) == 0 &&
	    br_msg_get(&m, "close") == NULL, "disconnect: no close key");
	br_msg_free(&m);

	tap_ok(siogate_set_session(w, ID1, NULL, "{\"k\":[1,2]}", 1) ==
	    SIOGATE_OK && fgw_recv(&gws[0], &m, BR_T_SIO_SET_SESSION,
	    WAIT_MS) == 0 && mstr(&m, "id", ID1) &&
	    br_msg_get(&m, "merge")->via.boolean &&
	    br_map_get(br_msg_get(&m, "session"), "k") != NULL,
	    "set_session: SIO_SET_SESSION id, nsp, session, merge");
	br_msg_free(&m);
	tap_ok(siogate_set_session(w, ID1, NULL, "[]", 0) == SIOGATE_ERR_JSON &&
	    siogate_set_session(w, ID1, NULL, NULL, 0) == SIOGATE_ERR_INVALID,
	    "set_session: not an object JSON, NULL INVALID");
}

/* Queries over two gateways. */
static void
test_query(void)
{
	static const char *const to[] = { "lobby", NULL };
	struct answer q1 = { 0 }, q2 = { 0 }, q3 = { 0 };
	struct br_msg m;
	struct br_enc e;
	uint64_t req[2] = { 0, 0 };
	int i;

	tap_ok(siogate_query(w, "/", "rooms", to, 0, on_query, &q1) ==
	    SIOGATE_OK, "query rooms: OK");
	for (i = 0; i < 2; i++) {
		if (fgw_recv(&gws[i], &m, BR_T_SIO_QUERY, WAIT_MS) == 0) {
			req[i] = br_msg_get(&m, "req")->via.u64;
			tap_ok(mstr(&m, "what", "rooms") && mstr(&m, "nsp", "/")
			    && strarr_is(br_msg_get(&m, "to"), to),
			    "SIO_QUERY to gateway %d: req, nsp, what, to", i + 1);
			br_msg_free(&m);
		} else
			tap_ok(0, "SIO_QUERY to gateway %d (none)", i + 1);
	}
	tap_ok(req[0] == req[1] && req[0] != 0, "one req for all gateways");
	for (i = 0; i < 2; i++) {
		br_enc_init(&e, BR_T_SIO_RESULT, 2);
		br_enc_uint(&e, "req", req[i]);
		br_enc_array(&e, "result", 2);
		br_enc_item_str(&e, i ? "b" : "a", 1);
		br_enc_item_str(&e, "lobby", 5);
		fgw_send(&gws[i], &e);
		pump(100, NULL);
		if (i == 0)
			tap_ok(q1.calls == 0, "no callback before all answered");
	}
	pump(WAIT_MS, &q1.calls);
	tap_ok(q1.calls == 1 && q1.status == SIOGATE_STATUS_OK &&
	    strcmp(q1.json, "[\"a\",\"lobby\",\"b\"]") == 0,
	    "rooms merged as a set (%s)", q1.json);

	tap_ok(siogate_query(w, NULL, "sockets", NULL, 0, on_query, &q2) ==
	    SIOGATE_OK, "query sockets: OK");
	for (i = 0; i < 2; i++) {
		if (fgw_recv(&gws[i], &m, BR_T_SIO_QUERY, WAIT_MS) == 0) {
			req[i] = br_msg_get(&m, "req")->via.u64;
			if (i == 0)
				tap_ok(br_msg_get(&m, "to") == NULL,
				    "no to: no to key");
			br_msg_free(&m);
		}
	}
	br_enc_init(&e, BR_T_SIO_RESULT, 2);
	br_enc_uint(&e, "req", req[1]);
	br_enc_array(&e, "result", 1);
	msgpack_pack_map(&e.pk, 2);
	br_enc_cstr(&e, "id", ID2);
	br_enc_key(&e, "session");
	msgpack_pack_map(&e.pk, 0);
	fgw_send(&gws[1], &e);
	pump(200, NULL);
	br_enc_init(&e, BR_T_SIO_RESULT, 2);
	br_enc_uint(&e, "req", req[0]);
	br_enc_array(&e, "result", 1);
	msgpack_pack_map(&e.pk, 1);
	br_enc_cstr(&e, "id", ID1);
	fgw_send(&gws[0], &e);
	pump(WAIT_MS, &q2.calls);
	tap_ok(q2.calls == 1 && q2.status == SIOGATE_STATUS_OK && strcmp(q2.json,
	    "[{\"id\":\"" ID2 "\",\"session\":{}},{\"id\":\"" ID1 "\"}]") == 0,
	    "sockets concatenated in answer order (%s)", q2.json);

	/* One gateway never answers: TIMEOUT with what came. */
	siogate_query(w, "/", "rooms", NULL, 300, on_query, &q3);
	if (fgw_recv(&gws[0], &m, BR_T_SIO_QUERY, WAIT_MS) == 0) {
		req[0] = br_msg_get(&m, "req")->via.u64;
		br_msg_free(&m);
		br_enc_init(&e, BR_T_SIO_RESULT, 2);
		br_enc_uint(&e, "req", req[0]);
		br_enc_array(&e, "result", 1);
		br_enc_item_str(&e, "x", 1);
		fgw_send(&gws[0], &e);
	}
	pump(WAIT_MS, &q3.calls);
	tap_ok(q3.calls == 1 && q3.status == SIOGATE_STATUS_TIMEOUT &&
	    strcmp(q3.json, "[\"x\"]") == 0,
	    "a gateway silent: TIMEOUT with the partial result (%s)", q3.json);
	tap_ok(siogate_query(w, "/", "bogus", NULL, 0, on_query, &q3) ==
	    SIOGATE_ERR_INVALID && siogate_query(w, "/", "rooms", NULL, 0,
	    NULL, NULL) == SIOGATE_ERR_INVALID && q3.calls == 1,
	    "query: bad what, no callback: INVALID");
	pump(100, NULL);
}

static void
on_sync(struct siogate_worker *wk, int status, void *ud)
{
	struct answer *a = ud;

	(void)wk;
	a->calls++;
	a->status = status;
}

/* Answer on f with SYNC_REPLY, or with the ERROR an old gateway sends. */
static void
fgw_sync_answer(struct fgw *f, uint64_t req, int old)
{
	struct br_enc e;

	if (old) {
		br_enc_init(&e, BR_T_ERROR, 3);
		br_enc_uint(&e, "code", BR_E_UNKNOWN_TYPE);
		br_enc_cstr(&e, "text", "unknown message type");
		br_enc_uint(&e, "ref", BR_T_SYNC);
	} else {
		br_enc_init(&e, BR_T_SYNC_REPLY, 1);
		br_enc_uint(&e, "req", req);
	}
	fgw_send(f, &e);
}

/*
 * siogate_sync(): SYNC to every gateway, one req; done when all replied.
 * A gateway that answers UNKNOWN_TYPE (older than SYNC) is asked the old
 * receipt, a query about an unused room, with the same req, and from then
 * on directly; the application's error callback hears nothing of it.
 */
static void
test_sync(void)
{
	static const char *const none[] = { "siogate:sync", NULL };
	struct answer s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	struct br_msg m;
	struct br_enc e;
	uint64_t req[2] = { 0, 0 }, q = 0;
	int i, errors = seen.errors;

	tap_ok(siogate_sync(w, 0, NULL, NULL) == SIOGATE_ERR_INVALID &&
	    siogate_sync(NULL, 0, on_sync, &s1) == SIOGATE_ERR_INVALID,
	    "sync: no callback, no worker: INVALID");
	tap_ok(siogate_sync(w, 0, on_sync, &s1) == SIOGATE_OK, "sync: OK");
	for (i = 0; i < 2; i++) {
		if (fgw_recv(&gws[i], &m, BR_T_SYNC, WAIT_MS) == 0) {
			req[i] = br_msg_get(&m, "req")->via.u64;
			br_msg_free(&m);
		}
	}
	tap_ok(req[0] != 0 && req[0] == req[1], "SYNC with one req to both gateways");
	fgw_sync_answer(&gws[0], req[0], 0);
	pump(100, NULL);
	tap_ok(s1.calls == 0, "no callback before every gateway replied");
	fgw_sync_answer(&gws[1], req[1], 0);
	pump(WAIT_MS, &s1.calls);
	tap_ok(s1.calls == 1 && s1.status == SIOGATE_STATUS_OK, "both replied: OK, once");

	/* Gateway 2 is old: ERROR unknown-type, then the query. */
	siogate_sync(w, 0, on_sync, &s2);
	for (i = 0; i < 2; i++) {
		if (fgw_recv(&gws[i], &m, BR_T_SYNC, WAIT_MS) == 0) {
			req[i] = br_msg_get(&m, "req")->via.u64;
			br_msg_free(&m);
		}
	}
	fgw_sync_answer(&gws[0], req[0], 0);
	fgw_sync_answer(&gws[1], req[1], 1);
	if (fgw_recv(&gws[1], &m, BR_T_SIO_QUERY, WAIT_MS) == 0) {
		q = br_msg_get(&m, "req")->via.u64;
		tap_ok(q == req[1] && mstr(&m, "what", "rooms") && mstr(&m, "nsp", "/") &&
		    strarr_is(br_msg_get(&m, "to"), none),
		    "an old gateway is asked SIO_QUERY rooms of an unused room, same req");
		br_msg_free(&m);
	} else
		tap_ok(0, "an old gateway is asked SIO_QUERY (none)");
	tap_ok(s2.calls == 0, "... and the sync waits for its answer");
	br_enc_init(&e, BR_T_SIO_RESULT, 2);
	br_enc_uint(&e, "req", q);
	br_enc_array(&e, "result", 0);
	fgw_send(&gws[1], &e);
	pump(WAIT_MS, &s2.calls);
	tap_ok(s2.calls == 1 && s2.status == SIOGATE_STATUS_OK && seen.errors == errors,
	    "the query's answer ends it OK; the error callback was not called");

	/* From then on the old gateway gets the query at once; one silent: TIMEOUT. */
	siogate_sync(w, 300, on_sync, &s3);
	tap_ok(fgw_recv(&gws[1], &m, BR_T_SIO_QUERY, WAIT_MS) == 0,
	    "the next sync asks the old gateway the query straight away");
	br_msg_free(&m);
	if (fgw_recv(&gws[0], &m, BR_T_SYNC, WAIT_MS) == 0) {
		fgw_sync_answer(&gws[0], br_msg_get(&m, "req")->via.u64, 0);
		br_msg_free(&m);
	}
	pump(WAIT_MS, &s3.calls);
	tap_ok(s3.calls == 1 && s3.status == SIOGATE_STATUS_TIMEOUT,
	    "a gateway that never answers: TIMEOUT, once");
	pump(100, NULL);
}

/* Freeing the worker ends what is awaited: CANCELLED, exactly once. */
/* Encode SIO_EVENT "echo" [s, bins...] with ack id ack. */
static void
enc_echo(struct br_enc *e, const char *s, const char *bin, uint64_t ack)
{
	br_enc_init(e, BR_T_SIO_EVENT, 8);
	br_enc_cstr(e, "id", ID1);
	br_enc_cstr(e, "nsp", "/");
	br_enc_uint(e, "seq", ack);
	br_enc_cstr(e, "ev", "echo");
	br_enc_array(e, "args", bin ? 2 : 1);
	br_enc_item_str(e, s, strlen(s));
	if (bin)
		msgpack_pack_bin_with_body(&e->pk, bin, strlen(bin));
	br_enc_uint(e, "ack", ack);
	br_enc_map(e, "session", 0);
	br_enc_array(e, "rooms", 0);
}

/*
 * A clustered gateway's WELCOME with a bad "node" (not a string, too long):
 * the worker registers all the same, as a gateway of no node, answers an
 * ERROR that names the key, and siogate_worker_process() says PROTO once.
 */
static void
test_bad_node(void)
{
	static const char *const bad[] = { NULL, "a node name longer than 31 bytes" };
	struct br_enc e;
	struct br_msg m;
	struct br_str text;
	uint64_t code, ref;
	int64_t end;
	int i, proto, ok;

	for (i = 0; i < 2; i++) {
		br_enc_init(&e, BR_T_WELCOME, 5);
		br_enc_cstr(&e, "gw", "GW01");
		br_enc_uint(&e, "wid", 1);
		br_enc_uint(&e, "hb", 100);
		br_enc_uint(&e, "cluster", 5000);
		if (bad[i] == NULL)
			br_enc_uint(&e, "node", 42);
		else
			br_enc_cstr(&e, "node", bad[i]);
		fgw_send(&gws[0], &e);
		proto = 0;
		for (end = now_ms() + WAIT_MS; now_ms() < end && !proto;
		    usleep(2000))
			if (siogate_worker_process(w) == SIOGATE_ERR_PROTO)
				proto = 1;
		ok = fgw_recv(&gws[0], &m, BR_T_ERROR, WAIT_MS) == 0;
		tap_ok(proto && ok && br_msg_uint(&m, "code", &code) == 0 &&
		    code == BR_E_BAD_MESSAGE &&
		    br_msg_uint(&m, "ref", &ref) == 0 && ref == BR_T_WELCOME &&
		    br_msg_str(&m, "text", &text) == 0 &&
		    memmem(text.p, text.n, "node", 4) != NULL,
		    "WELCOME node %s: ERROR BAD_MESSAGE naming node, PROTO",
		    bad[i] == NULL ? "42" : "of 32 bytes");
		if (ok)
			br_msg_free(&m);
		/* Still registered: a namespace emit reaches both gateways. */
		ok = siogate_emit(w, NULL, NULL, "after", "[1]", NULL, 0) ==
		    SIOGATE_OK;
		ok = ok && fgw_recv(&gws[0], &m, BR_T_SIO_EMIT, WAIT_MS) == 0;
		if (ok)
			br_msg_free(&m);
		ok = ok && fgw_recv(&gws[1], &m, BR_T_SIO_EMIT, WAIT_MS) == 0;
		if (ok)
			br_msg_free(&m);
		tap_ok(ok, "... the link stays usable, as a gateway of no node");
	}
	/* Back to a plain gateway. */
	br_enc_init(&e, BR_T_WELCOME, 3);
	br_enc_cstr(&e, "gw", "GW01");
	br_enc_uint(&e, "wid", 1);
	br_enc_uint(&e, "hb", 100);
	fgw_send(&gws[0], &e);
	pump(200, NULL);
}

/* A gateway that takes BATCH: events come in one, answers go in one. */
static void
test_batch(void)
{
	struct br_enc e, it;
	struct br_batch b = { 0 };
	struct br_msg m, im[8];
	const msgpack_object *msgs, *a;
	const char *p, *why;
	size_t n, k = 0;
	uint32_t i;
	int code, types[8] = { 0 };

	br_enc_init(&e, BR_T_WELCOME, 4);
	br_enc_cstr(&e, "gw", "GW01");
	br_enc_uint(&e, "wid", 1);
	br_enc_uint(&e, "hb", 100);
	br_enc_key(&e, "batch");
	msgpack_pack_true(&e.pk);
	fgw_send(&gws[0], &e);
	pump(200, NULL);

	enc_echo(&it, "a", NULL, 5);
	br_batch_add(&b, it.sb.data, it.sb.size);
	br_enc_free(&it);
	br_batch_add(&b, "\xc1", 1);
	enc_echo(&it, "b", "xyz", 6);
	br_batch_add(&b, it.sb.data, it.sb.size);
	br_enc_free(&it);
	br_enc_init(&it, BR_T_BATCH, 1);
	br_enc_array(&it, "msgs", 0);
	br_batch_add(&b, it.sb.data, it.sb.size);
	br_enc_free(&it);
	br_batch_frame(&b, &p, &n);
	memset(&seen, 0, sizeof seen);
	seen.echo = 1;
	zmq_send(gws[0].sock, gws[0].rid, gws[0].rid_len, ZMQ_SNDMORE);
	zmq_send(gws[0].sock, p, n, 0);
	br_batch_free(&b);
	tap_ok(fgw_recv(&gws[0], &m, BR_T_BATCH, WAIT_MS) == 0,
	    "batch: the answers to a BATCH come back as one BATCH");
	tap_ok(seen.events == 2, "batch: both events of the BATCH reach "
	    "sio_event (%d)", seen.events);
	msgs = br_msg_get(&m, "msgs");
	for (i = 0; msgs != NULL && i < msgs->via.array.size && k < 8; i++) {
		if (br_msg_decode_ref(&im[k], msgs->via.array.ptr[i].via.bin.ptr,
		    msgs->via.array.ptr[i].via.bin.size, &code, &why) != 0) {
			br_msg_free(&im[k]);
			continue;
		}
		if (im[k].type == BR_T_HEARTBEAT) {
			br_msg_free(&im[k]);
			continue;
		}
		types[k] = im[k].type;
		k++;
	}
	tap_ok(k == 5 && types[0] == BR_T_SIO_ACK && types[1] == BR_T_ERROR &&
	    types[2] == BR_T_SIO_ACK && types[3] == BR_T_ERROR &&
	    types[4] == BR_T_CREDIT, "batch: ack, error, ack, error, credit, "
	    "in order (%d %d %d %d %d)", types[0], types[1], types[2], types[3],
	    types[4]);
	if (k == 5) {
		uint64_t u = 0, ack = 9;
		struct br_str t = { "", 0 };

		a = br_msg_get(&im[0], "args");
		tap_ok(br_msg_uint(&im[0], "ack", &ack) == 0 && ack == 5 &&
		    a != NULL && a->via.array.size == 1 &&
		    a->via.array.ptr[0].type == MSGPACK_OBJECT_STR &&
		    a->via.array.ptr[0].via.str.size == 1,
		    "batch: the echoed ack carries its args as they came");
		a = br_msg_get(&im[2], "args");
		tap_ok(br_msg_uint(&im[2], "ack", &ack) == 0 && ack == 6 &&
		    a != NULL && a->via.array.size == 2 &&
		    a->via.array.ptr[1].type == MSGPACK_OBJECT_BIN &&
		    a->via.array.ptr[1].via.bin.size == 3 &&
		    memcmp(a->via.array.ptr[1].via.bin.ptr, "xyz", 3) == 0,
		    "batch: an echoed bin goes back as a bin in place");
		br_msg_str(&im[1], "text", &t);
		tap_ok(br_msg_uint(&im[1], "code", &u) == 0 &&
		    u == BR_E_BAD_MESSAGE && t.n > 13 &&
		    memcmp(t.p, "BATCH item 1:", 13) == 0,
		    "batch: a garbage item gets ERROR naming it (%.*s)",
		    (int)t.n, t.p);
		br_msg_str(&im[3], "text", &t);
		tap_ok(br_msg_uint(&im[3], "ref", &u) == 0 && u == BR_T_BATCH &&
		    str_is(&t, "BATCH item 3: a BATCH inside a BATCH"),
		    "batch: a nested BATCH is refused with ref 9");
		tap_ok(br_msg_uint(&im[4], "n", &u) == 0 && u == 2,
		    "batch: one CREDIT for the two events, after the acks");
	} else {
		for (i = 0; i < 5; i++)
			tap_ok(0, "batch: (no answers to check)");
	}
	while (k > 0)
		br_msg_free(&im[--k]);
	br_msg_free(&m);

	/*
	 * Echoing the event's own args skips JSON, but not its checks: a
	 * placeholder-shaped object without bins is still refused.
	 */
	br_enc_init(&e, BR_T_SIO_EVENT, 8);
	br_enc_cstr(&e, "id", ID1);
	br_enc_cstr(&e, "nsp", "/");
	br_enc_uint(&e, "seq", 8);
	br_enc_cstr(&e, "ev", "echo");
	br_enc_array(&e, "args", 1);
	msgpack_pack_map(&e.pk, 2);
	br_enc_item_str(&e, "_placeholder", 12);
	msgpack_pack_true(&e.pk);
	br_enc_item_str(&e, "num", 3);
	msgpack_pack_uint64(&e.pk, 0);
	br_enc_uint(&e, "ack", 8);
	br_enc_map(&e, "session", 0);
	br_enc_array(&e, "rooms", 0);
	seen.events = 0;
	seen.echo_rc = 1;
	fgw_send(&gws[0], &e);
	pump(WAIT_MS, &seen.events);
	tap_ok(seen.events == 1 && seen.echo_rc == SIOGATE_ERR_JSON,
	    "echo of a placeholder-shaped object without bins: JSON error (%d)",
	    seen.echo_rc);
	seen.echo = 0;

	/* A call outside a callback goes at once, unbatched. */
	tap_ok(siogate_ack(w, ID1, "/", 7, "[1]", NULL, 0) == SIOGATE_OK &&
	    fgw_recv(&gws[0], &m, 0, WAIT_MS) == 0 && m.type == BR_T_SIO_ACK,
	    "batch: an ack outside a callback goes alone");
	br_msg_free(&m);

	/* Back to a gateway without BATCH for the tests that follow. */
	br_enc_init(&e, BR_T_WELCOME, 3);
	br_enc_cstr(&e, "gw", "GW01");
	br_enc_uint(&e, "wid", 1);
	br_enc_uint(&e, "hb", 100);
	fgw_send(&gws[0], &e);
	pump(200, NULL);
}

static void
test_free(void)
{
	struct answer a = { 0 }, q = { 0 };

	siogate_emit_ack(w, "/", ID1, "p", NULL, NULL, 0, 0, on_ack, &a);
	siogate_query(w, "/", "rooms", NULL, 0, on_query, &q);
	siogate_worker_free(w);
	w = NULL;
	tap_ok(a.calls == 1 && a.status == SIOGATE_STATUS_CANCELLED &&
	    a.call_rc == SIOGATE_ERR_INVALID && q.calls == 1 &&
	    q.status == SIOGATE_STATUS_CANCELLED &&
	    strcmp(q.json, "(null)") == 0,
	    "free: ack and query CANCELLED once; calls inside fail INVALID");
}

/* A write-only emitter: credit 0, nothing served. */
static void
test_emitter(void)
{
	struct br_enc e;
	struct br_msg m;
	const msgpack_object *o;

	siogate_worker_new(&w, NULL, NULL);
	siogate_worker_set_credit(w, 0);
	siogate_worker_connect(w, gws[0].ep);
	if (fgw_recv(&gws[0], &m, BR_T_HELLO, WAIT_MS) == 0) {
		o = br_msg_get(&m, "eio");
		tap_ok(br_msg_get(&m, "credit")->via.u64 == 0 && o != NULL &&
		    o->via.array.size == 0 && br_msg_get(&m, "nsp") == NULL &&
		    br_msg_get(&m, "nsp_open") == NULL,
		    "emitter HELLO: credit 0, no paths, no namespaces");
		br_msg_free(&m);
	} else
		tap_ok(0, "emitter HELLO (none)");
	tap_ok(siogate_emit(w, "/", NULL, "e", NULL, NULL, 0) ==
	    SIOGATE_ERR_NOGATEWAY, "emit before WELCOME: NOGATEWAY");
	br_enc_init(&e, BR_T_WELCOME, 3);
	br_enc_cstr(&e, "gw", gws[0].gwid);
	br_enc_uint(&e, "wid", 2);
	br_enc_uint(&e, "hb", 100);
	fgw_send(&gws[0], &e);
	pump(300, NULL);
	tap_ok(siogate_emit(w, "/", NULL, "e", "[\"x\"]", NULL, 0) ==
	    SIOGATE_OK && fgw_recv(&gws[0], &m, BR_T_SIO_EMIT, WAIT_MS) == 0,
	    "emitter: emit after WELCOME");
	br_msg_free(&m);
	siogate_worker_free(w);
	w = NULL;
}

int
main(void)
{
	static const struct siogate_callbacks cb = {
		.error = cb_error,
		.sio_connect = cb_connect,
		.sio_event = cb_event,
		.sio_disconnect = cb_disconnect,
	};
	static const char *const ids[] = { "GW01", "GW02" };
	int i, zero = 0;

	zctx = zmq_ctx_new();
	for (i = 0; i < 2; i++) {
		gws[i].gwid = ids[i];
		snprintf(gws[i].ep, sizeof gws[i].ep,
		    "ipc:///tmp/siogate-sdk-test-%d-%d.sock", (int)getpid(), i);
		gws[i].sock = zmq_socket(zctx, ZMQ_ROUTER);
		zmq_setsockopt(gws[i].sock, ZMQ_LINGER, &zero, sizeof zero);
		if (zmq_bind(gws[i].sock, gws[i].ep) != 0) {
			printf("Bail out! cannot bind %s\n", gws[i].ep);
			return 1;
		}
	}
	if (siogate_worker_new(&w, &cb, NULL) != SIOGATE_OK) {
		printf("Bail out! siogate_worker_new\n");
		return 1;
	}
	test_register();
	test_connect();
	test_event();
	test_emit();
	test_emit_ack();
	test_rooms();
	test_query();
	test_sync();
	test_batch();
	test_bad_node();
	test_free();
	test_emitter();
	for (i = 0; i < 2; i++) {
		zmq_close(gws[i].sock);
		unlink(gws[i].ep + 6);
	}
	zmq_ctx_term(zctx);
	return tap_done();
}
