// test_conv2d.cpp: 2-d convolution, naive and im2col + matmul (tensor/ops/conv2d.h).
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <tuple>

#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

namespace {

const Kernel kKernels[] = {Kernel::Naive, Kernel::Blocked};

const Tensor kNoBias;  // an empty tensor: no bias, like bias=None

// The 3x3 image 1..9 as (1, 1, 3, 3).
Tensor one_to_nine() {
    return arange(1.0f, 10.0f).reshape({1, 1, 3, 3});
}

// Blocked within 1e-4 of naive (relative to the size of the outputs, which grow like sqrt(K)).
void check_kernels_agree(const Tensor& input, const Tensor& weight, const Tensor& bias,
                         int64_t stride, int64_t padding) {
    INFO("input ", to_string(input.shape()), " weight ", to_string(weight.shape()), " stride ",
         stride, " padding ", padding);
    check_close(conv2d_blocked(input, weight, bias, stride, padding),
                conv2d_naive(input, weight, bias, stride, padding), 1e-4f, 1e-4f);
}

}  // namespace

TEST_CASE("conv2d: a 2x2 kernel on the 3x3 image 1..9, computed by hand") {
    // out[y][x] = 1*in[y][x] + 2*in[y][x+1] + 3*in[y+1][x] + 4*in[y+1][x+1] + 0.5
    //   (0,0): 1 + 4 + 12 + 20 = 37    (0,1): 2 + 6 + 15 + 24 = 47
    //   (1,0): 4 + 10 + 21 + 32 = 67   (1,1): 5 + 12 + 24 + 36 = 77
    const Tensor w = from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
    for (Kernel k : kKernels) {
        CAPTURE(to_string(k));
        check_close(conv2d(one_to_nine(), w, full({1}, 0.5f), 1, 0, k),
                    from_vector({37.5f, 47.5f, 67.5f, 77.5f}, {1, 1, 2, 2}), 0.0f, 0.0f);
    }
}

TEST_CASE("conv2d: padding 1 sums each pixel's 3x3 neighbourhood inside the image") {
    // An all-ones 3x3 kernel on 1..9 with a ring of zeros: the sum of each pixel's neighbours.
    const Tensor w = ones({1, 1, 3, 3});
    const Tensor expected = from_vector({12, 21, 16, 27, 45, 33, 24, 39, 28}, {1, 1, 3, 3});
    for (Kernel k : kKernels) {
        CAPTURE(to_string(k));
        check_close(conv2d(one_to_nine(), w, kNoBias, 1, 1, k), expected, 0.0f, 0.0f);
    }
}

TEST_CASE("conv2d: stride 2 with padding 1 keeps every other window") {
    // 1..9 padded to 5x5, 3x3 ones kernel at (0,0), (0,2), (2,0), (2,2) of the padded image:
    // the four corner neighbourhoods, 12, 16, 24, 28.
    for (Kernel k : kKernels) {
        CAPTURE(to_string(k));
        check_close(conv2d(one_to_nine(), ones({1, 1, 3, 3}), kNoBias, 2, 1, k),
                    from_vector({12, 16, 24, 28}, {1, 1, 2, 2}), 0.0f, 0.0f);
    }
}

TEST_CASE("conv2d: input channels are summed and each filter makes one output channel") {
    // x: channel 0 = [[1, 2], [3, 4]], channel 1 = [[10, 20], [30, 40]]; 1x1 filters
    //   filter 0 = (1, 0):    out 0 = channel 0
    //   filter 1 = (-1, 0.5): out 1 = -channel 0 + channel 1 / 2 = [[4, 8], [12, 16]], + bias 1
    const Tensor x = from_vector({1, 2, 3, 4, 10, 20, 30, 40}, {1, 2, 2, 2});
    const Tensor w = from_vector({1, 0, -1, 0.5f}, {2, 2, 1, 1});
    const Tensor b = from_vector({0, 1}, {2});
    for (Kernel k : kKernels) {
        CAPTURE(to_string(k));
        check_close(conv2d(x, w, b, 1, 0, k), from_vector({1, 2, 3, 4, 5, 9, 13, 17}, {1, 2, 2, 2}),
                    0.0f, 0.0f);
    }
}

TEST_CASE("conv2d: each image of a batch is convolved on its own") {
    Generator gen(1);
    const Tensor x = randn({3, 2, 6, 5}, gen), w = randn({4, 2, 3, 2}, gen), b = randn({4}, gen);
    for (Kernel k : kKernels) {
        CAPTURE(to_string(k));
        const Tensor out = conv2d(x, w, b, 1, 1, k);
        for (int64_t n = 0; n < 3; ++n)
            check_close(out.narrow(0, n, 1), conv2d(x.narrow(0, n, 1), w, b, 1, 1, k), 0.0f, 0.0f);
    }
}

