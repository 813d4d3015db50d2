/* e^x for float and double, written so that the compiler vectorises a loop that calls it
 * (straight-line arithmetic and integer bit operations: no branches, no tables, no calls);
 * below them the exp of a non-positive argument, which reads a table of eight values (see
 * there).
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
 * The result lies in [0, 1], so there is no overflow path, and the reduction goes to eighths
 * of ln 2 with a table of 2^(j/8), which leaves a polynomial of degree 3:
 *   n = round(8 x / ln 2) by the 1.5 * 2^23 shifter (n in its low mantissa bits);
 *   r = x - n ln2/8, with ln2/8 split in Cody and Waite's two parts (the high one has 13
 *       significant bits, so n * hi is exact for |n| < 2^11), |r| <= ln 2 / 16 (+ a rounding);
 *   e^r - 1 = r + r^2 (c2 + c3 r), c2 and c3 the minimax fit of the relative error of e^r on
 *       |r| <= 1.02 ln 2 / 16 (Lawson's iteration);
 *   p = t + t (e^r - 1) with t = 2^(j/8), j = n mod 8 (one fused multiply-add);
 *   e^x = p * 2^m, m = floor(n / 8): 2^(m+64) built in the exponent field, the product
 *       exact, then times 2^-64, which rounds a denormal result once.
 * Error: see docs/paths.md (tests/test_vector_exp.py checks every negative float).  NaN in,
 * NaN out; -inf and x < -104 give 0; -0 gives 1.  A positive x is outside the contract.
 * A loop calling it vectorises except the table read; sc_exp_nonpositive_block_f32 below
 * computes the same bits over an array with the table in a register. */
static const float sc_exp8_table[8] = {1.0f,           0x1.172b84p+0f, 0x1.306fe0p+0f,
                                       0x1.4bfdaep+0f, 0x1.6a09e6p+0f, 0x1.8ace54p+0f,
                                       0x1.ae89fap+0f, 0x1.d5818ep+0f};
#define SC_EXP8_SHIFTER 0x1.8p23f
#define SC_EXP8_LOG2E 0x1.715476p+3f /* 8 / ln 2 */
#define SC_EXP8_LN2_HI 0x1.62ep-4f   /* ln 2 / 8, high part */
#define SC_EXP8_LN2_LO 0x1.0bfbe8p-18f
#define SC_EXP8_C2 0x1.0008cap-1f
#define SC_EXP8_C3 0x1.55566p-3f
/* arguments from which every result is a normal number (m >= -125): the block routine scales
 * those by adding m to the exponent field */
#define SC_EXP8_NORMAL_FROM -86.5f

static inline __attribute__((always_inline)) float sc_exp_nonpositive_f32(const float x) {
  const float z = SC_MADD_F32(x, SC_EXP8_LOG2E, SC_EXP8_SHIFTER);
  const float n = z - SC_EXP8_SHIFTER;
  float r = SC_MADD_F32(-n, SC_EXP8_LN2_HI, x);
  r = SC_MADD_F32(-n, SC_EXP8_LN2_LO, r);
  const float q = SC_MADD_F32(SC_EXP8_C3, r, SC_EXP8_C2);
  const float s = SC_MADD_F32(q, r * r, r);
  uint32_t z_bits;
  __builtin_memcpy(&z_bits, &z, 4);
  const float t = sc_exp8_table[z_bits & 7u];
  const float p = SC_MADD_F32(t, s, t);
  /* z_bits is 0x4B400000 + n: shifted by 20 the constant leaves, and the mask keeps m << 23 */
  const uint32_t scale_bits = ((z_bits << 20) & 0xFF800000u) + (191u << 23); /* 2^(m+64) */
  float scale;
  __builtin_memcpy(&scale, &scale_bits, 4);
  return x < -104.0f ? 0.0f : p * scale * 0x1p-64f;
}

/* values[i] = sc_exp_nonpositive_f32(values[i]) for i < count, the same bits: on x86 with
 * AVX2 (or AVX-512) the table sits in a register and is read by a permute, and a vector whose
 * arguments all give normal results is scaled by an integer add to the exponent field (exact,
 * as the multiplies are there) instead of two multiplies; elsewhere, and for the last few
 * values, the function above.  The vector code is compiled where SC_EXP_BLOCKS is defined
 * (build.fill_template defines it in the sources that call the routine). */
