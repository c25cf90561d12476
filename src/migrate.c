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
 * migrate.c: `milterd -M FILE'.  The milters an MTA lists, read from
 * Postfix's main.cf (smtpd_milters, non_smtpd_milters, Postfix 3's
 * per-milter { socket, name=value, ... } form, the milter_* settings,
 * $parameter expansion), Sendmail's sendmail.mc (INPUT_MAIL_FILTER,
 * MAIL_FILTER, confINPUT_MAIL_FILTERS, DAEMON_OPTIONS' InputMailFilters)
 * or sendmail.cf (X lines, the InputMailFilters option and those of
 * DaemonPortOptions), printed as milterd.conf sections in the same order
 * with the timeouts and fallbacks translated, then the line that puts
 * milterd in their place in the MTA's file, as comments.
 *
 * The parsers are pure (text in, struct mig out) for the unit tests;
 * what cannot be carried over is said in the notes, printed as
 * comments.  A socket milterd would not accept is an error here, so
 * that the printed sections always pass `milterd -n'.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "migrate.h"
#include "util.h"

#define PF_DEPTH	16	/* $parameter expansion */
#define VALUE_MAX	8192
#define MAX_TOKENS	256
#define TIMEOUT_MAX	86400	/* milterd's timeouts: 1 to 86400 s */

/* Postfix's defaults of what main.cf may leave out. */
static const char *const pf_defaults[][2] = {
	{ "milter_connect_timeout", "30s" },
	{ "milter_command_timeout", "30s" },
	{ "milter_content_timeout", "300s" },
	{ "milter_default_action", "tempfail" },
	{ "milter_protocol", "6" },
	{ "queue_directory", "/var/spool/postfix" },
	{ "smtpd_milters", "" },
	{ "non_smtpd_milters", "" },
};

/* Sendmail's milter timeouts when T= leaves one out (C, S, R, E). */
static const char *const sm_defaults = "C:5m;S:10s;R:10s;E:5m";

struct pf {
	char		**names;
	char		**values;
	size_t		  n;
	struct mig	 *m;
	int		  chrooted;	/* master.cf: smtpd runs chrooted */
	char		  queue_dir[PATH_MAX];
};

struct sm_filter {
	char		 name[65];
	char		 equates[1024];
};

struct sm {
	struct sm_filter f[CONF_MAX_MILTERS];
	size_t		 nf;
	char		 list[1024];	/* the global list, names */
	int		 has_list;
	char		 daemons[1024];	/* the per-daemon lists, joined */
};

static void	note(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	mig_time(const char *, int *);
static struct mig_child *mig_add(struct mig *, const char *, const char *,
		    char *, size_t);
static void	mig_fallback(struct mig_child *, const char *);
static void	pf_read(struct pf *, char *);
static const char *pf_raw(const struct pf *, const char *);
static int	pf_expand(const struct pf *, const char *, char *, size_t,
		    int, char *, size_t);
static int	pf_value(const struct pf *, const char *, char *, size_t,
		    char *, size_t);
static size_t	pf_split(char *, char **, size_t, const char *);
static int	pf_timeout(const struct pf *, const char *, int *, char *,
		    size_t);
static void	pf_master(struct pf *, const char *);
static int	pf_milter(struct pf *, char *, const char *, char *, size_t);
static int	mig_postfix(struct mig *, char *, const char *, char *,
		    size_t);
static int	sm_add_filter(struct sm *, const char *, const char *, char *,
		    size_t);
static void	sm_list(char *, size_t, const char *, const char *);
static int	sm_equates(struct mig_child *, const char *, char *, size_t);
static int	sm_finish(struct mig *, struct sm *, char *, size_t);
static char	*m4_arg(char **, int *);
static int	mig_mc(struct mig *, char *, char *, size_t);
static int	mig_cf(struct mig *, char *, char *, size_t);
static int	listen_spelt(const struct mig *, const struct sockspec *,
		    char *, size_t);
static void	print_notes(FILE *, const char *, const char *);
static void	print_mta(FILE *, const struct mig *, const char *,
		    const char *);

/* Append a line to a notes buffer; what does not fit is cut. */
static void
note(char *buf, size_t len, const char *fmt, ...)
{
	char	line[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	strlcat(buf, line, len);
	strlcat(buf, "\n", len);
}

/*
 * A time as Postfix and Sendmail write it: a number with a unit (s, m,
 * h, d, w; seconds without one), or several ("1h30m"), into *secs.
 */
static int
mig_time(const char *s, int *secs)
{
	long long	 total = 0, n;
	char		*end;

	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		if (!isdigit((unsigned char)*s))
			return -1;
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno != 0 || n > 100000000)
			return -1;
		switch (*end) {
		case 'w':
			n *= 7;
			/* FALLTHROUGH */
		case 'd':
			n *= 24;
			/* FALLTHROUGH */
		case 'h':
			n *= 60;
			/* FALLTHROUGH */
		case 'm':
			n *= 60;
			/* FALLTHROUGH */
		case 's':
			end++;
			/* FALLTHROUGH */
		case '\0':
			break;
		default:
			return -1;
		}
		total += n;
		if (total > 100000000)
			return -1;
		s = end;
	}
	*secs = (int)total;
	return 0;
}

/*
 * A child on socket spec, named base (a name milterd.conf takes: no
 * blanks, quotes, backslashes or control characters; "-2"... when
 * taken), with milterd's defaults; NULL and err when there is no room
 * or milterd would not take the socket.
 */
static struct mig_child *
mig_add(struct mig *m, const char *base, const char *spec, char *err,
    size_t errlen)
{
	struct mig_child	*c;
	struct sockspec		 sp;
	char			 name[65], why[256];
	size_t			 i, j, len;
	int			 k, taken;

	if (m->n == CONF_MAX_MILTERS) {
		snprintf(err, errlen, "more than %d milters: milterd takes "
		    "at most %d", CONF_MAX_MILTERS, CONF_MAX_MILTERS);
		return NULL;
	}
	if (sockspec_parse(spec, &sp, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "milter socket \"%s\": %s; milterd "
		    "cannot connect to it as written: fix it in the MTA's "
		    "file, or leave it out, and run -M again", spec, why);
		return NULL;
	}
	for (i = 0, len = 0; base[i] != '\0' && len < 60; i++)
		if (isalnum((unsigned char)base[i]) || strchr("-_.@+",
		    base[i]) != NULL)
			name[len++] = base[i];
	name[len] = '\0';
	if (len == 0)
		strlcpy(name, "milter", sizeof(name));
	c = &m->children[m->n];
	memset(c, 0, sizeof(*c));
	for (k = 1; k < 100; k++) {
		if (k == 1)
			strlcpy(c->name, name, sizeof(c->name));
		else
			snprintf(c->name, sizeof(c->name), "%.50s-%d", name, k);
		for (taken = 0, j = 0; j < m->n; j++)
			taken |= strcmp(m->children[j].name, c->name) == 0;
		if (!taken)
			break;
	}
	strlcpy(c->socket, spec, sizeof(c->socket));
	strlcpy(c->fallback, "tempfail", sizeof(c->fallback));
	c->connect_timeout = c->command_timeout = c->eom_timeout = -1;
	m->n++;
	return c;
}

