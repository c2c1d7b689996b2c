package xmlapi

import (
	"github.com/beevik/etree"
	"github.com/valyala/fasthttp"

	"vizor/server"
	"vizor/server/service"
)

// OpPADPolicy is the API-key operation that sets a partition's PAD policy
// and lets a request ask for less than an enforcing one.
const OpPADPolicy = "pad_policy"

// padRequest is the PAD part of a request's options: its pad_policy field
// and whether its key may weaken an enforcing policy.
func padRequest(req *server.Request, field string) (service.PADRequest, error) {
	p, err := service.ParsePADPolicy(field)
	if err != nil {
		return service.PADRequest{}, badRequest("invalid_field", "%s", service.Reason(err))
	}
	return service.PADRequest{Policy: p, MayWeaken: req.AllowsOp(OpPADPolicy)}, nil
}

// padElement reports the PAD outcome in a response's <face> (nothing under
// the policy off):
//
//	<pad><policy>report</policy><outcome>spoof</outcome><score>0.0042</score>
//	<threshold>0.01</threshold></pad>
//
// A face PAD could not judge has the outcome pad_unavailable, a <reason>
// (greyscale, face_too_small, not_computed) and no score.
func padElement(face *etree.Element, r service.PADResult) {
	if !r.Reported() {
		return
	}
	e := face.CreateElement("pad")
	add(e, "policy", string(r.Policy))
	add(e, "outcome", r.Outcome)
	if r.Score >= 0 {
		add(e, "score", score(r.Score))
	}
	add(e, "threshold", score(r.Threshold))
	if r.Reason != "" {
		add(e, "reason", r.Reason)
	}
}

// padPolicy reads or sets a partition's PAD policy: POST /api/v1/pad_policy
// {"partition": "p", "pad_policy": "report"} sets it (an empty string
// clears it: the pad_policy setting applies again); without "pad_policy" it
// only reads. Both need a key with the pad_policy operation.
func (a *API) padPolicy(ctx *fasthttp.RequestCtx) {
	in, aerr := parse(ctx, "pad_policy", a.maxBody)
	if aerr != nil {
		a.fail(ctx, aerr)
		return
	}
	part := in.partition
	if part == "" {
		part = a.svc.Config().DefaultPartition
	}
	req := server.From(ctx)
	set := in.present["pad_policy"]
	if err := req.Allow(OpPADPolicy, part); err != nil {
		a.fail(ctx, err)
		return
	}
	if set {
		p, err := service.ParsePADPolicy(in.padPolicy)
		if err == nil {
			err = a.svc.SetPartitionPADPolicy(req.Ctx, part, p)
		}
		if err != nil {
			a.fail(ctx, err)
			return
		}
	}
	stored, err := a.svc.PartitionPADPolicy(req.Ctx, part)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	eff, src := stored, "partition"
	if eff == "" {
		eff, src = padDefault(a.svc.Config()), "default"
	}
	doc, root := newDoc("PadPolicyResponse")
	add(root, "status", "OK")
	add(root, "partition", part)
	add(root, "pad_policy", string(eff))
	add(root, "source", src)
	writeXML(ctx, fasthttp.StatusOK, doc)
}

// padDefault is this API's policy for partitions without one.
func padDefault(cfg service.Config) service.PADPolicy {
	if cfg.PADPolicy == "" {
		return service.PADEnforce
	}
	return cfg.PADPolicy
}
