/*
 * gw_main.c: siogate's entry point: configuration, the loop, the prepare
 * step (drain the bridge, flush connections, reap), signals: SIGHUP
 * reloads, SIGTERM/SIGINT drain and stop.
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "eio_bridge.h"
#include "eio_session.h"
#include "gw_bridge.h"
#include "gw_cluster.h"
#include "gw_conn.h"
#include "sio.h"

/* The command line, kept for reloads. */
static int saved_argc;
static char **saved_argv;

/* Tell systemd (Type=notify) about a state change; no-op without it. */
void
gw_notify(const char *fmt, ...)
{
#ifdef HAVE_SYSTEMD
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	sd_notify(0, buf);
#else
	(void)fmt;
#endif
}

/* Whether a stopping gateway has delivered everything it can. */
/*
 * Whether the other loops are done (loop 0 stops the worker programs, which
 * serve every loop, only then).
 */
static int
others_drained(struct gw *gw)
{
	int n;

	if (gw->idx != 0 || gw->sh->n == 1)
		return 1;
	pthread_mutex_lock(&gw->sh->mu);
	n = gw->sh->drained;
	pthread_mutex_unlock(&gw->sh->mu);
	return n >= gw->sh->n - 1;
}

static int
drained(struct gw *gw)
{
	return gw->stopping == 2 && TAILQ_EMPTY(&gw->conns) && gw->nsess == 0 &&
	    gw_bridge_pending(gw) == 0 && gw_super_running(gw) == 0 && others_drained(gw);
}

/* Draining, phase 2: close every session and the idle connections. */
static void
stop_sessions(struct gw *gw)
{
	struct gw_conn *c, *next;

	gw->stopping = 2;
	eio_session_close_all(gw, "server shutting down");
	sio_recover_close_all(gw);	/* and the sockets kept for recovery */
	/* Idle HTTP connections go now; the others once their output is out. */
	for (c = TAILQ_FIRST(&gw->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->out.n == 0 && c->req == NULL)
			gw_conn_close(c, "shutdown");
		else
			gw_conn_close_after_write(c);
	}
	gw_wake(gw);
}

/* This loop is finished: leave ev_run; tell loop 0 (it waits for all). */
static void
loop_done(struct gw *gw)
{
	ev_break(gw->loop, EVBREAK_ALL);
	if (gw->idx == 0 || gw->done)
		return;
	gw->done = 1;
	pthread_mutex_lock(&gw->sh->mu);
	gw->sh->drained++;
	pthread_mutex_unlock(&gw->sh->mu);
	gw_inbox_post(gw->sh->loop[0], &(struct gw_msg){ .kind = GW_MSG_WAKE });
}

/* Before the loop sleeps: bridge in, client output out, free the dead. */
static void
prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct gw *gw = w->data;

	gw_loops_flush(gw);
	gw_bridge_turn(gw);
	eio_session_close_pending(gw);
	eio_session_flush_polls(gw);
	gw_conn_flush_all(gw);
	eio_session_reap(gw);
	gw_conn_reap(gw);
	/* Output flushed above may have closed sessions that told workers. */
	gw_bridge_turn(gw);
	eio_session_close_pending(gw);
	/*
	 * Draining, phase 1: sessions stay open until every event accepted
	 * before the signal was handled by its worker (nothing waiting, nothing
	 * in flight), so acks still reach their clients.  Phase 2: sessions
	 * close, clients are told to go.  Worker programs are stopped last:
	 * stopped at once, they would say BYE with events still waiting.
	 */
	if (gw->stopping == 1 && gw_bridge_unfinished(gw) == 0)
		stop_sessions(gw);
	if (gw->stopping == 2 && TAILQ_EMPTY(&gw->conns) && gw->nsess == 0 &&
	    gw_bridge_pending(gw) == 0 && others_drained(gw))
		gw_super_stop(gw);
	if (gw->stopping && drained(gw)) {
		if (gw->idx == 0)
			gw_info("drained: everything pending was delivered");
		loop_done(gw);
	}
}

