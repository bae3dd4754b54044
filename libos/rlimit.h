/*
 * rlimit.h -- what the rest of the LibOS reads of the resource limits
 * rlimit.c keeps: the descriptor table asks for RLIMIT_NOFILE here and
 * depends on nothing else of the process core.
 */
#ifndef MOAT_LIBOS_RLIMIT_H
#define MOAT_LIBOS_RLIMIT_H

/* One more than the highest descriptor the app may have now: the app's
 * RLIMIT_NOFILE, at most LIBOS_MAX_FDS. */
int fd_limit(void);

#endif /* MOAT_LIBOS_RLIMIT_H */
