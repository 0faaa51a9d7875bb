/* The native record encoder: Arrow record batches -> JSON text, in one pass.
 *
 * It implements docs/json-contract.md exactly as etl_lib/contract/reference.py (the reference
 * implementation, built from Arrow compute kernels) does, byte for byte; the tests run
 * both on the same inputs and compare the bytes. Why native: the reference materialises
 * every value several times (a fragment per column, then element-wise joins); this reads
 * the batch's buffers through the Arrow C data interface (the PyCapsules of
 * __arrow_c_array__) and writes each record straight into one output buffer, with the
 * GIL released so the local engine's threads and Spark's executors scale on cores.
 *
 * Python entry point: encode(schema_capsule, array_capsule, mode, flags, terminator,
 * float16_table) -> (data, offsets, validity, null_count, large, error): the records, their
 * offsets, the validity bitmap when a record is null, its null count, whether the offsets
 * are 64-bit, and the error (None, or its name and row). See etl_lib/contract/native.py.
 * Types this file does not know report "unsupported" and the caller uses the reference.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "shortest.h"

/* ---- The Arrow C data interface (ABI fixed by the Arrow specification) --------------- */

struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

/* ---- Options, modes, errors --------------------------------------------------------- */

enum { F_DROP_NULLS = 1, F_BIGINT_AS_STRING = 2, F_DECIMAL_AS_STRING = 4, F_NAN_AS_STRING = 8, F_GEOMETRY_WKB = 16,
       F_GEOMETRY_WKT = 32 };
enum { MODE_LINES = 0, MODE_VALUES = 1 };
enum { ERR_NONE = 0, ERR_UNSUPPORTED, ERR_NOMEM, ERR_INVALID_UTF8, ERR_INVALID_TIME, ERR_NEED_FLOAT16, ERR_INVALID_VARIANT,
       ERR_INVALID_GEOMETRY };

/* ---- Column tree -------------------------------------------------------------------- */

typedef enum {
    K_NULL, K_BOOL, K_I8, K_U8, K_I16, K_U16, K_I32, K_U32, K_I64, K_U64,
    K_F16, K_F32, K_F64, K_DECIMAL,
    K_STRING, K_LARGE_STRING, K_STRING_VIEW, /* JSON strings */
    K_BINARY, K_LARGE_BINARY, K_BINARY_VIEW, K_FIXED_BINARY, /* base64 */
    K_UUID, K_ISO_TEXT, K_RAW_JSON,
    K_DATE32, K_DATE64, K_TIMESTAMP, K_TIME32, K_TIME64, K_DURATION,
    K_LIST, K_LARGE_LIST, K_FIXED_LIST, K_LIST_VIEW, K_LARGE_LIST_VIEW, K_MAP, K_STRUCT, K_DICT,
    K_VARIANT /* an unshredded VARIANT: a struct of metadata and value binaries */
} Kind;

typedef struct Node Node;
typedef struct Ctx Ctx;
/* Writes the JSON of element i (not null) of a node: chosen once per node when the tree is
   built, so the per-value work does not go through a switch on the kind every time. */
typedef int (*WriteFn)(Ctx *c, const Node *n, int64_t i);
struct Node {
    Kind kind;
    WriteFn write;
    int64_t length, offset;
    const uint8_t *validity;
    const uint8_t *b1, *b2; /* offsets/values, data/sizes (by kind) */
    int64_t n_variadic;
    const uint8_t *const *variadic; /* data buffers of string/binary views */
    int unit; /* time unit: 0 s, 1 ms, 2 us, 3 ns */
    int utc;
    int width; /* fixed binary width, fixed list size, decimal bit width, index width */
    int index_signed;
    int32_t scale;
    int variant_metadata, variant_value; /* K_VARIANT: the children holding them */
    int64_t n_children;
    Node **children;
    char **keys; /* struct: the escaped "name": text of each field */
    size_t *key_lens;
    Node *dict;
    int indirect_nulls; /* K_NULL or K_DICT: nullness is not (only) the validity bitmap */
    int may_null; /* a validity bitmap or indirect nulls: 0 lets the null test be skipped */
};

typedef struct {
    char *buf;
    size_t len, cap;
} Out;

#define KEY_PADDING 16

struct Ctx {
    Out out;
    int flags;
    int error;
    int64_t error_row; /* row of the record (or value) being written */
    int64_t row;
    const uint8_t *f16_table; /* 65536 slots of 16 bytes: length, then text */
    char *scratch; /* map keys that must be re-quoted */
    size_t scratch_cap;
};

static const int64_t UNITS_PER_SECOND[4] = {1, 1000, 1000000, 1000000000};
static const int FRACTION_DIGITS[4] = {0, 3, 6, 9};

/* ---- Output buffer ------------------------------------------------------------------ */

static int grow(Ctx *c, size_t need) {
    size_t cap = c->out.cap ? c->out.cap : 1 << 16;
    while (cap < c->out.len + need) cap *= 2;
    char *buf = realloc(c->out.buf, cap);
    if (!buf) {
        c->error = ERR_NOMEM;
        return 0;
    }
    c->out.buf = buf;
    c->out.cap = cap;
    return 1;
}

/* Room for `need` more bytes; returns the write position or NULL (error set). */
static inline char *reserve(Ctx *c, size_t need) {
    if (c->out.len + need > c->out.cap && !grow(c, need)) return NULL;
    return c->out.buf + c->out.len;
}

static inline int put(Ctx *c, const char *text, size_t n) {
    char *p = reserve(c, n);
    if (!p) return 0;
    memcpy(p, text, n);
    c->out.len += n;
    return 1;
}

static inline int put_char(Ctx *c, char ch) {
    char *p = reserve(c, 1);
    if (!p) return 0;
    *p = ch;
    c->out.len += 1;
    return 1;
}

/* ---- Numbers ------------------------------------------------------------------------ */

