/* Conformance driver for the compiled kernels: loads one kernel library built by
 * build.compiler_command (for any target: the x86 host, aarch64 under qemu, clang), calls
 * every exported function in every variant on fixed inputs and prints each output array as
 * one line `kind:name:dtype:variant hex-bytes` (kind `exact`: must be bit-identical across
 * targets; `ulp`: within the documented bound).  tests/native_targets.py compares two targets' lines.
 *
 * usage: conformance (lif|elementwise|leaky) LIBRARY [PARAM ...]
 *        conformance neuron LIBRARY ... (a generated neuron kernel: neuron_conformance.c)
 * The inputs come from a fixed integer recurrence plus values chosen to sit on the edges:
 * exactly at the threshold, signed zeros, denormals, huge values, infinities.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 6
#define NEURONS 40
#define CHUNK 16
#define CELLS (STEPS * NEURONS)
#define MAX_PARAMS 16

static double params[MAX_PARAMS];
static int neuron_main(int argc, char **argv); /* neuron_conformance.c, pasted below */

/* kernels/native/half.c (the conversions of the bf16/f16 instances) is pasted above this file
 * by tests/native_targets.py, so inputs are stored exactly as torch would store them. */
static void *library;

static void *symbol(const char *name) {
  void *found = dlsym(library, name);
  if (found == NULL) {
    fprintf(stderr, "missing symbol %s\n", name);
    exit(3);
  }
  return found;
}

static void print(const char *label, const void *data, size_t bytes) {
  const unsigned char *p = data;
  printf("%s ", label);
  for (size_t i = 0; i < bytes; i++) printf("%02x", p[i]);
  printf("\n");
}

/* Deterministic values in [-scale, scale), with edge values mixed in. */
static double value(int i, double scale) {
  static const double edges[] = {0.0, -0.0, 1.0, -1.0, 1e-40, -1e-40, 1e-310, 50.0, -50.0,
                                 100.0, -100.0, 1e30, -1e30, INFINITY, -INFINITY};
  const int count = sizeof edges / sizeof edges[0];
  if (i % 7 == 3) return edges[(i / 7) % count];
  const uint32_t mixed = (uint32_t)i * 2654435761u;
  return ((double)(mixed >> 8) / (double)(1u << 24) * 2 - 1) * scale;
}

