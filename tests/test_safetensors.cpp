// test_safetensors.cpp: reading and writing .safetensors files (tensor/io/safetensors.h).
//
// Round trips, PyTorch's F16/BF16 numbers, every error a broken file can produce (each message
// names the file, the tensor and the problem), and two sweeps that break a small valid file in
// every possible way (every truncation, every single-bit flip of its header). The loader reads
// files through mmap or std::ifstream; the tests that matter run through both.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tensor/io/json.h"
#include "tensor/io/safetensors.h"
#include "tests/fixture.h"
#include "tests/temp_files.h"

using namespace vitlab;
namespace fs = std::filesystem;

using vitlab::testing::read_bytes;
using vitlab::testing::write_bytes;

namespace {

// Scratch files for this file's tests.
struct TempDir : vitlab::testing::TempDir {
    TempDir() : vitlab::testing::TempDir("vitlab_test_safetensors_") {}
};

// Selects how load_safetensors gets the bytes (VITLAB_NO_MMAP) and restores the old setting.
struct ReadMode {
    std::string old;
    bool had_old;
    explicit ReadMode(bool use_mmap) {
        const char* v = std::getenv("VITLAB_NO_MMAP");
        had_old = v != nullptr;
        if (v) old = v;
        if (use_mmap)
            unsetenv("VITLAB_NO_MMAP");
        else
            setenv("VITLAB_NO_MMAP", "1", 1);
    }
    ~ReadMode() {
        if (had_old)
            setenv("VITLAB_NO_MMAP", old.c_str(), 1);
        else
            unsetenv("VITLAB_NO_MMAP");
    }
};

std::string u64_le(uint64_t n) {
    std::string s(8, '\0');
    for (int b = 0; b < 8; ++b) s[b] = static_cast<char>(n >> (8 * b));
    return s;
}

// A hand-made file: 8-byte length, header text, data bytes.
std::string file_bytes(const std::string& header, const std::string& data = "") {
    return u64_le(header.size()) + header + data;
}

std::string f32_bytes(const std::vector<float>& values) {
    std::string s;
    for (const float v : values) {
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        for (int b = 0; b < 4; ++b) s += static_cast<char>(bits >> (8 * b));
    }
    return s;
}

doctest::Contains contains(const std::string& s) {
    return doctest::Contains(s.c_str());
}

uint32_t bits_of(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

std::vector<uint32_t> bits_of(const Tensor& t) {
    std::vector<uint32_t> out;
    for (const float v : t.to_vector()) out.push_back(bits_of(v));
    return out;
}

// The message of the FileError that loading these bytes throws ("" if it loads).
std::string load_error(const TempDir& tmp, const std::string& bytes) {
    const std::string p = tmp.path("bad.safetensors");
    write_bytes(p, bytes);
    try {
        load_safetensors(p);
    } catch (const FileError& e) {
        return e.what();
    }
    return "";
}

// A small valid file: two tensors and a 0-d one, with metadata; data section 40 bytes.
TensorMap small_tensors() {
    return {{"a", from_vector({1, 2, 3, 4, 5, 6}, {2, 3})},
            {"b", from_vector({-1.5f, 0.25f, 7}, {3})},
            {"c", from_vector({42}, {})}};
}

}  // namespace

// ---- round trips ----------------------------------------------------------------------------

TEST_CASE("safetensors: save then load gives back every tensor, name, shape and value") {
    TempDir tmp;
    Generator gen(7);
    const Tensor wide = randn({4, 5}, gen);
    const Tensor grid = randn({6, 7}, gen);
    const TensorMap tensors = {
        {"scalar", full({}, 3.5f)},
        {"empty_middle", zeros({2, 0, 3})},
        {"empty_1d", zeros({0})},
        {"matrix", randn({3, 4}, gen)},
        {"transposed", wide.transpose(0, 1)},                         // non-contiguous: (5, 4)
        {"sliced", grid.slice(1, 1, 7, 2)},                           // non-contiguous: (6, 3)
        {"expanded", from_vector({1, 2, 3}, {3, 1}).expand({3, 4})},  // stride 0
        {"large", randn({130, 130}, gen)},                            // more than one write chunk
        {"special", from_vector({INFINITY, -INFINITY, NAN, -0.0f, 1e-45f, 3.4028235e38f}, {6})},
        {"blocks.0.attn \"q\\k\"\n caf\xc3\xa9", ones({2})},
        {"", ones({1})},
    };
    for (const bool use_mmap : {true, false}) {
        CAPTURE(use_mmap);
        ReadMode mode(use_mmap);
        const std::string p = tmp.path("round_trip.safetensors");
        save_safetensors(p, tensors);
        const TensorMap loaded = load_safetensors(p);
        REQUIRE(loaded.size() == tensors.size());
        for (const auto& entry : tensors) {
            const std::string& name = entry.first;
            const Tensor& t = entry.second;
            CAPTURE(name);
            REQUIRE(loaded.count(name) == 1);
            const Tensor& u = loaded.at(name);
            CHECK(u.shape() == t.shape());
            CHECK(u.is_contiguous());
            CHECK(bits_of(u) == bits_of(t));  // bit for bit: NaN, -0 and subnormals included
        }
    }
}

TEST_CASE("safetensors: a saved file has sorted keys, F32 data and a space-padded header") {
    TempDir tmp;
    const std::string p = tmp.path("layout.safetensors");
    save_safetensors(p, small_tensors(), {{"format", "pt"}});
    const std::string bytes = read_bytes(p);
    REQUIRE(bytes.size() >= 8);
    uint64_t n = 0;
    for (int b = 7; b >= 0; --b) n = n * 256 + static_cast<unsigned char>(bytes[b]);
    CHECK(n % 8 == 0);  // the data section starts 8-byte aligned
    REQUIRE(bytes.size() == 8 + n + 4 * 10);
    const std::string header = bytes.substr(8, n);
    const size_t close = header.find_last_of('}');
    CHECK(header.size() - close - 1 < 8);
    CHECK(header.find_first_not_of(' ', close + 1) == std::string::npos);

    const json::Value h = json::parse(header);
    const auto& members = h.as_object();
    REQUIRE(members.size() == 4);
    CHECK(members[0].first == "__metadata__");
    CHECK(members[1].first == "a");
    CHECK(members[2].first == "b");
    CHECK(members[3].first == "c");
    CHECK(h.find("a")->find("dtype")->as_string() == "F32");
    CHECK(h.find("a")->find("shape")->as_array().size() == 2);
    CHECK(h.find("c")->find("shape")->as_array().empty());
    const auto& c_offsets = h.find("c")->find("data_offsets")->as_array();
    CHECK(c_offsets[0].as_uint64() == uint64_t{36});
    CHECK(c_offsets[1].as_uint64() == uint64_t{40});
    // Little-endian float32, in key order: b's first value is at data byte 24.
    CHECK(bytes.substr(8 + n + 24, 4) == f32_bytes({-1.5f}));
}

TEST_CASE("safetensors: metadata round-trips, escapes and non-ASCII included") {
    TempDir tmp;
    const std::string p = tmp.path("meta.safetensors");
    const std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                         {"quote\"and\\slash", "line\nbreak\ttab"},
                                                         {"unicode", "\xce\xbb=0.1"},
                                                         {"", ""}};
    save_safetensors(p, small_tensors(), metadata);
    CHECK(load_safetensors_metadata(p) == metadata);
    CHECK(load_safetensors(p).size() == 3);  // metadata is not a tensor

