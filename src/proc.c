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
 * proc.c: what the processes share: dropping privileges (one function,
 * for workers and for the commands the launcher runs, that fails closed
 * and checks afterwards that root cannot be had back), forbidding a
 * worker to open listening sockets, and passing a descriptor over a
 * unix socket.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/syscall.h>
#endif

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "milterd.h"

/*
 * Become uid/gid for good: supplementary groups (those of user when it
 * is given, else gid alone), optionally a chroot, then the real,
 * effective and saved ids.  -1 with a reason on any failure; the caller
 * must not go on.
 */
int
proc_drop(uid_t uid, gid_t gid, const char *user, const char *root,
    char *err, size_t errlen)
{
	uid_t	ruid, euid, suid;
	gid_t	rgid, egid, sgid;

	if ((user != NULL ? initgroups(user, gid) : setgroups(1, &gid)) ==
	    -1) {
		snprintf(err, errlen, "setgroups: %s", strerror(errno));
		return -1;
	}
	if (root != NULL && (chroot(root) == -1 || chdir("/") == -1)) {
		snprintf(err, errlen, "chroot %s: %s", root, strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) == -1 || setresuid(uid, uid, uid) == -1) {
		snprintf(err, errlen, "setresuid/gid: %s", strerror(errno));
		return -1;
	}
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1 || ruid != uid ||
	    euid != uid || suid != uid || rgid != gid || egid != gid ||
	    sgid != gid) {
		snprintf(err, errlen, "ids not as set");
		return -1;
	}
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		snprintf(err, errlen, "root could be had back");
		return -1;
	}
	return 0;
}

/*
 * A worker gives up root for the configured user and group; fatal on
 * any failure.  Without root there is nothing to give up (the master
 * has said so).
 */
void
proc_drop_worker(const struct conf *conf)
{
	struct passwd	*pw;
	struct group	*gr;
	gid_t		 gid;
	char		 err[256];

	if (geteuid() != 0)
		return;
	if ((pw = getpwnam(conf->user)) == NULL)
		fatalx("user %s: no such user", conf->user);
	gid = pw->pw_gid;
	if (conf->group != NULL) {
		if ((gr = getgrnam(conf->group)) == NULL)
			fatalx("group %s: no such group", conf->group);
		gid = gr->gr_gid;
	}
	if (pw->pw_uid == 0)
		fatalx("user %s is root: workers must not be", conf->user);
	if (proc_drop(pw->pw_uid, gid, NULL, conf->chroot, err,
	    sizeof(err)) == -1)
		fatalx("cannot drop privileges to %s: %s", conf->user, err);
}

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#if defined(__x86_64__)
#define SECCOMP_ARCH	AUDIT_ARCH_X86_64
#define X32_BIT		0x40000000U	/* __X32_SYSCALL_BIT */
#else
#define SECCOMP_ARCH	AUDIT_ARCH_AARCH64
#define X32_BIT		0xffffffffU	/* none: nothing is refused for it */
#endif

/*
 * No bind(2) or listen(2) from here on: they fail with EPERM.  A worker
 * only accepts on the sockets the master opened and connects out; a
 * worker taken over cannot become a server.  Linux seccomp; elsewhere
 * (no pledge here) only the lack of root stands in the way.
 */
int
proc_forbid_listen(void)
{
	struct sock_filter	filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		/*
		 * x32 calls come with the x86_64 arch and the number
		 * | 0x40000000: bind and listen by another number.  None
		 * of them (a worker makes none).
		 */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_BIT, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_bind, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_listen, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog	prog = {
		.len = sizeof(filter) / sizeof(filter[0]),
		.filter = filter,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1)
		return -1;
	return 0;
}
#else
int
proc_forbid_listen(void)
{
	errno = ENOSYS;
	return -1;
}
#endif

/* Send fd and a small message over a unix socket. */
int
fd_send(int sock, int fd, const void *data, size_t len)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Receive what fd_send() sent; *fd is -1 if none came. */
ssize_t
fd_recv(int sock, int *fd, void *data, size_t len)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = data;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	*fd = -1;
	if ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) <= 0)
		return n;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg))
		if (cmsg->cmsg_level == SOL_SOCKET &&
		    cmsg->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(cmsg), sizeof(int));
	return n;
}
