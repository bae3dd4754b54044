/*
 * oci.c -- moat as an OCI runtime: the command line runc answers.
 *
 *   moat [--root DIR] [--log FILE] [--log-format json|text] [--systemd-cgroup]
 *        create --bundle DIR [--pid-file F] [--console-socket S] ID
 *        start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID
 *        run --bundle DIR [--pid-file F] [--detach] ID | ps [--format json] ID
 *        features
 *
 * create reads the bundle's config.json into a moat manifest (the
 * container's root becomes the picoprocess's "/", its bind mounts grants)
 * and forks the container's process: a moat monitor, whose pid goes to
 * --pid-file.  It waits on the exec FIFO in the state directory until
 * start opens it (as runc's init does), then launches the picoprocess
 * and ends with its status (or its signal), so the caller that waits on
 * the pid sees the app's end.  The state of each container is a
 * directory ROOT/ID (mode 0700) holding state.json and, until start,
 * exec.fifo; both are checked as hostile input when read back.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "moat/manifest.h"
#include "moat/monitor.h"
#include "oci.h"

#define OCI_VERSION "1.0.2"
#define CONFIG_MAX (4 << 20)  /* config.json: podman's are some 20 KiB */
#define STATE_MAX (1 << 20)
#define LIST_MAX 4096         /* args, env, mounts, rlimits */
#define STR_MAX (128 << 10)   /* one string of config.json */
#define ID_MAX 255

/* The global options, and where errors and reports go. */
static struct {
	const char *root;
	const char *log;
	int log_json;
	int log_fd;
} g = { .log_fd = -1 };

/* One log line: JSON {"level","msg","time"} as runc writes with
 * --log-format json (containerd and conmon read the last error there),
 * or text. */
static void log_line(const char *level, const char *msg)
{
	if (g.log_fd < 0)
		return;
	char when[64];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	char *line = NULL;
	if (g.log_json) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", when);
		line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
	} else if (asprintf(&line, "time=\"%s\" level=%s msg=\"%s\"", when, level, msg) < 0) {
		line = NULL;
	}
	if (line && dprintf(g.log_fd, "%s\n", line) < 0) {
		/* nowhere else to say it */
	}
	free(line);
}

/* An error: one line on stderr, "moat: ...", and in the log. */
static int oci_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int oci_err(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "moat: %s\n", msg);
	log_line("error", msg);
	return 1;
}

/* What config.json asks that moat cannot honour (and that, left out,
 * widens nothing): one line naming the field, in the log when there is
 * one (podman and containerd always give one), else on stderr. */
static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g.log_fd >= 0)
		log_line("warning", msg);
	else
		fprintf(stderr, "moat: warning: %s\n", msg);
}

/* ---- the state directory ---- */

static int id_ok(const char *id)
{
	size_t n = strlen(id);
	if (!n || n > ID_MAX || !strcmp(id, ".") || !strcmp(id, ".."))
		return 0;
	for (const char *c = id; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_+.-", *c))
			return 0;
	return 1;
}

/* A directory of ours that no one else may write: owned by us, not a
 * link, no group or other write. */
static int dir_trusted(int fd, const char *what)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return oci_err("%s: %s", what, strerror(errno)), 0;
	if (st.st_uid != geteuid())
		return oci_err("%s: owned by uid %u, not by us; refusing it", what,
			       (unsigned)st.st_uid), 0;
	if (st.st_mode & 022)
		return oci_err("%s: writable by others (mode %03o); refusing it", what,
			       (unsigned)(st.st_mode & 0777)), 0;
	return 1;
}

/* mkdir -p the root (the last part 0700), then open it; -1 if unusable. */
static int open_root(int make)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s", g.root) >= (int)sizeof(path) || g.root[0] != '/')
		return oci_err("--root %s: expected an absolute path", g.root), -1;
	for (char *s = path + 1; make && (s = strchr(s, '/')); s++) {
		*s = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return oci_err("--root %s: %s: %s", g.root, path, strerror(errno)), -1;
		*s = '/';
	}
	if (make && mkdir(path, 0700) < 0 && errno != EEXIST)
		return oci_err("--root %s: %s", g.root, strerror(errno)), -1;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return oci_err("--root %s: %s", g.root, strerror(errno)), -1;
	if (!dir_trusted(fd, g.root)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The container's directory under the root: -1 (said) if there is none
 * or it is not ours. */
static int open_container(int rootfd, const char *id)
{
	if (!id_ok(id))
		return oci_err("invalid container id \"%.300s\": letters, digits and _+.- only, "
			       "at most %d", id, ID_MAX), -1;
	int fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
		return oci_err("container \"%s\" does not exist", id), -1;
	if (fd < 0)
		return oci_err("container \"%s\": %s", id, strerror(errno)), -1;
	char what[PATH_MAX + 300];
	snprintf(what, sizeof(what), "state of container \"%s\"", id);
	if (!dir_trusted(fd, what)) {
		close(fd);
		return -1;
	}
	return fd;
}

struct cstate {
	char id[ID_MAX + 1];
	pid_t pid;
	unsigned long long start;  /* the pid's start time: a reused pid is not ours */
	char bundle[PATH_MAX];
	char created[64];
	json_t *annotations;       /* an object of strings */
	int dirfd;
};

/* Read a file of at most 'max' bytes under dirfd: a regular file, not a
 * link, whole.  malloc'd and NUL-ended, or NULL with errno. */
static char *read_small(int dirfd, const char *name, size_t max, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		close(fd);
		errno = fd >= 0 && S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		return NULL;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!buf || got != (size_t)st.st_size) {
		free(buf);
		errno = EIO;
		return NULL;
	}
	buf[got] = 0;
	*len = got;
	return buf;
}

static int annotations_ok(json_t *a)
{
	const char *k;
	json_t *v;
	if (!json_is_object(a) || json_object_size(a) > LIST_MAX)
		return 0;
	json_object_foreach(a, k, v)
		if (!json_is_string(v) || json_string_length(v) > STR_MAX)
			return 0;
	return 1;
}