TEST_CASE("conv2d: output size is (H + 2 padding - kH) / stride + 1, rounded down") {
    Generator gen(2);
    const Tensor x = randn({2, 3, 7, 8}, gen);
    for (Kernel k : kKernels) {
        CAPTURE(to_string(k));
        CHECK(conv2d(x, randn({5, 3, 3, 3}, gen), kNoBias, 2, 0, k).shape() == Shape{2, 5, 3, 3});
        CHECK(conv2d(x, randn({5, 3, 3, 2}, gen), kNoBias, 1, 2, k).shape() == Shape{2, 5, 9, 11});
        CHECK(conv2d(x, randn({1, 3, 7, 8}, gen), kNoBias, 1, 0, k).shape() == Shape{2, 1, 1, 1});
        // A kernel as large as the padded input: one output pixel.
        CHECK(conv2d(x, randn({1, 3, 9, 10}, gen), kNoBias, 4, 1, k).shape() == Shape{2, 1, 1, 1});
        // An empty batch is allowed, as in PyTorch.
        CHECK(conv2d(zeros({0, 3, 7, 8}), randn({4, 3, 3, 3}, gen), kNoBias, 1, 0, k).shape() ==
              Shape{0, 4, 5, 6});
    }
}

TEST_CASE("conv2d: patch embedding (kernel = stride = 16) is one dot product per patch") {
    // Output (n, o, py, px) = sum over the 3 x 16 x 16 patch at (py, px) of input * weight[o].
    Generator gen(3);
    const Tensor x = randn({2, 3, 64, 64}, gen), w = randn({6, 3, 16, 16}, gen);
    const Tensor b = randn({6}, gen);
    const Tensor out = conv2d_blocked(x, w, b, 16, 0);
    CHECK(out.shape() == Shape{2, 6, 4, 4});
    const std::array<int64_t, 4> picks[] = {{0, 0, 0, 0}, {1, 5, 3, 2}, {0, 2, 1, 3}};
    for (auto [n, o, py, px] : picks) {
        const Tensor patch =
            x.select(0, n).slice(1, py * 16, py * 16 + 16).slice(2, px * 16, px * 16 + 16);
        double dot = b.at({o});
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t i = 0; i < 16; ++i)
                for (int64_t j = 0; j < 16; ++j) dot += patch.at({c, i, j}) * w.at({o, c, i, j});
        CHECK(out.at({n, o, py, px}) == doctest::Approx(dot).epsilon(1e-4));
    }
    check_kernels_agree(x, w, b, 16, 0);
}

TEST_CASE("conv2d: blocked matches naive for many sizes, strides, paddings and kernels") {
    struct Case {
        int64_t N, C_in, H, W, C_out, kH, kW, stride, padding;
    };
    const Case cases[] = {
        {1, 1, 1, 1, 1, 1, 1, 1, 0},        // everything of size 1
        {2, 3, 7, 7, 4, 3, 3, 1, 1},        // "same" 3x3 convolution
        {1, 3, 17, 17, 7, 3, 3, 2, 1},      // stride 2
        {1, 2, 63, 65, 3, 5, 5, 2, 2},      // 5x5 kernel, odd image sizes
        {1, 1, 64, 64, 2, 7, 7, 3, 3},      // 7x7 kernel, stride 3, padding 3
        {2, 17, 9, 9, 5, 3, 3, 1, 0},       // 17 channels
        {1, 65, 5, 5, 3, 1, 1, 1, 0},       // 1x1 convolution over 65 channels
        {1, 2, 3, 577, 3, 3, 3, 1, 1},      // a wide strip
        {1, 3, 8, 9, 2, 4, 2, 1, 0},        // rectangular kernel
        {1, 3, 5, 5, 2, 2, 3, 2, 0},        // stride = kH but not kW: not a patch embedding
        {1, 3, 10, 10, 4, 3, 3, 3, 1},      // stride = kernel with padding: not one either
        {1, 3, 10, 10, 4, 3, 3, 3, 0},      // patch embedding with 3x3 patches
        {2, 3, 37, 35, 5, 8, 8, 8, 0},      // patches that leave pixels over on the edges
        {1, 3, 64, 64, 32, 16, 16, 16, 0},  // ViT patch embedding on a 64x64 image
        {1, 2, 4, 4, 3, 6, 6, 1, 1},        // kernel exactly the padded size
    };
    Generator gen(4);
    for (const Case& c : cases) {
        const Tensor x = randn({c.N, c.C_in, c.H, c.W}, gen);
        const Tensor w = randn({c.C_out, c.C_in, c.kH, c.kW}, gen);
        const Tensor b = randn({c.C_out}, gen);
        check_kernels_agree(x, w, b, c.stride, c.padding);
        check_kernels_agree(x, w, kNoBias, c.stride, c.padding);
    }
}

