/*
 * manifest.c -- reading manifests (see include/moat/manifest.h).
 *
 * The INI syntax is read here, line by line, rather than with libinih:
 * libinih cut lines longer than its 200-byte buffer into pieces and parsed
 * each as a line of its own (a long path turned into a new mapping), and
 * continued a key on any indented line.  Here a line is as long as it is
 * (the whole manifest is at most 1 MiB), and means one thing.
 *
 * File URIs are percent-encoded (RFC 8089/3986): learn mode writes every
 * byte of a name that could mean something to this syntax as %XX, so any
 * file name, newlines and ';' included, reads back as itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "moat/extension.h"
#include "moat/manifest.h"
#include "moat/package.h"
#include "moat/path.h"
#include "moat/policy.h"

/* Where each spelling of one setting was last given: [0] moat's own
 * (name, entry, ...), [1] Drawbridge's (Name, Exe, ...); 0 if not. */
struct spelled {
	int line[2];
};

/* Drawbridge's version keys, MajorVersion, MinorVersion and BuildNumber
 * (-1: not given), and the line of the last one. */
struct dbversion {
	long part[3];
	int line, key;         /* key: which of the three that line gave */
};

/* A [Dependency.KEY] as read, beside s->m->deps[i]. */
struct dep_state {
	struct spelled name;
	int range_line;        /* moat's version = RANGE */
	struct dbversion v;
};

struct parse_state {
	struct moat_manifest *m;
	char *err;
	size_t errlen;
	int line;
	int failed;
	char *arguments;
	int arguments_line;
	int requests;   /* a package's manifest: host paths are requests */
	/* Both spellings of one manifest must agree (docs/manifest.md,
	 * "Drawbridge spelling"). */
	struct spelled name, arch, entry;
	int version_line;      /* moat's [Identity] version */
	struct dbversion id;   /* Drawbridge's [Identity] version keys */
	struct dep_state *deps; /* beside m->deps */
	int nignored;          /* [Windows.*] sections ignored */
};

void moat_manifest_init(struct moat_manifest *m, const char *source)
{
	memset(m, 0, sizeof(*m));
	m->source = strdup(source);
	m->cwd = strdup("/");
	m->env = calloc(1, sizeof(char *));
}

static void fail(struct parse_state *s, const char *section, const char *key,
		 const char *fmt, const char *arg)
{
	if (s->failed)
		return;
	s->failed = 1;
	int n = snprintf(s->err, s->errlen, "%s:%d: [%s] %s: ", s->m->source,
			 s->line, section, key);
	if (n > 0 && (size_t)n < s->errlen)
		snprintf(s->err + n, s->errlen - (size_t)n, fmt, arg);
	/* A decoded path may hold a newline, or a terminal control in UTF-8
	 * (U+009B is CSI): the message stays one plain line. */
	for (char *c = s->err; *c; c++)
		if ((unsigned char)*c < ' ' || (unsigned char)*c >= 0x7f)
			*c = '?';
}

/* ---- Drawbridge's spelling (docs/manifest.md, "Drawbridge spelling") ---- */

/* x86-64 as Drawbridge (x64), Windows (amd64) and Linux (x86_64) name it:
 * the one architecture moat runs. */
static int is_x86_64(const char *a)
{
	return !strcasecmp(a, "x64") || !strcasecmp(a, "amd64") || !strcasecmp(a, "x86_64");
}

/* One setting given in one spelling ('db': 1 Drawbridge's, 0 moat's) on
 * this line.  'same' says whether 'value' equals what the setting holds
 * ('have'); if the other spelling gave it already and it differs, that is
 * an error: -1, failed. */
static int agree(struct parse_state *s, const char *section, const char *key,
		 struct spelled *sp, int db, const char *have, const char *value,
		 const char *other_key, int same)
{
	int other = sp->line[!db];
	if (other && !same) {
		char why[2 * PATH_MAX + 256];
		snprintf(why, sizeof(why),
			 "'%s' disagrees with %s = '%s' on line %d; the two spellings name one "
			 "setting and must agree", value, other_key, have ? have : "", other);
		fail(s, section, key, "%s", why);
		return -1;
	}
	sp->line[db] = s->line;
	return 0;
}

/* A version part: a non-negative integer of at most 9 digits, or -1. */
static long parse_count(const char *v)
{
	size_t n = strspn(v, "0123456789");
	if (!n || v[n] || n > 9)
		return -1;
	return strtol(v, NULL, 10);
}

static const char *const dbversion_keys[3] = { "MajorVersion", "MinorVersion", "BuildNumber" };

/* MajorVersion, MinorVersion or BuildNumber into v: 1 if 'key' is one
 * of them (taken, or failed), 0 if not. */
static int on_dbversion(struct parse_state *s, const char *section, const char *key,
			const char *value, struct dbversion *v)
{
	for (int i = 0; i < 3; i++) {
		if (strcmp(key, dbversion_keys[i]))
			continue;
		long n = parse_count(value);
		if (n < 0)
			fail(s, section, key,
			     "expected a non-negative integer (at most 9 digits), got '%s'", value);
		v->part[i] = n;
		v->line = s->line;
		v->key = i;
		return 1;
	}
	return 0;
}

/* "MAJOR[.MINOR[.BUILD]]" into out; NULL, or what is missing. */
static const char *dbversion_str(const struct dbversion *v, char *out, size_t size)
{
	if (v->part[0] < 0)
		return "given without MajorVersion";
	if (v->part[2] >= 0 && v->part[1] < 0)
		return "BuildNumber given without MinorVersion";
	size_t n = (size_t)snprintf(out, size, "%ld", v->part[0]);
	for (int i = 1; i < 3 && v->part[i] >= 0 && n < size; i++)
		n += (size_t)snprintf(out + n, size - n, ".%ld", v->part[i]);
	return NULL;
}

static void dbversion_init(struct dbversion *v)
{
	*v = (struct dbversion){ { -1, -1, -1 }, 0, 0 };
}

