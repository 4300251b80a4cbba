package seatserver

import "github.com/airseal/airseal/pkg/seat"

// licenceSet returns the Licence-Set header of every signed answer
// (seat.LicenceSetID of the licenses GET /api/serverinfo presents):
// clients verify the server's licenses again when it changes, so a
// license removed or replaced stops being trusted at the next request.
// It is computed once per change of the installed licenses (Install and
// Remove clear it under s.mu).
func (s *Server) licenceSet() string {
	if p := s.licSet.Load(); p != nil {
		return *p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.licSet.Load(); p != nil {
		return *p
	}
	arm := make([]string, 0, len(s.armored))
	for _, a := range s.armored {
		arm = append(arm, a)
	}
	v := seat.LicenceSetID(arm)
	s.licSet.Store(&v)
	return v
}
