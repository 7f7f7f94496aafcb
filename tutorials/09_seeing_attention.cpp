// 09_seeing_attention.cpp: looking inside a ViT: patch grid, attention maps, rollout, position
// embeddings and a model summary, written as PNG pictures.
//
// EN: Tutorials 01-08 printed shapes; this one draws. A ViT's inner state is full of small
//     maps on the 24 x 24 patch grid, and drawing them is how people check what it learnt:
//       patches.png                      the input after preprocessing, with the patch grid:
//                                        the 576 图像块 (patches) the model turns into tokens
//       attention_layerL_headH.png       where the 分类标记 (class token) looks in block L, head
//                                        H: attn[0, H, 0, 1:] (576) -> (24, 24) -> upsampled
//       attention_rollout.png            attention through all blocks at once (Abnar & Zuidema
//                                        2020): average the heads, add the residual identity,
//                                        renormalise rows, multiply the blocks together
//       position_embedding_similarity.png   for each patch position, the cosine similarity of
//                                        its 位置嵌入 (position embedding) with all 576 others
//                                        (the ViT paper's Figure 7, centre)
//     The model here is random, so the pictures show what "untrained" looks like: attention
//     spread evenly, position embeddings unrelated to each other. The end of the program says
//     what a trained model shows instead and how to get one to see it for real.
// 中文：前八个教程打印形状，本教程画图。我们把预处理后的输入和图像块网格、各层各头的注意力图、
//     注意力展开（Attention Rollout，把所有层的注意力连乘）以及位置嵌入的余弦相似度（ViT 论文
//     图 7）保存为 PNG 图片。这里的模型是随机初始化的，所以注意力几乎均匀、位置嵌入彼此无关；
//     程序最后说明训练好的模型会呈现什么，以及如何下载预训练权重（Hugging Face 上的
//     timm/vit_base_patch16_384.augreg_in21k_ft_in1k）用 `vit explain` 亲眼看到。
// The model is vit_base_patch16_384's geometry (384 x 384, 16 x 16 patches, 24 x 24 grid) with
// ViT-Tiny's width (192, 3 heads) so that it runs in a fraction of a second.
// Run: make run T=09 (pictures go to build/tutorial_09/, or to the folder given as argument).
// Back to the start: README.md in this folder.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tutorials/common.h"
#include "vision/draw.h"
#include "vision/image.h"
#include "vision/png_write.h"
#include "vision/transforms.h"
#include "vit/inspect.h"
#include "vit/vision_transformer.h"

using namespace vitlab;

// A 480 x 360 picture to look at, drawn by formula (no file needed): sky, grass, a sun and a
// house. Not square, so preprocessing has to resize and crop it as it would a photo.
static Image make_scene() {
    Image im;
    im.width = 480;
    im.height = 360;
    im.channels = 3;
    im.pixels.resize(size_t(im.width) * im.height * 3);
    for (int y = 0; y < im.height; ++y)
        for (int x = 0; x < im.width; ++x) {
            float r, g, b;
            if (y < 240) {  // sky, lighter towards the horizon
                const float t = y / 240.0f;
                r = 0.35f + 0.4f * t, g = 0.6f + 0.3f * t, b = 0.95f;
            } else {  // grass
                r = 0.25f, g = 0.6f - 0.2f * (y - 240) / 120.0f, b = 0.2f;
            }
            const float dx = x - 380.0f, dy = y - 80.0f;
            if (dx * dx + dy * dy < 40.0f * 40.0f) r = 1.0f, g = 0.85f, b = 0.2f;  // sun
            if (x >= 150 && x < 290 && y >= 170 && y < 280) r = 0.75f, g = 0.2f, b = 0.15f;
            if (y >= 110 && y < 170 && std::abs(x - 220) < (y - 110) * 80 / 60)  // roof
                r = 0.35f, g = 0.2f, b = 0.15f;
            if (x >= 200 && x < 240 && y >= 220 && y < 280) r = 0.3f, g = 0.2f, b = 0.1f;  // door
            uint8_t* p = &im.pixels[(size_t(y) * im.width + x) * 3];
            p[0] = uint8_t(std::lround(255 * r));
            p[1] = uint8_t(std::lround(255 * g));
            p[2] = uint8_t(std::lround(255 * b));
        }
    return im;
}

