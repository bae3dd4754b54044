/*
 * directfs.c -- stat beneath a donated directory, without the monitor.
 *
 * For each read-only directory mapping where the monitor's walk and this
 * one give the same answers (moat_policy_donations), the monitor passes
 * an O_PATH descriptor of the mapping's host directory, at MOAT_DIRFS_FD
 * on, and its virtual path in the boot block.  A stat of a path beneath
 * a path beneath one is then answered here with newfstatat(2), one call
 * per component: each directory on the way must be a directory (not a
 * link) on the mapping's own file system, and the last name is never
 * followed.  Whatever this cannot answer as the monitor would (a
 * symbolic link on the way or to follow, which the monitor resolves as
 * a virtual path; another file system; an owner the user namespace does
 * not show; a refusal the monitor, with its own rights, might not meet)
 * goes to the monitor, as before: DIRFS_ASK.
 *
 * A directory on the way swapped for a link between its check and the
 * last call is followed by that call, inside the donated tree only: the
 * descriptor is the root of a detached mount, so '..' stays at it and
 * an absolute target resolves against the empty root.  Such a race
 * shows a name of the mapping, or ENOENT, never anything outside.
 *
 * What a subverted LibOS can do with these descriptors is what the
 * filter allows: newfstatat with a descriptor >= 0 and
 * AT_SYMLINK_NOFOLLOW, that is, learn the attributes of host paths
 * (docs/security.md, "directfs").  Nothing here opens a file.
 */
#include <asm/stat.h>

#include "pal.h"

#define H_AT_SYMLINK_NOFOLLOW 0x100
#define H_AT_EMPTY_PATH 0x1000
#define H_S_IFMT 0170000
#define H_S_IFDIR 0040000
#define H_S_IFLNK 0120000
#define H_NAME_MAX 255
#define INSIDE_ID 1000   /* the picoprocess's own ids in its user namespace */
#define OVERFLOW_ID 65534 /* how the namespace shows an id it does not map */

struct dirfs {
	const char *vpath;
	size_t vlen;
	int fd;
	uint64_t dev; /* the mapping's file system */
};

static struct dirfs dirs[MOAT_DIRFS_MAX];
static int ndirs;
static uint32_t host_uid, host_gid, host_root_mapped;

void pal_directfs_init(const char *vpaths, const char *end, uint32_t n,
		       uint32_t uid, uint32_t gid, uint32_t root_mapped)
{
	host_uid = uid, host_gid = gid, host_root_mapped = root_mapped;
	for (uint32_t i = 0; i < n && i < MOAT_DIRFS_MAX && vpaths < end; i++) {
		size_t len = strnlen(vpaths, (size_t)(end - vpaths));
		struct stat st;
		int fd = MOAT_DIRFS_FD + (int)i;
		if (len < MOAT_PATH_MAX && vpaths[0] == '/' && vpaths + len < end &&
		    host_fstat(fd, &st) == 0 && (st.st_mode & H_S_IFMT) == H_S_IFDIR)
			dirs[ndirs++] = (struct dirfs){ vpaths, len, fd, st.st_dev };
		vpaths += len + 1;
	}
}

/* The remainder of 'path' beneath d ("" for d itself), or NULL. */
static const char *beneath(const struct dirfs *d, const char *path)
{
	if (d->vlen == 1)
		return path + 1;
	if (memcmp(path, d->vpath, d->vlen) != 0)
		return 0;
	if (path[d->vlen] == 0)
		return path + d->vlen;
	return path[d->vlen] == '/' ? path + d->vlen + 1 : 0;
}

/* moat_path_check's grammar (monitor/path.c): absolute, no empty, "."
 * or ".." component, none longer than NAME_MAX.  Anything else is the
 * monitor's to refuse. */
