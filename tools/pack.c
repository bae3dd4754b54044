/*
 * pack.c -- moat pack, moat inspect, moat verify.
 *
 *   moat pack DIR -m MANIFEST -o APP.mpk
 *   moat pack --from-host PROGRAM... [--add PATH]... [--exclude GLOB]...
 *             [-m MANIFEST | --name N --version V] [--depends 'NAME RANGE']...
 *             [--pkg-path DIRS] -o APP.mpk
 *   moat inspect APP.mpk
 *   moat verify APP.mpk
 *
 * --from-host copies host files as they are, and with each ELF file its
 * interpreter and the closure of its DT_NEEDED libraries, found the way
 * ld.so would (RPATH/RUNPATH, then the system directories).  Every
 * symlink met on the way (/lib -> usr/lib on Debian) is packed as a
 * symlink, so that the paths programs name resolve inside as outside.
 * Files that a dependency package already holds are left out.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "moat/manifest.h"
#include "moat/package.h"
#include "moat/path.h"
#include "moat/policy.h"
#include "tools.h"

#define ERR_LEN (PATH_MAX + 256)

struct pack {
	struct moat_pkg_source *src;
	size_t n, cap;
	char **queue;            /* ELF files whose needs are still to add */
	size_t nqueue, qcap;
	char **exclude;
	int nexclude;
	struct moat_package **deps; /* resolved dependencies: skip their files */
	int ndeps;
	int need_elf;            /* adding what an ELF file names: only ELF files */
	char err[ERR_LEN];
};

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static struct moat_pkg_source *find_source(struct pack *pk, const char *vpath)
{
	for (size_t i = 0; i < pk->n; i++)
		if (!strcmp(pk->src[i].path, vpath))
			return &pk->src[i];
	return NULL;
}

static int excluded(struct pack *pk, const char *vpath)
{
	for (int i = 0; i < pk->nexclude; i++)
		if (!fnmatch(pk->exclude[i], vpath, 0))
			return 1;
	for (int i = 0; i < pk->ndeps; i++)
		if (moat_package_lookup(pk->deps[i], vpath))
			return 1;
	return 0;
}

static struct moat_pkg_source *add_source(struct pack *pk, const char *vpath)
{
	if (pk->n == pk->cap) {
		pk->cap = pk->cap ? pk->cap * 2 : 256;
		pk->src = realloc(pk->src, pk->cap * sizeof(*pk->src));
	}
	struct moat_pkg_source *s = &pk->src[pk->n++];
	*s = (struct moat_pkg_source){ .path = strdup(vpath) };
	return s;
}

static void queue_elf(struct pack *pk, const char *path)
{
	if (pk->nqueue == pk->qcap) {
		pk->qcap = pk->qcap ? pk->qcap * 2 : 64;
		pk->queue = realloc(pk->queue, pk->qcap * sizeof(*pk->queue));
	}
	pk->queue[pk->nqueue++] = strdup(path);
}

/* What moat pack says when the owner of what it packs changed it under
 * it; monitor/package.c says the same of a file's contents. */
#define CHANGED "changed while packing (now a symlink or another file); refused"

/* The text of the symlink 'name' in 'dirfd' (or at 'path' if dirfd < 0). */
static int read_link(struct pack *pk, const char *path, int dirfd, const char *name,
		     char *target, size_t size)
{
	ssize_t n = dirfd >= 0 ? readlinkat(dirfd, name, target, size - 1)
			       : readlink(path, target, size - 1);
	if (n < 0 && (errno == EINVAL || errno == ENOENT)) { /* no longer a symlink, or gone */
		snprintf(pk->err, sizeof(pk->err), "%s: %s", path, CHANGED);
		return -1;
	}
	if (n <= 0) {
		snprintf(pk->err, sizeof(pk->err), "%s: cannot read link: %s", path,
			 n < 0 ? strerror(errno) : "empty");
		return -1;
	}
	target[n] = 0;
	return 0;
}

/* Add one host object at the same path inside, as it is (no following). */
static int add_object(struct pack *pk, const char *path, const struct stat *st, int dirfd,
		      const char *name)
{
	if (find_source(pk, path) || excluded(pk, path))
		return 0;
	struct moat_pkg_source *s;
	if (S_ISREG(st->st_mode)) {
		s = add_source(pk, path);
		s->host = strdup(path);
		s->dev = st->st_dev, s->ino = st->st_ino;
		queue_elf(pk, path);
	} else if (S_ISDIR(st->st_mode)) {
		s = add_source(pk, path);
	} else if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		if (read_link(pk, path, dirfd, name, target, sizeof(target)) < 0)
			return -1;
		s = add_source(pk, path);
		s->link = strdup(target);
	} else {
		snprintf(pk->err, sizeof(pk->err),
			 "%s: cannot pack: not a regular file, directory or symlink", path);
		return -1;
	}
	s->mode = st->st_mode & (S_IFMT | 07777);
	s->mtime_ns = mtime_ns(st);
	return 0;
}

