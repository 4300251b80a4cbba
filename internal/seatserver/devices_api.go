package seatserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/internal/loginlimit"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/seat"
)

// PathDevices is the device registry's endpoint.
const PathDevices = "/api/devices"

// deviceRoutes are the device endpoints (issue 11 item 1). Registration
// and a device's own status check need no credentials: a handheld
// terminal has none until the administrator approves it.
func deviceRoutes() []Route {
	return []Route{
		{"POST", PathDevices, nil, "register a device (pending until an admin approves it)", (*Server).postDevices},
		{"GET", PathDevices, readers, "registered devices", (*Server).getDevices},
		{"GET", PathDevices + "/{Code}", nil, "a device's state and the message to show", (*Server).getDevice},
		{"POST", PathDevices + "/{Code}/approve", admins, "approve a device: it takes a device seat", (*Server).approveDevice},
		{"POST", PathDevices + "/{Code}/deny", admins, "deny a device", (*Server).denyDevice},
		{"DELETE", PathDevices + "/{Code}", admins, "unlink a device, freeing its seat", (*Server).unlinkDevice},
	}
}

// DeviceStatus is a device as the API shows it.
type DeviceStatus struct {
	Code       string    `json:"Code"`
	Name       string    `json:"Name"`
	App        string    `json:"App"`
	IP         string    `json:"IP"`
	Registered time.Time `json:"Registered"`
	State      string    `json:"State"`
	// Message is what the device shows (the Cleverence seed's table).
	Message string `json:"Message"`
	// Licensed is true only when approved with a seat (no demo limits).
	Licensed  bool       `json:"Licensed"`
	Decided   *time.Time `json:"Decided,omitempty"`
	DecidedBy string     `json:"DecidedBy,omitempty"`
	KeyNo     string     `json:"KeyNo,omitempty"`
	// DemoLimits apply in no_seat and subscription_ended.
	DemoLimits map[string]int64 `json:"DemoLimits,omitempty"`
}

// DeviceList is GET /api/devices.
type DeviceList struct {
	Devices []DeviceStatus `json:"Devices"`
	// Counts is how many devices are in each state.
	Counts map[string]int `json:"Counts"`
}

// DeviceRefusal is the 403 a device not (fully) licensed gets: the 1C
// error body plus its state (pkg/seat reads it as a *seat.DeviceError).
type DeviceRefusal struct {
	seat.Error
	State  string       `json:"State"`
	Device DeviceStatus `json:"Device"`
}

// DeviceRequest is the body of POST /api/devices.
type DeviceRequest struct {
	Code string `json:"Code"`
	Name string `json:"Name"`
	App  string `json:"App"`
}

func deviceStatus(d devices.Device) DeviceStatus {
	out := DeviceStatus{Code: d.Code, Name: d.Name, App: d.App, IP: d.IP, Registered: wireTime(d.Registered),
		State: string(d.State), Message: d.Message(), Licensed: d.State.Licensed(), DecidedBy: d.DecidedBy, KeyNo: d.KeyNo}
	if !d.Decided.IsZero() {
		t := wireTime(d.Decided)
		out.Decided = &t
	}
	if len(d.DemoLimits) > 0 {
		out.DemoLimits = featureMap(d.DemoLimits)
	}
	return out
}

// deviceAnswer is a device's own answer: 200 when licensed, 202 when a
// new request was recorded, else 403 with the state and its message.
func deviceAnswer(d devices.Device, created bool) answer {
	ds := deviceStatus(d)
	switch {
	case created:
		return answer{http.StatusAccepted, ds}
	case d.State == devices.Approved:
		return answer{http.StatusOK, ds}
	}
	e := errBody(http.StatusForbidden, d.Message())
	return answer{http.StatusForbidden, DeviceRefusal{Error: *e, State: string(d.State), Device: ds}}
}

// deviceError maps the registry's errors to statuses.
func deviceError(err error) error {
	var tm *devices.TooManyPendingError
	switch {
	case errors.As(err, &tm):
		return &statusError{http.StatusTooManyRequests, err.Error()}
	case errors.Is(err, devices.ErrInvalid):
		return badRequest("%v", err)
	case errors.Is(err, devices.ErrUnknown):
		return &statusError{http.StatusNotFound, err.Error()}
	case errors.Is(err, devices.ErrState):
		return &statusError{http.StatusConflict, err.Error()}
	}
	return err
}

// saveDevice makes the registry's record of code durable (or its deletion
// when gone). The caller holds ext.devMu.
func (s *Server) saveDevice(ctx context.Context, code string, gone bool) error {
	var ch seatstore.Change
	if gone {
		ch.DeleteDevices = []string{code}
	} else {
		d, err := s.ext.reg.Get(code)
		if err != nil {
			return err
		}
		ch.PutDevices = []devices.Device{d}
	}
	return s.apply(ctx, func(time.Time) ([]seats.Event, seatstore.Change) { return nil, ch })
}

