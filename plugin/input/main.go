// Command input is the Fluent Bit input plugin in_nsgflow.so (registered
// name "nsgflow_blob"), built with -buildmode=c-shared. It polls Azure flow-log
// blobs and hands Fluent Bit one record per flow-log record (or, with
// expand on, one flat event per flow tuple), each carrying _nsgflow_*
// provenance fields the nsgflow output plugin uses to acknowledge delivery.
//
// This file holds only the exported FLBPlugin* functions; everything else
// (configuration, the blob reader, encoding, the bounded queue,
// acknowledgment) lives in package blobinput. Every export recovers panics,
// so a bug never takes Fluent Bit down. fluent-bit-go's input package has no
// per-instance context: one nsgflow_blob input per Fluent Bit process.
package main

/*
#include <stdlib.h>
*/
import "C"

import (
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
	"unsafe"

	"github.com/fluent/fluent-bit-go/input"

	"github.com/nsgflow/nsgflow/internal/fbin"
	"github.com/nsgflow/nsgflow/internal/fblog"
)

const (
	pluginName = "nsgflow_blob"
	pluginDesc = "Azure NSG/VNet flow-log blobs (incremental, checkpointed)"
	// exitGrace bounds Exit: below Fluent Bit's default grace of 5s.
	exitGrace = 4 * time.Second
)

var (
	mu   sync.Mutex
	inst *fbin.Input
	ilog *fblog.Logger
)

// getter reads Fluent Bit properties of the instance being initialised.
type getter struct{ plugin unsafe.Pointer }

func (g getter) Get(key string) string { return input.FLBPluginConfigKey(g.plugin, key) }

func bootLog() *fblog.Logger {
	return fbin.NewLogger(os.Stderr, fblog.LevelInfo, "input:"+pluginName+":"+pluginName+".0")
}

func stack() string {
	buf := make([]byte, 4096)
	return string(buf[:runtime.Stack(buf, false)])
}

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) (rc int) {
	defer func() {
		if r := recover(); r != nil {
			bootLog().Errorf("register: internal error: %v", r)
			rc = input.FLB_ERROR
		}
	}()
	return input.FLBPluginRegister(def, pluginName, pluginDesc)
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) (rc int) {
	defer func() {
		if r := recover(); r != nil {
			bootLog().Errorf("init: internal error: %v: %s", r, stack())
			rc = input.FLB_ERROR
		}
	}()
	mu.Lock()
	defer mu.Unlock()
	if inst != nil {
		bootLog().Errorf("only one %s input per Fluent Bit process is supported (fluent-bit-go inputs have no per-instance context): remove the second [INPUT]", pluginName)
		return input.FLB_ERROR
	}
	cfg, err := fbin.ParseConfig(getter{plugin})
	if err != nil {
		bootLog().Errorf("invalid configuration: %v", err)
		return input.FLB_ERROR
	}
	log := bootLog()
	log.Level = cfg.LogLevel
	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit on this plugin's Go heap: the queue, a few chunks
		// being read, and headroom. GOMEMLIMIT overrides it.
		limit := int64(cfg.MaxQueueBytes)*2 + int64(cfg.Source.MaxChunk)*int64(cfg.Source.Concurrency)*4 + 128<<20
		debug.SetMemoryLimit(limit)
	}
	src, store, err := fbin.OpenSource(cfg, log)
	if err != nil {
		log.Errorf("init: %v", err)
		return input.FLB_ERROR
	}
	in := fbin.NewInput(cfg, src, store, log)
	in.Start()
	inst, ilog = in, log
	where := "checkpoint_dir " + cfg.Source.CheckpointDir
	if cfg.CheckpointContainer != "" {
		where = "checkpoint_container " + cfg.CheckpointContainer
	}
	log.Infof("reading %v from %s, start %s, poll every %v; ack_mode %s, expand %v, %s, max_queue_bytes %d",
		containersOf(cfg), endpointOf(cfg), cfg.Source.Start, cfg.Source.PollInterval, cfg.AckMode, cfg.Expand, where, cfg.MaxQueueBytes)
	return input.FLB_OK
}

func containersOf(cfg fbin.Config) []string {
	if len(cfg.Source.Containers) == 0 {
		return []string{"insights-logs-networksecuritygroupflowevent", "insights-logs-flowlogflowevent"}
	}
	return cfg.Source.Containers
}

func endpointOf(cfg fbin.Config) string {
	if u, err := cfg.Source.Auth.ServiceURL(); err == nil {
		return u
	}
	if cfg.Source.Auth.AccountName != "" {
		return "account " + cfg.Source.Auth.AccountName
	}
	return "the connection string's account"
}

// FLBPluginInputCallback is called by Fluent Bit every second on the input's
// thread. It returns a C.malloc'd msgpack buffer of [ts, record] entries
// (whole records only), or size 0 when nothing is queued.
//
//export FLBPluginInputCallback
func FLBPluginInputCallback(data *unsafe.Pointer, size *C.size_t) (rc int) {
	defer func() {
		if r := recover(); r != nil {
			ilogOrBoot().Errorf("collect: internal error (nothing handed over this time): %v: %s", r, stack())
			if data != nil {
				*data = nil
			}
			if size != nil {
				*size = 0
			}
			rc = input.FLB_OK
		}
	}()
	if data == nil || size == nil {
		return input.FLB_ERROR
	}
	*data, *size = nil, 0
	mu.Lock()
	in := inst
	mu.Unlock()
	if in == nil {
		return input.FLB_OK
	}
	buf := in.Collect()
	if len(buf) == 0 {
		return input.FLB_OK
	}
	p := C.malloc(C.size_t(len(buf)))
	if p == nil {
		ilogOrBoot().Errorf("collect: out of memory for %d bytes; the records are dropped from this run and read again at the next start", len(buf))
		return input.FLB_OK
	}
	copy(unsafe.Slice((*byte)(p), len(buf)), buf)
	*data, *size = p, C.size_t(len(buf))
	return input.FLB_OK
}

// FLBPluginInputCleanupCallback frees the buffer the last callback returned,
// after Fluent Bit appended its records; in handover mode their ranges are
// acknowledged now.
//
//export FLBPluginInputCleanupCallback
func FLBPluginInputCleanupCallback(data unsafe.Pointer) (rc int) {
	defer func() {
		if r := recover(); r != nil {
			ilogOrBoot().Errorf("cleanup: internal error: %v: %s", r, stack())
			rc = input.FLB_OK
		}
	}()
	if data != nil {
		C.free(data)
	}
	mu.Lock()
	in := inst
	mu.Unlock()
	if in != nil {
		in.Handed()
	}
	return input.FLB_OK
}

//export FLBPluginExit
func FLBPluginExit() (rc int) {
	defer func() {
		if r := recover(); r != nil {
			ilogOrBoot().Errorf("exit: internal error: %v", r)
			rc = input.FLB_OK
		}
	}()
	mu.Lock()
	in := inst
	inst = nil
	mu.Unlock()
	if in == nil {
		return input.FLB_OK
	}
	if err := in.Close(exitGrace); err != nil {
		ilogOrBoot().Warnf("exit: %v", err)
	}
	return input.FLB_OK
}

func ilogOrBoot() *fblog.Logger {
	mu.Lock()
	defer mu.Unlock()
	if ilog != nil {
		return ilog
	}
	return bootLog()
}

func main() {}