/* ---- walking a host tree ---- */

/* Called for every object under a walked directory: 'path' is its host
 * path, 'st' its lstat, and 'name' its name in the open directory
 * 'dirfd'. */
typedef int (*visit_fn)(struct pack *pk, const char *path, const struct stat *st, int dirfd,
			const char *name);

#define WALK_DEPTH 256

/* Open directory 'name' in 'dfd' (host path 'path'), not following a
 * symlink, and only if it is still the directory 'st' describes. */
static int open_subdir(struct pack *pk, int dfd, const char *name, const char *path,
		       const struct stat *st)
{
	int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat now;
	if (sub >= 0 && fstat(sub, &now) == 0 && now.st_dev == st->st_dev &&
	    now.st_ino == st->st_ino)
		return sub;
	snprintf(pk->err, sizeof(pk->err), "%s: %s", path,
		 sub < 0 && errno != ELOOP && errno != ENOTDIR && errno != ENOENT ? strerror(errno)
										: CHANGED);
	if (sub >= 0)
		close(sub);
	return -1;
}

/* Visit everything beneath the open directory 'dfd' (host path 'path',
 * 'len' bytes, in a PATH_MAX buffer).  Each name is looked at and opened
 * relative to its parent's descriptor, never followed (O_NOFOLLOW), and
 * a subdirectory must be the one just looked at (same device and inode):
 * a tree that its owner changes while it is walked cannot lead the walk
 * outside it.  nftw(3) walks by path, and would follow a directory
 * swapped for a symlink. */
static int walk_tree(struct pack *pk, int dfd, char *path, size_t len, visit_fn fn, int depth)
{
	if (depth > WALK_DEPTH) {
		snprintf(pk->err, sizeof(pk->err), "%s: nested more than %d directories deep", path,
			 WALK_DEPTH);
		return -1;
	}
	int copy = dup(dfd);
	DIR *d = copy >= 0 ? fdopendir(copy) : NULL;
	if (!d) {
		if (copy >= 0)
			close(copy);
		snprintf(pk->err, sizeof(pk->err), "%s: %s", path, strerror(errno));
		return -1;
	}
	int r = 0;
	errno = 0;
	for (struct dirent *e; r == 0 && (e = readdir(d)); errno = 0) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		size_t n = strlen(e->d_name);
		if (len + 1 + n >= PATH_MAX) {
			snprintf(pk->err, sizeof(pk->err), "%.200s/...: path too long", path);
			r = -1;
			break;
		}
		size_t sep = len == 1 ? 0 : 1; /* under "/" itself */
		path[len] = '/';
		memcpy(path + len + sep, e->d_name, n + 1);
		struct stat st;
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			/* ENOENT: listed a moment ago, gone now */
			snprintf(pk->err, sizeof(pk->err), "%s: %s", path,
				 errno == ENOENT ? CHANGED : strerror(errno));
			r = -1;
		} else if ((r = fn(pk, path, &st, dfd, e->d_name)) == 0 && S_ISDIR(st.st_mode)) {
			int sub = open_subdir(pk, dfd, e->d_name, path, &st);
			r = sub < 0 ? -1 : walk_tree(pk, sub, path, len + sep + n, fn, depth + 1);
			if (sub >= 0)
				close(sub);
		}
		path[len] = 0;
	}
	if (r == 0 && errno) {
		snprintf(pk->err, sizeof(pk->err), "%s: %s", path, strerror(errno));
		r = -1;
	}
	closedir(d);
	return r;
}

/* Open the directory at host path 'root' (no symlink on the way), check
 * it is the one 'st' describes, visit it and everything beneath it. */
static int walk_root(struct pack *pk, const char *root, const struct stat *st, visit_fn fn)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", root);
	int fd = moat_open_nofollow(path, O_RDONLY | O_DIRECTORY);
	struct stat now;
	if (fd < 0 || fstat(fd, &now) < 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
		snprintf(pk->err, sizeof(pk->err), "%s: %s", root,
			 fd < 0 && errno != ELOOP && errno != ENOTDIR
				 ? strerror(errno)
				 : CHANGED);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int r = fn(pk, path, &now, -1, NULL);
	if (r == 0)
		r = walk_tree(pk, fd, path, strlen(path), fn, 0);
	close(fd);
	return r;
}

static int walk_one(struct pack *pk, const char *path, const struct stat *st, int dirfd,
		    const char *name)
{
	return add_object(pk, path, st, dirfd, name);
}

