package openapitest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"vizor/server/openapi"
)

// ErrNoXmllint: xmllint (Debian's libxml2-utils, installed by
// scripts/deps.sh) is not on PATH, so XML Schema validation cannot run.
var ErrNoXmllint = errors.New("xmllint not found (libxml2-utils)")

var xmllint = sync.OnceValues(func() (string, error) {
	p, err := exec.LookPath("xmllint")
	if err != nil {
		return "", ErrNoXmllint
	}
	return p, nil
})

// ValidateXSD checks an XML answer of the XML API against
// server/openapi/specs/xmlapi.xsd with xmllint (a few milliseconds a
// document). The schema goes to xmllint through a pipe, so nothing is
// written to disk.
func ValidateXSD(body []byte) error {
	bin, err := xmllint()
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(bin, "--noout", "--nonet", "--schema", "/dev/fd/3", "-")
	cmd.ExtraFiles = []*os.File{r}
	cmd.Stdin = bytes.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		w.Close()
		return err
	}
	go func() {
		_, _ = w.Write(openapi.XSD())
		w.Close()
	}()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("xmlapi.xsd: %s", strings.TrimSpace(out.String()))
	}
	return nil
}
