// test_json.cpp: the strict JSON parser behind safetensors headers (tensor/io/json.h).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/io/json.h"

using namespace vitlab;
using json::ParseError;
using json::Type;

namespace {

// Parses text expecting failure; returns the error so tests can look at position and reason.
ParseError parse_error(const std::string& text, size_t max_depth = 64) {
    try {
        json::parse(text, max_depth);
    } catch (const ParseError& e) {
        return e;
    }
    FAIL("parsed without error: ", text);
    return ParseError(0, "");
}

}  // namespace

TEST_CASE("json: parses true, false, null, strings and numbers") {
    CHECK(json::parse("true").as_bool() == true);
    CHECK(json::parse("false").as_bool() == false);
    CHECK(json::parse("null").is(Type::Null));
    CHECK(json::parse("\"hi\"").as_string() == "hi");
    CHECK(json::parse("\"\"").as_string().empty());
    CHECK(json::parse("42").as_double() == 42.0);
    CHECK(json::parse("-1.5e3").as_double() == -1500.0);
    CHECK(json::parse("0.25").as_double() == 0.25);
    CHECK(json::parse("1E+2").as_double() == 100.0);
    CHECK(json::parse("1e-2").as_double() == doctest::Approx(0.01));
    CHECK(std::signbit(json::parse("-0").as_double()));
}

TEST_CASE("json: objects keep document order and find() looks keys up") {
    const json::Value v = json::parse(R"({"z": 1, "a": [true, null], "m": {"k": "v"}})");
    REQUIRE(v.is(Type::Object));
    const auto& members = v.as_object();
    REQUIRE(members.size() == 3);
    CHECK(members[0].first == "z");
    CHECK(members[1].first == "a");
    CHECK(members[2].first == "m");
    CHECK(v.find("a")->as_array().size() == 2);
    CHECK(v.find("a")->as_array()[1].is(Type::Null));
    CHECK(v.find("m")->find("k")->as_string() == "v");
    CHECK(v.find("missing") == nullptr);
    CHECK(v.find("z")->find("z") == nullptr);  // not an object
}

TEST_CASE("json: empty containers and nested arrays parse") {
    CHECK(json::parse("{}").as_object().empty());
    CHECK(json::parse("[]").as_array().empty());
    const json::Value v = json::parse("[[], [[1]], {}]");
    REQUIRE(v.as_array().size() == 3);
    CHECK(v.as_array()[1].as_array()[0].as_array()[0].as_double() == 1.0);
}

TEST_CASE("json: values remember the byte where they start") {
    const json::Value v = json::parse(R"( {"a": [10, "x", null]})");
    CHECK(v.position() == 1);
    const auto& a = v.find("a")->as_array();
    CHECK(a[0].position() == 8);
    CHECK(a[1].position() == 12);
    CHECK(a[2].position() == 17);
}

TEST_CASE("json: whitespace is space, tab, CR and LF, nothing else") {
    CHECK(json::parse(" \t\r\n[ 1 ,\n2 ] \n").as_array().size() == 2);
    CHECK(parse_error("\f1").reason ==
          "expected a JSON value (object, array, string, number, "
          "true, false or null), got byte 0x0c");
    CHECK(parse_error("[1,\v2]").position == 3);
    CHECK(parse_error("\xc2\xa0"
                      "1")
              .position == 0);  // no-break space is not JSON whitespace
}

TEST_CASE("json: string escapes decode, \\u escapes become UTF-8") {
    CHECK(json::parse(R"("a\"b\\c\/d\b\f\n\r\t")").as_string() == "a\"b\\c/d\b\f\n\r\t");
    CHECK(json::parse(R"("\u0041\u00e9\u20AC")").as_string() == "A\xc3\xa9\xe2\x82\xac");
    CHECK(json::parse(R"("\u0000")").as_string() == std::string(1, '\0'));
    CHECK(json::parse(R"("\uffff")").as_string() == "\xef\xbf\xbf");
    // A surrogate pair is one code point above U+FFFF: U+1F600 and the largest, U+10FFFF.
    CHECK(json::parse(R"("\ud83d\ude00")").as_string() == "\xf0\x9f\x98\x80");
    CHECK(json::parse(R"("\uDBFF\uDFFF")").as_string() == "\xf4\x8f\xbf\xbf");
}

