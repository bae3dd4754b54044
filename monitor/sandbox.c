/*
 * sandbox.c -- turning a fork of the monitor into a picoprocess.
 *
 * The child gets new user, pid, net, mount, ipc, uts and cgroup
 * namespaces, an empty read-only root, host uid "nobody" (or the caller's
 * own uid when not root), no capabilities after exec, rlimits,
 * no_new_privs, and a Landlock domain that grants nothing but executing
 * moat-pico through the descriptor already open.  Then it execs moat-pico,
 * whose first act is to install the seccomp filter from the boot block.
 * Errors before exec come back to the parent on a close-on-exec pipe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/landlock.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "monitor_int.h"
#include "moat/extension.h"

#define INSIDE_ID 1000      /* host identity seen from inside the userns */
#define NOBODY 65534

/* directfs: the mappings whose host directory the picoprocess gets. */
struct donations {
	int n;
	const char *vpaths[MOAT_DIRFS_MAX];
	int fds[MOAT_DIRFS_MAX];
};

/* Landlock attribute with the fields newer kernels know. */
struct ll_ruleset_attr {
	uint64_t fs, net, scoped;
};

static _Noreturn void child_fail(int errfd, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(errno)) + n;
	if (write(errfd, buf, (size_t)n) < 0)
		_exit(126);
	_exit(126);
}

/* A short write is a failure too: these files take one value per write. */
int moat_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	int saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int map_ids(pid_t pid)
{
	char path[64], text[64];
	unsigned outer_uid = getuid() == 0 ? NOBODY : getuid();
	unsigned outer_gid = getuid() == 0 ? NOBODY : getgid();
	snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
	if (moat_write_file(path, "deny") < 0)
		return -1;
	/* A root monitor also maps host root to root inside, so that the
	 * PAL's own stat (directfs) shows root-owned files as the monitor
	 * does.  The picoprocess never runs as root inside: it is uid 1000
	 * from before exec, without capabilities, no_new_privs, and the
	 * filter allows no call that changes ids. */
	const char *root = getuid() == 0 ? "\n0 0 1" : "";
	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	snprintf(text, sizeof(text), "%d %u 1%s", INSIDE_ID, outer_uid, root);
	if (moat_write_file(path, text) < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
	snprintf(text, sizeof(text), "%d %u 1%s", INSIDE_ID, outer_gid, root);
	return moat_write_file(path, text);
}

/* directfs: each donated directory becomes the root of a detached copy
 * of its mount tree (open_tree, OPEN_TREE_CLONE, recursive), where '..'
 * stays at the root: through it, nothing above the mapping can be named.
 * The monitor's descriptor names the directory in the monitor's mount
 * namespace, so the copy is made by its path in the child's own copy of
 * that namespace, and must be the very same directory; if not, or on any
 * failure, the slot stays empty and the PAL asks the monitor.  The copy
 * is made read-only, nodev, nosuid and noexec throughout, whatever the
 * host's mounts are: a second wall behind the filter, which lets nothing
 * open through it anyway. */
static void detach_donations(struct donations *d)
{
	for (int i = 0; i < d->n; i++) {
		char link[64], path[PATH_MAX];
		struct stat a, b;
		int t = -1;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", d->fds[i]);
		ssize_t n = readlink(link, path, sizeof(path) - 1);
		if (n > 0 && path[0] == '/') {
			path[n] = 0;
			t = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE |
					 OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
		}
		struct mount_attr ma = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
						     MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC };
		if (t >= 0 && (syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH | AT_RECURSIVE,
				       &ma, sizeof(ma)) < 0 ||
			       fstat(t, &a) < 0 || fstat(d->fds[i], &b) < 0 ||
			       !S_ISDIR(a.st_mode) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)) {
			close(t);
			t = -1;
		}
		d->fds[i] = t;
	}
}

static void empty_root(int errfd, struct donations *d)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail(errfd, "making mounts private");
	detach_donations(d);
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,nr_inodes=4,mode=0555") < 0)
		child_fail(errfd, "mounting the empty root");
	if (chdir("/tmp") < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		child_fail(errfd, "pivot_root to the empty root");
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		child_fail(errfd, "detaching the host root");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV |
			MS_NOEXEC, NULL) < 0)
		child_fail(errfd, "making the root read-only");
}

static void set_limit(int res, uint64_t value, int errfd)
{
	struct rlimit rl = { value, value };
	if (setrlimit(res, &rl) < 0)
		child_fail(errfd, "setting resource limit %d", res);
}

