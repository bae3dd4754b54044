/*
 * package.c -- reading, checking and writing .mpk packages.
 *
 * A package is untrusted input until every check in moat_package_open
 * has passed: the union view and the PAL trust the index afterwards
 * (offsets in range, paths normalised and sorted), so nothing here may
 * accept a value it has not bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
/* xxHash from Debian's libxxhash-dev, compiled in (its header-only mode):
 * a monitor that never opens a package maps no extra library. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "moat/manifest.h"
#include "moat/package.h"
#include "moat/path.h"
#include "moat/policy.h"

struct moat_package {
	char *file;
	int fd;
	uint64_t size;
	struct moat_pkg_header hdr;
	char *meta;              /* manifest, index and strings, read once */
	uint64_t meta_off, meta_len;
	const struct moat_pkg_entry *entries;
	const char *strings;
};

static int fail(char *err, size_t errlen, const char *file, const char *what)
{
	snprintf(err, errlen, "%s: %s", file, what);
	return -1;
}

static uint64_t align_up(uint64_t v)
{
	return (v + MOAT_PKG_ALIGN - 1) & ~(uint64_t)(MOAT_PKG_ALIGN - 1);
}

/* Does [off, off+len) lie inside [lo, hi)?  Written to avoid overflow. */
static int within(uint64_t off, uint64_t len, uint64_t lo, uint64_t hi)
{
	return off >= lo && off <= hi && len <= hi - off;
}

static void header_hash(const struct moat_pkg_header *h, const char *meta,
			uint64_t meta_len, uint8_t out[16])
{
	struct moat_pkg_header copy = *h;
	memset(copy.checksum, 0, sizeof(copy.checksum));
	XXH3_state_t *st = XXH3_createState();
	XXH3_128bits_reset(st);
	XXH3_128bits_update(st, &copy, sizeof(copy));
	XXH3_128bits_update(st, meta, meta_len);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
	memcpy(out, c.digest, 16);
	XXH3_freeState(st);
}

static void content_hash(const void *data, size_t len, uint8_t out[16])
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
	memcpy(out, c.digest, 16);
}

/* A string offset must name a NUL-terminated string inside the table. */
static const char *string_at(const struct moat_package *p, uint32_t off)
{
	if (off >= p->hdr.strings_len)
		return NULL;
	const char *s = p->strings + off;
	return memchr(s, 0, p->hdr.strings_len - off) ? s : NULL;
}

static int check_layout(struct moat_package *p, char *err, size_t errlen)
{
	const struct moat_pkg_header *h = &p->hdr;
	if (memcmp(h->magic, MOAT_PKG_MAGIC, 8) != 0)
		return fail(err, errlen, p->file, "not a moat package (bad magic number)");
	if (h->version != MOAT_PKG_VERSION) {
		char what[96];
		snprintf(what, sizeof(what), "package format version %u, this moat reads version %u",
			 h->version, MOAT_PKG_VERSION);
		return fail(err, errlen, p->file, what);
	}
	if (h->file_size != p->size) {
		char what[128];
		snprintf(what, sizeof(what), "truncated or extended: %llu bytes, the header says %llu",
			 (unsigned long long)p->size, (unsigned long long)h->file_size);
		return fail(err, errlen, p->file, what);
	}
	/* Bound every field before any arithmetic on it, and check each sum
	 * that could still wrap: the header is untrusted until its checksum
	 * matches, and that is computed over the ranges checked here. */
	if (h->manifest_off != sizeof(*h) || h->nentries == 0 || h->nentries > (1u << 24) ||
	    h->manifest_len > (1u << 20) || h->strings_len == 0 || h->strings_len > (1u << 28))
		return fail(err, errlen, p->file, "corrupt header (sections out of range)");
	uint64_t idx_len = (uint64_t)h->nentries * sizeof(struct moat_pkg_entry);
	uint64_t index_off = (sizeof(*h) + h->manifest_len + 7) & ~7ull;
	uint64_t strings_end, data_end;
	/* The metadata is one run: manifest, index, strings, back to back. */
	if (h->index_off != index_off || h->strings_off != index_off + idx_len ||
	    __builtin_add_overflow(h->strings_off, h->strings_len, &strings_end) ||
	    strings_end > h->data_off || h->data_off % MOAT_PKG_ALIGN ||
	    __builtin_add_overflow(h->data_off, h->data_len, &data_end) || data_end != p->size)
		return fail(err, errlen, p->file, "corrupt header (sections out of range)");
	return 0;
}

