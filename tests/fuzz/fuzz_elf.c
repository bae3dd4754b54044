/*
 * fuzz_elf.c -- libFuzzer target: the ELF loader's header checks.
 *
 * The input is a program file's size (8 bytes, little-endian) and then
 * its first bytes: the loader reads only the headers and PT_INTERP, and
 * maps the rest, so a seed need not hold a whole program.  A header the
 * input does not hold is a short read (ENOEXEC).  libos/elf_check.c, the same
 * source the LibOS is built from, validates its ELF header and program
 * headers as libos/elf.c does before it maps anything.  When the checks
 * pass, this target replays the loader's arithmetic (map_segment in
 * elf.c) and traps if any promise of elf_check.h is broken: a sum that
 * wraps, a segment outside [lo, hi) or user space, an ET_EXEC segment on
 * the picoprocess's own image, file bytes or PT_INTERP beyond the file.
 */
#include <stdint.h>
#include <string.h>

#include "../../libos/elf_check.h"

#define PAGE ELF_CHECK_PAGE
#define PIE_BASE 0x555555554000UL
/* Where moat-pico lies (pal/linux/pico.ld); 16 MiB is more than it needs. */
#define PICO_LO 0x6f0000000000UL
#define PICO_HI (PICO_LO + (16UL << 20))

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct elf64_hdr eh;
	struct elf64_phdr ph[ELF_CHECK_MAX_PHNUM];
	struct elf_layout lay;
	uint64_t size;
	if (len < 8 + sizeof(eh))
		return 0;
	memcpy(&size, data, 8);
	data += 8, len -= 8;
	if (size < len)
		size = len;
	memcpy(&eh, data, sizeof(eh));
	if (elf_check_header(&eh, size) < 0)
		return 0;
	size_t table = eh.e_phnum * sizeof(ph[0]);
	REQUIRE(eh.e_phnum >= 1 && eh.e_phnum <= ELF_CHECK_MAX_PHNUM);
	REQUIRE(eh.e_phoff <= size && table <= size - eh.e_phoff);
	if (eh.e_phoff > len || table > len - eh.e_phoff)
		return 0; /* a short read */
	memcpy(ph, data + eh.e_phoff, table);
	if (elf_check_phdrs(&eh, ph, size, PICO_LO, PICO_HI, &lay) < 0)
		return 0;

	REQUIRE(lay.lo < lay.hi && lay.hi <= ELF_CHECK_USER_TOP);
	REQUIRE(!(lay.lo & (PAGE - 1)) && !(lay.hi & (PAGE - 1)));
	/* ET_DYN: the span is reserved where the host finds room for it,
	 * at the hint if it fits below the top of user space (mmap without
	 * MAP_FIXED); ET_EXEC: at its own addresses. */
	uint64_t span = lay.hi - lay.lo, where = PIE_BASE;
	if (where + span > ELF_CHECK_USER_TOP)
		where = ELF_CHECK_USER_TOP - span;
	if (eh.e_type == ET_EXEC)
		where = lay.lo;
	/* the load bias; it may wrap (where < lo), as in elf.c */
	uint64_t base = where - lay.lo;
	if (eh.e_type == ET_EXEC)
		REQUIRE(lay.lo >= PAGE && (lay.hi <= PICO_LO || lay.lo >= PICO_HI));
	int loads = 0;
	for (int i = 0; i < eh.e_phnum; i++) {
		const struct elf64_phdr *p = &ph[i];
		if (p->p_type == PT_INTERP) {
			REQUIRE(i == lay.interp);
			REQUIRE(p->p_filesz < ELF_CHECK_INTERP_MAX);
			REQUIRE(p->p_offset <= size && p->p_filesz <= size - p->p_offset);
			continue;
		}
		if (p->p_type != PT_LOAD)
			continue;
		loads++;
		/* map_segment's numbers */
		uint64_t va = base + p->p_vaddr;
		uint64_t start = va & ~(PAGE - 1);
		uint64_t file_end = va + p->p_filesz;
		uint64_t mem_end = (va + p->p_memsz + PAGE - 1) & ~(PAGE - 1);
		uint64_t off = p->p_offset & ~(PAGE - 1);
		REQUIRE(p->p_filesz <= p->p_memsz);
		REQUIRE(p->p_vaddr >= lay.lo && file_end >= va && mem_end >= file_end);
		REQUIRE(start >= where && mem_end <= where + span);
		REQUIRE(mem_end <= ELF_CHECK_USER_TOP);
		REQUIRE(p->p_offset <= size && p->p_filesz <= size - p->p_offset);
		/* the file pages mapped start at 'off', in step with 'start' */
		REQUIRE(va - start == p->p_offset - off);
	}
	REQUIRE(loads >= 1);
	return 0;
}
