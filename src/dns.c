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
 * dns.c: a worker's A lookups for the dnsbl conditions, with libevent's
 * evdns, and a cache of the answers: kept for their TTL (at most
 * DNS_TTL_MAX), a name that does not exist for DNS_NEGATIVE_TTL,
 * failures not at all.  The cache holds DNS_CACHE_MAX names; past that
 * the oldest entry goes.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "cond.h"
#include "dns.h"
#include "log.h"

#define DNS_TTL_MAX		3600
#define DNS_NEGATIVE_TTL	300
#define DNS_CACHE_MAX		10000

struct cached {
	LIST_ENTRY(cached)	 bucket;
	TAILQ_ENTRY(cached)	 age;
	time_t			 expires;
	struct dns_answer	 ans;
	char			 name[DNSBL_NAME_MAX];
};

struct dns_query {
	struct evdns_request	*req;
	dns_done_cb		 cb;	/* NULL: cancelled */
	void			*arg;
	char			 name[DNSBL_NAME_MAX];
};

#define DNS_BUCKETS		4096

static LIST_HEAD(, cached)	 cache[DNS_BUCKETS];
static TAILQ_HEAD(, cached)	 cache_age = TAILQ_HEAD_INITIALIZER(cache_age);
static size_t			 ncached;
static struct evdns_base	*dns;

static void	answered(int, char, int, int, void *, void *);
static void	cache_put(const char *, const struct dns_answer *, int);
static size_t	bucket_of(const char *);
static void	cache_drop(struct cached *);
static struct cached *cache_find(const char *);

/* FNV-1a. */
static size_t
bucket_of(const char *name)
{
	uint32_t	h = 2166136261U;

	for (; *name != '\0'; name++)
		h = (h ^ (uint8_t)*name) * 16777619U;
	return h % DNS_BUCKETS;
}

static struct cached *
cache_find(const char *name)
{
	struct cached	*e;

	LIST_FOREACH(e, &cache[bucket_of(name)], bucket)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/*
 * The resolver: the servers given ("address" or "address:port"), else
 * those of /etc/resolv.conf.  Before the worker drops privileges and
 * chroots: resolv.conf is read now.
 */
int
dns_open(struct event_base *base, char **servers, size_t nservers)
{
	size_t	i;
	int	rc;

	if ((dns = evdns_base_new(base, 0)) == NULL) {
		log_warnx("dns: cannot make a resolver");
		return -1;
	}
	if (nservers == 0 && (rc = evdns_base_resolv_conf_parse(dns,
	    DNS_OPTION_NAMESERVERS | DNS_OPTION_MISC, "/etc/resolv.conf")) !=
	    0 && rc != 6)	/* 6: no servers there, 127.0.0.1 taken */
		log_warnx("dns: /etc/resolv.conf: error %d", rc);
	for (i = 0; i < nservers; i++)
		if (evdns_base_nameserver_ip_add(dns, servers[i]) != 0) {
			log_warnx("dns: cannot use server %s", servers[i]);
			evdns_base_free(dns, 0);
			dns = NULL;
			return -1;
		}
	return 0;
}

void
dns_close(void)
{
	if (dns != NULL)
		evdns_base_free(dns, 1);
	dns = NULL;
	while (!TAILQ_EMPTY(&cache_age))
		cache_drop(TAILQ_FIRST(&cache_age));
}

static void
cache_drop(struct cached *e)
{
	LIST_REMOVE(e, bucket);
	TAILQ_REMOVE(&cache_age, e, age);
	free(e);
	ncached--;
}

static void
cache_put(const char *name, const struct dns_answer *ans, int ttl)
{
	struct cached	*e, *old;

	if (ttl <= 0)
		return;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		log_warn("dns: cache");
		return;
	}
	strlcpy(e->name, name, sizeof(e->name));
	e->ans = *ans;
	e->expires = time(NULL) + (ttl < DNS_TTL_MAX ? ttl : DNS_TTL_MAX);
	if ((old = cache_find(name)) != NULL)
		cache_drop(old);
	if (ncached == DNS_CACHE_MAX)
		cache_drop(TAILQ_FIRST(&cache_age));
	LIST_INSERT_HEAD(&cache[bucket_of(name)], e, bucket);
	TAILQ_INSERT_TAIL(&cache_age, e, age);
	ncached++;
}

/* A live cached answer for name: 1, and *ans filled; else 0. */
int
dns_cached(const char *name, struct dns_answer *ans)
{
	struct cached	*e;

	if ((e = cache_find(name)) == NULL)
		return 0;
	if (e->expires <= time(NULL)) {
		cache_drop(e);
		return 0;
	}
	*ans = e->ans;
	return 1;
}

static void
answered(int result, char type, int count, int ttl, void *addrs, void *arg)
{
	struct dns_query	*q = arg;
	struct dns_answer	 ans;
	int			 i;

	memset(&ans, 0, sizeof(ans));
	if (result == DNS_ERR_NONE && type == DNS_IPv4_A) {
		for (i = 0; i < count && i < 8; i++)
			memcpy(ans.addr[i], (uint8_t *)addrs + 4 * i, 4);
		ans.naddr = i;
		cache_put(q->name, &ans, ttl);
	} else if (result == DNS_ERR_NOTEXIST || result == DNS_ERR_NODATA ||
	    result == DNS_ERR_NONE)
		cache_put(q->name, &ans, DNS_NEGATIVE_TTL);
	else {
		ans.naddr = -1;
		if (q->cb != NULL)
			log_warnx("dns: %s: %s", q->name, evdns_err_to_string(
			    result));
	}
	if (q->cb != NULL)
		q->cb(q->arg, q->name, &ans);
	free(q);
}

/*
 * Look name up; cb gets the answer (from the event loop, never from
 * here) unless dns_cancel() came first.  NULL when it cannot be asked.
 */
struct dns_query *
dns_query(const char *name, dns_done_cb cb, void *arg)
{
	struct dns_query	*q;

	if (dns == NULL || (q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	strlcpy(q->name, name, sizeof(q->name));
	q->cb = cb;
	q->arg = arg;
	if ((q->req = evdns_base_resolve_ipv4(dns, name, DNS_QUERY_NO_SEARCH,
	    answered, q)) == NULL) {
		free(q);
		return NULL;
	}
	return q;
}

/* No answer wanted any more: evdns still calls back, to free it. */
void
dns_cancel(struct dns_query *q)
{
	q->cb = NULL;
	evdns_cancel_request(dns, q->req);
}
