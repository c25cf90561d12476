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
 * detect.c: the milters installed on a host.
 *
 * For each milter it knows (and for any systemd unit whose ExecStart
 * names a milter socket), it asks the service manager of the layout
 * found under the root whether the service is enabled, then takes the
 * socket from, in this order: the service's own settings (a socket
 * option in ExecStart, NAME_socket or NAME_flags on the BSDs,
 * SOCKET= and options in /etc/default or /etc/sysconfig), the milter's
 * own configuration file, the milter's default.  Every path is taken
 * under the root, so that tests run over fixture trees.  A file that
 * cannot be read or parsed is a warning naming it, never an error.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "log.h"
#include "util.h"

#define LINE_MAX_LEN	4096
#define VARS_MAX	128
#define REL_MAX		200	/* a path under the root, as noted */

enum syntax {
	SYN_WORDS,	/* Key value */
	SYN_EQUALS,	/* Key = value */
	SYN_GREYLIST,	/* socket "value" [mode] */
	SYN_RSPAMD	/* key = "value"; */
};

enum layout {
	LAYOUT_DEBIAN,
	LAYOUT_REDHAT,
	LAYOUT_FREEBSD,
	LAYOUT_OPENBSD
};

/*
 * A milter's place in the chain milterd -D suggests, lowest first:
 * cheap envelope refusals, then the checks DMARC builds on, DMARC,
 * then the content scanners; a milter detected by its unit alone comes
 * after all of these, its role unknown.
 */
enum rank {
	RANK_GREYLIST = 10,
	RANK_SPF = 20,
	RANK_DKIM = 30,
	RANK_DMARC = 40,
	RANK_VIRUS = 50,
	RANK_SPAM = 60,
	RANK_UNKNOWN = 90
};

static const struct known {
	const char	*name;		/* the Linux service */
	const char	*milterd;	/* milterd's: etc/milterd.conf's */
	enum rank	 rank;
	const char	*freebsd;	/* rc.d script */
	const char	*rcvar;		/* its rc.conf prefix */
	const char	*openbsd;	/* rc.d script, flags prefix */
	const char	*opt;		/* its socket option */
	const char	*confs;		/* its own files, the first found */
	const char	*key;
	enum syntax	 syntax;
	const char	*fallback;	/* when nothing says */
	const char	*with_postfix;	/* the same, Postfix installed */
} known[] = {
	{ "amavisd-milter", "amavisd-milter", RANK_SPAM,
	  "amavisd-milter", "amavisd_milter",
	  "amavisd_milter", "-s", NULL, NULL, SYN_WORDS, NULL, NULL },
	{ "clamav-milter", "clamav-milter", RANK_VIRUS,
	  "clamav-milter", "clamav_milter", "clamav_milter",
	  NULL, "etc/clamav/clamav-milter.conf etc/mail/clamav-milter.conf "
	  "usr/local/etc/clamav-milter.conf etc/clamav-milter.conf",
	  "MilterSocket", SYN_WORDS, NULL, NULL },
	{ "dkimpy-milter", "dkimpy-milter", RANK_DKIM,
	  "dkimpy-milter", "dkimpy_milter", "dkimpy_milter",
	  NULL, "etc/dkimpy-milter/dkimpy-milter.conf "
	  "usr/local/etc/dkimpy-milter/dkimpy-milter.conf", "Socket",
	  SYN_WORDS, NULL, NULL },
	{ "milter-greylist", "milter-greylist", RANK_GREYLIST,
	  "milter-greylist", "miltergreylist",
	  "milter_greylist", "-p", "etc/milter-greylist/greylist.conf "
	  "etc/mail/greylist.conf usr/local/etc/mail/greylist.conf",
	  "socket", SYN_GREYLIST, NULL, NULL },
	{ "opendkim", "opendkim", RANK_DKIM,
	  "milter-opendkim", "milteropendkim", "opendkim", "-p",
	  "etc/opendkim.conf etc/opendkim/opendkim.conf "
	  "usr/local/etc/mail/opendkim.conf etc/mail/opendkim.conf",
	  "Socket", SYN_WORDS, NULL, NULL },
	{ "opendmarc", "opendmarc", RANK_DMARC,
	  "opendmarc", "opendmarc", "opendmarc", "-p",
	  "etc/opendmarc.conf etc/opendmarc/opendmarc.conf "
	  "usr/local/etc/mail/opendmarc.conf", "Socket", SYN_WORDS, NULL, NULL },
	{ "pyspf-milter", "pyspf-milter", RANK_SPF,
	  "pyspf-milter", "pyspf_milter", "pyspf_milter",
	  NULL, "etc/pyspf-milter/pyspf-milter.conf "
	  "usr/local/etc/pyspf-milter/pyspf-milter.conf", "Socket",
	  SYN_EQUALS, NULL, NULL },
	{ "rspamd", "rspamd", RANK_SPAM,
	  "rspamd", "rspamd", "rspamd", NULL,
	  "etc/rspamd/local.d/worker-proxy.inc "
	  "usr/local/etc/rspamd/local.d/worker-proxy.inc "
	  "etc/rspamd/worker-proxy.inc usr/local/etc/rspamd/worker-proxy.inc",
	  "bind_socket", SYN_RSPAMD, "localhost:11332", NULL },
	{ "spamass-milter", "spamass", RANK_SPAM,
	  "spamass-milter", "spamass_milter",
	  "spamass_milter", "-p", NULL, NULL, SYN_WORDS,
	  "/var/run/spamass/spamass.sock",
	  /* Debian's init script, when /usr/sbin/postfix is there. */
	  "/var/spool/postfix/spamass/spamass.sock" },
};

