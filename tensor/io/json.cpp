// json.cpp: a recursive-descent JSON parser, one function per grammar rule (see json.h).
//
//   value  = object | array | string | number | true | false | null
//   object = '{' [ string ':' value *( ',' string ':' value ) ] '}'
//   array  = '[' [ value *( ',' value ) ] ']'
//   number = [ '-' ] ( '0' | [1-9] digit* ) [ '.' digit+ ] [ ( 'e' | 'E' ) [ '+' | '-' ] digit+ ]
// Each rule reads from pos_ and leaves pos_ just after what it read.
#include "tensor/io/json.h"

#include <fmt/format.h>

#include <cerrno>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <set>

namespace vitlab::json {

ParseError::ParseError(size_t pos, const std::string& why)
    : std::runtime_error(fmt::format("at byte {}: {}", pos, why)), position(pos), reason(why) {}

const char* type_name(Type type) {
    switch (type) {
        case Type::Null:
            return "null";
        case Type::Bool:
            return "boolean";
        case Type::Number:
            return "number";
        case Type::String:
            return "string";
        case Type::Array:
            return "array";
        case Type::Object:
            return "object";
    }
    return "?";
}

// ---- UTF-8 ----------------------------------------------------------------------------------

// Length of the well-formed UTF-8 sequence starting at p (at most n bytes available), or 0.
// The table is RFC 3629's: the second byte's range excludes overlong forms (E0 80..9F,
// F0 80..8F), UTF-16 surrogates (ED A0..BF) and code points past U+10FFFF (F4 90..BF).
static size_t utf8_length(const unsigned char* p, size_t n) {
    const unsigned char c = p[0];
    if (c < 0x80) return 1;
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;  // 80..BF continuation byte, C0/C1 overlong, F5..FF out of range
    }
    if (n < len) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; ++i)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return len;
}

// Position of the first byte that is not well-formed UTF-8, or s.size().
static size_t first_invalid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t i = 0;
    while (i < s.size()) {
        const size_t len = utf8_length(p + i, s.size() - i);
        if (len == 0) return i;
        i += len;
    }
    return s.size();
}

bool is_valid_utf8(std::string_view s) {
    return first_invalid_utf8(s) == s.size();
}

static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// ---- Value ----------------------------------------------------------------------------------

Value Value::null(size_t position) {
    Value v;
    v.position_ = position;
    return v;
}

Value Value::boolean(bool b, size_t position) {
    Value v;
    v.type_ = Type::Bool;
    v.bool_ = b;
    v.position_ = position;
    return v;
}

Value Value::number(std::string literal, double value, size_t position) {
    Value v;
    v.type_ = Type::Number;
    v.text_ = std::move(literal);
    v.number_ = value;
    v.position_ = position;
    return v;
}

Value Value::string(std::string s, size_t position) {
    Value v;
    v.type_ = Type::String;
    v.text_ = std::move(s);
    v.position_ = position;
    return v;
}

Value Value::array(std::vector<Value> items, size_t position) {
    Value v;
    v.type_ = Type::Array;
    v.items_ = std::move(items);
    v.position_ = position;
    return v;
}

Value Value::object(std::vector<Member> members, size_t position) {
    Value v;
    v.type_ = Type::Object;
    v.members_ = std::move(members);
    v.position_ = position;
    return v;
}

static std::string with_article(Type t) {
    const bool vowel = t == Type::Array || t == Type::Object;
    return std::string(vowel ? "an " : "a ") + type_name(t);
}

void Value::require(Type t, const char* accessor) const {
    if (type_ != t)
        throw std::logic_error(fmt::format("json::Value::{}: the value at byte {} is {}, not {}",
                                           accessor, position_, with_article(type_),
                                           with_article(t)));
}

bool Value::as_bool() const {
    require(Type::Bool, "as_bool");
    return bool_;
}
double Value::as_double() const {
    require(Type::Number, "as_double");
    return number_;
}
const std::string& Value::as_string() const {
    require(Type::String, "as_string");
    return text_;
}
const std::vector<Value>& Value::as_array() const {
    require(Type::Array, "as_array");
    return items_;
}
const std::vector<Member>& Value::as_object() const {
    require(Type::Object, "as_object");
    return members_;
}
const std::string& Value::number_text() const {
    require(Type::Number, "number_text");
    return text_;
}

