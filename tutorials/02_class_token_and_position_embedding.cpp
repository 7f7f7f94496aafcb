// 02_class_token_and_position_embedding.cpp: 分类标记 (class token) and 位置嵌入 (position
// embedding).
//
// EN: Two learned tensors join the 576 patch tokens before the encoder. The class token is one
//     extra 768-dim vector put at the front of the sequence (576 -> 577 tokens); at the end of
//     the network the classification head reads only this token. The position embedding is one
//     vector per token, added to it, so the model knows where each patch came from (attention
//     by itself does not see the order of the tokens).
// 中文：在输入序列的开头添加一个额外的分类标记（Class Token）；为每个图像块向量添加位置嵌入，
//     以保留图像块在原始图像中的位置信息。(1, 576, 768) -> (1, 577, 768)。
//
//   x = patch_embed(image)                          (1, 576, 768)   tutorial 01
//   x = cat({cls_token.expand(B, 1, C), x}, 1)       (1, 577, 768)   class token first
//   x = x + pos_embed                                (1, 577, 768)   pos_embed is (1, 577, 768)
// Run: make run T=02.  Next: 03_self_attention.cpp.
#include "nn/nn.h"
#include "tensor/ops.h"
#include "tutorials/common.h"

using namespace vitlab;

int main() {
    using tutorial::heading;
    using tutorial::step;
    nn::manual_seed(0);
    Generator gen(1);  // the inputs: another seed than the weights' (see 07)

    heading("Step 1", "图像块嵌入", "Patch Embedding", "教程 01 的卷积层，作为一个模块",
            "tutorial 01 as one layer");
    nn::PatchEmbed patch_embed(/*img_size=*/384, /*patch_size=*/16, /*in_chans=*/3,
                               /*embed_dim=*/768);
    const Tensor image = randn({1, 3, 384, 384}, gen);
    step("image", image.shape());
    Tensor x = patch_embed(image);
    step("x = patch_embed(image)", x.shape());
    const Tensor patch_tokens = x;

    const int64_t B = x.size(0), N = x.size(1), C = x.size(2);  // 1, 576, 768

    // Both are parameters, learned in training. Here they start as timm starts them: the class
    // token almost zero (normal, std 1e-6), the position embedding small (truncated normal, 0.02).
    Tensor cls_token({1, 1, C});
    nn::normal_(cls_token, gen, 0.0f, 1e-6f);
    Tensor pos_embed({1, N + 1, C});  // one vector per token, the class token included
    nn::trunc_normal_(pos_embed, gen, 0.0f, 0.02f);

    // Put at the front, one copy per image of the batch (expand is a view: stride 0 on B).
    heading("Step 2", "分类标记", "Class Token", "在序列最前面多加一个可学习的标记",
            "one more learned token, at the front");
    step("cls_token", cls_token.shape());
    step("cls_token.expand(B, 1, C)", cls_token.expand({B, 1, C}).shape());
    x = cat({cls_token.expand({B, 1, C}), x}, 1);
    step("x = cat({cls_token.expand(B, 1, C), x}, 1)", x.shape());

    // Token i gets vector i added, whatever the image: the model can tell where a patch was.
    heading("Step 3", "位置嵌入", "Position Embedding", "每个标记加上自己位置的向量",
            "each token gets its position's vector added");
    step("pos_embed", pos_embed.shape());
    x = x + pos_embed;
    step("x = x + pos_embed", x.shape());
    fmt::print("Final shape: {}\n", x.shape());

    // What the three lines did, element by element.
    const float first =
        max_abs_diff(x.select(1, 0), cls_token.select(1, 0) + pos_embed.select(1, 0));
    const float rest =
        max_abs_diff(x.slice(1, 1, N + 1), patch_tokens + pos_embed.slice(1, 1, N + 1));
    tutorial::check(x.shape() == Shape{1, 577, 768}, "576 patches + 1 class token = 577 tokens");
    tutorial::check(first == 0.0f, fmt::format("x[:, 0] == cls_token + pos_embed[:, 0] "
                                               "(max difference {:.1e})",
                                               first));
    tutorial::check(rest == 0.0f, fmt::format("x[:, 1:] == patch tokens + pos_embed[:, 1:] "
                                              "(max difference {:.1e})",
                                              rest));

    // A batch: the same class token and position embedding serve every image.
    heading("Step 4", "批量", "Batch", "同一个分类标记和位置嵌入用于每张图像",
            "the same class token and position embedding serve every image");
    const Tensor batch = randn({2, N, C}, gen);
    step("patch tokens", batch.shape());
    step("cls_token.expand(2, 1, C)", cls_token.expand({2, 1, C}).shape());
    Tensor batch_x = cat({cls_token.expand({2, 1, C}), batch}, 1);
    step("x = cat({cls_token.expand(2, 1, C), x}, 1)", batch_x.shape());
    batch_x = batch_x + pos_embed;
    step("x = x + pos_embed   (broadcast over B)", batch_x.shape());
    tutorial::check(batch_x.shape() == Shape{2, 577, 768}, "pos_embed broadcasts over the batch");
    return tutorial::exit_code();
}