static const char DIGIT_PAIRS[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static const uint64_t POW10[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
    1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
    1000000000000000000ull, 10000000000000000000ull,
};

/* Decimal digits of v: log10 from the bit length (1233/4096 ~ log10(2)), then one compare.
   On v | 1, which has the digits of v (a power of ten above 1 is even) and is never 0. */
static inline int digit_count(uint64_t v) {
    const uint64_t w = v | 1;
    const int t = ((64 - __builtin_clzll(w)) * 1233) >> 12;
    return t + (w >= POW10[t]);
}

/* Decimal text of v at p, written in place from its last digit; returns its length (<= 20). */
static inline int format_u64(char *p, uint64_t v) {
    const int n = digit_count(v);
    char *q = p + n;
    while (v > UINT32_MAX) {
        const uint64_t d = v / 100;
        const uint32_t r = (uint32_t)(v - d * 100);
        v = d;
        q -= 2;
        memcpy(q, DIGIT_PAIRS + 2 * r, 2);
    }
    /* Most values fit 32 bits, where dividing by 100 is one multiply and one shift. */
    uint32_t u = (uint32_t)v;
    while (u >= 100) {
        const uint32_t d = u / 100;
        const uint32_t r = u - d * 100;
        u = d;
        q -= 2;
        memcpy(q, DIGIT_PAIRS + 2 * r, 2);
    }
    if (u >= 10) {
        memcpy(q - 2, DIGIT_PAIRS + 2 * u, 2);
    } else {
        q[-1] = (char)('0' + u);
    }
    return n;
}

static inline int format_i64(char *p, int64_t v) {
    if (v < 0) {
        *p = '-';
        return 1 + format_u64(p + 1, (uint64_t)0 - (uint64_t)v);
    }
    return format_u64(p, (uint64_t)v);
}

/* Zero-padded `digits` digits of v (v < 10**digits), two at a time from the last. */
static inline void format_fixed(char *p, uint64_t v, int digits) {
    int i = digits;
    while (v > UINT32_MAX) { /* only decimals' 19-digit chunks: i >= 10 here */
        const uint64_t d = v / 100;
        i -= 2;
        memcpy(p + i, DIGIT_PAIRS + 2 * (v - d * 100), 2);
        v = d;
    }
    uint32_t u = (uint32_t)v; /* years, clock fields and fractions: 32-bit steps (see format_u64) */
    while (i >= 2) {
        const uint32_t d = u / 100;
        i -= 2;
        memcpy(p + i, DIGIT_PAIRS + 2 * (u - d * 100), 2);
        u = d;
    }
    if (i) p[0] = (char)('0' + u);
}

#define MAX_SAFE_INTEGER 9007199254740991LL

static int write_i64(Ctx *c, int64_t v, int bigint) {
    char *p = reserve(c, 24);
    if (!p) return 0;
    if (bigint && (v > MAX_SAFE_INTEGER || v < -MAX_SAFE_INTEGER)) {
        p[0] = '"';
        int n = format_i64(p + 1, v);
        p[n + 1] = '"';
        c->out.len += (size_t)n + 2;
    } else {
        c->out.len += (size_t)format_i64(p, v);
    }
    return 1;
}

static int write_u64(Ctx *c, uint64_t v, int bigint) {
    char *p = reserve(c, 24);
    if (!p) return 0;
    if (bigint && v > (uint64_t)MAX_SAFE_INTEGER) {
        p[0] = '"';
        int n = format_u64(p + 1, v);
        p[n + 1] = '"';
        c->out.len += (size_t)n + 2;
    } else {
        c->out.len += (size_t)format_u64(p, v);
    }
    return 1;
}

/* NaN and infinities: null, or strings with nan_as_string. */
static int write_special_float(Ctx *c, int is_nan, int negative) {
    if (!(c->flags & F_NAN_AS_STRING)) return put(c, "null", 4);
    if (is_nan) return put(c, "\"NaN\"", 5);
    return negative ? put(c, "\"-Infinity\"", 11) : put(c, "\"Infinity\"", 10);
}

/* The layout of Arrow's float->string cast (double-conversion's ToShortest with
   EMIT_POSITIVE_EXPONENT_SIGN, exponent character 'e', plain notation for decimal
   exponents in [-6, 10)): "0.1", "100", "1e+10", "1.5e-7", "-0". */
#define SHORTEST_LOW (-6)
#define SHORTEST_HIGH 10

static int write_shortest(Ctx *c, int negative, Decimal10 d, int is_zero) {
    /* Copies are of a fixed 20 bytes (inlined moves, no memcpy call): the reserve leaves
       room for the garbage past the digits, which the next writes overwrite. */
    char *p = reserve(c, 72);
    if (!p) return 0;
    char *start = p;
    if (negative) *p++ = '-';
    if (is_zero) {
        *p++ = '0';
        c->out.len += (size_t)(p - start);
        return 1;
    }
    /* d.digits has no trailing zero: shortest_schubfach strips them (shortest_check.c
       compares its output with Ryu's, stripped, for equality). */
    char digits[40];
    const int n = format_u64(digits, d.digits);
    const int point = d.exponent + n; /* value = 0.DIGITS * 10**point */
    int exponent = point - 1;
    if (SHORTEST_LOW <= exponent && exponent < SHORTEST_HIGH) {
        if (point <= 0) {
            *p++ = '0';
            *p++ = '.';
            for (int k = point; k < 0; ++k) *p++ = '0';
            memcpy(p, digits, 20);
            p += n;
        } else if (point >= n) {
            memcpy(p, digits, 20);
            p += n;
            for (int k = n; k < point; ++k) *p++ = '0';
        } else {
            memcpy(p, digits, 20);
            p += point;
            *p++ = '.';
            memcpy(p, digits + point, 20);
            p += n - point;
        }
    } else {
        *p++ = digits[0];
        if (n > 1) {
            *p++ = '.';
            memcpy(p, digits + 1, 20);
            p += n - 1;
        }
        *p++ = 'e';
        if (exponent < 0) {
            *p++ = '-';
            exponent = -exponent;
        } else {
            *p++ = '+';
        }
        p += format_u64(p, (uint64_t)exponent);
    }
    c->out.len += (size_t)(p - start);
    return 1;
}

static int write_f64(Ctx *c, double v) {
    uint64_t bits;
    memcpy(&bits, &v, 8);
    const int negative = (int)(bits >> 63);
    const uint64_t mantissa = bits & ((1ull << 52) - 1);
    const uint32_t exponent = (uint32_t)((bits >> 52) & 0x7ff);
    if (exponent == 0x7ff) return write_special_float(c, mantissa != 0, negative);
    Decimal10 d = {0, 0};
    const int zero = exponent == 0 && mantissa == 0;
    if (!zero) d = shortest_schubfach(mantissa, exponent, 52, 1023);
    return write_shortest(c, negative, d, zero);
}

static int write_f32(Ctx *c, float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    const int negative = (int)(bits >> 31);
    const uint32_t mantissa = bits & ((1u << 23) - 1);
    const uint32_t exponent = (bits >> 23) & 0xff;
    if (exponent == 0xff) return write_special_float(c, mantissa != 0, negative);
    Decimal10 d = {0, 0};
    const int zero = exponent == 0 && mantissa == 0;
    if (!zero) d = shortest_schubfach(mantissa, exponent, 23, 127);
    return write_shortest(c, negative, d, zero);
}

/* float16: the reference prints numpy's shortest float16 text; the wrapper hands over
   that text for all 65536 bit patterns (only when a float16 column is present). */
static int write_f16(Ctx *c, uint16_t bits) {
    const uint32_t exponent = (bits >> 10) & 0x1f;
    const uint32_t mantissa = bits & 0x3ff;
    if (exponent == 0x1f) return write_special_float(c, mantissa != 0, bits >> 15);
    const uint8_t *slot = c->f16_table + 16 * (size_t)bits;
    return put(c, (const char *)slot + 1, slot[0]);
}

/* ---- Decimals ----------------------------------------------------------------------- */

/* Decimal digits of the magnitude of a little-endian two's complement integer of
   `words` 64-bit words; returns the digit count written to `out` (no sign). */
static int magnitude_digits(const uint64_t *le, int words, int *negative, char *out) {
    uint64_t w[4];
    memcpy(w, le, (size_t)words * 8);
    *negative = (int)(w[words - 1] >> 63);
    if (*negative) { /* negate: invert and add one */
        unsigned carry = 1;
        for (int i = 0; i < words; ++i) {
            w[i] = ~w[i] + carry;
            carry = carry && w[i] == 0;
        }
    }
    /* Repeated division by 10**19, most significant word first. */
    char chunks[80];
    int len = 0;
    int top = words - 1;
    const uint64_t base = 10000000000000000000ull;
    for (;;) {
        while (top > 0 && w[top] == 0) --top;
        if (top == 0 && w[0] < base) {
            char tmp[20];
            int n = format_u64(tmp, w[0]);
            /* Fixed-size copies are inlined (a variable size calls memcpy): out has 80 bytes. */
            memcpy(out, tmp, 20);
            if (len) memcpy(out + n, chunks + (80 - len), (size_t)len);
            return n + len;
        }
        unsigned __int128 rem = 0;
        for (int i = top; i >= 0; --i) {
            unsigned __int128 cur = (rem << 64) | w[i];
            w[i] = (uint64_t)(cur / base);
            rem = cur % base;
        }
        len += 19;
        format_fixed(chunks + (80 - len), (uint64_t)rem, 19);
    }
}

/* The text of Arrow's decimal->string cast: the integer digits with the point inserted
   at the scale, or scientific notation for a negative scale or a small adjusted exponent
   (the rule of Java's BigDecimal.toString, which Arrow follows). */
static int write_decimal_le(Ctx *c, const uint64_t *le, int words, int32_t scale);

static int write_decimal(Ctx *c, const Node *n, int64_t i) {
    const int words = n->width / 64;
    uint64_t le[4];
    if (n->width == 32) {
        int32_t v;
        memcpy(&v, n->b1 + 4 * (n->offset + i), 4);
        le[0] = (uint64_t)(int64_t)v;
    } else if (n->width == 64) {
        memcpy(le, n->b1 + 8 * (n->offset + i), 8);
    } else if (n->width == 128) { /* constant sizes: inlined copies, not memcpy calls */
        memcpy(le, n->b1 + 16 * (size_t)(n->offset + i), 16);
    } else {
        memcpy(le, n->b1 + 32 * (size_t)(n->offset + i), 32);
    }
    return write_decimal_le(c, le, words ? words : 1, n->scale);
}

/* The text of a decimal of `words` little-endian 64-bit words and `scale`. */
static int write_decimal_le(Ctx *c, const uint64_t *le, int words, int32_t scale) {
    char digits[80];
    int negative;
    int nd = magnitude_digits(le, words, &negative, digits);
    const int quoted = (c->flags & F_DECIMAL_AS_STRING) != 0;
    char *p = reserve(c, (size_t)nd + 96);
    if (!p) return 0;
    char *start = p;
    if (quoted) *p++ = '"';
    if (negative) *p++ = '-';
    const int32_t adjusted = nd - 1 - scale;
    if (scale == 0) {
        memcpy(p, digits, (size_t)nd);
        p += nd;
    } else if (scale < 0 || adjusted < -6) {
        *p++ = digits[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, digits + 1, (size_t)(nd - 1));
            p += nd - 1;
        }
        *p++ = 'E';
        if (adjusted >= 0) *p++ = '+';
        p += format_i64(p, adjusted);
    } else if (nd > scale) {
        memcpy(p, digits, (size_t)(nd - scale));
        p += nd - scale;
        *p++ = '.';
        memcpy(p, digits + nd - scale, (size_t)scale);
        p += scale;
    } else {
        *p++ = '0';
        *p++ = '.';
        memset(p, '0', (size_t)(scale - nd));
        p += scale - nd;
        memcpy(p, digits, (size_t)nd);
        p += nd;
    }
    if (quoted) *p++ = '"';
    c->out.len += (size_t)(p - start);
    return 1;
}

/* ---- Strings ------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence starting at s (first byte >= 0x80), or 0 if
   invalid (overlong, surrogate, beyond U+10FFFF, truncated): the rules of RFC 3629. */
static inline int utf8_sequence(const uint8_t *s, size_t left) {
    const uint8_t b0 = s[0];
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        return left >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (left < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (b0 == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
        if (b0 == 0xED && s[1] >= 0xA0) return 0; /* surrogates */
        return 3;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (left < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if (b0 == 0xF0 && s[1] < 0x90) return 0; /* overlong */
        if (b0 == 0xF4 && s[1] >= 0x90) return 0; /* beyond U+10FFFF */
        return 4;
    }
    return 0;
}

static const char HEX[] = "0123456789abcdef";

/* Bytes that need care in a JSON string: < 0x20, '"', '\\' and >= 0x80 (UTF-8 to check). */
static inline int needs_care(uint8_t b) { return b < 0x20 || b == '"' || b == '\\' || b >= 0x80; }

#ifdef __SSE2__
/* SSE2 is part of the x86-64 baseline, so no runtime check is needed. Bit k is set for each
   byte k of the 16 that needs care: the signed compare with 0x20 takes the bytes >= 0x80
   (negative as signed) together with the control characters. */
static inline unsigned care_mask(__m128i x) {
    const __m128i care = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
        _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
    return (unsigned)_mm_movemask_epi8(care);
}

/* Copies s[i..n) to p up to the first byte that needs care; returns how many bytes it
   copied (n - i if none needs care). p has room for 16 bytes past what it copies. Every
   load stays inside s[0..n): the last bytes are read by a load that ends at s + n and
   overlaps bytes already done, whose part of the mask is shifted out. */
static inline size_t copy_plain(char *p, const uint8_t *s, size_t i, size_t n) {
    const size_t from = i;
    while (n - i >= 16) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(s + i));
        const unsigned m = care_mask(x);
        _mm_storeu_si128((__m128i *)(p + (i - from)), x);
        if (m) return i - from + (size_t)__builtin_ctz(m);
        i += 16;
    }
    if (i == n) return n - from;
    const size_t left = n - i;
    if (n >= 16) {
        const unsigned back = (unsigned)(16 - left);
        const __m128i x = _mm_loadu_si128((const __m128i *)(s + n - 16));
        uint8_t tmp[32] = {0}; /* the shift is not a constant: through memory */
        _mm_storeu_si128((__m128i *)tmp, x);
        memcpy(p + (i - from), tmp + back, 16);
        const unsigned m = care_mask(x) >> back;
        return i - from + (m ? (size_t)__builtin_ctz(m) : left);
    }
    if (n >= 8) { /* 8 <= n < 16, as above with one 8-byte load or two */
        uint64_t w;
        if (left >= 8) {
            memcpy(&w, s + i, 8);
            memcpy(p + (i - from), &w, 8);
            const unsigned m = care_mask(_mm_cvtsi64_si128((long long)w)) & 0xff;
            if (m) return i - from + (size_t)__builtin_ctz(m);
            i += 8;
            if (i == n) return n - from;
        }
        const unsigned back = (unsigned)(8 - (n - i));
        memcpy(&w, s + n - 8, 8);
        const unsigned m = (care_mask(_mm_cvtsi64_si128((long long)w)) & 0xff) >> back;
        w >>= 8 * back; /* little-endian: the first bytes in memory are the low ones */
        memcpy(p + (i - from), &w, 8);
        return i - from + (m ? (size_t)__builtin_ctz(m) : n - i);
    }
    while (i < n && !needs_care(s[i])) { /* shorter than 8 */
        p[i - from] = (char)s[i];
        ++i;
    }
    return i - from;
}
#else
/* Any byte of the 8 that needs care. */
static inline int word_needs_care(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const uint64_t quote = x ^ (ones * '"');
    const uint64_t slash = x ^ (ones * '\\');
    const uint64_t control = (x - ones * 0x20) & ~x;
    const uint64_t q = (quote - ones) & ~quote;
    const uint64_t s = (slash - ones) & ~slash;
    return ((control | q | s) & highs) != 0 || (x & highs) != 0;
}

/* Portable: 8 bytes at a time while none needs care, then one by one. */
static inline size_t copy_plain(char *p, const uint8_t *s, size_t i, size_t n) {
    const size_t from = i;
    for (uint64_t x; i + 8 <= n && (memcpy(&x, s + i, 8), !word_needs_care(x)); i += 8) memcpy(p + (i - from), &x, 8);
    for (; i < n && !needs_care(s[i]); ++i) p[i - from] = (char)s[i];
    return i - from;
}
#endif

/* The JSON string literal of UTF-8 bytes: escapes per the contract, and validation
   (invalid UTF-8 is refused, as the reference does). */
