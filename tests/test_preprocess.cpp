// test_preprocess.cpp: resize_bicubic, center_crop, normalize and preprocess (vision/transforms.h)
// against PyTorch: torch.nn.functional.interpolate(mode="bicubic", align_corners=False) with
// antialias True and False, torchvision's center_crop / normalize, and the whole pipeline in
// torchvision's tensor ops (tools/fixtures/preprocess.py). Hand-computed cases first.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "fixture.h"
#include "vision/image.h"
#include "vision/transforms.h"

using namespace vitlab;

// Measured numbers (differences from PIL / torch) are printed with VITLAB_VERBOSE=1.
#define REPORT(...)                                              \
    do {                                                         \
        if (std::getenv("VITLAB_VERBOSE")) MESSAGE(__VA_ARGS__); \
    } while (0)

using vitlab::testing::check_close;
using vitlab::testing::fixture;
using vitlab::testing::fixture_path;

namespace {

const char* const kResizeCases[] = {"up",        "down",   "mixed", "big_factor",
                                    "one_pixel", "to_one", "same",  "batch"};

Tensor resize_like(const Tensor& x, const Tensor& expected, bool antialias, bool naive = false) {
    const int64_t h = expected.size(-2), w = expected.size(-1);
    return naive ? resize_bicubic_naive(x, h, w, antialias) : resize_bicubic(x, h, w, antialias);
}

}  // namespace

// ---- resize: hand-computed -------------------------------------------------------------------

TEST_CASE("resize_bicubic: plain bicubic of [0, 1] to 4 pixels overshoots at the edges, as torch") {
    // Sample points s = 0.5 * (o + 0.5) - 0.5 = -0.25, 0.25, 0.75, 1.25; Keys' kernel, a = -0.75:
    // out[0] = k(1.25) = a * (1.25^3 - 5 * 1.25^2 + 8 * 1.25 - 4) = -0.75 * 0.140625
    // out[1] = k(0.75) + k(1.75) = 0.26171875 - 0.03515625; the rest by symmetry.
    const Tensor x = from_vector({0.0f, 1.0f}, {1, 2});
    const Tensor expected =
        from_vector({-0.10546875f, 0.2265625f, 0.7734375f, 1.10546875f}, {1, 4});
    check_close(resize_bicubic(x, 1, 4, false), expected, 1e-7f, 0.0f);
}

TEST_CASE("resize_bicubic: antialiased shrink of [0, 0, 1, 1] to 2 pixels weighs all 4 inputs") {
    // Scale 2: the kernel (a = -0.5) is stretched 2x. Output 0 is centred at input 1.0 and
    // reads inputs 0..3 at distances -0.25, 0.25, 0.75, 1.25 (in stretched units):
    // weights 0.8671875, 0.8671875, 0.2265625, -0.0703125, sum 1.890625 = 121/64, so
    // out[0] = (0.2265625 - 0.0703125) / (121 / 64) = 10 / 121.
    const Tensor x = from_vector({0.0f, 0.0f, 1.0f, 1.0f}, {1, 4});
    check_close(resize_bicubic(x, 1, 2, true), from_vector({10.0f / 121, 111.0f / 121}, {1, 2}),
                1e-7f, 0.0f);
}

TEST_CASE("resize_bicubic: a constant image stays constant (weights sum to 1)") {
    for (bool aa : {true, false}) {
        CAPTURE(aa);
        const Tensor x = full({3, 7, 9}, 0.25f);
        check_close(resize_bicubic(x, 20, 3, aa), full({3, 20, 3}, 0.25f), 1e-6f, 0.0f);
        check_close(resize_bicubic(x, 2, 31, aa), full({3, 2, 31}, 0.25f), 1e-6f, 0.0f);
    }
}

TEST_CASE("resize_bicubic: resizing to the same size gives the input back exactly") {
    Generator gen(1);
    const Tensor x = rand_uniform({3, 5, 6}, gen);
    for (bool aa : {true, false}) CHECK(max_abs_diff(resize_bicubic(x, 5, 6, aa), x) == 0.0f);
}

// ---- resize: against PyTorch -----------------------------------------------------------------

