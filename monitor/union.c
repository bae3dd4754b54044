/*
 * union.c -- the file system a picoprocess sees from its packages: the
 * union of the package layers (base first, app on top) under a writable
 * upper directory on the host, beneath the manifest's mappings.
 *
 * The layers are merged once, when the picoprocess starts, into one
 * sorted array of visible paths; packages are never written.  A write to
 * a package path first copies the file up into the upper directory; a
 * deletion leaves a whiteout there, ".wh.NAME", and a directory made
 * where a whiteout was is marked opaque with ".wh..wh..opq", the
 * convention of aufs and of OCI image layers, which needs no privilege.
 * The app can neither see nor name ".wh." entries.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "moat/package.h"
#include "policy_int.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define LOWER_DEV 0x6d6f6174 /* "moat": st_dev of package files */

struct lower_node {
	const char *path;
	const struct moat_package *pkg;
	const struct moat_pkg_entry *e;
	int layer;
};

struct union_view {
	struct moat_package **pkgs;
	int npkgs;
	struct lower_node *nodes;
	size_t nnodes;
};

/* Path order with '/' below every other byte, so that everything beneath
 * a directory follows it directly ("/a", "/a/z", "/a-b"). */
static int path_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned ca = *a == '/' ? 1 : (unsigned char)*a;
		unsigned cb = *b == '/' ? 1 : (unsigned char)*b;
		if (ca != cb || !ca)
			return (int)ca - (int)cb;
	}
}

static int node_cmp(const void *x, const void *y)
{
	const struct lower_node *a = x, *b = y;
	int c = path_cmp(a->path, b->path);
	return c ? c : a->layer - b->layer;
}

static int is_dir_entry(const struct moat_pkg_entry *e)
{
	return (e->mode & S_IFMT) == S_IFDIR;
}

static int parent_len(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash == path ? 1 : (int)(slash - path);
}

/* Merge the layers.  'all' holds every entry of every layer in path
 * order, lower layers first for equal paths.  A stack of visible
 * ancestor directories carries the lowest layer still visible beneath
 * them: a whiteout or a non-directory at layer L hides layers <= L
 * beneath it, an opaque directory at L hides layers < L. */
static size_t merge(struct lower_node *all, size_t n, struct lower_node *out)
{
	struct { const char *path; int cutoff; } stack[MOAT_PATH_MAX / 2];
	int depth = 0;
	size_t nout = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && !strcmp(all[j].path, all[i].path))
			j++;
		const char *path = all[i].path;
		int plen = parent_len(path);
		while (depth > 0 && !(strlen(stack[depth - 1].path) == (size_t)plen &&
				      !strncmp(stack[depth - 1].path, path, (size_t)plen)))
			depth--;
		int root = !strcmp(path, "/");
		if (!root && depth == 0) { /* its parent is not a visible directory */
			i = j;
			continue;
		}
		int cutoff = root ? 0 : stack[depth - 1].cutoff;
		const struct lower_node *top = NULL;
		for (size_t k = i; k < j; k++)
			if (all[k].layer >= cutoff)
				top = &all[k];
		if (top && top->e->mode != 0) {
			out[nout++] = *top;
			if (is_dir_entry(top->e)) {
				int own = cutoff;
				for (size_t k = i; k < j; k++) {
					const struct moat_pkg_entry *e = all[k].e;
					int c = !is_dir_entry(e) ? all[k].layer + 1
						: (e->flags & MOAT_PKG_OPAQUE) ? all[k].layer : 0;
					if (c > own)
						own = c;
				}
				if (depth < (int)(sizeof(stack) / sizeof(stack[0])))
					stack[depth++] = (typeof(stack[0])){ path, own };
			}
		}
		i = j;
	}
	return nout;
}

