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
 * sample-milter: the child milter `make run' ships, so that a first run
 * shows milterd's job on something real.  Built on libmilter, it adds
 * the header "X-Milterd-Sample: passed milterd's sample milter" to every
 * message, and refuses a message whose Subject contains "reject me"
 * (any case) with 550 5.7.1.
 *
 * Usage: sample-milter -p SOCKET	(unix:/path or inet:port@host; a
 * stale unix socket is removed).  It stays in the foreground, as
 * milterd's launcher expects, until SIGTERM.
 */

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#define SAMPLE_HEADER	"X-Milterd-Sample"
#define SAMPLE_VALUE	"passed milterd's sample milter"
#define SAMPLE_SUBJECT	"reject me"

/* Per connection: does the current message ask to be refused? */
struct sample {
	int	reject;
};

static struct sample *
priv(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

static sfsistat
sample_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct sample	*s;

	(void)host;
	(void)sa;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return SMFIS_TEMPFAIL;
	smfi_setpriv(ctx, s);
	return SMFIS_CONTINUE;
}

static sfsistat
sample_header(SMFICTX *ctx, char *name, char *value)
{
	struct sample	*s = priv(ctx);

	if (s != NULL && strcasecmp(name, "Subject") == 0 &&
	    strcasestr(value, SAMPLE_SUBJECT) != NULL)
		s->reject = 1;
	return SMFIS_CONTINUE;
}

static sfsistat
sample_eom(SMFICTX *ctx)
{
	struct sample	*s = priv(ctx);
	int		 reject = s != NULL && s->reject;

	if (s != NULL)
		s->reject = 0;
	if (reject) {
		smfi_setreply(ctx, "550", "5.7.1", "the Subject says \""
		    SAMPLE_SUBJECT "\" (milterd's sample milter)");
		return SMFIS_REJECT;
	}
	if (smfi_addheader(ctx, SAMPLE_HEADER, SAMPLE_VALUE) != MI_SUCCESS)
		return SMFIS_TEMPFAIL;
	return SMFIS_ACCEPT;
}

static sfsistat
sample_abort(SMFICTX *ctx)
{
	struct sample	*s = priv(ctx);

	if (s != NULL)
		s->reject = 0;
	return SMFIS_CONTINUE;
}

static sfsistat
sample_close(SMFICTX *ctx)
{
	free(priv(ctx));
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = "milterd-sample",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS,
	.xxfi_connect = sample_connect,
	.xxfi_header = sample_header,
	.xxfi_eom = sample_eom,
	.xxfi_abort = sample_abort,
	.xxfi_close = sample_close,
};

int
main(int argc, char *argv[])
{
	char	*sock = NULL;
	int		 ch;

	while ((ch = getopt(argc, argv, "p:")) != -1) {
		switch (ch) {
		case 'p':
			sock = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (sock == NULL || optind != argc)
		goto usage;
	if (smfi_setconn(sock) == MI_FAILURE ||
	    smfi_register(desc) == MI_FAILURE)
		errx(1, "cannot set up libmilter on %s", sock);
	if (smfi_opensocket(1) == MI_FAILURE)
		errx(1, "cannot listen on %s", sock);
	return smfi_main() == MI_SUCCESS ? 0 : 1;
usage:
	fprintf(stderr, "usage: sample-milter -p socket\n");
	return 2;
}
