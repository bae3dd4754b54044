/*
 * moat/extension.h -- layers stacked on the ABI (Bascule-style).
 *
 * NAME
 *   struct moat_extension -- a layer that takes the ABI table below it
 *   and offers the same ABI above it.
 *
 * SYNOPSIS
 *   An extension lives in extensions/NAME/ and is linked into moat-pico.
 *   It exports one 'const struct moat_extension' (listed in
 *   extensions/registry.c) whose check() validates an option string and
 *   whose init() returns the table the layer above (the LibOS, or the
 *   next extension) calls:
 *
 *     const struct moat_abi *init(struct moat_ext_args *a);
 *
 *   a->below is the table to call down through; a->options the option
 *   string ("" if none).  The result is usually a static copy of *below
 *   with some entries replaced by the extension's own functions, each of
 *   which ends in a call through a->below.  Entries it does not replace
 *   cost nothing: they point straight at the layer below.
 *
 * CHOOSING
 *   The manifest's [Extensions] section (one "NAME = OPTIONS" line per
 *   extension) and `moat run --ext NAME[:OPTIONS]` (repeatable; after the
 *   manifest's) choose the stack, listed from the top (the layer the LibOS
 *   calls) down to the PAL.  A name given twice is one layer: the later
 *   options are appended to the earlier ones (with ';' for faults, whose
 *   options are rules, and ',' for the others).  With no extension the
 *   LibOS gets the PAL's table itself: no indirection at all.
 *
 * OPTIONS
 *   "key=value,key,key=value" (faults: rules separated by ';').  check()
 *   is pure C, no allocation, no I/O: the monitor runs the very same code
 *   before start (a bad option is a one-line error and exit status 2), and
 *   the picoprocess runs it again before init() (the boot block could
 *   have been built by anything).  On error it writes "KEY: what was
 *   expected" into err.
 *
 * WHAT AN EXTENSION MAY NOT DO
 *   It runs inside the picoprocess and is as untrusted as the LibOS: it
 *   issues no host system call (the build checks its objects for a
 *   'syscall' instruction, as for the LibOS), references no PAL symbol
 *   (the build checks that its undefined symbols are only the runtime's,
 *   rt/rt.h, and other extensions'), and reaches the host only through
 *   a->below, so everything it does crosses the same seccomp filter and
 *   monitor: it can never grant more than the manifest.  It must be
 *   reentrant (a signal's exception upcall can call down again while one
 *   of its functions is running on the same thread), thread-safe, and
 *   fork-safe (a forked child carries a copy of its memory).
 *
 * UPCALLS
 *   A layer may also stand between the PAL and the LibOS on the way up
 *   (record/replay must see, hold back and re-create asynchronous
 *   signals).  It sets a->upcalls to its own struct moat_upcalls and
 *   a->above to the address of a pointer of its own; after every layer's
 *   init, and before the LibOS's init upcall, the stack stores in it the
 *   table of the layer above (the next interposing layer's, or the
 *   LibOS's own), and the PAL calls the lowest interposing layer's table
 *   instead of the LibOS's.  Its entries must end by calling the same
 *   entry above, except that its exception entry may hold an exception
 *   of kind MOAT_EXC_INTERRUPT back (or drop it) and pass it on later,
 *   from one of its downcall functions, with MOAT_EXC_IN_PLATFORM set
 *   (the thread is then in platform code: the LibOS posts the signal and
 *   delivers it when the current system call ends) and a context of its
 *   own, all zero (rip 0 is no LibOS code), which the LibOS must not
 *   change; or pass a later INTERRUPT on with another signal's details
 *   (number, pid, codes) in place of the real one's.  Its init entry is
 *   never called (the PAL calls
 *   the LibOS's init itself, with the top downcall table).  A layer that
 *   leaves a->upcalls NULL is not on the way up at all: no cost.
 *
 * NOTES: WHAT THE LIBOS TELLS THE LAYERS BELOW
 *   Some events happen above the ABI and make no downcall (a system call
 *   the LibOS answers ENOSYS to).  An extension that wants them sets
 *   MOAT_EXT_WANT_NOTES in a->wants; the stack then sets MOAT_BOOT_NOTES
 *   in the LibOS's boot flags, and the LibOS makes, for each event, a
 *   debug_log() downcall whose text starts with MOAT_NOTE_PREFIX:
 *
 *     "moat-note: enosys NR NAME"   the app's system call NR (NAME from
 *                                   the kernel's table, "unknown" if
 *                                   none) was answered -ENOSYS.
 *
 *   It is an ordinary downcall: a layer that does not know a note passes
 *   it down, and the PAL logs it like any line (shown under --debug).  A
 *   layer that consumed a note returns 0 without passing it on.  Without
 *   MOAT_BOOT_NOTES the LibOS makes no such call (no cost).
 *
 * SEE ALSO
 *   include/moat/abi.h (the table), docs/extensions.md (how to write
 *   one; trace, faults, record, replay, passthrough; costs).
 */
