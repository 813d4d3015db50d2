/* Conformance driver for the compiled kernels: loads one kernel library built by
 * build.compiler_command (for any target: the x86 host, aarch64 under qemu, clang), calls
 * every exported function in every variant on fixed inputs and prints each output array as
 * one line `kind:name:dtype:variant hex-bytes` (kind `exact`: must be bit-identical across
 * targets; `ulp`: within the documented bound).  tests/native_targets.py compares two targets' lines.
 *
 * usage: conformance elementwise LIBRARY [PARAM ...]
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
  }

#define SAME(value) (value)
DEFINE_DRIVER(float, float, f32, f32, SAME)
DEFINE_DRIVER(double, double, f64, f64, SAME)
DEFINE_DRIVER(float, uint16_t, bf16, f32, sc_bf16_store)
DEFINE_DRIVER(float, uint16_t, f16, f32, sc_f16_store)

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "neuron") == 0) return neuron_main(argc, argv);
  if (argc < 3 || argc - 3 > MAX_PARAMS) {
    fprintf(stderr, "usage: %s elementwise LIBRARY [PARAM ...]\n", argv[0]);
    return 2;
  }
  for (int i = 3; i < argc; i++) params[i - 3] = strtod(argv[i], NULL);
  library = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 3;
  }
  if (strcmp(argv[1], "elementwise") == 0) {
    elementwise_f32();
    elementwise_f64();
  } else {
    fprintf(stderr, "unknown kernel family %s\n", argv[1]);
    return 2;
  }
  return 0;
}
