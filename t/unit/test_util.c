/*
 * test_util.c: socket specifications in Sendmail's and Postfix's
 * spellings (src/util.c).
 */

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <criterion/criterion.h>
#include <string.h>

#include "util.h"

static struct sockspec	sp;
static char		err[256];

Test(util, unix_spellings)
{
	static const char	*specs[] = { "unix:/run/m.sock", "local:/run/m.sock",
	    "/run/m.sock" };
	struct sockaddr_un	*sun = (struct sockaddr_un *)&sp.ss;
	size_t			 i;

	for (i = 0; i < 3; i++) {
		cr_assert_eq(sockspec_parse(specs[i], &sp, err, sizeof(err)), 0,
		    "%s: %s", specs[i], err);
		cr_assert(sockspec_is_unix(&sp));
		cr_assert_str_eq(sun->sun_path, "/run/m.sock");
		cr_assert_str_eq(sp.text, specs[i]);
	}
}

Test(util, inet_spellings)
{
	static const char		*specs[] = { "inet:10025@127.0.0.1",
	    "inet:127.0.0.1:10025", "inet:[127.0.0.1]:10025" };
	struct sockaddr_in		*sin = (struct sockaddr_in *)&sp.ss;
	struct sockaddr_in6		*sin6 = (struct sockaddr_in6 *)&sp.ss;
	char				 addr[64];
	size_t				 i;

	for (i = 0; i < 3; i++) {
		cr_assert_eq(sockspec_parse(specs[i], &sp, err, sizeof(err)), 0,
		    "%s: %s", specs[i], err);
		cr_assert_eq(sin->sin_family, AF_INET);
		cr_assert_eq(ntohs(sin->sin_port), 10025);
		cr_assert_eq(sin->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	}
	cr_assert_eq(sockspec_parse("inet6:10025@[::1]", &sp, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(sin6->sin6_family, AF_INET6);
	inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
	cr_assert_str_eq(addr, "::1");
	cr_assert_eq(sockspec_parse("inet6:[::1]:25", &sp, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(ntohs(sin6->sin6_port), 25);
}

Test(util, bad_specs)
{
	static const struct {
		const char	*spec;
		const char	*err;
	} bad[] = {
		{ "unix:relative", "unix socket path must be absolute" },
		{ "tcp:1@h", "unknown socket type (unix:, local:, inet:, inet6:)" },
		{ "inet:10025", "expected port@host or host:port" },
		{ "inet:@127.0.0.1", "expected port@host or host:port" },
		{ "inet:http@127.0.0.1", "port http: expected 1 to 65535" },
		{ "inet:65536@127.0.0.1", "port 65536: expected 1 to 65535" },
		{ "inet:0@127.0.0.1", "port 0: expected 1 to 65535" },
		{ "inet6:[::1]:123456", "port 123456: expected 1 to 65535" },
	};
	char	 longpath[200];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(sockspec_parse(bad[i].spec, &sp, err, sizeof(err)),
		    -1, "%s accepted", bad[i].spec);
		cr_assert_str_eq(err, bad[i].err);
	}
	memset(longpath, 'a', sizeof(longpath));
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	cr_assert_eq(sockspec_parse(longpath, &sp, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "unix socket path too long");
}

/*
 * A child's socket with a host name: kept to be resolved when
 * connecting; one that does not resolve now is a warning (1), with the
 * port and no address; for listen (sockspec_parse) still an error.
 */
Test(util, host_names)
{
	static const struct {
		const char	*spec;
		int		 rc;		/* sockspec_parse_name() */
		const char	*host;
		int		 plain;		/* sockspec_parse() */
	} t[] = {
		{ "inet:25@127.0.0.1", 0, "", 0 },
		{ "inet:25@localhost", 0, "localhost", 0 },
		{ "inet:[127.0.0.1]:25", 0, "", 0 },
		{ "inet:25@nowhere.invalid", 1, "nowhere.invalid", -1 },
		{ "inet6:25@[::1]", 0, "", 0 },
		{ "unix:/run/x.sock", 0, "", 0 },
		{ "inet:0@nowhere.invalid", -1, NULL, -1 },
	};
	struct sockaddr_in	*sin = (struct sockaddr_in *)&sp.ss;
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_assert_eq(sockspec_parse_name(t[i].spec, &sp, err,
		    sizeof(err)), t[i].rc, "%s: %s", t[i].spec, err);
		if (t[i].host != NULL)
			cr_assert_str_eq(sp.host, t[i].host, "%s", t[i].spec);
		if (t[i].rc == 1) {
			cr_assert_eq(sp.sslen, 0);
			cr_assert_eq(sin->sin_family, AF_INET);
			cr_assert_eq(ntohs(sin->sin_port), 25);
			cr_assert(strstr(err, "nowhere.invalid") != NULL, "%s",
			    err);
		}
		cr_assert_eq(sockspec_parse(t[i].spec, &sp, err,
		    sizeof(err)), t[i].plain, "%s", t[i].spec);
	}
}

Test(util, same_socket_however_spelt)
{
	struct sockspec	a, b;

	cr_assert_eq(sockspec_parse("unix:/x", &a, err, sizeof(err)), 0);
	cr_assert_eq(sockspec_parse("/x", &b, err, sizeof(err)), 0);
	cr_assert(sockspec_same(&a, &b));
	cr_assert_eq(sockspec_parse("local:/y", &b, err, sizeof(err)), 0);
	cr_assert(!sockspec_same(&a, &b));
	cr_assert_eq(sockspec_parse("inet:25@127.0.0.1", &a, err,
	    sizeof(err)), 0);
	cr_assert_eq(sockspec_parse("inet:127.0.0.1:25", &b, err,
	    sizeof(err)), 0);
	cr_assert(sockspec_same(&a, &b));
	cr_assert_eq(sockspec_parse("inet:26@127.0.0.1", &b, err,
	    sizeof(err)), 0);
	cr_assert(!sockspec_same(&a, &b));
	cr_assert_eq(sockspec_parse("inet6:25@[::1]", &a, err, sizeof(err)),
	    0);
	cr_assert_eq(sockspec_parse("inet6:[::1]:25", &b, err, sizeof(err)),
	    0);
	cr_assert(sockspec_same(&a, &b));
}

/* Untrusted text made fit for a log line: bounded, no control bytes. */
Test(util, printable)
{
	static const struct {
		const char	*in;
		size_t		 len, dstlen;
		const char	*out;
	} t[] = {
		{ "plain text", 10, 64, "plain text" },
		{ "a\nb\rc\033[2Jd", 10, 64, "a?b?c?[2Jd" },
		{ "nul\0after", 9, 64, "nul?after" },
		{ "\177\200\377x", 4, 64, "???x" },
		{ "truncated here", 14, 10, "truncated" },
		{ "", 0, 64, "" },
		{ "x", 1, 1, "" },
	};
	char	out[64];
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(out, 'Z', sizeof(out));
		str_printable(out, t[i].dstlen, t[i].in, t[i].len);
		cr_assert_str_eq(out, t[i].out, "row %zu", i);
	}
}

/* Never an unset struct tm: what gmtime_r() cannot take is "invalid". */
Test(util, fmt_utc)
{
	static const struct {
		int64_t		 t;
		const char	*want;
	} cases[] = {
		{ 0, "-" },
		{ 1, "1970-01-01T00:00:01Z" },
		{ 1767323045, "2026-01-02T03:04:05Z" },
		{ INT64_MAX, "invalid" },
		{ INT64_MIN, "invalid" },
	};
	char	buf[32];
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'Z', sizeof(buf));
		fmt_utc(buf, sizeof(buf), cases[i].t);
		cr_expect_str_eq(buf, cases[i].want, "%lld",
		    (long long)cases[i].t);
	}
	fmt_utc(buf, 5, 1);
	cr_expect_str_eq(buf, "inva", "too small a buffer");
}

/*
 * evaluation_sample's choice: FNV-1a of "SEED/ID" modulo 100, below the
 * percent.  The buckets here were computed apart (t/shadow.sh has the
 * same function in Python): 0/4242.1 is 73, 0/4242.2 16, 7/4242.1 90,
 * 7/100.17 4, 4294967295/1.1 91.
 */
Test(util, sample_in)
{
	static const struct {
		uint32_t	 seed;
		const char	*id;
		int		 percent;
		int		 want;
	} cases[] = {
		{ 0, "4242.1", 73, 0 }, { 0, "4242.1", 74, 1 },
		{ 0, "4242.2", 16, 0 }, { 0, "4242.2", 17, 1 },
		{ 7, "4242.1", 90, 0 }, { 7, "4242.1", 91, 1 },
		{ 7, "100.17", 4, 0 }, { 7, "100.17", 5, 1 },
		{ 4294967295U, "1.1", 91, 0 }, { 4294967295U, "1.1", 92, 1 },
		/* All and none, whatever the bucket. */
		{ 0, "4242.1", 100, 1 }, { 7, "100.17", 0, 0 },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(sample_in(cases[i].seed, cases[i].id,
		    cases[i].percent), cases[i].want, "%u/%s at %d %%",
		    cases[i].seed, cases[i].id, cases[i].percent);
}
