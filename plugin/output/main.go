// Command output is the Fluent Bit output plugin out_nsgflow.so (registered
// name "nsgflow"), built with -buildmode=c-shared. It holds only the exported
// FLBPlugin* functions: configuration, the flush pipeline and error mapping
// live in package pipeline. Every export recovers panics, so a bug never
// takes Fluent Bit down.
package main

import "C"

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"
	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/fblog"
	"github.com/nsgflow/nsgflow/internal/fbout"
)

const (
	pluginName = "nsgflow"
	pluginDesc = "Azure NSG/VNet flow logs to Log Analytics"
)

// instance is one configured [OUTPUT] section.
type instance struct {
	name  string
	cfg   fbout.Config
	log   *fblog.Logger
	pipe  *fbout.Pipeline
	exits atomic.Bool
}

// instances counts Init calls to name instances the way Fluent Bit does
// (nsgflow.0, nsgflow.1, ...).
var instances atomic.Int32

// getter reads Fluent Bit properties of the instance being initialised.
type getter struct{ plugin unsafe.Pointer }

func (g getter) Get(key string) string { return output.FLBPluginConfigKey(g.plugin, key) }

// bootLog is used before an instance has its own logger.
func bootLog(name string) *fblog.Logger {
	return &fblog.Logger{W: os.Stderr, Level: fblog.Level(0), Prefix: fbout.LogPrefix(name)}
}

// budgets sums the instances' fbout.Config.MemoryBudget.
var budgets atomic.Int64

// setMemoryLimit sets this .so's soft Go memory limit (its own runtime,
// outside Fluent Bit's Mem_Buf_Limit) to fbout.MemoryLimitBase plus every
// instance's budget, unless GOMEMLIMIT is set.
func setMemoryLimit(cfg fbout.Config, log *fblog.Logger) {
	total := budgets.Add(cfg.MemoryBudget())
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		log.Debugf("GOMEMLIMIT=%s set: no default soft memory limit", v)
		return
	}
	limit := fbout.MemoryLimitBase + total
	debug.SetMemoryLimit(limit)
	log.Infof("soft Go memory limit %d MiB for this plugin (GOMEMLIMIT unset: %d MiB base + %d MiB for the flushes of its instances)", limit>>20, fbout.MemoryLimitBase>>20, total>>20)
}

// Peak Go heap figures, sampled after each flush at debug level.
var peakHeapInuse, peakSys atomic.Uint64

func sampleHeap() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for _, x := range []struct {
		p *atomic.Uint64
		v uint64
	}{{&peakHeapInuse, ms.HeapInuse}, {&peakSys, ms.Sys}} {
		for old := x.p.Load(); x.v > old && !x.p.CompareAndSwap(old, x.v); old = x.p.Load() {
		}
	}
}

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) (rc int) {
	defer func() {
		if r := recover(); r != nil {
			bootLog(pluginName).Errorf("register: internal error: %v", r)
			rc = output.FLB_ERROR
		}
	}()
	return output.FLBPluginRegister(def, pluginName, pluginDesc)
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) (rc int) {
	name := fmt.Sprintf("%s.%d", pluginName, instances.Add(1)-1)
	defer func() {
		if r := recover(); r != nil {
			bootLog(name).Errorf("init: internal error: %v", r)
			rc = output.FLB_ERROR
		}
	}()
	cfg, err := fbout.ParseConfig(getter{plugin})
	if err != nil {
		bootLog(name).Errorf("invalid configuration: %v", err)
		return output.FLB_ERROR
	}
	log := &fblog.Logger{W: os.Stderr, Level: cfg.LogLevel, Prefix: fbout.LogPrefix(name)}
	for _, w := range cfg.Warnings {
		log.Warnf("configuration: %s", w)
	}
	sink, err := cfg.NewSink(log)
	if err != nil {
		log.Errorf("invalid configuration: %v", err)
		return output.FLB_ERROR
	}
	var acker fbout.Acker
	if cfg.CheckpointDir != "" {
		store, err := checkpoint.NewDir(cfg.CheckpointDir)
		if err != nil {
			log.Errorf("invalid configuration: checkpoint_dir: %v", err)
			_ = sink.Close()
			return output.FLB_ERROR
		}
		acker = fbout.CheckpointAcker{Store: store}
	}
	pipe, err := fbout.New(cfg.Options(sink, log, acker))
	if err != nil {
		log.Errorf("init: %v", err)
		_ = sink.Close()
		return output.FLB_ERROR
	}
	inst := &instance{name: name, cfg: cfg, log: log, pipe: pipe}
	// Set the context here, inside Init: Fluent Bit reuses one plugin struct
	// for every instance of this .so.
	output.FLBPluginSetContext(plugin, inst)
	setMemoryLimit(cfg, log)
	log.Infof("destination %s, schema %s, flush_deadline %v, grace %v", cfg.Kind, cfg.Schema.Name, cfg.FlushDeadline, cfg.Grace)
	return output.FLB_OK
}

