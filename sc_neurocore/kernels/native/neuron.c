/* Compiled kernels of one neuron's step program with one surrogate (see neuron.py).
 *
 * No neuron is written here: neuron.py generates every NEURON_* placeholder from the step
 * program (sc_neurocore/core/step_program.py) and build.fill_template puts in the prelude,
 * the surrogate's parameters (SURROGATE_PARAMS) and its g(x) (SURROGATE_GRAD).  Variables of
 * the generated code: s<k> the state k entering the step, xin the input, p<j> parameter j,
 * h<i> a value of the scalar parameters alone (computed in double, as torch computes a
 * Python float expression before it meets a tensor), u<k> the updated states, fire, spike,
 * n<k> the states leaving the step; backward: go, g<k> the gradients leaving the step, sg
 * the surrogate's g(fire), gp<k> the gradients entering it, gx, dp<j>.  Each assignment is
 * the program's own, in its order of operations, compiled without contraction
 * (-ffp-contract=off): the spikes are bit-identical to the torch kernels'.
 *
 * The body is instantiated per dtype (scalar_t the compute type, storage_t the element type
 * of the (T, n) tensors x, out, grad_out and grad_x; bfloat16 and float16 are stored and
 * computed in float, half.c).  States, parameters and gradients of one step are
 * compute-typed arrays of n values.  Each thread owns a range of neurons and walks it in
 * chunks (neuron.py sizes them): the forward's long, the backward's small enough that a
 * chunk's state history (T x ROWS x chunk) stays in its L2 cache between the backward's
 * two passes: forward in time recording the states entering each step, then backward in
 * time recomputing one step from its recorded states.
 *
 * GCC's partial-redundancy elimination turns ``exp(a < 5 ? a : 5)`` into
 * ``a < 5 ? exp(a) : exp(5)``; the vectoriser then calls the vector exp on the unclamped
 * argument, whose overflowing lanes take libmvec's scalar fallback (expif's kernels ran 3x
 * slower, every clamped neuron alike).  Without that pass the clamp stays before the call;
 * the results are the same bits (no floating-point operation changes).  Nor may it turn
 * a block's copy loop into a memcpy call per block (store_block_DTYPE): the in-cache
 * fwd+bwd of a small layer (T=25, 16 x 256) ran 1.18x the time with it.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-pre", "no-tree-loop-distribute-patterns")
#endif
SC_PRELUDE
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define STATES NEURON_STATE_COUNT
#define PARAMS NEURON_PARAM_COUNT
/* rows of the backward's history per step: the states entering it and the recorded values
 * of its vector-math calls (memo<j>, see neuron_source.memo_calls) */
#define MEMOS NEURON_MEMO_COUNT
/* rows of the surrogate's exp calls at each step's fire value, recorded by the first pass
 * after the memos: computed there, beside the short forward step, the exp no longer adds
 * its registers and latency to the second pass's long chain (fused LIF with sigmoid at
 * AVX2, 16 vector registers: see docs/paths.md) */
#define CALLS SURROGATE_CALL_COUNT
#define ROWS (STATES + MEMOS + CALLS)
/* Every loop over a chunk's neurons runs in blocks of BLOCK, each first prefetching the
 * rows of x (and grad_out) AHEAD time steps away: a row is a jump of n elements, where the
 * hardware prefetcher starts over.  A prefetch inside the element loop would stop GCC
 * vectorising it; blocks of 64 cost the arithmetic-bound (AVX-512, exp) loops 8-16 %. */
#ifndef BLOCK
#define BLOCK 128
#endif
#ifndef AHEAD
#define AHEAD 2
#endif
/* Sequences of at most this many bytes stay in the caches: no prefetch (it cost a 16 x 256,
 * T=25 layer's in-cache fwd+bwd 7 %). */
#define PREFETCH_BYTES ((int64_t)1 << 22)

/* Orders a thread's non-temporal stores before the join that publishes its outputs. */
static inline __attribute__((always_inline)) void end_stores(int stream) {
#if defined(__SSE2__)
  if (stream) _mm_sfence();
#else
  (void)stream;
#endif
}

/* @@BODY@@ (everything below is repeated per dtype) */

