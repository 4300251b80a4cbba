// Package hwid identifies the physical machine it runs on, for binding
// offline licenses, and refuses virtual machines and containers.
//
// Collect reads the facts of this machine (or of a tree laid out like /,
// such as an unpacked support dump), decides whether it is bare metal, a
// virtual machine or a container, and computes a fingerprint: normalised
// hardware components (SMBIOS UUID and serials, CPU, network cards, disks,
// machine-id), each hashed for one product, with weights and a k-of-n
// match rule so that one replaced disk or network card does not break a
// license. NewRequest and ParseRequest handle the license request a customer
// sends to the vendor, as a JSON file or a typed code (prefix ASR1).
//
// Collect reads Linux machines (amd64 for CPUID; other architectures rely
// on /proc/cpuinfo and the device tree); elsewhere it returns an error, but
// a tree from a Linux dump can be read on any system.
//
// Detection follows systemd-detect-virt: containers first (marker files,
// /run/systemd/container, PID 1's environment, cgroup paths, the mount of /,
// WSL, proot), then virtual machines (DMI, CPUID leaves 0x40000000 and
// 0x40000100, Xen, /sys/hypervisor, device tree), then the leaks that survive
// spoofed DMI and a hidden hypervisor bit (PCI vendor IDs, hypervisor buses,
// virtual disk models, the clock source, ACPI OEM IDs). Known false
// positives are handled: host kernel modules (kvm, vboxdrv), a host running
// Docker, Microsoft Surface and Oracle servers, cloud bare-metal instances.
//
// # Security
//
// hwid raises the cost of copying a license; it cannot make it impossible.
// Everything it reads except CPUID comes from files an administrator can
// replace (bind mounts over /sys or /proc), and a hypervisor can hide its
// CPUID bit and forge DMI strings; the secondary leaks make that harder, not
// impossible. The environment variables that redirect gopsutil (HOST_PROC,
// HOST_SYS, ...) are ignored (Collect reads fixed absolute paths and leaves
// the process environment as it found it), so detection cannot be pointed at
// a fake tree by the environment; a process traced by another (strace, gdb,
// proot) is refused, because a tracer can fake every answer. The fingerprint
// holds only salted hashes (see package fingerprint): it does not disclose
// serial numbers and differs between products. Components that only root
// can read (the SMBIOS UUID and serials) are absent when hwid runs
// unprivileged: the report says which.
package hwid

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/airseal/airseal/pkg/fingerprint"
)

// Options say what to collect.
type Options struct {
	// Root is a directory laid out like / (an unpacked dump or a test
	// fixture) to read instead of this machine. "" reads this machine.
	// With a Root, nothing is read from the real machine.
	Root string
	// Product salts the component hashes, so two products get unrelated
	// fingerprints for one machine.
	Product string
}

// Verdict says whether the machine is virtual, as systemd-detect-virt names
// it, and why.
type Verdict struct {
	// Type is "none" (bare metal), "vm" or "container".
	Type string `json:"type"`
	// Technology is "none", or the hypervisor or container named as
	// systemd-detect-virt names it: kvm, qemu, vmware, oracle, microsoft,
	// xen, parallels, bhyve, amazon, google, docker, podman, lxc, wsl,
	// proot, openvz, systemd-nspawn, vm-other, container-other, ...; or
	// "ptrace" for a process traced by another.
	Technology string `json:"technology"`
	// Evidence lists what led to the verdict, and any other sign seen.
	Evidence []string `json:"evidence"`
}

// ErrVirtual is matched (errors.Is) by the error Verdict.Err returns.
var ErrVirtual = errors.New("not a physical machine")

// Virtual reports whether the verdict is a virtual machine or a container.
func (v Verdict) Virtual() bool { return v.Type != TypeNone }

// Err returns nil on bare metal, and otherwise an error matching ErrVirtual
// that names what was found.
func (v Verdict) Err() error {
	if !v.Virtual() {
		return nil
	}
	what := "a virtual machine"
	if v.Type == TypeContainer {
		what = "a container"
	}
	ev := ""
	if len(v.Evidence) > 0 {
		ev = ": " + strings.Join(v.Evidence, "; ")
	}
	return fmt.Errorf("%w: this is %s (%s)%s", ErrVirtual, what, v.Technology, ev)
}

