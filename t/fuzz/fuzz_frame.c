/*
 * fuzz_frame.c: libFuzzer target for the frame reader.  The input is a
 * byte stream fed in pieces whose sizes come from the input itself;
 * every packet found is decoded both as a command and as a reply, and
 * what decodes is encoded again and must give the same bytes.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "milter.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const struct milter_pkt *pkt, size_t used, const uint8_t *raw)
{
	struct milter_cmd	 c;
	struct milter_reply	 r;
	struct mbuf		 b;
	const char		*err;

	mbuf_init(&b);
	if (milter_decode_cmd(pkt, &c, &err) == 0) {
		if (milter_put_cmd(&b, &c) != 0 || b.len != used ||
		    memcmp(b.data, raw, used) != 0)
			abort();
	}
	mbuf_reset(&b);
	if (milter_decode_reply(pkt, &r, &err) == 0 && r.code != 'O') {
		if (milter_put_reply(&b, &r) != 0 || b.len != used ||
		    memcmp(b.data, raw, used) != 0)
			abort();
	}
	mbuf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct milter_pkt	 pkt;
	uint8_t			*buf;
	size_t			 have = 0, fed = 0, used, step;
	int			 rc;

	if (size < 1)
		return 0;
	step = data[0] % 17 + 1;
	data++;
	size--;
	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	while (fed < size) {
		step = step < size - fed ? step : size - fed;
		memcpy(buf + have, data + fed, step);
		have += step;
		fed += step;
		while ((rc = milter_frame(buf, have, 70000, &pkt, &used)) ==
		    MILTER_FRAME_OK) {
			check(&pkt, used, buf);
			memmove(buf, buf + used, have - used);
			have -= used;
		}
		if (rc < 0)
			break;
	}
	free(buf);
	return 0;
}
