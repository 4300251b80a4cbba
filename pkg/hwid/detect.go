package hwid

import (
	"fmt"
	"strconv"
	"strings"
)

// Verdict types.
const (
	TypeNone      = "none"      // bare metal as far as hwid can tell
	TypeVM        = "vm"        // a virtual machine
	TypeContainer = "container" // a container, WSL or a ptrace sandbox
)

// knownContainers are the container names systemd-detect-virt reports as is;
// any other name becomes "container-other".
var knownContainers = table[bool]{
	{"lxc", true}, {"lxc-libvirt", true}, {"systemd-nspawn", true}, {"docker", true}, {"podman", true},
	{"rkt", true}, {"wsl", true}, {"proot", true}, {"pouch", true}, {"openvz", true},
}

func containerName(n string) string {
	if knownContainers.has(n) {
		return n
	}
	return "container-other"
}

// detect decides the verdict. Containers come first, as in systemd: a
// container shares its host's DMI and CPUID, so a VM test says nothing about
// it. The VM evidence found under a container is still listed.
func detect(c *collector) Verdict {
	ct, cev := detectContainer(c)
	vt, vev := detectVM(c)
	switch {
	case ct != "":
		v := Verdict{Type: TypeContainer, Technology: ct, Evidence: cev}
		for _, e := range vev {
			v.Evidence = append(v.Evidence, "also: "+e)
		}
		return v
	case vt != "":
		return Verdict{Type: TypeVM, Technology: vt, Evidence: vev}
	}
	if vev == nil {
		vev = []string{}
	}
	return Verdict{Type: TypeNone, Technology: TypeNone, Evidence: vev}
}

// detectContainer follows systemd's detect_container order, then adds the
// cgroup-path, mountinfo and Kubernetes leaks systemd does not check.
func detectContainer(c *collector) (string, []string) {
	// A ptrace supervisor can fake every file and syscall result.
	if tp := statusField([]byte(c.text("/proc/self/status")), "TracerPid"); tp != "" && tp != "0" {
		if n, err := strconv.Atoi(tp); err == nil && n > 0 {
			comm := c.line("/proc/" + tp + "/comm")
			if strings.HasPrefix(comm, "proot") {
				return "proot", []string{fmt.Sprintf("traced by PID %s (%s): proot", tp, comm)}
			}
			return "ptrace", []string{fmt.Sprintf("traced by PID %s (%q): a tracer can fake every fact; run hwid without strace, gdb or proot", tp, comm)}
		}
	}
	if c.exists("/proc/vz") && !c.exists("/proc/bc") {
		return "openvz", []string{"/proc/vz exists without /proc/bc (OpenVZ guest)"}
	}
	if rel := c.line("/proc/sys/kernel/osrelease"); strings.Contains(rel, "Microsoft") || strings.Contains(rel, "WSL") {
		return "wsl", []string{fmt.Sprintf("kernel release %q names WSL", rel)}
	}
	if m := c.line("/run/host/container-manager"); m != "" {
		return fromManager(c, m, "/run/host/container-manager")
	}
	if m := c.line("/run/systemd/container"); m != "" {
		return fromManager(c, m, "/run/systemd/container")
	}
	if env, ok := c.raw("/proc/1/environ"); ok {
		if m, ok := parseEnviron([]byte(env))["container"]; ok && m != "" {
			return fromManager(c, m, "container= in the environment of PID 1")
		}
	}
	if t, ev := containerFiles(c); t != "" {
		return t, ev
	}
	if t, ev := containerCgroup(c); t != "" {
		return t, ev
	}
	if t, ev := containerMounts(c); t != "" {
		return t, ev
	}
	if c.exists("/var/run/secrets/kubernetes.io/serviceaccount") {
		return "container-other", []string{"/var/run/secrets/kubernetes.io/serviceaccount exists (Kubernetes pod)"}
	}
	// A cgroup namespace: inside one, /sys/fs/cgroup is a non-root cgroup.
	if c.exists("/sys/fs/cgroup/cgroup.events") && (c.exists("/sys/fs/cgroup/cgroup.type") || !c.exists("/sys/kernel/cgroup/features")) {
		return "container-other", []string{"/sys/fs/cgroup is a non-root cgroup (cgroup namespace)"}
	}
	if c.exists("/sys/fs/cgroup/systemd") && !c.exists("/sys/fs/cgroup/systemd/release_agent") {
		return "container-other", []string{"/sys/fs/cgroup/systemd lacks release_agent (cgroup v1 namespace)"}
	}
	return "", nil
}

