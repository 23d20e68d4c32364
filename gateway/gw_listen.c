/*
 * gw_listen.c: listening sockets and accepting connections in batches.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_conn.h"

#define GW_ACCEPT_BATCH 64

static void
listen_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw_listener *l = w->data;
	int i;

	for (i = 0; i < GW_ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/*
				 * The pending connection stays in the backlog and the
				 * socket stays readable: pause accepting a moment
				 * instead of spinning (and logging) until a fd is free.
				 */
				if (l->paused++ == 0 || l->paused % 100 == 0)
					gw_warn("accept on %s: %s (file descriptor limit); pausing accepts "
					    "for 100 ms (%u time(s))", l->name, strerror(errno), l->paused);
				ev_io_stop(loop, &l->io);
				ev_timer_set(&l->pause_t, 0.1, 0.);
				ev_timer_start(loop, &l->pause_t);
			}
			return;
		}
		l->paused = 0;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		/* Every listener speaks HTTP first (the metrics one too). */
		gw_conn_new(l->gw, fd, (struct sockaddr *)&ss, sl, l->metrics, &gw_http_conn_ops);
	}
}

/* The pause after EMFILE is over: accept again. */
static void
listen_resume_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct gw_listener *l = t->data;

	if (l->fd >= 0)
		ev_io_start(loop, &l->io);
}

/* Name a bound socket "ip:port" and start accepting on it. */
static void
listen_watch(struct gw *gw, struct gw_listener *l, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;

	getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (ss.ss_family == AF_INET6) {
		char ip[INET6_ADDRSTRLEN];
		struct sockaddr_in6 *in6 = (void *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		snprintf(l->name, sizeof l->name, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else if (ss.ss_family == AF_INET) {
		char ip[INET_ADDRSTRLEN];
		struct sockaddr_in *in = (void *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		snprintf(l->name, sizeof l->name, "%s:%u", ip, ntohs(in->sin_port));
	} else {
		snprintf(l->name, sizeof l->name, "fd %d", fd);
	}
	l->fd = fd;
	l->gw = gw;
	ev_io_init(&l->io, listen_cb, fd, EV_READ);
	l->io.data = l;
	ev_io_start(gw->loop, &l->io);
	ev_init(&l->pause_t, listen_resume_cb);
	l->pause_t.data = l;
	l->paused = 0;
}

/* Open one listening socket for "HOST:PORT" / "[V6]:PORT" into l. */
static int
listen_one(struct gw *gw, const char *spec, struct gw_listener *l, const char **why)
{
	static char msg[256];
	char host[128];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints, *ai = NULL;
	size_t hl = (size_t)(colon - spec);
	int fd = -1, one = 1, rc;

	if (spec[0] == '[') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof host)
		hl = sizeof host - 1;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
	if (rc != 0) {
		snprintf(msg, sizeof msg, "cannot resolve listen address %s: %s", spec, gai_strerror(rc));
		goto fail;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto sysfail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (gw->sh->n > 1 && !l->metrics)	/* the other loops bind the same address */
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0)
		goto sysfail;
	{
		int secs = 1;	/* accept once the request bytes are there */

		setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs);
	}
	freeaddrinfo(ai);
	listen_watch(gw, l, fd);
	return 0;
sysfail:
	snprintf(msg, sizeof msg, "cannot listen on %s: %s", spec, strerror(errno));
fail:
	if (fd >= 0)
		close(fd);
	if (ai != NULL)
		freeaddrinfo(ai);
	*why = msg;
	return -1;
}

/*
 * Listening sockets handed over by systemd socket activation (LISTEN_PID,
 * LISTEN_FDS; fds from 3): used instead of --listen.  Returns how many.
 */
static int
listen_inherited(struct gw *gw)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	unsigned long p, n, i;

	if (pid == NULL || fds == NULL || gw_parse_uint(pid, 1, 4194304, &p) < 0 ||
	    (pid_t)p != getpid() || gw_parse_uint(fds, 1, GW_MAX_LISTEN, &n) < 0)
		return 0;
	for (i = 0; i < n; i++) {
		int fd = 3 + (int)i;
		struct gw_listener *l = &gw->lst[gw->nlst++];

		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		listen_watch(gw, l, fd);
		l->inherited = 1;
		gw_info("listening on %s (socket activation)", l->name);
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (int)n;
}

/*
 * Loops after the first (threads = N): a socket of their own on each of
 * loop 0's addresses (SO_REUSEPORT: the kernel spreads new connections over
 * them), or a duplicate of a socket systemd passed (the loops then take
 * turns accepting on it).
 */
static int
listen_sibling(struct gw *gw, const char **why)
{
	static char msg[300];
	const struct gw *first = gw->sh->loop[0];
	int i;

	for (i = 0; i < first->nlst; i++) {
		struct gw_listener *l = &gw->lst[gw->nlst];
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd, one = 1, secs = 1;

		if (first->lst[i].inherited) {
			if ((fd = fcntl(first->lst[i].fd, F_DUPFD_CLOEXEC, 3)) < 0)
				goto sysfail;
			l->inherited = 1;
		} else {
			getsockname(first->lst[i].fd, (struct sockaddr *)&ss, &sl);
			fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd < 0)
				goto sysfail;
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
			if (ss.ss_family == AF_INET6)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
			if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
				close(fd);
				goto sysfail;
			}
			setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs);
		}
		listen_watch(gw, l, fd);
		gw->nlst++;
		gw_debug("loop %d listening on %s", gw->idx, l->name);
	}
	return 0;
sysfail:
	snprintf(msg, sizeof msg, "loop %d: cannot listen on %s: %s", gw->idx,
	    first->lst[i].name, strerror(errno));
	*why = msg;
	return -1;
}

/* Open every configured listener (or take systemd's). */
int
gw_listen_start(struct gw *gw, const char **why)
{
	int i;

	if (gw->idx > 0)
		return listen_sibling(gw, why);
	if (listen_inherited(gw) > 0)
		return 0;
	for (i = 0; i < gw->conf.nlisten; i++) {
		struct gw_listener *l = &gw->lst[gw->nlst];

		if (listen_one(gw, gw->conf.listen[i], l, why) < 0)
			return -1;
		gw->nlst++;
		gw_info("listening on %s", l->name);
	}
	return 0;
}

/* The metrics listener, when configured. */
int
gw_listen_metrics(struct gw *gw, const char **why)
{
	gw->mlst.fd = -1;
	if (gw->conf.metrics_listen == NULL)
		return 0;
	gw->mlst.metrics = 1;
	if (listen_one(gw, gw->conf.metrics_listen, &gw->mlst, why) < 0)
		return -1;
	gw_info("metrics on http://%s/metrics", gw->mlst.name);
	return 0;
}

/* Stop accepting (the metrics listener too). */
void
gw_listen_stop(struct gw *gw)
{
	int i;

	for (i = 0; i < gw->nlst; i++) {
		ev_io_stop(gw->loop, &gw->lst[i].io);
		ev_timer_stop(gw->loop, &gw->lst[i].pause_t);
		close(gw->lst[i].fd);
		gw->lst[i].fd = -1;
	}
	gw->nlst = 0;
	if (gw->mlst.gw != NULL && gw->mlst.fd >= 0) {
		ev_io_stop(gw->loop, &gw->mlst.io);
		ev_timer_stop(gw->loop, &gw->mlst.pause_t);
		close(gw->mlst.fd);
		gw->mlst.fd = -1;
	}
}
