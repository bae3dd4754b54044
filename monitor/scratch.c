/*
 * scratch.c -- a private /tmp and /dev/shm for each picoprocess.
 *
 * Programs expect a writable /tmp (sort, gcc, python's tempfile) and
 * /dev/shm (POSIX semaphores, multiprocessing).  Unless the manifest maps
 * them, the monitor gives the picoprocess a fresh host directory for each,
 * shared by all its processes (so files, maps and locks behave as on one
 * machine), reachable by no other picoprocess, and deleted when it ends.
 *
 * Where the monitor may mount (it runs as root), the scratch directory is
 * a tmpfs of [Limits] disk bytes (default: the memory limit), mounted in
 * a mount namespace of the monitor's own, so the host never sees it and
 * it vanishes with the monitor even if the monitor is killed.  A full
 * scratch gives the app ENOSPC.  Otherwise it is a plain directory on the
 * host's $TMPDIR file system, and only RLIMIT_FSIZE bounds each file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor_int.h"
#include "moat/snapshot.h"

static const char *const scratch_names[][2] = {
	{ "/tmp", "tmp" },
	{ "/dev/shm", "shm" },
};

/* Once per monitor: a mount namespace of its own where host mounts still
 * propagate in, and its own do not propagate out.  1 if it has one. */
static int private_mounts(void)
{
	static int state = -1;
	if (state >= 0)
		return state;
	state = 0;
	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0)
		return 0;
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return 0; /* a copy that still shares: do not mount in it */
	return state = 1;
}

static void mount_quota(struct pico *pp, const struct moat_limits *l)
{
	char opts[64];
	uint64_t size = l->disk ? l->disk : pp->memory_max;
	pp->scratch_quota = 0;
	if (!size || !private_mounts())
		return;
	snprintf(opts, sizeof(opts), "size=%llu,mode=0755", (unsigned long long)size);
	if (mount("moat-scratch", pp->scratch, "tmpfs", MS_NOSUID | MS_NODEV,
		  opts) == 0)
		pp->scratch_quota = 1;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw);

/* A monitor killed outright (SIGKILL, a crash) leaves its directories
 * behind.  Each is named after its monitor's pid, so the next monitor
 * removes those of monitors that no longer exist: only directories (not
 * links) of its own user, walked without following links. */
