// test_image_io.cpp: reading images (vision/image.h, ppm.h, png_jpeg.h) and class names
// (vision/labels.h). PNG and JPEG pixels are compared with what PIL decodes from the same files
// (tools/fixtures/preprocess.py); every truncation and bit flip of a small file must be an
// ImageError, never a crash.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fixture.h"
#include "vision/image.h"
#include "vision/labels.h"
#include "vision/png_jpeg.h"
#include "vision/ppm.h"

using namespace vitlab;

// Measured numbers (differences from PIL / torch) are printed with VITLAB_VERBOSE=1.
#define REPORT(...)                                              \
    do {                                                         \
        if (std::getenv("VITLAB_VERBOSE")) MESSAGE(__VA_ARGS__); \
    } while (0)

using vitlab::testing::fixture;
using vitlab::testing::fixture_path;

namespace {

std::vector<uint8_t> bytes_of(const std::string& text) {
    return std::vector<uint8_t>(text.begin(), text.end());
}

Image decode(const std::vector<uint8_t>& bytes, const std::string& name = "test.ppm") {
    return decode_image(bytes.data(), bytes.size(), name);
}
Image decode(const std::string& text, const std::string& name = "test.ppm") {
    return decode(bytes_of(text), name);
}

std::vector<uint8_t> file_bytes(const std::string& image) {
    return read_file_bytes(fixture_path("images/" + image));
}

// The image's bytes as an (H, W, C) float tensor, to compare with the fixtures.
Tensor pixels_of(const Image& im) {
    std::vector<float> v(im.pixels.begin(), im.pixels.end());
    return from_vector(v, {im.height, im.width, im.channels});
}

std::string temp_path(const std::string& name) {
    return std::string(P_tmpdir) + "/vitlab_test_" + std::to_string(::getpid()) + "_" + name;
}

}  // namespace

// ---- PPM / PGM -------------------------------------------------------------------------------

TEST_CASE("ppm: P3 text with comments gives RGB bytes in HWC order") {
    const Image im = decode("P3\n# made by hand\n2 1 # width height\n255\n255 0 7   0 128 255\n");
    CHECK(im.width == 2);
    CHECK(im.height == 1);
    CHECK(im.channels == 3);
    CHECK(im.pixels == std::vector<uint8_t>{255, 0, 7, 0, 128, 255});
}

TEST_CASE("ppm: P2 and P5 are one-channel gray") {
    const Image text = decode("P2 3 2 255 0 1 2 3 4 255");
    CHECK(text.channels == 1);
    CHECK(text.pixels == std::vector<uint8_t>{0, 1, 2, 3, 4, 255});
    std::vector<uint8_t> bin = bytes_of("P5 3 1 255\n");
    bin.insert(bin.end(), {9, 200, 0});
    const Image b = decode(bin);
    CHECK(b.width == 3);
    CHECK(b.height == 1);
    CHECK(b.channels == 1);
    CHECK(b.pixels == std::vector<uint8_t>{9, 200, 0});
}

TEST_CASE("ppm: maxval other than 255 is rescaled with rounding") {
    CHECK(decode("P2 4 1 3\n0 1 2 3").pixels == std::vector<uint8_t>{0, 85, 170, 255});
    // 500 / 1000 * 255 = 127.5 rounds up; 2 / 1000 * 255 = 0.51 rounds to 1.
    CHECK(decode("P2 3 1 1000\n500 2 1000").pixels == std::vector<uint8_t>{128, 1, 255});
}

TEST_CASE("ppm: 16-bit binary samples are big-endian") {
    std::vector<uint8_t> bin = bytes_of("P5 3 1 65535\n");
    bin.insert(bin.end(), {0x00, 0x00, 0xFF, 0xFF, 0x80, 0x00});
    // 0x8000 = 32768 -> 32768 * 255 / 65535 = 127.502 -> 128
    CHECK(decode(bin).pixels == std::vector<uint8_t>{0, 255, 128});
}