TEST_CASE("conv2d: non-contiguous input, weight and bias are read through their strides") {
    Generator gen(5);
    // Channels-last memory seen as NCHW: channel stride 1.
    const Tensor nhwc = randn({2, 32, 32, 3}, gen).permute({0, 3, 1, 2});
    // Every other column: W stride 2, so patch rows are not contiguous runs.
    const Tensor strided = randn({1, 3, 32, 64}, gen).slice(3, 0, 64, 2);
    const Tensor transposed = randn({1, 3, 32, 32}, gen).transpose(2, 3);
    const Tensor w8 = randn({4, 3, 8, 8}, gen).transpose(2, 3);
    const Tensor w3 = randn({3, 3, 4, 3}, gen).permute({2, 0, 1, 3});  // (4, 3, 3, 3)
    const Tensor b = randn({8}, gen).slice(0, 0, 8, 2);                // (4) with stride 2
    for (const Tensor& x : {nhwc, strided, transposed}) {
        CAPTURE(to_string(x.strides()));
        REQUIRE_FALSE(x.is_contiguous());
        const std::tuple<Tensor, int64_t, int64_t> convs[] = {{w8, 8, 0}, {w3, 1, 1}, {w3, 2, 0}};
        for (const auto& [w, stride, padding] : convs) {
            for (Kernel k : kKernels)
                check_close(conv2d(x, w, b, stride, padding, k),
                            conv2d(x.clone(), w.clone(), b.clone(), stride, padding, k), 1e-5f,
                            1e-5f);
            check_kernels_agree(x, w, b, stride, padding);
        }
    }
}

TEST_CASE("conv2d: shape mistakes throw ShapeError naming conv2d and the shapes") {
    const Tensor x = zeros({1, 3, 8, 8}), w = zeros({4, 3, 3, 3});
    for (Kernel k : kKernels) {
        CAPTURE(to_string(k));
        CHECK_THROWS_WITH_AS(
            conv2d(zeros({3, 8, 8}), w, kNoBias, 1, 0, k),
            doctest::Contains("conv2d: expected input of shape (N, C_in, H, W), got (3, 8, 8)"),
            ShapeError);
        CHECK_THROWS_WITH_AS(conv2d(x, zeros({4, 3, 3}), kNoBias, 1, 0, k),
                             doctest::Contains("conv2d: expected weight of shape "
                                               "(C_out, C_in, kH, kW), got (4, 3, 3)"),
                             ShapeError);
        CHECK_THROWS_WITH_AS(conv2d(x, zeros({4, 2, 3, 3}), kNoBias, 1, 0, k),
                             doctest::Contains("conv2d: input (1, 3, 8, 8) has 3 channels but "
                                               "weight (4, 2, 3, 3) expects 2"),
                             ShapeError);
        CHECK_THROWS_WITH_AS(conv2d(x, w, zeros({5}), 1, 0, k),
                             doctest::Contains("conv2d: bias (5,) does not match weight "
                                               "(4, 3, 3, 3): expected (4,)"),
                             ShapeError);
        CHECK_THROWS_WITH_AS(conv2d(x, w, zeros({1, 4}), 1, 0, k),
                             doctest::Contains("conv2d: bias (1, 4)"), ShapeError);
        CHECK_THROWS_WITH_AS(conv2d(x, zeros({2, 3, 9, 9}), kNoBias, 1, 0, k),
                             doctest::Contains("conv2d: kernel 9x9 of weight (2, 3, 9, 9) is "
                                               "larger than the padded input 8x8"),
                             ShapeError);
        CHECK_THROWS_WITH_AS(conv2d(x, zeros({2, 3, 3, 11}), kNoBias, 1, 1, k),
                             doctest::Contains("is larger than the padded input 10x10 (input "
                                               "(1, 3, 8, 8), padding 1)"),
                             ShapeError);
        CHECK_THROWS_WITH_AS(conv2d(x, w, kNoBias, 0, 0, k),
                             doctest::Contains("conv2d: stride must be at least 1, got 0"),
                             ShapeError);
        CHECK_THROWS_WITH_AS(conv2d(x, w, kNoBias, 1, -1, k),
                             doctest::Contains("conv2d: padding must be at least 0, got -1"),
                             ShapeError);
        CHECK_THROWS_WITH_AS(conv2d(x, zeros({4, 3, 0, 3}), kNoBias, 1, 0, k),
                             doctest::Contains("conv2d: weight (4, 3, 0, 3) has an empty kernel"),
                             ShapeError);
        // With padding 1 the 9x9 kernel fits (10x10): no error.
        CHECK(conv2d(x, zeros({2, 3, 9, 9}), kNoBias, 1, 1, k).shape() == Shape{1, 2, 2, 2});
    }
}

TEST_CASE("conv2d: matches F.conv2d with padding, stride and the patch embedding") {
    const auto f = fixture("conv2d");
    for (const char* name : {"pad_stride", "patch", "rect_kernel", "stride3"}) {
        const std::string c = name;
        CAPTURE(c);
        const auto stride = static_cast<int64_t>(f[c + ".stride"].item());
        const auto padding = static_cast<int64_t>(f[c + ".padding"].item());
        for (Kernel k : kKernels) {
            CAPTURE(to_string(k));
            check_close(
                conv2d(f[c + ".input"], f[c + ".weight"], f[c + ".bias"], stride, padding, k),
                f[c + ".out"], 1e-4f, 1e-4f);
        }
    }
}
