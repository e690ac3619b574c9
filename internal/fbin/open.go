package fbin

import (
	"context"
	"fmt"
	"time"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/fblog"
	"github.com/nsgflow/nsgflow/internal/notify"
	"github.com/nsgflow/nsgflow/internal/redact"
)

// OpenSource builds the blob source and the checkpoint store the
// configuration describes: a local directory, or a container in the same
// storage account (created if missing, which needs write access). The
// source logs through log.
func OpenSource(cfg Config, log *fblog.Logger) (*blobsource.Source, checkpoint.Store, error) {
	sc := cfg.Source
	sc.Logger = log.Slog()
	var store checkpoint.Store
	if cfg.CheckpointContainer != "" {
		if sc.Client == nil {
			svc, err := sc.Auth.NewServiceClient()
			if err != nil {
				return nil, nil, err
			}
			sc.Client = svc
		}
		b := checkpoint.NewBlob(sc.Client.NewContainerClient(cfg.CheckpointContainer), cfg.CheckpointPrefix)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := b.CreateContainer(ctx)
		cancel()
		if err != nil {
			if re := sc.Refusal("create checkpoint container "+cfg.CheckpointContainer, redact.Error(err)); re != nil {
				return nil, nil, re
			}
			return nil, nil, fmt.Errorf("checkpoint container %s: %w", cfg.CheckpointContainer, redact.Error(err))
		}
		store = b
	} else {
		d, err := checkpoint.NewDir(sc.CheckpointDir)
		if err != nil {
			return nil, nil, err
		}
		store = d
	}
	sc.Store = store
	var rd *notify.Reader
	if q := cfg.Queue; q.Name != "" {
		var err error
		if rd, err = openNotify(cfg, store, log); err != nil {
			store.Close()
			return nil, nil, err
		}
		sc.Hints = rd
	}
	src, err := blobsource.New(sc)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return src, store, nil
}

// openNotify builds notification mode's queue reader; Source.Run runs it.
func openNotify(cfg Config, store checkpoint.Store, log *fblog.Logger) (*notify.Reader, error) {
	q := cfg.Queue
	a := cfg.Source.Auth
	qc, err := notify.NewQueueClient(a, q.Endpoint, q.Name)
	if err != nil {
		return nil, fmt.Errorf("queue_name %s: %w", q.Name, err)
	}
	nc := notify.Config{Queue: qc, Store: store,
		Visibility: q.Visibility, MaxDequeue: q.MaxDequeue, Logger: log.Slog()}
	if q.DeadLetter != "" {
		if nc.DeadLetter, err = notify.NewQueueClient(a, q.Endpoint, q.DeadLetter); err != nil {
			return nil, fmt.Errorf("queue_dead_letter %s: %w", q.DeadLetter, err)
		}
	}
	return notify.New(nc)
}
