/*
 * fs.c -- paths and the file system calls that take them.
 *
 * Every path is made absolute and normalised here, then named to the
 * monitor as a "file:" URI; the monitor decides.  What a path opens as
 * (a device, a /proc file, a regular file, a directory, ...) is the
 * business of the kinds in file_kinds[] (file.h); the descriptor table
 * and the calls on a descriptor are fd.c's.
 */
#include <asm/stat.h>
#include <linux/fcntl.h>
#include <linux/stat.h>
#include <asm/ioctls.h>

#include "file.h"
#include "linux_abi.h"
#include "uaccess.h"

/* --- paths --- */

long copy_path(char *dst, const char *src)
{
	/* A bad pointer is -EFAULT, not a crash (uaccess.h). */
	long n = strncpy_from_user(dst, src, MOAT_URI_MAX - 1);
	if (n < 0)
		return n;
	return n ? 0 : -ENOENT;
}

/* Append 'path' to the absolute 'out', applying '.' and '..'. */
static int path_join(char *out, const char *path)
{
	size_t len = strlen(out);
	while (*path) {
		while (*path == '/')
			path++;
		const char *end = path;
		while (*end && *end != '/')
			end++;
		size_t n = (size_t)(end - path);
		if (n > 255) /* NAME_MAX: the host would say so too late, or not */
			return -ENAMETOOLONG;
		if (n == 0 || (n == 1 && path[0] == '.')) {
			/* nothing */
		} else if (n == 2 && path[0] == '.' && path[1] == '.') {
			while (len > 1 && out[len - 1] != '/')
				len--;
			if (len > 1)
				len--;
			out[len] = 0;
		} else {
			if (len + n + 2 >= MOAT_URI_MAX - 8)
				return -ENAMETOOLONG;
			if (len > 1)
				out[len++] = '/';
			memcpy(out + len, path, n);
			len += n;
			out[len] = 0;
		}
		path = end;
	}
	return 0;
}

/* /dev/fd/N, /dev/std{in,out,err} and /proc/self/fd/N name the open
 * object: a file or directory by its path; anything else (a pipe) stays a
 * /proc/self/fd name, which open() turns into a dup. */
static int fd_of_magic(const char *p)
{
	const char *n = NULL;
	if (!strncmp(p, "/proc/self/fd/", 14))
		n = p + 14;
	else if (!strncmp(p, "/dev/fd/", 8))
		n = p + 8;
	else if (!strcmp(p, "/dev/stdin"))
		return 0;
	else if (!strcmp(p, "/dev/stdout"))
		return 1;
	else if (!strcmp(p, "/dev/stderr"))
		return 2;
	if (!n || !*n)
		return -1;
	int fd = 0;
	for (; *n; n++) {
		if (*n < '0' || *n > '9' || fd > 1000000)
			return -1;
		fd = fd * 10 + (*n - '0');
	}
	return fd;
}

static long magic_link(char *path)
{
	int fd = fd_of_magic(path);
	if (fd < 0)
		return 0;
	struct file *f = fd_file(fd);
	if (!f)
		return -ENOENT;
	if (f->path && (f->ops->caps & FILE_NAMED))
		rt_strlcpy(path, f->path, MOAT_URI_MAX);
	else
		rt_snprintf(path, MOAT_URI_MAX, "/proc/self/fd/%d", fd);
	return 0;
}

/* A directory descriptor: an open directory, or an O_PATH one naming a
 * directory. */
static int file_is_dir(const struct file *f)
{
	return (f->ops->caps & FILE_DIR) ||
	       ((f->ops->caps & FILE_NAME_ONLY) && f->attr.kind == MOAT_KIND_DIR);
}

/* With follow_magic, /proc/self/fd/N and friends become what they name
 * (for open and stat); without, they stay names (readlink, lstat). */
static int path_resolve_at(int dirfd, const char *path, char *out, int follow_magic)
{
	if (path[0] == '/') {
		out[0] = '/', out[1] = 0;
	} else if (dirfd == AT_FDCWD) {
		rt_strlcpy(out, proc.cwd, MOAT_URI_MAX);
	} else {
		struct file *f = fd_file(dirfd);
		if (!f)
			return -EBADF;
		if (!file_is_dir(f))
			return -ENOTDIR;
		rt_strlcpy(out, f->path, MOAT_URI_MAX);
	}
	long r = path_join(out, path);
	return r < 0 || !follow_magic ? r : magic_link(out);
}

int path_resolve(int dirfd, const char *path, char *out)
{
	return path_resolve_at(dirfd, path, out, 1);
}

