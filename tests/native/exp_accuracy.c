/* Accuracy of the kernels' own exp (sc_neurocore/kernels/native/vexp.c, pasted above this
 * file by tests/test_vector_exp.py) over every float and a dense sweep of doubles, and of its
 * exp of a non-positive argument (sc_exp_nonpositive_f32) over every float with the sign bit
 * set.
 *
 * The double reference is expl (64-bit mantissa on x86: 2^-11 of a double ulp); the float
 * reference is the double exp above, checked first by that sweep (its error, near one double
 * ulp, is 2^-29 of a float ulp).  An error is counted in units in the last place of the reference in the
 * result's format (2^-149 or 2^-1074 in the denormal range); a result of infinity counts as
 * 2^128 (2^1024), so a value rounded to infinity one step early or late is one ulp off.
 * Prints one line of key=value pairs; the test parses it and asserts the bounds.
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* |y - ref| in ulps of ref as a float (ref > 0, finite); straight-line, so it vectorises */
static inline double ulp_error_f32(float y, double ref) {
  const double limit = 0x1p128;
  const double got = y > FLT_MAX ? limit : (double)y;
  const double target = ref > limit ? limit : ref;
  uint64_t bits;
  memcpy(&bits, &target, 8);
  int64_t e = (int64_t)(bits >> 52) - 1023;
  e = e < -126 ? -126 : e;
  const uint64_t scale_bits = (uint64_t)(1023 + 23 - e) << 52; /* 2^(23 - e) */
  double scale;
  memcpy(&scale, &scale_bits, 8);
  return fabs(got - target) * scale;
}

static long double ulp_error_f64(double y, long double ref) {
  if (isnan(ref)) return isnan(y) ? 0 : INFINITY;
  const long double limit = 0x1p1024L;
  const long double got = isinf(y) ? limit : (long double)y;
  const long double target = ref > limit ? limit : ref;
  int e = ilogbl(target == 0 ? LDBL_MIN : target);
  if (e < -1022) e = -1022;
  return fabsl(got - target) / ldexpl(1.0L, e - 52);
}

#define CHUNK (1 << 16)

/* The largest float error over one block of bit patterns; counts into the totals.  Each
 * loop is one simple pass, so every one of them vectorises. */
static double block_error(long long block, long long *inexact, long long *nan_fail) {
  float xs[CHUNK], ys[CHUNK];
  double refs[CHUNK];
  uint64_t errors[CHUNK]; /* the bits of non-negative doubles, which order as integers */
  for (int i = 0; i < CHUNK; i++) {
    const uint32_t bits = (uint32_t)(block * CHUNK + i);
    memcpy(&xs[i], &bits, 4);
  }
  for (int i = 0; i < CHUNK; i++) ys[i] = sc_exp_f32(xs[i]);
  /* within 1.01 double ulps (the f64 sweep below): 2^-29 of a float ulp */
  for (int i = 0; i < CHUNK; i++) refs[i] = sc_exp_f64((double)xs[i]);
  for (int i = 0; i < CHUNK; i++) {
    const double error = xs[i] != xs[i] ? 0 : ulp_error_f32(ys[i], refs[i]);
    memcpy(&errors[i], &error, 8);
  }
  int wrong = 0, nans = 0;
  for (int i = 0; i < CHUNK; i++) nans += (xs[i] != xs[i]) & (ys[i] == ys[i]);
  for (int i = 0; i < CHUNK; i++) wrong += (xs[i] == xs[i]) & (ys[i] != (float)refs[i]);
  uint64_t local = 0;
  for (int i = 0; i < CHUNK; i++) local = errors[i] > local ? errors[i] : local;
  *inexact += wrong;
  *nan_fail += nans;
  double largest;
  memcpy(&largest, &local, 8);
  return largest;
}

/* The exp of a non-positive argument over one block of negative bit patterns: its largest
 * error; counts NaN inputs that gave a number, and the values where the block routine
 * (sc_exp_nonpositive_block_f32, vector code on x86 with AVX2 or AVX-512) gave other bits. */
