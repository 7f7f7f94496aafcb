// tensor.cpp: storage, element access, copies and factories of the Tensor (see tensor.h).
#include "tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <vector>

#include "tensor/autograd.h"

namespace vitlab {

// ---- storage --------------------------------------------------------------------------------

// ---- a cache of large blocks ----------------------------------------------------------------
// Memory fresh from the operating system costs a page fault per 4 KB page on its first write
// (the kernel maps and zeroes the page): about 2 us a page on this project's test machines, so
// 8 ms for a 16 MB buffer, several times a softmax over it. glibc hands large freed blocks back
// to the system, and a ViT-B/16 forward at 384 px then faulted in 34 MB of fresh pages (8,200
// faults, ~1% of its time); a training step of vit_fmnist, which frees every activation in the
// backward and allocates them again in the next forward, faulted ~1,000 pages a step (8% of it).
// A program allocates the same few sizes over and over, so blocks of kCacheMinBytes (128 KB) and
// up are kept when freed and handed out again for a request of the same size, already mapped.
// How much is held unused is bounded by the program itself: at most twice the bytes it ever
// had in use at once in such blocks (and always kCacheFloorBytes). Twice, because the blocks
// freed at the end of a training step are the forward's activations *and* the backward's
// gradients of them, of other sizes: with a bound of once the peak, a vit_fmnist step at batch
// 128 still faulted ~570 pages (a 32 MB bound: ~1,000, 8% of the step); with twice, none, and
// its peak RSS stays 143 MB.
// Sanitizer builds skip the cache, so that AddressSanitizer still sees use-after-free.
#if defined(__SANITIZE_ADDRESS__)
#define VITLAB_BLOCK_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VITLAB_BLOCK_CACHE 0
#endif
#endif
#ifndef VITLAB_BLOCK_CACHE
#define VITLAB_BLOCK_CACHE 1
#endif

namespace {

// 128 KB: glibc's malloc serves smaller blocks from its heap, larger ones with mmap, so
// those fault in fresh pages on every allocation. With 1 MB here, ViT-B/16-224's 605 KB
// activations and packing buffers faulted 570 pages a forward on 1 thread and 3,100 on 2
// (~25 ms of a 145 ms forward on a virtual machine, where a fault is slow); now none.
constexpr size_t kCacheMinBytes = size_t{128} << 10;
constexpr size_t kCacheFloorBytes = size_t{32} << 20;  // may always be held while unused

// Freed blocks, newest last. A request takes the newest block of exactly its size. A freed
// block that would push the total past the limit first pushes out the oldest ones, so the
// sizes the program uses now stay, and sizes it used once (earlier, other work) go back to
// the system. There are a few hundred blocks at most, so plain scans are enough.
class BlockCache {
  public:
    void* take(size_t bytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (size_t i = blocks_.size(); i-- > 0;) {
            if (blocks_[i].bytes != bytes) continue;
            void* p = blocks_[i].data;
            blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(i));
            held_ -= bytes;
            count_lent(bytes);
            return p;
        }
        return nullptr;
    }
    // A block fresh from aligned_alloc, now in use: counted for the bound as a taken one is.
    void add_fresh(size_t bytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        count_lent(bytes);
    }
    void give(void* p, size_t bytes) {
        std::vector<void*> evicted;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            in_use_ -= bytes;
            const size_t limit = std::max(kCacheFloorBytes, 2 * peak_in_use_);
            if (bytes > limit) {
                evicted.push_back(p);
            } else {
                while (held_ + bytes > limit) {  // the oldest blocks make room
                    evicted.push_back(blocks_.front().data);
                    held_ -= blocks_.front().bytes;
                    blocks_.erase(blocks_.begin());
                }
                blocks_.push_back({p, bytes});
                held_ += bytes;
            }
        }
        for (void* q : evicted) std::free(q);  // outside the lock
    }

  private:
    void count_lent(size_t bytes) {  // with mutex_ held
        in_use_ += bytes;
        peak_in_use_ = std::max(peak_in_use_, in_use_);
    }
    struct Block {
        void* data;
        size_t bytes;
    };
    std::mutex mutex_;
    std::vector<Block> blocks_;  // oldest first
    size_t held_ = 0;            // bytes in blocks_
    size_t in_use_ = 0;          // bytes of cache-sized blocks handed out and not yet freed
    size_t peak_in_use_ = 0;
};

