// autograd.h: a small tape, so that loss.backward() fills every leaf's grad(), as in PyTorch.
//
// Each operator's gradient is a plain function (tensor/ops/*_backward.h). The tape only
// remembers, while the forward runs, which op made which tensor from which inputs, and what
// it needs for its backward; backward() then calls those functions in reverse order:
//
//   Tensor w = randn({3, 4}, gen).requires_grad_();      a leaf: grad() is filled
//   Tensor loss = cross_entropy(linear(x, w, b), target);   each op records a Node
//   loss.backward();                                      w.grad() is dloss/dw, (3, 4)
//
//   x ──linear──> logits ──cross_entropy──> loss
//        Node{inputs: x, w, b; saved: x, w}     Node{inputs: logits; saved: logits, target}
//
// The rules are PyTorch's:
//   - An op records only when grad mode is on (no NoGrad guard alive) and one of its inputs
//     requires grad; otherwise it runs exactly as before: inference pays one check per op and
//     keeps nothing. Parameters do NOT require grad by default here (unlike PyTorch), so the
//     inference code needs no NoGrad: call module.requires_grad_() to train.
//   - Gradients accumulate: a second backward() adds to grad(); clear it with zero_grad().
//   - A graph is freed by the backward that walks it (its saved tensors released);
//     backward(gradient, retain_graph = true) keeps it. A second walk through a freed graph
//     throws.
//   - backward() of a tensor with more than one element needs the gradient of that tensor.
//   - Changing a tensor in place (copy_, fill_, +=, *=) after an op saved it for backward
//     makes that backward throw: every storage has a version counter, and the tape remembers
//     the version it saved (only storages saved by a live graph are counted).
//   - x += y on a recorded tensor records an add (x then names the new value); copy_ and
//     fill_ into a recorded tensor throw instead of recording, as do ops without a backward
//     (max, topk, exp, a packed weight).
// Writes through data() or at(), and softmax_ (a kernel, not an op), are invisible to the
// tape, as PyTorch's .data is.
// Read autograd.cpp for the backward walk, autograd_ops.cpp for what each op records.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace vitlab {

// A backward that cannot run: graph freed, saved tensor changed in place, no grad to start.
struct AutogradError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

namespace autograd {

// torch.no_grad(): while one is alive on this thread, no op records (thread-local, as PyTorch).
class NoGrad {
  public:
    NoGrad();
    ~NoGrad();
    NoGrad(const NoGrad&) = delete;
    NoGrad& operator=(const NoGrad&) = delete;
};
bool grad_enabled();

struct Node;

// What a tensor knows about gradients. Copies of a Tensor share it (like two names for one
// Python tensor); a view or an op's result gets its own.
struct Meta {
    bool requires_grad = false;
    bool has_grad = false;
    Tensor grad;                    // leaves only, once backward() reached them
    std::shared_ptr<Node> grad_fn;  // the op that made this tensor; null for a leaf
    bool is_view = false;           // made by a view op: shares storage with its input
};

// A tensor an op keeps for its backward, with the version of its storage at that time.
struct Saved {
    Tensor tensor;
    uint64_t version = 0;
};

// One recorded op. backward(dy, node) returns one gradient per input (an empty Tensor() for
// an input that needs none, see needs()).
struct Node {
    using Fn = std::function<std::vector<Tensor>(const Tensor& dy, const Node& node)>;
    const char* name = "";
    std::vector<std::shared_ptr<Meta>> inputs;  // null where the input does not require grad
    std::vector<Shape> input_shapes;
    std::vector<Saved> saved;
    Fn backward;
    bool released = false;

