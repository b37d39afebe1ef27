/* test_landmark68.c — face-api's 68-point landmark net (src/nets/landmark68.c) against
 * face-api itself: on 6 committed face crops (tools/gen_landmark68_fixtures.py: tall and wide
 * regions, faces smaller and larger than the net's 112 px input) fn_landmarks68 with the
 * whole crop as the box must give face-api's FaceLandmark68Net.detectLandmarks points
 * (tools/faceapi_reference/landmarks68_crops.js, TF.js wasm backend) within 1e-3 px (measured:
 * <= 5e-5 px, float32 rounding).
 * Then: the same face found inside its source photo (box = the crop's region) gives the
 * same points shifted; boxes clipped at the border; points inside the face; bad boxes. */
#include "test_util.h"
#include "core.h"
#include "json.h"

#define MODEL FN_SOURCE_DIR "/models/landmark68.safetensors"
#define FIX FN_SOURCE_DIR "/tests/fixtures/landmark68/"
#define N_CROPS 6
#define TOL 1e-3

static fn_json *load_json(const char *path) {
    uint8_t *text; size_t len;
    fn_json *root = NULL;
    if (fn_read_file(path, &text, &len) != FN_OK) return NULL;
    if (fn_json_parse((const char *)text, len, &root) != FN_OK) root = NULL;
    free(text);
    return root;
}

int main(void) {
    fn_landmarker *lm;
    if (fn_landmarker_open(MODEL, &lm) != FN_OK) {
        fprintf(stderr, "FAIL: cannot open %s (%s): run scripts/get-models.sh\n", MODEL, fn_last_error());
        return 1;
    }
    fn_json *exp = load_json(FIX "expected.json"), *crops = load_json(FIX "crops.json");
    const fn_json *ec = exp ? fn_json_get(exp, "crops") : NULL, *cc = crops ? fn_json_get(crops, "crops") : NULL;
    if (!ec || !cc || ec->n != N_CROPS || cc->n != N_CROPS) { fprintf(stderr, "FAIL: fixtures unreadable\n"); return 1; }
    double worst = 0;
    for (int i = 0; i < N_CROPS; i++) {
        const fn_json *e = fn_json_at(ec, i), *c = fn_json_at(cc, i);
        char path[512];
        snprintf(path, sizeof path, FIX "%s", fn_json_get(c, "file")->string);
        fn_image crop;
        if (fn_image_load(path, 0, &crop) != FN_OK) { fprintf(stderr, "FAIL load %s: %s\n", path, fn_last_error()); return 1; }
        const fn_json *pts = fn_json_get(e, "points");
        CHECK_MSG(pts && pts->n == 68, "crop %d: 68 reference points", i);
        float ref[68][2], got[1][68][2];
        for (int p = 0; p < 68 && pts && pts->n == 68; p++)
            for (int k = 0; k < 2; k++) ref[p][k] = (float)fn_json_at(fn_json_at(pts, p), k)->number;
        const float whole[1][4] = { { 0, 0, (float)crop.w, (float)crop.h } };
        CHECK(fn_landmarks68(lm, &crop, whole, 1, got) == FN_OK);
        double d = tu_max_abs(&got[0][0][0], &ref[0][0], 136);
        printf("  crop_%d (%dx%d): max |ours - face-api| %.2e px\n", i, crop.w, crop.h, d);
        CHECK_MSG(d <= TOL, "crop_%d: %.4f px > %.2f", i, d, TOL);
        if (d > worst) worst = d;
        /* the points lie on the face: eyes above the mouth, jaw spanning the eyes */
        CHECK(got[0][36][1] < got[0][48][1] && got[0][45][1] < got[0][54][1]);
        CHECK(got[0][0][0] < got[0][36][0] && got[0][16][0] > got[0][45][0]);

        /* the same region inside the source photo: the same points, shifted */
        snprintf(path, sizeof path, FN_SHARED_DIR "/%s", fn_json_get(c, "source")->string);
        fn_image photo;
        if (fn_image_load(path, 0, &photo) != FN_OK) { fprintf(stderr, "FAIL load %s: %s\n", path, fn_last_error()); return 1; }
        const fn_json *r = fn_json_get(c, "region");
        const float rx = (float)fn_json_at(r, 0)->number, ry = (float)fn_json_at(r, 1)->number;
        const float box[2][4] = { { rx + 0.4f, ry + 0.2f, (float)fn_json_at(r, 2)->number + 0.9f, (float)fn_json_at(r, 3)->number + 0.7f },
                                  { rx, ry, (float)fn_json_at(r, 2)->number, (float)fn_json_at(r, 3)->number } };
        float in_photo[2][68][2];
        CHECK(fn_landmarks68(lm, &photo, box, 2, in_photo) == FN_OK);
        double ds = 0;
        for (int b = 0; b < 2; b++)
            for (int p = 0; p < 68; p++) {
                double dx = fabs(in_photo[b][p][0] - rx - got[0][p][0]), dy = fabs(in_photo[b][p][1] - ry - got[0][p][1]);
                if (dx > ds) ds = dx;
                if (dy > ds) ds = dy;
            }
        CHECK_MSG(ds <= 1e-3, "crop_%d: in the photo (fractional box floored to the region) %.5f px off", i, ds);
        fn_image_free(&photo);
        fn_image_free(&crop);
    }
    printf("  worst difference to face-api: %.2e px (tolerance %.0e)\n", worst, TOL);

    /* clipping: a box hanging over the border is clipped to the image like face-api's */
    fn_image img;
    CHECK(fn_image_load(FIX "crop_0.png", 0, &img) == FN_OK);
    float a[1][68][2], b[1][68][2];
    const float over[1][4] = { { -30, -10, (float)img.w + 40, (float)img.h + 5 } };
    const float full[1][4] = { { 0, 0, (float)img.w, (float)img.h } };
    CHECK(fn_landmarks68(lm, &img, over, 1, a) == FN_OK && fn_landmarks68(lm, &img, full, 1, b) == FN_OK);
    CHECK(tu_max_abs(&a[0][0][0], &b[0][0][0], 136) == 0);
    /* bad input: no pixels, not finite, bad arguments, not a landmark model */
    const float none[1][4] = { { 10, 10, 10.5f, 40 } }, outside[1][4] = { { (float)img.w + 1, 0, (float)img.w + 50, 50 } },
                nan_box[1][4] = { { NAN, 0, 10, 10 } };
    CHECK(fn_landmarks68(lm, &img, none, 1, a) == FN_ERR_ARG);
    CHECK(fn_landmarks68(lm, &img, outside, 1, a) == FN_ERR_ARG);
    CHECK(fn_landmarks68(lm, &img, nan_box, 1, a) == FN_ERR_ARG);
    CHECK(fn_landmarks68(lm, &img, NULL, 1, a) == FN_ERR_ARG);
    CHECK(fn_landmarks68(lm, &img, full, 0, NULL) == FN_OK);
    fn_landmarker *bad;
    CHECK(fn_landmarker_open(FN_SOURCE_DIR "/models/dlib_resnet.safetensors", &bad) == FN_ERR_MISSING && !bad);
    printf("  dlib ResNet as a landmark model: %s\n", fn_last_error());
    CHECK(fn_landmarker_open(FIX "nope.safetensors", &bad) == FN_ERR_IO);
    fn_image_free(&img);
    fn_json_free(exp);
    fn_json_free(crops);
    fn_landmarker_close(lm);
    return tu_finish("test_landmark68");
}