/*
 * The MTA's failure action as milterd's fallback: the same word when
 * milterd has it, else tempfail (mail deferred, never passed unfiltered).
 */
static void
mig_fallback(struct mig_child *c, const char *word)
{
	if (conf_fallback_known(word)) {
		strlcpy(c->fallback, word, sizeof(c->fallback));
		return;
	}
	strlcpy(c->fallback, "tempfail", sizeof(c->fallback));
	note(c->notes, sizeof(c->notes), "The MTA's failure action was %s, "
	    "which milterd's fallback does not have: tempfail instead, so "
	    "that mail is deferred, not passed unfiltered, while it is down.",
	    word);
}

/*
 * The parameters of main.cf: logical lines (a line that starts with a
 * blank continues the one before), comment and blank lines left out.
 * The text is compacted in place.
 */
static void
pf_read(struct pf *p, char *text)
{
	char	*s = text, *d = text, *line, *t, *eol, *eq, **starts = NULL;
	size_t	 n = 0, i, len;

	while (*s != '\0') {
		line = s;
		eol = s + strcspn(s, "\n");
		s = *eol != '\0' ? eol + 1 : eol;
		*eol = '\0';
		t = line + strspn(line, " \t");
		if (*t == '#' || *t == '\0')
			continue;
		len = strlen(t);
		if (t != line) {
			/* A continuation: joined to the line before. */
			if (n == 0)
				continue;
			d[-1] = ' ';
		} else {
			if ((starts = reallocarray(starts, n + 1,
			    sizeof(*starts))) == NULL)
				fatal("%s: reallocarray", __func__);
			starts[n++] = d;
		}
		memmove(d, t, len + 1);
		d += len + 1;
	}
	for (i = 0; i < n; i++) {
		if ((eq = strchr(starts[i], '=')) == NULL)
			continue;
		*eq = '\0';
		if ((p->names = reallocarray(p->names, p->n + 1,
		    sizeof(*p->names))) == NULL ||
		    (p->values = reallocarray(p->values, p->n + 1,
		    sizeof(*p->values))) == NULL)
			fatal("%s: reallocarray", __func__);
		p->names[p->n] = str_trim(starts[i]);
		p->values[p->n++] = str_trim(eq + 1);
	}
	free(starts);
}

/* A parameter's value as written (the last one), Postfix's default, NULL. */
static const char *
pf_raw(const struct pf *p, const char *name)
{
	size_t	i;

	for (i = p->n; i > 0; i--)
		if (strcmp(p->names[i - 1], name) == 0)
			return p->values[i - 1];
	for (i = 0; i < sizeof(pf_defaults) / sizeof(pf_defaults[0]); i++)
		if (strcmp(pf_defaults[i][0], name) == 0)
			return pf_defaults[i][1];
	return NULL;
}

/*
 * in with $name, ${name}, $(name), ${name?text} (text when name is not
 * empty) and ${name:text} (when it is) expanded, into out.
 */
