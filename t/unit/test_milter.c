/*
 * test_milter.c: the wire codec (src/milter.c).  Round trips for every
 * command and reply, the frame reader under every split, each class of
 * malformed input, negotiation rules of both sides, and byte-exact
 * checks against packet streams captured from Postfix and libmilter
 * (t/fixtures/, see t/fixtures/README).
 */

#include <sys/stat.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter.h"

#define FIXTURES	"t/fixtures"

static struct mbuf	out;

static void
setup(void)
{
	mbuf_init(&out);
}

static void
teardown(void)
{
	mbuf_free(&out);
}

TestSuite(milter, .init = setup, .fini = teardown);

/* Frame one packet out of out, which must hold exactly one. */
static struct milter_pkt
one_packet(const struct mbuf *b)
{
	struct milter_pkt	pkt;
	size_t			used;

	cr_assert_eq(milter_frame(b->data, b->len, MILTER_MDS_1M, &pkt,
	    &used), MILTER_FRAME_OK);
	cr_assert_eq(used, b->len, "packet is %zu of %zu bytes", used, b->len);
	return pkt;
}

/* Decode out as a command, encode it again: the same bytes. */
static void
cmd_round_trip(void)
{
	struct milter_pkt	 pkt = one_packet(&out);
	struct milter_cmd	 c;
	struct mbuf		 again;
	const char		*err = NULL;

	cr_assert_eq(milter_decode_cmd(&pkt, &c, &err), 0, "%c: %s",
	    pkt.code, err);
	mbuf_init(&again);
	cr_assert_eq(milter_put_cmd(&again, &c), 0);
	cr_assert_eq(again.len, out.len);
	cr_assert_arr_eq(again.data, out.data, out.len);
	mbuf_free(&again);
}

static void
reply_round_trip(void)
{
	struct milter_pkt	 pkt = one_packet(&out);
	struct milter_reply	 r;
	struct mbuf		 again;
	const char		*err = NULL;

	cr_assert_eq(milter_decode_reply(&pkt, &r, &err), 0, "%c: %s",
	    pkt.code, err);
	mbuf_init(&again);
	cr_assert_eq(milter_put_reply(&again, &r), 0);
	cr_assert_eq(again.len, out.len);
	cr_assert_arr_eq(again.data, out.data, out.len);
	mbuf_free(&again);
}

Test(milter, optneg_offer_bytes)
{
	struct milter_optneg	o = { 6, 0x1ff, 0x1fffff, { NULL } };
	static const uint8_t	want[] = { 0, 0, 0, 13, 'O', 0, 0, 0, 6,
	    0, 0, 1, 0xff, 0, 0x1f, 0xff, 0xff };

	cr_assert_eq(milter_put_optneg(&out, &o), 0);
	cr_assert_eq(out.len, sizeof(want));
	cr_assert_arr_eq(out.data, want, sizeof(want));
	cmd_round_trip();
}

Test(milter, optneg_reply_with_macros)
{
	struct milter_optneg	 o = { 6, 0x1ff, 0x1fffff, { NULL } };
	struct milter_pkt	 pkt;
	struct milter_reply	 r;
	const char		*err;

	o.macros[SMFIM_ENVRCPT] = "{rcpt_addr} {rcpt_mailer}";
	o.macros[SMFIM_EOH] = "i";
	cr_assert_eq(milter_put_optneg(&out, &o), 0);
	reply_round_trip();
	pkt = one_packet(&out);
	cr_assert_eq(milter_decode_reply(&pkt, &r, &err), 0);
	cr_assert_str_eq(r.u.optneg.macros[SMFIM_ENVRCPT],
	    "{rcpt_addr} {rcpt_mailer}");
	cr_assert_str_eq(r.u.optneg.macros[SMFIM_EOH], "i");
	cr_assert_null(r.u.optneg.macros[SMFIM_CONNECT]);
}

Test(milter, connect_example_bytes)
{
	struct milter_connect	c = { "a.example", SMFIA_INET, 25,
	    "192.0.2.1" };
	static const uint8_t	want[] = { 0, 0, 0, 0x18, 'C',
	    'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, '4', 0, 25,
	    '1', '9', '2', '.', '0', '.', '2', '.', '1', 0 };

	cr_assert_eq(milter_put_connect(&out, &c), 0);
	cr_assert_eq(out.len, sizeof(want));
	cr_assert_arr_eq(out.data, want, sizeof(want));
	cmd_round_trip();
}

