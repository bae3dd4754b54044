/* ckpt/digest_avx2.c -- the page digest with AVX2, when the CPU and the
 * host kernel have it (precopy.c checks). */
#define CK_DIGEST_FN ck_page_digest_avx2
#define XXH_VECTOR 2 /* XXH_AVX2 */
#include "digest.inc"
