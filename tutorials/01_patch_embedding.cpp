// 01_patch_embedding.cpp: 图像块嵌入 (Patch Embedding), the notebook's code line for line.
//
// EN: A 384x384 RGB image is cut into 16x16 patches and a linear projection turns each patch
//     into a 768-dim vector. The projection is a Conv2d whose kernel and stride are both 16, so
//     it sees every patch exactly once. The result, (1, 576, 768), is what the Transformer
//     reads: 576 patches, each a vector of 768 numbers.
// 中文：通过这段代码，我们将一个384x384的RGB图像划分为16x16的图像块，并通过线性投影将每个
//     图像块转换为768维的向量。最终得到的张量形状为(1, 576, 768)，其中576是图像块的数量，
//     768是每个图像块的向量维度。这个张量可以作为Transformer模型的输入。
//
// Step 1 is the notebook's cell, with its own Chinese comments. Step 2 looks at the 线性投影/
// 卷积层 (linear projection as a convolution) and its parameters. Step 3 follows the notebook's
// explanation (代码解释) of flatten and transpose. Step 4 shows that the convolution is nothing
// more than "cut the image into patches + one matrix product".
// Run: make run T=01.  Next: 02_class_token_and_position_embedding.cpp.
#include "nn/nn.h"       // import torch.nn as nn
#include "tensor/ops.h"  // import torch
#include "tutorials/common.h"

using namespace vitlab;

