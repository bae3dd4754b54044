/*
 * moat/manifest.h -- what a picoprocess is, and what it may reach.
 *
 * A manifest is an INI file (docs/manifest.md has the syntax):
 *
 *   [Application]
 *   entry = file:///bin/busybox        program, a virtual path
 *   arguments = echo "hello world"     argv[1..], shell-like quoting
 *   environment = TZ=UTC               repeatable
 *   cwd = /data                        initial directory (default /)
 *   user = 1000:1000                   virtual uid:gid inside (default 0:0)
 *   [Namespace]                        read-only mappings
 *   file:///data = file:///srv/app/data
 *   [Namespace.Writable]               read-write mappings
 *   file:///out = file:///tmp/out
 *   tcp.server://0.0.0.0:8080 = tcp.server://127.0.0.1:18080
 *   tcp.client://ANY:80 = tcp.client://ANY:80   (ANY written as '*')
 *   udp.client://ANY:53 = udp.client://127.0.0.1:5353
 *   udp.server://0.0.0.0:9999 = udp.server://127.0.0.1:19999
 *   [Identity]                         for packages (docs/package-format.md)
 *   name = python3  version = 3.11.2  architecture = x86_64
 *   [Dependency.base]
 *   version = >=1.0, <2
 *   (Drawbridge's spelling -- ManifestVersion, PackageRevision, Name,
 *   MajorVersion, MinorVersion, BuildNumber, Architecture, Exe, the
 *   [Windows.Application] section -- is read too: docs/manifest.md,
 *   "Drawbridge spelling".)
 *   [Limits]
 *   memory = 512M  files = 256  file_size = 1G  cpu_seconds = 60
 *   processes = 64  cpus = 0.5  cpu_share = 50  disk = 1G
 *   [Extensions]                       layers on the ABI, top first
 *   trace = summary,file=/out/t.log    (moat/extension.h)
 *
 * Everything not mapped is denied.  docs/manifest.md is the reference.
 */
#ifndef MOAT_MANIFEST_H
#define MOAT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct moat_mapping {
	char *vpath;      /* virtual absolute path, normalised */
	char *hpath;      /* host absolute path */
	int writable;
	int line;         /* manifest line, 0 if from the command line */
};

/* A network grant: what the app may name (address 0 and port 0 mean
 * "any"), and where that goes on the host (address 0 or port 0: the
 * same as the app asked for). */
struct moat_net_mapping {
	int server;            /* *.server (listen, bind) or *.client (connect, send) */
	int udp;               /* udp.* rather than tcp.* */
	uint32_t vaddr;        /* IPv4, network order */
	uint16_t vport;        /* host order */
	uint32_t haddr;
	uint16_t hport;
	int line;
};

/* 0 means "not set": the default applies (docs/manifest.md). */
struct moat_limits {
	uint64_t memory;      /* bytes (memory cgroup; RLIMIT_AS without one) */
	uint64_t files;       /* open descriptors (LibOS table and RLIMIT_NOFILE) */
	uint64_t file_size;   /* largest file the app may write (RLIMIT_FSIZE) */
	uint64_t cpu_seconds; /* CPU time of each process (RLIMIT_CPU) */
	uint64_t processes;   /* host tasks, threads count (pids cgroup) */
	uint64_t cpus;        /* CPU bandwidth in thousandths of a CPU (cpu cgroup) */
	uint64_t cpu_share;   /* relative weight 1..10000, 100 = normal (cpu cgroup) */
	uint64_t disk;        /* bytes of the private /tmp and /dev/shm (tmpfs) */
};

/* The [Limits] keys that hold a plain count, and where in struct
 * moat_limits (cpus, in thousandths, is written apart); NULL-ended.
 * The reader and the snapshot manifest's writer share it. */
struct moat_limit_key { const char *key; size_t off; };
extern const struct moat_limit_key moat_limit_keys[];

/* [Extensions] NAME = OPTIONS, or moat run --ext NAME[:OPTIONS]. */
struct moat_ext_choice {
	char *name;
	char *options;        /* "" if none */
};

/* [Dependency.KEY]: another package, by name and version range. */
struct moat_dependency {
	char *key;            /* the section's suffix */
	char *name;           /* name = ..., default KEY */
	char *range;          /* version = ">=3.11, <4"; NULL: any */
	int line;
};

