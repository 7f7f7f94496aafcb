// png_write.h: writing PNG files through the system's stb_image_write.
//
// PNG is what every browser and README shows, and it is lossless: a heat map comes back exactly
// as written. Like the reader (png_jpeg.h), the encoder is not written by hand here: it is
// stb_image_write, the single header Debian ships in libstb-dev (<stb/stb_image_write.h>;
// Homebrew's `stb` puts it at <stb_image_write.h>). png_write.cpp compiles its implementation
// itself. Without the header the build still works; writing a PNG then throws an ImageError
// saying how to install it (and write_ppm() in ppm.h always works).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vision/image.h"

namespace vitlab {

// True when this build can write PNG (it found stb_image_write at compile time).
bool have_png_write();

// The PNG file's bytes for an image of 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels.
// Throws ImageError for another channel count, an empty image, a pixel buffer of the wrong
// size, or a build without stb_image_write.
std::vector<uint8_t> encode_png(const Image& image);
// encode_png, then the bytes to path as tensor/io/output_file.h writes files: whole or not at
// all, never over a device, FIFO or directory, never over one of `inputs`; a symbolic link is
// followed. ImageError names the path when it cannot be written.
void write_png(const std::string& path, const Image& image,
               const std::vector<std::string>& inputs = {});

}  // namespace vitlab