/* Load and check ROOT/ID/state.json.  0, or 1 said. */
static int state_load(int rootfd, const char *id, struct cstate *s)
{
	memset(s, 0, sizeof(*s));
	s->dirfd = open_container(rootfd, id);
	if (s->dirfd < 0)
		return 1;
	size_t len;
	char *text = read_small(s->dirfd, "state.json", STATE_MAX, &len);
	if (!text)
		return oci_err("state of container \"%s\" is unreadable: %s", id, strerror(errno));
	json_error_t je;
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	free(text);
	json_t *pid = json_object_get(o, "pid"), *start = json_object_get(o, "pidStart");
	json_t *jid = json_object_get(o, "id"), *bundle = json_object_get(o, "bundle");
	json_t *created = json_object_get(o, "created"), *ann = json_object_get(o, "annotations");
	int ok = json_is_object(o) && json_is_integer(pid) && json_integer_value(pid) > 1 &&
		 json_integer_value(pid) <= INT_MAX && json_is_integer(start) &&
		 json_integer_value(start) >= 0 && json_is_string(jid) &&
		 !strcmp(json_string_value(jid), id) && json_is_string(bundle) &&
		 json_string_value(bundle)[0] == '/' &&
		 json_string_length(bundle) < sizeof(s->bundle) && json_is_string(created) &&
		 json_string_length(created) < sizeof(s->created) && annotations_ok(ann);
	if (!ok) {
		json_decref(o);
		return oci_err("state of container \"%s\" is corrupt (%s/%s/state.json); refusing it",
			       id, g.root, id);
	}
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->pid = (pid_t)json_integer_value(pid);
	s->start = (unsigned long long)json_integer_value(start);
	snprintf(s->bundle, sizeof(s->bundle), "%s", json_string_value(bundle));
	snprintf(s->created, sizeof(s->created), "%s", json_string_value(created));
	s->annotations = json_incref(ann);
	json_decref(o);
	return 0;
}

static void state_free(struct cstate *s)
{
	json_decref(s->annotations);
	s->annotations = NULL;
	if (s->dirfd >= 0)
		close(s->dirfd);
	s->dirfd = -1;
}

/* Field 22 of /proc/PID/stat (start time) and the state letter; -1 if
 * the process is gone. */
static int proc_stat(pid_t pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
			 "%*d %*d %*d %*d %llu", state, start) != 2)
		return -1;
	return 0;
}

/* Our monitor still there (not a zombie, not a reused pid)? */
static int alive(const struct cstate *s)
{
	char st;
	unsigned long long start;
	return proc_stat(s->pid, &st, &start) == 0 && start == s->start && st != 'Z' && st != 'X';
}

static const char *status_of(const struct cstate *s)
{
	struct stat st;
	if (!alive(s))
		return "stopped";
	return fstatat(s->dirfd, "exec.fifo", &st, AT_SYMLINK_NOFOLLOW) == 0 ? "created"
									  : "running";
}

/* Remove a tree without following links (a container's tmpfs dirs hold
 * what it wrote). */
static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)f;
	if ((flag == FTW_DP ? rmdir(p) : unlink(p)) < 0 && errno != ENOENT)
		return 0; /* go on; the final rmdir says it */
	return 0;
}

static int remove_container(int rootfd, const char *id)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", g.root, id);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	if (unlinkat(rootfd, id, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return oci_err("delete %s: %s: %s", id, path, strerror(errno));
	return 0;
}

/* ---- config.json into a manifest ---- */

struct cfg {
	json_t *doc;
	char bundle[PATH_MAX];
	char rootfs[PATH_MAX];
	char statedir[PATH_MAX];   /* ROOT/ID, for tmpfs mounts */
	json_t *annotations;
	int ntmpfs;
};

/* A string member: NULL if absent; *bad set (said) if present but not a
 * string, too long or holding a NUL (jansson refuses \u0000 already). */
static const char *get_str(json_t *o, const char *key, const char *field, int *bad)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return NULL;
	if (!json_is_string(v) || json_string_length(v) > STR_MAX) {
		*bad = oci_err("config.json: %s: expected a string (at most %d bytes)", field, STR_MAX);
		return NULL;
	}
	return json_string_value(v);
}

/* An array of strings (or absent: n = 0). */
static int get_strs(json_t *o, const char *key, const char *field, const char ***out, size_t *n)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;
	*out = NULL;
	*n = 0;
	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > LIST_MAX)
		return oci_err("config.json: %s: expected an array of at most %d strings", field,
			       LIST_MAX);
	*out = calloc(json_array_size(a) + 1, sizeof(char *));
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || json_string_length(v) > STR_MAX) {
			free(*out);
			*out = NULL;
			return oci_err("config.json: %s[%zu]: expected a string", field, i);
		}
		(*out)[i] = json_string_value(v);
	}
	*n = json_array_size(a);
	return 0;
}

/* An integer member in [lo, hi]; 0 if absent (*set 0). */
static int get_int(json_t *o, const char *key, const char *field, long long lo, long long hi,
		   long long *val, int *set)
{
	json_t *v = json_object_get(o, key);
	*set = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return oci_err("config.json: %s: expected an integer from %lld to %lld", field, lo,
			       hi);
	*val = json_integer_value(v);
	*set = 1;
	return 0;
}

static int obj_or_absent(json_t *v, const char *field)
{
	if (v && !json_is_object(v))
		return oci_err("config.json: %s: expected an object", field);
	return 0;
}

/* A path from config.json made absolute against the bundle. */
static int bundle_path(const struct cfg *c, const char *p, char *out, size_t len)
{
	int n = p[0] == '/' ? snprintf(out, len, "%s", p) : snprintf(out, len, "%s/%s", c->bundle, p);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int has_opt(const char **opts, size_t n, const char *want)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(opts[i], want))
			return 1;
	return 0;
}

/* /proc, /sys and /dev are the LibOS's own: what an engine mounts there
 * (proc, sysfs, devpts, mqueue, cgroup, a tmpfs /dev, the /dev/shm) is
 * already inside, and nothing else is. */
static int libos_own(const char *dest)
{
	static const char *const own[] = { "/proc", "/sys", "/dev" };
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(own[i]);
		if (!strncmp(dest, own[i], l) && (!dest[l] || dest[l] == '/'))
			return 1;
	}
	return 0;
}

