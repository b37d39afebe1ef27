/* dist.c — see dist.h. */
#include "dist.h"
#ifdef FN_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_joined = 0;
static fn_dist_counters g_count;

int fn_dist_rank(void) { return g_rank; }
int fn_dist_size(void) { return g_size; }

int fn_dist_launched_size(void) {
    /* Open MPI's mpirun, MPICH/Intel (PMI), Slurm's srun */
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (!v || !*v) continue;
        if (i == 3 && !getenv("PMI_RANK") && !getenv("PMIX_RANK")) continue; /* a Slurm job, not an MPI launch */
        int n = atoi(v);
        if (n > 0) return n;
    }
    return 1;
}

void fn_dist_share(long n, int rank, int size, long *lo, long *hi) {
    *lo = n * rank / size;
    *hi = n * (rank + 1) / size;
}

#ifdef FN_HAVE_MPI
int fn_dist_available(void) { return 1; }

static fn_status mpi_error(const char *what, int rc) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return fn_fail(FN_ERR_IO, "rank %d of %d: %s failed: %s (did another rank die?)", g_rank, g_size, what, msg);
}
#define MPI_TRY(what, call) do { int rc_ = (call); if (rc_ != MPI_SUCCESS) return mpi_error(what, rc_); } while (0)

fn_status fn_dist_init(void) {
    if (g_joined) return FN_OK;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        if (fn_dist_launched_size() <= 1 && !getenv("PMIX_RANK") && !getenv("PMI_RANK")) return FN_OK; /* one process */
        int provided = 0;
        /* MPI is called from the main thread only (worker 0 of a team is the caller) */
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return fn_fail(FN_ERR_IO, "MPI_Init_thread failed");
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_joined = 1;
    return FN_OK;
}

void fn_dist_finalize(void) {
    if (!g_joined) return;
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
    g_joined = 0; g_rank = 0; g_size = 1;
}

