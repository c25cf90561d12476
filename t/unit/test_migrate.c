/*
 * test_migrate.c: milterd -M's parsers (src/migrate.c), table-driven:
 * Postfix main.cf fragments (lists, Postfix 3's { } form, the
 * milter_* settings, $parameter expansion, master.cf's chroot), .mc
 * lines (INPUT_MAIL_FILTER, MAIL_FILTER, confINPUT_MAIL_FILTERS,
 * DAEMON_OPTIONS) and .cf lines (X, InputMailFilters, DaemonPortOptions),
 * each with the children it gives or the error; which file is which;
 * the MTA's line as printed.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "migrate.h"
#include "util.h"

struct want {
	const char	*name;
	const char	*socket;
	const char	*fallback;
	int		 conn, cmd, eom;
};

struct pcase {
	const char	*what;
	enum mig_source	 src;
	const char	*text;
	const char	*master;	/* Postfix's master.cf, or NULL */
	const char	*err;		/* a part of the error; NULL: none */
	size_t		 n;
	struct want	 c[3];
	const char	*note;		/* a part of the notes, or NULL */
};

#define PF	MIG_POSTFIX
#define MC	MIG_SENDMAIL_MC
#define CF	MIG_SENDMAIL_CF

static const struct pcase cases[] = {
	{ "postfix list, Postfix's defaults", PF,
	    "smtpd_milters = unix:/run/a.sock, inet:127.0.0.1:8891\n",
	    NULL, NULL, 2, {
	    { "a", "unix:/run/a.sock", "tempfail", 30, 30, 300 },
	    { "127.0.0.1-8891", "inet:127.0.0.1:8891", "tempfail", 30, 30,
	    300 } }, "milter_default_action is not set" },
	{ "postfix globals", PF,
	    "milter_default_action = accept\nmilter_connect_timeout = 10s\n"
	    "milter_command_timeout = 1m\nmilter_content_timeout=5m\n"
	    "smtpd_milters = unix:/run/a.sock\n", NULL, NULL, 1, {
	    { "a", "unix:/run/a.sock", "accept", 10, 60, 300 } }, NULL },
	{ "postfix 3 per-milter settings", PF,
	    "smtpd_milters = { unix:/run/a.sock, connect_timeout=5s,\n"
	    "    default_action=reject, content_timeout = 2m },\n"
	    "  unix:/run/b.sock\n", NULL, NULL, 2, {
	    { "a", "unix:/run/a.sock", "reject", 5, 30, 120 },
	    { "b", "unix:/run/b.sock", "tempfail", 30, 30, 300 } }, NULL },
	{ "postfix protocol is a note", PF,
	    "milter_protocol = 2\n"
	    "smtpd_milters = { unix:/run/a.sock, protocol=4 }\n", NULL, NULL,
	    1, { { "a", "unix:/run/a.sock", "tempfail", 30, 30, 300 } },
	    "milter_protocol = 2: not carried over" },
	{ "postfix expansion, the same list twice", PF,
	    "mine = unix:/run/a.sock\nsmtpd_milters = $mine\n"
	    "non_smtpd_milters = $smtpd_milters\n", NULL, NULL, 1, {
	    { "a", "unix:/run/a.sock", "tempfail", 30, 30, 300 } }, NULL },
	{ "postfix ${name} and $(name), conditional", PF,
	    "x = unix:/run/a.sock\ny =\n"
	    "smtpd_milters = $(x) ${x?unix:/run/b.sock} "
	    "${y:unix:/run/c.sock} ${y?unix:/run/d.sock}\n", NULL, NULL, 3, {
	    { "a", "unix:/run/a.sock", "tempfail", 30, 30, 300 },
	    { "b", "unix:/run/b.sock", "tempfail", 30, 30, 300 },
	    { "c", "unix:/run/c.sock", "tempfail", 30, 30, 300 } }, NULL },
	{ "postfix a name twice gets -2", PF,
	    "smtpd_milters = unix:/run/x/m.sock unix:/run/y/m.sock\n", NULL,
	    NULL, 2, {
	    { "m", "unix:/run/x/m.sock", "tempfail", 30, 30, 300 },
	    { "m-2", "unix:/run/y/m.sock", "tempfail", 30, 30, 300 } },
	    NULL },
	{ "postfix comments and continuation lines", PF,
	    "# smtpd_milters = unix:/run/no.sock\n"
	    "smtpd_milters =\n  unix:/run/a.sock\n# a comment inside\n"
	    "\tunix:/run/b.sock\nother = 1\n", NULL, NULL, 2, {
	    { "a", "unix:/run/a.sock", "tempfail", 30, 30, 300 },
	    { "b", "unix:/run/b.sock", "tempfail", 30, 30, 300 } }, NULL },
	{ "postfix the later setting wins", PF,
	    "smtpd_milters = unix:/run/a.sock\n"
	    "smtpd_milters = unix:/run/b.sock\n", NULL, NULL, 1, {
	    { "b", "unix:/run/b.sock", "tempfail", 30, 30, 300 } }, NULL },
	{ "postfix lists that differ", PF,
	    "smtpd_milters = unix:/run/a.sock\n"
	    "non_smtpd_milters = unix:/run/a.sock, unix:/run/b.sock\n", NULL,
	    NULL, 2, {
	    { "a", "unix:/run/a.sock", "tempfail", 30, 30, 300 },
	    { "b", "unix:/run/b.sock", "tempfail", 30, 30, 300 } },
	    "smtpd_milters and non_smtpd_milters differ" },
	{ "postfix a milter of both lists, written apart", PF,
	    "smtpd_milters = unix:/run/a.sock\n"
	    "non_smtpd_milters = { unix:/run/a.sock, command_timeout=5s }\n",
	    NULL, NULL, 1, {
	    { "a", "unix:/run/a.sock", "tempfail", 30, 30, 300 } },
	    "its settings in smtpd_milters are taken" },
	{ "postfix macro lists are a note", PF,
	    "milter_connect_macros = j {daemon_name}\n"
	    "milter_macro_daemon_name = ORIG\n"
	    "smtpd_milters = unix:/run/a.sock\n", NULL, NULL, 1, {
	    { "a", "unix:/run/a.sock", "tempfail", 30, 30, 300 } },
	    "milter_connect_macros, milter_macro_daemon_name: not carried" },
	{ "postfix chrooted smtpd: sockets in queue_directory", PF,
	    "queue_directory = /q\n"
	    "smtpd_milters = unix:/m/a.sock unix:private/b.sock\n",
	    "# comment smtpd y\nsmtp inet n - y - - smtpd\n"
	    "  -o smtpd_milters=unix:/other.sock\n", NULL, 2, {
	    { "a", "unix:/q/m/a.sock", "tempfail", 30, 30, 300 },
	    { "b", "unix:/q/private/b.sock", "tempfail", 30, 30, 300 } },
	    "overrides main.cf for a service" },
	{ "postfix relative socket without chroot", PF,
	    "smtpd_milters = unix:private/b.sock\n",
	    "smtp inet n - n - - smtpd\n", NULL, 1, {
	    { "b", "unix:/var/spool/postfix/private/b.sock", "tempfail", 30,
	    30, 300 } }, NULL },
	{ "postfix a timeout beyond milterd's longest", PF,
	    "smtpd_milters = { unix:/run/a.sock, content_timeout=2d }\n",
	    NULL, NULL, 1, {
	    { "a", "unix:/run/a.sock", "tempfail", 30, 30, 86400 } },
	    "milterd's longest is 86400 s" },
	{ "postfix no milters", PF, "myhostname = x\n", NULL, NULL, 0, {
	    { NULL, NULL, NULL, 0, 0, 0 } }, NULL },
	{ "postfix bad default_action", PF,
	    "milter_default_action = bounce\nsmtpd_milters = unix:/a.sock\n",
	    NULL, "default action \"bounce\": expected accept", 0, {
	    { NULL, NULL, NULL, 0, 0, 0 } }, NULL },
	{ "postfix bad time", PF,
	    "smtpd_milters = { unix:/a.sock, command_timeout=10x }\n", NULL,
	    "command_timeout=10x: expected a time", 0, {
	    { NULL, NULL, NULL, 0, 0, 0 } }, NULL },
	{ "postfix unknown setting", PF,
	    "smtpd_milters = { unix:/a.sock, colour=blue }\n", NULL,
	    "\"colour\" in { }: expected connect_timeout", 0, {
	    { NULL, NULL, NULL, 0, 0, 0 } }, NULL },
	{ "postfix unclosed brace", PF,
	    "smtpd_milters = { unix:/a.sock, command_timeout=10s\n", NULL,
	    "a { without its }", 0, { { NULL, NULL, NULL, 0, 0, 0 } },
	    NULL },
	{ "postfix socket milterd cannot use", PF,
	    "smtpd_milters = fifo:/a\n", NULL, "unknown socket type", 0, {
	    { NULL, NULL, NULL, 0, 0, 0 } }, NULL },
	{ "postfix expansion loop", PF,
	    "a = $b\nb = $a\nsmtpd_milters = $a\n", NULL,
	    "expand into themselves", 0, { { NULL, NULL, NULL, 0, 0, 0 } },
	    NULL },

	{ "mc INPUT_MAIL_FILTER, F= and T=", MC,
	    "INPUT_MAIL_FILTER(`a', `S=unix:/run/a.sock, F=T, "
	    "T=C:30s;S:30s;R:60s;E:10m')dnl\n"
	    "INPUT_MAIL_FILTER(`b', `S=local:/run/b.sock, F=R')dnl\n"
	    "INPUT_MAIL_FILTER(`c', `S=inet:8891@127.0.0.1, T=E:6m')dnl\n",
	    NULL, NULL, 3, {
	    { "a", "unix:/run/a.sock", "tempfail", 30, 60, 600 },
	    { "b", "local:/run/b.sock", "reject", 300, 10, 300 },
	    { "c", "inet:8891@127.0.0.1", "accept", 300, 10, 360 } },
	    "Sendmail's E runs from the end of the message" },
	{ "mc confINPUT_MAIL_FILTERS orders, dnl and # comment", MC,
	    "MAIL_FILTER(`a', `S=unix:/run/a.sock')\n"
	    "dnl INPUT_MAIL_FILTER(`x', `S=unix:/run/x.sock')\n"
	    "# INPUT_MAIL_FILTER(`y', `S=unix:/run/y.sock')\n"
	    "MAIL_FILTER(`b', `S=unix:/run/b.sock, T=R:0')\n"
	    "define(`confINPUT_MAIL_FILTERS', `b, a')dnl\n", NULL, NULL, 2, {
	    { "b", "unix:/run/b.sock", "accept", 300, -1, 300 },
	    { "a", "unix:/run/a.sock", "accept", 300, 10, 300 } }, NULL },
	{ "mc daemon lists", MC,
	    "DAEMON_OPTIONS(`Family=inet, Name=MTA-d, Port=25, "
	    "InputMailFilters=c2;c1')dnl\n"
	    "MAIL_FILTER(`c1', `S=unix:/run/c1.sock, F=T')dnl\n"
	    "MAIL_FILTER(`c2', `S=unix:/run/c2.sock, F=4')dnl\n", NULL, NULL,
	    2, {
	    { "c2", "unix:/run/c2.sock", NULL, 300, 10, 300 },
	    { "c1", "unix:/run/c1.sock", "tempfail", 300, 10, 300 } },
	    "No global InputMailFilters" },
	{ "mc macros and unused filter are notes", MC,
	    "define(`confMILTER_MACROS_CONNECT', `j, _')dnl\n"
	    "MAIL_FILTER(`u', `S=unix:/run/u.sock')dnl\n"
	    "INPUT_MAIL_FILTER(`a', `S=unix:/run/a.sock')dnl\n", NULL, NULL,
	    1, { { "a", "unix:/run/a.sock", "accept", 300, 10, 300 } },
	    "Filter u is defined but in no list" },
	{ "mc list names an undefined filter", MC,
	    "define(`confINPUT_MAIL_FILTERS', `nope')dnl\n", NULL,
	    "names \"nope\", which no filter definition has", 0, {
	    { NULL, NULL, NULL, 0, 0, 0 } }, NULL },
	{ "mc filter without S=", MC,
	    "INPUT_MAIL_FILTER(`a', `F=T')dnl\n", NULL, "has no S= socket",
	    0, { { NULL, NULL, NULL, 0, 0, 0 } }, NULL },
	{ "mc unbalanced quotes", MC,
	    "INPUT_MAIL_FILTER(`a', `S=unix:/a.sock)dnl\n", NULL,
	    "unbalanced quotes", 0, { { NULL, NULL, NULL, 0, 0, 0 } },
	    NULL },
	{ "mc bad T=", MC,
	    "INPUT_MAIL_FILTER(`a', `S=unix:/a.sock, T=Q:5s')dnl\n", NULL,
	    "expected C:, S:, R: or E:", 0, {
	    { NULL, NULL, NULL, 0, 0, 0 } }, NULL },

	{ "cf X lines and InputMailFilters", CF,
	    "O InputMailFilters=b, a\n"
	    "O Milter.macros.connect=j, _\n"
	    "Xa, S=unix:/run/a.sock, F=R, T=C:1m;R:20s\n"
	    "Xb, S=inet:8891@127.0.0.1,\n\tF=T\n", NULL, NULL, 2, {
	    { "b", "inet:8891@127.0.0.1", "tempfail", 300, 10, 300 },
	    { "a", "unix:/run/a.sock", "reject", 60, 20, 300 } },
	    "Milter.macros.connect: not carried over" },
	{ "cf DaemonPortOptions and m4's empty X", CF,
	    "O DaemonPortOptions=Family=inet, Name=MTA-d, Port=2525, "
	    "InputMailFilters=c1;c2\n#O InputMailFilters\nX, \n"
	    "Xc1, S=unix:/run/c1.sock, F=T\nXc2, S=unix:/run/c2.sock\n",
	    NULL, NULL, 2, {
	    { "c1", "unix:/run/c1.sock", "tempfail", 300, 10, 300 },
	    { "c2", "unix:/run/c2.sock", "accept", 300, 10, 300 } },
	    "No global InputMailFilters" },
	{ "cf X without equates", CF, "Xa\n", NULL,
	    "expected Xname, S=..., F=..., T=...", 0, {
	    { NULL, NULL, NULL, 0, 0, 0 } }, NULL },
};