    save_safetensors(p, small_tensors());
    CHECK(load_safetensors_metadata(p).empty());
    CHECK(read_bytes(p).find("__metadata__") == std::string::npos);
}

TEST_CASE("safetensors: a file with no tensors saves and loads as an empty map") {
    TempDir tmp;
    const std::string p = tmp.path("nothing.safetensors");
    save_safetensors(p, {});
    CHECK(read_bytes(p) == u64_le(8) + "{}      ");
    CHECK(load_safetensors(p).empty());
}

TEST_CASE("safetensors: loaded F32 tensors alias the file's bytes; writing them leaves the file") {
    TempDir tmp;
    const std::string p = tmp.path("alias.safetensors");
    save_safetensors(p, small_tensors());
    for (const bool use_mmap : {true, false}) {
        CAPTURE(use_mmap);
        ReadMode mode(use_mmap);
        TensorMap m = load_safetensors(p);
        // Zero copy: "b" starts right after the 6 floats of "a", as in the file.
        CHECK(m.at("a").data() + 6 == m.at("b").data());
        m.at("a").at({0, 0}) = 100.0f;
        m.at("c").fill_(-1.0f);
        const TensorMap again = load_safetensors(p);
        CHECK(again.at("a").at({0, 0}) == 1.0f);
        CHECK(again.at("c").item() == 42.0f);
        CHECK(m.at("a").at({0, 0}) == 100.0f);
        CHECK_FALSE(again.at("a").shares_storage_with(m.at("a")));
    }
}

