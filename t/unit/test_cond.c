/*
 * test_cond.c: the applicable conditions (src/cond.c): CIDR parsing,
 * network lists and "local", each condition type's evaluation (network,
 * authenticated, s25r, sender, macro, stress, dnsbl, lua; at end of
 * message size, header, verdict and lua eom()), sender list
 * files, the stages that decide a condition, type names.  The Lua
 * tests run scripts from t/fixtures/lua/ in this process's one state.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <limits.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cond.h"
#include "milter.h"
#include "util.h"

#define FIXTURES	"t/fixtures"

/* Macros for the view: name=value pairs, NULL-terminated. */
struct macros {
	const char	*const *kv;
	int		 calls;
	const char	*last;
};

static const char *
get_macro(void *arg, const char *name)
{
	struct macros	*m = arg;
	size_t		 i;

	m->calls++;
	m->last = name;
	for (i = 0; m->kv != NULL && m->kv[i] != NULL; i += 2)
		if (strcmp(m->kv[i], name) == 0)
			return m->kv[i + 1];
	return NULL;
}

static struct cond_view
view_addr(const char *addr)
{
	struct cond_view	v;

	memset(&v, 0, sizeof(v));
	v.family = strchr(addr, ':') != NULL ? '6' : '4';
	v.client_addr = addr;
	return v;
}

static int
net_has(const struct cond *c, const char *addr)
{
	struct cond_view	v = view_addr(addr);

	return cond_eval(c, &v);
}

/* A network condition from the entries, which must all parse. */
static void
net_cond(struct cond *c, const char *const *entries)
{
	char	err[256];
	size_t	i;

	memset(c, 0, sizeof(*c));
	c->type = COND_NETWORK;
	for (i = 0; entries[i] != NULL; i++) {
		err[0] = '\0';
		cr_assert_eq(cond_add_nets(c, entries[i], err, sizeof(err)),
		    0, "%s: %s", entries[i], err);
	}
}

static regex_t *
compile_all(const char *const *pats, size_t n)
{
	regex_t	*re;
	size_t	 i;

	cr_assert_not_null(re = calloc(n == 0 ? 1 : n, sizeof(*re)));
	for (i = 0; i < n; i++)
		cr_assert_eq(regcomp(&re[i], pats[i], REG_EXTENDED |
		    REG_ICASE | REG_NOSUB), 0, "%s", pats[i]);
	return re;
}

static int
s25r_eval(const struct cond *c, char family, const char *name)
{
	struct cond_view	v;

	memset(&v, 0, sizeof(v));
	v.family = family;
	v.client_addr = family == '6' ? "2001:db8::25" : "192.0.2.25";
	v.client_name = name;
	return cond_eval(c, &v);
}

static int
sender_eval(const struct cond *c, const char *sender)
{
	struct cond_view	v;

	memset(&v, 0, sizeof(v));
	v.family = '4';
	v.client_addr = "192.0.2.1";
	v.sender = sender;
	return cond_eval(c, &v);
}

static void
add_entry(struct cond *c, const char *e)
{
	cr_assert_not_null(c->list = reallocarray(c->list, c->nlist + 1,
	    sizeof(*c->list)));
	cr_assert_not_null(c->list[c->nlist] = strdup(e));
	c->nlist++;
}

/* A temporary file holding text; its name, to free and unlink. */
static char *
temp_file(const char *text)
{
	char	*path;
	FILE	*fp;
	int	 fd;

	cr_assert_not_null(path = strdup("/tmp/test_cond.XXXXXX"));
	cr_assert_neq(fd = mkstemp(path), -1);
	cr_assert_not_null(fp = fdopen(fd, "w"));
	cr_assert_eq(fputs(text, fp) >= 0, 1);
	cr_assert_eq(fclose(fp), 0);
	return path;
}

Test(cond, parse_cidr_v4)
{
	struct cidr	n;
	const uint8_t	a[4] = { 192, 0, 2, 0 }, b[4] = { 10, 1, 2, 3 };

	cr_assert_eq(cond_parse_cidr("192.0.2.0/24", &n), 0);
	cr_assert_eq(n.family, AF_INET);
	cr_assert_eq(n.bits, 24);
	cr_assert_eq(memcmp(n.addr, a, 4), 0);

	cr_assert_eq(cond_parse_cidr("10.1.2.3", &n), 0);
	cr_assert_eq(n.family, AF_INET);
	cr_assert_eq(n.bits, 32);
	cr_assert_eq(memcmp(n.addr, b, 4), 0);

	cr_assert_eq(cond_parse_cidr("0.0.0.0/0", &n), 0);
	cr_assert_eq(n.bits, 0);
	cr_assert_eq(cond_parse_cidr("10.0.0.0/32", &n), 0);
	cr_assert_eq(n.bits, 32);
}

