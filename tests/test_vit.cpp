// test_vit.cpp: the whole VisionTransformer: presets, parameter counts, names, PyTorch logits.
#include <doctest/doctest.h>

#include <cmath>

#include "tests/fixture.h"
#include "tests/small_vit.h"
#include "vit/init_weights.h"
#include "vit/vision_transformer.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

// The fixture's model: torchvision ViT, image 32, patch 8, dim 64, depth 2, 4 heads, mlp 128.
static ViTConfig tiny_config() {
    return vitlab::testing::small_vit_config(64, 2, "test_vit_32");
}

TEST_CASE("ViTConfig: presets have the published parameter counts (computed, not allocated)") {
    CHECK(ViTConfig::preset("vit_base_patch16_384").num_parameters() == 86'859'496);
    CHECK(ViTConfig::preset("vit_base_patch16_224").num_parameters() == 86'567'656);
    CHECK(ViTConfig::preset("vit_large_patch16_384").num_parameters() == 304'715'752);
    CHECK(vit_tiny_patch16_224().num_parameters() == 5'717'416);
    CHECK(vit_small_patch16_224().num_parameters() == 22'050'664);
    CHECK(vit_base_patch32_384().num_parameters() == 88'297'192);
}

TEST_CASE("ViTConfig: the notebook's model, vit_base_patch16_384") {
    const ViTConfig c = ViTConfig::preset("vit_base_patch16_384");
    CHECK(c.img_size == 384);
    CHECK(c.patch_size == 16);
    CHECK(c.grid_size() == 24);
    CHECK(c.num_patches() == 576);
    CHECK(c.num_tokens() == 577);
    CHECK(c.embed_dim == 768);
    CHECK(c.depth == 12);
    CHECK(c.num_heads == 12);
    CHECK(c.head_dim() == 64);
    CHECK(c.mlp_dim == 3072);
    CHECK(c.num_classes == 1000);
    CHECK(c.layer_norm_eps == 1e-6f);
    CHECK(to_string(c) ==
          "vit_base_patch16_384: img 384, patch 16, dim 768, depth 12, heads 12, mlp 3072, "
          "classes 1000");
}

TEST_CASE("ViTConfig: an unknown preset lists the known names; bad numbers are rejected") {
    CHECK(ViTConfig::preset_names().size() == 7);
    CHECK_THROWS_WITH_AS(ViTConfig::preset("vit_huge"),
                         doctest::Contains("unknown model 'vit_huge'; known: vit_tiny_patch16_224, "
                                           "vit_small_patch16_224, vit_base_patch16_224, "
                                           "vit_base_patch16_384, vit_base_patch32_384, "
                                           "vit_large_patch16_384"),
                         std::invalid_argument);
    ViTConfig c = tiny_config();
    c.img_size = 30;
    CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("not a multiple of patch_size 8"),
                         std::invalid_argument);
    c = tiny_config();
    c.num_heads = 5;
    CHECK_THROWS_WITH_AS(VisionTransformer(c, 0),
                         doctest::Contains("not a multiple of num_heads 5"), std::invalid_argument);
}

TEST_CASE("VisionTransformer: the allocated parameters equal the formula") {
    ViTConfig c = tiny_config();
    CHECK(VisionTransformer(c).num_parameters() == c.num_parameters());
    c.qkv_bias = false;
    c.depth = 3;
    c.num_classes = 7;
    c.in_chans = 1;
    CHECK(VisionTransformer(c).num_parameters() == c.num_parameters());
    const ViTConfig tiny = vit_tiny_patch16_224();
    CHECK(VisionTransformer(tiny).num_parameters() == tiny.num_parameters());
}

TEST_CASE("VisionTransformer: parameter names and order are timm's state dict") {
    VisionTransformer model(tiny_config());
    const auto params = model.named_parameters();
    REQUIRE(params.size() == 2 + 2 + 2 * 12 + 2 + 2);
    CHECK(params[0].first == "cls_token");
    CHECK(params[1].first == "pos_embed");
    CHECK(params[2].first == "patch_embed.proj.weight");
    CHECK(params[3].first == "patch_embed.proj.bias");
    CHECK(params[4].first == "blocks.0.norm1.weight");
    CHECK(params[6].first == "blocks.0.attn.qkv.weight");
    CHECK(params[27].first == "blocks.1.mlp.fc2.bias");
    CHECK(params[28].first == "norm.weight");
    CHECK(params[30].first == "head.weight");
    CHECK(params[31].first == "head.bias");
    CHECK(model.parameter("pos_embed").shape() == Shape{1, 17, 64});
    CHECK(model.parameter("cls_token").shape() == Shape{1, 1, 64});
    CHECK(model.parameter("blocks.1.attn.proj.bias").shape() == Shape{64});
    CHECK(model.parameter("head.weight").shape() == Shape{10, 64});
}

