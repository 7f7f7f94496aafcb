// autograd.cpp: grad mode, the version counters, recording, and the backward walk.
//
// backward() from a tensor L:
//   1. collect every tensor L depends on through recorded ops (depth first over the
//      nodes' inputs), in topological order: a tensor comes after every tensor made from it;
//   2. walk that order from L: the gradient waiting for a tensor is complete when it is
//      reached (all its consumers came earlier); a non-leaf hands it to its node's backward,
//      which adds a gradient to each input's waiting one; a leaf adds it to its grad();
//   3. free each node as it is used (unless retain_graph).
#include "tensor/autograd.h"

#include <time.h>

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "tensor/autograd_profile.h"
#include "tensor/ops/elementwise.h"

namespace vitlab {
namespace autograd {

// ---- grad mode ---------------------------------------------------------------------------
// Per thread, as torch.no_grad: the count of live NoGrad guards on this thread. The thread
// pool's workers only run kernels, which never record.
static thread_local int t_no_grad = 0;

NoGrad::NoGrad() {
    ++t_no_grad;
}
NoGrad::~NoGrad() {
    --t_no_grad;
}
bool grad_enabled() {
    return t_no_grad == 0;
}

// ---- version counters ----------------------------------------------------------------------
// Only storages that some live node saved have a counter: (how many saves hold it, version).
// With no graph alive, an in-place op pays one atomic load and nothing else.
namespace {

struct VersionEntry {
    int64_t saves = 0;
    uint64_t version = 0;
};
std::mutex g_versions_mutex;
std::unordered_map<const void*, VersionEntry> g_versions;
std::atomic<int64_t> g_live_saves{0};

uint64_t register_save(const void* storage) {
    std::lock_guard<std::mutex> lock(g_versions_mutex);
    VersionEntry& e = g_versions[storage];
    ++e.saves;
    g_live_saves.fetch_add(1, std::memory_order_relaxed);
    return e.version;
}

void unregister_save(const void* storage) {
    std::lock_guard<std::mutex> lock(g_versions_mutex);
    auto it = g_versions.find(storage);
    if (it == g_versions.end()) return;
    g_live_saves.fetch_sub(1, std::memory_order_relaxed);
    if (--it->second.saves == 0) g_versions.erase(it);
}

}  // namespace

void bump_version(const Tensor& t) {
    if (g_live_saves.load(std::memory_order_relaxed) == 0) return;
    std::lock_guard<std::mutex> lock(g_versions_mutex);
    auto it = g_versions.find(t.storage_id());
    if (it != g_versions.end()) ++it->second.version;
}

uint64_t version(const Tensor& t) {
    std::lock_guard<std::mutex> lock(g_versions_mutex);
    auto it = g_versions.find(t.storage_id());
    return it == g_versions.end() ? 0 : it->second.version;
}

// ---- nodes ---------------------------------------------------------------------------------

void Node::release() {
    for (const Saved& s : saved) unregister_save(s.tensor.storage_id());
    saved.clear();
    backward = nullptr;
    released = true;
}

Node::~Node() {
    if (!released) release();
}

void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs,
            const std::vector<Tensor>& saved, Node::Fn fn) {
    auto node = std::make_shared<Node>();
    node->name = name;
    for (const Tensor& t : inputs) {
        node->inputs.push_back(t.requires_grad() ? t.autograd_meta() : nullptr);
        node->input_shapes.push_back(t.shape());
    }
    for (const Tensor& t : saved) {
        Tensor kept = t.detach();
        const uint64_t v = register_save(kept.storage_id());
        node->saved.push_back({kept, v});
    }
    node->backward = std::move(fn);
    auto meta = std::make_shared<Meta>();
    meta->requires_grad = true;
    meta->grad_fn = std::move(node);
    out.set_autograd_meta(std::move(meta));
}

void no_backward(const char* op, const Tensor& x) {
    if (recording(x))
        throw AutogradError(fmt::format(
            "{}: has no backward, but its input {} requires grad; run it under NoGrad or on "
            "x.detach()",
            op, to_string(x.shape())));
}

void check_inplace(const Tensor& t, const char* op) {
    if (!recording(t)) return;
    if (t.is_leaf())
        throw AutogradError(fmt::format(
            "{}: a leaf tensor {} that requires grad cannot be changed in place (its grad would "
            "no longer match it); change it under NoGrad",
            op, to_string(t.shape())));
    throw AutogradError(fmt::format(
        "{}: tensor {} was made by a recorded op ({}); changing it in place is not recorded: "
        "write y = f(x) instead",
        op, to_string(t.shape()), t.grad_fn_name()));
}

// ---- the backward walk ----------------------------------------------------------------------

namespace {

BackwardProfile* g_profile = nullptr;  // autograd_profile.h; null: no timing
ProfileClock g_profile_clock = ProfileClock::ProcessCpu;

// CPU time of all threads of the process (on a shared machine it counts only our own work), or
// the wall clock.
double profile_seconds() {
    timespec t{};
    clock_gettime(
        g_profile_clock == ProfileClock::Wall ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

void topological_order(const std::shared_ptr<Meta>& root, std::vector<Meta*>& order) {
    std::unordered_set<Meta*> seen;
    // Iterative depth first search (a deep model would overflow a recursive one):
    // a tensor is appended after all of its inputs.
    std::vector<std::pair<Meta*, size_t>> stack{{root.get(), 0}};
    seen.insert(root.get());
    while (!stack.empty()) {
        auto& [m, next] = stack.back();
        const Node* node = m->grad_fn.get();
        if (node && next < node->inputs.size()) {
            Meta* in = node->inputs[next++].get();
            if (in && seen.insert(in).second) stack.push_back({in, 0});
            continue;
        }
        order.push_back(m);
        stack.pop_back();
    }
}

void check_versions(const Node& node) {
    for (size_t i = 0; i < node.saved.size(); ++i) {
        const uint64_t now = version(node.saved[i].tensor);
        if (now != node.saved[i].version)
            throw AutogradError(fmt::format(
                "backward: a tensor {} saved by {} (saved tensor {}) was changed in place after "
                "the forward used it: it is at version {}, the backward needs version {}. Write "
                "y = f(x) instead of changing x in place, or clone() it first",
                to_string(node.saved[i].tensor.shape()), node.name, i, now, node.saved[i].version));
    }
}

// slot += g, slot starting empty. A leaf's grad() gets its own storage (g may be a view of
// another gradient, or of the caller's); a gradient waiting inside the walk is only read.
void accumulate(Tensor& slot, bool& has, const Tensor& g, bool own) {
    if (!has) {
        slot = own ? g.clone() : g;
        has = true;
    } else {
        slot = slot + g;
    }
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph) {
    if (!root.requires_grad())
        throw AutogradError(fmt::format(
            "backward: this tensor {} does not require grad and has no grad_fn: no op that made "
            "it had an input with requires_grad_() (or it was made under NoGrad)",
            to_string(root.shape())));
    if (gradient.shape() != root.shape())
        throw ShapeError(fmt::format("backward: gradient has shape {}, expected the tensor's {}",
                                     to_string(gradient.shape()), to_string(root.shape())));
    std::vector<Meta*> order;
    topological_order(root.autograd_meta(), order);
    std::unordered_map<Meta*, std::pair<Tensor, bool>> waiting;
    waiting[root.autograd_meta().get()] = {gradient.detach(), true};
    for (size_t k = order.size(); k-- > 0;) {
        Meta* m = order[k];
        auto it = waiting.find(m);
        if (it == waiting.end() || !it->second.second) continue;  // no gradient flowed here
        const Tensor g = it->second.first;
        waiting.erase(it);
        if (!m->grad_fn) {  // a leaf: accumulate, as PyTorch does
            accumulate(m->grad, m->has_grad, g, /*own=*/true);
            continue;
        }
        Node& node = *m->grad_fn;
        if (node.released)
            throw AutogradError(fmt::format(
                "backward: trying to go through {} a second time, but its saved tensors were "
                "freed by the first backward; call backward(gradient, /*retain_graph=*/true) the "
                "first time if you need to",
                node.name));
        check_versions(node);
        const double t0 = g_profile ? profile_seconds() : 0.0;
        const std::vector<Tensor> grads = node.backward(g, node);
        for (size_t i = 0; i < node.inputs.size(); ++i) {
            if (!node.needs(i)) continue;
            if (grads.at(i).shape() != node.input_shapes[i])
                throw std::logic_error(fmt::format("{}: gradient {} for input {} of shape {}",
                                                   node.name, to_string(grads[i].shape()), i,
                                                   to_string(node.input_shapes[i])));
            auto& slot = waiting[node.inputs[i].get()];
            accumulate(slot.first, slot.second, grads[i], /*own=*/false);
        }
        if (g_profile) {
            OpTime& t = (*g_profile)[node.name];
            t.seconds += profile_seconds() - t0;
            ++t.calls;
        }
        if (!retain_graph) node.release();
    }
}

void set_backward_profile(BackwardProfile* profile, ProfileClock clock) {
    g_profile = profile;
    g_profile_clock = clock;
}

std::vector<SavedEntry> saved_tensors(const Tensor& root) {
    std::vector<SavedEntry> out;
    if (!root.autograd_meta()) return out;
    std::vector<Meta*> order;
    topological_order(root.autograd_meta(), order);
    for (const Meta* m : order) {
        if (!m->grad_fn || m->grad_fn->released) continue;
        for (const Saved& s : m->grad_fn->saved) out.push_back({m->grad_fn->name, s.tensor});
    }
    return out;
}

}  // namespace autograd

// ---- the Tensor methods of tensor.h ---------------------------------------------------------

bool Tensor::requires_grad() const {
    return autograd_ && autograd_->requires_grad;
}

Tensor& Tensor::requires_grad_(bool requires_grad) {
    if (!is_leaf())
        throw AutogradError(fmt::format(
            "requires_grad_: tensor {} was made by {}; only a leaf can change requires_grad "
            "(use detach() for a leaf with the same values)",
            to_string(shape_), grad_fn_name()));
    if (!autograd_) autograd_ = std::make_shared<autograd::Meta>();
    autograd_->requires_grad = requires_grad;
    return *this;
}

bool Tensor::is_leaf() const {
    return !autograd_ || !autograd_->grad_fn;
}

Tensor Tensor::grad() const {
    return autograd_ && autograd_->has_grad ? autograd_->grad : Tensor();
}

void Tensor::zero_grad() {
    if (!autograd_) return;
    autograd_->grad = Tensor();
    autograd_->has_grad = false;
}

void Tensor::backward() const {
    if (numel() != 1)
        throw AutogradError(fmt::format(
            "backward: grad can be implicitly created only for a tensor of one element, this one "
            "has shape {}; call backward(gradient) with a gradient of that shape",
            to_string(shape_)));
    backward(ones(shape_));
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
    autograd::run_backward(*this, gradient, retain_graph);
}

Tensor Tensor::detach() const {
    Tensor out = *this;
    out.autograd_.reset();
    return out;
}

const char* Tensor::grad_fn_name() const {
    return autograd_ && autograd_->grad_fn ? autograd_->grad_fn->name : "";
}

}  // namespace vitlab
