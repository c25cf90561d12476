/*
 * fuzz_history.c: libFuzzer target for what milterd reads back (issue
 * 17): the history's text form (history_read(), the state file and the
 * control reply) within its bounds, and the escaping of a text log line
 * (log_escape(), peer text).  The first 8 bytes are the newest minute
 * allowed.  Invariants: no minute past it, minutes in order, at most
 * HISTORY_NAMES_MAX names, within the ring; an escaped line has no
 * control character and is valid UTF-8.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "log.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_escaped(const uint8_t *data, size_t size)
{
	const unsigned char	*p;
	const char		*out;
	char			*s, *esc;
	size_t			 n;

	if ((s = malloc(size + 1)) == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	out = log_escape(s, &esc);
	for (p = (const unsigned char *)out; *p != '\0'; p += n)
		if ((n = utf8_seq(p)) == 0 || *p < 0x20 || *p == 0x7f)
			abort();
	free(esc);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct history			 h;
	const struct history_minute	*m;
	char				 err[256];
	int64_t				 latest;
	size_t				 i;
	FILE				*fp;

	check_escaped(data, size);
	if (size < 8)
		return 0;
	memcpy(&latest, data, 8);
	if (history_init(&h, 1 + data[0] % 120) == -1)
		return 0;
	if ((fp = fmemopen((void *)(uintptr_t)(data + 8), size - 8, "r")) !=
	    NULL && size > 8) {
		(void)history_read(&h, fp, latest, err, sizeof(err));
		fclose(fp);
	}
	if (h.nnames > HISTORY_NAMES_MAX || h.len > h.cap)
		abort();
	for (i = 0; i < h.len; i++) {
		m = history_at(&h, i);
		if (m->minute > latest ||
		    (i > 0 && m->minute < history_at(&h, i - 1)->minute))
			abort();
	}
	history_free(&h);
	return 0;
}
