/*
 * test_history.c: the rolling per-minute history and its text form
 * (src/history.c).
 */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

static struct history	h;
static char		err[256];

static void
teardown(void)
{
	history_free(&h);
}

static struct history_entry
entry(int child, uint32_t accept, uint32_t reject)
{
	struct history_entry	e;

	memset(&e, 0, sizeof(e));
	e.child = child;
	e.n[HISTORY_ACCEPT] = accept;
	e.n[HISTORY_REJECT] = reject;
	return e;
}

/* The text form of h since a minute, in a malloc'ed string. */
static char *
text(const struct history *hh, int64_t since)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	cr_assert_not_null(fp = open_memstream(&buf, &len));
	cr_assert_eq(history_write(hh, fp, since), 0);
	fclose(fp);
	return buf;
}

static int
read_text(struct history *hh, const char *s)
{
	FILE	*fp;
	int	 rv;

	err[0] = '\0';
	cr_assert_not_null(fp = fmemopen((void *)(uintptr_t)s, strlen(s), "r"));
	rv = history_read(hh, fp, INT64_MAX, err, sizeof(err));
	fclose(fp);
	return rv;
}

Test(history, init_add_at, .fini = teardown)
{
	struct history_entry		 e[2];
	const struct history_minute	*m;

	cr_assert_eq(history_init(&h, 0), -1);
	cr_assert_eq(history_init(&h, 10), 0);
	cr_assert_null(history_at(&h, 0));
	cr_assert_eq(history_child(&h, "spamd"), 0);
	cr_assert_eq(history_child(&h, "dkim"), 1);
	e[0] = entry(0, 3, 1);
	e[1] = entry(1, 0, 0);		/* all zero: may be dropped */
	cr_assert_eq(history_add(&h, 1000, 4, e, 2), 0);
	cr_assert_eq(h.len, 1);
	m = history_at(&h, 0);
	cr_assert_eq(m->minute, 1000);
	cr_assert_eq(m->sessions, 4);
	cr_assert_eq(m->nentries, 1);
	cr_assert_eq(m->entries[0].child, 0);
	cr_assert_eq(m->entries[0].n[HISTORY_ACCEPT], 3);
	cr_assert_eq(m->entries[0].n[HISTORY_REJECT], 1);
	cr_assert_null(history_at(&h, 1));
	/* Copied: changing the caller's array changes nothing. */
	e[0].n[HISTORY_ACCEPT] = 99;
	cr_assert_eq(m->entries[0].n[HISTORY_ACCEPT], 3);
	/* An entry for an unknown child is refused. */
	e[0] = entry(7, 1, 0);
	cr_assert_eq(history_add(&h, 1001, 1, e, 1), -1);
	cr_assert_eq(h.len, 1);
}

Test(history, merge_same_minute, .fini = teardown)
{
	struct history_entry		 e[3];
	const struct history_minute	*m;

	cr_assert_eq(history_init(&h, 5), 0);
	cr_assert_eq(history_child(&h, "a"), 0);
	cr_assert_eq(history_child(&h, "b"), 1);
	e[0] = entry(0, 1, 0);
	cr_assert_eq(history_add(&h, 50, 1, e, 1), 0);
	e[0] = entry(0, 2, 5);
	e[1] = entry(1, 0, 1);
	e[2] = entry(1, 1, 0);		/* same child twice in one call */
	cr_assert_eq(history_add(&h, 50, 3, e, 3), 0);
	cr_assert_eq(h.len, 1);
	m = history_at(&h, 0);
	cr_assert_eq(m->sessions, 4);
	cr_assert_eq(m->nentries, 2);
	cr_assert_eq(m->entries[0].n[HISTORY_ACCEPT], 3);
	cr_assert_eq(m->entries[0].n[HISTORY_REJECT], 5);
	cr_assert_eq(m->entries[1].child, 1);
	cr_assert_eq(m->entries[1].n[HISTORY_ACCEPT], 1);
	cr_assert_eq(m->entries[1].n[HISTORY_REJECT], 1);
	/* Counts saturate. */
	e[0] = entry(0, UINT32_MAX, 0);
	cr_assert_eq(history_add(&h, 50, UINT32_MAX, e, 1), 0);
	cr_assert_eq(m->sessions, UINT32_MAX);
	cr_assert_eq(m->entries[0].n[HISTORY_ACCEPT], UINT32_MAX);
}

