// test_optim.cpp: SGD, AdamW, the warm-up + cosine schedule and clip_grad_norm_ (optim/)
// against torch.optim on a few steps (tests/fixtures/optim.safetensors, written by
// tools/fixtures/optim.py: fixed gradients, so only the optimiser is tested), and timm's
// no-weight-decay split on a real ViT's parameter names.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "optim/optim.h"
#include "tensor/autograd.h"
#include "tests/fixture.h"
#include "tests/temp_files.h"
#include "vit/vision_transformer.h"

using namespace vitlab;
using namespace vitlab::optim;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

namespace {

const std::vector<std::string> kNames = {"w", "b", "pos_embed"};
constexpr int kSteps = 5;

// The three parameters at their initial values, requiring grad.
std::map<std::string, Tensor> make_params(const vitlab::testing::Fixture& f) {
    std::map<std::string, Tensor> p;
    for (const auto& n : kNames) p[n] = f["init." + n].clone().requires_grad_();
    return p;
}

// Gives every parameter the fixture's gradient of step t, the way backward() would.
void set_grads(std::map<std::string, Tensor>& params, const vitlab::testing::Fixture& f, int t) {
    for (auto& [n, p] : params) {
        p.zero_grad();
        p.backward(f["grad." + std::to_string(t) + "." + n]);
    }
}

std::vector<Tensor> in_order(std::map<std::string, Tensor>& p) {
    return {p["w"], p["b"], p["pos_embed"]};
}

// Runs kSteps steps, checking the parameters after each one against "<name>.<t>.<param>".
template <class Step>
void check_steps(const std::string& name, std::map<std::string, Tensor>& params,
                 const vitlab::testing::Fixture& f, Step step) {
    for (int t = 0; t < kSteps; ++t) {
        CAPTURE(t);
        set_grads(params, f, t);
        step();
        for (const auto& n : kNames) {
            CAPTURE(n);
            check_close(params[n], f[name + "." + std::to_string(t) + "." + n], 1e-6f, 1e-6f);
        }
    }
}

}  // namespace

TEST_CASE("SGD matches torch.optim.SGD: plain, momentum with dampening, nesterov") {
    auto f = fixture("optim");
    struct Case {
        const char* name;
        SGDOptions options;
    };
    const std::vector<Case> cases = {
        {"sgd_plain", {0.1, 0.0, 0.0, 0.0, false}},
        {"sgd_momentum", {0.05, 0.9, 0.1, 0.01, false}},
        {"sgd_nesterov", {0.05, 0.9, 0.0, 0.001, true}},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        auto params = make_params(f);
        SGD opt(in_order(params), c.options);
        check_steps(c.name, params, f, [&] { opt.step(); });
    }
}

TEST_CASE("AdamW matches torch.optim.AdamW, alone and with timm's groups and the schedule") {
    auto f = fixture("optim");
    {
        auto params = make_params(f);
        AdamWOptions o;
        o.lr = 0.01;
        o.beta2 = 0.95;
        o.weight_decay = 0.05;
        AdamW opt(in_order(params), o);
        check_steps("adamw", params, f, [&] { opt.step(); });
        CHECK(opt.state(0, 0).step == kSteps);
    }
    {
        auto params = make_params(f);
        // timm's split of these names: "w" (2-d) decays; "b" (1-d) and pos_embed do not.
        auto groups = param_groups_weight_decay(
            {{"w", params["w"]}, {"b", params["b"]}, {"pos_embed", params["pos_embed"]}}, 0.1);
        REQUIRE(groups.size() == 2);
        CHECK(groups[0].params.size() == 2);
        CHECK(groups[1].params.size() == 1);
        AdamWOptions o;
        o.lr = 0.02;
        AdamW opt(groups, o);
        WarmupCosineLR sched(opt, 2, kSteps, 0.1, 0.0);
        check_steps("adamw_groups", params, f, [&] {
            opt.step();
            sched.step();
        });
    }
}

TEST_CASE("WarmupCosineLR matches SequentialLR(LinearLR, CosineAnnealingLR)") {
    auto f = fixture("optim");
    const std::vector<float> want = f["schedule.lr"].to_vector();
    REQUIRE(want.size() == 11u);
    Tensor p = zeros({1}).requires_grad_();
    SGDOptions o;
    o.lr = 0.5;
    SGD opt({p}, o);
    WarmupCosineLR sched(opt, 3, 10, 0.01, 0.025 / 0.5);
    for (int s = 0; s <= 10; ++s) {
        CAPTURE(s);
        CHECK(opt.param_groups()[0].lr ==
              doctest::Approx(want[static_cast<size_t>(s)]).epsilon(1e-6));
        sched.step();
    }
    // Past the end it stays at the minimum.
    CHECK(sched.factor(25) == doctest::Approx(0.05));
    CHECK_THROWS_WITH_AS(WarmupCosineLR(opt, 10, 10),
                         doctest::Contains("warmup_steps < total_steps"), std::invalid_argument);
}