static int map_tmpfs(struct cfg *c, struct moat_manifest *m, const char *dest, char *err,
		     size_t errlen)
{
	char dir[PATH_MAX];
	if (snprintf(dir, sizeof(dir), "%s/tmpfs", c->statedir) >= (int)sizeof(dir))
		return oci_err("mounts %s: path too long", dest);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return oci_err("mounts %s: %s: %s", dest, dir, strerror(errno));
	if (snprintf(dir, sizeof(dir), "%s/tmpfs/%d", c->statedir, c->ntmpfs++) >= (int)sizeof(dir))
		return oci_err("mounts %s: path too long", dest);
	if (mkdir(dir, 01777) < 0 || chmod(dir, 01777) < 0)
		return oci_err("mounts %s: %s: %s", dest, dir, strerror(errno));
	if (moat_manifest_map(m, dir, dest, 1, 0, err, errlen) < 0)
		return oci_err("config.json: mounts %s: %s", dest, err);
	return 0;
}

static int one_mount(struct cfg *c, struct moat_manifest *m, json_t *mt, size_t i)
{
	char field[64], err[512], src[PATH_MAX];
	int bad = 0;
	snprintf(field, sizeof(field), "mounts[%zu]", i);
	if (!json_is_object(mt))
		return oci_err("config.json: %s: expected an object", field);
	const char *dest = get_str(mt, "destination", field, &bad);
	const char *type = get_str(mt, "type", field, &bad);
	const char *source = get_str(mt, "source", field, &bad);
	const char **opts;
	size_t nopts;
	if (bad || get_strs(mt, "options", field, &opts, &nopts))
		return 1;
	int rc = 0;
	int bind = (type && !strcmp(type, "bind")) || has_opt(opts, nopts, "bind") ||
		   has_opt(opts, nopts, "rbind");
	if (!dest || dest[0] != '/')
		rc = oci_err("config.json: %s.destination: expected an absolute path", field);
	else if (libos_own(dest)) {
		if (bind && strcmp(dest, "/dev/shm"))
			report("%s: %s: moat's /proc, /sys and /dev are the LibOS's own; not mounted",
			       field, dest);
	} else if (bind) {
		struct stat st;
		if (!source || bundle_path(c, source, src, sizeof(src)) < 0)
			rc = oci_err("config.json: %s.source: expected a path", field);
		else if (stat(src, &st) < 0)
			rc = oci_err("config.json: %s.source %s: %s", field, src, strerror(errno));
		else if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			rc = oci_err("config.json: %s.source %s: not a directory or a regular file; "
				     "moat passes in nothing else", field, src);
		else if (moat_manifest_map(m, src, dest, !has_opt(opts, nopts, "ro"), 0, err,
					   sizeof(err)) < 0)
			rc = oci_err("config.json: %s: %s", field, err);
	} else if (type && !strcmp(type, "tmpfs")) {
		rc = map_tmpfs(c, m, dest, err, sizeof(err));
	} else {
		report("%s: type %s at %s: moat mounts only bind and tmpfs; not mounted", field,
		       type ? type : "(none)", dest);
	}
	free(opts);
	return rc;
}

static int do_mounts(struct cfg *c, struct moat_manifest *m)
{
	json_t *a = json_object_get(c->doc, "mounts"), *mt;
	size_t i;
	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > LIST_MAX)
		return oci_err("config.json: mounts: expected an array of at most %d", LIST_MAX);
	json_array_foreach(a, i, mt)
		if (one_mount(c, m, mt, i))
			return 1;
	return 0;
}

/* args[0] as a path inside the container: itself with a slash, else the
 * first PATH directory of the container's env that holds it, looked up
 * beneath the rootfs only (RESOLVE_IN_ROOT: its links cannot leave it). */
