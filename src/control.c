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
 * control.c: what the master tells and takes from the outside: the
 * control socket milterctl speaks to, the Prometheus endpoint, and the
 * per-minute history with its state file.
 *
 * The control protocol is in ctl.h.  A client gets CTL_TIMEOUT seconds to send its request.  The metrics
 * endpoint answers one HTTP/1.0 GET per connection.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "ctl.h"
#include "health.h"
#include "history.h"
#include "live.h"
#include "trace.h"
#include "log.h"
#include "milterd.h"
#include "stats.h"
#include "util.h"

#define CTL_MAX_CLIENTS	32
#define CTL_TIMEOUT	10	/* seconds for a request */
#define SAVE_MINUTES	10	/* the state file is written this often */
#define HTTP_HOURS	24	/* the graph's hours unless ?hours=N */
#define HTTP_HOURS_MAX	(24 * 31)
#define HTTP_SERVED	"served here: GET /metrics, /health, / and /graph.svg " \
			"(these two with ?hours=1 to 744)\n"
#define HTTP_BAD_HOURS	"the only query is hours=N, N from 1 to 744\n"

struct client {
	struct conn		*conn;
	struct event		*timer;
	int			 http;
	int			 replied;	/* closed once written */
	LIST_ENTRY(client)	 entry;
};

struct endpoint {
	int		 fd;
	int		 pending;	/* opened for a reload, not yet in use */
	mode_t		 mode;
	struct event	*ev;
	char		 text[256];	/* path or address */
};

static LIST_HEAD(, client)	 clients = LIST_HEAD_INITIALIZER(clients);
static size_t			 nclients[2];	/* control, metrics */
/* Refusals and time-outs any local user can cause: rate-limited. */
static struct log_rate		 refusals;
static struct event_base	*cbase;
static struct endpoint		 ctl = { -1, -1, 0, NULL, "" };
static struct endpoint		 metrics = { -1, -1, 0, NULL, "" };
static struct history		 hist;
static struct event		*minute_ev;
static uint64_t			 prev[STATS_MAX_CHILDREN][HISTORY_NCOUNTS];
static uint64_t			 prev_sessions;
static int64_t			 open_minute;	/* counts go here meanwhile */
static char			 state_path[PATH_MAX];	/* read at start only */

static void	accept_cb(evutil_socket_t, short, void *);
static void	client_read(struct conn *, void *);
static void	client_event(struct conn *, int, int, void *);
static void	client_timeout(evutil_socket_t, short, void *);
static void	client_free(struct client *);
static void	client_reply(struct client *, int, const char *, size_t);
static void	ctl_request(struct client *, struct evbuffer *);
static int	ctl_command(FILE *, int, char **, int);
static void	http_request(struct client *, struct evbuffer *);
static void	http_health(struct client *);
static void	health_json(FILE *, const struct milter_conf *);
static void	health_text(FILE *, const struct conf *);
static int	endpoint_prepare(struct endpoint *, const char *,
		    const struct sockspec *, mode_t, char *, size_t);
static void	endpoint_commit(struct endpoint *);
static void	child_counter_json(FILE *, const struct stats_child *, size_t);
static void	globals_json(FILE *);
static void	globals_text(FILE *);
static void	minute_cb(evutil_socket_t, short, void *);
static void	history_save(void);
static void	history_load(void);

/*
 * The sockets of c (the control socket, the metrics endpoint), opened
 * unless the running ones are the same; nothing changes until
 * control_commit().
 */
int
control_prepare(const struct conf *c, char *err, size_t errlen)
{
	if (endpoint_prepare(&ctl, c->control, NULL, c->control_mode, err,
	    errlen) == -1)
		return -1;
	if (endpoint_prepare(&metrics, c->metrics ? c->metrics_listen.text :
	    "", c->metrics ? &c->metrics_listen : NULL, 0, err,
	    errlen) == -1) {
		control_abort();
		return -1;
	}
	return 0;
}

static int
endpoint_prepare(struct endpoint *ep, const char *text,
    const struct sockspec *inet, mode_t mode, char *err, size_t errlen)
{
	struct sockspec	sp;

	ep->pending = -1;
	if (strcmp(text, ep->text) == 0)
		return 0;
	if (text[0] == '\0') {
		ep->pending = -2;	/* to be closed */
		return 0;
	}
	if (inet == NULL && sockspec_parse(text, &sp, err, errlen) == -1)
		return -1;
	if ((ep->pending = sockspec_listen(inet != NULL ? inet : &sp, mode,
	    NULL, err, errlen)) == -1)
		return -1;
	return 0;
}

/* Close what control_prepare() opened. */
void
control_abort(void)
{
	if (ctl.pending >= 0)
		close(ctl.pending);
	if (metrics.pending >= 0)
		close(metrics.pending);
	ctl.pending = metrics.pending = -1;
}

void
control_commit(const struct conf *c)
{
	endpoint_commit(&ctl);
	/* The same socket with another mode: changed in place. */
	if (ctl.fd != -1 && ctl.mode != c->control_mode &&
	    strcmp(ctl.text, c->control) == 0 &&
	    chmod(c->control, c->control_mode) == -1)
		log_warn("control: chmod %s", c->control);
	ctl.mode = c->control_mode;
	strlcpy(ctl.text, c->control, sizeof(ctl.text));
	endpoint_commit(&metrics);
	strlcpy(metrics.text, c->metrics ? c->metrics_listen.text : "",
	    sizeof(metrics.text));
}

static void
endpoint_commit(struct endpoint *ep)
{
	struct sockspec	sp;
	char		err[256];

	if (ep->pending == -1)
		return;
	if (ep->fd != -1) {
		event_free(ep->ev);
		close(ep->fd);
		if (ep == &ctl && sockspec_parse(ep->text, &sp, err,
		    sizeof(err)) == 0)
			unlink(((struct sockaddr_un *)&sp.ss)->sun_path);
		ep->fd = -1;
	}
	if (ep->pending >= 0) {
		ep->fd = ep->pending;
		if ((ep->ev = event_new(cbase, ep->fd, EV_READ | EV_PERSIST,
		    accept_cb, ep)) == NULL || event_add(ep->ev, NULL) == -1)
			fatalx("cannot watch %s", ep == &ctl ?
			    "the control socket" : "the metrics socket");
	}
	ep->pending = -1;
}

