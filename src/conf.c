/*
 * Copyright (c) 2026 The milterd developers
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * conf.c: the libconfuse schema of milterd.conf(5), its validation, and
 * the conversion into struct conf.
 *
 * conf_load() parses the whole file into a fresh struct conf and returns
 * NULL on any error, having written every error as "file:line: message"
 * to the given stream (or the log): a caller that already runs keeps its
 * configuration.  Values are checked as they are parsed, by validators
 * attached to each option, so that errors carry the line they are on;
 * a validator reports and lets parsing go on, so that one run lists
 * every error (conf_nerrors counts them).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <sys/socket.h>

#include <confuse.h>
#include <event2/util.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "detect.h"
#include "log.h"

#define EOM_TIMEOUT	240	/* seconds: a child's default eom_timeout */

static FILE	*conf_errfp;	/* where errors go; NULL: the log */
static int	 conf_nerrors;

/* The errors of one load, said in the file's order at its end. */
struct conf_err {
	int	 line;
	int	 seq;		/* order of finding: ties keep it */
	char	*msg;
};
static struct conf_err	*conf_errs;

/* A key met in a section, for errors found after the parse. */
struct key_line {
	const char	*sec;		/* "milter", "condition" */
	char		*title;
	const char	*key;
	int		 line;
};

/*
 * The scan of the file conf_load() does before libconfuse parses it
 * (see scan_file()).
 */
struct scan {
	char		*buf;		/* the file; comments blanked when met */
	size_t		 pos;
	int		 line;		/* of buf + pos */
	int		 tline;		/* of the last token */
	size_t		 tpos;		/* where it starts */
	char		 text[256];	/* the last word, unquoted, cut */
	int		 bad;		/* out of step with the grammar */
	int		 base;		/* lines of the files before this one */
	int		 included;	/* milter and condition sections only */
	int		 collect;	/* the value is include's: keep it */
};

/*
 * The files of one load: the main file (base 0), then the included ones
 * in the order they are read.  libconfuse parses them as one text, so
 * that a line of the text is base + the line in its file.
 */
struct conf_file {
	char	*path;
	int	 base;
};
static struct conf_file	*conf_files;
static size_t		 conf_nfiles;

/* The include patterns of the main file, with their lines. */
struct conf_include {
	char	*pattern;
	int	 line;
};
static struct conf_include	*conf_incs;
static size_t			 conf_nincs;
#define SCAN_EOF	0
#define SCAN_WORD	256

static struct key_line	*conf_keys;	/* of the load under way */
static size_t		 conf_nkeys;
static const char	*cond_key;	/* what build_cond() checks */

