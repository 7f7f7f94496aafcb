// draw.h: turning maps of numbers into pictures: heat maps, upsampling, overlays, grids, mosaics.
//
// Everything a ViT explanation draws is a small 2-D map of floats: the class token's attention
// over the 24 x 24 patches, or one patch's position-embedding similarity with all others. To
// see it on the photo, the map is
//   1. upsampled to the image size, bilinearly (so 24 x 24 cells become smooth, not blocky),
//   2. coloured: each value, scaled to [0, 1] between the map's min and max, picks a colour on
//      a dark-blue -> green -> yellow ramp (like matplotlib's viridis: brightness grows with
//      the value, so it also reads in gray),
//   3. blended over the image: out = (1 - alpha) * image + alpha * colour.
// patch_grid() draws the lines between patches, mosaic() lays many small maps out as one picture
// (the ViT paper's Figure 7). Images are vision/image.h's 8-bit HWC Image; write them with
// vision/png_write.h.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"
#include "vision/image.h"

namespace vitlab {

using Rgb = std::array<uint8_t, 3>;

// (3, H, W) floats in [0, 1] -> 3-channel Image, round(255 * clamp(x, 0, 1)): the inverse of
// to_tensor(). A model input normalised with mean/std is first mapped back with
// unnormalize(). Anything but (3, H, W) throws ShapeError.
Image to_image(const Tensor& chw);
// x * stddev[c] + mean[c] per channel of x (..., C, H, W): the inverse of normalize().
Tensor unnormalize(const Tensor& x, const std::vector<float>& mean,
                   const std::vector<float>& stddev);

// (H, W) -> (out_h, out_w), torch.nn.functional.interpolate(mode="bilinear",
// align_corners=False): output pixel centre (y + 0.5) * H / out_h - 0.5 in input coordinates,
// clamped to the edge, weighted between its 2 x 2 nearest inputs.
Tensor upsample_bilinear(const Tensor& map, int64_t out_h, int64_t out_w);

// The colour of t in [0, 1] (clamped) on the ramp.
Rgb colormap(float t);
// (H, W) -> an H x W RGB picture: value v gets colormap((v - lo) / (hi - lo)) with lo, hi the
// map's min and max (a constant map is drawn at the ramp's middle).
Image heatmap(const Tensor& map);

// (1 - alpha) * base + alpha * top, pixel by pixel; both RGB and the same size (else
// ShapeError naming both sizes).
Image overlay(const Image& base, const Image& top, float alpha);

// Draws a line every `cell` pixels, across and down, in colour: the patch boundaries when
// cell = patch_size. The outer border is drawn too.
void patch_grid(Image& image, int cell, Rgb colour);

// Tiles of one size, `cols` per row, `gap` pixels of background between them and around.
// Throws ShapeError for an empty list or tiles of different sizes.
Image mosaic(const std::vector<Image>& tiles, int cols, int gap, Rgb background);

// Nearest-neighbour enlargement by an integer factor (each pixel becomes factor x factor):
// for tiny maps, where smoothing would hide the cells.
Image scale_nearest(const Image& image, int factor);

}  // namespace vitlab