TEST_CASE("safetensors: tensors outlive the map they came from and survive re-saving the file") {
    TempDir tmp;
    const std::string p = tmp.path("resave.safetensors");
    save_safetensors(p, small_tensors());
    Tensor kept = load_safetensors(p).at("a");  // the map is gone, the bytes must stay alive
    CHECK(kept.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});

    // Saving over the file that the loaded tensors point into: a new file replaces the old one.
    TensorMap m = load_safetensors(p);
    m["d"] = ones({2});
    save_safetensors(p, m);
    CHECK(m.at("b").to_vector() == std::vector<float>{-1.5f, 0.25f, 7});
    CHECK(kept.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});
    const TensorMap reloaded = load_safetensors(p);
    CHECK(reloaded.size() == 4);
    CHECK(reloaded.at("d").to_vector() == std::vector<float>{1, 1});
    CHECK(!fs::exists(p + ".vitlab-tmp"));
}

TEST_CASE(
    "safetensors: a header that is not 8-byte padded leaves F32 data unaligned and it still "
    "loads") {
    TempDir tmp;
    // Header of 55 bytes: the data section starts at file byte 63, so the floats are copied.
    const std::string header = R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
    REQUIRE((8 + header.size()) % 4 != 0);
    const std::string data = f32_bytes({0.5f, -2, 1e30f});
    for (const bool use_mmap : {true, false}) {
        CAPTURE(use_mmap);
        ReadMode mode(use_mmap);
        const std::string p = tmp.path("unaligned.safetensors");
        write_bytes(p, file_bytes(header, data));
        const TensorMap m = load_safetensors(p);
        CHECK(m.at("x").to_vector() == std::vector<float>{0.5f, -2, 1e30f});
    }
}

TEST_CASE("safetensors: header key order need not match data order; empty tensors sit anywhere") {
    TempDir tmp;
    const std::string header = R"({"z":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                               R"("e0":{"dtype":"F32","shape":[0,5],"data_offsets":[0,0]},)"
                               R"("a":{"data_offsets":[4,12],"shape":[2],"dtype":"F32"},)"
                               R"("e1":{"dtype":"BF16","shape":[3,0],"data_offsets":[12,12]}})";
    const std::string p = tmp.path("order.safetensors");
    write_bytes(p, file_bytes(header, f32_bytes({9, 7, 8})));
    const TensorMap m = load_safetensors(p);
    CHECK(m.at("z").to_vector() == std::vector<float>{9});
    CHECK(m.at("a").to_vector() == std::vector<float>{7, 8});
    CHECK(m.at("e0").shape() == Shape{0, 5});
    CHECK(m.at("e1").shape() == Shape{3, 0});
}

// ---- F16 and BF16 ---------------------------------------------------------------------------

TEST_CASE("safetensors: F16 and BF16 load exactly as PyTorch widens them to float32") {
    const auto f = testing::fixture("safetensors_dtypes");
    const std::vector<std::string> cases = {"odd",         "half_special", "half_bits",
                                            "half_random", "bf16_special", "bf16_bits",
                                            "bf16_random", "scalar",       "empty"};
    CHECK(f.all().size() == 2 * cases.size());
    for (const auto& c : cases) {
        CAPTURE(c);
        const Tensor& in = f[c + ".in"];
        const Tensor& expected = f[c + ".expected"];
        CHECK(in.shape() == expected.shape());
        CHECK(bits_of(in) == bits_of(expected));  // NaN payloads included
    }
    CHECK(f["scalar.in"].dim() == 0);
    CHECK(f["half_special.in"].at({12}) == std::ldexp(1.0f, -24));  // smallest subnormal
    CHECK(std::isinf(f["half_special.in"].at({8})));                // 70000 overflowed
    const auto meta =
        load_safetensors_metadata(testing::fixture_path("safetensors_dtypes.safetensors"));
    CHECK(meta.at("format") == "pt");
}

