// Registers are objects, not numbers, so the builder can tell `mov64(R1, R2)` (register)
// from `mov64(R1, 2)` (immediate) at compile time and at run time.

export type RegisterIndex = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

export class Register {
  private constructor(readonly index: RegisterIndex) {}

  /** @internal one object per register, so `===` works. */
  static readonly all: readonly Register[] = Array.from({ length: 11 }, (_, i) => new Register(i as RegisterIndex));

  toString(): string {
    return `r${this.index}`;
  }
}

const regs = Register.all as readonly [Register, Register, Register, Register, Register, Register, Register, Register, Register, Register, Register];
/** Return value; helper and kfunc results. */
export const R0 = regs[0];
/** Arguments 1-5 (caller-saved); R1 holds the context on entry. */
export const R1 = regs[1];
export const R2 = regs[2];
export const R3 = regs[3];
export const R4 = regs[4];
export const R5 = regs[5];
/** Callee-saved. */
export const R6 = regs[6];
export const R7 = regs[7];
export const R8 = regs[8];
export const R9 = regs[9];
/** Read-only frame pointer; the stack grows down from it (512 bytes). */
export const R10 = regs[10];
export const FP = R10;

export function isRegister(x: unknown): x is Register {
  return x instanceof Register;
}