void path_to_uri(const char *path, char *uri)
{
	memcpy(uri, "file:", 5);
	rt_strlcpy(uri + 5, path, URI_BUF_SIZE - 5);
}

/* --- stat --- */

static uint32_t kind_to_ifmt(uint32_t kind)
{
	switch (kind) {
	case MOAT_KIND_DIR: return S_IFDIR;
	case MOAT_KIND_SYMLINK: return S_IFLNK;
	case MOAT_KIND_PIPE: return S_IFIFO;
	case MOAT_KIND_CONSOLE:
	case MOAT_KIND_CHARDEV: return S_IFCHR;
	case MOAT_KIND_SOCKET:
	case MOAT_KIND_SERVER: return S_IFSOCK;
	default: return S_IFREG;
	}
}

/* Linux struct stat from a moat_attr, copied to the app's *ust: 0 or
 * -EFAULT. */
static long attr_to_stat(const struct moat_attr *a, struct stat *ust)
{
	struct stat s, *st = &s;
	memset(st, 0, sizeof(*st));
	st->st_dev = a->dev;
	st->st_ino = a->ino;
	st->st_nlink = a->nlink;
	st->st_mode = kind_to_ifmt(a->kind) | a->mode;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (long)a->size;
	st->st_blksize = (long)a->blksize;
	st->st_blocks = (long)a->blocks;
	st->st_atime = a->atime_ns / 1000000000;
	st->st_atime_nsec = a->atime_ns % 1000000000;
	st->st_mtime = a->mtime_ns / 1000000000;
	st->st_mtime_nsec = a->mtime_ns % 1000000000;
	st->st_ctime = a->ctime_ns / 1000000000;
	st->st_ctime_nsec = a->ctime_ns % 1000000000;
	return copy_to_user(ust, st, sizeof(*st));
}

/* A node a kind made on the host (a FIFO) described as what it is. */
static void node_attr(struct moat_attr *a)
{
	for (const struct file_kind *const *k = file_kinds; *k; k++)
		if ((*k)->node_attr)
			(*k)->node_attr(a);
}

static long path_attr(const char *path, int nofollow, struct moat_attr *a)
{
	char uri[URI_BUF_SIZE];
	long r;
	for (const struct file_kind *const *k = file_kinds; *k; k++)
		if ((*k)->name_attr && (r = (*k)->name_attr(path, a)) != 1)
			return r;
	int magic = nofollow ? -1 : fd_of_magic(path);
	if (magic >= 0) { /* following /proc/self/fd/N reaches the object */
		struct file *f = fd_file(magic);
		return f ? file_stat(f, a) : -ENOENT;
	}
	if (!strcmp(path, "/proc/self/exe") && !nofollow)
		path = proc.exe_path;
	else if (procfs_owns(path))
		return procfs_get(path, a, NULL, NULL);
	path_to_uri(path, uri);
	r = abi->stream_attr_query(uri, (uint32_t)nofollow, a);
	if (r == 0)
		node_attr(a);
	return r;
}

/* Resolve (dirfd, path) honouring AT_EMPTY_PATH, then describe it. */
static long at_attr(int dirfd, const char *upath, int flags,
		    struct moat_attr *a)
{
	char path[MOAT_URI_MAX];
	long r = copy_path(path, upath); /* -ENOENT: empty */
	if (r == -ENOENT && (flags & AT_EMPTY_PATH)) {
		struct file *f = dirfd == AT_FDCWD ? NULL : fd_file(dirfd);
		if (dirfd == AT_FDCWD)
			return path_attr(proc.cwd, 0, a);
		return f ? file_stat(f, a) : -EBADF;
	}
	int nofollow = !!(flags & AT_SYMLINK_NOFOLLOW);
	if (r == 0)
		r = path_resolve_at(dirfd, upath, path, !nofollow);
	if (r == 0)
		r = path_attr(path, nofollow, a);
	return r;
}

static long fd_attr(int fd, struct moat_attr *a)
{
	struct file *f = fd_file(fd);
	return f ? file_stat(f, a) : -EBADF;
}

long sys_fstat(int fd, struct stat *st)
{
	struct moat_attr a;
	long r = fd_attr(fd, &a);
	return r < 0 ? r : attr_to_stat(&a, st);
}

long sys_newfstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	struct moat_attr a;
	long r = at_attr(dirfd, path, flags, &a);
	return r < 0 ? r : attr_to_stat(&a, st);
}

long sys_stat(const char *path, struct stat *st)
{
	return sys_newfstatat(AT_FDCWD, path, st, 0);
}

