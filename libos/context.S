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

/*
 * The syscall fast path (libos/rewrite.c).  A rewritten site's stub ran
 * the moved instruction, stepped over the red zone and did
 * 'call *slot(%rip)'; the word after that call holds S + 2, the address
 * after the site's 'syscall'.  On entry:
 *     (%rsp)  return address into the stub, pointing at S + 2
 *     app rsp = %rsp + 8 + 128
 * rcx and r11 are free: 'syscall' clobbers them (with the return address
 * and rflags, which is what they hold on the way out).  The context is
 * built on the thread's fast-path stack, whose top is at %gs:8.
 */
	.globl libos_fast_entry
	.hidden libos_fast_entry
	.type libos_fast_entry, @function
libos_fast_entry:
	pushfq
	cmpq $0, %gs:8
	je 9f
	cld
	mov %rsp, %r11
	mov %gs:8, %rsp
	sub $176, %rsp
	mov %rax, 0(%rsp)
	mov %rbx, 8(%rsp)
	mov %rdx, 24(%rsp)
	mov %rsi, 32(%rsp)
	mov %rdi, 40(%rsp)
	mov %rbp, 48(%rsp)
	lea 144(%r11), %rcx     /* the app's rsp */
	mov %rcx, 56(%rsp)
	mov %r8, 64(%rsp)
	mov %r9, 72(%rsp)
	mov %r10, 80(%rsp)
	mov %r12, 96(%rsp)
	mov %r13, 104(%rsp)
	mov %r14, 112(%rsp)
	mov %r15, 120(%rsp)
	mov (%r11), %rcx        /* rflags */
	mov %rcx, 88(%rsp)
	mov %rcx, 136(%rsp)
	mov 8(%r11), %rcx
	mov (%rcx), %rcx        /* S + 2 */
	mov %rcx, 16(%rsp)
	mov %rcx, 128(%rsp)
	xor %ecx, %ecx
	mov %rcx, 144(%rsp)     /* fsbase, fpstate, sigmask */
	mov %rcx, 152(%rsp)
	mov %rcx, 160(%rsp)
	mov %rsp, %rdi
	call libos_fast_syscall
	test %eax, %eax
	jnz 2f
	/* From here to libos_fast_exit_jmp, a host signal sends the thread
	 * to libos_fast_redo (rewrite_interrupt): the look at the pending
	 * signals is done again, so none waits for the next system call. */
	.globl libos_fast_exit
	.hidden libos_fast_exit
libos_fast_exit:
	cmpl $0, %gs:16
	jne libos_fast_redo
	mov 8(%rsp), %rbx
	mov 24(%rsp), %rdx
	mov 32(%rsp), %rsi
	mov 40(%rsp), %rdi
	mov 48(%rsp), %rbp
	mov 64(%rsp), %r8
	mov 72(%rsp), %r9
	mov 80(%rsp), %r10
	mov 96(%rsp), %r12
	mov 104(%rsp), %r13
	mov 112(%rsp), %r14
	mov 120(%rsp), %r15
	mov 128(%rsp), %rcx     /* rip */
	mov 136(%rsp), %r11     /* rflags */
	mov 0(%rsp), %rax
	pushq 136(%rsp)
	popfq
	mov 56(%rsp), %rsp
	.globl libos_fast_exit_jmp
	.hidden libos_fast_exit_jmp
libos_fast_exit_jmp:
	jmp *%rcx

	/* A signal to deliver: trap to the PAL (rewrite_fault), which
	 * delivers it from the host's full context, vector state included.
	 * rdi: the app's context; rsi: 1 if a system call's result is in it
	 * (restart rules apply), 0 if that was settled already. */
	.globl libos_fast_redo
	.hidden libos_fast_redo
libos_fast_redo:
	mov %gs:8, %rsp
	sub $176, %rsp
	xor %esi, %esi
	jmp 3f
2:	mov $1, %esi
3:	mov %rsp, %rdi
	.globl libos_fast_escalate
	.hidden libos_fast_escalate
libos_fast_escalate:
	ud2

	/* No fast-path stack in this thread: back to the 'syscall', which
	 * traps.  No flag may change after popfq. */
9:	popfq
	mov (%rsp), %rcx
	mov (%rcx), %rcx
	lea -2(%rcx), %rcx
	lea 136(%rsp), %rsp
	jmp *%rcx
	.size libos_fast_entry, .-libos_fast_entry

	.section .note.GNU-stack, "", @progbits
