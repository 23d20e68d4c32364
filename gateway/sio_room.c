/*
 * sio_room.c: namespaces and rooms.  A room is an array of member sockets;
 * each socket keeps its memberships with its index in each room, so join
 * and leave are O(1) (swap-remove) and a socket leaves all rooms in
 * O(rooms).  Rooms are freed when empty.
 */
#include <stdlib.h>
#include <string.h>

#include "sio.h"

/* The namespace called name (created on demand when create is set). */
struct sio_nsp *
sio_nsp_get(struct gw *gw, const char *name, size_t n, int create)
{
	struct sio_nsp *nsp = gw_map_get(&gw->sio_nsps, name, n);

	if (nsp == NULL && create) {
		nsp = gw_xcalloc(1, sizeof *nsp);
		nsp->name = gw_xstrndup(name, n);
		nsp->nlen = n;
		gw_map_put(&gw->sio_nsps, nsp->name, n, nsp);
		if (gw->adapter != NULL)
			gw->adapter->nsp_new(gw, nsp);
	}
	return nsp;
}

static void
nsp_free_room(void *val, void *arg)
{
	struct sio_room *r = val;

	free(r->name);
	free(r->m);
	free(r);
}

static void
nsp_free_one(void *val, void *arg)
{
	struct sio_nsp *nsp = val;

	gw_map_each(&nsp->rooms, nsp_free_room, NULL);
	gw_map_free(&nsp->rooms);
	free(nsp->all);
	free(nsp->name);
	free(nsp);
}

/* Free every namespace (shutdown, after every socket is gone). */
void
sio_nsps_free(struct gw *gw)
{
	gw_map_each(&gw->sio_nsps, nsp_free_one, NULL);
	gw_map_free(&gw->sio_nsps);
}

/* List a connected socket in its namespace. */
void
sio_nsp_add(struct sio_socket *so)
{
	struct sio_nsp *nsp = so->nsp;

	if (nsp->n == nsp->cap) {
		nsp->cap = nsp->cap ? nsp->cap * 2 : 16;
		nsp->all = gw_xrealloc(nsp->all, nsp->cap * sizeof *nsp->all);
	}
	so->nsp_idx = nsp->n;
	nsp->all[nsp->n++] = so;
}

/* Unlist a socket from its namespace (swap-remove). */
void
sio_nsp_remove(struct sio_socket *so)
{
	struct sio_nsp *nsp = so->nsp;
	struct sio_socket *last = nsp->all[--nsp->n];

	nsp->all[so->nsp_idx] = last;
	last->nsp_idx = so->nsp_idx;
	if (nsp->n == 0) {
		free(nsp->all);
		nsp->all = NULL;
		nsp->cap = 0;
	}
}

/* Join a room; 0, or -1 if already a member. */
int
sio_room_join(struct sio_socket *so, const char *name, size_t n)
{
	struct sio_nsp *nsp = so->nsp;
	struct sio_room *r = gw_map_get(&nsp->rooms, name, n);
	uint32_t i;

	if (n == SIO_ID_LEN && memcmp(name, so->id, n) == 0)
		return -1;	/* its own room, always a member */
	if (so->nrooms >= so->conn->eio->gw->conf.max_rooms) {
		gw_warn("socket %s: room limit (%u) reached, not joining more",
		    so->id, so->conn->eio->gw->conf.max_rooms);
		return -2;
	}
	if (r == NULL) {
		r = gw_xcalloc(1, sizeof *r);
		r->name = gw_xstrndup(name, n);
		gw_map_put(&nsp->rooms, r->name, n, r);
	}
	for (i = 0; i < so->nrooms; i++) {
		if (so->rooms[i].r == r)
			return -1;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 4;
		r->m = gw_xrealloc(r->m, r->cap * sizeof *r->m);
	}
	if (so->nrooms == so->caprooms) {
		so->caprooms = so->caprooms ? so->caprooms * 2 : 2;
		so->rooms = gw_xrealloc(so->rooms, so->caprooms * sizeof *so->rooms);
	}
	so->rooms[so->nrooms++] = (struct sio_member){ r, r->n };
	r->m[r->n++] = so;
	return 0;
}

