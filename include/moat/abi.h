/*
 * moat/abi.h -- the picoprocess ABI.
 *
 * This is the only contract between the code inside a picoprocess that
 * knows Linux semantics (the LibOS and any extensions) and the code that
 * knows the host (the PAL).  It follows the shape of the Drawbridge ABI:
 * threads, synchronisation objects, virtual memory, I/O streams named by
 * URI, processes, and a few miscellaneous calls, plus exactly three
 * upcalls from the PAL into the LibOS.
 *
 * The ABI is a table of function pointers (struct moat_abi) so that an
 * extension can take the table below it and expose the same table above
 * it.  Nothing above the table may issue a host system call or depend on
 * host kernel state that the table does not describe.
 *
 * Conventions, for every downcall.  MUST, MUST NOT and MAY are meant as
 * in RFC 2119: MUST binds the side it names (the caller above the
 * table, or the implementation below it: the PAL or an extension), MAY
 * is a freedom the other side has to allow for.
 *   - Results are 'long': >= 0 on success, -MOAT_E* on failure.  MOAT_E*
 *     values equal the Linux errno values of the same name so that the
 *     LibOS can hand them to the application unchanged.  A call's text
 *     lists the errors it is expected to give; an implementation MAY
 *     give another (an extension injecting faults, a newer PAL), so a
 *     caller MUST treat any other negative value as failure too, and
 *     MUST NOT read more into it than "failed".
 *   - Pointers passed in MUST be valid for the stated length for the
 *     duration of the call; passing an invalid pointer is undefined (the
 *     PAL MAY fail with -MOAT_EFAULT, or the picoprocess MAY end).
 *   - Handles are small non-negative integers private to the picoprocess.
 *     A handle is valid from the call that returned it until
 *     object_close().  Using a closed handle yields -MOAT_EBADF, unless
 *     the number was reused, in which case the call acts on the new
 *     object; a caller MUST NOT use a handle after closing it.
 *   - All calls MAY be made from any thread, and from inside the
 *     exception upcall; an implementation MUST allow for both.
 *   - Flags and operation codes not defined here MUST NOT be passed; an
 *     implementation MUST refuse them with -MOAT_EINVAL where the call's
 *     text says so.
 *   - URIs are NUL-terminated, at most MOAT_URI_MAX bytes including the
 *     NUL.  Schemes: "file:/abs/path" names a file or directory in the
 *     picoprocess's virtual namespace; the security monitor maps it to a
 *     host object through the manifest, or refuses.  "tcp.client:A:P"
 *     connects to IPv4 address A, port P; "tcp.server:A:P" listens there;
 *     the manifest decides where on the host (or refuses: -ECONNREFUSED
 *     for a client, -EACCES for a server).  "udp.client:A:P" and
 *     "udp.server:A:P" open a datagram endpoint (MOAT_KIND_DATAGRAM, see
 *     struct moat_datagram) whose first destination, or whose bound
 *     address, is A:P (-EACCES if not granted).  "unix.server:NAME" and
 *     "unix.client:NAME" listen on and connect to a unix stream socket
 *     name of this app (NAME: "/abs/path", or "@" and the abstract name
 *     in hex).  "memfd:NAME" creates an
 *     anonymous, unnamed-on-the-host memory file (read-write).
 *     "console:0", "console:1" and "console:2" name the standard streams
 *     the monitor handed over at launch.
 */
#ifndef MOAT_ABI_H
#define MOAT_ABI_H

#include <stddef.h>
#include <stdint.h>

#define MOAT_ABI_VERSION 1
#define MOAT_URI_MAX 4096

typedef int32_t moat_handle;
#define MOAT_NO_HANDLE ((moat_handle)-1)

/* Error numbers (negated in results).  Same values as Linux errno. */
enum {
	MOAT_EPERM = 1, MOAT_ENOENT = 2, MOAT_ESRCH = 3, MOAT_EINTR = 4,
	MOAT_EIO = 5, MOAT_EBADF = 9, MOAT_EAGAIN = 11, MOAT_ENOMEM = 12,
	MOAT_EACCES = 13, MOAT_EFAULT = 14, MOAT_EBUSY = 16, MOAT_EEXIST = 17,
	MOAT_EXDEV = 18, MOAT_ENOTDIR = 20, MOAT_EISDIR = 21,
	MOAT_EINVAL = 22, MOAT_EMFILE = 24, MOAT_ENOTTY = 25, MOAT_EFBIG = 27,
	MOAT_ENOSPC = 28, MOAT_ESPIPE = 29, MOAT_EROFS = 30, MOAT_EPIPE = 32,
	MOAT_ERANGE = 34, MOAT_ENAMETOOLONG = 36, MOAT_ENOSYS = 38,
	MOAT_ENOTEMPTY = 39, MOAT_ELOOP = 40, MOAT_ECHILD = 10, MOAT_ENOTCONN = 107,
	MOAT_ECONNRESET = 104, MOAT_ETIMEDOUT = 110,
	MOAT_ENODEV = 19, MOAT_EDEADLK = 35, MOAT_ENOLCK = 37,
	MOAT_ECONNREFUSED = 111,
};

