/*
 * trace.c -- every downcall, with its arguments decoded, its result, the
 * errno name and its duration, for each process and thread; at process
 * exit, optionally, a table like `strace -c` and the system calls the
 * LibOS answered ENOSYS to (it tells us through notes: extension.h).
 *
 * Identity: the process is the picoprocess's own pid (1 at first; a
 * forked child learns its pid from process_fork).  The thread is the
 * ordinal, in this process, of the %gs base the layer above set for it
 * with segment_base_set (the moat LibOS gives each thread its own), read
 * back with rdgsbase: the only per-thread fact an extension can see
 * without a host call.  t0 is a thread before it set one.
 */
#include "trace.h"

static const struct moat_abi *below;
static struct moat_abi above;
static struct trace_opts opts;
static moat_handle out = 2;
static int32_t self_pid = 1;

/* ---------------------------------------------------------------- */
/* Counters: per downcall, and the ENOSYS notes.                     */

struct stat_row { uint64_t calls, errors, ns; };
static struct stat_row stats[MOAT_ABI_NCALLS];

#define ENOSYS_ROWS 64
struct enosys_row { uint64_t nr, count; char name[32]; };
static struct enosys_row enosys[ENOSYS_ROWS];

#define THREADS 256
static uint64_t gs_bases[THREADS];
static int have_rdgsbase; /* CPUID.7.0:EBX bit 0; the kernel enables it since 5.9 */

static void probe_rdgsbase(void)
{
	uint32_t a = 7, b, c = 0, d;
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	have_rdgsbase = b & 1;
}

static int thread_no(void)
{
	uint64_t b;
	if (!have_rdgsbase)
		return 0; /* no way to tell threads apart: all t0 */
	__asm__ volatile("rdgsbase %0" : "=r"(b));
	if (!b)
		return 0;
	for (int i = 0; i < THREADS; i++) {
		uint64_t v = __atomic_load_n(&gs_bases[i], __ATOMIC_ACQUIRE);
		if (v == b)
			return i + 1;
		if (!v && (__atomic_compare_exchange_n(&gs_bases[i], &v, b, 0, __ATOMIC_ACQ_REL,
						       __ATOMIC_ACQUIRE) || v == b))
			return i + 1;
	}
	return THREADS + 1;
}

static int64_t now(void)
{
	return below->system_time(MOAT_CLOCK_MONOTONIC);
}

/* ---------------------------------------------------------------- */
/* A line being built: text like strace, or one JSON object.         */

struct line {
	char b[1024];
	size_t n;
	int nargs;
	int call;
	int64_t t0;
};

static void put(struct line *l, const char *s, size_t len)
{
	if (len > sizeof(l->b) - 1 - l->n)
		len = sizeof(l->b) - 1 - l->n;
	memcpy(l->b + l->n, s, len);
	l->n += len;
}

static void puts_(struct line *l, const char *s) { put(l, s, strlen(s)); }

