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

/* dns.h: a worker's cached, asynchronous A lookups (dnsbl conditions). */

#ifndef DNS_H
#define DNS_H

struct event_base;
struct dns_answer;
struct dns_query;

typedef void	(*dns_done_cb)(void *, const char *,
		    const struct dns_answer *);

int		 dns_open(struct event_base *, char **, size_t);
void		 dns_close(void);
int		 dns_cached(const char *, struct dns_answer *);
struct dns_query *dns_query(const char *, dns_done_cb, void *);
void		 dns_cancel(struct dns_query *);

#endif /* DNS_H */