/* Start serving, with the history from the state file. */
void
control_start(struct event_base *base, const struct conf *c)
{
	struct timeval	tv = { 61 - time(NULL) % 60, 0 };

	cbase = base;
	strlcpy(state_path, c->state_file, sizeof(state_path));
	if (history_init(&hist, (size_t)c->history_hours * 60) == -1)
		fatal("%s: history_init", __func__);
	history_load();
	open_minute = time(NULL) / 60;
	if ((minute_ev = evtimer_new(base, minute_cb, &hist)) == NULL ||
	    evtimer_add(minute_ev, &tv) == -1)
		fatalx("cannot start the minute timer");
}

/* At exit: the history is saved, the sockets closed and removed. */
void
control_stop(const struct conf *c)
{
	struct client	*cl;

	minute_cb(-1, 0, NULL);
	history_save();
	history_free(&hist);
	event_free(minute_ev);
	while ((cl = LIST_FIRST(&clients)) != NULL)
		client_free(cl);
	ctl.pending = metrics.pending = -2;
	control_commit(c);
}

/* In a forked process: none of this is its business. */
void
control_forget(void)
{
	struct client	*cl;

	if (ctl.fd != -1)
		close(ctl.fd);
	if (metrics.fd != -1)
		close(metrics.fd);
	LIST_FOREACH(cl, &clients, entry)
		close(conn_fd(cl->conn));
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct endpoint	*ep = arg;
	struct client	*cl;
	struct timeval	 tv = { CTL_TIMEOUT, 0 };
	int		 fd;

	(void)what;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("%s: accept", ep->text);
		return;
	}
	/* Apart: metrics scrapers never lock milterctl out. */
	if (nclients[ep == &metrics] >= CTL_MAX_CLIENTS) {
		if (log_rate(&refusals, "control"))
			log_warnx("%s: too many clients at once", ep->text);
		close(fd);
		return;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL ||
	    (cl->conn = conn_new(cbase, fd, 0, client_read, client_event,
	    cl)) == NULL || (cl->timer = evtimer_new(cbase, client_timeout,
	    cl)) == NULL) {
		log_warn("%s: client", ep->text);
		if (cl == NULL || cl->conn == NULL)
			close(fd);
		if (cl != NULL)
			conn_free(cl->conn);
		free(cl);
		return;
	}
	cl->http = ep == &metrics;
	evtimer_add(cl->timer, &tv);
	LIST_INSERT_HEAD(&clients, cl, entry);
	nclients[cl->http]++;
}

static void
client_free(struct client *cl)
{
	LIST_REMOVE(cl, entry);
	nclients[cl->http]--;
	conn_free(cl->conn);
	event_free(cl->timer);
	free(cl);
}

static void
client_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct client	*cl = arg;

	(void)fd;
	(void)what;
	if (log_rate(&refusals, "control"))
		log_warnx("%s: a client %s in %d seconds", cl->http ?
		    "metrics" : "control", cl->replied ?
		    "did not take its reply" : "sent no request", CTL_TIMEOUT);
	client_free(cl);
}

static void
client_event(struct conn *conn, int what, int err, void *arg)
{
	struct client	*cl = arg;

	(void)conn;
	if (what == CONN_DRAINED && cl->replied) {
		client_free(cl);
		return;
	}
	if (what == CONN_ERROR && log_rate(&refusals, "control"))
		log_warnx("control: client: %s", strerror(err));
	if (what == CONN_EOF || what == CONN_ERROR)
		client_free(cl);
}

static void
client_read(struct conn *conn, void *arg)
{
	struct client	*cl = arg;

	if (cl->replied) {
		/* Nothing more is taken from it. */
		evbuffer_drain(conn_input(conn),
		    evbuffer_get_length(conn_input(conn)));
		return;
	}
	if (cl->http)
		http_request(cl, conn_input(conn));
	else
		ctl_request(cl, conn_input(conn));
}

/* Write the reply; the client is freed once it is out. */
static void
client_reply(struct client *cl, int ok, const char *out, size_t len)
{
	struct timeval	tv = { CTL_TIMEOUT, 0 };
	uint8_t		hdr[4];
	const char	*status = ok ? "ok\n" : "error\n";
	size_t		total = strlen(status) + len;

	if (!cl->http) {
		hdr[0] = (uint8_t)(total >> 24);
		hdr[1] = (uint8_t)(total >> 16);
		hdr[2] = (uint8_t)(total >> 8);
		hdr[3] = (uint8_t)total;
		conn_write(cl->conn, hdr, sizeof(hdr));
		conn_write(cl->conn, status, strlen(status));
	}
	conn_write(cl->conn, out, len);
	cl->replied = 1;
	/* As long again to take the reply. */
	evtimer_add(cl->timer, &tv);
	conn_notify_drained(cl->conn, 0);
}