// A (G, G) map drawn over the picture: upsample to its size, colour, blend half and half.
static Image overlay_map(const Image& picture, const Tensor& map) {
    const Tensor big = upsample_bilinear(map, picture.height, picture.width);
    return overlay(picture, heatmap(big), 0.5f);
}

// One small heat map per patch position, in the grid's layout: (G*G, G, G) -> one picture.
static Image similarity_mosaic(const Tensor& sim) {
    const int64_t G = sim.size(1);
    std::vector<Image> tiles;
    for (int64_t i = 0; i < G * G; ++i)
        tiles.push_back(scale_nearest(heatmap(sim.select(0, i)), 2));
    return mosaic(tiles, static_cast<int>(G), 2, {255, 255, 255});
}

// 2-D sine-cosine position embeddings (G*G, C): half of the C numbers encode the row, half the
// column, each as sin and cos of the position at C/4 frequencies 1 / 10000^(k / (C/4)). MAE
// uses them fixed; a trained ViT's learnt embeddings come out with a similar structure.
static Tensor sincos_position_embedding(int64_t G, int64_t C) {
    Tensor pe = zeros({G * G, C});
    const int64_t F = C / 4;
    for (int64_t row = 0; row < G; ++row)
        for (int64_t col = 0; col < G; ++col)
            for (int64_t k = 0; k < F; ++k) {
                const double omega = 1.0 / std::pow(10000.0, double(k) / double(F));
                const int64_t i = row * G + col;
                pe.at({i, k}) = float(std::sin(row * omega));
                pe.at({i, F + k}) = float(std::cos(row * omega));
                pe.at({i, 2 * F + k}) = float(std::sin(col * omega));
                pe.at({i, 3 * F + k}) = float(std::cos(col * omega));
            }
    return pe;
}

// Writes the picture and reads the file back: the size must survive the round trip.
static void save(const std::filesystem::path& dir, const std::string& name, const Image& im) {
    const std::string path = (dir / name).string();
    write_png(path, im);
    const Image back = read_image(path);
    tutorial::step("  " + name, fmt::format("{} x {}", back.width, back.height));
    tutorial::check(back.width == im.width && back.height == im.height && back.pixels == im.pixels,
                    name + " reads back with the same pixels");
}

