// args.cpp: parsing the words of a command line against a command's option table.
#include "cli/args.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace vitlab::cli {

Args::Args(const std::vector<std::string>& words, const std::vector<Option>& options) {
    const auto lookup = [&](const std::string& name) -> const Option* {
        for (const Option& o : options)
            if (o.name == name) return &o;
        return nullptr;
    };
    bool only_positional = false;
    for (size_t i = 0; i < words.size(); ++i) {
        std::string word = words[i];
        if (only_positional || word.size() < 2 || word[0] != '-') {
            positional_.push_back(word);
            continue;
        }
        if (word == "--") {
            only_positional = true;
            continue;
        }
        if (word == "-h") word = "--help";
        std::string value;
        bool inline_value = false;
        const size_t eq = word.find('=');
        if (word.rfind("--", 0) == 0 && eq != std::string::npos) {
            value = word.substr(eq + 1);
            word = word.substr(0, eq);
            inline_value = true;
        }
        const Option* o = lookup(word);
        if (!o) throw UsageError(fmt::format("unknown option '{}'", word));
        if (o->value.empty()) {
            if (inline_value) throw UsageError(fmt::format("{} takes no value", word));
        } else if (!inline_value) {
            if (i + 1 >= words.size())
                throw UsageError(fmt::format("{} needs a value ({} {})", word, word, o->value));
            value = words[++i];
        }
        if (values_.count(word)) throw UsageError(fmt::format("{} is given twice", word));
        values_[word] = value;
    }
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
}

std::string Args::required(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end() || it->second.empty())
        throw UsageError(fmt::format("{} is required", name));
    return it->second;
}

int64_t Args::get_int(const std::string& name, int64_t fallback, int64_t min, int64_t max) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    const std::string& s = it->second;
    const bool digits = !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) {
        return c >= '0' && c <= '9';
    });
    const int64_t v = digits ? std::stoll(s) : -1;
    if (!digits || v < min || v > max)
        throw UsageError(
            fmt::format("{} must be an integer from {} to {}, got '{}'", name, min, max, s));
    return v;
}

double Args::get_double(const std::string& name, double fallback, double min, double max) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    const std::string& s = it->second;
    char* end = nullptr;
    errno = 0;
    const double v = s.empty() ? NAN : std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v < min || v > max)
        throw UsageError(
            fmt::format("{} must be a number from {} to {}, got '{}'", name, min, max, s));
    return v;
}

std::vector<float> Args::get_floats(const std::string& name, size_t n, bool positive) const {
    auto it = values_.find(name);
    if (it == values_.end()) return {};
    std::vector<float> out;
    const std::string& s = it->second;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t comma = std::min(s.find(',', start), s.size());
        const std::string item = s.substr(start, comma - start);
        char* end = nullptr;
        errno = 0;
        const float v = item.empty() ? NAN : std::strtof(item.c_str(), &end);
        if (item.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) ||
            (positive && !(v > 0.0f)))
            throw UsageError(
                fmt::format("{}: '{}' is not a {}number (expected {} comma-separated "
                            "values, or one for all)",
                            name, item, positive ? "positive " : "", n));
        out.push_back(v);
        start = comma + 1;
    }
    if (out.size() == 1) out.assign(n, out[0]);
    if (out.size() != n)
        throw UsageError(fmt::format("{} needs {} values (or one for all), got {}: '{}'", name, n,
                                     out.size(), s));
    return out;
}

std::string options_help(const std::vector<Option>& options) {
    std::string out;
    for (const Option& o : options) {
        const std::string left = o.value.empty() ? o.name : o.name + " " + o.value;
        out += fmt::format("  {:<18} {}\n", left, o.help);
    }
    return out;
}

}  // namespace vitlab::cli