TEST_CASE(
    "ppm: after maxval exactly one whitespace byte; pixel bytes that look like spaces are data") {
    std::vector<uint8_t> bin = bytes_of("P5 2 1 255\n");
    bin.insert(bin.end(), {'\n', ' '});
    CHECK(decode(bin).pixels == std::vector<uint8_t>{10, 32});
    // A comment right after maxval ends with its newline, which is the separator.
    std::vector<uint8_t> commented = bytes_of("P5 2 1 255# note\n");
    commented.insert(commented.end(), {'\t', '#'});
    CHECK(decode(commented).pixels == std::vector<uint8_t>{9, 35});
}

TEST_CASE("ppm: bytes after the first image are ignored") {
    std::vector<uint8_t> bin = bytes_of("P6 1 1 255\n");
    bin.insert(bin.end(), {1, 2, 3, 'P', '6', '\n'});
    CHECK(decode(bin).pixels == std::vector<uint8_t>{1, 2, 3});
}

TEST_CASE("ppm: the P6 file written by PIL decodes to PIL's pixels") {
    const auto f = fixture("image_io");
    const Image im = read_image(fixture_path("images/rgb.ppm"));
    CHECK(im.width == 23);
    CHECK(im.height == 17);
    testing::check_close(pixels_of(im), f["rgb_ppm.pixels"], 0.0f, 0.0f);
}

TEST_CASE("ppm: every kind of malformed file is an ImageError naming the file and the problem") {
    auto fails_with = [](const std::string& text, const std::string& message) {
        CAPTURE(text);
        CHECK_THROWS_WITH_AS(decode(text), doctest::Contains(message.c_str()), ImageError);
        CHECK_THROWS_WITH_AS(decode(text), doctest::Contains("test.ppm: "), ImageError);
    };
    fails_with("", "test.ppm: empty file");
    fails_with("P", "truncated PPM/PGM: the file ends inside the magic number");
    fails_with("P9 1 1 255\n", "not a PPM/PGM file: bad magic 'P' '9'; expected P2, P3, P5 or P6");
    fails_with("P7\nWIDTH 1\n", "PAM files (P7) are not supported");
    fails_with("P1 1 1 0", "PBM bitmaps (P1) are not supported");
    fails_with("P4 1 1", "PBM bitmaps (P4) are not supported");
    fails_with("P6x 1 1 255", "magic P6 is followed by 'x', not whitespace");
    fails_with("P6 0 5 255\n", "bad image size 0x5");
    fails_with("P6 5 0 255\n", "bad image size 5x0");
    fails_with("P6 40000 2 255\n",
               "image size 40000x2 is too large: each side must be at most 32768");
    fails_with("P5 32768 32768 255\n", "1073741824 pixels, the limit is 67108864");
    fails_with("P6 99999999999999 1 255\n", "the width at byte 3 is too large");
    fails_with("P6 4 x 255\n", "bad PPM: expected the height (a number) at byte 5, found 'x'");
    fails_with("P6 4 2x 255\n", "expected the height (a number) at byte 5, found 'x' inside it");
    fails_with("P6 -4 2 255\n", "expected the width (a number) at byte 3, found '-'");
    fails_with("P5 4 2 1.5\n",
               "bad PGM: expected maxval (a number) at byte 7, found '.' inside it");
    fails_with("P6 4 2 0\n", "bad PPM: maxval is 0 (must be 1 to 65535)");
    fails_with("P6 4 2 70000\n", "maxval at byte 7 is too large (the largest maxval is 65535)");
    fails_with("P6 4 2", "truncated PPM: the file ends before maxval");
    fails_with("P6 # only a comment", "truncated PPM: the file ends before the width");
    fails_with("P6 1 1 255", "truncated PPM: the file ends right after the header");
    fails_with(
        "P6 4 2 255\nabcdefg",
        "truncated PPM: pixel data needs 24 bytes after the header (byte 11), the file has 7");
    fails_with("P5 2 1 65535\n\x01\x02\x03", "truncated PGM: pixel data needs 4 bytes");
    fails_with("P5 2 1 255# comment", "truncated PGM: the file ends inside a comment");
    fails_with("P2 2 2 255\n1 2 3",
               "truncated PGM: 4 samples need at least 8 more bytes, the file has 6");
    fails_with("P2 2 2 255\n1 2 3   # the last one is missing\n",
               "truncated PGM: the file ends after 3 of 4 samples");
    fails_with("P3 1 1 255\n1 2 a", "bad PPM: expected sample 2 (a number) at byte 15, found 'a'");
    fails_with("P2 2 1 255\n7 300", "bad PGM data: sample 1 is 300, above maxval 255");
    fails_with("P5 2 1 100\n\x05\xc8", "bad PGM data: sample 1 is 200, above maxval 100");
}

