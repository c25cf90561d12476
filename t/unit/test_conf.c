/*
 * test_conf.c: the configuration (src/conf.c): defaults, every key,
 * and each kind of error reported as file:line.
 */

#include <sys/socket.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "chain.h"

static char	path[] = "/tmp/milterd-conf-XXXXXX";
static char	errbuf[4096];

/* Write text to a temp file and load it; errors land in errbuf. */
static struct conf *
load(const char *text)
{
	struct conf	*c;
	FILE		*fp, *errfp;
	int		 fd;

	strcpy(path, "/tmp/milterd-conf-XXXXXX");
	cr_assert_neq(fd = mkstemp(path), -1);
	cr_assert_not_null(fp = fdopen(fd, "w"));
	fputs(text, fp);
	fclose(fp);
	memset(errbuf, 0, sizeof(errbuf));
	cr_assert_not_null(errfp = fmemopen(errbuf, sizeof(errbuf) - 1, "w"));
	c = conf_load(path, errfp);
	fclose(errfp);
	unlink(path);
	return c;
}

Test(conf, defaults)
{
	struct conf	*c = load("milter \"a\" { socket = \"unix:/run/a\" }\n");

	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->nlisten, 1);
	cr_assert_str_eq(c->listen[0].text, "unix:/var/run/milterd/milterd.sock");
	cr_assert_eq(c->socket_mode, 0660);
	cr_assert_null(c->socket_group);
	cr_assert_str_eq(c->user, "_milterd");
	cr_assert_eq(c->workers, 0);
	cr_assert_str_eq(c->pidfile, "/var/run/milterd.pid");
	cr_assert_str_eq(c->control, "/var/run/milterd/control.sock");
	cr_assert_eq(c->control_mode, 0600);
	cr_assert(!c->metrics);
	cr_assert_str_eq(c->state_file, "/var/lib/milterd/history");
	cr_assert_eq(c->history_hours, 48);
	cr_assert_eq(c->fallback, FALLBACK_ACCEPT);
	cr_assert_eq(c->dispatch, DISPATCH_SEQUENTIAL);
	cr_assert_eq(c->body_memory_limit, 1048576);
	cr_assert_eq(c->nmilters, 1);
	cr_assert_str_eq(c->milters[0].name, "a");
	cr_assert(c->milters[0].enabled);
	cr_assert(!c->milters[0].evaluation);
	cr_assert_eq(c->milters[0].fallback, FALLBACK_TEMPFAIL);
	cr_assert_eq(c->milters[0].connect_timeout, 10);
	cr_assert_eq(c->milters[0].command_timeout, 10);
	cr_assert_eq(c->milters[0].eom_timeout, 240);
	cr_assert_null(c->milters[0].command);
	cr_assert_eq(c->milters[0].nsock, 1);
	cr_assert_eq(c->milters[0].balance, BALANCE_FAILOVER);
	cr_assert_eq(c->milters[0].failures_to_down, 3);
	cr_assert_eq(c->milters[0].down_time, 10);
	cr_assert_eq(c->milters[0].evaluation_sample, 100);
	cr_assert(c->milters[0].evaluation_wait);
	cr_assert_eq(c->evaluation_seed, 0);
	cr_assert_eq(c->evaluation_memory_limit, 16 * 1024 * 1024);
	conf_free(c);
}