#if defined(SC_EXP_BLOCKS) && defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>
static inline __attribute__((always_inline)) __m512 sc_exp8_v16(const __m512 x, const __m512 table) {
  const __m512 shifter = _mm512_set1_ps(SC_EXP8_SHIFTER);
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(SC_EXP8_LOG2E), shifter);
  const __m512 n = _mm512_sub_ps(z, shifter);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(SC_EXP8_LN2_HI), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(SC_EXP8_LN2_LO), r);
  const __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(SC_EXP8_C3), r, _mm512_set1_ps(SC_EXP8_C2));
  const __m512 s = _mm512_fmadd_ps(q, _mm512_mul_ps(r, r), r);
  const __m512i z_bits = _mm512_castps_si512(z);
  const __m512 t = _mm512_permutexvar_ps(z_bits, table); /* z_bits mod 16: table repeats */
  const __m512 p = _mm512_fmadd_ps(t, s, t);
  const __m512i m = _mm512_and_si512(_mm512_slli_epi32(z_bits, 20),
                                     _mm512_set1_epi32((int)0xFF800000u));
  if (_mm512_cmp_ps_mask(x, _mm512_set1_ps(SC_EXP8_NORMAL_FROM), _CMP_GE_OQ) == 0xFFFF)
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(p), m));
  const __m512 scale = _mm512_castsi512_ps(_mm512_add_epi32(m, _mm512_set1_epi32(191 << 23)));
  const __m512 e = _mm512_mul_ps(_mm512_mul_ps(p, scale), _mm512_set1_ps(0x1p-64f));
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-104.0f), _CMP_NLT_UQ), e);
}
#elif defined(SC_EXP_BLOCKS) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
static inline __attribute__((always_inline)) __m256 sc_exp8_v8(const __m256 x, const __m256 table) {
  const __m256 shifter = _mm256_set1_ps(SC_EXP8_SHIFTER);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(SC_EXP8_LOG2E), shifter);
  const __m256 n = _mm256_sub_ps(z, shifter);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(SC_EXP8_LN2_HI), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(SC_EXP8_LN2_LO), r);
  const __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(SC_EXP8_C3), r, _mm256_set1_ps(SC_EXP8_C2));
  const __m256 s = _mm256_fmadd_ps(q, _mm256_mul_ps(r, r), r);
  const __m256i z_bits = _mm256_castps_si256(z);
  const __m256 t = _mm256_permutevar8x32_ps(table, z_bits); /* z_bits mod 8 */
  const __m256 p = _mm256_fmadd_ps(t, s, t);
  const __m256i m = _mm256_and_si256(_mm256_slli_epi32(z_bits, 20),
                                     _mm256_set1_epi32((int)0xFF800000u));
  const __m256 normal = _mm256_cmp_ps(x, _mm256_set1_ps(SC_EXP8_NORMAL_FROM), _CMP_GE_OQ);
  if (_mm256_movemask_ps(normal) == 0xFF)
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), m));
  const __m256 scale = _mm256_castsi256_ps(_mm256_add_epi32(m, _mm256_set1_epi32(191 << 23)));
  const __m256 e = _mm256_mul_ps(_mm256_mul_ps(p, scale), _mm256_set1_ps(0x1p-64f));
  return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-104.0f), _CMP_LT_OQ), e);
}
#endif

static inline __attribute__((always_inline)) void sc_exp_nonpositive_block_f32(float *values,
                                                                              int64_t count) {
  int64_t i = 0;
#if defined(SC_EXP_BLOCKS) && defined(__AVX512F__) && defined(__FMA__)
  const __m512 table = _mm512_loadu_ps((const float[16]){
      sc_exp8_table[0], sc_exp8_table[1], sc_exp8_table[2], sc_exp8_table[3], sc_exp8_table[4],
      sc_exp8_table[5], sc_exp8_table[6], sc_exp8_table[7], sc_exp8_table[0], sc_exp8_table[1],
      sc_exp8_table[2], sc_exp8_table[3], sc_exp8_table[4], sc_exp8_table[5], sc_exp8_table[6],
      sc_exp8_table[7]});
  for (; i + 16 <= count; i += 16)
    _mm512_storeu_ps(values + i, sc_exp8_v16(_mm512_loadu_ps(values + i), table));
#elif defined(SC_EXP_BLOCKS) && defined(__AVX2__) && defined(__FMA__)
  const __m256 table = _mm256_loadu_ps(sc_exp8_table);
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(values + i, sc_exp8_v8(_mm256_loadu_ps(values + i), table));
#endif
  for (; i < count; i++) values[i] = sc_exp_nonpositive_f32(values[i]);
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

/* e^v in place over values[0, count) of a scalar_t array whose values are <= 0 (or NaN), as
 * sc_exp_nonpositive() computes each: the kernels' loops write the arguments of a block first
 * and call this on them (build.exp_calls) */
static inline __attribute__((always_inline)) void sc_exp_block_f32(float *values, int64_t count) {
  for (int64_t i = 0; i < count; i++) values[i] = exp(values[i]);
}

static inline __attribute__((always_inline)) void sc_exp_block_f64(double *values, int64_t count) {
  for (int64_t i = 0; i < count; i++) values[i] = exp(values[i]);
}

#if SC_OWN_EXP_NONPOSITIVE
#define sc_exp_nonpositive_block(values, count)                                     \
  _Generic((values), float *: sc_exp_nonpositive_block_f32, default: sc_exp_block_f64)( \
      values, count)
#else
#define sc_exp_nonpositive_block(values, count) \
  _Generic((values), float *: sc_exp_block_f32, default: sc_exp_block_f64)(values, count)
#endif
