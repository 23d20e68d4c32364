/*
 * siogate.h: libsiogate, the C SDK for siogate handler workers.
 *
 * A worker connects to one or more siogate gateways over ZeroMQ and says
 * what it serves: raw Engine.IO paths (sessions: open, message, close,
 * answered with sends and closes addressed by session id) and Socket.IO
 * namespaces (sockets: connect, event, disconnect, answered with accepts,
 * acks, emits, room changes and queries addressed by socket id, room or
 * namespace).  A worker that serves nothing and offers credit 0 is a
 * write-only emitter.  The wire protocol is siogate-protocol(7); this API
 * is documented in libsiogate(3) and one page per function group.
 *
 * Socket.IO values cross this API as JSON text ("[\"hi\",1]"); binary
 * values are struct siogate_bin slices that the JSON references with
 * Socket.IO's own placeholders, {"_placeholder":true,"num":N} for bins[N].
 *
 * The library does not own the loop.  Watch siogate_worker_fd() for
 * readability, wake up after siogate_worker_timeout() milliseconds, and call
 * siogate_worker_process() either way; or let siogate_worker_run() do it.
 * A worker handle is not thread-safe: use it from one thread.  The library
 * never aborts and never logs: every failure is a negative SIOGATE_ERR_*.
 */
#ifndef SIOGATE_H
#define SIOGATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Used by siogate_worker_connect(NULL) when $SIOGATE_ENDPOINT is unset. */
#define SIOGATE_DEFAULT_ENDPOINT "tcp://127.0.0.1:5555"

/* The worker handle (opaque).  Owned by the caller: siogate_worker_free(). */
struct siogate_worker;

/* Return values of the SDK: 0 or one of these negative codes. */
enum siogate_error {
	SIOGATE_OK = 0,
	SIOGATE_ERR_NOMEM = -1,		/* out of memory */
	SIOGATE_ERR_INVALID = -2,	/* bad argument */
	SIOGATE_ERR_ZMQ = -3,		/* ZeroMQ (or system) call failed, see errno */
	SIOGATE_ERR_PROTO = -4,		/* peer sent a bad message */
	SIOGATE_ERR_AGAIN = -5,		/* would block: queue full, retry */
	SIOGATE_ERR_NOGATEWAY = -6,	/* no gateway with that id / not connected */
	SIOGATE_ERR_STATE = -7,		/* call not allowed now (e.g. serve after connect) */
	SIOGATE_ERR_JSON = -8,		/* JSON text that does not parse, has the
					   wrong shape, nests too deep or has a
					   bad placeholder */
};

/*
 * Codes a gateway puts in its ERROR messages, handed to the error callback
 * (the same numbers as siogate-protocol(7)).
 */
enum siogate_bridge_error {
	SIOGATE_BR_BAD_MESSAGE = 1,	/* the gateway could not decode our message */
	SIOGATE_BR_BAD_VERSION = 2,	/* protocol version mismatch */
	SIOGATE_BR_UNKNOWN_TYPE = 3,	/* message type unknown to the gateway */
	SIOGATE_BR_NOT_REGISTERED = 4,	/* handled by the SDK (it says HELLO again) */
	SIOGATE_BR_UNKNOWN_SID = 5,	/* the session is gone; sid says which */
	SIOGATE_BR_TOO_LARGE = 6,	/* payload above the gateway's maximum */
	SIOGATE_BR_NOT_SERVED = 7,	/* a served path is not offered by the gateway */
	SIOGATE_BR_NO_WORKER = 8,	/* no worker could take an event */
};

/* A static English description of a SIOGATE_* code; never NULL. */
const char *siogate_strerror(int err);

/* A name/value pair of the handshake (NUL-terminated). */
struct siogate_header {
	const char *name;
	const char *value;
};

/*
 * The HTTP request that opened an Engine.IO session.  Strings are "" when
 * the gateway did not send them; header names are lower-case.
 */
struct siogate_handshake {
	const char *url;		/* request target, "/engine.io/?EIO=4&..." */
	const char *addr;		/* client "ip:port" */
	const char *transport;		/* "polling" or "websocket" */
	uint64_t time_ms;		/* ms since the epoch */
	const struct siogate_header *headers;
	size_t nheaders;
	const struct siogate_header *query;	/* decoded query parameters */
	size_t nquery;
};

/* ---- Socket.IO values ---- */

