package seatserver

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/transfer"
)

// Transfer removes an installed license to move it to another machine
// (issue 12 item 5) and returns the receipt, signed with the response key,
// for the vendor. The serial is kept with the revoked serials (durable
// before the receipt exists), so this server never accepts it again:
// installing it is refused, and a start with it still in the store drops
// it. Sessions holding its seats are told at their next renewal, as for
// Remove.
func (s *Server) Transfer(ctx context.Context, serial string) ([]byte, *transfer.Receipt, error) {
	if s.cfg.Key == nil {
		return nil, nil, fmt.Errorf("%w: a transfer receipt is signed with the private response key", ErrConfig)
	}
	s.mu.Lock()
	l := s.findLicense(serial)
	var arm string
	if l != nil {
		arm = s.armored[l.Serial]
	}
	s.mu.Unlock()
	if l == nil {
		return nil, nil, fmt.Errorf("%w: %s (license-server license list shows what is installed)", ErrNoLicense, safetext.Clean(serial))
	}
	sl, err := license.DecodeServer([]byte(arm))
	if err != nil {
		return nil, nil, fmt.Errorf("installed license %s: %w", l.Serial, err)
	}
	if err := s.Remove(ctx, l.Serial); err != nil {
		return nil, nil, err
	}
	var removed time.Time
	err = s.applyErr(ctx, func(now time.Time) ([]seats.Event, seatstore.Change, error) {
		removed = now
		s.revokedExtra[sl.Serial] = true
		all := make([]string, 0, len(s.revokedExtra))
		for sr := range s.revokedExtra {
			all = append(all, sr)
		}
		sort.Strings(all)
		return nil, seatstore.Change{Settings: map[string]string{
			settingRevSerials:              strings.Join(all, ","),
			settingTransferred + sl.Serial: now.UTC().Format(time.RFC3339),
		}}, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("license %s was removed but not yet marked as transferred (%w); run the transfer again", sl.Serial, err)
	}
	node := s.cfg.Node
	if n, ok := sl.NodeByKey(s.pub); ok {
		node = n.Name
	}
	data, r, err := transfer.Sign(s.cfg.Key, sl, node, removed)
	if err != nil {
		return nil, nil, err
	}
	s.log.Info("license transferred", "serial", sl.Serial, "node", node)
	return data, r, nil
}

// settingTransferred + serial records when a license was transferred away.
const settingTransferred = "transferred."
