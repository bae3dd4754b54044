/*
 * learn_roundtrip.c -- a host-side property test of the learned manifest
 * (run by tests/test_security_review_learn.sh).
 *
 * Learn mode writes file names the app chose into a manifest that the
 * monitor trusts the next time.  This makes files and directories with
 * hostile names in DIR (every byte but '/' and NUL, names of 255 bytes,
 * INI syntax, '%' escapes, paths far over 200 bytes, random names), has a
 * learning policy read each file and list each directory, as the monitor
 * does for a picoprocess, writes the learned lines, parses them back as a
 * manifest and compares the grants: every path reached granted read-only
 * at itself, nothing else.  Then it checks what a hand-made URI may and
 * may not decode to.
 *
 *   learn_roundtrip DIR [SEED]     prints "ok N paths", or each mismatch
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "moat/manifest.h"
#include "moat/policy.h"

#define MAX_PATHS 4096

struct reached {
	char *path;
	int dir;
	int seen;
};

static struct reached want[MAX_PATHS];
static int nwant, failures;
static char root[PATH_MAX];

/* A path in messages: non-printing bytes as %XX. */
static const char *shown(const char *p)
{
	static char buf[3 * PATH_MAX + 1];
	size_t n = 0;
	for (const unsigned char *c = (const unsigned char *)p; *c && n + 4 < sizeof(buf); c++)
		n += (size_t)(*c > ' ' && *c < 0x7f && *c != '%'
				      ? snprintf(buf + n, 2, "%c", *c)
				      : snprintf(buf + n, 4, "%%%02X", *c));
	buf[n] = 0;
	return buf;
}

static void bad(const char *what, const char *path)
{
	if (failures++ < 20)
		printf("MISMATCH %s: %s\n", what, shown(path));
}

/* Make DIR/sub/name (a file, or a directory with a file in it). */
static void make(const char *sub, const char *name, int dir)
{
	char path[PATH_MAX];
	if (!strcmp(name, ".") || !strcmp(name, "..") || nwant == MAX_PATHS)
		return;
	if (snprintf(path, sizeof(path), "%s/%s/%s", root, sub, name) >= (int)sizeof(path))
		return;
	for (int i = 0; i < nwant; i++)
		if (!strcmp(want[i].path, path))
			return; /* a random name met twice */
	int fd = dir ? mkdir(path, 0755) : open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
	if (fd < 0) {
		printf("cannot make %s: %s\n", shown(path), strerror(errno));
		exit(2);
	}
	if (!dir)
		close(fd);
	want[nwant++] = (struct reached){ strdup(path), dir, 0 };
}

static void make_both(const char *name)
{
	make("f", name, 0);
	make("d", name, 1);
}

static unsigned long long rng;
static unsigned next(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)(rng >> 33);
}

static void hostile_names(void)
{
	static const char *const ini[] = {
		"[x]", "[Namespace.Writable]", " = file:", "file:", ";", "#", "a ;b", "a;b",
		"a #b", " lead", "trail ", " ", "  both  ", "=", ":", "a = b", "%", "%41", "%2F",
		"%2f", "%00", "%zz", "%", "100%", "...", "..a", ".a", "\xef\xbb\xbf" "bom",
		"x\n[Namespace.Writable]\nfile:", " ;\n[Namespace.Writable]",
		"\r", "\t", "a\r", "\\", "\"", "'", "tcp.client:", "file:",
	};
	char name[256];
	for (unsigned b = 1; b < 256; b++) {
		if (b == '/')
			continue;
		snprintf(name, sizeof(name), "%c", b);
		make_both(name);
		snprintf(name, sizeof(name), "a%cb", b);
		make("f", name, 0);
		snprintf(name, sizeof(name), "%ca", b);
		make("f", name, 0);
		snprintf(name, sizeof(name), "a%c", b);
		make("f", name, 0);
	}
	for (size_t i = 0; i < sizeof(ini) / sizeof(ini[0]); i++)
		make_both(ini[i]);
	memset(name, 'a', 255);
	name[255] = 0;
	make_both(name);
	for (int i = 0; i < 255; i++)
		name[i] = "\n;=% #[]"[i % 8];
	make_both(name);
	for (int k = 0; k < 300; k++) { /* random names, 1 to 255 bytes */
		int len = 1 + (int)(next() % 255);
		for (int i = 0; i < len; i++) {
			do
				name[i] = (char)(1 + next() % 255);
			while (name[i] == '/');
		}
		name[len] = 0;
		make(k % 3 ? "f" : "d", name, k % 3 == 0);
	}
}

/* A file deep below directories with long hostile names: a path of some
 * 3000 bytes, 15 times libinih's old 200-byte line. */
static void long_path(void)
{
	char path[PATH_MAX] = "long", name[201], full[2 * PATH_MAX];
	for (int depth = 0; depth < 14; depth++) {
		for (int i = 0; i < 200; i++)
			name[i] = i % 50 == 7 ? '\n' : i % 50 == 8 ? ';' : (char)('a' + depth);
		name[200] = 0;
		snprintf(full, sizeof(full), "%s/%s/%s", root, path, name);
		if (mkdir(full, 0755) < 0) {
			printf("cannot make %s: %s\n", shown(full), strerror(errno));
			exit(2);
		}
		strcat(path, "/");
		strcat(path, name);
	}
	make(path, "file = file:", 0);
}