namespace {

// IEEE half by its formula, (-1)^s * 2^(e-15) * 1.m, or 2^-14 * 0.m when e = 0.
float half_reference(uint16_t h) {
    const int e = (h >> 10) & 31, m = h & 1023;
    float magnitude;
    if (e == 31)
        magnitude = m ? NAN : INFINITY;
    else if (e == 0)
        magnitude = std::ldexp(static_cast<float>(m), -24);
    else
        magnitude = std::ldexp(static_cast<float>(1024 + m), e - 25);
    return (h & 0x8000) ? -magnitude : magnitude;
}

// bfloat16 by its formula: 8 exponent bits (bias 127) and 7 mantissa bits.
float bfloat16_reference(uint16_t b) {
    const int e = (b >> 7) & 255, m = b & 127;
    float magnitude;
    if (e == 255)
        magnitude = m ? NAN : INFINITY;
    else if (e == 0)
        magnitude = std::ldexp(static_cast<float>(m), -133);
    else
        magnitude = std::ldexp(static_cast<float>(128 + m), e - 134);
    return (b & 0x8000) ? -magnitude : magnitude;
}

}  // namespace

TEST_CASE("safetensors: all 65536 F16 and BF16 bit patterns convert like the IEEE formula") {
    TempDir tmp;
    std::string data;
    for (int pass = 0; pass < 2; ++pass)
        for (uint32_t i = 0; i < 65536; ++i)
            data += {static_cast<char>(i & 255), static_cast<char>(i >> 8)};
    const std::string header =
        R"({"h":{"dtype":"F16","shape":[256,256],"data_offsets":[0,131072]},)"
        R"("b":{"dtype":"BF16","shape":[65536],"data_offsets":[131072,262144]}})";
    const std::string p = tmp.path("all16.safetensors");
    write_bytes(p, file_bytes(header, data));
    const TensorMap m = load_safetensors(p);
    const auto h = m.at("h").to_vector();
    const auto b = m.at("b").to_vector();
    int half_wrong = 0, bf16_wrong = 0;
    for (uint32_t i = 0; i < 65536; ++i) {
        const auto bits = static_cast<uint16_t>(i);
        const float hr = half_reference(bits);
        if (std::isnan(hr)) {
            // NaN: sign and payload kept, quiet bit set (as x86 and PyTorch do).
            const uint32_t want = ((i & 0x8000u) << 16) | 0x7FC00000u | ((i & 1023u) << 13);
            half_wrong += bits_of(h[i]) != want;
        } else {
            half_wrong += bits_of(h[i]) != bits_of(hr);
        }
        const float br = bfloat16_reference(bits);
        if (std::isnan(br))
            bf16_wrong += bits_of(b[i]) != (i << 16);  // NaN unchanged
        else
            bf16_wrong += bits_of(b[i]) != bits_of(br);
    }
    CHECK(half_wrong == 0);
    CHECK(bf16_wrong == 0);
    CHECK(h[0x0001] == std::ldexp(1.0f, -24));
    CHECK(h[0x7BFF] == 65504.0f);
    CHECK(b[0x0001] == std::ldexp(1.0f, -133));
}

// ---- broken files ---------------------------------------------------------------------------

TEST_CASE("safetensors: missing files and directories throw FileError naming the path") {
    TempDir tmp;
    for (const bool use_mmap : {true, false}) {
        CAPTURE(use_mmap);
        ReadMode mode(use_mmap);
        const std::string missing = tmp.path("missing.safetensors");
        CHECK_THROWS_WITH_AS(load_safetensors(missing),
                             contains("load_safetensors: '" + missing + "': cannot open"),
                             FileError);
        const std::string dir = tmp.dir.string();
        CHECK_THROWS_WITH_AS(
            load_safetensors(dir),
            ("load_safetensors: '" + dir + "': is a directory, not a file").c_str(), FileError);
        CHECK_THROWS_WITH_AS(load_safetensors_metadata(missing),
                             contains("load_safetensors_metadata: '" + missing + "'"), FileError);
    }
}

