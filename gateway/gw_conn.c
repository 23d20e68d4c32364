/*
 * gw_conn.c: client connections: reading, the output queue (writev of
 * shared slices), static files, the deadline, and deferred freeing.  What
 * the bytes mean is the protocol's (c->ops: HTTP, then maybe WebSocket).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "gw_conn.h"

/*
 * Static files: bytes sent by sendfile(2) per connection per loop turn.
 * The file is never in memory; this only bounds how long one reader may
 * keep the loop (a fast local reader of a big file would otherwise take
 * the whole turn).  Past it, the connection waits for the next turn.
 */
#define GW_FILE_TURN (256 * 1024)

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void conn_read(struct gw_conn *c);
static void conn_tmo_cb(struct gw_tlist *tl, struct gw_tnode *n);

/* Format a peer address as "ip:port" ("[ip]:port" for IPv6). */
static void
conn_peer_name(char *dst, size_t n, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		snprintf(dst, n, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		snprintf(dst, n, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(dst, n, "unix");
	}
}

/* (Re)arm the HTTP idle / slow-request deadline (on this loop's gw->t_http). */
static void
conn_arm_timeout(struct gw_conn *c)
{
	gw_tlist_arm(&c->gw->t_http, &c->tmo);
}

/* The HTTP deadline class of a loop. */
void
gw_conn_timers_init(struct gw *gw)
{
	gw_tlist_init(&gw->t_http, gw->loop, gw->conf.http_timeout / 1000.0, conn_tmo_cb, gw);
}

/* Take the HTTP limits from the configuration (start and reload). */
void
gw_conn_limits_update(struct gw *gw)
{
	gw->http_lim.max_url = gw->conf.max_url;
	gw->http_lim.max_headers = gw->conf.max_headers;
	gw->http_lim.max_body = gw->conf.max_payload;
}

/* A new connection on an accepted, non-blocking fd. */
struct gw_conn *
gw_conn_new(struct gw *gw, int fd, const struct sockaddr *sa, socklen_t salen, int metrics,
    const struct gw_conn_ops *ops)
{
	struct gw_conn *c;
	struct gw_ip *ip = gw_ip_get(gw, sa);

	int global = 0;

	(void)salen;
	gw->st.conns_accepted++;
	if (!metrics && gw->conf.max_conns &&
	    __atomic_add_fetch(&gw->sh->nconns, 1, __ATOMIC_RELAXED) > gw->conf.max_conns) {
		global = 1;
		__atomic_sub_fetch(&gw->sh->nconns, 1, __ATOMIC_RELAXED);
	}
	if (!metrics && (global || gw_ip_conn_add(gw, ip, gw->conf.max_conns_ip) < 0)) {
		/* Over a limit: refused at once; logged once per sweep interval. */
		if (global == 0 && gw->conf.max_conns)
			__atomic_sub_fetch(&gw->sh->nconns, 1, __ATOMIC_RELAXED);
		if (gw->st.limit_conns++ == gw->limit_logged)
			gw_warn("connection from %s refused: %s limit reached (%u)", ip->ip,
			    global ? "global" : "per-IP",
			    global ? gw->conf.max_conns : gw->conf.max_conns_ip);
		gw_ip_put(gw, ip);
		close(fd);
		return NULL;
	}
	c = gw_xcalloc(1, sizeof *c);
	c->ip = ip;
	if (metrics)
		gw_ip_conn_add(gw, ip, 0);
	c->counted = !metrics && gw->conf.max_conns;
	c->gw = gw;
	c->id = ++gw->next_conn_id;
	c->fd = fd;
	c->file_fd = -1;
	c->metrics = (uint8_t)metrics;
	conn_peer_name(c->peer, sizeof c->peer, sa);
	c->ops = ops;
	if (ops->open != NULL)
		ops->open(c);
	ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
	c->io.data = c;
	ev_io_start(gw->loop, &c->io);
	conn_arm_timeout(c);
	TAILQ_INSERT_TAIL(&gw->conns, c, link);
	gw->nconns++;
	/*
	 * Read at once: with TCP_DEFER_ACCEPT the request is usually there, and
	 * reading now keeps requests in accept order (libev runs pending
	 * watchers last-in first-out, which would reorder a GET and a POST
	 * accepted in the same turn).
	 */
	conn_read(c);
	return c;
}

/* Watch the socket for these events (EV_READ, plus EV_WRITE while output is blocked). */
static void
conn_watch(struct gw_conn *c, int events)
{
	ev_io_stop(c->gw->loop, &c->io);
	ev_io_set(&c->io, c->fd, events);
	ev_io_start(c->gw->loop, &c->io);
}

/* Put the connection on the list flushed before the loop sleeps. */
static void
conn_want_flush(struct gw_conn *c)
{
	if (!(c->flags & GW_CONN_IN_WRITERS)) {
		c->flags |= GW_CONN_IN_WRITERS;
		TAILQ_INSERT_TAIL(&c->gw->writers, c, wlink);
		gw_wake(c->gw);
	}
}

/* Queue a slice; a connection over its output bound is closed (slow consumer). */
void
gw_conn_write(struct gw_conn *c, struct gw_buf *b, uint32_t off, uint32_t end)
{
	if (c->flags & (GW_CONN_CLOSING | GW_CONN_CLOSE_ASAP))
		return;
	if (c->out.bytes + (end - off) > c->gw->conf.max_outq) {
		/* Not closed here: the caller may be walking a list of recipients. */
		gw_warn("conn %llu %s: output queue over %u bytes (client not reading), closing",
		    (unsigned long long)c->id, c->peer, c->gw->conf.max_outq);
		c->flags |= GW_CONN_CLOSE_ASAP;
		c->gw->st.err_slow++;
		conn_want_flush(c);
		return;
	}
	gw_outq_push(&c->out, b, off, end);
	conn_want_flush(c);
}

/* Queue a private copy of bytes. */
void
gw_conn_write_copy(struct gw_conn *c, const void *p, size_t n)
{
	struct gw_buf *b = gw_buf_from(p, n);

	gw_conn_write(c, b, 0, (uint32_t)n);
	gw_buf_unref(b);
}

/* Close after the queue drains. */
void
gw_conn_close_after_write(struct gw_conn *c)
{
	c->flags |= GW_CONN_CLOSE_AFTER;
	conn_want_flush(c);
}

/* Wait for the socket to be writable again. */
static void
conn_want_write(struct gw_conn *c)
{
	if (!(c->flags & GW_CONN_WWATCH)) {
		c->flags |= GW_CONN_WWATCH;
		conn_watch(c, EV_READ | EV_WRITE);
	}
}

/*
 * Send the static file in service after an empty queue: 1 when all of it
 * is sent (the request is finished), 0 to wait for the socket, -1 closed.
 */
static int
conn_file_send(struct gw_conn *c)
{
	size_t budget = GW_FILE_TURN;

	while (c->file_off < c->file_end) {
		uint64_t left = c->file_end - c->file_off;
		off_t off = (off_t)c->file_off;
		ssize_t w;

		if (budget == 0) {
			/* This turn's share is sent: the rest when the socket is next writable. */
			conn_want_write(c);
			return 0;
		}
		w = sendfile(c->fd, c->file_fd, &off, left < budget ? (size_t)left : budget);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				conn_want_write(c);
				return 0;
			}
			gw_conn_close(c, "static file: sendfile failed");
			return -1;
		}
		if (w == 0) {
			/* Shorter than its Content-Length said: the client sees a short body. */
			gw_conn_close(c, "static file shrank while sent");
			return -1;
		}
		c->file_off += (uint64_t)w;
		budget -= (size_t)w;
		c->gw->st.bytes_out += (uint64_t)w;
		conn_arm_timeout(c);	/* progress: the client is reading */
	}
	close(c->file_fd);
	c->file_fd = -1;
	if (!c->file_keep)
		c->flags |= GW_CONN_CLOSE_AFTER;
	gw_conn_request_done(c);
	return 1;
}