struct vars {
	size_t	n;
	char	name[VARS_MAX][64];
	char	value[VARS_MAX][LINE_MAX_LEN];
	char	file[VARS_MAX][REL_MAX];	/* where it was set */
	int	line[VARS_MAX];
};

/* One detection run. */
struct run {
	const char		*root;
	enum layout		 layout;
	FILE			*warn;
	struct detected		*found;
	size_t			 nfound;
	int			 error;
};

static void	warn(struct run *, const char *, int, const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
static void	path_of(const struct run *, const char *, char *, size_t);
static int	exists(const struct run *, const char *);
static FILE	*open_file(struct run *, const char *);
static int	read_line(struct run *, FILE *, const char *, int *, char *,
		    size_t);
static void	vars_set(struct vars *, const char *, const char *,
		    const char *, int);
static const char *vars_get(const struct vars *, const char *, size_t *);
static void	expand(const struct vars *, const char *, char *, size_t);
static int	assign(char *, int, char **, char **);
static int	read_vars(struct run *, const char *, struct vars *, int);
static int	to_spec(const char *, char *, size_t);
static int	option_socket(const char *, const char *, char *, size_t,
		    const char **);
static int	conf_socket(struct run *, const struct known *, char *, size_t,
		    char *, size_t);
static int	unit_enabled(struct run *, const char *, char *, size_t);
static int	initd_enabled(struct run *, const char *, char *, size_t);
static int	find_unit(struct run *, const char *, char *, size_t);
static int	read_unit(struct run *, const char *, const char *,
		    struct vars *);
static void	add(struct run *, const char *, enum rank, const char *,
		    const char *, const char *, const char *);
static void	detect_linux(struct run *, struct vars *);
static void	detect_unknown_units(struct run *, struct vars *);
static void	detect_freebsd(struct run *, struct vars *);
static void	detect_openbsd(struct run *, struct vars *);
static void	socket_of(struct run *, const struct known *,
		    const struct vars *, const char *, const char *,
		    const char *);
static int	by_rank(const void *, const void *);

/* A warning about a file (rel, under the root), at line if > 0. */
static void
warn(struct run *r, const char *file, int line, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* file is under the root, without its leading slash. */
	if (line > 0)
		log_warnx_to(r->warn, "detect: /%s:%d: %s", file, line, msg);
	else
		log_warnx_to(r->warn, "detect: /%s: %s", file, msg);
}

/* rel (no leading slash) under the root. */
static void
path_of(const struct run *r, const char *rel, char *buf, size_t len)
{
	/* Too long: a path that does not exist, looked for in vain. */
	if (snprintf(buf, len, "%s%s%s", r->root, r->root[strlen(r->root) -
	    1] == '/' ? "" : "/", rel) >= (int)len)
		strlcpy(buf, "/nonexistent/too-long", len);
}

/* Is it there (a link counts, whether or not it leads anywhere)? */
static int
exists(const struct run *r, const char *rel)
{
	struct stat	st;
	char		path[PATH_MAX];

	path_of(r, rel, path, sizeof(path));
	return lstat(path, &st) == 0;
}

static FILE *
open_file(struct run *r, const char *rel)
{
	char	 path[PATH_MAX];
	FILE	*fp;

	path_of(r, rel, path, sizeof(path));
	if ((fp = fopen(path, "r")) == NULL && errno != ENOENT)
		warn(r, rel, 0, "%s", strerror(errno));
	return fp;
}

/* The next line, without its newline; a longer one is skipped. */
static int
read_line(struct run *r, FILE *fp, const char *rel, int *lineno, char *buf,
    size_t len)
{
	size_t	n;
	int	c;

	for (;;) {
		if (fgets(buf, (int)len, fp) == NULL)
			return 0;
		(*lineno)++;
		n = strlen(buf);
		if (n > 0 && buf[n - 1] == '\n') {
			buf[n - 1] = '\0';
			return 1;
		}
		if (feof(fp))
			return 1;
		warn(r, rel, *lineno, "line too long, skipped");
		while ((c = fgetc(fp)) != EOF && c != '\n')
			;
	}
}

static void
vars_set(struct vars *v, const char *name, const char *value,
    const char *file, int line)
{
	size_t	i;

	for (i = 0; i < v->n && strcmp(v->name[i], name) != 0; i++)
		;
	if (i == VARS_MAX)
		return;
	if (i == v->n)
		v->n++;
	strlcpy(v->name[i], name, sizeof(v->name[i]));
	strlcpy(v->value[i], value, sizeof(v->value[i]));
	strlcpy(v->file[i], file, sizeof(v->file[i]));
	v->line[i] = line;
}

/* A variable's value (and its index), or NULL. */
static const char *
vars_get(const struct vars *v, const char *name, size_t *idx)
{
	size_t	i;

	for (i = 0; v != NULL && i < v->n; i++)
		if (strcmp(v->name[i], name) == 0) {
			if (idx != NULL)
				*idx = i;
			return v->value[i];
		}
	return NULL;
}

/* $NAME and ${NAME} replaced from v (unknown ones by nothing). */
static void
expand(const struct vars *v, const char *in, char *out, size_t len)
{
	char		 name[64];
	const char	*val;
	size_t		 o = 0, n;
	int		 brace;

	while (*in != '\0' && o + 1 < len) {
		if (*in != '$') {
			out[o++] = *in++;
			continue;
		}
		in++;
		brace = *in == '{';
		in += brace;
		for (n = 0; (isalnum((unsigned char)*in) || *in == '_') &&
		    n + 1 < sizeof(name); in++)
			name[n++] = *in;
		name[n] = '\0';
		if (brace && *in == '}')
			in++;
		if ((val = vars_get(v, name, NULL)) != NULL)
			o += strlcpy(out + o, val, len - o) < len - o ?
			    strlen(val) : len - o - 1;
	}
	out[o] = '\0';
}

/*
 * NAME=value, NAME="value", NAME='value', export NAME=...: 1 if so, -1
 * for an unclosed quote.  With whole, an unquoted value runs to the end
 * of the line or a comment (OpenBSD's rc.conf.local, which rc.subr
 * reads rather than runs).
 */
static int
assign(char *line, int whole, char **name, char **value)
{
	char	*s = str_trim(line), *eq, *v, *end;

	if (*s == '#' || *s == '\0')
		return 0;
	if (strncmp(s, "export ", 7) == 0)
		s = str_trim(s + 7);
	if ((eq = strchr(s, '=')) == NULL || eq == s)
		return 0;
	for (v = s; v < eq; v++)
		if (!isalnum((unsigned char)*v) && *v != '_')
			return 0;
	*eq = '\0';
	v = eq + 1;
	if (*v == '"' || *v == '\'') {
		if ((end = strchr(v + 1, *v)) == NULL)
			return -1;
		*end = '\0';
		v++;
	} else if ((end = strpbrk(v, whole ? "#" : " \t#;")) != NULL)
		*end = '\0';
	*name = s;
	*value = whole ? str_trim(v) : v;
	return 1;
}

/* A file of assignments: the number of lines that were not. */
static int
read_vars(struct run *r, const char *rel, struct vars *v, int whole)
{
	char	 line[LINE_MAX_LEN], val[LINE_MAX_LEN], *name, *value;
	FILE	*fp;
	int	 lineno = 0, rc, bad = 0;

	if ((fp = open_file(r, rel)) == NULL)
		return 0;
	while (read_line(r, fp, rel, &lineno, line, sizeof(line))) {
		if ((rc = assign(line, whole, &name, &value)) == -1) {
			warn(r, rel, lineno, "unclosed quote");
			bad++;
		} else if (rc == 1) {
			expand(v, value, val, sizeof(val));
			vars_set(v, name, val, rel, lineno);
		}
	}
	fclose(fp);
	return bad;
}

/*
 * A milter's socket in milterd's spelling: local:/p, unix:/p, /p,
 * inet:port[@host], inet6:port[@host], host:port (rspamd); options
 * after the first word ("/p mode=0660") are left.  -1 if none of those.
 */
static int
to_spec(const char *in, char *out, size_t len)
{
	struct sockspec	 sp;
	char		 buf[256], err[256], *s, *colon;
	size_t		 n;

	if (strlcpy(buf, in, sizeof(buf)) >= sizeof(buf))
		return -1;
	s = str_trim(buf);
	n = strlen(s);
	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
		s[n - 1] = '\0';
		s++;
	}
	s[strcspn(s, " \t")] = '\0';
	if (strncmp(s, "local:", 6) == 0 || strncmp(s, "unix:", 5) == 0)
		snprintf(out, len, "unix:%s", strchr(s, ':') + 1);
	else if (s[0] == '/')
		snprintf(out, len, "unix:%s", s);
	else if ((strncmp(s, "inet:", 5) == 0 || strncmp(s, "inet6:", 6) ==
	    0) && strchr(s, '@') == NULL && strchr(strchr(s, ':') + 1, ':') ==
	    NULL)
		/* All interfaces: reached on the loopback. */
		snprintf(out, len, "%s@%s", s, s[4] == '6' ? "::1" :
		    "localhost");
	else if (strncmp(s, "inet:", 5) == 0 || strncmp(s, "inet6:", 6) == 0)
		strlcpy(out, s, len);
	else if ((colon = strrchr(s, ':')) != NULL && colon != s &&
	    colon[1] != '\0' && strspn(colon + 1, "0123456789") ==
	    strlen(colon + 1)) {
		*colon = '\0';
		snprintf(out, len, "inet:%s@%s", colon + 1, s[0] == '*' ?
		    "localhost" : s);
	} else
		return -1;
	return sockspec_parse(out, &sp, err, sizeof(err));
}

