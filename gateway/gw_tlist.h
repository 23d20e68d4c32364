/*
 * gw_tlist.h: deadlines of one fixed duration, O(1) each.
 *
 * Every deadline of a class (the ping interval, the pong timeout, the HTTP
 * timeout, the Socket.IO connect timeout) is set to "now + the class's
 * duration", so deadlines come due in the order they were set.  A class is
 * a FIFO list of nodes (each: prev, next, its deadline) and one ev_timer
 * armed for the earliest; arming appends at the tail, stopping unlinks, both
 * O(1) and without touching libev's timer heap (the technique the libev
 * manual describes for "many timeouts with the same value").  A node is
 * 24 bytes where an ev_timer is 48 plus its heap slot.
 *
 * Ownership: a class belongs to one event loop (it hangs off that loop's
 * struct gw) and is used only from that loop's thread.  A node belongs to
 * its owner (a connection, a session) and is on at most one list at a time;
 * it must be stopped before its owner is freed or moves to another loop.
 *
 * Deadlines use CLOCK_MONOTONIC (a wall-clock step neither fires them all
 * nor holds them back).
 */
#ifndef GW_TLIST_H
#define GW_TLIST_H

#include <stddef.h>

#include <ev.h>

struct gw_tnode {
	struct gw_tnode *prev, *next;	/* NULL while not armed */
	double at;			/* deadline, CLOCK_MONOTONIC seconds */
};

struct gw_tlist;
/* A deadline came due; n is already unlinked (the callback may re-arm or free it). */
typedef void (*gw_tlist_cb)(struct gw_tlist *tl, struct gw_tnode *n);

struct gw_tlist {
	struct gw_tnode cur;	/* sentinel of the list being appended to */
	struct gw_tnode old;	/* sentinel: deadlines set before the duration shrank */
	double after;		/* the duration, seconds (> 0) */
	double due;		/* when t fires (while active) */
	struct ev_loop *loop;
	ev_timer t;		/* fires at or before the earliest deadline */
	gw_tlist_cb cb;
	void *data;		/* the caller's (struct gw) */
};

/* The owner of node n, a member named field of type T. */
#define GW_TNODE_OWNER(n, T, field) ((T *)(void *)((char *)(n) - offsetof(T, field)))

void gw_tlist_init(struct gw_tlist *tl, struct ev_loop *loop, double after, gw_tlist_cb cb,
    void *data);
/*
 * A new duration (a reload).  Deadlines already set keep theirs: the new
 * duration applies from the next arm.  O(1), or one O(n) merge when the
 * duration shrinks while older deadlines are still waiting.
 */
void gw_tlist_set(struct gw_tlist *tl, double after);
/* (Re)arm n for now + the duration (moved from any list it is on). */
void gw_tlist_arm(struct gw_tlist *tl, struct gw_tnode *n);
/* Disarm n (no-op when not armed); it may be on any class of the same loop. */
void gw_tlist_stop(struct gw_tnode *n);
/* Stop the class's timer (its nodes must be stopped or forgotten by their owners). */
void gw_tlist_destroy(struct gw_tlist *tl);
/* Whether n is armed. */
static inline int
gw_tnode_armed(const struct gw_tnode *n)
{
	return n->prev != NULL;
}
/* CLOCK_MONOTONIC, seconds. */
double gw_tlist_now(void);

#endif
