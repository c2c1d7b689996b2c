package service

import (
	"context"
	"fmt"
	"strings"
)

// PADPolicy says what the presentation attack detection (PAD) stage does
// for a request. The zero value is "not chosen": the partition's stored
// policy applies, else the flavour's default.
type PADPolicy string

// PAD policies, weakest first.
const (
	// PADOff: the score is neither consulted nor reported.
	PADOff PADPolicy = "off"
	// PADReport: the score and outcome are reported; nothing is refused.
	PADReport PADPolicy = "report"
	// PADEnforce: a scored face below the threshold is refused (ErrSpoof);
	// a face PAD cannot judge (greyscale, too small) passes with the
	// outcome pad_unavailable.
	PADEnforce PADPolicy = "enforce"
	// PADEnforceStrict is enforce that also refuses faces PAD cannot
	// judge: without it a greyscale print would pass an enforce gate.
	PADEnforceStrict PADPolicy = "enforce_strict"
)

// PADPolicies lists the policies, weakest first.
var PADPolicies = []PADPolicy{PADOff, PADReport, PADEnforce, PADEnforceStrict}

// ParsePADPolicy reads a policy name (case-insensitive, trimmed); "" is
// the zero value (not chosen).
func ParsePADPolicy(s string) (PADPolicy, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	for _, p := range PADPolicies {
		if string(p) == s {
			return p, nil
		}
	}
	return "", newErr(ErrInvalid, "pad_policy must be one of off, report, enforce, enforce_strict; got %q", s)
}

func (p PADPolicy) rank() int {
	for i, q := range PADPolicies {
		if q == p {
			return i
		}
	}
	return -1
}

// Enforcing reports whether the policy refuses spoofs.
func (p PADPolicy) Enforcing() bool { return p == PADEnforce || p == PADEnforceStrict }

// PAD outcomes.
const (
	PADLive        = "live"            // scored at or above the threshold
	PADSpoof       = "spoof"           // scored below the threshold
	PADUnavailable = "pad_unavailable" // the face could not be judged; Reason says why
)

// Liveness statuses of a face, as the engine reports them.
const (
	LivenessScored       = "scored"
	LivenessNotComputed  = "not_computed"
	LivenessGreyscale    = "greyscale"
	LivenessFaceTooSmall = "face_too_small"
)

// PADResult is what the PAD stage said about the face a request used.
// Policy off leaves Outcome empty: nothing is reported.
type PADResult struct {
	Policy    PADPolicy
	Outcome   string  // live, spoof, pad_unavailable; "" when off
	Score     float32 // P(live); < 0 when not scored
	Threshold float32
	Reason    string // why PAD was unavailable: greyscale, face_too_small, not_computed
}

// Reported reports whether the result has anything to tell the client.
func (r PADResult) Reported() bool { return r.Policy != PADOff && r.Outcome != "" }

// PADStore keeps a policy per partition, durably. The gallery adapter
// implements it; a service without one has no per-partition policies.
type PADStore interface {
	PartitionPADPolicy(ctx context.Context, partition string) (string, error)
	SetPartitionPADPolicy(ctx context.Context, partition, policy string) error
}

// PADRequest is the PAD part of a request's options.
type PADRequest struct {
	// Policy is the request's own choice; "" takes the partition's.
	Policy PADPolicy
	// Default is the flavour's policy for partitions without one; ""
	// is the service's (Config.PADPolicy, else enforce).
	Default PADPolicy
	// MayWeaken lets the request ask for less than an enforcing policy
	// (an API key with the pad_policy scope).
	MayWeaken bool
}

// PartitionPADPolicy is the policy stored for partition ("" when none).
func (s *Service) PartitionPADPolicy(ctx context.Context, partition string) (PADPolicy, error) {
	if err := ValidateID("partition", partition); err != nil {
		return "", err
	}
	st, ok := s.gallery.(PADStore)
	if !ok {
		return "", nil
	}
	v, err := st.PartitionPADPolicy(ctx, partition)
	if err != nil {
		return "", s.galleryErr(err)
	}
	p, err := ParsePADPolicy(v)
	if err != nil {
		// A value this version does not know: the safest reading.
		return PADEnforceStrict, nil
	}
	return p, nil
}

// SetPartitionPADPolicy stores partition's policy durably; "" clears it
// (the flavour's default applies again). The partition need not exist yet.
func (s *Service) SetPartitionPADPolicy(ctx context.Context, partition string, p PADPolicy) error {
	if err := ValidateNewID("partition", partition); err != nil {
		return err
	}
	if p != "" && p.rank() < 0 {
		return newErr(ErrInvalid, "unknown pad_policy %q", string(p))
	}
	st, ok := s.gallery.(PADStore)
	if !ok {
		return newErr(ErrUnavailable, "this gallery keeps no per-partition PAD policy")
	}
	err := st.SetPartitionPADPolicy(ctx, partition, string(p))
	s.storage.wrote(err)
	return s.galleryErr(err)
}