/* An interpreter or a library an ELF file names must itself be an ELF
 * file, as ld.so would load: the names come from the program's own bytes,
 * and a hostile program (PT_INTERP "/etc/shadow", a RUNPATH of /etc, a
 * directory) would otherwise have root's `moat pack --from-host` put any
 * host file, or a whole tree, into the package it then runs in.  The
 * object is the one lstat() saw ('st'): opened without following and
 * compared, and moat_package_write packs only that same inode. */
static int elf_object(struct pack *pk, const char *path, const struct stat *st)
{
	unsigned char magic[SELFMAG];
	int ok = 0;
	if (S_ISREG(st->st_mode)) {
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		struct stat now;
		ok = fd >= 0 && fstat(fd, &now) == 0 && now.st_dev == st->st_dev &&
		     now.st_ino == st->st_ino && S_ISREG(now.st_mode) &&
		     pread(fd, magic, SELFMAG, 0) == SELFMAG && !memcmp(magic, ELFMAG, SELFMAG);
		if (fd >= 0)
			close(fd);
	}
	if (ok)
		return 0;
	snprintf(pk->err, sizeof(pk->err),
		 "%s: named as an interpreter or library, but not an ELF file; refused", path);
	return -1;
}

/* Add a host path: every symlink on the way as a symlink (and what it
 * points to), then the object; a directory with everything beneath. */
static int add_host_path(struct pack *pk, const char *path, int depth)
{
	char norm[PATH_MAX];
	int r;
	if (depth > 40) {
		snprintf(pk->err, sizeof(pk->err), "%s: too many levels of symbolic links", path);
		return -1;
	}
	if (moat_path_normalise(path, norm, sizeof(norm)) < 0) {
		snprintf(pk->err, sizeof(pk->err), "%s: expected an absolute path without '..'", path);
		return -1;
	}
	for (char *c = norm + 1;; c++) {
		char *slash = strchr(c, '/');
		if (slash)
			*slash = 0;
		struct stat st;
		if (lstat(norm, &st) < 0) {
			snprintf(pk->err, sizeof(pk->err), "%s: %s", norm, strerror(errno));
			return -1;
		}
		if (S_ISLNK(st.st_mode)) {
			if (add_object(pk, norm, &st, -1, NULL) < 0)
				return -1;
			char target[PATH_MAX], next[2 * PATH_MAX + 2], dir[PATH_MAX];
			if (read_link(pk, norm, -1, NULL, target, sizeof(target)) < 0)
				return -1;
			snprintf(dir, sizeof(dir), "%s", norm);
			*strrchr(dir, '/') = 0;
			if (target[0] == '/')
				snprintf(next, sizeof(next), "%s%s%s", target, slash ? "/" : "",
					 slash ? slash + 1 : "");
			else
				snprintf(next, sizeof(next), "%s/%s%s%s", dir, target,
					 slash ? "/" : "", slash ? slash + 1 : "");
			char resolved[PATH_MAX];
			if (moat_path_resolve_dots(next, resolved, sizeof(resolved)) < 0) {
				snprintf(pk->err, sizeof(pk->err), "%s: link target too long", norm);
				return -1;
			}
			return add_host_path(pk, resolved, depth + 1);
		}
		if (!slash) {
			if (pk->need_elf && (r = elf_object(pk, norm, &st)) < 0)
				return r;
			if (S_ISDIR(st.st_mode))
				return walk_root(pk, norm, &st, walk_one);
			return add_object(pk, norm, &st, -1, NULL);
		}
		*slash = '/';
		c = slash;
	}
}

/* ---- ELF needs ---- */

static const char *const system_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
	"/lib", "/usr/lib", "/usr/local/lib",
};

static int find_library(const char *name, const char *runpath, const char *origin,
			char *out, size_t len)
{
	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		return access(out, R_OK);
	}
	if (runpath) {
		char *copy = strdup(runpath);
		for (char *save, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
			int n = !strncmp(d, "$ORIGIN", 7)
					? snprintf(out, len, "%s%s/%s", origin, d + 7, name)
					: snprintf(out, len, "%s/%s", d, name);
			if (n < (int)len && access(out, R_OK) == 0) {
				free(copy);
				return 0;
			}
		}
		free(copy);
	}
	for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++) {
		snprintf(out, len, "%s/%s", system_dirs[i], name);
		if (access(out, R_OK) == 0)
			return 0;
	}
	return -1;
}

/* The file offset of virtual address 'va', through the PT_LOAD headers
 * (each sum checked: the file is input, not trusted). */
