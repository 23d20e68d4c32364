/*
 * gw_conf.c: configuration from the command line and an INI file (inih).
 *
 * One table describes every option: its command-line name, its section and
 * key in the file, its type, range and default, and whether SIGHUP can
 * change it.  --help, --check-config, the file parser and the man page
 * test all read this table, so they cannot disagree.  The command line
 * wins over the file; a list given on the command line replaces the file's.
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "gw.h"
#include "gw_cluster.h"
#include "gw_curve.h"

enum opt_type { T_UINT, T_STR, T_LIST, T_LEVEL, T_FORMAT, T_PATH, T_ORIGINS, T_GWID, T_BRIDGE,
	T_LISTEN, T_BOOL };

struct conf_opt {
	const char *cli;	/* command-line name, without "--" */
	const char *section;	/* file section */
	const char *key;	/* file key */
	enum opt_type type;
	size_t off;		/* offset in struct gw_conf */
	unsigned long min, max;	/* T_UINT range */
	const char *def;	/* default, as text (NULL: none) */
	const char *arg;	/* argument name for --help */
	const char *help;
	int live;		/* SIGHUP applies it */
};

#define O(f) offsetof(struct gw_conf, f)

static const struct conf_opt opts[] = {
	{ "listen", "server", "listen", T_LISTEN, 0, 0, 0, "127.0.0.1:8080", "HOST:PORT",
	  "listen address, repeatable; IPv6 as [::1]:8080", 0 },
	{ "path", "server", "path", T_PATH, 0, 0, 0, "/socket.io/", "PATH",
	  "Socket.IO endpoint path", 0 },
	{ "engineio-path", "server", "engineio_path", T_PATH, 1, 0, 0, NULL, "PATH",
	  "raw Engine.IO endpoint served by workers, repeatable", 0 },
	{ "cors-origin", "server", "cors_origin", T_ORIGINS, 0, 0, 0, NULL, "ORIGIN",
	  "allowed Origin, repeatable; '*' allows any (default: same origin only)", 1 },
	{ "static", "server", "static", T_STR, O(static_dir), 0, 0, NULL, "DIR",
	  "serve files from DIR for other paths", 1 },
	{ "client-dir", "server", "client_dir", T_STR, O(client_dir), 0, 0, NULL, "DIR",
	  "serve socket.io.js (and .min.js, .map) from DIR at <path>socket.io.js", 1 },
	{ "gateway-id", "server", "gateway_id", T_GWID, O(gateway_id), 0, 0, NULL, "ID",
	  "4 characters [A-Za-z0-9_-] prefixed to every sid (default: random)", 0 },
	{ "threads", "server", "threads", T_UINT, O(threads), 0, 64, "1", "N",
	  "event loops, one thread each, sharing the listen addresses (0: one per CPU)", 0 },
	{ "http-timeout", "server", "http_timeout", T_UINT, O(http_timeout), 100, 3600000, "30000",
	  "MS", "deadline for a request, and keep-alive idle time", 1 },
	{ "max-http-header", "server", "max_http_header", T_UINT, O(max_headers), 256, 1048576,
	  "16384", "BYTES", "limit on the header block", 1 },
	{ "max-url", "server", "max_url", T_UINT, O(max_url), 64, 1048576, "8192", "BYTES",
	  "limit on the request target", 1 },
	{ "max-output", "server", "max_output", T_UINT, O(max_outq), 4096, 1073741824, "8388608",
	  "BYTES", "output waiting per connection before it is closed as a slow consumer", 1 },
	{ "ping-interval", "engineio", "ping_interval", T_UINT, O(ping_interval), 10, 3600000,
	  "25000", "MS", "Engine.IO pingInterval", 1 },
	{ "ping-timeout", "engineio", "ping_timeout", T_UINT, O(ping_timeout), 10, 3600000, "20000",
	  "MS", "Engine.IO pingTimeout", 1 },
	{ "max-payload", "engineio", "max_payload", T_UINT, O(max_payload), 16, 268435456,
	  "1000000", "BYTES", "Engine.IO maxPayload", 1 },
	{ "polling-max-packets", "engineio", "polling_max_packets", T_UINT,
	  O(polling_max_packets), 0, 1000000, "16", "N",
	  "packets in one long-polling response at most, the rest in the next (0: no limit)", 1 },
	{ "allow-eio3", "engineio", "allow_eio3", T_BOOL, O(allow_eio3), 0, 1, "no", "yes|no",
	  "serve Engine.IO v3 clients (Socket.IO 1.x/2.x) too", 1 },
	{ "connect-timeout", "socketio", "connect_timeout", T_UINT, O(connect_timeout), 10, 3600000,
	  "45000", "MS", "time for a client's CONNECT, and for the worker's answer", 1 },
	{ "ack-timeout", "socketio", "ack_timeout", T_UINT, O(ack_timeout), 10, 3600000, "10000",
	  "MS", "default wait for a client's ack to a worker's emit", 1 },
	{ "recovery-window", "socketio", "recovery_window", T_UINT, O(recovery_window), 0, 3600000,
	  "0", "MS", "connection state recovery: how long a socket whose transport went waits "
	  "for its client (0: off)", 1 },
	{ "recovery-max-packets", "socketio", "recovery_max_packets", T_UINT,
	  O(recovery_max_packets), 1, 1000000, "1000", "N",
	  "connection state recovery: packets held per socket", 1 },
	{ "at-most-once", "socketio", "at_most_once", T_STR, O(at_most_once), 0, 0, NULL, "NSPS",
	  "namespaces (space-separated) whose events are not redelivered when a worker is lost",
	  1 },
	{ "bridge", "bridge", "endpoint", T_BRIDGE, O(bridge), 0, 0, "tcp://127.0.0.1:5555",
	  "ENDPOINT", "ZeroMQ endpoint workers connect to (tcp:// or ipc://)", 0 },
	{ "curve-secret-key-file", "bridge", "curve_secret_key_file", T_STR, O(curve_secret_file), 0,
	  0, NULL, "FILE", "enable ZeroMQ CURVE on the bridge with the secret key in FILE (z85, "
	  "from --curve-keygen)", 0 },
	{ "curve-authorized-keys", "bridge", "curve_authorized_keys", T_STR, O(curve_authorized), 0,
	  0, NULL, "FILE", "with CURVE: accept only workers whose public key (z85) is a line of FILE",
	  0 },
	{ "bridge-heartbeat", "bridge", "heartbeat", T_UINT, O(bridge_hb), 10, 3600000, "2000",
	  "MS", "gateway heartbeat interval on the bridge", 0 },
	{ "worker-backlog", "bridge", "worker_backlog", T_UINT, O(max_backlog), 1, 10000000,
	  "10000", "N", "events queued per worker without credit", 1 },
	{ "event-expiry", "bridge", "event_expiry", T_UINT, O(event_expiry), 10, 3600000, "30000",
	  "MS", "how long an event may wait for a worker's credit", 1 },
	{ "log-level", "log", "level", T_LEVEL, O(log_level), 0, 0, "info", "LEVEL",
	  "error, warn, info or debug", 1 },
	{ "log-format", "log", "format", T_FORMAT, O(log_json), 0, 0, "text", "FORMAT",
	  "text (journald priority prefixes) or json (one object per line)", 1 },
	{ "drain-timeout", "shutdown", "drain_timeout", T_UINT, O(drain_timeout), 0, 3600000,
	  "5000", "MS", "on SIGTERM, time to deliver what is pending before exiting", 1 },
	{ "metrics-listen", "metrics", "listen", T_STR, O(metrics_listen), 0, 0, NULL, "HOST:PORT",
	  "serve Prometheus metrics at /metrics on this address (default: off)", 0 },
	{ "cluster", "cluster", "redis", T_STR, O(cluster), 0, 0, NULL, "URL",
	  "join a cluster on Redis: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or unix:/PATH "
	  "(default: off)", 0 },
	{ "cluster-prefix", "cluster", "prefix", T_STR, O(cluster_prefix), 0, 0, "socket.io", "KEY",
	  "channel prefix, the redis adapter's key option", 0 },
	{ "cluster-max-queue", "cluster", "max_queue", T_UINT, O(cluster_max_queue), 65536,
	  1073741824, "8388608", "BYTES", "publishes not yet answered by Redis; more are dropped", 0 },
	{ "cluster-request-timeout", "cluster", "request_timeout", T_UINT, O(cluster_request_timeout),
	  100, 600000, "5000", "MS", "how long a worker's query waits for the other nodes", 0 },
	{ "cluster-python-channel", "cluster", "python_channel", T_STR, O(cluster_python), 0, 0,
	  "socketio", "NAME", "python-socketio's pub/sub channel to take emits from (empty: none)",
	  0 },
	{ "max-connections", "limits", "max_connections", T_UINT, O(max_conns), 0, 10000000, "0",
	  "N", "client connections in all; more are closed at accept (0: no limit)", 1 },
	{ "max-connections-per-ip", "limits", "max_connections_per_ip", T_UINT, O(max_conns_ip), 0,
	  10000000, "0", "N", "client connections from one IP address (0: no limit)", 1 },
	{ "handshake-rate", "limits", "handshake_rate", T_UINT, O(handshake_rate), 0, 1000000, "0",
	  "N", "Engine.IO handshakes per second from one IP, bursts of twice that (0: no limit)", 1 },
	{ "max-namespaces", "limits", "max_namespaces", T_UINT, O(max_nsp), 1, 100000, "32", "N",
	  "Socket.IO namespaces one connection may join", 1 },
	{ "max-rooms", "limits", "max_rooms", T_UINT, O(max_rooms), 1, 10000000, "10000", "N",
	  "rooms one socket may be in", 1 },
	{ "max-attachments", "limits", "max_attachments", T_UINT, O(max_att), 0, 256, "64", "N",
	  "binary attachments in one Socket.IO packet", 1 },
	{ "max-depth", "limits", "max_depth", T_UINT, O(max_depth), 1, 1000, "32", "N",
	  "nesting of arrays and objects in a Socket.IO payload", 1 },
	{ "max-event-name", "limits", "max_event_name", T_UINT, O(max_event_name), 1, 1048576, "512",
	  "BYTES", "length of a Socket.IO event name", 1 },
	{ "sid-bind-ip", "limits", "sid_bind_ip", T_BOOL, O(sid_bind_ip), 0, 1, "no", "yes|no",
	  "refuse requests for a session from another IP address than its handshake", 1 },
};

