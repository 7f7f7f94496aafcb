// fuzz_ppm.cpp: libFuzzer target for the hand-written PGM/PPM reader (vision/ppm.h).
//
// ImageError is the expected answer to garbage; anything else (another exception, a crash,
// undefined behaviour, a read past the buffer) is a bug. A decoded image also goes through
// to_tensor and the model's preprocessing at a small size, as `vit classify` would use it.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "vision/image.h"
#include "vision/ppm.h"
#include "vision/transforms.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace vitlab;
    try {
        const Image image = decode_ppm(data, size, "fuzz.ppm");
        if (image.pixels.size() != size_t(image.width) * image.height * image.channels)
            std::abort();
        PreprocessConfig config;
        config.input_size = 8;
        const Tensor x = preprocess(image, config);
        if (x.shape() != Shape{1, 3, 8, 8}) std::abort();
    } catch (const ImageError&) {
    } catch (const ShapeError& e) {
        // preprocess refuses an image so elongated that resizing it would be too large; any
        // other ShapeError is a bug.
        if (std::string(e.what()).find("too elongated") == std::string::npos) throw;
    }
    return 0;
}