/*
 * The value of option opt ("-p", or NULL for any of -p, -s, --socket)
 * in the words of cmd, if it is a socket; *which: the option found.
 */
static int
option_socket(const char *cmd, const char *opt, char *out, size_t len,
    const char **which)
{
	static const char	*guesses[] = { "-p", "-s", "--socket" };
	char			 buf[LINE_MAX_LEN], *argv[64], *val;
	size_t			 g, glen;
	int			 i;

	if (split_words(cmd, buf, sizeof(buf), argv, 64) == -1)
		return -1;
	for (i = 0; argv[i] != NULL; i++) {
		for (g = 0; g < sizeof(guesses) / sizeof(guesses[0]); g++) {
			if (opt != NULL && strcmp(guesses[g], opt) != 0)
				continue;
			glen = strlen(guesses[g]);
			if (strcmp(argv[i], guesses[g]) == 0)
				val = argv[i + 1];
			else if (strncmp(argv[i], guesses[g], glen) == 0 &&
			    argv[i][glen] == (glen == 2 ? argv[i][2] : '=') &&
			    argv[i][glen] != '\0')
				val = argv[i] + glen + (glen > 2);
			else
				continue;
			/* Only what looks like a milter socket, guessing. */
			if (val == NULL || (opt == NULL &&
			    strncmp(val, "unix:", 5) != 0 &&
			    strncmp(val, "local:", 6) != 0 &&
			    strncmp(val, "inet:", 5) != 0 &&
			    strncmp(val, "inet6:", 6) != 0))
				continue;
			if (to_spec(val, out, len) == 0) {
				*which = guesses[g];
				return 0;
			}
		}
	}
	return -1;
}