Test(conf, every_key)
{
	struct conf	*c = load(
	    "listen = { \"inet:10025@127.0.0.1\", \"unix:/tmp/m.sock\" }\n"
	    "socket_mode = \"0600\"\nsocket_group = \"postfix\"\n"
	    "user = \"nobody\"\ngroup = \"nogroup\"\nworkers = 3\n"
	    "pidfile = \"/tmp/p\"\ncontrol = \"/tmp/c\"\n"
	    "fallback = \"tempfail\"\ndispatch = \"parallel\"\n"
	    "body_memory_limit = 4096\nspool_dir = \"/tmp\"\n"
	    "progress_interval = 7\ncontrol_mode = \"0660\"\n"
	    "metrics_listen = \"[::1]:9185\"\nstate_file = \"/tmp/h\"\n"
	    "history_hours = 2\nmta = \"sendmail\"\n"
	    "dns_servers = { \"127.0.0.1:5353\", \"[::1]:53\" }\n"
	    "milter \"one\" {\n socket = \"inet:127.0.0.1:8891\"\n"
	    " command = \"/usr/sbin/one -f\"\n user = \"nobody\"\n"
	    " enabled = false\n evaluation = true\n fallback = \"reject\"\n"
	    " connect_timeout = 1\n command_timeout = 2\n eom_timeout = 3\n"
	    " macros_compat = true\n condition_error = \"skip\"\n}\n"
	    "milter \"two\" { socket = \"local:/run/two\" }\n"
	    "milter \"three\" { socket = { \"unix:/run/3a\", "
	    "\"inet:8891@127.0.0.1\" }\n balance = \"round-robin\"\n"
	    " failures_to_down = 0\n down_time = 30\n}\n");

	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->nlisten, 2);
	cr_assert_str_eq(c->listen[1].text, "unix:/tmp/m.sock");
	cr_assert_eq(c->socket_mode, 0600);
	cr_assert_str_eq(c->socket_group, "postfix");
	cr_assert_str_eq(c->group, "nogroup");
	cr_assert_eq(c->workers, 3);
	cr_assert_eq(c->fallback, FALLBACK_TEMPFAIL);
	cr_assert_eq(c->dispatch, DISPATCH_PARALLEL);
	cr_assert_eq(c->body_memory_limit, 4096);
	cr_assert_eq(c->progress_interval, 7);
	cr_assert_eq(c->control_mode, 0660);
	cr_assert(c->metrics);
	cr_assert_str_eq(c->metrics_listen.text, "[::1]:9185");
	cr_assert_eq(c->metrics_listen.ss.ss_family, AF_INET6);
	cr_assert_str_eq(c->state_file, "/tmp/h");
	cr_assert_eq(c->history_hours, 2);
	cr_assert_eq(c->nmilters, 3);
	cr_assert_eq(c->milters[2].nsock, 2);
	cr_assert_str_eq(c->milters[2].sock[1].text, "inet:8891@127.0.0.1");
	cr_assert_eq(c->milters[2].balance, BALANCE_ROUND_ROBIN);
	cr_assert_eq(c->milters[2].failures_to_down, 0);
	cr_assert_eq(c->milters[2].down_time, 30);
	cr_assert_str_eq(c->milters[0].command, "/usr/sbin/one -f");
	cr_assert_str_eq(c->milters[0].user, "nobody");
	cr_assert(!c->milters[0].enabled);
	cr_assert(c->milters[0].evaluation);
	cr_assert_eq(c->milters[0].fallback, FALLBACK_REJECT);
	cr_assert_eq(c->milters[0].eom_timeout, 3);
	cr_assert(c->milters[0].macros_compat);
	cr_assert(c->milters[0].skip_on_error);
	cr_assert_not(c->milters[1].macros_compat);
	cr_assert_not(c->milters[1].skip_on_error);
	cr_assert_eq(c->mta, MTA_SENDMAIL);
	cr_assert_eq(c->ndns_servers, 2);
	cr_assert_str_eq(c->dns_servers[1], "[::1]:53");
	cr_assert_str_eq(c->milters[1].name, "two");
	conf_free(c);
}

/* Each bad file, and the errors it must give, every one with its line. */
struct bad_row {
	const char	*text;
	const char	*errors;
};