static int find_entry(const struct cfg *c, const char *prog, const char *path, char *out,
		      size_t len)
{
	if (strchr(prog, '/'))
		return snprintf(out, len, "%s", prog) >= (int)len ? -1 : 0;
	int rootfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -1;
	char *copy = strdup(path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	char *save = NULL;
	int found = -1;
	for (char *d = strtok_r(copy, ":", &save); d && found < 0; d = strtok_r(NULL, ":", &save)) {
		struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
		struct stat st;
		if (d[0] != '/' || snprintf(out, len, "%s/%s", strcmp(d, "/") ? d : "", prog) >= (int)len)
			continue;
		int fd = (int)syscall(SYS_openat2, rootfd, out, &how, sizeof(how));
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
			found = 0;
		if (fd >= 0)
			close(fd);
	}
	free(copy);
	close(rootfd);
	return found;
}

static int do_process(struct cfg *c, struct moat_manifest *m)
{
	json_t *p = json_object_get(c->doc, "process");
	const char **args = NULL, **env = NULL;
	size_t nargs, nenv;
	int bad = 0, rc = 1;
	char entry[PATH_MAX];
	if (!json_is_object(p))
		return oci_err("config.json: process: expected an object");
	if (get_strs(p, "args", "process.args", &args, &nargs) ||
	    get_strs(p, "env", "process.env", &env, &nenv))
		goto out;
	if (!nargs || !args[0][0]) {
		oci_err("config.json: process.args: expected at least the program");
		goto out;
	}
	const char *path = NULL;
	for (size_t i = 0; i < nenv; i++) {
		if (!strchr(env[i], '=')) {
			oci_err("config.json: process.env[%zu]: expected NAME=VALUE", i);
			goto out;
		}
		if (!strncmp(env[i], "PATH=", 5))
			path = env[i] + 5;
		moat_manifest_add_env(m, env[i]);
	}
	if (find_entry(c, args[0], path, entry, sizeof(entry)) < 0) {
		oci_err("config.json: process.args[0] %.300s: not found in the container's PATH",
			args[0]);
		goto out;
	}
	m->entry = strdup(entry);
	moat_manifest_set_args(m, (char *const *)args + 1, (int)nargs - 1);
	free(m->argv[0]);
	m->argv[0] = strdup(args[0]);
	const char *cwd = get_str(p, "cwd", "process.cwd", &bad);
	if (bad)
		goto out;
	if (cwd && cwd[0] != '/') {
		oci_err("config.json: process.cwd: expected an absolute path");
		goto out;
	}
	free(m->cwd);
	m->cwd = strdup(cwd ? cwd : "/");
	json_t *t = json_object_get(p, "terminal");
	if (t && !json_is_boolean(t)) {
		oci_err("config.json: process.terminal: expected true or false");
		goto out;
	}
	if (json_is_true(t)) {
		oci_err("config.json: process.terminal: a terminal is not supported yet "
			"(run without -t / --tty)");
		goto out;
	}
	rc = 0;
out:
	free(args);
	free(env);
	return rc;
}

static int do_user(struct cfg *c, struct moat_manifest *m)
{
	json_t *p = json_object_get(c->doc, "process"), *u = json_object_get(p, "user");
	long long uid = 0, gid = 0;
	int su, sg;
	char spec[64];
	if (!u)
		return 0;
	if (!json_is_object(u))
		return oci_err("config.json: process.user: expected an object");
	if (get_int(u, "uid", "process.user.uid", 0, 65535, &uid, &su) ||
	    get_int(u, "gid", "process.user.gid", 0, 65535, &gid, &sg))
		return 1;
	snprintf(spec, sizeof(spec), "%lld:%lld", uid, gid);
	if (moat_manifest_set_user(m, spec) < 0)
		return oci_err("config.json: process.user: %s: expected ids up to 65535", spec);
	json_t *extra = json_object_get(u, "additionalGids");
	if (json_is_array(extra) && json_array_size(extra))
		report("process.user.additionalGids: moat gives the primary group only");
	if (json_object_get(u, "username"))
		report("process.user.username: ignored (Windows only)");
	return 0;
}

/* process.rlimits: the ones [Limits] has. */
static int do_rlimits(struct cfg *c, struct moat_manifest *m)
{
	json_t *a = json_object_get(json_object_get(c->doc, "process"), "rlimits"), *r;
	size_t i;
	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > 64)
		return oci_err("config.json: process.rlimits: expected an array");
	json_array_foreach(a, i, r) {
		int bad = 0, set;
		long long soft = 0;
		char field[64];
		snprintf(field, sizeof(field), "process.rlimits[%zu]", i);
		const char *type = json_is_object(r) ? get_str(r, "type", field, &bad) : NULL;
		if (!type || bad || get_int(r, "soft", field, 0, INT64_MAX, &soft, &set) || !set)
			return bad ? 1 : oci_err("config.json: %s: expected type and soft", field);
		if (!strcmp(type, "RLIMIT_NOFILE")) {
			if (soft > 1024)
				report("%s: RLIMIT_NOFILE %lld: moat's descriptor table holds 1024",
				       field, soft);
			m->limits.files = soft > 1024 ? 1024 : soft ? (uint64_t)soft : 1;
		} else if (!strcmp(type, "RLIMIT_FSIZE")) {
			m->limits.file_size = (uint64_t)soft;
		} else if (!strcmp(type, "RLIMIT_CPU")) {
			m->limits.cpu_seconds = (uint64_t)soft;
		} else if (strcmp(type, "RLIMIT_NPROC")) {
			report("%s: %s: not applied (moat applies NOFILE, FSIZE, CPU; NPROC through "
			       "linux.resources.pids)", field, type);
		}
	}
	return 0;
}

/* linux.resources: memory, pids and cpu into [Limits]. */
static int do_resources(struct cfg *c, struct moat_manifest *m)
{
	json_t *res = json_object_get(json_object_get(c->doc, "linux"), "resources");
	json_t *mem = json_object_get(res, "memory"), *pids = json_object_get(res, "pids");
	json_t *cpu = json_object_get(res, "cpu");
	long long v, quota = 0, period = 100000;
	int set, qset, pset;
	if (obj_or_absent(res, "linux.resources") || obj_or_absent(mem, "linux.resources.memory") ||
	    obj_or_absent(pids, "linux.resources.pids") || obj_or_absent(cpu, "linux.resources.cpu"))
		return 1;
	if (get_int(mem, "limit", "linux.resources.memory.limit", -1, INT64_MAX, &v, &set))
		return 1;
	if (set && v > 0)
		m->limits.memory = (uint64_t)v;
	if (get_int(pids, "limit", "linux.resources.pids.limit", -1, INT64_MAX, &v, &set))
		return 1;
	if (set && v > 0)
		m->limits.processes = (uint64_t)v;
	if (get_int(cpu, "quota", "linux.resources.cpu.quota", -1, INT64_MAX, &quota, &qset) ||
	    get_int(cpu, "period", "linux.resources.cpu.period", 1000, 1000000, &period, &pset))
		return 1;
	if (qset && quota > 0)
		m->limits.cpus = (uint64_t)(quota * 1000 / period) ? (uint64_t)(quota * 1000 / period) : 1;
	if (get_int(cpu, "shares", "linux.resources.cpu.shares", 0, 262144, &v, &set))
		return 1;
	if (set && v > 0) { /* cgroup shares, 1024 normal; cpu_share 100 normal */
		long long s = v * 100 / 1024;
		m->limits.cpu_share = (uint64_t)(s < 1 ? 1 : s > 10000 ? 10000 : s);
	}
	if (json_object_get(cpu, "cpus") || json_object_get(cpu, "mems"))
		report("linux.resources.cpu.cpus/mems: CPU and memory-node pinning not applied");
	if (json_object_get(res, "blockIO") || json_object_get(res, "hugepageLimits") ||
	    json_object_get(res, "network"))
		report("linux.resources: blockIO, hugepageLimits and network are not applied");
	return 0;
}

static int known_cap(const char *cap)
{
	/* What the LibOS's virtual root stands in for (docker's default set):
	 * these grant nothing on the host, and nothing more is emulated. */
	static const char *const caps[] = {
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT", "CAP_SETFCAP", "CAP_AUDIT_WRITE", "CAP_MKNOD", "CAP_NET_RAW",
	};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (!strcmp(cap, caps[i]))
			return 1;
	return 0;
}

