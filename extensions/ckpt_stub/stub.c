/*
 * ckpt_stub/stub.c -- PLACEHOLDER (see options.c): no layer at all; the
 * LibOS calls the layer below directly.
 */
#include "../ext.h"

const struct moat_abi *ckpt_stub_init(struct moat_ext_args *a);

const struct moat_abi *ckpt_stub_init(struct moat_ext_args *a)
{
	return a->below;
}
