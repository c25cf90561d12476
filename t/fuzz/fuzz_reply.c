/*
 * fuzz_reply.c: libFuzzer target for milter_decode_reply() and for
 * applying whatever decodes to a kept message, as the MTA side does at
 * end of message.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "milter.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char	 text[] = "Subject: x\nX-A: 1\nX-A: 2\n\nbody\n";
	struct milter_pkt	 pkt;
	struct milter_reply	 r;
	struct message		 m;
	const char		*err;
	uint8_t			*copy;

	if (size < 1 || (copy = malloc(size)) == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	pkt.code = (char)data[0];
	pkt.data = copy;
	pkt.len = size - 1;
	if (milter_decode_reply(&pkt, &r, &err) == 0) {
		message_init(&m, 64, "/tmp");
		if (message_parse(&m, text, sizeof(text) - 1) != 0)
			abort();
		(void)message_apply(&m, &r, size & 1, &err);
		message_edits_done(&m);
		message_free(&m);
	}
	free(copy);
	return 0;
}