TEST_CASE("ppm: write_ppm and read_ppm round-trip RGB (P6) and gray (P5)") {
    Image rgb{3, 2, 3, {}};
    for (int i = 0; i < 18; ++i) rgb.pixels.push_back(static_cast<uint8_t>(i * 14 + 1));
    Image gray{2, 3, 1, {0, 10, 20, 255, 128, 7}};
    for (const Image* im : {&rgb, &gray}) {
        const std::string path = temp_path("roundtrip.ppm");
        write_ppm(path, *im);
        const Image back = read_ppm(path);
        std::remove(path.c_str());
        CHECK(back.width == im->width);
        CHECK(back.height == im->height);
        CHECK(back.channels == im->channels);
        CHECK(back.pixels == im->pixels);
    }
    const auto header = encode_ppm(rgb);
    CHECK(std::string(header.begin(), header.begin() + 11) == "P6\n3 2\n255\n");
}

TEST_CASE("ppm: encode_ppm refuses what PPM cannot hold") {
    CHECK_THROWS_WITH_AS(encode_ppm(Image{1, 1, 4, {1, 2, 3, 4}}),
                         doctest::Contains("PPM/PGM hold 1 or 3 channels, the image has 4"),
                         ImageError);
    CHECK_THROWS_WITH_AS(encode_ppm(Image{2, 2, 3, {1, 2, 3}}),
                         doctest::Contains("a 2x2x3 image needs 12 bytes, it has 3"), ImageError);
}

// ---- files and format detection -------------------------------------------------------------

TEST_CASE("read_image: a missing file or a directory is an error naming the path") {
    CHECK_THROWS_WITH_AS(read_image("/nonexistent/cat.ppm"),
                         doctest::Contains("/nonexistent/cat.ppm: cannot open: No such file"),
                         ImageError);
    CHECK_THROWS_WITH_AS(read_image(fixture_path("images")),
                         doctest::Contains("images: is a directory, not a file"), ImageError);
}

TEST_CASE("decode_image: the decoder is chosen by content, not by the file name") {
    const Image from_ppm = decode(file_bytes("rgb.ppm"), "misnamed.png");
    CHECK(from_ppm.width == 23);
    if (have_png_jpeg()) {
        const Image from_png = decode(file_bytes("rgb.png"), "misnamed.ppm");
        CHECK(from_png.pixels == from_ppm.pixels);
    }
}

TEST_CASE("decode_image: other formats are named, unknown bytes shown") {
    CHECK_THROWS_WITH_AS(decode(std::string("GIF89a\x01\x00"), "a.gif"),
                         doctest::Contains("a.gif: GIF images are not supported; convert to PNG"),
                         ImageError);
    CHECK_THROWS_WITH_AS(decode(std::string("BM\x10\x00"), "a.bmp"),
                         doctest::Contains("BMP images are not supported"), ImageError);
    CHECK_THROWS_WITH_AS(decode(std::string("RIFF\x10\x00\x00\x00WEBPVP8 ", 16), "a.webp"),
                         doctest::Contains("WebP images are not supported"), ImageError);
    CHECK_THROWS_WITH_AS(decode(std::string("hello"), "notes.txt"),
                         doctest::Contains("notes.txt: unknown image format (first bytes 68 65 6c "
                                           "6c 6f); vitlab reads PPM/PGM"),
                         ImageError);
    CHECK_THROWS_WITH_AS(decode(std::string("\xff\x00\x01", 3), "x.bin"),
                         doctest::Contains("unknown image format (first bytes ff 00 01)"),
                         ImageError);
}

