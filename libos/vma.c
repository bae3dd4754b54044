/*
 * vma.c -- the app's memory map, as the LibOS knows it.
 *
 * Every mapping made for the app (program image, stack, brk, mmap) is
 * recorded here with its protection and what backs it, and nothing the
 * PAL or LibOS allocates for itself is.  execve uses it to remove the old
 * program without touching the LibOS; madvise uses it to know what
 * "discard" means; /proc/self/maps prints it; a checkpoint will walk it.
 * A sorted array of disjoint ranges: programs have hundreds, not millions.
 */
#include "libos.h"

#define MAX_VMAS 8192

struct vma {
	uint64_t start, end;
	uint32_t prot;       /* MOAT_PROT_* */
	uint32_t kind;       /* VMA_* */
	uint64_t offset;     /* file offset of 'start' */
	const char *name;    /* file path or [heap]/[stack]; interned */
};

static struct vma vmas[MAX_VMAS];
static int nvmas;
static volatile int vma_lock;

/* Names are interned: pieces of a split mapping share one string, and
 * strings live as long as the process (a program maps few files). */
static const char *intern(const char *name)
{
	static const char *names[256];
	static int n;
	if (!name)
		return NULL;
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return names[i];
	if (n == (int)RT_ARRAY_LEN(names))
		return "?";
	return names[n++] = kstrdup(name);
}

/* Remove [start, end) from the map, splitting ranges it cuts. */
static void remove_locked(uint64_t start, uint64_t end)
{
	for (int i = 0; i < nvmas; i++) {
		struct vma *v = &vmas[i];
		if (v->end <= start || v->start >= end)
			continue;
		if (v->start < start && v->end > end) {
			if (nvmas == MAX_VMAS)
				return;
			memmove(v + 2, v + 1, (size_t)(nvmas - i - 1) * sizeof(*v));
			v[1] = *v;
			v[1].start = end;
			v[1].offset += end - v->start;
			v->end = start;
			nvmas++;
			return;
		}
		if (v->start < start) {
			v->end = start;
		} else if (v->end > end) {
			v->offset += end - v->start;
			v->start = end;
		} else {
			memmove(v, v + 1, (size_t)(nvmas - i - 1) * sizeof(*v));
			nvmas--;
			i--;
		}
	}
}

static void insert_locked(struct vma nv)
{
	int i = 0;
	while (i < nvmas && vmas[i].start < nv.start)
		i++;
	if (nvmas == MAX_VMAS) {
		klog("vma: map full; %p will survive exec", (void *)nv.start);
		return;
	}
	memmove(&vmas[i + 1], &vmas[i], (size_t)(nvmas - i) * sizeof(vmas[0]));
	vmas[i] = nv;
	nvmas++;
}

void vma_add(uint64_t start, uint64_t len, uint32_t prot, uint32_t kind,
	     uint64_t offset, const char *name)
{
	uint64_t end = start + RT_ALIGN_UP(len, 4096);
	spin_lock(&vma_lock);
	remove_locked(start, end);
	insert_locked((struct vma){ start, end, prot, kind, offset, intern(name) });
	spin_unlock(&vma_lock);
}

void vma_remove(uint64_t start, uint64_t len)
{
	spin_lock(&vma_lock);
	remove_locked(start, start + RT_ALIGN_UP(len, 4096));
	spin_unlock(&vma_lock);
}

/* mprotect: split the pieces the range covers and give them 'prot'. */
void vma_protect(uint64_t start, uint64_t len, uint32_t prot)
{
	uint64_t end = start + RT_ALIGN_UP(len, 4096);
	struct vma parts[16];
	int n = 0;
	spin_lock(&vma_lock);
	for (int i = 0; i < nvmas && n < (int)RT_ARRAY_LEN(parts); i++) {
		struct vma v = vmas[i];
		if (v.end <= start || v.start >= end)
			continue;
		if (v.start < start) {
			v.offset += start - v.start;
			v.start = start;
		}
		if (v.end > end)
			v.end = end;
		v.prot = prot;
		parts[n++] = v;
	}
	remove_locked(start, end);
	for (int i = 0; i < n; i++)
		insert_locked(parts[i]);
	spin_unlock(&vma_lock);
}

/* madvise(MADV_DONTNEED): private anonymous memory reads as zeros again,
 * so it is replaced by fresh pages with the same protection.  Shared
 * memory keeps its contents (as on Linux); a private file map would go
 * back to the file's bytes, which needs the file: refused. */
