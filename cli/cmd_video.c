/* cmd_video.c — `facenet video`: faces in a video file, stream or camera, tracked and named
 * (a classifier from `facenet classify train`, or a gallery), as a timeline (text or JSON),
 * an annotated H.264 video and each track's best face. A file is read twice when -o is
 * given, so the video shows every track's final id and name from its first frame; streams
 * are drawn as they go and run until stopped (Ctrl-C ends them cleanly). */
#define _GNU_SOURCE
#include "cli.h"
#include "core.h"
#include "json.h"
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet video INPUT [options]\n"
        "Find, track and name the faces in a video. INPUT is anything FFmpeg opens: a file, an\n"
        "RTSP/HTTP stream URL, a camera (/dev/video0), '-' for standard input. Streams run until\n"
        "stopped: Ctrl-C (SIGINT) ends them and writes what was found.\n"
        "  --classifier C        name tracks with a classifier (`facenet classify train`)\n"
        "  --gallery DB          name tracks with a gallery (`facenet gallery`)\n"
        "  --unknown-threshold D classifier: farther than D from everyone enrolled is unknown\n"
        "                        (default: the model's calibrated threshold, 0.409 for the\n"
        "                        dlib ResNet; 0 disables)\n"
        "  --min-similarity S    gallery: below S is unknown (default 0.5)\n"
        "  --every N             detect faces on every Nth frame, track in between (default 1)\n"
        "  -o OUT.mp4            annotated video (H.264): boxes, track ids, names\n"
        "  --json                the timeline as JSON on stdout\n"
        "  --faces-dir DIR       each track's best face as DIR/track_ID.png (for enrolment)\n"
        "  --max-frames N        stop after N frames\n"
        "  --min-size N          smallest face in pixels (default 20)\n"
        "  --max-gap SECONDS     a track unseen for longer ends; it may still resume (default 1)\n"
        "  --format FMT          force FFmpeg's input format (e.g. v4l2, mpegts)\n"
        "  --model M, --mtcnn P  models (defaults as in `facenet compare --help`)\n"
        "The timeline: per track its id, name, similarity, first / last frame and time (seconds,\n"
        "the stream's timestamps as ffprobe shows them), the best frame's box, and when it was\n"
        "on screen. Exit status: 0 when the input was read (a stream that drops or a truncated\n"
        "file ends with a warning and what was found); 1 on errors.\n");
}

static fn_video *volatile g_video;
static volatile sig_atomic_t g_stop;

static void on_sigint(int sig) {
    g_stop = 1;
    if (g_video) fn_video_interrupt(g_video);
    signal(sig, SIG_DFL); /* a second Ctrl-C kills */
}

/* one colour per track id, dark enough for the white label text */
static const uint32_t palette[] = { 0x00A000, 0xD02020, 0x2060D0, 0xA07000, 0xA000A0, 0x008080,
                                    0xD06000, 0x506000, 0x6040C0, 0x404040 };

static void draw_tracks(fn_image *img, const fn_track_box *b, int n) {
    for (int i = 0; i < n; i++) {
        char label[FN_TRACK_NAME_MAX + 48];
        if (b[i].name[0]) snprintf(label, sizeof label, "#%d %s %.2f", b[i].track, b[i].name, b[i].similarity);
        else snprintf(label, sizeof label, "#%d", b[i].track);
        cli_draw_named_box(img, b[i].box, label, palette[(unsigned)b[i].track % (sizeof palette / sizeof *palette)]);
    }
}

typedef struct {
    const char *input, *out, *faces_dir, *classifier, *gallery, *model, *mtcnn, *format;
    int json, every, max_frames;
    float unknown_threshold, min_similarity, min_size, max_gap;
} video_args;

/* The stretches of a track on screen: detections no farther apart than max_gap. */
static void print_appearances(const fn_tracker *t, int i, double max_gap, const double *times_of, int64_t n_times) {
    int64_t *frames; float *boxes; int n;
    if (fn_tracker_track_detections(t, i, &frames, &boxes, &n) != FN_OK) { printf("[]"); return; }
    printf("[");
    int start = 0, first = 1;
    for (int j = 1; j <= n; j++) {
        double tj = j < n && frames[j] < n_times ? times_of[frames[j]] : 0;
        double tp = frames[j - 1] < n_times ? times_of[frames[j - 1]] : 0;
        if (j < n && tj - tp <= max_gap) continue;
        int64_t f0 = frames[start], f1 = frames[j - 1];
        printf("%s{\"first_frame\":%lld,\"last_frame\":%lld,\"first_time\":%.6f,\"last_time\":%.6f}",
               first ? "" : ",", (long long)f0, (long long)f1, f0 < n_times ? times_of[f0] : 0,
               f1 < n_times ? times_of[f1] : 0);
        first = 0;
        start = j;
    }
    printf("]");
    free(frames); free(boxes);
}