/* Equal but for blanks ("'>=1.0, <2'" and "'>=1.0,<2'"). */
static int same_but_blanks(const char *a, const char *b)
{
	for (;;) {
		while (*a == ' ' || *a == '\t')
			a++;
		while (*b == ' ' || *b == '\t')
			b++;
		if (*a != *b)
			return 0;
		if (!*a)
			return 1;
		a++, b++;
	}
}

/* A Windows section other than [Windows.Application] ([Windows.Registry]
 * and the like): accepted and ignored, and noted for the caller to show. */
static void note_ignored(struct parse_state *s, const char *section)
{
	struct moat_manifest *m = s->m;
	if (s->nignored++ || m->ignored)
		return;
	if (asprintf(&m->ignored,
		     "%s:%d: [%s] ignored: a Windows feature of Drawbridge manifests, with no "
		     "meaning on Linux", m->source, s->line, section) < 0) {
		m->ignored = NULL;
		return;
	}
	for (char *c = m->ignored; *c; c++)
		if ((unsigned char)*c < ' ' || (unsigned char)*c >= 0x7f)
			*c = '?';
}

static int hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decode 'in' into out[size].  NULL, or why not.  %00 and %2F are
 * refused: no file name holds a NUL or a '/', so they can only be a
 * mistake or a trick.  The result is an ordinary path, normalised (and
 * '..' refused) afterwards like any other. */
static const char *uri_decode(const char *in, char *out, size_t size)
{
	size_t n = 0;
	for (; *in; in++) {
		char c = *in;
		if (c == '%') {
			int hi = hex(in[1]), lo = hi < 0 ? -1 : hex(in[2]);
			if (lo < 0)
				return "'%' must be followed by two hex digits";
			c = (char)(hi << 4 | lo);
			if (c == 0 || c == '/')
				return "%00 and %2F cannot be part of a file name";
			in += 2;
		}
		if (n + 1 >= size)
			return "the path is too long";
		out[n++] = c;
	}
	out[n] = 0;
	return NULL;
}

/* "file:///x" or "file:/x" -> "/x", percent-decoded into out[size].
 * NULL for other schemes and relative paths; *why says what is wrong with
 * an absolute one that does not decode. */
static const char *file_uri_path(const char *uri, char *out, size_t size, const char **why)
{
	*why = NULL;
	if (strncmp(uri, "file:", 5) != 0)
		return NULL;
	uri += 5;
	if (strncmp(uri, "//", 2) == 0)
		uri += 2;
	if (uri[0] != '/')
		return NULL;
	*why = uri_decode(uri, out, size);
	return *why ? NULL : out;
}

/* Bytes written as themselves in a file URI: nothing the INI syntax, the
 * URI syntax or a reader's eye could take for something else. */
static int uri_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("/._-~+,@", c));
}

void moat_manifest_put_uri(FILE *f, const char *path)
{
	fputs("file://", f);
	for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
		if (uri_plain(*c))
			fputc(*c, f);
		else
			fprintf(f, "%%%02X", *c);
	}
}

