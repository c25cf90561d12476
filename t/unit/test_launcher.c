/*
 * test_launcher.c: the launcher (src/launcher.c): command splitting,
 * request checks, and a running launcher refusing bogus requests from
 * a worker while nothing is run.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launch.h"
#include "milterd.h"

Test(launcher, split_words_and_quotes)
{
	char	 buf[256], *argv[8];

	cr_assert_eq(split_words("/usr/sbin/x -f 'a b' \"c d\"  e", buf,
	    sizeof(buf), argv, 8), 5);
	cr_assert_str_eq(argv[0], "/usr/sbin/x");
	cr_assert_str_eq(argv[2], "a b");
	cr_assert_str_eq(argv[3], "c d");
	cr_assert_str_eq(argv[4], "e");
	cr_assert_null(argv[5]);
	/* No shell: metacharacters are plain bytes of a word. */
	cr_assert_eq(split_words("/bin/x ;rm -rf /;", buf, sizeof(buf),
	    argv, 8), 4);
	cr_assert_str_eq(argv[1], ";rm");
	cr_assert_eq(split_words("/bin/x 'open", buf, sizeof(buf), argv,
	    8), -1);
	cr_assert_eq(split_words("   ", buf, sizeof(buf), argv, 8), -1);
	cr_assert_eq(split_words("a b c d e f g h i", buf, sizeof(buf),
	    argv, 8), -1);
	cr_assert_eq(split_words("/bin/aaaaaaaaaa", buf, 8, argv, 8), -1);
}

static struct conf *
load(const char *text)
{
	char		 path[] = "/tmp/milterd-launcher-XXXXXX";
	struct conf	*c;
	FILE		*fp;
	int		 fd;

	cr_assert_neq(fd = mkstemp(path), -1);
	cr_assert_not_null(fp = fdopen(fd, "w"));
	fputs(text, fp);
	fclose(fp);
	c = conf_load(path, stderr);
	unlink(path);
	cr_assert_not_null(c);
	return c;
}

static struct launch_request
request(const char *name)
{
	struct launch_request	r;

	memset(&r, 0, sizeof(r));
	r.version = LAUNCH_VERSION;
	strlcpy(r.name, name, sizeof(r.name));
	return r;
}

Test(launcher, checks_requests)
{
	/*
	 * A root user without allow_root_command, and a user that does
	 * not exist, are errors at load: the launcher still refuses them
	 * (an account may go after the load), so they are made here.
	 */
	struct conf		*c = load(
	    "allow_root_command = true\n"
	    "milter \"ok\" { socket = \"/a\" command = \"/bin/true\" "
	    "user = \"nobody\" }\n"
	    "milter \"nocmd\" { socket = \"/b\" }\n"
	    "milter \"root\" { socket = \"/c\" command = \"/bin/true\" "
	    "user = \"root\" }\n"
	    "milter \"ghost\" { socket = \"/d\" command = \"/bin/true\" "
	    "user = \"nobody\" }\n"
	    "milter \"nouser\" { socket = \"/e\" command = \"/bin/true\" "
	    "user = \"nobody\" }\n");
	struct launch_request	 r;
	char			 why[256], big[300];
	uid_t			 uid;
	gid_t			 gid;

	c->allow_root_command = 0;
	free(c->milters[3].user);
	cr_assert_not_null(c->milters[3].user = strdup("no-such-user-here"));
	free(c->milters[4].user);
	c->milters[4].user = NULL;
	r = request("ok");
	cr_assert_not_null(launcher_check(c, &r, sizeof(r), &uid, &gid, why,
	    sizeof(why)));
	cr_assert_neq(uid, 0);
	r = request("ok; touch /tmp/x");
	cr_assert_null(launcher_check(c, &r, sizeof(r), &uid, &gid, why,
	    sizeof(why)));
	cr_assert_str_eq(why, "no milter of that name");
	r = request("nocmd");
	cr_assert_null(launcher_check(c, &r, sizeof(r), &uid, &gid, why,
	    sizeof(why)));
	cr_assert_str_eq(why, "milter nocmd has no command");
	r = request("nouser");
	cr_assert_null(launcher_check(c, &r, sizeof(r), &uid, &gid, why,
	    sizeof(why)));
	cr_assert_str_eq(why, "milter nouser has a command but no user");
	r = request("root");
	cr_assert_null(launcher_check(c, &r, sizeof(r), &uid, &gid, why,
	    sizeof(why)));
	cr_assert_str_eq(why, "user root is root and allow_root_command is "
	    "false");
	r = request("ghost");
	cr_assert_null(launcher_check(c, &r, sizeof(r), &uid, &gid, why,
	    sizeof(why)));
	r = request("ok");
	r.version = 99;
	cr_assert_null(launcher_check(c, &r, sizeof(r), &uid, &gid, why,
	    sizeof(why)));
	cr_assert_str_eq(why, "malformed request");
	memset(big, 'a', sizeof(big));
	cr_assert_null(launcher_check(c, big, sizeof(big), &uid, &gid, why,
	    sizeof(why)));
	memset(&r, 'x', sizeof(r));
	r.version = LAUNCH_VERSION;	/* name without its NUL */
	cr_assert_null(launcher_check(c, &r, sizeof(r), &uid, &gid, why,
	    sizeof(why)));
	conf_free(c);
	c = load("allow_root_command = true\nmilter \"root\" { socket = \"/c\" "
	    "command = \"/bin/true\" user = \"root\" }\n");
	r = request("root");
	cr_assert_not_null(launcher_check(c, &r, sizeof(r), &uid, &gid, why,
	    sizeof(why)));
	conf_free(c);
}

