/* store.c — picking a gallery backend by uri, and the checks every backend shares. */
#define _GNU_SOURCE
#include "store.h"
#include <time.h>

fn_status fn_store_for_uri(const char *uri, const fn_store_ops **out) {
    *out = NULL;
    if (!uri || !*uri) return fn_fail(FN_ERR_ARG, "gallery: no database path given");
    if (!strncmp(uri, "postgresql://", 13) || !strncmp(uri, "postgres://", 11)) {
#ifdef FN_HAVE_PG
        *out = &fn_store_pg_ops;
        return FN_OK;
#else
        return fn_fail(FN_ERR_UNSUPPORTED, "gallery: built without PostgreSQL support "
                       "(install libpq-dev and rebuild)");
#endif
    }
    *out = &fn_store_sqlite_ops;
    return FN_OK;
}

double fn_store_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int utf8_valid(const unsigned char *s) {
    while (*s) {
        int len = *s < 0x80 ? 1 : (*s >> 5) == 6 ? 2 : (*s >> 4) == 14 ? 3 : (*s >> 3) == 30 ? 4 : 0;
        if (!len) return 0;
        for (int i = 1; i < len; i++) if ((s[i] & 0xC0) != 0x80) return 0;
        s += len;
    }
    return 1;
}

fn_status fn_store_check_name(const char *what, const char *name) {
    if (!name || !*name) return fn_fail(FN_ERR_ARG, "gallery: empty %s name", what);
    size_t n = strlen(name);
    if (n > FN_GALLERY_NAME_MAX)
        return fn_fail(FN_ERR_ARG, "gallery: %s name of %zu bytes (at most %d)", what, n, FN_GALLERY_NAME_MAX);
    if (!utf8_valid((const unsigned char *)name))
        return fn_fail(FN_ERR_ARG, "gallery: %s name is not valid UTF-8", what);
    return FN_OK;
}
