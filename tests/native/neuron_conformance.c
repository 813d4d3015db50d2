/* The generated neuron kernels' part of the conformance driver (pasted after conformance.c,
 * whose symbol(), print(), value(), params[] and the half.c conversions it uses).
 *
 * usage: conformance neuron LIBRARY DTYPE STATES LAYOUT SPIKING EXACT [PARAM ...] [SURROGATE ...]
 * DTYPE the library's one instance (f32, f64, bf16, f16); STATES its number of states;
 * LAYOUT one '0' (a scalar) or '1' (a per-neuron array) per parameter of the program, whose
 * defaults follow; SPIKING 1 unless the program is a readout; EXACT 1 where the states must
 * be bit-identical (0 where the forward step calls a transcendental function, whose last bit
 * may differ between C libraries); the surrogate's parameters come last.
 *
 * Every state starts at a fixed value in [-0.5, 0.5) except every fifth neuron, which starts
 * at rest (all states 0) and gets the input 1 at step 0: with the default threshold 1 that
 * puts a LIF's fire value exactly at 0, where `>` and `>=` part.  The input is scaled by 1,
 * 12 or 100, the first scale at which the single-threaded forward spikes (a neuron in mV
 * needs the larger ones).  Per-neuron parameters are their default times 1 + 0.1 u (u a fixed
 * value in [-1, 1); the neurons at rest keep the default).  Every run is repeated on one and
 * two threads, with and without non-temporal stores of the (T, n) outputs (`stream`: taken
 * where a row is 16-byte aligned, so some rows of the aligned arrays here).
 */
#define NEURON_STEPS 8
#define NEURON_COUNT 45 /* two threads get 32 and 13 neurons: vector and scalar tails */
#define NEURON_CHUNK 16
#define NEURON_CELLS (NEURON_STEPS * NEURON_COUNT)
#define NEURON_STATES 8

typedef struct {
  int states, count, spiking, exact;
  const char *layout;
  double defaults[MAX_PARAMS];
} neuron_t;

/* "exact" or "ulp" for a state line of `neuron`. */
static const char *state_kind(const neuron_t *neuron) { return neuron->exact ? "exact" : "ulp"; }

