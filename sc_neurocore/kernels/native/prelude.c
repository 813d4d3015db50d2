/* What every compiled kernel template starts with (build.py puts it at their SC_PRELUDE line):
 * the math headers (VECTOR_MATH declares libmvec's vector forms of the libm functions,
 * empty where the C library has none) and a minimal parallel for. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
VECTOR_MATH
#include <tgmath.h>
SC_VECTOR_EXP

#define MAX_THREADS 64

/* Split [0, n) into per-thread ranges (multiples of 16 neurons) and run them.  With
 * OpenMP the ranges run on the process's OpenMP pool, which is torch's own when torch
 * loaded libgomp first (same soname): idle torch workers spin for a while after each
 * parallel op, so a second pool of threads would fight them for the cores. */
typedef void (*range_fn)(const void *job, int64_t lo, int64_t hi, int64_t chunk);

#ifndef _OPENMP
typedef struct {
  range_fn run;
  const void *job;
  int64_t lo, hi, chunk;
} slice_t;

static void *run_slice(void *arg) {
  slice_t *slice = arg;
  slice->run(slice->job, slice->lo, slice->hi, slice->chunk);
  return NULL;
}
#endif

static void parallel_for(range_fn run, const void *job, int64_t n, int64_t chunk, int threads) {
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if (threads < 1) threads = 1;
  const int64_t per = ((n + threads - 1) / threads + 15) / 16 * 16;
  const int used = (int)((n + per - 1) / per);
#ifdef _OPENMP
#pragma omp parallel for num_threads(used) schedule(static, 1)
  for (int k = 0; k < used; k++) run(job, k * per, (k + 1) * per < n ? (k + 1) * per : n, chunk);
#else
  slice_t slices[MAX_THREADS];
  pthread_t ids[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  for (int k = 0; k < used; k++) {
    slice_t slice = {run, job, k * per, (k + 1) * per < n ? (k + 1) * per : n, chunk};
    slices[k] = slice;
  }
  for (int k = 1; k < used; k++)
    started[k] = pthread_create(&ids[k], NULL, run_slice, &slices[k]) == 0;
  run_slice(&slices[0]);
  for (int k = 1; k < used; k++) {
    if (started[k])
      pthread_join(ids[k], NULL);
    else
      run_slice(&slices[k]); /* no thread to be had: run that range here */
  }
#endif
}
