package emulator

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Logs Ingestion token audiences per cloud, as Microsoft documents them.
const (
	AudiencePublic = "https://monitor.azure.com"
	AudienceChina  = "https://monitor.azure.cn"
	AudienceUSGov  = "https://monitor.azure.us"
)

// EntraAuth makes the Logs Ingestion API check bearer tokens as Azure does
// instead of comparing them with Config.BearerToken: an RS256 JWT signed by
// one of Keys, from one of Issuers, for Audience, inside its lifetime, and
// (when Clients is set) of a client that holds the role on the DCRs.
//
// Refusals: 401 InvalidAuthenticationToken (not a JWT, bad signature,
// unknown issuer), 401 InvalidAuthenticationTokenAudience, 401
// ExpiredAuthenticationToken (or not yet valid), 403 OperationFailed (a
// valid token of a client without the role), each with the Azure error
// body {"error":{"code","message"}} and a WWW-Authenticate: Bearer header.
type EntraAuth struct {
	// Keys verify the token signature (the issuer's signing keys).
	Keys []*rsa.PublicKey
	// Issuers are the accepted iss values, e.g. https://sts.windows.net/{tenant}/.
	Issuers []string
	// Audience is the cloud's audience (AudiencePublic when empty); a
	// trailing slash on the token's aud is accepted.
	Audience string
	// Clients, when not empty, are the client IDs (appid or azp) holding
	// Monitoring Metrics Publisher on the DCRs; others get 403.
	Clients []string
	// Leeway is the clock skew allowed on exp and nbf (0: none).
	Leeway time.Duration
}

type jwtClaims struct {
	Iss   string  `json:"iss"`
	Aud   string  `json:"aud"`
	AppID string  `json:"appid"`
	Azp   string  `json:"azp"`
	Exp   float64 `json:"exp"`
	Nbf   float64 `json:"nbf"`
}

// checkJWT verifies tok under a; dcrID names the rule in a 403.
func (a *EntraAuth) checkJWT(tok, dcrID string, now time.Time) *apiError {
	invalid := func(msg string) *apiError { return &apiError{401, "InvalidAuthenticationToken", msg} }
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return invalid("The access token is not a valid JWT.")
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return invalid("The access token is not a valid JWT.")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var c jwtClaims
	if json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(pb, &c) != nil {
		return invalid("The access token is not a valid JWT.")
	}
	if hdr.Alg != "RS256" {
		return invalid("The access token signing algorithm is not supported.")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	ok := false
	for _, k := range a.Keys {
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil {
			ok = true
			break
		}
	}
	if !ok {
		return invalid("The access token signature is invalid.")
	}
	issOK := false
	for _, i := range a.Issuers {
		if c.Iss == i {
			issOK = true
			break
		}
	}
	if !issOK {
		return invalid("The access token issuer '" + truncate(c.Iss, 100) + "' is not trusted.")
	}
	want := a.Audience
	if want == "" {
		want = AudiencePublic
	}
	if strings.TrimSuffix(c.Aud, "/") != strings.TrimSuffix(want, "/") {
		return &apiError{401, "InvalidAuthenticationTokenAudience", "The access token was issued for audience '" + truncate(c.Aud, 100) + "'; this endpoint accepts only '" + want + "'."}
	}
	exp := time.Unix(int64(c.Exp), 0)
	if c.Exp == 0 || now.After(exp.Add(a.Leeway)) {
		return &apiError{401, "ExpiredAuthenticationToken", "The access token expired at " + exp.UTC().Format(time.RFC3339) + " (now " + now.UTC().Format(time.RFC3339) + ")."}
	}
	if c.Nbf != 0 && now.Add(a.Leeway).Before(time.Unix(int64(c.Nbf), 0)) {
		return &apiError{401, "ExpiredAuthenticationToken", "The access token is not valid yet."}
	}
	if len(a.Clients) > 0 {
		id := c.AppID
		if id == "" {
			id = c.Azp
		}
		allowed := false
		for _, cl := range a.Clients {
			if strings.EqualFold(cl, id) {
				allowed = true
				break
			}
		}
		if !allowed {
			return &apiError{403, "OperationFailed", "The authentication token provided does not have access to ingest data for the data collection rule with immutable Id '" + truncate(dcrID, 80) + "'."}
		}
	}
	return nil
}