static void
ctl_request(struct client *cl, struct evbuffer *in)
{
	uint8_t	 hdr[4], *p;
	char	*argv[CTL_MAX_ARGS + 1], *out = NULL;
	size_t	 len, i, outlen = 0;
	int	 argc = 0, ok;
	FILE	*fp;

	if (evbuffer_copyout(in, hdr, 4) != 4)
		return;
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
	    (size_t)hdr[2] << 8 | hdr[3];
	if (len == 0 || len > CTL_MAX_REQUEST) {
		if (log_rate(&refusals, "control"))
			log_warnx("control: request of %zu bytes refused",
			    len);
		client_reply(cl, 0, "request too long\n", 17);
		return;
	}
	if (evbuffer_get_length(in) < 4 + len)
		return;
	if ((p = evbuffer_pullup(in, (ev_ssize_t)(4 + len))) == NULL) {
		client_reply(cl, 0, "out of memory\n", 14);
		return;
	}
	p += 4;
	if (p[len - 1] != '\0') {
		if (log_rate(&refusals, "control"))
			log_warnx("control: malformed request (words not "
			    "ended)");
		client_reply(cl, 0, "malformed request\n", 18);
		return;
	}
	for (i = 0; i < len && argc < CTL_MAX_ARGS; i += strlen(argv[argc -
	    1]) + 1)
		argv[argc++] = (char *)p + i;
	argv[argc] = NULL;
	if (strcmp(argv[0], CTL_VERSION) != 0) {
		if (log_rate(&refusals, "control"))
			log_warnx("control: request in another protocol "
			    "version (%s)", argv[0]);
		client_reply(cl, 0, "this milterd speaks " CTL_VERSION "\n",
		    strlen("this milterd speaks " CTL_VERSION "\n"));
		return;
	}
	if (argc < 3) {
		if (log_rate(&refusals, "control"))
			log_warnx("control: request without a command");
		client_reply(cl, 0, "no command\n", 11);
		return;
	}
	if ((fp = open_memstream(&out, &outlen)) == NULL) {
		log_warn("control: open_memstream");
		client_reply(cl, 0, "out of memory\n", 14);
		return;
	}
	ok = ctl_command(fp, strcmp(argv[1], "json") == 0, argv + 2,
	    argc - 2) == 0;
	if (fclose(fp) == 0)
		client_reply(cl, ok, out, outlen);
	else
		client_reply(cl, 0, "out of memory\n", 14);
	free(out);
}

/* An HTTP/1.0 reply with its body; the client is freed once it is out. */
static void
http_reply(struct client *cl, const char *status, const char *type,
    const char *body, size_t len)
{
	char	head[256];
	int	n;

	n = snprintf(head, sizeof(head), "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n\r\n", status, type, len);
	conn_write(cl->conn, head, (size_t)n);
	client_reply(cl, 1, body, len);
}

/*
 * The hours of "hours=N", the only query / and /graph.svg take (none:
 * HTTP_HOURS), or -1.
 */
static int
http_hours(const char *query, size_t len)
{
	char		 buf[16];
	const char	*errstr;
	long long	 n;

	if (len == 0)
		return HTTP_HOURS;
	if (len <= 6 || len - 6 >= sizeof(buf) ||
	    strncmp(query, "hours=", 6) != 0)
		return -1;
	memcpy(buf, query + 6, len - 6);
	buf[len - 6] = '\0';
	n = strtonum(buf, 1, HTTP_HOURS_MAX, &errstr);
	return errstr == NULL ? (int)n : -1;
}

/*
 * GET /health, for load balancers and container probes: 200 when every
 * enabled child is up, 503 naming those that are not.
 */
static void
http_health(struct client *cl)
{
	struct master_info	 mi;
	char			*out = NULL;
	size_t			 outlen = 0, down;
	FILE			*fp;

	if ((fp = open_memstream(&out, &outlen)) == NULL) {
		log_warn("metrics: open_memstream");
		client_free(cl);
		return;
	}
	master_info(&mi);
	down = health_report(fp, mi.conf);
	if (fclose(fp) != 0) {
		log_warnx("metrics: cannot format /health");
		free(out);
		client_free(cl);
		return;
	}
	http_reply(cl, down == 0 ? "200 OK" : "503 Service Unavailable",
	    "text/plain; charset=utf-8", out, outlen);
	free(out);
}

/*
 * The metrics endpoint, one GET per connection: /metrics (Prometheus),
 * / (the status page, statuspage.c) and /graph.svg (graph.c, as
 * `milterctl graph' draws it), both of these with ?hours=N; anything
 * else is refused.  The request is read up to its blank line (at most
 * CTL_MAX_REQUEST).
 */
static void
http_request(struct client *cl, struct evbuffer *in)
{
	struct evbuffer_ptr	 end;
	struct master_info	 mi;
	char			*out = NULL;
	const char		*line, *path, *q, *type;
	size_t			 outlen = 0, plen, qlen;
	int			 hours = 0, rc = 0;
	int64_t			 now;
	FILE			*fp;

	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1) {
		if (evbuffer_get_length(in) > CTL_MAX_REQUEST)
			client_free(cl);
		return;
	}
	line = (const char *)evbuffer_pullup(in, end.pos + 4);
	if (line == NULL || strncmp(line, "GET /", 5) != 0) {
		http_reply(cl, "405 Method Not Allowed", "text/plain",
		    HTTP_SERVED, strlen(HTTP_SERVED));
		return;
	}
	path = line + 4;
	plen = strcspn(path, "? \r\n");
	q = path + plen + (path[plen] == '?');
	qlen = path[plen] == '?' ? strcspn(q, " \r\n") : 0;
	if (plen == 7 && strncmp(path, "/health", 7) == 0) {
		http_health(cl);
		return;
	}
	if (plen == 8 && strncmp(path, "/metrics", 8) == 0)
		type = "text/plain; version=0.0.4; charset=utf-8";
	else if ((plen == 1 && path[0] == '/') || (plen == 10 &&
	    strncmp(path, "/graph.svg", 10) == 0)) {
		if ((hours = http_hours(q, qlen)) == -1) {
			http_reply(cl, "400 Bad Request", "text/plain",
			    HTTP_BAD_HOURS, strlen(HTTP_BAD_HOURS));
			return;
		}
		type = plen == 1 ? "text/html; charset=utf-8" :
		    "image/svg+xml";
	} else {
		http_reply(cl, "404 Not Found", "text/plain", HTTP_SERVED,
		    strlen(HTTP_SERVED));
		return;
	}
	if ((fp = open_memstream(&out, &outlen)) == NULL) {
		log_warn("metrics: open_memstream");
		client_free(cl);
		return;
	}
	if (hours == 0) {
		stats_prometheus(fp, stats);
		master_info(&mi);
		health_prometheus(fp, mi.conf);
	} else if (plen == 1) {
		master_info(&mi);
		status_page(fp, mi.conf, &mi, hours);
	} else {
		/* The minute under way too, as milterctl history has it. */
		minute_cb(-1, 0, NULL);
		now = time(NULL) / 60;
		rc = graph_svg(fp, &hist, now - hours * 60, now + 1);
	}
	if (fclose(fp) != 0 || rc == -1) {
		log_warnx("metrics: cannot format %.*s", (int)plen, path);
		free(out);
		client_free(cl);
		return;
	}
	http_reply(cl, "200 OK", type, out, outlen);
	free(out);
}

