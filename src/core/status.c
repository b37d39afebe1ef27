/* status.c — status strings and the thread-local error detail. */
#include "core.h"
#include <stdarg.h>

static _Thread_local char last_error[512];

const char *fn_status_str(fn_status s) {
    switch (s) {
    case FN_OK: return "ok";
    case FN_ERR_IO: return "I/O error";
    case FN_ERR_FORMAT: return "bad file format";
    case FN_ERR_SHAPE: return "shape mismatch";
    case FN_ERR_MISSING: return "missing entry";
    case FN_ERR_NOMEM: return "out of memory";
    case FN_ERR_ARG: return "invalid argument";
    case FN_ERR_UNSUPPORTED: return "unsupported";
    case FN_ERR_LIMIT: return "size limit exceeded";
    case FN_ERR_NO_FACE: return "no face found";
    case FN_ERR_MISMATCH: return "model mismatch";
    }
    return "unknown status";
}

const char *fn_last_error(void) { return last_error; }
void fn_clear_error(void) { last_error[0] = 0; }

fn_status fn_fail(fn_status s, const char *fmt, ...) {
    char msg[sizeof last_error]; /* formatted apart, so fn_last_error() may be an argument */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last_error, msg, sizeof msg);
    return s;
}