/* Second pass over a file: every frame again, drawn with the final tracks. */
static fn_status write_annotated(const video_args *a, const fn_tracker *t, int64_t n_frames, double fps) {
    fn_video *v = NULL;
    fn_video_writer *w = NULL;
    fn_image img = { 0, 0, NULL };
    fn_video_options vo = { .format = a->format };
    fn_status s = fn_video_open(a->input, &vo, &v);
    fn_progress pr;
    fn_progress_begin(&pr, "video: writing", (long)n_frames);
    g_video = v;
    while (s == FN_OK) {
        fn_video_frame fr; int got;
        s = fn_video_read(v, &img, &fr, &got);
        if (s != FN_OK || !got || fr.index >= n_frames) break;
        if (!w && (s = fn_video_writer_open(a->out, img.w, img.h, fps, &w)) != FN_OK) break;
        fn_track_box *b; int nb;
        if ((s = fn_tracker_boxes_at(t, fr.index, &b, &nb)) != FN_OK) break;
        draw_tracks(&img, b, nb);
        free(b);
        s = fn_video_writer_write(w, &img, fr.time);
        fn_progress_step(&pr, 1);
    }
    fn_progress_end(&pr);
    g_video = NULL;
    fn_video_close(v);
    fn_image_free(&img);
    if (w) {
        if (s == FN_OK) s = fn_video_writer_close(w);
        else fn_video_writer_abort(w);
    }
    return s;
}

