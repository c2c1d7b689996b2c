//go:build vizor_crashtest

package bindings

/*
#include <signal.h>
// A real fault in native code: what a decoder or OpenCV bug would do.
static void vz_debug_crash(void) {
  volatile int* p = (volatile int*)0;
  *p = 42;
  raise(SIGSEGV);
}
*/
import "C"

func init() { DebugCrash = func() { C.vz_debug_crash() } }
