/*
 * moat/snapshot.h -- the checkpoint image: what the checkpointer
 * extension (extensions/ckpt) writes about a stopped picoprocess, and
 * reads back to resume it.
 *
 * NAME
 *   struct moat_snap_* -- records of a raw checkpoint image.
 *
 * DESCRIPTION
 *   A checkpoint travels in three layers:
 *
 *   1. The raw image, this header's format.  The checkpointer, inside the
 *      picoprocess, writes it through the ABI to the stream
 *      "snapshot:out", which the monitor hands out only while a
 *      `moat checkpoint` asked for one (a connected stream socket whose
 *      other end goes to the `moat checkpoint` client).  After the END
 *      record the checkpointer shuts its side down for writing and reads
 *      one verdict byte (MOAT_SNAP_VERDICT_*): the client answers only
 *      once the package is safely written (or the migration target runs),
 *      so nothing is lost when writing fails.
 *   2. The snapshot package: an ordinary .mpk (docs/package-format.md)
 *      whose manifest has a [Snapshot] section and whose one file,
 *      MOAT_SNAP_PATH, is the raw image compressed with zstd.  The
 *      package's own XXH3-128 checks cover it; the manifest also carries
 *      the XXH3-64 and the length of the raw image, checked after
 *      decompression.
 *   3. On resume (`moat run SNAP.mpk`) the monitor decompresses the
 *      image into an anonymous memory file and hands it out, read-only,
 *      as the stream "snapshot:in"; the checkpointer reads it before the
 *      LibOS runs again.
 *
 *   The image is untrusted input everywhere: the host side checks its
 *   record structure (moat_snap_check) and the checkpointer checks every
 *   record it uses.  It carries no authority: every stream it names is
 *   opened again through the monitor, under the grants given at resume.
 *
 * LAYOUT
 *   All integers are little-endian (x86-64 only).  The image is a
 *   struct moat_snap_header, then records: a struct moat_snap_rec and
 *   'len' bytes of body, padded with zeros to a multiple of 8.  The last
 *   record is MOAT_SNAP_END (len 0).  Records come in the order of the
 *   enum: INFO, then STREAM and SYNC records in ascending handle order,
 *   TIMER, REGION records in ascending address order, THREAD records
 *   (the first is the thread that resumes first), END.
 *
 *   A process tree: each process's records, from INFO to its last
 *   THREAD, follow a PROCESS record naming it; process 1 comes first,
 *   then its children in ascending pid order; one END closes the whole.
 *   An image that begins with INFO holds process 1 alone.  Children of
 *   children are not captured yet (the checkpoint is refused).
 */
#ifndef MOAT_SNAPSHOT_H
#define MOAT_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#define MOAT_SNAP_MAGIC   "MOATSNP\x1a"
#define MOAT_SNAP_VERSION 2
#define MOAT_SNAP_PATH    "/.moat/snapshot.zst" /* the image in the package */
#define MOAT_SNAP_MAX_IMAGE (64ULL << 30)       /* a raw image's largest size */
#define MOAT_SNAP_SCRATCH_PATH "/.moat/scratch.zst" /* the saved /tmp in the package */
#define MOAT_SNAP_MAX_SCRATCH (64ULL << 30)     /* a saved /tmp archive's largest size */
#define MOAT_SNAP_PAGE    4096
#define MOAT_SNAP_FPSTATE_MAX (64u << 10)       /* a THREAD's fpsize at most */

/* The host signal `moat checkpoint` sends to every task of the
 * picoprocess's first process; the PAL turns it into a pause of the
 * checkpointer (only with "ckpt" in the extension stack). */
#define MOAT_SIG_CHECKPOINT 33

/* The verdict byte the client sends after the END record. */
#define MOAT_SNAP_VERDICT_END      'E' /* written: the picoprocess ends */
#define MOAT_SNAP_VERDICT_CONTINUE 'C' /* --leave-running, or a failure */

struct moat_snap_header {
	char magic[8];        /* MOAT_SNAP_MAGIC */
	uint32_t version;     /* MOAT_SNAP_VERSION */
	uint32_t flags;       /* 0 */
};