func fromManager(c *collector, m, where string) (string, []string) {
	ev := []string{fmt.Sprintf("%s says %q", where, m)}
	if m == "oci" {
		if t, fev := containerFiles(c); t != "" {
			return t, append(ev, fev...)
		}
		return "container-other", ev
	}
	return containerName(m), ev
}

// containerFiles checks the marker files; docker last, because .dockerenv
// can leak into images.
func containerFiles(c *collector) (string, []string) {
	if c.exists("/run/.containerenv") {
		return "podman", []string{"/run/.containerenv exists"}
	}
	if c.exists("/.dockerenv") {
		return "docker", []string{"/.dockerenv exists"}
	}
	return "", nil
}

// containerCgroup looks for container runtimes in our own cgroup paths.
func containerCgroup(c *collector) (string, []string) {
	data, _ := c.raw("/proc/self/cgroup")
	for _, l := range parseCgroup([]byte(data)) {
		p := l.Path
		ev := []string{fmt.Sprintf("/proc/self/cgroup: %q", l.Hierarchy+":"+l.Controllers+":"+p)}
		switch {
		case strings.Contains(p, "/docker/") || strings.Contains(p, "/docker-") || strings.Contains(p, "/actions_job/"):
			return "docker", ev
		case strings.Contains(p, "libpod-") || strings.Contains(p, "/libpod_parent/"):
			return "podman", ev
		case strings.Contains(p, "/lxc/") || strings.Contains(p, "/lxc.payload"):
			return "lxc", ev
		case strings.Contains(p, "/kubepods"), strings.Contains(p, "containerd"), strings.Contains(p, "/cri-containerd-"):
			return "container-other", ev
		}
		for _, seg := range strings.Split(p, "/") {
			seg = strings.TrimSuffix(seg, ".scope")
			if i := strings.LastIndexByte(seg, '-'); i >= 0 {
				seg = seg[i+1:]
			}
			if len(seg) == 64 && isHex(seg) {
				return "container-other", ev
			}
		}
	}
	return "", nil
}

