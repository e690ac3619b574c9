// Package notify is nsgflow's notification mode: it receives Event Grid
// Microsoft.Storage.BlobCreated events from an Azure Storage queue (Event
// Grid's storage-queue delivery: one event per message, base64 JSON, in the
// Event Grid or CloudEvents schema) and hands the named blobs to a
// blobsource.Source, which reads each from its checkpoint to its committed
// length.
//
// A message is deleted only once its blob's checkpoint covers the event's
// contentLength (every record before the 2-byte tail acknowledged by the
// delivery side): a crash before that lets the message come back. Messages
// already covered when received (repeats, events overtaken by a later one)
// are deleted at once; messages of one blob are handed over once. While a
// blob is in flight its messages' visibility timeouts are renewed, for at
// most MaxHold per delivery; a message delivered more than MaxDequeue times
// (a poison blob), or that is not an event at all, is moved to the
// dead-letter queue. Events lost or purged are caught by the Source's own
// low-rate listing pass (poll_interval in notification mode).
package notify
