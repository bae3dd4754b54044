/*
 * moat/channel.h -- the wire protocol between a picoprocess's PAL and the
 * security monitor, and the boot block the monitor hands over at launch.
 *
 * The channel is a SOCK_SEQPACKET socket at descriptor MOAT_CHANNEL_FD in
 * the picoprocess.  Every message is one packet: a fixed header followed
 * by 'len' bytes of payload, never more than MOAT_MSG_MAX in all.  The
 * monitor treats every request as hostile input: it checks the size
 * against the header, the NUL terminators, the opcode and the URI
 * grammar before it looks at policy (see monitor/channel.c).
 *
 * Requests are answered in order with one reply packet; a reply may carry
 * one host descriptor (SCM_RIGHTS), which is never a directory.
 */
#ifndef MOAT_CHANNEL_H
#define MOAT_CHANNEL_H

#include <stdint.h>

#include "moat/abi.h"

#define MOAT_CHANNEL_FD 3
#define MOAT_BOOT_FD    4

#define MOAT_PATH_MAX 4096
#define MOAT_MSG_MAX  (16 + 2 * MOAT_PATH_MAX)
#define MOAT_NET_URI_MAX 256  /* a MOAT_OP_NET URI with its NUL */

/* Where the PAL's one system-call instruction lives.  The seccomp filter
 * lets host system calls through only when the instruction pointer after
 * 'syscall' equals MOAT_GATE_ADDR + 2; pal/linux/pico.ld places the gate
 * there and the build checks it. */
#define MOAT_PICO_BASE 0x6f0000000000ULL
#define MOAT_GATE_ADDR MOAT_PICO_BASE

enum moat_op {
	MOAT_OP_HELLO = 1,    /* no payload; the monitor checks the filter */
	MOAT_OP_OPEN,         /* path; a = access|options, b = mode; reply:
				 struct moat_open_reply + fd */
	MOAT_OP_STAT,         /* path; a = nofollow; reply: struct moat_attr */
	MOAT_OP_READLINK,     /* path; reply: target bytes */
	MOAT_OP_DELETE,       /* path; a = dir */
	MOAT_OP_RENAME,       /* path NUL path2 */
	MOAT_OP_LOG,          /* text (not NUL-terminated); no reply */
	MOAT_OP_EXIT,         /* a = code, b = signal; no reply */
	MOAT_OP_CHANNEL,      /* no payload; reply carries a new channel fd
				 for a process about to be forked */
	MOAT_OP_SETATTR,      /* path NUL int64 atime, int64 mtime, uint32
				 uid, uint32 gid; a = mask | nofollow << 8,
				 b = mode; reply: struct moat_owner_reply */
	MOAT_OP_SYMLINK,      /* path NUL target NUL: create path -> target */
	MOAT_OP_LINK,         /* path NUL path2 NUL: link path2 to path */
	MOAT_OP_NET,          /* URI "tcp.client:A:P" / "tcp.server:A:P" /
				 "udp.client:A:P" / "udp.server:A:P" /
				 "unix.client:NAME" / "unix.server:NAME" /
				 "memfd:NAME" NUL; reply carries the connected
				 (in progress, non-blocking) or listening
				 socket, a datagram relay (struct
				 moat_datagram packets), or a new anonymous
				 memory file.  a = 1: only say whether it
				 would be granted (0 or -errno), no fd */
	MOAT_OP_PROC_STAT,    /* no payload; a = a pid of this picoprocess;
				 reply: struct moat_proc_stat */
	MOAT_OP_RESIDENCY,    /* uint64 addr, uint64 npages (exactly 16
				 bytes); a = the caller's pid in the
				 picoprocess, b = MOAT_RESIDENCY_FILE or 0;
				 reply: (npages + 7) / 8 bytes of
				 map (struct moat_residency), result npages or
				 -errno */
	MOAT_OP_LAST
};

/* OPEN's reply.  A file from a package arrives as the package's own
 * descriptor: its contents are the window [base, base + attr.size), and
 * attr describes it (base is 0 for any other file). */
struct moat_open_reply {
	uint32_t uid, gid;     /* owner as the app sees it (owner.c) */
	uint32_t sbits, zero;  /* set-id bits recorded for it (06000) */
	uint64_t base;
	struct moat_attr attr; /* valid when base != 0 (a package file), and
				  for a directory (the directory's own, as
				  MOAT_OP_STAT gives them: the stream is its
				  listing), so opening one takes one trip */
};

/* SETATTR's reply: the owner and set-id bits now recorded for the file
 * (dev, ino), when valid, so the PAL updates the handles open on it. */
struct moat_owner_reply {
	uint64_t dev, ino;
	uint32_t uid, gid, sbits, valid;
};

struct moat_msg_hdr {
	uint32_t op;   /* enum moat_op; in a reply, echoes the request's */
	uint32_t len;  /* payload bytes after the header */
	int32_t  a;    /* request: op-specific; reply: result (>= 0 or -errno) */
	uint32_t b;
};

/* The boot block: a sealed memfd at MOAT_BOOT_FD holding this header,
 * then filter_len struct sock_filter entries, then 'strings_len' bytes of
 * NUL-terminated strings: exe URI, cwd, argv[0..argc), envp[0..envc),
 * the extensions' pairs, then the virtual paths of the 'ndirs' donated
 * directories (directfs, pal/linux/directfs.c): the i-th is the mapping
 * whose host directory is open (O_PATH) at MOAT_DIRFS_FD + i. */
#define MOAT_DIRFS_FD  7
#define MOAT_DIRFS_MAX 16
#define MOAT_BOOT_MAGIC 0x544f4f424d4f4154ULL /* "TAOMBOOT" */

struct moat_boot_block {
	uint64_t magic;
	uint32_t version;        /* MOAT_ABI_VERSION */
	uint32_t flags;          /* MOAT_BOOT_* */
	uint32_t filter_len;     /* BPF instructions */
	uint32_t argc, envc;
	uint32_t strings_len;
	uint32_t uid, gid;
	uint32_t ncpus;
	uint64_t mem_bytes;
	struct moat_stdio_info stdio[3];
	uint32_t max_files;      /* [Limits] files, 0 = the LibOS's default */
	uint32_t nexts;          /* extensions: "NAME\0OPTIONS\0" pairs after
				    the environment, top of the stack first */
	uint32_t ndirs;          /* donated directories (read-only mappings) */
	uint32_t dirs_uid;       /* the host ids the picoprocess's own ids */
	uint32_t dirs_gid;       /* (1000 inside) stand for, to translate stat */
	uint32_t dirs_root;      /* 1: host root is mapped to root inside too */
};

#endif /* MOAT_CHANNEL_H */