// ---- PNG and JPEG ----------------------------------------------------------------------------

TEST_CASE("png/jpeg: without stb_image the error says how to get it") {
    if (have_png_jpeg()) return;  // this build has the decoder: see the tests below
    CHECK_THROWS_WITH_AS(read_image(fixture_path("images/rgb.png")),
                         doctest::Contains("apt-get install libstb-dev"), ImageError);
    CHECK_THROWS_WITH_AS(read_image(fixture_path("images/photo.jpg")),
                         doctest::Contains("convert the image to PPM"), ImageError);
}

TEST_CASE("png: RGB, gray and RGBA files decode to exactly PIL's pixels") {
    if (!have_png_jpeg()) return;
    const auto f = fixture("image_io");
    struct Case {
        const char* file;
        const char* key;
        int channels;
    };
    for (const Case& c :
         {Case{"rgb.png", "rgb_png.pixels", 3}, Case{"gray.png", "gray_png.pixels", 1},
          Case{"rgba.png", "rgba_png.pixels", 4}}) {
        const std::string file = c.file;
        CAPTURE(file);
        const Image im = read_image(fixture_path(std::string("images/") + c.file));
        CHECK(im.channels == c.channels);
        testing::check_close(pixels_of(im), f[c.key], 0.0f, 0.0f);
    }
}

TEST_CASE("jpeg: decodes within 3 levels of PIL (libjpeg-turbo) on every pixel") {
    if (!have_png_jpeg()) return;
    const auto f = fixture("image_io");
    for (const std::string name : {"photo.jpg", "gray.jpg"}) {
        CAPTURE(name);
        const Image im = read_image(fixture_path("images/" + name));
        const Tensor expected = f[name == "photo.jpg" ? "photo_jpg.pixels" : "gray_jpg.pixels"];
        REQUIRE(pixels_of(im).shape() == expected.shape());
        const float diff = max_abs_diff(pixels_of(im), expected);
        REPORT(name, ": max difference from PIL ", diff, " levels");
        // Decoders differ in IDCT and chroma upsampling rounding, not in the picture.
        CHECK(diff <= 3.0f);
        // and on average well under one level: the same picture.
        const auto got = pixels_of(im).to_vector(), want = expected.to_vector();
        double total = 0;
        for (size_t i = 0; i < got.size(); ++i) total += std::abs(got[i] - want[i]);
        REPORT(name, ": mean difference ", total / got.size(), " levels");
        CHECK(total / got.size() < 1.0);
    }
}

TEST_CASE("png: the CRC-32 is the standard one") {
    const std::string check = "123456789";
    CHECK(detail::crc32(reinterpret_cast<const uint8_t*>(check.data()), check.size()) ==
          0xCBF43926u);
}

namespace {

// A PNG with one IHDR chunk claiming width x height, and a proper CRC, then IEND.
std::vector<uint8_t> png_header_only(uint32_t width, uint32_t height) {
    std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    auto put32 = [&](uint32_t v) {
        for (int s = 24; s >= 0; s -= 8) png.push_back(static_cast<uint8_t>(v >> s));
    };
    auto chunk = [&](const char* type, const std::vector<uint8_t>& data) {
        put32(static_cast<uint32_t>(data.size()));
        const size_t start = png.size();
        png.insert(png.end(), type, type + 4);
        png.insert(png.end(), data.begin(), data.end());
        put32(detail::crc32(png.data() + start, png.size() - start));
    };
    std::vector<uint8_t> ihdr;
    for (uint32_t v : {width, height})
        for (int s = 24; s >= 0; s -= 8) ihdr.push_back(static_cast<uint8_t>(v >> s));
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8-bit RGB, no interlace
    chunk("IHDR", ihdr);
    chunk("IEND", {});
    return png;
}

}  // namespace

