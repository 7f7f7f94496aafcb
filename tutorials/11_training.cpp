// 11_training.cpp: training a ViT from scratch (训练): Fashion-MNIST, a loop you can read, and
// what the trained model sees.
//
// EN: Tutorials 01-09 ran a ViT with random weights; tutorial 10 computed gradients. This one
//     puts them together and teaches a small ViT (the vit_fmnist preset: 28 x 28 grey images,
//     4 x 4 patches, 7 x 7 = 49 tokens + the class token, width 64, 6 blocks, 4 heads) to
//     recognise clothes, with the loop every PyTorch user writes:
//       for images, labels in loader:            一个批次 (a batch)
//           logits = model(images)               前向 (forward)             (B, 10)
//           loss = cross_entropy(logits, labels) 损失 (loss)                 ()
//           opt.zero_grad()                      清空梯度 (clear the grads)
//           loss.backward()                      反向传播 (backward)
//           opt.step()                           优化器 (AdamW: weight decay, as timm, not on
//                                                biases, norms, pos_embed and cls_token)
//           sched.step()                         学习率调度 (linear warm-up, then cosine)
//     It trains on a subset of the training set for well under a minute, prints the loss
//     falling and the accuracy rising, measures accuracy on test images it never saw, classifies
//     a few, draws the trained model's attention, and saves the model in timm's naming for
//     PyTorch (tools/pytorch_roundtrip.py loads it into torchvision and checks the logits).
// 中文：前面的教程只用随机权重。本教程用 PyTorch 用户熟悉的训练循环（前向、损失、清空梯度、
//     反向传播、优化器一步、学习率调度一步）在 Fashion-MNIST 的一个子集上从头训练一个小 ViT，
//     打印损失下降和准确率上升，在没见过的测试图像上测准确率，对几张测试图像分类（类别名与
//     前三名概率），画出训练后模型的注意力图和注意力展开，并以 timm 的参数名保存模型，
//     PyTorch 可以直接加载（tools/pytorch_roundtrip.py 检查两边的 logits 一致）。
// Needs the dataset: apt-get install dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/).
// Run: make run T=11 (files go to build/tutorial_11/, or build/tutorials/11_training OUT_DIR
// [DATA_DIR] to choose the folder for the files and the one holding the dataset);
// VITLAB_THREADS=1 to train on one thread. Longer training, the whole dataset and a
// checkpoint to resume: `build/vit train`. Back to the start: README.md in this folder.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset/fashion_mnist.h"
#include "dataset/loader.h"
#include "optim/optim.h"
#include "tensor/autograd.h"
#include "tensor/io/safetensors.h"
#include "tensor/ops.h"
#include "tensor/parallel/thread_pool.h"
#include "tutorials/common.h"
#include "vision/draw.h"
#include "vision/image.h"
#include "vision/png_write.h"
#include "vit/init_weights.h"
#include "vit/inspect.h"
#include "vit/vision_transformer.h"

using namespace vitlab;
using dataset::ImageDataset;

