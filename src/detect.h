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
 * detect.h: the milters installed on a host, as their service manager
 * and their own configuration files describe them.
 */

#ifndef DETECT_H
#define DETECT_H

#include <stdio.h>

#define DETECT_NOTE_MAX	512

struct detected {
	char	name[65];		/* milterd's */
	int	rank;			/* its place in the chain */
	char	socket[256];		/* milterd's spelling */
	char	command[160];		/* the service manager's start */
	char	service_note[DETECT_NOTE_MAX];	/* where it was found */
	char	socket_note[DETECT_NOTE_MAX];	/* where its socket was */
};

/* detect.c */
int	 detect_run(const char *, struct detected **, size_t *, FILE *);
void	 detect_print(FILE *, const struct detected *, size_t);

#endif /* DETECT_H */
