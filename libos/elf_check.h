/*
 * elf_check.h -- validation of an ELF program's headers, before the
 * loader (elf.c) maps anything.
 *
 * Pure functions over the bytes read from the file: no I/O, no allocation
 * and no libc, so that the same code is compiled into the LibOS and into
 * the host-side fuzzer (tests/fuzz/fuzz_elf.c).  What passes guarantees
 * the loader's arithmetic: no sum overflows, every PT_LOAD lies in user
 * space inside [lo, hi) and (for ET_EXEC) outside the reserved range, its
 * file bytes and the program headers and PT_INTERP lie inside the file.
 */
#ifndef LIBOS_ELF_CHECK_H
#define LIBOS_ELF_CHECK_H

#include <linux/elf.h>
#include <stdint.h>

#define ELF_CHECK_PAGE 4096UL
/* The highest address a user mapping may end at (47-bit user space). */
#define ELF_CHECK_USER_TOP 0x7ffffffff000UL
/* Most program headers the loader reads. */
#define ELF_CHECK_MAX_PHNUM 32
/* Longest PT_INTERP, with its NUL. */
#define ELF_CHECK_INTERP_MAX 256

struct elf_layout {
	uint64_t lo, hi;   /* page-aligned span of the PT_LOAD segments */
	int interp;        /* index of PT_INTERP, or -1 */
};

/* The ELF header alone: magic, 64-bit, x86-64, ET_EXEC or ET_DYN, and a
 * program-header table of 1..ELF_CHECK_MAX_PHNUM entries of the right
 * size that lies inside a file of 'file_size' bytes.  0 or -1. */
int elf_check_header(const struct elf64_hdr *eh, uint64_t file_size);

/* The program headers (eh->e_phnum of them), for a file of 'file_size'
 * bytes.  ET_EXEC segments must not touch [reserved_lo, reserved_hi),
 * where the picoprocess's own image lives; an ET_DYN image is placed by
 * the loader at an address the host picks, so its span must only fit in
 * user space.  Fills *out; 0 or -1. */
int elf_check_phdrs(const struct elf64_hdr *eh, const struct elf64_phdr *ph,
		    uint64_t file_size, uint64_t reserved_lo,
		    uint64_t reserved_hi, struct elf_layout *out);

#endif /* LIBOS_ELF_CHECK_H */
