/*
 * process.c -- fork, execve, wait and signals between processes.
 *
 * fork is the PAL's process_fork: the child is a copy-on-write copy of
 * this process, LibOS state included, so nothing has to be serialised.
 * execve happens inside the same host process: the old program's
 * mappings (vma.c) are removed, close-on-exec descriptors closed, signal
 * handlers reset, and the new program loaded; the trapped 'syscall'
 * returns straight into the new program's entry point.
 */
#include <linux/fcntl.h>
#include <linux/sched.h>

#include "libos.h"
#include "uaccess.h"
#include "linux_abi.h"

#define MAX_ARG_BYTES (2 << 20)
#define MAX_INTERP_DEPTH 4

/* --- fork --- */

/* The LibOS's locks, outermost first, held across the host fork so that
 * the child's copies are all free (the PAL does the same for its own). */
static void fork_locks_take(void)
{
	timers_fork_lock();
	threads_fork_lock();
	vma_fork_lock();
	fs_fork_lock();
	heap_fork_lock();
}

static void fork_locks_release(void)
{
	heap_fork_unlock();
	fs_fork_unlock();
	vma_fork_unlock();
	threads_fork_unlock();
	timers_fork_unlock();
}

long process_clone(struct moat_context *ctx, uint64_t flags, uint64_t newsp,
		   int *ctid)
{
	/* posix_spawn's CLONE_VM|CLONE_VFORK becomes a plain fork whose child
	 * starts on the stack it was given: the child execs at once, so not
	 * sharing memory only loses the error word glibc writes back on a
	 * failed exec (the parent then sees exit status 127 instead). */
	int vfork_vm = (flags & (CLONE_VM | CLONE_VFORK)) == (CLONE_VM | CLONE_VFORK);
	if ((flags & CLONE_VM && !vfork_vm) ||
	    (flags & (CLONE_THREAD | CLONE_NEWNS | CLONE_NEWUSER |
		      CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS))) {
		klog("clone: flags %lx not supported for a new process",
		     (unsigned long)flags);
		return -EINVAL;
	}
	int32_t self = 0;
	/* No page half-patched by another thread goes into the child. */
	rewrite_fork_begin();
	fork_locks_take();
	long r = abi->process_fork(&self);
	fork_locks_release();
	rewrite_fork_end();
	if (r != 0)
		return r; /* parent: the child's pid, or an error */
	proc.ppid = proc.pid;
	proc.pid = self;
	proc.pdeathsig = 0; /* not inherited, as on Linux */
	timers_after_fork();
	ipc_after_fork();
	if (ctx && newsp)
		ctx->rsp = newsp;
	thread_after_fork(self, flags & CLONE_CHILD_CLEARTID ? ctid : NULL);
	if ((flags & CLONE_CHILD_SETTID) && ctid)
		put_user(ctid, self); /* a bad address is ignored, as on Linux */
	return 0;
}

long sys_fork(void)
{
	return process_clone(NULL, 17 /* SIGCHLD */, 0, NULL);
}

long sys_getppid(void)
{
	return proc.ppid;
}

/* --- wait --- */

long sys_wait4(int pid, int *status, int options, struct l_rusage *rusage)
{
	int32_t st = 0;
	/* WNOHANG WUNTRACED WCONTINUED __WNOTHREAD __WALL __WCLONE */
	if (options & ~(0x1 | 0x2 | 0x8 | 0x20000000 | 0x40000000 | 0x80000000))
		return -EINVAL;
	if (pid == (int)0x80000000) /* -INT_MIN is no process group */
		return -ESRCH;
	long r = abi->process_wait(pid, options & 1 ? MOAT_WAIT_NOHANG : 0, &st);
	if (r == -EINTR)
		return -ERESTARTSYS;
	/* As Linux: the child is reaped even when the status cannot be
	 * stored. */
	if (r > 0 && status && put_user(status, st) < 0)
		return -EFAULT;
	if (r >= 0 && rusage && clear_user(rusage, sizeof(*rusage)) < 0)
		return -EFAULT;
	return r;
}

