/*
 * test_table.c: the table condition's Postfix lookup tables
 * (src/table.c): each map type read (texthash, cidr, pcre from their
 * text; cdb and lmdb as postmap writes them: cdb keys without a NUL,
 * lmdb keys with one), access(5)'s key order for addresses and
 * clients, the checks of a file the root master reads, results
 * against values; and the any/all groups (src/cond.c).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cdb.h>
#include <lmdb.h>

#include "cond.h"
#include "table.h"

static char	dir[64];
static char	err[512];

static void
mkdir_tmp(void)
{
	strcpy(dir, "/tmp/test_table.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
rm_tmp(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(table, .init = mkdir_tmp, .fini = rm_tmp);

/* dir/name holding text, mode; its "TYPE:path" into spec. */
static void
write_map(const char *type, const char *name, const char *text, mode_t mode,
    char *spec, size_t len)
{
	char	 p[256];
	FILE	*fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	cr_assert_not_null(fp = fopen(p, "w"));
	fputs(text, fp);
	cr_assert_eq(fclose(fp), 0);
	cr_assert_eq(chmod(p, mode), 0);
	cr_assert_lt((size_t)snprintf(spec, len, "%s:%s", type, p), len);
}

static struct table *
open_map(const char *type, const char *text)
{
	struct table	*t;
	char		 spec[512];

	write_map(type, "map", text, 0644, spec, sizeof(spec));
	t = table_open(spec, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	return t;
}

/* An address, and the result wanted (NULL: none). */
struct addr_row {
	const char	*address;
	const char	*want;
};

static void
expect_addresses(const struct table *t, const struct addr_row *rows,
    size_t n)
{
	const char	*r;
	size_t		 i;

	for (i = 0; i < n; i++) {
		r = table_address(t, rows[i].address);
		if (rows[i].want == NULL)
			cr_assert_null(r, "%s: %s", rows[i].address, r);
		else {
			cr_assert_not_null(r, "%s: no result", rows[i].address);
			cr_assert_str_eq(r, rows[i].want, "%s",
			    rows[i].address);
		}
	}
}

static const char access_text[] =
    "# access(5) keys\n"
    "user@example.com full\n"
    "example.com domain\n"
    "\n"
    "org tld\n"
    "bob@ user\n"
    "<> null\n"
    "sub.example.net sub\n"
    "Mixed.Case.Test REJECT go\n"
    "   away\n"
    "example.com second, not taken\n";

/* The full address, the domain and its parents, then user@. */
static const struct addr_row access_rows[] = {
	{ "<user@example.com>", "full" },
	{ "USER@Example.COM", "full" },
	{ "other@example.com", "domain" },
	{ "x@mx.example.com", "domain" },
	{ "bob@example.com", "domain" },
	{ "bob@nowhere.test", "user" },
	{ "a@x.y.org", "tld" },
	{ "<>", "null" },
	{ "", "null" },
	{ "a@example.net", NULL },
	{ "a@deeper.sub.example.net", "sub" },
	{ "a@mixed.case.test", "REJECT go away" },
	{ "nodomain", NULL },
	{ "bob", NULL },
};

Test(table, texthash_address_order)
{
	struct table	*t = open_map("texthash", access_text);

	cr_assert_eq(table_type(t), MAP_TEXTHASH);
	expect_addresses(t, access_rows, sizeof(access_rows) /
	    sizeof(access_rows[0]));
	table_free(t);
}

/* A client: name and parents, then the address and its networks. */
Test(table, texthash_client_order)
{
	struct table	*t = open_map("texthash",
	    "192.0.2 net3\n10 net1\nmail.example.com name\n2001:db8 v6\n"
	    "198.51.100.7 host\nunknown never\n");
	const struct {
		const char	*name, *addr, *want;
	} rows[] = {
		{ "unknown", "192.0.2.9", "net3" },
		{ "x.mail.example.com", "203.0.113.1", "name" },
		{ "unknown", "10.1.2.3", "net1" },
		{ NULL, "2001:db8:0:1::5", "v6" },
		{ "[198.51.100.7]", "198.51.100.7", "host" },
		{ "unknown", "203.0.113.1", NULL },
		{ "mail.example.org", "192.0.3.1", NULL },
	};
	const char	*r;
	size_t		 i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = table_client(t, rows[i].name, rows[i].addr);
		if (rows[i].want == NULL)
			cr_assert_null(r, "row %zu: %s", i, r);
		else
			cr_assert_str_eq(r != NULL ? r : "(none)",
			    rows[i].want, "row %zu", i);
	}
	table_free(t);
}

