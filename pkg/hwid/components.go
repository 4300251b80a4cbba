package hwid

import (
	"encoding/hex"
	"sort"
	"strings"

	"github.com/airseal/airseal/pkg/fingerprint"
)

// Component names.
const (
	CompSystemUUID   = "system_uuid"   // SMBIOS system UUID (root only)
	CompSystemSerial = "system_serial" // SMBIOS system serial number (root only)
	CompBoardSerial  = "board_serial"  // SMBIOS base board serial number (root only)
	CompCPU          = "cpu"           // processor vendor, family, model, stepping and name
	CompMAC          = "mac"           // permanent address of an on-board or PCI network card
	CompDisk         = "disk_serial"   // serial number of a fixed disk
	CompMachineID    = "machine_id"    // /etc/machine-id (an operating system install ID)
)

// Default weights. A board-level identifier outweighs anything that is
// commonly replaced.
const (
	weightUUID      = 3
	weightSerial    = 2
	weightCPU       = 1
	weightMachineID = 1
	maxMACs         = 4 // at most this many network cards count: 2 each for one or two, 1 each for three or four
	maxDisks        = 3 // at most this many disks count, weight 1 each
)

// rawComponent is a component before hashing.
type rawComponent struct {
	name      string
	weight    int
	value     string
	needsRoot bool
}

type nic struct {
	name, addr string
}

// nics lists network cards backed by a bus device, with their permanent
// (factory) address: virtual interfaces (bridges, veth, tun, docker0) have
// no device link; an address made up or set by software (addr_assign_type 1
// or 3) is skipped; a bond slave's factory address is read from the bonding
// driver; USB cards come and go with docks and are skipped.
func nics(c *collector) []nic {
	var out []nic
	for _, n := range c.dir("/sys/class/net") {
		p := "/sys/class/net/" + n
		if !c.exists(p + "/device") {
			continue
		}
		if strings.HasPrefix(c.line(p+"/device/modalias"), "usb:") {
			continue
		}
		addr := c.line(p + "/address")
		switch c.line(p + "/addr_assign_type") {
		case "", "0": // NET_ADDR_PERM: the address is the factory one
		case "2":
			// NET_ADDR_STOLEN: a bond slave wearing the bond's address;
			// the bonding driver keeps the factory one.
			addr = c.line(p + "/bonding_slave/perm_hwaddr")
		default: // random or set by software
			continue
		}
		if a := normalizeMAC(addr); a != "" {
			out = append(out, nic{name: n, addr: a})
		}
	}
	return out
}

type disk struct {
	name, vendor, model, serial string
}

