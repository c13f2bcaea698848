package flowhash

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// netOff is SKF_NET_OFF (-0x100000): loads from it on are relative to
// the network header. The kernel runs a fanout program with the first
// (outermost) VLAN tag of the frame already taken off and the Ethernet
// type of what follows in the packet's protocol.
const netOff = 0xfff00000

// Program returns the classic BPF program that computes Sum in the kernel
// for PACKET_FANOUT_CBPF (the kernel takes the remainder by the number of
// sockets in the group itself). A load past the packet's end makes a
// classic BPF program return 0, as Sum does for a header cut short.
func Program() ([]bpf.RawInstruction, error) {
	var a asm
	a.op(bpf.LoadExtension{Num: bpf.ExtProto})
	// The Ethernet type in A describes what starts at base: the IP
	// header, or one more tag. Classic BPF cannot add a register to a
	// load offset without losing X, which the XORs need, so each base
	// has its own straight-line code.
	for tag := range maxTags {
		base := uint32(4 * tag)
		if tag < maxTags-1 {
			a.jeq(etherVLAN, fmt.Sprint("tag", tag))
			a.jeq(etherQinQ, fmt.Sprint("tag", tag))
		}
		a.jeq(etherIPv4, fmt.Sprint("v4.", tag))
		a.jeq(etherIPv6, fmt.Sprint("v6.", tag))
		a.op(bpf.RetConstant{Val: 0})
		if tag < maxTags-1 {
			a.label(fmt.Sprint("tag", tag))
			a.op(bpf.LoadAbsolute{Off: netOff + base + 2, Size: 2})
		}
	}
	for tag := range maxTags {
		base := uint32(4 * tag)
		a.label(fmt.Sprint("v4.", tag))
		a.xorWords(base+12, base+20)
		a.ja("mix")
		a.label(fmt.Sprint("v6.", tag))
		a.xorWords(base+8, base+40)
		a.ja("mix")
	}
	a.label("mix") // mix, instruction by instruction
	a.op(bpf.TAX{})
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 16})
	a.op(bpf.ALUOpX{Op: bpf.ALUOpXor})
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpMul, Val: mixMul})
	a.op(bpf.TAX{})
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 15})
	a.op(bpf.ALUOpX{Op: bpf.ALUOpXor})
	a.op(bpf.RetA{})
	return a.assemble()
}

// asm is just enough of an assembler for Program: forward jumps to
// labels.
type asm struct {
	ins    []bpf.Instruction
	to     map[int]string // instruction index: label it jumps to
	labels map[string]int
}

func (a *asm) op(in bpf.Instruction) { a.ins = append(a.ins, in) }

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.ins)
}

func (a *asm) jumpTo(in bpf.Instruction, label string) {
	if a.to == nil {
		a.to = map[int]string{}
	}
	a.to[len(a.ins)] = label
	a.op(in)
}

// jeq jumps to label when A is v.
func (a *asm) jeq(v uint32, label string) {
	a.jumpTo(bpf.JumpIf{Cond: bpf.JumpEqual, Val: v}, label)
}

func (a *asm) ja(label string) { a.jumpTo(bpf.Jump{}, label) }

// xorWords leaves in A the XOR of the 32-bit words from netOff+from to
// netOff+to.
func (a *asm) xorWords(from, to uint32) {
	a.op(bpf.LoadAbsolute{Off: netOff + from, Size: 4})
	for off := from + 4; off < to; off += 4 {
		a.op(bpf.TAX{})
		a.op(bpf.LoadAbsolute{Off: netOff + off, Size: 4})
		a.op(bpf.ALUOpX{Op: bpf.ALUOpXor})
	}
}

func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	for i, label := range a.to {
		target, ok := a.labels[label]
		if !ok || target <= i || target-i-1 > 255 {
			return nil, fmt.Errorf("flowhash: bad jump from %d to %q", i, label)
		}
		skip := target - i - 1
		switch in := a.ins[i].(type) {
		case bpf.JumpIf:
			in.SkipTrue = uint8(skip)
			a.ins[i] = in
		case bpf.Jump:
			in.Skip = uint32(skip)
			a.ins[i] = in
		}
	}
	return bpf.Assemble(a.ins)
}
