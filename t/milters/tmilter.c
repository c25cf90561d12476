/*
 * tmilter -- configurable test milter for the milterd integration tests.
 *
 * tmilter is built on the reference libmilter, so it plays the part of a
 * real child milter behind milterd.  Each instance logs what it sees and
 * does what its command line tells it to, which lets a test check both
 * what milterd forwarded and how milterd handles each kind of answer.
 *
 * Usage: tmilter -p SOCKET [-l LOGFILE] [options]
 *
 * Stages: connect helo mail rcpt data header eoh body eom unknown.
 * Every option but -p, -l, -P, -N and -k may be repeated.
 *
 *  -p SOCKET       libmilter socket (unix:/path, inet:port@127.0.0.1);
 *                  a stale unix socket is removed first.
 *  -l FILE         append one line per callback to FILE (see below).
 *  -M NAME         log macro NAME at each callback ({auth_authen}, i ...).
 *  -L 'STAGE:LIST' negotiate: ask the MTA for this macro list at STAGE
 *                  (connect, helo, mail, rcpt, data, eoh, eom) with
 *                  smfi_setsymlist, as MIMEDefang does.
 *  -h 'Name: value'      eom: add a header (smfi_addheader).
 *  -i 'IDX:Name: value'  eom: insert a header at IDX (smfi_insheader).
 *      For -h and -i one blank after the colon is dropped unless
 *      SMFIP_HDR_LEADSPC was negotiated (-N), so the header reads
 *      "Name: value" in the message either way.
 *  -c 'Name:IDX:value'   eom: change occurrence IDX (1-based) of Name
 *                  (smfi_chgheader); the value is sent as given, and an
 *                  empty value deletes the header.
 *  -b FILE         eom: replace the body with FILE (read at startup, sent
 *                  in chunks of at most 65535 bytes); several -b send the
 *                  files one after the other.
 *  -a 'ADDR [ARGS]'  eom: add a recipient (smfi_addrcpt_par with ARGS).
 *  -d ADDR         eom: delete a recipient (smfi_delrcpt).
 *  -f 'ADDR [ARGS]'  eom: change the envelope sender (smfi_chgfrom).
 *  -q REASON       eom: quarantine (smfi_quarantine).
 *      The eom actions above run in command line order, before the eom
 *      verdict (so -J eom sends the changes and then rejects).
 *  -R ADDR         reject this recipient (case-insensitive, <> optional)
 *                  with 550 5.7.1 "recipient ADDR refused by tmilter".
 *  -J STAGE        reject: 550 5.7.1 "rejected at STAGE by tmilter".
 *  -T STAGE        tempfail: 451 4.7.1 "tempfail at STAGE by tmilter".
 *  -D STAGE        discard.
 *  -A STAGE        accept.
 *      At most one of -J/-T/-D/-A per stage.  Header, body and rcpt
 *      verdicts apply to every call of that stage; -R is checked before
 *      the rcpt verdict.
 *  -S STAGE:MS     sleep MS milliseconds at STAGE before answering.
 *  -P              at eom, call smfi_progress every second of the sleep.
 *  -X STAGE        crash at STAGE (abort()) after logging and sleeping.
 *  -N              negotiate: keep libmilter's defaults and also ask for
 *                  SMFIP_HDR_LEADSPC if the MTA offers it (header values
 *                  then arrive with their leading blank).  Without -N the
 *                  negotiate callback returns SMFIS_ALL_OPTS.
 *  -O              no negotiate callback, as a milter written before
 *                  libmilter 8.14: libmilter negotiates from the
 *                  callbacks registered (no negotiate line is logged).
 *  -k              answer SMFIS_SKIP from the body callback if the MTA
 *                  offered SMFIP_SKIP (a body verdict takes precedence).
 *
 * Log lines (CR and LF inside values are written as \r and \n):
 *  negotiate actions=0xA protocol=0xP  (P includes libmilter's NR_* fakes)
 *  connect host=H family=4|6|unix|unknown port=N addr=A
 *  helo NAME / mail <a> [args] / rcpt <b> [args] / data / unknown CMD
 *  header Name: value   (everything after ": " is the value as received)
 *  eoh / body N bytes / eom / abort / close
 *  macro NAME=VALUE     after a callback's line, for each set -M macro
 *
 * Exit status: 0 after a clean stop (SIGTERM), 1 on a runtime error,
 * 2 on a usage error or an unreadable -b file.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#define TM_NAME		"tmilter"
#define TM_CHUNK	65535
#define TM_MAXSLEEP	3600000L

enum stage {
	ST_CONNECT,
	ST_HELO,
	ST_MAIL,
	ST_RCPT,
	ST_DATA,
	ST_HEADER,
	ST_EOH,
	ST_BODY,
	ST_EOM,
	ST_UNKNOWN,
	ST_COUNT
};

enum verdict {
	V_NONE,
	V_REJECT,
	V_TEMPFAIL,
	V_DISCARD,
	V_ACCEPT
};

enum eomkind {
	EA_ADDHDR,
	EA_INSHDR,
	EA_CHGHDR,
	EA_BODY,
	EA_ADDRCPT,
	EA_DELRCPT,
	EA_CHGFROM,
	EA_QUARANTINE
};

struct eomact {
	enum eomkind	 kind;
	char		*name;		/* header name, address, reason */
	char		*value;		/* header value, ESMTP args */
	int		 idx;		/* header index */
	unsigned char	*body;
	size_t		 bodylen;
};