static void put_endpoint(FILE *f, const struct moat_net_mapping *n, uint32_t addr,
			 uint16_t port)
{
	const unsigned char *a = (const unsigned char *)&addr;
	fprintf(f, "%s.%s://", n->udp ? "udp" : "tcp", n->server ? "server" : "client");
	if (addr)
		fprintf(f, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	else
		fputc('*', f);
	if (port)
		fprintf(f, ":%u", port);
	else
		fputs(":*", f);
}

void moat_manifest_put_net(FILE *f, const struct moat_net_mapping *n)
{
	put_endpoint(f, n, n->vaddr, n->vport);
	fputs(" = ", f);
	put_endpoint(f, n, n->haddr, n->hport);
}

void moat_manifest_put_map(FILE *f, const char *vpath, const char *hpath)
{
	moat_manifest_put_uri(f, vpath);
	fputs(" = ", f);
	moat_manifest_put_uri(f, hpath);
	fputc('\n', f);
}

/* The host side of a mapping: normalised, and unless it is only a
 * package's request, resolved and checked to be a file or a directory. */
static int map_host(const char *host, int resolve, char *real, char *err, size_t errlen)
{
	char hnorm[PATH_MAX];
	struct stat st;
	if (moat_path_normalise(host, hnorm, sizeof(hnorm)) < 0) {
		snprintf(err, errlen, "host path '%s' must be absolute, without '..'", host);
		return -1;
	}
	if (!resolve) {
		/* A request names a host path of the package's choosing: it is
		 * not looked at unless the runner grants it (then the policy
		 * opens it and says if it is missing). */
		snprintf(real, PATH_MAX, "%s", hnorm);
		return 0;
	}
	if (!realpath(hnorm, real) || stat(real, &st) < 0) {
		snprintf(err, errlen, "host path '%s': %s", host, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "host path '%s' is neither a file nor a directory",
			 host);
		return -1;
	}
	return 0;
}

static int map_add(struct moat_manifest *m, const char *host, const char *virt,
		   int writable, int line, int resolve, char *err, size_t errlen);

int moat_manifest_map(struct moat_manifest *m, const char *host,
		      const char *virt, int writable, int line, char *err,
		      size_t errlen)
{
	return map_add(m, host, virt, writable, line, 1, err, errlen);
}

static int map_add(struct moat_manifest *m, const char *host, const char *virt,
		   int writable, int line, int resolve, char *err, size_t errlen)
{
	char vnorm[PATH_MAX], real[PATH_MAX];
	if (moat_path_normalise(host, real, sizeof(real)) < 0) {
		snprintf(err, errlen, "host path '%s' must be absolute, without '..'", host);
		return -1;
	}
	if (moat_path_normalise(virt ? virt : host, vnorm, sizeof(vnorm)) < 0) {
		snprintf(err, errlen, "virtual path '%s' must be absolute, without '..'",
			 virt);
		return -1;
	}
	if (map_host(host, resolve, real, err, errlen) < 0)
		return -1;
	for (int i = 0; i < m->nmaps; i++) {
		if (!strcmp(m->maps[i].vpath, vnorm)) {
			snprintf(err, errlen, "virtual path '%s' is mapped twice", vnorm);
			return -1;
		}
	}
	struct moat_mapping *maps = realloc(m->maps, (size_t)(m->nmaps + 1) * sizeof(*maps));
	if (!maps) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->maps = maps;
	maps[m->nmaps++] = (struct moat_mapping){ strdup(vnorm), strdup(real),
						  writable, line };
	return 0;
}

/* "tcp.client://A:P" (tcp or udp, client or server) -> flags, address,
 * port ('*' = 0). */
static int parse_net_uri(const char *uri, int *udp, int *server, uint32_t *addr,
			 uint16_t *port, int allow_any)
{
	if (strncmp(uri, "tcp.", 4) && strncmp(uri, "udp.", 4))
		return -1;
	*udp = uri[0] == 'u';
	if (!strncmp(uri + 4, "client://", 9))
		*server = 0;
	else if (!strncmp(uri + 4, "server://", 9))
		*server = 1;
	else
		return -1;
	const char *p = uri + 13;
	const char *colon = strrchr(p, ':');
	if (!colon)
		return -1;
	char a[64];
	size_t n = (size_t)(colon - p);
	if (n == 0 || n >= sizeof(a))
		return -1;
	memcpy(a, p, n);
	a[n] = 0;
	struct in_addr ia;
	if (!strcmp(a, "*"))
		*addr = 0;
	else if (inet_pton(AF_INET, a, &ia) == 1)
		*addr = ia.s_addr;
	else
		return -1;
	if (!strcmp(colon + 1, "*")) {
		*port = 0;
		return allow_any ? 0 : -1;
	}
	char *end;
	long v = strtol(colon + 1, &end, 10);
	if (*end || v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int moat_manifest_net(struct moat_manifest *m, const char *virt,
		      const char *host, int line, char *err, size_t errlen)
{
	struct moat_net_mapping nm = { .line = line };
	int hserver, hudp;
	if (parse_net_uri(virt, &nm.udp, &nm.server, &nm.vaddr, &nm.vport, 1) < 0 ||
	    parse_net_uri(host, &hudp, &hserver, &nm.haddr, &nm.hport, 1) < 0) {
		snprintf(err, errlen,
			 "expected tcp.client://ADDR:PORT, tcp.server://ADDR:PORT, udp.client://ADDR:PORT "
			 "or udp.server://ADDR:PORT (ADDR an IPv4 address or *, PORT a number or *), "
			 "got '%s = %s'", virt, host);
		return -1;
	}
	if (hserver != nm.server || hudp != nm.udp) {
		snprintf(err, errlen, "both sides must be the same kind (tcp.client, tcp.server, "
			 "udp.client or udp.server): '%s = %s'", virt, host);
		return -1;
	}
	if (nm.server && nm.vport == 0) {
		snprintf(err, errlen, "a %s.server grant names one port: '%s'",
			 nm.udp ? "udp" : "tcp", virt);
		return -1;
	}
	struct moat_net_mapping *nets = realloc(m->nets, (size_t)(m->nnets + 1) * sizeof(*nets));
	if (!nets) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->nets = nets;
	nets[m->nnets++] = nm;
	return 0;
}

int moat_manifest_set_user(struct moat_manifest *m, const char *spec)
{
	char *end;
	long uid = strtol(spec, &end, 10), gid;
	if (end == spec || uid < 0 || uid > 65535)
		return -1;
	if (*end == ':') {
		const char *g = end + 1;
		gid = strtol(g, &end, 10);
		if (end == g || gid < 0 || gid > 65535)
			return -1;
	} else {
		gid = uid;
	}
	if (*end)
		return -1;
	m->uid = (int)uid;
	m->gid = (int)gid;
	return 0;
}

int moat_manifest_add_env(struct moat_manifest *m, const char *kv)
{
	char **env = realloc(m->env, (size_t)(m->envc + 2) * sizeof(char *));
	if (!env)
		return -1;
	m->env = env;
	env[m->envc++] = strdup(kv);
	env[m->envc] = NULL;
	return 0;
}

int moat_manifest_set_args(struct moat_manifest *m, char *const *args, int n)
{
	for (int i = 0; i < m->argc; i++)
		free(m->argv[i]);
	free(m->argv);
	m->argv = calloc((size_t)n + 2, sizeof(char *));
	if (!m->argv)
		return -1;
	m->argv[0] = strdup(m->entry ? m->entry : "");
	for (int i = 0; i < n; i++)
		m->argv[i + 1] = strdup(args[i]);
	m->argc = n + 1;
	return 0;
}

/* Split a shell-like argument string: whitespace separates, "..." and
 * '...' group, backslash escapes.  Returns -1 on an unterminated quote. */
static int split_args(const char *s, char ***out, int *count)
{
	char **v = NULL;
	int n = 0;
	char *buf = malloc(strlen(s) + 1);
	if (!buf)
		return -1;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		size_t len = 0;
		char quote = 0;
		for (; *s && (quote || (*s != ' ' && *s != '\t')); s++) {
			if (quote && *s == quote)
				quote = 0;
			else if (!quote && (*s == '"' || *s == '\''))
				quote = *s;
			else if (*s == '\\' && s[1] && quote != '\'')
				buf[len++] = *++s;
			else
				buf[len++] = *s;
		}
		if (quote) {
			free(buf);
			for (int i = 0; i < n; i++)
				free(v[i]);
			free(v);
			return -1;
		}
		buf[len] = 0;
		v = realloc(v, (size_t)(n + 1) * sizeof(char *));
		v[n++] = strdup(buf);
	}
	free(buf);
	*out = v;
	*count = n;
	return 0;
}

static uint64_t parse_size(const char *v, int *ok)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	uint64_t mul = 1;
	*ok = end != v && errno == 0 && v[0] != '-';
	switch (*end) {
	case 'K': case 'k': mul = 1ULL << 10; end++; break;
	case 'M': case 'm': mul = 1ULL << 20; end++; break;
	case 'G': case 'g': mul = 1ULL << 30; end++; break;
	}
	if (*end || n > UINT64_MAX / mul)
		*ok = 0; /* trailing junk, or 2^64 bytes and more */
	return (uint64_t)n * mul;
}

/* [Application], or Drawbridge's [Windows.Application] or
 * [Linux.Application] ('section'), where Exe is entry. */
static void on_application(struct parse_state *s, const char *section, const char *key,
			   const char *value)
{
	struct moat_manifest *m = s->m;
	char norm[PATH_MAX], dec[PATH_MAX];
	if (!strcmp(key, "entry") || !strcmp(key, "Exe")) {
		int db = key[0] == 'E';
		const char *why, *p = file_uri_path(value, dec, sizeof(dec), &why);
		if (!p && !why && !strncmp(value, "package://", 10)) /* Drawbridge's spelling */
			p = value + 10;
		if (why)
			return fail(s, section, key, "%s", why);
		if (!p || moat_path_normalise(p, norm, sizeof(norm)) < 0)
			return fail(s, section, key,
				    "expected a file URI such as file:///bin/prog, got '%s'",
				    value);
		if (agree(s, section, key, &s->entry, db, m->entry, norm, db ? "entry" : "Exe",
			  m->entry && !strcmp(m->entry, norm)) < 0)
			return;
		free(m->entry);
		m->entry = strdup(norm);
	} else if (!strcmp(key, "arguments")) {
		free(s->arguments);
		s->arguments = strdup(value);
		s->arguments_line = s->line;
	} else if (!strcmp(key, "environment")) {
		if (!strchr(value, '='))
			return fail(s, section, key,
				    "expected NAME=VALUE, got '%s'", value);
		moat_manifest_add_env(m, value);
	} else if (!strcmp(key, "cwd")) {
		if (moat_path_normalise(value, norm, sizeof(norm)) < 0)
			return fail(s, section, key,
				    "expected an absolute path, got '%s'", value);
		free(m->cwd);
		m->cwd = strdup(norm);
	} else if (!strcmp(key, "user")) {
		if (moat_manifest_set_user(m, value) < 0)
			return fail(s, section, key,
				    "expected UID or UID:GID (numbers up to 65535), got '%s'", value);
	} else {
		fail(s, section, key,
		     "unknown key%s; expected entry (or Exe), arguments, environment, cwd or user", "");
	}
}

/* "file:relative/path" (not absolute): decoded, and joined to the folder
 * of the manifest.  NULL, or why not. */
static const char *relative_host(struct parse_state *s, const char *rel, char *out,
				 size_t size)
{
	char dec[PATH_MAX], cwd[PATH_MAX];
	const char *why = uri_decode(rel, dec, sizeof(dec));
	if (why)
		return why;
	const char *src = s->m->source, *slash = strrchr(src, '/');
	int dlen = slash ? (int)(slash - src) : 1, n;
	if (src[0] != '/' && getcwd(cwd, sizeof(cwd)))
		n = snprintf(out, size, "%s/%.*s/%s", cwd, dlen, slash ? src : ".", dec);
	else
		n = snprintf(out, size, "%.*s/%s", dlen, slash ? src : ".", dec);
	return n < 0 || (size_t)n >= size ? "the path is too long" : NULL;
}

/* "VIRTUAL = HOST", the whole line: the sides are split at " = " (or the
 * first '=', which a file URI holds only percent-encoded). */
static void on_namespace(struct parse_state *s, const char *section, char *line,
			 int writable)
{
	char msg[PATH_MAX + 128], vbuf[PATH_MAX], hbuf[PATH_MAX];
	char *eq = strstr(line, " = ");
	if (!eq)
		eq = strchr(line, '=');
	if (!eq)
		return fail(s, section, line,
			    "expected 'virtual URI = host URI', got '%s'", line);
	char *host = eq + (eq[0] == ' ' ? 3 : 1);
	*eq = 0;
	while (*host == ' ' || *host == '\t')
		host++;
	for (char *e = eq; e > line && (e[-1] == ' ' || e[-1] == '\t');)
		*--e = 0;
	const char *vwhy, *hwhy;
	const char *vp = file_uri_path(line, vbuf, sizeof(vbuf), &vwhy);
	const char *hp = file_uri_path(host, hbuf, sizeof(hbuf), &hwhy);
	if (!strncmp(line, "tcp.", 4) || !strncmp(line, "udp.", 4)) {
		if (moat_manifest_net(s->m, line, host, s->line, msg, sizeof(msg)) < 0)
			fail(s, section, line, "%s", msg);
		return;
	}
	if (strncmp(line, "file:", 5) != 0)
		return fail(s, section, line,
			    "expected a file:, tcp.client:, tcp.server:, udp.client: or udp.server: mapping, got '%s'",
			    line);
	if (!hp && !hwhy && !strncmp(host, "file:", 5) && host[5] && host[5] != '/') {
		hwhy = relative_host(s, host + 5, hbuf, sizeof(hbuf));
		hp = hwhy ? NULL : hbuf;
	}
	if (vwhy || hwhy)
		return fail(s, section, line, "%s", vwhy ? vwhy : hwhy);
	if (!vp || !hp)
		return fail(s, section, line,
			    "expected file:///path (or file:relative/path on the host side), got '%s'",
			    host);
	if (map_add(s->m, hp, vp, writable, s->line, !s->requests, msg, sizeof(msg)) < 0)
		fail(s, section, line, "%s", msg);
}

/* "1.5" -> 1500 thousandths; 0 and -1 if it is not a number from 0.01
 * to 4096. */
static uint64_t parse_cpus(const char *v)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (end == v || *end || errno || !(d >= 0.01 && d <= 4096))
		return 0;
	return (uint64_t)(d * 1000 + 0.5);
}

