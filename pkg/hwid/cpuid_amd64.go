package hwid

import (
	"encoding/binary"

	"github.com/klauspost/cpuid/v2"
)

func rawCPUID(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// liveCPUID reads the hypervisor bit and the signatures of leaves 0x40000000
// and 0x40000100. klauspost/cpuid supplies the bit and the first signature;
// the second leaf, where QEMU moves the KVM signature when Hyper-V
// enlightenments take over 0x40000000, is read with a small assembly stub.
func liveCPUID() *cpuidFacts {
	c := &cpuidFacts{HypervisorBit: cpuid.CPU.VM()}
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
