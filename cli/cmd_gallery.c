/* cmd_gallery.c — `facenet gallery SUBCOMMAND DB ...`: a persistent face gallery (the
 * fn_gallery_* API over a SQLite file): enrol photos once, identify faces as a known
 * subject or `unknown`, list / remove / rename, info, npy export / import. */
#define _GNU_SOURCE
#include "cli.h"
#include "core.h"
#include "json.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet gallery enroll DB --subject NAME [options] IMAGE...\n"
        "       facenet gallery enroll DB [options] DATA_DIR    (one folder of photos per person)\n"
        "       facenet gallery identify DB [--top-k K] [--threshold T] [--json] [--draw OUT.png] IMAGE...\n"
        "       facenet gallery list DB [--subject NAME] [--json]\n"
        "       facenet gallery remove DB --subject NAME | --face ID\n"
        "       facenet gallery rename DB OLD NEW       (onto an existing name: merges the two)\n"
        "       facenet gallery info DB [--json]\n"
        "       facenet gallery export DB DIR           (embeddings.npy, labels.npy, label_strings.npy)\n"
        "       facenet gallery import DB DIR           (facenet's export_embeddings layout)\n"
        "       facenet gallery migrate SRC DST         (every collection, SQLite <-> PostgreSQL, verified)\n"
        "DB is a SQLite file, created by enroll / import, or a PostgreSQL connection string\n"
        "(postgresql://USER@HOST/DB) that several machines share. A gallery keeps the model it was built\n"
        "with and refuses another. Each photo is enrolled once per subject (by its sha256).\n"
        "Similarity in [0,1] is 1/(1+exp(slope*(d-threshold))) of the embedding distance d, 0.5 at\n"
        "the model's LFW threshold (dlib ResNet: d 0.409); a face is named when its best subject's\n"
        "similarity is >= T, else `unknown`.\n"
        "  --subject NAME       enroll: the person (else DATA_DIR's folder names)\n"
        "  --largest-face       enroll: take the largest face of a photo with several (else the\n"
        "                       photo is reported and skipped)\n"
        "  --store-photos       enroll: keep each photo's bytes in the gallery\n"
        "  --top-k K            identify: subjects listed per face (default 1)\n"
        "  --threshold T        identify: similarity to name a face (default 0.5)\n"
        "  --draw OUT.png       identify: the photo with boxes and names (several photos:\n"
        "                       OUT_0.png, OUT_1.png, ...)\n"
        "  --collection NAME    a collection of the gallery (default \"default\")\n"
        "  --model M, --mtcnn P models (defaults as in `facenet compare --help`)\n"
        "  --json               machine-readable output on stdout\n"
        "Exit status: 0 on success; 1 on bad options, a gallery that cannot be opened (missing,\n"
        "corrupt, another model), or when any photo could not be enrolled / identified.\n");
}

typedef struct {
    const char *db, *subject, *model, *mtcnn, *collection, *draw;
    int largest, store_photos, json, top_k, face_given;
    float threshold;
    long long face_id;
    const char **args;
    int n_args;
} gallery_opts;

/* Parses the options common to every subcommand; positional arguments after DB go to args.
 * Returns 0, 1 (error printed) or -1 (--help printed). */
