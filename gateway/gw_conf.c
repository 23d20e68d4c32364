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

enum opt_type { T_UINT, T_STR, T_LIST, T_LEVEL, T_FORMAT, T_PATH, T_ORIGINS, T_GWID, T_BRIDGE,
	T_LISTEN };

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
	{ "connect-timeout", "socketio", "connect_timeout", T_UINT, O(connect_timeout), 10, 3600000,
	  "45000", "MS", "time for a client's CONNECT, and for the worker's answer", 1 },
	{ "ack-timeout", "socketio", "ack_timeout", T_UINT, O(ack_timeout), 10, 3600000, "10000",
	  "MS", "default wait for a client's ack to a worker's emit", 1 },
	{ "bridge", "bridge", "endpoint", T_BRIDGE, O(bridge), 0, 0, "tcp://127.0.0.1:5555",
	  "ENDPOINT", "ZeroMQ endpoint workers connect to (tcp:// or ipc://)", 0 },
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
};

#define NOPTS (sizeof opts / sizeof opts[0])

/* The default configuration file. */
#define GW_CONF_DEFAULT "/etc/siogate/siogate.conf"

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

struct file_ctx {
	struct gw_conf *c;
	struct conf_err *e;
	unsigned char seen[NOPTS];	/* list options already started by this file */
};

/* A [worker NAME] key. */
static int
conf_worker_key(struct gw_conf *c, const char *name, const char *key, const char *val,
    struct conf_err *e)
{
	struct gw_worker_conf *w = NULL;
	unsigned long v;
	int i;

	for (i = 0; i < c->nworkers; i++) {
		if (strcmp(c->workers[i].name, name) == 0)
			w = &c->workers[i];
	}
	if (w == NULL) {
		if (c->nworkers == GW_MAX_WORKER_CONF)
			return conf_fail(e, "[worker %s]: at most %d worker sections", name,
			    GW_MAX_WORKER_CONF);
		if (name[0] == '\0' || strlen(name) > 64 || strspn(name,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(name))
			return conf_fail(e, "[worker %s]: a worker name is 1-64 of [A-Za-z0-9._-]", name);
		w = &c->workers[c->nworkers++];
		memset(w, 0, sizeof *w);
		w->name = strdup(name);
		w->processes = 1;
	}
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

/* inih's callback: one "key = value" of a section. */
static int
conf_file_cb(void *user, const char *section, const char *key, const char *val)
{
	struct file_ctx *fc = user;
	size_t i;
	int known_section = 0;

	if (strncmp(section, "worker ", 7) == 0)
		return conf_worker_key(fc->c, section + 7, key, val, fc->e) == 0;
	for (i = 0; i < NOPTS; i++) {
		if (strcmp(opts[i].section, section) != 0)
			continue;
		known_section = 1;
		if (strcmp(opts[i].key, key) != 0)
			continue;
		if (conf_set(fc->c, &opts[i], val, !fc->seen[i], fc->e) < 0) {
			char tmp[512];

			snprintf(tmp, sizeof tmp, "[%.40s] %.40s: %.400s", section, key, fc->e->msg);
			snprintf(fc->e->msg, sizeof fc->e->msg, "%s", tmp);
			return 0;
		}
		fc->seen[i] = 1;
		return 1;
	}
	if (!known_section) {
		conf_fail(fc->e, "[%s]: unknown section (allowed: server, engineio, socketio, bridge, "
		    "log, shutdown, metrics, worker NAME)", section);
		return 0;
	}
	{
		char allowed[512] = "";

		for (i = 0; i < NOPTS; i++) {
			if (strcmp(opts[i].section, section) == 0)
				snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
				    allowed[0] ? ", " : "", opts[i].key);
		}
		conf_fail(fc->e, "[%s] %s: unknown key (allowed: %s)", section, key, allowed);
	}
	return 0;
}

/* Read a configuration file into c. */
static int
conf_load_file(struct gw_conf *c, const char *file, struct conf_err *e)
{
	struct file_ctx fc;
	int rc;

	memset(&fc, 0, sizeof fc);
	fc.c = c;
	fc.e = e;
	e->msg[0] = '\0';
	rc = ini_parse(file, conf_file_cb, &fc);
	if (rc == -1) {
		char tmp[480];

		snprintf(tmp, sizeof tmp, "%s", strerror(errno));
		return conf_fail(e, "%s: cannot read: %s", file, tmp);
	}
	if (rc != 0) {
		char tmp[480];

		snprintf(tmp, sizeof tmp, "%s", e->msg[0] ? e->msg : "syntax error (expected "
		    "[section] or key = value)");
		return conf_fail(e, "%s:%d: %s", file, rc, tmp);
	}
	return 0;
}

/* ---- the command line ---- */

enum { OPT_CONFIG = 1000, OPT_CHECK, OPT_VERSION, OPT_HELP, OPT_STATUS, OPT_LIST };

static struct option long_opts[NOPTS + 7];

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
	    "                             the bridge) and exit\n", GW_CONF_DEFAULT);
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
		case T_PATH:
			for (j = 0; j < c->nep; j++) {
				if (c->ep[j].kind == (o->off ? GW_EP_RAW : GW_EP_SIO))
					fprintf(f, "%s = %s\n", o->key, c->ep[j].path);
			}
			break;
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

/* Apply what SIGHUP may change from a freshly loaded configuration. */
void
gw_conf_apply_live(struct gw_conf *cur, struct gw_conf *next)
{
	size_t i;
	int j;

	for (i = 0; i < NOPTS; i++) {
		const struct conf_opt *o = &opts[i];

		if (!o->live) {
			int same = 1;

			if (o->type == T_LISTEN) {
				same = cur->nlisten == next->nlisten;
				for (j = 0; same && j < cur->nlisten; j++)
					same = strcmp(cur->listen[j], next->listen[j]) == 0;
			} else if (o->type == T_PATH) {
				same = cur->nep == next->nep;
				for (j = 0; same && j < cur->nep; j++)
					same = strcmp(cur->ep[j].path, next->ep[j].path) == 0;
			} else if (o->type == T_UINT) {
				same = *FIELD(cur, o, unsigned) == *FIELD(next, o, unsigned);
			} else {
				char *a = *FIELD(cur, o, char *), *b = *FIELD(next, o, char *);

				same = (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
			}
			if (!same)
				gw_warn("reload: %s cannot change while running (restart needed); kept",
				    o->cli);
			continue;
		}
		switch (o->type) {
		case T_UINT:
			*FIELD(cur, o, unsigned) = *FIELD(next, o, unsigned);
			break;
		case T_STR: {
			char **a = FIELD(cur, o, char *), **b = FIELD(next, o, char *);
			char *t = *a;

			*a = *b;
			*b = t;
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
	    "list-options - -\n");
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
	free(c->file);
	memset(c, 0, sizeof *c);
}
