/*
 * ckpt/options.c -- the checkpointer's options, checked by the monitor
 * before start and again inside the picoprocess:
 *   resume      start by resuming the image (the monitor adds it when it
 *               runs a snapshot package)
 *   in=URI      read the image from URI instead of "snapshot:in"
 *   out=URI     write images to URI instead of "snapshot:out" (a file the
 *               manifest grants writable; for tests and tools)
 */
#include "ckpt.h"

int ck_parse_options(const char *s, struct ck_options *o, char *err, size_t errlen)
{
	char key[32], val[CK_URI_INLINE];
	int r;
	*o = (struct ck_options){ 0 };
	memcpy(o->in, "snapshot:in", 12);
	memcpy(o->out, "snapshot:out", 13);
	while ((r = ext_opt_next(&s, ',', key, sizeof(key), val, sizeof(val))) > 0) {
		if (!strcmp(key, "resume") && !*val) {
			o->resume = 1;
		} else if (!strcmp(key, "in") || !strcmp(key, "out")) {
			if (strncmp(val, "file:/", 6) && strcmp(val, !strcmp(key, "in") ?
							      "snapshot:in" : "snapshot:out"))
				return ext_msg(err, errlen, key, ": expected a file:/ URI", NULL, NULL);
			memcpy(!strcmp(key, "in") ? o->in : o->out, val, strlen(val) + 1);
		} else {
			return ext_msg(err, errlen, key,
				       ": unknown option; expected resume, in=URI, out=URI",
				       NULL, NULL);
		}
	}
	if (r < 0)
		return ext_msg(err, errlen, "option", ": too long", NULL, NULL);
	return 0;
}

static int ckpt_check(const char *options, char *err, size_t errlen)
{
	struct ck_options o;
	return ck_parse_options(options, &o, err, errlen);
}

const struct moat_abi *ckpt_init(struct moat_ext_args *a);

const struct moat_extension moat_ext_ckpt = {
	.name = "ckpt",
	.usage = "ckpt[:resume][,in=URI][,out=URI]: checkpoint and resume (moat checkpoint)",
	.check = ckpt_check,
	.init = EXT_INIT(ckpt_init),
};