int main(int argc, char** argv) {
    using tutorial::heading;
    fmt::print("SIMD kernels: {}\n", isa_summary());  // the times below depend on them
    using tutorial::step;
    if (!have_png_write() || !have_png_jpeg()) {
        fmt::print("This build has no PNG support (stb); install libstb-dev and rebuild.\n");
        return 1;
    }
#ifdef VITLAB_SOURCE_DIR
    std::filesystem::path out_dir =
        std::filesystem::path(VITLAB_SOURCE_DIR) / "build" / "tutorial_09";
#else
    std::filesystem::path out_dir = std::filesystem::temp_directory_path() / "vitlab_tutorial_09";
#endif
    if (argc > 1) out_dir = argv[1];
    std::filesystem::create_directories(out_dir);

    // ---- the model and its summary -----------------------------------------------------------
    ViTConfig config = vit_base_patch16_384();
    config.name = "vit_tiny_patch16_384";
    config.embed_dim = 192;
    config.num_heads = 3;
    config.mlp_dim = 768;
    heading("Step 0", "模型概要", "Model summary", "一个小的 ViT（与 ViT-Base 同样的图像块网格）",
            "a small ViT (ViT-Base's patch grid, ViT-Tiny's width)");
    fmt::print("{}\n\n", to_string(config));
    fmt::print(
        "The notebook's model, vit_base_patch16_384, as a table (computed from its config, "
        "nothing allocated):\n{}\n",
        format_summary(summarize(vit_base_patch16_384()), 3));
    const ModelSummary summary = summarize(config);
    tutorial::Timer timer;
    const VisionTransformer model(config, /*seed=*/0);
    step("our model's parameters (summary)", tutorial::thousands(summary.total_params));
    tutorial::check(summary.total_params == model.num_parameters(),
                    "the summary's total equals the allocated model's count");
    step("multiply-adds of one forward pass", human_count(summary.total_macs));

    // ---- 1. what the model sees --------------------------------------------------------------
    heading("Step 1", "图像块嵌入", "Patch Embedding", "模型看到的输入与图像块网格",
            "the input as the model sees it, with the patch grid");
    fmt::print("  Pictures go to {}\n", out_dir.string());
    const Image scene = make_scene();
    const PreprocessConfig pre = vit_preprocess_config(config.img_size, /*augreg=*/true);
    const Tensor images = preprocess(scene, pre);  // (1, 3, 384, 384), values in [-1, 1]
    step("scene", fmt::format("{} x {} RGB", scene.width, scene.height));
    step("images = preprocess(scene)", images.shape());
    // Undo the normalisation to draw it: x * std + mean, back in [0, 1].
    const Image seen = to_image(unnormalize(images.select(0, 0), pre.mean, pre.stddev));
    Image grid = seen;
    patch_grid(grid, static_cast<int>(config.patch_size), {255, 255, 255});
    save(out_dir, "patches.png", grid);
    fmt::print("  {} x {} = {} patches of {} x {} pixels, each one token.\n", config.grid_size(),
               config.grid_size(), config.num_patches(), config.patch_size, config.patch_size);

    // ---- 2. attention of one block, one head -------------------------------------------------
    heading("Step 2", "多头注意力", "Multi-Head Attention", "分类标记在每一层看向哪里",
            "where the class token looks, block by block");
    timer.reset();
    std::vector<Tensor> probs;
    const Tensor logits = model(images, &probs);
    step("logits = model(images, &attn_probs)",
         fmt::format("{}  in {:.2f} s", to_string(logits.shape()), timer.seconds()));
    step("attn_probs[l], one per block",
         fmt::format("{} x {}", probs.size(), to_string(probs[0].shape())));
    const float uniform = 1.0f / float(config.num_tokens());
    for (const int64_t layer : {int64_t(0), config.depth - 1}) {
        const int64_t head = 0;
        // attn[0, head] is (577, 577); row 0 is the class token; columns 1.. are the patches.
        const Tensor grid_map = cls_attention_grid(probs[layer].select(1, head))  // (1, 24, 24)
                                    .select(0, 0);
        const std::vector<float> v = grid_map.to_vector();
        const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
        step(fmt::format("block {} head {}: attention to patches", layer, head),
             fmt::format("min {:.5f}  max {:.5f}  (uniform: 1/577 = {:.5f})", *lo, *hi, uniform));
        save(out_dir, fmt::format("attention_layer{}_head{}.png", layer, head),
             overlay_map(seen, grid_map));
    }
    // Random weights give q and k of size ~0.02 * sqrt(192): every score q.k/sqrt(d) is nearly 0,
    // so softmax spreads attention almost evenly. A trained model's scores are large and peaked.
    const Tensor last = cls_attention_grid(probs.back().select(1, 0));
    const float spread = (max(last.reshape({-1}), 0).item() - uniform) / uniform;
    tutorial::check(spread < 0.5f,
                    fmt::format("random weights: the class token's attention is nearly uniform "
                                "(largest is {:.0f}% above 1/577)",
                                100 * spread));

    // ---- 3. attention rollout ----------------------------------------------------------------
    heading("Step 3", "注意力展开", "Attention rollout",
            fmt::format("把 {} 层的注意力连乘起来", config.depth),
            fmt::format("all {} blocks at once", config.depth));
    const Tensor rollout = attention_rollout(probs);  // (1, 577, 577)
    step("R = attention_rollout(attn_probs)", rollout.shape());
    const Tensor row_sums = rollout.sum(-1);
    tutorial::check(allclose(row_sums, ones(row_sums.shape()), 1e-4f, 1e-4f),
                    "every row of R sums to 1 (each token is a mix of input tokens)");
    const Tensor rollout_map = cls_attention_grid(rollout).select(0, 0);  // (24, 24)
    step("R[0, 0, 1:] on the grid", rollout_map.shape());
    const std::vector<float> rv = rollout_map.to_vector();
    const auto [rlo, rhi] = std::minmax_element(rv.begin(), rv.end());
    step("R[0, 0, 1:]: min, max", fmt::format("{:.5f}, {:.5f}", *rlo, *rhi));
    // heatmap() stretches min..max over the whole colour ramp, so even this small spread looks
    // vivid. It follows the picture's content a little: random attention still compares the
    // patches' (random) projections, and equal-coloured patches get equal projections.
    fmt::print(
        "  The heat map stretches min..max over the whole colour ramp: small differences\n"
        "  look large. Read the numbers above before reading a colour.\n");
    save(out_dir, "attention_rollout.png", overlay_map(seen, rollout_map));

    // ---- 4. position embeddings --------------------------------------------------------------
    heading("Step 4", "位置嵌入", "Position Embedding", "位置嵌入之间的余弦相似度（ViT 论文图 7）",
            "cosine similarity between position embeddings (the ViT paper's Figure 7, centre)");
    const Tensor sim = position_embedding_similarity(model.pos_embed);  // (576, 24, 24)
    step("position_embedding_similarity(pos_embed)", sim.shape());
    bool diagonal_is_one = true;
    double off = 0;
    for (int64_t i = 0; i < config.num_patches(); ++i)
        for (int64_t j = 0; j < config.num_patches(); ++j) {
            const float s = sim.at({i, j / config.grid_size(), j % config.grid_size()});
            if (i == j)
                diagonal_is_one &= std::abs(s - 1.0f) < 1e-4f;
            else
                off += std::abs(s);
        }
    off /= double(config.num_patches()) * double(config.num_patches() - 1);
    tutorial::check(diagonal_is_one, "every position is similar 1 to itself");
    step("mean |similarity| between different positions", fmt::format("{:.3f}", off));
    tutorial::check(off < 3.0 / std::sqrt(double(config.embed_dim)),
                    "random embeddings are nearly orthogonal: about 0.8 / sqrt(192) = 0.06");
    save(out_dir, "position_embedding_similarity.png", similarity_mosaic(sim));

    const Tensor sincos = sincos_position_embedding(config.grid_size(), config.embed_dim);
    const Tensor sim2 = position_embedding_similarity(sincos);
    // Patch (12, 12): its neighbour (12, 13) should be more alike than the far corner (0, 0).
    const int64_t centre = 12 * config.grid_size() + 12;
    const float near = sim2.at({centre, 12, 13}), far = sim2.at({centre, 0, 0});
    step("sin-cos: (12,12) vs (12,13), vs (0,0)", fmt::format("{:.3f} / {:.3f}", near, far));
    tutorial::check(near > far, "structured embeddings: neighbours are more alike than far cells");
    save(out_dir, "position_embedding_similarity_sincos.png", similarity_mosaic(sim2));

    // ---- what a trained model shows -----------------------------------------------------------
    fmt::print(R"(
What a trained ViT shows instead:
  - attention_layer*_head*.png: early blocks attend locally (a patch and its neighbours), some
    heads attend to the whole image; late blocks concentrate on the object that decides the class.
  - attention_rollout.png: bright on the object (the dog's face, the bird), dark on background.
  - position_embedding_similarity.png: each small map peaks at its own position and lights up
    its row and column, as position_embedding_similarity_sincos.png does here: the model learnt
    2-D layout from a 1-D list of tokens.
To see it for real, download a pretrained checkpoint (about 350 MB) from the Hugging Face hub:
  curl -L -o vit_base_patch16_384.safetensors \
    https://huggingface.co/timm/vit_base_patch16_384.augreg_in21k_ft_in1k/resolve/main/model.safetensors
  make vit
  build/vit explain --weights vit_base_patch16_384.safetensors \
    --model vit_base_patch16_384.augreg_in21k_ft_in1k photo.jpg --out explain/
)");
    return tutorial::exit_code();
}
