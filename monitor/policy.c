/*
 * policy.c -- resolving virtual paths through the namespace map, safely.
 * See include/moat/policy.h for the rules; the comments here say why.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "moat/channel.h"
#include "moat/path.h"
#include "moat/policy.h"
#include "policy_int.h"

#define MAX_LINKS 40

static void target_done(struct target *t)
{
	if (t->m && t->dirfd >= 0 && t->dirfd != t->m->dirfd)
		close(t->dirfd);
	t->dirfd = -1;
}

int moat_reopen(int fd, int flags)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int r = open(proc, flags | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

static const char *beneath(const struct mapping *m, const char *path);

/* --- the monitor's own /proc ---
 * On the host, /proc/self is the monitor: its environment (the user's
 * secrets), command line, memory, descriptors.  Whatever the manifest
 * grants, a walk never enters procfs's self or thread-self, nor the
 * directory of the monitor's pid or of any of its threads. */

static int all_digits(const char *name)
{
	return name[0] >= '1' && name[0] <= '9' &&
	       name[strspn(name, "0123456789")] == 0;
}

/* Is 'name' (a pid) the monitor or one of its threads? */
static int monitor_task(const char *name)
{
	char task[64];
	struct stat st;
	if (strtol(name, NULL, 10) == (long)getpid())
		return 1;
	snprintf(task, sizeof(task), "/proc/self/task/%.20s", name);
	return stat(task, &st) == 0;
}

static int on_procfs(int fd)
{
	struct statfs sf;
	/* cannot tell: treat it as procfs, the caller then refuses */
	return fstatfs(fd, &sf) < 0 || sf.f_type == PROC_SUPER_MAGIC;
}

/* Would stepping from directory 'dirfd' to 'name' enter the monitor's own
 * /proc?  Costs a host call only for the names that matter there. */
static int monitor_proc_entry(int dirfd, const char *name)
{
	int pid = all_digits(name);
	if (!pid && strcmp(name, "self") && strcmp(name, "thread-self"))
		return 0;
	return on_procfs(dirfd) && (!pid || monitor_task(name));
}

/* A mapping's host object, opened as 'fd': inside the monitor's own
 * /proc?  Its path as the kernel names it is checked component by
 * component. */
static int monitor_proc_object(int fd)
{
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (!on_procfs(fd))
		return 0;
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return 1;
	path[n] = 0;
	char *save = NULL;
	for (char *c = strtok_r(path, "/", &save); c; c = strtok_r(NULL, "/", &save))
		if (!strcmp(c, "self") || !strcmp(c, "thread-self") ||
		    (all_digits(c) && monitor_task(c)))
			return 1;
	return 0;
}

/* Open one mapping's host object and add it to the map. */
int moat_policy_map(struct moat_policy *p, const char *vpath, const char *hpath,
		    int writable, char *err, size_t errlen)
{
	struct mapping *maps = realloc(p->maps, (size_t)(p->n + 1) * sizeof(*maps));
	if (!maps) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p->maps = maps;
	struct mapping *m = &maps[p->n];
	struct stat st;
	int fd = open(hpath, O_PATH | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot open mapping %s = %s: %s", vpath, hpath,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (monitor_proc_object(fd)) {
		snprintf(err, errlen, "cannot map %s = %s: that is moat's own /proc entry, "
			 "never granted", vpath, hpath);
		close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		m->dirfd = fd;
		m->name = strdup(".");
	} else {
		/* A file mapping is its parent plus a name, so that it is
		 * opened with the same code as anything else. */
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", hpath);
		char *slash = strrchr(parent, '/');
		m->name = strdup(slash + 1);
		*(slash == parent ? slash + 1 : slash) = 0;
		close(fd);
		m->dirfd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (m->dirfd < 0) {
			snprintf(err, errlen, "cannot open %s: %s", parent, strerror(errno));
			free(m->name);
			return -1;
		}
	}
	m->vpath = strdup(vpath);
	m->vlen = strlen(m->vpath);
	m->writable = writable;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	m->inner = NULL;
	m->ninner = 0;
	p->n++;
	guard_forget(p);
	return 0;
}

