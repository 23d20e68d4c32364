/*
 * sio.h: the Socket.IO v5 layer of the gateway.
 *
 * Ownership:
 *   - struct sio_conn hangs off one Engine.IO session of a Socket.IO
 *     endpoint and owns that session's sockets (one per namespace) and the
 *     binary packet being reassembled.  Freed with the session.
 *   - struct sio_socket is also indexed by id in gw->sio.sockets (borrowed)
 *     and listed in its namespace and rooms (borrowed).  Closing a socket
 *     unlinks it from all of these at once, so no index ever holds a
 *     closed socket.
 *   - struct sio_nsp (namespace) and struct sio_room are owned by
 *     gw->sio.nsps / nsp->rooms; a room is freed when its last member
 *     leaves; a namespace lives as long as the gateway.
 * Gateway-wide tables live in struct gw: sio_nsps (name -> sio_nsp, owner)
 * and sio_sockets (id -> sio_socket, borrowed).
 * Every socket is in the room named by its own id; that room is implicit
 * (resolved through the socket table), not stored.
 */
#ifndef SIO_H
#define SIO_H

#include "br_proto.h"
#include "gw.h"
#include "eio_session.h"

enum sio_type {
	SIO_CONNECT = 0, SIO_DISCONNECT = 1, SIO_EVENT = 2, SIO_ACK = 3,
	SIO_CONNECT_ERROR = 4, SIO_BINARY_EVENT = 5, SIO_BINARY_ACK = 6,
};

#define SIO_ID_LEN EIO_SID_LEN
#define SIO_MAX_ATTACHMENTS 256	/* hard cap; [limits] max_attachments for clients */
#define SIO_OUT_DEPTH 128		/* nesting of worker data written as JSON */

/* A parsed packet header; strings borrow the input. */
struct sio_pkt {
	int type;
	uint32_t natt;
	const char *nsp;
	size_t nsp_len;
	int has_id;
	uint64_t id;
	const char *data;	/* JSON text, may be empty */
	size_t data_len;
};

struct sio_nsp;
struct sio_socket;

struct sio_room {
	char *name;
	struct sio_socket **m;	/* members */
	uint32_t n, cap;
};

/* A room membership of a socket: the room and the socket's index in it. */
struct sio_member {
	struct sio_room *r;
	uint32_t idx;
};

struct sio_nsp {
	char *name;
	size_t nlen;
	struct gw_map rooms;		/* name -> sio_room (owner) */
	struct sio_socket **all;	/* connected sockets (borrowed) */
	uint32_t n, cap;
};

/* A server-to-client ack awaited from the client. */
struct sio_wait {
	struct sio_wait *next;
	struct sio_socket *sock;
	uint64_t ack_id;	/* the id the client sees */
	uint64_t req;		/* the worker's request id */
	uint32_t worker;
	ev_timer t;
};

enum sio_sock_state { SIO_S_CONNECTING = 0, SIO_S_CONNECTED = 1, SIO_S_CLOSED = 2 };

struct sio_socket {
	char id[SIO_ID_LEN + 1];
	uint8_t state;
	uint8_t notified;		/* the worker knows it (SIO_CONNECT sent) */
	uint8_t orphan;			/* its worker was lost and no other took it */
	uint8_t moving;			/* connecting while its worker was lost */
	uint8_t reconnect_sent;		/* its CONNECT was redelivered */
	uint8_t held;			/* events wait in gw->sio_held */
	uint8_t busy;			/* its SIO_CONNECT/SIO_EVENTs not paid back by CREDIT (saturates) */
	struct sio_conn *conn;		/* owner */
	struct sio_nsp *nsp;
	struct sio_socket *next;	/* in conn->sockets */
	uint32_t nsp_idx;		/* index in nsp->all while connected */
	uint32_t worker;
	uint32_t seq;
	uint32_t mark;			/* emit de-duplication stamp */
	struct sio_member *rooms;
	uint32_t nrooms, caprooms;
	char *session;			/* msgpack map, NULL = {} */
	uint32_t session_len;
	uint64_t next_ack;
	struct sio_wait *waits;
	struct gw_tnode connect_t;	/* waiting for the worker's answer (gw->t_sio_sock) */
	struct sio_recov *rec;		/* connection state recovery (sio_recover.c), owned */
};

/* An inbound binary packet waiting for its attachments. */
struct sio_partial {
	struct sio_pkt pkt;	/* nsp/data point into text */
	char *text;
	uint32_t got;
	struct br_str att[SIO_MAX_ATTACHMENTS];
};

struct sio_conn {
	struct eio_session *eio;	/* the session that owns this */
	struct gw_buf *hs;		/* the handshake, msgpack-encoded once */
	struct sio_socket *sockets;
	struct sio_partial *partial;
	struct gw_tnode connect_t;	/* no namespace connected yet (gw->t_sio_conn) */
};

/* sio_eio.c: the Engine.IO handler of Socket.IO endpoints (eio_session.h) */
extern const struct eio_handler sio_eio_handler;

