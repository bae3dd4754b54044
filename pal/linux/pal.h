/*
 * pal.h -- internals shared by the Linux PAL's files.  Nothing above the
 * ABI sees this header.
 */
#ifndef MOAT_PAL_H
#define MOAT_PAL_H

#include <stdint.h>

#include "host.h"

#include "moat/abi.h"
#include "moat/channel.h"
#include "rt.h"

/* Handles. */
enum pal_htype { PAL_H_FREE, PAL_H_STREAM, PAL_H_THREAD, PAL_H_SEM,
		 PAL_H_EVENT };

struct pal_handle {
	int type;
	int fd;          /* host descriptor, streams */
	uint32_t kind;   /* enum moat_kind, streams */
	uint32_t access; /* MOAT_ACCESS_* */
	uint32_t uid, gid; /* owner as the monitor shows it (at open, or
			      since a stream_attr_set on the file) */
	uint32_t sbits;    /* set-id bits recorded for it (06000) */
	uint32_t nowait; /* the host descriptor is O_NONBLOCK (a pipe of
			    pal_stream_pipe): PAL_NOWAIT_*, stream.c */
	void *obj;       /* thread, semaphore, event */
	/* A file inside a package: fd is the package, the file is the
	 * window [base, base + win.size), and win its attributes.  A
	 * directory: fd is its listing, win the directory's attributes. */
	uint64_t base;
	struct moat_attr win;
};

#define PAL_MAX_HANDLES 4096

/* pal_handle.nowait: 0 a descriptor that may block; else O_NONBLOCK,
 * and what the last read or write found (which one to try first). */
#define PAL_NOWAIT 1
#define PAL_NOWAIT_EMPTY 2 /* the last read found nothing */
#define PAL_NOWAIT_FULL 3  /* the last write had to wait */
extern struct pal_handle pal_handles[PAL_MAX_HANDLES];

long pal_handle_alloc(int type, int fd, void *obj);
struct pal_handle *pal_handle_get(moat_handle h, int type);

/* A small futex-based mutex for PAL-internal state. */
void pal_lock(volatile int *l);
/* pal_lock, but give up after about 'ns' nanoseconds: 0, or -1. */
int pal_lock_within(volatile int *l, int64_t ns);
void pal_unlock(volatile int *l);

/* Page allocator for PAL-internal objects (never freed into the app; vm.c). */
void *pal_pages(size_t size);

/* Monitor channel: one request, one reply; returns the reply's result.
 * 'reply'/'reply_len' receive the payload, '*fd' a passed descriptor
 * (-1 if none). */
long pal_request(uint32_t op, int32_t a, uint32_t b, const char *path,
		 const char *path2, void *reply, size_t reply_len, int *fd);
long pal_request_raw(uint32_t op, int32_t a, uint32_t b, const void *p1,
		     size_t l1, const void *p2, size_t l2, void *reply,
		     size_t reply_len, int *fd);
long pal_stream_attr_set(const char *uri, uint32_t nofollow, uint32_t mask,
			 const struct moat_attr *attr);
long pal_stream_symlink(const char *target, const char *uri);
long pal_stream_link(const char *from, const char *to);
long pal_stream_lock(moat_handle h, uint32_t op, uint32_t type, uint64_t *start,
		     uint64_t *len, int32_t *pid);
/* The end's notice to the monitor.  The channel lock may be held by this
 * very thread, if it faulted inside a request (a bad pointer handed to an
 * ABI call); then the notice is skipped after ~100 ms, and the monitor
 * learns of the end from the exit status. */
void pal_notify_exit(int32_t code, uint32_t sig);
void pal_notify(uint32_t op, int32_t a, uint32_t b, const void *data,
		size_t len);

_Noreturn void pal_fatal(const char *msg);

/* Per-thread signal stack (sync.c), used by boot.c and threads. */
#define PAL_ALTSTACK_SIZE (64 * 1024)
void pal_altstack_install(void);
/* console.c: a closed console's host descriptor gets a placeholder. */
void pal_console_placeholder_init(void);
void pal_console_park(int fd);

/* The ABI implementations, grouped by file. */
extern const struct moat_abi pal_abi;
extern volatile uint32_t pal_generation;
void pal_generation_bump(void);
/* Sleep while the generation word is gen, at most timeout_ns (-1: no limit). */
long pal_generation_wait(uint32_t gen, int64_t timeout_ns);
/* Held across fork's clone so the child's copies are free. */
void pal_channel_fork_lock(void);
void pal_channel_fork_unlock(void);
void pal_handles_fork_lock(void);
void pal_handles_fork_unlock(void);
/* A forked child drops the parent's wake pipes (sync.c). */
void pal_wake_after_fork(void);