static int parse(const char *cmd, int argc, char **argv, gallery_opts *o) {
    memset(o, 0, sizeof *o);
    o->top_k = 1;
    o->threshold = 0.5f;
    o->args = calloc((size_t)argc + 1, sizeof *o->args);
    if (!o->args) return cli_error(cmd, "out of memory");
    int err = 0;
    const char *face = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(stdout); return -1; }
        else if (cli_flag(argv, i, "--json")) o->json = 1;
        else if (cli_flag(argv, i, "--largest-face")) o->largest = 1;
        else if (cli_flag(argv, i, "--store-photos")) o->store_photos = 1;
        else if (cli_opt_str(argc, argv, &i, "--subject", &o->subject, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--face", &face, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--model", &o->model, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--mtcnn", &o->mtcnn, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--collection", &o->collection, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--draw", &o->draw, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--top-k", &o->top_k, &err)) {}
        else if (cli_opt_float(argc, argv, &i, "--threshold", &o->threshold, &err)) {}
        else if (argv[i][0] == '-' && argv[i][1]) return cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
        else if (!o->db) o->db = argv[i];
        else o->args[o->n_args++] = argv[i];
        if (err) return 1;
    }
    if (!o->db) { usage(stderr); return cli_error(cmd, "DB is required"); }
    if (o->top_k < 1 || o->top_k > 1000) return cli_error(cmd, "--top-k must be in 1..1000");
    if (!(o->threshold >= 0 && o->threshold <= 1)) return cli_error(cmd, "--threshold is a similarity in [0,1]");
    if (face) {
        char *end;
        o->face_id = strtoll(face, &end, 10);
        if (*end || o->face_id <= 0) return cli_error(cmd, "--face wants a face id (a positive integer), not '%s'", face);
        o->face_given = 1;
    }
    return 0;
}

/* Opens the gallery: with a model (its id is checked, or recorded when creating), or
 * without (whatever model built it). */
static int open_gallery(const char *cmd, const gallery_opts *o, const fn_model *m, int create, int read_only,
                        fn_gallery **g) {
    fn_gallery_options go;
    fn_gallery_options_default(&go);
    go.collection = o->collection;
    go.create = create;
    go.read_only = read_only;
    if (m) {
        go.model_id = fn_model_id(m);
        go.dim = fn_model_dim(m);
        fn_model_similarity_calib(m, &go.calib);
    }
    fn_status s = fn_gallery_open(o->db, &go, g);
    return s ? cli_status_error(cmd, s) : 0;
}

/* ------------------------------------------------------------------ enroll */
typedef struct { int enrolled, duplicates, failed; } enroll_counts;

/* One photo of one subject: detect, embed, enrol (one transaction). */
static void enroll_photo(const char *cmd, const gallery_opts *o, fn_gallery *g, fn_detector *det, fn_model *m,
                         const char *subject, const char *path, enroll_counts *c) {
    uint8_t *bytes = NULL;
    size_t size = 0;
    fn_image img = { 0, 0, NULL };
    fn_face *faces = NULL;
    float *emb = NULL;
    int n = 0, dup = 0;
    int64_t id = 0;
    const char *why = NULL;
    fn_status s = fn_read_file(path, &bytes, &size);
    if (s == FN_OK) s = fn_image_decode(bytes, size, 1, &img);
    if (s == FN_OK) s = fn_embed_image_faces(det, m, &img, NULL, FN_FACES_ALL, 0, &faces, &emb, &n);
    if (s == FN_OK && n == 0) why = "no face found";
    else if (s == FN_OK && n > 1 && !o->largest) why = "several faces (pass --largest-face to take the largest)";
    if (s == FN_OK && !why) {
        int k = n > 1 ? fn_face_pick_largest(faces, n, img.w, img.h, 0) : 0;
        char sha[65];
        fn_sha256_hex(bytes, size, sha);
        fn_gallery_face f = { .subject = subject, .embedding = emb + (size_t)k * fn_model_dim(m), .source = path,
                              .source_sha256 = sha, .score = faces[k].score,
                              .image = o->store_photos ? bytes : NULL, .image_size = o->store_photos ? size : 0 };
        memcpy(f.box, faces[k].box, sizeof f.box);
        memcpy(f.landmarks, faces[k].landmarks, sizeof f.landmarks);
        s = fn_gallery_enroll(g, &f, &id, &dup);
    }
    if (s != FN_OK || why) {
        c->failed++;
        const char *e = why ? why : fn_last_error();
        fprintf(stderr, "facenet %s: %s: not enrolled: %s\n", cmd, path, e);
        if (o->json) {
            printf("%s{\"path\":", c->enrolled + c->duplicates + c->failed > 1 ? "," : "");
            fn_json_write_string(stdout, path);
            printf(",\"subject\":");
            fn_json_write_string(stdout, subject);
            printf(",\"error\":");
            fn_json_write_string(stdout, e);
            printf("}");
        }
    } else {
        if (dup) c->duplicates++; else c->enrolled++;
        if (o->json) {
            printf("%s{\"path\":", c->enrolled + c->duplicates + c->failed > 1 ? "," : "");
            fn_json_write_string(stdout, path);
            printf(",\"subject\":");
            fn_json_write_string(stdout, subject);
            printf(",\"face_id\":%lld,\"duplicate\":%s}", (long long)id, dup ? "true" : "false");
        } else {
            printf("%s: %s face %lld%s\n", path, subject, (long long)id, dup ? " (already enrolled)" : "");
        }
    }
    free(bytes); free(faces); free(emb);
    fn_image_free(&img);
}

