// test_autograd.cpp: the tape (tensor/autograd.h): loss.backward() fills grad() as PyTorch does.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>

#include "nn/attention.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "tensor/autograd_profile.h"
#include "tests/backward_helpers.h"
#include "vit/vision_transformer.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::check_grad;
using vitlab::testing::fixture;

namespace {

// The message of the AutogradError fn throws ("" if none).
template <typename F>
std::string autograd_error(F fn) {
    try {
        fn();
    } catch (const AutogradError& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("autograd: d/dx sum(x * x) = 2x, and y = x * x records a MulBackward") {
    Generator gen(1);
    Tensor x = randn({3, 4}, gen).requires_grad_();
    const Tensor y = x * x;
    CHECK(y.requires_grad());
    CHECK_FALSE(y.is_leaf());
    CHECK(std::string(y.grad_fn_name()) == "MulBackward");
    sum(sum(y, 0), 0).backward();
    check_grad(x.grad(), x.detach() * 2.0f);
}

TEST_CASE("autograd: nothing requires grad, nothing is recorded (inference pays nothing)") {
    Generator gen(2);
    const Tensor x = randn({2, 3}, gen), w = randn({4, 3}, gen);
    const Tensor y = softmax(linear(x, w, Tensor()).transpose(0, 1), 0);
    CHECK(y.autograd_meta().get() == nullptr);  // no Meta allocated, no node, nothing saved
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
}

TEST_CASE("autograd: NoGrad stops recording; detach() cuts the history") {
    Generator gen(3);
    Tensor x = randn({3}, gen).requires_grad_();
    {
        autograd::NoGrad guard;
        CHECK_FALSE(autograd::grad_enabled());
        CHECK_FALSE((x * x).requires_grad());
    }
    CHECK(autograd::grad_enabled());
    const Tensor d = (x * x).detach();
    CHECK_FALSE(d.requires_grad());
    CHECK(d.is_leaf());
    // The detached tensor still shares the numbers.
    CHECK(x.detach().shares_storage_with(x));
}

TEST_CASE("autograd: gradients accumulate over backward calls; zero_grad clears them") {
    Generator gen(4);
    Tensor x = randn({5}, gen).requires_grad_();
    const Tensor loss = sum(x * 3.0f, 0);
    loss.backward(ones({}), /*retain_graph=*/true);
    check_grad(x.grad(), full({5}, 3.0f));
    loss.backward();
    check_grad(x.grad(), full({5}, 6.0f));
    x.zero_grad();
    CHECK(x.grad().numel() == 0);
    // A tensor used twice gets both contributions: d/dx (x + x * x) = 1 + 2x.
    sum(x + x * x, 0).backward();
    check_grad(x.grad(), x.detach() * 2.0f + 1.0f);
}

TEST_CASE("autograd: backward twice through a freed graph is a clear error") {
    Tensor x = ones({2}).requires_grad_();
    const Tensor loss = sum(x * x, 0);
    loss.backward();
    const std::string msg = autograd_error([&] { loss.backward(); });
    CHECK(contains(msg, "a second time"));
    CHECK(contains(msg, "retain_graph"));
}

TEST_CASE("autograd: backward of a non-scalar needs a gradient; a constant has none") {
    Tensor x = ones({2, 3}).requires_grad_();
    const Tensor y = x * 2.0f;
    const std::string msg = autograd_error([&] { y.backward(); });
    CHECK(contains(msg, "(2, 3)"));
    CHECK(contains(msg, "backward(gradient)"));
    y.backward(full({2, 3}, 0.5f));
    check_grad(x.grad(), ones({2, 3}));
    CHECK_THROWS_AS(y.backward(ones({3})), std::exception);
    CHECK(contains(autograd_error([] { sum(ones({2}), 0).backward(); }), "does not require grad"));
}

TEST_CASE("autograd: changing a saved tensor in place makes its backward throw (version)") {
    Tensor w = ones({3}).requires_grad_();
    Tensor x = full({3}, 2.0f);
    const Tensor loss = sum(w * x, 0);  // MulBackward saved x (dloss/dw = x)
    x.fill_(5.0f);
    const std::string msg = autograd_error([&] { loss.backward(); });
    CHECK(contains(msg, "MulBackward"));
    CHECK(contains(msg, "changed in place"));
    CHECK(contains(msg, "version 1"));
    // Unchanged, or changed before the forward, is fine.
    Tensor x2 = full({3}, 2.0f);
    x2 += ones({3});
    sum(w * x2, 0).backward();
    check_grad(w.grad(), full({3}, 3.0f));
}

TEST_CASE("autograd: in place on a leaf that requires grad is refused; += on a result records") {
    Tensor w = ones({3}).requires_grad_();
    CHECK(contains(autograd_error([&] { w.fill_(0.0f); }), "leaf"));
    CHECK(contains(autograd_error([&] { w += ones({3}); }), "leaf"));
    {
        autograd::NoGrad guard;  // as an optimizer step does it
        w += ones({3});
    }
    Tensor y = w * 2.0f;
    y += w;  // y = 2w + w
    y *= 2.0f;
    sum(y, 0).backward();
    check_grad(w.grad(), full({3}, 6.0f));
    // copy_ of a recorded result into another tensor would lose the history: refused.
    Tensor dst = zeros({3});
    CHECK(contains(autograd_error([&] { dst.copy_(w * 2.0f); }), "copy_"));
    CHECK(contains(autograd_error([&] { (void)max(w, 0); }), "max"));
    CHECK_THROWS_AS(y.requires_grad_(false), AutogradError);
}

TEST_CASE("autograd: a transformer-like chain matches PyTorch's gradients for every leaf") {
    const auto f = fixture("autograd_chain");
    std::map<std::string, Tensor> p;
    for (const char* name :
         {"x", "cls", "ln_w", "ln_b", "qkv_w", "qkv_b", "proj_w", "proj_b", "fc1_w", "fc1_b",
          "fc2_w", "fc2_b", "gamma", "head_w", "head_b", "temperature"})
        p[name] = f[name].clone().requires_grad_();
    const int64_t B = 2, N = 5, C = 8, H = 2, D = 4, classes = 4;
    // The lines of tools/fixtures/autograd_chain.py.
    Tensor t = cat({p["cls"].expand({B, -1, -1}), p["x"]}, 1);
    const Tensor h = layer_norm(t, p["ln_w"], p["ln_b"], 1e-6f);
    const Tensor qkv =
        linear(h, p["qkv_w"], p["qkv_b"]).reshape({B, N + 1, 3, H, D}).permute({2, 0, 3, 1, 4});
    const Tensor q = qkv.select(0, 0), k = qkv.select(0, 1), v = qkv.select(0, 2);
    const Tensor a = softmax(matmul(q, k.transpose(-2, -1)) * (1.0f / 2.0f), -1);
    const Tensor o = matmul(a, v).transpose(1, 2).reshape({B, N + 1, C});
    t = t + linear(o, p["proj_w"], p["proj_b"]);
    const Tensor m = linear(gelu(linear(t, p["fc1_w"], p["fc1_b"])), p["fc2_w"], p["fc2_b"]);
    t = t + m * p["gamma"];
    const Tensor pooled = t.select(1, 0) - t.mean(1);
    Tensor logits = linear(pooled, p["head_w"], p["head_b"]) / p["temperature"];
    logits = logits + pooled.slice(1, 1, 1 + classes);
    const Tensor loss = cross_entropy(logits, f["target"], 0.1f);
    check_grad(loss, f["loss"]);
    loss.backward();
    for (const auto& entry : p) {
        const std::string& name = entry.first;  // (clang 14 cannot capture a binding)
        CAPTURE(name);
        check_grad(entry.second.grad(), f["grad." + name]);
    }
}

TEST_CASE("autograd: nn layers record with no change; Module::parameters() are the leaves") {
    Generator gen(5);
    nn::Linear fc(6, 3, true, gen);
    nn::LayerNorm norm(6, 1e-5f);
    CHECK(fc.parameters().size() == 2);
    CHECK_FALSE(fc.weight.requires_grad());  // inference by default
    fc.requires_grad_();
    norm.requires_grad_();
    // Loading a checkpoint into parameters that require grad is not an in-place op to record.
    CHECK_NOTHROW(fc.load_state_dict(fc.state_dict()));
    CHECK(fc.weight.requires_grad());
    const Tensor x = randn({4, 6}, gen), target = from_vector({0, 2, 1, 2}, {4});
    const Tensor loss = cross_entropy(fc(norm(x)), target, 0.0f);
    loss.backward();
    // The same gradients from the backward functions chained by hand.
    const Tensor hx = layer_norm(x.detach(), norm.weight.detach(), norm.bias.detach());
    const Tensor logits = linear(hx, fc.weight.detach(), fc.bias.detach());
    const Tensor dlogits = cross_entropy_backward(ones({}), logits, target);
    const LinearGrads g = linear_backward(dlogits, hx, fc.weight.detach());
    const std::vector<Tensor> params = fc.parameters();
    check_grad(params[0].grad(), g.dweight);  // parameters() share grad() with the members
    check_grad(fc.bias.grad(), g.dbias);
    const LayerNormGrads gn = layer_norm_backward(g.dx, x, norm.weight.detach());
    check_grad(norm.weight.grad(), gn.dweight);
    check_grad(norm.bias.grad(), gn.dbias);
    fc.zero_grad();
    CHECK(fc.weight.grad().numel() == 0);
    CHECK(norm.weight.grad().numel() != 0);
}

TEST_CASE("autograd: scaled_dot_product_attention is one node whose grads match the chain of ops") {
    Generator gen(6);
    Tensor q = randn({1, 2, 7, 4}, gen).requires_grad_(), k = randn({1, 2, 7, 4}, gen),
           v = randn({1, 2, 7, 4}, gen).requires_grad_();
    const Tensor w = randn({1, 2, 7, 4}, gen);
    for (Kernel kernel : {Kernel::Naive, Kernel::Blocked}) {
        CAPTURE(to_string(kernel));
        const Tensor out = scaled_dot_product_attention(q, k, v, 0.5f, nullptr, kernel);
        CHECK(std::string(out.grad_fn_name()) == "ScaledDotProductAttentionBackward");
        sum((out * w).reshape({-1}), 0).backward();
        const Tensor dq = q.grad(), dv = v.grad();
        q.zero_grad();
        v.zero_grad();
        // The same attention written with matmul and softmax, each recorded on its own.
        const Tensor probs = softmax(matmul(q, k.transpose(-2, -1)) * 0.5f, -1);
        const Tensor chain = matmul(probs, v);
        sum((chain * w).reshape({-1}), 0).backward();
        check_grad(dq, q.grad());
        check_grad(dv, v.grad());
        q.zero_grad();
        v.zero_grad();
    }
    // The probabilities are for looking at: asked for while recording, a clear error.
    Tensor probs;
    CHECK_THROWS_AS(scaled_dot_product_attention(q, k, v, 0.5f, &probs), AutogradError);
}

TEST_CASE("autograd: the small torchvision ViT, every parameter's gradient matches PyTorch") {
    // model(images) as written for inference: the layers record on the tape with no change
    // (Block and Mlp add out of place, and Attention records one node, while recording).
    ViTConfig c;
    c.name = "test_vit_32";
    c.img_size = 32;
    c.patch_size = 8;
    c.num_classes = 10;
    c.embed_dim = 64;
    c.depth = 2;
    c.num_heads = 4;
    c.mlp_dim = 128;
    VisionTransformer model(c);
    TensorMap state = fixture("vit_small").all();
    const Tensor images = state.at("input");
    state.erase("input");
    state.erase("logits");
    model.load_state_dict(state);
    model.requires_grad_();
    const auto f = fixture("vit_small_grad");

    const Tensor logits = model(images);
    const Tensor loss = cross_entropy(logits, f["target"], 0.1f);
    check_close(loss, f["loss"], 1e-5f, 1e-5f);
    loss.backward();
    float worst = 0.0f;
    for (const auto& entry : model.named_parameters()) {
        const std::string& name = entry.first;
        const Tensor& p = entry.second;
        CAPTURE(name);
        const Tensor expected = f["grad." + name];
        REQUIRE(p.grad().shape() == expected.shape());
        // Within 1e-4 of the largest |gradient| of that parameter (the criterion).
        const float scale = vitlab::testing::max_abs(expected);
        const float diff = max_abs_diff(p.grad(), expected);
        CHECK(diff <= 1e-4f * scale);
        worst = std::max(worst, scale > 0 ? diff / scale : diff);
    }
    MESSAGE("largest difference, relative to the parameter's largest gradient: ", worst);
    CHECK_NOTHROW(model.check_grads());

    // Attention maps are for looking at, under NoGrad; asked for while recording, a clear error.
    std::vector<Tensor> probs;
    CHECK_THROWS_AS(model.forward(images, &probs), AutogradError);
    {
        autograd::NoGrad no_grad;
        CHECK_NOTHROW(model.forward(images, &probs));
    }
    CHECK(probs.size() == 2);
}

TEST_CASE("autograd: check_grads names the parameters that received no gradient") {
    Generator gen(7);
    nn::Linear used(4, 3, true, gen), unused(4, 3, true, gen);
    used.requires_grad_();
    unused.requires_grad_();
    const Tensor x = randn({2, 4}, gen);
    cross_entropy(used(x), from_vector({0, 2}, {2})).backward();
    CHECK_NOTHROW(used.check_grads());
    const std::string msg = autograd_error([&] { unused.check_grads(); });
    CHECK(contains(msg, "2 parameter(s)"));
    CHECK(contains(msg, "weight, bias"));
    // Inference-only parameters (no requires_grad) are not expected to have a gradient.
    nn::Linear frozen(4, 3, true, gen);
    CHECK_NOTHROW(frozen.check_grads());
}

TEST_CASE("backward profile: counts each node's calls, on either clock, and stops when unset") {
    for (const auto clock : {autograd::ProfileClock::ProcessCpu, autograd::ProfileClock::Wall}) {
        const Tensor x = from_vector({1, 2, 3}, {3}).requires_grad_();
        autograd::BackwardProfile prof;
        autograd::set_backward_profile(&prof, clock);
        sum(x + x * x, 0).backward();
        autograd::set_backward_profile(nullptr);
        REQUIRE(prof.count("AddBackward") == 1);
        REQUIRE(prof.count("MulBackward") == 1);
        CHECK(prof["AddBackward"].calls == 1);
        CHECK(prof["MulBackward"].calls == 1);
        CHECK(prof["AddBackward"].seconds >= 0.0);
        // Unset: a second backward adds nothing.
        const Tensor z = from_vector({1, 2}, {2}).requires_grad_();
        sum(z + z, 0).backward();
        CHECK(prof["AddBackward"].calls == 1);
    }
}