const struct moat_limit_key moat_limit_keys[] = {
	{ "memory", offsetof(struct moat_limits, memory) },
	{ "files", offsetof(struct moat_limits, files) },
	{ "file_size", offsetof(struct moat_limits, file_size) },
	{ "cpu_seconds", offsetof(struct moat_limits, cpu_seconds) },
	{ "processes", offsetof(struct moat_limits, processes) },
	{ "cpu_share", offsetof(struct moat_limits, cpu_share) },
	{ "disk", offsetof(struct moat_limits, disk) },
	{ NULL, 0 },
};

static void on_limits(struct parse_state *s, const char *key, const char *value)
{
	const struct moat_limit_key *keys = moat_limit_keys;
	if (!strcmp(key, "cpus")) {
		s->m->limits.cpus = parse_cpus(value);
		if (!s->m->limits.cpus)
			fail(s, "Limits", key,
			     "expected a number of CPUs from 0.01 to 4096, e.g. 0.5, got '%s'", value);
		return;
	}
	for (size_t i = 0; keys[i].key; i++) {
		if (strcmp(key, keys[i].key))
			continue;
		int ok;
		uint64_t v = parse_size(value, &ok);
		if (!ok || v == 0)
			return fail(s, "Limits", key,
				    "expected a positive number with optional K, M or G, got '%s'",
				    value);
		if (!strcmp(key, "cpu_share") && v > 10000)
			return fail(s, "Limits", key,
				    "expected a weight from 1 to 10000 (100 is normal), got '%s'", value);
		*(uint64_t *)((char *)&s->m->limits + keys[i].off) = v;
		return;
	}
	fail(s, "Limits", key,
	     "unknown key%s; expected memory, files, file_size, cpu_seconds, processes, "
	     "cpus, cpu_share or disk", "");
}