// containerMounts inspects only the mount of / (a host running containers
// lists their overlays too) and the files bind-mounted over /etc and /proc.
func containerMounts(c *collector) (string, []string) {
	data, _ := c.raw("/proc/self/mountinfo")
	for _, m := range parseMountinfo([]byte(data)) {
		line := fmt.Sprintf("/proc/self/mountinfo: %s on %s (%s)", m.FSType, m.MountPoint, m.Root)
		switch {
		case m.MountPoint == "/" && (m.FSType == "overlay" || m.FSType == "aufs"):
			switch {
			case strings.Contains(m.SuperOpts, "/var/lib/docker/"):
				return "docker", []string{line + " with layers under /var/lib/docker"}
			case strings.Contains(m.SuperOpts, "/var/lib/containers/") || strings.Contains(m.SuperOpts, "/.local/share/containers/"):
				return "podman", []string{line + " with layers under containers/storage"}
			case strings.Contains(m.SuperOpts, "containerd"):
				return "container-other", []string{line + " with layers under containerd"}
			}
		case (m.MountPoint == "/etc/hostname" || m.MountPoint == "/etc/resolv.conf" || m.MountPoint == "/etc/hosts") && strings.Contains(m.Root, "/docker/containers/"):
			return "docker", []string{line}
		case m.FSType == "fuse.lxcfs" && strings.HasPrefix(m.MountPoint, "/proc/"):
			return "lxc", []string{line}
		}
	}
	return "", nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// cpuidVendors maps trimmed CPUID 0x40000000 signatures to technologies.
var cpuidVendors = table[string]{
	{"KVMKVMKVM", "kvm"},
	{"Linux KVM Hv", "kvm"},
	{"TCGTCGTCGTCG", "qemu"},
	{"VMwareVMware", "vmware"},
	{"Microsoft Hv", "microsoft"},
	{"XenVMMXenVMM", "xen"},
	{"bhyve bhyve", "bhyve"},
	{"BHyVE BHyVE", "bhyve"},
	{"QNXQVMBSQG", "qnx"},
	{"ACRNACRNACRN", "acrn"},
	{"SRESRESRESRE", "sre"},
	{"Apple VZ", "apple"},
	{"VBoxVBoxVBox", "oracle"},
	{"prl hyperv", "parallels"},
	{"lrpepyh  vr", "parallels"},
}

// dmiVendors is systemd's DMI prefix table, in order, with Nutanix, oVirt
// and RHEV added. "Oracle Corporation" is deliberately absent: real Oracle
// servers report it. "Microsoft Corporation" is absent: Surface laptops.
var dmiVendors = []struct{ prefix, tech string }{
	{"KVM", "kvm"},
	{"OpenStack", "kvm"},
	{"KubeVirt", "kvm"},
	{"Amazon EC2", "amazon"},
	{"QEMU", "qemu"},
	{"VMware", "vmware"},
	{"VMW", "vmware"},
	{"innotek GmbH", "oracle"},
	{"VirtualBox", "oracle"},
	{"Xen", "xen"},
	{"Bochs", "bochs"},
	{"Parallels", "parallels"},
	{"BHYVE", "bhyve"},
	{"Hyper-V", "microsoft"},
	{"Apple Virtualization", "apple"},
	{"Google Compute Engine", "google"},
	{"Nutanix", "kvm"},
	{"oVirt", "kvm"},
	{"RHEV Hypervisor", "kvm"},
}

// dmiVM applies the DMI table: the first file with a match wins.
func dmiVM(c *collector) (string, string) {
	for _, f := range []string{"product_name", "sys_vendor", "board_vendor", "bios_vendor", "product_version"} {
		v := c.dmi(f)
		if v == "" {
			continue
		}
		for _, e := range dmiVendors {
			if strings.HasPrefix(v, e.prefix) {
				return e.tech, fmt.Sprintf("DMI %s %q", f, v)
			}
		}
	}
	// Hyper-V Gen1 on old hosts shows only this pair (a Surface shows a
	// product name such as "Surface Laptop 3").
	if c.dmi("sys_vendor") == "Microsoft Corporation" && c.dmi("product_name") == "Virtual Machine" {
		return "microsoft", `DMI sys_vendor "Microsoft Corporation" with product_name "Virtual Machine"`
	}
	return "", ""
}

// hvBit reports the hypervisor bit: from CPUID when known, else from the
// "hypervisor" flag of /proc/cpuinfo. known is false when neither says.
func hvBit(c *collector, cpu cpuInfo) (set, known bool, ev string) {
	if id := c.src.cpuid(); id != nil {
		return id.HypervisorBit, true, "CPUID hypervisor bit set"
	}
	if cpu.Hypervisor {
		return true, true, `/proc/cpuinfo flags include "hypervisor"`
	}
	if cpu.VendorID == "GenuineIntel" || cpu.VendorID == "AuthenticAMD" || cpu.VendorID == "HygonGenuine" {
		return false, true, ""
	}
	return false, false, ""
}

// detectVM follows systemd's detect_vm order (DMI, UML, Xen, CPUID, DMI
// again, /sys/hypervisor, device tree, s390), then the secondary leaks that
// survive spoofed DMI and a hidden hypervisor bit. It returns the technology
// ("" for none) and every piece of evidence seen.
func detectVM(c *collector) (string, []string) {
	var ev []string
	cpuData, _ := c.raw("/proc/cpuinfo")
	cpu := parseCPUInfo([]byte(cpuData))
	hv, hvKnown, hvEv := hvBit(c, cpu)

	// Leaks first, so the evidence is complete whatever decides.
	strong, weak := leaks(c, cpu)

	dmiTech, dmiEv := dmiVM(c)
	if dmiEv != "" {
		ev = append(ev, dmiEv)
	}
	dom0, xenEv := xenDom0(c)
	ev = append(ev, xenEv...)

	var cpuTech string
	hyperv, other := false, false
	if hv {
		ev = append(ev, hvEv)
		if id := c.src.cpuid(); id != nil {
			s0, s1 := strings.TrimSpace(id.Leaf40000000), strings.TrimSpace(id.Leaf40000100)
			if s0 != "" {
				ev = append(ev, fmt.Sprintf("CPUID leaf 0x40000000 %q", s0))
			}
			if s1 != "" && s1 != s0 {
				ev = append(ev, fmt.Sprintf("CPUID leaf 0x40000100 %q", s1))
			}
			switch t := cpuidVendors.at(s0); {
			case t == "microsoft" && cpuidVendors.at(s1) == "kvm":
				cpuTech = "kvm" // QEMU with Hyper-V enlightenments
			case t == "microsoft":
				hyperv = true
			case t != "":
				cpuTech = t
			default:
				other = true
			}
		} else {
			other = true
		}
	}
	for _, l := range strong {
		ev = append(ev, l.ev)
	}
	for _, l := range weak {
		ev = append(ev, l.ev+" (weak)")
	}

	switch dmiTech {
	case "amazon", "google":
		// Cloud bare-metal instances carry the cloud's DMI strings but no
		// hypervisor: decide by the hypervisor bit, then by the SMBIOS VM bit
		// and the instance name.
		if hvKnown && !hv && len(strong) == 0 {
			return "", append(ev, fmt.Sprintf("no hypervisor bit: a %s bare-metal instance", dmiTech))
		}
		if !hvKnown && dmiTech == "amazon" {
			if bit, ok := smbiosVMBit(c); ok {
				if bit {
					return "amazon", append(ev, "SMBIOS BIOS characteristics: virtual machine bit set")
				}
				return "", append(ev, "SMBIOS BIOS characteristics: virtual machine bit clear (bare-metal instance)")
			}
			if isMetalName(c.dmi("product_name")) {
				return "", append(ev, "product name names a .metal instance")
			}
		}
		return dmiTech, ev
	case "xen":
		if dom0 {
			return "xen", append(ev, "Xen dom0: this is the control domain of a Xen host, itself a guest of the hypervisor")
		}
		return "xen", ev
	case "oracle", "parallels":
		return dmiTech, ev
	}
	if strings.HasPrefix(cpu.VendorID, "User Mode Linux") {
		return "uml", append(ev, "/proc/cpuinfo vendor_id User Mode Linux")
	}
	if c.exists("/proc/xen") {
		if dom0 {
			return "xen", append(ev, "Xen dom0: this is the control domain of a Xen host, itself a guest of the hypervisor")
		}
		return "xen", append(ev, "/proc/xen exists (Xen domU)")
	}
	if cpuTech != "" {
		return cpuTech, ev
	}
	if dmiTech != "" {
		return dmiTech, ev
	}
	if t := c.line("/sys/hypervisor/type"); t != "" {
		ev = append(ev, fmt.Sprintf("/sys/hypervisor/type %q", t))
		if t == "xen" {
			return "xen", ev
		}
		return "vm-other", ev
	}
	if t, e := deviceTree(c); t != "" {
		return t, append(ev, e)
	}
	if sysinfo, ok := c.raw("/proc/sysinfo"); ok {
		for _, l := range strings.Split(sysinfo, "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "VM00 Control Program" {
				v = strings.TrimSpace(v)
				ev = append(ev, fmt.Sprintf("/proc/sysinfo VM00 Control Program %q", v))
				if strings.HasPrefix(v, "z/VM") {
					return "zvm", ev
				}
				return "kvm", ev
			}
		}
	}
	if len(strong) > 0 {
		return strong[0].tech, ev
	}
	if hyperv {
		return "microsoft", ev
	}
	if other {
		return "vm-other", ev
	}
	if len(weak) >= 2 {
		return "vm-other", append(ev, fmt.Sprintf("%d weak signs of a virtual machine together", len(weak)))
	}
	return "", ev
}