static void sweep_stale(const char *base, const char *prefix)
{
	DIR *d = opendir(base);
	if (!d)
		return;
	size_t plen = strlen(prefix);
	for (struct dirent *e; (e = readdir(d));) {
		char *end;
		if (strncmp(e->d_name, prefix, plen) || e->d_name[plen] != '-')
			continue;
		long pid = strtol(e->d_name + plen + 1, &end, 10);
		if (pid <= 0 || *end != '-' || strlen(end) != 7 ||
		    (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid())
			nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	}
	closedir(d);
}

int moat_tmp_dir(const char *prefix, char *out, size_t len, char *err, size_t errlen)
{
	const char *base = getenv("TMPDIR") && getenv("TMPDIR")[0] == '/' ? getenv("TMPDIR") : "/tmp";
	sweep_stale(base, prefix);
	if ((size_t)snprintf(out, len, "%s/%s-%d-XXXXXX", base, prefix, (int)getpid()) >= len) {
		snprintf(err, errlen, "the temporary directory %s is too long a path", base);
		out[0] = 0;
		return -ENAMETOOLONG;
	}
	if (!mkdtemp(out)) {
		int e = errno;
		snprintf(err, errlen, "cannot create a %s directory in %s: %s", prefix, base,
			 strerror(e));
		out[0] = 0;
		return -e;
	}
	return 0;
}

static int scratch_dir(struct pico *pp, const struct moat_limits *l, char *err,
		       size_t errlen)
{
	if (pp->scratch[0])
		return 0;
	if (moat_tmp_dir("moat-scratch", pp->scratch, sizeof(pp->scratch), err, errlen) < 0)
		return -1;
	mount_quota(pp, l);
	return 0;
}

int moat_scratch_create(struct pico *pp, const struct moat_limits *l, char *err,
			size_t errlen)
{
	pp->scratch[0] = 0;
	for (size_t i = 0; i < sizeof(scratch_names) / sizeof(scratch_names[0]); i++) {
		char host[sizeof(pp->scratch) + 16];
		if (moat_policy_covers(pp->policy, scratch_names[i][0]))
			continue;
		if (scratch_dir(pp, l, err, errlen) < 0)
			return -1;
		snprintf(host, sizeof(host), "%s/%s", pp->scratch, scratch_names[i][1]);
		if (mkdir(host, 01777) < 0 || chmod(host, 01777) < 0 ||
		    moat_policy_map(pp->policy, scratch_names[i][0], host, 1, err, errlen) < 0) {
			if (errno && !err[0])
				snprintf(err, errlen, "cannot create %s: %s", host, strerror(errno));
			moat_scratch_remove(pp);
			return -1;
		}
	}
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Runs after the picoprocess and all its processes are gone.  FTW_PHYS:
 * a symlink the app left is removed, never followed; FTW_MOUNT: stay on
 * the scratch directory's file system. */
void moat_scratch_remove(struct pico *pp)
{
	if (!pp->scratch[0])
		return;
	if (pp->scratch_quota && umount2(pp->scratch, MNT_DETACH) == 0)
		rmdir(pp->scratch); /* the tmpfs took its contents along */
	else
		nftw(pp->scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	pp->scratch_quota = 0;
	pp->scratch[0] = 0;
}

/* Writes to package paths: into the manifest's overlay directory, which
 * outlives the run, or else into the scratch directory, which does not. */
int moat_scratch_upper(struct pico *pp, const char *overlay, char *err, size_t errlen)
{
	char upper[sizeof(pp->scratch) + 16];
	if (overlay)
		return moat_policy_set_upper(pp->policy, overlay, err, errlen);
	if (scratch_dir(pp, &pp->limits, err, errlen) < 0)
		return -1;
	snprintf(upper, sizeof(upper), "%s/upper", pp->scratch);
	if (mkdir(upper, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", upper, strerror(errno));
		return -1;
	}
	return moat_policy_set_upper(pp->policy, upper, err, errlen);
}

/* ---- The scratch in a snapshot (docs/checkpoint.md) ----
 *
 * An archive of what the app left in its private /tmp, /dev/shm and
 * copy-up layer: "MOATSCR1", then entries, each a struct scr_entry, the
 * path (relative: "tmp/...", "shm/..." or "upper/..."), then 'size'
 * bytes (a file's contents, a symlink's target), padded to 8; kind 0
 * ends it.  Directories come before what they hold.  Sockets and FIFOs
 * are left out: a listening socket is bound again by the checkpointer.
 * The monitor writes it while the checkpointed app is stopped and reads
 * it, as untrusted input, into a resumed run's new scratch. */
#define SCR_MAGIC "MOATSCR1"
#define SCR_DEPTH 64
#define SCR_PATH_MAX 4096

enum { SCR_END = 0, SCR_DIR = 1, SCR_FILE = 2, SCR_LINK = 3 };

struct scr_entry {
	uint32_t kind;
	uint32_t mode;        /* permission bits */
	uint32_t path_len;
	uint32_t zero;
	uint64_t size;
	int64_t mtime_ns;
};

static const char *const scr_tops[] = { "tmp", "shm", "upper" };

struct scr_out {
	int fd;
	uint64_t total, max;
	char *err;
	size_t errlen;
};

static int scr_write(struct scr_out *o, const void *p, size_t n)
{
	const char *s = p;
	if (n > o->max - o->total) {
		snprintf(o->err, o->errlen, "the private /tmp holds more than %llu bytes",
			 (unsigned long long)o->max);
		return -1;
	}
	while (n) {
		ssize_t w = write(o->fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(o->err, o->errlen, "writing the /tmp archive: %s", strerror(errno));
			return -1;
		}
		s += w, n -= (size_t)w, o->total += (uint64_t)w;
	}
	return 0;
}

static int scr_pad(struct scr_out *o, uint64_t n)
{
	static const char zeros[8];
	return n % 8 ? scr_write(o, zeros, 8 - n % 8) : 0;
}

static int scr_head(struct scr_out *o, uint32_t kind, const struct stat *st, const char *path,
		    uint64_t size)
{
	struct scr_entry e = {
		.kind = kind, .mode = st ? st->st_mode & 07777 : 0,
		.path_len = (uint32_t)strlen(path), .size = size,
		.mtime_ns = st ? (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec : 0,
	};
	return scr_write(o, &e, sizeof(e)) < 0 || scr_write(o, path, e.path_len) < 0 ||
	       (kind == SCR_DIR && scr_pad(o, e.path_len) < 0) ? -1 : 0;
}

static int scr_file(struct scr_out *o, int dirfd, const char *name, const struct stat *st,
		    const char *path)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(o->err, o->errlen, "/%s: %s", path, strerror(errno));
		return -1;
	}
	uint64_t size = (uint64_t)st->st_size, done = 0;
	int r = scr_head(o, SCR_FILE, st, path, size);
	if (r == 0 && scr_pad(o, strlen(path)) < 0)
		r = -1;
	static char buf[1 << 16];
	while (r == 0 && done < size) {
		ssize_t n = read(fd, buf, size - done < sizeof(buf) ? size - done : sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* shrank meanwhile: zeros keep the record whole */
			memset(buf, 0, sizeof(buf));
			n = (ssize_t)(size - done < sizeof(buf) ? size - done : sizeof(buf));
		}
		r = scr_write(o, buf, (size_t)n);
		done += (uint64_t)n;
	}
	close(fd);
	return r == 0 ? scr_pad(o, size) : -1;
}

static int scr_link(struct scr_out *o, int dirfd, const char *name, const struct stat *st,
		    const char *path)
{
	char target[SCR_PATH_MAX];
	ssize_t n = readlinkat(dirfd, name, target, sizeof(target));
	if (n < 0 || n == (ssize_t)sizeof(target)) {
		snprintf(o->err, o->errlen, "/%s: %s", path, n < 0 ? strerror(errno) : "too long");
		return -1;
	}
	if (scr_head(o, SCR_LINK, st, path, (uint64_t)n) < 0 || scr_pad(o, strlen(path)) < 0 ||
	    scr_write(o, target, (size_t)n) < 0)
		return -1;
	return scr_pad(o, (uint64_t)n);
}

static int scr_dir(struct scr_out *o, int dirfd, const char *path, int depth)
{
	if (depth > SCR_DEPTH) {
		snprintf(o->err, o->errlen, "/%s: nested deeper than %d", path, SCR_DEPTH);
		return -1;
	}
	DIR *d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		snprintf(o->err, o->errlen, "/%s: %s", path, strerror(errno));
		return -1;
	}
	int r = 0;
	for (struct dirent *de; r == 0 && (de = readdir(d));) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char sub[SCR_PATH_MAX];
		struct stat st;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= sizeof(sub)) {
			snprintf(o->err, o->errlen, "/%s/...: path too long", path);
			r = -1;
		} else if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			continue; /* gone meanwhile */
		} else if (S_ISREG(st.st_mode)) {
			r = scr_file(o, dirfd, de->d_name, &st, sub);
		} else if (S_ISLNK(st.st_mode)) {
			r = scr_link(o, dirfd, de->d_name, &st, sub);
		} else if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = fd < 0 || scr_head(o, SCR_DIR, &st, sub, 0) < 0 ? -1
			    : scr_dir(o, fd, sub, depth + 1);
			if (fd < 0)
				snprintf(o->err, o->errlen, "/%s: %s", sub, strerror(errno));
		}
	}
	closedir(d);
	return r;
}

