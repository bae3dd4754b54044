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
