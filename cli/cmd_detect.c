/* cmd_detect.c — `facenet detect`: MTCNN boxes, scores and 5 landmarks of each image
 * (facenet's align/detect_face.py), with --landmarks 68 also face-api's 68 points of each
 * face, as text or JSON, optionally drawn onto a copy. */
#include "cli.h"
#include "core.h"
#include "json.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet detect [options] IMAGE...\n"
        "Detect faces with MTCNN: box (x1,y1,x2,y2 in pixels), score, 5 landmarks\n"
        "(left eye, right eye, nose, left and right mouth corner).\n"
        "  --json               print {\"images\":[{\"path\",\"width\",\"height\",\"faces\":[{\"box\",\n"
        "                       \"score\",\"landmarks\"}]}]} (an image that fails gets \"error\")\n"
        "  --draw OUT.png       write the photo with boxes and landmarks drawn; with several\n"
        "                       images, OUT_0.png, OUT_1.png, ... (index before the extension)\n"
        "  --min-size N         smallest face in pixels (default 20)\n"
        "  --thresholds a,b,c   P-Net, R-Net, O-Net score thresholds (default 0.6,0.7,0.7)\n"
        "  --factor F           image pyramid scale step (default 0.709)\n"
        "  --mtcnn PATH         MTCNN weights: folder with pnet/rnet/onet.pt or det1-3.npy, or a\n"
        "                       .safetensors (default: mtcnn.safetensors or mtcnn/ in\n"
        "                       $FACENET_MODELS, ./models or <binary>/../models)\n"
        "  --no-exif-rotate     use the stored pixel orientation (ignore JPEG EXIF orientation)\n"
        "  --landmarks 5|68     68: also the 68 points (iBUG/dlib layout) of each face from\n"
        "                       face-api's landmark net (\"landmarks68\" in JSON)\n"
        "  --landmark-model P   its weights (default: landmark68.safetensors in the models\n"
        "                       folders; scripts/get-models.sh fetches it)\n"
        "Exit status: 0 when every image was read and processed, 1 otherwise.\n");
}

/* OUT.png -> OUT_3.png when several images are drawn */
static void draw_path(char *buf, size_t cap, const char *out, int index, int many) {
    if (!many) { snprintf(buf, cap, "%s", out); return; }
    const char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
    if (!dot || (slash && dot < slash)) { snprintf(buf, cap, "%s_%d", out, index); return; }
    snprintf(buf, cap, "%.*s_%d%s", (int)(dot - out), out, index, dot);
}

static fn_status draw_faces(const char *path, const fn_image *img, const fn_face *faces, int n,
                            const float (*lm68)[68][2]) {
    fn_image canvas;
    FN_TRY(fn_image_alloc(img->w, img->h, &canvas));
    memcpy(canvas.rgb, img->rgb, (size_t)img->w * img->h * 3);
    int big = img->w > img->h ? img->w : img->h;
    int thick = big / 400 > 1 ? big / 400 : 1, scale = big / 600 > 1 ? big / 600 : 1;
    for (int i = 0; i < n; i++) {
        const fn_face *f = &faces[i];
        fn_draw_rect(&canvas, f->box[0], f->box[1], f->box[2], f->box[3], 0x00FF00, thick);
        for (int k = 0; k < 5; k++)
            fn_draw_circle(&canvas, f->landmarks[k][0], f->landmarks[k][1], 1.5f * thick + 1,
                           k < 2 ? 0xFF0000 : k == 2 ? 0xFFFF00 : 0x00FFFF, 1);
        for (int k = 0; lm68 && k < 68; k++)
            fn_draw_circle(&canvas, lm68[i][k][0], lm68[i][k][1], 0.75f * thick + 0.5f, 0xFF00FF, 1);
        char label[32];
        snprintf(label, sizeof label, "%.3f", f->score);
        int ty = (int)f->box[1] - fn_text_height(label, scale) - 2;
        fn_draw_text(&canvas, (int)f->box[0], ty < 0 ? (int)f->box[3] + 2 : ty, label, 0x00FF00, scale);
    }
    fn_status s = fn_image_save_png(path, &canvas);
    fn_image_free(&canvas);
    return s;
}