Test(history, older_minute_refused, .fini = teardown)
{
	struct history_entry	e = entry(0, 1, 0);
	char			*before, *after;

	cr_assert_eq(history_init(&h, 5), 0);
	cr_assert_eq(history_child(&h, "a"), 0);
	cr_assert_eq(history_add(&h, 100, 1, &e, 1), 0);
	cr_assert_eq(history_add(&h, 102, 2, &e, 1), 0);
	before = text(&h, 0);
	cr_assert_eq(history_add(&h, 101, 1, &e, 1), -1);
	cr_assert_eq(history_add(&h, 100, 1, &e, 1), -1);
	after = text(&h, 0);
	cr_assert_str_eq(after, before);
	free(before);
	free(after);
}

Test(history, ring_wraps_by_count, .fini = teardown)
{
	int64_t	 t;
	size_t	 i;

	cr_assert_eq(history_init(&h, 3), 0);
	for (t = 10; t < 20; t++) {
		cr_assert_eq(history_add(&h, t, (uint32_t)t, NULL, 0), 0);
		cr_assert_leq(h.len, 3);
	}
	cr_assert_eq(h.len, 3);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(history_at(&h, i)->minute, 17 + (int64_t)i);
		cr_assert_eq(history_at(&h, i)->sessions, 17 + i);
	}
}

Test(history, ring_wraps_by_time, .fini = teardown)
{
	struct history_entry	e;

	cr_assert_eq(history_init(&h, 10), 0);
	cr_assert_eq(history_child(&h, "a"), 0);
	e = entry(0, 1, 0);
	cr_assert_eq(history_add(&h, 100, 1, &e, 1), 0);
	cr_assert_eq(history_add(&h, 105, 1, &e, 1), 0);
	cr_assert_eq(history_add(&h, 109, 1, &e, 1), 0);
	cr_assert_eq(h.len, 3);
	/* 110 - 10 = 100: minute 100 goes, 105 stays. */
	cr_assert_eq(history_add(&h, 110, 1, &e, 1), 0);
	cr_assert_eq(h.len, 3);
	cr_assert_eq(history_at(&h, 0)->minute, 105);
	/* A long gap empties the ring but for the new minute. */
	cr_assert_eq(history_add(&h, 1000000, 1, &e, 1), 0);
	cr_assert_eq(h.len, 1);
	cr_assert_eq(history_at(&h, 0)->minute, 1000000);
	/* Far apart minutes do not overflow the span test. */
	history_free(&h);
	cr_assert_eq(history_init(&h, 4), 0);
	cr_assert_eq(history_add(&h, INT64_MIN, 1, NULL, 0), 0);
	cr_assert_eq(history_add(&h, INT64_MAX, 1, NULL, 0), 0);
	cr_assert_eq(h.len, 1);
	cr_assert_eq(history_at(&h, 0)->minute, INT64_MAX);
}

Test(history, reuse_after_free, .fini = teardown)
{
	cr_assert_eq(history_init(&h, 2), 0);
	cr_assert_eq(history_child(&h, "a"), 0);
	cr_assert_eq(history_add(&h, 1, 1, NULL, 0), 0);
	history_free(&h);
	cr_assert_eq(h.len, 0);
	cr_assert_null(h.names);
	cr_assert_eq(history_init(&h, 2), 0);
	cr_assert_eq(history_child(&h, "b"), 0);
	cr_assert_eq(history_add(&h, 1, 1, NULL, 0), 0);
}

