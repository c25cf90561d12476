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
 * cond.c: the built-in condition types.  A condition is decided at
 * the first command that brings what it looks at (its stages): the
 * client at connect, the sender and the macros at MAIL, each recipient
 * at its RCPT; a lua condition at each command its script has a
 * function for.  The conditions on the message (size, header, verdict,
 * a lua eom()) are decided at end of message, for each child on the
 * copy as the children before it left it.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cond.h"
#include "milter.h"
#include "util.h"

/* S25R's rules for a dynamic-looking host name (Asami's list). */
static const char	*s25r_rules[] = {
	"^[^.]*[0-9][^0-9.]+[0-9].*\\.",
	"^[^.]*[0-9]{5}",
	"^([^.]+\\.)?[0-9][^.]*\\.[^.]+\\..+\\.[a-z]",
	"^[^.]*[0-9]\\.[^.]*[0-9]-[0-9]",
	"^[^.]*[0-9]\\.[^.]*[0-9]\\.[^.]+\\..+\\.",
	"^(dhcp|dialup|ppp|[achrsvx]?dsl)[^.]*[0-9]",
};
#define NRULES	(sizeof(s25r_rules) / sizeof(s25r_rules[0]))

/* "local": loopback, private and link-local ranges. */
static const char	*local_nets[] = {
	"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
	"169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10",
};

static const char	*type_names[] = {
	"network", "authenticated", "s25r", "sender", "macro", "stress",
	"recipient", "dnsbl", "lua", "size", "header", "verdict", "table",
	"any", "all",
};

static const char	*verdict_words[NCV] = {
	"accept", "reject", "tempfail", "discard", "quarantine",
	CV_MODIFIED_NAME,
};

/* What header and verdict conditions look for, and whether they saw it. */
struct cond_seek {
	const struct cond	*c;
	int			 hit;
};

static int	list_has(const struct cond *, const char *);
static int	table_holds(const struct cond *, const struct cond_view *);
static int	latest_stage(const struct cond *, size_t, size_t);
static int	add_list(struct cond *, const char *);
static int	name_index(const char *const *, size_t, const char *);
static void	header_seen(void *, const char *, const char *);
static void	verdict_seen(void *, const char *, const char *);

const char *
cond_type_name(enum cond_type t)
{
	return type_names[t];
}

/* The index of s in names[n], -1 when not there. */
static int
name_index(const char *const *names, size_t n, const char *s)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

int
cond_type_parse(const char *s, enum cond_type *t)
{
	int	i = name_index(type_names, sizeof(type_names) /
		    sizeof(type_names[0]), s);

	if (i == -1)
		return -1;
	*t = (enum cond_type)i;
	return 0;
}

const char *
cond_verdict_name(enum cond_verdict v)
{
	return verdict_words[v];
}

int
cond_verdict_parse(const char *s, enum cond_verdict *v)
{
	int	i = name_index(verdict_words, NCV, s);

	if (i == -1)
		return -1;
	*v = (enum cond_verdict)i;
	return 0;
}

/*
 * The COND_BIT of the stage cmd begins (COND_EOM at end of message), 0
 * where none is decided.
 */
unsigned int
cond_at(char cmd)
{
	int	st = milter_stage(cmd);

	return (st >= COND_FIRST && st <= COND_LAST) || st == STAGE_EOM ?
	    COND_BIT(st) : 0;
}

/*
 * The commands whose arrival decides it.  A lua condition's are those
 * its script has functions for, known once a worker ran it.
 */
unsigned int
cond_default_stages(enum cond_type t)
{
	switch (t) {
	case COND_NETWORK:
	case COND_S25R:
	case COND_STRESS:
	case COND_DNSBL:
		return cond_at(SMFIC_CONNECT);
	case COND_RECIPIENT:
		return cond_at(SMFIC_RCPT);
	case COND_LUA:
		return COND_BIT(COND_LAST + 1) - 1;
	case COND_SIZE:
	case COND_HEADER:
	case COND_VERDICT:
		return COND_EOM;
	case COND_ANY:
	case COND_ALL:
		return 0;	/* its members' (cond_group_stages()) */
	default:
		return cond_at(SMFIC_MAIL);
	}
}

