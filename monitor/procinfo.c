/*
 * procinfo.c -- another process of a picoprocess, for its /proc/PID/.
 *
 * A process can read its own state, but not another's: the host's /proc
 * is not in the sandbox, and the filter allows no call that would show
 * it.  The monitor reads the host's /proc for it (MOAT_OP_PROC_STAT),
 * for processes in the picoprocess's own pid namespace only, and gives
 * the numbers as that namespace sees them.  What comes back is the
 * kernel's view of the picoprocess's own processes: nothing of the host.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor_int.h"

/* Up to len - 1 bytes of /proc/HOSTPID/NAME, NUL-terminated: 0 or -1. */
static int read_proc(pid_t hpid, const char *name, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)hpid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/* The last number on the status line starting with 'key' (NSpid:,
 * NSpgid:, NSsid: list the ids from the host's namespace down to the
 * innermost), or -1. */
static long last_field(const char *status, const char *key)
{
	const char *line = strstr(status, key); /* key begins with its '\n' */
	if (!line)
		return -1;
	const char *end = strchrnul(line + 1, '\n');
	const char *p = end;
	while (p > line && isspace((unsigned char)p[-1]))
		p--;
	while (p > line && isdigit((unsigned char)p[-1]))
		p--;
	return isdigit((unsigned char)*p) ? strtol(p, NULL, 10) : -1;
}

static int same_ns(pid_t hpid, const char *ns)
{
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)hpid);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = 0;
	return !strcmp(link, ns);
}

/* The host pid of the process the namespace 'ns' calls 'nspid', or 0. */
static pid_t host_pid_of(const char *ns, int nspid)
{
	DIR *d = opendir("/proc");
	pid_t found = 0;
	if (!d)
		return 0;
	for (struct dirent *e; !found && (e = readdir(d));) {
		char status[2048];
		pid_t hpid = (pid_t)strtol(e->d_name, NULL, 10);
		if (hpid <= 0 || !same_ns(hpid, ns) ||
		    read_proc(hpid, "status", status, sizeof(status)) < 0)
			continue;
		if (last_field(status, "\nNSpid:") == nspid)
			found = hpid;
	}
	closedir(d);
	return found;
}

/* Fields 3 on of /proc/PID/stat, after the name (which may hold spaces
 * and parentheses: the last ')' ends it). */
static int parse_stat(const char *stat, struct moat_proc_stat *out, pid_t *host_ppid)
{
	const char *p = strrchr(stat, ')');
	char state;
	int ppid;
	unsigned long utime, stime, vsize;
	long threads, rss;
	if (!p || sscanf(p + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu"
				" %*d %*d %*d %*d %ld %*d %*u %lu %ld",
			 &state, &ppid, &utime, &stime, &threads, &vsize, &rss) != 7)
		return -1;
	long hz = sysconf(_SC_CLK_TCK);
	hz = hz > 0 ? hz : 100;
	out->state = (uint32_t)(unsigned char)state;
	out->utime_ns = (uint64_t)utime * (1000000000 / (uint64_t)hz);
	out->stime_ns = (uint64_t)stime * (1000000000 / (uint64_t)hz);
	out->threads = threads > 0 ? (uint32_t)threads : 1;
	out->vsize = vsize;
	out->rss_pages = rss > 0 ? (uint64_t)rss : 0;
	*host_ppid = ppid;
	return 0;
}

int moat_proc_stat(const struct pico *pp, int nspid, struct moat_proc_stat *out)
{
	char path[64], ns[64], stat[1024], status[2048];
	memset(out, 0, sizeof(*out));
	if (nspid <= 0 || pp->pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pp->pid);
	ssize_t n = readlink(path, ns, sizeof(ns) - 1);
	if (n <= 0)
		return -ESRCH;
	ns[n] = 0;
	pid_t hpid = nspid == 1 ? pp->pid : host_pid_of(ns, nspid);
	pid_t host_ppid;
	if (!hpid || read_proc(hpid, "stat", stat, sizeof(stat)) < 0 ||
	    read_proc(hpid, "status", status, sizeof(status)) < 0 ||
	    parse_stat(stat, out, &host_ppid) < 0 || !same_ns(hpid, ns))
		return -ESRCH; /* gone meanwhile, or not this picoprocess's */
	out->pgrp = (int32_t)last_field(status, "\nNSpgid:");
	out->sid = (int32_t)last_field(status, "\nNSsid:");
	/* Its parent by the namespace's numbering: none for pid 1. */
	if (hpid != pp->pid && same_ns(host_ppid, ns) &&
	    read_proc(host_ppid, "status", status, sizeof(status)) == 0)
		out->ppid = (int32_t)last_field(status, "\nNSpid:");
	return 0;
}

