// checkpoint.cpp: naming detection, config inference, the tensor check and the renaming.
//
// One table drives both the check and the renaming: expected_tensors(config, naming) lists
// every tensor in the file's naming with its shape and the timm parameter it becomes. So a
// Hugging Face name that is not in the table cannot slip through, and the check and the
// renaming cannot disagree.
#include "vit/checkpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <set>

#include "tensor/ops.h"

namespace vitlab {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw CheckpointError(fmt::format("checkpoint '{}': {}", path, what));
}

// The largest patch grid we accept: 64 x 64 patches (4096 tokens + the class token). Attention
// holds (heads, N+1, N+1) floats per image, so a hostile file that claims a huge grid would
// otherwise ask for gigabytes; real ViTs stop at 37 x 37 (ViT-H/14 at 518).
constexpr int64_t kMaxGrid = 64;

// The deepest model we accept: 128 blocks. The deepest ViTs have 48 (ViT-22B); each block means
// 16 expected tensors, so a header naming blocks.999999 would otherwise cost gigabytes.
constexpr int64_t kMaxDepth = 128;

// The names the inference reads, in each naming.
struct Keys {
    std::string patch_weight, pos_embed, block_prefix, fc1_weight, qkv_bias, head_weight;
};

Keys keys_of(const DetectedNaming& n) {
    if (n.naming == Naming::Timm)
        return {"patch_embed.proj.weight", "pos_embed",  "blocks.", "blocks.0.mlp.fc1.weight",
                "blocks.0.attn.qkv.bias",  "head.weight"};
    const std::string& p = n.hf_prefix;
    return {p + "embeddings.patch_embeddings.projection.weight",
            p + "embeddings.position_embeddings",
            p + "encoder.layer.",
            p + "encoder.layer.0.intermediate.dense.weight",
            p + "encoder.layer.0.attention.attention.query.bias",
            "classifier.weight"};
}

const Tensor* find(const TensorMap& tensors, const std::string& name) {
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : &it->second;
}

// The block index of "blocks.11.norm1.weight" (prefix "blocks."), or -1 if name is not a
// block tensor. At most 6 digits, so no overflow; "blocks.01." is not an index either.
int64_t block_index(const std::string& name, const std::string& prefix) {
    if (name.compare(0, prefix.size(), prefix) != 0) return -1;
    size_t i = prefix.size();
    const size_t start = i;
    while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) ++i;
    const size_t digits = i - start;
    if (digits == 0 || digits > 6 || i >= name.size() || name[i] != '.') return -1;
    if (digits > 1 && name[start] == '0') return -1;
    return std::stoll(name.substr(start, digits));
}

// ---- model names ---------------------------------------------------------------------------

struct SizeWord {
    const char* word;
    int64_t width, heads;
};
constexpr SizeWord kSizes[] = {{"tiny", 192, 3},
                               {"small", 384, 6},
                               {"base", 768, 12},
                               {"large", 1024, 16},
                               {"huge", 1280, 16}};

// "vit_base_patch16_384.augreg_in21k_ft_in1k" out of a path such as
// ".../models--timm--vit_base_patch16_384.augreg_in21k_ft_in1k/snapshots/ab12/model.safetensors"
// or "google/vit-base-patch16-384" (dashes become underscores); "" if there is none.
std::string model_name_in(const std::string& path) {
    static const std::regex pattern(
        R"(vit[_-](tiny|small|base|large|huge)[_-]patch\d+([_-]\d+)?(\.[A-Za-z0-9_]+)?)",
        std::regex::icase);
    std::smatch m;
    std::string last;
    // The last match: the file's own name wins over a directory's.
    for (auto it = path.cbegin(); std::regex_search(it, path.cend(), m, pattern);
         it = m.suffix().first)
        last = m.str();
    std::string name = last.substr(0, last.find('.'));
    std::replace(name.begin(), name.end(), '-', '_');
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return last.find('.') == std::string::npos ? name : name + last.substr(last.find('.'));
}

const SizeWord* size_of(const std::string& model_name) {
    for (const SizeWord& s : kSizes)
        if (model_name.rfind(std::string("vit_") + s.word + "_", 0) == 0) return &s;
    return nullptr;
}

