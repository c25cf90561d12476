/*
 * test_message.c: the kept message and milter edits (src/message.c):
 * parsing, header index semantics of 'h', 'i' and 'm', leading space,
 * body replacement, and the body spool moving to a file.
 */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"

static struct message	msg;

static void
setup(void)
{
	static const char text[] =
	    "Received: from x\n"
	    "Subject: hello\n"
	    "X-A: one\n"
	    "To: <a@example.com>,\n"
	    "\t<b@example.com>\n"
	    "x-a:two\n"
	    "\n"
	    "line 1\n"
	    "line 2\r\n";

	message_init(&msg, 1024, "/tmp");
	cr_assert_eq(message_parse(&msg, text, sizeof(text) - 1), 0);
}

static void
teardown(void)
{
	message_free(&msg);
}

TestSuite(message, .init = setup, .fini = teardown);

static void
apply(char code, uint32_t idx, const char *name, const char *value,
    int leadspc)
{
	struct milter_reply	 r;
	const char		*err = NULL;

	memset(&r, 0, sizeof(r));
	r.code = code;
	r.u.header.index = idx;
	r.u.header.name = name;
	r.u.header.value = value;
	cr_assert_eq(message_apply(&msg, &r, leadspc, &err), 0, "%s", err);
}

/* The message as text, LF for CRLF to keep expectations readable. */
static char *
render(void)
{
	char	*buf = NULL, *s, *d;
	size_t	 len = 0;
	FILE	*fp = open_memstream(&buf, &len);

	cr_assert_eq(message_write(&msg, fp), 0);
	fclose(fp);
	for (s = d = buf; *s != '\0'; s++)
		if (!(s[0] == '\r' && s[1] == '\n'))
			*d++ = *s;
	*d = '\0';
	return buf;
}

Test(message, parse_keeps_values_and_folds)
{
	cr_assert_eq(msg.nhdrs, 5);
	cr_assert_str_eq(msg.hdrs[1].name, "Subject");
	cr_assert_str_eq(msg.hdrs[1].value, " hello");
	cr_assert_str_eq(msg.hdrs[3].value,
	    " <a@example.com>,\n\t<b@example.com>");
	cr_assert_str_eq(msg.hdrs[4].value, "two");
	cr_assert_eq(msg.body.len, 16);	/* two lines, CRLF each */
}

Test(message, write_round_trip)
{
	char	*s = render();

	cr_assert_str_eq(s, "Received: from x\nSubject: hello\nX-A: one\n"
	    "To: <a@example.com>,\n\t<b@example.com>\nx-a:two\n\n"
	    "line 1\nline 2\n");
	free(s);
}

Test(message, add_header_appends_with_space)
{
	apply(SMFIR_ADDHEADER, 0, "X-New", "v", 0);
	cr_assert_eq(msg.nhdrs, 6);
	cr_assert_str_eq(msg.hdrs[5].name, "X-New");
	cr_assert_str_eq(msg.hdrs[5].value, " v");
	apply(SMFIR_ADDHEADER, 0, "X-Raw", "v", 1);
	cr_assert_str_eq(msg.hdrs[6].value, "v");
}

Test(message, insert_header_index)
{
	/* Postfix's hidden Received: header counts as index 0. */
	apply(SMFIR_INSHEADER, 0, "X-Top", "t", 0);
	cr_assert_str_eq(msg.hdrs[0].name, "X-Top");
	apply(SMFIR_INSHEADER, 1, "X-One", "1", 0);
	cr_assert_str_eq(msg.hdrs[0].name, "X-One");
	cr_assert_str_eq(msg.hdrs[1].name, "X-Top");
	apply(SMFIR_INSHEADER, 3, "X-Three", "3", 0);
	cr_assert_str_eq(msg.hdrs[2].name, "X-Three");
	cr_assert_str_eq(msg.hdrs[3].name, "Received");
	apply(SMFIR_INSHEADER, 1000, "X-End", "e", 0);
	cr_assert_str_eq(msg.hdrs[msg.nhdrs - 1].name, "X-End");
}

Test(message, change_header_by_name_index)
{
	/* Index counts this name only, case-insensitively. */
	apply(SMFIR_CHGHEADER, 2, "X-A", "changed", 0);
	cr_assert_str_eq(msg.hdrs[4].value, " changed");
	cr_assert_str_eq(msg.hdrs[2].value, " one");
	/* 0 counts as 1. */
	apply(SMFIR_CHGHEADER, 0, "x-a", "first", 1);
	cr_assert_str_eq(msg.hdrs[2].value, "first");
}

Test(message, delete_header_renumbers)
{
	apply(SMFIR_CHGHEADER, 1, "X-A", "", 0);
	cr_assert_eq(msg.nhdrs, 4);
	/* The second X-A is now the first. */
	cr_assert_str_eq(msg.hdrs[3].name, "x-a");
	apply(SMFIR_CHGHEADER, 1, "X-A", "", 0);
	cr_assert_eq(msg.nhdrs, 3);
	/* Deleting what is not there does nothing. */
	apply(SMFIR_CHGHEADER, 1, "X-A", "", 0);
	cr_assert_eq(msg.nhdrs, 3);
}

Test(message, change_missing_header_appends)
{
	apply(SMFIR_CHGHEADER, 3, "X-A", "third", 0);
	cr_assert_eq(msg.nhdrs, 6);
	cr_assert_str_eq(msg.hdrs[5].name, "X-A");
	cr_assert_str_eq(msg.hdrs[5].value, " third");
}

