// transforms.cpp: bicubic resize, center crop, normalise, and preprocess (see transforms.h).
#include "vision/transforms.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "tensor/ops.h"

namespace vitlab {

// ---- the cubic kernel and the taps of one axis ---------------------------------------------
namespace {

// Keys' cubic convolution kernel, parameter a (PIL and antialiased torch: -0.5; torch's plain
// bicubic: -0.75):
//   |t| < 1:       (a + 2)|t|^3 - (a + 3)|t|^2 + 1
//   1 <= |t| < 2:  a|t|^3 - 5a|t|^2 + 8a|t| - 4a
//   otherwise      0
float cubic_near(float t, float a) {
    return ((a + 2) * t - (a + 3)) * t * t + 1;
}
float cubic_far(float t, float a) {
    return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
}
float cubic(float t, float a) {
    t = std::abs(t);
    if (t < 1.0f) return cubic_near(t, a);
    if (t < 2.0f) return cubic_far(t, a);
    return 0.0f;
}

// How one axis is resampled: output o = sum over k < count[o] of weight[o][k] * input[index[o][k]].
struct Taps {
    int64_t width = 0;           // room per output (the largest count)
    std::vector<int> count;      // (out)
    std::vector<int64_t> index;  // (out, width) input positions
    std::vector<float> weight;   // (out, width)
};

// Antialiased (PIL's filter). Output pixel o covers input [o * scale, (o + 1) * scale) with
// center c = scale * (o + 0.5); inputs within `support` of c get weight
// cubic((i + 0.5 - c) / max(scale, 1)), normalised to sum 1. When shrinking (scale > 1) the
// kernel is stretched by scale, so it spans 4 * scale inputs instead of 4.
// The float/double mix below is PyTorch's (upsample_bicubic2d_aa on CPU), so that we agree
// with it to the last bit in almost every pixel.
Taps antialias_taps(int64_t in, int64_t out) {
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    const float support = scale >= 1.0f ? static_cast<float>(2.0 * scale) : 2.0f;
    const float inv_scale = scale >= 1.0f ? static_cast<float>(1.0 / scale) : 1.0f;
    Taps taps;
    taps.width = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
    taps.count.resize(out);
    taps.index.resize(out * taps.width);
    taps.weight.resize(out * taps.width);
    for (int64_t o = 0; o < out; ++o) {
        const float center = static_cast<float>(scale * (o + 0.5));
        const int64_t first = std::max<int64_t>(static_cast<int64_t>((center - support) + 0.5), 0);
        const int64_t last = std::min<int64_t>(static_cast<int64_t>((center + support) + 0.5), in);
        const int64_t n = last - first;  // <= width
        float* w = &taps.weight[o * taps.width];
        float total = 0.0f;
        for (int64_t k = 0; k < n; ++k) {
            const float t =
                static_cast<float>(((static_cast<float>(first + k) - center) + 0.5) * inv_scale);
            w[k] = cubic(t, -0.5f);
            total += w[k];
            taps.index[o * taps.width + k] = first + k;
        }
        if (total != 0.0f)
            for (int64_t k = 0; k < n; ++k) w[k] /= total;
        taps.count[o] = static_cast<int>(n);
    }
    return taps;
}

// Plain bicubic (torch's upsample_bicubic2d, align_corners=False). Output o samples the input
// at s = scale * (o + 0.5) - 0.5 from its 4 neighbours floor(s) - 1 .. floor(s) + 2, with
// cubic weights of the distances; positions beyond the border read the border pixel.
Taps plain_taps(int64_t in, int64_t out) {
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    const float a = -0.75f;
    Taps taps;
    taps.width = 4;
    taps.count.assign(out, 4);
    taps.index.resize(out * 4);
    taps.weight.resize(out * 4);
    for (int64_t o = 0; o < out; ++o) {
        const float s = static_cast<float>(scale * (o + 0.5) - 0.5);
        const int64_t base = static_cast<int64_t>(std::floor(s));
        const float t = s - static_cast<float>(base);  // in [0, 1)
        const float u = static_cast<float>(1.0 - t);   // distance to the right neighbour
        const float w[4] = {cubic_far(static_cast<float>(t + 1.0), a), cubic_near(t, a),
                            cubic_near(u, a), cubic_far(static_cast<float>(u + 1.0), a)};
        for (int64_t k = 0; k < 4; ++k) {
            taps.index[o * 4 + k] = std::clamp<int64_t>(base - 1 + k, 0, in - 1);
            taps.weight[o * 4 + k] = w[k];
        }
    }
    return taps;
}

Taps make_taps(int64_t in, int64_t out, bool antialias) {
    return antialias ? antialias_taps(in, out) : plain_taps(in, out);
}

// Checks the arguments and views x as (P, H, W) planes, contiguous.
Tensor as_planes(const Tensor& x, int64_t out_h, int64_t out_w, const char* op) {
    if (x.dim() < 2)
        throw ShapeError(
            fmt::format("{}: expected a (..., H, W) tensor, got {}", op, to_string(x.shape())));
    if (out_h < 1 || out_w < 1)
        throw ShapeError(fmt::format("{}: cannot resize {} to ({}, {}): sizes must be positive", op,
                                     to_string(x.shape()), out_h, out_w));
    if (x.size(-1) < 1 || x.size(-2) < 1)
        throw ShapeError(
            fmt::format("{}: cannot resize the empty image {}", op, to_string(x.shape())));
    return x.contiguous().reshape({-1, x.size(-2), x.size(-1)});
}

Shape resized_shape(const Tensor& x, int64_t out_h, int64_t out_w) {
    Shape shape = x.shape();
    shape[shape.size() - 2] = out_h;
    shape[shape.size() - 1] = out_w;
    return shape;
}

}  // namespace

// ---- resize ----------------------------------------------------------------------------------

Tensor resize_bicubic(const Tensor& x, int64_t out_h, int64_t out_w, bool antialias) {
    const Tensor planes = as_planes(x, out_h, out_w, "resize_bicubic");
    const int64_t P = planes.size(0), H = planes.size(1), W = planes.size(2);
    const Taps tx = make_taps(W, out_w, antialias);
    const Taps ty = make_taps(H, out_h, antialias);

    // Pass 1, along W: (P, H, W) -> (P, H, out_w).
    Tensor wide(Shape{P, H, out_w});
    const float* src = planes.data();
    float* mid = wide.data();
    for (int64_t row = 0; row < P * H; ++row) {
        const float* in = src + row * W;
        for (int64_t o = 0; o < out_w; ++o) {
            const int64_t* idx = &tx.index[o * tx.width];
            const float* w = &tx.weight[o * tx.width];
            float acc = in[idx[0]] * w[0];
            for (int k = 1; k < tx.count[o]; ++k) acc += in[idx[k]] * w[k];
            mid[row * out_w + o] = acc;
        }
    }

    // Pass 2, along H: (P, H, out_w) -> (P, out_h, out_w); whole rows at a time.
    Tensor out(Shape{P, out_h, out_w});
    float* dst = out.data();
    for (int64_t p = 0; p < P; ++p) {
        const float* in = mid + p * H * out_w;
        for (int64_t o = 0; o < out_h; ++o) {
            const int64_t* idx = &ty.index[o * ty.width];
            const float* w = &ty.weight[o * ty.width];
            float* row = dst + (p * out_h + o) * out_w;
            for (int64_t c = 0; c < out_w; ++c) row[c] = in[idx[0] * out_w + c] * w[0];
            for (int k = 1; k < ty.count[o]; ++k)
                for (int64_t c = 0; c < out_w; ++c) row[c] += in[idx[k] * out_w + c] * w[k];
        }
    }
    return out.view(resized_shape(x, out_h, out_w));
}

Tensor resize_bicubic_naive(const Tensor& x, int64_t out_h, int64_t out_w, bool antialias) {
    const Tensor planes = as_planes(x, out_h, out_w, "resize_bicubic_naive");
    const int64_t P = planes.size(0), H = planes.size(1), W = planes.size(2);
    const Taps tx = make_taps(W, out_w, antialias);
    const Taps ty = make_taps(H, out_h, antialias);
    Tensor out(Shape{P, out_h, out_w});
    for (int64_t p = 0; p < P; ++p)
        for (int64_t oy = 0; oy < out_h; ++oy)
            for (int64_t ox = 0; ox < out_w; ++ox) {
                float acc = 0.0f;
                for (int i = 0; i < ty.count[oy]; ++i)
                    for (int j = 0; j < tx.count[ox]; ++j)
                        acc += ty.weight[oy * ty.width + i] * tx.weight[ox * tx.width + j] *
                               planes.at(
                                   {p, ty.index[oy * ty.width + i], tx.index[ox * tx.width + j]});
                out.at({p, oy, ox}) = acc;
            }
    return out.view(resized_shape(x, out_h, out_w));
}

std::pair<int64_t, int64_t> resized_shorter_side(int64_t h, int64_t w, int64_t size) {
    if (h < 1 || w < 1 || size < 1)
        throw ShapeError(
            fmt::format("resized_shorter_side: image ({}, {}) and size {} must be "
                        "positive",
                        h, w, size));
    const int64_t shorter = std::min(h, w), longer = std::max(h, w);
    // Python's int(size * long / short): a true division, then truncation.
    const int64_t new_longer =
        static_cast<int64_t>(static_cast<double>(size * longer) / static_cast<double>(shorter));
    return h <= w ? std::make_pair(size, new_longer) : std::make_pair(new_longer, size);
}

// ---- crop, normalise -------------------------------------------------------------------------

Tensor center_crop(const Tensor& x, int64_t out_h, int64_t out_w) {
    if (x.dim() < 2)
        throw ShapeError(fmt::format("center_crop: expected a (..., H, W) tensor, got {}",
                                     to_string(x.shape())));
    if (out_h < 1 || out_w < 1)
        throw ShapeError(
            fmt::format("center_crop: cannot crop {} to ({}, {}): sizes must be "
                        "positive",
                        to_string(x.shape()), out_h, out_w));
    Tensor img = x;
    int64_t H = x.size(-2), W = x.size(-1);
    if (out_h > H || out_w > W) {
        // Pad with zeros to at least the crop; an odd excess puts the extra row/column at the
        // bottom/right, as torchvision does.
        const int64_t top = out_h > H ? (out_h - H) / 2 : 0;
        const int64_t left = out_w > W ? (out_w - W) / 2 : 0;
        const int64_t bottom = out_h > H ? (out_h - H + 1) / 2 : 0;
        const int64_t right = out_w > W ? (out_w - W + 1) / 2 : 0;
        img = zeros(resized_shape(x, H + top + bottom, W + left + right));
        img.narrow(-2, top, H).narrow(-1, left, W).copy_(x);
        H = img.size(-2);
        W = img.size(-1);
    }
    // Python's round() sends halves to the even neighbour; so does nearbyint by default.
    const auto top = static_cast<int64_t>(std::nearbyint((H - out_h) / 2.0));
    const auto left = static_cast<int64_t>(std::nearbyint((W - out_w) / 2.0));
    return img.narrow(-2, top, out_h).narrow(-1, left, out_w);
}

Tensor normalize(const Tensor& x, const std::vector<float>& mean,
                 const std::vector<float>& stddev) {
    if (x.dim() < 3)
        throw ShapeError(fmt::format("normalize: expected a (..., C, H, W) tensor, got {}",
                                     to_string(x.shape())));
    const int64_t C = x.size(-3);
    if (static_cast<int64_t>(mean.size()) != C || static_cast<int64_t>(stddev.size()) != C)
        throw ShapeError(
            fmt::format("normalize: {} has {} channels but mean has {} values and "
                        "std {}",
                        to_string(x.shape()), C, mean.size(), stddev.size()));
    for (size_t c = 0; c < stddev.size(); ++c)
        if (stddev[c] == 0.0f)
            throw std::invalid_argument(fmt::format("normalize: std[{}] is 0", c));
    // mean and std as (C, 1, 1): they broadcast over H and W (and any batch dim in front).
    const Tensor m = from_vector(mean, {C, 1, 1});
    const Tensor s = from_vector(stddev, {C, 1, 1});
    return (x - m) / s;
}

// ---- the whole pipeline ----------------------------------------------------------------------

PreprocessConfig vit_preprocess_config(int64_t input_size, bool augreg) {
    PreprocessConfig config;
    config.input_size = input_size;
    config.crop_pct = input_size >= 384 ? 1.0 : 0.9;
    config.mean = augreg ? kInceptionMean : kImagenetMean;
    config.stddev = augreg ? kInceptionStd : kImagenetStd;
    return config;
}

Tensor preprocess(const Image& image, const PreprocessConfig& config) {
    const int64_t S = config.input_size;
    if (S < 1 || S > kMaxImageSide)
        throw ShapeError(
            fmt::format("preprocess: input size {} must be in 1..{}", S, kMaxImageSide));
    if (!(config.crop_pct > 0.0) || !std::isfinite(config.crop_pct))
        throw ShapeError(fmt::format("preprocess: crop_pct {} must be positive", config.crop_pct));
    if (config.channels != 1 && config.channels != 3)
        throw ShapeError(
            fmt::format("preprocess: channels {} must be 1 (gray) or 3 (RGB)", config.channels));
    const auto C = static_cast<size_t>(config.channels);
    if (config.mean.size() != C || config.stddev.size() != C)
        throw ShapeError(fmt::format("preprocess: mean and std need {} values ({}), got {} and {}",
                                     C, C == 3 ? "R, G, B" : "gray", config.mean.size(),
                                     config.stddev.size()));

    Tensor x = C == 3 ? to_tensor(image) : to_gray_tensor(image);  // (C, H, W) in [0, 1]
    const int64_t H = image.height, W = image.width;
    if (H != S || W != S) {
        const double scaled = std::floor(static_cast<double>(S) / config.crop_pct);
        if (!(scaled >= 1.0) || scaled > static_cast<double>(kMaxImageSide))
            throw ShapeError(
                fmt::format("preprocess: crop_pct {} makes the resize target {} for "
                            "input size {}",
                            config.crop_pct, scaled, S));
        const auto [new_h, new_w] = resized_shorter_side(H, W, static_cast<int64_t>(scaled));
        if (new_h * new_w > kMaxImagePixels)
            throw ShapeError(
                fmt::format("preprocess: the {}x{} image is too elongated: with its "
                            "shorter side resized to {} it would be {}x{}",
                            W, H, static_cast<int64_t>(scaled), new_w, new_h));
        if (new_h != H || new_w != W) x = resize_bicubic(x, new_h, new_w, config.antialias);
        x = center_crop(x, S, S);  // (C, S, S)
    }
    return normalize(x, config.mean, config.stddev).unsqueeze(0).contiguous();  // (1, C, S, S)
}

}  // namespace vitlab
