/*
 * rewrite.c -- hot 'syscall' sites become jumps into the LibOS.
 *
 * Every 'syscall' the app executes first arrives as a trap (SIGSYS), as
 * always.  After the LibOS has answered it, rewrite_site() looks at the
 * instructions right before the 'syscall' at S.  It takes the shortest
 * run [F, S) of whole instructions whose first is at least 5 bytes long
 * and whose every instruction is relocatable() -- proven to start on an
 * instruction boundary (see below), and able to run elsewhere: plain
 * moves and ALU forms, a rip-relative operand re-aimed at the same
 * address, a conditional jump at the same target.  When S lies in a
 * private, read-only, executable file mapping of an ELF image, the first
 * instruction of the run, and only it, is replaced by a 'jmp rel32' to a
 * stub (padded with int3 to its length).  The other instructions of the
 * run and the 'syscall' bytes stay: a branch or a signal return to any
 * of them runs them in place and traps at S as before, and there is no
 * instruction boundary under the jump.  glibc's read, 'cmpb $0,
 * __libc_single_threaded(%rip); je 1f; xor %eax,%eax; syscall', is such a
 * run of three.  The stub, in a page of stubs within +-2 GiB of S, runs:
 *
 *     <the run, re-aimed>           e.g. mov $39, %eax  or  cmpb; je; xor
 *     lea   -128(%rsp), %rsp        step over the app's red zone
 *     call  *slot(%rip)             libos_fast_entry (context.S)
 *     .quad S + 2                   where the call returns to
 *
 * libos_fast_entry builds a struct moat_context on the thread's fast-path
 * stack and calls libos_fast_syscall() below, which answers the call with
 * syscall_dispatch() -- no kernel entry for calls the LibOS answers, one
 * (through the gate) for calls that need the host -- and returns to S + 2.
 *
 * The proof that the moved instruction starts on an instruction boundary:
 * the function holding S is found through the image's .eh_frame_hdr
 * (binary search for the FDE covering S), and decoded forward from its
 * first byte with an instruction-length decoder; the decode must land on
 * every instruction of the run and on S, must reach the end of the
 * function exactly, and every direct branch in the function must target
 * an instruction start found by the decode.  The jump covers one
 * instruction, which has no interior instruction boundary, so no branch
 * (direct, indirect, from a .cold part elsewhere) and no interrupted
 * thread can be inside it.  No FDE, an unknown opcode, or any doubt: no
 * patch, and the site keeps trapping, which is always correct.
 *
 * What the trap path got from the kernel and the fast path must do itself:
 *  - vector state: the LibOS, PAL and runtime are built with
 *    -mgeneral-regs-only, so the app's xmm/ymm registers are live and
 *    untouched throughout a fast call;
 *  - signals: the fast path runs with host signals open.  One that lands
 *    in LibOS code is marked pending and noted in the thread
 *    (thread_note_signal); when a signal is deliverable at the end of a
 *    call, the fast path executes 'ud2' at libos_fast_escalate, and the
 *    resulting host trap (rewrite_fault) delivers it from the full host
 *    context, with the vector state the kernel saved -- the same frame
 *    the trap path builds.  A signal that lands in the last instructions
 *    of the return path is restarted (rewrite_interrupt);
 *  - system calls that need the trap frame or never return (the
 *    never-patch list below) are sent back to S, where they trap.
 *
 * Patching: the page is made writable (not executable) with vm_protect,
 * written, and made executable again.  Another thread that runs into the
 * page meanwhile faults, waits in rewrite_fault, and retries.  With more
 * than one thread the bytes are written by one locked 8-byte cmpxchg, or
 * one locked cmpxchg16b, and only when they lie in one aligned 8- or
 * 16-byte block (choose_window prefers a run whose first instruction
 * does).
 */
#include <asm/unistd.h>

#include "libos.h"

#define STUB_SIZE 64
#define STUB_PAGE 4096
#define MAX_STUB_PAGES 64

void libos_fast_entry(void);
extern char libos_fast_exit[], libos_fast_exit_jmp[], libos_fast_redo[],
	libos_fast_escalate[];

struct stub_page {
	uint64_t base;
	unsigned used; /* stubs handed out */
};

static struct stub_page stub_pages[MAX_STUB_PAGES];
static int nstub_pages;
static volatile int rewrite_lock;
static unsigned long patched_sites;
/* Pages being patched: a thread faulting there waits and retries. */
static volatile uint64_t busy_pages[3];
/* Sites looked at and left alone, so a hot unpatchable site is not
 * decoded again on every trap (direct-mapped; a miss only costs time). */
#define REJECT_SLOTS 1024
static uint64_t rejected[REJECT_SLOTS];

/* Images without .eh_frame_hdr (static programs): where their .eh_frame
 * is (elf.c), and a table of their FDEs sorted by start, built on first
 * use. */
struct eh_image {
	uint64_t lo, hi, eh, size;
	uint64_t (*table)[2]; /* (pc_begin, fde address) */
	uint64_t count;
	int built;
};
#define MAX_EH_IMAGES 4
static struct eh_image eh_images[MAX_EH_IMAGES];

void rewrite_note_eh_frame(uint64_t lo, uint64_t hi, uint64_t eh_frame, uint64_t size)
{
	for (int i = 0; i < MAX_EH_IMAGES; i++) {
		if (eh_images[i].size)
			continue;
		eh_images[i] = (struct eh_image){ lo, hi, eh_frame, size, NULL, 0, 0 };
		return;
	}
}

int rewrite_enabled(void)
{
	return !(boot->flags & MOAT_BOOT_NO_REWRITE);
}

/* System calls that keep trapping, wherever they come from. */
static int never_patch(uint64_t nr)
{
	switch (nr) {
	case __NR_rt_sigreturn: case __NR_clone: case __NR_clone3:
	case __NR_fork: case __NR_vfork: case __NR_execve: case __NR_execveat:
	case __NR_exit: case __NR_exit_group: case __NR_sigaltstack:
		return 1;
	default:
		return nr >= 1024; /* x32 and garbage: the trap path decides */
	}
}

/* ------------------------------------------------------------------ */
/* Instruction lengths (x86-64, 64-bit mode).  No semantics beyond what */
/* relocatable() and the branch check need.                              */

struct insn {
	int len;
	int map;            /* 0: one-byte, 1: 0f, 2: 0f38, 3: 0f3a, 4: VEX/EVEX */
	uint8_t op;
	uint8_t rex;
	uint8_t modrm;
	int has_modrm;
	int modrm_off;      /* where the ModRM byte is */
	int p66, p67, plock, prep, pseg;
	int rip_rel;
	int rel_len;        /* 1 or 4: a direct branch */
	int64_t rel;
	int indirect_jmp;   /* ff /4, ff /5 */
};

