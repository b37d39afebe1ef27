/* fuzz_gallery_db.c — libFuzzer target for a gallery file from anywhere: the bytes become a
 * SQLite file that is opened read-only and read every way (load into memory, subjects,
 * faces, one face with its photo, search, info, export). A damaged file must give an error,
 * never a crash or an out-of-bounds read of a short embedding / box blob. */
#include "facenet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64], cmd[200];
    snprintf(path, sizeof path, "/tmp/fuzz_gallery_%d.db", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    fn_gallery_options o;
    fn_gallery_options_default(&o);
    o.read_only = 1;
    o.index = FN_INDEX_EXACT;
    fn_gallery *g = NULL;
    if (fn_gallery_open(path, &o, &g) == FN_OK) {
        fn_gallery_stats st;
        fn_gallery_info(g, &st);
        fn_gallery_subject *sub; int n;
        if (fn_gallery_list_subjects(g, &sub, &n) == FN_OK) free(sub);
        fn_gallery_face_info *fi; int total;
        if (fn_gallery_list_faces(g, NULL, 0, 0, &fi, &n, &total) == FN_OK) {
            for (int i = 0; i < n && i < 4; i++) {
                float *e = calloc(st.dim > 0 ? st.dim : 1, sizeof *e);
                uint8_t *img; size_t isz;
                if (e && fn_gallery_get_face(g, fi[i].id, NULL, e, &img, &isz) == FN_OK) free(img);
                free(e);
            }
            free(fi);
        }
        if (st.dim > 0 && st.dim <= 4096) {
            float *q = calloc(st.dim, sizeof *q);
            fn_gallery_match m[2]; int nf;
            if (q) { q[0] = 1; fn_gallery_search_subjects(g, q, 1, 2, m, &nf); fn_gallery_search(g, q, 1, 2, m, &nf); }
            free(q);
        }
        fn_gallery_close(g);
    }
    snprintf(cmd, sizeof cmd, "%s-wal", path); unlink(cmd);
    snprintf(cmd, sizeof cmd, "%s-shm", path); unlink(cmd);
    unlink(path);
    return 0;
}