struct stagecfg {
	enum verdict	 verdict;
	long		 sleep_ms;
	bool		 crash;
};

struct config {
	char		*sockspec;
	char		*logpath;
	FILE		*logfp;
	char		**macros;
	size_t		 nmacros;
	char		**rejrcpt;
	size_t		 nrejrcpt;
	struct eomact	*acts;
	size_t		 nacts;
	struct stagecfg	 stages[ST_COUNT];
	bool		 progress;
	bool		 leadspc;
	bool		 skip;
	char		*symlist[ST_COUNT];	/* -L, NULL: the MTA's */
};

/* Per-connection state, kept with smfi_setpriv(). */
struct conn {
	bool		 skip_ok;	/* MTA offered SMFIP_SKIP */
	bool		 leadspc;	/* SMFIP_HDR_LEADSPC negotiated */
};

static const char *const stage_names[ST_COUNT] = {
	"connect", "helo", "mail", "rcpt", "data",
	"header", "eoh", "body", "eom", "unknown"
};

static struct config cfg;

static void		 usage(void) __attribute__((noreturn));
static void		 usagex(const char *, const char *)
			    __attribute__((noreturn));
static void		*xreallocarray(void *, size_t, size_t);
static char		*xstrdup(const char *);
static char		*xstrndup(const char *, size_t);
static void		 strv_push(char ***, size_t *, char *);
static struct eomact	*act_new(enum eomkind);
static enum stage	 parse_stage(const char *);
static void		 parse_symlist(const char *);
static long		 parse_num(const char *, const char *, long, long);
static void		 parse_verdict(const char *, enum verdict);
static void		 parse_sleep(const char *);
static void		 parse_addhdr(const char *, enum eomkind);
static void		 parse_inshdr(const char *);
static void		 parse_chghdr(const char *);
static void		 parse_addr(const char *, enum eomkind);
static void		 parse_body(const char *);
static void		 parse_args(int, char **);

static void		 log_begin(void);
static void		 log_raw(const char *);
static void		 log_fmt(const char *, ...)
			    __attribute__((format(printf, 1, 2)));
static void		 log_esc(const char *);
static void		 log_argv(char **);
static void		 log_end(SMFICTX *);
static void		 log_simple(SMFICTX *, const char *);

static struct conn	*conn_get(SMFICTX *);
static void		 sleep_ms(long);
static void		 stage_pre(SMFICTX *, enum stage);
static sfsistat		 stage_reply(SMFICTX *, enum stage, sfsistat);
static sfsistat		 stage_finish(SMFICTX *, enum stage);
static bool		 addr_eq(const char *, const char *);
static bool		 rcpt_refused(SMFICTX *, const char *);
static char		*hdr_value(SMFICTX *, char *);
static int		 send_body(SMFICTX *, const struct eomact *);
static int		 run_act(SMFICTX *, const struct eomact *);
static const char	*act_fname(enum eomkind);
static const char	*sa_describe(const struct sockaddr *, char *, size_t,
			    const char **, unsigned int *);

