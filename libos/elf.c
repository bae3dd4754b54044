/*
 * elf.c -- load an ELF program (static, static-PIE, or dynamic with its
 * PT_INTERP) from a stream, build the initial stack, and jump to it.
 */
#include <linux/auxvec.h>
#include <linux/elf.h>
#include <linux/fcntl.h>

#include "libos.h"
#include "elf_check.h"

#define PAGE 4096UL
#define STACK_SIZE (8UL << 20)
#define PIE_BASE 0x555555554000UL
#define INTERP_BASE 0x7f0000000000UL

struct image {
	uint64_t base;      /* load bias */
	uint64_t entry;
	uint64_t phdr;      /* address of the program headers in memory */
	uint16_t phnum;
	uint64_t end;       /* highest mapped address (for brk) */
	char interp[ELF_CHECK_INTERP_MAX];
};

static long read_exact(moat_handle h, uint64_t off, void *buf, size_t len)
{
	long r = abi->stream_read(h, off, buf, len);
	return r == (long)len ? 0 : -ENOEXEC;
}

static uint32_t prot_of(uint32_t pflags)
{
	return (pflags & PF_R ? MOAT_PROT_READ : 0) |
	       (pflags & PF_W ? MOAT_PROT_WRITE : 0) |
	       (pflags & PF_X ? MOAT_PROT_EXEC : 0);
}

/* Map one PT_LOAD segment, zero-filling its bss. */
static long map_segment(moat_handle h, const struct elf64_phdr *ph,
			uint64_t base, const char *path)
{
	uint64_t start = RT_ALIGN_DOWN(base + ph->p_vaddr, PAGE);
	uint64_t file_end = base + ph->p_vaddr + ph->p_filesz;
	uint64_t mem_end = RT_ALIGN_UP(base + ph->p_vaddr + ph->p_memsz, PAGE);
	uint64_t off = RT_ALIGN_DOWN(ph->p_offset, PAGE);
	uint32_t prot = prot_of(ph->p_flags);
	long r;

	if (ph->p_filesz) {
		uint64_t len = RT_ALIGN_UP(file_end, PAGE) - start;
		r = abi->stream_map(h, (void *)start, off, len,
				    prot | MOAT_PROT_WRITE, MOAT_MAP_FIXED);
		if (r < 0)
			return r;
		vma_add(start, len, prot, VMA_FILE, off, path);
		/* Zero the tail of the last file page if it belongs to bss. */
		if (ph->p_memsz > ph->p_filesz && (file_end & (PAGE - 1)))
			memset((void *)file_end, 0,
			       PAGE - (file_end & (PAGE - 1)));
		if (!(prot & MOAT_PROT_WRITE))
			abi->vm_protect((void *)start, len, prot);
		start = RT_ALIGN_UP(file_end, PAGE);
	}
	if (mem_end > start) {
		r = abi->vm_alloc((void *)start, mem_end - start, prot,
				  MOAT_MAP_FIXED);
		if (r < 0)
			return r;
		vma_add(start, mem_end - start, prot, VMA_ANON, 0, NULL);
	}
	return 0;
}

/* A static program has no .eh_frame_hdr (PT_GNU_EH_FRAME); tell the
 * rewriter (rewrite.c) where its .eh_frame is, from the section headers.
 * Any doubt: nothing is noted, and the image's sites keep trapping. */
static void note_eh_frame(moat_handle h, const struct elf64_hdr *eh,
			  const struct elf64_phdr *ph, const struct image *img,
			  uint64_t lo, uint64_t hi, uint64_t file_size)
{
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_GNU_EH_FRAME)
			return; /* found through the program headers */
	if (!rewrite_enabled() || eh->e_shentsize != sizeof(struct elf64_shdr) ||
	    eh->e_shnum == 0 || eh->e_shnum > 256 || eh->e_shstrndx >= eh->e_shnum ||
	    eh->e_shoff > file_size ||
	    eh->e_shnum * sizeof(struct elf64_shdr) > file_size - eh->e_shoff)
		return;
	size_t n = eh->e_shnum * sizeof(struct elf64_shdr);
	struct elf64_shdr *sh = kmalloc(n);
	if (!sh)
		return;
	char names[4096];
	const struct elf64_shdr *str = &sh[eh->e_shstrndx];
	if (read_exact(h, eh->e_shoff, sh, n) == 0 && str->sh_offset < file_size) {
		size_t len = str->sh_size < sizeof(names) - 1 ? str->sh_size : sizeof(names) - 1;
		long r = abi->stream_read(h, str->sh_offset, names, len);
		names[r > 0 ? r : 0] = 0;
		for (int i = 0; r > 0 && i < eh->e_shnum; i++) {
			if (sh[i].sh_name >= (uint64_t)r || strcmp(names + sh[i].sh_name, ".eh_frame") ||
			    !(sh[i].sh_flags & SHF_ALLOC) || sh[i].sh_addr < lo ||
			    sh[i].sh_size > hi - sh[i].sh_addr)
				continue;
			rewrite_note_eh_frame(img->base + lo, img->base + hi,
					      img->base + sh[i].sh_addr, sh[i].sh_size);
			break;
		}
	}
	kfree(sh);
}

