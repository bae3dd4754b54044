/*
 * procfs.c -- the /proc and /sys files programs probe, made by the LibOS.
 *
 * Nothing here comes from the host: each file describes the picoprocess
 * as the LibOS sees it (its pid, its descriptors, its argv), or what the
 * monitor said at launch (CPUs and memory it may use).  Paths under
 * /proc/<own pid> are the same as /proc/self.
 */
#include <stdarg.h>

#include "libos.h"
#include "uaccess.h"

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = rt_vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *np = kmalloc(cap);
		if (!np)
			return;
		memcpy(np, b->p, b->len);
		kfree(b->p);
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, tmp, (size_t)n);
	b->len += (size_t)n;
}

/* Rewrite /proc/<own pid>/... and /proc/thread-self/... as /proc/self/... */
static const char *self_path(const char *path, char *tmp, size_t len)
{
	const char *rest = NULL;
	if (!strncmp(path, "/proc/thread-self", 17))
		rest = path + 17;
	else if (!strncmp(path, "/proc/", 6) && path[6] >= '1' && path[6] <= '9') {
		char pid[16];
		rt_snprintf(pid, sizeof(pid), "%d", proc.pid);
		size_t n = strlen(pid);
		if (!strncmp(path + 6, pid, n) && (path[6 + n] == '/' || !path[6 + n]))
			rest = path + 6 + n;
	}
	if (!rest)
		return path;
	rt_snprintf(tmp, len, "/proc/self%s", rest);
	return tmp;
}

static void gen_status(struct buf *b)
{
	put(b, "Name:\t%s\nUmask:\t%04o\nState:\tR (running)\nTgid:\t%d\nPid:\t%d\nPPid:\t%d\n",
	    proc.comm[0] ? proc.comm : "?", proc.umask, proc.pid, proc.pid, proc.ppid);
	put(b, "Uid:\t%u\t%u\t%u\t%u\nGid:\t%u\t%u\t%u\t%u\nThreads:\t%d\n",
	    proc.uid, proc.euid, proc.suid, proc.fsuid, proc.gid, proc.egid, proc.sgid, proc.fsgid,
	    thread_count());
	put(b, "Cpus_allowed_list:\t0-%u\n", boot->ncpus ? boot->ncpus - 1 : 0);
}

/* All 52 fields of proc(5), as tools that parse by position expect:
 * CPU times in clock ticks (100 Hz) from the process's CPU clock, the
 * group and session as the process sees them; what moat does not keep
 * (faults, the app's layout) is 0. */
static void put_stat(struct buf *b, int pid, const char *comm, const struct moat_proc_stat *ps,
		     uint64_t start_brk)
{
	put(b, "%d (%s) %c %d %d %d 0 -1 4194304 0 0 0 0 %lu %lu 0 0 20 0 %u 0 0 %lu %lu ",
	    pid, comm, (char)ps->state, ps->ppid, ps->pgrp, ps->sid,
	    (unsigned long)(ps->utime_ns / 10000000), (unsigned long)(ps->stime_ns / 10000000),
	    ps->threads, (unsigned long)ps->vsize, (unsigned long)ps->rss_pages);
	put(b, "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 %lu 0 0 0 0 0\n",
	    (unsigned long)start_brk);
}

static void gen_stat_self(struct buf *b)
{
	long pgrp = abi->process_control(MOAT_PROC_GET_GROUP, 0, 0);
	struct moat_proc_stat ps = {
		.state = 'R', .ppid = proc.ppid, .pgrp = pgrp < 0 ? proc.pid : (int32_t)pgrp,
		.sid = proc.sid ? proc.sid : 1, .threads = (uint32_t)thread_count(),
		.utime_ns = (uint64_t)abi->system_time(MOAT_CLOCK_PROCESS_CPU),
	};
	put_stat(b, proc.pid, proc.comm[0] ? proc.comm : "?", &ps, proc.brk_start);
}

/* The file systems as the picoprocess sees them: one root made of its
 * mappings, the pseudo /proc, and the private /tmp and /dev/shm. */
static const char *const mount_points[][2] = {
	{ "/", "moat" }, { "/proc", "proc" }, { "/tmp", "tmpfs" }, { "/dev/shm", "tmpfs" },
};