static void
replbody(const char *data, size_t len, int want)
{
	struct milter_reply	 r;
	const char		*err = NULL;

	memset(&r, 0, sizeof(r));
	r.code = SMFIR_REPLBODY;
	r.u.body.data = (const uint8_t *)data;
	r.u.body.len = len;
	cr_assert_eq(message_apply(&msg, &r, 0, &err), want);
	if (want == -1)
		cr_assert_str_eq(err, "body replacement not in one run");
}

Test(message, replace_body)
{
	char	*s;

	replbody("new ", 4, 0);
	replbody("body\r\n", 6, 0);
	/* Not in effect until the edits are done. */
	cr_assert_eq(msg.body.len, 16);
	message_edits_done(&msg);
	cr_assert_eq(msg.body.len, 10);
	s = render();
	cr_assert(strstr(s, "\n\nnew body\n") != NULL, "%s", s);
	free(s);
}

Test(message, replace_body_must_be_one_run)
{
	replbody("a", 1, 0);
	apply(SMFIR_ADDHEADER, 0, "X", "y", 0);
	replbody("b", 1, -1);
}

Test(message, empty_replacement_empties_body)
{
	replbody("", 0, 0);
	message_edits_done(&msg);
	cr_assert_eq(msg.body.len, 0);
}

/* The kept body, as is. */
static void
body_is(const char *want, size_t len)
{
	char	buf[256];

	cr_assert_eq(msg.body.len, len);
	cr_assert_eq(spool_read(&msg.body, 0, buf, sizeof(buf)),
	    (ssize_t)len);
	cr_assert(memcmp(buf, want, len) == 0);
}

/* As Postfix: lines at LF, a CR before it dropped, CRLF kept. */
Test(message, replacement_taken_as_lines)
{
	replbody("one\ntwo\r", 8, 0);
	replbody("\nthree\r\r\n", 9, 0);
	replbody("four\r", 5, 0);
	replbody("five", 4, 0);
	cr_assert_eq(message_edits_done(&msg), 0);
	body_is("one\r\ntwo\r\nthree\r\r\nfour\rfive\r\n", 29);
}

Test(message, replacement_last_cr_kept)
{
	replbody("x\r", 2, 0);
	cr_assert_eq(message_edits_done(&msg), 0);
	body_is("x\r\r\n", 4);
}

Test(message, other_replies_are_left_alone)
{
	struct milter_reply	 r;
	const char		*err;

	memset(&r, 0, sizeof(r));
	r.code = SMFIR_ADDRCPT;
	r.u.str = "<x@y>";
	cr_assert_eq(message_apply(&msg, &r, 0, &err), 0);
	cr_assert_eq(msg.nhdrs, 5);
}

Test(message, spool_moves_to_file)
{
	struct spool	s;
	char		buf[3000], back[3000];
	size_t		i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)('a' + i % 26);
	spool_init(&s, 1000, "/tmp");
	cr_assert_eq(spool_append(&s, buf, 600), 0);
	cr_assert_eq(s.fd, -1);
	cr_assert_eq(spool_append(&s, buf + 600, 2400), 0);
	cr_assert_neq(s.fd, -1);
	cr_assert_null(s.mem.data);
	cr_assert_eq(spool_read(&s, 0, back, sizeof(back)), 3000);
	cr_assert_arr_eq(back, buf, sizeof(buf));
	cr_assert_eq(spool_read(&s, 2990, back, 100), 10);
	cr_assert_eq(spool_read(&s, 3000, back, 100), 0);
	spool_free(&s);
}

Test(message, spool_bad_dir_fails)
{
	struct spool	s;

	spool_init(&s, 1, "/nonexistent/dir");
	cr_assert_eq(spool_append(&s, "abc", 3), -1);
	spool_free(&s);
}

Test(message, malformed_header_section)
{
	struct message	m;

	message_init(&m, 100, "/tmp");
	cr_assert_eq(message_parse(&m, "no colon here\n\nbody\n", 20), -1);
	message_free(&m);
	message_init(&m, 100, "/tmp");
	cr_assert_eq(message_parse(&m, ":empty\n\n", 8), -1);
	message_free(&m);
}

/* What message_write() writes, byte for byte. */
static uint64_t
written_size(void)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp = open_memstream(&buf, &len);

	cr_assert_eq(message_write(&msg, fp), 0);
	fclose(fp);
	free(buf);
	return len;
}

/*
 * The size size conditions see is the message as written (CRLF, folds
 * too), after each edit: a header added, changed, deleted, the body
 * replaced.
 */
Test(message, size_is_as_written)
{
	/* 5 headers, a fold, the blank line, 16 bytes of body. */
	cr_assert_eq(message_size(&msg), 18 + 16 + 10 + 40 + 9 + 2 + 16);
	cr_assert_eq(message_size(&msg), written_size());
	apply(SMFIR_ADDHEADER, 0, "X-Spam-Flag", "YES", 0);
	cr_assert_eq(message_size(&msg), written_size());
	apply(SMFIR_CHGHEADER, 1, "Subject", " a much longer subject", 1);
	cr_assert_eq(message_size(&msg), written_size());
	apply(SMFIR_CHGHEADER, 1, "To", "", 0);
	cr_assert_eq(message_size(&msg), written_size());
	replbody("new body\r\n", 10, 0);
	message_edits_done(&msg);
	cr_assert_eq(message_size(&msg), written_size());
}
