/*
 * gw_metrics.c: the metrics endpoint (Prometheus text format, version
 * 0.0.4) on its own listener, and --status: the question (as a bridge
 * peer) and the answer (the STATUS_REPLY, the bridge's status hook).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "config.h"
#include "br_proto.h"
#include "eio_session.h"
#include "gw_bridge.h"
#include "gw_cluster.h"
#include "gw_conn.h"
#include "sio.h"

static void metrics_serve(struct gw_conn *c, struct http_req *req);

/* Start the metrics listener if configured; its requests come to metrics_serve. */
int
gw_metrics_start(struct gw *gw, const char **why)
{
	gw->http_metrics = metrics_serve;
	return gw_listen_metrics(gw, why);
}

void
gw_metrics_stop(struct gw *gw)
{
	(void)gw;
}

/* Append printf output to a growing buffer. */
static void
mbuf(char **p, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*p + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < *cap - *len) {
			*len += (size_t)n;
			return;
		}
		*cap = *cap * 2 + (size_t)(n > 0 ? n : 0);
		*p = gw_xrealloc(*p, *cap);
	}
}

struct room_count {
	uint64_t rooms;
};

static void
count_rooms(void *val, void *arg)
{
	struct sio_nsp *nsp = val;
	struct room_count *rc = arg;

	rc->rooms += nsp->rooms.n;
}

/* This loop's counters and gauges. */
void
gw_snap_take(struct gw *gw, struct gw_snap *sn)
{
	struct room_count rc = { 0 };
	struct gw_conn *c;
	uint32_t i;

	memset(sn, 0, sizeof *sn);
	sn->st = gw->st;
	for (i = 0; gw->sess_tab != NULL && i <= gw->sess_mask; i++) {
		struct eio_session *s;

		for (s = gw->sess_tab[i]; s != NULL; s = s->hnext) {
			if (s->transport == EIO_T_WS)
				sn->websocket++;
			else
				sn->polling++;
			sn->outq += s->q.bytes;
		}
	}
	TAILQ_FOREACH(c, &gw->conns, link)
		sn->outq += c->out.bytes;
	gw_map_each(&gw->sio_nsps, count_rooms, &rc);
	sn->rooms = rc.rooms;
	sn->conns = gw->nconns;
	sn->sockets = gw->sio_sockets.n;
	sn->nsps = gw->sio_nsps.n;
	sn->backlog = gw_bridge_pending(gw);
	sn->parsers = eio_ws_parsers(gw);
	sn->cluster_up = (uint64_t)gw_cluster_up(gw);
}

/* The STATUS_REPLY for siogate --status (the bridge's status hook): sums over every loop. */
void
gw_metrics_status(struct gw *gw, struct br_enc *e)
{
	struct gw_snap sn;

	gw_snap_total(gw, &sn);
	br_enc_init(e, BR_T_STATUS_REPLY, 13);
	br_enc_cstr(e, "gateway", gw->id);
	br_enc_cstr(e, "version", PACKAGE_VERSION);
	br_enc_uint(e, "pid", (uint64_t)getpid());
	br_enc_uint(e, "uptime_s", (uint64_t)(ev_now(gw->loop) - gw->started));
	br_enc_uint(e, "loops", (uint64_t)gw->sh->n);
	br_enc_uint(e, "connections", sn.conns);
	br_enc_uint(e, "sessions_polling", sn.polling);
	br_enc_uint(e, "sessions_websocket", sn.websocket);
	br_enc_uint(e, "sockets", sn.sockets);
	br_enc_uint(e, "namespaces", sn.nsps);
	br_enc_uint(e, "workers", gw_bridge_workers(gw));
	br_enc_uint(e, "worker_backlog_events", sn.backlog);
	br_enc_uint(e, "supervised_processes", gw_super_running(gw));
}