static void on_tuning(struct parse_state *s, const char *key, const char *value)
{
	if (strcmp(key, "rewrite"))
		return fail(s, "Tuning", key, "unknown key%s; expected rewrite", "");
	if (!strcmp(value, "yes"))
		s->m->no_rewrite = 0;
	else if (!strcmp(value, "no"))
		s->m->no_rewrite = 1;
	else
		fail(s, "Tuning", key, "expected yes or no, got '%s'", value);
}

int moat_manifest_add_ext(struct moat_manifest *m, const char *name,
			  const char *options, char *err, size_t errlen)
{
	for (int i = 0; i < m->nexts; i++) {
		if (strcmp(m->exts[i].name, name))
			continue;
		char *joined;
		if (asprintf(&joined, "%s%c%s", m->exts[i].options,
			     moat_extension_joiner(name), options) < 0)
			return -1;
		if (moat_extension_check(name, joined, err, errlen) < 0) {
			free(joined);
			return -1;
		}
		free(m->exts[i].options);
		m->exts[i].options = joined;
		return 0;
	}
	if (moat_extension_check(name, options, err, errlen) < 0)
		return -1;
	if (m->nexts == MOAT_EXT_MAX) {
		snprintf(err, errlen, "%s: more than %d extensions", name, MOAT_EXT_MAX);
		return -1;
	}
	struct moat_ext_choice *e = realloc(m->exts, (size_t)(m->nexts + 1) * sizeof(*e));
	if (!e)
		return -1;
	m->exts = e;
	e[m->nexts].name = strdup(name);
	e[m->nexts++].options = strdup(options);
	return 0;
}

/* [Extensions]: NAME = OPTIONS, one line each, top of the stack first. */
static void on_extensions(struct parse_state *s, const char *key, const char *value)
{
	char why[512];
	if (moat_manifest_add_ext(s->m, key, value, why, sizeof(why)) < 0) {
		const char *colon = strchr(why, ':');
		fail(s, "Extensions", key, "%s", colon ? colon + 2 : why);
	}
}

static int valid_name(const char *v)
{
	if (!*v || strlen(v) > 64)
		return 0;
	for (; *v; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		      (*v >= '0' && *v <= '9') || strchr("._+-", *v)))
			return 0;
	return 1;
}

static void on_identity(struct parse_state *s, const char *key, const char *value)
{
	struct moat_manifest *m = s->m;
	if (on_dbversion(s, "Identity", key, value, &s->id))
		return;
	if (!strcmp(key, "Architecture")) {
		if (!is_x86_64(value))
			return fail(s, "Identity", key,
				    "'%s' cannot run here: this host runs x86_64 (Architecture=x64)",
				    value);
		if (agree(s, "Identity", key, &s->arch, 1, m->arch, value, "architecture",
			  m->arch && is_x86_64(m->arch)) < 0)
			return;
		free(m->arch);
		m->arch = strdup("x86_64");
		return;
	}
	int db = !strcmp(key, "Name");
	char **slot = !strcmp(key, "name") || db ? &m->name
		      : !strcmp(key, "version") ? &m->version
		      : !strcmp(key, "architecture") ? &m->arch : NULL;
	if (!slot)
		return fail(s, "Identity", key,
			    "unknown key%s; expected name, version or architecture (or Drawbridge's "
			    "Name, MajorVersion, MinorVersion, BuildNumber, Architecture)", "");
	if (slot == &m->version ? moat_version_check(value) < 0 : !valid_name(value))
		return fail(s, "Identity", key,
			    slot == &m->version
				    ? "expected a version such as 3.11.2, got '%s'"
				    : "expected a name of letters, digits and ._+-, got '%s'",
			    value);
	if (slot == &m->name &&
	    agree(s, "Identity", key, &s->name, db, m->name, value, db ? "name" : "Name",
		  m->name && !strcmp(m->name, value)) < 0)
		return;
	if (slot == &m->arch &&
	    agree(s, "Identity", key, &s->arch, 0, m->arch, value, "Architecture",
		  is_x86_64(value)) < 0)
		return;
	if (slot == &m->version)
		s->version_line = s->line;
	free(*slot);
	*slot = strdup(value);
}

