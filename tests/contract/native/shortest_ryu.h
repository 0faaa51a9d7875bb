/* Ryu: the shortest-digits algorithm the encoder used before Schubfach (shortest.h).
 *
 * Kept only as the independent oracle of shortest_check.c, which compares the two on every
 * float32 and on millions of float64 bit patterns; the encoder does not use it, so it and its
 * tables (ryu_tables.h, from etl_lib/contract/_native/gen_tables.py) live with the tests.
 * This is the Ryu algorithm (Ulf Adams, "Ryu: fast float-to-string conversion", PLDI 2018),
 * implemented from the paper for any IEEE-754 binary format up to 64 bits: the same core
 * serves float64 (52 mantissa bits) and float32 (23 bits), whose values and rounding
 * intervals are a subset of what the 125-bit multipliers cover exactly. It was compared with
 * Arrow's cast on millions of random bit patterns of both widths.
 */
#ifndef ETL_SHORTEST_RYU_H
#define ETL_SHORTEST_RYU_H

#include <stdint.h>

#include "ryu_tables.h"
#include "shortest.h"

/* ceil(log2(5**e)) for 0 < e <= 3528; 1 for e == 0 */
static inline int32_t pow5bits(int32_t e) { return (int32_t)(((uint32_t)e * 1217359u) >> 19) + 1; }
/* floor(log10(2**e)) for 0 <= e <= 1650 */
static inline uint32_t log10_pow2(int32_t e) { return ((uint32_t)e * 78913u) >> 18; }
/* floor(log10(5**e)) for 0 <= e <= 2620 */
static inline uint32_t log10_pow5(int32_t e) { return ((uint32_t)e * 732923u) >> 20; }

static inline uint32_t pow5_factor(uint64_t value) {
    uint32_t count = 0;
    for (;;) { /* value > 0 */
        uint64_t q = value / 5;
        if (value - 5 * q != 0) break;
        value = q;
        ++count;
    }
    return count;
}

static inline int multiple_of_pow5(uint64_t value, uint32_t p) { return pow5_factor(value) >= p; }
static inline int multiple_of_pow2(uint64_t value, uint32_t p) { return (value & ((1ull << p) - 1)) == 0; }

/* (m * mul) >> j for a 128-bit mul, j >= 64 */
static inline uint64_t mul_shift(uint64_t m, const uint64_t *mul, int32_t j) {
    unsigned __int128 b0 = (unsigned __int128)m * mul[0];
    unsigned __int128 b2 = (unsigned __int128)m * mul[1];
    return (uint64_t)(((b0 >> 64) + b2) >> (j - 64));
}