// Sign and magnitude of an integer literal; false for fractions, exponents and > 2^64 - 1.
static bool integer_literal(const std::string& text, bool& negative, uint64_t& magnitude) {
    size_t i = 0;
    negative = !text.empty() && text[0] == '-';
    if (negative) i = 1;
    if (i == text.size()) return false;
    magnitude = 0;
    for (; i < text.size(); ++i) {
        const char c = text[i];
        if (c < '0' || c > '9') return false;  // '.', 'e', 'E', '+', '-'
        const auto digit = static_cast<uint64_t>(c - '0');
        if (magnitude > (UINT64_MAX - digit) / 10) return false;
        magnitude = magnitude * 10 + digit;
    }
    return true;
}

std::optional<int64_t> Value::as_int64() const {
    bool negative = false;
    uint64_t m = 0;
    if (type_ != Type::Number || !integer_literal(text_, negative, m)) return std::nullopt;
    const auto limit = static_cast<uint64_t>(INT64_MAX);
    if (!negative)
        return m <= limit ? std::optional<int64_t>(static_cast<int64_t>(m)) : std::nullopt;
    if (m <= limit) return -static_cast<int64_t>(m);
    if (m == limit + 1) return INT64_MIN;
    return std::nullopt;
}

std::optional<uint64_t> Value::as_uint64() const {
    bool negative = false;
    uint64_t m = 0;
    if (type_ != Type::Number || !integer_literal(text_, negative, m)) return std::nullopt;
    if (negative && m != 0) return std::nullopt;
    return m;
}

const Value* Value::find(std::string_view key) const {
    if (type_ != Type::Object) return nullptr;
    for (const auto& member : members_)
        if (member.first == key) return &member.second;
    return nullptr;
}

// ---- Parser ---------------------------------------------------------------------------------

namespace {

class Parser {
  public:
    Parser(std::string_view text, const Limits& limits)
        : s_(text), max_depth_(limits.max_depth), limits_(limits) {}

    Value document() {
        skip_whitespace();
        Value v = value();
        end_of_document();
        return v;
    }

    // The top-level object, member by member (parse_object_members).
    void members_of_document(const std::function<void(std::string, Value)>& on_member) {
        skip_whitespace();
        if (at_end() || peek() != '{') fail_expected("'{' (the document must be an object)");
        members(on_member, /*counted=*/false);
        end_of_document();
    }

  private:
    std::string_view s_;
    size_t pos_ = 0;
    size_t depth_ = 0;
    size_t max_depth_;
    Limits limits_;

    void end_of_document() {
        skip_whitespace();
        if (pos_ != s_.size()) fail_expected("the end of the input after the JSON value");
    }

    bool at_end() const { return pos_ >= s_.size(); }
    unsigned char peek() const { return static_cast<unsigned char>(s_[pos_]); }

    // What sits at pos_, for messages: "'}'", "byte 0x0a", "the end of the input".
    std::string got() const {
        if (at_end()) return "the end of the input";
        const unsigned char c = peek();
        if (c >= 0x20 && c < 0x7F) return fmt::format("'{}'", static_cast<char>(c));
        return fmt::format("byte 0x{:02x}", c);
    }

    [[noreturn]] void fail(const std::string& message) const { throw ParseError(pos_, message); }
    [[noreturn]] void fail_expected(const std::string& expected) const {
        fail(fmt::format("expected {}, got {}", expected, got()));
    }

    void skip_whitespace() {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
            ++pos_;
    }

    void expect(char c, const char* expected) {
        if (at_end() || peek() != static_cast<unsigned char>(c)) fail_expected(expected);
        ++pos_;
    }

    Value value() {
        if (at_end()) fail_expected("a JSON value");
        switch (peek()) {
            case '{':
                return object();
            case '[':
                return array();
            case '"': {
                const size_t start = pos_;
                return Value::string(string(), start);
            }
            case 't':
                return literal("true", Value::boolean(true, pos_));
            case 'f':
                return literal("false", Value::boolean(false, pos_));
            case 'n':
                return literal("null", Value::null(pos_));
            default:
                if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return number();
                fail_expected("a JSON value (object, array, string, number, true, false or null)");
        }
    }

    Value literal(std::string_view word, Value v) {
        if (s_.substr(pos_, word.size()) != word) fail_expected(fmt::format("'{}'", word));
        pos_ += word.size();
        return v;
    }

