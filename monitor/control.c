/*
 * control.c -- named picoprocesses: the runtime directory, the control
 * socket the monitor serves from its event loop, and the client calls
 * `moat ps` and `moat kill` make.  See include/moat/control.h and
 * docs/control.md.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control_int.h"
#include "monitor_int.h"
#include "moat/snapshot.h"

_Static_assert(sizeof(struct moat_ctl_req) == 256, "request size");
_Static_assert(sizeof(struct moat_ctl_reply) == 256, "reply size");
_Static_assert(sizeof(struct moat_ctl_status) <= MOAT_CTL_PAYLOAD, "status size");

int moat_ctl_name_check(const char *name, char *err, size_t errlen)
{
	size_t n = strnlen(name, MOAT_CTL_NAME_MAX + 1);
	if (n == 0) {
		snprintf(err, errlen, "the name is empty");
		return -1;
	}
	if (n > MOAT_CTL_NAME_MAX) {
		snprintf(err, errlen, "the name is longer than %d bytes", MOAT_CTL_NAME_MAX);
		return -1;
	}
	if (!isalnum((unsigned char)name[0]) || (unsigned char)name[0] >= 0x80) {
		snprintf(err, errlen, "a name starts with a letter or a digit");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c >= 0x80 || !(isalnum(c) || c == '.' || c == '_' || c == '-')) {
			snprintf(err, errlen, "a name holds only letters, digits, '.', '_' and '-'");
			return -1;
		}
	}
	return 0;
}

/* DIR must be a directory of ours, not a link, with no access for others. */
static int private_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "runtime directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) < 0) {
		snprintf(err, errlen, "runtime directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		snprintf(err, errlen, "runtime directory %s is not a private directory of uid %u "
			 "(owner %u, mode %04o); refusing to use it", dir, (unsigned)geteuid(),
			 (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

int moat_ctl_dir(char *out, size_t len, char *err, size_t errlen)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (geteuid() == 0)
		n = snprintf(out, len, "/run/moat");
	else if (xdg && xdg[0] == '/')
		n = snprintf(out, len, "%s/moat", xdg);
	else
		n = snprintf(out, len, "/tmp/moat-%u", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "runtime directory path too long");
		return -1;
	}
	return private_dir(out, err, errlen);
}

static int sock_path(struct sockaddr_un *sa, const char *dir, const char *name)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s.sock", dir, name);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The directory's lock, held while an entry is made or removed. */
static int lock_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

static void unlock_dir(int fd)
{
	if (fd >= 0)
		close(fd);
}

static int connect_path(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || cr.uid != geteuid()) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

