# Container image and Compose stack (issue 17): builds both Dockerfile targets
# on local stand-ins of the base images (Debian packages, no registry) and
# runs docker-compose.yml end to end. Part of make test; SKIP (exit 0) when no
# Docker engine can be used or started, or with NSGFLOW_IMAGE_TEST=0.
# FLUENT_BIT_BIN=/path/fluent-bit runs the fluent-bit service too.
TEST_TARGETS += test-image

.PHONY: test-image

test-image: setup-azurite
	test/image/run.sh
