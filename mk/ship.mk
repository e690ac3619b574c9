# Shipping: container images, Compose stacks, Kubernetes manifests, ARM
# templates. Only static checks run in `make test` (no Docker engine, no
# cluster, no Azure here): Compose files through `docker-compose config`,
# manifests through kubectl's client-side decoding and the Go tests in
# ./deploy (templates, queries, manifests and Compose wiring).
COMPOSE ?= docker-compose
IMAGE ?= nsgflow/fluent-bit:local
CLI_IMAGE ?= nsgflow/cli:local

SETUP_TARGETS += setup-compose
TEST_TARGETS += check-compose check-k8s

.PHONY: setup-compose check-compose check-k8s deploy-templates image image-cli

# Installs the Debian docker-compose package only when it is missing.
setup-compose:
	@deploy/tools/install-docker-compose.sh

check-compose:
	$(COMPOSE) -f docker-compose.yml config -q
	$(COMPOSE) --env-file deploy/docker/azure.env.example -f docker-compose.yml -f docker-compose.azure.yml config -q
	$(GO) test -count=1 -run 'TestComposeStacks|TestDockerfile|TestImageFluentBitConfig' ./deploy/
	@echo "check-compose: docker-compose.yml and the Azure override are valid"

# Manifests: kubectl's offline decode, the Go cross-reference test, then a
# real `kubectl apply --dry-run=client --validate=false -f deploy/kubernetes/`
# against deploy/kubernetes/fakeapi (discovery served on 127.0.0.1 by the
# test), which also checks that broken manifests fail. Without kubectl the
# kubectl parts print SKIP (NSGFLOW_REQUIRE_KUBECTL=1 makes that an error).
check-k8s:
	deploy/tools/check-k8s.sh
	$(GO) test -count=1 -run 'TestKubernetesManifests' ./deploy/
	$(GO) test -count=1 -v -run 'TestKubectlDryRun' ./deploy/kubernetes/fakeapi/

# Rewrite deploy/nsgflow-{default,seed}.{json,bicep} after a schema change.
deploy-templates:
	$(GO) test -count=1 -run TestCommittedTemplatesAreCurrent ./deploy/ -update

# Need a Docker engine (not available on the build machine).
image:
	docker build -t $(IMAGE) .

image-cli:
	docker build --target cli -t $(CLI_IMAGE) .
