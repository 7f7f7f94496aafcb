// checker_main.cpp: the main() of every exercise checker, with a checklist at the end.
//
// doctest runs the checks of one exercise (its check.cpp) and prints the details of each
// failure as usual. The Checklist listener below records each check's result, and main()
// prints what a student wants to see last: one line per check, pass or FAIL, then
// "checks passed: 3/7" (the line .ci/extra reads). That line is the only total: the Details
// reporter is doctest's console reporter without its banner and its own totals (which count
// assertions, not checks, and would disagree with the checklist).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace {

// The exercise's folder name and the file under test, from the binary's path:
// build/exercises/01_conv2d/starter -> "01_conv2d", "starter.cpp".
std::string g_title = "exercise";
std::string g_folder;

struct Result {
    std::string name;
    bool passed;
};
std::vector<Result> g_results;

struct Checklist : doctest::IReporter {
    const doctest::TestCaseData* current = nullptr;

    explicit Checklist(const doctest::ContextOptions&) {}

    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_start(const doctest::TestCaseData& data) override { current = &data; }
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
        g_results.push_back({current->m_name, stats.testCaseSuccess});
    }
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

// doctest's console reporter (failure details, with file, line and captured values) minus
// the "[doctest] doctest version ..." banner and the "[doctest] test cases: ..." totals.
struct Details : doctest::ConsoleReporter {
    using doctest::ConsoleReporter::ConsoleReporter;
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
};

REGISTER_REPORTER("details", 1, Details);

// The exercise folder that follows `folder` in tutorials/exercises/: "" for the last one,
// std::nullopt when the source tree cannot be read (then nothing is claimed either way).
// Read from the source tree, so a newly added exercise is found without rebuilding this file.
std::optional<std::string> next_exercise(const std::string& folder) {
#ifdef VITLAB_SOURCE_DIR
    namespace fs = std::filesystem;
    std::vector<std::string> names;
    std::error_code error;
    const fs::path root = fs::path(VITLAB_SOURCE_DIR) / "tutorials" / "exercises";
    for (const auto& entry : fs::directory_iterator(root, error)) {
        const std::string name = entry.path().filename().string();
        if (name.size() > 3 && std::isdigit(static_cast<unsigned char>(name[0])) &&
            std::isdigit(static_cast<unsigned char>(name[1])) && name[2] == '_' &&
            fs::exists(entry.path() / "check.cpp"))
            names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    const auto it = std::find(names.begin(), names.end(), folder);
    if (it == names.end()) return std::nullopt;
    return it + 1 == names.end() ? std::string() : *(it + 1);
#else
    (void)folder;
    return std::nullopt;
#endif
}

void print_checklist() {
    int passed = 0;
    std::printf("\n---- %s ----\n", g_title.c_str());
    for (const Result& r : g_results) {
        std::printf("  [%s] %s\n", r.passed ? "pass" : "FAIL", r.name.c_str());
        passed += r.passed ? 1 : 0;
    }
    const int total = static_cast<int>(g_results.size());
    std::printf("checks passed: %d/%d\n", passed, total);
    if (passed == total) {
        const std::optional<std::string> next = next_exercise(g_folder);
        if (!next)
            std::printf("All checks pass. Well done.\n");
        else if (!next->empty())
            std::printf("All checks pass. Well done. Next: tutorials/exercises/%s/README.md\n",
                        next->c_str());
        else
            std::printf("All checks pass. Well done: that was the last exercise.\n");
    }
    std::fflush(stdout);
}

REGISTER_LISTENER("checklist", 1, Checklist);

std::string title_from_path(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return path;
    const std::string file = path.substr(slash + 1);
    const std::string dir = path.substr(0, slash);
    const size_t dir_slash = dir.find_last_of('/');
    const std::string folder = dir_slash == std::string::npos ? dir : dir.substr(dir_slash + 1);
    g_folder = folder;
    return folder + " (" + file + ".cpp)";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 0) g_title = title_from_path(argv[0]);
    doctest::Context context(argc, argv);
    context.setOption("reporters", "details");  // failure details, no second set of totals
    const int status = context.run();
    if (!g_results.empty()) print_checklist();  // nothing ran for --help, --list-test-cases...
    return status;
}
