/* rr.h -- record and replay (rr.c): options and the log's format. */
#ifndef MOAT_EXT_RR_H
#define MOAT_EXT_RR_H

#include "../ext.h"

struct rr_opts {
	char file[256];  /* virtual path of the log */
};

int rr_parse(const char *options, struct rr_opts *o, char *err, size_t errlen);
const struct moat_abi *record_init(struct moat_ext_args *a);
const struct moat_abi *replay_init(struct moat_ext_args *a);

/* The log: "MOATRR1\n", then one entry per logged downcall, in order: */
#define RR_MAGIC "MOATRR1\n"
struct rr_entry {
	uint32_t call;    /* slot in struct moat_abi */
	uint32_t check;   /* hash of the arguments that must match on replay */
	int64_t result;
	uint64_t len;     /* bytes of data after the entry, padded to 8 */
};

/* An entry whose call is RR_SIGNAL is not a downcall: an asynchronous
 * signal reached the LibOS there, after the first 'result' counted
 * downcalls of the process had returned (rr.c, "Signals"). */
#define RR_SIGNAL 0xffffu
struct rr_signal {
	uint32_t sig, pid;     /* as in struct moat_exception */
	int32_t code, status;  /* its signal_code, signal_status */
	uint32_t inexact;      /* 0, or the number of the group of signals
				  record handed on at once in the program's
				  code, between downcalls (signals.inc) */
	uint32_t pad;
};

/* Replay's handles for streams the log holds: the recorded number plus
 * this, far above any PAL handle, so they never meet a real one. */
#define RR_SYNTH (1 << 20)

#endif
