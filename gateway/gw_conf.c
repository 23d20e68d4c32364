/*
 * gw_conf.c: the command line.  Every option, its default and its limit is
 * documented in siogate(8).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "gw.h"

#define EX_USAGE_CODE 64

enum {
	OPT_LISTEN = 256, OPT_PATH, OPT_EIO_PATH, OPT_PING_INTERVAL, OPT_PING_TIMEOUT,
	OPT_MAX_PAYLOAD, OPT_CORS, OPT_BRIDGE, OPT_LOG_LEVEL, OPT_STATIC, OPT_GW_ID,
	OPT_HTTP_TIMEOUT, OPT_MAX_HEADER, OPT_MAX_URL, OPT_MAX_OUTQ, OPT_BRIDGE_HB,
	OPT_BACKLOG, OPT_EXPIRY, OPT_CONNECT_TIMEOUT, OPT_ACK_TIMEOUT, OPT_CLIENT_DIR, OPT_VERSION, OPT_HELP,
};

static const struct option long_opts[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "path", required_argument, NULL, OPT_PATH },
	{ "engineio-path", required_argument, NULL, OPT_EIO_PATH },
	{ "ping-interval", required_argument, NULL, OPT_PING_INTERVAL },
	{ "ping-timeout", required_argument, NULL, OPT_PING_TIMEOUT },
	{ "max-payload", required_argument, NULL, OPT_MAX_PAYLOAD },
	{ "cors-origin", required_argument, NULL, OPT_CORS },
	{ "bridge", required_argument, NULL, OPT_BRIDGE },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "static", required_argument, NULL, OPT_STATIC },
	{ "gateway-id", required_argument, NULL, OPT_GW_ID },
	{ "http-timeout", required_argument, NULL, OPT_HTTP_TIMEOUT },
	{ "max-http-header", required_argument, NULL, OPT_MAX_HEADER },
	{ "max-url", required_argument, NULL, OPT_MAX_URL },
	{ "max-output", required_argument, NULL, OPT_MAX_OUTQ },
	{ "bridge-heartbeat", required_argument, NULL, OPT_BRIDGE_HB },
	{ "worker-backlog", required_argument, NULL, OPT_BACKLOG },
	{ "event-expiry", required_argument, NULL, OPT_EXPIRY },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "ack-timeout", required_argument, NULL, OPT_ACK_TIMEOUT },
	{ "client-dir", required_argument, NULL, OPT_CLIENT_DIR },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static const char usage_text[] =
    "usage: siogate [options]\n"
    "  --listen HOST:PORT        listen address, repeatable (default 127.0.0.1:8080;\n"
    "                            IPv6 as [::1]:8080)\n"
    "  --path PATH               Socket.IO endpoint path (default /socket.io/)\n"
    "  --engineio-path PATH      raw Engine.IO endpoint served by workers, repeatable\n"
    "  --ping-interval MS        Engine.IO pingInterval (default 25000)\n"
    "  --ping-timeout MS         Engine.IO pingTimeout (default 20000)\n"
    "  --max-payload BYTES       Engine.IO maxPayload (default 1000000)\n"
    "  --cors-origin ORIGIN      allowed Origin, repeatable; '*' allows any\n"
    "                            (default: same origin only)\n"
    "  --bridge ENDPOINT         ZeroMQ endpoint workers connect to\n"
    "                            (default tcp://127.0.0.1:5555; ipc:// allowed)\n"
    "  --log-level LEVEL         error, warn, info or debug (default info)\n"
    "  --static DIR              serve files from DIR for other paths\n"
    "  --gateway-id ID           4 characters [A-Za-z0-9_-] prefixed to every sid\n"
    "                            (default: random)\n"
    "  --http-timeout MS         deadline for a request, and keep-alive idle time\n"
    "                            (default 30000)\n"
    "  --max-http-header BYTES   limit on the header block (default 16384)\n"
    "  --max-url BYTES           limit on the request target (default 8192)\n"
    "  --max-output BYTES        output waiting per connection before it is\n"
    "                            closed as a slow consumer (default 8388608)\n"
    "  --bridge-heartbeat MS     gateway heartbeat interval on the bridge (default 2000)\n"
    "  --worker-backlog N        events queued per worker without credit (default 10000)\n"
    "  --event-expiry MS         how long an event may wait for a worker's credit\n"
    "                            before it is dropped (default 30000)\n"
    "  --connect-timeout MS      Socket.IO: time for a client's CONNECT, and for the\n"
    "                            worker's answer to it (default 45000)\n"
    "  --ack-timeout MS          Socket.IO: default wait for a client's ack to a\n"
    "                            worker's emit (default 10000)\n"
    "  --client-dir DIR          serve socket.io.js (and .min.js, .map) from DIR at\n"
    "                            <path>socket.io.js, like the Node server\n"
    "  --version                 print the version and exit\n"
    "  --help                    print this help and exit\n";

/* Report a bad option value. */
static int
conf_bad(const char *opt, const char *val, const char *expect)
{
	fprintf(stderr, "siogate: invalid value '%s' for --%s: %s\n", val, opt, expect);
	return -1;
}

