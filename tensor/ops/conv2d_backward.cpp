// conv2d_backward.cpp: conv2d backward, naive loops and the patch-embedding GEMM path
// (formulas in conv2d_backward.h).
#include "tensor/ops/conv2d_backward.h"

#include <vector>

#include "tensor/ops/conv2d_internal.h"
#include "tensor/ops/matmul.h"

namespace vitlab {

namespace {

void check_dout(const Tensor& dout, const Tensor& input, const Tensor& weight, int64_t stride,
                int64_t padding) {
    const Shape out_shape = detail::conv2d_output_shape(input, weight, Tensor(), stride, padding);
    if (dout.shape() != out_shape)
        throw ShapeError(fmt::format(
            "conv2d_backward: dout has shape {}, expected {} (input {}, weight {}, stride {}, "
            "padding {})",
            to_string(dout.shape()), to_string(out_shape), to_string(input.shape()),
            to_string(weight.shape()), stride, padding));
}

// dbias[o] = sum over n, y, x of dout[n][o][y][x], in double.
Tensor bias_grad(const Tensor& dout) {
    const Tensor d = dout.contiguous();
    const int64_t N = d.size(0), O = d.size(1), HW = d.size(2) * d.size(3);
    Tensor db = empty({O});
    for (int64_t o = 0; o < O; ++o) {
        double acc = 0.0;
        for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < HW; ++i) acc += d.data()[(n * O + o) * HW + i];
        db.data()[o] = static_cast<float>(acc);
    }
    return db;
}

}  // namespace

Conv2dGrads conv2d_backward(const Tensor& dout, const Tensor& input, const Tensor& weight,
                            bool has_bias, int64_t stride, int64_t padding, Kernel kernel,
                            bool need_dinput) {
    if (resolve(kernel) == Kernel::Naive)
        return conv2d_backward_naive(dout, input, weight, has_bias, stride, padding);
    return conv2d_backward_blocked(dout, input, weight, has_bias, stride, padding, need_dinput);
}

Conv2dGrads conv2d_backward_naive(const Tensor& dout, const Tensor& input, const Tensor& weight,
                                  bool has_bias, int64_t stride, int64_t padding) {
    check_dout(dout, input, weight, stride, padding);
    const int64_t N = dout.size(0), C_out = dout.size(1), H_out = dout.size(2),
                  W_out = dout.size(3);
    const int64_t C_in = input.size(1), H = input.size(2), W = input.size(3);
    const int64_t kH = weight.size(2), kW = weight.size(3);
    Conv2dGrads g;
    g.dinput = zeros(input.shape());
    g.dweight = zeros(weight.shape());
    for (int64_t n = 0; n < N; ++n)
        for (int64_t o = 0; o < C_out; ++o)
            for (int64_t y = 0; y < H_out; ++y)
                for (int64_t x = 0; x < W_out; ++x) {
                    const float d = dout.at({n, o, y, x});
                    for (int64_t c = 0; c < C_in; ++c)
                        for (int64_t i = 0; i < kH; ++i) {
                            const int64_t iy = y * stride + i - padding;
                            if (iy < 0 || iy >= H) continue;
                            for (int64_t j = 0; j < kW; ++j) {
                                const int64_t ix = x * stride + j - padding;
                                if (ix < 0 || ix >= W) continue;
                                g.dinput.at({n, c, iy, ix}) += d * weight.at({o, c, i, j});
                                g.dweight.at({o, c, i, j}) += d * input.at({n, c, iy, ix});
                            }
                        }
                }
    if (has_bias) g.dbias = bias_grad(dout);
    return g;
}

Conv2dGrads conv2d_backward_blocked(const Tensor& dout, const Tensor& input, const Tensor& weight,
                                    bool has_bias, int64_t stride, int64_t padding,
                                    bool need_dinput) {
    const int64_t kH = weight.size(2), kW = weight.size(3);
    if (!(padding == 0 && stride == kH && stride == kW))
        return conv2d_backward_naive(dout, input, weight, has_bias, stride, padding);
    check_dout(dout, input, weight, stride, padding);
    const int64_t N = input.size(0), C = input.size(1), C_out = weight.size(0);
    const int64_t Ho = dout.size(2), Wo = dout.size(3), K = C * kH * kW;
    // The part of the image the windows cover, (N, C, Ho*kH, Wo*kW), seen as
    // (N, C, Ho, kH, Wo, kW) and reordered to (N, Ho, Wo, C, kH, kW): one patch per row.
    const Tensor covered = input.narrow(2, 0, Ho * kH).narrow(3, 0, Wo * kW);
    const Tensor patches = covered.contiguous()
                               .view({N, C, Ho, kH, Wo, kW})
                               .permute({0, 2, 4, 1, 3, 5})
                               .reshape({N * Ho * Wo, K});  // P (N*Ho*Wo, K), a copy
    const Tensor d = dout.permute({0, 2, 3, 1}).reshape({N * Ho * Wo, C_out});  // D
    const Tensor w = weight.reshape({C_out, K});
    Conv2dGrads g;
    g.dweight = matmul_blocked(d.transpose(0, 1), patches).view(weight.shape());
    if (has_bias) g.dbias = bias_grad(dout);
    if (!need_dinput) return g;
    const Tensor dp = matmul_blocked(d, w);  // (N*Ho*Wo, K)
    g.dinput = zeros(input.shape());
    g.dinput.narrow(2, 0, Ho * kH)
        .narrow(3, 0, Wo * kW)
        .copy_(dp.view({N, Ho, Wo, C, kH, kW})
                   .permute({0, 3, 1, 4, 2, 5})
                   .reshape({N, C, Ho * kH, Wo * kW}));
    return g;
}

}  // namespace vitlab