// Never destroyed: tensors held by other static objects may be freed after it would have been.
BlockCache& block_cache() {
    static BlockCache* cache = new BlockCache;
    return *cache;
}

}  // namespace

bool storage_cache_enabled() {
    return VITLAB_BLOCK_CACHE;
}

// Storage is 64-byte aligned (one cache line, one AVX-512 register) so SIMD loads of a fresh
// tensor never straddle lines.
static std::shared_ptr<float> allocate(int64_t n) {
    const size_t bytes =
        ((static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float) + 63) / 64) * 64;
    if (VITLAB_BLOCK_CACHE && bytes >= kCacheMinBytes) {
        void* p = block_cache().take(bytes);
        if (!p) {
            p = std::aligned_alloc(64, bytes);
            if (!p) throw std::bad_alloc();
            block_cache().add_fresh(bytes);
        }
        return std::shared_ptr<float>(static_cast<float*>(p),
                                      [bytes](float* q) { block_cache().give(q, bytes); });
    }
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw std::bad_alloc();
    return std::shared_ptr<float>(static_cast<float*>(p), [](float* q) { std::free(q); });
}

static void check_shape(const Shape& shape, const char* op) {
    int64_t n = 1;
    for (int64_t s : shape) {
        if (s < 0)
            throw ShapeError(fmt::format("{}: negative size in shape {}", op, to_string(shape)));
        if (s && n > std::numeric_limits<int64_t>::max() / 4 / s)
            throw ShapeError(fmt::format("{}: shape {} is too large", op, to_string(shape)));
        n *= s;
    }
}

Tensor::Tensor() : Tensor(Shape{0}) {}

Tensor::Tensor(const Shape& shape) {
    check_shape(shape, "Tensor");
    storage_numel_ = vitlab::numel(shape);
    storage_ = allocate(storage_numel_);
    std::memset(storage_.get(), 0, static_cast<size_t>(storage_numel_) * sizeof(float));
    shape_ = shape;
    strides_ = contiguous_strides(shape);
}

Tensor::Tensor(std::shared_ptr<float> storage, int64_t storage_numel, Shape shape, Shape strides,
               int64_t offset)
    : storage_(std::move(storage)),
      storage_numel_(storage_numel),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      offset_(offset) {
    if (shape_.size() != strides_.size())
        throw ShapeError(fmt::format("Tensor: shape {} and strides {} differ in rank",
                                     to_string(shape_), to_string(strides_)));
    check_shape(shape_, "Tensor");
    // Every reachable element must lie inside the storage: the lowest and highest offsets.
    int64_t lo = offset_, hi = offset_;
    bool empty = false;
    for (size_t i = 0; i < shape_.size(); ++i) {
        if (shape_[i] == 0) empty = true;
        const int64_t span = (shape_[i] - 1) * strides_[i];
        (span < 0 ? lo : hi) += span;
    }
    if (!empty && (lo < 0 || hi >= storage_numel_))
        throw IndexError(
            fmt::format("Tensor: view of shape {} with strides {} at offset {} "
                        "reaches outside a storage of {} elements",
                        to_string(shape_), to_string(strides_), offset_, storage_numel_));
}

// ---- what it is -----------------------------------------------------------------------------

static void check_has_dims(const Tensor& t, int64_t d, const char* op) {
    if (t.dim() == 0)
        throw IndexError(fmt::format("{}: dim {} is out of range for a 0-d tensor", op, d));
}

int64_t Tensor::size(int64_t d) const {
    check_has_dims(*this, d, "size");
    return shape_[wrap_dim(d, dim(), "size")];
}
int64_t Tensor::stride(int64_t d) const {
    check_has_dims(*this, d, "stride");
    return strides_[wrap_dim(d, dim(), "stride")];
}

void check_writable(const Tensor& t, const char* op) {
    // An expanded view (stride 0 on a dim longer than 1) maps several elements to one memory
    // location: writing to it would write that location several times. PyTorch refuses too.
    for (int64_t d = 0; d < t.dim(); ++d)
        if (t.strides()[d] == 0 && t.shape()[d] > 1)
            throw std::invalid_argument(fmt::format(
                "{}: cannot write into a tensor of shape {} with strides {}: several elements "
                "share one memory location (an expanded view); clone() it first",
                op, to_string(t.shape()), to_string(t.strides())));
}
int64_t Tensor::numel() const {
    return vitlab::numel(shape_);
}

