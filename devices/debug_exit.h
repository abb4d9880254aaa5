/* The debug-exit port: a test guest ends wisp with a status of its choosing. */
#ifndef WISP_DEVICES_DEBUG_EXIT_H
#define WISP_DEVICES_DEBUG_EXIT_H

#include <stdbool.h>
#include <stdint.h>

struct debug_exit {
        void (*exit)(void *ctx, int status);
        void *ctx;
};

/* Bus handler: a write of byte V asks for exit status V; reads return 0. */
void debug_exit_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