/*
 * Commands.  Each writes its output to fp and returns 0, or -1 with a
 * message for the caller.
 */

static void
child_latency(const struct stats_child *sc, double *mean, double *p99)
{
	struct stats_hist	all;
	size_t			i;

	memset(&all, 0, sizeof(all));
	for (i = 0; i < NSTAGES; i++)
		stats_hist_sum(&all, &sc->latency[i]);
	*mean = all.count > 0 ? (double)all.sum_us / (double)all.count / 1e6 :
	    0;
	*p99 = stats_quantile(&all, 0.99);
}

static void
status_json(FILE *fp, const struct conf *c, const struct master_info *mi)
{
	const struct milter_conf	*m;
	const struct stats_worker	*w;
	char				 err[STATS_ERROR_MAX];
	double				 mean, p99;
	time_t				 now = time(NULL);
	size_t				 i, n = 0;

	fprintf(fp, "{\"pid\":%ld,\"uptime\":%lld,\"config\":{\"path\":",
	    (long)getpid(), (long long)(now - mi->started));
	json_str(fp, mi->conf_path);
	fprintf(fp, ",\"loaded\":%lld,\"generation\":%d},\"launcher\":"
	    "{\"pid\":%ld,\"uptime\":%lld},\"workers\":[",
	    (long long)mi->loaded, mi->generation, (long)mi->launcher,
	    mi->launcher != 0 ? (long long)(now - mi->launcher_started) : 0);
	for (i = 0; i < STATS_MAX_WORKERS; i++) {
		w = &stats->workers[i];
		if (w->pid == 0)
			continue;
		fprintf(fp, "%s{\"num\":%d,\"pid\":%d,\"generation\":%d,"
		    "\"uptime\":%lld,\"served\":%llu,\"open\":%llu}",
		    n++ ? "," : "", w->num, w->pid, w->gen,
		    (long long)stats_region_age(w->started, now),
		    (unsigned long long)stats_get(&w->served),
		    (unsigned long long)stats_get(&w->open));
	}
	fprintf(fp, "],\"children\":[");
	for (i = 0; i < c->nmilters; i++) {
		m = &c->milters[i];
		stats_get_error(m->stats, err, sizeof(err));
		child_latency(m->stats, &mean, &p99);
		fprintf(fp, "%s{\"name\":", i ? "," : "");
		json_str(fp, m->name);
		fprintf(fp, ",\"evaluation_sample\":%d,\"evaluation_wait\":%s",
		    stats_effective(m->evaluation_sample, &m->stats->sample),
		    m->evaluation_wait ? "true" : "false");
		fprintf(fp, ",\"enabled\":%s,\"evaluation\":%s,\"changed\":%s,"
		    "\"reachable\":\"%s\",\"sessions\":%llu,"
		    "\"latency_mean\":%.6f,\"latency_p99\":%.6f,"
		    "\"last_error_time\":%lld,\"last_error\":",
		    stats_effective(m->enabled, &m->stats->enabled) ? "true" :
		    "false", stats_effective(m->evaluation,
		    &m->stats->evaluation) ? "true" : "false",
		    m->stats->enabled >= 0 || m->stats->evaluation >= 0 ||
		    m->stats->sample >= 0 ? "true" : "false",
		    stats_reachable(m->stats),
		    (unsigned long long)stats_get(&m->stats->sessions), mean,
		    p99, (long long)stats_region_time(m->stats->last_fail,
		    now));
		json_str(fp, err);
		health_json(fp, m);
		fputc('}', fp);
	}
	fprintf(fp, "]}\n");
}

/* A child's health and its addresses', for status -j. */
static void
health_json(FILE *fp, const struct milter_conf *m)
{
	const struct stats_health	*h;
	char				 why[STATS_ERROR_MAX];
	size_t				 j;

	fprintf(fp, ",\"state\":\"%s\",\"state_since\":%lld,"
	    "\"addresses\":[", health_name(health_child(m->stats)),
	    (long long)health_since(m->stats));
	for (j = 0; j < m->nsock; j++) {
		h = &m->stats->health[j];
		health_reason(h, why, sizeof(why));
		fprintf(fp, "%s{\"socket\":", j ? "," : "");
		json_str(fp, m->sock[j].text);
		fprintf(fp, ",\"state\":\"%s\",\"since\":%lld,"
		    "\"failures\":%u,\"down_time\":%u,\"why\":",
		    health_name(health_state(h)), (long long)h->since,
		    h->failures, h->down_time);
		json_str(fp, why);
		fputc('}', fp);
	}
	fputc(']', fp);
}

/*
 * The children's health: each child's state, then each address's,
 * with since when and why (the last change).
 */
static void
health_text(FILE *fp, const struct conf *c)
{
	const struct milter_conf	*m;
	const struct stats_health	*h;
	char				 why[STATS_ERROR_MAX], when[32];
	time_t				 now = time(NULL);
	size_t				 i, j;

	fprintf(fp, "\n%-20s %-32s %-8s %-20s  %s\n", "CHILD", "ADDRESS",
	    "STATE", "SINCE", "WHY");
	for (i = 0; i < c->nmilters; i++) {
		m = &c->milters[i];
		fmt_utc(when, sizeof(when),
		    stats_region_time(health_since(m->stats), now));
		fprintf(fp, "%-20s %-32s %-8s %-20s\n", m->name, "*",
		    health_name(health_child(m->stats)), when);
		for (j = 0; j < m->nsock; j++) {
			h = &m->stats->health[j];
			health_reason(h, why, sizeof(why));
			fmt_utc(when, sizeof(when),
			    stats_region_time(h->since, now));
			fprintf(fp, "%-20s %-32s %-8s %-20s  %s\n", m->name,
			    m->sock[j].text, health_name(health_state(h)),
			    when, why[0] != '\0' ? why : "-");
		}
	}
}

