/*
 * trace/options.c -- "file=/out/t.log,format=json,summary,quiet".
 */
#include "trace.h"

static int one(struct trace_opts *o, const char *key, const char *val,
	       char *err, size_t errlen)
{
	if (!strcmp(key, "file")) {
		if (val[0] != '/' || strlen(val) >= sizeof(o->file))
			return ext_msg(err, errlen, "file: expected an absolute path inside a "
				       "writable mapping, got '", val, "'", NULL);
		memcpy(o->file, val, strlen(val) + 1);
	} else if (!strcmp(key, "format")) {
		if (strcmp(val, "text") && strcmp(val, "json"))
			return ext_msg(err, errlen, "format: expected text or json, got '", val, "'", NULL);
		o->json = !strcmp(val, "json");
	} else if (!strcmp(key, "summary") || !strcmp(key, "quiet")) {
		if (*val)
			return ext_msg(err, errlen, key, ": takes no value", NULL, NULL);
		*(!strcmp(key, "summary") ? &o->summary : &o->quiet) = 1;
	} else {
		return ext_msg(err, errlen, key, ": unknown option; expected file=PATH, "
			       "format=text|json, summary or quiet", NULL, NULL);
	}
	return 0;
}

int trace_parse(const char *options, struct trace_opts *o, char *err, size_t errlen)
{
	char key[32], val[256];
	const char *p = options;
	int r;
	memset(o, 0, sizeof(*o));
	while ((r = ext_opt_next(&p, ',', key, sizeof(key), val, sizeof(val))) != 0)
		if (r < 0 || one(o, key, val, err, errlen) < 0)
			return r < 0 ? ext_msg(err, errlen, "options: an item is too long",
					       NULL, NULL, NULL) : -1;
	return 0;
}

static int trace_check(const char *options, char *err, size_t errlen)
{
	struct trace_opts o;
	return trace_parse(options, &o, err, errlen);
}

const struct moat_extension moat_ext_trace = {
	.name = "trace",
	.usage = "trace[:file=/PATH][,format=text|json][,summary][,quiet]",
	.check = trace_check,
	.init = EXT_INIT(trace_init),
};
