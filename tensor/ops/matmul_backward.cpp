// matmul_backward.cpp: matmul and linear backward as matrix products (see matmul_backward.h).
//
// Both gradients of a product are products of the same size as the forward (2 m k n
// multiply-adds each), so the backward costs twice the forward and runs at the GEMM's speed.
#include "tensor/ops/matmul_backward.h"

#include <algorithm>
#include <vector>

#include "tensor/ops/elementwise_backward.h"
#include "tensor/ops/matmul.h"

namespace vitlab {

MatmulGrads matmul_backward(const Tensor& dc, const Tensor& a, const Tensor& b, Kernel kernel) {
    if (a.dim() == 0 || b.dim() == 0)
        throw ShapeError(
            fmt::format("matmul_backward: both operands need at least 1 dim, got {} "
                        "and {}",
                        to_string(a.shape()), to_string(b.shape())));
    // The forward's promotion of 1-d operands, applied to a, b and dc alike.
    const Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;  // (k) -> (1, k)
    const Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;  // (k) -> (k, 1)
    Tensor dc2 = dc;
    if (a.dim() == 1) dc2 = dc2.unsqueeze(dc2.dim() - (b.dim() == 1 ? 0 : 1));
    if (b.dim() == 1) dc2 = dc2.unsqueeze(dc2.dim());
    const int64_t m = a2.size(-2), k = a2.size(-1), n = b2.size(-1);
    if (dc2.dim() < 2 || dc2.size(-2) != m || dc2.size(-1) != n || b2.size(-2) != k)
        throw ShapeError(fmt::format("matmul_backward: dc {} does not fit a {} @ b {}",
                                     to_string(dc.shape()), to_string(a.shape()),
                                     to_string(b.shape())));

    Tensor da = matmul(dc2, b2.transpose(-2, -1), kernel);  // (..., m, k)
    Tensor db;
    if (b2.dim() == 2 && a2.dim() > 2) {
        // One weight for the whole batch: one (k, M) @ (M, n) product over all rows.
        db = matmul(a2.reshape({-1, k}).transpose(0, 1), dc2.reshape({-1, n}), kernel);
    } else {
        db = matmul(a2.transpose(-2, -1), dc2, kernel);  // (..., k, n)
    }
    da = sum_to(da, a2.shape()).reshape(a.shape());
    db = sum_to(db, b2.shape()).reshape(b.shape());
    return {da, db};
}

LinearGrads linear_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, bool has_bias,
                            Kernel kernel) {
    if (x.dim() == 0 || weight.dim() != 2 || x.size(-1) != weight.size(1))
        throw ShapeError(
            fmt::format("linear_backward: expected x (..., in) and weight (out, in), "
                        "got x {} and weight {}",
                        to_string(x.shape()), to_string(weight.shape())));
    const int64_t out = weight.size(0), in = weight.size(1);
    Shape y_shape = x.shape();
    y_shape.back() = out;
    if (dy.shape() != y_shape)
        throw ShapeError(fmt::format("linear_backward: dy has shape {}, expected {}",
                                     to_string(dy.shape()), to_string(y_shape)));
    LinearGrads g;
    g.dx = matmul(dy, weight, kernel);                                     // (..., out) @ (out, in)
    const Tensor dy2 = dy.reshape({-1, out});                              // (M, out)
    g.dweight = matmul(dy2.transpose(0, 1), x.reshape({-1, in}), kernel);  // (out, M) @ (M, in)
    if (has_bias) {
        // Column sums of dy: each block of kBlockRows rows in float (four adds side by side, which
        // the compiler turns into one vector add), the blocks' sums added in double.
        constexpr int64_t kBlockRows = 64;
        std::vector<double> acc(static_cast<size_t>(out), 0.0);
        std::vector<float> part(static_cast<size_t>(out));
        const Tensor d = dy2.contiguous();
        const int64_t rows = d.size(0), out4 = out / 4 * 4;
        if (resolve(kernel) == Kernel::Naive)  // the formula: one float at a time, in double
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t j = 0; j < out; ++j) acc[j] += d.data()[r * out + j];
        for (int64_t r0 = 0; resolve(kernel) == Kernel::Blocked && r0 < rows; r0 += kBlockRows) {
            std::fill(part.begin(), part.end(), 0.0f);
            float* s = part.data();
            for (int64_t r = r0; r < std::min(rows, r0 + kBlockRows); ++r) {
                const float* row = d.data() + r * out;
                for (int64_t j = 0; j < out4; j += 4) {
                    s[j] += row[j];
                    s[j + 1] += row[j + 1];
                    s[j + 2] += row[j + 2];
                    s[j + 3] += row[j + 3];
                }
                for (int64_t j = out4; j < out; ++j) s[j] += row[j];
            }
            for (int64_t j = 0; j < out; ++j) acc[j] += s[j];
        }
        g.dbias = empty({out});
        for (int64_t j = 0; j < out; ++j) g.dbias.data()[j] = static_cast<float>(acc[j]);
    }
    return g;
}

}  // namespace vitlab