static void gen_mounts(struct buf *b)
{
	for (size_t i = 0; i < RT_ARRAY_LEN(mount_points); i++)
		put(b, "%s %s %s rw 0 0\n", mount_points[i][1], mount_points[i][0],
		    mount_points[i][1]);
}

static void gen_mountinfo(struct buf *b)
{
	for (size_t i = 0; i < RT_ARRAY_LEN(mount_points); i++)
		put(b, "%zu %d 0:%zu / %s rw - %s %s rw\n", 20 + i, i ? 20 : 1, 40 + i,
		    mount_points[i][0], mount_points[i][1], mount_points[i][1]);
}

static void gen_cpuinfo(struct buf *b)
{
	uint32_t regs[12];
	for (uint32_t i = 0; i < 3; i++) {
		uint32_t a = 0x80000002 + i, bb, c, d;
		__asm__ volatile("cpuid" : "+a"(a), "=b"(bb), "=c"(c), "=d"(d));
		regs[4 * i] = a, regs[4 * i + 1] = bb, regs[4 * i + 2] = c, regs[4 * i + 3] = d;
	}
	char model[49];
	memcpy(model, regs, 48);
	model[48] = 0;
	for (uint32_t cpu = 0; cpu < (boot->ncpus ? boot->ncpus : 1); cpu++)
		put(b, "processor\t: %u\nvendor_id\t: moat\nmodel name\t: %s\n"
		       "cpu cores\t: %u\nflags\t\t: fpu sse sse2\n\n",
		    cpu, model, boot->ncpus);
}

static void gen_meminfo(struct buf *b)
{
	uint64_t kb = boot->mem_bytes / 1024;
	put(b, "MemTotal:       %lu kB\nMemFree:        %lu kB\nMemAvailable:   %lu kB\n"
	       "SwapTotal:             0 kB\nSwapFree:              0 kB\n",
	    kb, kb / 2, kb / 2);
}

static void gen_stat(struct buf *b)
{
	put(b, "cpu  0 0 0 0 0 0 0 0 0 0\n");
	for (uint32_t cpu = 0; cpu < (boot->ncpus ? boot->ncpus : 1); cpu++)
		put(b, "cpu%u 0 0 0 0 0 0 0 0 0 0\n", cpu);
	put(b, "btime %ld\nprocesses 1\nprocs_running 1\n",
	    abi->system_time(MOAT_CLOCK_REALTIME) / 1000000000);
}

static void gen_vector(struct buf *b, char *const *v)
{
	for (; v && *v; v++) {
		put(b, "%s", *v);
		put(b, "%c", 0);
	}
}

static void dirent(struct buf *b, const char *name, uint8_t type)
{
	size_t n = strlen(name), reclen = RT_ALIGN_UP(19 + n + 1, 8);
	char rec[300];
	if (reclen > sizeof(rec))
		return;
	memset(rec, 0, reclen);
	struct moat_dirent *d = (void *)rec;
	d->ino = 1000 + b->len;
	d->next = (int64_t)(b->len + reclen);
	d->reclen = (uint16_t)reclen;
	d->type = type;
	memcpy(d->name, name, n);
	for (size_t i = 0; i < reclen; i++)
		put(b, "%c", rec[i]);
}

struct entry {
	const char *path;
	int kind;                 /* MOAT_KIND_FILE, _DIR, _SYMLINK */
	void (*gen)(struct buf *);
	const char *text;         /* fixed content */
};

static void put_line(void *ctx, const char *line)
{
	put(ctx, "%s", line);
}

static void gen_maps(struct buf *b) { vma_print(put_line, b); }
static void gen_sysv_shm(struct buf *b) { ipc_print('s', put_line, b); }
static void gen_sysv_sem(struct buf *b) { ipc_print('e', put_line, b); }
static void gen_sysv_msg(struct buf *b) { ipc_print('m', put_line, b); }
static void gen_cmdline(struct buf *b) { gen_vector(b, proc.argv); }
static void gen_environ(struct buf *b) { gen_vector(b, proc.envp); }
static void gen_online(struct buf *b) { put(b, boot->ncpus > 1 ? "0-%u\n" : "0\n", boot->ncpus - 1); }
static void gen_generation(struct buf *b) { put(b, "%u\n", libos_generation); }
static void gen_uptime(struct buf *b)
{
	long ns = abi->system_time(MOAT_CLOCK_MONOTONIC);
	put(b, "%ld.%02ld 0.00\n", ns / 1000000000, ns % 1000000000 / 10000000);
}

