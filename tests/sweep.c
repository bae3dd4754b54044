/*
 * sweep.c -- issue every x86-64 system call number, with hostile
 * arguments, from inside a picoprocess (tests/test_security_sweep.sh).
 *
 *   sweep list
 *   sweep raw   START SKIP DIR PID TCPPORT UDPPORT
 *   sweep gates START SKIP DIR PID TCPPORT UDPPORT
 *   sweep gate  NR TAG DIR PID TCPPORT UDPPORT
 *
 * DIR is the host's canary directory (holding "secret"; never granted),
 * PID a host process of the picoprocess's host uid (the sleeper), TCPPORT
 * and UDPPORT a host TCP listener and UDP socket on 127.0.0.1.  Hostile
 * arguments name them: pointers to host paths (DIR/secret, DIR/pwned,
 * /etc/passwd), the sleeper's pid, sockaddrs of the listeners, namespace
 * flags, and garbage.  The table `presets` below gives each number's
 * arguments; numbers it does not list get the default (DIR/secret,
 * sleeper, TCP sockaddr, 16, 0, 0).
 *
 * list  Print the sweep, one line per number: "raw INDEX NR NAME FLAGS
 *       ARGS", then one line per gate run: "gate NR TAG EXPECT NAME ARGS".
 *       EXPECT is K (the filter must kill it), A (it must be allowed),
 *       "*" (either is safe), or "-" (decided by `moat filter`: allowed iff
 *       the number is listed).
 *       Runs natively; it only prints.
 * raw   From index START of the sweep (0..470, then invalid numbers), make
 *       each call with a 'syscall' instruction in this program: the filter
 *       traps it and the LibOS answers.  Prints "raw I NR NAME: calling"
 *       before and "raw I NR NAME = RESULT" after each call.  Calls marked
 *       CHILD (they end, block or wreck the calling process: exit,
 *       rt_sigreturn, pause, munmap of our memory, ...) run in a forked
 *       child, killed after 500 ms; RESULT then ends in "[child]", and is
 *       "ended: exit S", "ended: signal N" or "blocked" if the child did
 *       not return.  The others run in this process under a 2 s SIGALRM
 *       watchdog, so a call that blocks ends the process (the test script
 *       then restarts the sweep after it).  SKIP is a comma-separated list
 *       of numbers not to call ("-" for none); they print "= skipped".
 * gate  Make one call, NR with the arguments of variant TAG, by calling the
 *       PAL's gate (MOAT_GATE_ADDR, 'syscall; ret').  Tag "h" is the same
 *       hostile preset as raw; the argument-checked calls have more tags
 *       (an allowed form, and high bits set in a checked argument).  Prints
 *       "gate NR TAG: calling", then "gate NR TAG = RESULT" if the call
 *       returns.  Everything after the call is done with gate calls only
 *       (write, exit_group): an allowed call may have changed host state
 *       (signal handlers, %gs) that the LibOS needs.
 * gates Every gate run of `list` from the START-th on, each in a child
 *       forked through the gate with the PAL's fork flags (allowed), so
 *       that the filter kills only the child.  Prints "gates I NR TAG:
 *       calling" and "gates I NR TAG = RESULT", where RESULT is "killed"
 *       (the child died of SIGSYS: it makes no call but through the gate,
 *       so it never traps), the call's result, "the process exited (S)",
 *       "ended: signal N", or "blocked" (killed after 1 s).  Socket
 *       arguments are a socketpair end here, not the channel the child
 *       shares with its parent.  SKIP as for raw.
 *
 * Built static by the Makefile (build/tests/sweep).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "moat/channel.h"

#define NNAMES 471

static const char *const names[NNAMES] = {
	"read", "write", "open", "close", "stat", "fstat", "lstat", "poll", "lseek",
	"mmap", "mprotect", "munmap", "brk", "rt_sigaction", "rt_sigprocmask",
	"rt_sigreturn", "ioctl", "pread64", "pwrite64", "readv", "writev", "access",
	"pipe", "select", "sched_yield", "mremap", "msync", "mincore", "madvise",
	"shmget", "shmat", "shmctl", "dup", "dup2", "pause", "nanosleep",
	"getitimer", "alarm", "setitimer", "getpid", "sendfile", "socket",
	"connect", "accept", "sendto", "recvfrom", "sendmsg", "recvmsg", "shutdown",
	"bind", "listen", "getsockname", "getpeername", "socketpair", "setsockopt",
	"getsockopt", "clone", "fork", "vfork", "execve", "exit", "wait4", "kill",
	"uname", "semget", "semop", "semctl", "shmdt", "msgget", "msgsnd", "msgrcv",
	"msgctl", "fcntl", "flock", "fsync", "fdatasync", "truncate", "ftruncate",
	"getdents", "getcwd", "chdir", "fchdir", "rename", "mkdir", "rmdir",
	"creat", "link", "unlink", "symlink", "readlink", "chmod", "fchmod",
	"chown", "fchown", "lchown", "umask", "gettimeofday", "getrlimit",
	"getrusage", "sysinfo", "times", "ptrace", "getuid", "syslog", "getgid",
	"setuid", "setgid", "geteuid", "getegid", "setpgid", "getppid", "getpgrp",
	"setsid", "setreuid", "setregid", "getgroups", "setgroups", "setresuid",
	"getresuid", "setresgid", "getresgid", "getpgid", "setfsuid", "setfsgid",
	"getsid", "capget", "capset", "rt_sigpending", "rt_sigtimedwait",
	"rt_sigqueueinfo", "rt_sigsuspend", "sigaltstack", "utime", "mknod",
	"uselib", "personality", "ustat", "statfs", "fstatfs", "sysfs",
	"getpriority", "setpriority", "sched_setparam", "sched_getparam",
	"sched_setscheduler", "sched_getscheduler", "sched_get_priority_max",
	"sched_get_priority_min", "sched_rr_get_interval", "mlock", "munlock",
	"mlockall", "munlockall", "vhangup", "modify_ldt", "pivot_root", "_sysctl",
	"prctl", "arch_prctl", "adjtimex", "setrlimit", "chroot", "sync", "acct",
	"settimeofday", "mount", "umount2", "swapon", "swapoff", "reboot",
	"sethostname", "setdomainname", "iopl", "ioperm", "create_module",
	"init_module", "delete_module", "get_kernel_syms", "query_module",
	"quotactl", "nfsservctl", "getpmsg", "putpmsg", "afs_syscall", "tuxcall",
	"security", "gettid", "readahead", "setxattr", "lsetxattr", "fsetxattr",
	"getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr",
	"flistxattr", "removexattr", "lremovexattr", "fremovexattr", "tkill",
	"time", "futex", "sched_setaffinity", "sched_getaffinity",
	"set_thread_area", "io_setup", "io_destroy", "io_getevents", "io_submit",
	"io_cancel", "get_thread_area", "lookup_dcookie", "epoll_create",
	"epoll_ctl_old", "epoll_wait_old", "remap_file_pages", "getdents64",
	"set_tid_address", "restart_syscall", "semtimedop", "fadvise64",
	"timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
	"timer_delete", "clock_settime", "clock_gettime", "clock_getres",
	"clock_nanosleep", "exit_group", "epoll_wait", "epoll_ctl", "tgkill",
	"utimes", "vserver", "mbind", "set_mempolicy", "get_mempolicy", "mq_open",
	"mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify",
	"mq_getsetattr", "kexec_load", "waitid", "add_key", "request_key", "keyctl",
	"ioprio_set", "ioprio_get", "inotify_init", "inotify_add_watch",
	"inotify_rm_watch", "migrate_pages", "openat", "mkdirat", "mknodat",
	"fchownat", "futimesat", "newfstatat", "unlinkat", "renameat", "linkat",
	"symlinkat", "readlinkat", "fchmodat", "faccessat", "pselect6", "ppoll",
	"unshare", "set_robust_list", "get_robust_list", "splice", "tee",
	"sync_file_range", "vmsplice", "move_pages", "utimensat", "epoll_pwait",
	"signalfd", "timerfd_create", "eventfd", "fallocate", "timerfd_settime",
	"timerfd_gettime", "accept4", "signalfd4", "eventfd2", "epoll_create1",
	"dup3", "pipe2", "inotify_init1", "preadv", "pwritev", "rt_tgsigqueueinfo",
	"perf_event_open", "recvmmsg", "fanotify_init", "fanotify_mark",
	"prlimit64", "name_to_handle_at", "open_by_handle_at", "clock_adjtime",
	"syncfs", "sendmmsg", "setns", "getcpu", "process_vm_readv",
	"process_vm_writev", "kcmp", "finit_module", "sched_setattr",
	"sched_getattr", "renameat2", "seccomp", "getrandom", "memfd_create",
	"kexec_file_load", "bpf", "execveat", "userfaultfd", "membarrier", "mlock2",
	"copy_file_range", "preadv2", "pwritev2", "pkey_mprotect", "pkey_alloc",
	"pkey_free", "statx", "io_pgetevents", "rseq",
	[424] = "pidfd_send_signal", "io_uring_setup", "io_uring_enter",
	"io_uring_register", "open_tree", "move_mount", "fsopen", "fsconfig",
	"fsmount", "fspick", "pidfd_open", "clone3", "close_range", "openat2",
	"pidfd_getfd", "faccessat2", "process_madvise", "epoll_pwait2",
	"mount_setattr", "quotactl_fd", "landlock_create_ruleset",
	"landlock_add_rule", "landlock_restrict_self", "memfd_secret",
	"process_mrelease", "futex_waitv", "set_mempolicy_home_node", "cachestat",
	"fchmodat2", "map_shadow_stack", "futex_wake", "futex_wait",
	"futex_requeue", "statmount", "listmount", "lsm_get_self_attr",
	"lsm_set_self_attr", "lsm_list_modules", "mseal", "setxattrat",
	"getxattrat", "listxattrat", "removexattrat", "open_tree_attr",
	"file_getattr", "file_setattr", "listns",
};

/* Argument tokens, resolved at run time (see resolve()). */
#define TOKBASE 0x7a7a7a7a00000000L
enum tok {
	PATH_ = 1,  /* "DIR/secret", the canary file */
	DIR_,       /* "DIR" */
	NEW_,       /* "DIR/pwned": must never exist */
	ETC_,       /* "/etc/passwd" */
	PID_,       /* the host sleeper's pid */
	SA_,        /* sockaddr_in 127.0.0.1:TCPPORT */
	SAU_,       /* sockaddr_in 127.0.0.1:UDPPORT */
	BUF_,       /* 64 KiB of zeros, page aligned (also an output buffer) */
	BUF2_,      /* another 64 KiB */
	ZERO_,      /* zeros: a zero timeout, an empty set, a NULL-ish struct */
	ONES_,      /* 4 KiB of 0xff: all signals, all capabilities */
	ONE_,       /* a word holding 1 (CPU 0, node 0) */
	FD_,        /* 0: stdin, /dev/null */
	SOCK_,      /* raw: a LibOS TCP socket; gate: 3, the monitor channel;
		     * gates: a host socketpair end (a forked child shares
		     * the channel with its parent) */
	USOCK_,     /* raw: a LibOS UDP socket; gate: 3; gates: as SOCK_ */
	GARB_,      /* 0x4141414141414141 */
	STR_,       /* "pwned" */
	SH_,        /* "/bin/sh" */
	ARGV_,      /* {"sh", "-c", "touch DIR/pwned; kill -9 PID", NULL} */
	ENVP_,      /* {NULL} */
	IOV_,       /* struct iovec {BUF, 64} */
	MSG_,       /* struct msghdr to SAU, one iovec of "pwned" */
	MMSG_,      /* struct mmsghdr {MSG_} */
	LENP_,      /* socklen_t 64 */
	NEWNS_,     /* CLONE_NEWUSER|NEWNS|NEWPID|NEWNET|NEWUTS|NEWIPC|SIGCHLD */
	CAPHDR_,    /* cap_user_header {v3, sleeper} */
	CAPSELF_,   /* cap_user_header {v3, 0} */
	TIMEX_,     /* struct timex: ADJ_SETOFFSET by +1 day */
	TOMORROW_,  /* struct timespec: now + 1 day */
	TVTOMORROW_,/* struct timeval: now + 1 day */
	XNAME_,     /* "user.moat" */
	KTYPE_,     /* "user" */
	KDESC_,     /* "moat-sweep" */
	MQ_,        /* "/moat-sweep" */
	CLONEARGS_, /* struct clone_args: NEWNS_ flags */
	OPENHOW_,   /* struct open_how {O_RDWR} */
	SCHEDATTR_, /* struct sched_attr {48, SCHED_IDLE} */
	BPFATTR_,   /* union bpf_attr: an array map of one int */
	PIDWORD_,   /* an int holding the sleeper's pid (PI futex owner) */
	XARGS_,     /* struct xattr_args {STR, 5, 0} */
	FH_,        /* struct file_handle, 8 bytes of garbage */
	PTRS_,      /* void *[1] = {BUF} */
	TMPFS_,     /* "tmpfs" */
	EMPTY_,     /* "" */
	FRAME_,     /* a forged rt_sigframe (gate rt_sigreturn only) */
	TSTACK_,    /* a thread stack whose top returns to thread_exit */
	TOKMAX_
};
static const char *const tok_names[TOKMAX_] = {
	[PATH_] = "canary", [DIR_] = "canarydir", [NEW_] = "canarydir/pwned",
	[ETC_] = "/etc/passwd", [PID_] = "sleeper", [SA_] = "&tcp", [SAU_] = "&udp",
	[BUF_] = "buf", [BUF2_] = "buf2", [ZERO_] = "&zero", [ONES_] = "&ones",
	[ONE_] = "&1", [FD_] = "0", [SOCK_] = "sock", [USOCK_] = "usock",
	[GARB_] = "0x4141414141414141", [STR_] = "\"pwned\"", [SH_] = "\"/bin/sh\"",
	[ARGV_] = "argv", [ENVP_] = "envp", [IOV_] = "&iov", [MSG_] = "&msg(udp)",
	[MMSG_] = "&mmsg(udp)", [LENP_] = "&len", [NEWNS_] = "CLONE_NEW*",
	[CAPHDR_] = "&caphdr(sleeper)", [CAPSELF_] = "&caphdr(self)",
	[TIMEX_] = "&timex(+1 day)", [TOMORROW_] = "&ts(+1 day)",
	[TVTOMORROW_] = "&tv(+1 day)", [XNAME_] = "\"user.moat\"",
	[KTYPE_] = "\"user\"", [KDESC_] = "\"moat-sweep\"", [MQ_] = "\"/moat-sweep\"",
	[CLONEARGS_] = "&clone_args(CLONE_NEW*)", [OPENHOW_] = "&open_how(O_RDWR)",
	[SCHEDATTR_] = "&sched_attr(IDLE)", [BPFATTR_] = "&bpf_attr(array map)",
	[PIDWORD_] = "&sleeper", [XARGS_] = "&xattr_args", [FH_] = "&file_handle",
	[PTRS_] = "&{buf}", [TMPFS_] = "\"tmpfs\"", [EMPTY_] = "\"\"",
	[FRAME_] = "(forged frame)", [TSTACK_] = "stack",
};
#define T(x) (TOKBASE | x##_)

