/* test_image.c — image decode (every format variant vs PIL/numpy references), truncation
 * and corruption robustness, size caps, PNG/JPEG encode round trips, PIL-exact bilinear
 * resize, flip/crop/sample, drawing, and every shared photo decoding at PIL's size.
 * Fixtures: tools/gen_image_fixtures.py → tests/fixtures/image/. */
#include "core.h"
#include "image/image_internal.h"
#include "image/font.h"
#include "test_util.h"
#include <sys/stat.h>
#include <dirent.h>

#define FIX FN_SOURCE_DIR "/tests/fixtures/image/"

static uint8_t *read_fixture(const char *name, size_t *size) {
    char path[1024];
    snprintf(path, sizeof path, FIX "%s", name);
    uint8_t *data = NULL;
    if (fn_read_file(path, &data, size) != FN_OK) { fprintf(stderr, "cannot read %s: %s\n", path, fn_last_error()); return NULL; }
    return data;
}

static int max_abs_diff(const uint8_t *a, const uint8_t *b, size_t n) {
    int m = 0;
    for (size_t i = 0; i < n; i++) { int d = abs((int)a[i] - (int)b[i]); if (d > m) m = d; }
    return m;
}

/* ------------------------------------------------------------------ decode vs reference */
static void test_decode_fixtures(void) {
    printf("decode fixtures (max |ours - reference| per file):\n");
    size_t msize;
    char *manifest = (char *)read_fixture("manifest.txt", &msize);
    CHECK(manifest != NULL);
    if (!manifest) return;
    int n = 0;
    for (char *line = strtok(manifest, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char file[256], expected[256], truth[32];
        int w, h, exif, tol;
        if (sscanf(line, "%255s %255s %d %d %d %d %31s", file, expected, &w, &h, &exif, &tol, truth) != 7) { CHECK_MSG(0, "bad manifest line: %s", line); continue; }
        size_t size, esize;
        uint8_t *data = read_fixture(file, &size), *ref = read_fixture(expected, &esize);
        CHECK(data && ref && esize == (size_t)w * h * 3);
        fn_image img;
        fn_status s = data ? fn_image_decode(data, size, exif, &img) : FN_ERR_IO;
        CHECK_MSG(s == FN_OK, "%s: %s", file, fn_last_error());
        if (s == FN_OK && ref && esize == (size_t)w * h * 3) {
            CHECK_MSG(img.w == w && img.h == h, "%s: size %dx%d, expected %dx%d", file, img.w, img.h, w, h);
            if (img.w == w && img.h == h) {
                int d = max_abs_diff(img.rgb, ref, esize);
                printf("  %-24s exif=%d %2dx%-2d vs %-5s max-abs %d (tol %d)\n", file, exif, w, h, truth, d, tol);
                CHECK_MSG(d <= tol, "%s: max-abs %d > %d", file, d, tol);
            }
            fn_image_free(&img);
        }
        free(data); free(ref);
        n++;
    }
    free(manifest);
    CHECK(n >= 140);
}

/* ------------------------------------------------------------------ truncation and corruption */
/* Bytes at the end that the pixels do not need (EOI, IEND, GIF trailer, ASCII last token). */
static size_t optional_tail(const char *file) {
    if (strstr(file, ".jpg")) return 2;
    if (strstr(file, ".png")) return 12;
    if (strstr(file, "animated") || strstr(file, "multipage")) return (size_t)-1 / 2; /* frame 2 is not needed */
    if (strstr(file, ".gif")) return 2;
    if (strstr(file, ".tif")) return 4; /* the next-IFD offset of an IFD written last */
    if (strstr(file, "ascii") || strstr(file, "maxval15")) return 4;
    return 0;
}

static void test_truncated_and_corrupt(void) {
    printf("truncation (every length) and byte corruption:\n");
    DIR *dir = opendir(FIX);
    CHECK(dir != NULL);
    if (!dir) return;
    struct dirent *e;
    int files = 0;
    long cuts = 0, mutants = 0, mutants_ok = 0;
    while ((e = readdir(dir))) {
        const char *n = e->d_name;
        if (strncmp(n, "cap_", 4) == 0 || !(strstr(n, ".jpg") || strstr(n, ".png") || strstr(n, ".gif") ||
                                            strstr(n, ".bmp") || strstr(n, ".pgm") || strstr(n, ".ppm") ||
                                            strstr(n, ".webp") || strstr(n, ".tif") || strstr(n, ".heic") ||
                                            strstr(n, ".avif")))
            continue;
        if (strstr(n, "resize_") || strstr(n, "crop_")) continue; /* large; covered by the others */
        if (strstr(n, "_orient")) continue; /* same streams as the *_lossless / *_rgb files */
        size_t size;
        uint8_t *data = read_fixture(n, &size);
        if (!data) { CHECK(0); continue; }
        files++;
        size_t tail = optional_tail(n), first_ok = size;
        for (size_t cut = 0; cut < size; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1); /* exact-size copy: ASan sees any over-read */
            memcpy(copy, data, cut);
            fn_image img;
            fn_status s = fn_image_decode(copy, cut, 1, &img);
            if (s == FN_OK) {
                if (cut < first_ok) first_ok = cut;
                fn_image_free(&img);
            } else {
                CHECK_MSG(s == FN_ERR_FORMAT || s == FN_ERR_UNSUPPORTED, "%s cut %zu: status %d", n, cut, s);
                CHECK_MSG(fn_last_error()[0] != 0, "%s cut %zu: empty error message", n, cut);
            }
            free(copy);
            cuts++;
        }
        CHECK_MSG(first_ok + tail >= size, "%s: decodes when cut to %zu of %zu bytes", n, first_ok, size);
        /* corruption: flip bytes at seeded positions; must return (OK or error) without
         * touching memory it does not own */
        fn_rng rng = {(uint64_t)size * 7919u};
        for (int k = 0; k < 150; k++) {
            uint8_t *copy = malloc(size);
            memcpy(copy, data, size);
            int flips = 1 + (int)(fn_rng_next(&rng) % 4);
            for (int f = 0; f < flips; f++) copy[fn_rng_next(&rng) % size] = (uint8_t)fn_rng_next(&rng);
            fn_image img;
            if (fn_image_decode(copy, size, 1, &img) == FN_OK) {
                CHECK(img.w > 0 && img.h > 0 && img.rgb);
                mutants_ok++;
                fn_image_free(&img);
            }
            free(copy);
            mutants++;
        }
        free(data);
    }
    closedir(dir);
    printf("  %d files, %ld truncated decodes, %ld corrupted decodes (%ld still decoded)\n", files, cuts, mutants, mutants_ok);
    CHECK(files >= 80);
}