static void on_package(struct parse_state *s, const char *key, const char *value)
{
	if (!strcmp(key, "PackageRevision")) {
		long n = parse_count(value);
		if (n < 0)
			return fail(s, "Package", key,
				    "expected a non-negative integer (at most 9 digits), got '%s'", value);
		free(s->m->revision);
		if (asprintf(&s->m->revision, "%ld", n) < 0)
			s->m->revision = NULL;
		return;
	}
	if (strcmp(key, "manifest_version") && strcmp(key, "ManifestVersion"))
		return fail(s, "Package", key,
			    "unknown key%s; expected manifest_version (or ManifestVersion) or "
			    "PackageRevision", "");
	if (strcmp(value, "1"))
		return fail(s, "Package", key,
			    "manifest version '%s' is not one moat reads; expected 1", value);
}

static void on_dependency(struct parse_state *s, const char *section,
			  const char *key, const char *value)
{
	struct moat_manifest *m = s->m;
	const char *dkey = section + 11;
	struct moat_dependency *d = NULL;
	for (int i = 0; i < m->ndeps; i++)
		if (!strcmp(m->deps[i].key, dkey))
			d = &m->deps[i];
	if (!valid_name(dkey))
		return fail(s, section, key, "expected a dependency name after 'Dependency.'%s", "");
	if (!d) {
		struct moat_dependency *deps =
			realloc(m->deps, (size_t)(m->ndeps + 1) * sizeof(*m->deps));
		struct dep_state *ds = deps ? realloc(s->deps, (size_t)(m->ndeps + 1) * sizeof(*ds))
					    : NULL;
		if (deps)
			m->deps = deps;
		if (!ds)
			return fail(s, section, key, "out of memory%s", "");
		s->deps = ds;
		ds[m->ndeps] = (struct dep_state){ .range_line = 0 };
		dbversion_init(&ds[m->ndeps].v);
		d = &m->deps[m->ndeps++];
		*d = (struct moat_dependency){ .key = strdup(dkey), .name = strdup(dkey),
					      .line = s->line };
	}
	struct dep_state *ds = &s->deps[d - m->deps];
	if (on_dbversion(s, section, key, value, &ds->v))
		return;
	if (!strcmp(key, "name") || !strcmp(key, "Name")) {
		int db = key[0] == 'N';
		if (!valid_name(value))
			return fail(s, section, key,
				    "expected a package name of letters, digits and ._+-, got '%s'",
				    value);
		if (agree(s, section, key, &ds->name, db, d->name, value, db ? "name" : "Name",
			  !strcmp(d->name, value)) < 0)
			return;
		free(d->name);
		d->name = strdup(value);
	} else if (!strcmp(key, "version")) {
		if (moat_version_match(value, "0") < 0)
			return fail(s, section, key,
				    "expected a version range such as '>=3.11, <4', got '%s'", value);
		free(d->range);
		d->range = strdup(value);
		ds->range_line = s->line;
	} else {
		fail(s, section, key,
		     "unknown key%s; expected name or version (or Drawbridge's Name, "
		     "MajorVersion, MinorVersion, BuildNumber)", "");
	}
}

/* After the last line: Drawbridge's version keys become moat's version
 * (MAJOR.MINOR.BUILD) and ranges (">=MAJOR.MINOR, <MAJOR+1"), and must
 * agree with moat's own spelling if that is given too. */
static void finish_drawbridge(struct parse_state *s)
{
	struct moat_manifest *m = s->m;
	char v[64], why[512], section[96];
	const char *missing;
	if (s->id.line) {
		s->line = s->id.line;
		if ((missing = dbversion_str(&s->id, v, sizeof(v))))
			return fail(s, "Identity", dbversion_keys[s->id.key], "%s", missing);
		if (m->version && moat_version_match(m->version, v) != 1) {
			snprintf(why, sizeof(why),
				 "%s (MajorVersion.MinorVersion.BuildNumber) disagrees with version = "
				 "'%s' on line %d; the two spellings name one setting and must agree",
				 v, m->version, s->version_line);
			return fail(s, "Identity", dbversion_keys[s->id.key], "%s", why);
		}
		free(m->version);
		m->version = strdup(v);
	}
	for (int i = 0; i < m->ndeps && !s->failed; i++) {
		struct dep_state *ds = &s->deps[i];
		struct moat_dependency *d = &m->deps[i];
		if (!ds->v.line)
			continue;
		s->line = ds->v.line;
		snprintf(section, sizeof(section), "Dependency.%s", d->key);
		if ((missing = dbversion_str(&ds->v, v, sizeof(v))))
			return fail(s, section, dbversion_keys[ds->v.key], "%s", missing);
		if (ds->v.part[0] >= 999999999)
			return fail(s, section, dbversion_keys[ds->v.key],
				    "%s is too large: MajorVersion+1 must have at most 9 digits", v);
		char range[160];
		snprintf(range, sizeof(range), ">=%s, <%ld", v, ds->v.part[0] + 1);
		if (d->range && !same_but_blanks(d->range, range)) {
			snprintf(why, sizeof(why),
				 "'%s' (MajorVersion, MinorVersion) disagrees with version = '%s' on "
				 "line %d; the two spellings name one setting and must agree",
				 range, d->range, ds->range_line);
			return fail(s, section, dbversion_keys[ds->v.key], "%s", why);
		}
		free(d->range);
		d->range = strdup(range);
	}
}

/* [Snapshot] (a snapshot package's, include/moat/snapshot.h): the keys
 * are kept as text; monitor/snapshot.c checks them where it uses them.
 * Only a package's manifest may have one: a plain manifest is not a
 * checkpoint. */