/* rlimits: those of the manifest that no cgroup enforces, and the ones
 * only an rlimit can set.  RLIMIT_NOFILE leaves room for the PAL's own
 * descriptors (channel, console placeholders, and up to 32 wake pipes of
 * threads waiting on streams) beside the app's 'files', which the LibOS's
 * descriptor table enforces. */
static void apply_limits(const struct pico *pp, const struct moat_limits *l, int errfd)
{
	set_limit(RLIMIT_CORE, 0, errfd);
	set_limit(RLIMIT_NOFILE, l->files ? l->files + 72 : 4096, errfd);
	if (l->memory && !(pp->cg_enforced & MOAT_CG_MEMORY))
		set_limit(RLIMIT_AS, l->memory, errfd);
	if (l->file_size)
		set_limit(RLIMIT_FSIZE, l->file_size, errfd);
	if (l->cpu_seconds) {
		/* SIGXCPU at the soft limit, SIGKILL a second later */
		struct rlimit rl = { l->cpu_seconds, l->cpu_seconds + 1 };
		if (setrlimit(RLIMIT_CPU, &rl) < 0)
			child_fail(errfd, "setting resource limit %d", RLIMIT_CPU);
	}
	if (l->processes && !(pp->cg_enforced & MOAT_CG_PIDS))
		set_limit(RLIMIT_NPROC, l->processes, errfd);
}

/* Deny every filesystem right Landlock knows, plus TCP and (ABI >= 6)
 * signals and abstract sockets beyond the domain; allow only executing
 * and reading moat-pico through 'pico_fd'. */
static void landlock_seal(int pico_fd, int errfd)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
			   LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return; /* not available: namespaces and seccomp still hold */
	struct ll_ruleset_attr attr = { .fs = (1ULL << 13) - 1 };
	size_t size = sizeof(uint64_t);
	if (abi >= 2)
		attr.fs |= 1ULL << 13; /* REFER */
	if (abi >= 3)
		attr.fs |= 1ULL << 14; /* TRUNCATE */
	if (abi >= 5)
		attr.fs |= 1ULL << 15; /* IOCTL_DEV */
	if (abi >= 4) {
		attr.net = 3; /* BIND_TCP | CONNECT_TCP */
		size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		attr.scoped = 3; /* ABSTRACT_UNIX_SOCKET | SIGNAL */
		size = 3 * sizeof(uint64_t);
	}
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (rs < 0)
		child_fail(errfd, "creating the Landlock ruleset");
	struct landlock_path_beneath_attr pb = {
		.allowed_access = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE,
		.parent_fd = pico_fd,
	};
	if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
		child_fail(errfd, "adding the Landlock rule for moat-pico");
	if (syscall(SYS_landlock_restrict_self, rs, 0) < 0)
		child_fail(errfd, "entering the Landlock domain");
	close(rs);
}

/* Move fds to their fixed numbers without clobbering each other; the
 * donated directories (directfs) go to MOAT_DIRFS_FD on, open across
 * exec. */
static void place_fds(int chan, int boot, int pico, int errfd,
		      struct donations *d)
{
	int hi_chan = fcntl(chan, F_DUPFD_CLOEXEC, 100);
	int hi_boot = fcntl(boot, F_DUPFD_CLOEXEC, 100);
	int hi_pico = fcntl(pico, F_DUPFD_CLOEXEC, 100);
	int hi_dirs[MOAT_DIRFS_MAX];
	for (int i = 0; i < d->n; i++)
		if ((hi_dirs[i] = d->fds[i] < 0 ? -1 : fcntl(d->fds[i], F_DUPFD_CLOEXEC, 100)) < 0 &&
		    d->fds[i] >= 0)
			child_fail(errfd, "placing descriptors");
	/* Every descriptor needed is above 100 now, so none of 3-6 and
	 * MOAT_DIRFS_FD on is still needed where it is. */
	int hi_err = fcntl(errfd, F_DUPFD_CLOEXEC, 100);
	if (hi_err < 0 || dup3(hi_err, 6, O_CLOEXEC) < 0)
		_exit(126);
	if (hi_chan < 0 || hi_boot < 0 || hi_pico < 0 ||
	    dup2(hi_chan, MOAT_CHANNEL_FD) < 0 || dup2(hi_boot, MOAT_BOOT_FD) < 0 ||
	    dup3(hi_pico, 5, O_CLOEXEC) < 0)
		child_fail(6, "placing descriptors");
	for (int i = 0; i < d->n; i++) {
		if (hi_dirs[i] < 0)
			close(MOAT_DIRFS_FD + i); /* an empty slot: the PAL asks */
		else if (dup2(hi_dirs[i], MOAT_DIRFS_FD + i) < 0)
			child_fail(6, "placing descriptors");
	}
	syscall(SYS_close_range, MOAT_DIRFS_FD + d->n, ~0U, 0);
}