/* SIGHUP: read the configuration again; apply what can change live. */
static void
reload(struct gw *gw)
{
	struct gw_conf next;
	int action, rc, i;

	gw_notify("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)(ev_time() * 1e6));
	gw_info("reloading the configuration%s%s", gw->conf.file ? " from " : "",
	    gw->conf.file ? gw->conf.file : "");
	rc = gw_conf_load(&next, saved_argc, saved_argv, &action);
	if (rc != 0) {
		gw_err("reload: the new configuration is invalid (see above); keeping the running one");
		gw_conf_free(&next);
		gw_notify("READY=1\nSTATUS=reload rejected: invalid configuration");
		return;
	}
	/* The other loops get their own copy (each owns its configuration). */
	for (i = 1; i < gw->sh->n; i++) {
		struct gw_conf *copy = gw_xcalloc(1, sizeof *copy);

		if (gw_conf_load(copy, saved_argc, saved_argv, &action) != 0) {
			/* The file changed again between two reads: say so, keep this loop's. */
			gw_err("reload: loop %d could not read the configuration again; it keeps "
			    "its running one (send SIGHUP again)", i);
			gw_conf_free(copy);
			free(copy);
			continue;
		}
		gw_inbox_post(gw->sh->loop[i], &(struct gw_msg){ .kind = GW_MSG_RELOAD, .conf = copy });
	}
	gw_conf_apply_live(&gw->conf, &next, 0);
	gw_conf_free(&next);
	gw_log_level = gw->conf.log_level;
	gw_log_json = gw->conf.log_json;
	gw_conn_limits_update(gw);
	gw_timers_update(gw);
	gw_super_reconcile(gw);
	gw_info("reload done");
	gw_notify("READY=1\nSTATUS=running (reloaded)");
}

/* A loop other than the first applies a reloaded configuration (taken). */
void
gw_main_reload_apply(struct gw *gw, struct gw_conf *next)
{
	gw_conf_apply_live(&gw->conf, next, 1);
	gw_conf_free(next);
	free(next);
	gw_conn_limits_update(gw);
	gw_timers_update(gw);
}

/*
 * The deadline classes of loop gw.  A reload changes a class's duration
 * for the deadlines set from then on; those already set keep theirs (as
 * siogate.conf(5) says: "applied to requests that start after the reload",
 * "at each session's next ping"), see gw_tlist_set().
 */
void
gw_timers_init(struct gw *gw)
{
	eio_session_timers_init(gw);
	gw_conn_timers_init(gw);
	sio_timers_init(gw);
	sio_recover_timers_init(gw);
}

void
gw_timers_update(struct gw *gw)
{
	const struct gw_conf *cf = &gw->conf;

	gw_tlist_set(&gw->t_ping, cf->ping_interval / 1000.0);
	gw_tlist_set(&gw->t_pong, cf->ping_timeout / 1000.0);
	gw_tlist_set(&gw->t_ping3, (cf->ping_interval + cf->ping_timeout) / 1000.0);
	gw_tlist_set(&gw->t_recover, cf->recovery_window / 1000.0);
	gw_tlist_set(&gw->t_http, cf->http_timeout / 1000.0);
	gw_tlist_set(&gw->t_sio_conn, cf->connect_timeout / 1000.0);
	gw_tlist_set(&gw->t_sio_sock, cf->connect_timeout / 1000.0);
}

void
gw_timers_stop(struct gw *gw)
{
	gw_tlist_destroy(&gw->t_ping);
	gw_tlist_destroy(&gw->t_pong);
	gw_tlist_destroy(&gw->t_ping3);
	gw_tlist_destroy(&gw->t_recover);
	gw_tlist_destroy(&gw->t_http);
	gw_tlist_destroy(&gw->t_sio_conn);
	gw_tlist_destroy(&gw->t_sio_sock);
}

/* Every 10 s: forget idle addresses. */
static void
sweep_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct gw *gw = t->data;

	gw->limit_logged = gw->st.limit_conns;
	if (gw->idx != 0)
		return;
	gw_ip_sweep(gw, 0);
	/* Give memory freed by gone clients back to the system (glibc keeps it otherwise). */
	malloc_trim(0);
}