int moat_scratch_save(const struct pico *pp, int out_fd, uint64_t max_bytes, char *err,
		      size_t errlen)
{
	struct scr_out o = { .fd = out_fd, .max = max_bytes, .err = err, .errlen = errlen };
	if (scr_write(&o, SCR_MAGIC, 8) < 0)
		return -1;
	for (size_t i = 0; pp->scratch[0] && i < sizeof(scr_tops) / sizeof(scr_tops[0]); i++) {
		char host[sizeof(pp->scratch) + 16];
		struct stat st;
		snprintf(host, sizeof(host), "%s/%s", pp->scratch, scr_tops[i]);
		int fd = open(host, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue; /* mapped by the manifest, or no package layers */
		if (fstat(fd, &st) < 0 || scr_head(&o, SCR_DIR, &st, scr_tops[i], 0) < 0 ||
		    scr_dir(&o, fd, scr_tops[i], 1) < 0)
			return -1;
	}
	struct scr_entry end = { 0 };
	return scr_write(&o, &end, sizeof(end));
}

/* --- reading one back --- */

/* A path of the archive: a known top, then names that are not empty,
 * "." or "..".  0 or -1. */
static int scr_path_ok(const char *p)
{
	size_t top = strcspn(p, "/");
	int known = 0;
	for (size_t i = 0; i < sizeof(scr_tops) / sizeof(scr_tops[0]); i++)
		known |= strlen(scr_tops[i]) == top && !strncmp(p, scr_tops[i], top);
	if (!known)
		return -1;
	for (const char *s = p; *s;) {
		size_t n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return -1;
		s += n;
		if (*s == '/')
			s++;
		if (*s == 0 && s[-1] == '/')
			return -1;
	}
	return 0;
}

/* Open the directory that will hold path's last name (never following
 * a symlink: every component is opened with O_NOFOLLOW from the scratch
 * root), and point *name at that name. */
static int scr_parent(int root, char *path, char **name)
{
	int fd = dup(root);
	char *s = path;
	for (char *slash; fd >= 0 && (slash = strchr(s, '/'));) {
		*slash = 0;
		int sub = openat(fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		*slash = '/';
		close(fd);
		fd = sub;
		s = slash + 1;
	}
	*name = s;
	return fd;
}

struct scr_in {
	const unsigned char *p;
	size_t len, off;
};

static const void *scr_take(struct scr_in *in, uint64_t n)
{
	uint64_t padded = (n + 7) & ~7ull;
	if (n > in->len - in->off || padded > in->len - in->off)
		return NULL;
	const void *r = in->p + in->off;
	in->off += padded;
	return r;
}

static int scr_make(int root, const struct scr_entry *e, char *path, const char *data,
		    uid_t uid, gid_t gid)
{
	char *name;
	int dir = scr_parent(root, path, &name), r = -1, fd;
	if (dir < 0)
		return -1;
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { e->mtime_ns / 1000000000, e->mtime_ns % 1000000000 } };
	switch (e->kind) {
	case SCR_DIR:
		r = mkdirat(dir, name, 0700);
		if (r < 0 && errno == EEXIST && strchr(path, '/') == NULL) {
			r = 0; /* a top the new scratch made already, as it should be */
			break;
		}
		if (r == 0 && (fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			r = fchmod(fd, e->mode & 07777) | (getuid() == 0 ? fchown(fd, uid, gid) : 0);
			close(fd);
		}
		break;
	case SCR_FILE:
		fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			break;
		r = 0;
		for (uint64_t done = 0; r == 0 && done < e->size;) {
			ssize_t w = write(fd, data + done, e->size - done);
			r = w <= 0 ? -1 : 0;
			done += w > 0 ? (uint64_t)w : 0;
		}
		if (r == 0)
			r = fchmod(fd, e->mode & 07777) | (getuid() == 0 ? fchown(fd, uid, gid) : 0) |
			    futimens(fd, ts);
		close(fd);
		break;
	case SCR_LINK: {
		char target[SCR_PATH_MAX];
		memcpy(target, data, e->size);
		target[e->size] = 0;
		r = symlinkat(target, dir, name);
		if (r == 0 && getuid() == 0)
			r = fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW);
		break;
	}
	}
	close(dir);
	return r;
}

/* One entry of an archive, checked as far as the bytes alone allow. */
struct scr_item {
	const struct scr_entry *e;
	char path[SCR_PATH_MAX];
	const char *data;        /* a file's contents, a link's target */
	int named;               /* path is a valid one of the archive */
};

/* The next entry at in: 1, 0 at the END entry, or -1 with *why. */
static int scr_next(struct scr_in *in, struct scr_item *it, const char **why)
{
	const struct scr_entry *e = scr_take(in, sizeof(struct scr_entry));
	it->e = e;
	it->data = NULL;
	it->named = 0;
	if (!e)
		return *why = "it ends without its end", -1;
	if (e->kind == SCR_END)
		return 0;
	if (e->kind > SCR_LINK || e->zero || e->path_len == 0 || e->path_len >= SCR_PATH_MAX ||
	    (e->kind == SCR_LINK && e->size >= SCR_PATH_MAX) || (e->kind == SCR_DIR && e->size))
		return *why = "a malformed entry", -1;
	const char *p = scr_take(in, e->path_len);
	if (!p)
		return *why = "an entry runs past its end", -1;
	memcpy(it->path, p, e->path_len);
	it->path[e->path_len] = 0;
	if (memchr(it->path, 0, e->path_len) || scr_path_ok(it->path) < 0)
		return *why = "a path that leaves the scratch", -1;
	it->named = 1;
	if (e->kind != SCR_DIR && !(it->data = scr_take(in, e->size)))
		return *why = "an entry runs past its end", -1;
	return 1;
}

/* An untrusted path for a message: control bytes, DEL and backslash
 * escaped (\n, \ooo, \\), so that a name cannot fake a line on the
 * user's terminal; cut at out's size. */
static void scr_escape(const char *in, char *out, size_t len)
{
	size_t k = 0;
	out[0] = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p && k + 5 < len; p++) {
		if (*p == '\n' || *p == '\\')
			k += (size_t)snprintf(out + k, len - k, "\\%c", *p == '\n' ? 'n' : '\\');
		else if (*p < 0x20 || *p == 0x7f)
			k += (size_t)snprintf(out + k, len - k, "\\%03o", *p);
		else
			out[k++] = (char)*p, out[k] = 0;
	}
}