/* Is one of the conditions of that type? */
int
cond_any(const struct cond *conds, size_t n, enum cond_type t)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (conds[i].type == t)
			return 1;
	return 0;
}

/* "192.0.2.0/24", "2001:db8::/32", an address alone is a /32 or /128. */
int
cond_parse_cidr(const char *s, struct cidr *n)
{
	char		 buf[64], *slash;
	const char	*errstr;
	int		 max;

	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	memset(n, 0, sizeof(*n));
	if (addr_parse(buf, &n->family, n->addr) == -1)
		return -1;
	max = n->family == AF_INET ? 32 : 128;
	n->bits = max;
	if (slash != NULL) {
		n->bits = (int)strtonum(slash, 0, max, &errstr);
		if (errstr != NULL)
			return -1;
	}
	return 0;
}

/* One entry of `networks': a CIDR or "local". */
int
cond_add_nets(struct cond *c, const char *s, char *err, size_t errlen)
{
	struct cidr	*n;
	size_t		 i, count = strcmp(s, "local") == 0 ?
	    sizeof(local_nets) / sizeof(local_nets[0]) : 1;

	if ((n = reallocarray(c->nets, c->nnets + count, sizeof(*n))) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->nets = n;
	for (i = 0; i < count; i++)
		if (cond_parse_cidr(count > 1 ? local_nets[i] : s,
		    &c->nets[c->nnets + i]) == -1) {
			snprintf(err, errlen, "\"%s\": expected an address, "
			    "a network such as 192.0.2.0/24, or local", s);
			return -1;
		}
	c->nnets += count;
	return 0;
}

/* Is the address (family, bytes) in the network? */
int
cidr_match(const struct cidr *n, int family, const uint8_t *addr)
{
	int	full = n->bits / 8, rest = n->bits % 8;

	if (n->family != family || memcmp(n->addr, addr, (size_t)full) != 0)
		return 0;
	return rest == 0 || ((n->addr[full] ^ addr[full]) &
	    (0xff << (8 - rest))) == 0;
}

/* Dynamic-looking, or unknown: the name of a client S25R distrusts. */
int
cond_s25r_dynamic(const struct cond *c, const char *name)
{
	static regex_t	rules[NRULES];
	static int	compiled;
	size_t		i;
	int		hit = 0;

	for (i = 0; i < c->nallow; i++)
		if (regexec(&c->allow[i], name, 0, NULL, 0) == 0)
			return 0;
	for (i = 0; i < c->ndeny; i++)
		if (regexec(&c->deny[i], name, 0, NULL, 0) == 0)
			return 1;
	/* Not resolved: "unknown" (Postfix) or "[address]" (Sendmail). */
	if (name[0] == '\0' || name[0] == '[' || strcmp(name, "unknown") == 0)
		return 1;
	/* Compiled once per process; they are constants that compile. */
	if (!compiled) {
		for (i = 0; i < NRULES; i++)
			if (regcomp(&rules[i], s25r_rules[i], REG_EXTENDED |
			    REG_ICASE | REG_NOSUB) != 0)
				abort();
		compiled = 1;
	}
	for (i = 0; i < NRULES && !hit; i++)
		hit = regexec(&rules[i], name, 0, NULL, 0) == 0;
	return hit;
}

static int
add_list(struct cond *c, const char *entry)
{
	char	**l;

	if ((l = reallocarray(c->list, c->nlist + 1, sizeof(*l))) == NULL)
		return -1;
	c->list = l;
	if ((c->list[c->nlist] = strdup(entry)) == NULL)
		return -1;
	c->nlist++;
	return 0;
}

/*
 * The file's entries, one a line (# comments, blank lines skipped),
 * after the inline ones.
 */
int
cond_load_list(struct cond *c, char *err, size_t errlen)
{
	char	 line[1024], *s, *e;
	FILE	*fp;
	int	 lineno = 0;

	if (c->file == NULL)
		return 0;
	if ((fp = fopen(c->file, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", c->file, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if ((e = strchr(line, '#')) != NULL)
			*e = '\0';
		if (*(s = str_trim(line)) == '\0')
			continue;
		if (strchr(s, '@') == NULL || add_list(c, s) == -1) {
			snprintf(err, errlen, "%s:%d: \"%s\": expected @domain, "
			    "user@ or user@domain", c->file, lineno, s);
			fclose(fp);
			return -1;
		}
	}
	/* A directory opens, and fails at the first read. */
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", c->file, strerror(errno));
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}

/*
 * default_process_limit in DIR/main.cf into *limit: Postfix's own
 * default, 100, without one or without the file; -1 when it cannot be
 * read.
 */
static int
postfix_default_limit(const char *dir, uint64_t *limit, char *err,
    size_t errlen)
{
	char		 path[PATH_MAX], line[1024], *s, *v;
	const char	*errstr;
	uint64_t	 n;
	FILE		*fp;

	*limit = 100;
	snprintf(path, sizeof(path), "%s/main.cf", dir);
	if ((fp = fopen(path, "r")) == NULL && errno == ENOENT)
		return 0;
	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		s = str_trim(line);
		if (strncmp(s, "default_process_limit", 21) != 0 ||
		    (v = strchr(s, '=')) == NULL)
			continue;
		v = str_trim(v + 1);
		n = (uint64_t)strtonum(v, 1, 1000000, &errstr);
		if (errstr == NULL)
			*limit = n;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}

/*
 * How many smtpd processes Postfix (its configuration in dir) runs at
 * most: the maxproc of every inet (or, behind postscreen, pass) service
 * running smtpd in master.cf, "-" being default_process_limit.
 */
int
cond_postfix_limit(const char *dir, uint64_t *limit, char *err,
    size_t errlen)
{
	char		 path[PATH_MAX], line[1024], *f[8], *save;
	const char	*errstr;
	uint64_t	 total = 0, n;
	FILE		*fp;
	int		 i;

	snprintf(path, sizeof(path), "%s/master.cf", dir);
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		/* Continuation lines (leading blanks) hold -o options. */
		if (line[0] == '#' || isspace((unsigned char)line[0]))
			continue;
		for (i = 0, f[0] = strtok_r(line, " \t\r\n", &save);
		    f[i] != NULL && i < 7; f[++i] = strtok_r(NULL, " \t\r\n",
		    &save))
			;
		/* service type private unpriv chroot wakeup maxproc command */
		/* inet, or pass behind postscreen. */
		if (i < 7 || f[7] == NULL || (strcmp(f[1], "inet") != 0 &&
		    strcmp(f[1], "pass") != 0) || strcmp(f[7], "smtpd") != 0)
			continue;
		if (strcmp(f[6], "-") == 0) {
			if (postfix_default_limit(dir, &n, err, errlen) == -1) {
				fclose(fp);
				return -1;
			}
		} else {
			n = (uint64_t)strtonum(f[6], 0, 1000000, &errstr);
			if (errstr != NULL)
				continue;
		}
		total += n;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		fclose(fp);
		return -1;
	}
	fclose(fp);
	if (total == 0) {
		snprintf(err, errlen, "%s: no smtpd service with a process "
		    "limit", path);
		return -1;
	}
	*limit = total;
	return 0;
}

/* One octet of a zone's pattern: "2", "[2..11]" or "[2;4;8]". */
static int
octet_set(const char *s, uint8_t set[32])
{
	char		 buf[128], *p, *save, *dots;
	const char	*errstr;
	long long	 lo, hi, v;

	memset(set, 0, 32);
	if (s[0] != '[') {
		v = strtonum(s, 0, 255, &errstr);
		if (errstr != NULL)
			return -1;
		set[v / 8] |= 1 << (v % 8);
		return 0;
	}
	if (strlcpy(buf, s + 1, sizeof(buf)) >= sizeof(buf) ||
	    (p = strchr(buf, ']')) == NULL || p[1] != '\0')
		return -1;
	*p = '\0';
	for (p = strtok_r(buf, ";", &save); p != NULL;
	    p = strtok_r(NULL, ";", &save)) {
		if ((dots = strstr(p, "..")) != NULL)
			*dots = '\0';
		lo = strtonum(p, 0, 255, &errstr);
		if (errstr != NULL)
			return -1;
		hi = dots == NULL ? lo : strtonum(dots + 2, lo, 255, &errstr);
		if (errstr != NULL)
			return -1;
		for (v = lo; v <= hi; v++)
			set[v / 8] |= 1 << (v % 8);
	}
	return 0;
}

/* "zone" or "zone=a.b.c.d", each octet as octet_set() takes it. */
int
cond_dnsbl_zone(const char *s, struct dnsbl_zone *z)
{
	char	 buf[DNSBL_NAME_MAX], *eq, *o, *p;
	int	 i = 0, last = 0;

	memset(z, 0, sizeof(*z));
	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	if ((eq = strchr(buf, '=')) != NULL)
		*eq++ = '\0';
	if (buf[0] == '\0' || buf[0] == '.' || strspn(buf,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-._") != strlen(buf))
		return -1;
	z->any = eq == NULL;
	/* Octets end at a dot outside brackets. */
	for (o = p = eq; p != NULL && !last; o = ++p) {
		while (*p != '\0' && *p != '.')
			p += *p == '[' && strchr(p, ']') != NULL ?
			    strchr(p, ']') - p + 1 : 1;
		last = *p == '\0';
		*p = '\0';
		if (i == 4 || octet_set(o, z->octets[i++]) == -1)
			return -1;
	}
	if (!z->any && i != 4)
		return -1;
	if ((z->zone = strdup(buf)) == NULL)
		return -1;
	return 0;
}

/*
 * The name to look up for a client in a zone: the IPv4 address's
 * octets, or the IPv6 address's nibbles, reversed (RFC 5782).
 */
int
cond_dnsbl_name(const char *client, const char *zone, char *name,
    size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	uint8_t			 a[16];
	char			 rev[80], *p = rev;
	int			 family, i;

	if (addr_parse(client, &family, a) == -1)
		return -1;
	if (family == AF_INET)
		snprintf(rev, sizeof(rev), "%u.%u.%u.%u.", a[3], a[2], a[1],
		    a[0]);
	else
		for (i = 15; i >= 0; i--) {
			*p++ = hex[a[i] & 0xf];
			*p++ = '.';
			*p++ = hex[a[i] >> 4];
			*p++ = '.';
		}
	if (family != AF_INET)
		*p = '\0';
	if ((size_t)snprintf(name, len, "%s%s", rev, zone) >= len)
		return -1;
	return 0;
}

/* Does one of the answers match the zone's pattern? */
static int
dnsbl_listed(const struct dnsbl_zone *z, const struct dns_answer *ans)
{
	int	i, j;

	for (i = 0; ans != NULL && i < ans->naddr; i++) {
		for (j = 0; j < 4 && (z->any || (z->octets[j][ans->addr[i][j] /
		    8] & (1 << (ans->addr[i][j] % 8)))); j++)
			;
		if (j == 4)
			return 1;
	}
	return 0;
}

/* Is the address (brackets allowed) on the list? */
static int
list_has(const struct cond *c, const char *address)
{
	char		 addr[512], *at;
	const char	*e;
	size_t		 i, n;

	if (*address == '<')
		address++;
	if (strlcpy(addr, address, sizeof(addr)) >= sizeof(addr))
		return 0;
	if ((n = strlen(addr)) > 0 && addr[n - 1] == '>')
		addr[n - 1] = '\0';
	if ((at = strrchr(addr, '@')) == NULL)
		return 0;
	for (i = 0; i < c->nlist; i++) {
		e = c->list[i];
		if (e[0] == '@' ? strcasecmp(e + 1, at + 1) == 0 :
		    e[strlen(e) - 1] == '@' ? (size_t)(at - addr) ==
		    strlen(e) - 1 && strncasecmp(e, addr, strlen(e) - 1) ==
		    0 : strcasecmp(e, addr) == 0)
			return 1;
	}
	return 0;
}

/* A header of the copy: the one sought, and its value matches? */
static void
header_seen(void *arg, const char *name, const char *value)
{
	struct cond_seek	*k = arg;

	if (!k->hit && strcasecmp(name, k->c->header) == 0 &&
	    regexec(&k->c->re, value, 0, NULL, 0) == 0)
		k->hit = 1;
}

/* A child's verdict in this message: the one sought, one of is? */
static void
verdict_seen(void *arg, const char *child, const char *verdict)
{
	struct cond_seek	*k = arg;
	enum cond_verdict	 v;

	if (strcmp(child, k->c->child) == 0 &&
	    cond_verdict_parse(verdict, &v) == 0 &&
	    (k->c->verdicts & (1U << v)))
		k->hit = 1;
}

/*
 * Does it hold for what the session knows?  1 or 0; -1 when it cannot
 * tell (a script's error, logged), for the milter's condition_error.
 */
int
cond_eval(const struct cond *c, const struct cond_view *v)
{
	uint8_t		 addr[16];
	char		 name[DNSBL_NAME_MAX];
	const char	*m;
	struct cond_seek seek = { c, 0 };
	size_t		 i;
	int		 family;

	switch (c->type) {
	case COND_NETWORK:
		if (v->client_addr == NULL || addr_parse(v->client_addr,
		    &family, addr) == -1)
			return 0;
		for (i = 0; i < c->nnets; i++)
			if (cidr_match(&c->nets[i], family, addr))
				return 1;
		return 0;
	case COND_AUTHENTICATED:
		m = v->macro(v->arg, "auth_authen");
		return m != NULL && m[0] != '\0';
	case COND_S25R:
		if (v->family == '6' && c->ipv6_dynamic)
			return 1;
		return cond_s25r_dynamic(c, v->client_name != NULL ?
		    v->client_name : "");
	case COND_SENDER:
		return v->sender != NULL && list_has(c, v->sender);
	case COND_MACRO:
		m = v->macro(v->arg, c->macro);
		return m != NULL && regexec(&c->re, m, 0, NULL, 0) == 0;
	case COND_STRESS:
		return v->open_sessions > c->threshold;
	case COND_RECIPIENT:
		return v->rcpt != NULL && list_has(c, v->rcpt);
	case COND_DNSBL:
		for (i = 0; i < c->nzones && v->client_addr != NULL; i++)
			if (cond_dnsbl_name(v->client_addr, c->zones[i].zone,
			    name, sizeof(name)) == 0 && v->dns != NULL &&
			    dnsbl_listed(&c->zones[i], v->dns(v->arg, name)))
				return 1;
		return 0;
	case COND_LUA:
		return luacond_eval(c, v);
	case COND_SIZE:
		return v->size >= c->size_min && v->size <= c->size_max;
	case COND_HEADER:
		if (v->each_header != NULL)
			v->each_header(v->arg, header_seen, &seek);
		return seek.hit;
	case COND_VERDICT:
		if (v->each_verdict != NULL)
			v->each_verdict(v->arg, verdict_seen, &seek);
		return seek.hit;
	case COND_TABLE:
		return table_holds(c, v);
	case COND_ANY:
	case COND_ALL:
		break;		/* apply.c: cond_group_eval() */
	}
	return 0;
}

/* Does the table's result for what its key names hold? */
static int
table_holds(const struct cond *c, const struct cond_view *v)
{
	const char	*r = NULL;

	switch (c->key) {
	case TABLE_SENDER:
		if (v->sender != NULL)
			r = table_address(c->table, v->sender);
		break;
	case TABLE_RECIPIENT:
		if (v->rcpt != NULL)
			r = table_address(c->table, v->rcpt);
		break;
	case TABLE_CLIENT:
		r = table_client(c->table, v->client_name, v->client_addr);
		break;
	}
	return table_value_in(r, c->values, c->nvalues);
}

int
cond_is_group(const struct cond *c)
{
	return c->type == COND_ANY || c->type == COND_ALL;
}

/*
 * A group's value from its members' (member() gives 1, 0, or -1 when
 * one cannot tell): any holds when one member holds, all when every
 * one does; a member that cannot tell makes the group -1 only when
 * the others do not decide it.
 */
int
cond_group_eval(const struct cond *c, int (*member)(void *,
    const struct cond_ref *), void *arg)
{
	size_t	i;
	int	any = c->type == COND_ANY, unknown = 0, r;

	for (i = 0; i < c->nmembers; i++) {
		if ((r = member(arg, &c->members[i])) == -1) {
			unknown = 1;
			continue;
		}
		if ((r == 1) != c->members[i].negate) {
			if (any)
				return 1;
		} else if (!any)
			return 0;
	}
	return unknown ? -1 : !any;
}

/*
 * The groups' of names into members (conf.c checked at load that each
 * exists and that there is no cycle); members marked grouped.
 */
int
cond_resolve_groups(struct cond *conds, size_t n, char *err, size_t errlen)
{
	struct cond	*c;
	const char	*name;
	size_t		 i, j, k;

	for (i = 0; i < n; i++) {
		c = &conds[i];
		if (!cond_is_group(c))
			continue;
		if ((c->members = calloc(c->nof, sizeof(*c->members))) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		for (j = 0; j < c->nof; j++) {
			name = c->of[j] + (c->of[j][0] == '!');
			for (k = 0; k < n && strcmp(conds[k].name, name) != 0;
			    k++)
				;
			if (k == n || k == i) {
				snprintf(err, errlen, "condition \"%s\": of: no "
				    "condition \"%s\"", c->name, name);
				return -1;
			}
			c->members[j].idx = k;
			c->members[j].negate = c->of[j][0] == '!';
			conds[k].grouped = 1;
		}
		c->nmembers = c->nof;
	}
	return 0;
}

/* The latest stage the condition is decided at (0: none yet). */
static int
latest_stage(const struct cond *conds, size_t idx, size_t depth)
{
	const struct cond	*c = &conds[idx];
	size_t			 i;
	int			 st, max = 0;

	if (!cond_is_group(c)) {
		for (st = STAGE_EOM; st >= COND_FIRST; st--)
			if (c->stages & COND_BIT(st))
				return st;
		return 0;
	}
	for (i = 0; i < c->nmembers && depth > 0; i++)
		if ((st = latest_stage(conds, c->members[i].idx, depth - 1)) >
		    max)
			max = st;
	return max;
}

/*
 * A group is decided once, at the latest stage any of its members is
 * decided at (a lua member's are known once a worker ran its script:
 * called again then); whether it has a lua member, deep in it.
 */
void
cond_group_stages(struct cond *conds, size_t n)
{
	size_t	i, j;
	int	st;

	for (i = 0; i < n; i++) {
		if (!cond_is_group(&conds[i]))
			continue;
		conds[i].stages = (st = latest_stage(conds, i, n)) > 0 ?
		    COND_BIT(st) : 0;
		/* Known once, not looked for at every command. */
		for (j = 0; j < n && !conds[i].lua_member; j++)
			conds[i].lua_member = conds[j].type == COND_LUA &&
			    cond_reaches(conds, i, j);
	}
}

/* Is condition to the condition from, or one of its members? */
int
cond_reaches(const struct cond *conds, size_t from, size_t to)
{
	size_t	i;

	if (from == to)
		return 1;
	for (i = 0; i < conds[from].nmembers; i++)
		if (conds[from].members[i].idx != from &&
		    cond_reaches(conds, conds[from].members[i].idx, to))
			return 1;
	return 0;
}

void
cond_free(struct cond *c)
{
	size_t	i;

	free(c->name);
	free(c->source);
	free(c->nets);
	for (i = 0; i < c->nallow; i++)
		regfree(&c->allow[i]);
	for (i = 0; i < c->ndeny; i++)
		regfree(&c->deny[i]);
	free(c->allow);
	free(c->deny);
	strv_free(c->list, c->nlist);
	free(c->file);
	free(c->macro);
	if (c->has_re)
		regfree(&c->re);
	for (i = 0; i < c->nzones; i++)
		free(c->zones[i].zone);
	free(c->zones);
	free(c->script);
	strv_free(c->args, c->nargs);
	strv_free(c->macros, c->nmacros);
	free(c->code);
	free(c->header);
	free(c->child);
	table_free(c->table);
	strv_free(c->values, c->nvalues);
	strv_free(c->of, c->nof);
	free(c->members);
}