static uint64_t va_to_off(const Elf64_Phdr *ph, int n, uint64_t va)
{
	uint64_t off;
	for (int i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr &&
		    va - ph[i].p_vaddr < ph[i].p_filesz &&
		    !__builtin_add_overflow(va - ph[i].p_vaddr, ph[i].p_offset, &off))
			return off;
	return UINT64_MAX;
}

/* The NUL-terminated string at 'base' + 'off' inside f[0, size), or NULL. */
static const char *elf_string(const unsigned char *f, size_t size, uint64_t base, uint64_t off)
{
	uint64_t at;
	if (__builtin_add_overflow(base, off, &at) || at >= size ||
	    !memchr(f + at, 0, size - (size_t)at))
		return NULL;
	return (const char *)f + at;
}

/* The whole file, read (not mapped: its owner may truncate it meanwhile,
 * and a mapping would then fault).  NULL if it is not a regular file. */
static unsigned char *read_whole(const char *path, size_t *size)
{
	int fd = moat_open_nofollow(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	unsigned char *f = NULL;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size >= (off_t)sizeof(Elf64_Ehdr) && (f = malloc((size_t)st.st_size))) {
		ssize_t n = 0;
		*size = 0;
		while (*size < (size_t)st.st_size &&
		       (n = pread(fd, f + *size, (size_t)st.st_size - *size, (off_t)*size)) > 0)
			*size += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	return f;
}

static int add_elf_needs(struct pack *pk, const char *path)
{
	size_t size = 0;
	unsigned char *f = read_whole(path, &size);
	if (!f)
		return 0;
	const Elf64_Ehdr *eh = (const void *)f;
	int r = 0;
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_phoff > size || eh->e_phnum > 256 ||
	    (size_t)eh->e_phnum * sizeof(Elf64_Phdr) > size - eh->e_phoff ||
	    eh->e_phoff % _Alignof(Elf64_Phdr))
		goto out;
	const Elf64_Phdr *ph = (const void *)(f + eh->e_phoff);
	const Elf64_Dyn *dyn = NULL;
	size_t ndyn = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		int inside = ph[i].p_offset <= size && ph[i].p_filesz <= size - ph[i].p_offset;
		if (ph[i].p_type == PT_INTERP && inside && ph[i].p_filesz < PATH_MAX) {
			char interp[PATH_MAX];
			memcpy(interp, f + ph[i].p_offset, ph[i].p_filesz);
			interp[ph[i].p_filesz] = 0;
			pk->need_elf = 1;
			r = add_host_path(pk, interp, 0);
			pk->need_elf = 0;
			if (r < 0)
				goto out;
		}
		if (ph[i].p_type == PT_DYNAMIC && inside && ph[i].p_offset % _Alignof(Elf64_Dyn) == 0) {
			dyn = (const void *)(f + ph[i].p_offset);
			ndyn = ph[i].p_filesz / sizeof(*dyn);
		}
	}
	uint64_t strtab = 0;
	const char *runpath = NULL;
	for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++)
		if (dyn[i].d_tag == DT_STRTAB)
			strtab = dyn[i].d_un.d_ptr;
	uint64_t stroff = strtab ? va_to_off(ph, eh->e_phnum, strtab) : UINT64_MAX;
	if (stroff >= size)
		goto out;
	char origin[PATH_MAX];
	snprintf(origin, sizeof(origin), "%s", path);
	*strrchr(origin, '/') = 0;
	for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++)
		if (dyn[i].d_tag == DT_RUNPATH || dyn[i].d_tag == DT_RPATH)
			runpath = elf_string(f, size, stroff, dyn[i].d_un.d_val);
	for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		const char *name = dyn[i].d_tag == DT_NEEDED
					   ? elf_string(f, size, stroff, dyn[i].d_un.d_val)
					   : NULL;
		char lib[PATH_MAX];
		if (!name)
			continue;
		if (find_library(name, runpath, origin, lib, sizeof(lib)) < 0) {
			snprintf(pk->err, sizeof(pk->err), "%s: needs %s, which is not on this host",
				 path, name);
			r = -1;
			goto out;
		}
		pk->need_elf = 1;
		r = add_host_path(pk, lib, 0);
		pk->need_elf = 0;
		if (r < 0)
			goto out;
	}
out:
	free(f);
	return r;
}

static int add_queued_needs(struct pack *pk)
{
	for (size_t i = 0; i < pk->nqueue; i++)
		if (add_elf_needs(pk, pk->queue[i]) < 0)
			return -1;
	return 0;
}

/* ---- packing a directory ---- */

static size_t pack_root_len;
static uid_t pack_root_uid;

/* Packing another user's directory (as root, say): a hard link there to
 * a file of someone else's is refused.  Its owner may have linked a file
 * they cannot read, which the packer can (with fs.protected_hardlinks
 * off), and the package would hold its contents. */