/* What moat cannot honour, named once each; none of it widens anything. */
static int do_unhonoured(struct cfg *c)
{
	json_t *p = json_object_get(c->doc, "process"), *lx = json_object_get(c->doc, "linux");
	json_t *caps = json_object_get(json_object_get(p, "capabilities"), "bounding"), *v, *a;
	size_t i;
	json_array_foreach(caps, i, v)
		if (!json_is_string(v) || !known_cap(json_string_value(v))) {
			report("process.capabilities: %s: not granted (the picoprocess holds no host "
			       "capability; the LibOS emulates root's file and identity checks only)",
			       json_is_string(v) ? json_string_value(v) : "?");
			break;
		}
	if ((a = json_object_get(lx, "devices")) && json_array_size(a))
		report("linux.devices: %zu device(s) not created; moat's /dev holds null, zero, "
		       "random and urandom only", json_array_size(a));
	if (json_object_get(lx, "seccomp"))
		report("linux.seccomp: the profile is not loaded; moat's own filter (moat filter) "
		       "is stricter");
	json_array_foreach(json_object_get(lx, "namespaces"), i, v) {
		json_t *t = json_object_get(v, "type");
		if (json_is_string(t) && !strcmp(json_string_value(t), "network") &&
		    json_object_get(v, "path"))
			report("linux.namespaces network: the container has no network (moat does not "
			       "enter the engine's namespace; port publishing is not supported yet)");
	}
	if ((a = json_object_get(lx, "sysctl")) && json_object_size(a))
		report("linux.sysctl: not applied");
	if ((a = json_object_get(c->doc, "hooks")) && json_object_size(a))
		report("hooks: not run");
	if (json_object_get(c->doc, "hostname"))
		report("hostname: not applied; the picoprocess's host name is \"moat\"");
	return 0;
}