/* sio_packet.c */
int sio_packet_parse(const char *p, size_t n, struct sio_pkt *out, unsigned max_att,
    const char **why);
/*
 * Encode a packet into Engine.IO packets (text, then attachments).  ev may
 * be NULL (acks); args is a msgpack array (may be NULL: no payload; for
 * CONNECT/CONNECT_ERROR json is given instead).  Returns the count written
 * to out (at most SIO_MAX_ATTACHMENTS + 1), -1 with *why.
 */
int sio_packet_encode(int type, const char *nsp, size_t nsp_len, int has_id, uint64_t id,
    const msgpack_object *ev, const msgpack_object *args, const char *json,
    struct gw_buf **out, const char **why);

/* sio_socket.c */
/* Set up gw->t_sio_conn and gw->t_sio_sock (loop start). */
void sio_timers_init(struct gw *gw);
void sio_conn_open(struct eio_session *s, struct gw_buf *hs);
void sio_conn_message(struct eio_session *s, const char *data, size_t len, int binary);
void sio_conn_close(struct eio_session *s, const char *reason);
struct sio_socket *sio_socket_find(struct gw *gw, const char *id, size_t n);
/* Worker answers a pending connect. */
int sio_socket_accept(struct sio_socket *so, const msgpack_object *session,
    const msgpack_object *rooms);
int sio_socket_reject(struct sio_socket *so, const msgpack_object *data);
/* Server-side disconnect of one socket (client gets 41, worker gets the reason). */
void sio_socket_disconnect(struct sio_socket *so, int close_conn);
/* Queue Engine.IO packets to one socket's session. */
void sio_socket_send(struct sio_socket *so, struct gw_buf **pkts, int n);
/* Ask the client for an ack: returns the ack id to put in the packet. */
uint64_t sio_socket_wait_ack(struct sio_socket *so, uint32_t worker, uint64_t req, unsigned ms);
void sio_socket_set_session(struct sio_socket *so, const msgpack_object *map, int merge);
/* Answer a client's ack with an error object [{"error":message,"code":code}]. */
void sio_error_ack(struct gw *gw, const char *id, uint64_t ack, const char *code,
    const char *message);
/*
 * An event of socket id that held it (SIO_CONNECT, SIO_EVENT) is finished
 * at its worker (paid back by CREDIT, expired, dropped): once none is
 * left, the socket's next held event goes.
 */
void sio_socket_release(struct gw *gw, const char *id);
/* Drop held events older than event_expiry (their acks get ENOWORKER). */
void sio_held_expire(struct gw *gw, ev_tstamp now);
/* A worker is lost: move its sockets to other workers of their namespaces. */
void sio_rehome(struct gw *gw, uint32_t dead);
/* Then close what no worker took. */
void sio_close_orphans(struct gw *gw);
/* Free the namespaces and their rooms (shutdown). */
void sio_nsps_free(struct gw *gw);

/* sio_bridge.c: the Socket.IO commands of workers */
struct gw_worker;
struct gw_bridge_layer;
/* Its bridge layer: the SIO_* commands, a lost worker's sockets (sio_rehome). */
extern const struct gw_bridge_layer sio_bridge_layer;
/* Pack a socket as a "sockets" query lists it: {id, rooms, session, addr}. */
struct br_enc;
void sio_pack_socket(struct br_enc *e, struct sio_socket *so);
/*
 * Emit ev(args) to the sockets of nsp named by to minus except, encoded
 * once (a broadcast from the cluster).  vol: skip busy recipients.  0, or
 * -1 with *why when it cannot be encoded.
 */
int sio_emit_local(struct gw *gw, struct sio_nsp *nsp, const msgpack_object *ev,
    const msgpack_object *args, const msgpack_object *to, const msgpack_object *except, int vol,
    const char **why);

/* SIO_CONNECT reply false with flag ("moved", "recovered") true to worker w. */
void sio_socket_notify(struct sio_socket *so, struct gw_worker *w, const char *flag);
/* Close a socket and tell its worker why (a detached socket's window ended, say). */
void sio_socket_end(struct sio_socket *so, const char *reason);

/* sio_recover.c: connection state recovery ([socketio] recovery_window) */
struct sio_recov;
void sio_recover_timers_init(struct gw *gw);
/* A new socket's pid (NULL: recovery off or a v3 client). */
const char *sio_recover_new(struct sio_socket *so);
void sio_recover_note(struct sio_socket *so, uint64_t off, struct gw_buf *const *pkts, int n);
int sio_recover_detach(struct sio_socket *so, const char *reason);
/* Heartbeat of a session: a pong confirms what was sent before the ping. */
void sio_recover_ping(struct eio_session *s);
void sio_recover_pong(struct eio_session *s);
void sio_recover_free(struct sio_socket *so);
struct json_t;
int sio_recover_resume(struct sio_conn *c, const struct sio_pkt *pkt, const struct json_t *auth,
    int *lost);
