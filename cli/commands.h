// commands.h: the `vit` command's six commands and the steps they share, declared once.
//
// A command is a function of its parsed arguments that writes to `out`, returns the exit status
// (0, or 2 after reporting a problem with one item) and throws on any other problem. The table
// kCommands in commands.cpp names each one with its --help text, its options and this function;
// vit_main() (vit_main.h) looks a command up there and runs it.
//   info, classify, run   cli/commands.cpp
//   summary               cli/summary.cpp
//   explain               cli/explain.cpp
//   train                 cli/train.cpp (the loop itself is train/trainer.h)
#pragma once

#include <functional>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "tensor/tensor.h"
#include "vision/transforms.h"
#include "vit/checkpoint.h"

namespace vitlab::cli {

// Where a command that goes on after a bad item reports it ("vit classify: cat.png: ..."):
// classify, one line per image that cannot be read.
using Report = std::function<void(const std::string& message)>;

// One row of kCommands.
struct Command {
    const char* name;                    // "classify"
    const char* help;                    // usage and what it does, for --help
    const std::vector<Option>* options;  // every option it accepts
    int (*run)(const Args& args, std::ostream& out, const Report& report);
};

// ---- the commands ------------------------------------------------------------------------------

int info(const Args& args, std::ostream& out, const Report& report);
int classify(const Args& args, std::ostream& out, const Report& report);
int run(const Args& args, std::ostream& out, const Report& report);

extern const std::vector<Option> kSummaryOptions;
extern const char* const kSummaryHelp;
int summary(const Args& args, std::ostream& out, const Report& report);

extern const std::vector<Option> kExplainOptions;
extern const char* const kExplainHelp;
int explain(const Args& args, std::ostream& out, const Report& report);

extern const std::vector<Option> kTrainOptions;
extern const char* const kTrainHelp;
// Returns 130 when stopped by Ctrl-C (after saving a checkpoint).
int train(const Args& args, std::ostream& out, const Report& report);

// ---- steps shared by the commands (commands.cpp) -----------------------------------------------

// Options several commands take (functions, so that another file's table can use them while
// its statics are initialised).
const std::vector<Option>& model_options();       // --weights, --model, --heads
const std::vector<Option>& preprocess_options();  // --mean, --std
const std::vector<Option>& run_options();         // --threads, --kernels
// The lists one after the other, then --help.
std::vector<Option> join_options(std::initializer_list<std::vector<Option>> lists);

// --weights/--model/--heads -> the checkpoint.
Checkpoint load_for_command(const Args& args);
// timm's preprocessing for the checkpoint, or --mean/--std; *why says which.
PreprocessConfig preprocess_for_command(const Checkpoint& ck, const Args& args, std::string* why);
// Throws when t holds a NaN or an infinity, naming `what` ("the logits are") and the weight that
// causes it.
void check_finite_for_command(const Tensor& t, const Checkpoint& ck, const std::string& what);

}  // namespace vitlab::cli