TEST_CASE("VisionTransformer: matches torchvision's logits within 1e-4") {
    auto f = fixture("vit_small");
    VisionTransformer model(tiny_config());
    TensorMap state = f.all();
    const Tensor images = state.at("input");
    const Tensor expected = state.at("logits");
    state.erase("input");
    state.erase("logits");
    model.load_state_dict(state);  // strict: every timm name must be present, and nothing else
    check_close(model(images), expected, 1e-4f, 1e-4f);
}

TEST_CASE("VisionTransformer: a batch gives the same logits as its images one by one") {
    VisionTransformer model(tiny_config(), 3);
    Generator gen(4);
    Tensor images = randn({3, 3, 32, 32}, gen);
    Tensor logits = model(images);
    CHECK(logits.shape() == Shape{3, 10});
    for (int64_t b = 0; b < 3; ++b)
        check_close(model(images.narrow(0, b, 1)), logits.narrow(0, b, 1), 1e-5f);
}

TEST_CASE(
    "VisionTransformer: forward = forward_head(forward_features(.)), features after the norm") {
    VisionTransformer model(tiny_config(), 5);
    Generator gen(6);
    Tensor images = randn({2, 3, 32, 32}, gen);
    Tensor tokens = model.embed(images);
    CHECK(tokens.shape() == Shape{2, 17, 64});
    // The class token comes first, the same for every image, before the position embedding.
    check_close(tokens.select(1, 0),
                (model.cls_token + model.pos_embed.narrow(1, 0, 1)).view({1, 64}).expand({2, 64}),
                1e-6f);
    Tensor features = model.forward_features(images);
    CHECK(features.shape() == Shape{2, 17, 64});
    // Final LayerNorm with weight 1, bias 0: every token has mean 0.
    check_close(mean(features, -1), zeros({2, 17}), 1e-5f);
    check_close(model.forward_head(features), model(images), 0.0f, 0.0f);
}

TEST_CASE("VisionTransformer: keeps one (B, heads, N+1, N+1) attention map per block on request") {
    VisionTransformer model(tiny_config(), 7);
    Generator gen(8);
    std::vector<Tensor> probs;
    Tensor logits = model(randn({2, 3, 32, 32}, gen), &probs);
    REQUIRE(probs.size() == 2);
    for (const auto& p : probs) {
        CHECK(p.shape() == Shape{2, 4, 17, 17});
        check_close(sum(p, -1), ones({2, 4, 17}), 1e-5f);
    }
    CHECK(max_abs_diff(probs[0], probs[1]) > 0.0f);
}