void sio_recover_close_all(struct gw *gw);
/* Like sio_packet_encode, with tail (JSON text) appended as the last argument. */
int sio_packet_encode_tail(int type, const char *nsp, size_t nsp_len, int has_id, uint64_t id,
    const msgpack_object *ev, const msgpack_object *args, const char *json, const char *tail,
    struct gw_buf **out, const char **why);

/* sio_v3.c: the Socket.IO v4 protocol of 2.x clients (Engine.IO v3 sessions) */
void sio3_conn_start(struct eio_session *s);
char *sio3_connect_pkt(const struct sio_pkt *pkt, struct sio_pkt *out);
char *sio3_error_json(const char *json);
struct gw_buf **sio3_pkts(struct gw_buf *const *pkts, int n);

/* sio_room.c */
struct sio_nsp *sio_nsp_get(struct gw *gw, const char *name, size_t n, int create);
void sio_nsp_add(struct sio_socket *so);
void sio_nsp_remove(struct sio_socket *so);
int sio_room_join(struct sio_socket *so, const char *room, size_t n);
int sio_room_leave(struct sio_socket *so, const char *room, size_t n);
void sio_room_leave_all(struct sio_socket *so);
/*
 * Resolve targets: the sockets of nsp named by `to` (ids and rooms; NULL or
 * empty: every socket) minus those named by `except`.  Calls fn once per
 * socket.  Returns the number of sockets.
 */
uint32_t sio_targets(struct gw *gw, struct sio_nsp *nsp, const msgpack_object *to,
    const msgpack_object *except, void (*fn)(struct sio_socket *, void *), void *arg);
/* The same sockets as an array (caller frees; NULL when none, *n set). */
struct sio_socket **sio_targets_collect(struct gw *gw, struct sio_nsp *nsp,
    const msgpack_object *to, const msgpack_object *except, uint32_t *n);

/*
 * The adapter: how Socket.IO reaches the other nodes of a cluster, in the
 * shape of Node's socket.io Adapter.  The default (gw->adapter NULL) is the
 * local, in-memory behaviour: a node alone, with nobody to tell; every
 * caller checks.  The Redis cluster (gw_cluster.c) replaces it at start-up,
 * one table per process, set on every loop that runs a cluster node;
 * Socket.IO never calls the cluster by name.  Each hook is called after
 * (or, where it returns 1, instead of) the local part of the same work.
 */
struct gw_worker;
struct br_msg;
struct sio_adapter {
	/* A namespace was created on this loop: subscribe its request channels. */
	void (*nsp_new)(struct gw *gw, struct sio_nsp *nsp);
	/*
	 * After a worker's SIO_EMIT without ack was carried out locally:
	 * publish it, unless every target is a socket of this process.
	 */
	void (*emit)(struct gw *gw, const struct br_str *nsp, const msgpack_object *ev,
	    const msgpack_object *args, const msgpack_object *to, const msgpack_object *except,
	    int vol);
	/*
	 * A SIO_EMIT with req to a socket id of another gateway: 1 when taken
	 * (its answer comes back as SIO_CLIENT_ACK or SIO_ACK_TIMEOUT), 0 when
	 * to is no remote socket id.
	 */
	int (*emit_ack)(struct gw *gw, struct gw_worker *w, const struct br_str *nsp,
	    const msgpack_object *ev, const msgpack_object *args, const msgpack_object *to,
	    uint64_t req, uint64_t timeout);
	/* After SIO_JOIN/SIO_LEAVE (join 1/0) or SIO_DISCONNECT_SOCKETS (join -1) with "to". */
	void (*command)(struct gw *gw, int join, const struct br_str *nsp,
	    const msgpack_object *to, const msgpack_object *rooms, int close);
	/* A SIO_QUERY: 1 when it is answered for the whole cluster (later, SIO_RESULT). */
	int (*query)(struct gw *gw, struct gw_worker *w, const struct br_msg *m);
	/* A SIO_SERVER_EMIT (nsp checked) to every other node; with req, one SIO_SERVER_RESULT. */
	void (*server_emit)(struct gw *gw, struct gw_worker *w, const struct br_msg *m);
	/* A SIO_SERVER_ACK: a worker's answer to another node's SIO_SERVER_EVENT. */
	void (*server_ack)(struct gw *gw, struct gw_worker *w, const struct br_msg *m);
	/*
	 * A client answered an ack another node awaits (sio_wait.worker
	 * SIO_WORKER_REMOTE, req = n): arg, msgpack, is its first argument.
	 */
	void (*client_ack)(struct gw *gw, uint64_t n, const char *arg, size_t len);
};
/* The worker id of a server-to-client ack awaited for another node (sio_wait.worker). */
#define SIO_WORKER_REMOTE UINT32_MAX
/* Whether every name in to (an array) is a socket id of this process. */
int sio_ids_local(struct gw *gw, const msgpack_object *to);

#endif
