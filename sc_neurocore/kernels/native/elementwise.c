/* Compiled element-wise surrogate kernels for one surrogate (see elementwise.py).
 *
 * build.fill_template puts the prelude (headers, parallel_for) below this comment, declares the
 * surrogate's parameters at SURROGATE_PARAMS and writes its g(x) at SURROGATE_GRAD (an
 * expression of the scalar `x`).  The body is instantiated once per dtype (scalar_t, DTYPE).
 * Both kernels are one pass over memory: the spike reads x and writes out; the backward
 * reads x and grad_out (or grad_out's one value when it is broadcast) and writes
 * grad_out * g(x), in that order of operations, as the torch reference computes it.
 * A formula's exp calls (SURROGATE_CALLS_BLOCK, from formula.c_split) are computed first over a block
 * of SC_BLOCK elements into a small array that stays in L1, and read back by the loop of the
 * rest (SURROGATE_CALLS_READ): the same operations, in two loops whose chains of dependent
 * operations are each short enough for the CPU to overlap many elements (one loop over the
 * whole formula was bound by its latency).
 */
SC_PRELUDE

#define SC_BLOCK 256

/* @@BODY@@ (everything below is repeated per dtype) */

typedef struct {
  const scalar_t *x, *grad_out;
  scalar_t *out;
  const double *params;
  int broadcast;
} job_DTYPE;

static void spike_range_DTYPE(const void *arg, int64_t lo, int64_t hi, int64_t chunk) {
  const job_DTYPE *job = arg;
  const scalar_t *restrict xs = job->x;
  scalar_t *restrict out = job->out;
  (void)chunk;
  for (int64_t i = lo; i < hi; i++) out[i] = (scalar_t)(xs[i] > 0);
}

static void backward_range_DTYPE(const void *arg, int64_t lo, int64_t hi, int64_t chunk) {
  const job_DTYPE *job = arg;
  const double *sc_params = job->params;
  const scalar_t PI = (scalar_t)3.14159265358979323846;
  (void)PI;
  (void)chunk;
  SURROGATE_PARAMS
  const scalar_t *restrict xs = job->x;
  const scalar_t *restrict gs = job->grad_out;
  scalar_t *restrict out = job->out;
  for (int64_t start = lo; start < hi; start += SC_BLOCK) {
    const int64_t end = hi - start < SC_BLOCK ? hi : start + SC_BLOCK;
    (void)end;
    SURROGATE_CALLS_BLOCK
    if (job->broadcast) {
      const scalar_t g = gs[0];
      for (int64_t i = start; i < end; i++) {
        const scalar_t x = xs[i];
        SURROGATE_CALLS_READ
        out[i] = g * (scalar_t)(SURROGATE_GRAD);
      }
    } else {
      for (int64_t i = start; i < end; i++) {
        const scalar_t x = xs[i];
        SURROGATE_CALLS_READ
        out[i] = gs[i] * (scalar_t)(SURROGATE_GRAD);
      }
    }
  }
}

static void run_DTYPE(range_fn range, const job_DTYPE *job, int64_t n, int threads) {
  if (threads <= 1)
    range(job, 0, n, 0);
  else
    parallel_for(range, job, n, 0, threads);
}

void sc_spike_DTYPE(const scalar_t *x, scalar_t *out, int64_t n, int threads) {
  const job_DTYPE job = {x, NULL, out, NULL, 0};
  run_DTYPE(spike_range_DTYPE, &job, n, threads);
}

void sc_backward_DTYPE(const scalar_t *x, const scalar_t *grad_out, int broadcast, scalar_t *out,
                       int64_t n, const double *params, int threads) {
  const job_DTYPE job = {x, grad_out, out, params, broadcast};
  run_DTYPE(backward_range_DTYPE, &job, n, threads);
}