long sys_waitid(int idtype, int id, struct l_siginfo *info, int options,
		struct l_rusage *rusage)
{
	int32_t st = 0;
	/* WNOHANG WSTOPPED WEXITED WCONTINUED WNOWAIT __WNOTHREAD __WALL __WCLONE */
	if (options & ~(0x1 | 0x2 | 0x4 | 0x8 | 0x01000000 | 0x20000000 | 0x40000000 |
			0x80000000))
		return -EINVAL;
	if (!(options & 4 /* WEXITED */))
		return -EINVAL;
	if (options & 0x01000000 /* WNOWAIT */) {
		klog("waitid: WNOWAIT is not supported");
		return -EINVAL;
	}
	int pid;
	if (idtype == 0) /* P_ALL */
		pid = -1;
	else if (idtype == 1 && id > 0) /* P_PID */
		pid = id;
	else if (idtype == 2 && id >= 0) /* P_PGID: 0 is the caller's */
		pid = -id;
	else
		return -EINVAL; /* P_PIDFD, or a bad id */
	long r = abi->process_wait(pid, options & 1 ? MOAT_WAIT_NOHANG : 0, &st);
	if (r < 0)
		return r == -EINTR ? -ERESTARTSYS : r;
	if (info) {
		struct l_siginfo si = { 0 };
		if (r > 0) {
			int sig = st & 0x7f;
			si.signo = 17;
			si.code = sig ? ((st & 0x80) ? 3 : 2) : 1;
			si.chld.pid = (int)r;
			si.chld.status = sig ? sig : (st >> 8) & 0xff;
		}
		if (copy_to_user(info, &si, sizeof(si)) < 0)
			return -EFAULT;
	}
	if (rusage && clear_user(rusage, sizeof(*rusage)) < 0)
		return -EFAULT;
	return 0;
}

/* --- signals to other processes --- */

long process_kill(int pid, int sig)
{
	if (sig < 0 || sig > 64)
		return -EINVAL;
	if (pid == proc.pid)
		return sig ? signal_raise_from_self(sig, 0 /* SI_USER */) : 0;
	return abi->process_control(MOAT_PROC_SIGNAL, pid, sig);
}

/* --- execve --- */

struct exec_args {
	char *path;      /* absolute virtual path of the file to load */
	char **argv, **envp;
	int argc, envc;
};

static void args_free(struct exec_args *a);

/* The running program's argv and envp move into proc (for /proc/self);
 * the previous program's are freed. */
static void args_keep(struct exec_args *a)
{
	struct exec_args old = { .argv = proc.argv, .envp = proc.envp };
	while (old.argv && old.argv[old.argc])
		old.argc++;
	while (old.envp && old.envp[old.envc])
		old.envc++;
	proc.argv = a->argv;
	proc.envp = a->envp;
	a->argv = a->envp = NULL;
	a->argc = a->envc = 0;
	args_free(&old);
	const char *base = strrchr(a->path, '/');
	rt_strlcpy(proc.comm, base ? base + 1 : a->path, sizeof(proc.comm));
}

static void args_free(struct exec_args *a)
{
	for (int i = 0; i < a->argc; i++)
		kfree(a->argv[i]);
	for (int i = 0; i < a->envc; i++)
		kfree(a->envp[i]);
	kfree(a->argv);
	kfree(a->envp);
	kfree(a->path);
}

/* Copy one string of the app (at most 'left' bytes with its NUL):
 * 0, -EFAULT, -E2BIG or -ENOMEM. */
static long copy_string(const char *usrc, char **out, size_t *bytes)
{
	long len = strnlen_user(usrc, MAX_ARG_BYTES + 1 - *bytes);
	if (len < 0)
		return len;
	*bytes += (size_t)len + 1;
	if (*bytes > MAX_ARG_BYTES)
		return -E2BIG;
	char *s = kmalloc((size_t)len + 1);
	if (!s)
		return -ENOMEM;
	if (copy_from_user(s, usrc, (size_t)len) < 0) {
		kfree(s);
		return -EFAULT;
	}
	s[len] = 0;
	*out = s;
	return 0;
}

/* Copy a NULL-terminated string vector out of the app. */
static long copy_vector(char *const *src, char ***out, int *count, size_t *bytes)
{
	int n = 0;
	for (char *p; src; n++) {
		if (get_user(&p, src + n) < 0)
			return -EFAULT;
		if (!p)
			break;
		if ((size_t)n * sizeof(char *) > MAX_ARG_BYTES)
			return -E2BIG;
	}
	char **v = kzalloc((size_t)(n + 1) * sizeof(char *));
	if (!v)
		return -ENOMEM;
	*out = v;
	for (int i = 0; i < n; i++) {
		char *p;
		long r = get_user(&p, src + i);
		if (r == 0)
			r = p ? copy_string(p, &v[i], bytes) : -EFAULT; /* changed meanwhile */
		if (r < 0) {
			*count = i;
			return r;
		}
	}
	*count = n;
	return 0;
}

