// args.h: the command line of `vit`: named options and positional arguments, nothing clever.
//
//   vit classify --weights w.safetensors cat.ppm dog.png --topk=3 --json
// Each command lists its options (name, value placeholder or none for a switch, help line);
// parsing checks every word against that list, so a typo is an error, not ignored. "--name
// value" and "--name=value" both work, "--" ends the options, "-h" is "--help". Every problem
// throws UsageError, which the command turns into exit status 2.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace vitlab::cli {

struct UsageError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

struct Option {
    std::string name;   // "--topk"
    std::string value;  // "K" for an option with a value, "" for a switch such as "--json"
    std::string help;   // one line for --help
};

class Args {
  public:
    // words: the arguments after the command name. Throws UsageError.
    Args(const std::vector<std::string>& words, const std::vector<Option>& options);

    bool has(const std::string& name) const { return values_.count(name) != 0; }
    std::string get(const std::string& name, const std::string& fallback = "") const;
    // The value of an option the command cannot do without: "--weights is required".
    std::string required(const std::string& name) const;
    // An integer in [min, max]: "--topk must be an integer from 1 to 1000000, got 'x'".
    int64_t get_int(const std::string& name, int64_t fallback, int64_t min, int64_t max) const;
    // A finite number in [min, max], read as a double (3e-3 stays 0.003, not float's
    // 0.0030000000261): "--lr must be a number from 0 to 10, got 'x'".
    double get_double(const std::string& name, double fallback, double min, double max) const;
    // "0.5,0.4,0.3" -> 3 floats, or one float repeated n times; each finite, and > 0 when
    // positive is set. Empty when the option is absent.
    std::vector<float> get_floats(const std::string& name, size_t n, bool positive) const;

    const std::vector<std::string>& positional() const { return positional_; }

  private:
    std::map<std::string, std::string> values_;
    std::vector<std::string> positional_;
};

// The option table as --help shows it: "  --topk K          how many classes ...".
std::string options_help(const std::vector<Option>& options);

}  // namespace vitlab::cli
