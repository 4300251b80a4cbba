package hwid

import "encoding/binary"

func rawCPUID(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// liveCPUID reads the hypervisor bit (leaf 1, ECX bit 31) and the
// signatures of leaves 0x40000000 and 0x40000100 (where QEMU moves the KVM
// signature when Hyper-V enlightenments take over 0x40000000) with a small
// assembly stub. A CPUID library is not linked: its package init probes
// every feature leaf on each start of every binary that imports hwid,
// verify included (issue 9, Measures).
func liveCPUID() *cpuidFacts {
	_, _, ecx, _ := rawCPUID(1, 0)
	c := &cpuidFacts{HypervisorBit: ecx&(1<<31) != 0}
	if !c.HypervisorBit {
		// Leaves 0x4000xxxx are only defined under a hypervisor; on bare
		// metal they echo unrelated data.
		return c
	}
	c.Leaf40000000 = signature(0x40000000)
	c.Leaf40000100 = signature(0x40000100)
	return c
}

func signature(leaf uint32) string {
	_, b, c, d := rawCPUID(leaf, 0)
	var buf [12]byte
	binary.LittleEndian.PutUint32(buf[0:], b)
	binary.LittleEndian.PutUint32(buf[4:], c)
	binary.LittleEndian.PutUint32(buf[8:], d)
	return cleanSignature(buf[:])
}