static void	conf_report(int, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
static void	conf_flush(const char *);
static int	err_cmp(const void *, const void *);
static void	conf_error(cfg_t *, const char *, va_list);
static void	scan_blank(struct scan *, int);
static char	scan_escape(const char *, const char **);
static int	scan_quoted(struct scan *, char);
static int	scan_next(struct scan *);
static void	scan_value(struct scan *);
static void	scan_section(struct scan *, cfg_opt_t *, const char *,
		    const char *, int);
static void	scan_file(struct scan *);
static void	include_add(const char *, int);
static const char *where(int, int *);
static char	*read_file(const char *, int, int, size_t *);
static int	read_includes(const char *, char **, size_t *, int);
static void	key_add(const char *, const char *, const char *, int);
static int	key_line(const char *, const char *, const char *);
static int	p_int(cfg_t *, cfg_opt_t *, const char *, void *);
static int	p_bool(cfg_t *, cfg_opt_t *, const char *, void *);
static int	p_sockspec(cfg_t *, cfg_opt_t *, const char *, void *);
static int	p_dns_server(cfg_t *, cfg_opt_t *, const char *, void *);
static int	v_listen(cfg_t *, cfg_opt_t *);
static void	set_parsers(cfg_opt_t *);
static int	parse_file(cfg_t *, const char *);
static cfg_t	*conf_init(FILE *);
static int	v_sockspec(cfg_t *, cfg_opt_t *);
static int	v_fallback(cfg_t *, cfg_opt_t *);
static int	v_choice(cfg_t *, cfg_opt_t *);
static int	v_mode(cfg_t *, cfg_opt_t *);
static int	v_log(cfg_t *, cfg_opt_t *);
static int	v_nonneg(cfg_t *, cfg_opt_t *);
static int	v_positive(cfg_t *, cfg_opt_t *);
static int	v_percent(cfg_t *, cfg_opt_t *);
static int	v_seed(cfg_t *, cfg_opt_t *);
static int	v_bound(cfg_t *, cfg_opt_t *);
static int	v_milter(cfg_t *, cfg_opt_t *);
static int	v_command(cfg_t *, cfg_opt_t *);
static int	name_ok(const char *);
static int	v_control(cfg_t *, cfg_opt_t *);
static int	v_user(cfg_t *, cfg_opt_t *);
static int	v_account(cfg_t *, cfg_opt_t *);
static int	v_chroot(cfg_t *, cfg_opt_t *);
static const char *worker_user_error(const char *);
static void	check_launch(cfg_t *);
static int	line_of(cfg_t *, const char *);
static void	add_detected(struct conf *, FILE *);
static int	v_metrics(cfg_t *, cfg_opt_t *);
static int	v_hours(cfg_t *, cfg_opt_t *);
static int	metrics_spec(const char *, struct sockspec *, char *, size_t);
static int	parse_fallback(const char *, enum fallback *);
static char	*dup_opt(cfg_t *, const char *);
static char	**dup_list(cfg_t *, const char *, size_t *);
static int	convert(cfg_t *, struct conf *);
static int	convert_milter(cfg_t *, struct milter_conf *);
static void	print_quoted(FILE *, const char *);
static void	print_str(FILE *, const char *, const char *);
static void	print_set(cfg_t *, FILE *);
static int	build_cond(cfg_t *, struct cond *, char *, size_t);
static int	dnsbl_zones(cfg_t *, struct cond *, char *, size_t);
static int	lua_script(cfg_t *, struct cond *, char *, size_t);
static int	stress_threshold(cfg_t *, struct cond *, char *, size_t);
static int	compile_list(cfg_t *, const char *, regex_t **, size_t *,
		    char *, size_t);
static int	v_condition(cfg_t *, cfg_opt_t *);
static void	check_cond_refs(cfg_t *);
static void	check_verdict_refs(cfg_t *);
static int	size_bounds(cfg_t *, struct cond *, char *, size_t);
static int	header_match(cfg_t *, struct cond *, char *, size_t);
static int	verdict_is(cfg_t *, struct cond *, char *, size_t);
static int	table_cond(cfg_t *, struct cond *, char *, size_t);
static int	group_cond(cfg_t *, struct cond *, char *, size_t);
static void	check_groups(cfg_t *);
static int	group_cycle(cfg_t *, const char *, unsigned int, char *,
		    size_t, unsigned int);
static int	v_macros_add(cfg_t *, cfg_opt_t *);
static int	macro_derived(const char *);
static void	merge_macros(cfg_t *, cfg_t *, struct milter_conf *);
static int	cond_index(cfg_t *, const char *);
static void	convert_refs(cfg_t *, cfg_t *, struct milter_conf *);

static cfg_opt_t cond_opts[] = {
	CFG_STR("type",			NULL,		CFGF_NODEFAULT),
	CFG_STR_LIST("networks",	NULL,		CFGF_NODEFAULT),
	CFG_STR_LIST("allow",		NULL,		CFGF_NODEFAULT),
	CFG_STR_LIST("deny",		NULL,		CFGF_NODEFAULT),
	CFG_BOOL("ipv6",		cfg_false,	CFGF_NONE),
	CFG_STR_LIST("list",		NULL,		CFGF_NODEFAULT),
	CFG_STR("file",			NULL,		CFGF_NODEFAULT),
	CFG_STR("macro",		NULL,		CFGF_NODEFAULT),
	CFG_STR("regex",		NULL,		CFGF_NODEFAULT),
	CFG_INT("threshold",		0,		CFGF_NONE),
	CFG_STR("postfix",		NULL,		CFGF_NODEFAULT),
	CFG_INT("percent",		80,		CFGF_NONE),
	CFG_STR_LIST("zones",		NULL,		CFGF_NODEFAULT),
	CFG_INT("timeout",		2,		CFGF_NONE),
	CFG_STR("script",		NULL,		CFGF_NODEFAULT),
	CFG_STR_LIST("args",		NULL,		CFGF_NODEFAULT),
	CFG_STR_LIST("macros",		NULL,		CFGF_NODEFAULT),
	CFG_INT("time_limit",		100,		CFGF_NONE),
	CFG_INT("memory_limit",		16777216,	CFGF_NONE),
	/* On the message, at end of message: */
	CFG_INT("over",			0,		CFGF_NODEFAULT),
	CFG_INT("under",		0,		CFGF_NODEFAULT),
	CFG_STR("name",			NULL,		CFGF_NODEFAULT),
	CFG_STR("match",		NULL,		CFGF_NODEFAULT),
	CFG_STR("child",		NULL,		CFGF_NODEFAULT),
	CFG_STR_LIST("is",		NULL,		CFGF_NODEFAULT),
	CFG_STR("map",			NULL,		CFGF_NODEFAULT),
	CFG_STR("key",			NULL,		CFGF_NODEFAULT),
	CFG_STR_LIST("values",		"{OK}",		CFGF_NONE),
	CFG_STR_LIST("of",		NULL,		CFGF_NODEFAULT),
	CFG_END()
};

static cfg_opt_t milter_opts[] = {
	CFG_STR_LIST("conditions",	NULL,		CFGF_NODEFAULT),
	CFG_STR("recipients",		"any",		CFGF_NONE),
	CFG_STR("condition_error",	"apply",	CFGF_NONE),
	CFG_BOOL("macros_compat",	cfg_false,	CFGF_NONE),
	CFG_STR_LIST("macros_add",	NULL,		CFGF_NODEFAULT),
	CFG_BOOL("reuse_connections",	cfg_false,	CFGF_NONE),
	CFG_STR_LIST("socket",		NULL,		CFGF_NODEFAULT),
	CFG_STR("balance",		"failover",	CFGF_NONE),
	CFG_INT("failures_to_down",	3,		CFGF_NONE),
	CFG_INT("down_time",		10,		CFGF_NONE),
	CFG_STR("command",		NULL,		CFGF_NODEFAULT),
	CFG_STR("user",			NULL,		CFGF_NODEFAULT),
	CFG_BOOL("enabled",		cfg_true,	CFGF_NONE),
	CFG_BOOL("evaluation",		cfg_false,	CFGF_NONE),
	CFG_INT("evaluation_sample",	100,		CFGF_NONE),
	CFG_BOOL("evaluation_wait",	cfg_true,	CFGF_NONE),
	/* milterd never passes mail unfiltered by accident. */
	CFG_STR("fallback",		"tempfail",	CFGF_NONE),
	CFG_INT("connect_timeout",	10,		CFGF_NONE),
	CFG_INT("command_timeout",	10,		CFGF_NONE),
	/* Below Postfix's milter_content_timeout (300 s). */
	CFG_INT("eom_timeout",		EOM_TIMEOUT,	CFGF_NONE),
	CFG_END()
};

static cfg_opt_t opts[] = {
	CFG_STR_LIST("listen",	"{unix:/var/run/milterd/milterd.sock}",
							CFGF_NONE),
	CFG_STR("socket_mode",		"0660",		CFGF_NONE),
	CFG_STR("socket_group",		NULL,		CFGF_NODEFAULT),
	CFG_STR("user",			"_milterd",	CFGF_NONE),
	CFG_STR("group",		NULL,		CFGF_NODEFAULT),
	CFG_STR("chroot",		NULL,		CFGF_NODEFAULT),
	CFG_INT("workers",		0,		CFGF_NONE),
	CFG_INT("max_sessions_per_worker", 0,		CFGF_NONE),
	CFG_INT("grace_time",		60,		CFGF_NONE),
	CFG_INT("lua_threads",		CONF_LUA_THREADS, CFGF_NONE),
	CFG_INT("lua_queue",		CONF_LUA_QUEUE,	CFGF_NONE),
	CFG_BOOL("allow_root_command",	cfg_false,	CFGF_NONE),
	CFG_INT("launch_wait",		10,		CFGF_NONE),
	CFG_STR("pidfile",		"/var/run/milterd.pid", CFGF_NONE),
	CFG_STR("control",	CTL_SOCKET,	CFGF_NONE),
	CFG_STR("control_mode",		"0600",		CFGF_NONE),
	CFG_STR("metrics_listen",	"",		CFGF_NONE),
	CFG_STR("state_file",	"/var/lib/milterd/history", CFGF_NONE),
	CFG_INT("history_hours",	48,		CFGF_NONE),
	CFG_STR("fallback",		"accept",	CFGF_NONE),
	CFG_STR("dispatch",		"sequential",	CFGF_NONE),
	CFG_INT("body_memory_limit",	1048576,	CFGF_NONE),
	CFG_STR("spool_dir",		CONF_SPOOL_DIR,	CFGF_NONE),
	CFG_INT("progress_interval",	5,		CFGF_NONE),
	CFG_INT("max_headers",		CONF_MAX_HEADERS, CFGF_NONE),
	CFG_INT("max_header_bytes",	CONF_MAX_HEADER_BYTES, CFGF_NONE),
	CFG_INT("max_recipients",	CONF_MAX_RECIPIENTS, CFGF_NONE),
	CFG_INT("max_sessions",		0,		CFGF_NONE),
	CFG_INT("mta_timeout",		CONF_MTA_TIMEOUT, CFGF_NONE),
	CFG_INT("evaluation_seed",	0,		CFGF_NONE),
	CFG_INT("evaluation_memory_limit", CONF_EVALUATION_MEMORY, CFGF_NONE),
	CFG_BOOL("detect",		cfg_false,	CFGF_NONE),
	CFG_STR("detect_root",		"/",		CFGF_NONE),
	CFG_BOOL("disconnect_check",	cfg_true,	CFGF_NONE),
	CFG_INT("disconnect_check_after", 2,		CFGF_NONE),
	CFG_INT("disconnect_check_interval", 1,		CFGF_NONE),
	CFG_STR("fallback_on_disconnect", "tempfail",	CFGF_NONE),
	CFG_STR_LIST("dns_servers",	NULL,		CFGF_NODEFAULT),
	CFG_STR("mta",			"auto",		CFGF_NONE),
	CFG_STR_LIST("include",		NULL,		CFGF_NODEFAULT),
	CFG_STR("log_facility",		"mail",		CFGF_NONE),
	CFG_STR("log_level",		"info",		CFGF_NONE),
	CFG_STR("log_format",		"text",		CFGF_NONE),
	CFG_STR_LIST("macros_add",	NULL,		CFGF_NODEFAULT),
	CFG_SEC("condition",	cond_opts,
	    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("milter",	milter_opts,
	    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_END()
};

/* An error at line of the file being loaded, counted; once. */
static void
conf_report(int line, const char *fmt, ...)
{
	struct conf_err	*e;
	va_list		 ap;
	char		*msg;
	int		 i;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("%s: vasprintf", __func__);
	va_end(ap);
	for (i = 0; i < conf_nerrors; i++)
		if (conf_errs[i].line == line && strcmp(conf_errs[i].msg,
		    msg) == 0) {
			free(msg);
			return;
		}
	if ((e = reallocarray(conf_errs, conf_nerrors + 1,
	    sizeof(*e))) == NULL)
		fatal("%s: reallocarray", __func__);
	conf_errs = e;
	e[conf_nerrors].line = line;
	e[conf_nerrors].seq = conf_nerrors;
	e[conf_nerrors].msg = msg;
	conf_nerrors++;
}

static int
err_cmp(const void *a, const void *b)
{
	const struct conf_err	*x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * The file a line of the parsed text is in, and its line there (*local);
 * path when no file was read.
 */
static const char *
where(int line, int *local)
{
	size_t	i;

	*local = line;
	for (i = conf_nfiles; i > 0; i--)
		if (line > conf_files[i - 1].base || i == 1) {
			*local = line - conf_files[i - 1].base;
			return conf_files[i - 1].path;
		}
	return NULL;
}

/*
 * "file:line: message" for each error, in the order of the lines: the
 * scan, the parser and the checks after it find them at different times.
 * An error in an included file names that file.
 */
static void
conf_flush(const char *path)
{
	const char	*file;
	char		 at[16];
	int		 i, line;

	if (conf_nerrors > 0)
		qsort(conf_errs, conf_nerrors, sizeof(*conf_errs), err_cmp);
	for (i = 0; i < conf_nerrors; i++) {
		file = path;
		/* Line 0: of no line (a default). */
		if (conf_errs[i].line > 0) {
			if ((file = where(conf_errs[i].line, &line)) == NULL)
				file = path;
			snprintf(at, sizeof(at), ":%d", line);
		} else
			at[0] = '\0';
		if (conf_errfp != NULL)
			fprintf(conf_errfp, "%s%s: %s\n", file, at,
			    conf_errs[i].msg);
		else
			log_warnx("%s%s: %s", file, at, conf_errs[i].msg);
		free(conf_errs[i].msg);
	}
	free(conf_errs);
	conf_errs = NULL;
	while (conf_nkeys > 0)
		free(conf_keys[--conf_nkeys].title);
	free(conf_keys);
	conf_keys = NULL;
	while (conf_nfiles > 0)
		free(conf_files[--conf_nfiles].path);
	free(conf_files);
	conf_files = NULL;
	while (conf_nincs > 0)
		free(conf_incs[--conf_nincs].pattern);
	free(conf_incs);
	conf_incs = NULL;
}

/* libconfuse's errors and the validators'. */
static void
conf_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	char	msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	conf_report(cfg->line, "%s", msg);
}

/*
 * The scan of the file before libconfuse parses it.
 *
 * libconfuse 3.3's lexer adds 1 to its line count twice more for each
 * "#" or "//" comment, and once more for each block comment (qput() and
 * qend() in lexer.l), so that every error after a comment named a later
 * line.  The scan follows the lexer's rules to find the comments and
 * blanks them in the copy the parser reads, newlines kept.
 *
 * It also follows the grammar enough to find the keys: it reports each
 * unknown key and each second section of a name, and blanks them, so
 * that the parser goes on and one run lists them all (libconfuse ends
 * the parse at either, and its CFGF_IGNORE_UNKNOWN mistakes a skipped
 * section's body).  Where the scan meets what the grammar does not
 * allow, it stops blanking: the parser reports that syntax error, which
 * ends the parse.  What the scan did not blank, the parser still sees:
 * no unknown key is ever ignored.
 */

/* A comment from buf + pos: to the end of the line, or to its end. */
static void
scan_blank(struct scan *s, int block)
{
	char	*p = s->buf + s->pos;
	int	 line = s->line;

	if (!block) {
		for (; *p != '\0' && *p != '\n'; p++)
			*p = ' ';
		s->pos = (size_t)(p - s->buf);
		return;
	}
	p[0] = p[1] = ' ';
	for (p += 2; *p != '\0'; p++) {
		if (p[0] == '*' && p[1] == '/') {
			p[0] = p[1] = ' ';
			s->pos = (size_t)(p + 2 - s->buf);
			return;
		}
		if (*p == '\n')
			s->line++;
		else
			*p = ' ';
	}
	s->pos = (size_t)(p - s->buf);
	conf_report(line, "a /* comment that is not closed: close it with */");
}

/* The character of the escape in a "string" at p; *end past it. */
static char
scan_escape(const char *p, const char **end)
{
	static const char	 from[] = "nrbfaetv", to[] = "\n\r\b\f\a\033\t\v";
	const char		*f;
	char			 digits[4];
	size_t			 n;

	*end = p + 1;
	if ((n = strspn(p, "01234567")) > 0) {
		strlcpy(digits, p, (n > 3 ? 3 : n) + 1);
		*end = p + strlen(digits);
		return (char)strtol(digits, NULL, 8);
	}
	if (*p == 'x' && (n = strspn(p + 1, "0123456789abcdefABCDEF")) > 0) {
		strlcpy(digits, p + 1, (n > 2 ? 2 : n) + 1);
		*end = p + 1 + strlen(digits);
		return (char)strtol(digits, NULL, 16);
	}
	if ((f = strchr(from, *p)) != NULL && *p != '\0')
		return to[f - from];
	return *p;
}

/*
 * A string in quotes q from buf + pos, unescaped as the lexer does
 * ("\n", "\101", "\x41"; '\'' and '\\' only); SCAN_EOF when not closed.
 */
static int
scan_quoted(struct scan *s, char q)
{
	const char	*p = s->buf + s->pos + 1, *end;
	size_t		 n = 0;
	char		 ch;

	s->tline = s->line;
	s->tpos = s->pos;
	while (*p != '\0' && *p != q) {
		ch = *p++;
		if (ch == '\n')
			s->line++;
		else if (ch == '\\' && *p == '\n') {
			/* A line continued. */
			s->line++;
			p++;
			continue;
		} else if (ch == '\\' && q == '"' && *p != '\0') {
			ch = scan_escape(p, &end);
			p = end;
		} else if (ch == '\\' && (*p == '\\' || *p == '\''))
			ch = *p++;
		if (n < sizeof(s->text) - 1)
			s->text[n++] = ch;
	}
	s->text[n] = '\0';
	if (*p == '\0') {
		s->pos = (size_t)(p - s->buf);
		return SCAN_EOF;
	}
	s->pos = (size_t)(p + 1 - s->buf);
	return SCAN_WORD;
}

/* The next token: SCAN_WORD (in text), a punctuation, or SCAN_EOF. */
static int
scan_next(struct scan *s)
{
	const char	*p;
	size_t		 n;

	for (;;) {
		p = s->buf + s->pos;
		switch (*p) {
		case '\0':
			return SCAN_EOF;
		case '\n':
			s->line++;
			/* FALLTHROUGH */
		case ' ':
		case '\t':
		case '\r':
		case '*':	/* the lexer eats what no rule takes */
			s->pos++;
			continue;
		case '#':
			scan_blank(s, 0);
			continue;
		case '/':
			if (p[1] == '/' || p[1] == '*') {
				scan_blank(s, p[1] == '*');
				continue;
			}
			break;
		case '+':
			s->pos++;
			if (p[1] != '=')
				continue;
			s->tpos = s->pos - 1;
			s->pos++;
			s->tline = s->line;
			return '+';
		case '{':
		case '}':
		case '(':
		case ')':
		case '=':
		case ',':
			s->tpos = s->pos++;
			s->tline = s->line;
			return *p;
		case '"':
		case '\'':
			return scan_quoted(s, *p);
		case '$':
			/* ${VAR}: the environment's, as one word. */
			if (p[1] == '{' && strchr(p, '}') != NULL) {
				n = (size_t)(strchr(p, '}') + 1 - p);
				goto word;
			}
			break;
		}
		/* A bare word; a '/' in it does not start a comment. */
		n = strcspn(p, " #\"'\t\n\r={}()+,*");
word:
		s->tline = s->line;
		s->tpos = s->pos;
		strlcpy(s->text, p, n < sizeof(s->text) ? n + 1 :
		    sizeof(s->text));
		for (; n > 0; n--, p++)
			if (*p == '\n')
				s->line++;
		s->pos = (size_t)(p - s->buf);
		return SCAN_WORD;
	}
}

/* After "key =": a value, or a list of them in braces. */
static void
scan_value(struct scan *s)
{
	int	t;

	if ((t = scan_next(s)) == SCAN_WORD) {
		if (s->collect)
			include_add(s->text, s->tline);
		return;
	}
	if (t != '{') {
		s->bad = 1;
		return;
	}
	for (;;) {
		/* An empty list, or a comma before the brace: allowed. */
		if ((t = scan_next(s)) == '}')
			return;
		if (t == SCAN_WORD && s->collect)
			include_add(s->text, s->tline);
		if (t != SCAN_WORD || ((t = scan_next(s)) != ',' && t != '}')) {
			s->bad = 1;
			return;
		}
		if (t == '}')
			return;
	}
}

/*
 * The statements of a section (of the file at depth 0) up to its
 * closing brace; o its keys, NULL in an unknown section.
 */
static void
scan_section(struct scan *s, cfg_opt_t *o, const char *sec,
    const char *title, int depth)
{
	cfg_opt_t	*opt;
	const char	*file;
	char		 name[256];
	size_t		 start;
	int		 i, t, line, first, dup, other, l;

	while (!s->bad) {
		if ((t = scan_next(s)) == SCAN_EOF || (t == '}' && depth > 0))
			return;
		if (t != SCAN_WORD) {
			s->bad = 1;
			return;
		}
		line = s->tline;
		start = s->tpos;
		dup = 0;
		for (opt = NULL, i = 0; o != NULL && o[i].name != NULL; i++)
			if (strcmp(o[i].name, s->text) == 0)
				opt = &o[i];
		if (opt != NULL && depth == 0 && s->included &&
		    opt->type != CFGT_SEC) {
			/* Packages add children, not settings. */
			conf_report(line, "'%s': an included file holds only "
			    "milter and condition sections; set it in the "
			    "main file", s->text);
			dup = 1;
		} else if (o != NULL && opt == NULL && depth == 0)
			conf_report(line, "no such option '%s'", s->text);
		else if (o != NULL && opt == NULL)
			conf_report(line, "%s \"%s\": no such option '%s'",
			    sec, title, s->text);
		else if (opt != NULL && depth == 1)
			key_add(sec, title, opt->name, line);
		s->collect = opt != NULL && depth == 0 && !dup &&
		    strcmp(opt->name, "include") == 0;
		switch (scan_next(s)) {
		case '=':
		case '+':
			scan_value(s);
			break;
		case '(':
			while ((t = scan_next(s)) == SCAN_WORD || t == ',')
				;
			s->bad = t != ')';
			break;
		case SCAN_WORD:
			strlcpy(name, s->text, sizeof(name));
			if (opt != NULL && depth == 0 && (first =
			    key_line(opt->name, name, "")) > 0) {
				file = where(first, &first);
				other = file != where(line, &l);
				conf_report(line, "%s \"%s\": a second section "
				    "of that name (the first is %s%s%son line "
				    "%d)", opt->name, name, other ? "in " : "",
				    other ? file : "", other ? " " : "", first);
				dup = 1;
			} else if (opt != NULL && depth == 0)
				key_add(opt->name, name, "", line);
			if (scan_next(s) != '{') {
				s->bad = 1;
				break;
			}
			scan_section(s, opt != NULL && opt->type == CFGT_SEC ?
			    opt->subopts : NULL, opt != NULL ? opt->name : "",
			    name, depth + 1);
			break;
		case '{':
			scan_section(s, opt != NULL && opt->type == CFGT_SEC ?
			    opt->subopts : NULL, opt != NULL ? opt->name : "",
			    "", depth + 1);
			break;
		default:
			s->bad = 1;
		}
		s->collect = 0;
		/* Said: the parser does not see it (see scan_file()). */
		if (((o != NULL && opt == NULL) || dup) && !s->bad)
			for (; start < s->pos; start++)
				if (s->buf[start] != '\n')
					s->buf[start] = ' ';
	}
}

static void
scan_file(struct scan *s)
{
	s->pos = 0;
	s->line = s->base + 1;
	s->bad = 0;
	scan_section(s, opts, "", "", 0);
	/* The rest of the file: its comments, for the parser's lines. */
	while (scan_next(s) != SCAN_EOF)
		;
}

/* Key met on line in the section sec "title" ("": the title's line). */
static void
key_add(const char *sec, const char *title, const char *key, int line)
{
	struct key_line	*k;

	if ((k = reallocarray(conf_keys, conf_nkeys + 1, sizeof(*k))) ==
	    NULL || (k[conf_nkeys].title = strdup(title)) == NULL)
		fatal("%s: reallocarray", __func__);
	conf_keys = k;
	k[conf_nkeys].sec = sec;
	k[conf_nkeys].key = key;
	k[conf_nkeys++].line = line;
}

/* The line of key in the section sec "title" (the last set); 0: none. */
static int
key_line(const char *sec, const char *title, const char *key)
{
	size_t	i;

	for (i = conf_nkeys; i > 0; i--)
		if (strcmp(conf_keys[i - 1].sec, sec) == 0 &&
		    strcmp(conf_keys[i - 1].title, title) == 0 &&
		    strcmp(conf_keys[i - 1].key, key) == 0)
			return conf_keys[i - 1].line;
	return 0;
}

/* A number: when bad, an error, and the default stands in for it. */
static int
p_int(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	char	*end;
	long	 n;

	errno = 0;
	n = strtol(value, &end, 0);
	if (*value == '\0' || *end != '\0' || errno == ERANGE) {
		cfg_error(cfg, "%s \"%s\": expected a number", opt->name,
		    value);
		n = opt->def.number;
	}
	*(long *)result = n;
	return 0;
}

static int
p_bool(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	int	b;

	if ((b = cfg_parse_boolean(value)) == -1) {
		cfg_error(cfg, "%s \"%s\": expected true or false", opt->name,
		    value);
		b = opt->def.boolean;
	}
	*(int *)result = b;
	return 0;
}

/*
 * Each of listen's sockets, or of a milter's, on its own line.  A
 * milter's host name that does not resolve now is a warning, said by
 * convert_milter(): it is resolved again when connecting.
 */
static int
p_sockspec(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	struct sockspec	 sp;
	char		 err[256];

	if ((strcmp(opt->name, "socket") == 0 ? sockspec_parse_name(value,
	    &sp, err, sizeof(err)) : sockspec_parse(value, &sp, err,
	    sizeof(err))) == -1)
		cfg_error(cfg, "%s \"%s\": %s", opt->name, value, err);
	*(const char **)result = value;
	return 0;
}

static int
v_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_size(opt) > CONF_MAX_LISTEN)
		cfg_error(cfg, "%s: at most %d sockets", opt->name,
		    CONF_MAX_LISTEN);
	return 0;
}

/* A milter's sockets (each is parsed by p_sockspec). */
static int
v_sockspec(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_size(opt) > CONF_MAX_ADDRS)
		cfg_error(cfg, "%s: at most %d sockets", opt->name,
		    CONF_MAX_ADDRS);
	return 0;
}

