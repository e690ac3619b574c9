package checkpoint

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

const crashEnv = "CHECKPOINT_CRASH_CHILD_DIR"

// TestMain lets the test binary act as the writer child of TestKill9.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashChild acks consecutive ranges as fast as it can until killed.
func crashChild(dir string) {
	s, err := NewDir(dir)
	if err != nil {
		os.Exit(2)
	}
	ctx := context.Background()
	c, _ := s.Load(ctx, "k")
	for off := c.Committed; ; off += 7 {
		if err := Ack(ctx, s, Range{Key: "k", Gen: 0, Off: off, End: off+7}); err != nil {
			os.Exit(3)
		}
	}
}

// TestKill9 kills a writer process with SIGKILL at random moments, many
// times, and checks the cursor always loads and never goes backwards.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	s, err := NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 25; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(5+rnd.IntN(60)) * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		c, err := s.Load(context.Background(), "k")
		if err != nil && round > 3 {
			t.Fatalf("round %d: cursor unreadable after kill -9: %v", round, err)
		}
		if c.Committed < last {
			t.Fatalf("round %d: committed went back from %d to %d", round, last, c.Committed)
		}
		if c.Committed%7 != 0 {
			t.Fatalf("round %d: committed %d is not a whole number of acks", round, c.Committed)
		}
		last = c.Committed
	}
	if last == 0 {
		t.Fatal("the child never saved a cursor")
	}
	// A fresh store cleans up nothing younger than a minute, and leftover
	// temporary files never make Load fail.
	tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp*"))
	t.Logf("25 kills: committed %d, %d temp files left by killed writers", last, len(tmps))
}

// TestTornFile: a cursor file cut short (as without rename) is reported as
// corrupt, not silently read as an empty cursor.
func TestTornFile(t *testing.T) {
	dir := t.TempDir()
	s, _ := NewDir(dir)
	ctx := context.Background()
	if err := Ack(ctx, s, Range{Key: "k", Gen: 0, Off: 0, End: 10}); err != nil {
		t.Fatal(err)
	}
	path := s.file("k")
	b, _ := os.ReadFile(path)
	for _, n := range []int{0, 1, len(b) / 2, len(b) - 1} {
		if err := os.WriteFile(path, b[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := s.Load(ctx, "k")
		if err == nil {
			t.Fatalf("torn file of %d/%d bytes loaded without error", n, len(b))
		}
	}
}