bool Tensor::is_contiguous() const {
    if (numel() == 0) return true;  // no elements: any strides will do, as in torch
    // Size-1 dims may have any stride (PyTorch agrees), so compare only the others.
    int64_t expected = 1;
    for (size_t i = shape_.size(); i-- > 0;) {
        if (shape_[i] == 1) continue;
        if (shape_[i] == 0) return true;
        if (strides_[i] != expected) return false;
        expected *= shape_[i];
    }
    return true;
}

bool Tensor::shares_storage_with(const Tensor& other) const {
    return storage_ == other.storage_;
}

// ---- elements -------------------------------------------------------------------------------

int64_t Tensor::offset_of(const int64_t* index, size_t n, const char* op) const {
    if (n != shape_.size())
        throw IndexError(fmt::format("{}: got {} indices for a tensor of rank {} and shape {}", op,
                                     n, shape_.size(), to_string(shape_)));
    int64_t off = offset_;
    for (size_t d = 0; d < n; ++d) {
        int64_t i = index[d];
        if (i < -shape_[d] || i >= shape_[d])
            throw IndexError(fmt::format("{}: index {} is out of range for dim {} of size {}", op,
                                         i, d, shape_[d]));
        if (i < 0) i += shape_[d];
        off += i * strides_[d];
    }
    return off;
}

float& Tensor::at(std::initializer_list<int64_t> index) {
    return storage_.get()[offset_of(index.begin(), index.size(), "at")];
}
float Tensor::at(std::initializer_list<int64_t> index) const {
    return storage_.get()[offset_of(index.begin(), index.size(), "at")];
}
float& Tensor::at(const std::vector<int64_t>& index) {
    return storage_.get()[offset_of(index.data(), index.size(), "at")];
}
float Tensor::at(const std::vector<int64_t>& index) const {
    return storage_.get()[offset_of(index.data(), index.size(), "at")];
}

float Tensor::item() const {
    if (numel() != 1)
        throw ShapeError(fmt::format("item: expected a tensor with one element, got shape {}",
                                     to_string(shape_)));
    return *data();
}

// Visits every element's storage offset in row-major order; the innermost dim is a plain loop.
template <typename F>
static void for_each_offset(const Shape& shape, const Shape& strides, int64_t offset, F&& f) {
    const int64_t n = numel(shape);
    if (n == 0) return;
    const size_t rank = shape.size();
    if (rank == 0) {
        f(offset);
        return;
    }
    const int64_t inner = shape[rank - 1], inner_stride = strides[rank - 1];
    std::vector<int64_t> idx(rank, 0);
    for (int64_t done = 0; done < n; done += inner) {
        int64_t base = offset;
        for (size_t d = 0; d + 1 < rank; ++d) base += idx[d] * strides[d];
        for (int64_t i = 0; i < inner; ++i) f(base + i * inner_stride);
        // Advance the outer index like an odometer.
        for (size_t d = rank - 1; d-- > 0;) {
            if (++idx[d] < shape[d]) break;
            idx[d] = 0;
        }
    }
}

std::vector<float> Tensor::to_vector() const {
    std::vector<float> out;
    out.reserve(static_cast<size_t>(numel()));
    const float* s = storage_.get();
    for_each_offset(shape_, strides_, offset_, [&](int64_t o) { out.push_back(s[o]); });
    return out;
}

// ---- copies ---------------------------------------------------------------------------------

Tensor Tensor::contiguous() const {
    return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
    if (autograd::recording(*this))
        return autograd::recorded([&] { return clone(); },
                                  [&](Tensor& out) { autograd::record_clone(out, *this); });
    Tensor out = empty(shape_);
    float* dst = out.data();
    const float* s = storage_.get();
    for_each_offset(shape_, strides_, offset_, [&](int64_t o) { *dst++ = s[o]; });
    return out;
}

