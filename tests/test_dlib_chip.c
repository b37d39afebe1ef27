/* test_dlib_chip.c — fn_align_chip (5-point dlib-style face chip):
 * 1. matches an independent NumPy implementation (tools/gen_dlib_fixtures.py: lstsq
 *    similarity, same template) on 4 photos, within 2 grey levels per pixel (JPEG decoders
 *    and float rounding may differ by one level) and mean |diff| < 0.1;
 * 2. the template points land where dlib puts them (an exact-landmark round trip);
 * 3. resolution independence: a large face (paul_rudd.jpg, ~1000 px) and the same photo
 *    box-downscaled 4x give embeddings within squared distance 0.02 (the pyramid pre-filter;
 *    without it the large face aliases);
 * 4. bad input (degenerate landmarks, NaN, size 0) is a clear error. */
#include "test_util.h"
#include "core.h"
#include "json.h"

#define FIX FN_SOURCE_DIR "/tests/fixtures/dlib/"

static const fn_json *get(const fn_json *o, const char *k) { return o ? fn_json_get(o, k) : NULL; }

/* the largest face of an image in the shared MTCNN reference */
static int reference_landmarks(const fn_json *ref, const char *image, float lm[5][2]) {
    const fn_json *res = get(ref, "results");
    for (int i = 0; res && i < res->n; i++) {
        const fn_json *r = &res->items[i], *im = get(r, "image");
        if (!im || strcmp(im->string, image)) continue;
        const fn_json *faces = get(r, "faces");
        double best = -1;
        for (int f = 0; faces && f < faces->n; f++) {
            const fn_json *b = get(&faces->items[f], "box"), *l = get(&faces->items[f], "landmarks");
            double area = (b->items[2].number - b->items[0].number) * (b->items[3].number - b->items[1].number);
            if (area <= best) continue;
            best = area;
            for (int p = 0; p < 5; p++)
                for (int k = 0; k < 2; k++) lm[p][k] = (float)l->items[p].items[k].number;
        }
        return best > 0;
    }
    return 0;
}

static void box_halve(const fn_image *in, fn_image *out) {
    FN_ASSERT(fn_image_alloc(in->w / 2, in->h / 2, out) == FN_OK);
    for (int y = 0; y < out->h; y++)
        for (int x = 0; x < out->w; x++)
            for (int c = 0; c < 3; c++) {
                const uint8_t *p = in->rgb + ((size_t)(2 * y) * in->w + 2 * x) * 3 + c;
                int s = p[0] + p[3] + p[in->w * 3] + p[in->w * 3 + 3];
                out->rgb[((size_t)y * out->w + x) * 3 + c] = (uint8_t)((s + 2) / 4);
            }
}

