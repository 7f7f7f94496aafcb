// json.h: a small, strict JSON parser (RFC 8259) and the string writer that save_safetensors
// needs. It exists because a .safetensors file starts with a JSON header (see safetensors.h).
//
//   json::Value v = json::parse(R"({"w": {"dtype": "F32", "shape": [2, 3]}})");
//   v.find("w")->find("shape")->as_array()[1].as_uint64()   // -> 3
//
// Strict means: exactly one value and then only whitespace; no duplicate keys; no raw control
// characters or invalid UTF-8 inside strings; \uXXXX escapes (surrogate pairs too) become
// UTF-8; numbers follow the JSON grammar (no "+1", "01", ".5", "1.", NaN or Infinity); nesting
// deeper than max_depth is refused so hostile input cannot exhaust the stack, and Limits caps
// array lengths and object sizes so it cannot exhaust memory either. Every error is a
// ParseError that gives the byte position and what was expected there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vitlab::json {

// what() is "at byte 12: expected ':' after an object key, got '}'"; position counts from 0
// and reason is the part after the colon.
struct ParseError : std::runtime_error {
    ParseError(size_t position, const std::string& reason);
    size_t position;
    std::string reason;
};

enum class Type { Null, Bool, Number, String, Array, Object };

// "null", "boolean", "number", "string", "array", "object".
const char* type_name(Type type);

class Value;
using Member = std::pair<std::string, Value>;

// One parsed JSON value. Objects keep their members in document order.
class Value {
  public:
    Value() = default;  // null
    static Value null(size_t position);
    static Value boolean(bool b, size_t position = 0);
    static Value number(std::string literal, double value, size_t position = 0);
    static Value string(std::string s, size_t position = 0);
    static Value array(std::vector<Value> items, size_t position = 0);
    static Value object(std::vector<Member> members, size_t position = 0);

    Type type() const { return type_; }
    bool is(Type t) const { return type_ == t; }
    // Byte offset in the parsed text where this value starts (handy for error messages).
    size_t position() const { return position_; }

    // The accessors throw std::logic_error when the value has another type.
    bool as_bool() const;
    double as_double() const;
    const std::string& as_string() const;
    const std::vector<Value>& as_array() const;
    const std::vector<Member>& as_object() const;

    // The number exactly as written, e.g. "1e3" or "18446744073709551615".
    const std::string& number_text() const;
    // The value of an integer literal (no '.', no exponent) when it fits, else nullopt.
    // Integers are read from the digits, not the double, so 2^53 + 1 stays exact.
    // "-0" counts as 0 for as_uint64.
    std::optional<int64_t> as_int64() const;
    std::optional<uint64_t> as_uint64() const;

    // The member called key of an object, or nullptr (also when this is not an object).
    const Value* find(std::string_view key) const;

  private:
    Type type_ = Type::Null;
    size_t position_ = 0;
    bool bool_ = false;
    double number_ = 0.0;
    std::string text_;  // string contents, or the number's literal
    std::vector<Value> items_;
    std::vector<Member> members_;

    void require(Type t, const char* accessor) const;
};

// What a document may hold, so that hostile input cannot exhaust the stack or the memory. A
// parsed value costs about a hundred bytes however short its text ("0," is two bytes), so a
// caller that knows its documents' shape should say so.
struct Limits {
    size_t max_depth = 64;                 // containers nested deeper throw ParseError
    size_t max_array_length = SIZE_MAX;    // elements of one array
    size_t max_object_members = SIZE_MAX;  // members of one object (see parse_object_members)
};

// Parses text as one JSON value. Containers nested deeper than max_depth throw ParseError.
Value parse(std::string_view text, size_t max_depth = 64);
Value parse(std::string_view text, const Limits& limits);

// Parses text as one JSON object without keeping it: on_member(key, value) is called for each
// member as soon as it is read, in document order, and the member is dropped afterwards. Memory
// is that of one member (plus the keys, to refuse duplicates), not of the whole document.
// limits.max_object_members applies to the objects inside, not to this one. Throws ParseError
// (also when text is not an object), or what on_member throws.
void parse_object_members(std::string_view text, const Limits& limits,
                          const std::function<void(std::string key, Value value)>& on_member);

// ---- writing -----------------------------------------------------------------------------

// True when s is well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
bool is_valid_utf8(std::string_view s);

// s as a JSON string literal with its quotes: quote("a\"b\n") -> "\"a\\\"b\\n\"".
// Non-ASCII text is kept as UTF-8; invalid UTF-8 throws std::invalid_argument.
std::string quote(std::string_view s);

// An integer as a JSON number: number(-12) -> "-12".
std::string number(int64_t n);

}  // namespace vitlab::json