static int
pf_expand(const struct pf *p, const char *in, char *out, size_t len,
    int depth, char *err, size_t errlen)
{
	char		 name[128], val[VALUE_MAX], alt[VALUE_MAX];
	const char	*s = in, *raw, *end;
	size_t		 o = 0, n;
	char		 close, op;

	if (depth > PF_DEPTH) {
		snprintf(err, errlen, "parameters expand into themselves "
		    "(more than %d levels): fix the loop", PF_DEPTH);
		return -1;
	}
	out[0] = '\0';
	while (*s != '\0') {
		if (*s != '$') {
			if (o + 1 < len)
				out[o++] = *s;
			s++;
			continue;
		}
		s++;
		op = '\0';
		alt[0] = '\0';
		if (*s == '$') {
			if (o + 1 < len)
				out[o++] = '$';
			s++;
			continue;
		}
		if (*s == '{' || *s == '(') {
			close = *s == '{' ? '}' : ')';
			s++;
			n = strcspn(s, "}):?");
			end = strchr(s + n, close);
			if (end == NULL || n == 0 || n >= sizeof(name)) {
				snprintf(err, errlen, "\"%s\": a $%c without "
				    "its %c", in, close == '}' ? '{' : '(',
				    close);
				return -1;
			}
			memcpy(name, s, n);
			name[n] = '\0';
			if (s[n] == '?' || s[n] == ':') {
				op = s[n];
				snprintf(alt, sizeof(alt), "%.*s",
				    (int)(end - (s + n + 1)), s + n + 1);
			}
			s = end + 1;
		} else {
			n = strspn(s, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
			if (n == 0 || n >= sizeof(name)) {
				snprintf(err, errlen, "\"%s\": a $ without a "
				    "parameter name (write $$ for a $)", in);
				return -1;
			}
			memcpy(name, s, n);
			name[n] = '\0';
			s += n;
		}
		if ((raw = pf_raw(p, name)) == NULL) {
			note(p->m->notes, sizeof(p->m->notes), "$%s is not "
			    "set in the file: taken as empty, as Postfix "
			    "would for a parameter without a default.", name);
			raw = "";
		}
		if (pf_expand(p, raw, val, sizeof(val), depth + 1, err,
		    errlen) == -1)
			return -1;
		if (op == '?' || op == ':') {
			if ((op == '?') == (val[0] != '\0')) {
				if (pf_expand(p, alt, val, sizeof(val),
				    depth + 1, err, errlen) == -1)
					return -1;
			} else
				val[0] = '\0';
		}
		for (n = 0; val[n] != '\0'; n++)
			if (o + 1 < len)
				out[o++] = val[n];
	}
	out[o] = '\0';
	if (o + 1 >= len) {
		snprintf(err, errlen, "\"%.40s...\": longer than %zu bytes "
		    "once expanded", in, len - 1);
		return -1;
	}
	return 0;
}

static int
pf_value(const struct pf *p, const char *name, char *out, size_t len,
    char *err, size_t errlen)
{
	const char	*raw = pf_raw(p, name);
	char		 why[512];

	if (pf_expand(p, raw != NULL ? raw : "", out, len, 0, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s", name, why);
		return -1;
	}
	return 0;
}

/*
 * Split s in place at the separators seps, a {...} group being one
 * token (braces kept, nesting counted); up to max tokens.
 */
static size_t
pf_split(char *s, char **tok, size_t max, const char *seps)
{
	size_t	n = 0;
	int	depth;

	for (;;) {
		while (*s != '\0' && strchr(seps, *s) != NULL)
			s++;
		if (*s == '\0' || n == max)
			return n;
		if (*seps == '\0') {
			tok[n++] = s;
			return n;
		}
		tok[n++] = s;
		for (depth = 0; *s != '\0'; s++) {
			if (*s == '{')
				depth++;
			else if (*s == '}' && depth > 0)
				depth--;
			else if (depth == 0 && strchr(seps, *s) != NULL)
				break;
		}
		if (*s != '\0')
			*s++ = '\0';
	}
}

/* A Postfix time parameter (seconds by default) into *secs. */
static int
pf_timeout(const struct pf *p, const char *name, int *secs, char *err,
    size_t errlen)
{
	char	val[VALUE_MAX];

	if (pf_value(p, name, val, sizeof(val), err, errlen) == -1)
		return -1;
	if (mig_time(str_trim(val), secs) == -1) {
		snprintf(err, errlen, "%s = %s: expected a time such as 30s, "
		    "5m or 1h", name, val);
		return -1;
	}
	return 0;
}

/*
 * master.cf beside main.cf: whether smtpd runs chrooted (sockets are
 * then inside queue_directory), and the -o overrides of milter
 * settings, which are not carried over.
 */
static void
pf_master(struct pf *p, const char *text)
{
	char	 buf[1024], *f[9];
	size_t	 n;

	while (text != NULL && *text != '\0') {
		snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(text, "\n"),
		    text);
		text = strchr(text, '\n');
		text = text != NULL ? text + 1 : NULL;
		if (*str_trim(buf) == '#')
			continue;
		if (strstr(buf, "milters=") != NULL ||
		    strstr(buf, "milter_") != NULL)
			note(p->m->notes, sizeof(p->m->notes), "master.cf: "
			    "\"%s\" overrides main.cf for a service: not "
			    "carried over; with milterd in the children's "
			    "place, see what it should become.",
			    str_trim(buf));
		if (isspace((unsigned char)buf[0]))
			continue;
		n = pf_split(buf, f, 9, " \t");
		/* service type private unpriv chroot wakeup maxproc cmd */
		if (n >= 8 && strcmp(f[7], "smtpd") == 0 &&
		    strcmp(f[4], "y") == 0)
			p->chrooted = 1;
	}
}

/* One element of a milter list: a socket, or { socket, name=value... }. */
static int
pf_milter(struct pf *p, char *tok, const char *list, char *err,
    size_t errlen)
{
	struct mig_child	*c;
	char			 sock[PATH_MAX + 16], base[80], *t[32], *eq, *s;
	char			 from[256];
	size_t			 n, i, k;
	int			 secs, *to;

	snprintf(from, sizeof(from), "%s: %.200s", list, tok);
	n = 0;
	if (tok[0] == '{') {
		s = tok + 1;
		if ((eq = strrchr(s, '}')) == NULL) {
			snprintf(err, errlen, "%s: \"%s\": a { without its }",
			    list, tok);
			return -1;
		}
		*eq = '\0';
		n = pf_split(s, t, 32, ", \t");
		/* "name = value" with blanks: join the pieces. */
		for (i = 1, k = 1; i < n; i++) {
			if (k > 1 && (t[i][0] == '=' ||
			    t[k - 1][strlen(t[k - 1]) - 1] == '=')) {
				memmove(t[k - 1] + strlen(t[k - 1]), t[i],
				    strlen(t[i]) + 1);
				continue;
			}
			t[k++] = t[i];
		}
		n = n > 0 ? k : 0;
		if (n == 0) {
			snprintf(err, errlen, "%s: an empty { }", list);
			return -1;
		}
		s = t[0];
	} else
		s = tok;
	/*
	 * Postfix takes a relative unix path from queue_directory, and an
	 * absolute one from there too when smtpd runs chrooted.
	 */
	if (strncmp(s, "unix:", 5) == 0 && (s[5] != '/' || p->chrooted)) {
		snprintf(sock, sizeof(sock), "unix:%s%s%s", p->queue_dir,
		    s[5] == '/' ? "" : "/", s + 5);
	} else
		strlcpy(sock, s, sizeof(sock));
	/* The name: the socket file's, without .sock; host-port for inet. */
	if (strncmp(sock, "unix:", 5) == 0) {
		snprintf(base, sizeof(base), "%s", strrchr(sock, '/') + 1);
		if ((eq = strstr(base, ".sock")) != NULL && eq[5] == '\0')
			*eq = '\0';
	} else {
		snprintf(base, sizeof(base), "%.60s", strchr(sock, ':') != NULL ?
		    strchr(sock, ':') + 1 : sock);
		for (eq = base; *eq != '\0'; eq++)
			if (!isalnum((unsigned char)*eq) && *eq != '.')
				*eq = '-';
	}
	/* A milter of both lists is one child, as smtpd_milters has it. */
	for (i = 0; strcmp(list, "non_smtpd_milters") == 0 && i < p->m->n;
	    i++) {
		c = &p->m->children[i];
		if (strcmp(c->socket, sock) != 0)
			continue;
		if (strcmp(strchr(c->from, ' ') + 1, strchr(from, ' ') + 1) !=
		    0)
			note(c->notes, sizeof(c->notes), "non_smtpd_milters "
			    "has it as %s: its settings in smtpd_milters are "
			    "taken.", strchr(from, ' ') + 1);
		return 0;
	}
	if ((c = mig_add(p->m, base, sock, err, errlen)) == NULL)
		return -1;
	strlcpy(c->from, from, sizeof(c->from));
	if (strcmp(sock, s) != 0)
		note(c->notes, sizeof(c->notes), "Postfix's %s is %s, from "
		    "queue_directory%s.", s, sock, p->chrooted ?
		    " (smtpd runs chrooted in master.cf)" : "");
	if (pf_timeout(p, "milter_connect_timeout", &c->connect_timeout, err,
	    errlen) == -1 || pf_timeout(p, "milter_command_timeout",
	    &c->command_timeout, err, errlen) == -1 || pf_timeout(p,
	    "milter_content_timeout", &c->eom_timeout, err, errlen) == -1 ||
	    pf_value(p, "milter_default_action", sock, sizeof(sock), err,
	    errlen) == -1)
		return -1;
	s = str_trim(sock);
	for (i = 1; i < n; i++) {
		if ((eq = strchr(t[i], '=')) == NULL) {
			snprintf(err, errlen, "%s: \"%s\" in { }: expected "
			    "name=value", list, t[i]);
			return -1;
		}
		*eq++ = '\0';
		to = strcmp(t[i], "connect_timeout") == 0 ?
		    &c->connect_timeout : strcmp(t[i], "command_timeout") ==
		    0 ? &c->command_timeout : strcmp(t[i], "content_timeout")
		    == 0 ? &c->eom_timeout : NULL;
		if (to != NULL) {
			if (mig_time(eq, &secs) == -1) {
				snprintf(err, errlen, "%s: %s=%s: expected a "
				    "time such as 30s, 5m or 1h", list, t[i],
				    eq);
				return -1;
			}
			*to = secs;
		} else if (strcmp(t[i], "default_action") == 0)
			s = eq;
		else if (strcmp(t[i], "protocol") == 0)
			note(c->notes, sizeof(c->notes), "protocol=%s: not "
			    "carried over; milterd negotiates the protocol "
			    "with each child itself.", eq);
		else {
			snprintf(err, errlen, "%s: \"%s\" in { }: expected "
			    "connect_timeout, command_timeout, "
			    "content_timeout, default_action or protocol",
			    list, t[i]);
			return -1;
		}
	}
	if (strcmp(s, "accept") != 0 && strcmp(s, "tempfail") != 0 &&
	    strcmp(s, "reject") != 0 && strcmp(s, "quarantine") != 0 &&
	    strcmp(s, "shutdown") != 0) {
		snprintf(err, errlen, "%s: default action \"%s\": expected "
		    "accept, tempfail, reject, quarantine or shutdown", list,
		    s);
		return -1;
	}
	mig_fallback(c, s);
	return 0;
}

static int
mig_postfix(struct mig *m, char *text, const char *master, char *err,
    size_t errlen)
{
	static const char *const lists[] = { "smtpd_milters",
	    "non_smtpd_milters" };
	struct pf	 p;
	char		 val[2][VALUE_MAX], *tok[MAX_TOKENS], one[VALUE_MAX];
	size_t		 i, n[2];
	int		 rc = -1;

	memset(&p, 0, sizeof(p));
	p.m = m;
	pf_read(&p, text);
	if (master != NULL)
		pf_master(&p, master);
	if (pf_value(&p, "queue_directory", p.queue_dir, sizeof(p.queue_dir),
	    err, errlen) == -1 || pf_timeout(&p, "milter_command_timeout",
	    &m->mta_command_timeout, err, errlen) == -1 || pf_timeout(&p,
	    "milter_connect_timeout", &m->mta_connect_timeout, err,
	    errlen) == -1)
		goto done;
	for (i = 0; i < 2; i++)
		if (pf_value(&p, lists[i], val[i], sizeof(val[i]), err,
		    errlen) == -1)
			goto done;
	m->smtpd = *str_trim(val[0]) != '\0';
	m->non_smtpd = *str_trim(val[1]) != '\0';
	if (strcmp(str_trim(val[0]), str_trim(val[1])) != 0 && m->smtpd &&
	    m->non_smtpd)
		note(m->notes, sizeof(m->notes), "smtpd_milters and "
		    "non_smtpd_milters differ: milterd has one list, so both "
		    "get every milter below (those of smtpd_milters first). "
		    "To keep a child to one kind of mail, give it a condition "
		    "(milterd.conf(5), CONDITIONS).");
	/* smtpd_milters in order, then what only non_smtpd_milters has. */
	n[0] = pf_split(val[0], tok, MAX_TOKENS / 2, ", \t");
	n[1] = pf_split(val[1], tok + n[0], MAX_TOKENS / 2, ", \t");
	for (i = 0; i < n[0] + n[1]; i++) {
		strlcpy(one, tok[i], sizeof(one));
		if (pf_milter(&p, one, lists[i >= n[0]], err, errlen) == -1)
			goto done;
	}
	if (p.chrooted)
		strlcpy(m->chroot_dir, p.queue_dir, sizeof(m->chroot_dir));
	for (i = 0; i < p.n; i++) {
		if ((strncmp(p.names[i], "milter_", 7) == 0 &&
		    strstr(p.names[i], "macro") != NULL))
			sm_list(m->macros, sizeof(m->macros), p.names[i],
			    "");
		else if (strcmp(p.names[i], "milter_protocol") == 0 &&
		    strcmp(p.values[i], "6") != 0)
			note(m->notes, sizeof(m->notes), "milter_protocol = "
			    "%s: not carried over; milterd negotiates the "
			    "protocol with each child itself.", p.values[i]);
	}
	if (pf_raw(&p, "milter_default_action") == pf_defaults[3][1])
		note(m->notes, sizeof(m->notes), "milter_default_action is "
		    "not set: taken as tempfail (check `postconf -d "
		    "milter_default_action' on your Postfix).");
	note(m->notes, sizeof(m->notes), "milter_command_timeout becomes "
	    "command_timeout, milter_content_timeout eom_timeout; milterd's "
	    "command_timeout also covers the headers and the body, which "
	    "Postfix gave the content timeout.");
	rc = 0;
done:
	free(p.names);
	free(p.values);
	return rc;
}

/* A Sendmail filter definition (its name and its S=, F=, T= text). */
static int
sm_add_filter(struct sm *s, const char *name, const char *equates,
    char *err, size_t errlen)
{
	size_t	i;

	for (i = 0; i < s->nf; i++)
		if (strcmp(s->f[i].name, name) == 0)
			break;
	if (i == s->nf) {
		if (s->nf == CONF_MAX_MILTERS) {
			snprintf(err, errlen, "more than %d filters: milterd "
			    "takes at most %d", CONF_MAX_MILTERS,
			    CONF_MAX_MILTERS);
			return -1;
		}
		s->nf++;
	}
	strlcpy(s->f[i].name, name, sizeof(s->f[i].name));
	strlcpy(s->f[i].equates, equates, sizeof(s->f[i].equates));
	return 0;
}

/* Names from text (separated by seps) appended to list, comma-separated. */
static void
sm_list(char *list, size_t len, const char *text, const char *seps)
{
	char	 buf[1024], *t[CONF_MAX_MILTERS];
	size_t	 i, n;

	strlcpy(buf, text, sizeof(buf));
	n = pf_split(buf, t, CONF_MAX_MILTERS, seps);
	for (i = 0; i < n; i++) {
		if (list[0] != '\0')
			strlcat(list, ", ", len);
		strlcat(list, t[i], len);
	}
}

/* S=, F= and T= of a filter into c. */
static int
sm_equates(struct mig_child *c, const char *equates, char *err,
    size_t errlen)
{
	char	 buf[1024], tbuf[256], *t[16], *u[8], *v;
	size_t	 i, j, n, nu;
	int	 secs, *to;

	strlcpy(buf, equates, sizeof(buf));
	n = pf_split(buf, t, 16, ",");
	snprintf(tbuf, sizeof(tbuf), "%s", sm_defaults);
	mig_fallback(c, "accept");
	for (i = 0; i < n; i++) {
		v = str_trim(t[i]);
		if (strncmp(v, "F=", 2) == 0) {
			v += 2;
			if (strchr(v, 'R') != NULL)
				mig_fallback(c, "reject");
			else if (strchr(v, 'T') != NULL)
				mig_fallback(c, "tempfail");
			else if (strchr(v, '4') != NULL)
				mig_fallback(c, "shutdown");
			if (strspn(v, "RT4") != strlen(v))
				note(c->notes, sizeof(c->notes), "F=%s: only "
				    "R, T and 4 are known; the others are "
				    "not carried over.", v);
		} else if (strncmp(v, "T=", 2) == 0) {
			/* The defaults first: T= may set only some. */
			strlcat(tbuf, ";", sizeof(tbuf));
			strlcat(tbuf, v + 2, sizeof(tbuf));
		} else if (strncmp(v, "S=", 2) != 0)
			note(c->notes, sizeof(c->notes), "\"%s\": not carried "
			    "over.", v);
	}
	nu = pf_split(tbuf, u, 8, ";");
	for (j = 0; j < nu; j++) {
		v = str_trim(u[j]);
		if (v[0] == '\0' || v[1] != ':' || strchr("CSRE", v[0]) ==
		    NULL || mig_time(v + 2, &secs) == -1) {
			snprintf(err, errlen, "T=...%s...: expected C:, S:, "
			    "R: or E: and a time such as 10s or 5m", v);
			return -1;
		}
		to = v[0] == 'C' ? &c->connect_timeout : v[0] == 'R' ?
		    &c->command_timeout : v[0] == 'E' ? &c->eom_timeout :
		    NULL;
		if (to == NULL && j >= 4 && secs != 10)
			note(c->notes, sizeof(c->notes), "T=S:%s (writing "
			    "to the filter): milterd has no such timeout; "
			    "a child that does not read runs into "
			    "command_timeout.", v + 2);
		if (to != NULL)
			*to = secs == 0 ? -1 : secs;
		if (to != NULL && secs == 0)
			note(c->notes, sizeof(c->notes), "T=%c:0 (no "
			    "timeout): milterd always has one; its default "
			    "applies.", v[0]);
	}
	return 0;
}

/*
 * The children of a Sendmail file: the global list in order; without
 * one, the per-daemon lists' names in order of appearance.
 */
static int
sm_finish(struct mig *m, struct sm *s, char *err, size_t errlen)
{
	struct mig_child	*c;
	char			 buf[2048], *t[CONF_MAX_MILTERS * 2];
	char			 sock[256], *v;
	size_t			 i, j, n;
	int			 used;

	if (s->has_list && s->daemons[0] != '\0')
		note(m->notes, sizeof(m->notes), "Some daemons have their "
		    "own InputMailFilters (%s): milterd has one list, the "
		    "global one below; give those daemons milterd's filter "
		    "too, or none.", s->daemons);
	if (!s->has_list && s->daemons[0] != '\0') {
		m->daemon_lists = 1;
		note(m->notes, sizeof(m->notes), "No global InputMailFilters: "
		    "the filters of the daemons' own lists (%s), in order; "
		    "milterd has one list for every daemon that names it.",
		    s->daemons);
	}
	strlcpy(buf, s->has_list ? s->list : s->daemons, sizeof(buf));
	n = pf_split(buf, t, CONF_MAX_MILTERS * 2, ",; \t");
	for (i = 0; i < n; i++) {
		for (used = 0, j = 0; j < m->n; j++)
			used |= strcmp(m->children[j].from, t[i]) == 0;
		if (used)
			continue;
		for (j = 0; j < s->nf && strcmp(s->f[j].name, t[i]) != 0; j++)
			;
		if (j == s->nf) {
			snprintf(err, errlen, "InputMailFilters names \"%s\", "
			    "which no filter definition has: define it or "
			    "take it out of the list", t[i]);
			return -1;
		}
		v = strstr(s->f[j].equates, "S=");
		if (v == NULL) {
			snprintf(err, errlen, "filter %s has no S= socket",
			    t[i]);
			return -1;
		}
		snprintf(sock, sizeof(sock), "%.*s", (int)strcspn(v + 2,
		    ", \t"), v + 2);
		if ((c = mig_add(m, t[i], sock, err, errlen)) == NULL)
			return -1;
		strlcpy(c->from, t[i], sizeof(c->from));
		if (sm_equates(c, s->f[j].equates, err, errlen) == -1)
			return -1;
		strlcpy(c->from, s->f[j].name, sizeof(c->from));
	}
	for (j = 0; j < s->nf; j++) {
		for (used = 0, i = 0; i < m->n; i++)
			used |= strcmp(m->children[i].from, s->f[j].name) == 0;
		if (!used)
			note(m->notes, sizeof(m->notes), "Filter %s is "
			    "defined but in no list: left out.",
			    s->f[j].name);
	}
	if (m->n > 0)
		note(m->notes, sizeof(m->notes), "T=C becomes "
		    "connect_timeout, T=R (each reply) command_timeout, T=E "
		    "eom_timeout. Sendmail's E runs from the end of the "
		    "message to the last reply; milterd's eom_timeout starts "
		    "again at each progress packet from the child, so a child "
		    "that sends them may now take longer than E.");
	return 0;
}

/*
 * The next m4 argument at *sp (`quoted' or bare), NUL-terminated;
 * *last set after the one before the closing parenthesis.  NULL when
 * the call is not closed.
 */
static char *
m4_arg(char **sp, int *last)
{
	char	*s = *sp, *start, *d;
	int	 depth;

	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (*s == '`') {
		start = d = ++s;
		for (depth = 1; *s != '\0'; s++) {
			if (*s == '`')
				depth++;
			else if (*s == '\'' && --depth == 0)
				break;
			*d++ = *s;
		}
		if (*s == '\0')
			return NULL;
		*d = '\0';
		s++;
		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
	} else {
		start = s;
		s += strcspn(s, ",)");
	}
	if (*s != ',' && *s != ')')
		return NULL;
	*last = *s == ')';
	*s = '\0';
	*sp = s + 1;
	return str_trim(start);
}

static int
mig_mc(struct mig *m, char *text, char *err, size_t errlen)
{
	static const char *const calls[] = { "INPUT_MAIL_FILTER(",
	    "MAIL_FILTER(", "define(", "DAEMON_OPTIONS(" };
	struct sm	*s;
	char		*p, *a, *b, call[128];
	size_t		 i, len = 0;
	int		 rc = -1, last;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("%s: calloc", __func__);
	/* m4 comments: # and dnl to the end of the line. */
	for (p = text; *p != '\0'; p++) {
		if (*p == '#' || (strncmp(p, "dnl", 3) == 0 && (p == text ||
		    !isalnum((unsigned char)p[-1])) && !isalnum((unsigned
		    char)p[3]) && p[3] != '_'))
			while (*p != '\0' && *p != '\n')
				*p++ = ' ';
		if (*p == '\0')
			break;
	}
	for (p = text; *p != '\0'; ) {
		for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
			len = strlen(calls[i]);
			if (strncmp(p, calls[i], len) == 0 && (p == text ||
			    (!isalnum((unsigned char)p[-1]) && p[-1] != '_')))
				break;
		}
		if (i == sizeof(calls) / sizeof(calls[0])) {
			p++;
			continue;
		}
		snprintf(call, sizeof(call), "%.*s", (int)strcspn(p, "\n"), p);
		p += len;
		b = NULL;
		if ((a = m4_arg(&p, &last)) == NULL || (!last &&
		    (b = m4_arg(&p, &last)) == NULL)) {
			snprintf(err, errlen, "%s: unbalanced quotes or no "
			    "closing parenthesis", call);
			goto done;
		}
		while (!last)
			if (m4_arg(&p, &last) == NULL) {
				snprintf(err, errlen, "%s: no closing "
				    "parenthesis", call);
				goto done;
			}
		switch (i) {
		case 0:
		case 1:
			if (b == NULL) {
				snprintf(err, errlen, "%s`%s'...): expected "
				    "the filter's name and its equates",
				    calls[i], a);
				goto done;
			}
			if (sm_add_filter(s, a, b, err, errlen) == -1)
				goto done;
			if (i == 0) {
				sm_list(s->list, sizeof(s->list), a, ",");
				s->has_list = 1;
			}
			break;
		case 2:
			if (strcmp(a, "confINPUT_MAIL_FILTERS") == 0 &&
			    b != NULL) {
				s->list[0] = '\0';
				sm_list(s->list, sizeof(s->list), b, ", \t");
				s->has_list = 1;
			} else if (strncmp(a, "confMILTER_MACROS_", 18) == 0)
				sm_list(m->macros, sizeof(m->macros), a, "");
			break;
		case 3:
			if ((b = strstr(a, "InputMailFilters=")) != NULL) {
				b += 17;
				b[strcspn(b, ",")] = '\0';
				sm_list(s->daemons, sizeof(s->daemons), b,
				    ";");
			}
			break;
		}
	}
	rc = sm_finish(m, s, err, errlen);
done:
	free(s);
	return rc;
}