enum moat_snap_type {
	MOAT_SNAP_END = 0,
	MOAT_SNAP_INFO = 1,   /* struct moat_snap_info */
	MOAT_SNAP_STREAM = 2, /* struct moat_snap_stream, uri, then buffered bytes */
	MOAT_SNAP_SYNC = 3,   /* struct moat_snap_sync */
	MOAT_SNAP_TIMER = 4,  /* struct moat_snap_timer */
	MOAT_SNAP_REGION = 5, /* struct moat_snap_region, then page runs */
	MOAT_SNAP_THREAD = 6, /* struct moat_snap_thread, then fpstate */
	MOAT_SNAP_ERROR = 7,  /* text: why the checkpoint cannot be taken */
	MOAT_SNAP_PAGES = 8,  /* migration stream only (below): pre-copied pages */
	MOAT_SNAP_ROUND = 9,  /* migration stream only: the end of a round */
	MOAT_SNAP_PROCESS = 10, /* struct moat_snap_process, then its children */
	MOAT_SNAP_NTYPES
};

struct moat_snap_rec {
	uint32_t type;        /* enum moat_snap_type */
	uint32_t zero;
	uint64_t len;         /* body bytes, without the padding */
};

/* INFO: the picoprocess as a whole. */
struct moat_snap_info {
	int64_t taken_ns;     /* MOAT_CLOCK_REALTIME at the stop */
	int64_t monotonic_ns; /* MOAT_CLOCK_MONOTONIC at the stop */
	uint32_t nthreads;    /* THREAD records that follow */
	uint32_t nregions;    /* REGION records that follow */
	uint32_t nstreams;    /* STREAM records that follow */
	uint32_t generation;  /* resumes so far (0: never resumed) */
	uint64_t memory;      /* bytes of page contents in the image */
};

/* PROCESS: the process whose records follow, and its children, each a
 * struct moat_snap_child.  A child that ended before the stop and was
 * not waited for yet travels here only, with its wait status; a live
 * child has a PROCESS record of its own. */
struct moat_snap_process {
	int32_t pid;          /* in the picoprocess's own namespace: 1, 2, ... */
	int32_t ppid;         /* 0 for process 1 */
	int32_t pgid;         /* its process group */
	uint32_t nchildren;   /* struct moat_snap_child that follow */
};

struct moat_snap_child {
	int32_t pid;
	int32_t status;       /* ended: its Linux wait status */
	uint32_t ended;       /* 1: ended, not yet waited for; 0: live */
	uint32_t zero;
};
#define MOAT_SNAP_MAX_CHILDREN 64

/* STREAM: one open stream handle, re-made on resume at the same handle. */
enum moat_snap_origin {
	MOAT_SNAP_OPENED = 1,   /* stream_open(uri, access, options) */
	MOAT_SNAP_PIPE_READ = 2,/* stream_pipe: the read end (peer: write end) */
	MOAT_SNAP_PIPE_WRITE = 3,
	MOAT_SNAP_DUPLEX = 4,   /* stream_pipe(DUPLEX): either end (peer: other) */
	MOAT_SNAP_CLOSED = 5,   /* a connection to the outside: arrives closed */
};

struct moat_snap_stream {
	int32_t handle;
	uint32_t origin;      /* enum moat_snap_origin */
	uint32_t kind;        /* enum moat_kind at the stop */
	uint32_t access;      /* MOAT_ACCESS_* */
	uint32_t options;     /* MOAT_OPEN_* to reopen with (never CREATE,
				 EXCL or TRUNCATE) */
	int32_t peer;         /* the other end's handle, or -1 */
	uint32_t uri_len;     /* bytes of the URI that follow (no NUL) */
	uint32_t zero;
	uint64_t buffered;    /* bytes read out of the stream at the stop,
				 after the URI; re-written on resume */
	uint64_t size;        /* a file's length at the stop */
	int64_t mtime_ns;     /* a file's modification time at the stop */
	uint64_t object;      /* a pipe pair's end: the pair's identity
				 (even, the same in every process holding
				 an end) | 0 for the read or first end, 1
				 for the other; else 0 */
};

/* SYNC: a semaphore or event handle and its state. */
enum moat_snap_sync_kind { MOAT_SNAP_SEMAPHORE = 1, MOAT_SNAP_EVENT = 2 };

struct moat_snap_sync {
	int32_t handle;
	uint32_t kind;        /* enum moat_snap_sync_kind */
	uint32_t a;           /* semaphore: count; event: MOAT_EVENT_* kind */
	uint32_t b;           /* semaphore: max;   event: 1 if set */
};

/* TIMER: an armed timer_set timer and what was left of it. */
struct moat_snap_timer {
	uint32_t which;
	uint32_t zero;
	uint64_t value_ns, interval_ns;
};