static long load_image(const char *path, uint64_t pie_base, struct image *img)
{
	struct elf64_hdr eh;
	struct elf64_phdr ph[ELF_CHECK_MAX_PHNUM];
	struct moat_attr attr;
	struct elf_layout lay;
	moat_handle h;
	long r = fs_open_stream(path, O_RDONLY, 0, &h);
	if (r < 0)
		return r;
	r = abi->stream_attr_query_by_handle(h, &attr);
	if (r == 0)
		r = read_exact(h, 0, &eh, sizeof(eh));
	if (r == 0 && elf_check_header(&eh, attr.size) < 0)
		r = -ENOEXEC;
	if (r == 0)
		r = read_exact(h, eh.e_phoff, ph, eh.e_phnum * sizeof(ph[0]));
	if (r == 0 && elf_check_phdrs(&eh, ph, attr.size, boot->image_start,
				      boot->image_end, &lay) < 0)
		r = -ENOEXEC;
	if (r < 0)
		goto out;

	uint64_t lo = lay.lo, hi = lay.hi;
	img->base = 0;
	/* Reserve the whole span so segments land together, and (ET_EXEC)
	 * so that they never replace memory the LibOS or PAL holds. */
	r = abi->vm_alloc((void *)(eh.e_type == ET_DYN ? pie_base : lo), hi - lo,
			  MOAT_PROT_NONE, eh.e_type == ET_DYN ? 0 : MOAT_MAP_NOREPLACE);
	if (r < 0) {
		r = eh.e_type == ET_DYN ? r : -ENOEXEC;
		goto out;
	}
	vma_add((uint64_t)r, hi - lo, MOAT_PROT_NONE, VMA_ANON, 0, NULL);
	if (eh.e_type == ET_DYN)
		img->base = (uint64_t)r - lo;
	img->interp[0] = 0;
	img->phdr = 0;
	for (int i = 0; i < eh.e_phnum && r >= 0; i++) {
		if (ph[i].p_type == PT_LOAD)
			r = map_segment(h, &ph[i], img->base, path);
		else if (ph[i].p_type == PT_PHDR)
			img->phdr = img->base + ph[i].p_vaddr;
		else if (ph[i].p_type == PT_INTERP) {
			if (read_exact(h, ph[i].p_offset, img->interp,
				       ph[i].p_filesz) < 0)
				r = -ENOEXEC;
			else
				img->interp[ph[i].p_filesz] = 0;
		}
	}
	if (r < 0)
		goto out;
	if (!img->phdr) /* no PT_PHDR: the headers sit in the first segment */
		img->phdr = img->base + lo + eh.e_phoff;
	img->phnum = eh.e_phnum;
	img->entry = img->base + eh.e_entry;
	img->end = img->base + hi;
	note_eh_frame(h, &eh, ph, img, lo, hi, attr.size);
	r = 0;
out:
	abi->object_close(h);
	return r;
}

static uint64_t cpu_hwcap(void)
{
	uint32_t a = 1, b, c, d;
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
	return d;
}

