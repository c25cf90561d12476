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
 * conncheck.c: does an SMTP client's TCP connection still exist?
 *
 * On Linux each check is one NETLINK_SOCK_DIAG request for exactly
 * that 4-tuple (the kernel looks the socket up in its hash, it does not
 * walk the table); requests of a tick go out together, at most
 * INFLIGHT_MAX unanswered at a time so that the answers fit the socket's
 * buffer, and answers are read as they come.  Elsewhere conncheck_open()
 * fails with ENOSYS.
 *
 * The MTA's socket is what is looked for: local address and port the
 * MTA's, remote the client's.  A client that closed leaves that socket
 * in CLOSE_WAIT (the MTA has not closed it yet); one that reset it, or
 * whose socket the MTA closed, leaves none.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#ifdef __linux__
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#endif

#include "conncheck.h"
#include "log.h"
#include "util.h"

/*
 * Each answer takes a buffer of its own in the socket's receive queue,
 * a few KiB of its default 208 KiB: more unanswered requests than this
 * lose answers (ENOBUFS).
 */
#define INFLIGHT_MAX	32
#define ANSWER_WAIT	5	/* seconds */

static TAILQ_HEAD(, conncheck_item) queue = TAILQ_HEAD_INITIALIZER(queue);
static struct conncheck_item	*inflight[INFLIGHT_MAX];
static size_t			 ninflight;
static uint32_t			 next_seq = 1;
static int			 nl_fd = -1;
static struct event		*nl_ev;

static void	send_queued(void);
static void	read_cb(evutil_socket_t, short, void *);
static void	finish(struct conncheck_item *, int, const char *);

/*
 * The tuple from what the MTA said: the client's family ('4', '6'),
 * address and port from the connect command, the MTA's address and
 * port from macros ({daemon_addr} or {if_addr}, {daemon_port}).
 */
int
conncheck_tuple(struct conn_tuple *t, char family, const char *raddr,
    uint16_t rport, const char *laddr, const char *lport)
{
	const char	*errstr;
	int		 rfam, lfam;

	memset(t, 0, sizeof(*t));
	if ((family != '4' && family != '6') || raddr == NULL ||
	    laddr == NULL || lport == NULL || rport == 0)
		return -1;
	t->lport = (uint16_t)strtonum(lport, 1, 65535, &errstr);
	if (errstr != NULL || addr_parse(raddr, &rfam, t->remote) == -1 ||
	    addr_parse(laddr, &lfam, t->local) == -1)
		return -1;
	t->rport = rport;
	/* A v4 client of a dual-stack socket: both as v4-mapped v6. */
	if (rfam != lfam) {
		if (rfam == AF_INET) {
			memmove(t->remote + 12, t->remote, 4);
			memset(t->remote, 0, 10);
			t->remote[10] = t->remote[11] = 0xff;
		} else {
			memmove(t->local + 12, t->local, 4);
			memset(t->local, 0, 10);
			t->local[10] = t->local[11] = 0xff;
		}
		rfam = AF_INET6;
	}
	t->family = rfam;
	return 0;
}

#ifdef __linux__

struct diag_request {
	struct nlmsghdr		nlh;
	struct inet_diag_req_v2	req;
};

/* One request into buf (of len bytes): its size, 0 if it does not fit. */
size_t
conncheck_request(void *buf, size_t len, const struct conn_tuple *t,
    uint32_t seq)
{
	struct diag_request	r;

	if (len < sizeof(r))
		return 0;
	memset(&r, 0, sizeof(r));
	r.nlh.nlmsg_len = sizeof(r);
	r.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	r.nlh.nlmsg_flags = NLM_F_REQUEST;
	r.nlh.nlmsg_seq = seq;
	r.req.sdiag_family = (uint8_t)t->family;
	r.req.sdiag_protocol = IPPROTO_TCP;
	r.req.idiag_states = ~0U;
	r.req.id.idiag_sport = htons(t->lport);
	r.req.id.idiag_dport = htons(t->rport);
	memcpy(r.req.id.idiag_src, t->local, t->family == AF_INET ? 4 : 16);
	memcpy(r.req.id.idiag_dst, t->remote, t->family == AF_INET ? 4 : 16);
	r.req.id.idiag_cookie[0] = r.req.id.idiag_cookie[1] =
	    INET_DIAG_NOCOOKIE;
	memcpy(buf, &r, sizeof(r));
	return sizeof(r);
}

static const char *
tcp_state_name(int state)
{
	static const char	*names[] = { "?", "ESTABLISHED", "SYN_SENT",
	    "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
	    "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING" };

	return state > 0 && state < (int)(sizeof(names) / sizeof(names[0])) ?
	    names[state] : "?";
}

/*
 * One answer from buf: CHECK_OPEN, CHECK_CLOSING or CHECK_ABSENT with
 * *seq its request and *why a word for the log; 0 for a message that
 * answers nothing; -1 if malformed.  *used is its size.
 */
