// Package realfaces holds the gallery's end-to-end test with templates from
// the real engine (vizor/bindings) on the labelled photo set. It lives apart
// from package gallery so that the gallery's own tests do not need the native
// library.
package realfaces
