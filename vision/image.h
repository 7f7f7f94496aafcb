// image.h: an 8-bit picture as it comes out of a file, and how it becomes a tensor.
//
// Files store pixels as bytes, row after row, the channels of one pixel side by side: HWC
// order (height, width, channels), the layout of PPM, PNG and JPEG alike. A model wants floats
// channels-first, (3, H, W) like a torch image tensor: to_tensor() converts, as
// torchvision.transforms.ToTensor does.
//
// read_image() looks at the first bytes of a file (not its name) to choose a decoder:
//   "P2", "P3", "P5", "P6"  PGM/PPM, parsed by hand in ppm.cpp (read it first: it is the whole
//                           idea of an image file in 200 lines)
//   89 'P' 'N' 'G' ...      PNG  \  through the system's stb_image (png_jpeg.cpp), when the
//   FF D8 FF                JPEG /  build found <stb/stb_image.h>
// Every problem with a file throws ImageError naming the file and what is wrong.
// Read transforms.h next: resize, crop and normalise the tensor for the model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/errors.h"  // FileError: the `vit` command catches one type for all files
#include "tensor/tensor.h"

namespace vitlab {

// A file that is not a valid image: "photo.ppm: truncated PPM: ...".
struct ImageError : FileError {
    using FileError::FileError;
};

// 8-bit pixels in (H, W, C) order: pixel (y, x) channel c is pixels[(y * width + x) * channels +
// c]. channels: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
struct Image {
    int width = 0;
    int height = 0;
    int channels = 0;
    std::vector<uint8_t> pixels;

    uint8_t at(int y, int x, int c) const {
        return pixels[(static_cast<size_t>(y) * width + x) * channels + c];
    }
};

// Limits every reader enforces before allocating, so a 20-byte hostile header cannot ask for
// gigabytes. 64 Mpixels is larger than any photo a ViT will see.
constexpr int64_t kMaxImageSide = 32768;
constexpr int64_t kMaxImagePixels = int64_t(1) << 26;
constexpr size_t kMaxImageFileBytes = size_t(1) << 30;

// Throws ImageError unless 1 <= width, height <= kMaxImageSide and width * height <=
// kMaxImagePixels.
void check_image_size(const std::string& name, int64_t width, int64_t height);

// (3, H, W) floats in [0, 1], value / 255, like torchvision's ToTensor. Gray is repeated into
// R, G and B; alpha is dropped (not blended), as PIL's convert("RGB") does before timm sees it.
Tensor to_tensor(const Image& image);

// (1, H, W) floats in [0, 1] for a model of one channel (Fashion-MNIST's): gray images give
// channel 0; colour ones their luminance as PIL's convert("L") rounds it,
// L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 (ITU-R 601-2: 0.299 R + 0.587 G + 0.114 B).
Tensor to_gray_tensor(const Image& image);

// The whole file as bytes. Throws ImageError if it cannot be opened or read, or is larger than
// kMaxImageFileBytes.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// Decodes PPM/PGM, PNG or JPEG by content. `name` is only used in error messages.
Image decode_image(const uint8_t* data, size_t size, const std::string& name);
// read_file_bytes + decode_image.
Image read_image(const std::string& path);

// True when this build decodes PNG and JPEG (it found stb_image at compile time).
bool have_png_jpeg();

}  // namespace vitlab
