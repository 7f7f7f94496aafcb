// test_checkpoint.cpp: loading ViT checkpoints (vit/checkpoint.h) in timm and Hugging Face
// naming, F32/F16/BF16, against PyTorch's logits; config inference; every way a checkpoint can
// fail to fit; and a corrupt-file sweep (every truncation of the header, a bit flip in every
// header byte) that must give an error or a working model, never anything else.
// The fixture: tests/checkpoint_tests.h.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/checkpoint_tests.h"

namespace {

CheckpointOptions heads(int64_t n) {
    CheckpointOptions o;
    o.num_heads = n;
    return o;
}

// The fixture's tensors, to be edited into broken checkpoints.
TensorMap timm_tensors() {
    return load_safetensors(kTimm);
}

std::string error_of(TensorMap tensors, const CheckpointOptions& options = heads(4)) {
    try {
        checkpoint_from_tensors(std::move(tensors), "edited.safetensors", options);
    } catch (const CheckpointError& e) {
        return e.what();
    }
    return "(no error)";
}

// A checkpoint of any configuration with zero weights, built from the table of expected
// tensors (for the config-inference tests, which only look at shapes).
TensorMap zeros_checkpoint(const ViTConfig& c, Naming naming) {
    TensorMap out;
    for (const ExpectedTensor& e : expected_tensors(c, {naming, "vit."}))
        out[e.name] = zeros(e.shape);
    return out;
}

ViTConfig small_config(int64_t width) {
    ViTConfig c;
    c.img_size = 2;
    c.patch_size = 1;
    c.embed_dim = width;
    c.depth = 1;
    c.num_heads = 1;
    c.mlp_dim = 8;
    c.num_classes = 3;
    return c;
}

}  // namespace

// ---- loading, against PyTorch ------------------------------------------------------------------

TEST_CASE("checkpoint: a timm file is recognised and its configuration read off the shapes") {
    const Checkpoint ck = load_checkpoint(kTimm, heads(4));
    CHECK(ck.naming == Naming::Timm);
    const ViTConfig& c = ck.config;
    CHECK(c.img_size == 32);  // pos_embed (1, 17, 32): a 4 x 4 grid of 8-pixel patches
    CHECK(c.patch_size == 8);
    CHECK(c.in_chans == 3);
    CHECK(c.embed_dim == 32);
    CHECK(c.depth == 2);
    CHECK(c.num_heads == 4);
    CHECK(ck.heads_source == "--heads");
    CHECK(c.mlp_dim == 64);
    CHECK(c.num_classes == 10);
    CHECK(c.qkv_bias);
    CHECK(c.layer_norm_eps == 1e-6f);
    CHECK(ck.tensors.size() == 32);
    CHECK(ck.stored.size() == 32);
    CHECK(ck.stored[0].name == "cls_token");
    CHECK(ck.stored[0].dtype == "F32");
}

TEST_CASE("checkpoint: timm naming gives PyTorch's logits") {
    const auto f = fixture("checkpoint_io");
    const auto model = make_vit(load_checkpoint(kTimm, heads(4)));
    check_close((*model)(f["input"]), f["logits_timm"], 1e-4f, 1e-4f);
}

TEST_CASE("checkpoint: Hugging Face naming gives PyTorch's logits; q, k, v become timm's qkv") {
    const auto f = fixture("checkpoint_io");
    const Checkpoint hf = load_checkpoint(kHF, heads(4));
    CHECK(hf.naming == Naming::HuggingFace);
    CHECK(hf.config.layer_norm_eps == 1e-12f);  // transformers' ViTConfig default
    CHECK(hf.tensors.size() == 32);             // 40 in the file: q, k, v weights and biases
    CHECK(hf.stored.size() == 40);
    // Same weights as the timm file, in timm's names: qkv is query, key and value stacked.
    const Checkpoint timm = load_checkpoint(kTimm, heads(4));
    for (const auto& entry : timm.tensors) {  // (clang 14 cannot CAPTURE a structured binding)
        const std::string& name = entry.first;
        CAPTURE(name);
        REQUIRE(hf.tensors.count(name) == 1);
        CHECK(max_abs_diff(hf.tensors.at(name), entry.second) == 0.0f);
    }
    bool found_query = false;
    for (const StoredTensor& s : hf.stored)
        if (s.name == "vit.encoder.layer.1.attention.attention.key.weight") {
            CHECK(s.timm_name == "blocks.1.attn.qkv.weight[32:64]");
            found_query = true;
        }
    CHECK(found_query);
    const auto model = make_vit(hf);
    check_close((*model)(f["input"]), f["logits_hf"], 1e-4f, 1e-4f);
}