#define NOPTS (sizeof opts / sizeof opts[0])

/* The default configuration file. */
#ifndef SIOGATE_SYSCONFDIR
#define SIOGATE_SYSCONFDIR "/etc"
#endif
#define GW_CONF_DEFAULT SIOGATE_SYSCONFDIR "/siogate/siogate.conf"

/* Field of a configuration by offset. */
#define FIELD(c, o, T) ((T *)(void *)((char *)(c) + (o)->off))

/* An error message with its place: "FILE:LINE: [section] key: ..." */
struct conf_err {
	char msg[512];
};

static int
conf_fail(struct conf_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
conf_fail(struct conf_err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* Add an endpoint path (normalised to end with '/'). */
static int
conf_add_ep(struct gw_conf *c, const char *path, int kind, struct conf_err *e)
{
	size_t n = strlen(path);
	struct gw_endpoint *ep;
	int i;

	if (n == 0 || path[0] != '/' || n > 200 || strpbrk(path, "?# \t") != NULL)
		return conf_fail(e, "'%s' is not an absolute path like /engine.io/", path);
	if (c->nep == GW_MAX_ENDPOINTS)
		return conf_fail(e, "'%s': too many endpoints (at most 16)", path);
	ep = &c->ep[c->nep];
	ep->path = gw_xmalloc(n + 2);
	memcpy(ep->path, path, n + 1);
	if (path[n - 1] != '/') {
		ep->path[n] = '/';
		ep->path[++n] = '\0';
	}
	for (i = 0; i < c->nep; i++) {
		if (strcmp(c->ep[i].path, ep->path) == 0) {
			free(ep->path);
			ep->path = NULL;
			return conf_fail(e, "'%s': path already used by another endpoint", path);
		}
	}
	ep->plen = n;
	ep->kind = kind;
	ep->idx = c->nep++;
	return 0;
}

/* Drop the endpoints of one kind. */
static void
conf_clear_eps(struct gw_conf *c, int kind)
{
	int i, j = 0;

	for (i = 0; i < c->nep; i++) {
		if (c->ep[i].kind == kind) {
			free(c->ep[i].path);
			continue;
		}
		c->ep[j] = c->ep[i];
		c->ep[j].idx = j;
		j++;
	}
	c->nep = j;
}

/* Check a HOST:PORT listen address. */
static int
conf_check_listen(const char *v)
{
	const char *colon = strrchr(v, ':');
	unsigned long port;

	if (colon == NULL || colon == v)
		return -1;
	if (v[0] == '[' && colon[-1] != ']')
		return -1;
	/* An IPv6 address needs its brackets: "::1" is not host ":" port 1. */
	if (v[0] != '[' && memchr(v, ':', (size_t)(colon - v)) != NULL)
		return -1;
	return gw_parse_uint(colon + 1, 0, 65535, &port);
}

/* Set one option from text.  first: the first value of a list from this source. */
static int
conf_set(struct gw_conf *c, const struct conf_opt *o, const char *val, int first,
    struct conf_err *e)
{
	unsigned long v;
	char **sp;

	switch (o->type) {
	case T_UINT:
		if (gw_parse_uint(val, o->min, o->max, &v) < 0)
			return conf_fail(e, "'%s' is not a number from %lu to %lu", val, o->min, o->max);
		*FIELD(c, o, unsigned) = (unsigned)v;
		return 0;
	case T_STR:
		sp = FIELD(c, o, char *);
		free(*sp);
		*sp = strdup(val);
		if (o->off == O(static_dir) || o->off == O(client_dir)) {
			size_t n = strlen(*sp);

			while (n > 1 && (*sp)[n - 1] == '/')
				(*sp)[--n] = '\0';
		}
		if (o->off == O(metrics_listen) && conf_check_listen(val) < 0)
			return conf_fail(e, "'%s' is not HOST:PORT with a port 0-65535", val);
		if (o->off == O(cluster) && val[0] != '\0') {
			const char *why;

			if (gw_cluster_addr_check(val, &why) < 0)
				return conf_fail(e, "'%s': %s", val, why);
		}
		if (o->off == O(cluster_prefix) && (val[0] == '\0' || strlen(val) > 200 ||
		    strpbrk(val, "*?[]\\") != NULL))
			return conf_fail(e, "'%s' is not 1 to 200 characters without * ? [ ] \\", val);
		return 0;
	case T_BRIDGE:
		if (strncmp(val, "tcp://", 6) != 0 && strncmp(val, "ipc://", 6) != 0)
			return conf_fail(e, "'%s' is not a ZeroMQ endpoint tcp://HOST:PORT or ipc://PATH",
			    val);
		free(c->bridge);
		c->bridge = strdup(val);
		return 0;
	case T_GWID:
		if (strlen(val) != 4 || strspn(val, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_") != 4)
			return conf_fail(e, "'%s' is not 4 characters from [A-Za-z0-9_-]", val);
		free(c->gateway_id);
		c->gateway_id = strdup(val);
		return 0;
	case T_LEVEL:
		if (gw_log_parse_level(val) < 0)
			return conf_fail(e, "'%s' is not one of error, warn, info, debug", val);
		c->log_level = gw_log_parse_level(val);
		return 0;
	case T_FORMAT:
		if (strcmp(val, "text") != 0 && strcmp(val, "json") != 0)
			return conf_fail(e, "'%s' is not one of text, json", val);
		c->log_json = strcmp(val, "json") == 0;
		return 0;
	case T_LISTEN:
		if (first) {
			while (c->nlisten > 0)
				free(c->listen[--c->nlisten]);
		}
		if (conf_check_listen(val) < 0)
			return conf_fail(e, "'%s' is not HOST:PORT with a port 0-65535", val);
		if (c->nlisten == GW_MAX_LISTEN)
			return conf_fail(e, "'%s': at most 16 listen addresses", val);
		c->listen[c->nlisten++] = strdup(val);
		return 0;
	case T_PATH:
		if (first)
			conf_clear_eps(c, o->off ? GW_EP_RAW : GW_EP_SIO);
		if (!o->off && !first)
			return conf_fail(e, "'%s': only one Socket.IO path", val);
		return conf_add_ep(c, val, o->off ? GW_EP_RAW : GW_EP_SIO, e);
	case T_ORIGINS:
		if (first) {
			while (c->norigins > 0)
				free(c->origins[--c->norigins]);
			c->any_origin = 0;
		}
		if (strcmp(val, "*") == 0) {
			c->any_origin = 1;
			return 0;
		}
		if (strncmp(val, "http://", 7) != 0 && strncmp(val, "https://", 8) != 0)
			return conf_fail(e, "'%s' is not an origin like https://example.com, or *", val);
		if (c->norigins == GW_MAX_ORIGINS)
			return conf_fail(e, "'%s': at most 64 origins", val);
		c->origins[c->norigins] = strdup(val);
		{
			size_t n = strlen(val);

			if (n > 0 && c->origins[c->norigins][n - 1] == '/')
				c->origins[c->norigins][n - 1] = '\0';
		}
		c->norigins++;
		return 0;
	case T_BOOL:
		if (strcasecmp(val, "yes") == 0 || strcasecmp(val, "true") == 0 || strcmp(val, "1") == 0 ||
		    strcasecmp(val, "on") == 0)
			*FIELD(c, o, unsigned) = 1;
		else if (strcasecmp(val, "no") == 0 || strcasecmp(val, "false") == 0 ||
		    strcmp(val, "0") == 0 || strcasecmp(val, "off") == 0)
			*FIELD(c, o, unsigned) = 0;
		else
			return conf_fail(e, "'%s' is not one of yes, no", val);
		return 0;
	case T_LIST:
		return 0;
	}
	return 0;
}

/* Defaults for everything. */
static void
conf_defaults(struct gw_conf *c)
{
	struct conf_err e;
	size_t i;

	memset(c, 0, sizeof *c);
	c->log_level = GW_LOG_INFO;
	for (i = 0; i < NOPTS; i++) {
		if (opts[i].def != NULL)
			conf_set(c, &opts[i], opts[i].def, 1, &e);
	}
}

/* ---- the file ---- */

/*
 * Why our own line reader: inih reports only the line of its first error
 * and keeps parsing, and it cuts lines longer than its buffer into pieces
 * that it then parses as lines of their own.  Reading the lines ourselves
 * (ini_parse_stream) tells us the line every callback is about, so the
 * first error is reported with its own line and message; catches lines too
 * long for inih; and sees section headers, so an unknown section or a
 * [worker NAME] without keys is reported at its header.
 */
struct file_ctx {
	struct gw_conf *c;
	struct conf_err *e;
	FILE *f;
	int line;		/* lines read: the one inih is parsing now */
	int err_line;		/* line of the first error found here (0: none) */
	int in_key;		/* a key since the last header (inih's continuation rule) */
	int wline[GW_MAX_WORKER_CONF];	/* header line of each worker section */
	unsigned char seen[NOPTS];	/* list options already started by this file */
};

static void
conf_file_fail(struct file_ctx *fc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record an error at the current line, unless an earlier one was recorded. */
static void
conf_file_fail(struct file_ctx *fc, const char *fmt, ...)
{
	va_list ap;

	if (fc->err_line != 0)
		return;
	fc->err_line = fc->line;
	va_start(ap, fmt);
	vsnprintf(fc->e->msg, sizeof fc->e->msg, fmt, ap);
	va_end(ap);
}

/* The [worker NAME] section called name, created if new; NULL on error. */
static struct gw_worker_conf *
conf_worker_find(struct gw_conf *c, const char *name, struct conf_err *e)
{
	struct gw_worker_conf *w;
	int i;

	for (i = 0; i < c->nworkers; i++) {
		if (strcmp(c->workers[i].name, name) == 0)
			return &c->workers[i];
	}
	if (c->nworkers == GW_MAX_WORKER_CONF) {
		conf_fail(e, "[worker %s]: at most %d worker sections", name, GW_MAX_WORKER_CONF);
		return NULL;
	}
	if (name[0] == '\0' || strlen(name) > 64 || strspn(name,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(name)) {
		conf_fail(e, "[worker %s]: a worker name is 1-64 of [A-Za-z0-9._-]", name);
		return NULL;
	}
	w = &c->workers[c->nworkers++];
	memset(w, 0, sizeof *w);
	w->name = strdup(name);
	w->processes = 1;
	return w;
}

/* A [worker NAME] key. */
static int
conf_worker_key(struct gw_conf *c, const char *name, const char *key, const char *val,
    struct conf_err *e)
{
	struct gw_worker_conf *w;
	unsigned long v;

	if ((w = conf_worker_find(c, name, e)) == NULL)
		return -1;
	if (strcmp(key, "command") == 0) {
		free(w->command);
		w->command = strdup(val);
	} else if (strcmp(key, "processes") == 0) {
		if (gw_parse_uint(val, 1, 256, &v) < 0)
			return conf_fail(e, "[worker %s] processes: '%s' is not a number from 1 to 256",
			    name, val);
		w->processes = (unsigned)v;
	} else if (strcmp(key, "namespaces") == 0) {
		free(w->namespaces);
		w->namespaces = strdup(val);
	} else if (strcmp(key, "environment") == 0) {
		if (strchr(val, '=') == NULL || val[0] == '=')
			return conf_fail(e, "[worker %s] environment: '%s' is not NAME=VALUE", name, val);
		if (w->nenv == GW_MAX_WORKER_ENV)
			return conf_fail(e, "[worker %s] environment: at most %d variables", name,
			    GW_MAX_WORKER_ENV);
		w->env[w->nenv++] = strdup(val);
	} else if (strcmp(key, "directory") == 0) {
		free(w->directory);
		w->directory = strdup(val);
	} else if (strcmp(key, "user") == 0) {
		free(w->user);
		w->user = strdup(val);
	} else {
		return conf_fail(e, "[worker %s] %s: unknown key (allowed: command, processes, "
		    "namespaces, environment, directory, user)", name, key);
	}
	return 0;
}

/* The sections of the option table, "server, engineio, ..., worker NAME". */
static const char *
conf_sections(char *buf, size_t n)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < NOPTS; i++) {
		if (i > 0 && strcmp(opts[i - 1].section, opts[i].section) == 0)
			continue;
		len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s, ", opts[i].section);
	}
	snprintf(buf + (len < n ? len : n - 1), len < n ? n - len : 1, "worker NAME");
	return buf;
}

/* Whether name is a section of the option table. */
static int
conf_known_section(const char *name)
{
	size_t i;

	for (i = 0; i < NOPTS; i++) {
		if (strcmp(opts[i].section, name) == 0)
			return 1;
	}
	return 0;
}

/* A section header (the text between '[' and ']'), checked where it stands. */
static void
conf_file_section(struct file_ctx *fc, const char *name)
{
	char allowed[256];
	struct conf_err e;
	struct gw_worker_conf *w;

	if (strncmp(name, "worker ", 7) == 0) {
		if ((w = conf_worker_find(fc->c, name + 7, &e)) == NULL) {
			conf_file_fail(fc, "%s", e.msg);
			return;
		}
		if (fc->wline[w - fc->c->workers] == 0)
			fc->wline[w - fc->c->workers] = fc->line;
		return;
	}
	if (!conf_known_section(name))
		conf_file_fail(fc, "[%s]: unknown section (allowed: %s)", name,
		    conf_sections(allowed, sizeof allowed));
}

/* inih's line reader: one line of the file, counted and checked. */
static char *
conf_reader(char *str, int num, void *stream)
{
	struct file_ctx *fc = stream;
	size_t n;
	char *p, *end;
	int ch;

	if (fgets(str, num, fc->f) == NULL)
		return NULL;
	fc->line++;
	n = strlen(str);
	if (n > 0 && str[n - 1] != '\n' && (ch = fgetc(fc->f)) != EOF && ch != '\n') {
		while ((ch = fgetc(fc->f)) != EOF && ch != '\n')
			;
		conf_file_fail(fc, "line too long (at most %d characters)", num - 1);
		str[0] = '\0';
		return str;
	}
	p = str;
	if (fc->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (*p == ' ' || *p == '\t')
		p++;
	/* A header, unless indented under a key (then inih continues the key). */
	if (*p == '[' && !(p > str && fc->in_key) && (end = strchr(p, ']')) != NULL) {
		char name[256];

		snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
		fc->in_key = 0;
		conf_file_section(fc, name);
	}
	return str;
}

/* inih's callback: one "key = value" of a section. */
static int
conf_file_cb(void *user, const char *section, const char *key, const char *val)
{
	struct file_ctx *fc = user;
	struct conf_err e;
	size_t i;

	fc->in_key = 1;
	if (strncmp(section, "worker ", 7) == 0) {
		if (conf_worker_key(fc->c, section + 7, key, val, &e) < 0) {
			conf_file_fail(fc, "%s", e.msg);
			return 0;
		}
		return 1;
	}
	if (section[0] == '\0') {
		conf_file_fail(fc, "%s: key outside any [section]", key);
		return 0;
	}
	if (!conf_known_section(section)) {
		char allowed[256];

		conf_file_fail(fc, "[%s]: unknown section (allowed: %s)", section,
		    conf_sections(allowed, sizeof allowed));
		return 0;
	}
	for (i = 0; i < NOPTS; i++) {
		if (strcmp(opts[i].section, section) != 0 || strcmp(opts[i].key, key) != 0)
			continue;
		if (conf_set(fc->c, &opts[i], val, !fc->seen[i], &e) < 0) {
			conf_file_fail(fc, "[%.40s] %.40s: %.400s", section, key, e.msg);
			return 0;
		}
		fc->seen[i] = 1;
		return 1;
	}
	{
		char allowed[512] = "";

		for (i = 0; i < NOPTS; i++) {
			if (strcmp(opts[i].section, section) == 0)
				snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
				    allowed[0] ? ", " : "", opts[i].key);
		}
		conf_file_fail(fc, "[%s] %s: unknown key (allowed: %s)", section, key, allowed);
	}
	return 0;
}

/* Read a configuration file into c. */
static int
conf_load_file(struct gw_conf *c, const char *file, struct conf_err *e)
{
	struct file_ctx fc;
	int rc, i;

	memset(&fc, 0, sizeof fc);
	fc.c = c;
	fc.e = e;
	e->msg[0] = '\0';
	if ((fc.f = fopen(file, "r")) == NULL)
		return conf_fail(e, "%s: cannot read: %s", file, strerror(errno));
	rc = ini_parse_stream(conf_reader, &fc, conf_file_cb, &fc);
	if (ferror(fc.f)) {
		int err = errno;

		fclose(fc.f);
		return conf_fail(e, "%s: cannot read: %s", file, strerror(err));
	}
	fclose(fc.f);
	if (rc > 0 && (fc.err_line == 0 || rc < fc.err_line))
		return conf_fail(e, "%s:%d: syntax error (expected [section], key = value or "
		    "a ; comment)", file, rc);
	if (fc.err_line != 0) {
		char tmp[sizeof e->msg];

		memcpy(tmp, e->msg, sizeof tmp);	/* conf_fail truncates the joined line */
		return conf_fail(e, "%s:%d: %s", file, fc.err_line, tmp);
	}
	if (rc != 0)
		return conf_fail(e, "%s: cannot parse (inih error %d)", file, rc);
	for (i = 0; i < c->nworkers; i++) {
		if (fc.wline[i] != 0 && (c->workers[i].command == NULL ||
		    c->workers[i].command[0] == '\0'))
			return conf_fail(e, "%s:%d: [worker %s]: command is required", file, fc.wline[i],
			    c->workers[i].name);
	}
	return 0;
}

/* ---- the command line ---- */

enum { OPT_CONFIG = 1000, OPT_CHECK, OPT_VERSION, OPT_HELP, OPT_STATUS, OPT_LIST, OPT_KEYGEN };

static struct option long_opts[NOPTS + 8];

/* Build getopt's table from ours. */
static void
conf_getopt_table(void)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		long_opts[i] = (struct option){ opts[i].cli, required_argument, NULL, (int)i + 1 };
	long_opts[i++] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	long_opts[i++] = (struct option){ "check-config", no_argument, NULL, OPT_CHECK };
	long_opts[i++] = (struct option){ "status", no_argument, NULL, OPT_STATUS };
	long_opts[i++] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
	long_opts[i++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	long_opts[i++] = (struct option){ "list-options", no_argument, NULL, OPT_LIST };
	long_opts[i++] = (struct option){ "curve-keygen", no_argument, NULL, OPT_KEYGEN };
	long_opts[i] = (struct option){ NULL, 0, NULL, 0 };
}

/* Print --help from the table. */
static void
conf_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: siogate [options]\n"
	    "  --config FILE              configuration file (default %s, if present)\n"
	    "  --check-config             validate the configuration, print it, and exit\n"
	    "  --status                   print live figures of the running gateway (over\n"
	    "                             the bridge) and exit\n"
	    "  --curve-keygen             print a new CURVE key pair (z85) and exit\n",
	    GW_CONF_DEFAULT);
	for (i = 0; i < NOPTS; i++) {
		char head[64];

		snprintf(head, sizeof head, "--%s %s", opts[i].cli, opts[i].arg);
		fprintf(f, "  %-26s %s", head, opts[i].help);
		if (opts[i].def != NULL)
			fprintf(f, " (default %s)", opts[i].def);
		fprintf(f, "\n");
	}
	fprintf(f, "  --version                  print the version and exit\n"
	    "  --help                     print this help and exit\n");
}

/* Print the effective configuration as a file. */
static void
conf_print(const struct gw_conf *c, FILE *f)
{
	const char *sec = "";
	size_t i;
	int j;

	for (i = 0; i < NOPTS; i++) {
		const struct conf_opt *o = &opts[i];

		if (strcmp(sec, o->section) != 0) {
			fprintf(f, "%s[%s]\n", i ? "\n" : "", o->section);
			sec = o->section;
		}
		switch (o->type) {
		case T_UINT:
			fprintf(f, "%s = %u\n", o->key, *(const unsigned *)(const void *)((const char *)c + o->off));
			break;
		case T_BOOL:
			fprintf(f, "%s = %s\n", o->key,
			    *(const unsigned *)(const void *)((const char *)c + o->off) ? "yes" : "no");
			break;
		case T_STR:
		case T_GWID:
		case T_BRIDGE: {
			const char *v = *(char *const *)(const void *)((const char *)c + o->off);

			if (v != NULL)
				fprintf(f, "%s = %s\n", o->key, v);
			else
				fprintf(f, "; %s = (not set)\n", o->key);
			break;
		}
		case T_LEVEL:
			fprintf(f, "%s = %s\n", o->key, c->log_level >= GW_LOG_DEBUG ? "debug" :
			    c->log_level >= GW_LOG_INFO ? "info" : c->log_level >= GW_LOG_WARN ? "warn" :
			    "error");
			break;
		case T_FORMAT:
			fprintf(f, "%s = %s\n", o->key, c->log_json ? "json" : "text");
			break;
		case T_LISTEN:
			for (j = 0; j < c->nlisten; j++)
				fprintf(f, "%s = %s\n", o->key, c->listen[j]);
			break;
		case T_PATH: {
			int n = 0;

			for (j = 0; j < c->nep; j++) {
				if (c->ep[j].kind == (o->off ? GW_EP_RAW : GW_EP_SIO)) {
					fprintf(f, "%s = %s\n", o->key, c->ep[j].path);
					n++;
				}
			}
			if (n == 0)
				fprintf(f, "; %s = (not set)\n", o->key);
			break;
		}
		case T_ORIGINS:
			if (c->any_origin)
				fprintf(f, "%s = *\n", o->key);
			for (j = 0; j < c->norigins; j++)
				fprintf(f, "%s = %s\n", o->key, c->origins[j]);
			if (!c->any_origin && c->norigins == 0)
				fprintf(f, "; %s = (same origin only)\n", o->key);
			break;
		case T_LIST:
			break;
		}
	}
	for (j = 0; j < c->nworkers; j++) {
		const struct gw_worker_conf *w = &c->workers[j];
		int k;

		fprintf(f, "\n[worker %s]\ncommand = %s\nprocesses = %u\n", w->name,
		    w->command ? w->command : "", w->processes);
		if (w->namespaces)
			fprintf(f, "namespaces = %s\n", w->namespaces);
		for (k = 0; k < w->nenv; k++)
			fprintf(f, "environment = %s\n", w->env[k]);
		if (w->directory)
			fprintf(f, "directory = %s\n", w->directory);
		if (w->user)
			fprintf(f, "user = %s\n", w->user);
	}
}

/* Checks across options, after everything is read. */
static int
conf_finish(struct gw_conf *c, struct conf_err *e)
{
	int i;

	for (i = 0; i < c->nworkers; i++) {
		if (c->workers[i].command == NULL || c->workers[i].command[0] == '\0')
			return conf_fail(e, "[worker %s]: command is required", c->workers[i].name);
	}
	if (c->max_outq < c->max_payload + 1024)
		c->max_outq = c->max_payload + 1024;
	return 0;
}

/* Parse argv (and the file it names) into c.  See gw.h for the result. */
int
gw_conf_load(struct gw_conf *c, int argc, char **argv, int *action)
{
	const char *file = NULL;
	int opt, explicit_file = 0;
	struct conf_err e;
	unsigned char cli_seen[NOPTS];

	/* Zeroed first: after an early return (--version, --curve-keygen...) the
	   caller still calls gw_conf_free(). */
	memset(c, 0, sizeof *c);
	*action = GW_CONF_RUN;
	conf_getopt_table();
	/* First pass: what to do and which file. */
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
		if (opt == OPT_CONFIG) {
			file = optarg;
			explicit_file = 1;
		} else if (opt == OPT_CHECK) {
			*action = GW_CONF_CHECK;
		} else if (opt == OPT_STATUS) {
			*action = GW_CONF_STATUS;
		} else if (opt == OPT_VERSION) {
			printf("siogate %s\n", PACKAGE_VERSION);
			return 1;
		} else if (opt == OPT_HELP) {
			conf_usage(stdout);
			return 1;
		} else if (opt == OPT_LIST) {
			gw_conf_list(stdout);
			return 1;
		} else if (opt == OPT_KEYGEN) {
			return gw_curve_keygen() == 0 ? 1 : -2;
		} else if (opt == ':') {
			fprintf(stderr, "siogate: option '%s' needs a value\n", argv[optind - 1]);
			return -1;
		} else if (opt == '?') {
			fprintf(stderr, "siogate: unknown option '%s' (see --help)\n", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "siogate: unexpected argument '%s' (see --help)\n", argv[optind]);
		return -1;
	}
	conf_defaults(c);
	if (file == NULL && access(GW_CONF_DEFAULT, F_OK) == 0)
		file = GW_CONF_DEFAULT;
	if (file != NULL) {
		if (conf_load_file(c, file, &e) < 0) {
			fprintf(stderr, "siogate: %s\n", e.msg);
			return -2;
		}
		c->file = strdup(file);
	}
	(void)explicit_file;
	/* Second pass: the command line over the file. */
	memset(cli_seen, 0, sizeof cli_seen);
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
		const struct conf_opt *o;

		if (opt < 1 || (size_t)opt > NOPTS)
			continue;
		o = &opts[opt - 1];
		if (conf_set(c, o, optarg, !cli_seen[opt - 1], &e) < 0) {
			fprintf(stderr, "siogate: invalid value for --%s: %s\n", o->cli, e.msg);
			return -1;
		}
		cli_seen[opt - 1] = 1;
	}
	if (conf_finish(c, &e) < 0) {
		fprintf(stderr, "siogate: %s%s%s\n", c->file ? c->file : "", c->file ? ": " : "", e.msg);
		return -2;
	}
	if (*action == GW_CONF_CHECK) {
		printf("; siogate %s: configuration is valid (%s%s)\n", PACKAGE_VERSION,
		    c->file ? "file " : "no file, embedded defaults", c->file ? c->file : "");
		conf_print(c, stdout);
	}
	return 0;
}

/* An option's value as text, lists joined with ", " ("" when unset). */
static void
conf_text(const struct gw_conf *c, const struct conf_opt *o, char *buf, size_t n)
{
	size_t len = 0;
	int j;

#define ADD(...) (len += (size_t)snprintf(buf + len, len < n ? n - len : 0, __VA_ARGS__))
	buf[0] = '\0';
	switch (o->type) {
	case T_UINT:
		ADD("%u", *(const unsigned *)(const void *)((const char *)c + o->off));
		break;
	case T_STR:
	case T_GWID:
	case T_BRIDGE: {
		const char *v = *(char *const *)(const void *)((const char *)c + o->off);

		ADD("%s", v ? v : "");
		break;
	}
	case T_LEVEL:
		ADD("%s", c->log_level >= GW_LOG_DEBUG ? "debug" : c->log_level >= GW_LOG_INFO ?
		    "info" : c->log_level >= GW_LOG_WARN ? "warn" : "error");
		break;
	case T_FORMAT:
		ADD("%s", c->log_json ? "json" : "text");
		break;
	case T_LISTEN:
		for (j = 0; j < c->nlisten; j++)
			ADD("%s%s", j ? ", " : "", c->listen[j]);
		break;
	case T_PATH:
		for (j = 0; j < c->nep; j++) {
			if (c->ep[j].kind == (o->off ? GW_EP_RAW : GW_EP_SIO))
				ADD("%s%s", len ? ", " : "", c->ep[j].path);
		}
		break;
	case T_ORIGINS:
		if (c->any_origin)
			ADD("*");
		for (j = 0; j < c->norigins; j++)
			ADD("%s%s", len ? ", " : "", c->origins[j]);
		break;
	case T_BOOL:
		ADD("%s", *(const unsigned *)(const void *)((const char *)c + o->off) ? "yes" : "no");
		break;
	case T_LIST:
		break;
	}
#undef ADD
	if (len >= n && n > 4)
		memcpy(buf + n - 4, "...", 4);
}

/*
 * Apply what SIGHUP may change from a freshly loaded configuration.  Every
 * option that changed is logged: "reload: --NAME: OLD -> NEW" when applied,
 * a warning when it cannot change while running.
 */
void
gw_conf_apply_live(struct gw_conf *cur, struct gw_conf *next, int quiet)
{
	char a[512], b[512];
	size_t i;
	int j;

	for (i = 0; i < NOPTS; i++) {
		const struct conf_opt *o = &opts[i];

		conf_text(cur, o, a, sizeof a);
		conf_text(next, o, b, sizeof b);
		if (strcmp(a, b) == 0)
			continue;
		if (!o->live) {
			if (!quiet)
				gw_warn("reload: %s cannot change while running (restart needed); kept",
				    o->cli);
			continue;
		}
		if (!quiet)
			gw_info("reload: %s: %s -> %s", o->cli, a[0] ? a : "(not set)",
			    b[0] ? b : "(not set)");
		switch (o->type) {
		case T_UINT:
		case T_BOOL:
			*FIELD(cur, o, unsigned) = *FIELD(next, o, unsigned);
			break;
		case T_STR: {
			char **pa = FIELD(cur, o, char *), **pb = FIELD(next, o, char *);
			char *t = *pa;

			*pa = *pb;
			*pb = t;
			break;
		}
		case T_LEVEL:
			cur->log_level = next->log_level;
			break;
		case T_FORMAT:
			cur->log_json = next->log_json;
			break;
		case T_ORIGINS:
			for (j = 0; j < cur->norigins; j++)
				free(cur->origins[j]);
			memcpy(cur->origins, next->origins, sizeof cur->origins);
			cur->norigins = next->norigins;
			cur->any_origin = next->any_origin;
			next->norigins = 0;
			break;
		default:
			break;
		}
	}
	/* Worker programs are live too: the supervisor reconciles them. */
	for (j = 0; j < cur->nworkers; j++)
		gw_worker_conf_free(&cur->workers[j]);
	memcpy(cur->workers, next->workers, sizeof cur->workers);
	cur->nworkers = next->nworkers;
	next->nworkers = 0;
}

/* The option table, for the documentation test: "cli section key" lines. */
void
gw_conf_list(FILE *f)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		fprintf(f, "%s %s %s\n", opts[i].cli, opts[i].section, opts[i].key);
	fprintf(f, "config - -\ncheck-config - -\nstatus - -\nversion - -\nhelp - -\n"
	    "list-options - -\ncurve-keygen - -\n");
	fprintf(f, "- worker command\n- worker processes\n- worker namespaces\n"
	    "- worker environment\n- worker directory\n- worker user\n");
}

/* Free one worker section. */
void
gw_worker_conf_free(struct gw_worker_conf *w)
{
	int k;

	free(w->name);
	free(w->command);
	free(w->namespaces);
	for (k = 0; k < w->nenv; k++)
		free(w->env[k]);
	free(w->directory);
	free(w->user);
	memset(w, 0, sizeof *w);
}

/* Free what the configuration owns. */
void
gw_conf_free(struct gw_conf *c)
{
	int i;

	for (i = 0; i < c->nlisten; i++)
		free(c->listen[i]);
	for (i = 0; i < c->nep; i++)
		free(c->ep[i].path);
	for (i = 0; i < c->norigins; i++)
		free(c->origins[i]);
	for (i = 0; i < c->nworkers; i++)
		gw_worker_conf_free(&c->workers[i]);
	free(c->bridge);
	free(c->static_dir);
	free(c->client_dir);
	free(c->gateway_id);
	free(c->metrics_listen);
	free(c->cluster);
	free(c->cluster_prefix);
	free(c->cluster_python);
	free(c->at_most_once);
	free(c->curve_secret_file);
	free(c->curve_authorized);
	free(c->file);
	memset(c, 0, sizeof *c);
}
