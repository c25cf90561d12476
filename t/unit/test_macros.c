/*
 * test_macros.c: the macro store (src/macros.c): each D decoded once,
 * lookups, and the D packet each child is sent, driven by tables.
 */

#include <criterion/criterion.h>
#include <string.h>

#include "chain.h"
#include "macros.h"

/* An MTA's default macro list, by SMFIM_ stage. */
#define LIST(mta, stage)	(chain_profile(mta)->macro_lists[stage])

/* "name=value name=value" (no blanks in values) into a D's pairs. */
static void
take(struct macros *m, char cmd, const char *spec)
{
	struct mbuf		 b;
	struct milter_strv	 v;
	char			 buf[512], *tok, *save, *eq;

	mbuf_init(&b);
	strlcpy(buf, spec, sizeof(buf));
	for (tok = strtok_r(buf, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		cr_assert_not_null(eq = strchr(tok, '='));
		*eq = '\0';
		milter_add_str(&b, tok);
		milter_add_str(&b, eq + 1);
	}
	v.buf = (const char *)b.data;
	v.len = b.len;
	v.count = 0;
	macros_take(m, cmd, &v);
	mbuf_free(&b);
}

/* A D packet as "stage: name=value ...", "" for no packet. */
static void
show(const struct mbuf *b, char *out, size_t len)
{
	const char	*p, *end, *val;

	out[0] = '\0';
	if (b->len == 0)
		return;
	cr_assert_geq(b->len, 6);
	cr_assert_eq(b->data[4], SMFIC_MACRO);
	cr_assert_eq((size_t)((b->data[0] << 24 | b->data[1] << 16 |
	    b->data[2] << 8 | b->data[3])), b->len - 4);
	snprintf(out, len, "%c:", b->data[5]);
	for (p = (const char *)b->data + 6, end = (const char *)b->data +
	    b->len; p < end && (val = p + strlen(p) + 1) < end;
	    p = val + strlen(val) + 1) {
		strlcat(out, " ", len);
		strlcat(out, p, len);
		strlcat(out, "=", len);
		strlcat(out, val, len);
	}
}

static const char *connect_d = "j=mx.example.org {daemon_name}=smtpd "
    "{daemon_addr}=192.0.2.1 {daemon_port}=25 v=Postfix _=c.example.net";

/*
 * What a child is sent at a command: the session's D packets so far,
 * whether milterd asked the MTA for that stage's list, the child's own
 * list there, macros_compat.
 */
static const struct {
	const char	*name;
	enum mta	 mta;
	char		 cmd;
	const char	*mail_d;	/* NULL: no D at MAIL */
	int		 asked;		/* milterd asked for cmd's list */
	const char	*own;		/* the child's list at cmd */
	int		 compat;
	const char	*sent;		/* "" for no packet */
} for_child[] = {
	{ "not asked: the MTA's own", MTA_POSTFIX, SMFIC_CONNECT, NULL, 0,
	    NULL, 0, "C: j=mx.example.org {daemon_name}=smtpd "
	    "{daemon_addr}=192.0.2.1 {daemon_port}=25 v=Postfix "
	    "_=c.example.net" },
	{ "asked: Postfix's defaults", MTA_POSTFIX, SMFIC_CONNECT, NULL, 1,
	    NULL, 0, "C: j=mx.example.org {daemon_name}=smtpd "
	    "{daemon_addr}=192.0.2.1 v=Postfix _=c.example.net" },
	{ "asked: its own list only", MTA_POSTFIX, SMFIC_CONNECT, NULL, 1,
	    "j {daemon_port}", 0, "C: j=mx.example.org {daemon_port}=25" },
	{ "asked: an empty list is the defaults", MTA_POSTFIX, SMFIC_CONNECT,
	    NULL, 1, "", 0, "C: j=mx.example.org {daemon_name}=smtpd "
	    "{daemon_addr}=192.0.2.1 v=Postfix _=c.example.net" },
	{ "asked: Sendmail's defaults", MTA_SENDMAIL, SMFIC_CONNECT, NULL,
	    1, NULL, 0, "C: j=mx.example.org {daemon_name}=smtpd "
	    "_=c.example.net" },
	{ "compat: Sendmail's {if_addr} from {daemon_addr}", MTA_POSTFIX,
	    SMFIC_CONNECT, NULL, 1, "j", 1, "C: j=mx.example.org "
	    "{daemon_name}=smtpd _=c.example.net {if_addr}=192.0.2.1" },
	{ "compat: the queue id of MAIL at RCPT", MTA_SENDMAIL, SMFIC_RCPT,
	    "i=4XyZ {mail_addr}=a@example.org", 1, "{rcpt_addr}", 1,
	    "R: i=4XyZ" },
	{ "no D, nothing derived: no packet", MTA_POSTFIX, SMFIC_DATA,
	    NULL, 1, NULL, 0, "" },
	{ "no D, not asked: no packet", MTA_POSTFIX, SMFIC_EOH, NULL, 0,
	    NULL, 0, "" },
	{ "not a stage: nothing", MTA_POSTFIX, SMFIC_ABORT, NULL, 1, NULL,
	    0, "" },
};

Test(macros, for_child)
{
	struct macros	 m;
	struct mbuf	 b;
	const char	*want[SMFIM_COUNT];
	char		 got[512];
	size_t		 i;
	int		 sl;

	for (i = 0; i < sizeof(for_child) / sizeof(for_child[0]); i++) {
		memset(&m, 0, sizeof(m));
		memset(want, 0, sizeof(want));
		mbuf_init(&b);
		m.mta = for_child[i].mta;
		take(&m, SMFIC_CONNECT, connect_d);
		if (for_child[i].mail_d != NULL)
			take(&m, SMFIC_MAIL, for_child[i].mail_d);
		sl = milter_macro_list(for_child[i].cmd);
		if (sl != -1) {
			if (for_child[i].asked)
				m.asked = 1U << sl;
			want[sl] = for_child[i].own;
		}
		macros_for_child(&m, &b, for_child[i].cmd, want,
		    for_child[i].compat);
		show(&b, got, sizeof(got));
		cr_expect_str_eq(got, for_child[i].sent, "%s: got \"%s\"",
		    for_child[i].name, got);
		mbuf_free(&b);
		macros_free(&m);
	}
}

/* A later D of a stage replaces the earlier; lookups by either name. */
Test(macros, store)
{
	struct macros	m;

	memset(&m, 0, sizeof(m));
	take(&m, SMFIC_CONNECT, connect_d);
	take(&m, SMFIC_MAIL, "i=A1 {auth_authen}=alice");
	cr_assert_str_eq(macros_get(&m, SMFIC_CONNECT, "j"), "mx.example.org");
	cr_assert_str_eq(macros_get(&m, SMFIC_CONNECT, "{j}"),
	    "mx.example.org");
	cr_assert_str_eq(macros_get(&m, SMFIC_CONNECT, "daemon_port"), "25");
	cr_assert_null(macros_get(&m, SMFIC_CONNECT, "i"));
	cr_assert_null(macros_get(&m, SMFIC_RCPT, "i"));
	/* The latest from connect up to the command. */
	cr_assert_str_eq(macros_latest(&m, SMFIC_RCPT, "i"), "A1");
	cr_assert_null(macros_latest(&m, SMFIC_HELO, "i"));
	cr_assert_str_eq(macros_latest(&m, SMFIC_BODYEOB, "auth_authen"),
	    "alice");
	take(&m, SMFIC_MAIL, "i=B2");
	cr_assert_str_eq(macros_latest(&m, SMFIC_DATA, "i"), "B2");
	cr_assert_null(macros_latest(&m, SMFIC_DATA, "{auth_authen}"));
	macros_free(&m);
}

static void
collect(void *arg, const char *name, const char *value)
{
	strlcat(arg, name, 256);
	strlcat(arg, "=", 256);
	strlcat(arg, value, 256);
	strlcat(arg, " ", 256);
}

/* Every macro up to a command, names without braces, in stage order. */
Test(macros, each)
{
	struct macros	m;
	char		got[256] = "";

	memset(&m, 0, sizeof(m));
	take(&m, SMFIC_CONNECT, "j=mx {daemon_port}=25");
	take(&m, SMFIC_MAIL, "i=A1");
	take(&m, SMFIC_RCPT, "{rcpt_addr}=b@example.org");
	macros_each(&m, SMFIC_MAIL, collect, got);
	cr_assert_str_eq(got, "j=mx daemon_port=25 i=A1 ");
	got[0] = '\0';
	macros_each(&m, SMFIC_BODYEOB, collect, got);
	cr_assert_str_eq(got, "");
	macros_free(&m);
}

/* The MTA: configured, or told by `v' at connect; else Postfix. */
Test(macros, mta_at_connect)
{
	static const struct {
		enum mta	 configured;
		const char	*d;
		enum mta	 mta;
	} t[] = {
		{ MTA_AUTO, "v=Postfix_3.7.11", MTA_POSTFIX },
		{ MTA_AUTO, "v=8.17.1.9", MTA_SENDMAIL },
		{ MTA_AUTO, "j=mx", MTA_POSTFIX },
		{ MTA_SENDMAIL, "v=Postfix", MTA_SENDMAIL },
		{ MTA_POSTFIX, "v=8.17.1.9", MTA_POSTFIX },
	};
	struct milter_connect	 c = { "c.example.net", '4', 25,
	    "192.0.2.9" };
	struct macros		 m;
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&m, 0, sizeof(m));
		take(&m, SMFIC_CONNECT, t[i].d);
		macros_connect(&m, &c, t[i].configured);
		cr_expect_eq(m.mta, t[i].mta, "case %zu", i);
		cr_expect_str_eq(m.client_addr, "192.0.2.9");
		macros_free(&m);
	}
}

