package prompt

import (
	"io"
	"syscall"
)

// fdReader reads a terminal descriptor with plain read(2) calls; 0 bytes
// without an error is the end of input. syscall.Read takes an int descriptor
// on every Unix, darwin included.
type fdReader int

func (r fdReader) Read(b []byte) (int, error) {
	n, err := syscall.Read(int(r), b)
	if n < 0 {
		n = 0
	}
	if n == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}
