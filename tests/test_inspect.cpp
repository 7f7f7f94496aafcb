// test_inspect.cpp: attention rollout, class-token maps, position-embedding similarity, summary.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "cli/vit_main.h"
#include "tensor/io/safetensors.h"
#include "tensor/ops.h"
#include "tests/small_vit.h"
#include "vision/image.h"
#include "vision/png_write.h"
#include "vision/ppm.h"
#include "vit/inspect.h"
#include "vit/vision_transformer.h"

using namespace vitlab;

// A (1, heads, T, T) attention tensor from row-major values, one (T, T) block per head.
static Tensor attention(const std::vector<float>& values, int64_t heads, int64_t T) {
    return from_vector(values, {1, heads, T, T});
}

static ViTConfig small_config() {
    return vitlab::testing::small_vit_config(32, 3, "small_test");
}

// ---- attention rollout -------------------------------------------------------------------------

TEST_CASE("attention_rollout: identity attention leaves every token itself, a uniform patch map") {
    const int64_t T = 5;  // class token + a 2 x 2 grid
    Tensor eye = zeros({1, 2, T, T});
    for (int64_t h = 0; h < 2; ++h)
        for (int64_t i = 0; i < T; ++i) eye.at({0, h, i, i}) = 1.0f;
    const Tensor r = attention_rollout({eye, eye, eye});
    REQUIRE(r.shape() == Shape{1, T, T});
    for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j) CHECK(r.at({0, i, j}) == doctest::Approx(i == j ? 1 : 0));
    const Tensor grid = cls_attention_grid(r);
    CHECK(grid.shape() == Shape{1, 2, 2});
    for (float v : grid.to_vector()) CHECK(v == doctest::Approx(0.0f));
}

TEST_CASE("attention_rollout: uniform attention spreads the class token evenly over the patches") {
    const int64_t T = 10;  // 1 + 3 x 3
    const Tensor uniform = full({1, 3, T, T}, 1.0f / T);
    // One block by hand: 0.5 * (1/T) + 0.5 * [i == j]; the class token keeps 0.55, each patch 0.05.
    const Tensor one = cls_attention_grid(attention_rollout({uniform}));
    for (float v : one.to_vector()) CHECK(v == doctest::Approx(0.05f));
    const Tensor r = attention_rollout({uniform, uniform, uniform, uniform});
    const std::vector<float> patches = cls_attention_grid(r).to_vector();
    for (float v : patches) CHECK(v == doctest::Approx(patches[0]));
    CHECK(patches[0] > 0.05f);  // more blocks, more mixing
    const Tensor row_sums = r.sum(-1);
    for (float v : row_sums.to_vector()) CHECK(v == doctest::Approx(1.0f));
}

TEST_CASE("attention_rollout: averages heads, adds the residual and multiplies later @ earlier") {
    // Block 1, one head: A1 = [[1, 0], [0.5, 0.5]] -> Â1 = [[1, 0], [0.25, 0.75]].
    // Block 2, two heads averaging to A2 = [[0.2, 0.8], [0.6, 0.4]] -> Â2 = [[0.6, 0.4], [0.3,
    // 0.7]]. R = Â2 @ Â1 = [[0.7, 0.3], [0.475, 0.525]]  (Â1 @ Â2 would be [[0.6, 0.4], [0.375,
    // 0.625]]).
    const Tensor a1 = attention({1, 0, 0.5f, 0.5f}, 1, 2);
    const Tensor a2 = attention({0.4f, 0.6f, 0.2f, 0.8f, 0, 1, 1, 0}, 2, 2);
    // Heads are averaged per block, so block 1 needs two heads as well: repeat its one head.
    const Tensor a1x2 = cat({a1, a1}, 1);
    const Tensor r = attention_rollout({a1x2, a2});
    const std::vector<float> expected = {0.7f, 0.3f, 0.475f, 0.525f};
    const std::vector<float> got = r.to_vector();
    for (size_t i = 0; i < 4; ++i) CHECK(got[i] == doctest::Approx(expected[i]));
    // Without the residual: the plain product A2 @ A1 = [[0.6, 0.4], [0.8, 0.2]].
    const std::vector<float> plain = attention_rollout({a1x2, a2}, 0.0f).to_vector();
    CHECK(plain[0] == doctest::Approx(0.6f));
    CHECK(plain[2] == doctest::Approx(0.8f));
}

