// Package fakeapi serves the read-only part of a Kubernetes API server that
// `kubectl apply --dry-run=client` needs, so the manifests in deploy/kubernetes
// can be dry-run without a cluster: the version, the legacy discovery
// documents for the kinds nsgflow ships (core/v1 and apps/v1), and 404 for
// every object, which kubectl reads as "not there yet, would be created".
// It records each request so a test can see what kubectl asked for and that
// it wrote nothing.
package fakeapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Resource is one entry of an APIResourceList.
type Resource struct {
	Name         string   `json:"name"`
	SingularName string   `json:"singularName"`
	Namespaced   bool     `json:"namespaced"`
	Kind         string   `json:"kind"`
	Verbs        []string `json:"verbs"`
	ShortNames   []string `json:"shortNames,omitempty"`
}

// GroupVersion is one API group version and the resources it serves. Group
// is empty for the core ("legacy") group served under /api.
type GroupVersion struct {
	Group     string
	Version   string
	Resources []Resource
}

func (g GroupVersion) String() string {
	if g.Group == "" {
		return g.Version
	}
	return g.Group + "/" + g.Version
}

// path is where the group version's resource list is served.
func (g GroupVersion) path() string {
	if g.Group == "" {
		return "/api/" + g.Version
	}
	return "/apis/" + g.Group + "/" + g.Version
}

var verbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// Nsgflow is the discovery of the kinds in deploy/kubernetes.
var Nsgflow = []GroupVersion{
	{Version: "v1", Resources: []Resource{
		{Name: "namespaces", SingularName: "namespace", Kind: "Namespace", Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"}, ShortNames: []string{"ns"}},
		{Name: "serviceaccounts", SingularName: "serviceaccount", Namespaced: true, Kind: "ServiceAccount", Verbs: verbs, ShortNames: []string{"sa"}},
		{Name: "configmaps", SingularName: "configmap", Namespaced: true, Kind: "ConfigMap", Verbs: verbs, ShortNames: []string{"cm"}},
		{Name: "persistentvolumeclaims", SingularName: "persistentvolumeclaim", Namespaced: true, Kind: "PersistentVolumeClaim", Verbs: verbs, ShortNames: []string{"pvc"}},
	}},
	{Group: "apps", Version: "v1", Resources: []Resource{
		{Name: "deployments", SingularName: "deployment", Namespaced: true, Kind: "Deployment", Verbs: verbs, ShortNames: []string{"deploy"}},
	}},
}

// Request is one request the server received.
type Request struct {
	Method, Path, Accept string
	Status               int
}

func (r Request) String() string {
	return fmt.Sprintf("%s %s -> %d (Accept: %s)", r.Method, r.Path, r.Status, r.Accept)
}

// Server is an http.Handler answering discovery for a fixed set of group
// versions. The zero value is not usable; call New.
type Server struct {
	docs map[string]any // path -> discovery document

	mu   sync.Mutex
	reqs []Request
}

// New returns a server for the given group versions (at most one core group
// version, the one with an empty Group).
func New(gvs []GroupVersion) *Server {
	s := &Server{docs: map[string]any{}}
	var core []string
	var groups []map[string]any
	for _, gv := range gvs {
		s.docs[gv.path()] = map[string]any{
			"kind": "APIResourceList", "apiVersion": "v1",
			"groupVersion": gv.String(), "resources": gv.Resources,
		}
		if gv.Group == "" {
			core = append(core, gv.Version)
			continue
		}
		v := map[string]string{"groupVersion": gv.String(), "version": gv.Version}
		groups = append(groups, map[string]any{
			"name": gv.Group, "versions": []any{v}, "preferredVersion": v,
		})
	}
	s.docs["/api"] = map[string]any{
		"kind": "APIVersions", "versions": core,
		"serverAddressByClientCIDRs": []any{map[string]string{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}},
	}
	s.docs["/apis"] = map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
	s.docs["/version"] = map[string]string{
		"major": "1", "minor": "32", "gitVersion": "v1.32.0-nsgflow-fakeapi",
		"platform": "linux/amd64",
	}
	return s
}

// ServeHTTP answers GETs of discovery documents with plain JSON (also when
// aggregated discovery is asked for: kubectl then falls back to the legacy
// documents), every other GET with a NotFound Status, and any write with
// 405: a client-side dry run must not write.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	var body any
	doc, found := s.docs[strings.TrimSuffix(r.URL.Path, "/")]
	switch {
	case r.Method != http.MethodGet:
		status = http.StatusMethodNotAllowed
		body = apiStatus(status, "MethodNotAllowed", r.Method+" is not served: fakeapi is read-only")
	case found:
		body = doc
	default:
		status = http.StatusNotFound
		body = apiStatus(status, "NotFound", r.URL.Path+" not found")
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, Accept: r.Header.Get("Accept"), Status: status})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// Encoding fixed maps and structs cannot fail; a write error means the
	// client went away, which the client reports itself.
	_ = json.NewEncoder(w).Encode(body)
}

// Requests returns a copy of every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

func apiStatus(code int, reason, msg string) map[string]any {
	return map[string]any{
		"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"message": msg, "reason": reason, "code": code,
	}
}

// Kubeconfig returns a kubeconfig whose current context points at server
// (e.g. an httptest URL on 127.0.0.1) without credentials.
func Kubeconfig(server string) []byte {
	return []byte(`apiVersion: v1
kind: Config
clusters:
- name: fakeapi
  cluster:
    server: ` + server + `
users:
- name: fakeapi
  user: {}
contexts:
- name: fakeapi
  context:
    cluster: fakeapi
    user: fakeapi
current-context: fakeapi
`)
}
