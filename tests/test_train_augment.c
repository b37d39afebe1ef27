/* test_train_augment.c — training-time image preparation (fn_train_prepare_image):
 * no augmentation = the centre crop, exactly; a flip mirrors it; the affine path at the
 * identity reproduces the crop; a rotation keeps the centre pixel and turns a horizontal
 * edge by the drawn angle; brightness/contrast stay in range; the same seed gives the
 * same image; a stretch keeps the whole frame. A synthetic image with known pixels makes every expectation exact. */
#include "test_util.h"
#include "train/train.h"

enum { W = 41, H = 47, S = 41 };

static float centre_value(const fn_image *im, int x, int y, int c) {
    int x0 = (im->w - S) / 2, y0 = (im->h - S) / 2;
    return (im->rgb[((size_t)(y0 + y) * im->w + x0 + x) * 3 + c] - 127.5f) / 128.0f;
}

int main(void) {
    fn_image im = {0};
    im.w = W; im.h = H;
    im.rgb = malloc((size_t)W * H * 3);
    /* a smooth ramp plus a dark lower half: a horizontal edge through the middle */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++)
                im.rgb[((size_t)y * W + x) * 3 + c] = (uint8_t)((y < H / 2 ? 200 : 40) + x + 3 * c);
    const size_t n = (size_t)S * S * 3;
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);

    /* 1. no augmentation: the centre crop, bit-exact */
    CHECK(fn_train_prepare_image(&im, S, FN_FIT_CROP, NULL, FN_STD_FIXED, NULL, a) == FN_OK);
    double err = 0;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            for (int c = 0; c < 3; c++) err = fmax(err, fabs(a[((size_t)y * S + x) * 3 + c] - centre_value(&im, x, y, c)));
    printf("centre crop: max error %g\n", err);
    CHECK(err == 0);

    /* 2. flip only: each draw gives the crop or its mirror, and both occur */
    fn_augment flip = {.random_flip = 1};
    int seen_plain = 0, seen_mirror = 0;
    fn_rng rng = {7};
    for (int t = 0; t < 16; t++) {
        CHECK(fn_train_prepare_image(&im, S, FN_FIT_CROP, &flip, FN_STD_FIXED, &rng, b) == FN_OK);
        int plain = 1, mirror = 1;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                for (int c = 0; c < 3; c++) {
                    float v = b[((size_t)y * S + x) * 3 + c];
                    plain &= v == centre_value(&im, x, y, c);
                    mirror &= v == centre_value(&im, S - 1 - x, y, c);
                }
        CHECK(plain != mirror);
        seen_plain += plain; seen_mirror += mirror;
    }
    printf("flip: %d plain, %d mirrored of 16\n", seen_plain, seen_mirror);
    CHECK(seen_plain > 0 && seen_mirror > 0);

    /* 3. the affine path at (almost) the identity samples the crop at whole pixels */
    fn_augment ident = {.scale = 1e-7f};
    CHECK(fn_train_prepare_image(&im, S, FN_FIT_CROP, &ident, FN_STD_FIXED, &rng, b) == FN_OK);
    err = 0;
    for (size_t i = 0; i < n; i++) err = fmax(err, fabs(b[i] - a[i]));
    printf("affine identity: max error %g (tolerance 1e-4)\n", err);
    CHECK(err < 1e-4);

    /* 4. rotation: the centre pixel stays; the edge row tilts by the angle; the same seed
     * repeats the image. Measure the angle from where the edge crosses two columns. */
    fn_augment rot = {.rotate_deg = 20};
    fn_rng r1 = {99}, r2 = {99};
    CHECK(fn_train_prepare_image(&im, S, FN_FIT_CROP, &rot, FN_STD_FIXED, &r1, a) == FN_OK);
    CHECK(fn_train_prepare_image(&im, S, FN_FIT_CROP, &rot, FN_STD_FIXED, &r2, b) == FN_OK);
    CHECK(memcmp(a, b, sizeof(float) * n) == 0);
    int c0 = S / 2;
    CHECK(fabsf(a[((size_t)c0 * S + c0) * 3] - centre_value(&im, c0, c0, 0)) < 1e-4f);
    /* expected angle: the draw sequence is x, y, flip, then the rotation's uniform */
    fn_rng r3 = {99};
    fn_rng_next(&r3); fn_rng_next(&r3); fn_rng_next(&r3);
    double deg = 20 * (2 * fn_rng_uniform(&r3) - 1);
    double cross[2];
    int cols[2] = {8, S - 9};
    for (int k = 0; k < 2; k++) {
        cross[k] = -1;
        for (int y = 1; y < S; y++) {
            /* the value halfway between the two sides, green channel minus the ramp */
            float up = a[((size_t)(y - 1) * S + cols[k]) * 3 + 1] * 128 + 127.5f, dn = a[((size_t)y * S + cols[k]) * 3 + 1] * 128 + 127.5f;
            if (up - dn > 60) { cross[k] = y - 1 + (up - (up + dn) / 2) / (up - dn); break; }
        }
        CHECK(cross[k] > 0);
    }
    double measured = atan2(cross[1] - cross[0], cols[1] - cols[0]) * 180 / M_PI;
    printf("rotation: drawn %.2f deg, edge tilt %.2f deg (tolerance 2)\n", deg, measured);
    /* sampling the source at R(deg) turns the picture by -deg */
    CHECK(fabs(measured + deg) < 2);

    /* 5. photometric jitter keeps pixels in [0, 255] and moves the mean by at most b */
    fn_augment photo = {.brightness = 0.2f, .contrast = 0.5f};
    double mean0 = 0;
    CHECK(fn_train_prepare_image(&im, S, FN_FIT_CROP, NULL, FN_STD_FIXED, NULL, a) == FN_OK);
    for (size_t i = 0; i < n; i++) mean0 += a[i] / n;
    int moved = 0;
    for (int t = 0; t < 8; t++) {
        CHECK(fn_train_prepare_image(&im, S, FN_FIT_CROP, &photo, FN_STD_FIXED, &rng, b) == FN_OK);
        double mean = 0, lo = 1e9, hi = -1e9;
        for (size_t i = 0; i < n; i++) { mean += b[i] / n; lo = fmin(lo, b[i]); hi = fmax(hi, b[i]); }
        CHECK(lo >= -127.5 / 128 - 1e-6 && hi <= 127.5 / 128 + 1e-6);
        CHECK(fabs(mean - mean0) <= 0.2 * 255 / 128 + 1e-4);
        moved += fabs(mean - mean0) > 1e-3;
    }
    CHECK(moved > 0);

    /* 6. stretch: the whole frame resized to the square, nothing cropped */
    fn_image sq = {0};
    CHECK(fn_image_resize(&im, S, S, &sq) == FN_OK);
    CHECK(fn_train_prepare_image(&im, S, FN_FIT_STRETCH, NULL, FN_STD_FIXED, NULL, a) == FN_OK);
    err = 0;
    for (size_t i = 0; i < n; i++) err = fmax(err, fabs(a[i] - (sq.rgb[i] - 127.5f) / 128.0f));
    printf("stretch == resize to %dx%d: max error %g\n", S, S, err);
    CHECK(err == 0);
    int lw, lh;
    fn_train_load_geometry(92, 112, 96, FN_FIT_CROP, NULL, &lw, &lh);
    CHECK(lw == 96 && lh == 116);
    fn_train_load_geometry(92, 112, 96, FN_FIT_STRETCH, &(fn_augment){.random_crop = 1}, &lw, &lh);
    CHECK(lw == 109 && lh == 109);
    fn_image_free(&sq);

    free(a); free(b); free(im.rgb);
    return tu_finish("test_train_augment");
}
