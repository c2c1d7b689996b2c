package compreface

import (
	"strings"

	"vizor/server/compat"
)

// subjectName is a subject name as stored and looked up: surrounding
// white space trimmed, the same way on add (JSON body or the subject query
// of an example), rename (both names), delete and every lookup, so " Ann"
// added is found, renamed and deleted as "Ann".
func subjectName(s string) string { return strings.TrimSpace(s) }

// subjectParam is the {subject} path segment as a subject name.
func subjectParam(p compat.Params) string { return subjectName(p["subject"]) }
