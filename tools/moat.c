/*
 * moat.c -- the command-line tool.
 *
 *   moat run [OPTIONS] MANIFEST [-- ARGS...]
 *   moat run [OPTIONS] APP.mpk [-- ARGS...]
 *   moat pack | inspect | verify ...   (tools/pack.c)
 *   moat trace summary FILE            (tools/trace_summary.c)
 *   moat run [OPTIONS] [--ro HOST[:VIRT]]... [--rw HOST[:VIRT]]... -- PROGRAM [ARGS...]
 *
 * The exit status is the program's, or 128+N if signal N ended it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "moat/control.h"
#include "moat/manifest.h"
#include "moat/monitor.h"
#include "moat/package.h"
#include "moat/snapshot.h"
#include "oci.h"
#include "tools.h"

#define ERR_LEN 512

static void usage(FILE *out)
{
	fprintf(out,
		"usage: moat run [OPTIONS] MANIFEST [-- ARGS...]\n"
		"       moat run [OPTIONS] APP.mpk [-- ARGS...]\n"
		"       moat run [OPTIONS] [--ro HOST[:VIRT]] [--rw HOST[:VIRT]] -- PROGRAM [ARGS...]\n"
		"\n"
		"Run a program in a picoprocess that can reach only what is granted.\n"
		"\n"
		"  --ro HOST[:VIRT]  grant HOST read-only, seen at VIRT (default: same path)\n"
		"  --rw HOST[:VIRT]  grant HOST read-write\n"
		"  --net VIRT=HOST   grant a network endpoint, e.g.\n"
		"                    tcp.server://0.0.0.0:8080=tcp.server://127.0.0.1:18080\n"
		"                    tcp.client://*:80=tcp.client://*:80\n"
		"                    udp.client://*:53=udp.client://127.0.0.1:53\n"
		"  --env NAME=VALUE  add to the program's environment\n"
		"  --cwd DIR         initial working directory inside (default /)\n"
		"  --user UID[:GID]  the identity the program sees (default 0:0, root);\n"
		"                    it grants nothing on the host\n"
		"  --accept-grants   give a package the host paths and network it requests\n"
		"                    (listed by 'moat inspect'; each is printed as granted)\n"
		"  --pkg-path DIRS   where to find a package's dependencies (colon-separated;\n"
		"                    default $MOAT_PKG_PATH, then the package's own folder)\n"
		"  --learn FILE      learn mode: the program may read anything it asks for;\n"
		"                    write a manifest granting exactly what it reached\n"
		"  --overlay DIR     keep writes to package paths in DIR (default: discarded)\n"
		"  --name NAME       register under NAME for 'moat ps', 'moat kill' and\n"
		"                    'moat checkpoint' (unique per user; letters, digits, . _ -)\n"
		"  --no-checkpoint   with --name: no checkpointer in the stack\n"
		"  --debug           show the picoprocess's debug log on stderr\n"
		"  --trace           also log every system call the program makes,\n"
		"                    and which syscall sites are rewritten\n"
		"  --no-rewrite      leave the program's syscall sites alone (every\n"
		"                    system call traps; also MOAT_NO_REWRITE=1)\n"
		"  --ext NAME[:OPTS] stack an extension on the ABI (repeatable, after the\n"
		"                    manifest's [Extensions], top first): trace, faults,\n"
		"                    record, replay, passthrough (docs/extensions.md)\n"
		"  -h, --help        this text\n"
		"\n"
		"       moat pack DIR -m MANIFEST -o APP.mpk\n"
		"       moat pack --from-host PROGRAM... [--add PATH]... -o APP.mpk ...\n"
		"       moat inspect APP.mpk   identity, dependencies, policy and files\n"
		"       moat verify APP.mpk    check every checksum\n"
		"       moat trace summary FILE  the strace -c table of a JSON trace\n"
		"       moat ps                list your named picoprocesses\n"
		"       moat kill NAME [SIGNAL]  signal one (default TERM)\n"
		"       moat checkpoint NAME -o SNAP.mpk [--leave-running]\n"
		"                              write its state; 'moat run SNAP.mpk' resumes it\n"
		"       moat migrate NAME --to HOST:PORT|unix:PATH\n"
		"                              move it, running, to a moat receive\n"
		"       moat receive --listen HOST:PORT|unix:PATH [RUN OPTIONS]\n"
		"                              take one migration and run it here\n"
		"       moat filter   print the host-syscall allowlist of every picoprocess\n");
}

static int fail(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "moat: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	return 2;
}

/* Find PROGRAM on the host PATH when it has no slash. */
int moat_find_program(const char *prog, char *out, size_t len)
{
	if (!prog[0]) { /* "" would name each $PATH directory itself */
		errno = ENOENT;
		return -1;
	}
	if (strchr(prog, '/')) {
		char abs[PATH_MAX];
		if (prog[0] == '/')
			snprintf(out, len, "%s", prog);
		else if (!getcwd(abs, sizeof(abs)) ||
			 snprintf(out, len, "%s/%s", abs, prog) >= (int)len)
			return -1;
		return access(out, F_OK);
	}
	const char *path = getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin";
	char *copy = strdup(path), *save = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char cand[PATH_MAX];
		struct stat st;
		snprintf(cand, sizeof(cand), "%s/%s", dir, prog);
		if (access(cand, X_OK) == 0 && stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
			snprintf(out, len, "%s", cand);
			free(copy);
			return 0;
		}
	}
	free(copy);
	return -1;
}

