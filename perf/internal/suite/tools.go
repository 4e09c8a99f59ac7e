package suite

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ensureNATS installs nats-server and the nats CLI into binDir with `go
// install` (from the Go module proxy) unless the pinned versions are
// already there. It returns the two paths.
func ensureNATS(ctx context.Context, root, binDir string, logf func(string, ...any)) (server, cli string, err error) {
	server, cli = filepath.Join(binDir, "nats-server"), filepath.Join(binDir, "nats")
	for _, t := range []struct{ path, want, module string }{
		{server, natsServerVer, natsServerModule},
		{cli, natsCLIVer, natsCLIModule},
	} {
		if strings.Contains(toolVersion(ctx, t.path), t.want) {
			continue
		}
		logf("installing %s into %s", t.module, binDir)
		p := runCmd(ctx, cmdSpec{Dir: root, Timeout: 10 * time.Minute, Env: []string{"GOBIN=" + binDir}}, "go", "install", t.module)
		if p.Err != nil {
			return "", "", fmt.Errorf("cannot install %s: %w: %s", t.module, p.Err, p.tail(400))
		}
	}
	return server, cli, nil
}

// buildWeirBench builds cmd/bench into binDir/weir-bench.
func buildWeirBench(ctx context.Context, root, binDir string) (string, error) {
	out := filepath.Join(binDir, "weir-bench")
	p := runCmd(ctx, cmdSpec{Dir: root, Timeout: 5 * time.Minute}, "go", "build", "-o", out, "./cmd/bench")
	if p.Err != nil {
		return "", fmt.Errorf("cannot build weir-bench: %w: %s", p.Err, p.tail(800))
	}
	return out, nil
}

// exportHEAD writes the tree of the repository's HEAD commit into dir
// (created), so that a run measures exactly the commit it records even
// while the work tree is being edited.
func exportHEAD(ctx context.Context, root, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "git", "archive", "--format=tar", "HEAD")
	cmd.Dir = root
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot run git archive: %w", err)
	}
	untarErr := untar(out, dir)
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git archive HEAD: %w: %s", err, stderr.String())
	}
	return untarErr
}

// untar extracts regular files and directories from r into dir.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cannot read archive: %w", err)
		}
		name := filepath.Clean(h.Name)
		if name == ".." || strings.HasPrefix(name, "../") || filepath.IsAbs(name) {
			return fmt.Errorf("perf: archive entry %q leaves the directory", h.Name)
		}
		path := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}
