/*
 * checkpoint.c -- moat checkpoint NAME -o SNAP.mpk [--leave-running]:
 * ask a named picoprocess's monitor for a checkpoint (MOAT_CTL_CHECKPOINT,
 * docs/control.md), read the raw image its checkpointer writes, check it,
 * write the snapshot package, then tell the checkpointer whether to end
 * ('E') or to go on ('C').  Until the package is safely renamed into
 * place the verdict is 'C': a failure anywhere loses nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "moat/control.h"
#include "moat/manifest.h"
#include "moat/package.h"
#include "moat/snapshot.h"
#include "tools.h"

#define IMAGE_IDLE_MS 10000   /* no byte of image for this long: give up */
#define SCRATCH_WAIT_S 60     /* the monitor reads the whole /tmp before it answers */
#define MANIFEST_MAX (1 << 20)

struct ckpt {
	struct moat_tree tree; /* the child processes' streams */
	const char *name, *out;
	int sock;            /* our end of the image stream */
	int raw;             /* the raw image, a temporary file */
	char *manifest;
	size_t mlen;
	void *image;
	size_t len;
	struct moat_snap_blob scratch;  /* the saved /tmp (MOAT_CTL_SCRATCH) */
	char err[PATH_MAX + 1024];
};

static void usage(FILE *f)
{
	fprintf(f, "usage: moat checkpoint NAME -o SNAP.mpk [--leave-running]\n"
		"Write the state of the picoprocess registered as NAME (moat run --name)\n"
		"into the snapshot package SNAP.mpk; it then ends, or with --leave-running\n"
		"goes on.  'moat run SNAP.mpk' resumes it (docs/checkpoint.md).\n");
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Read the manifest the monitor wrote for this snapshot (with room
 * for 256 more bytes). */
static int read_manifest(int fd, char **manifest, size_t *mlen, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > MANIFEST_MAX) {
		snprintf(err, errlen, "the monitor sent no usable manifest");
		return -1;
	}
	*mlen = (size_t)st.st_size;
	*manifest = malloc(*mlen + 256);
	if (!*manifest || pread(fd, *manifest, *mlen, 0) != (ssize_t)*mlen) {
		snprintf(err, errlen, "cannot read the manifest the monitor sent");
		return -1;
	}
	return 0;
}

/* A temporary file beside the output (its directory, resolved: the
 * package writer wants a path with no symlink on it). */
static int temp_beside(const char *out, const char *what, char *path, size_t len, char *err,
		       size_t errlen)
{
	char copy[PATH_MAX], dir[PATH_MAX];
	snprintf(copy, sizeof(copy), "%s", out);
	char *slash = strrchr(copy, '/');
	const char *d = slash ? (slash == copy ? "/" : (*slash = 0, copy)) : ".";
	if (!realpath(d, dir)) {
		snprintf(err, errlen, "%s: %s", d, strerror(errno));
		return -1;
	}
	const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
	if (snprintf(path, len, "%s/.%s.%s-XXXXXX", strcmp(dir, "/") ? dir : "", base, what) >=
	    (int)len) {
		snprintf(err, errlen, "%s: path too long", out);
		return -1;
	}
	int fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return fd;
}

/* The raw image from the stream, until the checkpointer shuts its side
 * down: into a temporary file, bounded, with an idle timeout. */