struct moat_manifest {
	char *source;         /* file name for messages, or "command line" */
	/* [Identity]: set in packages; NULL in a plain manifest.  Drawbridge's
	 * Name, MajorVersion.MinorVersion.BuildNumber and Architecture land
	 * here too (arch "x86_64"). */
	char *name, *version, *arch;
	char *revision;       /* [Package] PackageRevision, decimal; NULL if not given */
	/* "FILE:LINE: [Windows.Registry] ignored: ..." for the first Windows
	 * section other than [Windows.Application] (accepted, meaningless
	 * here), with how many more; NULL if none.  Callers show it. */
	char *ignored;
	struct moat_dependency *deps;
	int ndeps;
	/* Package layers the picoprocess sees beneath its mappings, bottom
	 * (base) first, and where writes to their paths go (NULL: a private
	 * scratch directory removed at exit). */
	char **layers;
	int nlayers;
	char *overlay;
	char *entry;          /* virtual path of the program */
	char **argv;          /* argv[0] is entry; NULL-terminated */
	int argc;
	char **env;           /* NULL-terminated */
	int envc;
	char *cwd;
	int uid, gid;         /* virtual identity inside (default 0:0) */
	struct moat_mapping *maps;
	int nmaps;
	struct moat_net_mapping *nets;
	int nnets;
	struct moat_limits limits;
	int no_rewrite;       /* [Tuning] rewrite = no */
	struct moat_ext_choice *exts; /* top of the stack first */
	int nexts;
	/* [Snapshot]: only in a snapshot package's manifest (a checkpoint,
	 * include/moat/snapshot.h); the values as written, NULL if absent.
	 * Checked where they are used (monitor/snapshot.c). */
	int is_snapshot;
	struct moat_snap_meta {
		char *pico, *taken, *app, *extensions, *cwd, *image_len, *image_hash;
		char *scratch_len, *scratch_hash; /* the saved /tmp, if carried */
	} snap;
};

/* Parse 'path' into 'm'.  On failure returns -1 and writes one line
 * "FILE:LINE: [Section] key: what was expected" into err.  Anything but a
 * regular file (a FIFO, a device, a directory) is refused unopened. */
int moat_manifest_load(const char *path, struct moat_manifest *m,
		       char *err, size_t errlen);

/* The same for a manifest already in memory ('len' bytes, NUL not
 * needed); 'source' names it in messages and anchors file:relative paths. */
int moat_manifest_parse(const char *text, size_t len, const char *source,
			struct moat_manifest *m, char *err, size_t errlen);

/* The same for the manifest inside a package.  Its [Namespace] host paths
 * are requests (see docs/package-format.md): they are normalised but not
 * looked at on the host, so a package cannot make moat probe the host,
 * and one that asks for a path this host lacks still runs when the
 * request is not granted. */
int moat_manifest_parse_package(const char *text, size_t len, const char *source,
				struct moat_manifest *m, char *err, size_t errlen);

/* Write 'path' as a file URI, "file:///a/b%0Ac": every byte but letters,
 * digits and "/._-~+,@" percent-encoded, so that any file name reads back
 * as itself and cannot end a line, start a comment or split a mapping. */
void moat_manifest_put_uri(FILE *f, const char *path);

/* Write a network grant as the manifest spells it, "tcp.server://A:P =
 * tcp.server://A:P" ('*' for any address or port), without a newline. */
void moat_manifest_put_net(FILE *f, const struct moat_net_mapping *n);
/* "file:///V = file:///H\n", both encoded as above. */
void moat_manifest_put_map(FILE *f, const char *vpath, const char *hpath);
/* 1 if "key = VALUE" reads back with exactly this value (no newline, no
 * blanks at its ends, no inline comment). */
int moat_manifest_value_survives(const char *value);

/* Append a package layer (host path of a .mpk) on top of the others. */
int moat_manifest_add_layer(struct moat_manifest *m, const char *pkg_path);

/* Start an empty manifest (for the quick command-line form). */
void moat_manifest_init(struct moat_manifest *m, const char *source);

/* Add a mapping of host path 'host' at virtual path 'virt' (NULL: same as
 * host).  Returns -1 with a message in err if either is unusable. */
int moat_manifest_map(struct moat_manifest *m, const char *host,
		      const char *virt, int writable, int line, char *err,
		      size_t errlen);

/* Add a network grant "tcp.client://A:P = tcp.client://A:P" (or
 * tcp.server, udp.client, udp.server); A may be '*' and P may be '*'
 * (clients only) on either side.
 * Returns -1 with a message in err if it is malformed. */
int moat_manifest_net(struct moat_manifest *m, const char *virt,
		      const char *host, int line, char *err, size_t errlen);

/* Parse "UID" or "UID:GID" (numbers) into m->uid, m->gid.  -1 if bad. */
int moat_manifest_set_user(struct moat_manifest *m, const char *spec);

/* Replace argv with entry + args[0..n). */
int moat_manifest_set_args(struct moat_manifest *m, char *const *args, int n);
int moat_manifest_add_env(struct moat_manifest *m, const char *kv);

/* Add extension NAME with OPTIONS below those already chosen (a name
 * already there gets OPTIONS appended to its own).  Returns -1 with
 * "NAME: KEY: what was expected" in err if the name is unknown or the
 * options are bad (the extensions' own checks). */
int moat_manifest_add_ext(struct moat_manifest *m, const char *name,
			  const char *options, char *err, size_t errlen);

void moat_manifest_free(struct moat_manifest *m);

#endif /* MOAT_MANIFEST_H */