static const struct entry entries[] = {
	{ "/proc", MOAT_KIND_DIR, 0, 0 },
	{ "/proc/self", MOAT_KIND_DIR, 0, 0 },
	{ "/proc/self/fd", MOAT_KIND_DIR, 0, 0 },
	{ "/proc/self/exe", MOAT_KIND_SYMLINK, 0, 0 },
	{ "/proc/self/cwd", MOAT_KIND_SYMLINK, 0, 0 },
	{ "/proc/self/status", MOAT_KIND_FILE, gen_status, 0 },
	{ "/proc/self/maps", MOAT_KIND_FILE, gen_maps, 0 },
	{ "/proc/self/stat", MOAT_KIND_FILE, gen_stat_self, 0 },
	{ "/proc/self/cmdline", MOAT_KIND_FILE, gen_cmdline, 0 },
	{ "/proc/self/environ", MOAT_KIND_FILE, gen_environ, 0 },
	{ "/proc/self/mounts", MOAT_KIND_FILE, gen_mounts, 0 },
	{ "/proc/self/mountinfo", MOAT_KIND_FILE, gen_mountinfo, 0 },
	{ "/proc/mounts", MOAT_KIND_FILE, gen_mounts, 0 },
	{ "/proc/cpuinfo", MOAT_KIND_FILE, gen_cpuinfo, 0 },
	{ "/proc/meminfo", MOAT_KIND_FILE, gen_meminfo, 0 },
	{ "/proc/stat", MOAT_KIND_FILE, gen_stat, 0 },
	{ "/proc/uptime", MOAT_KIND_FILE, gen_uptime, 0 },
	{ "/proc/loadavg", MOAT_KIND_FILE, 0, "0.00 0.00 0.00 1/1 1\n" },
	{ "/proc/moat", MOAT_KIND_DIR, 0, 0 },
	{ "/proc/moat/generation", MOAT_KIND_FILE, gen_generation, 0 },
	{ "/proc/sys", MOAT_KIND_DIR, 0, 0 },
	{ "/proc/sys/kernel", MOAT_KIND_DIR, 0, 0 },
	{ "/proc/sys/kernel/ostype", MOAT_KIND_FILE, 0, "Linux\n" },
	{ "/proc/sys/kernel/osrelease", MOAT_KIND_FILE, 0, "6.1.0-moat\n" },
	{ "/proc/sys/kernel/version", MOAT_KIND_FILE, 0, "#1 SMP moat picoprocess\n" },
	{ "/proc/sys/kernel/hostname", MOAT_KIND_FILE, 0, "moat\n" },
	{ "/proc/sys/kernel/domainname", MOAT_KIND_FILE, 0, "(none)\n" },
	{ "/proc/sys/kernel/pid_max", MOAT_KIND_FILE, 0, "4194304\n" },
	{ "/proc/sys/kernel/ngroups_max", MOAT_KIND_FILE, 0, "65536\n" },
	/* System V IPC and POSIX message queues: the limits of ipc.h */
	{ "/proc/sys/kernel/shmmax", MOAT_KIND_FILE, 0, "1099511627776\n" },
	{ "/proc/sys/kernel/shmall", MOAT_KIND_FILE, 0, "268435456\n" },
	{ "/proc/sys/kernel/shmmni", MOAT_KIND_FILE, 0, "128\n" },
	{ "/proc/sys/kernel/sem", MOAT_KIND_FILE, 0, "250\t32000\t500\t128\n" },
	{ "/proc/sys/kernel/msgmax", MOAT_KIND_FILE, 0, "8192\n" },
	{ "/proc/sys/kernel/msgmnb", MOAT_KIND_FILE, 0, "16384\n" },
	{ "/proc/sys/kernel/msgmni", MOAT_KIND_FILE, 0, "64\n" },
	{ "/proc/sys/fs", MOAT_KIND_DIR, 0, 0 },
	{ "/proc/sys/fs/mqueue", MOAT_KIND_DIR, 0, 0 },
	{ "/proc/sys/fs/mqueue/queues_max", MOAT_KIND_FILE, 0, "64\n" },
	{ "/proc/sys/fs/mqueue/msg_max", MOAT_KIND_FILE, 0, "10\n" },
	{ "/proc/sys/fs/mqueue/msgsize_max", MOAT_KIND_FILE, 0, "8192\n" },
	{ "/proc/sys/fs/mqueue/msg_default", MOAT_KIND_FILE, 0, "10\n" },
	{ "/proc/sys/fs/mqueue/msgsize_default", MOAT_KIND_FILE, 0, "8192\n" },
	{ "/proc/sysvipc", MOAT_KIND_DIR, 0, 0 },
	{ "/proc/sysvipc/shm", MOAT_KIND_FILE, gen_sysv_shm, 0 },
	{ "/proc/sysvipc/sem", MOAT_KIND_FILE, gen_sysv_sem, 0 },
	{ "/proc/sysvipc/msg", MOAT_KIND_FILE, gen_sysv_msg, 0 },
	{ "/proc/sys/vm", MOAT_KIND_DIR, 0, 0 },
	{ "/proc/sys/vm/overcommit_memory", MOAT_KIND_FILE, 0, "0\n" },
	{ "/sys", MOAT_KIND_DIR, 0, 0 },
	{ "/sys/devices", MOAT_KIND_DIR, 0, 0 },
	{ "/sys/devices/system", MOAT_KIND_DIR, 0, 0 },
	{ "/sys/devices/system/cpu", MOAT_KIND_DIR, 0, 0 },
	{ "/sys/devices/system/cpu/online", MOAT_KIND_FILE, gen_online, 0 },
	{ "/sys/devices/system/cpu/possible", MOAT_KIND_FILE, gen_online, 0 },
};