static int foreign_hard_link(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_nlink > 1 && geteuid() != pack_root_uid &&
	       st->st_uid != pack_root_uid;
}

static int dir_one(struct pack *pk, const char *path, const struct stat *st, int dirfd,
		   const char *name)
{
	char vpath[PATH_MAX];
	snprintf(vpath, sizeof(vpath), "%s", path[pack_root_len] ? path + pack_root_len : "/");
	if (strlen(vpath) >= MOAT_PKG_ALIGN) {
		snprintf(pk->err, sizeof(pk->err), "%.200s...: path too long for a package (%d bytes at most)",
			 path, MOAT_PKG_ALIGN - 1);
		return -1;
	}
	const char *base = strrchr(vpath, '/') + 1;
	struct moat_pkg_source *s;
	if (!strcmp(base, ".wh..wh..opq")) { /* the parent hides lower layers */
		vpath[base - vpath - (base - vpath > 1)] = 0;
		s = find_source(pk, vpath[0] ? vpath : "/");
		if (s)
			s->flags |= MOAT_PKG_OPAQUE;
		return 0;
	}
	if (!strncmp(base, ".wh.", 4)) { /* a whiteout of NAME */
		if (!base[4] || !strcmp(base + 4, ".") || !strcmp(base + 4, "..")) {
			snprintf(pk->err, sizeof(pk->err), "%s: cannot pack: a whiteout of no name", path);
			return -1;
		}
		char target[PATH_MAX];
		snprintf(target, sizeof(target), "%.*s%s", (int)(base - vpath), vpath, base + 4);
		s = add_source(pk, target);
		s->mode = 0;
		return 0;
	}
	if (foreign_hard_link(st)) {
		snprintf(pk->err, sizeof(pk->err),
			 "%s: cannot pack: a hard link to a file of uid %u in a directory of uid %u; copy it instead",
			 path, (unsigned)st->st_uid, (unsigned)pack_root_uid);
		return -1;
	}
	if (S_ISREG(st->st_mode)) {
		s = add_source(pk, vpath);
		s->host = strdup(path);
		s->dev = st->st_dev, s->ino = st->st_ino;
	} else if (S_ISDIR(st->st_mode)) {
		s = add_source(pk, vpath);
	} else if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		if (read_link(pk, path, dirfd, name, target, sizeof(target)) < 0)
			return -1;
		s = add_source(pk, vpath);
		s->link = strdup(target);
	} else {
		snprintf(pk->err, sizeof(pk->err),
			 "%s: cannot pack: not a regular file, directory or symlink", path);
		return -1;
	}
	s->mode = st->st_mode & (S_IFMT | 07777);
	s->mtime_ns = mtime_ns(st);
	return 0;
}

/* ---- the command ---- */

/* The manifest given to pack: a regular file, up to 1 MiB as in a
 * package.  Its type is checked through an O_PATH pin before it is
 * opened (opening a FIFO, even non-blocking, releases a writer waiting
 * on it; a device open can have effects), and the pin is what is read. */
static int read_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	int pin = open(path, O_PATH | O_CLOEXEC), fd = -1;
	struct stat st;
	*text = NULL;
	*len = 0;
	if (pin < 0 || fstat(pin, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
		snprintf(err, errlen, "%s: %s", path,
			 S_ISREG(st.st_mode) ? "a manifest of over 1 MiB" : "not a regular file");
	} else if ((fd = moat_reopen(pin, O_RDONLY | O_NOCTTY)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-fd));
	}
	if (pin >= 0)
		close(pin);
	if (fd < 0)
		return -1;
	*text = malloc((size_t)st.st_size + 1);
	ssize_t n = 0;
	while (*len < (size_t)st.st_size &&
	       (n = pread(fd, *text + *len, (size_t)st.st_size - *len, (off_t)*len)) > 0)
		*len += (size_t)n;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void pack_free(struct pack *pk)
{
	for (size_t i = 0; i < pk->n; i++) {
		free(pk->src[i].path);
		free(pk->src[i].link);
		free(pk->src[i].host);
	}
	for (size_t i = 0; i < pk->nqueue; i++)
		free(pk->queue[i]);
	for (int i = 0; i < pk->ndeps; i++)
		moat_package_close(pk->deps[i]);
	free(pk->src);
	free(pk->queue);
	free(pk->deps);
	free(pk->exclude);
}

/* The dependencies a --from-host package declares, resolved on the
 * search path so that their files are left out. */
