/*
 * bindswap.c: an LD_PRELOAD shim for t/harden.sh that plays the local
 * user who wins the race after milterd binds a unix socket: right after
 * the first successful bind(2) of a unix socket, the path in
 * BINDSWAP_PATH is replaced by a symlink to BINDSWAP_VICTIM.  A milterd
 * that sets the socket's mode and group by path after bind then changes
 * the victim's instead.
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int	 (*real)(int, const struct sockaddr *, socklen_t);
	static int	 done;
	const char	*path = getenv("BINDSWAP_PATH");
	const char	*victim = getenv("BINDSWAP_VICTIM");
	int		 rv;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "bind");
	rv = real(fd, sa, len);
	if (rv == 0 && sa->sa_family == AF_UNIX && !done && path != NULL &&
	    victim != NULL) {
		done = 1;
		(void)unlink(path);
		(void)symlink(victim, path);
	}
	return rv;
}
