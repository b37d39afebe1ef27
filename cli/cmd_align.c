/* cmd_align.c — `facenet align`: facenet's align/align_dataset_mtcnn.py. A dataset folder
 * (one sub-folder per person) becomes aligned PNG crops in the same layout, with
 * bounding_boxes.txt in facenet's format ("path x1 y1 x2 y2" per crop, "path" alone for an
 * image that could not be aligned).
 *
 * Resumable and safe to run in several processes at once: an image is done when its PNG
 * exists (written atomically) or bounding_boxes.txt already lists it as a failure; each
 * image is claimed with an O_EXCL lock file (stale locks of dead processes are taken
 * over); bounding_boxes.txt lines are appended with one write() each.
 *
 * Under MPI (mpirun -np N facenet align ...) each rank aligns its share of the images (in
 * order, contiguous) and rank 0 appends every rank's bounding-box lines in image order, so
 * the output is the one of a single process; an MPI job killed midway keeps its crops, not
 * the boxes of the unfinished job (a rerun skips the crops that exist). */
#define _GNU_SOURCE
#include "cli.h"
#include "core.h"
#include "json.h"
#include "dist/dist.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet align INPUT_DIR OUTPUT_DIR [options]\n"
        "Detect the face in every image of INPUT_DIR/<person>/ and write aligned crops to\n"
        "OUTPUT_DIR/<person>/<image>.png (facenet's align_dataset_mtcnn.py).\n"
        "  --image-size N            crop size in pixels (default 182)\n"
        "  --margin N                margin around the box in image pixels (default 44)\n"
        "  --detect-multiple-faces   keep every face: <image>_0.png, <image>_1.png, ...\n"
        "                            (default: the largest face nearest the centre)\n"
        "  --random-order            process the people in random order (for parallel runs)\n"
        "  --align-method M          margin (default: box +- margin/2, bilinear resize) or\n"
        "                            chip5 (5-point similarity warp, see --chip-padding)\n"
        "  --chip-padding P          padding of the chip5 warp (default 0.25)\n"
        "  --min-size N, --thresholds a,b,c, --factor F   MTCNN parameters (20, 0.6,0.7,0.7, 0.709)\n"
        "  --mtcnn PATH              MTCNN weights (default: mtcnn.safetensors or mtcnn/ in\n"
        "                            $FACENET_MODELS, ./models or <binary>/../models)\n"
        "  --no-exif-rotate          ignore JPEG EXIF orientation\n"
        "  --retry-failed            retry images bounding_boxes.txt lists as failed\n"
        "  --json                    print the summary as JSON\n"
        "Images already aligned are skipped, so an interrupted run can simply be restarted;\n"
        "several processes may work on the same folders at once. Exit status 0 unless the\n"
        "run itself failed (images that cannot be aligned are listed and counted).\n");
}

/* ------------------------------------------------------------------ small helpers */

typedef struct { char **v; int n, cap; } strlist;

static int strlist_add(strlist *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, sizeof(char *) * (size_t)cap);
        if (!v) return 0;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return 0;
    l->n++;
    return 1;
}

static void strlist_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_dir(const char *p) { struct stat st; return stat(p, &st) == 0 && S_ISDIR(st.st_mode); }
static int is_file(const char *p) { struct stat st; return stat(p, &st) == 0 && S_ISREG(st.st_mode); }

/* Sorted names in dir (no hidden entries) that are folders (want_dirs) or files. */
static int list_dir(const char *dir, int want_dirs, strlist *out) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (want_dirs ? is_dir(path) : is_file(path))
            if (!strlist_add(out, e->d_name)) { closedir(d); return 0; }
    }
    closedir(d);
    if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof(char *), cmp_str);
    return 1;
}

/* Appends one line with a single write(): O_APPEND keeps lines of concurrent runs whole. */
static void append_line(int fd, const char *line) {
    size_t len = strlen(line);
    ssize_t w = write(fd, line, len);
    (void)w;
}