static int gallery_enroll(const char *cmd, gallery_opts *o) {
    if (o->n_args == 0) return cli_error(cmd, "IMAGE... (with --subject) or DATA_DIR expected");
    fn_model *m = NULL;
    fn_detector *det = NULL;
    fn_gallery *g = NULL;
    fn_dataset ds = { NULL, 0 };
    int rc = 1;
    if (!o->subject) {
        if (o->n_args != 1) { cli_error(cmd, "without --subject, one DATA_DIR (one folder per person) is expected"); goto done; }
        fn_status s = fn_dataset_load(o->args[0], &ds);
        if (s) { cli_status_error(cmd, s); goto done; }
    }
    if (cli_open_model(cmd, o->model, &m) || cli_open_detector(cmd, o->mtcnn, &det) ||
        open_gallery(cmd, o, m, 1, 0, &g)) goto done;
    enroll_counts c = { 0 };
    if (o->json) printf("{\"faces\":[");
    if (o->subject) {
        for (int i = 0; i < o->n_args; i++) enroll_photo(cmd, o, g, det, m, o->subject, o->args[i], &c);
    } else {
        long total = 0, done = 0;
        for (int k = 0; k < ds.n_classes; k++) total += ds.classes[k].n_paths;
        fn_progress pr;
        fn_progress_begin(&pr, "enroll", total);
        for (int k = 0; k < ds.n_classes; k++)
            for (int j = 0; j < ds.classes[k].n_paths; j++, done++) {
                enroll_photo(cmd, o, g, det, m, ds.classes[k].name, ds.classes[k].paths[j], &c);
                fn_progress_step(&pr, 1);
            }
        fn_progress_end(&pr);
    }
    if (o->json) printf("],\"enrolled\":%d,\"duplicates\":%d,\"failed\":%d}\n", c.enrolled, c.duplicates, c.failed);
    else printf("enrolled %d face(s), %d already enrolled, %d photo(s) not enrolled\n", c.enrolled, c.duplicates, c.failed);
    rc = c.failed ? 1 : 0;
done:
    fn_gallery_close(g);
    fn_detector_close(det);
    fn_model_close(m);
    fn_dataset_free(&ds);
    return rc;
}

