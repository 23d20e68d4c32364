/*
 * gw_tlist.c: deadlines of one fixed duration (see gw_tlist.h).
 *
 * Invariant: while a class has nodes, its ev_timer is active and due no
 * later than the earliest deadline (tl->due).  Stopping a node does not
 * touch the timer: when the earliest node goes, the timer fires at the old
 * deadline, finds nothing due and is armed again for the new earliest one
 * (at most one early wakeup per class per expiry of the timer).
 *
 * Both lists are sorted by deadline.  `cur` is because its nodes were armed
 * in time order with a duration that never shrank since the list began (a
 * longer duration puts new deadlines after the old ones).  When the duration
 * shrinks, new deadlines would come before the waiting ones: those move to
 * `old` first (merged with what is already there), so each list stays
 * sorted, and the timer serves the earlier of the two heads.
 */
#include <time.h>

#include "gw_tlist.h"

static void tlist_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

double
gw_tlist_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
sentinel_init(struct gw_tnode *s)
{
	s->prev = s->next = s;
	s->at = 0;
}

void
gw_tlist_init(struct gw_tlist *tl, struct ev_loop *loop, double after, gw_tlist_cb cb,
    void *data)
{
	sentinel_init(&tl->cur);
	sentinel_init(&tl->old);
	tl->after = after;
	tl->loop = loop;
	tl->cb = cb;
	tl->data = data;
	tl->due = 0;
	ev_init(&tl->t, tlist_timer_cb);
	tl->t.data = tl;
}

/* Insert n before p. */
static void
insert_before(struct gw_tnode *p, struct gw_tnode *n)
{
	n->prev = p->prev;
	n->next = p;
	p->prev->next = n;
	p->prev = n;
}

/* The node with the earliest deadline, or NULL. */
static struct gw_tnode *
earliest(struct gw_tlist *tl)
{
	struct gw_tnode *a = tl->cur.next, *b = tl->old.next;

	if (a == &tl->cur)
		return b == &tl->old ? NULL : b;
	if (b == &tl->old || a->at <= b->at)
		return a;
	return b;
}

/* Set the class's timer for deadline at. */
static void
schedule(struct gw_tlist *tl, double at, double now)
{
	tl->due = at;
	ev_timer_stop(tl->loop, &tl->t);
	ev_timer_set(&tl->t, at > now ? at - now : 0., 0.);
	ev_timer_start(tl->loop, &tl->t);
}

void
gw_tlist_stop(struct gw_tnode *n)
{
	if (n->prev == NULL)
		return;
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = NULL;
}

void
gw_tlist_arm(struct gw_tlist *tl, struct gw_tnode *n)
{
	double now = gw_tlist_now();

	gw_tlist_stop(n);
	n->at = now + tl->after;
	insert_before(&tl->cur, n);
	/* Later than the timer, except when the list was empty or the duration shrank. */
	if (!ev_is_active(&tl->t) || n->at < tl->due)
		schedule(tl, n->at, now);
}

void
gw_tlist_set(struct gw_tlist *tl, double after)
{
	struct gw_tnode *p, *n;

	if (after == tl->after)
		return;
	if (after < tl->after && tl->cur.next != &tl->cur) {
		/* Merge cur into old (both sorted); cur starts again empty. */
		p = tl->old.next;
		while ((n = tl->cur.next) != &tl->cur) {
			gw_tlist_stop(n);
			while (p != &tl->old && p->at <= n->at)
				p = p->next;
			insert_before(p, n);
		}
	}
	tl->after = after;
	/* Arms from now on compare against due: keep it exact. */
	n = earliest(tl);
	if (n != NULL)
		schedule(tl, n->at, gw_tlist_now());
	else
		ev_timer_stop(tl->loop, &tl->t);
}

void
gw_tlist_destroy(struct gw_tlist *tl)
{
	ev_timer_stop(tl->loop, &tl->t);
}

/* Run every deadline that is due, in order; then wait for the next one. */
static void
tlist_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gw_tlist *tl = w->data;
	double now = gw_tlist_now();
	struct gw_tnode *n;

	(void)loop;
	(void)revents;
	/*
	 * Nodes armed by the callbacks are due after now (the duration is
	 * positive), so this ends.  A callback may stop, arm or free any node.
	 */
	while ((n = earliest(tl)) != NULL && n->at <= now) {
		gw_tlist_stop(n);
		tl->cb(tl, n);
	}
	if (n != NULL)
		schedule(tl, n->at, now);
}