#define DEFINE_DRIVER(scalar_t, storage_t, SFX, CSFX, STORE)                                                            \
  static void fill_##SFX(scalar_t *a, int n, int seed, double scale, int edges) {               \
    for (int i = 0; i < n; i++)                                                                 \
      a[i] = (scalar_t)(edges ? value(i + seed, scale)                                          \
                              : value(7 * (i + seed) + 1, scale)); /* i % 7 != 3: no edges */   \
  }                                                                                             \
  static void stored_##SFX(storage_t *a, int n, int seed, double scale, int edges) {            \
    for (int i = 0; i < n; i++) {                                                               \
      scalar_t one;                                                                             \
      fill_##SFX(&one, 1, i + seed, scale, edges);                                              \
      a[i] = STORE(one);                                                                        \
    }                                                                                           \
  }                                                                                             \
                                                                                                \
  static void elementwise_##SFX(void) {                                                         \
    void (*spike)(const scalar_t *, scalar_t *, int64_t, int) = symbol("sc_spike_" #SFX);       \
    void (*backward)(const scalar_t *, const scalar_t *, int, scalar_t *, int64_t,              \
                     const double *, int) = symbol("sc_backward_" #SFX);                        \
    scalar_t x[CELLS], g[CELLS], out[CELLS];                                                    \
    fill_##SFX(x, CELLS, 0, 3.0, 1);                                                            \
    fill_##SFX(g, CELLS, 11, 2.0, 0);                                                           \
    for (int threads = 1; threads <= 2; threads++) {                                            \
      char label[64];                                                                           \
      spike(x, out, CELLS, threads);                                                            \
      snprintf(label, sizeof label, "exact:spike:" #SFX ":t%d", threads);                     \
      print(label, out, sizeof out);                                                            \
      for (int broadcast = 0; broadcast <= 1; broadcast++) {                                    \
        backward(x, g, broadcast, out, CELLS, params, threads);                                 \
        snprintf(label, sizeof label, "ulp:backward:" #SFX ":b%d:t%d", broadcast, threads); \
        print(label, out, sizeof out);                                                          \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
                                                                                                \
  static void lif_##SFX(void) {                                                                 \
    void (*forward)(const storage_t *, const scalar_t *, const scalar_t *, const scalar_t *,    \
                    const scalar_t *, int, int, storage_t *, scalar_t *, int64_t, int64_t,      \
                    int64_t, int) = symbol("sc_lif_forward_" #SFX);                             \
    int (*backward)(const storage_t *, int, const scalar_t *, const storage_t *,                \
                    const scalar_t *, const scalar_t *, const scalar_t *, const scalar_t *,     \
                    int, int, const double *, storage_t *, double *, double *, int64_t,         \
                    int64_t, int64_t, int) = symbol("sc_lif_backward_" #SFX);                   \
    void (*surrogate)(const scalar_t *, scalar_t *, int64_t, const double *) =                  \
        symbol("sc_surrogate_" #SFX);                                                           \
    scalar_t v0[NEURONS], beta[NEURONS], threshold[NEURONS], v_reset[NEURONS], values[CELLS];   \
    scalar_t v_out[NEURONS], grad_v[NEURONS];                                                   \
    storage_t x[CELLS], spikes[CELLS], grad_spikes[CELLS], out[CELLS];                          \
    double sum_beta[NEURONS], sum_threshold[NEURONS];                                           \
    stored_##SFX(x, CELLS, 5, 1.5, 0);                                                          \
    for (int i = 0; i < CELLS; i += 9) x[i] = STORE(1); /* h exactly at the threshold */        \
    fill_##SFX(v0, NEURONS, 3, 0.5, 0);                                                         \
    for (int i = 0; i < NEURONS; i++) {                                                         \
      beta[i] = (scalar_t)(0.5 + 0.45 * value(7 * i + 2, 1.0));                                 \
      threshold[i] = (scalar_t)(1.0 + 0.25 * value(7 * i + 4, 1.0));                            \
      v_reset[i] = (scalar_t)(0.1 * value(7 * i + 5, 1.0));                                     \
    }                                                                                           \
    beta[0] = (scalar_t)0.9, threshold[0] = (scalar_t)1, v_reset[0] = (scalar_t)0;              \
    stored_##SFX(grad_spikes, CELLS, 17, 1.0, 0);                                               \
    fill_##SFX(grad_v, NEURONS, 23, 1.0, 0);                                                    \
    char label[96];                                                                             \
    for (int reset = 0; reset <= 2; reset++)                                                    \
      for (int per_neuron = 0; per_neuron <= 1; per_neuron++)                                   \
        for (int threads = 1; threads <= 2; threads++) {                                        \
          forward(x, v0, beta, threshold, v_reset, reset, per_neuron, spikes, v_out, STEPS,     \
                  NEURONS, CHUNK, threads);                                                     \
          snprintf(label, sizeof label, "exact:lif_spikes:" #SFX ":r%d:p%d:t%d", reset, per_neuron,  \
                   threads);                                                                    \
          print(label, spikes, sizeof spikes);                                                  \
          snprintf(label, sizeof label, "exact:lif_v_" #SFX ":" #CSFX ":r%d:p%d:t%d", reset,  \
                   per_neuron, threads);                                                        \
          print(label, v_out, sizeof v_out);                                                    \
          for (int sums = 0; sums <= 1; sums++)                                                 \
            for (int broadcast = 0; broadcast <= 1; broadcast++) {                              \
              memset(sum_beta, 0, sizeof sum_beta);                                             \
              memset(sum_threshold, 0, sizeof sum_threshold);                                   \
              if (backward(grad_spikes, broadcast, grad_v, x, v0, beta, threshold, v_reset,     \
                           reset,                                                               \
                       per_neuron, params, out, sums ? sum_beta : NULL,                         \
                       sums ? sum_threshold : NULL, STEPS, NEURONS, CHUNK, threads))            \
                exit(4);                                                                        \
              snprintf(label, sizeof label, "ulp:lif_grad:" #SFX ":r%d:p%d:t%d:s%d:b%d", reset, \
                       per_neuron, threads, sums, broadcast);                                   \
              print(label, out, sizeof out);                                                    \
              if (sums) { /* summed in scalar_t per chunk: compared in its ulps */             \
                scalar_t sum[NEURONS];                                                          \
                for (int i = 0; i < NEURONS; i++) sum[i] = (scalar_t)sum_beta[i];               \
                snprintf(label, sizeof label, "ulp:lif_beta_" #SFX ":" #CSFX ":r%d:p%d:t%d:b%d",  \
                         reset,                                                                 \
                         per_neuron, threads, broadcast);                                       \
                print(label, sum, sizeof sum);                                                  \
                for (int i = 0; i < NEURONS; i++) sum[i] = (scalar_t)sum_threshold[i];          \
                snprintf(label, sizeof label, "ulp:lif_threshold_" #SFX ":" #CSFX ":r%d:p%d:t%d:b%d", \
                         reset, per_neuron, threads, broadcast);                                \
                print(label, sum, sizeof sum);                                                  \
              }                                                                                 \
            }                                                                                   \
        }                                                                                       \
    fill_##SFX(values, CELLS, 0, 3.0, 1);                                                       \
    scalar_t gradient[CELLS];                                                                   \
    surrogate(values, gradient, CELLS, params);                                                 \
    print("ulp:surrogate_" #SFX ":" #CSFX, gradient, sizeof gradient);                          \
  }                                                                                             \
                                                                                                \
  static void leaky_##SFX(void) {                                                               \
    int (*forward)(const storage_t *, const scalar_t *, const scalar_t *, int, storage_t *,     \
                   int64_t, int64_t, int) = symbol("sc_leaky_forward_" #SFX);                   \
    int (*backward)(const storage_t *, const storage_t *, const scalar_t *, const scalar_t *,   \
                    int, storage_t *, double *, int64_t, int64_t, int) =                        \
        symbol("sc_leaky_backward_" #SFX);                                                      \
    storage_t x[CELLS], y[CELLS], grad_y[CELLS], out[CELLS];                                    \
    scalar_t y0[NEURONS], decay[NEURONS];                                                       \
    double sums[NEURONS];                                                                       \
    stored_##SFX(x, CELLS, 2, 2.0, 0);                                                          \
    fill_##SFX(y0, NEURONS, 9, 1.0, 0);                                                         \
    stored_##SFX(grad_y, CELLS, 13, 1.0, 0);                                                    \
    for (int i = 0; i < NEURONS; i++) decay[i] = (scalar_t)(0.5 + 0.45 * value(7 * i, 1.0));    \
    char label[64];                                                                             \
    for (int per_neuron = 0; per_neuron <= 1; per_neuron++)                                     \
      for (int threads = 1; threads <= 2; threads++) {                                          \
        if (forward(x, y0, decay, per_neuron, y, STEPS, NEURONS, threads)) exit(4);             \
        snprintf(label, sizeof label, "exact:leaky:" #SFX ":p%d:t%d", per_neuron, threads);   \
        print(label, y, sizeof y);                                                              \
        memset(sums, 0, sizeof sums);                                                           \
        if (backward(grad_y, y, y0, decay, per_neuron, out, sums, STEPS, NEURONS, threads))     \
          exit(4);                                                                              \
        snprintf(label, sizeof label, "exact:leaky_grad:" #SFX ":p%d:t%d", per_neuron, threads); \
        print(label, out, sizeof out);                                                          \
        snprintf(label, sizeof label, "exact:leaky_sums_" #SFX ":f64:p%d:t%d", per_neuron,      \
                 threads);                                                                      \
        print(label, sums, sizeof sums);                                                        \
      }                                                                                         \
  }

#define SAME(value) (value)
DEFINE_DRIVER(float, float, f32, f32, SAME)
DEFINE_DRIVER(double, double, f64, f64, SAME)
DEFINE_DRIVER(float, uint16_t, bf16, f32, sc_bf16_store)
DEFINE_DRIVER(float, uint16_t, f16, f32, sc_f16_store)

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "neuron") == 0) return neuron_main(argc, argv);
  if (argc < 3 || argc - 3 > MAX_PARAMS) {
    fprintf(stderr, "usage: %s (lif|elementwise|leaky) LIBRARY [PARAM ...]\n", argv[0]);
    return 2;
  }
  for (int i = 3; i < argc; i++) params[i - 3] = strtod(argv[i], NULL);
  library = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 3;
  }
  if (strcmp(argv[1], "lif") == 0) {
    lif_f32();
    lif_f64();
    lif_bf16();
    lif_f16();
  } else if (strcmp(argv[1], "elementwise") == 0) {
    elementwise_f32();
    elementwise_f64();
  } else if (strcmp(argv[1], "leaky") == 0) {
    leaky_f32();
    leaky_f64();
    leaky_bf16();
    leaky_f16();
  } else {
    fprintf(stderr, "unknown kernel family %s\n", argv[1]);
    return 2;
  }
  return 0;
}
