/*
 * libos.h -- internals shared by the LibOS's files.
 *
 * The LibOS reaches the world only through 'abi' (include/moat/abi.h).
 * Linux headers are included for types and constants only.
 */
#ifndef MOAT_LIBOS_H
#define MOAT_LIBOS_H

#include <stddef.h>
#include <stdint.h>
#include <asm-generic/errno.h>

#include "moat/abi.h"
#include "rt.h"
#include "syscalls.h"

extern const struct moat_abi *abi;
extern const struct moat_boot_info *boot;

/* Debug log (only shown with moat run --debug). */
void klog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void libos_panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* A spin lock that yields the CPU while it waits (heap.c).  LibOS
 * critical sections are short and never block. */
void spin_lock(volatile int *l);
void spin_unlock(volatile int *l);

/* heap.c: allocator over vm_alloc. */
void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(void *p);
char *kstrdup(const char *s);

/* Process-wide state that Linux keeps per task. */
struct libos_proc {
	char exe_path[MOAT_URI_MAX];    /* virtual path of the program */
	char cwd[MOAT_URI_MAX];
	uint32_t umask;
	/* Credentials as Linux keeps them (identity.c): uid and gid are the
	 * real ids; fsuid/fsgid decide file access.  Inherited by fork, kept
	 * across exec. */
	uint32_t uid, euid, suid, fsuid;
	uint32_t gid, egid, sgid, fsgid;
	uint32_t *groups;     /* supplementary groups (kmalloc), ngroups of them */
	int ngroups;
	int pid, ppid;
	int sid;              /* session, once setsid made one (0: pid 1's) */
	char comm[16];
	int undumpable, pdeathsig, keepcaps, no_new_privs, subreaper; /* prctl */
	char **argv, **envp;  /* of the running program, for /proc/self */
	uint64_t brk_start, brk_cur, brk_end;
};
extern struct libos_proc proc;

/* thread.c */
void thread_init_main(int tid);
void thread_start(void *arg);
int thread_tid(void);
int thread_exists(int tid);
void thread_set_fsbase(uint64_t base);
uint64_t thread_get_fsbase(void);

/* rewrite.c: hot 'syscall' sites become jumps into the LibOS */
#define FAST_STACK_SIZE (64 * 1024)
int rewrite_enabled(void);
void rewrite_site(uint64_t site, uint64_t nr);
void rewrite_reset(void);
void rewrite_report(void);
void rewrite_fork_begin(void);
void rewrite_fork_end(void);
void rewrite_note_eh_frame(uint64_t lo, uint64_t hi, uint64_t eh_frame, uint64_t size);
int rewrite_fault(struct moat_exception *e);
/* The fast path's C half, called from context.S. */
int libos_fast_syscall(struct moat_context *ctx);
int rewrite_interrupt(struct moat_exception *e);
void thread_note_signal(void);
void thread_clear_signal_note(void);
int thread_has_fast_stack(void);
int thread_retry_fault(uint64_t rip, uint64_t epoch);

/* vma.c: the app's mappings */
enum { VMA_ANON, VMA_FILE, VMA_SHARED };
int vma_covers(uint64_t start, uint64_t end);
void vma_add(uint64_t start, uint64_t len, uint32_t prot, uint32_t kind,
	     uint64_t offset, const char *name);
void vma_remove(uint64_t start, uint64_t len);
void vma_protect(uint64_t start, uint64_t len, uint32_t prot);
long vma_discard(uint64_t start, uint64_t len);
void vma_clear_all(void);
struct vma_info { uint64_t start, end; uint32_t prot, kind; uint64_t offset; const char *name; };
int vma_lookup(uint64_t addr, struct vma_info *out);
int vma_readable(uint64_t addr, uint64_t len, const char *name);
uint64_t vma_image_base(const char *name, uint64_t below);
void vma_print(void (*put)(void *ctx, const char *line), void *ctx);

/* identity.c: credentials and the checks the LibOS makes with them */
void identity_init(uint32_t uid, uint32_t gid);
void identity_on_exec(void);
int id_in_group(uint32_t g);
long id_permission(const struct moat_attr *a, int want);
long id_access(const struct moat_attr *a, int want, int eaccess);
long id_may_open(const struct moat_attr *a, int flags);
int id_needs_stamp(void);
long id_may_chown(const struct moat_attr *a, long uid, long gid);
long id_chmod_mode(const struct moat_attr *a, uint32_t *mode);

/* process.c */
long process_clone(struct moat_context *ctx, uint64_t flags, uint64_t newsp,
		   int *ctid);
long process_kill(int pid, int sig);
void thread_after_fork(int pid, int *clear_tid);
void signal_reset_on_exec(void);
void fs_close_on_exec(void);
/* The host handle behind a descriptor that mmap maps (mm.c). */
long fs_map_handle(int fd, moat_handle *h, int *writable, int *is_zero,
		   const char **path);

/* procfs.c: /proc and /sys made by the LibOS */
int procfs_owns(const char *path);
long procfs_get(const char *path, struct moat_attr *a, char **content, size_t *len);
long procfs_readlink(const char *path, char *out, size_t len);
int fs_fd_open(int fd);
long fs_fd_describe(int fd, char *out, size_t len);
int thread_count(void);

