/*
 * gw_util.c: allocation that aborts on OOM, base64, randomness, number and
 * URL parsing, opening a file confined to a folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "gw.h"

/* Abort with a log line: the gateway cannot continue without memory. */
static void
gw_oom(size_t n)
{
	gw_err("out of memory allocating %zu bytes", n);
	abort();
}

void *
gw_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		gw_oom(n);
	return p;
}

void *
gw_xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);

	if (p == NULL)
		gw_oom(n * m);
	return p;
}

void *
gw_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		gw_oom(n);
	return q;
}

char *
gw_xstrndup(const char *s, size_t n)
{
	char *d = gw_xmalloc(n + 1);

	if (n > 0)
		memcpy(d, s, n);	/* s may be NULL for n == 0 (an empty attachment) */
	d[n] = '\0';
	return d;
}

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Standard padded base64 of n bytes; returns the output length. */
size_t
gw_b64_encode(char *dst, const unsigned char *src, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];

		dst[o++] = b64_std[v >> 18];
		dst[o++] = b64_std[(v >> 12) & 63];
		dst[o++] = b64_std[(v >> 6) & 63];
		dst[o++] = b64_std[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)src[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)src[i + 1] << 8;
		dst[o++] = b64_std[v >> 18];
		dst[o++] = b64_std[(v >> 12) & 63];
		dst[o++] = i + 1 < n ? b64_std[(v >> 6) & 63] : '=';
		dst[o++] = '=';
	}
	return o;
}

/* Value of one base64 character (standard or url-safe), -1 if none. */
static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decode base64 (padding optional); -1 on a bad character or length. */
long
gw_b64_decode(unsigned char *dst, const char *src, size_t n)
{
	size_t i, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	while (n > 0 && src[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		int v = b64_val((unsigned char)src[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			dst[o++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)o;
}

/* Kernel randomness (getrandom); -1 on failure. */
int
gw_random(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

/* nchars url-safe base64 characters of fresh randomness, plus NUL. */
int
gw_random_id(char *dst, size_t nchars)
{
	unsigned char raw[64];
	size_t i;

	if (nchars > sizeof raw || gw_random(raw, nchars) < 0)
		return -1;
	for (i = 0; i < nchars; i++)
		dst[i] = b64_url[raw[i] & 63];
	dst[nchars] = '\0';
	return 0;
}

/* Wall-clock milliseconds since the epoch. */
uint64_t
gw_time_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Strict decimal parse within [lo, hi]. */
int
gw_parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Value of a hex digit, -1 if none. */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode in place; malformed escapes are kept as they are. */
size_t
gw_url_decode(char *s, size_t n, int plus_is_space)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			s[o++] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
		} else if (s[i] == '+' && plus_is_space) {
			s[o++] = ' ';
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

/* Open rel below dirfd one component at a time, following no symlink. */
static int
util_open_walk(int dirfd, const char *rel, int flags)
{
	char comp[NAME_MAX + 1];
	const char *p = rel;
	int cur = dirfd, fd, e;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0 || n > NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			errno = n > NAME_MAX ? ENAMETOOLONG : EXDEV;
			fd = -1;
			break;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (slash == NULL) {
			fd = openat(cur, comp, flags | O_CLOEXEC | O_NOFOLLOW);
			break;
		}
		/* O_PATH | O_NOFOLLOW would open a symlink itself: O_DIRECTORY refuses it. */
		fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			break;
		if (cur != dirfd)
			close(cur);
		cur = fd;
		p = slash + 1;
	}
	e = errno;
	if (cur != dirfd)
		close(cur);
	errno = e;
	return fd;
}

/* Open rel below dirfd, never resolving to anything outside it. */
int
gw_open_beneath(int dirfd, const char *rel, int flags, int walk)
{
#ifdef SYS_openat2
	if (!walk) {
		struct open_how how;
		long fd;

		memset(&how, 0, sizeof how);
		how.flags = (uint64_t)(unsigned)(flags | O_CLOEXEC);
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
		fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
		if (fd >= 0 || errno != ENOSYS)
			return (int)fd;
	}
#else
	(void)walk;
#endif
	return util_open_walk(dirfd, rel, flags);
}