typedef struct {
  const storage_t *x, *grad_out;
  const scalar_t *const *states0, *const *grad_finals, *const *arrays;
  const double *scalars, *sc_params;
  storage_t *out, *grad_x;
  scalar_t *const *finals, *const *grad_states;
  double *const *sums;
  int64_t steps, n;
  int out_broadcast;
  int stream; /* non-temporal stores of out / grad_x (store_block_DTYPE) */
  int *failed; /* set when a thread cannot allocate its scratch */
} job_DTYPE;

/* The surrogate's exp calls at x into calls[k * stride] (the backward's first pass records
 * them, see CALLS), and g(x) from those values (its second pass). */
static inline __attribute__((always_inline)) void surrogate_calls_DTYPE(const scalar_t x,
                                                                        const double *sc_params,
                                                                        scalar_t *calls,
                                                                        const int64_t stride) {
  const scalar_t PI = (scalar_t)3.14159265358979323846;
  (void)PI;
  (void)x;
  (void)calls;
  (void)stride;
  SURROGATE_PARAMS
  SURROGATE_CALLS_STORE
}

static inline __attribute__((always_inline)) scalar_t surrogate_DTYPE(const scalar_t x,
                                                                      const scalar_t *calls,
                                                                      const int64_t stride,
                                                                      const double *sc_params) {
  const scalar_t PI = (scalar_t)3.14159265358979323846;
  (void)PI;
  (void)calls;
  (void)stride;
  SURROGATE_PARAMS
  SURROGATE_CALLS_LOAD
  return (scalar_t)(SURROGATE_GRAD);
}

/* Asks for the cache lines of row[b, e) (a row AHEAD time steps away). */
static inline __attribute__((always_inline)) void prefetch_DTYPE(const storage_t *row, int64_t b,
                                                                 int64_t e) {
  for (int64_t j = b; j < e; j += (int64_t)(64 / sizeof(storage_t))) __builtin_prefetch(row + j);
}

/* Copies `count` outputs from `block` (one block's, in L1) to `row`: with `stream` (an
 * output larger than the caches, see neuron.py) and an x86-64 row aligned to 16 bytes, by
 * non-temporal stores, which neither read the row's lines first (write-allocate) nor keep
 * them in the cache; else by plain stores (a loop, not a memcpy call per block). */
static inline __attribute__((always_inline)) void store_block_DTYPE(storage_t *restrict row,
                                                                    const storage_t *restrict block,
                                                                    int64_t count, int stream) {
#if defined(__SSE2__)
  const size_t bytes = sizeof(storage_t) * (size_t)count;
  if (stream && ((uintptr_t)row & 15) == 0 && bytes % 16 == 0) {
    for (size_t j = 0; j < bytes; j += 16)
      _mm_stream_si128((__m128i *)((char *)row + j),
                       _mm_load_si128((const __m128i *)((const char *)block + j)));
    return;
  }
#else
  (void)stream;
#endif
  for (int64_t i = 0; i < count; i++) row[i] = block[i];
}

/* Scratch of `count` compute values for one thread; NULL (and the job marked) without. */
static scalar_t *scratch_DTYPE(const job_DTYPE *job, int64_t count) {
  scalar_t *scratch = malloc(sizeof(scalar_t) * (size_t)count);
  if (scratch == NULL) __atomic_store_n(job->failed, 1, __ATOMIC_RELAXED);
  return scratch;
}

static void forward_range_DTYPE(const void *arg, int64_t lo, int64_t hi, int64_t chunk) {
  const job_DTYPE *job = arg;
  const int64_t n = job->n, steps = job->steps;
  const int far = steps * n * (int64_t)sizeof(storage_t) > PREFETCH_BYTES; /* see AHEAD */
  const double *scalars = job->scalars;
  (void)scalars;
  NEURON_SCALARS
  scalar_t *state = scratch_DTYPE(job, STATES * chunk);
  if (state == NULL) return;
  for (int64_t c = lo; c < hi; c += chunk) {
    const int64_t m = hi - c < chunk ? hi - c : chunk;
    NEURON_ARRAYS
    for (int k = 0; k < STATES; k++)
      for (int64_t i = 0; i < m; i++) state[k * chunk + i] = job->states0[k][c + i];
    NEURON_ROWS_IN_PLACE
    for (int64_t t = 0; t < steps; t++) {
      const storage_t *restrict xs = job->x + t * n + c;
      storage_t *restrict out = job->out + t * n + c;
      for (int64_t b = 0; b < m; b += BLOCK) {
        const int64_t e = b + BLOCK < m ? b + BLOCK : m;
        if (far && t + AHEAD < steps) prefetch_DTYPE(xs + AHEAD * n, b, e);
        storage_t block[BLOCK] __attribute__((aligned(64)));
        for (int64_t i = b; i < e; i++) {
          NEURON_LOAD
          const scalar_t xin = LOAD_DTYPE(xs[i]);
          NEURON_MEMO_COMPUTE
          NEURON_FORWARD
          block[i - b] = STORE_DTYPE(NEURON_OUTPUT);
          NEURON_KEEP
        }
        store_block_DTYPE(out + b, block, e - b, job->stream);
      }
    }
    for (int k = 0; k < STATES; k++)
      for (int64_t i = 0; i < m; i++) job->finals[k][c + i] = state[k * chunk + i];
  }
  end_stores(job->stream);
  free(state);
}

