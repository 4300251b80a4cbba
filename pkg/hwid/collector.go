package hwid

import (
	"path"
	"strings"
)

// collector reads facts through a source, once each.
type collector struct {
	src   source
	files map[string]fileResult
	dirs  map[string][]string
	ex    map[string]bool
}

type fileResult struct {
	data string
	ok   bool
}

func newCollector(src source) *collector {
	return &collector{src: src, files: map[string]fileResult{}, dirs: map[string][]string{}, ex: map[string]bool{}}
}

// raw returns a file's content and whether it could be read.
func (c *collector) raw(name string) (string, bool) {
	if r, ok := c.files[name]; ok {
		return r.data, r.ok
	}
	b, err := c.src.readFile(name, maxFile)
	r := fileResult{data: string(b), ok: err == nil}
	c.files[name] = r
	return r.data, r.ok
}

// text returns a file's content, or "" when it cannot be read.
func (c *collector) text(name string) string {
	s, _ := c.raw(name)
	return s
}

// head returns the first n bytes of a file (ACPI table headers).
func (c *collector) head(name string, n int) (string, bool) {
	key := name + "\x00head"
	if r, ok := c.files[key]; ok {
		return r.data, r.ok
	}
	b, err := c.src.readFile(name, n)
	r := fileResult{data: string(b), ok: err == nil}
	c.files[key] = r
	return r.data, r.ok
}

// line returns a file's content with surrounding white space trimmed, or ""
// when it cannot be read.
func (c *collector) line(name string) string {
	s, _ := c.raw(name)
	return strings.TrimSpace(s)
}

func (c *collector) exists(name string) bool {
	if v, ok := c.ex[name]; ok {
		return v
	}
	v := c.src.exists(name)
	c.ex[name] = v
	return v
}

func (c *collector) dir(name string) []string {
	if v, ok := c.dirs[name]; ok {
		return v
	}
	v, _ := c.src.readDir(name)
	c.dirs[name] = v
	return v
}

// dmi returns a trimmed /sys/class/dmi/id field.
func (c *collector) dmi(field string) string {
	return c.line(path.Join("/sys/class/dmi/id", field))
}