TEST_CASE("resize_bicubic: matches torch interpolate(bicubic, antialias=True) up and down") {
    const auto f = fixture("preprocess");
    float worst = 0.0f;
    for (const std::string c : kResizeCases) {
        CAPTURE(c);
        const Tensor expected = f[c + ".aa"];
        const Tensor got = resize_like(f[c + ".x"], expected, true);
        check_close(got, expected, 1e-6f, 0.0f);
        worst = std::max(worst, max_abs_diff(got, expected));
    }
    REPORT("antialias=True: max |ours - torch| = ", worst);
}

TEST_CASE("resize_bicubic: matches torch interpolate(bicubic, antialias=False) up and down") {
    const auto f = fixture("preprocess");
    float worst = 0.0f;
    for (const std::string c : kResizeCases) {
        CAPTURE(c);
        const Tensor expected = f[c + ".plain"];
        const Tensor got = resize_like(f[c + ".x"], expected, false);
        // torch computes these 4 weights with a few ulps of difference from ours (we could not
        // find an order of float operations that reproduces it bit for bit): 2e-6 on outputs.
        check_close(got, expected, 2e-6f, 0.0f);
        worst = std::max(worst, max_abs_diff(got, expected));
    }
    REPORT("antialias=False: max |ours - torch| = ", worst);
}

TEST_CASE("resize_bicubic: the separable passes equal the direct 2-d sum") {
    const auto f = fixture("preprocess");
    for (const std::string c : kResizeCases)
        for (bool aa : {true, false}) {
            CAPTURE(c);
            CAPTURE(aa);
            const Tensor expected = f[c + (aa ? ".aa" : ".plain")];
            check_close(resize_like(f[c + ".x"], expected, aa),
                        resize_like(f[c + ".x"], expected, aa, /*naive=*/true), 1e-5f, 0.0f);
        }
}

TEST_CASE("resize_bicubic: a transposed (non-contiguous) input gives the same result") {
    Generator gen(7);
    const Tensor base = rand_uniform({3, 11, 8}, gen);
    const Tensor t = base.transpose(1, 2);  // (3, 8, 11), not contiguous
    REQUIRE(!t.is_contiguous());
    CHECK(max_abs_diff(resize_bicubic(t, 5, 17), resize_bicubic(t.contiguous(), 5, 17)) == 0.0f);
}