// Report is what Collect found.
type Report struct {
	// Product is Options.Product: the salt of the component hashes.
	Product string
	// Fingerprint holds the hashed components and the default match rule.
	Fingerprint fingerprint.Fingerprint
	// RootRead is true when files that only root can read were readable.
	RootRead bool
	// Unread names the components that need root and were not read
	// because RootRead is false.
	Unread []string
	// Virtualization is the verdict.
	Virtualization Verdict
	// Hostname is the machine's host name, for a license request.
	Hostname string
	// OS describes the operating system and kernel, for a license request.
	OS string
}

// ID returns the printable identifier of the fingerprint.
func (r *Report) ID() string { return r.Fingerprint.ID() }

// Match compares this machine with a recorded fingerprint (a license
// binding for the same product) under the recorded rule, treating
// components that need root as unreadable when RootRead is false.
func (r *Report) Match(bound fingerprint.Fingerprint) fingerprint.Result {
	return fingerprint.Match(bound, r.Fingerprint.Components, r.RootRead)
}

// gopsutilEnv are the variables that redirect gopsutil's paths.
var gopsutilEnv = []string{"HOST_PROC", "HOST_SYS", "HOST_ROOT", "HOST_ETC", "HOST_DEV", "HOST_RUN", "HOST_VAR", "HOST_PROC_MOUNTINFO"}

// ClearRedirection unsets the environment variables that make gopsutil
// (and tools built on it) read a fake /proc, /sys or /etc. The hwid command
// calls it at start-up, for the programs it might start. Collect does not
// call it and does not need it: it reads fixed absolute paths and never
// looks at these variables, and a library must not change its caller's
// environment.
func ClearRedirection() {
	for _, k := range gopsutilEnv {
		os.Unsetenv(k)
	}
}

// Collect reads the facts of this machine, or of opts.Root, and returns the
// verdict and the fingerprint. A virtual machine or container is not an
// error: check Report.Virtualization.
func Collect(opts Options) (*Report, error) {
	src, closeFn, err := openSource(opts.Root)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	return collect(src, opts.Product), nil
}

func openSource(root string) (source, func(), error) {
	if root == "" {
		if runtime.GOOS != "linux" {
			return nil, nil, fmt.Errorf("hwid reads the hardware of Linux machines only, not %s; read a Linux dump with Options.Root", runtime.GOOS)
		}
		return liveSource{euid: os.Geteuid()}, func() {}, nil
	}
	d, err := openDir(root)
	if err != nil {
		return nil, nil, err
	}
	return d, func() { d.close() }, nil
}

func collect(src source, product string) *Report {
	c := newCollector(src)
	v := detect(c)
	raw := components(c)
	r := &Report{
		Product:        product,
		Fingerprint:    buildFingerprint(product, raw),
		RootRead:       src.rootRead(),
		Virtualization: v,
		Hostname:       hostname(c),
		OS:             osName(c),
	}
	if !r.RootRead {
		r.Unread = append([]string(nil), rootOnly...)
	}
	return r
}

// reportJSON is the documented JSON form of a Report (hwid --json).
type reportJSON struct {
	Fingerprint    string                  `json:"fingerprint"`
	Need           int                     `json:"need"`
	Total          int                     `json:"total"`
	Components     []fingerprint.Component `json:"components"`
	RootRead       bool                    `json:"root_read"`
	Unread         []string                `json:"unread"`
	Virtualization Verdict                 `json:"virtualization"`
	Hostname       string                  `json:"hostname"`
	OS             string                  `json:"os"`
}

// MarshalJSON writes the report as documented for hwid --json:
// {"fingerprint": ID, "need", "total", "components": [{"name", "weight",
// "hash", "needs_root"}], "root_read", "unread", "virtualization": {"type",
// "technology", "evidence"}, "hostname", "os"}.
func (r *Report) MarshalJSON() ([]byte, error) {
	j := reportJSON{
		Fingerprint: r.ID(), Need: r.Fingerprint.Need, Total: r.Fingerprint.Total(),
		Components: r.Fingerprint.Components, RootRead: r.RootRead, Unread: r.Unread,
		Virtualization: r.Virtualization, Hostname: r.Hostname, OS: r.OS,
	}
	if j.Components == nil {
		j.Components = []fingerprint.Component{}
	}
	if j.Unread == nil {
		j.Unread = []string{}
	}
	if j.Virtualization.Evidence == nil {
		j.Virtualization.Evidence = []string{}
	}
	return json.Marshal(j)
}