static void
drain_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct gw *gw = t->data;

	if (gw->stopping == 1) {
		/* Workers did not finish in time: close the sessions now, give them a moment. */
		gw_warn("drain timeout (%u ms) with %u event(s) unfinished by workers; closing sessions",
		    gw->conf.drain_timeout, gw_bridge_unfinished(gw));
		stop_sessions(gw);
		ev_timer_set(&gw->drain_t, 1.0, 0.);
		ev_timer_start(loop, &gw->drain_t);
		return;
	}

	gw_warn("drain timeout (%u ms): stopping with %u connection(s) and %u event(s) pending",
	    gw->conf.drain_timeout, gw->nconns, gw_bridge_pending(gw));
	loop_done(gw);
}

/*
 * SIGTERM/SIGINT: stop accepting; let workers finish the events accepted
 * so far (their acks still reach clients); then close every session
 * (clients are told to go, so the official clients reconnect elsewhere or
 * later; workers hear "server shutting down") and keep the loop turning
 * until what is queued reached clients and workers, or the drain timeout.
 */
void
gw_main_stop(struct gw *gw, int now)
{
	if (now) {
		loop_done(gw);
		return;
	}
	if (gw->stopping)
		return;
	gw->stopping = 1;
	gw_listen_stop(gw);
	ev_timer_init(&gw->drain_t, drain_timeout_cb, gw->conf.drain_timeout / 1000.0, 0.);
	gw->drain_t.data = gw;
	ev_timer_start(gw->loop, &gw->drain_t);
	gw_wake(gw);
}

static void
begin_stop(struct gw *gw, int signum)
{
	int i, now = gw->stopping != 0;

	if (now) {
		gw_info("signal %d again: stopping now", signum);
	} else {
		gw_notify("STOPPING=1");
		gw_info("signal %d: shutting down (drain up to %u ms)", signum,
		    gw->conf.drain_timeout);
	}
	for (i = 1; i < gw->sh->n; i++)
		gw_inbox_post(gw->sh->loop[i],
		    &(struct gw_msg){ .kind = now ? GW_MSG_STOP_NOW : GW_MSG_STOP });
	gw_main_stop(gw, now);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct gw *gw = w->data;

	if (w->signum == SIGHUP)
		reload(gw);
	else
		begin_stop(gw, w->signum);
}

/* Raise the open-file soft limit to the hard one. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			gw_info("open files limit raised from %llu to %llu", (unsigned long long)old,
			    (unsigned long long)rl.rlim_max);
	}
}

/* Set up loop gw (its configuration is loaded): the loop, watchers, bridge, listeners. */
static int
loop_init(struct gw *gw, const char *base_id, const char **why)
{
	int i;

	/* Each endpoint's requests go to Engine.IO, its sessions to the layer of its kind. */
	for (i = 0; i < gw->conf.nep; i++) {
		gw->conf.ep[i].route = &eio_http_route;
		gw->conf.ep[i].h = gw->conf.ep[i].kind == GW_EP_RAW ? &eio_bridge_handler :
		    &sio_eio_handler;
	}
	if (gw_loops_names(gw, base_id, why) < 0)
		return -1;
	gw->loop = gw->idx == 0 ? ev_default_loop(EVFLAG_AUTO) : ev_loop_new(EVFLAG_AUTO);
	if (gw->loop == NULL) {
		*why = "cannot create an event loop";
		return -1;
	}
	gw->started = ev_now(gw->loop);
	gw_timers_init(gw);
	TAILQ_INIT(&gw->conns);
	TAILQ_INIT(&gw->writers);
	TAILQ_INIT(&gw->closing);
	gw_conn_limits_update(gw);
	ev_prepare_init(&gw->prep, prepare_cb);
	gw->prep.data = gw;
	ev_prepare_start(gw->loop, &gw->prep);
	gw_wake_init(gw);
	ev_init(&gw->drain_t, drain_timeout_cb);
	gw_loops_watch(gw);
	if (gw->idx == 0) {
		/* Before anything is bound: a signal from then on is handled. */
		ev_signal_init(&gw->sigint, signal_cb, SIGINT);
		ev_signal_init(&gw->sigterm, signal_cb, SIGTERM);
		ev_signal_init(&gw->sighup, signal_cb, SIGHUP);
		gw->sigint.data = gw->sigterm.data = gw->sighup.data = gw;
		ev_signal_start(gw->loop, &gw->sigint);
		ev_signal_start(gw->loop, &gw->sigterm);
		ev_signal_start(gw->loop, &gw->sighup);
	}
	if (gw_bridge_start(gw, why) < 0)
		return -1;
	/* What workers serve, in the order a lost worker's sessions move. */
	gw_bridge_add_layer(gw, &eio_bridge_layer);
	gw_bridge_add_layer(gw, &sio_bridge_layer);
	gw_bridge_on_status(gw, gw_metrics_status);
	if (gw_listen_start(gw, why) < 0 ||
	    (gw->idx == 0 && gw_metrics_start(gw, why) < 0) || gw_cluster_start(gw, why) < 0)
		return -1;
	ev_timer_init(&gw->sweep_t, sweep_cb, 10., 10.);
	gw->sweep_t.data = gw;
	ev_timer_start(gw->loop, &gw->sweep_t);
	return 0;
}

