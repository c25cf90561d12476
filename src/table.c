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
 * table.c: Postfix lookup tables for the table condition.
 *
 * A table is read whole when the configuration is loaded (by the
 * master, as root, and again at each reload): texthash, cidr and pcre
 * from their source text, cdb and lmdb from the files postmap made,
 * entry by entry.  The workers inherit the copy, so that a lookup does
 * no I/O on the event loop, an LMDB environment never crosses a fork()
 * (LMDB forbids it) and a chroot does not hide the files.  The root
 * master reads only a file it could have written itself: a regular
 * file (not a symbolic link), owned by root (or its own user), not
 * writable by group or others (check_file()).
 *
 * Lookups follow Postfix's access(5): the indexed types (texthash,
 * cdb, lmdb) are asked for the partial keys in smtpd's order; cidr and
 * pcre tables only for the whole string, first match wins.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cdb.h>
#include <lmdb.h>
#define PCRE2_CODE_UNIT_WIDTH	8
#include <pcre2.h>

#include "cond.h"
#include "log.h"
#include "table.h"
#include "util.h"

/* An indexed type's entry, keys folded to lower case, sorted. */
struct table_entry {
	char	*key;
	char	*value;
	size_t	 seq;		/* its place in the file */
};

/* A cidr or pcre table's line, in the file's order. */
struct table_rule {
	int		 negate;	/* !pattern */
	struct cidr	 net;
	pcre2_code	*re;
	char		*value;
};

struct table {
	enum map_type		 type;
	struct table_entry	*ents;
	size_t			 nents;
	struct table_rule	*rules;
	size_t			 nrules;
};

static const char	*map_names[] = {
	"texthash", "cidr", "pcre", "cdb", "lmdb",
};

static const char	*key_names[] = {
	"sender", "recipient", "client",
};

static int	check_file(const char *, int, char *, size_t);
static int	open_checked(const char *, char *, size_t);
static void	add_entry(struct table *, const char *, size_t, const char *,
		    size_t);
static int	entry_cmp(const void *, const void *);
static int	entry_cmp_key(const void *, const void *);
static void	sort_entries(struct table *);
static int	read_lines(struct table *, const char *, int, char *,
		    size_t);
static int	parse_line(struct table *, char *, char *, size_t);
static struct table_rule *add_rule(struct table *, int, const char *);
static int	parse_cidr(struct table *, char *, char *, char *, size_t);
static int	parse_pcre(struct table *, char *, char *, char *, size_t);
static int	read_cdb(struct table *, const char *, char *, size_t);
static int	read_lmdb(struct table *, const char *, char *, size_t);
static const char *match_rules(const struct table *, const char *);
static const char *domain_get(const struct table *, const char *);

/*
 * May the root master read fd (path)?  A regular file owned by root or
 * by the master's own user, not writable by group or others: what an
 * unprivileged user cannot have written.
 */