Test(migrate, parse)
{
	struct mig		*m;
	const struct pcase	*t;
	const char		*fb;
	char			 err[1024];
	size_t			 i, j;
	int			 rc;

	m = calloc(1, sizeof(*m));
	cr_assert(m != NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = &cases[i];
		err[0] = '\0';
		rc = mig_parse(m, t->src, t->text, t->master, err,
		    sizeof(err));
		if (t->err != NULL) {
			cr_expect_eq(rc, -1, "%s: parsed", t->what);
			cr_expect(strstr(err, t->err) != NULL,
			    "%s: error \"%s\", wanted \"%s\"", t->what, err,
			    t->err);
			continue;
		}
		cr_expect_eq(rc, 0, "%s: %s", t->what, err);
		cr_expect_eq(m->n, t->n, "%s: %zu children", t->what, m->n);
		for (j = 0; j < t->n && j < m->n; j++) {
			/* F=4: shutdown where milterd has it. */
			fb = t->c[j].fallback != NULL ? t->c[j].fallback :
			    conf_fallback_known("shutdown") ? "shutdown" :
			    "tempfail";
			cr_expect_str_eq(m->children[j].name, t->c[j].name,
			    "%s: child %zu", t->what, j);
			cr_expect_str_eq(m->children[j].socket,
			    t->c[j].socket, "%s: child %zu", t->what, j);
			cr_expect_str_eq(m->children[j].fallback, fb,
			    "%s: child %zu", t->what, j);
			cr_expect_eq(m->children[j].connect_timeout,
			    t->c[j].conn, "%s: child %zu connect", t->what, j);
			cr_expect_eq(m->children[j].command_timeout,
			    t->c[j].cmd, "%s: child %zu command", t->what, j);
			cr_expect_eq(m->children[j].eom_timeout, t->c[j].eom,
			    "%s: child %zu eom", t->what, j);
		}
		if (t->note != NULL)
			cr_expect(strstr(m->notes, t->note) != NULL ||
			    (m->n > 0 && strstr(m->children[0].notes,
			    t->note) != NULL), "%s: no note \"%s\" in:\n%s",
			    t->what, t->note, m->notes);
	}
	free(m);
}