/*
 * The socket in the milter's own configuration file: 0, -1 if it says
 * nothing, -2 if it is wrong (warned of: the milter is not detected).
 */
static int
conf_socket(struct run *r, const struct known *k, char *out, size_t len,
    char *note, size_t notelen)
{
	char	 files[512], line[LINE_MAX_LEN], *f, *save, *s, *v, *e;
	FILE	*fp = NULL;
	int	 lineno = 0;
	size_t	 klen;

	if (k->confs == NULL)
		return -1;
	strlcpy(files, k->confs, sizeof(files));
	for (f = strtok_r(files, " ", &save); f != NULL; f = strtok_r(NULL,
	    " ", &save))
		if ((fp = open_file(r, f)) != NULL)
			break;
	if (fp == NULL)
		return -1;
	klen = strlen(k->key);
	while (read_line(r, fp, f, &lineno, line, sizeof(line))) {
		s = str_trim(line);
		if (strncasecmp(s, k->key, klen) != 0 ||
		    (!isspace((unsigned char)s[klen]) && s[klen] != '=' &&
		    s[klen] != '\0'))
			continue;
		v = str_trim(s + klen);
		if ((k->syntax == SYN_EQUALS || k->syntax == SYN_RSPAMD) !=
		    (*v == '=')) {
			warn(r, f, lineno, "%s: expected \"%s%s\"", k->key,
			    k->key, *v == '=' ? " value" : " = value");
			fclose(fp);
			return -2;
		}
		if (*v == '=')
			v = str_trim(v + 1);
		if (k->syntax == SYN_RSPAMD && (e = strchr(v, ';')) != NULL)
			*e = '\0';
		if (*v == '"' && (e = strchr(v + 1, '"')) == NULL) {
			warn(r, f, lineno, "%s: unclosed quote", k->key);
			fclose(fp);
			return -2;
		}
		if (*v == '"')
			e[1] = '\0';
		if (to_spec(v, out, len) == -1) {
			warn(r, f, lineno, "%s %s: not a socket", k->key, v);
			fclose(fp);
			return -2;
		}
		snprintf(note, notelen, "%s in /%s:%d", k->key, f, lineno);
		fclose(fp);
		return 0;
	}
	fclose(fp);
	if (k->fallback != NULL)
		return -1;
	warn(r, f, 0, "no %s: milter %s has no socket", k->key, k->name);
	return -2;
}