static inline __attribute__((always_inline)) void backward_range_DTYPE(
    const job_DTYPE *job, int64_t lo, int64_t hi, int64_t chunk, const int learn) {
  const int64_t n = job->n, steps = job->steps;
  const int far = steps * n * (int64_t)sizeof(storage_t) > PREFETCH_BYTES; /* see AHEAD */
  const double *scalars = job->scalars, *sc_params = job->sc_params;
  (void)scalars;
  (void)sc_params;
  NEURON_SCALARS
  /* the ROWS of every step (one more step's room: the last step's states leaving it are
   * written and never read), then the carried gradients, then the parameter shares summed
   * over this chunk's steps (compute dtype, so the loop vectorises; added to the float64
   * totals once per chunk) */
  scalar_t *history = scratch_DTYPE(job, ((steps + 1) * ROWS + STATES + PARAMS) * chunk);
  if (history == NULL) return;
  scalar_t *grads = history + (steps + 1) * ROWS * chunk, *shares = grads + STATES * chunk;
  (void)shares;
  for (int64_t c = lo; c < hi; c += chunk) {
    const int64_t m = hi - c < chunk ? hi - c : chunk;
    NEURON_ARRAYS
    for (int k = 0; k < STATES; k++)
      for (int64_t i = 0; i < m; i++) history[k * chunk + i] = job->states0[k][c + i];
    /* pass 1, forward in time: the states entering step t + 1 are those leaving step t
     * (the last step only for its memos) */
    for (int64_t t = 0; t + (MEMOS + CALLS ? 0 : 1) < steps; t++) {
      const storage_t *restrict xs = job->x + t * n + c;
      scalar_t *restrict callrows = history + (t * ROWS + STATES + MEMOS) * chunk;
      (void)callrows;
      NEURON_ROWS_RECORD
      for (int64_t b = 0; b < m; b += BLOCK) {
        const int64_t e = b + BLOCK < m ? b + BLOCK : m;
        if (far && t + AHEAD < steps) prefetch_DTYPE(xs + AHEAD * n, b, e);
        for (int64_t i = b; i < e; i++) {
          NEURON_LOAD
          const scalar_t xin = LOAD_DTYPE(xs[i]);
          NEURON_MEMO_COMPUTE
          NEURON_FORWARD
          NEURON_KEEP
          NEURON_MEMO_KEEP
          NEURON_CALLS_KEEP
        }
        SURROGATE_CALLS_FINISH
      }
    }
    /* pass 2, backward in time: each step recomputed from the states entering it */
    for (int k = 0; k < STATES; k++)
      for (int64_t i = 0; i < m; i++) grads[k * chunk + i] = job->grad_finals[k][c + i];
    if (learn)
      for (int64_t i = 0; i < PARAMS * chunk; i++) shares[i] = 0;
    NEURON_ROWS_GRADS
    const int broadcast = job->out_broadcast;
    for (int64_t t = steps - 1; t >= 0; t--) {
      const storage_t *restrict xs = job->x + t * n + c;
      const storage_t *restrict gos = job->grad_out + (broadcast ? 0 : t * n + c);
      const scalar_t go0 = LOAD_DTYPE(gos[0]);
      storage_t *restrict gxs = job->grad_x + t * n + c;
      const scalar_t *restrict callrows = history + (t * ROWS + STATES + MEMOS) * chunk;
      (void)callrows;
      NEURON_ROWS_REPLAY
      for (int64_t b = 0; b < m; b += BLOCK) {
        const int64_t e = b + BLOCK < m ? b + BLOCK : m;
        if (far && t >= AHEAD) {
          prefetch_DTYPE(xs - AHEAD * n, b, e);
          if (!broadcast) prefetch_DTYPE(gos - AHEAD * n, b, e);
        }
        storage_t block[BLOCK] __attribute__((aligned(64)));
        for (int64_t i = b; i < e; i++) {
          NEURON_LOAD
          const scalar_t xin = LOAD_DTYPE(xs[i]);
          NEURON_MEMO_LOAD
          NEURON_FORWARD
          const scalar_t go = broadcast ? go0 : (scalar_t)LOAD_DTYPE(gos[i]);
          NEURON_SURROGATE
          NEURON_GRADS_IN
          NEURON_BACKWARD
          if (learn) {
            NEURON_SHARES
          }
          block[i - b] = STORE_DTYPE(gx);
          NEURON_GRADS_OUT
        }
        store_block_DTYPE(gxs + b, block, e - b, job->stream);
      }
    }
    for (int k = 0; k < STATES; k++)
      for (int64_t i = 0; i < m; i++) job->grad_states[k][c + i] = grads[k * chunk + i];
    if (learn)
      for (int j = 0; j < PARAMS; j++)
        for (int64_t i = 0; i < m; i++) job->sums[j][c + i] += shares[j * chunk + i];
  }
  end_stores(job->stream);
  free(history);
}