struct moat_policy *moat_policy_new(const struct moat_manifest *mf, char *err,
				    size_t errlen)
{
	struct moat_policy *p = calloc(1, sizeof(*p));
	p->nets = calloc((size_t)mf->nnets + 1, sizeof(*p->nets));
	if (mf->nnets)
		memcpy(p->nets, mf->nets, (size_t)mf->nnets * sizeof(*p->nets));
	p->nnets = mf->nnets;
	p->upper = (struct mapping){ .vpath = "/", .vlen = 1, .dirfd = -1, .name = "." };
	p->host_uid = geteuid(), p->host_gid = getegid();
	p->app_uid = (uint32_t)mf->uid, p->app_gid = (uint32_t)mf->gid;
	if (mf->nlayers && union_open(p, mf->layers, mf->nlayers, err, errlen) < 0) {
		moat_policy_free(p);
		return NULL;
	}
	for (int i = 0; i < mf->nmaps; i++) {
		const struct moat_mapping *mm = &mf->maps[i];
		if (moat_policy_map(p, mm->vpath, mm->hpath, mm->writable, err, errlen) < 0) {
			moat_policy_free(p);
			return NULL;
		}
	}
	return p;
}

/* Is 'vpath' already reached through a mapping the app can write, or
 * mapped on its own? */
int moat_policy_covers(const struct moat_policy *p, const char *vpath)
{
	for (int i = 0; i < p->n; i++) {
		const struct mapping *m = &p->maps[i];
		if (!strcmp(m->vpath, vpath))
			return 1;
		if (m->writable && beneath(m, vpath))
			return 1;
	}
	return 0;
}

void moat_policy_free(struct moat_policy *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n; i++) {
		close(p->maps[i].dirfd);
		free(p->maps[i].vpath);
		free(p->maps[i].name);
		free(p->maps[i].inner);
	}
	free(p->maps);
	free(p->nets);
	union_free(p->u);
	learn_free(p->learn);
	ledger_free(p->listings);
	if (p->upper.dirfd >= 0)
		close(p->upper.dirfd);
	free(p);
}

int moat_policy_has_layers(const struct moat_policy *p)
{
	return p->u != NULL;
}

int moat_policy_set_upper(struct moat_policy *p, const char *upper, char *err,
			  size_t errlen)
{
	int fd = open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open the overlay directory %s: %s", upper,
			 strerror(errno));
		return -1;
	}
	if (p->upper.dirfd >= 0)
		close(p->upper.dirfd);
	p->upper.dirfd = fd;
	p->upper.writable = 1;
	return 0;
}

/* Is 'path' equal to, or beneath, the mapping's virtual path?  Returns
 * the remainder (without the leading '/') or NULL. */
static const char *beneath(const struct mapping *m, const char *path)
{
	if (m->vlen == 1)
		return path + 1;
	if (strncmp(path, m->vpath, m->vlen) != 0)
		return NULL;
	if (path[m->vlen] == 0)
		return path + m->vlen;
	return path[m->vlen] == '/' ? path + m->vlen + 1 : NULL;
}

/* directfs: may the PAL stat beneath mapping 'i' itself?  Only where
 * the walk above would give the very same answers: a read-only
 * directory mapping (no owner records: those live in writable ones), no
 * other mapping at or beneath its virtual path (so the longest match is
 * it, and no synthetic directory lies inside), no package layers or
 * learn mode, and not on procfs (the monitor's own /proc entries are
 * hidden there).  The PAL stays on the mapping's own file system
 * (pal/linux/directfs.c), so a procfs mounted beneath it is still the
 * monitor's to walk. */
static int donatable(struct moat_policy *p, int i)
{
	const struct mapping *m = &p->maps[i];
	if (p->u || p->learn || m->writable || strcmp(m->name, ".") || on_procfs(m->dirfd))
		return 0;
	for (int j = 0; j < p->n; j++)
		if (j != i && beneath(m, p->maps[j].vpath))
			return 0;
	return 1;
}

int moat_policy_donations(struct moat_policy *p, const char **vpaths, int *fds,
			  int max)
{
	int n = 0;
	for (int i = 0; i < p->n && n < max; i++) {
		if (!donatable(p, i))
			continue;
		vpaths[n] = p->maps[i].vpath;
		fds[n++] = p->maps[i].dirfd;
	}
	return n;
}

static struct mapping *longest_mapping(struct moat_policy *p, const char *path,
				       const char **rest)
{
	struct mapping *best = NULL;
	for (int i = 0; i < p->n; i++) {
		const char *r = beneath(&p->maps[i], path);
		if (r && (!best || p->maps[i].vlen > best->vlen)) {
			best = &p->maps[i];
			*rest = r;
		}
	}
	return best;
}

/* A directory exists virtually if some mapping lies beneath it. */
static int is_synthetic_dir(struct moat_policy *p, const char *path)
{
	size_t len = strlen(path);
	for (int i = 0; i < p->n; i++) {
		const struct mapping *m = &p->maps[i];
		if (len == 1 || (m->vlen > len && !strncmp(m->vpath, path, len) &&
				 m->vpath[len] == '/'))
			return 1;
	}
	return 0;
}

