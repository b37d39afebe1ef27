/* test_train_select.c — the pieces of the training loop that are not the network:
 * select_triplets (facenet's rule, checked by brute force on random embeddings),
 * sample_people, the learning-rate schedules (staircase decay, schedule file with
 * facenet's get_learning_rate_from_file semantics) and the weight moving average. */
#include "test_util.h"
#include "train/train.h"
#include <unistd.h>

int main(void) {
    /* 5 classes of 2..6 images, 8-d unit embeddings */
    int num[5] = {4, 2, 6, 3, 5}, n = 20, dim = 8;
    float emb[20 * 8];
    int label[20];
    fn_rng r = {42};
    for (int i = 0, k = 0; i < 5; i++)
        for (int j = 0; j < num[i]; j++, k++) {
            label[k] = i;
            double s = 0;
            for (int d = 0; d < dim; d++) { emb[k * dim + d] = (float)fn_rng_normal(&r) + (d == i ? 1.5f : 0); s += emb[k * dim + d] * emb[k * dim + d]; }
            for (int d = 0; d < dim; d++) emb[k * dim + d] /= (float)sqrt(s);
        }
    const float alpha = 0.2f;
    int cap = fn_select_triplets_capacity(num, 5), pairs;
    int *trip = malloc(sizeof(int) * 3 * cap);
    int nt = fn_select_triplets(emb, dim, num, 5, alpha, &r, trip, &pairs);
    /* brute force: anchor-positive pairs (j-1, pair>=j inside each class) with >= 1 negative
     * of another class inside the margin */
    int want_pairs = 0, want_nt = 0;
    for (int a = 0; a < n; a++)
        for (int p = a + 1; p < n; p++) {
            if (label[a] != label[p]) continue;
            want_pairs++;
            float dp = fn_distance_sq(emb + a * dim, emb + p * dim, dim);
            int any = 0;
            for (int q = 0; q < n; q++) if (label[q] != label[a] && fn_distance_sq(emb + a * dim, emb + q * dim, dim) - dp < alpha) any = 1;
            want_nt += any;
        }
    printf("select_triplets: %d triplets of %d pairs (brute force %d of %d)\n", nt, pairs, want_nt, want_pairs);
    CHECK(pairs == want_pairs && pairs == cap);
    CHECK(nt == want_nt);
    int ok = 1, seen[20][20] = {{0}};
    for (int t = 0; t < nt; t++) {
        int a = trip[3 * t], p = trip[3 * t + 1], q = trip[3 * t + 2];
        float dp = fn_distance_sq(emb + a * dim, emb + p * dim, dim), dn = fn_distance_sq(emb + a * dim, emb + q * dim, dim);
        ok &= label[a] == label[p] && label[q] != label[a] && a < p && dn - dp < alpha && !seen[a][p];
        seen[a][p] = 1;
    }
    CHECK_MSG(ok, "a triplet breaks facenet's rule (same class a/p, other class n, |a-n|^2 - |a-p|^2 < alpha, each pair once)");

    /* sample_people: whole classes in random order, at most images_per_person each */
    fn_dataset ds = {0};
    ds.n_classes = 5;
    ds.classes = calloc(5, sizeof(fn_dataset_class));
    for (int i = 0; i < 5; i++) ds.classes[i].n_paths = num[i];
    fn_sample_ref refs[12];
    int npc[12], ncls;
    int got = fn_sample_people(&ds, 3, 4, &r, refs, npc, &ncls);
    int sum = 0, okp = 1;
    for (int i = 0; i < ncls; i++) sum += npc[i];
    for (int i = 0; i < got; i++) okp &= refs[i].img < num[refs[i].cls];
    printf("sample_people(3 x 4): %d images in %d classes\n", got, ncls);
    CHECK(got == 12 && sum == 12 && okp);
    for (int i = 0; i < ncls; i++) CHECK(npc[i] <= 4);
    free(ds.classes);

    /* held-out verification (fn_evaluate_distances underneath): 4 people x 5 one-hot
     * embeddings are perfectly separable (same 0, different 2); one person has no
     * different-person pairs */
    {
        float e[20 * 4] = {0};
        int lab[20];
        for (int i = 0; i < 20; i++) { lab[i] = i / 5; e[i * 4 + i / 5] = 1; }
        float thr = -1, acc = fn_train_pair_accuracy(e, 4, lab, 20, &thr);
        printf("pair accuracy, separable: %.4f at threshold %.2f\n", acc, thr);
        CHECK(acc == 1.0f && thr > 0 && thr <= 2);
        for (int i = 0; i < 20; i++) lab[i] = 0;
        CHECK(fn_train_pair_accuracy(e, 4, lab, 20, &thr) == -1);
        /* a confused embedding: person 3's photos sit on person 0's */
        for (int i = 0; i < 20; i++) lab[i] = i / 5;
        for (int i = 15; i < 20; i++) { e[i * 4 + 3] = 0; e[i * 4 + 0] = 1; }
        acc = fn_train_pair_accuracy(e, 4, lab, 20, &thr);
        printf("pair accuracy, two people merged: %.4f\n", acc);
        CHECK(acc > 0.5f && acc < 1.0f);
    }

    /* learning rates */
    CHECK(fabsf(fn_lr_exponential(0.1f, 250, 100, 0.5f) - 0.025f) < 1e-7f);
    CHECK(fn_lr_exponential(0.1f, 250, 0, 0.5f) == 0.1f);
    char path[] = "/tmp/fn_lr_scheduleXXXXXX";
    int fd = mkstemp(path);
    const char *txt = "# Learning rate schedule\n0: 0.1\n65: 0.01\n77: 0.001\n1000: -\n";
    CHECK(fd >= 0 && write(fd, txt, strlen(txt)) == (ssize_t)strlen(txt));
    close(fd);
    float lr;
    CHECK(fn_lr_from_file(path, 0, &lr) == FN_OK && lr == 0.1f);
    CHECK(fn_lr_from_file(path, 64, &lr) == FN_OK && lr == 0.1f);
    CHECK(fn_lr_from_file(path, 65, &lr) == FN_OK && lr == 0.01f);
    CHECK(fn_lr_from_file(path, 999, &lr) == FN_OK && lr == 0.001f);
    CHECK(fn_lr_from_file(path, 1000, &lr) == FN_OK && lr < 0);
    unlink(path);
    CHECK(fn_lr_from_file("/nonexistent/schedule.txt", 1, &lr) == FN_ERR_IO);
    printf("learning rates: staircase decay, schedule file (0.1 / 0.01 / 0.001 / stop)\n");

    /* moving average: decay min(0.9999, (1 + step) / (10 + step)) */
    float shadow[2] = {1, 1}, w[2] = {0, 2};
    fn_ema_update(shadow, w, 2, 0.9999f, 0); /* d = 0.1 */
    float want[2] = {0.1f, 1.9f};
    CHECK_CLOSE("EMA at step 0 (decay 0.1)", shadow, want, 2, 1e-6);
    shadow[0] = 1; shadow[1] = 1;
    fn_ema_update(shadow, w, 2, 0.5f, 1000000); /* capped at 0.5 */
    float want2[2] = {0.5f, 1.5f};
    CHECK_CLOSE("EMA capped at the decay", shadow, want2, 2, 1e-6);
    free(trip);
    return tu_finish("test_train_select");
}