static void
status_text(FILE *fp, const struct conf *c, const struct master_info *mi)
{
	const struct milter_conf	*m;
	const struct stats_worker	*w;
	char				 err[STATS_ERROR_MAX], when[32];
	double				 mean, p99;
	time_t				 now = time(NULL);
	size_t				 i;
	int				 changed = 0;

	fmt_utc(when, sizeof(when), mi->loaded);
	fprintf(fp, "milterd pid %ld, up %llds; %s loaded %s "
	    "(generation %d)\n", (long)getpid(),
	    (long long)(now - mi->started), mi->conf_path, when,
	    mi->generation);
	if (mi->launcher != 0)
		fprintf(fp, "launcher pid %ld, up %llds\n", (long)mi->launcher,
		    (long long)(now - mi->launcher_started));
	else
		fprintf(fp, "launcher not running\n");
	fprintf(fp, "\n%-6s %-8s %-4s %-9s %10s %6s\n", "WORKER", "PID",
	    "GEN", "UPTIME", "SERVED", "OPEN");
	for (i = 0; i < STATS_MAX_WORKERS; i++) {
		w = &stats->workers[i];
		if (w->pid != 0)
			fprintf(fp, "%-6d %-8d %-4d %-9lld %10llu %6llu\n",
			    w->num, w->pid, w->gen,
			    (long long)stats_region_age(w->started, now),
			    (unsigned long long)stats_get(&w->served),
			    (unsigned long long)stats_get(&w->open));
	}
	fprintf(fp, "\n%-20s %-8s %-10s %-9s %9s %9s %9s  %s\n", "CHILD",
	    "ENABLED", "EVALUATION", "REACHABLE", "SESSIONS", "MEAN", "P99",
	    "LAST ERROR");
	for (i = 0; i < c->nmilters; i++) {
		m = &c->milters[i];
		stats_get_error(m->stats, err, sizeof(err));
		fmt_utc(when, sizeof(when),
		    stats_region_time(m->stats->last_fail, now));
		child_latency(m->stats, &mean, &p99);
		changed |= m->stats->enabled >= 0 || m->stats->evaluation >= 0 ||
		    m->stats->sample >= 0;
		fprintf(fp, "%-20s %-8s %-10s %-9s %9llu %8.3fs %8.3fs  %s%s%s\n",
		    m->name,
		    stats_effective(m->enabled, &m->stats->enabled) ? "yes" :
		    "no", stats_effective(m->evaluation,
		    &m->stats->evaluation) ? "yes" : "no",
		    stats_reachable(m->stats),
		    (unsigned long long)stats_get(&m->stats->sessions), mean,
		    p99, err[0] != '\0' ? when : "-", err[0] != '\0' ? " " : "",
		    err);
	}
	health_text(fp, c);
	if (changed)
		fprintf(fp, "\nChanged by milterctl until the next reload: "
		    "ENABLED and EVALUATION show what is in effect.\n");
}

/*
 * The session-wide counters (stats_globals[]) as the first keys of the
 * stats object, each in its group's object if it has one.
 */
static void
globals_json(FILE *fp)
{
	const struct stats_global	*g;
	const char			*open = NULL;
	size_t				 k;
	int				 v;

	fputc('{', fp);
	for (k = 0; k < STATS_NGLOBAL; k++) {
		g = &stats_globals[k];
		if (open != NULL && (g->group == NULL ||
		    strcmp(g->group, open) != 0)) {
			fputc('}', fp);
			open = NULL;
		}
		if (k > 0)
			fputc(',', fp);
		if (g->group != NULL && open == NULL) {
			fprintf(fp, "\"%s\":{", g->group);
			open = g->group;
		}
		fprintf(fp, "\"%s\":", g->key);
		if (g->verdicts < 0) {
			fprintf(fp, "%llu", (unsigned long long)
			    stats_global_value(stats, k, 0));
			continue;
		}
		fputc('{', fp);
		for (v = g->verdicts; v < NVERDICTS; v++)
			fprintf(fp, "%s\"%s\":%llu", v > g->verdicts ? "," : "",
			    verdict_name(v), (unsigned long long)
			    stats_global_value(stats, k, v));
		fputc('}', fp);
	}
	if (open != NULL)
		fputc('}', fp);
}

/* Counter k of a child, as ',"key":value' (verdicts from accept). */
static void
child_counter_json(FILE *fp, const struct stats_child *sc, size_t k)
{
	size_t	v;

	fprintf(fp, ",\"%s\":", stats_child_counters[k].key);
	if (!stats_child_counters[k].verdicts) {
		fprintf(fp, "%llu", (unsigned long long)stats_child_value(sc,
		    k, 0));
		return;
	}
	fputc('{', fp);
	for (v = VERDICT_ACCEPT; v < NVERDICTS; v++)
		fprintf(fp, "%s\"%s\":%llu", v > VERDICT_ACCEPT ? "," : "",
		    verdict_name(v), (unsigned long long)stats_child_value(sc,
		    k, v));
	fputc('}', fp);
}

/* A histogram as {"count":N,"mean":S,"p99":S}. */
static void
hist_json(FILE *fp, const struct stats_hist *h)
{
	uint64_t	n = stats_get(&h->count);

	fprintf(fp, "{\"count\":%llu,\"mean\":%.6f,\"p99\":%.6f}",
	    (unsigned long long)n, n > 0 ? (double)stats_get(&h->sum_us) /
	    (double)n / 1e6 : 0.0, stats_quantile(h, 0.99));
}

