/*
 * cgroup.c -- a cgroup per picoprocess for the limits rlimits cannot set.
 *
 * - Tasks: RLIMIT_NPROC counts every process of a host uid, which all
 *   picoprocesses share, so the tasks (processes and threads) of one
 *   picoprocess are capped with the pids controller: [Limits] processes,
 *   or MOAT_DEFAULT_TASKS.
 * - Memory: the memory controller, [Limits] memory or half the host's RAM
 *   (moat_default_memory), swap included where the host lets us.  The
 *   kernel's OOM killer picks a task inside the group when it is full.
 * - CPU: [Limits] cpus is a bandwidth cap (cpu.max, v1 cfs_quota_us);
 *   [Limits] cpu_share a weight against other picoprocesses and the host
 *   (cpu.weight, v1 cpu.shares).  Every picoprocess is its own group, so
 *   it gets one share however many threads it runs.
 *
 * cgroup v2 is used where its controllers are enabled at the root, v1
 * otherwise.  What could not be set up is left out of pp->cg_enforced;
 * moat_monitor_launch warns about it and sandbox.c falls back to rlimits.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "monitor_int.h"

#define MOAT_DEFAULT_TASKS 1024
#define V2_ROOT "/sys/fs/cgroup"
#define CFS_PERIOD 100000 /* microseconds */

static int write_value(const char *dir, const char *file, const char *value)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return moat_write_file(path, value);
}

static int write_u64(const char *dir, const char *file, uint64_t v)
{
	char value[32];
	snprintf(value, sizeof(value), "%" PRIu64, v);
	return write_value(dir, file, value);
}

