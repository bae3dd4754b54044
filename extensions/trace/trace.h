/* trace.h -- the trace extension's options (options.c parses them for
 * the monitor and for trace.c). */
#ifndef MOAT_EXT_TRACE_H
#define MOAT_EXT_TRACE_H

#include "../ext.h"

struct trace_opts {
	char file[256];  /* virtual path; "" = stderr */
	int json;        /* JSON Lines instead of strace-like text */
	int summary;     /* a table at process exit */
	int quiet;       /* no line per downcall */
};

int trace_parse(const char *options, struct trace_opts *o, char *err, size_t errlen);
const struct moat_abi *trace_init(struct moat_ext_args *a);

#endif
