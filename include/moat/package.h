/*
 * moat/package.h -- the .mpk package: one read-only file holding an app,
 * a runtime or a base system, and the calls that read, check and write it.
 *
 * Layout (all integers little-endian; docs/package-format.md is the
 * reference):
 *
 *   offset 0        struct moat_pkg_header (128 bytes)
 *   manifest_off    the manifest, INI text (docs/manifest.md)
 *   index_off       nentries x struct moat_pkg_entry, sorted by path
 *   strings_off     NUL-terminated paths and symlink targets; byte 0 is 0
 *   data_off        file contents, each starting on a 4096-byte boundary
 *                   and zero-padded to the next, so that a picoprocess maps
 *                   them straight from the package (MAP_PRIVATE)
 *
 * header.checksum is XXH3-128 over the header (with the checksum zeroed),
 * the manifest, the index and the strings; each entry's hash is XXH3-128
 * of its contents.  These detect corruption and tampering by anyone who
 * does not also rewrite the checksums: they are integrity, not a
 * signature.
 */
#ifndef MOAT_PACKAGE_H
#define MOAT_PACKAGE_H

#include <stddef.h>
#include <stdint.h>

#define MOAT_PKG_MAGIC   "MOATPKG\032"
#define MOAT_PKG_VERSION 1
#define MOAT_PKG_ALIGN   4096

struct moat_pkg_header {
	char magic[8];
	uint32_t version;        /* MOAT_PKG_VERSION */
	uint32_t nentries;
	uint64_t manifest_off, manifest_len;
	uint64_t index_off;      /* nentries entries */
	uint64_t strings_off, strings_len;
	uint64_t data_off, data_len;
	uint64_t file_size;      /* the whole package: detects truncation */
	uint8_t checksum[16];
	uint8_t reserved[32];
};

/* An entry's mode is S_IFREG, S_IFDIR or S_IFLNK with permission bits,
 * or 0 for a whiteout: the path is deleted from the layers beneath. */
#define MOAT_PKG_OPAQUE 1 /* a directory that hides lower layers' children */

struct moat_pkg_entry {
	uint32_t path;           /* strings offset: "/usr/bin/python3" */
	uint32_t link;           /* strings offset of a symlink's target */
	uint32_t mode;
	uint32_t flags;          /* MOAT_PKG_* */
	uint64_t size;           /* file bytes; target length for a symlink */
	uint64_t offset;         /* file contents, absolute and aligned */
	int64_t mtime_ns;
	uint8_t hash[16];        /* XXH3-128 of the contents (files) */
	uint64_t reserved;
};

_Static_assert(sizeof(struct moat_pkg_header) == 128, "header layout");
_Static_assert(sizeof(struct moat_pkg_entry) == 64, "entry layout");

struct moat_package;

/* Open and check a package: magic, version, size, the header checksum,
 * every index entry (sorted, normalised paths, contents in range), and,
 * with check_contents, every file's hash.  NULL with one line in err,
 * "FILE: what is wrong", if anything fails. */
struct moat_package *moat_package_open(const char *path, int check_contents,
				       char *err, size_t errlen);
void moat_package_close(struct moat_package *pkg);

/* The host descriptor of the package file (read-only; shared by every
 * picoprocess that maps from it), and its name as opened. */
int moat_package_fd(const struct moat_package *pkg);
const char *moat_package_file(const struct moat_package *pkg);
uint64_t moat_package_size(const struct moat_package *pkg);

/* The manifest text (not NUL-terminated) and its length. */
const char *moat_package_manifest(const struct moat_package *pkg, size_t *len);

size_t moat_package_count(const struct moat_package *pkg);
const struct moat_pkg_entry *moat_package_entry(const struct moat_package *pkg,
						size_t i);
/* The path or symlink target of an entry. */
const char *moat_package_path(const struct moat_package *pkg,
			      const struct moat_pkg_entry *e);
const char *moat_package_link(const struct moat_package *pkg,
			      const struct moat_pkg_entry *e);

/* The entry for a normalised absolute path, or NULL. */
const struct moat_pkg_entry *moat_package_lookup(const struct moat_package *pkg,
						 const char *path);
/* Index of the first entry whose path is >= 'prefix' (for listings: the
 * entries beneath a directory "/a/b" are the run starting at "/a/b/"). */
size_t moat_package_lower_bound(const struct moat_package *pkg,
				const char *prefix);

/* Writing.  One source per path; 'host' names the file whose contents
 * are copied (regular files only).  Sources need not be sorted.  Parent
 * directories missing from the list are added (mode 0755). */
struct moat_pkg_source {
	char *path;              /* normalised absolute path in the package */
	uint32_t mode;           /* as in moat_pkg_entry */
	uint32_t flags;
	char *link;              /* symlink target */
	char *host;              /* contents, for regular files: an absolute
				  * host path with no symlink on it */
	int64_t mtime_ns;
	uint64_t dev, ino;       /* the host file as checked (ino 0: unchecked);
				  * another file found there at copy time is an error */
};

/* Open absolute host path 'abs' without following a symlink anywhere on
 * it (each component is opened beneath the last with O_NOFOLLOW); 'flags'
 * are open(2) flags for the last component.  -1 with errno (ELOOP or
 * ENOTDIR where a symlink stands). */
int moat_open_nofollow(const char *abs, int flags);

int moat_package_write(const char *out, const char *manifest, size_t manifest_len,
		       struct moat_pkg_source *src, size_t n, char *err,
		       size_t errlen);

/* ---- Versions and dependencies (monitor/depends.c) ---- */

/* 0 if 'version' is dotted decimal ("3", "3.11.2"), else -1. */
int moat_version_check(const char *version);
/* Does 'version' satisfy 'range', a comma-separated list of constraints
 * each ">=V", ">V", "<=V", "<V", "=V" or "!=V" (a bare "V" means "=V")?
 * 1 yes, 0 no, -1 if the range is malformed. */
int moat_version_match(const char *range, const char *version);

struct moat_manifest;

/* Resolve the package at 'app' and its dependencies, transitively, from
 * the directories in 'search' (colon-separated; the app's own folder is
 * searched last), and fill 'm' from the app's manifest with every package
 * as a layer, dependencies beneath their dependents.  -1 with one line in
 * err naming the missing package, the conflict or the cycle. */
int moat_packages_resolve(const char *app, const char *search,
			  struct moat_manifest *m, char *err, size_t errlen);

#endif /* MOAT_PACKAGE_H */