long sys_lstat(const char *path, struct stat *st)
{
	return sys_newfstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

static struct statx_timestamp stx_time(int64_t ns)
{
	return (struct statx_timestamp){ .tv_sec = ns / 1000000000,
					 .tv_nsec = (uint32_t)(ns % 1000000000) };
}

long sys_statx(int dirfd, const char *path, int flags, unsigned mask,
	       struct statx *usx)
{
	(void)mask;
	struct moat_attr a;
	struct statx x, *sx = &x;
	long r = at_attr(dirfd, path, flags, &a);
	if (r < 0)
		return r;
	memset(sx, 0, sizeof(*sx));
	sx->stx_mask = STATX_BASIC_STATS;
	sx->stx_blksize = (uint32_t)a.blksize;
	sx->stx_nlink = a.nlink;
	sx->stx_uid = a.uid;
	sx->stx_gid = a.gid;
	sx->stx_mode = (uint16_t)(kind_to_ifmt(a.kind) | a.mode);
	sx->stx_ino = a.ino;
	sx->stx_size = a.size;
	sx->stx_blocks = a.blocks;
	sx->stx_atime = stx_time(a.atime_ns);
	sx->stx_mtime = stx_time(a.mtime_ns);
	sx->stx_ctime = stx_time(a.ctime_ns);
	sx->stx_rdev_major = (uint32_t)(a.rdev >> 8) & 0xfff;
	sx->stx_rdev_minor = (uint32_t)(a.rdev & 0xff);
	sx->stx_dev_major = (uint32_t)(a.dev >> 8) & 0xfff;
	sx->stx_dev_minor = (uint32_t)(a.dev & 0xff);
	return copy_to_user(usx, sx, sizeof(*sx));
}

/* --- open and close --- */

long fs_open_stream(const char *path, int flags, int mode, moat_handle *h)
{
	char uri[URI_BUF_SIZE];
	uint32_t access = (flags & O_ACCMODE) == O_WRONLY ? MOAT_ACCESS_WRITE
			  : (flags & O_ACCMODE) == O_RDWR ? MOAT_ACCESS_RDWR
							  : MOAT_ACCESS_READ;
	uint32_t opts = (flags & O_CREAT ? MOAT_OPEN_CREATE : 0) |
			(flags & O_EXCL ? MOAT_OPEN_EXCL : 0) |
			(flags & O_TRUNC ? MOAT_OPEN_TRUNCATE : 0) |
			(flags & O_APPEND ? MOAT_OPEN_APPEND : 0) |
			(flags & O_DIRECTORY ? MOAT_OPEN_DIRECTORY : 0) |
			(flags & O_NOFOLLOW ? MOAT_OPEN_NOFOLLOW : 0);
	if (!strcmp(path, "/proc/self/exe"))
		path = proc.exe_path;
	path_to_uri(path, uri);
	long r = abi->stream_open(uri, access, opts,
				  (uint32_t)(mode & 07777 & ~proc.umask));
	if (r >= 0)
		*h = (moat_handle)r;
	return r < 0 ? r : 0;
}

/* A descriptor still open on a standard stream that is a terminal, for
 * /dev/tty; -ENXIO if there is none (no controlling terminal). */
static int tty_fd(void)
{
	for (int fd = 0; fd < 3; fd++) {
		struct file *f = fd_file(fd);
		if (f && f->kind == MOAT_KIND_CONSOLE && f->h >= 0 && f->h < 3 &&
		    boot->stdio[f->h].is_tty)
			return fd;
	}
	return -ENXIO;
}

/* O_PATH: the kind that takes a name and its attributes. */
static long open_by_attr(struct file *f, const char *path, int flags)
{
	struct moat_attr a;
	long r = path_attr(path, !!(flags & O_NOFOLLOW), &a);
	for (const struct file_kind *const *k = file_kinds; r == 0 && *k; k++)
		if ((*k)->open_attr && (r = (*k)->open_attr(f, path, flags, &a)) != 1)
			return r;
	return r < 0 ? r : -EINVAL;
}

/* A path the LibOS makes itself (a device, a /proc file): 1 if none. */
static long open_by_name(struct file *f, const char *path, int flags)
{
	long r;
	for (const struct file_kind *const *k = file_kinds; *k; k++)
		if ((*k)->open_name && (r = (*k)->open_name(f, path, flags)) != 1)
			return r;
	return 1;
}

/* Record the fs ids as the owner of what this process just made, when
 * they are not those the monitor shows a new file with. */
static void stamp_owner(const char *path, int nofollow)
{
	char uri[URI_BUF_SIZE];
	if (!id_needs_stamp())
		return;
	struct moat_attr a = { .uid = proc.fsuid, .gid = proc.fsgid };
	path_to_uri(path, uri);
	abi->stream_attr_set(uri, (uint32_t)nofollow, MOAT_ATTR_OWNER, &a);
}

/* fs_open_stream, knowing whether the open made the file (*made): an
 * unprivileged process or one with other ids asks for a new file first
 * (O_EXCL), then opens an existing one, whose mode then decides. */
static long open_owned(const char *path, int flags, int mode, moat_handle *h,
		       int *made)
{
	*made = 0;
	if (!(flags & O_CREAT) || (proc.fsuid == 0 && !id_needs_stamp()))
		return fs_open_stream(path, flags, mode, h);
	if (flags & O_EXCL) {
		long r = fs_open_stream(path, flags, mode, h);
		*made = r == 0;
		return r;
	}
	for (int tries = 0; tries < 3; tries++) {
		long r = fs_open_stream(path, flags | O_EXCL, mode, h);
		if (r != -EEXIST) {
			*made = r == 0;
			return r;
		}
		r = fs_open_stream(path, flags & ~O_CREAT, mode, h);
		if (r != -ENOENT)
			return r;
	}
	return -ENOENT;
}

/* Anything else is the host's: open it, then let its kind take it. */
static long open_by_stream(struct file *f, const char *path, int flags, int mode)
{
	struct moat_attr a;
	int made;
	/* An unprivileged open truncates only once its mode allows it. */
	int trunc_late = proc.fsuid != 0 && (flags & O_TRUNC);
	long r = open_owned(path, trunc_late ? flags & ~O_TRUNC : flags, mode, &f->h, &made);
	if (r < 0)
		return r;
	if (made)
		stamp_owner(path, 1);
	r = abi->stream_attr_query_by_handle(f->h, &a);
	if (r == 0 && !made)
		r = id_may_open(&a, flags);
	if (r == 0 && trunc_late && !made && a.kind == MOAT_KIND_FILE && a.size)
		r = abi->stream_set_length(f->h, 0);
	if (r < 0)
		return r;
	f->kind = a.kind;
	for (const struct file_kind *const *k = file_kinds; *k; k++)
		if ((*k)->open_stream && (r = (*k)->open_stream(f, path, flags, &a)) != 1)
			break;
	return r == 1 ? -EINVAL : r;
}

long sys_openat(int dirfd, const char *upath, int flags, int mode)
{
	char path[MOAT_URI_MAX];
	long r = copy_path(path, upath);
	if (r == 0)
		r = path_resolve(dirfd, upath, path);
	if (r < 0)
		return r;
	int magic = fd_of_magic(path);
	if (magic < 0 && !strcmp(path, "/dev/tty"))
		magic = tty_fd(); /* the terminal the picoprocess was started on */
	if (magic == -ENXIO)
		return -ENXIO;
	if (magic >= 0) /* a pipe or console: Linux reopens it; we share it */
		return fd_dup_min(magic, 0, !!(flags & O_CLOEXEC));
	struct file *f = file_new(NULL, flags & (O_ACCMODE | O_APPEND | O_NONBLOCK));
	if (!f)
		return -ENOMEM;
	if (flags & O_PATH)
		r = open_by_attr(f, path, flags);
	else if ((r = open_by_name(f, path, flags)) == 1)
		r = open_by_stream(f, path, flags, mode);
	if (r < 0) {
		file_put(f);
		return r;
	}
	f->path = kstrdup(path);
	return file_install(f, !!(flags & O_CLOEXEC));
}

long sys_open(const char *path, int flags, int mode)
{
	return sys_openat(AT_FDCWD, path, flags, mode);
}

long sys_creat(const char *path, int mode)
{
	return sys_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

/* --- names --- */

static long resolve_at(int dirfd, const char *upath, char *path)
{
	long r = copy_path(path, upath);
	return r ? r : path_resolve(dirfd, upath, path);
}

long sys_readlinkat(int dirfd, const char *upath, char *buf, size_t len)
{
	char path[MOAT_URI_MAX], uri[URI_BUF_SIZE];
	if ((long)len <= 0) /* before the path, as Linux */
		return -EINVAL;
	long r = copy_path(path, upath);
	if (r == 0)
		r = path_resolve_at(dirfd, upath, path, 0);
	if (r < 0)
		return r;
	if (procfs_owns(path))
		return procfs_readlink(path, buf, len);
	path_to_uri(path, uri);
	/* Through a LibOS buffer: the monitor's answer is copied, not
	 * written into the app by the PAL.  A target is < MOAT_URI_MAX. */
	size_t n = len < MOAT_URI_MAX ? len : MOAT_URI_MAX;
	char *tmp = kmalloc(n);
	if (!tmp)
		return -ENOMEM;
	r = abi->stream_readlink(uri, tmp, n);
	if (r == -ERANGE)
		r = (long)n;
	if (r > 0 && copy_to_user(buf, tmp, (size_t)r) < 0)
		r = -EFAULT;
	kfree(tmp);
	return r;
}

long sys_readlink(const char *path, char *buf, size_t len)
{
	return sys_readlinkat(AT_FDCWD, path, buf, len);
}

long sys_faccessat2(int dirfd, const char *upath, int mode, int flags)
{
	struct moat_attr a;
	long r = at_attr(dirfd, upath, flags & AT_SYMLINK_NOFOLLOW, &a);
	if (r < 0)
		return r;
	if ((mode & 2) && !a.writable)
		return -EROFS;
	return id_access(&a, mode & 7, !!(flags & AT_EACCESS));
}

long sys_faccessat(int dirfd, const char *path, int mode)
{
	return sys_faccessat2(dirfd, path, mode, 0);
}

long sys_access(const char *path, int mode)
{
	return sys_faccessat2(AT_FDCWD, path, mode, 0);
}

long sys_getcwd(char *buf, size_t len)
{
	size_t n = strlen(proc.cwd) + 1;
	if (n > len)
		return -ERANGE;
	return copy_to_user(buf, proc.cwd, n) < 0 ? -EFAULT : (long)n;
}

int fs_check_dir(const char *path)
{
	struct moat_attr a;
	long r = path_attr(path, 0, &a);
	return r < 0 ? (int)r : a.kind == MOAT_KIND_DIR ? 0 : -ENOTDIR;
}

static long set_cwd(const char *path)
{
	struct moat_attr a;
	long r = path_attr(path, 0, &a);
	if (r < 0)
		return r;
	if (a.kind != MOAT_KIND_DIR)
		return -ENOTDIR;
	rt_strlcpy(proc.cwd, path, sizeof(proc.cwd));
	return 0;
}

long sys_chdir(const char *upath)
{
	char path[MOAT_URI_MAX];
	long r = resolve_at(AT_FDCWD, upath, path);
	return r ? r : set_cwd(path);
}

long sys_fchdir(int fd)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	if (!file_is_dir(f))
		return -ENOTDIR;
	rt_strlcpy(proc.cwd, f->path, sizeof(proc.cwd));
	return 0;
}

long sys_umask(int mask)
{
	int old = (int)proc.umask;
	proc.umask = (uint32_t)mask & 0777;
	return old;
}

long sys_mkdirat(int dirfd, const char *upath, int mode)
{
	char path[MOAT_URI_MAX], uri[URI_BUF_SIZE];
	long r = resolve_at(dirfd, upath, path);
	if (r < 0)
		return r;
	path_to_uri(path, uri);
	r = abi->stream_open(uri, MOAT_ACCESS_READ, MOAT_OPEN_MKDIR,
			     (uint32_t)(mode & 07777 & ~proc.umask));
	if (r == 0)
		stamp_owner(path, 1);
	return r;
}

long sys_mkdir(const char *path, int mode)
{
	return sys_mkdirat(AT_FDCWD, path, mode);
}

/* mknod: a regular file, or a node of a kind in file_kinds[] (a FIFO);
 * devices and anything else are refused as to an unprivileged user. */
long sys_mknodat(int dirfd, const char *upath, int mode, unsigned dev)
{
	char path[MOAT_URI_MAX], uri[URI_BUF_SIZE];
	uint32_t type = (uint32_t)mode & S_IFMT, perm = (uint32_t)mode & 07777 & ~proc.umask;
	(void)dev;
	if (type == S_IFDIR)
		return -EPERM;
	if (type && type != S_IFREG && type != S_IFCHR && type != S_IFBLK &&
	    type != S_IFIFO && type != S_IFSOCK)
		return -EINVAL;
	long r = resolve_at(dirfd, upath, path);
	if (r < 0)
		return r;
	path_to_uri(path, uri);
	if (type == 0 || type == S_IFREG) {
		r = abi->stream_open(uri, MOAT_ACCESS_WRITE, MOAT_OPEN_CREATE | MOAT_OPEN_EXCL,
				     perm);
		if (r >= 0)
			abi->object_close((moat_handle)r);
		if (r >= 0)
			stamp_owner(path, 1);
		return r < 0 ? r : 0;
	}
	for (const struct file_kind *const *k = file_kinds; *k; k++)
		if ((*k)->node_type == type && (*k)->make_node) {
			r = (*k)->make_node(uri, perm);
			if (r == 0)
				stamp_owner(path, 1);
			return r;
		}
	klog("mknod of type 0%o refused: only regular files and FIFOs", type);
	return -EPERM;
}

long sys_mknod(const char *path, int mode, unsigned dev)
{
	return sys_mknodat(AT_FDCWD, path, mode, dev);
}

long sys_unlinkat(int dirfd, const char *upath, int flags)
{
	char path[MOAT_URI_MAX], uri[URI_BUF_SIZE];
	if (flags & ~AT_REMOVEDIR)
		return -EINVAL;
	long r = resolve_at(dirfd, upath, path);
	if (r < 0)
		return r;
	path_to_uri(path, uri);
	return abi->stream_delete(uri, !!(flags & AT_REMOVEDIR));
}

long sys_unlink(const char *path)
{
	return sys_unlinkat(AT_FDCWD, path, 0);
}

long sys_rmdir(const char *path)
{
	return sys_unlinkat(AT_FDCWD, path, AT_REMOVEDIR);
}

/* Resolve two (dirfd, path) names and hand their URIs to 'op'. */
static long two_uris(int olddir, const char *oldp, int newdir, const char *newp,
		     long (*op)(const char *, const char *))
{
	char a[MOAT_URI_MAX], b[MOAT_URI_MAX];
	char ua[URI_BUF_SIZE], ub[URI_BUF_SIZE];
	long r = resolve_at(olddir, oldp, a);
	if (r == 0)
		r = resolve_at(newdir, newp, b);
	if (r < 0)
		return r;
	path_to_uri(a, ua);
	path_to_uri(b, ub);
	return op(ua, ub);
}

#define RENAME_NOREPLACE_K 1
#define RENAME_EXCHANGE_K 2
#define RENAME_WHITEOUT_K 4

/* RENAME_NOREPLACE is a look before the rename (the host has no atomic
 * form: a name made in between by another process is replaced).
 * RENAME_EXCHANGE and RENAME_WHITEOUT are refused as by a file system
 * without them. */
long sys_renameat2(int olddir, const char *oldp, int newdir, const char *newp,
		   unsigned flags)
{
	if (flags & ~(unsigned)(RENAME_NOREPLACE_K | RENAME_EXCHANGE_K | RENAME_WHITEOUT_K) ||
	    ((flags & RENAME_EXCHANGE_K) && (flags & (RENAME_NOREPLACE_K | RENAME_WHITEOUT_K))))
		return -EINVAL;
	if (flags & (RENAME_EXCHANGE_K | RENAME_WHITEOUT_K))
		return -EINVAL;
	if (flags & RENAME_NOREPLACE_K) {
		struct moat_attr a;
		long r = at_attr(olddir, oldp, AT_SYMLINK_NOFOLLOW, &a);
		if (r < 0)
			return r;
		r = at_attr(newdir, newp, AT_SYMLINK_NOFOLLOW, &a);
		if (r == 0)
			return -EEXIST;
		if (r != -ENOENT)
			return r;
	}
	return two_uris(olddir, oldp, newdir, newp, abi->stream_rename);
}

long sys_renameat(int olddir, const char *oldp, int newdir, const char *newp)
{
	return sys_renameat2(olddir, oldp, newdir, newp, 0);
}

long sys_rename(const char *oldp, const char *newp)
{
	return sys_renameat2(AT_FDCWD, oldp, AT_FDCWD, newp, 0);
}

/* --- file system facts and extended attributes --- */

/* Statistics of the mapping a path lives in are not the picoprocess's
 * business; report a plain, mostly-empty file system. */
static long fill_statfs(int writable, struct l_statfs *us)
{
	struct l_statfs st, *s = &st;
	memset(s, 0, sizeof(*s));
	s->f_type = 0x6d6f6174; /* "moat" */
	s->f_bsize = s->f_frsize = 4096;
	s->f_blocks = 1 << 20;
	s->f_bfree = s->f_bavail = writable ? 1 << 19 : 0;
	s->f_files = 1 << 16;
	s->f_ffree = writable ? 1 << 15 : 0;
	s->f_namelen = 255;
	s->f_flags = writable ? 0 : 1; /* ST_RDONLY */
	return copy_to_user(us, s, sizeof(*s));
}

long sys_statfs(const char *path, struct l_statfs *s)
{
	struct moat_attr a;
	long r = at_attr(AT_FDCWD, path, 0, &a);
	return r < 0 ? r : fill_statfs((int)a.writable, s);
}

long sys_fstatfs(int fd, struct l_statfs *s)
{
	struct moat_attr a;
	long r = fd_attr(fd, &a);
	return r < 0 ? r : fill_statfs((int)a.writable, s);
}

/* No extended attributes exist inside a picoprocess (ACLs, capabilities,
 * SELinux labels stay on the host): every name is absent. */
long sys_getxattr(void) { return -ENODATA; }
long sys_removexattr(void) { return -ENODATA; }
long sys_listxattr(void) { return 0; }
long sys_setxattr(void) { return -EOPNOTSUPP; }

/* --- attributes, links --- */

static long set_attr_at(int dirfd, const char *upath, int flags, uint32_t mask,
			const struct moat_attr *a)
{
	char path[MOAT_URI_MAX], uri[URI_BUF_SIZE];
	long r;
	char first = 0;
	if (upath && get_user(&first, upath) < 0)
		return -EFAULT;
	if (upath == NULL || (first == 0 && (flags & AT_EMPTY_PATH))) {
		struct file *f = fd_file(dirfd);
		if (!f)
			return -EBADF;
		if (!f->path || !(f->ops->caps & FILE_NAMED) ||
		    (f->ops->caps & FILE_NAME_ONLY))
			return -EPERM;
		rt_strlcpy(path, f->path, sizeof(path));
	} else if ((r = resolve_at(dirfd, upath, path)) < 0) {
		return r;
	}
	path_to_uri(path, uri);
	return abi->stream_attr_set(uri, !!(flags & AT_SYMLINK_NOFOLLOW), mask, a);
}

/* chmod: only the owner (or root) may; the monitor keeps the set-id
 * bits beside the file, never on the host. */
static long chmod_at(int dirfd, const char *path, int flags, int mode)
{
	struct moat_attr a = { .mode = (uint32_t)mode & 07777 }, cur;
	if (proc.fsuid != 0) {
		long r = path ? at_attr(dirfd, path, flags, &cur) : fd_attr(dirfd, &cur);
		if (r == 0)
			r = id_chmod_mode(&cur, &a.mode);
		if (r < 0)
			return r;
	}
	return set_attr_at(dirfd, path, flags, MOAT_ATTR_MODE, &a);
}

long sys_fchmodat(int dirfd, const char *path, int mode)
{
	return chmod_at(dirfd, path, 0, mode);
}

long sys_chmod(const char *path, int mode)
{
	return sys_fchmodat(AT_FDCWD, path, mode);
}

long sys_fchmod(int fd, int mode)
{
	return chmod_at(fd, NULL, AT_EMPTY_PATH, mode);
}

#define UTIME_NOW_K ((1L << 30) - 1)
#define UTIME_OMIT_K ((1L << 30) - 2)

/* ts: two times copied into the LibOS, or NULL for now. */
static long utimens(int dirfd, const char *path, const struct l_timespec *ts, int flags)
{
	struct moat_attr a = { .atime_ns = MOAT_TIME_NOW, .mtime_ns = MOAT_TIME_NOW };
	uint32_t mask = MOAT_ATTR_ATIME | MOAT_ATTR_MTIME;
	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	if (ts) {
		for (int i = 0; i < 2; i++) {
			int64_t *dst = i ? &a.mtime_ns : &a.atime_ns;
			if (ts[i].tv_nsec == UTIME_OMIT_K)
				mask &= ~(uint32_t)(i ? MOAT_ATTR_MTIME : MOAT_ATTR_ATIME);
			else if (ts[i].tv_nsec != UTIME_NOW_K) {
				if (ts[i].tv_nsec < 0 || ts[i].tv_nsec >= 1000000000)
					return -EINVAL;
				*dst = ts[i].tv_sec * 1000000000 + ts[i].tv_nsec;
			}
		}
	}
	if (!mask)
		return 0;
	if (!path) /* futimens */
		return set_attr_at(dirfd, NULL, AT_EMPTY_PATH, mask, &a);
	return set_attr_at(dirfd, path, flags, mask, &a);
}

long sys_utimensat(int dirfd, const char *path, const struct l_timespec *uts,
		   int flags)
{
	struct l_timespec ts[2];
	if (uts && copy_from_user(ts, uts, sizeof(ts)) < 0)
		return -EFAULT;
	return utimens(dirfd, path, uts ? ts : NULL, flags);
}

/* utimes and futimesat: two struct timeval (microseconds). */
static long utimes_at(int dirfd, const char *path, const long *utv)
{
	struct l_timespec ts[2];
	long tv[4];
	if (!utv)
		return utimens(dirfd, path, NULL, 0);
	if (copy_from_user(tv, utv, sizeof(tv)) < 0)
		return -EFAULT;
	for (int i = 0; i < 2; i++) {
		if (tv[2 * i + 1] < 0 || tv[2 * i + 1] >= 1000000)
			return -EINVAL;
		ts[i] = (struct l_timespec){ tv[2 * i], tv[2 * i + 1] * 1000 };
	}
	return utimens(dirfd, path, ts, 0);
}

long sys_utimes(const char *path, const long *tv)
{
	return utimes_at(AT_FDCWD, path, tv);
}

long sys_futimesat(int dirfd, const char *path, const long *tv)
{
	return utimes_at(dirfd, path, tv);
}

long sys_utime(const char *path, const long *ut)
{
	struct l_timespec ts[2];
	long t[2];
	if (!ut)
		return utimens(AT_FDCWD, path, NULL, 0);
	if (copy_from_user(t, ut, sizeof(t)) < 0)
		return -EFAULT;
	ts[0] = (struct l_timespec){ t[0], 0 };
	ts[1] = (struct l_timespec){ t[1], 0 };
	return utimens(AT_FDCWD, path, ts, 0);
}

/* chown: the monitor records the owner beside the file (never the
 * host's owner, which still decides what the host allows); Linux's rules
 * decide who may, and a non-directory loses its set-user-id bit (and its
 * set-group-id bit if group-executable), as on Linux. */
static long chown_at(int dirfd, const char *path, int flags, int uid, int gid)
{
	struct moat_attr cur;
	long u = uid == -1 ? -1 : (long)(uint32_t)uid;
	long g = gid == -1 ? -1 : (long)(uint32_t)gid;
	long r = path ? at_attr(dirfd, path, flags, &cur) : fd_attr(dirfd, &cur);
	if (r == 0)
		r = id_may_chown(&cur, u, g);
	if (r < 0)
		return r;
	if (!cur.writable)
		return -EROFS;
	struct moat_attr a = { .uid = u == -1 ? cur.uid : (uint32_t)u,
			       .gid = g == -1 ? cur.gid : (uint32_t)g, .mode = cur.mode };
	uint32_t mask = MOAT_ATTR_OWNER;
	if (cur.kind != MOAT_KIND_DIR) {
		a.mode &= ~04000u;
		if (a.mode & 010)
			a.mode &= ~02000u;
	}
	if (a.mode != cur.mode)
		mask |= MOAT_ATTR_MODE;
	if (a.uid == cur.uid && a.gid == cur.gid && mask == MOAT_ATTR_OWNER)
		return 0; /* nothing changes: nothing to record */
	return set_attr_at(dirfd, path, path ? flags : AT_EMPTY_PATH, mask, &a);
}

long sys_fchownat(int dirfd, const char *path, int uid, int gid, int flags)
{
	return chown_at(dirfd, path, flags, uid, gid);
}

long sys_chown(const char *path, int uid, int gid)
{
	return sys_fchownat(AT_FDCWD, path, uid, gid, 0);
}

long sys_lchown(const char *path, int uid, int gid)
{
	return sys_fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW);
}