/* Replace the path with the symlink target read at (dirfd, name), which
 * sat at virtual directory 'vdir', followed by 'tail'. */
static int follow_link(int dirfd, const char *name, const char *vdir,
		       const char *tail, char *path)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = 0;
	return rewrite_link(target, vdir, tail, path);
}

/* The grammar moat_path_check enforces on a path the app sent,
 * for a path the monitor made itself from a symlink's text (which the app
 * may have written): a component longer than NAME_MAX is ENAMETOOLONG,
 * as the kernel says, and never reaches a NAME_MAX + 1 buffer. */
static int check_rewritten(const char *path)
{
	for (const char *c = path; *c;) {
		while (*c == '/')
			c++;
		const char *end = strchrnul(c, '/');
		if ((size_t)(end - c) > NAME_MAX)
			return -ENAMETOOLONG;
		c = end;
	}
	return moat_path_check(path) < 0 ? -ENAMETOOLONG : 0;
}

int rewrite_link(const char *target, const char *vdir, const char *tail,
		 char *path)
{
	char joined[2 * PATH_MAX + 2];
	int n;
	if (target[0] == '/')
		n = snprintf(joined, sizeof(joined), "%s/%s", target, tail);
	else
		n = snprintf(joined, sizeof(joined), "%s/%s/%s", vdir, target, tail);
	if (n < 0 || (size_t)n >= sizeof(joined))
		return -ENAMETOOLONG; /* cut short, it would name something else */
	/* Lexical '..' handling: the link is re-read as a virtual path. */
	if (moat_path_resolve_dots(joined, path, MOAT_PATH_MAX) < 0)
		return -ENAMETOOLONG;
	return check_rewritten(path);
}

/* Walk 'path' to a target.  With follow_last, a final symlink is
 * followed too. */
static int walk(struct moat_policy *p, const char *path, int follow_last,
		struct target *t)
{
	int r = moat_path_check(path);
	if (r < 0)
		return r;
	snprintf(t->vpath, sizeof(t->vpath), "%s", path);
	for (int links = 0; links <= MAX_LINKS; links++) {
		const char *rest = NULL;
		struct mapping *m = longest_mapping(p, t->vpath, &rest);
		if (!m && p->learn) {
			m = learn_mapping(p);
			rest = t->vpath + 1;
		}
		t->m = m;
		t->dirfd = -1;
		t->in_upper = 0;
		t->lower = NULL;
		if (!m && p->u) {
			r = union_walk(p, t, follow_last);
			if (r == UNION_RESTART)
				continue;
			int absent = r == -ENOENT || (r == 0 && !t->in_upper && !t->lower);
			if (!absent || !is_synthetic_dir(p, t->vpath))
				return r;
			target_done(t);
			t->m = NULL;
			return 0;
		}
		if (!m)
			return is_synthetic_dir(p, t->vpath) ? 0 : -ENOENT;
		if (!*rest) {
			t->dirfd = m->dirfd;
			snprintf(t->name, sizeof(t->name), "%s", m->name);
			return 0;
		}
		if (m->name[0] != '.' || m->name[1])
			return -ENOTDIR; /* a path beneath a file mapping */
		int dirfd = m->dirfd;
		const char *c = rest;
		int restarted = 0;
		for (;;) {
			const char *end = strchrnul(c, '/');
			size_t n = (size_t)(end - c);
			char name[NAME_MAX + 1];
			if (n > NAME_MAX) { /* checked before; never trusted here */
				r = -ENAMETOOLONG;
				goto fail;
			}
			memcpy(name, c, n);
			name[n] = 0;
			int last = *end == 0;
			struct stat st;
			if (monitor_proc_entry(dirfd, name)) {
				r = -ENOENT;
				goto fail;
			}
			/* A directory on the way: open it straight away (O_NOFOLLOW
			 * with O_DIRECTORY refuses a symlink), and look closer only
			 * when that fails.  One host call per component. */
			int next = last ? -1 : openat(dirfd, name,
					O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
			if (next >= 0) {
				if (dirfd != m->dirfd)
					close(dirfd);
				dirfd = next;
				c = end + 1;
				continue;
			}
			if (!last && errno != ENOTDIR && errno != ELOOP) {
				r = -errno;
				goto fail;
			}
			if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				r = -errno;
				if (last && r == -ENOENT) {
					if (is_synthetic_dir(p, t->vpath))
						goto synthetic;
					/* may be created: the parent is the target */
					break;
				}
				goto fail;
			}
			if (S_ISLNK(st.st_mode) && (!last || follow_last)) {
				char vdir[MOAT_PATH_MAX];
				size_t vl = (size_t)(c - t->vpath);
				memcpy(vdir, t->vpath, vl);
				vdir[vl ? vl - 1 : 0] = 0;
				r = follow_link(dirfd, name, vdir[0] ? vdir : "/",
						last ? "" : end + 1, t->vpath);
				if (r < 0)
					goto fail;
				restarted = 1;
				break;
			}
			if (last)
				break;
			/* Not a directory, or (a race) it became one after the
			 * open above failed. */
			r = S_ISDIR(st.st_mode) ? -EACCES : -ENOTDIR;
			goto fail;
		}
		if (restarted) {
			if (dirfd != m->dirfd)
				close(dirfd);
			continue;
		}
		const char *base = strrchr(t->vpath, '/') + 1;
		snprintf(t->name, sizeof(t->name), "%s", base);
		t->dirfd = dirfd;
		learn_note(p, path, t);
		return 0;
fail:
		if (r == -ENOENT && is_synthetic_dir(p, t->vpath)) {
synthetic:		/* Absent here, but a mapping lies beneath it (a grant
			 * nested in the private /tmp): a directory, as the
			 * directories above a mapping elsewhere are. */
			if (dirfd != m->dirfd)
				close(dirfd);
			t->m = NULL;
			t->dirfd = -1;
			return 0;
		}
		if (dirfd != m->dirfd)
			close(dirfd);
		return r;
	}
	return -ELOOP;
}

