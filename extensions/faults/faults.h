/* faults.h -- fault rules (options.c parses them for the monitor and
 * for faults.c). */
#ifndef MOAT_EXT_FAULTS_H
#define MOAT_EXT_FAULTS_H

#include "../ext.h"

#define FAULTS_MAX 16
#define FAULT_SHORT (-1)   /* 'error=short': a short read or write */

struct fault_rule {
	int call;            /* slot in struct moat_abi */
	char uri[200];       /* pattern, normalised to the ABI's "file:/x"; "" = any */
	int error;           /* errno, or FAULT_SHORT */
	uint64_t nth, every; /* 0: unused */
	uint32_t p;          /* probability in 1/2^32 units; 0: unused */
	int has_p;
	uint64_t seed;
	int has_seed;
};

int faults_parse(const char *options, struct fault_rule *rules, int *n,
		 char *err, size_t errlen);
const struct moat_abi *faults_init(struct moat_ext_args *a);
/* Does 'uri' match the rule's pattern ('*' matches any run of bytes)? */
int faults_match(const char *pattern, const char *uri);

#endif