/* A binary value: len bytes at p.  The caller owns the bytes. */
struct siogate_bin {
	const void *p;
	size_t len;
};

/*
 * Limits of one Socket.IO value: the gateway's defaults (siogate(8)
 * --max-attachments, --max-depth), checked before anything is sent.
 */
#define SIOGATE_MAX_BINS 64	/* attachments of one packet */
#define SIOGATE_MAX_DEPTH 30	/* levels of nesting, the args array included */
#define SIOGATE_ID_LEN 24	/* bytes of a socket id (and of a sid) */

/*
 * A client asked to join a namespace the worker serves.  When reply is
 * nonzero, answer exactly once with siogate_accept() or siogate_reject(),
 * now or later (the gateway gives up after its connect timeout and the
 * client gets an error); a worker without a sio_connect callback accepts
 * every client.  When reply is 0 the namespace is open
 * (siogate_worker_serve_nsp(..., 1)): the socket is already connected and
 * this is a notice.
 */
struct siogate_connect {
	const char *sid;		/* the Engine.IO session */
	const char *id;			/* the socket id (the client's socket.id) */
	const char *nsp;		/* "/" or "/chat" */
	const char *auth;		/* the client's auth payload as JSON;
					   "null" when it sent none */
	const struct siogate_bin *bins;	/* binary values of auth */
	size_t nbins;
	int reply;			/* 1: siogate_accept()/_reject() due */
	const struct siogate_handshake *hs;
	int recovered;			/* 1 (reply 0): the socket came back on a new
					   session (connection state recovery) */
	int lost;			/* 1: the client asked to recover a socket
					   that could not be; this one is new */
};

/* An event from a client. */
struct siogate_event {
	const char *id;			/* the socket */
	const char *nsp;
	const char *ev;			/* event name */
	const char *args;		/* the arguments, a JSON array ("[]") */
	const struct siogate_bin *bins;	/* binary values of args */
	size_t nbins;
	int has_ack;			/* the client waits for siogate_ack() */
	uint64_t ack;			/* its ack id (0 is a valid id) */
	const char *session;		/* the socket's session data, a JSON
					   object; NULL if it holds binary */
	const char *const *rooms;	/* NULL-terminated: the socket's rooms,
					   without its own id room */
	size_t nrooms;
};

/* How an awaited answer (client ack, query result) ended. */
enum siogate_status {
	SIOGATE_STATUS_OK = 0,		/* answered: the JSON is given */
	SIOGATE_STATUS_TIMEOUT = 1,	/* no answer in time */
	SIOGATE_STATUS_DISCONNECTED = 2, /* the socket went away first */
	SIOGATE_STATUS_GONE = 3,	/* the gateway was lost, restarted or
					   refused the request */
	SIOGATE_STATUS_CANCELLED = 4,	/* siogate_worker_free() */
};

/*
 * The answer to siogate_emit_ack(): args (a JSON array) and bins when
 * status is SIOGATE_STATUS_OK, else args is NULL and nbins 0.  Called
 * exactly once per successful siogate_emit_ack().
 */
typedef void (*siogate_ack_cb)(struct siogate_worker *w, const char *id,
    int status, const char *args, const struct siogate_bin *bins,
    size_t nbins, void *ud);

/*
 * The same with the namespace of the socket asked (nsp as given to
 * siogate_emit_ack_nsp(), "/" for NULL), for one callback serving several
 * namespaces.
 */
typedef void (*siogate_ack_nsp_cb)(struct siogate_worker *w, const char *id,
    const char *nsp, int status, const char *args,
    const struct siogate_bin *bins, size_t nbins, void *ud);

/*
 * The answer to siogate_query(): result is a JSON array, the answers of
 * every gateway that answered merged ("[]" when none did).  status is
 * SIOGATE_STATUS_OK when all asked answered, TIMEOUT or GONE when some did
 * not (result then holds what came), CANCELLED (result NULL).  Called
 * exactly once per successful siogate_query().
 */
typedef void (*siogate_query_cb)(struct siogate_worker *w, int status,
    const char *result, void *ud);

/*
 * The answer to siogate_sync(): SIOGATE_STATUS_OK when every gateway asked
 * handled everything sent to it before; TIMEOUT or GONE when some did not
 * answer in time or were lost first; CANCELLED.  Called exactly once per
 * successful siogate_sync().
 */
