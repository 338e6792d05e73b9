//! Classic BPF as seccomp runs it, and an assembler with labels.
//!
//! Conditional jumps only ever skip 0 or 1 instruction (the next one is a
//! `ja` to a label when the target is further), so the 8-bit jt/jf offsets
//! never overflow however large the program; `ja` has a 32-bit offset.

/// `struct sock_filter`
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

pub const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub const ALU_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub const JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub const JEQ_K: u16 = 0x15;
pub const JGT_K: u16 = 0x25;
pub const JGE_K: u16 = 0x35;
pub const RET_K: u16 = 0x06;

/// The kernel's limit per filter (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

enum Insn {
    Fixed(SockFilter),
    Ja(Label),
}

#[derive(Default)]
pub struct Asm {
    insns: Vec<Insn>,
    labels: Vec<Option<usize>>,
}

impl Asm {
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// The next instruction is where `label` jumps to.
    pub fn bind(&mut self, label: Label) {
        self.labels[label.0] = Some(self.insns.len());
    }

    fn push(&mut self, code: u16, jt: u8, jf: u8, k: u32) {
        self.insns.push(Insn::Fixed(SockFilter { code, jt, jf, k }));
    }

    /// A = 32-bit word at `offset` of struct seccomp_data.
    pub fn load(&mut self, offset: u32) {
        self.push(LD_W_ABS, 0, 0, offset);
    }

    pub fn and(&mut self, mask: u32) {
        self.push(ALU_AND_K, 0, 0, mask);
    }

    pub fn ret(&mut self, value: u32) {
        self.push(RET_K, 0, 0, value);
    }

    pub fn jump(&mut self, to: Label) {
        self.insns.push(Insn::Ja(to));
    }

    /// `if (A <op> k) goto to;` (falls through otherwise).
    pub fn jump_if(&mut self, op: u16, k: u32, to: Label) {
        self.push(op, 0, 1, k);
        self.jump(to);
    }

    /// `if !(A <op> k) goto to;` (falls through when it holds).
    pub fn jump_unless(&mut self, op: u16, k: u32, to: Label) {
        self.push(op, 1, 0, k);
        self.jump(to);
    }

    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// The program, every label resolved; None when a label was never bound.
    pub fn finish(self) -> Option<Vec<SockFilter>> {
        let labels = self.labels;
        self.insns
            .into_iter()
            .enumerate()
            .map(|(at, insn)| match insn {
                Insn::Fixed(f) => Some(f),
                Insn::Ja(l) => {
                    let to = labels[l.0]?;
                    let k = to.checked_sub(at + 1)? as u32; // forward only
                    Some(SockFilter {
                        code: JA,
                        jt: 0,
                        jf: 0,
                        k,
                    })
                }
            })
            .collect()
    }
}

/// Runs `program` on a seccomp_data (nr, arch, args) as the kernel would:
/// what a compiled profile does with a call (checked before it is loaded,
/// and in unit tests). None for what our assembler never emits (an unknown
/// instruction or load offset, a jump out of the program).
pub fn eval(program: &[SockFilter], nr: u32, arch: u32, args: [u64; 6]) -> Option<u32> {
    let word = |offset: u32| -> Option<u32> {
        match offset {
            0 => Some(nr),
            4 => Some(arch),
            o if (16..64).contains(&o) && o % 4 == 0 => {
                let arg = args[((o - 16) / 8) as usize];
                Some(if (o - 16) % 8 == 0 { arg as u32 } else { (arg >> 32) as u32 })
            }
            _ => None,
        }
    };
    let (mut pc, mut a) = (0usize, 0u32);
    loop {
        let f = *program.get(pc)?;
        pc += 1;
        match f.code {
            LD_W_ABS => a = word(f.k)?,
            ALU_AND_K => a &= f.k,
            JA => pc = pc.checked_add(f.k as usize)?,
            JEQ_K | JGT_K | JGE_K => {
                let taken = match f.code {
                    JEQ_K => a == f.k,
                    JGT_K => a > f.k,
                    _ => a >= f.k,
                };
                pc += if taken { f.jt } else { f.jf } as usize;
            }
            RET_K => return Some(f.k),
            _ => return None,
        }
    }
}

/// [`eval`] of a program the test knows to be well-formed.
#[cfg(test)]
pub fn run(program: &[SockFilter], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
    eval(program, nr, arch, args).expect("a well-formed program")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insn(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
        SockFilter { code, jt, jf, k }
    }

    #[test]
    fn eval_follows_the_kernel() {
        // A = nr; nr == 59 ? ret 1 : (A = arg0 high word; A & 2 >= 2 ? ret 2 : ret 3)
        let p = [
            insn(LD_W_ABS, 0, 0, 0),
            insn(JEQ_K, 0, 1, 59),
            insn(RET_K, 0, 0, 1),
            insn(LD_W_ABS, 0, 0, 20),
            insn(ALU_AND_K, 0, 0, 2),
            insn(JGE_K, 0, 1, 2),
            insn(RET_K, 0, 0, 2),
            insn(RET_K, 0, 0, 3),
        ];
        assert_eq!(eval(&p, 59, 0, [0; 6]), Some(1));
        assert_eq!(eval(&p, 1, 0, [2 << 32, 0, 0, 0, 0, 0]), Some(2));
        assert_eq!(eval(&p, 1, 0, [2, 0, 0, 0, 0, 0]), Some(3));
        // What the assembler never emits: no answer rather than a guess (or a panic).
        assert_eq!(eval(&[insn(0x07, 0, 0, 0)], 0, 0, [0; 6]), None, "an unknown opcode");
        assert_eq!(eval(&[insn(LD_W_ABS, 0, 0, 64)], 0, 0, [0; 6]), None, "a load past seccomp_data");
        assert_eq!(eval(&[insn(JA, 0, 0, 5)], 0, 0, [0; 6]), None, "a jump out of the program");
        assert_eq!(eval(&[], 0, 0, [0; 6]), None);
    }
}