/* A file's contents, zero-padded to the next page, lie inside the data
 * section.  The padding is added with an overflow check: a size of
 * 2^64-4095 or more would otherwise round up to 0 and pass, and hashing
 * would then read far past the mapping. */
static int contents_in_range(const struct moat_pkg_header *h, const struct moat_pkg_entry *e)
{
	uint64_t padded;
	if (e->offset % MOAT_PKG_ALIGN ||
	    __builtin_add_overflow(e->size, (uint64_t)MOAT_PKG_ALIGN - 1, &padded))
		return 0;
	padded &= ~(uint64_t)(MOAT_PKG_ALIGN - 1);
	/* data_off + data_len is the file size: check_layout bounded it. */
	return within(e->offset, padded, h->data_off, h->data_off + h->data_len);
}

static int check_entries(struct moat_package *p, char *err, size_t errlen)
{
	const struct moat_pkg_header *h = &p->hdr;
	if (p->strings[0] != 0 || p->strings[h->strings_len - 1] != 0)
		return fail(err, errlen, p->file, "corrupt string table");
	const char *prev = NULL;
	for (uint32_t i = 0; i < h->nentries; i++) {
		const struct moat_pkg_entry *e = &p->entries[i];
		const char *path = string_at(p, e->path);
		char norm[MOAT_PKG_ALIGN + 2];
		char what[160];
		if (!path || strlen(path) >= MOAT_PKG_ALIGN ||
		    moat_path_normalise(path, norm, sizeof(norm)) < 0 || strcmp(norm, path)) {
			snprintf(what, sizeof(what), "index entry %u: bad path", i);
			return fail(err, errlen, p->file, what);
		}
		if (prev && strcmp(prev, path) >= 0) {
			snprintf(what, sizeof(what), "index not sorted at %.100s", path);
			return fail(err, errlen, p->file, what);
		}
		prev = path;
		uint32_t type = e->mode & S_IFMT;
		int ok = e->mode == 0 || type == S_IFDIR || type == S_IFLNK || type == S_IFREG;
		if (ok && type == S_IFLNK)
			ok = string_at(p, e->link) && e->size == strlen(string_at(p, e->link)) &&
			     e->size > 0;
		if (ok && type == S_IFREG)
			ok = contents_in_range(h, e);
		if (ok && (e->mode == 0 || type == S_IFDIR)) /* no contents: the writer's zeros */
			ok = e->size == 0 && e->offset == 0;
		if (!ok) {
			snprintf(what, sizeof(what), "index entry %.100s: bad type or contents range", path);
			return fail(err, errlen, p->file, what);
		}
	}
	const struct moat_pkg_entry *root = &p->entries[0];
	if (strcmp(string_at(p, root->path), "/") || (root->mode & S_IFMT) != S_IFDIR)
		return fail(err, errlen, p->file, "index has no root directory");
	return 0;
}

/* Hash every file's contents, through one read-only mapping of the data. */
static int check_contents(struct moat_package *p, char *err, size_t errlen)
{
	if (p->hdr.data_len == 0)
		return 0;
	const char *data = mmap(NULL, p->hdr.data_len, PROT_READ, MAP_SHARED | MAP_POPULATE, p->fd,
				(off_t)p->hdr.data_off);
	if (data == MAP_FAILED)
		return fail(err, errlen, p->file, strerror(errno));
	int r = 0;
	for (uint32_t i = 0; i < p->hdr.nentries && r == 0; i++) {
		const struct moat_pkg_entry *e = &p->entries[i];
		if ((e->mode & S_IFMT) != S_IFREG)
			continue;
		uint8_t sum[16];
		content_hash(data + (e->offset - p->hdr.data_off), e->size, sum);
		if (memcmp(sum, e->hash, 16)) {
			char what[MOAT_PKG_ALIGN + 64];
			snprintf(what, sizeof(what), "%s: contents do not match their hash (tampered or corrupt)",
				 string_at(p, e->path));
			r = fail(err, errlen, p->file, what);
		}
	}
	munmap((void *)data, p->hdr.data_len);
	return r;
}