static sfsistat		 tm_negotiate(SMFICTX *, unsigned long,
			    unsigned long, unsigned long, unsigned long,
			    unsigned long *, unsigned long *, unsigned long *,
			    unsigned long *);
static sfsistat		 tm_connect(SMFICTX *, char *,
			    struct sockaddr *);
static sfsistat		 tm_helo(SMFICTX *, char *);
static sfsistat		 tm_envfrom(SMFICTX *, char **);
static sfsistat		 tm_envrcpt(SMFICTX *, char **);
static sfsistat		 tm_data(SMFICTX *);
static sfsistat		 tm_unknown(SMFICTX *, const char *);
static sfsistat		 tm_header(SMFICTX *, char *, char *);
static sfsistat		 tm_eoh(SMFICTX *);
static sfsistat		 tm_body(SMFICTX *, unsigned char *, size_t);
static sfsistat		 tm_eom(SMFICTX *);
static sfsistat		 tm_abort(SMFICTX *);
static sfsistat		 tm_close(SMFICTX *);

static struct smfiDesc tm_desc = {
	.xxfi_name = TM_NAME,
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY |
	    SMFIF_ADDRCPT | SMFIF_ADDRCPT_PAR | SMFIF_DELRCPT |
	    SMFIF_QUARANTINE | SMFIF_CHGFROM | SMFIF_SETSYMLIST,
	.xxfi_connect = tm_connect,
	.xxfi_helo = tm_helo,
	.xxfi_envfrom = tm_envfrom,
	.xxfi_envrcpt = tm_envrcpt,
	.xxfi_header = tm_header,
	.xxfi_eoh = tm_eoh,
	.xxfi_body = tm_body,
	.xxfi_eom = tm_eom,
	.xxfi_abort = tm_abort,
	.xxfi_close = tm_close,
	.xxfi_unknown = tm_unknown,
	.xxfi_data = tm_data,
	.xxfi_negotiate = tm_negotiate
};

/*
 * Command line parsing.
 */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: %s -p socket [-kNP] [-l logfile] [-M macro]"
	    " [-L stage:list]\n"
	    "\t[-h 'Name: value'] [-i 'idx:Name: value']"
	    " [-c 'Name:idx:value']\n"
	    "\t[-b file] [-a addr] [-d addr] [-f addr] [-q reason]"
	    " [-R addr]\n"
	    "\t[-J stage] [-T stage] [-D stage] [-A stage] [-X stage]"
	    " [-S stage:ms]\n"
	    "stages: connect helo mail rcpt data header eoh body eom"
	    " unknown\n", TM_NAME);
	exit(2);
}

static void
usagex(const char *msg, const char *arg)
{
	fprintf(stderr, "%s: %s: %s\n", TM_NAME, msg, arg);
	usage();
}

static void *
xreallocarray(void *p, size_t n, size_t size)
{
	void	*q;

	if ((q = reallocarray(p, n, size)) == NULL)
		err(1, "reallocarray");
	return q;
}

static char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		err(1, "strdup");
	return p;
}

static char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	if ((p = strndup(s, n)) == NULL)
		err(1, "strndup");
	return p;
}

static void
strv_push(char ***vp, size_t *np, char *s)
{
	*vp = xreallocarray(*vp, *np + 1, sizeof(**vp));
	(*vp)[(*np)++] = s;
}