/* Release what loop gw holds, once it has left ev_run. */
static void
loop_free(struct gw *gw)
{
	struct gw_conn *c;

	if (gw->loop == NULL) {
		gw_conf_free(&gw->conf);
		return;
	}
	/* Stopped (drained, timed out, or a second signal): release everything. */
	if (!gw->stopping) {
		gw_listen_stop(gw);
		eio_session_close_all(gw, "server shutting down");
		sio_recover_close_all(gw);
	}
	ev_timer_stop(gw->loop, &gw->drain_t);
	gw->nhandoff = 0;	/* still this loop's: closed below */
	gw_bridge_turn(gw);
	gw_conn_flush_all(gw);
	while ((c = TAILQ_FIRST(&gw->conns)) != NULL)
		gw_conn_close(c, "shutdown");
	eio_session_reap(gw);
	gw_conn_reap(gw);
	gw_super_free(gw);
	gw_metrics_stop(gw);
	gw_listen_stop(gw);
	gw_bridge_stop(gw);
	gw_map_free(&gw->sio_sockets);
	gw_map_free(&gw->sio_held);
	ev_timer_stop(gw->loop, &gw->sweep_t);
	ev_timer_stop(gw->loop, &gw->snap_t);
	ev_async_stop(gw->loop, &gw->inbox_w);
	sio_nsps_free(gw);
	free(gw->sess_tab);
	free(gw->handoff);
	{
		/* Connections posted to this loop after it stopped reading its inbox. */
		uint32_t i;

		for (i = 0; i < gw->ninbox; i++) {
			if (gw->inbox[i].kind == GW_MSG_CONN) {
				gw_conn_adopt(gw, gw->inbox[i].conn);
				gw_conn_close(gw->inbox[i].conn, "shutdown");
			} else if (gw->inbox[i].kind == GW_MSG_RELOAD) {
				gw_conf_free(gw->inbox[i].conf);
				free(gw->inbox[i].conf);
			} else if (gw->inbox[i].kind == GW_MSG_CLOSE_SID) {
				gw_ip_put(gw, gw->inbox[i].ip);
			}
		}
		free(gw->inbox);
		gw_conn_reap(gw);
	}
	gw_cluster_stop(gw);
	gw_timers_stop(gw);
	ev_loop_destroy(gw->loop);
	gw_conf_free(&gw->conf);
}

static void *
loop_thread(void *arg)
{
	struct gw *gw = arg;

	ev_run(gw->loop, 0);
	loop_done(gw);
	return NULL;
}

