// Package emulator is a strict local stand-in for Log Analytics ingestion:
// it serves the Logs Ingestion API and the HTTP Data Collector API over plain
// HTTP on loopback, checks requests the way Azure does, stores accepted rows
// as NDJSON, counts everything, and injects faults on demand. It is the test
// double of the delivery client, the Fluent Bit plugin harness and the demo.
//
// # Use in-process
//
//	srv, err := emulator.New(emulator.Config{
//		SharedKey:   base64Key,   // Data Collector API
//		BearerToken: "tok",       // Logs Ingestion API
//	})
//	addr, err := srv.Start()      // 127.0.0.1:<random port>
//	defer srv.Close()
//	// point the client at srv.URL() (endpoint override), send, then:
//	rows, err := srv.Rows()       // every accepted row, in order
//	ids := emulator.CountIDs(rows, "EventId")
//	st := srv.Stats()             // rows per table, answers per status, faults
//
// As a separate process: `nsgflow emulator` (docs/emulator.md, docs/cli.md),
// then read its rows file with ReadRowsFile and its counters at GET /stats.
//
// # Endpoints
//
//   - POST /dataCollectionRules/{dcr-immutable-id}/streams/{stream}?api-version=2023-01-01
//     (Logs Ingestion): "Authorization: Bearer <Config.BearerToken>"
//     (missing: 401, wrong: 403), or with Config.Entra a real Entra ID JWT
//     (signature, issuer, audience of the cloud, lifetime: 401 with Azure's
//     codes; a client without the role: 403), unknown DCR: 404, undeclared stream: 400
//     InvalidStream, Content-Type application/json (else 415), optional
//     Content-Encoding gzip, at most 1,048,576 bytes both as sent and inflated
//     (else 413 ContentLengthLimitExceeded), a JSON array of objects (else 400
//     InvalidPayload). Fields the stream does not declare are dropped
//     silently; values that do not fit a declared column type are stored
//     and counted (Stats.TypeMismatches); string values over 64 KB are
//     truncated; a row without
//     TimeGenerated gets it from Stream.TimeColumn or the ingestion time.
//     Success: 204.
//   - POST /api/logs?api-version=2016-04-01 (Data Collector): "Authorization:
//     SharedKey {workspace}:{base64 HMAC-SHA256 of
//     "POST\n{Content-Length}\napplication/json\nx-ms-date:{date}\n/api/logs"}",
//     x-ms-date (RFC 1123) within Config.MaxClockSkew; every auth failure is
//     403. Content-Type exactly application/json, Log-Type letters, digits and
//     "_" up to 100 (else 400 InvalidLogType), body up to 30 MB (else 404, as
//     Azure documents for too-large requests), one flat object or an array of
//     them, at most 500 fields, names up to 45 characters, not tenant,
//     TimeGenerated or RawData (else 400 InvalidDataFormat); values over 32 KB
//     are truncated; a time-generated-field header must name a field every
//     row holds as an RFC 3339 time (stricter than Azure, which falls back to
//     ingestion time). Table: Log-Type + "_CL". Success: 200, empty body.
//   - GET /healthz, GET /stats (Stats as JSON), POST /admin/down?for=3s
//     (SetDown(true), then SetDown(false) after the duration).
//
// The emulator listens on loopback only (it speaks plain HTTP and takes
// secrets). Any Host header is accepted: clients keep their Azure host names' paths and
// swap only scheme, host and port for URL().
//
// # Rows
//
// Every accepted row becomes one NDJSON line in Config.OutFile (or memory):
// "_table", "_api" (APILogsIngestion or APIDataCollector), "_request_id"
// (the answer's x-ms-request-id) and, for Data Collector requests with
// x-ms-AzureResourceId, "_resource_id" first, then the row's fields as
// sent, byte for byte, minus dropped fields (plus a filled TimeGenerated).
// Lines of one request are written together; the file is flushed every
// Config.FlushInterval, by Flush, Rows, RawRows and Close.
//
// # Faults
//
// Config.Faults gives shares of API requests answered with 429 (with
// Retry-After), 500 or 503, reset (TCP RST, no answer), or accepted and then
// dropped (rows stored, connection closed without an answer), plus a share
// delayed by SlowDelay, and "first N requests fail". Draws come from a PCG
// seeded with Faults.Seed, so a sequential client sees the same faults every
// run. SetDown(true) closes the listener and every connection (clients get
// "connection refused"); SetDown(false) listens on the same port again.
package emulator
