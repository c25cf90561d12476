/*
 * test_conncheck.c: the disconnect check's tuple, its netlink request
 * and answers (src/conncheck.c), and the same against this kernel's
 * own TCP sockets on the loopback.
 */

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conncheck.h"

Test(conncheck, tuples)
{
	struct conn_tuple	t;
	static const uint8_t	mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff, 192, 0, 2, 1 };

	cr_assert_eq(conncheck_tuple(&t, '4', "192.0.2.1", 4567, "127.0.0.1",
	    "25"), 0);
	cr_assert_eq(t.family, AF_INET);
	cr_assert_eq(t.rport, 4567);
	cr_assert_eq(t.lport, 25);
	cr_assert_eq(memcmp(t.remote, "\xc0\x00\x02\x01", 4), 0);
	cr_assert_eq(memcmp(t.local, "\x7f\x00\x00\x01", 4), 0);
	/* Sendmail's spelling, brackets. */
	cr_assert_eq(conncheck_tuple(&t, '6', "IPv6:2001:db8::1", 1,
	    "[::1]", "587"), 0);
	cr_assert_eq(t.family, AF_INET6);
	cr_assert_eq(t.local[15], 1);
	/* A v4 client of a v6 socket: v4-mapped. */
	cr_assert_eq(conncheck_tuple(&t, '4', "192.0.2.1", 1, "::1", "25"),
	    0);
	cr_assert_eq(t.family, AF_INET6);
	cr_assert_eq(memcmp(t.remote, mapped, 16), 0);
	/* What cannot be checked. */
	cr_assert_eq(conncheck_tuple(&t, 'U', NULL, 0, "127.0.0.1", "25"),
	    -1);
	cr_assert_eq(conncheck_tuple(&t, '4', "192.0.2.1", 1, NULL, "25"),
	    -1);
	cr_assert_eq(conncheck_tuple(&t, '4', "192.0.2.1", 1, "127.0.0.1",
	    NULL), -1);
	cr_assert_eq(conncheck_tuple(&t, '4', "192.0.2.1", 1, "127.0.0.1",
	    "smtp"), -1);
	cr_assert_eq(conncheck_tuple(&t, '4', "host.example", 1,
	    "127.0.0.1", "25"), -1);
	cr_assert_eq(conncheck_tuple(&t, '4', "192.0.2.1", 0, "127.0.0.1",
	    "25"), -1);
}

Test(conncheck, request)
{
	struct conn_tuple	t;
	uint8_t			buf[256];
	struct nlmsghdr		h;
	struct inet_diag_req_v2	r;
	size_t			n;

	conncheck_tuple(&t, '4', "192.0.2.1", 4567, "127.0.0.1", "25");
	cr_assert_eq(conncheck_request(buf, 10, &t, 7), 0);
	n = conncheck_request(buf, sizeof(buf), &t, 7);
	cr_assert_eq(n, sizeof(h) + sizeof(r));
	memcpy(&h, buf, sizeof(h));
	memcpy(&r, buf + sizeof(h), sizeof(r));
	cr_assert_eq(h.nlmsg_len, n);
	cr_assert_eq(h.nlmsg_type, SOCK_DIAG_BY_FAMILY);
	cr_assert_eq(h.nlmsg_flags, NLM_F_REQUEST);	/* one, not a dump */
	cr_assert_eq(h.nlmsg_seq, 7);
	cr_assert_eq(r.sdiag_family, AF_INET);
	cr_assert_eq(r.sdiag_protocol, IPPROTO_TCP);
	cr_assert_eq(ntohs(r.id.idiag_sport), 25);
	cr_assert_eq(ntohs(r.id.idiag_dport), 4567);
	cr_assert_eq(r.id.idiag_dst[0], inet_addr("192.0.2.1"));
	cr_assert_eq(r.id.idiag_src[0], inet_addr("127.0.0.1"));
	cr_assert_eq(r.id.idiag_cookie[0], INET_DIAG_NOCOOKIE);
}

/* An answer as the kernel writes it. */
static size_t
answer(uint8_t *buf, int type, uint32_t seq, int error, int state)
{
	struct nlmsghdr		h;
	struct nlmsgerr		e;
	struct inet_diag_msg	m;

	memset(&h, 0, sizeof(h));
	h.nlmsg_type = (uint16_t)type;
	h.nlmsg_seq = seq;
	if (type == NLMSG_ERROR) {
		memset(&e, 0, sizeof(e));
		e.error = error;
		h.nlmsg_len = NLMSG_LENGTH(sizeof(e));
		memcpy(buf + NLMSG_HDRLEN, &e, sizeof(e));
	} else {
		memset(&m, 0, sizeof(m));
		m.idiag_state = (uint8_t)state;
		h.nlmsg_len = NLMSG_LENGTH(sizeof(m));
		memcpy(buf + NLMSG_HDRLEN, &m, sizeof(m));
	}
	memcpy(buf, &h, sizeof(h));
	return h.nlmsg_len;
}