TEST_CASE("png: a header asking for too many pixels is refused before decoding") {
    if (!have_png_jpeg()) return;
    CHECK_THROWS_WITH_AS(decode(png_header_only(10000, 10000), "huge.png"),
                         doctest::Contains("huge.png: image size 10000x10000 is too large"),
                         ImageError);
    CHECK_THROWS_WITH_AS(decode(png_header_only(40000, 1), "wide.png"),
                         doctest::Contains("wide.png: cannot decode PNG: too large"), ImageError);
}

TEST_CASE("png: stb's own errors name the file and stb's reason") {
    if (!have_png_jpeg()) return;
    // A valid container whose IHDR says 0 pixels wide, and no image data.
    CHECK_THROWS_WITH_AS(decode(png_header_only(0, 4), "empty.png"),
                         doctest::Contains("empty.png: cannot decode PNG: 0-pixel image"),
                         ImageError);
    // Right size, no IDAT chunk.
    CHECK_THROWS_WITH_AS(decode(png_header_only(2, 2), "nodata.png"),
                         doctest::Contains("nodata.png: cannot decode PNG: "), ImageError);
}

TEST_CASE("png/jpeg: container errors say where the file is broken") {
    if (!have_png_jpeg()) return;
    std::vector<uint8_t> png = file_bytes("rgb.png");
    std::vector<uint8_t> flipped = png;
    flipped[40] ^= 0x10;  // inside the first IDAT
    CHECK_THROWS_WITH_AS(decode(flipped, "f.png"),
                         doctest::Contains("f.png: corrupt PNG: CRC mismatch in chunk"),
                         ImageError);
    CHECK_THROWS_WITH_AS(decode(std::vector<uint8_t>(png.begin(), png.end() - 12), "f.png"),
                         doctest::Contains("truncated PNG: the file ends at byte"), ImageError);
    CHECK_THROWS_WITH_AS(decode(std::vector<uint8_t>(png.begin(), png.begin() + 5), "f.png"),
                         doctest::Contains("truncated PNG: the file ends inside the signature"),
                         ImageError);
    std::vector<uint8_t> jpg = file_bytes("photo.jpg");
    CHECK_THROWS_WITH_AS(decode(std::vector<uint8_t>(jpg.begin(), jpg.end() - 2), "f.jpg"),
                         doctest::Contains("f.jpg: truncated JPEG: the file ends before the "
                                           "end-of-image marker"),
                         ImageError);
    CHECK_THROWS_WITH_AS(decode(std::vector<uint8_t>(jpg.begin(), jpg.begin() + 30), "f.jpg"),
                         doctest::Contains("f.jpg: truncated JPEG: segment FF"), ImageError);
    // Structurally whole but empty: no frame, or a frame and no scan.
    const std::vector<uint8_t> no_frame = {0xFF, 0xD8, 0xFF, 0xD9};
    CHECK_THROWS_WITH_AS(decode(no_frame, "f.jpg"),
                         doctest::Contains("corrupt JPEG: no frame header (SOF) before the "
                                           "end-of-image marker"),
                         ImageError);
    const std::vector<uint8_t> no_scan = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x01,
                                          0x00, 0x01, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xD9};
    CHECK_THROWS_WITH_AS(decode(no_scan, "f.jpg"),
                         doctest::Contains("corrupt JPEG: no image data (SOS) before the "
                                           "end-of-image marker"),
                         ImageError);
    std::vector<uint8_t> garbage = jpg;
    garbage[2 + 2 + ((jpg[4] << 8) | jpg[5])] = 0x12;  // where the second marker should be
    CHECK_THROWS_WITH_AS(decode(garbage, "f.jpg"),
                         doctest::Contains("corrupt JPEG: expected a marker at byte"), ImageError);
}

