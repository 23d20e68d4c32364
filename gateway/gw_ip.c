/*
 * gw_ip.c: per-IP bookkeeping for limits: open connections, a handshake
 * token bucket, and identity for sid_bind_ip.  An entry is referenced by
 * the connections and sessions of its address and freed when the last
 * reference goes and its bucket is full again (checked by a sweep).
 * One table serves every loop of the process (threads = N), under the
 * shared mutex: limits count an address's connections on all loops.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

/* The address part of a socket address, as text. */
static void
ip_text(const struct sockaddr *sa, char *dst, size_t n)
{
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, dst, n);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, dst, n);
	else
		snprintf(dst, n, "local");
}

/* The entry of an address (created), with one more reference. */
struct gw_ip *
gw_ip_get(struct gw *gw, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN];
	struct gw_ip *e;

	ip_text(sa, ip, sizeof ip);
	pthread_mutex_lock(&gw->sh->mu);
	e = gw_map_get(&gw->sh->ips, ip, strlen(ip));
	if (e == NULL) {
		e = gw_xcalloc(1, sizeof *e);
		snprintf(e->ip, sizeof e->ip, "%s", ip);
		e->tokens = -1;		/* full, filled on first use */
		gw_map_put(&gw->sh->ips, e->ip, strlen(e->ip), e);
	}
	e->refs++;
	pthread_mutex_unlock(&gw->sh->mu);
	return e;
}

/* Drop a reference. */
void
gw_ip_put(struct gw *gw, struct gw_ip *e)
{
	if (e == NULL)
		return;
	pthread_mutex_lock(&gw->sh->mu);
	if (e->refs > 0)
		e->refs--;
	pthread_mutex_unlock(&gw->sh->mu);
}

/* One more reference (a session of the address). */
void
gw_ip_ref(struct gw *gw, struct gw_ip *e)
{
	pthread_mutex_lock(&gw->sh->mu);
	e->refs++;
	pthread_mutex_unlock(&gw->sh->mu);
}

/* Count a connection of e, unless the address has max open already. */
int
gw_ip_conn_add(struct gw *gw, struct gw_ip *e, unsigned max)
{
	int rc = 0;

	pthread_mutex_lock(&gw->sh->mu);
	if (max && e->conns >= max)
		rc = -1;
	else
		e->conns++;
	pthread_mutex_unlock(&gw->sh->mu);
	return rc;
}

void
gw_ip_conn_del(struct gw *gw, struct gw_ip *e)
{
	pthread_mutex_lock(&gw->sh->mu);
	if (e->conns > 0)
		e->conns--;
	pthread_mutex_unlock(&gw->sh->mu);
}

/* Take one handshake token; 0 if allowed, -1 if over the rate. */
int
gw_ip_handshake(struct gw *gw, struct gw_ip *e)
{
	double rate = gw->conf.handshake_rate, burst = 2 * rate;
	ev_tstamp now = ev_now(gw->loop);
	int rc = 0;

	if (rate == 0 || e == NULL)
		return 0;
	pthread_mutex_lock(&gw->sh->mu);
	if (e->tokens < 0)
		e->tokens = burst;
	else if (now > e->t)
		e->tokens += (now - e->t) * rate;
	if (e->tokens > burst)
		e->tokens = burst;
	if (now > e->t)
		e->t = now;	/* loops' clocks differ by a turn at most */
	if (e->tokens < 1)
		rc = -1;
	else
		e->tokens -= 1;
	pthread_mutex_unlock(&gw->sh->mu);
	return rc;
}

struct sweep_ctx {
	struct gw *gw;
	struct gw_ip **dead;
	uint32_t n, cap;
};

static void
sweep_one(void *val, void *arg)
{
	struct gw_ip *e = val;
	struct sweep_ctx *sc = arg;
	double rate = sc->gw->conf.handshake_rate;

	if (e->refs > 0)
		return;
	if (rate > 0 && e->tokens >= 0 && e->tokens + (ev_now(sc->gw->loop) - e->t) * rate < 2 * rate)
		return;		/* its bucket still remembers recent handshakes */
	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 64;
		sc->dead = gw_xrealloc(sc->dead, sc->cap * sizeof *sc->dead);
	}
	sc->dead[sc->n++] = e;
}

static void
free_one(void *val, void *arg)
{
	free(val);
}

/* Free entries nobody uses (periodic, and at shutdown with all = 1). */
void
gw_ip_sweep(struct gw *gw, int all)
{
	struct sweep_ctx sc = { gw, NULL, 0, 0 };
	uint32_t i;

	if (all) {
		gw_map_each(&gw->sh->ips, free_one, NULL);
		gw_map_free(&gw->sh->ips);
		return;
	}
	pthread_mutex_lock(&gw->sh->mu);
	gw_map_each(&gw->sh->ips, sweep_one, &sc);
	for (i = 0; i < sc.n; i++) {
		gw_map_del(&gw->sh->ips, sc.dead[i]->ip, strlen(sc.dead[i]->ip));
		free(sc.dead[i]);
	}
	pthread_mutex_unlock(&gw->sh->mu);
	free(sc.dead);
}