static int well_formed(const char *path)
{
	size_t len = strnlen(path, MOAT_PATH_MAX);
	if (len == 0 || len >= MOAT_PATH_MAX || path[0] != '/')
		return 0;
	if (len == 1)
		return 1;
	for (const char *c = path + 1;;) {
		const char *end = c;
		while (*end && *end != '/')
			end++;
		size_t n = (size_t)(end - c);
		if (n == 0 || n > H_NAME_MAX || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (!*end)
			return 1;
		c = end + 1;
	}
}

/* A host id as the monitor would show it, from the one the namespace
 * shows: only the picoprocess's own (and root, where the monitor maps it)
 * are known; -1 for any other. */
static int64_t host_id(uint32_t inside, uint32_t own)
{
	if (inside == INSIDE_ID)
		return own;
	if (inside == 0 && host_root_mapped)
		return 0;
	return -1;
}

static uint32_t kind_of(unsigned mode)
{
	switch (mode & H_S_IFMT) {
	case 0040000: return MOAT_KIND_DIR;
	case 0120000: return MOAT_KIND_SYMLINK;
	case 0010000: return MOAT_KIND_PIPE;
	case 0020000: return MOAT_KIND_CHARDEV;
	case 0140000: return MOAT_KIND_SOCKET;
	default: return MOAT_KIND_FILE;
	}
}

/* The monitor's attr_of_stat for a read-only mapping. */
static long fill_attr(const struct stat *st, struct moat_attr *a)
{
	int64_t uid = host_id(st->st_uid, host_uid), gid = host_id(st->st_gid, host_gid);
	if (uid < 0 || gid < 0)
		return DIRFS_ASK;
	*a = (struct moat_attr){
		.kind = kind_of(st->st_mode), .mode = st->st_mode & 07777,
		.uid = (uint32_t)uid, .gid = (uint32_t)gid,
		.nlink = (uint32_t)st->st_nlink, .writable = 0,
		.size = (uint64_t)st->st_size, .blocks = (uint64_t)st->st_blocks,
		.blksize = (uint64_t)st->st_blksize, .ino = st->st_ino,
		.dev = st->st_dev, .rdev = st->st_rdev,
		.atime_ns = (int64_t)st->st_atime * 1000000000 + (int64_t)st->st_atime_nsec,
		.mtime_ns = (int64_t)st->st_mtime * 1000000000 + (int64_t)st->st_mtime_nsec,
		.ctime_ns = (int64_t)st->st_ctime * 1000000000 + (int64_t)st->st_ctime_nsec,
	};
	return 0;
}

long pal_directfs_stat(const char *path, uint32_t nofollow, struct moat_attr *a)
{
	const struct dirfs *d = 0;
	const char *rest = 0;
	if (!ndirs || !well_formed(path))
		return DIRFS_ASK;
	for (int i = 0; i < ndirs && !d; i++)
		if ((rest = beneath(&dirs[i], path)))
			d = &dirs[i];
	if (!d)
		return DIRFS_ASK;
	struct stat st;
	long r;
	if (!*rest) { /* the mapping itself */
		r = host_fstatat(d->fd, "", &st, H_AT_EMPTY_PATH | H_AT_SYMLINK_NOFOLLOW);
		return r < 0 ? DIRFS_ASK : fill_attr(&st, a);
	}
	/* Each directory on the way, checked as a prefix of 'rest': a link
	 * is the monitor's to resolve (as a virtual path), another file
	 * system its to walk (its own /proc entries are hidden there). */
	char prefix[MOAT_PATH_MAX];
	size_t len = strnlen(rest, MOAT_PATH_MAX - 1);
	memcpy(prefix, rest, len + 1);
	for (size_t i = 0; i < len; i++) {
		if (prefix[i] != '/')
			continue;
		prefix[i] = 0;
		r = host_fstatat(d->fd, prefix, &st, H_AT_SYMLINK_NOFOLLOW);
		prefix[i] = '/';
		if (r == -MOAT_ENOENT)
			return r;
		if (r < 0 || (st.st_mode & H_S_IFMT) == H_S_IFLNK || st.st_dev != d->dev)
			return DIRFS_ASK;
		if ((st.st_mode & H_S_IFMT) != H_S_IFDIR)
			return -MOAT_ENOTDIR;
	}
	r = host_fstatat(d->fd, rest, &st, H_AT_SYMLINK_NOFOLLOW);
	if (r == -MOAT_ENOENT)
		return r;
	if (r < 0 || (!nofollow && (st.st_mode & H_S_IFMT) == H_S_IFLNK))
		return DIRFS_ASK;
	return fill_attr(&st, a);
}

/* The monitor's open walks the path before anything else: a walk that
 * ends in ENOENT or ENOTDIR is the answer to an open that neither
 * creates nor writes (a write to an absent name in a read-only mapping
 * is EROFS instead).  Loaders and interpreters probe many absent paths. */
long pal_directfs_absent(const char *path, uint32_t access, uint32_t options)
{
	struct moat_attr a;
	if (access != MOAT_ACCESS_READ ||
	    (options & ~(uint32_t)(MOAT_OPEN_NOFOLLOW | MOAT_OPEN_DIRECTORY)))
		return 0;
	long r = pal_directfs_stat(path, options & MOAT_OPEN_NOFOLLOW, &a);
	return r == -MOAT_ENOENT || r == -MOAT_ENOTDIR ? r : 0;
}
