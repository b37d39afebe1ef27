/* test_video.c — fn_video, fn_video_writer and the tracker's API on the Hamilton clip:
 * decoded frames against the ffmpeg command line's rgb24 output (the reference), the same
 * frames from memory as from the file, an H.264 round trip (PSNR, times), corrupt and
 * truncated inputs, and the tracker's contract (order, interpolation, ids, finish). */
#define _GNU_SOURCE
#include "core.h"
#include "test_util.h"
#include <unistd.h>

#define CLIP FN_SHARED_DIR "/data/faces/face_recognition/examples/short_hamilton_clip.mp4"

static double psnr(const fn_image *a, const fn_image *b, int w, int h) {
    double se = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w * 3; x++) {
            double d = (double)a->rgb[(size_t)y * a->w * 3 + x] - b->rgb[(size_t)y * b->w * 3 + x];
            se += d * d;
        }
    double mse = se / ((double)w * h * 3);
    return mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : 99;
}

static void test_decode(void) {
    printf("decode\n");
    fn_video *v = NULL;
    fn_status s = fn_video_open(CLIP, NULL, &v);
    CHECK_MSG(s == FN_OK, "open: %s", fn_last_error());
    if (s) return;
    fn_video_info in;
    fn_video_get_info(v, &in);
    printf("  %dx%d %.3f fps, %lld frames declared, start %.6f s, codec %s, container %s, live %d\n", in.width,
           in.height, in.fps, (long long)in.n_frames, in.start_time, in.codec, in.container, in.live);
    CHECK(in.width == 640 && in.height == 360 && fabs(in.fps - 29.97) < 0.01 && in.n_frames == 275 && !in.live);

    /* the reference frame: the ffmpeg command line, rgb24 */
    char ref_path[] = "/tmp/test_video_ref_XXXXXX";
    int fd = mkstemp(ref_path);
    CHECK(fd >= 0);
    close(fd);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -y -i '%s' -vf 'select=eq(n\\,100)' -frames:v 1 -f rawvideo "
             "-pix_fmt rgb24 '%s'", CLIP, ref_path);
    CHECK_MSG(system(cmd) == 0, "ffmpeg (Debian's ffmpeg) failed: %s", cmd);
    uint8_t *ref = NULL; size_t ref_size = 0;
    CHECK(fn_read_file(ref_path, &ref, &ref_size) == FN_OK && ref_size == 640 * 360 * 3);
    unlink(ref_path);

    fn_image img = { 0, 0, NULL }, f100 = { 0, 0, NULL };
    fn_video_frame fr;
    int got, n = 0, ordered = 1;
    double last = -1, first_time = 0;
    while ((s = fn_video_read(v, &img, &fr, &got)) == FN_OK && got) {
        if (fr.index != n || !(fr.time > last)) ordered = 0;
        if (n == 0) first_time = fr.time;
        last = fr.time;
        if (n == 100) {
            fn_image_alloc(img.w, img.h, &f100);
            memcpy(f100.rgb, img.rgb, (size_t)img.w * img.h * 3);
        }
        n++;
    }
    printf("  %d frames read, %.6f .. %.6f s, corrupt packets %lld, end: %s\n", n, first_time, last,
           (long long)fn_video_corrupt_packets(v), fn_video_end_error(v) ? fn_video_end_error(v) : "clean");
    CHECK(s == FN_OK && n == 275 && ordered && !fn_video_end_error(v));
    CHECK(fabs(first_time - 0.852019) < 1e-6 && fabs(last - 9.994) < 1e-3); /* ffprobe's times */
    if (ref && ref_size == 640 * 360 * 3 && f100.rgb) {
        int maxd = 0; double sum = 0;
        for (size_t i = 0; i < ref_size; i++) {
            int d = abs((int)ref[i] - f100.rgb[i]);
            if (d > maxd) maxd = d;
            sum += d;
        }
        printf("  frame 100 vs ffmpeg -pix_fmt rgb24: max |diff| %d, mean %.4f\n", maxd, sum / ref_size);
        CHECK(maxd <= 2 && sum / ref_size < 0.05);
    }
    free(ref);
    fn_video_close(v);

    /* the same bytes from memory give the same frames */
    uint8_t *data; size_t size;
    CHECK(fn_read_file(CLIP, &data, &size) == FN_OK);
    fn_video_options mo = { 1, NULL, 0 };
    s = fn_video_open_memory(data, size, &mo, &v);
    CHECK_MSG(s == FN_OK, "open_memory: %s", fn_last_error());
    int same = 1; n = 0;
    while (s == FN_OK && (s = fn_video_read(v, &img, &fr, &got)) == FN_OK && got) {
        if (fr.index == 100) same = f100.rgb && !memcmp(img.rgb, f100.rgb, (size_t)img.w * img.h * 3);
        n++;
    }
    printf("  from memory: %d frames, frame 100 identical: %d\n", n, same);
    CHECK(n == 275 && same);
    fn_video_close(v);

    /* truncated (the index sits at the end) and garbage: errors, not crashes */
    s = fn_video_open_memory(data, 300000, &mo, &v);
    printf("  truncated to 300000 bytes: %s (%s)\n", fn_status_str(s), fn_last_error());
    CHECK(s == FN_ERR_FORMAT && !v);
    fn_video_close(v); v = NULL;
    uint8_t junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 7919u >> 3);
    s = fn_video_open_memory(junk, sizeof junk, &mo, &v);
    CHECK(s == FN_ERR_FORMAT && !v);
    fn_video_close(v); v = NULL;
    /* frames above max_pixels are refused */
    fn_video_options small = { 1, NULL, 320 * 240 };
    s = fn_video_open_memory(data, size, &small, &v);
    printf("  max_pixels 76800: %s (%s)\n", fn_status_str(s), fn_last_error());
    CHECK(s == FN_ERR_LIMIT && !v);
    fn_video_close(v); v = NULL;
    s = fn_video_open("/nonexistent/video.mp4", NULL, &v);
    CHECK(s == FN_ERR_IO && !v);
    free(data);
    fn_image_free(&img);
    fn_image_free(&f100);
}

