// matmul_naive.cpp: the matrix product as its formula, three loops (see matmul.h).
//
//   c[i][j] = sum_p a[i][p] * b[p][j]       a (M, K), b (K, N), c (M, N)
//
// Elements are read through the strides, so a transposed or sliced a or b works as it is.
// The sum is kept in double: this is the reference matmul_blocked.cpp is checked against.
// It is slow for two reasons matmul_blocked.cpp fixes: b is walked down a column (a new cache
// line for every p), and each a[i][p] and b[p][j] is loaded again for every product it is in.
#include "tensor/ops/matmul.h"
#include "tensor/ops/matmul_internal.h"

namespace vitlab {

void gemm_naive(const Tensor& a, const Tensor& b, Tensor& c) {
    detail::check_gemm_args("gemm_naive", a, b, c);
    const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
    if (M == 0 || N == 0) return;
    if (K == 0) {  // a sum of nothing
        c.fill_(0.0f);
        return;
    }
    const float* A = a.data();
    const float* B = b.data();
    float* C = c.data();
    const int64_t a_row = a.stride(0), a_col = a.stride(1);
    const int64_t b_row = b.stride(0), b_col = b.stride(1);

    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double sum = 0.0;
            for (int64_t p = 0; p < K; ++p)
                sum += double(A[i * a_row + p * a_col]) * double(B[p * b_row + j * b_col]);
            C[i * N + j] = static_cast<float>(sum);
        }
}

}  // namespace vitlab
