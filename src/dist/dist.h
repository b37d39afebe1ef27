/* dist.h — MPI for training and dataset jobs (`mpirun -np N facenet train|align|...`):
 * which rank this process is and the few collectives the callers need. Ranks, launch and
 * collectives are Open MPI's; this file only adapts them to fn_status.
 *
 * Built without MPI (FN_HAVE_MPI unset), or started without an MPI launcher, the process
 * is rank 0 of 1 and every collective is a no-op, so callers have one code path. Under a
 * launcher with more than one rank a build without MPI fails fn_dist_init with a message
 * that says what to install.
 *
 * Errors: the communicator returns errors (MPI_ERRORS_RETURN) and they become fn_status;
 * a rank that dies makes mpirun end the others. Collectives are called from one thread. */
#ifndef FN_DIST_H
#define FN_DIST_H
#include "core.h"

/* Joins the job when an MPI launcher started this process (idempotent). */
fn_status fn_dist_init(void);
/* MPI_Finalize (after fn_dist_init; harmless otherwise). */
void fn_dist_finalize(void);
/* Ends every rank of the job (a failed rank must not leave the others in a collective). */
void fn_dist_abort(int code);
int fn_dist_rank(void);
int fn_dist_size(void);
/* Built with MPI. */
int fn_dist_available(void);
/* The launcher's rank count from the environment (Open MPI, MPICH/PMI, Slurm), 1 if none. */
int fn_dist_launched_size(void);
/* This rank's share [*lo, *hi) of n items: contiguous, in rank order. */
void fn_dist_share(long n, int rank, int size, long *lo, long *hi);

/* In-place sums over all ranks. float sums go in buckets of FN_DIST_BUCKET floats,
 * started together (MPI_Iallreduce) and waited for together. */
enum { FN_DIST_BUCKET = 1 << 20 };
fn_status fn_dist_sum_f32(float *x, size_t n);
fn_status fn_dist_sum_f64(double *x, size_t n);
/* The largest of v over ranks (status agreement: any rank's failure is everyone's). */
fn_status fn_dist_max_int(int *v);
/* In place: rank r's counts[r] values sit at the sum of the counts before it; afterwards
 * every rank holds all of them. */
fn_status fn_dist_allgather_f32(float *all, const long *counts);
fn_status fn_dist_allgather_f64(double *all, const long *counts);
/* Rank 0's bytes to every rank. */
fn_status fn_dist_bcast(void *p, size_t bytes);
/* Every rank's bytes, concatenated in rank order, on rank 0 (*out malloc'd; NULL and 0
 * elsewhere). */
fn_status fn_dist_gather_bytes(const void *mine, size_t n, char **out, size_t *total);
fn_status fn_dist_barrier(void);

/* Progress of a job split across ranks, drawn on rank 0 alone for the whole job: the
 * other ranks send how far they are (a few bytes, at most every 0.25 s) and rank 0 adds
 * it to its bar. _end is collective: rank 0 waits for every rank's last count. */
typedef struct { fn_progress p; long mine; double last; long *seen; int waiting; } fn_dist_progress;
void fn_dist_progress_begin(fn_dist_progress *d, const char *label, long total);
void fn_dist_progress_step(fn_dist_progress *d, long n);
fn_status fn_dist_progress_end(fn_dist_progress *d);

/* What the collectives cost so far: seconds inside them, bytes this rank contributed to
 * float/double sums (the all-reduced volume), calls. */
typedef struct { double seconds; uint64_t bytes_reduced; uint64_t calls; } fn_dist_counters;
void fn_dist_get_counters(fn_dist_counters *c);
#endif
