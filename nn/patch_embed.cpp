// patch_embed.cpp: image -> patch tokens with one strided convolution and two views.
#include "nn/patch_embed.h"

#include "tensor/ops.h"

namespace vitlab::nn {

static int64_t checked_grid(int64_t img_size, int64_t patch_size) {
    if (img_size <= 0 || patch_size <= 0 || img_size % patch_size != 0)
        throw std::invalid_argument(fmt::format(
            "PatchEmbed: img_size must be a positive multiple of patch_size, got img_size {} and "
            "patch_size {}",
            img_size, patch_size));
    return img_size / patch_size;
}

PatchEmbed::PatchEmbed(int64_t img_size, int64_t patch_size, int64_t in_chans, int64_t embed_dim,
                       Generator& gen)
    : img_size(img_size),
      patch_size(patch_size),
      in_chans(in_chans),
      embed_dim(embed_dim),
      grid_size(checked_grid(img_size, patch_size)),
      num_patches(grid_size * grid_size),
      proj(in_chans, embed_dim, patch_size, /*stride=*/patch_size, /*padding=*/0, true, gen) {
    register_module("proj", &proj);
}

Tensor PatchEmbed::forward(const Tensor& images) const {
    if (images.dim() != 4 || images.size(1) != in_chans || images.size(2) != img_size ||
        images.size(3) != img_size)
        throw ShapeError(fmt::format("PatchEmbed: expected images of shape (B, {}, {}, {}), got {}",
                                     in_chans, img_size, img_size, images.shape()));
    Tensor x = proj(images);              // (B, C, G, G)
    return x.flatten(2).transpose(1, 2);  // (B, C, G*G) -> (B, N, C), views only
}

}  // namespace vitlab::nn
