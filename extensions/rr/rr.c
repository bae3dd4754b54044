/*
 * rr.c -- record and replay of what a program receives through the ABI
 * (docs/extensions.md).
 *
 * record: every downcall whose answer comes from outside the process
 * (stream opens, reads, attributes, maps of files, the clock, random
 * bits, waits on streams, the consoles) runs for real and its result and
 * output data are appended to the log.  replay: the same calls are
 * answered from the log, in order, without reaching the host (except
 * that writes to the consoles still go out: they are the output), and a
 * call that does not match the log's next entry stops the program with
 * one line saying where.  Calls on memory and on the process's own
 * synchronisation objects run for real in both.  Each process has a log
 * of its own (FILE for the first, FILE.PID for the others): forks and
 * waits run for real on replay too, so that the processes end in the
 * recorded order.  One thread per process: thread_create is refused.
 */
#include "rr.h"

#define IX(name) ((int)((__builtin_offsetof(struct moat_abi, name) - 8) / sizeof(void *)))
#define HANDLES 4096
#define DIVERGED 125 /* exit status of a replay that left the log */

static const struct moat_abi *below;
static struct moat_abi above;
static struct rr_opts opts;
static const char *who = "record";
static uint64_t seq; /* logged downcalls so far */
static int32_t my_pid = 1;

/* ---------------------------------------------------------------- */
/* Shared: the argument check and messages.                           */

static uint32_t mix(uint32_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		h = (h ^ (uint8_t)v) * 16777619u;
	return h;
}

