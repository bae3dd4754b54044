/*
 * elf_check.c -- see elf_check.h.  Freestanding: built into the LibOS
 * and, unchanged, into the host fuzzer.
 */
#include "elf_check.h"

#define PAGE ELF_CHECK_PAGE

/* a + b into *sum; 1 if it wrapped. */
static int add_overflows(uint64_t a, uint64_t b, uint64_t *sum)
{
	return __builtin_add_overflow(a, b, sum);
}

int elf_check_header(const struct elf64_hdr *eh, uint64_t file_size)
{
	static const unsigned char magic[4] = { 0x7f, 'E', 'L', 'F' };
	uint64_t table, end;
	for (int i = 0; i < 4; i++)
		if (eh->e_ident[i] != magic[i])
			return -1;
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64 ||
	    (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) ||
	    eh->e_phentsize != sizeof(struct elf64_phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > ELF_CHECK_MAX_PHNUM)
		return -1;
	table = (uint64_t)eh->e_phnum * sizeof(struct elf64_phdr);
	if (add_overflows(eh->e_phoff, table, &end) || end > file_size)
		return -1;
	return 0;
}

static int check_load(const struct elf64_phdr *p, uint64_t file_size)
{
	uint64_t end;
	if (p->p_filesz > p->p_memsz)
		return -1;
	/* The file offset and the address must agree within the page, or
	 * the page-granular map would put the bytes at the wrong place. */
	if ((p->p_offset & (PAGE - 1)) != (p->p_vaddr & (PAGE - 1)))
		return -1;
	if (add_overflows(p->p_offset, p->p_filesz, &end) || end > file_size)
		return -1;
	if (add_overflows(p->p_vaddr, p->p_memsz, &end) || end > ELF_CHECK_USER_TOP)
		return -1;
	return 0;
}

int elf_check_phdrs(const struct elf64_hdr *eh, const struct elf64_phdr *ph,
		    uint64_t file_size, uint64_t reserved_lo,
		    uint64_t reserved_hi, struct elf_layout *out)
{
	uint64_t lo = ~0UL, hi = 0, end;
	out->interp = -1;
	for (int i = 0; i < eh->e_phnum; i++) {
		const struct elf64_phdr *p = &ph[i];
		if (p->p_type == PT_INTERP) {
			if (out->interp >= 0 || p->p_filesz < 2 ||
			    p->p_filesz >= ELF_CHECK_INTERP_MAX ||
			    add_overflows(p->p_offset, p->p_filesz, &end) ||
			    end > file_size)
				return -1;
			out->interp = i;
			continue;
		}
		if (p->p_type != PT_LOAD)
			continue;
		if (check_load(p, file_size) < 0)
			return -1;
		if (p->p_vaddr < lo)
			lo = p->p_vaddr;
		if (p->p_vaddr + p->p_memsz > hi)
			hi = p->p_vaddr + p->p_memsz;
	}
	if (lo >= hi) /* no PT_LOAD with memory */
		return -1;
	lo &= ~(PAGE - 1);
	hi = (hi + PAGE - 1) & ~(PAGE - 1); /* hi <= USER_TOP: no wrap */
	if (eh->e_type == ET_EXEC) {
		/* Mapped where it says, with MAP_FIXED: keep it off the
		 * picoprocess's own image and out of the first page. */
		if (lo < PAGE || (lo < reserved_hi && hi > reserved_lo))
			return -1;
	}
	out->lo = lo;
	out->hi = hi;
	return 0;
}
