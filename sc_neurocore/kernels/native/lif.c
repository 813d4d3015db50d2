/* Compiled kernels of the fused multi-step LIF for one surrogate (see lif.py).
 *
 * build.fill_template fills in three placeholders before compiling: the prelude (prelude.c:
 * headers and the thread pool), SURROGATE_PARAMS declares the spec's parameters as
 * scalar_t locals read from `sc_params`, and SURROGATE_GRAD is the spec's c_grad
 * expression of `x`.  The body below is instantiated once per dtype by replacing
 * scalar_t (the compute type), storage_t (the element type of the (T, n) tensors x, spikes,
 * grad_spikes and grad_h) and DTYPE: float32 and float64 compute in their own type,
 * bfloat16 and float16 are loaded into float and stored rounded (half.c).  The membrane
 * and the per-neuron values (v0, v_T, grad_v, beta, threshold, v_reset) are compute-typed.
 *
 * The equations are LIFCell's, in the same floating-point operations as its torch
 * kernels (h = fma(beta, v, x), spike = h > threshold, v = reset_of(h, ...)), so spikes
 * are bit-identical; the backward is the closed-form recurrence of kernels/torch/lif.py.
 * The reset mode is a code: 0 subtract (v = h - spike * threshold), 1 zero (v = v_reset
 * where spike, else h), 2 none (v = h).
 * Each thread owns a range of neurons and walks them in chunks small enough that one
 * chunk's membrane history (T x chunk) stays in its L2 cache between the two passes.
 */
SC_PRELUDE

#define MAX_CHUNK 4096 /* neurons per chunk; lif.py never asks for more */

/* @@BODY@@ (everything below is repeated per dtype) */

/* The membrane after the reset of pre-reset membrane h (0 or 1 spike). */
static inline __attribute__((always_inline)) scalar_t reset_of_DTYPE(
    const scalar_t h, const scalar_t spike, const scalar_t th, const scalar_t vr,
    const int reset) {
  if (reset == 0) return h - spike * th;
  if (reset == 1) return spike != 0 ? vr : h;
  return h;
}

typedef struct {
  const storage_t *x;
  const scalar_t *v0, *beta, *threshold, *v_reset;
  storage_t *spikes;
  scalar_t *v_out;
  int64_t steps, n;
  int reset;
} forward_job_DTYPE;

/* LIFCell's forward over one chunk of m neurons (x and spikes point at its first column):
 * h = fma(beta, v, x), spike = h > threshold, v = reset_of(h, spike).  Writes the spikes
 * (write_membrane = 0: the forward) or h itself into `membrane`, rows `stride` apart (1:
 * the backward's recomputation, which must reproduce the forward bit for bit) per step;
 * v enters as v_0 and leaves as v_T. */
static inline __attribute__((always_inline)) void integrate_DTYPE(
    const storage_t *x_chunk, storage_t *spikes_chunk, scalar_t *membrane_chunk,
    const int64_t stride, scalar_t *restrict v, const scalar_t *restrict beta,
    const scalar_t *restrict threshold, const scalar_t *restrict v_reset, int64_t steps,
    int64_t n, int64_t m, const int per_neuron, const int write_membrane, const int reset) {
  const scalar_t beta0 = beta[0], threshold0 = threshold[0], v_reset0 = v_reset[0];
  for (int64_t t = 0; t < steps; t++) {
    const storage_t *restrict x = x_chunk + t * n;
    storage_t *restrict spikes = write_membrane ? NULL : spikes_chunk + t * n;
    scalar_t *restrict membrane = write_membrane ? membrane_chunk + t * stride : NULL;
    for (int64_t i = 0; i < m; i++) {
      const scalar_t b = per_neuron ? beta[i] : beta0;
      const scalar_t th = per_neuron ? threshold[i] : threshold0;
      const scalar_t vr = per_neuron ? v_reset[i] : v_reset0;
      const scalar_t h = fma(b, v[i], (scalar_t)LOAD_DTYPE(x[i]));
      const scalar_t spike = (scalar_t)(h > th);
      if (write_membrane)
        membrane[i] = h;
      else
        spikes[i] = STORE_DTYPE(spike);
      v[i] = reset_of_DTYPE(h, spike, th, vr, reset);
    }
  }
}

static inline __attribute__((always_inline)) void forward_range_DTYPE(
    const forward_job_DTYPE *job, int64_t lo, int64_t hi, int64_t chunk, const int per_neuron) {
  scalar_t v[MAX_CHUNK];
  const int64_t n = job->n;
  for (int64_t c = lo; c < hi; c += chunk) {
    const int64_t m = hi - c < chunk ? hi - c : chunk;
    const int64_t offset = per_neuron ? c : 0;
    for (int64_t i = 0; i < m; i++) v[i] = job->v0[c + i];
    integrate_DTYPE(job->x + c, job->spikes + c, NULL, 0, v, job->beta + offset,
                    job->threshold + offset, job->v_reset + offset, job->steps, n, m, per_neuron,
                    0, job->reset);
    for (int64_t i = 0; i < m; i++) job->v_out[c + i] = v[i];
  }
}

