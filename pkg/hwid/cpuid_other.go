//go:build !amd64

package hwid

// liveCPUID returns nil: CPUID exists only on x86, and this build reads it
// only on amd64. The detector then relies on /proc/cpuinfo, DMI, the device
// tree and the other leaks.
func liveCPUID() *cpuidFacts { return nil }
