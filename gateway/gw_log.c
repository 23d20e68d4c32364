/*
 * gw_log.c: one log sink, stderr, journald-friendly ("<6>" priority
 * prefixes, one line per record).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gw.h"

int gw_log_level = GW_LOG_INFO;
int gw_log_json;

/*
 * Warnings and info lines logged while a loop handles what a client sent
 * (gw_log_client: a bad request, an Origin refused, a bad packet) are the
 * client's to multiply, and writing one is a blocking write on the loop:
 * a flood of them would fill the log and stall the loop on a slow reader
 * of stderr.  So each thread (each loop) writes at most GW_LOG_BURST of
 * them at once and GW_LOG_RATE per second after that; the others are
 * counted and the count is logged with the next line written.  Errors,
 * the gateway's own lines (start, reload, workers, the bridge) and
 * everything at debug level (asked for) are never held back.
 */
#define GW_LOG_BURST 200.0
#define GW_LOG_RATE 50.0
static __thread double log_tokens = GW_LOG_BURST;
static __thread double log_last;
static __thread unsigned long log_dropped;
__thread int gw_log_client;

/* Whether a record of this level may be written now. */
static int
log_admit(int level)
{
	struct timespec ts;
	double now;

	if (!gw_log_client || level == GW_LOG_ERR || gw_log_level >= GW_LOG_DEBUG)
		return 1;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	if (log_last > 0)
		log_tokens += (now - log_last) * GW_LOG_RATE;
	if (log_tokens > GW_LOG_BURST)
		log_tokens = GW_LOG_BURST;
	log_last = now;
	if (log_tokens < 1) {
		log_dropped++;
		return 0;
	}
	log_tokens -= 1;
	return 1;
}

/* Level name for JSON records. */
static const char *
log_level_name(int level)
{
	switch (level) {
	case GW_LOG_ERR: return "error";
	case GW_LOG_WARN: return "warn";
	case GW_LOG_INFO: return "info";
	default: return "debug";
	}
}

/* Write one formatted record. */
static void
log_write(int level, const char *msg)
{
	char json[4200];
	size_t i, o = 0;

	if (!gw_log_json) {
		fprintf(stderr, "<%d>siogate: %s\n", level, msg);
		return;
	}
	/* Messages are already escaped for control bytes; quote what JSON needs. */
	for (i = 0; msg[i] != '\0' && o + 8 < sizeof json; i++) {
		unsigned char ch = (unsigned char)msg[i];

		if (ch == '"' || ch == '\\') {
			json[o++] = '\\';
			json[o++] = (char)ch;
		} else if (ch < 0x20) {
			o += (size_t)snprintf(json + o, sizeof json - o, "\\u%04x", ch);
		} else {
			json[o++] = (char)ch;
		}
	}
	json[o] = '\0';
	fprintf(stderr, "{\"time\":%llu,\"level\":\"%s\",\"msg\":\"%s\"}\n",
	    (unsigned long long)gw_time_ms(), log_level_name(level), json);
}

/* Write one record if its level is enabled (and, for warn/info, the rate allows). */
void
gw_log(int level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (level > gw_log_level || !log_admit(level))
		return;
	if (log_dropped > 0) {
		snprintf(msg, sizeof msg, "%lu log line(s) caused by clients not written: more "
		    "than %.0f at once, %.0f per second after that", log_dropped,
		    GW_LOG_BURST, GW_LOG_RATE);
		log_dropped = 0;
		log_write(GW_LOG_WARN, msg);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_write(level, msg);
}

/* Printable copy of untrusted bytes: non-printables become \xNN. */
const char *
gw_log_escape(char *dst, size_t dstlen, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < n && o + 5 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	if (i < n && o + 3 < dstlen) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

/* Level from its name; -1 if unknown. */
int
gw_log_parse_level(const char *s)
{
	if (strcasecmp(s, "error") == 0)
		return GW_LOG_ERR;
	if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
		return GW_LOG_WARN;
	if (strcasecmp(s, "info") == 0)
		return GW_LOG_INFO;
	if (strcasecmp(s, "debug") == 0)
		return GW_LOG_DEBUG;
	return -1;
}