static void scr_fail(const struct scr_item *it, uint64_t n, const char *why, char *err,
		     size_t errlen)
{
	char path[256] = "";
	if (it->named)
		scr_escape(it->path, path, sizeof(path));
	snprintf(err, errlen, "the saved /tmp, entry %llu%s%s: %s", (unsigned long long)n,
		 it->named ? " /" : "", path, why);
}

int moat_scratch_check(const void *archive, size_t len, struct moat_scratch_counts *c,
		       char *err, size_t errlen)
{
	struct scr_in in = { archive, len, 0 };
	const char *magic = scr_take(&in, 8), *why = NULL;
	memset(c, 0, sizeof(*c));
	if (!magic || memcmp(magic, SCR_MAGIC, 8)) {
		snprintf(err, errlen, "the saved /tmp: not an archive of one");
		return -1;
	}
	struct scr_item it;
	for (uint64_t n = 0;; n++) {
		int r = scr_next(&in, &it, &why);
		if (r < 0) {
			scr_fail(&it, n, why, err, errlen);
			return -1;
		}
		if (r == 0)
			break;
		c->files += it.e->kind == SCR_FILE;
		c->dirs += it.e->kind == SCR_DIR && strchr(it.path, '/'); /* not tmp/, shm/ */
		c->links += it.e->kind == SCR_LINK;
		c->bytes += it.e->kind == SCR_FILE ? it.e->size : 0;
	}
	if (in.off != len) { /* what follows the end could carry anything */
		snprintf(err, errlen, "the saved /tmp: bytes after its end");
		return -1;
	}
	return 0;
}