/* Write as much as the socket takes: the queue, then the static file in service. */
void
gw_conn_flush(struct gw_conn *c)
{
	struct iovec iov[64];

	while (c->out.n > 0 && !(c->flags & GW_CONN_CLOSING)) {
		int cnt = gw_outq_iov(&c->out, iov, 64);
		ssize_t w = writev(c->fd, iov, cnt);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				conn_want_write(c);
				return;
			}
			gw_conn_close(c, "write error");
			return;
		}
		gw_outq_consume(&c->out, (size_t)w);
		c->gw->st.bytes_out += (uint64_t)w;
	}
	if (c->file_fd >= 0 && !(c->flags & GW_CONN_CLOSING) && conn_file_send(c) <= 0)
		return;
	if (c->flags & GW_CONN_WWATCH) {
		c->flags &= ~GW_CONN_WWATCH;
		conn_watch(c, EV_READ);
	}
	if ((c->flags & GW_CONN_CLOSE_AFTER) && c->out.n == 0)
		gw_conn_close(c, NULL);
}

/* Stream a static file after what is queued (see struct gw_conn). */
void
gw_conn_send_file(struct gw_conn *c, int fd, uint64_t size, int keep)
{
	c->file_fd = fd;
	c->file_off = 0;
	c->file_end = size;
	c->file_keep = (uint8_t)keep;
	conn_arm_timeout(c);	/* a reader that stops is closed after http_timeout */
	conn_want_flush(c);
}