int main(void) {
    /* 1. against the NumPy chips */
    uint8_t *text; size_t len;
    fn_json *chips = NULL;
    CHECK(fn_read_file(FIX "chips.json", &text, &len) == FN_OK);
    CHECK(fn_json_parse((const char *)text, len, &chips) == FN_OK);
    free(text);
    const fn_json *list = get(chips, "chips");
    CHECK(list && list->n == 4);
    for (int i = 0; list && i < list->n; i++) {
        const fn_json *e = &list->items[i], *lmj = get(e, "landmarks");
        char path[512];
        snprintf(path, sizeof path, "%s/%s", FN_SHARED_DIR, get(e, "image")->string);
        fn_image img, ref, out;
        float lm[5][2];
        for (int p = 0; p < 5; p++)
            for (int k = 0; k < 2; k++) lm[p][k] = (float)lmj->items[p].items[k].number;
        CHECK(fn_image_load(path, 0, &img) == FN_OK);
        snprintf(path, sizeof path, FIX "%s", get(e, "chip")->string);
        CHECK(fn_image_load(path, 0, &ref) == FN_OK);
        CHECK(fn_align_chip(&img, lm, 150, 0.25f, &out) == FN_OK);
        CHECK(out.w == 150 && out.h == 150);
        int maxd = 0; double sum = 0;
        for (int k = 0; k < 150 * 150 * 3; k++) {
            int d = abs((int)out.rgb[k] - ref.rgb[k]);
            maxd = d > maxd ? d : maxd;
            sum += d;
        }
        printf("  chip %d vs numpy: max |diff| %d levels, mean %.4f (tol 2, 0.1)\n", i, maxd, sum / (150 * 150 * 3));
        CHECK(maxd <= 2 && sum / (150 * 150 * 3) < 0.1);
        fn_image_free(&img); fn_image_free(&ref); fn_image_free(&out);
    }

    /* 2. landmarks placed exactly on the template scaled by 1.5 and shifted by (20, 10):
     * the chip->image map must be x_img = 1.5 x + 20, y_img = 1.5 y + 10. A linear ramp
     * image (R = x_img, G = y_img, up to 254) is reproduced exactly by bilinear sampling, so
     * each chip pixel tells where it was sampled (to rounding: 0.5 px). */
    {
        const fn_json *tj = get(chips, "template");
        fn_image img, out;
        CHECK(fn_image_alloc(320, 320, &img) == FN_OK);
        for (int y = 0; y < 320; y++)
            for (int x = 0; x < 320; x++) {
                uint8_t *p = img.rgb + ((size_t)y * 320 + x) * 3;
                p[0] = (uint8_t)(x < 255 ? x : 255); p[1] = (uint8_t)(y < 255 ? y : 255); p[2] = 0;
            }
        float lm[5][2];
        for (int p = 0; p < 5; p++) {
            lm[p][0] = (float)(tj->items[p].items[0].number * 1.5 + 20);
            lm[p][1] = (float)(tj->items[p].items[1].number * 1.5 + 10);
        }
        CHECK(fn_align_chip(&img, lm, 150, 0.25f, &out) == FN_OK);
        double maxe = 0;
        for (int y = 0; y < 150; y++)
            for (int x = 0; x < 150; x++) {
                double ex = 1.5 * x + 20, ey = 1.5 * y + 10;
                if (ex > 254 || ey > 254) continue; /* past the ramp's saturation */
                const uint8_t *p = out.rgb + ((size_t)y * 150 + x) * 3;
                maxe = fmax(maxe, fmax(fabs(p[0] - ex), fabs(p[1] - ey)));
            }
        printf("  template round trip: max |sampled position - expected| %.3f px (tol 0.501)\n", maxe);
        CHECK(maxe <= 0.501); /* exact half-pixel positions round either way */
        /* dlib's numbers: left eye centre x = (0.25 + mean of points 36..41) / 1.5 * 150 */
        CHECK(fabs(tj->items[0].items[0].number - (0.25 + 1.352951 / 6) / 1.5 * 150) < 1e-3);
        fn_image_free(&img); fn_image_free(&out);
    }
    fn_json_free(chips);

    /* 3. the same face at two resolutions */
    {
        uint8_t *rt; size_t rl;
        fn_json *ref = NULL;
        CHECK(fn_read_file(FN_SHARED_DIR "/fixtures/mtcnn_reference.json", &rt, &rl) == FN_OK);
        CHECK(fn_json_parse((const char *)rt, rl, &ref) == FN_OK);
        free(rt);
        float lm[5][2], lm4[5][2];
        CHECK(reference_landmarks(ref, "data/faces/facenet-pytorch/paul_rudd.jpg", lm));
        fn_json_free(ref);
        fn_image big, half, quarter, c_big, c_small;
        CHECK(fn_image_load(FN_SHARED_DIR "/data/faces/facenet-pytorch/paul_rudd.jpg", 0, &big) == FN_OK);
        box_halve(&big, &half);
        box_halve(&half, &quarter);
        /* box-halving maps x to (x - 0.5) / 2 */
        for (int p = 0; p < 5; p++)
            for (int k = 0; k < 2; k++) lm4[p][k] = ((lm[p][k] - 0.5f) / 2 - 0.5f) / 2;
        CHECK(fn_align_chip(&big, lm, 150, 0.25f, &c_big) == FN_OK);
        CHECK(fn_align_chip(&quarter, lm4, 150, 0.25f, &c_small) == FN_OK);
        double sum = 0;
        for (int k = 0; k < 150 * 150 * 3; k++) sum += abs((int)c_big.rgb[k] - c_small.rgb[k]);
        printf("  paul_rudd chip from %dx%d vs from %dx%d: mean |diff| %.3f levels (tol 2)\n",
               big.w, big.h, quarter.w, quarter.h, sum / (150 * 150 * 3));
        CHECK(sum / (150 * 150 * 3) < 2.0);
        fn_model *m;
        if (fn_model_open(FN_SOURCE_DIR "/models/dlib_resnet.safetensors", &m) != FN_OK) {
            CHECK_MSG(0, "cannot open models/dlib_resnet.safetensors: run scripts/get-models.sh");
        } else {
            fn_image both[2] = { c_big, c_small };
            float e[2][128];
            CHECK(fn_model_embed(m, both, 2, &e[0][0]) == FN_OK);
            float d = fn_distance_sq(e[0], e[1], 128);
            printf("  embedding squared distance between the resolutions: %.4f (tol 0.02)\n", d);
            CHECK(d < 0.02f);
            fn_model_close(m);
        }
        fn_image_free(&big); fn_image_free(&half); fn_image_free(&quarter);
        fn_image_free(&c_big); fn_image_free(&c_small);
    }

    /* 4. errors */
    {
        fn_image img, out;
        CHECK(fn_image_alloc(64, 64, &img) == FN_OK);
        memset(img.rgb, 7, 64 * 64 * 3);
        float same[5][2] = { { 10, 10 }, { 10, 10 }, { 10, 10 }, { 10, 10 }, { 10, 10 } };
        CHECK(fn_align_chip(&img, same, 150, 0.25f, &out) == FN_ERR_ARG);
        float nan_lm[5][2] = { { NAN, 10 }, { 20, 10 }, { 15, 15 }, { 11, 20 }, { 19, 20 } };
        CHECK(fn_align_chip(&img, nan_lm, 150, 0.25f, &out) == FN_ERR_ARG);
        float ok_lm[5][2] = { { 20, 20 }, { 40, 20 }, { 30, 30 }, { 22, 40 }, { 38, 40 } };
        CHECK(fn_align_chip(&img, ok_lm, 0, 0.25f, &out) == FN_ERR_ARG);
        CHECK(fn_align_chip(&img, ok_lm, 150, -1.0f, &out) == FN_ERR_ARG);
        /* far outside the image: a black chip, not a crash */
        float far_lm[5][2] = { { 1e5f, 1e5f }, { 1e5f + 900, 1e5f }, { 1e5f + 450, 1e5f + 500 }, { 1e5f + 100, 1e5f + 800 }, { 1e5f + 800, 1e5f + 800 } };
        CHECK(fn_align_chip(&img, far_lm, 150, 0.25f, &out) == FN_OK);
        int nz = 0;
        for (int k = 0; k < 150 * 150 * 3; k++) nz += out.rgb[k] != 0;
        CHECK(nz == 0);
        fn_image_free(&out);
        fn_image_free(&img);
    }
    return tu_finish("test_dlib_chip");
}
