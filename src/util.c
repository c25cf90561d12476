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
 * util.c: socket specifications in both spellings, Sendmail's
 * (unix:/path, local:/path, inet:port@host, inet6:port@host) and
 * Postfix's (inet:host:port, inet6:[host]:port), and helpers to connect
 * to one.  A bare absolute path is a unix socket.
 */

#include <sys/types.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "milter.h"
#include "util.h"

static int	parse_unix(const char *, struct sockspec *, char *, size_t);
static int	parse_any(const char *, struct sockspec *, char *, size_t,
		    int);
static int	parse_inet(const char *, int, struct sockspec *, char *,
		    size_t, int);
static int	split_host_port(char *, char **, char **);
static int	unlink_stale(const char *, char *, size_t);

static int
parse_unix(const char *path, struct sockspec *sp, char *err, size_t errlen)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&sp->ss;

	if (path[0] != '/') {
		snprintf(err, errlen, "unix socket path must be absolute");
		return -1;
	}
	if (strlen(path) >= sizeof(sun->sun_path)) {
		snprintf(err, errlen, "unix socket path too long");
		return -1;
	}
	sun->sun_family = AF_UNIX;
	strncpy(sun->sun_path, path, sizeof(sun->sun_path) - 1);
	sp->sslen = sizeof(*sun);
	return 0;
}

/* "port@host" or "host:port" or "[host]:port"; edits the string. */
static int
split_host_port(char *s, char **host, char **port)
{
	char	*p;

	if ((p = strchr(s, '@')) != NULL) {
		*p = '\0';
		*port = s;
		*host = p + 1;
	} else if (s[0] == '[' && (p = strstr(s, "]:")) != NULL) {
		*p = '\0';
		*host = s + 1;
		*port = p + 2;
	} else if ((p = strrchr(s, ':')) != NULL) {
		*p = '\0';
		*host = s;
		*port = p + 1;
	} else
		return -1;
	if (**host == '[' && (p = strchr(*host, ']')) != NULL &&
	    p[1] == '\0') {
		*p = '\0';
		(*host)++;
	}
	return **host != '\0' && **port != '\0' ? 0 : -1;
}

/*
 * lazy: a host name that does not resolve now is no error: the spec
 * gets no address (sslen 0, the port kept) and 1 is returned, err
 * saying why.  A name is kept in sp->host, to be resolved again.
 */
static int
parse_inet(const char *s, int family, struct sockspec *sp, char *err,
    size_t errlen, int lazy)
{
	struct addrinfo		 hints, *res;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&sp->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&sp->ss;
	char			 buf[256], *host, *port;
	uint8_t			 a[16];
	int			 rc;

	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf) ||
	    split_host_port(buf, &host, &port) == -1) {
		snprintf(err, errlen, "expected port@host or host:port");
		return -1;
	}
	/* getaddrinfo() takes 65536 as port 0, and so on. */
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    atoi(port) < 1 || atoi(port) > 65535) {
		snprintf(err, errlen, "port %s: expected 1 to 65535", port);
		return -1;
	}
	if (inet_pton(family, host, a) != 1)
		strlcpy(sp->host, host, sizeof(sp->host));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", s, gai_strerror(rc));
		if (!lazy || sp->host[0] == '\0')
			return -1;
		sp->ss.ss_family = family;
		if (family == AF_INET)
			sin->sin_port = htons(atoi(port));
		else
			sin6->sin6_port = htons(atoi(port));
		sp->sslen = 0;
		return 1;
	}
	memcpy(&sp->ss, res->ai_addr, res->ai_addrlen);
	sp->sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int
