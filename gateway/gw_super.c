/*
 * gw_super.c: supervision of worker programs ([worker NAME] sections).
 *
 * Each process runs "/bin/sh -c command" in its own process group, with
 * SIOGATE_ENDPOINT (the bridge), SIOGATE_WORKER_NAME, SIOGATE_WORKER_INDEX
 * and SIOGATE_NAMESPACES in its environment.  Its stdout and stderr are
 * read line by line into the gateway's log under the worker's name.  A
 * process that exits is logged with its status and started again after a
 * backoff that doubles from 1 s up to 60 s (back to 1 s once a process has
 * run for 30 s).  On reload, processes whose section changed or went away
 * are stopped and the configured ones started; on shutdown all get
 * SIGTERM, then SIGKILL after 5 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gw.h"

#define SUPER_BACKOFF_MIN 1.0
#define SUPER_BACKOFF_MAX 60.0
#define SUPER_STABLE 30.0
#define SUPER_KILL_AFTER 5.0
#define SUPER_LINE_MAX 2048

/* One output pipe of a process, read line by line. */
struct super_pipe {
	ev_io io;
	struct gw_proc *p;
	int fd;
	int is_err;
	size_t len;
	char buf[SUPER_LINE_MAX];
};

/* One supervised process.  Owned by gw->procs. */
struct gw_proc {
	struct gw_proc *next;
	struct gw *gw;
	char *name;
	char *sig;		/* the section as text: a change means restart */
	unsigned index;
	pid_t pid;		/* 0: not running */
	int wanted;		/* 0: stopping for good */
	ev_child child;
	ev_timer restart;	/* backoff, or the SIGKILL deadline */
	double backoff;
	ev_tstamp started;
	struct super_pipe out, err;
};

/* The section as one string (to notice changes on reload). */
static char *
super_sig(const struct gw_worker_conf *w)
{
	char buf[8192];
	size_t o;
	int k;

	o = (size_t)snprintf(buf, sizeof buf, "%s\n%u\n%s\n%s\n%s\n", w->command ? w->command : "",
	    w->processes, w->namespaces ? w->namespaces : "", w->directory ? w->directory : "",
	    w->user ? w->user : "");
	for (k = 0; k < w->nenv && o < sizeof buf; k++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\n", w->env[k]);
	return strdup(buf);
}

/* The endpoint a child should connect to (a wildcard bind means loopback). */
static void
super_endpoint(const struct gw *gw, char *dst, size_t n)
{
	const char *b = gw->conf.bridge;

	if (strncmp(b, "tcp://0.0.0.0:", 14) == 0)
		snprintf(dst, n, "tcp://127.0.0.1:%s", b + 14);
	else if (strncmp(b, "tcp://*:", 8) == 0)
		snprintf(dst, n, "tcp://127.0.0.1:%s", b + 8);
	else
		snprintf(dst, n, "%s", b);
}

/* Log complete lines read from a child's pipe. */
static void
super_pipe_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct super_pipe *sp = w->data;
	ssize_t n = read(sp->fd, sp->buf + sp->len, sizeof sp->buf - 1 - sp->len);
	char *nl, esc[SUPER_LINE_MAX * 4 + 8];

	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		ev_io_stop(loop, w);
		if (sp->len > 0) {
			gw_log(sp->is_err ? GW_LOG_WARN : GW_LOG_INFO, "worker %s[%u]: %s", sp->p->name,
			    sp->p->index, gw_log_escape(esc, sizeof esc, sp->buf, sp->len));
			sp->len = 0;
		}
		close(sp->fd);
		sp->fd = -1;
		return;
	}
	sp->len += (size_t)n;
	while ((nl = memchr(sp->buf, '\n', sp->len)) != NULL || sp->len == sizeof sp->buf - 1) {
		size_t line = nl ? (size_t)(nl - sp->buf) : sp->len;

		gw_log(sp->is_err ? GW_LOG_WARN : GW_LOG_INFO, "worker %s[%u]: %s", sp->p->name,
		    sp->p->index, gw_log_escape(esc, sizeof esc, sp->buf, line));
		if (nl)
			line++;
		memmove(sp->buf, sp->buf + line, sp->len - line);
		sp->len -= line;
	}
}

static void super_child_cb(struct ev_loop *loop, ev_child *w, int revents);