int main() {
    using tutorial::heading;
    // ---- Step 1: the notebook's cell -------------------------------------------------------
    heading("Step 1", "图像块嵌入", "Patch Embedding",
            "笔记本的代码：切成图像块，每块变成 768 维向量",
            "the notebook's cell: cut into patches, each becomes a 768-dim vector");
    // 定义图像大小和图像块大小
    const int64_t image_size = 384;  // 图像的高度和宽度都是384
    const int64_t patch_size = 16;   // 图像块的大小是16x16
    const int64_t num_words =
        (image_size / patch_size) * (image_size / patch_size);  // 计算总的图像块数目

    // 定义线性投影层（卷积层）
    nn::manual_seed(0);  // torch.manual_seed(0): the same weights on every run
    nn::Conv2d patch_embed(/*in_channels=*/3, /*out_channels=*/768, /*kernel_size=*/16,
                           /*stride=*/16);

    // 创建一个模拟图像的随机张量
    Generator gen(1);  // torch.randn draws from a global generator; ours is explicit
    Tensor x = randn({1, 3, 384, 384}, gen);  // 批量大小为1，通道数为3，图像大小为384x384
    const Tensor image = x;                   // kept for step 4 (a handle: nothing is copied)

    // 将图像通过图像块嵌入层
    x = patch_embed(x);

    // 查看输出张量的形状
    fmt::print("Shape after patch embedding: {}\n", x.shape());  // 输出形状为 (1, 768, 24, 24)
    const Tensor grid = x;                                       // kept for step 3

    // 展平张量并转置
    x = x.flatten(2).transpose(1, 2);

    // 查看最终张量的形状
    fmt::print("Final shape: {}\n", x.shape());  // 最终输出形状为 (1, 576, 768)

    // 打印最终张量的形状
    fmt::print("Final tensor shape: {}\n", x.shape());

    // ---- Step 2: the layer's parameters -----------------------------------------------------
    // Conv2d(in_channels=3, out_channels=768, kernel_size=16, stride=16) holds one 3x16x16
    // filter per output channel, weight (768, 3, 16, 16), and one bias per channel, (768,).
    heading("Step 2", "线性投影/卷积层", "Linear projection as a convolution", "卷积层的权重与偏置",
            "the convolution's weight and bias");
    tutorial::step("patch_embed.weight", patch_embed.weight.shape());
    tutorial::step("patch_embed.bias", patch_embed.bias.shape());
    tutorial::check(patch_embed.weight.shape() == Shape{768, 3, 16, 16},
                    "weight is (out_channels, in_channels, kH, kW) = (768, 3, 16, 16)");
    tutorial::check(patch_embed.bias.shape() == Shape{768}, "bias is (out_channels,) = (768,)");
    tutorial::step("parameters: 768*3*16*16 + 768",
                   tutorial::thousands(patch_embed.weight.numel() + patch_embed.bias.numel()));

    // ---- Step 3: the notebook's explanation (代码解释) --------------------------------------
    heading("Step 3", "展平与转置", "Flatten and transpose",
            "(1, 768, 24, 24) 变成 576 个 768 维的标记",
            "(1, 768, 24, 24) becomes 576 tokens of 768");
    const int64_t patches_per_side = image_size / patch_size;
    fmt::print("Number of patches (num_words): {} = ({} / {})^2 = {} x {}\n", num_words, image_size,
               patch_size, patches_per_side, patches_per_side);
    fmt::print(
        "Note for the reader: the notebook's explanation (step 2) writes\n"
        "  num_words = image_size // patch_size          -> {}, the patches along ONE side,\n"
        "while its code writes\n"
        "  num_words = (image_size // patch_size) ** 2   -> {}, the patches in the whole image.\n"
        "The {} in (1, {}, 768) is the second one.\n",
        patches_per_side, num_words, num_words, num_words);
    tutorial::check(x.size(1) == num_words,
                    fmt::format("the sequence has num_words = {} tokens", num_words));

    // Step 7 of the explanation: flatten and transpose only change the shape and strides.
    const Tensor flat = grid.flatten(2);
    fmt::print("\nx.flatten(2):      {} -> {}\n", grid.shape(), flat.shape());
    fmt::print("x.transpose(1, 2): {} -> {}, strides {}\n", flat.shape(), x.shape(), x.strides());
    tutorial::check(x.shares_storage_with(grid),
                    "flatten and transpose are views: the final tensor shares the conv's storage");

    // ---- Step 4: the conv is "cut into patches + one matmul" --------------------------------
    heading("Step 4", "线性投影 = 切块 + 矩阵乘法", "Linear projection = patches + one matmul",
            "卷积等于把图像块展平后乘以权重矩阵",
            "the conv equals flattened patches times a weight matrix");
    // A kernel-16, stride-16 conv never overlaps two patches, so each output vector depends on
    // one patch only: out[patch] = W (768, 3*16*16) @ patch pixels + b.
    const int64_t G = patches_per_side, P = patch_size;
    // (1, 3, 384, 384) -> (1, 3, 24, 16, 24, 16): each side splits into (patch, pixel in patch)
    const Tensor split = image.view({1, 3, G, P, G, P});
    // -> (1, 24, 24, 3, 16, 16): the patch's row and column first, then the whole patch
    const Tensor grouped = split.permute({0, 2, 4, 1, 3, 5});
    // -> (1, 576, 768): one row per patch (a copy: a patch is not contiguous in the image)
    const Tensor patches = grouped.reshape({1, G * G, 3 * P * P});
    // (768, 3, 16, 16) -> (768, 768): one row of weights per output channel
    const Tensor W = patch_embed.weight.reshape({768, 3 * P * P});
    const Tensor by_matmul = matmul(patches, W.transpose(0, 1)) + patch_embed.bias;

    fmt::print("Cut the image into patches:\n");
    fmt::print("  image                         {}\n", image.shape());
    fmt::print("  .view(1, 3, 24, 16, 24, 16)   {}\n", split.shape());
    fmt::print("  .permute(0, 2, 4, 1, 3, 5)    {}\n", grouped.shape());
    fmt::print("  .reshape(1, 576, 768)         {}\n", patches.shape());
    fmt::print("One matmul: {} @ W^T {} + bias {} -> {}\n", patches.shape(),
               W.transpose(0, 1).shape(), patch_embed.bias.shape(), by_matmul.shape());
    fmt::print(
        "(3 x 16 x 16 = {} pixel values per patch. That it equals the embedding size 768 is a\n"
        " coincidence of ViT-B/16: a 32x32 patch holds 3072 values, still projected to 768.)\n",
        3 * P * P);
    const float diff = max_abs_diff(by_matmul, x);
    tutorial::check(diff < 1e-3f,
                    fmt::format("max |conv - (patches @ W^T + b)| = {:.2e} (< 1e-3)", diff));
    fmt::print(
        "(It can be exactly 0: the blocked conv2d does this very thing inside, im2col + matmul.\n"
        " conv2d_naive, the formula as seven loops, agrees up to rounding but takes seconds.)\n");
    return tutorial::exit_code();
}