// xenDom0 reports whether this is a Xen control domain (dom0).
func xenDom0(c *collector) (bool, []string) {
	if feat := c.line("/sys/hypervisor/properties/features"); feat != "" {
		if n, err := strconv.ParseUint(strings.TrimPrefix(feat, "0x"), 16, 64); err == nil && n&(1<<11) != 0 {
			return true, []string{"/sys/hypervisor/properties/features has XENFEAT_dom0"}
		}
	}
	if caps, ok := c.raw("/proc/xen/capabilities"); ok {
		for _, t := range strings.Split(strings.TrimSpace(caps), ",") {
			if strings.TrimSpace(t) == "control_d" {
				return true, []string{"/proc/xen/capabilities has control_d"}
			}
		}
	}
	return false, nil
}

// smbiosVMBit reads the "virtual machine" bit of SMBIOS type 0 (root only).
func smbiosVMBit(c *collector) (bool, bool) {
	raw, ok := c.raw("/sys/firmware/dmi/entries/0-0/raw")
	if !ok || len(raw) < 20 || raw[1] < 20 {
		return false, false
	}
	return raw[0x13]&(1<<4) != 0, true
}

func isMetalName(n string) bool {
	i := strings.Index(n, ".metal")
	return i >= 0 && (i+6 == len(n) || n[i+6] == '-')
}

