/* face_embed.c — the per-photo pipeline every command shares: detect, pick faces,
 * crop as the model expects, embed (optionally with the mirrored crop appended). */
#include "core.h"

static void flip_lr(fn_image *img) {
    for (int y = 0; y < img->h; y++) {
        uint8_t *row = img->rgb + (size_t)y * img->w * 3;
        for (int a = 0, b = img->w - 1; a < b; a++, b--)
            for (int c = 0; c < 3; c++) { uint8_t t = row[a * 3 + c]; row[a * 3 + c] = row[b * 3 + c]; row[b * 3 + c] = t; }
    }
}

fn_status fn_embed_image_faces(fn_detector *det, fn_model *model, const fn_image *img,
                               const fn_detect_params *params, fn_face_select select, int flip,
                               fn_face **faces_out, float **emb_out, int *n_out) {
    *faces_out = NULL; *emb_out = NULL; *n_out = 0;
    fn_face *faces = NULL;
    int n = 0;
    FN_TRY(fn_detect(det, img, params, &faces, &n));
    if (n == 0) { free(faces); return FN_OK; }
    if (select != FN_FACES_ALL) {
        int k = fn_face_pick_largest(faces, n, img->w, img->h, select == FN_FACES_LARGEST_CENTERED);
        faces[0] = faces[k];
        n = 1;
    }
    const int dim = fn_model_dim(model), views = flip ? 2 : 1;
    fn_image *crops = calloc((size_t)n * views, sizeof *crops);
    float *emb = malloc(sizeof(float) * (size_t)n * views * dim);
    float *tmp = malloc(sizeof(float) * (size_t)n * views * dim);
    fn_status s = FN_OK;
    if (!crops || !emb || !tmp) { s = fn_fail(FN_ERR_NOMEM, "out of memory"); goto done; }
    for (int i = 0; i < n && s == FN_OK; i++) {
        s = fn_model_crop(model, img, &faces[i], &crops[i * views]);
        if (s == FN_OK && flip) {
            s = fn_image_alloc(crops[i * 2].w, crops[i * 2].h, &crops[i * 2 + 1]);
            if (s == FN_OK) {
                memcpy(crops[i * 2 + 1].rgb, crops[i * 2].rgb, (size_t)crops[i * 2].w * crops[i * 2].h * 3);
                flip_lr(&crops[i * 2 + 1]);
            }
        }
    }
    if (s == FN_OK) s = fn_model_embed(model, crops, n * views, tmp);
    if (s == FN_OK) /* rows are already [face0, face0-flipped, face1, ...]: concatenation per face */
        memcpy(emb, tmp, sizeof(float) * (size_t)n * views * dim);
done:
    if (crops) for (int i = 0; i < n * views; i++) fn_image_free(&crops[i]);
    free(crops); free(tmp);
    if (s != FN_OK) { free(faces); free(emb); return s; }
    *faces_out = faces; *emb_out = emb; *n_out = n;
    return FN_OK;
}