static void forward_scalar_DTYPE(const void *job, int64_t lo, int64_t hi, int64_t chunk) {
  forward_range_DTYPE(job, lo, hi, chunk, 0);
}

static void forward_per_neuron_DTYPE(const void *job, int64_t lo, int64_t hi, int64_t chunk) {
  forward_range_DTYPE(job, lo, hi, chunk, 1);
}

void sc_lif_forward_DTYPE(const storage_t *x, const scalar_t *v0, const scalar_t *beta,
                          const scalar_t *threshold, const scalar_t *v_reset, int reset,
                          int per_neuron, storage_t *spikes, scalar_t *v_out, int64_t steps,
                          int64_t n, int64_t chunk, int threads) {
  forward_job_DTYPE job = {x, v0, beta, threshold, v_reset, spikes, v_out, steps, n, reset};
  parallel_for(per_neuron ? forward_per_neuron_DTYPE : forward_scalar_DTYPE, &job, n, chunk,
               threads);
}

typedef struct {
  const storage_t *grad_spikes, *x;
  const scalar_t *grad_v, *v0, *beta, *threshold, *v_reset;
  const double *params;
  storage_t *grad_h;
  double *sum_beta, *sum_threshold;
  int64_t steps, n;
  int spikes_broadcast, reset;
  int *failed; /* set when a thread cannot allocate its membrane history */
} backward_job_DTYPE;

static inline __attribute__((always_inline)) scalar_t surrogate_DTYPE(const scalar_t x,
                                                                      const double *sc_params) {
  const scalar_t PI = (scalar_t)3.14159265358979323846;
  (void)PI;
  SURROGATE_PARAMS
  return (scalar_t)(SURROGATE_GRAD);
}

static inline __attribute__((always_inline)) void backward_range_DTYPE(
    const backward_job_DTYPE *job, int64_t lo, int64_t hi, int64_t chunk, const int per_neuron,
    const int sums) {
  /* Parameter sums per neuron over this chunk's steps, in the input dtype so the loop
   * vectorises; added to the float64 totals once per chunk. */
  scalar_t v[MAX_CHUNK], chunk_beta[MAX_CHUNK], chunk_threshold[MAX_CHUNK];
  const int64_t n = job->n, steps = job->steps;
  const double *params = job->params;
  /* The membrane history h_t of a chunk: in grad_h itself where it has the compute type,
   * else in a float scratch (a bf16 h would not reproduce the forward's spikes). */
  scalar_t *scratch = NULL;
  if (!IN_PLACE_DTYPE) {
    scratch = malloc(sizeof(scalar_t) * (size_t)(steps * chunk));
    if (scratch == NULL) {
      __atomic_store_n(job->failed, 1, __ATOMIC_RELAXED);
      return;
    }
  }
  const int64_t stride = IN_PLACE_DTYPE ? n : chunk;
  for (int64_t c = lo; c < hi; c += chunk) {
    const int64_t m = hi - c < chunk ? hi - c : chunk;
    const scalar_t *restrict beta = job->beta + (per_neuron ? c : 0);
    const scalar_t *restrict threshold = job->threshold + (per_neuron ? c : 0);
    const scalar_t *restrict v_reset = job->v_reset + (per_neuron ? c : 0);
    const scalar_t beta0 = beta[0], threshold0 = threshold[0], v_reset0 = v_reset[0];
    const int mode = job->reset;
    /* Pass 1, forward in time: the pre-reset membrane h_t into grad_h. */
    const scalar_t *restrict v0 = job->v0 + c;
    scalar_t *history = IN_PLACE_DTYPE ? (scalar_t *)(void *)(job->grad_h + c) : scratch;
    for (int64_t i = 0; i < m; i++) v[i] = v0[i];
    integrate_DTYPE(job->x + c, NULL, history, stride, v, beta, threshold, v_reset, steps, n, m,
                    per_neuron, 1, mode);
    if (sums)
      for (int64_t i = 0; i < m; i++) chunk_beta[i] = chunk_threshold[i] = 0;
    /* Pass 2, backward in time: h_t is replaced by dL/dh_t; v carries dL/dv_t / factor.
     * It starts as dL/dv_T with factor 1 (fma(1, a, b) == a + b exactly), then holds
     * dL/dh_{t+1} with factor beta: no branch on the last step inside the loop. */
    const int broadcast = job->spikes_broadcast;
    for (int64_t i = 0; i < m; i++) v[i] = job->grad_v[c + i];
    for (int64_t t = steps - 1; t >= 0; t--) {
      const storage_t *restrict grad_spikes = job->grad_spikes + (broadcast ? 0 : t * n + c);
      const scalar_t grad_spikes0 = LOAD_DTYPE(grad_spikes[0]);
      scalar_t *restrict h = history + t * stride;
      storage_t *restrict out = IN_PLACE_DTYPE ? NULL : job->grad_h + t * n + c;
      /* v_{t-1}: the reset of h_{t-1} (not yet overwritten), or v_0 at the first step */
      const scalar_t *restrict before = t > 0 ? history + (t - 1) * stride : v0;
      const int after_reset = t > 0;
      const int last = t == steps - 1;
      const scalar_t factor0 = last ? 1 : beta0;
      for (int64_t i = 0; i < m; i++) {
        const scalar_t factor = per_neuron ? (last ? 1 : beta[i]) : factor0;
        const scalar_t th = per_neuron ? threshold[i] : threshold0;
        const scalar_t vr = per_neuron ? v_reset[i] : v_reset0;
        const scalar_t g = broadcast ? grad_spikes0 : (scalar_t)LOAD_DTYPE(grad_spikes[i]);
        const scalar_t ht = h[i];
        const scalar_t spike = (scalar_t)(ht > th);
        const scalar_t term = g * surrogate_DTYPE(ht - th, params);
        /* k_t = dv_t/dh_t: 1 - spike for the zero reset, else 1 */
        const scalar_t kept = mode == 1 ? 1 - spike : 1;
        const scalar_t grad_v_t = factor * v[i]; /* dL/dv_t */
        const scalar_t grad_h = fma(factor, v[i] * kept, term);
        if (sums) {
          const scalar_t v_prev =
              after_reset ? reset_of_DTYPE(before[i], (scalar_t)(before[i] > th), th, vr, mode)
                          : before[i];
          chunk_beta[i] += grad_h * v_prev;
          chunk_threshold[i] += grad_v_t * (mode == 2 ? 1 : 1 - spike) - grad_h;
        }
        if (IN_PLACE_DTYPE)
          h[i] = grad_h;
        else
          out[i] = STORE_DTYPE(grad_h);
        v[i] = grad_h;
      }
    }
    if (sums)
      for (int64_t i = 0; i < m; i++) {
        job->sum_beta[c + i] += chunk_beta[i];
        job->sum_threshold[c + i] += chunk_threshold[i];
      }
  }
  free(scratch);
}

