/*
 * ext.h -- helpers shared by the built-in extensions.  The option
 * parsers (each extension's options.c, and common.c) are compiled twice:
 * into moat-pico, freestanding, and into the monitor, which validates a
 * choice before start with the very same code.  So they use only what
 * both worlds have (a few string functions) and no allocation.
 */
#ifndef MOAT_EXT_H
#define MOAT_EXT_H

#include <stddef.h>
#include <stdint.h>

#include "moat/extension.h"

#if __STDC_HOSTED__
#include <string.h>
#define EXT_INIT(f) NULL /* the monitor only validates */
#else
#include "rt.h"
#define EXT_INIT(f) f
#endif

/* Downcall names in the order of struct moat_abi; index = slot. */
extern const char *const ext_call_names[MOAT_ABI_NCALLS];
int ext_call_index(const char *name); /* -1 if none */
/* The slot-th function pointer of a table. */
#define EXT_SLOT(abi, i) (((void *const *)((const char *)(abi) + 8))[i])

/* "EIO" for 5; NULL if it has no name.  ext_errno_value: the reverse. */
const char *ext_errno_name(long e);
int ext_errno_value(const char *name);

/* Next "key[=value]" item of a list separated by 'sep' at *p: copies
 * key and value (NUL-terminated; value "" if absent), advances *p.
 * Returns 1, 0 at the end, -1 if the key or value does not fit. */
int ext_opt_next(const char **p, char sep, char *key, size_t klen,
		 char *val, size_t vlen);

/* err = a + b + c + d (any may be NULL), truncated to errlen. */
int ext_msg(char *err, size_t errlen, const char *a, const char *b,
	    const char *c, const char *d);

/* Unsigned decimal: 0 and *out, or -1. */
int ext_parse_u64(const char *s, uint64_t *out);

/* Built-in extension descriptors (each extension's options.c). */
extern const struct moat_extension moat_ext_trace, moat_ext_faults,
	moat_ext_passthrough, moat_ext_record, moat_ext_replay, moat_ext_ckpt;

#endif /* MOAT_EXT_H */