/* ------------------------------------------------------------------ caps and detection */
static void test_caps_and_detection(void) {
    printf("size caps and format detection:\n");
    const char *caps[] = {"cap_png.png", "cap_bmp.bmp", "cap_ppm.ppm", "cap_jpeg.jpg", "cap_gif.gif", "cap_pixels_ppm.ppm",
                          "cap_webp.webp", "cap_tiff.tif", "cap_heic.heic"};
    for (int i = 0; i < (int)(sizeof caps / sizeof *caps); i++) {
        size_t size;
        uint8_t *data = read_fixture(caps[i], &size);
        fn_image img = {1, 1, NULL};
        fn_status s = data ? fn_image_decode(data, size, 1, &img) : FN_ERR_IO;
        printf("  %-20s -> %s: %s\n", caps[i], fn_status_str(s), fn_last_error());
        CHECK_MSG(s == FN_ERR_LIMIT, "%s: status %d, expected FN_ERR_LIMIT", caps[i], s);
        CHECK(img.rgb == NULL && img.w == 0);
        free(data);
    }
    /* the pixel cap applies per thread (fuzzers lower it) */
    fn_image_set_pixel_limit(50);
    size_t size;
    uint8_t *data = read_fixture("png_rgb.png", &size); /* 13x7 = 91 pixels */
    fn_image img;
    CHECK(data && fn_image_decode(data, size, 1, &img) == FN_ERR_LIMIT);
    fn_image_set_pixel_limit(0);
    CHECK(data && fn_image_decode(data, size, 1, &img) == FN_OK);
    if (data) fn_image_free(&img);
    /* content, not extension: a PNG saved as .jpg loads */
    char path[1024];
    snprintf(path, sizeof path, "%s/test_image_png_named.jpg", FN_BUILD_DIR);
    CHECK(data && fn_write_file_atomic(path, data, size) == FN_OK);
    CHECK(fn_image_load(path, 1, &img) == FN_OK && img.w == 13 && img.h == 7);
    fn_image_free(&img);
    remove(path);
    free(data);
    const uint8_t junk[] = "hello, this is not an image";
    CHECK(fn_image_decode(junk, sizeof junk, 1, &img) == FN_ERR_FORMAT);
    printf("  unknown bytes -> %s\n", fn_last_error());
    CHECK(fn_image_load(FN_BUILD_DIR "/no/such/file.png", 1, &img) == FN_ERR_IO);
    CHECK(fn_image_alloc(0, 5, &img) != FN_OK && img.rgb == NULL);
    CHECK(fn_image_alloc(40000, 1, &img) == FN_ERR_LIMIT);
}