static int read_image(struct ckpt *c)
{
	char tmp[PATH_MAX];
	c->raw = temp_beside(c->out, "image", tmp, sizeof(tmp), c->err, sizeof(c->err));
	if (c->raw < 0)
		return -1;
	unlink(tmp);
	uint64_t total = 0;
	if (moat_tree_gather(c->name, c->sock, c->raw, &c->tree, &total, c->err,
			     sizeof(c->err)) < 0)
		return -1;
	if (total == 0) {
		snprintf(c->err, sizeof(c->err), "its checkpointer sent no image");
		return -1;
	}
	c->len = (size_t)total;
	c->image = mmap(NULL, c->len, PROT_READ, MAP_PRIVATE, c->raw, 0);
	if (c->image == MAP_FAILED) {
		c->image = NULL;
		snprintf(c->err, sizeof(c->err), "mapping the image: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Compress len bytes into a temporary file beside out, as the package
 * source 'path'.  The file's descriptor (the caller closes and unlinks
 * zpath), or -1 with err. */
static int compress_beside(const char *out, const char *path, const void *data, size_t len,
			   int level, char *zpath, size_t zlen, struct moat_pkg_source *src,
			   char *err, size_t errlen)
{
	char why[512];
	struct stat st;
	int zfd = temp_beside(out, "zst", zpath, zlen, err, errlen);
	if (zfd < 0)
		return -1;
	if (moat_snap_compress_at(data, len, level, zfd, why, sizeof(why)) < 0 ||
	    (fstat(zfd, &st) < 0 && snprintf(why, sizeof(why), "%s", strerror(errno)))) {
		snprintf(err, errlen, "%s: %s", zpath, why);
		close(zfd);
		unlink(zpath);
		zpath[0] = 0;
		return -1;
	}
	*src = (struct moat_pkg_source){
		.path = (char *)path, .mode = S_IFREG | 0600, .host = zpath,
		.mtime_ns = (int64_t)time(NULL) * 1000000000, .dev = st.st_dev, .ino = st.st_ino,
	};
	return zfd;
}

int moat_snap_package(const char *out, const char *manifest, size_t mlen, const void *image,
		      size_t len, const struct moat_snap_blob *scratch, int level, char *err,
		      size_t errlen)
{
	char hash[17], shash[17], why[512], zpath[2][PATH_MAX] = { "", "" };
	moat_snap_hash64(image, len, hash);
	char *text = malloc(mlen + 256);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(text, manifest, mlen);
	size_t tlen = mlen + (size_t)snprintf(text + mlen, 128, "image_len = %zu\nimage_hash = %s\n",
					      len, hash);
	if (scratch) { /* [Snapshot] is last: its keys go on it */
		moat_snap_hash64(scratch->data, scratch->len, shash);
		tlen += (size_t)snprintf(text + tlen, 128, "scratch_len = %zu\nscratch_hash = %s\n",
					 scratch->len, shash);
	}
	struct moat_pkg_source src[2];
	int r = -1, zfd[2] = { -1, -1 }, n = scratch ? 2 : 1;
	zfd[0] = compress_beside(out, MOAT_SNAP_PATH, image, len, level, zpath[0],
				 sizeof(zpath[0]), &src[0], err, errlen);
	if (zfd[0] >= 0 && scratch)
		zfd[1] = compress_beside(out, MOAT_SNAP_SCRATCH_PATH, scratch->data, scratch->len,
					 level, zpath[1], sizeof(zpath[1]), &src[1], err, errlen);
	if (zfd[0] >= 0 && (!scratch || zfd[1] >= 0)) {
		if (moat_package_write(out, text, tlen, src, (size_t)n, why, sizeof(why)) < 0)
			snprintf(err, errlen, "%s", why);
		else
			r = 0;
	}
	for (int i = 0; i < 2; i++)
		if (zfd[i] >= 0) {
			close(zfd[i]);
			unlink(zpath[i]);
		}
	free(text);
	return r;
}

/* The snapshot package: the manifest with the image's length and hash
 * added to its [Snapshot] section (the last), and the compressed image.
 * zstd level 1: level 3's tables cost the app's stop some 120 more page
 * faults and 2-3 times the compression time for an idle shell's 250 KB,
 * for a package 7% smaller (busybox: 46 KB against 43 KB). */
#define CKPT_ZSTD_LEVEL 1
static int write_package(struct ckpt *c)
{
	return moat_snap_package(c->out, c->manifest, c->mlen, c->image, c->len, &c->scratch,
				 CKPT_ZSTD_LEVEL, c->err, sizeof(c->err));
}

static int send_verdict_to(int sock, char v)
{
	return send(sock, &v, 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* Children first: process 1 ending first would end them unasked. */
static int verdict_all(struct ckpt *c, char v)
{
	moat_tree_send(&c->tree, v);
	return send_verdict_to(c->sock, v);
}

int moat_ctl_open(const char *cmd, const char *name)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], err[512];
	if (moat_ctl_dir(dir, sizeof(dir), err, sizeof(err)) < 0) {
		fprintf(stderr, "moat: %s\n", err);
		return -1;
	}
	moat_ctl_sweep(dir);
	int fd = moat_ctl_connect(dir, name);
	if (fd < 0 && errno == ECONNREFUSED)
		moat_ctl_reap(dir, name);
	if (fd < 0 && (errno == ECONNREFUSED || errno == ENOENT))
		fprintf(stderr, "moat: %s: no picoprocess named %s\n", cmd, name);
	else if (fd < 0)
		fprintf(stderr, "moat: %s: %s: %s\n", cmd, name, strerror(errno));
	return fd;
}

/* A refusal's reason: the payload's text (printable only), or the status. */
static void refusal(const struct moat_ctl_reply *rep, char *out, size_t len)
{
	char why[MOAT_CTL_PAYLOAD + 1] = "";
	if (rep->status && rep->len) {
		memcpy(why, rep->payload, rep->len);
		why[rep->len] = 0;
		for (char *p = why; *p; p++)
			if (*p < ' ' || *p > '~')
				*p = '?';
	}
	snprintf(out, len, "%s", why[0] ? why : rep->status == -EOPNOTSUPP ?
		 "its moat cannot take checkpoints" : rep->status ? strerror(-rep->status)
		 : "the monitor sent no image stream");
}

int moat_ckpt_request(const char *cmd, const char *name, int kind, int *sock, char **manifest,
		      size_t *mlen, char *err, size_t errlen)
{
	int fd = moat_ctl_open(cmd, name), fds[2];
	*sock = -1;
	err[0] = 0;
	if (fd < 0)
		return -1;
	struct moat_ctl_reply rep;
	int r = moat_ctl_call_fds(fd, MOAT_CTL_CHECKPOINT, (uint32_t)kind, NULL, 0, &rep, fds, 2);
	int e = errno;
	close(fd);
	if (r < 0) {
		fprintf(stderr, "moat: %s: %s: %s\n", cmd, name,
			e == EAGAIN ? "its monitor did not answer" : strerror(e));
		return -1;
	}
	if (rep.status || fds[0] < 0 || fds[1] < 0) {
		char why[MOAT_CTL_PAYLOAD + 64];
		refusal(&rep, why, sizeof(why));
		fprintf(stderr, "moat: %s: %s: %s\n", cmd, name, why);
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return -1;
	}
	*sock = fds[0];
	r = read_manifest(fds[1], manifest, mlen, err, errlen);
	close(fds[1]);
	return r;
}

/* One request to NAME's monitor for a checkpoint under way, quietly (the
 * caller says the outcome in its own line), waiting at most wait_s for
 * the answer.  0, or -1 with "WHAT: why" in err. */
static int ctl_held(const char *name, uint16_t cmd, const char *what, int wait_s, int *fds,
		    int nfds, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	if (moat_ctl_dir(dir, sizeof(dir), err, errlen) < 0)
		return -1;
	int fd = moat_ctl_connect(dir, name);
	if (fd < 0) {
		snprintf(err, errlen, "%s: its control socket: %s", what, strerror(errno));
		return -1;
	}
	struct timeval tv = { wait_s, 0 };
	if (wait_s > 1)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct moat_ctl_reply rep;
	int r = moat_ctl_call_fds(fd, cmd, 0, NULL, 0, &rep, fds, nfds);
	int e = errno;
	close(fd);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", what, e == EAGAIN ? "its monitor did not answer"
			 : strerror(e));
		return -1;
	}
	if (rep.status) {
		char why[MOAT_CTL_PAYLOAD + 64];
		refusal(&rep, why, sizeof(why));
		snprintf(err, errlen, "%s: %s", what, why);
		for (int i = 0; i < nfds; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return -1;
	}
	return 0;
}

int moat_ctl_pause(const char *cmd, const char *name, char *err, size_t errlen)
{
	int none[1] = { -1 };
	(void)cmd;
	return ctl_held(name, MOAT_CTL_PAUSE, "the pause", 1, none, 0, err, errlen);
}

int moat_ctl_scratch(const char *name, struct moat_snap_blob *b, char *err, size_t errlen)
{
	int fd = -1;
	struct stat st;
	memset(b, 0, sizeof(*b));
	if (ctl_held(name, MOAT_CTL_SCRATCH, "its /tmp", SCRATCH_WAIT_S, &fd, 1, err, errlen) < 0)
		return -1;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0 ||
	    (uint64_t)st.st_size > MOAT_SNAP_MAX_SCRATCH) {
		snprintf(err, errlen, "its /tmp: the monitor sent no archive of it");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "its /tmp: mapping its archive: %s", strerror(errno));
		return -1;
	}
	b->data = p;
	b->len = (size_t)st.st_size;
	return 0;
}