/* root.path is the picoprocess's "/" (read-only if root.readonly). */
static int do_root(struct cfg *c, struct moat_manifest *m)
{
	json_t *root = json_object_get(c->doc, "root"), *ro;
	int bad = 0;
	char err[512], p[PATH_MAX];
	if (!json_is_object(root))
		return oci_err("config.json: root: expected an object with a path");
	const char *path = get_str(root, "path", "root.path", &bad);
	if (bad || !path || !path[0] || bundle_path(c, path, p, sizeof(p)) < 0)
		return bad ? 1 : oci_err("config.json: root.path: expected a path");
	if (!realpath(p, c->rootfs))
		return oci_err("config.json: root.path %s: %s", p, strerror(errno));
	ro = json_object_get(root, "readonly");
	if (ro && !json_is_boolean(ro))
		return oci_err("config.json: root.readonly: expected true or false");
	struct stat st;
	if (stat(c->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return oci_err("config.json: root.path %s: not a directory", c->rootfs);
	if (moat_manifest_map(m, c->rootfs, "/", !json_is_true(ro), 0, err, sizeof(err)) < 0)
		return oci_err("config.json: root.path: %s", err);
	return 0;
}

/* Read BUNDLE/config.json into m; the annotations stay in c. */
static int load_config(struct cfg *c, const char *bundle, struct moat_manifest *m)
{
	if (!realpath(bundle, c->bundle))
		return oci_err("--bundle %s: %s", bundle, strerror(errno));
	int dfd = open(c->bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return oci_err("--bundle %s: %s", bundle, strerror(errno));
	size_t len;
	char *text = read_small(dfd, "config.json", CONFIG_MAX, &len);
	int e = errno;
	close(dfd);
	if (!text)
		return oci_err("%s/config.json: %s", c->bundle,
			       e == EFBIG ? "larger than 4 MiB" : e == EINVAL ? "not a regular file"
										  : strerror(e));
	json_error_t je;
	c->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	free(text);
	if (!c->doc)
		return oci_err("%s/config.json:%d: %s", c->bundle, je.line, je.text);
	if (!json_is_object(c->doc))
		return oci_err("%s/config.json: expected an object", c->bundle);
	int bad = 0;
	const char *ver = get_str(c->doc, "ociVersion", "ociVersion", &bad);
	if (bad || !ver || strncmp(ver, "1.", 2))
		return bad ? 1 : oci_err("config.json: ociVersion: expected 1.x");
	c->annotations = json_object_get(c->doc, "annotations");
	if (c->annotations && !annotations_ok(c->annotations))
		return oci_err("config.json: annotations: expected an object of strings");
	if (obj_or_absent(json_object_get(c->doc, "linux"), "linux"))
		return 1;
	return do_root(c, m) || do_process(c, m) || do_user(c, m) || do_rlimits(c, m) ||
	       do_resources(c, m) || do_mounts(c, m) || do_unhonoured(c);
}

/* ---- the container's process ---- */

static void write_file_atomic(const char *path, const char *text)
{
	char tmp[PATH_MAX + 16];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0 ||
	    rename(tmp, path) < 0)
		oci_err("%s: %s", path, strerror(errno));
}

/* The forked monitor: wait for start, run the picoprocess, end as it did. */
static _Noreturn void container_main(int dirfd, struct moat_manifest *m)
{
	char err[512];
	int fifo = openat(dirfd, "exec.fifo", O_WRONLY | O_CLOEXEC); /* blocks until start */
	if (fifo < 0 || write(fifo, "0", 1) != 1)
		_exit(125);
	close(fifo);
	close(dirfd);
	struct moat_launch_options lo = { 0 };
	struct moat_monitor *mon = moat_monitor_new();
	int id = mon ? moat_monitor_launch(mon, m, &lo, err, sizeof(err)) : -1;
	if (id < 0) {
		oci_err("%s", mon ? err : "cannot start the monitor");
		moat_monitor_free(mon);
		moat_manifest_free(m);
		exit(125);
	}
	struct sigaction sa = { .sa_handler = moat_monitor_signal };
	static const int fwd[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
		sigaction(fwd[i], &sa, NULL);
	moat_monitor_run(mon);
	const struct moat_exit *e = moat_monitor_exit(mon, id);
	int sig = e->signal, rc = moat_exit_status(e);
	if (e->reason[0])
		oci_err("%s", e->reason);
	moat_monitor_free(mon);
	moat_manifest_free(m);
	if (g.log_fd >= 0)
		close(g.log_fd);
	if (sig > 0 && sig != SIGSTOP && sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU) {
		/* End by the same signal, so the waiter sees what the app saw. */
		struct rlimit none = { 0, 0 };
		sigset_t all;
		setrlimit(RLIMIT_CORE, &none);
		signal(sig, SIG_DFL);
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		raise(sig);
	}
	exit(rc);
}

struct create_opts {
	const char *bundle, *pid_file, *console;
	const char *id;
};

/* Make the state, fork the container's monitor.  0 with *pid, or 1 said. */
static int do_create(const struct create_opts *o, pid_t *pidp)
{
	struct cfg c = { 0 };
	struct moat_manifest m;
	int rc = 1, made = 0, dirfd = -1;
	if (!id_ok(o->id))
		return oci_err("invalid container id \"%.300s\": letters, digits and _+.- only, at "
			       "most %d", o->id, ID_MAX);
	int rootfd = open_root(1);
	if (rootfd < 0)
		return 1;
	moat_manifest_init(&m, "config.json");
	if (mkdirat(rootfd, o->id, 0700) < 0) {
		rc = errno == EEXIST ? oci_err("container with id exists: %s", o->id)
				     : oci_err("%s/%s: %s", g.root, o->id, strerror(errno));
		goto out;
	}
	made = 1;
	dirfd = open_container(rootfd, o->id);
	if (dirfd < 0)
		goto out;
	snprintf(c.statedir, sizeof(c.statedir), "%s/%s", g.root, o->id);
	if (load_config(&c, o->bundle ? o->bundle : ".", &m))
		goto out;
	if (mkfifoat(dirfd, "exec.fifo", 0600) < 0) {
		oci_err("%s/exec.fifo: %s", c.statedir, strerror(errno));
		goto out;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		oci_err("fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		close(rootfd);
		json_decref(c.doc);
		container_main(dirfd, &m);
	}
	char st;
	unsigned long long start = 0;
	if (proc_stat(pid, &st, &start) < 0) {
		oci_err("the container's process %d ended at once", (int)pid);
		goto out;
	}
	char when[64];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	json_t *s = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:O}", "ociVersion", OCI_VERSION,
			      "id", o->id, "pid", (json_int_t)pid, "pidStart", (json_int_t)start,
			      "bundle", c.bundle, "created", when, "annotations",
			      c.annotations ? c.annotations : json_object());
	if (!c.annotations)
		json_decref(json_object_get(s, "annotations")); /* the O took its own */
	char *text = json_dumps(s, JSON_COMPACT), path[PATH_MAX + 300], num[32];
	json_decref(s);
	snprintf(path, sizeof(path), "%s/state.json", c.statedir);
	write_file_atomic(path, text ? text : "");
	free(text);
	if (o->pid_file) {
		snprintf(num, sizeof(num), "%d", (int)pid);
		write_file_atomic(o->pid_file, num);
	}
	*pidp = pid;
	rc = 0;
out:
	if (rc && made) {
		remove_container(rootfd, o->id);
	}
	json_decref(c.doc);
	moat_manifest_free(&m);
	if (dirfd >= 0)
		close(dirfd);
	close(rootfd);
	return rc;
}

/* Release a created container: read its byte from the exec FIFO. */
static int do_start(const char *id)
{
	struct cstate s;
	int rootfd = open_root(0), rc = 1;
	if (rootfd < 0)
		return 1;
	if (state_load(rootfd, id, &s))
		goto out;
	const char *status = status_of(&s);
	if (strcmp(status, "created")) {
		rc = oci_err("cannot start a container that is %s: %s", status, id);
		goto out;
	}
	struct stat st;
	int fd = openat(s.dirfd, "exec.fifo", O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		rc = oci_err("start %s: exec.fifo: %s", id, fd < 0 ? strerror(errno) : "not a FIFO");
		if (fd >= 0)
			close(fd);
		goto out;
	}
	char b;
	for (int i = 0; i < 1000; i++) { /* 10 s: the writer is blocked in open already */
		struct pollfd pf = { fd, POLLIN, 0 };
		if (poll(&pf, 1, 10) > 0 && read(fd, &b, 1) == 1) {
			rc = 0;
			break;
		}
		if (!alive(&s))
			break;
	}
	close(fd);
	unlinkat(s.dirfd, "exec.fifo", 0);
	if (rc)
		oci_err("start %s: the container's process did not take the start", id);
out:
	state_free(&s);
	close(rootfd);
	return rc;
}

static int do_state(const char *id)
{
	struct cstate s;
	int rootfd = open_root(0);
	if (rootfd < 0)
		return 1;
	if (state_load(rootfd, id, &s)) {
		state_free(&s);
		close(rootfd);
		return 1;
	}
	const char *status = status_of(&s);
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:O, s:s}", "ociVersion", OCI_VERSION,
			      "id", id, "status", status, "pid",
			      (json_int_t)(strcmp(status, "stopped") ? s.pid : 0), "bundle",
			      s.bundle, "annotations", s.annotations, "created", s.created);
	char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(o);
	state_free(&s);
	close(rootfd);
	return text ? 0 : 1;
}

