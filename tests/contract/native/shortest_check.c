/* Compares the two shortest-digit algorithms of etl_lib/contract/_native/shortest.h (Ryu, the one the
 * encoder shipped first and that the tests proved equal to Arrow's cast, and Schubfach, the
 * one it uses now) bit pattern by bit pattern.
 *
 *   shortest_check f32 STRIDE       every STRIDE-th positive float32 (1: all 2**31 of them)
 *   shortest_check f64 COUNT SEED   COUNT random float64 patterns, then the hard families:
 *                                   powers of two, integers and their neighbours, subnormals,
 *                                   decimal-looking values k / 10**n
 *
 * Prints "N checked, M differ" and the first differences; exits 1 if any differ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shortest.h"
#include "shortest_ryu.h"

static unsigned long long checked, differ;

static Decimal10 normal(Decimal10 d) {
    while (d.digits % 10 == 0) {
        d.digits /= 10;
        d.exponent++;
    }
    return d;
}

static void check(uint64_t mantissa, uint32_t exponent, int bits, int bias, uint64_t pattern) {
    if (exponent == 0 && mantissa == 0) return;
    const Decimal10 a = normal(shortest_digits(mantissa, exponent, bits, bias));
    const Decimal10 b = shortest_schubfach(mantissa, exponent, bits, bias);
    ++checked;
    if (a.digits != b.digits || a.exponent != b.exponent) {
        if (differ++ < 10)
            printf("pattern %#llx: ryu %llue%d schubfach %llue%d\n", (unsigned long long)pattern,
                   (unsigned long long)a.digits, a.exponent, (unsigned long long)b.digits, b.exponent);
    }
}

static void check_f64(uint64_t b) {
    const uint32_t e = (uint32_t)((b >> 52) & 0x7ff);
    if (e != 0x7ff) check(b & ((1ull << 52) - 1), e, 52, 1023, b);
}

static void check_f64_value(double v) {
    uint64_t b;
    memcpy(&b, &v, 8);
    check_f64(b & ~(1ull << 63));
    check_f64((b & ~(1ull << 63)) + 1);
    if ((b & ~(1ull << 63)) > 1) check_f64((b & ~(1ull << 63)) - 1);
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "f32")) {
        const uint64_t stride = strtoull(argv[2], NULL, 10);
        for (uint64_t b = 1; b < 0x7f800000u; b += stride) check(b & 0x7fffff, (uint32_t)(b >> 23), 23, 127, b);
        for (uint32_t e = 0; e < 255; ++e) check(0, e, 23, 127, (uint64_t)e << 23); /* powers of two */
    } else if (argc >= 4 && !strcmp(argv[1], "f64")) {
        const uint64_t count = strtoull(argv[2], NULL, 10);
        uint64_t seed = strtoull(argv[3], NULL, 10);
        for (uint64_t k = 0; k < count; ++k) check_f64(splitmix(&seed) & ~(1ull << 63));
        for (uint64_t e = 0; e < 2047; ++e) {
            check_f64(e << 52); /* powers of two and their neighbours */
            check_f64((e << 52) | 1);
            check_f64((e << 52) | ((1ull << 52) - 1));
        }
        for (uint64_t m = 1; m < 100000; ++m) check_f64(m); /* the smallest subnormals */
        for (int64_t v = 1; v < 2000000; ++v) check_f64_value((double)v);
        double scale = 1;
        for (int n = 0; n < 23; ++n, scale *= 10) {
            for (int64_t v = 1; v < 200000; ++v) {
                check_f64_value((double)v / scale);
                check_f64_value((double)v * scale);
            }
        }
    } else {
        fprintf(stderr, "usage: shortest_check f32 STRIDE | f64 COUNT SEED\n");
        return 2;
    }
    printf("%llu checked, %llu differ\n", checked, differ);
    return differ != 0;
}