TEST_CASE("clip_grad_norm_ matches torch.nn.utils.clip_grad_norm_") {
    auto f = fixture("optim");
    for (const std::string c : {"clip_big", "clip_small"}) {
        CAPTURE(c);
        std::vector<Tensor> ps;
        for (int i = 0; i < 3; ++i) {
            const Tensor& g = f[c + ".in." + std::to_string(i)];
            Tensor p = zeros(g.shape()).requires_grad_();
            p.backward(g);
            ps.push_back(p);
        }
        const double norm = clip_grad_norm_(ps, f[c + ".max_norm"].item());
        CHECK(norm == doctest::Approx(f[c + ".norm"].item()).epsilon(1e-6));
        for (int i = 0; i < 3; ++i)
            check_close(ps[static_cast<size_t>(i)].grad(), f[c + ".out." + std::to_string(i)],
                        1e-6f, 1e-6f);
    }
    // A NaN gradient: an error when asked for, naming the norm.
    Tensor p = zeros({2}).requires_grad_();
    p.backward(from_vector({NAN, 1.0f}, {2}));
    CHECK_THROWS_WITH_AS(clip_grad_norm_({p}, 1.0, true), doctest::Contains("not finite"),
                         std::runtime_error);
}

TEST_CASE("param_groups_weight_decay: timm's split of a ViT's parameters") {
    ViTConfig c;
    c.img_size = 8;
    c.patch_size = 4;
    c.embed_dim = 8;
    c.depth = 1;
    c.num_heads = 2;
    c.mlp_dim = 16;
    c.num_classes = 3;
    VisionTransformer model(c);
    auto named = model.named_parameters();
    auto groups = param_groups_weight_decay(named, 0.05);
    REQUIRE(groups.size() == 2);
    CHECK(groups[0].weight_decay == 0.0);
    CHECK(groups[1].weight_decay == 0.05);
    auto names_of = [&](const ParamGroup& g) {
        std::vector<std::string> out;
        for (const Tensor& t : g.params)
            for (const auto& [n, p] : named)
                if (p.data() == t.data()) out.push_back(n);
        return out;
    };
    const std::vector<std::string> decay = names_of(groups[1]);
    CHECK(decay == std::vector<std::string>{"patch_embed.proj.weight", "blocks.0.attn.qkv.weight",
                                            "blocks.0.attn.proj.weight", "blocks.0.mlp.fc1.weight",
                                            "blocks.0.mlp.fc2.weight", "head.weight"});
    CHECK(groups[0].params.size() + groups[1].params.size() == named.size());
    for (const std::string& n : names_of(groups[0]))
        CHECK((n == "cls_token" || n == "pos_embed" || n.find("norm") != std::string::npos ||
               (n.size() > 5 && n.substr(n.size() - 5) == ".bias")));
}

