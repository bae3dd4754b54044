/*
 * vma.c -- the app's memory map, as the LibOS knows it.
 *
 * Every mapping made for the app (program image, stack, brk, mmap) is
 * recorded here, and nothing the PAL or LibOS allocates for itself is.
 * execve uses it to remove the old program without touching the LibOS;
 * it is also what a checkpoint will walk.  A sorted array of disjoint
 * [start, end) ranges: programs have hundreds, not millions.
 */
#include "libos.h"

#define MAX_VMAS 8192

struct vma { uint64_t start, end; };

static struct vma vmas[MAX_VMAS];
static int nvmas;
static volatile int vma_lock;

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
			v[1] = (struct vma){ end, v->end };
			v->end = start;
			nvmas++;
			return;
		}
		if (v->start < start) {
			v->end = start;
		} else if (v->end > end) {
			v->start = end;
		} else {
			memmove(v, v + 1, (size_t)(nvmas - i - 1) * sizeof(*v));
			nvmas--;
			i--;
		}
	}
}

void vma_add(uint64_t start, uint64_t len)
{
	uint64_t end = start + RT_ALIGN_UP(len, 4096);
	spin_lock(&vma_lock);
	remove_locked(start, end);
	int i = 0;
	while (i < nvmas && vmas[i].start < start)
		i++;
	if (i > 0 && vmas[i - 1].end == start) {
		vmas[i - 1].end = end; /* extend the neighbour below */
		if (i < nvmas && vmas[i].start == end) {
			vmas[i - 1].end = vmas[i].end;
			memmove(&vmas[i], &vmas[i + 1], (size_t)(nvmas - i - 1) * sizeof(vmas[0]));
			nvmas--;
		}
	} else if (i < nvmas && vmas[i].start == end) {
		vmas[i].start = start;
	} else if (nvmas < MAX_VMAS) {
		memmove(&vmas[i + 1], &vmas[i], (size_t)(nvmas - i) * sizeof(vmas[0]));
		vmas[i] = (struct vma){ start, end };
		nvmas++;
	} else {
		klog("vma: map full; %p will survive exec", (void *)start);
	}
	spin_unlock(&vma_lock);
}

void vma_remove(uint64_t start, uint64_t len)
{
	spin_lock(&vma_lock);
	remove_locked(start, start + RT_ALIGN_UP(len, 4096));
	spin_unlock(&vma_lock);
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