/* Is NAME.service wanted by some target? note: the link. */
static int
unit_enabled(struct run *r, const char *name, char *note, size_t len)
{
	char		 path[PATH_MAX], rel[PATH_MAX];
	struct dirent	*de;
	DIR		*d;
	size_t		 n;
	int		 found = 0;

	path_of(r, "etc/systemd/system", path, sizeof(path));
	if ((d = opendir(path)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 6, ".wants") != 0)
			continue;
		snprintf(rel, sizeof(rel), "etc/systemd/system/%s/%s.service",
		    de->d_name, name);
		if (exists(r, rel)) {
			found = 1;
			strlcpy(note, rel, len);
		}
	}
	closedir(d);
	return found;
}

/* A SysV script started in a multi-user runlevel. */
static int
initd_enabled(struct run *r, const char *name, char *note, size_t len)
{
	char		 path[PATH_MAX], rel[32];
	struct dirent	*de;
	DIR		*d;
	int		 level, found = 0;

	for (level = 2; level <= 5 && !found; level++) {
		snprintf(rel, sizeof(rel), "etc/rc%d.d", level);
		path_of(r, rel, path, sizeof(path));
		if ((d = opendir(path)) == NULL)
			continue;
		while (!found && (de = readdir(d)) != NULL)
			if (de->d_name[0] == 'S' && isdigit((unsigned char)
			    de->d_name[1]) && isdigit((unsigned char)
			    de->d_name[2]) && strcmp(de->d_name + 3, name) ==
			    0) {
				found = 1;
				if (snprintf(note, len, "%s/%s", rel,
				    de->d_name) >= (int)len)
					strlcpy(note, rel, len);
			}
		closedir(d);
	}
	return found;
}

/* The unit file of NAME: an administrator's first. */
static int
find_unit(struct run *r, const char *name, char *rel, size_t len)
{
	static const char	*dirs[] = { "etc/systemd/system",
	    "lib/systemd/system", "usr/lib/systemd/system" };
	struct stat		 st;
	char			 path[PATH_MAX];
	size_t			 i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(rel, len, "%s/%s.service", dirs[i], name);
		path_of(r, rel, path, sizeof(path));
		/* A link there is an enablement or a mask, not the unit. */
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			return 1;
	}
	return 0;
}

/*
 * A unit's EnvironmentFile (unless it is read already) into v, and its
 * ExecStart, expanded, as the variable "ExecStart".  The number of
 * lines that could not be read.
 */
static int
read_unit(struct run *r, const char *rel, const char *read_already,
    struct vars *v)
{
	char	 line[LINE_MAX_LEN], exec[LINE_MAX_LEN], *s, *envf;
	FILE	*fp;
	int	 lineno = 0, execline = 0, bad = 0;
	char	 raw[LINE_MAX_LEN] = "";

	if ((fp = open_file(r, rel)) == NULL)
		return 0;
	while (read_line(r, fp, rel, &lineno, line, sizeof(line))) {
		s = str_trim(line);
		if (strncmp(s, "EnvironmentFile=", 16) == 0) {
			envf = s + 16;
			envf += *envf == '-';
			while (*envf == '/')
				envf++;
			if (read_already == NULL ||
			    strcmp(envf, read_already) != 0)
				bad += read_vars(r, envf, v, 0);
		} else if (strncmp(s, "ExecStart=", 10) == 0) {
			s += 10;
			while (*s == '-' || *s == '@' || *s == '+' ||
			    *s == '!' || *s == ':')
				s++;
			strlcpy(raw, s, sizeof(raw));
			execline = lineno;
		}
	}
	fclose(fp);
	if (execline > 0) {
		expand(v, raw, exec, sizeof(exec));
		vars_set(v, "ExecStart", exec, rel, execline);
	}
	return bad;
}

static void
add(struct run *r, const char *name, enum rank rank, const char *socket,
    const char *command, const char *service_note, const char *socket_note)
{
	struct detected	*d;
	size_t		 i;

	for (i = 0; i < r->nfound; i++)
		if (strcmp(r->found[i].name, name) == 0)
			return;
	if ((d = reallocarray(r->found, r->nfound + 1, sizeof(*d))) == NULL) {
		r->error = 1;
		return;
	}
	r->found = d;
	d = &r->found[r->nfound++];
	memset(d, 0, sizeof(*d));
	strlcpy(d->name, name, sizeof(d->name));
	d->rank = rank;
	strlcpy(d->socket, socket, sizeof(d->socket));
	strlcpy(d->command, command, sizeof(d->command));
	strlcpy(d->service_note, service_note, sizeof(d->service_note));
	strlcpy(d->socket_note, socket_note, sizeof(d->socket_note));
}

/*
 * The socket of an enabled known milter: from the service's settings
 * (v: a socket variable, else its option in a command line), else its
 * own file, else its default.  defaults: the service's settings file,
 * for the note.
 */
