/* Port 0x501: the byte written becomes wisp's exit status. */
#include "devices/debug_exit.h"

#include <string.h>

void debug_exit_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct debug_exit *d = opaque;

        (void)offset;
        if (is_write)
                d->exit(d->ctx, data[0]);
        else
                memset(data, 0, len);
}
