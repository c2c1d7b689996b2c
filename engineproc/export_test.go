package engineproc

// RoundTripError sends err through the wire form and back.
func RoundTripError(err error) error { return toWire(err).toErr() }