static int write_string(Ctx *c, const uint8_t *s, size_t n) {
    /* worst case: every byte a \u00XX escape; + 16 for copy_plain's block stores */
    char *p = reserve(c, 6 * n + 2 + 16);
    if (!p) return 0;
    char *start = p;
    *p++ = '"';
    size_t i = 0;
    while (i < n) {
        const size_t k = copy_plain(p, s, i, n);
        p += k;
        i += k;
        if (i >= n) break;
        const uint8_t b = s[i];
        if (b >= 0x80) {
            int len = utf8_sequence(s + i, n - i);
            if (!len) {
                c->error = ERR_INVALID_UTF8;
                return 0;
            }
            if (len == 3 && b == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
                /* U+2028/U+2029: valid JSON, but not valid JavaScript source */
                memcpy(p, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
                p += 6;
            } else {
                p[0] = (char)s[i];
                p[1] = (char)s[i + 1];
                if (len > 2) p[2] = (char)s[i + 2];
                if (len > 3) p[3] = (char)s[i + 3];
                p += len;
            }
            i += (size_t)len;
            continue;
        }
        *p++ = '\\'; /* b < 0x20, '"' or '\\' */
        switch (b) {
            case '"': *p++ = '"'; break;
            case '\\': *p++ = '\\'; break;
            case '\n': *p++ = 'n'; break;
            case '\r': *p++ = 'r'; break;
            case '\t': *p++ = 't'; break;
            case '\b': *p++ = 'b'; break;
            case '\f': *p++ = 'f'; break;
            default:
                *p++ = 'u';
                *p++ = '0';
                *p++ = '0';
                *p++ = HEX[b >> 4];
                *p++ = HEX[b & 15];
        }
        ++i;
    }
    *p++ = '"';
    c->out.len += (size_t)(p - start);
    return 1;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 (RFC 4648, with padding), quoted. */
static int write_base64(Ctx *c, const uint8_t *s, size_t n) {
    char *p = reserve(c, (n + 2) / 3 * 4 + 2);
    if (!p) return 0;
    char *start = p;
    *p++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        const uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        p[0] = B64[v >> 18];
        p[1] = B64[(v >> 12) & 63];
        p[2] = B64[(v >> 6) & 63];
        p[3] = B64[v & 63];
        p += 4;
    }
    if (n - i == 1) {
        const uint32_t v = (uint32_t)s[i] << 16;
        p[0] = B64[v >> 18];
        p[1] = B64[(v >> 12) & 63];
        p[2] = '=';
        p[3] = '=';
        p += 4;
    } else if (n - i == 2) {
        const uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        p[0] = B64[v >> 18];
        p[1] = B64[(v >> 12) & 63];
        p[2] = B64[(v >> 6) & 63];
        p[3] = '=';
        p += 4;
    }
    *p++ = '"';
    c->out.len += (size_t)(p - start);
    return 1;
}

static int write_uuid(Ctx *c, const uint8_t *s) {
    char *p = reserve(c, 38);
    if (!p) return 0;
    *p++ = '"';
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
        *p++ = HEX[s[i] >> 4];
        *p++ = HEX[s[i] & 15];
    }
    *p++ = '"';
    c->out.len += 38;
    return 1;
}

/* ---- Dates and times ---------------------------------------------------------------- */