// deviceTree checks the device tree of arm, ppc and riscv machines.
func deviceTree(c *collector) (string, string) {
	const dt = "/proc/device-tree"
	if compat, ok := c.raw(dt + "/hypervisor/compatible"); ok {
		s := strings.Split(strings.TrimRight(compat, "\x00\n"), "\x00")
		ev := fmt.Sprintf("device tree hypervisor compatible %q", strings.Join(s, ","))
		switch {
		case len(s) > 0 && s[0] == "linux,kvm":
			return "kvm", ev
		case strings.Contains(compat, "xen"):
			return "xen", ev
		case strings.Contains(compat, "vmware"):
			return "vmware", ev
		}
		return "vm-other", ev
	}
	if c.exists(dt+"/ibm,partition-name") && c.exists(dt+"/hmc-managed?") && !c.exists(dt+"/chosen/qemu,graphic-width") {
		return "powervm", "device tree: IBM partition managed by an HMC"
	}
	for _, e := range c.dir(dt) {
		if strings.Contains(e, "fw-cfg") {
			return "qemu", fmt.Sprintf("device tree node %q (QEMU fw_cfg)", e)
		}
	}
	compat := strings.TrimRight(c.text(dt+"/compatible"), "\x00\n")
	switch {
	case compat == "qemu,pseries":
		return "qemu", "device tree compatible qemu,pseries"
	case strings.Contains(compat, "linux,dummy-virt"):
		return "vm-other", "device tree compatible linux,dummy-virt (kvmtool)"
	}
	return "", ""
}

type leak struct {
	tech, ev string
}

// virtPCIVendors are PCI vendor IDs that only virtual hardware carries.
var virtPCIVendors = table[pciVendor]{
	{"0x1af4", pciVendor{"kvm", "Red Hat virtio"}},
	{"0x1b36", pciVendor{"qemu", "Red Hat QEMU"}},
	{"0x15ad", pciVendor{"vmware", "VMware"}},
	{"0x80ee", pciVendor{"oracle", "VirtualBox"}},
	{"0x1ab8", pciVendor{"parallels", "Parallels"}},
	{"0x5853", pciVendor{"xen", "XenSource"}},
	{"0xfffd", pciVendor{"xen", "Xen"}},
}

type pciVendor struct{ tech, name string }

// vmOUIs are MAC prefixes of virtual network cards. They are only weak
// signs: a MAC can be set to anything.
var vmOUIs = table[string]{
	{"08:00:27", "oracle"}, {"00:05:69", "vmware"}, {"00:0c:29", "vmware"}, {"00:1c:14", "vmware"},
	{"00:50:56", "vmware"}, {"00:1c:42", "parallels"}, {"00:16:3e", "xen"}, {"00:15:5d", "microsoft"},
	{"52:54:00", "kvm"},
}