typedef void (*siogate_sync_cb)(struct siogate_worker *w, int status,
    void *ud);

/*
 * Callbacks, each optional (NULL: ignored).  ud is the pointer given to
 * siogate_worker_new().  Every string and the handshake are copies owned by
 * the library, NUL-terminated and valid until the callback returns (bins
 * too: copy what must outlive it).  A callback may call every function of
 * this API but siogate_worker_process() and siogate_worker_run().
 */
struct siogate_callbacks {
	/* Registered with a gateway (again, after it restarted). */
	void (*welcome)(struct siogate_worker *w, const char *gateway_id,
	    void *ud);
	/* A client opened a session on path (one of the served paths). */
	void (*eio_open)(struct siogate_worker *w, const char *sid,
	    const char *path, const struct siogate_handshake *hs, void *ud);
	/* A message of a session; data[len] is a NUL for convenience. */
	void (*eio_message)(struct siogate_worker *w, const char *sid,
	    const void *data, size_t len, int binary, void *ud);
	/* The session is closed (exactly once per session opened). */
	void (*eio_close)(struct siogate_worker *w, const char *sid,
	    const char *reason, void *ud);
	/* An ERROR from a gateway: code is SIOGATE_BR_*; sid may be NULL. */
	void (*error)(struct siogate_worker *w, int code, const char *text,
	    const char *sid, void *ud);
	/* Socket.IO: a client joins a served namespace (see above). */
	void (*sio_connect)(struct siogate_worker *w,
	    const struct siogate_connect *c, void *ud);
	/* Socket.IO: an event of a socket this worker accepted. */
	void (*sio_event)(struct siogate_worker *w,
	    const struct siogate_event *e, void *ud);
	/*
	 * Socket.IO: a connected socket is gone, exactly once per accepted
	 * socket.  reason as Socket.IO names it ("client namespace
	 * disconnect", "transport close", "ping timeout", ...).
	 */
	void (*sio_disconnect)(struct siogate_worker *w, const char *id,
	    const char *nsp, const char *reason, void *ud);
};

/*
 * Create a worker.  cb is copied (NULL: no callbacks).  Defaults: no name,
 * credit 256, heartbeat 2000 ms.  SIOGATE_OK with *out set; NOMEM; ZMQ.
 */
int siogate_worker_new(struct siogate_worker **out,
    const struct siogate_callbacks *cb, void *ud);
/*
 * Say BYE to every connected gateway, close the sockets and free w (may
 * block up to 100 ms to flush the BYEs).  Answers still awaited (see
 * siogate_emit_ack(), siogate_query()) end first: their callbacks run with
 * SIOGATE_STATUS_CANCELLED, and any call they make fails INVALID.  NULL is
 * a no-op.  From inside a callback, the free happens when
 * siogate_worker_process() returns.
 */
void siogate_worker_free(struct siogate_worker *w);

/*
 * Settings sent in HELLO: call them before the first connect (then
 * SIOGATE_ERR_STATE).  name: up to 255 bytes, NULL clears.  credit: events
 * the gateway may have in flight to this worker, 0 for a write-only
 * emitter.  ms: heartbeat interval, 10..600000, 0 for the default.
 * Return SIOGATE_OK, INVALID, STATE or NOMEM.
 */
int siogate_worker_set_name(struct siogate_worker *w, const char *name);
int siogate_worker_set_credit(struct siogate_worker *w, unsigned credit);
int siogate_worker_set_heartbeat(struct siogate_worker *w, unsigned ms);
/*
 * ordered nonzero (the default): the gateway sends a socket's next event
 * only once this worker returned the credit for the previous one, so each
 * event carries the session and rooms the previous callbacks left.  0: it
 * sends them as they come (more throughput for one socket that streams
 * events, for handlers that do not depend on what earlier events changed).
 * Before the first connect: SIOGATE_OK, INVALID, STATE.
 */
int siogate_worker_set_ordered(struct siogate_worker *w, int ordered);
/*
 * ZeroMQ CURVE for the connections made after this call: the gateway's
 * public key and this worker's key pair, each 40 z85 characters (see
 * siogate --curve-keygen).  NULL arguments fall back to the environment
 * ($SIOGATE_CURVE_SERVERKEY, $SIOGATE_CURVE_PUBLICKEY,
 * $SIOGATE_CURVE_SECRETKEY); without a server key, CURVE stays off.
 * siogate_worker_connect() reads the environment by itself when this was
 * never called, so supervised or unmodified workers can use CURVE.
 * SIOGATE_OK, INVALID (a key that is not 40 characters).
 */