static void test_exif_parser(void) {
    printf("EXIF parser bounds:\n");
    uint8_t buf[64] = "Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0";
    CHECK(fn_exif_orientation(buf, 6 + 8 + 2 + 12 + 4) == 6);
    int bad = 0;
    for (size_t n = 0; n < 6 + 8 + 2 + 12; n++) bad += fn_exif_orientation(buf, n) != 1; /* truncated */
    CHECK(bad == 0);
    buf[6 + 4] = 0xF0; /* IFD offset past the end */
    CHECK(fn_exif_orientation(buf, 40) == 1);
    buf[6 + 4] = 8; buf[6 + 8] = 0xFF; buf[6 + 9] = 0xFF; buf[6 + 10] = 0x13; /* 65535 entries, none Orientation */
    CHECK(fn_exif_orientation(buf, 40) == 1);
    buf[6 + 8] = 1; buf[6 + 9] = 0; buf[6 + 10] = 0x12;
    CHECK(fn_exif_orientation(buf, 40) == 6);
    buf[6 + 10 + 8] = 9; /* orientation 9 is invalid */
    CHECK(fn_exif_orientation(buf, 40) == 1);
    buf[6 + 10 + 8] = 3; buf[7] = 'X'; /* not "Exif\0\0" */
    CHECK(fn_exif_orientation(buf, 40) == 1);
}