TEST_CASE("safetensors: the length prefix must fit the file") {
    TempDir tmp;
    const std::string p = "load_safetensors: '" + tmp.path("bad.safetensors") + "': ";
    CHECK(load_error(tmp, "") == p + "file is 0 bytes, too short for the 8-byte header length");
    CHECK(load_error(tmp, std::string("\x02\0\0\0\0", 5) + "{}") ==
          p + "file is 7 bytes, too short for the 8-byte header length");
    CHECK(load_error(tmp, u64_le(100) + "{}") ==
          p + "header length 100 runs past the end of the file (10 bytes, so at most 2 bytes of "
              "header); is the file truncated?");
    CHECK(load_error(tmp, u64_le(uint64_t{1} << 40) + "{}") ==
          p + "header length 1099511627776 is absurdly large (the limit is 100000000 bytes); is "
              "this a .safetensors file?");
    // A PNG is not a safetensors file.
    CHECK(load_error(tmp, "\x89PNG\r\n\x1a\n" + std::string(32, '\0')).find("absurdly large") !=
          std::string::npos);
}

TEST_CASE("safetensors: the header must be a JSON object starting with '{'") {
    TempDir tmp;
    const std::string p = "load_safetensors: '" + tmp.path("bad.safetensors") + "': ";
    CHECK(load_error(tmp, file_bytes("")) ==
          p + "header length is 0 (the file starts with 8 zero bytes); is this a .safetensors "
              "file?");
    CHECK(load_error(tmp, file_bytes(R"({"a":})")) ==
          p + "malformed JSON header at header byte 5 (file byte 13): expected a JSON value "
              "(object, array, string, number, true, false or null), got '}'");
    CHECK(load_error(tmp, file_bytes("{}x")) ==
          p + "malformed JSON header at header byte 2 (file byte 10): expected the end of the "
              "input after the JSON value, got 'x'");
    CHECK(load_error(tmp, file_bytes("[]")) == p + "header is an array, not a JSON object");
    CHECK(load_error(tmp, file_bytes("\"x\"")) == p + "header is a string, not a JSON object");
    CHECK(load_error(tmp, file_bytes(" {}")) ==
          p + "header must begin with '{' (whitespace is allowed only after the object)");
    CHECK(load_error(tmp, file_bytes("{\"caf\xe9\":1}")).find("invalid UTF-8") !=
          std::string::npos);
    CHECK(load_error(tmp, file_bytes("{\"__metadata__\":" + std::string(100, '[') +
                                     std::string(100, ']') + "}"))
              .find("nesting deeper than 3 levels") != std::string::npos);
    const std::string entry = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
    CHECK(
        load_error(tmp, file_bytes("{\"w\":" + entry + ",\"w\":" + entry + "}", f32_bytes({1}))) ==
        p + "malformed JSON header at header byte 54 (file byte 62): duplicate key \"w\" in "
            "the object that starts at byte 0");
}

TEST_CASE(
    "safetensors: every tensor entry needs dtype, shape and data_offsets of the right types") {
    TempDir tmp;
    const std::string p = "load_safetensors: '" + tmp.path("bad.safetensors") + "': tensor 'w': ";
    const std::string four = f32_bytes({1});
    auto error = [&](const std::string& entry, const std::string& data) {
        return load_error(tmp, file_bytes("{\"w\":" + entry + "}", data));
    };
    CHECK(error("[1]", "") ==
          p + "entry is an array, not an object with dtype, shape and data_offsets");
    CHECK(error(R"({"shape":[1],"data_offsets":[0,4]})", four) == p + "missing \"dtype\"");
    CHECK(error(R"({"dtype":"F32","data_offsets":[0,4]})", four) == p + "missing \"shape\"");
    CHECK(error(R"({"dtype":"F32","shape":[1]})", four) == p + "missing \"data_offsets\"");
    CHECK(error(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4],"offsets":[0,4]})", four) ==
          p + "unexpected key \"offsets\" (an entry has only dtype, shape and data_offsets)");
    CHECK(error(R"({"dtype":4,"shape":[1],"data_offsets":[0,4]})", four) ==
          p + "dtype is 4; expected a string such as \"F32\"");
    CHECK(error(R"({"dtype":"F64","shape":[1],"data_offsets":[0,8]})", four + four) ==
          p + "unknown dtype \"F64\" (supported: F32, F16, BF16)");
    CHECK(error(R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})", four) ==
          p + "unknown dtype \"f32\" (supported: F32, F16, BF16)");
    CHECK(error(R"({"dtype":"F32","shape":"1","data_offsets":[0,4]})", four) ==
          p + "shape is a string; expected an array of sizes");
    CHECK(error(R"({"dtype":"F32","shape":{},"data_offsets":[0,4]})", four) ==
          p + "shape is an object; expected an array of sizes");
}

