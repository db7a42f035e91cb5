/* The library's implementation for the firmware, in a translation unit of its own so that its
   footprint can be measured alone (arm-none-eabi-size) and its references checked: with these
   settings it calls no allocator and no stdio, only memcpy/memmove/memset/memcmp, the libm
   functions named by MOD_SQRTF ... MOD_CEIL, and the compiler's runtime helpers. */
#define MOD_NO_STDIO
#define MOD_NO_MALLOC
#define MOD_NO_UNICODE_TABLES /* the firmware model splits ASCII-style: 27 KB less flash */
/* internal invariants only (never input): a failed one traps; the fault handler of picolibc's
   semihosting crt0 reports it and exits with a failure status */
#define MOD_ASSERT(x) ((x) ? (void)0 : __builtin_trap())
#define MOD_IMPLEMENTATION
#include "../../mod.h"