// FLBPluginFlush is the context-less flush of old Fluent Bit versions; the
// proxy calls FLBPluginFlushCtx when it exists, so this only refuses.
//
//export FLBPluginFlush
func FLBPluginFlush(data unsafe.Pointer, length C.int, tag *C.char) (rc int) {
	defer func() {
		if recover() != nil {
			rc = output.FLB_ERROR
		}
	}()
	bootLog(pluginName).Errorf("flush without context: this Fluent Bit is too old for the plugin (needs FLBPluginFlushCtx)")
	return output.FLB_ERROR
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.int, tag *C.char) (rc int) {
	var inst *instance
	defer func() {
		if r := recover(); r != nil {
			l := bootLog(pluginName)
			if inst != nil {
				l = inst.log
			}
			buf := make([]byte, 4096)
			buf = buf[:runtime.Stack(buf, false)]
			l.Errorf("flush: internal error (chunk will be retried): %v: %s", r, buf)
			rc = output.FLB_RETRY
		}
	}()
	inst, _ = output.FLBPluginGetContext(ctx).(*instance)
	if inst == nil {
		bootLog(pluginName).Errorf("flush: unknown plugin context (Init did not succeed?)")
		return output.FLB_ERROR
	}
	if length < 0 || (data == nil && length > 0) {
		inst.log.Errorf("flush: invalid chunk (length %d)", int(length))
		return output.FLB_ERROR
	}
	// Neither data nor tag outlive this call: the pipeline does not keep them.
	var chunk []byte
	if length > 0 {
		chunk = unsafe.Slice((*byte)(data), int(length))
	}
	var t string
	if tag != nil {
		t = C.GoString(tag)
	}
	res := inst.pipe.Flush(chunk, t)
	if inst.log.Enabled(fblog.Level(0)) {
		sampleHeap()
	}
	switch res {
	case fbout.OK:
		return output.FLB_OK
	case fbout.Retry:
		return output.FLB_RETRY
	default:
		return output.FLB_ERROR
	}
}

//export FLBPluginExit
func FLBPluginExit() int { return output.FLB_OK }

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) (rc int) {
	defer func() {
		if r := recover(); r != nil {
			bootLog(pluginName).Errorf("exit: internal error: %v", r)
			rc = output.FLB_ERROR
		}
	}()
	inst, _ := output.FLBPluginGetContext(ctx).(*instance)
	if inst == nil || inst.exits.Swap(true) {
		return output.FLB_OK
	}
	start := time.Now()
	left := inst.pipe.Close(inst.cfg.Grace)
	st := inst.pipe.Stats()
	inst.log.Infof("exit after %v: %d flushes (%d ok, %d retry, %d error), %d records, %d events accepted, %d rejected, %d refused alone, skipped %v",
		time.Since(start).Round(time.Millisecond), st.Flushes, st.OK, st.Retry, st.Error, st.Records, st.EventsAccepted, st.EventsRejected, st.EventsRefused, st.Skipped)
	if left > 0 {
		inst.log.Warnf("exit: %d flushes abandoned after grace %v", left, inst.cfg.Grace)
	}
	if inst.log.Enabled(fblog.Level(0)) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		inst.log.Debugf("go heap: HeapInuse=%d HeapAlloc=%d Sys=%d NumGC=%d; peak after a flush: HeapInuse=%d Sys=%d; most bodies alive in one flush: %d", ms.HeapInuse, ms.HeapAlloc, ms.Sys, ms.NumGC, peakHeapInuse.Load(), max(peakSys.Load(), ms.Sys), st.PeakBodies)
	}
	return output.FLB_OK
}

var unregisterOnce sync.Once

//export FLBPluginUnregister
func FLBPluginUnregister(def unsafe.Pointer) {
	defer func() {
		if r := recover(); r != nil {
			bootLog(pluginName).Errorf("unregister: internal error: %v", r)
		}
	}()
	unregisterOnce.Do(func() { output.FLBPluginUnregister(def) })
}

func main() {}
