/*
 * cgroup.c -- a cgroup per picoprocess for the limits rlimits cannot set.
 *
 * RLIMIT_NPROC counts every process of a host uid, which all picoprocesses
 * share, so the number of tasks (processes and threads) of one picoprocess
 * is capped with the pids controller instead: [Limits] processes, or
 * MOAT_DEFAULT_TASKS.  [Limits] memory also goes to the memory controller
 * when it is there (RLIMIT_AS still applies as well).  cgroup v2 is used
 * where its controllers are enabled, v1 otherwise.  Where neither is
 * writable (an ordinary user without delegation), the picoprocess runs
 * without these caps and --debug says so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"

#define MOAT_DEFAULT_TASKS 1024

static int write_value(const char *dir, const char *file, const char *value)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

/* Make <root>/moat/<monitor pid>-<id>; 0 and the path, or -1. */
static int make_group(const char *root, int id, char *out, size_t len)
{
	char parent[512];
	snprintf(parent, sizeof(parent), "%s/moat", root);
	if (mkdir(parent, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(out, len, "%s/%d-%d", parent, (int)getpid(), id);
	if (mkdir(out, 0755) < 0 && errno != EEXIST) {
		out[0] = 0;
		return -1;
	}
	return 0;
}

static int v2_has(const char *controller)
{
	char buf[256] = "";
	int fd = open("/sys/fs/cgroup/cgroup.subtree_control", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, controller) != NULL;
}

void moat_cgroup_create(struct pico *pp, const struct moat_limits *l)
{
	char value[32];
	pp->cg_pids[0] = pp->cg_mem[0] = 0;
	snprintf(value, sizeof(value), "%lu",
		 (unsigned long)(l->processes ? l->processes : MOAT_DEFAULT_TASKS));
	if (v2_has("pids") && make_group("/sys/fs/cgroup", pp->id, pp->cg_pids,
					 sizeof(pp->cg_pids)) == 0) {
		write_value(pp->cg_pids, "pids.max", value);
		if (l->memory && v2_has("memory")) {
			char mem[32];
			snprintf(mem, sizeof(mem), "%lu", (unsigned long)l->memory);
			write_value(pp->cg_pids, "memory.max", mem);
		}
		return;
	}
	if (make_group("/sys/fs/cgroup/pids", pp->id, pp->cg_pids, sizeof(pp->cg_pids)) == 0 &&
	    write_value(pp->cg_pids, "pids.max", value) < 0)
		moat_cgroup_remove(pp);
	if (l->memory &&
	    make_group("/sys/fs/cgroup/memory", pp->id, pp->cg_mem, sizeof(pp->cg_mem)) == 0) {
		char mem[32];
		snprintf(mem, sizeof(mem), "%lu", (unsigned long)l->memory);
		if (write_value(pp->cg_mem, "memory.limit_in_bytes", mem) < 0) {
			rmdir(pp->cg_mem);
			pp->cg_mem[0] = 0;
		}
	}
}

/* Before the child may go on: so everything it starts is counted. */
void moat_cgroup_attach(struct pico *pp, pid_t pid)
{
	char value[32];
	snprintf(value, sizeof(value), "%d", (int)pid);
	if (pp->cg_pids[0] && write_value(pp->cg_pids, "cgroup.procs", value) < 0)
		pp->cg_pids[0] = 0;
	if (pp->cg_mem[0] && write_value(pp->cg_mem, "cgroup.procs", value) < 0)
		pp->cg_mem[0] = 0;
	if (pp->debug)
		fprintf(stderr, "moat[%s]: task limit: %s; memory cgroup: %s\n", pp->name,
			pp->cg_pids[0] ? pp->cg_pids : "none (no writable pids cgroup)",
			pp->cg_mem[0] ? pp->cg_mem : "none");
}

/* After the picoprocess has ended; its last tasks may take a moment to
 * leave, so try for up to a second. */
void moat_cgroup_remove(struct pico *pp)
{
	char *dirs[] = { pp->cg_pids, pp->cg_mem };
	for (int i = 0; i < 2; i++) {
		for (int tries = 0; dirs[i][0] && tries < 100; tries++) {
			if (rmdir(dirs[i]) == 0 || errno == ENOENT)
				break;
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
		}
		dirs[i][0] = 0;
	}
}
