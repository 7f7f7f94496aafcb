// safetensors.cpp: loading and saving .safetensors files (format in safetensors.h).
//
// Loading happens in three steps, each its own function, so that where the bytes come from is
// independent of what they mean:
//   1. get the bytes   map_file: a regular file is mapped (POSIX mmap) or read whole; a pipe,
//                      FIFO or device (read_stream) is read in steps: the 8-byte length, the
//                      header, then exactly the data the header describes
//   2. parse_header    validate everything from a byte span: length, JSON, every entry
//   3. make_tensors    F32 tensors alias the file's bytes when aligned; F16/BF16 are converted
// Step 2 never touches the data section and step 3 runs only on a fully validated header, so
// a hostile file cannot make us read out of bounds. Files are opened with input_file.h, so a
// FIFO without a writer cannot block us and /dev/zero is refused after 8 bytes.
//
// What we accept (the rules of the reference Rust implementation, plus a few stricter ones):
//   - the header starts with '{', is strict JSON (see json.h), and may be padded with spaces;
//   - each tensor entry has exactly "dtype", "shape" and "data_offsets"; dtype is F32, F16 or
//     BF16; sizes and offsets are non-negative integer literals; a shape has at most 8 sizes;
//   - end - begin == numel * dtype size, and the tensors tile the data section exactly: no
//     overlaps and no holes (bytes that belong to no tensor), to the last byte of the file.
//   - "__metadata__", when present, maps at most 4096 strings to strings.
// The header is parsed member by member (json::parse_object_members) with those limits, so
// memory stays a small multiple of its size: the parsed JSON of the whole header is never held.
//
// Memory mapping: F32 tensors point into a private (copy-on-write) mapping, so loading a
// checkpoint copies nothing and writing to a tensor never changes the file. The mapping lives as
// long as any tensor of the file. Another program truncating the file while it is mapped makes
// the next touch of a lost page raise SIGBUS; a program can turn that into one line and exit
// status 2 with install_truncation_handler() (the vit command does). save_safetensors writes a
// new file and renames it over the old one, so save_safetensors(path, load_safetensors(path))
// is safe. Set VITLAB_NO_MMAP=1 to read into a heap buffer instead (same aliasing).
#include "tensor/io/safetensors.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <vector>

#include "tensor/io/input_file.h"
#include "tensor/io/json.h"
#include "tensor/io/output_file.h"