void moat_snap_blob_free(struct moat_snap_blob *b)
{
	if (b->data)
		munmap((void *)b->data, b->len);
	memset(b, 0, sizeof(*b));
}

/* Ask for the checkpoint: our end of the stream and the manifest. */
static int request(struct ckpt *c)
{
	return moat_ckpt_request("checkpoint", c->name, 0, &c->sock, &c->manifest, &c->mlen,
				 c->err, sizeof(c->err));
}

static int parse_args(struct ckpt *c, int argc, char **argv, int *leave)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--leave-running")) {
			*leave = 1;
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			c->out = argv[++i];
		} else if (argv[i][0] != '-' && !c->name) {
			c->name = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	char err[256];
	size_t l = c->out ? strlen(c->out) : 0;
	if (!c->name || !c->out) {
		usage(stderr);
		return 2;
	}
	if (moat_ctl_name_check(c->name, err, sizeof(err)) < 0) {
		fprintf(stderr, "moat: checkpoint: invalid name: %s\n", err);
		return 2;
	}
	if (l <= 4 || strcmp(c->out + l - 4, ".mpk")) {
		fprintf(stderr, "moat: checkpoint: -o %s: a snapshot is a package; name it *.mpk\n",
			c->out);
		return 2;
	}
	return -1;
}

