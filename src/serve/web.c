/* web.c — the page at / : src/serve/web/index.html (HTML, CSS and JS in one file, no CDN),
 * compiled in by cmake/serve.cmake as the byte array fn_serve_page. */
#ifdef FN_HAVE_SERVE
#include "serve.h"

extern const unsigned char fn_serve_page[];
extern const size_t fn_serve_page_size;

const char *serve_web_file(const char *path, size_t *size, const char **type) {
    if (strcmp(path, "/") != 0) return NULL;
    *size = fn_serve_page_size;
    *type = "text/html; charset=utf-8";
    return (const char *)fn_serve_page;
}
#endif
