/*
 * tlist_test.c: deadline classes (gateway/gw_tlist.c) on a real libev loop
 * with short durations: order, never early, stop, re-arm and moves between
 * classes from callbacks, duration changes (a reload), and a random mix
 * checked against a model.
 */
#include <stdlib.h>
#include <string.h>

#include "gw_tlist.h"
#include "tap.h"

struct item {
	struct gw_tnode n;
	int id;
	int fired;		/* times its callback ran */
	int armed;		/* 1 while the test expects it to fire */
	int rearm;		/* re-arm itself this many more times */
	double fired_at;
	struct item *kill;	/* stop this one from the callback */
	struct gw_tlist *move;	/* arm on this class from the callback (once) */
};

static struct ev_loop *loop;
static int pending;		/* fires still expected: the loop stops at 0 */
static int early, unexpected, order_bad;
static double max_late;
#define N 2000

static int *seq, nseq;		/* ids in firing order */
static double last_at[2];

static void
stop_when_done(void)
{
	if (pending == 0)
		ev_break(loop, EVBREAK_ALL);
}

/* data is the class index (0 or 1), for the order check. */
static void
item_cb(struct gw_tlist *tl, struct gw_tnode *n)
{
	struct item *it = GW_TNODE_OWNER(n, struct item, n);
	double now = gw_tlist_now();
	int k = (int)(long)tl->data;

	if (now < n->at)
		early++;
	if (now - n->at > max_late)
		max_late = now - n->at;
	if (n->at < last_at[k])
		order_bad++;
	last_at[k] = n->at;
	if (!it->armed)
		unexpected++;
	it->fired++;
	it->fired_at = now;
	seq[nseq++] = it->id;
	if (it->kill != NULL && gw_tnode_armed(&it->kill->n)) {
		gw_tlist_stop(&it->kill->n);
		it->kill->armed = 0;
		pending--;
	}
	if (it->move != NULL) {
		struct gw_tlist *to = it->move;

		it->move = NULL;
		gw_tlist_arm(to, &it->n);
		return;
	}
	if (it->rearm > 0) {
		it->rearm--;
		gw_tlist_arm(tl, &it->n);
		return;
	}
	it->armed = 0;
	pending--;
	stop_when_done();
}

static void
watchdog_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	*(int *)w->data = 1;
	ev_break(l, EVBREAK_ALL);
}

/* Run until every expected fire happened (or 10 s): 0, or -1 on the watchdog. */
static int
run(void)
{
	ev_timer wd;
	int fired = 0;

	if (pending == 0)
		return 0;
	ev_timer_init(&wd, watchdog_cb, 10., 0.);
	wd.data = &fired;
	ev_timer_start(loop, &wd);
	ev_run(loop, 0);
	ev_timer_stop(loop, &wd);
	return fired ? -1 : 0;
}

static struct item it[N];

static void
reset(void)
{
	int i;

	for (i = 0; i < N; i++)
		it[i].fired = 0;
	early = unexpected = order_bad = 0;
	max_late = 0;
	nseq = 0;
	last_at[0] = last_at[1] = 0;
}

static void
arm(struct gw_tlist *tl, struct item *it)
{
	if (!it->armed)
		pending++;
	it->armed = 1;
	gw_tlist_arm(tl, &it->n);
}

static void
stop(struct item *it)
{
	if (it->armed)
		pending--;
	it->armed = 0;
	gw_tlist_stop(&it->n);
}

/* Whether seq is exactly ids[0..n). */
static int
seq_is(const int *ids, int n)
{
	return nseq == n && memcmp(seq, ids, (size_t)n * sizeof *ids) == 0;
}

