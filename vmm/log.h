/* wisp's messages on stderr: one prefix, one verbosity knob. */
#ifndef WISP_VMM_LOG_H
#define WISP_VMM_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages above this level are dropped; set once by main before threads start. */
void log_set_level(enum log_level level);

/* While the terminal is raw, lines end in "\r\n" so the carriage returns. */
void log_set_raw_terminal(int raw);

void wisp_log(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define wisp_error(...) wisp_log(LOG_ERROR, __VA_ARGS__)
#define wisp_warn(...) wisp_log(LOG_WARN, __VA_ARGS__)
#define wisp_info(...) wisp_log(LOG_INFO, __VA_ARGS__)
#define wisp_debug(...) wisp_log(LOG_DEBUG, __VA_ARGS__)

#endif
