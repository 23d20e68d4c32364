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
			if (errno == EMFILE || errno == ENFILE)
				gw_warn("accept on %s: %s (file descriptor limit)", l->name, strerror(errno));
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		gw_conn_new(l->gw, fd, (struct sockaddr *)&ss, sl);
	}
}

/* Open one listening socket for "HOST:PORT" / "[V6]:PORT". */
static int
listen_one(struct gw *gw, const char *spec, const char **why)
{
	static char msg[256];
	char host[128];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints, *ai = NULL;
	struct gw_listener *l = &gw->lst[gw->nlst];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
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
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0)
		goto sysfail;
	{
		int secs = 1;	/* accept once the request bytes are there */

		setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs);
	}
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (ss.ss_family == AF_INET6) {
		char ip[INET6_ADDRSTRLEN];
		struct sockaddr_in6 *in6 = (void *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		snprintf(l->name, sizeof l->name, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		char ip[INET_ADDRSTRLEN];
		struct sockaddr_in *in = (void *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		snprintf(l->name, sizeof l->name, "%s:%u", ip, ntohs(in->sin_port));
	}
	freeaddrinfo(ai);
	l->fd = fd;
	l->gw = gw;
	ev_io_init(&l->io, listen_cb, fd, EV_READ);
	l->io.data = l;
	ev_io_start(gw->loop, &l->io);
	gw->nlst++;
	gw_info("listening on %s", l->name);
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

/* Open every configured listener. */
int
gw_listen_start(struct gw *gw, const char **why)
{
	int i;

	for (i = 0; i < gw->conf.nlisten; i++) {
		if (listen_one(gw, gw->conf.listen[i], why) < 0)
			return -1;
	}
	return 0;
}

/* Stop accepting. */
void
gw_listen_stop(struct gw *gw)
{
	int i;

	for (i = 0; i < gw->nlst; i++) {
		ev_io_stop(gw->loop, &gw->lst[i].io);
		close(gw->lst[i].fd);
	}
	gw->nlst = 0;
}
