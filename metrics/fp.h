/* Floating-point contract for the metrics: results must be bit-identical to the Python references,
 * so no FMA contraction (GCC's ISO -std=c11 mode already defaults to -ffp-contract=off). */
#ifndef MMLORA_METRICS_FP_H
#define MMLORA_METRICS_FP_H
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#if defined(__FAST_MATH__)
#error "metrics must not be built with -ffast-math"
#endif
#endif
