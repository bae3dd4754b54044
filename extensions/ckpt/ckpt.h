/*
 * ckpt.h -- the checkpointer's internals (docs/checkpoint.md).
 *
 * The checkpointer is a layer between the LibOS and the PAL.  It keeps,
 * for every ABI object the layers above made, what is needed to make it
 * again: memory ranges (track.c), handles (track.c), timers.  When the
 * monitor asks (a PAUSE on every thread), it waits for each thread to come
 * back to app code and holds it there (stop.c), writes the image
 * (image.c, format in moat/snapshot.h) to "snapshot:out", and, by the
 * verdict byte, goes on or ends.  On resume (restore.c) it reads
 * "snapshot:in" before the LibOS runs, makes every object again at the
 * same handle and address, and lets each thread go on where it stopped.
 */
#ifndef MOAT_CKPT_H
#define MOAT_CKPT_H

#include "../ext.h"
#include "moat/snapshot.h"

#define CK_MAX_HANDLES 4096     /* as the PAL's table */
#define CK_MAX_REGIONS 8192
#define CK_MAX_THREADS 256
#define CK_FP_MAX 8192          /* XSAVE area bytes a thread may need */
#define CK_URI_INLINE 200
#define CK_STOP_NS 2000000000LL /* every thread stops within this, or no checkpoint */
#define CK_GO_NS 20000000000LL  /* the client's go within this, or no checkpoint */

extern const struct moat_abi *ck_below;
extern const struct moat_upcalls *ck_above;

/* Options. */
struct ck_options {
	int resume;
	char in[CK_URI_INLINE];     /* default "snapshot:in" */
	char out[CK_URI_INLINE];    /* default "snapshot:out" */
};
extern struct ck_options ck_opt;
int ck_parse_options(const char *s, struct ck_options *o, char *err, size_t errlen);

/* --- track.c: what the layers above made --- */
/* The layers above see handle numbers of the checkpointer's own, each
 * standing for one of the layer below ('real'): equal while they can be,
 * different after a resume, which makes objects wherever the PAL puts
 * them, and in a forked process that inherited them.  CK_H_OPAQUE: a
 * handle whose making could not be recorded (the checkpoint is then
 * refused, ck_lost), CK_H_BOOT: the console handles 0-2. */
enum ck_htype { CK_H_FREE, CK_H_STREAM, CK_H_SEM, CK_H_EVENT, CK_H_THREAD, CK_H_OPAQUE,
		CK_H_BOOT, CK_H_CLAIMED };

struct ck_handle {
	uint8_t type;             /* enum ck_htype */
	int32_t real;             /* the handle below */
	uint64_t object;          /* pipes: the pair's identity (even) and
				     which end (bit 0: 0 the read or first end,
				     1 the other), the same in every process
				     that inherited it */
	uint8_t origin;           /* enum moat_snap_origin (streams) */
	uint32_t access, options, kind;
	int32_t peer;
	uint32_t a, b;            /* SEM: count, max; EVENT: kind, set */
	char *uri;                /* streams: points at uri_inline or pages */
	char *pushback;           /* bytes a checkpoint drained that the
				     writer, in another process, cannot put
				     back: read before the stream's own */
	uint64_t pb_len, pb_off, pb_cap;
	char uri_inline[CK_URI_INLINE];
};

struct ck_region {
	uint64_t addr, size;
	uint32_t prot, kind;      /* MOAT_PROT_*, enum moat_snap_region_kind */
	uint32_t flags;           /* MOAT_SNAP_REGION_* */
	uint32_t dirty;           /* was ever writable: its pages are saved */
	uint64_t offset;          /* FILE */
	uint64_t file_size;
	int64_t file_mtime_ns;
	char *uri;                /* FILE: a copy, owned (ck_strdup) */
};

extern struct ck_handle ck_handles[CK_MAX_HANDLES];
/* One past the highest slot of ck_handles ever used (slots above are free). */
uint32_t ck_handles_top(void);
extern struct ck_region ck_regions[CK_MAX_REGIONS];
extern uint32_t ck_nregions;
extern int32_t ck_live_threads;   /* app and LibOS threads now running */
extern int32_t ck_children;       /* forked, not yet waited for */
/* Those children: live, or ended and reaped by the checkpointer (at a
 * stop, to tell them apart), whose status a later wait then gets. */
struct ck_kid { int32_t pid, status; uint32_t ended; };
extern struct ck_kid ck_kids[MOAT_SNAP_MAX_CHILDREN];
extern uint32_t ck_nkids;
extern int ck_is_forked_child;
extern uint32_t ck_generation;    /* resumes so far */
extern int64_t ck_mono_offset;   /* added to MONOTONIC for the layers above */
struct ck_timer { uint32_t armed; uint64_t value_ns, interval_ns; };
extern struct ck_timer ck_timers[3];