static inline int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Proleptic Gregorian civil date of a day count from 1970-01-01, for any int64 day
   count the callers produce (Howard Hinnant's days_from_civil inverse). */
static inline void civil_from_days(int64_t days, int64_t *year, int *month, int *day) {
    if (days >= -719468 && days <= 2000000000) {
        /* From 0000-03-01 to far past 9999: z is not negative and fits 32 bits, so the same
           arithmetic runs unsigned in 32 bits, where dividing by a constant is cheaper. */
        const uint32_t z = (uint32_t)(days + 719468);
        const uint32_t era = z / 146097;
        const uint32_t doe = z - era * 146097;
        const uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        const uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        const uint32_t mp = (5 * doy + 2) / 153;
        *day = (int)(doy - (153 * mp + 2) / 5 + 1);
        *month = (int)(mp < 10 ? mp + 3 : mp - 9);
        *year = (int64_t)yoe + (int64_t)era * 400 + (*month <= 2);
        return;
    }
    const int64_t z = days + 719468;
    const int64_t era = floor_div(z, 146097);
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

/* YYYY-MM-DD at p; years outside 0000-9999 as ISO 8601 expanded years (sign, >= 5 digits). */
static inline char *format_date(char *p, int64_t days) {
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    if (year >= 0 && year <= 9999) {
        format_fixed(p, (uint64_t)year, 4);
        p += 4;
    } else {
        *p++ = year > 0 ? '+' : '-';
        const uint64_t magnitude = year > 0 ? (uint64_t)year : (uint64_t)0 - (uint64_t)year;
        if (magnitude < 100000) {
            format_fixed(p, magnitude, 5);
            p += 5;
        } else {
            p += format_u64(p, magnitude);
        }
    }
    *p++ = '-';
    memcpy(p, DIGIT_PAIRS + 2 * month, 2);
    p += 2;
    *p++ = '-';
    memcpy(p, DIGIT_PAIRS + 2 * day, 2);
    return p + 2;
}

/* HH:MM:SS[.fraction] of a count of `unit` since midnight (0 <= count <= 24h). */
static inline char *format_clock(char *p, int64_t count, int unit) {
    const int64_t per_second = UNITS_PER_SECOND[unit];
    const int64_t seconds = count / per_second, fraction = count % per_second;
    memcpy(p, DIGIT_PAIRS + 2 * (seconds / 3600), 2);
    p[2] = ':';
    memcpy(p + 3, DIGIT_PAIRS + 2 * (seconds / 60 % 60), 2);
    p[5] = ':';
    memcpy(p + 6, DIGIT_PAIRS + 2 * (seconds % 60), 2);
    p += 8;
    if (FRACTION_DIGITS[unit]) {
        *p++ = '.';
        format_fixed(p, (uint64_t)fraction, FRACTION_DIGITS[unit]);
        p += FRACTION_DIGITS[unit];
    }
    return p;
}

static int write_date(Ctx *c, int64_t days) {
    char *p = reserve(c, 40);
    if (!p) return 0;
    char *start = p;
    *p++ = '"';
    p = format_date(p, days);
    *p++ = '"';
    c->out.len += (size_t)(p - start);
    return 1;
}

/* An epoch count in `unit`: the UTC instant whatever zone the column names. */
static int write_timestamp(Ctx *c, int64_t value, int unit, int utc) {
    char *p = reserve(c, 64);
    if (!p) return 0;
    char *start = p;
    const int64_t per_day = 86400 * UNITS_PER_SECOND[unit];
    /* floor division without overflow near INT64_MIN */
    int64_t days = value / per_day, within = value % per_day;
    if (within < 0) {
        within += per_day;
        days -= 1;
    }
    *p++ = '"';
    p = format_date(p, days);
    *p++ = 'T';
    p = format_clock(p, within, unit);
    if (utc) *p++ = 'Z';
    *p++ = '"';
    c->out.len += (size_t)(p - start);
    return 1;
}

static int write_time(Ctx *c, int64_t value, int unit) {
    if (value < 0 || value > 86400 * UNITS_PER_SECOND[unit]) {
        c->error = ERR_INVALID_TIME; /* a TIME is within one day, 24:00:00 included */
        return 0;
    }
    char *p = reserve(c, 24);
    if (!p) return 0;
    char *start = p;
    *p++ = '"';
    p = format_clock(p, value, unit);
    *p++ = '"';
    c->out.len += (size_t)(p - start);
    return 1;
}

/* ---- GEOMETRY / GEOGRAPHY (WKB) ------------------------------------------------------- */

/* WKB as an RFC 7946 GeoJSON geometry object: the same text as etl_lib/contract/geo.py,
   which stays the reference (and writes WKT). The parser is bounded: every count is
   checked against the bytes left before it is used, and collections recurse at most
   GEO_MAX_DEPTH levels (geo.MAX_DEPTH). Anything it refuses - truncated, trailing bytes,
   an unknown type, a Multi* holding another type - raises ERR_INVALID_GEOMETRY and hands
   the batch to the reference path, which refuses it with the column and the row. */

#define GEO_MAX_DEPTH 32
#define EWKB_Z 0x80000000u
#define EWKB_M 0x40000000u
#define EWKB_SRID 0x20000000u

static const char *const GEO_TYPES[8] = {
    NULL, "{\"type\":\"Point\",", "{\"type\":\"LineString\",", "{\"type\":\"Polygon\",",
    "{\"type\":\"MultiPoint\",", "{\"type\":\"MultiLineString\",", "{\"type\":\"MultiPolygon\",",
    "{\"type\":\"GeometryCollection\",",
};

typedef struct {
    const uint8_t *b;
    size_t len, at;
} Wkb;

typedef struct {
    int little, base, has_z, dims;
} WkbHeader;

static int bad_geometry(Ctx *c) {
    c->error = ERR_INVALID_GEOMETRY;
    return 0;
}

static inline uint32_t wkb_u32(const uint8_t *p, int little) {
    uint32_t v;
    memcpy(&v, p, 4);
    return little ? v : __builtin_bswap32(v);
}

static inline double wkb_f64(const uint8_t *p, int little) {
    uint64_t v;
    memcpy(&v, p, 8);
    if (!little) v = __builtin_bswap64(v);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static int wkb_header(Ctx *c, Wkb *w, WkbHeader *h, int depth, int expect) {
    if (depth > GEO_MAX_DEPTH || w->len - w->at < 5 || w->b[w->at] > 1) return bad_geometry(c);
    h->little = w->b[w->at];
    const uint32_t raw = wkb_u32(w->b + w->at + 1, h->little);
    w->at += 5;
    if (raw & EWKB_SRID) {
        if (w->len - w->at < 4) return bad_geometry(c);
        w->at += 4;
    }
    const uint32_t code = raw & 0x0FFFFFFFu, dim = code / 1000;
    h->base = (int)(code % 1000);
    if (h->base < 1 || h->base > 7 || dim > 3 || (expect && h->base != expect)) return bad_geometry(c);
    h->has_z = (raw & EWKB_Z) || dim == 1 || dim == 3;
    h->dims = 2 + h->has_z + ((raw & EWKB_M) || dim == 2 || dim == 3);
    return 1;
}

static int wkb_count(Ctx *c, Wkb *w, int little, size_t least, uint32_t *count) {
    if (w->len - w->at < 4) return bad_geometry(c);
    *count = wkb_u32(w->b + w->at, little);
    w->at += 4;
    if (*count > (w->len - w->at) / least) return bad_geometry(c);
    return 1;
}

/* One position: [x,y] or [x,y,z]; M, when present, is skipped (GeoJSON has no measure). */
static int write_position(Ctx *c, const uint8_t *p, const WkbHeader *h) {
    if (!put_char(c, '[') || !write_f64(c, wkb_f64(p, h->little)) || !put_char(c, ',') ||
        !write_f64(c, wkb_f64(p + 8, h->little)))
        return 0;
    if (h->has_z && !(put_char(c, ',') && write_f64(c, wkb_f64(p + 16, h->little)))) return 0;
    return put_char(c, ']');
}

static int write_positions(Ctx *c, Wkb *w, const WkbHeader *h) {
    uint32_t n;
    const size_t stride = 8 * (size_t)h->dims;
    if (!wkb_count(c, w, h->little, stride, &n) || !put_char(c, '[')) return 0;
    for (uint32_t k = 0; k < n; ++k) {
        if ((k && !put_char(c, ',')) || !write_position(c, w->b + w->at + k * stride, h)) return 0;
    }
    w->at += n * stride;
    return put_char(c, ']');
}

static int write_geo_coordinates(Ctx *c, Wkb *w, const WkbHeader *h, int depth);

static int write_geo_children(Ctx *c, Wkb *w, const WkbHeader *h, int depth) {
    static const int CHILD[8] = {0, 0, 0, 0, 1, 2, 3, 0};
    uint32_t n;
    if (!wkb_count(c, w, h->little, 5, &n) || !put_char(c, '[')) return 0;
    for (uint32_t k = 0; k < n; ++k) {
        WkbHeader child;
        if (k && !put_char(c, ',')) return 0;
        if (!wkb_header(c, w, &child, depth + 1, CHILD[h->base])) return 0;
        if (h->base == 7) {
            if (!put(c, GEO_TYPES[child.base], strlen(GEO_TYPES[child.base]))) return 0;
            if (child.base == 7) {
                if (!put(c, "\"geometries\":", 13) || !write_geo_children(c, w, &child, depth + 1)) return 0;
            } else if (!put(c, "\"coordinates\":", 14) || !write_geo_coordinates(c, w, &child, depth + 1)) {
                return 0;
            }
            if (!put_char(c, '}')) return 0;
        } else if (!write_geo_coordinates(c, w, &child, depth + 1)) {
            return 0;
        }
    }
    return put_char(c, ']');
}

/* The "coordinates" of a geometry whose header `h` was just read (not a collection). */
static int write_geo_coordinates(Ctx *c, Wkb *w, const WkbHeader *h, int depth) {
    if (h->base == 1) {
        const size_t size = 8 * (size_t)h->dims;
        if (w->len - w->at < size) return bad_geometry(c);
        const uint8_t *p = w->b + w->at;
        w->at += size;
        int empty = 1; /* POINT EMPTY: every coordinate NaN */
        for (int k = 0; k < h->dims && empty; ++k) empty = isnan(wkb_f64(p + 8 * k, h->little));
        return empty ? put(c, "[]", 2) : write_position(c, p, h);
    }
    if (h->base == 2) return write_positions(c, w, h);
    if (h->base == 3) {
        uint32_t rings;
        if (!wkb_count(c, w, h->little, 4, &rings) || !put_char(c, '[')) return 0;
        for (uint32_t k = 0; k < rings; ++k) {
            if ((k && !put_char(c, ',')) || !write_positions(c, w, h)) return 0;
        }
        return put_char(c, ']');
    }
    return write_geo_children(c, w, h, depth);
}

static int write_geojson(Ctx *c, const uint8_t *b, size_t len) {
    Wkb w = {b, len, 0};
    WkbHeader h;
    if (!wkb_header(c, &w, &h, 0, 0) || !put(c, GEO_TYPES[h.base], strlen(GEO_TYPES[h.base]))) return 0;
    const int ok = h.base == 7 ? put(c, "\"geometries\":", 13) && write_geo_children(c, &w, &h, 0)
                               : put(c, "\"coordinates\":", 14) && write_geo_coordinates(c, &w, &h, 0);
    if (!ok) return 0;
    if (w.at != w.len) return bad_geometry(c); /* bytes after the geometry */
    return put_char(c, '}');
}

/* WKT (--geometry wkt) as a JSON string: every dimension, M included; non-finite numbers
   as NaN, Infinity, -Infinity; empty geometries as EMPTY. Nothing in it needs escaping. */

static const char *const WKT_NAMES[8] = {
    NULL, "POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION",
};

static int write_wkt_number(Ctx *c, double v) {
    if (isnan(v)) return put(c, "NaN", 3);
    if (isinf(v)) return v > 0 ? put(c, "Infinity", 8) : put(c, "-Infinity", 9);
    return write_f64(c, v);
}

static int write_wkt_point(Ctx *c, const uint8_t *p, const WkbHeader *h) {
    for (int k = 0; k < h->dims; ++k) {
        if ((k && !put_char(c, ' ')) || !write_wkt_number(c, wkb_f64(p + 8 * k, h->little))) return 0;
    }
    return 1;
}

static int write_wkt_tag(Ctx *c, const WkbHeader *h) {
    static const char *const DIMS[4] = {"", " Z", " M", " ZM"};
    const int has_m = h->dims - 2 - h->has_z;
    const char *dims = DIMS[h->has_z + 2 * has_m];
    return put(c, WKT_NAMES[h->base], strlen(WKT_NAMES[h->base])) && put(c, dims, strlen(dims)) && put_char(c, ' ');
}

/* "(x y, x y)" of a count of points read here; `empty_word`: EMPTY when there are none. */
static int write_wkt_points(Ctx *c, Wkb *w, const WkbHeader *h, int empty_word) {
    uint32_t n;
    const size_t stride = 8 * (size_t)h->dims;
    if (!wkb_count(c, w, h->little, stride, &n)) return 0;
    if (n == 0 && empty_word) return put(c, "EMPTY", 5);
    if (!put_char(c, '(')) return 0;
    for (uint32_t k = 0; k < n; ++k) {
        if ((k && !put(c, ", ", 2)) || !write_wkt_point(c, w->b + w->at + k * stride, h)) return 0;
    }
    w->at += n * stride;
    return put_char(c, ')');
}

static int write_wkt_body(Ctx *c, Wkb *w, const WkbHeader *h, int depth) {
    static const int CHILD[8] = {0, 0, 0, 0, 1, 2, 3, 0};
    if (h->base == 1) {
        const size_t size = 8 * (size_t)h->dims;
        if (w->len - w->at < size) return bad_geometry(c);
        const uint8_t *p = w->b + w->at;
        w->at += size;
        int empty = 1;
        for (int k = 0; k < h->dims && empty; ++k) empty = isnan(wkb_f64(p + 8 * k, h->little));
        return empty ? put(c, "EMPTY", 5) : put_char(c, '(') && write_wkt_point(c, p, h) && put_char(c, ')');
    }
    if (h->base == 2) return write_wkt_points(c, w, h, 1);
    uint32_t n;
    if (!wkb_count(c, w, h->little, h->base == 3 ? 4 : 5, &n)) return 0;
    if (n == 0) return put(c, "EMPTY", 5);
    if (!put_char(c, '(')) return 0;
    for (uint32_t k = 0; k < n; ++k) {
        if (k && !put(c, ", ", 2)) return 0;
        if (h->base == 3) {
            if (!write_wkt_points(c, w, h, 0)) return 0;
            continue;
        }
        WkbHeader child;
        if (!wkb_header(c, w, &child, depth + 1, CHILD[h->base])) return 0;
        if (h->base == 7 && !write_wkt_tag(c, &child)) return 0;
        if (!write_wkt_body(c, w, &child, depth + 1)) return 0;
    }
    return put_char(c, ')');
}

static int write_wkt(Ctx *c, const uint8_t *b, size_t len) {
    Wkb w = {b, len, 0};
    WkbHeader h;
    if (!put_char(c, '"') || !wkb_header(c, &w, &h, 0, 0) || !write_wkt_tag(c, &h) || !write_wkt_body(c, &w, &h, 0))
        return 0;
    if (w.at != w.len) return bad_geometry(c); /* bytes after the geometry */
    return put_char(c, '"');
}

/* ---- VARIANT -------------------------------------------------------------------------- */

/* An unshredded VARIANT (Parquet's VariantEncoding.md): the same text as
   etl_lib/contract/variant.py, which stays the reference. Anything it might refuse (a
   malformed value, an unknown type, a TIME outside the day, a string that is not UTF-8)
   raises ERR_INVALID_VARIANT (or the string's or the time's error) and hands the batch to
   the reference path, which refuses it with the column and the row, or writes it. */

typedef struct {
    int offset_size;
    uint64_t count;
    const uint8_t *offsets;
    const uint8_t *names;
    size_t names_len;
} VariantMeta;

static inline uint64_t read_le(const uint8_t *p, int size) {
    uint64_t v = 0;
    for (int k = 0; k < size; ++k) v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static int bad_variant(Ctx *c) {
    c->error = ERR_INVALID_VARIANT;
    return 0;
}

static int variant_meta(Ctx *c, VariantMeta *m, const uint8_t *b, size_t len) {
    if (len < 1 || (b[0] & 0x0F) != 1) return bad_variant(c);
    const int size = (b[0] >> 6) + 1;
    if (len < 1 + (size_t)size) return bad_variant(c);
    const uint64_t count = read_le(b + 1, size);
    if (count > len) return bad_variant(c);
    const size_t start = 1 + (size_t)size * (size_t)(count + 2);
    if (start > len) return bad_variant(c);
    m->offset_size = size;
    m->count = count;
    m->offsets = b + 1 + size;
    m->names = b + start;
    m->names_len = len - start;
    uint64_t previous = read_le(m->offsets, size);
    for (uint64_t k = 1; k <= count; ++k) {
        const uint64_t offset = read_le(m->offsets + k * (uint64_t)size, size);
        if (offset < previous || offset > m->names_len) return bad_variant(c);
        previous = offset;
    }
    if (previous > m->names_len) return bad_variant(c);
    /* Every name must be UTF-8 (the reference decodes them all). */
    for (size_t i = 0; i < m->names_len;) {
        if (m->names[i] < 0x80) {
            ++i;
            continue;
        }
        const int n = utf8_sequence(m->names + i, m->names_len - i);
        if (!n) return bad_variant(c);
        i += (size_t)n;
    }
    return 1;
}

static int write_variant_value(Ctx *c, const VariantMeta *m, const uint8_t *b, size_t len, size_t at, int depth);

static int write_variant_primitive(Ctx *c, int type, const uint8_t *p, size_t left) {
    static const int8_t WIDTH[21] = {0, 0, 0, 1, 2, 4, 8, 8, 5, 9, 17, 4, 8, 8, 4, 4, 4, 8, 8, 8, 16};
    if (type > 20 || left < (size_t)WIDTH[type]) return bad_variant(c);
    switch (type) {
        case 0: return put(c, "null", 4);
        case 1: return put(c, "true", 4);
        case 2: return put(c, "false", 5);
        case 3: return write_i64(c, (int8_t)p[0], 0);
        case 4: return write_i64(c, (int16_t)read_le(p, 2), 0);
        case 5: return write_i64(c, (int32_t)read_le(p, 4), 0);
        case 6: return write_i64(c, (int64_t)read_le(p, 8), (c->flags & F_BIGINT_AS_STRING) != 0);
        case 7: {
            double v;
            memcpy(&v, p, 8);
            return write_f64(c, v);
        }
        case 8: case 9: case 10: {
            if (p[0] > 38) return bad_variant(c);
            uint64_t le[2];
            if (type == 10) {
                memcpy(le, p + 1, 16);
            } else {
                le[0] = type == 8 ? (uint64_t)(int64_t)(int32_t)read_le(p + 1, 4) : read_le(p + 1, 8);
            }
            return write_decimal_le(c, le, type == 10 ? 2 : 1, p[0]);
        }
        case 11: return write_date(c, (int32_t)read_le(p, 4));
        case 12: case 13: return write_timestamp(c, (int64_t)read_le(p, 8), 2, type == 12);
        case 14: {
            float v;
            memcpy(&v, p, 4);
            return write_f32(c, v);
        }
        case 15: case 16: {
            const uint64_t n = read_le(p, 4);
            if (n > left - 4) return bad_variant(c);
            return type == 15 ? write_base64(c, p + 4, n) : write_string(c, p + 4, n);
        }
        case 17: return write_time(c, (int64_t)read_le(p, 8), 2);
        case 18: case 19: return write_timestamp(c, (int64_t)read_le(p, 8), 3, type == 18);
        case 20: return write_uuid(c, p);
        default: return bad_variant(c);
    }
}

static int write_variant_object(Ctx *c, const VariantMeta *m, const uint8_t *b, size_t len, size_t at, int depth) {
    const int info = b[at] >> 2;
    const int offset_size = (info & 3) + 1, id_size = ((info >> 2) & 3) + 1, count_size = info & 0x10 ? 4 : 1;
    if (at + 1 + (size_t)count_size > len) return bad_variant(c);
    const uint64_t count = read_le(b + at + 1, count_size);
    const size_t ids = at + 1 + (size_t)count_size;
    if (count > len) return bad_variant(c);
    const size_t offsets = ids + (size_t)count * (size_t)id_size;
    const size_t data = offsets + (size_t)(count + 1) * (size_t)offset_size;
    if (data > len) return bad_variant(c);
    if (!put_char(c, '{')) return 0;
    for (uint64_t k = 0; k < count; ++k) {
        const uint64_t id = read_le(b + ids + k * (uint64_t)id_size, id_size);
        if (id >= m->count) return bad_variant(c);
        const uint64_t from = read_le(m->offsets + id * (uint64_t)m->offset_size, m->offset_size);
        const uint64_t to = read_le(m->offsets + (id + 1) * (uint64_t)m->offset_size, m->offset_size);
        const uint64_t offset = read_le(b + offsets + k * (uint64_t)offset_size, offset_size);
        if ((k && !put_char(c, ',')) || !write_string(c, m->names + from, to - from) || !put_char(c, ':')) return 0;
        if (offset >= len - data || !write_variant_value(c, m, b, len, data + offset, depth + 1)) {
            return c->error ? 0 : bad_variant(c);
        }
    }
    return put_char(c, '}');
}

static int write_variant_array(Ctx *c, const VariantMeta *m, const uint8_t *b, size_t len, size_t at, int depth) {
    const int info = b[at] >> 2;
    const int offset_size = (info & 3) + 1, count_size = info & 0x04 ? 4 : 1;
    if (at + 1 + (size_t)count_size > len) return bad_variant(c);
    const uint64_t count = read_le(b + at + 1, count_size);
    if (count > len) return bad_variant(c);
    const size_t offsets = at + 1 + (size_t)count_size;
    const size_t data = offsets + (size_t)(count + 1) * (size_t)offset_size;
    if (data > len) return bad_variant(c);
    if (!put_char(c, '[')) return 0;
    for (uint64_t k = 0; k < count; ++k) {
        const uint64_t offset = read_le(b + offsets + k * (uint64_t)offset_size, offset_size);
        if (k && !put_char(c, ',')) return 0;
        if (offset >= len - data || !write_variant_value(c, m, b, len, data + offset, depth + 1)) {
            return c->error ? 0 : bad_variant(c);
        }
    }
    return put_char(c, ']');
}

static int write_variant_value(Ctx *c, const VariantMeta *m, const uint8_t *b, size_t len, size_t at, int depth) {
    if (depth > 64 || at >= len) return bad_variant(c);
    const int basic = b[at] & 3, info = b[at] >> 2;
    switch (basic) {
        case 0: return write_variant_primitive(c, info, b + at + 1, len - at - 1);
        case 1:
            if ((size_t)info > len - at - 1) return bad_variant(c);
            return write_string(c, b + at + 1, (size_t)info);
        case 2: return write_variant_object(c, m, b, len, at, depth);
        default: return write_variant_array(c, m, b, len, at, depth);
    }
}

/* ---- Values ------------------------------------------------------------------------- */

static inline int bit(const uint8_t *bits, int64_t i) { return (bits[i >> 3] >> (i & 7)) & 1; }

static inline int64_t dict_index(const Node *n, int64_t i) {
    const int64_t j = n->offset + i;
    switch (n->width) {
        case 8: return n->index_signed ? (int64_t)((const int8_t *)n->b1)[j] : (int64_t)n->b1[j];
        case 16: return n->index_signed ? (int64_t)((const int16_t *)n->b1)[j] : (int64_t)((const uint16_t *)n->b1)[j];
        case 32: return n->index_signed ? (int64_t)((const int32_t *)n->b1)[j] : (int64_t)((const uint32_t *)n->b1)[j];
        default: return ((const int64_t *)n->b1)[j];
    }
}

static int is_null_slow(const Node *n, int64_t i);

static inline int is_null(const Node *n, int64_t i) {
    if (!n->may_null) return 0;
    if (n->validity && !bit(n->validity, n->offset + i)) return 1;
    return n->indirect_nulls ? is_null_slow(n, i) : 0;
}

static int is_null_slow(const Node *n, int64_t i) {
    if (n->kind == K_NULL) return 1;
    return n->kind == K_DICT ? is_null(n->dict, dict_index(n, i)) : 0;
}

/* The JSON of element i (not null) of node n. */
static inline int write_value(Ctx *c, const Node *n, int64_t i) { return n->write(c, n, i); }

static inline int write_item(Ctx *c, const Node *n, int64_t i) {
    return is_null(n, i) ? put(c, "null", 4) : write_value(c, n, i);
}

/* Bytes of element j (physical) of a view array (string_view / binary_view). */
static inline const uint8_t *view_bytes(const Node *n, int64_t j, size_t *len) {
    const uint8_t *view = n->b1 + 16 * j;
    int32_t length;
    memcpy(&length, view, 4);
    *len = (size_t)length;
    if (length <= 12) return view + 4;
    int32_t index, offset;
    memcpy(&index, view + 8, 4);
    memcpy(&offset, view + 12, 4);
    return n->variadic[index] + offset;
}

static inline const uint8_t *var_bytes(const Node *n, int64_t i, size_t *len) {
    const int64_t j = n->offset + i;
    switch (n->kind) {
        case K_STRING: case K_BINARY: case K_ISO_TEXT: case K_RAW_JSON: {
            const int32_t *o = (const int32_t *)n->b1;
            *len = (size_t)(o[j + 1] - o[j]);
            return n->b2 + o[j];
        }
        case K_LARGE_STRING: case K_LARGE_BINARY: {
            const int64_t *o = (const int64_t *)n->b1;
            *len = (size_t)(o[j + 1] - o[j]);
            return n->b2 + o[j];
        }
        case K_FIXED_BINARY:
            *len = (size_t)n->width;
            return n->b1 + (size_t)n->width * (size_t)j;
        default:
            return view_bytes(n, j, len);
    }
}

/* Items [start, end) of child `items` as a JSON array. */
static int write_items(Ctx *c, const Node *items, int64_t start, int64_t end) {
    if (!put_char(c, '[')) return 0;
    for (int64_t k = start; k < end; ++k) {
        if (k > start && !put_char(c, ',')) return 0;
        if (!write_item(c, items, k)) return 0;
    }
    return put_char(c, ']');
}

/* A map key: JSON object keys are strings, so a key whose text is not a string (a
   number, true, an object...) is written as the string of that text. */
static int write_map_key(Ctx *c, const Node *keys, int64_t k) {
    const size_t at = c->out.len;
    if (!write_item(c, keys, k)) return 0;
    if (c->out.buf[at] == '"') return 1;
    const size_t n = c->out.len - at;
    if (n > c->scratch_cap) {
        char *s = realloc(c->scratch, n);
        if (!s) {
            c->error = ERR_NOMEM;
            return 0;
        }
        c->scratch = s;
        c->scratch_cap = n;
    }
    memcpy(c->scratch, c->out.buf + at, n);
    c->out.len = at;
    return write_string(c, (const uint8_t *)c->scratch, n);
}

static int write_map(Ctx *c, const Node *n, int64_t j) {
    const int32_t *o = (const int32_t *)n->b1;
    const Node *entries = n->children[0];
    const Node *keys = entries->children[0], *values = entries->children[1];
    if (!put_char(c, '{')) return 0;
    for (int64_t k = o[j]; k < o[j + 1]; ++k) {
        const int64_t e = entries->offset + k; /* entries' own index space */
        if (k > o[j] && !put_char(c, ',')) return 0;
        if (!write_map_key(c, keys, e) || !put_char(c, ':') || !write_item(c, values, e)) return 0;
    }
    return put_char(c, '}');
}

/* Members of an object: every child at (its logical) index i, nulls written or omitted. */
static int write_members(Ctx *c, const Node *n, int64_t i) {
    const int drop = (c->flags & F_DROP_NULLS) != 0;
    int first = 1;
    for (int64_t f = 0; f < n->n_children; ++f) {
        const Node *child = n->children[f];
        const int null = is_null(child, i);
        if (null && drop) continue;
        /* The key with its comma, or without it for the first member written. */
        const size_t key_len = n->key_lens[f] - (size_t)first;
        const char *key = n->keys[f] + first;
        char *p = reserve(c, key_len + KEY_PADDING);
        if (!p) return 0;
        /* Keys are short: copy whole 16-byte blocks (both sides have the room) rather
           than call memcpy for every member of every record; most take just the first. */
        memcpy(p, key, 16);
        for (size_t k = 16; k < key_len; k += 16) memcpy(p + k, key + k, 16);
        c->out.len += key_len;
        first = 0;
        if (null ? !put(c, "null", 4) : !write_value(c, child, i)) return 0;
    }
    return 1;
}

/* ---- One writer per kind (Node.write) ----------------------------------------------- */

#define VALUE(type, n, j) (((const type *)(n)->b1)[j])

static int w_null(Ctx *c, const Node *n, int64_t i) { return put(c, "null", 4); }
static int w_bool(Ctx *c, const Node *n, int64_t i) {
    return bit(n->b1, n->offset + i) ? put(c, "true", 4) : put(c, "false", 5);
}
static int w_i8(Ctx *c, const Node *n, int64_t i) { return write_i64(c, VALUE(int8_t, n, n->offset + i), 0); }
static int w_u8(Ctx *c, const Node *n, int64_t i) { return write_u64(c, VALUE(uint8_t, n, n->offset + i), 0); }
static int w_i16(Ctx *c, const Node *n, int64_t i) { return write_i64(c, VALUE(int16_t, n, n->offset + i), 0); }
static int w_u16(Ctx *c, const Node *n, int64_t i) { return write_u64(c, VALUE(uint16_t, n, n->offset + i), 0); }
static int w_i32(Ctx *c, const Node *n, int64_t i) { return write_i64(c, VALUE(int32_t, n, n->offset + i), 0); }
static int w_u32(Ctx *c, const Node *n, int64_t i) { return write_u64(c, VALUE(uint32_t, n, n->offset + i), 0); }
static int w_i64(Ctx *c, const Node *n, int64_t i) {
    return write_i64(c, VALUE(int64_t, n, n->offset + i), c->flags & F_BIGINT_AS_STRING);
}
static int w_u64(Ctx *c, const Node *n, int64_t i) {
    return write_u64(c, VALUE(uint64_t, n, n->offset + i), c->flags & F_BIGINT_AS_STRING);
}
static int w_duration(Ctx *c, const Node *n, int64_t i) { return write_i64(c, VALUE(int64_t, n, n->offset + i), 0); }
static int w_f16(Ctx *c, const Node *n, int64_t i) { return write_f16(c, VALUE(uint16_t, n, n->offset + i)); }
static int w_f32(Ctx *c, const Node *n, int64_t i) { return write_f32(c, VALUE(float, n, n->offset + i)); }
static int w_f64(Ctx *c, const Node *n, int64_t i) { return write_f64(c, VALUE(double, n, n->offset + i)); }
static int w_decimal(Ctx *c, const Node *n, int64_t i) { return write_decimal(c, n, i); }
static int w_string(Ctx *c, const Node *n, int64_t i) {
    const int32_t *o = (const int32_t *)n->b1;
    const int64_t j = n->offset + i;
    return write_string(c, n->b2 + o[j], (size_t)(o[j + 1] - o[j]));
}
static int w_var_string(Ctx *c, const Node *n, int64_t i) {
    size_t len;
    const uint8_t *bytes = var_bytes(n, i, &len);
    return write_string(c, bytes, len);
}
static int w_binary(Ctx *c, const Node *n, int64_t i) {
    size_t len;
    const uint8_t *bytes = var_bytes(n, i, &len);
    return write_base64(c, bytes, len);
}
static int w_uuid(Ctx *c, const Node *n, int64_t i) { return write_uuid(c, n->b1 + 16 * (n->offset + i)); }
static int w_iso_text(Ctx *c, const Node *n, int64_t i) { /* exact INT96 text made by etl_lib/input/int96.py: plain ASCII */
    size_t len;
    const uint8_t *bytes = var_bytes(n, i, &len);
    return put_char(c, '"') && put(c, (const char *)bytes, len) && put_char(c, '"');
}
/* JSON text made by etl_lib/contract/variant.py under this contract (a VARIANT's value): written as it is. */
static int w_raw_json(Ctx *c, const Node *n, int64_t i) {
    size_t len;
    const uint8_t *bytes = var_bytes(n, i, &len);
    return put(c, (const char *)bytes, len);
}
static int w_date32(Ctx *c, const Node *n, int64_t i) { return write_date(c, VALUE(int32_t, n, n->offset + i)); }
static int w_date64(Ctx *c, const Node *n, int64_t i) {
    return write_date(c, floor_div(VALUE(int64_t, n, n->offset + i), 86400000));
}
static int w_timestamp(Ctx *c, const Node *n, int64_t i) {
    return write_timestamp(c, VALUE(int64_t, n, n->offset + i), n->unit, n->utc);
}
static int w_time32(Ctx *c, const Node *n, int64_t i) { return write_time(c, VALUE(int32_t, n, n->offset + i), n->unit); }
static int w_time64(Ctx *c, const Node *n, int64_t i) { return write_time(c, VALUE(int64_t, n, n->offset + i), n->unit); }
static int w_list(Ctx *c, const Node *n, int64_t i) {
    const int32_t *o = (const int32_t *)n->b1;
    const int64_t j = n->offset + i;
    return write_items(c, n->children[0], o[j], o[j + 1]);
}
static int w_large_list(Ctx *c, const Node *n, int64_t i) {
    const int64_t *o = (const int64_t *)n->b1;
    const int64_t j = n->offset + i;
    return write_items(c, n->children[0], o[j], o[j + 1]);
}
static int w_fixed_list(Ctx *c, const Node *n, int64_t i) {
    const int64_t j = n->offset + i;
    return write_items(c, n->children[0], j * n->width, (j + 1) * n->width);
}
static int w_list_view(Ctx *c, const Node *n, int64_t i) {
    const int64_t j = n->offset + i;
    const int32_t start = ((const int32_t *)n->b1)[j], size = ((const int32_t *)n->b2)[j];
    return write_items(c, n->children[0], start, (int64_t)start + size);
}
static int w_large_list_view(Ctx *c, const Node *n, int64_t i) {
    const int64_t j = n->offset + i;
    const int64_t start = ((const int64_t *)n->b1)[j], size = ((const int64_t *)n->b2)[j];
    return write_items(c, n->children[0], start, start + size);
}
static int w_map(Ctx *c, const Node *n, int64_t i) { return write_map(c, n, n->offset + i); }
static int w_struct(Ctx *c, const Node *n, int64_t i) {
    return put_char(c, '{') && write_members(c, n, n->offset + i) && put_char(c, '}');
}
static int w_dict(Ctx *c, const Node *n, int64_t i) { return write_value(c, n->dict, dict_index(n, i)); }
static int w_variant(Ctx *c, const Node *n, int64_t i) {
    const int64_t j = n->offset + i;
    const Node *metadata = n->children[n->variant_metadata], *value = n->children[n->variant_value];
    if (is_null(value, j)) return put(c, "null", 4); /* a missing value reads as a variant null */
    if (is_null(metadata, j)) return bad_variant(c);
    size_t meta_len, len;
    const uint8_t *meta_bytes = var_bytes(metadata, j, &meta_len);
    const uint8_t *bytes = var_bytes(value, j, &len);
    VariantMeta m;
    return variant_meta(c, &m, meta_bytes, meta_len) && write_variant_value(c, &m, bytes, len, 0, 0);
}

/* A WKB geometry column (etl.geometry): GeoJSON, WKT with --geometry wkt, or with
   --geometry wkb its bytes in base64 once they parse (the GeoJSON written to check them is
   taken back). */
static int w_geometry(Ctx *c, const Node *n, int64_t i) {
    size_t len;
    const uint8_t *bytes = var_bytes(n, i, &len);
    if (c->flags & F_GEOMETRY_WKT) return write_wkt(c, bytes, len);
    const size_t start = c->out.len;
    if (!write_geojson(c, bytes, len)) return 0;
    if (!(c->flags & F_GEOMETRY_WKB)) return 1;
    c->out.len = start;
    return write_base64(c, bytes, len);
}

#undef VALUE

/* Indexed by Kind (the designated initialisers keep the two in step). */
static const WriteFn WRITERS[] = {
    [K_NULL] = w_null, [K_BOOL] = w_bool, [K_I8] = w_i8, [K_U8] = w_u8, [K_I16] = w_i16, [K_U16] = w_u16,
    [K_I32] = w_i32, [K_U32] = w_u32, [K_I64] = w_i64, [K_U64] = w_u64, [K_F16] = w_f16, [K_F32] = w_f32,
    [K_F64] = w_f64, [K_DECIMAL] = w_decimal, [K_STRING] = w_string, [K_LARGE_STRING] = w_var_string,
    [K_STRING_VIEW] = w_var_string, [K_BINARY] = w_binary, [K_LARGE_BINARY] = w_binary,
    [K_BINARY_VIEW] = w_binary, [K_FIXED_BINARY] = w_binary, [K_UUID] = w_uuid, [K_ISO_TEXT] = w_iso_text,
    [K_RAW_JSON] = w_raw_json,
    [K_DATE32] = w_date32, [K_DATE64] = w_date64, [K_TIMESTAMP] = w_timestamp, [K_TIME32] = w_time32,
    [K_TIME64] = w_time64, [K_DURATION] = w_duration, [K_LIST] = w_list, [K_LARGE_LIST] = w_large_list,
    [K_FIXED_LIST] = w_fixed_list, [K_LIST_VIEW] = w_list_view, [K_LARGE_LIST_VIEW] = w_large_list_view,
    [K_MAP] = w_map, [K_STRUCT] = w_struct, [K_DICT] = w_dict, [K_VARIANT] = w_variant,
};

/* ---- Building the tree from the C data interface ------------------------------------ */

typedef struct {
    Node *nodes;
    size_t used, cap;
    int error;
} Arena;

static void free_node(Node *n) {
    if (!n) return;
    for (int64_t k = 0; k < n->n_children; ++k) free_node(n->children[k]);
    if (n->keys) {
        for (int64_t k = 0; k < n->n_children; ++k) free(n->keys[k]);
    }
    free(n->keys);
    free(n->key_lens);
    free(n->children);
    free_node(n->dict);
    free(n);
}

/* The value of `key` in the schema's metadata (int32 count, then length-prefixed key
   and value strings), or NULL. */
static const char *metadata_value(const char *metadata, const char *key, int32_t *value_len) {
    if (!metadata) return NULL;
    const char *p = metadata;
    int32_t count, len;
    memcpy(&count, p, 4);
    p += 4;
    const size_t key_len = strlen(key);
    for (int32_t k = 0; k < count; ++k) {
        memcpy(&len, p, 4);
        p += 4;
        const int match = (size_t)len == key_len && memcmp(p, key, key_len) == 0;
        p += len;
        memcpy(&len, p, 4);
        p += 4;
        if (match) {
            *value_len = len;
            return p;
        }
        p += len;
    }
    return NULL;
}

static int time_unit(char u) {
    switch (u) {
        case 's': return 0;
        case 'm': return 1;
        case 'u': return 2;
        case 'n': return 3;
    }
    return -1;
}

/* The text ,"name": of a struct field (its comma is skipped for an object's first member). */
static int make_key(Node *n, int64_t f, const char *name) {
    Ctx tmp;
    memset(&tmp, 0, sizeof tmp);
    if (!put_char(&tmp, ',') || !write_string(&tmp, (const uint8_t *)name, strlen(name)) || !put_char(&tmp, ':')) {
        free(tmp.out.buf);
        return tmp.error == ERR_INVALID_UTF8 ? ERR_UNSUPPORTED : ERR_NOMEM;
    }
    /* padded: write_members copies keys in 16-byte blocks */
    char *padded = reserve(&tmp, KEY_PADDING) ? tmp.out.buf : NULL;
    if (!padded) {
        free(tmp.out.buf);
        return ERR_NOMEM;
    }
    n->keys[f] = padded;
    n->key_lens[f] = tmp.out.len;
    return ERR_NONE;
}

static Node *build(const struct ArrowSchema *s, const struct ArrowArray *a, int *error);

static int build_children(Node *n, const struct ArrowSchema *s, const struct ArrowArray *a, int *error) {
    if (s->n_children != a->n_children) {
        *error = ERR_UNSUPPORTED;
        return 0;
    }
    n->n_children = a->n_children;
    n->children = calloc((size_t)(a->n_children ? a->n_children : 1), sizeof(Node *));
    if (!n->children) {
        *error = ERR_NOMEM;
        return 0;
    }
    for (int64_t k = 0; k < a->n_children; ++k) {
        n->children[k] = build(s->children[k], a->children[k], error);
        if (!n->children[k]) return 0;
    }
    return 1;
}

/* Kind and parameters from the format string; ERR_UNSUPPORTED for anything else. */
static int parse_format(Node *n, const char *f, const struct ArrowSchema *s) {
    if (f[0] && !f[1]) {
        switch (f[0]) {
            case 'n': n->kind = K_NULL; return ERR_NONE;
            case 'b': n->kind = K_BOOL; return ERR_NONE;
            case 'c': n->kind = K_I8; return ERR_NONE;
            case 'C': n->kind = K_U8; return ERR_NONE;
            case 's': n->kind = K_I16; return ERR_NONE;
            case 'S': n->kind = K_U16; return ERR_NONE;
            case 'i': n->kind = K_I32; return ERR_NONE;
            case 'I': n->kind = K_U32; return ERR_NONE;
            case 'l': n->kind = K_I64; return ERR_NONE;
            case 'L': n->kind = K_U64; return ERR_NONE;
            case 'e': n->kind = K_F16; return ERR_NONE;
            case 'f': n->kind = K_F32; return ERR_NONE;
            case 'g': n->kind = K_F64; return ERR_NONE;
            case 'u': n->kind = K_STRING; return ERR_NONE;
            case 'U': n->kind = K_LARGE_STRING; return ERR_NONE;
            case 'z': n->kind = K_BINARY; return ERR_NONE;
            case 'Z': n->kind = K_LARGE_BINARY; return ERR_NONE;
        }
        return ERR_UNSUPPORTED;
    }
    if (!strcmp(f, "vu")) { n->kind = K_STRING_VIEW; return ERR_NONE; }
    if (!strcmp(f, "vz")) { n->kind = K_BINARY_VIEW; return ERR_NONE; }
    if (!strncmp(f, "w:", 2)) {
        n->kind = K_FIXED_BINARY;
        n->width = atoi(f + 2);
        return ERR_NONE;
    }
    if (!strncmp(f, "d:", 2)) {
        int precision = 0, scale = 0, bits = 128;
        if (sscanf(f + 2, "%d,%d,%d", &precision, &scale, &bits) < 2) return ERR_UNSUPPORTED;
        if (bits != 32 && bits != 64 && bits != 128 && bits != 256) return ERR_UNSUPPORTED;
        n->kind = K_DECIMAL;
        n->scale = scale;
        n->width = bits;
        return ERR_NONE;
    }
    if (!strcmp(f, "tdD")) { n->kind = K_DATE32; return ERR_NONE; }
    if (!strcmp(f, "tdm")) { n->kind = K_DATE64; return ERR_NONE; }
    if (f[0] == 't' && (f[1] == 't' || f[1] == 's' || f[1] == 'D') && time_unit(f[2]) >= 0) {
        n->unit = time_unit(f[2]);
        if (f[1] == 't') {
            if (f[3]) return ERR_UNSUPPORTED;
            n->kind = n->unit <= 1 ? K_TIME32 : K_TIME64;
        } else if (f[1] == 's') {
            if (f[3] != ':') return ERR_UNSUPPORTED;
            n->kind = K_TIMESTAMP;
            n->utc = f[4] != 0; /* any zone: the count is the UTC instant */
        } else {
            if (f[3]) return ERR_UNSUPPORTED;
            n->kind = K_DURATION;
        }
        return ERR_NONE;
    }
    if (!strcmp(f, "+l")) { n->kind = K_LIST; return ERR_NONE; }
    if (!strcmp(f, "+L")) { n->kind = K_LARGE_LIST; return ERR_NONE; }
    if (!strcmp(f, "+vl")) { n->kind = K_LIST_VIEW; return ERR_NONE; }
    if (!strcmp(f, "+vL")) { n->kind = K_LARGE_LIST_VIEW; return ERR_NONE; }
    if (!strncmp(f, "+w:", 3)) {
        n->kind = K_FIXED_LIST;
        n->width = atoi(f + 3);
        return ERR_NONE;
    }
    if (!strcmp(f, "+m")) { n->kind = K_MAP; return ERR_NONE; }
    if (!strcmp(f, "+s")) { n->kind = K_STRUCT; return ERR_NONE; }
    (void)s;
    return ERR_UNSUPPORTED;
}

static int index_kind(Node *n, const char *f) {
    switch (f[0]) {
        case 'c': n->width = 8; n->index_signed = 1; break;
        case 'C': n->width = 8; break;
        case 's': n->width = 16; n->index_signed = 1; break;
        case 'S': n->width = 16; break;
        case 'i': n->width = 32; n->index_signed = 1; break;
        case 'I': n->width = 32; break;
        case 'l': case 'L': n->width = 64; n->index_signed = 1; break;
        default: return ERR_UNSUPPORTED;
    }
    return f[1] ? ERR_UNSUPPORTED : ERR_NONE;
}

/* Which buffers each kind reads: [validity, b1, b2] (views: + variadic). */
static int take_buffers(Node *n, const struct ArrowArray *a) {
    const int64_t nb = a->n_buffers;
    n->validity = nb > 0 && a->null_count != 0 ? a->buffers[0] : NULL;
    switch (n->kind) {
        case K_NULL: return ERR_NONE;
        case K_STRUCT: return ERR_NONE;
        case K_FIXED_LIST: return ERR_NONE;
        case K_STRING_VIEW: case K_BINARY_VIEW:
            if (nb < 3) return ERR_UNSUPPORTED;
            n->b1 = a->buffers[1];
            n->n_variadic = nb - 3; /* the last buffer holds the variadic buffers' sizes */
            n->variadic = (const uint8_t *const *)(a->buffers + 2);
            return ERR_NONE;
        case K_STRING: case K_LARGE_STRING: case K_BINARY: case K_LARGE_BINARY: case K_ISO_TEXT: case K_RAW_JSON:
        case K_LIST_VIEW: case K_LARGE_LIST_VIEW:
            if (nb < 3) return ERR_UNSUPPORTED;
            n->b1 = a->buffers[1];
            n->b2 = a->buffers[2];
            return ERR_NONE;
        default:
            if (nb < 2) return ERR_UNSUPPORTED;
            n->b1 = a->buffers[1];
            return ERR_NONE;
    }
}

/* An unshredded VARIANT (a struct of exactly a metadata and a value binary) becomes a
   K_VARIANT node; a shredded one (with typed_value) is rendered by the reference. */
static int variant_node(Node *n, const struct ArrowSchema *s) {
    if (n->kind != K_STRUCT || n->n_children != 2) return ERR_UNSUPPORTED;
    n->variant_metadata = n->variant_value = -1;
    for (int k = 0; k < 2; ++k) {
        const char *name = s->children[k]->name ? s->children[k]->name : "";
        const Kind kind = n->children[k]->kind;
        if (kind != K_BINARY && kind != K_LARGE_BINARY && kind != K_BINARY_VIEW) return ERR_UNSUPPORTED;
        if (!strcmp(name, "metadata")) n->variant_metadata = k;
        if (!strcmp(name, "value")) n->variant_value = k;
    }
    if (n->variant_metadata < 0 || n->variant_value < 0) return ERR_UNSUPPORTED;
    n->kind = K_VARIANT;
    return ERR_NONE;
}

static Node *build(const struct ArrowSchema *s, const struct ArrowArray *a, int *error) {
    Node *n = calloc(1, sizeof(Node));
    if (!n) {
        *error = ERR_NOMEM;
        return NULL;
    }
    n->length = a->length;
    n->offset = a->offset;
    int32_t ext_len = 0;
    const char *ext = metadata_value(s->metadata, "ARROW:extension:name", &ext_len);
    int err, is_variant = 0, is_geometry = 0;
    if (s->dictionary) {
        n->kind = K_DICT;
        err = index_kind(n, s->format);
        if (err == ERR_NONE && (!a->dictionary || a->n_buffers < 2)) err = ERR_UNSUPPORTED;
        if (err == ERR_NONE) {
            n->validity = a->null_count != 0 ? a->buffers[0] : NULL;
            n->b1 = a->buffers[1];
            n->dict = build(s->dictionary, a->dictionary, error);
            if (!n->dict) goto fail;
            /* Indices are read without bounds checks while writing: one that points outside
               the dictionary sends the batch to the reference path instead. */
            for (int64_t i = 0; i < n->length && err == ERR_NONE; ++i) {
                if (n->validity && !bit(n->validity, n->offset + i)) continue;
                const int64_t k = dict_index(n, i);
                if (k < 0 || k >= n->dict->length) err = ERR_UNSUPPORTED;
            }
        }
    } else {
        err = parse_format(n, s->format, s);
        if (err == ERR_NONE && ext) {
            if (ext_len == 10 && !memcmp(ext, "arrow.uuid", 10)) {
                if (n->kind != K_FIXED_BINARY || n->width != 16) err = ERR_UNSUPPORTED;
                n->kind = K_UUID;
            } else if (ext_len == 17 && !memcmp(ext, "etl.iso_timestamp", 17)) {
                if (n->kind != K_STRING) err = ERR_UNSUPPORTED;
                n->kind = K_ISO_TEXT;
            } else if (ext_len == 8 && !memcmp(ext, "etl.json", 8)) {
                if (n->kind != K_STRING) err = ERR_UNSUPPORTED;
                n->kind = K_RAW_JSON;
            } else if (ext_len == 11 && !memcmp(ext, "etl.variant", 11)) {
                is_variant = 1; /* checked once its children are built */
            } else if (ext_len == 12 && !memcmp(ext, "etl.geometry", 12)) {
                if (n->kind != K_BINARY && n->kind != K_LARGE_BINARY && n->kind != K_BINARY_VIEW) err = ERR_UNSUPPORTED;
                is_geometry = 1;
            } /* other extensions (JSON, opaque...) are their storage */
        }
        if (err == ERR_NONE) err = take_buffers(n, a);
        if (err == ERR_NONE && n->kind >= K_LIST && n->kind <= K_STRUCT) {
            if (!build_children(n, s, a, error)) goto fail;
            const int want = n->kind == K_STRUCT ? -1 : 1;
            if (want == 1 && n->n_children != 1) err = ERR_UNSUPPORTED;
            if (n->kind == K_MAP && err == ERR_NONE &&
                (n->children[0]->kind != K_STRUCT || n->children[0]->n_children != 2))
                err = ERR_UNSUPPORTED;
            if (n->kind == K_STRUCT && err == ERR_NONE) {
                n->keys = calloc((size_t)(n->n_children ? n->n_children : 1), sizeof(char *));
                n->key_lens = calloc((size_t)(n->n_children ? n->n_children : 1), sizeof(size_t));
                if (!n->keys || !n->key_lens) err = ERR_NOMEM;
                for (int64_t f = 0; f < n->n_children && err == ERR_NONE; ++f) {
                    err = make_key(n, f, s->children[f]->name ? s->children[f]->name : "");
                }
            }
        }
    }
    if (err == ERR_NONE && is_variant) err = variant_node(n, s);
    if (err != ERR_NONE) {
        *error = err;
        goto fail;
    }
    n->indirect_nulls = n->kind == K_NULL || n->kind == K_DICT;
    n->may_null = n->validity != NULL || n->indirect_nulls;
    n->write = is_geometry ? w_geometry : WRITERS[n->kind];
    return n;
fail:
    free_node(n);
    return NULL;
}

static int tree_has(const Node *n, Kind kind) {
    if (n->kind == kind) return 1;
    for (int64_t k = 0; k < n->n_children; ++k) {
        if (tree_has(n->children[k], kind)) return 1;
    }
    return n->dict ? tree_has(n->dict, kind) : 0;
}

/* ---- The kernel --------------------------------------------------------------------- */

typedef struct {
    int64_t *offsets; /* rows + 1 */
    uint8_t *validity; /* MODE_VALUES: one bit per value */
    int64_t null_count;
} Result;

/* One record per row of the struct `root` (a record batch), each followed by the
   terminator. Runs without the GIL. */
static void encode_lines(Ctx *c, const Node *root, const char *term, size_t term_len, Result *r) {
    r->offsets[0] = 0;
    for (int64_t i = 0; i < root->length; ++i) {
        c->row = i;
        const int64_t j = root->offset + i;
        /* (The usual one-byte terminator without a memcpy call per row.) */
        if (!put_char(c, '{') || !write_members(c, root, j) || !put_char(c, '}') ||
            !(term_len == 1 ? put_char(c, term[0]) : put(c, term, term_len))) {
            c->error_row = i;
            return;
        }
        r->offsets[i + 1] = (int64_t)c->out.len;
    }
}

/* The JSON text of each value of `n`, null where the value is null. */
static void encode_values(Ctx *c, const Node *n, Result *r) {
    r->offsets[0] = 0;
    for (int64_t i = 0; i < n->length; ++i) {
        if (is_null(n, i)) {
            r->null_count++;
        } else {
            r->validity[i >> 3] |= (uint8_t)(1u << (i & 7));
            if (!write_value(c, n, i)) {
                c->error_row = i;
                return;
            }
        }
        r->offsets[i + 1] = (int64_t)c->out.len;
    }
}

/* ---- The output buffer object (zero-copy into pyarrow via the buffer protocol) ------ */

typedef struct {
    PyObject_HEAD
    char *data;
    Py_ssize_t size;
    size_t capacity; /* > 0: an output buffer that goes back to the pool */
} NativeBuffer;

/* Output buffers are reused: a fresh one costs a page fault and the kernel zeroing every
   page it touches, for each batch (a tenth of the encoder's time, and on a virtual machine
   whose host has reclaimed the free memory, about a millisecond per megabyte). The buffers
   of the batches that were written go back here, bounded in number and bytes: enough for
   the chunks encoded ahead of the writer, so the next ones reuse them. trim() empties the
   pool when a conversion ends. Only touched with the GIL held (taken before the kernel
   releases it; given back by deallocation). */
#define POOL_SLOTS 64
#define POOL_MAX_BYTES ((size_t)256 << 20)
static struct {
    char *buf;
    size_t cap;
} pool[POOL_SLOTS];
static size_t pool_bytes;

static void pool_take(Out *out, size_t want) {
    int best = -1; /* the smallest buffer that fits, else the largest */
    for (int k = 0; k < POOL_SLOTS; ++k) {
        if (!pool[k].buf) continue;
        if (best < 0) {
            best = k;
            continue;
        }
        const int k_fits = pool[k].cap >= want, best_fits = pool[best].cap >= want;
        if (k_fits ? (!best_fits || pool[k].cap < pool[best].cap) : (!best_fits && pool[k].cap > pool[best].cap))
            best = k;
    }
    if (best < 0) return;
    out->buf = pool[best].buf;
    out->cap = pool[best].cap;
    pool_bytes -= pool[best].cap;
    pool[best].buf = NULL;
}

static void pool_give(char *buf, size_t cap) {
    for (int k = 0; k < POOL_SLOTS && pool_bytes + cap <= POOL_MAX_BYTES; ++k) {
        if (!pool[k].buf) {
            pool[k].buf = buf;
            pool[k].cap = cap;
            pool_bytes += cap;
            return;
        }
    }
    free(buf);
}

static PyObject *py_trim(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    for (int k = 0; k < POOL_SLOTS; ++k) {
        free(pool[k].buf);
        pool[k].buf = NULL;
    }
    const size_t freed = pool_bytes;
    pool_bytes = 0;
    return PyLong_FromSize_t(freed);
}

static void NativeBuffer_dealloc(NativeBuffer *self) {
    if (self->capacity) {
        pool_give(self->data, self->capacity);
    } else {
        free(self->data);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int NativeBuffer_getbuffer(NativeBuffer *self, Py_buffer *view, int flags) {
    return PyBuffer_FillInfo(view, (PyObject *)self, self->data, self->size, 1, flags);
}

static PyBufferProcs NativeBuffer_as_buffer = {(getbufferproc)NativeBuffer_getbuffer, NULL};

static PyTypeObject NativeBufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "etl_lib.contract._native.encoder.NativeBuffer",
    .tp_basicsize = sizeof(NativeBuffer),
    .tp_dealloc = (destructor)NativeBuffer_dealloc,
    .tp_as_buffer = &NativeBuffer_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Bytes the encoder wrote, owned by this object (read-only buffer).",
};

/* Wrap (takes ownership of) malloc'ed memory; frees it on failure. */
static PyObject *wrap(void *data, size_t size) {
    NativeBuffer *b = PyObject_New(NativeBuffer, &NativeBufferType);
    if (!b) {
        free(data);
        return NULL;
    }
    b->data = data;
    b->size = (Py_ssize_t)size;
    b->capacity = 0;
    return (PyObject *)b;
}

/* Offsets as int32 when the text fits (a string array), else int64 (a large string). */
static PyObject *offsets_buffer(int64_t *offsets, int64_t rows, int *large) {
    *large = offsets[rows] > INT32_MAX;
    if (*large) return wrap(offsets, (size_t)(rows + 1) * 8);
    int32_t *narrow = (int32_t *)offsets; /* in place: each int32 slot precedes its source */
    for (int64_t k = 0; k <= rows; ++k) narrow[k] = (int32_t)offsets[k];
    return wrap(offsets, (size_t)(rows + 1) * 4);
}

static const char *ERROR_NAMES[] = {
    [ERR_NONE] = NULL,
    [ERR_UNSUPPORTED] = "unsupported",
    [ERR_NOMEM] = "memory",
    [ERR_INVALID_UTF8] = "invalid_utf8",
    [ERR_INVALID_TIME] = "invalid_time",
    [ERR_NEED_FLOAT16] = "need_float16",
    [ERR_INVALID_VARIANT] = "invalid_variant",
    [ERR_INVALID_GEOMETRY] = "invalid_geometry",
};

static size_t bytes_per_row_hint = 64;

static PyObject *py_encode(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *schema_capsule, *array_capsule;
    int mode, flags;
    const char *term;
    Py_ssize_t term_len;
    Py_buffer f16 = {0};
    if (!PyArg_ParseTuple(args, "OOiiy#y*", &schema_capsule, &array_capsule, &mode, &flags, &term, &term_len, &f16))
        return NULL;
    struct ArrowSchema *schema = PyCapsule_GetPointer(schema_capsule, "arrow_schema");
    struct ArrowArray *array = schema ? PyCapsule_GetPointer(array_capsule, "arrow_array") : NULL;
    if (!schema || !array) {
        PyBuffer_Release(&f16);
        return NULL;
    }
    int error = ERR_NONE;
    Node *root = build(schema, array, &error);
    if (root && mode == MODE_LINES && root->kind != K_STRUCT) error = ERR_UNSUPPORTED;
    if (root && tree_has(root, K_F16) && f16.len != 65536 * 16) error = ERR_NEED_FLOAT16;
    if (error != ERR_NONE) {
        free_node(root);
        PyBuffer_Release(&f16);
        if (error == ERR_NOMEM) return PyErr_NoMemory();
        return Py_BuildValue("(OOOni(sn))", Py_None, Py_None, Py_None, (Py_ssize_t)0, 0, ERROR_NAMES[error],
                             (Py_ssize_t)-1);
    }
    const int64_t rows = root->length;
    Ctx c;
    memset(&c, 0, sizeof c);
    c.flags = flags;
    c.f16_table = f16.buf;
    Result r = {0};
    r.offsets = malloc((size_t)(rows + 1) * 8);
    if (mode == MODE_VALUES) r.validity = calloc((size_t)(rows / 8 + 1), 1);
    if (!r.offsets || (mode == MODE_VALUES && !r.validity)) {
        free(r.offsets);
        free(r.validity);
        free_node(root);
        PyBuffer_Release(&f16);
        return PyErr_NoMemory();
    }
    /* Sized from the previous batch's bytes per row, so the buffer rarely grows (each
       growth may copy it); shared by threads as a hint only, hence relaxed atomics. */
    const size_t per_row = __atomic_load_n(&bytes_per_row_hint, __ATOMIC_RELAXED);
    const size_t estimate = (size_t)rows * (per_row + per_row / 8) + 4096;
    pool_take(&c.out, estimate);
    reserve(&c, estimate); /* the buffer always exists */
    Py_BEGIN_ALLOW_THREADS
    if (mode == MODE_LINES) {
        encode_lines(&c, root, term, (size_t)term_len, &r);
    } else {
        encode_values(&c, root, &r);
    }
    Py_END_ALLOW_THREADS
    free_node(root);
    PyBuffer_Release(&f16);
    free(c.scratch);
    if (c.error != ERR_NONE) {
        free(c.out.buf);
        free(r.offsets);
        free(r.validity);
        if (c.error == ERR_NOMEM) return PyErr_NoMemory();
        return Py_BuildValue("(OOOni(sn))", Py_None, Py_None, Py_None, (Py_ssize_t)0, 0, ERROR_NAMES[c.error],
                             (Py_ssize_t)c.error_row);
    }
    if (rows > 0 && mode == MODE_LINES) {
        __atomic_store_n(&bytes_per_row_hint, c.out.len / (size_t)rows + 1, __ATOMIC_RELAXED);
    }
    int large;
    PyObject *data = wrap(c.out.buf, c.out.len);
    if (data) ((NativeBuffer *)data)->capacity = c.out.cap;
    PyObject *offsets = offsets_buffer(r.offsets, rows, &large);
    PyObject *validity = r.validity ? wrap(r.validity, (size_t)(rows / 8 + 1)) : (Py_INCREF(Py_None), Py_None);
    if (!data || !offsets || !validity) {
        Py_XDECREF(data);
        Py_XDECREF(offsets);
        Py_XDECREF(validity);
        return NULL;
    }
    return Py_BuildValue("(NNNniO)", data, offsets, validity, (Py_ssize_t)r.null_count, large, Py_None);
}

static PyMethodDef METHODS[] = {
    {"encode", py_encode, METH_VARARGS,
     "encode(schema_capsule, array_capsule, mode, flags, terminator, float16_table) -> "
     "(data, offsets, validity, null_count, large_offsets, error)"},
    {"trim", py_trim, METH_NOARGS, "trim() -> bytes freed: free the output buffers kept for reuse"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "encoder", "The native JSON record encoder.", -1, METHODS, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_encoder(void) {
    if (PyType_Ready(&NativeBufferType) < 0) return NULL;
    PyObject *m = PyModule_Create(&MODULE);
    if (!m) return NULL;
    if (PyModule_AddIntConstant(m, "MODE_LINES", MODE_LINES) < 0 ||
        PyModule_AddIntConstant(m, "MODE_VALUES", MODE_VALUES) < 0 ||
        PyModule_AddIntConstant(m, "DROP_NULLS", F_DROP_NULLS) < 0 ||
        PyModule_AddIntConstant(m, "BIGINT_AS_STRING", F_BIGINT_AS_STRING) < 0 ||
        PyModule_AddIntConstant(m, "DECIMAL_AS_STRING", F_DECIMAL_AS_STRING) < 0 ||
        PyModule_AddIntConstant(m, "NAN_AS_STRING", F_NAN_AS_STRING) < 0 ||
        PyModule_AddIntConstant(m, "GEOMETRY_WKB", F_GEOMETRY_WKB) < 0 ||
        PyModule_AddIntConstant(m, "GEOMETRY_WKT", F_GEOMETRY_WKT) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