/* Push the strings, auxv, envp, argv and argc onto a fresh stack. */
static uint64_t build_stack(char **argv, char **envp, const struct image *exe,
			    const struct image *interp)
{
	long r = abi->vm_alloc(0, STACK_SIZE, MOAT_PROT_READ | MOAT_PROT_WRITE, 0);
	if (r < 0)
		libos_panic("cannot allocate the program's stack");
	vma_add((uint64_t)r, STACK_SIZE, MOAT_PROT_READ | MOAT_PROT_WRITE, VMA_ANON, 0,
		"[stack]");
	char *top = (char *)r + STACK_SIZE;
	int argc = 0, envc = 0;
	while (argv[argc])
		argc++;
	while (envp[envc])
		envc++;

	char **uargv = kmalloc((argc + envc + 2) * sizeof(char *));
	char **uenvp = uargv + argc + 1;
	for (int i = envc - 1; i >= 0; i--) {
		size_t n = strlen(envp[i]) + 1;
		top -= n;
		memcpy(top, envp[i], n);
		uenvp[i] = top;
	}
	for (int i = argc - 1; i >= 0; i--) {
		size_t n = strlen(argv[i]) + 1;
		top -= n;
		memcpy(top, argv[i], n);
		uargv[i] = top;
	}
	size_t n = strlen(proc.exe_path) + 1;
	top -= n;
	memcpy(top, proc.exe_path, n);
	char *execfn = top;
	top -= 7;
	memcpy(top, "x86_64", 7);
	char *platform = top;
	top = (char *)RT_ALIGN_DOWN((uint64_t)top, 16) - 16;
	abi->random_bits(top, 16);
	char *random = top;

	uint64_t auxv[][2] = {
		{ AT_PHDR, exe->phdr }, { AT_PHENT, sizeof(struct elf64_phdr) },
		{ AT_PHNUM, exe->phnum }, { AT_PAGESZ, PAGE },
		{ AT_BASE, interp ? interp->base : 0 }, { AT_FLAGS, 0 },
		{ AT_ENTRY, exe->entry }, { AT_UID, proc.uid },
		{ AT_EUID, proc.euid }, { AT_GID, proc.gid },
		{ AT_EGID, proc.egid }, { AT_SECURE, 0 },
		{ AT_RANDOM, (uint64_t)random }, { AT_HWCAP, cpu_hwcap() },
		{ AT_HWCAP2, 0 }, { AT_CLKTCK, 100 },
		{ AT_EXECFN, (uint64_t)execfn },
		{ AT_PLATFORM, (uint64_t)platform }, { AT_NULL, 0 },
	};
	size_t words = 1 + argc + 1 + envc + 1 + 2 * RT_ARRAY_LEN(auxv);
	uint64_t *sp = (uint64_t *)RT_ALIGN_DOWN((uint64_t)top - words * 8, 16);
	uint64_t *p = sp;
	*p++ = (uint64_t)argc;
	for (int i = 0; i <= argc; i++)
		*p++ = i < argc ? (uint64_t)uargv[i] : 0;
	for (int i = 0; i <= envc; i++)
		*p++ = i < envc ? (uint64_t)uenvp[i] : 0;
	memcpy(p, auxv, sizeof(auxv));
	kfree(uargv);
	return (uint64_t)sp;
}

/* Load 'path' (absolute, virtual) with a new stack.  On success the
 * program is in memory and *entry, *sp say where to start it. */
long exec_load(const char *path, char **argv, char **envp, uint64_t *entry,
	       uint64_t *sp)
{
	struct image exe, interp;
	long r = load_image(path, PIE_BASE, &exe);
	if (r < 0)
		return r;
	rt_strlcpy(proc.exe_path, path, sizeof(proc.exe_path));
	const struct image *ip = 0;
	if (exe.interp[0]) {
		r = load_image(exe.interp, INTERP_BASE, &interp);
		if (r < 0) {
			klog("cannot load interpreter %s of %s: error %ld",
			     exe.interp, path, -r);
			return r;
		}
		ip = &interp;
	}
	proc.brk_start = proc.brk_cur = proc.brk_end = exe.end;
	*sp = build_stack(argv, envp, &exe, ip);
	*entry = ip ? interp.entry : exe.entry;
	klog("exec %s entry %p sp %p", path, (void *)*entry, (void *)*sp);
	return 0;
}

_Noreturn void exec_jump(uint64_t entry, uint64_t sp)
{
	__asm__ volatile("mov %0, %%rsp\n\t"
			 "xor %%edx, %%edx\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "jmp *%1"
			 :
			 : "D"(sp), "S"(entry)
			 : "memory");
	__builtin_unreachable();
}