TEST_CASE("checkpoint: F16 and BF16 files load as float32 and give PyTorch's logits") {
    const auto f = fixture("checkpoint_io");
    const Checkpoint f16 =
        load_checkpoint(fixture_path("checkpoint_timm_f16.safetensors"), heads(4));
    const Checkpoint bf16 =
        load_checkpoint(fixture_path("checkpoint_timm_bf16.safetensors"), heads(4));
    CHECK(f16.stored[2].dtype == "F16");
    CHECK(bf16.stored[2].dtype == "BF16");
    check_close((*make_vit(f16))(f["input"]), f["logits_f16"], 1e-4f, 1e-4f);
    check_close((*make_vit(bf16))(f["input"]), f["logits_bf16"], 1e-4f, 1e-4f);
    // The rounding is visible: BF16 keeps 8 bits of mantissa, so its logits move.
    CHECK(max_abs_diff(f["logits_bf16"], f["logits_timm"]) > 1e-3f);
}

TEST_CASE("checkpoint: each stored dtype is the one the file's header gives, F32 from memory") {
    const std::string path = fixture_path("checkpoint_timm_f16.safetensors");
    SafetensorsHeader header;
    const TensorMap tensors = load_safetensors(path, &header);
    REQUIRE(header.tensors.size() == tensors.size());
    std::map<std::string, std::string> dtype_of;
    for (const SafetensorsEntry& e : header.tensors) {
        CAPTURE(e.name);
        CHECK(e.shape == tensors.at(e.name).shape());
        dtype_of[e.name] = e.dtype;
    }
    const Checkpoint ck = load_checkpoint(path, heads(4));
    for (const StoredTensor& t : ck.stored) {
        CAPTURE(t.name);
        CHECK(t.dtype == dtype_of.at(t.name));
    }
    // Tensors given in memory are float32 whatever file they came from.
    for (const StoredTensor& t : checkpoint_from_tensors(tensors, path, heads(4)).stored)
        CHECK(t.dtype == "F32");
}

TEST_CASE("checkpoint: the model uses the loaded tensors in place, without copying them") {
    const Checkpoint ck = load_checkpoint(kTimm, heads(4));
    const auto model = make_vit(ck);
    for (const auto& entry : model->named_parameters()) {
        const std::string& name = entry.first;
        CAPTURE(name);
        CHECK(entry.second.shares_storage_with(ck.tensors.at(name)));
    }
}

TEST_CASE("checkpoint: SkipInit builds layers without drawing numbers; assign rebinds them") {
    // make_vit's two halves, on a Linear: nothing is drawn from the generator under SkipInit...
    Generator gen(3), fresh(3);
    {
        nn::SkipInit skip;
        CHECK(nn::init_skipped());
        nn::Linear fc(4, 3, true, gen);
        nn::LayerNorm norm(4);
        CHECK(fc.weight.shape() == Shape{3, 4});
        CHECK(norm.weight.shape() == Shape{4});
    }
    CHECK_FALSE(nn::init_skipped());
    CHECK(gen.normal() == fresh.normal());
    // ...and load_state_dict(..., assign = true) makes the parameters *be* the given tensors.
    nn::Linear fc(4, 3);
    const Tensor w = randn({3, 4}, gen), b = randn({3}, gen);
    fc.load_state_dict({{"weight", w}, {"bias", b}}, /*strict=*/true, /*assign=*/true);
    CHECK(fc.weight.shares_storage_with(w));
    CHECK(fc.named_parameters()[1].second.shares_storage_with(b));
    fc.load_state_dict({{"weight", zeros({3, 4})}, {"bias", zeros({3})}});  // copy: same storage
    CHECK(fc.weight.shares_storage_with(w));
    CHECK(w.at({0, 0}) == 0.0f);
}