static double nonpositive_error(long long block, long long *nan_fail, long long *block_differs) {
  float xs[CHUNK], ys[CHUNK], zs[CHUNK];
  uint64_t errors[CHUNK];
  for (int i = 0; i < CHUNK; i++) {
    const uint32_t bits = (uint32_t)(block * CHUNK + i);
    memcpy(&xs[i], &bits, 4);
  }
  for (int i = 0; i < CHUNK; i++) ys[i] = sc_exp_nonpositive_f32(xs[i]);
  /* an odd length and offset, so the routine's last few values take its scalar loop */
  memcpy(zs, xs, sizeof zs);
  sc_exp_nonpositive_block_f32(zs + 1, CHUNK - 4);
  sc_exp_nonpositive_block_f32(zs, 1);
  sc_exp_nonpositive_block_f32(zs + CHUNK - 3, 3);
  int differs = 0; /* NaN counts as NaN: its payload follows the operand order */
  for (int i = 0; i < CHUNK; i++) {
    uint32_t y_bits, z_bits;
    memcpy(&y_bits, &ys[i], 4);
    memcpy(&z_bits, &zs[i], 4);
    differs += (y_bits != z_bits) & !((ys[i] != ys[i]) & (zs[i] != zs[i]));
  }
  *block_differs += differs;
  int nans = 0;
  for (int i = 0; i < CHUNK; i++) {
    const double error = xs[i] != xs[i] ? 0 : ulp_error_f32(ys[i], sc_exp_f64((double)xs[i]));
    memcpy(&errors[i], &error, 8);
    nans += (xs[i] != xs[i]) & (ys[i] == ys[i]);
  }
  uint64_t local = 0;
  for (int i = 0; i < CHUNK; i++) local = errors[i] > local ? errors[i] : local;
  *nan_fail += nans;
  double largest;
  memcpy(&largest, &local, 8);
  return largest;
}

int main(int argc, char **argv) {
  /* every block of bit patterns, or every STRIDE-th one (argv[1]) */
  const long long stride = argc > 1 ? atoll(argv[1]) : 1;
  double worst = 0, worst_np = 0;
  long long worst_block = 0, inexact = 0, nan_fail = 0, np_nan_fail = 0, np_block_differs = 0;
#pragma omp parallel for schedule(dynamic, 64) \
    reduction(+ : inexact, nan_fail, np_nan_fail, np_block_differs)
  for (long long block = 0; block < (1LL << 32) / CHUNK; block += stride) {
    long long wrong = 0, nans = 0, np_nans = 0, differs = 0;
    const double local = block_error(block, &wrong, &nans);
    /* the blocks of negative floats (sign bit set) */
    const double np =
        block >= (1LL << 31) / CHUNK ? nonpositive_error(block, &np_nans, &differs) : 0;
    inexact += wrong;
    nan_fail += nans;
    np_nan_fail += np_nans;
    np_block_differs += differs;
#pragma omp critical
    {
      if (local > worst) worst = local, worst_block = block;
      if (np > worst_np) worst_np = np;
    }
  }
  float worst_x = 0;
  for (int i = 0; i < CHUNK; i++) {
    const uint32_t bits = (uint32_t)(worst_block * CHUNK + i);
    float x;
    memcpy(&x, &bits, 4);
    if (x == x && ulp_error_f32(sc_exp_f32(x), sc_exp_f64((double)x)) == worst) worst_x = x;
  }
  /* double: an even spread of the bit patterns of [-746, 710] and its negatives, both ends */
  long double worst64 = 0;
  double worst64_x = 0;
  long long inexact64 = 0;
  uint64_t lo_bits, hi_bits;
  const double lo = 0, hi = 746;
  memcpy(&lo_bits, &lo, 8);
  memcpy(&hi_bits, &hi, 8);
  const long long steps = 1LL << 22;
  const uint64_t spacing = (hi_bits - lo_bits) / (uint64_t)steps;
#pragma omp parallel for schedule(dynamic, 4096) reduction(+ : inexact64)
  for (long long s = 0; s < 2 * steps; s++) {
    uint64_t bits = lo_bits + (uint64_t)(s % steps) * spacing + (uint64_t)s;
    double x;
    memcpy(&x, &bits, 8);
    if (s >= steps) x = -x;
    const double y = sc_exp_f64(x);
    const long double ref = expl((long double)x);
    const long double error = ulp_error_f64(y, ref);
    inexact64 += (long double)y != ref && y != (double)ref;
#pragma omp critical
    if (error > worst64) worst64 = error, worst64_x = x;
  }
  const float specials_f32[] = {INFINITY, -INFINITY, NAN, 0.0f, -0.0f};
  const double specials_f64[] = {INFINITY, -INFINITY, NAN, 0.0, -0.0};
  printf("f32_max_ulp=%.4f f32_worst_x=%a f32_not_correctly_rounded=%lld f32_nan_fail=%lld "
         "f64_max_ulp=%.4Lf f64_worst_x=%a f64_not_correctly_rounded=%lld",
         worst, (double)worst_x, inexact, nan_fail, worst64, worst64_x, inexact64);
  for (int i = 0; i < 5; i++)
    printf(" f32_special_%d=%a f64_special_%d=%a np_special_%d=%a", i,
           (double)sc_exp_f32(specials_f32[i]), i, sc_exp_f64(specials_f64[i]), i,
           (double)sc_exp_nonpositive_f32(specials_f32[i]));
  printf(" np_max_ulp=%.4f np_nan_fail=%lld np_block_differs=%lld", worst_np, np_nan_fail,
         np_block_differs);
  printf("\n");
  return 0;
}