int ck_lock(void);      /* 0, or -1: nested in this thread (nothing kept) */
void ck_unlock(void);
uint64_t ck_self(void);
void ck_lost(const char *why);          /* tracking is incomplete: say why */
const char *ck_tracking_lost(void);     /* NULL while complete */
char *ck_strdup(const char *s);
void ck_strfree(char *s);
void *ck_pages(size_t size);      /* below's vm_alloc, not tracked; NULL */
void ck_pages_free(void *p, size_t size);

void ck_region_add(uint64_t addr, uint64_t size, uint32_t prot, uint32_t kind,
		   uint32_t flags, const char *uri, uint64_t offset);
void ck_region_remove(uint64_t addr, uint64_t size);
void ck_region_protect(uint64_t addr, uint64_t size, uint32_t prot);
void ck_handle_stream(long h, uint32_t origin, const char *uri, uint32_t access,
		      uint32_t options, int32_t peer);
void ck_handle_set(long h, uint32_t type, uint32_t a, uint32_t b);
void ck_handle_clear(long h);
/* Give the bytes back to the layers above by reading them from handle h
 * first (a copy is kept).  0, or -1 (no memory). */
int ck_pushback(long h, const char *buf, uint64_t len);
/* The handle below that handle v of the layers above stands for, or
 * MOAT_NO_HANDLE. */
moat_handle ck_real(moat_handle v);
/* Give real handle r a number for the layers above: r itself if free,
 * else the lowest free from 3.  The number, or -1 (table full, r closed). */
long ck_handle_new(long r);
/* Bind number v to real handle r (resume); v must be free. */
void ck_handle_bind(long v, long r);
/* A new pipe pair's identity. */
uint64_t ck_object_id(void);
extern int32_t ck_self_pid;       /* this process's pid (1: the first) */

const struct moat_abi *ck_track_table(const struct moat_abi *below);

/* --- stop.c: stopping the threads --- */
struct ck_thread {
	uint64_t regs[18];        /* as struct moat_context, rax..rflags */
	uint64_t fsbase, gsbase;
	uint8_t *fp;              /* 64-aligned, CK_FP_MAX bytes */
	uint32_t fpsize;
	uint32_t xsave;           /* fp holds an XSAVE image (else FXSAVE) */
};
extern struct ck_thread ck_threads[CK_MAX_THREADS];
extern const struct moat_upcalls ck_upcalls;
void ck_stop_init(void);
/* End the LibOS's pause (abi.h: PAUSE code 0). */
void ck_pause_end(void);
_Noreturn void ck_jump(const struct ck_thread *t);
extern volatile int32_t ck_threads_ready; /* resumed threads at their last step */
void ck_threads_go(void);                 /* let them jump into the app */

/* --- image.c --- */
/* The stream the image goes to. */
struct ck_out {
	moat_handle h;
	uint64_t off;       /* bytes put so far (a file's: where they go) */
	int is_file;
	int failed;
	char *buf;          /* a snapshot's: small puts gathered, or NULL */
	uint32_t blen, bcap;
};
void ck_put(struct ck_out *o, const void *p, uint64_t n);
void ck_put_rec(struct ck_out *o, uint32_t type, uint64_t len);
void ck_put_pad(struct ck_out *o, uint64_t len);

/* Write the image of the stopped picoprocess; nthreads slots of
 * ck_threads are filled.  Returns the verdict byte (or 'C' on failure,
 * with *why set). */
int ck_checkpoint(uint32_t nthreads, const char *error);

/* --- precopy.c: a migration's rounds while the app runs --- */
enum ck_mig_state { CK_MIG_NONE, CK_MIG_PRECOPY, CK_MIG_FINAL };
/* Start the pre-copy thread on stream o (its header written); the stream
 * is the thread's until it sets CK_MIG_FINAL or ends.  0, or -1. */
int ck_precopy_start(const struct ck_out *o);
enum ck_mig_state ck_mig_state(void);
/* At a pause: wait (up to seconds) for the client's FINAL; 1 with *o the
 * migration's stream, or 0 (no migration to finish). */
int ck_mig_final(struct ck_out *o);
/* In FINAL: is the page at addr (readable) the base's? */
int ck_mig_same(uint64_t addr);
/* The migration is over (written, failed or refused): forget it. */
void ck_mig_end(void);
/* thread_start: run the pre-copy thread if arg is its (no return), else 0. */
int ck_precopy_thread(void *arg);
/* Did exception e happen on the pre-copy thread?  Then it was handled. */
int ck_precopy_exception(struct moat_exception *e);
/* A page's digest: 0 for a page of zeros, else an XXH3 hash | 1. */
uint64_t ck_page_digest(const void *page);

/* --- restore.c --- */
void ck_resume(void);   /* start hook with 'resume': does not return */
extern volatile int ck_restoring; /* until the LibOS's memory is back */
void ck_resume_set_state(void *lo, void *hi);

/* A one-line message on the console's standard error: prefix, a, b, c. */
void ck_say(const char *prefix, const char *a, const char *b, const char *c);

#endif /* MOAT_CKPT_H */