static struct eomact *
act_new(enum eomkind kind)
{
	struct eomact	*a;

	cfg.acts = xreallocarray(cfg.acts, cfg.nacts + 1, sizeof(*cfg.acts));
	a = &cfg.acts[cfg.nacts++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

static enum stage
parse_stage(const char *s)
{
	int	 i;

	for (i = 0; i < ST_COUNT; i++)
		if (strcmp(s, stage_names[i]) == 0)
			return (enum stage)i;
	usagex("unknown stage", s);
}

/* Parse a whole decimal number in [min, max]. */
static long
parse_num(const char *s, const char *what, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < min || v > max)
		usagex(what, s);
	return v;
}

static void
parse_verdict(const char *arg, enum verdict v)
{
	struct stagecfg	*sc;

	sc = &cfg.stages[parse_stage(arg)];
	if (sc->verdict != V_NONE && sc->verdict != v)
		usagex("conflicting verdicts for stage", arg);
	sc->verdict = v;
}

/* -L 'STAGE:LIST' */
static void
parse_symlist(const char *arg)
{
	const char	*colon = strchr(arg, ':');
	char		*name;
	enum stage	 st;

	if (colon == NULL || colon[1] == '\0')
		usagex("-L takes STAGE:LIST", arg);
	name = xstrndup(arg, (size_t)(colon - arg));
	st = parse_stage(name);
	free(name);
	if (st == ST_HEADER || st == ST_BODY || st == ST_UNKNOWN)
		usagex("-L: no macro list at stage", arg);
	cfg.symlist[st] = xstrdup(colon + 1);
}

static void
parse_sleep(const char *arg)
{
	const char	*colon;
	char		*name;
	enum stage	 st;

	if ((colon = strchr(arg, ':')) == NULL)
		usagex("expected STAGE:MS", arg);
	name = xstrndup(arg, (size_t)(colon - arg));
	st = parse_stage(name);
	free(name);
	cfg.stages[st].sleep_ms = parse_num(colon + 1, "bad milliseconds",
	    0, TM_MAXSLEEP);
}

/* 'Name: value' for -h, and the part after 'IDX:' for -i. */
static void
parse_addhdr(const char *arg, enum eomkind kind)
{
	const char	*colon;
	struct eomact	*a;

	if ((colon = strchr(arg, ':')) == NULL || colon == arg)
		usagex("expected 'Name: value'", arg);
	a = act_new(kind);
	a->name = xstrndup(arg, (size_t)(colon - arg));
	a->value = xstrdup(colon + 1);
}

static void
parse_inshdr(const char *arg)
{
	const char	*colon;
	char		*num;
	long		 idx;

	if ((colon = strchr(arg, ':')) == NULL)
		usagex("expected 'IDX:Name: value'", arg);
	num = xstrndup(arg, (size_t)(colon - arg));
	idx = parse_num(num, "bad header index", 0, INT_MAX);
	free(num);
	parse_addhdr(colon + 1, EA_INSHDR);
	cfg.acts[cfg.nacts - 1].idx = (int)idx;
}

static void
parse_chghdr(const char *arg)
{
	const char	*c1, *c2;
	char		*num;
	struct eomact	*a;
	long		 idx;

	if ((c1 = strchr(arg, ':')) == NULL || c1 == arg ||
	    (c2 = strchr(c1 + 1, ':')) == NULL)
		usagex("expected 'Name:IDX:value'", arg);
	num = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
	idx = parse_num(num, "bad header index", 0, INT_MAX);
	free(num);
	a = act_new(EA_CHGHDR);
	a->name = xstrndup(arg, (size_t)(c1 - arg));
	a->idx = (int)idx;
	if (c2[1] != '\0')
		a->value = xstrdup(c2 + 1);
}

/* 'ADDR' or 'ADDR ESMTP-ARGS' */
static void
parse_addr(const char *arg, enum eomkind kind)
{
	struct eomact	*a;
	size_t		 len;

	len = strcspn(arg, " ");
	if (len == 0)
		usagex("empty address", arg);
	a = act_new(kind);
	a->name = xstrndup(arg, len);
	arg += len + strspn(arg + len, " ");
	if (*arg != '\0' && kind != EA_DELRCPT)
		a->value = xstrdup(arg);
	else if (*arg != '\0')
		usagex("unexpected arguments", arg);
}

static void
parse_body(const char *path)
{
	struct eomact	*a;
	unsigned char	*buf = NULL;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		err(2, "%s", path);
	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 8192 : cap * 2;
			buf = xreallocarray(buf, cap, 1);
		}
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			err(2, "%s", path);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	a = act_new(EA_BODY);
	a->body = buf;
	a->bodylen = len;
}