/* Render every metric (sums over every loop). */
static char *
metrics_text(struct gw *gw, size_t *outlen)
{
	size_t len = 0, cap = 8192;
	char *p = gw_xmalloc(cap);
	struct gw_snap sn;
	const struct gw_stats *st = &sn.st;

	gw_snap_total(gw, &sn);

#define GAUGE(name, help, v) mbuf(&p, &len, &cap, "# HELP siogate_" name " " help "\n" \
	"# TYPE siogate_" name " gauge\nsiogate_" name " %llu\n", (unsigned long long)(v))
#define COUNTER(name, help, v) mbuf(&p, &len, &cap, "# HELP siogate_" name " " help "\n" \
	"# TYPE siogate_" name " counter\nsiogate_" name " %llu\n", (unsigned long long)(v))

	GAUGE("loops", "Event loops (threads) of the gateway.", gw->sh->n);
	GAUGE("connections", "Open TCP connections from clients.", sn.conns);
	mbuf(&p, &len, &cap, "# HELP siogate_sessions Engine.IO sessions by transport.\n"
	    "# TYPE siogate_sessions gauge\nsiogate_sessions{transport=\"polling\"} %llu\n"
	    "siogate_sessions{transport=\"websocket\"} %llu\n", (unsigned long long)sn.polling,
	    (unsigned long long)sn.websocket);
	GAUGE("websocket_parsers", "WebSocket connections holding a frame parser (input in "
	    "progress); idle ones hold none.", sn.parsers);
	GAUGE("sockets", "Socket.IO sockets (one per namespace of a session).", sn.sockets);
	GAUGE("namespaces", "Socket.IO namespaces seen.", sn.nsps);
	GAUGE("rooms", "Socket.IO rooms with members (not counting sockets' own rooms).", sn.rooms);
	GAUGE("workers", "Workers registered on the bridge (of this loop: a worker registers "
	    "on every loop).", gw_bridge_workers(gw));
	GAUGE("worker_backlog_events", "Events waiting for worker credit.", sn.backlog);
	GAUGE("held_events", "Client events waiting for the previous event of their socket "
	    "to be finished by its worker.", st->events_held);
	GAUGE("output_queued_bytes", "Bytes queued for clients.", sn.outq);
	GAUGE("supervised_processes", "Worker programs running under the gateway.",
	    gw_super_running(gw));
	COUNTER("connections_accepted_total", "TCP connections accepted.", st->conns_accepted);
	COUNTER("sessions_opened_total", "Engine.IO sessions opened.", st->sessions_opened);
	COUNTER("socketio_connects_total", "Socket.IO namespace connects accepted.",
	    st->sio_connects);
	COUNTER("socketio_connect_errors_total", "Socket.IO connects refused.", st->sio_rejects);
	COUNTER("events_in_total", "Client events handed to workers.", st->events_in);
	COUNTER("emits_total", "Emits from workers.", st->emits);
	COUNTER("packets_out_total", "Engine.IO packets queued to clients.", st->packets_out);
	COUNTER("bytes_in_total", "Bytes read from clients.", st->bytes_in);
	COUNTER("bytes_out_total", "Bytes written to clients.", st->bytes_out);
	COUNTER("events_dropped_total", "Client events dropped (expired or backlog full).",
	    st->events_expired + st->events_overflow);
	COUNTER("ack_timeouts_total", "Server-to-client acks that timed out.", st->ack_timeouts);
	COUNTER("volatile_dropped_total", "Volatile emits not sent to busy recipients.",
	    st->volatile_dropped);
	COUNTER("recovered_total", "Sockets taken back by their client (connection state "
	    "recovery).", st->recovered);
	COUNTER("recovery_lost_total", "Recoveries asked for that could not be made (window "
	    "over, packets dropped).", st->recovery_lost);
	GAUGE("recovery_detached_sockets", "Sockets whose transport went, kept for recovery.",
	    st->recovery_detached);
	GAUGE("recovery_buffered_packets", "Packets held for connection state recovery "
	    "(bound: sockets x recovery_max_packets).", st->recovery_buffered);
	COUNTER("connections_refused_total", "Connections refused by a connection limit.",
	    st->limit_conns);
	COUNTER("handshakes_refused_total", "Handshakes refused by the per-IP rate limit.",
	    st->limit_handshakes);
	COUNTER("workers_lost_total", "Workers dropped (left, silent or unreachable).",
	    st->workers_lost);
	COUNTER("handovers_total", "Requests passed to the loop that owns their session "
	    "(threads > 1).", st->handovers);
	if (gw->conf.cluster != NULL && gw->conf.cluster[0] != '\0') {
		GAUGE("cluster_up", "Event loops connected to the cluster's Redis (both the "
		    "subscriber and the publisher).", sn.cluster_up);
		COUNTER("cluster_published_total", "Messages published to the cluster.",
		    st->cluster_published);
		COUNTER("cluster_received_total", "Messages from other nodes and emitters acted on.",
		    st->cluster_received);
		COUNTER("cluster_dropped_total", "Publishes dropped: Redis down or the publish queue "
		    "full.", st->cluster_dropped);
		COUNTER("cluster_malformed_total", "Messages from the cluster's channels that did "
		    "not decode (ignored).", st->cluster_malformed);
		COUNTER("cluster_outages_total", "Times a loop lost its connection to Redis.",
		    st->cluster_outages);
		COUNTER("cluster_request_timeouts_total", "Queries of workers that some node did "
		    "not answer within the request timeout.", st->cluster_timeouts);
	}
	mbuf(&p, &len, &cap, "# HELP siogate_errors_total Errors by kind.\n"
	    "# TYPE siogate_errors_total counter\n"
	    "siogate_errors_total{kind=\"http\"} %llu\nsiogate_errors_total{kind=\"origin\"} %llu\n"
	    "siogate_errors_total{kind=\"parse\"} %llu\nsiogate_errors_total{kind=\"slow_consumer\"} %llu\n"
	    "siogate_errors_total{kind=\"worker_message\"} %llu\n"
	    "siogate_errors_total{kind=\"ping_timeout\"} %llu\n",
	    (unsigned long long)st->err_http, (unsigned long long)st->err_origin,
	    (unsigned long long)st->err_parse, (unsigned long long)st->err_slow,
	    (unsigned long long)st->err_worker_msg, (unsigned long long)st->err_ping_timeout);
	*outlen = len;
	return p;
}