Test(milter, connect_families)
{
	struct milter_connect	c6 = { "h", SMFIA_INET6, 587, "2001:db8::1" };
	struct milter_connect	cl = { "localhost", SMFIA_UNIX, 0, "/s" };
	struct milter_connect	cu = { "[unknown]", SMFIA_UNKNOWN, 0, NULL };

	milter_put_connect(&out, &c6);
	cmd_round_trip();
	mbuf_reset(&out);
	milter_put_connect(&out, &cl);
	cmd_round_trip();
	mbuf_reset(&out);
	milter_put_connect(&out, &cu);
	cr_assert_eq(out.len, 4 + 1 + 10 + 1);
	cmd_round_trip();
}

Test(milter, every_command_round_trips)
{
	static const char	*pairs[] = { "j", "mx.example", "{daemon_addr}",
	    "127.0.0.1" };
	static const char	*margs[] = { "<a@example.com>", "SIZE=100",
	    "BODY=8BITMIME" };
	struct milter_header	 h = { 0, "Subject", " hello\n\tworld" };
	static const char	 empties[] = "AEKNQT";
	size_t			 i;

	milter_put_macros(&out, SMFIC_CONNECT, pairs, 4);
	cmd_round_trip();
	mbuf_reset(&out);
	milter_put_macros(&out, SMFIC_BODY, NULL, 0);	/* stage byte only */
	cmd_round_trip();
	mbuf_reset(&out);
	milter_put_str(&out, SMFIC_HELO, "client.example");
	cmd_round_trip();
	mbuf_reset(&out);
	milter_put_strs(&out, SMFIC_MAIL, margs, 3);
	cmd_round_trip();
	mbuf_reset(&out);
	milter_put_strs(&out, SMFIC_RCPT, margs, 1);
	cmd_round_trip();
	mbuf_reset(&out);
	milter_put_header(&out, SMFIC_HEADER, &h);
	cmd_round_trip();
	mbuf_reset(&out);
	milter_put_body(&out, SMFIC_BODY, "x\r\n\0y", 5, 0);
	cmd_round_trip();
	mbuf_reset(&out);
	milter_put_str(&out, SMFIC_UNKNOWN, "XYZZY arg");
	cmd_round_trip();
	for (i = 0; i < strlen(empties); i++) {
		mbuf_reset(&out);
		milter_put_empty(&out, empties[i]);
		cr_assert_eq(out.len, 5);
		cmd_round_trip();
	}
}

Test(milter, every_reply_round_trips)
{
	struct milter_header	 h = { 0, "X-Spam", " no" };
	struct milter_header	 hi = { 3, "X-Ins", "v" };
	static const char	 empties[] = "acdprst4";
	size_t			 i;

	milter_put_str(&out, SMFIR_REPLYCODE, "550 5.7.1 go away");
	reply_round_trip();
	mbuf_reset(&out);
	milter_put_str(&out, SMFIR_QUARANTINE, "held for review");
	reply_round_trip();
	mbuf_reset(&out);
	milter_put_str(&out, SMFIR_ADDRCPT, "<x@example.com>");
	reply_round_trip();
	mbuf_reset(&out);
	milter_put_str(&out, SMFIR_DELRCPT, "<x@example.com>");
	reply_round_trip();
	mbuf_reset(&out);
	milter_put_addr(&out, SMFIR_CHGFROM, "<new@example.com>", NULL);
	reply_round_trip();
	mbuf_reset(&out);
	milter_put_addr(&out, SMFIR_CHGFROM, "<new@example.com>", "RET=HDRS");
	reply_round_trip();
	mbuf_reset(&out);
	milter_put_addr(&out, SMFIR_ADDRCPT_PAR, "<y@x>", "NOTIFY=NEVER");
	reply_round_trip();
	mbuf_reset(&out);
	milter_put_header(&out, SMFIR_ADDHEADER, &h);
	reply_round_trip();
	mbuf_reset(&out);
	milter_put_header(&out, SMFIR_INSHEADER, &hi);
	reply_round_trip();
	mbuf_reset(&out);
	milter_put_header(&out, SMFIR_CHGHEADER, &hi);
	reply_round_trip();
	mbuf_reset(&out);
	milter_put_body(&out, SMFIR_REPLBODY, "new\r\n", 5, 0);
	reply_round_trip();
	for (i = 0; i < strlen(empties); i++) {
		mbuf_reset(&out);
		milter_put_empty(&out, empties[i]);
		reply_round_trip();
	}
}