static int parse_signal(const char *s)
{
	static const struct { const char *name; int sig; } names[] = {
		{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL },
		{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "IOT", SIGIOT }, { "BUS", SIGBUS },
		{ "FPE", SIGFPE }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
		{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
		{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
		{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG },
		{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM },
		{ "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO }, { "PWR", SIGPWR },
		{ "SYS", SIGSYS },
	};
	char *end;
	long n = strtol(s, &end, 10);
	if (s[0] && !*end)
		return n > 0 && n < NSIG ? (int)n : -1;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].sig;
	return -1;
}

/* The host pids of the monitor's descendants (its picoprocess), by
 * /proc/PID/task/TID/children, breadth first; n of them. */
static int descendants(pid_t top, pid_t *out, int max)
{
	int n = 0;
	out[n++] = top;
	for (int i = 0; i < n; i++) {
		char path[64], buf[4096];
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)out[i], (int)out[i]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t r = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (r <= 0)
			continue;
		buf[r] = 0;
		for (char *p = buf, *e; n < max && *p; p = e) {
			long v = strtol(p, &e, 10);
			if (e == p)
				break;
			if (v > 0)
				out[n++] = (pid_t)v;
		}
	}
	return n;
}

/* The monitor passes on the signals it has handlers for (the LibOS
 * applies the app's disposition); SIGKILL ends the monitor and with it
 * the picoprocess (its parent-death signal).  Others (STOP, CONT, ...)
 * go to the picoprocess's processes themselves, as --all does. */
static int do_kill(const char *id, const char *signame, int all)
{
	struct cstate s;
	int rootfd = open_root(0), rc = 1;
	int sig = parse_signal(signame ? signame : "TERM");
	if (rootfd < 0)
		return 1;
	if (sig < 0) {
		close(rootfd);
		return oci_err("kill: unknown signal \"%.100s\"", signame);
	}
	if (state_load(rootfd, id, &s))
		goto out;
	const char *status = status_of(&s);
	if (!strcmp(status, "stopped")) {
		rc = oci_err("container not running: %s", id);
		goto out;
	}
	int direct = !strcmp(status, "created") || sig == SIGKILL || sig == SIGINT ||
		     sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT || sig == SIGUSR1 ||
		     sig == SIGUSR2 || sig == SIGWINCH;
	if (direct && !all) {
		rc = kill(s.pid, sig) < 0 ? oci_err("kill %s: %s", id, strerror(errno)) : 0;
		goto out;
	}
	pid_t pids[1024];
	int n = descendants(s.pid, pids, 1024);
	/* The picoprocess first, then (for a signal it handles, or KILL) the monitor. */
	for (int i = n - 1; i >= 1; i--)
		kill(pids[i], sig);
	if (direct)
		kill(s.pid, sig);
	rc = 0;
out:
	state_free(&s);
	close(rootfd);
	return rc;
}

static int do_delete(const char *id, int force)
{
	struct cstate s;
	int rootfd = open_root(0), rc = 1;
	if (rootfd < 0)
		return 1;
	struct stat st;
	/* --force of a container that is gone is no error (as runc): the
	 * engines call it after a failed create */
	if (force && id_ok(id) && fstatat(rootfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT) {
		close(rootfd);
		return 0;
	}
	if (state_load(rootfd, id, &s)) {
		/* a directory of ours without its state (a create that died
		 * half-way): --force removes it */
		if (force && s.dirfd >= 0)
			rc = remove_container(rootfd, id);
		goto out;
	}
	const char *status = status_of(&s);
	if (!strcmp(status, "running") && !force) {
		rc = oci_err("cannot delete container %s that is not stopped: running", id);
		goto out;
	}
	if (strcmp(status, "stopped")) {
		kill(s.pid, SIGKILL); /* the picoprocess follows (parent-death signal) */
		for (int i = 0; i < 500 && alive(&s); i++)
			usleep(10000);
	}
	rc = remove_container(rootfd, id);
out:
	state_free(&s);
	close(rootfd);
	return rc;
}

static int do_ps(const char *id, int json)
{
	struct cstate s;
	int rootfd = open_root(0), rc = 1;
	if (rootfd < 0)
		return 1;
	if (state_load(rootfd, id, &s))
		goto out;
	pid_t pids[1024];
	int n = alive(&s) ? descendants(s.pid, pids, 1024) : 0;
	if (json)
		putchar('[');
	else
		printf("PID\n");
	for (int i = 0; i < n; i++)
		printf(json ? "%s%d" : "%s%d\n", json ? (i ? "," : "") : "", (int)pids[i]);
	if (json)
		printf("]\n");
	rc = 0;
out:
	state_free(&s);
	close(rootfd);
	return rc;
}

static int do_features(void)
{
	printf("{\n"
	       "  \"ociVersionMin\": \"1.0.0\",\n"
	       "  \"ociVersionMax\": \"%s\",\n"
	       "  \"hooks\": [],\n"
	       "  \"mountOptions\": [\"bind\", \"rbind\", \"ro\", \"rw\"],\n"
	       "  \"linux\": {\n"
	       "    \"namespaces\": [],\n"
	       "    \"capabilities\": [],\n"
	       "    \"cgroup\": {\"v1\": true, \"v2\": true, \"systemd\": false, "
	       "\"systemdUser\": false},\n"
	       "    \"seccomp\": {\"enabled\": false},\n"
	       "    \"apparmor\": {\"enabled\": false},\n"
	       "    \"selinux\": {\"enabled\": false}\n"
	       "  },\n"
	       "  \"annotations\": {\"io.github.moat.sandbox\": \"picoprocess\"}\n"
	       "}\n", OCI_VERSION);
	return 0;
}

/* ---- the command line ---- */

static const char *const commands[] = { "create", "start", "state", "delete", "features",
					"exec", "spec", "list", "pause", "resume", "update",
					"events", NULL };

static int is_global(const char *a)
{
	static const char *const opts[] = { "--root", "--log", "--log-format", "--systemd-cgroup",
					    "--debug", "--rootless", NULL };
	for (int i = 0; opts[i]; i++) {
		size_t l = strlen(opts[i]);
		if (!strncmp(a, opts[i], l) && (!a[l] || a[l] == '='))
			return 1;
	}
	return 0;
}

static void default_root(char *out, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (geteuid() != 0 && xdg && xdg[0] == '/')
		snprintf(out, len, "%s/moat-oci", xdg);
	else
		snprintf(out, len, "/run/moat-oci");
}

/* The first argument after argv[1] that is not an option. */
static const char *first_operand(int argc, char **argv)
{
	for (int i = 2; i < argc; i++)
		if (argv[i][0] != '-')
			return argv[i];
	return NULL;
}

static int has_arg(int argc, char **argv, const char *a, const char *b)
{
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], a) || (b && !strcmp(argv[i], b)) ||
		    (!strncmp(argv[i], a, strlen(a)) && argv[i][strlen(a)] == '='))
			return 1;
	return 0;
}