#define F_SET 1    /* listed (else: the default arguments) */
#define F_CHILD 2  /* raw: run in a forked child */

struct preset {
	unsigned char flags;
	long a[6];
};
#define P(...) { F_SET, { __VA_ARGS__ } }
#define C(...) { F_SET | F_CHILD, { __VA_ARGS__ } }
#define AT (-100L) /* AT_FDCWD */
#define NEWNS_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | \
		     CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD)

static const struct preset presets[NNAMES] = {
	[0] = P(T(FD), T(BUF), 64),                     /* read */
	[1] = P(T(FD), T(PATH), 8),                     /* write */
	[2] = P(T(PATH), O_RDONLY),                     /* open */
	[3] = C(T(FD)),                                 /* close */
	[4] = P(T(PATH), T(BUF)),                       /* stat */
	[5] = P(T(FD), T(BUF)),                         /* fstat */
	[6] = P(T(PATH), T(BUF)),                       /* lstat */
	[7] = P(T(BUF), 1, 0),                          /* poll */
	[8] = P(T(FD), 0, 0),                           /* lseek */
	[9] = C(T(BUF), 4096, 7, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
	[10] = C(T(BUF), 4096, 7),                      /* mprotect RWX */
	[11] = C(T(BUF), 4096),                         /* munmap */
	[12] = C(T(GARB)),                              /* brk */
	[13] = C(SIGSYS, T(ZERO), 0, 8),                /* rt_sigaction SIG_DFL */
	[14] = C(SIG_BLOCK, T(ONES), 0, 8),             /* rt_sigprocmask */
	[15] = C(0),                                    /* rt_sigreturn */
	[16] = P(T(FD), 0x5412 /* TIOCSTI */, T(STR)),  /* ioctl */
	[17] = P(T(FD), T(BUF), 64, 0),                 /* pread64 */
	[18] = P(T(FD), T(PATH), 8, 0),                 /* pwrite64 */
	[19] = P(T(FD), T(IOV), 1),                     /* readv */
	[20] = P(T(FD), T(IOV), 1),                     /* writev */
	[21] = P(T(PATH), 4 /* R_OK */),                /* access */
	[22] = P(T(BUF)),                               /* pipe */
	[23] = P(1, T(BUF), 0, 0, T(ZERO)),             /* select */
	[24] = P(0),                                    /* sched_yield */
	[25] = C(T(BUF), 4096, 8192, 1 /* MAYMOVE */),  /* mremap */
	[26] = P(T(BUF), 4096, MS_SYNC),                /* msync */
	[27] = P(T(BUF), 4096, T(BUF2)),                /* mincore */
	[28] = C(T(BUF), 4096, MADV_DONTNEED),          /* madvise */
	[29] = P(0x6d6f6174, 4096, IPC_CREAT | 0666),   /* shmget */
	[30] = P(0, 0, 0),                              /* shmat */
	[31] = P(0, 0 /* IPC_RMID */, 0),               /* shmctl */
	[32] = P(T(FD)),                                /* dup */
	[33] = C(T(FD), 1),                             /* dup2 onto stdout */
	[34] = C(0),                                    /* pause */
	[35] = P(T(ZERO), 0),                           /* nanosleep */
	[36] = P(0, T(BUF)),                            /* getitimer */
	[37] = C(1000),                                 /* alarm */
	[38] = C(0, T(ZERO), 0),                        /* setitimer */
	[39] = P(0),                                    /* getpid */
	[40] = P(T(FD), T(FD), 0, 64),                  /* sendfile */
	[41] = P(AF_INET, SOCK_STREAM, 0),              /* socket */
	[42] = P(T(SOCK), T(SA), 16),                   /* connect */
	[43] = C(T(SOCK), 0, 0),                        /* accept */
	[44] = P(T(USOCK), T(STR), 5, 0, T(SAU), 16),   /* sendto */
	[45] = C(T(SOCK), T(BUF), 64, MSG_DONTWAIT, 0, 0),
	[46] = P(T(USOCK), T(MSG), 0),                  /* sendmsg */
	[47] = C(T(FD), T(MSG), MSG_DONTWAIT),          /* recvmsg */
	[48] = P(T(SOCK), SHUT_RDWR),                   /* shutdown */
	[49] = P(T(SOCK), T(SA), 16),                   /* bind */
	[50] = P(T(SOCK), 1),                           /* listen */
	[51] = P(T(SOCK), T(BUF), T(LENP)),             /* getsockname */
	[52] = P(T(SOCK), T(BUF), T(LENP)),             /* getpeername */
	[53] = P(AF_INET, SOCK_STREAM, 0, T(BUF)),      /* socketpair */
	[54] = P(T(SOCK), SOL_SOCKET, 25 /* BINDTODEVICE */, T(STR), 5),
	[55] = P(T(SOCK), SOL_SOCKET, SO_PEERCRED, T(BUF), T(LENP)),
	[56] = C(NEWNS_FLAGS, 0, 0, 0, 0),              /* clone */
	[57] = C(0),                                    /* fork */
	[58] = C(0),                                    /* vfork */
	[59] = C(T(SH), T(ARGV), T(ENVP)),              /* execve */
	[60] = C(42),                                   /* exit */
	[61] = P(T(PID), T(BUF), 0, 0),                 /* wait4 */
	[62] = P(T(PID), SIGKILL),                      /* kill */
	[63] = P(T(BUF)),                               /* uname */
	[64] = P(0x6d6f6174, 1, IPC_CREAT | 0666),      /* semget */
	[65] = C(0, T(BUF), 1),                         /* semop */
	[66] = P(0, 0, 0 /* IPC_RMID */),               /* semctl */
	[67] = P(T(BUF)),                               /* shmdt */
	[68] = P(0x6d6f6174, IPC_CREAT | 0666),         /* msgget */
	[69] = P(0, T(BUF), 8, IPC_NOWAIT),             /* msgsnd */
	[70] = P(0, T(BUF), 8, 0, IPC_NOWAIT),          /* msgrcv */
	[71] = P(0, 0 /* IPC_RMID */, 0),               /* msgctl */
	[72] = P(T(FD), F_SETOWN, T(PID)),              /* fcntl */
	[73] = P(T(FD), LOCK_EX | LOCK_NB),             /* flock */
	[74] = P(T(FD)),                                /* fsync */
	[75] = P(T(FD)),                                /* fdatasync */
	[76] = P(T(PATH), 0),                           /* truncate */
	[77] = P(T(FD), 0),                             /* ftruncate */
	[78] = P(T(FD), T(BUF), 64),                    /* getdents */
	[79] = P(T(BUF), 64),                           /* getcwd */
	[80] = P(T(DIR)),                               /* chdir */
	[81] = P(T(FD)),                                /* fchdir */
	[82] = P(T(PATH), T(NEW)),                      /* rename */
	[83] = P(T(NEW), 0777),                         /* mkdir */
	[84] = P(T(DIR)),                               /* rmdir */
	[85] = P(T(NEW), 04777),                        /* creat */
	[86] = P(T(PATH), T(NEW)),                      /* link */
	[87] = P(T(PATH)),                              /* unlink */
	[88] = P(T(ETC), T(NEW)),                       /* symlink */
	[89] = P(T(PATH), T(BUF), 64),                  /* readlink */
	[90] = P(T(PATH), 04777),                       /* chmod */
	[91] = P(T(FD), 04777),                         /* fchmod */
	[92] = P(T(PATH), 0, 0),                        /* chown */
	[93] = P(T(FD), 0, 0),                          /* fchown */
	[94] = P(T(PATH), 0, 0),                        /* lchown */
	[95] = P(0),                                    /* umask */
	[96] = P(T(BUF), 0),                            /* gettimeofday */
	[97] = P(7 /* NOFILE */, T(BUF)),               /* getrlimit */
	[98] = P(0, T(BUF)),                            /* getrusage */
	[99] = P(T(BUF)),                               /* sysinfo */
	[100] = P(T(BUF)),                              /* times */
	[101] = P(16 /* PTRACE_ATTACH */, T(PID), 0, 0),
	[102] = P(0),                                   /* getuid */
	[103] = P(3 /* READ_ALL */, T(BUF), 64),        /* syslog */
	[104] = P(0),                                   /* getgid */
	[105] = P(0), [106] = P(0),                     /* setuid, setgid */
	[107] = P(0), [108] = P(0),                     /* geteuid, getegid */
	[109] = P(T(PID), T(PID)),                      /* setpgid */
	[110] = P(0), [111] = P(0), [112] = P(0),       /* getppid getpgrp setsid */
	[113] = P(0, 0), [114] = P(0, 0),               /* setreuid setregid */
	[115] = P(16, T(BUF)),                          /* getgroups */
	[116] = P(1, T(ZERO)),                          /* setgroups {0} */
	[117] = P(0, 0, 0),                             /* setresuid */
	[118] = P(T(BUF), T(BUF), T(BUF)),              /* getresuid */
	[119] = P(0, 0, 0),                             /* setresgid */
	[120] = P(T(BUF), T(BUF), T(BUF)),              /* getresgid */
	[121] = P(T(PID)),                              /* getpgid */
	[122] = P(0), [123] = P(0),                     /* setfsuid setfsgid */
	[124] = P(T(PID)),                              /* getsid */
	[125] = P(T(CAPHDR), T(BUF)),                   /* capget */
	[126] = P(T(CAPSELF), T(ONES)),                 /* capset */
	[127] = P(T(BUF), 8),                           /* rt_sigpending */
	[128] = P(T(ONES), T(BUF), T(ZERO), 8),         /* rt_sigtimedwait */
	[129] = P(T(PID), SIGKILL, T(BUF)),             /* rt_sigqueueinfo */
	[130] = C(T(ZERO), 8),                          /* rt_sigsuspend */
	[131] = C(T(BUF), 0),                           /* sigaltstack */
	[132] = P(T(PATH), 0),                          /* utime */
	[133] = P(T(NEW), 020666, 0x103),               /* mknod: char 1,3 */
	[134] = P(T(PATH)),                             /* uselib */
	[135] = P(0x0400000 /* READ_IMPLIES_EXEC */),   /* personality */
	[136] = P(0, T(BUF)),                           /* ustat */
	[137] = P(T(DIR), T(BUF)),                      /* statfs */
	[138] = P(T(FD), T(BUF)),                       /* fstatfs */
	[139] = P(2, 0, T(BUF)),                        /* sysfs */
	[140] = P(0, T(PID)),                           /* getpriority */
	[141] = P(0, T(PID), 19),                       /* setpriority */
	[142] = P(T(PID), T(BUF)),                      /* sched_setparam */
	[143] = P(T(PID), T(BUF)),                      /* sched_getparam */
	[144] = P(T(PID), 5 /* SCHED_IDLE */, T(ZERO)), /* sched_setscheduler */
	[145] = P(T(PID)),                              /* sched_getscheduler */
	[146] = P(1), [147] = P(1),                     /* sched_get_priority_* */
	[148] = P(T(PID), T(BUF)),                      /* sched_rr_get_interval */
	[149] = P(T(BUF), 4096), [150] = P(T(BUF), 4096), /* mlock munlock */
	[151] = P(3 /* MCL_CURRENT|FUTURE */),          /* mlockall */
	[152] = P(0), [153] = P(0),                     /* munlockall vhangup */
	[154] = P(1, T(BUF), 16),                       /* modify_ldt */
	[155] = P(T(DIR), T(DIR)),                      /* pivot_root */
	[156] = P(T(BUF)),                              /* _sysctl */
	[157] = C(35 /* PR_SET_MM */, 13 /* EXE_FILE */, T(FD), 0, 0),
	[158] = C(0x1012 /* ARCH_SET_CPUID */, 0),      /* arch_prctl */
	[159] = P(T(TIMEX)),                            /* adjtimex */
	[160] = C(7 /* NOFILE */, T(ZERO)),             /* setrlimit */
	[161] = P(T(DIR)),                              /* chroot */
	[162] = P(0),                                   /* sync */
	[163] = P(T(NEW)),                              /* acct */
	[164] = P(T(TVTOMORROW), 0),                    /* settimeofday */
	[165] = P(T(TMPFS), T(DIR), T(TMPFS), 0, 0),    /* mount */
	[166] = P(T(DIR), 2 /* MNT_DETACH */),          /* umount2 */
	[167] = P(T(PATH), 0), [168] = P(T(PATH)),      /* swapon swapoff */
	[169] = P(0xfee1dead, 672274793, 0 /* CAD_OFF */, 0), /* reboot */
	[170] = P(T(STR), 5), [171] = P(T(STR), 5),     /* set{host,domain}name */
	[172] = P(3), [173] = P(0, 1024, 1),            /* iopl ioperm */
	[175] = P(T(BUF), 64, T(EMPTY)),                /* init_module */
	[176] = P(T(KDESC), O_NONBLOCK),                /* delete_module */
	[179] = P(0x800002 /* Q_QUOTAON */, T(DIR), 0, T(PATH)), /* quotactl */
	[186] = P(0),                                   /* gettid */
	[187] = P(T(FD), 0, 4096),                      /* readahead */
	[188] = P(T(PATH), T(XNAME), T(STR), 5, 0),     /* setxattr */
	[189] = P(T(PATH), T(XNAME), T(STR), 5, 0),     /* lsetxattr */
	[190] = P(T(FD), T(XNAME), T(STR), 5, 0),       /* fsetxattr */
	[191] = P(T(PATH), T(XNAME), T(BUF), 64),       /* getxattr */
	[192] = P(T(PATH), T(XNAME), T(BUF), 64),       /* lgetxattr */
	[193] = P(T(FD), T(XNAME), T(BUF), 64),         /* fgetxattr */
	[194] = P(T(PATH), T(BUF), 64),                 /* listxattr */
	[195] = P(T(PATH), T(BUF), 64),                 /* llistxattr */
	[196] = P(T(FD), T(BUF), 64),                   /* flistxattr */
	[197] = P(T(PATH), T(XNAME)),                   /* removexattr */
	[198] = P(T(PATH), T(XNAME)),                   /* lremovexattr */
	[199] = P(T(FD), T(XNAME)),                     /* fremovexattr */
	[200] = P(T(PID), SIGKILL),                     /* tkill */
	[201] = P(T(BUF)),                              /* time */
	[202] = P(T(BUF), 0 /* FUTEX_WAIT */, 1, 0),    /* futex: value differs */
	[203] = P(T(PID), 8, T(ONE)),                   /* sched_setaffinity */
	[204] = P(T(PID), 8, T(BUF)),                   /* sched_getaffinity */
	[205] = C(T(BUF)),                              /* set_thread_area */
	[206] = P(64, T(BUF)),                          /* io_setup */
	[207] = P(0),                                   /* io_destroy */
	[208] = P(0, 1, 1, T(BUF), T(ZERO)),            /* io_getevents */
	[209] = P(0, 1, T(PTRS)),                       /* io_submit */
	[210] = P(0, T(BUF), T(BUF2)),                  /* io_cancel */
	[211] = P(T(BUF)),                              /* get_thread_area */
	[212] = P(0, T(BUF), 64),                       /* lookup_dcookie */
	[213] = P(1),                                   /* epoll_create */
	[216] = C(T(BUF), 4096, 0, 0, 0),               /* remap_file_pages */
	[217] = P(T(FD), T(BUF), 64),                   /* getdents64 */
	[218] = C(T(BUF)),                              /* set_tid_address */
	[219] = P(0),                                   /* restart_syscall */
	[220] = C(0, T(BUF), 1, T(ZERO)),               /* semtimedop */
	[221] = P(T(FD), 0, 0, 4 /* DONTNEED */),       /* fadvise64 */
	[222] = P(CLOCK_REALTIME, 0, T(BUF)),           /* timer_create */
	[223] = C(0, 0, T(ONES), 0),                    /* timer_settime */
	[224] = P(0, T(BUF)),                           /* timer_gettime */
	[225] = P(0), [226] = P(0),                     /* timer_getoverrun/delete */
	[227] = P(CLOCK_REALTIME, T(TOMORROW)),         /* clock_settime */
	[228] = P(CLOCK_REALTIME, T(BUF)),              /* clock_gettime */
	[229] = P(CLOCK_REALTIME, T(BUF)),              /* clock_getres */
	[230] = P(CLOCK_REALTIME, 0, T(ZERO), 0),       /* clock_nanosleep */
	[231] = C(42),                                  /* exit_group */
	[232] = P(T(FD), T(BUF), 1, 0),                 /* epoll_wait */
	[233] = P(T(FD), 1 /* ADD */, T(FD), T(BUF)),   /* epoll_ctl */
	[234] = P(T(PID), T(PID), SIGKILL),             /* tgkill */
	[235] = P(T(PATH), 0),                          /* utimes */
	[237] = P(T(BUF), 4096, 2 /* MPOL_BIND */, T(ONE), 64, 0),
	[238] = P(2 /* MPOL_BIND */, T(ONE), 64),       /* set_mempolicy */
	[239] = P(T(BUF), 0, 0, 0, 0),                  /* get_mempolicy */
	[240] = P(T(MQ), O_CREAT | O_RDWR, 0666, 0),    /* mq_open */
	[241] = P(T(MQ)),                               /* mq_unlink */
	[242] = P(T(FD), T(STR), 5, 0, T(ZERO)),        /* mq_timedsend */
	[243] = P(T(FD), T(BUF), 64, 0, T(ZERO)),       /* mq_timedreceive */
	[244] = P(T(FD), 0), [245] = P(T(FD), 0, T(BUF)), /* mq_notify getsetattr */
	[246] = P(0, 0, 0, 0),                          /* kexec_load */
	[247] = P(1 /* P_PID */, T(PID), T(BUF), WEXITED | WNOHANG, 0),
	[248] = P(T(KTYPE), T(KDESC), T(STR), 5, -4 /* USER_KEYRING */),
	[249] = P(T(KTYPE), T(KDESC), 0, -4),           /* request_key */
	[250] = P(1 /* JOIN_SESSION_KEYRING */, T(KDESC)), /* keyctl */
	[251] = P(1 /* WHO_PROCESS */, T(PID), 3 << 13 /* IDLE */),
	[252] = P(1, T(PID)),                           /* ioprio_get */
	[253] = P(0),                                   /* inotify_init */
	[254] = P(T(FD), T(PATH), 0xfff),               /* inotify_add_watch */
	[255] = P(T(FD), 1),                            /* inotify_rm_watch */
	[256] = P(T(PID), 64, T(ONE), T(ONE)),          /* migrate_pages */
	[257] = P(AT, T(NEW), O_CREAT | O_RDWR | O_EXCL, 04777), /* openat */
	[258] = P(AT, T(NEW), 0777),                    /* mkdirat */
	[259] = P(AT, T(NEW), 010666, 0),               /* mknodat: FIFO */
	[260] = P(AT, T(PATH), 0, 0, 0),                /* fchownat */
	[261] = P(AT, T(PATH), 0),                      /* futimesat */
	[262] = P(AT, T(PATH), T(BUF), 0),              /* newfstatat */
	[263] = P(AT, T(PATH), 0),                      /* unlinkat */
	[264] = P(AT, T(PATH), AT, T(NEW)),             /* renameat */
	[265] = P(AT, T(PATH), AT, T(NEW), 0),          /* linkat */
	[266] = P(T(ETC), AT, T(NEW)),                  /* symlinkat */
	[267] = P(AT, T(PATH), T(BUF), 64),             /* readlinkat */
	[268] = P(AT, T(PATH), 04777),                  /* fchmodat */
	[269] = P(AT, T(PATH), 4 /* R_OK */),           /* faccessat */
	[270] = P(1, T(BUF), 0, 0, T(ZERO), 0),         /* pselect6 */
	[271] = P(T(BUF), 1, T(ZERO), 0, 8),            /* ppoll */
	[272] = P(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET), /* unshare */
	[273] = C(T(BUF), 24),                          /* set_robust_list */
	[274] = P(T(PID), T(BUF), T(BUF2)),             /* get_robust_list */
	[275] = P(T(FD), 0, T(FD), 0, 64, 0),           /* splice */
	[276] = P(T(FD), T(FD), 64, 0),                 /* tee */
	[277] = P(T(FD), 0, 0, 0),                      /* sync_file_range */
	[278] = P(T(FD), T(IOV), 1, 0),                 /* vmsplice */
	[279] = P(T(PID), 1, T(PTRS), 0, T(BUF2), 0),   /* move_pages */
	[280] = P(AT, T(PATH), 0, 0),                   /* utimensat */
	[281] = P(T(FD), T(BUF), 1, 0, 0, 8),           /* epoll_pwait */
	[282] = P(-1, T(ONES), 8),                      /* signalfd */
	[283] = P(CLOCK_REALTIME, 0),                   /* timerfd_create */
	[284] = P(0),                                   /* eventfd */
	[285] = P(T(FD), 0, 0, 4096),                   /* fallocate */
	[286] = P(T(FD), 0, T(BUF), 0),                 /* timerfd_settime */
	[287] = P(T(FD), T(BUF)),                       /* timerfd_gettime */
	[288] = P(T(SOCK), 0, 0, 0),                    /* accept4 */
	[289] = P(-1, T(ONES), 8, 0),                   /* signalfd4 */
	[290] = P(0, 0), [291] = P(0),                  /* eventfd2 epoll_create1 */
	[292] = C(T(FD), 1, 0),                         /* dup3 onto stdout */
	[293] = P(T(BUF), 0),                           /* pipe2 */
	[294] = P(0),                                   /* inotify_init1 */
	[295] = P(T(FD), T(IOV), 1, 0, 0),              /* preadv */
	[296] = P(T(FD), T(IOV), 1, 0, 0),              /* pwritev */
	[297] = P(T(PID), T(PID), SIGKILL, T(BUF)),     /* rt_tgsigqueueinfo */
	[298] = P(T(BUF), T(PID), -1, -1, 0),           /* perf_event_open */
	[299] = P(T(SOCK), T(MMSG), 1, MSG_DONTWAIT, 0), /* recvmmsg */
	[300] = P(0, 0),                                /* fanotify_init */
	[301] = P(T(FD), 1, 0x20 /* FAN_OPEN */, AT, T(PATH)),
	[302] = C(T(PID), 7 /* NOFILE */, T(ZERO), 0),  /* prlimit64 */
	[303] = P(AT, T(PATH), T(FH), T(BUF), 0),       /* name_to_handle_at */
	[304] = P(T(FD), T(FH), O_RDONLY),              /* open_by_handle_at */
	[305] = P(CLOCK_REALTIME, T(TIMEX)),            /* clock_adjtime */
	[306] = P(T(FD)),                               /* syncfs */
	[307] = P(T(USOCK), T(MMSG), 1, 0),             /* sendmmsg */
	[308] = P(T(FD), 0),                            /* setns */
	[309] = P(T(BUF), T(BUF2), 0),                  /* getcpu */
	[310] = P(T(PID), T(IOV), 1, T(IOV), 1, 0),     /* process_vm_readv */
	[311] = P(T(PID), T(IOV), 1, T(IOV), 1, 0),     /* process_vm_writev */
	[312] = P(T(PID), 1, 0 /* KCMP_FILE */, 0, 0),  /* kcmp */
	[313] = P(T(FD), T(EMPTY), 0),                  /* finit_module */
	[314] = P(T(PID), T(SCHEDATTR), 0),             /* sched_setattr */
	[315] = P(T(PID), T(BUF), 48, 0),               /* sched_getattr */
	[316] = P(AT, T(PATH), AT, T(NEW), 0),          /* renameat2 */
	[317] = C(0 /* SET_MODE_STRICT */, 0, 0),       /* seccomp */
	[318] = P(T(BUF), 16, 0),                       /* getrandom */
	[319] = P(T(STR), 0),                           /* memfd_create */
	[320] = P(T(FD), T(FD), 0, 0, 0),               /* kexec_file_load */
	[321] = P(0 /* MAP_CREATE */, T(BPFATTR), 72),  /* bpf */
	[322] = C(AT, T(SH), T(ARGV), T(ENVP), 0),      /* execveat */
	[323] = P(0),                                   /* userfaultfd */
	[324] = P(0, 0),                                /* membarrier */
	[325] = P(T(BUF), 4096, 0),                     /* mlock2 */
	[326] = P(T(FD), 0, T(FD), 0, 64, 0),           /* copy_file_range */
	[327] = P(T(FD), T(IOV), 1, 0, 0, 0),           /* preadv2 */
	[328] = P(T(FD), T(IOV), 1, 0, 0, 0),           /* pwritev2 */
	[329] = C(T(BUF), 4096, 7, 0),                  /* pkey_mprotect */
	[330] = P(0, 0), [331] = P(0),                  /* pkey_alloc pkey_free */
	[332] = P(AT, T(PATH), 0, 0xfff, T(BUF)),       /* statx */
	[333] = P(0, 1, 1, T(BUF), T(ZERO), 0),         /* io_pgetevents */
	[334] = C(T(BUF), 32, 0, 0x53053053),           /* rseq */
	[424] = P(T(FD), SIGKILL, 0, 0),                /* pidfd_send_signal */
	[425] = P(8, T(BUF)),                           /* io_uring_setup */
	[426] = P(T(FD), 1, 0, 0, 0, 0),                /* io_uring_enter */
	[427] = P(T(FD), 0, T(BUF), 1),                 /* io_uring_register */
	[428] = P(AT, T(DIR), 1 /* OPEN_TREE_CLONE */), /* open_tree */
	[429] = P(T(FD), T(EMPTY), AT, T(DIR), 4),      /* move_mount */
	[430] = P(T(TMPFS), 0),                         /* fsopen */
	[431] = P(T(FD), 6 /* CMD_CREATE */, 0, 0, 0),  /* fsconfig */
	[432] = P(T(FD), 0, 0),                         /* fsmount */
	[433] = P(AT, T(DIR), 0),                       /* fspick */
	[434] = P(T(PID), 0),                           /* pidfd_open */
	[435] = C(T(CLONEARGS), 88),                    /* clone3 */
	[436] = C(0, ~0U, 0),                           /* close_range */
	[437] = P(AT, T(PATH), T(OPENHOW), 24),         /* openat2 */
	[438] = P(T(FD), 0, 0),                         /* pidfd_getfd */
	[439] = P(AT, T(PATH), 4, 0),                   /* faccessat2 */
	[440] = P(T(FD), T(IOV), 1, 20 /* MADV_COLD */, 0),
	[441] = P(T(FD), T(BUF), 1, T(ZERO), 0, 8),     /* epoll_pwait2 */
	[442] = P(AT, T(DIR), 0, T(BUF), 32),           /* mount_setattr */
	[443] = P(T(FD), 0, 0, 0),                      /* quotactl_fd */
	[444] = P(0, 0, 1 /* VERSION */),               /* landlock_create_ruleset */
	[445] = P(T(FD), 1, T(BUF), 0),                 /* landlock_add_rule */
	[446] = P(T(FD), 0),                            /* landlock_restrict_self */
	[447] = P(0),                                   /* memfd_secret */
	[448] = P(T(FD), 0),                            /* process_mrelease */
	[449] = P(T(BUF), 1, 0, T(ZERO), 0),            /* futex_waitv */
	[450] = P(T(BUF), 4096, 0, 0),                  /* set_mempolicy_home_node */
	[451] = P(T(FD), T(BUF), T(BUF2), 0),           /* cachestat */
	[452] = P(AT, T(PATH), 04777, 0),               /* fchmodat2 */
	[453] = P(0, 4096, 0),                          /* map_shadow_stack */
	[454] = P(T(BUF), 1, 1, 0x82),                  /* futex_wake */
	[455] = P(T(BUF), 1, 1, 0x82, T(ZERO), 0),      /* futex_wait */
	[456] = P(T(BUF), 0, 1, 1),                     /* futex_requeue */
	[457] = P(T(BUF), T(BUF2), 64, 0),              /* statmount */
	[458] = P(T(BUF), T(BUF2), 16, 0),              /* listmount */
	[459] = P(1, T(BUF), T(LENP), 0),               /* lsm_get_self_attr */
	[460] = P(1, T(BUF), 64, 0),                    /* lsm_set_self_attr */
	[461] = P(T(BUF), T(LENP), 0),                  /* lsm_list_modules */
	[462] = P(T(BUF), 4096, 0),                     /* mseal */
	[463] = P(AT, T(PATH), 0, T(XNAME), T(XARGS), 24), /* setxattrat */
	[464] = P(AT, T(PATH), 0, T(XNAME), T(XARGS), 24), /* getxattrat */
	[465] = P(AT, T(PATH), 0, T(BUF), 64),          /* listxattrat */
	[466] = P(AT, T(PATH), 0, T(XNAME)),            /* removexattrat */
	[467] = P(AT, T(DIR), 1, 0, 0),                 /* open_tree_attr */
	[468] = P(AT, T(PATH), T(BUF), 32, 0),          /* file_getattr */
	[469] = P(AT, T(PATH), T(BUF), 32, 0),          /* file_setattr */
	[470] = P(T(BUF), T(BUF2), 16, 0),              /* listns */
};

static const struct preset default_preset = P(T(PATH), T(PID), T(SA), 16, 0, 0);

/* After 0..470: numbers no x86-64 kernel assigns (512 is x32 rt_sigaction
 * without the x32 bit), x32 numbers, bits 31 and 32, and -1.  Names have
 * no spaces: the test script reads `list` by words. */
static const struct {
	long nr;
	const char *name;
	struct preset p;
} invalid[] = {
	{ 471, "(unassigned)", P(T(PATH), T(PID), T(SA), 16, 0, 0) },
	{ 512, "(unassigned)", P(SIGSYS, T(ZERO), 0, 8) },
	{ 1000, "(unassigned)", P(T(PATH), T(PID), T(SA), 16, 0, 0) },
	{ 0x40000000L | 1, "(x32-write)", P(1, T(STR), 5) },
	{ 0x40000000L | 2, "(x32-open)", P(T(PATH), O_RDONLY) },
	{ 0x40000000L | 257, "(x32-openat)", P(AT, T(NEW), O_CREAT | O_RDWR, 0666) },
	{ 0x40000000L | 62, "(x32-kill)", P(T(PID), SIGKILL) },
	{ 0x40000000L | 101, "(x32-ptrace)", P(16, T(PID), 0, 0) },
	{ 0x40000000L | 0x1ff, "(x32-unassigned)", P(T(PATH), T(PID), T(SA), 16) },
	{ 0x100000002L, "(open+bit32)", P(T(PATH), O_RDONLY) },
	{ 0x80000000L, "(bit31)", P(T(PATH), T(PID), T(SA), 16) },
	{ 0xffffffffL, "(0xffffffff)", P(T(PATH), T(PID), T(SA), 16) },
	{ -1, "(-1)", P(T(PATH), T(PID), T(SA), 16) },
};
#define NINVALID (sizeof(invalid) / sizeof(invalid[0]))
#define NSWEEP (NNAMES + NINVALID)

/* Extra gate runs for the argument-checked calls: one with arguments the
 * filter's rule admits ('A'), and ones that must be refused ('K').  Some
 * set high bits in a checked argument that the kernel truncates to 32
 * bits (descriptors, domains, commands): a rule that compares 64 bits
 * must not let 0x100000000 pass as "> 2" when the kernel sees 0.  Where
 * the truncated value is an allowed form, either outcome is safe ('*').
 * The "h" run of these numbers uses the hostile preset, which the rules
 * refuse, so it is 'K' too. */
#define PAL_THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | \
			  CLONE_THREAD | CLONE_SYSVSEM | CLONE_PARENT_SETTID | \
			  CLONE_CHILD_CLEARTID)