int siogate_worker_set_curve(struct siogate_worker *w, const char *server_public,
    const char *public_key, const char *secret_key);
/*
 * Serve the raw Engine.IO endpoint path ("/engine.io/"): starts with '/',
 * up to 255 bytes.  Repeatable; before the first connect.
 * SIOGATE_OK, INVALID, STATE, NOMEM.
 */
int siogate_worker_serve_eio(struct siogate_worker *w, const char *path);
/*
 * Serve the Socket.IO namespace nsp: "/chat", a prefix pattern "/dyn-*",
 * or "*" for every namespace; up to 255 bytes.  open nonzero: the gateway
 * accepts every client at once and sio_connect only notifies (reply 0).
 * Repeatable (serving a namespace again updates open); before the first
 * connect.  SIOGATE_OK, INVALID, STATE, NOMEM.
 */
int siogate_worker_serve_nsp(struct siogate_worker *w, const char *nsp,
    int open);
/*
 * Connect to a gateway's bridge endpoint (tcp://host:port or ipc://path;
 * NULL: $SIOGATE_ENDPOINT, else SIOGATE_DEFAULT_ENDPOINT) and say HELLO.
 * Returns at once: registration completes in siogate_worker_process()
 * (the welcome callback).  Repeatable, one socket per gateway.  A gateway
 * that runs several event loops (threads = N) lists every loop's endpoint
 * in WELCOME; the SDK connects to the others by itself.
 * SIOGATE_OK, INVALID (NULL w, empty or already connected endpoint),
 * NOMEM, ZMQ (malformed endpoint: errno EINVAL, EPROTONOSUPPORT, ...).
 */
int siogate_worker_connect(struct siogate_worker *w, const char *endpoint);
/*
 * How many gateway connections have not registered (no WELCOME yet, or
 * lost and not back): 0 when every one is ready, including the loops
 * connected by themselves.  SIOGATE_ERR_INVALID for NULL w.
 */
int siogate_worker_pending(const struct siogate_worker *w);

/*
 * The one file descriptor to watch for readability (an epoll fd over every
 * socket, always the same).  SIOGATE_ERR_INVALID for NULL w.
 */
int siogate_worker_fd(struct siogate_worker *w);
/*
 * Milliseconds until siogate_worker_process() is due even if the fd stays
 * quiet (heartbeats, HELLO retries); -1 when nothing is scheduled (not
 * connected).  0: call it now.
 */
int siogate_worker_timeout(struct siogate_worker *w);
/*
 * Do all pending work without blocking: read every socket until it is
 * empty, run the callbacks, return credit, send heartbeats and HELLOs.
 * SIOGATE_OK; PROTO when a gateway sent a bad message (it was dropped and
 * answered with ERROR; the worker stays usable); NOMEM; ZMQ; STATE when
 * called from a callback.
 */
int siogate_worker_process(struct siogate_worker *w);
/*
 * Loop on poll(2) and siogate_worker_process() until siogate_worker_stop()
 * (SIOGATE_OK) or a NOMEM/ZMQ error (returned).  PROTO does not stop it.
 */
int siogate_worker_run(struct siogate_worker *w);
/* Make siogate_worker_run() return.  Async-signal-safe; NULL is a no-op. */
void siogate_worker_stop(struct siogate_worker *w);

/*
 * Send one message to the session sid (text when binary is 0, else
 * binary).  Routed to the gateway whose id prefixes sid.  Does not block.
 * SIOGATE_OK (queued), INVALID (NULL argument, len above 64 MiB),
 * NOGATEWAY (no connected gateway issued sid), AGAIN (queue full: retry
 * later), NOMEM, ZMQ.
 */
int siogate_eio_send(struct siogate_worker *w, const char *sid,
    const void *data, size_t len, int binary);
/*
 * Send one message to many sessions: encoded once per gateway (sids may
 * span gateways).  Every gateway that can be reached gets its share; the
 * return is the first failure met (NOGATEWAY when some sid has no
 * connected gateway), SIOGATE_OK when all were queued.  nsids 0 is a no-op.
 */
