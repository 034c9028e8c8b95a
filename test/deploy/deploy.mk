# test/deploy/: install artifacts (config/rbac/, manifests/, Dockerfile.*) proven against real tools:
# kube-apiserver (can-i, server dry-run), promtool, Docker. Images: `make images`.
TEST_SUITES += test/deploy/rbac.sh
TEST_SUITES += test/deploy/manifests.sh
TEST_SUITES += test/deploy/alerts.sh
TEST_SUITES += test/deploy/images.sh
TEST_SUITES += test/deploy/controller-image.sh
TEST_SUITES += test/deploy/agent-image.sh
TEST_SUITES += test/deploy/images-e2e.sh
# The same, installed into another namespace by an overlay that only sets `namespace:`.
TEST_SUITES += "DEP_NAMESPACE=platform-pcmc test/deploy/images-e2e.sh"
# The Helm chart: lint, the same objects as manifests/ by default, each value; then helm install, run.
TEST_SUITES += test/deploy/chart.sh
TEST_SUITES += "DEP_INSTALL=helm DEP_NAMESPACE=pcmc-helm test/deploy/images-e2e.sh"
# The Grafana dashboard: every panel's query against a real Prometheus scraping the local cluster.
TEST_SUITES += test/deploy/dashboard.sh

# Local images (no registry): base image from debootstrap (cached), then pcmc-controller:dev, pcmc-agent:dev.
.PHONY: images
images:
	bash test/deploy/build-images.sh controller agent

# manifests/crd/ is a copy of crds/ (kustomize reads no file outside manifests/); refresh it after a CRD change.
.PHONY: deploy-crd
deploy-crd:
	cp crds/podconfigmapconfig.yaml manifests/crd/podconfigmapconfig.yaml
