/* test_model_threads.c — facenet.h promises that several threads may call fn_model_embed
 * on one model at once (what `facenet serve`'s workers do). Four threads embed the same
 * crops concurrently, in batches of 1 and 3, with Inception-ResNet-v1 (test_irv1's seeded
 * weights) and the dlib-style ResNet; every result must equal the one-thread reference
 * exactly (batches of one and of three each against their own reference: GEMM blocking
 * differs with the batch). A shared scratch buffer shows up as a mismatch here (and as a race under TSan). */
#include "facenet.h"
#include "test_util.h"
#include <cblas.h>
#include <pthread.h>

#define N_CROPS 3
#define N_THREADS 4
#define ROUNDS 2

typedef struct {
    fn_model *m;
    const fn_image *crops;
    const float *ref, *ref1; /* batch of three; three batches of one (GEMM blocking differs) */
    int dim, mismatches, errors;
} job;

static void *run(void *arg) {
    job *j = arg;
    float *out = malloc(sizeof(float) * N_CROPS * j->dim);
    for (int r = 0; r < ROUNDS && out; r++) {
        /* alternate one batch of three and three batches of one */
        if (r % 2 == 0) {
            if (fn_model_embed(j->m, j->crops, N_CROPS, out) != FN_OK) j->errors++;
        } else {
            for (int i = 0; i < N_CROPS; i++)
                if (fn_model_embed(j->m, &j->crops[i], 1, out + (size_t)i * j->dim) != FN_OK) j->errors++;
        }
        if (memcmp(out, r % 2 == 0 ? j->ref : j->ref1, sizeof(float) * N_CROPS * j->dim) != 0) j->mismatches++;
    }
    free(out);
    return NULL;
}

static void check_model(const char *what, const char *path) {
    fn_model *m;
    fn_status s = fn_model_open(path, &m);
    CHECK_MSG(s == FN_OK, "%s: cannot open %s: %s", what, path, fn_last_error());
    if (s != FN_OK) return;
    int S = fn_model_input_size(m), dim = fn_model_dim(m);
    fn_image crops[N_CROPS];
    uint64_t x = 12345;
    for (int i = 0; i < N_CROPS; i++) {
        fn_image_alloc(S, S, &crops[i]);
        for (long k = 0; k < (long)S * S * 3; k++) { x = x * 6364136223846793005ull + 1442695040888963407ull; crops[i].rgb[k] = (uint8_t)(x >> 56); }
    }
    float *ref = malloc(sizeof(float) * N_CROPS * dim);
    CHECK(fn_model_embed(m, crops, N_CROPS, ref) == FN_OK);
    float *ref1 = malloc(sizeof(float) * N_CROPS * dim);
    for (int i = 0; i < N_CROPS; i++) CHECK(fn_model_embed(m, &crops[i], 1, ref1 + (size_t)i * dim) == FN_OK);
    job jobs[N_THREADS];
    pthread_t tid[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        jobs[t] = (job){ m, crops, ref, ref1, dim, 0, 0 };
        pthread_create(&tid[t], NULL, run, &jobs[t]);
    }
    int mismatches = 0, errors = 0;
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(tid[t], NULL);
        mismatches += jobs[t].mismatches; errors += jobs[t].errors;
    }
    printf("  %-24s %d threads x %d rounds: %d errors, %d results differing from the reference\n",
           what, N_THREADS, ROUNDS, errors, mismatches);
    CHECK(errors == 0);
    CHECK(mismatches == 0);
    for (int i = 0; i < N_CROPS; i++) fn_image_free(&crops[i]);
    free(ref); free(ref1);
    fn_model_close(m);
}

int main(void) {
    openblas_set_num_threads(1); /* as facenet serve's workers run */
    char irv1[512];
    snprintf(irv1, sizeof irv1, "%s/test_model_threads_irv1.safetensors", FN_BUILD_DIR);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s/test_irv1' --write-model '%s' 128 >/dev/null", FN_BUILD_DIR, irv1);
    CHECK_MSG(system(cmd) == 0, "could not write the seeded Inception-ResNet-v1 weights (%s)", cmd);
    check_model("inception_resnet_v1", irv1);
    remove(irv1);
    check_model("dlib_resnet", FN_SOURCE_DIR "/models/dlib_resnet.safetensors");
    printf("test_model_threads: %d checks, %d failed\n", tu_checks, tu_failures);
    return tu_failures != 0;
}