enum { M = 1, I8 = 2, IZ = 4, I16 = 8, R8 = 16, R32 = 32, BAD = 64, IV = 128,
       MOFFS = 256, GRP3 = 512, I16I8 = 1024 };

static unsigned flags_map0(uint8_t op)
{
	if (op < 0x40) {
		switch (op & 7) {
		case 0: case 1: case 2: case 3: return M;
		case 4: return I8;
		case 5: return IZ;
		default: return BAD; /* 06, 07, ...; prefixes were taken before */
		}
	}
	if (op <= 0x5f)
		return 0;
	switch (op) {
	case 0x63: return M;
	case 0x68: return IZ;
	case 0x69: return M | IZ;
	case 0x6a: return I8;
	case 0x6b: return M | I8;
	case 0x6c: case 0x6d: case 0x6e: case 0x6f: return 0;
	case 0x80: case 0x83: return M | I8;
	case 0x81: return M | IZ;
	case 0x9a: return BAD;
	case 0xa0: case 0xa1: case 0xa2: case 0xa3: return MOFFS;
	case 0xa8: return I8;
	case 0xa9: return IZ;
	case 0xc0: case 0xc1: case 0xc6: return M | I8;
	case 0xc2: case 0xca: return I16;
	case 0xc7: return M | IZ;
	case 0xc8: return I16I8;
	case 0xcd: return I8;
	case 0xce: case 0xd4: case 0xd5: case 0xd6: case 0xea: return BAD;
	case 0xe8: case 0xe9: return R32;
	case 0xeb: return R8;
	case 0xf6: case 0xf7: return M | GRP3;
	case 0xfe: case 0xff: return M;
	}
	if (op >= 0x70 && op <= 0x7f)
		return R8;
	if (op >= 0x84 && op <= 0x8f)
		return M;
	if (op >= 0xb0 && op <= 0xb7)
		return I8;
	if (op >= 0xb8 && op <= 0xbf)
		return IV;
	if (op >= 0xd0 && op <= 0xd3)
		return M;
	if (op >= 0xd8 && op <= 0xdf)
		return M;
	if (op >= 0xe0 && op <= 0xe3)
		return R8;
	if (op >= 0xe4 && op <= 0xe7)
		return I8;
	if (op == 0x60 || op == 0x61 || op == 0x62 || op == 0x82)
		return BAD;
	return 0; /* 90-9f, a4-af, c3, c9, cb, cc, cf, d7, ec-ef, f1, f4, f5, f8-fd */
}

static unsigned flags_map1(uint8_t op)
{
	switch (op) {
	case 0x04: case 0x0a: case 0x0c: case 0x24: case 0x25: case 0x26:
	case 0x27: case 0x36: case 0x39: case 0x3b: case 0x3c: case 0x3d:
	case 0x3e: case 0x3f: case 0xa6: case 0xa7:
		return BAD;
	case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0b:
	case 0x0e: case 0x77: case 0xa0: case 0xa1: case 0xa2: case 0xa8:
	case 0xa9: case 0xaa:
		return 0;
	case 0x0f: case 0xa4: case 0xac: case 0xba: case 0xc2: case 0xc4:
	case 0xc5: case 0xc6:
		return M | I8;
	}
	if (op >= 0x30 && op <= 0x37)
		return 0;
	if (op >= 0x70 && op <= 0x73)
		return M | I8;
	if (op >= 0x80 && op <= 0x8f)
		return R32;
	if (op >= 0xc8 && op <= 0xcf)
		return 0;
	return M;
}

/* Decode one instruction at p (at most 'avail' bytes readable).
 * Returns its length, or -1 if it is not one this decoder knows. */