/* quarantine and shutdown: milterd's own where it has it, else tempfail. */
Test(migrate, fallback_missing_is_tempfail)
{
	static const char *const words[] = { "quarantine", "shutdown" };
	struct mig	*m;
	char		 text[256], err[256];
	size_t		 i;

	m = calloc(1, sizeof(*m));
	cr_assert(m != NULL);
	for (i = 0; i < 2; i++) {
		snprintf(text, sizeof(text), "smtpd_milters = { "
		    "unix:/a.sock, default_action=%s }\n", words[i]);
		cr_assert_eq(mig_parse(m, PF, text, NULL, err, sizeof(err)),
		    0, "%s", err);
		if (conf_fallback_known(words[i]))
			cr_expect_str_eq(m->children[0].fallback, words[i]);
		else {
			cr_expect_str_eq(m->children[0].fallback, "tempfail");
			cr_expect(strstr(m->children[0].notes, words[i]) !=
			    NULL);
		}
	}
	free(m);
}

Test(migrate, source_of)
{
	static const struct {
		const char	*file, *text;
		int		 rc;
		enum mig_source	 src;
	} t[] = {
		{ "/etc/postfix/main.cf", "", 0, PF },
		{ "x.conf", "smtpd_milters = a\n", 0, PF },
		{ "/etc/mail/sendmail.mc", "", 0, MC },
		{ "x", "INPUT_MAIL_FILTER(`a', `S=/a')\n", 0, MC },
		{ "/etc/mail/sendmail.cf", "", 0, CF },
		{ "x", "V10/Berkeley\nXa, S=/a\n", 0, CF },
		{ "x", "hello\n", -1, PF },
	};
	enum mig_source	src;
	size_t		i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_expect_eq(mig_source_of(t[i].file, t[i].text, &src),
		    t[i].rc, "%s", t[i].file);
		if (t[i].rc == 0)
			cr_expect_eq(src, t[i].src, "%s", t[i].file);
	}
}

