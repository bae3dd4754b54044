/*
 * fuzz_manifest.c -- libFuzzer target: the manifest parser.
 *
 * The input is a manifest's text.  moat_manifest_parse() must either
 * fill the manifest or fail with one line naming the file, without
 * reading or writing out of bounds or leaking.  A manifest that parses
 * is also turned into a policy (its mappings are opened on the host),
 * as `moat run` does, and everything is freed again.
 *
 * And the writer learn mode uses must round-trip: the entry and mappings
 * of a manifest that parsed, written again with moat_manifest_put_uri and
 * moat_manifest_put_map, parse back to the same paths and modes.  (Lines
 * of any length, percent-encoding, and names with INI syntax in them are
 * what the seeds in corpus/manifest/ reach.)
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor_int.h"

static void roundtrip(const struct moat_manifest *m)
{
	char *text = NULL, err[512];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return;
	fputs("[Application]\nentry = ", f);
	moat_manifest_put_uri(f, m->entry);
	for (int w = 0; w < 2; w++) {
		fputs(w ? "\n[Namespace.Writable]\n" : "\n[Namespace]\n", f);
		for (int i = 0; i < m->nmaps; i++)
			if (m->maps[i].writable == w)
				moat_manifest_put_map(f, m->maps[i].vpath, m->maps[i].hpath);
	}
	fclose(f);
	struct moat_manifest again;
	if (moat_manifest_parse(text, len, "/tmp/again.ini", &again, err, sizeof(err)) < 0)
		__builtin_trap(); /* what parsed once must parse when written again */
	if (strcmp(again.entry, m->entry) || again.nmaps != m->nmaps)
		__builtin_trap();
	for (int i = 0; i < m->nmaps; i++) {
		int j = 0;
		while (j < again.nmaps && strcmp(again.maps[j].vpath, m->maps[i].vpath))
			j++;
		if (j == again.nmaps || strcmp(again.maps[j].hpath, m->maps[i].hpath) ||
		    again.maps[j].writable != m->maps[i].writable)
			__builtin_trap();
	}
	moat_manifest_free(&again);
	free(text);
}

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
		/* A package's manifest may name no entry (it has [Identity]). */
		if ((m.entry ? m.entry[0] != '/' : !m.name) || m.argc < 1 || !m.argv ||
		    m.argv[m.argc] != NULL || !m.env || m.env[m.envc] != NULL)
			__builtin_trap();
		if (m.entry)
			roundtrip(&m);
		struct moat_policy *p = moat_policy_new(&m, err, sizeof(err));
		if (p)
			moat_policy_free(p);
	}
	moat_manifest_free(&m);
	return 0;
}