static int find_real_program(const char *name, char *out, size_t len)
{
	char found[PATH_MAX];
	if (moat_find_program(name, found, sizeof(found)) < 0 || !realpath(found, out))
		return -1;
	(void)len;
	return 0;
}

static int add_grant(struct moat_manifest *m, const char *spec, int writable)
{
	char host[PATH_MAX], err[ERR_LEN];
	const char *colon = strchr(spec, ':');
	const char *virt = colon ? colon + 1 : NULL;
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	if (n >= sizeof(host))
		return fail("--%s %s: path too long", writable ? "rw" : "ro", spec);
	memcpy(host, spec, n);
	host[n] = 0;
	if (moat_manifest_map(m, host, virt, writable, 0, err, sizeof(err)) < 0)
		return fail("--%s: %s", writable ? "rw" : "ro", err);
	return 0;
}

/* Is virtual path 'v' covered by a mapping? */
static int covered(const struct moat_manifest *m, const char *v)
{
	for (int i = 0; i < m->nmaps; i++) {
		size_t l = strlen(m->maps[i].vpath);
		if (!strcmp(m->maps[i].vpath, "/") ||
		    (!strncmp(v, m->maps[i].vpath, l) && (v[l] == '/' || !v[l])))
			return 1;
	}
	return 0;
}

static int quick_manifest(struct moat_manifest *m, char **args, int nargs)
{
	char prog[PATH_MAX], err[ERR_LEN];
	if (nargs < 1)
		return fail("run: no PROGRAM after --%s%s", "", "");
	if (!args[0][0])
		return fail("run: the PROGRAM name is empty%s%s", "", "");
	if (args[0][0] == '/' && covered(m, args[0])) {
		snprintf(prog, sizeof(prog), "%s", args[0]);
	} else {
		if (find_real_program(args[0], prog, sizeof(prog)) < 0)
			return fail("%s: program not found%s", args[0], "");
		if (!covered(m, prog) &&
		    moat_manifest_map(m, prog, NULL, 0, 0, err, sizeof(err)) < 0)
			return fail("%s: %s", args[0], err);
	}
	m->entry = strdup(prog);
	moat_manifest_set_args(m, args + 1, nargs - 1);
	free(m->argv[0]);
	m->argv[0] = strdup(args[0]);
	if (!getenv("MOAT_NO_DEFAULT_ENV")) {
		moat_manifest_add_env(m, "PATH=/usr/local/bin:/usr/bin:/bin");
		moat_manifest_add_env(m, "HOME=/");
	}
	return 0;
}

static int same_map(const struct moat_mapping *a, const struct moat_mapping *b)
{
	return a->writable == b->writable && !strcmp(a->vpath, b->vpath) &&
	       !strcmp(a->hpath, b->hpath);
}

static int same_net(const struct moat_net_mapping *a, const struct moat_net_mapping *b)
{
	return a->server == b->server && a->udp == b->udp && a->vaddr == b->vaddr &&
	       a->vport == b->vport && a->haddr == b->haddr && a->hport == b->hport;
}

