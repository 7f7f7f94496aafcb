// transforms.h: turning a photo into the tensor a ViT was trained on, as timm does at eval.
//
//   Image (H, W)  --to_tensor-->  (3, H, W) in [0, 1]
//     --resize, bicubic: shorter side = floor(S / crop_pct)-->  (3, H', W')
//     --center crop-->  (3, S, S)  --(x - mean) / std-->  unsqueeze(0): (1, 3, S, S)
//
// S is the model's input size. timm builds these steps from a checkpoint's pretrained config
// (transforms_imagenet_eval): vit_base_patch16_384.augreg_in21k_ft_in1k has S = 384,
// crop_pct 1.0, bicubic, mean = std = (0.5, 0.5, 0.5); its 224-pixel ViTs use crop_pct 0.9, so
// a photo is resized to 248 and the central 224 kept. An image already S x S is used as it is.
//
// Which bicubic. resize_bicubic(x, h, w, antialias=true) computes exactly
//   torch.nn.functional.interpolate(x, (h, w), mode="bicubic", align_corners=False,
//                                   antialias=True)
// (what torchvision's F.resize does to a float tensor with antialias=True). Its filter is
// PIL's: Keys' cubic with a = -0.5, stretched by the scale factor when shrinking so that every
// input pixel contributes (without that, shrinking by 4 would read 4 of every 16 pixels and
// alias). timm itself resizes 8-bit PIL images, which rounds the result to whole levels of 255
// and clips it; we keep floats, so the two differ by about one level (tests measure it).
// antialias=false is torch's plain bicubic: a = -0.75 and always 4 taps per axis.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "tensor/tensor.h"
#include "vision/image.h"

namespace vitlab {

// ---- resize ----------------------------------------------------------------------------------
// (..., H, W) -> (..., out_h, out_w), every leading dim (channels, batch) resized alike.
// Separable: one 1-d pass along W, then one along H.
Tensor resize_bicubic(const Tensor& x, int64_t out_h, int64_t out_w, bool antialias = true);
// The same numbers from the definition: every output pixel sums weight_y * weight_x * input
// over its 2-d window. Slower (taps^2 per pixel instead of 2 * taps); the reference in tests.
Tensor resize_bicubic_naive(const Tensor& x, int64_t out_h, int64_t out_w, bool antialias = true);

// torchvision's Resize(size) with one int: the shorter side becomes `size` and the longer one
// int(size * long / short). Returns (new_h, new_w).
std::pair<int64_t, int64_t> resized_shorter_side(int64_t h, int64_t w, int64_t size);

// ---- crop, normalise -------------------------------------------------------------------------
// torchvision's center_crop: (..., H, W) -> (..., out_h, out_w). The top-left corner is
// (round((H - out_h) / 2), round((W - out_w) / 2)), rounding halves to even like Python. A view
// when the crop fits; a crop larger than the image is zero-padded first (a new tensor).
Tensor center_crop(const Tensor& x, int64_t out_h, int64_t out_w);

// (x - mean[c]) / stddev[c] for each channel c of x (..., C, H, W), like torchvision's Normalize.
Tensor normalize(const Tensor& x, const std::vector<float>& mean, const std::vector<float>& stddev);

inline const std::vector<float> kImagenetMean = {0.485f, 0.456f, 0.406f};
inline const std::vector<float> kImagenetStd = {0.229f, 0.224f, 0.225f};
// timm's IMAGENET_INCEPTION_MEAN/STD, used by Google's ViT (augreg) checkpoints: x in [-1, 1].
inline const std::vector<float> kInceptionMean = {0.5f, 0.5f, 0.5f};
inline const std::vector<float> kInceptionStd = {0.5f, 0.5f, 0.5f};

// ---- the whole pipeline ----------------------------------------------------------------------
struct PreprocessConfig {
    int64_t input_size = 224;  // S: the model sees S x S
    double crop_pct = 0.9;     // the shorter side is resized to floor(S / crop_pct)
    std::vector<float> mean = kImagenetMean;
    std::vector<float> stddev = kImagenetStd;
    bool antialias = true;
    // 3: RGB (gray repeated); 1: gray (colour images by luminance, to_gray_tensor). mean and
    // stddev hold one value per channel.
    int64_t channels = 3;
};

// timm's eval settings for its ViT checkpoints: crop_pct 0.9 below 384 pixels, 1.0 at 384 and
// above; mean/std 0.5 for the augreg (Google) checkpoints, ImageNet's otherwise.
PreprocessConfig vit_preprocess_config(int64_t input_size, bool augreg);

// Image -> (1, channels, S, S), ready for the model. Throws ShapeError ("preprocess: ...") for a
// bad config or an image so elongated that resizing its shorter side would exceed kMaxImagePixels.
Tensor preprocess(const Image& image, const PreprocessConfig& config);

}  // namespace vitlab
