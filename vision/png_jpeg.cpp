// png_jpeg.cpp: container checks for PNG and JPEG, then stb_image to decode the pixels.
//
// The stb part is compiled only when the header exists (VITLAB_HAVE_STB); everything else is
// plain C++ and always built.
#include "vision/png_jpeg.h"

#include <fmt/format.h>

#include <array>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

// -DVITLAB_NO_STB builds without it even when present (to test the message, or by choice).
#if defined(__has_include) && !defined(VITLAB_NO_STB)
#if __has_include(<stb/stb_image.h>)
#define VITLAB_HAVE_STB 1
#define VITLAB_STB_HEADER <stb/stb_image.h>
#elif __has_include(<stb_image.h>)
#define VITLAB_HAVE_STB 1
#define VITLAB_STB_HEADER <stb_image.h>
#endif
#endif

#ifdef VITLAB_HAVE_STB
// stb's implementation, compiled here as private (static) functions: PNG and JPEG only (less
// code that reads hostile bytes), from memory only, and no side longer than our limit.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_NO_STDIO
#define STBI_MAX_DIMENSIONS 32768
// stb does not initialise its JPEG component buffers: a damaged file that never fills one (a
// component with no scan) would hand back whatever the heap held. Zeroed allocations make
// such output deterministic black instead of leaked memory.
#define STBI_MALLOC(size) std::calloc(1, size)
#define STBI_REALLOC(p, size) std::realloc(p, size)
#define STBI_FREE(p) std::free(p)
#define VITLAB_STB_INCLUDE VITLAB_STB_HEADER  // with its warnings silenced
#include "vision/stb_include.h"
static_assert(STBI_MAX_DIMENSIONS == vitlab::kMaxImageSide, "keep stb's limit equal to ours");
#endif

