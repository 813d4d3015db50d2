/* e^x for float and double, written so that the compiler vectorises a loop that calls it
 * (straight-line arithmetic and integer bit operations: no branches, no tables, no calls).
 *
 * Method (Cody and Waite's range reduction, then a polynomial, then a scale by 2^k):
 *   k = round(x / ln 2), found by adding 1.5 * 2^(p-1) so the integer lands in the low
 *       mantissa bits (the integer is then read from the bits, the rounded value by
 *       subtracting the constant again);
 *   r = x - k ln 2, with ln 2 split into a high part whose trailing zeros make k * hi exact
 *       and a low part, so |r| <= ln 2 / 2 (plus a rounding) without extra precision;
 *   e^r = 1 + r + r^2 q(r), q the Chebyshev interpolant of (e^r - 1 - r) / r^2 on
 *       |r| <= 1.01 ln 2 / 2 (degree 4 for float, 9 for double; fitted in mpmath);
 *   e^x = e^r * 2^k1 * 2^k2 with k1 + k2 = k, each power built in the exponent field: two
 *       exact-or-rounding-once multiplies that give infinity above the overflow threshold,
 *       correctly rounded denormals below the normal range and 0 under half the smallest one.
 * Beyond [-104, 89] (float) or [-746, 710] (double) e^x is 0 or infinity and k would leave
 * the exponent arithmetic, so a final select gives those (a select, not a clamp of x first:
 * it costs less once vectorised).  NaN fails every comparison and is kept by every step:
 * NaN in, NaN out.  Where the target has
 * a fused multiply-add (FP_FAST_FMA: x86 with FMA, every aarch64) each a * b + c is one, so
 * such targets compute the same bits; elsewhere it is a multiply and an add.
 * Measured error (tests/test_vector_exp.py, every float; double on a dense sweep): see
 * docs/paths.md.  build.py decides per vector extension whether exp() means this (SC_OWN_EXP).
 */
#if defined(FP_FAST_FMAF) || defined(__FMA__) || defined(__aarch64__)
#define SC_MADD_F32(a, b, c) fmaf(a, b, c)
#define SC_MADD_F64(a, b, c) fma(a, b, c)
#else
#define SC_MADD_F32(a, b, c) ((a) * (b) + (c))
#define SC_MADD_F64(a, b, c) ((a) * (b) + (c))
#endif

static inline __attribute__((always_inline)) float sc_exp_f32(const float x) {
  const float shifter = 0x1.8p23f;
  const float z = SC_MADD_F32(x, 0x1.71547652b82fep+0f, shifter);
  const float k = z - shifter;
  float r = SC_MADD_F32(-k, 0x1.62e4p-1f, x);
  r = SC_MADD_F32(-k, 0x1.7f7d1cf79abcap-20f, r);
  float q = 0x1.6d1605bc8521fp-10f;
  q = SC_MADD_F32(q, r, 0x1.12106ba17fc04p-7f);
  q = SC_MADD_F32(q, r, 0x1.555516c1f2f08p-5f);
  q = SC_MADD_F32(q, r, 0x1.5554d820ee8e6p-3f);
  q = SC_MADD_F32(q, r, 0.5f);
  const float p = SC_MADD_F32(q, r * r, r) + 1.0f;
  uint32_t z_bits, shifter_bits;
  __builtin_memcpy(&z_bits, &z, 4);
  __builtin_memcpy(&shifter_bits, &shifter, 4);
  /* k (in [-150, 128] where the result is used) as k1 + k2, k1 = floor(k / 2): 2^k1, 2^k2
   * are normal numbers, so p * 2^k1 is exact and the second multiply rounds once */
  const uint32_t k_plus = z_bits - shifter_bits + 256u; /* k + 256 */
  const uint32_t k1_plus = k_plus >> 1;                  /* k1 + 128 */
  const uint32_t bits1 = (k1_plus - 1u) << 23, bits2 = (k_plus - k1_plus - 1u) << 23;
  float scale1, scale2;
  __builtin_memcpy(&scale1, &bits1, 4);
  __builtin_memcpy(&scale2, &bits2, 4);
  const float e = p * scale1 * scale2;
  /* outside [-104, 89] the steps above saw a k out of range: the answer is 0 or infinity */
  return x > 89.0f ? __builtin_inff() : x < -104.0f ? 0.0f : e;
}