/*
 * A shadow child's trials: "trial":{"verdicts":{TRIAL:{ACTUAL:N}},
 * "latency":{...}}, its verdicts against the messages' (accept on).
 */
static void
trial_json(FILE *fp, const struct stats_child *sc)
{
	size_t	t, a;

	fprintf(fp, ",\"trial\":{\"verdicts\":{");
	for (t = VERDICT_ACCEPT; t < NVERDICTS; t++) {
		fprintf(fp, "%s\"%s\":{", t > VERDICT_ACCEPT ? "," : "",
		    verdict_name(t));
		for (a = VERDICT_ACCEPT; a < NVERDICTS; a++)
			fprintf(fp, "%s\"%s\":%llu", a > VERDICT_ACCEPT ? "," :
			    "", verdict_name(a), (unsigned long long)stats_get(
			    &sc->trial[t][a]));
		fputc('}', fp);
	}
	fprintf(fp, "},\"latency\":");
	hist_json(fp, &sc->trial_latency);
	fputc('}', fp);
}

/*
 * The text form of a shadow child's trials, if it had any: its
 * verdicts (rows) against the messages' (columns), what it would have
 * modified, what was dropped or cut, its latency.
 */
static void
trial_text(FILE *fp, size_t i)
{
	const struct stats_child	*sc = &stats->children[i];
	const struct stats_hist		*h = &sc->trial_latency;
	uint64_t			 n = 0;
	size_t				 t, a;

	for (t = 0; t < NVERDICTS; t++)
		for (a = 0; a < NVERDICTS; a++)
			n += stats_get(&sc->trial[t][a]);
	if (n == 0 && stats_get(&sc->trial_dropped) == 0 &&
	    stats_get(&sc->trial_cut) == 0)
		return;
	fprintf(fp, "\nTRIAL %s: its verdict (rows) against the message's "
	    "(columns)\n%-12s", stats_child_name(i), "");
	for (a = VERDICT_ACCEPT; a < NVERDICTS; a++)
		fprintf(fp, " %10s", verdict_name(a));
	fputc('\n', fp);
	for (t = VERDICT_ACCEPT; t < NVERDICTS; t++) {
		fprintf(fp, "%-12s", verdict_name(t));
		for (a = VERDICT_ACCEPT; a < NVERDICTS; a++)
			fprintf(fp, " %10llu", (unsigned long long)stats_get(
			    &sc->trial[t][a]));
		fputc('\n', fp);
	}
	fprintf(fp, "would have: headers added %llu, headers changed %llu, "
	    "bodies replaced %llu, recipients changed %llu\n"
	    "dropped %llu, cut %llu, latency mean %.3fs p99 %.3fs\n",
	    (unsigned long long)stats_get(&sc->trial_edits[TRIAL_HEADERS_ADDED]),
	    (unsigned long long)stats_get(
	    &sc->trial_edits[TRIAL_HEADERS_CHANGED]),
	    (unsigned long long)stats_get(&sc->trial_edits[TRIAL_BODY_REPLACED]),
	    (unsigned long long)stats_get(
	    &sc->trial_edits[TRIAL_RECIPIENTS_CHANGED]),
	    (unsigned long long)stats_get(&sc->trial_dropped),
	    (unsigned long long)stats_get(&sc->trial_cut),
	    stats_get(&h->count) > 0 ? (double)stats_get(&h->sum_us) /
	    (double)stats_get(&h->count) / 1e6 : 0.0,
	    stats_quantile(h, 0.99));
}

/* Messages a shadow would have refused, whatever they really got. */
static uint64_t
trial_refusals(const struct stats_child *sc)
{
	uint64_t	n = 0;
	size_t		a;

	for (a = 0; a < NVERDICTS; a++)
		n += stats_get(&sc->trial[VERDICT_REJECT][a]) +
		    stats_get(&sc->trial[VERDICT_TEMPFAIL][a]) +
		    stats_get(&sc->trial[VERDICT_DISCARD][a]);
	return n;
}

static void
stats_json(FILE *fp)
{
	const struct stats_child	*sc;
	const struct stats_hist		*h;
	size_t				 i, s, n = 0, k;

	globals_json(fp);
	fprintf(fp, ",\"children\":[");
	for (i = 0; i < STATS_MAX_CHILDREN; i++) {
		sc = &stats->children[i];
		if (stats_child_name(i)[0] == '\0')
			continue;
		fprintf(fp, "%s{\"name\":", n++ ? "," : "");
		json_str(fp, stats_child_name(i));
		for (k = 0; k < STATS_NCHILD_COUNTERS; k++)
			child_counter_json(fp, sc, k);
		fprintf(fp, ",\"latency\":{");
		for (k = 0, s = 0; s < NSTAGES; s++) {
			h = &sc->latency[s];
			if (stats_get(&h->count) == 0)
				continue;
			fprintf(fp, "%s\"%s\":", k++ ? "," : "",
			    milter_stages[s].name);
			hist_json(fp, h);
		}
		fputc('}', fp);
		trial_json(fp, sc);
		fputc('}', fp);
	}
	fprintf(fp, "]}\n");
}

/*
 * The session-wide counters (stats_globals[]), a line at a time:
 * "label N, label N", or "label: verdict N ..." for one by verdict.
 */
static void
globals_text(FILE *fp)
{
	const struct stats_global	*g;
	size_t				 k, line, n;
	int				 v;

	for (line = 0; line < STATS_TEXT_LINES; line++) {
		for (k = n = 0; k < STATS_NGLOBAL; k++) {
			g = &stats_globals[k];
			if (g->line != (int)line)
				continue;
			if (g->verdicts < 0) {
				fprintf(fp, "%s%s %llu", n++ ? ", " : "",
				    g->label, (unsigned long long)
				    stats_global_value(stats, k, 0));
				continue;
			}
			fprintf(fp, "%s:", g->label);
			for (v = g->verdicts; v < NVERDICTS; v++)
				fprintf(fp, " %s %llu", verdict_name(v),
				    (unsigned long long)stats_global_value(
				    stats, k, v));
		}
		fputc('\n', fp);
	}
}