namespace vitlab {

namespace {

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
constexpr uint8_t kJpegSignature[3] = {0xFF, 0xD8, 0xFF};

uint32_t be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

[[noreturn]] void fail(const std::string& name, const std::string& what) {
    throw ImageError(fmt::format("{}: {}", name, what));
}

// A chunk type for messages: four letters in a valid file, '?' for other bytes.
std::string chunk_name(const uint8_t* p) {
    std::string s;
    for (int i = 0; i < 4; ++i) {
        const bool letter = (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z');
        s += letter ? static_cast<char>(p[i]) : '?';
    }
    return s;
}

}  // namespace

namespace detail {

uint32_t crc32(const uint8_t* data, size_t size) {
    // The CRC of every byte value, tabulated once; then per byte:
    //   crc = table[(crc ^ byte) & 0xff] ^ (crc >> 8)
    static const std::array<uint32_t, 256> table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t n = 0; n < 256; ++n) {
            uint32_t c = n;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }();
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

// PNG = signature, then chunks [length u32 BE][type 4 bytes][data][CRC-32 of type + data]
// until the IEND chunk. Bytes after IEND are ignored.
void check_png_container(const uint8_t* data, size_t size, const std::string& name) {
    if (size < 8 || std::memcmp(data, kPngSignature, 8) != 0)
        fail(name, size < 8 ? "truncated PNG: the file ends inside the signature"
                            : "not a PNG file: bad signature");
    size_t pos = 8;
    for (;;) {
        if (size - pos < 12)
            fail(name, fmt::format("truncated PNG: the file ends at byte {} before the IEND "
                                   "chunk",
                                   size));
        const uint32_t length = be32(data + pos);
        const std::string type = chunk_name(data + pos + 4);
        if (length > 0x7FFFFFFFu)
            fail(name,
                 fmt::format("corrupt PNG: chunk {} at byte {} has length {}", type, pos, length));
        if (size - pos - 12 < length)
            fail(name, fmt::format("truncated PNG: chunk {} at byte {} needs {} bytes, the file "
                                   "has {}",
                                   type, pos, size_t(length) + 12, size - pos));
        const uint32_t stored = be32(data + pos + 8 + length);
        if (crc32(data + pos + 4, size_t(length) + 4) != stored)
            fail(name, fmt::format("corrupt PNG: CRC mismatch in chunk {} at byte {}", type, pos));
        if (std::memcmp(data + pos + 4, "IEND", 4) == 0) return;
        pos += size_t(length) + 12;
    }
}

// A DHT segment's payload: tables of [class << 4 | id][16 code counts][sum(counts) symbols].
// A JPEG Huffman code has at most 256 symbols (stb's table holds 256 + 1).
static void check_huffman_tables(const uint8_t* p, size_t size, size_t at,
                                 const std::string& name) {
    size_t pos = 0;
    while (pos < size) {
        if (size - pos < 17 || (p[pos] >> 4) > 1 || (p[pos] & 15) > 3)
            fail(name,
                 fmt::format("corrupt JPEG: bad Huffman table in segment FF C4 at byte {}", at));
        size_t codes = 0;
        for (int i = 1; i <= 16; ++i) codes += p[pos + i];
        if (codes > 256 || size - pos - 17 < codes)
            fail(name, fmt::format("corrupt JPEG: Huffman table in segment FF C4 at byte {} has {} "
                                   "codes (at most 256, and {} bytes left)",
                                   at, codes, size - pos - 17));
        pos += 17 + codes;
    }
}

// JPEG = markers FF xx. Most carry a segment [length u16 BE, counting itself][payload]; after
// SOS (FF DA) come entropy-coded bytes, in which FF is written as FF 00 and RSTn markers may
// appear, until the next real marker. The file ends with EOI (FF D9).
void check_jpeg_container(const uint8_t* data, size_t size, const std::string& name) {
    if (size < 3 || std::memcmp(data, kJpegSignature, 3) != 0)
        fail(name, size < 3 ? "truncated JPEG: the file ends inside the signature"
                            : "not a JPEG file: bad signature");
    const std::string truncated = "truncated JPEG: the file ends before the end-of-image marker";
    bool frame = false, scan = false;  // seen a frame header (SOFn) / a start of scan (SOS)
    size_t pos = 2;
    for (;;) {
        if (pos >= size) fail(name, truncated);
        if (data[pos] != 0xFF)
            fail(name, fmt::format("corrupt JPEG: expected a marker at byte {}, found 0x{:02x}",
                                   pos, data[pos]));
        while (pos < size && data[pos] == 0xFF) ++pos;  // FF fill bytes may precede a marker
        if (pos >= size) fail(name, truncated);
        const uint8_t marker = data[pos++];
        if (marker == 0xD9) {  // EOI
            if (!frame || !scan)
                fail(name, fmt::format("corrupt JPEG: no {} before the end-of-image marker",
                                       frame ? "image data (SOS)" : "frame header (SOF)"));
            return;
        }
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no payload
        if (marker == 0x00 || marker == 0xD8)
            fail(name, fmt::format("corrupt JPEG: unexpected marker FF {:02X} at byte {}", marker,
                                   pos - 2));
        if (size - pos < 2) fail(name, truncated);
        const size_t length = (size_t(data[pos]) << 8) | data[pos + 1];
        if (length < 2)
            fail(name, fmt::format("corrupt JPEG: segment FF {:02X} at byte {} has length {}",
                                   marker, pos - 2, length));
        if (size - pos < length)
            fail(name, fmt::format("truncated JPEG: segment FF {:02X} at byte {} needs {} bytes, "
                                   "the file has {}",
                                   marker, pos - 2, length + 2, size - pos + 2));
        if (marker == 0xC4) check_huffman_tables(data + pos + 2, length - 2, pos - 2, name);
        pos += length;
        // SOF0..SOF15 are C0..CF except C4 (DHT), C8 (reserved) and CC (DAC).
        if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC)
            frame = true;
        if (marker != 0xDA) continue;
        scan = true;
        // Entropy-coded data: stop at an FF that starts a real marker.
        for (;; ++pos) {
            if (pos + 1 >= size) fail(name, truncated);
            if (data[pos] != 0xFF) continue;
            const uint8_t next = data[pos + 1];
            if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
                ++pos;  // stuffed FF or restart marker: still inside the scan
                continue;
            }
            break;
        }
    }
}

}  // namespace detail