/* Start one process; -1 if it could not be started (retried later). */
static int
super_spawn(struct gw_proc *p, const struct gw_worker_conf *w)
{
	struct gw *gw = p->gw;
	int out[2], err[2];
	pid_t pid;
	char ep[512];

	if (pipe2(out, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	super_endpoint(gw, ep, sizeof ep);
	pid = fork();
	if (pid < 0) {
		close(out[0]); close(out[1]); close(err[0]); close(err[1]);
		return -1;
	}
	if (pid == 0) {
		/* The child: no gateway state survives exec (everything is CLOEXEC). */
		char idx[16];
		int devnull = open("/dev/null", O_RDONLY), k;
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setsid();
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		snprintf(idx, sizeof idx, "%u", p->index);
		setenv("SIOGATE_ENDPOINT", ep, 1);
		setenv("SIOGATE_WORKER_NAME", w->name, 1);
		setenv("SIOGATE_WORKER_INDEX", idx, 1);
		if (w->namespaces)
			setenv("SIOGATE_NAMESPACES", w->namespaces, 1);
		for (k = 0; k < w->nenv; k++)
			putenv(strdup(w->env[k]));
		if (w->directory && chdir(w->directory) < 0) {
			fprintf(stderr, "cannot enter directory %s: %s\n", w->directory, strerror(errno));
			_exit(126);
		}
		if (w->user) {
			struct passwd *pw = getpwnam(w->user);

			if (pw == NULL || initgroups(pw->pw_name, pw->pw_gid) < 0 ||
			    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
				fprintf(stderr, "cannot switch to user %s\n", w->user);
				_exit(126);
			}
		}
		execl("/bin/sh", "sh", "-c", w->command, (char *)NULL);
		fprintf(stderr, "cannot run /bin/sh: %s\n", strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	p->pid = pid;
	p->started = ev_now(gw->loop);
	p->out = (struct super_pipe){ .p = p, .fd = out[0], .is_err = 0 };
	p->err = (struct super_pipe){ .p = p, .fd = err[0], .is_err = 1 };
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	ev_io_init(&p->out.io, super_pipe_cb, out[0], EV_READ);
	ev_io_init(&p->err.io, super_pipe_cb, err[0], EV_READ);
	p->out.io.data = &p->out;
	p->err.io.data = &p->err;
	ev_io_start(gw->loop, &p->out.io);
	ev_io_start(gw->loop, &p->err.io);
	ev_child_init(&p->child, super_child_cb, pid, 0);
	p->child.data = p;
	ev_child_start(gw->loop, &p->child);
	gw_info("worker %s[%u]: started, pid %d", p->name, p->index, (int)pid);
	return 0;
}

/* The section of a process, or NULL if it is gone. */
static const struct gw_worker_conf *
super_conf(struct gw *gw, const struct gw_proc *p)
{
	int i;

	for (i = 0; i < gw->conf.nworkers; i++) {
		if (strcmp(gw->conf.workers[i].name, p->name) == 0)
			return &gw->conf.workers[i];
	}
	return NULL;
}

static void
super_restart_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct gw_proc *p = t->data;
	const struct gw_worker_conf *w;

	if (p->pid != 0) {
		/* The SIGKILL deadline of a process asked to stop. */
		gw_warn("worker %s[%u]: still running %.0f s after SIGTERM, killing", p->name, p->index,
		    SUPER_KILL_AFTER);
		kill(-p->pid, SIGKILL);
		return;
	}
	w = super_conf(p->gw, p);
	if (!p->wanted || w == NULL || p->gw->stopping)
		return;
	if (super_spawn(p, w) < 0) {
		gw_err("worker %s[%u]: cannot start: %s", p->name, p->index, strerror(errno));
		ev_timer_set(&p->restart, p->backoff, 0.);
		ev_timer_start(loop, &p->restart);
	}
}

/* Stop watching a process's pipes. */
static void
super_close_pipes(struct gw_proc *p)
{
	struct ev_loop *loop = p->gw->loop;

	if (p->out.fd >= 0) {
		ev_io_stop(loop, &p->out.io);
		close(p->out.fd);
		p->out.fd = -1;
	}
	if (p->err.fd >= 0) {
		ev_io_stop(loop, &p->err.io);
		close(p->err.fd);
		p->err.fd = -1;
	}
}

/* A child exited: log it, restart it after the backoff if still wanted. */
static void
super_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct gw_proc *p = w->data;
	int st = w->rstatus;
	double ran = ev_now(loop) - p->started;

	ev_child_stop(loop, w);
	ev_timer_stop(loop, &p->restart);
	/* Read what it wrote last. */
	if (p->out.fd >= 0)
		super_pipe_cb(loop, &p->out.io, EV_READ);
	if (p->err.fd >= 0)
		super_pipe_cb(loop, &p->err.io, EV_READ);
	super_close_pipes(p);
	p->pid = 0;
	if (WIFSIGNALED(st))
		gw_log(p->wanted ? GW_LOG_WARN : GW_LOG_INFO, "worker %s[%u]: killed by signal %d",
		    p->name, p->index, WTERMSIG(st));
	else
		gw_log(p->wanted && WEXITSTATUS(st) != 0 ? GW_LOG_WARN : GW_LOG_INFO,
		    "worker %s[%u]: exited with status %d", p->name, p->index, WEXITSTATUS(st));
	if (!p->wanted || p->gw->stopping)
		return;
	if (ran >= SUPER_STABLE)
		p->backoff = SUPER_BACKOFF_MIN;
	gw_info("worker %s[%u]: restarting in %.0f s", p->name, p->index, p->backoff);
	ev_timer_set(&p->restart, p->backoff, 0.);
	ev_timer_start(loop, &p->restart);
	p->backoff = p->backoff * 2 > SUPER_BACKOFF_MAX ? SUPER_BACKOFF_MAX : p->backoff * 2;
}

/* Ask a process to stop for good (SIGTERM, SIGKILL after a while). */
static void
super_stop_proc(struct gw_proc *p)
{
	p->wanted = 0;
	ev_timer_stop(p->gw->loop, &p->restart);
	if (p->pid == 0)
		return;
	kill(-p->pid, SIGTERM);
	ev_timer_set(&p->restart, SUPER_KILL_AFTER, 0.);
	ev_timer_start(p->gw->loop, &p->restart);
}

/* Whether a wanted process exists for section w, index i. */
static int
super_have(struct gw *gw, const char *name, unsigned i)
{
	struct gw_proc *p;

	for (p = gw->procs; p != NULL; p = p->next) {
		if (p->wanted && p->index == i && strcmp(p->name, name) == 0)
			return 1;
	}
	return 0;
}

/* Free processes that are stopped for good and have exited. */
static void
super_prune(struct gw *gw)
{
	struct gw_proc **pp = &gw->procs;

	while (*pp != NULL) {
		struct gw_proc *p = *pp;

		if (!p->wanted && p->pid == 0) {
			*pp = p->next;
			ev_timer_stop(gw->loop, &p->restart);
			super_close_pipes(p);
			free(p->name);
			free(p->sig);
			free(p);
			continue;
		}
		pp = &p->next;
	}
}

/* Make the running processes match the configuration. */
void
gw_super_reconcile(struct gw *gw)
{
	struct gw_proc *p;
	int i;

	for (p = gw->procs; p != NULL; p = p->next) {
		const struct gw_worker_conf *w = super_conf(gw, p);
		char *sig = w ? super_sig(w) : NULL;

		if (p->wanted && (w == NULL || p->index >= w->processes || strcmp(sig, p->sig) != 0)) {
			gw_info("worker %s[%u]: %s, stopping", p->name, p->index,
			    w == NULL ? "removed from the configuration" : "configuration changed");
			super_stop_proc(p);
		}
		free(sig);
	}
	super_prune(gw);
	if (gw->stopping)
		return;
	for (i = 0; i < gw->conf.nworkers; i++) {
		const struct gw_worker_conf *w = &gw->conf.workers[i];
		unsigned k;

		for (k = 0; k < w->processes; k++) {
			if (super_have(gw, w->name, k))
				continue;
			p = gw_xcalloc(1, sizeof *p);
			p->gw = gw;
			p->name = strdup(w->name);
			p->sig = super_sig(w);
			p->index = k;
			p->wanted = 1;
			p->backoff = SUPER_BACKOFF_MIN;
			p->out.fd = p->err.fd = -1;
			ev_init(&p->restart, super_restart_cb);
			p->restart.data = p;
			p->next = gw->procs;
			gw->procs = p;
			if (super_spawn(p, w) < 0) {
				gw_err("worker %s[%u]: cannot start: %s", p->name, k, strerror(errno));
				ev_timer_set(&p->restart, p->backoff, 0.);
				ev_timer_start(gw->loop, &p->restart);
			}
		}
	}
}

void
gw_super_start(struct gw *gw)
{
	gw_super_reconcile(gw);
}

/* Shutdown: SIGTERM every process not already stopping (so it may be called again). */
void
gw_super_stop(struct gw *gw)
{
	struct gw_proc *p;

	for (p = gw->procs; p != NULL; p = p->next) {
		if (p->wanted)
			super_stop_proc(p);
	}
}

/* How many supervised processes are still running. */
unsigned
gw_super_running(struct gw *gw)
{
	struct gw_proc *p;
	unsigned n = 0;

	for (p = gw->procs; p != NULL; p = p->next)
		n += p->pid != 0;
	return n;
}

/* Last step of shutdown: kill what is left, reap it, free everything. */
void
gw_super_free(struct gw *gw)
{
	struct gw_proc *p;

	for (p = gw->procs; p != NULL; p = p->next) {
		if (p->pid != 0) {
			kill(-p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
			ev_child_stop(gw->loop, &p->child);
			p->pid = 0;
		}
		p->wanted = 0;
	}
	super_prune(gw);
}
