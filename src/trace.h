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
 * trace.h: `milterctl trace ADDRESS [SECONDS]': the packets of new
 * sessions from one client address, logged both ways.
 */

#ifndef TRACE_H
#define TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TRACE_MAX		8	/* addresses traced at once */
#define TRACE_SECONDS		60	/* unless said */
#define TRACE_SECONDS_MAX	3600
#define TRACE_PREVIEW		120	/* payload bytes logged per packet */

/* What the master asks, in a region every worker reads. */
struct trace_entry {
	int32_t		family;		/* AF_INET, AF_INET6; 0: free */
	uint8_t		addr[16];
	int64_t		until;		/* epoch seconds */
};

struct trace_table {
	struct trace_entry	e[TRACE_MAX];
};

/* One direction of a traced connection, framed as it passes. */
struct trace_dir {
	uint8_t		hdr[5];		/* length, command */
	size_t		hlen;
	uint32_t	left;		/* payload bytes still to come */
	uint32_t	len;
	char		preview[TRACE_PREVIEW];
	size_t		plen;
};

/* A traced connection, kept by conn.c. */
struct trace {
	char		id[32];		/* the session's */
	char		peer[80];	/* "MTA", "child NAME" */
	struct trace_dir dir[2];	/* 0: read, 1: written */
};

struct session;
struct milter_connect;

extern struct trace_table	*traces;

int	 trace_add(FILE *, const char *, const char *);
void	 trace_session(struct session *, const struct milter_connect *);
void	 trace_bytes(struct trace *, int, const void *, size_t);

#endif /* TRACE_H */