    void enter() {
        if (++depth_ > max_depth_)
            fail(fmt::format("nesting deeper than {} levels of objects and arrays", max_depth_));
    }

    Value object() {
        const size_t start = pos_;
        std::vector<Member> members_read;
        members([&](std::string key,
                    Value v) { members_read.emplace_back(std::move(key), std::move(v)); },
                /*counted=*/true);
        return Value::object(std::move(members_read), start);
    }

    // Reads an object at pos_, handing each member to on_member. `counted`: the object is kept,
    // so limits_.max_object_members applies.
    void members(const std::function<void(std::string, Value)>& on_member, bool counted) {
        const size_t start = pos_;
        enter();
        ++pos_;  // '{'
        std::set<std::string> keys;
        skip_whitespace();
        if (!at_end() && peek() == '}') {
            ++pos_;
            --depth_;
            return;
        }
        while (true) {
            if (at_end() || peek() != '"') fail_expected("'\"' to start an object key");
            const size_t key_pos = pos_;
            std::string key = string();
            if (!keys.insert(key).second) {
                pos_ = key_pos;
                fail(fmt::format("duplicate key {} in the object that starts at byte {}",
                                 quote_for_message(key), start));
            }
            if (counted && keys.size() > limits_.max_object_members) {
                pos_ = key_pos;
                fail(
                    fmt::format("more than {} members in the object that starts at byte {} "
                                "(the limit for this document)",
                                limits_.max_object_members, start));
            }
            skip_whitespace();
            expect(':', "':' after an object key");
            skip_whitespace();
            Value v = value();
            on_member(std::move(key), std::move(v));
            skip_whitespace();
            if (!at_end() && peek() == ',') {
                ++pos_;
                skip_whitespace();
                continue;
            }
            expect('}', "',' or '}' after an object member");
            --depth_;
            return;
        }
    }

    Value array() {
        const size_t start = pos_;
        enter();
        ++pos_;  // '['
        std::vector<Value> items;
        skip_whitespace();
        if (!at_end() && peek() == ']') {
            ++pos_;
            --depth_;
            return Value::array(std::move(items), start);
        }
        while (true) {
            if (items.size() == limits_.max_array_length)
                fail(
                    fmt::format("more than {} elements in the array that starts at byte {} (the "
                                "limit for this document)",
                                limits_.max_array_length, start));
            items.push_back(value());
            skip_whitespace();
            if (!at_end() && peek() == ',') {
                ++pos_;
                skip_whitespace();
                continue;
            }
            expect(']', "',' or ']' after an array element");
            --depth_;
            return Value::array(std::move(items), start);
        }
    }

    // A key for an error message; invalid UTF-8 cannot get here, so quote() succeeds.
    static std::string quote_for_message(const std::string& key) { return json::quote(key); }

    uint32_t hex4() {
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            if (at_end()) fail_expected("4 hex digits after \\u");
            const unsigned char c = peek();
            uint32_t d;
            if (c >= '0' && c <= '9') {
                d = c - '0';
            } else if (c >= 'a' && c <= 'f') {
                d = c - 'a' + 10;
            } else if (c >= 'A' && c <= 'F') {
                d = c - 'A' + 10;
            } else {
                fail_expected("4 hex digits after \\u");
            }
            v = v * 16 + d;
            ++pos_;
        }
        return v;
    }

    // \uXXXX, or a UTF-16 surrogate pair \uD83D\uDE00 (one code point above U+FFFF).
    uint32_t unicode_escape() {
        const size_t start = pos_ - 2;  // the backslash
        const uint32_t unit = hex4();
        if (unit >= 0xDC00 && unit <= 0xDFFF) {
            pos_ = start;
            fail(
                fmt::format("unpaired low surrogate \\u{:04X} (it must follow a high surrogate "
                            "\\uD800-\\uDBFF)",
                            unit));
        }
        if (unit < 0xD800 || unit > 0xDBFF) return unit;
        if (s_.substr(pos_, 2) != "\\u")
            fail_expected(
                fmt::format("a low surrogate \\uDC00-\\uDFFF after the high surrogate "
                            "\\u{:04X}",
                            unit));
        const size_t low_pos = pos_;
        pos_ += 2;
        const uint32_t low = hex4();
        if (low < 0xDC00 || low > 0xDFFF) {
            pos_ = low_pos;
            fail(
                fmt::format("expected a low surrogate \\uDC00-\\uDFFF after the high surrogate "
                            "\\u{:04X}, got \\u{:04X}",
                            unit, low));
        }
        return 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }

