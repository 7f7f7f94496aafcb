// ppm.h: the Netpbm formats PGM and PPM, read and written with no library.
//
// A PPM file is a text header and the pixels, nothing else:
//   P6                 magic: P2 gray text, P3 RGB text, P5 gray binary, P6 RGB binary
//   # a comment        '#' to the end of the line, anywhere in the header
//   4 2                width height
//   255                maxval: the value that means full intensity (1 .. 65535)
//   <one whitespace byte, then width*height*channels samples>
// Text formats (P2, P3) write each sample as a decimal number; binary ones (P5, P6) use one
// byte per sample, or two big-endian bytes when maxval > 255. Samples are rescaled to 8 bits
// as round(value * 255 / maxval).
//
// The reader is strict: a bad magic, a missing or non-numeric header field, a zero or huge
// size, maxval 0 or > 65535, a sample above maxval, or too few samples throw ImageError naming
// the file and the problem. Bytes after the first image are ignored (Netpbm allows several
// images in one file).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vision/image.h"

namespace vitlab {

// True if data starts like a Netpbm file ("P" and a digit, or a lone "P"); decode_ppm says
// which ones it reads.
bool looks_like_ppm(const uint8_t* data, size_t size);

Image decode_ppm(const uint8_t* data, size_t size, const std::string& name);
Image read_ppm(const std::string& path);

// P6 for 3 channels, P5 for 1 channel, maxval 255. Other channel counts throw ImageError.
std::vector<uint8_t> encode_ppm(const Image& image);
void write_ppm(const std::string& path, const Image& image);

}  // namespace vitlab