Tensor& Tensor::fill_(float value) {
    check_writable(*this, "fill_");
    autograd::check_inplace(*this, "fill_");
    autograd::bump_version(*this);
    float* s = storage_.get();
    for_each_offset(shape_, strides_, offset_, [&](int64_t o) { s[o] = value; });
    return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
    check_writable(*this, "copy_");
    autograd::check_inplace(*this, "copy_");
    autograd::no_backward("copy_ (the source of an in-place copy)", src);
    autograd::bump_version(*this);
    const Shape target = broadcast_shapes(shape_, src.shape(), "copy_");
    if (target != shape_)
        throw ShapeError(fmt::format("copy_: source of shape {} does not broadcast to {}",
                                     to_string(src.shape()), to_string(shape_)));
    // Both contiguous with the same shape: one memmove (correct even if they overlap).
    if (src.shape() == shape_ && src.is_contiguous() && is_contiguous()) {
        if (numel() == 0) return *this;
        std::memmove(data(), src.data(), static_cast<size_t>(numel()) * sizeof(float));
        return *this;
    }
    // Read src through its broadcast view; go through a packed copy in case src aliases us.
    const std::vector<float> values = src.expand(shape_).to_vector();
    float* s = storage_.get();
    size_t i = 0;
    for_each_offset(shape_, strides_, offset_, [&](int64_t o) { s[o] = values[i++]; });
    return *this;
}

// ---- factories ------------------------------------------------------------------------------

Tensor empty(const Shape& shape) {
    check_shape(shape, "empty");
    const int64_t n = numel(shape);
    return Tensor(allocate(n), n, shape, contiguous_strides(shape), 0);
}

Tensor zeros(const Shape& shape) {
    return Tensor(shape);
}

Tensor ones(const Shape& shape) {
    return full(shape, 1.0f);
}

Tensor full(const Shape& shape, float value) {
    Tensor t = empty(shape);
    std::fill(t.data(), t.data() + t.numel(), value);
    return t;
}

Tensor arange(int64_t end) {
    return arange(0.0f, static_cast<float>(end), 1.0f);
}

Tensor arange(float start, float end, float step) {
    if (step == 0.0f || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step))
        throw std::invalid_argument(
            fmt::format("arange: expected finite start, end and a non-zero step, got {}, {}, {}",
                        start, end, step));
    const double count = std::ceil((static_cast<double>(end) - start) / step);
    const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
    Tensor t = empty(Shape{n});
    for (int64_t i = 0; i < n; ++i)
        t.data()[i] = static_cast<float>(start + i * static_cast<double>(step));
    return t;
}

Tensor from_vector(const std::vector<float>& values, const Shape& shape) {
    check_shape(shape, "from_vector");
    if (static_cast<int64_t>(values.size()) != numel(shape))
        throw ShapeError(fmt::format("from_vector: {} values cannot fill shape {} ({} elements)",
                                     values.size(), to_string(shape), numel(shape)));
    Tensor t = empty(shape);
    std::copy(values.begin(), values.end(), t.data());
    return t;
}

Tensor randn(const Shape& shape, Generator& gen) {
    Tensor t = empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = gen.normal();
    return t;
}

Tensor rand_uniform(const Shape& shape, Generator& gen, float low, float high) {
    Tensor t = empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = low + (high - low) * gen.uniform();
    return t;
}

void for_each_index(const Shape& shape,
                    const std::function<void(const std::vector<int64_t>&)>& fn) {
    const int64_t n = numel(shape);
    std::vector<int64_t> idx(shape.size(), 0);
    for (int64_t k = 0; k < n; ++k) {
        fn(idx);
        for (size_t d = shape.size(); d-- > 0;) {
            if (++idx[d] < shape[d]) break;
            idx[d] = 0;
        }
    }
}

bool allclose(const Tensor& a, const Tensor& b, float rtol, float atol) {
    if (a.shape() != b.shape()) return false;
    const auto va = a.to_vector(), vb = b.to_vector();
    for (size_t i = 0; i < va.size(); ++i)
        if (!(std::abs(va[i] - vb[i]) <= atol + rtol * std::abs(vb[i]))) return false;
    return true;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape())
        throw ShapeError(fmt::format("max_abs_diff: shapes {} and {} differ", to_string(a.shape()),
                                     to_string(b.shape())));
    const auto va = a.to_vector(), vb = b.to_vector();
    float m = 0.0f;
    for (size_t i = 0; i < va.size(); ++i) {
        const float d = std::abs(va[i] - vb[i]);
        if (std::isnan(d)) return d;
        m = std::max(m, d);
    }
    return m;
}

}  // namespace vitlab