// guestModules are kernel modules that load only inside a guest (kvm,
// kvm_intel and vboxdrv are host modules and are not listed).
var guestModules = table[string]{
	{"hv_vmbus", "microsoft"}, {"vboxguest", "oracle"}, {"vmw_balloon", "vmware"},
	{"xen_blkfront", "xen"}, {"xen_netfront", "xen"}, {"virtio_balloon", "kvm"},
}

// leaks gathers the secondary signs of a VM that survive spoofed DMI and a
// hidden hypervisor bit. Strong ones decide alone; weak ones only in pairs.
func leaks(c *collector, cpu cpuInfo) (strong, weak []leak) {
	for _, d := range c.dir("/sys/bus/pci/devices") {
		p := "/sys/bus/pci/devices/" + d
		v, sv := c.line(p+"/vendor"), c.line(p+"/subsystem_vendor")
		if x, ok := virtPCIVendors.get(v); ok {
			strong = append(strong, leak{x.tech, fmt.Sprintf("PCI device %s vendor %s (%s)", d, strings.TrimPrefix(v, "0x"), x.name)})
		} else if x, ok := virtPCIVendors.get(sv); ok && sv == "0x1af4" {
			strong = append(strong, leak{x.tech, fmt.Sprintf("PCI device %s subsystem vendor %s (QEMU)", d, strings.TrimPrefix(sv, "0x"))})
		} else if v == "0x1414" && c.line(p+"/device") == "0x5353" {
			strong = append(strong, leak{"microsoft", fmt.Sprintf("PCI device %s 1414:5353 (Hyper-V video)", d)})
		}
	}
	for _, b := range []struct{ dir, tech, name string }{
		{"/sys/bus/vmbus/devices", "microsoft", "Hyper-V VMBus"},
		{"/sys/bus/xen/devices", "xen", "Xen bus"},
		{"/sys/bus/virtio/devices", "kvm", "virtio bus"},
	} {
		if n := len(c.dir(b.dir)); n > 0 {
			strong = append(strong, leak{b.tech, fmt.Sprintf("%s has %d devices (%s)", b.dir, n, b.name)})
		}
	}
	if c.exists("/sys/firmware/qemu_fw_cfg") {
		strong = append(strong, leak{"qemu", "/sys/firmware/qemu_fw_cfg exists (QEMU firmware config)"})
	}
	for _, d := range disks(c) {
		if t, name := virtualDisk(d.vendor, d.model); t != "" {
			strong = append(strong, leak{t, fmt.Sprintf("disk %s %s %q (%s)", d.name, d.vendor, d.model, name)})
		}
	}
	for _, tok := range []struct{ s, tech string }{
		{"QEMU Virtual CPU", "qemu"}, {"Common KVM processor", "kvm"}, {"Common 32-bit KVM processor", "kvm"},
	} {
		if strings.Contains(cpu.ModelName, tok.s) {
			strong = append(strong, leak{tok.tech, fmt.Sprintf("CPU model name %q", cpu.ModelName)})
		}
	}
	switch cs := c.line("/sys/devices/system/clocksource/clocksource0/current_clocksource"); {
	case cs == "kvm-clock":
		strong = append(strong, leak{"kvm", "clock source kvm-clock"})
	case strings.HasPrefix(cs, "hyperv"):
		strong = append(strong, leak{"microsoft", fmt.Sprintf("clock source %s", cs)})
	case cs == "xen":
		strong = append(strong, leak{"xen", "clock source xen"})
	}
	if c.src.rootRead() {
		for _, t := range []string{"DSDT", "FACP"} {
			h, ok := c.head("/sys/firmware/acpi/tables/"+t, 36)
			if !ok || len(h) < 24 {
				continue
			}
			oem, table := strings.TrimSpace(h[10:16]), strings.TrimSpace(h[16:24])
			if tech := acpiVM(oem, table); tech != "" {
				strong = append(strong, leak{tech, fmt.Sprintf("ACPI %s OEM ID %q table ID %q", t, oem, table)})
			}
		}
	}

	mods, _ := c.raw("/proc/modules")
	for _, l := range strings.Split(mods, "\n") {
		name, _, _ := strings.Cut(l, " ")
		if t, ok := guestModules.get(name); ok {
			weak = append(weak, leak{t, fmt.Sprintf("guest kernel module %s loaded", name)})
		}
	}
	// Every card backed by a device counts here, locally administered
	// addresses included: QEMU's 52:54:00 has that bit set.
	for _, n := range c.dir("/sys/class/net") {
		p := "/sys/class/net/" + n
		if !c.exists(p + "/device") {
			continue
		}
		a := strings.ToLower(c.line(p + "/address"))
		if t, ok := vmOUIs.get(a[:min(8, len(a))]); ok {
			weak = append(weak, leak{t, fmt.Sprintf("network card %s has a %s MAC prefix (%s)", n, t, a[:8])})
		}
	}
	if c.dmi("chassis_type") == "1" {
		weak = append(weak, leak{"vm-other", `DMI chassis_type 1 ("Other")`})
	}
	if bv, sv := c.dmi("board_vendor"), c.dmi("sys_vendor"); bv == "Oracle Corporation" && sv != "Oracle Corporation" {
		weak = append(weak, leak{"oracle", fmt.Sprintf("DMI board_vendor %q under sys_vendor %q", bv, sv)})
	}
	for _, cv := range []string{"DigitalOcean", "Hetzner", "Vultr", "Linode", "Akamai", "UpCloud", "Scaleway", "Alibaba Cloud", "Tencent Cloud", "3DS Outscale", "e24cloud", "Tilaa"} {
		if c.dmi("sys_vendor") == cv {
			weak = append(weak, leak{"vm-other", fmt.Sprintf("DMI sys_vendor %q (a cloud)", cv)})
		}
	}
	switch tag := c.dmi("chassis_asset_tag"); tag {
	case "OracleCloud.com", "OpenStack Nova", "OpenStack Compute", "OpenTelekomCloud", "HUAWEICLOUD", "SAP CCloud VM", "Samsung Cloud Platform", "7783-7084-3265-9085-8269-3286-77":
		weak = append(weak, leak{"vm-other", fmt.Sprintf("DMI chassis_asset_tag %q (a cloud)", tag)})
	}
	return strong, weak
}