// deviceOp runs a registry change and makes its result durable before it
// returns.
func (s *Server) deviceOp(ctx context.Context, code string, gone bool, op func() (devices.Device, error)) (devices.Device, error) {
	s.ext.devMu.Lock()
	defer s.ext.devMu.Unlock()
	d, err := op()
	if err != nil {
		return devices.Device{}, deviceError(err)
	}
	if err := s.saveDevice(ctx, code, gone); err != nil {
		return devices.Device{}, err
	}
	return d, nil
}

// RegisterDevice records a device's request (pending) and makes it
// durable; created is false when the device was known already.
func (s *Server) RegisterDevice(ctx context.Context, req devices.Request) (d devices.Device, created bool, err error) {
	d, err = s.deviceOp(ctx, req.Code, false, func() (devices.Device, error) {
		before, gerr := s.ext.reg.Get(req.Code)
		d, err := s.ext.reg.Register(req)
		created = err == nil && (gerr != nil || before.State == devices.Denied)
		return d, err
	})
	return d, created, err
}

// CheckDevice is a device's status check: an approved device's seat is
// asked for again (renewed, or taken once one is free).
func (s *Server) CheckDevice(ctx context.Context, code string) (devices.Device, error) {
	return s.deviceOp(ctx, code, false, func() (devices.Device, error) { return s.ext.reg.Check(code) })
}

// ApproveDevice approves a device (it takes a device seat, or runs in
// demo mode when none is free).
func (s *Server) ApproveDevice(ctx context.Context, code, by string) (devices.Device, error) {
	return s.deviceOp(ctx, code, false, func() (devices.Device, error) { return s.ext.reg.Approve(code, by) })
}

// DenyDevice denies a device.
func (s *Server) DenyDevice(ctx context.Context, code, by string) (devices.Device, error) {
	return s.deviceOp(ctx, code, false, func() (devices.Device, error) { return s.ext.reg.Deny(code, by) })
}

// UnlinkDevice forgets a device and frees its seat.
func (s *Server) UnlinkDevice(ctx context.Context, code string) (devices.Device, error) {
	return s.deviceOp(ctx, code, true, func() (devices.Device, error) { return s.ext.reg.Unlink(code) })
}

func (s *Server) postDevices(q *request) (answer, error) {
	var req DeviceRequest
	if err := decodeStrict(q.body, &req); err != nil {
		return answer{}, err
	}
	d, created, err := s.RegisterDevice(q.r.Context(), devices.Request{Code: req.Code, Name: req.Name, App: req.App, IP: loginlimit.RemoteAddr(q.r)})
	if err != nil {
		return answer{}, err
	}
	if created {
		s.log.Info("device registered", "device", d.Code, "app", d.App, "ip", d.IP)
	}
	return deviceAnswer(d, created), nil
}

func (s *Server) getDevices(q *request) (answer, error) {
	ds := s.ext.reg.List("")
	out := DeviceList{Devices: make([]DeviceStatus, 0, len(ds)), Counts: map[string]int{}}
	for _, d := range ds {
		out.Devices = append(out.Devices, deviceStatus(d))
	}
	for st, n := range s.ext.reg.Count() {
		out.Counts[string(st)] = n
	}
	return answer{http.StatusOK, out}, nil
}

func devicePathCode(q *request) (string, error) {
	code := q.params.get("Code")
	if err := devices.CheckCode(code); err != nil {
		return "", badRequest("path: %v", err)
	}
	return code, nil
}

func (s *Server) getDevice(q *request) (answer, error) {
	code, err := devicePathCode(q)
	if err != nil {
		return answer{}, err
	}
	d, err := s.CheckDevice(q.r.Context(), code)
	if err != nil {
		return answer{}, err
	}
	return deviceAnswer(d, false), nil
}

func (s *Server) approveDevice(q *request) (answer, error) {
	code, err := devicePathCode(q)
	if err != nil {
		return answer{}, err
	}
	d, err := s.ApproveDevice(q.r.Context(), code, q.caller.name)
	if err != nil {
		return answer{}, err
	}
	s.adminAction(q, "approve device", fmt.Sprintf("%s (%s, %s): %s", d.Code, safetext.Clean(d.Name), safetext.Clean(d.App), d.State))
	return answer{http.StatusOK, deviceStatus(d)}, nil
}

func (s *Server) denyDevice(q *request) (answer, error) {
	code, err := devicePathCode(q)
	if err != nil {
		return answer{}, err
	}
	d, err := s.DenyDevice(q.r.Context(), code, q.caller.name)
	if err != nil {
		return answer{}, err
	}
	s.adminAction(q, "deny device", fmt.Sprintf("%s (%s, %s)", d.Code, safetext.Clean(d.Name), safetext.Clean(d.App)))
	return answer{http.StatusOK, deviceStatus(d)}, nil
}

