/* The parts of an i8042 keyboard controller a guest uses to reset the machine. */
#ifndef WISP_DEVICES_I8042_H
#define WISP_DEVICES_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * No keyboard and no mouse: enough for Linux's reboot=k (pulse the reset
 * line with command 0xFE) and for its i8042 driver to find a controller
 * with nothing attached, without timeouts.
 */
struct i8042 {
        pthread_mutex_t lock;
        void (*reset)(void *ctx); /* the guest pulsed the CPU reset line */
        void *ctx;
        uint8_t cmd_byte;
        uint8_t out; /* output buffer */
        bool out_full;
        uint8_t pending; /* command waiting for its data byte, or 0 */
};

void i8042_init(struct i8042 *k, void (*reset)(void *ctx), void *ctx);
void i8042_destroy(struct i8042 *k);

/* Bus handlers for the data port (0x60) and the command/status port (0x64). */
void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
