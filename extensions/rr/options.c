/*
 * rr/options.c -- "record:file=/out/app.rr" and "replay:file=/out/app.rr"
 * (or just the path: "record:/out/app.rr").
 */
#include "rr.h"

int rr_parse(const char *options, struct rr_opts *o, char *err, size_t errlen)
{
	char key[256], val[256];
	const char *p = options;
	int r;
	memset(o, 0, sizeof(*o));
	while ((r = ext_opt_next(&p, ',', key, sizeof(key), val, sizeof(val))) != 0) {
		if (r < 0)
			return ext_msg(err, errlen, "file: too long", NULL, NULL, NULL);
		const char *path = !strcmp(key, "file") ? val : key[0] == '/' && !*val ? key : NULL;
		if (!path)
			return ext_msg(err, errlen, key, ": unknown option; expected file=/PATH", NULL, NULL);
		if (path[0] != '/')
			return ext_msg(err, errlen, "file: expected an absolute path, got '", path, "'", NULL);
		memcpy(o->file, path, strlen(path) + 1);
	}
	if (!o->file[0])
		return ext_msg(err, errlen, "file: missing; expected file=/PATH of the log", NULL, NULL, NULL);
	return 0;
}

static int rr_check(const char *options, char *err, size_t errlen)
{
	struct rr_opts o;
	return rr_parse(options, &o, err, errlen);
}

const struct moat_extension moat_ext_record = {
	.name = "record",
	.usage = "record:file=/PATH (inside a writable mapping)",
	.check = rr_check,
	.init = EXT_INIT(record_init),
};

const struct moat_extension moat_ext_replay = {
	.name = "replay",
	.usage = "replay:file=/PATH (a log written by record)",
	.check = rr_check,
	.init = EXT_INIT(replay_init),
};