static _Noreturn void child_main(int sync_fd, int errfd, int chan, int boot,
				 int pico, const struct pico *pp,
				 const struct moat_manifest *m, struct donations *d)
{
	char c;
	if (read(sync_fd, &c, 1) != 1)
		_exit(126);
	signal(SIGPIPE, SIG_DFL);
	empty_root(errfd, d);
	if (sethostname("moat", 4) < 0)
		child_fail(errfd, "setting the hostname");
	place_fds(chan, boot, pico, errfd, d);
	errfd = 6;
	/* A session and process group of its own: kill(0) and the app's
	 * groups can then name none of moat's neighbours (the shell's job
	 * that ran moat), whatever the kernel's Landlock can scope. */
	if (setsid() < 0)
		child_fail(errfd, "starting a session of its own");
	if (setresgid(INSIDE_ID, INSIDE_ID, INSIDE_ID) < 0 ||
	    setresuid(INSIDE_ID, INSIDE_ID, INSIDE_ID) < 0)
		child_fail(errfd, "dropping to the unprivileged identity");
	/* The picoprocess dies with its monitor.  Set after the identity
	 * change, which clears it; a monitor that died before is seen as the
	 * hang-up of the channel, whose other end only it holds. */
	struct pollfd hup = { MOAT_CHANNEL_FD, 0, 0 };
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || poll(&hup, 1, 0) != 0)
		_exit(126);
	apply_limits(pp, &m->limits, errfd);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(errfd, "setting no_new_privs");
	landlock_seal(5, errfd);
	char *argv[] = { "moat-pico", NULL }, *envp[] = { NULL };
	syscall(SYS_execveat, 5, "", argv, envp, AT_EMPTY_PATH);
	child_fail(errfd, "executing moat-pico");
}

static void stdio_info(int fd, struct moat_stdio_info *si)
{
	struct winsize ws;
	memset(si, 0, sizeof(*si));
	if (!isatty(fd))
		return;
	si->is_tty = 1;
	if (ioctl(fd, TCGETS, si->termios) < 0)
		si->is_tty = 0;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0)
		si->rows = ws.ws_row, si->cols = ws.ws_col;
}

