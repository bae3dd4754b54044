/*
 * fuzz_package.c -- libFuzzer target: the package reader and the union
 * of layers built on it.
 *
 * The input is a whole .mpk file.  moat_package_open() must refuse it
 * with one line naming the file, or accept it; an accepted package must
 * keep every promise the union view relies on: each entry found again by
 * its path, strings in bounds, contents inside the file.  It is then
 * stacked as a layer under a policy, as `moat run APP.mpk` does, and a
 * few paths are resolved, listed and read through it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "monitor_int.h"
#include "moat/package.h"
#include "moat/policy.h"

static char path[64];

static void check_entries(struct moat_package *p)
{
	for (size_t i = 0; i < moat_package_count(p); i++) {
		const struct moat_pkg_entry *e = moat_package_entry(p, i);
		const char *name = moat_package_path(p, e);
		if (moat_package_lookup(p, name) != e)
			__builtin_trap();
		if ((e->mode & S_IFMT) == S_IFLNK && strlen(moat_package_link(p, e)) != e->size)
			__builtin_trap();
		uint64_t end;
		if ((e->mode & S_IFMT) == S_IFREG &&
		    (__builtin_add_overflow(e->offset, e->size, &end) || end > moat_package_size(p)))
			__builtin_trap();
	}
}

static void through_policy(struct moat_package *p)
{
	struct moat_manifest m;
	char err[512];
	moat_manifest_init(&m, "fuzz");
	moat_manifest_add_layer(&m, path);
	struct moat_policy *pol = moat_policy_new(&m, err, sizeof(err));
	if (pol) {
		struct moat_attr a;
		char buf[256];
		for (size_t i = 0; i < moat_package_count(p) && i < 16; i++) {
			const char *name = moat_package_path(p, moat_package_entry(p, i));
			moat_policy_stat(pol, name, 0, &a);
			moat_policy_readlink(pol, name, buf, sizeof(buf));
			int fd = -1;
			struct moat_open_reply reply;
			if (moat_policy_open(pol, name, MOAT_ACCESS_READ, 0, &reply, &fd) >= 0 && fd >= 0)
				close(fd);
		}
		moat_policy_free(pol);
	}
	moat_manifest_free(&m);
}

static void hash128(const void *d, size_t n, uint8_t out[16])
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits(d, n));
	memcpy(out, c.digest, 16);
}

/* Most mutations would only break a checksum.  So that the fuzzer reaches
 * the index checks and the union, half the inputs get their content
 * hashes and header checksum recomputed first, wherever the layout lets
 * them be found.  An entry whose size or offset lies outside the file
 * (2^64-4095, say) keeps its hash, but the header checksum is still
 * fixed: the range checks on entries, not the checksum, must refuse it
 * (the corpus has such seeds: seed-size-*.mpk). */
static void fix_checksums(uint8_t *d, size_t size)
{
	struct moat_pkg_header h;
	if (size < sizeof(h))
		return;
	memcpy(&h, d, sizeof(h));
	uint64_t ilen = (uint64_t)h.nentries * sizeof(struct moat_pkg_entry);
	if (h.nentries > 100000 || h.index_off > size || ilen > size - h.index_off)
		return;
	for (uint32_t i = 0; i < h.nentries; i++) {
		struct moat_pkg_entry e;
		memcpy(&e, d + h.index_off + i * sizeof(e), sizeof(e));
		if (e.offset <= size && e.size <= size - e.offset) {
			hash128(d + e.offset, e.size, e.hash);
			memcpy(d + h.index_off + i * sizeof(e), &e, sizeof(e));
		}
	}
	uint64_t end = h.strings_off + h.strings_len;
	if (end < h.strings_off || end > size || end < sizeof(h))
		return;
	memset(h.checksum, 0, sizeof(h.checksum));
	memcpy(d, &h, sizeof(h));
	XXH3_state_t *st = XXH3_createState();
	XXH3_128bits_reset(st);
	XXH3_128bits_update(st, d, end);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
	XXH3_freeState(st);
	memcpy(h.checksum, c.digest, 16);
	memcpy(d, &h, sizeof(h));
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
	char err[512];
	uint8_t *data = malloc(size ? size : 1);
	memcpy(data, input, size);
	if (size && (input[size - 1] & 1))
		fix_checksums(data, size);
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/fuzz-package-%d.mpk", (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	free(data);
	struct moat_package *p = moat_package_open(path, 1, err, sizeof(err));
	if (!p) {
		if (strncmp(err, path, strlen(path)) || strchr(err, '\n'))
			__builtin_trap();
		return 0;
	}
	check_entries(p);
	size_t len;
	const char *text = moat_package_manifest(p, &len);
	struct moat_manifest m;
	moat_manifest_parse(text, len, path, &m, err, sizeof(err));
	moat_manifest_free(&m);
	through_policy(p);
	moat_package_close(p);
	return 0;
}