parse_any(const char *spec, struct sockspec *sp, char *err, size_t errlen,
    int lazy)
{
	memset(sp, 0, sizeof(*sp));
	if (strlcpy(sp->text, spec, sizeof(sp->text)) >= sizeof(sp->text)) {
		snprintf(err, errlen, "socket spec too long");
		return -1;
	}
	if (strncmp(spec, "unix:", 5) == 0)
		return parse_unix(spec + 5, sp, err, errlen);
	if (strncmp(spec, "local:", 6) == 0)
		return parse_unix(spec + 6, sp, err, errlen);
	if (spec[0] == '/')
		return parse_unix(spec, sp, err, errlen);
	if (strncmp(spec, "inet:", 5) == 0)
		return parse_inet(spec + 5, AF_INET, sp, err, errlen, lazy);
	if (strncmp(spec, "inet6:", 6) == 0)
		return parse_inet(spec + 6, AF_INET6, sp, err, errlen, lazy);
	snprintf(err, errlen, "unknown socket type (unix:, local:, inet:, "
	    "inet6:)");
	return -1;
}

/* Parse a socket spec; err gets a message on failure. */
int
sockspec_parse(const char *spec, struct sockspec *sp, char *err,
    size_t errlen)
{
	return parse_any(spec, sp, err, errlen, 0) == 0 ? 0 : -1;
}

/*
 * A child's socket: as sockspec_parse(), but a host name that does not
 * resolve now returns 1, err the warning (it is resolved again when
 * connecting: a child may start later).
 */
int
sockspec_parse_name(const char *spec, struct sockspec *sp, char *err,
    size_t errlen)
{
	return parse_any(spec, sp, err, errlen, 1);
}

int
sockspec_is_unix(const struct sockspec *sp)
{
	return sp->ss.ss_family == AF_UNIX;
}

/*
 * Whether two specs name the same socket, however spelt ("unix:/x",
 * "local:/x" and "/x"; "inet:25@127.0.0.1" and "inet:127.0.0.1:25").
 */
int
sockspec_same(const struct sockspec *a, const struct sockspec *b)
{
	const struct sockaddr_un	*ua, *ub;
	const struct sockaddr_in	*ia, *ib;
	const struct sockaddr_in6	*i6a, *i6b;

	if (a->ss.ss_family != b->ss.ss_family)
		return 0;
	switch (a->ss.ss_family) {
	case AF_UNIX:
		ua = (const struct sockaddr_un *)&a->ss;
		ub = (const struct sockaddr_un *)&b->ss;
		return strcmp(ua->sun_path, ub->sun_path) == 0;
	case AF_INET:
		ia = (const struct sockaddr_in *)&a->ss;
		ib = (const struct sockaddr_in *)&b->ss;
		return ia->sin_port == ib->sin_port &&
		    ia->sin_addr.s_addr == ib->sin_addr.s_addr;
	case AF_INET6:
		i6a = (const struct sockaddr_in6 *)&a->ss;
		i6b = (const struct sockaddr_in6 *)&b->ss;
		return i6a->sin6_port == i6b->sin6_port &&
		    memcmp(&i6a->sin6_addr, &i6b->sin6_addr,
		    sizeof(i6a->sin6_addr)) == 0;
	}
	return strcmp(a->text, b->text) == 0;
}

