// draw.cpp: heat maps, bilinear upsampling, overlays, patch grids and mosaics (see draw.h).
#include "vision/draw.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "tensor/ops.h"

namespace vitlab {

static uint8_t to_byte(float v) {
    return static_cast<uint8_t>(std::lround(255.0f * std::clamp(v, 0.0f, 1.0f)));
}

static std::string size_text(const Image& im) {
    return std::to_string(im.width) + "x" + std::to_string(im.height) + "x" +
           std::to_string(im.channels);
}

Image to_image(const Tensor& chw) {
    if (chw.dim() != 3 || chw.size(0) != 3)
        throw ShapeError("to_image: expected (3, H, W), got " + to_string(chw.shape()));
    check_image_size("to_image", chw.size(2), chw.size(1));
    Image im;
    im.height = static_cast<int>(chw.size(1));
    im.width = static_cast<int>(chw.size(2));
    im.channels = 3;
    im.pixels.resize(static_cast<size_t>(im.width) * im.height * 3);
    const std::vector<float> v = chw.to_vector();  // (C, H, W) order
    const size_t plane = static_cast<size_t>(im.width) * im.height;
    for (size_t p = 0; p < plane; ++p)
        for (size_t c = 0; c < 3; ++c) im.pixels[p * 3 + c] = to_byte(v[c * plane + p]);
    return im;
}

Tensor unnormalize(const Tensor& x, const std::vector<float>& mean,
                   const std::vector<float>& stddev) {
    if (x.dim() < 3 || x.size(-3) != static_cast<int64_t>(mean.size()) ||
        mean.size() != stddev.size())
        throw ShapeError("unnormalize: expected (..., " + std::to_string(mean.size()) +
                         ", H, W) with as many stds as means, got " + to_string(x.shape()));
    const int64_t C = x.size(-3);
    const Tensor m = from_vector(mean, {C, 1, 1}), s = from_vector(stddev, {C, 1, 1});
    return x * s + m;
}

Tensor upsample_bilinear(const Tensor& map, int64_t out_h, int64_t out_w) {
    if (map.dim() != 2 || map.numel() == 0 || out_h < 1 || out_w < 1)
        throw ShapeError(
            "upsample_bilinear: expected a non-empty (H, W) map and a positive size, "
            "got " +
            to_string(map.shape()) + " -> (" + std::to_string(out_h) + ", " +
            std::to_string(out_w) + ")");
    const int64_t H = map.size(0), W = map.size(1);
    const std::vector<float> in = map.to_vector();
    // Source coordinate of output index i: (i + 0.5) * in / out - 0.5, clamped at 0 (torch).
    struct Tap {
        int64_t i0, i1;
        float w1;
    };
    auto taps = [](int64_t in_size, int64_t out_size) {
        std::vector<Tap> t(out_size);
        const double scale = double(in_size) / double(out_size);
        for (int64_t o = 0; o < out_size; ++o) {
            const double src = std::max(0.0, (o + 0.5) * scale - 0.5);
            const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(src), in_size - 1);
            const int64_t i1 = std::min<int64_t>(i0 + 1, in_size - 1);
            t[o] = {i0, i1, static_cast<float>(src - double(i0))};
        }
        return t;
    };
    const std::vector<Tap> ty = taps(H, out_h), tx = taps(W, out_w);
    Tensor out = empty({out_h, out_w});
    float* o = out.data();
    for (int64_t y = 0; y < out_h; ++y) {
        const float* r0 = &in[ty[y].i0 * W];
        const float* r1 = &in[ty[y].i1 * W];
        const float wy = ty[y].w1;
        for (int64_t x = 0; x < out_w; ++x) {
            const Tap& t = tx[x];
            const float top = r0[t.i0] + (r0[t.i1] - r0[t.i0]) * t.w1;
            const float bottom = r1[t.i0] + (r1[t.i1] - r1[t.i0]) * t.w1;
            o[y * out_w + x] = top + (bottom - top) * wy;
        }
    }
    return out;
}

