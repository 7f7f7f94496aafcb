// tensor.h: the Tensor, float32 numbers seen through a shape, strides and an offset.
//
// Like a torch.Tensor, a Tensor is a *view* of a shared storage (a flat float array):
//   element (i0, i1, ..., ik) lives at  storage[offset + i0*stride0 + ... + ik*stridek].
// transpose, flatten, narrow, select, expand... only change shape/strides/offset; they copy
// nothing and the result aliases its base (writing through one is seen by the other).
// A tensor is contiguous when its strides are the row-major ones of its shape; the fast
// kernels like that, and contiguous() makes a packed copy when needed.
//
// Operators live in tensor/ops/, all declared through one header, tensor/ops.h; this file is
// the data structure only.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensor/index_tensor.h"
#include "tensor/random.h"
#include "tensor/shape.h"

namespace vitlab {

namespace autograd {
struct Meta;  // tensor/autograd.h
}

class Tensor {
  public:
    // An empty 1-d tensor of shape (0), like torch.tensor([]).
    Tensor();
    // A new contiguous tensor of the given shape, filled with zeros.
    explicit Tensor(const Shape& shape);
    // A view on existing storage (used by views and by file loaders that map memory).
    Tensor(std::shared_ptr<float> storage, int64_t storage_numel, Shape shape, Shape strides,
           int64_t offset);

    // ---- what it is ----------------------------------------------------------------------
    const Shape& shape() const { return shape_; }
    const Shape& strides() const { return strides_; }
    int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
    int64_t size(int64_t dim) const;    // negative dims count from the end
    int64_t stride(int64_t dim) const;  // in elements, like torch
    int64_t numel() const;
    int64_t storage_offset() const { return offset_; }
    bool is_contiguous() const;
    bool shares_storage_with(const Tensor& other) const;

    // Pointer to element (0, 0, ..., 0). Use with strides(), or on contiguous tensors only.
    float* data() { return storage_.get() + offset_; }
    const float* data() const { return storage_.get() + offset_; }

    // ---- elements ------------------------------------------------------------------------
    // Bounds-checked access: x.at({0, 5, 3}). Negative indices count from the end.
    float& at(std::initializer_list<int64_t> index);
    float at(std::initializer_list<int64_t> index) const;
    float& at(const std::vector<int64_t>& index);
    float at(const std::vector<int64_t>& index) const;
    // The single value of a one-element tensor.
    float item() const;
    // All elements in logical (row-major) order.
    std::vector<float> to_vector() const;

    // ---- copies --------------------------------------------------------------------------
    Tensor contiguous() const;  // itself if already contiguous, else a packed copy
    Tensor clone() const;       // always a new packed copy
    Tensor& fill_(float value);
    // Copies src into this view elementwise; src broadcasts to this tensor's shape.
    Tensor& copy_(const Tensor& src);

    // ---- views (copy nothing; see views.cpp) ---------------------------------------------
    // One size may be -1 and is inferred. view() requires compatible strides;
    // reshape() returns a view when possible and a copy otherwise, like torch.
    Tensor view(const Shape& shape) const;
    Tensor reshape(const Shape& shape) const;
    Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
    Tensor transpose(int64_t dim0, int64_t dim1) const;
    Tensor permute(const std::vector<int64_t>& dims) const;
    Tensor unsqueeze(int64_t dim) const;
    Tensor squeeze() const;             // drops every size-1 dim
    Tensor squeeze(int64_t dim) const;  // drops dim if its size is 1, else returns itself
    Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
    // Python's x[..., start:end:step] on one dim; end is clamped like Python slicing.
    Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
    Tensor select(int64_t dim, int64_t index) const;  // removes dim, like x[:, index]
    Tensor expand(const Shape& shape) const;          // size-1 dims become stride 0; -1 keeps