/* The fallbacks by name, in enum fallback's order. */
static const char *const fallback_names[] = {
	"accept", "tempfail", "reject", "discard", "quarantine", "shutdown"
};

static int
parse_fallback(const char *s, enum fallback *fb)
{
	size_t	i;

	for (i = 0; i < sizeof(fallback_names) / sizeof(fallback_names[0]);
	    i++)
		if (strcmp(s, fallback_names[i]) == 0) {
			*fb = (enum fallback)i;
			return 0;
		}
	return -1;
}

/* Has a milter a host name, to be resolved when connecting? */
int
conf_has_names(const struct conf *c)
{
	size_t	i, j;

	for (i = 0; i < c->nmilters; i++)
		for (j = 0; j < c->milters[i].nsock; j++)
			if (c->milters[i].sock[j].host[0] != '\0')
				return 1;
	return 0;
}

/* The milter of that name, or NULL. */
const struct milter_conf *
conf_milter(const struct conf *c, const char *name)
{
	size_t	i;

	for (i = 0; i < c->nmilters; i++)
		if (strcmp(c->milters[i].name, name) == 0)
			return &c->milters[i];
	return NULL;
}

const char *
fallback_name(enum fallback fb)
{
	return fallback_names[fb];
}

static int
v_fallback(cfg_t *cfg, cfg_opt_t *opt)
{
	enum fallback	fb;

	if (parse_fallback(cfg_opt_getnstr(opt, 0), &fb) == -1)
		cfg_error(cfg, "%s \"%s\": expected accept, tempfail, reject, "
		    "discard, quarantine or shutdown", opt->name,
		    cfg_opt_getnstr(opt, 0));
	/* The client is gone: no message is left to hold. */
	else if (fb == FALLBACK_QUARANTINE &&
	    strcmp(opt->name, "fallback_on_disconnect") == 0)
		cfg_error(cfg, "%s \"quarantine\": the client is gone, so no "
		    "message is delivered to be held; expected accept, "
		    "tempfail, reject, discard or shutdown", opt->name);
	return 0;
}

/* "address" or "address:port" ("[address]:port" for IPv6). */
static int
p_dns_server(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	struct sockaddr_storage	 ss;
	int			 len = sizeof(ss);

	if (evutil_parse_sockaddr_port(value, (struct sockaddr *)&ss,
	    &len) == -1)
		cfg_error(cfg, "%s \"%s\": expected an address, or "
		    "address:port", opt->name, value);
	*(const char **)result = value;
	return 0;
}

/* The words a key takes, the first its default. */
static const char	*choices[][4] = {
	{ "dispatch", "sequential", "parallel", NULL },
	{ "recipients", "any", "all", NULL },
	{ "condition_error", "apply", "skip", NULL },
	{ "mta", "auto", "postfix", "sendmail" },
	{ "log_format", "text", "json", NULL },
	{ "balance", "failover", "round-robin", NULL },
};

/* Which of its key's words s is: 0, 1, 2; -1: none. */
static int
choice(const char *key, const char *s)
{
	size_t	i;
	int	j;

	for (i = 0; i < sizeof(choices) / sizeof(choices[0]); i++)
		for (j = 1; j < 4 && strcmp(key, choices[i][0]) == 0; j++)
			if (choices[i][j] != NULL && strcmp(s,
			    choices[i][j]) == 0)
				return j - 1;
	return -1;
}

static int
v_choice(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);
	size_t		 i;

	for (i = 0; i < sizeof(choices) / sizeof(choices[0]); i++)
		if (strcmp(opt->name, choices[i][0]) == 0 &&
		    choice(opt->name, s) == -1)
			cfg_error(cfg, "%s \"%s\": expected %s or %s%s%s",
			    opt->name, s, choices[i][1], choices[i][2],
			    choices[i][3] != NULL ? " or " : "",
			    choices[i][3] != NULL ? choices[i][3] : "");
	return 0;
}

/* log_facility, log_level: syslog's names. */
static int
v_log(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);

	if (strcmp(opt->name, "log_facility") == 0 &&
	    log_facility_code(s) == -1)
		cfg_error(cfg, "log_facility \"%s\": expected mail, daemon, "
		    "user or local0 to local7", s);
	else if (strcmp(opt->name, "log_level") == 0 &&
	    log_level_code(s) == -1)
		cfg_error(cfg, "log_level \"%s\": expected crit, error, "
		    "warning, notice, info or debug", s);
	return 0;
}

static int
v_mode(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);
	char		*end;
	long		 mode;

	mode = strtol(s, &end, 8);
	if (*s == '\0' || *end != '\0' || mode < 0 || mode > 0777)
		cfg_error(cfg, "%s \"%s\": expected an octal mode such as "
		    "0660", opt->name, s);
	return 0;
}

static int
v_nonneg(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_getnint(opt, 0) < 0 || cfg_opt_getnint(opt, 0) > 1024 *
	    1024 * 1024)
		cfg_error(cfg, "%s %ld: out of range", opt->name,
		    cfg_opt_getnint(opt, 0));
	return 0;
}

/* A bound: as v_nonneg, and at least 1. */
static int
v_bound(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_getnint(opt, 0) == 0)
		cfg_error(cfg, "%s 0: expected at least 1", opt->name);
	return v_nonneg(cfg, opt);
}

static int
v_positive(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_getnint(opt, 0) < 1 || cfg_opt_getnint(opt, 0) > 86400)
		cfg_error(cfg, "%s %ld: expected 1 to 86400 seconds",
		    opt->name, cfg_opt_getnint(opt, 0));
	return 0;
}

/* Lookup threads a worker runs lua conditions in. */
static int
v_threads(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_getnint(opt, 0) < 1 || cfg_opt_getnint(opt, 0) >
	    CONF_LUA_THREADS_MAX)
		cfg_error(cfg, "%s %ld: expected 1 to %d threads", opt->name,
		    cfg_opt_getnint(opt, 0), CONF_LUA_THREADS_MAX);
	return 0;
}

/* A share of connections, in percent. */
static int
v_percent(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_getnint(opt, 0) < 0 || cfg_opt_getnint(opt, 0) > 100)
		cfg_error(cfg, "%s %ld: expected a percentage, 0 to 100",
		    opt->name, cfg_opt_getnint(opt, 0));
	return 0;
}

/* The seed of evaluation_sample's choice: 32 bits. */
static int
v_seed(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_getnint(opt, 0) < 0 ||
	    cfg_opt_getnint(opt, 0) > (long)UINT32_MAX)
		cfg_error(cfg, "%s %ld: expected 0 to 4294967295", opt->name,
		    cfg_opt_getnint(opt, 0));
	return 0;
}

/* A command for the launcher: words, the first an absolute path. */
static int
v_command(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);
	char		 buf[4096], *argv[64];

	if (split_words(s, buf, sizeof(buf), argv, 64) == -1 ||
	    argv[0][0] != '/')
		cfg_error(cfg, "command \"%s\": expected an absolute path and "
		    "arguments (quotes closed, at most 63 words)", s);
	return 0;
}