/* GET /metrics on the metrics listener (the HTTP server's metrics hook). */
static void
metrics_serve(struct gw_conn *c, struct http_req *req)
{
	size_t len;
	char *text;

	if (req->method != HTTP_GET || strcmp(req->buf + req->path, "/metrics") != 0) {
		gw_http_respond(c, 404, "text/plain; charset=UTF-8", NULL, "Not Found\n", 10);
		return;
	}
	text = metrics_text(c->gw, &len);
	gw_http_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, text, len);
	free(text);
}

/*
 * With CURVE on the bridge, --status is a CURVE client: the server's public
 * key comes from its secret key file; the client key pair from the
 * environment (an authorized pair, when the gateway restricts keys) or a
 * fresh one.
 */
static int
gw_status_curve(void *s, const struct gw_conf *c)
{
	char line[256], sec[41] = "", pub[41], cpub[41], csec[41];
	const char *ep = getenv("SIOGATE_CURVE_PUBLICKEY"), *es = getenv("SIOGATE_CURVE_SECRETKEY");
	FILE *f = fopen(c->curve_secret_file, "r");

	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		char *p = line + strspn(line, " \t");

		if (strncmp(p, "public:", 7) == 0)
			continue;
		if (strncmp(p, "secret:", 7) == 0)
			p += 7 + strspn(p + 7, " \t");
		if (strcspn(p, " \t\r\n") == 40) {
			memcpy(sec, p, 40);
			sec[40] = '\0';
			break;
		}
	}
	if (f != NULL)
		fclose(f);
	if (sec[0] == '\0' || zmq_curve_public(pub, sec) < 0) {
		fprintf(stderr, "siogate: cannot read the CURVE key from %s\n", c->curve_secret_file);
		return -1;
	}
	if (ep != NULL && es != NULL && strlen(ep) == 40 && strlen(es) == 40) {
		memcpy(cpub, ep, 41);
		memcpy(csec, es, 41);
	} else if (zmq_curve_keypair(cpub, csec) < 0) {
		return -1;
	}
	zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, pub, 40);
	zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, cpub, 40);
	zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, csec, 40);
	return 0;
}

