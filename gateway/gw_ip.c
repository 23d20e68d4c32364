/*
 * gw_ip.c: per-IP bookkeeping for limits: open connections, a handshake
 * token bucket, and identity for sid_bind_ip.  An entry is referenced by
 * the connections and sessions of its address and freed when the last
 * reference goes and its bucket is full again (checked by a sweep).
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
	e = gw_map_get(&gw->ips, ip, strlen(ip));
	if (e == NULL) {
		e = gw_xcalloc(1, sizeof *e);
		snprintf(e->ip, sizeof e->ip, "%s", ip);
		e->tokens = -1;		/* full, filled on first use */
		gw_map_put(&gw->ips, e->ip, strlen(e->ip), e);
	}
	e->refs++;
	return e;
}

/* Drop a reference. */
void
gw_ip_put(struct gw *gw, struct gw_ip *e)
{
	if (e != NULL && e->refs > 0)
		e->refs--;
}

/* Take one handshake token; 0 if allowed, -1 if over the rate. */
int
gw_ip_handshake(struct gw *gw, struct gw_ip *e)
{
	double rate = gw->conf.handshake_rate, burst = 2 * rate;
	ev_tstamp now = ev_now(gw->loop);

	if (rate == 0 || e == NULL)
		return 0;
	if (e->tokens < 0)
		e->tokens = burst;
	else
		e->tokens += (now - e->t) * rate;
	if (e->tokens > burst)
		e->tokens = burst;
	e->t = now;
	if (e->tokens < 1)
		return -1;
	e->tokens -= 1;
	return 0;
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
		gw_map_each(&gw->ips, free_one, NULL);
		gw_map_free(&gw->ips);
		return;
	}
	gw_map_each(&gw->ips, sweep_one, &sc);
	for (i = 0; i < sc.n; i++) {
		gw_map_del(&gw->ips, sc.dead[i]->ip, strlen(sc.dead[i]->ip));
		free(sc.dead[i]);
	}
	free(sc.dead);
}