Test(milter, body_chunks)
{
	static uint8_t		 big[200000];
	struct milter_pkt	 pkt;
	size_t			 off = 0, used, total = 0, n = 0;

	memset(big, 'x', sizeof(big));
	cr_assert_eq(milter_put_body(&out, SMFIC_BODY, big, sizeof(big),
	    MILTER_CHUNK_SIZE), 0);
	while (milter_frame(out.data + off, out.len - off, MILTER_CHUNK_SIZE,
	    &pkt, &used) == MILTER_FRAME_OK) {
		cr_assert_leq(pkt.len, MILTER_CHUNK_SIZE);
		total += pkt.len;
		off += used;
		n++;
	}
	cr_assert_eq(total, sizeof(big));
	cr_assert_eq(n, 4);
	cr_assert_eq(off, out.len);
	/* An empty replacement body is one empty packet. */
	mbuf_reset(&out);
	milter_put_body(&out, SMFIR_REPLBODY, "", 0, 0);
	cr_assert_eq(out.len, 5);
}

/* Every split of a stream of packets gives the same packets. */
Test(milter, frame_any_split)
{
	struct milter_header	 h = { 0, "Subject", "x" };
	struct milter_pkt	 pkt;
	uint8_t			 buf[512];
	size_t			 split, have, used, fed, count;
	int			 rc;

	milter_put_str(&out, SMFIC_HELO, "h");
	milter_put_header(&out, SMFIC_HEADER, &h);
	milter_put_empty(&out, SMFIC_EOH);
	milter_put_body(&out, SMFIC_BODY, "body\r\n", 6, 0);
	cr_assert_lt(out.len, sizeof(buf));
	for (split = 1; split <= out.len; split++) {
		have = fed = count = 0;
		while (fed < out.len || have > 0) {
			size_t n = out.len - fed < split ? out.len - fed :
			    split;

			memcpy(buf + have, out.data + fed, n);
			have += n;
			fed += n;
			while ((rc = milter_frame(buf, have, 1024, &pkt,
			    &used)) == MILTER_FRAME_OK) {
				cr_assert_eq(pkt.code, "HLNB"[count]);
				count++;
				memmove(buf, buf + used, have - used);
				have -= used;
			}
			cr_assert_eq(rc, MILTER_FRAME_SHORT);
			if (n == 0)
				break;
		}
		cr_assert_eq(count, 4, "split %zu gave %zu packets", split,
		    count);
	}
}

Test(milter, frame_errors)
{
	static const uint8_t	 zero[] = { 0, 0, 0, 0, 'c' };
	static const uint8_t	 big[] = { 0, 1, 0, 1 };
	static const uint8_t	 edge[] = { 0, 1, 0, 0, 'B' };
	struct milter_pkt	 pkt;
	size_t			 used = 0;

	cr_assert_eq(milter_frame(zero, sizeof(zero), 65535, &pkt, &used),
	    MILTER_FRAME_ZERO);
	/* Refused before the payload arrives. */
	cr_assert_eq(milter_frame(big, sizeof(big), 65535, &pkt, &used),
	    MILTER_FRAME_BIG);
	/* 65536 = code + 65535 payload bytes: allowed, needs more. */
	cr_assert_eq(milter_frame(edge, sizeof(edge), 65535, &pkt, &used),
	    MILTER_FRAME_SHORT);
	cr_assert_eq(milter_frame(edge, 3, 65535, &pkt, &used),
	    MILTER_FRAME_SHORT);
	cr_assert_str_eq(milter_frame_strerror(MILTER_FRAME_BIG),
	    "packet length over the limit");
}