static void
parse_args(int argc, char **argv)
{
	int	 ch;

	while ((ch = getopt(argc, argv,
	    "A:a:b:c:D:d:f:h:i:J:kL:l:M:NOp:Pq:R:S:T:X:")) != -1) {
		switch (ch) {
		case 'A':
			parse_verdict(optarg, V_ACCEPT);
			break;
		case 'a':
			parse_addr(optarg, EA_ADDRCPT);
			break;
		case 'b':
			parse_body(optarg);
			break;
		case 'c':
			parse_chghdr(optarg);
			break;
		case 'D':
			parse_verdict(optarg, V_DISCARD);
			break;
		case 'd':
			parse_addr(optarg, EA_DELRCPT);
			break;
		case 'f':
			parse_addr(optarg, EA_CHGFROM);
			break;
		case 'h':
			parse_addhdr(optarg, EA_ADDHDR);
			break;
		case 'i':
			parse_inshdr(optarg);
			break;
		case 'J':
			parse_verdict(optarg, V_REJECT);
			break;
		case 'k':
			cfg.skip = true;
			break;
		case 'L':
			parse_symlist(optarg);
			break;
		case 'l':
			cfg.logpath = optarg;
			break;
		case 'M':
			strv_push(&cfg.macros, &cfg.nmacros, optarg);
			break;
		case 'N':
			cfg.leadspc = true;
			break;
		case 'O':
			tm_desc.xxfi_negotiate = NULL;
			break;
		case 'p':
			cfg.sockspec = optarg;
			break;
		case 'P':
			cfg.progress = true;
			break;
		case 'q':
			act_new(EA_QUARANTINE)->name = xstrdup(optarg);
			break;
		case 'R':
			strv_push(&cfg.rejrcpt, &cfg.nrejrcpt, optarg);
			break;
		case 'S':
			parse_sleep(optarg);
			break;
		case 'T':
			parse_verdict(optarg, V_TEMPFAIL);
			break;
		case 'X':
			cfg.stages[parse_stage(optarg)].crash = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usagex("unexpected argument", argv[optind]);
	if (cfg.sockspec == NULL)
		usagex("missing option", "-p");
}

/*
 * Logging.  One callback writes its line and its macro lines while
 * holding the stream lock, so lines from parallel connections never mix.
 */

static void
log_begin(void)
{
	if (cfg.logfp != NULL)
		flockfile(cfg.logfp);
}

static void
log_raw(const char *s)
{
	if (cfg.logfp != NULL)
		fputs(s, cfg.logfp);
}

static void
log_fmt(const char *fmt, ...)
{
	va_list	 ap;

	if (cfg.logfp == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(cfg.logfp, fmt, ap);
	va_end(ap);
}

static void
log_esc(const char *s)
{
	if (cfg.logfp == NULL || s == NULL)
		return;
	for (; *s != '\0'; s++) {
		if (*s == '\r')
			fputs("\\r", cfg.logfp);
		else if (*s == '\n')
			fputs("\\n", cfg.logfp);
		else
			putc_unlocked(*s, cfg.logfp);
	}
}

static void
log_argv(char **argv)
{
	size_t	 i;

	for (i = 0; argv != NULL && argv[i] != NULL; i++) {
		if (i > 0)
			log_raw(" ");
		log_esc(argv[i]);
	}
}

static void
log_end(SMFICTX *ctx)
{
	size_t	 i;
	char	*v;

	if (cfg.logfp == NULL)
		return;
	putc_unlocked('\n', cfg.logfp);
	for (i = 0; i < cfg.nmacros; i++) {
		if ((v = smfi_getsymval(ctx, cfg.macros[i])) == NULL)
			continue;
		fprintf(cfg.logfp, "macro %s=", cfg.macros[i]);
		log_esc(v);
		putc_unlocked('\n', cfg.logfp);
	}
	fflush(cfg.logfp);
	funlockfile(cfg.logfp);
}

static void
log_simple(SMFICTX *ctx, const char *line)
{
	log_begin();
	log_raw(line);
	log_end(ctx);
}

/*
 * Stage handling shared by the callbacks.
 */

static struct conn *
conn_get(SMFICTX *ctx)
{
	struct conn	*c;

	if ((c = smfi_getpriv(ctx)) != NULL)
		return c;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		warn("calloc");
		return NULL;
	}
	if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
		free(c);
		return NULL;
	}
	return c;
}

static void
sleep_ms(long ms)
{
	struct timespec	 ts, rem;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &rem) == -1 && errno == EINTR)
		ts = rem;
}