/* REGION: a range of the address space as the ABI made it.  Contents
 * follow as page runs (struct moat_snap_run and run.npages * 4096
 * bytes), 'nruns' of them, ascending; pages in no run are zero, or, for
 * a REF region, the file's own. */
enum moat_snap_region_kind {
	MOAT_SNAP_ANON = 1,   /* vm_alloc: private, or MAP_SHARED if flags say */
	MOAT_SNAP_FILE = 2,   /* stream_map of uri at offset: copy-on-write;
				 runs hold the pages that may differ */
	MOAT_SNAP_IMAGE = 3,  /* the LibOS's data in the moat-pico image */
};
#define MOAT_SNAP_REGION_SHARED 1 /* MOAT_MAP_SHARED */
#define MOAT_SNAP_REGION_BASE   2 /* migration stream only: see below */
#define MOAT_SNAP_REGION_REF    4 /* a received image only: see below */
#define MOAT_SNAP_REGION_ALIGNED 8 /* a snapshot's big runs page-aligned: below */

/* In a REGION with MOAT_SNAP_REGION_ALIGNED (private anonymous memory,
 * never with SHARED, BASE or REF), each run of at least
 * MOAT_SNAP_ALIGN_MIN pages has zero bytes between its struct
 * moat_snap_run and its pages, as many (0 to 4095) as put its pages at a
 * multiple of 4096 from the start of the image; shorter runs have none.
 * A resume then maps such a run from the image copy-on-write rather than
 * copying it: its time goes with the runs, not the pages.  The
 * checkpointer of process 1 sets it when writing a snapshot (where its
 * stream's offsets are the image's); the check verifies every padding. */
#define MOAT_SNAP_ALIGN_MIN 16

/* In a REGION with MOAT_SNAP_REGION_REF, each struct moat_snap_run is
 * followed by a u64: MOAT_SNAP_REF_INLINE, then its pages as in any
 * run; or the index of its first page in "the base", a second file of
 * whole pages handed beside the image ("snapshot:base"), the run's
 * pages being that many consecutive base pages.  Only moat receive
 * makes such an image (moat_snap_merge_ref), for a resume on the same
 * host (moat_snap_adopt); moat_snap_check refuses the flag, and no
 * package or network stream carries it. */
#define MOAT_SNAP_REF_INLINE UINT64_MAX

struct moat_snap_region {
	uint64_t addr, size;  /* page-aligned */
	uint32_t prot;        /* MOAT_PROT_* now */
	uint32_t kind;        /* enum moat_snap_region_kind */
	uint32_t flags;       /* MOAT_SNAP_REGION_* */
	uint32_t nruns;
	uint64_t offset;      /* FILE: offset in the file of addr */
	uint64_t file_size;   /* FILE: the file's length at the stop */
	int64_t file_mtime_ns;/* FILE: its modification time at the stop */
	uint32_t uri_len;     /* FILE: bytes of the URI that follow the
				 struct, before the runs */
	uint32_t zero;
};

struct moat_snap_run {
	uint64_t first;       /* page index within the region */
	uint64_t npages;
};

/* THREAD: one app thread, stopped in app code at a point where the
 * system call it was in, if any, runs again. */
struct moat_snap_thread {
	uint64_t regs[18];    /* rax rbx rcx rdx rsi rdi rbp rsp r8-r15 rip
				 rflags, as in struct moat_context */
	uint64_t fsbase, gsbase;
	uint32_t fpsize;      /* bytes of XSAVE (or FXSAVE) state that follow */
	uint32_t zero;
};