/* A milter section, when closed: it must have a socket. */
static int
v_milter(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t	*sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	int	 line;

	/* Each milter has counters of its own, of which there are so many. */
	if (cfg_opt_size(opt) == CONF_MAX_MILTERS + 1)
		cfg_error(cfg, "at most %d milter sections", CONF_MAX_MILTERS);
	if (cfg_size(sec, "socket") == 0) {
		cfg_error(cfg, "milter \"%s\": no socket", cfg_title(sec));
		return 0;
	}
	if (!name_ok(cfg_title(sec))) {
		/* On the title's line. */
		line = key_line("milter", cfg_title(sec), "");
		conf_report(line > 0 ? line : cfg->line, "milter \"%s\": a "
		    "name is 1 to 64 characters without blanks, quotes or "
		    "backslashes", cfg_title(sec));
	}
	return 0;
}

/* Names go into log lines, metrics labels and the history. */
static int
name_ok(const char *name)
{
	const unsigned char	*p = (const unsigned char *)name;

	if (*p == '\0' || strlen(name) > 64)
		return 0;
	for (; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '\\')
			return 0;
	return 1;
}

/* "host:port" or "[v6host]:port", as Prometheus exporters spell it. */
static int
metrics_spec(const char *s, struct sockspec *sp, char *err, size_t errlen)
{
	char	spec[300];

	snprintf(spec, sizeof(spec), "%s:%s", s[0] == '[' ? "inet6" : "inet",
	    s);
	if (strchr(s, ':') == NULL || sockspec_parse(spec, sp, err,
	    errlen) == -1) {
		if (strchr(s, ':') == NULL)
			snprintf(err, errlen, "expected host:port");
		return -1;
	}
	strlcpy(sp->text, s, sizeof(sp->text));
	return 0;
}

static int
v_metrics(cfg_t *cfg, cfg_opt_t *opt)
{
	struct sockspec	 sp;
	char		 err[256];
	const char	*s = cfg_opt_getnstr(opt, 0);

	if (s[0] != '\0' && metrics_spec(s, &sp, err, sizeof(err)) == -1)
		cfg_error(cfg, "%s \"%s\": %s", opt->name, s, err);
	return 0;
}

/* A unix socket only: whoever connects may reload milterd. */
static int
v_control(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);
	struct sockspec	 sp;
	char		 err[256];

	if (s[0] != '\0' && (s[0] != '/' || sockspec_parse(s, &sp, err,
	    sizeof(err)) == -1))
		cfg_error(cfg, "%s \"%s\": expected an absolute path (a unix "
		    "socket) or \"\"", opt->name, s);
	return 0;
}

/*
 * The checks below are those a worker or the launcher would otherwise
 * meet only at start (proc_drop_worker(), launcher_check()): made at
 * load, by milterd -n and by a reload, so that a new generation does
 * not die at start for a reason the file already shows.
 */

/* What is wrong with user as the workers' user, or NULL. */
static const char *
worker_user_error(const char *user)
{
	struct passwd	*pw;

	if ((pw = getpwnam(user)) == NULL)
		return "no such user: create it, or name another";
	if (pw->pw_uid == 0)
		return "is root: the workers must run unprivileged";
	return NULL;
}

static int
v_user(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0), *why;

	if ((why = worker_user_error(s)) != NULL)
		cfg_error(cfg, "user \"%s\": %s", s, why);
	return 0;
}

/* An account that must exist: a group, or the user a command runs as. */
static int
v_account(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);
	int		 user = strcmp(opt->name, "user") == 0;

	if (user ? getpwnam(s) == NULL : getgrnam(s) == NULL)
		cfg_error(cfg, "%s \"%s\": no such %s: create it, or name "
		    "another", opt->name, s, user ? "user" : "group");
	return 0;
}

/* The workers chroot there after the resolver is set up. */
static int
v_chroot(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);
	struct stat	 st;

	if (s[0] != '/')
		cfg_error(cfg, "chroot \"%s\": expected an absolute path", s);
	else if (stat(s, &st) == -1)
		cfg_error(cfg, "chroot \"%s\": %s", s, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		cfg_error(cfg, "chroot \"%s\": not a directory", s);
	return 0;
}

/*
 * After the whole file (allow_root_command may come after the
 * sections): what the launcher would refuse, and the workers' user
 * when it is the default.
 */
/* The line of a milter's key, or else of the section's end. */
static int
line_of(cfg_t *sec, const char *key)
{
	int	line = key_line("milter", cfg_title(sec), key);

	return line > 0 ? line : sec->line;
}

static void
check_launch(cfg_t *cfg)
{
	cfg_t		*sec;
	struct passwd	*pw;
	const char	*why;
	unsigned int	 i;

	if (!(cfg_getopt(cfg, "user")->flags & CFGF_MODIFIED) &&
	    (why = worker_user_error(cfg_getstr(cfg, "user"))) != NULL)
		conf_report(0, "user \"%s\" (the default): %s",
		    cfg_getstr(cfg, "user"), why);
	for (i = 0; i < cfg_size(cfg, "milter"); i++) {
		sec = cfg_getnsec(cfg, "milter", i);
		if (cfg_size(sec, "command") == 0)
			continue;
		if (cfg_size(sec, "user") == 0) {
			conf_report(line_of(sec, "command"), "milter \"%s\": "
			    "command without user: set user to the account the "
			    "command runs as", cfg_title(sec));
			continue;
		}
		if ((pw = getpwnam(cfg_getstr(sec, "user"))) != NULL &&
		    pw->pw_uid == 0 && !cfg_getbool(cfg, "allow_root_command"))
			conf_report(line_of(sec, "user"), "milter \"%s\": user "
			    "\"%s\" is root: name an unprivileged user, or set "
			    "allow_root_command = true", cfg_title(sec),
			    cfg_getstr(sec, "user"));
	}
}

static int
v_hours(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_getnint(opt, 0) < 1 || cfg_opt_getnint(opt, 0) > 24 * 31)
		cfg_error(cfg, "%s %ld: expected 1 to 744 hours", opt->name,
		    cfg_opt_getnint(opt, 0));
	return 0;
}

/* Each regex of list key into *out; -1 with err on the first bad one. */
static int
compile_list(cfg_t *sec, const char *key, regex_t **out, size_t *n,
    char *err, size_t errlen)
{
	char		 msg[128];
	unsigned int	 i;
	int		 rc;

	*n = 0;
	cond_key = key;
	if (cfg_size(sec, key) == 0)
		return 0;
	if ((*out = calloc(cfg_size(sec, key), sizeof(**out))) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < cfg_size(sec, key); i++) {
		if ((rc = regcomp(&(*out)[i], cfg_getnstr(sec, key, i),
		    REG_EXTENDED | REG_ICASE | REG_NOSUB)) != 0) {
			regerror(rc, &(*out)[i], msg, sizeof(msg));
			snprintf(err, errlen, "%s \"%s\": %s", key,
			    cfg_getnstr(sec, key, i), msg);
			return -1;
		}
		(*n)++;
	}
	return 0;
}

/*
 * threshold, or percent of the smtpd processes Postfix (its
 * configuration directory in postfix) may run.
 */
static int
stress_threshold(cfg_t *sec, struct cond *c, char *err, size_t errlen)
{
	uint64_t	limit;

	if (cfg_size(sec, "postfix") == 0) {
		cond_key = "threshold";
		if (cfg_getint(sec, "threshold") < 1) {
			snprintf(err, errlen, "threshold: expected 1 or more "
			    "open sessions, or postfix");
			return -1;
		}
		c->threshold = (uint64_t)cfg_getint(sec, "threshold");
		return 0;
	}
	cond_key = "percent";
	if (cfg_getint(sec, "percent") < 1 || cfg_getint(sec, "percent") >
	    1000) {
		snprintf(err, errlen, "percent %ld: expected 1 to 1000",
		    cfg_getint(sec, "percent"));
		return -1;
	}
	cond_key = "postfix";
	if (cond_postfix_limit(cfg_getstr(sec, "postfix"), &limit, err,
	    errlen) == -1)
		return -1;
	c->threshold = limit * (uint64_t)cfg_getint(sec, "percent") / 100;
	return 0;
}

/* zones, and a timeout for their answers. */
static int
dnsbl_zones(cfg_t *sec, struct cond *c, char *err, size_t errlen)
{
	unsigned int	i;

	cond_key = "zones";
	if ((c->nzones = cfg_size(sec, "zones")) == 0) {
		snprintf(err, errlen, "no zones");
		return -1;
	}
	if ((c->zones = calloc(c->nzones, sizeof(*c->zones))) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < c->nzones; i++)
		if (cond_dnsbl_zone(cfg_getnstr(sec, "zones", i),
		    &c->zones[i]) == -1 || strlen(c->zones[i].zone) >
		    DNSBL_NAME_MAX - 1 - 64) {
			snprintf(err, errlen, "zone \"%s\": expected a domain "
			    "of at most 191 characters, or domain=a.b.c.d (each "
			    "a number, [n..m] or [n;m])", cfg_getnstr(sec,
			    "zones", i));
			return -1;
		}
	cond_key = "timeout";
	c->timeout = (int)cfg_getint(sec, "timeout");
	if (c->timeout < 1 || c->timeout > 60) {
		snprintf(err, errlen, "timeout %d: expected 1 to 60 seconds",
		    c->timeout);
		return -1;
	}
	return 0;
}