/* A connected (or, if nonblock, connecting) socket, or -1 with errno. */
int
sockspec_connect(const struct sockspec *sp, int nonblock)
{
	int	fd, saved;

	fd = socket(sp->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd == -1)
		return -1;
	if (!sockspec_is_unix(sp))
		socket_set_nodelay(fd);
	if (connect(fd, (const struct sockaddr *)&sp->ss, sp->sslen) == -1 &&
	    !(nonblock && errno == EINPROGRESS)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * Untrusted text for a log line or a reply: at most dstlen - 1 of the
 * len bytes of src, each control character or byte past ASCII as '?',
 * NUL-terminated.
 */
void
str_printable(char *dst, size_t dstlen, const void *src, size_t len)
{
	const unsigned char	*p = src;
	size_t			 i;

	if (dstlen == 0)
		return;
	for (i = 0; i < len && i < dstlen - 1; i++)
		dst[i] = p[i] < ' ' || p[i] >= 0x7f ? '?' : (char)p[i];
	dst[i] = '\0';
}

/*
 * t as 2026-01-02T03:04:05Z, "-" for 0, "invalid" for what gmtime_r()
 * or strftime() cannot take (a value from a shared region, say): never
 * an unset struct tm.
 */
void
fmt_utc(char *buf, size_t len, int64_t t)
{
	struct tm	tm;
	time_t		tt = (time_t)t;

	if (len == 0)
		return;
	if (t == 0)
		strlcpy(buf, "-", len);
	else if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(buf, "invalid", len);
}

/* s without its leading and trailing blanks (cut in place). */
char *
str_trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Free n strings and the array that holds them. */
void
strv_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The rest of fp, NUL-terminated (not counted in *len); NULL: error. */
char *
read_stream(FILE *fp, size_t *len)
{
	char	*buf = NULL, *nbuf;
	size_t	 size = 0, n;

	*len = 0;
	do {
		if (size - *len < 4096) {
			size += 65536;
			if ((nbuf = realloc(buf, size)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = nbuf;
		}
		n = fread(buf + *len, 1, size - *len - 1, fp);
		*len += n;
	} while (n > 0);
	if (ferror(fp)) {
		free(buf);
		return NULL;
	}
	buf[*len] = '\0';
	return buf;
}

/*
 * An IP address as MTAs write it: "192.0.2.1", "2001:db8::1",
 * "IPv6:2001:db8::1" (Sendmail), "[192.0.2.1]"; into out (16 bytes).
 */
int
addr_parse(const char *s, int *family, uint8_t *out)
{
	char	buf[INET6_ADDRSTRLEN + 8], *p = buf;

	if (strncasecmp(s, "IPv6:", 5) == 0)
		s += 5;
	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	if (*p == '[' && p[strlen(p) - 1] == ']') {
		p[strlen(p) - 1] = '\0';
		p++;
	}
	if (inet_pton(AF_INET, p, out) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, p, out) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

/*
 * A unix socket path left by a dead milterd is removed; one that a
 * running process answers on is not.
 */
static int
unlink_stale(const char *path, char *err, size_t errlen)
{
	struct sockspec	sp;
	struct stat	st;
	int		fd;

	if (lstat(path, &st) == -1)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", path);
		return -1;
	}
	if (sockspec_parse(path, &sp, err, errlen) == -1)
		return -1;
	if ((fd = sockspec_connect(&sp, 0)) != -1) {
		close(fd);
		snprintf(err, errlen, "%s is in use: is another milterd "
		    "running?", path);
		return -1;
	}
	if (unlink(path) == -1) {
		snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Bind a unix socket at its path with its final mode and group, with no
 * moment where a path operation could be turned elsewhere: the socket is
 * bound, chmod'ed and chown'ed in a fresh private directory beside its
 * path (mode 0700, made here), then renamed into place.  chmod and chown
 * by the final path after bind would follow a symlink that someone able
 * to write the directory put there in between.
 */
static int
bind_unix(int fd, const char *path, mode_t mode, const char *group,
    char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct group		*gr = NULL;
	char			 dir[sizeof(sun.sun_path)];
	const char		*slash;
	mode_t			 old;
	int			 rv = -1, saved;

	if (group != NULL && (gr = getgrnam(group)) == NULL) {
		snprintf(err, errlen, "group %s: no such group", group);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* sockspec_parse() takes only an absolute path. */
	slash = strrchr(path, '/');
	errno = 0;
	if (snprintf(dir, sizeof(dir), "%.*s/.mXXXXXX", (int)(slash - path),
	    path) >= (int)sizeof(dir) - 2 || mkdtemp(dir) == NULL ||
	    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", dir) >=
	    (int)sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: %s (making a private directory "
		    "beside it to bind in)", path, errno == 0 ?
		    "path too long, give it a shorter name" : strerror(errno));
		return -1;
	}
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(sun.sun_path, mode) == -1 ||
	    (gr != NULL && chown(sun.sun_path, (uid_t)-1, gr->gr_gid) == -1) ||
	    rename(sun.sun_path, path) == -1)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	else
		rv = 0;
	umask(old);
	saved = errno;
	(void)unlink(sun.sun_path);
	(void)rmdir(dir);
	errno = saved;
	return rv;
}

/*
 * A listening socket, or -1 with a reason; a unix one gets mode and
 * (if not NULL) group from the start (bind_unix()).
 */
int
sockspec_listen(const struct sockspec *sp, mode_t mode, const char *group,
    char *err, size_t errlen)
{
	const struct sockaddr_un	*sun;
	int				 fd, on = 1;

	fd = socket(sp->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "%s: socket: %s", sp->text,
		    strerror(errno));
		return -1;
	}
	if (!sockspec_is_unix(sp)) {
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on));
		if (bind(fd, (const struct sockaddr *)&sp->ss, sp->sslen) ==
		    -1)
			goto fail;
	} else {
		sun = (const struct sockaddr_un *)&sp->ss;
		if (unlink_stale(sun->sun_path, err, errlen) == -1 ||
		    bind_unix(fd, sun->sun_path, mode, group, err,
		    errlen) == -1) {
			close(fd);
			return -1;
		}
	}
	if (listen(fd, 128) == -1)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "%s: %s", sp->text, strerror(errno));
	close(fd);
	return -1;
}

/* Small packets must not wait for Nagle meeting delayed ACKs. */
void
socket_set_nodelay(int fd)
{
	int	on = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/*
 * Split a command into words: blanks separate, single and double
 * quotes group, no other interpretation.  -1 if it is empty, too long
 * or has an open quote.
 */
int
split_words(const char *cmd, char *buf, size_t buflen, char **argv,
    size_t maxargs)
{
	size_t	n = 0, o = 0;
	char	quote = 0;
	int	inword = 0;

	for (; *cmd != '\0'; cmd++) {
		if (quote == 0 && isspace((unsigned char)*cmd)) {
			if (inword) {
				buf[o++] = '\0';
				inword = 0;
			}
			continue;
		}
		if (!inword) {
			if (n + 1 >= maxargs || o >= buflen)
				return -1;
			argv[n++] = buf + o;
			inword = 1;
		}
		if (quote == 0 && (*cmd == '"' || *cmd == '\'')) {
			quote = *cmd;
			continue;
		}
		if (quote != 0 && *cmd == quote) {
			quote = 0;
			continue;
		}
		if (o + 2 > buflen)
			return -1;
		buf[o++] = *cmd;
	}
	if (quote != 0 || n == 0 || o + 1 > buflen)
		return -1;
	if (inword)
		buf[o++] = '\0';
	argv[n] = NULL;
	return (int)n;
}

/*
 * A whole packet at the front of an evbuffer: 1 and the packet (its
 * bytes made contiguous; used is its size), 0 if more bytes are needed,
 * -1 with an error text.
 */
int
packet_peek(struct evbuffer *in, struct milter_pkt *pkt, size_t *used,
    const char **err)
{
	uint8_t		 hdr[4];
	const uint8_t	*p;
	size_t		 have = evbuffer_get_length(in), need;
	int		 rc;

	if (have < 4 || evbuffer_copyout(in, hdr, 4) != 4)
		return 0;
	rc = milter_frame(hdr, 4, PACKET_MAX, pkt, used);
	if (rc < 0) {
		*err = milter_frame_strerror(rc);
		return -1;
	}
	need = 4 + ((size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
	    (size_t)hdr[2] << 8 | hdr[3]);
	if (have < need)
		return 0;
	if ((p = evbuffer_pullup(in, (ev_ssize_t)need)) == NULL) {
		*err = "out of memory";
		return -1;
	}
	rc = milter_frame(p, need, PACKET_MAX, pkt, used);
	return rc == MILTER_FRAME_OK ? 1 : 0;
}

/*
 * The length of the valid UTF-8 sequence at p (1 for ASCII, NUL
 * included), 0 if the bytes there are not one: a bad lead or
 * continuation byte, an overlong form, a surrogate, past U+10FFFF.
 */
size_t
utf8_seq(const unsigned char *p)
{
	size_t	n, i;

	n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 2 :
	    (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 &&
	    *p <= 0xf4 ? 4 : 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (n > 2 && ((p[0] == 0xe0 && p[1] < 0xa0) ||
	    (p[0] == 0xed && p[1] >= 0xa0) ||
	    (p[0] == 0xf0 && p[1] < 0x90) ||
	    (p[0] == 0xf4 && p[1] >= 0x90)))
		return 0;
	return n;
}

/*
 * s as a JSON string, quotes included.  What is not valid UTF-8 (a host
 * name an MTA passed on) is taken as Latin-1, so that the output always
 * is: a log reader must not choke on one odd byte.
 */
void
json_str(FILE *fp, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	fputc('"', fp);
	while (*p != '\0') {
		n = utf8_seq(p);
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f || n == 0)
			fprintf(fp, "\\u%04x", *p);
		else {
			fwrite(p, 1, n, fp);
			p += n;
			continue;
		}
		p++;
	}
	fputc('"', fp);
}

/* A zeroed region of len bytes, shared with every process forked after. */
void *
map_shared(size_t len)
{
	void	*p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * The pid file, opened without following a symlink and refused unless it
 * is a plain file with no other link: root must not truncate a file of
 * someone's choice through a link planted in its directory.  Locked
 * (flock) while milterd runs; if another process holds the lock, its pid
 * is in *other and errno is EEXIST.  The file descriptor, or -1 with a
 * reason in err.
 */
int
pidfile_lock(const char *path, pid_t *other, char *err, size_t errlen)
{
	struct stat	 st;
	char		 buf[32];
	const char	*errstr;
	ssize_t		 n;
	int		 fd;

	*other = -1;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC, 0644);
	if (fd == -1) {
		if (errno == ELOOP)
			snprintf(err, errlen, "pid file %s is a symbolic "
			    "link: remove it (and find out who made it)", path);
		else
			snprintf(err, errlen, "pid file %s: %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1) {
		snprintf(err, errlen, "pid file %s is not a plain file with "
		    "one link: remove it (and find out who made it)", path);
		close(fd);
		errno = EPERM;
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			*other = (pid_t)strtonum(buf, 1, INT_MAX, &errstr);
			snprintf(err, errlen, "already running, pid %ld",
			    (long)*other);
			errno = EEXIST;
		} else
			snprintf(err, errlen, "pid file %s: lock: %s", path,
			    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* This process's pid into the locked pid file. */
int
pidfile_put(int fd)
{
	char	buf[32];
	int	len;

	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, len, 0) != len)
		return -1;
	return 0;
}

/* At exit: removed if the path is still our file. */
void
pidfile_drop(const char *path, int fd)
{
	struct stat	a, b;

	if (fd == -1)
		return;
	if (fstat(fd, &a) == 0 && lstat(path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		(void)unlink(path);
	close(fd);
}

/*
 * evaluation_sample: is the session id one of the percent share of
 * connections a trial child takes?  FNV-1a (32 bits) of the text
 * "SEED/ID" (the seed in decimal, e.g. "0/4242.17"), modulo 100, below
 * percent.  Deterministic, so that a test (or an administrator) can
 * tell from the ids in the log which sessions the trial child saw.
 */
int
sample_in(uint32_t seed, const char *id, int percent)
{
	char		 buf[64];
	const char	*p;
	uint32_t	 h = 2166136261U;

	if (percent >= 100)
		return 1;
	if (percent <= 0)
		return 0;
	snprintf(buf, sizeof(buf), "%u/%s", seed, id);
	for (p = buf; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= 16777619U;
	}
	return h % 100 < (uint32_t)percent;
}
