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
 * milterctl.c: milterd's control client.  It sends one request over the
 * control socket (the protocol is described in control.c) and prints
 * the reply; `graph' fetches the per-minute history and draws it as SVG
 * here, so that the root master never renders anything.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "history.h"
#include "log.h"
#include "util.h"

#define CTL_CONF	SYSCONFDIR "/milterd.conf"
#define CTL_MAX_REPLY	(256 * 1024 * 1024)
#define CTL_WAIT	60	/* seconds for a reply */

#define EXIT_REFUSED	1	/* milterd said no */
#define EXIT_USAGE	2
#define EXIT_UNREACHED	3	/* no answer from milterd */

__dead static void usage(void);
static int	request(const char *, int, int, char **, char **, size_t *);
static int	write_all(int, const void *, size_t);
static int	read_all(int, void *, size_t);
static int	graph(const char *, int, int, char **);
static int	control_of(const char *, int, char *, size_t);

extern const char	*__progname;

__dead static void
usage(void)
{
	fprintf(stderr, "usage: %s [-j] [-f file | -s socket] command "
	    "[argument ...]\n"
	    "commands: status | stats [-j] | sessions | reload | show config |\n"
	    "          trace ADDRESS [SECONDS] |\n"
	    "          enable NAME | disable NAME |\n"
	    "          evaluate NAME on|off|PERCENT |\n"
	    "          graph [-o file.svg] [--hours N] | history [HOURS]\n",
	    __progname);
	exit(EXIT_USAGE);
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_all(int fd, void *buf, size_t len)
{
	char	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		if ((n = read(fd, p, len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ECONNRESET;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Send argv (argc words) and read the reply into *out (NUL-terminated,
 * the status line removed).  1 if milterd said ok, 0 if it refused,
 * -1 if it could not be asked (said on stderr).
 */
static int
request(const char *path, int json, int argc, char **argv, char **out,
    size_t *outlen)
{
	struct sockspec	 sp;
	struct timeval	 tv = { CTL_WAIT, 0 };
	uint8_t		 hdr[4];
	char		 req[CTL_MAX_REQUEST], err[256], *buf, *nl;
	size_t		 len = 0, n;
	int		 fd, i, ok;

	n = (size_t)snprintf(req, sizeof(req), "%s%c%s%c", CTL_VERSION, 0,
	    json ? "json" : "text", 0);
	for (i = 0; i < argc; i++) {
		if (n + strlen(argv[i]) + 1 > sizeof(req) ||
		    i + 2 >= CTL_MAX_ARGS) {
			fprintf(stderr, "%s: request too long\n", __progname);
			return -1;
		}
		memcpy(req + n, argv[i], strlen(argv[i]) + 1);
		n += strlen(argv[i]) + 1;
	}
	if (sockspec_parse(path, &sp, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", __progname, err);
		return -1;
	}
	if ((fd = sockspec_connect(&sp, 0)) == -1) {
		fprintf(stderr, "%s: %s: %s (is milterd running, and is this "
		    "its control socket?)\n", __progname, path,
		    strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	hdr[0] = (uint8_t)(n >> 24);
	hdr[1] = (uint8_t)(n >> 16);
	hdr[2] = (uint8_t)(n >> 8);
	hdr[3] = (uint8_t)n;
	if (write_all(fd, hdr, 4) == -1 || write_all(fd, req, n) == -1 ||
	    read_all(fd, hdr, 4) == -1) {
		fprintf(stderr, "%s: %s: %s\n", __progname, path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
	    (size_t)hdr[2] << 8 | hdr[3];
	if (len > CTL_MAX_REPLY || (buf = malloc(len + 1)) == NULL) {
		fprintf(stderr, "%s: reply of %zu bytes refused\n", __progname,
		    len);
		close(fd);
		return -1;
	}
	if (read_all(fd, buf, len) == -1) {
		fprintf(stderr, "%s: %s: %s\n", __progname, path,
		    strerror(errno));
		free(buf);
		close(fd);
		return -1;
	}
	close(fd);
	buf[len] = '\0';
	if ((nl = memchr(buf, '\n', len)) == NULL ||
	    (strncmp(buf, "ok\n", 3) != 0 && strncmp(buf, "error\n", 6) != 0)) {
		fprintf(stderr, "%s: malformed reply\n", __progname);
		free(buf);
		return -1;
	}
	ok = buf[0] == 'o';
	*outlen = len - (size_t)(nl + 1 - buf);
	memmove(buf, nl + 1, *outlen + 1);
	*out = buf;
	return ok;
}

/* graph [-o file.svg] [--hours N] */
static int
graph(const char *path, int json, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "hours", required_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	struct history	 h;
	const char	*file = NULL, *errstr;
	char		*words[2], *out, hours[16] = "24", err[256];
	size_t		 outlen;
	int64_t		 now;
	FILE		*in, *fp = stdout;
	int		 ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h:o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			(void)strtonum(optarg, 1, 24 * 31, &errstr);
			if (errstr != NULL) {
				fprintf(stderr, "%s: --hours %s: %s (1 to "
				    "744)\n", __progname, optarg, errstr);
				return EXIT_USAGE;
			}
			strlcpy(hours, optarg, sizeof(hours));
			break;
		case 'o':
			file = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	words[0] = "history";
	words[1] = hours;
	if ((rc = request(path, json, 2, words, &out, &outlen)) != 1) {
		if (rc == 0)
			fputs(out, stderr);
		free(rc == 0 ? out : NULL);
		return rc == 0 ? EXIT_REFUSED : EXIT_UNREACHED;
	}
	now = time(NULL) / 60;
	if (history_init(&h, (size_t)strtonum(hours, 1, 24 * 31, NULL) * 60 +
	    1) == -1) {
		fprintf(stderr, "%s: out of memory\n", __progname);
		free(out);
		return EXIT_UNREACHED;
	}
	if ((in = fmemopen(out, outlen, "r")) == NULL) {
		rc = -1;
		strlcpy(err, strerror(errno), sizeof(err));
	} else {
		rc = history_read(&h, in, time(NULL) / 60 + 1, err,
		    sizeof(err));
		fclose(in);
	}
	free(out);
	if (rc == -1) {
		fprintf(stderr, "%s: history from milterd: %s\n", __progname,
		    err);
		history_free(&h);
		return EXIT_UNREACHED;
	}
	if (file != NULL && (fp = fopen(file, "w")) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", __progname, file,
		    strerror(errno));
		history_free(&h);
		return EXIT_USAGE;
	}
	rc = graph_svg(fp, &h, now - strtonum(hours, 1, 24 * 31, NULL) * 60,
	    now + 1);
	history_free(&h);
	if (fp != stdout && fclose(fp) != 0)
		rc = -1;
	if (rc == -1 || fflush(stdout) == EOF) {
		fprintf(stderr, "%s: cannot write the graph\n", __progname);
		return EXIT_UNREACHED;
	}
	return 0;
}

/*
 * The control socket milterd.conf names (conf.c reads the key).  The
 * default file may be absent (then milterd's default socket); a file
 * given with -f must be read.
 */
static int
control_of(const char *file, int given, char *buf, size_t len)
{
	if (!given && access(file, F_OK) == -1 && errno == ENOENT) {
		strlcpy(buf, CTL_SOCKET, len);
		return 0;
	}
	if (conf_control(file, buf, len, stderr) == 0)
		return 0;
	fprintf(stderr, "%s: no control socket from %s; give it with -s\n",
	    __progname, file);
	return -1;
}

int
main(int argc, char *argv[])
{
	const char	*path = NULL, *file = CTL_CONF;
	char		*out, control[PATH_MAX];
	size_t		 outlen;
	int		 ch, json = 0, rc, fileopt = 0;

	/* A closed control socket is an error to report, not a death. */
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "+f:js:")) != -1) {
		switch (ch) {
		case 'f':
			file = optarg;
			fileopt = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 's':
			path = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || (path != NULL && fileopt))
		usage();
	if (path == NULL) {
		if (control_of(file, fileopt, control, sizeof(control)) == -1)
			return EXIT_USAGE;
		path = control;
	}
	if (strcmp(argv[0], "graph") == 0)
		return graph(path, json, argc, argv);
	/* `stats -j' as well as `-j stats'. */
	if (argc == 2 && strcmp(argv[0], "stats") == 0 &&
	    strcmp(argv[1], "-j") == 0) {
		json = 1;
		argc = 1;
	}
	if ((rc = request(path, json, argc, argv, &out, &outlen)) == -1)
		return EXIT_UNREACHED;
	if (fwrite(out, 1, outlen, rc ? stdout : stderr) != outlen ||
	    fflush(stdout) == EOF) {
		fprintf(stderr, "%s: cannot write the reply\n", __progname);
		rc = -1;
	}
	free(out);
	return rc == 1 ? 0 : rc == 0 ? EXIT_REFUSED : EXIT_UNREACHED;
}