struct moat_package *moat_package_open(const char *path, int contents,
				       char *err, size_t errlen)
{
	struct moat_package *p = calloc(1, sizeof(*p));
	struct stat st;
	p->file = strdup(path);
	/* The type is checked before anything is opened: opening a FIFO,
	 * even with O_NONBLOCK, releases a writer blocked on it (its message
	 * then lost), and opening a device can have effects (a watchdog
	 * armed, a pty made).  The run scans the app's folder for *.mpk, and
	 * any user who can write there can put a FIFO or a symlink to a
	 * device under that name.  So: an O_PATH pin, its type, then the
	 * pinned object itself reopened through /proc/self/fd. */
	int pin = open(path, O_PATH | O_CLOEXEC);
	p->fd = -1;
	if (pin < 0 || fstat(pin, &st) < 0) {
		fail(err, errlen, path, strerror(errno));
		if (pin >= 0)
			close(pin);
		goto bad;
	}
	if (!S_ISREG(st.st_mode)) {
		fail(err, errlen, path, S_ISDIR(st.st_mode) ? "a directory, not a package file"
							    : "not a regular file");
		close(pin);
		goto bad;
	}
	int fd = moat_reopen(pin, O_RDONLY | O_NOCTTY);
	close(pin);
	if (fd < 0) {
		fail(err, errlen, path, strerror(-fd));
		goto bad;
	}
	p->fd = fd;
	if (fstat(p->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fail(err, errlen, path, "not a regular file");
		goto bad;
	}
	p->size = (uint64_t)st.st_size;
	ssize_t got = pread(p->fd, &p->hdr, sizeof(p->hdr), 0);
	if (got < 8 || memcmp(p->hdr.magic, MOAT_PKG_MAGIC, 8)) {
		fail(err, errlen, path, "not a moat package (bad magic number)");
		goto bad;
	}
	if (got != (ssize_t)sizeof(p->hdr)) {
		fail(err, errlen, path, "truncated (no complete header)");
		goto bad;
	}
	if (check_layout(p, err, errlen) < 0)
		goto bad;
	p->meta_off = p->hdr.manifest_off;
	p->meta_len = p->hdr.strings_off + p->hdr.strings_len - p->meta_off;
	p->meta = malloc(p->meta_len);
	if (!p->meta || pread(p->fd, p->meta, p->meta_len, (off_t)p->meta_off) !=
				(ssize_t)p->meta_len) {
		fail(err, errlen, path, "cannot read the index");
		goto bad;
	}
	uint8_t sum[16];
	header_hash(&p->hdr, p->meta, p->meta_len, sum);
	if (memcmp(sum, p->hdr.checksum, 16)) {
		fail(err, errlen, path, "header checksum mismatch (tampered or corrupt)");
		goto bad;
	}
	p->entries = (const void *)(p->meta + (p->hdr.index_off - p->meta_off));
	p->strings = p->meta + (p->hdr.strings_off - p->meta_off);
	if (check_entries(p, err, errlen) < 0 || (contents && check_contents(p, err, errlen) < 0))
		goto bad;
	return p;
bad:
	moat_package_close(p);
	return NULL;
}

void moat_package_close(struct moat_package *p)
{
	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	free(p->meta);
	free(p->file);
	free(p);
}

int moat_package_fd(const struct moat_package *p) { return p->fd; }
const char *moat_package_file(const struct moat_package *p) { return p->file; }
uint64_t moat_package_size(const struct moat_package *p) { return p->size; }
size_t moat_package_count(const struct moat_package *p) { return p->hdr.nentries; }

const char *moat_package_manifest(const struct moat_package *p, size_t *len)
{
	*len = p->hdr.manifest_len;
	return p->meta;
}

const struct moat_pkg_entry *moat_package_entry(const struct moat_package *p,
						size_t i)
{
	return i < p->hdr.nentries ? &p->entries[i] : NULL;
}

const char *moat_package_path(const struct moat_package *p,
			      const struct moat_pkg_entry *e)
{
	return p->strings + e->path;
}

const char *moat_package_link(const struct moat_package *p,
			      const struct moat_pkg_entry *e)
{
	return p->strings + e->link;
}

size_t moat_package_lower_bound(const struct moat_package *p, const char *prefix)
{
	size_t lo = 0, hi = p->hdr.nentries;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(p->strings + p->entries[mid].path, prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct moat_pkg_entry *moat_package_lookup(const struct moat_package *p,
						 const char *path)
{
	size_t i = moat_package_lower_bound(p, path);
	if (i < p->hdr.nentries && !strcmp(p->strings + p->entries[i].path, path))
		return &p->entries[i];
	return NULL;
}

/* ---- writing ---- */

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct moat_pkg_source *)a)->path,
		      ((const struct moat_pkg_source *)b)->path);
}

