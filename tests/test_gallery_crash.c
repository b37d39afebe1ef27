/* test_gallery_crash.c — reliability of the SQLite gallery across processes:
 * 1. a child process enrols 10,000 faces (one transaction each) and is killed with SIGKILL
 *    part-way; reopening finds exactly the faces it committed (a prefix, each intact) and
 *    search works, and enrolment continues where it stopped;
 * 2. reader threads of this process search while a child process enrols: no error, no torn
 *    result (a face found at distance 0 always carries its own subject), counts only grow,
 *    and every face is there at the end. */
#include "facenet.h"
#include "test_util.h"
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DIM 32
#define TOTAL 10000
static char db[300];

/* Face i: a deterministic unit vector, subject "s<i % 97>", source "<i>". */
static void face_emb(int i, float *v) {
    uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ull + 1;
    double s = 0;
    for (int j = 0; j < DIM; j++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        v[j] = (float)((x >> 11) * (1.0 / 9007199254740992.0) - 0.5);
        s += (double)v[j] * v[j];
    }
    for (int j = 0; j < DIM; j++) v[j] = (float)(v[j] / sqrt(s));
}

static fn_gallery *open_db(int create) {
    fn_gallery_options o;
    fn_gallery_options_default(&o);
    o.model_id = "crash-test"; o.dim = DIM; o.create = create; o.index = FN_INDEX_EXACT;
    fn_gallery *g = NULL;
    if (fn_gallery_open(db, &o, &g) != FN_OK) { fprintf(stderr, "open: %s\n", fn_last_error()); return NULL; }
    return g;
}

/* The child: enrol faces [from, to), one transaction each. */
static void enrol_range(int from, int to) {
    fn_gallery *g = open_db(1);
    if (!g) _exit(2);
    for (int i = from; i < to; i++) {
        float e[DIM];
        char subject[16], source[16];
        face_emb(i, e);
        snprintf(subject, sizeof subject, "s%d", i % 97);
        snprintf(source, sizeof source, "%d", i);
        fn_gallery_face f = { .subject = subject, .embedding = e, .source = source };
        if (fn_gallery_enroll(g, &f, NULL, NULL) != FN_OK) { fprintf(stderr, "enrol %d: %s\n", i, fn_last_error()); _exit(3); }
    }
    fn_gallery_close(g);
    _exit(0);
}

static int n_faces(fn_gallery *g) {
    fn_gallery_stats st;
    return fn_gallery_info(g, &st) == FN_OK ? st.n_faces : -1;
}

/* Every stored face is face `source` intact, and the sources are exactly 0..n-1. */
static int check_prefix(fn_gallery *g, int *n_out) {
    fn_gallery_face_info *fi; int n, total;
    if (fn_gallery_list_faces(g, NULL, 0, 0, &fi, &n, &total) != FN_OK) return 0;
    int ok = 1;
    for (int k = 0; k < n && ok; k++) {
        int i = atoi(fi[k].source);
        float e[DIM], want[DIM];
        char subject[16];
        snprintf(subject, sizeof subject, "s%d", i % 97);
        face_emb(i, want);
        ok = i == k && !strcmp(fi[k].subject, subject) &&
             fn_gallery_get_face(g, fi[k].id, NULL, e, NULL, NULL) == FN_OK && !memcmp(e, want, sizeof e);
        if (!ok) fprintf(stderr, "face %d (source %s, subject %s) is not what was enrolled\n", k, fi[k].source, fi[k].subject);
    }
    free(fi);
    *n_out = n;
    return ok;
}

typedef struct { int errors, torn, shrank, searches; volatile int stop; } reader_state;

