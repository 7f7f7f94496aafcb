// fuzz_png_jpeg.cpp: libFuzzer target for decode_image: the format detection, the PNG and
// JPEG container checks and stb_image behind them (vision/png_jpeg.h), and PPM.
//
// ImageError is the expected answer to garbage; anything else is a bug.
#include <cstdint>
#include <cstdlib>

#include "vision/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace vitlab;
    try {
        const Image image = decode_image(data, size, "fuzz.img");
        if (image.width < 1 || image.height < 1 || image.channels < 1 || image.channels > 4 ||
            image.pixels.size() != size_t(image.width) * image.height * image.channels)
            std::abort();
        const Tensor x = to_tensor(image);
        if (x.shape() != Shape{3, image.height, image.width}) std::abort();
    } catch (const ImageError&) {
    }
    return 0;
}