// "vit_base_patch16_384.augreg_in21k_ft_in1k" -> "vit_base_patch16_384"
std::string preset_part(const std::string& model) {
    return model.substr(0, model.find('.'));
}

// The "num_heads" of a file's metadata: a whole number from 1 to 4096.
int64_t metadata_heads(const std::map<std::string, std::string>& metadata,
                       const std::string& path) {
    const std::string& text = metadata.at("num_heads");
    size_t used = 0;
    long long n = 0;
    try {
        n = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size() || n < 1 || n > 4096)
        fail(path, fmt::format("metadata 'num_heads' is '{}', expected a whole number from 1 to "
                               "4096",
                               text.substr(0, 40)));
    return n;
}

// The five steps. `header`: the tensors were just loaded from that file and nothing else refers
// to them, so the q, k, v that qkv replaces may give their memory back (release_pages), and
// the header says how each was stored; nullptr for tensors given in memory (stored as F32).
Checkpoint build_checkpoint(TensorMap tensors, const std::string& path,
                            const CheckpointOptions& options, const SafetensorsHeader* header);

}  // namespace

const char* to_string(Naming naming) {
    return naming == Naming::Timm ? "timm" : "Hugging Face transformers";
}

int64_t default_num_heads(int64_t width) {
    for (const SizeWord& s : kSizes)
        if (s.width == width) return s.heads;
    return width > 0 && width % 64 == 0 ? width / 64 : 0;
}

// ---- 1. which naming -----------------------------------------------------------------------

DetectedNaming detect_naming(const TensorMap& tensors, const std::string& path) {
    if (find(tensors, "patch_embed.proj.weight")) return {Naming::Timm, ""};
    for (const char* prefix : {"vit.", ""})
        if (find(tensors, std::string(prefix) + "embeddings.patch_embeddings.projection.weight"))
            return {Naming::HuggingFace, prefix};
    std::string some;
    int shown = 0;
    for (const auto& [name, t] : tensors) {
        if (shown++ == 3) break;
        some += fmt::format("{}'{}' {}", some.empty() ? "" : ", ", name, to_string(t.shape()));
    }
    fail(path,
         fmt::format("not a ViT checkpoint: it has neither 'patch_embed.proj.weight' (timm) nor "
                     "'vit.embeddings.patch_embeddings.projection.weight' (Hugging Face); {} "
                     "tensors{}{}",
                     tensors.size(), tensors.empty() ? "" : ", e.g. ", some));
}

// ---- 2. the configuration ------------------------------------------------------------------

