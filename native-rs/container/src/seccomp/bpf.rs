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
/// for unit tests of what a compiled profile does.
#[cfg(test)]
pub fn run(program: &[SockFilter], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
    let word = |offset: u32| -> u32 {
        match offset {
            0 => nr,
            4 => arch,
            o if (16..64).contains(&o) => {
                let arg = args[((o - 16) / 8) as usize];
                if (o - 16) % 8 == 0 {
                    arg as u32
                } else {
                    (arg >> 32) as u32
                }
            }
            _ => panic!("load of offset {}", offset),
        }
    };
    let (mut pc, mut a) = (0usize, 0u32);
    loop {
        let f = program[pc];
        pc += 1;
        match f.code {
            LD_W_ABS => a = word(f.k),
            ALU_AND_K => a &= f.k,
            JA => pc += f.k as usize,
            JEQ_K | JGT_K | JGE_K => {
                let taken = match f.code {
                    JEQ_K => a == f.k,
                    JGT_K => a > f.k,
                    _ => a >= f.k,
                };
                pc += if taken { f.jt } else { f.jf } as usize;
            }
            RET_K => return f.k,
            c => panic!("unknown opcode {:#x}", c),
        }
    }
}