/* Memory protection bits (vm_alloc, vm_protect, stream_map). */
#define MOAT_PROT_NONE  0
#define MOAT_PROT_READ  1
#define MOAT_PROT_WRITE 2
#define MOAT_PROT_EXEC  4

/* vm_alloc and stream_map flags. */
#define MOAT_MAP_FIXED     1 /* place exactly at addr, replacing what is there */
#define MOAT_MAP_NOREPLACE 2 /* place exactly at addr, fail if anything is there */
#define MOAT_MAP_SHARED    4 /* stream_map: writes reach the stream */

/* stream_open access (exactly one) and options (any). */
#define MOAT_ACCESS_READ   1
#define MOAT_ACCESS_WRITE  2
#define MOAT_ACCESS_RDWR   3
#define MOAT_OPEN_CREATE    0x010 /* create if absent */
#define MOAT_OPEN_EXCL      0x020 /* with CREATE: fail if present */
#define MOAT_OPEN_TRUNCATE  0x040 /* set length to 0 */
#define MOAT_OPEN_APPEND    0x080 /* every write goes to the end */
#define MOAT_OPEN_DIRECTORY 0x100 /* fail unless a directory */
#define MOAT_OPEN_NOFOLLOW  0x200 /* fail with ELOOP on a final symlink */
#define MOAT_OPEN_MKDIR     0x400 /* create a directory instead; no handle */

/* stream_attr_set mask bits, and the time meaning "now". */
#define MOAT_ATTR_MODE  1
#define MOAT_ATTR_ATIME 2
#define MOAT_ATTR_MTIME 4
#define MOAT_ATTR_OWNER 8 /* uid and gid: recorded, never the host's owner */
#define MOAT_TIME_NOW   INT64_MIN

/* stream_pipe flags and stream_shutdown directions. */
#define MOAT_PIPE_DUPLEX 1
#define MOAT_SHUT_READ   1
#define MOAT_SHUT_WRITE  2

/* stream_lock operations and lock types. */
#define MOAT_LOCK_SET    0
#define MOAT_LOCK_WAIT   1
#define MOAT_LOCK_TEST   2
#define MOAT_LOCK_WHOLE  4   /* or-ed into op: flock(2) semantics */
#define MOAT_LOCK_READ   0
#define MOAT_LOCK_WRITE  1
#define MOAT_LOCK_UNLOCK 2

/* Offset meaning "the stream's own position" (consoles, pipes, append). */
#define MOAT_OFFSET_STREAM ((uint64_t)-1)

/* Stream kinds in struct moat_attr. */
enum moat_kind {
	MOAT_KIND_FILE = 1, MOAT_KIND_DIR = 2, MOAT_KIND_SYMLINK = 3,
	MOAT_KIND_CONSOLE = 4, MOAT_KIND_PIPE = 5, MOAT_KIND_CHARDEV = 6,
	MOAT_KIND_SOCKET = 7,  /* a connection: tcp.client:, accepted, duplex pipe */
	MOAT_KIND_SERVER = 8,  /* a listening tcp.server: or unix.server: stream */
	MOAT_KIND_DATAGRAM = 9,/* a udp.client: or udp.server: endpoint */
};

/* A datagram endpoint's stream carries one datagram per read or write:
 * this header, then the payload (at most MOAT_DATAGRAM_MAX bytes).  On a
 * write, addr:port is the destination; on a read, the source.  Both are
 * addresses as the app names them (the monitor maps them to and from the
 * host through the grants), IPv4 and port in network byte order. */
struct moat_datagram {
	uint32_t addr;
	uint16_t port;
	uint16_t zero;
};
#define MOAT_DATAGRAM_MAX 65507

/* What the ABI tells about a stream: enough for stat(2). */
struct moat_attr {
	uint32_t kind;      /* enum moat_kind */
	uint32_t mode;      /* permission bits, 07777 */
	uint32_t uid, gid;  /* owner as the namespace presents it */
	uint32_t nlink;
	uint32_t writable;  /* 1 if the mapping lets the picoprocess write */
	uint64_t size;      /* bytes; for a directory, the host's value */
	uint64_t blocks;    /* 512-byte blocks allocated */
	uint64_t blksize;
	uint64_t ino, dev, rdev;
	int64_t atime_ns, mtime_ns, ctime_ns; /* since the epoch */
};

/* Record format of a directory stream, identical to Linux's
 * linux_dirent64: stream_read() on a directory handle returns whole
 * records only; offset is the position of the first record wanted (0,
 * or a previous record's 'next'). */
struct moat_dirent {
	uint64_t ino;
	int64_t  next;   /* position of the following record */
	uint16_t reclen; /* bytes in this record, 8-aligned */
	uint8_t  type;   /* DT_* */
	char     name[];
};

/* Clocks for system_time(). */
#define MOAT_CLOCK_REALTIME  0
#define MOAT_CLOCK_MONOTONIC 1
#define MOAT_CLOCK_PROCESS_CPU 2 /* CPU time of this host process, all threads */
#define MOAT_CLOCK_THREAD_CPU  3 /* CPU time of the calling thread */

