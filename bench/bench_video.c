/* bench_video.c — frames per second of the video pipeline as `facenet video` runs it
 * (fn_video decoding -> fn_tracker: MTCNN every Nth frame, embedding of each detected face,
 * tracking), models loaded beforehand, plus a decode-only pass to show its share and a
 * decode + detection-only pass (fn_detect on every Nth frame: what facenet-pytorch's MTCNN
 * does). Driven by bench/bench_video.sh, which times facenet-pytorch's MTCNN on the same
 * frames in the same run. A benchmark, not a test.
 * usage: bench_video MTCNN MODEL INPUT EVERY MAX_FRAMES
 * prints: input WxH frames clip_fps every wall_s cpu_s decode_wall_s detections tracks
 *         detect_wall_s detect_cpu_s faces_detected */
#define _GNU_SOURCE
#include "core.h"
#include <sys/resource.h>

static double cpu_seconds(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_stime.tv_sec + 1e-6 * (r.ru_utime.tv_usec + r.ru_stime.tv_usec);
}

static int die(const char *what) { fprintf(stderr, "bench_video: %s: %s\n", what, fn_last_error()); return 1; }

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: bench_video MTCNN MODEL INPUT EVERY MAX_FRAMES\n"); return 2; }
    const int every = atoi(argv[4]), max_frames = atoi(argv[5]);
    fn_detector *det; fn_model *model; fn_tracker *t; fn_video *v;
    if (fn_detector_open(argv[1], &det)) return die(argv[1]);
    if (fn_model_open(argv[2], &model)) return die(argv[2]);
    fn_image img = { 0, 0, NULL };
    fn_video_frame fr;
    int got, n = 0;
    /* decode only */
    if (fn_video_open(argv[3], NULL, &v)) return die(argv[3]);
    double t0 = fn_now();
    while (n < max_frames && fn_video_read(v, &img, &fr, &got) == FN_OK && got) n++;
    const double decode_wall = fn_now() - t0;
    fn_video_info info;
    fn_video_get_info(v, &info);
    fn_video_close(v);
    /* decoding + detection only */
    if (fn_video_open(argv[3], NULL, &v)) return die(argv[3]);
    n = 0;
    int faces_detected = 0;
    double c0 = cpu_seconds();
    t0 = fn_now();
    while (n < max_frames && fn_video_read(v, &img, &fr, &got) == FN_OK && got) {
        if (n % every == 0) {
            fn_face *faces; int nf;
            if (fn_detect(det, &img, NULL, &faces, &nf)) return die("detect");
            faces_detected += nf;
            free(faces);
        }
        n++;
    }
    const double detect_wall = fn_now() - t0, detect_cpu = cpu_seconds() - c0;
    fn_video_close(v);
    /* the whole pipeline */
    fn_tracker_options o;
    fn_tracker_options_default(&o);
    o.every = every;
    if (fn_tracker_open(det, model, &o, &t)) return die("tracker");
    if (fn_video_open(argv[3], NULL, &v)) return die(argv[3]);
    n = 0;
    c0 = cpu_seconds();
    t0 = fn_now();
    while (n < max_frames && fn_video_read(v, &img, &fr, &got) == FN_OK && got) {
        if (fn_tracker_feed(t, &img, fr.index, fr.time, NULL, NULL)) return die("feed");
        n++;
    }
    if (fn_tracker_finish(t)) return die("finish");
    const double wall = fn_now() - t0, cpu = cpu_seconds() - c0;
    printf("%s %dx%d %d %.3f %d %.3f %.3f %.3f %d %d %.3f %.3f %d\n", argv[3], info.width, info.height, n, info.fps,
           every, wall, cpu, decode_wall, (n + every - 1) / every, fn_tracker_n_tracks(t), detect_wall, detect_cpu,
           faces_detected);
    fn_tracker_close(t);
    fn_video_close(v);
    fn_image_free(&img);
    fn_model_close(model);
    fn_detector_close(det);
    return 0;
}
