// matmul.h: matrix products with torch.matmul's rules.
//
//   (n) @ (n)             -> ()            dot product
//   (m, k) @ (k, n)       -> (m, n)
//   (k) @ (k, n)          -> (n)           a 1-d left operand gets a 1 prepended, then removed
//   (m, k) @ (k)          -> (m)           a 1-d right operand gets a 1 appended, then removed
//   (..., m, k) @ (..., k, n) -> (broadcast(...), m, n)   batch dims broadcast
//
// matmul_naive is the formula  out[i][j] = sum_p a[i][p] * b[p][j]  as three loops.
// matmul_blocked packs panels of a and b and runs a register-blocked SIMD micro-kernel with
// threads (see matmul_blocked.cpp). They agree within 1e-4 relative to sum_p |a[i][p] b[p][j]|.
// Inputs may be non-contiguous (transposed, sliced): both versions read through strides.
// matmul_ladder.h has the steps between the two, runnable one by one (bench/bench_matmul.cpp).
//
// A layer multiplies by the same weight on every call, so its b can be packed once:
//   const PackedB wt = pack_b(weight.transpose(0, 1));   // (in, out), packed into panels
//   Tensor y = matmul(x, wt);                             // x (..., in) -> (..., out)
// gives the same numbers, bit for bit, as matmul_blocked(x, weight.transpose(0, 1)).
#pragma once

#include <cstdint>
#include <memory>

#include "tensor/cpu/isa.h"
#include "tensor/ops/kernel.h"
#include "tensor/tensor.h"

namespace vitlab {

Tensor matmul(const Tensor& a, const Tensor& b, Kernel kernel = Kernel::Default);
Tensor matmul_naive(const Tensor& a, const Tensor& b);
Tensor matmul_blocked(const Tensor& a, const Tensor& b);

// The 2-d core both entry points share: c (m, n) = a (m, k) @ b (k, n), all read via strides;
// c must be contiguous and is overwritten.
void gemm_naive(const Tensor& a, const Tensor& b, Tensor& c);
void gemm_blocked(const Tensor& a, const Tensor& b, Tensor& c);
// The same, + bias[j] on every row j of c (bias: n floats), added to each tile of c while
// it is still in registers: what a Linear layer needs (linear.h), with no second pass over c.
void gemm_blocked(const Tensor& a, const Tensor& b, Tensor& c, const float* bias);

// b (K, N) copied into the blocked kernel's panel layout (see matmul_blocked.cpp). It is a
// snapshot: writing into b afterwards does not change it; pack again. Copies share the panels.
// The layout depends on the instruction set's tile width NR, so a PackedB remembers the set
// it was packed for, and products with it use that set's kernels (isa.h).
struct PackedB {
    int64_t K = 0, N = 0;
    Isa isa = Isa::Portable;
    std::shared_ptr<const float> panels;  // K * ceil(N / NR) * NR floats
    bool empty() const { return panels == nullptr; }
};
PackedB pack_b(const Tensor& b);  // b (K, N), any strides
// a (..., K) @ packed b (K, N) -> (..., N); a (K) -> (N).
Tensor matmul(const Tensor& a, const PackedB& b);
// c (M, N) = a (M, K) @ packed b (K, N); c contiguous and overwritten.
void gemm_blocked(const Tensor& a, const PackedB& b, Tensor& c);
void gemm_blocked(const Tensor& a, const PackedB& b, Tensor& c, const float* bias);

}  // namespace vitlab
