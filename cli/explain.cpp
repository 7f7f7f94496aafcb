// explain.cpp: `vit explain`: pictures of what a checkpoint does with one image.
//
//   patches.png                        the input after preprocessing, with the patch grid
//   attention_layerL_headH.png         block L, head H: the class token's attention over the
//                                      patches, upsampled and overlaid on the input
//   attention_rollout.png              the same through all blocks (vit/inspect.h)
//   position_embedding_similarity.png  cosine similarity of each position's embedding with all
//                                      others, one small map per position (ViT paper, Fig. 7)
// The forward pass runs block by block so that a large model shows its progress on stderr
// (when stderr is a terminal; tensor/util/progress.h).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <ostream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "tensor/ops.h"
#include "tensor/util/progress.h"
#include "vision/draw.h"
#include "vision/image.h"
#include "vision/png_write.h"
#include "vision/transforms.h"
#include "vit/checkpoint.h"
#include "vit/inspect.h"

namespace vitlab::cli {

const std::vector<Option> kExplainOptions = join_options(
    {model_options(),
     {{"--out", "DIR", "folder for the pictures (created if missing)"},
      {"--layers", "L,L", "blocks to draw, from 0, or 'all' (default: first and last)"},
      {"--attn-heads", "H,H", "heads to draw per block, or 'all' (default: all)"},
      {"--alpha", "A", "heat-map opacity over the image, 0..1 (default 0.5)"}},
     preprocess_options(),
     run_options()});

const char* const kExplainHelp =
    "usage: vit explain --weights W IMAGE --out DIR [--layers 0,11] "
    "[--attn-heads 0,1]\n"
    "\n"
    "Writes PNG pictures of what the model does with IMAGE into DIR:\n"
    "  patches.png                        the input as the model sees it, with "
    "the patch grid\n"
    "  attention_layerL_headH.png         the class token's attention in block "
    "L, head H\n"
    "  attention_rollout.png              attention through all blocks (Abnar "
    "& Zuidema 2020)\n"
    "  position_embedding_similarity.png  each position's embedding against "
    "all others\n"
    "Heat maps stretch each map's min..max over the colour ramp (dark blue "
    "low, yellow high).\n"
    "\n";

namespace {

// v without repeats, in order: each picture is drawn once ("--layers 0,0", or the default
// first-and-last block of a one-block model).
std::vector<int64_t> unique_in_order(const std::vector<int64_t>& v) {
    std::vector<int64_t> out;
    for (const int64_t x : v)
        if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
    return out;
}

// "all", or a comma-separated list of indices below n.
std::vector<int64_t> index_list(const Args& args, const std::string& option,
                                const std::vector<int64_t>& fallback, int64_t n) {
    if (!args.has(option)) return unique_in_order(fallback);
    const std::string text = args.get(option);
    std::vector<int64_t> out;
    if (text == "all") {
        for (int64_t i = 0; i < n; ++i) out.push_back(i);
        return out;
    }
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        size_t used = 0;
        long long v = -1;
        try {
            v = std::stoll(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != item.size() || item.empty() || v < 0 || v >= n)
            throw UsageError(fmt::format("{} must be 'all' or numbers from 0 to {}, got '{}'",
                                         option, n - 1, text));
        out.push_back(v);
    }
    if (out.empty()) throw UsageError(option + " is empty");
    return unique_in_order(out);
}

Image overlay_map(const Image& picture, const Tensor& map, float alpha) {
    return overlay(picture, heatmap(upsample_bilinear(map, picture.height, picture.width)), alpha);
}

}  // namespace

int explain(const Args& args, std::ostream& out, const Report& /*report*/) {
    if (args.positional().size() != 1)
        throw UsageError(args.positional().empty() ? "no IMAGE given" : "give exactly one IMAGE");
    const std::string image_path = args.positional()[0];
    const std::filesystem::path dir = args.required("--out");
    const float alpha = args.has("--alpha") ? args.get_floats("--alpha", 1, false)[0] : 0.5f;
    if (!(alpha >= 0.0f && alpha <= 1.0f))
        throw UsageError(fmt::format("--alpha must be from 0 to 1, got {}", alpha));
    if (!have_png_write())
        throw ImageError(
            "this build cannot write PNG (stb_image_write.h was not "
            "found); install "
            "libstb-dev (Debian/Ubuntu) or stb (brew) and rebuild");

    const Checkpoint ck = load_for_command(args);
    const ViTConfig& c = ck.config;
    const std::vector<int64_t> layers = index_list(args, "--layers", {0, c.depth - 1}, c.depth);
    std::vector<int64_t> all_heads;
    for (int64_t h = 0; h < c.num_heads; ++h) all_heads.push_back(h);
    const std::vector<int64_t> heads = index_list(args, "--attn-heads", all_heads, c.num_heads);
    if (c.depth < 1) throw CheckpointError("checkpoint '" + ck.path + "': the model has no blocks");

    std::string why;
    const PreprocessConfig pre = preprocess_for_command(ck, args, &why);
    const Tensor images = preprocess(read_image(image_path), pre);  // (1, C, S, S)
    const auto model = make_vit(ck);

    // The forward pass, block by block, keeping each block's attention (1, H, T,
    // T).
    std::vector<Tensor> probs;
    Tensor x = model->embed(images);
    {
        Progress bar("forward", c.depth);
        for (const auto& block : model->blocks) {
            Tensor p;
            x = block(x, &p);
            check_finite_for_command(x, ck, fmt::format("the output of block {} is", probs.size()));
            probs.push_back(p);
            bar.advance();
        }
    }

    std::filesystem::create_directories(dir);
    std::vector<std::string> written;
    auto save = [&](const std::string& name, const Image& im) {
        // write_png replaces a file atomically; the image or the weights must not be that file.
        write_png((dir / name).string(), im, {image_path, args.required("--weights")});
        written.push_back(name);
    };
    // Small inputs (a 32 x 32 test model) are enlarged to stay visible.
    const int zoom = static_cast<int>(std::max<int64_t>(1, 256 / c.img_size));
    // The input as the model saw it, (C, S, S) back in [0, 1]; a gray one drawn as RGB.
    Tensor shown = unnormalize(images.select(0, 0), pre.mean, pre.stddev);
    if (shown.size(0) == 1) shown = cat({shown, shown, shown}, 0);
    const Image seen = scale_nearest(to_image(shown), zoom);
    Image grid = seen;
    patch_grid(grid, static_cast<int>(c.patch_size) * zoom, {255, 255, 255});
    save("patches.png", grid);

    for (int64_t l : layers)
        for (int64_t h : heads)
            save(fmt::format("attention_layer{}_head{}.png", l, h),
                 overlay_map(seen, cls_attention_grid(probs[l].select(1, h)).select(0, 0), alpha));
    save("attention_rollout.png",
         overlay_map(seen, cls_attention_grid(attention_rollout(probs)).select(0, 0), alpha));

    const Tensor sim = position_embedding_similarity(model->pos_embed);  // (N, G, G)
    const int64_t G = c.grid_size();
    std::vector<Image> tiles;
    const int scale = G >= 16 ? 2 : 8;  // small grids get bigger cells to stay visible
    for (int64_t i = 0; i < G * G; ++i)
        tiles.push_back(scale_nearest(heatmap(sim.select(0, i)), scale));
    save("position_embedding_similarity.png",
         mosaic(tiles, static_cast<int>(G), 2, {255, 255, 255}));

    out << fmt::format("{}: {} ({}, {} x {} grid; preprocessing: {})\n", image_path, c.name,
                       to_string(ck.naming), G, G, why);
    out << fmt::format("wrote {} pictures to {}:\n", written.size(), dir.string());
    for (const auto& name : written) out << "  " << name << "\n";
    return 0;
}

}  // namespace vitlab::cli
