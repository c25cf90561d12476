/*
 * test_log.c: the session line's fields as text and as JSON (log.c's
 * log_render(), util.c's json_str()), and log_facility/log_level names.
 */

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static const struct {
	const char	*in;
	const char	*json;
} escapes[] = {
	{ "plain", "\"plain\"" },
	{ "a \"quoted\" word", "\"a \\\"quoted\\\" word\"" },
	{ "back\\slash", "\"back\\\\slash\"" },
	{ "tab\there\nnl\r", "\"tab\\u0009here\\u000anl\\u000d\"" },
	{ "esc\033[2J del\177", "\"esc\\u001b[2J del\\u007f\"" },
	/* Valid UTF-8 as it is; a stray byte as Latin-1's. */
	{ "caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\"" },
	{ "bad\xff\xc3", "\"bad\\u00ff\\u00c3\"" },
	{ "over\xc0\xaf", "\"over\\u00c0\\u00af\"" },
	{ "surrogate\xed\xa0\x80", "\"surrogate\\u00ed\\u00a0\\u0080\"" },
};

Test(log, json_escaping)
{
	struct log_field	f = { "v", NULL, LOG_F_WORD };
	char			 want[256], *got;
	size_t			 i;

	for (i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		f.value = escapes[i].in;
		got = log_render(LOG_FORMAT_JSON, NULL, LOG_INFO, &f, 1);
		snprintf(want, sizeof(want), "{\"level\":\"info\",\"v\":%s}",
		    escapes[i].json);
		cr_expect_str_eq(got, want, "case %zu", i);
		free(got);
	}
}

/* The session line's keys, in both forms. */
Test(log, session_line)
{
	static const struct log_field	f[] = {
		{ "session", "123.4", LOG_F_WORD },
		{ "client", "mx[192.0.2.1]", LOG_F_WORD },
		{ "children", "a,b", LOG_F_WORD },
		{ "child.a", "accept:0.001", LOG_F_WORD },
		{ "child.b", "stopped@!local:0.000", LOG_F_WORD },
		{ "verdict", "accept", LOG_F_WORD },
		{ "end", "quit \"now\"", LOG_F_QUOTED },
		{ "time", "0.012", LOG_F_NUMBER },
		{ "queue_id", "-", LOG_F_WORD },
	};
	char	*got;

	got = log_render(LOG_FORMAT_TEXT, "worker 1", LOG_INFO, f, 9);
	cr_expect_str_eq(got, "session=123.4 client=mx[192.0.2.1] "
	    "children=a,b child.a=accept:0.001 child.b=stopped@!local:0.000 "
	    "verdict=accept end=\"quit \"now\"\" time=0.012 queue_id=-");
	free(got);
	got = log_render(LOG_FORMAT_JSON, "worker 1", LOG_INFO, f, 9);
	cr_expect_str_eq(got, "{\"process\":\"worker 1\",\"level\":\"info\","
	    "\"session\":\"123.4\",\"client\":\"mx[192.0.2.1]\","
	    "\"children\":\"a,b\",\"child.a\":\"accept:0.001\","
	    "\"child.b\":\"stopped@!local:0.000\",\"verdict\":\"accept\","
	    "\"end\":\"quit \\\"now\\\"\",\"time\":0.012,\"queue_id\":\"-\"}");
	free(got);
}

Test(log, names)
{
	static const struct {
		const char	*name;
		int		 facility, level;
	} t[] = {
		{ "mail", LOG_MAIL, -1 },
		{ "local7", LOG_LOCAL7, -1 },
		{ "info", -1, LOG_INFO },
		{ "warning", -1, LOG_WARNING },
		{ "error", -1, LOG_ERR },
		{ "debug", -1, LOG_DEBUG },
		{ "MAIL", -1, -1 },
		{ "", -1, -1 },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_expect_eq(log_facility_code(t[i].name), t[i].facility,
		    "%s", t[i].name);
		cr_expect_eq(log_level_code(t[i].name), t[i].level, "%s",
		    t[i].name);
	}
}

/* Peer text in a text line: control characters and bad UTF-8 as \xHH. */
Test(log, text_escaping)
{
	static const struct {
		const char	*in, *out;
	} cases[] = {
		{ "plain text", "plain text" },
		{ "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac" },
		{ "host\nmaster: forged", "host\\x0amaster: forged" },
		{ "\033[2Jcleared", "\\x1b[2Jcleared" },
		{ "tab\there\r", "tab\\x09here\\x0d" },
		{ "del\x7f", "del\\x7f" },
		{ "bad \xff\xfe", "bad \\xff\\xfe" },
		{ "cut \xc3", "cut \\xc3" },
		{ "overlong \xc0\xaf", "overlong \\xc0\\xaf" },
		{ "surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80" },
		{ "", "" },
	};
	const char	*got;
	char		*esc;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = log_escape(cases[i].in, &esc);
		cr_expect_str_eq(got, cases[i].out, "case %zu", i);
		if (strcmp(cases[i].in, cases[i].out) == 0)
			cr_expect_eq(got, cases[i].in, "copied for nothing");
		free(esc);
	}
}