/* Is 'fd' in "/proc/self/fd/N" an open descriptor?  Returns N or -1. */
static int fd_entry(const char *path)
{
	if (strncmp(path, "/proc/self/fd/", 14))
		return -1;
	int n = 0;
	const char *p = path + 14;
	if (!*p)
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || n > 100000)
			return -1;
		n = n * 10 + (*p - '0');
	}
	return fs_fd_open(n) ? n : -1;
}

static const struct entry *find(const char *path)
{
	for (size_t i = 0; i < RT_ARRAY_LEN(entries); i++)
		if (!strcmp(entries[i].path, path))
			return &entries[i];
	return NULL;
}

int procfs_owns(const char *path)
{
	return !strcmp(path, "/proc") || !strncmp(path, "/proc/", 6) ||
	       !strcmp(path, "/sys") || !strncmp(path, "/sys/", 5);
}

/* Children of a pseudo directory, for its listing. */
static void gen_dir(struct buf *b, const char *dir)
{
	size_t dl = strlen(dir);
	dirent(b, ".", 4);
	dirent(b, "..", 4);
	if (!strcmp(dir, "/proc/self/fd")) {
		for (int fd = 0; fd < LIBOS_MAX_FDS; fd++) {
			char name[16];
			if (!fs_fd_open(fd))
				continue;
			rt_snprintf(name, sizeof(name), "%d", fd);
			dirent(b, name, 10 /* DT_LNK */);
		}
		return;
	}
	if (!strcmp(dir, "/proc")) {
		char pid[16];
		rt_snprintf(pid, sizeof(pid), "%d", proc.pid);
		dirent(b, pid, 4);
	}
	for (size_t i = 0; i < RT_ARRAY_LEN(entries); i++) {
		const char *p = entries[i].path;
		if (strncmp(p, dir, dl) || p[dl] != '/' || strchr(p + dl + 1, '/'))
			continue;
		dirent(b, p + dl + 1, entries[i].kind == MOAT_KIND_DIR ? 4
				      : entries[i].kind == MOAT_KIND_SYMLINK ? 10 : 8);
	}
}

/* /proc/PID and /proc/PID/{stat,status} of another process of the
 * picoprocess: 1 and *pid for those paths, 0 for any other.  (Its own
 * pid was made /proc/self by self_path.) */
static int other_path(const char *path, int *pid, const char **rest)
{
	if (strncmp(path, "/proc/", 6) || path[6] < '1' || path[6] > '9')
		return 0;
	long n = 0;
	const char *p = path + 6;
	for (; *p >= '0' && *p <= '9' && n < 0x40000000; p++)
		n = n * 10 + (*p - '0');
	if (*p && strcmp(p, "/stat") && strcmp(p, "/status"))
		return 0;
	*pid = (int)n;
	*rest = p;
	return 1;
}