/* Timers for timer_set(), each with its own clock and signal; the
 * values equal Linux's ITIMER_* so setitimer(2) passes them through. */
#define MOAT_TIMER_REAL    0 /* real time; SIGALRM */
#define MOAT_TIMER_VIRTUAL 1 /* the process's user CPU time; SIGVTALRM */
#define MOAT_TIMER_PROF    2 /* its user+system CPU time; SIGPROF */

/* Segment registers for segment_base_set(). */
#define MOAT_SEGMENT_FS 0
#define MOAT_SEGMENT_GS 1

/* Event kinds for event_create(). */
#define MOAT_EVENT_NOTIFICATION  0 /* stays set until cleared */
#define MOAT_EVENT_SYNCHRONIZATION 1 /* releases one waiter, then clears */

/* Timeout for objects_wait_any() meaning "forever". */
#define MOAT_WAIT_FOREVER ((int64_t)-1)

/* address_wait operations. */
#define MOAT_ADDR_WAIT 0
#define MOAT_ADDR_WAKE 1

/* Options for process_wait(). */
#define MOAT_WAIT_NOHANG 1

/* Operations of process_control(). */
#define MOAT_PROC_SIGNAL      1
#define MOAT_PROC_SET_GROUP   2
#define MOAT_PROC_GET_GROUP   3
#define MOAT_PROC_NEW_SESSION 4
#define MOAT_PROC_STAT        5
#define MOAT_PROC_RESIDENCY   6

/* MOAT_PROC_RESIDENCY's question and answer: which pages of
 * [addr, addr + npages * 4096) of the caller's own memory may hold data.
 * Bit i of map (map[i / 8] >> (i % 8) & 1) is 0 only for a page of
 * private anonymous memory that is neither in memory nor swapped out
 * (never written, or given back): it reads as zeros.  Every other page
 * -- resident, swapped, of a file or shared mapping, not mapped at
 * all -- is 1.  A checkpointer skips the 0 pages without touching them
 * (reading one would fault in a page of zeros).  The answer is a
 * moment's: pages the caller's other threads touch meanwhile may change
 * from 0 to 1, so it is for a caller whose threads are stopped. */
#define MOAT_RESIDENCY_MAX 32768 /* pages per call (128 MiB; a 4 KiB map) */
struct moat_residency {
	uint64_t addr;       /* page-aligned */
	uint64_t npages;     /* 1 .. MOAT_RESIDENCY_MAX */
	uint8_t *map;        /* (npages + 7) / 8 bytes, filled in */
	uint64_t flags;      /* MOAT_RESIDENCY_FILE */
};
/* Also 0: a page of a private file mapping that is neither resident nor
 * swapped (it reads as the file's bytes at its offset). */
#define MOAT_RESIDENCY_FILE 1

/* MOAT_PROC_STAT's answer: another process of the picoprocess as the
 * host kernel sees it, its ids as the picoprocess numbers them. */
struct moat_proc_stat {
	uint32_t state;        /* 'R', 'S', 'D', 'Z', 'T', ... */
	int32_t  ppid;         /* 0: its parent is outside (pid 1's) */
	int32_t  pgrp, sid;
	uint32_t threads;
	uint32_t pad;
	uint64_t utime_ns, stime_ns; /* CPU time in user and kernel mode */
	uint64_t vsize, rss_pages;
};

/* Flags for thread_create(). */
#define MOAT_THREAD_SUSPENDED 1
#define MOAT_THREAD_QUIET     2 /* a layer's own worker: see thread_create */

/* ---------------------------------------------------------------- */
/* Upcall arguments.                                                 */

/* General-purpose register state of an interrupted thread.  The
 * exception upcall may change any field; the thread resumes with the
 * changed state. */
struct moat_context {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
	uint64_t fsbase;       /* read-only here; use segment_base_set */
	void    *fpstate;      /* host-format FP state, NULL if none */
	uint64_t sigmask;      /* host signal mask to restore; opaque */
};

enum moat_exception_kind {
	MOAT_EXC_SYSCALL = 1,   /* the app executed 'syscall'; number in rax */
	MOAT_EXC_MEMFAULT = 2,  /* access violation at fault_addr */
	MOAT_EXC_ILLEGAL = 3,   /* illegal or privileged instruction */
	MOAT_EXC_ARITH = 4,     /* divide error and other arithmetic traps */
	MOAT_EXC_BREAKPOINT = 5,/* int3 / trap flag */
	MOAT_EXC_BUSERR = 6,    /* access beyond the end of a mapped stream */
	MOAT_EXC_INTERRUPT = 7, /* a signal from process_control (or the host:
				   SIGINT at the terminal); code = signal */
	MOAT_EXC_PAUSE = 8,     /* a layer below asks the threads to come back
				   to app code (code 1), or ends that (code 0);
				   see PAUSE below */
};

