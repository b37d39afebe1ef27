/* test_mtcnn.c — the MTCNN detector against facenet-pytorch's output on the shared photos
 * (fixtures/mtcnn_reference.json), the .npy and .pt weight sets against each other, and
 * the NMS / area-resampling building blocks against hand-computed values.
 *
 * Agreement criteria (issue #4): every reference face found with IoU >= 0.9, mean
 * landmark error < 2% of the box width, no extra face with score >= 0.9. */
#include "test_util.h"
#include "core.h"
#include "json.h"
#include "detect/detect.h"
#include "weights.h"
#include <unistd.h>
#include <sys/stat.h>
#include <omp.h>

/* Under the sanitizers (CI) every 10th reference image is enough to run every code path;
 * the Release run checks them all. */
#if defined(__SANITIZE_ADDRESS__)
#define REF_STRIDE 10
#else
#define REF_STRIDE 1
#endif

static float iou(const float *a, const float *b) {
    float w = fminf(a[2], b[2]) - fmaxf(a[0], b[0]), h = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    if (w <= 0 || h <= 0) return 0;
    float inter = w * h;
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

static void test_nms(void) {
    printf("nms\n");
    mtcnn_box b[4];
    memset(b, 0, sizeof b);
    /* (0,0,10,10) 0.9; (1,0,11,10) 0.8 IoU 9/11=0.82; (20,20,30,30) 0.7; (0,0,5,5) 0.95 inside */
    float v[4][5] = { { 0, 0, 10, 10, .9f }, { 1, 0, 11, 10, .8f }, { 20, 20, 30, 30, .7f }, { 0, 0, 5, 5, .95f } };
    for (int i = 0; i < 4; i++) { b[i].x1 = v[i][0]; b[i].y1 = v[i][1]; b[i].x2 = v[i][2]; b[i].y2 = v[i][3]; b[i].score = v[i][4]; }
    mtcnn_box c[4];
    memcpy(c, b, sizeof b);
    int k = mtcnn_nms(c, 4, 0.5f, MTCNN_NMS_UNION); /* small box IoU 25/100 with big: kept */
    CHECK(k == 3);
    CHECK(c[0].score == .95f && c[1].score == .9f && c[2].score == .7f);
    memcpy(c, b, sizeof b);
    k = mtcnn_nms(c, 4, 0.85f, MTCNN_NMS_UNION); /* 0.82 <= 0.85: all kept */
    CHECK(k == 4);
    memcpy(c, b, sizeof b);
    k = mtcnn_nms(c, 4, 0.7f, MTCNN_NMS_MIN_PLUS1); /* big box: overlap/min = 36/36 = 1 -> dropped */
    CHECK(k == 2);
    CHECK(c[0].score == .95f && c[1].score == .7f);
    printf("  kept counts as expected (union 0.5: 3, union 0.85: 4, min 0.7: 2)\n");
}

static void test_resample(void) {
    printf("area resample\n");
    /* 5x1 grey ramp 0,10,20,30,40 -> 3 cells: [0,2)=5, [1,4)=20, [3,5)=35 (adaptive pool) */
    uint8_t px[15];
    for (int i = 0; i < 5; i++) px[i * 3] = px[i * 3 + 1] = px[i * 3 + 2] = (uint8_t)(10 * i);
    fn_image img = { 5, 1, px };
    float out[9], want[3] = { 5, 20, 35 };
    uint32_t *sat = mtcnn_integral(&img);
    CHECK(sat != NULL);
    for (int pass = 0; pass < 2; pass++) { /* direct sums, then the summed-area table */
        const uint32_t *t = pass ? sat : NULL;
        mtcnn_area_resample(&img, t, 0, 0, 5, 1, 3, 1, out);
        float got[3];
        for (int i = 0; i < 3; i++) got[i] = out[i * 3 + 1] / 0.0078125f + 127.5f;
        CHECK_CLOSE(pass ? "5->3 area means (table)" : "5->3 area means", got, want, 3, 1e-4);
        /* upsampling 2 -> 3 of pixels 1..2: cells [1,2)=10, [1,3)=15, [2,3)=20 */
        float out2[9], want2[3] = { 10, 15, 20 };
        mtcnn_area_resample(&img, t, 1, 0, 2, 1, 3, 1, out2);
        for (int i = 0; i < 3; i++) got[i] = out2[i * 3] / 0.0078125f + 127.5f;
        CHECK_CLOSE(pass ? "2->3 area means (table)" : "2->3 area means", got, want2, 3, 1e-4);
    }
    /* both paths agree bit for bit on a random image and odd window sizes */
    fn_image rnd;
    fn_rng rng = { 7 };
    if (fn_image_alloc(97, 61, &rnd) == FN_OK) {
        for (int i = 0; i < 97 * 61 * 3; i++) rnd.rgb[i] = (uint8_t)(fn_rng_next(&rng) & 255);
        uint32_t *t = mtcnn_integral(&rnd);
        float a[31 * 17 * 3], b[31 * 17 * 3];
        mtcnn_area_resample(&rnd, NULL, 3, 5, 90, 50, 31, 17, a);
        mtcnn_area_resample(&rnd, t, 3, 5, 90, 50, 31, 17, b);
        CHECK_CLOSE("table vs direct (97x61 random)", a, b, 31 * 17 * 3, 0);
        free(t);
        fn_image_free(&rnd);
    }
    free(sat);
    double sc[64];
    int n = mtcnn_pyramid_scales(250, 250, 20, 0.709, sc, 64);
    /* 250*0.6 = 150 -> ... while >= 12: 150,106.4,75.4,53.5,37.9,26.9,19.1,13.5 */
    CHECK(n == 8);
    CHECK(fabs(sc[0] - 0.6) < 1e-12 && fabs(sc[1] - 0.6 * 0.709) < 1e-12);
}

static fn_detector *open_subset(const char *tmp, const char *names[3]) {
    mkdir(tmp, 0700);
    for (int i = 0; i < 3; i++) {
        char src[1024], dst[1024];
        snprintf(src, sizeof src, "%s/models/mtcnn/%s", FN_SHARED_DIR, names[i]);
        snprintf(dst, sizeof dst, "%s/%s", tmp, names[i]);
        unlink(dst);
        if (symlink(src, dst) != 0) { perror(dst); return NULL; }
    }
    fn_detector *d = NULL;
    fn_status s = fn_detector_open(tmp, &d);
    if (s != FN_OK) fprintf(stderr, "open %s: %s\n", tmp, fn_last_error());
    return d;
}

static void cleanup_subset(const char *tmp, const char *names[3]) {
    char p[1024];
    for (int i = 0; i < 3; i++) { snprintf(p, sizeof p, "%s/%s", tmp, names[i]); unlink(p); }
    rmdir(tmp);
}

int main(void) {
    test_nms();
    test_resample();

    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/mtcnn_reference.json", FN_SHARED_DIR);
    uint8_t *text; size_t len;
    if (fn_read_file(path, &text, &len) != FN_OK) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
    fn_json *ref;
    if (fn_json_parse((const char *)text, len, &ref) != FN_OK) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
    free(text);

    /* both weight sets, each in its own folder of links */
    static const char *pt[3] = { "pnet.pt", "rnet.pt", "onet.pt" }, *npy[3] = { "det1.npy", "det2.npy", "det3.npy" };
    char tmp_pt[256], tmp_npy[256];
    snprintf(tmp_pt, sizeof tmp_pt, "%s/test_mtcnn_pt.%d", FN_BUILD_DIR, (int)getpid());
    snprintf(tmp_npy, sizeof tmp_npy, "%s/test_mtcnn_npy.%d", FN_BUILD_DIR, (int)getpid());
    fn_detector *det = open_subset(tmp_pt, pt), *det_npy = open_subset(tmp_npy, npy);
    cleanup_subset(tmp_pt, pt);
    cleanup_subset(tmp_npy, npy);
    CHECK_MSG(det != NULL, "the .pt weights did not load");
    CHECK_MSG(det_npy != NULL, "the det*.npy weights did not load");
    if (!det) return tu_finish("test_mtcnn");

    /* bad input: clear errors, no crash */
    fn_face *faces; int n;
    fn_image empty = { 0, 0, NULL };
    CHECK(fn_detect(det, &empty, NULL, &faces, &n) == FN_ERR_ARG);
    fn_detect_params bad;
    fn_detect_params_default(&bad);
    bad.factor = 1.5f;
    uint8_t grey[48 * 48 * 3];
    memset(grey, 128, sizeof grey);
    fn_image small = { 48, 48, grey };
    CHECK(fn_detect(det, &small, &bad, &faces, &n) == FN_ERR_ARG);
    CHECK(fn_detect(det, &small, NULL, &faces, &n) == FN_OK && n == 0);
    free(faces);
    fn_image tiny = { 5, 5, grey };
    CHECK(fn_detect(det, &tiny, NULL, &faces, &n) == FN_OK && n == 0);
    free(faces);
    fn_detector *none = NULL;
    CHECK(fn_detector_open("/nonexistent/mtcnn", &none) != FN_OK && none == NULL);
    printf("  missing weights: %s\n", fn_last_error());
    /* a folder whose pnet.pt is garbage: a clear error, no detector */
    {
        char dir[300], f[400];
        snprintf(dir, sizeof dir, "%s/test_mtcnn_bad.%d", FN_BUILD_DIR, (int)getpid());
        mkdir(dir, 0700);
        static const char *names[3] = { "pnet.pt", "rnet.pt", "onet.pt" };
        for (int i = 0; i < 3; i++) {
            snprintf(f, sizeof f, "%s/%s", dir, names[i]);
            FILE *fp = fopen(f, "wb");
            if (fp) { fputs("PK\x03\x04 not really a torch file", fp); fclose(fp); }
        }
        CHECK(fn_detector_open(dir, &none) != FN_OK && none == NULL);
        printf("  corrupt weights: %s\n", fn_last_error());
        for (int i = 0; i < 3; i++) { snprintf(f, sizeof f, "%s/%s", dir, names[i]); unlink(f); }
        rmdir(dir);
    }
    /* the canonical set written as one .safetensors (what `facenet convert` makes) loads too */
    fn_detector *det_st = NULL;
    {
        char dir[300], st[400];
        snprintf(dir, sizeof dir, "%s/models/mtcnn", FN_SHARED_DIR);
        snprintf(st, sizeof st, "%s/test_mtcnn.%d.safetensors", FN_BUILD_DIR, (int)getpid());
        fn_tensor_set ts;
        fn_tensor_set_init(&ts);
        CHECK(fn_mtcnn_weights_load(dir, &ts) == FN_OK);
        CHECK(fn_safetensors_save(st, &ts, NULL) == FN_OK);
        fn_tensor_set_free(&ts);
        CHECK_MSG(fn_detector_open(st, &det_st) == FN_OK, "%s", fn_last_error());
        unlink(st);
    }

    const fn_json *results = fn_json_get(ref, "results");
    CHECK(results && results->n > 0);
    int n_ref = 0, n_found = 0, n_extra = 0, n_images = 0, hist[5] = { 0 };
    double lm_sum = 0, iou_min = 1, iou_sum = 0, t_total = 0, npy_maxdiff = 0;
    int npy_compared = 0, npy_count_mismatch = 0;
    float *ious = malloc(sizeof(float) * 4096);
    for (int r = 0; results && r < results->n; r += REF_STRIDE) {
        const fn_json *res = fn_json_at(results, r);
        const fn_json *rf = fn_json_get(res, "faces");
        snprintf(path, sizeof path, "%s/%s", FN_SHARED_DIR, fn_json_get(res, "image")->string);
        fn_image img;
        if (fn_image_load(path, 0, &img) != FN_OK) { CHECK_MSG(0, "%s: %s", path, fn_last_error()); continue; }
        CHECK(img.w == (int)fn_json_get(res, "width")->number && img.h == (int)fn_json_get(res, "height")->number);
        double t0 = fn_now();
        fn_status s = fn_detect(det, &img, NULL, &faces, &n);
        t_total += fn_now() - t0;
        n_images++;
        CHECK_MSG(s == FN_OK, "%s: %s", path, fn_last_error());
        if (s != FN_OK) { fn_image_free(&img); continue; }
        for (int i = 1; i < n; i++) CHECK(faces[i - 1].score >= faces[i].score);
        int *matched = calloc((size_t)n + 1, sizeof(int));
        for (int k = 0; k < rf->n; k++) {
            const fn_json *f = fn_json_at(rf, k), *bx = fn_json_get(f, "box"), *lm = fn_json_get(f, "landmarks");
            float rb[4];
            for (int j = 0; j < 4; j++) rb[j] = (float)fn_json_at(bx, j)->number;
            int best = -1;
            float best_iou = 0;
            for (int i = 0; i < n; i++) {
                float v = iou(rb, faces[i].box);
                if (v > best_iou) { best_iou = v; best = i; }
            }
            n_ref++;
            if (n_ref <= 4096) ious[n_ref - 1] = best_iou;
            iou_sum += best_iou;
            if (best_iou < iou_min) iou_min = best_iou;
            hist[best_iou >= 0.99f ? 0 : best_iou >= 0.97f ? 1 : best_iou >= 0.95f ? 2 : best_iou >= 0.9f ? 3 : 4]++;
            CHECK_MSG(best_iou >= 0.9f, "%s face %d: best IoU %.3f", path, k, best_iou);
            if (best < 0) continue;
            matched[best] = 1;
            if (best_iou >= 0.9f) n_found++;
            double e = 0;
            for (int j = 0; j < 5; j++) {
                const fn_json *pt2 = fn_json_at(lm, j);
                e += hypot(faces[best].landmarks[j][0] - fn_json_at(pt2, 0)->number,
                           faces[best].landmarks[j][1] - fn_json_at(pt2, 1)->number);
            }
            lm_sum += e / 5 / (rb[2] - rb[0]);
        }
        for (int i = 0; i < n; i++)
            if (!matched[i] && faces[i].score >= 0.9f) {
                n_extra++;
                CHECK_MSG(0, "%s: extra face score %.4f box %.1f,%.1f,%.1f,%.1f", path, faces[i].score,
                          faces[i].box[0], faces[i].box[1], faces[i].box[2], faces[i].box[3]);
            }
        free(matched);
        /* the .safetensors copy gives the very same faces */
        if (det_st && r % (4 * REF_STRIDE) == 0) {
            fn_face *f3; int n3;
            CHECK(fn_detect(det_st, &img, NULL, &f3, &n3) == FN_OK);
            CHECK(n3 == n && (n == 0 || memcmp(f3, faces, sizeof(fn_face) * (size_t)n) == 0));
            free(f3);
        }
        /* the det*.npy weights (Caffe, transposed) must give the same detections */
        if (det_npy && r % (8 * REF_STRIDE) == 0) {
            fn_face *f2; int n2;
            s = fn_detect(det_npy, &img, NULL, &f2, &n2);
            CHECK(s == FN_OK);
            if (s == FN_OK) {
                npy_compared++;
                if (n2 != n) npy_count_mismatch++;
                for (int i = 0; i < n && i < n2; i++) {
                    for (int j = 0; j < 4; j++) npy_maxdiff = fmax(npy_maxdiff, fabs(f2[i].box[j] - faces[i].box[j]));
                    for (int j = 0; j < 5; j++)
                        for (int c = 0; c < 2; c++) npy_maxdiff = fmax(npy_maxdiff, fabs(f2[i].landmarks[j][c] - faces[i].landmarks[j][c]));
                }
                free(f2);
            }
        }
        free(faces);
        fn_image_free(&img);
    }
    double lm_mean = n_found ? lm_sum / n_found : 1;
    printf("reference agreement over %d images, %d reference faces\n", n_images, n_ref);
    printf("  found (IoU >= 0.9): %d / %d, extra faces with score >= 0.9: %d\n", n_found, n_ref, n_extra);
    printf("  IoU: min %.4f, mean %.4f; >=0.99: %d, 0.97-0.99: %d, 0.95-0.97: %d, 0.90-0.95: %d, <0.90: %d\n",
           iou_min, n_ref ? iou_sum / n_ref : 0, hist[0], hist[1], hist[2], hist[3], hist[4]);
    if (n_ref > 0 && n_ref <= 4096) {
        /* the distribution's quantiles */
        for (int i = 1; i < n_ref; i++)
            for (int j = i; j > 0 && ious[j - 1] > ious[j]; j--) { float t = ious[j]; ious[j] = ious[j - 1]; ious[j - 1] = t; }
        printf("  IoU quantiles: p5 %.4f, p25 %.4f, median %.4f, p75 %.4f\n", ious[n_ref * 5 / 100],
               ious[n_ref / 4], ious[n_ref / 2], ious[n_ref * 3 / 4]);
    }
    printf("  mean landmark error: %.2e of the box width (tol 0.02)\n", lm_mean);
    printf("  detection time: %.1f ms per image (mean)\n", n_images ? 1000 * t_total / n_images : 0);
    CHECK(n_found == n_ref && n_ref > 0);
    CHECK(n_extra == 0);
    CHECK(lm_mean < 0.02);
    printf("npy vs pt weights on %d images: count mismatches %d, max |diff| %.3g px (tol 0.01)\n",
           npy_compared, npy_count_mismatch, npy_maxdiff);
    CHECK(npy_compared > 0 && npy_count_mismatch == 0);
    CHECK(npy_maxdiff <= 0.01);
    free(ious);

    /* fn_detect_batch equals image-by-image fn_detect, and the thread count changes nothing */
    {
        enum { NB = 4 };
        fn_image imgs[NB];
        fn_face *one[NB], *batch[NB];
        int n_one[NB], n_batch[NB], loaded = 0, same = 1, same_threads = 1;
        fn_status st[NB];
        for (int i = 0; i < NB && results; i++) {
            const fn_json *res = fn_json_at(results, i * 7);
            snprintf(path, sizeof path, "%s/%s", FN_SHARED_DIR, fn_json_get(res, "image")->string);
            if (fn_image_load(path, 0, &imgs[loaded]) == FN_OK) loaded++;
        }
        CHECK(loaded == NB);
        int threads = omp_get_max_threads();
        for (int i = 0; i < loaded; i++) {
            omp_set_num_threads(1);
            fn_face *f1; int n1;
            CHECK(fn_detect(det, &imgs[i], NULL, &f1, &n1) == FN_OK);
            omp_set_num_threads(threads > 1 ? threads : 2);
            CHECK(fn_detect(det, &imgs[i], NULL, &one[i], &n_one[i]) == FN_OK);
            if (n1 != n_one[i] || memcmp(f1, one[i], sizeof(fn_face) * (size_t)n1) != 0) same_threads = 0;
            free(f1);
        }
        CHECK(fn_detect_batch(det, imgs, loaded, NULL, batch, n_batch, st) == FN_OK);
        for (int i = 0; i < loaded; i++) {
            CHECK(st[i] == FN_OK);
            if (n_batch[i] != n_one[i] || memcmp(batch[i], one[i], sizeof(fn_face) * (size_t)n_one[i]) != 0) same = 0;
            free(batch[i]);
            free(one[i]);
        }
        printf("fn_detect_batch on %d images equals fn_detect: %s; 1 vs %d threads bit-identical: %s\n",
               loaded, same ? "yes" : "NO", threads > 1 ? threads : 2, same_threads ? "yes" : "NO");
        CHECK(same);
        CHECK(same_threads);
        fn_image bad[2] = { imgs[0], { 0, 0, NULL } };
        fn_face *bf[2]; int bn[2]; fn_status bst[2];
        CHECK(fn_detect_batch(det, bad, 2, NULL, bf, bn, bst) == FN_ERR_ARG);
        CHECK(bst[0] == FN_OK && bst[1] == FN_ERR_ARG);
        free(bf[0]);
        for (int i = 0; i < loaded; i++) fn_image_free(&imgs[i]);
    }
    fn_json_free(ref);
    fn_detector_close(det);
    fn_detector_close(det_npy);
    fn_detector_close(det_st);
    return tu_finish("test_mtcnn");
}