static int
check_file(const char *path, int fd, char *err, size_t errlen)
{
	struct stat	st;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	if ((st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errlen, "%s: owned by uid %u, mode %04o: a "
		    "table must be owned by root and writable by no one else "
		    "(chown root; chmod go-w)", path, (unsigned)st.st_uid,
		    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* path opened for reading once check_file() allows it; -1 with err. */
static int
open_checked(const char *path, char *err, size_t errlen)
{
	int	fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
		    errno == ELOOP ? " (a symbolic link: name the file "
		    "itself)" : "");
		return -1;
	}
	if (check_file(path, fd, err, errlen) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* "TYPE:PATH" read into a new table; NULL with err. */
struct table *
table_open(const char *spec, char *err, size_t errlen)
{
	struct table	*t;
	const char	*colon, *path;
	char		 file[1024];
	size_t		 i;
	int		 rc, fd;

	if ((colon = strchr(spec, ':')) == NULL || colon[1] != '/') {
		snprintf(err, errlen, "\"%s\": expected TYPE:/absolute/path, "
		    "TYPE one of texthash, cidr, pcre, cdb, lmdb", spec);
		return NULL;
	}
	path = colon + 1;
	for (i = 0; i < sizeof(map_names) / sizeof(map_names[0]); i++)
		if (strlen(map_names[i]) == (size_t)(colon - spec) &&
		    strncmp(spec, map_names[i], (size_t)(colon - spec)) == 0)
			break;
	if (i == sizeof(map_names) / sizeof(map_names[0])) {
		snprintf(err, errlen, "\"%.*s\": map type not supported: "
		    "expected texthash, cidr, pcre, cdb or lmdb",
		    (int)(colon - spec), spec);
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->type = (enum map_type)i;
	switch (t->type) {
	case MAP_CDB:
	case MAP_LMDB:
		/* postmap's file: PATH.cdb, PATH.lmdb. */
		if ((size_t)snprintf(file, sizeof(file), "%s.%s", path,
		    map_names[t->type]) >= sizeof(file)) {
			snprintf(err, errlen, "%s: path too long", path);
			rc = -1;
		} else if (t->type == MAP_CDB)
			rc = read_cdb(t, file, err, errlen);
		else
			rc = read_lmdb(t, file, err, errlen);
		break;
	default:
		if ((fd = open_checked(path, err, errlen)) == -1)
			rc = -1;
		else
			rc = read_lines(t, path, fd, err, errlen);
		break;
	}
	if (rc == -1) {
		table_free(t);
		return NULL;
	}
	sort_entries(t);
	return t;
}

void
table_free(struct table *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nents; i++) {
		free(t->ents[i].key);
		free(t->ents[i].value);
	}
	for (i = 0; i < t->nrules; i++) {
		pcre2_code_free(t->rules[i].re);
		free(t->rules[i].value);
	}
	free(t->ents);
	free(t->rules);
	free(t);
}

enum map_type
table_type(const struct table *t)
{
	return t->type;
}

int
table_key_parse(const char *s, enum table_key *k)
{
	size_t	i;

	for (i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++)
		if (strcmp(s, key_names[i]) == 0) {
			*k = (enum table_key)i;
			return 0;
		}
	return -1;
}

/* A key (folded to lower case) and its value, as postmap stores them. */
static void
add_entry(struct table *t, const char *key, size_t klen, const char *val,
    size_t vlen)
{
	struct table_entry	*e;
	size_t			 i;

	/* Postfix's hash and lmdb files may end each with a NUL. */
	if (klen > 0 && key[klen - 1] == '\0')
		klen--;
	if (vlen > 0 && val[vlen - 1] == '\0')
		vlen--;
	if ((e = reallocarray(t->ents, t->nents + 1, sizeof(*e))) == NULL)
		fatal("%s: out of memory", __func__);
	t->ents = e;
	e = &t->ents[t->nents];
	e->seq = t->nents++;
	if ((e->key = strndup(key, klen)) == NULL ||
	    (e->value = strndup(val, vlen)) == NULL)
		fatal("%s: out of memory", __func__);
	for (i = 0; e->key[i] != '\0'; i++)
		e->key[i] = (char)tolower((unsigned char)e->key[i]);
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct table_entry	*x = a, *y = b;

	int				 c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
entry_cmp_key(const void *a, const void *b)
{
	const struct table_entry	*x = a, *y = b;

	return strcmp(x->key, y->key);
}

/*
 * Sorted for bsearch(); of duplicate keys the first in the file stays,
 * as in Postfix's texthash.
 */
static void
sort_entries(struct table *t)
{
	size_t	i, j;

	if (t->nents > 1)
		qsort(t->ents, t->nents, sizeof(*t->ents), entry_cmp);
	for (i = j = 0; i < t->nents; i++) {
		if (j > 0 && strcmp(t->ents[j - 1].key, t->ents[i].key) == 0) {
			free(t->ents[i].key);
			free(t->ents[i].value);
			continue;
		}
		t->ents[j++] = t->ents[i];
	}
	t->nents = j;
}

/*
 * A source file (texthash, cidr, pcre), Postfix's syntax: "pattern
 * value" a line, a line that begins with blanks continues the one
 * before, blank lines and lines whose first non-blank is # are
 * skipped.  Errors as path:line.
 */
static int
read_lines(struct table *t, const char *path, int fd, char *err,
    size_t errlen)
{
	FILE	*fp;
	char	*line = NULL, *logical = NULL, *s, *p;
	char	 msg[512];
	size_t	 cap = 0;
	ssize_t	 n;
	int	 lineno = 0, start = 0, rc = 0;

	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		n = getline(&line, &cap, fp);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		s = n >= 0 ? line + strspn(line, " \t\r") : NULL;
		if (s != NULL && (*s == '\0' || *s == '#')) {
			lineno++;
			continue;
		}
		/* A continuation: joined with one blank. */
		if (s != NULL && s != line && logical != NULL) {
			lineno++;
			p = logical;
			if (asprintf(&logical, "%s %s", p, s) == -1)
				fatal("%s: asprintf", __func__);
			free(p);
			continue;
		}
		if (logical != NULL) {
			if (parse_line(t, logical, msg, sizeof(msg)) == -1) {
				snprintf(err, errlen, "%s:%d: %s", path, start,
				    msg);
				rc = -1;
				break;
			}
			free(logical);
			logical = NULL;
		}
		if (s == NULL)
			break;
		start = ++lineno;
		if (s != line) {
			snprintf(err, errlen, "%s:%d: a continuation line "
			    "without a line before it", path, lineno);
			rc = -1;
			break;
		}
		if ((logical = strdup(s)) == NULL)
			fatal("%s: strdup", __func__);
	}
	if (rc == 0 && ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	free(logical);
	free(line);
	fclose(fp);
	return rc;
}

/* One logical line into t; -1 with the reason in err. */
static int
parse_line(struct table *t, char *s, char *err, size_t errlen)
{
	char	*key, *val;

	key = s = str_trim(s);
	if (t->type == MAP_PCRE)
		return parse_pcre(t, s, key, err, errlen);
	val = key + strcspn(key, " \t");
	if (*val != '\0')
		*val++ = '\0';
	val = str_trim(val);
	if (strcasecmp(key, "if") == 0 || strcasecmp(key, "endif") == 0) {
		snprintf(err, errlen, "\"%s\": if/endif blocks are not "
		    "supported by milterd", key);
		return -1;
	}
	if (*val == '\0') {
		snprintf(err, errlen, "\"%s\": expected a pattern, blanks, a "
		    "result", key);
		return -1;
	}
	if (t->type == MAP_CIDR)
		return parse_cidr(t, key, val, err, errlen);
	add_entry(t, key, strlen(key), val, strlen(val));
	return 0;
}

/* A cidr or pcre line's rule, its pattern for the caller to set. */
static struct table_rule *
add_rule(struct table *t, int negate, const char *value)
{
	struct table_rule	*r;

	if ((r = reallocarray(t->rules, t->nrules + 1, sizeof(*r))) == NULL)
		fatal("%s: reallocarray", __func__);
	t->rules = r;
	r = &t->rules[t->nrules++];
	memset(r, 0, sizeof(*r));
	r->negate = negate;
	if ((r->value = strdup(value)) == NULL)
		fatal("%s: strdup", __func__);
	return r;
}

/* "[!]address[/bits] result": the address may be in [brackets]. */
static int
parse_cidr(struct table *t, char *key, char *val, char *err, size_t errlen)
{
	struct cidr		 net;
	char			 buf[128], *p, *q;
	int			 negate = *key == '!', i;

	p = key + negate;
	if (*p == '[' && (q = strchr(p, ']')) != NULL) {
		snprintf(buf, sizeof(buf), "%.*s%s", (int)(q - p - 1), p + 1,
		    q + 1);
		p = buf;
	}
	if (cond_parse_cidr(p, &net) == -1) {
		snprintf(err, errlen, "\"%s\": expected an address or a "
		    "network such as 192.0.2.0/24", key);
		return -1;
	}
	/* Postfix refuses host bits beyond the prefix; so does milterd. */
	for (i = net.bits; i < (net.family == AF_INET ? 32 : 128); i++)
		if (net.addr[i / 8] & (0x80 >> (i % 8))) {
			snprintf(err, errlen, "\"%s\": bits set beyond the "
			    "prefix length", key);
			return -1;
		}
	add_rule(t, negate, val)->net = net;
	return 0;
}

/*
 * "[!]/regex/flags result": any delimiter but a blank or a backslash;
 * flags as pcre_table(5): i (case-sensitive: Postfix matches without
 * case by default), m, s, x, A, E, U toggle PCRE2's options.
 */
static int
parse_pcre(struct table *t, char *s, char *key, char *err, size_t errlen)
{
	pcre2_code		*re;
	PCRE2_SIZE		 off;
	uint32_t		 opts = PCRE2_CASELESS;
	char			 delim, *end, *f, *val;
	int			 negate = *s == '!', code;

	(void)key;
	s += negate;
	delim = *s;
	if (delim == '\0' || isspace((unsigned char)delim) || delim == '\\' ||
	    isalnum((unsigned char)delim) || (end = strchr(s + 1, delim)) ==
	    NULL) {
		snprintf(err, errlen, "\"%s\": expected /regex/flags and a "
		    "result", s);
		return -1;
	}
	*end = '\0';
	for (f = end + 1; *f != '\0' && !isspace((unsigned char)*f); f++)
		switch (*f) {
		case 'i': opts ^= PCRE2_CASELESS; break;
		case 'm': opts ^= PCRE2_MULTILINE; break;
		case 's': opts ^= PCRE2_DOTALL; break;
		case 'x': opts ^= PCRE2_EXTENDED; break;
		case 'A': opts ^= PCRE2_ANCHORED; break;
		case 'E': opts ^= PCRE2_DOLLAR_ENDONLY; break;
		case 'U': opts ^= PCRE2_UNGREEDY; break;
		default:
			snprintf(err, errlen, "/%s/: flag '%c' not known: "
			    "expected i, m, s, x, A, E or U", s + 1, *f);
			return -1;
		}
	val = str_trim(f);
	if (*val == '\0') {
		snprintf(err, errlen, "/%s/: no result", s + 1);
		return -1;
	}
	if ((re = pcre2_compile((PCRE2_SPTR)(s + 1), PCRE2_ZERO_TERMINATED,
	    opts, &code, &off, NULL)) == NULL) {
		char	msg[128];

		pcre2_get_error_message(code, (PCRE2_UCHAR *)msg,
		    sizeof(msg));
		snprintf(err, errlen, "/%s/: %s at offset %zu", s + 1, msg,
		    (size_t)off);
		return -1;
	}
	add_rule(t, negate, val)->re = re;
	return 0;
}

/* PATH.cdb as postmap made it (keys and values without a NUL). */
static int
read_cdb(struct table *t, const char *file, char *err, size_t errlen)
{
	struct cdb	 cdb;
	unsigned int	 pos;
	int		 fd, rc = 0, n;

	if ((fd = open_checked(file, err, errlen)) == -1)
		return -1;
	if (cdb_init(&cdb, fd) == -1) {
		snprintf(err, errlen, "%s: not a cdb file (make it with "
		    "postmap cdb:PATH)", file);
		close(fd);
		return -1;
	}
	cdb_seqinit(&pos, &cdb);
	while ((n = cdb_seqnext(&pos, &cdb)) > 0)
		add_entry(t, cdb_getkey(&cdb), cdb_keylen(&cdb),
		    cdb_getdata(&cdb), cdb_datalen(&cdb));
	if (n < 0) {
		snprintf(err, errlen, "%s: a damaged cdb file (make it again "
		    "with postmap cdb:PATH)", file);
		rc = -1;
	}
	cdb_free(&cdb);
	close(fd);
	return rc;
}

/*
 * PATH.lmdb as postmap made it: a file, not a directory; Postfix locks
 * it itself, not with LMDB's lock file (MDB_NOLOCK).  The environment
 * is closed before the workers are forked.
 */
static int
read_lmdb(struct table *t, const char *file, char *err, size_t errlen)
{
	MDB_env		*env = NULL;
	MDB_txn		*txn = NULL;
	MDB_cursor	*cur = NULL;
	MDB_dbi		 dbi;
	MDB_val		 k, v;
	struct stat	 a, b;
	int		 fd, lfd, rc;

	/* The file checked, then the one LMDB opened: the same one. */
	if ((fd = open_checked(file, err, errlen)) == -1)
		return -1;
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_open(env, file, MDB_NOSUBDIR | MDB_RDONLY |
	    MDB_NOLOCK, 0)) != 0 || (rc = mdb_env_get_fd(env, &lfd)) != 0)
		goto bad;
	if (fstat(fd, &a) == -1 || fstat(lfd, &b) == -1 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		snprintf(err, errlen, "%s: changed while it was opened", file);
		goto out;
	}
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0 ||
	    (rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		goto bad;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0)
		add_entry(t, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
	if (rc == MDB_NOTFOUND) {
		mdb_cursor_close(cur);
		mdb_txn_abort(txn);
		mdb_env_close(env);
		close(fd);
		return 0;
	}
bad:
	snprintf(err, errlen, "%s: %s (make it with postmap lmdb:PATH)", file,
	    mdb_strerror(rc));
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
	close(fd);
	return -1;
}

/* A cidr or pcre table's first matching line for s: its result. */
static const char *
match_rules(const struct table *t, const char *s)
{
	pcre2_match_data	*md;
	uint8_t			 addr[16];
	size_t			 i;
	int			 family = 0, hit;

	if (t->type == MAP_CIDR && addr_parse(s, &family, addr) == -1)
		return NULL;
	for (i = 0; i < t->nrules; i++) {
		if (t->type == MAP_CIDR)
			hit = cidr_match(&t->rules[i].net, family, addr);
		else {
			if ((md = pcre2_match_data_create_from_pattern(
			    t->rules[i].re, NULL)) == NULL)
				fatal("%s: pcre2_match_data_create", __func__);
			hit = pcre2_match(t->rules[i].re, (PCRE2_SPTR)s,
			    PCRE2_ZERO_TERMINATED, 0, 0, md, NULL) >= 0;
			pcre2_match_data_free(md);
		}
		if (hit != t->rules[i].negate)
			return t->rules[i].value;
	}
	return NULL;
}

/*
 * The result for one key: an indexed table's entry (the key folded to
 * lower case), or a cidr or pcre table's first match.  NULL: none.
 */
const char *
table_get(const struct table *t, const char *key)
{
	struct table_entry	 k, *e;
	char			 low[1024];
	size_t			 i;

	if (t->type == MAP_CIDR || t->type == MAP_PCRE)
		return match_rules(t, key);
	for (i = 0; key[i] != '\0' && i < sizeof(low) - 1; i++)
		low[i] = (char)tolower((unsigned char)key[i]);
	if (key[i] != '\0')
		return NULL;
	low[i] = '\0';
	k.key = low;
	k.seq = 0;
	if (t->nents == 0 || (e = bsearch(&k, t->ents, t->nents,
	    sizeof(*t->ents), entry_cmp_key)) == NULL)
		return NULL;
	return e->value;
}

/*
 * A domain and its parent domains, top-level domain included, as
 * Postfix's smtpd with its default parent_domain_matches_subdomains
 * (which lists smtpd_access_maps): "example.com" also matches
 * "mx.example.com".
 */
static const char *
domain_get(const struct table *t, const char *domain)
{
	const char	*name, *v;

	for (name = domain; *name != '\0'; name++) {
		if ((v = table_get(t, name)) != NULL)
			return v;
		if ((name = strchr(name + 1, '.')) == NULL)
			break;
	}
	return NULL;
}

/*
 * A mail address (<brackets> allowed), in access(5)'s order: the whole
 * address, then for an indexed table the domain and its parents and
 * "user@".  The null sender is looked up as "<>" (Postfix's
 * smtpd_null_access_lookup_key).
 */
const char *
table_address(const struct table *t, const char *address)
{
	char		 addr[1024], *at;
	const char	*v;
	size_t		 n;

	if (*address == '<')
		address++;
	if (strlcpy(addr, address, sizeof(addr)) >= sizeof(addr))
		return NULL;
	if ((n = strlen(addr)) > 0 && addr[n - 1] == '>')
		addr[--n] = '\0';
	if (n == 0)
		return table_get(t, "<>");
	if (t->type == MAP_CIDR)
		return NULL;
	if ((v = table_get(t, addr)) != NULL || t->type == MAP_PCRE)
		return v;
	if ((at = strrchr(addr, '@')) == NULL)
		return NULL;
	if ((v = domain_get(t, at + 1)) != NULL)
		return v;
	at[1] = '\0';
	return table_get(t, addr);
}

/*
 * A client, as smtpd's check_client_access: its name and the name's
 * parent domains (unless "unknown"), then its address, and for an
 * indexed table the address's networks, an octet (IPv4) or a
 * colon-separated part (IPv6) less each time.
 */
const char *
table_client(const struct table *t, const char *name, const char *addr)
{
	char		 a[128], *cut;
	const char	*v;

	if (name != NULL && *name != '\0' && *name != '[' &&
	    strcmp(name, "unknown") != 0 && t->type != MAP_CIDR &&
	    (v = t->type == MAP_PCRE ? table_get(t, name) :
	    domain_get(t, name)) != NULL)
		return v;
	if (addr == NULL || strlcpy(a, addr, sizeof(a)) >= sizeof(a))
		return NULL;
	if ((v = table_get(t, a)) != NULL || t->type == MAP_CIDR ||
	    t->type == MAP_PCRE)
		return v;
	while ((cut = strrchr(a, strchr(a, ':') != NULL ? ':' : '.')) !=
	    NULL) {
		*cut = '\0';
		if ((v = table_get(t, a)) != NULL)
			return v;
	}
	return NULL;
}

/*
 * Is the result one of values?  A value matches the whole result or
 * its first word ("REJECT" matches "REJECT go away"), without case.
 */
int
table_value_in(const char *result, char *const *values, size_t n)
{
	size_t	i, len;

	for (i = 0; result != NULL && i < n; i++) {
		len = strlen(values[i]);
		if (strncasecmp(result, values[i], len) == 0 &&
		    (result[len] == '\0' || isspace((unsigned char)result[len])))
			return 1;
	}
	return 0;
}