// skipDisk reports block devices that are not fixed disks.
func skipDisk(name string) bool {
	// nvme0c0n1: a hidden path of a multipath namespace, not a disk.
	if strings.HasPrefix(name, "nvme") && strings.Contains(strings.TrimPrefix(name, "nvme"), "c") {
		return true
	}
	for _, p := range []string{"loop", "ram", "zram", "dm-", "md", "sr", "nbd", "fd", "zd", "rbd", "mmcblk0boot"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// disks lists fixed disks with their model and serial. The serial comes
// from sysfs (NVMe, virtio, SCSI) or from udev's database (SATA, whose
// serial libata does not expose in sysfs). Removable and USB disks are
// skipped.
func disks(c *collector) []disk {
	var out []disk
	for _, n := range c.dir("/sys/block") {
		if skipDisk(n) {
			continue
		}
		p := "/sys/block/" + n
		if c.line(p+"/removable") == "1" {
			continue
		}
		d := disk{name: n, vendor: collapse(c.line(p + "/device/vendor")), model: collapse(c.line(p + "/device/model"))}
		var udev map[string]string
		if dev := c.line(p + "/dev"); dev != "" {
			udev = udevProps(c.text("/run/udev/data/b" + dev))
		}
		if udev["ID_BUS"] == "usb" {
			continue
		}
		for _, s := range []string{c.line(p + "/device/serial"), c.line(p + "/serial"), udev["ID_SERIAL_SHORT"]} {
			if s = normalizeSerial(s); s != "" {
				d.serial = s
				break
			}
		}
		if d.model == "" {
			d.model = collapse(udev["ID_MODEL"])
		}
		out = append(out, d)
	}
	return out
}

// udevProps parses the E: lines of a udev database file.
func udevProps(data string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(data, "\n") {
		if kv, ok := strings.CutPrefix(l, "E:"); ok {
			if k, v, ok := strings.Cut(kv, "="); ok {
				m[k] = v
			}
		}
	}
	return m
}

// rootOnly are the components an unprivileged process cannot read.
var rootOnly = []string{CompSystemUUID, CompSystemSerial, CompBoardSerial}

// components gathers and normalises the machine's identifying components.
// Correlated fields count once: a Dell UUID encodes the service tag that is
// also the system serial and part of the board serial; a VMware or AWS
// serial repeats the UUID.
func components(c *collector) []rawComponent {
	var out []rawComponent
	if c.src.rootRead() {
		rawUUID := strings.ToLower(c.dmi("product_uuid"))
		uuid := normalizeUUID(rawUUID)
		sys := normalizeSerial(c.dmi("product_serial"))
		board := normalizeSerial(c.dmi("board_serial"))
		if uuid != "" {
			out = append(out, rawComponent{CompSystemUUID, weightUUID, uuid, true})
			tag := dellServiceTag(rawUUID)
			if tag == "" {
				if b, err := hex.DecodeString(strings.ReplaceAll(rawUUID, "-", "")); err == nil && len(b) == 16 {
					tag = dellServiceTag(formatUUID(swapUUID(b)))
				}
			}
			if tag != "" {
				if strings.EqualFold(sys, tag) {
					sys = ""
				}
				if strings.Contains(strings.ToUpper(board), tag) {
					board = ""
				}
			}
			if sys != "" && serialRepeatsUUID(sys, uuid) {
				sys = ""
			}
			if board != "" && serialRepeatsUUID(board, uuid) {
				board = ""
			}
		}
		if sys != "" {
			out = append(out, rawComponent{CompSystemSerial, weightSerial, sys, true})
		}
		if board != "" && !strings.EqualFold(board, sys) {
			out = append(out, rawComponent{CompBoardSerial, weightSerial, board, true})
		}
	}
	cpuData, _ := c.raw("/proc/cpuinfo")
	if v := cpuValue(parseCPUInfo([]byte(cpuData))); v != "" {
		out = append(out, rawComponent{CompCPU, weightCPU, v, false})
	}
	var macs []string
	for _, n := range nics(c) {
		macs = append(macs, n.addr)
	}
	sort.Strings(macs)
	macs = dedup(macs)
	if len(macs) > maxMACs {
		macs = macs[:maxMACs]
	}
	macWeight := 2
	if len(macs) > 2 {
		macWeight = 1
	}
	for _, m := range macs {
		out = append(out, rawComponent{CompMAC, macWeight, m, false})
	}
	var serials []string
	for _, d := range disks(c) {
		if d.serial != "" {
			serials = append(serials, d.serial)
		}
	}
	sort.Strings(serials)
	serials = dedup(serials)
	if len(serials) > maxDisks {
		serials = serials[:maxDisks]
	}
	for _, s := range serials {
		out = append(out, rawComponent{CompDisk, 1, s, false})
	}
	if id := strings.ToLower(c.line("/etc/machine-id")); len(id) == 32 && isHex(id) && strings.Trim(id, "0") != "" {
		out = append(out, rawComponent{CompMachineID, weightMachineID, id, false})
	}
	return out
}

// serialRepeatsUUID reports a serial that merely spells the UUID, as VMware
// ("VMware-56 4d bc 2c ...") and AWS (the UUID itself) do.
func serialRepeatsUUID(serial, uuid string) bool {
	h := strings.ToLower(strings.NewReplacer(" ", "", "-", "", ":", "").Replace(strings.TrimPrefix(serial, "VMware-")))
	u := strings.ReplaceAll(uuid, "-", "")
	if h == u {
		return true
	}
	b, err := hex.DecodeString(u)
	if err != nil {
		return false
	}
	return h == strings.ReplaceAll(formatUUID(swapUUID(b)), "-", "")
}

// cpuValue is the processor identity: vendor, family, model, stepping and
// brand, never the flags or microcode, which change with updates.
func cpuValue(ci cpuInfo) string {
	var parts []string
	if ci.VendorID != "" || ci.ModelName != "" {
		parts = []string{ci.VendorID, ci.Family, ci.Model, ci.Stepping, collapse(ci.ModelName)}
	} else if ci.Implementer != "" {
		parts = []string{"arm", ci.Implementer, ci.Part}
	} else {
		return ""
	}
	return strings.Join(parts, "|")
}

func dedup(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// defaultNeed is the default match rule: any one component may change (the
// total less the heaviest weight), but the weak components, which a
// different machine can share (the CPU model, a machine-id cloned with a
// disk image), never suffice on their own. A machine with a single hardware
// component therefore cannot lose it.
func defaultNeed(total, heaviest, weak int) int {
	need := max(total-heaviest, weak+1)
	return min(max(need, 1), total)
}

// weakComponents can be shared by different machines.
func weakComponent(name string) bool { return name == CompCPU || name == CompMachineID }

// buildFingerprint hashes the components for a product and applies the
// binding policy (BindingRule) for their weights and the match rule.
func buildFingerprint(product string, raw []rawComponent) fingerprint.Fingerprint {
	comps := make([]fingerprint.Component, 0, len(raw))
	for _, r := range raw {
		comps = append(comps, fingerprint.Component{
			Name: r.name, Weight: r.weight, Hash: fingerprint.HashValue(product, r.name, r.value), NeedsRoot: r.needsRoot,
		})
	}
	if len(comps) == 0 {
		return fingerprint.Fingerprint{Components: comps}
	}
	// The only errors are ErrWeakBinding, which still returns the rule,
	// and names or counts hwid itself never produces.
	f, _ := BindingRule(comps)
	return f
}
