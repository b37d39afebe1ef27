/* test_dlib_pipeline.c — detect (MTCNN) → 5-point dlib chip → dlib ResNet on real photos:
 * the two Anthony Hopkins photos must be closer to each other than to any of the four
 * other people (facenet-pytorch's sample photos), with a margin. The large photos are
 * first scaled to at most 640 px (keeps the test fast under ASan; the full-size path is
 * covered by tests/cli_compare_dlib.sh). */
#include "test_util.h"
#include "core.h"

static const char *photos[] = {
    "data/faces/facenet/Anthony_Hopkins_0001.jpg", "data/faces/facenet/Anthony_Hopkins_0002.jpg",
    "data/faces/facenet-pytorch/angelina_jolie.jpg", "data/faces/facenet-pytorch/kate_siegel.jpg",
    "data/faces/facenet-pytorch/paul_rudd.jpg", "data/faces/facenet-pytorch/shea_whigham.jpg",
};
#define N 6

int main(void) {
    fn_detector *det;
    fn_model *m;
    if (fn_detector_open(FN_SHARED_DIR "/models/mtcnn", &det) != FN_OK) {
        fprintf(stderr, "FAIL: MTCNN: %s\n", fn_last_error());
        return 1;
    }
    if (fn_model_open(FN_SOURCE_DIR "/models/dlib_resnet.safetensors", &m) != FN_OK) {
        fprintf(stderr, "FAIL: %s: run scripts/get-models.sh\n", fn_last_error());
        return 1;
    }
    float emb[N][128];
    for (int i = 0; i < N; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", FN_SHARED_DIR, photos[i]);
        fn_image img, crop;
        fn_face *faces = NULL;
        int n = 0;
        CHECK(fn_image_load(path, 1, &img) == FN_OK);
        if (img.w > 640 || img.h > 640) {
            double f = 640.0 / (img.w > img.h ? img.w : img.h);
            fn_image small;
            CHECK(fn_image_resize(&img, (int)(img.w * f), (int)(img.h * f), &small) == FN_OK);
            fn_image_free(&img);
            img = small;
        }
        double t0 = fn_now();
        CHECK(fn_detect(det, &img, NULL, &faces, &n) == FN_OK);
        CHECK_MSG(n >= 1, "%s: no face", photos[i]);
        if (n < 1) { fn_image_free(&img); free(faces); return tu_finish("test_dlib_pipeline"); }
        int k = fn_face_pick_largest(faces, n, img.w, img.h, 0);
        CHECK(fn_model_crop(m, &img, &faces[k], &crop) == FN_OK);
        CHECK(crop.w == 150 && crop.h == 150);
        CHECK(fn_model_embed(m, &crop, 1, emb[i]) == FN_OK);
        printf("  %-45s %4dx%-4d %d face(s), %.0f ms\n", photos[i], img.w, img.h, n, (fn_now() - t0) * 1e3);
        fn_image_free(&crop); fn_image_free(&img); free(faces);
    }
    float same = fn_distance_sq(emb[0], emb[1], 128), closest = 1e9f;
    for (int a = 0; a < 2; a++)
        for (int b = 2; b < N; b++) {
            float d = fn_distance_sq(emb[a], emb[b], 128);
            printf("  %s vs %s: %.3f\n", a ? "Hopkins_2" : "Hopkins_1", photos[b] + 26, d);
            closest = d < closest ? d : closest;
        }
    for (int a = 2; a < N; a++)
        for (int b = a + 1; b < N; b++) { float d = fn_distance_sq(emb[a], emb[b], 128); closest = d < closest ? d : closest; }
    printf("  same person %.3f, closest different pair %.3f (need same < 0.5 * closest)\n", same, closest);
    CHECK(same < 0.5f * closest);
    fn_model_close(m);
    fn_detector_close(det);
    return tu_finish("test_dlib_pipeline");
}
