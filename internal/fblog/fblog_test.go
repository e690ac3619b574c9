package fblog

import (
	"strings"
	"sync"
	"testing"
	"time"
)

var fixedNow = func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want Level
		ok   bool
	}{
		{"error", LevelError, true},
		{" WARN ", LevelWarn, true},
		{"warning", LevelWarn, true},
		{"", LevelInfo, true},
		{"info", LevelInfo, true},
		{"Debug", LevelDebug, true},
		{"trace", LevelInfo, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLevel(tc.in)
			if got != tc.want || (err == nil) != tc.ok {
				t.Errorf("ParseLevel(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestLogf(t *testing.T) {
	tests := []struct {
		name   string
		level  Level
		redact func(string) string
		log    func(l *Logger)
		want   string
	}{
		{"format and levels", LevelInfo, nil, func(l *Logger) {
			l.Debugf("hidden")
			l.Infof("hello %d", 1)
			l.Warnf("careful")
			l.Errorf("bad")
		}, "[2026/11/26 09:00:00] [ info] [output:nsgflow:nsgflow.3] hello 1\n" +
			"[2026/11/26 09:00:00] [ warn] [output:nsgflow:nsgflow.3] careful\n" +
			"[2026/11/26 09:00:00] [error] [output:nsgflow:nsgflow.3] bad\n"},
		{"debug enabled", LevelDebug, nil, func(l *Logger) { l.Debugf("shown") },
			"[2026/11/26 09:00:00] [debug] [output:nsgflow:nsgflow.3] shown\n"},
		{"error only", LevelError, nil, func(l *Logger) { l.Warnf("hidden"); l.Errorf("x") },
			"[2026/11/26 09:00:00] [error] [output:nsgflow:nsgflow.3] x\n"},
		{"newlines become spaces", LevelInfo, nil, func(l *Logger) { l.Infof("a\nb\nc") },
			"[2026/11/26 09:00:00] [ info] [output:nsgflow:nsgflow.3] a b c\n"},
		{"redact applied", LevelInfo, func(s string) string { return strings.ReplaceAll(s, "SECRET", "REDACTED") },
			func(l *Logger) { l.Errorf("GET http://x/?sig=%s", "SECRET") },
			"[2026/11/26 09:00:00] [error] [output:nsgflow:nsgflow.3] GET http://x/?sig=REDACTED\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			l := &Logger{W: &b, Level: tc.level, Prefix: "output:nsgflow:nsgflow.3", Now: fixedNow, Redact: tc.redact}
			tc.log(l)
			if b.String() != tc.want {
				t.Errorf("got %q\nwant %q", b.String(), tc.want)
			}
		})
	}
}

func TestDisabledLoggers(t *testing.T) {
	var nilLogger *Logger
	noWriter := &Logger{Level: LevelDebug}
	for name, l := range map[string]*Logger{"nil": nilLogger, "no writer": noWriter} {
		if l.Enabled(LevelError) {
			t.Errorf("%s logger is enabled", name)
		}
		l.Errorf("must not panic") // prints nothing
	}
}

// countingWriter records each Write call.
type countingWriter struct {
	mu     sync.Mutex
	writes []string
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.writes = append(w.writes, string(p))
	w.mu.Unlock()
	return len(p), nil
}

// TestOneWritePerLine: concurrent callers' lines arrive whole.
func TestOneWritePerLine(t *testing.T) {
	w := &countingWriter{}
	l := &Logger{W: w, Prefix: "p"}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				l.Infof("line %d", j)
			}
		}()
	}
	wg.Wait()
	if len(w.writes) != 400 {
		t.Fatalf("%d writes, want 400", len(w.writes))
	}
	for _, s := range w.writes {
		if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") || !strings.Contains(s, "] [ info] [p] line ") {
			t.Fatalf("write %q is not one whole line", s)
		}
	}
}

func TestSlog(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *Logger)
		want string
	}{
		{"attrs", func(l *Logger) { l.Slog().Info("blob closed", "blob", "a/b c", "records", 3) },
			`[2026/11/26 09:00:00] [ info] [input:x] blob closed blob="a/b c" records=3` + "\n"},
		{"with attrs and group", func(l *Logger) { l.Slog().WithGroup("g").With("c", "nsg").Warn("slow", "n", 1) },
			`[2026/11/26 09:00:00] [ warn] [input:x] slow g.c=nsg g.n=1` + "\n"},
		{"nested groups", func(l *Logger) { l.Slog().WithGroup("a").WithGroup("b").Error("e", "k", "v=1") },
			`[2026/11/26 09:00:00] [error] [input:x] e a.b.k="v=1"` + "\n"},
		{"debug filtered at info", func(l *Logger) { l.Slog().Debug("hidden") }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			l := &Logger{W: &b, Level: LevelInfo, Prefix: "input:x", Now: fixedNow}
			tc.log(l)
			if b.String() != tc.want {
				t.Errorf("got %q\nwant %q", b.String(), tc.want)
			}
		})
	}
}
