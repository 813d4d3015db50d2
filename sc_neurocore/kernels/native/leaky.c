/* Compiled kernels of the fused leaky integrator (see leaky.py).
 *
 * build.fill_template puts the prelude (headers, parallel_for) below this comment; the body
 * is instantiated once per dtype (scalar_t: the compute type, storage_t: the element type of
 * the (T, n) sequences, DTYPE; bf16 and fp16 are loaded into float, stored rounded, half.c).
 * A bf16/fp16 sequence carries y (and, backward, dL/dx) from step to step in float (a
 * per-thread scratch row), so every stored value is the float32 result rounded once.  The model's one equation is
 * leaky_step (y = decay * y_prev + x, one fma, as torch's add with alpha computes it, so
 * the fused and stepwise results agree bit for bit); the backward is the same filter in
 * reverse time.  Each thread owns a range of neurons; the time loop is outermost within a
 * chunk so the inner loop over neurons vectorises.  No surrogate is involved, so one
 * library serves every surrogate (SURROGATE_PARAMS and SURROGATE_GRAD are unused).
 */
SC_PRELUDE

/* @@BODY@@ (everything below is repeated per dtype) */

/* The per-step equation of the model, in one place. */
static inline __attribute__((always_inline)) scalar_t leaky_step_DTYPE(scalar_t decay,
                                                                       scalar_t previous,
                                                                       scalar_t drive) {
  return fma(decay, previous, drive);
}

typedef struct {
  const storage_t *x, *grad_y, *y;
  const scalar_t *y0, *decay;
  storage_t *out;
  double *sum_decay;
  int64_t steps, n;
  int per_neuron;
  int *failed; /* set when a thread cannot allocate its float carry */
} leaky_job_DTYPE;

/* The float carry of a thread's neurons, or NULL where the storage is the compute type. */
static scalar_t *carry_DTYPE(const leaky_job_DTYPE *job, int64_t count) {
  if (IN_PLACE_DTYPE) return NULL;
  scalar_t *carry = malloc(sizeof(scalar_t) * (size_t)(count > 0 ? count : 1));
  if (carry == NULL) __atomic_store_n(job->failed, 1, __ATOMIC_RELAXED);
  return carry;
}

static void leaky_forward_range_DTYPE(const void *arg, int64_t lo, int64_t hi, int64_t chunk) {
  const leaky_job_DTYPE *job = arg;
  const int64_t n = job->n;
  (void)chunk;
  scalar_t *carry = carry_DTYPE(job, hi - lo);
  if (!IN_PLACE_DTYPE && carry == NULL) return;
  for (int64_t t = 0; t < job->steps; t++) {
    const storage_t *restrict x = job->x + t * n;
    const storage_t *restrict previous = t > 0 ? job->out + (t - 1) * n : NULL;
    storage_t *restrict out = job->out + t * n;
    for (int64_t i = lo; i < hi; i++) {
      const scalar_t decay = job->per_neuron ? job->decay[i] : job->decay[0];
      const scalar_t kept = IN_PLACE_DTYPE ? (scalar_t)LOAD_DTYPE(previous[i]) : carry[i - lo];
      const scalar_t before = t > 0 ? kept : job->y0[i];
      const scalar_t y = leaky_step_DTYPE(decay, before, (scalar_t)LOAD_DTYPE(x[i]));
      out[i] = STORE_DTYPE(y);
      if (!IN_PLACE_DTYPE) carry[i - lo] = y;
    }
  }
  free(carry);
}

/* dL/dx_t = dL/dy_t + decay * dL/dx_{t+1}; the decay's gradient sum_t dL/dx_t * y_{t-1}. */
static void leaky_backward_range_DTYPE(const void *arg, int64_t lo, int64_t hi, int64_t chunk) {
  const leaky_job_DTYPE *job = arg;
  const int64_t n = job->n, steps = job->steps;
  (void)chunk;
  scalar_t *carry = carry_DTYPE(job, hi - lo);
  if (!IN_PLACE_DTYPE && carry == NULL) return;
  for (int64_t t = steps - 1; t >= 0; t--) {
    const storage_t *restrict grad_y = job->grad_y + t * n;
    storage_t *restrict out = job->out + t * n;
    if (t == steps - 1) {
      for (int64_t i = lo; i < hi; i++) {
        out[i] = grad_y[i];
        if (!IN_PLACE_DTYPE) carry[i - lo] = (scalar_t)LOAD_DTYPE(grad_y[i]);
      }
    } else {
      const storage_t *restrict following = job->out + (t + 1) * n;
      for (int64_t i = lo; i < hi; i++) {
        const scalar_t decay = job->per_neuron ? job->decay[i] : job->decay[0];
        const scalar_t next = IN_PLACE_DTYPE ? (scalar_t)LOAD_DTYPE(following[i]) : carry[i - lo];
        const scalar_t grad = leaky_step_DTYPE(decay, next, (scalar_t)LOAD_DTYPE(grad_y[i]));
        out[i] = STORE_DTYPE(grad);
        if (!IN_PLACE_DTYPE) carry[i - lo] = grad;
      }
    }
    if (job->sum_decay != NULL) {
      const storage_t *restrict before = t > 0 ? job->y + (t - 1) * n : NULL;
      for (int64_t i = lo; i < hi; i++) {
        const double previous = t > 0 ? (double)LOAD_DTYPE(before[i]) : (double)job->y0[i];
        const double grad = IN_PLACE_DTYPE ? (double)LOAD_DTYPE(out[i]) : (double)carry[i - lo];
        job->sum_decay[i] += grad * previous;
      }
    }
  }
  free(carry);
}

/* Both return 0, or 1 when a thread could not allocate its carry (the output is invalid). */
int sc_leaky_forward_DTYPE(const storage_t *x, const scalar_t *y0, const scalar_t *decay,
                           int per_neuron, storage_t *y, int64_t steps, int64_t n, int threads) {
  int failed = 0;
  leaky_job_DTYPE job = {x, NULL, NULL, y0, decay, y, NULL, steps, n, per_neuron, &failed};
  parallel_for(leaky_forward_range_DTYPE, &job, n, n, threads);
  return failed;
}

int sc_leaky_backward_DTYPE(const storage_t *grad_y, const storage_t *y, const scalar_t *y0,
                            const scalar_t *decay, int per_neuron, storage_t *grad_x,
                            double *sum_decay, int64_t steps, int64_t n, int threads) {
  int failed = 0;
  leaky_job_DTYPE job = {NULL, grad_y, y, y0, decay, grad_x, sum_decay, steps, n, per_neuron,
                         &failed};
  parallel_for(leaky_backward_range_DTYPE, &job, n, n, threads);
  return failed;
}