/* The number after 'key' in a "key value" file such as memory.events. */
static unsigned long read_key(const char *dir, const char *file, const char *key)
{
	char path[700], line[128];
	unsigned long v = 0;
	size_t klen = strlen(key);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			v = strtoul(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

uint64_t moat_default_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size / 2 : 0;
}

/* Groups of monitors killed outright (no moat_cgroup_remove) stay
 * behind; remove the empty ones whose monitor is gone.  A group whose
 * tasks are still alive is not empty, and rmdir leaves it. */
static void sweep_stale(const char *parent)
{
	DIR *d = opendir(parent);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		char *end, path[1024];
		long pid = strtol(e->d_name, &end, 10);
		if (pid <= 0 || *end != '-' || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
		rmdir(path);
	}
	closedir(d);
}

/* Make <root>/moat/<monitor pid>-<id>; 0 and the path, or -1. */
static int make_group(const char *root, int id, char *out, size_t len)
{
	char parent[512];
	snprintf(parent, sizeof(parent), "%s/moat", root);
	if (mkdir(parent, 0755) < 0 && errno != EEXIST)
		return -1;
	if (id == 0)
		sweep_stale(parent);
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
	int fd = open(V2_ROOT "/cgroup.subtree_control", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	for (char *p = buf; (p = strstr(p, controller)); p++)
		if ((p == buf || p[-1] == ' ') &&
		    (p[strlen(controller)] == 0 || p[strlen(controller)] == ' ' ||
		     p[strlen(controller)] == '\n'))
			return 1;
	return 0;
}

static void set_cpu(struct pico *pp, const char *dir, int v2, const struct moat_limits *l)
{
	char value[64];
	int ok = 1;
	if (l->cpus) {
		uint64_t quota = l->cpus * CFS_PERIOD / 1000;
		if (quota < 1000)
			quota = 1000; /* the kernel's minimum: 1 ms per period */
		if (v2) {
			snprintf(value, sizeof(value), "%" PRIu64 " %d", quota, CFS_PERIOD);
			ok &= write_value(dir, "cpu.max", value) == 0;
		} else {
			ok &= write_u64(dir, "cpu.cfs_period_us", CFS_PERIOD) == 0 &&
			      write_u64(dir, "cpu.cfs_quota_us", quota) == 0;
		}
	}
	if (l->cpu_share)
		ok &= (v2 ? write_u64(dir, "cpu.weight", l->cpu_share)
			  : write_u64(dir, "cpu.shares", l->cpu_share * 1024 / 100)) == 0;
	if (ok)
		pp->cg_enforced |= MOAT_CG_CPU;
}

static void create_v2(struct pico *pp, const struct moat_limits *l)
{
	if (make_group(V2_ROOT, pp->id, pp->cg_pids, sizeof(pp->cg_pids)) < 0)
		return;
	/* The controllers must be enabled for moat/'s children. */
	for (const char *const *c = (const char *const[]){ "+pids", "+memory", "+cpu", NULL };
	     *c; c++)
		write_value(V2_ROOT "/moat", "cgroup.subtree_control", *c);
	snprintf(pp->cg_mem, sizeof(pp->cg_mem), "%s", pp->cg_pids);
	snprintf(pp->cg_cpu, sizeof(pp->cg_cpu), "%s", pp->cg_pids);
	if (write_u64(pp->cg_pids, "pids.max", pp->tasks_max) == 0)
		pp->cg_enforced |= MOAT_CG_PIDS;
	if (pp->memory_max && v2_has("memory") &&
	    write_u64(pp->cg_mem, "memory.max", pp->memory_max) == 0) {
		write_value(pp->cg_mem, "memory.swap.max", "0");
		pp->cg_enforced |= MOAT_CG_MEMORY;
	}
	if ((l->cpus || l->cpu_share) && v2_has("cpu"))
		set_cpu(pp, pp->cg_cpu, 1, l);
}

static void create_v1(struct pico *pp, const struct moat_limits *l)
{
	if (make_group(V2_ROOT "/pids", pp->id, pp->cg_pids, sizeof(pp->cg_pids)) == 0) {
		if (write_u64(pp->cg_pids, "pids.max", pp->tasks_max) == 0)
			pp->cg_enforced |= MOAT_CG_PIDS;
		else
			rmdir(pp->cg_pids), pp->cg_pids[0] = 0;
	}
	if (pp->memory_max &&
	    make_group(V2_ROOT "/memory", pp->id, pp->cg_mem, sizeof(pp->cg_mem)) == 0) {
		if (write_u64(pp->cg_mem, "memory.limit_in_bytes", pp->memory_max) == 0) {
			/* memory + swap, where swap accounting is on */
			write_u64(pp->cg_mem, "memory.memsw.limit_in_bytes", pp->memory_max);
			pp->cg_enforced |= MOAT_CG_MEMORY;
		} else {
			rmdir(pp->cg_mem), pp->cg_mem[0] = 0;
		}
	}
	if ((l->cpus || l->cpu_share) &&
	    make_group(V2_ROOT "/cpu", pp->id, pp->cg_cpu, sizeof(pp->cg_cpu)) == 0) {
		set_cpu(pp, pp->cg_cpu, 0, l);
		if (!(pp->cg_enforced & MOAT_CG_CPU))
			rmdir(pp->cg_cpu), pp->cg_cpu[0] = 0;
	}
}

void moat_cgroup_create(struct pico *pp, const struct moat_limits *l)
{
	pp->cg_pids[0] = pp->cg_mem[0] = pp->cg_cpu[0] = 0;
	pp->cg_enforced = 0;
	pp->tasks_max = l->processes ? l->processes : MOAT_DEFAULT_TASKS;
	pp->memory_max = l->memory ? l->memory : moat_default_memory();
	if (v2_has("pids"))
		create_v2(pp, l);
	else
		create_v1(pp, l);
}

/* Before the child may go on: so everything it starts is counted. */
void moat_cgroup_attach(struct pico *pp, pid_t pid)
{
	char value[32];
	char *dirs[] = { pp->cg_pids, pp->cg_mem, pp->cg_cpu };
	unsigned bits[] = { MOAT_CG_PIDS, MOAT_CG_MEMORY, MOAT_CG_CPU };
	snprintf(value, sizeof(value), "%d", (int)pid);
	for (int i = 0; i < 3; i++) {
		if (!dirs[i][0])
			continue;
		if (write_value(dirs[i], "cgroup.procs", value) < 0)
			pp->cg_enforced &= ~bits[i];
	}
	if (pp->debug)
		fprintf(stderr, "moat[%s]: task limit: %s; memory limit: %s; cpu: %s\n",
			pp->name,
			pp->cg_enforced & MOAT_CG_PIDS ? pp->cg_pids : "none (no writable pids cgroup)",
			pp->cg_enforced & MOAT_CG_MEMORY ? pp->cg_mem : "none (no writable memory cgroup)",
			pp->cg_enforced & MOAT_CG_CPU ? pp->cg_cpu : "no cap");
}

unsigned long moat_cgroup_oom_kills(const struct pico *pp)
{
	if (!(pp->cg_enforced & MOAT_CG_MEMORY))
		return 0;
	unsigned long n = read_key(pp->cg_mem, "memory.events", "oom_kill");
	return n ? n : read_key(pp->cg_mem, "memory.oom_control", "oom_kill");
}

unsigned long moat_cgroup_task_refusals(const struct pico *pp)
{
	return pp->cg_enforced & MOAT_CG_PIDS ? read_key(pp->cg_pids, "pids.events", "max") : 0;
}

/* After the picoprocess has ended; its last tasks may take a moment to
 * leave, so try for up to a second. */
void moat_cgroup_remove(struct pico *pp)
{
	char *dirs[] = { pp->cg_pids, pp->cg_mem, pp->cg_cpu };
	for (int i = 0; i < 3; i++) {
		for (int tries = 0; dirs[i][0] && tries < 100; tries++) {
			if (rmdir(dirs[i]) == 0 || errno == ENOENT)
				break;
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
		}
		dirs[i][0] = 0;
	}
	pp->cg_enforced = 0;
}