int
main(void)
{
	struct gw_tlist a, b;
	int i, ok, r;

	loop = ev_loop_new(EVFLAG_AUTO);
	seq = calloc(16 * N, sizeof *seq);
	for (i = 0; i < N; i++)
		it[i].id = i;
	gw_tlist_init(&a, loop, 0.05, item_cb, (void *)0L);
	gw_tlist_init(&b, loop, 0.02, item_cb, (void *)1L);

	/* 1. FIFO: arm in order, re-arm some (they go to the tail), stop others. */
	reset();
	for (i = 0; i < 1000; i++)
		arm(&a, &it[i]);
	for (i = 0; i < 1000; i += 10)
		arm(&a, &it[i]);		/* re-armed: now last */
	for (i = 5; i < 1000; i += 10)
		stop(&it[i]);
	r = run();
	ok = r == 0 && nseq == 900;
	{
		int k = 0, j;

		for (j = 1; j < 1000 && ok; j++)
			if (j % 10 != 0 && j % 10 != 5)
				ok = seq[k++] == j;
		for (j = 0; j < 1000 && ok; j += 10)
			ok = seq[k++] == j;
	}
	tap_ok(ok, "1000 deadlines fire in the order they were set, re-armed ones last, "
	    "stopped ones never (%d fired)", nseq);
	tap_ok(early == 0 && unexpected == 0 && order_bad == 0,
	    "none early (%d), none stopped (%d), deadlines in order (%d)", early, unexpected,
	    order_bad);
	tap_ok(max_late < 1.0, "latest fire %.1f ms after its deadline", max_late * 1000);
	tap_ok(!ev_is_active(&a.t), "the class's timer stops when nothing is left");

	/* 2. From a callback: stop a node that is due too; re-arm itself; move to another class. */
	reset();
	it[0].kill = &it[1];
	it[2].rearm = 3;
	it[3].move = &b;
	for (i = 0; i < 5; i++)
		arm(&a, &it[i]);
	r = run();
	{
		/* 0 (kills 1), 2 (re-armed), 3 (to b, 20 ms), 4; then 3 again; 2 three more times. */
		static const int want[] = { 0, 2, 3, 4, 3, 2, 2, 2 };

		tap_ok(r == 0 && seq_is(want, 8) && it[1].fired == 0,
		    "a callback stops a due node, re-arms itself, moves to another class");
	}
	tap_ok(early == 0 && unexpected == 0, "none early (%d) or unexpected (%d)", early,
	    unexpected);
	it[0].kill = NULL;

	/* 3. Longer duration (a reload): deadlines already set keep theirs. */
	reset();
	gw_tlist_set(&a, 0.02);
	arm(&a, &it[0]);
	gw_tlist_set(&a, 0.2);
	arm(&a, &it[1]);
	r = run();
	tap_ok(r == 0 && seq[0] == 0 && seq[1] == 1 &&
	    it[1].fired_at - it[0].fired_at > 0.1,
	    "a longer duration applies to later deadlines only (%.0f ms apart)",
	    (it[1].fired_at - it[0].fired_at) * 1000);

	/* 4. Shorter durations: new deadlines overtake the waiting ones, which keep theirs. */
	reset();
	gw_tlist_set(&a, 0.4);
	arm(&a, &it[0]);
	arm(&a, &it[1]);
	gw_tlist_set(&a, 0.3);
	arm(&a, &it[2]);
	gw_tlist_set(&a, 0.2);		/* merges 2 into 0, 1 */
	arm(&a, &it[3]);
	arm(&a, &it[4]);
	gw_tlist_set(&a, 0.1);		/* merges 3, 4 */
	arm(&a, &it[5]);
	gw_tlist_set(&a, 0.5);		/* longer again: appended after 5 */
	arm(&a, &it[6]);
	stop(&it[3]);			/* stopped on the old list */
	arm(&a, &it[1]);		/* re-armed: from old to the tail, 0.5 */
	r = run();
	{
		static const int want[] = { 5, 4, 2, 0, 6, 1 };

		tap_ok(r == 0 && seq_is(want, 6), "shorter durations: each deadline kept, fired "
		    "in deadline order across the reloads");
	}
	tap_ok(early == 0 && unexpected == 0 && order_bad == 0,
	    "none early (%d), unexpected (%d) or out of order (%d)", early, unexpected, order_bad);

	/* 4b. After a shorter duration, a new deadline is not held back by the old ones. */
	reset();
	gw_tlist_set(&a, 0.3);
	arm(&a, &it[0]);
	gw_tlist_set(&a, 0.03);
	arm(&a, &it[1]);
	r = run();
	tap_ok(r == 0 && seq[0] == 1 && seq[1] == 0 && it[0].fired_at - it[1].fired_at > 0.15,
	    "a shorter deadline fires on time, %.0f ms before the older, longer one",
	    (it[0].fired_at - it[1].fired_at) * 1000);

	/* 5. A random mix on two classes, durations changing, against the model. */
	reset();
	gw_tlist_set(&a, 0.03);
	gw_tlist_set(&b, 0.01);
	srand(7);
	{
		int round;

		for (round = 0; round < 20; round++) {
			for (i = 0; i < 200; i++) {
				struct item *x = &it[rand() % N];
				int op = rand() % 10;

				if (op < 6)
					arm(op < 3 ? &a : &b, x);
				else if (op < 9)
					stop(x);
				else
					gw_tlist_set(rand() % 2 ? &a : &b, 0.005 + (rand() % 40) / 1000.0);
			}
			/* Let some of them fire between rounds: a short loop turn. */
			ev_run(loop, EVRUN_NOWAIT);
		}
	}
	r = run();
	{
		int stale = 0;

		for (i = 0; i < N; i++)
			stale += it[i].armed || gw_tnode_armed(&it[i].n);
		tap_ok(r == 0 && stale == 0, "random arms, stops and reloads: every armed node "
		    "fired, and only those (%d left)", stale);
	}
	tap_ok(early == 0 && unexpected == 0 && order_bad == 0, "random mix: none early (%d), "
	    "after a stop (%d) or out of deadline order (%d)", early, unexpected, order_bad);

	gw_tlist_destroy(&a);
	gw_tlist_destroy(&b);
	ev_loop_destroy(loop);
	free(seq);
	return tap_done();
}