namespace {

// The PNG without its zero-length IDAT chunks, or an empty vector if it has none. They carry no
// data, but stb 2.27 copies 0 bytes into a null buffer for a leading one (undefined behaviour
// that `make sanitize` stops on). Call after check_png_container.
std::vector<uint8_t> without_empty_idat(const uint8_t* data, size_t size) {
    std::vector<uint8_t> out(data, data + 8);
    bool dropped = false;
    for (size_t pos = 8; pos + 12 <= size;) {
        const size_t end = pos + 12 + be32(data + pos);
        const bool iend = std::memcmp(data + pos + 4, "IEND", 4) == 0;
        if (be32(data + pos) == 0 && std::memcmp(data + pos + 4, "IDAT", 4) == 0)
            dropped = true;
        else
            out.insert(out.end(), data + pos, data + end);
        if (iend) break;
        pos = end;
    }
    return dropped ? out : std::vector<uint8_t>{};
}

#ifdef VITLAB_HAVE_STB

// stb_image on bytes that passed the container checks.
Image stb_decode(const uint8_t* data, size_t size, const std::string& name) {
    const char* kind = size > 0 && data[0] == 0x89 ? "PNG" : "JPEG";
    if (size > static_cast<size_t>(INT_MAX)) fail(name, "file too large for stb_image");
    const int len = static_cast<int>(size);
    // The header first: refuse oversized images before stb allocates anything for them. When
    // stbi_info fails, its reason is only "unknown image type"; stbi_load, which stops at the
    // same bad header, says what is wrong, so let it report.
    int width = 0, height = 0, channels = 0;
    if (stbi_info_from_memory(data, len, &width, &height, &channels))
        check_image_size(name, width, height);
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
        stbi_load_from_memory(data, len, &width, &height, &channels, 0), stbi_image_free);
    if (!pixels) fail(name, fmt::format("cannot decode {}: {}", kind, stbi_failure_reason()));
    check_image_size(name, width, height);
    if (channels < 1 || channels > 4)
        fail(name, fmt::format("cannot decode {}: {} channels", kind, channels));
    Image image;
    image.width = width;
    image.height = height;
    image.channels = channels;
    image.pixels.assign(pixels.get(), pixels.get() + size_t(width) * height * channels);
    return image;
}

#else

Image stb_decode(const uint8_t* data, size_t size, const std::string& name) {
    const char* kind = size > 0 && data[0] == 0x89 ? "PNG" : "JPEG";
    fail(name,
         fmt::format("this is a {} file, but vitlab was built without stb_image, its PNG/JPEG "
                     "decoder. "
                     "Install it (Debian/Ubuntu: sudo apt-get install libstb-dev; macOS: brew "
                     "install stb) and rebuild, or convert the image to PPM (e.g. ImageMagick: "
                     "convert {} image.ppm)",
                     kind, name));
}

#endif

}  // namespace

bool have_png_jpeg() {
#ifdef VITLAB_HAVE_STB
    return true;
#else
    return false;
#endif
}

Image decode_png_jpeg(const uint8_t* data, size_t size, const std::string& name) {
    if (size == 0) fail(name, "empty file");
    // Which one it claims to be: the first byte of a signature, and every byte the file has of it.
    const bool png = data[0] == kPngSignature[0];
    const uint8_t* signature = png ? kPngSignature : kJpegSignature;
    const size_t signature_size = png ? sizeof(kPngSignature) : sizeof(kJpegSignature);
    for (size_t i = 0; i < signature_size && i < size; ++i) {
        if (data[i] != signature[i]) {
            std::string first;
            for (size_t k = 0; k < size && k < 8; ++k) first += fmt::format(" {:02x}", data[k]);
            fail(name, fmt::format("unknown image format (first bytes{}); vitlab reads PPM/PGM "
                                   "(P2, P3, P5, P6), PNG and JPEG",
                                   first));
        }
    }
    if (!have_png_jpeg()) return stb_decode(data, size, name);  // throws: how to install
    if (!png) {
        detail::check_jpeg_container(data, size, name);
        return stb_decode(data, size, name);
    }
    detail::check_png_container(data, size, name);
    const std::vector<uint8_t> cleaned = without_empty_idat(data, size);
    return cleaned.empty() ? stb_decode(data, size, name)
                           : stb_decode(cleaned.data(), cleaned.size(), name);
}

}  // namespace vitlab