/* The script, read now (workers may be chrooted), and its limits. */
static int
lua_script(cfg_t *sec, struct cond *c, char *err, size_t errlen)
{
	FILE		*fp;
	long		 limit;
	unsigned int	 i;

	cond_key = "script";
	if ((c->script = dup_opt(sec, "script")) == NULL) {
		snprintf(err, errlen, "no script");
		return -1;
	}
	c->args = dup_list(sec, "args", &c->nargs);
	c->macros = dup_list(sec, "macros", &c->nmacros);
	cond_key = "macros";
	for (i = 0; i < c->nmacros; i++)
		if (strpbrk(c->macros[i], " \t") != NULL ||
		    c->macros[i][0] == '\0') {
			snprintf(err, errlen, "macros \"%s\": expected a macro "
			    "name such as {auth_authen}", c->macros[i]);
			return -1;
		}
	cond_key = "time_limit";
	c->time_limit = (int)cfg_getint(sec, "time_limit");
	if (c->time_limit < 1 || c->time_limit > 60000) {
		snprintf(err, errlen, "time_limit %d: expected 1 to 60000 "
		    "milliseconds", c->time_limit);
		return -1;
	}
	cond_key = "memory_limit";
	limit = cfg_getint(sec, "memory_limit");
	if (limit < 65536 || limit > 1024L * 1024 * 1024) {
		snprintf(err, errlen, "memory_limit %ld: expected 65536 to "
		    "1073741824 bytes", limit);
		return -1;
	}
	c->memory_limit = (size_t)limit;
	cond_key = "script";
	if ((fp = fopen(c->script, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", c->script, strerror(errno));
		return -1;
	}
	c->code = read_stream(fp, &c->codelen);
	fclose(fp);
	if (c->code == NULL) {
		snprintf(err, errlen, "%s: %s", c->script, strerror(errno));
		return -1;
	}
	return luacond_check(c, err, errlen);
}

/* A string in double quotes, read back as it is. */
static void
print_quoted(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++)
		if (*s == '\n')
			fputs("\\n", fp);
		else if (*s == '\t')
			fputs("\\t", fp);
		else {
			/* \$: no ${VAR} where the value had one. */
			if (*s == '"' || *s == '\\' || *s == '$')
				fputc('\\', fp);
			fputc(*s, fp);
		}
	fputc('"', fp);
}

/*
 * The keys of a section the file set, one a line in the file's syntax
 * (show config prints them; libconfuse's cfg_print() prints every key
 * there is, set or not).
 */
static void
print_set(cfg_t *sec, FILE *fp)
{
	cfg_opt_t	*opt;
	unsigned int	 i;

	for (opt = sec->opts; opt->name != NULL; opt++) {
		if (!(opt->flags & CFGF_MODIFIED) || opt->type == CFGT_SEC)
			continue;
		fprintf(fp, "\t%s = %s", opt->name, opt->flags & CFGF_LIST ?
		    "{" : "");
		for (i = 0; i < cfg_opt_size(opt); i++) {
			fputs(opt->flags & CFGF_LIST ? (i > 0 ? ", " : " ") :
			    "", fp);
			if (opt->type == CFGT_INT)
				fprintf(fp, "%ld", cfg_opt_getnint(opt, i));
			else if (opt->type == CFGT_BOOL)
				fputs(cfg_opt_getnbool(opt, i) ? "true" :
				    "false", fp);
			else
				print_quoted(fp, cfg_opt_getnstr(opt, i));
		}
		fputs(opt->flags & CFGF_LIST ? " }\n" : "\n", fp);
	}
}

/* A condition section into c (cond_free() it, whatever the result). */
static int
build_cond(cfg_t *sec, struct cond *c, char *err, size_t errlen)
{
	char		 msg[128];
	unsigned int	 i;
	int		 rc;

	FILE		*fp;
	size_t		 len;

	memset(c, 0, sizeof(*c));
	if ((c->name = strdup(cfg_title(sec))) == NULL ||
	    (fp = open_memstream(&c->source, &len)) == NULL)
		fatal("%s: strdup", __func__);
	print_set(sec, fp);
	if (fclose(fp) != 0)
		fatal("%s: cfg_print", __func__);
	cond_key = "type";
	if (cfg_size(sec, "type") == 0 || cond_type_parse(cfg_getstr(sec,
	    "type"), &c->type) == -1) {
		snprintf(err, errlen, "type: expected network, authenticated, "
		    "s25r, sender, recipient, macro, stress, dnsbl, lua, size, "
		    "header, verdict, table, any or all");
		return -1;
	}
	c->stages = cond_default_stages(c->type);
	switch (c->type) {
	case COND_NETWORK:
		cond_key = "networks";
		if (cfg_size(sec, "networks") == 0) {
			snprintf(err, errlen, "no networks");
			return -1;
		}
		for (i = 0; i < cfg_size(sec, "networks"); i++)
			if (cond_add_nets(c, cfg_getnstr(sec, "networks", i),
			    err, errlen) == -1)
				return -1;
		return 0;
	case COND_S25R:
		c->ipv6_dynamic = cfg_getbool(sec, "ipv6");
		if (compile_list(sec, "allow", &c->allow, &c->nallow, err,
		    errlen) == -1)
			return -1;
		return compile_list(sec, "deny", &c->deny, &c->ndeny, err,
		    errlen);
	case COND_SENDER:
	case COND_RECIPIENT:
		cond_key = "list";
		c->list = dup_list(sec, "list", &c->nlist);
		for (i = 0; i < c->nlist; i++)
			if (strchr(c->list[i], '@') == NULL) {
				snprintf(err, errlen, "list \"%s\": expected "
				    "@domain, user@ or user@domain", c->list[i]);
				return -1;
			}
		c->file = dup_opt(sec, "file");
		cond_key = "file";
		if (c->nlist == 0 && c->file == NULL) {
			snprintf(err, errlen, "no list and no file");
			return -1;
		}
		return cond_load_list(c, err, errlen);
	case COND_MACRO:
		cond_key = NULL;
		if (cfg_size(sec, "macro") == 0 || cfg_size(sec, "regex") ==
		    0) {
			snprintf(err, errlen, "macro and regex are needed");
			return -1;
		}
		c->macro = dup_opt(sec, "macro");
		cond_key = "regex";
		if ((rc = regcomp(&c->re, cfg_getstr(sec, "regex"),
		    REG_EXTENDED | REG_NOSUB)) != 0) {
			regerror(rc, &c->re, msg, sizeof(msg));
			snprintf(err, errlen, "regex \"%s\": %s",
			    cfg_getstr(sec, "regex"), msg);
			return -1;
		}
		c->has_re = 1;
		return 0;
	case COND_STRESS:
		return stress_threshold(sec, c, err, errlen);
	case COND_DNSBL:
		return dnsbl_zones(sec, c, err, errlen);
	case COND_LUA:
		return lua_script(sec, c, err, errlen);
	case COND_SIZE:
		return size_bounds(sec, c, err, errlen);
	case COND_HEADER:
		return header_match(sec, c, err, errlen);
	case COND_VERDICT:
		return verdict_is(sec, c, err, errlen);
	case COND_TABLE:
		return table_cond(sec, c, err, errlen);
	case COND_ANY:
	case COND_ALL:
		return group_cond(sec, c, err, errlen);
	case COND_AUTHENTICATED:
		return 0;
	}
	return 0;
}

/* size: over and/or under, bytes; the range between them holds. */
static int
size_bounds(cfg_t *sec, struct cond *c, char *err, size_t errlen)
{
	long	over, under;

	c->size_min = 0;
	c->size_max = UINT64_MAX;
	cond_key = NULL;
	if (cfg_size(sec, "over") == 0 && cfg_size(sec, "under") == 0) {
		snprintf(err, errlen, "over or under is needed (bytes)");
		return -1;
	}
	cond_key = "over";
	if (cfg_size(sec, "over") > 0) {
		if ((over = cfg_getint(sec, "over")) < 0) {
			snprintf(err, errlen, "over %ld: expected 0 or more "
			    "bytes", over);
			return -1;
		}
		c->size_min = (uint64_t)over + 1;
	}
	cond_key = "under";
	if (cfg_size(sec, "under") > 0) {
		if ((under = cfg_getint(sec, "under")) < 1) {
			snprintf(err, errlen, "under %ld: expected 1 or more "
			    "bytes", under);
			return -1;
		}
		c->size_max = (uint64_t)under - 1;
	}
	if (c->size_min > c->size_max) {
		snprintf(err, errlen, "under %ld: no size is over %ld and "
		    "under it", cfg_getint(sec, "under"),
		    cfg_getint(sec, "over"));
		return -1;
	}
	return 0;
}

/*
 * header: name, and match, a POSIX extended regex (as macro's regex
 * and s25r's lists: the other conditions' kind, in libc), on each
 * value of that header in the copy.
 */
static int
header_match(cfg_t *sec, struct cond *c, char *err, size_t errlen)
{
	char	msg[128];
	int	rc;

	cond_key = "name";
	if ((c->header = dup_opt(sec, "name")) == NULL || c->header[0] ==
	    '\0' || strpbrk(c->header, ": \t") != NULL) {
		snprintf(err, errlen, "name: expected a header name such as "
		    "X-Spam-Flag");
		return -1;
	}
	cond_key = "match";
	if (cfg_size(sec, "match") == 0) {
		snprintf(err, errlen, "match: expected a regular expression "
		    "for the header's value, such as \"^YES\"");
		return -1;
	}
	if ((rc = regcomp(&c->re, cfg_getstr(sec, "match"), REG_EXTENDED |
	    REG_NOSUB)) != 0) {
		regerror(rc, &c->re, msg, sizeof(msg));
		snprintf(err, errlen, "match \"%s\": %s",
		    cfg_getstr(sec, "match"), msg);
		return -1;
	}
	c->has_re = 1;
	return 0;
}

/* verdict: child (checked once all milters are known) and is. */
static int
verdict_is(cfg_t *sec, struct cond *c, char *err, size_t errlen)
{
	enum cond_verdict	v;
	unsigned int		i;

	cond_key = "child";
	if ((c->child = dup_opt(sec, "child")) == NULL) {
		snprintf(err, errlen, "child: expected the name of a milter "
		    "before the ones this condition is for");
		return -1;
	}
	cond_key = "is";
	if (cfg_size(sec, "is") == 0) {
		snprintf(err, errlen, "is: expected a list of accept, reject, "
		    "tempfail, discard, quarantine, modified");
		return -1;
	}
	for (i = 0; i < cfg_size(sec, "is"); i++) {
		if (cond_verdict_parse(cfg_getnstr(sec, "is", i), &v) == -1) {
			snprintf(err, errlen, "is \"%s\": expected accept, "
			    "reject, tempfail, discard, quarantine or modified",
			    cfg_getnstr(sec, "is", i));
			return -1;
		}
		c->verdicts |= 1U << v;
	}
	return 0;
}

/*
 * map = "TYPE:PATH", read now (table.c: the checks of a file the root
 * master reads); key = sender | recipient | client; values.
 */
static int
table_cond(cfg_t *sec, struct cond *c, char *err, size_t errlen)
{
	cond_key = "key";
	if (cfg_size(sec, "key") == 0 || table_key_parse(cfg_getstr(sec,
	    "key"), &c->key) == -1) {
		snprintf(err, errlen, "key: expected sender, recipient or "
		    "client");
		return -1;
	}
	c->stages = cond_at(c->key == TABLE_CLIENT ? SMFIC_CONNECT :
	    c->key == TABLE_SENDER ? SMFIC_MAIL : SMFIC_RCPT);
	cond_key = "values";
	if ((c->values = dup_list(sec, "values", &c->nvalues)) == NULL) {
		snprintf(err, errlen, "values: at least one result, such as "
		    "OK");
		return -1;
	}
	cond_key = "map";
	if (cfg_size(sec, "map") == 0) {
		snprintf(err, errlen, "no map: expected map = \"TYPE:PATH\"");
		return -1;
	}
	if ((c->table = table_open(cfg_getstr(sec, "map"), err, errlen)) ==
	    NULL)
		return -1;
	if (table_type(c->table) == MAP_CIDR && c->key != TABLE_CLIENT) {
		snprintf(err, errlen, "a cidr table matches addresses of "
		    "clients only: use key = \"client\"");
		return -1;
	}
	return 0;
}

/* of = { "[!]name", ... }: the names, checked after the file. */
static int
group_cond(cfg_t *sec, struct cond *c, char *err, size_t errlen)
{
	size_t	i;

	cond_key = "of";
	if ((c->of = dup_list(sec, "of", &c->nof)) == NULL) {
		snprintf(err, errlen, "no of: expected of = { \"name\", "
		    "\"!name\", ... }");
		return -1;
	}
	for (i = 0; i < c->nof; i++)
		if (c->of[i][c->of[i][0] == '!'] == '\0') {
			snprintf(err, errlen, "of \"%s\": expected a "
			    "condition's name, or ! and a name", c->of[i]);
			return -1;
		}
	return 0;
}

/* A condition section, when closed: it must build. */
static int
v_condition(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t		*sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	struct cond	 c;
	char		 err[512];
	int		 line = 0;

	if (build_cond(sec, &c, err, sizeof(err)) == -1) {
		/* On the key's line; a missing key: the section's end. */
		if (cond_key != NULL)
			line = key_line("condition", cfg_title(sec), cond_key);
		conf_report(line > 0 ? line : cfg->line, "condition \"%s\": %s",
		    cfg_title(sec), err);
	}
	cond_free(&c);
	return 0;
}

static int
cond_index(cfg_t *cfg, const char *name)
{
	unsigned int	i;

	for (i = 0; i < cfg_size(cfg, "condition"); i++)
		if (strcmp(cfg_title(cfg_getnsec(cfg, "condition", i)),
		    name) == 0)
			return (int)i;
	return -1;
}

static void
convert_refs(cfg_t *cfg, cfg_t *sec, struct milter_conf *mc)
{
	const char	*ref;
	unsigned int	 j;

	mc->nconds = cfg_size(sec, "conditions");
	if (mc->nconds > 0 && (mc->conds = calloc(mc->nconds,
	    sizeof(*mc->conds))) == NULL)
		fatal("%s: calloc", __func__);
	for (j = 0; j < mc->nconds; j++) {
		ref = cfg_getnstr(sec, "conditions", j);
		mc->conds[j].negate = ref[0] == '!';
		mc->conds[j].idx = (size_t)cond_index(cfg, ref +
		    mc->conds[j].negate);
	}
}

/*
 * After the whole file: each group's members exist, and no group holds
 * itself, directly or through others.
 */
static void
check_groups(cfg_t *cfg)
{
	cfg_t		*sec;
	const char	*ref;
	char		 path[512];
	unsigned int	 i, j;
	int		 line;

	for (i = 0; i < cfg_size(cfg, "condition"); i++) {
		sec = cfg_getnsec(cfg, "condition", i);
		line = key_line("condition", cfg_title(sec), "of");
		if (line == 0)
			line = sec->line;
		for (j = 0; j < cfg_size(sec, "of"); j++) {
			ref = cfg_getnstr(sec, "of", j);
			/* An empty name: build_cond() said so. */
			if (ref[ref[0] == '!'] != '\0' &&
			    cond_index(cfg, ref + (ref[0] == '!')) == -1)
				conf_report(line, "condition \"%s\": of: no "
				    "condition \"%s\"", cfg_title(sec), ref);
		}
		snprintf(path, sizeof(path), "%s", cfg_title(sec));
		if (group_cycle(cfg, cfg_title(sec), i, path, sizeof(path), 0))
			conf_report(line, "condition \"%s\": a cycle of "
			    "groups: %s; a group cannot hold itself",
			    cfg_title(sec), path);
	}
}

/*
 * Does a path of of members lead from condition i back to first?  The
 * path so far in path ("a -> b -> a" once found); depth-first, never
 * deeper than the conditions there are.
 */
static int
group_cycle(cfg_t *cfg, const char *first, unsigned int i, char *path,
    size_t len, unsigned int depth)
{
	cfg_t		*sec = cfg_getnsec(cfg, "condition", i);
	const char	*ref;
	size_t		 at = strlen(path);
	unsigned int	 j;
	int		 k;

	if (depth > cfg_size(cfg, "condition"))
		return 0;
	for (j = 0; j < cfg_size(sec, "of"); j++) {
		ref = cfg_getnstr(sec, "of", j);
		ref += ref[0] == '!';
		if ((k = cond_index(cfg, ref)) == -1)
			continue;
		snprintf(path + at, len - at, " -> %s", ref);
		if (strcmp(ref, first) == 0 || group_cycle(cfg, first,
		    (unsigned int)k, path, len, depth + 1))
			return 1;
		path[at] = '\0';
	}
	return 0;
}

/* After the whole file: every milter's conditions exist. */
static void
check_cond_refs(cfg_t *cfg)
{
	cfg_t		*sec;
	const char	*ref;
	unsigned int	 i, j;
	int		 line;

	for (i = 0; i < cfg_size(cfg, "milter"); i++) {
		sec = cfg_getnsec(cfg, "milter", i);
		for (j = 0; j < cfg_size(sec, "conditions"); j++) {
			ref = cfg_getnstr(sec, "conditions", j);
			if (cond_index(cfg, ref + (ref[0] == '!')) != -1)
				continue;
			line = key_line("milter", cfg_title(sec), "conditions");
			conf_report(line > 0 ? line : sec->line, "milter \"%s\": "
			    "no condition \"%s\"", cfg_title(sec), ref);
		}
	}
}

/*
 * After the whole file: a verdict condition's child is a milter, and
 * one before each milter the condition is for (a later child has not
 * looked at the message when the condition is decided).
 */
static void
check_verdict_refs(cfg_t *cfg)
{
	cfg_t		*sec, *cond;
	const char	*ref, *child;
	unsigned int	 i, j, k;
	int		 idx, line;

	for (k = 0; k < cfg_size(cfg, "condition"); k++) {
		cond = cfg_getnsec(cfg, "condition", k);
		if (cfg_size(cond, "type") == 0 || strcmp(cfg_getstr(cond,
		    "type"), "verdict") != 0 || cfg_size(cond, "child") == 0)
			continue;
		child = cfg_getstr(cond, "child");
		if (cfg_gettsec(cfg, "milter", child) != NULL)
			continue;
		line = key_line("condition", cfg_title(cond), "child");
		conf_report(line > 0 ? line : cond->line, "condition \"%s\": "
		    "child \"%s\": no milter of that name", cfg_title(cond),
		    child);
	}
	for (i = 0; i < cfg_size(cfg, "milter"); i++) {
		sec = cfg_getnsec(cfg, "milter", i);
		for (j = 0; j < cfg_size(sec, "conditions"); j++) {
			ref = cfg_getnstr(sec, "conditions", j);
			if ((idx = cond_index(cfg, ref + (ref[0] == '!'))) ==
			    -1)
				continue;
			cond = cfg_getnsec(cfg, "condition", (unsigned int)idx);
			if (cfg_size(cond, "type") == 0 || strcmp(cfg_getstr(
			    cond, "type"), "verdict") != 0 ||
			    cfg_size(cond, "child") == 0)
				continue;
			child = cfg_getstr(cond, "child");
			for (k = 0; k < i && strcmp(cfg_title(cfg_getnsec(cfg,
			    "milter", k)), child) != 0; k++)
				;
			if (k < i || cfg_gettsec(cfg, "milter", child) == NULL)
				continue;
			if ((line = key_line("milter", cfg_title(sec),
			    "conditions")) <= 0)
				line = sec->line;
			conf_report(line, "milter \"%s\": condition \"%s\" "
			    "looks at child \"%s\", which does not come before "
			    "it in the chain: define milter \"%s\" first",
			    cfg_title(sec), ref, child, child);
		}
	}
}

/* The macros milterd derives, sent when macros_add names them. */
static int
macro_derived(const char *name)
{
	return strcmp(name, "{milterd_stress}") == 0 ||
	    strcmp(name, "{milterd_conditions}") == 0;
}

/*
 * macros_add: "{name}=value" (a one-letter name may go without the
 * braces), or a derived macro's name alone.
 */
static int
v_macros_add(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*e, *eq;
	size_t		 n, i;

	for (i = 0; i < cfg_opt_size(opt); i++) {
		e = cfg_opt_getnstr(opt, (unsigned int)i);
		n = (eq = strchr(e, '=')) != NULL ? (size_t)(eq - e) :
		    strlen(e);
		if (eq == NULL && macro_derived(e))
			continue;
		if (eq == NULL)
			cfg_error(cfg, "macros_add \"%s\": expected "
			    "\"{name}=value\", {milterd_stress} or "
			    "{milterd_conditions}", e);
		else if (!((n == 1 && isalnum((unsigned char)e[0])) ||
		    (n > 2 && e[0] == '{' && e[n - 1] == '}' &&
		    strcspn(e + 1, "{} \t=") == n - 2)))
			cfg_error(cfg, "macros_add \"%s\": expected a macro "
			    "name such as {name} before =", e);
		else if (strncmp(e, "{milterd_", 9) == 0)
			cfg_error(cfg, "macros_add \"%s\": {milterd_...} "
			    "names are milterd's own: choose another name, or "
			    "name {milterd_stress} or {milterd_conditions} "
			    "without a value", e);
		else if (strpbrk(eq, "\r\n") != NULL)
			cfg_error(cfg, "macros_add \"%s\": a value is one "
			    "line", e);
	}
	return 0;
}

/*
 * A milter's macros_add: the global ones, then its own; its own
 * replace a global one of the same name.
 */
static void
merge_macros(cfg_t *cfg, cfg_t *sec, struct milter_conf *mc)
{
	size_t		 ng, nown, i, j, n;
	char		**all, **own;

	all = dup_list(cfg, "macros_add", &ng);
	own = dup_list(sec, "macros_add", &nown);
	if (ng + nown == 0)
		return;
	if ((all = reallocarray(all, ng + nown, sizeof(*all))) == NULL)
		fatal("%s: reallocarray", __func__);
	for (i = 0; i < nown; i++) {
		n = strcspn(own[i], "=");
		for (j = 0; j < ng; j++)
			if (all[j] != NULL && strcspn(all[j], "=") == n &&
			    strncmp(all[j], own[i], n) == 0) {
				free(all[j]);
				all[j] = NULL;
			}
		all[ng + i] = own[i];
	}
	free(own);
	for (i = j = 0; i < ng + nown; i++)
		if (all[i] != NULL)
			all[j++] = all[i];
	mc->macros_add = all;
	mc->nmacros_add = j;
}

static char *
dup_opt(cfg_t *cfg, const char *name)
{
	char	*s;

	if (cfg_size(cfg, name) == 0)
		return NULL;
	if ((s = strdup(cfg_getstr(cfg, name))) == NULL)
		fatal("%s: strdup", __func__);
	return s;
}

/* A list option's strings, copied; NULL when empty. */
static char **
dup_list(cfg_t *cfg, const char *name, size_t *n)
{
	char	**l;
	size_t	  i;

	if ((*n = cfg_size(cfg, name)) == 0)
		return NULL;
	if ((l = calloc(*n, sizeof(*l))) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < *n; i++)
		if ((l[i] = strdup(cfg_getnstr(cfg, name, (unsigned int)i))) ==
		    NULL)
			fatal("%s: strdup", __func__);
	return l;
}

static int
convert_milter(cfg_t *sec, struct milter_conf *mc)
{
	char	err[256];
	int	rc;

	if ((mc->name = strdup(cfg_title(sec))) == NULL)
		fatal("%s: strdup", __func__);
	for (mc->nsock = 0; mc->nsock < cfg_size(sec, "socket") &&
	    mc->nsock < CONF_MAX_ADDRS; mc->nsock++) {
		rc = sockspec_parse_name(cfg_getnstr(sec, "socket",
		    mc->nsock), &mc->sock[mc->nsock], err, sizeof(err));
		if (rc == -1)
			return -1;
		if (rc == 1)
			log_warnx_to(conf_errfp, "warning: milter \"%s\": "
			    "socket %s; resolved again when connecting",
			    mc->name, err);
	}
	mc->balance = choice("balance", cfg_getstr(sec, "balance")) == 1 ?
	    BALANCE_ROUND_ROBIN : BALANCE_FAILOVER;
	mc->failures_to_down = (int)cfg_getint(sec, "failures_to_down");
	mc->down_time = (int)cfg_getint(sec, "down_time");
	mc->command = dup_opt(sec, "command");
	mc->user = dup_opt(sec, "user");
	mc->launchable = mc->command != NULL;
	mc->enabled = cfg_getbool(sec, "enabled");
	mc->evaluation = cfg_getbool(sec, "evaluation");
	mc->evaluation_sample = (int)cfg_getint(sec, "evaluation_sample");
	mc->evaluation_wait = cfg_getbool(sec, "evaluation_wait");
	(void)parse_fallback(cfg_getstr(sec, "fallback"), &mc->fallback);
	mc->connect_timeout = (int)cfg_getint(sec, "connect_timeout");
	mc->command_timeout = (int)cfg_getint(sec, "command_timeout");
	mc->eom_timeout = (int)cfg_getint(sec, "eom_timeout");
	mc->all_recipients = choice("recipients", cfg_getstr(sec,
	    "recipients")) == 1;
	mc->skip_on_error = choice("condition_error", cfg_getstr(sec,
	    "condition_error")) == 1;
	mc->macros_compat = cfg_getbool(sec, "macros_compat");
	mc->reuse = cfg_getbool(sec, "reuse_connections");
	return 0;
}

static int
convert(cfg_t *cfg, struct conf *c)
{
	char		 err[256];
	unsigned int	 i;

	c->nlisten = cfg_size(cfg, "listen");
	for (i = 0; i < c->nlisten; i++)
		if (sockspec_parse(cfg_getnstr(cfg, "listen", i),
		    &c->listen[i], err, sizeof(err)) == -1)
			return -1;
	c->socket_mode = (mode_t)strtol(cfg_getstr(cfg, "socket_mode"),
	    NULL, 8);
	c->socket_group = dup_opt(cfg, "socket_group");
	c->user = dup_opt(cfg, "user");
	c->group = dup_opt(cfg, "group");
	c->chroot = dup_opt(cfg, "chroot");
	c->workers = (int)cfg_getint(cfg, "workers");
	c->max_sessions_per_worker = (int)cfg_getint(cfg,
	    "max_sessions_per_worker");
	c->grace_time = (int)cfg_getint(cfg, "grace_time");
	c->lua_threads = (int)cfg_getint(cfg, "lua_threads");
	c->lua_queue = (int)cfg_getint(cfg, "lua_queue");
	c->allow_root_command = cfg_getbool(cfg, "allow_root_command");
	c->launch_wait = (int)cfg_getint(cfg, "launch_wait");
	c->pidfile = dup_opt(cfg, "pidfile");
	c->control = dup_opt(cfg, "control");
	c->control_mode = (mode_t)strtol(cfg_getstr(cfg, "control_mode"),
	    NULL, 8);
	c->metrics = cfg_getstr(cfg, "metrics_listen")[0] != '\0';
	if (c->metrics && metrics_spec(cfg_getstr(cfg, "metrics_listen"),
	    &c->metrics_listen, err, sizeof(err)) == -1)
		return -1;
	c->state_file = dup_opt(cfg, "state_file");
	c->history_hours = (int)cfg_getint(cfg, "history_hours");
	(void)parse_fallback(cfg_getstr(cfg, "fallback"), &c->fallback);
	c->dispatch = choice("dispatch", cfg_getstr(cfg, "dispatch")) == 1 ?
	    DISPATCH_PARALLEL : DISPATCH_SEQUENTIAL;
	c->mta = choice("mta", cfg_getstr(cfg, "mta"));
	c->log_facility = log_facility_code(cfg_getstr(cfg, "log_facility"));
	c->log_level = log_level_code(cfg_getstr(cfg, "log_level"));
	c->log_format = choice("log_format", cfg_getstr(cfg, "log_format")) ==
	    1 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT;
	c->body_memory_limit = (size_t)cfg_getint(cfg, "body_memory_limit");
	c->spool_dir = dup_opt(cfg, "spool_dir");
	c->progress_interval = (int)cfg_getint(cfg, "progress_interval");
	c->max_headers = (size_t)cfg_getint(cfg, "max_headers");
	c->max_header_bytes = (size_t)cfg_getint(cfg, "max_header_bytes");
	c->max_recipients = (size_t)cfg_getint(cfg, "max_recipients");
	c->max_sessions = (int)cfg_getint(cfg, "max_sessions");
	c->mta_timeout = (int)cfg_getint(cfg, "mta_timeout");
	c->evaluation_seed = (uint32_t)cfg_getint(cfg, "evaluation_seed");
	c->evaluation_memory_limit = (size_t)cfg_getint(cfg,
	    "evaluation_memory_limit");
	c->detect = cfg_getbool(cfg, "detect");
	c->detect_root = dup_opt(cfg, "detect_root");
	c->disconnect_check = cfg_getbool(cfg, "disconnect_check");
	c->disconnect_check_after = (int)cfg_getint(cfg,
	    "disconnect_check_after");
	c->disconnect_check_interval = (int)cfg_getint(cfg,
	    "disconnect_check_interval");
	(void)parse_fallback(cfg_getstr(cfg, "fallback_on_disconnect"),
	    &c->fallback_on_disconnect);
	c->dns_servers = dup_list(cfg, "dns_servers", &c->ndns_servers);
	c->nconds = cfg_size(cfg, "condition");
	if (c->nconds > 0 && (c->conds = calloc(c->nconds,
	    sizeof(*c->conds))) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < c->nconds; i++)
		/* Validated; a list file may have changed since. */
		if (build_cond(cfg_getnsec(cfg, "condition", i), &c->conds[i],
		    err, sizeof(err)) == -1) {
			log_warnx_to(conf_errfp, "%s: condition \"%s\": %s",
			    c->path, c->conds[i].name, err);
			return -1;
		}
	if (cond_resolve_groups(c->conds, c->nconds, err, sizeof(err)) ==
	    -1) {
		log_warnx_to(conf_errfp, "%s: %s", c->path, err);
		return -1;
	}
	cond_group_stages(c->conds, c->nconds);
	c->nmilters = cfg_size(cfg, "milter");
	if (c->nmilters > 0 && (c->milters = calloc(c->nmilters,
	    sizeof(*c->milters))) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < c->nmilters; i++) {
		if (convert_milter(cfg_getnsec(cfg, "milter", i),
		    &c->milters[i]) == -1)
			return -1;
		merge_macros(cfg, cfg_getnsec(cfg, "milter", i),
		    &c->milters[i]);
	}
	for (i = 0; i < c->nmilters; i++)
		convert_refs(cfg, cfg_getnsec(cfg, "milter", i),
		    &c->milters[i]);
	return 0;
}

/*
 * With detect: the milters found on the host, after the configured
 * ones, unless one of those has the name.  What detection warns of is
 * no error.
 */
static void
add_detected(struct conf *c, FILE *errfp)
{
	struct detected		*d;
	struct milter_conf	*mc;
	char			 err[256];
	size_t			 n, i;

	if (detect_run(c->detect_root, &d, &n, errfp) == -1)
		fatal("%s: detect_run", __func__);
	for (i = 0; i < n; i++) {
		if (conf_milter(c, d[i].name) != NULL)
			continue;
		if (!name_ok(d[i].name)) {
			log_warnx_to(errfp, "detect: milter %s: not a usable name "
			    "(see milterd.conf(5))", d[i].name);
			continue;
		}
		if (c->nmilters == CONF_MAX_MILTERS) {
			log_warnx_to(errfp, "detect: milter %s: more than %d "
			    "milters, not added", d[i].name, CONF_MAX_MILTERS);
			continue;
		}
		if ((mc = reallocarray(c->milters, c->nmilters + 1,
		    sizeof(*mc))) == NULL)
			fatal("%s: reallocarray", __func__);
		c->milters = mc;
		mc = &c->milters[c->nmilters];
		memset(mc, 0, sizeof(*mc));
		if (sockspec_parse(d[i].socket, &mc->sock[0], err,
		    sizeof(err)) == -1) {
			log_warnx_to(errfp, "detect: milter %s: %s", d[i].name,
			    err);
			continue;
		}
		if ((mc->name = strdup(d[i].name)) == NULL ||
		    asprintf(&mc->detected, "%s; socket: %s",
		    d[i].service_note, d[i].socket_note) == -1)
			fatal("%s: strdup", __func__);
		/*
		 * The service manager's command runs as root: without
		 * allow_root_command the launcher would refuse every launch.
		 */
		if (c->allow_root_command && ((mc->command =
		    strdup(d[i].command)) == NULL || (mc->user =
		    strdup("root")) == NULL))
			fatal("%s: strdup", __func__);
		mc->launchable = mc->command != NULL;
		mc->enabled = 1;
		mc->evaluation_sample = 100;
		mc->evaluation_wait = 1;
		mc->fallback = FALLBACK_TEMPFAIL;
		mc->nsock = 1;
		mc->connect_timeout = mc->command_timeout = 10;
		mc->eom_timeout = EOM_TIMEOUT;
		mc->failures_to_down = 3;
		mc->down_time = 10;
		c->nmilters++;
	}
	free(d);
}

/*
 * Every number and boolean of o and its sections gets a parser that
 * reports a bad value and lets the parse go on (libconfuse's own ends
 * it); listen and dns_servers one that checks each value on its line.
 */
static void
set_parsers(cfg_opt_t *o)
{
	size_t	i;

	for (i = 0; o[i].name != NULL; i++) {
		if (o[i].type == CFGT_SEC)
			set_parsers(o[i].subopts);
		else if (o[i].type == CFGT_INT)
			o[i].parsecb = p_int;
		else if (o[i].type == CFGT_BOOL)
			o[i].parsecb = p_bool;
		else if (strcmp(o[i].name, "listen") == 0 ||
		    strcmp(o[i].name, "socket") == 0)
			o[i].parsecb = p_sockspec;
		else if (strcmp(o[i].name, "dns_servers") == 0)
			o[i].parsecb = p_dns_server;
	}
}

/*
 * Parse path into cfg: its copy with the comments blanked (see
 * scan_file()).  CFG_FILE_ERROR when it cannot be read, said why.
 */
/* A pattern of include, on line of the main file. */
static void
include_add(const char *pattern, int line)
{
	struct conf_include	*i;

	if ((i = reallocarray(conf_incs, conf_nincs + 1, sizeof(*i))) ==
	    NULL || (i[conf_nincs].pattern = strdup(pattern)) == NULL)
		fatal("%s: reallocarray", __func__);
	conf_incs = i;
	i[conf_nincs++].line = line;
}

/*
 * A file of the load, scanned with its lines from base + 1, its text
 * (*len bytes) to be parsed; NULL when it cannot be read, said on line.
 */
static char *
read_file(const char *path, int line, int base, size_t *len)
{
	struct conf_file	*f;
	struct scan		 s;
	FILE			*fp;

	memset(&s, 0, sizeof(s));
	if ((fp = fopen(path, "r")) == NULL ||
	    (s.buf = read_stream(fp, len)) == NULL) {
		/* A directory opens, and fails at the first read. */
		if (conf_nfiles == 0)
			conf_report(line, "cannot read the configuration: %s",
			    strerror(errno));
		else
			conf_report(line, "include: cannot read %s: %s", path,
			    strerror(errno));
		if (fp != NULL)
			fclose(fp);
		return NULL;
	}
	fclose(fp);
	if ((f = reallocarray(conf_files, conf_nfiles + 1, sizeof(*f))) ==
	    NULL || (f[conf_nfiles].path = strdup(path)) == NULL)
		fatal("%s: reallocarray", __func__);
	conf_files = f;
	f[conf_nfiles].base = base;
	s.included = conf_nfiles++ > 0;
	s.base = base;
	scan_file(&s);
	if (strlen(s.buf) != *len)
		conf_report(s.line, "a NUL byte: this is not a text file");
	return s.buf;
}

/*
 * The files include names, in the order of its patterns and each
 * pattern's matches in name order, each once, appended to *text (*len
 * bytes, lines to line): one text for the parser.  A pattern relative
 * to the main file's directory.  A pattern that matches nothing reads
 * nothing (a conf.d that no package filled yet); a file named without
 * a wildcard must exist.  -1: an error, said.
 */
static int
read_includes(const char *path, char **text, size_t *len, int line)
{
	glob_t	 g;
	char	 pat[PATH_MAX], *buf, *t;
	size_t	 i, j, k, n;
	int	 rc, ret = 0;

	for (i = 0; i < conf_nincs; i++) {
		if (conf_incs[i].pattern[0] == '/' ||
		    strrchr(path, '/') == NULL)
			rc = snprintf(pat, sizeof(pat), "%s",
			    conf_incs[i].pattern);
		else
			rc = snprintf(pat, sizeof(pat), "%.*s/%s",
			    (int)(strrchr(path, '/') - path), path,
			    conf_incs[i].pattern);
		if (rc < 0 || (size_t)rc >= sizeof(pat)) {
			conf_report(conf_incs[i].line, "include \"%s\": the "
			    "path is too long", conf_incs[i].pattern);
			ret = -1;
			continue;
		}
		rc = glob(pat, GLOB_ERR, NULL, &g);
		if (rc == GLOB_NOMATCH && strpbrk(pat, "*?[") != NULL)
			continue;
		if (rc != 0) {
			conf_report(conf_incs[i].line, "include \"%s\": %s",
			    pat, rc == GLOB_NOMATCH ? "no such file (a "
			    "pattern such as *.conf may match none)" :
			    "cannot read the directory");
			ret = -1;
			if (rc != GLOB_NOMATCH)
				globfree(&g);
			continue;
		}
		for (j = 0; j < g.gl_pathc; j++) {
			for (k = 0; k < conf_nfiles; k++)
				if (strcmp(conf_files[k].path,
				    g.gl_pathv[j]) == 0)
					break;
			if (k < conf_nfiles)
				continue;
			if ((buf = read_file(g.gl_pathv[j], conf_incs[i].line,
			    line, &n)) == NULL) {
				ret = -1;
				continue;
			}
			/* A newline between: each file's lines its own. */
			if ((t = realloc(*text, *len + 1 + n + 1)) == NULL)
				fatal("%s: realloc", __func__);
			t[(*len)++] = '\n';
			memcpy(t + *len, buf, n + 1);
			*len += n;
			*text = t;
			for (k = 0; k < n; k++)
				line += buf[k] == '\n';
			line++;
			free(buf);
		}
		globfree(&g);
	}
	return ret;
}

static int
parse_file(cfg_t *cfg, const char *path)
{
	FILE	*fp;
	char	*text;
	size_t	 len, i;
	int	 rc, inc, line = 1;

	if ((text = read_file(path, 0, 0, &len)) == NULL)
		return CFG_FILE_ERROR;
	for (i = 0; i < len; i++)
		line += text[i] == '\n';
	/* A file that cannot be read: the others' errors are said too. */
	inc = read_includes(path, &text, &len, line);
	free(cfg->filename);
	if ((cfg->filename = strdup(path)) == NULL)
		fatal("%s: strdup", __func__);
	if (len == 0) {
		free(text);
		return inc == -1 ? CFG_FILE_ERROR : CFG_SUCCESS;
	}
	if ((fp = fmemopen(text, len, "r")) == NULL)
		fatal("%s: fmemopen", __func__);
	rc = cfg_parse_fp(cfg, fp);
	fclose(fp);
	free(text);
	return inc == -1 && rc == CFG_SUCCESS ? CFG_FILE_ERROR : rc;
}

/* The schema, its errors going to errfp (NULL: the log), counted. */
static cfg_t *
conf_init(FILE *errfp)
{
	cfg_t	*cfg;

	conf_errfp = errfp;
	conf_nerrors = 0;
	set_parsers(opts);
	if ((cfg = cfg_init(opts, CFGF_NONE)) == NULL)
		fatal("%s: cfg_init", __func__);
	cfg_set_error_function(cfg, conf_error);
	return cfg;
}

/*
 * Parse path; errors go to errfp (NULL: the log).  NULL on any error.
 */
struct conf *
conf_load(const char *path, FILE *errfp)
{
	static const struct {
		const char		*name;
		cfg_validate_callback_t	 fn;
	} validators[] = {
		{ "listen", v_listen },
		{ "socket_mode", v_mode },
		{ "control", v_control },
		{ "control_mode", v_mode },
		{ "metrics_listen", v_metrics },
		{ "history_hours", v_hours },
		{ "workers", v_nonneg },
		{ "max_sessions_per_worker", v_nonneg },
		{ "grace_time", v_positive },
		{ "lua_threads", v_threads },
		{ "lua_queue", v_bound },
		{ "launch_wait", v_positive },
		{ "fallback", v_fallback },
		{ "dispatch", v_choice },
		{ "body_memory_limit", v_nonneg },
		{ "progress_interval", v_positive },
		{ "max_headers", v_bound },
		{ "max_header_bytes", v_bound },
		{ "max_recipients", v_bound },
		{ "max_sessions", v_nonneg },
		{ "mta_timeout", v_positive },
		{ "evaluation_seed", v_seed },
		{ "evaluation_memory_limit", v_nonneg },
		{ "disconnect_check_after", v_nonneg },
		{ "disconnect_check_interval", v_positive },
		{ "fallback_on_disconnect", v_fallback },
		{ "user", v_user },
		{ "group", v_account },
		{ "socket_group", v_account },
		{ "chroot", v_chroot },
		{ "mta", v_choice },
		{ "log_facility", v_log },
		{ "log_level", v_log },
		{ "log_format", v_choice },
		{ "milter", v_milter },
		{ "condition", v_condition },
		{ "milter|socket", v_sockspec },
		{ "milter|command", v_command },
		{ "milter|user", v_account },
		{ "milter|fallback", v_fallback },
		{ "milter|connect_timeout", v_positive },
		{ "milter|balance", v_choice },
		{ "milter|failures_to_down", v_nonneg },
		{ "milter|down_time", v_positive },
		{ "milter|command_timeout", v_positive },
		{ "milter|eom_timeout", v_positive },
		{ "milter|evaluation_sample", v_percent },
		{ "milter|recipients", v_choice },
		{ "milter|condition_error", v_choice },
		{ "macros_add", v_macros_add },
		{ "milter|macros_add", v_macros_add },
	};
	struct conf	*c;
	cfg_t		*cfg;
	size_t		 i;
	int		 rc;

	cfg = conf_init(errfp);
	for (i = 0; i < sizeof(validators) / sizeof(validators[0]); i++)
		cfg_set_validate_func(cfg, validators[i].name,
		    validators[i].fn);
	rc = parse_file(cfg, path);
	if (rc == CFG_SUCCESS) {
		check_cond_refs(cfg);
		check_verdict_refs(cfg);
		check_groups(cfg);
		check_launch(cfg);
	}
	conf_flush(path);
	if (rc != CFG_SUCCESS || conf_nerrors > 0) {
		cfg_free(cfg);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = strdup(path)) == NULL)
		fatal("%s: calloc", __func__);
	if (convert(cfg, c) == -1) {
		/* Validated above: a name service or a list file changed. */
		if (errfp != NULL)
			fprintf(errfp, "%s: a socket no longer resolves, or a "
			    "list file changed\n", path);
		conf_free(c);
		c = NULL;
	} else if (c->detect)
		add_detected(c, errfp);
	cfg_free(cfg);
	return c;
}