static void backward_plain_DTYPE(const void *job, int64_t lo, int64_t hi, int64_t chunk) {
  backward_range_DTYPE(job, lo, hi, chunk, 0);
}

static void backward_learn_DTYPE(const void *job, int64_t lo, int64_t hi, int64_t chunk) {
  backward_range_DTYPE(job, lo, hi, chunk, 1);
}

/* Returns 0, or 1 when a thread could not allocate its scratch (outputs are then invalid).
 * ``stream``: write the output (the input gradient) with non-temporal stores. */
int sc_neuron_forward_DTYPE(const storage_t *x, const scalar_t *const *states0,
                            const double *scalars, const scalar_t *const *arrays, storage_t *out,
                            scalar_t *const *finals, int64_t steps, int64_t n, int64_t chunk,
                            int threads, int stream) {
  int failed = 0;
  const job_DTYPE job = {.x = x,
                         .states0 = states0,
                         .arrays = arrays,
                         .scalars = scalars,
                         .out = out,
                         .finals = finals,
                         .steps = steps,
                         .n = n,
                         .stream = stream,
                         .failed = &failed};
  parallel_for(forward_range_DTYPE, &job, n, chunk, threads);
  return failed;
}

/* ``sums`` NULL: no parameter learns (the shares are not computed). */
int sc_neuron_backward_DTYPE(const storage_t *grad_out, int out_broadcast,
                             const scalar_t *const *grad_finals, const storage_t *x,
                             const scalar_t *const *states0, const double *scalars,
                             const scalar_t *const *arrays, const double *sc_params,
                             storage_t *grad_x, scalar_t *const *grad_states,
                             double *const *sums, int64_t steps, int64_t n, int64_t chunk,
                             int threads, int stream) {
  int failed = 0;
  const job_DTYPE job = {.x = x,
                         .grad_out = grad_out,
                         .states0 = states0,
                         .grad_finals = grad_finals,
                         .arrays = arrays,
                         .scalars = scalars,
                         .sc_params = sc_params,
                         .grad_x = grad_x,
                         .grad_states = grad_states,
                         .sums = sums,
                         .steps = steps,
                         .n = n,
                         .out_broadcast = out_broadcast,
                         .stream = stream,
                         .failed = &failed};
  parallel_for(sums ? backward_learn_DTYPE : backward_plain_DTYPE, &job, n, chunk, threads);
  return failed;
}

/* The storage conversions alone, for checking them against torch's bit for bit. */
void sc_store_DTYPE(const scalar_t *x, storage_t *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = STORE_DTYPE(x[i]);
}

void sc_load_DTYPE(const storage_t *x, scalar_t *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = LOAD_DTYPE(x[i]);
}