static int
mig_cf(struct mig *m, char *text, char *err, size_t errlen)
{
	struct sm	*s;
	char		*line, *next, *v;
	int		 rc = -1;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("%s: calloc", __func__);
	for (line = text; line != NULL && *line != '\0'; line = next) {
		/* Continuation lines start with blanks. */
		next = line;
		while ((next = strchr(next, '\n')) != NULL &&
		    (next[1] == ' ' || next[1] == '\t'))
			*next = ' ';
		if (next != NULL)
			*next++ = '\0';
		if (line[0] == 'X') {
			v = line + 1 + strcspn(line + 1, ",");
			if (*v == '\0') {
				snprintf(err, errlen, "%.60s: expected "
				    "Xname, S=..., F=..., T=...", line);
				goto done;
			}
			*v++ = '\0';
			/* m4 writes an empty "X, " without filters. */
			if (*str_trim(line + 1) != '\0' && sm_add_filter(s,
			    str_trim(line + 1), v, err, errlen) == -1)
				goto done;
		} else if (strncmp(line, "O InputMailFilters=", 19) == 0) {
			s->list[0] = '\0';
			sm_list(s->list, sizeof(s->list), line + 19, ", \t");
			s->has_list = 1;
		} else if (strncmp(line, "O DaemonPortOptions=", 20) == 0 &&
		    (v = strstr(line, "InputMailFilters=")) != NULL) {
			v += 17;
			v[strcspn(v, ",")] = '\0';
			sm_list(s->daemons, sizeof(s->daemons), v, ";");
		} else if (strncmp(line, "O Milter.macros.", 16) == 0) {
			line[strcspn(line, "=")] = '\0';
			sm_list(m->macros, sizeof(m->macros), line + 2, "");
		}
	}
	rc = sm_finish(m, s, err, errlen);
done:
	free(s);
	return rc;
}