/* syscall.c */
long syscall_dispatch(struct moat_context *ctx);
extern const char *const syscall_names[];
extern const unsigned syscall_names_len;

/* elf.c: load the program and jump to it. */
_Noreturn void exec_jump(uint64_t entry, uint64_t sp);
long exec_load(const char *path, char **argv, char **envp, uint64_t *entry,
	       uint64_t *sp);
_Noreturn void process_exec_first(const char *path, char **argv, char **envp);

/* signal.c */
#define ERESTARTSYS 512
#define ERESTARTNOHAND 514
_Noreturn void die_by_signal(int sig);
void signal_fault(struct moat_exception *e);
void signal_interrupt(struct moat_exception *e);
/* The pending half of signal_interrupt (no delivery). */
void signal_interrupt_post(const struct moat_exception *e);
void signal_deliver(struct moat_context *ctx, int in_syscall);
void signal_post(int sig);
int signal_deliverable(void);
/* PAUSE (abi.h): set while a checkpointer stops the threads; the resume
 * generation it last told. */
extern volatile int libos_paused;
/* For a LibOS thread of its own: stop here while paused (signal.c). */
void libos_park_here(void);
extern const char libos_park_resume[];
void libos_park_if_paused(void);
extern volatile uint32_t libos_generation;
void libos_pause(struct moat_exception *e);
void signal_settle(struct moat_context *ctx);
long signal_raise(int sig);
/* kill/tgkill of the process itself: si_code 'code', si_pid our pid. */
long signal_raise_from_self(int sig, int code);
long sys_rt_sigreturn(struct moat_context *ctx);

/* Per-thread signal state, kept in the thread (thread.c). */
struct thread_sig {
	uint64_t blocked;
	uint64_t saved;     /* mask to restore after sigsuspend */
	int has_saved;
	int ss_flags;
	void *ss_sp;
	size_t ss_size;
	uint64_t syscall_nr; /* for restarting an interrupted call */
};
struct thread_sig *thread_sig(void);
void thread_block_until_signal(void);
void thread_block_until_signal_in(uint64_t wanted);
void thread_wake_sigwaiters(void);
long thread_spawn_internal(void (*fn)(void *), void *arg);
uint64_t signal_pending_set(void);
int signal_interrupts_now(void);
/* Details for the next delivery of sig (si_code and the union's first 16
 * bytes), as rt_sigqueueinfo or a timer gives them. */
void signal_set_info(int sig, int code, const void *fields, size_t len);
/* Take the lowest pending signal in set with its siginfo (128 bytes of
 * Linux's layout); 0 if none is pending. */
int signal_take(uint64_t set, void *info);
/* A notification event set on every signal post from now on (signalfd). */
moat_handle signal_notify_handle(void);

/* Locks taken around fork, in this order (process.c), so that the child
 * never starts with one held by a thread it does not have. */
void timers_fork_lock(void);
void timers_fork_unlock(void);
void threads_fork_lock(void);
void threads_fork_unlock(void);
void vma_fork_lock(void);
void vma_fork_unlock(void);
void fs_fork_lock(void);
void fs_fork_unlock(void);
void heap_fork_lock(void);
void heap_fork_unlock(void);

/* ipc.c: System V IPC and POSIX message queues keep their attach and
 * open counts across fork (in the child), exec and exit. */
void ipc_after_fork(void);
void ipc_exec(void);
void ipc_exit(void);
/* /proc/sysvipc/shm ('s'), sem ('e'), msg ('m'), a line at a time. */
void ipc_print(int which, void (*put)(void *ctx, const char *line), void *ctx);

/* timer.c: POSIX timers */
void timers_after_fork(void);
void timers_reset_on_exec(void);

/* fs.c: paths; fd.c: descriptors (file.h: open files and their kinds). */
#define LIBOS_MAX_FDS 1024 /* the app's RLIMIT_NOFILE: fd_limit(), rlimit.h */
int path_resolve(int dirfd, const char *path, char *out);
int fs_check_dir(const char *path);
/* console.c: descriptors 0, 1 and 2 on the standard streams. */
void console_init(void);

/* What fd can report now; *h is a handle to sleep on until it may be
 * readable, and *wake_at (if earlier) the monotonic time it becomes so. */
short fs_poll(int fd, short events, moat_handle *h, int64_t *wake_at);
/* The open file behind fd as a number never reused (0: fd not open). */
uint64_t fs_file_serial(int fd);
int fs_is_open(int fd);

/* poll.c */
struct l_pollfd;
long poll_wait(struct l_pollfd *fds, unsigned n, int64_t timeout_ns);
long fs_open_stream(const char *path, int flags, int mode, moat_handle *h);

/* Build "file:" + path into a URI buffer of MOAT_URI_MAX + 5 bytes. */
void path_to_uri(const char *path, char *uri);
#define URI_BUF_SIZE (MOAT_URI_MAX + 8)

/* Copy a pathname from the app; -EFAULT/-ENAMETOOLONG on failure. */
long copy_path(char *dst, const char *src);

#endif /* MOAT_LIBOS_H */