/* What the monitor says of another process (MOAT_PROC_STAT), in the
 * layout of the process's own files. */
static long gen_other(int pid, const char *rest, struct moat_attr *a, struct buf *b)
{
	struct moat_proc_stat ps;
	if (abi->process_control(MOAT_PROC_STAT, pid, (int64_t)(uintptr_t)&ps) < 0)
		return -ENOENT;
	int dir = !*rest;
	*a = (struct moat_attr){ .kind = dir ? MOAT_KIND_DIR : MOAT_KIND_FILE, .nlink = 1,
				 .blksize = 4096, .mode = dir ? 0555 : 0444, .uid = proc.uid,
				 .gid = proc.gid, .ino = 0x80000 + (uint64_t)pid, .dev = 0x4d4f4154 };
	if (!b)
		return 0;
	char state = (char)ps.state;
	if (dir) {
		dirent(b, ".", 4);
		dirent(b, "..", 4);
		dirent(b, "stat", 8);
		dirent(b, "status", 8);
	} else if (!strcmp(rest, "/stat")) {
		/* The host's name is moat-pico's; the app's is its LibOS's. */
		put_stat(b, pid, "?", &ps, 0);
	} else {
		put(b, "Name:\t?\nState:\t%c\nTgid:\t%d\nPid:\t%d\nPPid:\t%d\nThreads:\t%u\n",
		    state, pid, pid, ps.ppid, ps.threads);
	}
	return 0;
}

/* Describe or read a pseudo path.  Returns 0 and fills *a (and, if
 * content is not NULL, a kmalloc'd *content of *len bytes), or -ENOENT. */
long procfs_get(const char *path, struct moat_attr *a, char **content, size_t *len)
{
	char tmp[MOAT_URI_MAX];
	path = self_path(path, tmp, sizeof(tmp));
	int pid;
	const char *rest;
	if (other_path(path, &pid, &rest)) {
		struct buf b = { 0 };
		long r = gen_other(pid, rest, a, content ? &b : NULL);
		if (r < 0 || !content) {
			kfree(b.p);
			return r;
		}
		*content = b.p;
		*len = b.len;
		return 0;
	}
	const struct entry *e = find(path);
	int fd = e ? -1 : fd_entry(path);
	if (!e && fd < 0)
		return -ENOENT;
	int kind = e ? e->kind : MOAT_KIND_SYMLINK;
	*a = (struct moat_attr){ .kind = (uint32_t)kind, .nlink = 1, .blksize = 4096,
				 .mode = kind == MOAT_KIND_DIR ? 0555 : kind == MOAT_KIND_SYMLINK ? 0777 : 0444,
				 .uid = proc.uid, .gid = proc.gid, .ino = 0x70000 + (uint64_t)(e ? e - entries : fd),
				 .dev = 0x4d4f4154 };
	if (!content)
		return 0;
	struct buf b = { 0 };
	if (kind == MOAT_KIND_DIR)
		gen_dir(&b, path);
	else if (e && e->gen)
		e->gen(&b);
	else if (e && e->text)
		put(&b, "%s", e->text);
	*content = b.p;
	*len = b.len;
	return 0;
}

/* The target of a pseudo symbolic link. */
long procfs_readlink(const char *path, char *out, size_t len)
{
	char tmp[MOAT_URI_MAX], target[MOAT_URI_MAX];
	if (!strcmp(path, "/proc/self") || !strcmp(path, "/proc/thread-self")) {
		rt_snprintf(target, sizeof(target), "%d", proc.pid);
	} else {
		path = self_path(path, tmp, sizeof(tmp));
		int fd = fd_entry(path);
		if (!strcmp(path, "/proc/self/exe"))
			rt_strlcpy(target, proc.exe_path, sizeof(target));
		else if (!strcmp(path, "/proc/self/cwd"))
			rt_strlcpy(target, proc.cwd, sizeof(target));
		else if (fd < 0 || fs_fd_describe(fd, target, sizeof(target)) < 0)
			return find(path) ? -EINVAL : -ENOENT;
	}
	size_t n = strlen(target);
	if (n > len)
		n = len;
	return copy_to_user(out, target, n) < 0 ? -EFAULT : (long)n;
}
