// matmul_backward.cpp: matmul and linear backward as matrix products (see matmul_backward.h).
//
// Both gradients of a product are products of the same size as the forward (2 m k n
// multiply-adds each), so the backward costs twice the forward and runs at the GEMM's speed.
#include "tensor/ops/matmul_backward.h"

#include <algorithm>
#include <vector>

#include "tensor/ops/elementwise_backward.h"
#include "tensor/ops/matmul.h"
#include "tensor/ops/matmul_internal.h"

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
        // One weight for the whole batch: one (k, M) @ (M, n) product over all rows, which
        // the blocked kernel reads in place (gemm_tn_blocked, as a Linear's dW).
        const Tensor rows_a = a2.reshape({-1, k}), rows_dc = dc2.reshape({-1, n});
        if (resolve(kernel) == Kernel::Blocked) {
            db = empty({k, n});
            detail::gemm_tn_blocked(rows_a, rows_dc, db, nullptr);
        } else {
            db = matmul(rows_a.transpose(0, 1), rows_dc, kernel);
        }
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
    g.dx = matmul(dy, weight, kernel);  // (..., out) @ (out, in)
    // M rows, counted from a non-empty row (reshape's -1 cannot divide by 0 features).
    const int64_t rows = in > 0 ? x.numel() / in : (out > 0 ? dy.numel() / out : 0);
    const Tensor dy2 = dy.reshape({rows, out});  // (M, out)
    const Tensor x2 = x.reshape({rows, in});     // (M, in)
    if (has_bias) g.dbias = empty({out});
    if (resolve(kernel) == Kernel::Blocked) {
        // One pass over dy and x for both: gemm_tn_blocked reads dy^T in place and sums dy's
        // columns while each block of rows is in cache.
        g.dweight = empty({out, in});
        detail::gemm_tn_blocked(dy2, x2, g.dweight, has_bias ? g.dbias.data() : nullptr);
        return g;
    }
    // The formulas: dW = dy^T @ x, dbias = column sums of dy, one float at a time in double.
    g.dweight = matmul(dy2.transpose(0, 1), x2, kernel);  // (out, M) @ (M, in)
    if (has_bias) {
        std::vector<double> acc(static_cast<size_t>(out), 0.0);
        const Tensor d = dy2.contiguous();
        for (int64_t r = 0; r < d.size(0); ++r)
            for (int64_t j = 0; j < out; ++j) acc[j] += d.data()[r * out + j];
        for (int64_t j = 0; j < out; ++j) g.dbias.data()[j] = static_cast<float>(acc[j]);
    }
    return g;
}

}  // namespace vitlab