TEST_CASE("VisionTransformer: wrong image size or channels name the expected shape") {
    VisionTransformer model(tiny_config());
    CHECK_THROWS_WITH_AS(model(zeros({1, 3, 64, 64})),
                         "VisionTransformer test_vit_32: expected images of shape (B, 3, 32, 32), "
                         "got (1, 3, 64, 64)",
                         ShapeError);
    CHECK_THROWS_WITH_AS(model(zeros({1, 1, 32, 32})), doctest::Contains("(B, 3, 32, 32)"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(model(zeros({3, 32, 32})), doctest::Contains("got (3, 32, 32)"),
                         ShapeError);
}

TEST_CASE("VisionTransformer: the seed decides the weights; init follows timm") {
    VisionTransformer a(tiny_config(), 1), b(tiny_config(), 1), c(tiny_config(), 2);
    for (const auto& named : a.named_parameters())  // (clang 14 cannot capture [name, t])
        CHECK_MESSAGE(max_abs_diff(named.second, b.parameter(named.first)) == 0.0f, named.first);
    CHECK(max_abs_diff(a.pos_embed, c.pos_embed) > 0.0f);
    CHECK(max_abs_diff(a.blocks[1].attn.qkv.weight, c.blocks[1].attn.qkv.weight) > 0.0f);

    // pos_embed ~ trunc_normal(std 0.02); cls_token ~ normal(std 1e-6); LayerNorm 1 / 0.
    double sq = 0;
    for (float x : a.pos_embed.to_vector()) sq += double(x) * x;
    CHECK(std::sqrt(sq / a.pos_embed.numel()) == doctest::Approx(0.02).epsilon(0.15));
    for (float x : a.cls_token.to_vector()) CHECK(std::abs(x) < 1e-5f);
    CHECK(a.norm.weight.to_vector() == std::vector<float>(64, 1.0f));
    CHECK(a.norm.eps == 1e-6f);
    CHECK(a.blocks[1].norm2.eps == 1e-6f);
    CHECK(max_abs_diff(a.blocks[0].mlp.fc1.bias, zeros({128})) == 0.0f);
}

// Root mean square of a tensor's elements.
static double rms(const Tensor& t) {
    double sq = 0;
    for (float x : t.to_vector()) sq += double(x) * x;
    return std::sqrt(sq / static_cast<double>(t.numel()));
}

TEST_CASE("init_weights_: torchvision's scheme, layer by layer; timm's is the constructor's") {
    VisionTransformer m(tiny_config(), 4);  // dim 64, mlp 128, patch 8 on 3 channels
    init_weights_(m, WeightInit::Torchvision, 4);
    // conv: trunc_normal(std sqrt(1/fan_in)), fan_in = 3*8*8 = 192; bias 0
    CHECK(rms(m.patch_embed.proj.weight) == doctest::Approx(std::sqrt(1.0 / 192)).epsilon(0.1));
    CHECK(max_abs_diff(m.patch_embed.proj.bias, zeros({64})) == 0.0f);
    CHECK(max_abs_diff(m.cls_token, zeros({1, 1, 64})) == 0.0f);
    CHECK(rms(m.pos_embed) == doctest::Approx(0.02).epsilon(0.15));
    for (const nn::Block& b : m.blocks) {
        // xavier over (192, 64): bound sqrt(6/256), rms bound/sqrt(3) = 0.0884
        CHECK(rms(b.attn.qkv.weight) == doctest::Approx(0.0884).epsilon(0.05));
        CHECK(max_abs_diff(b.attn.qkv.bias, zeros({192})) == 0.0f);
        // kaiming_uniform(a=sqrt(5)): bound 1/sqrt(64), rms 0.125/sqrt(3) = 0.0722
        CHECK(rms(b.attn.proj.weight) == doctest::Approx(0.0722).epsilon(0.05));
        CHECK(max_abs_diff(b.attn.proj.bias, zeros({64})) == 0.0f);
        // xavier over (128, 64): rms sqrt(6/192)/sqrt(3) = 0.1021; bias normal(std 1e-6)
        CHECK(rms(b.mlp.fc1.weight) == doctest::Approx(0.1021).epsilon(0.05));
        CHECK(rms(b.mlp.fc2.weight) == doctest::Approx(0.1021).epsilon(0.05));
        CHECK(rms(b.mlp.fc1.bias) > 0.0);
        CHECK(rms(b.mlp.fc1.bias) < 1e-5);
        CHECK(b.norm1.weight.to_vector() == std::vector<float>(64, 1.0f));
    }
    CHECK(rms(m.head.weight) == 0.0);
    CHECK(rms(m.head.bias) == 0.0);

    // The same seed gives the same weights; timm's scheme puts the constructor's back.
    VisionTransformer again(tiny_config(), 9);
    init_weights_(again, WeightInit::Torchvision, 4);
    CHECK(max_abs_diff(again.blocks[1].mlp.fc2.weight, m.blocks[1].mlp.fc2.weight) == 0.0f);
    init_weights_(m, WeightInit::Timm, 4);
    const VisionTransformer timm(tiny_config(), 4);
    for (const auto& named : m.named_parameters())
        CHECK_MESSAGE(max_abs_diff(named.second, timm.parameter(named.first)) == 0.0f, named.first);

    CHECK(parse_weight_init("torchvision") == WeightInit::Torchvision);
    CHECK(std::string(to_string(parse_weight_init("timm"))) == "timm");
    CHECK_THROWS_WITH_AS(parse_weight_init("xavier"),
                         "unknown weight initialisation 'xavier': expected timm or torchvision",
                         std::invalid_argument);
}