int moat_oci_claims(int argc, char **argv)
{
	char root[PATH_MAX], path[PATH_MAX + 300];
	struct stat st;
	if (argc < 2)
		return 0;
	if (is_global(argv[1]) || !strcmp(argv[1], "oci"))
		return 1;
	for (int i = 0; commands[i]; i++)
		if (!strcmp(argv[1], commands[i]))
			return 1;
	if (!strcmp(argv[1], "run"))
		return has_arg(argc, argv, "--bundle", "-b");
	if (strcmp(argv[1], "kill") && strcmp(argv[1], "ps"))
		return 0;
	if (has_arg(argc, argv, "--all", "-a") || has_arg(argc, argv, "--format", "-f"))
		return 1;
	/* moat kill NAME / moat ps are moat's own, unless NAME is a container */
	const char *id = first_operand(argc, argv);
	default_root(root, sizeof(root));
	snprintf(path, sizeof(path), "%s/%s", root, id ? id : "");
	return id && id_ok(id) && lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* "--opt VALUE" or "--opt=VALUE" at argv[*i]; NULL if argv[*i] is not it. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, const char *alt,
			     int *missing)
{
	const char *a = argv[*i];
	size_t l = strlen(name);
	if (!strncmp(a, name, l) && a[l] == '=')
		return a + l + 1;
	if (strcmp(a, name) && (!alt || strcmp(a, alt)))
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

static int wait_status(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

/* One subcommand, argv[0] its name, after the global options. */
static int subcommand(int argc, char **argv)
{
	struct create_opts co = { 0 };
	int force = 0, all = 0, json = 0, detach = 0, missing = 0;
	const char *operands[3] = { 0 };
	int nops = 0;
	const char *cmd = argv[0];
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--bundle", "-b", &missing)))
			co.bundle = v;
		else if ((v = opt_value(argc, argv, &i, "--pid-file", NULL, &missing)))
			co.pid_file = v;
		else if ((v = opt_value(argc, argv, &i, "--console-socket", NULL, &missing)))
			co.console = v;
		else if ((v = opt_value(argc, argv, &i, "--format", "-f", &missing)))
			json = !strcmp(v, "json");
		else if ((v = opt_value(argc, argv, &i, "--preserve-fds", NULL, &missing)))
			; /* descriptors beyond stdio are not passed in */
		else if (missing)
			break;
		else if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f"))
			force = 1;
		else if (!strcmp(argv[i], "--all") || !strcmp(argv[i], "-a"))
			all = 1;
		else if (!strcmp(argv[i], "--detach") || !strcmp(argv[i], "-d"))
			detach = 1;
		else if (!strcmp(argv[i], "--no-pivot") || !strcmp(argv[i], "--no-new-keyring") ||
			 !strcmp(argv[i], "--no-subreaper"))
			; /* nothing to pivot: the picoprocess's "/" is a grant */
		else if (argv[i][0] == '-' && argv[i][1])
			return oci_err("%s: unknown option %.100s", cmd, argv[i]);
		else if (nops < 3)
			operands[nops++] = argv[i];
		else
			return oci_err("%s: too many arguments", cmd);
	}
	if (missing)
		return oci_err("%s: an option lacks its value", cmd);
	if (!strcmp(cmd, "features"))
		return do_features();
	if (!strcmp(cmd, "exec") || !strcmp(cmd, "spec") || !strcmp(cmd, "pause") ||
	    !strcmp(cmd, "resume") || !strcmp(cmd, "update") || !strcmp(cmd, "events") ||
	    !strcmp(cmd, "list"))
		return oci_err("%s: not supported by moat yet", cmd);
	if (!operands[0])
		return oci_err("%s: expected a container id", cmd);
	co.id = operands[0];
	int want = !strcmp(cmd, "kill") ? 2 : 1;
	if (nops > want)
		return oci_err("%s: too many arguments", cmd);
	if (!strcmp(cmd, "create")) {
		pid_t pid;
		return do_create(&co, &pid);
	}
	if (!strcmp(cmd, "run")) {
		pid_t pid;
		if (do_create(&co, &pid) || do_start(co.id))
			return 1;
		if (detach)
			return 0;
		int rc = wait_status(pid);
		do_delete(co.id, 1);
		return rc;
	}
	if (!strcmp(cmd, "start"))
		return do_start(co.id);
	if (!strcmp(cmd, "state"))
		return do_state(co.id);
	if (!strcmp(cmd, "kill"))
		return do_kill(co.id, operands[1], all);
	if (!strcmp(cmd, "delete"))
		return do_delete(co.id, force);
	if (!strcmp(cmd, "ps"))
		return do_ps(co.id, json);
	return oci_err("unknown command %.100s", cmd);
}

int moat_cmd_oci(int argc, char **argv)
{
	char root[PATH_MAX];
	int i = 1, missing = 0, rc;
	default_root(root, sizeof(root));
	g.root = root;
	if (i < argc && !strcmp(argv[i], "oci"))
		i++;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--root", NULL, &missing)))
			g.root = v;
		else if ((v = opt_value(argc, argv, &i, "--log", NULL, &missing)))
			g.log = v;
		else if ((v = opt_value(argc, argv, &i, "--log-format", NULL, &missing))) {
			if (strcmp(v, "json") && strcmp(v, "text"))
				return oci_err("--log-format %.100s: expected json or text", v);
			g.log_json = !strcmp(v, "json");
		} else if ((v = opt_value(argc, argv, &i, "--rootless", NULL, &missing)))
			; /* the picoprocess needs no privilege of its own either way */
		else if (missing)
			return oci_err("%s: expected a value", argv[i]);
		else if (!strcmp(argv[i], "--systemd-cgroup") || !strcmp(argv[i], "--debug"))
			; /* see docs/oci.md: moat makes its own cgroup either way */
		else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-v")) {
			printf("moat version 0.1\nspec: %s\n", OCI_VERSION);
			return 0;
		} else
			return oci_err("unknown global option %.100s", argv[i]);
	}
	if (g.log) {
		g.log_fd = open(g.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (g.log_fd < 0)
			return oci_err("--log %s: %s", g.log, strerror(errno));
	}
	if (i >= argc)
		rc = oci_err("expected a command: create, start, state, kill, delete, run, ps, "
			     "features");
	else
		rc = subcommand(argc - i, argv + i);
	if (g.log_fd >= 0)
		close(g.log_fd);
	g.log_fd = -1;
	return rc;
}