long vma_discard(uint64_t start, uint64_t len)
{
	uint64_t end = start + RT_ALIGN_UP(len, 4096);
	long r = 0;
	spin_lock(&vma_lock);
	for (int i = 0; i < nvmas && r == 0; i++) {
		struct vma *v = &vmas[i];
		if (v->end <= start || v->start >= end || v->kind == VMA_SHARED)
			continue;
		if (v->kind == VMA_FILE) {
			r = -EINVAL;
			break;
		}
		uint64_t a = v->start > start ? v->start : start;
		uint64_t b = v->end < end ? v->end : end;
		long m = abi->vm_alloc((void *)a, b - a, v->prot, MOAT_MAP_FIXED);
		r = m < 0 ? m : 0;
	}
	spin_unlock(&vma_lock);
	return r;
}

/* Unmap everything the app had: the first step of execve. */
void vma_clear_all(void)
{
	spin_lock(&vma_lock);
	for (int i = 0; i < nvmas; i++)
		abi->vm_free((void *)vmas[i].start, vmas[i].end - vmas[i].start);
	nvmas = 0;
	spin_unlock(&vma_lock);
}

/* The mapping holding addr (0 if none). */
int vma_lookup(uint64_t addr, struct vma_info *out)
{
	int found = 0;
	spin_lock(&vma_lock);
	int lo = 0, hi = nvmas - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		if (addr < vmas[mid].start) {
			hi = mid - 1;
		} else if (addr >= vmas[mid].end) {
			lo = mid + 1;
		} else {
			const struct vma *v = &vmas[mid];
			*out = (struct vma_info){ v->start, v->end, v->prot, v->kind,
						  v->offset, v->name };
			found = 1;
			break;
		}
	}
	spin_unlock(&vma_lock);
	return found;
}

/* Is [addr, addr + len) readable memory of the file 'name' (interned),
 * mapped privately, in one or more adjacent mappings? */
int vma_readable(uint64_t addr, uint64_t len, const char *name)
{
	uint64_t end = addr + len;
	if (end < addr)
		return 0;
	while (addr < end) {
		struct vma_info v;
		if (!vma_lookup(addr, &v) || v.kind != VMA_FILE || v.name != name ||
		    !(v.prot & MOAT_PROT_READ))
			return 0;
		addr = v.end;
	}
	return 1;
}

/* Where the image of file 'name' that holds address 'below' starts: the
 * highest private mapping of the file at offset 0 not above it. */
uint64_t vma_image_base(const char *name, uint64_t below)
{
	uint64_t base = 0;
	spin_lock(&vma_lock);
	for (int i = 0; i < nvmas && vmas[i].start <= below; i++)
		if (vmas[i].name == name && vmas[i].kind == VMA_FILE && vmas[i].offset == 0)
			base = vmas[i].start;
	spin_unlock(&vma_lock);
	return base;
}

/* /proc/self/maps, in Linux's format (device and inode are not shown). */
void vma_print(void (*put)(void *ctx, const char *line), void *ctx)
{
	char line[600];
	spin_lock(&vma_lock);
	for (int i = 0; i < nvmas; i++) {
		const struct vma *v = &vmas[i];
		rt_snprintf(line, sizeof(line), "%08lx-%08lx %c%c%c%c %08lx 00:00 0%s%s\n",
			    v->start, v->end, v->prot & MOAT_PROT_READ ? 'r' : '-',
			    v->prot & MOAT_PROT_WRITE ? 'w' : '-',
			    v->prot & MOAT_PROT_EXEC ? 'x' : '-',
			    v->kind == VMA_SHARED ? 's' : 'p', v->offset,
			    v->name ? "                          " : "",
			    v->name ? v->name : "");
		put(ctx, line);
	}
	spin_unlock(&vma_lock);
}

/* Is every page of [start, end) mapped for the app?  (mincore) */
int vma_covers(uint64_t start, uint64_t end)
{
	spin_lock(&vma_lock);
	for (int i = 0; i < nvmas && start < end; i++)
		if (vmas[i].start <= start && vmas[i].end > start)
			start = vmas[i].end;
	spin_unlock(&vma_lock);
	return start >= end;
}

void vma_fork_lock(void) { spin_lock(&vma_lock); }
void vma_fork_unlock(void) { spin_unlock(&vma_lock); }