#define DEFINE_NEURON_DRIVER(scalar_t, storage_t, SFX, CSFX, STORE)                              \
  static void neuron_##SFX(const neuron_t *nrn) {                                                \
    int (*forward)(const storage_t *, const scalar_t *const *, const double *,                   \
                   const scalar_t *const *, storage_t *, scalar_t *const *, int64_t, int64_t,    \
                   int64_t, int, int) = symbol("sc_neuron_forward_" #SFX);                        \
    int (*backward)(const storage_t *, int, const scalar_t *const *, const storage_t *,           \
                    const scalar_t *const *, const double *, const scalar_t *const *,            \
                    const double *, storage_t *, scalar_t *const *, double *const *, int64_t,    \
                    int64_t, int64_t, int, int) = symbol("sc_neuron_backward_" #SFX);             \
    static scalar_t initial[NEURON_STATES][NEURON_COUNT], finals[NEURON_STATES][NEURON_COUNT];   \
    static scalar_t carried[NEURON_STATES][NEURON_COUNT], grads[NEURON_STATES][NEURON_COUNT];    \
    static scalar_t arrays[MAX_PARAMS][NEURON_COUNT];                                            \
    static double sums[MAX_PARAMS][NEURON_COUNT];                                                \
    static storage_t x[NEURON_CELLS], grad_out[NEURON_CELLS];                                    \
    static storage_t out[NEURON_CELLS] __attribute__((aligned(64)));                             \
    static storage_t grad_x[NEURON_CELLS] __attribute__((aligned(64)));                          \
    const scalar_t *initial_p[NEURON_STATES], *carried_p[NEURON_STATES], *arrays_p[MAX_PARAMS];  \
    scalar_t *finals_p[NEURON_STATES], *grads_p[NEURON_STATES];                                  \
    double scalars[MAX_PARAMS], *sums_p[MAX_PARAMS];                                             \
    int used = 0;                                                                                \
    for (int j = 0; j < nrn->count; j++) {                                                       \
      const int per_neuron = nrn->layout[j] == '1';                                              \
      scalars[j] = per_neuron ? 0.0 : nrn->defaults[j];                                          \
      sums_p[j] = sums[j];                                                                       \
      if (!per_neuron) continue;                                                                 \
      for (int i = 0; i < NEURON_COUNT; i++)                                                     \
        arrays[used][i] = (scalar_t)(nrn->defaults[j] *                                          \
                                     (i % 5 ? 1 + 0.1 * value(7 * (i + 3 * j) + 2, 1.0) : 1));   \
      arrays_p[used] = arrays[used];                                                             \
      used++;                                                                                    \
    }                                                                                            \
    for (int k = 0; k < nrn->states; k++) {                                                      \
      fill_##SFX(initial[k], NEURON_COUNT, 31 * k + 3, 0.5, 0);                                  \
      fill_##SFX(carried[k], NEURON_COUNT, 31 * k + 23, 1.0, 0);                                 \
      for (int i = 0; i < NEURON_COUNT; i += 5) initial[k][i] = 0;                               \
      initial_p[k] = initial[k], carried_p[k] = carried[k];                                      \
      finals_p[k] = finals[k], grads_p[k] = grads[k];                                            \
    }                                                                                            \
    static const double scales[] = {1.0, 12.0, 100.0};                                           \
    for (int s = 0; s < 3; s++) {                                                                \
      stored_##SFX(x, NEURON_CELLS, 5, 1.5 * scales[s], 0);                                      \
      for (int i = 0; i < NEURON_COUNT; i += 5) x[i] = STORE(1);                                 \
      if (forward(x, initial_p, scalars, arrays_p, out, finals_p, NEURON_STEPS, NEURON_COUNT,    \
                  NEURON_CHUNK, 1, 0))                                                           \
        exit(4);                                                                                 \
      int spiked = 0;                                                                            \
      for (int i = 0; i < NEURON_CELLS; i++) spiked |= out[i] != STORE(0);                       \
      if (spiked || !nrn->spiking) break;                                                        \
    }                                                                                            \
    stored_##SFX(grad_out, NEURON_CELLS, 17, 1.0, 0);                                            \
    char label[96];                                                                              \
    for (int threads = 1; threads <= 2; threads++)                                               \
    for (int stream = 0; stream <= 1; stream++) {                                                \
      if (forward(x, initial_p, scalars, arrays_p, out, finals_p, NEURON_STEPS, NEURON_COUNT,    \
                  NEURON_CHUNK, threads, stream))                                                \
        exit(4);                                                                                 \
      snprintf(label, sizeof label, "%s:neuron_out:" #SFX ":t%d:s%d",                            \
               nrn->spiking ? "exact" : state_kind(nrn), threads, stream);                       \
      print(label, out, sizeof out);                                                             \
      for (int k = 0; k < nrn->states; k++) {                                                    \
        snprintf(label, sizeof label, "%s:neuron_final%d_" #SFX ":" #CSFX ":t%d:s%d",            \
                 state_kind(nrn), k, threads, stream);                                           \
        print(label, finals[k], sizeof finals[k]);                                               \
      }                                                                                          \
      for (int learn = 0; learn <= 1; learn++)                                                   \
        for (int broadcast = 0; broadcast <= 1; broadcast++) {                                   \
          memset(sums, 0, sizeof sums);                                                          \
          if (backward(grad_out, broadcast, carried_p, x, initial_p, scalars, arrays_p, params,  \
                       grad_x, grads_p, learn ? sums_p : NULL, NEURON_STEPS, NEURON_COUNT,       \
                       NEURON_CHUNK, threads, stream))                                           \
            exit(4);                                                                             \
          snprintf(label, sizeof label, "ulp:neuron_grad_x:" #SFX ":t%d:s%d:l%d:b%d", threads,   \
                   stream, learn, broadcast);                                                    \
          print(label, grad_x, sizeof grad_x);                                                   \
          for (int k = 0; k < nrn->states; k++) {                                                \
            snprintf(label, sizeof label, "ulp:neuron_grad%d_" #SFX ":" #CSFX ":t%d:s%d:l%d:b%d", \
                     k, threads, stream, learn, broadcast);                                      \
            print(label, grads[k], sizeof grads[k]);                                             \
          }                                                                                      \
          for (int j = 0; learn && j < nrn->count; j++) {                                        \
            scalar_t sum[NEURON_COUNT]; /* summed in scalar_t per chunk: its ulps */             \
            for (int i = 0; i < NEURON_COUNT; i++) sum[i] = (scalar_t)sums[j][i];                \
            snprintf(label, sizeof label, "ulp:neuron_param%d_" #SFX ":" #CSFX ":t%d:s%d:b%d", j, \
                     threads, stream, broadcast);                                                \
            print(label, sum, sizeof sum);                                                       \
          }                                                                                      \
        }                                                                                        \
    }                                                                                            \
  }

DEFINE_NEURON_DRIVER(float, float, f32, f32, SAME)
DEFINE_NEURON_DRIVER(double, double, f64, f64, SAME)
DEFINE_NEURON_DRIVER(float, uint16_t, bf16, f32, sc_bf16_store)
DEFINE_NEURON_DRIVER(float, uint16_t, f16, f32, sc_f16_store)

static int neuron_main(int argc, char **argv) {
  neuron_t nrn = {0};
  if (argc < 8) {
    fprintf(stderr, "usage: %s neuron LIBRARY DTYPE STATES LAYOUT SPIKING EXACT [PARAM ...]\n",
            argv[0]);
    return 2;
  }
  nrn.states = atoi(argv[4]);
  nrn.layout = argv[5];
  nrn.count = (int)strlen(nrn.layout);
  nrn.spiking = atoi(argv[6]);
  nrn.exact = atoi(argv[7]);
  const int surrogate = argc - 8 - nrn.count;
  if (nrn.states < 1 || nrn.states > NEURON_STATES || nrn.count > MAX_PARAMS || surrogate < 0 ||
      surrogate > MAX_PARAMS) {
    fprintf(stderr, "bad neuron arguments\n");
    return 2;
  }
  for (int j = 0; j < nrn.count; j++) nrn.defaults[j] = strtod(argv[8 + j], NULL);
  for (int j = 0; j < surrogate; j++) params[j] = strtod(argv[8 + nrn.count + j], NULL);
  library = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 3;
  }
  if (strcmp(argv[3], "f32") == 0)
    neuron_f32(&nrn);
  else if (strcmp(argv[3], "f64") == 0)
    neuron_f64(&nrn);
  else if (strcmp(argv[3], "bf16") == 0)
    neuron_bf16(&nrn);
  else if (strcmp(argv[3], "f16") == 0)
    neuron_f16(&nrn);
  else {
    fprintf(stderr, "unknown dtype %s\n", argv[3]);
    return 2;
  }
  return 0;
}