/*
 * --status: register on the bridge as a write-only peer, ask STATUS, print
 * the reply.  Exit 0, or 69 (EX_UNAVAILABLE) when no gateway answers.
 */
int
gw_status_print(const struct gw_conf *c)
{
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
	struct br_enc e;
	char ep[512];
	int linger = 0, rc = 69, tries;
	zmq_pollitem_t pi;

	/* A wildcard bind is reached on loopback (as gw_super.c tells workers). */
	if (strncmp(c->bridge, "tcp://0.0.0.0:", 14) == 0)
		snprintf(ep, sizeof ep, "tcp://127.0.0.1:%s", c->bridge + 14);
	else if (strncmp(c->bridge, "tcp://*:", 8) == 0)
		snprintf(ep, sizeof ep, "tcp://127.0.0.1:%s", c->bridge + 8);
	else
		snprintf(ep, sizeof ep, "%s", c->bridge);
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
	if (c->curve_secret_file != NULL && gw_status_curve(s, c) < 0)
		goto out;
	if (zmq_connect(s, ep) < 0) {
		fprintf(stderr, "siogate: cannot connect to %s: %s\n", ep, zmq_strerror(errno));
		goto out;
	}
	br_enc_init(&e, BR_T_STATUS, 0);
	zmq_send(s, e.sb.data, e.sb.size, 0);
	br_enc_free(&e);
	pi = (zmq_pollitem_t){ s, 0, ZMQ_POLLIN, 0 };
	for (tries = 0; tries < 30; tries++) {
		zmq_msg_t m;
		struct br_msg bm;
		int code;
		const char *why;

		if (zmq_poll(&pi, 1, 100) <= 0)
			continue;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, 0) < 0) {
			zmq_msg_close(&m);
			break;
		}
		memset(&bm, 0, sizeof bm);
		if (br_msg_decode(&bm, zmq_msg_data(&m), zmq_msg_size(&m), &code, &why) == 0 &&
		    bm.type == BR_T_STATUS_REPLY) {
			const msgpack_object *map = bm.root;
			uint32_t i;

			for (i = 0; i < map->via.map.size; i++) {
				const msgpack_object *k = &map->via.map.ptr[i].key, *v = &map->via.map.ptr[i].val;

				if (k->type != MSGPACK_OBJECT_STR || (k->via.str.size == 1 &&
				    (k->via.str.ptr[0] == 'v' || k->via.str.ptr[0] == 't')))
					continue;
				if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
					printf("%.*s: %llu\n", (int)k->via.str.size, k->via.str.ptr,
					    (unsigned long long)v->via.u64);
				else if (v->type == MSGPACK_OBJECT_STR)
					printf("%.*s: %.*s\n", (int)k->via.str.size, k->via.str.ptr,
					    (int)v->via.str.size, v->via.str.ptr);
			}
			rc = 0;
		}
		br_msg_free(&bm);
		zmq_msg_close(&m);
		if (rc == 0)
			break;
	}
	if (rc != 0)
		fprintf(stderr, "siogate: no gateway answered on %s\n", ep);
out:
	zmq_close(s);
	zmq_ctx_term(ctx);
	return rc;
}
