/*
 * gw_inbox.c: waking a loop.  Its own: gw_wake() keeps it turning (an
 * ev_idle watcher) until its next prepare step.  Another loop of the
 * process (threads = N): gw_inbox_post() puts a message in that loop's
 * inbox (under its inbox_mu) and wakes it (ev_async); gw_loops.c reads it.
 * And which loop a sid belongs to: a loop's id, which prefixes its sids,
 * ends in the loop's own character (gw_inbox_id, gw_inbox_owner).
 *
 * Infrastructure of every layer (the sessions, the bridge, connections),
 * so it calls nothing above the base.
 */
#include <stdio.h>
#include <string.h>

#include "gw.h"

/* The fourth character of loop i's id (url-safe base64, as sids). */
static const char loop_chars[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";

/* The idle watcher has done its job (the loop ran its prepare step). */
static void
wake_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	ev_idle_stop(loop, w);
}

/* Set up gw->idle (loop start). */
void
gw_wake_init(struct gw *gw)
{
	ev_idle_init(&gw->idle, wake_idle_cb);
}

/* Keep the loop turning (no sleep) until the next prepare step. */
void
gw_wake(struct gw *gw)
{
	if (!ev_is_active(&gw->idle))
		ev_idle_start(gw->loop, &gw->idle);
}

/* Loop gw's id: base, or with several loops its first three characters and the loop's. */
void
gw_inbox_id(struct gw *gw, const char *base)
{
	snprintf(gw->id, sizeof gw->id, "%s", base);
	if (gw->sh->n == 1)
		return;
	gw->id[3] = loop_chars[gw->idx];
	gw->id[4] = '\0';
}

/* The loop that owns sid, when it is another one. */
struct gw *
gw_inbox_owner(struct gw *gw, const char *sid)
{
	const char *p;

	if (gw->sh->n == 1 || strlen(sid) < 4 || memcmp(sid, gw->id, 3) != 0 ||
	    sid[3] == gw->id[3] || (p = strchr(loop_chars, sid[3])) == NULL ||
	    p - loop_chars >= gw->sh->n)
		return NULL;
	return gw->sh->loop[p - loop_chars];
}

/* Post a message to loop `to` (any thread) and wake it. */
void
gw_inbox_post(struct gw *to, const struct gw_msg *m)
{
	pthread_mutex_lock(&to->inbox_mu);
	if (to->ninbox == to->inbox_cap) {
		to->inbox_cap = to->inbox_cap ? to->inbox_cap * 2 : 16;
		to->inbox = gw_xrealloc(to->inbox, to->inbox_cap * sizeof *to->inbox);
	}
	to->inbox[to->ninbox++] = *m;
	pthread_mutex_unlock(&to->inbox_mu);
	ev_async_send(to->loop, &to->inbox_w);
}
