// autograd_ops.cpp: what each op records for the tape (autograd.h): its inputs, the tensors
// its backward needs, and the call of its backward function (tensor/ops/*_backward.h).
// This is vitlab's derivatives table (PyTorch's tools/autograd/derivatives.yaml): one entry per
// op, each a few lines, the formulas themselves live with the backward functions.
#include "tensor/autograd.h"
#include "tensor/ops.h"

namespace vitlab::autograd {

using Grads = std::vector<Tensor>;

void record_add(Tensor& out, const Tensor& a, const Tensor& b) {
    record(out, "AddBackward", {a, b}, {}, [](const Tensor& dy, const Node& n) {
        const BinaryGrads g = add_backward(dy, n.input_shapes[0], n.input_shapes[1]);
        return Grads{g.da, g.db};
    });
}

void record_sub(Tensor& out, const Tensor& a, const Tensor& b) {
    record(out, "SubBackward", {a, b}, {}, [](const Tensor& dy, const Node& n) {
        const BinaryGrads g = sub_backward(dy, n.input_shapes[0], n.input_shapes[1]);
        return Grads{g.da, g.db};
    });
}

void record_mul(Tensor& out, const Tensor& a, const Tensor& b) {
    record(out, "MulBackward", {a, b}, {a, b}, [](const Tensor& dy, const Node& n) {
        const BinaryGrads g = mul_backward(dy, n.saved_tensor(0), n.saved_tensor(1));
        return Grads{g.da, g.db};
    });
}

void record_div(Tensor& out, const Tensor& a, const Tensor& b) {
    record(out, "DivBackward", {a, b}, {a, b}, [](const Tensor& dy, const Node& n) {
        const BinaryGrads g = div_backward(dy, n.saved_tensor(0), n.saved_tensor(1));
        return Grads{g.da, g.db};
    });
}

// a += b: a's old value (its old Meta) and b are the inputs; a then names the sum. A view
// cannot be re-pointed so (its base would not see the change), nor a leaf that requires grad.
static void check_repointable(const Tensor& a, const char* op) {
    if (a.requires_grad() && (a.is_leaf() || a.autograd_meta()->is_view)) check_inplace(a, op);
}

Tensor& add_inplace(Tensor& a, const Tensor& b) {
    check_repointable(a, "add_ (+=)");
    const Tensor old = a;  // shares the old Meta
    {
        NoGrad guard;
        a += b;
    }
    record(a, "AddBackward", {old, b}, {}, [](const Tensor& dy, const Node& n) {
        const BinaryGrads g = add_backward(dy, n.input_shapes[0], n.input_shapes[1]);
        return Grads{g.da, g.db};
    });
    return a;
}

Tensor& scale_inplace(Tensor& a, float s) {
    check_repointable(a, "mul_ (*=)");
    const Tensor old = a;
    {
        NoGrad guard;
        a *= s;
    }
    record(a, "MulBackward", {old}, {},
           [s](const Tensor& dy, const Node&) { return Grads{dy * s}; });
    return a;
}

void record_sum(Tensor& out, const Tensor& x, int64_t dim, bool keepdim) {
    record(out, "SumBackward", {x}, {}, [dim, keepdim](const Tensor& dy, const Node& n) {
        return Grads{sum_backward(dy, n.input_shapes[0], dim, keepdim)};
    });
}

void record_mean(Tensor& out, const Tensor& x, int64_t dim, bool keepdim) {
    record(out, "MeanBackward", {x}, {}, [dim, keepdim](const Tensor& dy, const Node& n) {
        return Grads{mean_backward(dy, n.input_shapes[0], dim, keepdim)};
    });
}

void record_matmul(Tensor& out, const Tensor& a, const Tensor& b) {
    record(out, "MatmulBackward", {a, b}, {a, b}, [](const Tensor& dy, const Node& n) {
        const MatmulGrads g = matmul_backward(dy, n.saved_tensor(0), n.saved_tensor(1));
        return Grads{g.da, g.db};
    });
}

void record_linear(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias) {
    const bool has_bias = bias.numel() != 0;
    record(out, "LinearBackward", {x, weight, bias}, {x, weight},
           [has_bias](const Tensor& dy, const Node& n) {
               const LinearGrads g =
                   linear_backward(dy, n.saved_tensor(0), n.saved_tensor(1), has_bias);
               return Grads{g.dx, g.dweight, has_bias ? g.dbias : Tensor()};
           });
}

void record_conv2d(Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                   int64_t stride, int64_t padding) {
    const bool has_bias = bias.numel() != 0;
    record(out, "Conv2dBackward", {input, weight, bias}, {input, weight},
           [=](const Tensor& dy, const Node& n) {
               const Conv2dGrads g =
                   conv2d_backward(dy, n.saved_tensor(0), n.saved_tensor(1), has_bias, stride,
                                   padding, Kernel::Default, /*need_dinput=*/n.needs(0));
               return Grads{g.dinput, g.dweight, has_bias ? g.dbias : Tensor()};
           });
}

void record_softmax(Tensor& out, const Tensor& x, int64_t dim) {
    record(out, "SoftmaxBackward", {x}, {out}, [dim](const Tensor& dy, const Node& n) {
        return Grads{softmax_backward(dy, n.saved_tensor(0), dim)};
    });
}

void record_log_softmax(Tensor& out, const Tensor& x, int64_t dim) {
    record(out, "LogSoftmaxBackward", {x}, {out}, [dim](const Tensor& dy, const Node& n) {
        return Grads{log_softmax_backward(dy, n.saved_tensor(0), dim)};
    });
}

void record_layer_norm(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias,
                       float eps) {
    record(out, "LayerNormBackward", {x, weight, bias}, {x, weight},
           [eps](const Tensor& dy, const Node& n) {
               const LayerNormGrads g =
                   layer_norm_backward(dy, n.saved_tensor(0), n.saved_tensor(1), eps);
               return Grads{g.dx, g.dweight, g.dbias};
           });
}

void record_gelu(Tensor& out, const Tensor& x, int approximate) {
    record(out, "GeluBackward", {x}, {x}, [approximate](const Tensor& dy, const Node& n) {
        return Grads{
            gelu_backward(dy, n.saved_tensor(0), static_cast<GeluApproximate>(approximate))};
    });
}

void record_cat(Tensor& out, const std::vector<Tensor>& tensors, int64_t dim) {
    record(out, "CatBackward", tensors, {}, [dim](const Tensor& dy, const Node& n) {
        return cat_backward(dy, n.input_shapes, dim);
    });
}

void record_cross_entropy(Tensor& out, const Tensor& logits, const Tensor& target, float eps) {
    no_backward("cross_entropy (target)", target);
    record(out, "CrossEntropyBackward", {logits}, {logits, target},
           [eps](const Tensor& dy, const Node& n) {
               return Grads{cross_entropy_backward(dy, n.saved_tensor(0), n.saved_tensor(1), eps)};
           });
}

void record_dropout(Tensor& out, const Tensor& x, const Tensor& mask) {
    record(out, "DropoutBackward", {x}, {mask}, [](const Tensor& dy, const Node& n) {
        return Grads{dropout_backward(dy, n.saved_tensor(0))};
    });
}

void record_clone(Tensor& out, const Tensor& x) {
    record(out, "CloneBackward", {x}, {}, [](const Tensor& dy, const Node&) { return Grads{dy}; });
}

void record_reshape(Tensor& out, const Tensor& x) {
    record(out, "ReshapeBackward", {x}, {}, [](const Tensor& dy, const Node& n) {
        return Grads{reshape_backward(dy, n.input_shapes[0])};
    });
    out.autograd_meta()->is_view = true;
}

void record_transpose(Tensor& out, const Tensor& x, int64_t dim0, int64_t dim1) {
    record(out, "TransposeBackward", {x}, {}, [dim0, dim1](const Tensor& dy, const Node&) {
        return Grads{transpose_backward(dy, dim0, dim1)};
    });
    out.autograd_meta()->is_view = true;
}

void record_permute(Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    record(out, "PermuteBackward", {x}, {},
           [dims](const Tensor& dy, const Node&) { return Grads{permute_backward(dy, dims)}; });
    out.autograd_meta()->is_view = true;
}

void record_select(Tensor& out, const Tensor& x, int64_t dim, int64_t index) {
    record(out, "SelectBackward", {x}, {}, [dim, index](const Tensor& dy, const Node& n) {
        return Grads{select_backward(dy, n.input_shapes[0], dim, index)};
    });
    out.autograd_meta()->is_view = true;
}

void record_slice(Tensor& out, const Tensor& x, int64_t dim, int64_t start, int64_t end,
                  int64_t step) {
    record(out, "SliceBackward", {x}, {}, [=](const Tensor& dy, const Node& n) {
        return Grads{slice_backward(dy, n.input_shapes[0], dim, start, end, step)};
    });
    out.autograd_meta()->is_view = true;
}

void record_expand(Tensor& out, const Tensor& x) {
    record(out, "ExpandBackward", {x}, {}, [](const Tensor& dy, const Node& n) {
        return Grads{expand_backward(dy, n.input_shapes[0])};
    });
    out.autograd_meta()->is_view = true;
}

}  // namespace vitlab::autograd