Test(conncheck, answers)
{
	uint8_t		buf[512];
	const char	*why = "";
	size_t		n, used;
	uint32_t	seq;

	n = answer(buf, SOCK_DIAG_BY_FAMILY, 3, 0, 1);
	cr_assert_eq(conncheck_reply(buf, n, &used, &seq, &why), CHECK_OPEN);
	cr_assert_eq(seq, 3);
	cr_assert_eq(used, n);
	cr_assert_str_eq(why, "ESTABLISHED");
	n = answer(buf, SOCK_DIAG_BY_FAMILY, 4, 0, 8);
	cr_assert_eq(conncheck_reply(buf, n, &used, &seq, &why),
	    CHECK_CLOSING);
	cr_assert_str_eq(why, "CLOSE_WAIT");
	/* Its listener, found instead of the connection: none. */
	n = answer(buf, SOCK_DIAG_BY_FAMILY, 4, 0, 10);
	cr_assert_eq(conncheck_reply(buf, n, &used, &seq, &why),
	    CHECK_ABSENT);
	n = answer(buf, NLMSG_ERROR, 5, -ENOENT, 0);
	cr_assert_eq(conncheck_reply(buf, n, &used, &seq, &why),
	    CHECK_ABSENT);
	cr_assert_eq(seq, 5);
	/* An acknowledgement answers nothing; another error is an error. */
	n = answer(buf, NLMSG_ERROR, 6, 0, 0);
	cr_assert_eq(conncheck_reply(buf, n, &used, &seq, &why), 0);
	n = answer(buf, NLMSG_ERROR, 6, -EPERM, 0);
	cr_assert_eq(conncheck_reply(buf, n, &used, &seq, &why), -1);
	/* Truncated, or a length past the buffer. */
	n = answer(buf, SOCK_DIAG_BY_FAMILY, 3, 0, 1);
	cr_assert_eq(conncheck_reply(buf, 8, &used, &seq, &why), -1);
	cr_assert_eq(conncheck_reply(buf, n - 1, &used, &seq, &why), -1);
	buf[0] = 4;	/* nlmsg_len below the header */
	buf[1] = buf[2] = buf[3] = 0;
	cr_assert_eq(conncheck_reply(buf, n, &used, &seq, &why), -1);
}

/* Ask this kernel about one connection, synchronously. */
static int
ask(const struct conn_tuple *t, const char **why)
{
	uint8_t		buf[8192];
	size_t		n, used;
	uint32_t	seq;
	ssize_t		got;
	int		fd, rc;

	fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
	cr_assert_neq(fd, -1, "netlink: %s", strerror(errno));
	n = conncheck_request(buf, sizeof(buf), t, 42);
	cr_assert_eq(send(fd, buf, n, 0), (ssize_t)n);
	got = recv(fd, buf, sizeof(buf), 0);
	cr_assert_gt(got, 0);
	rc = conncheck_reply(buf, (size_t)got, &used, &seq, why);
	cr_assert_eq(seq, 42);
	close(fd);
	return rc;
}

static void
tuple_of(int fd, struct conn_tuple *t)
{
	struct sockaddr_in	self, peer;
	socklen_t		len = sizeof(self);
	char			port[8];

	getsockname(fd, (struct sockaddr *)&self, &len);
	len = sizeof(peer);
	getpeername(fd, (struct sockaddr *)&peer, &len);
	snprintf(port, sizeof(port), "%u", ntohs(self.sin_port));
	cr_assert_eq(conncheck_tuple(t, '4', "127.0.0.1", ntohs(peer.sin_port),
	    "127.0.0.1", port), 0);
}

/* The server side of a loopback connection: open, closing, gone. */
Test(conncheck, this_kernel)
{
	struct sockaddr_in	sin;
	struct conn_tuple	t;
	struct timespec		ms = { 0, 10000000 };
	socklen_t		len = sizeof(sin);
	const char		*why;
	int			lfd, cfd, sfd, rc, i;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(lfd, 1), 0);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(cfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_neq(sfd = accept(lfd, NULL, NULL), -1);
	tuple_of(sfd, &t);
	cr_assert_eq(ask(&t, &why), CHECK_OPEN, "%s", why);
	/* The client goes: the server's socket waits in CLOSE_WAIT. */
	close(cfd);
	for (i = 0; i < 200 && (rc = ask(&t, &why)) == CHECK_OPEN; i++)
		nanosleep(&ms, NULL);
	cr_assert_eq(rc, CHECK_CLOSING);
	cr_assert_str_eq(why, "CLOSE_WAIT");
	/* The server closes too: no such connection any more. */
	close(sfd);
	for (i = 0; i < 200 && (rc = ask(&t, &why)) != CHECK_ABSENT; i++)
		nanosleep(&ms, NULL);
	cr_assert_eq(rc, CHECK_ABSENT, "%s", why);
	/* Another port: never there. */
	t.rport ^= 1;
	cr_assert_eq(ask(&t, &why), CHECK_ABSENT);
	close(lfd);
}