static void putf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct line *l, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = rt_vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(l, tmp, n < (int)sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Bytes as a quoted string: C escapes in text, JSON escapes in JSON. */
static void put_bytes(struct line *l, const char *s, size_t len, size_t max)
{
	put(l, "\"", 1);
	for (size_t i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			putf(l, "\\%c", c);
		else if (c == '\n')
			puts_(l, "\\n");
		else if (c < ' ' || c >= 0x7f)
			putf(l, opts.json ? "\\u%04x" : "\\x%02x", c);
		else
			put(l, (const char *)&c, 1);
	}
	put(l, "\"", 1);
	if (len > max && !opts.json)
		puts_(l, "...");
}

static void arg_begin(struct line *l)
{
	if (l->nargs++)
		puts_(l, opts.json ? "," : ", ");
	if (opts.json)
		puts_(l, "\"");
}

static void arg_end(struct line *l)
{
	if (opts.json)
		puts_(l, "\"");
}

static void arg_u(struct line *l, uint64_t v) { arg_begin(l); putf(l, "%lu", (unsigned long)v); arg_end(l); }
static void arg_i(struct line *l, int64_t v) { arg_begin(l); putf(l, "%ld", (long)v); arg_end(l); }
static void arg_x(struct line *l, uint64_t v) { arg_begin(l); putf(l, "0x%lx", (unsigned long)v); arg_end(l); }
static void arg_o(struct line *l, uint64_t v) { arg_begin(l); putf(l, "0%lo", (unsigned long)v); arg_end(l); }

static void arg_str(struct line *l, const char *s)
{
	if (l->nargs++)
		puts_(l, opts.json ? "," : ", ");
	if (!s)
		puts_(l, opts.json ? "null" : "NULL");
	else
		put_bytes(l, s, strnlen(s, MOAT_URI_MAX), 256);
}

static void arg_data(struct line *l, const void *buf, long len)
{
	if (l->nargs++)
		puts_(l, opts.json ? "," : ", ");
	put_bytes(l, buf, len > 0 ? (size_t)len : 0, 32);
}

static void arg_off(struct line *l, uint64_t off)
{
	if (off == MOAT_OFFSET_STREAM) {
		arg_begin(l);
		puts_(l, "STREAM");
		arg_end(l);
	} else {
		arg_u(l, off);
	}
}

struct flag { uint32_t bit; const char *name; };

static void arg_flags(struct line *l, uint32_t v, const struct flag *f, const char *none)
{
	int any = 0;
	arg_begin(l);
	for (; f->name; f++)
		if (v & f->bit) {
			puts_(l, any++ ? "|" : "");
			puts_(l, f->name);
			v &= ~f->bit;
		}
	if (v)
		putf(l, "%s0x%x", any++ ? "|" : "", v);
	if (!any)
		puts_(l, none);
	arg_end(l);
}

static const struct flag open_flags[] = {
	{ MOAT_OPEN_CREATE, "CREATE" }, { MOAT_OPEN_EXCL, "EXCL" },
	{ MOAT_OPEN_TRUNCATE, "TRUNCATE" }, { MOAT_OPEN_APPEND, "APPEND" },
	{ MOAT_OPEN_DIRECTORY, "DIRECTORY" }, { MOAT_OPEN_NOFOLLOW, "NOFOLLOW" },
	{ MOAT_OPEN_MKDIR, "MKDIR" }, { 0, NULL },
};
static const struct flag prot_flags[] = {
	{ MOAT_PROT_READ, "READ" }, { MOAT_PROT_WRITE, "WRITE" },
	{ MOAT_PROT_EXEC, "EXEC" }, { 0, NULL },
};
static const struct flag map_flags[] = {
	{ MOAT_MAP_FIXED, "FIXED" }, { MOAT_MAP_NOREPLACE, "NOREPLACE" },
	{ MOAT_MAP_SHARED, "SHARED" }, { 0, NULL },
};

static void arg_access(struct line *l, uint32_t a)
{
	static const char *const names[] = { "0", "READ", "WRITE", "RDWR" };
	arg_begin(l);
	puts_(l, a < 4 ? names[a] : "?");
	arg_end(l);
}

static void arg_name(struct line *l, uint32_t v, const char *const *names, uint32_t n)
{
	if (v < n && names[v]) {
		arg_begin(l);
		puts_(l, names[v]);
		arg_end(l);
	} else {
		arg_u(l, v);
	}
}

/* ---------------------------------------------------------------- */
/* Begin and end of a traced call.                                   */

static void emit(const char *s, size_t n)
{
	below->stream_write(out, MOAT_OFFSET_STREAM, s, n);
}

static void header(struct line *l, const char *what)
{
	int tid = thread_no();
	if (opts.json)
		putf(l, "{\"pid\":%d,\"tid\":%d,\"call\":\"%s\",\"args\":[", self_pid, tid, what);
	else
		putf(l, "[pid %d t%d] %s(", self_pid, tid, what);
}

static void begin(struct line *l, int call)
{
	l->n = 0;
	l->nargs = 0;
	l->call = call;
	l->t0 = now();
}

static void count(int call, long r, int64_t ns)
{
	__atomic_add_fetch(&stats[call].calls, 1, __ATOMIC_RELAXED);
	if (r < 0)
		__atomic_add_fetch(&stats[call].errors, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&stats[call].ns, (uint64_t)ns, __ATOMIC_RELAXED);
}

/* The line's head is written last, when the arguments are known: they
 * were put in l->b; move them behind the head. */
static void finish_line(struct line *l, long r, int64_t ns)
{
	struct line full = { .n = 0 };
	const char *en = r < 0 ? ext_errno_name(-r) : NULL;
	header(&full, ext_call_names[l->call]);
	put(&full, l->b, l->n);
	if (opts.json) {
		putf(&full, "],\"result\":%ld,\"errno\":", r);
		if (en)
			putf(&full, "\"%s\"", en);
		else
			puts_(&full, "null");
		putf(&full, ",\"ns\":%ld}\n", (long)ns);
	} else {
		putf(&full, ") = %ld", r);
		if (r < 0)
			putf(&full, " %s", en ? en : "E?");
		putf(&full, " <%ld.%06ld>\n", (long)(ns / 1000000000),
		     (long)(ns % 1000000000 / 1000));
	}
	emit(full.b, full.n);
}

static long end(struct line *l, long r)
{
	int64_t ns = now() - l->t0;
	count(l->call, r, ns);
	if (!opts.quiet)
		finish_line(l, r, ns);
	return r;
}

#define IX(name) ((int)((__builtin_offsetof(struct moat_abi, name) - 8) / sizeof(void *)))
#define BEGIN(name) struct line l_; struct line *l = &l_; begin(l, IX(name))
#define ARGS if (!opts.quiet)

#include "calls.inc"

/* ---------------------------------------------------------------- */
/* Set-up.                                                           */

static int open_output(void)
{
	char uri[8 + sizeof(opts.file)];
	if (!opts.file[0])
		return 0;
	rt_snprintf(uri, sizeof(uri), "file:%s", opts.file);
	long h = below->stream_open(uri, MOAT_ACCESS_WRITE,
				    MOAT_OPEN_CREATE | MOAT_OPEN_TRUNCATE | MOAT_OPEN_APPEND, 0644);
	if (h < 0) {
		char msg[400];
		const char *en = ext_errno_name(-h);
		int n = rt_snprintf(msg, sizeof(msg), "moat: --ext trace: file: cannot open %s: %s "
				    "(it must be inside a writable mapping)\n", opts.file,
				    en ? en : "error");
		below->stream_write(2, MOAT_OFFSET_STREAM, msg, (size_t)n);
		return -1;
	}
	out = (moat_handle)h;
	return 0;
}

const struct moat_abi *trace_init(struct moat_ext_args *a)
{
	char err[256];
	below = a->below;
	if (trace_parse(a->options, &opts, err, sizeof(err)) < 0 || open_output() < 0)
		return NULL;
	a->wants |= MOAT_EXT_WANT_NOTES;
	probe_rdgsbase();
	above = *below;
	trace_install(&above);
	return &above;
}
