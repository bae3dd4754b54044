/*
 * faults.c -- inject errors at the ABI, by rule (docs/extensions.md).
 *
 * Every rule counts the calls it matches (its downcall, and its URI
 * pattern: for calls that name a URI, that URI; for calls on a handle,
 * the URI the handle was opened with); when its condition holds (the Nth
 * match, every Nth, or with probability p from a seeded generator) the
 * call fails with the rule's error without reaching the layer below, or,
 * for error=short, reaches it with half the length.  Rules are tried in
 * order; every matching rule counts, the first that fires decides.
 */
#include "faults.h"

#define IX(name) ((int)((__builtin_offsetof(struct moat_abi, name) - 8) / sizeof(void *)))
#define HANDLES 4096 /* PAL handles are below this */

static const struct moat_abi *below;
static struct moat_abi above;
static struct fault_rule rules[FAULTS_MAX];
static int nrules;
static uint64_t counts[FAULTS_MAX];
static uint64_t rng[FAULTS_MAX];
/* Bit i: the handle was opened with a URI that rule i's pattern matches. */
static uint16_t uri_bits[HANDLES];

/* splitmix64: one atomic step per draw, so threads never share a draw. */
static uint32_t draw(int i)
{
	uint64_t z = __atomic_add_fetch(&rng[i], 0x9e3779b97f4a7c15ULL, __ATOMIC_RELAXED);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static int matches(int i, const char *uri, moat_handle h)
{
	if (!rules[i].uri[0])
		return 1;
	if (uri)
		return faults_match(rules[i].uri, uri);
	return h >= 0 && h < HANDLES && (uri_bits[h] >> i & 1);
}

/* The rule that fails this call, or NULL. */
static const struct fault_rule *decide(int call, const char *uri, moat_handle h)
{
	const struct fault_rule *fired = NULL;
	for (int i = 0; i < nrules; i++) {
		const struct fault_rule *r = &rules[i];
		if (r->call != call || !matches(i, uri, h))
			continue;
		uint64_t n = __atomic_add_fetch(&counts[i], 1, __ATOMIC_RELAXED);
		int fire = r->nth ? n == r->nth : r->every ? n % r->every == 0
			 : r->has_p ? draw(i) < r->p : 1;
		if (fire && !fired)
			fired = r;
	}
	return fired;
}

static void note_handle(long h, const char *uri)
{
	if (h < 0 || h >= HANDLES)
		return;
	uint16_t bits = 0;
	for (int i = 0; i < nrules; i++)
		if (rules[i].uri[0] && faults_match(rules[i].uri, uri))
			bits |= (uint16_t)(1u << i);
	uri_bits[h] = bits;
}

/* FAIL(call, uri, handle): return the rule's error if one fires. */
#define FAIL(name, uri, h) do { \
	const struct fault_rule *r_ = decide(IX(name), uri, h); \
	if (r_) return -r_->error; \
} while (0)

static long f_stream_open(const char *uri, uint32_t a, uint32_t o, uint32_t m)
{
	FAIL(stream_open, uri, -1);
	long h = below->stream_open(uri, a, o, m);
	if (h > 0) /* 0: a directory made, no handle */
		note_handle(h, uri);
	return h;
}

/* A short transfer: half the length (at least 1). */
static size_t shorten(const struct fault_rule *r, size_t len)
{
	return r->error == FAULT_SHORT && len > 1 ? len / 2 : len;
}

static long f_stream_read(moat_handle h, uint64_t off, void *buf, size_t len)
{
	const struct fault_rule *r = decide(IX(stream_read), NULL, h);
	if (r && r->error != FAULT_SHORT)
		return -r->error;
	return below->stream_read(h, off, buf, r ? shorten(r, len) : len);
}

static long f_stream_write(moat_handle h, uint64_t off, const void *buf, size_t len)
{
	const struct fault_rule *r = decide(IX(stream_write), NULL, h);
	if (r && r->error != FAULT_SHORT)
		return -r->error;
	return below->stream_write(h, off, buf, r ? shorten(r, len) : len);
}

static long f_stream_map(moat_handle h, void *a, uint64_t o, size_t s, uint32_t p, uint32_t f)
{
	FAIL(stream_map, NULL, h);
	return below->stream_map(h, a, o, s, p, f);
}

static long f_stream_set_length(moat_handle h, uint64_t len)
{
	FAIL(stream_set_length, NULL, h);
	return below->stream_set_length(h, len);
}

static long f_stream_flush(moat_handle h)
{
	FAIL(stream_flush, NULL, h);
	return below->stream_flush(h);
}

static long f_stream_delete(const char *uri, uint32_t dir)
{
	FAIL(stream_delete, uri, -1);
	return below->stream_delete(uri, dir);
}

static long f_stream_rename(const char *from, const char *to)
{
	FAIL(stream_rename, from, -1);
	return below->stream_rename(from, to);
}

static long f_stream_wait_for_client(moat_handle h, uint32_t nb, char *peer, size_t len)
{
	FAIL(stream_wait_for_client, NULL, h);
	return below->stream_wait_for_client(h, nb, peer, len);
}

static long f_stream_attr_query(const char *uri, uint32_t nofollow, struct moat_attr *a)
{
	FAIL(stream_attr_query, uri, -1);
	return below->stream_attr_query(uri, nofollow, a);
}

static long f_stream_attr_query_by_handle(moat_handle h, struct moat_attr *a)
{
	FAIL(stream_attr_query_by_handle, NULL, h);
	return below->stream_attr_query_by_handle(h, a);
}

static long f_stream_readlink(const char *uri, char *buf, size_t len)
{
	FAIL(stream_readlink, uri, -1);
	return below->stream_readlink(uri, buf, len);
}

static long f_vm_alloc(void *a, size_t s, uint32_t p, uint32_t f)
{
	FAIL(vm_alloc, NULL, -1);
	return below->vm_alloc(a, s, p, f);
}

static long f_process_fork(int32_t *self)
{
	FAIL(process_fork, NULL, -1);
	return below->process_fork(self);
}

static long f_thread_create(void *arg, void *stack, size_t size, uint32_t flags)
{
	FAIL(thread_create, NULL, -1);
	return below->thread_create(arg, stack, size, flags);
}

static long f_object_close(moat_handle h)
{
	if (h >= 0 && h < HANDLES)
		uri_bits[h] = 0;
	return below->object_close(h);
}

static void seed(void)
{
	for (int i = 0; i < nrules; i++) {
		if (rules[i].has_seed)
			rng[i] = rules[i].seed;
		else if (rules[i].has_p)
			below->random_bits(&rng[i], sizeof(rng[i]));
	}
}

const struct moat_abi *faults_init(struct moat_ext_args *a)
{
	char err[256];
	below = a->below;
	if (faults_parse(a->options, rules, &nrules, err, sizeof(err)) < 0)
		return NULL;
	seed();
	/* The standard streams the monitor handed over are handles 0-2. */
	note_handle(0, "console:0");
	note_handle(1, "console:1");
	note_handle(2, "console:2");
	above = *below;
#define E(name) above.name = f_##name
	E(stream_open); E(stream_read); E(stream_write); E(stream_map);
	E(stream_set_length); E(stream_flush); E(stream_delete); E(stream_rename);
	E(stream_wait_for_client); E(stream_attr_query);
	E(stream_attr_query_by_handle); E(stream_readlink); E(vm_alloc);
	E(process_fork); E(thread_create); E(object_close);
#undef E
	return &above;
}