static const struct bad_row bad[] = {
	{ "milter \"a\" { socket = \"/a\"\n  evaluation_sample = 101 }\n"
	  "evaluation_seed = -1\n",
	  ":2: evaluation_sample 101: expected a percentage, 0 to 100\n"
	  ":3: evaluation_seed -1: expected 0 to 4294967295\n" },
	{ "fallback = \"maybe\"\n",
	  ":1: fallback \"maybe\": expected accept, tempfail, reject, discard, quarantine or shutdown\n" },
	{ "\n\nlisten = \"tcp:1\"\n",
	  ":3: listen \"tcp:1\": unknown socket type (unix:, local:, inet:, "
	  "inet6:)\n" },
	{ "milter \"a\" {\n  fallback = \"reject\"\n}\n",
	  ":3: milter \"a\": no socket\n" },
	{ "milter \"a\" { socket = \"/a\" }\nmilter \"a\" { socket = \"/b\" }\n",
	  ":2: milter \"a\": a second section of that name (the first is on "
	  "line 1)\n" },
	{ "mta = \"exim\"\ndns_servers = { \"nameserver\" }\n",
	  ":1: mta \"exim\": expected auto or postfix or sendmail\n"
	  ":2: dns_servers \"nameserver\": expected an address, or "
	  "address:port\n" },
	{ "workers = -1\nsocket_mode = \"999\"\ndispatch = \"random\"\n",
	  ":1: workers -1: out of range\n"
	  ":2: socket_mode \"999\": expected an octal mode such as 0660\n"
	  ":3: dispatch \"random\": expected sequential or parallel\n" },
	{ "milter \"a\" { socket = \"/a\" eom_timeout = 0 }\n",
	  ":1: eom_timeout 0: expected 1 to 86400 seconds\n" },
	{ "no_such_key = 1\n", ":1: no such option 'no_such_key'\n" },
	{ "milter \"a\" { socket = \"/a\" command = \"opendkim -x\" "
	  "user = \"nobody\" }\n",
	  ":1: command \"opendkim -x\": expected an absolute path and "
	  "arguments (quotes closed, at most 63 words)\n" },
	{ "milter \"a b\" { socket = \"/a\" }\n",
	  ":1: milter \"a b\": a name is 1 to 64 characters without blanks, "
	  "quotes or backslashes\n" },
	{ "milter \"a\\\\b\" { socket = \"/a\" }\n",
	  ":1: milter \"a\\b\": a name is 1 to 64 characters without blanks, "
	  "quotes or backslashes\n" },
	{ "milter \"a\001b\" { socket = \"/a\" }\n",
	  ":1: milter \"a\001b\": a name is 1 to 64 characters without "
	  "blanks, quotes or backslashes\n" },
	{ "control = \"inet:9@127.0.0.1\"\n",
	  ":1: control \"inet:9@127.0.0.1\": expected an absolute path (a unix "
	  "socket) or \"\"\n" },
	{ "metrics_listen = \"9185\"\ncontrol_mode = \"9\"\n"
	  "history_hours = 0\n",
	  ":1: metrics_listen \"9185\": expected host:port\n"
	  ":2: control_mode \"9\": expected an octal mode such as 0660\n"
	  ":3: history_hours 0: expected 1 to 744 hours\n" },
	{ "metrics_listen = \"127.0.0.1:99999\"\n",
	  ":1: metrics_listen \"127.0.0.1:99999\": port 99999: expected 1 to "
	  "65535\n" },
	/*
	 * What a worker or the launcher would otherwise meet only at
	 * start.
	 */
	{ "workers = 1\nuser = \"no-such-user-here\"\n",
	  ":2: user \"no-such-user-here\": no such user: create it, or name "
	  "another\n" },
	{ "user = \"root\"\n",
	  ":1: user \"root\": is root: the workers must run unprivileged\n" },
	{ "group = \"no-such-group-here\"\n"
	  "socket_group = \"no-such-group-here\"\n",
	  ":1: group \"no-such-group-here\": no such group: create it, or "
	  "name another\n"
	  ":2: socket_group \"no-such-group-here\": no such group: create it, "
	  "or name another\n" },
	{ "chroot = \"/no/such/dir\"\nchroot = \"/etc/passwd\"\n"
	  "chroot = \"var/empty\"\n",
	  ":1: chroot \"/no/such/dir\": No such file or directory\n"
	  ":2: chroot \"/etc/passwd\": not a directory\n"
	  ":3: chroot \"var/empty\": expected an absolute path\n" },
	{ "\nmilter \"a\" {\n socket = \"/a\"\n command = \"/bin/true\"\n}\n",
	  ":4: milter \"a\": command without user: set user to the account "
	  "the command runs as\n" },
	{ "milter \"a\" { socket = \"/a\" command = \"/bin/true\"\n"
	  " user = \"no-such-user-here\" }\n",
	  ":2: user \"no-such-user-here\": no such user: create it, or name "
	  "another\n" },
	{ "milter \"a\" { socket = \"/a\" command = \"/bin/true\" "
	  "user = \"root\" }\nallow_root_command = false\n",
	  ":1: milter \"a\": user \"root\" is root: name an unprivileged "
	  "user, or set allow_root_command = true\n" },
};

/* Each text of a table is refused with its errors, path prefixed. */
static void
expect_errors(const struct bad_row *rows, size_t n)
{
	char		 want[4096], *p;
	const char	*e;
	size_t		 i;

	for (i = 0; i < n; i++) {
		cr_assert_null(load(rows[i].text), "row %zu accepted", i);
		/* Every expected line, prefixed by the path. */
		want[0] = '\0';
		for (e = rows[i].errors; *e != '\0'; e = p + 1) {
			p = strchr(e, '\n');
			strcat(want, path);
			strncat(want, e, (size_t)(p - e + 1));
		}
		cr_assert_str_eq(errbuf, want, "row %zu", i);
	}
}

Test(conf, errors_name_file_and_line)
{
	expect_errors(bad, sizeof(bad) / sizeof(bad[0]));
}

/*
 * Comments of every kind anywhere: the line named is the error's own
 * (libconfuse 3.3 alone counted a # comment's line three times).
 */