static void
socket_of(struct run *r, const struct known *k, const struct vars *v,
    const char *defaults, const char *command, const char *service_note)
{
	char		 sock[256], note[DETECT_NOTE_MAX];
	const char	*name, *which;
	size_t		 i, n;
	int		 rc, postfix;

	for (i = 0; v != NULL && i < v->n; i++) {
		name = v->name[i];
		n = strlen(name);
		if ((strcmp(name, "SOCKET") == 0 ||
		    strcmp(name, "MILTERSOCKET") == 0 || (n > 7 &&
		    strcmp(name + n - 7, "_socket") == 0)) &&
		    v->value[i][0] != '\0' && to_spec(v->value[i], sock,
		    sizeof(sock)) == 0) {
			snprintf(note, sizeof(note), "%s in /%s:%d", name,
			    v->file[i], v->line[i]);
			add(r, k->milterd, k->rank, sock, command, service_note,
			    note);
			return;
		}
	}
	for (i = 0; k->opt != NULL && v != NULL && i < v->n; i++)
		if (option_socket(v->value[i], k->opt, sock, sizeof(sock),
		    &which) == 0) {
			snprintf(note, sizeof(note), "%s %s in /%s:%d",
			    v->name[i], which, v->file[i], v->line[i]);
			add(r, k->milterd, k->rank, sock, command, service_note,
			    note);
			return;
		}
	if ((rc = conf_socket(r, k, sock, sizeof(sock), note,
	    sizeof(note))) == 0) {
		add(r, k->milterd, k->rank, sock, command, service_note,
		    note);
		return;
	}
	postfix = k->with_postfix != NULL && r->layout == LAYOUT_DEBIAN &&
	    exists(r, "usr/sbin/postfix");
	if (rc == -1 && k->fallback != NULL && to_spec(postfix ?
	    k->with_postfix : k->fallback, sock, sizeof(sock)) == 0) {
		if (defaults != NULL && exists(r, defaults))
			snprintf(note, sizeof(note), "default%s (no SOCKET in "
			    "/%s)", postfix ? " with Postfix" : "", defaults);
		else
			snprintf(note, sizeof(note), "default%s",
			    postfix ? " with Postfix" : "");
		add(r, k->milterd, k->rank, sock, command, service_note,
		    note);
	} else if (rc == -1)
		log_warnx_to(r->warn, "detect: milter %s: enabled, but "
		    "nothing names its socket", k->name);
}

/*
 * Debian and Red Hat: systemd units, else SysV scripts; variables from
 * /etc/default or /etc/sysconfig and the unit's EnvironmentFile.
 */
static void
detect_linux(struct run *r, struct vars *v)
{
	const struct known	*k;
	char			 unit[REL_MAX], note[DETECT_NOTE_MAX];
	char			 link[REL_MAX], command[160], rel[REL_MAX];
	size_t			 i;
	int			 bad;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		k = &known[i];
		v->n = 0;
		snprintf(rel, sizeof(rel), "%s/%s", r->layout ==
		    LAYOUT_REDHAT ? "etc/sysconfig" : "etc/default", k->name);
		if (find_unit(r, k->name, unit, sizeof(unit))) {
			if (!unit_enabled(r, k->name, link, sizeof(link)))
				continue;
			bad = read_vars(r, rel, v, 0);
			bad += read_unit(r, unit, rel, v);
			snprintf(note, sizeof(note), "systemd unit /%s, "
			    "enabled (/%s)", unit, link);
			snprintf(command, sizeof(command), "%s start %s",
			    r->layout == LAYOUT_REDHAT ? "/usr/bin/systemctl" :
			    "/bin/systemctl", k->name);
		} else {
			snprintf(unit, sizeof(unit), "etc/init.d/%s", k->name);
			if (!exists(r, unit) || !initd_enabled(r, k->name,
			    link, sizeof(link)))
				continue;
			bad = read_vars(r, rel, v, 0);
			snprintf(note, sizeof(note), "init script /%s, "
			    "enabled (/%s)", unit, link);
			snprintf(command, sizeof(command),
			    "/usr/sbin/service %s start", k->name);
		}
		/* The service itself would not read them right. */
		if (bad == 0)
			socket_of(r, k, v, rel, command, note);
	}
	detect_unknown_units(r, v);
}