struct moat_exception {
	uint32_t kind;         /* enum moat_exception_kind */
	uint32_t code;         /* kind-specific detail (host si_code; the
				  signal number for MOAT_EXC_INTERRUPT) */
	uint32_t flags;        /* MOAT_EXC_IN_PLATFORM */
	uint32_t pid;          /* INTERRUPT: sender's pid, 0 if unknown */
	uint64_t fault_addr;   /* MEMFAULT, BUSERR: the address touched */
	struct moat_context *ctx;
	int32_t  signal_code;  /* INTERRUPT: the host's si_code (SI_USER,
				  SI_KERNEL for a timer, CLD_EXITED, ...) */
	int32_t  signal_status; /* INTERRUPT by SIGCHLD: si_status */
};

/* The thread was interrupted inside the PAL or the LibOS itself (for
 * instance while blocked in a downcall), not in app code: ctx is not the
 * app's and must not be changed.  The blocking downcall, if any, returns
 * -MOAT_EINTR.  Exception: the LibOS may clear the flag when ctx is LibOS
 * code that it knows how to resume elsewhere (its syscall fast path);
 * the PAL then resumes the thread at the changed ctx, as for app code. */
#define MOAT_EXC_IN_PLATFORM 1

/* Set by an upcall, with MOAT_EXC_IN_PLATFORM, on a fault (MEMFAULT,
 * BUSERR) in platform code that it recovered from by changing ctx (a
 * LibOS copy from or to the app that hit bad memory moves to code that
 * returns EFAULT): the PAL resumes the changed ctx, which is still
 * platform code, and the layers below see IN_PLATFORM, so none takes
 * ctx for the app's. */
#define MOAT_EXC_RESUME_CHANGED 2

/* Set by an upcall on a fault in its own code that it cannot recover
 * from (the LibOS's state is broken): the PAL ends the process by the
 * host signal of that fault, and the monitor reports that the
 * picoprocess crashed, not that the app was killed. */
#define MOAT_EXC_CRASHED 4

/* PAUSE: the LibOS's one cooperation with a checkpointer.
 *
 * The monitor asks for a checkpoint by raising a PAUSE exception (code 1)
 * on every thread of the process.  A layer below the LibOS (extensions/
 * ckpt) sees it first, passes it up, and then waits for each thread to
 * come back to app code through the exception upcall, where it sees the
 * thread's whole app context: the state of a stopped thread is that
 * context plus memory.  The LibOS's part, only when its boot flags have
 * MOAT_BOOT_PAUSE (else it ignores PAUSE):
 *   - while paused, a blocking system call interrupted by the PAUSE (its
 *     downcall returned -EINTR) is ended as Linux ends one interrupted by
 *     a signal with no handler to run: the 'syscall' instruction runs
 *     again when the thread goes on (a sleep restarts with its whole
 *     time; a wait re-checks its condition);
 *   - while paused, a thread returns to app code only through the
 *     exception upcall, never the fast path, and never waits inside the
 *     LibOS for anything but a downcall that a signal interrupts;
 *   - PAUSE may arrive with MOAT_EXC_IN_PLATFORM (the thread was in the
 *     LibOS or the PAL) or without (app code: ctx is the app's, and the
 *     LibOS leaves it as it is).
 * The layer ends the pause by calling the exception upcall itself with
 * code 0, MOAT_EXC_IN_PLATFORM and a zeroed context; 'pid' then holds
 * the picoprocess's resume generation (0 until the first resume, n after
 * the n-th), which the LibOS shows the app (/proc/moat/generation) so
 * that an app can notice it was resumed from a snapshot. */

/* Standard stream facts the monitor learned at launch (no ioctl exists
 * in the ABI, so terminal state is described, not queried). */
struct moat_stdio_info {
	uint32_t is_tty;
	uint16_t rows, cols;
	uint8_t  termios[60];  /* Linux 'struct termios' (TCGETS layout) */
};

/* What the LibOS is told at start. */
struct moat_boot_info {
	const char *exe_uri;       /* program to run, e.g. "file:/bin/busybox" */
	int argc;
	char **argv;               /* argv[argc] == NULL */
	char **envp;               /* NULL-terminated */
	const char *cwd;           /* initial working directory, virtual */
	uint32_t flags;            /* MOAT_BOOT_* */
	uint32_t uid, gid;         /* virtual identity */
	uint32_t ncpus;            /* CPUs the picoprocess may use */
	uint64_t mem_bytes;        /* memory it may use (its limit, or the host's) */
	struct moat_stdio_info stdio[3];
	uint32_t max_files;        /* open descriptors it may hold, 0 = no limit given */
	/* [image_start, image_end): the picoprocess image the PAL, the
	 * extensions and the LibOS were loaded as (page-aligned).  Code
	 * there is not the app's; the app MUST NOT be loaded or mapped
	 * there.  The LibOS learns its own bounds here, never from symbols
	 * of the PAL's link. */
	uint64_t image_start, image_end;
};
#define MOAT_BOOT_DEBUG 1          /* debug_log output is shown */
#define MOAT_BOOT_TRACE 2          /* the LibOS logs every system call */
#define MOAT_BOOT_NO_REWRITE 4     /* the LibOS leaves the app's code alone
				      (no syscall-site rewriting) */
#define MOAT_BOOT_NOTES 8          /* an extension below listens: make the
				      debug_log notes of moat/extension.h */