/* A macro in a list: "j" and "{j}" alike, blanks or commas between. */
Test(macros, listed)
{
	cr_assert(macros_listed("j {daemon_name} v _", "j"));
	cr_assert(macros_listed("j {daemon_name} v _", "{j}"));
	cr_assert(macros_listed("j {daemon_name} v _", "{daemon_name}"));
	cr_assert(macros_listed("j {daemon_name} v _", "daemon_name"));
	cr_assert(macros_listed("j, {daemon_name},v", "v"));
	cr_assert(macros_listed("i {auth_type}", "i"));
	cr_assert_not(macros_listed("j {daemon_name} v _", "{daemon}"));
	cr_assert_not(macros_listed("j {daemon_name} v _", "name"));
	cr_assert_not(macros_listed("{if_addr}", "{if_name}"));
	cr_assert_not(macros_listed("", "j"));
	cr_assert_not(macros_listed("{}", ""));
}

/* Each MTA's defaults, and their union where milterd asks for a list. */
Test(macros, default_lists)
{
	int	stage;

	static const struct {
		enum mta	 mta;
		int		 stage;
		const char	*name;
		int		 listed;
	} cases[] = {
		{ MTA_POSTFIX, SMFIM_CONNECT, "{daemon_addr}", 1 },
		{ MTA_SENDMAIL, SMFIM_CONNECT, "{daemon_addr}", 0 },
		{ MTA_SENDMAIL, SMFIM_CONNECT, "{if_addr}", 1 },
		{ MTA_POSTFIX, SMFIM_CONNECT, "v", 1 },
		{ MTA_POSTFIX, SMFIM_DATA, "i", 1 },
		{ MTA_SENDMAIL, SMFIM_DATA, "i", 0 },
		{ MTA_SENDMAIL, SMFIM_EOM, "{msg_id}", 1 },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(macros_listed(LIST(cases[i].mta, cases[i].stage),
		    cases[i].name) != 0, cases[i].listed, "case %zu", i);
	/* The union has every name of both. */
	for (stage = 0; stage < SMFIM_COUNT; stage++) {
		const char	*l[2] = {
			LIST(MTA_POSTFIX, stage),
			LIST(MTA_SENDMAIL, stage),
		};
		char		 buf[256], *tok, *save;
		int		 k;

		for (k = 0; k < 2; k++) {
			strlcpy(buf, l[k], sizeof(buf));
			for (tok = strtok_r(buf, " ", &save); tok != NULL;
			    tok = strtok_r(NULL, " ", &save))
				cr_assert(macros_listed(
				    LIST(MTA_AUTO, stage), tok),
				    "stage %d: %s", stage, tok);
		}
	}
}

/*
 * macros_extra(): a pair added to the D packet at start, its length
 * made again; the packet made (command byte first) when there is none.
 */
Test(macros, extra)
{
	static const uint8_t	 one[] = {
		0, 0, 0, 12, 'D', 'C', '{', 'a', '}', 0, '1', 0,
		'b', 0, 'x', 0,
	};
	static const uint8_t	 two[] = {
		0, 0, 0, 10, 'D', 'M', 'i', 0, 'Q', 0, 'j', 0, 'h', 0,
	};
	struct mbuf		 b;

	memset(&b, 0, sizeof(b));
	mbuf_append(&b, "xy", 2);	/* what comes before stays */
	macros_extra(&b, 2, SMFIC_CONNECT, "{a}", "1");
	macros_extra(&b, 2, SMFIC_CONNECT, "b", "x");
	cr_assert_eq(b.len, 2 + sizeof(one));
	cr_assert_eq(memcmp(b.data, "xy", 2), 0);
	cr_assert_eq(memcmp(b.data + 2, one, sizeof(one)), 0);
	mbuf_reset(&b);
	/* An MTA's D packet for MAIL ("i"), one pair added to it. */
	mbuf_append(&b, "\0\0\0\6DMi\0Q\0", 10);
	macros_extra(&b, 0, SMFIC_MAIL, "j", "h");
	cr_assert_eq(b.len, sizeof(two));
	cr_assert_eq(memcmp(b.data, two, sizeof(two)), 0);
	mbuf_free(&b);
}