// virtualDisk names the hypervisor behind a virtual disk model.
func virtualDisk(vendor, model string) (string, string) {
	switch {
	case strings.HasPrefix(model, "QEMU "):
		return "qemu", "QEMU emulated disk"
	case strings.HasPrefix(model, "VBOX "):
		return "oracle", "VirtualBox emulated disk"
	case vendor == "VMware" || strings.HasPrefix(model, "VMware "):
		return "vmware", "VMware virtual disk"
	case vendor == "Msft" && strings.HasPrefix(model, "Virtual Disk"):
		return "microsoft", "Hyper-V virtual disk"
	}
	return "", ""
}

// acpiVM maps ACPI OEM and table IDs, compared as whole tokens.
func acpiVM(oem, table string) string {
	switch {
	case oem == "BOCHS" || table == "BXPC" || strings.HasPrefix(table, "BXPC"):
		return "qemu"
	case oem == "VBOX" || strings.HasPrefix(table, "VBOX"):
		return "oracle"
	case oem == "VRTUAL":
		return "microsoft"
	case oem == "VMWARE" || strings.HasPrefix(table, "VMW"):
		return "vmware"
	case oem == "PRLS" || strings.HasPrefix(table, "PRLS"):
		return "parallels"
	case oem == "Xen":
		return "xen"
	}
	return ""
}

// hostname and osName describe the machine for a license request.
func hostname(c *collector) string { return c.line("/proc/sys/kernel/hostname") }

func osName(c *collector) string {
	rel, _ := c.raw("/etc/os-release")
	name := osReleaseField([]byte(rel), "PRETTY_NAME")
	if name == "" {
		name = "Linux"
	}
	if k := c.line("/proc/sys/kernel/osrelease"); k != "" {
		name += " (kernel " + k + ")"
	}
	return name
}