/*
 * Only the control key of path, for milterctl: the same schema and
 * parser as conf_load(), without the validation and conversion of the
 * rest (no detection, no Lua, no list files), so that a milterctl
 * reload still finds milterd when another part of the file is wrong.
 * 0 and the path in buf, or -1 with the reason said on errfp.
 */
int
conf_control(const char *path, char *buf, size_t len, FILE *errfp)
{
	cfg_t	*cfg;
	int	 rc;

	cfg = conf_init(errfp);
	cfg_set_validate_func(cfg, "control", v_control);
	/* parse_file() says why a file cannot be read. */
	rc = parse_file(cfg, path);
	conf_flush(path);
	if (rc == CFG_SUCCESS && conf_nerrors == 0 &&
	    cfg_getstr(cfg, "control")[0] == '\0')
		fprintf(errfp, "%s: control is \"\": milterd has no control "
		    "socket\n", path);
	else if (rc == CFG_SUCCESS && conf_nerrors == 0 &&
	    strlcpy(buf, cfg_getstr(cfg, "control"), len) < len) {
		cfg_free(cfg);
		return 0;
	}
	cfg_free(cfg);
	return -1;
}

void
conf_free(struct conf *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nmilters; i++) {
		free(c->milters[i].name);
		free(c->milters[i].command);
		free(c->milters[i].user);
		free(c->milters[i].detected);
		free(c->milters[i].conds);
		strv_free(c->milters[i].macros_add,
		    c->milters[i].nmacros_add);
	}
	free(c->milters);
	for (i = 0; i < c->nconds; i++)
		cond_free(&c->conds[i]);
	free(c->conds);
	strv_free(c->dns_servers, c->ndns_servers);
	free(c->path);
	free(c->socket_group);
	free(c->user);
	free(c->group);
	free(c->chroot);
	free(c->pidfile);
	free(c->control);
	free(c->state_file);
	free(c->detect_root);
	free(c->spool_dir);
	free(c);
}

