/* Storage dtypes of the fused kernels (build.fill_template puts this after the prelude of a
 * template that asks for them): bfloat16 and float16 are loaded into float, computed in
 * float and stored back rounded to nearest even, the way torch converts them, so a kernel
 * reading and writing torch's bf16/fp16 tensors computes in float32 and stores in the input
 * dtype.  Each body instance gets storage_t (its tensors' element type), LOAD_<dtype> and
 * STORE_<dtype>, and IN_PLACE_<dtype> (1 where storage and compute types are the same, so a
 * buffer of the input dtype may hold float intermediates).  Written from the IEEE 754
 * binary16 and bfloat16 layouts; checked bit for bit against torch in tests. */
#include <string.h>

static inline __attribute__((always_inline)) uint32_t sc_bits_of(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  return bits;
}

static inline __attribute__((always_inline)) float sc_float_of(uint32_t bits) {
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

static inline __attribute__((always_inline)) float sc_bf16_load(uint16_t value) {
  return sc_float_of((uint32_t)value << 16);
}

static inline __attribute__((always_inline)) uint16_t sc_bf16_store(float value) {
  uint32_t bits = sc_bits_of(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return 0x7fc0; /* NaN: torch's quiet NaN */
  bits += 0x7fffu + ((bits >> 16) & 1u); /* round to nearest, ties to even */
  return (uint16_t)(bits >> 16);
}

static inline __attribute__((always_inline)) float sc_f16_load(uint16_t value) {
  const uint32_t sign = (uint32_t)(value & 0x8000u) << 16;
  const uint32_t exponent = (value >> 10) & 0x1fu, mantissa = value & 0x3ffu;
  if (exponent == 0x1fu) return sc_float_of(sign | 0x7f800000u | (mantissa << 13)); /* inf, NaN */
  if (exponent != 0) return sc_float_of(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  const float magnitude = (float)mantissa * 5.9604644775390625e-8f; /* subnormal: m * 2^-24 */
  return sc_float_of(sign | sc_bits_of(magnitude));
}

static inline __attribute__((always_inline)) uint16_t sc_f16_store(float value) {
  const uint32_t bits = sc_bits_of(value);
  const uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return sign | 0x7e00u;  /* NaN */
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u; /* >= 65520 rounds to inf */
  if (magnitude < 0x38800000u) /* below 2^-14: subnormal or zero; |x| * 2^24 is exact and
                                  below 1024, nearbyint rounds ties to even */
    return sign | (uint16_t)nearbyintf(sc_float_of(magnitude) * 16777216.0f);
  const uint32_t rounded = magnitude + 0xfffu + ((magnitude >> 13) & 1u);
  return sign | (uint16_t)((rounded - (112u << 23)) >> 13);
}

#define LOAD_f32(value) (value)
#define STORE_f32(value) (value)
#define IN_PLACE_f32 1
#define LOAD_f64(value) (value)
#define STORE_f64(value) (value)
#define IN_PLACE_f64 1
#define LOAD_bf16(value) sc_bf16_load(value)
#define STORE_bf16(value) sc_bf16_store(value)
#define IN_PLACE_bf16 0
#define LOAD_f16(value) sc_f16_load(value)
#define STORE_f16(value) sc_f16_store(value)
#define IN_PLACE_f16 0
