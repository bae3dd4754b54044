/*
 * scratch.c -- a private /tmp and /dev/shm for each picoprocess.
 *
 * Programs expect a writable /tmp (sort, gcc, python's tempfile) and
 * /dev/shm (POSIX semaphores, multiprocessing).  Unless the manifest maps
 * them, the monitor gives the picoprocess a fresh host directory for each,
 * shared by all its processes (so files, maps and locks behave as on one
 * machine), reachable by no other picoprocess, and deleted when it ends.
 *
 * Where the monitor may mount (it runs as root), the scratch directory is
 * a tmpfs of [Limits] disk bytes (default: the memory limit), mounted in
 * a mount namespace of the monitor's own, so the host never sees it and
 * it vanishes with the monitor even if the monitor is killed.  A full
 * scratch gives the app ENOSPC.  Otherwise it is a plain directory on the
 * host's $TMPDIR file system, and only RLIMIT_FSIZE bounds each file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor.h"

static const char *const scratch_names[][2] = {
	{ "/tmp", "tmp" },
	{ "/dev/shm", "shm" },
};

/* Once per monitor: a mount namespace of its own where host mounts still
 * propagate in, and its own do not propagate out.  1 if it has one. */
static int private_mounts(void)
{
	static int state = -1;
	if (state >= 0)
		return state;
	state = 0;
	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0)
		return 0;
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return 0; /* a copy that still shares: do not mount in it */
	return state = 1;
}

static void mount_quota(struct pico *pp, const struct moat_limits *l)
{
	char opts[64];
	uint64_t size = l->disk ? l->disk : pp->memory_max;
	pp->scratch_quota = 0;
	if (!size || !private_mounts())
		return;
	snprintf(opts, sizeof(opts), "size=%llu,mode=0755", (unsigned long long)size);
	if (mount("moat-scratch", pp->scratch, "tmpfs", MS_NOSUID | MS_NODEV,
		  opts) == 0)
		pp->scratch_quota = 1;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw);

/* A monitor killed outright (SIGKILL, a crash) leaves its directories
 * behind.  Each is named after its monitor's pid, so the next monitor
 * removes those of monitors that no longer exist: only directories (not
 * links) of its own user, walked without following links. */
static void sweep_stale(const char *base, const char *prefix)
{
	DIR *d = opendir(base);
	if (!d)
		return;
	size_t plen = strlen(prefix);
	for (struct dirent *e; (e = readdir(d));) {
		char *end;
		if (strncmp(e->d_name, prefix, plen) || e->d_name[plen] != '-')
			continue;
		long pid = strtol(e->d_name + plen + 1, &end, 10);
		if (pid <= 0 || *end != '-' || strlen(end) != 7 ||
		    (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid())
			nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	}
	closedir(d);
}

int moat_tmp_dir(const char *prefix, char *out, size_t len, char *err, size_t errlen)
{
	const char *base = getenv("TMPDIR") && getenv("TMPDIR")[0] == '/' ? getenv("TMPDIR") : "/tmp";
	sweep_stale(base, prefix);
	if ((size_t)snprintf(out, len, "%s/%s-%d-XXXXXX", base, prefix, (int)getpid()) >= len) {
		snprintf(err, errlen, "the temporary directory %s is too long a path", base);
		out[0] = 0;
		return -ENAMETOOLONG;
	}
	if (!mkdtemp(out)) {
		int e = errno;
		snprintf(err, errlen, "cannot create a %s directory in %s: %s", prefix, base,
			 strerror(e));
		out[0] = 0;
		return -e;
	}
	return 0;
}

static int scratch_dir(struct pico *pp, const struct moat_limits *l, char *err,
		       size_t errlen)
{
	if (pp->scratch[0])
		return 0;
	if (moat_tmp_dir("moat-scratch", pp->scratch, sizeof(pp->scratch), err, errlen) < 0)
		return -1;
	mount_quota(pp, l);
	return 0;
}

int moat_scratch_create(struct pico *pp, const struct moat_limits *l, char *err,
			size_t errlen)
{
	pp->scratch[0] = 0;
	for (size_t i = 0; i < sizeof(scratch_names) / sizeof(scratch_names[0]); i++) {
		char host[sizeof(pp->scratch) + 16];
		if (moat_policy_covers(pp->policy, scratch_names[i][0]))
			continue;
		if (scratch_dir(pp, l, err, errlen) < 0)
			return -1;
		snprintf(host, sizeof(host), "%s/%s", pp->scratch, scratch_names[i][1]);
		if (mkdir(host, 01777) < 0 || chmod(host, 01777) < 0 ||
		    moat_policy_map(pp->policy, scratch_names[i][0], host, 1, err, errlen) < 0) {
			if (errno && !err[0])
				snprintf(err, errlen, "cannot create %s: %s", host, strerror(errno));
			moat_scratch_remove(pp);
			return -1;
		}
	}
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Runs after the picoprocess and all its processes are gone.  FTW_PHYS:
 * a symlink the app left is removed, never followed; FTW_MOUNT: stay on
 * the scratch directory's file system. */
void moat_scratch_remove(struct pico *pp)
{
	if (!pp->scratch[0])
		return;
	if (pp->scratch_quota && umount2(pp->scratch, MNT_DETACH) == 0)
		rmdir(pp->scratch); /* the tmpfs took its contents along */
	else
		nftw(pp->scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	pp->scratch_quota = 0;
	pp->scratch[0] = 0;
}

/* Writes to package paths: into the manifest's overlay directory, which
 * outlives the run, or else into the scratch directory, which does not. */
int moat_scratch_upper(struct pico *pp, const char *overlay, char *err, size_t errlen)
{
	char upper[sizeof(pp->scratch) + 16];
	if (overlay)
		return moat_policy_set_upper(pp->policy, overlay, err, errlen);
	if (scratch_dir(pp, &pp->limits, err, errlen) < 0)
		return -1;
	snprintf(upper, sizeof(upper), "%s/upper", pp->scratch);
	if (mkdir(upper, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", upper, strerror(errno));
		return -1;
	}
	return moat_policy_set_upper(pp->policy, upper, err, errlen);
}
