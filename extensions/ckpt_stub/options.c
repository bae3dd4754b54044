/*
 * ckpt_stub/options.c -- PLACEHOLDER for the checkpointer extension
 * "ckpt" (issue 14), so that the host side (moat checkpoint, moat run
 * --name, resume) builds and is tested before the real one lands in
 * extensions/ckpt/.  Delete this directory when merging that one (its
 * moat_ext_ckpt replaces this).  Options: none, or "resume".
 */
#include "../ext.h"

const struct moat_abi *ckpt_stub_init(struct moat_ext_args *a);

static int ckpt_check(const char *options, char *err, size_t errlen)
{
	if (*options && strcmp(options, "resume"))
		return ext_msg(err, errlen, options, ": unknown option; expected none or resume",
			       NULL, NULL);
	return 0;
}

const struct moat_extension moat_ext_ckpt = {
	.name = "ckpt",
	.usage = "ckpt [resume]: the checkpointer (placeholder: takes no checkpoints)",
	.check = ckpt_check,
	.init = EXT_INIT(ckpt_stub_init),
};