struct bad {
	char		 code;
	const char	*payload;
	size_t		 len;
	int		 is_reply;
	const char	*err;
};

/* One row for each class of malformed payload. */
static const struct bad bad_packets[] = {
	{ 'A', "x", 1, 0, "unexpected payload" },
	{ 'T', "x", 1, 0, "unexpected payload" },
	{ 'O', "\0\0\0\6\0\0\1\377", 8, 0, "negotiation packet of wrong size" },
	{ 'O', "\0\0\0\6\0\0\1\377\0\0\0\0\0", 13, 1,
	    "truncated macro stage" },
	{ 'O', "\0\0\0\6\0\0\1\377\0\0\0\0\0\0\0\1i", 17, 1,
	    "unterminated macro list" },
	{ 'C', "host", 4, 0, "truncated connect" },
	{ 'C', "host\0", 5, 0, "truncated connect" },
	{ 'C', "host\0X\0\0a\0", 10, 0, "unknown address family" },
	{ 'C', "host\0" "4\0", 7, 0, "truncated connect port" },
	{ 'C', "host\0" "4\0\31" "1.2.3.4", 15, 0, "bad connect address" },
	{ 'C', "host\0U\0", 7, 0, "trailing data after unknown family" },
	{ 'D', "", 0, 0, "macro packet without stage" },
	{ 'D', "Cj\0", 3, 0, "malformed macro list" },
	{ 'D', "Cj\0v", 4, 0, "malformed macro list" },
	{ 'H', "helo", 4, 0, "malformed string" },
	{ 'H', "a\0b\0", 4, 0, "malformed string" },
	{ 'M', "", 0, 0, "malformed address" },
	{ 'R', "<a>", 3, 0, "malformed address" },
	{ 'L', "Subject\0", 8, 0, "malformed header" },
	{ 'L', "\0value\0", 7, 0, "empty header name" },
	{ 'L', "a\0b\0c\0", 6, 0, "malformed header" },
	{ 'Z', "", 0, 0, "unknown command" },
	{ 'c', "x", 1, 1, "unexpected payload" },
	{ 'y', "550 no", 6, 1, "malformed string" },
	{ 'e', "", 0, 1, "malformed address" },
	{ 'e', "<a>\0RET", 7, 1, "malformed ESMTP arguments" },
	{ 'e', "<a>\0x\0y\0", 8, 1, "trailing data after ESMTP arguments" },
	{ 'h', "X\0v", 3, 1, "malformed header" },
	{ 'i', "\0\0", 2, 1, "truncated header index" },
	{ 'm', "\0\0\0\1X\0", 6, 1, "malformed header" },
	{ 'l', "", 0, 1, "unknown reply" },
	{ '?', "", 0, 1, "unknown reply" },
};

Test(milter, malformed_packets)
{
	struct milter_pkt	 pkt;
	struct milter_cmd	 c;
	struct milter_reply	 r;
	const char		*err;
	size_t			 i;
	int			 rc;

	for (i = 0; i < sizeof(bad_packets) / sizeof(bad_packets[0]); i++) {
		pkt.code = bad_packets[i].code;
		pkt.data = (const uint8_t *)bad_packets[i].payload;
		pkt.len = bad_packets[i].len;
		err = NULL;
		rc = bad_packets[i].is_reply ?
		    milter_decode_reply(&pkt, &r, &err) :
		    milter_decode_cmd(&pkt, &c, &err);
		cr_assert_eq(rc, -1, "row %zu ('%c') was accepted", i,
		    pkt.code);
		cr_assert_str_eq(err, bad_packets[i].err, "row %zu", i);
	}
}

Test(milter, strv_access)
{
	static const char	*args[] = { "<a@b>", "SIZE=1", "BODY=7BIT" };
	struct milter_pkt	 pkt;
	struct milter_cmd	 c;
	const char		*err;

	milter_put_strs(&out, SMFIC_MAIL, args, 3);
	pkt = one_packet(&out);
	cr_assert_eq(milter_decode_cmd(&pkt, &c, &err), 0);
	cr_assert_eq(c.u.args.count, 3);
	cr_assert_str_eq(milter_strv_get(&c.u.args, 0), "<a@b>");
	cr_assert_str_eq(milter_strv_get(&c.u.args, 2), "BODY=7BIT");
	cr_assert_null(milter_strv_get(&c.u.args, 3));
}