int cmd_video(int argc, char **argv) {
    const char *cmd = "video";
    video_args a = { 0 };
    a.every = 1; a.min_size = 20; a.max_gap = 1.0f; a.unknown_threshold = -1;
    int err = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(stdout); return 0; }
        else if (cli_flag(argv, i, "--json")) a.json = 1;
        else if (cli_opt_str(argc, argv, &i, "-o", &a.out, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--faces-dir", &a.faces_dir, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--classifier", &a.classifier, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--gallery", &a.gallery, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--model", &a.model, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--mtcnn", &a.mtcnn, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--format", &a.format, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--every", &a.every, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--max-frames", &a.max_frames, &err)) {}
        else if (cli_opt_float(argc, argv, &i, "--unknown-threshold", &a.unknown_threshold, &err)) {}
        else if (cli_opt_float(argc, argv, &i, "--min-similarity", &a.min_similarity, &err)) {}
        else if (cli_opt_float(argc, argv, &i, "--min-size", &a.min_size, &err)) {}
        else if (cli_opt_float(argc, argv, &i, "--max-gap", &a.max_gap, &err)) {}
        else if (argv[i][0] == '-' && argv[i][1]) return cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
        else if (!a.input) a.input = argv[i];
        else return cli_error(cmd, "unexpected argument '%s' (one INPUT)", argv[i]);
        if (err) return 1;
    }
    if (!a.input) { usage(stderr); return cli_error(cmd, "no INPUT given"); }
    if (!fn_video_available()) {
        fn_video *v;
        return cli_status_error(cmd, fn_video_open(a.input, NULL, &v));
    }
    if (a.every < 1) return cli_error(cmd, "--every must be >= 1");
    if (a.max_frames < 0) return cli_error(cmd, "--max-frames must be >= 0");
    if (!(a.max_gap >= 0)) return cli_error(cmd, "--max-gap must be >= 0");
    if (a.classifier && a.gallery) return cli_error(cmd, "--classifier and --gallery: choose one");
    if (!strcmp(a.input, "-")) a.input = "pipe:0";
    if (a.faces_dir && mkdir(a.faces_dir, 0777) != 0 && errno != EEXIST)
        return cli_error(cmd, "cannot create %s: %s", a.faces_dir, strerror(errno));

    int rc = 1;
    fn_model *model = NULL;
    fn_detector *det = NULL;
    fn_classifier *cls = NULL;
    fn_gallery *gal = NULL;
    fn_tracker *trk = NULL;
    fn_video *v = NULL;
    fn_video_writer *w = NULL;
    fn_image img = { 0, 0, NULL };
    double *times = NULL;
    int64_t n_frames = 0, cap_times = 0;
    fn_status s;
    if (cli_open_model(cmd, a.model, &model) || cli_open_detector(cmd, a.mtcnn, &det)) goto done;
    fn_tracker_options to;
    fn_tracker_options_default(&to);
    to.every = a.every;
    to.detect.min_size = a.min_size;
    to.max_gap = a.max_gap;
    if ((s = fn_tracker_open(det, model, &to, &trk))) { cli_status_error(cmd, s); goto done; }
    if (a.classifier) {
        if ((s = fn_classifier_load(a.classifier, &cls))) { cli_status_error(cmd, s); goto done; }
        if ((s = fn_tracker_set_classifier(trk, cls, a.unknown_threshold))) { cli_status_error(cmd, s); goto done; }
    } else if (a.gallery) {
        fn_gallery_options go;
        fn_gallery_options_default(&go);
        go.model_id = fn_model_id(model);
        go.read_only = 1;
        if ((s = fn_gallery_open(a.gallery, &go, &gal))) { cli_status_error(cmd, s); goto done; }
        fn_tracker_set_gallery(trk, gal, a.min_similarity);
    }

    fn_video_options vo = { .format = a.format };
    if ((s = fn_video_open(a.input, &vo, &v))) { cli_status_error(cmd, s); goto done; }
    fn_video_info info;
    fn_video_get_info(v, &info);
    /* files are drawn in a second pass with the final tracks; streams as they come */
    const int live_draw = a.out && info.live;
    g_video = v;
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    fn_progress pr;
    fn_progress_begin(&pr, "video", (long)(a.max_frames > 0 && (info.n_frames == 0 || a.max_frames < info.n_frames)
                                          ? a.max_frames : info.n_frames));
    const double t0 = fn_now();
    for (;;) {
        if (g_stop || (a.max_frames > 0 && n_frames >= a.max_frames)) break;
        fn_video_frame fr; int got;
        s = fn_video_read(v, &img, &fr, &got);
        if (s != FN_OK) { fn_progress_end(&pr); cli_status_error(cmd, s); goto done; }
        if (!got) break;
        if (n_frames == cap_times) {
            int64_t nc = cap_times ? cap_times * 2 : 1024;
            double *t2 = realloc(times, sizeof *t2 * (size_t)nc);
            if (!t2) { cli_error(cmd, "out of memory"); goto done; }
            times = t2; cap_times = nc;
        }
        times[n_frames++] = fr.time;
        fn_track_box *b = NULL; int nb = 0;
        s = fn_tracker_feed(trk, &img, fr.index, fr.time, live_draw ? &b : NULL, live_draw ? &nb : NULL);
        if (s != FN_OK) { fn_progress_end(&pr); cli_status_error(cmd, s); goto done; }
        if (live_draw) {
            if (!w && (s = fn_video_writer_open(a.out, img.w, img.h, info.fps, &w))) { free(b); cli_status_error(cmd, s); goto done; }
            draw_tracks(&img, b, nb);
            free(b);
            if ((s = fn_video_writer_write(w, &img, fr.time))) { cli_status_error(cmd, s); goto done; }
        }
        fn_progress_step(&pr, 1);
    }
    fn_progress_end(&pr);
    const double elapsed = fn_now() - t0;
    g_video = NULL;
    const char *end_error = fn_video_end_error(v);
    const int interrupted = g_stop != 0;
    if (end_error) fprintf(stderr, "facenet video: warning: %s: %s; keeping what was found\n", a.input, end_error);
    if ((s = fn_tracker_finish(trk))) { cli_status_error(cmd, s); goto done; }
    if (n_frames == 0) { cli_error(cmd, "%s: no video frame could be read", a.input); goto done; }

    if (a.out) {
        if (live_draw) { s = fn_video_writer_close(w); w = NULL; }
        else s = write_annotated(&a, trk, n_frames, info.fps);
        if (s) { cli_status_error(cmd, s); goto done; }
    }
    const int nt = fn_tracker_n_tracks(trk);
    char **face_paths = calloc((size_t)(nt > 0 ? nt : 1), sizeof *face_paths);
    if (!face_paths) { cli_error(cmd, "out of memory"); goto done; }
    int faces_failed = 0;
    for (int i = 0; a.faces_dir && i < nt; i++) {
        fn_track tr;
        fn_image crop;
        fn_tracker_get_track(trk, i, &tr);
        if (fn_tracker_best_crop(trk, i, &crop) != FN_OK) continue;
        if (asprintf(&face_paths[i], "%s/track_%03d.png", a.faces_dir, tr.id) < 0) face_paths[i] = NULL;
        if (!face_paths[i] || (s = fn_image_save_png(face_paths[i], &crop))) {
            cli_status_error(cmd, s ? s : FN_ERR_NOMEM);
            faces_failed = 1;
            free(face_paths[i]); face_paths[i] = NULL;
        }
        fn_image_free(&crop);
    }
    if (a.json) {
        printf("{\"input\":");
        fn_json_write_string(stdout, a.input);
        printf(",\"width\":%d,\"height\":%d,\"fps\":%.6g,\"frames\":%lld,\"first_time\":%.6f,\"last_time\":%.6f,"
               "\"every\":%d,\"complete\":%s,\"interrupted\":%s,\"end_error\":",
               info.width, info.height, info.fps, (long long)n_frames, times[0], times[n_frames - 1],
               a.every, end_error || interrupted || (a.max_frames > 0 && n_frames >= a.max_frames) ? "false" : "true",
               interrupted ? "true" : "false");
        if (end_error) fn_json_write_string(stdout, end_error); else printf("null");
        printf(",\"corrupt_packets\":%lld,\"seconds\":%.3f,\"tracks\":[", (long long)fn_video_corrupt_packets(v), elapsed);
        for (int i = 0; i < nt; i++) {
            fn_track tr;
            fn_tracker_get_track(trk, i, &tr);
            printf("%s{\"id\":%d,\"name\":", i ? "," : "", tr.id);
            if (tr.name[0]) fn_json_write_string(stdout, tr.name); else printf("null");
            printf(",\"similarity\":%.4f,\"distance\":", tr.similarity);
            if (isnan(tr.distance)) printf("null"); else printf("%.4f", tr.distance);
            printf(",\"votes\":%d,\"voters\":%d,\"first_frame\":%lld,\"last_frame\":%lld,\"first_time\":%.6f,"
                   "\"last_time\":%.6f,\"detections\":%d,\"segments\":%d,"
                   "\"best\":{\"frame\":%lld,\"time\":%.6f,\"box\":[%.1f,%.1f,%.1f,%.1f],\"score\":%.4f},\"on_screen\":",
                   tr.votes, tr.voters, (long long)tr.first_frame, (long long)tr.last_frame, tr.first_time,
                   tr.last_time, tr.n_detections, tr.n_segments, (long long)tr.best_frame, tr.best_time,
                   tr.best_box[0], tr.best_box[1], tr.best_box[2], tr.best_box[3], tr.best_score);
            print_appearances(trk, i, a.max_gap, times, n_frames);
            printf(",\"face\":");
            if (face_paths[i]) fn_json_write_string(stdout, face_paths[i]); else printf("null");
            printf("}");
        }
        printf("]}\n");
    } else {
        printf("%s: %dx%d, %.2f fps, %lld frames (%.3f-%.3f s), detection every %d frame%s, %d track%s, %.1f s\n",
               a.input, info.width, info.height, info.fps, (long long)n_frames, times[0], times[n_frames - 1],
               a.every, a.every == 1 ? "" : "s", nt, nt == 1 ? "" : "s", elapsed);
        for (int i = 0; i < nt; i++) {
            fn_track tr;
            fn_tracker_get_track(trk, i, &tr);
            printf("track %d: %s", tr.id, tr.name[0] ? tr.name : (cls || gal) ? "unknown" : "-");
            if (tr.voters) printf(" (similarity %.2f, %d/%d votes)", tr.similarity, tr.votes, tr.voters);
            printf("  frames %lld-%lld (%.3f-%.3f s), %d detections", (long long)tr.first_frame,
                   (long long)tr.last_frame, tr.first_time, tr.last_time, tr.n_detections);
            if (face_paths[i]) printf("  %s", face_paths[i]);
            printf("\n");
        }
    }
    for (int i = 0; i < nt; i++) free(face_paths[i]);
    free(face_paths);
    rc = faces_failed;
done:
    g_video = NULL;
    if (w) fn_video_writer_abort(w);
    fn_video_close(v);
    fn_image_free(&img);
    fn_tracker_close(trk);
    if (gal) fn_gallery_close(gal);
    fn_classifier_free(cls);
    fn_detector_close(det);
    fn_model_close(model);
    free(times);
    return rc;
}