static const struct bad_row commented[] = {
	{ "# c1\n# c2\n# c3\nlisten = \"inet:10025@127.0.0.1\"\n"
	  "fallbak = \"accept\"\n",
	  ":5: no such option 'fallbak'\n" },
	{ "// a\n//// b\nworkers = -1\n",
	  ":3: workers -1: out of range\n" },
	{ "/* a\n b\n c */\nworkers = -1\n",
	  ":4: workers -1: out of range\n" },
	{ "/* a */ /* b */\n/* c\n*/ workers = -1\n",
	  ":3: workers -1: out of range\n" },
	{ "workers = 1 # x\ngrace_time = 2 // y\nlaunch_wait = 0 /* z */\n",
	  ":3: launch_wait 0: expected 1 to 86400 seconds\n" },
	{ "max_headers = 0\nmax_header_bytes = -1\nmax_recipients = 0\n"
	  "max_sessions = -1\nmta_timeout = 0\n",
	  ":1: max_headers 0: expected at least 1\n"
	  ":2: max_header_bytes -1: out of range\n"
	  ":3: max_recipients 0: expected at least 1\n"
	  ":4: max_sessions -1: out of range\n"
	  ":5: mta_timeout 0: expected 1 to 86400 seconds\n" },
	{ "# before\nmilter \"a\" { # open\n  # inside\n  socket = \"/a\" // s\n"
	  "  /* block\n   */\n  eom_timeout = 0\n} # close\n# after\n"
	  "fallback = \"x\"\n",
	  ":7: eom_timeout 0: expected 1 to 86400 seconds\n"
	  ":10: fallback \"x\": expected accept, tempfail, reject, discard, quarantine or shutdown\n" },
	{ "listen = { # first\n  \"unix:/a\", // c\n  /* c */ \"tcp:1\" # c\n"
	  "}\n# c\nworkers = -1\n",
	  ":3: listen \"tcp:1\": unknown socket type (unix:, local:, inet:, "
	  "inet6:)\n"
	  ":6: workers -1: out of range\n" },
	{ "# c\nsocket_mode = \"#1\"\n# c\ncontrol_mode = '//2'\n",
	  ":2: socket_mode \"#1\": expected an octal mode such as 0660\n"
	  ":4: control_mode \"//2\": expected an octal mode such as 0660\n" },
	{ "# a\npidfile = \"a # b\nc\"\n// d\nworkers = -1\n",
	  ":5: workers -1: out of range\n" },
	{ "# a\n# b\ncondition \"c\" {\n  # x\n  type = \"network\"\n}\n",
	  ":6: condition \"c\": no networks\n" },
	{ "# a\n# b\nmilter \"a\" {\n  socket = \"/a\"\n  # c\n"
	  "  conditions = { \"nope\" } # d\n}\n",
	  ":6: milter \"a\": no condition \"nope\"\n" },
	/* A condition's error is on its key's line, a missing key's at }. */
	{ "condition \"n\" {\n  type = \"network\"\n  # c\n"
	  "  networks = { \"10.0.0.0/33\" }\n}\ncondition \"s\" { # c\n"
	  "  type = \"s25r\"\n  allow = { \"(\" }\n}\n"
	  "condition \"none\" {\n  type = \"network\"\n}\n"
	  "condition \"d\" {\n  type = \"dnsbl\"\n  zones = { \"a.b\" }\n"
	  "  timeout = 0 // c\n}\ncondition \"t\" {\n  type = \"bogus\"\n}\n",
	  ":4: condition \"n\": \"10.0.0.0/33\": expected an address, a "
	  "network such as 192.0.2.0/24, or local\n"
	  ":8: condition \"s\": allow \"(\": Unmatched ( or \\(\n"
	  ":12: condition \"none\": no networks\n"
	  ":16: condition \"d\": timeout 0: expected 1 to 60 seconds\n"
	  ":19: condition \"t\": type: expected network, authenticated, "
	  "s25r, sender, recipient, macro, stress, dnsbl, lua, size, header, "
	  "verdict, table, any or all\n" },
	{ "# c\nmilter \"a b\" {\n  socket = \"/a\"\n}\n",
	  ":2: milter \"a b\": a name is 1 to 64 characters without blanks, "
	  "quotes or backslashes\n" },
	{ "# a\nworkers = 1\n/* open\n\n",
	  ":3: a /* comment that is not closed: close it with */\n" },
	{ "# a\n# b\n}\n",
	  ":3: unexpected closing brace\n" },
};

Test(conf, comments_keep_lines)
{
	expect_errors(commented, sizeof(commented) / sizeof(commented[0]));
}

/* Unknown keys, bad values and semantic errors: all of them, in order. */
static const struct bad_row several[] = {
	{ "workers = abc\nfoo = 1\nmilter \"a\" {\n  socket = \"tcp:1\"\n"
	  "  bar { x = 1 }\n  enabled = maybe\n  conditions = { \"c\" }\n}\n"
	  "fallbak = \"x\"\nmta = \"exim\"\nlisten = {\n  \"tcp:2\",\n"
	  "  \"tcp:3\"\n}\n",
	  ":1: workers \"abc\": expected a number\n"
	  ":2: no such option 'foo'\n"
	  ":4: socket \"tcp:1\": unknown socket type (unix:, local:, inet:, "
	  "inet6:)\n"
	  ":5: milter \"a\": no such option 'bar'\n"
	  ":6: enabled \"maybe\": expected true or false\n"
	  ":7: milter \"a\": no condition \"c\"\n"
	  ":9: no such option 'fallbak'\n"
	  ":10: mta \"exim\": expected auto or postfix or sendmail\n"
	  ":12: listen \"tcp:2\": unknown socket type (unix:, local:, inet:, "
	  "inet6:)\n"
	  ":13: listen \"tcp:3\": unknown socket type (unix:, local:, inet:, "
	  "inet6:)\n" },
	/* A list may end with a comma; the scan follows. */
	{ "listen = { \"unix:/a\", }\nfoo = 1\nworkers = -1\nbar = 2\n",
	  ":2: no such option 'foo'\n"
	  ":3: workers -1: out of range\n"
	  ":4: no such option 'bar'\n" },
	/* A second section of a name is said, and the parse goes on. */
	{ "condition \"c\" { type = \"authenticated\" }\n"
	  "condition \"c\" {\n  type = \"x\"\n}\nworkers = -1\n",
	  ":2: condition \"c\": a second section of that name (the first is "
	  "on line 1)\n"
	  ":5: workers -1: out of range\n" },
	/* A syntax error ends the parse; what came before is said. */
	{ "foo = 1\nworkers = x\nlisten = { \"/a\" { }\nbar = 2\n",
	  ":1: no such option 'foo'\n"
	  ":2: workers \"x\": expected a number\n"
	  ":3: unexpected token '{'\n" },
};

