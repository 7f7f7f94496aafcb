// scaled_dot_product_attention_backward.h: the gradient of scaled_dot_product_attention
// (scaled_dot_product_attention.h), fused like its forward: no (B, H, N, N) tensor is kept or
// built.
//
// Per batch b and head h, with q, k, v (N, D) and dO (N, D) the gradient of that head's out:
//   S = q @ k^T * scale          (N, N)   scores
//   P = softmax(S, dim = -1)     (N, N)   probabilities
//   O = P @ v                    (N, D)
// backward, the forward's steps in reverse:
//   dv = P^T @ dO                                   (N, D)
//   dP = dO @ v^T                                   (N, N)
//   dS = P * (dP - rowsum(dP * P))                  softmax backward (softmax_backward.h)
//      = P * (dP - Delta),  Delta_i = sum_j dP_ij P_ij = dO_i . O_i    (one dot of length D)
//   dq = dS @ k * scale,   dk = dS^T @ q * scale    (N, D)
//
// What is kept from the forward: q, k, v (views of the qkv Linear's output, kept anyway for
// its backward) and out. P is *recomputed* from q and k (one more q @ k^T), and Delta from out
// and dout, so nothing of size N x N outlives the call:
//   naive:   one query row i at a time: s_j = q_i . k_j * scale, p = softmax(s), then
//            dv_j += p_j dO_i, dS_j = p_j (dO_i . v_j - Delta_i), dq_i = scale sum_j dS_j k_j,
//            dk_j += scale dS_j q_i           scratch: two rows of N floats
//   blocked: one (b, h) at a time on the formulas above, with the register tile of matmul
//            (tensor/cpu/attention_kernels.cpp), heads shared out between threads;
//            scratch: per thread, a few (N, N) matrices of one head, kept between calls
//            (60 KB for vit_fmnist's N = 50, D = 16; 5.5 MB for N = 577). Heads whose D is 1 to
//            4 registers (D = 16 or 64 with AVX-512, 8 or 16 with AVX2) take the whole-head
//            kernel instead: P^T and dS^T with the query index across the lanes, dv, dk, dq
//            with no padding (tensor/cpu/attention_kernels.cpp), 44 KB for N = 50, D = 16
#pragma once

#include "tensor/ops/kernel.h"
#include "tensor/tensor.h"

namespace vitlab {

struct AttentionGrads {
    Tensor dq, dk, dv;  // (B, H, N, D), contiguous
};

// q, k, v (B, H, N, D) as given to scaled_dot_product_attention, out (B, H, N, D) what it
// returned, dout (B, H, N, D) the gradient of out, scale the one the forward used (any strides).
AttentionGrads scaled_dot_product_attention_backward(const Tensor& dout, const Tensor& q,
                                                     const Tensor& k, const Tensor& v,
                                                     const Tensor& out, float scale,
                                                     Kernel kernel = Kernel::Default);
AttentionGrads scaled_dot_product_attention_backward_naive(const Tensor& dout, const Tensor& q,
                                                           const Tensor& k, const Tensor& v,
                                                           const Tensor& out, float scale);
AttentionGrads scaled_dot_product_attention_backward_blocked(const Tensor& dout, const Tensor& q,
                                                             const Tensor& k, const Tensor& v,
                                                             const Tensor& out, float scale);

}  // namespace vitlab