/* Bad source files: the reason, at the file's line. */
Test(table, source_errors)
{
	const struct {
		const char	*type, *text, *want;
	} rows[] = {
		{ "texthash", "a@b OK\n\n# c\nnovalue\n", "map:4: \"novalue\": "
		  "expected a pattern, blanks, a result" },
		{ "texthash", " leading OK\n", "map:1: a continuation line "
		  "without a line before it" },
		{ "texthash", "if /x/\n", "map:1: \"if\": if/endif blocks are "
		  "not supported by milterd" },
		{ "cidr", "192.0.2.1/24 OK\n", "map:1: \"192.0.2.1/24\": bits "
		  "set beyond the prefix length" },
		{ "cidr", "ok OK\n", "map:1: \"ok\": expected an address or a "
		  "network such as 192.0.2.0/24" },
		{ "pcre", "/a/ OK\n/x/q OK\n", "map:2: /x/: flag 'q' not "
		  "known: expected i, m, s, x, A, E or U" },
		{ "pcre", "/(/ OK\n", "map:1: /(/: missing closing "
		  "parenthesis at offset 1" },
		{ "pcre", "/a/\n", "map:1: /a/: no result" },
		{ "nosuch", "", "\"nosuch\": map type not supported: expected "
		  "texthash, cidr, pcre, cdb or lmdb" },
	};
	char		 spec[512];
	const char	*e;
	size_t		 i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		write_map(rows[i].type, "map", rows[i].text, 0644, spec,
		    sizeof(spec));
		cr_assert_null(table_open(spec, err, sizeof(err)), "row %zu",
		    i);
		e = strstr(err, rows[i].want);
		cr_assert_not_null(e, "row %zu: %s", i, err);
	}
	cr_assert_null(table_open("texthash:relative/path", err,
	    sizeof(err)));
	cr_assert_not_null(strstr(err, "expected TYPE:/absolute/path"));
}

/* The root master reads only what no one else could have written. */
Test(table, file_checks)
{
	char	spec[512], link[256];

	write_map("texthash", "open", "a OK\n", 0664, spec, sizeof(spec));
	cr_assert_null(table_open(spec, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "mode 0664: a table must be owned by "
	    "root and writable by no one else"), "%s", err);
	write_map("texthash", "world", "a OK\n", 0606, spec, sizeof(spec));
	cr_assert_null(table_open(spec, err, sizeof(err)));
	write_map("texthash", "fine", "a OK\n", 0600, spec, sizeof(spec));
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(symlink(spec + strlen("texthash:"), link), 0);
	snprintf(spec, sizeof(spec), "texthash:%s", link);
	cr_assert_null(table_open(spec, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "a symbolic link"), "%s", err);
	snprintf(spec, sizeof(spec), "texthash:%s", dir);
	cr_assert_null(table_open(spec, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "not a regular file"), "%s", err);
	snprintf(spec, sizeof(spec), "cdb:%s/none", dir);
	cr_assert_null(table_open(spec, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "none.cdb: No such file"), "%s", err);
}