int union_open(struct moat_policy *p, char *const *layers, int n, char *err,
	       size_t errlen)
{
	struct union_view *u = calloc(1, sizeof(*u));
	size_t total = 0;
	u->pkgs = calloc((size_t)n, sizeof(*u->pkgs));
	p->u = u;
	for (int i = 0; i < n; i++) {
		u->pkgs[i] = moat_package_open(layers[i], 1, err, errlen);
		if (!u->pkgs[i])
			return -1;
		u->npkgs++;
		total += moat_package_count(u->pkgs[i]);
	}
	struct lower_node *all = calloc(total, sizeof(*all));
	size_t k = 0;
	for (int i = 0; i < n; i++)
		for (size_t j = 0; j < moat_package_count(u->pkgs[i]); j++) {
			const struct moat_pkg_entry *e = moat_package_entry(u->pkgs[i], j);
			all[k++] = (struct lower_node){ moat_package_path(u->pkgs[i], e),
							u->pkgs[i], e, i };
		}
	qsort(all, total, sizeof(*all), node_cmp);
	u->nodes = calloc(total, sizeof(*u->nodes));
	u->nnodes = merge(all, total, u->nodes);
	free(all);
	return 0;
}

void union_free(struct union_view *u)
{
	if (!u)
		return;
	for (int i = 0; i < u->npkgs; i++)
		moat_package_close(u->pkgs[i]);
	free(u->pkgs);
	free(u->nodes);
	free(u);
}

