/*
 * passthrough.c -- a layer that does nothing but call down: every
 * downcall goes through one of its functions, which calls the same entry
 * of the table below.  It measures what a layer costs (bench/ext_bench.c,
 * docs/extensions.md) and is the skeleton to copy for a new extension.
 */
#include "../ext.h"

static const struct moat_abi *below;
static struct moat_abi above;

#define PASS(ret, name, params, args) \
	static ret pt_##name params { return below->name args; }
#define PASS_VOID(name, params, args) \
	static void pt_##name params { below->name args; __builtin_unreachable(); }

PASS(long, thread_create, (void *a, void *s, size_t n, uint32_t f), (a, s, n, f))
PASS(long, thread_delay, (uint64_t ns), (ns))
PASS(long, thread_yield, (void), ())
PASS(long, thread_resume, (moat_handle h), (h))
PASS_VOID(thread_exit, (int32_t *w), (w))
PASS(long, semaphore_create, (uint32_t i, uint32_t m), (i, m))
PASS(long, semaphore_release, (moat_handle h, uint32_t c), (h, c))
PASS(long, event_create, (uint32_t k, uint32_t s), (k, s))
PASS(long, event_set, (moat_handle h), (h))
PASS(long, event_clear, (moat_handle h), (h))
PASS(long, objects_wait_any, (uint32_t n, const moat_handle *h, int64_t t), (n, h, t))
PASS(long, address_wait, (uint32_t *a, uint32_t o, uint32_t v, int64_t t), (a, o, v, t))
PASS(long, vm_alloc, (void *a, size_t s, uint32_t p, uint32_t f), (a, s, p, f))
PASS(long, vm_free, (void *a, size_t s), (a, s))
PASS(long, vm_protect, (void *a, size_t s, uint32_t p), (a, s, p))
PASS(long, stream_open, (const char *u, uint32_t a, uint32_t o, uint32_t m), (u, a, o, m))
PASS(long, stream_read, (moat_handle h, uint64_t o, void *b, size_t l), (h, o, b, l))
PASS(long, stream_write, (moat_handle h, uint64_t o, const void *b, size_t l), (h, o, b, l))
PASS(long, stream_map, (moat_handle h, void *a, uint64_t o, size_t s, uint32_t p, uint32_t f),
     (h, a, o, s, p, f))
PASS(long, stream_unmap, (void *a, size_t s), (a, s))
PASS(long, stream_set_length, (moat_handle h, uint64_t l), (h, l))
PASS(long, stream_flush, (moat_handle h), (h))
PASS(long, stream_delete, (const char *u, uint32_t d), (u, d))
PASS(long, stream_rename, (const char *f, const char *t), (f, t))
PASS(long, stream_wait_for_client, (moat_handle h, uint32_t n, char *p, size_t l), (h, n, p, l))
PASS(long, stream_attr_query, (const char *u, uint32_t n, struct moat_attr *a), (u, n, a))
PASS(long, stream_attr_query_by_handle, (moat_handle h, struct moat_attr *a), (h, a))
PASS(long, stream_pipe, (moat_handle *r, moat_handle *w, uint32_t f), (r, w, f))
PASS(long, stream_shutdown, (moat_handle h, uint32_t w), (h, w))
PASS(long, stream_attr_set, (const char *u, uint32_t n, uint32_t m, const struct moat_attr *a),
     (u, n, m, a))
PASS(long, stream_symlink, (const char *t, const char *u), (t, u))
PASS(long, stream_link, (const char *f, const char *t), (f, t))
PASS(long, stream_lock, (moat_handle h, uint32_t o, uint32_t t, uint64_t *s, uint64_t *l,
			 int32_t *p), (h, o, t, s, l, p))
PASS(long, stream_readlink, (const char *u, char *b, size_t l), (u, b, l))
PASS(long, process_create, (const char *u, char *const argv[]), (u, argv))
PASS(long, process_fork, (int32_t *p), (p))
PASS(long, process_wait, (int32_t p, uint32_t o, int32_t *s), (p, o, s))
PASS(long, process_control, (uint32_t o, int32_t p, int64_t a), (o, p, a))
PASS_VOID(process_exit, (int c, int s), (c, s))
PASS(long, system_time, (uint32_t c), (c))
PASS(long, random_bits, (void *b, size_t l), (b, l))
PASS(long, segment_base_set, (uint32_t w, uint64_t b), (w, b))
PASS(long, timer_set, (uint32_t w, uint64_t v, uint64_t i, uint64_t *ov, uint64_t *oi),
     (w, v, i, ov, oi))
PASS(long, debug_log, (const char *m, size_t l), (m, l))
PASS(long, object_close, (moat_handle h), (h))

#define E(name) .name = pt_##name
static const struct moat_abi table = {
	.version = MOAT_ABI_VERSION, .size = sizeof(struct moat_abi),
	E(thread_create), E(thread_delay), E(thread_yield), E(thread_resume),
	E(thread_exit), E(semaphore_create), E(semaphore_release),
	E(event_create), E(event_set), E(event_clear), E(objects_wait_any),
	E(address_wait), E(vm_alloc), E(vm_free), E(vm_protect), E(stream_open),
	E(stream_read), E(stream_write), E(stream_map), E(stream_unmap),
	E(stream_set_length), E(stream_flush), E(stream_delete), E(stream_rename),
	E(stream_wait_for_client), E(stream_attr_query),
	E(stream_attr_query_by_handle), E(stream_pipe), E(stream_shutdown),
	E(stream_attr_set), E(stream_symlink), E(stream_link), E(stream_lock),
	E(stream_readlink), E(process_create), E(process_fork), E(process_wait),
	E(process_control), E(process_exit), E(system_time), E(random_bits),
	E(segment_base_set), E(timer_set), E(debug_log), E(object_close),
};

const struct moat_abi *passthrough_init(struct moat_ext_args *a)
{
	below = a->below;
	above = table;
	return &above;
}
