package seatserver

import "testing"

// TestGCPercent: GOGC gives the heap GCHeadroom of growth while it is
// small, never less than Go's default 100, and is capped.
func TestGCPercent(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{1 << 20, 2000},               // 1 MiB: capped
		{8 << 20, 800},                // 8 MiB: 64 MiB of growth
		{32 << 20, 200},               // 32 MiB
		{GCHeadroom, 100},             // from here Go's default
		{200 << 20, 100},              // 200 MiB: never below 100
		{GCHeadroom * 100 / 999, 999}, // rounding down
	} {
		if got := gcPercent(tc.live); got != tc.want {
			t.Errorf("gcPercent(%d) = %d, want %d", tc.live, got, tc.want)
		}
	}
}