static int64_t ns_of(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint32_t kind_of(mode_t mode)
{
	if (S_ISDIR(mode)) return MOAT_KIND_DIR;
	if (S_ISLNK(mode)) return MOAT_KIND_SYMLINK;
	if (S_ISFIFO(mode)) return MOAT_KIND_PIPE;
	if (S_ISCHR(mode)) return MOAT_KIND_CHARDEV;
	if (S_ISSOCK(mode)) return MOAT_KIND_SOCKET;
	return MOAT_KIND_FILE;
}

static void attr_of_stat(const struct stat *st, int writable, struct moat_attr *a)
{
	*a = (struct moat_attr){
		.kind = kind_of(st->st_mode), .mode = st->st_mode & 07777,
		.uid = st->st_uid, .gid = st->st_gid,
		.nlink = (uint32_t)st->st_nlink, .writable = (uint32_t)writable,
		.size = (uint64_t)st->st_size, .blocks = (uint64_t)st->st_blocks,
		.blksize = (uint64_t)st->st_blksize, .ino = st->st_ino,
		.dev = st->st_dev, .rdev = st->st_rdev,
		.atime_ns = ns_of(st->st_atim), .mtime_ns = ns_of(st->st_mtim),
		.ctime_ns = ns_of(st->st_ctim),
	};
}

static void synthetic_attr(struct moat_attr *a)
{
	*a = (struct moat_attr){ .kind = MOAT_KIND_DIR, .mode = 0555, .nlink = 2,
				 .blksize = 4096, .size = 4096, .ino = 1 };
}

static int in_union(const struct moat_policy *p, const struct target *t)
{
	return p->u && t->m == &p->upper;
}

int moat_policy_stat(struct moat_policy *p, const char *path, int nofollow,
		     struct moat_attr *a)
{
	struct target t;
	int r = walk(p, path, !nofollow, &t);
	if (r < 0)
		return r;
	if (!t.m) {
		synthetic_attr(a);
		return 0;
	}
	if (in_union(p, &t) && !t.in_upper) {
		r = union_stat(p, &t, a);
		target_done(&t);
		return r;
	}
	struct stat st;
	r = fstatat(t.dirfd, t.name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (r == 0)
		attr_of_stat(&st, t.m->writable, a);
	if (r == 0 && t.m->writable)
		owner_stat_at(p, t.dirfd, t.name, &st, a);
	target_done(&t);
	return r;
}

int moat_policy_readlink(struct moat_policy *p, const char *path, char *buf,
			 size_t len)
{
	struct target t;
	int r = walk(p, path, 0, &t);
	if (r < 0)
		return r;
	if (!t.m)
		return -EINVAL;
	if (in_union(p, &t) && !t.in_upper) {
		r = union_readlink(p, &t, buf, len);
		target_done(&t);
		return r;
	}
	ssize_t n = readlinkat(t.dirfd, t.name, buf, len);
	r = n < 0 ? -errno : (int)n;
	target_done(&t);
	return r;
}

static int wants_write(unsigned how)
{
	return (how & MOAT_ACCESS_WRITE) ||
	       (how & (MOAT_OPEN_CREATE | MOAT_OPEN_TRUNCATE | MOAT_OPEN_APPEND |
		       MOAT_OPEN_MKDIR));
}

static int host_open_flags(unsigned how)
{
	int acc = (how & 3) == MOAT_ACCESS_RDWR ? O_RDWR
		  : (how & 3) == MOAT_ACCESS_WRITE ? O_WRONLY : O_RDONLY;
	return acc | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
	       (how & MOAT_OPEN_CREATE ? O_CREAT : 0) |
	       (how & MOAT_OPEN_EXCL ? O_EXCL : 0) |
	       (how & MOAT_OPEN_TRUNCATE ? O_TRUNC : 0) |
	       (how & MOAT_OPEN_APPEND ? O_APPEND : 0);
}

static int chmod_nofollow(int dirfd, const char *name, unsigned mode);
static int mkdir_exact(int dirfd, const char *name, unsigned mode);

/* Make a new regular file (O_EXCL: whatever else is at the name stays
 * untouched).  -EEXIST if something appeared there first. */
static int create_host(int dirfd, const char *name, unsigned how, unsigned mode,
		       struct stat *st)
{
	int flags = (host_open_flags(how) & ~(O_TRUNC | O_NONBLOCK)) | O_CREAT | O_EXCL;
	/* No setuid or setgid bits: the monitor may be root. */
	int fd = openat(dirfd, name, flags, mode & 01777);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	/* The app's umask is applied already; the monitor's own must not be. */
	if ((st->st_mode & 07777) != (mode & 01777) && fchmod(fd, mode & 01777) == 0)
		st->st_mode = (st->st_mode & ~07777u) | (mode & 01777);
	return fd;
}

/* The error a final symlink gets: the walk follows one unless asked not
 * to, so one here is either asked for (ELOOP) or a race (EACCES). */
static int link_error(unsigned how)
{
	return how & MOAT_OPEN_NOFOLLOW ? -ELOOP : -EACCES;
}

/* Open (dirfd, name) for the app: a regular file with the app's flags, or
 * a directory read-only (for its listing).  The object is pinned with
 * O_PATH first and its type checked before it is really opened, so a
 * device, FIFO or socket is never opened at all (opening a FIFO releases
 * a blocked writer; opening /dev/ptmx makes a pty); it is then reopened
 * through the pinned descriptor, so what is opened is what was checked,
 * and O_TRUNC happens only then.  Returns a descriptor or -errno. */
static int open_host(int dirfd, const char *name, unsigned how, unsigned mode,
		     struct stat *st)
{
	int pin = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pin < 0 && errno == ENOENT && (how & MOAT_OPEN_CREATE)) {
		int fd = create_host(dirfd, name, how, mode, st);
		if (fd != -EEXIST || (how & MOAT_OPEN_EXCL))
			return fd;
		pin = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	}
	if (pin < 0)
		return -errno;
	int r = 0;
	if (fstat(pin, st) < 0)
		r = -errno;
	else if ((how & MOAT_OPEN_CREATE) && (how & MOAT_OPEN_EXCL))
		r = -EEXIST;
	else if (S_ISLNK(st->st_mode))
		r = link_error(how);
	else if (S_ISDIR(st->st_mode))
		r = (how & 3) != MOAT_ACCESS_READ || (how & MOAT_OPEN_TRUNCATE) ? -EISDIR : 0;
	else if (how & MOAT_OPEN_DIRECTORY)
		r = -ENOTDIR;
	else if (!S_ISREG(st->st_mode))
		r = -EACCES; /* devices, fifos, sockets stay on the host, unopened */
	if (r < 0) {
		close(pin);
		return r;
	}
	int flags = S_ISDIR(st->st_mode) ? O_RDONLY | O_DIRECTORY
		    : host_open_flags(how) & ~(O_NOFOLLOW | O_CREAT | O_EXCL | O_NONBLOCK);
	int fd = moat_reopen(pin, flags);
	r = fd < 0 ? fd : 0;
	close(pin);
	if (r == 0 && fstat(fd, st) < 0)
		r = -errno;
	if (r < 0 && fd >= 0)
		close(fd);
	return r < 0 ? r : fd;
}

#define OPEN_GO_ON 0x10000 /* not a kind: the ordinary open does the rest */

/* A package path: read-only opens are served from the packages; a
 * write first brings the file into the upper directory, and then the
 * ordinary open does the rest (OPEN_GO_ON). */
static int open_union(struct moat_policy *p, struct target *t, unsigned how,
		      unsigned mode, struct moat_open_reply *reply, int *fdp)
{
	int wh, r;
	if (how & MOAT_OPEN_MKDIR) {
		if (t->in_upper || t->lower)
			return -EEXIST;
		if ((r = union_prepare_create(p, t, &wh)) < 0)
			return r;
		if ((r = mkdir_exact(t->dirfd, t->name, mode & 01777)) < 0)
			return r;
		if (wh) { /* the lower directory stays hidden */
			int dir = openat(t->dirfd, t->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int mark = dir < 0 ? -1 : openat(dir, ".wh..wh..opq",
							 O_WRONLY | O_CREAT | O_CLOEXEC, 0);
			if (mark >= 0)
				close(mark);
			if (dir >= 0)
				close(dir);
		}
		return 0;
	}
	if (t->in_upper)
		return OPEN_GO_ON;
	if (!t->lower) {
		if (!(how & MOAT_OPEN_CREATE))
			return -ENOENT;
		return (r = union_prepare_create(p, t, &wh)) < 0 ? r : OPEN_GO_ON;
	}
	if ((how & MOAT_OPEN_CREATE) && (how & MOAT_OPEN_EXCL))
		return -EEXIST;
	if (union_is_dir(t)) {
		if ((how & 3) != MOAT_ACCESS_READ || wants_write(how))
			return -EISDIR;
		r = listing_open(p, t, -1, in_union(p, t));
		if (r < 0)
			return r;
		union_stat(p, t, &reply->attr);
		*fdp = r;
		return MOAT_KIND_DIR;
	}
	struct moat_attr a;
	union_stat(p, t, &a);
	if (a.kind == MOAT_KIND_SYMLINK)
		return how & MOAT_OPEN_NOFOLLOW ? -ELOOP : -ENOENT;
	if (how & MOAT_OPEN_DIRECTORY)
		return -ENOTDIR;
	if (wants_write(how))
		return (r = union_copy_up(p, t)) < 0 ? r : OPEN_GO_ON;
	return union_open_lower(p, t, reply, fdp);
}

int moat_policy_open(struct moat_policy *p, const char *path, unsigned how,
		     unsigned mode, struct moat_open_reply *reply, int *fdp)
{
	struct target t;
	struct moat_open_reply unused;
	if (!reply)
		reply = &unused;
	memset(reply, 0, sizeof(*reply));
	*fdp = -1;
	if ((how & 3) == 0 || (how & ~0x7ffu))
		return -EINVAL;
	learn_listing(p, (how & 3) == MOAT_ACCESS_READ && !wants_write(how));
	int r = walk(p, path, !(how & (MOAT_OPEN_NOFOLLOW | MOAT_OPEN_MKDIR)), &t);
	learn_listing(p, 0);
	if (r < 0)
		return r;
	if (!t.m) { /* synthetic directory */
		if (how & MOAT_OPEN_MKDIR)
			return -EEXIST;
		if (wants_write(how))
			return -EROFS;
		r = listing_open(p, &t, -1, in_union(p, &t));
		if (r < 0)
			return r;
		synthetic_attr(&reply->attr);
		*fdp = r;
		return MOAT_KIND_DIR;
	}
	if (wants_write(how) && (!t.m->writable || guard_write(p, &t) < 0)) {
		target_done(&t);
		return -EROFS;
	}
	if (in_union(p, &t)) {
		r = open_union(p, &t, how, mode, reply, fdp);
		if (r != OPEN_GO_ON) {
			target_done(&t);
			return r;
		}
	}
	if (how & MOAT_OPEN_MKDIR) {
		r = mkdir_exact(t.dirfd, t.name, mode & 01777);
		target_done(&t);
		return r;
	}
	struct stat st;
	int fd = open_host(t.dirfd, t.name, how, mode, &st);
	r = fd < 0 ? fd : 0;
	if (r == 0) {
		reply->uid = st.st_uid, reply->gid = st.st_gid, reply->sbits = 0;
		if (t.m->writable) {
			struct owner_rec o;
			int have = owner_read_fd(fd, st.st_mode, &o) == 0;
			owner_present(p, have, &o, &st, &reply->uid, &reply->gid, &reply->sbits);
		}
		if (S_ISDIR(st.st_mode)) {
			attr_of_stat(&st, t.m->writable, &reply->attr);
			reply->attr.uid = reply->uid, reply->attr.gid = reply->gid;
			reply->attr.mode |= reply->sbits;
			r = listing_open(p, &t, fd, in_union(p, &t));
			close(fd);
			fd = r;
			r = r < 0 ? r : MOAT_KIND_DIR;
		} else {
			r = MOAT_KIND_FILE;
		}
	}
	target_done(&t);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	*fdp = fd;
	return r;
}

int moat_policy_delete(struct moat_policy *p, const char *path, int dir)
{
	struct target t;
	int r = walk(p, path, 0, &t);
	if (r < 0)
		return r;
	if (!t.m)
		return -EROFS;
	if (!t.m->writable)
		r = -EROFS;
	else if (t.dirfd == t.m->dirfd && !strcmp(t.name, t.m->name))
		r = -EBUSY; /* the mapping itself */
	else if ((r = guard_move(p, &t)) < 0 || (r = guard_write(p, &t)) < 0)
		;
	else if (in_union(p, &t))
		r = union_delete(p, &t, dir);
	else
		r = unlinkat(t.dirfd, t.name, dir ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
	target_done(&t);
	return r;
}

static int do_rename(const struct target *a, const struct target *b);

/* rename or link of package paths.  A directory that comes from a
 * package cannot move (EXDEV, as overlayfs says: programs then copy); a
 * file is copied up first, and a renamed one leaves a whiteout. */
static int two_union_names(struct moat_policy *p, struct target *a, struct target *b,
			   int (*op)(const struct target *, const struct target *))
{
	int wh, r;
	int renaming = op == do_rename;
	if (!a->in_upper && !a->lower)
		return -ENOENT;
	if (renaming && union_is_dir(a))
		return -EXDEV;
	if (renaming && !b->in_upper && union_is_dir(b))
		return -EXDEV;
	if (!renaming && (b->in_upper || b->lower))
		return -EEXIST;
	if ((r = union_copy_up(p, a)) < 0 || (r = union_prepare_create(p, b, &wh)) < 0)
		return r;
	if ((r = op(a, b)) < 0)
		return r;
	if (renaming && a->lower) {
		a->in_upper = 0;
		r = union_whiteout(p, a);
	}
	return r;
}

/* Neither name may carry or replace a mapping's host object (a rename
 * moves the first and may replace the second), nor lie in a read-only
 * mapping's host tree: a link's new name would make a read-only file
 * writable. */
static int two_guards(struct moat_policy *p, const struct target *a,
		      const struct target *b, int renaming)
{
	int r = 0;
	if (renaming && ((r = guard_move(p, a)) < 0 || (r = guard_move(p, b)) < 0))
		return r;
	return (r = guard_write(p, a)) < 0 ? r : guard_write(p, b);
}

/* rename and link: both names in one writable mapping, neither a
 * mapping's root.  'op' gets the two resolved names. */
static int two_names(struct moat_policy *p, const char *from, const char *to,
		     int (*op)(const struct target *, const struct target *))
{
	struct target a, b;
	int r = walk(p, from, 0, &a);
	if (r < 0)
		return r;
	r = walk(p, to, 0, &b);
	if (r < 0) {
		target_done(&a);
		return r;
	}
	if (!a.m || !b.m || !a.m->writable || !b.m->writable)
		r = -EROFS;
	else if (a.m != b.m)
		r = -EXDEV;
	else if (!strcmp(a.name, ".") || !strcmp(b.name, "."))
		r = -EBUSY;
	else if ((r = two_guards(p, &a, &b, op == do_rename)) < 0)
		;
	else if (in_union(p, &a))
		r = two_union_names(p, &a, &b, op);
	else
		r = op(&a, &b);
	target_done(&a);
	target_done(&b);
	return r;
}

static int do_rename(const struct target *a, const struct target *b)
{
	return renameat(a->dirfd, a->name, b->dirfd, b->name) < 0 ? -errno : 0;
}

static int do_link(const struct target *a, const struct target *b)
{
	/* flags 0: a symlink is linked itself, never followed */
	return linkat(a->dirfd, a->name, b->dirfd, b->name, 0) < 0 ? -errno : 0;
}

int moat_policy_rename(struct moat_policy *p, const char *from, const char *to)
{
	return two_names(p, from, to, do_rename);
}

static struct timespec ts_of(int64_t ns, int set)
{
	if (!set)
		return (struct timespec){ 0, UTIME_OMIT };
	if (ns == MOAT_TIME_NOW)
		return (struct timespec){ 0, UTIME_NOW };
	return (struct timespec){ ns / 1000000000, ns % 1000000000 };
}

/* fchmodat() follows a final symlink, which could lead anywhere on the
 * host.  Pin the object with O_PATH|O_NOFOLLOW and change the mode
 * through our own descriptor; a symlink itself has no mode to change. */
/* mkdir with exactly 'mode': the app's umask is applied already, and the
 * monitor's own must not be.  The new directory is changed through a
 * pinned descriptor, never by following a name. */
static int mkdir_exact(int dirfd, const char *name, unsigned mode)
{
	struct stat st;
	if (mkdirat(dirfd, name, mode) < 0)
		return -errno;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 07777) != mode)
		chmod_nofollow(dirfd, name, mode);
	return 0;
}

static int chmod_nofollow(int dirfd, const char *name, unsigned mode)
{
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char proc[64];
	int r = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (S_ISLNK(st.st_mode))
		r = -EOPNOTSUPP;
	else {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (chmod(proc, mode) < 0)
			r = -errno;
	}
	close(fd);
	return r;
}

int moat_policy_setattr(struct moat_policy *p, const char *path, int nofollow,
			unsigned mask, unsigned mode, int64_t atime, int64_t mtime,
			uint32_t uid, uint32_t gid, struct moat_owner_reply *out)
{
	struct target t;
	*out = (struct moat_owner_reply){ 0 };
	if (mask & ~15u)
		return -EINVAL;
	int r = walk(p, path, !nofollow, &t);
	if (r < 0)
		return r;
	if (!t.m || !t.m->writable || guard_write(p, &t) < 0) {
		target_done(&t);
		return -EROFS;
	}
	if (in_union(p, &t) && (r = union_copy_up(p, &t)) < 0) {
		target_done(&t);
		return r;
	}
	if (mask & MOAT_ATTR_MODE)
		r = chmod_nofollow(t.dirfd, t.name, mode & 01777); /* no setuid/setgid */
	if (r == -EOPNOTSUPP && (mask & MOAT_ATTR_OWNER))
		r = 0; /* lchown of a symlink: its owner, not its mode */
	if (r == 0 && (mask & (MOAT_ATTR_MODE | MOAT_ATTR_OWNER)))
		r = owner_setattr(p, t.dirfd, t.name, mask, mode, uid, gid, out);
	if (r == 0 && (mask & (MOAT_ATTR_ATIME | MOAT_ATTR_MTIME))) {
		struct timespec ts[2] = { ts_of(atime, mask & MOAT_ATTR_ATIME),
					  ts_of(mtime, mask & MOAT_ATTR_MTIME) };
		if (utimensat(t.dirfd, t.name, ts, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	}
	target_done(&t);
	return r;
}

int moat_policy_symlink(struct moat_policy *p, const char *path,
			const char *target)
{
	struct target t;
	size_t n = strnlen(target, MOAT_PATH_MAX);
	if (n == 0 || n >= MOAT_PATH_MAX)
		return -EINVAL;
	int r = walk(p, path, 0, &t);
	if (r < 0)
		return r;
	int wh;
	if (!t.m || !t.m->writable || guard_write(p, &t) < 0)
		r = -EROFS;
	else if (in_union(p, &t) && (t.in_upper || t.lower))
		r = -EEXIST;
	else if (in_union(p, &t) && (r = union_prepare_create(p, &t, &wh)) < 0)
		;
	else
		r = symlinkat(target, t.dirfd, t.name) < 0 ? -errno : 0;
	target_done(&t);
	return r;
}

int moat_policy_link(struct moat_policy *p, const char *from, const char *to)
{
	return two_names(p, from, to, do_link);
}

int moat_policy_socket_node(struct moat_policy *p, const char *path, int make,
			    dev_t *dev, ino_t *ino)
{
	struct target t;
	struct stat st;
	int r = walk(p, path, !make, &t);
	if (r < 0)
		return r;
	if (!t.m) {
		r = make ? -EROFS : -ENOENT;
	} else if (make && (!t.m->writable || guard_write(p, &t) < 0)) {
		r = -EROFS;
	} else if (make) {
		/* bind() makes the inode; nothing ever listens on it */
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s",
				 t.dirfd, t.name);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
			r = -ENAMETOOLONG;
		else if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			r = -errno;
		if (fd >= 0)
			close(fd);
	}
	if (r == 0 && t.m)
		r = fstatat(t.dirfd, t.name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno
		    : !S_ISSOCK(st.st_mode) ? -ECONNREFUSED : 0;
	if (r == 0)
		*dev = st.st_dev, *ino = st.st_ino;
	target_done(&t);
	return r;
}