#define BACKWARD_VARIANT(NAME, PER_NEURON, SUMS)                                    \
  static void NAME(const void *job, int64_t lo, int64_t hi, int64_t chunk) {         \
    backward_range_DTYPE(job, lo, hi, chunk, PER_NEURON, SUMS);                     \
  }
BACKWARD_VARIANT(backward_scalar_DTYPE, 0, 0)
BACKWARD_VARIANT(backward_per_neuron_DTYPE, 1, 0)
BACKWARD_VARIANT(backward_scalar_sums_DTYPE, 0, 1)
BACKWARD_VARIANT(backward_per_neuron_sums_DTYPE, 1, 1)
#undef BACKWARD_VARIANT

/* Returns 0, or 1 when a thread could not allocate its scratch (grad_h is then invalid). */
int sc_lif_backward_DTYPE(const storage_t *grad_spikes, int spikes_broadcast,
                          const scalar_t *grad_v, const storage_t *x, const scalar_t *v0,
                          const scalar_t *beta, const scalar_t *threshold,
                          const scalar_t *v_reset, int reset, int per_neuron,
                          const double *params, storage_t *grad_h, double *sum_beta,
                          double *sum_threshold, int64_t steps, int64_t n, int64_t chunk,
                          int threads) {
  int failed = 0;
  backward_job_DTYPE job = {grad_spikes, x, grad_v, v0, beta, threshold, v_reset, params,
                            grad_h, sum_beta, sum_threshold, steps, n, spikes_broadcast, reset,
                            &failed};
  const int sums = sum_beta != NULL;
  range_fn run =
      per_neuron ? (sums ? backward_per_neuron_sums_DTYPE : backward_per_neuron_DTYPE)
                 : (sums ? backward_scalar_sums_DTYPE : backward_scalar_DTYPE);
  parallel_for(run, &job, n, chunk, threads);
  return failed;
}

/* The surrogate alone, for checking c_grad against the spec's torch grad. */
void sc_surrogate_DTYPE(const scalar_t *x, scalar_t *out, int64_t n, const double *params) {
  for (int64_t i = 0; i < n; i++) out[i] = surrogate_DTYPE(x[i], params);
}

/* The storage conversions alone, for checking them against torch's. */
void sc_store_DTYPE(const scalar_t *x, storage_t *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = STORE_DTYPE(x[i]);
}

void sc_load_DTYPE(const storage_t *x, scalar_t *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = LOAD_DTYPE(x[i]);
}
