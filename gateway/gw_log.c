/*
 * gw_log.c: one log sink, stderr, journald-friendly ("<6>" priority
 * prefixes, one line per record).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gw.h"

int gw_log_level = GW_LOG_INFO;
int gw_log_json;

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

/* Write one record if its level is enabled. */
void
gw_log(int level, const char *fmt, ...)
{
	char msg[2048], json[4200];
	va_list ap;
	size_t i, o = 0;

	if (level > gw_log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
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