/* Sleep (with progress at eom if -P), then crash if asked to. */
static void
stage_pre(SMFICTX *ctx, enum stage st)
{
	const struct stagecfg	*sc = &cfg.stages[st];
	long			 left, step;
	bool			 progress;

	progress = cfg.progress && st == ST_EOM;
	for (left = sc->sleep_ms; left > 0; left -= step) {
		step = left > 1000 ? 1000 : left;
		sleep_ms(step);
		if (progress && left - step > 0 &&
		    smfi_progress(ctx) != MI_SUCCESS)
			warnx("smfi_progress failed");
	}
	if (sc->crash)
		abort();
}

static sfsistat
stage_reply(SMFICTX *ctx, enum stage st, sfsistat dflt)
{
	char	 text[128];

	switch (cfg.stages[st].verdict) {
	case V_REJECT:
		snprintf(text, sizeof(text), "rejected at %s by " TM_NAME,
		    stage_names[st]);
		if (smfi_setreply(ctx, "550", "5.7.1", text) != MI_SUCCESS)
			warnx("smfi_setreply failed");
		return SMFIS_REJECT;
	case V_TEMPFAIL:
		snprintf(text, sizeof(text), "tempfail at %s by " TM_NAME,
		    stage_names[st]);
		if (smfi_setreply(ctx, "451", "4.7.1", text) != MI_SUCCESS)
			warnx("smfi_setreply failed");
		return SMFIS_TEMPFAIL;
	case V_DISCARD:
		return SMFIS_DISCARD;
	case V_ACCEPT:
		return SMFIS_ACCEPT;
	case V_NONE:
		break;
	}
	return dflt;
}

static sfsistat
stage_finish(SMFICTX *ctx, enum stage st)
{
	stage_pre(ctx, st);
	return stage_reply(ctx, st, SMFIS_CONTINUE);
}

/* Compare two addresses case-insensitively, ignoring enclosing <>. */
static bool
addr_eq(const char *a, const char *b)
{
	size_t	 la, lb;

	la = strlen(a);
	lb = strlen(b);
	if (la >= 2 && a[0] == '<' && a[la - 1] == '>') {
		a++;
		la -= 2;
	}
	if (lb >= 2 && b[0] == '<' && b[lb - 1] == '>') {
		b++;
		lb -= 2;
	}
	return la == lb && strncasecmp(a, b, la) == 0;
}

static bool
rcpt_refused(SMFICTX *ctx, const char *rcpt)
{
	char	 text[512];
	size_t	 i;

	for (i = 0; i < cfg.nrejrcpt; i++) {
		if (!addr_eq(rcpt, cfg.rejrcpt[i]))
			continue;
		snprintf(text, sizeof(text), "recipient %s refused by "
		    TM_NAME, cfg.rejrcpt[i]);
		if (smfi_setreply(ctx, "550", "5.7.1", text) != MI_SUCCESS)
			warnx("smfi_setreply failed");
		return true;
	}
	return false;
}

/*
 * Header values for -h/-i: without SMFIP_HDR_LEADSPC the MTA puts the
 * blank after the colon itself, so drop the one given on the command line.
 */
static char *
hdr_value(SMFICTX *ctx, char *raw)
{
	struct conn	*c;

	c = conn_get(ctx);
	if ((c != NULL && c->leadspc) || raw[0] != ' ')
		return raw;
	return raw + 1;
}

static int
send_body(SMFICTX *ctx, const struct eomact *a)
{
	static unsigned char	 empty[1];
	size_t			 off, n;

	if (a->bodylen == 0)
		return smfi_replacebody(ctx, empty, 0);
	for (off = 0; off < a->bodylen; off += n) {
		n = a->bodylen - off;
		if (n > TM_CHUNK)
			n = TM_CHUNK;
		if (smfi_replacebody(ctx, a->body + off, (int)n) !=
		    MI_SUCCESS)
			return MI_FAILURE;
	}
	return MI_SUCCESS;
}