/* Add the missing parent directories of every source (and "/"). */
static struct moat_pkg_source *add_parents(struct moat_pkg_source *src, size_t *n)
{
	size_t count = *n, cap = count * 2 + 16;
	struct moat_pkg_source *all = calloc(cap, sizeof(*all));
	memcpy(all, src, count * sizeof(*all));
	all[count++] = (struct moat_pkg_source){ .path = "/", .mode = S_IFDIR | 0755 };
	for (size_t i = 0; i < *n; i++) {
		char dir[MOAT_PKG_ALIGN];
		snprintf(dir, sizeof(dir), "%s", src[i].path);
		for (char *slash = strrchr(dir, '/'); slash && slash != dir;
		     slash = strrchr(dir, '/')) {
			*slash = 0;
			if (count == cap) {
				cap *= 2;
				all = realloc(all, cap * sizeof(*all));
			}
			all[count++] = (struct moat_pkg_source){ .path = strdup(dir),
								 .mode = S_IFDIR | 0755,
								 .flags = 0x80000000u };
		}
	}
	qsort(all, count, sizeof(*all), by_path);
	/* Keep the first of equal paths, preferring a given source over an
	 * added parent (the sort is not stable, so choose explicitly). */
	size_t out = 0;
	for (size_t i = 0; i < count; i++) {
		if (out && !strcmp(all[out - 1].path, all[i].path)) {
			if ((all[out - 1].flags & 0x80000000u) && !(all[i].flags & 0x80000000u)) {
				free(all[out - 1].path);
				all[out - 1] = all[i];
			} else if (all[i].flags & 0x80000000u) {
				free(all[i].path);
			}
			continue;
		}
		all[out++] = all[i];
	}
	*n = out;
	return all;
}

int moat_open_nofollow(const char *abs, int flags)
{
	char buf[PATH_MAX];
	if (abs[0] != '/' || snprintf(buf, sizeof(buf), "%s", abs) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char *name = buf + 1;
	for (char *slash; dir >= 0 && (slash = strchr(name, '/'));) {
		*slash = 0;
		int next = *name ? openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
				 : dup(dir); /* "//" */
		int saved = errno;
		close(dir);
		errno = saved;
		dir = next;
		name = slash + 1;
	}
	if (dir < 0)
		return -1;
	int fd = openat(dir, *name ? name : ".", flags | O_NOFOLLOW | O_CLOEXEC);
	int saved = errno;
	close(dir);
	errno = saved;
	return fd;
}

/* Copy one source's contents.  The file is opened without following any
 * symlink on its path, and must be the very file the packer checked
 * (same device, inode and type): the owner of a packed directory could
 * otherwise swap a checked file for a link to one only the packer (root,
 * say) may read, and the package would hold it with matching hashes. */
static int copy_contents(int out, uint64_t at, const struct moat_pkg_source *s, uint64_t *size,
			 uint8_t hash[16], char *err, size_t errlen)
{
	static const char changed[] = "changed while packing (now a symlink or another file); refused";
	int in = moat_open_nofollow(s->host, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	if (in < 0 || fstat(in, &st) < 0) {
		int e = errno;
		if (in >= 0)
			close(in);
		/* ENOENT too: the walk saw it a moment ago */
		return fail(err, errlen, s->host,
			    e == ELOOP || e == ENOTDIR || e == ENOENT ? changed : strerror(e));
	}
	if (!S_ISREG(st.st_mode) ||
	    (s->ino && (st.st_dev != (dev_t)s->dev || st.st_ino != (ino_t)s->ino))) {
		close(in);
		return fail(err, errlen, s->host, changed);
	}
	/* Read, not mapped: the owner may truncate the file meanwhile, and
	 * a mapping would then fault.  What was read is what is hashed. */
	enum { CHUNK = 1 << 16 };
	XXH3_state_t *h = XXH3_createState();
	XXH3_128bits_reset(h);
	char *buf = malloc(CHUNK);
	uint64_t done = 0;
	int r = buf ? 0 : fail(err, errlen, s->host, "out of memory");
	while (done < (uint64_t)st.st_size && r == 0) {
		size_t want = (uint64_t)st.st_size - done < CHUNK ? (size_t)(st.st_size - done) : CHUNK;
		ssize_t n = pread(in, buf, want, (off_t)done);
		if (n < 0)
			r = fail(err, errlen, s->host, strerror(errno));
		else if (n == 0)
			break; /* shrunk meanwhile: pack what there is */
		else if (pwrite(out, buf, (size_t)n, (off_t)(at + done)) != n)
			r = fail(err, errlen, "package", "write failed");
		else
			XXH3_128bits_update(h, buf, (size_t)n), done += (uint64_t)n;
	}
	close(in);
	free(buf);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h));
	memcpy(hash, c.digest, 16);
	XXH3_freeState(h);
	*size = done;
	return r;
}