#define PAL_FORK_FLAGS (CLONE_CHILD_SETTID | SIGCHLD)
static const struct {
	long nr;
	const char *tag;
	char expect;
	struct preset p;
} variants[] = {
	{ 47, "fd3", 'A', P(3, T(MSG), MSG_DONTWAIT) },
	{ 47, "fd3hi", '*', P(0x100000003L, T(MSG), MSG_DONTWAIT) },
	{ 47, "fd0hi", 'K', P(0x100000000L, T(MSG), MSG_DONTWAIT) },
	{ 53, "unix", 'A', P(AF_UNIX, SOCK_STREAM, 0, T(BUF)) },
	{ 53, "inethi", 'K', P(0x100000000L | AF_INET, SOCK_STREAM, 0, T(BUF)) },
	{ 55, "so_error", 'A', P(T(FD), SOL_SOCKET, SO_ERROR, T(BUF), T(LENP)) },
	{ 55, "peercredhi", 'K', P(T(FD), SOL_SOCKET, 0x100000000L | SO_PEERCRED, T(BUF), T(LENP)) },
	{ 56, "fork", 'A', P(PAL_FORK_FLAGS, 0, 0, T(BUF), 0) },
	{ 56, "thread", 'A', P(PAL_THREAD_FLAGS, T(TSTACK), T(BUF), T(BUF2), 0) },
	{ 56, "forkhi", '*', P(0x100000000L | PAL_FORK_FLAGS, 0, 0, T(BUF), 0) },
	{ 56, "vfork", 'K', P(CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0) },
	{ 72, "setlk", 'A', P(T(FD), F_SETLK, T(ZERO)) },
	{ 72, "setlkw", 'K', P(T(FD), F_SETLKW, T(ZERO)) },
	{ 72, "setownhi", 'K', P(T(FD), 0x100000000L | F_SETOWN, T(PID)) },
	/* newfstatat: a descriptor (never AT_FDCWD, high bits zero) and
	 * AT_SYMLINK_NOFOLLOW; fstat is newfstatat with AT_EMPTY_PATH */
	{ 262, "nofollow", 'A', P(T(FD), T(PATH), T(BUF), 0x100) },
	{ 262, "empty", 'A', P(T(FD), T(ZERO), T(BUF), 0x1100) },
	{ 262, "cwd", 'K', P(AT, T(PATH), T(BUF), 0x100) },
	{ 262, "follow", 'K', P(T(FD), T(PATH), T(BUF), 0) },
	{ 262, "cwdhi", 'K', P(0xffffff9cL, T(PATH), T(BUF), 0x100) },
	{ 262, "fdhi", '*', P(0x100000000L, T(PATH), T(BUF), 0x100) },
	{ 158, "set_gs", 'A', P(0x1001 /* ARCH_SET_GS */, T(GARB)) },
	{ 158, "get_fs", 'K', P(0x1003 /* ARCH_GET_FS */, T(BUF)) },
	{ 158, "cpuidhi", 'K', P(0x100000000L | 0x1012 /* ARCH_SET_CPUID */, 0) },
	{ 292, "std", 'K', P(0, 3, 0) },
	{ 292, "3to3", 'A', P(3, 3, 0) },
	{ 292, "stdhi", 'K', P(0x100000000L, 3, 0) },
	{ 292, "newfd4hi", 'K', P(3, 0x100000004L, 0) },
	/* allowlisted with any arguments: a few hostile forms worth a run */
	{ 202, "lock_pi", '-', P(T(PIDWORD), 6 /* FUTEX_LOCK_PI */, 0, T(ZERO)) },
	{ 62, "pid1", '-', P(1, SIGKILL) },
	{ 62, "all", '-', P(-1, SIGKILL) },
	{ 61, "all", '-', P(-1, T(BUF), 1 /* WNOHANG */, 0) },
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

/* ---- run-time state ---- */

static int gate_mode;
static const char *dir_arg = "/nonexistent";
static long sleeper = 0x7fffffff, tcp_port = 9, udp_port = 9;
static long sock_fd = -1, usock_fd = -1;
static char path_canary[512], path_new[512], argv_cmd[600];
static char *sh_argv[4], *sh_envp[1];
static unsigned char buf[65536] __attribute__((aligned(4096)));
static unsigned char buf2[65536] __attribute__((aligned(4096)));
static unsigned char zero[4096] __attribute__((aligned(64)));
static unsigned char ones[4096] __attribute__((aligned(64)));
static long one_word;
static struct sockaddr_in sa_tcp, sa_udp;
static struct iovec iov, msg_iov;
static struct msghdr msg;
static struct mmsghdr mmsg;
static socklen_t lenv;
static struct __user_cap_header_struct caphdr, capself;
static struct timex timex_v;
static struct timespec tomorrow;
static struct timeval tv_tomorrow;
static uint64_t clone_args_v[11];
static uint64_t open_how_v[3];
static uint32_t sched_attr_v[12];
static uint32_t bpf_attr_v[32];
static int pid_word;
static uint64_t xattr_args_v[3];
static struct { uint32_t bytes; int32_t type; unsigned char h[8]; } fh_v;
static void *ptrs_v[1];
static uint64_t tstack[1024] __attribute__((aligned(16)));
static ucontext_t *frame_uc;
static unsigned char frame_mem[4096] __attribute__((aligned(64)));

static long resolve(long v)
{
	if ((v & (long)0xffffffff00000000UL) != TOKBASE)
		return v;
	switch ((enum tok)(v & 0xffff)) {
	case PATH_: return (long)path_canary;
	case DIR_: return (long)dir_arg;
	case NEW_: return (long)path_new;
	case ETC_: return (long)"/etc/passwd";
	case PID_: return sleeper;
	case SA_: return (long)&sa_tcp;
	case SAU_: return (long)&sa_udp;
	case BUF_: return (long)buf;
	case BUF2_: return (long)buf2;
	case ZERO_: return (long)zero;
	case ONES_: return (long)ones;
	case ONE_: return (long)&one_word;
	case FD_: return 0;
	case SOCK_: return gate_mode && sock_fd < 0 ? MOAT_CHANNEL_FD : sock_fd;
	case USOCK_: return gate_mode && usock_fd < 0 ? MOAT_CHANNEL_FD : usock_fd;
	case GARB_: return 0x4141414141414141L;
	case STR_: return (long)"pwned";
	case SH_: return (long)"/bin/sh";
	case ARGV_: return (long)sh_argv;
	case ENVP_: return (long)sh_envp;
	case IOV_: return (long)&iov;
	case MSG_: return (long)&msg;
	case MMSG_: return (long)&mmsg;
	case LENP_: return (long)&lenv;
	case NEWNS_: return NEWNS_FLAGS;
	case CAPHDR_: return (long)&caphdr;
	case CAPSELF_: return (long)&capself;
	case TIMEX_: return (long)&timex_v;
	case TOMORROW_: return (long)&tomorrow;
	case TVTOMORROW_: return (long)&tv_tomorrow;
	case XNAME_: return (long)"user.moat";
	case KTYPE_: return (long)"user";
	case KDESC_: return (long)"moat-sweep";
	case MQ_: return (long)"/moat-sweep";
	case CLONEARGS_: return (long)clone_args_v;
	case OPENHOW_: return (long)open_how_v;
	case SCHEDATTR_: return (long)sched_attr_v;
	case BPFATTR_: return (long)bpf_attr_v;
	case PIDWORD_: return (long)&pid_word;
	case XARGS_: return (long)xattr_args_v;
	case FH_: return (long)&fh_v;
	case PTRS_: return (long)ptrs_v;
	case TMPFS_: return (long)"tmpfs";
	case EMPTY_: return (long)"";
	case FRAME_: return (long)frame_uc;
	case TSTACK_: return (long)&tstack[1022];
	case TOKMAX_: break;
	}
	return v;
}

static void describe(const struct preset *p, char *out, size_t n)
{
	int last = -1;
	size_t len = 0;
	for (int i = 0; i < 6; i++)
		if (p->a[i])
			last = i;
	out[0] = 0;
	for (int i = 0; i <= last && len < n; i++) {
		long v = p->a[i];
		char one[64];
		if ((v & (long)0xffffffff00000000UL) == TOKBASE && (v & 0xffff) < TOKMAX_ &&
		    tok_names[v & 0xffff])
			snprintf(one, sizeof(one), "%s", tok_names[v & 0xffff]);
		else if (v >= -65536 && v <= 65536)
			snprintf(one, sizeof(one), "%ld", v);
		else
			snprintf(one, sizeof(one), "%#lx", (unsigned long)v);
		len += (size_t)snprintf(out + len, n - len, "%s%s", i ? "," : "", one);
	}
}

/* Fill every argument structure afresh: a call before may have changed
 * them. */
static void prepare(void)
{
	memset(buf, 0, sizeof(buf));
	memset(buf2, 0, sizeof(buf2));
	memset(zero, 0, sizeof(zero));
	memset(ones, 0xff, sizeof(ones));
	one_word = 1;
	sa_tcp = (struct sockaddr_in){ .sin_family = AF_INET,
				       .sin_port = htons((uint16_t)tcp_port),
				       .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	sa_udp = sa_tcp;
	sa_udp.sin_port = htons((uint16_t)udp_port);
	iov = (struct iovec){ buf, 64 };
	msg_iov = (struct iovec){ (void *)"pwned\n", 6 };
	msg = (struct msghdr){ .msg_name = &sa_udp, .msg_namelen = sizeof(sa_udp),
			       .msg_iov = &msg_iov, .msg_iovlen = 1 };
	mmsg = (struct mmsghdr){ .msg_hdr = msg };
	lenv = 64;
	caphdr = (struct __user_cap_header_struct){ _LINUX_CAPABILITY_VERSION_3, (int)sleeper };
	capself = (struct __user_cap_header_struct){ _LINUX_CAPABILITY_VERSION_3, 0 };
	memset(&timex_v, 0, sizeof(timex_v));
	timex_v.modes = ADJ_SETOFFSET;
	timex_v.time.tv_sec = 86400;
	time_t now = time(NULL);
	tomorrow = (struct timespec){ now + 86400, 0 };
	tv_tomorrow = (struct timeval){ now + 86400, 0 };
	memset(clone_args_v, 0, sizeof(clone_args_v));
	clone_args_v[0] = NEWNS_FLAGS & ~0xffUL;
	clone_args_v[4] = SIGCHLD; /* exit_signal */
	open_how_v[0] = O_RDWR;
	open_how_v[1] = open_how_v[2] = 0;
	memset(sched_attr_v, 0, sizeof(sched_attr_v));
	sched_attr_v[0] = 48;
	sched_attr_v[1] = 5; /* SCHED_IDLE */
	memset(bpf_attr_v, 0, sizeof(bpf_attr_v));
	bpf_attr_v[0] = 2; /* BPF_MAP_TYPE_ARRAY */
	bpf_attr_v[1] = 4;
	bpf_attr_v[2] = 4;
	bpf_attr_v[3] = 1;
	pid_word = (int)sleeper;
	xattr_args_v[0] = (uint64_t)(uintptr_t)"pwned";
	xattr_args_v[1] = 5;
	xattr_args_v[2] = 0;
	fh_v.bytes = 8;
	fh_v.type = 1;
	memset(fh_v.h, 0x41, sizeof(fh_v.h));
	ptrs_v[0] = buf;
}

static void setup(const char *dir, const char *pid, const char *tcp, const char *udp)
{
	dir_arg = dir;
	sleeper = strtol(pid, NULL, 0);
	tcp_port = strtol(tcp, NULL, 0);
	udp_port = strtol(udp, NULL, 0);
	snprintf(path_canary, sizeof(path_canary), "%s/secret", dir);
	snprintf(path_new, sizeof(path_new), "%s/pwned", dir);
	snprintf(argv_cmd, sizeof(argv_cmd), "touch %s/pwned; kill -9 %ld", dir, sleeper);
	sh_argv[0] = "sh";
	sh_argv[1] = "-c";
	sh_argv[2] = argv_cmd;
	sh_argv[3] = NULL;
	sh_envp[0] = NULL;
	prepare();
}

/* ---- the two ways to make a call ---- */

static long raw_syscall(long nr, const long *a)
{
	register long r10 __asm__("r10") = a[3];
	register long r8 __asm__("r8") = a[4];
	register long r9 __asm__("r9") = a[5];
	long ret = nr;
	__asm__ volatile("syscall"
			 : "+a"(ret)
			 : "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static long gate_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret = nr;
	__asm__ volatile("sub $128, %%rsp\n\t"
			 "call *%[gate]\n\t"
			 "add $128, %%rsp"
			 : "+a"(ret)
			 : [gate] "r"((uintptr_t)MOAT_GATE_ADDR), "D"(a1),
			   "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory", "cc");
	return ret;
}

static void gate_puts(const char *s)
{
	gate_syscall(SYS_write, 1, (long)s, (long)strlen(s), 0, 0, 0);
}

static _Noreturn void gate_exit(int status)
{
	for (;;)
		gate_syscall(SYS_exit_group, status, 0, 0, 0, 0, 0);
}

static int makes_process(long nr)
{
	return nr == SYS_clone || nr == SYS_fork || nr == SYS_vfork || nr == 435 /* clone3 */;
}

static void result_text(long r, char *out, size_t n)
{
	if (r < 0 && r > -4096) {
		const char *e = strerrorname_np((int)-r);
		snprintf(out, n, "%ld %s", r, e ? e : "?");
	} else if (r >= 0 && r < 65536) {
		snprintf(out, n, "%ld", r);
	} else {
		snprintf(out, n, "%#lx (large)", (unsigned long)r);
	}
}

static const char *name_of(long nr)
{
	if (nr >= 0 && nr < NNAMES)
		return names[nr] ? names[nr] : "(unassigned)";
	for (size_t i = 0; i < NINVALID; i++)
		if (invalid[i].nr == nr)
			return invalid[i].name;
	return "(unknown)";
}

/* The sweep's INDEX-th call: its number and preset. */
static long sweep_nr(size_t i, const struct preset **p)
{
	if (i < NNAMES) {
		*p = presets[i].flags & F_SET ? &presets[i] : &default_preset;
		return (long)i;
	}
	*p = &invalid[i - NNAMES].p;
	return invalid[i - NNAMES].nr;
}

/* ---- raw mode ---- */

struct shared {
	volatile int done;
	volatile long r;
};

static void watchdog(long seconds)
{
	struct itimerval it = { { 0, 0 }, { seconds, 0 } };
	setitimer(ITIMER_REAL, &it, NULL);
}

static void run_child(long nr, const long *a, struct shared *sh, char *out, size_t n)
{
	sh->done = 0;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(out, n, "fork failed: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		long me = raw_syscall(SYS_getpid, (const long[6]){ 0 });
		long r = raw_syscall(nr, a);
		/* A new process (fork, vfork, clone): leave at once. */
		if (raw_syscall(SYS_getpid, (const long[6]){ 0 }) != me)
			raw_syscall(SYS_exit_group, (const long[6]){ 0 });
		sh->r = r;
		sh->done = 1;
		raw_syscall(SYS_exit_group, (const long[6]){ 0 });
	}
	int status = 0, waited = 0;
	for (int ms = 0; ms < 500; ms++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			waited = 1;
			break;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	if (!waited) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		snprintf(out, n, "blocked (killed after 500 ms) [child]");
		return;
	}
	if (sh->done && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		char t[64];
		result_text(sh->r, t, sizeof(t));
		if (sh->r > 0 && makes_process(nr))
			snprintf(t, sizeof(t), "a child's pid");
		snprintf(out, n, "%s [child]", t);
	} else if (WIFSIGNALED(status)) {
		snprintf(out, n, "ended: signal %d (%s) [child]", WTERMSIG(status),
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
	} else {
		snprintf(out, n, "ended: exit %d [child]", WEXITSTATUS(status));
	}
}

static int skipped(const char *skip, long nr)
{
	for (const char *s = skip; s && *s;) {
		char *end;
		long v = strtol(s, &end, 0);
		if (end != s && v == nr)
			return 1;
		s = *end ? end + 1 : end;
	}
	return 0;
}

static int sweep_raw(size_t start, const char *skip)
{
	/* Sockets of the LibOS's own, for the socket calls' descriptor. */
	sock_fd = raw_syscall(SYS_socket, (const long[6]){ AF_INET, SOCK_STREAM, 0 });
	usock_fd = raw_syscall(SYS_socket, (const long[6]){ AF_INET, SOCK_DGRAM, 0 });
	struct shared *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		printf("raw: mmap(MAP_SHARED|MAP_ANONYMOUS) failed: %s\n", strerror(errno));
		return 1;
	}
	for (size_t i = start; i < NSWEEP; i++) {
		const struct preset *p;
		long nr = sweep_nr(i, &p);
		long a[6];
		char out[160];
		if (skipped(skip, nr)) {
			printf("raw %zu %ld %s = skipped\n", i, nr, name_of(nr));
			continue;
		}
		printf("raw %zu %ld %s: calling\n", i, nr, name_of(nr));
		fflush(stdout);
		prepare();
		for (int k = 0; k < 6; k++)
			a[k] = resolve(p->a[k]);
		if (p->flags & F_CHILD) {
			run_child(nr, a, sh, out, sizeof(out));
		} else {
			watchdog(2);
			long r = raw_syscall(nr, a);
			watchdog(0);
			result_text(r, out, sizeof(out));
		}
		printf("raw %zu %ld %s = %s\n", i, nr, name_of(nr), out);
		fflush(stdout);
	}
	printf("raw: done\n");
	return 0;
}

/* ---- gate mode ---- */

/* In `gates` mode each call is made in a child forked through the gate,
 * and reports through this shared page. */
static struct shared *gsh;

static void thread_exit(void)
{
	gate_syscall(SYS_exit, 0, 0, 0, 0, 0, 0);
	for (;;)
		;
}

#define FRAME_RETURNED 0x7fffff00L /* result: back at the forged frame's rip */

static void frame_landing(void)
{
	if (gsh) {
		gsh->r = FRAME_RETURNED;
		gsh->done = 1;
	} else {
		gate_puts("gate 15 h = returned to the forged frame's rip\n");
	}
	gate_exit(0);
}

/* rt_sigreturn through the gate with a frame of our own: rip at
 * frame_landing, a fresh stack. */
static _Noreturn void gate_sigreturn(void)
{
	memset(frame_mem, 0, sizeof(frame_mem));
	/* rt_sigframe: pretcode (8 bytes), then the ucontext at rsp. */
	frame_uc = (ucontext_t *)(frame_mem + 64);
	frame_uc->uc_stack.ss_flags = SS_DISABLE;
	greg_t *g = frame_uc->uc_mcontext.gregs;
	g[REG_RIP] = (greg_t)(uintptr_t)frame_landing;
	g[REG_RSP] = (greg_t)(uintptr_t)&tstack[1020];
	g[REG_EFL] = 0x202;
	g[REG_CSGSFS] = 0x33 | (0x2bL << 48);
	__asm__ volatile("mov %0, %%rsp\n\t"
			 "mov $15, %%eax\n\t"
			 "jmp *%1"
			 :
			 : "r"(frame_uc), "r"((uintptr_t)MOAT_GATE_ADDR)
			 : "memory");
	__builtin_unreachable();
}

static const struct preset *gate_preset(long nr, const char *tag)
{
	if (!strcmp(tag, "h")) {
		for (size_t i = 0; i < NSWEEP; i++) {
			const struct preset *q;
			if (sweep_nr(i, &q) == nr)
				return q;
		}
		return NULL;
	}
	for (size_t i = 0; i < NVARIANTS; i++)
		if (variants[i].nr == nr && !strcmp(variants[i].tag, tag))
			return &variants[i].p;
	return NULL;
}

/* Make the call through the gate.  Returns its result, unless it ends
 * this process (exit, a filter kill, rt_sigreturn's landing). */
static long gate_call(long nr, const char *tag, const struct preset *p)
{
	long a[6];
	for (int k = 0; k < 6; k++)
		a[k] = resolve(p->a[k]);
	if (nr == SYS_rt_sigreturn)
		gate_sigreturn();
	if (nr == SYS_clone && !strcmp(tag, "thread"))
		tstack[1022] = (uint64_t)(uintptr_t)thread_exit;
	long r = gate_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (r == 0 && (nr == SYS_clone || nr == SYS_fork || nr == SYS_vfork))
		gate_exit(0); /* a child */
	return r;
}

static int sweep_gate(long nr, const char *tag)
{
	const struct preset *p = gate_preset(nr, tag);
	if (!p) {
		fprintf(stderr, "sweep: no gate run %ld %s\n", nr, tag);
		return 2;
	}
	char line[256], t[64];
	snprintf(line, sizeof(line), "gate %ld %s: calling\n", nr, tag);
	gate_puts(line);
	long r = gate_call(nr, tag, p);
	result_text(r, t, sizeof(t));
	if (r > 0 && makes_process(nr))
		snprintf(t, sizeof(t), "a new task's id");
	snprintf(line, sizeof(line), "gate %ld %s = %s\n", nr, tag, t);
	gate_puts(line);
	gate_exit(0);
}

/* One gate run in a child forked through the gate (the PAL's fork flags,
 * which the filter allows): the filter kills only the child, so one
 * picoprocess can make them all.  A child that dies of SIGSYS was killed
 * by the filter: it makes no call but through the gate, so it never traps
 * to the LibOS. */
static void gate_in_child(long nr, const char *tag, const struct preset *p, char *out, size_t n)
{
	static int ctid;
	gsh->done = 0;
	gsh->r = 0;
	long pid = gate_syscall(SYS_clone, PAL_FORK_FLAGS, 0, 0, (long)&ctid, 0, 0);
	if (pid == 0) {
		long r = gate_call(nr, tag, p);
		gsh->r = r;
		gsh->done = 1;
		gate_exit(0);
	}
	if (pid < 0) {
		result_text(pid, out, n);
		snprintf(out + strlen(out), n - strlen(out), " (fork)");
		return;
	}
	int status = 0;
	long w = 0;
	for (int ms = 0; ms < 1000; ms++) {
		w = gate_syscall(SYS_wait4, pid, (long)&status, WNOHANG, 0, 0, 0);
		if (w == pid)
			break;
		struct timespec ts = { 0, 1000000 };
		static int never;
		gate_syscall(SYS_futex, (long)&never, 128 /* WAIT_PRIVATE */, 0, (long)&ts, 0, 0);
	}
	if (w != pid) {
		gate_syscall(SYS_kill, pid, SIGKILL, 0, 0, 0, 0);
		gate_syscall(SYS_wait4, pid, (long)&status, 0, 0, 0, 0);
		snprintf(out, n, "blocked (killed after 1 s)");
		return;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
		snprintf(out, n, "killed");
	} else if (gsh->done && gsh->r == FRAME_RETURNED) {
		snprintf(out, n, "returned to the forged frame's rip");
	} else if (gsh->done && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		result_text(gsh->r, out, n);
		if (gsh->r > 0 && makes_process(nr))
			snprintf(out, n, "a new task's id");
	} else if (WIFSIGNALED(status)) {
		snprintf(out, n, "ended: signal %d (%s)", WTERMSIG(status),
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
	} else {
		snprintf(out, n, "the process exited (%d)", WEXITSTATUS(status));
	}
}

/* Every gate run of `list`, from the START-th on. */
static int sweep_gates(size_t start, const char *skip)
{
	gsh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (gsh == MAP_FAILED) {
		printf("gates: mmap(MAP_SHARED|MAP_ANONYMOUS) failed: %s\n", strerror(errno));
		return 1;
	}
	static int sv[2];
	if (gate_syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, (long)sv, 0, 0) == 0)
		sock_fd = usock_fd = sv[0];
	size_t run = 0;
	for (size_t i = 0; i < NSWEEP; i++) {
		const struct preset *p;
		long nr = sweep_nr(i, &p);
		for (size_t v = 0; v <= NVARIANTS; v++) {
			const char *tag = "h";
			if (v > 0) {
				if (variants[v - 1].nr != nr)
					continue;
				tag = variants[v - 1].tag;
				p = &variants[v - 1].p;
			}
			char out[128];
			if (run++ < start)
				continue;
			if (skipped(skip, nr)) {
				printf("gates %zu %ld %s = skipped\n", run - 1, nr, tag);
				continue;
			}
			printf("gates %zu %ld %s: calling\n", run - 1, nr, tag);
			fflush(stdout);
			prepare();
			gate_in_child(nr, tag, p, out, sizeof(out));
			printf("gates %zu %ld %s = %s\n", run - 1, nr, tag, out);
			fflush(stdout);
		}
	}
	printf("gates: done\n");
	return 0;
}

/* ---- list ---- */

static int list(void)
{
	char d[256];
	for (size_t i = 0; i < NSWEEP; i++) {
		const struct preset *p;
		long nr = sweep_nr(i, &p);
		describe(p, d, sizeof(d));
		printf("raw %zu %ld %s %s %s\n", i, nr, name_of(nr),
		       p->flags & F_CHILD ? "child" : "-", d[0] ? d : "-");
	}
	for (size_t i = 0; i < NSWEEP; i++) {
		const struct preset *p;
		long nr = sweep_nr(i, &p);
		char expect = '-';
		for (size_t v = 0; v < NVARIANTS; v++)
			if (variants[v].nr == nr && variants[v].expect != '-' &&
			    variants[v].expect != '*')
				expect = 'K'; /* checked: the hostile form is refused */
		describe(p, d, sizeof(d));
		printf("gate %ld h %c %s %s\n", nr, expect, name_of(nr), d[0] ? d : "-");
		for (size_t v = 0; v < NVARIANTS; v++) {
			if (variants[v].nr != nr)
				continue;
			describe(&variants[v].p, d, sizeof(d));
			printf("gate %ld %s %c %s %s\n", nr, variants[v].tag, variants[v].expect,
			       name_of(nr), d[0] ? d : "-");
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return list();
	if (argc == 8 && !strcmp(argv[1], "raw")) {
		setup(argv[4], argv[5], argv[6], argv[7]);
		return sweep_raw(strtoul(argv[2], NULL, 0), argv[3]);
	}
	if (argc == 8 && !strcmp(argv[1], "gates")) {
		gate_mode = 1;
		setup(argv[4], argv[5], argv[6], argv[7]);
		return sweep_gates(strtoul(argv[2], NULL, 0), argv[3]);
	}
	if (argc == 8 && !strcmp(argv[1], "gate")) {
		gate_mode = 1;
		setup(argv[4], argv[5], argv[6], argv[7]);
		return sweep_gate(strtol(argv[2], NULL, 0), argv[3]);
	}
	fprintf(stderr, "usage: sweep list | raw START SKIP DIR PID TCPPORT UDPPORT |\n"
			"       gates START SKIP DIR PID TCPPORT UDPPORT |\n"
			"       gate NR TAG DIR PID TCPPORT UDPPORT\n");
	return 2;
}
