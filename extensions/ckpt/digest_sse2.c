/* ckpt/digest_sse2.c -- the page digest with SSE2 (every x86-64). */
#define CK_DIGEST_FN ck_page_digest_sse2
#define XXH_VECTOR 1 /* XXH_SSE2 */
#include "digest.inc"
