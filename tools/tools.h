/*
 * tools.h -- the moat command's subcommands, across the files of tools/.
 */
#ifndef MOAT_TOOLS_H
#define MOAT_TOOLS_H

#include <stddef.h>
#include <stdio.h>

struct moat_manifest;

/* moat pack, moat inspect, moat verify (tools/pack.c): argv[0] is the
 * subcommand; the result is the exit status. */
int moat_cmd_pack(int argc, char **argv);
int moat_cmd_inspect(int argc, char **argv);
int moat_cmd_verify(int argc, char **argv);
/* moat trace summary FILE (tools/trace_summary.c). */
int moat_cmd_trace(int argc, char **argv);
/* moat ps, moat kill (tools/control.c): named picoprocesses. */
int moat_cmd_ps(int argc, char **argv);
int moat_cmd_kill(int argc, char **argv);
/* moat checkpoint NAME -o SNAP.mpk (tools/checkpoint.c). */
int moat_cmd_checkpoint(int argc, char **argv);
/* Its work: take NAME's checkpoint into the package OUT; before the
 * verdict, before_verdict(OUT, arg) (if not NULL) may refuse (-1: the
 * picoprocess goes on) or accept (0: it ends, unless leave).  The exit
 * status: 0 once written (and accepted). */
int moat_checkpoint_take(const char *name, const char *out, int leave,
			 int (*before_verdict)(const char *pkg, void *arg), void *arg);

/* Connect to NAME's control socket; -1 with one line said ("moat: CMD:
 * no picoprocess named NAME", ...). */
int moat_ctl_open(const char *cmd, const char *name);
/* Ask NAME's monitor for a checkpoint, kind 0 a snapshot, 1 a migration
 * (MOAT_CTL_CHECKPOINT): *sock, our end of the image stream, and the
 * snapshot's manifest (malloc'd, with room for 256 more bytes).  0; or
 * -1, said on stderr ("moat: CMD: NAME: why") when *sock is -1, else
 * (the stream is there, the manifest is not) with the reason in err. */
int moat_ckpt_request(const char *cmd, const char *name, int kind, int *sock, char **manifest,
		      size_t *mlen, char *err, size_t errlen);
/* MOAT_CTL_PAUSE to NAME: a migration's final stop.  0, or -1 with one
 * line in err. */
int moat_ctl_pause(const char *cmd, const char *name, char *err, size_t errlen);
/* Bytes held in memory (a mapping). */
/* ckpt_tree.c: the streams of a snapshot's child processes. */
struct moat_tree {
	int kids[64];   /* MOAT_SNAP_MAX_CHILDREN */
	int nkids;
};
/* Read process 1's stream 'sock' and, for a tree, each child's (asked of
 * NAME's monitor), sending each the go byte once all have stopped; the
 * joined raw image is appended to raw, *total its bytes.  0, or -1 with
 * one line in err (the caller then sends MOAT_SNAP_VERDICT_CONTINUE to
 * all: moat_tree_send, and to sock). */
int moat_tree_gather(const char *name, int sock, int raw, struct moat_tree *t, uint64_t *total,
		     char *err, size_t errlen);
/* One byte (a verdict) to every child's stream. */
void moat_tree_send(struct moat_tree *t, char byte);
void moat_tree_close(struct moat_tree *t);

struct moat_snap_blob {
	const void *data;
	size_t len;
};
/* MOAT_CTL_SCRATCH to NAME while its checkpoint holds it: the archive of
 * its /tmp, /dev/shm and copy-up layer, mapped into *b (free it with
 * moat_snap_blob_free).  0, or -1 with one line in err. */
int moat_ctl_scratch(const char *name, struct moat_snap_blob *b, char *err, size_t errlen);
void moat_snap_blob_free(struct moat_snap_blob *b);
/* Write the snapshot package OUT: the manifest with image_len and
 * image_hash appended (its [Snapshot] section is last), and the image
 * compressed at zstd 'level' through a temporary file beside OUT; with
 * scratch (not NULL), the saved /tmp archive too, as
 * MOAT_SNAP_SCRATCH_PATH with scratch_len and scratch_hash.  0, or -1
 * with one line in err. */
int moat_snap_package(const char *out, const char *manifest, size_t mlen, const void *image,
		      size_t len, const struct moat_snap_blob *scratch, int level, char *err,
		      size_t errlen);

/* moat migrate NAME --to ADDR, moat receive --listen ADDR [RUN OPTIONS]
 * (tools/migrate.c). */
int moat_cmd_migrate(int argc, char **argv);
int moat_cmd_receive(int argc, char **argv);
/* moat run (tools/moat.c), argv[0] "run"; running_fd >= 0: a resumed
 * snapshot's monitor writes 'R' there when it runs again (and moat run
 * closes its own copy once launched), -1 otherwise. */
int moat_run_main(int argc, char **argv, int running_fd);
/* The next snapshot moat_run_main resumes takes its image, its base and
 * saved /tmp later, over this socket (MOAT_LATER_* in moat/monitor.h),
 * not from its package: moat receive starts the picoprocess while the
 * stream still comes, and hands over the merged image, which it checked
 * (moat_snap_adopt), after the stream's END. */
void moat_run_later(int later_fd);

/* moat inspect's part for a snapshot package: its [Snapshot] and what
 * its image holds.  0, or -1 (said on stderr) if the image is bad. */
int moat_inspect_snapshot(const char *file, const struct moat_manifest *m);

/* PROGRAM as a host path: itself if it has a slash (made absolute), or
 * the first executable of that name on $PATH.  -1 if none. */
int moat_find_program(const char *prog, char *out, size_t len);

/* Print text from a package or manifest with \n, \\ and control bytes
 * escaped, so that it cannot fake a line or a terminal sequence. */
void moat_put_escaped(FILE *f, const char *s);
/* Print grant i of m: maps first ("rw /v = /h"), then network grants
 * ("net tcp.server://0.0.0.0:80 = tcp.server://127.0.0.1:8080"). */
void moat_put_grant(FILE *f, const struct moat_manifest *m, int i);

#endif /* MOAT_TOOLS_H */