int siogate_eio_send_many(struct siogate_worker *w, const char *const *sids,
    size_t nsids, const void *data, size_t len, int binary);
/*
 * Ask the gateway to close the session sid; the eio_close callback follows
 * with reason "forced close".  Returns as siogate_eio_send().
 */
int siogate_eio_close(struct siogate_worker *w, const char *sid);

/* ---- Socket.IO commands (siogate_accept(3), siogate_emit(3), ...) ----
 *
 * Common rules.  w, id, nsp, ev are NUL-terminated; nsp NULL means "/".
 * JSON arguments are NUL-terminated text; bins[0..nbins) are the binary
 * values their placeholders name (at most SIOGATE_MAX_BINS, NULL/0 when
 * there are none; a bin no placeholder names is not sent).  An object
 * with "_placeholder": true always names a bin: one naming no bin is
 * SIOGATE_ERR_JSON.  Nothing is kept after
 * the call returns: the message is encoded at once.  A command for one
 * socket goes to the gateway whose id prefixes the socket id; a command
 * for rooms or a namespace goes to every registered gateway.  None blocks.
 * Return SIOGATE_OK (queued) or INVALID (bad argument), JSON (bad JSON
 * text), NOGATEWAY (no registered gateway for that id, or none at all),
 * AGAIN (a send queue is full: retry later), NOMEM, ZMQ.  For commands
 * sent to several gateways, every reachable one gets it and the first
 * failure is returned.
 */

/* A set of sockets: ids and/or room names, NULL-terminated lists. */
struct siogate_target {
	const char *const *to;		/* NULL or empty: the whole namespace */
	const char *const *except;	/* NULL: none */
};

/*
 * Answer sio_connect.  accept: session is the initial session data (a
 * JSON object, NULL for {}), rooms a NULL-terminated list of rooms to
 * join at once (NULL for none); the client then gets its socket id.
 * reject: data (any JSON, NULL for {"message":"Not authorized"}) is what
 * the client's connect_error sees (an object is passed as is, as Node
 * does).  See siogate_accept(3).
 */
int siogate_accept(struct siogate_worker *w, const char *id,
    const char *session, const char *const *rooms);
int siogate_reject(struct siogate_worker *w, const char *id,
    const char *data);

/*
 * Answer an event's ack (e->has_ack, e->ack) with args, a JSON array
 * (NULL for []).  See siogate_ack(3).
 */
int siogate_ack(struct siogate_worker *w, const char *id, const char *nsp,
    uint64_t ack, const char *args, const struct siogate_bin *bins,
    size_t nbins);

/*
 * Emit event ev with args (a JSON array, NULL for []) to the sockets of
 * nsp named by to (NULL: every socket of nsp).  See siogate_emit(3).
 */
int siogate_emit(struct siogate_worker *w, const char *nsp,
    const struct siogate_target *to, const char *ev, const char *args,
    const struct siogate_bin *bins, size_t nbins);
/*
 * The same as a volatile emit (Node's io.volatile.emit()): a recipient
 * whose connection is backed up skips the event instead of queueing it.
 */
int siogate_emit_volatile(struct siogate_worker *w, const char *nsp,
    const struct siogate_target *to, const char *ev, const char *args,
    const struct siogate_bin *bins, size_t nbins);
/*
 * Emit to the one socket id and ask it for an ack: cb is called exactly
 * once (unless this returns an error), with the client's answer or a
 * status saying why there is none.  timeout_ms 0: 10000.  A socket id of
 * a gateway this worker is not connected to goes through a connected
 * gateway that is a cluster node, which forwards it over Redis.
 */
int siogate_emit_ack(struct siogate_worker *w, const char *nsp,
    const char *id, const char *ev, const char *args,
    const struct siogate_bin *bins, size_t nbins, unsigned timeout_ms,
    siogate_ack_cb cb, void *ud);
/* siogate_emit_ack() whose callback is also told the namespace. */
int siogate_emit_ack_nsp(struct siogate_worker *w, const char *nsp,
    const char *id, const char *ev, const char *args,
    const struct siogate_bin *bins, size_t nbins, unsigned timeout_ms,
    siogate_ack_nsp_cb cb, void *ud);