int moat_ctl_connect(const char *dir, const char *name)
{
	struct sockaddr_un sa;
	char err[8];
	if (moat_ctl_name_check(name, err, sizeof(err)) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (sock_path(&sa, dir, name) < 0)
		return -1;
	return connect_path(&sa);
}

int moat_ctl_call(int fd, uint16_t cmd, uint32_t arg, const void *payload, uint32_t len,
		  struct moat_ctl_reply *rep)
{
	return moat_ctl_call_fds(fd, cmd, arg, payload, len, rep, NULL, 0);
}

/* Descriptors that came with a reply: up to 'max' into fds[], the rest
 * (and all of them when the reply is malformed) closed.  How many kept. */
static int take_fds(struct msghdr *m, int *fds, int max)
{
	int n = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (n < max)
				fds[n++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

int moat_ctl_call_fds(int fd, uint16_t cmd, uint32_t arg, const void *payload, uint32_t len,
		      struct moat_ctl_reply *rep, int *fds, int nfds)
{
	for (int i = 0; i < nfds; i++)
		fds[i] = -1;
	struct moat_ctl_req req;
	if (len > MOAT_CTL_PAYLOAD) {
		errno = EINVAL;
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.magic = MOAT_CTL_MAGIC;
	req.version = MOAT_CTL_VERSION;
	req.cmd = cmd;
	req.arg = arg;
	req.len = len;
	if (len)
		memcpy(req.payload, payload, len);
	if (send(fd, &req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req))
		return -1;
	ssize_t n;
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { rep, sizeof(*rep) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			    .msg_controllen = sizeof(cm.buf) };
	while ((n = recvmsg(fd, &m, MSG_TRUNC | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -1;
	int got = take_fds(&m, fds, nfds);
	if (n != (ssize_t)sizeof(*rep) || rep->magic != MOAT_CTL_MAGIC ||
	    rep->version != MOAT_CTL_VERSION || rep->len > MOAT_CTL_PAYLOAD) {
		for (int i = 0; i < got; i++) {
			close(fds[i]);
			fds[i] = -1;
		}
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* Under the lock: connect once more; refused means no monitor listens. */
static int reap_locked(const struct sockaddr_un *sa)
{
	int fd = connect_path(sa);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != ECONNREFUSED)
		return errno == ENOENT ? 0 : -1;
	return unlink(sa->sun_path) == 0 ? 1 : -1;
}

int moat_ctl_reap(const char *dir, const char *name)
{
	struct sockaddr_un sa;
	char err[8];
	if (moat_ctl_name_check(name, err, sizeof(err)) < 0 || sock_path(&sa, dir, name) < 0)
		return -1;
	int lk = lock_dir(dir);
	if (lk < 0)
		return -1;
	int r = reap_locked(&sa);
	unlock_dir(lk);
	return r;
}

int moat_ctl_sweep(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int removed = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char name[256], err[8];
		size_t l = strlen(de->d_name);
		if (l <= 5 || l - 5 >= sizeof(name) || strcmp(de->d_name + l - 5, ".sock"))
			continue;
		memcpy(name, de->d_name, l - 5);
		name[l - 5] = 0;
		if (moat_ctl_name_check(name, err, sizeof(err)) < 0)
			continue; /* not one of ours: left alone */
		struct sockaddr_un sa;
		if (sock_path(&sa, dir, name) < 0)
			continue;
		int fd = connect_path(&sa);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (errno == ECONNREFUSED && moat_ctl_reap(dir, name) == 1)
			removed++;
	}
	closedir(d);
	return removed;
}

/* ---- the monitor's side ---- */

struct ctl_client {
	int fd;
	unsigned long seq; /* accept order: the oldest is closed first */
};

struct moat_control {
	int lfd;
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un sa;
	dev_t dev;
	ino_t ino;
	struct timespec t0; /* CLOCK_MONOTONIC at registration */
	time_t started;
	unsigned long seq;
	struct ctl_client cl[MOAT_CTL_CLIENTS];
};

struct moat_control *moat_control_open(const char *name, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	if (moat_ctl_name_check(name, err, errlen) < 0)
		return NULL;
	if (moat_ctl_dir(dir, sizeof(dir), err, errlen) < 0)
		return NULL;
	moat_ctl_sweep(dir); /* the stale entries of others too */
	struct moat_control *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->lfd = -1;
	for (int i = 0; i < MOAT_CTL_CLIENTS; i++)
		c->cl[i].fd = -1;
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	if (sock_path(&c->sa, dir, name) < 0) {
		snprintf(err, errlen, "--name %s: the socket path %s/%s.sock is too long", name, dir,
			 name);
		free(c);
		return NULL;
	}
	c->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int lk = c->lfd < 0 ? -1 : lock_dir(dir);
	if (lk < 0) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		goto fail;
	}
	/* An existing entry: in use (stale 0), stale and removed (1), or
	 * unknown (-1). */
	int r = bind(c->lfd, (struct sockaddr *)&c->sa, sizeof(c->sa)), stale = 1;
	int e = errno;
	if (r < 0 && e == EADDRINUSE && (stale = reap_locked(&c->sa)) == 1) {
		r = bind(c->lfd, (struct sockaddr *)&c->sa, sizeof(c->sa));
		e = errno;
	}
	errno = e;
	if (r < 0) {
		if (stale == 0)
			snprintf(err, errlen, "--name %s: a running picoprocess already has that name "
				 "(see 'moat ps')", name);
		else
			snprintf(err, errlen, "control socket %s: %s", c->sa.sun_path,
				 stale < 0 ? "cannot tell whether it is in use" : strerror(errno));
		unlock_dir(lk);
		goto fail;
	}
	struct stat st;
	if (chmod(c->sa.sun_path, 0600) < 0 || listen(c->lfd, 16) < 0 ||
	    lstat(c->sa.sun_path, &st) < 0) {
		snprintf(err, errlen, "control socket %s: %s", c->sa.sun_path, strerror(errno));
		unlink(c->sa.sun_path);
		unlock_dir(lk);
		goto fail;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	unlock_dir(lk);
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	c->started = time(NULL);
	return c;
fail:
	if (c->lfd >= 0)
		close(c->lfd);
	free(c);
	return NULL;
}

void moat_control_close(struct moat_control *c)
{
	if (!c)
		return;
	for (int i = 0; i < MOAT_CTL_CLIENTS; i++)
		if (c->cl[i].fd >= 0)
			close(c->cl[i].fd);
	/* Remove the entry only if it is still the one we made. */
	int lk = lock_dir(c->dir);
	struct stat st;
	if (lstat(c->sa.sun_path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->sa.sun_path);
	unlock_dir(lk);
	close(c->lfd);
	free(c);
}

int moat_control_npollfds(const struct moat_control *c)
{
	return c ? 1 + MOAT_CTL_CLIENTS : 0;
}

int moat_control_pollfds(struct moat_control *c, struct pollfd *out)
{
	if (!c)
		return 0;
	int k = 0;
	out[k++] = (struct pollfd){ c->lfd, POLLIN, 0 };
	for (int i = 0; i < MOAT_CTL_CLIENTS; i++)
		if (c->cl[i].fd >= 0)
			out[k++] = (struct pollfd){ c->cl[i].fd, POLLIN, 0 };
	return k;
}

static void drop(struct ctl_client *cl)
{
	close(cl->fd);
	cl->fd = -1;
}

/* Accept what is waiting (a bounded number per turn).  A peer of another
 * uid is closed at once; with every slot taken, the oldest client goes. */
static void accept_some(struct moat_control *c)
{
	for (int round = 0; round < MOAT_CTL_CLIENTS; round++) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || cr.uid != geteuid()) {
			close(fd);
			continue;
		}
		struct ctl_client *slot = NULL;
		for (int i = 0; i < MOAT_CTL_CLIENTS; i++) {
			if (c->cl[i].fd < 0) {
				slot = &c->cl[i];
				break;
			}
			if (!slot || c->cl[i].seq < slot->seq)
				slot = &c->cl[i];
		}
		if (slot->fd >= 0)
			drop(slot);
		slot->fd = fd;
		slot->seq = ++c->seq;
	}
}

static uint64_t read_u64_file(const char *dir, const char *file, int *ok)
{
	char path[700], buf[64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	*ok = 0;
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *end;
	unsigned long long v = strtoull(buf, &end, 10);
	*ok = end != buf;
	return v;
}

enum { TREE_MAX = 65536 }; /* processes counted at most */

static uint64_t vmrss(pid_t pid)
{
	char path[64], line[128];
	unsigned long long kb;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	uint64_t b = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %llu kB", &kb) == 1) {
			b = kb * 1024;
			break;
		}
	fclose(f);
	return b;
}

/* Append the children of every thread of 'pid' to q (n of cap); -1 if
 * the kernel has no children files (CONFIG_PROC_CHILDREN). */
static int children(pid_t pid, pid_t *q, int *n, int cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0; /* gone meanwhile */
	struct dirent *de;
	int found = 0;
	while ((de = readdir(d))) {
		char cpath[96];
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%.20s/children", (int)pid, de->d_name);
		FILE *f = fopen(cpath, "re");
		if (!f)
			continue;
		found = 1;
		int c;
		while (*n < cap && fscanf(f, "%d", &c) == 1)
			if (c > 0)
				q[(*n)++] = c;
		fclose(f);
	}
	closedir(d);
	return found ? 0 : -1;
}

struct pp_pair {
	pid_t ppid, pid;
};

static int by_ppid(const void *a, const void *b)
{
	const struct pp_pair *x = a, *y = b;
	return x->ppid < y->ppid ? -1 : x->ppid > y->ppid;
}

/* Without children files: every (ppid, pid) of /proc, sorted by ppid,
 * then the same breadth-first walk. */
static int scan_tree(pid_t root, pid_t *q, int cap)
{
	struct pp_pair *pr = malloc(TREE_MAX * sizeof(*pr));
	DIR *d = opendir("/proc");
	int np = 0, n = 1;
	q[0] = root;
	if (!pr || !d) {
		free(pr);
		if (d)
			closedir(d);
		return n;
	}
	struct dirent *de;
	while (np < TREE_MAX && (de = readdir(d))) {
		char path[64], buf[512];
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/stat", de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = 0;
		char *rp = strrchr(buf, ')');
		int pp;
		if (rp && sscanf(rp + 1, " %*c %d", &pp) == 1)
			pr[np++] = (struct pp_pair){ pp, atoi(de->d_name) };
	}
	closedir(d);
	qsort(pr, (size_t)np, sizeof(*pr), by_ppid);
	for (int i = 0; i < n; i++) {
		int lo = 0, hi = np; /* the first pair with ppid >= q[i] */
		while (lo < hi) {
			int mid = (lo + hi) / 2;
			if (pr[mid].ppid < q[i])
				lo = mid + 1;
			else
				hi = mid;
		}
		for (int j = lo; j < np && pr[j].ppid == q[i] && n < cap; j++)
			q[n++] = pr[j].pid;
	}
	free(pr);
	return n;
}

/* The sum of VmRSS over pid 'root' and its descendants. */
static uint64_t rss_tree(pid_t root)
{
	pid_t *q = malloc(TREE_MAX * sizeof(pid_t));
	uint64_t total = 0;
	int n = 1;
	if (!q)
		return 0;
	q[0] = root;
	for (int i = 0; i < n; i++)
		if (children(q[i], q, &n, TREE_MAX) < 0) {
			n = scan_tree(root, q, TREE_MAX);
			break;
		}
	for (int i = 0; i < n; i++)
		total += vmrss(q[i]);
	free(q);
	return total;
}

static void status_of(const struct moat_control *c, const struct pico *pp, int stopping,
		      struct moat_ctl_status *st)
{
	struct timespec now;
	memset(st, 0, sizeof(*st));
	clock_gettime(CLOCK_MONOTONIC, &now);
	st->monitor_pid = getpid();
	st->state = stopping ? MOAT_CTL_STOPPING : MOAT_CTL_RUNNING;
	st->started = (uint64_t)c->started;
	st->uptime_ms = (uint64_t)((now.tv_sec - c->t0.tv_sec) * 1000 +
				   (now.tv_nsec - c->t0.tv_nsec) / 1000000);
	if (!pp)
		return;
	st->pico_pid = pp->pid;
	snprintf(st->app, sizeof(st->app), "%s", pp->name);
	int ok = 0;
	if (pp->cg_mem[0]) {
		st->memory = read_u64_file(pp->cg_mem, "memory.current", &ok);
		if (!ok)
			st->memory = read_u64_file(pp->cg_mem, "memory.usage_in_bytes", &ok);
	}
	if (ok) {
		st->mem_source = MOAT_CTL_MEM_CGROUP;
	} else if (!pp->done) {
		st->memory = rss_tree(pp->pid);
		st->mem_source = MOAT_CTL_MEM_RSS;
	}
}

/* A failed command's reason, for the client to print: the payload as
 * NUL-terminated text. */
static int reason(struct moat_ctl_reply *rep, int status, const char *text)
{
	rep->len = (uint32_t)snprintf((char *)rep->payload, MOAT_CTL_PAYLOAD, "%s", text) + 1;
	if (rep->len > MOAT_CTL_PAYLOAD)
		rep->len = MOAT_CTL_PAYLOAD;
	return status;
}

/* The manifest of the snapshot being taken: the run's, and the time. */
static int manifest_memfd(const struct pico *pp)
{
	char taken[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(taken, sizeof(taken), "taken = %Y-%m-%dT%H:%M:%SZ\n", &tm);
	int fd = memfd_create("moat-snapshot-manifest", MFD_CLOEXEC);
	size_t l = strlen(pp->snap_manifest);
	if (fd >= 0 && (write(fd, pp->snap_manifest, l) != (ssize_t)l ||
			write(fd, taken, strlen(taken)) != (ssize_t)strlen(taken) ||
			lseek(fd, 0, SEEK_SET) != 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* MOAT_SIG_CHECKPOINT to every task of the first process.  How many. */
static int signal_tasks(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	int n = 0;
	if (!d)
		return 0;
	for (struct dirent *de; (de = readdir(d));) {
		int tid = atoi(de->d_name);
		if (tid > 0 && syscall(SYS_tgkill, (int)pid, tid, MOAT_SIG_CHECKPOINT) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* MOAT_SIG_CHECKPOINT to every task of process 'root' and of its
 * children: a snapshot stops process 1 and its children, the tree it can
 * capture (a child's own children stay out of it and make that child
 * refuse; stopped, they would ask for streams no one takes).  How many. */
static int signal_tree(pid_t root)
{
	pid_t q[MOAT_SNAP_KIDS_MAX + 1];
	int n = 0, total = signal_tasks(root);
	children(root, q, &n, MOAT_SNAP_KIDS_MAX + 1);
	for (int i = 0; i < n; i++)
		total += signal_tasks(q[i]);
	return total;
}

/* The child processes' streams of a checkpoint that is over. */
static void kids_drop(struct pico *pp)
{
	for (int i = 0; i < pp->nsnap_kids; i++)
		close(pp->snap_kids[i]);
	pp->nsnap_kids = 0;
}

/* Is the checkpoint whose stream end is *fd still under way: its client
 * has not closed its end?  A finished one's end is closed here. */
static int under_way(int *fd)
{
	if (*fd < 0)
		return 0;
	struct pollfd p = { *fd, POLLRDHUP, 0 };
	if (poll(&p, 1, 0) == 0)
		return 1;
	close(*fd);
	*fd = -1;
	return 0;
}

/* CHECKPOINT: a stream for the checkpointer ("snapshot:out", kept until
 * the picoprocess opens it), the signal that starts it, and to the
 * client the other end of that stream and the snapshot's manifest.  The
 * status, with a reason in rep for a refusal. */
static int checkpoint(struct pico *pp, int stopping, uint64_t arg, struct moat_ctl_reply *rep,
		      int fds[2])
{
	int sv[2];
	if (arg > 1)
		return reason(rep, -EINVAL, "unknown kind of checkpoint");
	if (!pp || pp->done)
		return reason(rep, -ESRCH, "it has ended");
	if (!pp->ckpt)
		return reason(rep, -ENOSYS, "it was started without the checkpointer "
			      "(moat run --no-checkpoint, or without --name)");
	if (!pp->snap_manifest)
		return reason(rep, -EIO, pp->snap_why);
	if (stopping)
		return reason(rep, -EAGAIN, "it is stopping");
	if (pp->snap_later >= 0 || pp->snap_waiting) /* moat receive's, before its END */
		return reason(rep, -EAGAIN, "it is still being resumed: its image has not come yet");
	if (under_way(&pp->snap_out) || under_way(&pp->snap_busy))
		return reason(rep, -EBUSY, "a checkpoint of it is already under way");
	kids_drop(pp);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return reason(rep, -errno, strerror(errno));
	/* The request byte, the first thing the checkpointer reads. */
	char req = arg ? MOAT_SNAP_REQ_MIGRATE : MOAT_SNAP_REQ_SNAPSHOT;
	if (write(sv[1], &req, 1) != 1) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return reason(rep, -e, strerror(e));
	}
	fds[1] = manifest_memfd(pp);
	if (fds[1] < 0) {
		close(sv[0]);
		close(sv[1]);
		return reason(rep, -EIO, "cannot write the snapshot's manifest");
	}
	pp->snap_out = sv[0];
	pp->snap_req = req;
	fds[0] = sv[1];
	if ((arg ? signal_tasks(pp->pid) : signal_tree(pp->pid)) == 0) {
		close(pp->snap_out);
		pp->snap_out = -1;
		close(fds[0]);
		close(fds[1]);
		fds[0] = fds[1] = -1;
		return reason(rep, -ESRCH, "it has ended");
	}
	return 0;
}

/* The requests that belong to a checkpoint already started (PAUSE,
 * SCRATCH): 0, or the refusal's status with its reason in rep. */
static int checkpoint_held(struct pico *pp, struct moat_ctl_reply *rep)
{
	if (!pp || pp->done)
		return reason(rep, -ESRCH, "it has ended");
	if (!pp->ckpt)
		return reason(rep, -ENOSYS, "it was started without the checkpointer");
	if (!under_way(&pp->snap_out) && !under_way(&pp->snap_busy))
		return reason(rep, -EINVAL, "no checkpoint of it is under way");
	return 0;
}

/* PAUSE: a migration's final stop, asked for by its client once the
 * checkpointer has finished pre-copying. */
static int pause_again(struct pico *pp, struct moat_ctl_reply *rep)
{
	int held = checkpoint_held(pp, rep);
	if (held < 0)
		return held;
	if (signal_tasks(pp->pid) == 0)
		return reason(rep, -ESRCH, "it has ended");
	return 0;
}

/* SCRATCH: the private /tmp, /dev/shm and copy-up layer as an archive
 * (scratch.c), for the snapshot.  Asked for once the image is in, while
 * the checkpointer holds every thread for its verdict: nothing changes
 * the files meanwhile. */
static int scratch_archive(struct pico *pp, struct moat_ctl_reply *rep, int fds[2])
{
	char err[MOAT_CTL_PAYLOAD];
	int held = checkpoint_held(pp, rep);
	if (held < 0)
		return held;
	int fd = memfd_create("moat-scratch", MFD_CLOEXEC);
	if (fd < 0)
		return reason(rep, -errno, strerror(errno));
	if (moat_scratch_save(pp, fd, MOAT_SNAP_MAX_SCRATCH, err, sizeof(err)) < 0 ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return reason(rep, -EIO, err);
	}
	fds[0] = fd;
	return 0;
}

/* PROCESS: the next child process's stream of a snapshot. */
static int process_stream(struct pico *pp, struct moat_ctl_reply *rep, int fds[2])
{
	int held = checkpoint_held(pp, rep);
	if (held < 0)
		return held;
	if (pp->snap_req != MOAT_SNAP_REQ_SNAPSHOT)
		return reason(rep, -EINVAL, "a migration has no child process streams");
	if (pp->nsnap_kids == 0)
		return -EAGAIN;
	fds[0] = pp->snap_kids[0];
	memmove(pp->snap_kids, pp->snap_kids + 1, (size_t)--pp->nsnap_kids * sizeof(int));
	return 0;
}

/* Send a reply, with descriptors (closed here) if any. */
static int send_reply(int fd, const struct moat_ctl_reply *rep, int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { (void *)rep, sizeof(*rep) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	int k = 0, list[2];
	for (int i = 0; i < nfds && i < 2; i++)
		if (fds[i] >= 0)
			list[k++] = fds[i];
	if (k) {
		memset(&cm, 0, sizeof(cm));
		m.msg_control = cm.buf;
		m.msg_controllen = CMSG_SPACE((size_t)k * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)k * sizeof(int));
		memcpy(CMSG_DATA(c), list, (size_t)k * sizeof(int));
	}
	ssize_t n = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	for (int i = 0; i < k; i++)
		close(list[i]);
	return n == (ssize_t)sizeof(*rep) ? 0 : -1;
}

/* Read one request from a client and answer it; 0 to keep the client,
 * -1 to close it. */
static int serve_client(struct moat_control *c, struct ctl_client *cl, struct pico *pp,
			int stopping)
{
	int fds[2] = { -1, -1 };
	struct moat_ctl_req req;
	struct moat_ctl_reply rep;
	/* MSG_TRUNC: the packet's real size, however large (the rest is
	 * discarded by the kernel). */
	ssize_t n = recv(cl->fd, &req, sizeof(req), MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1;
	memset(&rep, 0, sizeof(rep));
	rep.magic = MOAT_CTL_MAGIC;
	rep.version = MOAT_CTL_VERSION;
	int keep = 1;
	if (n != (ssize_t)sizeof(req) || req.magic != MOAT_CTL_MAGIC ||
	    req.version != MOAT_CTL_VERSION || req.len > MOAT_CTL_PAYLOAD) {
		rep.status = -EPROTO;
		keep = 0;
	} else {
		rep.cmd = req.cmd;
		switch (req.cmd) {
		case MOAT_CTL_STATUS: {
			struct moat_ctl_status st;
			status_of(c, pp, stopping, &st);
			memcpy(rep.payload, &st, sizeof(st));
			rep.len = sizeof(st);
			break;
		}
		case MOAT_CTL_KILL:
			if (req.arg < 1 || req.arg >= NSIG)
				rep.status = -EINVAL;
			else
				moat_monitor_signal((int)req.arg); /* as if moat got it */
			break;
		case MOAT_CTL_CHECKPOINT:
			rep.status = checkpoint(pp, stopping, req.arg, &rep, fds);
			break;
		case MOAT_CTL_PAUSE:
			rep.status = pause_again(pp, &rep);
			break;
		case MOAT_CTL_SCRATCH:
			rep.status = scratch_archive(pp, &rep, fds);
			break;
		case MOAT_CTL_PROCESS:
			rep.status = process_stream(pp, &rep, fds);
			break;
		default:
			rep.status = -EOPNOTSUPP;
		}
	}
	if (send_reply(cl->fd, &rep, fds, 2) < 0)
		return -1;
	return keep ? 0 : -1;
}

void moat_control_serve(struct moat_control *c, const struct pollfd *pfd, int n,
			struct pico *pp, int stopping)
{
	if (!c)
		return;
	for (int k = 1; k < n; k++) {
		if (!pfd[k].revents)
			continue;
		for (int i = 0; i < MOAT_CTL_CLIENTS; i++)
			if (c->cl[i].fd == pfd[k].fd) {
				/* a bounded number of requests per turn */
				for (int r = 0; r < 4 && c->cl[i].fd >= 0; r++)
					if (serve_client(c, &c->cl[i], pp, stopping) < 0)
						drop(&c->cl[i]);
				break;
			}
	}
	if (n > 0 && pfd[0].revents)
		accept_some(c);
}