/* ---- The request, and the migration stream ----
 *
 * The first byte the checkpointer reads from "snapshot:out" is the
 * request, which the monitor puts there when it hands the stream out
 * (MOAT_CTL_CHECKPOINT's argument, moat/control.h):
 *
 *   MOAT_SNAP_REQ_SNAPSHOT  the stopped picoprocess's raw image, as above.
 *   MOAT_SNAP_REQ_MIGRATE   the migration stream: the header, then rounds
 *                           of pre-copy while the app runs on, then the
 *                           final image once the client has paused it.
 *
 * Migration stream := header ROUND-BLOCK* FINAL
 *   ROUND-BLOCK := PAGES* ROUND
 *   FINAL       := INFO STREAM/SYNC* TIMER* REGION* THREAD+ END
 *                | ERROR END
 *
 * In a round the checkpointer's own thread (the app's threads run on)
 * sends each page of the app's private anonymous memory and of the
 * LibOS's data (REGION kinds ANON and IMAGE) that is not zero and has
 * changed since it last sent it, or that it sent before and is zero now;
 * then a ROUND record.  It then reads one byte from the client:
 *   MOAT_SNAP_ROUND_AGAIN  another round;
 *   MOAT_SNAP_ROUND_FINAL  no more rounds: the client asks the monitor
 *                          for a pause (MOAT_CTL_PAUSE); once every
 *                          thread has stopped, FINAL follows;
 *   MOAT_SNAP_ROUND_ABORT  (or the stream closing) the migration is
 *                          off: nothing more is written, the app goes on.
 * An ERROR END in place of the first round means the picoprocess cannot
 * be captured; it goes on untouched.
 *
 * "The base" is, for every page address, the bytes of the last PAGES
 * record that held it.  In FINAL, a REGION with MOAT_SNAP_REGION_BASE
 * (never with SHARED, never FILE) holds in its runs only the pages that
 * differ from the base; each of its other pages is the base's page at
 * that address if the base has one, else zero.  INFO's memory counts
 * the runs of FINAL only.  After END the verdict is read as for any
 * checkpoint: the source ends on MOAT_SNAP_VERDICT_END, which the client
 * sends only once the target runs.
 *
 * moat_snap_check refuses PAGES, ROUND and the BASE flag: a migration
 * stream becomes a raw image only through moat_snap_merge (or, on the
 * target, moat_snap_merge_ref, whose REF flag only moat_snap_check_ref
 * takes).
 *
 * A snapshot's stream, from each process of the picoprocess (process
 * 1's through MOAT_CTL_CHECKPOINT, each child's through
 * MOAT_CTL_PROCESS), once all its threads are parked:
 *   header PROCESS, then one byte from the client: MOAT_SNAP_GO once
 *   every process has sent its PROCESS record (no process then runs
 *   while another drains a pipe they share); any other byte, or the
 *   stream closing, and the process goes on untouched.  Then the rest:
 *   INFO ... THREAD+ END, and the verdict.  Or, in place of PROCESS,
 *   ERROR END: this process cannot be captured.
 * The client joins them into one image: process 1's records, then each
 * child's from its PROCESS record on, then one END. */
#define MOAT_SNAP_GO 'G'
#define MOAT_SNAP_REQ_SNAPSHOT 'S'
#define MOAT_SNAP_REQ_MIGRATE  'M'
#define MOAT_SNAP_ROUND_AGAIN  'R'
#define MOAT_SNAP_ROUND_FINAL  'F'
#define MOAT_SNAP_ROUND_ABORT  'A'

/* PAGES: npages pages from addr (page-aligned, npages >= 1), their bytes
 * follow. */
struct moat_snap_pages {
	uint64_t addr;
	uint64_t npages;
};

/* ROUND: the end of pre-copy round 'round' (0, 1, ...). */
struct moat_snap_round {
	uint32_t round;
	uint32_t zero;
	uint64_t pages;       /* pages this round's PAGES records held */
	uint64_t scanned;     /* pages it looked at */
	uint64_t ns;          /* how long the round took */
};

/* Host side: check the record structure of a raw image of 'len' bytes
 * (header, known types, lengths inside the image and consistent with
 * their fixed parts, the END record last, the counts in INFO).  0, or -1
 * with one line in err naming the record (its index and offset) and the
 * fault. */
int moat_snap_check(const void *image, size_t len, char *err, size_t errlen);
/* moat_snap_check, but REGIONs may carry MOAT_SNAP_REGION_REF (never
 * with SHARED, never FILE) whose runs name pages inside a base of
 * base_pages pages. */
int moat_snap_check_ref(const void *image, size_t len, uint64_t base_pages, char *err,
			size_t errlen);

/* ---- Host side (monitor/snapshot.c), for the monitor and the tools ---- */

/* The record at *off of an image moat_snap_check accepted (start with
 * *off = sizeof(struct moat_snap_header)); its body follows it.  *off
 * moves to the next record.  NULL after END. */
const struct moat_snap_rec *moat_snap_next(const void *image, size_t len, size_t *off);

/* The text of an image's ERROR record (escaped: printable ASCII only) in
 * out: 1 if it has one, else 0.  The image must have passed the check. */