/* Is grant i of 'req' (maps, then nets) also among the runner's own?
 * 1 if the same; 2 if the runner maps its virtual path differently. */
static int given_too(const struct moat_manifest *req, int i, const struct moat_manifest *given)
{
	for (int k = 0; i < req->nmaps && k < given->nmaps; k++)
		if (same_map(&req->maps[i], &given->maps[k]))
			return 1;
	for (int k = 0; i < req->nmaps && k < given->nmaps; k++)
		if (!strcmp(req->maps[i].vpath, given->maps[k].vpath))
			return 2;
	for (int k = 0; i >= req->nmaps && k < given->nnets; k++)
		if (same_net(&req->nets[i - req->nmaps], &given->nets[k]))
			return 1;
	return 0;
}

/* One line for request i: granted (accept), or not, and how to give it;
 * 'mine' when the runner maps the same virtual path another way. */
static void tell_request(const struct moat_manifest *pm, int i, const char *file, int accept,
			 int mine)
{
	/* Into memory first, then one write: stderr is unbuffered, and the
	 * escaped paths went out a byte a write (some 50 for one grant). */
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);
	FILE *out = f ? f : stderr;
	fputs("moat: ", out);
	moat_put_escaped(out, file);
	fputs(accept && !mine ? ": granted at its request (--accept-grants): " : ": requests ",
	      out);
	moat_put_grant(out, pm, i);
	fputs(mine ? ": not granted; your own --ro/--rw maps that path\n"
	      : accept ? "\n"
		       : ": not granted; give it with --ro/--rw/--net, or accept the package's"
			 " requests with --accept-grants\n",
	      out);
	if (f && fclose(f) == 0)
		fwrite(line, 1, len, stderr);
	free(line);
}

/* A package's [Namespace] grants are requests: a downloaded package must
 * not give itself the host.  Only the person running it grants: with
 * --ro/--rw/--net ('given'), or all the package asks for at once with
 * --accept-grants, each printed as it is granted.  Otherwise the package
 * gets none of them, and each one not given is named on its own line. */
static void settle_requests(struct moat_manifest *pm, struct moat_manifest *given,
			    const char *file, int accept)
{
	int nmaps = 0, nnets = 0;
	for (int i = 0; i < pm->nmaps + pm->nnets; i++) {
		int g = given_too(pm, i, given);
		if (g != 1)
			tell_request(pm, i, file, accept, g == 2);
		/* Kept if accepted, unless the runner gave it (or another
		 * mapping of its path) themselves. */
		int keep = accept && !g;
		if (i < pm->nmaps && keep)
			pm->maps[nmaps++] = pm->maps[i];
		else if (i < pm->nmaps)
			free(pm->maps[i].vpath), free(pm->maps[i].hpath);
		else if (keep)
			pm->nets[nnets++] = pm->nets[i - pm->nmaps];
	}
	pm->nmaps = nmaps;
	pm->nnets = nnets;
	/* The runner's own grants, on top (ownership moves to pm). */
	pm->maps = realloc(pm->maps, (size_t)(pm->nmaps + given->nmaps + 1) * sizeof(*pm->maps));
	if (given->nmaps)
		memcpy(pm->maps + pm->nmaps, given->maps, (size_t)given->nmaps * sizeof(*pm->maps));
	pm->nmaps += given->nmaps;
	given->nmaps = 0;
	pm->nets = realloc(pm->nets, (size_t)(pm->nnets + given->nnets + 1) * sizeof(*pm->nets));
	if (given->nnets)
		memcpy(pm->nets + pm->nnets, given->nets, (size_t)given->nnets * sizeof(*pm->nets));
	pm->nnets += given->nnets;
	given->nnets = 0;
}

/* One argument in the manifest's shell-like quoting.  ';' is escaped
 * too: after a blank it would start a comment. */
static void put_quoted(FILE *f, const char *arg)
{
	fputc('"', f);
	for (const char *c = arg; *c; c++) {
		if (*c == '"' || *c == '\\' || *c == ';')
			fputc('\\', f);
		fputc(*c, f);
	}
	fputc('"', f);
}

/* Write "key = value" if it reads back as itself; else say so on one
 * line and leave it out (a newline cannot be written in a manifest). */