static void test_writer(void) {
    printf("writer\n");
    char dir[] = "/tmp/test_video_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/rt.mp4", dir);
    fn_video *v = NULL;
    CHECK(fn_video_open(CLIP, NULL, &v) == FN_OK);
    if (!v) return;
    enum { N = 30 };
    fn_image orig[N];
    double times[N];
    fn_video_writer *w = NULL;
    fn_image img = { 0, 0, NULL };
    fn_video_frame fr;
    int got;
    fn_status s = FN_OK;
    for (int i = 0; i < N; i++) {
        fn_video_read(v, &img, &fr, &got);
        if (i == 0) s = fn_video_writer_open(path, img.w, img.h, 29.97, &w);
        CHECK_MSG(s == FN_OK, "writer: %s", fn_last_error());
        if (s) break;
        fn_image_alloc(img.w, img.h, &orig[i]);
        memcpy(orig[i].rgb, img.rgb, (size_t)img.w * img.h * 3);
        times[i] = fr.time;
        CHECK(fn_video_writer_write(w, &img, fr.time) == FN_OK);
        if (i == 0) CHECK(access(path, F_OK) != 0); /* nothing at the final path until closed */
    }
    fn_video_close(v);
    if (s) return;
    CHECK(fn_video_writer_close(w) == FN_OK);
    v = NULL;
    CHECK(fn_video_open(path, NULL, &v) == FN_OK);
    int n = 0;
    double worst_psnr = 99, worst_dt = 0;
    while (v && fn_video_read(v, &img, &fr, &got) == FN_OK && got) {
        if (n < N) {
            double p = psnr(&img, &orig[n], img.w, img.h);
            if (p < worst_psnr) worst_psnr = p;
            double dt = fabs((fr.time - 0) - (times[n] - times[0]));
            if (dt > worst_dt) worst_dt = dt;
        }
        n++;
    }
    printf("  %d frames written and read back: worst PSNR %.1f dB, worst time shift %.2g s\n", n, worst_psnr, worst_dt);
    CHECK(n == N && worst_psnr > 30 && worst_dt < 1e-3);
    fn_video_close(v);

    /* odd sizes lose their last column / row */
    snprintf(path, sizeof path, "%s/odd.mkv", dir);
    fn_image odd;
    fn_image_crop(&orig[0], 0, 0, 63, 47, &odd);
    CHECK(fn_video_writer_open(path, 63, 47, 0, &w) == FN_OK);
    for (int i = 0; i < 3; i++) CHECK(fn_video_writer_write(w, &odd, i * 0.04) == FN_OK);
    CHECK(fn_video_writer_close(w) == FN_OK);
    v = NULL;
    CHECK(fn_video_open(path, NULL, &v) == FN_OK);
    fn_video_info in;
    if (v) { fn_video_get_info(v, &in); CHECK(in.width == 62 && in.height == 46); }
    fn_video_close(v);
    fn_image_free(&odd);
    /* an unwritable place and an unknown container */
    CHECK(fn_video_writer_open("/nonexistent/x.mp4", 64, 64, 25, &w) == FN_ERR_IO && !w);
    CHECK(fn_video_writer_open("x.unknownext", 64, 64, 25, &w) == FN_ERR_ARG && !w);
    /* an aborted writer leaves nothing behind */
    snprintf(path, sizeof path, "%s/aborted.mp4", dir);
    CHECK(fn_video_writer_open(path, 64, 64, 25, &w) == FN_OK);
    fn_video_writer_abort(w);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls '%s' | grep aborted)\"", dir);
    CHECK(system(cmd) == 0);
    for (int i = 0; i < N; i++) fn_image_free(&orig[i]);
    fn_image_free(&img);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void test_tracker(void) {
    printf("tracker\n");
    fn_detector *det = NULL;
    fn_model *model = NULL;
    CHECK(fn_detector_open(FN_SOURCE_DIR "/models/mtcnn.safetensors", &det) == FN_OK ||
          fn_detector_open(FN_SHARED_DIR "/models/mtcnn", &det) == FN_OK);
    CHECK_MSG(fn_model_open(FN_SOURCE_DIR "/models/dlib_resnet.safetensors", &model) == FN_OK,
              "the default model is missing: run scripts/get-models.sh (%s)", fn_last_error());
    if (!det || !model) { fn_detector_close(det); fn_model_close(model); return; }
    fn_tracker_options o;
    fn_tracker_options_default(&o);
    o.every = 4;
    fn_tracker *t = NULL;
    fn_tracker_options bad = o;
    bad.every = 0;
    CHECK(fn_tracker_open(det, model, &bad, &t) == FN_ERR_ARG && !t);
    CHECK(fn_tracker_open(det, model, &o, &t) == FN_OK);
    fn_video *v = NULL;
    CHECK(fn_video_open(CLIP, NULL, &v) == FN_OK);
    fn_image img = { 0, 0, NULL };
    fn_video_frame fr;
    int got, live_ids_ok = 1, live_id = -1, fed = 0;
    /* frames 100-139: Lin-Manuel alone, close up */
    while (v && fn_video_read(v, &img, &fr, &got) == FN_OK && got && fr.index < 140) {
        if (fr.index < 100) continue;
        fn_track_box *b; int nb;
        CHECK(fn_tracker_feed(t, &img, fr.index, fr.time, &b, &nb) == FN_OK);
        fed++;
        if (nb != 1) live_ids_ok = 0;
        else { if (live_id < 0) live_id = b[0].track; if (b[0].track != live_id || b[0].detected != (fr.index % 4 == 0)) live_ids_ok = 0; }
        free(b);
    }
    printf("  %d frames fed, one live box with one id on each: %d\n", fed, live_ids_ok);
    CHECK(fed == 40 && live_ids_ok);
    fn_track_box *b; int nb;
    CHECK(fn_tracker_feed(t, &img, 120, 0, &b, &nb) == FN_ERR_ARG); /* out of order */
    CHECK(fn_tracker_n_tracks(t) == 0);                              /* not before finish */
    CHECK(fn_tracker_finish(t) == FN_OK);
    CHECK(fn_tracker_n_tracks(t) == 1);
    fn_track tr;
    CHECK(fn_tracker_get_track(t, 0, &tr) == FN_OK);
    printf("  track %d: frames %lld-%lld, %d detections, best frame %lld score %.3f, name '%s'\n", tr.id,
           (long long)tr.first_frame, (long long)tr.last_frame, tr.n_detections, (long long)tr.best_frame,
           tr.best_score, tr.name);
    CHECK(tr.id == 1 && tr.first_frame == 100 && tr.last_frame == 136 && tr.n_detections == 10 && !tr.name[0]);
    /* between detections the box is interpolated linearly */
    int64_t *frames; float *boxes; int nd;
    CHECK(fn_tracker_track_detections(t, 0, &frames, &boxes, &nd) == FN_OK && nd == 10);
    CHECK(fn_tracker_boxes_at(t, 102, &b, &nb) == FN_OK && nb == 1);
    if (nd == 10 && nb == 1) {
        float want[4];
        for (int c = 0; c < 4; c++) want[c] = 0.5f * (boxes[c] + boxes[4 + c]);
        CHECK_CLOSE("box at frame 102 (between 100 and 104)", b[0].box, want, 4, 1e-3);
        CHECK(!b[0].detected && b[0].track == 1);
    }
    free(b);
    CHECK(fn_tracker_boxes_at(t, 104, &b, &nb) == FN_OK && nb == 1 && b[0].detected && !memcmp(b[0].box, boxes + 4, 16));
    free(b);
    CHECK(fn_tracker_boxes_at(t, 139, &b, &nb) == FN_OK && nb == 0); /* after the last detection */
    free(frames); free(boxes);
    fn_image crop;
    CHECK(fn_tracker_best_crop(t, 0, &crop) == FN_OK && crop.w > 0);
    fn_image_free(&crop);
    CHECK(fn_tracker_get_track(t, 1, &tr) == FN_ERR_ARG);
    CHECK(fn_tracker_feed(t, &img, 200, 9, NULL, NULL) == FN_ERR_ARG); /* finished */
    fn_tracker_close(t);
    fn_video_close(v);
    fn_image_free(&img);
    fn_model_close(model);
    fn_detector_close(det);
}

int main(void) {
    if (!fn_video_available()) {
        fn_video *v;
        fn_video_open(CLIP, NULL, &v);
        fprintf(stderr, "FAIL %s\n", fn_last_error());
        return 1;
    }
    test_decode();
    test_writer();
    test_tracker();
    return tu_finish("test_video");
}