/* cidr: first match, negation, brackets; whole addresses only. */
Test(table, cidr)
{
	struct table	*t = open_map("cidr",
	    "# first match\n192.0.2.128/25 high\n192.0.2.0/24 low\n"
	    "[2001:db8::]/32 v6\n!10.0.0.0/8 outside\n");

	cr_assert_str_eq(table_client(t, "unknown", "192.0.2.200"), "high");
	cr_assert_str_eq(table_client(t, "unknown", "192.0.2.1"), "low");
	cr_assert_str_eq(table_client(t, NULL, "2001:db8::1"), "v6");
	cr_assert_null(table_client(t, NULL, "10.1.1.1"));
	cr_assert_str_eq(table_client(t, NULL, "203.0.113.1"), "outside");
	/* A name or a mail address never matches. */
	cr_assert_null(table_get(t, "mail.example.com"));
	cr_assert_null(table_address(t, "a@192.0.2.1"));
	table_free(t);
}

/* pcre: without case by default, i toggles; the whole string only. */
Test(table, pcre)
{
	struct table	*t = open_map("pcre",
	    "/^spam@/ spam\n/^Exact@/i exact\n!/example/ other\n"
	    "/^example\\.com$/ never\n/@example\\.com$/ domain\n");
	static const struct addr_row rows[] = {
		{ "<SPAM@example.com>", "spam" },
		{ "Exact@example.com", "exact" },
		{ "exact@example.com", "domain" },
		{ "a@elsewhere.test", "other" },
		{ "a@example.com", "domain" },
	};

	expect_addresses(t, rows, sizeof(rows) / sizeof(rows[0]));
	cr_assert_str_eq(table_client(t, "mx.example.com", "192.0.2.1"),
	    "other");
	table_free(t);
}

/* access_text as postmap stores it (keys folded to lower case). */
static const char	*access_kv[] = {
	"user@example.com", "full", "example.com", "domain",
	"org", "tld", "bob@", "user", "<>", "null",
	"sub.example.net", "sub", "mixed.case.test", "REJECT go away",
};
#define NKV	(sizeof(access_kv) / sizeof(access_kv[0]))

/* A cdb file as postmap writes it: keys and values without a NUL. */
Test(table, cdb)
{
	struct cdb_make	 cm;
	struct table	*t;
	char		 p[256], spec[512];
	size_t		 i;
	int		 fd;

	snprintf(p, sizeof(p), "%s/access.cdb", dir);
	cr_assert_neq(fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644), -1);
	cr_assert_eq(cdb_make_start(&cm, fd), 0);
	for (i = 0; i < NKV; i += 2)
		cr_assert_eq(cdb_make_add(&cm, access_kv[i],
		    strlen(access_kv[i]), access_kv[i + 1],
		    strlen(access_kv[i + 1])), 0);
	cr_assert_eq(cdb_make_finish(&cm), 0);
	close(fd);
	snprintf(spec, sizeof(spec), "cdb:%s/access", dir);
	cr_assert_not_null(t = table_open(spec, err, sizeof(err)), "%s", err);
	cr_assert_eq(table_type(t), MAP_CDB);
	expect_addresses(t, access_rows, sizeof(access_rows) /
	    sizeof(access_rows[0]));
	table_free(t);
	/* Not a cdb file. */
	write_map("x", "bad.cdb", "", 0644, p, sizeof(p));
	snprintf(spec, sizeof(spec), "cdb:%s/bad", dir);
	cr_assert_null(table_open(spec, err, sizeof(err)));
}

/* An lmdb file as postmap writes it: no subdirectory, NULs kept. */
Test(table, lmdb)
{
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k, v;
	struct table	*t;
	char		 p[256], spec[512];
	size_t		 i;

	snprintf(p, sizeof(p), "%s/access.lmdb", dir);
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_open(env, p, MDB_NOSUBDIR, 0644), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	for (i = 0; i < NKV; i += 2) {
		k.mv_data = (void *)(uintptr_t)access_kv[i];
		k.mv_size = strlen(access_kv[i]) + 1;
		v.mv_data = (void *)(uintptr_t)access_kv[i + 1];
		v.mv_size = strlen(access_kv[i + 1]) + 1;
		cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	}
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	snprintf(spec, sizeof(spec), "lmdb:%s/access", dir);
	cr_assert_not_null(t = table_open(spec, err, sizeof(err)), "%s", err);
	cr_assert_eq(table_type(t), MAP_LMDB);
	expect_addresses(t, access_rows, sizeof(access_rows) /
	    sizeof(access_rows[0]));
	table_free(t);
	write_map("x", "bad.lmdb", "not lmdb", 0644, p, sizeof(p));
	snprintf(spec, sizeof(spec), "lmdb:%s/bad", dir);
	cr_assert_null(table_open(spec, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "make it with postmap lmdb:PATH"),
	    "%s", err);
}