func (s *Server) unlinkDevice(q *request) (answer, error) {
	code, err := devicePathCode(q)
	if err != nil {
		return answer{}, err
	}
	d, err := s.UnlinkDevice(q.r.Context(), code)
	if err != nil {
		return answer{}, err
	}
	s.adminAction(q, "unlink device", fmt.Sprintf("%s (%s, %s)", d.Code, safetext.Clean(d.Name), safetext.Clean(d.App)))
	return answer{http.StatusOK, deviceStatus(d)}, nil
}

// coreSeats is the devices.SeatTaker over the seat core: a device's seat
// is a lease of its product under a session ID derived from the product
// and the device code, so it counts against the same seats as sessions,
// is durable like them, and taking it again returns the same lease.
type coreSeats struct{ s *Server }

// deviceSessionID is the ClientSessionID of a device's lease.
func deviceSessionID(product, code string) string {
	h := sha256.Sum256([]byte("airseal device seat\x00" + product + "\x00" + code))
	return "device-" + hex.EncodeToString(h[:16])
}

// TakeDeviceSeat implements devices.SeatTaker.
func (c coreSeats) TakeDeviceSeat(product, device string) (devices.Grant, error) {
	return c.take(context.Background(), product, device)
}

func (c coreSeats) take(ctx context.Context, product, device string) (devices.Grant, error) {
	s := c.s
	if s.cl != nil {
		return c.takeCluster(ctx, product, device)
	}
	var g devices.Grant
	err := s.applyErr(ctx, func(now time.Time) ([]seats.Event, seatstore.Change, error) {
		cp := s.core.Capacity(product, now)
		if cp.Seats == 0 {
			g.DemoLimits = cp.DemoLimits
			for _, l := range s.core.Licenses() {
				if l.Product == product {
					return nil, seatstore.Change{}, fmt.Errorf("%s: no valid license: %w", product, devices.ErrSubscriptionEnded)
				}
			}
			return nil, seatstore.Change{}, fmt.Errorf("%s: no license installed: %w", product, devices.ErrNoSeat)
		}
		gr, ev, err := s.core.Checkout(seats.Request{Product: product, ClientSessionID: deviceSessionID(product, device),
			AppName: "device", UserName: "device " + device, ComputerName: device, SessionStarted: now}, now)
		var ns *seats.NoSeatError
		if errors.As(err, &ns) {
			g.DemoLimits = cp.DemoLimits
			return ev, seatstore.Change{}, fmt.Errorf("%v: %w", ns, devices.ErrNoSeat)
		}
		if err == nil {
			g.KeyNo = s.usedLicenceLocked(gr.Lease.Product, now)
		}
		return ev, seatstore.Change{}, err
	})
	return g, err
}

// ReleaseDeviceSeat implements devices.SeatTaker.
func (c coreSeats) ReleaseDeviceSeat(product, device string) error {
	s := c.s
	if s.cl != nil {
		_, err := s.clusterRelease(context.Background(), clusterLeaseID(product, deviceSessionID(product, device)), "device "+device+" unlinked")
		return err
	}
	return s.apply(context.Background(), func(now time.Time) ([]seats.Event, seatstore.Change) {
		if l, ok := s.core.SessionLease(product, deviceSessionID(product, device)); ok {
			_, ev := s.core.Release(l.ID, now, "device "+device+" unlinked")
			return ev, seatstore.Change{}
		}
		return nil, seatstore.Change{}
	})
}

// takeCluster is take decided by the shared store (cluster mode).
func (c coreSeats) takeCluster(ctx context.Context, product, device string) (devices.Grant, error) {
	s := c.s
	var g devices.Grant
	now := s.now()
	s.mu.Lock()
	cp := s.core.Capacity(product, now)
	installed := false
	for _, l := range s.core.Licenses() {
		installed = installed || l.Product == product
	}
	s.mu.Unlock()
	if cp.Seats == 0 {
		g.DemoLimits = cp.DemoLimits
		if installed {
			return g, fmt.Errorf("%s: no valid license: %w", product, devices.ErrSubscriptionEnded)
		}
		return g, fmt.Errorf("%s: no license installed: %w", product, devices.ErrNoSeat)
	}
	_, l, _, err := s.clusterCheckout(ctx, seats.Request{Product: product, ClientSessionID: deviceSessionID(product, device),
		AppName: "device", UserName: "device " + device, ComputerName: device, SessionStarted: now})
	var ns *seats.NoSeatError
	if errors.As(err, &ns) {
		g.DemoLimits = cp.DemoLimits
		return g, fmt.Errorf("%v: %w", ns, devices.ErrNoSeat)
	}
	if err != nil {
		return g, err
	}
	s.mu.Lock()
	g.KeyNo = s.usedLicenceLocked(l.Product, now)
	s.mu.Unlock()
	return g, nil
}
