// png_write.cpp: PNG encoding by stb_image_write, compiled here when the header exists.
#include "vision/png_write.h"

#include <fmt/format.h>

#include "tensor/errors.h"
#include "tensor/io/output_file.h"

// -DVITLAB_NO_STB builds without it even when present, as for the reader in png_jpeg.cpp.
#if defined(__has_include) && !defined(VITLAB_NO_STB)
#if __has_include(<stb/stb_image_write.h>)
#define VITLAB_HAVE_STB_WRITE 1
#define VITLAB_STB_WRITE_HEADER <stb/stb_image_write.h>
#elif __has_include(<stb_image_write.h>)
#define VITLAB_HAVE_STB_WRITE 1
#define VITLAB_STB_WRITE_HEADER <stb_image_write.h>
#endif
#endif

#ifdef VITLAB_HAVE_STB_WRITE
// stb's implementation as private (static) functions, to memory only (we write the file).
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#define VITLAB_STB_INCLUDE VITLAB_STB_WRITE_HEADER  // with its warnings silenced
#include "vision/stb_include.h"
#endif

namespace vitlab {

bool have_png_write() {
#ifdef VITLAB_HAVE_STB_WRITE
    return true;
#else
    return false;
#endif
}

#ifdef VITLAB_HAVE_STB_WRITE
// stb hands the encoded bytes to a callback, possibly in several pieces.
static void append_bytes(void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* bytes = static_cast<const uint8_t*>(data);
    out->insert(out->end(), bytes, bytes + size);
}
#endif

std::vector<uint8_t> encode_png(const Image& image) {
    if (image.channels < 1 || image.channels > 4)
        throw ImageError(fmt::format("encode_png: {} channels; PNG holds 1 to 4", image.channels));
    check_image_size("encode_png", image.width, image.height);
    const size_t expected = static_cast<size_t>(image.width) * image.height * image.channels;
    if (image.pixels.size() != expected)
        throw ImageError(fmt::format("encode_png: {}x{}x{} image holds {} bytes, expected {}",
                                     image.width, image.height, image.channels, image.pixels.size(),
                                     expected));
#ifdef VITLAB_HAVE_STB_WRITE
    std::vector<uint8_t> out;
    const int ok =
        stbi_write_png_to_func(append_bytes, &out, image.width, image.height, image.channels,
                               image.pixels.data(), image.width * image.channels);
    if (!ok || out.empty()) throw ImageError("encode_png: stb_image_write failed");
    return out;
#else
    throw ImageError(
        "encode_png: this build has no PNG writer (stb_image_write.h was not found); install "
        "it (Debian/Ubuntu: apt-get install libstb-dev; macOS: brew install stb) and rebuild, "
        "or write PPM with write_ppm()");
#endif
}

void write_png(const std::string& path, const Image& image,
               const std::vector<std::string>& inputs) {
    const std::vector<uint8_t> bytes = encode_png(image);
    try {
        // Written whole or not at all; every write, the fsync and the close are checked (a full
        // disk used to leave a 0-byte picture behind and report success).
        OutputFile file(path, inputs, "");
        file.write(bytes.data(), bytes.size());
        file.commit();
    } catch (const FileError& e) {
        throw ImageError(e.what());
    }
}

}  // namespace vitlab
