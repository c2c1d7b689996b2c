package compat

import (
	"vizor/bindings"
	"vizor/server/service"
)

// PADRequest is the PAD part of a compatibility request's options: its
// pad_policy (a form field, body field or query parameter, as each API
// takes its parameters) over the compat_pad_policy default. These APIs
// have no key scopes, so a request may strengthen a partition's policy but
// never weaken an enforcing one; an administrator sets partition policies
// through the XML API (POST /api/v1/pad_policy).
func (d Deps) PADRequest(policy string) (service.PADRequest, error) {
	p, err := service.ParsePADPolicy(policy)
	if err != nil {
		return service.PADRequest{}, err
	}
	return service.PADRequest{Policy: p, Default: service.PADPolicy(d.Cfg.PAD.CompatPolicy)}, nil
}

// PAD is the "pad" object the compatibility APIs add to a response (none of
// the originals has PAD; clients that do not know the field ignore it):
// the policy that applied, the outcome (live, spoof, pad_unavailable), the
// probability of a live face when PAD scored it, the threshold, and why
// PAD could not judge the face.
type PAD struct {
	Policy      string   `json:"policy"`
	Outcome     string   `json:"outcome"`
	Probability *float64 `json:"probability,omitempty"`
	Threshold   float64  `json:"threshold"`
	Reason      string   `json:"reason,omitempty"`
}

// PADOf renders a PAD result; nil when there is nothing to report (policy
// off), so an omitempty field disappears.
func PADOf(r service.PADResult) *PAD {
	if !r.Reported() {
		return nil
	}
	out := &PAD{Policy: string(r.Policy), Outcome: r.Outcome, Threshold: Round(float64(r.Threshold), 6), Reason: r.Reason}
	if r.Score >= 0 {
		p := Round(float64(r.Score), 6)
		out.Probability = &p
	}
	return out
}

// AddPAD sets m["pad"] when r has something to report.
func AddPAD(m map[string]any, r service.PADResult) {
	if p := PADOf(r); p != nil {
		m["pad"] = p
	}
}

// ServiceFace is the part of an engine face the PAD judgement reads.
func ServiceFace(f bindings.Face) service.Face {
	return service.Face{Box: service.Rect{X: f.Box.X, Y: f.Box.Y, W: f.Box.W, H: f.Box.H}, DetScore: f.DetScore,
		Liveness: f.Liveness, LivenessStatus: f.LivenessStatus}
}