namespace {

// The recipe. The subset is what keeps `make run` short: the full 60,000 images for 10 epochs
// are `vit train`'s job.
constexpr int64_t kTrainImages = 10000;  // the first 10,000 of the 60,000 training images
constexpr int64_t kTestImages = 1000;    // the first 1,000 of the 10,000 test images
constexpr int kEpochs = 3;
constexpr int64_t kBatch = 32;  // small batches: more steps for the same images
constexpr double kLr = 3e-3, kWeightDecay = 0.05;
constexpr int64_t kShown = 8;  // test images classified, drawn and saved for PyTorch

// Items [begin, begin + n) of a dataset, as a dataset of their own.
ImageDataset subset(const ImageDataset& data, int64_t begin, int64_t n) {
    ImageDataset out;
    out.height = data.height;
    out.width = data.width;
    out.num_classes = data.num_classes;
    const int64_t hw = data.height * data.width;
    out.pixels.assign(data.pixels.begin() + begin * hw, data.pixels.begin() + (begin + n) * hw);
    out.labels.assign(data.labels.begin() + begin, data.labels.begin() + begin + n);
    return out;
}

// How many of the predicted classes argmax(logits, 1) equal the labels.
int64_t count_correct(const Tensor& logits, const std::vector<int64_t>& labels) {
    const std::vector<int64_t> predicted = argmax(logits, 1).to_vector();
    int64_t right = 0;
    for (size_t i = 0; i < labels.size(); ++i) right += predicted[i] == labels[i];
    return right;
}

// Loader options for going through a dataset once, in order, without augmentation.
dataset::LoaderOptions in_order(int64_t batch_size) {
    dataset::LoaderOptions o;
    o.batch_size = batch_size;
    o.shuffle = false;
    return o;
}

struct Score {
    double loss = 0, accuracy = 0;
};

// Mean loss and accuracy over a whole dataset, in order, with no graph recorded
// (torch.no_grad() around model.eval() in PyTorch; this ViT has no dropout to switch off).
Score evaluate(const VisionTransformer& model, const ImageDataset& data) {
    autograd::NoGrad no_grad;
    dataset::DataLoader loader(data, in_order(250));
    dataset::Batch batch;
    Score s;
    for (loader.start_epoch(); loader.next(batch);) {
        const Tensor logits = model(batch.images);
        s.loss += cross_entropy(logits, batch.targets()).item() * double(batch.labels.size());
        s.accuracy += double(count_correct(logits, batch.labels));
    }
    s.loss /= double(data.size());
    s.accuracy /= double(data.size());
    return s;
}

// Image i of a dataset, enlarged `factor` times (nearest: the pixels stay visible), as RGB so
// that heat maps can be blended over it.
Image enlarged(const ImageDataset& data, int64_t i, int factor) {
    Image im;
    im.width = static_cast<int>(data.width);
    im.height = static_cast<int>(data.height);
    im.channels = 3;
    const uint8_t* p = &data.pixels[size_t(i * data.height * data.width)];
    for (int64_t k = 0; k < data.height * data.width; ++k)
        for (int c = 0; c < 3; ++c) im.pixels.push_back(p[k]);
    return scale_nearest(im, factor);
}

// A (G, G) map over the picture: upsampled to its size, coloured, blended half and half.
Image overlay_map(const Image& picture, const Tensor& map) {
    return overlay(picture, heatmap(upsample_bilinear(map, picture.height, picture.width)), 0.5f);
}

// Writes the picture and reads it back: the pixels must survive the round trip.
void save_png(const std::filesystem::path& dir, const std::string& name, const Image& im) {
    const std::string path = (dir / name).string();
    write_png(path, im);
    const Image back = read_image(path);
    tutorial::step("  " + name, fmt::format("{} x {}", back.width, back.height));
    tutorial::check(back.width == im.width && back.height == im.height && back.pixels == im.pixels,
                    name + " reads back with the same pixels");
}

// The largest class-token attention to a patch in the last block, over the uniform 1/(N+1),
// averaged over heads and images: 1 means spread evenly, larger means the model picks patches.
float peak_over_uniform(const std::vector<Tensor>& probs) {
    const Tensor& last = probs.back();  // (B, heads, N+1, N+1)
    const float uniform = 1.0f / float(last.size(-1));
    double total = 0;
    for (int64_t b = 0; b < last.size(0); ++b)
        for (int64_t h = 0; h < last.size(1); ++h) {
            const Tensor grid = cls_attention_grid(last.select(0, b).select(0, h).unsqueeze(0));
            total += max(grid.reshape({-1}), 0).item() / uniform;
        }
    return float(total / double(last.size(0) * last.size(1)));
}

// sim (G*G, G, G) from position_embedding_similarity: the mean similarity of two positions
// whose Manhattan distance on the grid is in [lo, hi].
double neighbour_similarity(const Tensor& sim, int64_t lo, int64_t hi) {
    const int64_t G = sim.size(1);
    double total = 0;
    int64_t count = 0;
    for (int64_t i = 0; i < G * G; ++i)
        for (int64_t y = 0; y < G; ++y)
            for (int64_t x = 0; x < G; ++x) {
                const int64_t d = std::abs(y - i / G) + std::abs(x - i % G);
                if (d < lo || d > hi) continue;
                total += sim.at({i, y, x});
                ++count;
            }
    return total / double(count);
}

}  // namespace