// EffectivePADPolicy resolves a request's policy on partition: the
// request's choice, else the partition's stored policy, else the flavour's
// default, else the service's. A request may strengthen freely; it may ask
// for less than an enforcing policy only with MayWeaken.
func (s *Service) EffectivePADPolicy(ctx context.Context, partition string, r PADRequest) (PADPolicy, error) {
	if r.Policy != "" && r.Policy.rank() < 0 {
		return "", newErr(ErrInvalid, "unknown pad_policy %q", string(r.Policy))
	}
	base, err := s.PartitionPADPolicy(ctx, partition)
	if err != nil {
		return "", err
	}
	from := fmt.Sprintf("partition %q", partition)
	if base == "" {
		base, from = r.Default, "this API's default"
	}
	if base == "" {
		base = s.cfg.PADPolicy
	}
	if base == "" {
		base = PADEnforce
	}
	if r.Policy == "" || r.Policy == base {
		return base, nil
	}
	if base.Enforcing() && r.Policy.rank() < base.rank() && !r.MayWeaken {
		return "", newErr(ErrInvalid, "pad_policy %q would weaken the PAD policy %q of %s; this API key is not allowed to (it needs the pad_policy scope)",
			r.Policy, base, from)
	}
	return r.Policy, nil
}

// JudgePAD applies policy to one face with threshold thr (P(live) below it
// is a spoof; thr <= 0 turns the stage off). It returns the result and,
// when the policy refuses the face, an ErrSpoof gate error (or
// ErrUnavailable when the PAD model did not run under an enforcing
// policy: a server fault, not the client's).
func JudgePAD(policy PADPolicy, thr float32, f Face) (PADResult, error) {
	r := PADResult{Policy: policy, Score: -1, Threshold: thr}
	if policy == PADOff || thr <= 0 {
		r.Policy = PADOff
		return r, nil
	}
	status := f.LivenessStatus
	if status == "" {
		// Engines that do not say: a negative score was not computed.
		status = LivenessScored
		if f.Liveness < 0 {
			status = LivenessNotComputed
		}
	}
	if status != LivenessScored || f.Liveness < 0 {
		if status == LivenessScored {
			status = LivenessNotComputed
		}
		r.Outcome, r.Reason = PADUnavailable, status
		switch {
		case policy == PADEnforceStrict:
			// No score to compare: the error carries none.
			return r, &Error{Kind: ErrSpoof, Gate: "pad", Msg: fmt.Sprintf("PAD could not judge the face (%s) and the policy enforce_strict refuses such faces", status)}
		case policy == PADEnforce && status == LivenessNotComputed:
			return r, newErr(ErrUnavailable, "PAD model did not run")
		}
		return r, nil
	}
	r.Score = f.Liveness
	if f.Liveness < thr {
		r.Outcome = PADSpoof
		if policy.Enforcing() {
			return r, gateErr(ErrSpoof, "pad", f.Liveness, thr, "liveness %.3f below %.3f", f.Liveness, thr)
		}
		return r, nil
	}
	r.Outcome = PADLive
	return r, nil
}

// JudgePAD resolves the request's policy on partition and judges f with
// the service's threshold (or o.PADThreshold): for flavours that run the
// engine themselves (CompreFace's recognition, which reports every face).
func (s *Service) JudgePAD(ctx context.Context, partition string, o Options, f Face) (PADResult, error) {
	if err := checkOptions(o); err != nil {
		return PADResult{}, err
	}
	pol, err := s.EffectivePADPolicy(ctx, partition, o.PAD)
	if err != nil {
		return PADResult{}, err
	}
	return JudgePAD(pol, pick(o.PADThreshold, s.cfg.PADThreshold), f)
}

type noPADKey struct{}

// WithoutPAD marks an engine call whose requests do not use the PAD score
// (policy off): the engine may skip the stage (about a fifth of a face's
// CPU time). The batcher keeps the mark only when every request of a batch
// carries it.
func WithoutPAD(ctx context.Context) context.Context {
	return context.WithValue(ctx, noPADKey{}, true)
}

// PADSkipped reports whether ctx was marked by WithoutPAD.
func PADSkipped(ctx context.Context) bool {
	v, _ := ctx.Value(noPADKey{}).(bool)
	return v
}

func skipsPAD(items []*batchItem) bool {
	for _, it := range items {
		if !PADSkipped(it.ctx) {
			return false
		}
	}
	return len(items) > 0
}

// ObservePAD tells OnPAD of a reported outcome; flavours that judge faces
// themselves (CompreFace recognition) call it too.
func (s *Service) ObservePAD(op string, r PADResult) {
	if s.OnPAD != nil && r.Reported() {
		s.OnPAD(op, r)
	}
}