static void put_value(FILE *f, const char *learn, const char *key, const char *value)
{
	if (moat_manifest_value_survives(value)) {
		fprintf(f, "%s = %s\n", key, value);
		return;
	}
	fprintf(stderr, "moat: learn mode: %s: left out [Application] %s, which holds a newline, "
		"blanks at its ends or ' ;' that a manifest line cannot hold\n", learn, key);
}

static void put_arguments(FILE *f, const char *learn, const struct moat_manifest *m)
{
	char *line = NULL;
	size_t len = 0;
	FILE *mf = open_memstream(&line, &len);
	if (!mf)
		return;
	for (int i = 1; i < m->argc; i++) {
		if (i > 1)
			fputc(' ', mf);
		put_quoted(mf, m->argv[i]);
	}
	fclose(mf);
	put_value(f, learn, "arguments", line);
	free(line);
}

/* The manifest learn mode writes: what was given, plus what was reached.
 * Paths are percent-encoded file URIs, so every name reads back as itself. */
static void write_learned(FILE *f, const char *learn, const struct moat_manifest *m,
			  struct moat_monitor *mon, int id)
{
	fputs("# Written by moat run --learn: grants what the app reached.\n"
	      "[Application]\nentry = ", f);
	moat_manifest_put_uri(f, m->entry);
	fputc('\n', f);
	if (m->argc > 1)
		put_arguments(f, learn, m);
	for (int i = 0; i < m->envc; i++)
		put_value(f, learn, "environment", m->env[i]);
	put_value(f, learn, "cwd", m->cwd);
	if (m->uid || m->gid)
		fprintf(f, "user = %d:%d\n", m->uid, m->gid);
	fputs("\n[Namespace]\n", f);
	for (int i = 0; i < m->nmaps; i++)
		if (!m->maps[i].writable)
			moat_manifest_put_map(f, m->maps[i].vpath, m->maps[i].hpath);
	moat_monitor_learned(mon, id, f);
	fputs("\n[Namespace.Writable]\n", f);
	for (int i = 0; i < m->nmaps; i++)
		if (m->maps[i].writable)
			moat_manifest_put_map(f, m->maps[i].vpath, m->maps[i].hpath);
	for (int i = 0; i < m->nnets; i++) {
		const struct moat_net_mapping *n = &m->nets[i];
		moat_manifest_put_net(f, n);
		fputc('\n', f);
	}
}

static int beneath_host(const char *path, const char *h)
{
	size_t l = strlen(h);
	return !strcmp(h, "/") || (!strncmp(path, h, l) && (path[l] == '/' || !path[l]));
}

/* The writable grant whose host object is 'st', or NULL. */
static const char *grant_of(const struct moat_manifest *m, const struct stat *st)
{
	struct stat g;
	for (int i = 0; i < m->nmaps; i++)
		if (m->maps[i].writable && stat(m->maps[i].hpath, &g) == 0 &&
		    g.st_dev == st->st_dev && g.st_ino == st->st_ino)
			return m->maps[i].hpath;
	return NULL;
}

/* learn_in_reach by identity, not by name: a bind mount shows a grant's
 * folder under another path (same device and inode), where the program
 * could rename the learned manifest away and write its own in its place.
 * From the folder 'dir' up through "..", and the file itself. */
static const char *grant_by_identity(const struct moat_manifest *m, const char *dir,
				     const char *file)
{
	struct stat st, up;
	const char *g = NULL;
	if (file && stat(file, &st) == 0 && (g = grant_of(m, &st)))
		return g;
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (int depth = 0; fd >= 0 && depth < PATH_MAX / 2 && !g; depth++) {
		if (fstat(fd, &st) < 0)
			break;
		g = grant_of(m, &st);
		int next = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = next;
		if (fd >= 0 && fstat(fd, &up) == 0 && up.st_dev == st.st_dev && up.st_ino == st.st_ino)
			break; /* "/" */
	}
	if (fd >= 0)
		close(fd);
	return g;
}

/* The learned manifest must be out of the program's reach until it is
 * run: inside a writable grant the program could write the rest of it
 * (a [Namespace.Writable] of its own after what moat writes), or put
 * another file in its place.  The writable grant holding 'learn', or NULL. */