int main(int argc, char** argv) {
    using tutorial::heading;
    using tutorial::step;
    fmt::print("SIMD kernels: {}, {} threads (VITLAB_THREADS)\n", isa_summary(), get_num_threads());
#ifdef VITLAB_SOURCE_DIR
    std::filesystem::path out_dir =
        std::filesystem::path(VITLAB_SOURCE_DIR) / "build" / "tutorial_11";
#else
    std::filesystem::path out_dir = std::filesystem::temp_directory_path() / "vitlab_tutorial_11";
#endif
    if (argc > 1) out_dir = argv[1];
    const std::string data_dir = argc > 2 ? argv[2] : dataset::fashion_mnist_dir();
    std::filesystem::create_directories(out_dir);
    tutorial::Timer total_time;

    // ---- 1. the data -------------------------------------------------------------------------
    heading("Step 1", "数据集", "Dataset", "Fashion-MNIST：28 x 28 的灰度衣物图像，10 个类别",
            "Fashion-MNIST: 28 x 28 grey pictures of clothes, 10 classes");
    ImageDataset train_all, test_all;
    try {
        train_all = dataset::load_fashion_mnist(dataset::Split::Train, data_dir);
        test_all = dataset::load_fashion_mnist(dataset::Split::Test, data_dir);
    } catch (const dataset::DatasetNotFound& e) {
        // Missing (make run installs it where apt-get exists): one line naming the file and
        // `apt-get install dataset-fashion-mnist`. Exit 77, "skipped", so that `make run` goes
        // on with a note instead of failing on a machine that cannot install it.
        fmt::print(stderr, "{}\n", e.what());
        return 77;
    } catch (const std::exception& e) {
        // Damaged: IdxError names the file and what is wrong with it.
        fmt::print(stderr, "{}\n", e.what());
        return 2;
    }
    step("load_fashion_mnist(Split::Train)", fmt::format("{} images", train_all.size()));
    step("load_fashion_mnist(Split::Test)", fmt::format("{} images", test_all.size()));
    const ImageDataset train = subset(train_all, 0, kTrainImages);
    const ImageDataset test = subset(test_all, 0, kTestImages);
    std::vector<int64_t> per_class(10, 0);
    for (int64_t label : train.labels) ++per_class[size_t(label)];
    step(fmt::format("train: the first {}", train.size()),
         fmt::format("{} to {} per class", *std::min_element(per_class.begin(), per_class.end()),
                     *std::max_element(per_class.begin(), per_class.end())));
    step(fmt::format("test:  the first {} (never trained on)", test.size()), "held out");
    const auto& classes = dataset::fashion_mnist_classes();
    fmt::print("  classes: ");
    for (size_t c = 0; c < classes.size(); ++c) fmt::print("{}{} {}", c ? ", " : "", c, classes[c]);
    fmt::print("\n");

    // ---- 2. a batch --------------------------------------------------------------------------
    heading("Step 2", "一个批次", "A batch", "打乱顺序、归一化", "shuffled, normalised");
    // No augmentation: random crops and flips (options.crop_padding, options.hflip) pay off
    // over many epochs (vit train), but slow down a run this short.
    dataset::LoaderOptions options;  // torch.utils.data.DataLoader(..., shuffle=True)
    options.batch_size = kBatch;
    options.shuffle = true;
    options.seed = 0;
    dataset::DataLoader loader(train, options);
    dataset::Batch batch;
    loader.start_epoch();  // a look at one batch; the training loop starts its own epochs
    loader.next(batch);
    step("images, labels = next(loader)", batch.images.shape());
    step("labels (int64)", fmt::format("({},)  first: {}, {}, {}", batch.labels.size(),
                                       batch.labels[0], batch.labels[1], batch.labels[2]));
    step("targets = labels as floats", batch.targets().shape());
    const std::vector<float> pix = batch.images.reshape({-1}).to_vector();
    double m = 0, ss = 0;
    for (float v : pix) m += v, ss += double(v) * v;
    m /= double(pix.size());
    const double sd = std::sqrt(ss / double(pix.size()) - m * m);
    step("x = (pixel / 255 - 0.2860) / 0.3530", fmt::format("mean {:.3f}, std {:.3f}", m, sd));
    tutorial::check(std::abs(m) < 0.15 && std::abs(sd - 1) < 0.15,
                    "the normalised batch has mean about 0 and std about 1");
    fmt::print("  {} batches of {} per epoch (the last one smaller when {} % {} != 0)\n",
               loader.num_batches(), kBatch, train.size(), kBatch);

    // ---- 3. the model ------------------------------------------------------------------------
    heading("Step 3", "模型", "Model", "从头开始：随机初始化的 vit_fmnist",
            "from scratch: vit_fmnist with random weights");
    const ViTConfig config = vit_fmnist();
    fmt::print("  {}\n", to_string(config));
    VisionTransformer model(config, /*seed=*/0);
    // torchvision's starting weights (xavier-uniform Linears, a zero head) instead of timm's
    // (normal, std 0.02): a model this small learns faster from them (README, Training).
    init_weights_(model, WeightInit::Torchvision, /*seed=*/0);
    step("init_weights_(model, torchvision)", "xavier-uniform Linears, zero head");
    step("parameters", tutorial::thousands(model.num_parameters()));
    tutorial::check(model.num_parameters() == 205'962,
                    "205,962 parameters, as torchvision's VisionTransformer(28, 4, 6, 4, 64, 128)");
    step("logits = model(images)", model(batch.images).shape());
    const Score before = evaluate(model, test);
    step("test loss, accuracy before training",
         fmt::format("{:.3f}, {:.1f}%", before.loss, 100 * before.accuracy));
    tutorial::check(std::abs(before.loss - std::log(10.0)) < 0.3,
                    "untrained: the loss is about ln 10 = 2.303 (10 classes, equal guesses)");
    tutorial::check(before.accuracy < 0.25, "untrained: the accuracy is near chance (10%)");
    std::vector<Tensor> probs_before;
    {
        autograd::NoGrad no_grad;
        model(batch.images, &probs_before);
    }

    // ---- 4. optimiser and schedule -----------------------------------------------------------
    heading("Step 4", "优化器与学习率调度", "Optimiser and schedule",
            "AdamW（偏置、归一化层、位置嵌入和分类标记不做权重衰减），预热 + 余弦",
            "AdamW (no weight decay on biases, norms, pos_embed, cls_token), warm-up + cosine");
    model.requires_grad_();  // from here on, every op on the parameters is recorded
    optim::AdamWOptions adamw;
    adamw.lr = kLr;
    adamw.weight_decay = kWeightDecay;
    optim::AdamW opt(optim::param_groups_weight_decay(model.named_parameters(), kWeightDecay),
                     adamw);
    const auto& groups = opt.param_groups();
    step("group 0 (no decay): tensors", fmt::format("{}", groups[0].params.size()));
    step("group 1 (weight decay 0.05): tensors", fmt::format("{}", groups[1].params.size()));
    const int64_t total_steps = kEpochs * loader.num_batches();
    const int64_t warmup_steps = total_steps / 10;
    optim::WarmupCosineLR sched(opt, warmup_steps, total_steps);
    // WarmupCosineLR's start_factor (1e-3) makes the first lr kLr / 1000, not 0.
    step("lr", fmt::format("{:.0e} -> {} in {} steps, cosine -> 0 at step {}", kLr * 1e-3, kLr,
                           warmup_steps, total_steps));

    // ---- 5. the training loop ----------------------------------------------------------------
    heading("Step 5", "训练循环", "The training loop",
            "前向、损失、清空梯度、反向传播、更新参数、调整学习率",
            "forward, loss, zero_grad, backward, step, schedule");
    fmt::print("  {:>5}  {:>9}  {:>10}  {:>9}  {:>8}  {:>8}\n", "epoch", "step", "train loss",
               "train acc", "lr", "images/s");
    const int64_t report_every = (loader.num_batches() + 2) / 3;  // three lines per epoch
    std::vector<double> losses;                                   // one per report line
    std::vector<double> accuracies;
    tutorial::Timer train_time;
    int64_t step_no = 0;
    for (int epoch = 1; epoch <= kEpochs; ++epoch) {
        double loss_sum = 0, right = 0, seen = 0;
        tutorial::Timer part;
        for (loader.start_epoch(); loader.next(batch);) {
            const Tensor logits = model(batch.images);                   // (B, 10)
            const Tensor loss = cross_entropy(logits, batch.targets());  // ()
            opt.zero_grad();
            loss.backward();
            if (step_no == 0) model.check_grads();  // throws if a parameter got no gradient
            opt.step();
            sched.step();
            ++step_no;
            const double b = double(batch.labels.size());
            loss_sum += loss.item() * b;
            right += double(count_correct(logits, batch.labels));
            seen += b;
            const int64_t in_epoch = (step_no - 1) % loader.num_batches() + 1;
            if (in_epoch % report_every == 0 || in_epoch == loader.num_batches()) {
                losses.push_back(loss_sum / seen);
                accuracies.push_back(right / seen);
                fmt::print("  {:>5}  {:>4}/{:<4}  {:>10.3f}  {:>8.1f}%  {:>8.1e}  {:>8.0f}\n",
                           epoch, in_epoch, loader.num_batches(), loss_sum / seen,
                           100 * right / seen, opt.param_groups()[0].lr, seen / part.seconds());
                loss_sum = right = seen = 0;
                part.reset();
            }
        }
    }
    const double seconds = train_time.seconds();
    fmt::print("  {} steps, {} images in {:.1f} s ({:.0f} images/s, forward + backward + step)\n",
               step_no, kEpochs * train.size(), seconds, double(kEpochs * train.size()) / seconds);
    fmt::print(
        "  (each line averages the batches since the line before, while the weights moved)\n");
    tutorial::check(
        losses.back() < 0.6 * losses.front(),
        fmt::format("the training loss fell: {:.3f} -> {:.3f}", losses.front(), losses.back()));
    tutorial::check(accuracies.back() > accuracies.front() + 0.2,
                    fmt::format("the training accuracy rose: {:.1f}% -> {:.1f}%",
                                100 * accuracies.front(), 100 * accuracies.back()));

    // ---- 6. test accuracy --------------------------------------------------------------------
    heading("Step 6", "测试准确率", "Test accuracy", "在没见过的图像上",
            "on images the model never saw");
    model.requires_grad_(false);  // inference again: nothing recorded
    const Score after = evaluate(model, test);
    step("test loss, accuracy before",
         fmt::format("{:.3f}, {:.1f}%", before.loss, 100 * before.accuracy));
    step("test loss, accuracy after",
         fmt::format("{:.3f}, {:.1f}%", after.loss, 100 * after.accuracy));
    tutorial::check(after.loss < before.loss - 1.0, "the test loss fell by more than 1");
    tutorial::check(after.accuracy > 0.5,
                    "test accuracy well above chance (10%): more than 50% on unseen images");

    // ---- 7. classify a few test images -------------------------------------------------------
    heading("Step 7", "分类", "Classify", "几张测试图像：前三名类别及其概率",
            "a few test images: the top 3 classes and their probabilities");
    const ImageDataset shown = subset(test, 0, kShown);
    dataset::DataLoader shown_loader(shown, in_order(kShown));
    dataset::Batch shown_batch;
    shown_loader.start_epoch();
    shown_loader.next(shown_batch);
    std::vector<Tensor> probs;
    const Tensor logits = model(shown_batch.images, &probs);  // (8, 10)
    const TopK top = topk(softmax(logits, -1), 3, -1);        // (8, 3)
    step("probs = softmax(model(images), -1)", logits.shape());
    int64_t right = 0;
    for (int64_t i = 0; i < kShown; ++i) {
        const int64_t label = shown.labels[size_t(i)], best = top.indices.at({i, 0});
        right += best == label;
        std::string line;
        for (int64_t k = 0; k < 3; ++k)
            line += fmt::format("{:<12}{:5.1f}%  ", classes[size_t(top.indices.at({i, k}))],
                                100 * top.values.at({i, k}));
        fmt::print("  test {}  {:<12} {}  {}\n", i, classes[size_t(label)],
                   best == label ? "->" : "XX", line);
    }
    step("right", fmt::format("{} of {}", right, kShown));
    tutorial::check(right >= kShown / 2, "at least half of them are classified right");

    // ---- 8. what the trained model looks at --------------------------------------------------
    heading("Step 8", "注意力可视化", "Seeing attention",
            "训练后分类标记看向哪里：最后一层的四个头，注意力展开",
            "where the trained class token looks: the last block's 4 heads, attention rollout");
    fmt::print("  Pictures go to {}\n", out_dir.string());
    if (!have_png_write()) {
        fmt::print("  This build has no PNG support (stb); install libstb-dev and rebuild.\n");
    } else {
        const Tensor rollout = attention_rollout(probs);  // (8, 50, 50)
        step("attn_probs[5]  (the last block)", probs.back().shape());
        step("R = attention_rollout(attn_probs)", rollout.shape());
        // One row per image: the image | rollout | heads 0-3 of the last block, 8x larger.
        std::vector<Image> tiles;
        for (int64_t i = 0; i < kShown; ++i) {
            const Image picture = enlarged(shown, i, 8);  // 224 x 224
            save_png(out_dir, fmt::format("test_{}.png", i), picture);
            tiles.push_back(picture);
            tiles.push_back(overlay_map(picture, cls_attention_grid(rollout).select(0, i)));
            for (int64_t h = 0; h < config.num_heads; ++h)
                tiles.push_back(overlay_map(
                    picture, cls_attention_grid(probs.back().select(1, h)).select(0, i)));
        }
        save_png(out_dir, "attention.png",
                 mosaic(tiles, 2 + int(config.num_heads), 4, {255, 255, 255}));
        fmt::print(
            "  attention.png: a row per test image: the image, the rollout, then where the\n"
            "  class token looks in each head of the last block. Look for the parts that tell\n"
            "  classes apart (the gap between trouser legs, a shoe's sole, the sleeves' edges);\n"
            "  random weights spread it evenly (tutorial 09).\n");
    }
    // Position embeddings: each small map is one position's cosine similarity with all 49 (as
    // tutorial 09 draws them). Training starts them random; what structure they have now is
    // learnt from the pictures alone: nothing told the model which tokens are neighbours.
    const Tensor sim = position_embedding_similarity(model.pos_embed);  // (49, 7, 7)
    step("position_embedding_similarity(pos_embed)", sim.shape());
    const double near = neighbour_similarity(sim, 1, 1), far = neighbour_similarity(sim, 6, 12);
    step("mean similarity: next to / far from",
         fmt::format("{:.3f} / {:.3f} (grid distance 1 / 6 or more)", near, far));
    tutorial::check(near > far + 0.2,
                    "the position embeddings learnt the 2-D layout: neighbours are more alike");
    if (have_png_write()) {
        std::vector<Image> maps;
        for (int64_t i = 0; i < sim.size(0); ++i)
            maps.push_back(scale_nearest(heatmap(sim.select(0, i)), 8));
        save_png(out_dir, "position_embedding_similarity.png",
                 mosaic(maps, static_cast<int>(config.grid_size()), 2, {255, 255, 255}));
    }
    const float peak_before = peak_over_uniform(probs_before),
                peak_after = peak_over_uniform(probs);
    step("largest attention / uniform, last block",
         fmt::format("{:.2f} untrained, {:.2f} trained", peak_before, peak_after));
    tutorial::check(peak_after > 2 * peak_before,
                    "trained attention picks patches: its peak is over twice the untrained one's");

    // ---- 9. save for PyTorch -----------------------------------------------------------------
    heading("Step 9", "保存模型", "Save the model", "timm 的参数名：PyTorch 可以直接加载",
            "timm's parameter names: PyTorch loads it as it is");
    const std::string model_path = (out_dir / "model.safetensors").string();
    const std::string logits_path = (out_dir / "logits.safetensors").string();
    save_safetensors(model_path, model.state_dict());
    save_safetensors(
        logits_path,
        {{"images", shown_batch.images}, {"labels", shown_batch.targets()}, {"logits", logits}});
    const auto names = model.named_parameters();
    step("model.safetensors", fmt::format("{} tensors: {}, {}, ..., {}", names.size(),
                                          names[0].first, names[1].first, names.back().first));
    step("logits.safetensors",
         fmt::format("images {}, labels, logits {}", to_string(shown_batch.images.shape()),
                     to_string(logits.shape())));
    VisionTransformer reloaded(config, /*seed=*/1);  // other random weights, then the file's
    reloaded.load_state_dict(load_safetensors(model_path));
    tutorial::check(max_abs_diff(reloaded(shown_batch.images), logits) == 0.0f,
                    "a new model loaded from model.safetensors gives the same logits, bit for bit");
    fmt::print(
        "  In PyTorch (torchvision's VisionTransformer, the same numbers under its names):\n"
        "    /usr/bin/python3 tools/pytorch_roundtrip.py {}\n"
        "  The whole training set, longer, with a checkpoint and curves: build/vit train.\n",
        out_dir.string());
    fmt::print("\nTotal time: {:.1f} s\n", total_time.seconds());
    return tutorial::exit_code();
}
