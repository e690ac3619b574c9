//go:build tools

// Package tools pins the project's named dependencies in go.mod while the
// packages that use them are being written; delete once all are imported.
package tools

import (
	_ "github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	_ "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	_ "github.com/fluent/fluent-bit-go/output"
	_ "github.com/json-iterator/go"
	_ "github.com/klauspost/compress/gzip"
)
