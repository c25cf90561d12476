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
 * spool.c: a message body, in memory up to a limit, then in an unlinked
 * file made in a private directory, so that a large message costs disk,
 * not memory.  The only I/O of the kept message.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"

static int	spool_to_file(struct spool *);

void
spool_init(struct spool *s, size_t limit, const char *dir)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->limit = limit;
	s->dir = dir;
}

void
spool_free(struct spool *s)
{
	mbuf_free(&s->mem);
	if (s->fd != -1)
		close(s->fd);
	spool_init(s, s->limit, s->dir);
}

static int
spool_to_file(struct spool *s)
{
	char	path[4096];
	int	n;

	n = snprintf(path, sizeof(path), "%s/milterd.XXXXXXXXXX",
	    s->dir != NULL ? s->dir : "/tmp");
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((s->fd = mkstemp(path)) == -1)
		return -1;
	unlink(path);
	if (s->len > 0 && write(s->fd, s->mem.data, s->len) !=
	    (ssize_t)s->len) {
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	mbuf_free(&s->mem);
	return 0;
}

int
spool_append(struct spool *s, const void *p, size_t n)
{
	if (s->fd == -1 && s->len + n > s->limit && spool_to_file(s) == -1)
		return -1;
	if (s->fd != -1) {
		if (pwrite(s->fd, p, n, (off_t)s->len) != (ssize_t)n)
			return -1;
		s->len += n;
		return 0;
	}
	if (mbuf_append(&s->mem, p, n) == -1) {
		s->mem.err = 0;		/* the spool stays usable */
		return -1;
	}
	s->len += n;
	return 0;
}

/* Up to n bytes from offset off; 0 at the end, -1 on error. */
ssize_t
spool_read(const struct spool *s, size_t off, void *buf, size_t n)
{
	if (off >= s->len)
		return 0;
	if (n > s->len - off)
		n = s->len - off;
	if (s->fd != -1)
		return pread(s->fd, buf, n, (off_t)off);
	memcpy(buf, s->mem.data + off, n);
	return (ssize_t)n;
}