/* The socket is writable (output was blocked) and/or readable. */
static void
conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw_conn *c = w->data;

	if (revents & EV_WRITE) {
		gw_conn_flush(c);
		if (c->flags & GW_CONN_CLOSING)
			return;
	}
	if (revents & EV_READ)
		conn_read(c);
}

/* Off the loop: watcher, deadline, writers list, session, conns list. */
static void
conn_detach(struct gw_conn *c)
{
	struct gw *gw = c->gw;

	ev_io_stop(gw->loop, &c->io);
	gw_tlist_stop(&c->tmo);
	if (c->flags & GW_CONN_IN_WRITERS) {
		TAILQ_REMOVE(&gw->writers, c, wlink);
		c->flags &= ~GW_CONN_IN_WRITERS;
	}
	if (c->ops->gone != NULL)
		c->ops->gone(c);
	c->sess = NULL;
	TAILQ_REMOVE(&gw->conns, c, link);
	gw->nconns--;
}

/* Close: detach from the session and queue for the reaper. */
void
gw_conn_close(struct gw_conn *c, const char *why)
{
	struct gw *gw = c->gw;

	if (c->flags & GW_CONN_CLOSING)
		return;
	c->flags |= GW_CONN_CLOSING;
	if (why != NULL)
		gw_debug("conn %llu %s closed: %s", (unsigned long long)c->id, c->peer, why);
	conn_detach(c);
	TAILQ_INSERT_TAIL(&gw->closing, c, link);
	gw_wake(gw);
}

/* Take c off its loop, to be adopted by another one. */
int
gw_conn_release(struct gw_conn *c)
{
	if (c->flags & GW_CONN_CLOSING)
		return -1;
	if (c->out.n > 0) {
		/* The slices may be shared with this loop's other connections. */
		size_t n = c->out.bytes, o = 0;
		struct gw_buf *b = gw_buf_new(n);
		struct iovec iov[64];
		int cnt, i;

		while (c->out.n > 0) {
			size_t got = 0;

			cnt = gw_outq_iov(&c->out, iov, 64);
			for (i = 0; i < cnt; i++) {
				memcpy(b->data + o, iov[i].iov_base, iov[i].iov_len);
				o += iov[i].iov_len;
				got += iov[i].iov_len;
			}
			gw_outq_consume(&c->out, got);
		}
		gw_outq_clear(&c->out);
		gw_outq_push(&c->out, b, 0, (uint32_t)n);
		gw_buf_unref(b);
	}
	/* Off this loop's watchers, lists and deadline list (the adopting loop arms its own). */
	conn_detach(c);
	if (c->flags & GW_CONN_WWATCH) {
		c->flags &= ~GW_CONN_WWATCH;
		ev_io_set(&c->io, c->fd, EV_READ);
	}
	return 0;
}

/* Adopt a connection released by another loop. */
void
gw_conn_adopt(struct gw *gw, struct gw_conn *c)
{
	c->gw = gw;
	c->id = ++gw->next_conn_id;
	if (c->hin != NULL)
		c->hin->lim = &gw->http_lim;
	TAILQ_INSERT_TAIL(&gw->conns, c, link);
	gw->nconns++;
	ev_io_start(gw->loop, &c->io);
	/*
	 * Handed over with a complete request, which has no deadline; its
	 * answer arms this loop's (gw_conn_request_done).  Anything else
	 * waits for a request: give it one here.
	 */
	if (c->req == NULL && c->hin != NULL)
		conn_arm_timeout(c);
	if (c->out.n > 0 || c->file_fd >= 0)
		conn_want_flush(c);
}