/* Any other enabled unit whose ExecStart names a milter socket. */
static void
detect_unknown_units(struct run *r, struct vars *v)
{
	static const char	*dirs[] = { "lib/systemd/system",
	    "usr/lib/systemd/system", "etc/systemd/system" };
	struct dirent		*de;
	DIR			*d;
	char			 path[PATH_MAX], unit[REL_MAX], name[65];
	char			 link[REL_MAX], sock[256];
	char			 note[DETECT_NOTE_MAX], snote[DETECT_NOTE_MAX];
	char			 command[160];
	const char		*exec, *which;
	size_t			 i, j, n, idx;
	int			 isknown;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		path_of(r, dirs[i], path, sizeof(path));
		if ((d = opendir(path)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			n = strlen(de->d_name);
			if (n < 9 || n - 8 >= sizeof(name) ||
			    strcmp(de->d_name + n - 8, ".service") != 0)
				continue;
			memcpy(name, de->d_name, n - 8);
			name[n - 8] = '\0';
			for (isknown = 0, j = 0; j < sizeof(known) /
			    sizeof(known[0]); j++)
				isknown |= strcmp(known[j].name, name) == 0;
			if (isknown || !find_unit(r, name, unit,
			    sizeof(unit)) || !unit_enabled(r, name, link,
			    sizeof(link)))
				continue;
			v->n = 0;
			if (read_unit(r, unit, NULL, v) > 0 ||
			    (exec = vars_get(v, "ExecStart", &idx)) == NULL ||
			    option_socket(exec, NULL, sock, sizeof(sock),
			    &which) == -1)
				continue;
			snprintf(note, sizeof(note), "systemd unit /%s, "
			    "enabled (/%s)", unit, link);
			snprintf(snote, sizeof(snote), "ExecStart %s in /%s:%d",
			    which, v->file[idx], v->line[idx]);
			snprintf(command, sizeof(command), "%s start %s",
			    r->layout == LAYOUT_REDHAT ? "/usr/bin/systemctl" :
			    "/bin/systemctl", name);
			add(r, name, RANK_UNKNOWN, sock, command, note, snote);
		}
		closedir(d);
	}
}

/*
 * FreeBSD: rc.conf, rc.conf.local, rc.conf.d/NAME (NAME the script's
 * rc name), the last assignment winning: NAME_enable, _socket, _flags.
 */
static void
detect_freebsd(struct run *r, struct vars *v)
{
	const struct known	*k;
	struct vars		*own;
	char			 rel[REL_MAX], var[96], note[DETECT_NOTE_MAX];
	char			 command[160];
	const char		*val;
	size_t			 i, idx;
	int			 bad;

	if ((own = malloc(sizeof(*own))) == NULL) {
		r->error = 1;
		return;
	}
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		k = &known[i];
		snprintf(rel, sizeof(rel), "usr/local/etc/rc.d/%s", k->freebsd);
		if (!exists(r, rel))
			continue;
		v->n = 0;
		bad = read_vars(r, "etc/rc.conf", v, 0);
		bad += read_vars(r, "etc/rc.conf.local", v, 0);
		snprintf(rel, sizeof(rel), "etc/rc.conf.d/%s", k->rcvar);
		bad += read_vars(r, rel, v, 0);
		snprintf(var, sizeof(var), "%s_enable", k->rcvar);
		if (bad > 0 || (val = vars_get(v, var, &idx)) == NULL ||
		    strcasecmp(val, "YES") != 0)
			continue;
		snprintf(note, sizeof(note), "rc script /usr/local/etc/rc.d/%s, "
		    "enabled (%s in /%s:%d)", k->freebsd, var, v->file[idx],
		    v->line[idx]);
		snprintf(command, sizeof(command), "/usr/sbin/service %s start",
		    k->freebsd);
		/* Of all rc.conf says, only this service's settings. */
		own->n = 0;
		snprintf(var, sizeof(var), "%s_socket", k->rcvar);
		if (vars_get(v, var, &idx) != NULL)
			vars_set(own, var, v->value[idx], v->file[idx],
			    v->line[idx]);
		snprintf(var, sizeof(var), "%s_flags", k->rcvar);
		if (vars_get(v, var, &idx) != NULL)
			vars_set(own, var, v->value[idx], v->file[idx],
			    v->line[idx]);
		socket_of(r, k, own, NULL, command, note);
	}
	free(own);
}

/* OpenBSD: rc.conf.local's pkg_scripts and NAME_flags. */
static void
detect_openbsd(struct run *r, struct vars *v)
{
	const struct known	*k;
	struct vars		*own;
	char			 scripts[LINE_MAX_LEN], var[96], rel[REL_MAX];
	char			 note[DETECT_NOTE_MAX], command[160], *w, *save;
	const char		*val;
	size_t			 i, idx, at;

	v->n = 0;
	if (read_vars(r, "etc/rc.conf.local", v, 1) > 0 ||
	    (val = vars_get(v, "pkg_scripts", &at)) == NULL)
		return;
	if ((own = malloc(sizeof(*own))) == NULL) {
		r->error = 1;
		return;
	}
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		k = &known[i];
		strlcpy(scripts, val, sizeof(scripts));
		for (w = strtok_r(scripts, " \t", &save); w != NULL &&
		    strcmp(w, k->openbsd) != 0; w = strtok_r(NULL, " \t",
		    &save))
			;
		snprintf(rel, sizeof(rel), "etc/rc.d/%s", k->openbsd);
		if (w == NULL || !exists(r, rel))
			continue;
		snprintf(note, sizeof(note), "rc script /%s, enabled "
		    "(pkg_scripts in /%s:%d)", rel, v->file[at], v->line[at]);
		snprintf(command, sizeof(command), "/usr/sbin/rcctl start %s",
		    k->openbsd);
		own->n = 0;
		snprintf(var, sizeof(var), "%s_flags", k->openbsd);
		if (vars_get(v, var, &idx) != NULL)
			vars_set(own, var, v->value[idx], v->file[idx],
			    v->line[idx]);
		socket_of(r, k, own, NULL, command, note);
	}
	free(own);
}

