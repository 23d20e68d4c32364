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

/* Write one record if its level is enabled. */
void
gw_log(int level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	if (level > gw_log_level)
		return;
	n = snprintf(line, sizeof line, "<%d>siogate: ", level);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
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