static size_t lower_bound(const struct union_view *u, const char *path)
{
	size_t lo = 0, hi = u->nnodes;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (path_cmp(u->nodes[mid].path, path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct lower_node *lower_lookup(const struct union_view *u, const char *path)
{
	size_t i = lower_bound(u, path);
	return i < u->nnodes && !strcmp(u->nodes[i].path, path) ? &u->nodes[i] : NULL;
}

int union_is_dir(const struct target *t)
{
	return t->lower && is_dir_entry(t->lower->e);
}

static int exists_at(int dirfd, const char *name)
{
	struct stat st;
	return dirfd >= 0 && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int whiteout_name(const char *name, char *out, size_t size)
{
	return snprintf(out, size, WH_PREFIX "%s", name) < (int)size ? 0 : -ENAMETOOLONG;
}

/* Walk t->vpath (no mapping covers it) through upper and lower.  Returns
 * 0 with t filled, UNION_RESTART with t->vpath rewritten by a symlink,
 * or -errno. */
int union_walk(struct moat_policy *p, struct target *t, int follow_last)
{
	int upfd = p->upper.dirfd, lower_hidden = 0, r;
	char vprefix[MOAT_PATH_MAX] = "";
	size_t vlen = 0;
	t->m = &p->upper;
	t->in_upper = 0;
	t->lower = NULL;
	if (!strcmp(t->vpath, "/")) {
		t->dirfd = upfd;
		t->in_upper = upfd >= 0;
		t->lower = lower_lookup(p->u, "/");
		snprintf(t->name, sizeof(t->name), ".");
		return 0;
	}
	for (const char *c = t->vpath + 1;;) {
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);
		int last = !*end;
		char name[NAME_MAX + 1], wh[NAME_MAX + 8];
		r = -ENAMETOOLONG;
		if (n > NAME_MAX || vlen + n + 2 > sizeof(vprefix))
			goto fail; /* a symlink's text is the app's own */
		memcpy(name, c, n);
		name[n] = 0;
		r = -EACCES;
		if (!strncmp(name, WH_PREFIX, 4))
			goto fail; /* the layers' bookkeeping is not the app's */
		memcpy(vprefix + vlen, "/", 1);
		memcpy(vprefix + vlen + 1, name, n + 1);
		vlen += n + 1;
		struct stat st;
		int in_up = upfd >= 0 && fstatat(upfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
		int whited = !in_up && upfd >= 0 && whiteout_name(name, wh, sizeof(wh)) == 0 &&
			     exists_at(upfd, wh);
		/* Looked up even beneath an upper copy: deleting or renaming
		 * that copy must leave a whiteout. */
		const struct lower_node *low = NULL;
		if (!whited && !lower_hidden)
			low = lower_lookup(p->u, vprefix);
		if (!in_up && !low) {
			r = -ENOENT;
			if (!last)
				goto fail;
			break; /* may be created: the parent is the target */
		}
		int is_link = in_up ? S_ISLNK(st.st_mode) : (low->e->mode & S_IFMT) == S_IFLNK;
		if (is_link && (!last || follow_last)) {
			char target[MOAT_PATH_MAX];
			if (in_up) {
				ssize_t l = readlinkat(upfd, name, target, sizeof(target) - 1);
				if (l < 0) {
					r = -errno;
					goto fail;
				}
				target[l] = 0;
			} else {
				const char *text = moat_package_link(low->pkg, low->e);
				r = -ENAMETOOLONG;
				if (strlen(text) >= sizeof(target))
					goto fail;
				memcpy(target, text, strlen(text) + 1);
			}
			char vdir[MOAT_PATH_MAX], tail[MOAT_PATH_MAX];
			snprintf(vdir, sizeof(vdir), "%.*s", parent_len(vprefix), vprefix);
			snprintf(tail, sizeof(tail), "%s", last ? "" : end + 1);
			if (upfd >= 0 && upfd != p->upper.dirfd)
				close(upfd);
			r = rewrite_link(target, vdir, tail, t->vpath);
			return r < 0 ? r : UNION_RESTART;
		}
		if (last) {
			t->in_upper = in_up;
			t->lower = low;
			break;
		}
		int is_dir = in_up ? S_ISDIR(st.st_mode) : is_dir_entry(low->e);
		r = -ENOTDIR;
		if (!is_dir)
			goto fail;
		int next = -1;
		if (in_up) {
			next = openat(upfd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
			if (next < 0) {
				r = -EACCES;
				goto fail;
			}
			if (exists_at(next, WH_OPAQUE))
				lower_hidden = 1;
		}
		if (upfd >= 0 && upfd != p->upper.dirfd)
			close(upfd);
		upfd = next;
		c = end + 1;
	}
	t->dirfd = upfd;
	snprintf(t->name, sizeof(t->name), "%s", strrchr(t->vpath, '/') + 1);
	return 0;
fail:
	if (upfd >= 0 && upfd != p->upper.dirfd)
		close(upfd);
	return r;
}

static void lower_attr(const struct union_view *u, const struct lower_node *n,
		       struct moat_attr *a)
{
	const struct moat_pkg_entry *e = n->e;
	uint32_t type = e->mode & S_IFMT;
	*a = (struct moat_attr){
		.kind = type == S_IFDIR ? MOAT_KIND_DIR : type == S_IFLNK ? MOAT_KIND_SYMLINK
									    : MOAT_KIND_FILE,
		.mode = e->mode & 07777, .nlink = type == S_IFDIR ? 2 : 1,
		.writable = 1, .size = type == S_IFDIR ? 4096 : e->size,
		.blocks = (e->size + 511) / 512, .blksize = 4096,
		.ino = (uint64_t)(n - u->nodes) + 2, .dev = LOWER_DEV,
		.atime_ns = e->mtime_ns, .mtime_ns = e->mtime_ns, .ctime_ns = e->mtime_ns,
	};
}

int union_stat(struct moat_policy *p, const struct target *t, struct moat_attr *a)
{
	if (!t->lower)
		return -ENOENT;
	lower_attr(p->u, t->lower, a);
	return 0;
}

int union_readlink(struct moat_policy *p, const struct target *t, char *buf,
		   size_t len)
{
	(void)p;
	if (!t->lower)
		return -ENOENT;
	if ((t->lower->e->mode & S_IFMT) != S_IFLNK)
		return -EINVAL;
	size_t n = t->lower->e->size < len ? t->lower->e->size : len;
	memcpy(buf, moat_package_link(t->lower->pkg, t->lower->e), n);
	return (int)n;
}

/* A read-only open of a package file: the package's descriptor and the
 * file's window in it.  Nothing is copied. */
int union_open_lower(struct moat_policy *p, const struct target *t,
		     struct moat_open_reply *reply, int *fd)
{
	*fd = fcntl(moat_package_fd(t->lower->pkg), F_DUPFD_CLOEXEC, 0);
	if (*fd < 0)
		return -errno;
	reply->uid = reply->gid = 0;
	reply->base = t->lower->e->offset;
	lower_attr(p->u, t->lower, &reply->attr);
	return MOAT_KIND_FILE;
}

static uint8_t dtype_of(const struct moat_pkg_entry *e)
{
	switch (e->mode & S_IFMT) {
	case S_IFDIR: return DT_DIR;
	case S_IFLNK: return DT_LNK;
	default: return DT_REG;
	}
}

/* The union directory's entries: the upper directory's, less the
 * bookkeeping, then the packages' that are neither shadowed nor whited
 * out. */
int union_list(struct moat_policy *p, const struct target *t, struct listing *l)
{
	int r = listing_add(l, 1, DT_DIR, ".") ?: listing_add(l, 1, DT_DIR, "..");
	int opaque = 0, hostdir = -1;
	if (r == 0 && t->in_upper) {
		hostdir = openat(t->dirfd, t->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (hostdir < 0)
			return -errno;
		opaque = exists_at(hostdir, WH_OPAQUE);
		char buf[8192];
		for (long n; r == 0 && (n = syscall(SYS_getdents64, hostdir, buf, sizeof(buf))) > 0;)
			for (long off = 0; off < n && r == 0;) {
				struct moat_dirent *d = (void *)(buf + off);
				off += d->reclen;
				if (!strcmp(d->name, ".") || !strcmp(d->name, "..") ||
				    !strncmp(d->name, WH_PREFIX, 4))
					continue;
				r = listing_add(l, d->ino, d->type, d->name);
			}
	}
	if (r == 0 && union_is_dir(t) && !opaque) {
		char prefix[MOAT_PATH_MAX + 1];
		const char *dir = t->lower->path;
		size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "%s/", strcmp(dir, "/") ? dir : "");
		for (size_t i = lower_bound(p->u, prefix); r == 0 && i < p->u->nnodes; i++) {
			const char *path = p->u->nodes[i].path;
			if (strncmp(path, prefix, plen))
				break;
			const char *name = path + plen;
			char wh[NAME_MAX + 8];
			if (!*name || strchr(name, '/') || listing_has(l, name, strlen(name)) ||
			    (hostdir >= 0 && whiteout_name(name, wh, sizeof(wh)) == 0 &&
			     exists_at(hostdir, wh)))
				continue;
			r = listing_add(l, i + 2, dtype_of(p->u->nodes[i].e), name);
		}
	}
	if (hostdir >= 0)
		close(hostdir);
	return r;
}

/* Make sure the upper directory holds every directory on the way to
 * t->vpath's parent, with the packages' modes, and point t->dirfd at it. */
static int upper_parent(struct moat_policy *p, struct target *t)
{
	if (t->dirfd >= 0)
		return 0;
	if (p->upper.dirfd < 0)
		return -EROFS;
	int fd = p->upper.dirfd;
	char vprefix[MOAT_PATH_MAX] = "";
	size_t vlen = 0;
	const char *lastslash = strrchr(t->vpath, '/');
	for (const char *c = t->vpath + 1; c <= lastslash;) {
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);
		char name[NAME_MAX + 1];
		if (n > NAME_MAX || vlen + n + 2 > sizeof(vprefix)) {
			if (fd != p->upper.dirfd)
				close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(name, c, n);
		name[n] = 0;
		vprefix[vlen] = '/';
		memcpy(vprefix + vlen + 1, name, n + 1);
		vlen += n + 1;
		int next = openat(fd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		if (next < 0 && errno == ENOENT) {
			const struct lower_node *low = lower_lookup(p->u, vprefix);
			unsigned mode = low && is_dir_entry(low->e) ? low->e->mode & 07777 : 0755;
			if (mkdirat(fd, name, mode) < 0 && errno != EEXIST) {
				int e = -errno;
				if (fd != p->upper.dirfd)
					close(fd);
				return e;
			}
			next = openat(fd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		}
		if (fd != p->upper.dirfd)
			close(fd);
		if (next < 0)
			return -EACCES;
		fd = next;
		c = end + 1;
	}
	t->dirfd = fd;
	return 0;
}

static int copy_file(const struct lower_node *low, int dirfd, const char *name)
{
	const struct moat_pkg_entry *e = low->e;
	int out = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			 e->mode & 0777);
	if (out < 0)
		return -errno;
	int in = moat_package_fd(low->pkg);
	char buf[65536];
	int r = 0;
	for (uint64_t done = 0; done < e->size && r == 0;) {
		size_t want = e->size - done < sizeof(buf) ? (size_t)(e->size - done) : sizeof(buf);
		ssize_t got = pread(in, buf, want, (off_t)(e->offset + done));
		if (got <= 0 || write(out, buf, (size_t)got) != got)
			r = -EIO;
		done += (uint64_t)(got > 0 ? got : 0);
	}
	if (r == 0 && fchmod(out, e->mode & 0777) < 0)
		r = -errno;
	close(out);
	if (r < 0)
		unlinkat(dirfd, name, 0);
	return r;
}

/* Bring a package path into the upper directory before it changes:
 * a file or symlink is copied, a directory is made (its children stay
 * merged from below). */
int union_copy_up(struct moat_policy *p, struct target *t)
{
	if (t->in_upper)
		return 0;
	if (!t->lower)
		return -ENOENT;
	int r = upper_parent(p, t);
	if (r < 0)
		return r;
	const struct moat_pkg_entry *e = t->lower->e;
	switch (e->mode & S_IFMT) {
	case S_IFDIR:
		r = mkdirat(t->dirfd, t->name, e->mode & 07777) < 0 ? -errno : 0;
		break;
	case S_IFLNK:
		r = symlinkat(moat_package_link(t->lower->pkg, e), t->dirfd, t->name) < 0 ? -errno : 0;
		break;
	default:
		r = copy_file(t->lower, t->dirfd, t->name);
	}
	if (r == 0)
		t->in_upper = 1;
	return r;
}

/* Before a name is made in the upper directory (the caller has checked
 * that it may be): its parent exists there and no whiteout hides it. */
int union_prepare_create(struct moat_policy *p, struct target *t, int *was_whiteout)
{
	char wh[NAME_MAX + 8];
	*was_whiteout = 0;
	int r = upper_parent(p, t);
	if (r == 0 && (r = whiteout_name(t->name, wh, sizeof(wh))) == 0)
		*was_whiteout = unlinkat(t->dirfd, wh, 0) == 0;
	return r;
}

int union_whiteout(struct moat_policy *p, struct target *t)
{
	char wh[NAME_MAX + 8];
	int r = upper_parent(p, t);
	if (r == 0 && (r = whiteout_name(t->name, wh, sizeof(wh))) == 0) {
		int fd = openat(t->dirfd, wh, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		close(fd);
	}
	return r;
}

/* Remove the whiteouts and the opaque mark left in an upper directory
 * the app is deleting. */
static int clear_bookkeeping(int parent, const char *name)
{
	int dir = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	char buf[8192];
	for (long n; (n = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0;)
		for (long off = 0; off < n;) {
			struct moat_dirent *d = (void *)(buf + off);
			off += d->reclen;
			if (!strncmp(d->name, WH_PREFIX, 4))
				unlinkat(dir, d->name, 0);
		}
	close(dir);
	return 0;
}

int union_delete(struct moat_policy *p, struct target *t, int dir)
{
	if (!t->in_upper && !t->lower)
		return -ENOENT;
	int is_dir = t->in_upper ? 0 : union_is_dir(t);
	if (t->in_upper) {
		struct stat st;
		if (fstatat(t->dirfd, t->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		is_dir = S_ISDIR(st.st_mode);
	}
	if (dir && !is_dir)
		return -ENOTDIR;
	if (!dir && is_dir)
		return -EISDIR;
	if (is_dir) {
		struct listing l = { 0 };
		int r = union_list(p, t, &l);
		size_t entries = 0;
		for (size_t off = 0; off < l.len; entries++)
			off += ((struct moat_dirent *)(l.buf + off))->reclen;
		free(l.buf);
		if (r < 0)
			return r;
		if (entries > 2)
			return -ENOTEMPTY;
		if (t->in_upper && (r = clear_bookkeeping(t->dirfd, t->name)) < 0)
			return r;
	}
	if (t->in_upper && unlinkat(t->dirfd, t->name, is_dir ? AT_REMOVEDIR : 0) < 0)
		return -errno;
	return t->lower ? union_whiteout(p, t) : 0;
}
