// checkpoint.h: a pretrained ViT from a .safetensors file, in timm's or Hugging Face's names.
//
// Public ViT checkpoints come in two namings of the same tensors:
//   timm            timm/vit_base_patch16_384.augreg_in21k_ft_in1k (this project's names)
//     patch_embed.proj.weight (C, 3, P, P)   cls_token (1, 1, C)   pos_embed (1, N+1, C)
//     blocks.{i}.attn.qkv.weight (3C, C)     ...                   head.weight (classes, C)
//   Hugging Face    google/vit-base-patch16-384 (transformers' ViTForImageClassification)
//     vit.embeddings.patch_embeddings.projection.weight   vit.embeddings.cls_token  ...
//     vit.encoder.layer.{i}.attention.attention.{query,key,value}.weight, 3 x (C, C)
// The file says nothing else about the model, so loading is five steps, each below:
//   1. detect_naming     which of the two, from the patch-embedding tensor's name
//   2. infer_config      the hyper-parameters read off the shapes:
//                          patch_embed.proj.weight (C, in_chans, P, P)  -> width C, patch size P
//                          pos_embed (1, 1 + G*G, C)                     -> image size G * P
//                          blocks.0.mlp.fc1.weight (M, C)                -> MLP size M
//                          head.weight (classes, C)                      -> classes
//                          the number of blocks.{i}                      -> depth
//                        The number of heads is invisible in the shapes (qkv is (3C, C) for any
//                        head count): --heads, else the model's name, else the file's metadata
//                        ("num_heads", written by `vit train`), else a default by width.
//   3. expected_tensors  every tensor that configuration needs, with its shape, in the file's
//                        naming; a missing, extra or misshapen tensor is an error naming it
//   4. rename            to timm's names; q, k and v are stacked into one qkv (3C, C)
//   5. make_vit          a VisionTransformer whose parameters *are* those tensors: F32 tensors
//                        stay in the file's memory mapping, nothing is copied
// Read vision_transformer.h first; read cli/commands.cpp next (the `vit` command uses this).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensor/io/safetensors.h"
#include "vit/config.h"
#include "vit/vision_transformer.h"

namespace vitlab {

// A well-formed .safetensors file that is not a ViT we can build: "checkpoint 'w.safetensors':
// tensor 'head.weight' has shape (10, 31), expected (10, 32) (img 32, patch 8, dim 32, ...)".
// (A malformed file throws FileError from load_safetensors.)
struct CheckpointError : FileError {
    using FileError::FileError;
};

enum class Naming { Timm, HuggingFace };
const char* to_string(Naming naming);  // "timm", "Hugging Face transformers"

struct CheckpointOptions {
    // A preset name, optionally with timm's pretrained tag ("vit_base_patch16_384" or
    // "vit_base_patch16_384.augreg_in21k_ft_in1k"). Fixes the architecture (the number of classes
    // still comes from the file); a checkpoint that disagrees is an error. Empty: infer.
    std::string model;
    // Attention heads; 0: from `model`, else from a model name in the file's path, else by width.
    int64_t num_heads = 0;
};

// One tensor as the file stores it, for `vit info` (dtype "F32" for checkpoint_from_tensors).
struct StoredTensor {
    std::string name;   // as in the file
    std::string dtype;  // "F32", "F16" or "BF16"
    Shape shape;
    std::string timm_name;  // what it became: "blocks.0.attn.qkv.weight[0:768]" for a query
};

struct Checkpoint {
    std::string path;
    Naming naming = Naming::Timm;
    ViTConfig config;
    std::string heads_source;          // why config.num_heads: "--heads", "model vit_base...", ...
    std::string model_name;            // --model, or a model name found in the path; "" if neither
    TensorMap tensors;                 // timm's names, every shape checked against config
    std::vector<StoredTensor> stored;  // the file's tensors, in the order of the model
    // The file's "__metadata__" strings. A checkpoint written by `vit train` (train/) holds
    // "model", "num_heads", "mean", "std" (one number per channel, comma-separated) and
    // "class_names" (a JSON array of strings), which the commands use for preprocessing and
    // labels; published checkpoints hold at most {"format": "pt"}.
    std::map<std::string, std::string> metadata;
};

// load_safetensors + checkpoint_from_tensors. Throws FileError for a malformed file and
// CheckpointError for a well-formed one that is not a ViT (both name the file).
Checkpoint load_checkpoint(const std::string& path, const CheckpointOptions& options = {});
// The five steps on tensors already loaded; `path` names them in messages (and may hold a
// model name, "models--timm--vit_base_patch16_384.augreg_in21k_ft_in1k/model.safetensors").
Checkpoint checkpoint_from_tensors(TensorMap tensors, const std::string& path,
                                   const CheckpointOptions& options = {});

// ---- the steps ---------------------------------------------------------------------------------
// Where Hugging Face names start: "vit." for ViTForImageClassification, "" for a bare ViTModel.
struct DetectedNaming {
    Naming naming;
    std::string hf_prefix;
};
DetectedNaming detect_naming(const TensorMap& tensors, const std::string& path);

// Reads the configuration off the shapes (heads decided as described above).
ViTConfig infer_config(const TensorMap& tensors, const DetectedNaming& naming,
                       const std::string& path, const CheckpointOptions& options,
                       std::string* heads_source = nullptr);

// Every tensor a model of this configuration has, in model order, in the given naming.
struct ExpectedTensor {
    std::string name;       // in the file's naming
    Shape shape;            // what the configuration requires
    std::string timm_name;  // the model parameter it feeds
    int part = -1;          // for Hugging Face q, k, v: which third of qkv (0, 1, 2); else -1
};
std::vector<ExpectedTensor> expected_tensors(const ViTConfig& config, const DetectedNaming& naming);

// The number of heads of the standard ViTs of this width: 192: 3, 384: 6, 768: 12, 1024: 16,
// 1280: 16; any other multiple of 64 gets heads of 64 dims; otherwise 0 (unknown).
int64_t default_num_heads(int64_t width);

// A model whose parameters share storage with checkpoint.tensors (no copy, no initialisation).
std::unique_ptr<VisionTransformer> make_vit(const Checkpoint& checkpoint);

}  // namespace vitlab