static int
run_act(SMFICTX *ctx, const struct eomact *a)
{
	switch (a->kind) {
	case EA_ADDHDR:
		return smfi_addheader(ctx, a->name, hdr_value(ctx, a->value));
	case EA_INSHDR:
		return smfi_insheader(ctx, a->idx, a->name,
		    hdr_value(ctx, a->value));
	case EA_CHGHDR:
		return smfi_chgheader(ctx, a->name, a->idx, a->value);
	case EA_BODY:
		return send_body(ctx, a);
	case EA_ADDRCPT:
		if (a->value == NULL)
			return smfi_addrcpt(ctx, a->name);
		return smfi_addrcpt_par(ctx, a->name, a->value);
	case EA_DELRCPT:
		return smfi_delrcpt(ctx, a->name);
	case EA_CHGFROM:
		return smfi_chgfrom(ctx, a->name, a->value);
	case EA_QUARANTINE:
		return smfi_quarantine(ctx, a->name);
	}
	return MI_FAILURE;
}

static const char *
act_fname(enum eomkind kind)
{
	switch (kind) {
	case EA_ADDHDR:
		return "smfi_addheader";
	case EA_INSHDR:
		return "smfi_insheader";
	case EA_CHGHDR:
		return "smfi_chgheader";
	case EA_BODY:
		return "smfi_replacebody";
	case EA_ADDRCPT:
		return "smfi_addrcpt";
	case EA_DELRCPT:
		return "smfi_delrcpt";
	case EA_CHGFROM:
		return "smfi_chgfrom";
	case EA_QUARANTINE:
		return "smfi_quarantine";
	}
	return "?";
}

/* Family name, port and printable address of a connect callback. */
static const char *
sa_describe(const struct sockaddr *sa, char *buf, size_t len,
    const char **family, unsigned int *port)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	*family = "unknown";
	*port = 0;
	if (sa == NULL)
		return "";
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		*family = "4";
		*port = ntohs(sin->sin_port);
		return inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)len);
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		*family = "6";
		*port = ntohs(sin6->sin6_port);
		return inet_ntop(AF_INET6, &sin6->sin6_addr, buf,
		    (socklen_t)len);
	case AF_UNIX:
		*family = "unix";
		return ((const struct sockaddr_un *)sa)->sun_path;
	}
	return "";
}

/*
 * libmilter callbacks.
 */

/* -L: the lists, by libmilter's SMFIM_ numbers. */
static bool
set_symlists(SMFICTX *ctx)
{
	static const struct {
		enum stage	st;
		int		smfim;
	} map[] = {
		{ ST_CONNECT, SMFIM_CONNECT }, { ST_HELO, SMFIM_HELO },
		{ ST_MAIL, SMFIM_ENVFROM }, { ST_RCPT, SMFIM_ENVRCPT },
		{ ST_DATA, SMFIM_DATA }, { ST_EOH, SMFIM_EOH },
		{ ST_EOM, SMFIM_EOM },
	};
	size_t	i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (cfg.symlist[map[i].st] != NULL &&
		    smfi_setsymlist(ctx, map[i].smfim,
		    cfg.symlist[map[i].st]) != MI_SUCCESS)
			return false;
	return true;
}