/* Free every closed connection. */
void
gw_conn_reap(struct gw *gw)
{
	struct gw_conn *c;

	while ((c = TAILQ_FIRST(&gw->closing)) != NULL) {
		TAILQ_REMOVE(&gw->closing, c, link);
		if (c->fd >= 0)
			close(c->fd);
		if (c->file_fd >= 0)
			close(c->file_fd);
		if (c->ip != NULL) {
			gw_ip_conn_del(gw, c->ip);
			gw_ip_put(gw, c->ip);
		}
		if (c->counted)
			__atomic_sub_fetch(&gw->sh->nconns, 1, __ATOMIC_RELAXED);
		gw_outq_clear(&c->out);
		if (c->ops->free != NULL)
			c->ops->free(c);
		http_req_free(c->req);
		free(c->stash);
		free(c);
	}
}

/* Switch protocols (the WebSocket upgrade): the old state is freed now. */
void
gw_conn_set_ops(struct gw_conn *c, const struct gw_conn_ops *ops, void *data)
{
	if (c->ops->free != NULL)
		c->ops->free(c);
	c->ops = ops;
	c->data = data;
}

/* Feed bytes as if read from the socket: to the protocol, unless closing. */
void
gw_conn_input(struct gw_conn *c, const char *p, size_t n)
{
	if (n > 0 && !(c->flags & (GW_CONN_CLOSING | GW_CONN_CLOSE_AFTER)))
		c->ops->input(c, p, n);
}

/* The request in service has its answer queued: read the next one. */
void
gw_conn_request_done(struct gw_conn *c)
{
	http_req_free(c->req);
	c->req = NULL;
	if (c->flags & (GW_CONN_CLOSING | GW_CONN_CLOSE_AFTER) || c->hin == NULL)
		return;
	conn_arm_timeout(c);
	if (c->stash != NULL) {
		/* Resume pipelined input once this turn's output is flushed. */
		conn_want_flush(c);
	}
}

/* Feed input kept while a request was in service (from the flush step). */
static void
conn_resume_stash(struct gw_conn *c)
{
	char *p = c->stash;
	uint32_t n = c->stash_len;

	c->stash = NULL;
	c->stash_len = 0;
	gw_log_client = 1;
	gw_conn_input(c, p, n);
	gw_log_client = 0;
	free(p);
}

static void
conn_read(struct gw_conn *c)
{
	struct gw *gw = c->gw;
	ssize_t n;

	n = read(c->fd, gw->rbuf, sizeof gw->rbuf);
	if (n > 0) {
		gw->st.bytes_in += (uint64_t)n;
		gw_log_client = 1;
		gw_conn_input(c, gw->rbuf, (size_t)n);
		gw_log_client = 0;
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	gw_conn_close(c, n == 0 ? "peer closed" : "read error");
}

static void
conn_tmo_cb(struct gw_tlist *tl, struct gw_tnode *n)
{
	struct gw_conn *c = GW_TNODE_OWNER(n, struct gw_conn, tmo);

	if (c->file_fd >= 0) {
		gw_info("conn %llu %s: static file: nothing read for http_timeout, closing",
		    (unsigned long long)c->id, c->peer);
		gw_conn_close(c, NULL);
		return;
	}
	if (c->ops->timeout != NULL)
		c->ops->timeout(c);
	else
		gw_conn_close(c, "idle timeout");
}

/* Flush every connection with pending output (the prepare step). */
void
gw_conn_flush_all(struct gw *gw)
{
	struct gw_conn *c;

	while ((c = TAILQ_FIRST(&gw->writers)) != NULL) {
		TAILQ_REMOVE(&gw->writers, c, wlink);
		c->flags &= ~GW_CONN_IN_WRITERS;
		if (c->flags & GW_CONN_CLOSE_ASAP) {
			gw_conn_close(c, "slow consumer");
			continue;
		}
		gw_conn_flush(c);
		if (!(c->flags & GW_CONN_CLOSING) && c->req == NULL && c->stash != NULL)
			conn_resume_stash(c);
	}
}