int moat_package_write(const char *out, const char *manifest, size_t mlen,
		       struct moat_pkg_source *src, size_t n, char *err, size_t errlen)
{
	struct moat_pkg_source *all = add_parents(src, &n);
	struct moat_pkg_entry *ents = calloc(n, sizeof(*ents));
	size_t slen = 1, scap = 4096;
	char *strings = calloc(1, scap);
	for (size_t i = 0; i < n; i++) {
		const char *strs[2] = { all[i].path, all[i].link };
		uint32_t *offs[2] = { &ents[i].path, &ents[i].link };
		for (int k = 0; k < 2; k++) {
			if (!strs[k])
				continue;
			size_t l = strlen(strs[k]) + 1;
			while (slen + l > scap)
				strings = realloc(strings, scap *= 2);
			memcpy(strings + slen, strs[k], l);
			*offs[k] = (uint32_t)slen;
			slen += l;
		}
		ents[i].mode = all[i].mode;
		ents[i].flags = all[i].flags & ~0x80000000u;
		ents[i].mtime_ns = all[i].mtime_ns;
		if ((all[i].mode & S_IFMT) == S_IFLNK)
			ents[i].size = strlen(all[i].link);
	}
	struct moat_pkg_header h = { .version = MOAT_PKG_VERSION, .nentries = (uint32_t)n };
	memcpy(h.magic, MOAT_PKG_MAGIC, 8);
	h.manifest_off = sizeof(h);
	h.manifest_len = mlen;
	h.index_off = (h.manifest_off + mlen + 7) & ~7ull; /* entries 8-aligned */
	h.strings_off = h.index_off + n * sizeof(*ents);
	h.strings_len = slen;
	h.data_off = align_up(h.strings_off + slen);

	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", out);
	int fd = mkstemp(tmp);
	int r = fd < 0 ? fail(err, errlen, out, strerror(errno)) : 0;
	uint64_t at = h.data_off;
	for (size_t i = 0; i < n && r == 0; i++) {
		if ((all[i].mode & S_IFMT) != S_IFREG)
			continue;
		ents[i].offset = at;
		r = copy_contents(fd, at, &all[i], &ents[i].size, ents[i].hash, err, errlen);
		at = align_up(at + ents[i].size);
	}
	if (r == 0) {
		h.data_len = at - h.data_off;
		h.file_size = at;
		/* Zero padding to the end: ftruncate extends with zeros. */
		char *meta = calloc(1, h.strings_off + slen - sizeof(h));
		memcpy(meta, manifest, mlen);
		memcpy(meta + (h.index_off - sizeof(h)), ents, n * sizeof(*ents));
		memcpy(meta + (h.strings_off - sizeof(h)), strings, slen);
		header_hash(&h, meta, h.strings_off + slen - sizeof(h), h.checksum);
		if (ftruncate(fd, (off_t)at) < 0 ||
		    pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
		    pwrite(fd, meta, h.strings_off + slen - sizeof(h), sizeof(h)) !=
			    (ssize_t)(h.strings_off + slen - sizeof(h)) ||
		    fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(tmp, out) < 0)
			r = fail(err, errlen, out, strerror(errno));
		free(meta);
	}
	if (fd >= 0) {
		close(fd);
		if (r < 0)
			unlink(tmp);
	}
	for (size_t i = 0; i < n; i++)
		if (all[i].flags & 0x80000000u)
			free(all[i].path);
	free(all);
	free(ents);
	free(strings);
	return r;
}
