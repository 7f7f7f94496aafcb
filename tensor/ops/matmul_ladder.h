// matmul_ladder.h: the steps from the formula to the fast matmul, each one runnable by name.
//
// Every rung computes c (M, N) = a (M, K) @ b (K, N) into a contiguous c (overwritten) and
// adds one idea to the rung before it (read matmul_ladder.cpp top to bottom):
//   1. gemm_ijk            the formula: c[i][j] = sum_p a[i][p] b[p][j], b walked down a column
//   2. gemm_ikj            loops reordered i, p, j: the inner loop runs along rows of b and c
//   3. gemm_cache_blocked  the i-p-j loops on blocks of b small enough to stay in the L2 cache
//   4. gemm_packed         a and b copied into panels, a 4 x 8 tile of c kept in registers
//   5. gemm_blocked        SIMD micro-kernel, blocks tuned to L1/L2/L3, threads (matmul.h)
// Run them:  build/bench/bench_matmul --ladder   (tests/test_matmul.cpp checks every rung
// against gemm_naive). Rungs 1-4 are single-threaded and take inputs of any strides (a
// non-contiguous a or b is copied first); the errors are those of gemm_naive.
#pragma once

#include <vector>

#include "tensor/ops/matmul.h"

namespace vitlab {

void gemm_ijk(const Tensor& a, const Tensor& b, Tensor& c);
void gemm_ikj(const Tensor& a, const Tensor& b, Tensor& c);
void gemm_cache_blocked(const Tensor& a, const Tensor& b, Tensor& c);
void gemm_packed(const Tensor& a, const Tensor& b, Tensor& c);

struct MatmulRung {
    const char* name;  // "ijk", "ikj", "cache_blocked", "packed", "blocked"
    const char* adds;  // what this rung adds to the one before, in one line
    void (*gemm)(const Tensor& a, const Tensor& b, Tensor& c);
};
// The five rungs in order; the last is gemm_blocked.
const std::vector<MatmulRung>& matmul_ladder();

}  // namespace vitlab
