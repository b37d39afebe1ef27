/* test_crop.c — facenet's face choice (fn_face_pick_largest) and crop (fn_crop_margin), and
 * our crops against the peer's: facenet-pytorch's aligned/NAME.png in ../shared.
 *
 * How the peer made them (facenet-pytorch tests/travis_test.py): the photo is first
 * resized with torchvision Resize(512) (shorter side 512, PIL bilinear), then
 * MTCNN(image_size=160, margin=0) picks the largest box and extract_face() crops
 * int(box) clipped to the image, PIL-bilinear to 160x160. extract_face applies a margin in
 * the 160-px scale: margin * (box width) / (160 - margin); with margin 0 that is the box. */
#include "test_util.h"
#include "core.h"

/* facenet-pytorch's extract_face() crop */
static fn_status extract_face(const fn_image *img, const float *box, int size, int margin,
                              fn_image *out) {
    float mx = margin * (box[2] - box[0]) / (size - margin), my = margin * (box[3] - box[1]) / (size - margin);
    int x1 = (int)fmaxf(box[0] - mx / 2, 0), y1 = (int)fmaxf(box[1] - my / 2, 0);
    int x2 = (int)fminf(box[2] + mx / 2, img->w), y2 = (int)fminf(box[3] + my / 2, img->h);
    fn_image cut;
    FN_TRY(fn_image_crop(img, x1, y1, x2 - x1, y2 - y1, &cut));
    fn_status s = fn_image_resize(&cut, size, size, out);
    fn_image_free(&cut);
    return s;
}

static void test_pick(void) {
    printf("fn_face_pick_largest\n");
    fn_face f[3];
    memset(f, 0, sizeof f);
    /* 100x100 image: a 30x30 box in the corner, a 20x20 box in the centre, a 10x10 one */
    float b[3][4] = { { 0, 0, 30, 30 }, { 40, 40, 60, 60 }, { 70, 70, 80, 80 } };
    for (int i = 0; i < 3; i++) memcpy(f[i].box, b[i], sizeof b[i]);
    CHECK(fn_face_pick_largest(f, 3, 100, 100, 0) == 0);
    /* centre penalty: 900 - 2*(35^2*2) < 400 - 0 */
    CHECK(fn_face_pick_largest(f, 3, 100, 100, 1) == 1);
    CHECK(fn_face_pick_largest(f, 0, 100, 100, 0) == -1);
    CHECK(fn_face_pick_largest(NULL, 3, 100, 100, 0) == -1);
}

static void test_crop_margin(void) {
    printf("fn_crop_margin\n");
    fn_image img;
    if (fn_image_alloc(64, 48, &img) != FN_OK) { CHECK(0); return; }
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++) {
            uint8_t *p = img.rgb + ((size_t)y * 64 + x) * 3;
            p[0] = (uint8_t)(x * 4); p[1] = (uint8_t)(y * 5); p[2] = (uint8_t)((x * y) & 255);
        }
    /* box 10.7,8.2 .. 30.9,28.6, margin 8 -> int(6.7),int(4.2),int(34.9),int(32.6) = 6,4,34,32 */
    float box[4] = { 10.7f, 8.2f, 30.9f, 28.6f };
    fn_image got, cut, want;
    CHECK(fn_crop_margin(&img, box, 8, 28, &got) == FN_OK);
    CHECK(fn_image_crop(&img, 6, 4, 28, 28, &cut) == FN_OK);
    CHECK(got.w == 28 && got.h == 28 && cut.w == 28);
    if (got.rgb && cut.rgb) CHECK(memcmp(got.rgb, cut.rgb, 28 * 28 * 3) == 0); /* same size: a copy */
    printf("  margin 8 crop equals the hand-computed rectangle 6,4..34,32\n");
    fn_image_free(&got);
    /* clipped at the image border, then resized */
    float edge[4] = { -5, -3, 20, 22 };
    CHECK(fn_crop_margin(&img, edge, 44, 16, &got) == FN_OK);
    fn_image cut2;
    CHECK(fn_image_crop(&img, 0, 0, 42, 44, &cut2) == FN_OK);
    CHECK(fn_image_resize(&cut2, 16, 16, &want) == FN_OK);
    if (got.rgb && want.rgb) CHECK(memcmp(got.rgb, want.rgb, 16 * 16 * 3) == 0);
    fn_image_free(&got); fn_image_free(&want); fn_image_free(&cut); fn_image_free(&cut2);
    /* errors, not crashes */
    float outside[4] = { 100, 100, 120, 120 }, nan_box[4] = { NAN, 0, 10, 10 };
    CHECK(fn_crop_margin(&img, outside, 0, 16, &got) == FN_ERR_ARG && got.rgb == NULL);
    CHECK(fn_crop_margin(&img, nan_box, 0, 16, &got) == FN_ERR_ARG);
    CHECK(fn_crop_margin(&img, box, -2, 16, &got) == FN_ERR_ARG);
    CHECK(fn_crop_margin(&img, box, 0, 0, &got) == FN_ERR_ARG);
    fn_image_free(&img);
}

