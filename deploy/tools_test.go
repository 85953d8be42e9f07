package deploy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// toolRun is how an external tool (cfn-lint, validate_aws_request.py,
// kube-score, the aws CLI) answered.
type toolRun struct {
	Stdout, Stderr []byte
	Code           int // exit code
}

// runTool runs cmd, whose answer depends only on its command line, its
// stdin and inputs (the contents of the files it reads).
//
// Under scripts/mutate, which sets DEPLOY_TOOL_CACHE to a folder, answers
// are kept there by a hash of exactly that: a mutant of the Go code that
// leaves a tool's input as it was gets the tool's earlier answer, and one
// that changes it runs the tool. Without it (scripts/test) every tool runs.
func runTool(t *testing.T, cmd *exec.Cmd, stdin []byte, inputs ...[]byte) toolRun {
	t.Helper()
	cache := os.Getenv("DEPLOY_TOOL_CACHE")
	var file string
	if cache != "" {
		h := sha256.New()
		for _, a := range append([]string{cmd.Path}, cmd.Args[1:]...) {
			if strings.HasPrefix(a, os.TempDir()) {
				a = filepath.Base(a) // t.TempDir() differs run to run
			}
			h.Write([]byte(a + "\x00"))
		}
		h.Write([]byte(strings.Join(cmd.Env, "\x00") + "\x00"))
		for _, in := range append([][]byte{stdin}, inputs...) {
			h.Write([]byte(hex.EncodeToString(in) + "\x00"))
		}
		file = filepath.Join(cache, hex.EncodeToString(h.Sum(nil))+".json")
		var r toolRun
		if b, err := os.ReadFile(file); err == nil && json.Unmarshal(b, &r) == nil {
			return r
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &stdout, &stderr
	r := toolRun{}
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("%s: %v", strings.Join(cmd.Args, " "), err)
		}
		r.Code = exit.ExitCode()
	}
	r.Stdout, r.Stderr = stdout.Bytes(), stderr.Bytes()
	if file != "" {
		if b, err := json.Marshal(r); err == nil && os.MkdirAll(cache, 0o755) == nil {
			os.WriteFile(file, b, 0o644)
		}
	}
	return r
}