int moat_scratch_load(const struct pico *pp, const void *archive, size_t len, uid_t uid,
		      gid_t gid, char *err, size_t errlen)
{
	struct scr_in in = { archive, len, 0 };
	const char *magic = scr_take(&in, 8);
	if (!magic || memcmp(magic, SCR_MAGIC, 8)) {
		snprintf(err, errlen, "the saved /tmp: not an archive of one");
		return -1;
	}
	int root = pp->scratch[0] ? open(pp->scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	struct scr_item it;
	for (uint64_t n = 0;; n++) {
		const char *why = NULL;
		int r = scr_next(&in, &it, &why);
		if (r == 0)
			break;
		/* No scratch: /tmp and /dev/shm are mapped from the host now.
		 * The saved ones are dropped, as those of a top mapped alone
		 * are (they land in an unused directory); a file the app
		 * holds open there fails its resume, named. */
		if (r > 0 && root < 0)
			continue;
		if (r > 0 && scr_make(root, it.e, it.path, it.data, uid, gid) < 0)
			why = errno == ENOTDIR || errno == ELOOP ? "its path goes through a symlink "
			      "or a file of the archive (never followed)" : strerror(errno);
		if (why) {
			scr_fail(&it, n, why, err, errlen);
			if (root >= 0)
				close(root);
			return -1;
		}
	}
	if (root >= 0)
		close(root);
	return 0;
}
