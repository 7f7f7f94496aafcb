// png_jpeg.h: PNG and JPEG through the system's stb_image, found at build time.
//
// Compressed formats are not worth writing by hand here, so vitlab uses stb_image, the
// single-header decoder that Debian ships as libstb-dev (<stb/stb_image.h>; Homebrew's `stb`
// puts it at <stb_image.h>). png_jpeg.cpp compiles stb's implementation itself, limited to PNG
// and JPEG, so no -l flag is needed. Without the header the build still works and decoding a
// PNG or JPEG throws an ImageError that says how to install it or convert the image to PPM.
//
// Before stb sees the bytes, the container is walked by hand: a PNG must hold whole chunks
// with correct CRC-32s up to IEND, a JPEG whole marker segments up to the end-of-image marker,
// a frame header and a scan. stb itself tolerates a missing end (it pads with zeros and
// returns half an image); we want a truncated file to be an error. The walk also guards stb:
// the version in Debian 12 (2.27) writes past a 257-byte table when a JPEG Huffman table
// declares more than 256 codes, so such tables are refused here; empty IDAT chunks are dropped
// (stb 2.27 copies them into a null pointer), and stb allocates zeroed memory (so a damaged
// JPEG that never fills a colour plane gives black, not stale heap bytes).
#pragma once

#include <cstdint>
#include <string>

#include "vision/image.h"

namespace vitlab {

// data starts with 0x89 (PNG) or 0xFF (JPEG); anything else throws ImageError.
Image decode_png_jpeg(const uint8_t* data, size_t size, const std::string& name);

namespace detail {

// The container checks alone; they throw ImageError naming the file and the offset.
// (stb is only ever called after them: there is deliberately no way to call it without.)
void check_png_container(const uint8_t* data, size_t size, const std::string& name);
void check_jpeg_container(const uint8_t* data, size_t size, const std::string& name);
// The CRC-32 of PNG chunks (and zlib, gzip): polynomial 0xEDB88320, reflected.
uint32_t crc32(const uint8_t* data, size_t size);

}  // namespace detail
}  // namespace vitlab