/* Interruptible waits.  A host signal bumps pal_signal_seq and the
 * generation word (so a futex wait about to start sees a change); a wait
 * that notices a new sequence number returns -EINTR.  Host signals are
 * open only during such waits while the PAL runs inside a trap. */
extern volatile uint32_t pal_signal_seq;
void pal_signal_arrived(void);
extern const struct moat_upcalls *pal_upcalls; /* boot.c */
uint64_t pal_signals_open(void);
void pal_signals_restore(uint64_t old);
/* The mask for a wait that switches it atomically (ppoll). */
uint64_t pal_signals_wait_mask(void);
/* A quiet thread (MOAT_THREAD_QUIET) blocks all but its own faults:
 * SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV, SIGSYS (bit n-1 for signal
 * n), in its waits too. */
#define PAL_QUIET_MASK (~((1ull << 3) | (1ull << 4) | (1ull << 6) | (1ull << 7) | \
			  (1ull << 10) | (1ull << 30)))

/* sync.c */
long pal_thread_create(void *arg, void *stack, size_t size, uint32_t flags);
long pal_thread_delay(uint64_t ns);
long pal_thread_yield(void);
long pal_thread_resume(moat_handle h);
void pal_thread_exit(int32_t *clear_word);
long pal_semaphore_create(uint32_t initial, uint32_t max);
long pal_semaphore_release(moat_handle h, uint32_t count);
long pal_event_create(uint32_t kind, uint32_t set);
long pal_event_set(moat_handle h);
long pal_event_clear(moat_handle h);
long pal_objects_wait_any(uint32_t n, const moat_handle *hs, int64_t timeout);
long pal_address_wait(uint32_t *addr, uint32_t op, uint32_t value, int64_t timeout);
long pal_segment_base_set(uint32_t which, uint64_t base);
long pal_object_close(moat_handle h);
/* vm.c */
long pal_vm_alloc(void *addr, size_t size, uint32_t prot, uint32_t flags);
long pal_vm_free(void *addr, size_t size);
long pal_vm_protect(void *addr, size_t size, uint32_t prot);
/* time.c */
long pal_system_time(uint32_t clock);
long pal_timer_set(uint32_t which, uint64_t value_ns, uint64_t interval_ns,
		   uint64_t *old_value_ns, uint64_t *old_interval_ns);
/* random.c */
long pal_random_bits(void *buf, size_t len);

/* directfs.c: stat beneath the donated directories.  DIRFS_ASK: the
 * monitor answers. */
#define DIRFS_ASK 1
void pal_directfs_init(const char *vpaths, const char *end, uint32_t n,
		       uint32_t uid, uint32_t gid, uint32_t root_mapped);
long pal_directfs_stat(const char *path, uint32_t nofollow, struct moat_attr *a);
/* A read-only open of a path directfs finds absent: -ENOENT or -ENOTDIR,
 * as the monitor would answer; else 0 (ask the monitor). */
long pal_directfs_absent(const char *path, uint32_t access, uint32_t options);

long pal_stream_open(const char *uri, uint32_t access, uint32_t options,
		     uint32_t mode);
long pal_stream_read(moat_handle h, uint64_t off, void *buf, size_t len);
long pal_stream_write(moat_handle h, uint64_t off, const void *buf,
		      size_t len);
long pal_stream_map(moat_handle h, void *addr, uint64_t off, size_t size,
		    uint32_t prot, uint32_t flags);
long pal_stream_unmap(void *addr, size_t size);
long pal_stream_set_length(moat_handle h, uint64_t len);
long pal_stream_flush(moat_handle h);
long pal_stream_delete(const char *uri, uint32_t dir);
long pal_stream_rename(const char *from, const char *to);
long pal_stream_wait_for_client(moat_handle h, uint32_t nonblock, char *peer,
				size_t len);
long pal_stream_shutdown(moat_handle h, uint32_t how);
long pal_stream_attr_query(const char *uri, uint32_t nofollow,
			   struct moat_attr *attr);
long pal_stream_attr_query_by_handle(moat_handle h, struct moat_attr *attr);
long pal_stream_readlink(const char *uri, char *buf, size_t len);
long pal_debug_log(const char *msg, size_t len);
long pal_process_create(const char *uri, char *const argv[]);
long pal_process_fork(int32_t *self_pid);
long pal_process_wait(int32_t pid, uint32_t options, int32_t *status);
long pal_process_control(uint32_t op, int32_t pid, int64_t arg);
long pal_stream_pipe(moat_handle *rd, moat_handle *wr, uint32_t flags);
extern int32_t pal_self_pid;
_Noreturn void pal_process_exit(int code, int sig);

#endif /* MOAT_PAL_H */