// ---- hostile input: every truncation, every bit flip -----------------------------------------

TEST_CASE("hostile: every truncation of a PPM, a PGM, a PNG and a JPEG is an ImageError") {
    std::vector<std::pair<std::string, std::vector<uint8_t>>> files = {
        {"rgb.ppm", file_bytes("rgb.ppm")},
        {"text.pgm", bytes_of("P2\n# c\n3 2\n1000\n0 1 2\n999 1000 7\n")},
    };
    if (have_png_jpeg()) {
        files.push_back({"rgb.png", file_bytes("rgb.png")});
        files.push_back({"photo.jpg", file_bytes("photo.jpg")});
    }
    for (const auto& file : files) {
        const std::string& name = file.first;
        const std::vector<uint8_t>& bytes = file.second;
        CAPTURE(name);
        // The whole file decodes (the text PGM's last sample needs no trailing whitespace).
        CHECK_NOTHROW(decode(bytes, name));
        const size_t keep = name == "text.pgm" ? bytes.size() - 1 : bytes.size();
        for (size_t n = 0; n < keep; ++n) {
            CAPTURE(n);
            // A copy of exactly n bytes, so ASan sees any read past the end.
            const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
            CHECK_THROWS_AS(decode(cut, name), ImageError);
        }
    }
}

TEST_CASE("hostile: every single-bit flip of a PNG is caught by its CRCs") {
    if (!have_png_jpeg()) return;
    const std::vector<uint8_t> png = file_bytes("rgb.png");
    int caught = 0;
    for (size_t i = 0; i < png.size(); ++i)
        for (int bit = 0; bit < 8; ++bit) {
            std::vector<uint8_t> bad = png;
            bad[i] ^= static_cast<uint8_t>(1 << bit);
            try {
                decode(bad, "flip.png");
            } catch (const ImageError&) {
                ++caught;
            }
        }
    CHECK(caught == static_cast<int>(png.size() * 8));
}

namespace {

// The chunks of a well-formed PNG: offset of each chunk's length field, and its data length.
std::vector<std::pair<size_t, size_t>> png_chunks(const std::vector<uint8_t>& png) {
    std::vector<std::pair<size_t, size_t>> chunks;
    for (size_t pos = 8; pos + 12 <= png.size();) {
        const size_t len = (size_t(png[pos]) << 24) | (size_t(png[pos + 1]) << 16) |
                           (size_t(png[pos + 2]) << 8) | png[pos + 3];
        chunks.push_back({pos, len});
        pos += len + 12;
    }
    return chunks;
}

// Rewrites the CRC of the chunk at `pos` so that damage inside it reaches the decoder.
void fix_crc(std::vector<uint8_t>& png, size_t pos, size_t len) {
    const uint32_t crc = detail::crc32(png.data() + pos + 4, len + 4);
    for (int k = 0; k < 4; ++k) png[pos + 8 + len + k] = static_cast<uint8_t>(crc >> (24 - 8 * k));
}

// Decodes bytes that may be damaged: an image of consistent size, or an ImageError.
struct Outcome {
    int decoded = 0, refused = 0;
    void attempt(const std::vector<uint8_t>& bytes, const std::string& name) {
        try {
            const Image im = decode(bytes, name);
            CHECK(im.pixels.size() == size_t(im.width) * im.height * im.channels);
            ++decoded;
        } catch (const ImageError&) {
            ++refused;
        }
    }
};

}  // namespace