/*
 * Rooms and sockets (siogate_join(3)).  to is a NULL-terminated list of
 * socket ids and/or rooms; rooms a NULL-terminated list of room names.
 * join/leave: every socket named by to joins/leaves every room.
 * disconnect: every socket named by to is disconnected (the client gets a
 * namespace disconnect; close nonzero closes its whole connection); the
 * sio_disconnect callback follows with "server namespace disconnect".
 * set_session: replace (merge 0) or update (merge nonzero) the session
 * data of socket id with session, a JSON object.
 */
int siogate_join(struct siogate_worker *w, const char *nsp,
    const char *const *to, const char *const *rooms);
int siogate_leave(struct siogate_worker *w, const char *nsp,
    const char *const *to, const char *const *rooms);
int siogate_disconnect(struct siogate_worker *w, const char *nsp,
    const char *const *to, int close);
int siogate_set_session(struct siogate_worker *w, const char *id,
    const char *nsp, const char *session, int merge);

/*
 * Ask every registered gateway about nsp (siogate_query(3)).  what is
 * "sockets" (result: a JSON array of {"id","rooms","session","addr"},
 * like fetchSockets()) or "rooms" (a JSON array of room names with
 * members, without the sockets' own id rooms); to (NULL-terminated ids
 * and/or rooms, NULL for all) restricts it.  cb is called exactly once
 * (unless this returns an error) when every gateway answered, or at
 * timeout_ms (0: 10000).
 */
int siogate_query(struct siogate_worker *w, const char *nsp,
    const char *what, const char *const *to, unsigned timeout_ms,
    siogate_query_cb cb, void *ud);

/*
 * A barrier (siogate_sync(3)): cb is called once every usable gateway has
 * handled everything this worker sent it before the call (errors about it
 * came first, through the error callback), or at timeout_ms (0: 10000).
 * A gateway too old for SYNC is asked an empty query instead.
 */
int siogate_sync(struct siogate_worker *w, unsigned timeout_ms,
    siogate_sync_cb cb, void *ud);

/* ---- Server-side events (siogate_server_emit(3)) ----
 * Node's serverSideEmit(): events between the servers of a cluster, not
 * to clients.  A worker stands in for a server's code: another node's
 * event reaches one worker of the namespace per siogate node.
 */

/* Another node's server-side event (valid during the callback). */
struct siogate_server_event {
	const char *gateway;		/* the gateway it came through: answer
					   there with siogate_server_ack() */
	const char *nsp;
	const char *ev;
	const char *args;		/* a JSON array */
	const struct siogate_bin *bins;
	size_t nbins;
	int has_ack;			/* the emitter waits for an answer */
	uint64_t ack;			/* for siogate_server_ack() */
};

typedef void (*siogate_server_event_cb)(struct siogate_worker *w,
    const struct siogate_server_event *e, void *ud);

/*
 * Receive other nodes' server-side events with cb (NULL: ignore them).
 * SIOGATE_OK, INVALID.
 */
int siogate_worker_on_server_event(struct siogate_worker *w,
    siogate_server_event_cb cb);
/*
 * Send event ev with args (a JSON array, NULL for []) to the other nodes
 * of the cluster, through one registered gateway (a cluster node first).
 * Without a cluster it reaches nobody.  Returns as siogate_emit().
 */
int siogate_server_emit(struct siogate_worker *w, const char *nsp,
    const char *ev, const char *args, const struct siogate_bin *bins,
    size_t nbins);
/*
 * The same, asking every other node for an answer: cb is called exactly
 * once (unless this returns an error) with a JSON array of the answers
 * (each node's first ack argument): OK when all answered, TIMEOUT at the
 * gateway's request timeout (with the answers that came), GONE (Redis
 * unreachable, the gateway lost) or CANCELLED.  Without a cluster: "[]"
 * and OK at once.
 */
int siogate_server_emit_ack(struct siogate_worker *w, const char *nsp,
    const char *ev, const char *args, const struct siogate_bin *bins,
    size_t nbins, siogate_query_cb cb, void *ud);
/*
 * Answer a server-side event that has_ack: args (a JSON array, NULL for
 * []; only its first item crosses the cluster) to e->gateway with
 * e->ack.  SIOGATE_OK, INVALID, JSON, NOGATEWAY, AGAIN, NOMEM, ZMQ.
 */
int siogate_server_ack(struct siogate_worker *w, const char *gateway,
    uint64_t ack, const char *args, const struct siogate_bin *bins,
    size_t nbins);

#ifdef __cplusplus
}
#endif

#endif