/* Write the boot block into a sealed memfd. */
static int boot_block(const struct moat_manifest *m,
		      const struct moat_launch_options *opt, const struct donations *d,
		      char *err, size_t errlen)
{
	size_t flen;
	struct sock_filter *filter = moat_filter_build(&flen, err, errlen);
	if (!filter)
		return -1;
	struct moat_boot_block bb = {
		.magic = MOAT_BOOT_MAGIC, .version = MOAT_ABI_VERSION,
		.flags = (opt->debug || opt->trace ? MOAT_BOOT_DEBUG : 0) |
			 (opt->trace ? MOAT_BOOT_TRACE : 0) |
			 (opt->no_rewrite || m->no_rewrite ? MOAT_BOOT_NO_REWRITE : 0),
		.filter_len = (uint32_t)flen, .argc = (uint32_t)m->argc,
		.envc = (uint32_t)m->envc, .uid = (uint32_t)m->uid,
		.gid = (uint32_t)m->gid,
	};
	for (int i = 0; i < 3; i++)
		stdio_info(i, &bb.stdio[i]);
	cpu_set_t cpus;
	bb.ncpus = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? (uint32_t)CPU_COUNT(&cpus) : 1;
	bb.mem_bytes = m->limits.memory ? m->limits.memory
		       : (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
	bb.max_files = (uint32_t)(m->limits.files > 1U << 20 ? 1U << 20 : m->limits.files);
	char exe[MOAT_PATH_MAX + 8];
	snprintf(exe, sizeof(exe), "file:%s", m->entry);
	size_t slen = strlen(exe) + 1 + strlen(m->cwd) + 1;
	for (int i = 0; i < m->argc; i++)
		slen += strlen(m->argv[i]) + 1;
	for (int i = 0; i < m->envc; i++)
		slen += strlen(m->env[i]) + 1;
	for (int i = 0; i < m->nexts; i++) {
		/* Chosen through moat_manifest_add_ext, which checked them;
		 * once more, as the manifest struct is public. */
		if (moat_extension_check(m->exts[i].name, m->exts[i].options, err, errlen) < 0) {
			free(filter);
			return -1;
		}
		slen += strlen(m->exts[i].name) + 1 + strlen(m->exts[i].options) + 1;
	}
	for (int i = 0; i < d->n; i++)
		slen += strlen(d->vpaths[i]) + 1;
	bb.nexts = (uint32_t)m->nexts;
	bb.ndirs = (uint32_t)d->n;
	bb.dirs_uid = getuid() == 0 ? NOBODY : getuid();
	bb.dirs_gid = getuid() == 0 ? NOBODY : getgid();
	bb.dirs_root = getuid() == 0; /* map_ids */
	bb.strings_len = (uint32_t)slen;

	int fd = memfd_create("moat-boot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	FILE *f = fd < 0 ? NULL : fdopen(dup(fd), "w");
	if (!f) {
		snprintf(err, errlen, "cannot create the boot block: %s", strerror(errno));
		free(filter);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fwrite(&bb, sizeof(bb), 1, f);
	fwrite(filter, sizeof(*filter), flen, f);
	fwrite(exe, strlen(exe) + 1, 1, f);
	fwrite(m->cwd, strlen(m->cwd) + 1, 1, f);
	for (int i = 0; i < m->argc; i++)
		fwrite(m->argv[i], strlen(m->argv[i]) + 1, 1, f);
	for (int i = 0; i < m->envc; i++)
		fwrite(m->env[i], strlen(m->env[i]) + 1, 1, f);
	for (int i = 0; i < m->nexts; i++) {
		fwrite(m->exts[i].name, strlen(m->exts[i].name) + 1, 1, f);
		fwrite(m->exts[i].options, strlen(m->exts[i].options) + 1, 1, f);
	}
	for (int i = 0; i < d->n; i++)
		fwrite(d->vpaths[i], strlen(d->vpaths[i]) + 1, 1, f);
	int bad = ferror(f);
	fclose(f);
	free(filter);
	if (bad || fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK |
						  F_SEAL_SEAL) < 0) {
		snprintf(err, errlen, "cannot write the boot block");
		close(fd);
		return -1;
	}
	return fd;
}

int moat_sandbox_spawn(struct pico *pp, const struct moat_manifest *m,
		       const struct moat_launch_options *opt, int *chanp,
		       char *err, size_t errlen)
{
	int chan[2] = { -1, -1 }, sync[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int boot = -1, pico = -1, rc = -1;
	pico = open(opt->pico_path, O_RDONLY | O_CLOEXEC);
	if (pico < 0) {
		snprintf(err, errlen, "cannot open %s: %s", opt->pico_path, strerror(errno));
		return -1;
	}
	struct donations d;
	d.n = moat_policy_donations(pp->policy, d.vpaths, d.fds, MOAT_DIRFS_MAX);
	if (pp->debug)
		fprintf(stderr, "moat: directfs: the picoprocess stats itself beneath %d "
			"read-only mapping%s\n", d.n, d.n == 1 ? "" : "s");
	boot = boot_block(m, opt, &d, err, errlen);
	if (boot < 0)
		goto out;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0 ||
	    pipe2(sync, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot create the channel: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID |
				   CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC |
				   CLONE_NEWUTS | CLONE_NEWCGROUP | SIGCHLD,
				   NULL, NULL, NULL, 0);
	if (pid < 0) {
		snprintf(err, errlen, "cannot create the picoprocess namespaces: %s",
			 strerror(errno));
		goto out;
	}
	if (pid == 0) {
		close(chan[0]);
		close(sync[1]);
		close(errp[0]);
		child_main(sync[0], errp[1], chan[1], boot, pico, pp, m, &d);
	}
	close(errp[1]);
	errp[1] = -1;
	moat_cgroup_attach(pp, pid);
	if (map_ids(pid) < 0 || write(sync[1], "x", 1) != 1) {
		snprintf(err, errlen, "cannot map the picoprocess's user ids: %s",
			 strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	char msg[256];
	ssize_t n = read(errp[0], msg, sizeof(msg) - 1);
	if (n > 0) {
		msg[n] = 0;
		snprintf(err, errlen, "cannot start the picoprocess: %s", msg);
		waitpid(pid, NULL, 0);
		goto out;
	}
	pp->pid = pid;
	*chanp = chan[0];
	chan[0] = -1;
	rc = 0;
out:
	for (int *fd = (int[]){ chan[0], chan[1], sync[0], sync[1], errp[0],
				errp[1], boot, pico, -2 }; *fd != -2; fd++)
		if (*fd >= 0)
			close(*fd);
	return rc;
}