static inline __attribute__((always_inline)) double sc_exp_f64(const double x) {
  const double shifter = 0x1.8p52;
  const double z = SC_MADD_F64(x, 0x1.71547652b82fep+0, shifter);
  const double k = z - shifter;
  double r = SC_MADD_F64(-k, 0x1.62e42fefa3800p-1, x);
  r = SC_MADD_F64(-k, 0x1.ef35793c76730p-45, r);
  double q = 0x1.af3ce42b12b24p-26;
  q = SC_MADD_F64(q, r, 0x1.2894f52583578p-22);
  q = SC_MADD_F64(q, r, 0x1.71de0be2b5e96p-19);
  q = SC_MADD_F64(q, r, 0x1.a019b621f9d08p-16);
  q = SC_MADD_F64(q, r, 0x1.a01a01a83ba17p-13);
  q = SC_MADD_F64(q, r, 0x1.6c16c1794e1dcp-10);
  q = SC_MADD_F64(q, r, 0x1.1111111110918p-7);
  q = SC_MADD_F64(q, r, 0x1.5555555553b6cp-5);
  q = SC_MADD_F64(q, r, 0x1.5555555555556p-3);
  q = SC_MADD_F64(q, r, 0x1.0000000000001p-1);
  const double p = SC_MADD_F64(q, r * r, r) + 1.0;
  uint64_t z_bits, shifter_bits;
  __builtin_memcpy(&z_bits, &z, 8);
  __builtin_memcpy(&shifter_bits, &shifter, 8);
  /* k in [-1077, 1025] where used; unsigned shifts (AVX2 has no signed 64-bit one) */
  const uint64_t k_plus = z_bits - shifter_bits + 2048u; /* k + 2048 */
  const uint64_t k1_plus = k_plus >> 1;                   /* k1 + 1024 */
  const uint64_t bits1 = (k1_plus - 1u) << 52, bits2 = (k_plus - k1_plus - 1u) << 52;
  double scale1, scale2;
  __builtin_memcpy(&scale1, &bits1, 8);
  __builtin_memcpy(&scale2, &bits2, 8);
  const double e = p * scale1 * scale2;
  return x > 710.0 ? __builtin_inf() : x < -746.0 ? 0.0 : e;
}

/* e^x for float x <= 0 (or NaN), where a formula's exp argument is non-positive by its form
 * (formula.py emits sc_exp_nonpositive for -abs(...), -(a*a), ...): the surrogates' e^-|t|.
 * The same method with less work, because the result lies in [0, 1]: no overflow path, the
 * scale 2^(k+64) read straight from the shifter's bits (its low bits hold k + 191 there) and
 * multiplied by 2^-64 (exact: a power of two down to 2^-149), one multiply by p, and
 * e^r = 1 + r + r^2 q(r) with q of degree 3 (the minimax fit of the relative error of e^r on
 * |r| <= 1.005 ln 2 / 2, Lawson's iteration), in Estrin's order so the chain of dependent
 * operations is short.  Error: see docs/paths.md (tests/test_vector_exp.py checks every
 * negative float).  NaN in, NaN out; -inf and x < -104 give 0; -0 gives 1.  A positive x is
 * outside the contract (k would leave the exponent field above 43). */
static inline __attribute__((always_inline)) float sc_exp_nonpositive_f32(const float x) {
  const float shifter = 0x1.8p23f + 191.0f;
  const float z = SC_MADD_F32(x, 0x1.715476p+0f, shifter);
  const float k = z - shifter;
  float r = SC_MADD_F32(-k, 0x1.62e4p-1f, x);
  r = SC_MADD_F32(-k, 0x1.7f7d1cf79abcap-20f, r);
  const float r2 = r * r;
  const float low = SC_MADD_F32(0x1.5557bap-3f, r, 0x1.fffdf2p-2f);
  const float high = SC_MADD_F32(0x1.106086p-7f, r, 0x1.572e86p-5f);
  const float q = SC_MADD_F32(high, r2, low);
  const float p = SC_MADD_F32(q, r2, r) + 1.0f;
  uint32_t z_bits;
  __builtin_memcpy(&z_bits, &z, 4);
  const uint32_t scale_bits = z_bits << 23; /* (k + 191) << 23: 2^(k+64), k in [-150, 0] */
  float scale;
  __builtin_memcpy(&scale, &scale_bits, 4);
  /* 2^k itself (exact down to 2^-149; 0 at k = -150), off the polynomial's chain of
   * dependent operations; p * 2^k then rounds a denormal result once */
  return x < -104.0f ? 0.0f : p * (scale * 0x1p-64f);
}

/* exp of a non-positive argument: the one above for float where SC_OWN_EXP_NONPOSITIVE (build.py
 * decides per target), exp() otherwise (and for double) */
#if SC_OWN_EXP_NONPOSITIVE
#define sc_exp_nonpositive(value) \
  _Generic((value), float: sc_exp_nonpositive_f32((float)(value)), default: exp(value))
#else
#define sc_exp_nonpositive(value) exp(value)
#endif

#if SC_OWN_EXP
/* exp() of the kernels' expressions: these for float and double, the C library's otherwise */
#undef exp
#define exp(value) \
  _Generic((value), float: sc_exp_f32, long double: expl, default: sc_exp_f64)(value)
#endif