static int load_deps(struct pack *pk, const char *manifest_text, size_t mlen,
		     const char *search)
{
	char dir[] = "/tmp/moat-pack-XXXXXX", path[64];
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/self.mpk", dir);
	struct moat_pkg_source root = { .path = "/", .mode = S_IFDIR | 0755 };
	struct moat_manifest m;
	int r = moat_package_write(path, manifest_text, mlen, &root, 1, pk->err, sizeof(pk->err));
	if (r == 0)
		r = moat_packages_resolve(path, search, &m, pk->err, sizeof(pk->err));
	unlink(path);
	rmdir(dir);
	if (r < 0)
		return -1;
	for (int i = 0; i + 1 < m.nlayers; i++) {
		struct moat_package *d = moat_package_open(m.layers[i], 0, pk->err, sizeof(pk->err));
		if (!d) {
			moat_manifest_free(&m);
			return -1;
		}
		pk->deps = realloc(pk->deps, (size_t)(pk->ndeps + 1) * sizeof(*pk->deps));
		pk->deps[pk->ndeps++] = d;
	}
	moat_manifest_free(&m);
	return 0;
}

static char *generated_manifest(const char *name, const char *version, char **depends,
				int ndepends, const char *entry, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	fprintf(f, "[Package]\nmanifest_version = 1\n\n[Identity]\nname = %s\nversion = %s\n"
		   "architecture = x86_64\n", name, version);
	for (int i = 0; i < ndepends; i++) {
		char dep[256];
		snprintf(dep, sizeof(dep), "%s", depends[i]);
		char *sp = strchr(dep, ' ');
		if (sp)
			*sp++ = 0;
		fprintf(f, "\n[Dependency.%s]\n", dep);
		if (sp && *sp)
			fprintf(f, "version = %s\n", sp);
	}
	if (entry) {
		/* Encoded, as every file URI: the path may hold '%' or a newline. */
		fputs("\n[Application]\nentry = ", f);
		moat_manifest_put_uri(f, entry);
		fputc('\n', f);
	}
	fclose(f);
	return text;
}

/* A value that becomes one line of the generated manifest: a control
 * byte (a newline) would start a line of its own, e.g. a section. */
static int one_line(const char *value, const char *option)
{
	for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
		if (*c < 0x20 || *c == 0x7f) {
			fprintf(stderr, "moat pack: %s: holds a control character; refused\n", option);
			return 0;
		}
	}
	return 1;
}

int moat_cmd_pack(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "manifest", required_argument, 0, 'm' },
		{ "output", required_argument, 0, 'o' },
		{ "from-host", no_argument, 0, 'H' },
		{ "add", required_argument, 0, 'a' },
		{ "exclude", required_argument, 0, 'x' },
		{ "name", required_argument, 0, 'N' },
		{ "version", required_argument, 0, 'V' },
		{ "depends", required_argument, 0, 'D' },
		{ "pkg-path", required_argument, 0, 'P' },
		{ 0, 0, 0, 0 },
	};
	struct pack pk = { 0 };
	const char *manifest = NULL, *out = NULL, *name = NULL, *version = NULL, *search = NULL;
	char **adds = calloc((size_t)argc, sizeof(char *));
	char **depends = calloc((size_t)argc, sizeof(char *));
	int nadd = 0, ndep = 0, from_host = 0, rc = 2, c;
	char *text = NULL;
	size_t tlen = 0;
	pk.exclude = calloc((size_t)argc, sizeof(char *));
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'm': manifest = optarg; break;
		case 'o': out = optarg; break;
		case 'H': from_host = 1; break;
		case 'a': adds[nadd++] = optarg; break;
		case 'x': pk.exclude[pk.nexclude++] = optarg; break;
		case 'N': name = optarg; break;
		case 'V': version = optarg; break;
		case 'D': depends[ndep++] = optarg; break;
		case 'P': search = optarg; break;
		default: goto usage;
		}
	}
	if (!out || optind >= argc || (!from_host && (optind + 1 != argc || !manifest)))
		goto usage;
	if (manifest) {
		if (name || version || ndep) {
			fprintf(stderr, "moat pack: give either -m MANIFEST or --name/--version/--depends\n");
			goto done;
		}
		if (read_file(manifest, &text, &tlen, pk.err, sizeof(pk.err)) < 0) {
			fprintf(stderr, "moat pack: %s\n", pk.err);
			goto done;
		}
	} else {
		if (!name || !version) {
			fprintf(stderr, "moat pack: --from-host without -m needs --name and --version\n");
			goto done;
		}
		if (!one_line(name, "--name") || !one_line(version, "--version"))
			goto done;
		for (int i = 0; i < ndep; i++)
			if (!one_line(depends[i], "--depends"))
				goto done;
		char prog[PATH_MAX];
		if (moat_find_program(argv[optind], prog, sizeof(prog)) < 0) {
			fprintf(stderr, "moat pack: %s: program not found\n", argv[optind]);
			goto done;
		}
		text = generated_manifest(name, version, depends, ndep, prog, &tlen);
	}
	struct moat_manifest m;
	if (moat_manifest_parse_package(text, tlen, manifest ? manifest : "generated manifest", &m,
				    pk.err, sizeof(pk.err)) < 0) {
		fprintf(stderr, "moat pack: %s\n", pk.err);
		moat_manifest_free(&m);
		goto done;
	}
	int named = m.name && m.version;
	if (m.ignored) /* [Windows.Registry] and the like: packed as written */
		fprintf(stderr, "moat pack: note: %s\n", m.ignored);
	moat_manifest_free(&m);
	if (!named) {
		fprintf(stderr, "moat pack: %s: [Identity] name and version: missing; every package needs both\n",
			manifest);
		goto done;
	}
	rc = 1;
	if (from_host) {
		if (load_deps(&pk, text, tlen, search) < 0)
			goto fail;
		for (int i = optind; i < argc; i++) {
			char prog[PATH_MAX];
			if (moat_find_program(argv[i], prog, sizeof(prog)) < 0) {
				snprintf(pk.err, sizeof(pk.err), "%s: program not found", argv[i]);
				goto fail;
			}
			if (add_host_path(&pk, prog, 0) < 0)
				goto fail;
		}
		for (int i = 0; i < nadd; i++)
			if (add_host_path(&pk, adds[i], 0) < 0)
				goto fail;
		if (add_queued_needs(&pk) < 0)
			goto fail;
	} else {
		char root[PATH_MAX];
		struct stat st;
		if (!realpath(argv[optind], root) || lstat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
			snprintf(pk.err, sizeof(pk.err), "%s: not a directory", argv[optind]);
			goto fail;
		}
		pack_root_len = strcmp(root, "/") ? strlen(root) : 0;
		pack_root_uid = st.st_uid;
		if (walk_root(&pk, root, &st, dir_one) < 0)
			goto fail;
		/* The directory's own entry is the package's root. */
		for (size_t i = 0; i < pk.n; i++)
			if (!strcmp(pk.src[i].path, "/"))
				pk.src[i].mode = S_IFDIR | 0755;
	}
	if (moat_package_write(out, text, tlen, pk.src, pk.n, pk.err, sizeof(pk.err)) < 0)
		goto fail;
	rc = 0;
	goto done;