static void
stats_text(FILE *fp)
{
	const struct stats_child	*sc;
	const struct stats_hist		*h;
	size_t				 i, s, v, k;
	int				 evaluated;

	globals_text(fp);
	fprintf(fp, "\n%-20s %-5s %9s", "CHILD", "MODE", "SESSIONS");
	for (v = VERDICT_ACCEPT; v < NVERDICTS; v++)
		fprintf(fp, " %10s", verdict_name(v));
	for (k = 0; k < STATS_NCHILD_COUNTERS; k++)
		if (stats_child_counters[k].column != NULL)
			fprintf(fp, " %9s", stats_child_counters[k].column);
	fputc('\n', fp);
	for (i = 0; i < STATS_MAX_CHILDREN; i++) {
		sc = &stats->children[i];
		if (stats_child_name(i)[0] == '\0')
			continue;
		fprintf(fp, "%-20s %-5s %9llu", stats_child_name(i), "apply",
		    (unsigned long long)stats_get(&sc->sessions));
		for (v = VERDICT_ACCEPT; v < NVERDICTS; v++)
			fprintf(fp, " %10llu",
			    (unsigned long long)stats_get(&sc->verdicts[v]));
		for (k = 0; k < STATS_NCHILD_COUNTERS; k++)
			if (stats_child_counters[k].column != NULL)
				fprintf(fp, " %9llu", (unsigned long long)
				    stats_child_value(sc, k, 0));
		fputc('\n', fp);
		for (evaluated = 0, v = 0; v < NVERDICTS; v++)
			evaluated |= stats_get(&sc->evaluated[v]) != 0;
		if (!evaluated)
			continue;
		fprintf(fp, "%-20s %-5s %9s", stats_child_name(i), "eval",
		    "-");
		for (v = VERDICT_ACCEPT; v < NVERDICTS; v++)
			fprintf(fp, " %10llu",
			    (unsigned long long)stats_get(&sc->evaluated[v]));
		for (k = 0; k < STATS_NCHILD_COUNTERS; k++)
			if (stats_child_counters[k].column != NULL)
				fprintf(fp, " %9s", "-");
		fputc('\n', fp);
	}
	fprintf(fp, "\n%-20s %-10s %9s %9s %9s\n", "CHILD", "STAGE",
	    "REPLIES", "MEAN", "P99");
	for (i = 0; i < STATS_MAX_CHILDREN; i++) {
		sc = &stats->children[i];
		for (s = 0; stats_child_name(i)[0] != '\0' && s < NSTAGES;
		    s++) {
			h = &sc->latency[s];
			if (stats_get(&h->count) == 0)
				continue;
			fprintf(fp, "%-20s %-10s %9llu %8.3fs %8.3fs\n",
			    stats_child_name(i), milter_stages[s].name,
			    (unsigned long long)stats_get(&h->count),
			    (double)stats_get(&h->sum_us) /
			    (double)stats_get(&h->count) / 1e6,
			    stats_quantile(h, 0.99));
		}
	}
	for (i = 0; i < STATS_MAX_CHILDREN; i++)
		if (stats_child_name(i)[0] != '\0')
			trial_text(fp, i);
}

/*
 * enable, disable, evaluate: for new sessions, until the next reload.
 * evaluate NAME PERCENT (0 to 100) puts it on trial in that share of
 * connections (evaluation_sample).
 */
static int
cmd_change(FILE *fp, const struct conf *c, char **argv, int argc)
{
	const struct milter_conf	*m;
	const char			*errstr = NULL;
	long long			 pct = -1;
	int				 on, eval = strcmp(argv[0], "evaluate") == 0;

	if (eval && argc == 3 && strcmp(argv[2], "on") != 0 &&
	    strcmp(argv[2], "off") != 0)
		pct = strtonum(argv[2], 0, 100, &errstr);
	if (argc != (eval ? 3 : 2) || errstr != NULL) {
		fprintf(fp, "usage: enable NAME | disable NAME | evaluate NAME "
		    "on|off|PERCENT%s\n", errstr != NULL ?
		    " (PERCENT: 0 to 100)" : "");
		return -1;
	}
	if ((m = conf_milter(c, argv[1])) == NULL) {
		fprintf(fp, "no milter \"%s\" in %s\n", argv[1], c->path);
		return -1;
	}
	if (pct >= 0) {
		__atomic_store_n(&m->stats->evaluation, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&m->stats->sample, (int32_t)pct,
		    __ATOMIC_RELAXED);
		log_info("control: milter %s: evaluation on, %lld %% of "
		    "connections, until the next reload", m->name, pct);
		fprintf(fp, "milter %s: evaluation on in %lld %% of new "
		    "sessions, until the next reload\n", m->name, pct);
		return 0;
	}
	if (eval) {
		on = strcmp(argv[2], "on") == 0;
		__atomic_store_n(&m->stats->evaluation, on, __ATOMIC_RELAXED);
	} else {
		on = strcmp(argv[0], "enable") == 0;
		__atomic_store_n(&m->stats->enabled, on, __ATOMIC_RELAXED);
	}
	log_info("control: milter %s: %s %s until the next reload", m->name,
	    argc == 3 ? "evaluation" : "enabled", on ? "on" : "off");
	fprintf(fp, "milter %s: %s for new sessions, until the next reload\n",
	    m->name, argc == 3 ? (on ? "evaluation on" : "evaluation off") :
	    (on ? "enabled" : "disabled"));
	return 0;
}

static int
cmd_history(FILE *fp, char **argv, int argc)
{
	const char	*errstr;
	long long	 hours = 24;

	if (argc > 2 || (argc == 2 && (hours = strtonum(argv[1], 1,
	    24 * 31, &errstr), errstr != NULL))) {
		fprintf(fp, "usage: history [HOURS]\n");
		return -1;
	}
	minute_cb(-1, 0, NULL);
	return history_write(&hist, fp, time(NULL) / 60 - hours * 60);
}