int moat_cmd_checkpoint(int argc, char **argv)
{
	struct ckpt c = { .sock = -1, .raw = -1 };
	int leave = 0, rc = parse_args(&c, argc, argv, &leave);
	if (rc >= 0)
		return rc;
	return moat_checkpoint_take(c.name, c.out, leave, NULL, NULL);
}

int moat_checkpoint_take(const char *name, const char *out, int leave,
			 int (*before_verdict)(const char *pkg, void *arg), void *arg)
{
	struct ckpt c = { .name = name, .out = out, .sock = -1, .raw = -1 };
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = 1;
	if (request(&c) < 0) {
		if (c.sock >= 0) {
			fprintf(stderr, "moat: checkpoint: %s: %s\n", c.name, c.err);
			verdict_all(&c, MOAT_SNAP_VERDICT_CONTINUE);
		}
		goto out;
	}
	char why[512];
	int ok = read_image(&c) == 0;
	if (ok && moat_snap_check(c.image, c.len, why, sizeof(why)) < 0) {
		snprintf(c.err, sizeof(c.err), "its checkpointer wrote a malformed image: %s", why);
		ok = 0;
	}
	if (ok && moat_snap_error_text(c.image, c.len, why, sizeof(why))) {
		snprintf(c.err, sizeof(c.err), "%s", why); /* it cannot be checkpointed */
		ok = 0;
	}
	/* The app is held for its verdict: its files stand still too. */
	ok = ok && moat_ctl_scratch(c.name, &c.scratch, c.err, sizeof(c.err)) == 0;
	ok = ok && write_package(&c) == 0;
	if (!ok) {
		fprintf(stderr, "moat: checkpoint: %s: %s\n", c.name, c.err);
		verdict_all(&c, MOAT_SNAP_VERDICT_CONTINUE);
		goto out;
	}
	/* A migration's source waits for its target to run. */
	if (before_verdict && before_verdict(c.out, arg) < 0) {
		verdict_all(&c, MOAT_SNAP_VERDICT_CONTINUE);
		goto out;
	}
	/* Written and renamed into place: now it may end. */
	if (verdict_all(&c, leave ? MOAT_SNAP_VERDICT_CONTINUE : MOAT_SNAP_VERDICT_END) < 0)
		fprintf(stderr, "moat: checkpoint: %s: the snapshot is written, but the picoprocess "
			"did not wait for its verdict (%s)\n", c.name, strerror(errno));
	struct moat_snap_info info = { 0 }, one;
	size_t off = sizeof(struct moat_snap_header);
	for (const struct moat_snap_rec *r; (r = moat_snap_next(c.image, c.len, &off));)
		if (r->type == MOAT_SNAP_INFO) { /* memory: of every process */
			memcpy(&one, r + 1, sizeof(one));
			info.memory += one.memory;
		}
	struct stat st;
	if (stat(c.out, &st) < 0)
		st.st_size = 0;
	/* on stderr, as every "moat:" line: stdout stays the app's and the tools' data */
	if (!before_verdict)
		fprintf(stderr, "moat: checkpoint: %s: %s (%" PRIu64 " bytes of memory, %lld bytes "
			"on disk, %ld ms)\n", c.name, c.out, info.memory, (long long)st.st_size,
			ms_since(&t0));
	rc = 0;
out:
	moat_snap_blob_free(&c.scratch);
	moat_tree_close(&c.tree);
	if (c.image)
		munmap(c.image, c.len);
	if (c.raw >= 0)
		close(c.raw);
	if (c.sock >= 0)
		close(c.sock);
	free(c.manifest);
	return rc;
}

