// matmul.cpp: torch.matmul's shape rules on top of one 2-d kernel (see matmul.h).
//
// Every case is reduced to 2-d products c (m, n) = a (m, k) @ b (k, n):
//   1. a 1-d operand becomes a matrix: (k) -> (1, k) on the left, (k) -> (k, 1) on the right;
//   2. the dims before the last two are batch dims; they broadcast like elementwise ops;
//   3. one 2-d product per batch index (gemm_naive or gemm_blocked, by Kernel);
//   4. the dims added in step 1 are removed from the result.
// Read matmul_naive.cpp next (the formula), then matmul_blocked.cpp (the fast version).
#include "tensor/ops/matmul.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "tensor/autograd.h"
#include "tensor/ops/matmul_internal.h"

namespace vitlab {

namespace detail {

// The checks every 2-d kernel starts with (declared in matmul_internal.h): a (m, k), b (k, n),
// c a separate contiguous (m, n) tensor.
void check_gemm_args(const char* op, const Tensor& a, const Tensor& b, const Tensor& c) {
    if (a.dim() != 2 || b.dim() != 2)
        throw ShapeError(fmt::format("{}: expected 2-d a and b, got {} and {}", op,
                                     to_string(a.shape()), to_string(b.shape())));
    if (a.size(1) != b.size(0))
        throw ShapeError(fmt::format("{}: cannot multiply {} by {}: {} != {}", op,
                                     to_string(a.shape()), to_string(b.shape()), a.size(1),
                                     b.size(0)));
    const Shape want{a.size(0), b.size(1)};
    if (c.shape() != want)
        throw ShapeError(fmt::format("{}: c has shape {}, expected {} for {} @ {}", op,
                                     to_string(c.shape()), to_string(want), to_string(a.shape()),
                                     to_string(b.shape())));
    if (!c.is_contiguous())
        throw std::invalid_argument(fmt::format("{}: c must be contiguous", op));
    if (c.numel() > 0 && (c.shares_storage_with(a) || c.shares_storage_with(b)))
        throw std::invalid_argument(fmt::format("{}: c must not share storage with a or b", op));
}

void fill_rows(Tensor& c, const float* bias) {
    float* dst = c.data();
    const int64_t m = c.size(0), n = c.size(1);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) dst[i * n + j] = bias ? bias[j] : 0.0f;
}

}  // namespace detail

