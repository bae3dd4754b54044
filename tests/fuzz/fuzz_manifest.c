/*
 * fuzz_manifest.c -- libFuzzer target: the manifest parser.
 *
 * The input is a manifest's text.  moat_manifest_parse() must either
 * fill the manifest or fail with one line naming the file, without
 * reading or writing out of bounds or leaking.  A manifest that parses
 * is also turned into a policy (its mappings are opened on the host),
 * as `moat run` does, and everything is freed again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct moat_manifest m;
	char err[512];
	err[0] = 0;
	/* Relative host paths (file:x) are taken beside /tmp/fuzz.ini. */
	int r = moat_manifest_parse((const char *)data, size, "/tmp/fuzz.ini", &m, err,
				    sizeof(err));
	if (r < 0) {
		/* One line, naming the file. */
		if (strncmp(err, "/tmp/fuzz.ini", 13) != 0 || strchr(err, '\n'))
			__builtin_trap();
	} else {
		if (!m.entry || m.entry[0] != '/' || m.argc < 1 || !m.argv ||
		    m.argv[m.argc] != NULL || !m.env || m.env[m.envc] != NULL)
			__builtin_trap();
		struct moat_policy *p = moat_policy_new(&m, err, sizeof(err));
		if (p)
			moat_policy_free(p);
	}
	moat_manifest_free(&m);
	return 0;
}
