package compreface

import (
	"vizor/bindings"
	"vizor/server/compat"
)

// box is a face's "box". With detect_faces=false CompreFace runs no
// detector and takes the whole image as the face, so the box is the image
// and its probability 1. Vizor still locates the face inside the image
// (compat.DetailOptions.Cropped) for the landmarks and the alignment its
// embedding needs, but answers with the box CompreFace would give.
func (o opts) box(f bindings.Face, an compat.Analysis) boxJSON {
	if !o.detectFaces {
		return boxJSON{Probability: 1, XMin: 0, YMin: 0, XMax: an.Width, YMax: an.Height}
	}
	return boxJSON{
		Probability: compat.Round(float64(f.DetScore), 5),
		XMin:        clampi(f.Box.X, an.Width), YMin: clampi(f.Box.Y, an.Height),
		XMax: clampi(f.Box.X+f.Box.W, an.Width), YMax: clampi(f.Box.Y+f.Box.H, an.Height),
	}
}