Test(conf, every_error_in_one_run)
{
	expect_errors(several, sizeof(several) / sizeof(several[0]));
}

Test(conf, missing_file)
{
	FILE	*errfp;

	memset(errbuf, 0, sizeof(errbuf));
	errfp = fmemopen(errbuf, sizeof(errbuf) - 1, "w");
	cr_assert_null(conf_load("/nonexistent/milterd.conf", errfp));
	fclose(errfp);
	cr_assert_str_eq(errbuf, "/nonexistent/milterd.conf: cannot read the "
	    "configuration: No such file or directory\n");
}

Test(conf, print_is_loadable)
{
	struct conf	*c = load("milter \"a\" { socket = { \"/a\", \"/b\" } "
	    "balance = \"round-robin\" down_time = 7 "
	    "fallback = \"tempfail\" macros_compat = true }\nworkers = 2\n"
	    "mta = \"postfix\"\ndns_servers = { \"192.0.2.1\" }\n");
	struct conf	*again;
	char		*text = NULL;
	size_t		 len = 0;
	FILE		*fp;

	cr_assert_not_null(c, "%s", errbuf);
	fp = open_memstream(&text, &len);
	conf_print(c, fp);
	fclose(fp);
	cr_assert_not_null(again = load(text), "%s\n%s", errbuf, text);
	cr_assert_eq(again->workers, 2);
	cr_assert_eq(again->milters[0].fallback, FALLBACK_TEMPFAIL);
	cr_assert(again->milters[0].macros_compat);
	cr_assert_eq(again->milters[0].nsock, 2);
	cr_assert_str_eq(again->milters[0].sock[1].text, "/b");
	cr_assert_eq(again->milters[0].balance, BALANCE_ROUND_ROBIN);
	cr_assert_eq(again->milters[0].down_time, 7);
	cr_assert_eq(again->mta, MTA_POSTFIX);
	cr_assert_eq(again->ndns_servers, 1);
	conf_free(again);
	conf_free(c);
	free(text);
}

/* Each milter has counters of its own: so many sections at most. */
Test(conf, too_many_milters)
{
	struct conf	*c;
	char		 text[8192], want[512];
	size_t		 n = 0;
	int		 i;

	for (i = 1; i <= CONF_MAX_MILTERS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		    "milter \"m%d\" { socket = \"/m%d\" }\n", i, i);
	cr_assert_not_null(c = load(text), "%s", errbuf);
	conf_free(c);
	snprintf(text + n, sizeof(text) - n, "milter \"x\" { socket = \"/x\" }\n");
	cr_assert_null(load(text));
	snprintf(want, sizeof(want), "%s:%d: at most %d milter sections\n",
	    path, CONF_MAX_MILTERS + 1, CONF_MAX_MILTERS);
	cr_assert_str_eq(errbuf, want);
}

/* The same start checks, allowed or right. */
Test(conf, start_checks_pass)
{
	struct conf	*c = load("allow_root_command = true\nchroot = \"/\"\n"
	    "user = \"nobody\"\ngroup = \"nogroup\"\n"
	    "milter \"a\" { socket = \"/a\" command = \"/bin/true\" "
	    "user = \"root\" }\n"
	    "milter \"b\" { socket = \"/b\" user = \"nobody\" }\n");

	cr_assert_not_null(c, "%s", errbuf);
	conf_free(c);
}

/*
 * The files conditions read: their errors name the line of the key that
 * names the file, and the line in the file; a file that cannot be read
 * says why.
 */
