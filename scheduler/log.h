/*
 * log.h - one line per event on stderr: time, level, message.
 * The format modules (campaign, jcheck, cron, tz, isotime, diag, config)
 * never log: they return errors as data. The daemon's layers log, and so
 * do three lower ones, each only for what no caller could act on: rconn
 * its link's state changes, store an audit entry it could not keep, engine
 * a function library that would not load or a clock change it could not
 * publish.
 */
#ifndef HAECHI_LOG_H
#define HAECHI_LOG_H

typedef enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

void log_set_level(log_level level);
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
