package fbconf

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const secretValue = "s3cr3t-inline-value"

func TestMapConfigCaseInsensitive(t *testing.T) {
	m := MapConfig{"shared_key": "v"}
	for _, k := range []string{"shared_key", "Shared_Key", "SHARED_KEY"} {
		if got := m.Get(k); got != "v" {
			t.Errorf("Get(%q) = %q, want v", k, got)
		}
	}
	if got := m.Get("other"); got != "" {
		t.Errorf("unset key = %q, want empty", got)
	}
}

// run applies read to a parser over cfg and returns what it read and the
// parser's error text ("" when none).
func run[T any](cfg MapConfig, env string, read func(p *Parser) T) (T, string) {
	p := &Parser{Getter: cfg, Env: env}
	v := read(p)
	if p.Err() != nil {
		return v, p.Err().Error()
	}
	return v, ""
}

func TestStrRequiredList(t *testing.T) {
	tests := []struct {
		name    string
		cfg     MapConfig
		read    func(p *Parser) string
		want    string
		wantErr string
	}{
		{"str trimmed", MapConfig{"k": "  v  "}, func(p *Parser) string { return p.Str("k", "d") }, "v", ""},
		{"str default", MapConfig{"k": "   "}, func(p *Parser) string { return p.Str("k", "d") }, "d", ""},
		{"required set", MapConfig{"k": "v"}, func(p *Parser) string { return p.Required("k", "a value") }, "v", ""},
		{"required unset", MapConfig{}, func(p *Parser) string { return p.Required("k", "the stream name") }, "", "k is not set: give the stream name"},
		{"list", MapConfig{"k": " a, b ,,c, "}, func(p *Parser) string { return strings.Join(p.List("k"), "|") }, "a|b|c", ""},
		{"list unset", MapConfig{}, func(p *Parser) string { return strings.Join(p.List("k"), "|") }, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(tc.cfg, "", tc.read)
			if got != tc.want || err != tc.wantErr {
				t.Errorf("got %q, error %q; want %q, error %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestChoice(t *testing.T) {
	tests := []struct {
		name    string
		val     string
		allowed []string
		want    string
		wantErr string
	}{
		{"allowed", "seed", []string{"default", "seed"}, "seed", ""},
		{"case folded", "SEED", []string{"default", "seed"}, "seed", ""},
		{"unset is default", "", []string{"default", "seed"}, "default", ""},
		{"invalid", "wide", []string{"default", "seed"}, "default", `schema "wide" is not valid: use one of default, seed`},
		// "" allowed (unset means "pick later") is not listed as a choice.
		{"empty allowed hidden", "x", []string{"", "key", "sas"}, "default", `schema "x" is not valid: use one of key, sas`},
		{"long value clipped", strings.Repeat("a", 100), []string{"default"}, "default", `schema "` + strings.Repeat("a", 80) + `..." is not valid: use one of default`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(MapConfig{"schema": tc.val}, "", func(p *Parser) string { return p.Choice("schema", "default", tc.allowed...) })
			if got != tc.want || err != tc.wantErr {
				t.Errorf("got %q, error %q; want %q, error %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	const def = 20 * time.Second
	tests := []struct {
		val     string
		want    time.Duration
		wantErr string
	}{
		{"", def, ""},
		{"1500ms", 1500 * time.Millisecond, ""},
		{"2m", 2 * time.Minute, ""},
		{"5", 5 * time.Second, ""}, // bare number: seconds
		{"1.5", 1500 * time.Millisecond, ""},
		{"soon", def, `flush_deadline "soon" is not a duration: write e.g. 20s, 1500ms or 2m`},
		{"10ms", def, "flush_deadline 10ms is out of range: set between 1s and 10m0s"},
		{"11m", def, "flush_deadline 11m0s is out of range: set between 1s and 10m0s"},
	}
	for _, tc := range tests {
		t.Run(tc.val, func(t *testing.T) {
			got, err := run(MapConfig{"flush_deadline": tc.val}, "", func(p *Parser) time.Duration {
				return p.Duration("flush_deadline", def, time.Second, 10*time.Minute)
			})
			if got != tc.want || err != tc.wantErr {
				t.Errorf("got %v, error %q; want %v, error %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestIntAndSize(t *testing.T) {
	tests := []struct {
		name    string
		size    bool
		val     string
		want    int
		wantErr string
	}{
		{"int unset", false, "", 4, ""},
		{"int", false, "8", 8, ""},
		{"int signed", false, "+8", 8, ""},
		{"int overflow", false, "99999999999999999999", 4, `concurrency "99999999999999999999" is not a whole number: write e.g. 4`},
		{"int not a number", false, "many", 4, `concurrency "many" is not a whole number: write e.g. 4`},
		{"int no suffix", false, "8K", 4, `concurrency "8K" is not a whole number: write e.g. 4`},
		{"int out of range", false, "1000", 4, "concurrency 1000 is out of range: set between 1 and 256"},
		{"size plain", true, "100", 100, ""},
		{"size K", true, "8K", 8 << 10, ""},
		{"size MB", true, "2mb", 2 << 20, ""},
		{"size not a number", true, "lots", 4, `concurrency "lots" is not a whole number: write e.g. 4 (K, M and G suffixes allowed)`},
		{"size negative", true, "-1", 4, `concurrency "-1" is not a whole number: write e.g. 4 (K, M and G suffixes allowed)`},
		{"size out of range", true, "5M", 4, "concurrency 5242880 is out of range: set between 1 and 4194304"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(MapConfig{"concurrency": tc.val}, "", func(p *Parser) int {
				if tc.size {
					return p.Size("concurrency", 4, 1, 4<<20)
				}
				return p.Int("concurrency", 4, 1, 256)
			})
			if got != tc.want || err != tc.wantErr {
				t.Errorf("got %d, error %q; want %d, error %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{" 512k ", 512 << 10, true},
		{"3G", 3 << 30, true},
		{"3GB", 3 << 30, true},
		{"7B", 7, true},
		{"1.5M", 0, false},
		{"K", 0, false},
		{"-4", 0, false},
		{"99999999999G", 0, false}, // overflows int64 once multiplied
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestBool(t *testing.T) {
	tests := []struct {
		val     string
		def     bool
		want    bool
		wantErr string
	}{
		{"", true, true, ""},
		{"", false, false, ""},
		{"On", false, true, ""},
		{"yes", false, true, ""},
		{"1", false, true, ""},
		{"OFF", true, false, ""},
		{"false", true, false, ""},
		{"0", true, false, ""},
		{"maybe", true, true, `gzip "maybe" is not on or off: write on or off`},
	}
	for _, tc := range tests {
		t.Run(tc.val, func(t *testing.T) {
			got, err := run(MapConfig{"gzip": tc.val}, "", func(p *Parser) bool { return p.Bool("gzip", tc.def) })
			if got != tc.want || err != tc.wantErr {
				t.Errorf("got %v, error %q; want %v, error %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestSecret(t *testing.T) {
	file := filepath.Join("testdata", "secret.txt")
	empty := filepath.Join("testdata", "empty.txt")
	missing := filepath.Join("testdata", "no-such-file")
	tests := []struct {
		name    string
		cfg     MapConfig
		env     string
		key     string
		want    string
		wantErr string
	}{
		{"inline", MapConfig{"shared_key": " " + secretValue + " "}, "", "shared_key", secretValue, ""},
		{"unset", MapConfig{}, "", "shared_key", "", ""},
		{"from file, trimmed", MapConfig{"shared_key_file": file}, "", "shared_key", "s3cr3t-from-file", ""},
		{"file only (no key)", MapConfig{"shared_key_file": file, "": secretValue}, "", "", "s3cr3t-from-file", ""},
		{"both", MapConfig{"shared_key": secretValue, "shared_key_file": file}, "", "shared_key", "", "both shared_key and shared_key_file are set: keep one"},
		{"unexpanded, default env", MapConfig{"shared_key": "${NSG_KEY}"}, "", "shared_key", "",
			"shared_key looks like an unexpanded variable: export the variable in the environment"},
		{"unexpanded, Fluent Bit env", MapConfig{"shared_key": "${NSG_KEY}"}, "Fluent Bit's environment", "shared_key", "",
			"shared_key looks like an unexpanded variable: export the variable in Fluent Bit's environment"},
		{"missing file", MapConfig{"shared_key_file": missing}, "", "shared_key", "",
			`shared_key_file "` + missing + `" cannot be read: no such file or directory`},
		{"empty file", MapConfig{"shared_key_file": empty}, "", "shared_key", "", `shared_key_file "` + empty + `" is empty`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(tc.cfg, tc.env, func(p *Parser) string { return p.Secret(tc.key, "shared_key_file") })
			if got != tc.want || err != tc.wantErr {
				t.Errorf("got %q, error %q; want %q, error %q", got, err, tc.want, tc.wantErr)
			}
			if strings.Contains(err, "s3cr3t") {
				t.Errorf("error quotes the secret: %q", err)
			}
		})
	}
}

func TestFirstErrorKept(t *testing.T) {
	p := &Parser{Getter: MapConfig{"a": "x", "b": "y"}}
	p.Int("a", 1, 0, 10)
	p.Bool("b", false)
	p.Fail("later %d", 3)
	if p.Err() == nil || !strings.HasPrefix(p.Err().Error(), `a "x"`) {
		t.Fatalf("Err() = %v, want the first error (key a)", p.Err())
	}
	q := &Parser{Getter: MapConfig{}}
	q.Str("a", "")
	if q.Err() != nil {
		t.Fatalf("Err() = %v on valid input", q.Err())
	}
}

func TestClip(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{strings.Repeat("x", 80), strings.Repeat("x", 80)},
		{strings.Repeat("x", 81), strings.Repeat("x", 80) + "..."},
	}
	for _, tc := range tests {
		if got := Clip(tc.in); got != tc.want {
			t.Errorf("Clip(%d bytes) = %q, want %q", len(tc.in), got, tc.want)
		}
	}
}