TEST_CASE("safetensors: sizes and offsets must be non-negative integers") {
    TempDir tmp;
    const std::string p = "load_safetensors: '" + tmp.path("bad.safetensors") + "': tensor 'w': ";
    const std::string four = f32_bytes({1});
    auto error = [&](const std::string& shape, const std::string& offsets) {
        return load_error(tmp, file_bytes(R"({"w":{"dtype":"F32","shape":)" + shape +
                                              R"(,"data_offsets":)" + offsets + "}}",
                                          four));
    };
    CHECK(error("[-1]", "[0,4]") == p + "shape entry 0 is -1; it must not be negative");
    CHECK(error("[1,2.0]", "[0,4]") == p + "shape entry 1 is 2.0; expected a non-negative integer");
    CHECK(error("[1e0]", "[0,4]") == p + "shape entry 0 is 1e0; expected a non-negative integer");
    CHECK(error("[null]", "[0,4]") == p + "shape entry 0 is null; expected a non-negative integer");
    CHECK(error("[\"1\"]", "[0,4]") ==
          p + "shape entry 0 is a string; expected a non-negative integer");
    CHECK(error("[9223372036854775808]", "[0,4]") ==
          p + "shape entry 0 is 9223372036854775808; that is too large");
    CHECK(error("[99999999999999999999999]", "[0,4]") ==
          p + "shape entry 0 is 99999999999999999999999; that is too large");
    CHECK(error("[-99999999999999999999999]", "[0,4]") ==
          p + "shape entry 0 is -99999999999999999999999; it must not be negative");
    CHECK(error("[4294967296,4294967296]", "[0,4]") ==
          p + "shape (4294967296, 4294967296) has too many elements");
    // Overflow is caught on the running product, even when a later size is 0.
    CHECK(error("[4294967296,4294967296,0]", "[0,0]") ==
          p + "shape (4294967296, 4294967296, 0) has too many elements");
    CHECK(error("[1]", "\"0,4\"") == p + "data_offsets is a string; expected [begin, end]");
    CHECK(error("[1]", "[0]") == p + "data_offsets is an array of 1 values; expected [begin, end]");
    CHECK(error("[1]", "[0,4,8]") ==
          p + "data_offsets is an array of 3 values; expected [begin, end]");
    CHECK(error("[1]", "[-4,0]") == p + "data_offsets begin is -4; it must not be negative");
    CHECK(error("[1]", "[0,4.0]") ==
          p + "data_offsets end is 4.0; expected a non-negative integer");
    // -0 is an integer literal equal to 0; the reference implementation accepts it too.
    CHECK(error("[1]", "[-0,4]").empty());
}

TEST_CASE("safetensors: offsets must match the shape and stay inside the data section") {
    TempDir tmp;
    const std::string path = tmp.path("bad.safetensors");
    const std::string p = "load_safetensors: '" + path + "': ";
    const std::string data = f32_bytes({1, 2, 3});  // 12 bytes
    auto error = [&](const std::string& header, const std::string& d) {
        return load_error(tmp, file_bytes(header, d));
    };
    CHECK(error(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", data) ==
          p + "tensor 'w': data_offsets [8, 4] begin after they end");
    CHECK(error(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", data) ==
          p + "tensor 'w': data_offsets [0, 4] hold 4 bytes but shape (2,) of F32 needs 8 bytes");
    CHECK(error(R"({"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,4]}})", data) ==
          p + "tensor 'w': data_offsets [0, 4] hold 4 bytes but shape (2, 3) of BF16 needs 12 "
              "bytes");
    CHECK(error(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data) ==
          p + "tensor 'w': data_offsets [0, 16] reach past the end of the data section (12 "
              "bytes); is the file truncated?");
    CHECK(error(R"({"w":{"dtype":"F32","shape":[],"data_offsets":[18446744073709551612,0]}})",
                data) ==
          p + "tensor 'w': data_offsets begin is 18446744073709551612; that is too large");
}