/*
 * Which file it is: by its name (main.cf, *.mc, *.cf), else by what it
 * holds; -1 when neither tells.
 */
int
mig_source_of(const char *file, const char *text, enum mig_source *src)
{
	const char	*base = strrchr(file, '/') != NULL ?
			    strrchr(file, '/') + 1 : file;
	size_t		 len = strlen(base);

	if (strcmp(base, "main.cf") == 0)
		*src = MIG_POSTFIX;
	else if (len > 3 && strcmp(base + len - 3, ".mc") == 0)
		*src = MIG_SENDMAIL_MC;
	else if (len > 3 && strcmp(base + len - 3, ".cf") == 0)
		*src = MIG_SENDMAIL_CF;
	else if (strstr(text, "smtpd_milters") != NULL)
		*src = MIG_POSTFIX;
	else if (strstr(text, "MAIL_FILTER(") != NULL)
		*src = MIG_SENDMAIL_MC;
	else if (strncmp(text, "X", 1) == 0 || strstr(text, "\nX") != NULL)
		*src = MIG_SENDMAIL_CF;
	else
		return -1;
	return 0;
}

/*
 * Parse text as src into m; for Postfix, master (NULL: none) is the
 * text of master.cf beside main.cf.
 */
int
mig_parse(struct mig *m, enum mig_source src, const char *text,
    const char *master, char *err, size_t errlen)
{
	struct mig_child	*c;
	char			*copy;
	size_t			 i, j;
	int			 rc, *t[3];

	memset(m, 0, sizeof(*m));
	m->source = src;
	if ((copy = strdup(text)) == NULL)
		fatal("%s: strdup", __func__);
	switch (src) {
	case MIG_POSTFIX:
		rc = mig_postfix(m, copy, master, err, errlen);
		break;
	case MIG_SENDMAIL_MC:
		rc = mig_mc(m, copy, err, errlen);
		break;
	default:
		rc = mig_cf(m, copy, err, errlen);
		break;
	}
	free(copy);
	for (i = 0; i < m->n; i++) {
		c = &m->children[i];
		t[0] = &c->connect_timeout;
		t[1] = &c->command_timeout;
		t[2] = &c->eom_timeout;
		for (j = 0; j < 3; j++)
			if (*t[j] > TIMEOUT_MAX) {
				note(c->notes, sizeof(c->notes), "A timeout "
				    "of %d s: milterd's longest is %d s.",
				    *t[j], TIMEOUT_MAX);
				*t[j] = TIMEOUT_MAX;
			}
	}
	if (m->macros[0] != '\0')
		note(m->notes, sizeof(m->notes), "%s: not carried over; "
		    "milterd asks the MTA for the macros each child asks for "
		    "in its negotiation, or the MTA's defaults for it.",
		    m->macros);
	return rc;
}

