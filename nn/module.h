// module.h: Module, the base of every layer: parameters and sub-modules, registered by name.
//
// As in torch.nn.Module, a layer registers each parameter ("weight", "bias") and each
// sub-module ("attn", "mlp") under a name; the full name of a parameter joins the path with
// dots, exactly as in a PyTorch/timm state dict:
//   patch_embed.proj.weight   cls_token   pos_embed   blocks.3.attn.qkv.weight   head.bias
// named_parameters() lists them in registration order, a module's own parameters before its
// children's (PyTorch's order). The returned Tensors share storage with the layer, so
//   model.named_parameters()[0].second.copy_(w)
// writes into the model; load_state_dict() does exactly that for a whole checkpoint.
//
// A Module registers pointers to its own members, so it can be neither copied nor moved:
// construct it where it lives (sub-modules are plain members; lists of them use ModuleList).
// Read linear.h next.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace vitlab::nn {

// Missing or unexpected keys when loading a state dict with strict = true; the message lists them.
struct StateDictError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// What load_state_dict(state, strict = false) could not match (PyTorch's _IncompatibleKeys).
struct IncompatibleKeys {
    std::vector<std::string> missing_keys;     // in the model, not in the state dict
    std::vector<std::string> unexpected_keys;  // in the state dict, not in the model
};

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
  public:
    Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;
    virtual ~Module() = default;

    // Every parameter with its full dotted name, own parameters first, then each child's.
    NamedTensors named_parameters() const;
    // The same tensors without names, the ones to train (they share storage and grad() with
    // the layer's members).
    std::vector<Tensor> parameters() const;
    // Training (tensor/autograd.h): parameters do not require grad until this is called, so
    // inference records nothing. requires_grad_() applies to every parameter; zero_grad()
    // clears every parameter's grad() (PyTorch's set_to_none).
    Module& requires_grad_(bool requires_grad = true);
    void zero_grad();
    // After backward(): throws AutogradError listing every parameter that requires grad but
    // received none (it did not take part in the loss, or something between it and the loss
    // ran under NoGrad, on a detach()ed tensor, or in an op that does not record).
    void check_grads() const;
    // The direct sub-modules with their names, in registration order.
    std::vector<std::pair<std::string, const Module*>> named_children() const;
    // The parameter with this full dotted name; throws std::out_of_range naming it.
    Tensor parameter(const std::string& name) const;
    // Total number of scalars in all parameters.
    int64_t num_parameters() const;

    // name -> Tensor (sharing storage with the model), ready for save_safetensors().
    TensorMap state_dict() const;
    // Copies every tensor of state into the parameter with the same name.
    // - A shape mismatch always throws ShapeError naming the tensor and both shapes:
    //   "load_state_dict: size mismatch for head.weight: the state dict has (10, 64), the model
    //    expects (1000, 64)".
    // - strict: missing or unexpected keys throw StateDictError listing them, before anything
    //   is copied. Not strict: they are returned, and the matching tensors are copied.
    // - assign (PyTorch's assign=True): instead of copying, each parameter becomes the state's
    //   tensor, sharing its storage, e.g. a checkpoint's memory-mapped file. Together with
    //   SkipInit (init.h) a model is loaded without a second copy of its weights.
    IncompatibleKeys load_state_dict(const TensorMap& state, bool strict = true,
                                     bool assign = false);

  protected:
    // Call these from the constructor, on members of the derived class.
    void register_parameter(const std::string& name, Tensor* parameter);
    void register_module(const std::string& name, Module* child);

  private:
    void collect(const std::string& prefix,
                 std::vector<std::pair<std::string, Tensor*>>& out) const;

    std::vector<std::pair<std::string, Tensor*>> parameters_;
    std::vector<std::pair<std::string, Module*>> children_;
};

// An indexed list of modules, named "0", "1", ... as torch.nn.ModuleList, so the parameters of
// the fourth block are "blocks.3.norm1.weight". Elements live on the heap and never move.
template <class M>
class ModuleList : public Module {
  public:
    ModuleList() = default;

    // Constructs a new M(args...) at the end and returns it.
    template <class... Args>
    M& emplace_back(Args&&... args) {
        items_.push_back(std::make_unique<M>(std::forward<Args>(args)...));
        register_module(std::to_string(items_.size() - 1), items_.back().get());
        return *items_.back();
    }

    size_t size() const { return items_.size(); }
    bool empty() const { return items_.empty(); }
    M& operator[](size_t i) { return *items_.at(i); }
    const M& operator[](size_t i) const { return *items_.at(i); }

    // for (const auto& block : blocks) ...
    template <class Ptr, class Ref>
    struct Iterator {
        Ptr it;
        Ref operator*() const { return **it; }
        Iterator& operator++() { return ++it, *this; }
        bool operator!=(const Iterator& other) const { return it != other.it; }
    };
    using iterator = Iterator<typename std::vector<std::unique_ptr<M>>::iterator, M&>;
    using const_iterator =
        Iterator<typename std::vector<std::unique_ptr<M>>::const_iterator, const M&>;
    iterator begin() { return {items_.begin()}; }
    iterator end() { return {items_.end()}; }
    const_iterator begin() const { return {items_.begin()}; }
    const_iterator end() const { return {items_.end()}; }

  private:
    std::vector<std::unique_ptr<M>> items_;
};

}  // namespace vitlab::nn