Rgb colormap(float t) {
    // Five stops of matplotlib's viridis at 0, 0.25, 0.5, 0.75, 1; linear in between.
    static const float stops[5][3] = {
        {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    if (!(t >= 0.0f)) t = 0.0f;  // also NaN
    t = std::min(t, 1.0f) * 4.0f;
    const int i = std::min(static_cast<int>(t), 3);
    const float f = t - static_cast<float>(i);
    Rgb c;
    for (int k = 0; k < 3; ++k)
        c[k] = static_cast<uint8_t>(std::lround(stops[i][k] + (stops[i + 1][k] - stops[i][k]) * f));
    return c;
}

Image heatmap(const Tensor& map) {
    if (map.dim() != 2) throw ShapeError("heatmap: expected (H, W), got " + to_string(map.shape()));
    check_image_size("heatmap", map.size(1), map.size(0));
    const std::vector<float> v = map.to_vector();
    const auto [lo_it, hi_it] = std::minmax_element(v.begin(), v.end());
    const float lo = *lo_it, range = *hi_it - *lo_it;
    Image im;
    im.height = static_cast<int>(map.size(0));
    im.width = static_cast<int>(map.size(1));
    im.channels = 3;
    im.pixels.resize(v.size() * 3);
    for (size_t p = 0; p < v.size(); ++p) {
        const Rgb c = colormap(range > 0.0f ? (v[p] - lo) / range : 0.5f);
        std::copy(c.begin(), c.end(), im.pixels.begin() + static_cast<std::ptrdiff_t>(p * 3));
    }
    return im;
}

Image overlay(const Image& base, const Image& top, float alpha) {
    if (base.width != top.width || base.height != top.height || base.channels != 3 ||
        top.channels != 3)
        throw ShapeError("overlay: expected two RGB images of one size, got " + size_text(base) +
                         " and " + size_text(top));
    Image out = base;
    for (size_t i = 0; i < out.pixels.size(); ++i)
        out.pixels[i] = static_cast<uint8_t>(
            std::lround((1.0f - alpha) * base.pixels[i] + alpha * top.pixels[i]));
    return out;
}

void patch_grid(Image& image, int cell, Rgb colour) {
    if (cell < 1 || image.channels < 3)
        throw ShapeError("patch_grid: expected an RGB image and cell >= 1, got " +
                         size_text(image) + " and cell " + std::to_string(cell));
    auto put = [&](int y, int x) {
        uint8_t* p = &image.pixels[(static_cast<size_t>(y) * image.width + x) * image.channels];
        std::copy(colour.begin(), colour.end(), p);
    };
    for (int y = 0; y < image.height; ++y)
        for (int x = 0; x < image.width; ++x)
            if (y % cell == 0 || x % cell == 0 || y == image.height - 1 || x == image.width - 1)
                put(y, x);
}

Image mosaic(const std::vector<Image>& tiles, int cols, int gap, Rgb background) {
    if (tiles.empty() || cols < 1 || gap < 0)
        throw ShapeError("mosaic: expected at least one tile, cols >= 1 and gap >= 0");
    const Image& t0 = tiles[0];
    for (const Image& t : tiles)
        if (t.width != t0.width || t.height != t0.height || t.channels != 3)
            throw ShapeError("mosaic: every tile must be RGB and " + size_text(t0) + ", got " +
                             size_text(t));
    const int n = static_cast<int>(tiles.size());
    const int rows = (n + cols - 1) / cols;
    Image out;
    out.width = cols * t0.width + (cols + 1) * gap;
    out.height = rows * t0.height + (rows + 1) * gap;
    out.channels = 3;
    check_image_size("mosaic", out.width, out.height);
    out.pixels.resize(static_cast<size_t>(out.width) * out.height * 3);
    for (size_t p = 0; p < out.pixels.size(); p += 3)
        std::copy(background.begin(), background.end(), out.pixels.begin() + p);
    for (int i = 0; i < n; ++i) {
        const int oy = gap + (i / cols) * (t0.height + gap),
                  ox = gap + (i % cols) * (t0.width + gap);
        for (int y = 0; y < t0.height; ++y) {
            const auto src =
                tiles[i].pixels.begin() + static_cast<std::ptrdiff_t>(y) * t0.width * 3;
            std::copy(
                src, src + t0.width * 3,
                out.pixels.begin() + (static_cast<std::ptrdiff_t>(oy + y) * out.width + ox) * 3);
        }
    }
    return out;
}

Image scale_nearest(const Image& image, int factor) {
    if (factor < 1) throw ShapeError("scale_nearest: factor must be >= 1");
    Image out;
    out.width = image.width * factor;
    out.height = image.height * factor;
    out.channels = image.channels;
    check_image_size("scale_nearest", out.width, out.height);
    out.pixels.resize(static_cast<size_t>(out.width) * out.height * out.channels);
    for (int y = 0; y < out.height; ++y)
        for (int x = 0; x < out.width; ++x)
            for (int c = 0; c < out.channels; ++c)
                out.pixels[(static_cast<size_t>(y) * out.width + x) * out.channels + c] =
                    image.at(y / factor, x / factor, c);
    return out;
}

}  // namespace vitlab