/* A reply from the launcher, with a timeout. */
static struct launch_reply
answer(int fd)
{
	struct launch_reply	r;
	struct timeval		tv = { 5, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&r, 0, sizeof(r));
	cr_assert_eq(recv(fd, &r, sizeof(r), 0), (ssize_t)sizeof(r));
	return r;
}

Test(launcher, running_launcher_refuses_bogus_requests, .timeout = 20)
{
	char			 text[1024], marker[] = "/tmp/milterd-marker-XXXXXX";
	char			 junk[2000];
	struct conf		*c;
	struct launch_request	 r;
	struct launch_reply	 a;
	int			 ctl[2], w[2], fd;
	pid_t			 pid;

	cr_assert_neq(fd = mkstemp(marker), -1);
	close(fd);
	unlink(marker);
	snprintf(text, sizeof(text),
	    "milter \"ok\" { socket = \"/a\" command = \"/usr/bin/touch %s\" "
	    "user = \"%s\" }\n"
	    "milter \"nocmd\" { socket = \"/b\" }\n", marker,
	    geteuid() == 0 ? "nobody" : getenv("USER") ? getenv("USER") :
	    "nobody");
	c = load(text);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ctl), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, w), 0);
	if ((pid = fork()) == 0) {
		close(ctl[0]);
		close(w[0]);
		launcher_main(c, "/nonexistent", ctl[1], &w[1], 1);
	}
	close(ctl[1]);
	close(w[1]);

	r = request("ok; touch /tmp/x");
	send(w[0], &r, sizeof(r), 0);
	a = answer(w[0]);
	cr_assert_eq(a.status, LAUNCH_REFUSED);
	cr_assert_str_eq(a.reason, "no milter of that name");
	memset(junk, 'A', sizeof(junk));
	send(w[0], junk, sizeof(junk), 0);
	a = answer(w[0]);
	cr_assert_eq(a.status, LAUNCH_REFUSED);
	cr_assert_str_eq(a.reason, "malformed request");
	r = request("nocmd");
	send(w[0], &r, sizeof(r), 0);
	a = answer(w[0]);
	cr_assert_eq(a.status, LAUNCH_REFUSED);
	cr_assert(access(marker, F_OK) == -1, "something ran");

	/* The control case: a proper request runs the command. */
	r = request("ok");
	send(w[0], &r, sizeof(r), 0);
	a = answer(w[0]);
	cr_assert_eq(a.status, LAUNCH_STARTED, "%s", a.reason);
	for (fd = 0; fd < 100 && access(marker, F_OK) == -1; fd++)
		usleep(50000);
	cr_assert(access(marker, F_OK) == 0, "the command did not run");
	unlink(marker);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	conf_free(c);
}

/*
 * A command that forks into the background exits 0 at once: a stream of
 * requests (a compromised worker asks as fast as it can) starts it once
 * per interval, not once per request; a reload keeps that.
 */
Test(launcher, daemonising_command_backs_off_across_reload, .timeout = 30)
{
	char			 path[] = "/tmp/milterd-launcher-XXXXXX";
	char			 text[512];
	struct conf		*c;
	struct launch_request	 r;
	struct launch_reply	 a;
	FILE			*fp;
	int			 ctl[2], w[2], fd, i, started = 0, later = 0;
	pid_t			 pid;

	snprintf(text, sizeof(text), "milter \"d\" { socket = \"/a\" "
	    "command = \"/bin/true\" user = \"%s\" }\n",
	    geteuid() == 0 ? "nobody" : getenv("USER") ? getenv("USER") :
	    "nobody");
	cr_assert_neq(fd = mkstemp(path), -1);
	cr_assert_not_null(fp = fdopen(fd, "w"));
	fputs(text, fp);
	fclose(fp);
	cr_assert_not_null(c = conf_load(path, stderr));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ctl), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, w), 0);
	if ((pid = fork()) == 0) {
		close(ctl[0]);
		close(w[0]);
		launcher_main(c, path, ctl[1], &w[1], 1);
	}
	close(ctl[1]);
	close(w[1]);
	r = request("d");
	for (i = 0; i < 50; i++) {
		if (i == 25)	/* the master's reload */
			cr_assert_eq(send(ctl[0], "r", 1, 0), 1);
		send(w[0], &r, sizeof(r), 0);
		a = answer(w[0]);
		if (a.status == LAUNCH_STARTED)
			started++;
		else if (a.status == LAUNCH_LATER)
			later++;
		/* Give /bin/true the time to exit and be reaped. */
		if (i == 0 || i == 25)
			usleep(200000);
	}
	cr_assert_eq(started, 1, "started %d times", started);
	cr_assert_eq(later, 49);
	cr_assert_str_eq(a.reason, "started less than 10 seconds ago");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(path);
	conf_free(c);
}

Test(launcher, worker_cannot_listen)
{
	struct sockaddr_in	sin;
	int			fd;

	if (proc_forbid_listen() == -1) {
		cr_assert_eq(errno, ENOSYS);
		return;		/* not Linux: nothing enforced, said so */
	}
	cr_assert_neq(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), -1);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(listen(fd, 1), -1);
	cr_assert_eq(errno, EPERM);
#if defined(__x86_64__)
	/* The same calls by their x32 numbers (| 0x40000000). */
	cr_assert_eq(syscall(SYS_bind | 0x40000000L, fd, &sin, sizeof(sin)),
	    -1);
	cr_assert_eq(errno, EPERM, "x32 bind: %s", strerror(errno));
	cr_assert_eq(syscall(SYS_listen | 0x40000000L, fd, 1), -1);
	cr_assert_eq(errno, EPERM, "x32 listen: %s", strerror(errno));
#endif
	close(fd);
	/* Connecting out still works. */
	cr_assert_neq(fd = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	close(fd);
}
