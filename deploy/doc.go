// Package deploy renders the Azure Resource Manager template that prepares a
// Log Analytics workspace for nsgflow's Logs Ingestion destination: the
// custom table, the data collection rule whose stream declaration matches a
// flowparse schema column for column, an optional data collection endpoint,
// and the Monitoring Metrics Publisher role assignment on the rule.
//
// flowparse.Schema is the single source of truth: the committed templates in
// this folder (nsgflow-default.json, nsgflow-seed.json) are generated from it
// by `nsgflow dcr` and a test fails when they drift. The folder also holds
// the container, Kubernetes and KQL material that ships with the project; the
// tests here check that those stay consistent with the schema too.
package deploy
