/*
 * gw_main.c: siogate's entry point: options, the loop, the prepare step
 * (drain the bridge, flush connections, reap), signals and shutdown.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "eio_session.h"
#include "gw_bridge.h"
#include "gw_conn.h"

int gw_conf_usage_status(void);

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
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct gw *gw = w->data;

	gw_info("signal %d: shutting down", w->signum);
	ev_break(loop, EVBREAK_ALL);
	(void)gw;
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
	int rc;

	if (gw == NULL)
		return 1;
	rc = gw_conf_from_argv(&gw->conf, argc, argv);
	if (rc != 0) {
		gw_conf_free(&gw->conf);
		free(gw);
		return rc > 0 ? 0 : gw_conf_usage_status();
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);
	raise_nofile();
	if (gw->conf.gateway_id != NULL)
		snprintf(gw->id, sizeof gw->id, "%s", gw->conf.gateway_id);
	else if (gw_random_id(gw->id, 4) < 0) {
		gw_err("kernel random source failed");
		return 1;
	}
	gw->loop = ev_default_loop(EVFLAG_AUTO);
	TAILQ_INIT(&gw->conns);
	TAILQ_INIT(&gw->writers);
	TAILQ_INIT(&gw->closing);
	ev_prepare_init(&gw->prep, prepare_cb);
	gw->prep.data = gw;
	ev_prepare_start(gw->loop, &gw->prep);
	ev_idle_init(&gw->idle, idle_cb);
	ev_signal_init(&gw->sigint, signal_cb, SIGINT);
	ev_signal_init(&gw->sigterm, signal_cb, SIGTERM);
	gw->sigint.data = gw->sigterm.data = gw;
	ev_signal_start(gw->loop, &gw->sigint);
	ev_signal_start(gw->loop, &gw->sigterm);

	if (gw_bridge_start(gw, &why) < 0 || gw_listen_start(gw, &why) < 0) {
		gw_err("%s", why);
		gw_bridge_stop(gw);
		gw_listen_stop(gw);
		gw_conf_free(&gw->conf);
		free(gw);
		return 1;
	}
	{
		int i;

		for (i = 0; i < gw->conf.nep; i++)
			gw_info("endpoint %s (%s)", gw->conf.ep[i].path,
			    gw->conf.ep[i].kind == GW_EP_RAW ? "raw Engine.IO, served by workers" :
			    "Socket.IO");
	}
	ev_run(gw->loop, 0);

	/* Shutdown: stop accepting, close sessions (workers hear why), flush. */
	gw_listen_stop(gw);
	eio_session_close_all(gw, "server shutting down");
	gw_bridge_turn(gw);
	gw_conn_flush_all(gw);
	{
		struct gw_conn *c;

		while ((c = TAILQ_FIRST(&gw->conns)) != NULL)
			gw_conn_close(c, "shutdown");
	}
	eio_session_reap(gw);
	gw_conn_reap(gw);
	gw_bridge_stop(gw);
	free(gw->sess_tab);
	ev_loop_destroy(gw->loop);
	gw_conf_free(&gw->conf);
	free(gw);
	gw_info("stopped");
	return 0;
}