TEST_CASE("safetensors: tensors must tile the data section with no overlap and no hole") {
    TempDir tmp;
    const std::string p = "load_safetensors: '" + tmp.path("bad.safetensors") + "': ";
    const std::string data = f32_bytes({1, 2, 3});  // 12 bytes
    auto error = [&](const std::string& header, const std::string& d) {
        return load_error(tmp, file_bytes(header, d));
    };
    CHECK(error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                data) == p + "tensors 'a' [0, 8] and 'b' [4, 12] overlap in the data section");
    CHECK(error(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                R"("c":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                R"("d":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                data) == p + "tensors 'a' [0, 4] and 'b' [0, 4] overlap in the data section");
    // An empty tensor inside another one's bytes overlaps it too.
    CHECK(error(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
                R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
                data) == p + "tensors 'a' [0, 12] and 'e' [4, 4] overlap in the data section");
    CHECK(error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                data) == p + "bytes [4, 8) of the data section belong to no tensor (the format "
                             "forbids holes); the next tensor is 'b'");
    CHECK(error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", data) ==
          p + "the last 8 bytes of the data section (bytes [4, 12)) belong to no tensor; the "
              "format forbids trailing data");
    CHECK(error("{}", "x") == p + "the last 1 bytes of the data section (bytes [0, 1)) belong to "
                                  "no tensor; the format forbids trailing data");
}

TEST_CASE("safetensors: __metadata__ must map strings to strings") {
    TempDir tmp;
    const std::string p = "load_safetensors: '" + tmp.path("bad.safetensors") + "': ";
    CHECK(load_error(tmp, file_bytes(R"({"__metadata__":[1]})")) ==
          p + "__metadata__ is an array; expected an object of strings");
    CHECK(load_error(tmp, file_bytes(R"({"__metadata__":{"epoch":3}})")) ==
          p + "__metadata__ value of \"epoch\" is 3; metadata values must be strings");
    CHECK(load_error(tmp, file_bytes(R"({"__metadata__":{"a":"b"}})")).empty());
}

TEST_CASE("safetensors: truncating a valid file at any byte throws FileError") {
    TempDir tmp;
    const std::string good = tmp.path("good.safetensors");
    save_safetensors(good, small_tensors(), {{"note", "x"}});
    const std::string bytes = read_bytes(good);
    const size_t header_end = bytes.size() - 40;
    for (const bool use_mmap : {true, false}) {
        CAPTURE(use_mmap);
        ReadMode mode(use_mmap);
        const std::string p = tmp.path("cut.safetensors");
        int wrong = 0;
        for (size_t n = 0; n < bytes.size(); ++n) {
            write_bytes(p, bytes.substr(0, n));
            std::string message;
            try {
                load_safetensors(p);
            } catch (const FileError& e) {
                message = e.what();
            }
            // Which check fires depends on where the cut is.
            const char* expected = n < 8            ? "too short for the 8-byte header length"
                                   : n < header_end ? "runs past the end of the file"
                                                    : "reach past the end of the data section";
            if (message.find(expected) == std::string::npos) {
                ++wrong;
                CAPTURE(n);
                CAPTURE(message);
                CHECK(message.find(expected) != std::string::npos);
            }
        }
        CHECK(wrong == 0);
        write_bytes(p, bytes);
        CHECK(load_safetensors(p).size() == 3);
    }
}

TEST_CASE(
    "safetensors: flipping any bit of the header loads consistent tensors or throws FileError") {
    TempDir tmp;
    const std::string good = tmp.path("good.safetensors");
    const TensorMap original = small_tensors();
    save_safetensors(good, original, {{"note", "x"}});
    const std::string bytes = read_bytes(good);
    const size_t header_end = bytes.size() - 40;
    std::vector<float> all_values;
    for (const auto& entry : original)
        for (const float v : entry.second.to_vector()) all_values.push_back(v);
    std::sort(all_values.begin(), all_values.end());

    for (const bool use_mmap : {true, false}) {
        CAPTURE(use_mmap);
        ReadMode mode(use_mmap);
        const std::string p = tmp.path("flipped.safetensors");
        int loaded = 0, rejected = 0, inconsistent = 0;
        for (size_t i = 0; i < header_end; ++i) {
            for (int bit = 0; bit < 8; ++bit) {
                std::string flipped = bytes;
                flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
                write_bytes(p, flipped);
                try {
                    const TensorMap m = load_safetensors(p);
                    ++loaded;
                    // Whatever loads must be the same 10 numbers under possibly new names/shapes.
                    std::vector<float> values;
                    for (const auto& entry : m)
                        for (const float v : entry.second.to_vector()) values.push_back(v);
                    std::sort(values.begin(), values.end());
                    inconsistent += values != all_values;
                } catch (const FileError&) {
                    ++rejected;
                }
            }
        }
        CHECK(inconsistent == 0);
        CHECK(loaded > 0);  // e.g. a flipped letter in a tensor name or in the metadata
        CHECK(rejected > loaded);
        CHECK(loaded + rejected == static_cast<int>(8 * header_end));
    }
}