Test(conf, condition_files_lines_and_reasons)
{
	char	dir[] = "/tmp/milterd-conf-files-XXXXXX", text[2048],
		want[2048], list[300], lua[300];
	FILE	*fp;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(list, sizeof(list), "%s/senders", dir);
	snprintf(lua, sizeof(lua), "%s/check.lua", dir);
	cr_assert_not_null(fp = fopen(list, "w"));
	fputs("# ours\n# and theirs\n@example.org # c\nbad\n", fp);
	fclose(fp);
	cr_assert_not_null(fp = fopen(lua, "w"));
	fputs("-- a\n-- b\nlocal x = = 1\n", fp);
	fclose(fp);
	snprintf(text, sizeof(text),
	    "# one\n# two\ncondition \"s\" {\n  # type\n  type = \"sender\"\n"
	    "  file = \"%s\" // list\n}\n/* lua\n */\ncondition \"l\" {\n"
	    "  type = \"lua\" script = \"%s\"\n}\n# dir\ncondition \"d\" {\n"
	    "  type = \"recipient\"\n  file = \"%s\"\n}\n", list, lua, dir);
	cr_assert_null(load(text));
	snprintf(want, sizeof(want),
	    "%s:6: condition \"s\": %s:4: \"bad\": expected @domain, user@ or "
	    "user@domain\n"
	    "%s:11: condition \"l\": %s:3: unexpected symbol near '='\n"
	    "%s:16: condition \"d\": %s: Is a directory\n",
	    path, list, path, lua, path, dir);
	cr_assert_str_eq(errbuf, want);
	unlink(list);
	unlink(lua);
	rmdir(dir);
}

/* c printed; free() it. */
static char *
printed(const struct conf *c)
{
	char	*text = NULL;
	size_t	 len = 0;
	FILE	*fp;

	cr_assert_not_null(fp = open_memstream(&text, &len));
	conf_print(c, fp);
	fclose(fp);
	return text;
}

/*
 * Conditions print what the file set, in its syntax; every string has
 * its quotes, '\' and '$' escaped; printed, loaded and printed again,
 * the same text.
 */
Test(conf, print_conditions_as_set)
{
	struct conf	*c, *again;
	char		*text, *text2;

	c = load("condition \"n\" { type = \"network\" networks = "
	    "{ \"192.0.2.0/24\" } }\ncondition \"s\" {\n  type = \"sender\"\n"
	    "  list = { \"a\\\"\\${b}\\\\c@example.org\" } # c\n}\n"
	    "condition \"m\" { type = \"macro\" macro = \"{x}\" "
	    "regex = \"^a\\\\.b$\" }\n"
	    "milter \"a\" { socket = \"/a\" conditions = { \"n\", \"!s\" } "
	    "command = \"/bin/x -a \\\"b c\\\"\" user = \"nobody\" }\n"
	    "spool_dir = \"/tmp/a\\\"b\\${c}\\\\\"\n");
	cr_assert_not_null(c, "%s", errbuf);
	text = printed(c);
	cr_assert_not_null(strstr(text, "condition \"n\" {\n"
	    "\ttype = \"network\"\n\tnetworks = { \"192.0.2.0/24\" }\n}\n"
	    "condition \"s\" {\n\ttype = \"sender\"\n"
	    "\tlist = { \"a\\\"\\${b}\\\\c@example.org\" }\n}\n"
	    "condition \"m\" {\n\ttype = \"macro\"\n\tmacro = \"{x}\"\n"
	    "\tregex = \"^a\\\\.b\\$\"\n}\n"), "%s", text);
	cr_assert_null(strstr(text, "percent"), "%s", text);
	cr_assert_not_null(again = load(text), "%s\n%s", errbuf, text);
	text2 = printed(again);
	cr_assert_str_eq(text, text2);
	cr_assert_str_eq(again->conds[1].list[0], "a\"${b}\\c@example.org");
	cr_assert_str_eq(again->milters[0].command, "/bin/x -a \"b c\"");
	cr_assert_str_eq(again->spool_dir, "/tmp/a\"b${c}\\");
	conf_free(again);
	conf_free(c);
	free(text);
	free(text2);
}

/*
 * Conditions on the message: each key checked, on its line; a verdict
 * condition names a milter before each milter it is for.
 */