fail:
	fprintf(stderr, "moat pack: %s\n", pk.err[0] ? pk.err : strerror(errno));
	goto done;
usage:
	fprintf(stderr, "usage: moat pack DIR -m MANIFEST -o APP.mpk\n"
			"       moat pack --from-host PROGRAM... [--add PATH]... [--exclude GLOB]...\n"
			"                 [-m MANIFEST | --name N --version V [--depends 'NAME RANGE']...]\n"
			"                 [--pkg-path DIRS] -o APP.mpk\n");
done:
	free(text);
	free(adds);
	free(depends);
	pack_free(&pk);
	return rc;
}

/* A path or other text from a package or manifest, printed so that no
 * byte of it can start a line or a terminal escape: \n, \\ and \ooo.
 * Every byte outside printable ASCII is escaped, not only C0: a UTF-8
 * terminal takes U+009B (C2 9B) for CSI, so a requested path could move
 * the cursor and print a harmless grant over the real one, and U+202E
 * turns the rest of a line around.  What a package asks for must be
 * shown as it is. */
void moat_put_escaped(FILE *f, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '\\')
			fputs("\\\\", f);
		else if (*c == '\n')
			fputs("\\n", f);
		else if (*c < 0x20 || *c >= 0x7f)
			fprintf(f, "\\%03o", *c);
		else
			fputc(*c, f);
	}
}

void moat_put_grant(FILE *f, const struct moat_manifest *m, int i)
{
	if (i < m->nmaps) {
		fprintf(f, "%s ", m->maps[i].writable ? "rw" : "ro");
		moat_put_escaped(f, m->maps[i].vpath);
		fputs(" = ", f);
		moat_put_escaped(f, m->maps[i].hpath);
		return;
	}
	const struct moat_net_mapping *n = &m->nets[i - m->nmaps];
	fputs("net ", f);
	moat_manifest_put_net(f, n);
}

static const char *type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return "dir";
	case S_IFLNK: return "link";
	case S_IFREG: return "file";
	default: return "whiteout";
	}
}