int
conncheck_reply(const void *buf, size_t len, size_t *used, uint32_t *seq,
    const char **why)
{
	struct nlmsghdr		 h;
	struct nlmsgerr		 e;
	struct inet_diag_msg	 m;
	const uint8_t		*p = buf;

	if (len < sizeof(h))
		return -1;
	memcpy(&h, p, sizeof(h));
	if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len)
		return -1;
	*used = NLMSG_ALIGN(h.nlmsg_len) < len ? NLMSG_ALIGN(h.nlmsg_len) :
	    len;
	*seq = h.nlmsg_seq;
	if (h.nlmsg_type == NLMSG_ERROR) {
		if (h.nlmsg_len < NLMSG_LENGTH(sizeof(e)))
			return -1;
		memcpy(&e, p + NLMSG_HDRLEN, sizeof(e));
		if (e.error == 0)
			return 0;		/* an acknowledgement */
		*why = e.error == -ENOENT ? "not found" : strerror(-e.error);
		return e.error == -ENOENT ? CHECK_ABSENT : -1;
	}
	if (h.nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return 0;
	if (h.nlmsg_len < NLMSG_LENGTH(sizeof(m)))
		return -1;
	memcpy(&m, p + NLMSG_HDRLEN, sizeof(m));
	/* Without the connection, the kernel's lookup finds its listener. */
	if (m.idiag_state == 10) {
		*why = "not found";
		return CHECK_ABSENT;
	}
	*why = tcp_state_name(m.idiag_state);
	/* Anything past established: one side has closed. */
	return m.idiag_state == 1 || m.idiag_state == 3 ? CHECK_OPEN :
	    CHECK_CLOSING;
}

int
conncheck_open(struct event_base *base)
{
	if ((nl_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) == -1)
		return -1;
	if ((nl_ev = event_new(base, nl_fd, EV_READ | EV_PERSIST, read_cb,
	    NULL)) == NULL || event_add(nl_ev, NULL) == -1) {
		close(nl_fd);
		nl_fd = -1;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void
conncheck_close(void)
{
	if (nl_fd == -1)
		return;
	event_free(nl_ev);
	close(nl_fd);
	nl_fd = -1;
}

/* As many queued requests as may be in flight, in one write. */
static void
send_queued(void)
{
	static uint8_t		 buf[INFLIGHT_MAX * sizeof(struct diag_request)];
	struct conncheck_item	*it;
	size_t			 n = 0;

	while (ninflight < INFLIGHT_MAX && (it = TAILQ_FIRST(&queue)) !=
	    NULL) {
		TAILQ_REMOVE(&queue, it, entry);
		while (inflight[next_seq % INFLIGHT_MAX] != NULL)
			next_seq++;
		it->seq = next_seq++;
		it->sent = time(NULL);
		inflight[it->seq % INFLIGHT_MAX] = it;
		ninflight++;
		n += conncheck_request(buf + n, sizeof(buf) - n, &it->tuple,
		    it->seq);
	}
	if (n > 0 && send(nl_fd, buf, n, 0) != (ssize_t)n) {
		log_warn("disconnect check: netlink send");
		/* Unanswered: asked again at the next tick. */
		for (n = 0; n < INFLIGHT_MAX; n++)
			if ((it = inflight[n]) != NULL) {
				inflight[n] = NULL;
				it->queued = 0;
			}
		ninflight = 0;
	}
}

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	static uint8_t		 buf[65536];
	struct conncheck_item	*it;
	const char		*why = "";
	ssize_t			 n;
	size_t			 off, used;
	uint32_t		 seq;
	int			 rc;

	(void)what;
	(void)arg;
	/*
	 * Each answer is one datagram, there once the request is sent
	 * (the kernel answers within send()): read once, then on while
	 * answers are owed, not once more to hear EAGAIN.  Anything left
	 * wakes the loop again: the event is level triggered.
	 */
	do {
		if ((n = recv(fd, buf, sizeof(buf), 0)) <= 0)
			break;
		for (off = 0; off < (size_t)n; off += used) {
			rc = conncheck_reply(buf + off, (size_t)n - off, &used,
			    &seq, &why);
			if (rc == -1) {
				log_warnx("disconnect check: bad netlink "
				    "answer (%s)", why);
				break;
			}
			it = inflight[seq % INFLIGHT_MAX];
			if (rc == 0 || it == NULL || it->seq != seq)
				continue;
			inflight[seq % INFLIGHT_MAX] = NULL;
			ninflight--;
			finish(it, rc, why);
		}
	} while (ninflight > 0);
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("disconnect check: netlink receive");
	send_queued();
}

#else /* !__linux__ */

size_t
conncheck_request(void *buf, size_t len, const struct conn_tuple *t,
    uint32_t seq)
{
	(void)buf;
	(void)len;
	(void)t;
	(void)seq;
	return 0;
}

int
conncheck_reply(const void *buf, size_t len, size_t *used, uint32_t *seq,
    const char **why)
{
	(void)buf;
	(void)len;
	(void)used;
	(void)seq;
	(void)why;
	return -1;
}

int
conncheck_open(struct event_base *base)
{
	(void)base;
	errno = ENOSYS;
	return -1;
}

void
conncheck_close(void)
{
}

static void
send_queued(void)
{
}

#endif /* __linux__ */

static void
finish(struct conncheck_item *it, int result, const char *why)
{
	it->queued = 0;
	it->done(it, result, why);
}

/*
 * Check it at the next chance; once at a time.  A request unanswered
 * for ANSWER_WAIT seconds (an answer lost) is made again.
 */
void
conncheck_submit(struct conncheck_item *it)
{
	if (it->queued && inflight[it->seq % INFLIGHT_MAX] == it &&
	    time(NULL) - it->sent > ANSWER_WAIT)
		conncheck_cancel(it);
	if (it->queued || nl_fd == -1)
		return;
	it->queued = 1;
	TAILQ_INSERT_TAIL(&queue, it, entry);
	send_queued();
}

/* Its owner is going: no answer for it. */
void
conncheck_cancel(struct conncheck_item *it)
{
	if (!it->queued)
		return;
	if (inflight[it->seq % INFLIGHT_MAX] == it) {
		inflight[it->seq % INFLIGHT_MAX] = NULL;
		ninflight--;
	} else
		TAILQ_REMOVE(&queue, it, entry);
	it->queued = 0;
}