static uint32_t mix_str(uint32_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

#define CK(a, b) mix(mix(2166136261u, (uint64_t)(a)), (uint64_t)(b))

static void say(const char *a, const char *b, const char *c)
{
	char line[512];
	ext_msg(line, sizeof(line), "moat: --ext ", who, ": ", a);
	size_t n = strlen(line);
	ext_msg(line + n, sizeof(line) - n, b, c, "\n", NULL);
	below->stream_write(2, MOAT_OFFSET_STREAM, line, strlen(line));
}

static long no_thread(void *a, void *s, size_t n, uint32_t f)
{
	static int said;
	(void)a, (void)s, (void)n, (void)f;
	if (!said++)
		say("only single-threaded programs can be recorded or replayed;",
		    " refusing thread_create (EAGAIN)", "");
	return -MOAT_EAGAIN;
}

/* ---------------------------------------------------------------- */
/* Record.                                                           */

static moat_handle log_h = -1;
static char wbuf[1 << 16];
static size_t wlen;
static uint8_t logged[HANDLES / 8]; /* stream handles: their calls go in the log */

static int is_logged(moat_handle h)
{
	return h >= 0 && h < HANDLES && (logged[h / 8] >> (h % 8) & 1);
}

static void set_logged(long h, int on)
{
	if (h < 0 || h >= HANDLES)
		return;
	if (on)
		logged[h / 8] |= (uint8_t)(1 << (h % 8));
	else
		logged[h / 8] &= (uint8_t)~(1 << (h % 8));
}

static void write_all(const char *p, size_t n)
{
	while (n) {
		long w = below->stream_write(log_h, MOAT_OFFSET_STREAM, p, n);
		if (w <= 0) {
			say("cannot write the log: ", ext_errno_name(-w) ? ext_errno_name(-w) : "?", "");
			below->process_exit(DIVERGED, 0);
		}
		p += w, n -= (size_t)w;
	}
}

static void flush(void)
{
	write_all(wbuf, wlen);
	wlen = 0;
}

static void put(const void *p, size_t n)
{
	if (n > sizeof(wbuf) - wlen) {
		flush();
		if (n >= sizeof(wbuf))
			return write_all(p, n);
	}
	memcpy(wbuf + wlen, p, n);
	wlen += n;
}

static void log_entry(int call, uint32_t check, long result, const void *data, size_t len)
{
	static const char zero[8];
	struct rr_entry e = { (uint32_t)call, check, result, len };
	put(&e, sizeof(e));
	put(data, len);
	put(zero, (8 - len % 8) % 8);
	seq++;
}

/* ---------------------------------------------------------------- */
/* Replay.                                                           */

static const char *log_mem;
static size_t log_size, cur;

static _Noreturn void diverged(int call, const char *detail, const char *holds)
{
	char num[32];
	rt_snprintf(num, sizeof(num), "%lu", (unsigned long)seq + 1);
	char what[400];
	ext_msg(what, sizeof(what), "diverged at logged downcall ", num, ": the app made ",
		ext_call_names[call]);
	char args[300];
	ext_msg(args, sizeof(args), detail ? "(\"" : "", detail, detail ? "\")" : "", NULL);
	say(what, args, holds);
	below->process_exit(DIVERGED, 0);
	__builtin_unreachable();
}

/* The next entry, which must be 'call' with these arguments. */
static const struct rr_entry *expect(int call, uint32_t check, const char *detail)
{
	char holds[96];
	if (cur + sizeof(struct rr_entry) > log_size)
		diverged(call, detail, " after the end of the log");
	const struct rr_entry *e = (const void *)(log_mem + cur);
	if (e->call == RR_SIGNAL)
		diverged(call, detail, " where the log holds a signal that reached the"
			 " program after an earlier downcall (the app made other downcalls"
			 " before it than when recorded)");
	if (e->call >= MOAT_ABI_NCALLS || e->len > log_size - cur - sizeof(*e))
		diverged(call, detail, " where the log is damaged");
	if ((int)e->call != call || e->check != check) {
		ext_msg(holds, sizeof(holds), " where the log holds ", ext_call_names[e->call],
			e->call == (uint32_t)call ? " with other arguments" : "", NULL);
		diverged(call, detail, holds);
	}
	cur += sizeof(*e) + ((e->len + 7) & ~7ULL);
	seq++;
	return e;
}

static const void *data_of(const struct rr_entry *e)
{
	return e + 1;
}

/* Copy the entry's data to 'out' (at most 'max' bytes). */
static void give(const struct rr_entry *e, void *out, size_t max)
{
	if (out)
		memcpy(out, data_of(e), e->len < max ? e->len : max);
}

static int synth(moat_handle h) { return h >= RR_SYNTH; }
static int64_t rec_h(moat_handle h) { return synth(h) ? h - RR_SYNTH : h; }
static long to_synth(long r) { return r > 0 ? r + RR_SYNTH : r; }
/* In replay, a handle whose calls come from the log: a stream the log
 * opened, or a console. */
static int from_log(moat_handle h) { return synth(h) || (h >= 0 && h <= 2); }

#include "signals.inc"
#include "calls.inc"

/* ---------------------------------------------------------------- */
/* Set-up.                                                           */

/* This process's log: FILE for pid 1, FILE.PID for the others. */
static long open_log(uint32_t access, uint32_t options)
{
	char uri[32 + sizeof(opts.file)];
	if (my_pid == 1)
		rt_snprintf(uri, sizeof(uri), "file:%s", opts.file);
	else
		rt_snprintf(uri, sizeof(uri), "file:%s.%d", opts.file, my_pid);
	long h = below->stream_open(uri, access, options, 0644);
	if (h < 0)
		say("file: cannot open ", uri + 5, access == MOAT_ACCESS_READ ? " (granted?)"
		    : " (it must be inside a writable mapping)");
	return h;
}

const struct moat_abi *record_init(struct moat_ext_args *a)
{
	char err[256];
	below = a->below;
	if (rr_parse(a->options, &opts, err, sizeof(err)) < 0)
		return NULL;
	log_h = (moat_handle)open_log(MOAT_ACCESS_WRITE, MOAT_OPEN_CREATE | MOAT_OPEN_TRUNCATE);
	if (log_h < 0)
		return NULL;
	put(RR_MAGIC, 8);
	for (int h = 0; h <= 2; h++)
		set_logged(h, 1);
	above = *below;
	record_install(&above);
	a->upcalls = &r_upcalls;
	a->above = &up;
	return &above;
}

static int load_log(moat_handle h)
{
	struct moat_attr at;
	if (below->stream_attr_query_by_handle(h, &at) < 0 || at.size < 8)
		return -1;
	long m = below->vm_alloc(0, at.size, MOAT_PROT_READ | MOAT_PROT_WRITE, 0);
	if (m < 0)
		return -1;
	for (uint64_t off = 0; off < at.size;) {
		long r = below->stream_read(h, off, (char *)m + off, at.size - off);
		if (r <= 0)
			return -1;
		off += (uint64_t)r;
	}
	below->object_close(h);
	log_mem = (const char *)m;
	log_size = at.size;
	cur = 8;
	return memcmp(log_mem, RR_MAGIC, 8) ? -1 : 0;
}

const struct moat_abi *replay_init(struct moat_ext_args *a)
{
	char err[256];
	below = a->below;
	who = "replay";
	if (rr_parse(a->options, &opts, err, sizeof(err)) < 0)
		return NULL;
	long h = open_log(MOAT_ACCESS_READ, 0);
	if (h < 0)
		return NULL;
	if (load_log((moat_handle)h) < 0) {
		say("file: ", opts.file, " is not a log written by --ext record");
		return NULL;
	}
	above = *below;
	replay_install(&above);
	replaying = 1;
	a->upcalls = &p_upcalls;
	a->above = &up;
	return &above;
}