Test(milter, negotiate_mta_side)
{
	struct milter_optneg	 offer = { 6, 0x1ff, 0x1fffff, { NULL } };
	struct milter_optneg	 reply = { 6, 0x01, 0x00100000, { NULL } };
	struct milter_optneg	 eff;
	const char		*err;

	cr_assert_eq(milter_negotiate_mta(&offer, &reply, &eff, &err), 0);
	cr_assert_eq(eff.protocol, 0x00100000);
	reply.version = 2;
	reply.protocol = 0;
	cr_assert_eq(milter_negotiate_mta(&offer, &reply, &eff, &err), 0);
	cr_assert_eq(eff.protocol, SMFIP_NOUNKNOWN | SMFIP_NODATA);
	cr_assert(!milter_cmd_sent(&eff, SMFIC_DATA));
	cr_assert(!milter_cmd_sent(&eff, SMFIC_UNKNOWN));
	cr_assert(!milter_cmd_sent(&eff, SMFIC_QUIT_NC));
	reply.version = 4;
	cr_assert_eq(milter_negotiate_mta(&offer, &reply, &eff, &err), 0);
	cr_assert(milter_cmd_sent(&eff, SMFIC_DATA));
	reply.version = 1;
	cr_assert_eq(milter_negotiate_mta(&offer, &reply, &eff, &err), -1);
	cr_assert_str_eq(err, "unsupported protocol version");
	offer.version = 4;
	reply.version = 6;
	cr_assert_eq(milter_negotiate_mta(&offer, &reply, &eff, &err), -1);
	cr_assert_str_eq(err, "version higher than offered");
	offer.version = 6;
	offer.actions = 0x3f;
	reply.actions = 0x40;
	cr_assert_eq(milter_negotiate_mta(&offer, &reply, &eff, &err), -1);
	cr_assert_str_eq(err, "actions not offered");
	reply.actions = 0;
	offer.protocol = 0x7f;
	reply.protocol = SMFIP_SKIP;
	cr_assert_eq(milter_negotiate_mta(&offer, &reply, &eff, &err), -1);
	cr_assert_str_eq(err, "protocol flags not offered");
	reply.protocol = SMFIP_MDS_1M;
	cr_assert_eq(milter_negotiate_mta(&offer, &reply, &eff, &err), -1);
	cr_assert_str_eq(err, "size limit not offered");
	offer.protocol |= SMFIP_MDS_1M;
	cr_assert_eq(milter_negotiate_mta(&offer, &reply, &eff, &err), 0);
	cr_assert(eff.protocol & SMFIP_MDS_1M);
}

Test(milter, negotiate_milter_side)
{
	struct milter_optneg	 offer = { 2, 0x1ff, 0x7f, { NULL } };
	struct milter_optneg	 want = { 6, 0x3f, SMFIP_NR_HDR |
	    SMFIP_NODATA | SMFIP_NOUNKNOWN | SMFIP_NOHELO, { NULL } };
	struct milter_optneg	 got;
	const char		*err;

	cr_assert_eq(milter_negotiate_milter(&offer, &want, &got, &err), 0);
	cr_assert_eq(got.version, 2);
	/* NR and NODATA/NOUNKNOWN not offered are dropped, not errors. */
	cr_assert_eq(got.protocol, SMFIP_NOHELO);
	want.protocol = SMFIP_SKIP;
	cr_assert_eq(milter_negotiate_milter(&offer, &want, &got, &err), -1);
	cr_assert_str_eq(err, "MTA does not offer the protocol steps needed");
	want.protocol = 0;
	offer.actions = 0x0f;
	cr_assert_eq(milter_negotiate_milter(&offer, &want, &got, &err), -1);
	cr_assert_str_eq(err, "MTA does not offer the actions needed");
	/* An empty offer stands for the version 1 sets. */
	offer.actions = 0;
	want.actions = 0x0f;
	cr_assert_eq(milter_negotiate_milter(&offer, &want, &got, &err), 0);
	offer.version = 1;
	cr_assert_eq(milter_negotiate_milter(&offer, &want, &got, &err), -1);
}