/* Remove membership i of a socket. */
static void
room_leave_at(struct sio_socket *so, uint32_t i)
{
	struct sio_member mb = so->rooms[i];
	struct sio_room *r = mb.r;
	struct sio_socket *last = r->m[--r->n];
	uint32_t j;

	/* Swap the room's last member into the hole and fix its index. */
	r->m[mb.idx] = last;
	for (j = 0; j < last->nrooms; j++) {
		if (last->rooms[j].r == r) {
			last->rooms[j].idx = mb.idx;
			break;
		}
	}
	so->rooms[i] = so->rooms[--so->nrooms];
	if (r->n == 0) {
		gw_map_del(&so->nsp->rooms, r->name, strlen(r->name));
		free(r->name);
		free(r->m);
		free(r);
	}
}

/* Leave a room; 0, or -1 if not a member. */
int
sio_room_leave(struct sio_socket *so, const char *name, size_t n)
{
	uint32_t i;

	for (i = 0; i < so->nrooms; i++) {
		const char *rn = so->rooms[i].r->name;

		if (strlen(rn) == n && memcmp(rn, name, n) == 0) {
			room_leave_at(so, i);
			return 0;
		}
	}
	return -1;
}

/* Leave every room. */
void
sio_room_leave_all(struct sio_socket *so)
{
	while (so->nrooms > 0)
		room_leave_at(so, so->nrooms - 1);
	free(so->rooms);
	so->rooms = NULL;
	so->caprooms = 0;
}

/* Mark (with the current stamp) the sockets named by one target string. */
static void
mark_target(struct gw *gw, struct sio_nsp *nsp, const msgpack_object *t,
    void (*fn)(struct sio_socket *, void *), void *arg, uint32_t *count)
{
	struct sio_socket *so;
	struct sio_room *r;
	uint32_t i;

	if (t->type != MSGPACK_OBJECT_STR)
		return;
	so = sio_socket_find(gw, t->via.str.ptr, t->via.str.size);
	if (so != NULL && so->nsp == nsp && so->state == SIO_S_CONNECTED) {
		if (so->mark != gw->sio_stamp) {
			so->mark = gw->sio_stamp;
			if (fn != NULL) {
				fn(so, arg);
				(*count)++;
			}
		}
		return;
	}
	r = gw_map_get(&nsp->rooms, t->via.str.ptr, t->via.str.size);
	for (i = 0; r != NULL && i < r->n; i++) {
		so = r->m[i];
		if (so->mark == gw->sio_stamp)
			continue;
		so->mark = gw->sio_stamp;
		if (fn != NULL) {
			fn(so, arg);
			(*count)++;
		}
	}
}

/* Call fn once for every socket named by `to` and not by `except`. */
uint32_t
sio_targets(struct gw *gw, struct sio_nsp *nsp, const msgpack_object *to,
    const msgpack_object *except, void (*fn)(struct sio_socket *, void *), void *arg)
{
	uint32_t i, count = 0, dummy = 0;

	if (nsp == NULL)
		return 0;
	/* A fresh stamp: marked sockets are excluded or already visited. */
	if (++gw->sio_stamp == 0) {
		for (i = 0; i < nsp->n; i++)
			nsp->all[i]->mark = 0;
		gw->sio_stamp = 1;
	}
	if (except != NULL && except->type == MSGPACK_OBJECT_ARRAY) {
		for (i = 0; i < except->via.array.size; i++)
			mark_target(gw, nsp, &except->via.array.ptr[i], NULL, NULL, &dummy);
	}
	if (to == NULL || to->type != MSGPACK_OBJECT_ARRAY || to->via.array.size == 0) {
		/* fn may not change the namespace's list while we walk it. */
		for (i = 0; i < nsp->n; i++) {
			struct sio_socket *so = nsp->all[i];

			if (so->mark != gw->sio_stamp) {
				so->mark = gw->sio_stamp;
				fn(so, arg);
				count++;
			}
		}
		return count;
	}
	for (i = 0; i < to->via.array.size; i++)
		mark_target(gw, nsp, &to->via.array.ptr[i], fn, arg, &count);
	return count;
}