static int
ctl_command(FILE *fp, int json, char **argv, int argc)
{
	struct master_info	 mi;
	const struct conf	*c;

	master_info(&mi);
	c = mi.conf;
	if (strcmp(argv[0], "status") == 0 && argc == 1) {
		if (json)
			status_json(fp, c, &mi);
		else
			status_text(fp, c, &mi);
		return 0;
	}
	if (strcmp(argv[0], "stats") == 0 && argc == 1) {
		if (json)
			stats_json(fp);
		else
			stats_text(fp);
		return 0;
	}
	if (strcmp(argv[0], "sessions") == 0 && argc == 1) {
		live_sessions(fp, json);
		return 0;
	}
	if (strcmp(argv[0], "trace") == 0 && (argc == 2 || argc == 3))
		return trace_add(fp, argv[1], argc == 3 ? argv[2] : NULL);
	if (strcmp(argv[0], "reload") == 0 && argc == 1)
		return master_reload(fp);
	if (strcmp(argv[0], "show") == 0 && argc == 2 &&
	    strcmp(argv[1], "config") == 0) {
		conf_print(c, fp);
		return 0;
	}
	if (strcmp(argv[0], "enable") == 0 || strcmp(argv[0], "disable") == 0 ||
	    strcmp(argv[0], "evaluate") == 0)
		return cmd_change(fp, c, argv, argc);
	if (strcmp(argv[0], "history") == 0)
		return cmd_history(fp, argv, argc);
	if (strcmp(argv[0], "status") == 0 || strcmp(argv[0], "stats") == 0 ||
	    strcmp(argv[0], "reload") == 0 || strcmp(argv[0], "show") == 0 ||
	    strcmp(argv[0], "sessions") == 0 || strcmp(argv[0], "trace") == 0) {
		fprintf(fp, "usage: status | stats | sessions | "
		    "trace ADDRESS [SECONDS] | reload | show config\n");
		return -1;
	}
	fprintf(fp, "unknown command \"%s\" (see milterctl(8))\n", argv[0]);
	return -1;
}

/*
 * The history: every minute, what the counters gained since the last.
 */

/*
 * Called every minute (arg: the history), just after the minute ends,
 * and before the history is read or saved (arg NULL).  What the
 * counters gained goes into open_minute: the minute the timer has not
 * closed yet.
 */
static void
minute_cb(evutil_socket_t fd, short what, void *arg)
{
	struct history_entry		 e[STATS_MAX_CHILDREN];
	const struct stats_child	*sc;
	struct timeval			 tv;
	uint64_t			 now[HISTORY_NCOUNTS], sessions;
	int64_t				 minute = time(NULL) / 60;
	size_t				 i, k, n = 0;
	int				 idx;

	(void)fd;
	(void)what;
	for (i = 0; i < STATS_MAX_CHILDREN; i++) {
		sc = &stats->children[i];
		if (stats_child_name(i)[0] == '\0' ||
		    (idx = history_child(&hist, stats_child_name(i))) == -1)
			continue;
		for (k = 0; k < HISTORY_FALLBACK; k++)
			now[k] = stats_get(&sc->verdicts[VERDICT_ACCEPT + k]);
		now[HISTORY_FALLBACK] = stats_get(&sc->fallbacks);
		now[HISTORY_WOULD_REFUSE] = trial_refusals(sc);
		e[n].child = (uint32_t)idx;
		for (k = 0; k < HISTORY_NCOUNTS; k++) {
			/* Less than before: the entry was given anew. */
			e[n].n[k] = (uint32_t)(now[k] >= prev[i][k] ?
			    now[k] - prev[i][k] : now[k]);
			prev[i][k] = now[k];
		}
		n++;
	}
	sessions = stats_get(&stats->sessions);
	if (history_add(&hist, open_minute, (uint32_t)(sessions -
	    prev_sessions), e, n) == -1)
		log_warnx("history: minute %lld not kept (clock went back?)",
		    (long long)open_minute);
	prev_sessions = sessions;
	if (arg == NULL)
		return;
	open_minute = minute;
	if (minute % SAVE_MINUTES == 0)
		history_save();
	tv.tv_sec = 61 - time(NULL) % 60;
	tv.tv_usec = 0;
	evtimer_add(minute_ev, &tv);
}

/* Written whole to a temporary file, then renamed over the old one. */
static void
history_save(void)
{
	char	 tmp[PATH_MAX + 8], dir[PATH_MAX], *slash;
	FILE	*fp;
	int	 fd, rc;

	if (state_path[0] == '\0')
		return;
	strlcpy(dir, state_path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		(void)mkdir(dir, 0755);
	}
	/*
	 * A fresh file of an unpredictable name in the state file's own
	 * directory (rename(2) stays within it): a fixed name could be a
	 * link planted there in advance.
	 */
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", state_path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1 ||
	    fchmod(fd, 0644) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		log_warn("history: %s", tmp);
		if (fd != -1) {
			unlink(tmp);
			close(fd);
		}
		return;
	}
	rc = history_write(&hist, fp, 0);
	if (fclose(fp) != 0 || rc == -1) {
		log_warnx("history: cannot write %s", tmp);
		unlink(tmp);
		return;
	}
	if (rename(tmp, state_path) == -1) {
		log_warn("history: rename %s", tmp);
		unlink(tmp);
	}
}

static void
history_load(void)
{
	char	 err[256];
	FILE	*fp;
	int	 fd;

	if (state_path[0] == '\0')
		return;
	/* history_save() replaces it by rename: never a link of ours. */
	if ((fd = open(state_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    (fp = fdopen(fd, "r")) == NULL) {
		if (errno != ENOENT)
			log_warn("history: %s", state_path);
		if (fd != -1)
			close(fd);
		return;
	}
	if (history_read(&hist, fp, time(NULL) / 60 + 1, err,
	    sizeof(err)) == -1)
		log_warnx("history: %s: %s (kept what came before)",
		    state_path, err);
	fclose(fp);
}