/* The number of loops: threads, or one per CPU for 0. */
static int
loop_count(const struct gw_conf *c)
{
	long n = c->threads;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

int
main(int argc, char **argv)
{
	struct gw_conf conf;
	struct gw_shared *sh;
	struct gw *gw;
	const char *why = NULL;
	char base[8];
	int rc, action, i, n;

	saved_argc = argc;
	saved_argv = argv;
	rc = gw_conf_load(&conf, argc, argv, &action);
	if (rc != 0 || action == GW_CONF_CHECK) {
		gw_conf_free(&conf);
		return rc == 0 || rc == 1 ? 0 : rc == -1 ? 64 : 78;
	}
	gw_log_level = conf.log_level;
	gw_log_json = conf.log_json;
	if (action == GW_CONF_STATUS) {
		rc = gw_status_print(&conf);
		gw_conf_free(&conf);
		return rc;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);
	/*
	 * Fixed thresholds: glibc raises its mmap threshold after big blocks are
	 * freed, which moves later big buffers into the heap, where a burst of
	 * clients leaves fragments that cannot be given back.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_TRIM_THRESHOLD, 256 * 1024);
	raise_nofile();
	if (conf.gateway_id != NULL)
		snprintf(base, sizeof base, "%s", conf.gateway_id);
	else if (gw_random_id(base, 4) < 0) {
		gw_err("kernel random source failed");
		gw_conf_free(&conf);
		return 1;
	}
	n = loop_count(&conf);
	sh = gw_loops_new(n);
	gw = sh->loop[0];
	gw->conf = conf;
	/* Each loop owns a copy of the configuration (reloads update each). */
	for (i = 1; i < n; i++) {
		if (gw_conf_load(&sh->loop[i]->conf, argc, argv, &action) != 0) {
			gw_err("cannot load the configuration again for loop %d", i);
			return 1;
		}
	}
	gw_poll_init();
	for (i = 0; i < n; i++) {
		if (loop_init(sh->loop[i], base, &why) < 0) {
			gw_err("%s", why);
			rc = 1;
			goto out;
		}
	}
	if (n > 1)
		gw_info("%d event loops (threads = %u), gateway ids %.3s0..%.3s%c", n,
		    conf.threads, base, base, sh->loop[n - 1]->id[3]);
	for (i = 0; i < gw->conf.nep; i++)
		gw_info("endpoint %s (%s)", gw->conf.ep[i].path,
		    gw->conf.ep[i].kind == GW_EP_RAW ? "raw Engine.IO, served by workers" :
		    "Socket.IO");
	{
		/* Signals go to the main thread (loop 0) only. */
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		for (i = 1; i < n; i++) {
			if (pthread_create(&sh->th[i], NULL, loop_thread, sh->loop[i]) != 0) {
				/*
				 * Fatal: the loops left would hold bound listeners and
				 * bridges that nobody serves.
				 */
				gw_err("cannot start the thread of loop %d: %s", i, strerror(errno));
				n = i;
				rc = 1;
				break;
			}
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (rc != 0) {
		for (i = 1; i < n; i++) {
			gw_inbox_post(sh->loop[i], &(struct gw_msg){ .kind = GW_MSG_STOP_NOW });
			pthread_join(sh->th[i], NULL);
		}
		goto out;
	}
	gw_super_start(gw);
	gw_notify("READY=1\nSTATUS=running");
	ev_run(gw->loop, 0);
	for (i = 1; i < n; i++) {
		gw_inbox_post(sh->loop[i], &(struct gw_msg){ .kind = GW_MSG_STOP_NOW });
		pthread_join(sh->th[i], NULL);
	}
	rc = 0;
out:
	for (i = 0; i < sh->n; i++)
		loop_free(sh->loop[i]);
	gw_ip_sweep(gw, 1);
	for (i = 0; i < sh->n; i++) {
		pthread_mutex_destroy(&sh->loop[i]->inbox_mu);
		free(sh->loop[i]);
		free(sh->bridges[i]);
	}
	pthread_mutex_destroy(&sh->mu);
	free(sh->loop);
	free(sh->th);
	free(sh->bridges);
	free(sh->snaps);
	free(sh);
	if (rc == 0)
		gw_info("stopped");
	return rc;
}