TEST_CASE("json: raw UTF-8 in strings is kept, invalid UTF-8 is rejected") {
    CHECK(json::parse("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"").as_string() ==
          "caf\xc3\xa9 \xf0\x9f\x98\x80");
    const std::vector<std::string> bad = {
        "\"\x80\"",              // lone continuation byte
        "\"\xc3\"",              // truncated sequence
        "\"\xc0\xaf\"",          // overlong '/'
        "\"\xe0\x80\xaf\"",      // overlong, 3 bytes
        "\"\xed\xa0\x80\"",      // UTF-16 surrogate encoded in UTF-8
        "\"\xf4\x90\x80\x80\"",  // past U+10FFFF
        "\"\xff\"",
    };
    for (const auto& text : bad) {
        CAPTURE(text);
        const ParseError e = parse_error(text);
        CHECK(e.position == 1);
        CHECK(e.reason.find("invalid UTF-8") != std::string::npos);
    }
}

TEST_CASE("json: raw control characters inside strings are rejected") {
    for (int c = 0; c < 0x20; ++c) {
        const std::string text = std::string("\"ab") + static_cast<char>(c) + "\"";
        const ParseError e = parse_error(text);
        CHECK(e.position == 3);
        CHECK(e.reason.find("raw control character") != std::string::npos);
    }
    CHECK(json::parse("\"\x7f\"").as_string() == "\x7f");  // DEL is allowed by RFC 8259
}

TEST_CASE("json: bad escapes and unpaired surrogates are rejected") {
    CHECK(parse_error(R"("\x41")").reason ==
          R"(expected an escape character (" \ / b f n r t u) after '\', got 'x')");
    CHECK(parse_error(R"("\u12G4")").reason == "expected 4 hex digits after \\u, got 'G'");
    CHECK(parse_error(R"("\u12")").reason == "expected 4 hex digits after \\u, got '\"'");
    CHECK(parse_error(R"("\ude00")").reason.find("unpaired low surrogate \\uDE00") == 0);
    CHECK(parse_error(R"("\ud83d")").reason.find("expected a low surrogate") == 0);
    CHECK(parse_error(R"("\ud83dx")").position == 7);
    CHECK(parse_error(R"("\ud83d\u0041")").reason ==
          "expected a low surrogate \\uDC00-\\uDFFF after the high surrogate \\uD83D, got \\u0041");
    CHECK(parse_error(R"("\ud83d\ud83d")").position == 7);
}

TEST_CASE("json: numbers must follow the JSON grammar") {
    const std::vector<std::string> bad = {"+1",        "01",   "-01",  ".5",    "1.",  "-",
                                          "1e",        "1e+",  "0x10", "NaN",   "nan", "Infinity",
                                          "-Infinity", "1.e3", "--1",  "1e1.5", "00",  "- 1"};
    for (const auto& text : bad) {
        CAPTURE(text);
        CHECK_THROWS_AS(json::parse(text), ParseError);
    }
    CHECK(parse_error("01").reason == "leading zeros are not allowed in JSON numbers");
    CHECK(parse_error("1.").reason ==
          "expected a digit after the decimal point, got the end of "
          "the input");
    CHECK(parse_error("[1e+]").reason == "expected a digit in the exponent, got ']'");
    CHECK(parse_error("-x").reason == "expected a digit after '-', got 'x'");
}

TEST_CASE("json: integers stay exact beyond 2^53; as_int64 and as_uint64 refuse non-integers") {
    CHECK(json::parse("9007199254740993").as_int64() == int64_t{9007199254740993});
    CHECK(json::parse("9223372036854775807").as_int64() == INT64_MAX);
    CHECK(json::parse("-9223372036854775808").as_int64() == INT64_MIN);
    CHECK_FALSE(json::parse("9223372036854775808").as_int64());
    CHECK(json::parse("9223372036854775808").as_uint64() == uint64_t{9223372036854775808u});
    CHECK(json::parse("18446744073709551615").as_uint64() == UINT64_MAX);
    CHECK_FALSE(json::parse("18446744073709551616").as_uint64());
    CHECK_FALSE(json::parse("-1").as_uint64());
    CHECK(json::parse("-0").as_uint64() == uint64_t{0});
    CHECK_FALSE(json::parse("2.0").as_int64());
    CHECK_FALSE(json::parse("1e3").as_int64());
    CHECK_FALSE(json::parse("\"3\"").as_int64());
    CHECK(json::parse("1e3").number_text() == "1e3");
}

TEST_CASE("json: a number too large for a double is rejected, a tiny one rounds to zero") {
    CHECK(parse_error("[1, 1e400]").reason == "number 1e400 is too large for a double");
    CHECK(parse_error("[1, 1e400]").position == 4);
    CHECK(json::parse("1e-400").as_double() == 0.0);
    // Integers past 2^64 still parse; only as_uint64 refuses them.
    CHECK(json::parse("123456789012345678901234567890").as_double() ==
          doctest::Approx(1.2345678901234568e29));
}

TEST_CASE("json: anything after the value is rejected") {
    for (const char* text : {"{} x", "1 2", "[1]]", "{}{}", "null,", "\"a\"\"b\"", "true0"}) {
        CAPTURE(text);
        CHECK(parse_error(text).reason.find("expected the end of the input") == 0);
    }
    CHECK(parse_error("{} x").position == 3);
    CHECK(parse_error("").reason == "expected a JSON value, got the end of the input");
    CHECK(parse_error("   ").position == 3);
}

TEST_CASE("json: duplicate keys are rejected, naming the key and where the object starts") {
    const ParseError e = parse_error(R"({"a": {"x": 1, "y": 2, "x": 3}})");
    CHECK(e.position == 23);
    CHECK(e.reason == "duplicate key \"x\" in the object that starts at byte 6");
    // Equal after unescaping counts as a duplicate.
    CHECK(parse_error(R"({"ab": 1, "a\u0062": 2})").reason.find("duplicate key \"ab\"") == 0);
    CHECK(json::parse(R"({"a": {"a": 1}})").find("a")->find("a")->as_double() == 1.0);
}

TEST_CASE("json: nesting deeper than the limit is rejected without exhausting the stack") {
    auto nested = [](size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
    CHECK_NOTHROW(json::parse(nested(64)));
    const ParseError e = parse_error(nested(65));
    CHECK(e.position == 64);
    CHECK(e.reason == "nesting deeper than 64 levels of objects and arrays");
    CHECK(parse_error(std::string(1000000, '[')).position == 64);
    CHECK(parse_error(R"({"a":{"b":{"c":1}}})", 2).position == 10);
    CHECK_NOTHROW(json::parse(R"({"a":{"b":1}})", 2));
}

TEST_CASE("json: errors give the byte position and what was expected") {
    CHECK_THROWS_WITH_AS(json::parse(R"({"a" 1})"),
                         "at byte 5: expected ':' after an object key, got '1'", ParseError);
    CHECK_THROWS_WITH_AS(json::parse(R"({"a": 1 "b": 2})"),
                         "at byte 8: expected ',' or '}' after an object member, got '\"'",
                         ParseError);
    CHECK_THROWS_WITH_AS(json::parse(R"({"a": 1,})"),
                         "at byte 8: expected '\"' to start an object key, got '}'", ParseError);
    CHECK_THROWS_WITH_AS(json::parse("{a: 1}"),
                         "at byte 1: expected '\"' to start an object key, got 'a'", ParseError);
    CHECK_THROWS_WITH_AS(json::parse("[1, 2"),
                         "at byte 5: expected ',' or ']' after an array element, got the end of "
                         "the input",
                         ParseError);
    CHECK_THROWS_WITH_AS(json::parse("[1,]"),
                         "at byte 3: expected a JSON value (object, array, string, number, true, "
                         "false or null), got ']'",
                         ParseError);
    CHECK_THROWS_WITH_AS(json::parse("\"abc"),
                         "at byte 4: expected '\"' to close the string that starts at byte 0, "
                         "got the end of the input",
                         ParseError);
    CHECK_THROWS_WITH_AS(json::parse("tru"), "at byte 0: expected 'true', got 't'", ParseError);
    CHECK_THROWS_WITH_AS(json::parse("nul"), "at byte 0: expected 'null', got 'n'", ParseError);
    CHECK_THROWS_WITH_AS(json::parse("'a'"), doctest::Contains("at byte 0: expected a JSON value"),
                         ParseError);
}

TEST_CASE("json: every proper prefix of a document is rejected") {
    const std::string doc =
        R"({"a": [1, -2.5e3, "x\u00e9\ud83d\ude00", true, false, null], "b": {"c": {}}})";
    CHECK_NOTHROW(json::parse(doc));
    for (size_t n = 0; n < doc.size(); ++n) {
        CAPTURE(n);
        CHECK_THROWS_AS(json::parse(doc.substr(0, n)), ParseError);
    }
}

TEST_CASE("json: any single changed byte either parses or throws ParseError") {
    const std::string doc = R"({"k": [0, 1.5e-3, "\u00e9\n", {"n": null}], "t": true})";
    int parsed = 0, rejected = 0;
    for (size_t i = 0; i < doc.size(); ++i) {
        for (int b = 0; b < 256; ++b) {
            std::string text = doc;
            text[i] = static_cast<char>(b);
            try {
                json::parse(text);
                ++parsed;
            } catch (const ParseError&) {
                ++rejected;
            }
        }
    }
    // Both outcomes happen (digits may change into digits, most bytes break the document).
    CHECK(parsed > 0);
    CHECK(rejected > parsed);
}

TEST_CASE("json: accessors of the wrong type throw logic_error naming both types") {
    const json::Value v = json::parse("[1]");
    CHECK_THROWS_WITH_AS(v.as_string(),
                         "json::Value::as_string: the value at byte 0 is an array, not a string",
                         std::logic_error);
    CHECK_THROWS_AS(v.as_array()[0].as_bool(), std::logic_error);
    CHECK_THROWS_AS(v.as_object(), std::logic_error);
    CHECK_FALSE(v.as_int64());  // optional accessors just say no
}

TEST_CASE("json: quote escapes what JSON requires and round-trips through parse") {
    CHECK(json::quote("plain") == "\"plain\"");
    CHECK(json::quote("a\"b\\c\n") == R"("a\"b\\c\n")");
    CHECK(json::quote(std::string("\x01\x1f", 2)) == R"("\u0001\u001f")");
    CHECK(json::quote("/") == "\"/\"");
    CHECK(json::quote("caf\xc3\xa9") == "\"caf\xc3\xa9\"");  // UTF-8 stays as it is
    std::string every_ascii;
    for (int c = 0; c < 128; ++c) every_ascii += static_cast<char>(c);
    every_ascii += "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    CHECK(json::parse(json::quote(every_ascii)).as_string() == every_ascii);
    CHECK_THROWS_WITH_AS(json::quote("ab\xff"), doctest::Contains("invalid UTF-8 at byte 2"),
                         std::invalid_argument);
    CHECK(json::number(-12) == "-12");
    CHECK(json::number(INT64_MAX) == "9223372036854775807");
}

TEST_CASE("json: is_valid_utf8 follows RFC 3629") {
    CHECK(json::is_valid_utf8(""));
    CHECK(json::is_valid_utf8(
        "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf"));
    CHECK_FALSE(json::is_valid_utf8("\xc1\xbf"));
    CHECK_FALSE(json::is_valid_utf8("\xed\xbf\xbf"));
    CHECK_FALSE(json::is_valid_utf8("\xf0\x8f\xbf\xbf"));
    CHECK_FALSE(json::is_valid_utf8("\xf5\x80\x80\x80"));
    CHECK_FALSE(json::is_valid_utf8("\xe2\x82"));
}

// ---- limits and member-by-member parsing -------------------------------------------------------

TEST_CASE("json: limits on array length and object members refuse a document early") {
    json::Limits limits;
    limits.max_array_length = 3;
    limits.max_object_members = 2;
    CHECK(json::parse("[1,2,3]", limits).as_array().size() == 3);
    try {
        json::parse("[1,2,3,4," + std::string(1000, '5') + "]", limits);
        FAIL("a 5-element array passed a limit of 3");
    } catch (const ParseError& e) {
        CHECK(e.position == 7);  // at the fourth element, before reading the rest
        CHECK(e.reason ==
              "more than 3 elements in the array that starts at byte 0 (the limit for this "
              "document)");
    }
    CHECK(json::parse(R"({"a":1,"b":2})", limits).as_object().size() == 2);
    try {
        json::parse(R"({"a":1,"b":2,"c":3})", limits);
        FAIL("a 3-member object passed a limit of 2");
    } catch (const ParseError& e) {
        CHECK(e.position == 13);
        CHECK(e.reason ==
              "more than 2 members in the object that starts at byte 0 (the limit for this "
              "document)");
    }
    limits.max_depth = 2;
    CHECK_THROWS_WITH_AS(json::parse("[[[]]]", limits),
                         "at byte 2: nesting deeper than 2 levels of objects and arrays",
                         ParseError);
}

TEST_CASE("json: parse_object_members hands over each member in order, keeping none") {
    std::vector<std::string> keys;
    std::vector<std::string> kinds;
    json::Limits limits;
    limits.max_object_members = 1;  // applies inside, not to the top-level object
    json::parse_object_members(R"( {"b": [1, 2], "a": {"x": null}, "c": "s"} )", limits,
                               [&](std::string key, json::Value v) {
                                   keys.push_back(key);
                                   kinds.push_back(json::type_name(v.type()));
                               });
    CHECK(keys == std::vector<std::string>{"b", "a", "c"});
    CHECK(kinds == std::vector<std::string>{"array", "object", "string"});
    const auto fails = [&](const std::string& text) {
        try {
            json::parse_object_members(text, limits, [](std::string, json::Value) {});
        } catch (const ParseError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(fails("[1]") == "at byte 0: expected '{' (the document must be an object), got '['");
    CHECK(fails(R"({"a":1,"a":2})") ==
          "at byte 7: duplicate key \"a\" in the object that starts at byte 0");
    CHECK(fails(R"({"a":{"x":1,"y":2}})") ==
          "at byte 12: more than 1 members in the object that starts at byte 5 (the limit for "
          "this document)");
    CHECK(fails(R"({"a":1} x)") ==
          "at byte 8: expected the end of the input after the JSON value, got 'x'");
    // What on_member throws comes through, and stops the parse there.
    int calls = 0;
    CHECK_THROWS_AS(json::parse_object_members(R"({"a":1,"b":2})", limits,
                                               [&](std::string, json::Value) {
                                                   ++calls;
                                                   throw std::runtime_error("stop");
                                               }),
                    std::runtime_error);
    CHECK(calls == 1);
}
