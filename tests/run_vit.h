// run_vit.h: the `vit` command run in-process for the tests (cli/vit_main.h), its exit status
// and both streams captured: `const VitRun r = run_vit({"info", "--weights", path});`.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "cli/vit_main.h"

namespace vitlab::testing {

struct VitRun {
    int code;
    std::string out, err;
};

inline VitRun run_vit(std::vector<std::string> args) {
    args.insert(args.begin(), "vit");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    const int code = cli::vit_main(static_cast<int>(argv.size()), argv.data(), out, err);
    return {code, out.str(), err.str()};
}

}  // namespace vitlab::testing