static void on_snapshot(struct parse_state *s, const char *key, const char *value)
{
	struct moat_snap_meta *sm = &s->m->snap;
	char **slot = !strcmp(key, "pico") ? &sm->pico : !strcmp(key, "taken") ? &sm->taken
		      : !strcmp(key, "app") ? &sm->app : !strcmp(key, "extensions") ? &sm->extensions
		      : !strcmp(key, "cwd") ? &sm->cwd : !strcmp(key, "image_len") ? &sm->image_len
		      : !strcmp(key, "image_hash") ? &sm->image_hash
		      : !strcmp(key, "scratch_len") ? &sm->scratch_len
		      : !strcmp(key, "scratch_hash") ? &sm->scratch_hash : NULL;
	if (!s->requests)
		return fail(s, "Snapshot", key,
			    "only a snapshot package has this section%s; run the .mpk itself", "");
	if (!slot)
		return fail(s, "Snapshot", key,
			    "unknown key%s; expected pico, taken, app, extensions, cwd, image_len, "
			    "image_hash, scratch_len or scratch_hash", "");
	s->m->is_snapshot = 1;
	free(*slot);
	*slot = strdup(value);
}

static int blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Strip the blanks around 'l' (in place) and return where it starts. */
static char *strip(char *l)
{
	while (blank(*l))
		l++;
	size_t n = strlen(l);
	while (n && blank(l[n - 1]))
		l[--n] = 0;
	return l;
}

/* A line, cleaned in place: an inline comment (';' after a blank) cut
 * off, blanks around it stripped. */
static char *clean_line(char *l)
{
	for (char *c = l; *c; c++)
		if (*c == ';' && c > l && blank(c[-1])) {
			*c = 0;
			break;
		}
	return strip(l);
}

/* One "key = value" (or "key: value") line of 'section'.  The namespace
 * sections take the whole line: their keys are URIs with ':' in them. */
static void on_entry(struct parse_state *s, const char *section, char *line)
{
	if (!strcmp(section, "Namespace"))
		return on_namespace(s, section, line, 0);
	if (!strcmp(section, "Namespace.Writable"))
		return on_namespace(s, section, line, 1);
	char *delim = line + strcspn(line, "=:");
	*delim = 0;
	const char *name = strip(line), *value = strip(delim + 1);
	if (!strcmp(section, "Application") || !strcmp(section, "Linux.Application") ||
	    !strcmp(section, "Windows.Application"))
		on_application(s, section, name, value);
	else if (!strncmp(section, "Windows.", 8))
		; /* ignored, and noted (note_ignored) */
	else if (!strcmp(section, "Limits"))
		on_limits(s, name, value);
	else if (!strcmp(section, "Tuning"))
		on_tuning(s, name, value);
	else if (!strcmp(section, "Extensions"))
		on_extensions(s, name, value);
	else if (!strcmp(section, "Package"))
		on_package(s, name, value);
	else if (!strcmp(section, "Identity"))
		on_identity(s, name, value);
	else if (!strncmp(section, "Dependency.", 11))
		on_dependency(s, section, name, value);
	else if (!strcmp(section, "Snapshot"))
		on_snapshot(s, name, value);
	else
		fail(s, section, name,
		     "unknown section%s; expected Application, Namespace, "
		     "Namespace.Writable, Limits, Tuning, Extensions, Package, Identity, "
		     "Dependency.NAME or Snapshot "
		     "(or Drawbridge's Windows.Application, Linux.Application, Windows.*)",
		     "");
}

int moat_manifest_value_survives(const char *value)
{
	if (strchr(value, '\n'))
		return 0;
	char *line;
	if (asprintf(&line, "key = %s", value) < 0)
		return 0;
	char *l = clean_line(line);
	int same = !strcmp(strip(l + 5), value);
	free(line);
	return same;
}

static void syntax_error(struct parse_state *s, const char *what)
{
	snprintf(s->err, s->errlen, "%s:%d: syntax error: %s", s->m->source, s->line, what);
	s->failed = 1;
}

/* The INI syntax (docs/manifest.md): [Section] lines, key = value lines,
 * comments from ';' or '#' at the start of a line or ';' after a blank.
 * 'text' is a writable copy, NUL-terminated at 'end'. */