/* ------------------------------------------------------------------ encode round trips */
static void test_encode(void) {
    printf("encode round trips:\n");
    fn_image src, back;
    CHECK(fn_image_load(FIX "resize_src.png", 1, &src) == FN_OK);
    if (!src.rgb) return;
    char png[1024], jpg[1024];
    snprintf(png, sizeof png, "%s/test_image_out.png", FN_BUILD_DIR);
    snprintf(jpg, sizeof jpg, "%s/test_image_out.jpg", FN_BUILD_DIR);
    CHECK(fn_image_save_png(png, &src) == FN_OK);
    CHECK(fn_image_load(png, 1, &back) == FN_OK);
    CHECK(back.w == src.w && back.h == src.h && memcmp(back.rgb, src.rgb, (size_t)src.w * src.h * 3) == 0);
    printf("  PNG %dx%d: lossless round trip %s\n", src.w, src.h, back.rgb && memcmp(back.rgb, src.rgb, (size_t)src.w * src.h * 3) == 0 ? "exact" : "DIFFERS");
    fn_image_free(&back);
    /* JPEG is lossy: use a smooth image (the noisy one loses ~20 levels to 4:2:0) */
    for (int y = 0; y < src.h; y++)
        for (int x = 0; x < src.w; x++) {
            uint8_t *p = src.rgb + ((size_t)y * src.w + x) * 3;
            p[0] = (uint8_t)(x * 4); p[1] = (uint8_t)(y * 5); p[2] = (uint8_t)(128 + x - y);
        }
    CHECK(fn_image_save_jpeg(jpg, &src, 95) == FN_OK);
    CHECK(fn_image_load(jpg, 1, &back) == FN_OK);
    if (back.rgb && back.w == src.w && back.h == src.h) {
        double sum = 0;
        for (size_t i = 0; i < (size_t)src.w * src.h * 3; i++) sum += abs((int)back.rgb[i] - (int)src.rgb[i]);
        double mean = sum / ((double)src.w * src.h * 3);
        printf("  JPEG q95 %dx%d: mean |diff| %.2f grey levels (tol 2, smooth gradient)\n", src.w, src.h, mean);
        CHECK(mean < 2.0);
    } else CHECK(0);
    fn_image_free(&back);
    /* atomic: no temp file is left, a failed save leaves nothing behind */
    DIR *d = opendir(FN_BUILD_DIR);
    int temps = 0;
    for (struct dirent *e; d && (e = readdir(d));) temps += strncmp(e->d_name, "test_image_out", 14) == 0 && strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    CHECK(temps == 0);
    CHECK(fn_image_save_png(FN_BUILD_DIR "/no/such/dir/x.png", &src) == FN_ERR_IO);
    CHECK(fn_image_save_jpeg(FN_BUILD_DIR "/no/such/dir/x.jpg", &src, 90) == FN_ERR_IO);
    CHECK(fn_image_save_jpeg(jpg, &src, 0) == FN_ERR_ARG);
    fn_image empty = {0, 0, NULL};
    CHECK(fn_image_save_png(png, &empty) == FN_ERR_ARG);
    remove(png); remove(jpg);
    fn_image_free(&src);
}

/* ------------------------------------------------------------------ resize vs PIL */
static void test_resize(void) {
    printf("resize vs PIL Image.resize(BILINEAR):\n");
    fn_image src;
    CHECK(fn_image_load(FIX "resize_src.png", 1, &src) == FN_OK);
    size_t tsize;
    char *list = (char *)read_fixture("resize.txt", &tsize);
    int worst = 0, n = 0;
    for (char *line = list ? strtok(list, "\n") : NULL; line && src.rgb; line = strtok(NULL, "\n")) {
        char name[256];
        int w, h;
        if (sscanf(line, "%255s %d %d", name, &w, &h) != 3) continue;
        char path[1024];
        snprintf(path, sizeof path, FIX "%s", name);
        fn_image ref, out;
        CHECK(fn_image_load(path, 1, &ref) == FN_OK);
        CHECK(fn_image_resize(&src, w, h, &out) == FN_OK);
        if (ref.rgb && out.rgb && ref.w == w && ref.h == h) {
            int d = max_abs_diff(ref.rgb, out.rgb, (size_t)w * h * 3);
            printf("  %dx%d -> %dx%d: max-abs %d (tol 1)\n", src.w, src.h, w, h, d);
            CHECK_MSG(d <= 1, "resize %dx%d: max-abs %d", w, h, d);
            if (d > worst) worst = d;
            n++;
        } else CHECK(0);
        fn_image_free(&ref); fn_image_free(&out);
    }
    CHECK(n >= 9);
    free(list);
    fn_image out;
    CHECK(fn_image_resize(&src, 0, 5, &out) == FN_ERR_ARG);
    CHECK(fn_image_resize(&src, 40000, 5, &out) == FN_ERR_LIMIT);
    fn_image_free(&src);

    /* facenet-pytorch's crop of a real photo: crop then resize to 160 */
    char *crop = (char *)read_fixture("crop.txt", &tsize);
    char photo[512], refname[256], path[1024];
    int x, y, w, h;
    if (crop && sscanf(crop, "%511s %d %d %d %d %255s", photo, &x, &y, &w, &h, refname) == 6) {
        snprintf(path, sizeof path, "%s/%s", FN_SHARED_DIR, photo);
        fn_image img, box, r160, ref;
        CHECK(fn_image_load(path, 1, &img) == FN_OK);
        CHECK(fn_image_crop(&img, x, y, w, h, &box) == FN_OK);
        CHECK(fn_image_resize(&box, 160, 160, &r160) == FN_OK);
        snprintf(path, sizeof path, FIX "%s", refname);
        CHECK(fn_image_load(path, 1, &ref) == FN_OK);
        if (r160.rgb && ref.rgb) {
            int d = max_abs_diff(r160.rgb, ref.rgb, 160 * 160 * 3);
            printf("  crop %dx%d of %s -> 160x160: max-abs %d (tol 1)\n", w, h, photo, d);
            CHECK(d <= 1);
            if (d > worst) worst = d;
        } else CHECK(0);
        fn_image_free(&img); fn_image_free(&box); fn_image_free(&r160); fn_image_free(&ref);
    } else CHECK(0);
    free(crop);
    printf("  worst resize difference vs PIL: %d grey levels\n", worst);
}

