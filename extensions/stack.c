/*
 * stack.c -- the PAL-to-LibOS hand-off: build the chosen stack of
 * extensions on the PAL's table, bottom first, and give the top to the
 * LibOS.  The monitor validated the list already; it is checked again
 * here, since the picoprocess trusts nothing it was handed.
 */
#include "ext.h"

static _Noreturn void refuse(const struct moat_abi *pal, const char *a,
			     const char *b)
{
	char line[512];
	ext_msg(line, sizeof(line), "moat: --ext ", a, b, "\n");
	pal->stream_write(2, MOAT_OFFSET_STREAM, line, strlen(line));
	pal->process_exit(2, 0);
	__builtin_unreachable();
}

/* Split the pairs into names[] and opts[] (pointers into 'list'). */
static void split(const struct moat_abi *pal, const char *list, size_t len,
		  uint32_t count, const char **names, const char **opts)
{
	const char *s = list, *end = list + len;
	for (uint32_t i = 0; i < 2 * count; i++) {
		size_t n = strnlen(s, (size_t)(end - s));
		if (s + n >= end)
			refuse(pal, "list", ": truncated in the boot block");
		if (i % 2)
			opts[i / 2] = s;
		else
			names[i / 2] = s;
		s += n + 1;
	}
}

/* The way up, top first: each interposing layer learns the table above
 * it, and *up ends as the lowest one's, which the PAL calls. */
static void link_upcalls(const struct moat_ext_args *args, uint32_t count,
			 const struct moat_upcalls **up)
{
	for (uint32_t i = 0; i < count; i++) {
		if (!args[i].upcalls || !args[i].above)
			continue;
		*args[i].above = *up;
		*up = args[i].upcalls;
	}
}

const struct moat_abi *moat_extension_stack(const struct moat_abi *pal,
					    const char *list, size_t len,
					    uint32_t count, uint32_t *boot_flags,
					    const struct moat_upcalls **up,
					    const struct moat_ext_image *img)
{
	const char *names[MOAT_EXT_MAX], *opts[MOAT_EXT_MAX];
	struct moat_ext_args args[MOAT_EXT_MAX];
	char err[300];
	if (count > MOAT_EXT_MAX)
		refuse(pal, "list", ": too many extensions");
	split(pal, list, len, count, names, opts);
	for (uint32_t i = 0; i < count; i++) {
		if (moat_extension_check(names[i], opts[i], err, sizeof(err)) < 0)
			refuse(pal, err, "");
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(names[i], names[j]))
				refuse(pal, names[i], ": listed twice");
	}
	const struct moat_abi *below = pal;
	for (uint32_t i = count; i-- > 0;) {
		struct moat_ext_args *a = &args[i];
		*a = (struct moat_ext_args){ .below = below, .options = opts[i],
					     .state_start = img->state_start,
					     .state_end = img->state_end };
		below = moat_extension_find(names[i])->init(a);
		if (!below)
			refuse(pal, names[i], ": cannot start");
		if (a->wants & MOAT_EXT_WANT_NOTES)
			*boot_flags |= MOAT_BOOT_NOTES;
		if (a->wants & MOAT_EXT_WANT_PAUSE)
			*boot_flags |= MOAT_BOOT_PAUSE;
	}
	link_upcalls(args, count, up);
	for (uint32_t i = 0; i < count; i++)
		if (args[i].start)
			args[i].start();
	return below;
}
