package masshealth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/valyala/fasthttp"

	"vizor/gallery"
	"vizor/server/compat"
	"vizor/server/service"
)

// This file is the users' verification images: Vizor's replacement for the
// Supabase bucket <userId>/verify1.jpg ... verify10.jpg, kept in the
// gallery partition "masshealth" (one subject per userId).

type stored struct {
	id   uint64
	name string
	vec  []float32
}

// storedImages loads a user's verification templates, oldest first.
func (a *API) storedImages(user string) ([]stored, error) {
	infos, err := a.d.Gallery.Templates(Partition, user)
	if errors.Is(err, gallery.ErrSubjectNotFound) || errors.Is(err, gallery.ErrPartitionNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]stored, 0, len(infos))
	for i, info := range infos {
		_, t, err := a.d.Gallery.TemplateIn(Partition, info.ID)
		if err != nil {
			return nil, err
		}
		name := info.Meta["name"]
		if name == "" {
			name = fmt.Sprintf("verify%d.jpg", i+1)
		}
		out = append(out, stored{id: info.ID, name: name, vec: t.Vector})
	}
	return out, nil
}

func (a *API) storeErr(ctx *fasthttp.RequestCtx, err error) {
	// After fail, which logs the client message: the log gets the cause.
	defer func() { compat.From(ctx).Detail = service.LogDetail(err) }()
	if errors.Is(err, gallery.ErrClosed) {
		fail(ctx, http.StatusServiceUnavailable, "Verification image store not connected")
		return
	}
	fail(ctx, http.StatusInternalServerError, "Internal server error")
}

// upload stores verification images for a user (Vizor's replacement for
// the Supabase bucket <userId>/verify1.jpg ... verify10.jpg). Body:
// {"userId": "...", "images": ["<base64>", ...], "replace": false}.
func (a *API) upload(ctx *fasthttp.RequestCtx, _ compat.Params) {
	m, ok := body(ctx)
	if !ok {
		return
	}
	user := str(m, "userId")
	imgs, ok := images(m)
	if user == "" || !ok {
		fail(ctx, http.StatusBadRequest, "Missing userId or images")
		return
	}
	// The gallery is shared: a userId is a subject the XML API may list,
	// so it follows the same rule as enrolment there.
	if !gallery.ValidSubjectName(user) || service.ValidateNewID("userId", user) != nil {
		fail(ctx, http.StatusBadRequest, "userId must be 1-256 bytes of UTF-8 without control characters or characters XML cannot carry (U+FFFE, U+FFFF, noncharacters)")
		return
	}
	var replace bool
	if raw, ok := m["replace"]; ok {
		_ = json.Unmarshal(raw, &replace)
	}
	existing, err := a.storedImages(user)
	if err != nil {
		a.storeErr(ctx, err)
		return
	}
	have := len(existing)
	if replace {
		have = 0
	}
	if have+len(imgs) > MaxImages {
		fail(ctx, http.StatusBadRequest, fmt.Sprintf("At most %d verification images per user (%d stored, %d provided)", MaxImages, have, len(imgs)))
		return
	}
	// Extract every image first (enrolment gates), store only if all pass.
	probes := make([]service.Probe, len(imgs))
	raw := make([][]byte, len(imgs))
	for i, s := range imgs {
		img, err := a.decode(s)
		if err != nil {
			fail(ctx, status(err), fmt.Sprintf("images[%d]: %s", i, reason(err)))
			return
		}
		raw[i] = img
		p, err := a.d.Svc.Extract(compat.From(ctx).Ctx, service.OpEnrol, img, a.opts(ctx))
		if err != nil {
			fail(ctx, status(err), fmt.Sprintf("images[%d]: %s", i, reason(err)))
			return
		}
		probes[i] = p
	}
	// The count checked above may be stale by now (another upload for this
	// user ran while these images were analysed): check it again and store
	// under the user's lock, so the limit holds however uploads interleave.
	release := a.users.lock(user)
	defer release()
	if existing, err = a.storedImages(user); err != nil {
		a.storeErr(ctx, err)
		return
	}
	if have = len(existing); replace {
		have = 0
	}
	if have+len(imgs) > MaxImages {
		fail(ctx, http.StatusBadRequest, fmt.Sprintf("At most %d verification images per user (%d stored, %d provided)", MaxImages, have, len(imgs)))
		return
	}
	if replace && len(existing) > 0 {
		if _, err := a.d.Gallery.DeleteSubject(Partition, user); err != nil && !errors.Is(err, gallery.ErrSubjectNotFound) {
			a.storeErr(ctx, err)
			return
		}
	}
	names := make([]string, 0, len(imgs))
	for i, p := range probes {
		name := fmt.Sprintf("verify%d.jpg", have+i+1)
		if _, err := a.d.Gallery.Enrol(Partition, user, gallery.Template{Model: p.ModelID, Vector: p.Template},
			gallery.EnrolOptions{Image: raw[i], Meta: map[string]string{"name": name}}); err != nil {
			a.storeErr(ctx, err)
			return
		}
		names = append(names, name)
	}
	out := map[string]any{
		"user_id": user, "stored": len(names), "stored_images": names, "verification_images_found": have + len(names),
	}
	var pads []*compat.PAD // one per stored image, when PAD reports
	for _, p := range probes {
		if r := compat.PADOf(p.PAD); r != nil {
			pads = append(pads, r)
		}
	}
	if len(pads) > 0 {
		out["pad"] = pads
	}
	compat.WriteJSON(ctx, http.StatusOK, out)
}

func (a *API) listImages(ctx *fasthttp.RequestCtx, p compat.Params) {
	refs, err := a.storedImages(p["userId"])
	if err != nil {
		a.storeErr(ctx, err)
		return
	}
	if len(refs) == 0 {
		fail(ctx, http.StatusNotFound, "No verification images found for user "+p["userId"])
		return
	}
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.name
	}
	compat.WriteJSON(ctx, http.StatusOK, map[string]any{"user_id": p["userId"], "verification_images": names, "verification_images_found": len(names)})
}

func (a *API) deleteImages(ctx *fasthttp.RequestCtx, p compat.Params) {
	n, err := a.d.Gallery.DeleteSubject(Partition, p["userId"])
	if errors.Is(err, gallery.ErrSubjectNotFound) || errors.Is(err, gallery.ErrPartitionNotFound) {
		fail(ctx, http.StatusNotFound, "No verification images found for user "+p["userId"])
		return
	}
	if err != nil {
		a.storeErr(ctx, err)
		return
	}
	compat.WriteJSON(ctx, http.StatusOK, map[string]any{"user_id": p["userId"], "deleted": n})
}