static const char *learn_in_reach(const struct moat_manifest *m, const char *learn)
{
	char copy[PATH_MAX], dir[PATH_MAX], file[2 * PATH_MAX], real[PATH_MAX];
	snprintf(copy, sizeof(copy), "%s", learn);
	char *slash = strrchr(copy, '/');
	const char *base = slash ? slash + 1 : copy;
	if (slash)
		*slash = 0;
	if (!realpath(slash ? (copy[0] ? copy : "/") : ".", dir))
		return NULL; /* fopen will say why */
	snprintf(file, sizeof(file), "%s/%s", strcmp(dir, "/") ? dir : "", base);
	int exists = realpath(learn, real) != NULL;
	for (int i = 0; i < m->nmaps; i++)
		if (m->maps[i].writable && (beneath_host(file, m->maps[i].hpath) ||
					   (exists && beneath_host(real, m->maps[i].hpath))))
			return m->maps[i].hpath;
	return grant_by_identity(m, dir, exists ? real : NULL);
}

/* --ext NAME[:OPTIONS], after the manifest's [Extensions]. */
static int add_exts(struct moat_manifest *m, char **exts, int n)
{
	char err[ERR_LEN], name[64];
	for (int i = 0; i < n; i++) {
		const char *colon = strchr(exts[i], ':');
		size_t len = colon ? (size_t)(colon - exts[i]) : strlen(exts[i]);
		snprintf(name, sizeof(name), "%.*s", (int)len, exts[i]);
		if (moat_manifest_add_ext(m, name, colon ? colon + 1 : "", err, sizeof(err)) < 0)
			return fail("--ext %s%s", err, "");
	}
	return 0;
}

static int has_ext(const struct moat_manifest *m, const char *name)
{
	for (int i = 0; i < m->nexts; i++)
		if (!strcmp(m->exts[i].name, name))
			return 1;
	return 0;
}

/* The checkpointer on top of the stack (nearest the LibOS): it must see
 * every downcall the LibOS makes, above any other layer. */
static int add_checkpointer(struct moat_manifest *m, const char *options)
{
	char err[ERR_LEN];
	if (has_ext(m, "ckpt"))
		return 0;
	if (moat_manifest_add_ext(m, "ckpt", options, err, sizeof(err)) < 0)
		return fail("checkpointer: %s%s", err, "");
	struct moat_ext_choice top = m->exts[m->nexts - 1];
	memmove(m->exts + 1, m->exts, (size_t)(m->nexts - 1) * sizeof(*m->exts));
	m->exts[0] = top;
	return 0;
}

static int add_recorded(void *ctx, const char *name, const char *options)
{
	char err[ERR_LEN];
	struct moat_manifest *m = ctx;
	if (moat_manifest_add_ext(m, name, strcmp(name, "ckpt") ? options : "resume", err,
				  sizeof(err)) < 0) {
		fprintf(stderr, "moat: %s: [Snapshot] extensions: %s\n", m->source, err);
		return -1;
	}
	return 0;
}

/* moat receive's socket, over which the image, its base and saved /tmp
 * come once the stream has ended (moat_run_later), or -1: the image is
 * read from the package. */
static int later_fd = -1;

void moat_run_later(int fd)
{
	later_fd = fd;
}

/* A snapshot package (its manifest has [Snapshot]): check that this
 * moat-pico took it and that its image is whole, drop its own layer (the
 * image is no file of the app's), and rebuild the extension stack it
 * was taken with, the checkpointer resuming.  0, or the exit status. */
static int prepare_resume(struct moat_manifest *m, const char *file, int nexts, int nargs,
			  struct moat_snap_loaded *snap)
{
	char pico[PATH_MAX + 32], hash[33], err[ERR_LEN];
	if (nexts)
		return fail("%s: --ext: a snapshot resumes with the extensions it was taken with; "
			    "leave --ext out%s", file, "");
	if (nargs)
		return fail("%s: a snapshot resumes where it stopped; it takes no arguments%s", file,
			    "");
	moat_pico_default(pico, sizeof(pico));
	if (moat_snap_file_hash(pico, hash) < 0)
		return fail("%s: %s", pico, strerror(errno));
	if (!m->snap.pico || strcmp(m->snap.pico, hash))
		return fail("%s: taken by another build of moat-pico; resume it with that build%s",
			    file, "");
	if (!m->snap.extensions)
		return fail("%s: [Snapshot] extensions: missing%s", file, "");
	/* Handed over later: moat receive checked it as moat_snap_load
	 * would, and the picoprocess starts meanwhile. */
	if (later_fd < 0 && moat_snap_load(file, m, snap, err, sizeof(err)) < 0)
		return fail("%s%s", err, "");
	if (later_fd < 0 && moat_snap_error_text(snap->image, snap->len, err, sizeof(err)))
		return fail("%s: holds no state to resume: its checkpoint failed: %s", file, err);
	if (m->nlayers > 0) { /* the snapshot itself, on top of its dependencies */
		free(m->layers[--m->nlayers]);
		m->layers[m->nlayers] = NULL;
	}
	for (int i = 0; i < m->nexts; i++) {
		free(m->exts[i].name);
		free(m->exts[i].options);
	}
	m->nexts = 0;
	if (moat_snap_ext_decode(m->snap.extensions, add_recorded, m) < 0)
		return fail("%s: [Snapshot] extensions: malformed%s", file, "");
	return add_checkpointer(m, "resume");
}