static sfsistat
tm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct conn	*c;

	(void)f2;
	(void)f3;
	(void)pf2;
	(void)pf3;
	log_begin();
	log_fmt("negotiate actions=0x%08lx protocol=0x%08lx", f0, f1);
	log_end(ctx);
	if ((c = conn_get(ctx)) == NULL)
		return SMFIS_REJECT;	/* libmilter drops the connection */
	c->skip_ok = (f1 & SMFIP_SKIP) != 0;
	if (!set_symlists(ctx))
		return SMFIS_REJECT;
	if (!cfg.leadspc)
		return SMFIS_ALL_OPTS;

	/* *pf1 holds libmilter's defaults, plus SMFIP_SKIP if offered. */
	*pf0 = f0;
	if ((f1 & SMFIP_HDR_LEADSPC) != 0) {
		*pf1 |= SMFIP_HDR_LEADSPC;
		c->leadspc = true;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
tm_connect(SMFICTX *ctx, char *hostname, struct sockaddr *sa)
{
	char		 buf[INET6_ADDRSTRLEN];
	const char	*family, *addr;
	unsigned int	 port;

	addr = sa_describe(sa, buf, sizeof(buf), &family, &port);
	log_begin();
	log_raw("connect host=");
	log_esc(hostname);
	log_fmt(" family=%s port=%u addr=", family, port);
	log_esc(addr);
	log_end(ctx);
	return stage_finish(ctx, ST_CONNECT);
}

static sfsistat
tm_helo(SMFICTX *ctx, char *helohost)
{
	log_begin();
	log_raw("helo ");
	log_esc(helohost);
	log_end(ctx);
	return stage_finish(ctx, ST_HELO);
}

static sfsistat
tm_envfrom(SMFICTX *ctx, char **argv)
{
	log_begin();
	log_raw("mail ");
	log_argv(argv);
	log_end(ctx);
	return stage_finish(ctx, ST_MAIL);
}

static sfsistat
tm_envrcpt(SMFICTX *ctx, char **argv)
{
	log_begin();
	log_raw("rcpt ");
	log_argv(argv);
	log_end(ctx);
	stage_pre(ctx, ST_RCPT);
	if (argv != NULL && argv[0] != NULL && rcpt_refused(ctx, argv[0]))
		return SMFIS_REJECT;
	return stage_reply(ctx, ST_RCPT, SMFIS_CONTINUE);
}

static sfsistat
tm_data(SMFICTX *ctx)
{
	log_simple(ctx, "data");
	return stage_finish(ctx, ST_DATA);
}

static sfsistat
tm_unknown(SMFICTX *ctx, const char *cmd)
{
	log_begin();
	log_raw("unknown ");
	log_esc(cmd);
	log_end(ctx);
	return stage_finish(ctx, ST_UNKNOWN);
}

static sfsistat
tm_header(SMFICTX *ctx, char *name, char *value)
{
	log_begin();
	log_raw("header ");
	log_esc(name);
	log_raw(": ");
	log_esc(value);
	log_end(ctx);
	return stage_finish(ctx, ST_HEADER);
}

static sfsistat
tm_eoh(SMFICTX *ctx)
{
	log_simple(ctx, "eoh");
	return stage_finish(ctx, ST_EOH);
}

static sfsistat
tm_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct conn	*c;
	sfsistat	 dflt = SMFIS_CONTINUE;

	(void)chunk;
	log_begin();
	log_fmt("body %zu bytes", len);
	log_end(ctx);
	stage_pre(ctx, ST_BODY);
	if (cfg.skip && (c = conn_get(ctx)) != NULL && c->skip_ok)
		dflt = SMFIS_SKIP;
	return stage_reply(ctx, ST_BODY, dflt);
}

static sfsistat
tm_eom(SMFICTX *ctx)
{
	size_t	 i;

	log_simple(ctx, "eom");
	stage_pre(ctx, ST_EOM);
	for (i = 0; i < cfg.nacts; i++)
		if (run_act(ctx, &cfg.acts[i]) != MI_SUCCESS)
			warnx("%s failed", act_fname(cfg.acts[i].kind));
	return stage_reply(ctx, ST_EOM, SMFIS_CONTINUE);
}

static sfsistat
tm_abort(SMFICTX *ctx)
{
	log_simple(ctx, "abort");
	return SMFIS_CONTINUE;
}

static sfsistat
tm_close(SMFICTX *ctx)
{
	log_simple(ctx, "close");
	free(smfi_getpriv(ctx));
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

int
main(int argc, char **argv)
{
	int	 rc;

	parse_args(argc, argv);
	if (cfg.logpath != NULL &&
	    (cfg.logfp = fopen(cfg.logpath, "a")) == NULL)
		err(1, "%s", cfg.logpath);
	if (smfi_setconn(cfg.sockspec) != MI_SUCCESS)
		errx(1, "smfi_setconn %s failed", cfg.sockspec);
	if (smfi_register(tm_desc) != MI_SUCCESS)
		errx(1, "smfi_register failed");
	if (smfi_opensocket(true) != MI_SUCCESS)
		errx(1, "cannot open socket %s", cfg.sockspec);
	/*
	 * Nothing is freed here: worker threads may still be inside a
	 * callback that reads cfg when smfi_main() returns.
	 */
	rc = smfi_main();
	return rc == MI_SUCCESS ? 0 : 1;
}