int moat_snap_error_text(const void *image, size_t len, char *out, size_t outlen);

/* XXH3-128 of a file as 32 hex digits (and the NUL).  0, or -1 with
 * errno. */
int moat_snap_file_hash(const char *path, char hex[33]);

/* XXH3-64 of a buffer as 16 hex digits. */
void moat_snap_hash64(const void *buf, size_t len, char hex[17]);

/* Compress 'len' bytes of image with zstd, written to fd.  0, or -1
 * with one line in err. */
int moat_snap_compress(const void *image, size_t len, int fd, char *err, size_t errlen);
/* The same at zstd level 'level' (moat receive: 1, for a short downtime). */
int moat_snap_compress_at(const void *image, size_t len, int level, int fd, char *err,
			  size_t errlen);

/* What a saved /tmp archive holds. */
struct moat_scratch_counts {
	uint64_t files, links;
	uint64_t dirs;        /* but the tops (/tmp, /dev/shm, the copy-up layer) */
	uint64_t bytes;       /* of its files */
};

/* A snapshot package opened for resume or inspection. */
struct moat_snap_loaded {
	int memfd;            /* the raw image, read-only sealed memfd */
	int base_fd;          /* its base (moat_snap_adopt of a REF image), or -1 */
	const void *image;    /* mapped read-only, len bytes */
	size_t len;
	uint64_t zlen;        /* compressed bytes in the package */
	int scratch_fd;       /* the saved /tmp archive, a sealed memfd, or -1
				 (a snapshot taken before moat carried it) */
	uint64_t scratch_len, scratch_zlen;   /* its bytes, raw and compressed */
	struct moat_scratch_counts scratch;
};

/* The saved /tmp, /dev/shm and copy-up layer (the archive MOAT_CTL_SCRATCH
 * answers with, monitor/scratch.c), checked as untrusted bytes: its
 * structure, every length inside it, every path inside the scratch; and
 * counted.  0, or -1 with one line in err ("the saved /tmp, entry N /PATH:
 * why").  Loading it into a scratch checks again what only the file
 * system can tell (a file through a symlink the archive made). */
int moat_scratch_check(const void *archive, size_t len, struct moat_scratch_counts *c,
		       char *err, size_t errlen);

/* Open snapshot package 'path' (moat_package_open with every hash
 * checked), decompress its image into a memfd, bounded by
 * MOAT_SNAP_MAX_IMAGE and [Snapshot] image_len, check image_hash and
 * moat_snap_check; the same for its saved /tmp when [Snapshot] has
 * scratch_len (MOAT_SNAP_SCRATCH_PATH, scratch_len, scratch_hash,
 * moat_scratch_check).  'm' is the package's manifest as parsed.  0, or -1
 * with one line "PATH: what is wrong" in err. */
struct moat_manifest;
int moat_snap_load(const char *path, const struct moat_manifest *m,
		   struct moat_snap_loaded *out, char *err, size_t errlen);
void moat_snap_unload(struct moat_snap_loaded *s);
/* As moat_snap_load, but the image and the saved /tmp (scratch_fd, or -1
 * when [Snapshot] has no scratch_len) are memfds handed over in memory,
 * not entries of the package 'path' (moat receive: no compression, no
 * second pass over the bytes).  Each must be sealed against writes and
 * size changes and be exactly [Snapshot]'s length; the image passes
 * moat_snap_check, the saved /tmp moat_scratch_check.  The descriptors
 * are duplicated: the caller keeps its own.  base_fd (or -1): the base of
 * a moat_snap_merge_ref image, sealed too, whole pages; the image is
 * checked with moat_snap_check_ref against its size. */
int moat_snap_adopt(const char *path, const struct moat_manifest *m, int image_fd,
		    int base_fd, int scratch_fd, struct moat_snap_loaded *out, char *err,
		    size_t errlen);

/* The snapshot manifest of a run of 'm' (the manifest as launched, with
 * its layers and the runner's grants) by moat-pico 'pico_path': [Package],
 * [Identity], [Application], [Dependency.*] (exact versions), the grants
 * as requests, [Limits], and [Snapshot] last, without 'taken' (added at
 * the checkpoint) nor image_len/image_hash (added by the client).  A
 * malloc'd NUL-terminated text, or NULL with one line in err. */
char *moat_snap_manifest(const struct moat_manifest *m, const char *pico_path, char *err,
			 size_t errlen);