/* running_fd: moat receive's (tools/migrate.c), or -1. */
static int cmd_run(int argc, char **argv, int running_fd)
{
	static const struct option opts[] = {
		{ "ro", required_argument, 0, 'r' },
		{ "rw", required_argument, 0, 'w' },
		{ "env", required_argument, 0, 'e' },
		{ "net", required_argument, 0, 'n' },
		{ "user", required_argument, 0, 'u' },
		{ "cwd", required_argument, 0, 'c' },
		{ "pkg-path", required_argument, 0, 'P' },
		{ "overlay", required_argument, 0, 'O' },
		{ "learn", required_argument, 0, 'L' },
		{ "debug", no_argument, 0, 'd' },
		{ "trace", no_argument, 0, 't' },
		{ "no-rewrite", no_argument, 0, 'R' },
		{ "accept-grants", no_argument, 0, 'A' },
		{ "ext", required_argument, 0, 'x' },
		{ "name", required_argument, 0, 'N' },
		{ "no-checkpoint", no_argument, 0, 'K' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct moat_manifest m;
	struct moat_launch_options lo = { 0 };
	const char *nr_env = getenv("MOAT_NO_REWRITE");
	lo.no_rewrite = nr_env && *nr_env && strcmp(nr_env, "0") != 0;
	char err[ERR_LEN];
	char **envs = calloc((size_t)argc, sizeof(char *));
	char **exts = calloc((size_t)argc, sizeof(char *));
	int nexts = 0;
	int nenv = 0, quick = 0, rc = 2, accept = 0, no_ckpt = 0;
	struct moat_snap_loaded snap = { .memfd = -1, .scratch_fd = -1, .base_fd = -1 };
	const char *cwd = NULL, *user = NULL, *pkg_path = getenv("MOAT_PKG_PATH"), *overlay = NULL,
		   *learn = NULL, *name = NULL;

	moat_manifest_init(&m, "command line");
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': case 'w':
			quick = 1;
			if (add_grant(&m, optarg, c == 'w'))
				goto out;
			break;
		case 'e':
			if (!strchr(optarg, '=')) {
				rc = fail("--env %s: expected NAME=VALUE%s", optarg, "");
				goto out;
			}
			envs[nenv++] = optarg;
			break;
		case 'n': {
			char *eq = strchr(optarg, '=');
			quick = 1;
			if (eq)
				*eq = 0;
			if (!eq || moat_manifest_net(&m, optarg, eq + 1, 0, err, sizeof(err)) < 0) {
				rc = fail("--net: %s%s", eq ? err : "expected VIRT=HOST", "");
				goto out;
			}
			break;
		}
		case 'P': pkg_path = optarg; break;
		case 'O': overlay = optarg; break;
		case 'L': learn = optarg; break;
		case 'u': user = optarg; break;
		case 'c': cwd = optarg; break;
		case 'd': lo.debug = 1; break;
		case 't': lo.trace = 1; break;
		case 'R': lo.no_rewrite = 1; break;
		case 'A': accept = 1; break;
		case 'x': exts[nexts++] = optarg; break;
		case 'K': no_ckpt = 1; break;
		case 'N':
			name = optarg;
			if (moat_ctl_name_check(name, err, sizeof(err)) < 0) {
				rc = fail("--name: %s%s", err, "");
				goto out;
			}
			break;
		case 'h': usage(stdout); rc = 0; goto out;
		default: usage(stderr); goto out;
		}
	}
	int dashdash = optind > 1 && !strcmp(argv[optind - 1], "--");
	size_t alen = optind < argc ? strlen(argv[optind]) : 0;
	/* APP.mpk, with or without the runner's own --ro/--rw/--net */
	int is_pkg = !dashdash && alen > 4 && !strcmp(argv[optind] + alen - 4, ".mpk");
	if (accept && !is_pkg) {
		rc = fail("--accept-grants: accepts what a package requests; give APP.mpk%s%s", "", "");
		goto out;
	}
	if (is_pkg) {
		struct moat_manifest given = m;
		int r = moat_packages_resolve(argv[optind], pkg_path, &m, err, sizeof(err));
		if (r < 0) {
			moat_manifest_init(&m, "command line"); /* the failed one is freed */
			moat_manifest_free(&given);
			fprintf(stderr, "moat: %s\n", err);
			goto out;
		}
		if (learn) {
			moat_manifest_free(&given);
			rc = fail("--learn: works with a manifest or the command-line form, not with a package such as %s%s",
				  argv[optind], "");
			goto out;
		}
		if (!m.entry) {
			moat_manifest_free(&given);
			rc = fail("%s: the package has no [Application] entry to run%s", argv[optind], "");
			goto out;
		}
		const char *file = argv[optind++];
		if (optind < argc && !strcmp(argv[optind], "--"))
			optind++;
		if (m.is_snapshot && (rc = prepare_resume(&m, file, nexts, argc - optind, &snap))) {
			moat_manifest_free(&given);
			goto out;
		}
		rc = 2;
		settle_requests(&m, &given, file, accept);
		moat_manifest_free(&given);
		if (optind < argc)
			moat_manifest_set_args(&m, argv + optind, argc - optind);
	} else if (quick || dashdash) {
		if (!dashdash && optind < argc && !quick) {
			usage(stderr);
			goto out;
		}
		if (quick_manifest(&m, argv + optind, argc - optind))
			goto out;
	} else {
		if (optind >= argc) {
			usage(stderr);
			goto out;
		}
		moat_manifest_free(&m);
		if (moat_manifest_load(argv[optind], &m, err, sizeof(err)) < 0) {
			fprintf(stderr, "moat: %s\n", err);
			goto out;
		}
		if (m.ignored) /* [Windows.Registry] and the like */
			fprintf(stderr, "moat: note: %s\n", m.ignored);
		optind++;
		if (optind < argc && !strcmp(argv[optind], "--"))
			optind++;
		if (optind < argc)
			moat_manifest_set_args(&m, argv + optind, argc - optind);
	}
	for (int i = 0; i < nenv; i++)
		moat_manifest_add_env(&m, envs[i]);
	if (add_exts(&m, exts, nexts))
		goto out;
	if (name && !no_ckpt && add_checkpointer(&m, ""))
		goto out;
	if (no_ckpt && !name) {
		rc = fail("--no-checkpoint: goes with --name (only a named picoprocess can be "
			  "checkpointed)%s%s", "", "");
		goto out;
	}
	if (snap.memfd >= 0) {
		lo.has_resume = 1;
		lo.resume_fd = snap.memfd;
		lo.has_base = snap.base_fd >= 0; /* the pages a REF image names */
		lo.base_fd = snap.base_fd;
		lo.has_scratch = snap.scratch_fd >= 0; /* its /tmp, back before it runs */
		lo.scratch_fd = snap.scratch_fd;
	} else if (m.is_snapshot && later_fd >= 0) {
		lo.has_resume = lo.has_later = 1;
		lo.later_fd = later_fd;
	}
	if (lo.has_resume) {
		lo.has_running = running_fd >= 0;
		lo.running_fd = running_fd;
	}
	if (overlay) {
		char abs[PATH_MAX];
		if (!realpath(overlay, abs)) {
			rc = fail("--overlay %s: %s", overlay, strerror(errno));
			goto out;
		}
		free(m.overlay);
		m.overlay = strdup(abs);
	}
	if (cwd) {
		free(m.cwd);
		m.cwd = strdup(cwd);
	}
	if (user && moat_manifest_set_user(&m, user) < 0) {
		rc = fail("--user %s: expected UID or UID:GID (numbers up to 65535)%s", user, "");
		goto out;
	}

	FILE *learned = NULL;
	const char *grant = learn ? learn_in_reach(&m, learn) : NULL;
	if (!grant && learn && !(learned = fopen(learn, "w"))) {
		rc = fail("--learn %s: %s", learn, strerror(errno));
		goto out;
	}
	/* Again once it exists: a link to a new file resolves only then. */
	if (!grant && learn)
		grant = learn_in_reach(&m, learn);
	if (grant) {
		if (learned)
			fclose(learned);
		rc = fail("--learn %s: inside the writable grant of %s, where the program could "
			  "change it before it is run; write it elsewhere", learn, grant);
		goto out;
	}
	lo.learn = learn != NULL;
	struct moat_monitor *mon = moat_monitor_new();
	if (!mon) {
		rc = fail("cannot start the monitor: %s%s", strerror(errno), "");
		if (learned) {
			fclose(learned);
			unlink(learn);
		}
		goto out;
	}
	if (name && moat_monitor_name(mon, name, err, sizeof(err)) < 0) {
		fprintf(stderr, "moat: %s\n", err);
		moat_monitor_free(mon);
		if (learned) {
			fclose(learned);
			unlink(learn);
		}
		goto out; /* rc 2 */
	}
	int id = moat_monitor_launch(mon, &m, &lo, err, sizeof(err));
	if (running_fd >= 0) /* the monitor holds its own copy: ours would hide its end */
		close(running_fd);
	running_fd = -1;
	if (later_fd >= 0) /* the same */
		close(later_fd);
	later_fd = -1;
	if (id < 0) {
		fprintf(stderr, "moat: %s\n", err);
		moat_monitor_free(mon);
		if (learned) {
			fclose(learned);
			unlink(learn);
		}
		rc = 125;
		goto out;
	}
	/* Ctrl-C, kill, hang-up: the program gets them, and moat still
	 * cleans up after it. */
	struct sigaction sa = { .sa_handler = moat_monitor_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* and the ones servers are run with: nginx's graceful stop, log
	 * reopening and binary upgrade */
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	moat_monitor_run(mon);
	const struct moat_exit *e = moat_monitor_exit(mon, id);
	if (e->reason[0])
		fprintf(stderr, "moat: %s\n", e->reason);
	rc = moat_exit_status(e);
	if (learned) {
		write_learned(learned, learn, &m, mon, id);
		fprintf(stderr, "moat: learn mode: wrote %s\n", learn);
		fclose(learned);
	}
	moat_monitor_free(mon);
out:
	if (running_fd >= 0)
		close(running_fd);
	moat_snap_unload(&snap);
	free(envs);
	free(exts);
	moat_manifest_free(&m);
	return rc;
}

int moat_run_main(int argc, char **argv, int running_fd)
{
	return cmd_run(argc, argv, running_fd);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (moat_oci_claims(argc, argv)) /* runc's command line (tools/oci.c) */
		return moat_cmd_oci(argc, argv);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1, -1);
	if (!strcmp(argv[1], "migrate"))
		return moat_cmd_migrate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "receive"))
		return moat_cmd_receive(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pack"))
		return moat_cmd_pack(argc - 1, argv + 1);
	if (!strcmp(argv[1], "inspect"))
		return moat_cmd_inspect(argc - 1, argv + 1);
	if (!strcmp(argv[1], "trace"))
		return moat_cmd_trace(argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify"))
		return moat_cmd_verify(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ps"))
		return moat_cmd_ps(argc - 1, argv + 1);
	if (!strcmp(argv[1], "kill"))
		return moat_cmd_kill(argc - 1, argv + 1);
	if (!strcmp(argv[1], "checkpoint"))
		return moat_cmd_checkpoint(argc - 1, argv + 1);
	if (!strcmp(argv[1], "filter")) {
		printf("# every host call must also come from the PAL gate at 0x6f0000000000;\n"
		       "# any other 'syscall' traps to the LibOS (SECCOMP_RET_TRAP)\n");
		fflush(stdout);
		return moat_filter_print(1) < 0 ? 1 : 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("moat 0.1\n");
		return 0;
	}
	fprintf(stderr, "moat: unknown command '%s'; try 'moat --help'\n", argv[1]);
	return 2;
}
