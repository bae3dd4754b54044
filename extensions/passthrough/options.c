/*
 * passthrough/options.c -- the pass-through layer takes no options.
 */
#include "../ext.h"

const struct moat_abi *passthrough_init(struct moat_ext_args *a);

static int passthrough_check(const char *options, char *err, size_t errlen)
{
	if (*options)
		return ext_msg(err, errlen, options, ": unknown option; expected none",
			       NULL, NULL);
	return 0;
}

const struct moat_extension moat_ext_passthrough = {
	.name = "passthrough",
	.usage = "passthrough (no options): every downcall through one more layer",
	.check = passthrough_check,
	.init = EXT_INIT(passthrough_init),
};