/* Claims out_png for this process; 0 when another live process holds it. */
static int claim(const char *lock) {
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) {
            char pid[32];
            int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
            ssize_t w = write(fd, pid, (size_t)n);
            (void)w;
            close(fd);
            return 1;
        }
        if (errno != EEXIST) return 0;
        /* stale lock of a process that died? */
        FILE *f = fopen(lock, "r");
        int owner = 0;
        if (f) { if (fscanf(f, "%d", &owner) != 1) owner = 0; fclose(f); }
        if (owner > 0 && (kill(owner, 0) == 0 || errno != ESRCH)) return 0;
        if (owner <= 0) {
            /* being written right now, or garbage: only take over when old */
            struct stat st;
            if (stat(lock, &st) == 0 && time(NULL) - st.st_mtime < 600) return 0;
        }
        unlink(lock);
    }
    return 0;
}

/* facenet's bb: int32(max(det - margin/2, 0)), int32(min(det + margin/2, size)) */
static void margin_box(const float *box, int margin, int w, int h, int bb[4]) {
    double half = margin / 2.0;
    bb[0] = (int)fmax(box[0] - half, 0);
    bb[1] = (int)fmax(box[1] - half, 0);
    bb[2] = (int)fmin(box[2] + half, w);
    bb[3] = (int)fmin(box[3] + half, h);
}

/* ------------------------------------------------------------------ one image */

typedef struct {
    fn_detector *det;
    fn_detect_params params;
    int image_size, margin, multiple, chip, exif;
    float chip_padding;
    int bb_fd;
    FILE *bb_mem;   /* under MPI: this rank's lines, gathered to rank 0 at the end */
} align_ctx;

static void bb_line(const align_ctx *c, const char *line) {
    if (c->bb_mem) fputs(line, c->bb_mem);
    else append_line(c->bb_fd, line);
}

/* Aligns one image into out_base(.png | _i.png). Returns FN_OK with *n_out crops written;
 * FN_ERR_NO_FACE when no face was found. */
static fn_status align_image(const align_ctx *c, const char *src, const char *out_base, int *n_out) {
    *n_out = 0;
    fn_image img;
    FN_TRY(fn_image_load(src, c->exif, &img));
    fn_face *faces = NULL;
    int n = 0;
    fn_status s = fn_detect(c->det, &img, &c->params, &faces, &n);
    if (s == FN_OK && n == 0) s = fn_fail(FN_ERR_NO_FACE, "no face found");
    int first = 0, count = n;
    if (s == FN_OK && !c->multiple) {
        first = fn_face_pick_largest(faces, n, img.w, img.h, 1);
        count = 1;
    }
    for (int k = 0; k < count && s == FN_OK; k++) {
        const fn_face *f = &faces[first + k];
        char out[8300], line[8500];
        if (c->multiple) snprintf(out, sizeof out, "%s_%d.png", out_base, k);
        else snprintf(out, sizeof out, "%s.png", out_base);
        fn_image crop;
        s = c->chip ? fn_align_chip(&img, f->landmarks, c->image_size, c->chip_padding, &crop)
                    : fn_crop_margin(&img, f->box, c->margin, c->image_size, &crop);
        if (s != FN_OK) break;
        s = fn_image_save_png(out, &crop);
        fn_image_free(&crop);
        if (s != FN_OK) break;
        int bb[4];
        margin_box(f->box, c->margin, img.w, img.h, bb);
        snprintf(line, sizeof line, "%s %d %d %d %d\n", out, bb[0], bb[1], bb[2], bb[3]);
        bb_line(c, line);
        (*n_out)++;
    }
    free(faces);
    fn_image_free(&img);
    return s;
}

/* ------------------------------------------------------------------ command */

static int align_main(int argc, char **argv);

int cmd_align(int argc, char **argv) {
    if (cli_dist_begin("align")) return 1;
    return cli_dist_end(align_main(argc, argv));
}

/* Under MPI: rank 0 gets every rank's bounding-box lines (appended in rank order = image
 * order), counts and failures ("path\terror\n"); 0 on success. */