/* Add an endpoint path (normalised to end with '/'). */
static int
conf_add_ep(struct gw_conf *c, const char *opt, const char *path, int kind)
{
	size_t n = strlen(path);
	struct gw_endpoint *ep;
	int i;

	if (n == 0 || path[0] != '/' || n > 200 || strpbrk(path, "?# \t") != NULL)
		return conf_bad(opt, path, "an absolute path like /engine.io/");
	if (c->nep == GW_MAX_ENDPOINTS)
		return conf_bad(opt, path, "too many endpoints (at most 16)");
	ep = &c->ep[c->nep];
	ep->path = gw_xmalloc(n + 2);
	memcpy(ep->path, path, n + 1);
	if (path[n - 1] != '/') {
		ep->path[n] = '/';
		ep->path[n + 1] = '\0';
		n++;
	}
	for (i = 0; i < c->nep; i++) {
		if (strcmp(c->ep[i].path, ep->path) == 0) {
			free(ep->path);
			ep->path = NULL;
			return conf_bad(opt, path, "path already used by another endpoint");
		}
	}
	ep->plen = n;
	ep->kind = kind;
	ep->idx = c->nep++;
	return 0;
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

/* Parse argv into c. */
int
gw_conf_from_argv(struct gw_conf *c, int argc, char **argv)
{
	int opt, i, sio_path_set = 0;
	unsigned long v;

	memset(c, 0, sizeof *c);
	c->ping_interval = 25000;
	c->ping_timeout = 20000;
	c->max_payload = 1000000;
	c->max_url = 8192;
	c->max_headers = 16384;
	c->http_timeout = 30000;
	c->max_outq = 8u * 1024 * 1024;
	c->max_backlog = 10000;
	c->bridge_hb = 2000;
	c->connect_timeout = 45000;
	c->event_expiry = 30000;
	c->ack_timeout = 10000;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
		const char *name = NULL;

		for (i = 0; long_opts[i].name != NULL; i++) {
			if (long_opts[i].val == opt)
				name = long_opts[i].name;
		}
		switch (opt) {
		case OPT_LISTEN:
			if (conf_check_listen(optarg) < 0)
				return conf_bad(name, optarg, "HOST:PORT with a port 0-65535");
			if (c->nlisten == GW_MAX_LISTEN)
				return conf_bad(name, optarg, "at most 16 listen addresses");
			c->listen[c->nlisten++] = strdup(optarg);
			break;
		case OPT_PATH:
			if (conf_add_ep(c, name, optarg, GW_EP_SIO) < 0)
				return -1;
			sio_path_set = 1;
			break;
		case OPT_EIO_PATH:
			if (conf_add_ep(c, name, optarg, GW_EP_RAW) < 0)
				return -1;
			break;
		case OPT_PING_INTERVAL:
		case OPT_PING_TIMEOUT:
			if (gw_parse_uint(optarg, 10, 3600000, &v) < 0)
				return conf_bad(name, optarg, "milliseconds, 10 to 3600000");
			if (opt == OPT_PING_INTERVAL)
				c->ping_interval = (unsigned)v;
			else
				c->ping_timeout = (unsigned)v;
			break;
		case OPT_MAX_PAYLOAD:
			if (gw_parse_uint(optarg, 16, 256u * 1024 * 1024, &v) < 0)
				return conf_bad(name, optarg, "bytes, 16 to 268435456");
			c->max_payload = (unsigned)v;
			break;
		case OPT_CORS:
			if (strcmp(optarg, "*") == 0) {
				c->any_origin = 1;
				break;
			}
			if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0)
				return conf_bad(name, optarg, "an origin like https://example.com or *");
			if (c->norigins == GW_MAX_ORIGINS)
				return conf_bad(name, optarg, "at most 64 origins");
			c->origins[c->norigins] = strdup(optarg);
			{
				size_t n = strlen(optarg);

				if (n > 0 && c->origins[c->norigins][n - 1] == '/')
					c->origins[c->norigins][n - 1] = '\0';
			}
			c->norigins++;
			break;
		case OPT_BRIDGE:
			if (strncmp(optarg, "tcp://", 6) != 0 && strncmp(optarg, "ipc://", 6) != 0)
				return conf_bad(name, optarg, "a ZeroMQ endpoint tcp://HOST:PORT or ipc://PATH");
			free(c->bridge);
			c->bridge = strdup(optarg);
			break;
		case OPT_LOG_LEVEL:
			if (gw_log_parse_level(optarg) < 0)
				return conf_bad(name, optarg, "error, warn, info or debug");
			gw_log_level = gw_log_parse_level(optarg);
			break;
		case OPT_STATIC:
			free(c->static_dir);
			c->static_dir = strdup(optarg);
			{
				size_t n = strlen(c->static_dir);

				while (n > 1 && c->static_dir[n - 1] == '/')
					c->static_dir[--n] = '\0';
			}
			break;
		case OPT_GW_ID:
			if (strlen(optarg) != 4 || strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz0123456789-_") != 4)
				return conf_bad(name, optarg, "4 characters from [A-Za-z0-9_-]");
			free(c->gateway_id);
			c->gateway_id = strdup(optarg);
			break;
		case OPT_HTTP_TIMEOUT:
			if (gw_parse_uint(optarg, 100, 3600000, &v) < 0)
				return conf_bad(name, optarg, "milliseconds, 100 to 3600000");
			c->http_timeout = (unsigned)v;
			break;
		case OPT_MAX_HEADER:
			if (gw_parse_uint(optarg, 256, 1024 * 1024, &v) < 0)
				return conf_bad(name, optarg, "bytes, 256 to 1048576");
			c->max_headers = (unsigned)v;
			break;
		case OPT_MAX_URL:
			if (gw_parse_uint(optarg, 64, 1024 * 1024, &v) < 0)
				return conf_bad(name, optarg, "bytes, 64 to 1048576");
			c->max_url = (unsigned)v;
			break;
		case OPT_MAX_OUTQ:
			if (gw_parse_uint(optarg, 4096, 1024ul * 1024 * 1024, &v) < 0)
				return conf_bad(name, optarg, "bytes, 4096 to 1073741824");
			c->max_outq = (unsigned)v;
			break;
		case OPT_BRIDGE_HB:
			if (gw_parse_uint(optarg, 10, 3600000, &v) < 0)
				return conf_bad(name, optarg, "milliseconds, 10 to 3600000");
			c->bridge_hb = (unsigned)v;
			break;
		case OPT_BACKLOG:
			if (gw_parse_uint(optarg, 1, 10000000, &v) < 0)
				return conf_bad(name, optarg, "a count, 1 to 10000000");
			c->max_backlog = (unsigned)v;
			break;
		case OPT_EXPIRY:
		case OPT_CONNECT_TIMEOUT:
		case OPT_ACK_TIMEOUT:
			if (gw_parse_uint(optarg, 10, 3600000, &v) < 0)
				return conf_bad(name, optarg, "milliseconds, 10 to 3600000");
			if (opt == OPT_EXPIRY)
				c->event_expiry = (unsigned)v;
			else if (opt == OPT_CONNECT_TIMEOUT)
				c->connect_timeout = (unsigned)v;
			else
				c->ack_timeout = (unsigned)v;
			break;
		case OPT_CLIENT_DIR:
			free(c->client_dir);
			c->client_dir = strdup(optarg);
			break;
		case OPT_VERSION:
			printf("siogate %s\n", PACKAGE_VERSION);
			return 1;
		case OPT_HELP:
			fputs(usage_text, stdout);
			return 1;
		case ':':
			fprintf(stderr, "siogate: option '%s' needs a value\n", argv[optind - 1]);
			return -1;
		default:
			fprintf(stderr, "siogate: unknown option '%s' (see --help)\n", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "siogate: unexpected argument '%s' (see --help)\n", argv[optind]);
		return -1;
	}
	if (!sio_path_set && conf_add_ep(c, "path", "/socket.io/", GW_EP_SIO) < 0)
		return -1;
	if (c->nlisten == 0)
		c->listen[c->nlisten++] = strdup("127.0.0.1:8080");
	if (c->bridge == NULL)
		c->bridge = strdup("tcp://127.0.0.1:5555");
	if (c->max_outq < c->max_payload + 1024)
		c->max_outq = c->max_payload + 1024;
	return 0;
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
	free(c->bridge);
	free(c->static_dir);
	free(c->gateway_id);
	free(c->client_dir);
	memset(c, 0, sizeof *c);
}

/* Exit status for usage errors (EX_USAGE). */
int gw_conf_usage_status(void);
int
gw_conf_usage_status(void)
{
	return EX_USAGE_CODE;
}