TEST_CASE("hostile: stb survives every bit flip of a JPEG") {
    if (!have_png_jpeg()) return;
    // JPEG has no checksum: most flips pass the container walk and reach stb, which may
    // decode garbage or refuse, but must not crash or read out of bounds (`make sanitize`).
    const std::vector<uint8_t> good = file_bytes("photo.jpg");
    Outcome outcome;
    for (size_t i = 0; i < good.size(); ++i)
        for (int bit = 0; bit < 8; ++bit) {
            std::vector<uint8_t> bad = good;
            bad[i] ^= static_cast<uint8_t>(1 << bit);
            outcome.attempt(bad, "flip.jpg");
        }
    REPORT("photo.jpg bit flips: decoded ", outcome.decoded, ", refused ", outcome.refused);
    CHECK(outcome.decoded + outcome.refused == static_cast<int>(good.size() * 8));
    CHECK(outcome.decoded > 0);  // the flips did reach the decoder
}

TEST_CASE("hostile: stb survives damaged PNG chunks whose CRCs were fixed up") {
    if (!have_png_jpeg()) return;
    // Flip every bit of every chunk's type and data, and cut every chunk's data short,
    // rewriting the CRC (and length) so the damage gets past our checks into stb's zlib and
    // filter code.
    const std::vector<uint8_t> good = file_bytes("rgb.png");
    Outcome outcome;
    for (const auto& [pos, len] : png_chunks(good)) {
        for (size_t i = pos + 4; i < pos + 8 + len; ++i)
            for (int bit = 0; bit < 8; ++bit) {
                std::vector<uint8_t> bad = good;
                bad[i] ^= static_cast<uint8_t>(1 << bit);
                fix_crc(bad, pos, len);
                outcome.attempt(bad, "flip.png");
            }
        for (size_t cut = 0; cut < len; ++cut) {
            std::vector<uint8_t> bad(good.begin(), good.begin() + pos + 8 + cut);
            bad.insert(bad.end(), 4, 0);  // room for the CRC
            bad.insert(bad.end(), good.begin() + pos + 12 + len, good.end());
            for (int k = 0; k < 4; ++k) bad[pos + k] = static_cast<uint8_t>(cut >> (24 - 8 * k));
            fix_crc(bad, pos, cut);
            outcome.attempt(bad, "cut.png");
        }
    }
    REPORT("rgb.png damaged chunks: decoded ", outcome.decoded, ", refused ", outcome.refused);
    CHECK(outcome.refused > 0);
    CHECK(outcome.decoded > 0);
}

TEST_CASE("png: an empty IDAT chunk (legal, and a trap for stb 2.27) changes nothing") {
    if (!have_png_jpeg()) return;
    const std::vector<uint8_t> good = file_bytes("rgb.png");
    size_t idat = 0;
    for (const auto& chunk : png_chunks(good))
        if (!idat && std::memcmp(&good[chunk.first + 4], "IDAT", 4) == 0) idat = chunk.first;
    REQUIRE(idat > 0);
    std::vector<uint8_t> png(good.begin(), good.begin() + idat);
    const uint8_t empty_idat[12] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0, 0, 0, 0};
    png.insert(png.end(), empty_idat, empty_idat + 12);
    fix_crc(png, idat, 0);
    png.insert(png.end(), good.begin() + idat, good.end());
    CHECK(decode(png, "empty_idat.png").pixels == decode(good, "rgb.png").pixels);
}

TEST_CASE("hostile: a JPEG Huffman table with more than 256 codes is refused before stb") {
    // Regression (found by fuzzing): stb 2.27 writes such a table past its 257-byte array.
    if (!have_png_jpeg()) return;
    std::vector<uint8_t> jpg = file_bytes("photo.jpg");
    size_t dht = 2;
    while (!(jpg[dht] == 0xFF && jpg[dht + 1] == 0xC4))
        dht += 2 + ((jpg[dht + 2] << 8) | jpg[dht + 3]);
    for (int i = 14; i <= 16; ++i) jpg[dht + 4 + i] = 0xFF;  // counts of 14..16-bit codes
    CHECK_THROWS_WITH_AS(decode(jpg, "dht.jpg"),
                         doctest::Contains(fmt::format("dht.jpg: corrupt JPEG: Huffman table in "
                                                       "segment FF C4 at byte {} has",
                                                       dht)
                                               .c_str()),
                         ImageError);
    CHECK_THROWS_WITH_AS(decode(jpg, "dht.jpg"), doctest::Contains("codes (at most 256"),
                         ImageError);
}