static void parse_lines(struct parse_state *s, char *text, char *end)
{
	char *section = "";
	if (end - text >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		text += 3; /* a UTF-8 byte order mark */
	while (text < end && !s->failed) {
		char *nl = memchr(text, '\n', (size_t)(end - text)), *stop = nl ? nl : end;
		s->line++;
		if (memchr(text, 0, (size_t)(stop - text)))
			return syntax_error(s, "a NUL byte; a manifest is text");
		*stop = 0;
		char *l = text;
		text = stop + 1;
		if (*strip(l) == '#')
			continue;
		l = clean_line(l);
		size_t n = strlen(l);
		if (!n || *l == ';')
			continue;
		if (*l == '[') {
			if (l[n - 1] != ']')
				return syntax_error(s, "expected [Section]");
			l[n - 1] = 0;
			section = l + 1;
			if (!strncmp(section, "Windows.", 8) && strcmp(section, "Windows.Application"))
				note_ignored(s, section);
		} else if (!strpbrk(l, "=:")) {
			return syntax_error(s, "expected [Section] or key = value");
		} else {
			on_entry(s, section, l);
		}
	}
}

static int parse(const char *text, size_t len, const char *source,
		 struct moat_manifest *m, int requests, char *err, size_t errlen);

int moat_manifest_parse(const char *text, size_t len, const char *source,
			struct moat_manifest *m, char *err, size_t errlen)
{
	return parse(text, len, source, m, 0, err, errlen);
}

int moat_manifest_parse_package(const char *text, size_t len, const char *source,
				struct moat_manifest *m, char *err, size_t errlen)
{
	return parse(text, len, source, m, 1, err, errlen);
}

static int parse(const char *text, size_t len, const char *source,
		 struct moat_manifest *m, int requests, char *err, size_t errlen)
{
	struct parse_state s = { .m = m, .err = err, .errlen = errlen, .requests = requests };
	dbversion_init(&s.id);
	const char *path = source;
	moat_manifest_init(m, source);
	char *copy = malloc(len + 1);
	if (!copy) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	memcpy(copy, text, len);
	copy[len] = 0;
	parse_lines(&s, copy, copy + len);
	free(copy);
	if (!s.failed)
		finish_drawbridge(&s);
	free(s.deps);
	if (s.nignored > 1 && m->ignored) {
		char *more;
		if (asprintf(&more, "%s (and %d more Windows sections)", m->ignored,
			     s.nignored - 1) >= 0) {
			free(m->ignored);
			m->ignored = more;
		}
	}
	if (!s.failed && !m->entry && !m->name) {
		snprintf(err, errlen, "%s: [Application] entry: missing; expected the program to run, e.g. entry = file:///bin/prog",
			 path);
		s.failed = 1;
	}
	if (!s.failed) {
		char **args = NULL;
		int n = 0;
		if (s.arguments && split_args(s.arguments, &args, &n) < 0) {
			snprintf(err, errlen, "%s:%d: [Application] arguments: unterminated quote",
				 path, s.arguments_line);
			s.failed = 1;
		} else {
			moat_manifest_set_args(m, args, n);
		}
		for (int i = 0; i < n; i++)
			free(args[i]);
		free(args);
	}
	free(s.arguments);
	return s.failed ? -1 : 0;
}

/* Manifests are small; a bigger file is not one. */
#define MANIFEST_MAX (1 << 20)

static const char *file_kind(mode_t mode)
{
	return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO"
	       : S_ISSOCK(mode) ? "a socket" : S_ISCHR(mode) ? "a character device"
	       : S_ISBLK(mode) ? "a block device" : "not a regular file";
}

/* Open 'path' for reading if it is a regular file; -1 with a message if
 * not.  The type is checked through an O_PATH descriptor first: opening
 * a FIFO to read, even with O_NONBLOCK, would release a writer waiting
 * on it (its message then lost), and opening a device can have effects.
 * The pin itself is then reopened, so a path swapped meanwhile is not. */
static int open_regular(const char *path, char *err, size_t errlen)
{
	struct stat st, again;
	int pfd = open(path, O_PATH | O_CLOEXEC), fd = -1;
	if (pfd < 0 || fstat(pfd, &st) < 0) {
		snprintf(err, errlen, "%s: cannot open manifest: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: cannot open manifest: it is %s, not a regular file",
			 path, file_kind(st.st_mode));
	} else if ((fd = moat_reopen(pfd, O_RDONLY | O_NONBLOCK | O_NOCTTY)) < 0 ||
		   fstat(fd, &again) < 0) {
		snprintf(err, errlen, "%s: cannot open manifest: %s", path,
			 strerror(fd < 0 ? -fd : errno));
	} else if (again.st_dev != st.st_dev || again.st_ino != st.st_ino) {
		snprintf(err, errlen, "%s: cannot open manifest: it changed while being opened", path);
	} else {
		close(pfd);
		return fd;
	}
	if (pfd >= 0)
		close(pfd);
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Read the regular file 'path' whole: its length, or -1 with a message. */
static ssize_t read_manifest(const char *path, char *text, char *err, size_t errlen)
{
	int fd = open_regular(path, err, errlen);
	if (fd < 0)
		return -1;
	size_t len = 0;
	while (len <= MANIFEST_MAX) {
		ssize_t n = read(fd, text + len, MANIFEST_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: cannot read manifest: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > MANIFEST_MAX) {
		snprintf(err, errlen, "%s: manifest larger than 1 MiB", path);
		return -1;
	}
	return (ssize_t)len;
}

int moat_manifest_load(const char *path, struct moat_manifest *m, char *err,
		       size_t errlen)
{
	char *text = malloc(MANIFEST_MAX + 1);
	ssize_t len = text ? read_manifest(path, text, err, errlen) : -1;
	if (len < 0) {
		if (!text)
			snprintf(err, errlen, "%s: out of memory", path);
		moat_manifest_init(m, path);
		free(text);
		return -1;
	}
	int r = moat_manifest_parse(text, (size_t)len, path, m, err, errlen);
	free(text);
	return r;
}

int moat_manifest_add_layer(struct moat_manifest *m, const char *pkg_path)
{
	char **l = realloc(m->layers, (size_t)(m->nlayers + 1) * sizeof(*l));
	if (!l)
		return -1;
	m->layers = l;
	m->layers[m->nlayers++] = strdup(pkg_path);
	return 0;
}

void moat_manifest_free(struct moat_manifest *m)
{
	for (int i = 0; i < m->argc; i++)
		free(m->argv[i]);
	for (int i = 0; i < m->envc; i++)
		free(m->env[i]);
	for (int i = 0; i < m->nmaps; i++) {
		free(m->maps[i].vpath);
		free(m->maps[i].hpath);
	}
	free(m->argv);
	free(m->env);
	free(m->maps);
	free(m->nets);
	for (int i = 0; i < m->ndeps; i++) {
		free(m->deps[i].key);
		free(m->deps[i].name);
		free(m->deps[i].range);
	}
	free(m->deps);
	for (int i = 0; i < m->nexts; i++) {
		free(m->exts[i].name);
		free(m->exts[i].options);
	}
	free(m->exts);
	for (int i = 0; i < m->nlayers; i++)
		free(m->layers[i]);
	free(m->layers);
	free(m->overlay);
	free(m->name);
	free(m->version);
	free(m->arch);
	free(m->revision);
	free(m->ignored);
	free(m->snap.pico);
	free(m->snap.taken);
	free(m->snap.app);
	free(m->snap.extensions);
	free(m->snap.cwd);
	free(m->snap.image_len);
	free(m->snap.image_hash);
	free(m->snap.scratch_len);
	free(m->snap.scratch_hash);
	free(m->entry);
	free(m->cwd);
	free(m->source);
	memset(m, 0, sizeof(*m));
}