/* Read every file and list every directory, as a picoprocess would. */
static void reach(struct moat_policy *p)
{
	for (int i = 0; i < nwant; i++) {
		int fd = -1;
		int r = moat_policy_open(p, want[i].path,
					 MOAT_ACCESS_READ | (want[i].dir ? MOAT_OPEN_DIRECTORY : 0),
					 0, NULL, &fd);
		if (r < 0) {
			printf("learning policy refused %s: %s\n", shown(want[i].path), strerror(-r));
			exit(2);
		}
		close(fd);
	}
}

/* The learned grants, parsed back, are exactly 'want', all read-only. */
static void compare(const char *learned)
{
	char *text, err[1024];
	struct moat_manifest m;
	if (asprintf(&text, "[Application]\nentry = file:///bin/true\n[Namespace]\n%s"
			    "[Namespace.Writable]\n", learned) < 0)
		exit(2);
	if (moat_manifest_parse(text, strlen(text), "learned.ini", &m, err, sizeof(err)) < 0) {
		printf("MISMATCH the learned manifest does not load: %s\n", err);
		failures++;
		moat_manifest_free(&m);
		free(text);
		return;
	}
	for (int i = 0; i < m.nmaps; i++) {
		const struct moat_mapping *g = &m.maps[i];
		int j = 0;
		while (j < nwant && strcmp(want[j].path, g->vpath))
			j++;
		if (j == nwant)
			bad("granted but never reached", g->vpath);
		else if (strcmp(g->hpath, g->vpath))
			bad("granted at another host path", g->vpath);
		else if (g->writable)
			bad("granted writable", g->vpath);
		else
			want[j].seen++;
	}
	for (int j = 0; j < nwant; j++)
		if (want[j].seen != 1)
			bad(want[j].seen ? "granted twice" : "reached but not granted", want[j].path);
	moat_manifest_free(&m);
	free(text);
}

/* A hand-made manifest line: 'expect' NULL means it must load, else the
 * error must contain it. */
static void decode_case(const char *line, const char *expect)
{
	char *text, err[1024] = "";
	struct moat_manifest m;
	if (asprintf(&text, "[Application]\nentry = file:///bin/true\n[Namespace]\n%s\n", line) < 0)
		exit(2);
	int r = moat_manifest_parse(text, strlen(text), "hand.ini", &m, err, sizeof(err));
	if (expect ? r == 0 || !strstr(err, expect) : r < 0) {
		printf("MISMATCH %s: got %s\n", shown(line), r ? err : "loaded");
		failures++;
	} else if (!expect && (m.nmaps != 1 || m.maps[0].writable)) {
		printf("MISMATCH %s: not one read-only mapping\n", shown(line));
		failures++;
	}
	moat_manifest_free(&m);
	free(text);
}

static void decoding(void)
{
	char line[PATH_MAX * 2];
	snprintf(line, sizeof(line), "file:///x = file://%s/f/%%2E%%2E/f", root);
	decode_case(line, "without '..'");
	snprintf(line, sizeof(line), "file:///x/%%2e%%2E = file://%s/f", root);
	decode_case(line, "without '..'");
	snprintf(line, sizeof(line), "file:///x = file://%s/f%%2F..%%2F..", root);
	decode_case(line, "%2F cannot be part of a file name");
	snprintf(line, sizeof(line), "file:///x%%00y = file://%s/f", root);
	decode_case(line, "%00 and %2F");
	snprintf(line, sizeof(line), "file:///x%%4 = file://%s/f", root);
	decode_case(line, "two hex digits");
	snprintf(line, sizeof(line), "file:///x%%0A%%5BNamespace.Writable%%5D%%0A = file://%s/f", root);
	decode_case(line, NULL); /* a newline and a section name, in one path */
	snprintf(line, sizeof(line), "file:///x = file://%s/f/%%2E", root);
	decode_case(line, NULL); /* "." is dropped as anywhere: still f itself */
}

int main(int argc, char **argv)
{
	char err[512];
	if (argc < 2 || !realpath(argv[1], root)) {
		fprintf(stderr, "usage: learn_roundtrip DIR [SEED]\n");
		return 2;
	}
	rng = argc > 2 ? strtoull(argv[2], NULL, 0) : 12;
	char sub[PATH_MAX + 8];
	for (const char *const *s = (const char *const[]){ "f", "d", "long", NULL }; *s; s++) {
		snprintf(sub, sizeof(sub), "%s/%s", root, *s);
		mkdir(sub, 0755);
	}
	hostile_names();
	long_path();

	struct moat_manifest none;
	moat_manifest_init(&none, "none");
	struct moat_policy *p = moat_policy_new(&none, err, sizeof(err));
	if (!p || moat_policy_learn(p, err, sizeof(err)) < 0) {
		printf("cannot make a learning policy: %s\n", err);
		return 2;
	}
	reach(p);
	char *learned = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&learned, &len);
	moat_policy_learned(p, f);
	fclose(f);
	compare(learned);
	decoding();
	moat_policy_free(p);
	moat_manifest_free(&none);
	free(learned);
	for (int i = 0; i < nwant; i++)
		free(want[i].path);
	if (failures) {
		printf("%d mismatches\n", failures);
		return 1;
	}
	printf("ok %d paths\n", nwant);
	return 0;
}