/* ---- Host side: a migration stream (moat migrate, moat receive) ----
 *
 * A parser of the migration stream above, fed with bytes as they come
 * (in pieces of any size): the header, ROUND-BLOCKs, FINAL.  Every
 * length is bounded (a record's by its type, the stream by
 * MOAT_SNAP_MAX_IMAGE), every PAGES address page-aligned and inside the
 * 47-bit address space, ROUND numbers consecutive, padding zero, and
 * nothing may follow END.  The FINAL records themselves are checked
 * whole, at the merge.
 *
 * MOAT_MIG_RELAY (the source, which only passes the stream on) keeps
 * nothing but counts; MOAT_MIG_KEEP (the target) keeps "the base" (each
 * page address's last PAGES bytes, in a memfd with an address index)
 * and the FINAL records (in a memfd) for moat_snap_merge. */
enum moat_mig_mode { MOAT_MIG_RELAY = 0, MOAT_MIG_KEEP = 1 };
enum moat_mig_event {
	MOAT_MIG_MORE = 0,     /* feed more bytes */
	MOAT_MIG_ROUND = 1,    /* a ROUND record ended: see round */
	MOAT_MIG_END = 2,      /* the END record: the stream is whole */
};

struct moat_mig_stats {
	uint32_t rounds;             /* ROUND records so far */
	struct moat_snap_round round;/* the last one */
	uint64_t precopy_bytes;      /* bytes of PAGES records (their pages) */
	uint64_t final_bytes;        /* bytes of FINAL, INFO (or ERROR) to END */
	uint64_t total;              /* bytes of the stream so far */
	uint64_t base_pages;         /* KEEP: distinct page addresses in the base */
	int error;                   /* FINAL is ERROR END: error_text says why */
	char error_text[1024];       /* escaped: printable ASCII only */
};

struct moat_mig;
/* A parser, or NULL with one line in err (no memory, no memfd). */
struct moat_mig *moat_mig_new(enum moat_mig_mode mode, char *err, size_t errlen);
void moat_mig_free(struct moat_mig *m);
/* Feed n bytes.  It consumes up to the end of a ROUND or END record and
 * stops there (*event says which; MOAT_MIG_MORE when all n went in), so
 * that the caller can act before the bytes that follow.  The number of
 * bytes consumed, or -1 with one line in err ("offset N: what is
 * wrong"); after END, any byte is an error. */
long moat_mig_feed(struct moat_mig *m, const void *buf, size_t n, int *event, char *err,
		   size_t errlen);
const struct moat_mig_stats *moat_mig_stats(const struct moat_mig *m);

/* The raw image a whole migration stream (KEEP, fed through END)
 * stands for: the FINAL records, checked as an image in which REGIONs
 * may carry MOAT_SNAP_REGION_BASE (never with SHARED, never FILE); each
 * such region's page i is its run's bytes if in a run, else the base's
 * page at addr + i * 4096 if any, else zero; zero pages are left out of
 * the runs, the flag cleared, INFO's memory counted again.  The image
 * (which moat_snap_check accepts) is written to a new memfd: 0 with
 * *fd and *len, or -1 with one line in err.  Time and memory go with
 * the pages that have content, never with the size of a region. */
int moat_snap_merge(struct moat_mig *m, int *fd, size_t *len, char *err, size_t errlen);

/* The same image, but the pages of the base are not copied: BASE
 * regions become REF regions whose runs name base pages, consecutive
 * base pages at consecutive addresses forming one run, and the base
 * (its memfd, *base_pages pages) is handed over in *base_fd, sealed
 * against any change.  Time goes with the number of runs, not pages:
 * the work a stopped app waits for.  The image passes
 * moat_snap_check_ref with *base_pages.  0, or -1 with one line. */
int moat_snap_merge_ref(struct moat_mig *m, int *fd, size_t *len, int *base_fd,
			uint64_t *base_pages, char *err, size_t errlen);

/* The extension stack as [Snapshot] extensions records it: items
 * "NAME" or "NAME:OPTIONS" separated by blanks, OPTIONS percent-encoded.
 * moat_snap_ext_decode calls add(name, options) for each item: 0, or
 * -1 (a malformed value, or the first failure of add). */
char *moat_snap_ext_encode(const struct moat_manifest *m);
int moat_snap_ext_decode(const char *value,
			 int (*add)(void *ctx, const char *name, const char *options), void *ctx);

#endif /* MOAT_SNAPSHOT_H */