static const struct bad_row eom_bad[] = {
	{ "condition \"s\" {\n type = \"size\"\n}\n",
	  ":3: condition \"s\": over or under is needed (bytes)\n" },
	{ "condition \"s\" {\n type = \"size\"\n over = -1\n}\n",
	  ":3: condition \"s\": over -1: expected 0 or more bytes\n" },
	{ "condition \"s\" {\n type = \"size\"\n over = 10\n under = 11\n}\n",
	  ":4: condition \"s\": under 11: no size is over 10 and under it\n" },
	{ "condition \"h\" {\n type = \"header\"\n match = \"x\"\n}\n",
	  ":4: condition \"h\": name: expected a header name such as "
	  "X-Spam-Flag\n" },
	{ "condition \"h\" {\n type = \"header\"\n name = \"X-Spam-Flag:\"\n"
	  " match = \"x\"\n}\n",
	  ":3: condition \"h\": name: expected a header name such as "
	  "X-Spam-Flag\n" },
	{ "condition \"h\" {\n type = \"header\" name = \"X-A\"\n"
	  " match = \"(\"\n}\n",
	  ":3: condition \"h\": match \"(\": Unmatched ( or \\(\n" },
	{ "condition \"v\" {\n type = \"verdict\"\n child = \"a\"\n"
	  " is = { \"accept\", \"spam\" }\n}\n"
	  "milter \"a\" { socket = \"/a\" }\n",
	  ":4: condition \"v\": is \"spam\": expected accept, reject, "
	  "tempfail, discard, quarantine or modified\n" },
	{ "condition \"v\" {\n type = \"verdict\"\n is = { \"reject\" }\n}\n",
	  ":4: condition \"v\": child: expected the name of a milter before "
	  "the ones this condition is for\n" },
	{ "condition \"v\" {\n type = \"verdict\"\n child = \"nosuch\"\n"
	  " is = { \"reject\" }\n}\n"
	  "milter \"a\" { socket = \"/a\" conditions = { \"v\" } }\n",
	  ":3: condition \"v\": child \"nosuch\": no milter of that name\n" },
	{ "condition \"v\" {\n type = \"verdict\"\n child = \"b\"\n"
	  " is = { \"reject\" }\n}\n"
	  "milter \"a\" {\n socket = \"/a\"\n conditions = { \"!v\" }\n}\n"
	  "milter \"b\" { socket = \"/b\" }\n"
	  "milter \"c\" { socket = \"/c\" conditions = { \"v\" } }\n",
	  ":8: milter \"a\": condition \"!v\" looks at child \"b\", which does "
	  "not come before it in the chain: define milter \"b\" first\n" },
	{ "condition \"v\" {\n type = \"verdict\"\n child = \"a\"\n"
	  " is = { \"reject\" }\n}\n"
	  "milter \"a\" { socket = \"/a\" conditions = { \"v\" } }\n",
	  ":6: milter \"a\": condition \"v\" looks at child \"a\", which does "
	  "not come before it in the chain: define milter \"a\" first\n" },
};

Test(conf, message_conditions_errors)
{
	expect_errors(eom_bad, sizeof(eom_bad) / sizeof(eom_bad[0]));
}

Test(conf, message_conditions)
{
	struct conf	*c;

	c = load("condition \"big\" { type = \"size\" over = 1048576 }\n"
	    "condition \"mid\" { type = \"size\" over = 10 under = 20 }\n"
	    "condition \"flagged\" { type = \"header\" name = \"X-Spam-Flag\" "
	    "match = \"^YES\" }\n"
	    "condition \"passed\" { type = \"verdict\" child = \"spam\" "
	    "is = { \"accept\", \"modified\" } }\n"
	    "milter \"spam\" { socket = \"/a\" }\n"
	    "milter \"grey\" { socket = \"/b\" conditions = { \"!big\", "
	    "\"flagged\", \"passed\", \"mid\" } }\n");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->conds[0].type, COND_SIZE);
	cr_assert_eq(c->conds[0].size_min, 1048577);
	cr_assert_eq(c->conds[0].size_max, UINT64_MAX);
	cr_assert_eq(c->conds[1].size_min, 11);
	cr_assert_eq(c->conds[1].size_max, 19);
	cr_assert_eq(c->conds[2].type, COND_HEADER);
	cr_assert_str_eq(c->conds[2].header, "X-Spam-Flag");
	cr_assert_eq(regexec(&c->conds[2].re, "YES, 9.1", 0, NULL, 0), 0);
	cr_assert_eq(c->conds[3].type, COND_VERDICT);
	cr_assert_str_eq(c->conds[3].child, "spam");
	cr_assert_eq(c->conds[3].verdicts, 1U << CV_ACCEPT |
	    1U << CV_MODIFIED);
	cr_assert_eq(c->conds[3].stages, COND_EOM);
	conf_free(c);
}

/* Groups and tables: each error at its file:line. */
static const struct bad_row groups_bad[] = {
	{ "condition \"a\" {\n type = \"any\"\n of = { \"b\" }\n}\n"
	  "condition \"b\" {\n type = \"all\"\n of = { \"!a\" }\n}\n",
	  ":3: condition \"a\": a cycle of groups: a -> b -> a; a group "
	  "cannot hold itself\n"
	  ":7: condition \"b\": a cycle of groups: b -> a -> b; a group "
	  "cannot hold itself\n" },
	{ "condition \"a\" { type = \"any\" of = { \"a\" } }\n",
	  ":1: condition \"a\": a cycle of groups: a -> a; a group cannot "
	  "hold itself\n" },
	{ "condition \"n\" { type = \"network\" networks = { \"local\" } }\n"
	  "condition \"a\" {\n type = \"all\"\n of = { \"n\", \"!x\" }\n}\n",
	  ":4: condition \"a\": of: no condition \"!x\"\n" },
	{ "condition \"a\" {\n type = \"any\"\n}\n",
	  ":3: condition \"a\": no of: expected of = { \"name\", \"!name\", "
	  "... }\n" },
	{ "condition \"a\" { type = \"any\" of = { \"!\" } }\n",
	  ":1: condition \"a\": of \"!\": expected a condition's name, or ! "
	  "and a name\n" },
	{ "condition \"t\" {\n type = \"table\"\n map = \"hash:/etc/x\"\n"
	  " key = \"sender\"\n}\n",
	  ":3: condition \"t\": \"hash\": map type not supported: expected "
	  "texthash, cidr, pcre, cdb or lmdb\n" },
	{ "condition \"t\" {\n type = \"table\"\n key = \"helo\"\n}\n",
	  ":3: condition \"t\": key: expected sender, recipient or client\n" },
	{ "condition \"t\" {\n type = \"table\"\n key = \"client\"\n}\n",
	  ":4: condition \"t\": no map: expected map = \"TYPE:PATH\"\n" },
	{ "condition \"t\" {\n type = \"table\"\n key = \"client\"\n"
	  " map = \"texthash:/nonexistent/access\"\n}\n",
	  ":4: condition \"t\": /nonexistent/access: No such file or "
	  "directory\n" },
	{ "macros_add = { \"{a}=1\", \"novalue\" }\n"
	  "milter \"m\" {\n socket = \"/a\"\n"
	  " macros_add = { \"{milterd_mine}=x\", \"{a b}=1\" }\n}\n",
	  ":1: macros_add \"novalue\": expected \"{name}=value\", "
	  "{milterd_stress} or {milterd_conditions}\n"
	  ":4: macros_add \"{milterd_mine}=x\": {milterd_...} names are "
	  "milterd's own: choose another name, or name {milterd_stress} or "
	  "{milterd_conditions} without a value\n"
	  ":4: macros_add \"{a b}=1\": expected a macro name such as {name} "
	  "before =\n" },
};

