/*
 * heap.c -- the LibOS's own memory allocator.
 *
 * Power-of-two size classes from 32 bytes to 64 KiB carved from 256 KiB
 * chunks; anything larger gets its own vm_alloc.  LibOS allocations are
 * few and long-lived (open files, path strings), so simplicity wins.
 */
#include "libos.h"

#define MIN_SHIFT 5
#define MAX_SHIFT 16
#define CHUNK (256 * 1024)

struct block_hdr {
	uint64_t size;   /* class size, or whole mapping size for big ones */
	uint64_t magic;
};
#define HEAP_MAGIC 0x6d6f617468656170ULL

struct free_node { struct free_node *next; };

static struct free_node *free_lists[MAX_SHIFT + 1];
static char *chunk_pos, *chunk_end;
static volatile int heap_lock;

void spin_lock(volatile int *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		abi->thread_yield();
}

void spin_unlock(volatile int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

void heap_fork_lock(void) { spin_lock(&heap_lock); }
void heap_fork_unlock(void) { spin_unlock(&heap_lock); }

static unsigned size_class(size_t total)
{
	unsigned s = MIN_SHIFT;
	while (((size_t)1 << s) < total)
		s++;
	return s;
}

void *kmalloc(size_t size)
{
	size_t total = size + sizeof(struct block_hdr);
	struct block_hdr *b;
	if (total > ((size_t)1 << MAX_SHIFT)) {
		total = RT_ALIGN_UP(total, 4096);
		long r = abi->vm_alloc(0, total, MOAT_PROT_READ | MOAT_PROT_WRITE, 0);
		if (r < 0)
			return NULL;
		b = (void *)r;
		b->size = total;
	} else {
		unsigned s = size_class(total);
		spin_lock(&heap_lock);
		if (free_lists[s]) {
			b = (void *)free_lists[s];
			free_lists[s] = free_lists[s]->next;
		} else {
			if (chunk_pos + ((size_t)1 << s) > chunk_end) {
				long r = abi->vm_alloc(0, CHUNK,
						       MOAT_PROT_READ | MOAT_PROT_WRITE, 0);
				if (r < 0) {
					spin_unlock(&heap_lock);
					return NULL;
				}
				chunk_pos = (char *)r;
				chunk_end = chunk_pos + CHUNK;
			}
			b = (void *)chunk_pos;
			chunk_pos += (size_t)1 << s;
		}
		spin_unlock(&heap_lock);
		b->size = (size_t)1 << s;
	}
	b->magic = HEAP_MAGIC;
	return b + 1;
}

void *kzalloc(size_t size)
{
	void *p = kmalloc(size);
	if (p)
		memset(p, 0, size);
	return p;
}

void kfree(void *p)
{
	if (!p)
		return;
	struct block_hdr *b = (struct block_hdr *)p - 1;
	if (b->magic != HEAP_MAGIC)
		libos_panic("heap corruption at %p", p);
	b->magic = 0;
	if (b->size > ((size_t)1 << MAX_SHIFT)) {
		abi->vm_free(b, b->size);
		return;
	}
	unsigned s = size_class(b->size);
	spin_lock(&heap_lock);
	((struct free_node *)b)->next = free_lists[s];
	free_lists[s] = (struct free_node *)b;
	spin_unlock(&heap_lock);
}

char *kstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = kmalloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}