/* ------------------------------------------------------------------ flip / crop / sample */
static void test_pixel_ops(void) {
    printf("flip, crop, bilinear sample:\n");
    fn_image img, f, c;
    CHECK(fn_image_alloc(5, 3, &img) == FN_OK);
    for (int i = 0; i < 5 * 3 * 3; i++) img.rgb[i] = (uint8_t)(i * 5);
    CHECK(fn_image_flip_lr(&img, &f) == FN_OK);
    CHECK(memcmp(f.rgb, img.rgb + 4 * 3, 3) == 0 && memcmp(f.rgb + (2 * 5 + 1) * 3, img.rgb + (2 * 5 + 3) * 3, 3) == 0);
    CHECK(fn_image_crop(&img, -2, 1, 4, 10, &c) == FN_OK && c.w == 2 && c.h == 2);
    CHECK(c.rgb && memcmp(c.rgb, img.rgb + 5 * 3, 6) == 0 && memcmp(c.rgb + 6, img.rgb + 10 * 3, 6) == 0);
    fn_image_free(&c);
    CHECK(fn_image_crop(&img, 5, 0, 3, 3, &c) == FN_ERR_ARG && c.rgb == NULL);
    CHECK(fn_image_crop(&img, 0, 0, 0, 3, &c) == FN_ERR_ARG);
    uint8_t p[3];
    fn_image_sample_bilinear(&img, 2, 1, p);
    CHECK(memcmp(p, img.rgb + 7 * 3, 3) == 0);
    fn_image_sample_bilinear(&img, 2.5f, 1, p); /* halfway between pixels 7 and 8 */
    CHECK(abs(p[0] - (img.rgb[21] + img.rgb[24] + 1) / 2) <= 1);
    fn_image_sample_bilinear(&img, -0.5f, 0, p); /* half black border */
    CHECK(abs(p[1] - (img.rgb[1] + 1) / 2) <= 1);
    fn_image_sample_bilinear(&img, 7, 1, p);
    CHECK(p[0] == 0 && p[1] == 0 && p[2] == 0);
    fn_image_sample_bilinear(&img, NAN, 1, p);
    CHECK(p[0] == 0);
    fn_image_free(&img); fn_image_free(&f);
}

/* ------------------------------------------------------------------ drawing */
static int count_colour(const fn_image *img, uint32_t rgb) {
    int n = 0;
    for (int i = 0; i < img->w * img->h; i++)
        n += img->rgb[i * 3] == (uint8_t)(rgb >> 16) && img->rgb[i * 3 + 1] == (uint8_t)(rgb >> 8) && img->rgb[i * 3 + 2] == (uint8_t)rgb;
    return n;
}
static int is_colour(const fn_image *img, int x, int y, uint32_t rgb) {
    const uint8_t *p = img->rgb + ((size_t)y * img->w + x) * 3;
    return p[0] == (uint8_t)(rgb >> 16) && p[1] == (uint8_t)(rgb >> 8) && p[2] == (uint8_t)rgb;
}