/* ---- moat inspect SNAP.mpk: what a snapshot holds ---- */

static const char *origin_name(uint32_t o)
{
	static const char *const names[] = { "?", "opened", "pipe-read", "pipe-write", "duplex",
					     "closed" };
	return o < sizeof(names) / sizeof(names[0]) ? names[o] : "?";
}

/* Print at most 'n' bytes of untrusted text, escaped. */
static void put_bytes(const unsigned char *b, size_t n)
{
	char s[512];
	size_t k = n < sizeof(s) - 1 ? n : sizeof(s) - 1;
	memcpy(s, b, k);
	s[k] = 0;
	moat_put_escaped(stdout, s);
	if (k < n)
		fputs("...", stdout);
}

static void put_process(const struct moat_snap_rec *r)
{
	struct moat_snap_process p;
	memcpy(&p, r + 1, sizeof(p));
	unsigned live = 0, ended = 0;
	for (uint32_t i = 0; i < p.nchildren; i++) {
		struct moat_snap_child c;
		memcpy(&c, (const char *)(r + 1) + sizeof(p) + i * sizeof(c), sizeof(c));
		c.ended ? ended++ : live++;
	}
	printf("  process:    %d (parent %d, group %d; children: %u running, %u ended, "
	       "not waited for)\n", p.pid, p.ppid, p.pgid, live, ended);
}

static void put_record(const struct moat_snap_rec *r)
{
	if (r->type == MOAT_SNAP_PROCESS) {
		put_process(r);
	} else if (r->type == MOAT_SNAP_INFO) {
		struct moat_snap_info info;
		memcpy(&info, r + 1, sizeof(info));
		printf("  threads:    %u\n  regions:    %u\n  memory:     %llu bytes\n"
		       "  generation: %u\n  streams:    %u\n", info.nthreads, info.nregions,
		       (unsigned long long)info.memory, info.generation, info.nstreams);
	} else if (r->type == MOAT_SNAP_STREAM) {
		struct moat_snap_stream st;
		memcpy(&st, r + 1, sizeof(st));
		printf("    %5d %-10s ", st.handle, origin_name(st.origin));
		put_bytes((const unsigned char *)(r + 1) + sizeof(st), st.uri_len);
		if (st.buffered)
			printf(" (%llu bytes buffered)", (unsigned long long)st.buffered);
		printf("\n");
	}
}

int moat_inspect_snapshot(const char *file, const struct moat_manifest *m)
{
	struct moat_snap_loaded s;
	char err[1024];
	printf("snapshot:\n  taken:      ");
	moat_put_escaped(stdout, m->snap.taken ? m->snap.taken : "?");
	printf("\n  app:        ");
	moat_put_escaped(stdout, m->snap.app ? m->snap.app : "?");
	printf("\n  extensions: ");
	moat_put_escaped(stdout, m->snap.extensions ? m->snap.extensions : "?");
	printf("\n  moat-pico:  ");
	moat_put_escaped(stdout, m->snap.pico ? m->snap.pico : "?");
	printf("\n");
	fflush(stdout);
	if (moat_snap_load(file, m, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "moat inspect: %s\n", err);
		return -1;
	}
	size_t off = sizeof(struct moat_snap_header);
	const struct moat_snap_rec *r;
	char text[1024];
	if (moat_snap_error_text(s.image, s.len, text, sizeof(text)))
		printf("  error:      %s\n", text); /* escaped already */
	printf("  image:      %zu bytes, %llu compressed\n", s.len, (unsigned long long)s.zlen);
	if (s.scratch_fd < 0)
		printf("  scratch:    not carried (its /tmp was not saved)\n");
	else
		printf("  scratch:    %llu files, %llu bytes, %llu directories, %llu symlinks "
		       "(archive %llu bytes, %llu compressed)\n",
		       (unsigned long long)s.scratch.files, (unsigned long long)s.scratch.bytes,
		       (unsigned long long)s.scratch.dirs, (unsigned long long)s.scratch.links,
		       (unsigned long long)s.scratch_len, (unsigned long long)s.scratch_zlen);
	/* Records in order: each process (PROCESS, where a tree), its INFO,
	 * its streams. */
	while ((r = moat_snap_next(s.image, s.len, &off)))
		put_record(r);
	moat_snap_unload(&s);
	return 0;
}
