// vit_main.h: the `vit` command as a function, so the tests can run it in-process.
//
//   vit info     --weights W                       what a checkpoint holds
//   vit classify --weights W IMAGE... [--topk 5]   the top classes of each image
//   vit run      --weights W --input X --output Y  raw forward: (B, 3, H, W) in, logits out
//   vit summary  --model NAME | --weights W         layers, shapes, parameters, mult-adds
//   vit explain  --weights W IMAGE --out DIR        pictures: patches, attention, rollout
//   vit train    --data fashion-mnist --out DIR     a ViT from scratch: checkpoint, metrics
// cli/vit.cpp's main() is vit_main(argc, argv, std::cout, std::cerr). Exit status: 0 on
// success (130 for a training run stopped by Ctrl-C, its checkpoint saved), 2 on bad usage or bad
// input (a bad VITLAB_THREADS, non-finite logits, an output file that would destroy something
// included), with one line on `err` that names the file and the problem; also 2 when `out` cannot
// be written (a full disk, a closed pipe). The process-wide kernel choice and thread count are
// restored before returning. Read cli/commands.cpp for info, classify and run, cli/summary.cpp,
// cli/explain.cpp and cli/train.cpp (with train/) for the other three.
#pragma once

#include <ostream>

namespace vitlab::cli {

int vit_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace vitlab::cli