#ifndef MOAT_EXTENSION_H
#define MOAT_EXTENSION_H

#include <stddef.h>
#include <stdint.h>

#include "moat/abi.h"

#define MOAT_EXT_NAME_MAX 32    /* bytes of a name, with the NUL */
#define MOAT_EXT_OPTIONS_MAX 1024 /* bytes of an option string, with the NUL */
#define MOAT_EXT_MAX 8          /* layers in one stack */

/* a->wants bits. */
#define MOAT_EXT_WANT_NOTES 1
#define MOAT_EXT_WANT_PAUSE 2 /* the LibOS is to honour PAUSE (abi.h) */

#define MOAT_NOTE_PREFIX "moat-note: "

struct moat_ext_args {
	const struct moat_abi *below; /* the table to call down through */
	const char *options;          /* its option string, "" if none */
	uint32_t wants;               /* out: MOAT_EXT_WANT_* */
	/* out, optional (UPCALLS above): the table the layer below calls
	 * up through, and where the stack puts the table above it. */
	const struct moat_upcalls *upcalls;
	const struct moat_upcalls **above;
	/* in: the LibOS's static data in the image, page-aligned: state
	 * above the ABI that no downcall made (a checkpointer saves it). */
	void *state_start, *state_end;
	/* out, optional: called once the whole stack is linked (upcalls
	 * included), top layer's first, before the LibOS's init upcall; it
	 * may not return (a resume: the app goes on where it stopped). */
	void (*start)(void);
};

struct moat_extension {
	const char *name;             /* as in [Extensions] and --ext */
	const char *usage;            /* one line: the options it takes */
	/* Validate 'options': 0, or -1 with "KEY: what was expected" in err. */
	int (*check)(const char *options, char *err, size_t errlen);
	/* Build the table above; NULL if it cannot start (it says why on
	 * stderr through a->below).  Called once, before the LibOS starts. */
	const struct moat_abi *(*init)(struct moat_ext_args *a);
};

/* Built in, NULL-terminated (extensions/registry.c).  In the monitor
 * 'init' is NULL: it only validates. */
extern const struct moat_extension *const moat_extensions[];
const struct moat_extension *moat_extension_find(const char *name);

/* Check one choice: 0, or -1 with "NAME: KEY: what was expected" (or
 * "NAME: unknown extension; expected ...") in err. */
int moat_extension_check(const char *name, const char *options, char *err,
			 size_t errlen);

/* The separator a name given twice joins its option strings with. */
char moat_extension_joiner(const char *name);

/* The PAL-to-LibOS hand-off (extensions/stack.c): build the stack from
 * 'count' "NAME\0OPTIONS\0" pairs at 'list', on top of 'pal'.  Returns
 * the table for the LibOS and ORs MOAT_BOOT_NOTES into *boot_flags if a
 * layer wants notes (MOAT_BOOT_PAUSE if one wants PAUSE).  *up holds the LibOS's upcalls on entry and, on
 * return, the table the PAL is to call up through (the LibOS's own if no
 * layer interposes).  A bad list is one line on stderr and exit status 2. */
struct moat_ext_image { void *state_start, *state_end; };
const struct moat_abi *moat_extension_stack(const struct moat_abi *pal,
					    const char *list, size_t len,
					    uint32_t count, uint32_t *boot_flags,
					    const struct moat_upcalls **up,
					    const struct moat_ext_image *img);

#endif /* MOAT_EXTENSION_H */