    std::string string() {
        const size_t start = pos_;
        ++pos_;  // '"'
        std::string out;
        while (true) {
            if (at_end())
                fail_expected(
                    fmt::format("'\"' to close the string that starts at byte {}", start));
            const unsigned char c = peek();
            if (c == '"') {
                ++pos_;
                return out;
            }
            if (c < 0x20)
                fail(
                    fmt::format("raw control character 0x{:02x} in a string; JSON needs an "
                                "escape such as \\n or \\u00{:02x}",
                                c, c));
            if (c == '\\') {
                ++pos_;
                escape(out);
                continue;
            }
            const size_t len = utf8_length(reinterpret_cast<const unsigned char*>(s_.data()) + pos_,
                                           s_.size() - pos_);
            if (len == 0) fail(fmt::format("invalid UTF-8 (byte 0x{:02x}) in a string", c));
            out.append(s_.data() + pos_, len);
            pos_ += len;
        }
    }

    void escape(std::string& out) {
        if (at_end()) fail_expected("an escape character after '\\'");
        const char c = static_cast<char>(peek());
        ++pos_;
        switch (c) {
            case '"':
                out += '"';
                return;
            case '\\':
                out += '\\';
                return;
            case '/':
                out += '/';
                return;
            case 'b':
                out += '\b';
                return;
            case 'f':
                out += '\f';
                return;
            case 'n':
                out += '\n';
                return;
            case 'r':
                out += '\r';
                return;
            case 't':
                out += '\t';
                return;
            case 'u':
                append_utf8(out, unicode_escape());
                return;
            default:
                --pos_;
                fail_expected("an escape character (\" \\ / b f n r t u) after '\\'");
        }
    }

    bool digit() const { return !at_end() && peek() >= '0' && peek() <= '9'; }
    void digits() {
        while (digit()) ++pos_;
    }

    Value number() {
        const size_t start = pos_;
        if (peek() == '-') {
            ++pos_;
            if (!digit()) fail_expected("a digit after '-'");
        }
        if (peek() == '0') {
            ++pos_;
            if (digit()) fail("leading zeros are not allowed in JSON numbers");
        } else {
            digits();
        }
        if (!at_end() && peek() == '.') {
            ++pos_;
            if (!digit()) fail_expected("a digit after the decimal point");
            digits();
        }
        if (!at_end() && (peek() == 'e' || peek() == 'E')) {
            ++pos_;
            if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
            if (!digit()) fail_expected("a digit in the exponent");
            digits();
        }
        std::string literal(s_.substr(start, pos_ - start));
        return Value::number(literal, to_double(literal, start), start);
    }

    // strtod reads the current C locale's decimal point, so swap '.' for it first.
    static double to_double(std::string literal, size_t start) {
        const char point = std::localeconv()->decimal_point[0];
        for (char& ch : literal)
            if (ch == '.') ch = point;
        errno = 0;
        const double v = std::strtod(literal.c_str(), nullptr);
        if (errno == ERANGE && std::isinf(v))
            throw ParseError(start, fmt::format("number {} is too large for a double", literal));
        return v;  // underflow rounds to 0 or a subnormal, as every JSON reader does
    }
};

}  // namespace

Value parse(std::string_view text, size_t max_depth) {
    Limits limits;
    limits.max_depth = max_depth;
    return Parser(text, limits).document();
}

Value parse(std::string_view text, const Limits& limits) {
    return Parser(text, limits).document();
}

void parse_object_members(std::string_view text, const Limits& limits,
                          const std::function<void(std::string key, Value value)>& on_member) {
    Parser(text, limits).members_of_document(on_member);
}

// ---- writing --------------------------------------------------------------------------------

std::string quote(std::string_view s) {
    const size_t bad = first_invalid_utf8(s);
    if (bad != s.size())
        throw std::invalid_argument(
            fmt::format("json::quote: invalid UTF-8 at byte {} (0x{:02x}) of the string", bad,
                        static_cast<unsigned char>(s[bad])));
    std::string out = "\"";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20)
                    out += fmt::format("\\u{:04x}", c);
                else
                    out += ch;  // ASCII, or a byte of a (validated) UTF-8 sequence
        }
    }
    out += '"';
    return out;
}

std::string number(int64_t n) {
    return std::to_string(n);
}

}  // namespace vitlab::json
