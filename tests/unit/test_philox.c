#include <criterion/criterion.h>
#include "util/philox.h"

/* Known-answer tests of Philox4x32-10 from Random123's kat_vectors */
Test(philox, random123_known_answers) {
    uint32_t out[4];
    const uint32_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0};
    mm_philox4x32(c0, k0, out);
    cr_expect_eq(out[0], 0x6627e8d5u); cr_expect_eq(out[1], 0xe169c58du);
    cr_expect_eq(out[2], 0xbc57ac4cu); cr_expect_eq(out[3], 0x9b00dbd8u);
    const uint32_t c1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, k1[2] = {0xffffffffu, 0xffffffffu};
    mm_philox4x32(c1, k1, out);
    cr_expect_eq(out[0], 0x408f276du); cr_expect_eq(out[1], 0x41c83b0eu);
    cr_expect_eq(out[2], 0xa20bc7c6u); cr_expect_eq(out[3], 0x6d5451fdu);
    const uint32_t c2[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, k2[2] = {0xa4093822u, 0x299f31d0u};
    mm_philox4x32(c2, k2, out);
    cr_expect_eq(out[0], 0xd16cfe09u); cr_expect_eq(out[1], 0x94fdccebu);
    cr_expect_eq(out[2], 0x5001e420u); cr_expect_eq(out[3], 0x24126ea1u);
}

Test(philox, mask_independent_of_chunking) {
    uint8_t a[1000], b[1000];
    mm_dropout_mask(a, 1000, 0.3f, 42, 7, 99, 0);
    mm_dropout_mask(b, 333, 0.3f, 42, 7, 99, 0);
    mm_dropout_mask(b + 333, 667, 0.3f, 42, 7, 99, 333);
    cr_assert_arr_eq(a, b, 1000);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(a[i], mm_u32_to_unit(mm_rng_u32(42, 7, 99, (uint64_t)i)) >= 0.3f, "element %d", i);
    int kept = 0;
    for (int i = 0; i < 1000; i++) kept += a[i];
    cr_expect(kept > 630 && kept < 770, "keep rate %d/1000 far from 0.7", kept);
}

/* the 64-bit keep words (AVX-512 path where the build has it) equal the per-element rule, for aligned and
 * unaligned offsets, near the wrap of the low counter word (block index 2^32 - 16 .. 2^32 + 16), and
 * several drop rates; so do the byte masks over the same ranges */
Test(philox, keep_words_and_masks_equal_the_element_rule) {
    const uint64_t firsts[] = {0, 64, 4096 + 4, 3, 65, 1001, ((uint64_t)1 << 34) - 128, ((uint64_t)1 << 34) - 60,
                               ((uint64_t)1 << 34) - 64 + 2, ((uint64_t)1 << 34) + 4, ((uint64_t)7 << 40) + 8};
    const float ps[] = {0.0f, 0.05f, 0.1f, 0.5f, 0.9f};
    for (size_t a = 0; a < sizeof firsts / sizeof firsts[0]; a++)
        for (size_t b = 0; b < sizeof ps / sizeof ps[0]; b++) {
            const uint64_t first = firsts[a];
            const float p = ps[b];
            const uint64_t w = mm_dropout_word(p, 0x123456789abcdefull, 11, 77, first);
            uint8_t keep[300];
            mm_dropout_mask(keep, 300, p, 0x123456789abcdefull, 11, 77, first);
            for (int i = 0; i < 300; i++) {
                const int want = mm_u32_to_unit(mm_rng_u32(0x123456789abcdefull, 11, 77, first + (uint64_t)i)) >= p;
                if (i < 64) cr_assert_eq((int)((w >> i) & 1), want, "word: first %llu p %g element %d",
                                         (unsigned long long)first, p, i);
                cr_assert_eq(keep[i], want, "mask: first %llu p %g element %d", (unsigned long long)first, p, i);
            }
        }
}
