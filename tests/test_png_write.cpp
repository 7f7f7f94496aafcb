// test_png_write.cpp: PNG files written and read back, and the drawing helpers that make them.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "tensor/ops.h"
#include "vision/draw.h"
#include "vision/image.h"
#include "vision/png_write.h"

using namespace vitlab;

static Image make_image(int w, int h, int channels) {
    Image im;
    im.width = w;
    im.height = h;
    im.channels = channels;
    for (int i = 0; i < w * h * channels; ++i)
        im.pixels.push_back(static_cast<uint8_t>(i * 37 + 11));
    return im;
}

static std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("vitlab_test_" + name)).string();
}

// ---- png_write ---------------------------------------------------------------------------------

TEST_CASE("png_write: written files read back with the same size and pixels, 1 to 4 channels") {
    if (!have_png_write() || !have_png_jpeg()) return;  // the build says so; nothing to test
    for (int channels = 1; channels <= 4; ++channels) {
        const Image im = make_image(7, 3, channels);
        const std::string path = temp_path("rt" + std::to_string(channels) + ".png");
        write_png(path, im);
        const Image back = read_image(path);
        std::remove(path.c_str());
        CHECK(back.width == 7);
        CHECK(back.height == 3);
        CHECK(back.channels == channels);
        CHECK(back.pixels == im.pixels);
    }
}

TEST_CASE("png_write: the bytes are a PNG: signature first, IEND last") {
    if (!have_png_write()) return;
    const std::vector<uint8_t> png = encode_png(make_image(2, 2, 3));
    REQUIRE(png.size() > 20);
    CHECK(png[0] == 0x89);
    CHECK(png[1] == 'P');
    CHECK(png[2] == 'N');
    CHECK(png[3] == 'G');
    const std::string tail(png.end() - 8, png.end() - 4);
    CHECK(tail == "IEND");
}

TEST_CASE("png_write: a heat map comes back exactly, its extremes at the ramp's ends") {
    if (!have_png_write() || !have_png_jpeg()) return;
    const Tensor map = arange(12).reshape({3, 4});  // 0 at the top left, 11 at the bottom right
    const Image im = heatmap(map);
    const std::string path = temp_path("heat.png");
    write_png(path, im);
    const Image back = read_image(path);
    std::remove(path.c_str());
    REQUIRE(back.width == 4);
    REQUIRE(back.height == 3);
    CHECK(back.pixels == im.pixels);
    const Rgb lo = colormap(0.0f), hi = colormap(1.0f);
    for (int c = 0; c < 3; ++c) {
        CHECK(back.at(0, 0, c) == lo[c]);
        CHECK(back.at(2, 3, c) == hi[c]);
    }
}

TEST_CASE("png_write: bad images and unwritable paths are errors") {
    Image five = make_image(2, 2, 3);
    five.channels = 5;
    CHECK_THROWS_WITH_AS(encode_png(five), doctest::Contains("5 channels"), ImageError);
    Image short_buffer = make_image(2, 2, 3);
    short_buffer.pixels.pop_back();
    CHECK_THROWS_WITH_AS(encode_png(short_buffer), doctest::Contains("holds 11 bytes, expected 12"),
                         ImageError);
    CHECK_THROWS_AS(encode_png(Image{}), ImageError);
    if (!have_png_write()) return;
    CHECK_THROWS_WITH_AS(
        write_png("/nonexistent_dir/x.png", make_image(2, 2, 3)),
        doctest::Contains("/nonexistent_dir/x.png: cannot create a file in '/nonexistent_dir'"),
        ImageError);
}

// ---- draw --------------------------------------------------------------------------------------

