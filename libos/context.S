/*
 * context.S -- start a thread on an app register context.
 *
 * void libos_context_jump(const struct moat_context *ctx)
 * Loads every general register and rflags from ctx and continues at
 * ctx->rip on ctx->rsp.  It pushes three words below ctx->rsp, so it is
 * only for fresh stacks (a new thread), never for resuming interrupted
 * code, whose red zone must survive (that path returns through the PAL).
 * Offsets follow struct moat_context in include/moat/abi.h.
 */
	.text
	.globl libos_context_jump
	.hidden libos_context_jump
	.type libos_context_jump, @function
libos_context_jump:
	mov %rdi, %rax
	mov 56(%rax), %rsp
	push 128(%rax)          /* rip */
	push 136(%rax)          /* rflags */
	push 0(%rax)            /* rax */
	mov 8(%rax), %rbx
	mov 16(%rax), %rcx
	mov 24(%rax), %rdx
	mov 32(%rax), %rsi
	mov 40(%rax), %rdi
	mov 48(%rax), %rbp
	mov 64(%rax), %r8
	mov 72(%rax), %r9
	mov 80(%rax), %r10
	mov 88(%rax), %r11
	mov 96(%rax), %r12
	mov 104(%rax), %r13
	mov 112(%rax), %r14
	mov 120(%rax), %r15
	pop %rax
	popfq
	ret
	.size libos_context_jump, .-libos_context_jump

	.section .note.GNU-stack, "", @progbits
