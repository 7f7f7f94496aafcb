// inspect.cpp: attention rollout, position-embedding similarity and the summary table.
#include "vit/inspect.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tensor/ops.h"

namespace vitlab {

// The side G of a square grid of n cells, or -1 when n is not a square.
static int64_t grid_side(int64_t n) {
    int64_t g = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
    return (g > 0 && g * g == n) ? g : -1;
}

// ---- attention rollout -------------------------------------------------------------------------

Tensor attention_rollout(const std::vector<Tensor>& attn_probs, float residual_weight) {
    if (attn_probs.empty())
        throw ShapeError("attention_rollout: no attention maps (a model with depth 0?)");
    const Shape& first = attn_probs[0].shape();
    for (size_t l = 0; l < attn_probs.size(); ++l) {
        const Shape& s = attn_probs[l].shape();
        if (s.size() != 4 || s[2] != s[3] || s != first)
            throw ShapeError(fmt::format(
                "attention_rollout: block {} has attention of shape {}, expected {}", l, s,
                first.size() == 4 && first[2] == first[3] ? to_string(first) : "(B, H, T, T)"));
    }
    const int64_t T = first[2];
    Tensor identity = zeros({T, T});
    for (int64_t i = 0; i < T; ++i) identity.at({i, i}) = 1.0f;

    Tensor rollout;
    for (const Tensor& probs : attn_probs) {
        Tensor a = probs.mean(1);                                       // (B, T, T)
        a = a * (1.0f - residual_weight) + identity * residual_weight;  // residual path
        a = a / a.sum(-1, /*keepdim=*/true);                            // rows sum to 1
        rollout = rollout.numel() == 0 ? a : matmul(a, rollout);        // later @ earlier
    }
    return rollout;
}

Tensor cls_attention_grid(const Tensor& token_map) {
    const Shape& s = token_map.shape();
    const int64_t G = s.size() == 3 && s[1] == s[2] ? grid_side(s[1] - 1) : -1;
    if (G < 0)
        throw ShapeError("cls_attention_grid: expected (B, 1 + G*G, 1 + G*G), got " + to_string(s));
    // The class token's row, without its attention to itself: (B, T) -> (B, N) -> (B, G, G).
    return token_map.select(1, 0).slice(1, 1, s[1]).reshape({s[0], G, G});
}

// ---- position embeddings -----------------------------------------------------------------------

Tensor position_embedding_similarity(const Tensor& pos_embed) {
    Tensor x;  // (N, C), patches only
    if (pos_embed.dim() == 3 && pos_embed.size(0) == 1)
        x = pos_embed.select(0, 0).slice(0, 1, pos_embed.size(1));  // drop the class token
    else if (pos_embed.dim() == 2)
        x = pos_embed;
    const int64_t G = x.dim() == 2 ? grid_side(x.size(0)) : -1;
    if (G < 0)
        throw ShapeError(
            "position_embedding_similarity: expected (1, 1 + G*G, C) or (G*G, C), got " +
            to_string(pos_embed.shape()));
    // cos(a, b) = a.b / (max(|a|, eps) * max(|b|, eps)): normalise every row once, then one
    // matmul gives all N*N dot products.
    Tensor norms = sqrt((x * x).sum(1, /*keepdim=*/true));  // (N, 1)
    Tensor clamped = norms.contiguous().clone();
    float* p = clamped.data();
    for (int64_t i = 0; i < clamped.numel(); ++i) p[i] = std::max(p[i], 1e-8f);
    const Tensor unit = x / clamped;                        // (N, C)
    const Tensor sim = matmul(unit, unit.transpose(0, 1));  // (N, N)
    return sim.reshape({G * G, G, G});
}

// ---- model summary -----------------------------------------------------------------------------

ModelSummary summarize(const ViTConfig& config, int64_t batch) {
    config.validate();
    if (batch < 1) throw std::invalid_argument("summarize: batch must be >= 1");
    const int64_t B = batch, C = config.embed_dim, M = config.mlp_dim, P = config.patch_size;
    const int64_t G = config.grid_size(), N = config.num_patches(), T = config.num_tokens();
    const int64_t H = config.num_heads, D = config.head_dim(), K = config.num_classes;
    const int64_t in = config.in_chans;

    ModelSummary s;
    s.config = config;
    s.batch = B;
    auto add = [&](std::string name, std::string type, int depth, Shape out, int64_t own,
                   int64_t macs) -> size_t {
        s.rows.push_back({std::move(name), std::move(type), depth, std::move(out), own, own, macs});
        return s.rows.size() - 1;
    };
    // A Linear(in, out) on (B, T, in): B*T*in*out multiply-adds.
    auto linear = [&](const std::string& name, int depth, int64_t tokens, int64_t fin, int64_t fout,
                      bool bias) {
        Shape out = tokens > 0 ? Shape{B, tokens, fout} : Shape{B, fout};
        return add(name, "Linear", depth, out, fin * fout + (bias ? fout : 0),
                   B * std::max<int64_t>(tokens, 1) * fin * fout);
    };
    auto layer_norm = [&](const std::string& name, int depth) {
        return add(name, "LayerNorm", depth, {B, T, C}, 2 * C, 0);
    };
    // Containers: their numbers are their children's sums, filled in at the end.
    add("", "VisionTransformer", 0, {B, K}, 0, 0);
    add("patch_embed", "PatchEmbed", 1, {B, N, C}, 0, 0);
    // A stride = kernel conv: every output (B, C, G, G) sums in*P*P products.
    add("patch_embed.proj", "Conv2d", 2, {B, C, G, G}, C * in * P * P + C,
        B * C * G * G * in * P * P);
    add("cls_token", "Parameter", 1, {1, 1, C}, C, 0);
    add("pos_embed", "Parameter", 1, {1, T, C}, T * C, 0);
    add("blocks", "ModuleList", 1, {B, T, C}, 0, 0);
    for (int64_t i = 0; i < config.depth; ++i) {
        const std::string b = "blocks." + std::to_string(i);
        add(b, "Block", 2, {B, T, C}, 0, 0);
        layer_norm(b + ".norm1", 3);
        // q @ k^T and attn @ v: (B, H, T, D) @ (B, H, D, T) and (B, H, T, T) @ (B, H, T, D).
        add(b + ".attn", "Attention", 3, {B, T, C}, 0, 2 * B * H * T * T * D);
        linear(b + ".attn.qkv", 4, T, C, 3 * C, config.qkv_bias);
        linear(b + ".attn.proj", 4, T, C, C, true);
        layer_norm(b + ".norm2", 3);
        add(b + ".mlp", "Mlp", 3, {B, T, C}, 0, 0);
        linear(b + ".mlp.fc1", 4, T, C, M, true);
        add(b + ".mlp.act", "GELU", 4, {B, T, M}, 0, 0);
        linear(b + ".mlp.fc2", 4, T, M, C, true);
    }
    layer_norm("norm", 1);
    linear("head", 1, 0, C, K, true);  // on the class token alone: (B, C) -> (B, K)

    // Each row's params and macs include its descendants: the rows after it with a greater depth.
    for (size_t i = s.rows.size(); i-- > 0;) {
        for (size_t j = i + 1; j < s.rows.size() && s.rows[j].depth > s.rows[i].depth; ++j) {
            if (s.rows[j].depth != s.rows[i].depth + 1) continue;  // children carry grandchildren
            s.rows[i].params += s.rows[j].params;
            s.rows[i].macs += s.rows[j].macs;
        }
    }
    for (const auto& row : s.rows) s.total_params += row.own_params;
    s.total_macs = s.rows[0].macs;
    return s;
}

std::string with_commas(int64_t n) {
    std::string digits = std::to_string(n < 0 ? -n : n), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

std::string human_count(int64_t n) {
    const double v = static_cast<double>(n);
    if (std::abs(v) >= 1e9) return fmt::format("{:.2f} G", v / 1e9);
    if (std::abs(v) >= 1e6) return fmt::format("{:.2f} M", v / 1e6);
    if (std::abs(v) >= 1e3) return fmt::format("{:.2f} K", v / 1e3);
    return std::to_string(n);
}

// Pads to `width` terminal columns; the tree characters are one column but three UTF-8 bytes.
static std::string pad(const std::string& s, size_t width) {
    size_t columns = 0;
    for (unsigned char c : s) columns += (c & 0xC0) != 0x80;
    return columns >= width ? s + " " : s + std::string(width - columns, ' ');
}

std::string format_summary(const ModelSummary& s, int max_depth, bool expand_blocks) {
    const auto& rows = s.rows;
    auto shown = [&](size_t i) {
        if (max_depth >= 0 && rows[i].depth > max_depth) return false;
        // Inside blocks.1, blocks.2, ...: hidden unless asked (they repeat blocks.0).
        if (!expand_blocks && rows[i].depth > 2 && rows[i].name.rfind("blocks.0.", 0) != 0)
            return false;
        return true;
    };
    // The last shown sibling gets └─, the others ├─; an ancestor with siblings still to come
    // draws │ in its column.
    auto is_last = [&](size_t i) {
        for (size_t j = i + 1; j < rows.size() && rows[j].depth >= rows[i].depth; ++j)
            if (rows[j].depth == rows[i].depth && shown(j)) return false;
        return true;
    };
    const size_t name_w = 46, shape_w = 20, param_w = 14;
    const std::string rule(name_w + shape_w + param_w + 12, '=');
    std::string out = rule + "\n";
    out += pad("Layer (type: name)", name_w) + pad("Output Shape", shape_w) +
           pad("Param #", param_w) + "Mult-Adds\n" + rule + "\n";
    std::vector<bool> open(8, false);  // open[d]: the ancestor at depth d has later siblings
    for (size_t i = 0; i < rows.size(); ++i) {
        if (!shown(i)) continue;
        const SummaryRow& r = rows[i];
        std::string tree;
        for (int d = 1; d < r.depth; ++d) tree += open[d] ? "│  " : "   ";
        if (r.depth > 0) {
            const bool last = is_last(i);
            tree += last ? "└─" : "├─";
            if (static_cast<size_t>(r.depth) < open.size()) open[r.depth] = !last;
        }
        const std::string label = r.name.empty() ? r.type : r.type + ": " + r.name;
        out += pad(tree + label, name_w) + pad(to_string(r.output_shape), shape_w) +
               pad(r.params ? with_commas(r.params) : "--", param_w) +
               (r.macs ? human_count(r.macs) : "--") + "\n";
    }
    if (!expand_blocks && s.config.depth > 1 && (max_depth < 0 || max_depth > 2))
        out +=
            fmt::format("(blocks.1 .. blocks.{} are laid out as blocks.0)\n", s.config.depth - 1);
    const ViTConfig& c = s.config;
    const double mb = 1.0 / (1024.0 * 1024.0);
    out += rule + "\n";
    out += "Total params: " + with_commas(s.total_params) + "\n";
    out += fmt::format("Total mult-adds: {} ({})\n", human_count(s.total_macs),
                       with_commas(s.total_macs));
    out +=
        "  (Conv2d, Linear, and attention's q @ k^T and attn @ v; norms, softmax, GELU and\n"
        "   additions are a few per element and not counted)\n";
    out += rule + "\n";
    out += fmt::format("Input size: ({}, {}, {}, {}) float32, {:.2f} MB\n", s.batch, c.in_chans,
                       c.img_size, c.img_size,
                       4.0 * s.batch * c.in_chans * c.img_size * c.img_size * mb);
    out += fmt::format("Params size: {:.2f} MB as float32\n", 4.0 * s.total_params * mb);
    out += rule + "\n";
    return out;
}

}  // namespace vitlab
