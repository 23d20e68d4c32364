/*
 * gw_cluster.h: gateways clustered over Redis, speaking the wire format of
 * @socket.io/redis-adapter 8.x (classic pub/sub) and of
 * @socket.io/redis-emitter (siogate.conf(5) [cluster]).
 *
 * Two parts:
 *   gw_cluster_msg.c  the decoders of what arrives on the channels (no
 *                     I/O, no logging: the fuzz target drives them);
 *   gw_cluster.c      one subscriber and one publisher hiredis connection
 *                     per event loop, on that loop (libev adapter).
 *
 * Each event loop is a node of its own (its own uid).  A worker command
 * that every loop of the process receives (a room emit, join, leave,
 * disconnect) is carried out by each loop locally and published by loop 0
 * only; the loops of one process ignore each other's broadcasts.
 *
 * Ownership: struct gw owns its struct gw_cluster (gw->cl); the cluster
 * owns both hiredis contexts while they live (hiredis frees a context
 * after its disconnect callback: the pointer is cleared there).
 */
#ifndef GW_CLUSTER_H
#define GW_CLUSTER_H

#include <msgpack.h>

#include "br_proto.h"

/* Request types of the adapter (RequestType in its source). */
enum gw_cluster_req_type {
	GW_CL_SOCKETS = 0, GW_CL_ALL_ROOMS = 1, GW_CL_REMOTE_JOIN = 2, GW_CL_REMOTE_LEAVE = 3,
	GW_CL_REMOTE_DISCONNECT = 4, GW_CL_REMOTE_FETCH = 5, GW_CL_SERVER_SIDE_EMIT = 6,
	GW_CL_BROADCAST = 7, GW_CL_BROADCAST_CLIENT_COUNT = 8, GW_CL_BROADCAST_ACK = 9,
};

/* The largest message taken from a channel (bigger ones are malformed). */
#define GW_CL_MAX_MSG (64u * 1024 * 1024)

/* One message as read: msgpack, or JSON converted to msgpack. Zero it to start. */
struct gw_cluster_in {
	msgpack_unpacked up;
	msgpack_sbuffer sb;	/* the msgpack made from JSON */
	int inited;
};

/*
 * Parse p[0..n): with GW_CL_IN_JSON in formats, a JSON text when it
 * starts with '{' (as the adapter decides); with GW_CL_IN_PICKLE, a Python
 * pickle when it starts with its PROTO opcode 0x80 (python-socketio);
 * else exactly one msgpack object.  0 with *root set, or -1 with *why
 * (static).  Call gw_cluster_in_free() after either.
 */
#define GW_CL_IN_JSON 1
#define GW_CL_IN_PICKLE 2
int gw_cluster_in_parse(struct gw_cluster_in *in, const char *p, size_t n, int formats,
    const msgpack_object **root, const char **why);
void gw_cluster_in_free(struct gw_cluster_in *in);

/* A broadcast: [uid, packet {type, data, nsp, id?}, opts {rooms, except, flags}]. */
struct gw_cluster_bcast {
	struct br_str uid;
	struct br_str nsp;		/* "/" when absent */
	const msgpack_object *ev;	/* data[0], a str */
	msgpack_object args;		/* data[1..], an array view */
	const msgpack_object *rooms;	/* array or NULL (all) */
	const msgpack_object *except;	/* array or NULL */
	int vol, local, has_id;
	uint64_t id;
	uint64_t timeout;		/* flags.timeout (ms), 0 if absent */
};
int gw_cluster_bcast_decode(const msgpack_object *o, struct gw_cluster_bcast *b,
    const char **why);

/* A request on prefix-request#nsp# (or a response on prefix-response#nsp#). */
struct gw_cluster_req {
	int type;
	struct br_str uid, req_id, sid, room;	/* .p NULL when absent */
	int has_opts, close;
	const msgpack_object *opts_rooms, *opts_except;	/* arrays or NULL */
	const msgpack_object *rooms;	/* the rooms to join or leave (array) */
	const msgpack_object *data;	/* SERVER_SIDE_EMIT: array */
	const msgpack_object *root;
	struct gw_cluster_bcast bc;	/* BROADCAST: packet and opts */
};
int gw_cluster_req_decode(const msgpack_object *o, struct gw_cluster_req *r, const char **why);

/*
 * A message of python-socketio's pub/sub managers (5.x): a dict with
 * "method" emit {event, data, namespace, room, skip_sid, callback},
 * disconnect {sid, namespace} or close_room {room, namespace}.  room and
 * skip_sid (a str, a list or a tuple) come as arrays of names.  close_room's
 * room is in sid.  Pickles are read with br_pickle's BR_PICKLE_MARK_TUPLES,
 * so that a tuple of data is told from a list.
 */
enum { GW_CL_PY_EMIT = 1, GW_CL_PY_DISCONNECT, GW_CL_PY_CLOSE_ROOM, GW_CL_PY_OTHER };
struct gw_cluster_py {
	int type;
	struct br_str method, event, nsp, sid;
	msgpack_object args;	/* emit: the arguments (an array view): data as one,
				   a tuple's items (pickles only: JSON has no tuples),
				   none for None */
	int tuple;		/* data was a tuple */
	const msgpack_object *room, *skip;	/* arrays or NULL */
	msgpack_object room1, skip1;	/* one-name views */
	int callback;
};
int gw_cluster_py_decode(const msgpack_object *o, struct gw_cluster_py *m, const char **why);

/*
 * gw_cluster.c: a node of the cluster; it serves Socket.IO as its adapter
 * (struct sio_adapter, set in gw->adapter by gw_cluster_start()).
 */
struct gw;
struct sio_nsp;
struct sio_socket;
/* Check a --cluster address; 0, or -1 with *why (static). */
int gw_cluster_addr_check(const char *s, const char **why);
/* Start this loop's node if configured (resolves the host once). */
int gw_cluster_start(struct gw *gw, const char **why);
void gw_cluster_stop(struct gw *gw);
/* 1 when this loop's subscriber and publisher are both connected. */
int gw_cluster_up(struct gw *gw);

#endif
