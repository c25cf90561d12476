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

/* util.h: socket specifications and small socket helpers. */

#ifndef UTIL_H
#define UTIL_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>

#include <event2/buffer.h>

#include "milter.h"

/* Largest packet accepted from the MTA or a child (payload bytes). */
#define PACKET_MAX	MILTER_MDS_1M

struct sockspec {
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 text[256];	/* as configured */
	char			 host[256];	/* inet: a name, else "" */
};

/* util.c */
int	addr_parse(const char *, int *, uint8_t *);
char	*str_trim(char *);
void	*map_shared(size_t);
void	str_printable(char *, size_t, const void *, size_t);
void	fmt_utc(char *, size_t, int64_t);
char	*read_stream(FILE *, size_t *);
void	strv_free(char **, size_t);
int	sockspec_parse(const char *, struct sockspec *, char *, size_t);
int	sockspec_parse_name(const char *, struct sockspec *, char *, size_t);
int	sockspec_connect(const struct sockspec *, int);
int	sockspec_is_unix(const struct sockspec *);
int	sockspec_same(const struct sockspec *, const struct sockspec *);
int	sockspec_listen(const struct sockspec *, mode_t, const char *, char *,
	    size_t);
void	socket_set_nodelay(int);
int	pidfile_lock(const char *, pid_t *, char *, size_t);
int	pidfile_put(int);
void	pidfile_drop(const char *, int);
int	split_words(const char *, char *, size_t, char **, size_t);
size_t	utf8_seq(const unsigned char *);
void	json_str(FILE *, const char *);
int	sample_in(uint32_t, const char *, int);
int	packet_peek(struct evbuffer *, struct milter_pkt *, size_t *,
	    const char **);

#endif /* UTIL_H */