/* Read the first line of a "#!" script: interpreter and optional arg. */
static long script_interp(moat_handle h, char *interp, size_t len, char *arg)
{
	char buf[256];
	long n = abi->stream_read(h, 0, buf, sizeof(buf) - 1);
	if (n < 2 || buf[0] != '#' || buf[1] != '!')
		return 0;
	buf[n] = 0;
	char *p = buf + 2, *end = strchr(p, '\n');
	if (!end)
		return -ENOEXEC;
	*end = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	char *q = p;
	while (*q && *q != ' ' && *q != '\t')
		q++;
	if (q == p || (size_t)(q - p) >= len)
		return -ENOEXEC;
	memcpy(interp, p, (size_t)(q - p));
	interp[q - p] = 0;
	while (*q == ' ' || *q == '\t')
		q++;
	char *e = q + strlen(q);
	while (e > q && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = 0;
	rt_strlcpy(arg, q, 128);
	return 1;
}

/* Put interp [arg] script in front of argv[1..]. */
static long prepend_interp(struct exec_args *a, const char *interp,
			   const char *arg, const char *script)
{
	int extra = arg[0] ? 3 : 2;
	char **v = kzalloc((size_t)(a->argc + extra + 1) * sizeof(char *));
	if (!v)
		return -ENOMEM;
	int k = 0;
	v[k++] = kstrdup(interp);
	if (arg[0])
		v[k++] = kstrdup(arg);
	v[k++] = kstrdup(script);
	for (int i = 1; i < a->argc; i++)
		v[k++] = a->argv[i];
	if (a->argc)
		kfree(a->argv[0]);
	kfree(a->argv);
	a->argv = v;
	a->argc = k;
	return 0;
}

/* Resolve scripts to their interpreter and check the ELF file. */
static long exec_prepare(int dirfd, const char *upath, struct exec_args *a)
{
	char path[MOAT_URI_MAX], interp[256], arg[128];
	long r = copy_path(path, upath);
	if (r == 0)
		r = path_resolve(dirfd, upath, path);
	for (int depth = 0; r == 0; depth++) {
		struct moat_attr at;
		moat_handle h;
		char uri[URI_BUF_SIZE];
		path_to_uri(path, uri);
		r = abi->stream_attr_query(uri, 0, &at);
		if (r < 0)
			break;
		if (at.kind == MOAT_KIND_DIR || !(at.mode & 0111)) {
			r = -EACCES;
			break;
		}
		r = fs_open_stream(path, O_RDONLY, 0, &h);
		if (r < 0)
			break;
		r = script_interp(h, interp, sizeof(interp), arg);
		if (r == 0) {
			char magic[4];
			r = abi->stream_read(h, 0, magic, 4) == 4 &&
					    !memcmp(magic, "\177ELF", 4) ? 0 : -ENOEXEC;
			abi->object_close(h);
			if (r == 0)
				a->path = kstrdup(path);
			break;
		}
		abi->object_close(h);
		if (r < 0)
			break;
		if (depth == MAX_INTERP_DEPTH) {
			r = -ELOOP;
			break;
		}
		r = prepend_interp(a, interp, arg, path);
		if (r == 0)
			r = path_resolve(AT_FDCWD, interp, path);
		klog("exec: %s is a script for %s", a->argv[arg[0] ? 2 : 1], path);
	}
	return r;
}

static long process_execve(struct moat_context *ctx, int dirfd, const char *upath,
			   char *const *argv, char *const *envp)
{
	struct exec_args a = { 0 };
	size_t bytes = 0;
	long r = copy_vector(argv, &a.argv, &a.argc, &bytes);
	if (r == 0 && a.argc == 0) {
		/* As Linux since 5.18: no argv gets an empty argv[0]. */
		kfree(a.argv);
		a.argv = kzalloc(2 * sizeof(char *));
		r = a.argv && (a.argv[0] = kstrdup("")) ? 0 : -ENOMEM;
		a.argc = a.argv && a.argv[0] ? 1 : 0;
	}
	if (r == 0)
		r = copy_vector(envp, &a.envp, &a.envc, &bytes);
	if (r == 0)
		r = exec_prepare(dirfd, upath, &a);
	if (r < 0) {
		args_free(&a);
		return r;
	}
	/* The point of no return: the old program goes away. */
	ipc_exec();
	vma_clear_all();
	rewrite_reset();
	fs_close_on_exec();
	signal_reset_on_exec();
	identity_on_exec();
	timers_reset_on_exec();
	thread_set_fsbase(0);
	uint64_t entry, sp;
	r = exec_load(a.path, a.argv, a.envp, &entry, &sp);
	args_keep(&a);
	args_free(&a);
	if (r < 0) {
		klog("execve: the new program failed to load after the old one was gone");
		die_by_signal(9);
	}
	memset(ctx, 0, offsetof(struct moat_context, fsbase));
	ctx->rip = entry;
	ctx->rsp = sp;
	ctx->rflags = 0x202;
	return 0;
}

/* execve replaces the caller's context with the new program's entry. */
long sys_execve(struct moat_context *c)
{
	return process_execve(c, AT_FDCWD, (const char *)c->rdi, (char *const *)c->rsi,
			      (char *const *)c->rdx);
}

long sys_execveat(struct moat_context *c)
{
	return process_execve(c, (int)c->rdi, (const char *)c->rsi, (char *const *)c->rdx,
			      (char *const *)c->r10);
}

/* The program the manifest names, started by init: scripts too. */
_Noreturn void process_exec_first(const char *path, char **argv, char **envp)
{
	struct exec_args a = { 0 };
	size_t bytes = 0;
	uint64_t entry, sp;
	long r = copy_vector(argv, &a.argv, &a.argc, &bytes);
	if (r == 0 && a.argc == 0) {
		/* As Linux since 5.18: no argv gets an empty argv[0]. */
		kfree(a.argv);
		a.argv = kzalloc(2 * sizeof(char *));
		r = a.argv && (a.argv[0] = kstrdup("")) ? 0 : -ENOMEM;
		a.argc = a.argv && a.argv[0] ? 1 : 0;
	}
	if (r == 0)
		r = copy_vector(envp, &a.envp, &a.envc, &bytes);
	if (r == 0)
		r = exec_prepare(AT_FDCWD, path, &a);
	if (r == 0)
		r = exec_load(a.path, a.argv, a.envp, &entry, &sp);
	if (r < 0)
		libos_panic("cannot run %s (or its #! interpreter): %s", path,
			    r == -ENOENT ? "no such file in the picoprocess's namespace"
			    : r == -EACCES ? "permission denied (not executable?)"
			    : r == -ENOEXEC ? "not an ELF program or #! script"
			    : "load failed");
	args_keep(&a);
	args_free(&a);
	exec_jump(entry, sp);
}

/* --- the process itself --- */

long sys_exit_group(int code)
{
	ipc_exit();
	rewrite_report(); /* --debug: the counts of traps and rewritten sites */
	abi->process_exit(code & 0xff, 0);
	__builtin_unreachable();
}

long sys_getpid(void) { return proc.pid; }

/* --- process groups and sessions ---
 * They are the host's, inside the picoprocess's pid namespace and the
 * session it starts as (pid 1 leads both). */

long sys_setpgid(int pid, int pgid)
{
	if (pid < 0 || pgid < 0)
		return -EINVAL;
	return abi->process_control(MOAT_PROC_SET_GROUP, pid, pgid);
}

long sys_getpgid(int pid)
{
	return pid < 0 ? -ESRCH : abi->process_control(MOAT_PROC_GET_GROUP, pid, 0);
}

long sys_getpgrp(void)
{
	return sys_getpgid(0);
}

long sys_setsid(void)
{
	long r = abi->process_control(MOAT_PROC_NEW_SESSION, 0, 0);
	if (r > 0)
		proc.sid = (int)r;
	return r;
}

/* The session is known for this process (inherited across fork); for
 * another, which has no host call to ask, the caller's own session is
 * the answer unless that process made one of its own. */
long sys_getsid(int pid)
{
	int own = proc.sid ? proc.sid : 1;
	if (pid == 0 || pid == proc.pid)
		return own;
	long g = sys_getpgid(pid);
	return g < 0 ? g : own;
}