/* Shortest digits of the finite, non-zero value with the given IEEE fields. */
static Decimal10 shortest_digits(uint64_t ieee_mantissa, uint32_t ieee_exponent, int mantissa_bits, int bias) {
    int32_t e2;
    uint64_t m2;
    if (ieee_exponent == 0) {
        e2 = 1 - bias - mantissa_bits - 2;
        m2 = ieee_mantissa;
    } else {
        e2 = (int32_t)ieee_exponent - bias - mantissa_bits - 2;
        m2 = (1ull << mantissa_bits) | ieee_mantissa;
    }
    const int even = (m2 & 1) == 0;
    const int accept_bounds = even;

    /* The value is mv * 2**e2 with the rounding interval (mm, mp) around it; the lower
       gap is half as wide at a power of two (mm_shift == 0). */
    const uint64_t mv = 4 * m2;
    const uint32_t mm_shift = ieee_mantissa != 0 || ieee_exponent <= 1;

    uint64_t vr, vp, vm;
    int32_t e10;
    int vm_trailing_zeros = 0, vr_trailing_zeros = 0;
    if (e2 >= 0) {
        const uint32_t q = log10_pow2(e2) - (e2 > 3);
        e10 = (int32_t)q;
        const int32_t k = POW5_INV_BITCOUNT + pow5bits((int32_t)q) - 1;
        const int32_t i = -e2 + (int32_t)q + k;
        vr = mul_shift(4 * m2, POW5_INV_SPLIT[q], i);
        vp = mul_shift(4 * m2 + 2, POW5_INV_SPLIT[q], i);
        vm = mul_shift(4 * m2 - 1 - mm_shift, POW5_INV_SPLIT[q], i);
        if (q <= 21) {
            /* Only here can mv be a multiple of 5**q, i.e. the digits below be all zero. */
            const uint32_t mv_mod5 = (uint32_t)(mv % 5);
            if (mv_mod5 == 0) {
                vr_trailing_zeros = multiple_of_pow5(mv, q);
            } else if (accept_bounds) {
                vm_trailing_zeros = multiple_of_pow5(mv - 1 - mm_shift, q);
            } else {
                vp -= multiple_of_pow5(mv + 2, q);
            }
        }
    } else {
        const uint32_t q = log10_pow5(-e2) - (-e2 > 1);
        e10 = (int32_t)q + e2;
        const int32_t i = -e2 - (int32_t)q;
        const int32_t k = pow5bits(i) - POW5_BITCOUNT;
        const int32_t j = (int32_t)q - k;
        vr = mul_shift(4 * m2, POW5_SPLIT[i], j);
        vp = mul_shift(4 * m2 + 2, POW5_SPLIT[i], j);
        vm = mul_shift(4 * m2 - 1 - mm_shift, POW5_SPLIT[i], j);
        if (q <= 1) {
            /* mv has at least q trailing zero bits, so vr is exact */
            vr_trailing_zeros = 1;
            if (accept_bounds) {
                vm_trailing_zeros = mm_shift == 1;
            } else {
                --vp;
            }
        } else if (q < 63) {
            vr_trailing_zeros = multiple_of_pow2(mv, q);
        }
    }

    /* Remove digits while the interval still holds a shorter number. */
    int32_t removed = 0;
    uint8_t last_removed = 0;
    uint64_t output;
    if (vm_trailing_zeros || vr_trailing_zeros) {
        for (;;) {
            const uint64_t vp_div10 = vp / 10, vm_div10 = vm / 10;
            if (vp_div10 <= vm_div10) break;
            const uint32_t vm_mod10 = (uint32_t)(vm - 10 * vm_div10);
            const uint64_t vr_div10 = vr / 10;
            const uint32_t vr_mod10 = (uint32_t)(vr - 10 * vr_div10);
            vm_trailing_zeros &= vm_mod10 == 0;
            vr_trailing_zeros &= last_removed == 0;
            last_removed = (uint8_t)vr_mod10;
            vr = vr_div10;
            vp = vp_div10;
            vm = vm_div10;
            ++removed;
        }
        if (vm_trailing_zeros) {
            for (;;) {
                const uint64_t vm_div10 = vm / 10;
                const uint32_t vm_mod10 = (uint32_t)(vm - 10 * vm_div10);
                if (vm_mod10 != 0) break;
                const uint64_t vp_div10 = vp / 10, vr_div10 = vr / 10;
                const uint32_t vr_mod10 = (uint32_t)(vr - 10 * vr_div10);
                vr_trailing_zeros &= last_removed == 0;
                last_removed = (uint8_t)vr_mod10;
                vr = vr_div10;
                vp = vp_div10;
                vm = vm_div10;
                ++removed;
            }
        }
        if (vr_trailing_zeros && last_removed == 5 && vr % 2 == 0) {
            last_removed = 4; /* exactly halfway: round to even */
        }
        output = vr + ((vr == vm && (!accept_bounds || !vm_trailing_zeros)) || last_removed >= 5);
    } else {
        /* The common case: no exact ties are possible, so only the first removed digit
           decides the rounding. Digits go four, then two at a time while the interval
           still holds a shorter number (short decimals such as 1234.56 lose ~11). */
        int round_up = 0;
        for (;;) {
            const uint64_t vp_div = vp / 10000, vm_div = vm / 10000;
            if (vp_div <= vm_div) break;
            const uint64_t vr_div = vr / 10000;
            round_up = vr - 10000 * vr_div >= 5000;
            vr = vr_div;
            vp = vp_div;
            vm = vm_div;
            removed += 4;
        }
        for (;;) {
            const uint64_t vp_div = vp / 100, vm_div = vm / 100;
            if (vp_div <= vm_div) break;
            const uint64_t vr_div = vr / 100;
            round_up = vr - 100 * vr_div >= 50;
            vr = vr_div;
            vp = vp_div;
            vm = vm_div;
            removed += 2;
        }
        for (;;) {
            const uint64_t vp_div10 = vp / 10, vm_div10 = vm / 10;
            if (vp_div10 <= vm_div10) break;
            const uint64_t vr_div10 = vr / 10;
            const uint32_t vr_mod10 = (uint32_t)(vr - 10 * vr_div10);
            round_up = vr_mod10 >= 5;
            vr = vr_div10;
            vp = vp_div10;
            vm = vm_div10;
            ++removed;
        }
        output = vr + (vr == vm || round_up);
    }
    Decimal10 result = {output, e10 + removed};
    return result;
}

#endif
