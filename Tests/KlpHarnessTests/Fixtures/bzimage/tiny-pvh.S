/* The smallest ELF with the PVH entry note QEMU looks for
 * (XEN_ELFNOTE_PHYS32_ENTRY, type 18, owner "Xen"), as arch/x86/platform/pvh/head.S emits it. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4f - 3f
	.long 6f - 5f
	.long 18
3:	.asciz "Xen"
4:	.balign 4
5:	.long _start
6:	.balign 4
	.text
	.globl _start
_start:
	hlt
	jmp _start