// ---- to_tensor -------------------------------------------------------------------------------

TEST_CASE("to_tensor: HWC bytes become (3, H, W) floats in [0, 1]") {
    const Image rgb{2, 1, 3, {255, 0, 51, 102, 204, 1}};
    const Tensor x = to_tensor(rgb);
    CHECK(x.shape() == Shape{3, 1, 2});
    // channel-major: R of both pixels, then G, then B
    const std::vector<float> expected = {1.0f, 0.4f, 0.0f, 0.8f, 0.2f, 1.0f / 255};
    testing::check_close(x, from_vector(expected, {3, 1, 2}), 1e-7f, 0.0f);
}

TEST_CASE("to_tensor: gray is repeated into R, G, B and alpha is dropped") {
    const Tensor gray = to_tensor(Image{2, 1, 1, {0, 255}});
    testing::check_close(gray, from_vector({0, 1, 0, 1, 0, 1}, {3, 1, 2}), 0.0f, 0.0f);
    const Tensor gray_alpha = to_tensor(Image{1, 1, 2, {51, 7}});
    testing::check_close(gray_alpha, full({3, 1, 1}, 0.2f), 0.0f, 0.0f);
    const Tensor rgba = to_tensor(Image{1, 1, 4, {0, 51, 255, 9}});
    testing::check_close(rgba, from_vector({0.0f, 0.2f, 1.0f}, {3, 1, 1}), 0.0f, 0.0f);
}

TEST_CASE("to_tensor: an inconsistent Image is a ShapeError") {
    CHECK_THROWS_WITH_AS(to_tensor(Image{2, 2, 3, {1, 2}}),
                         doctest::Contains("to_tensor: a 2x2x3 image needs 12 bytes, it has 2"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(to_tensor(Image{1, 1, 5, {1, 2, 3, 4, 5}}),
                         doctest::Contains("with 5 channels (1 to 4)"), ShapeError);
}

// ---- class names -----------------------------------------------------------------------------

TEST_CASE("labels: the shipped ImageNet names are 1000 lines in index order") {
    const auto labels = load_labels(imagenet_labels_path());
    REQUIRE(labels.size() == 1000);
    CHECK(labels[0] == "tench");
    CHECK(labels[1] == "goldfish");
    CHECK(labels[207] == "golden retriever");
    CHECK(labels[281] == "tabby");
    CHECK(labels[999] == "toilet tissue");
}

TEST_CASE("labels: a missing file, an empty line or a wrong count is a FileError") {
    CHECK_THROWS_WITH_AS(load_labels("/nonexistent/classes.txt"),
                         doctest::Contains("/nonexistent/classes.txt: cannot read the class names: "
                                           "cannot open: No such file"),
                         FileError);
    const std::string path = temp_path("labels.txt");
    auto write = [&](const std::string& text) {
        std::FILE* f = std::fopen(path.c_str(), "wb");
        REQUIRE(f);
        std::fwrite(text.data(), 1, text.size(), f);
        std::fclose(f);
    };
    write("cat\r\ndog\r\n");
    CHECK(load_labels(path, 2) == std::vector<std::string>{"cat", "dog"});
    CHECK(load_labels(path, 0).size() == 2);
    CHECK_THROWS_WITH_AS(load_labels(path), doctest::Contains("has 2 class names, expected 1000"),
                         FileError);
    write("cat\n\ndog");
    CHECK_THROWS_WITH_AS(load_labels(path, 0), doctest::Contains("line 2 is empty"), FileError);
    std::remove(path.c_str());
}
