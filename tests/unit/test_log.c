#include <criterion/criterion.h>
#include "util/log.h"

Test(log, fail_records_message) {
    mm_clear_error();
    cr_assert_str_empty(mm_last_error());
    cr_assert_eq(mm_fail("%s: tensor '%s' missing", "model.safetensors", "wte"), -1);
    cr_assert_str_eq(mm_last_error(), "model.safetensors: tensor 'wte' missing");
}