ViTConfig infer_config(const TensorMap& tensors, const DetectedNaming& naming,
                       const std::string& path, const CheckpointOptions& options,
                       std::string* heads_source) {
    const Keys k = keys_of(naming);
    const auto need = [&](const std::string& name, int64_t dims, const char* expected) {
        const Tensor* t = find(tensors, name);
        if (!t) fail(path, fmt::format("missing tensor '{}' (expected shape {})", name, expected));
        bool ok = t->dim() == dims;
        for (int64_t d = 0; ok && d < dims; ++d) ok = t->size(d) > 0;
        if (!ok)
            fail(path, fmt::format("tensor '{}' has shape {}, expected {}", name,
                                   to_string(t->shape()), expected));
        return t;
    };

    ViTConfig c;
    if (!options.model.empty()) {
        c = ViTConfig::preset(preset_part(options.model));  // the architecture is given
        c.name = options.model;
    } else {
        // patch_embed.proj.weight (C, in_chans, P, P): width, channels, patch size.
        const Tensor* w = need(k.patch_weight, 4, "(C, in_chans, P, P)");
        if (w->size(2) != w->size(3))
            fail(path, fmt::format("tensor '{}' has shape {}, expected square patches (C, "
                                   "in_chans, P, P)",
                                   k.patch_weight, to_string(w->shape())));
        c.embed_dim = w->size(0);
        c.in_chans = w->size(1);
        c.patch_size = w->size(2);

        // pos_embed (1, 1 + G*G, C): one position per patch of a G x G grid, plus the class
        // token's.
        const Tensor* pos = need(k.pos_embed, 3, "(1, 1 + G*G, C)");
        const int64_t patches = pos->size(1) - 1;
        int64_t grid = 0;
        while (grid <= kMaxGrid && grid * grid < patches) ++grid;
        if (grid > kMaxGrid)
            fail(path,
                 fmt::format("tensor '{}' has shape {}: {} patches is more than the "
                             "largest grid this project runs ({} x {})",
                             k.pos_embed, to_string(pos->shape()), patches, kMaxGrid, kMaxGrid));
        if (patches < 1 || grid * grid != patches)
            fail(path, fmt::format("tensor '{}' has shape {}: {} patch positions do not form a "
                                   "square grid (expected (1, 1 + G*G, C))",
                                   k.pos_embed, to_string(pos->shape()), patches));
        c.img_size = grid * c.patch_size;

        // depth: how many distinct blocks; a gap shows up as missing tensors in the check.
        std::set<int64_t> blocks;
        for (const auto& entry : tensors) {
            const int64_t i = block_index(entry.first, k.block_prefix);
            if (i >= kMaxDepth)
                fail(path, fmt::format("tensor '{}': block {} is more than the deepest model this "
                                       "project runs ({} blocks, 0 to {})",
                                       entry.first, i, kMaxDepth, kMaxDepth - 1));
            if (i >= 0) blocks.insert(i);
        }
        c.depth = static_cast<int64_t>(blocks.size());

        // blocks.0.mlp.fc1.weight (M, C). Without it (no blocks, or block 0 missing, which the
        // check reports) the usual 4C.
        c.mlp_dim = 4 * c.embed_dim;
        if (c.depth > 0 && find(tensors, k.fc1_weight))
            c.mlp_dim = need(k.fc1_weight, 2, "(M, C)")->size(0);
        c.name = "custom";
    }
    // head.weight (classes, C); when it is missing the check reports it.
    if (find(tensors, k.head_weight))
        c.num_classes = need(k.head_weight, 2, "(classes, C)")->size(0);
    c.qkv_bias = c.depth == 0 || find(tensors, k.qkv_bias) != nullptr;
    // transformers' ViTConfig uses layer_norm_eps 1e-12, timm 1e-6.
    c.layer_norm_eps = naming.naming == Naming::Timm ? 1e-6f : 1e-12f;

    // The heads: invisible in the shapes.
    const std::string named = options.model.empty() ? model_name_in(path) : options.model;
    const SizeWord* size = size_of(named);
    std::string source;
    if (options.num_heads > 0) {
        c.num_heads = options.num_heads;
        source = "--heads";
    } else if (!options.model.empty()) {
        source = "model " + options.model;
    } else if (size && size->width == c.embed_dim) {
        c.num_heads = size->heads;
        source = "model name in the path (" + named + ")";
    } else if (default_num_heads(c.embed_dim) > 0) {
        c.num_heads = default_num_heads(c.embed_dim);
        source = fmt::format("default for width {}", c.embed_dim);
    } else {
        fail(path, fmt::format("cannot tell the number of attention heads for width {} (known "
                               "widths: 192, 384, 768, 1024, 1280, or a multiple of 64); pass "
                               "--heads or --model",
                               c.embed_dim));
    }
    if (c.embed_dim % c.num_heads != 0)
        fail(path, fmt::format("{} heads do not divide the width {} (from {})", c.num_heads,
                               c.embed_dim, source));
    if (options.model.empty() && c.name == "custom") {
        // Name it after a preset when it is one (presets have 1000 classes).
        for (const std::string& preset : ViTConfig::preset_names()) {
            ViTConfig p = ViTConfig::preset(preset);
            if (p.img_size == c.img_size && p.patch_size == c.patch_size &&
                p.embed_dim == c.embed_dim && p.depth == c.depth && p.num_heads == c.num_heads &&
                p.mlp_dim == c.mlp_dim && p.in_chans == c.in_chans)
                c.name = preset;
        }
    }
    try {
        c.validate();
    } catch (const std::invalid_argument& e) {
        fail(path, e.what());
    }
    if (heads_source) *heads_source = source;
    return c;
}