/* The suggested chain order, then the name. */
static int
by_rank(const void *a, const void *b)
{
	const struct detected	*da = a, *db = b;

	if (da->rank != db->rank)
		return da->rank < db->rank ? -1 : 1;
	return strcmp(da->name, db->name);
}

/*
 * What is installed and enabled under root, in the chain order
 * milterd -D suggests (see by_rank), into
 * *found (free() it).  Warnings go to warnfp (NULL: the log).  -1 only
 * when memory runs out.
 */
int
detect_run(const char *root, struct detected **found, size_t *nfound,
    FILE *warnfp)
{
	struct run	 r;
	struct vars	*v;

	memset(&r, 0, sizeof(r));
	r.root = root[0] != '\0' ? root : "/";
	r.warn = warnfp;
	if ((v = malloc(sizeof(*v))) == NULL)
		return -1;
	if (exists(&r, "usr/local/etc/rc.d"))
		r.layout = LAYOUT_FREEBSD;
	else if (exists(&r, "etc/rc.conf.local") && !exists(&r,
	    "etc/systemd"))
		r.layout = LAYOUT_OPENBSD;
	else if (exists(&r, "etc/redhat-release"))
		r.layout = LAYOUT_REDHAT;
	else
		r.layout = LAYOUT_DEBIAN;
	switch (r.layout) {
	case LAYOUT_FREEBSD:
		detect_freebsd(&r, v);
		break;
	case LAYOUT_OPENBSD:
		detect_openbsd(&r, v);
		break;
	default:
		detect_linux(&r, v);
		break;
	}
	free(v);
	if (r.error) {
		free(r.found);
		return -1;
	}
	if (r.nfound > 0)
		qsort(r.found, r.nfound, sizeof(*r.found), by_rank);
	*found = r.found;
	*nfound = r.nfound;
	return 0;
}

/*
 * As milter sections, each with where its facts came from, that work
 * as they are when pasted into milterd.conf: in a chain order that
 * makes sense (the order of the sections is the chain), and without a
 * root command the launcher would refuse (allow_root_command is false
 * by default), so the command is there commented out.
 */
void
detect_print(FILE *fp, const struct detected *d, size_t n)
{
	size_t	i;

	if (n == 0) {
		fprintf(fp, "# milterd -D: no enabled milter found.\n");
		return;
	}
	fputs("# Milters found by milterd -D.  The order of the sections is "
	    "the chain:\n"
	    "# milterd asks them in this order, as the MTA asks the milters "
	    "of its\n"
	    "# own list.  The order below is a default: greylisting first "
	    "(cheap\n"
	    "# refusals), SPF and DKIM verification, then DMARC, which "
	    "needs their\n"
	    "# results, then virus and spam scanners, then milters of "
	    "unknown role\n"
	    "# (check their place).  Signing belongs last, so that the "
	    "signature\n"
	    "# covers what the milters before it change.  OpenDKIM "
	    "verifies and\n"
	    "# signs in one process; it is placed before DMARC for its "
	    "verification,\n"
	    "# so a message it signs is signed before the milters after it "
	    "change\n"
	    "# it: headers they add are not covered, and a change to a "
	    "signed\n"
	    "# header or to the body breaks the signature.  To sign last, "
	    "run a\n"
	    "# second OpenDKIM that only signs (Mode s) in a section at "
	    "the end, and\n"
	    "# let this one only verify (Mode v).\n"
	    "#\n"
	    "# command is how the service manager starts the milter, as "
	    "root.  For\n"
	    "# milterd to start a milter that is down, uncomment command "
	    "and user\n"
	    "# and set allow_root_command = true, which lets every "
	    "section's command\n"
	    "# run as root.\n", fp);
	for (i = 0; i < n; i++)
		fprintf(fp, "\n# %s: %s\n# socket: %s\nmilter \"%s\" {\n"
		    "\tsocket = \"%s\"\n\t#command = \"%s\"\n"
		    "\t#user = \"root\"\n}\n", d[i].name, d[i].service_note,
		    d[i].socket_note, d[i].name, d[i].socket, d[i].command);
}