static void *reader(void *arg) {
    reader_state *rs = arg;
    fn_gallery *g = open_db(0);
    if (!g) { __atomic_add_fetch(&rs->errors, 1, __ATOMIC_RELAXED); return NULL; }
    unsigned seed = (unsigned)(uintptr_t)&seed;
    int last = 0;
    while (!rs->stop) {
        int i = rand_r(&seed) % TOTAL;
        float q[DIM];
        face_emb(i, q);
        fn_gallery_match m[3];
        int nf;
        if (fn_gallery_search_subjects(g, q, 1, 3, m, &nf) != FN_OK) { __atomic_add_fetch(&rs->errors, 1, __ATOMIC_RELAXED); continue; }
        char subject[16];
        snprintf(subject, sizeof subject, "s%d", i % 97);
        if (nf > 0 && m[0].distance < 1e-3f && strcmp(m[0].subject, subject)) __atomic_add_fetch(&rs->torn, 1, __ATOMIC_RELAXED);
        int n = n_faces(g);
        if (n < last) __atomic_add_fetch(&rs->shrank, 1, __ATOMIC_RELAXED);
        last = n;
        __atomic_add_fetch(&rs->searches, 1, __ATOMIC_RELAXED);
    }
    fn_gallery_close(g);
    return NULL;
}

/* A fresh process (fork + exec of this test) enrolling [from, to): a child must not
 * inherit this process's SQLite state (its POSIX lock bookkeeping is per process). */
static pid_t spawn_enrol(int from, int to) {
    pid_t pid = fork();
    if (pid == 0) {
        char a[16], b[16];
        snprintf(a, sizeof a, "%d", from);
        snprintf(b, sizeof b, "%d", to);
        execl("/proc/self/exe", "test_gallery_crash", "enrol", db, a, b, (char *)NULL);
        _exit(4);
    }
    return pid;
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "enrol")) {
        snprintf(db, sizeof db, "%s", argv[2]);
        enrol_range(atoi(argv[3]), atoi(argv[4]));
    }
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/fn_test_gallery_crash_%d", (int)getpid());
    mkdir(dir, 0777);
    snprintf(db, sizeof db, "%s/g.db", dir);
    fn_gallery *g = open_db(1); /* create it, so the child and we agree on the collection */
    CHECK(g != NULL);
    if (!g) return tu_finish("test_gallery_crash");

    /* 1. kill -9 during a 10,000-face enrolment */
    pid_t pid = spawn_enrol(0, TOTAL);
    int seen = 0;
    unsigned seed = (unsigned)getpid();
    const int kill_at = 500 + rand_r(&seed) % 1500;
    while ((seen = n_faces(g)) >= 0 && seen < kill_at) usleep(2000);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    fn_gallery_close(g);
    g = open_db(0);
    CHECK(g != NULL);
    if (!g) return tu_finish("test_gallery_crash");
    int n = 0;
    CHECK(check_prefix(g, &n));
    printf("  killed at >= %d faces: %d committed faces found after reopen, each intact\n", kill_at, n);
    CHECK(n >= kill_at && n < TOTAL);
    {
        float q[DIM];
        face_emb(n / 2, q);
        fn_gallery_match m[1];
        int nf;
        CHECK(fn_gallery_search(g, q, 1, 1, m, &nf) == FN_OK && nf == 1 && m[0].distance < 1e-3f);
    }

    /* 2. readers here while a child process enrols the rest */
    reader_state rs = { 0 };
    pthread_t th[2];
    for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, reader, &rs);
    pid = spawn_enrol(n, TOTAL);
    waitpid(pid, &status, 0);
    rs.stop = 1;
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    printf("  concurrent: %d searches while %d faces were enrolled by another process: %d errors, %d torn, %d shrinking counts\n",
           rs.searches, TOTAL - n, rs.errors, rs.torn, rs.shrank);
    CHECK(rs.searches > 0 && rs.errors == 0 && rs.torn == 0 && rs.shrank == 0);
    int n2 = 0;
    CHECK(check_prefix(g, &n2) && n2 == TOTAL);
    CHECK(n_faces(g) == TOTAL);
    fn_gallery_close(g);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {}
    return tu_finish("test_gallery_crash");
}