namespace vitlab {

namespace {

// ---- half and bfloat16 ----------------------------------------------------------------------

// float16 is 1 sign, 5 exponent (bias 15) and 10 mantissa bits; float32 is 1, 8 (bias 127), 23.
// Every float16 is exactly a float32, so this is a rearrangement of bits, never a rounding.
float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1Fu;
    uint32_t mantissa = h & 0x3FFu;
    uint32_t bits;
    if (exponent == 0x1F && mantissa == 0) {
        bits = sign | 0x7F800000u;  // inf
    } else if (exponent == 0x1F) {
        // NaN: keep the payload and set the quiet bit, as IEEE conversions (x86's vcvtph2ps,
        // hence PyTorch) do.
        bits = sign | 0x7FC00000u | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;  // +0 or -0
    } else {
        // Subnormal: mantissa * 2^-24. Shift until the leading 1 reaches the implicit-bit
        // position (bit 10); each shift lowers the exponent by one. The result is a normal float32.
        int shift = 0;
        while (!(mantissa & 0x400u)) mantissa <<= 1, ++shift;
        bits = sign | (static_cast<uint32_t>(127 - 14 - shift) << 23) | ((mantissa & 0x3FFu) << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// bfloat16 is the top half of a float32 (same 8-bit exponent), so widening is a shift; zeros,
// subnormals, inf and NaN all come out right by themselves (NaNs unchanged, as in PyTorch).
float bfloat16_to_float(uint16_t b) {
    const uint32_t bits = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// The file is little-endian; these read it so on any host.
uint16_t load_u16(const unsigned char* p) {
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t load_u32(const unsigned char* p) {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t load_u64(const unsigned char* p) {
    return static_cast<uint64_t>(load_u32(p)) | (static_cast<uint64_t>(load_u32(p + 4)) << 32);
}

bool host_is_little_endian() {
    const uint32_t one = 1;
    unsigned char first;
    std::memcpy(&first, &one, 1);
    return first == 1;
}

// Builds every message, so they all read "load_safetensors: 'path': tensor 'name': what".
struct Context {
    const char* op;
    const std::string& path;

    [[noreturn]] void fail(const std::string& what) const {
        throw FileError(fmt::format("{}: '{}': {}", op, path, what));
    }
    [[noreturn]] void fail(const std::string& tensor, const std::string& what) const {
        fail(fmt::format("tensor '{}': {}", tensor, what));
    }
};

// ---- step 1: where the bytes come from ------------------------------------------------------

struct FileBytes {
    unsigned char* data = nullptr;
    uint64_t size = 0;
    std::shared_ptr<void> owner;  // a mapping or a heap buffer; tensors share it
};

// A 64-byte aligned buffer like Tensor storage, so aliased F32 tensors are as aligned as the file.
FileBytes heap_bytes(uint64_t size) {
    const size_t capacity = ((static_cast<size_t>(size) + 63) / 64 + 1) * 64;
    void* p = std::aligned_alloc(64, capacity);
    if (!p) throw std::bad_alloc();
    FileBytes f;
    f.owner = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    f.data = static_cast<unsigned char*>(p);
    f.size = size;
    return f;
}

// A regular file, read whole.
FileBytes read_regular(InputFile& in, const Context& ctx) {
    FileBytes f = heap_bytes(in.size());
    const size_t got = in.read(f.data, static_cast<size_t>(f.size));
    if (got != f.size)
        ctx.fail(fmt::format("could read only {} of its {} bytes (did it shrink?)", got, f.size));
    return f;
}

// ---- a file truncated while it is mapped ----------------------------------------------------

// Touching a page of a mapping past the end of its (since truncated) file raises SIGBUS. The
// handler that install_truncation_handler() sets up finds the mapping the address lies in and
// reports its file instead of dying with "Bus error". It may only use async-signal-safe calls,
// so the mappings live in a fixed table of plain values.
struct MappedRange {
    std::atomic<uintptr_t> begin{0};  // 0: a free slot
    uintptr_t end = 0;
    char path[512] = {};
};
MappedRange g_mappings[64];
std::mutex g_mappings_mutex;
char g_program[64] = "vitlab";

void remember_mapping(const void* p, size_t size, const std::string& path) {
    std::lock_guard<std::mutex> lock(g_mappings_mutex);
    for (MappedRange& m : g_mappings) {
        if (m.begin.load() != 0) continue;
        m.end = reinterpret_cast<uintptr_t>(p) + size;
        const size_t n = std::min(path.size(), sizeof m.path - 1);
        std::memcpy(m.path, path.data(), n);
        m.path[n] = '\0';
        m.begin.store(reinterpret_cast<uintptr_t>(p));
        return;
    }  // the table is full: this mapping goes unreported, a crash as before
}

void forget_mapping(const void* p) {
    std::lock_guard<std::mutex> lock(g_mappings_mutex);
    for (MappedRange& m : g_mappings)
        if (m.begin.load() == reinterpret_cast<uintptr_t>(p)) m.begin.store(0);
}

void write_stderr(const char* s) {
    size_t n = std::strlen(s);
    while (n > 0) {
        const ssize_t w = ::write(2, s, n);
        if (w <= 0) return;
        s += w;
        n -= static_cast<size_t>(w);
    }
}

void on_sigbus(int signal, siginfo_t* info, void*) {
    const auto address = reinterpret_cast<uintptr_t>(info->si_addr);
    for (const MappedRange& m : g_mappings) {
        const uintptr_t begin = m.begin.load();
        if (begin != 0 && address >= begin && address < m.end) {
            write_stderr(g_program);
            write_stderr(": '");
            write_stderr(m.path);
            write_stderr(
                "': the file changed while it was in use (another program truncated it or "
                "rewrote it in place); run again on a complete file\n");
            ::_exit(2);
        }
    }
    // Not one of our mappings: the default action (a core dump) once the handler returns and
    // the access is retried.
    ::signal(signal, SIG_DFL);
}

bool mmap_disabled() {
    const char* v = std::getenv("VITLAB_NO_MMAP");
    return v && *v && std::strcmp(v, "0") != 0;
}

// ---- step 2: the header ----------------------------------------------------------------------

enum class DType { F32, F16, BF16 };

struct DTypeInfo {
    const char* name;
    DType dtype;
    uint64_t itemsize;
};

constexpr DTypeInfo kDTypes[] = {
    {"F32", DType::F32, 4}, {"F16", DType::F16, 2}, {"BF16", DType::BF16, 2}};
constexpr const char* kSupported = "F32, F16, BF16";

// The reference implementation's limit; a real header is a few kilobytes.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// What a header can hold, so that memory stays a small multiple of its size: the root object
// (1) of entries (2) whose shape and data_offsets are arrays (3); a shape of at most kMaxDims
// sizes (PyTorch allows 64, no model here uses more than 5); metadata of at most
// kMaxMetadataEntries strings (real files have one or two).
constexpr size_t kMaxDims = 8;
constexpr size_t kMaxMetadataEntries = 4096;
const json::Limits kHeaderLimits{3, kMaxDims, kMaxMetadataEntries};

struct Entry {
    std::string name;
    DTypeInfo dtype;
    Shape shape;
    uint64_t begin = 0, end = 0;  // byte range in the data section
};

struct Header {
    std::vector<Entry> entries;  // in data order
    std::map<std::string, std::string> metadata;
    uint64_t data_start = 0;  // 8 + header length
    uint64_t data_size = 0;
};

// How a JSON value looks in a message: numbers as written, anything else by its type.
std::string describe(const json::Value& v) {
    switch (v.type()) {
        case json::Type::Number:
            return v.number_text();
        case json::Type::Null:
            return "null";
        case json::Type::Array:
            return "an array";
        case json::Type::Object:
            return "an object";
        default:
            return std::string("a ") + json::type_name(v.type());
    }
}

// A non-negative integer literal that fits in int64 (sizes, offsets), or an error naming `what`.
// "2.0" and "1e3" are refused: the reference implementation reads these as integers only.
uint64_t size_value(const json::Value& v, const Context& ctx, const std::string& tensor,
                    const std::string& what) {
    const auto fail = [&](const char* why) {
        ctx.fail(tensor, fmt::format("{} is {}; {}", what, describe(v), why));
    };
    if (!v.is(json::Type::Number) || v.number_text().find_first_of(".eE") != std::string::npos)
        fail("expected a non-negative integer");
    const std::optional<int64_t> i = v.as_int64();
    if (v.number_text()[0] == '-' && (!i || *i < 0)) fail("it must not be negative");
    if (!i) fail("that is too large");
    return static_cast<uint64_t>(*i);
}

Entry parse_entry(const std::string& name, const json::Value& v, const Context& ctx) {
    if (!v.is(json::Type::Object))
        ctx.fail(name, fmt::format("entry is {}, not an object with dtype, shape and data_offsets",
                                   describe(v)));
    for (const auto& member : v.as_object()) {
        const std::string& key = member.first;
        if (key != "dtype" && key != "shape" && key != "data_offsets")
            ctx.fail(name, fmt::format("unexpected key {} (an entry has only dtype, shape and "
                                       "data_offsets)",
                                       json::quote(key)));
    }
    const json::Value* dtype = v.find("dtype");
    const json::Value* shape = v.find("shape");
    const json::Value* offsets = v.find("data_offsets");
    for (const auto& [key, found] :
         {std::pair{"dtype", dtype}, std::pair{"shape", shape}, std::pair{"data_offsets", offsets}})
        if (!found) ctx.fail(name, fmt::format("missing \"{}\"", key));

    Entry e;
    e.name = name;
    if (!dtype->is(json::Type::String))
        ctx.fail(name,
                 fmt::format("dtype is {}; expected a string such as \"F32\"", describe(*dtype)));
    const std::string& dtype_name = dtype->as_string();
    auto known = std::find_if(std::begin(kDTypes), std::end(kDTypes),
                              [&](const DTypeInfo& d) { return dtype_name == d.name; });
    if (known == std::end(kDTypes))
        ctx.fail(name, fmt::format("unknown dtype {} (supported: {})", json::quote(dtype_name),
                                   kSupported));
    e.dtype = *known;

    if (!shape->is(json::Type::Array))
        ctx.fail(name, fmt::format("shape is {}; expected an array of sizes", describe(*shape)));
    const auto& sizes = shape->as_array();
    for (size_t i = 0; i < sizes.size(); ++i)
        e.shape.push_back(static_cast<int64_t>(
            size_value(sizes[i], ctx, name, fmt::format("shape entry {}", i))));
    // Same bound as the Tensor constructor (numel * 4 bytes must fit in int64), checked on the
    // running product so that no multiplication can overflow.
    int64_t numel = 1;
    for (const int64_t s : e.shape) {
        if (s && numel > std::numeric_limits<int64_t>::max() / 4 / s)
            ctx.fail(name, fmt::format("shape {} has too many elements", to_string(e.shape)));
        numel *= s;
    }

    if (!offsets->is(json::Type::Array) || offsets->as_array().size() != 2)
        ctx.fail(name,
                 fmt::format("data_offsets is {}; expected [begin, end]",
                             offsets->is(json::Type::Array)
                                 ? fmt::format("an array of {} values", offsets->as_array().size())
                                 : describe(*offsets)));
    e.begin = size_value(offsets->as_array()[0], ctx, name, "data_offsets begin");
    e.end = size_value(offsets->as_array()[1], ctx, name, "data_offsets end");
    if (e.begin > e.end)
        ctx.fail(name, fmt::format("data_offsets [{}, {}] begin after they end", e.begin, e.end));
    const uint64_t needed = static_cast<uint64_t>(numel) * e.dtype.itemsize;
    if (e.end - e.begin != needed)
        ctx.fail(name, fmt::format("data_offsets [{}, {}] hold {} bytes but shape {} of {} needs "
                                   "{} bytes",
                                   e.begin, e.end, e.end - e.begin, to_string(e.shape),
                                   e.dtype.name, needed));
    return e;
}

std::map<std::string, std::string> parse_metadata(const json::Value& v, const Context& ctx) {
    if (!v.is(json::Type::Object))
        ctx.fail(fmt::format("__metadata__ is {}; expected an object of strings", describe(v)));
    std::map<std::string, std::string> metadata;
    for (const auto& [key, value] : v.as_object()) {
        if (!value.is(json::Type::String))
            ctx.fail(fmt::format("__metadata__ value of {} is {}; metadata values must be strings",
                                 json::quote(key), describe(value)));
        metadata[key] = value.as_string();
    }
    return metadata;
}

// Everything about a file that can be checked without its data.
// size_known = false (a stream): bytes holds only the length and the header, and the data
// section is taken to be exactly what the entries tile.
Header parse_header(const unsigned char* bytes, uint64_t size, const Context& ctx,
                    bool size_known = true) {
    if (size < 8)
        ctx.fail(fmt::format("file is {} bytes, too short for the 8-byte header length", size));
    // A file of another format gives a huge "length" here, a truncated one a too long one.
    const uint64_t n = load_u64(bytes);
    if (n > kMaxHeaderBytes)
        ctx.fail(
            fmt::format("header length {} is absurdly large (the limit is {} bytes); is this "
                        "a .safetensors file?",
                        n, kMaxHeaderBytes));
    if (n == 0)
        ctx.fail(
            "header length is 0 (the file starts with 8 zero bytes); is this a .safetensors "
            "file?");
    if (n > size - 8)
        ctx.fail(
            fmt::format("header length {} runs past the end of the file ({} bytes, so at "
                        "most {} bytes of header); is the file truncated?",
                        n, size, size - 8));
    const std::string_view text(reinterpret_cast<const char*>(bytes + 8), n);

    const auto malformed = [&](const json::ParseError& e) {
        std::string reason = e.reason;
        if (reason.find("the limit for this document") != std::string::npos)
            reason += fmt::format(
                "; a safetensors header holds objects of tensors (dtype, shape of at most {} "
                "sizes, data_offsets [begin, end]) and at most {} metadata strings",
                kMaxDims, kMaxMetadataEntries);
        ctx.fail(fmt::format("malformed JSON header at header byte {} (file byte {}): {}",
                             e.position, e.position + 8, reason));
    };
    if (text.empty() || text[0] != '{') {
        // Only to say what the header is instead of an object.
        try {
            const json::Value root = json::parse(text, kHeaderLimits);
            if (!root.is(json::Type::Object))
                ctx.fail(fmt::format("header is {}, not a JSON object", describe(root)));
        } catch (const json::ParseError& e) {
            malformed(e);
        }
        ctx.fail("header must begin with '{' (whitespace is allowed only after the object)");
    }

    // Member by member, each entry checked as soon as it is read: the parsed JSON of the whole
    // header is never held (a value costs ~100 bytes however short its text).
    Header h;
    h.data_start = 8 + n;
    h.data_size = size_known ? size - h.data_start : std::numeric_limits<uint64_t>::max() - n;
    try {
        json::parse_object_members(text, kHeaderLimits, [&](std::string name, json::Value value) {
            if (name == "__metadata__") {
                h.metadata = parse_metadata(value, ctx);
                return;
            }
            Entry e = parse_entry(name, value, ctx);
            if (e.end > h.data_size)
                ctx.fail(name, fmt::format("data_offsets [{}, {}] reach past the end of the data "
                                           "section ({} bytes); is the file truncated?",
                                           e.begin, e.end, h.data_size));
            h.entries.push_back(std::move(e));
        });
    } catch (const json::ParseError& e) {
        malformed(e);
    }

    // The tensors must tile the data section: sorted by offset, each starts where the previous
    // one ended. An empty tensor sorts before a full one at the same offset.
    std::sort(h.entries.begin(), h.entries.end(), [](const Entry& a, const Entry& b) {
        return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
    });
    uint64_t covered = 0;
    const Entry* previous = nullptr;
    for (const Entry& e : h.entries) {
        if (e.begin < covered)
            ctx.fail(fmt::format(
                "tensors '{}' [{}, {}] and '{}' [{}, {}] overlap in the data "
                "section",
                previous->name, previous->begin, previous->end, e.name, e.begin, e.end));
        if (e.begin > covered)
            ctx.fail(
                fmt::format("bytes [{}, {}) of the data section belong to no tensor (the "
                            "format forbids holes); the next tensor is '{}'",
                            covered, e.begin, e.name));
        covered = e.end;
        previous = &e;
    }
    if (!size_known) h.data_size = covered;
    if (covered != h.data_size)
        ctx.fail(
            fmt::format("the last {} bytes of the data section (bytes [{}, {})) belong to no "
                        "tensor; the format forbids trailing data",
                        h.data_size - covered, covered, h.data_size));
    return h;
}

// ---- step 1, continued: streams need the header to know how much to read ---------------

// A pipe, FIFO or device: its size is unknown, so read the 8-byte length, then the header, then
// exactly the data the header describes. /dev/zero stops after 8 bytes (a header length of 0),
// /dev/urandom after 8 (an absurd length); parse_header then says what is wrong.
FileBytes read_stream(InputFile& in, const Context& ctx) {
    unsigned char start[8];
    const size_t got = in.read(start, 8);
    const uint64_t n = got == 8 ? load_u64(start) : 0;
    const auto prefix = [&](uint64_t size) {
        FileBytes f = heap_bytes(size);
        std::memcpy(f.data, start, got);
        return f;
    };
    if (got < 8 || n == 0 || n > kMaxHeaderBytes) return prefix(got);
    std::string header;
    in.read_into(header, static_cast<size_t>(n));
    if (header.size() < n || header[0] != '{') {  // truncated, or not JSON: parse_header says so
        FileBytes f = prefix(8 + header.size());
        std::memcpy(f.data + 8, header.data(), header.size());
        return f;
    }
    FileBytes f = prefix(8 + n);
    std::memcpy(f.data + 8, header.data(), n);
    const uint64_t data_size = parse_header(f.data, f.size, ctx, /*size_known=*/false).data_size;
    try {
        f = prefix(8 + n + data_size);
    } catch (const std::bad_alloc&) {
        ctx.fail(fmt::format("its header describes {} bytes of data, more than fits in memory",
                             data_size));
    }
    std::memcpy(f.data + 8, header.data(), n);
    const size_t data_got = in.read(f.data + 8 + n, static_cast<size_t>(data_size));
    if (data_got != data_size)
        ctx.fail(
            fmt::format("the stream ended after {} of the {} data bytes its header "
                        "describes; is it truncated?",
                        data_got, data_size));
    unsigned char extra;
    if (in.read(&extra, 1) != 0)
        ctx.fail("more bytes follow the last tensor; the format forbids trailing data");
    return f;
}

FileBytes map_file(const Context& ctx) {
    InputFile in(ctx.path, [&ctx](const std::string& why) { ctx.fail(why); });
    if (!in.regular()) return read_stream(in, ctx);
    if (mmap_disabled() || in.size() == 0) return read_regular(in, ctx);
    const auto size = static_cast<size_t>(in.size());
    // Private and writable: writes to a tensor land in copy-on-write pages, never in the file.
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, in.fd(), 0);
    if (p == MAP_FAILED) return read_regular(in, ctx);
    remember_mapping(p, size, ctx.path);
    FileBytes f;
    f.size = size;
    f.data = static_cast<unsigned char*>(p);
    f.owner = std::shared_ptr<void>(p, [size](void* q) {
        forget_mapping(q);
        ::munmap(q, size);
    });
    return f;
}

// ---- step 3: tensors from validated entries -------------------------------------------------

Tensor make_tensor(const Entry& e, const FileBytes& file, const Header& h, const Context& ctx) {
    const int64_t n = numel(e.shape);
    const Shape strides = contiguous_strides(e.shape);
    unsigned char* src = file.data + h.data_start + e.begin;
    try {
        if (n == 0) return Tensor(e.shape);
        const bool aligned = reinterpret_cast<uintptr_t>(src) % alignof(float) == 0;
        if (e.dtype.dtype == DType::F32 && aligned && host_is_little_endian()) {
            // Alias: the storage pointer shares ownership of the whole file's bytes.
            std::shared_ptr<float> storage(file.owner, reinterpret_cast<float*>(src));
            return Tensor(std::move(storage), n, e.shape, strides, 0);
        }
        Tensor t(e.shape);
        float* dst = t.data();
        switch (e.dtype.dtype) {
            case DType::F32:
                for (int64_t i = 0; i < n; ++i) {
                    const uint32_t bits = load_u32(src + 4 * i);
                    std::memcpy(dst + i, &bits, sizeof(float));
                }
                break;
            case DType::F16:
                for (int64_t i = 0; i < n; ++i) dst[i] = half_to_float(load_u16(src + 2 * i));
                break;
            case DType::BF16:
                for (int64_t i = 0; i < n; ++i) dst[i] = bfloat16_to_float(load_u16(src + 2 * i));
                break;
        }
        return t;
    } catch (const std::logic_error& err) {  // ShapeError, IndexError: should be unreachable
        ctx.fail(e.name, err.what());
    }
}

// ---- saving ---------------------------------------------------------------------------------

std::string quoted(const std::string& s, const Context& ctx, const std::string& what) {
    try {
        return json::quote(s);
    } catch (const std::invalid_argument&) {
        ctx.fail(fmt::format("{} is not valid UTF-8", what));
    }
}

// {"__metadata__":{...},"name":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},...}
// padded with spaces so the data section starts at a multiple of 8 bytes.
std::string make_header(const TensorMap& tensors,
                        const std::map<std::string, std::string>& metadata, const Context& ctx) {
    std::string h = "{";
    if (!metadata.empty()) {
        h += "\"__metadata__\":{";
        bool first = true;
        for (const auto& [key, value] : metadata) {
            if (!first) h += ',';
            first = false;
            h += quoted(key, ctx, "a metadata key");
            h += ':';
            h += quoted(value, ctx, "a metadata value");
        }
        h += '}';
    }
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {  // std::map: sorted by name
        if (name == "__metadata__") ctx.fail(name, "the name __metadata__ is reserved");
        if (h.size() > 1) h += ',';
        h += quoted(name, ctx, "a tensor name");
        h += ":{\"dtype\":\"F32\",\"shape\":[";
        for (int64_t d = 0; d < t.dim(); ++d) {
            if (d) h += ',';
            h += json::number(t.size(d));
        }
        const uint64_t bytes = static_cast<uint64_t>(t.numel()) * sizeof(float);
        h += "],\"data_offsets\":[" + std::to_string(offset) + "," +
             std::to_string(offset + bytes) + "]}";
        offset += bytes;
    }
    h += '}';
    h.append((8 - h.size() % 8) % 8, ' ');
    return h;
}

// Writes t's elements in logical (row-major) order as little-endian float32.
void write_f32(OutputFile& out, const Tensor& t) {
    const Tensor c = t.contiguous();
    const float* p = c.data();
    constexpr int64_t kChunk = 16384;
    std::vector<unsigned char> buffer(kChunk * 4);
    for (int64_t start = 0; start < c.numel(); start += kChunk) {
        const int64_t count = std::min(kChunk, c.numel() - start);
        for (int64_t i = 0; i < count; ++i) {
            uint32_t bits;
            std::memcpy(&bits, p + start + i, sizeof bits);
            for (int b = 0; b < 4; ++b)
                buffer[4 * i + b] = static_cast<unsigned char>(bits >> (8 * b));
        }
        out.write(buffer.data(), static_cast<size_t>(count) * 4);
    }
}

}  // namespace

// ---- public API -----------------------------------------------------------------------------

TensorMap load_safetensors(const std::string& path, SafetensorsHeader* header) {
    const Context ctx{"load_safetensors", path};
    const FileBytes file = map_file(ctx);
    const Header h = parse_header(file.data, file.size, ctx);
    TensorMap tensors;
    for (const Entry& e : h.entries) tensors.emplace(e.name, make_tensor(e, file, h, ctx));
    if (header) {
        header->tensors.clear();
        for (const Entry& e : h.entries) header->tensors.push_back({e.name, e.dtype.name, e.shape});
        header->metadata = h.metadata;
    }
    return tensors;
}

void release_pages(const Tensor& t) {
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    auto begin = reinterpret_cast<uintptr_t>(t.data());
    auto end = begin + static_cast<uintptr_t>(t.numel()) * sizeof(float);
    begin = (begin + page - 1) / page * page;
    end = end / page * page;
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

void install_truncation_handler(const char* program) {
    const size_t n = std::min(std::strlen(program), sizeof g_program - 1);
    std::memcpy(g_program, program, n);
    g_program[n] = '\0';
    struct sigaction action {};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, nullptr);
}

std::map<std::string, std::string> load_safetensors_metadata(const std::string& path) {
    const Context ctx{"load_safetensors_metadata", path};
    const FileBytes file = map_file(ctx);
    return parse_header(file.data, file.size, ctx).metadata;
}

void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata) {
    const Context ctx{"save_safetensors", path};
    const std::string header = make_header(tensors, metadata, ctx);

    // A temporary file renamed over path (output_file.h): readers (and mappings of the old
    // file) never see a half-written file, and a device, FIFO or symbolic link given as path is
    // refused or followed, never replaced.
    OutputFile out(path, {}, ctx.op);
    unsigned char length[8];
    for (int b = 0; b < 8; ++b)
        length[b] = static_cast<unsigned char>(uint64_t{header.size()} >> (8 * b));
    out.write(length, 8);
    out.write(header.data(), header.size());
    for (const auto& entry : tensors) write_f32(out, entry.second);
    out.commit();
}

}  // namespace vitlab
