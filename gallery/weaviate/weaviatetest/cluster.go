// Package weaviatetest starts throwaway 3-node Weaviate clusters on
// 127.0.0.1 for tests, through scripts/cluster.sh (the same script `make
// cluster` runs), and kills or restarts single nodes for fault tests.
package weaviatetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Version is the pinned weaviate-server (third_party/weaviate.sh).
const Version = "v1.35.2"

// Cluster is a running test cluster.
type Cluster struct {
	Root, Dir string
	Port      int
	Bin       string
}

// Root is the repository root (the folder holding go.mod).
func Root() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		d = p
	}
}

// Binary is the cached weaviate-server, or "" when it has not been built
// (scripts/deps.sh builds it; so does `make cluster`).
func Binary() string {
	if b := os.Getenv("WEAVIATE_BIN"); b != "" {
		return b
	}
	cache := os.Getenv("VIZOR_CACHE")
	if cache == "" {
		cache = "/var/cache/vizor"
	}
	b := filepath.Join(cache, "weaviate-"+Version, "weaviate-server")
	if _, err := os.Stat(b); err != nil {
		return ""
	}
	return b
}

// Skip skips t when no weaviate-server is built, unless the run requires
// the cluster tests (VIZOR_REQUIRE_DATA=1, as `make test` sets), where it
// fails instead: CI must not pass by skipping them.
func Skip(t testing.TB) string {
	t.Helper()
	b := Binary()
	if b == "" {
		if os.Getenv("VIZOR_REQUIRE_DATA") == "1" {
			t.Fatal("weaviate-server is not built (bash third_party/weaviate.sh; scripts/deps.sh does it)")
		}
		t.Skip("weaviate-server is not built: bash third_party/weaviate.sh (or make deps)")
	}
	return b
}

// Dir is the folder a test cluster on port keeps its data, logs and pids
// in: fixed per port, so that a run killed before it could stop its
// cluster (a test timeout) is cleaned up by the next run's Start.
func Dir(port int) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("vizor-weaviate-%d", port))
}

// Start starts a cluster with its data in dir and HTTP ports port..port+2.
// Nodes left running in dir by an earlier run are stopped and the folder
// emptied first.
func Start(bin, dir string, port int) (*Cluster, error) {
	root, err := Root()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Root: root, Dir: dir, Port: port, Bin: bin}
	c.Stop()
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if out, err := c.script("start"); err != nil {
		_, _ = c.script("stop")
		return nil, fmt.Errorf("cluster start: %v\n%s\n%s", err, out, c.Logs())
	}
	return c, nil
}

func (c *Cluster) script(args ...string) (string, error) {
	cmd := exec.Command("bash", append([]string{filepath.Join(c.Root, "scripts", "cluster.sh")}, args...)...)
	cmd.Dir = c.Root
	cmd.Env = append(os.Environ(), "VIZOR_CLUSTER_DIR="+c.Dir, "VIZOR_CLUSTER_PORT="+strconv.Itoa(c.Port), "WEAVIATE_BIN="+c.Bin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// URL is the -gallery URL of node i (its HTTP and gRPC ports).
func (c *Cluster) URL(i int, params string) string {
	u := fmt.Sprintf("weaviate://127.0.0.1:%d?grpc=%d", c.Port+i, c.Port+10+i)
	if params != "" {
		u += "&" + params
	}
	return u
}

// Pid is node i's process id (0 if none recorded).
func (c *Cluster) Pid(i int) int {
	b, err := os.ReadFile(filepath.Join(c.Dir, fmt.Sprintf("node%d.pid", i)))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// Kill sends SIGKILL to node i and waits until it is gone.
func (c *Cluster) Kill(i int) error {
	pid := c.Pid(i)
	if pid == 0 {
		return fmt.Errorf("node%d: no pid", i)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	for k := 0; k < 100; k++ {
		if syscall.Kill(pid, 0) != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return os.Remove(filepath.Join(c.Dir, fmt.Sprintf("node%d.pid", i)))
}

// StartNode (re)starts node i and waits until it is ready.
func (c *Cluster) StartNode(i int) error {
	out, err := c.script("start-node", strconv.Itoa(i))
	if err != nil {
		return fmt.Errorf("start node%d: %v\n%s", i, err, out)
	}
	return nil
}

// Stop stops every node.
func (c *Cluster) Stop() {
	_, _ = c.script("stop")
}

// Logs are the tails of the nodes' logs (for a failure message).
func (c *Cluster) Logs() string {
	var sb strings.Builder
	for i := 0; i < 3; i++ {
		b, _ := os.ReadFile(filepath.Join(c.Dir, fmt.Sprintf("node%d.log", i)))
		if len(b) > 2000 {
			b = b[len(b)-2000:]
		}
		fmt.Fprintf(&sb, "--- node%d.log\n%s\n", i, b)
	}
	return sb.String()
}
