// conv2d_blocked.cpp: convolution as one matrix product (im2col), so it runs at matmul speed.
//
// Each output pixel is a dot product of one filter with the input patch under it. Write every
// filter as a row and every patch as a column and all those dot products form one product:
//
//   weight (C_out, C_in, kH, kW)  viewed as  w    (C_out, K)        K = C_in * kH * kW
//   input patches                 copied to  cols (K, L)            L = H_out * W_out
//   out[n] (C_out, H_out, W_out)  viewed as  w @ cols (C_out, L)    one gemm_blocked
//
// Row (c, i, j) of cols holds input[c][y*stride + i - padding][x*stride + j - padding] for
// every output pixel (y, x), zero where it falls in the padding. That copy ("im2col") costs
// K * L memory but turns the convolution into the fastest kernel we have (matmul_blocked.cpp).
//
// The patch embedding of a ViT (kernel = stride = 16, no padding) is the special case where
// patches do not overlap: cutting the image into patches moves every pixel exactly once and
// needs no padding checks. Then the whole batch goes through ONE product:
//
//   patches (N * L, K)    row (n, py, px) = input[n][:, py*k : py*k + k, px*k : px*k + k] flattened
//   w (C_out, K) @ patches^T (K, N * L) -> (C_out, N * L) -> (N, C_out, H_out, W_out)
//
// Compare with conv2d_naive.cpp: the same sums, in a different order (they agree to ~1e-5).
#include <algorithm>
#include <cstring>

#include "tensor/ops/conv2d.h"
#include "tensor/ops/conv2d_internal.h"
#include "tensor/ops/matmul.h"
#include "tensor/parallel/thread_pool.h"

namespace vitlab {

namespace {

// Cuts a batch into non-overlapping k x k patches: patches (N * Hp * Wp, C * k * k).
// One patch row is C*k runs of k pixels, each run a row segment of the image.
Tensor cut_patches(const Tensor& input, int64_t k, int64_t Hp, int64_t Wp) {
    const int64_t N = input.size(0), C = input.size(1);
    const int64_t sn = input.stride(0), sc = input.stride(1), sh = input.stride(2),
                  sw = input.stride(3);
    Tensor patches = empty(Shape{N * Hp * Wp, C * k * k});
    const float* src = input.data();
    float* dst = patches.data();
    // One task per (image, row of patches): Wp patches that share the same k image rows.
    parallel_for(0, N * Hp, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            const int64_t n = t / Hp, py = t % Hp;
            for (int64_t px = 0; px < Wp; ++px) {
                float* row = dst + (t * Wp + px) * C * k * k;
                for (int64_t c = 0; c < C; ++c)
                    for (int64_t i = 0; i < k; ++i) {
                        const float* run = src + n * sn + c * sc + (py * k + i) * sh + px * k * sw;
                        float* out = row + (c * k + i) * k;
                        if (sw == 1) {
                            std::memcpy(out, run, static_cast<size_t>(k) * sizeof(float));
                        } else {
                            for (int64_t j = 0; j < k; ++j) out[j] = run[j * sw];
                        }
                    }
            }
        }
    });
    return patches;
}

// im2col of one image (C, H, W) (a view, any strides) into cols (K, H_out * W_out).
void im2col(const Tensor& image, int64_t kH, int64_t kW, int64_t stride, int64_t padding,
            int64_t H_out, int64_t W_out, Tensor& cols) {
    const int64_t H = image.size(1), W = image.size(2);
    const int64_t sc = image.stride(0), sh = image.stride(1), sw = image.stride(2);
    const int64_t L = H_out * W_out;
    const float* src = image.data();
    float* dst = cols.data();
    parallel_for(0, cols.size(0), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
            const int64_t c = r / (kH * kW), i = r / kW % kH, j = r % kW;
            float* row = dst + r * L;
            for (int64_t y = 0; y < H_out; ++y) {
                float* out = row + y * W_out;
                const int64_t iy = y * stride + i - padding;
                if (iy < 0 || iy >= H) {
                    std::fill(out, out + W_out, 0.0f);
                    continue;
                }
                const float* line = src + c * sc + iy * sh;
                for (int64_t x = 0; x < W_out; ++x) {
                    const int64_t ix = x * stride + j - padding;
                    out[x] = (ix >= 0 && ix < W) ? line[ix * sw] : 0.0f;
                }
            }
        }
    });
}

// out (N, C_out, H_out, W_out) += bias[o] on every pixel of channel o.
void add_bias(Tensor& out, const Tensor& bias) {
    const int64_t N = out.size(0), C_out = out.size(1), L = out.size(2) * out.size(3);
    float* o = out.data();
    for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C_out; ++c) {
            const float b = bias.data()[c * bias.stride(0)];
            float* p = o + (n * C_out + c) * L;
            for (int64_t l = 0; l < L; ++l) p[l] += b;
        }
}

}  // namespace

Tensor conv2d_blocked(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t stride,
                      int64_t padding) {
    const Shape out_shape = detail::conv2d_output_shape(input, weight, bias, stride, padding);
    const int64_t N = out_shape[0], C_out = out_shape[1], H_out = out_shape[2],
                  W_out = out_shape[3];
    const int64_t kH = weight.size(2), kW = weight.size(3);
    const int64_t K = input.size(1) * kH * kW, L = H_out * W_out;

    if (numel(out_shape) == 0 || K == 0) {  // nothing to multiply: out is just the bias
        Tensor out = zeros(out_shape);
        if (bias.numel() != 0 && out.numel() != 0) add_bias(out, bias);
        return out;
    }
    const Tensor w = weight.reshape(Shape{C_out, K});  // a view when weight is contiguous

    Tensor out;
    if (stride == kH && stride == kW && padding == 0) {
        // Patch embedding: the whole batch in one product, (C_out, K) @ (K, N * L).
        const Tensor patches = cut_patches(input, kH, H_out, W_out);
        Tensor product = empty(Shape{C_out, N * L});
        gemm_blocked(w, patches.transpose(0, 1), product);
        // (C_out, N, H_out, W_out) -> (N, C_out, H_out, W_out); no copy when N == 1.
        out = product.view(Shape{C_out, N, H_out, W_out}).permute({1, 0, 2, 3}).contiguous();
    } else {
        // General case: one image at a time, so cols stays K * L floats, not N times that.
        out = empty(out_shape);
        Tensor cols = empty(Shape{K, L});
        for (int64_t n = 0; n < N; ++n) {
            im2col(input.select(0, n), kH, kW, stride, padding, H_out, W_out, cols);
            Tensor out_n = out.select(0, n).view(Shape{C_out, L});  // writes into out
            gemm_blocked(w, cols, out_n);
        }
    }
    if (bias.numel() != 0) add_bias(out, bias);
    return out;
}

}  // namespace vitlab