static int gather_results(const char *cmd, align_ctx *c, char *bb, size_t bb_n, long counts[4], strlist *failures, strlist *reasons) {
    char *all = NULL;
    size_t all_n = 0;
    fn_status s = fn_dist_gather_bytes(bb, bb_n, &all, &all_n);
    if (!s && fn_dist_rank() == 0 && all_n) {
        ssize_t w = write(c->bb_fd, all, all_n);
        if (w != (ssize_t)all_n) s = fn_fail(FN_ERR_IO, "bounding_boxes.txt: write failed");
    }
    free(all);
    double sums[4] = {(double)counts[0], (double)counts[1], (double)counts[2], (double)counts[3]};
    if (!s) s = fn_dist_sum_f64(sums, 4);
    for (int i = 0; i < 4; i++) counts[i] = (long)sums[i];
    /* failures: this rank's as lines, then rank 0 keeps everyone's */
    char *mine = NULL;
    size_t mine_n = 0;
    FILE *f = open_memstream(&mine, &mine_n);
    if (!f) return cli_error(cmd, "out of memory");
    for (int i = 0; i < failures->n; i++) fprintf(f, "%s\t%s\n", failures->v[i], reasons->v[i]);
    fclose(f);
    if (!s) s = fn_dist_gather_bytes(mine, mine_n, &all, &all_n);
    free(mine);
    if (s) return cli_status_error(cmd, s);
    if (fn_dist_rank() != 0) { /* rank 0 prints everyone's failures; the others say theirs here */
        for (int i = 0; i < failures->n; i++)
            fprintf(stderr, "facenet align: unable to align \"%s\": %s\n", failures->v[i], reasons->v[i]);
        free(all);
        return 0;
    }
    strlist_free(failures);
    strlist_free(reasons);
    for (char *p = all, *end = all + all_n; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *tab = memchr(p, '\t', (size_t)(end - p));
        if (!nl || !tab || tab > nl) break;
        *nl = *tab = 0;
        strlist_add(failures, p);
        strlist_add(reasons, tab + 1);
        p = nl + 1;
    }
    free(all);
    return 0;
}