    // ---- operators as methods (defined with their free functions in tensor/ops/) ----------
    Tensor matmul(const Tensor& other) const;
    Tensor softmax(int64_t dim) const;
    Tensor sum(int64_t dim, bool keepdim = false) const;
    Tensor mean(int64_t dim, bool keepdim = false) const;
    Tensor max(int64_t dim, bool keepdim = false) const;          // values only
    IndexTensor argmax(int64_t dim, bool keepdim = false) const;  // int64 positions
    Tensor add(const Tensor& other) const;
    Tensor sub(const Tensor& other) const;
    Tensor mul(const Tensor& other) const;
    Tensor div(const Tensor& other) const;

    // ---- autograd (tensor/autograd.h; defined in tensor/autograd.cpp) ---------------------
    bool requires_grad() const;
    Tensor& requires_grad_(bool requires_grad = true);  // leaves only, as in PyTorch
    bool is_leaf() const;                               // made by no recorded op
    Tensor grad() const;    // dloss/dthis after backward(); an empty Tensor() before
    void zero_grad();       // back to no grad (PyTorch's x.grad = None)
    void backward() const;  // this must have one element: d(this)/d(this) = 1
    void backward(const Tensor& gradient, bool retain_graph = false) const;
    Tensor detach() const;             // same storage, no history, requires no grad
    const char* grad_fn_name() const;  // the op that made it ("MulBackward"), "" for a leaf
    const void* storage_id() const { return storage_.get(); }
    const std::shared_ptr<autograd::Meta>& autograd_meta() const { return autograd_; }
    void set_autograd_meta(std::shared_ptr<autograd::Meta> meta) { autograd_ = std::move(meta); }

  private:
    std::shared_ptr<float> storage_;
    int64_t storage_numel_ = 0;
    Shape shape_;
    Shape strides_;
    int64_t offset_ = 0;
    std::shared_ptr<autograd::Meta> autograd_;  // null until autograd needs it

    int64_t offset_of(const int64_t* index, size_t n, const char* op) const;
};

// Tensors by name, sorted: a state dict (nn::Module::state_dict) and the contents of a
// .safetensors file (tensor/io/safetensors.h) alike.
using TensorMap = std::map<std::string, Tensor>;

// Throws std::invalid_argument when t is an expanded view (stride 0 on a dim of size > 1),
// where an in-place write would hit one memory location several times.
void check_writable(const Tensor& t, const char* op);

// ---- factories -----------------------------------------------------------------------------
Tensor empty(const Shape& shape);  // uninitialised storage; fill it before reading

// Whether freed storage blocks of 128 KB and up are kept and handed out again for the next
// request of the same size (tensor.cpp); off in AddressSanitizer builds.
bool storage_cache_enabled();
Tensor zeros(const Shape& shape);
Tensor ones(const Shape& shape);
Tensor full(const Shape& shape, float value);
// 0, 1, ..., end-1 and start, start+step, ... (< end), as in torch.arange.
Tensor arange(int64_t end);
Tensor arange(float start, float end, float step = 1.0f);
// values laid out row-major in shape; the counts must agree.
Tensor from_vector(const std::vector<float>& values, const Shape& shape);
// Standard normal numbers from gen (see random.h): same seed, same tensor, every machine.
Tensor randn(const Shape& shape, Generator& gen);
// Uniform numbers in [low, high).
Tensor rand_uniform(const Shape& shape, Generator& gen, float low = 0.0f, float high = 1.0f);

// Calls fn(index) for every index of shape in row-major order (for naive kernels and tests).
void for_each_index(const Shape& shape, const std::function<void(const std::vector<int64_t>&)>& fn);

// True when a and b have the same shape and every |a - b| <= atol + rtol * |b| (torch.allclose).
bool allclose(const Tensor& a, const Tensor& b, float rtol = 1e-5f, float atol = 1e-8f);
// Largest |a - b| over all elements (shapes must match).
float max_abs_diff(const Tensor& a, const Tensor& b);

}  // namespace vitlab
