/* keys.c — API keys: a plain file, one key a line. Lookups compare every key in full,
 * in constant time, so response timing says nothing about how much of a guess matched. */
#ifdef FN_HAVE_SERVE
#define _GNU_SOURCE
#include "serve.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

int serve_key_wellformed(const char *key) {
    size_t n = 0;
    for (; key[n]; n++)
        if (key[n] <= ' ' || key[n] > '~' || n >= SERVE_KEY_MAX) return 0;
    return n >= 8;
}

fn_status serve_keys_load(const char *path, serve_keys *out) {
    memset(out, 0, sizeof *out);
    uint8_t *text;
    size_t size;
    FN_TRY(fn_read_file(path, &text, &size));
    int cap = 1;
    for (size_t i = 0; i < size; i++) cap += text[i] == '\n';
    out->keys = calloc((size_t)cap, sizeof *out->keys);
    if (!out->keys) { free(text); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    char *save = NULL;
    int line = 0;
    for (char *l = strtok_r((char *)text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        size_t len = strlen(l);
        while (len && (l[len - 1] == '\r' || l[len - 1] == ' ' || l[len - 1] == '\t')) l[--len] = 0;
        while (*l == ' ' || *l == '\t') l++;
        if (!*l || *l == '#') continue;
        if (!serve_key_wellformed(l)) {
            free(text); serve_keys_free(out);
            /* the line number only: the text may be a real key */
            return fn_fail(FN_ERR_FORMAT, "%s line %d: a key is 8..%d printable characters without spaces",
                           path, line, SERVE_KEY_MAX);
        }
        snprintf(out->keys[out->n++], SERVE_KEY_MAX + 1, "%s", l);
    }
    free(text);
    return FN_OK;
}

void serve_keys_free(serve_keys *k) {
    free(k->keys);
    k->keys = NULL; k->n = 0;
}

/* Equal lengths and bytes, without an early exit: time depends only on the key sizes. */
static int equal_ct(const char *a, const char *b) {
    size_t la = strnlen(a, SERVE_KEY_MAX + 1), lb = strnlen(b, SERVE_KEY_MAX + 1);
    volatile unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i <= SERVE_KEY_MAX; i++) {
        unsigned ca = i < la ? (unsigned char)a[i] : 0, cb = i < lb ? (unsigned char)b[i] : 0;
        diff |= ca ^ cb;
    }
    return diff == 0;
}

int serve_keys_find(const serve_keys *k, const char *key) {
    if (!key) return -1;
    int found = -1;
    for (int i = 0; i < k->n; i++) {
        int eq = equal_ct(k->keys[i], key);
        found = eq ? i : found; /* no break: every key is compared */
    }
    return found;
}

fn_status serve_keys_new(const char *path, char out[SERVE_KEY_MAX + 1]) {
    uint8_t r[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fn_fail(FN_ERR_IO, "/dev/urandom: %s", strerror(errno));
    ssize_t got = read(fd, r, sizeof r);
    close(fd);
    if (got != (ssize_t)sizeof r) return fn_fail(FN_ERR_IO, "/dev/urandom: short read");
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40); /* version 4 */
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, SERVE_KEY_MAX + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15]);
    uint8_t *old = NULL;
    size_t old_size = 0;
    struct stat st;
    if (stat(path, &st) == 0) FN_TRY(fn_read_file(path, &old, &old_size));
    else if (errno != ENOENT) return fn_fail(FN_ERR_IO, "%s: %s", path, strerror(errno));
    fn_atomic_file af;
    fn_status s = fn_atomic_open(path, &af);
    if (s != FN_OK) { free(old); return s; }
    fchmod(fileno(af.f), 0600); /* keys are secrets */
    if (old_size) {
        fwrite(old, 1, old_size, af.f);
        if (old[old_size - 1] != '\n') fputc('\n', af.f);
    } else {
        fputs("# facenet serve API keys: one a line; each owns its own face collection\n", af.f);
    }
    fprintf(af.f, "%s\n", out);
    free(old);
    if (ferror(af.f)) { fn_atomic_abort(&af); return fn_fail(FN_ERR_IO, "%s: write failed", path); }
    return fn_atomic_commit(&af);
}

fn_status fn_serve_new_key(const char *keys_file, char *key_out, size_t cap) {
    if (!keys_file || !key_out || cap < 37) return fn_fail(FN_ERR_ARG, "fn_serve_new_key: bad arguments");
    char key[SERVE_KEY_MAX + 1];
    FN_TRY(serve_keys_new(keys_file, key));
    snprintf(key_out, cap, "%s", key);
    return FN_OK;
}
#endif