Test(milter, stage_rules)
{
	struct milter_optneg	o = { 6, 0, SMFIP_NR_CONN | SMFIP_NOBODY,
	    { NULL } };

	cr_assert(!milter_cmd_replied(&o, SMFIC_CONNECT));
	cr_assert(milter_cmd_replied(&o, SMFIC_HELO));
	cr_assert(milter_cmd_replied(&o, SMFIC_BODYEOB));
	cr_assert(!milter_cmd_replied(&o, SMFIC_ABORT));
	cr_assert(!milter_cmd_replied(&o, SMFIC_MACRO));
	cr_assert(!milter_cmd_sent(&o, SMFIC_BODY));
	cr_assert(milter_cmd_sent(&o, SMFIC_BODYEOB));
	cr_assert(milter_reply_is_final('y'));
	cr_assert(!milter_reply_is_final('p'));
	cr_assert(!milter_reply_is_final('\0'));
	cr_assert(milter_reply_is_edit('b'));
	cr_assert(!milter_reply_is_edit('c'));
	cr_assert_eq(milter_macro_list(SMFIC_EOH), SMFIM_EOH);
	cr_assert_eq(milter_macro_list(SMFIC_BODY), -1);
	cr_assert_str_eq(milter_code_name('R'), "rcpt");
	cr_assert_str_eq(milter_code_name('~'), "?");
}

/*
 * Captured streams: each *.cmd file in t/fixtures holds what Postfix
 * sent to a milter on one connection, each *.reply what a libmilter
 * milter answered.  Every packet must decode, and encode back to the
 * same bytes.
 */
static size_t
check_stream(const char *path, int is_reply)
{
	struct milter_pkt	 pkt;
	struct milter_cmd	 c;
	struct milter_reply	 r;
	struct mbuf		 again;
	const char		*err = NULL;
	uint8_t			*buf;
	size_t			 len, off = 0, used, n = 0;
	FILE			*fp;
	struct stat		 st;

	cr_assert_eq(stat(path, &st), 0, "%s", path);
	len = (size_t)st.st_size;
	cr_assert_not_null(buf = malloc(len + 1));
	cr_assert_not_null(fp = fopen(path, "rb"));
	cr_assert_eq(fread(buf, 1, len, fp), len);
	fclose(fp);
	mbuf_init(&again);
	while (off < len) {
		cr_assert_eq(milter_frame(buf + off, len - off, MILTER_MDS_1M,
		    &pkt, &used), MILTER_FRAME_OK, "%s at %zu", path, off);
		if (is_reply)
			cr_assert_eq(milter_decode_reply(&pkt, &r, &err), 0,
			    "%s at %zu: '%c' %s", path, off, pkt.code, err);
		else
			cr_assert_eq(milter_decode_cmd(&pkt, &c, &err), 0,
			    "%s at %zu: '%c' %s", path, off, pkt.code, err);
		mbuf_reset(&again);
		if (is_reply)
			milter_put_reply(&again, &r);
		else
			milter_put_cmd(&again, &c);
		cr_assert_eq(again.len, used, "%s at %zu", path, off);
		cr_assert_arr_eq(again.data, buf + off, used, "%s at %zu",
		    path, off);
		off += used;
		n++;
	}
	mbuf_free(&again);
	free(buf);
	return n;
}

Test(milter, captured_streams)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[1024];
	size_t		 files = 0, packets = 0, l;

	cr_assert_not_null(d = opendir(FIXTURES), "no %s", FIXTURES);
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".cmd") == 0) {
			snprintf(path, sizeof(path), "%s/%s", FIXTURES,
			    de->d_name);
			packets += check_stream(path, 0);
			files++;
		} else if (l > 6 && strcmp(de->d_name + l - 6, ".reply") == 0) {
			snprintf(path, sizeof(path), "%s/%s", FIXTURES,
			    de->d_name);
			packets += check_stream(path, 1);
			files++;
		}
	}
	closedir(d);
	cr_assert_geq(files, 4, "only %zu fixture files", files);
	cr_assert_geq(packets, 40, "only %zu packets", packets);
}
