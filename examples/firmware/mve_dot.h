/* mve_dot.h: a Helium (M-profile Vector Extension, MVE) dot product for Cortex-M55/M85, for
   mod.h's mod__dot. Needs float MVE: -mcpu=cortex-m55 (or -march=armv8.1-m.main+mve.fp) with
   -mfloat-abi=hard, which defines __ARM_FEATURE_MVE with bit 1 set.

   It performs exactly the operations of mod.h's existing Helium path (mod__dot with
   mod__vfma / mod__vsum / mod__dot_tail): one four-lane accumulator updated with fused
   multiply-adds, the lanes summed as (l0 + l1) + (l2 + l3), then the scalar tail added one
   product at a time. Keeping that order matters: mod__tile4x4 and mod__tile4x1 compute every
   output with the same sequence, which is what makes batched prefill bit-identical to
   token-by-token decoding. A faster variant with two or more accumulators would have to change
   the tile kernels the same way.

   MVE has no floating-point add-across-vector (VADDV/VADDVA and VADDLV are integer-only), so
   the reduction extracts the four lanes. */
#ifndef MVE_DOT_H
#define MVE_DOT_H
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include <arm_mve.h>

static float mve_dot(const float *a, const float *b, int n) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    float s;
    int i = 0;
    for (; i + 4 <= n; i += 4) acc = vfmaq_f32(acc, vld1q_f32(a + i), vld1q_f32(b + i));
    s = (vgetq_lane_f32(acc, 0) + vgetq_lane_f32(acc, 1)) + (vgetq_lane_f32(acc, 2) + vgetq_lane_f32(acc, 3));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

#endif
#endif
