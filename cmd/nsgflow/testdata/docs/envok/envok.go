// Package envok reads environment variables in every way the docs test's
// scanner resolves.
package envok

import "os"

const envConst = "VIA_CONST"

const envFieldB = "VIA_FIELD_B"

type setting struct{ key, env string }

var settings = []setting{{key: "a", env: "VIA_FIELD_A"}, {key: "b", env: envFieldB}}

func literal() string { return os.Getenv("VIA_LITERAL") }

func constant() string { return os.Getenv(envConst) }

func lookup() bool {
	_, ok := os.LookupEnv("VIA_LOOKUP")
	return ok
}

func fromParam(file, env string) string { return file + os.Getenv(env) }

func caller() string { return fromParam("", "VIA_PARAM") }

func field(s setting) string { return os.Getenv(s.env) }