static void test_drawing(void) {
    printf("drawing:\n");
    fn_image img;
    CHECK(fn_image_alloc(20, 16, &img) == FN_OK);
    const uint32_t red = 0xFF0000, green = 0x00FF00, blue = 0x0000FF;
    memset(img.rgb, 0, 20 * 16 * 3);
    fn_draw_rect(&img, 2, 3, 10, 8, red, 1);
    CHECK(count_colour(&img, red) == 2 * 9 + 2 * 4); /* 9 wide, 6 tall outline */
    CHECK(is_colour(&img, 2, 3, red) && is_colour(&img, 10, 8, red) && !is_colour(&img, 5, 5, red));
    memset(img.rgb, 0, 20 * 16 * 3);
    fn_draw_rect(&img, 2, 3, 10, 8, red, 2);
    CHECK(count_colour(&img, red) == 9 * 6 - 5 * 2);
    memset(img.rgb, 0, 20 * 16 * 3);
    fn_draw_rect(&img, -5, -5, 100, 100, red, 1); /* only the clipped parts: nothing visible */
    CHECK(count_colour(&img, red) == 0);
    fn_draw_rect(&img, -5, 4, 100, 100, red, 1); /* top edge at y=4 crosses the image */
    CHECK(count_colour(&img, red) == 20);
    memset(img.rgb, 0, 20 * 16 * 3);
    fn_draw_fill_rect(&img, 18, 14, 40, 40, green);
    CHECK(count_colour(&img, green) == 2 * 2);
    memset(img.rgb, 0, 20 * 16 * 3);
    fn_draw_line(&img, 0, 0, 19, 15, blue, 1);
    CHECK(is_colour(&img, 0, 0, blue) && is_colour(&img, 19, 15, blue) && count_colour(&img, blue) == 20);
    memset(img.rgb, 0, 20 * 16 * 3);
    fn_draw_line(&img, -1e9f, 5, 1e9f, 5, blue, 1); /* clipped, not 2e9 steps */
    CHECK(count_colour(&img, blue) == 20);
    memset(img.rgb, 0, 20 * 16 * 3);
    fn_draw_line(&img, 3, 2, 3, 12, blue, 3);
    CHECK(count_colour(&img, blue) >= 3 * 11 && is_colour(&img, 2, 7, blue) && is_colour(&img, 4, 7, blue) && !is_colour(&img, 6, 7, blue));
    fn_draw_line(&img, NAN, 0, 5, 5, red, 1);
    CHECK(count_colour(&img, red) == 0);
    memset(img.rgb, 0, 20 * 16 * 3);
    fn_draw_circle(&img, 10, 8, 5, green, 1);
    int disc = count_colour(&img, green);
    printf("  filled circle r=5: %d pixels (pi r^2 = 78.5)\n", disc);
    CHECK(disc >= 70 && disc <= 90 && is_colour(&img, 10, 8, green) && is_colour(&img, 15, 8, green) && !is_colour(&img, 16, 8, green));
    memset(img.rgb, 0, 20 * 16 * 3);
    fn_draw_circle(&img, 10, 8, 5, green, 0);
    CHECK(!is_colour(&img, 10, 8, green) && is_colour(&img, 15, 8, green) && is_colour(&img, 10, 3, green));
    fn_draw_circle(&img, -100, -100, 1e6f, green, 1); /* covers everything */
    CHECK(count_colour(&img, green) == 20 * 16);

    CHECK(fn_text_width("abc", 1) == 18 && fn_text_width("abc", 2) == 36 && fn_text_width("ab\nabcd", 1) == 24);
    CHECK(fn_text_height("ab\nabcd", 1) == 16 && fn_text_height("", 3) == 0 && fn_text_width("", 1) == 0);
    memset(img.rgb, 0, 20 * 16 * 3);
    fn_draw_text(&img, 1, 2, "A", red, 2);
    int mismatches = 0, ink = 0;
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 20; x++) {
            int col = (x - 1) / 2, row = (y - 2) / 2;
            int want = x >= 1 && y >= 2 && fn_font_pixel('A', col, row);
            mismatches += want != is_colour(&img, x, y, red);
            ink += want;
        }
    printf("  'A' at scale 2: %d ink pixels, %d mismatches\n", ink, mismatches);
    CHECK(mismatches == 0 && ink > 20);
    /* every printable glyph has ink except space, and all differ */
    int blank = 0, same = 0;
    for (int c = 33; c <= 126; c++) {
        int any = 0;
        for (int r = 0; r < 7; r++) for (int k = 0; k < 5; k++) any |= fn_font_pixel(c, k, r);
        blank += !any;
        for (int d = 33; d < c; d++) {
            int eq = 1;
            for (int r = 0; r < 7 && eq; r++) for (int k = 0; k < 5 && eq; k++) eq = fn_font_pixel(c, k, r) == fn_font_pixel(d, k, r);
            same += eq;
        }
    }
    CHECK(blank == 0 && same == 0);
    fn_draw_text(&img, -7, -3, "clipped \x01\xff text", blue, 3); /* off the edges, odd bytes */
    fn_draw_text(&img, 2147483000, 5, "far", blue, 1000000);
    CHECK(count_colour(&img, blue) > 0);
    fn_image_free(&img);
}

