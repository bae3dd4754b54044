/*
 * filter.c -- the seccomp filter every picoprocess runs under.
 *
 * Two parts, one program:
 *   1. A hand-written prefix: if the instruction pointer is not just past
 *      the PAL's gate (MOAT_GATE_ADDR + 2), return TRAP, so the LibOS
 *      emulates the call.  libseccomp cannot test the instruction pointer.
 *   2. The allowlist for calls made from the gate, with argument checks,
 *      default KILL_PROCESS: written in monitor/filter_rules.c and
 *      compiled with libseccomp when moat is built
 *      (build/gen/filter_allowlist.inc).
 */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor_int.h"
#include "filter_allowlist.inc"

int moat_filter_count(void)
{
	return ALLOWLIST_CALLS;
}

/* The allowlist in libseccomp's readable form (for `moat filter`). */
int moat_filter_print(int fd)
{
	size_t len = sizeof(allowlist_pfc) - 1;
	return write(fd, allowlist_pfc, len) == (ssize_t)len ? 0 : -1;
}

struct sock_filter *moat_filter_build(size_t *len, char *err, size_t errlen)
{
	const struct sock_filter prefix[] = {
		/* seccomp_data: nr @0, arch @4, instruction_pointer @8 */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			 (uint32_t)((MOAT_GATE_ADDR + 2) >> 32), 0, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 8),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			 (uint32_t)(MOAT_GATE_ADDR + 2), 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
	};
	const size_t np = sizeof(prefix) / sizeof(prefix[0]);
	const size_t na = sizeof(allowlist) / sizeof(allowlist[0]);
	struct sock_filter *out = calloc(np + na, sizeof(*out));
	if (!out) {
		snprintf(err, errlen, "cannot build the seccomp filter: out of memory");
		return NULL;
	}
	memcpy(out, prefix, sizeof(prefix));
	memcpy(out + np, allowlist, sizeof(allowlist));
	*len = np + na;
	return out;
}