/* milterd's listening socket as the MTA spells it; -1 if it cannot. */
static int
listen_spelt(const struct mig *m, const struct sockspec *sp, char *buf,
    size_t len)
{
	const struct sockaddr_un	*sun;
	char				 host[NI_MAXHOST], port[NI_MAXSERV];
	const char			*path;
	size_t				 ql = strlen(m->chroot_dir);

	if (sp->ss.ss_family == AF_UNIX) {
		sun = (const struct sockaddr_un *)&sp->ss;
		path = sun->sun_path;
		if (ql == 0) {
			snprintf(buf, len, "unix:%s", path);
			return 0;
		}
		/* Postfix's smtpd sees it from inside the chroot. */
		if (strncmp(path, m->chroot_dir, ql) != 0 || path[ql] != '/') {
			snprintf(buf, len, "unix:%s", path);
			return -2;
		}
		snprintf(buf, len, "unix:%s", path + ql);
		return 0;
	}
	if (getnameinfo((const struct sockaddr *)&sp->ss, sp->sslen, host,
	    sizeof(host), port, sizeof(port), NI_NUMERICHOST |
	    NI_NUMERICSERV) != 0)
		return -1;
	if (m->source == MIG_POSTFIX)
		snprintf(buf, len, sp->ss.ss_family == AF_INET6 ?
		    "inet:[%.200s]:%s" : "inet:%.200s:%s", host, port);
	else
		snprintf(buf, len, "%s:%s@%.200s", sp->ss.ss_family == AF_INET6 ?
		    "inet6" : "inet", port, host);
	return 0;
}