/* ------------------------------------------------------------------ shared photos */
static void test_shared_photos(void) {
    printf("shared photos vs PIL sizes:\n");
    size_t size;
    char *list = (char *)read_fixture("shared_images.txt", &size);
    CHECK(list != NULL);
    int n = 0, rotated = 0;
    double t0 = fn_now(), worst = 0;
    long pixels = 0;
    for (char *line = list ? strtok(list, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char rel[512], path[1024];
        int w, h, o;
        double mean;
        if (sscanf(line, "%511s %d %d %d %lf", rel, &w, &h, &o, &mean) != 5) { CHECK(0); continue; }
        snprintf(path, sizeof path, "%s/%s", FN_SHARED_DIR, rel);
        fn_image img;
        fn_status s = fn_image_load(path, 0, &img);
        CHECK_MSG(s == FN_OK, "%s", fn_last_error());
        if (s != FN_OK) continue;
        CHECK_MSG(img.w == w && img.h == h, "%s: %dx%d, PIL %dx%d", rel, img.w, img.h, w, h);
        double sum = 0;
        for (size_t i = 0; i < (size_t)img.w * img.h * 3; i++) sum += img.rgb[i];
        double d = fabs(sum / ((double)img.w * img.h * 3) - mean);
        if (d > worst) worst = d;
        CHECK_MSG(d < 0.05, "%s: mean %.4f vs PIL %.4f", rel, sum / ((double)img.w * img.h * 3), mean);
        pixels += (long)img.w * img.h;
        fn_image_free(&img);
        if (o != 1) { /* with EXIF applied, orientations 5..8 swap the sides */
            rotated++;
            CHECK(fn_image_load(path, 1, &img) == FN_OK);
            CHECK(o >= 5 ? img.w == h && img.h == w : img.w == w && img.h == h);
            fn_image_free(&img);
        }
        n++;
    }
    double dt = fn_now() - t0;
    printf("  %d photos (%d with EXIF orientation != 1), %.1f Mpixel in %.2f s; worst |mean - PIL mean| %.4f (tol 0.05)\n",
           n, rotated, pixels / 1e6, dt, worst);
    CHECK(n >= 400);
    free(list);
}

int main(void) {
    test_decode_fixtures();
    test_truncated_and_corrupt();
    test_caps_and_detection();
    test_exif_parser();
    test_encode();
    test_resize();
    test_pixel_ops();
    test_drawing();
    test_shared_photos();
    return tu_finish("test_image");
}