int moat_cmd_inspect(int argc, char **argv)
{
	char err[ERR_LEN];
	if (argc != 2) {
		fprintf(stderr, "usage: moat inspect APP.mpk\n");
		return 2;
	}
	struct moat_package *p = moat_package_open(argv[1], 0, err, sizeof(err));
	if (!p) {
		fprintf(stderr, "moat inspect: %s\n", err);
		return 1;
	}
	size_t mlen;
	const char *text = moat_package_manifest(p, &mlen);
	struct moat_manifest m;
	if (moat_manifest_parse_package(text, mlen, argv[1], &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "moat inspect: %s\n", err);
		moat_manifest_free(&m);
		moat_package_close(p);
		return 1;
	}
	uint64_t bytes = 0;
	size_t files = 0;
	for (size_t i = 0; i < moat_package_count(p); i++) {
		const struct moat_pkg_entry *e = moat_package_entry(p, i);
		if ((e->mode & S_IFMT) == S_IFREG && (files++, __builtin_add_overflow(bytes, e->size, &bytes)))
			bytes = UINT64_MAX; /* entries may share contents: only a display */
	}
	printf("package:  %s %s (", m.name, m.version); /* both checked: no control bytes */
	moat_put_escaped(stdout, m.arch ? m.arch : "any");
	printf(")\n");
	if (m.revision) /* [Package] PackageRevision, digits only */
		printf("revision: %s\n", m.revision);
	if (m.ignored) {
		printf("ignored:  ");
		moat_put_escaped(stdout, m.ignored);
		printf("\n");
	}
	printf("file:     %s, %llu bytes, %zu entries, %zu files, %llu bytes of contents\n",
	       argv[1], (unsigned long long)moat_package_size(p), moat_package_count(p), files,
	       (unsigned long long)bytes);
	printf("depends:  %s\n", m.ndeps ? "" : "(nothing)");
	for (int i = 0; i < m.ndeps; i++)
		printf("  %s %s\n", m.deps[i].name, m.deps[i].range ? m.deps[i].range : "(any version)");
	printf("entry:    ");
	moat_put_escaped(stdout, m.entry ? m.entry : "(none: a library or base package)");
	printf("\n");
	/* What the package asks for; only the person running it grants it
	 * (moat run --ro/--rw/--net, or --accept-grants). */
	printf("requests: %s\n", m.nmaps || m.nnets
					  ? "(granted only if the runner gives them: --ro/--rw/--net, or --accept-grants)"
					  : "(no host paths, no network)");
	for (int i = 0; i < m.nmaps + m.nnets; i++) {
		fputs("  ", stdout);
		moat_put_grant(stdout, &m, i);
		fputc('\n', stdout);
	}
	if (m.is_snapshot && moat_inspect_snapshot(argv[1], &m) < 0) {
		moat_manifest_free(&m);
		moat_package_close(p);
		return 1;
	}
	printf("files:\n");
	for (size_t i = 0; i < moat_package_count(p); i++) {
		const struct moat_pkg_entry *e = moat_package_entry(p, i);
		const char *path = moat_package_path(p, e);
		if ((e->mode & S_IFMT) == S_IFLNK)
			printf("  %-8s %04o %10s  ", type_name(e->mode), e->mode & 07777, "");
		else if ((e->mode & S_IFMT) == S_IFREG)
			printf("  %-8s %04o %10llu  ", type_name(e->mode), e->mode & 07777,
			       (unsigned long long)e->size);
		else
			printf("  %-8s %04o %10s  ", type_name(e->mode), e->mode & 07777, "");
		moat_put_escaped(stdout, path);
		if ((e->mode & S_IFMT) == S_IFLNK) {
			fputs(" -> ", stdout);
			moat_put_escaped(stdout, moat_package_link(p, e));
		}
		if ((e->mode & S_IFMT) == S_IFDIR && (e->flags & MOAT_PKG_OPAQUE))
			fputs(" (opaque)", stdout);
		fputc('\n', stdout);
	}
	moat_manifest_free(&m);
	moat_package_close(p);
	return 0;
}

int moat_cmd_verify(int argc, char **argv)
{
	char err[ERR_LEN];
	if (argc != 2) {
		fprintf(stderr, "usage: moat verify APP.mpk\n");
		return 2;
	}
	struct moat_package *p = moat_package_open(argv[1], 1, err, sizeof(err));
	if (!p) {
		fprintf(stderr, "moat verify: %s\n", err);
		return 1;
	}
	size_t mlen;
	const char *text = moat_package_manifest(p, &mlen);
	struct moat_manifest m;
	int r = moat_manifest_parse_package(text, mlen, argv[1], &m, err, sizeof(err));
	if (r < 0 || !m.name || !m.version) {
		fprintf(stderr, "moat verify: %s\n", r < 0 ? err : "manifest has no [Identity] name and version");
		moat_manifest_free(&m);
		moat_package_close(p);
		return 1;
	}
	printf("%s: ok (%s %s, %zu entries, checksums match)\n", argv[1], m.name, m.version,
	       moat_package_count(p));
	moat_manifest_free(&m);
	moat_package_close(p);
	return 0;
}