#define MOAT_BOOT_PAUSE 16         /* a checkpointer below: honour PAUSE */

/* ---------------------------------------------------------------- */
/* Downcalls.                                                        */

struct moat_abi {
	uint32_t version;  /* MOAT_ABI_VERSION */
	uint32_t size;     /* sizeof(struct moat_abi) */

	/* --- threads --- */

	/* thread_create: start a new thread in this picoprocess.  The
	 * thread begins in the thread_start upcall with 'arg', on the stack
	 * [stack, stack+stack_size), which the caller owns and must keep
	 * mapped until the thread has exited.  With MOAT_THREAD_SUSPENDED
	 * it waits for thread_resume() first.  With MOAT_THREAD_QUIET the
	 * thread gets no exception but its own faults: no interrupt, no
	 * PAUSE (they go to the other threads), for a layer's worker that
	 * the layers above do not know (the checkpointer's pre-copy).
	 * Result: a thread handle, or -EAGAIN (host limit), -EINVAL (stack
	 * too small: < 16 KiB, or an unknown flag). */
	long (*thread_create)(void *arg, void *stack, size_t stack_size,
			      uint32_t flags);

	/* thread_delay: sleep for at least 'ns' nanoseconds.  Returns 0, or
	 * -EINTR if a signal arrived first. */
	long (*thread_delay)(uint64_t ns);

	/* thread_yield: give up the CPU.  Returns 0. */
	long (*thread_yield)(void);

	/* thread_resume: let a thread created MOAT_THREAD_SUSPENDED run.
	 * Result: 0, -EBADF (not a thread), -EINVAL (not suspended). */
	long (*thread_resume)(moat_handle thread);

	/* thread_exit: end the calling thread.  If 'clear_word' is not
	 * NULL, 0 is stored there after the thread has stopped using its
	 * stack, and waiters on that address (objects_wait_any does not
	 * wait on addresses; the LibOS's futex emulation does) are woken.
	 * If it is the last thread, the picoprocess exits with status 0.
	 * Does not return. */
	void (*thread_exit)(int32_t *clear_word);

	/* --- synchronisation --- */

	/* semaphore_create: counting semaphore, 0 <= initial <= max.
	 * Result: handle, or -EINVAL, -EMFILE. */
	long (*semaphore_create)(uint32_t initial, uint32_t max);

	/* semaphore_release: add 'count' to the semaphore, waking waiters.
	 * Result: the previous count, or -EINVAL if it would pass max. */
	long (*semaphore_release)(moat_handle sem, uint32_t count);

	/* event_create: an event of kind MOAT_EVENT_NOTIFICATION or
	 * MOAT_EVENT_SYNCHRONIZATION, initially set if 'set' is non-zero.
	 * Result: handle, or -EINVAL, -EMFILE. */
	long (*event_create)(uint32_t kind, uint32_t set);

	/* event_set / event_clear: signal or unsignal an event.
	 * Result: 0, or -EBADF if not an event. */
	long (*event_set)(moat_handle event);
	long (*event_clear)(moat_handle event);

	/* objects_wait_any: block until one of handles[0..count) is
	 * signalled, or timeout_ns elapses (MOAT_WAIT_FOREVER: never; 0:
	 * poll).  A semaphore is signalled while its count is non-zero and
	 * waiting takes one unit; a synchronisation event is cleared by the
	 * wait that sees it; a thread is signalled once it has exited.
	 * Result: the index of the signalled handle, -ETIMEDOUT, -EBADF,
	 * -EINVAL (count 0 or > 64), or -EINTR if a signal arrived (an
	 * INTERRUPT exception was delivered meanwhile).  A stream handle
	 * (pipe or console) is signalled while it has data to read. */
	long (*objects_wait_any)(uint32_t count, const moat_handle *handles,
				 int64_t timeout_ns);

	/* address_wait: wait on, or wake waiters on, a 32-bit word that may
	 * be shared with other processes of the picoprocess (MAP_SHARED
	 * memory).  MOAT_ADDR_WAIT sleeps while *addr == value, for at most
	 * timeout_ns (MOAT_WAIT_FOREVER: no limit): 0 when woken, -EAGAIN if
	 * *addr != value, -ETIMEDOUT, -EINTR (a signal).  MOAT_ADDR_WAKE
	 * wakes up to 'value' waiters and returns how many.  Private words
	 * are better served by events (the LibOS's futexes use them). */
	long (*address_wait)(uint32_t *addr, uint32_t op, uint32_t value,
			     int64_t timeout_ns);

	/* --- virtual memory --- */

	/* vm_alloc: map zero-filled memory of 'size' bytes (rounded up to
	 * 4096) with protection 'prot': private, or with MOAT_MAP_SHARED
	 * shared with the processes later forked from this one.  'addr' is a
	 * hint unless flags has MOAT_MAP_FIXED or MOAT_MAP_NOREPLACE.
	 * Result: the address, or -ENOMEM, -EEXIST (NOREPLACE hit),
	 * -EINVAL (misaligned fixed address). */
	long (*vm_alloc)(void *addr, size_t size, uint32_t prot,
			 uint32_t flags);

