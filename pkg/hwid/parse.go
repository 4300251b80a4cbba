package hwid

import (
	"strconv"
	"strings"
)

// cpuInfo is what the collector uses from /proc/cpuinfo.
type cpuInfo struct {
	VendorID    string // vendor_id of the first processor (x86, s390)
	ModelName   string // model name of the first processor
	Family      string // cpu family
	Model       string // model
	Stepping    string // stepping
	Implementer string // CPU implementer (arm)
	Part        string // CPU part (arm)
	Hypervisor  bool   // some processor lists the "hypervisor" flag
	Processors  int    // number of processor blocks
}

// parseCPUInfo parses /proc/cpuinfo. Unknown lines are ignored; it never
// fails, because a partial cpuinfo still carries useful facts.
func parseCPUInfo(data []byte) cpuInfo {
	var c cpuInfo
	first := true
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			if strings.TrimSpace(line) == "" && c.Processors > 0 {
				first = false
			}
			continue
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		switch k {
		case "processor":
			c.Processors++
			if c.Processors > 1 {
				first = false
			}
			continue
		case "flags", "Features":
			for _, f := range strings.Fields(v) {
				if f == "hypervisor" {
					c.Hypervisor = true
				}
			}
			continue
		}
		if !first {
			continue
		}
		switch k {
		case "vendor_id":
			setOnce(&c.VendorID, v)
		case "model name":
			setOnce(&c.ModelName, v)
		case "cpu family":
			setOnce(&c.Family, v)
		case "model":
			setOnce(&c.Model, v)
		case "stepping":
			setOnce(&c.Stepping, v)
		case "CPU implementer":
			setOnce(&c.Implementer, v)
		case "CPU part":
			setOnce(&c.Part, v)
		}
	}
	return c
}

func setOnce(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// mount is one line of /proc/self/mountinfo.
type mount struct {
	Root       string // root of the mount within its filesystem (field 4)
	MountPoint string // field 5
	FSType     string // after the " - " separator
	Source     string
	SuperOpts  string
}

// parseMountinfo parses /proc/self/mountinfo, skipping malformed lines.
func parseMountinfo(data []byte) []mount {
	var out []mount
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f := strings.Fields(pre)
		g := strings.Fields(post)
		if len(f) < 6 || len(g) < 1 {
			continue
		}
		m := mount{Root: unescapeMount(f[3]), MountPoint: unescapeMount(f[4]), FSType: g[0]}
		if len(g) > 1 {
			m.Source = unescapeMount(g[1])
		}
		if len(g) > 2 {
			m.SuperOpts = g[2]
		}
		out = append(out, m)
	}
	return out
}

// unescapeMount undoes the kernel's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupLine is one line of /proc/self/cgroup: "hierarchy:controllers:path".
type cgroupLine struct {
	Hierarchy   string
	Controllers string
	Path        string
}

// parseCgroup parses /proc/self/cgroup, skipping malformed lines.
func parseCgroup(data []byte) []cgroupLine {
	var out []cgroupLine
	for _, line := range strings.Split(string(data), "\n") {
		h, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		c, p, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		out = append(out, cgroupLine{Hierarchy: h, Controllers: c, Path: p})
	}
	return out
}

// parseEnviron splits a NUL-separated environment block into a map.
func parseEnviron(data []byte) map[string]string {
	env := map[string]string{}
	for _, kv := range strings.Split(string(data), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			if _, dup := env[k]; !dup {
				env[k] = v
			}
		}
	}
	return env
}

// statusField returns a field of /proc/self/status, such as "TracerPid".
func statusField(data []byte, key string) string {
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// osReleaseField returns a field of /etc/os-release, unquoted.
func osReleaseField(data []byte, key string) string {
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || k != key {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			return uq
		}
		return strings.Trim(v, `"'`)
	}
	return ""
}

// cleanSignature turns a 12-byte CPUID signature into text: trailing NULs
// dropped, other unprintable bytes shown as '?'.
func cleanSignature(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}
