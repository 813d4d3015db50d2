/* Compiled kernels of the fused leaky integrator (see leaky.py).
 *
 * build.fill_template puts the prelude (headers, parallel_for) below this comment; the body
 * is instantiated once per dtype (scalar_t, DTYPE).  The model's one equation is
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
  const scalar_t *x, *y0, *decay, *grad_y, *y;
  scalar_t *out;
  double *sum_decay;
  int64_t steps, n;
  int per_neuron;
} leaky_job_DTYPE;

static void leaky_forward_range_DTYPE(const void *arg, int64_t lo, int64_t hi, int64_t chunk) {
  const leaky_job_DTYPE *job = arg;
  const int64_t n = job->n;
  (void)chunk;
  for (int64_t t = 0; t < job->steps; t++) {
    const scalar_t *restrict x = job->x + t * n;
    const scalar_t *restrict previous = t > 0 ? job->out + (t - 1) * n : job->y0;
    scalar_t *restrict out = job->out + t * n;
    for (int64_t i = lo; i < hi; i++) {
      const scalar_t decay = job->per_neuron ? job->decay[i] : job->decay[0];
      out[i] = leaky_step_DTYPE(decay, previous[i], x[i]);
    }
  }
}

/* dL/dx_t = dL/dy_t + decay * dL/dx_{t+1}; the decay's gradient sum_t dL/dx_t * y_{t-1}. */
static void leaky_backward_range_DTYPE(const void *arg, int64_t lo, int64_t hi, int64_t chunk) {
  const leaky_job_DTYPE *job = arg;
  const int64_t n = job->n, steps = job->steps;
  (void)chunk;
  for (int64_t t = steps - 1; t >= 0; t--) {
    const scalar_t *restrict grad_y = job->grad_y + t * n;
    scalar_t *restrict out = job->out + t * n;
    if (t == steps - 1) {
      for (int64_t i = lo; i < hi; i++) out[i] = grad_y[i];
    } else {
      const scalar_t *restrict following = job->out + (t + 1) * n;
      for (int64_t i = lo; i < hi; i++) {
        const scalar_t decay = job->per_neuron ? job->decay[i] : job->decay[0];
        out[i] = leaky_step_DTYPE(decay, following[i], grad_y[i]);
      }
    }
    if (job->sum_decay != NULL) {
      const scalar_t *restrict before = t > 0 ? job->y + (t - 1) * n : job->y0;
      for (int64_t i = lo; i < hi; i++) job->sum_decay[i] += (double)out[i] * (double)before[i];
    }
  }
}

void sc_leaky_forward_DTYPE(const scalar_t *x, const scalar_t *y0, const scalar_t *decay,
                            int per_neuron, scalar_t *y, int64_t steps, int64_t n, int threads) {
  leaky_job_DTYPE job = {x, y0, decay, NULL, NULL, y, NULL, steps, n, per_neuron};
  parallel_for(leaky_forward_range_DTYPE, &job, n, n, threads);
}

void sc_leaky_backward_DTYPE(const scalar_t *grad_y, const scalar_t *y, const scalar_t *y0,
                             const scalar_t *decay, int per_neuron, scalar_t *grad_x,
                             double *sum_decay, int64_t steps, int64_t n, int threads) {
  leaky_job_DTYPE job = {NULL, y0, decay, grad_y, y, grad_x, sum_decay, steps, n, per_neuron};
  parallel_for(leaky_backward_range_DTYPE, &job, n, n, threads);
}
