// inspect.h: looking inside a ViT: attention rollout, position-embedding similarity, a summary.
//
// Three ways to see what a Vision Transformer does, each a plain function of tensors or of the
// config (drawing them as pictures is vision/draw.h's job):
//
// 1. Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers").
//    One block's attention (B, H, N+1, N+1) says where each token looks in *that* block, but
//    after a few blocks every token is a mix of all the others. Rollout follows the mixing
//    through the whole stack:
//      A_l  = mean over heads of attn_probs[l]             (B, N+1, N+1)
//      Â_l  = 0.5 * A_l + 0.5 * I                            the residual x + attn(x) keeps x
//      Â_l  = Â_l / Â_l.sum(-1, keepdim)                    rows sum to 1 again
//      R    = Â_L @ ... @ Â_2 @ Â_1                         (B, N+1, N+1)
//    R[b, 0, 1:] is how much of each patch has flowed into the class token, the one token the
//    head reads: reshaped to the (G, G) grid, it is the "where did the model look" map.
//
// 2. Position-embedding similarity (the ViT paper's Figure 7, centre). pos_embed (1, N+1, C)
//    holds one learnt vector per patch position. The cosine similarity of position i's vector
//    with every other position's, drawn on the grid, shows what the model learnt about 2-D
//    layout: a trained ViT's maps peak at i and light up i's row and column.
//
// 3. A summary table like torchinfo's: one row per layer, indented by nesting, its output shape,
//    its parameters and its multiply-adds. Computed from the ViTConfig alone, so the 300 M
//    parameters of vit_large are summarised without allocating a single one.
//
// Read vision_transformer.h first; tutorials/09_seeing_attention.cpp draws all three.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"
#include "vit/config.h"

namespace vitlab {

// ---- attention rollout -------------------------------------------------------------------------

// attn_probs: one (B, H, T, T) tensor per block, as VisionTransformer::forward fills it (T = N+1).
// Returns R (B, T, T) as above; rows of R sum to 1. residual_weight is the 0.5 of Â = (1 - w) A
// + w I (0 gives the plain product of head-averaged attentions). An empty list, or tensors whose
// shapes differ or are not (B, H, T, T), throw ShapeError ("attention_rollout: ...").
Tensor attention_rollout(const std::vector<Tensor>& attn_probs, float residual_weight = 0.5f);

// The class token's row over the patches, on the patch grid:
//   token_map (B, T, T) with T = 1 + G*G  ->  token_map[:, 0, 1:].reshape(B, G, G)
// Works for one block's head (attn_probs[l].select(1, h)) as for a rollout. Throws ShapeError
// when T - 1 is not a square.
Tensor cls_attention_grid(const Tensor& token_map);

// ---- position embeddings -----------------------------------------------------------------------

// pos_embed (1, 1 + G*G, C) (the class token's embedding is dropped) or (G*G, C)
//   -> (G*G, G, G): out[i] is the cosine similarity of position i's embedding with every position,
//      laid out on the grid. out[i][i / G][i % G] is 1 (up to rounding) unless the vector is zero;
//      a zero vector gives similarity 0 (PyTorch's cosine_similarity clamps the norm, so does
//      this).
Tensor position_embedding_similarity(const Tensor& pos_embed);

// ---- model summary -----------------------------------------------------------------------------

struct SummaryRow {
    std::string name;        // the dotted module path as in a state dict: "blocks.0.attn.qkv"
    std::string type;        // "Linear", "Attention", "Block", ...
    int depth = 0;           // nesting: 0 for the model, 1 for patch_embed and blocks, ...
    Shape output_shape;      // for a batch of `batch` images of config.img_size
    int64_t params = 0;      // every parameter under this module (its own and its children's)
    int64_t own_params = 0;  // the parameters registered on this module itself
    int64_t macs = 0;        // multiply-adds of this module's forward, children included
};

struct ModelSummary {
    ViTConfig config;
    int64_t batch = 1;
    std::vector<SummaryRow> rows;  // depth-first, in the model's registration order
    int64_t total_params = 0;      // sum of own_params: equals config.num_parameters()
    int64_t total_macs = 0;        // one forward pass of `batch` images
};

// The table from the numbers alone: nothing is allocated, so any size is instant.
// Multiply-adds count every product that is summed: Conv2d, Linear, and the two attention
// matmuls q @ k^T and attn @ v (B*H*T*T*D each). Normalisation, softmax, GELU and additions
// are O(T*C) per block and left out, as fvcore and timm's model tables do: for
// vit_base_patch16_384 that gives 55.5 G.
ModelSummary summarize(const ViTConfig& config, int64_t batch = 1);

// torchinfo's layout:
//   Layer (type)                        Output Shape        Param #     Mult-Adds
//   VisionTransformer                   (1, 1000)           86,859,496  55.48 G
//   ├─PatchEmbed: patch_embed           (1, 576, 768)       590,592     339.74 M
//   │  └─Conv2d: proj                   (1, 768, 24, 24)    590,592     339.74 M
// max_depth hides rows nested deeper (-1 shows all); expand_blocks = false shows only the first
// block's insides (the others are identical) to keep a 24-block table short.
std::string format_summary(const ModelSummary& summary, int max_depth = -1,
                           bool expand_blocks = false);

// 1234567 -> "1,234,567"; 55484041216 -> "55.48 G" (human_count: K, M, G with 2 decimals).
std::string with_commas(int64_t n);
std::string human_count(int64_t n);

}  // namespace vitlab