    bool needs(size_t i) const { return inputs[i] != nullptr; }
    const Tensor& saved_tensor(size_t i) const { return saved[i].tensor; }
    void release();  // drops the saved tensors and the closure
    ~Node();
};

// True when an op on these inputs records: grad mode on and one of them requires grad.
template <class... T>
bool recording(const T&... inputs) {
    return (inputs.requires_grad() || ...) && grad_enabled();
}

// The hook at the top of each recorded op:
//   if (autograd::recording(a, b))
//       return autograd::recorded([&] { return matmul(a, b, kernel); },
//                                 [&](Tensor& out) { autograd::record_matmul(out, a, b); });
// runs the op itself with recording off (its inner views and ops record nothing), then
// records it as one node.
template <class Forward, class Record>
Tensor recorded(Forward forward, Record record_fn) {
    Tensor out;
    {
        NoGrad guard;
        out = forward();
    }
    record_fn(out);
    return out;
}

// Gives out a new Node made of (name, inputs, saved, fn); out becomes a non-leaf that
// requires grad. saved tensors are kept detached (no cycle through their own Meta).
void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs,
            const std::vector<Tensor>& saved, Node::Fn fn);

// Read-only, for looking at what a forward kept (tutorial 10): every tensor saved by the nodes
// of the graph behind root that no backward has freed yet, with the name of the op that saved
// it, one entry per save (a tensor two ops saved appears twice; a parameter saved by linear is
// there too). Empty for a leaf.
struct SavedEntry {
    const char* op;  // "LinearBackward", ...
    Tensor tensor;   // detached: the same storage, no history
};
std::vector<SavedEntry> saved_tensors(const Tensor& root);

// The walk behind Tensor::backward (autograd.cpp).
void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph);

// Throws AutogradError naming op when it would have to record but has no backward.
void no_backward(const char* op, const Tensor& x);

// The storage's version counter (see above); every in-place op calls bump_version.
void bump_version(const Tensor& t);
uint64_t version(const Tensor& t);
// In-place ops other than += and *= on a tensor that requires grad (while recording) throw
// AutogradError; so does any in-place op on a leaf that requires grad, or on a recorded view.
void check_inplace(const Tensor& t, const char* op);

// ---- what each op records (autograd_ops.cpp); called from the op entry points ---------------
void record_add(Tensor& out, const Tensor& a, const Tensor& b);
void record_sub(Tensor& out, const Tensor& a, const Tensor& b);
void record_mul(Tensor& out, const Tensor& a, const Tensor& b);
void record_div(Tensor& out, const Tensor& a, const Tensor& b);
// a += b and a *= s while recording: done, then a re-pointed to the new node.
Tensor& add_inplace(Tensor& a, const Tensor& b);
Tensor& scale_inplace(Tensor& a, float s);
void record_sum(Tensor& out, const Tensor& x, int64_t dim, bool keepdim);
void record_mean(Tensor& out, const Tensor& x, int64_t dim, bool keepdim);
void record_matmul(Tensor& out, const Tensor& a, const Tensor& b);
void record_linear(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias);
void record_conv2d(Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                   int64_t stride, int64_t padding);
void record_softmax(Tensor& out, const Tensor& x, int64_t dim);
void record_log_softmax(Tensor& out, const Tensor& x, int64_t dim);
void record_layer_norm(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias,
                       float eps);
void record_gelu(Tensor& out, const Tensor& x, int approximate);  // GeluApproximate as int
void record_cat(Tensor& out, const std::vector<Tensor>& tensors, int64_t dim);
void record_cross_entropy(Tensor& out, const Tensor& logits, const Tensor& target, float eps);
void record_dropout(Tensor& out, const Tensor& x, const Tensor& mask);
void record_clone(Tensor& out, const Tensor& x);
// The views: reshape (and view, flatten, squeeze, unsqueeze), transpose, permute, select,
// slice (and narrow), expand.
void record_reshape(Tensor& out, const Tensor& x);
void record_transpose(Tensor& out, const Tensor& x, int64_t dim0, int64_t dim1);
void record_permute(Tensor& out, const Tensor& x, const std::vector<int64_t>& dims);
void record_select(Tensor& out, const Tensor& x, int64_t dim, int64_t index);
void record_slice(Tensor& out, const Tensor& x, int64_t dim, int64_t start, int64_t end,
                  int64_t step);
void record_expand(Tensor& out, const Tensor& x);

}  // namespace autograd
}  // namespace vitlab