long sys_fchown(int fd, int uid, int gid)
{
	return chown_at(fd, NULL, AT_EMPTY_PATH, uid, gid);
}

long sys_symlinkat(const char *target, int dirfd, const char *upath)
{
	char path[MOAT_URI_MAX], uri[URI_BUF_SIZE];
	if (!target)
		return -EFAULT;
	if (!target[0])
		return -ENOENT;
	long r = resolve_at(dirfd, upath, path);
	if (r < 0)
		return r;
	path_to_uri(path, uri);
	r = abi->stream_symlink(target, uri);
	if (r == 0)
		stamp_owner(path, 1);
	return r;
}

long sys_symlink(const char *target, const char *path)
{
	return sys_symlinkat(target, AT_FDCWD, path);
}

long sys_linkat(int olddir, const char *oldp, int newdir, const char *newp,
		int flags)
{
	(void)flags; /* AT_SYMLINK_FOLLOW: the monitor never follows */
	return two_uris(olddir, oldp, newdir, newp, abi->stream_link);
}

long sys_link(const char *oldp, const char *newp)
{
	return sys_linkat(AT_FDCWD, oldp, AT_FDCWD, newp, 0);
}

long sys_truncate(const char *upath, int64_t len)
{
	char path[MOAT_URI_MAX];
	moat_handle h;
	if (len < 0)
		return -EINVAL;
	long r = resolve_at(AT_FDCWD, upath, path);
	if (r == 0)
		r = fs_open_stream(path, O_WRONLY, 0, &h);
	if (r < 0)
		return r;
	r = abi->stream_set_length(h, (uint64_t)len);
	abi->object_close(h);
	return r;
}