/* --- residency (MOAT_OP_RESIDENCY) --- */

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)

/* A mapping the kernel made of its own ([vdso], [vvar], ...): anything
 * named in brackets but the heap, the stack and named anonymous memory. */
static int kernel_own(const char *name)
{
	while (*name == ' ' || *name == '\t')
		name++;
	return *name == '[' && strncmp(name, "[heap]", 6) && strncmp(name, "[stack]", 7) &&
	       strncmp(name, "[anon:", 6);
}

/* Is this /proc/PID/maps line's mapping private anonymous memory, whose
 * pages that are not there read as zeros?  Not a file's or a shared
 * mapping's (inode set, or 's'), nor the kernel's own ([vdso], [vvar]
 * and the like), whose pages come from elsewhere. */
static int private_anon(const char *perms, unsigned long inode, const char *name)
{
	if (perms[3] != 'p' || inode != 0)
		return 0;
	return !kernel_own(name);
}

/* A private mapping of a file (inode set): a page not there reads as
 * the file's. */
static int private_file(const char *perms, unsigned long inode, const char *name)
{
	return perms[3] == 'p' && inode != 0 && !kernel_own(name);
}

/* Clear the map's bit of every page of [addr, addr + npages * 4096) that
 * lies in private anonymous memory and whose pagemap entry (pm, n of
 * them read) says neither resident nor swapped. */
static int clear_absent(pid_t hpid, uint32_t flags, uint64_t addr, uint64_t npages,
			const uint64_t *pm, uint64_t n, uint8_t *map)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)hpid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char *line = NULL;
	size_t cap = 0;
	uint64_t end = addr + npages * 4096;
	while (getline(&line, &cap, f) > 0) {
		unsigned long lo, hi, inode;
		char perms[5];
		int name = 0;
		if (sscanf(line, "%lx-%lx %4s %*s %*s %lu%n", &lo, &hi, perms, &inode, &name) != 4 ||
		    hi <= addr || lo >= end || strlen(perms) != 4 ||
		    !(private_anon(perms, inode, line + name) ||
		      (flags & MOAT_RESIDENCY_FILE && private_file(perms, inode, line + name))))
			continue;
		uint64_t from = (lo > addr ? lo : addr) - addr, to = (hi < end ? hi : end) - addr;
		for (uint64_t i = from / 4096; i < to / 4096 && i < n; i++)
			if (!(pm[i] & (PM_PRESENT | PM_SWAPPED)))
				map[i / 8] &= (uint8_t)~(1u << (i % 8));
	}
	free(line);
	fclose(f);
	return 0;
}

/* The range is checked here: the picoprocess names it. */
int moat_residency(const struct pico *pp, int ci, int nspid, uint32_t flags, uint64_t addr,
		   uint64_t npages, uint8_t *map)
{
	char path[64], ns[64];
	if (flags & ~(uint32_t)MOAT_RESIDENCY_FILE || addr % 4096 || !npages || npages > MOAT_RESIDENCY_MAX ||
	    addr >= (1ULL << 47) || npages > ((1ULL << 47) - addr) / 4096)
		return -EINVAL;
	if (pp->pid <= 0 || (ci == 0) != (nspid == 1) || nspid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pp->pid);
	ssize_t l = readlink(path, ns, sizeof(ns) - 1);
	if (l <= 0)
		return -ESRCH;
	ns[l] = 0;
	pid_t hpid = nspid == 1 ? pp->pid : host_pid_of(ns, nspid);
	if (!hpid)
		return -ESRCH;
	memset(map, 0xff, (size_t)(npages + 7) / 8);
	uint64_t *pm = malloc(npages * sizeof(*pm));
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)hpid);
	int fd = pm ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	ssize_t n = fd < 0 ? -1 : pread(fd, pm, npages * sizeof(*pm), (off_t)(addr / 4096 * 8));
	if (fd >= 0)
		close(fd);
	int r = n < 0 || clear_absent(hpid, flags, addr, npages, pm, (uint64_t)n / 8, map) < 0 ? -EIO : 0;
	free(pm);
	if (r == 0 && !same_ns(hpid, ns)) /* gone, its pid someone else's */
		return -ESRCH;
	return r < 0 ? r : (int)npages;
}
