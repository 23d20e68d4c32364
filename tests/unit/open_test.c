/*
 * open_test.c: gw_open_beneath, both ways (openat2 RESOLVE_BENEATH and the
 * O_NOFOLLOW walk used where the kernel has no openat2), on a real folder
 * with files, a FIFO and symbolic links leading in and out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw.h"
#include "tap.h"

static char top[64];

static void
put(const char *rel, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", top, rel);
	f = fopen(p, "w");
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static void
link_at(const char *target, const char *rel)
{
	char p[256];

	snprintf(p, sizeof p, "%s/%s", top, rel);
	if (symlink(target, p) < 0)
		perror(p);
}

/* Open rel below www; "" when it cannot be opened, else its first bytes. */
static const char *
try_open(int dfd, const char *rel, int walk, char *buf, size_t n)
{
	int fd = gw_open_beneath(dfd, rel, O_RDONLY | O_NONBLOCK, walk);
	ssize_t got;

	buf[0] = '\0';
	if (fd < 0)
		return buf;
	got = read(fd, buf, n - 1);
	buf[got > 0 ? got : 0] = '\0';
	if (got <= 0)
		snprintf(buf, n, "(opened, nothing read)");
	close(fd);
	return buf;
}

int
main(void)
{
	char p[256], buf[64], secret[128];
	int dfd, walk;

	snprintf(top, sizeof top, "/tmp/siogate-open-test-XXXXXX");
	if (mkdtemp(top) == NULL)
		return 1;
	snprintf(p, sizeof p, "%s/www", top);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/www/sub", top);
	mkdir(p, 0755);
	put("www/a.txt", "a");
	put("www/sub/b.txt", "b");
	put("secret.txt", "secret");
	snprintf(p, sizeof p, "%s/www/fifo", top);
	mkfifo(p, 0644);
	snprintf(secret, sizeof secret, "%s/secret.txt", top);
	link_at(secret, "www/abs_out.txt");
	link_at("../secret.txt", "www/rel_out.txt");
	link_at(top, "www/dir_out");
	link_at("sub", "www/dir_in");
	link_at("a.txt", "www/file_in.txt");
	snprintf(p, sizeof p, "%s/www", top);
	dfd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);

	for (walk = 0; walk <= 1; walk++) {
		const char *how = walk ? "walk" : "openat2";

		tap_ok(strcmp(try_open(dfd, "a.txt", walk, buf, sizeof buf), "a") == 0,
		    "%s: a file in the folder", how);
		tap_ok(strcmp(try_open(dfd, "sub/b.txt", walk, buf, sizeof buf), "b") == 0,
		    "%s: a file in a subfolder", how);
		tap_ok(*try_open(dfd, "abs_out.txt", walk, buf, sizeof buf) == '\0',
		    "%s: an absolute symlink out is refused", how);
		tap_ok(*try_open(dfd, "rel_out.txt", walk, buf, sizeof buf) == '\0',
		    "%s: a ../ symlink out is refused", how);
		tap_ok(*try_open(dfd, "dir_out/secret.txt", walk, buf, sizeof buf) == '\0',
		    "%s: a directory symlink out is refused", how);
		tap_ok(*try_open(dfd, "../secret.txt", walk, buf, sizeof buf) == '\0' &&
		    *try_open(dfd, "sub/../../secret.txt", walk, buf, sizeof buf) == '\0',
		    "%s: .. out is refused", how);
		tap_ok(*try_open(dfd, secret, walk, buf, sizeof buf) == '\0',
		    "%s: an absolute path is refused", how);
		/* Symlinks that stay inside: followed by openat2, never by the walk. */
		try_open(dfd, "dir_in/b.txt", walk, buf, sizeof buf);
		tap_ok(walk ? buf[0] == '\0' : strcmp(buf, "b") == 0,
		    "%s: a directory symlink inside is %s", how, walk ? "refused" : "followed");
		try_open(dfd, "file_in.txt", walk, buf, sizeof buf);
		tap_ok(walk ? buf[0] == '\0' : strcmp(buf, "a") == 0,
		    "%s: a file symlink inside is %s", how, walk ? "refused" : "followed");
		tap_ok(strcmp(try_open(dfd, "fifo", walk, buf, sizeof buf),
		    "(opened, nothing read)") == 0, "%s: a FIFO opens at once (O_NONBLOCK)", how);
	}
	close(dfd);
	snprintf(p, sizeof p, "rm -rf '%s'", top);
	if (system(p) != 0)
		tap_ok(0, "clean up %s", top);
	return tap_done();
}