Test(history, names, .fini = teardown)
{
	char	 name[HISTORY_NAME_MAX + 1];

	cr_assert_eq(history_init(&h, 2), 0);
	cr_assert_eq(history_child(&h, "a"), 0);
	cr_assert_eq(history_child(&h, "b"), 1);
	cr_assert_eq(history_child(&h, "a"), 0);
	cr_assert_eq(history_child(&h, "a<b&c"), 2);
	cr_assert_eq(history_child(&h, ""), -1);
	cr_assert_eq(history_child(&h, "a b"), -1);
	cr_assert_eq(history_child(&h, "a\tb"), -1);
	cr_assert_eq(history_child(&h, "a\n"), -1);
	memset(name, 'x', sizeof(name));
	name[HISTORY_NAME_MAX - 1] = '\0';
	cr_assert_eq(history_child(&h, name), 3);
	cr_assert_str_eq(h.names[3], name);
	name[HISTORY_NAME_MAX - 1] = 'x';
	name[HISTORY_NAME_MAX] = '\0';
	cr_assert_eq(history_child(&h, name), -1);
	cr_assert_eq(h.nnames, 4);
	cr_assert_str_eq(history_count_name(HISTORY_ACCEPT), "accept");
	cr_assert_str_eq(history_count_name(HISTORY_QUARANTINE), "quarantine");
	cr_assert_str_eq(history_count_name(HISTORY_FALLBACK), "fallback");
}

static const char sample[] =
    "milterd-history 1\n"
    "m 29000000 12\n"
    "c spamd 10 2 0 0 0 0\n"
    "c dkim 12 0 0 0 0 0\n"
    "m 29000003 0\n"
    "m 29000004 4294967295\n"
    "c dkim 0 0 1 2 3 4294967295\n"
    "c a<b&c 1 0 0 0 0 0\n";

Test(history, write_read_round_trip, .fini = teardown)
{
	struct history	 h2;
	char		*out, *out2;

	cr_assert_eq(history_init(&h, 60), 0);
	cr_assert_eq(read_text(&h, sample), 0, "%s", err);
	cr_assert_eq(h.len, 3);
	cr_assert_eq(h.nnames, 3);
	out = text(&h, 0);
	cr_assert_str_eq(out, sample);

	cr_assert_eq(history_init(&h2, 60), 0);
	cr_assert_eq(read_text(&h2, out), 0, "%s", err);
	out2 = text(&h2, 0);
	cr_assert_str_eq(out2, out);
	history_free(&h2);
	free(out);
	free(out2);
}

Test(history, read_lenient, .fini = teardown)
{
	char	*out;

	/* Extra blanks, CRLF, no final newline, a repeated minute merges. */
	cr_assert_eq(history_init(&h, 60), 0);
	cr_assert_eq(read_text(&h, "milterd-history 1\r\n"
	    "m  5\t1\r\n"
	    "c a 1 0 0 0 0 0\n"
	    "m 5 2\n"
	    "c a 1 1 0 0 0 0\n"
	    "c b 0 0 0 0 0 0"), 0, "%s", err);
	out = text(&h, 0);
	cr_assert_str_eq(out, "milterd-history 1\nm 5 3\nc a 2 1 0 0 0 0\n");
	free(out);
}

/* A shadow's refusals: written when not 0, absent read as 0. */
Test(history, would_refuse_optional, .fini = teardown)
{
	char	*out;

	cr_assert_eq(history_init(&h, 60), 0);
	cr_assert_eq(read_text(&h, "milterd-history 1\nm 5 1\n"
	    "c a 1 0 0 0 0 0 3\nc b 1 0 0 0 0 0\n"), 0, "%s", err);
	out = text(&h, 0);
	cr_assert_str_eq(out, "milterd-history 1\nm 5 1\n"
	    "c a 1 0 0 0 0 0 3\nc b 1 0 0 0 0 0\n");
	free(out);
}