// ---- saving errors --------------------------------------------------------------------------

TEST_CASE("safetensors: saving to a path that cannot be opened throws FileError naming it") {
    TempDir tmp;
    const std::string p = tmp.path("no/such/dir/model.safetensors");
    CHECK_THROWS_WITH_AS(save_safetensors(p, small_tensors()),
                         contains("save_safetensors: '" + p + "': cannot create a file in '" +
                                  tmp.path("no/such/dir") + "': No such file or directory"),
                         FileError);
    const std::string dir = tmp.dir.string();
    CHECK_THROWS_WITH_AS(save_safetensors(dir, small_tensors()),
                         contains("save_safetensors: '" + dir + "': is a directory"), FileError);
    CHECK(!fs::exists(dir + ".vitlab-tmp"));
}

TEST_CASE("safetensors: saving refuses the reserved name and names that are not UTF-8") {
    TempDir tmp;
    const std::string p = tmp.path("refused.safetensors");
    const std::string prefix = "save_safetensors: '" + p + "': ";
    CHECK_THROWS_WITH_AS(
        save_safetensors(p, {{"__metadata__", ones({1})}}),
        (prefix + "tensor '__metadata__': the name __metadata__ is reserved").c_str(), FileError);
    CHECK_THROWS_WITH_AS(save_safetensors(p, {{"bad\xff", ones({1})}}),
                         (prefix + "a tensor name is not valid UTF-8").c_str(), FileError);
    CHECK_THROWS_WITH_AS(save_safetensors(p, {}, {{"k", "\xc0\x80"}}),
                         (prefix + "a metadata value is not valid UTF-8").c_str(), FileError);
    CHECK_THROWS_WITH_AS(save_safetensors(p, {}, {{"\xed\xa0\x80", "v"}}),
                         (prefix + "a metadata key is not valid UTF-8").c_str(), FileError);
    CHECK(!fs::exists(p));
}

// ---- hostile headers: bounded memory ---------------------------------------------------------

TEST_CASE("safetensors: header limits: 8 dims, [begin, end], 4096 metadata strings, depth 3") {
    TempDir tmp;
    // 8 dims load; 9 are refused at the ninth size, before the rest of the header is parsed.
    const std::string p = tmp.path("dims.safetensors");
    save_safetensors(p, {{"a", zeros({1, 1, 1, 1, 1, 1, 1, 2})}});
    CHECK(load_safetensors(p).at("a").dim() == 8);
    const std::string nine =
        R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})";
    const std::string e = load_error(tmp, file_bytes(nine, f32_bytes({1})));
    CHECK(e.find("more than 8 elements in the array that starts at byte 28") != std::string::npos);
    CHECK(e.find("shape of at most 8 sizes") != std::string::npos);
    // An entry that is a long array is refused at its ninth element, not after a million.
    std::string long_array = R"({"a":[)";
    for (int i = 0; i < 1000000; ++i) long_array += "0,";
    long_array += "0]}";
    CHECK(load_error(tmp, file_bytes(long_array))
              .find("header byte 22 (file byte 30): more than 8") != std::string::npos);
    // Metadata: 4096 strings load, 4097 do not.
    for (const int n : {4096, 4097}) {
        CAPTURE(n);
        std::map<std::string, std::string> metadata;
        for (int i = 0; i < n; ++i) metadata[std::to_string(i)] = "v";
        const std::string m = tmp.path("meta.safetensors");
        save_safetensors(m, {{"a", zeros({1})}}, metadata);
        if (n == 4096) {
            CHECK(load_safetensors_metadata(m).size() == 4096);
        } else {
            CHECK_THROWS_WITH_AS(load_safetensors_metadata(m),
                                 doctest::Contains("more than 4096 members"), FileError);
        }
    }
}