TEST_CASE("draw: upsample_bilinear matches PyTorch's interpolate(align_corners=False)") {
    // Numbers printed by torch.nn.functional.interpolate(x, size, mode="bilinear").
    const Tensor a = upsample_bilinear(from_vector({0, 1, 2, 3}, {2, 2}), 4, 4);
    const std::vector<float> expected_a = {0,    0.25f, 0.75f, 1,    0.5f, 0.75f, 1.25f, 1.5f,
                                           1.5f, 1.75f, 2.25f, 2.5f, 2,    2.25f, 2.75f, 3};
    const std::vector<float> got_a = a.to_vector();
    for (size_t i = 0; i < got_a.size(); ++i) CHECK(got_a[i] == doctest::Approx(expected_a[i]));
    const Tensor b = upsample_bilinear(arange(6).reshape({2, 3}), 3, 5);
    const std::vector<float> expected_b = {0,    0.4f, 1, 1.6f, 2, 1.5f, 1.9f, 2.5f,
                                           3.1f, 3.5f, 3, 3.4f, 4, 4.6f, 5};
    const std::vector<float> got_b = b.to_vector();
    REQUIRE(got_b.size() == expected_b.size());
    for (size_t i = 0; i < got_b.size(); ++i) CHECK(got_b[i] == doctest::Approx(expected_b[i]));
    // Same size: unchanged. A transposed (non-contiguous) map reads correctly.
    const Tensor m = arange(6).reshape({2, 3});
    CHECK(upsample_bilinear(m, 2, 3).to_vector() == m.to_vector());
    CHECK(upsample_bilinear(m.transpose(0, 1), 3, 2).to_vector() ==
          m.transpose(0, 1).contiguous().to_vector());
    CHECK_THROWS_AS(upsample_bilinear(zeros({2, 2, 2}), 4, 4), ShapeError);
}

TEST_CASE("draw: the colour ramp grows brighter and clamps outside [0, 1]") {
    auto brightness = [](Rgb c) { return 0.299f * c[0] + 0.587f * c[1] + 0.114f * c[2]; };
    for (int i = 0; i < 10; ++i)
        CHECK(brightness(colormap(i / 10.0f)) < brightness(colormap((i + 1) / 10.0f)));
    CHECK(colormap(-3.0f) == colormap(0.0f));
    CHECK(colormap(7.0f) == colormap(1.0f));
    const Image flat = heatmap(full({2, 2}, 3.0f));  // a constant map: the middle colour
    CHECK(flat.at(1, 1, 1) == colormap(0.5f)[1]);
}

TEST_CASE("draw: to_image inverts to_tensor, unnormalize inverts normalize") {
    const Image im = make_image(5, 4, 3);
    CHECK(to_image(to_tensor(im)).pixels == im.pixels);
    const Tensor x = to_tensor(im);
    const Tensor n = (x - 0.5f) / 0.25f;
    CHECK(to_image(unnormalize(n, {0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f})).pixels == im.pixels);
    CHECK_THROWS_WITH_AS(to_image(zeros({1, 4, 4})), doctest::Contains("expected (3, H, W)"),
                         ShapeError);
}

TEST_CASE("draw: overlay blends, patch_grid draws lines every cell, mosaic tiles with gaps") {
    Image black = make_image(4, 4, 3), white = make_image(4, 4, 3);
    std::fill(black.pixels.begin(), black.pixels.end(), 0);
    std::fill(white.pixels.begin(), white.pixels.end(), 200);
    CHECK(overlay(black, white, 0.25f).at(1, 2, 0) == 50);
    CHECK_THROWS_WITH_AS(overlay(black, make_image(3, 4, 3), 0.5f),
                         doctest::Contains("got 4x4x3 and 3x4x3"), ShapeError);

    Image g = make_image(9, 9, 3);
    std::fill(g.pixels.begin(), g.pixels.end(), 0);
    patch_grid(g, 4, {255, 0, 0});
    CHECK(g.at(0, 5, 0) == 255);  // top border
    CHECK(g.at(4, 5, 0) == 255);  // the line between the cells
    CHECK(g.at(5, 8, 0) == 255);  // right border
    CHECK(g.at(5, 5, 0) == 0);    // inside a cell
    CHECK(g.at(2, 2, 0) == 0);

    const Image m = mosaic({black, white, white}, 2, 1, {9, 9, 9});
    CHECK(m.width == 2 * 4 + 3);
    CHECK(m.height == 2 * 4 + 3);
    CHECK(m.at(0, 0, 0) == 9);    // gap
    CHECK(m.at(1, 1, 0) == 0);    // first tile
    CHECK(m.at(1, 6, 0) == 200);  // second tile
    CHECK(m.at(6, 1, 0) == 200);  // third tile, second row
    CHECK(m.at(6, 6, 0) == 9);    // empty cell
    CHECK_THROWS_AS(mosaic({}, 2, 1, {0, 0, 0}), ShapeError);

    const Image big = scale_nearest(white, 3);
    CHECK(big.width == 12);
    CHECK(big.at(11, 11, 2) == 200);
}