static void test_peer_crops(fn_detector *det) {
    static const char *names[] = { "angelina_jolie", "kate_siegel", "paul_rudd", "shea_whigham" };
    printf("margin crops vs facenet-pytorch aligned/NAME.png (Resize(512), margin 0, 160 px)\n");
    double sum = 0;
    int n_cmp = 0;
    for (int k = 0; k < 4; k++) {
        char path[1024];
        fn_image photo, img, ref, crop;
        snprintf(path, sizeof path, "%s/data/faces/facenet-pytorch/%s.jpg", FN_SHARED_DIR, names[k]);
        if (fn_image_load(path, 0, &photo) != FN_OK) { CHECK_MSG(0, "%s", fn_last_error()); continue; }
        /* torchvision Resize(512): shorter side 512, the other int(512 * long / short) */
        int w = photo.w < photo.h ? 512 : (int)(512.0 * photo.w / photo.h);
        int h = photo.w < photo.h ? (int)(512.0 * photo.h / photo.w) : 512;
        CHECK(fn_image_resize(&photo, w, h, &img) == FN_OK);
        fn_image_free(&photo);
        fn_face *faces; int n;
        CHECK(fn_detect(det, &img, NULL, &faces, &n) == FN_OK && n >= 1);
        if (n < 1) { fn_image_free(&img); continue; }
        int best = fn_face_pick_largest(faces, n, img.w, img.h, 0);
        CHECK(extract_face(&img, faces[best].box, 160, 0, &crop) == FN_OK);
        snprintf(path, sizeof path, "%s/data/faces/facenet-pytorch/aligned/%s.png", FN_SHARED_DIR, names[k]);
        CHECK(fn_image_load(path, 0, &ref) == FN_OK);
        if (crop.rgb && ref.rgb && ref.w == 160 && ref.h == 160) {
            double mad = 0;
            for (int i = 0; i < 160 * 160 * 3; i++) mad += abs((int)crop.rgb[i] - (int)ref.rgb[i]);
            mad /= 160 * 160 * 3;
            printf("  %-16s %dx%d, box %.1f,%.1f,%.1f,%.1f: mean |diff| %.2f levels (tol 15)\n", names[k],
                   img.w, img.h, faces[best].box[0], faces[best].box[1], faces[best].box[2], faces[best].box[3], mad);
            CHECK(mad < 15);
            sum += mad;
            n_cmp++;
        }
        free(faces);
        fn_image_free(&crop); fn_image_free(&ref); fn_image_free(&img);
    }
    printf("  mean over %d crops: %.2f levels (tol 8)\n", n_cmp, n_cmp ? sum / n_cmp : 0);
    CHECK(n_cmp == 4 && sum / n_cmp < 8);
}

int main(void) {
    test_pick();
    test_crop_margin();
    char path[1024];
    snprintf(path, sizeof path, "%s/models/mtcnn", FN_SHARED_DIR);
    fn_detector *det = NULL;
    CHECK_MSG(fn_detector_open(path, &det) == FN_OK, "%s", fn_last_error());
    if (det) test_peer_crops(det);
    fn_detector_close(det);
    return tu_finish("test_crop");
}
