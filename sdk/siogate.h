/*
 * siogate.h: libsiogate, the C SDK for siogate handler workers.
 *
 * A worker connects to one or more siogate gateways over ZeroMQ, says which
 * raw Engine.IO paths it serves, and is then handed the sessions of those
 * paths: open, message, close.  It answers with sends and closes addressed
 * by session id.  The wire protocol is siogate-protocol(7); this API is
 * documented in libsiogate(3).
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

/*
 * Callbacks, each optional (NULL: ignored).  ud is the pointer given to
 * siogate_worker_new().  Every string and the handshake are copies owned by
 * the library, NUL-terminated and valid until the callback returns.  A
 * callback may call siogate_eio_send(), siogate_eio_send_many(),
 * siogate_eio_close(), siogate_worker_connect(), siogate_worker_stop() and
 * siogate_worker_free(); not siogate_worker_process() or _run().
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
};

/*
 * Create a worker.  cb is copied (NULL: no callbacks).  Defaults: no name,
 * credit 256, heartbeat 2000 ms.  SIOGATE_OK with *out set; NOMEM; ZMQ.
 */
int siogate_worker_new(struct siogate_worker **out,
    const struct siogate_callbacks *cb, void *ud);
/*
 * Say BYE to every connected gateway, close the sockets and free w (may
 * block up to 100 ms to flush the BYEs).  NULL is a no-op.  From inside a
 * callback, the free happens when siogate_worker_process() returns.
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
 * Serve the raw Engine.IO endpoint path ("/engine.io/"): starts with '/',
 * up to 255 bytes.  Repeatable; before the first connect.
 * SIOGATE_OK, INVALID, STATE, NOMEM.
 */
int siogate_worker_serve_eio(struct siogate_worker *w, const char *path);
/*
 * Connect to a gateway's bridge endpoint (tcp://host:port or ipc://path;
 * NULL: $SIOGATE_ENDPOINT, else SIOGATE_DEFAULT_ENDPOINT) and say HELLO.
 * Returns at once: registration completes in siogate_worker_process()
 * (the welcome callback).  Repeatable, one socket per gateway.
 * SIOGATE_OK, INVALID (NULL w, empty or already connected endpoint),
 * NOMEM, ZMQ (malformed endpoint: errno EINVAL, EPROTONOSUPPORT, ...).
 */
int siogate_worker_connect(struct siogate_worker *w, const char *endpoint);

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

#ifdef __cplusplus
}
#endif

#endif