	/* vm_free: unmap [addr, addr+size), which may span several
	 * allocations or stream maps.  Result: 0 or -EINVAL. */
	long (*vm_free)(void *addr, size_t size);

	/* vm_protect: change protection of [addr, addr+size).
	 * Result: 0, -EINVAL, -ENOMEM (range not mapped), -EACCES (write
	 * asked on a read-only shared stream map). */
	long (*vm_protect)(void *addr, size_t size, uint32_t prot);

	/* --- I/O streams --- */

	/* stream_open: open the stream named by 'uri' with 'access'
	 * (MOAT_ACCESS_*) and 'options' (MOAT_OPEN_*); 'mode' gives the
	 * permission bits of a created file or directory.  The monitor
	 * decides: a URI outside every mapping is -ENOENT; asking to write,
	 * create or truncate in a read-only mapping is -EROFS; an escape
	 * from a mapping (through a symbolic link) is -EACCES.  A directory
	 * opens for reading only and reads as struct moat_dirent records.
	 * With MOAT_OPEN_MKDIR a directory is created and 0 returned.
	 * Result: handle, 0 (MKDIR), or the errors above and -EEXIST,
	 * -EISDIR, -ENOTDIR, -ELOOP, -EMFILE, -ENAMETOOLONG, -EINVAL. */
	long (*stream_open)(const char *uri, uint32_t access,
			    uint32_t options, uint32_t mode);

	/* stream_read: read up to 'len' bytes at 'offset'
	 * (MOAT_OFFSET_STREAM for streams without positions).  Blocks until
	 * data is available (-EINTR if a signal arrives while waiting on a
	 * pipe or console).  For a directory, offset is a record position
	 * (see struct moat_dirent) and only whole records are returned.  Result: bytes read (0 at end),
	 * -EBADF, -EINVAL (len too small for one record), -EIO. */
	long (*stream_read)(moat_handle h, uint64_t offset, void *buf,
			    size_t len);

	/* stream_write: write 'len' bytes at 'offset'.  Result: bytes
	 * written, -EBADF (not writable), -EPIPE, -ENOSPC, -EFBIG, -EIO. */
	long (*stream_write)(moat_handle h, uint64_t offset, const void *buf,
			     size_t len);

	/* stream_map: map 'size' bytes of a file stream from 'offset'
	 * (4096-aligned) at 'addr' (hint, or exact with MOAT_MAP_FIXED /
	 * NOREPLACE) with 'prot'.  Private maps are copy-on-write; with
	 * MOAT_MAP_SHARED writes reach the file (needs a writable handle).
	 * Result: address, or -EACCES, -ENODEV (not mappable), -ENOMEM. */
	long (*stream_map)(moat_handle h, void *addr, uint64_t offset,
			   size_t size, uint32_t prot, uint32_t flags);

	/* stream_unmap: remove a stream map.  Same as vm_free for the
	 * range; kept separate so extensions can track maps.  Result: 0. */
	long (*stream_unmap)(void *addr, size_t size);

	/* stream_set_length: truncate or extend a file stream.
	 * Result: 0, -EBADF, -EINVAL, -EFBIG. */
	long (*stream_set_length)(moat_handle h, uint64_t length);

	/* stream_flush: push written data to stable storage. Result: 0. */
	long (*stream_flush)(moat_handle h);

	/* stream_delete: remove the file (or, with 'dir' set, the empty
	 * directory) named by 'uri'.  Result: 0, -ENOENT, -EROFS,
	 * -EISDIR, -ENOTDIR, -ENOTEMPTY, -EACCES. */
	long (*stream_delete)(const char *uri, uint32_t dir);

	/* stream_rename: move 'from' to 'to', both in the same writable
	 * mapping.  Result: 0, -EXDEV (different mappings), -EROFS,
	 * -ENOENT. */
	long (*stream_rename)(const char *from, const char *to);

	/* stream_wait_for_client: accept one connection on a server stream
	 * (from stream_open of a "tcp.server:ADDR:PORT" URI), returning a
	 * handle for it; the peer's address, as "ADDR:PORT", is copied to
	 * 'peer' (if not NULL, up to 'len' bytes with the NUL).  Blocks until
	 * a client comes (-EINTR if a signal arrives; with 'nonblock', -EAGAIN
	 * instead of blocking).  Result: handle, -EINVAL (not a server). */
	long (*stream_wait_for_client)(moat_handle server, uint32_t nonblock,
				       char *peer, size_t len);

	/* stream_attr_query: describe the stream named by 'uri' without
	 * opening it; with 'nofollow' a final symbolic link is described
	 * itself.  For a "tcp.*" or "udp.*" URI: whether the manifest grants
	 * it (kind only).  Result: 0, or the stream_open errors. */
	long (*stream_attr_query)(const char *uri, uint32_t nofollow,
				  struct moat_attr *attr);

	/* stream_attr_query_by_handle: describe an open stream.
	 * Result: 0 or -EBADF. */
	long (*stream_attr_query_by_handle)(moat_handle h,
					    struct moat_attr *attr);