/* ------------------------------------------------------------------ identify */
static int gallery_identify(const char *cmd, gallery_opts *o) {
    if (o->n_args == 0) return cli_error(cmd, "at least one IMAGE expected");
    fn_model *m = NULL;
    fn_detector *det = NULL;
    fn_gallery *g = NULL;
    int rc = 1, failed = 0;
    if (cli_open_model(cmd, o->model, &m) || open_gallery(cmd, o, m, 0, 1, &g) ||
        cli_open_detector(cmd, o->mtcnn, &det)) goto done;
    const int k = o->top_k;
    if (o->json) printf("{\"threshold\":%g,\"images\":[", (double)o->threshold);
    for (int p = 0; p < o->n_args; p++) {
        const char *path = o->args[p];
        fn_image img = { 0, 0, NULL };
        fn_face *faces = NULL;
        float *emb = NULL;
        int nf = 0;
        fn_gallery_match *match = NULL;
        int *found = NULL;
        fn_status s = fn_image_load(path, 1, &img);
        if (s == FN_OK) s = fn_embed_image_faces(det, m, &img, NULL, FN_FACES_ALL, 0, &faces, &emb, &nf);
        if (s == FN_OK && nf > 0) {
            match = malloc(sizeof *match * (size_t)nf * k);
            found = malloc(sizeof *found * nf);
            s = match && found ? fn_gallery_search_subjects(g, emb, nf, k, match, found) : fn_fail(FN_ERR_NOMEM, "out of memory");
        }
        if (s != FN_OK) {
            const char *e = fn_last_error();
            failed++;
            fprintf(stderr, "facenet %s: error: %s: %s\n", cmd, path, e);
            if (o->json) {
                printf("%s{\"path\":", p ? "," : "");
                fn_json_write_string(stdout, path);
                printf(",\"error\":");
                fn_json_write_string(stdout, e);
                printf("}");
            }
        } else {
            if (o->json) {
                printf("%s{\"path\":", p ? "," : "");
                fn_json_write_string(stdout, path);
                printf(",\"faces\":[");
            } else if (nf == 0) printf("%s: no face\n", path);
            for (int i = 0; i < nf; i++) {
                const fn_gallery_match *best = &match[(size_t)i * k];
                const int known = found[i] > 0 && best->similarity >= o->threshold;
                const float *b = faces[i].box;
                if (o->json) {
                    printf("%s{\"box\":[%.2f,%.2f,%.2f,%.2f],\"score\":%.5f,\"name\":", i ? "," : "", (double)b[0],
                           (double)b[1], (double)b[2], (double)b[3], (double)faces[i].score);
                    fn_json_write_string(stdout, known ? best->subject : "unknown");
                    printf(",\"known\":%s,\"subjects\":[", known ? "true" : "false");
                    for (int j = 0; j < found[i]; j++) {
                        const fn_gallery_match *mt = &match[(size_t)i * k + j];
                        printf("%s{\"subject\":", j ? "," : "");
                        fn_json_write_string(stdout, mt->subject);
                        printf(",\"similarity\":%.5f,\"distance\":%.5f,\"face_id\":%lld}", (double)mt->similarity,
                               (double)mt->distance, (long long)mt->face_id);
                    }
                    printf("]}");
                } else {
                    printf("%s: face %d [%.0f,%.0f,%.0f,%.0f]: ", path, i, (double)b[0], (double)b[1], (double)b[2], (double)b[3]);
                    if (known) printf("%s %.3f (distance %.3f)", best->subject, (double)best->similarity, (double)best->distance);
                    else if (found[i]) printf("unknown (best %s %.3f < %.3f)", best->subject, (double)best->similarity, (double)o->threshold);
                    else printf("unknown (empty gallery)");
                    for (int j = 1; j < found[i]; j++)
                        printf("%s%s %.3f", j == 1 ? "; then " : ", ", match[(size_t)i * k + j].subject, (double)match[(size_t)i * k + j].similarity);
                    printf("\n");
                }
                if (o->draw) {
                    char text[FN_GALLERY_NAME_MAX + 32];
                    if (known) snprintf(text, sizeof text, "%s %.2f", best->subject, (double)best->similarity);
                    else snprintf(text, sizeof text, "unknown");
                    cli_draw_named_box(&img, b, text, known ? 0x20C020 : 0xE02020);
                }
            }
            if (o->json) printf("]}");
            if (o->draw) {
                char *out = cli_draw_path(o->draw, p, o->n_args);
                s = out ? fn_image_save_png(out, &img) : fn_fail(FN_ERR_NOMEM, "out of memory");
                if (s) { failed++; fprintf(stderr, "facenet %s: error: %s\n", cmd, fn_last_error()); }
                free(out);
            }
        }
        free(match); free(found); free(emb); free(faces);
        fn_image_free(&img);
    }
    if (o->json) printf("]}\n");
    rc = failed ? 1 : 0;
done:
    fn_gallery_close(g);
    fn_detector_close(det);
    fn_model_close(m);
    return rc;
}