Test(conf, groups_and_tables_errors)
{
	expect_errors(groups_bad, sizeof(groups_bad) / sizeof(groups_bad[0]));
}

/* A cidr table looks up clients only. */
Test(conf, table_cidr_client_only)
{
	char	 map[] = "/tmp/milterd-cidr-XXXXXX", text[512];
	FILE	*fp;
	int	 fd;

	cr_assert_neq(fd = mkstemp(map), -1);
	cr_assert_not_null(fp = fdopen(fd, "w"));
	fputs("192.0.2.0/24 OK\n", fp);
	fclose(fp);
	chmod(map, 0644);
	snprintf(text, sizeof(text), "condition \"t\" {\n type = \"table\"\n"
	    " map = \"cidr:%s\"\n key = \"sender\"\n}\n", map);
	cr_assert_null(load(text));
	cr_assert_not_null(strstr(errbuf, ":3: condition \"t\": a cidr table "
	    "matches addresses of clients only: use key = \"client\""), "%s",
	    errbuf);
	snprintf(text, sizeof(text), "condition \"t\" {\n type = \"table\"\n"
	    " map = \"cidr:%s\"\n key = \"client\"\n}\n"
	    "condition \"g\" { type = \"any\" of = { \"!t\" } }\n"
	    "milter \"m\" { socket = \"/a\" conditions = { \"g\" } }\n", map);
	unlink(map);
	/* Read at load: gone now, and the load fails. */
	cr_assert_null(load(text));
}

/*
 * A group's members resolved and its stage the latest of theirs;
 * macros_add: the global ones, then the milter's own, which replace a
 * global one of the same name.
 */
Test(conf, groups_and_macros_add)
{
	struct conf			*c;
	const struct milter_conf	*m;

	c = load("macros_add = { \"{site}=one\", \"{milterd_stress}\", "
	    "\"x=1\" }\n"
	    "condition \"n\" { type = \"network\" networks = { \"local\" } }\n"
	    "condition \"r\" { type = \"recipient\" list = { \"@a.example\" } }\n"
	    "condition \"g\" { type = \"any\" of = { \"n\", \"h\" } }\n"
	    "condition \"h\" { type = \"all\" of = { \"!r\", \"n\" } }\n"
	    "milter \"a\" { socket = \"/a\" conditions = { \"g\" }\n"
	    " macros_add = { \"{site}=two\", \"{milterd_conditions}\" } }\n"
	    "milter \"b\" { socket = \"/b\" }\n");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->conds[2].type, COND_ANY);
	cr_assert_eq(c->conds[2].nmembers, 2);
	cr_assert_eq(c->conds[2].members[1].idx, 3);
	cr_assert(c->conds[3].members[0].negate);
	cr_assert_eq(c->conds[2].stages, cond_at(SMFIC_RCPT));
	cr_assert_eq(c->conds[3].stages, cond_at(SMFIC_RCPT));
	cr_assert(c->conds[0].grouped && c->conds[1].grouped &&
	    c->conds[3].grouped && !c->conds[2].grouped);
	m = &c->milters[0];
	cr_assert_eq(m->nmacros_add, 4);
	cr_assert_str_eq(m->macros_add[0], "{milterd_stress}");
	cr_assert_str_eq(m->macros_add[1], "x=1");
	cr_assert_str_eq(m->macros_add[2], "{site}=two");
	cr_assert_str_eq(m->macros_add[3], "{milterd_conditions}");
	m = &c->milters[1];
	cr_assert_eq(m->nmacros_add, 3);
	cr_assert_str_eq(m->macros_add[0], "{site}=one");
	conf_free(c);
}
