/*
 * conncheck-bench.c: the disconnect check's cost, as milterd's workers
 * pay it: N loopback TCP connections held open, each checked through
 * src/conncheck.c on an event loop, ROUNDS times.  Prints checks per
 * second and CPU time per check.
 *
 * Usage: conncheck-bench [connections [rounds]]  (default 10000, 5)
 */

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conncheck.h"
#include "log.h"

static struct conncheck_item	*items;
static size_t			 pending, open_seen, other;
static struct event_base	*base;

static void
done(struct conncheck_item *it, int result, const char *why)
{
	(void)it;
	(void)why;
	if (result == CHECK_OPEN)
		open_seen++;
	else
		other++;
	if (--pending == 0)
		event_base_loopbreak(base);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	sin, peer;
	struct rlimit		rl;
	socklen_t		len = sizeof(sin);
	size_t			n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	int			rounds = argc > 2 ? atoi(argv[2]) : 5;
	int			lfd, cfd, sfd, r;
	pid_t			client;
	struct timeval		minute = { 60, 0 };
	char			port[8];
	double			t0, c0, t, c;
	size_t			i;

	log_init(1, 0);
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_max < n + 64)
		errx(1, "%zu connections need %zu open files", n, n + 64);
	rl.rlim_cur = n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(1, "setrlimit");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 4096) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1)
		err(1, "listen");
	snprintf(port, sizeof(port), "%u", ntohs(sin.sin_port));
	if ((items = calloc(n, sizeof(*items))) == NULL)
		err(1, "calloc");
	if ((client = fork()) == -1)
		err(1, "fork");
	if (client == 0) {
		for (i = 0; i < n; i++)
			if ((cfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
			    connect(cfd, (struct sockaddr *)&sin,
			    sizeof(sin)) == -1)
				err(1, "connection %zu", i);
		pause();
		_exit(0);
	}
	for (i = 0; i < n; i++) {
		if ((sfd = accept(lfd, NULL, NULL)) == -1)
			err(1, "connection %zu", i);
		len = sizeof(peer);
		if (getpeername(sfd, (struct sockaddr *)&peer, &len) == -1 ||
		    conncheck_tuple(&items[i].tuple, '4', "127.0.0.1",
		    ntohs(peer.sin_port), "127.0.0.1", port) == -1)
			errx(1, "tuple %zu", i);
		items[i].done = done;
	}
	if ((base = event_base_new()) == NULL || conncheck_open(base) == -1)
		err(1, "conncheck_open");
	t0 = now();
	c0 = cpu();
	for (r = 0; r < rounds; r++) {
		pending = n;
		for (i = 0; i < n; i++)
			conncheck_submit(&items[i]);
		/* Answers lost would leave it waiting: at most a minute. */
		event_base_loopexit(base, &minute);
		event_base_dispatch(base);
		if (pending != 0)
			errx(1, "round %d: %zu answers lost", r, pending);
	}
	t = now() - t0;
	c = cpu() - c0;
	kill(client, SIGKILL);
	if (open_seen != n * (size_t)rounds || other != 0)
		errx(1, "%zu found open, %zu not, of %zu", open_seen, other,
		    n * (size_t)rounds);
	printf("disconnect check: %zu connections, %d rounds\n", n, rounds);
	printf("  checks/s: %.0f\n", n * rounds / t);
	printf("  CPU per check: %.2f us\n", c / (n * rounds) * 1e6);
	printf("  one round of all %zu: %.1f ms\n", n, t / rounds * 1000);
	return 0;
}