/* ------------------------------------------------------------------ list, info */
static int gallery_list(const char *cmd, gallery_opts *o) {
    fn_gallery *g = NULL;
    if (open_gallery(cmd, o, NULL, 0, 1, &g)) return 1;
    fn_status s;
    if (o->subject) {
        fn_gallery_face_info *f = NULL;
        int n = 0;
        s = fn_gallery_list_faces(g, o->subject, 0, 0, &f, &n, NULL);
        if (s == FN_OK) {
            if (o->json) printf("{\"subject\":"), fn_json_write_string(stdout, o->subject), printf(",\"faces\":[");
            for (int i = 0; i < n; i++) {
                if (o->json) {
                    printf("%s{\"face_id\":%lld,\"source\":", i ? "," : "", (long long)f[i].id);
                    fn_json_write_string(stdout, f[i].source);
                    printf(",\"sha256\":\"%s\",\"box\":[%.2f,%.2f,%.2f,%.2f],\"score\":%.5f,\"created\":%.3f,\"has_image\":%s}",
                           f[i].source_sha256, (double)f[i].box[0], (double)f[i].box[1], (double)f[i].box[2],
                           (double)f[i].box[3], (double)f[i].score, f[i].created, f[i].has_image ? "true" : "false");
                } else printf("%lld\t%s\t%s\n", (long long)f[i].id, f[i].subject, f[i].source);
            }
            if (o->json) printf("]}\n");
        }
        free(f);
    } else {
        fn_gallery_subject *sub = NULL;
        int n = 0;
        s = fn_gallery_list_subjects(g, &sub, &n);
        if (s == FN_OK) {
            if (o->json) printf("{\"subjects\":[");
            for (int i = 0; i < n; i++) {
                if (o->json) {
                    printf("%s{\"subject\":", i ? "," : "");
                    fn_json_write_string(stdout, sub[i].name);
                    printf(",\"faces\":%d}", sub[i].n_faces);
                } else printf("%s\t%d\n", sub[i].name, sub[i].n_faces);
            }
            if (o->json) printf("]}\n");
        }
        free(sub);
    }
    fn_gallery_close(g);
    return s ? cli_status_error(cmd, s) : 0;
}

static const char *index_name(fn_index_kind k) {
    return k == FN_INDEX_HNSW ? "hnsw" : k == FN_INDEX_IVF ? "ivf" : "exact";
}

static int gallery_info(const char *cmd, gallery_opts *o) {
    fn_gallery *g = NULL;
    if (open_gallery(cmd, o, NULL, 0, 1, &g)) return 1;
    fn_gallery_stats st;
    fn_status s = fn_gallery_info(g, &st);
    fn_gallery_close(g);
    if (s) return cli_status_error(cmd, s);
    if (o->json) {
        printf("{\"path\":");
        fn_json_write_string(stdout, o->db);
        printf(",\"collection\":");
        fn_json_write_string(stdout, st.collection);
        printf(",\"backend\":\"%s\",\"model_id\":\"%s\",\"dim\":%d,\"subjects\":%d,\"faces\":%d,\"index\":\"%s\","
               "\"similarity\":{\"threshold\":%g,\"slope\":%g},\"change_seq\":%lld}\n",
               st.backend, st.model_id, st.dim, st.n_subjects, st.n_faces, index_name(st.index),
               (double)st.calib.threshold, (double)st.calib.slope, (long long)st.change_seq);
    } else {
        printf("gallery:    %s (%s), collection %s\nmodel:      %s (%d-d)\nsubjects:   %d\nfaces:      %d\n"
               "search:     %s\nsimilarity: 1/(1+exp(%.2f*(d-%.3f))), 0.5 at distance %.3f\n",
               o->db, st.backend, st.collection, st.model_id, st.dim, st.n_subjects, st.n_faces, index_name(st.index),
               (double)st.calib.slope, (double)st.calib.threshold, (double)st.calib.threshold);
    }
    return 0;
}