	/* stream_pipe: create an anonymous pipe; *read_end and *write_end
	 * receive its two handles.  With MOAT_PIPE_DUPLEX both ends read and
	 * write (a connected pair of local stream sockets).  A write with no
	 * reader left fails with -EPIPE (no host signal is raised).
	 * Result: 0, -EMFILE. */
	long (*stream_pipe)(moat_handle *read_end, moat_handle *write_end,
			    uint32_t flags);

	/* stream_shutdown: end one or both directions of a connection
	 * (MOAT_SHUT_READ, MOAT_SHUT_WRITE, or both).  Result: 0, -EBADF,
	 * -ENOTCONN. */
	long (*stream_shutdown)(moat_handle h, uint32_t how);

	/* stream_attr_set: change attributes of the stream named by 'uri'
	 * (with 'nofollow', of a final symbolic link itself): the fields of
	 * 'attr' named in 'mask' (MOAT_ATTR_MODE: permission bits, the
	 * set-user-id and set-group-id bits only recorded, never set on the
	 * host; MOAT_ATTR_ATIME, MOAT_ATTR_MTIME: times in ns, or
	 * MOAT_TIME_NOW; MOAT_ATTR_OWNER: uid and gid, recorded beside the
	 * file and reported by stat from then on, never the host owner; in a
	 * writable mapping only).  Result: 0, -EROFS, -ENOENT, -EPERM,
	 * -EINVAL. */
	long (*stream_attr_set)(const char *uri, uint32_t nofollow, uint32_t mask,
				const struct moat_attr *attr);

	/* stream_symlink: create a symbolic link at 'uri' whose text is
	 * 'target' (any string; it is resolved as a virtual path when
	 * followed).  Result: 0, -EEXIST, -EROFS, -ENOENT. */
	long (*stream_symlink)(const char *target, const char *uri);

	/* stream_link: make 'to' another name of the file 'from'; both must
	 * be in the same writable mapping.  Result: 0, -EXDEV, -EROFS,
	 * -EEXIST, -ENOENT, -EPERM (a directory). */
	long (*stream_link)(const char *from, const char *to);

	/* stream_lock: POSIX record locks on a file stream, between the
	 * processes of this picoprocess and anyone else using the same host
	 * file.  'type' is MOAT_LOCK_READ, MOAT_LOCK_WRITE or MOAT_LOCK_UNLOCK
	 * over [start, start+len) (len 0: to the end).  'op' MOAT_LOCK_SET
	 * fails with -EAGAIN on a conflict; MOAT_LOCK_WAIT waits (-EINTR if a
	 * signal arrives); MOAT_LOCK_TEST changes nothing and returns the
	 * conflicting lock's type (MOAT_LOCK_UNLOCK if none), with its range
	 * and owner's pid in *start, *len, *pid.  With MOAT_LOCK_WHOLE in
	 * 'op' the lock is a BSD flock(2) lock instead: the whole file, held
	 * by the open stream (start and len are ignored; TEST is invalid).
	 * Result: 0 or a type, -EBADF (not open for that type), -EDEADLK,
	 * -ENOLCK. */
	long (*stream_lock)(moat_handle h, uint32_t op, uint32_t type,
			    uint64_t *start, uint64_t *len, int32_t *pid);

	/* stream_readlink: copy the target of the symbolic link named by
	 * 'uri' into buf (not NUL-terminated).  Result: its length, or
	 * -EINVAL (not a link), -ENOENT, -ERANGE (buf too small). */
	long (*stream_readlink)(const char *uri, char *buf, size_t len);

	/* --- processes --- */

	/* process_create: start a new picoprocess running 'uri' with the
	 * NULL-terminated argv, under the same manifest.  Not available in
	 * this ABI version: -ENOSYS. */
	long (*process_create)(const char *uri, char *const argv[]);

	/* process_fork: duplicate the calling process: a copy-on-write
	 * copy of the whole address space (so all LibOS state comes along)
	 * with only the calling thread, the same handles, and its own
	 * channel to the monitor under the same manifest.  Returns twice:
	 * in the parent the child's pid (> 0), in the child 0 with
	 * *self_pid set to the child's pid.  Pids are those of the
	 * picoprocess's own namespace; the first process is pid 1.
	 * Result: as above, or -EAGAIN (limit), -ENOMEM.  Forking while
	 * other threads hold LibOS locks is undefined, as in POSIX. */
	long (*process_fork)(int32_t *self_pid);

	/* process_wait: wait for a child process to end, as wait4(2):
	 * 'pid' > 0 a given child, -1 any, 0 any in the caller's process
	 * group, < -1 any in group -pid; 'options' MOAT_WAIT_NOHANG
	 * returns 0 at once if none has ended.  *status receives a Linux
	 * wait status (WIFEXITED/WIFSIGNALED encoding).  Result: the pid
	 * that ended, 0 (NOHANG, none yet), -ECHILD, -EINTR. */
	long (*process_wait)(int32_t pid, uint32_t options, int32_t *status);

