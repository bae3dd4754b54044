/*
 * tools.h -- the moat command's subcommands, across the files of tools/.
 */
#ifndef MOAT_TOOLS_H
#define MOAT_TOOLS_H

#include <stddef.h>

/* moat pack, moat inspect, moat verify (tools/pack.c): argv[0] is the
 * subcommand; the result is the exit status. */
int moat_cmd_pack(int argc, char **argv);
int moat_cmd_inspect(int argc, char **argv);
int moat_cmd_verify(int argc, char **argv);

/* PROGRAM as a host path: itself if it has a slash (made absolute), or
 * the first executable of that name on $PATH.  -1 if none. */
int moat_find_program(const char *prog, char *out, size_t len);

#endif /* MOAT_TOOLS_H */