TEST_CASE("resize_bicubic: bad shapes and sizes are ShapeErrors naming the op") {
    CHECK_THROWS_WITH_AS(
        resize_bicubic(zeros({5}), 2, 2),
        doctest::Contains("resize_bicubic: expected a (..., H, W) tensor, got (5,)"), ShapeError);
    CHECK_THROWS_WITH_AS(resize_bicubic(zeros({3, 4, 4}), 0, 2),
                         doctest::Contains("resize_bicubic: cannot resize (3, 4, 4) to (0, 2): "
                                           "sizes must be positive"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(resize_bicubic(zeros({3, 0, 4}), 2, 2),
                         doctest::Contains("cannot resize the empty image (3, 0, 4)"), ShapeError);
}

TEST_CASE("resized_shorter_side: the shorter side becomes size, the longer one is truncated") {
    CHECK(resized_shorter_side(480, 640, 248) == std::make_pair<int64_t, int64_t>(248, 330));
    CHECK(resized_shorter_side(640, 480, 248) == std::make_pair<int64_t, int64_t>(330, 248));
    CHECK(resized_shorter_side(100, 100, 384) == std::make_pair<int64_t, int64_t>(384, 384));
    CHECK(resized_shorter_side(3, 1000, 2) == std::make_pair<int64_t, int64_t>(2, 666));
}

// ---- center crop, normalize ------------------------------------------------------------------

TEST_CASE("center_crop: matches torchvision, halves rounded to even, zero padding when larger") {
    const auto f = fixture("preprocess");
    const Tensor x = f["crop.x"];  // (3, 9, 10)
    for (const auto& size : std::vector<std::pair<int64_t, int64_t>>{
             {4, 5}, {6, 7}, {3, 3}, {9, 10}, {12, 13}, {4, 13}, {1, 1}}) {
        const int64_t h = size.first, w = size.second;
        CAPTURE(h);
        CAPTURE(w);
        check_close(center_crop(x, h, w), f[fmt::format("crop.out_{}x{}", h, w)], 0.0f, 0.0f);
    }
}

TEST_CASE("center_crop: a crop that fits is a view of the input") {
    const Tensor x = arange(20).reshape({4, 5});
    const Tensor c = center_crop(x, 2, 2);  // rows 1..2, cols round(1.5) = 2 .. 3
    CHECK(c.shares_storage_with(x));
    check_close(c, from_vector({7, 8, 12, 13}, {2, 2}), 0.0f, 0.0f);
}

TEST_CASE("center_crop: bad shapes are ShapeErrors") {
    CHECK_THROWS_WITH_AS(center_crop(zeros({4}), 2, 2),
                         doctest::Contains("center_crop: expected a (..., H, W) tensor, got (4,)"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(center_crop(zeros({3, 4, 4}), 2, -1),
                         doctest::Contains("center_crop: cannot crop (3, 4, 4) to (2, -1)"),
                         ShapeError);
}

TEST_CASE("normalize: (x - mean) / std per channel, like torchvision") {
    const auto f = fixture("preprocess");
    const std::vector<float> mean = f["normalize.mean"].to_vector();
    const std::vector<float> stddev = f["normalize.std"].to_vector();
    check_close(normalize(f["normalize.x"], mean, stddev), f["normalize.out"], 1e-6f, 0.0f);
    // By hand: 0.5 in channel 1 with mean 0.25, std 0.5 -> 0.5.
    const Tensor x = full({1, 2, 1, 1}, 0.5f);  // a batch of one works too
    check_close(normalize(x, {0.0f, 0.25f}, {1.0f, 0.5f}), from_vector({0.5f, 0.5f}, {1, 2, 1, 1}),
                0.0f, 0.0f);
}

TEST_CASE("normalize: channel count and std are checked") {
    CHECK_THROWS_WITH_AS(normalize(zeros({3, 2, 2}), {0.5f, 0.5f}, {0.5f, 0.5f}),
                         doctest::Contains("normalize: (3, 2, 2) has 3 channels but mean has 2 "
                                           "values and std 2"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(normalize(zeros({2, 2}), {0.5f}, {0.5f}),
                         doctest::Contains("expected a (..., C, H, W) tensor, got (2, 2)"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(normalize(zeros({2, 1, 1}), {0.5f, 0.5f}, {0.5f, 0.0f}),
                         doctest::Contains("normalize: std[1] is 0"), std::invalid_argument);
}

// ---- preprocess ------------------------------------------------------------------------------

namespace {

struct PreCase {
    const char* name;
    const char* file;
    int64_t size;
    double crop_pct;
    bool augreg;
};

const PreCase kPreCases[] = {
    {"scene_224like", "scene.png", 16, 0.9, false},  // 64x48 -> 22x17 -> 16x16: shrink
    {"rgb_up", "rgb.png", 32, 0.875, true},          // 23x17 -> 48x36 -> 32x32: enlarge
    {"rgb_384like", "rgb.png", 12, 1.0, true},       // 23x17 -> 16x12 -> 12x12
    {"gray", "gray.png", 8, 0.9, false},
    {"rgba", "rgba.png", 5, 1.0, true},
};

PreprocessConfig config_for(const PreCase& c) {
    PreprocessConfig config;
    config.input_size = c.size;
    config.crop_pct = c.crop_pct;
    config.mean = c.augreg ? kInceptionMean : kImagenetMean;
    config.stddev = c.augreg ? kInceptionStd : kImagenetStd;
    return config;
}

}  // namespace

TEST_CASE("preprocess: matches torchvision's tensor pipeline on PNG images") {
    if (!have_png_jpeg()) return;
    const auto f = fixture("preprocess");
    float worst = 0.0f;
    for (const PreCase& c : kPreCases) {
        const std::string name = c.name;
        CAPTURE(name);
        const Image image = read_image(fixture_path(std::string("images/") + c.file));
        const Tensor got = preprocess(image, config_for(c));
        const Tensor expected = f[std::string("pre_") + c.name + ".out"];
        CHECK(got.shape() == Shape{1, 3, c.size, c.size});
        check_close(got, expected, 1e-5f, 0.0f);
        worst = std::max(worst, max_abs_diff(got, expected));
    }
    REPORT("preprocess vs torchvision tensor ops: max diff ", worst);
}

TEST_CASE("preprocess: within a few 8-bit levels of timm's PIL pipeline") {
    if (!have_png_jpeg()) return;
    // timm resizes 8-bit PIL images (rounded, clipped); we resize floats. After normalising
    // with std 0.229, one level of 255 is 0.017. We allow 4 levels on any value, and the mean
    // difference must stay well below one level.
    const auto f = fixture("preprocess");
    for (const PreCase& c : kPreCases) {
        const std::string name = c.name;
        CAPTURE(name);
        const Image image = read_image(fixture_path(std::string("images/") + c.file));
        const PreprocessConfig config = config_for(c);
        const Tensor got = preprocess(image, config);
        const Tensor timm = f[std::string("pre_") + c.name + ".timm"];
        const float level = 1.0f / 255 / config.stddev[0];
        const float worst = max_abs_diff(got, timm);
        const auto d = (got - timm).to_vector();
        double mean_abs = 0;
        for (float v : d) mean_abs += std::abs(v);
        mean_abs /= static_cast<double>(d.size());
        REPORT(name, ": vs timm/PIL max ", worst / level, " levels, mean ", mean_abs / level,
               " levels");
        CHECK(worst <= 4 * level);
        CHECK(mean_abs <= 0.5 * level);
    }
}

TEST_CASE("preprocess: an image already at the model's size is not resampled") {
    Generator gen(3);
    Image image{16, 16, 3, {}};
    for (float v : rand_uniform({16 * 16 * 3}, gen, 0.0f, 256.0f).to_vector())
        image.pixels.push_back(static_cast<uint8_t>(std::min(v, 255.0f)));
    // crop_pct 0.9 would resize 16 -> 17 and crop back; at the model's size nothing moves.
    const PreprocessConfig config = vit_preprocess_config(16, true);
    const Tensor expected = normalize(to_tensor(image), kInceptionMean, kInceptionStd).unsqueeze(0);
    CHECK(max_abs_diff(preprocess(image, config), expected) == 0.0f);
}

TEST_CASE("preprocess: gray and tiny images come out (1, 3, S, S)") {
    const Image gray{3, 2, 1, {0, 50, 100, 150, 200, 250}};
    const Tensor x = preprocess(gray, vit_preprocess_config(8, false));
    CHECK(x.shape() == Shape{1, 3, 8, 8});
    // The three planes come from one gray channel: equal before normalising.
    const Tensor unnormalised = x.select(0, 0) * from_vector(kImagenetStd, {3, 1, 1}) +
                                from_vector(kImagenetMean, {3, 1, 1});
    check_close(unnormalised.select(0, 0), unnormalised.select(0, 2), 1e-5f, 0.0f);
    const Image one{1, 1, 3, {255, 0, 0}};
    CHECK(preprocess(one, vit_preprocess_config(4, true)).shape() == Shape{1, 3, 4, 4});
}

TEST_CASE("preprocess: timm's ViT settings by input size and checkpoint family") {
    const PreprocessConfig b384 = vit_preprocess_config(384, true);
    CHECK(b384.input_size == 384);
    CHECK(b384.crop_pct == 1.0);
    CHECK(b384.mean == kInceptionMean);
    CHECK(b384.stddev == kInceptionStd);
    const PreprocessConfig b224 = vit_preprocess_config(224, false);
    CHECK(b224.crop_pct == 0.9);
    CHECK(b224.mean == kImagenetMean);
    CHECK(b224.stddev == kImagenetStd);
    // 224 / 0.9 = 248.9: a 480x640 photo becomes 248x330, then the central 224x224.
    CHECK(std::floor(224 / b224.crop_pct) == 248.0);
}

TEST_CASE("preprocess: bad configs and absurdly elongated images are refused") {
    const Image small{4, 4, 3, std::vector<uint8_t>(48, 7)};
    PreprocessConfig config;
    config.input_size = 0;
    CHECK_THROWS_WITH_AS(preprocess(small, config),
                         doctest::Contains("preprocess: input size 0 must be in 1..32768"),
                         ShapeError);
    config = PreprocessConfig{};
    config.crop_pct = 0.0;
    CHECK_THROWS_WITH_AS(preprocess(small, config),
                         doctest::Contains("preprocess: crop_pct 0 must be positive"), ShapeError);
    config = PreprocessConfig{};
    config.mean = {0.5f};
    CHECK_THROWS_WITH_AS(preprocess(small, config),
                         doctest::Contains("preprocess: mean and std need 3 values"), ShapeError);
    const Image strip{30000, 1, 1, std::vector<uint8_t>(30000, 9)};
    CHECK_THROWS_WITH_AS(preprocess(strip, vit_preprocess_config(224, true)),
                         doctest::Contains("preprocess: the 30000x1 image is too elongated: with "
                                           "its shorter side resized to 248 it would be "
                                           "7440000x248"),
                         ShapeError);
}