	/* process_control: signals, process groups and sessions among the
	 * processes of the same picoprocess, which begins as a session and
	 * a process group of its own (pid 1 leads both):
	 *  MOAT_PROC_SIGNAL: send Linux signal 'arg' to process 'pid' (0:
	 *   the caller's process group, -1: all, < -1: group -pid), as
	 *   kill(2).  The target's LibOS receives it as a
	 *   MOAT_EXC_INTERRUPT exception.  Result: 0, -ESRCH, -EINVAL.
	 *  MOAT_PROC_SET_GROUP: put process 'pid' (0: the caller; itself or
	 *   a child) in group 'arg' (0: a new group led by it), as
	 *   setpgid(2).  Result: 0, -ESRCH, -EPERM, -EACCES, -EINVAL.
	 *  MOAT_PROC_GET_GROUP: the process group of 'pid' (0: the caller).
	 *   Result: the group, -ESRCH.
	 *  MOAT_PROC_NEW_SESSION: make the caller the leader of a new
	 *   session and group, as setsid(2).  Result: the session, -EPERM
	 *   (it already leads a group).
	 *  MOAT_PROC_STAT: fill the struct moat_proc_stat at address 'arg'
	 *   with process 'pid' (> 0) of this picoprocess, for /proc/PID/.
	 *   Result: 0, -ESRCH (no such process here), -EINVAL.
	 *  MOAT_PROC_RESIDENCY: fill in the map of the struct
	 *   moat_residency at address 'arg' for the caller ('pid' 0) in one
	 *   round trip, without touching the pages (see the struct;
	 *   flags other than MOAT_RESIDENCY_FILE are -EINVAL).
	 *   Result: 0; -EINVAL (bad range, pid not 0); -ENOSYS or -EIO (the
	 *   host cannot tell: read the pages instead).
	 * Any other 'op' is -EINVAL. */
	long (*process_control)(uint32_t op, int32_t pid, int64_t arg);

	/* process_exit: end the whole picoprocess.  The monitor reports
	 * 'code' as its exit status, or, if 'signal' is non-zero, that it
	 * was killed by that signal; for a forked process, its parent's
	 * process_wait sees the same.  Does not return. */
	void (*process_exit)(int code, int signal);

	/* --- miscellaneous --- */

	/* system_time: nanoseconds of MOAT_CLOCK_REALTIME (since the
	 * epoch), MOAT_CLOCK_MONOTONIC, or the CPU time consumed so far by
	 * the picoprocess (MOAT_CLOCK_PROCESS_CPU: this process's threads,
	 * the LibOS's work for them included) or the calling thread
	 * (MOAT_CLOCK_THREAD_CPU).  Result: >= 0, or -EINVAL. */
	long (*system_time)(uint32_t clock);

	/* random_bits: fill buf with len cryptographically random bytes.
	 * Result: len, or -EFAULT if buf is not writable. */
	long (*random_bits)(void *buf, size_t len);

	/* segment_base_set: set the calling thread's FS or GS base.
	 * Result: 0 or -EINVAL. */
	long (*segment_base_set)(uint32_t which, uint64_t base);

	/* timer_set: arm (interval_ns/value_ns > 0) or disarm (value 0) one
	 * of the process's three timers, which raises its signal as a
	 * MOAT_EXC_INTERRUPT when it expires and then every interval_ns.
	 * *old_value_ns and *old_interval_ns (if not NULL) receive what was
	 * left.  'which' names the timer, and so its clock and signal:
	 * MOAT_TIMER_REAL, MOAT_TIMER_VIRTUAL or MOAT_TIMER_PROF.  A forked
	 * child starts with no timers.  Result: 0 or -EINVAL (another
	 * 'which'). */
	long (*timer_set)(uint32_t which, uint64_t value_ns, uint64_t interval_ns,
			  uint64_t *old_value_ns, uint64_t *old_interval_ns);

	/* debug_log: write a line to the monitor's debug log, shown when
	 * the user asked for it (moat run --debug).  Result: 0. */
	long (*debug_log)(const char *msg, size_t len);

	/* object_close: release a handle of any kind.  Closing a thread
	 * handle does not stop the thread.  Result: 0 or -EBADF. */
	long (*object_close)(moat_handle h);
};

/* Number of downcalls in struct moat_abi. */
#define MOAT_ABI_NCALLS 45

/* ---------------------------------------------------------------- */
/* Upcalls: what the LibOS gives the PAL.                            */

struct moat_upcalls {
	/* init: called once on the first thread with the ABI table and the
	 * boot information.  It loads and starts the program and does not
	 * return. */
	void (*init)(const struct moat_abi *abi,
		     const struct moat_boot_info *boot);

	/* thread_start: first code run by a thread from thread_create(),
	 * with its 'arg'.  Must end in thread_exit(). */
	void (*thread_start)(void *arg);

	/* exception: a thread trapped (system call, fault, ...).  The
	 * handler may edit exc->ctx; the thread resumes there on return.
	 * It runs on a PAL-provided stack, never the app's. */
	void (*exception)(struct moat_exception *exc);
};

/* The LibOS defines this symbol; the PAL calls through it, or through
 * the table of an extension that stands on the way up (moat/extension.h,
 * UPCALLS), which calls it in turn. */
extern const struct moat_upcalls moat_libos_upcalls;

#endif /* MOAT_ABI_H */