/* key = "value", the value quoted as print_quoted() does. */
static void
print_str(FILE *fp, const char *key, const char *value)
{
	fprintf(fp, "%s = ", key);
	print_quoted(fp, value);
	fputc('\n', fp);
}

/*
 * The configuration in effect, defaults included, in the file's syntax:
 * what it prints loads as it is, and means the same.
 */
void
conf_print(const struct conf *c, FILE *fp)
{
	const struct milter_conf	*m;
	size_t				 i, j;

	fprintf(fp, "listen = {");
	for (i = 0; i < c->nlisten; i++) {
		fputs(i ? ", " : " ", fp);
		print_quoted(fp, c->listen[i].text);
	}
	fprintf(fp, " }\nsocket_mode = \"%04o\"\n", (unsigned)c->socket_mode);
	if (c->socket_group != NULL)
		print_str(fp, "socket_group", c->socket_group);
	print_str(fp, "user", c->user);
	if (c->group != NULL)
		print_str(fp, "group", c->group);
	if (c->chroot != NULL)
		print_str(fp, "chroot", c->chroot);
	fprintf(fp, "max_sessions_per_worker = %d\ngrace_time = %d\n"
	    "allow_root_command = %s\nlaunch_wait = %d\n",
	    c->max_sessions_per_worker, c->grace_time,
	    c->allow_root_command ? "true" : "false", c->launch_wait);
	fprintf(fp, "lua_threads = %d\nlua_queue = %d\n", c->lua_threads,
	    c->lua_queue);
	fprintf(fp, "control_mode = \"%04o\"\n", (unsigned)c->control_mode);
	print_str(fp, "metrics_listen", c->metrics ? c->metrics_listen.text :
	    "");
	print_str(fp, "state_file", c->state_file);
	fprintf(fp, "history_hours = %d\nworkers = %d\n", c->history_hours,
	    c->workers);
	print_str(fp, "pidfile", c->pidfile);
	print_str(fp, "control", c->control);
	fprintf(fp, "fallback = \"%s\"\ndispatch = \"%s\"\n"
	    "body_memory_limit = %zu\n", fallback_name(c->fallback),
	    c->dispatch == DISPATCH_PARALLEL ? "parallel" : "sequential",
	    c->body_memory_limit);
	print_str(fp, "spool_dir", c->spool_dir);
	fprintf(fp, "progress_interval = %d\ndetect = %s\n",
	    c->progress_interval, c->detect ? "true" : "false");
	fprintf(fp, "max_headers = %zu\nmax_header_bytes = %zu\n"
	    "max_recipients = %zu\nmax_sessions = %d\nmta_timeout = %d\n",
	    c->max_headers, c->max_header_bytes, c->max_recipients,
	    c->max_sessions, c->mta_timeout);
	print_str(fp, "detect_root", c->detect_root);
	fprintf(fp, "evaluation_seed = %u\nevaluation_memory_limit = %zu\n",
	    c->evaluation_seed, c->evaluation_memory_limit);
	fprintf(fp, "disconnect_check = %s\ndisconnect_check_after = %d\n"
	    "disconnect_check_interval = %d\nfallback_on_disconnect = \"%s\"\n",
	    c->disconnect_check ? "true" : "false", c->disconnect_check_after,
	    c->disconnect_check_interval,
	    fallback_name(c->fallback_on_disconnect));
	fprintf(fp, "mta = \"%s\"\n", choices[3][c->mta + 1]);
	for (i = 0; i < c->ndns_servers; i++) {
		fputs(i == 0 ? "dns_servers = { " : ", ", fp);
		print_quoted(fp, c->dns_servers[i]);
		fputs(i + 1 == c->ndns_servers ? " }\n" : "", fp);
	}
	for (i = 0; i < c->nconds; i++)
		fprintf(fp, "condition \"%s\" {\n%s}\n", c->conds[i].name,
		    c->conds[i].source);
	for (i = 0; i < c->nmilters; i++) {
		m = &c->milters[i];
		if (m->detected != NULL)
			fprintf(fp, "# detected: %s\n", m->detected);
		fprintf(fp, "milter \"%s\" {\n", m->name);
		/* One socket as before; a list only for several. */
		fprintf(fp, "\tsocket = %s", m->nsock > 1 ? "{ " : "");
		for (j = 0; j < m->nsock; j++) {
			fputs(j ? ", " : "", fp);
			print_quoted(fp, m->sock[j].text);
		}
		fprintf(fp, "%s\n", m->nsock > 1 ? " }" : "");
		if (m->command != NULL)
			print_str(fp, "\tcommand", m->command);
		if (m->user != NULL)
			print_str(fp, "\tuser", m->user);
		fprintf(fp, "\tevaluation_sample = %d\n\tevaluation_wait = %s\n",
		    m->evaluation_sample, m->evaluation_wait ? "true" : "false");
		fprintf(fp, "\tenabled = %s\n\tevaluation = %s\n"
		    "\tfallback = \"%s\"\n\tconnect_timeout = %d\n"
		    "\tcommand_timeout = %d\n\teom_timeout = %d\n"
		    "\trecipients = \"%s\"\n\tcondition_error = \"%s\"\n"
		    "\tmacros_compat = %s\n\tbalance = \"%s\"\n"
		    "\tfailures_to_down = %d\n\tdown_time = %d\n",
		    m->enabled ? "true" : "false",
		    m->evaluation ? "true" : "false",
		    fallback_name(m->fallback), m->connect_timeout,
		    m->command_timeout, m->eom_timeout, m->all_recipients ?
		    "all" : "any", m->skip_on_error ? "skip" : "apply",
		    m->macros_compat ? "true" : "false",
		    m->balance == BALANCE_ROUND_ROBIN ? "round-robin" :
		    "failover", m->failures_to_down, m->down_time);
		for (j = 0; j < m->nmacros_add; j++) {
			fputs(j == 0 ? "\tmacros_add = { " : ", ", fp);
			print_quoted(fp, m->macros_add[j]);
			fputs(j + 1 == m->nmacros_add ? " }\n" : "", fp);
		}
		fprintf(fp, "\treuse_connections = %s\n", m->reuse ? "true" :
		    "false");
		for (j = 0; j < m->nconds; j++)
			fprintf(fp, "%s\"%s%s\"%s", j == 0 ?
			    "\tconditions = { " : ", ", m->conds[j].negate ?
			    "!" : "", c->conds[m->conds[j].idx].name, j + 1 ==
			    m->nconds ? " }\n" : "");
		fprintf(fp, "}\n");
	}
}

/*
 * The workers' copy: they never need the commands the launcher runs,
 * only whether there is one.
 */
void
conf_forget_commands(struct conf *c)
{
	size_t	i;

	for (i = 0; i < c->nmilters; i++) {
		free(c->milters[i].command);
		free(c->milters[i].user);
		c->milters[i].command = c->milters[i].user = NULL;
	}
}

/* Whether word is a fallback milterd.conf takes (for milterd -M). */
int
conf_fallback_known(const char *word)
{
	enum fallback	fb;

	return parse_fallback(word, &fb) == 0;
}