TEST_CASE("attention_rollout: rows of a real model's rollout sum to 1") {
    const ViTConfig c = small_config();
    const VisionTransformer model(c, 3);
    Generator gen(4);
    std::vector<Tensor> probs;
    model(randn({2, 3, 32, 32}, gen), &probs);
    REQUIRE(probs.size() == 3);
    const Tensor r = attention_rollout(probs);
    CHECK(r.shape() == Shape{2, 17, 17});
    for (float v : r.sum(-1).to_vector()) CHECK(v == doctest::Approx(1.0f).epsilon(1e-4));
    CHECK(cls_attention_grid(r).shape() == Shape{2, 4, 4});
}

TEST_CASE("attention_rollout: no blocks or mismatched shapes are errors") {
    CHECK_THROWS_WITH_AS(attention_rollout({}), doctest::Contains("no attention maps"), ShapeError);
    CHECK_THROWS_WITH_AS(attention_rollout({zeros({1, 2, 5, 5}), zeros({1, 2, 4, 4})}),
                         doctest::Contains("block 1 has attention of shape (1, 2, 4, 4), "
                                           "expected (1, 2, 5, 5)"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(attention_rollout({zeros({2, 5, 5})}),
                         doctest::Contains("expected (B, H, T, T)"), ShapeError);
}

TEST_CASE("cls_attention_grid: the class token's row without itself, on the grid") {
    const Tensor m = arange(25).reshape({1, 5, 5});  // row 0 is 0, 1, 2, 3, 4
    const Tensor grid = cls_attention_grid(m);
    CHECK(grid.shape() == Shape{1, 2, 2});
    CHECK(grid.to_vector() == std::vector<float>{1, 2, 3, 4});
    CHECK_THROWS_WITH_AS(cls_attention_grid(zeros({1, 6, 6})),
                         doctest::Contains("expected (B, 1 + G*G, 1 + G*G), got (1, 6, 6)"),
                         ShapeError);
}

// ---- position embeddings -----------------------------------------------------------------------

TEST_CASE("position_embedding_similarity: identical embeddings are all similarity 1") {
    Generator gen(1);
    const Tensor v = randn({1, 1, 8}, gen);
    Tensor pos = cat({randn({1, 1, 8}, gen), v.expand({1, 9, 8})}, 1);  // class token differs
    const Tensor sim = position_embedding_similarity(pos);
    CHECK(sim.shape() == Shape{9, 3, 3});
    for (float s : sim.to_vector()) CHECK(s == doctest::Approx(1.0f));
}

TEST_CASE("position_embedding_similarity: orthogonal embeddings light up their own cell only") {
    Tensor pos = zeros({4, 6});                                 // (G*G, C) without a class token
    for (int64_t i = 0; i < 4; ++i) pos.at({i, i}) = 2.0f + i;  // lengths do not matter
    pos.at({3, 5}) = -1.0f;                                     // nor other directions
    const Tensor sim = position_embedding_similarity(pos);
    for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 4; ++j)
            CHECK(sim.at({i, j / 2, j % 2}) == doctest::Approx(i == j ? 1.0f : 0.0f));
}

TEST_CASE("position_embedding_similarity: opposite vectors give -1, a zero vector 0 (not NaN)") {
    const Tensor pos = from_vector({1, 2, -1, -2, 0, 0, 3, 1}, {4, 2});
    const Tensor sim = position_embedding_similarity(pos);  // (4, 2, 2)
    CHECK(sim.at({0, 0, 1}) == doctest::Approx(-1.0f));
    CHECK(sim.at({0, 1, 1}) == doctest::Approx(5.0f / (std::sqrt(5.0f) * std::sqrt(10.0f))));
    for (int64_t j = 0; j < 4; ++j) CHECK(sim.at({2, j / 2, j % 2}) == 0.0f);
}

TEST_CASE("position_embedding_similarity: bad shapes are errors") {
    CHECK_THROWS_WITH_AS(position_embedding_similarity(zeros({1, 6, 4})),
                         doctest::Contains("expected (1, 1 + G*G, C) or (G*G, C), got (1, 6, 4)"),
                         ShapeError);
    CHECK_THROWS_AS(position_embedding_similarity(zeros({3, 4})), ShapeError);
}

// ---- summary -----------------------------------------------------------------------------------

TEST_CASE("summarize: totals equal ViTConfig::num_parameters for every preset") {
    for (const std::string& name : ViTConfig::preset_names()) {
        const ViTConfig c = ViTConfig::preset(name);
        const ModelSummary s = summarize(c);
        CHECK_MESSAGE(s.total_params == c.num_parameters(), name);
        CHECK(s.rows[0].params == s.total_params);
    }
    CHECK(summarize(vit_large_patch16_384()).total_params == 304'715'752);
}

TEST_CASE("summarize: every row's count matches the allocated model's parameters under its name") {
    const ViTConfig c = small_config();
    const VisionTransformer model(c, 0);
    const ModelSummary s = summarize(c);
    CHECK(s.total_params == model.num_parameters());
    const nn::NamedTensors params = model.named_parameters();
    for (const SummaryRow& row : s.rows) {
        int64_t under = 0;
        for (const auto& [name, t] : params)
            if (row.name.empty() || name == row.name || name.rfind(row.name + ".", 0) == 0)
                under += t.numel();
        CHECK_MESSAGE(row.params == under, row.name);
    }
}

TEST_CASE("summarize: output shapes are those of the real forward pass") {
    const ViTConfig c = small_config();
    const VisionTransformer model(c, 0);
    Generator gen(2);
    const Tensor images = randn({2, 3, 32, 32}, gen);
    const ModelSummary s = summarize(c, 2);
    auto row = [&](const std::string& name) {
        for (const auto& r : s.rows)
            if (r.name == name) return r.output_shape;
        FAIL("no row " << name);
        return Shape{};
    };
    CHECK(row("") == model(images).shape());
    CHECK(row("patch_embed") == model.patch_embed(images).shape());
    const Tensor x = model.embed(images);
    CHECK(row("blocks.0") == model.blocks[0](x).shape());
    CHECK(row("blocks.0.attn.qkv") == model.blocks[0].attn.qkv(x).shape());
    CHECK(row("blocks.2.mlp.fc1") == model.blocks[2].mlp.fc1(x).shape());
    CHECK(row("head") == model(images).shape());
}

TEST_CASE("summarize: vit_base_patch16_384 needs about 55.5 G multiply-adds") {
    const ModelSummary s = summarize(vit_base_patch16_384());
    CHECK(std::abs(double(s.total_macs) - 55.5e9) < 0.01 * 55.5e9);
    // Twice the images, twice the work; the parameters stay.
    const ModelSummary two = summarize(vit_base_patch16_384(), 2);
    CHECK(two.total_macs == 2 * s.total_macs);
    CHECK(two.total_params == s.total_params);
    // The blocks dominate: attention's two matmuls alone are 2 * 12 heads * 577^2 * 64 per block.
    int64_t attn = 0;
    for (const auto& r : s.rows)
        if (r.type == "Attention") attn += r.macs;
    CHECK(attn > 0);
    CHECK(attn < s.total_macs);
}

TEST_CASE("format_summary: a torchinfo-like table with totals") {
    const std::string t = format_summary(summarize(vit_base_patch16_384()));
    CHECK(t.find("Total params: 86,859,496") != std::string::npos);
    CHECK(t.find("Total mult-adds: 55.") != std::string::npos);
    CHECK(t.find("├─PatchEmbed: patch_embed") != std::string::npos);
    CHECK(t.find("Linear: blocks.0.attn.qkv") != std::string::npos);
    CHECK(t.find("blocks.1.attn.qkv") == std::string::npos);  // folded: same as blocks.0
    CHECK(t.find("(1, 577, 2304)") != std::string::npos);
    const std::string all = format_summary(summarize(vit_base_patch16_384()), -1, true);
    CHECK(all.find("blocks.11.mlp.fc2") != std::string::npos);
    const std::string top = format_summary(summarize(vit_base_patch16_384()), 1);
    CHECK(top.find("blocks.0") == std::string::npos);
    CHECK(with_commas(1234567) == "1,234,567");
    CHECK(human_count(55'484'041'216) == "55.48 G");
}

// ---- the vit command: summary and explain (cli/summary.cpp, cli/explain.cpp) --------------------

// Runs `vit words...` in-process; returns the exit status, stdout and stderr.
static int run_vit(const std::vector<std::string>& words, std::string* out_text,
                   std::string* err_text) {
    std::vector<const char*> argv = {"vit"};
    for (const auto& w : words) argv.push_back(w.c_str());
    std::ostringstream out, err;
    const int code = cli::vit_main(int(argv.size()), argv.data(), out, err);
    *out_text = out.str();
    *err_text = err.str();
    return code;
}

TEST_CASE("vit summary: a preset's table totals its parameter count, nothing allocated") {
    std::string out, err;
    REQUIRE(run_vit({"summary", "--model", "vit_large_patch16_384.augreg_in21k_ft_in1k"}, &out,
                    &err) == 0);
    CHECK(out.find("Total params: 304,715,752") != std::string::npos);
    CHECK(out.find("Total mult-adds: 191.") != std::string::npos);
    CHECK(run_vit({"summary"}, &out, &err) == 2);
    CHECK(err.find("give --model NAME or --weights W") != std::string::npos);
}

TEST_CASE("vit summary and explain on a checkpoint: totals, and pictures that read back") {
    const ViTConfig c = small_config();
    const VisionTransformer model(c, 5);
    const auto dir = std::filesystem::temp_directory_path() / "vitlab_test_explain";
    std::filesystem::create_directories(dir);
    const std::string weights = (dir / "small.safetensors").string();
    save_safetensors(weights, model.state_dict());

    std::string out, err;
    REQUIRE(run_vit({"summary", "--weights", weights, "--heads", "4"}, &out, &err) == 0);
    CHECK(out.find("Total params: " + with_commas(model.num_parameters())) != std::string::npos);

    Image im;
    im.width = 45;
    im.height = 37;
    im.channels = 3;
    for (int i = 0; i < 45 * 37 * 3; ++i) im.pixels.push_back(uint8_t(i * 7));
    const std::string image = (dir / "input.ppm").string();
    write_ppm(image, im);
    const std::string pictures = (dir / "pictures").string();
    const int code = run_vit({"explain", "--weights", weights, "--heads", "4", image, "--out",
                              pictures, "--layers", "2", "--attn-heads", "1,3"},
                             &out, &err);
    REQUIRE_MESSAGE(code == 0, err);
    if (have_png_write() && have_png_jpeg()) {
        // 32 x 32 inputs are drawn 8 times larger: 256 x 256, with the 4 x 4 grid of patches.
        for (const char* name : {"patches.png", "attention_layer2_head1.png",
                                 "attention_layer2_head3.png", "attention_rollout.png"}) {
            const Image back = read_image((std::filesystem::path(pictures) / name).string());
            CHECK_MESSAGE(back.width == 256, name);
            CHECK_MESSAGE(back.height == 256, name);
        }
        const Image patches =
            read_image((std::filesystem::path(pictures) / "patches.png").string());
        for (int c3 = 0; c3 < 3; ++c3) CHECK(patches.at(64, 100, c3) == 255);  // a grid line
        // 16 small maps of 4 x 4 cells, 8 pixels each, 2 pixels apart: 4 * 32 + 5 * 2 = 138.
        const Image sim = read_image(
            (std::filesystem::path(pictures) / "position_embedding_similarity.png").string());
        CHECK(sim.width == 138);
        CHECK(sim.height == 138);
        CHECK(!std::filesystem::exists(std::filesystem::path(pictures) /
                                       "attention_layer0_head0.png"));
    }
    CHECK(run_vit({"explain", "--weights", weights, "--heads", "4", image, "--out", pictures,
                   "--layers", "7"},
                  &out, &err) == 2);
    CHECK(err.find("--layers must be 'all' or numbers from 0 to 2") != std::string::npos);
    std::filesystem::remove_all(dir);
}
