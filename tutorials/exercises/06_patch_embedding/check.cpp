// Checks for exercise 06 (patch embedding by reshape + matmul). Run: make exercise N=6
//
// Hand-computed patches (sums, the order of the patches, the order of the numbers inside a
// patch), the bias, agreement with the library's conv2d + flatten(2).transpose(1, 2) on random
// images (non-square too) and on the notebook's shapes, and the shape errors.
#include <doctest/doctest.h>

#include "../check_helpers.h"
#include "exercise.h"

using namespace vitlab;
using vitlab::exercises::before;
using vitlab::exercises::check_close;
using vitlab::exercises::check_unchanged;

namespace {

// The notebook's way: x = patch_embed(x); x = x.flatten(2).transpose(1, 2)
Tensor with_conv(const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t P) {
    return vitlab::conv2d(images, weight, bias, P, 0).flatten(2).transpose(1, 2);
}

}  // namespace

TEST_CASE("06 patch_embed: a 4x4 image, 2x2 patches, weight of ones sums each patch") {
    // image 0..15; patches row by row: [0 1 4 5], [2 3 6 7], [8 9 12 13], [10 11 14 15].
    const Tensor image = arange(16).reshape({1, 1, 4, 4});
    const Tensor out = exercises::patch_embed(image, ones({1, 1, 2, 2}), zeros({1}), 2);
    check_close(out, from_vector({10, 18, 42, 50}, {1, 4, 1}));
}

TEST_CASE("06 patch_embed: patches are numbered row by row, top-left first") {
    // A weight that keeps only the top-left pixel of each patch: 0, 2, 8, 10 for a 4x4 of 0..15.
    // (Numbering column by column would give 0, 8, 2, 10.) A 4x6 image: 2 rows of 3 patches.
    const Tensor weight = from_vector({1, 0, 0, 0}, {1, 1, 2, 2});
    check_close(exercises::patch_embed(arange(16).reshape({1, 1, 4, 4}), weight, zeros({1}), 2),
                from_vector({0, 2, 8, 10}, {1, 4, 1}));
    check_close(exercises::patch_embed(arange(24).reshape({1, 1, 4, 6}), weight, zeros({1}), 2),
                from_vector({0, 2, 4, 12, 14, 16}, {1, 6, 1}));
}

TEST_CASE("06 patch_embed: inside a patch the numbers are ordered (channel, row, column)") {
    // One 2x2 patch with 2 channels, image values 0..7 = (c, i, j) -> 4c + 2i + j.
    // Three one-hot output channels pick (0, 0, 0), (1, 0, 1) and (1, 1, 0): 0, 5 and 6.
    Tensor weight = zeros({3, 2, 2, 2});
    weight.at({0, 0, 0, 0}) = 1;
    weight.at({1, 1, 0, 1}) = 1;
    weight.at({2, 1, 1, 0}) = 1;
    const Tensor out =
        exercises::patch_embed(arange(8).reshape({1, 2, 2, 2}), weight, zeros({3}), 2);
    check_close(out, from_vector({0, 5, 6}, {1, 1, 3}));
}

TEST_CASE("06 patch_embed: the bias is added to every patch") {
    const Tensor bias = from_vector({1, -2, 3}, {3});
    const Tensor out = exercises::patch_embed(zeros({2, 3, 8, 8}), ones({3, 3, 4, 4}), bias, 4);
    check_close(out, bias.expand({2, 4, 3}));
}

TEST_CASE("06 patch_embed: equals conv2d + flatten(2).transpose(1, 2) on random images") {
    struct Case {
        Shape images;
        int64_t D, P;
    };
    const Case cases[] = {
        {{2, 3, 32, 32}, 16, 8},  // a batch of two
        {{1, 3, 24, 40}, 8, 8},   // not square: 3 rows of 5 patches
        {{1, 1, 16, 16}, 5, 16},  // one patch: N = 1
        {{3, 2, 6, 9}, 4, 3},     // odd sizes
    };
    Generator gen(1);
    for (const Case& c : cases) {
        CAPTURE(to_string(c.images));
        CAPTURE(c.P);
        const int64_t C = c.images[1];
        const Tensor images = randn(c.images, gen);
        const Tensor weight = randn({c.D, C, c.P, c.P}, gen);
        const Tensor bias = randn({c.D}, gen);
        check_close(exercises::patch_embed(images, weight, bias, c.P),
                    with_conv(images, weight, bias, c.P), 1e-4f, 1e-4f);
    }
}

TEST_CASE("06 patch_embed: the notebook's shapes, (1, 3, 384, 384) -> (1, 576, 768)") {
    Generator gen(2);
    const Tensor images = randn({1, 3, 384, 384}, gen);
    const Tensor weight = randn({768, 3, 16, 16}, gen) * 0.02f;  // timm's init scale
    const Tensor bias = randn({768}, gen) * 0.02f;
    const Tensor out = exercises::patch_embed(images, weight, bias, 16);
    REQUIRE(out.shape() == Shape{1, 576, 768});
    check_close(out, with_conv(images, weight, bias, 16), 1e-4f, 1e-4f);
}

TEST_CASE("06 patch_embed: the images, weight and bias are left unchanged") {
    Generator gen(3);
    const auto images = before("images", randn({2, 3, 8, 8}, gen));
    const auto weight = before("weight", randn({5, 3, 4, 4}, gen));
    const auto bias = before("bias", randn({5}, gen));
    exercises::patch_embed(images.input, weight.input, bias.input, 4);
    check_unchanged(images);
    check_unchanged(weight);
    check_unchanged(bias);
}

TEST_CASE("06 patch_embed: sizes that do not fit throw ShapeError") {
    // 30 is not a multiple of 8.
    CHECK_THROWS_AS(
        exercises::patch_embed(zeros({1, 3, 30, 32}), zeros({4, 3, 8, 8}), zeros({4}), 8),
        ShapeError);
    // The weight is for 16x16 patches, not 8x8.
    CHECK_THROWS_AS(
        exercises::patch_embed(zeros({1, 3, 32, 32}), zeros({4, 3, 16, 16}), zeros({4}), 8),
        ShapeError);
}