void fn_dist_abort(int code) {
    if (g_joined && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
}

static double t_start(void) { return fn_now(); }
static void t_stop(double t0) { g_count.seconds += fn_now() - t0; g_count.calls++; }

/* MPI counts are int: large buffers go in pieces */
enum { PIECE = 1 << 28 };

fn_status fn_dist_sum_f32(float *x, size_t n) {
    if (g_size == 1 || n == 0) return FN_OK;
    double t0 = t_start();
    enum { MAX_REQ = 64 };
    MPI_Request req[MAX_REQ];
    size_t done = 0;
    while (done < n) { /* up to MAX_REQ buckets in flight */
        int nr = 0;
        for (; nr < MAX_REQ && done < n; nr++) {
            size_t m = n - done < FN_DIST_BUCKET ? n - done : FN_DIST_BUCKET;
            int rc = MPI_Iallreduce(MPI_IN_PLACE, x + done, (int)m, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req[nr]);
            if (rc != MPI_SUCCESS) { if (nr) MPI_Waitall(nr, req, MPI_STATUSES_IGNORE); return mpi_error("MPI_Iallreduce", rc); }
            done += m;
        }
        MPI_TRY("MPI_Waitall (gradient all-reduce)", MPI_Waitall(nr, req, MPI_STATUSES_IGNORE));
    }
    g_count.bytes_reduced += n * sizeof(float);
    t_stop(t0);
    return FN_OK;
}

fn_status fn_dist_sum_f64(double *x, size_t n) {
    if (g_size == 1 || n == 0) return FN_OK;
    double t0 = t_start();
    for (size_t done = 0; done < n;) {
        size_t m = n - done < PIECE ? n - done : PIECE;
        MPI_TRY("MPI_Allreduce", MPI_Allreduce(MPI_IN_PLACE, x + done, (int)m, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
        done += m;
    }
    g_count.bytes_reduced += n * sizeof(double);
    t_stop(t0);
    return FN_OK;
}

fn_status fn_dist_max_int(int *v) {
    if (g_size == 1) return FN_OK;
    double t0 = t_start();
    MPI_TRY("MPI_Allreduce", MPI_Allreduce(MPI_IN_PLACE, v, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    t_stop(t0);
    return FN_OK;
}

static fn_status allgather(void *all, const long *counts, MPI_Datatype type) {
    if (g_size == 1) return FN_OK;
    double t0 = t_start();
    int *cnt = malloc(sizeof(int) * g_size), *off = malloc(sizeof(int) * g_size);
    if (!cnt || !off) { free(cnt); free(off); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    long o = 0;
    for (int r = 0; r < g_size; r++) {
        if (counts[r] < 0 || counts[r] > INT32_MAX || o > INT32_MAX) { free(cnt); free(off); return fn_fail(FN_ERR_LIMIT, "all-gather of %ld values", o); }
        cnt[r] = (int)counts[r]; off[r] = (int)o; o += counts[r];
    }
    int rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, cnt, off, type, MPI_COMM_WORLD);
    free(cnt); free(off);
    if (rc != MPI_SUCCESS) return mpi_error("MPI_Allgatherv", rc);
    t_stop(t0);
    return FN_OK;
}
fn_status fn_dist_allgather_f32(float *all, const long *counts) { return allgather(all, counts, MPI_FLOAT); }
fn_status fn_dist_allgather_f64(double *all, const long *counts) { return allgather(all, counts, MPI_DOUBLE); }

fn_status fn_dist_bcast(void *p, size_t bytes) {
    if (g_size == 1) return FN_OK;
    double t0 = t_start();
    for (size_t done = 0; done < bytes;) {
        size_t m = bytes - done < PIECE ? bytes - done : PIECE;
        MPI_TRY("MPI_Bcast", MPI_Bcast((char *)p + done, (int)m, MPI_BYTE, 0, MPI_COMM_WORLD));
        done += m;
    }
    t_stop(t0);
    return FN_OK;
}

fn_status fn_dist_gather_bytes(const void *mine, size_t n, char **out, size_t *total) {
    *out = NULL; *total = 0;
    if (g_size == 1) {
        *out = malloc(n ? n : 1);
        if (!*out) return fn_fail(FN_ERR_NOMEM, "out of memory");
        if (n) memcpy(*out, mine, n);
        *total = n;
        return FN_OK;
    }
    if (n > INT32_MAX) return fn_fail(FN_ERR_LIMIT, "gather: %zu bytes from one rank", n);
    double t0 = t_start();
    int mine_n = (int)n, *cnt = g_rank == 0 ? malloc(sizeof(int) * g_size) : NULL, *off = g_rank == 0 ? malloc(sizeof(int) * g_size) : NULL;
    int fail = g_rank == 0 && (!cnt || !off);
    MPI_TRY("MPI_Gather", MPI_Gather(&mine_n, 1, MPI_INT, cnt, 1, MPI_INT, 0, MPI_COMM_WORLD));
    long sum = 0;
    if (g_rank == 0 && !fail) {
        for (int r = 0; r < g_size; r++) { off[r] = (int)sum; sum += cnt[r]; }
        if (sum > INT32_MAX) fail = 1;
        else if (!(*out = malloc(sum ? (size_t)sum : 1))) fail = 1;
    }
    /* rank 0 cannot receive: still take part, then report */
    int rc = MPI_Gatherv(mine, mine_n, MPI_BYTE, fail ? NULL : *out, cnt, off, MPI_BYTE, 0, MPI_COMM_WORLD);
    free(cnt); free(off);
    if (rc != MPI_SUCCESS) { free(*out); *out = NULL; return mpi_error("MPI_Gatherv", rc); }
    if (fail) { free(*out); *out = NULL; return fn_fail(FN_ERR_NOMEM, "gather: out of memory for %ld bytes", sum); }
    *total = (size_t)sum;
    t_stop(t0);
    return FN_OK;
}

fn_status fn_dist_barrier(void) {
    if (g_size == 1) return FN_OK;
    MPI_TRY("MPI_Barrier", MPI_Barrier(MPI_COMM_WORLD));
    return FN_OK;
}

enum { PROGRESS_TAG = 0x6670 };

void fn_dist_progress_begin(fn_dist_progress *d, const char *label, long total) {
    memset(d, 0, sizeof *d);
    fn_progress_begin(&d->p, label, total);
    d->last = fn_now();
    if (g_rank != 0) d->p.tty = 0;
    if (g_rank == 0 && g_size > 1) {
        d->seen = calloc((size_t)g_size, sizeof(long));
        d->waiting = g_size - 1;
    }
}

/* rank 0: one report (count, or -(count + 1) for the last) from rank src */
static void progress_take(fn_dist_progress *d, int src, long v) {
    if (src <= 0 || src >= g_size || !d->seen) return;
    long count = v < 0 ? -v - 1 : v;
    if (v < 0) d->waiting--;
    fn_progress_step(&d->p, count - d->seen[src]);
    d->seen[src] = count;
}

static void progress_send(fn_dist_progress *d, int last) {
    long v = last ? -d->mine - 1 : d->mine;
    MPI_Send(&v, 1, MPI_LONG, 0, PROGRESS_TAG, MPI_COMM_WORLD); /* a few bytes: sent eagerly */
}

void fn_dist_progress_step(fn_dist_progress *d, long n) {
    d->mine += n;
    if (g_size == 1) { fn_progress_step(&d->p, n); return; }
    double t = fn_now();
    if (g_rank != 0) {
        if (t - d->last >= 0.25) { d->last = t; progress_send(d, 0); }
        return;
    }
    fn_progress_step(&d->p, n);
    for (;;) { /* take what has arrived, without waiting */
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(MPI_ANY_SOURCE, PROGRESS_TAG, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS || !flag) break;
        long v;
        if (MPI_Recv(&v, 1, MPI_LONG, st.MPI_SOURCE, PROGRESS_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS) break;
        progress_take(d, st.MPI_SOURCE, v);
    }
}

fn_status fn_dist_progress_end(fn_dist_progress *d) {
    fn_status s = FN_OK;
    if (g_size > 1 && g_rank != 0) progress_send(d, 1);
    if (g_size > 1 && g_rank == 0) {
        while (d->waiting > 0 && d->seen) {
            long v;
            MPI_Status st;
            int rc = MPI_Recv(&v, 1, MPI_LONG, MPI_ANY_SOURCE, PROGRESS_TAG, MPI_COMM_WORLD, &st);
            if (rc != MPI_SUCCESS) { s = mpi_error("MPI_Recv (progress)", rc); break; }
            progress_take(d, st.MPI_SOURCE, v);
        }
    }
    fn_progress_end(&d->p);
    free(d->seen);
    d->seen = NULL;
    return s;
}

#else /* ---------------------------------------------------------------- without MPI */
int fn_dist_available(void) { return 0; }

fn_status fn_dist_init(void) {
    int n = fn_dist_launched_size();
    if (n > 1)
        return fn_fail(FN_ERR_UNSUPPORTED, "started as %d MPI ranks, but this facenet was built without MPI: install "
                       "Open MPI (Debian: apt-get install libopenmpi-dev openmpi-bin) and rebuild (cmake finds it)", n);
    g_joined = 1;
    return FN_OK;
}
void fn_dist_finalize(void) { g_joined = 0; }
void fn_dist_abort(int code) { (void)code; }
fn_status fn_dist_sum_f32(float *x, size_t n) { (void)x; (void)n; return FN_OK; }
fn_status fn_dist_sum_f64(double *x, size_t n) { (void)x; (void)n; return FN_OK; }
fn_status fn_dist_max_int(int *v) { (void)v; return FN_OK; }
fn_status fn_dist_allgather_f32(float *all, const long *counts) { (void)all; (void)counts; return FN_OK; }
fn_status fn_dist_allgather_f64(double *all, const long *counts) { (void)all; (void)counts; return FN_OK; }
fn_status fn_dist_bcast(void *p, size_t bytes) { (void)p; (void)bytes; return FN_OK; }
fn_status fn_dist_gather_bytes(const void *mine, size_t n, char **out, size_t *total) {
    *out = malloc(n ? n : 1);
    *total = 0;
    if (!*out) return fn_fail(FN_ERR_NOMEM, "out of memory");
    if (n) memcpy(*out, mine, n);
    *total = n;
    return FN_OK;
}
fn_status fn_dist_barrier(void) { return FN_OK; }
void fn_dist_progress_begin(fn_dist_progress *d, const char *label, long total) {
    memset(d, 0, sizeof *d);
    fn_progress_begin(&d->p, label, total);
}
void fn_dist_progress_step(fn_dist_progress *d, long n) { d->mine += n; fn_progress_step(&d->p, n); }
fn_status fn_dist_progress_end(fn_dist_progress *d) { fn_progress_end(&d->p); return FN_OK; }
#endif

void fn_dist_get_counters(fn_dist_counters *c) { *c = g_count; }