// ---- the configuration -------------------------------------------------------------------------

TEST_CASE("checkpoint: heads default by width, as the standard ViTs have them") {
    CHECK(default_num_heads(192) == 3);
    CHECK(default_num_heads(384) == 6);
    CHECK(default_num_heads(768) == 12);
    CHECK(default_num_heads(1024) == 16);
    CHECK(default_num_heads(1280) == 16);  // ViT-H: heads of 80 dims
    CHECK(default_num_heads(512) == 8);    // otherwise heads of 64 dims
    CHECK(default_num_heads(32) == 0);     // unknown

    for (int64_t width : {192, 384, 768}) {
        const Checkpoint ck = checkpoint_from_tensors(
            zeros_checkpoint(small_config(width), Naming::Timm), "model.safetensors");
        CHECK(ck.config.num_heads == default_num_heads(width));
        CHECK(ck.heads_source == "default for width " + std::to_string(width));
    }
}

TEST_CASE("checkpoint: heads come from --heads, else --model, else a model name in the path") {
    const TensorMap t = zeros_checkpoint(small_config(384), Naming::Timm);
    // A Hugging Face cache path names the model.
    const std::string path =
        "hub/models--timm--vit_small_patch16_224.augreg_in21k_ft_in1k/snapshots/1/"
        "model.safetensors";
    Checkpoint ck = checkpoint_from_tensors(t, path);
    CHECK(ck.config.num_heads == 6);
    CHECK(ck.model_name == "vit_small_patch16_224.augreg_in21k_ft_in1k");
    CHECK(ck.heads_source.find("model name in the path") != std::string::npos);

    ck = checkpoint_from_tensors(t, path, heads(12));
    CHECK(ck.config.num_heads == 12);

    // google/vit-base-patch16-384 style names, with dashes; a name whose width disagrees with
    // the tensors is ignored (the tensors win).
    ck = checkpoint_from_tensors(t, "google/vit-base-patch16-384/model.safetensors");
    CHECK(ck.model_name == "vit_base_patch16_384");
    CHECK(ck.config.num_heads == 6);
    CHECK(ck.heads_source == "default for width 384");

    CHECK_THROWS_WITH_AS(checkpoint_from_tensors(t, "x.safetensors", heads(5)),
                         doctest::Contains("5 heads do not divide the width 384 (from --heads)"),
                         CheckpointError);
    CHECK_THROWS_WITH_AS(load_checkpoint(kTimm),
                         doctest::Contains("cannot tell the number of attention heads for width "
                                           "32"),
                         CheckpointError);
}

TEST_CASE("checkpoint: a configuration equal to a preset takes its name") {
    ViTConfig c = ViTConfig::preset("vit_tiny_patch16_224");
    c.depth = 1;  // smaller than the preset: stays custom
    CHECK(checkpoint_from_tensors(zeros_checkpoint(c, Naming::Timm), "a.safetensors").config.name ==
          "custom");
}

TEST_CASE("checkpoint: --model fixes the architecture and a checkpoint that disagrees fails") {
    CheckpointOptions o;
    o.model = "vit_base_patch16_384";
    CHECK_THROWS_WITH_AS(load_checkpoint(kTimm, o),
                         doctest::Contains("tensor 'cls_token' has shape (1, 1, 32), expected (1, "
                                           "1, 768)"),
                         CheckpointError);
    o.model = "vit_nonexistent";
    CHECK_THROWS_WITH_AS(load_checkpoint(kTimm, o), doctest::Contains("unknown model"),
                         std::invalid_argument);
}

