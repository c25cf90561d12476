/*
 * fuzz_cmd.c: libFuzzer target for milter_decode_cmd().  The first
 * byte is the command code, the rest the payload, in a buffer of its
 * exact size so that any read past it is caught.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "milter.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct milter_pkt	 pkt;
	struct milter_cmd	 c;
	struct mbuf		 b;
	const char		*err;
	uint8_t			*copy;
	size_t			 off = 0;
	const char		*s;

	if (size < 1 || (copy = malloc(size - 1 + 1)) == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	pkt.code = (char)data[0];
	pkt.data = copy;
	pkt.len = size - 1;
	if (milter_decode_cmd(&pkt, &c, &err) == 0) {
		if (c.code == 'M' || c.code == 'R')
			while (milter_strv_next(&c.u.args, &off, &s))
				(void)strlen(s);
		mbuf_init(&b);
		if (milter_put_cmd(&b, &c) != 0 || b.len != size + 4 ||
		    memcmp(b.data + 5, copy, size - 1) != 0)
			abort();
		mbuf_free(&b);
	}
	free(copy);
	return 0;
}