/* Notes as comment lines, each wrapped at 72 columns after prefix. */
static void
print_notes(FILE *fp, const char *prefix, const char *notes)
{
	const char	*s = notes, *end, *brk;
	size_t		 width = 72 - strlen(prefix), n;

	while (*s != '\0') {
		end = s + strcspn(s, "\n");
		while (s < end) {
			n = (size_t)(end - s);
			if (n > width) {
				for (brk = s + width; brk > s && *brk != ' ';
				    brk--)
					;
				n = brk > s ? (size_t)(brk - s) : width;
			}
			fprintf(fp, "%s%.*s\n", prefix, (int)n, s);
			s += n;
			while (*s == ' ')
				s++;
		}
		s = *end == '\n' ? end + 1 : end;
	}
}

/* The MTA's part: the line(s) that put milterd in the children's place. */
static void
print_mta(FILE *fp, const struct mig *m, const char *file, const char *sock)
{
	char		 t[512];
	const char	*flags = "F=T";
	size_t		 i;
	int		 cmd = 0, eom = 0, conn = 0;

	/* Sequential children: the MTA waits for all their timeouts. */
	for (i = 0; i < m->n; i++) {
		cmd += m->children[i].command_timeout > 0 ?
		    m->children[i].command_timeout : 10;
		eom += m->children[i].eom_timeout > 0 ?
		    m->children[i].eom_timeout : 240;
		if (m->children[i].connect_timeout > conn)
			conn = m->children[i].connect_timeout;
	}
	fprintf(fp, "#\n# Then, in %s, put milterd in their place:\n#\n",
	    file);
	switch (m->source) {
	case MIG_POSTFIX:
		if (cmd + 5 > m->mta_command_timeout ||
		    conn + 5 > m->mta_connect_timeout) {
			snprintf(t, sizeof(t), "{ %s, connect_timeout=%ds, "
			    "command_timeout=%ds }", sock, conn + 5 >
			    m->mta_connect_timeout ? conn + 5 :
			    m->mta_connect_timeout, cmd + 5 >
			    m->mta_command_timeout ? cmd + 5 :
			    m->mta_command_timeout);
			fprintf(fp, "# (Postfix 3.0 or later: the children's "
			    "timeouts add up to more than\n# Postfix's own "
			    "for milterd.)\n#\n");
		} else
			strlcpy(t, sock, sizeof(t));
		if (m->smtpd || !m->non_smtpd)
			fprintf(fp, "#\tsmtpd_milters = %s\n", t);
		if (m->non_smtpd)
			fprintf(fp, "#\tnon_smtpd_milters = %s\n", m->smtpd ?
			    "$smtpd_milters" : t);
		fprintf(fp, "#\n# (postconf -e 'smtpd_milters = ...' does "
		    "it.)  milter_default_action now\n# applies to milterd "
		    "itself: tempfail keeps mail from passing unfiltered.\n");
		break;
	case MIG_SENDMAIL_MC:
	case MIG_SENDMAIL_CF:
		/* The recipe's R:1m;E:10m, or more, in whole minutes. */
		cmd = (cmd + 10 + 59) / 60;
		eom = (eom + 60 + 59) / 60;
		snprintf(t, sizeof(t), "T=C:30s;S:30s;R:%dm;E:%dm",
		    cmd > 1 ? cmd : 1, eom > 10 ? eom : 10);
		if (m->source == MIG_SENDMAIL_CF)
			fprintf(fp, "#\tXmilterd, S=%s, %s, %s\n"
			    "#\tO InputMailFilters=milterd\n#\n# (or, better, "
			    "in sendmail.mc, then rebuild sendmail.cf:)\n",
			    sock, flags, t);
		fprintf(fp, "#\t%s(`milterd', `S=%s, %s, %s')\n",
		    m->daemon_lists ? "MAIL_FILTER" : "INPUT_MAIL_FILTER",
		    sock, flags, t);
		if (m->daemon_lists)
			fprintf(fp, "#\n# and InputMailFilters=milterd in "
			    "the daemons' options instead of their lists.\n");
		fprintf(fp, "#\n# in place of the filters' lines; R: and E: "
		    "exceed what the children may\n# take one after the "
		    "other.\n");
		break;
	}
}