TEST_CASE("checkpoint: Hugging Face's bare ViTModel names (no 'vit.' prefix) are recognised") {
    TensorMap bare;
    for (auto& [name, t] : load_safetensors(kHF))
        bare[name.rfind("vit.", 0) == 0 ? name.substr(4) : name] = t;
    const Checkpoint ck = checkpoint_from_tensors(bare, "bare.safetensors", heads(4));
    CHECK(ck.naming == Naming::HuggingFace);
    CHECK(ck.stored[0].name == "embeddings.cls_token");
    const auto f = fixture("checkpoint_io");
    check_close((*make_vit(ck))(f["input"]), f["logits_hf"], 1e-4f, 1e-4f);
}

// ---- checkpoints that do not fit ---------------------------------------------------------------

TEST_CASE("checkpoint: a missing tensor is named with its expected shape") {
    TensorMap t = timm_tensors();
    t.erase("blocks.1.mlp.fc2.bias");
    CHECK(error_of(t) ==
          "checkpoint 'edited.safetensors': missing tensor 'blocks.1.mlp.fc2.bias' (expected "
          "shape (32,)) (for custom: img 32, patch 8, dim 32, depth 2, heads 4, mlp 64, classes "
          "10; heads from --heads)");

    t = timm_tensors();
    t.erase("head.weight");
    CHECK(error_of(t).find("missing tensor 'head.weight' (expected shape (1000, 32))") !=
          std::string::npos);
    t = timm_tensors();
    t.erase("patch_embed.proj.weight");
    t.erase("patch_embed.proj.bias");
    t["patch_embed.proj.bias"] = zeros({32});
    CHECK(error_of(t).find("not a ViT checkpoint") != std::string::npos);
}

TEST_CASE("checkpoint: an unknown extra tensor is named with its shape") {
    TensorMap t = timm_tensors();
    t["fc_norm.weight"] = zeros({32});
    CHECK(error_of(t).find("unexpected tensor 'fc_norm.weight' of shape (32,)") !=
          std::string::npos);
    // A third block that is only half there: its missing tensors are reported, and counted.
    t = timm_tensors();
    t["blocks.2.norm1.weight"] = zeros({32});
    const std::string e = error_of(t);
    CHECK(e.find("missing tensor 'blocks.2.norm1.bias' (expected shape (32,)) (and 10 more "
                 "problems)") != std::string::npos);
    CHECK(e.find("depth 3") != std::string::npos);
}

TEST_CASE("checkpoint: a shape that disagrees with the inferred config names both shapes") {
    TensorMap t = timm_tensors();
    t["blocks.0.mlp.fc2.weight"] = zeros({32, 63});
    CHECK(error_of(t).find("tensor 'blocks.0.mlp.fc2.weight' has shape (32, 63), expected (32, "
                           "64)") != std::string::npos);
    t = timm_tensors();
    t["pos_embed"] = zeros({1, 16, 32});
    CHECK(error_of(t).find("tensor 'pos_embed' has shape (1, 16, 32): 15 patch positions do not "
                           "form a square grid") != std::string::npos);
    t["pos_embed"] = zeros({1, 17, 32, 1});
    CHECK(error_of(t).find("tensor 'pos_embed' has shape (1, 17, 32, 1), expected (1, 1 + G*G, "
                           "C)") != std::string::npos);
    t = timm_tensors();
    t["patch_embed.proj.weight"] = zeros({32, 3, 8, 4});
    CHECK(error_of(t).find("expected square patches") != std::string::npos);
    t = timm_tensors();
    t["pos_embed"] = zeros({1, 65 * 65 + 1, 1});
    CHECK(error_of(t).find("more than the largest grid") != std::string::npos);
}