static int decode(const uint8_t *p, size_t avail, struct insn *in)
{
	size_t i = 0;
	unsigned f;
	*in = (struct insn){ 0 };
	if (avail > 15)
		avail = 15;
	for (;; i++) {
		if (i >= avail)
			return -1;
		uint8_t b = p[i];
		if (b == 0x66) in->p66 = 1;
		else if (b == 0x67) in->p67 = 1; /* same ModRM layout in 64-bit mode */
		else if (b == 0xf0) in->plock = 1;
		else if (b == 0xf2 || b == 0xf3) in->prep = 1;
		else if (b == 0x2e || b == 0x36 || b == 0x3e || b == 0x26 ||
			 b == 0x64 || b == 0x65) in->pseg = 1;
		else break;
	}
	if ((p[i] & 0xf0) == 0x40) {
		in->rex = p[i++];
		if (i >= avail)
			return -1;
		uint8_t b = p[i];
		if (b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3 ||
		    b == 0x2e || b == 0x36 || b == 0x3e || b == 0x26 || b == 0x64 ||
		    b == 0x65 || (b & 0xf0) == 0x40)
			return -1; /* a prefix after REX: not what compilers emit */
	}
	uint8_t op = p[i++];
	uint8_t esc = op;
	if (op == 0x0f) {
		if (i >= avail)
			return -1;
		op = p[i++];
		if (op == 0x38 || op == 0x3a) {
			in->map = op == 0x38 ? 2 : 3;
			if (i >= avail)
				return -1;
			op = p[i++];
			f = in->map == 2 ? M : M | I8;
		} else {
			in->map = 1;
			f = flags_map1(op);
		}
	} else if (op == 0xc4 || op == 0xc5 || op == 0x62) {
		/* VEX (2 or 3 bytes) or EVEX (4 bytes); REX/66/F2/F3 before it
		 * are invalid. */
		if (in->rex || in->p66 || in->prep || in->plock)
			return -1;
		int map;
		if (op == 0xc5) {
			map = 1;
			i += 1;
		} else if (op == 0xc4) {
			if (i >= avail)
				return -1;
			map = p[i] & 0x1f;
			i += 2;
		} else {
			if (i >= avail)
				return -1;
			map = p[i] & 0x07;
			i += 3;
		}
		if (i >= avail || map < 1 || map > 6 || map == 4)
			return -1;
		op = p[i++];
		in->map = 4;
		if (map == 1 && op == 0x77 && esc != 0x62)
			f = 0; /* vzeroupper / vzeroall */
		else if (map == 3)
			f = M | I8;
		else if (map == 1 && ((op >= 0x70 && op <= 0x73) || op == 0xc2 ||
				      (op >= 0xc4 && op <= 0xc6)))
			f = M | I8;
		else
			f = M;
	} else {
		if (op == 0x8f && i < avail && (p[i] & 0x38))
			return -1; /* AMD XOP */
		f = flags_map0(op);
	}
	in->op = op;
	if (f & BAD)
		return -1;
	if (f & M) {
		if (i >= avail)
			return -1;
		in->modrm_off = (int)i;
		uint8_t m = p[i++];
		in->has_modrm = 1;
		in->modrm = m;
		unsigned mod = m >> 6, rm = m & 7;
		if (mod != 3 && rm == 4) {
			if (i >= avail)
				return -1;
			uint8_t sib = p[i++];
			if (mod == 0 && (sib & 7) == 5)
				i += 4;
		}
		if (mod == 0 && rm == 5) {
			i += 4;
			in->rip_rel = 1;
		} else if (mod == 1) {
			i += 1;
		} else if (mod == 2) {
			i += 4;
		}
		if (in->map == 0 && op == 0xff && ((m >> 3) & 7) >= 4 && ((m >> 3) & 7) <= 5)
			in->indirect_jmp = 1;
		if ((f & GRP3) && ((m >> 3) & 7) < 2)
			f |= op == 0xf6 ? I8 : IZ;
	}
	if (f & I8) i += 1;
	if (f & I16) i += 2;
	if (f & I16I8) i += 3;
	if (f & IZ) i += in->p66 ? 2 : 4;
	if (f & IV) i += (in->rex & 8) ? 8 : in->p66 ? 2 : 4;
	if (f & MOFFS) i += in->p67 ? 4 : 8;
	if (f & (R8 | R32)) {
		if (in->p66)
			return -1; /* 16-bit branch targets: not in compiled code */
		size_t n = f & R8 ? 1 : 4;
		if (i + n > avail)
			return -1;
		in->rel_len = (int)n;
		in->rel = n == 1 ? (int8_t)p[i] : (int32_t)((uint32_t)p[i] | (uint32_t)p[i + 1] << 8 |
							   (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24);
		i += n;
	}
	/* xbegin (c7 f8 rel32) is a branch too. */
	if (in->map == 0 && op == 0xc7 && in->modrm == 0xf8) {
		if (in->p66)
			return -1;
		in->rel_len = 4;
		in->rel = (int32_t)((uint32_t)p[i - 4] | (uint32_t)p[i - 3] << 8 |
				    (uint32_t)p[i - 2] << 16 | (uint32_t)p[i - 1] << 24);
	}
	if (i > avail)
		return -1;
	in->len = (int)i;
	return (int)i;
}

static int is_jcc(const struct insn *in)
{
	return in->rel_len && ((in->map == 0 && in->op >= 0x70 && in->op <= 0x7f) ||
			       (in->map == 1 && in->op >= 0x80 && in->op <= 0x8f));
}

/* Can this instruction run in a stub instead of in place?  Plain moves
 * and ALU forms that neither branch, nor write the stack pointer; a
 * rip-relative operand is re-aimed at the same address (make_stub), and
 * a conditional jump at the same target; no lock/rep prefixes. */
static int relocatable(const struct insn *in)
{
	if (in->plock || in->prep)
		return 0;
	if (in->rel_len) /* jcc only: no prefix, no REX (hints: not emitted) */
		return is_jcc(in) && !in->rex && !in->pseg && !in->p66 && !in->p67;
	unsigned reg = ((in->modrm >> 3) & 7) | (in->rex & 4 ? 8 : 0);
	unsigned rm = (in->modrm & 7) | (in->rex & 1 ? 8 : 0);
	int mod3 = (in->modrm >> 6) == 3;
	uint8_t op = in->op;
	if (in->map == 1) /* movzx, movsx */
		return (op == 0xb6 || op == 0xb7 || op == 0xbe || op == 0xbf) && reg != 4;
	if (in->map != 0)
		return 0;
	if (op >= 0xb8 && op <= 0xbf)           /* mov $imm, %reg */
		return ((op & 7) | (in->rex & 1 ? 8 : 0)) != 4;
	if (op < 0x40 && (op & 7) <= 3) {       /* add or adc sbb and sub xor cmp */
		if (op >= 0x38)
			return 1;               /* cmp: flags only */
		return op & 2 ? reg != 4 : !(mod3 && rm == 4);
	}
	switch (op) {
	case 0x88: case 0x89:                   /* r -> r/m */
		return !(mod3 && rm == 4);
	case 0x8a: case 0x8b: case 0x8d: case 0x63: /* r/m -> r */
		return reg != 4;
	case 0xc6: case 0xc7:                   /* mov $imm, r/m */
		return ((in->modrm >> 3) & 7) == 0 && !(mod3 && rm == 4);
	case 0x80: case 0x81: case 0x83:        /* ALU $imm, r/m */
		return ((in->modrm >> 3) & 7) == 7 || !(mod3 && rm == 4);
	case 0xf6: case 0xf7:                   /* test $imm, r/m */
		return ((in->modrm >> 3) & 7) == 0;
	case 0x84: case 0x85:
		return 1;                       /* test: flags only */
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Finding the function that holds a site: .eh_frame_hdr.              */

static int rd(uint64_t a, void *out, size_t n, const char *name)
{
	if (!vma_readable(a, n, name))
		return -1;
	memcpy(out, (const void *)a, n);
	return 0;
}

static int rd_uleb(uint64_t *a, uint64_t end, uint64_t *out, const char *name)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t b;
		if (*a >= end || rd(*a, &b, 1, name) < 0)
			return -1;
		(*a)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

/* Read a pointer in DWARF EH encoding 'enc' at *a (pcrel, absolute or
 * datarel relative to 'data'; 4 or 8 bytes). */
static int rd_enc(uint64_t *a, uint8_t enc, uint64_t data, uint64_t bias,
		  uint64_t *out, const char *name)
{
	uint64_t field = *a, v;
	switch (enc & 0x0f) {
	case 0x03: { uint32_t x; if (rd(field, &x, 4, name)) return -1; v = x; *a += 4; break; }
	case 0x0b: { int32_t x; if (rd(field, &x, 4, name)) return -1; v = (uint64_t)(int64_t)x; *a += 4; break; }
	case 0x00: case 0x04: case 0x0c:
		if (rd(field, &v, 8, name))
			return -1;
		*a += 8;
		break;
	default: return -1;
	}
	switch (enc & 0x70) {
	case 0x00: v += bias; break; /* absolute: as linked */
	case 0x10: v += field; break;
	case 0x30: v += data; break;
	default: return -1;
	}
	*out = v;
	return 0;
}

#define PT_LOAD_K 1
#define PT_GNU_EH_FRAME_K 0x6474e550
#define PF_X_K 1

struct phdr64 {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* The last CIE parsed (FDEs share a few), valid within one
 * find_function call only: memory may hold another image next time. */
static uint64_t last_cie, last_bias;
static uint8_t last_enc;
static const char *last_name;
static int cie_cache_valid;

/* Parse the FDE at fde: the range of code it covers. */
static int parse_fde(uint64_t fde, uint64_t bias, const char *name, uint64_t *begin,
		     uint64_t *range)
{
	/* The FDE: length, CIE pointer, pc_begin, pc_range (encoding from
	 * the CIE's 'R' augmentation). */
	uint32_t fl[2];
	if (rd(fde, fl, 8, name) || fl[0] == 0 || fl[0] == 0xffffffffu || fl[1] == 0)
		return -1;
	uint64_t cie = fde + 4 - fl[1];
	uint8_t fde_enc = 0; /* absptr */
	if (cie_cache_valid && cie == last_cie && bias == last_bias && name == last_name) {
		fde_enc = last_enc;
	} else {
		uint32_t cl[2];
		if (rd(cie, cl, 8, name) || cl[0] == 0 || cl[0] == 0xffffffffu || cl[1] != 0)
			return -1;
		uint64_t cend = cie + 4 + cl[0], c = cie + 8;
		uint8_t ver;
		char aug[8];
		if (rd(c++, &ver, 1, name) || (ver != 1 && ver != 3))
			return -1;
		size_t n = 0;
		for (;; n++) {
			if (n == sizeof(aug) || c >= cend || rd(c++, &aug[n], 1, name))
				return -1;
			if (!aug[n])
				break;
		}
		uint64_t skip;
		if (rd_uleb(&c, cend, &skip, name) || rd_uleb(&c, cend, &skip, name))
			return -1; /* code and data alignment */
		if (ver == 1)
			c++;
		else if (rd_uleb(&c, cend, &skip, name))
			return -1;
		if (aug[0] == 'z') {
			if (rd_uleb(&c, cend, &skip, name))
				return -1;
			for (size_t k = 1; aug[k]; k++) {
				uint8_t b;
				if (aug[k] == 'R') {
					if (rd(c++, &fde_enc, 1, name))
						return -1;
				} else if (aug[k] == 'L') {
					c++;
				} else if (aug[k] == 'P') {
					uint64_t pers;
					if (rd(c++, &b, 1, name) ||
					    rd_enc(&c, b & 0x7f, 0, bias, &pers, name))
						return -1;
				} else if (aug[k] != 'S' && aug[k] != 'B') {
					return -1;
				}
			}
		} else if (aug[0]) {
			return -1;
		}
		last_cie = cie, last_bias = bias, last_name = name, last_enc = fde_enc;
		cie_cache_valid = 1;
	}
	uint64_t p = fde + 8;
	if (rd_enc(&p, fde_enc, 0, bias, begin, name) ||
	    rd_enc(&p, fde_enc & 0x0f, 0, 0, range, name))
		return -1;
	return 0;
}

/* Taken around find_function: the CIE cache and the FDE tables. */
static volatile int eh_lock;
/* Taken around check_site: its bitmap of instruction starts. */
static volatile int starts_lock;

/* The FDE covering site in an image noted by elf.c (no .eh_frame_hdr). */
static uint64_t fde_from_eh_frame(uint64_t site, uint64_t bias, const char *name)
{
	struct eh_image *im = NULL;
	for (int i = 0; i < MAX_EH_IMAGES; i++)
		if (eh_images[i].size && site >= eh_images[i].lo && site < eh_images[i].hi)
			im = &eh_images[i];
	if (!im)
		return 0;
	if (!im->built) {
		im->built = 1;
		uint64_t n = 0, cap = 256, a = im->eh, end = im->eh + im->size;
		uint64_t (*t)[2] = kmalloc(cap * sizeof(*t));
		while (t && a + 8 <= end) {
			uint32_t h[2];
			if (rd(a, h, 8, name) || h[0] == 0xffffffffu)
				break;
			if (h[0] == 0)
				break; /* terminator */
			uint64_t begin, range;
			if (h[1] != 0 && parse_fde(a, bias, name, &begin, &range) == 0) {
				if (n == cap) {
					uint64_t (*bigger)[2] = kmalloc(2 * cap * sizeof(*t));
					if (!bigger)
						break;
					memcpy(bigger, t, n * sizeof(*t));
					kfree(t);
					t = bigger;
					cap *= 2;
				}
				/* insertion sort: .eh_frame is nearly sorted */
				uint64_t j = n++;
				while (j > 0 && t[j - 1][0] > begin) {
					t[j][0] = t[j - 1][0], t[j][1] = t[j - 1][1];
					j--;
				}
				t[j][0] = begin, t[j][1] = a;
			}
			a += 4 + (uint64_t)h[0];
		}
		im->table = t;
		im->count = t ? n : 0;
	}
	int64_t lo = 0, hi = (int64_t)im->count - 1, hit = -1;
	while (lo <= hi) {
		int64_t mid = (lo + hi) / 2;
		if (im->table[mid][0] <= site) {
			hit = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return hit < 0 ? 0 : im->table[hit][1];
}

/* [*fn_start, *fn_end) of the function holding site, from the image's
 * .eh_frame_hdr (or .eh_frame); 0 on success. */
static int find_function(uint64_t site, const char *name, uint64_t *fn_start,
			 uint64_t *fn_end)
{
	uint64_t base = vma_image_base(name, site);
	if (!base)
		return -1;
	uint8_t eh[64];
	if (rd(base, eh, sizeof(eh), name) || memcmp(eh, "\177ELF\2\1", 6))
		return -1;
	uint16_t type, phentsize, phnum;
	uint64_t phoff;
	memcpy(&type, eh + 16, 2);
	memcpy(&phoff, eh + 32, 8);
	memcpy(&phentsize, eh + 54, 2);
	memcpy(&phnum, eh + 56, 2);
	if ((type != 2 && type != 3) || phentsize != sizeof(struct phdr64) ||
	    phnum == 0 || phnum > 64)
		return -1;
	struct phdr64 ph[64];
	if (rd(base + phoff, ph, phnum * sizeof(ph[0]), name))
		return -1;
	uint64_t first = UINT64_MAX, hdr = 0;
	for (int i = 0; i < phnum; i++) {
		if (ph[i].type == PT_LOAD_K && ph[i].offset == 0 && first == UINT64_MAX)
			first = ph[i].vaddr;
		if (ph[i].type == PT_GNU_EH_FRAME_K)
			hdr = ph[i].vaddr;
	}
	if (first == UINT64_MAX)
		return -1;
	uint64_t bias = base - (first & ~4095ULL);
	int in_text = 0;
	for (int i = 0; i < phnum; i++)
		if (ph[i].type == PT_LOAD_K && (ph[i].flags & PF_X_K) &&
		    site >= bias + ph[i].vaddr && site + 2 <= bias + ph[i].vaddr + ph[i].memsz)
			in_text = 1;
	if (!in_text)
		return -1;
	uint64_t fde;
	if (!hdr) {
		fde = fde_from_eh_frame(site, bias, name);
		if (!fde)
			return -1;
	} else {
		hdr += bias;
		/* .eh_frame_hdr: version 1, eh_frame_ptr, fde_count, a sorted
		 * table of (initial location, FDE address), datarel sdata4. */
		uint8_t h[4];
		if (rd(hdr, h, 4, name) || h[0] != 1 || h[3] != 0x3b)
			return -1;
		uint64_t a = hdr + 4, ignore, count;
		if (rd_enc(&a, h[1], hdr, bias, &ignore, name) ||
		    rd_enc(&a, h[2], hdr, 0, &count, name) || count == 0 || count > (1u << 22))
			return -1;
		uint64_t table = a;
		int64_t lo = 0, hi = (int64_t)count - 1, hit = -1;
		while (lo <= hi) {
			int64_t mid = (lo + hi) / 2;
			int32_t e[2];
			if (rd(table + (uint64_t)mid * 8, e, 8, name))
				return -1;
			if (hdr + (uint64_t)(int64_t)e[0] <= site) {
				hit = mid;
				lo = mid + 1;
			} else {
				hi = mid - 1;
			}
		}
		if (hit < 0)
			return -1;
		int32_t e[2];
		if (rd(table + (uint64_t)hit * 8, e, 8, name))
			return -1;
		fde = hdr + (uint64_t)(int64_t)e[1];
	}
	uint64_t begin, range;
	if (parse_fde(fde, bias, name, &begin, &range) < 0)
		return -1;
	if (begin > site || range == 0 || range > (1u << 20) || begin + range < site + 2)
		return -1;
	*fn_start = begin;
	*fn_end = begin + range;
	return 0;
}

static int locked_find_function(uint64_t site, const char *name, uint64_t *fn_start,
				uint64_t *fn_end)
{
	spin_lock(&eh_lock);
	cie_cache_valid = 0;
	int r = find_function(site, name, fn_start, fn_end);
	spin_unlock(&eh_lock);
	return r;
}

/* ------------------------------------------------------------------ */
/* The proof for one site.                                              */

/* At most this many instructions move to a stub, taking at most
 * WINDOW_BYTES there (a conditional jump grows to 6 bytes); the stub adds
 * 19 bytes of its own. */
#define WINDOW_MAX 8
#define WINDOW_BYTES (STUB_SIZE - 19)

/* Does [a, a + len) lie in one aligned block of 'unit' bytes, so that one
 * locked compare-and-exchange writes it? */
static int in_block(uint64_t a, uint64_t len, uint64_t unit)
{
	return (a & ~(unit - 1)) == ((a + len - 1) & ~(unit - 1));
}

/* cmpxchg16b is there (CPUID.1:ECX.CX16): asked once. */
static int has_cx16(void)
{
	static int known; /* 1: no, 2: yes */
	if (!known) {
		uint32_t a = 1, b, c, d;
		__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
		known = c & (1u << 13) ? 2 : 1;
	}
	return known == 2;
}

/* How the first instruction of a run can be overwritten while other
 * threads run: 0 in one locked 8-byte store, 1 in one locked 16-byte
 * store, 2 only with one thread. */
static int write_rank(uint64_t a, uint64_t len)
{
	return in_block(a, len, 8) ? 0 : in_block(a, len, 16) && has_cx16() ? 1 : 2;
}

/* Which instructions before the 'syscall' at site move to the stub.  The
 * run [from, site) of whole instructions starts with one of at least 5
 * bytes -- the 'jmp rel32' overwrites only that one, so the run has no
 * instruction boundary under the jump -- and every instruction of it is
 * relocatable().  The instructions after the first stay in place as
 * well, so a branch (or a signal return) to any of them runs them there
 * and traps at the 'syscall' as before.  Of the runs that qualify, the
 * one whose first instruction can be written most safely with threads
 * running (write_rank), then the shortest.  starts[] holds the
 * instruction starts before site, nearest first. */
static int choose_window(const uint64_t *starts, int n, uint64_t site, uint64_t *from,
			 const char **why)
{
	uint64_t end = site;
	int bytes = 0, best = 3;
	struct insn in;
	*why = "no instruction of 5 bytes or more just before it";
	for (int j = 0; j < n && best > 0; j++) {
		uint64_t a = starts[j];
		if (decode((const uint8_t *)a, end - a, &in) != (int)(end - a))
			break;
		if (!relocatable(&in)) {
			if (best == 3)
				*why = j ? "an instruction before it cannot move"
					 : "the instruction before it cannot move";
			break;
		}
		bytes += is_jcc(&in) ? 6 : in.len;
		if (bytes > WINDOW_BYTES)
			break;
		if (in.len >= 5 && write_rank(a, (uint64_t)in.len) < best) {
			best = write_rank(a, (uint64_t)in.len);
			*from = a;
		}
		end = a;
	}
	return best < 3 ? 0 : -1;
}

/* Decode [start, end) (which holds site); on success [*from, site) are
 * the instructions to move (choose_window), and *last is where the one
 * right before the 'syscall' starts. */
static int check_site(uint64_t start, uint64_t end, uint64_t site, uint64_t *from,
		      uint64_t *last, const char **why)
{
	size_t size = end - start;
	/* A bitmap of instruction starts, for the branch-target check. */
	static uint8_t starts[(1u << 20) / 8];
	int ok = 0;
	spin_lock(&starts_lock);
	memset(starts, 0, (size + 7) / 8);
	uint64_t a = start;
	uint64_t recent[WINDOW_MAX], before[WINDOW_MAX]; /* ring; nearest first */
	int nrecent = 0, nbefore = 0, saw_site = 0;
	struct insn in;
	*why = "decode";
	while (a < end) {
		if (decode((const uint8_t *)a, end - a, &in) < 0)
			goto out;
		starts[(a - start) / 8] |= (uint8_t)(1 << ((a - start) % 8));
		if (a == site) {
			if (in.len != 2 || ((const uint8_t *)a)[0] != 0x0f ||
			    ((const uint8_t *)a)[1] != 0x05 || !nrecent)
				goto out;
			saw_site = 1;
			nbefore = nrecent < WINDOW_MAX ? nrecent : WINDOW_MAX;
			for (int j = 0; j < nbefore; j++)
				before[j] = recent[(nrecent - 1 - j) % WINDOW_MAX];
		}
		recent[nrecent++ % WINDOW_MAX] = a;
		a += (uint64_t)in.len;
	}
	*why = "no instruction boundary at the site";
	if (a != end || !saw_site)
		goto out;
	/* Every direct branch must land on an instruction start (or leave
	 * the function: a tail call, or a jump to a .cold part). */
	*why = "branch into the middle of an instruction";
	for (a = start; a < end; a += (uint64_t)in.len) {
		decode((const uint8_t *)a, end - a, &in);
		if (!in.rel_len)
			continue;
		uint64_t t = a + (uint64_t)in.len + (uint64_t)in.rel;
		if (t >= start && t < end &&
		    !(starts[(t - start) / 8] & (1 << ((t - start) % 8))))
			goto out;
	}
	if (choose_window(before, nbefore, site, from, why) < 0)
		goto out;
	*last = before[0];
	*why = NULL;
	ok = 1;
out:
	spin_unlock(&starts_lock);
	return ok ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Stubs and patching.                                                  */

static int64_t dist(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b);
}

static int near(uint64_t stub, uint64_t from)
{
	int64_t d = dist(stub, from);
	return d > -0x7ff00000LL && d < 0x7ff00000LL;
}

/* Bumped whenever a page is made writable for patching. */
static volatile uint64_t patch_epoch;

static void busy(int i, uint64_t page)
{
	if (page)
		__atomic_add_fetch(&patch_epoch, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&busy_pages[i], page, __ATOMIC_SEQ_CST);
}

/* A page for stubs within reach of site: one we have, or a new one. */
static struct stub_page *stub_page_near(uint64_t site)
{
	for (int i = 0; i < nstub_pages; i++)
		if (stub_pages[i].used < STUB_PAGE / STUB_SIZE - 1 &&
		    near(stub_pages[i].base, site) &&
		    near(stub_pages[i].base + STUB_PAGE, site))
			return &stub_pages[i];
	if (nstub_pages == MAX_STUB_PAGES)
		return NULL;
	/* Below the image first, close to it, then further down; above it
	 * only far away (256 MiB to 1 GiB), clear of where a program's brk
	 * heap grows. */
	uint64_t around = site & ~0xffffULL;
	for (int k = 0; k < 32 + 9 + 3; k++) {
		uint64_t d = k < 32 ? (uint64_t)(k + 1) << 16
			   : k < 41 ? 4ULL << (20 + k - 32)
			   : 1ULL << (30 - (k - 41));
		int up = k >= 41;
		uint64_t at = up ? around + d : around - d;
		if (!up && (around < d || at < (1ULL << 16)))
			continue;
		if (at >= (1ULL << 47) - STUB_PAGE)
			continue;
		long r = abi->vm_alloc((void *)at, STUB_PAGE,
				       MOAT_PROT_READ | MOAT_PROT_WRITE, MOAT_MAP_NOREPLACE);
		if (r < 0)
			continue;
		if ((uint64_t)r != at) { /* a kernel that took it as a hint */
			abi->vm_free((void *)r, STUB_PAGE);
			continue;
		}
		struct stub_page *sp = &stub_pages[nstub_pages++];
		sp->base = (uint64_t)r;
		sp->used = 0;
		/* The first 8 bytes: where the stubs' 'call' goes. */
		*(uint64_t *)sp->base = (uint64_t)libos_fast_entry;
		abi->vm_protect((void *)sp->base, STUB_PAGE,
				MOAT_PROT_READ | MOAT_PROT_EXEC);
		vma_add(sp->base, STUB_PAGE, MOAT_PROT_READ | MOAT_PROT_EXEC,
			VMA_ANON, 0, "[moat-stubs]");
		return sp;
	}
	return NULL;
}

/* Copy the instructions [from, site) to code + *n, which will be at
 * stub + *n: a conditional jump becomes a 'jcc rel32' to the same
 * target, a rip-relative operand keeps its address.  -1 if one cannot be
 * re-aimed from the stub (more than 2 GiB away). */
static int emit_window(uint8_t *code, int *n, uint64_t stub, uint64_t from, uint64_t site)
{
	struct insn in;
	for (uint64_t a = from; a < site; a += (uint64_t)in.len) {
		if (decode((const uint8_t *)a, site - a, &in) < 0 || !relocatable(&in) ||
		    *n + (in.rel_len ? 6 : in.len) > WINDOW_BYTES)
			return -1;
		uint64_t at = stub + (uint64_t)*n;
		if (in.rel_len) {
			int64_t rel = dist(a + (uint64_t)in.len + (uint64_t)in.rel, at + 6);
			int32_t r32 = (int32_t)rel;
			if (rel != r32)
				return -1;
			code[(*n)++] = 0x0f;
			code[(*n)++] = (uint8_t)(0x80 | (in.op & 0x0f));
			memcpy(code + *n, &r32, 4);
			*n += 4;
			continue;
		}
		memcpy(code + *n, (const void *)a, (size_t)in.len);
		if (in.rip_rel) { /* disp32 right after ModRM: no SIB with rip */
			uint8_t *d = code + *n + in.modrm_off + 1;
			int32_t d32;
			memcpy(&d32, d, 4);
			int64_t nd = (int64_t)d32 + dist(a, at);
			d32 = (int32_t)nd;
			if (nd != d32)
				return -1;
			memcpy(d, &d32, 4);
		}
		*n += in.len;
	}
	return 0;
}

/* Write the stub for site, the instructions [from, site) moved into it. */
static uint64_t make_stub(struct stub_page *sp, uint64_t from, uint64_t site)
{
	uint64_t stub = sp->base + STUB_SIZE * (1 + sp->used);
	uint8_t code[STUB_SIZE];
	int n = 0;
	if (emit_window(code, &n, stub, from, site) < 0)
		return 0;
	static const uint8_t lea[] = { 0x48, 0x8d, 0x64, 0x24, 0x80 }; /* lea -128(%rsp),%rsp */
	memcpy(code + n, lea, sizeof(lea));
	n += (int)sizeof(lea);
	code[n++] = 0xff; /* call *slot(%rip) */
	code[n++] = 0x15;
	int32_t rel = (int32_t)dist(sp->base, stub + (uint64_t)n + 4);
	memcpy(code + n, &rel, 4);
	n += 4;
	uint64_t ret = site + 2;
	memcpy(code + n, &ret, 8);
	n += 8;
	while (n < STUB_SIZE)
		code[n++] = 0xcc;
	busy(2, sp->base);
	long r = abi->vm_protect((void *)sp->base, STUB_PAGE, MOAT_PROT_READ | MOAT_PROT_WRITE);
	if (r == 0)
		memcpy((void *)stub, code, STUB_SIZE);
	abi->vm_protect((void *)sp->base, STUB_PAGE, MOAT_PROT_READ | MOAT_PROT_EXEC);
	busy(2, 0);
	if (r < 0)
		return 0;
	sp->used++;
	return stub;
}

static void reject(uint64_t site)
{
	rejected[(site >> 1) % REJECT_SLOTS] = site;
}

static void say(uint64_t site, const struct vma_info *v, const char *what, const char *why)
{
	if (boot->flags & MOAT_BOOT_TRACE)
		klog("rewrite: site %p (%s+0x%lx): %s%s%s", (void *)site,
		     v && v->name ? v->name : "?", v ? site - v->start + v->offset : 0,
		     what, why ? ": " : "", why ? why : "");
}

/* ------------------------------------------------------------------ */
/* Counts for --debug: what traps, what is answered through rewritten   */
/* sites, and which sites are left alone (rewrite_report at exit).      */

static unsigned long n_traps, n_never, n_fast;
static int stats_pid;
struct lone_site {
	uint64_t site, off;
	unsigned long traps;
	const char *why;
	char image[32];
};
#define LONE_SITES 32
static struct lone_site lone[LONE_SITES];
static int nlone;
static volatile int stats_lock;

static int counting(void)
{
	if (!(boot->flags & MOAT_BOOT_DEBUG))
		return 0;
	if (stats_pid != proc.pid) { /* a forked child counts its own */
		stats_pid = proc.pid;
		n_traps = n_never = n_fast = 0;
		nlone = 0;
	}
	return 1;
}

/* A trap at a site left alone (why != NULL: just now, with v). */
static void count_lone(uint64_t site, const struct vma_info *v, const char *why)
{
	if (!counting())
		return;
	spin_lock(&stats_lock);
	int i = 0;
	while (i < nlone && lone[i].site != site)
		i++;
	if (i == nlone && i < LONE_SITES && why) {
		const char *name = v && v->name ? v->name : "?", *slash = strrchr(name, '/');
		lone[i] = (struct lone_site){ site, v ? site - v->start + v->offset : 0, 0, why, { 0 } };
		rt_strlcpy(lone[i].image, slash ? slash + 1 : name, sizeof(lone[i].image));
		nlone++;
	}
	if (i < nlone)
		lone[i].traps++;
	spin_unlock(&stats_lock);
}

static void count_trap(uint64_t nr)
{
	if (!counting())
		return;
	__atomic_add_fetch(&n_traps, 1, __ATOMIC_RELAXED);
	if (never_patch(nr))
		__atomic_add_fetch(&n_never, 1, __ATOMIC_RELAXED);
}

/* Under --debug, at exit and execve: the counts of this process image. */
void rewrite_report(void)
{
	if (!counting())
		return;
	spin_lock(&stats_lock);
	unsigned long lone_traps = 0;
	for (int i = 0; i < nlone; i++)
		lone_traps += lone[i].traps;
	klog("rewrite: pid %d: %lu calls trapped (%lu never rewritten: clone, exit, "
	     "sigreturn...; %lu at %d sites left alone), %lu fast calls, %lu sites patched",
	     proc.pid, n_traps, n_never, lone_traps, nlone, n_fast, patched_sites);
	/* The ten sites that trapped most, most first. */
	for (int k = 0; k < 10 && k < nlone; k++) {
		int best = k;
		for (int i = k + 1; i < nlone; i++)
			if (lone[i].traps > lone[best].traps)
				best = i;
		struct lone_site t = lone[k];
		lone[k] = lone[best];
		lone[best] = t;
		klog("rewrite:   %lu traps at %s+0x%lx: %s", lone[k].traps, lone[k].image,
		     lone[k].off, lone[k].why);
	}
	spin_unlock(&stats_lock);
}

/* A site that stays on the trap path: said under --trace, remembered. */
static void leave(uint64_t site, const struct vma_info *v, const char *why)
{
	say(site, v, "left alone", why);
	reject(site);
	count_lone(site, v, why);
}

/* After a trapped call from the 'syscall' at site: patch it if it is
 * safe to (see the top comment). */
void rewrite_site(uint64_t site, uint64_t nr)
{
	count_trap(nr);
	if (!rewrite_enabled() || never_patch(nr) || !thread_has_fast_stack())
		return;
	if (rejected[(site >> 1) % REJECT_SLOTS] == site) {
		count_lone(site, NULL, NULL);
		return;
	}
	struct vma_info v;
	const char *why = NULL;
	uint64_t fn_start, fn_end, from = 0, last = 0;
	if (!vma_lookup(site, &v) || v.kind != VMA_FILE || !v.name ||
	    (v.prot & (MOAT_PROT_WRITE | MOAT_PROT_EXEC | MOAT_PROT_READ)) !=
		    (MOAT_PROT_EXEC | MOAT_PROT_READ) ||
	    site < v.start + 16 || site + 2 > v.end) {
		why = "not in a private read-only file mapping";
	} else if (locked_find_function(site, v.name, &fn_start, &fn_end) < 0) {
		why = "no function found through .eh_frame_hdr or .eh_frame";
	} else if (fn_start < v.start || fn_end > v.end) {
		why = "function crosses mappings";
	} else if (check_site(fn_start, fn_end, site, &from, &last, &why) < 0) {
		;
	} else if (site - last == 5 && ((const uint8_t *)site)[-5] == 0xb8 &&
		   *(const uint32_t *)(site - 4) != nr) {
		why = "mov $imm, %eax is not the number that trapped";
	} else if (site - last == 2 && (((const uint8_t *)site)[-2] | 2) == 0x33 &&
		   ((const uint8_t *)site)[-1] == 0xc0 && nr != 0) {
		why = "xor %eax, %eax is not the number that trapped";
	}
	if (why) {
		leave(site, &v, why);
		return;
	}

	/* Only the first instruction of [from, site) is overwritten: a
	 * 'jmp rel32' padded with int3 to its length. */
	struct insn first;
	int len = decode((const uint8_t *)from, site - from, &first);
	size_t wlen = site - from;
	uint8_t orig[64], patch[16];
	if (len < 5 || wlen > sizeof(orig))
		return; /* cannot be: check_site decoded it */
	memcpy(orig, (const void *)from, wlen);
	uint64_t to = from + (uint64_t)len - 1; /* the last byte written */
	int rank = write_rank(from, (uint64_t)len);
	if (rank == 2 && thread_count() > 1) {
		leave(site, &v, "threads run, and the bytes straddle an aligned 16-byte block");
		return;
	}

	spin_lock(&rewrite_lock);
	if (memcmp((const void *)from, orig, wlen) || ((const uint8_t *)from)[0] == 0xe9) {
		spin_unlock(&rewrite_lock); /* another thread got here first */
		return;
	}
	struct stub_page *sp = stub_page_near(from);
	uint64_t stub = sp ? make_stub(sp, from, site) : 0;
	if (!stub) {
		spin_unlock(&rewrite_lock);
		leave(site, &v, sp ? "an operand or target out of reach of the stub"
				   : "no stub page within 2 GiB");
		return;
	}
	patch[0] = 0xe9;
	int32_t rel = (int32_t)dist(stub, from + 5);
	memcpy(patch + 1, &rel, 4);
	for (int i = 5; i < len; i++)
		patch[i] = 0xcc;

	uint64_t p0 = from & ~4095ULL, p1 = to & ~4095ULL;
	busy(0, p0);
	busy(1, p1);
	long r = abi->vm_protect((void *)p0, p1 + 4096 - p0, MOAT_PROT_READ | MOAT_PROT_WRITE);
	if (r == 0) {
		if (rank == 0) {
			/* One locked 8-byte store: other cores see either. */
			uint64_t *w = (uint64_t *)(from & ~7ULL);
			uint64_t old = *w, nw = old;
			memcpy((uint8_t *)&nw + (from & 7), patch, (size_t)len);
			__atomic_compare_exchange_n(w, &old, nw, 0, __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST);
		} else if (rank == 1) {
			/* One locked 16-byte store. */
			uint64_t *w = (uint64_t *)(from & ~15ULL), nw[2];
			uint64_t lo = w[0], hi = w[1];
			nw[0] = lo, nw[1] = hi;
			memcpy((uint8_t *)nw + (from & 15), patch, (size_t)len);
			__asm__ volatile("lock cmpxchg16b %0"
					 : "+m"(*(volatile __int128 *)w), "+a"(lo), "+d"(hi)
					 : "b"(nw[0]), "c"(nw[1])
					 : "memory", "cc");
		} else {
			memcpy((void *)from, patch, (size_t)len); /* single-threaded */
		}
	}
	abi->vm_protect((void *)p0, p1 + 4096 - p0, v.prot);
	busy(0, 0);
	busy(1, 0);
	if (r == 0)
		patched_sites++;
	spin_unlock(&rewrite_lock);
	if (r == 0)
		say(site, &v, "patched", NULL);
	else
		leave(site, &v, "cannot write the page");
}

/* fork: while the PAL copies the process, no other thread has a page
 * open for patching (the child would inherit it writable, and the lock
 * held by a thread it does not have). */
void rewrite_fork_begin(void)
{
	spin_lock(&eh_lock);
	spin_lock(&starts_lock);
	spin_lock(&rewrite_lock);
}

void rewrite_fork_end(void)
{
	/* in the parent and in the child */
	spin_unlock(&rewrite_lock);
	spin_unlock(&starts_lock);
	spin_unlock(&eh_lock);
}

/* execve: the old image, its stub pages (freed with the app's mappings)
 * and what we learnt about it are gone. */
void rewrite_reset(void)
{
	rewrite_report();
	n_traps = n_never = n_fast = patched_sites = 0;
	nlone = 0;
	for (int i = 0; i < MAX_EH_IMAGES; i++)
		kfree(eh_images[i].table);
	memset(eh_images, 0, sizeof(eh_images));
	nstub_pages = 0;
	memset(rejected, 0, sizeof(rejected));
}

/* ------------------------------------------------------------------ */
/* The fast path (entered from libos_fast_entry, context.S).            */

/* Returns 1 when a signal is to be delivered: context.S then traps into
 * rewrite_fault through libos_fast_escalate. */
int libos_fast_syscall(struct moat_context *ctx)
{
	uint64_t nr = ctx->rax;
	if (never_patch(nr)) {
		ctx->rip -= 2; /* back to the 'syscall': it traps */
		return 0;
	}
	if (counting())
		__atomic_add_fetch(&n_fast, 1, __ATOMIC_RELAXED);
	thread_clear_signal_note();
	ctx->rax = (uint64_t)syscall_dispatch(ctx);
	thread_clear_signal_note();
	if (signal_deliverable())
		return 1;
	signal_settle(ctx);
	return 0;
}

/* A synchronous host trap.  Returns 1 if it was the fast path's: a
 * signal to deliver (ud2 at libos_fast_escalate), or another thread
 * running into a page being patched. */
int rewrite_fault(struct moat_exception *e)
{
	struct moat_context *c = e->ctx;
	if (e->kind == MOAT_EXC_ILLEGAL && c->rip == (uint64_t)libos_fast_escalate) {
		/* rdi: the app's context; rsi: 1 if a system call returns.
		 * Deliver from here, where the host saved the app's vector
		 * state (the LibOS touches none). */
		const struct moat_context *app = (const void *)c->rdi;
		int in_syscall = (int)c->rsi;
		void *fp = c->fpstate;
		uint64_t fsbase = c->fsbase, sigmask = c->sigmask;
		*c = *app;
		c->fpstate = fp, c->fsbase = fsbase, c->sigmask = sigmask;
		signal_deliver(c, in_syscall);
		return 1;
	}
	if (e->kind == MOAT_EXC_MEMFAULT && rewrite_enabled() &&
	    e->fault_addr >= c->rip && e->fault_addr < c->rip + 16) {
		/* An instruction fetch that failed: perhaps in a page that was
		 * writable, not executable, while a site or stub in it was
		 * written.  Wait for that to end; if the page is executable
		 * now, run the instruction again (a few times at most with no
		 * patching in between: a fault that stays is the app's). */
		uint64_t page = e->fault_addr & ~4095ULL;
		for (;;) {
			int hit = 0;
			for (int i = 0; i < 3; i++)
				hit |= __atomic_load_n(&busy_pages[i], __ATOMIC_SEQ_CST) == page;
			if (!hit)
				break;
			abi->thread_yield();
		}
		struct vma_info v;
		if (vma_lookup(e->fault_addr, &v) && (v.prot & MOAT_PROT_EXEC) &&
		    thread_retry_fault(c->rip, __atomic_load_n(&patch_epoch, __ATOMIC_SEQ_CST)) <= 100)
			return 1;
	}
	return 0;
}

/* A host signal (INTERRUPT) that landed in platform code.  Returns 1 if
 * the context was changed and the PAL is to resume it. */
int rewrite_interrupt(struct moat_exception *e)
{
	struct moat_context *c = e->ctx;
	thread_note_signal();
	if (c->rip >= (uint64_t)libos_fast_exit && c->rip < (uint64_t)libos_fast_exit_jmp) {
		/* The fast path's way out, after its last look at the pending
		 * signals: do the look again. */
		c->rip = (uint64_t)libos_fast_redo;
		e->flags &= ~MOAT_EXC_IN_PLATFORM;
		return 1;
	}
	if (c->rip == (uint64_t)libos_fast_exit_jmp) {
		/* Every register is the app's; only the 'jmp *%rcx' is left. */
		c->rip = c->rcx;
		e->flags &= ~MOAT_EXC_IN_PLATFORM;
		signal_deliver(c, 0);
		return 1;
	}
	return 0;
}
