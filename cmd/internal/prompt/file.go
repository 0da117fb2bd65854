package prompt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxFileSize is the most a --secret-file may hold: 64 KiB, far more than a
// password, a key or a service-account JSON needs, and little enough that a
// wrong path (a log, /dev/zero) fails at once instead of filling memory.
const MaxFileSize = 64 << 10

// errNotRegular: a FIFO, a device, a socket or a folder. Opening a FIFO with
// no writer would block forever; /dev/zero never ends.
var errNotRegular = errors.New("it is not a regular file (FIFOs, devices, sockets and folders are never read)")

// readFile reads a secret value from a regular file at path, at most
// MaxFileSize bytes, giving up when ctx ends. Its errors never quote path:
// a value may have been typed where the path belongs.
func readFile(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, bare(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	// O_NONBLOCK: should the path have turned into a FIFO since the Stat,
	// opening it still returns at once, and the Fstat below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, bare(err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, bare(err)
	} else if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, bare(r.err)
		}
		if len(r.b) > MaxFileSize {
			clear(r.b)
			return nil, fmt.Errorf("it holds more than %d KiB, the most a secret file may hold", MaxFileSize>>10)
		}
		return r.b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// bare drops the path from a file system error, keeping the reason.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
