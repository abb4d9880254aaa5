/* i8042 controller commands: command byte, self tests, and the 0xFE CPU reset. */
#include "devices/i8042.h"

#include <string.h>

#define STATUS_OBF 0x01 /* output buffer full */
#define STATUS_SYS 0x04 /* system flag: self test passed */
#define CMD_READ_CB 0x20
#define CMD_WRITE_CB 0x60
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_RESET 0xfe
#define SELF_TEST_OK 0x55

void i8042_init(struct i8042 *k, void (*reset)(void *ctx), void *ctx)
{
        memset(k, 0, sizeof(*k));
        pthread_mutex_init(&k->lock, NULL);
        k->reset = reset;
        k->ctx = ctx;
        k->cmd_byte = 0x30; /* both ports disabled, no interrupts */
}

void i8042_destroy(struct i8042 *k)
{
        pthread_mutex_destroy(&k->lock);
}

static void reply(struct i8042 *k, uint8_t v)
{
        k->out = v;
        k->out_full = true;
}

void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct i8042 *k = opaque;

        (void)offset;
        pthread_mutex_lock(&k->lock);
        if (is_write) {
                if (k->pending == CMD_WRITE_CB)
                        k->cmd_byte = data[0];
                /* Bytes for the (absent) keyboard are dropped. */
                k->pending = 0;
        } else {
                memset(data, 0, len);
                data[0] = k->out;
                k->out_full = false;
        }
        pthread_mutex_unlock(&k->lock);
}

void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct i8042 *k = opaque;
        bool reset = false;

        (void)offset;
        pthread_mutex_lock(&k->lock);
        if (!is_write) {
                memset(data, 0, len);
                data[0] = STATUS_SYS | (k->out_full ? STATUS_OBF : 0);
        } else {
                switch (data[0]) {
                case CMD_READ_CB:
                        reply(k, k->cmd_byte);
                        break;
                case CMD_WRITE_CB:
                        k->pending = CMD_WRITE_CB;
                        break;
                case CMD_SELF_TEST:
                        reply(k, SELF_TEST_OK);
                        break;
                case CMD_KBD_TEST:
                        reply(k, 0);
                        break;
                case CMD_RESET:
                        reset = true;
                        break;
                }
        }
        pthread_mutex_unlock(&k->lock);
        if (reset)
                k->reset(k->ctx);
}