/* The MTA's line: milterd's socket in the MTA's spelling. */
Test(migrate, mta_line)
{
	static const struct {
		enum mig_source	 src;
		const char	*text, *master, *listen, *want;
	} t[] = {
		{ PF, "smtpd_milters = { unix:/a.sock, command_timeout=10s, "
		    "connect_timeout=10s }\n", NULL,
		    "unix:/run/milterd/milterd.sock",
		    "#\tsmtpd_milters = unix:/run/milterd/milterd.sock\n" },
		{ PF, "smtpd_milters = unix:/a.sock\n"
		    "non_smtpd_milters = unix:/a.sock\n", NULL,
		    "inet:10025@127.0.0.1",
		    "#\tnon_smtpd_milters = $smtpd_milters\n" },
		{ PF, "milter_command_timeout = 10s\n"
		    "milter_connect_timeout = 10s\n"
		    "smtpd_milters = unix:/a.sock\n", NULL,
		    "inet:10025@127.0.0.1",
		    "#\tsmtpd_milters = { inet:127.0.0.1:10025, "
		    "connect_timeout=15s, command_timeout=15s }\n" },
		{ PF, "non_smtpd_milters = { unix:/a.sock, "
		    "command_timeout=5s, connect_timeout=5s }\n", NULL,
		    "unix:/m.sock", "#\tnon_smtpd_milters = unix:/m.sock\n" },
		{ PF, "smtpd_milters = unix:/a.sock\n",
		    "smtp inet n - y - - smtpd\n",
		    "unix:/var/spool/postfix/milterd/milterd.sock",
		    "#\tsmtpd_milters = { unix:/milterd/milterd.sock, " },
		{ PF, "smtpd_milters = unix:/a.sock\n",
		    "smtp inet n - y - - smtpd\n", "unix:/run/m.sock",
		    "outside /var/spool/postfix" },
		{ PF, "milter_command_timeout = 20s\n"
		    "smtpd_milters = unix:/a.sock unix:/b.sock\n", NULL,
		    "unix:/m.sock", "#\tsmtpd_milters = { unix:/m.sock, "
		    "connect_timeout=35s, command_timeout=45s }\n" },
		{ MC, "INPUT_MAIL_FILTER(`a', `S=unix:/a.sock')\n", NULL,
		    "inet:10025@127.0.0.1",
		    "#\tINPUT_MAIL_FILTER(`milterd', `S=inet:10025@127.0.0.1, "
		    "F=T, T=C:30s;S:30s;R:1m;E:10m')\n" },
		{ MC, "INPUT_MAIL_FILTER(`a', `S=unix:/a.sock, T=R:5m')\n",
		    NULL, "unix:/m.sock", "R:6m;E:10m" },
		{ CF, "O InputMailFilters=a\nXa, S=unix:/a.sock\n", NULL,
		    "inet:127.0.0.1:10025",
		    "#\tXmilterd, S=inet:10025@127.0.0.1, F=T, "
		    "T=C:30s;S:30s;R:1m;E:10m\n#\tO InputMailFilters=milterd\n" },
		{ MC, "INPUT_MAIL_FILTER(`a', `S=unix:/a.sock')\n", NULL,
		    NULL, "write it in place of LISTEN" },
	};
	struct mig	*m;
	struct sockspec	 sp;
	char		 err[256], *out;
	size_t		 i, len;
	FILE		*fp;

	m = calloc(1, sizeof(*m));
	cr_assert(m != NULL);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_assert_eq(mig_parse(m, t[i].src, t[i].text, t[i].master,
		    err, sizeof(err)), 0, "%zu: %s", i, err);
		if (t[i].listen != NULL)
			cr_assert_eq(sockspec_parse(t[i].listen, &sp, err,
			    sizeof(err)), 0, "%s", err);
		fp = open_memstream(&out, &len);
		cr_assert(fp != NULL);
		mig_print(fp, m, "FILE", t[i].listen != NULL ? &sp : NULL,
		    "it does not load");
		fclose(fp);
		cr_expect(strstr(out, t[i].want) != NULL,
		    "%zu: no \"%s\" in:\n%s", i, t[i].want, out);
		free(out);
	}
	free(m);
}
