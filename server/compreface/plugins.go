package compreface

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"
)

// knownPlugins are the face plugins Vizor serves. CompreFace's document
// also lists "mask"; no mask model ships with Vizor, so a request naming it
// is refused (400) rather than answered without the "mask" field it asked
// for, as is any other slug no plugin has (README.md, CompreFace API).
var knownPlugins = map[string]bool{"calculator": true, "age": true, "gender": true, "landmarks": true, "pose": true}

// facePlugins reads face_plugins (comma-separated slugs, case and spaces
// ignored, empty items skipped); ok=false when it answered the refusal.
func facePlugins(ctx *fasthttp.RequestCtx, raw string) (map[string]bool, bool) {
	out := map[string]bool{}
	for _, s := range strings.Split(raw, ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		switch {
		case s == "":
		case knownPlugins[s]:
			out[s] = true
		default:
			fail(ctx, http.StatusBadRequest, codeIncorrectArg, fmt.Sprintf("Face plugin '%s' is not available on this server; available: age, calculator, gender, landmarks, pose", s))
			return nil, false
		}
	}
	return out, true
}
