/*
 * gw_main.c: siogate's entry point: configuration, the loop, the prepare
 * step (drain the bridge, flush connections, reap), signals: SIGHUP
 * reloads, SIGTERM/SIGINT drain and stop.
 */
#include "config.h"

#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "eio_session.h"
#include "gw_bridge.h"
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

/* Keep the loop turning (no sleep) until the next prepare step. */
void
gw_wake(struct gw *gw)
{
	if (!ev_is_active(&gw->idle))
		ev_idle_start(gw->loop, &gw->idle);
}

static void
idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	ev_idle_stop(loop, w);
}

/* Whether a stopping gateway has delivered everything it can. */
static int
drained(struct gw *gw)
{
	return gw->stopping == 2 && TAILQ_EMPTY(&gw->conns) && gw->nsess == 0 &&
	    gw_bridge_pending(gw) == 0 && gw_super_running(gw) == 0;
}

/* Draining, phase 2: close every session and the idle connections. */
static void
stop_sessions(struct gw *gw)
{
	struct gw_conn *c, *next;

	gw->stopping = 2;
	eio_session_close_all(gw, "server shutting down");
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

/* Before the loop sleeps: bridge in, client output out, free the dead. */
static void
prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct gw *gw = w->data;

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
	    gw_bridge_pending(gw) == 0)
		gw_super_stop(gw);
	if (gw->stopping && drained(gw)) {
		gw_info("drained: everything pending was delivered");
		ev_break(loop, EVBREAK_ALL);
	}
}

/* SIGHUP: read the configuration again; apply what can change live. */
static void
reload(struct gw *gw)
{
	struct gw_conf next;
	int action, rc;

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
	gw_conf_apply_live(&gw->conf, &next);
	gw_conf_free(&next);
	gw_log_level = gw->conf.log_level;
	gw_log_json = gw->conf.log_json;
	gw_conn_limits_update(gw);
	gw_super_reconcile(gw);
	gw_info("reload done");
	gw_notify("READY=1\nSTATUS=running (reloaded)");
}

/* Every 10 s: forget idle addresses. */
static void
sweep_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct gw *gw = t->data;

	gw_ip_sweep(gw, 0);
	gw->limit_logged = gw->st.limit_conns;
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
	ev_break(loop, EVBREAK_ALL);
}

/*
 * SIGTERM/SIGINT: stop accepting; let workers finish the events accepted
 * so far (their acks still reach clients); then close every session
 * (clients are told to go, so the official clients reconnect elsewhere or
 * later; workers hear "server shutting down") and keep the loop turning
 * until what is queued reached clients and workers, or the drain timeout.
 */
static void
begin_stop(struct gw *gw, int signum)
{
	if (gw->stopping) {
		gw_info("signal %d again: stopping now", signum);
		ev_break(gw->loop, EVBREAK_ALL);
		return;
	}
	gw->stopping = 1;
	gw_notify("STOPPING=1");
	gw_info("signal %d: shutting down (drain up to %u ms)", signum, gw->conf.drain_timeout);
	gw_listen_stop(gw);
	ev_timer_init(&gw->drain_t, drain_timeout_cb, gw->conf.drain_timeout / 1000.0, 0.);
	gw->drain_t.data = gw;
	ev_timer_start(gw->loop, &gw->drain_t);
	gw_wake(gw);
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

int
main(int argc, char **argv)
{
	struct gw *gw = calloc(1, sizeof *gw);
	const char *why = NULL;
	int rc, action, i;

	if (gw == NULL)
		return 1;
	saved_argc = argc;
	saved_argv = argv;
	rc = gw_conf_load(&gw->conf, argc, argv, &action);
	if (rc != 0 || action == GW_CONF_CHECK) {
		gw_conf_free(&gw->conf);
		free(gw);
		return rc == 0 || rc == 1 ? 0 : rc == -1 ? 64 : 78;
	}
	gw_log_level = gw->conf.log_level;
	gw_log_json = gw->conf.log_json;
	if (action == GW_CONF_STATUS) {
		rc = gw_status_print(&gw->conf);
		gw_conf_free(&gw->conf);
		free(gw);
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
	if (gw->conf.gateway_id != NULL)
		snprintf(gw->id, sizeof gw->id, "%s", gw->conf.gateway_id);
	else if (gw_random_id(gw->id, 4) < 0) {
		gw_err("kernel random source failed");
		return 1;
	}
	gw->loop = ev_default_loop(EVFLAG_AUTO);
	gw->started = ev_now(gw->loop);
	TAILQ_INIT(&gw->conns);
	TAILQ_INIT(&gw->writers);
	TAILQ_INIT(&gw->closing);
	gw_conn_limits_update(gw);
	ev_prepare_init(&gw->prep, prepare_cb);
	gw->prep.data = gw;
	ev_prepare_start(gw->loop, &gw->prep);
	ev_idle_init(&gw->idle, idle_cb);
	ev_signal_init(&gw->sigint, signal_cb, SIGINT);
	ev_signal_init(&gw->sigterm, signal_cb, SIGTERM);
	ev_signal_init(&gw->sighup, signal_cb, SIGHUP);
	gw->sigint.data = gw->sigterm.data = gw->sighup.data = gw;
	ev_signal_start(gw->loop, &gw->sigint);
	ev_signal_start(gw->loop, &gw->sigterm);
	ev_signal_start(gw->loop, &gw->sighup);

	if (gw_bridge_start(gw, &why) < 0 || gw_listen_start(gw, &why) < 0 ||
	    gw_metrics_start(gw, &why) < 0) {
		gw_err("%s", why);
		gw_listen_stop(gw);
		gw_bridge_stop(gw);
		gw_conf_free(&gw->conf);
		free(gw);
		return 1;
	}
	for (i = 0; i < gw->conf.nep; i++)
		gw_info("endpoint %s (%s)", gw->conf.ep[i].path,
		    gw->conf.ep[i].kind == GW_EP_RAW ? "raw Engine.IO, served by workers" :
		    "Socket.IO");
	ev_timer_init(&gw->sweep_t, sweep_cb, 10., 10.);
	gw->sweep_t.data = gw;
	ev_timer_start(gw->loop, &gw->sweep_t);
	gw_super_start(gw);
	gw_notify("READY=1\nSTATUS=running");
	ev_run(gw->loop, 0);

	/* Stopped (drained, timed out, or a second signal): release everything. */
	if (!gw->stopping) {
		gw_listen_stop(gw);
		eio_session_close_all(gw, "server shutting down");
	}
	ev_timer_stop(gw->loop, &gw->drain_t);
	gw_bridge_turn(gw);
	gw_conn_flush_all(gw);
	{
		struct gw_conn *c;

		while ((c = TAILQ_FIRST(&gw->conns)) != NULL)
			gw_conn_close(c, "shutdown");
	}
	eio_session_reap(gw);
	gw_conn_reap(gw);
	gw_super_free(gw);
	gw_metrics_stop(gw);
	gw_bridge_stop(gw);
	gw_map_free(&gw->sio_sockets);
	ev_timer_stop(gw->loop, &gw->sweep_t);
	gw_ip_sweep(gw, 1);
	sio_nsps_free(gw);
	free(gw->sess_tab);
	ev_loop_destroy(gw->loop);
	gw_conf_free(&gw->conf);
	free(gw);
	gw_info("stopped");
	return 0;
}
