package entratest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// FakeAZ is a fake Azure CLI: Dir/az, a POSIX shell script that answers
// `az account get-access-token -o json --resource R [--tenant T]` as the
// real one does (accessToken, expiresOn, expires_on, subscription, tenant,
// tokenType) with a token the stand-in minted for R, and fails as az does
// for a resource it has no token for. Every call's arguments are appended
// to Dir/calls. Put Dir first on PATH.
type FakeAZ struct {
	Dir string
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9]`)

// FakeAZ writes a fake az into dir holding tokens for the resources (v1
// resource IDs as azidentity passes them, e.g. https://storage.azure.com or
// https://monitor.azure.com/), issued by the public-cloud authority for
// clientID and valid for life.
func (s *Server) FakeAZ(dir, clientID string, life time.Duration, resources ...string) (*FakeAZ, error) {
	for _, res := range resources {
		exp := time.Now().Add(life)
		out, err := json.MarshalIndent(map[string]any{
			"accessToken":  s.MintToken("login.microsoftonline.com", res, clientID, life),
			"expiresOn":    exp.Local().Format("2006-01-02 15:04:05.000000"),
			"expires_on":   exp.Unix(),
			"subscription": "00000000-0000-4000-8000-0000000000a5",
			"tenant":       s.Tenant,
			"tokenType":    "Bearer",
		}, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "tok-"+nonWord.ReplaceAllString(res, "_")), append(out, '\n'), 0o600); err != nil {
			return nil, err
		}
	}
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	script := fmt.Sprintf(`#!/bin/sh
# Fake Azure CLI written by entratest (tests only).
d=%s
printf '%%s\n' "$*" >> "$d/calls"
if [ "$1 $2" != "account get-access-token" ]; then
	echo "ERROR: fake az only knows account get-access-token" >&2
	exit 2
fi
res=
while [ $# -gt 0 ]; do
	case "$1" in
	--resource) res=$2; shift ;;
	esac
	shift
done
f="$d/tok-$(printf '%%s' "$res" | tr -c 'A-Za-z0-9' '_')"
if [ -z "$res" ] || [ ! -f "$f" ]; then
	echo "ERROR: AADSTS500011: The resource principal named $res was not found in the tenant." >&2
	exit 1
fi
cat "$f"
`, q(dir))
	if err := os.WriteFile(filepath.Join(dir, "az"), []byte(script), 0o755); err != nil {
		return nil, err
	}
	return &FakeAZ{Dir: dir}, nil
}

// Calls returns the arguments of every call so far, one string each.
func (f *FakeAZ) Calls() []string {
	b, err := os.ReadFile(filepath.Join(f.Dir, "calls"))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// PathEnv is PATH with Dir first.
func (f *FakeAZ) PathEnv() string {
	return "PATH=" + f.Dir + string(os.PathListSeparator) + os.Getenv("PATH")
}