namespace {

// The batch dims of a and b (all but the last two) broadcast together, e.g.
// (2, 1, 3, 4) @ (5, 4, 2): batch (2, 1) and (5) -> (2, 5).
Shape broadcast_batch(const Tensor& a, const Tensor& b, const Tensor& a2, const Tensor& b2) {
    const Shape ba(a2.shape().begin(), a2.shape().end() - 2);
    const Shape bb(b2.shape().begin(), b2.shape().end() - 2);
    const size_t n = std::max(ba.size(), bb.size());
    Shape out(n);
    for (size_t i = 0; i < n; ++i) {
        // Align on the right: missing leading dims count as size 1.
        const int64_t sa = i < n - ba.size() ? 1 : ba[i - (n - ba.size())];
        const int64_t sb = i < n - bb.size() ? 1 : bb[i - (n - bb.size())];
        if (sa != sb && sa != 1 && sb != 1)
            throw ShapeError(fmt::format(
                "matmul: cannot multiply {} by {}: batch dims {} and {} do not broadcast "
                "({} != {})",
                to_string(a.shape()), to_string(b.shape()), to_string(ba), to_string(bb), sa, sb));
        out[i] = sa == 1 ? sb : sa;
    }
    return out;
}

Shape concat(Shape head, std::initializer_list<int64_t> tail) {
    head.insert(head.end(), tail);
    return head;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, Kernel kernel) {
    if (autograd::recording(a, b))
        return autograd::recorded([&] { return matmul(a, b, kernel); },
                                  [&](Tensor& out) { autograd::record_matmul(out, a, b); });
    if (a.dim() == 0 || b.dim() == 0)
        throw ShapeError(fmt::format("matmul: both arguments need at least 1 dim, got {} and {}",
                                     to_string(a.shape()), to_string(b.shape())));
    // 1. (k) -> (1, k) on the left, (k) -> (k, 1) on the right.
    const Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
    const Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
    const int64_t m = a2.size(-2), k = a2.size(-1), n = b2.size(-1);
    if (b2.size(-2) != k)
        throw ShapeError(fmt::format("matmul: cannot multiply {} by {}: {} != {}",
                                     to_string(a.shape()), to_string(b.shape()), k, b2.size(-2)));

    // 2. batch dims.
    const Shape batch = broadcast_batch(a, b, a2, b2);
    using Gemm = void (*)(const Tensor&, const Tensor&, Tensor&);
    const Gemm gemm = resolve(kernel) == Kernel::Naive ? Gemm(gemm_naive) : Gemm(gemm_blocked);
    Tensor out = empty(concat(batch, {m, n}));
    Shape final_shape = batch;  // step 4: without the dims step 1 added
    if (a.dim() > 1) final_shape.push_back(m);
    if (b.dim() > 1) final_shape.push_back(n);
    if (out.numel() == 0) return out.view(final_shape);
    if (k == 0) return out.fill_(0.0f).view(final_shape);  // empty sums

    // 3. the products.
    if (b2.dim() == 2) {
        // (..., m, k) @ (k, n): all rows of a meet the same b, so stack them into one
        // (batch * m, k) matrix and do a single product (x @ W in a Linear layer).
        // reshape is a view when a's strides allow it, else a copy.
        Tensor rows = out.view(Shape{-1, n});
        gemm(a2.reshape(Shape{-1, k}), b2, rows);
    } else {
        const Tensor ae = a2.expand(concat(batch, {m, k}));  // broadcast dims get stride 0
        const Tensor be = b2.expand(concat(batch, {k, n}));
        const Tensor outs = out.view(Shape{-1, m, n});
        int64_t i = 0;
        for_each_index(batch, [&](const std::vector<int64_t>& index) {
            Tensor ai = ae, bi = be;
            for (int64_t idx : index) ai = ai.select(0, idx), bi = bi.select(0, idx);
            Tensor ci = outs.select(0, i++);
            gemm(ai, bi, ci);
        });
    }

    // 4. drop the dims step 1 added.
    return out.view(final_shape);
}

Tensor matmul(const Tensor& a, const PackedB& b) {
    autograd::no_backward("matmul with a packed b (pack_b keeps no tensor to differentiate)", a);
    const Shape b_shape{b.K, b.N};
    if (a.dim() == 0 || a.size(-1) != b.K)
        throw ShapeError(fmt::format("matmul: cannot multiply {} by packed {}: {} != {}",
                                     to_string(a.shape()), to_string(b_shape),
                                     a.dim() == 0 ? 0 : a.size(-1), b.K));
    // (..., K) -> (rows, K) @ (K, N) -> (..., N), as the 2-d b case of matmul above.
    Shape out_shape = a.shape();
    out_shape.back() = b.N;
    Tensor out = empty(out_shape);
    if (out.numel() == 0) return out;
    const int64_t m = out.numel() / b.N;  // rows of a (not numel / K: K may be 0)
    Tensor rows = out.view(Shape{m, b.N});
    gemm_blocked(a.reshape(Shape{m, b.K}), b, rows);
    return out;
}

void gemm_blocked(const Tensor& a, const Tensor& b, Tensor& c) {
    gemm_blocked(a, b, c, nullptr);
}
void gemm_blocked(const Tensor& a, const PackedB& b, Tensor& c) {
    gemm_blocked(a, b, c, nullptr);
}

Tensor matmul_naive(const Tensor& a, const Tensor& b) {
    return matmul(a, b, Kernel::Naive);
}
Tensor matmul_blocked(const Tensor& a, const Tensor& b) {
    return matmul(a, b, Kernel::Blocked);
}

Tensor Tensor::matmul(const Tensor& other) const {
    return vitlab::matmul(*this, other);
}

}  // namespace vitlab