TEST_CASE("checkpoint: Hugging Face problems name the Hugging Face tensor") {
    TensorMap t = load_safetensors(kHF);
    t.erase("vit.encoder.layer.1.attention.attention.value.weight");
    CHECK(error_of(t).find("missing tensor 'vit.encoder.layer.1.attention.attention.value.weight' "
                           "(expected shape (32, 32))") != std::string::npos);
    t = load_safetensors(kHF);
    t["vit.encoder.layer.0.attention.attention.query.bias"] = zeros({31});
    CHECK(error_of(t).find("tensor 'vit.encoder.layer.0.attention.attention.query.bias' has shape "
                           "(31,), expected (32,)") != std::string::npos);
    t = load_safetensors(kHF);
    t["vit.pooler.dense.weight"] = zeros({32, 32});
    CHECK(error_of(t).find("unexpected tensor 'vit.pooler.dense.weight' of shape (32, 32)") !=
          std::string::npos);
}

TEST_CASE("checkpoint: a checkpoint without qkv biases loads as qkv_bias = false") {
    TensorMap t = timm_tensors();
    t.erase("blocks.0.attn.qkv.bias");
    t.erase("blocks.1.attn.qkv.bias");
    const Checkpoint ck = checkpoint_from_tensors(t, "nobias.safetensors", heads(4));
    CHECK_FALSE(ck.config.qkv_bias);
    CHECK(make_vit(ck)->named_parameters().size() == 30);
}

TEST_CASE("checkpoint: a malformed file is a FileError naming it") {
    TempDir tmp;
    const std::string p = tmp.path("short.safetensors");
    write_bytes(p, "abc");
    CHECK_THROWS_WITH_AS(load_checkpoint(p), doctest::Contains("short.safetensors"), FileError);
    CHECK_THROWS_WITH_AS(load_checkpoint(tmp.path("none.safetensors")),
                         doctest::Contains("none.safetensors': cannot open"), FileError);
}

// ---- the corrupt-file sweep --------------------------------------------------------------------

// Every outcome must be a FileError (CheckpointError is one) or a checkpoint whose model runs.
static void expect_error_or_model(const std::string& path, int& errors, int& loaded) {
    try {
        const Checkpoint ck = load_checkpoint(path, heads(4));
        const ViTConfig& c = ck.config;
        const Tensor logits = (*make_vit(ck))(Tensor({1, c.in_chans, c.img_size, c.img_size}));
        CHECK(logits.shape() == Shape{1, c.num_classes});
        ++loaded;
    } catch (const FileError&) {
        ++errors;
    }
}

TEST_CASE(
    "checkpoint: every truncation of the header and every header byte flipped is an error or "
    "a working model") {
    TempDir tmp;
    const std::string original = read_bytes(fixture_path("checkpoint_timm_bf16.safetensors"));
    uint64_t header = 0;
    for (int b = 7; b >= 0; --b) header = (header << 8) | static_cast<unsigned char>(original[b]);
    const size_t data_start = 8 + header;
    REQUIRE(data_start < original.size());
    const std::string p = tmp.path("corrupt.safetensors");

    int errors = 0, loaded = 0;
    // Truncations: at every offset of the length and the header, then a few in the data.
    for (size_t n = 0; n <= data_start; ++n) {
        write_bytes(p, original.substr(0, n));
        expect_error_or_model(p, errors, loaded);
    }
    for (size_t n : {data_start + 1, original.size() / 2, original.size() - 1}) {
        write_bytes(p, original.substr(0, n));
        expect_error_or_model(p, errors, loaded);
    }
    CHECK(loaded == 0);  // no prefix of a checkpoint is a checkpoint
    CHECK(errors == int(data_start) + 4);

    // One flipped bit in every header byte (bit i % 8 of byte i).
    errors = loaded = 0;
    for (size_t i = 0; i < data_start; ++i) {
        std::string bytes = original;
        bytes[i] = static_cast<char>(bytes[i] ^ (1 << (i % 8)));
        write_bytes(p, bytes);
        expect_error_or_model(p, errors, loaded);
    }
    CHECK(errors + loaded == int(data_start));
    CHECK(errors > int(data_start) * 9 / 10);
}