int cmd_detect(int argc, char **argv) {
    const char *cmd = "detect";
    int json = 0, exif = 1, err = 0;
    const char *draw = NULL, *mtcnn = NULL, *thr = NULL, *lm_model = NULL;
    int n_landmarks = 5;
    fn_detect_params params;
    fn_detect_params_default(&params);
    const char **images = calloc((size_t)argc, sizeof *images);
    int n_images = 0;
    if (!images) return cli_error(cmd, "out of memory");
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(stdout); free(images); return 0; }
        else if (cli_flag(argv, i, "--json")) json = 1;
        else if (cli_flag(argv, i, "--no-exif-rotate")) exif = 0;
        else if (cli_opt_str(argc, argv, &i, "--draw", &draw, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--mtcnn", &mtcnn, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--thresholds", &thr, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--landmark-model", &lm_model, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--landmarks", &n_landmarks, &err)) {}
        else if (cli_opt_float(argc, argv, &i, "--min-size", &params.min_size, &err)) {}
        else if (cli_opt_float(argc, argv, &i, "--factor", &params.factor, &err)) {}
        else if (argv[i][0] == '-' && argv[i][1]) { free(images); usage(stderr); return cli_error(cmd, "unknown option %s", argv[i]); }
        else images[n_images++] = argv[i];
        if (err) { free(images); return 1; }
    }
    if (thr && !cli_parse_thresholds(thr, params.thresholds)) {
        free(images);
        return cli_error(cmd, "--thresholds wants three numbers in [0,1] like 0.6,0.7,0.7 (got '%s')", thr);
    }
    if (n_images == 0) { free(images); usage(stderr); return cli_error(cmd, "no image given"); }
    if (n_landmarks != 5 && n_landmarks != 68) { free(images); return cli_error(cmd, "--landmarks takes 5 or 68 (got %d)", n_landmarks); }
    if (lm_model && n_landmarks != 68) { free(images); return cli_error(cmd, "--landmark-model needs --landmarks 68"); }
    fn_landmarker *lm = NULL;
    if (n_landmarks == 68) {
        char *def_lm = lm_model ? NULL : cli_default_landmark68();
        if (!lm_model && !def_lm) { free(images); return cli_error(cmd, "no 68-point landmark model (landmark68.safetensors): run scripts/get-models.sh or pass --landmark-model PATH"); }
        fn_status ls = fn_landmarker_open(lm_model ? lm_model : def_lm, &lm);
        free(def_lm);
        if (ls != FN_OK) { free(images); return cli_status_error(cmd, ls); }
    }

    char *def = NULL;
    if (!mtcnn) {
        def = cli_default_mtcnn();
        if (!def) { free(images); return cli_error(cmd, "no MTCNN weights: pass --mtcnn PATH or set FACENET_MODELS (%s)", cli_models_hint()); }
        mtcnn = def;
    }
    fn_detector *det;
    fn_status s = fn_detector_open(mtcnn, &det);
    free(def);
    if (s != FN_OK) { fn_landmarker_close(lm); free(images); return cli_status_error(cmd, s); }

    /* images go through fn_detect_batch in groups: threads spread over the images */
    enum { GROUP = 8 };
    int failures = 0;
    if (json) printf("{\"images\":[");
    for (int g = 0; g < n_images; g += GROUP) {
        const int ng = n_images - g < GROUP ? n_images - g : GROUP;
        fn_image img[GROUP];
        fn_face *faces[GROUP];
        int n_faces[GROUP];
        fn_status st[GROUP];
        char msg[GROUP][1024];
        for (int j = 0; j < ng; j++) {
            img[j] = (fn_image){ 0, 0, NULL };
            faces[j] = NULL;
            n_faces[j] = 0;
            st[j] = fn_image_load(images[g + j], exif, &img[j]);
            msg[j][0] = 0;
            if (st[j] != FN_OK) snprintf(msg[j], sizeof msg[j], "%s: %s", fn_status_str(st[j]), fn_last_error());
        }
        /* detect the images that loaded, all at once */
        fn_image ok_img[GROUP];
        int ok_idx[GROUP], n_ok = 0;
        for (int j = 0; j < ng; j++)
            if (st[j] == FN_OK) { ok_img[n_ok] = img[j]; ok_idx[n_ok++] = j; }
        fn_face *ok_faces[GROUP];
        int ok_n[GROUP];
        fn_status ok_st[GROUP];
        if (n_ok > 0) {
            fn_status bs = fn_detect_batch(det, ok_img, n_ok, &params, ok_faces, ok_n, ok_st);
            for (int t = 0; t < n_ok; t++) {
                int j = ok_idx[t];
                st[j] = ok_st[t];
                faces[j] = ok_st[t] == FN_OK ? ok_faces[t] : NULL;
                n_faces[j] = ok_st[t] == FN_OK ? ok_n[t] : 0;
                if (st[j] != FN_OK)
                    snprintf(msg[j], sizeof msg[j], "%s: %s", fn_status_str(st[j]),
                             bs != FN_OK ? fn_last_error() : "detection failed");
            }
        }
        for (int j = 0; j < ng; j++) {
            const int k = g + j;
            fn_status s = st[j];
            float (*lm68)[68][2] = NULL;
            if (s == FN_OK && lm && n_faces[j] > 0) {
                float (*boxes)[4] = malloc(sizeof *boxes * n_faces[j]);
                lm68 = malloc(sizeof *lm68 * n_faces[j]);
                if (!boxes || !lm68) s = fn_fail(FN_ERR_NOMEM, "out of memory");
                for (int i = 0; s == FN_OK && i < n_faces[j]; i++) memcpy(boxes[i], faces[j][i].box, sizeof boxes[i]);
                if (s == FN_OK) s = fn_landmarks68(lm, &img[j], (const float (*)[4])boxes, n_faces[j], lm68);
                if (s != FN_OK) snprintf(msg[j], sizeof msg[j], "%s: %s", fn_status_str(s), fn_last_error());
                free(boxes);
            }
            if (s == FN_OK && draw) {
                char out[4096];
                draw_path(out, sizeof out, draw, k, n_images > 1);
                s = draw_faces(out, &img[j], faces[j], n_faces[j], (const float (*)[68][2])lm68);
                if (s != FN_OK) snprintf(msg[j], sizeof msg[j], "%s: %s", fn_status_str(s), fn_last_error());
            }
            if (s != FN_OK) {
                failures++;
                fprintf(stderr, "facenet detect: error: %s: %s\n", images[k], msg[j]);
                if (json) {
                    printf("%s{\"path\":", k ? "," : "");
                    fn_json_write_string(stdout, images[k]);
                    printf(",\"error\":");
                    fn_json_write_string(stdout, msg[j]);
                    printf("}");
                }
            } else if (json) {
                printf("%s{\"path\":", k ? "," : "");
                fn_json_write_string(stdout, images[k]);
                printf(",\"width\":%d,\"height\":%d,\"faces\":[", img[j].w, img[j].h);
                for (int i = 0; i < n_faces[j]; i++) {
                    const fn_face *f = &faces[j][i];
                    printf("%s{\"box\":[%.2f,%.2f,%.2f,%.2f],\"score\":%.6f,\"landmarks\":[", i ? "," : "",
                           f->box[0], f->box[1], f->box[2], f->box[3], f->score);
                    for (int q = 0; q < 5; q++) printf("%s[%.2f,%.2f]", q ? "," : "", f->landmarks[q][0], f->landmarks[q][1]);
                    printf("]");
                    if (lm68) {
                        printf(",\"landmarks68\":[");
                        for (int q = 0; q < 68; q++) printf("%s[%.2f,%.2f]", q ? "," : "", lm68[i][q][0], lm68[i][q][1]);
                        printf("]");
                    }
                    printf("}");
                }
                printf("]}");
            } else {
                printf("%s: %dx%d, %d face%s\n", images[k], img[j].w, img[j].h, n_faces[j], n_faces[j] == 1 ? "" : "s");
                for (int i = 0; i < n_faces[j]; i++) {
                    const fn_face *f = &faces[j][i];
                    printf("  face %d: box %.1f %.1f %.1f %.1f  score %.4f  landmarks", i + 1,
                           f->box[0], f->box[1], f->box[2], f->box[3], f->score);
                    for (int q = 0; q < 5; q++) printf(" %.1f,%.1f", f->landmarks[q][0], f->landmarks[q][1]);
                    printf("\n");
                    if (lm68) {
                        printf("    68 points:");
                        for (int q = 0; q < 68; q++) printf(" %.1f,%.1f", lm68[i][q][0], lm68[i][q][1]);
                        printf("\n");
                    }
                }
            }
            free(lm68);
            free(faces[j]);
            fn_image_free(&img[j]);
        }
    }
    if (json) printf("]}\n");
    fn_detector_close(det);
    fn_landmarker_close(lm);
    free(images);
    return failures ? 1 : 0;
}
