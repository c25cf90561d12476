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
 * spool.h: a message body, in memory up to a limit, then in a file.
 */

#ifndef SPOOL_H
#define SPOOL_H

#include <sys/types.h>

#include "milter.h"

struct spool {
	struct mbuf	 mem;
	size_t		 len;
	size_t		 limit;
	int		 fd;
	const char	*dir;
};

/* spool.c */
void	 spool_init(struct spool *, size_t, const char *);
void	 spool_free(struct spool *);
int	 spool_append(struct spool *, const void *, size_t);
ssize_t	 spool_read(const struct spool *, size_t, void *, size_t);

#endif /* SPOOL_H */