/* ------------------------------------------------------------------ remove, rename, export, import */
static int gallery_write(const char *cmd, const char *sub, gallery_opts *o) {
    fn_gallery *g = NULL;
    fn_model *m = NULL;
    int rc = 1;
    fn_status s = FN_OK;
    if (!strcmp(sub, "remove") && !!o->subject == o->face_given) return cli_error(cmd, "--subject NAME or --face ID (one of them)");
    if (!strcmp(sub, "rename") && o->n_args != 2) return cli_error(cmd, "OLD and NEW names expected");
    if ((!strcmp(sub, "export") || !strcmp(sub, "import")) && o->n_args != 1) return cli_error(cmd, "DIR expected");
    /* import may create the gallery: it needs the model the embeddings came from */
    if (!strcmp(sub, "import") && cli_open_model(cmd, o->model, &m)) return 1;
    if (open_gallery(cmd, o, m, !strcmp(sub, "import"), !strcmp(sub, "export"), &g)) goto done;
    if (!strcmp(sub, "remove") && o->subject) {
        int n = 0;
        if ((s = fn_gallery_remove_subject(g, o->subject, &n)) == FN_OK) printf("removed %s (%d face(s))\n", o->subject, n);
    } else if (!strcmp(sub, "remove")) {
        if ((s = fn_gallery_remove_face(g, o->face_id)) == FN_OK) printf("removed face %lld\n", o->face_id);
    } else if (!strcmp(sub, "rename")) {
        if ((s = fn_gallery_rename_subject(g, o->args[0], o->args[1])) == FN_OK) printf("renamed %s to %s\n", o->args[0], o->args[1]);
    } else if (!strcmp(sub, "export")) {
        if ((s = fn_gallery_export_npy(g, o->args[0])) == FN_OK) printf("exported to %s\n", o->args[0]);
    } else {
        int n = 0;
        double t0 = fn_now();
        if ((s = fn_gallery_import_npy(g, o->args[0], &n)) == FN_OK)
            printf("imported %d face(s) from %s in %.2f s\n", n, o->args[0], fn_now() - t0);
    }
    rc = s ? cli_status_error(cmd, s) : 0;
done:
    fn_gallery_close(g);
    fn_model_close(m);
    return rc;
}

int cmd_gallery_migrate(int argc, char **argv);

int cmd_gallery(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? cli_error("gallery", "a subcommand is expected") : 0;
    }
    /* cmd_gallery_migrate.c: two stores, no model, its own options */
    if (!strcmp(argv[1], "migrate")) return cmd_gallery_migrate(argc - 1, argv + 1);
    static const char *const subs[] = { "enroll", "identify", "list", "remove", "rename", "info", "export", "import", NULL };
    const char *sub = argv[1];
    int known = 0;
    for (int i = 0; subs[i]; i++) known |= !strcmp(sub, subs[i]);
    if (!known) { usage(stderr); return cli_error("gallery", "unknown subcommand '%s'", sub); }
    char cmd[64];
    snprintf(cmd, sizeof cmd, "gallery %s", sub);
    gallery_opts o;
    int rc = parse(cmd, argc - 1, argv + 1, &o);
    if (rc == 0) {
        if (!strcmp(sub, "enroll")) rc = gallery_enroll(cmd, &o);
        else if (!strcmp(sub, "identify")) rc = gallery_identify(cmd, &o);
        else if (!strcmp(sub, "list")) rc = gallery_list(cmd, &o);
        else if (!strcmp(sub, "info")) rc = gallery_info(cmd, &o);
        else rc = gallery_write(cmd, sub, &o);
    }
    free(o.args);
    return rc < 0 ? 0 : rc;
}