Test(cond, parse_cidr_v6)
{
	struct cidr	n;
	const uint8_t	a[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	uint8_t		one[16] = { 0 };

	one[15] = 1;
	cr_assert_eq(cond_parse_cidr("2001:db8::/32", &n), 0);
	cr_assert_eq(n.family, AF_INET6);
	cr_assert_eq(n.bits, 32);
	cr_assert_eq(memcmp(n.addr, a, 16), 0);

	cr_assert_eq(cond_parse_cidr("::1", &n), 0);
	cr_assert_eq(n.family, AF_INET6);
	cr_assert_eq(n.bits, 128);
	cr_assert_eq(memcmp(n.addr, one, 16), 0);

	cr_assert_eq(cond_parse_cidr("::/128", &n), 0);
	cr_assert_eq(n.bits, 128);

	/* Sendmail's form of an IPv6 address. */
	cr_assert_eq(cond_parse_cidr("IPv6:2001:db8::/32", &n), 0);
	cr_assert_eq(n.family, AF_INET6);
	cr_assert_eq(n.bits, 32);
	cr_assert_eq(memcmp(n.addr, a, 16), 0);
	cr_assert_eq(cond_parse_cidr("ipv6:::1", &n), 0);
	cr_assert_eq(n.family, AF_INET6);
	cr_assert_eq(n.bits, 128);
	cr_assert_eq(memcmp(n.addr, one, 16), 0);
}

Test(cond, parse_cidr_bad)
{
	struct cidr	n;

	cr_assert_eq(cond_parse_cidr("192.0.2.0/33", &n), -1);
	cr_assert_eq(cond_parse_cidr("2001:db8::/129", &n), -1);
	cr_assert_eq(cond_parse_cidr("192.0.2.0/x", &n), -1);
	cr_assert_eq(cond_parse_cidr("192.0.2.0/24x", &n), -1);
	cr_assert_eq(cond_parse_cidr("192.0.2.0/-1", &n), -1);
	cr_assert_eq(cond_parse_cidr("192.0.2.0/", &n), -1);
	cr_assert_eq(cond_parse_cidr("", &n), -1);
	cr_assert_eq(cond_parse_cidr("garbage", &n), -1);
	cr_assert_eq(cond_parse_cidr("192.0.2", &n), -1);
	cr_assert_eq(cond_parse_cidr("256.0.0.1", &n), -1);
	cr_assert_eq(cond_parse_cidr("2001:db8:::1", &n), -1);
	cr_assert_eq(cond_parse_cidr("local", &n), -1);
	cr_assert_eq(cond_parse_cidr("IPv6:", &n), -1);
	/* Longer than any address: refused, not truncated. */
	cr_assert_eq(cond_parse_cidr("2001:0db8:0000:0000:0000:0000:0000:"
	    "0001/128                         ", &n), -1);
}

Test(cond, nets_local)
{
	struct cond		 c;
	const char *const	 e[] = { "local", NULL };

	net_cond(&c, e);
	cr_assert_eq(c.nnets, 8);
	cr_assert(net_has(&c, "127.0.0.1"));
	cr_assert(net_has(&c, "10.1.2.3"));
	cr_assert(net_has(&c, "172.16.0.1"));
	cr_assert(net_has(&c, "172.31.255.255"));
	cr_assert_not(net_has(&c, "172.32.0.1"));
	cr_assert_not(net_has(&c, "172.15.255.255"));
	cr_assert(net_has(&c, "192.168.1.1"));
	cr_assert(net_has(&c, "169.254.1.1"));
	cr_assert(net_has(&c, "::1"));
	cr_assert(net_has(&c, "IPv6:::1"));
	cr_assert(net_has(&c, "fd00::1"));
	cr_assert(net_has(&c, "fc00::1"));
	cr_assert(net_has(&c, "fe80::1"));
	cr_assert_not(net_has(&c, "::2"));
	cr_assert_not(net_has(&c, "fe00::1"));
	cr_assert_not(net_has(&c, "192.0.2.1"));
	cr_assert_not(net_has(&c, "11.0.0.1"));
	cr_assert_not(net_has(&c, "2001:db8::1"));
	cr_assert_not(net_has(&c, "not-an-address"));
	cond_free(&c);
}

Test(cond, nets_edges)
{
	struct cond		 c;
	const char *const	 e[] = { "192.0.2.0/24", "100.64.0.0/12",
	    "2001:db8:0:100::/56", NULL };

	net_cond(&c, e);
	cr_assert_eq(c.nnets, 3);
	/* /24 */
	cr_assert_not(net_has(&c, "192.0.1.255"));
	cr_assert(net_has(&c, "192.0.2.0"));
	cr_assert(net_has(&c, "192.0.2.255"));
	cr_assert_not(net_has(&c, "192.0.3.0"));
	/* /12: 100.64.0.0 - 100.79.255.255 */
	cr_assert_not(net_has(&c, "100.63.255.255"));
	cr_assert(net_has(&c, "100.64.0.0"));
	cr_assert(net_has(&c, "100.79.255.255"));
	cr_assert_not(net_has(&c, "100.80.0.0"));
	/* /56 */
	cr_assert_not(net_has(&c, "2001:db8:0:ff:ffff:ffff:ffff:ffff"));
	cr_assert(net_has(&c, "2001:db8:0:100::"));
	cr_assert(net_has(&c, "2001:db8:0:1ff:ffff:ffff:ffff:ffff"));
	cr_assert_not(net_has(&c, "2001:db8:0:200::"));
	cond_free(&c);
}

Test(cond, nets_single_and_all)
{
	struct cond		 c;
	const char *const	 e[] = { "198.51.100.7", "2001:db8::7", NULL };
	const char *const	 all[] = { "0.0.0.0/0", NULL };

	net_cond(&c, e);
	cr_assert(net_has(&c, "198.51.100.7"));
	cr_assert_not(net_has(&c, "198.51.100.6"));
	cr_assert_not(net_has(&c, "198.51.100.8"));
	cr_assert(net_has(&c, "2001:db8::7"));
	cr_assert_not(net_has(&c, "2001:db8::6"));
	cond_free(&c);

	net_cond(&c, all);
	cr_assert(net_has(&c, "203.0.113.9"));
	cr_assert_not(net_has(&c, "2001:db8::1"));
	cond_free(&c);
}

Test(cond, nets_family_mismatch)
{
	struct cond		 c;
	const char *const	 e[] = { "::/0", "2001:db8::/32", NULL };
	struct cond_view	 v;

	net_cond(&c, e);
	cr_assert(net_has(&c, "2001:db8::1"));
	cr_assert_not(net_has(&c, "192.0.2.1"));
	cr_assert_not(net_has(&c, "0.0.0.0"));
	/* No address: false. */
	memset(&v, 0, sizeof(v));
	v.family = 'U';
	cr_assert_not(cond_eval(&c, &v));
	cond_free(&c);
}

Test(cond, nets_bad_entry)
{
	struct cond	c;
	char		err[256];

	memset(&c, 0, sizeof(c));
	c.type = COND_NETWORK;
	err[0] = '\0';
	cr_assert_eq(cond_add_nets(&c, "192.0.2.0/24", err, sizeof(err)), 0);
	cr_assert_eq(cond_add_nets(&c, "192.0.2.0/33", err, sizeof(err)),
	    -1);
	cr_assert_not_null(strstr(err, "\"192.0.2.0/33\""), "%s", err);
	cr_assert_eq(c.nnets, 1);
	err[0] = '\0';
	cr_assert_eq(cond_add_nets(&c, "localhost", err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "\"localhost\""), "%s", err);
	cr_assert_eq(c.nnets, 1);
	/* What was added before still works. */
	cr_assert(net_has(&c, "192.0.2.9"));
	cr_assert_not(net_has(&c, "10.0.0.1"));
	cond_free(&c);
}

Test(cond, authenticated)
{
	struct cond		 c;
	struct cond_view	 v;
	struct macros		 m;
	const char *const	 yes[] = { "auth_authen", "alice", NULL };
	const char *const	 empty[] = { "auth_authen", "", NULL };
	const char *const	 other[] = { "auth_type", "PLAIN", NULL };

	memset(&c, 0, sizeof(c));
	c.type = COND_AUTHENTICATED;
	memset(&v, 0, sizeof(v));
	memset(&m, 0, sizeof(m));
	v.family = '4';
	v.client_addr = "192.0.2.1";
	v.macro = get_macro;
	v.arg = &m;

	m.kv = yes;
	cr_assert(cond_eval(&c, &v));
	cr_assert_eq(m.calls, 1);
	cr_assert_str_eq(m.last, "auth_authen");
	m.kv = empty;
	cr_assert_not(cond_eval(&c, &v));
	m.kv = other;
	cr_assert_not(cond_eval(&c, &v));
	m.kv = NULL;
	cr_assert_not(cond_eval(&c, &v));
	cr_assert_eq(m.calls, 4);
	cond_free(&c);
}

Test(cond, s25r_rules)
{
	struct cond	c;

	memset(&c, 0, sizeof(c));
	c.type = COND_S25R;
	/* One name for each rule. */
	cr_assert(s25r_eval(&c, '4', "p1234-ipad03.example.jp"));	/* 1 */
	cr_assert(s25r_eval(&c, '4', "host12345.example.com"));	/* 2 */
	cr_assert(s25r_eval(&c, '4', "1-2-3-4.example.isp.com"));	/* 3 */
	cr_assert(s25r_eval(&c, '4', "a1.b2-3.example.com"));	/* 4 */
	cr_assert(s25r_eval(&c, '4', "a1.b2.example.isp.com"));	/* 5 */
	cr_assert(s25r_eval(&c, '4', "dhcp123.example.com"));	/* 6 */
	cr_assert(s25r_eval(&c, '4', "ADSL7.example.com"));	/* 6, case */
	cr_assert(s25r_eval(&c, '4', "xdsl-pool9.example.com"));	/* 6 */
	cr_assert(s25r_eval(&c, '4', "ppp0.example.net"));	/* 6 */
	/* Not resolved. */
	cr_assert(s25r_eval(&c, '4', "unknown"));
	cr_assert(s25r_eval(&c, '4', "[192.0.2.1]"));
	cr_assert(s25r_eval(&c, '4', ""));
	cr_assert(s25r_eval(&c, '4', NULL));
	/* Static-looking. */
	cr_assert_not(s25r_eval(&c, '4', "mail.example.com"));
	cr_assert_not(s25r_eval(&c, '4', "mx1.example.com"));
	cr_assert_not(s25r_eval(&c, '4', "smtp-out2.example.net"));
	cr_assert_not(s25r_eval(&c, '4', "host1234.example.com"));
	cr_assert_not(s25r_eval(&c, '4', "mail.dhcp1.example.com"));
	cr_assert_not(s25r_eval(&c, '4', "dhcp.example.com"));
	/* Rule 1 needs a digit after the letters of the first label. */
	cr_assert_not(s25r_eval(&c, '4', "p1234-ipad.example.jp"));
	/* The same through cond_s25r_dynamic(). */
	cr_assert_eq(cond_s25r_dynamic(&c, "dhcp123.example.com"), 1);
	cr_assert_eq(cond_s25r_dynamic(&c, "mail.example.com"), 0);
	cond_free(&c);
}

Test(cond, s25r_allow_deny)
{
	struct cond		 c;
	const char *const	 allow[] = { "^mail\\.", "\\.trusted\\.example$" };
	const char *const	 deny[] = { "\\.dyn\\.example\\.net$", "^mx9\\." };

	memset(&c, 0, sizeof(c));
	c.type = COND_S25R;
	c.nallow = 2;
	c.allow = compile_all(allow, c.nallow);
	c.ndeny = 2;
	c.deny = compile_all(deny, c.ndeny);
	cr_assert_not_null(c.name = strdup("s25r"));

	/* allow: never dynamic, before the rules and the deny list. */
	cr_assert_not(s25r_eval(&c, '4', "dhcp123.trusted.example"));
	cr_assert_not(s25r_eval(&c, '4', "MAIL.dyn.example.net"));
	cr_assert_not(s25r_eval(&c, '4', "p1234-ipad03.Trusted.Example"));
	/* deny: always dynamic. */
	cr_assert(s25r_eval(&c, '4', "static.dyn.example.net"));
	cr_assert(s25r_eval(&c, '4', "mx9.example.com"));
	cr_assert_not(s25r_eval(&c, '4', "mx8.example.com"));
	/* Neither: the rules. */
	cr_assert(s25r_eval(&c, '4', "dhcp123.example.com"));
	cr_assert_not(s25r_eval(&c, '4', "www.example.com"));
	cr_assert(s25r_eval(&c, '4', "unknown"));

	/* IPv6 clients. */
	cr_assert_not(s25r_eval(&c, '6', "www.example.com"));
	cr_assert(s25r_eval(&c, '6', "dhcp123.example.com"));
	c.ipv6_dynamic = 1;
	cr_assert(s25r_eval(&c, '6', "www.example.com"));
	cr_assert(s25r_eval(&c, '6', "mail.example.com"));
	cr_assert_not(s25r_eval(&c, '4', "www.example.com"));
	cr_assert_not(s25r_eval(&c, 'L', "www.example.com"));
	cond_free(&c);
}

Test(cond, sender_lists)
{
	struct cond	c;

	memset(&c, 0, sizeof(c));
	c.type = COND_SENDER;
	add_entry(&c, "@example.org");
	add_entry(&c, "user@");
	add_entry(&c, "boss@example.com");

	/* @domain */
	cr_assert(sender_eval(&c, "anyone@example.org"));
	cr_assert(sender_eval(&c, "<anyone@EXAMPLE.ORG>"));
	cr_assert_not(sender_eval(&c, "anyone@sub.example.org"));
	cr_assert_not(sender_eval(&c, "anyone@example.org.evil"));
	cr_assert_not(sender_eval(&c, "anyone@xexample.org"));
	/* user@ */
	cr_assert(sender_eval(&c, "user@example.net"));
	cr_assert(sender_eval(&c, "<USER@example.net>"));
	cr_assert_not(sender_eval(&c, "otheruser@example.net"));
	cr_assert_not(sender_eval(&c, "<otheruser@example.net>"));
	cr_assert_not(sender_eval(&c, "users@example.net"));
	cr_assert_not(sender_eval(&c, "use@example.net"));
	/* full address */
	cr_assert(sender_eval(&c, "boss@example.com"));
	cr_assert(sender_eval(&c, "<Boss@Example.COM>"));
	cr_assert_not(sender_eval(&c, "boss@example.co"));
	cr_assert_not(sender_eval(&c, "xboss@example.com"));
	cr_assert_not(sender_eval(&c, "boss@example.comx"));
	/* Nothing to match. */
	cr_assert_not(sender_eval(&c, NULL));
	cr_assert_not(sender_eval(&c, "<>"));
	cr_assert_not(sender_eval(&c, ""));
	cr_assert_not(sender_eval(&c, "user"));
	cr_assert_not(sender_eval(&c, "nobody@example.com"));
	cond_free(&c);
}

Test(cond, load_list)
{
	struct cond	 c;
	char		 err[512], *path;

	path = temp_file(
	    "# senders\n"
	    "\n"
	    "   @example.org   \n"
	    "user@  # a user anywhere\n"
	    "\t\n"
	    "  # indented comment\n"
	    "boss@example.com\n");
	memset(&c, 0, sizeof(c));
	c.type = COND_SENDER;
	add_entry(&c, "@inline.example");
	c.file = strdup(path);
	err[0] = '\0';
	cr_assert_eq(cond_load_list(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.nlist, 4);
	cr_assert_str_eq(c.list[0], "@inline.example");
	cr_assert_str_eq(c.list[1], "@example.org");
	cr_assert_str_eq(c.list[2], "user@");
	cr_assert_str_eq(c.list[3], "boss@example.com");
	cr_assert(sender_eval(&c, "a@inline.example"));
	cr_assert(sender_eval(&c, "a@example.org"));
	cr_assert(sender_eval(&c, "<user@x.example>"));
	cr_assert(sender_eval(&c, "boss@example.com"));
	cr_assert_not(sender_eval(&c, "boss@example.net"));
	cond_free(&c);
	unlink(path);
	free(path);
}

Test(cond, load_list_no_file)
{
	struct cond	c;
	char		err[64];

	memset(&c, 0, sizeof(c));
	c.type = COND_SENDER;
	strlcpy(err, "untouched", sizeof(err));
	cr_assert_eq(cond_load_list(&c, err, sizeof(err)), 0);
	cr_assert_eq(c.nlist, 0);
	cr_assert_str_eq(err, "untouched");
	cond_free(&c);
}

Test(cond, load_list_bad_line)
{
	struct cond	 c;
	char		 err[512], want[256], *path;

	path = temp_file(
	    "@example.org\n"
	    "# fine so far\n"
	    "example.com\n"
	    "user@\n");
	memset(&c, 0, sizeof(c));
	c.type = COND_SENDER;
	c.file = strdup(path);
	err[0] = '\0';
	cr_assert_eq(cond_load_list(&c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3:", path);
	cr_assert_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
	cr_assert_not_null(strstr(err, "\"example.com\""), "%s", err);
	cond_free(&c);
	unlink(path);
	free(path);
}

Test(cond, load_list_missing)
{
	struct cond	c;
	char		err[512];

	memset(&c, 0, sizeof(c));
	c.type = COND_SENDER;
	c.file = strdup("/nonexistent/test_cond/senders");
	err[0] = '\0';
	cr_assert_eq(cond_load_list(&c, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "/nonexistent/test_cond/senders"),
	    "%s", err);
	cr_assert_not_null(strstr(err, "No such file"), "%s", err);
	cr_assert_eq(c.nlist, 0);
	cond_free(&c);
}

Test(cond, macro_regex)
{
	struct cond		 c;
	struct cond_view	 v;
	struct macros		 m;
	const char *const	 fr[] = { "{daemon_name}", "MTA-Relay", NULL };
	const char *const	 other[] = { "{daemon_name}", "submission",
	    NULL };
	const char *const	 wrong[] = { "{if_name}", "relay", NULL };

	memset(&c, 0, sizeof(c));
	c.type = COND_MACRO;
	cr_assert_not_null(c.macro = strdup("{daemon_name}"));
	cr_assert_eq(regcomp(&c.re, "^mta-(relay|in)$", REG_EXTENDED |
	    REG_ICASE | REG_NOSUB), 0);
	c.has_re = 1;
	memset(&v, 0, sizeof(v));
	memset(&m, 0, sizeof(m));
	v.macro = get_macro;
	v.arg = &m;

	m.kv = fr;
	cr_assert(cond_eval(&c, &v));
	cr_assert_str_eq(m.last, "{daemon_name}");
	m.kv = other;
	cr_assert_not(cond_eval(&c, &v));
	m.kv = wrong;
	cr_assert_not(cond_eval(&c, &v));
	m.kv = NULL;
	cr_assert_not(cond_eval(&c, &v));
	cond_free(&c);
}

Test(cond, stress_threshold)
{
	struct cond		c;
	struct cond_view	v;

	memset(&c, 0, sizeof(c));
	c.type = COND_STRESS;
	c.threshold = 100;
	memset(&v, 0, sizeof(v));
	v.open_sessions = 0;
	cr_assert_not(cond_eval(&c, &v));
	v.open_sessions = 99;
	cr_assert_not(cond_eval(&c, &v));
	v.open_sessions = 100;
	cr_assert_not(cond_eval(&c, &v));
	v.open_sessions = 101;
	cr_assert(cond_eval(&c, &v));
	v.open_sessions = UINT64_MAX;
	cr_assert(cond_eval(&c, &v));
	c.threshold = 0;
	v.open_sessions = 0;
	cr_assert_not(cond_eval(&c, &v));
	v.open_sessions = 1;
	cr_assert(cond_eval(&c, &v));
	cond_free(&c);
}

Test(cond, stages)
{
	struct cond	c;

	memset(&c, 0, sizeof(c));
	cr_assert_eq(SMFIC_CONNECT, 'C');
	cr_assert_eq(SMFIC_MAIL, 'M');
	cr_assert_eq(cond_default_stages(COND_NETWORK), cond_at(SMFIC_CONNECT));
	cr_assert_eq(cond_default_stages(COND_S25R), cond_at(SMFIC_CONNECT));
	cr_assert_eq(cond_default_stages(COND_STRESS), cond_at(SMFIC_CONNECT));
	cr_assert_eq(cond_default_stages(COND_DNSBL), cond_at(SMFIC_CONNECT));
	cr_assert_eq(cond_default_stages(COND_AUTHENTICATED),
	    cond_at(SMFIC_MAIL));
	cr_assert_eq(cond_default_stages(COND_SENDER), cond_at(SMFIC_MAIL));
	cr_assert_eq(cond_default_stages(COND_MACRO), cond_at(SMFIC_MAIL));
	cr_assert_eq(cond_default_stages(COND_RECIPIENT), cond_at(SMFIC_RCPT));
	/* Until a worker ran its script: every stage. */
	cr_assert_eq(cond_default_stages(COND_LUA), cond_at(SMFIC_CONNECT) |
	    cond_at(SMFIC_HELO) | cond_at(SMFIC_MAIL) | cond_at(SMFIC_RCPT) |
	    cond_at(SMFIC_DATA));
	cr_assert_eq(cond_at(SMFIC_DATA), 16);
	/* On the message: at end of message only. */
	cr_assert_eq(cond_default_stages(COND_SIZE), COND_EOM);
	cr_assert_eq(cond_default_stages(COND_HEADER), COND_EOM);
	cr_assert_eq(cond_default_stages(COND_VERDICT), COND_EOM);
	cr_assert_eq(COND_EOM & (cond_at(SMFIC_CONNECT) | cond_at(SMFIC_HELO) |
	    cond_at(SMFIC_MAIL) | cond_at(SMFIC_RCPT) | cond_at(SMFIC_DATA)),
	    0);
}

Test(cond, type_names)
{
	const struct {
		enum cond_type	 t;
		const char	*name;
	} types[] = {
		{ COND_NETWORK, "network" },
		{ COND_AUTHENTICATED, "authenticated" },
		{ COND_S25R, "s25r" },
		{ COND_SENDER, "sender" },
		{ COND_MACRO, "macro" },
		{ COND_STRESS, "stress" },
		{ COND_RECIPIENT, "recipient" },
		{ COND_DNSBL, "dnsbl" },
		{ COND_LUA, "lua" },
		{ COND_SIZE, "size" },
		{ COND_HEADER, "header" },
		{ COND_VERDICT, "verdict" },
		{ COND_TABLE, "table" },
		{ COND_ANY, "any" },
		{ COND_ALL, "all" },
	};
	enum cond_type	t;
	size_t		i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		cr_assert_str_eq(cond_type_name(types[i].t), types[i].name);
		t = (enum cond_type)-1;
		cr_assert_eq(cond_type_parse(types[i].name, &t), 0);
		cr_assert_eq(t, types[i].t, "%s", types[i].name);
		cr_assert_eq(cond_type_parse(cond_type_name(types[i].t), &t),
		    0);
		cr_assert_eq(t, types[i].t);
	}
	t = COND_MACRO;
	cr_assert_eq(cond_type_parse("nosuch", &t), -1);
	cr_assert_eq(t, COND_MACRO);
	cr_assert_eq(cond_type_parse("", &t), -1);
	cr_assert_eq(cond_type_parse("Network", &t), -1);
	cr_assert_eq(cond_type_parse("network ", &t), -1);
	cr_assert_eq(t, COND_MACRO);
}

/* Recipient conditions: decided at each RCPT, against that recipient. */
Test(cond, recipient_list)
{
	struct cond		c;
	struct cond_view	v;
	enum cond_type		t;

	memset(&c, 0, sizeof(c));
	c.type = COND_RECIPIENT;
	cr_assert_not_null(c.list = calloc(2, sizeof(*c.list)));
	cr_assert_not_null(c.list[0] = strdup("@vip.example"));
	cr_assert_not_null(c.list[1] = strdup("boss@"));
	c.nlist = 2;
	cr_assert_eq(cond_type_parse("recipient", &t), 0);
	cr_assert_eq(t, COND_RECIPIENT);
	cr_assert_str_eq(cond_type_name(COND_RECIPIENT), "recipient");
	memset(&v, 0, sizeof(v));
	cr_assert(!cond_eval(&c, &v));		/* before RCPT */
	v.rcpt = "<ann@VIP.example>";
	cr_assert(cond_eval(&c, &v));
	v.rcpt = "boss@example.org";
	cr_assert(cond_eval(&c, &v));
	v.rcpt = "<bob@example.org>";
	cr_assert(!cond_eval(&c, &v));
	/* The sender is not what a recipient condition looks at. */
	v.rcpt = NULL;
	v.sender = "<ann@vip.example>";
	cr_assert(!cond_eval(&c, &v));
	cond_free(&c);
}

/* A Postfix configuration directory with these two files. */
static void
postfix_dir(char *dir, const char *master, const char *main)
{
	char	path[PATH_MAX];
	FILE	*fp;

	strcpy(dir, "/tmp/test_cond_pf.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/master.cf", dir);
	cr_assert_not_null(fp = fopen(path, "w"));
	fputs(master, fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/main.cf", dir);
	cr_assert_not_null(fp = fopen(path, "w"));
	fputs(main, fp);
	fclose(fp);
}

static void
postfix_dir_rm(const char *dir)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/master.cf", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/main.cf", dir);
	unlink(path);
	rmdir(dir);
}

/* stress derived from Postfix: the smtpd services' maxproc, summed. */
Test(cond, postfix_process_limit)
{
	char		dir[64], err[256];
	uint64_t	limit = 0;

	postfix_dir(dir,
	    "# service type  private unpriv  chroot  wakeup  maxproc command\n"
	    "smtp      inet  n       -       y       -       -       smtpd\n"
	    "  -o smtpd_milters=unix:/x\n"
	    "submission inet n       -       y       -       20      smtpd\n"
	    "pickup    unix  n       -       y       60      1       pickup\n"
	    "smtpd2    unix  n       -       y       -       50      smtpd\n",
	    "default_process_limit = 150\n");
	cr_assert_eq(cond_postfix_limit(dir, &limit, err, sizeof(err)), 0,
	    "%s", err);
	/* "-": default_process_limit; unix smtpd services do not count. */
	cr_assert_eq(limit, 170);
	postfix_dir_rm(dir);

	postfix_dir(dir,
	    "smtp      inet  n       -       y       -       -       smtpd\n",
	    "# no default_process_limit: Postfix's own, 100\n");
	cr_assert_eq(cond_postfix_limit(dir, &limit, err, sizeof(err)), 0);
	cr_assert_eq(limit, 100);
	postfix_dir_rm(dir);

	postfix_dir(dir, "pickup unix n - y 60 1 pickup\n", "");
	cr_assert_eq(cond_postfix_limit(dir, &limit, err, sizeof(err)), -1);
	cr_assert(strstr(err, "no smtpd service") != NULL, "%s", err);
	postfix_dir_rm(dir);

	cr_assert_eq(cond_postfix_limit("/nonexistent", &limit, err,
	    sizeof(err)), -1);
	cr_assert(strstr(err, "/nonexistent/master.cf") != NULL, "%s", err);
}

/* A main.cf that cannot be read is an error that says why, not 100. */
Test(cond, postfix_unreadable_main_cf)
{
	char		dir[64], path[PATH_MAX], want[PATH_MAX + 32],
			err[256];
	uint64_t	limit = 0;

	postfix_dir(dir,
	    "smtp      inet  n       -       y       -       -       smtpd\n",
	    "");
	snprintf(path, sizeof(path), "%s/main.cf", dir);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(cond_postfix_limit(dir, &limit, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: Is a directory", path);
	cr_assert_str_eq(err, want);
	rmdir(path);
	postfix_dir_rm(dir);
}

/* dnsbl: the names looked up (RFC 5782) and the zones' patterns. */
Test(cond, dnsbl_names)
{
	char	name[DNSBL_NAME_MAX];

	cr_assert_eq(cond_dnsbl_name("192.0.2.9", "bl.test", name,
	    sizeof(name)), 0);
	cr_assert_str_eq(name, "9.2.0.192.bl.test");
	cr_assert_eq(cond_dnsbl_name("2001:db8::1", "bl.test", name,
	    sizeof(name)), 0);
	cr_assert_str_eq(name, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.8.b.d.0.1.0.0.2.bl.test");
	/* As Sendmail writes it, and in brackets. */
	cr_assert_eq(cond_dnsbl_name("IPv6:2001:db8::1", "z", name,
	    sizeof(name)), 0);
	cr_assert_eq(cond_dnsbl_name("[192.0.2.9]", "z", name, sizeof(name)),
	    0);
	cr_assert_str_eq(name, "9.2.0.192.z");
	cr_assert_eq(cond_dnsbl_name("unknown", "z", name, sizeof(name)), -1);
	cr_assert_eq(cond_dnsbl_name("192.0.2.9", "bl.test", name, 12), -1);
}

static const struct dns_answer *
answers(void *arg, const char *name)
{
	const struct dns_answer	*a = arg;

	return strcmp(name, "9.2.0.192.bl.test") == 0 ? a : NULL;
}

static int
listed(const char *zone, int naddr, const uint8_t addrs[][4])
{
	struct cond		c;
	struct cond_view	v = view_addr("192.0.2.9");
	struct dns_answer	a;
	int			i, rc;

	memset(&c, 0, sizeof(c));
	memset(&a, 0, sizeof(a));
	a.naddr = naddr;
	for (i = 0; i < naddr; i++)
		memcpy(a.addr[i], addrs[i], 4);
	c.type = COND_DNSBL;
	cr_assert_not_null(c.zones = calloc(1, sizeof(*c.zones)));
	cr_assert_eq(cond_dnsbl_zone(zone, &c.zones[0]), 0, "%s", zone);
	c.nzones = 1;
	v.dns = answers;
	v.arg = &a;
	rc = cond_eval(&c, &v);
	cond_free(&c);
	return rc;
}

Test(cond, dnsbl_listed)
{
	static const uint8_t	two[][4] = { { 127, 0, 0, 2 } };
	static const uint8_t	ten[][4] = { { 127, 0, 0, 10 } };
	static const uint8_t	both[][4] = { { 127, 0, 0, 1 },
	    { 127, 0, 0, 4 } };
	struct dnsbl_zone	z;

	cr_assert_eq(listed("bl.test", 1, two), 1);
	cr_assert_eq(listed("bl.test", 0, two), 0);	/* NXDOMAIN */
	cr_assert_eq(listed("bl.test", -1, two), 0);	/* no answer */
	cr_assert_eq(listed("other.test", 1, two), 0);	/* not asked */
	cr_assert_eq(listed("bl.test=127.0.0.2", 1, two), 1);
	cr_assert_eq(listed("bl.test=127.0.0.3", 1, two), 0);
	cr_assert_eq(listed("bl.test=127.0.0.[2..11]", 1, ten), 1);
	cr_assert_eq(listed("bl.test=127.0.0.[2..9]", 1, ten), 0);
	cr_assert_eq(listed("bl.test=127.0.0.[2;4;8]", 2, both), 1);
	cr_assert_eq(listed("bl.test=127.0.0.[2;8]", 2, both), 0);
	cr_assert_eq(listed("bl.test=127.[0..255].0.[1..1]", 2, both), 1);
	cr_assert_eq(cond_dnsbl_zone("", &z), -1);
	cr_assert_eq(cond_dnsbl_zone("bl test", &z), -1);
	cr_assert_eq(cond_dnsbl_zone("bl.test=127.0.0", &z), -1);
	cr_assert_eq(cond_dnsbl_zone("bl.test=127.0.0.256", &z), -1);
	cr_assert_eq(cond_dnsbl_zone("bl.test=127.0.0.[9..2]", &z), -1);
	cr_assert_eq(cond_dnsbl_zone("bl.test=127.0.0.[2..", &z), -1);
	cr_assert_eq(cond_dnsbl_zone("bl.test=127.0.0.1.1", &z), -1);
	cr_assert_eq(cond_any(NULL, 0, COND_DNSBL), 0);
}

/* A lua condition from t/fixtures/lua/NAME, loaded as a worker does. */
static void
lua_cond(struct cond *c, const char *name, int time_limit, size_t memory)
{
	char	 path[PATH_MAX], err[512];
	FILE	*fp;

	memset(c, 0, sizeof(*c));
	c->type = COND_LUA;
	cr_assert_not_null(c->name = strdup(name));
	snprintf(path, sizeof(path), "%s/lua/%s", FIXTURES, name);
	cr_assert_not_null(c->script = strdup(path));
	cr_assert_not_null(fp = fopen(path, "r"), "%s", path);
	cr_assert_not_null(c->code = read_stream(fp, &c->codelen));
	fclose(fp);
	c->time_limit = time_limit;
	c->memory_limit = memory;
	c->stages = cond_default_stages(COND_LUA);
	cr_assert_eq(luacond_check(c, err, sizeof(err)), 0, "%s", err);
	luacond_open(c, 1);
}

static void
each_macro(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	(void)arg;
	fn(fnarg, "auth_authen", "ann");
	fn(fnarg, "i", "4F1x");
}

static void
each_child(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	(void)arg;
	fn(fnarg, "spam", "reject");
}

Test(cond, lua_stages_and_session)
{
	struct cond		c;
	struct cond_view	v = view_addr("192.0.2.9");
	static const char	rcpts[] = "<a@x.test>\0<b@y.test>";

	lua_cond(&c, "session.lua", 100, 1 << 20);
	/* It defines mail and rcpt only. */
	cr_assert_eq(c.stages, cond_at(SMFIC_MAIL) | cond_at(SMFIC_RCPT));
	v.id = "1.1";
	v.client_name = "mx.example";
	v.helo = "helo.example";
	v.sender = "<ann@example.com>";
	v.each_macro = each_macro;
	v.each_child = each_child;
	v.stage = SMFIC_MAIL;
	/* mail(): every field as the script expects it. */
	cr_assert_eq(cond_eval(&c, &v), 1);
	v.sender = "<bob@example.com>";
	cr_assert_eq(cond_eval(&c, &v), 0);
	/* rcpt(): this recipient and those before. */
	v.stage = SMFIC_RCPT;
	v.recipients = rcpts;
	v.recipients_len = sizeof(rcpts);
	v.rcpt = "<vip@example.org>";
	cr_assert_eq(cond_eval(&c, &v), 1);
	v.rcpt = "<nobody@example.org>";
	cr_assert_eq(cond_eval(&c, &v), 0);
	/* A stage it has no function for holds. */
	v.stage = SMFIC_CONNECT;
	cr_assert_eq(cond_eval(&c, &v), 1);
	luacond_close();
	cond_free(&c);
}

/*
 * Load a script from t/fixtures/lua with those limits, call its
 * function for each command of stages in turn, expect each result.
 */
static void
lua_expect(const char *script, int time_limit, const char *stages,
    const int *want)
{
	struct cond		c;
	struct cond_view	v = view_addr("192.0.2.9");
	size_t			i;

	lua_cond(&c, script, time_limit, 1 << 20);
	v.id = "1.2";
	for (i = 0; stages[i] != '\0'; i++) {
		v.stage = stages[i];
		cr_assert_eq(cond_eval(&c, &v), want[i], "%s: call %zu (%c)",
		    script, i, stages[i]);
	}
	luacond_close();
	cond_free(&c);
}

/*
 * Runtime errors, limits, and what is not a boolean: -1.  limits.lua:
 * connect loops for ever, helo allocates without end, mail calls
 * error(), rcpt returns a string, data is fine (the state survived).
 */
Test(cond, lua_errors_and_limits, .timeout = 30)
{
	lua_expect("limits.lua", 50, "CHMRTHT",
	    (const int []){ -1, -1, -1, -1, 1, -1, 1 });
}

/* The memory limit alone stops a call (the time limit is far). */
Test(cond, lua_memory_limit, .timeout = 30)
{
	lua_expect("limits.lua", 60000, "HT", (const int []){ -1, 1 });
}

/* A pcall() in the script does not catch the time limit. */
Test(cond, lua_time_limit_through_pcall, .timeout = 30)
{
	lua_expect("escape.lua", 50, "CT", (const int []){ -1, 1 });
}

/*
 * Commands without a stage of their own have no bit; end of message has
 * the conditions on the message's (asked of the lookup threads there).
 */
Test(cond, stage_bits)
{
	cr_assert_eq(cond_at(SMFIC_UNKNOWN), 0);
	cr_assert_eq(cond_at(SMFIC_HEADER), 0);
	cr_assert_eq(cond_at(SMFIC_BODYEOB), COND_EOM);
	cr_assert_eq(cond_at('\0'), 0);
	cr_assert_eq(cond_at(SMFIC_HELO), 2);
}

/* A syntax error is found by the master: file and line. */
Test(cond, lua_syntax_error)
{
	struct cond	c;
	char		err[512];

	memset(&c, 0, sizeof(c));
	c.type = COND_LUA;
	c.script = strdup("/etc/milterd/x.lua");
	c.code = strdup("function mail(s)\n  return s.sender ==\nend\n");
	c.codelen = strlen(c.code);
	cr_assert_eq(luacond_check(&c, err, sizeof(err)), -1);
	cr_assert(strstr(err, "/etc/milterd/x.lua:3:") != NULL, "%s", err);
	cond_free(&c);
}

/* A script whose top level fails: each call fails, nothing crashes. */
Test(cond, lua_failed_load)
{
	lua_expect("noload.lua", 100, "M", (const int []){ -1 });
}

/*
 * The conditions on the message, decided at end of message: a view
 * whose copy has these headers (name, value pairs) and whose children
 * gave these verdicts in the message.
 */
static const char *const	 eom_headers[] = {
	"Subject", "hello", "X-Spam-Flag", "YES", "x-spam-flag", "maybe",
	"X-Empty", "", NULL
};
static const char *const	 eom_verdicts[] = {
	"spam", "modified", "virus", "accept", "dkim", "reject", NULL
};

static void
each_pair(const char *const *kv, void (*fn)(void *, const char *,
    const char *), void *fnarg)
{
	size_t	i;

	for (i = 0; kv[i] != NULL; i += 2)
		fn(fnarg, kv[i], kv[i + 1]);
}

static void
each_header(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	each_pair(arg != NULL ? arg : eom_headers, fn, fnarg);
}

static void
each_verdict(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	(void)arg;
	each_pair(eom_verdicts, fn, fnarg);
}

static struct cond_view
view_eom(uint64_t size)
{
	struct cond_view	v = view_addr("192.0.2.9");

	v.id = "1.3";
	v.stage = SMFIC_BODYEOB;
	v.size = size;
	v.each_header = each_header;
	v.each_verdict = each_verdict;
	return v;
}

/* over and under: strictly above, strictly below, or between both. */
Test(cond, size_bounds)
{
	static const struct {
		uint64_t	min, max, size;
		int		holds;
	} t[] = {
		/* over = 1000 */
		{ 1001, UINT64_MAX, 1000, 0 },
		{ 1001, UINT64_MAX, 1001, 1 },
		{ 1001, UINT64_MAX, 50000000, 1 },
		/* under = 1000 */
		{ 0, 999, 999, 1 },
		{ 0, 999, 1000, 0 },
		{ 0, 999, 0, 1 },
		/* over = 10, under = 20 */
		{ 11, 19, 10, 0 },
		{ 11, 19, 15, 1 },
		{ 11, 19, 20, 0 },
	};
	struct cond		c;
	struct cond_view	v;
	size_t			i;

	memset(&c, 0, sizeof(c));
	c.type = COND_SIZE;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		c.size_min = t[i].min;
		c.size_max = t[i].max;
		v = view_eom(t[i].size);
		cr_assert_eq(cond_eval(&c, &v), t[i].holds, "case %zu", i);
	}
}

/*
 * header: the name in any case, each of its values (any one matching
 * holds), the regex as written (case counts).
 */
Test(cond, header_match)
{
	static const struct {
		const char	*name, *re;
		int		 holds;
	} t[] = {
		{ "X-Spam-Flag", "^YES$", 1 },
		{ "x-spam-flag", "^YES", 1 },
		{ "X-Spam-Flag", "^maybe$", 1 },	/* the second one */
		{ "X-Spam-Flag", "^yes$", 0 },
		{ "X-Spam-Flag", "^NO", 0 },
		{ "X-Spam", "YES", 0 },		/* a name, not a prefix */
		{ "X-Missing", ".*", 0 },
		{ "X-Empty", "^$", 1 },
		{ "Subject", "ell", 1 },
	};
	struct cond		c;
	struct cond_view	v = view_eom(100);
	size_t			i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.type = COND_HEADER;
		cr_assert_not_null(c.header = strdup(t[i].name));
		cr_assert_eq(regcomp(&c.re, t[i].re, REG_EXTENDED | REG_NOSUB),
		    0);
		c.has_re = 1;
		cr_assert_eq(cond_eval(&c, &v), t[i].holds, "%s ~ %s",
		    t[i].name, t[i].re);
		cond_free(&c);
	}
	/* No headers seen (a view without them): does not hold. */
	v.each_header = NULL;
	memset(&c, 0, sizeof(c));
	c.type = COND_HEADER;
	cr_assert_not_null(c.header = strdup("Subject"));
	cr_assert_eq(regcomp(&c.re, ".*", REG_EXTENDED | REG_NOSUB), 0);
	c.has_re = 1;
	cr_assert_eq(cond_eval(&c, &v), 0);
	cond_free(&c);
}

/* verdict: that child's verdict in this message is one of is. */
Test(cond, verdict_is)
{
	static const struct {
		const char	*child;
		unsigned int	 is;
		int		 holds;
	} t[] = {
		{ "spam", 1U << CV_MODIFIED, 1 },
		{ "spam", 1U << CV_ACCEPT, 0 },		/* modified is not */
		{ "virus", 1U << CV_ACCEPT | 1U << CV_MODIFIED, 1 },
		{ "dkim", 1U << CV_REJECT, 1 },
		{ "dkim", 1U << CV_TEMPFAIL | 1U << CV_DISCARD |
		    1U << CV_QUARANTINE, 0 },
		{ "nobody", (1U << NCV) - 1, 0 },	/* no verdict: none */
		{ "Spam", 1U << CV_MODIFIED, 0 },	/* names are exact */
	};
	struct cond		c;
	struct cond_view	v = view_eom(100);
	enum cond_verdict	cv;
	size_t			i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.type = COND_VERDICT;
		cr_assert_not_null(c.child = strdup(t[i].child));
		c.verdicts = t[i].is;
		cr_assert_eq(cond_eval(&c, &v), t[i].holds, "case %zu", i);
		cond_free(&c);
	}
	for (cv = 0; cv < NCV; cv++) {
		enum cond_verdict	back = NCV;

		cr_assert_eq(cond_verdict_parse(cond_verdict_name(cv), &back),
		    0);
		cr_assert_eq(back, cv);
	}
	cr_assert_str_eq(cond_verdict_name(CV_MODIFIED), "modified");
	cr_assert_eq(cond_verdict_parse("stopped", &cv), -1);
	cr_assert_eq(cond_verdict_parse("Accept", &cv), -1);
}

/* A lua eom(): its stage bit, and the message beside the session. */
Test(cond, lua_eom)
{
	static const char		*clean[] = { "Subject", "hi", NULL };
	struct cond			 c;
	struct cond_view		 v = view_eom(500);

	lua_cond(&c, "eom.lua", 100, 1 << 20);
	cr_assert_eq(c.stages, COND_EOM);
	v.sender = "<ann@example.com>";
	cr_assert_eq(cond_eval(&c, &v), 1);
	/* Too big, not flagged, another sender: does not hold. */
	v.size = 1000;
	cr_assert_eq(cond_eval(&c, &v), 0);
	v.size = 500;
	v.arg = (void *)clean;
	cr_assert_eq(cond_eval(&c, &v), 0);
	v.arg = NULL;
	v.sender = "<bob@example.com>";
	cr_assert_eq(cond_eval(&c, &v), 0);
	luacond_close();
	cond_free(&c);
}