/* A value matches the whole result or its first word, without case. */
Test(table, values)
{
	char	*ok[] = { "OK" }, *two[] = { "reject", "permit" };

	cr_assert(table_value_in("OK", ok, 1));
	cr_assert(table_value_in("ok", ok, 1));
	cr_assert(!table_value_in("OKAY", ok, 1));
	cr_assert(!table_value_in(NULL, ok, 1));
	cr_assert(table_value_in("REJECT go away", two, 2));
	cr_assert(table_value_in("PERMIT", two, 2));
	cr_assert(!table_value_in("DUNNO", two, 2));
}

Test(table, keys)
{
	enum table_key	k;

	cr_assert_eq(table_key_parse("sender", &k), 0);
	cr_assert_eq(k, TABLE_SENDER);
	cr_assert_eq(table_key_parse("recipient", &k), 0);
	cr_assert_eq(k, TABLE_RECIPIENT);
	cr_assert_eq(table_key_parse("client", &k), 0);
	cr_assert_eq(k, TABLE_CLIENT);
	cr_assert_eq(table_key_parse("helo", &k), -1);
}

/* The table type as a condition: each key at its stage. */
Test(table, cond_eval)
{
	struct cond		c;
	struct cond_view	v;
	char			*vals[] = { "domain", "full" };

	memset(&c, 0, sizeof(c));
	c.type = COND_TABLE;
	c.table = open_map("texthash", access_text);
	c.values = vals;
	c.nvalues = 2;
	memset(&v, 0, sizeof(v));
	c.key = TABLE_SENDER;
	cr_assert_eq(cond_eval(&c, &v), 0);	/* before MAIL */
	v.sender = "<a@mx.example.com>";
	cr_assert_eq(cond_eval(&c, &v), 1);
	v.sender = "<bob@nowhere.test>";
	cr_assert_eq(cond_eval(&c, &v), 0);	/* "user": not a value */
	c.key = TABLE_RECIPIENT;
	v.rcpt = "<user@example.com>";
	cr_assert_eq(cond_eval(&c, &v), 1);
	c.key = TABLE_CLIENT;
	v.client_name = "example.com";
	v.client_addr = "192.0.2.1";
	cr_assert_eq(cond_eval(&c, &v), 1);
	table_free(c.table);
}

/* Groups: member values in, the group's out. */
static const int	*member_vals;

static int
member(void *arg, const struct cond_ref *ref)
{
	(void)arg;
	return member_vals[ref->idx];
}

Test(group, eval)
{
	static const struct {
		enum cond_type	 type;
		int		 vals[3];
		int		 negate[3];
		int		 want;
	} rows[] = {
		{ COND_ANY, { 0, 0, 0 }, { 0, 0, 0 }, 0 },
		{ COND_ANY, { 0, 1, 0 }, { 0, 0, 0 }, 1 },
		{ COND_ANY, { 0, 0, 0 }, { 0, 0, 1 }, 1 },
		{ COND_ANY, { 1, 1, 1 }, { 1, 1, 1 }, 0 },
		{ COND_ANY, { -1, 0, 0 }, { 0, 0, 0 }, -1 },
		{ COND_ANY, { -1, 1, 0 }, { 0, 0, 0 }, 1 },
		{ COND_ALL, { 1, 1, 1 }, { 0, 0, 0 }, 1 },
		{ COND_ALL, { 1, 0, 1 }, { 0, 0, 0 }, 0 },
		{ COND_ALL, { 1, 0, 1 }, { 0, 1, 0 }, 1 },
		{ COND_ALL, { -1, 1, 1 }, { 0, 0, 0 }, -1 },
		{ COND_ALL, { -1, 0, 1 }, { 0, 0, 0 }, 0 },
		{ COND_ALL, { -1, 1, 1 }, { 1, 0, 0 }, -1 },
	};
	struct cond_ref	 refs[3];
	struct cond	 c;
	size_t		 i, j;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.type = rows[i].type;
		for (j = 0; j < 3; j++) {
			refs[j].idx = j;
			refs[j].negate = rows[i].negate[j];
		}
		c.members = refs;
		c.nmembers = 3;
		member_vals = rows[i].vals;
		cr_assert_eq(cond_group_eval(&c, member, NULL), rows[i].want,
		    "row %zu", i);
	}
}