// ---- 3. what the configuration needs -------------------------------------------------------

std::vector<ExpectedTensor> expected_tensors(const ViTConfig& c, const DetectedNaming& naming) {
    const int64_t C = c.embed_dim, M = c.mlp_dim, P = c.patch_size;
    std::vector<ExpectedTensor> out;
    const bool hf = naming.naming == Naming::HuggingFace;
    const std::string& p = naming.hf_prefix;
    // add("cls_token", hf name, shape): one tensor of the model, named either way.
    const auto add = [&](const std::string& timm, const std::string& hf_name, Shape shape,
                         int part = -1) {
        out.push_back({hf ? hf_name : timm, std::move(shape), timm, part});
    };

    add("cls_token", p + "embeddings.cls_token", {1, 1, C});
    add("pos_embed", p + "embeddings.position_embeddings", {1, c.num_tokens(), C});
    add("patch_embed.proj.weight", p + "embeddings.patch_embeddings.projection.weight",
        {C, c.in_chans, P, P});
    add("patch_embed.proj.bias", p + "embeddings.patch_embeddings.projection.bias", {C});
    for (int64_t i = 0; i < c.depth; ++i) {
        const std::string b = fmt::format("blocks.{}.", i);
        const std::string h = fmt::format("{}encoder.layer.{}.", p, i);
        add(b + "norm1.weight", h + "layernorm_before.weight", {C});
        add(b + "norm1.bias", h + "layernorm_before.bias", {C});
        if (hf) {  // query, key, value: the three row blocks of timm's qkv (3C, C)
            const char* qkv[] = {"query", "key", "value"};
            for (int part = 0; part < 3; ++part)
                add(b + "attn.qkv.weight", h + "attention.attention." + qkv[part] + ".weight",
                    {C, C}, part);
            if (c.qkv_bias)
                for (int part = 0; part < 3; ++part)
                    add(b + "attn.qkv.bias", h + "attention.attention." + qkv[part] + ".bias", {C},
                        part);
        } else {
            add(b + "attn.qkv.weight", "", {3 * C, C});
            if (c.qkv_bias) add(b + "attn.qkv.bias", "", {3 * C});
        }
        add(b + "attn.proj.weight", h + "attention.output.dense.weight", {C, C});
        add(b + "attn.proj.bias", h + "attention.output.dense.bias", {C});
        add(b + "norm2.weight", h + "layernorm_after.weight", {C});
        add(b + "norm2.bias", h + "layernorm_after.bias", {C});
        add(b + "mlp.fc1.weight", h + "intermediate.dense.weight", {M, C});
        add(b + "mlp.fc1.bias", h + "intermediate.dense.bias", {M});
        add(b + "mlp.fc2.weight", h + "output.dense.weight", {C, M});
        add(b + "mlp.fc2.bias", h + "output.dense.bias", {C});
    }
    add("norm.weight", p + "layernorm.weight", {C});
    add("norm.bias", p + "layernorm.bias", {C});
    add("head.weight", "classifier.weight", {c.num_classes, C});
    add("head.bias", "classifier.bias", {c.num_classes});
    return out;
}

// ---- all steps -------------------------------------------------------------------------------

Checkpoint checkpoint_from_tensors(TensorMap tensors, const std::string& path,
                                   const CheckpointOptions& options) {
    return build_checkpoint(std::move(tensors), path, options, /*header=*/nullptr);
}

Checkpoint load_checkpoint(const std::string& path, const CheckpointOptions& options) {
    SafetensorsHeader header;
    TensorMap tensors = load_safetensors(path, &header);
    return build_checkpoint(std::move(tensors), path, options, &header);
}

