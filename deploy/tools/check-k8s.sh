#!/usr/bin/env bash
# Validate deploy/kubernetes/ with kubectl, without a cluster:
#  - every manifest must decode as a Kubernetes object (kubectl label --local,
#    which reads the files client-side and contacts no server);
#  - `kubectl apply --dry-run=client --validate=false -f deploy/kubernetes/`
#    runs in `make check-k8s` against a loopback fake API discovery server
#    (go test ./deploy/kubernetes/fakeapi -run TestKubectlDryRun);
#  - with NSGFLOW_K8S_DRY_RUN=1 this script also runs it against the cluster
#    of your kubeconfig (discovery only; it changes nothing there).
# Cross-object references (volumes, ConfigMap keys, service account, probes)
# are checked by `go test ./deploy -run TestKubernetesManifests`.
# Without kubectl the kubectl part is skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=deploy/kubernetes
if ! command -v kubectl >/dev/null 2>&1; then
	echo "check-k8s: kubectl not found: skipping the kubectl checks of $dir (the Go manifest test still runs)"
	exit 0
fi
objects=$(kubectl label --local -f "$dir" nsgflow.check/decoded=true -o name)
count=$(wc -l <<<"$objects")
echo "check-k8s: $count objects decode: $(tr '\n' ' ' <<<"$objects")"
if [[ "${NSGFLOW_K8S_DRY_RUN:-0}" == 1 ]]; then
	kubectl apply --dry-run=client --validate=false -f "$dir"
fi