/*
 * Names resolved, members marked; a group decided at its members'
 * latest stage, nested groups too, a lua member at DATA until a
 * worker knows its functions.
 */
Test(group, resolve_and_stages)
{
	struct cond	c[6];
	char		 err2[256];
	char		*of0[] = { "net", "!rcpt" }, *of1[] = { "g0", "sender" };
	char		*of2[] = { "net", "lua" };
	size_t		 i;

	memset(c, 0, sizeof(c));
	c[0].name = "g0"; c[0].type = COND_ANY; c[0].of = of0; c[0].nof = 2;
	c[1].name = "net"; c[1].type = COND_NETWORK;
	c[2].name = "rcpt"; c[2].type = COND_RECIPIENT;
	c[3].name = "g1"; c[3].type = COND_ALL; c[3].of = of1; c[3].nof = 2;
	c[4].name = "sender"; c[4].type = COND_SENDER;
	c[5].name = "g2"; c[5].type = COND_ANY; c[5].of = of2; c[5].nof = 2;
	for (i = 0; i < 6; i++)
		c[i].stages = cond_default_stages(c[i].type);
	/* "lua" does not exist yet. */
	cr_assert_eq(cond_resolve_groups(c, 6, err2, sizeof(err2)), -1);
	cr_assert_str_eq(err2, "condition \"g2\": of: no condition \"lua\"");
	for (i = 0; i < 6; i++) {
		free(c[i].members);
		c[i].members = NULL;
		c[i].grouped = 0;
	}
	c[4].name = "lua";
	c[4].type = COND_LUA;
	c[4].stages = cond_default_stages(COND_LUA);
	of1[1] = "lua";
	cr_assert_eq(cond_resolve_groups(c, 6, err2, sizeof(err2)), 0, "%s",
	    err2);
	cond_group_stages(c, 6);
	cr_assert_eq(c[0].stages, cond_at(SMFIC_RCPT));
	cr_assert_eq(c[3].stages, cond_at(SMFIC_DATA));
	cr_assert(c[1].grouped && c[2].grouped && c[0].grouped);
	cr_assert(!c[3].grouped);
	cr_assert_eq(c[0].members[1].idx, 2);
	cr_assert(c[0].members[1].negate);
	/* The worker ran the script: only a mail function. */
	c[4].stages = cond_at(SMFIC_MAIL);
	cond_group_stages(c, 6);
	cr_assert_eq(c[3].stages, cond_at(SMFIC_RCPT));
	cr_assert_eq(c[5].stages, cond_at(SMFIC_MAIL));
	cr_assert(cond_reaches(c, 3, 2));
	cr_assert(!cond_reaches(c, 5, 2));
	/* Groups with a lua member wait for its answer. */
	cr_assert(c[3].lua_member && c[5].lua_member && !c[0].lua_member);
	/* A script with an eom() function: its groups, at end of message. */
	c[4].stages = cond_at(SMFIC_MAIL) | COND_EOM;
	cond_group_stages(c, 6);
	cr_assert_eq(c[3].stages, COND_EOM);
	cr_assert_eq(c[5].stages, COND_EOM);
	cr_assert_eq(c[0].stages, cond_at(SMFIC_RCPT));
	for (i = 0; i < 6; i++)
		free(c[i].members);
}