TEST_CASE("optimisers: parameters without a grad are skipped; bad options throw") {
    Tensor a = ones({3}).requires_grad_(), b = ones({2}).requires_grad_();
    a.backward(full({3}, 2.0f));
    SGDOptions o;
    o.lr = 0.5;
    SGD opt({a, b}, o);
    opt.step();
    CHECK(a.to_vector() == std::vector<float>{0.0f, 0.0f, 0.0f});
    CHECK(b.to_vector() == std::vector<float>{1.0f, 1.0f});
    opt.zero_grad();
    CHECK(a.grad().numel() == 0);

    o.nesterov = true;
    CHECK_THROWS_WITH_AS(SGD({a}, o), doctest::Contains("nesterov"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(SGD({a, a}, SGDOptions{}), doctest::Contains("appears twice"),
                         std::invalid_argument);
    AdamWOptions ao;
    ao.beta1 = 1.0;
    CHECK_THROWS_WITH_AS(AdamW({a}, ao), doctest::Contains("betas"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(SGD({a.transpose(0, 0).expand({2, 3})}, SGDOptions{}),
                         doctest::Contains("not contiguous"), std::invalid_argument);
}

// ---- the vit_fmnist preset, trained a few steps -----------------------------------------------

TEST_CASE("vit_fmnist: the preset has torchvision's 205,962 parameters") {
    const ViTConfig c = ViTConfig::preset("vit_fmnist");
    CHECK(c.num_parameters() == 205'962);
    VisionTransformer model(c);
    CHECK(model.num_parameters() == 205'962);
    CHECK(model.parameter("patch_embed.proj.weight").shape() == Shape{64, 1, 4, 4});
    CHECK(model.parameter("pos_embed").shape() == Shape{1, 50, 64});
    CHECK(model.parameter("head.weight").shape() == Shape{10, 64});
}

namespace {

// Trains vit_fmnist on one fixed batch of 16 random images with labels 0..9, 0..5 for `steps`
// steps; returns the loss before each step. Every parameter must receive a gradient.
template <class MakeOptimizer>
std::vector<float> train_steps(int steps, MakeOptimizer make_optimizer) {
    VisionTransformer model(vit_fmnist(), 0);
    model.requires_grad_();
    auto opt = make_optimizer(model);
    Generator gen(5);
    const Tensor images = randn({16, 1, 28, 28}, gen);
    std::vector<float> labels(16);
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % 10);
    const Tensor target = from_vector(labels, {16});
    std::vector<float> losses;
    for (int s = 0; s < steps; ++s) {
        Tensor loss = cross_entropy(model(images), target);
        losses.push_back(loss.item());
        loss.backward();
        if (s == 0) model.check_grads();
        opt.step();
        opt.zero_grad();
    }
    return losses;
}

}  // namespace

TEST_CASE("vit_fmnist: a few SGD or AdamW steps through loss.backward() lower the loss") {
    const auto sgd = train_steps(12, [](VisionTransformer& m) {
        SGDOptions o;
        o.lr = 0.1;
        o.momentum = 0.9;
        return SGD(m.parameters(), o);
    });
    const auto adamw = train_steps(12, [](VisionTransformer& m) {
        AdamWOptions o;
        o.lr = 1e-3;
        o.weight_decay = 0.05;
        return AdamW(param_groups_weight_decay(m.named_parameters(), 0.05), o);
    });
    // SGD moves a transformer slowly (the reason ViTs train with AdamW): it must still gain
    // 0.1 nats in 12 steps; AdamW at least 0.5.
    const std::vector<std::pair<const std::vector<float>*, float>> runs = {{&sgd, 0.1f},
                                                                           {&adamw, 0.5f}};
    for (const auto& run : runs) {
        const std::vector<float>* losses = run.first;
        const float gain = run.second;
        std::string all;
        for (float l : *losses) all += std::to_string(l) + " ";
        MESSAGE("losses: " << all);
        // 10 classes, near-uniform logits at initialisation: the loss starts near ln 10.
        CHECK(std::abs(losses->front() - std::log(10.0f)) < 0.2f);
        CHECK(losses->back() < losses->front() - gain);
    }
}

TEST_CASE(
    "optimiser state: saved after two steps and loaded into a fresh optimiser, the next "
    "steps are bit for bit the same (through a safetensors file)") {
    auto f = fixture("optim");
    vitlab::testing::TempDir tmp("vitlab_test_optim_");
    const std::string path = tmp.path("opt.safetensors");
    auto run = [&](auto make_opt) {
        auto a = make_params(f);
        auto opt_a = make_opt(a);
        for (int t = 0; t < 2; ++t) {
            set_grads(a, f, t);
            opt_a.step();
        }
        const OptimizerState saved = opt_a.state_dict();
        save_safetensors(path, saved.tensors, saved.metadata);
        OptimizerState loaded{load_safetensors(path), load_safetensors_metadata(path)};
        // b: the parameters of a, copied, with a fresh optimiser given the saved state.
        auto b = make_params(f);
        {
            autograd::NoGrad no_grad;
            for (const auto& n : kNames) b[n].copy_(a[n]);
        }
        auto opt_b = make_opt(b);
        opt_b.load_state_dict(loaded);
        for (int t = 2; t < kSteps; ++t) {
            set_grads(a, f, t);
            set_grads(b, f, t);
            opt_a.step();
            opt_b.step();
        }
        for (const auto& n : kNames) CHECK(a[n].to_vector() == b[n].to_vector());
        return saved;
    };
    const OptimizerState adamw = run([](std::map<std::string, Tensor>& p) {
        AdamWOptions o;
        o.lr = 0.01;
        o.weight_decay = 0.05;
        return AdamW(param_groups_weight_decay({{"w", p["w"]}, {"b", p["b"]}}, 0.1), o);
    });
    CHECK(adamw.metadata.at("state.1.0.step") == "2");
    CHECK(adamw.tensors.count("state.0.0.exp_avg") == 1);
    const OptimizerState sgd = run([](std::map<std::string, Tensor>& p) {
        SGDOptions o;
        o.lr = 0.05;
        o.momentum = 0.9;
        return SGD(in_order(p), o);
    });
    CHECK(sgd.tensors.count("state.0.2.momentum_buffer") == 1);

    // A state that does not fit is refused, and names what differs.
    auto p = make_params(f);
    AdamW other(in_order(p), AdamWOptions{});
    CHECK_THROWS_WITH_AS(other.load_state_dict(sgd), doctest::Contains("the state is SGD's"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(other.load_state_dict(adamw),
                         doctest::Contains("the state has 2 parameter groups, this has 1"),
                         std::invalid_argument);
    SGD sgd_other({p["b"], p["w"], p["pos_embed"]}, SGDOptions{0.1, 0.9});
    CHECK_THROWS_WITH_AS(sgd_other.load_state_dict(sgd), doctest::Contains("has shape (3, 4)"),
                         std::invalid_argument);
    OptimizerState broken = adamw;
    broken.metadata["group.0.lr"] = "fast";
    AdamW two(param_groups_weight_decay({{"w", p["w"]}, {"b", p["b"]}}, 0.1), AdamWOptions{});
    CHECK_THROWS_WITH_AS(two.load_state_dict(broken), doctest::Contains("not a number"),
                         std::invalid_argument);
    broken = adamw;
    broken.tensors.erase("state.1.0.exp_avg_sq");
    CHECK_THROWS_WITH_AS(two.load_state_dict(broken), doctest::Contains("only part of its state"),
                         std::invalid_argument);
    CHECK(two.state(0, 0).step == 0);  // nothing was loaded
}