static int align_main(int argc, char **argv) {
    const char *cmd = "align";
    const char *in_dir = NULL, *out_dir = NULL, *mtcnn = NULL, *method = "margin", *thr = NULL;
    int err = 0, random_order = 0, json = 0, retry = 0;
    align_ctx c = { 0 };
    c.image_size = 182;
    c.margin = 44;
    c.exif = 1;
    c.chip_padding = 0.25f;
    fn_detect_params_default(&c.params);
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(stdout); return 0; }
        else if (cli_flag(argv, i, "--detect-multiple-faces")) c.multiple = 1;
        else if (cli_flag(argv, i, "--random-order")) random_order = 1;
        else if (cli_flag(argv, i, "--no-exif-rotate")) c.exif = 0;
        else if (cli_flag(argv, i, "--retry-failed")) retry = 1;
        else if (cli_flag(argv, i, "--json")) json = 1;
        else if (cli_opt_int(argc, argv, &i, "--image-size", &c.image_size, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--margin", &c.margin, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--align-method", &method, &err)) {}
        else if (cli_opt_float(argc, argv, &i, "--chip-padding", &c.chip_padding, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--mtcnn", &mtcnn, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--thresholds", &thr, &err)) {}
        else if (cli_opt_float(argc, argv, &i, "--min-size", &c.params.min_size, &err)) {}
        else if (cli_opt_float(argc, argv, &i, "--factor", &c.params.factor, &err)) {}
        else if (argv[i][0] == '-' && argv[i][1]) { usage(stderr); return cli_error(cmd, "unknown option %s", argv[i]); }
        else if (!in_dir) in_dir = argv[i];
        else if (!out_dir) out_dir = argv[i];
        else return cli_error(cmd, "unexpected argument %s", argv[i]);
        if (err) return 1;
    }
    if (!in_dir || !out_dir) { usage(stderr); return cli_error(cmd, "INPUT_DIR and OUTPUT_DIR are required"); }
    if (c.image_size < 1 || c.image_size > 4096) return cli_error(cmd, "--image-size must be in 1..4096");
    if (c.margin < 0) return cli_error(cmd, "--margin must be >= 0");
    if (strcmp(method, "margin") == 0) c.chip = 0;
    else if (strcmp(method, "chip5") == 0) c.chip = 1;
    else return cli_error(cmd, "--align-method must be margin or chip5 (got '%s')", method);
    if (thr && !cli_parse_thresholds(thr, c.params.thresholds))
        return cli_error(cmd, "--thresholds wants three numbers in [0,1] like 0.6,0.7,0.7 (got '%s')", thr);
    if (!is_dir(in_dir)) return cli_error(cmd, "%s is not a folder", in_dir);
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) return cli_error(cmd, "cannot create %s: %s", out_dir, strerror(errno));

    strlist people = { 0 };
    if (!list_dir(in_dir, 1, &people)) return cli_error(cmd, "cannot read %s: %s", in_dir, strerror(errno));
    if (random_order) {
        fn_rng rng = { (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) };
        fn_status bs = fn_dist_bcast(&rng, sizeof rng); /* every rank the same order */
        if (bs) { strlist_free(&people); return cli_status_error(cmd, bs); }
        for (int i = people.n - 1; i > 0; i--) {
            int j = (int)(fn_rng_next(&rng) % (uint64_t)(i + 1));
            char *t = people.v[i]; people.v[i] = people.v[j]; people.v[j] = t;
        }
    }

    /* failures recorded by earlier runs: lines holding a path only */
    char bb_path[4096];
    snprintf(bb_path, sizeof bb_path, "%s/bounding_boxes.txt", out_dir);
    strlist failed_before = { 0 };
    if (!retry) {
        FILE *f = fopen(bb_path, "r");
        if (f) {
            char line[8192];
            while (fgets(line, sizeof line, f)) {
                line[strcspn(line, "\r\n")] = 0;
                if (line[0] && !strchr(line, ' ')) strlist_add(&failed_before, line);
            }
            fclose(f);
            if (failed_before.n > 1) qsort(failed_before.v, (size_t)failed_before.n, sizeof(char *), cmp_str);
        }
    }
    c.bb_fd = open(bb_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (c.bb_fd < 0) { strlist_free(&people); strlist_free(&failed_before); return cli_error(cmd, "cannot open %s: %s", bb_path, strerror(errno)); }

    char *def = NULL;
    if (!mtcnn) {
        def = cli_default_mtcnn();
        if (!def) {
            close(c.bb_fd); strlist_free(&people); strlist_free(&failed_before);
            return cli_error(cmd, "no MTCNN weights: pass --mtcnn PATH or set FACENET_MODELS (%s)", cli_models_hint());
        }
        mtcnn = def;
    }
    fn_status s = fn_detector_open(mtcnn, &c.det);
    free(def);
    if (s != FN_OK) { close(c.bb_fd); strlist_free(&people); strlist_free(&failed_before); return cli_status_error(cmd, s); }

    /* every (person, image) pair, for the progress total */
    strlist *images = calloc((size_t)(people.n ? people.n : 1), sizeof(strlist));
    long total = 0;
    for (int p = 0; images && p < people.n; p++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", in_dir, people.v[p]);
        list_dir(dir, 0, &images[p]);
        total += images[p].n;
    }
    long n_aligned = 0, n_faces = 0, n_skipped = 0, n_busy = 0;
    strlist failures = { 0 }, reasons = { 0 };
    /* this rank's share of the images (all of them in one process) */
    const int ranks = fn_dist_size();
    long lo, hi, g0 = 0;
    fn_dist_share(total, fn_dist_rank(), ranks, &lo, &hi);
    char *bb_buf = NULL;
    size_t bb_len = 0;
    if (ranks > 1 && !(c.bb_mem = open_memstream(&bb_buf, &bb_len))) return cli_error(cmd, "out of memory");
    fn_dist_progress prog;
    fn_dist_progress_begin(&prog, "align", total);
    for (int p = 0; images && p < people.n; g0 += images[p].n, p++) {
        char dir_out[4096];
        snprintf(dir_out, sizeof dir_out, "%s/%s", out_dir, people.v[p]);
        const long k0 = lo > g0 ? lo - g0 : 0, k1 = hi - g0 < images[p].n ? hi - g0 : images[p].n;
        if (k1 <= k0) continue; /* none of this person's images is this rank's */
        if (mkdir(dir_out, 0755) != 0 && errno != EEXIST) {
            for (long k = k0; k < k1; k++) {
                char src[8192];
                snprintf(src, sizeof src, "%s/%s/%s", in_dir, people.v[p], images[p].v[k]);
                strlist_add(&failures, src);
                strlist_add(&reasons, strerror(errno));
            }
            fn_dist_progress_step(&prog, k1 - k0);
            continue;
        }
        for (long k = k0; k < k1; k++) {
            const char *name = images[p].v[k];
            char src[8192], base[8192], done_png[8300], lock[8300];
            snprintf(src, sizeof src, "%s/%s/%s", in_dir, people.v[p], name);
            const char *dot = strrchr(name, '.');
            int stem = dot && dot != name ? (int)(dot - name) : (int)strlen(name);
            snprintf(base, sizeof base, "%s/%.*s", dir_out, stem, name);
            snprintf(done_png, sizeof done_png, c.multiple ? "%s_0.png" : "%s.png", base);
            char plain_png[8300];
            snprintf(plain_png, sizeof plain_png, "%s.png", base);
            const char *key = plain_png; /* facenet records failures by the plain output name */
            if (is_file(done_png) || (failed_before.n > 0 &&
                bsearch(&key, failed_before.v, (size_t)failed_before.n, sizeof(char *), cmp_str))) {
                n_skipped++;
                fn_dist_progress_step(&prog, 1);
                continue;
            }
            snprintf(lock, sizeof lock, "%s.lock", base);
            if (!claim(lock)) { n_busy++; fn_dist_progress_step(&prog, 1); continue; }
            if (is_file(done_png)) { /* finished by another process meanwhile */
                unlink(lock);
                n_skipped++;
                fn_dist_progress_step(&prog, 1);
                continue;
            }
            int n_out = 0;
            s = align_image(&c, src, base, &n_out);
            if (s == FN_OK) {
                n_aligned++;
                n_faces += n_out;
            } else {
                char why[1200], line[8400];
                snprintf(why, sizeof why, "%s: %s", fn_status_str(s), fn_last_error());
                strlist_add(&failures, src);
                strlist_add(&reasons, why);
                snprintf(line, sizeof line, "%s\n", plain_png);
                bb_line(&c, line);
            }
            unlink(lock);
            fn_dist_progress_step(&prog, 1);
        }
    }
    fn_status ps = fn_dist_progress_end(&prog);
    fn_detector_close(c.det);
    int grc = ps ? cli_status_error(cmd, ps) : 0;
    if (c.bb_mem) {
        fclose(c.bb_mem);
        long counts[4] = {n_aligned, n_faces, n_skipped, n_busy};
        if (!grc) grc = gather_results(cmd, &c, bb_buf, bb_len, counts, &failures, &reasons);
        free(bb_buf);
        n_aligned = counts[0]; n_faces = counts[1]; n_skipped = counts[2]; n_busy = counts[3];
    }
    close(c.bb_fd);
    if (grc || fn_dist_rank() != 0) { /* rank 0 reports for the job */
        for (int p = 0; images && p < people.n; p++) strlist_free(&images[p]);
        free(images); strlist_free(&people); strlist_free(&failed_before); strlist_free(&failures); strlist_free(&reasons);
        return grc;
    }

    for (int i = 0; i < failures.n; i++)
        fprintf(stderr, "facenet align: unable to align \"%s\": %s\n", failures.v[i], reasons.v[i]);
    if (json) {
        printf("{\"total\":%ld,\"aligned\":%ld,\"crops\":%ld,\"skipped\":%ld,\"busy\":%ld,\"failed\":[",
               total, n_aligned, n_faces, n_skipped, n_busy);
        for (int i = 0; i < failures.n; i++) {
            printf("%s{\"path\":", i ? "," : "");
            fn_json_write_string(stdout, failures.v[i]);
            printf(",\"error\":");
            fn_json_write_string(stdout, reasons.v[i]);
            printf("}");
        }
        printf("]}\n");
    } else {
        printf("Total number of images: %ld\n", total);
        printf("Number of successfully aligned images: %ld (%ld crops)\n", n_aligned, n_faces);
        printf("Skipped (already done): %ld\n", n_skipped);
        if (n_busy) printf("Skipped (being aligned by another process): %ld\n", n_busy);
        printf("Failed: %d\n", failures.n);
        printf("Bounding boxes: %s\n", bb_path);
    }
    for (int p = 0; images && p < people.n; p++) strlist_free(&images[p]);
    free(images);
    strlist_free(&people);
    strlist_free(&failed_before);
    strlist_free(&failures);
    strlist_free(&reasons);
    return 0;
}
