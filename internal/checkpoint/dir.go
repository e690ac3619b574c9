package checkpoint

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Dir is a Store in a local directory: one file per cursor, named by a hash
// of the key (blob names are long and contain '/'), holding JSON with the key
// and a revision number.
//
// Writes go to a temporary file that is synced and renamed over the cursor
// file, then the directory is synced: a crash or kill -9 at any point leaves
// the old or the new file. Saves of one key are serialised by a lock on a
// byte of the directory's LOCK file (open-file-description locks on Linux,
// so two Go runtimes in one process exclude each other too); the revision
// check under the lock makes Save conditional.
type Dir struct {
	dir string
}

type dirFile struct {
	Rev    int64  `json:"rev"`
	Cursor Cursor `json:"cursor"`
}

const lockName = "LOCK"

// NewDir opens (creating it if needed) a directory store. Temporary files
// left by a killed writer more than a minute ago are removed.
func NewDir(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("checkpoint: create %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: open lock file in %s: %w", dir, err)
	}
	f.Close()
	if tmps, err := filepath.Glob(filepath.Join(dir, "*.tmp*")); err == nil {
		for _, t := range tmps {
			if st, err := os.Stat(t); err == nil && time.Since(st.ModTime()) > time.Minute {
				os.Remove(t)
			}
		}
	}
	return &Dir{dir: dir}, nil
}

// Path returns the directory.
func (d *Dir) Path() string { return d.dir }

func (d *Dir) file(key string) string {
	h := sha256.Sum256([]byte(key))
	return filepath.Join(d.dir, hex.EncodeToString(h[:20])+".json")
}

func lockOffset(key string) int64 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int64(h.Sum32() & (1<<30 - 1))
}

// Load implements Store.
func (d *Dir) Load(ctx context.Context, key string) (Cursor, error) {
	f, err := d.read(d.file(key))
	if err != nil {
		return Cursor{}, fmt.Errorf("checkpoint: load %s: %w", key, err)
	}
	if f.Cursor.Key != key {
		// A hash collision is practically impossible; treat it as absent.
		return Cursor{}, fmt.Errorf("checkpoint: load %s: %w", key, ErrNotFound)
	}
	return f.Cursor, nil
}

func (d *Dir) read(path string) (dirFile, error) {
	var f dirFile
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, ErrNotFound
	}
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("corrupt cursor file %s: %w", filepath.Base(path), err)
	}
	f.Cursor.Version = strconv.FormatInt(f.Rev, 10)
	return f, nil
}

// Save implements Store.
func (d *Dir) Save(ctx context.Context, key string, c *Cursor) error {
	unlock, err := lockRange(filepath.Join(d.dir, lockName), lockOffset(key))
	if err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", key, err)
	}
	defer unlock()
	path := d.file(key)
	cur, err := d.read(path)
	var rev int64
	switch {
	case errors.Is(err, ErrNotFound):
		if c.Version != "" {
			return fmt.Errorf("checkpoint: save %s: cursor was deleted: %w", key, ErrConflict)
		}
	case err != nil:
		return fmt.Errorf("checkpoint: save %s: %w", key, err)
	default:
		if c.Version != strconv.FormatInt(cur.Rev, 10) {
			return fmt.Errorf("checkpoint: save %s: at version %q, stored %d: %w", key, c.Version, cur.Rev, ErrConflict)
		}
		rev = cur.Rev
	}
	c.Key = key
	b, err := json.Marshal(dirFile{Rev: rev + 1, Cursor: *c})
	if err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", key, err)
	}
	if err := writeAtomic(path, b); err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", key, err)
	}
	c.Version = strconv.FormatInt(rev+1, 10)
	return nil
}

// writeAtomic replaces path with b: temp file, fsync, rename, fsync dir.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Delete implements Store.
func (d *Dir) Delete(ctx context.Context, key string) error {
	unlock, err := lockRange(filepath.Join(d.dir, lockName), lockOffset(key))
	if err != nil {
		return fmt.Errorf("checkpoint: delete %s: %w", key, err)
	}
	defer unlock()
	if err := os.Remove(d.file(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checkpoint: delete %s: %w", key, err)
	}
	return syncDir(d.dir)
}

// List implements Store. It reads every cursor file: fine for the tens of
// thousands of blobs a directory store is meant for.
func (d *Dir) List(ctx context.Context, prefix string, fn func(Cursor) error) error {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return fmt.Errorf("checkpoint: list %s: %w", d.dir, err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := d.read(filepath.Join(d.dir, e.Name()))
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("checkpoint: list: %w", err)
		}
		if strings.HasPrefix(f.Cursor.Key, prefix) {
			if err := fn(f.Cursor); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close implements Store.
func (d *Dir) Close() error { return nil }