namespace {

Checkpoint build_checkpoint(TensorMap tensors, const std::string& path,
                            const CheckpointOptions& options, const SafetensorsHeader* header) {
    Checkpoint ck;
    ck.path = path;
    if (header) ck.metadata = header->metadata;
    const DetectedNaming naming = detect_naming(tensors, path);
    ck.naming = naming.naming;
    // The heads a training run wrote down, when neither --heads nor --model says them.
    CheckpointOptions with_heads = options;
    const bool heads_in_metadata = options.num_heads == 0 && options.model.empty() &&
                                   model_name_in(path).empty() && ck.metadata.count("num_heads");
    if (heads_in_metadata) with_heads.num_heads = metadata_heads(ck.metadata, path);
    ck.config = infer_config(tensors, naming, path, with_heads, &ck.heads_source);
    if (heads_in_metadata) ck.heads_source = "the checkpoint's metadata";
    ck.model_name = options.model.empty() ? model_name_in(path) : options.model;
    if (ck.model_name.empty() && ck.metadata.count("model")) ck.model_name = ck.metadata["model"];

    // 3. The check: every problem is collected; the message gives the first and the count.
    const std::vector<ExpectedTensor> expected = expected_tensors(ck.config, naming);
    // Only the first message is kept: a hostile file can hold a million unexpected tensors.
    std::string first_problem;
    size_t problems = 0;
    const auto problem = [&](const auto& make_message) {
        if (problems++ == 0) first_problem = make_message();
    };
    std::set<std::string> known;
    for (const ExpectedTensor& e : expected) {
        known.insert(e.name);
        const Tensor* t = find(tensors, e.name);
        if (!t)
            problem([&] {
                return fmt::format("missing tensor '{}' (expected shape {})", e.name,
                                   to_string(e.shape));
            });
        else if (t->shape() != e.shape)
            problem([&] {
                return fmt::format("tensor '{}' has shape {}, expected {}", e.name,
                                   to_string(t->shape()), to_string(e.shape));
            });
    }
    for (const auto& [name, t] : tensors)
        if (!known.count(name))
            problem([&, &name = name, &t = t] {
                return fmt::format("unexpected tensor '{}' of shape {}", name,
                                   to_string(t.shape()));
            });
    if (problems > 0)
        fail(path,
             fmt::format("{}{} (for {}; heads from {})", first_problem,
                         problems > 1 ? fmt::format(" (and {} more problems)", problems - 1) : "",
                         to_string(ck.config), ck.heads_source));

    // 4. Rename; q, k, v (each (C, C) or (C)) stack into qkv (3C, C) or (3C).
    std::map<std::string, std::string> dtypes;  // name -> "F32" / "F16" / "BF16"
    if (header)
        for (const SafetensorsEntry& e : header->tensors) dtypes[e.name] = e.dtype;
    std::map<std::string, std::vector<Tensor>> parts;
    for (const ExpectedTensor& e : expected) {
        Tensor t = tensors.at(e.name);
        auto dtype = dtypes.find(e.name);
        std::string becomes = e.timm_name;
        if (e.part >= 0) {
            const int64_t rows = e.shape[0];
            becomes += fmt::format("[{}:{}]", e.part * rows, (e.part + 1) * rows);
            parts[e.timm_name].push_back(t);
            if (parts[e.timm_name].size() == 3) {
                ck.tensors[e.timm_name] = cat(parts[e.timm_name], 0);
                if (header)
                    for (const Tensor& part : parts[e.timm_name]) release_pages(part);
                parts.erase(e.timm_name);
            }
        } else {
            ck.tensors[e.timm_name] = t;
        }
        ck.stored.push_back(
            {e.name, dtype == dtypes.end() ? "F32" : dtype->second, t.shape(), becomes});
        tensors.erase(e.name);  // q, k, v go as soon as qkv holds them
    }
    return ck;
}

}  // namespace

// ---- 5. the model --------------------------------------------------------------------------

// Built without initialising (its parameters are allocated but never written, so they cost
// no memory), then each parameter is rebound to the checkpoint's tensor: ViT-B/16-384 from an
// F32 file runs in about the file's size of memory, instead of twice that plus seconds of
// random-number generation that would be overwritten at once.
std::unique_ptr<VisionTransformer> make_vit(const Checkpoint& checkpoint) {
    std::unique_ptr<VisionTransformer> model;
    {
        nn::SkipInit skip;
        model = std::make_unique<VisionTransformer>(checkpoint.config);
    }
    model->load_state_dict(checkpoint.tensors, /*strict=*/true, /*assign=*/true);
    return model;
}

}  // namespace vitlab