/*
 * Print m as milterd.conf text: the sections, the notes, and the MTA's
 * line with milterd's socket from listen (NULL: a placeholder, and why).
 */
void
mig_print(FILE *fp, const struct mig *m, const char *file,
    const struct sockspec *listen, const char *why)
{
	static const char *const what[] = { "Postfix's main.cf",
	    "Sendmail's sendmail.mc", "Sendmail's sendmail.cf" };
	const struct mig_child	*c;
	char			 sock[300];
	size_t			 i;
	int			 rc;

	fprintf(fp, "# milterd -M %s: %zu milter%s of %s, in order, for "
	    "milterd.conf\n# (milterd -n checks the file).\n", file, m->n,
	    m->n == 1 ? "" : "s", what[m->source]);
	if (m->notes[0] != '\0') {
		fprintf(fp, "#\n# Not carried over, or changed:\n");
		print_notes(fp, "#   ", m->notes);
	}
	for (i = 0; i < m->n; i++) {
		c = &m->children[i];
		fprintf(fp, "\n# %s\n", c->from);
		print_notes(fp, "#   ", c->notes);
		fprintf(fp, "milter \"%s\" {\n\tsocket = \"%s\"\n"
		    "\tfallback = \"%s\"\n", c->name, c->socket, c->fallback);
		if (c->connect_timeout > 0)
			fprintf(fp, "\tconnect_timeout = %d\n",
			    c->connect_timeout);
		if (c->command_timeout > 0)
			fprintf(fp, "\tcommand_timeout = %d\n",
			    c->command_timeout);
		if (c->eom_timeout > 0)
			fprintf(fp, "\teom_timeout = %d\n", c->eom_timeout);
		fprintf(fp, "}\n");
	}
	fprintf(fp, "\n");
	if (m->n == 0) {
		fprintf(fp, "# No milters listed: nothing to replace.\n");
		return;
	}
	rc = listen == NULL ? -1 : listen_spelt(m, listen, sock, sizeof(sock));
	if (rc == -1) {
		fprintf(fp, "# milterd's listening socket: %s; write it in "
		    "place of LISTEN.\n", why != NULL ? why : "unknown");
		strlcpy(sock, "LISTEN", sizeof(sock));
	} else if (rc == -2)
		fprintf(fp, "# milterd listens on %s, outside %s, where "
		    "Postfix's chrooted smtpd\n# cannot reach it: listen "
		    "inside it (e.g. unix:%s/milterd/milterd.sock).\n",
		    sock, m->chroot_dir, m->chroot_dir);
	print_mta(fp, m, file, sock);
}

/*
 * milterd -M file: the sections on stdout; milterd's own socket from
 * the configuration conf_path if it loads.  0, or 1 with the reason
 * on stderr.
 */
int
migrate_main(const char *file, const char *conf_path)
{
	struct mig		*m;
	struct conf		*c;
	enum mig_source		 src;
	FILE			*fp;
	char			*text, *errs = NULL, err[1024], why[1024];
	char			 dir[PATH_MAX], path[PATH_MAX], *master = NULL;
	size_t			 len, elen = 0, i;
	int			 rc;

	if ((fp = fopen(file, "r")) == NULL) {
		fprintf(stderr, "milterd: %s: %s\n", file, strerror(errno));
		return 1;
	}
	text = read_stream(fp, &len);
	fclose(fp);
	if (text == NULL || strlen(text) != len) {
		fprintf(stderr, "milterd: %s: %s\n", file, text == NULL ?
		    strerror(errno) : "not a text file");
		free(text);
		return 1;
	}
	if (mig_source_of(file, text, &src) == -1) {
		fprintf(stderr, "milterd: %s: neither Postfix's main.cf nor "
		    "Sendmail's sendmail.mc or sendmail.cf (name the file "
		    "main.cf, *.mc or *.cf)\n", file);
		free(text);
		return 1;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal("%s: calloc", __func__);
	/* Postfix: master.cf beside main.cf, if there is one. */
	strlcpy(dir, file, sizeof(dir));
	snprintf(path, sizeof(path), "%s/master.cf", dirname(dir));
	if (src == MIG_POSTFIX && (fp = fopen(path, "r")) != NULL) {
		master = read_stream(fp, &len);
		fclose(fp);
	}
	rc = mig_parse(m, src, text, master, err, sizeof(err));
	free(text);
	free(master);
	if (rc == -1) {
		fprintf(stderr, "milterd: %s: %s\n", file, err);
		free(m);
		return 1;
	}
	/* milterd's own configuration: its socket, its names. */
	if ((fp = open_memstream(&errs, &elen)) == NULL)
		fatal("%s: open_memstream", __func__);
	c = conf_load(conf_path, fp);
	fclose(fp);
	free(errs);
	snprintf(why, sizeof(why), "%s does not load (milterd -n -f %s "
	    "says why)", conf_path, conf_path);
	for (i = 0; c != NULL && i < m->n; i++)
		if (conf_milter(c, m->children[i].name) != NULL)
			note(m->children[i].notes,
			    sizeof(m->children[i].notes), "%s already has a "
			    "milter \"%s\": rename one of them.", conf_path,
			    m->children[i].name);
	mig_print(stdout, m, file, c != NULL ? &c->listen[0] : NULL, why);
	if (c != NULL)
		conf_free(c);
	free(m);
	return fflush(stdout) == EOF ? 1 : 0;
}