Test(history, since_filter, .fini = teardown)
{
	char	*out;

	cr_assert_eq(history_init(&h, 60), 0);
	cr_assert_eq(read_text(&h, sample), 0, "%s", err);
	out = text(&h, 29000003);
	cr_assert_str_eq(out, "milterd-history 1\n"
	    "m 29000003 0\n"
	    "m 29000004 4294967295\n"
	    "c dkim 0 0 1 2 3 4294967295\n"
	    "c a<b&c 1 0 0 0 0 0\n");
	free(out);
	out = text(&h, 29000005);
	cr_assert_str_eq(out, "milterd-history 1\n");
	free(out);
}

Test(history, malformed, .fini = teardown)
{
	static const struct {
		const char	*in;
		const char	*err;
	} bad[] = {
		{ "", "empty" },
		{ "m 1 1\n", "line 1: " },
		{ "milterd-history\n", "line 1: " },
		{ "milterd-history 2\n", "line 1: unsupported version 2" },
		{ "milterd-history 1 x\n", "line 1: " },
		{ "milterd-history 1\nm 1 1\nx 1\n", "line 3: unknown record" },
		{ "milterd-history 1\nc a 1 0 0 0 0 0\n", "line 2: " },
		{ "milterd-history 1\nm 1\n", "line 2: missing sessions" },
		{ "milterd-history 1\nm\n", "line 2: missing minute" },
		{ "milterd-history 1\nm x 1\n",
		    "line 2: minute: not a number" },
		{ "milterd-history 1\nm -1 1\n",
		    "line 2: minute: not a number" },
		{ "milterd-history 1\nm +1 1\n",
		    "line 2: minute: not a number" },
		{ "milterd-history 1\nm 1 4294967296\n",
		    "line 2: sessions too large" },
		{ "milterd-history 1\nm 99999999999999999999 1\n",
		    "line 2: minute too large" },
		{ "milterd-history 1\nm 1 1 1\n", "line 2: too many fields" },
		{ "milterd-history 1\nm 1 1\n\n", "line 3: empty line" },
		{ "milterd-history 1\nm 1 1\nc a 1 0 0 0 0\n",
		    "line 3: missing fallback" },
		{ "milterd-history 1\nm 1 1\nc a 1 0 0 0 0 0 0 0\n",
		    "line 3: too many fields" },
		{ "milterd-history 1\nm 1 1\nc a 1 0 0 0 0 0 x\n",
		    "line 3: would have refused: not a number" },
		{ "milterd-history 1\nm 1 1\nc a 1 0 0 x 0 0\n",
		    "line 3: discard: not a number" },
		{ "milterd-history 1\nm 1 1\nc\n", "line 3: missing name" },
		{ "milterd-history 1\nm 1 1\nc "
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx 1 0 0 0 0 0\n",
		    "line 3: bad child name" },
		{ "milterd-history 1\nm 5 1\nm 4 1\n",
		    "line 3: minute 4 older" },
	};
	size_t	 i;
	FILE	*fp;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(history_init(&h, 60), 0);
		cr_assert_not_null(fp = fmemopen((void *)(uintptr_t)bad[i].in,
		    strlen(bad[i].in), "r"));
		err[0] = '\0';
		cr_assert_eq(history_read(&h, fp, INT64_MAX, err,
		    sizeof(err)), -1,
		    "accepted: %s", bad[i].in);
		fclose(fp);
		cr_assert(strncmp(err, bad[i].err, strlen(bad[i].err)) == 0,
		    "%s: got \"%s\", want \"%s...\"", bad[i].in, err,
		    bad[i].err);
		history_free(&h);
	}
}

