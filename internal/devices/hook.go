package devices

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/airseal/airseal/internal/safetext"
)

// Hook tells a site about each new pending request, so it can mail the
// administrator (no outbound network is assumed: the site's own command
// does the mailing). Set Command, Dir, or both.
type Hook struct {
	// Command is the program and its fixed arguments, run without a
	// shell. Command[0] must be an absolute path. The device's values are
	// never added to the arguments: they are in the environment
	// (AIRSEAL_DEVICE_CODE, _NAME, _APP, _IP, _TIME, _STATE, and
	// AIRSEAL_EVENT=device-registered) and, as one JSON object (the
	// Notice type), on standard input. The environment holds only those
	// variables and PATH.
	Command []string
	// Timeout bounds a run; default 10 seconds. A command still running
	// is killed and the run is an error.
	Timeout time.Duration
	// Dir, when set, receives one JSON file per request (the Notice),
	// named <UTC time of the request, to the nanosecond>-<device code>.json
	// (':' in the code becomes '_'), mode 0600, never replacing an
	// existing file. The directory must exist.
	Dir string
}

// Notice is what the hook is given about a request. Every value is
// cleaned with internal/safetext (a validated device's values come
// through unchanged).
type Notice struct {
	Event string `json:"event"` // "device-registered"
	Code  string `json:"code"`
	Name  string `json:"name"`
	App   string `json:"app"`
	IP    string `json:"ip"`
	Time  string `json:"time"` // RFC 3339, UTC
	State string `json:"state"`
}

// NoticeOf builds the Notice for d.
func NoticeOf(d Device) Notice {
	return Notice{
		Event: "device-registered",
		Code:  safetext.Clean(d.Code),
		Name:  safetext.Clean(d.Name),
		App:   safetext.Clean(d.App),
		IP:    safetext.Clean(d.IP),
		Time:  d.Registered.UTC().Format(time.RFC3339),
		State: safetext.Clean(string(d.State)),
	}
}

func (h *Hook) check() error {
	if len(h.Command) == 0 && h.Dir == "" {
		return errors.New("device hook: neither a command nor a directory (hint: set one, or no hook)")
	}
	if len(h.Command) > 0 && !filepath.IsAbs(h.Command[0]) {
		return fmt.Errorf("device hook: command %q is not an absolute path (hint: give the full path, e.g. /usr/local/bin/notify-admin)", safetext.Clean(h.Command[0]))
	}
	if h.Dir != "" {
		st, err := os.Stat(h.Dir)
		if err != nil {
			return fmt.Errorf("device hook: directory: %w", err)
		}
		if !st.IsDir() {
			return fmt.Errorf("device hook: %s is not a directory", h.Dir)
		}
	}
	return nil
}

// maxHookOutput is how much of the command's output an error quotes.
const maxHookOutput = 512

// Notify runs the hook for d: writes the file, then runs the command.
func (h *Hook) Notify(d Device) error {
	n := NoticeOf(d)
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	body = append(body, '\n')
	var errs []error
	if h.Dir != "" {
		if err := h.writeFile(d, n, body); err != nil {
			errs = append(errs, err)
		}
	}
	if len(h.Command) > 0 {
		if err := h.run(n, body); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (h *Hook) writeFile(d Device, n Notice, body []byte) error {
	// The code is validated ([A-Za-z0-9._:-]); ':' is replaced for
	// Windows, and a name is never a path.
	code := strings.NewReplacer(":", "_", "/", "_", `\`, "_").Replace(n.Code)
	stamp := d.Registered.UTC().Format("20060102T150405.000000000Z")
	p := filepath.Join(h.Dir, stamp+"-"+code+".json")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("device hook: %w", err)
	}
	if _, err := f.Write(body); err != nil {
		f.Close()
		return fmt.Errorf("device hook: %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("device hook: %s: %w", p, err)
	}
	return nil
}

// cappedBuffer keeps the first max bytes written to it.
type cappedBuffer struct {
	bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (h *Hook) run(n Notice, body []byte) error {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.Command[0], h.Command[1:]...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"AIRSEAL_EVENT=" + n.Event,
		"AIRSEAL_DEVICE_CODE=" + n.Code,
		"AIRSEAL_DEVICE_NAME=" + n.Name,
		"AIRSEAL_DEVICE_APP=" + n.App,
		"AIRSEAL_DEVICE_IP=" + n.IP,
		"AIRSEAL_DEVICE_TIME=" + n.Time,
		"AIRSEAL_DEVICE_STATE=" + n.State,
	}
	cmd.Stdin = bytes.NewReader(body)
	out := &cappedBuffer{max: maxHookOutput}
	cmd.Stdout, cmd.Stderr = out, out
	// A child that keeps the output pipe open cannot hold Wait forever.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("device hook: %s did not finish within %v and was killed (hint: make it queue the mail and return)", h.Command[0], timeout)
	}
	if err != nil {
		msg := strings.TrimSpace(safetext.Clean(out.String()))
		if msg != "" {
			return fmt.Errorf("device hook: %s: %w: %s", h.Command[0], err, msg)
		}
		return fmt.Errorf("device hook: %s: %w", h.Command[0], err)
	}
	return nil
}
