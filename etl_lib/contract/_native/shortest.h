/* Shortest round-trip decimal digits of binary floating-point values.
 *
 * Why hand-written: the JSON contract needs, for float64 and float32 alike, the shortest
 * decimal text that reads back as the same value at the column's own width (and, among
 * the shortest, the one closest to the value), byte for byte what the reference path
 * (Arrow's cast, i.e. double-conversion's ToShortest/ToShortestSingle) prints. No C
 * library on the target (glibc's printf has no shortest mode) does that, and the
 * proven algorithms are small.
 *
 * The encoder uses Schubfach (below). tests/contract/native/shortest_ryu.h keeps the Ryu implementation the
 * encoder used first, as the oracle that tests/contract/native/shortest_check.c compares it with.
 */
#ifndef ETL_SHORTEST_H
#define ETL_SHORTEST_H

#include <stdint.h>

#include "shortest_tables.h"

typedef struct {
    uint64_t digits; /* the significant decimal digits, no trailing zero unless the value is 0 */
    int32_t exponent; /* value = digits * 10**exponent */
} Decimal10;

/* ---- Schubfach --------------------------------------------------------------------------
 *
 * The same digits as Ryu (tests/contract/native/shortest_ryu.h), several times cheaper: Raffaello Giulietti's
 * Schubfach ("The Schubfach way to render doubles", 2020/2021), as in his Java
 * implementation (java.lang.Double.toString since JDK 19). Where Ryu multiplies three
 * values and then removes digits one division at a time, Schubfach scales the value and its
 * rounding interval once to about 17 digits (one 128-bit multiply each, rounded to odd so
 * that comparisons with integers stay exact) and only ever looks at two candidates: the one
 * with a digit fewer, else the closest of the two neighbours. Both give the shortest decimal
 * in the rounding interval (bounds included for an even significand) and, among those, the
 * closest to the value with ties to even digits; the tests compare the two on every float32
 * and on millions of float64 bit patterns (tests/contract/native/shortest_check.c).
 */

/* floor(log10(2**q)) and floor(log10(3/4 * 2**q)) for |q| <= 1100; floor(log2(10**e)) for
   |e| <= 330 (checked exactly over those ranges). Arithmetic shifts: floor for negatives. */
static inline int32_t floor_log10_pow2(int32_t q) { return (q * 1262611) >> 22; }
static inline int32_t floor_log10_three_quarters_pow2(int32_t q) { return (q * 1262611 - 524031) >> 22; }
static inline int32_t floor_log2_pow10(int32_t e) { return (e * 1741647) >> 19; }

/* floor(g * cp / 2**128), with its last bit set when the discarded fraction is not zero
   (round to odd). The fraction test is "> 1" rather than "!= 0" because g is one above the
   truncation of 10**e; the paper proves the result exact for every input that reaches here. */
static inline uint64_t round_to_odd(const uint64_t *g, uint64_t cp) {
    const unsigned __int128 x = (unsigned __int128)g[0] * cp;
    const unsigned __int128 y = (unsigned __int128)g[1] * cp + (uint64_t)(x >> 64);
    const uint64_t y0 = (uint64_t)y, y1 = (uint64_t)(y >> 64);
    return y1 | (y0 > 1);
}

/* Removes the trailing decimal zeros of m (m != 0, m < 10**17), adding them to *exponent:
   at most 16, taken 8, 8, 4, 2 and 1 at a time (each a multiply by a constant). */
static inline uint64_t strip_zeros(uint64_t m, int32_t *exponent) {
    for (int k = 0; k < 2 && m % 100000000 == 0; ++k) {
        m /= 100000000;
        *exponent += 8;
    }
    if (m % 10000 == 0) {
        m /= 10000;
        *exponent += 4;
    }
    if (m % 100 == 0) {
        m /= 100;
        *exponent += 2;
    }
    if (m % 10 == 0) {
        m /= 10;
        *exponent += 1;
    }
    return m;
}

/* Shortest digits of the finite, non-zero value with the given IEEE fields (float64 or
   float32: the float64 table covers every float32 exponent). */
static inline Decimal10 shortest_schubfach(uint64_t ieee_mantissa, uint32_t ieee_exponent, int mantissa_bits,
                                           int bias) {
    uint64_t c;
    int32_t q; /* the value is c * 2**q */
    if (ieee_exponent != 0) {
        c = (1ull << mantissa_bits) | ieee_mantissa;
        q = (int32_t)ieee_exponent - bias - mantissa_bits;
        /* An integer below 2**(mantissa_bits+1): its interval is at most +-1/2 wide, so the
           integer itself is the only (and closest) candidate; only its zeros go. */
        if (q <= 0 && -q <= mantissa_bits && (c & ((1ull << -q) - 1)) == 0) {
            Decimal10 r = {c >> -q, 0};
            r.digits = strip_zeros(r.digits, &r.exponent);
            return r;
        }
    } else {
        c = ieee_mantissa;
        q = 1 - bias - mantissa_bits;
    }
    const int even = (c & 1) == 0;
    /* At a power of two the interval below is half as wide as the one above. */
    const int lower_closer = ieee_mantissa == 0 && ieee_exponent > 1;
    const uint64_t cbl = 4 * c - 2 + (uint64_t)lower_closer, cb = 4 * c, cbr = 4 * c + 2;

    const int32_t k = lower_closer ? floor_log10_three_quarters_pow2(q) : floor_log10_pow2(q);
    const int32_t h = q + floor_log2_pow10(-k) + 1; /* 1..4 */
    const uint64_t *g = POW10_G[-k - POW10_G_MIN];
    /* The value and its interval bounds times 4 * 10**-k, rounded to odd. */
    const uint64_t vbl = round_to_odd(g, cbl << h), vb = round_to_odd(g, cb << h), vbr = round_to_odd(g, cbr << h);
    const uint64_t lower = vbl + !even, upper = vbr - !even;

    Decimal10 r;
    const uint64_t s = vb >> 2; /* floor(value / 10**k) */
    if (s >= 10) {
        /* A digit fewer: at most one of the two neighbours u', w' is in the interval. */
        const uint64_t sp = s / 10;
        const int up_inside = lower <= 40 * sp, wp_inside = 40 * sp + 40 <= upper;
        if (up_inside != wp_inside) {
            r.digits = sp + (uint64_t)wp_inside;
            r.exponent = k + 1;
            r.digits = strip_zeros(r.digits, &r.exponent);
            return r;
        }
    }
    /* Else the neighbour inside the interval, or the closer one (ties to even) if both are. */
    const int u_inside = lower <= 4 * s, w_inside = 4 * s + 4 <= upper;
    if (u_inside != w_inside) {
        r.digits = s + (uint64_t)w_inside;
    } else {
        const uint64_t mid = 4 * s + 2;
        r.digits = s + (uint64_t)(vb > mid || (vb == mid && (s & 1) != 0));
    }
    r.exponent = k;
    r.digits = strip_zeros(r.digits, &r.exponent);
    return r;
}

#endif