/* What is read back is bounded: no minute past now, so many names. */
Test(history, read_bounds, .fini = teardown)
{
	char	*buf;
	size_t	 len, i;
	FILE	*fp;

	cr_assert_eq(history_init(&h, 60), 0);
	cr_assert_not_null(fp = fmemopen((void *)(uintptr_t)
	    "milterd-history 1\nm 100 1\nm 101 1\n", 34, "r"));
	cr_assert_eq(history_read(&h, fp, 100, err, sizeof(err)), -1);
	fclose(fp);
	cr_assert_str_eq(err, "line 3: minute 101 is in the future (the "
	    "newest possible is 100): not this clock's history");
	cr_assert_eq(h.len, 1, "the minutes before it are kept");
	history_free(&h);

	cr_assert_eq(history_init(&h, 60), 0);
	cr_assert_not_null(fp = open_memstream(&buf, &len));
	fprintf(fp, "milterd-history 1\nm 1 1\n");
	for (i = 0; i <= HISTORY_NAMES_MAX; i++)
		fprintf(fp, "c n%zu 1 0 0 0 0 0\n", i);
	fclose(fp);
	cr_assert_not_null(fp = fmemopen(buf, len, "r"));
	cr_assert_eq(history_read(&h, fp, INT64_MAX, err, sizeof(err)), -1);
	fclose(fp);
	free(buf);
	cr_assert_str_eq(err, "line 259: more than 256 child names");
	cr_assert_eq(h.nnames, HISTORY_NAMES_MAX);
}

Test(history, nul_byte, .fini = teardown)
{
	static const char	 in[] =
	    "milterd-history 1\nm 1 1\nc a 1\0 0\n";
	FILE			*fp;

	cr_assert_eq(history_init(&h, 60), 0);
	cr_assert_not_null(fp = fmemopen((void *)(uintptr_t)in,
	    sizeof(in) - 1, "r"));
	cr_assert_eq(history_read(&h, fp, INT64_MAX, err, sizeof(err)), -1);
	fclose(fp);
	cr_assert_str_eq(err, "line 3: NUL byte");
}

Test(history, read_keeps_what_came_before, .fini = teardown)
{
	cr_assert_eq(history_init(&h, 60), 0);
	cr_assert_eq(read_text(&h, "milterd-history 1\nm 7 1\nc a 1 0 0 0 0 0\n"
	    "m 8 1\nbogus\n"), -1);
	cr_assert_str_eq(err, "line 5: unknown record \"bogus\"");
	cr_assert_eq(h.len, 2);
	cr_assert_eq(history_at(&h, 1)->minute, 8);
	/* A minute older than what is held is refused. */
	cr_assert_eq(read_text(&h, "milterd-history 1\nm 6 1\n"), -1);
	cr_assert_str_eq(err, "line 2: minute 6 older than the last one");
}

Test(history, long_lines, .fini = teardown)
{
	char	*in;
	size_t	 n = 100000;

	cr_assert_eq(history_init(&h, 60), 0);
	cr_assert_not_null(in = malloc(n + 1));
	memcpy(in, "milterd-history 1\nm 1 1\nc a ", 28);
	memset(in + 28, '0', n - 28);
	in[n] = '\0';
	cr_assert_eq(read_text(&h, in), -1);
	cr_assert(strncmp(err, "line 3: line too long", 21) == 0, "%s", err);
	free(in);
	/* Leading zeros in a line that fits are fine. */
	history_free(&h);
	cr_assert_eq(history_init(&h, 60), 0);
	cr_assert_eq(read_text(&h, "milterd-history 1\nm 0001 007\n"), 0, "%s",
	    err);
	cr_assert_eq(history_at(&h, 0)->sessions, 7);
}

Test(history, write_error)
{
	struct history	 hh;
	FILE		*fp;

	cr_assert_eq(history_init(&hh, 60), 0);
	cr_assert_eq(history_add(&hh, 1, 1, NULL, 0), 0);
	cr_assert_not_null(fp = fopen("/dev/full", "w"));
	cr_assert_eq(history_write(&hh, fp, 0), -1);
	fclose(fp);
	history_free(&hh);
}
